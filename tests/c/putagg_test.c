/*
 * putagg_test - unit tests of kin-put --aggregate: the KPL encoder of
 * common/kpl.h against aggregated records built by hand, byte by byte,
 * from amazon-kinesis-producer's aggregation-format.md; the packing of
 * common/putagg.h (one aggregate per key, a lone record sent as it is,
 * the size, count, entry and request limits, explicit hash keys); and
 * putq_untake() giving back what a request could not hold.
 *
 *   putagg_test [-v]
 */
#include <stdint.h>

#include "kpl.h"
#include "putagg.h"
#include "putq.h"
#include "tap.h"

/*
 * By hand, from the format: magic F3 89 9A C2; AggregatedRecord field 1
 * (partition_key_table, wire type 2: key 0x0A) "k"; field 3 (records, key
 * 0x1A) twice: Record { field 1 varint 0 (08 00), field 3 bytes (1A len
 * data) }; then the MD5 of the protobuf bytes (computed apart, with
 * Python's hashlib).
 */
static const unsigned char vec1[] = {
	0xf3, 0x89, 0x9a, 0xc2,
	0x0a, 0x01, 'k',
	0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 'a',
	0x1a, 0x06, 0x08, 0x00, 0x1a, 0x02, 'b', 'c',
	0x9d, 0x3f, 0x34, 0x22, 0xe3, 0x65, 0x54, 0x1b,
	0x1a, 0x84, 0x56, 0x08, 0x1d, 0x03, 0xde, 0x53,
};

/* The same with an explicit hash key "42": explicit_hash_key_table (field
 * 2, key 0x12) and explicit_hash_key_index (field 2 varint, 10 00). */
static const unsigned char vec2[] = {
	0xf3, 0x89, 0x9a, 0xc2,
	0x0a, 0x01, 'k',
	0x12, 0x02, '4', '2',
	0x1a, 0x07, 0x08, 0x00, 0x10, 0x00, 0x1a, 0x01, 'a',
	0xc7, 0xe0, 0x7b, 0x0d, 0x48, 0x20, 0x8d, 0xc5,
	0x3b, 0x61, 0xdb, 0xf8, 0x80, 0xd9, 0x70, 0x4a,
};

static int
same(const struct buf *b, const unsigned char *want, size_t n)
{
	return b->len == n && memcmp(b->p, want, n) == 0;
}

static void
test_vectors(void)
{
	struct buf b = BUF_INIT;
	struct kpl_agg agg;
	size_t start;

	section("encoder: hand-built vectors");
	buf_add(&b, "xy", 2);	/* an aggregate need not start the buffer */
	start = b.len;
	kpl_agg_begin(&b, "k", 1, NULL, 0);
	kpl_agg_add(&b, "a", 1, 0);
	kpl_agg_add(&b, "bc", 2, 0);
	check(kpl_agg_end(&b, start) == 0, "two records encode");
	check(b.len - start == sizeof(vec1) &&
	    memcmp(b.p + start, vec1, sizeof(vec1)) == 0,
	    "byte for byte the hand-built record");
	check(kpl_agg_frame_size(1, 0) + kpl_agg_rec_size(1, 0) +
	    kpl_agg_rec_size(2, 0) == sizeof(vec1), "the sizes predict it");
	check(kpl_decode((const unsigned char *)b.p + start, b.len - start,
	    &agg) == 1 && agg.n == 2 && agg.recs[1].len == 2 &&
	    memcmp(agg.recs[1].data, "bc", 2) == 0 && agg.recs[0].pklen == 1,
	    "kin-read's decoder reads it back");
	kpl_agg_free(&agg);
	buf_reset(&b);
	kpl_agg_begin(&b, "k", 1, "42", 2);
	kpl_agg_add(&b, "a", 1, 1);
	check(kpl_agg_end(&b, 0) == 0 && same(&b, vec2, sizeof(vec2)),
	    "with an explicit hash key: the hand-built record");
	check(kpl_agg_frame_size(1, 2) + kpl_agg_rec_size(1, 1) ==
	    sizeof(vec2), "the sizes predict it");
	check(kpl_decode((const unsigned char *)b.p, b.len, &agg) == 1 &&
	    agg.n == 1 && agg.recs[0].ehklen == 2, "decoded with its hash key");
	kpl_agg_free(&agg);
	/* Lengths of 128 and more take a two-byte varint. */
	{
		char big[300];
		size_t n;

		memset(big, 'z', sizeof(big));
		buf_reset(&b);
		kpl_agg_begin(&b, "k", 1, NULL, 0);
		kpl_agg_add(&b, big, sizeof(big), 0);
		kpl_agg_add(&b, big, 127, 0);
		check(kpl_agg_end(&b, 0) == 0 && b.len ==
		    kpl_agg_frame_size(1, 0) + kpl_agg_rec_size(300, 0) +
		    kpl_agg_rec_size(127, 0), "long records: sizes predicted");
		check((unsigned char)b.p[7] == 0x1a &&
		    (unsigned char)b.p[8] == 0xb1 && (unsigned char)b.p[9] == 0x02,
		    "a 305-byte Record: length varint B1 02");
		n = kpl_decode((const unsigned char *)b.p, b.len, &agg) == 1 ?
		    agg.n : 0;
		check(n == 2 && agg.recs[0].len == 300 && agg.recs[1].len == 127,
		    "long records decode");
		kpl_agg_free(&agg);
	}
	buf_free(&b);
}

