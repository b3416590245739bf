/*
 * kpl: de-aggregation of KPL records (common/kpl.c).  The user records of
 * an aggregate it decodes, encoded again by kin-put's encoder under the
 * first one's keys (kpl_agg_*), make a blob of the predicted size that
 * decodes to the same data, in order.
 */
#include "kpl.h"
#include "fuzz.h"

static void
reencode(const struct kpl_agg *a)
{
	const struct kpl_record *r0 = &a->recs[0];
	int has_ehk = r0->ehk != NULL;
	struct buf b = BUF_INIT;
	struct kpl_agg back;
	size_t want, i;

	want = kpl_agg_frame_size(r0->pklen, has_ehk ? r0->ehklen : 0);
	kpl_agg_begin(&b, r0->pk, r0->pklen, r0->ehk, r0->ehklen);
	for (i = 0; i < a->n; i++) {
		kpl_agg_add(&b, a->recs[i].data, a->recs[i].len, has_ehk);
		want += kpl_agg_rec_size(a->recs[i].len, has_ehk);
	}
	if (kpl_agg_end(&b, 0) != 0) {
		buf_free(&b);
		return;
	}
	if (b.len != want || kpl_decode((const unsigned char *)b.p, b.len,
	    &back) != 1 || back.n != a->n)
		abort();
	for (i = 0; i < a->n; i++)
		if (back.recs[i].len != a->recs[i].len ||
		    memcmp(back.recs[i].data, a->recs[i].data,
		    a->recs[i].len) != 0 || back.recs[i].pklen != r0->pklen)
			abort();
	kpl_agg_free(&back);
	buf_free(&b);
}

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
		if (a.n > 0)
			reencode(&a);
		kpl_agg_free(&a);
	}
	(void)kpl_dec128(s, size, h);
	free(s);
	return 0;
}
