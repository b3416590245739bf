/*
 * b64: base64 (common/b64.c).  Decoding never writes past n / 4 * 3
 * bytes; what decodes encodes back to the same text, and any bytes encode
 * and decode back to themselves.
 */
#include <stdio.h>

#include "b64.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out = malloc(size / 4 * 3 + 1);
	char *enc = malloc(B64_ENCODED_LEN(size) + 1);
	long n;

	if (out == NULL || enc == NULL)
		abort();
	n = b64_decode((const char *)data, size, out);
	if (n >= 0) {
		char *again = malloc(B64_ENCODED_LEN((size_t)n) + 1);

		if (again == NULL)
			abort();
		if (b64_encode(out, (size_t)n, again) != size ||
		    memcmp(again, data, size) != 0) {
			/* Padding bits that are not zero decode too: only
			 * the decoded bytes must round-trip. */
			long m = b64_decode(again, strlen(again), out);

			if (m != n)
				abort();
		}
		free(again);
	}
	size_t e = b64_encode(data, size, enc);
	unsigned char *back = malloc(e / 4 * 3 + 1);

	if (back == NULL || b64_decode(enc, e, back) != (long)size ||
	    memcmp(back, data, size) != 0)
		abort();
	free(back);
	free(out);
	free(enc);
	return 0;
}