#define MAXR 64

static struct putq q = PUTQ_INIT;
static struct putq_rec *recs[MAXR];

static struct putq_rec *
add(const char *pk, const char *data, const char *ehk)
{
	struct putq_in in = { .data = data, .len = strlen(data), .pk = pk,
	    .pklen = strlen(pk), .ehk = ehk, .ehklen = ehk ? strlen(ehk) : 0,
	    .lineno = q.seq + 1 };

	return putq_add(&q, &in);
}

/* The entries as "pk:count" words. */
static const char *
shape(const struct putagg *a)
{
	static char s[1024];
	size_t i, len = 0;

	s[0] = '\0';
	for (i = 0; i < a->n && len + 64 < sizeof(s); i++)
		len += (size_t)snprintf(s + len, sizeof(s) - len, "%s%.*s:%zu",
		    i ? " " : "", (int)a->ent[i].pklen, a->ent[i].pk,
		    a->ent[i].count);
	return s;
}

/* The data of recs[0..n), space-separated. */
static const char *
datas(size_t n)
{
	static char s[1024];
	size_t i, len = 0;

	s[0] = '\0';
	for (i = 0; i < n && len + 64 < sizeof(s); i++)
		len += (size_t)snprintf(s + len, sizeof(s) - len, "%s%s",
		    i ? " " : "", recs[i]->data);
	return s;
}

static void
settle_all(size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		putq_done(&q, recs[i], 0);
}

/* The request is answered: what waited goes back, what was sent is
 * settled. */
static void
answered(size_t n, size_t k)
{
	while (n > k)
		putq_untake(&q, recs[--n], 0);
	settle_all(n);
}

static int
shape_is(const struct putagg *a, const char *want, const char *what)
{
	if (check(strcmp(shape(a), want) == 0, "%s", what))
		return 1;
	diag("got  \"%s\"", shape(a));
	diag("want \"%s\"", want);
	return 0;
}

