/*
 * kpl_test - builds and reads KPL aggregated records for the tests.
 *
 *   kpl_test encode PK=DATA...   print the aggregated blob, base64
 *   kpl_test decode              read base64 on stdin, print each sub-record
 *                                as "PK<TAB>DATA", or "not aggregated"
 *   kpl_test hashkey PK          print the 128-bit hash key of PK (hex)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "kpl.h"

static int
encode(int argc, char **argv)
{
	const char **pks = calloc((size_t)argc, sizeof(*pks));
	const char **datas = calloc((size_t)argc, sizeof(*datas));
	size_t *lens = calloc((size_t)argc, sizeof(*lens)), n, i;
	unsigned char *blob;
	char *out;

	if (pks == NULL || datas == NULL || lens == NULL)
		return 1;
	for (i = 0; i < (size_t)argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			return 2;
		*eq = '\0';
		pks[i] = argv[i];
		datas[i] = eq + 1;
		lens[i] = strlen(eq + 1);
	}
	blob = kpl_encode(pks, datas, lens, (size_t)argc, &n);
	if (blob == NULL)
		return 1;
	out = malloc(B64_ENCODED_LEN(n) + 1);
	if (out == NULL)
		return 1;
	b64_encode(blob, n, out);
	printf("%s\n", out);
	free(out);
	free(blob);
	free(pks);
	free(datas);
	free(lens);
	return 0;
}

static int
decode(void)
{
	static char in[1 << 20];
	static unsigned char blob[1 << 20];
	struct kpl_agg agg;
	size_t n = fread(in, 1, sizeof(in) - 1, stdin), i;
	long len;
	int k;

	while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r'))
		n--;
	len = b64_decode(in, n, blob);
	if (len < 0) {
		fprintf(stderr, "kpl_test: not base64\n");
		return 1;
	}
	k = kpl_decode(blob, (size_t)len, &agg);
	if (k == 0) {
		printf("not aggregated\n");
		return 0;
	}
	if (k < 0) {
		printf("malformed\n");
		return 0;
	}
	for (i = 0; i < agg.n; i++)
		printf("%.*s\t%.*s\n", (int)agg.recs[i].pklen, agg.recs[i].pk,
		    (int)agg.recs[i].len, (const char *)agg.recs[i].data);
	kpl_agg_free(&agg);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "encode") == 0)
		return encode(argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "decode") == 0)
		return decode();
	if (argc == 3 && strcmp(argv[1], "hashkey") == 0) {
		struct kpl_record r = { 0 };
		unsigned char h[16];
		int i;

		r.pk = argv[2];
		r.pklen = strlen(argv[2]);
		if (kpl_hash_key(&r, h) != 0)
			return 1;
		for (i = 0; i < 16; i++)
			printf("%02x", h[i]);
		printf("\n");
		return 0;
	}
	fprintf(stderr, "usage: kpl_test encode PK=DATA... | decode | hashkey PK\n");
	return 2;
}