static void
test_pack(void)
{
	struct putagg a = PUTAGG_INIT;
	struct putagg_limits l = { 500, 5 << 20, 51200, SIZE_MAX };
	struct kpl_agg agg;
	size_t n, k;

	section("packing");
	add("A", "a1", NULL);
	add("B", "b1", NULL);
	add("A", "a2", NULL);
	add("C", "c1", NULL);
	add("A", "a3", NULL);
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	k = putagg_pack(&a, recs, n, &l);
	check(n == 5 && k == 5, "all packed");
	shape_is(&a, "A:3 B:1 C:1", "one aggregate per key, in input order");
	check(a.of[0] == 0 && a.of[1] == 1 && a.of[2] == 0 && a.of[3] == 2 &&
	    a.of[4] == 0, "each record knows its entry");
	check(a.ent[1].size == 2 && memcmp(a.ent[1].data, "b1", 2) == 0,
	    "a lone record is sent as it is");
	check(kpl_decode((const unsigned char *)a.ent[0].data, a.ent[0].size,
	    &agg) == 1 && agg.n == 3 && memcmp(agg.recs[2].data, "a3", 2) == 0 &&
	    agg.recs[2].pklen == 1 && agg.recs[2].pk[0] == 'A',
	    "the aggregate holds A's records in order");
	kpl_agg_free(&agg);
	check(a.ent[0].size == kpl_agg_frame_size(1, 0) +
	    3 * kpl_agg_rec_size(2, 0), "its size is what was encoded");
	settle_all(n);

	/* The size limit: an aggregate of two 2-byte records with key "A" is
	 * 4 (magic) + 3 (key table) + 2 * 8 (records) + 16 (MD5) = 39 bytes,
	 * 40 with its key.  One Kinesis record per key in a request: A's
	 * next records wait. */
	add("A", "a1", NULL);
	add("A", "a2", NULL);
	add("A", "a3", NULL);
	add("B", "b1", NULL);
	add("A", "a4", NULL);
	l.max_agg_bytes = 40;
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	k = putagg_pack(&a, recs, n, &l);
	shape_is(&a, "A:2 B:1", "--aggregate-max-bytes closes A's aggregate");
	check(k == 3 && strcmp(datas(n), "a1 a2 b1 a3 a4") == 0,
	    "packed first, then A's rest, each in input order");
	l.max_agg_bytes = 51200;
	l.max_agg_records = 2;
	k = putagg_pack(&a, recs, n, &l);
	shape_is(&a, "A:2 B:1", "--aggregate-max-records too");
	l.max_agg_records = SIZE_MAX;
	l.max_agg_bytes = 40;
	settle_all(n);
	/* A record too large to join its key's aggregate closes the key:
	 * a smaller one after it waits too. */
	add("A", "a1", NULL);
	add("A", "a2-0123456789abcdef", NULL);
	add("A", "a3", NULL);
	add("B", "b1", NULL);
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	k = putagg_pack(&a, recs, n, &l);
	shape_is(&a, "A:1 B:1", "a record that does not fit closes its key");
	check(k == 2 && strcmp(datas(n), "a1 b1 a2-0123456789abcdef a3") == 0,
	    "its key's later records wait behind it");
	answered(n, k);
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	k = putagg_pack(&a, recs, n, &l);
	shape_is(&a, "A:1", "the next request starts with it");
	check(k == 1 && a.ent[0].size == 19, "alone, as it is");
	answered(n, k);
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	settle_all(n);
	l.max_agg_bytes = 51200;
	/* The request's limits: entries, then bytes. */
	add("A", "a1", NULL);
	add("B", "b1", NULL);
	add("C", "c1", NULL);
	add("A", "a2", NULL);
	add("D", "d1", NULL);
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	l.max_entries = 2;
	k = putagg_pack(&a, recs, n, &l);
	check(k == 3, "two entries at most: C and D wait");
	shape_is(&a, "A:2 B:1", "A's second record joins its entry");
	l.max_entries = 500;
	l.max_bytes = 6 + 40;	/* B1 and C1 alone (3 bytes each), A's two */
	k = putagg_pack(&a, recs, n, &l);
	check(k == 4, "the request's bytes: D's record does not fit");
	shape_is(&a, "A:2 B:1 C:1", "what fits");
	l.max_bytes = 5 << 20;
	/* Given back: D1 first, untried, its key ready again. */
	while (n > k)
		putq_untake(&q, recs[--n], 0);
	check(q.queued == 1 && q.inflight == 4 && q.nready == 1,
	    "the record left out is queued again, its key ready");
	settle_all(n);
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	check(n == 1 && strcmp(recs[0]->data, "d1") == 0, "and taken next");
	settle_all(n);

	/* Explicit hash keys: the aggregate has its key's; another one waits
	 * for the next request. */
	add("A", "a1", "1");
	add("A", "a2", "1");
	add("B", "b1", "2");
	add("A", "a3", "2");
	add("A", "a4", "1");
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	k = putagg_pack(&a, recs, n, &l);
	shape_is(&a, "A:2 B:1", "one explicit hash key per aggregate");
	check(k == 3 && strcmp(datas(n), "a1 a2 b1 a3 a4") == 0,
	    "a record with another one closes its key");
	check(a.ent[0].ehk != NULL && strcmp(a.ent[0].ehk, "1") == 0 &&
	    kpl_decode((const unsigned char *)a.ent[0].data, a.ent[0].size,
	    &agg) == 1 && agg.n == 2 && agg.recs[1].ehklen == 1,
	    "the aggregate carries it, as each record does");
	kpl_agg_free(&agg);
	answered(n, k);
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	k = putagg_pack(&a, recs, n, &l);
	shape_is(&a, "A:1", "the next request: a3 alone");
	answered(n, k);
	n = putq_take(&q, 0, MAXR, SIZE_MAX, recs);
	settle_all(n);
	check(q.queued == 0 && q.inflight == 0 && q.keys.n == 0,
	    "the queue is empty at the end");
	putagg_free(&a);
	putagg_free(NULL);
	putq_free(&q);
}

int
main(int argc, char **argv)
{
	if (tap_begin("putagg_test", argc, argv) != 0)
		return 2;
	test_vectors();
	test_pack();
	return tap_end();
}
