/*
 * putq_test - unit tests of kin-put's queue (common/putq.h): order per
 * key, the ready keys served oldest record first, the batch limits, failed
 * records back at the head of their key in order, keys parked while in
 * flight, backoff and pace delays, the reordered count, the drain in input
 * order, and a random run checked against the rules of kin-put(1)
 * ("Order") with the counters kept true throughout.
 *
 *   putq_test [-v]
 */
#include <inttypes.h>
#include <stdint.h>

#include "putq.h"
#include "tap.h"

#define MAXB 600

static struct putq_rec *out[MAXB];

/* Queues a record whose data is its name ("A1") and whose key is the
 * name's letters. */
static struct putq_rec *
add(struct putq *q, const char *name, int64_t now, int64_t not_before)
{
	struct putq_in in = { .data = name, .len = strlen(name), .pk = name,
	    .pklen = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
	    .lineno = q->seq + 1, .now = now, .not_before = not_before };

	return putq_add(q, &in);
}

/* The names of out[0..n), space-separated, in a static buffer. */
static const char *
names(size_t n)
{
	static char s[4096];
	size_t i, len = 0;

	s[0] = '\0';
	for (i = 0; i < n && len + 16 < sizeof(s); i++)
		len += (size_t)snprintf(s + len, sizeof(s) - len, "%s%s",
		    i ? " " : "", out[i]->data);
	return s;
}

/* Takes a batch and compares its names with want. */
static int
take_is(struct putq *q, int64_t now, size_t max_recs, size_t max_bytes,
    size_t *n, const char *want, const char *what)
{
	const char *got;

	*n = putq_take(q, now, max_recs, max_bytes, out);
	got = names(*n);
	if (!check(strcmp(got, want) == 0, "%s", what)) {
		diag("got  \"%s\"", got);
		diag("want \"%s\"", want);
		return 0;
	}
	return 1;
}

static void
done_all(struct putq *q, size_t n, int64_t now)
{
	size_t i;

	for (i = 0; i < n; i++)
		putq_done(q, out[i], now);
}

static void
test_order(void)
{
	struct putq q = PUTQ_INIT;
	struct putq_rec *first[5];
	size_t n;

	section("order per key, keys parked while in flight");
	add(&q, "A1", 0, 0);
	add(&q, "B1", 0, 0);
	add(&q, "A2", 0, 0);
	add(&q, "B2", 0, 0);
	add(&q, "A3", 0, 0);
	check(q.queued == 5 && q.ready_recs == 5 && q.keys.n == 2 &&
	    q.queued_bytes == 15, "5 records of 2 keys queued, all ready, "
	    "15 bytes with their keys");
	check(putq_oldest_ready(&q) == 0 && putq_next_due(&q) == -1,
	    "the oldest ready record arrived at 0; nothing delayed");
	take_is(&q, 1, 500, 1000, &n, "A1 B1 A2 B2 A3",
	    "a batch takes the records in input order");
	memcpy(first, out, sizeof(first));
	check(q.queued == 0 && q.inflight == 5 && q.ready_recs == 0,
	    "the 5 records are in flight");
	add(&q, "A4", 2, 0);
	add(&q, "C1", 2, 0);
	check(q.ready_recs == 1 && q.queued == 2,
	    "a record of a key in flight waits parked; a new key is ready");
	take_is(&q, 2, 500, 1000, &n, "C1",
	    "the next batch has only the new key");
	take_is(&q, 2, 500, 1000, &n, "", "then nothing: every key is in "
	    "flight");
	putq_done(&q, out[0], 3);
	check(q.keys.n == 2 && q.queued == 1,
	    "C is forgotten once its only record is delivered");
	putq_done(&q, first[0], 3);
	take_is(&q, 3, 500, 1000, &n, "", "A4 waits while A2 and A3, of the "
	    "same request as A1, are in flight");
	putq_done(&q, first[2], 3);
	putq_done(&q, first[4], 3);
	check(putq_oldest_ready(&q) == 2, "A is back, its oldest record A4 "
	    "of time 2");
	take_is(&q, 3, 500, 1000, &n, "A4", "A4 goes once A1..A3 are "
	    "settled");
	putq_done(&q, first[1], 4);
	putq_done(&q, first[3], 4);
	check(q.keys.n == 1, "B is forgotten");
	done_all(&q, n, 4);
	check(q.keys.n == 0 && q.queued == 0 && q.inflight == 0 &&
	    q.queued_bytes == 0 && q.ready_recs == 0 && q.ready_bytes == 0,
	    "all delivered: no key, nothing queued, ready or in flight");
	putq_free(&q);
}

static void
test_fairness(void)
{
	struct putq q = PUTQ_INIT;
	struct putq_rec *a[2];
	size_t n;

	section("keys served in the order of their oldest waiting record");
	add(&q, "A1", 0, 0);
	add(&q, "B1", 0, 0);
	add(&q, "C1", 0, 0);
	take_is(&q, 0, 1, 1000, &n, "A1", "one record a batch: A first");
	a[0] = out[0];
	add(&q, "A2", 1, 0);
	take_is(&q, 1, 1, 1000, &n, "B1", "then B");
	putq_done(&q, out[0], 1);
	putq_done(&q, a[0], 1);
	take_is(&q, 1, 1, 1000, &n, "C1", "then C, older than A2, though A "
	    "came back first");
	putq_done(&q, out[0], 1);
	take_is(&q, 1, 1, 1000, &n, "A2", "then A2");
	putq_done(&q, out[0], 1);

	add(&q, "A1", 2, 0);
	add(&q, "A2", 2, 0);
	add(&q, "B1", 2, 0);
	take_is(&q, 2, 1, 1000, &n, "A1", "A1 alone");
	a[0] = out[0];
	add(&q, "C1", 3, 0);
	putq_done(&q, a[0], 3);
	check(putq_oldest_ready(&q) == 2, "the oldest ready record is A2, "
	    "of time 2");
	take_is(&q, 3, 2, 1000, &n, "A2 B1", "a key back from flight goes "
	    "ahead of newer keys: A2 then B1");
	done_all(&q, n, 3);
	take_is(&q, 3, 9, 1000, &n, "C1", "C1 last");
	done_all(&q, n, 3);
	check(q.keys.n == 0, "no key left");
	putq_free(&q);
}

static void
test_limits(void)
{
	struct putq q = PUTQ_INIT;
	char name[16];
	size_t n, i;

	section("batch limits");
	for (i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "K%03zu", i);
		add(&q, name, 0, 0);
	}
	n = putq_take(&q, 0, 500, 1 << 20, out);
	check(n == 500 && q.queued == 100 && q.inflight == 500,
	    "500 records at most");
	check(strcmp(out[0]->data, "K000") == 0 &&
	    strcmp(out[499]->data, "K499") == 0, "the first 500, in order");
	done_all(&q, n, 0);
	putq_free(&q);

	q = (struct putq)PUTQ_INIT;
	add(&q, "A1", 0, 0);
	add(&q, "B1", 0, 0);
	add(&q, "A2", 0, 0);
	add(&q, "B2", 0, 0);
	add(&q, "A3", 0, 0);
	take_is(&q, 0, 3, 1000, &n, "A1 B1 A2", "with the count limit: the "
	    "first 3 in input order, across keys");
	done_all(&q, n, 0);
	take_is(&q, 0, 3, 1000, &n, "B2 A3", "then the rest");
	done_all(&q, n, 0);
	add(&q, "A1", 0, 0);      /* 2 bytes with its key "A" (1): 3 */
	add(&q, "B11111", 0, 0);  /* 6 + 1 = 7 */
	add(&q, "C1", 0, 0);
	take_is(&q, 0, 500, 9, &n, "A1",
	    "a record past max_bytes ends the batch, even if a later one fits");
	done_all(&q, n, 0);
	take_is(&q, 0, 500, 10, &n, "B11111 C1", "the next batch starts with it");
	done_all(&q, n, 0);
	add(&q, "A1", 0, 0);
	take_is(&q, 0, 500, 3, &n, "A1", "a record of exactly max_bytes "
	    "(data plus key) fits");
	done_all(&q, n, 0);
	check(q.keys.n == 0 && q.queued_bytes == 0, "nothing left");
	putq_free(&q);
}

static void
test_requeue(void)
{
	struct putq q = PUTQ_INIT;
	struct putq_rec *b[8];
	size_t n, i;
	int r;

	section("failed records back at the head of their key, in order");
	for (i = 1; i <= 5; i++) {
		char name[8];

		snprintf(name, sizeof(name), "A%zu", i);
		add(&q, name, 0, 0);
	}
	add(&q, "B1", 0, 0);
	n = putq_take(&q, 0, 3, 1000, b);
	check(n == 3 && q.queued == 3, "A1 A2 A3 taken; A4 A5 B1 wait");
	putq_fail(&q, b[0], 0, 1);
	r = putq_done(&q, b[1], 1);
	check(r == 1, "A2 delivered after A1 failed in the same request: "
	    "reordered");
	putq_fail(&q, b[2], 0, 1);
	check(q.queued == 5 && q.inflight == 0, "A1 and A3 are queued again");
	take_is(&q, 1, 500, 1000, &n, "A1 A3 A4 A5 B1",
	    "A1 and A3 go first, in order, then A4 A5; then B");
	r = putq_done(&q, out[0], 1);
	check(r == 0, "a new request: no failure before A1");
	for (i = 1; i < n; i++)
		putq_done(&q, out[i], 1);

	section("backoff");
	add(&q, "A1", 10, 0);
	add(&q, "A2", 10, 0);
	add(&q, "A3", 10, 0);
	add(&q, "B1", 10, 0);
	n = putq_take(&q, 10, 2, 1000, b);
	putq_fail(&q, b[0], 50, 11);
	putq_fail(&q, b[1], 30, 11);
	check(putq_next_due(&q) == 50 && putq_oldest_ready(&q) == 10,
	    "A is delayed until its first record's time, 50; B1 is ready");
	take_is(&q, 40, 500, 1000, &n, "B1",
	    "at 40 only B goes: A2 (due at 30) stays behind A1 (due at 50)");
	done_all(&q, n, 40);
	take_is(&q, 49, 500, 1000, &n, "", "nothing at 49");
	take_is(&q, 50, 500, 1000, &n, "A1 A2 A3", "at 50 A1, A2, A3 in order");
	putq_fail(&q, out[0], 60, 51);
	putq_fail(&q, out[1], 80, 51);
	putq_done(&q, out[2], 51);
	take_is(&q, 70, 500, 1000, &n, "A1", "at 70 A1 goes; A2, due at 80, "
	    "ends the run");
	putq_done(&q, out[0], 71);
	take_is(&q, 79, 500, 1000, &n, "", "nothing at 79");
	take_is(&q, 80, 500, 1000, &n, "A2", "A2 at 80");
	putq_done(&q, out[0], 80);

	section("dropped records");
	add(&q, "A1", 90, 0);
	add(&q, "A2", 90, 0);
	n = putq_take(&q, 90, 500, 1000, b);
	putq_fail(&q, b[0], -1, 91);
	r = putq_done(&q, b[1], 91);
	check(r == 1 && q.keys.n == 0 && q.queued == 0 && q.inflight == 0,
	    "a dropped record is freed; the key, empty, is forgotten");

	section("local failure: a batch not sent goes back whole");
	add(&q, "A1", 100, 0);
	add(&q, "A2", 100, 0);
	add(&q, "B1", 100, 0);
	n = putq_take(&q, 100, 500, 1000, b);
	for (i = 0; i < n; i++)
		putq_fail(&q, b[i], b[i]->not_before, 100);
	take_is(&q, 100, 500, 1000, &n, "A1 A2 B1", "the same batch again");
	done_all(&q, n, 100);
	putq_free(&q);
}

static void
test_pace_and_pop(void)
{
	struct putq q = PUTQ_INIT;
	struct putq_rec *rc, *b[4];
	size_t n;
	int ok = 1;

	section("pace: a record due later holds its key");
	add(&q, "A1", 0, 0);
	add(&q, "A2", 0, 20);
	add(&q, "B1", 0, 30);
	check(putq_next_due(&q) == 30 && q.ready_recs == 2,
	    "B waits for its time, 30; A is ready (A2 with it)");
	take_is(&q, 10, 500, 1000, &n, "A1", "at 10: A1, up to A2");
	done_all(&q, n, 10);
	check(putq_next_due(&q) == 20, "A back, delayed until 20");
	take_is(&q, 30, 500, 1000, &n, "A2 B1", "at 30 both");
	done_all(&q, n, 30);

	section("pop: what is left, in input order, whatever its time");
	add(&q, "A1", 0, 0);
	add(&q, "B1", 0, 0);
	add(&q, "A2", 0, 0);
	add(&q, "C1", 0, 0);
	n = putq_take(&q, 0, 1, 1000, b);
	putq_fail(&q, b[0], 1000, 1);   /* A1 backs off */
	add(&q, "B2", 2, 500);
	{
		static const char *want[] = { "A1", "B1", "A2", "C1", "B2" };
		size_t i;

		for (i = 0; i < 5; i++) {
			rc = putq_pop(&q);
			ok = ok && rc != NULL && strcmp(rc->data, want[i]) == 0;
			putq_rec_free(rc);
		}
	}
	check(ok && putq_pop(&q) == NULL, "A1 B1 A2 C1 B2, then nothing");
	check(q.keys.n == 0 && q.queued == 0 && q.queued_bytes == 0 &&
	    q.ready_recs == 0 && q.ndelayed == 0, "the queue is empty");
	add(&q, "A1", 0, 0);
	add(&q, "B1", 0, 0);
	putq_free(&q);
	check(q.keys.n == 0 && q.queued == 0, "putq_free empties a queue "
	    "with records");
}

/* ---- a random run, checked against the rules ---- */

#define NREC 20000
#define NKEY 7

struct model {
	int state[NREC];        /* 0 waiting, 1 in flight, 2 done */
	int key[NREC];
	size_t next[NKEY];      /* oldest record of the key not done */
	int inflight[NKEY];     /* records of the key in flight */
};

static struct model m;
static struct putq_rec *flight[64][MAXB];
static size_t nflight[64];

static int
rec_index(const struct putq_rec *rc)
{
	return (int)rc->lineno - 1;
}

/* The first record of key k not done, from next[k]. */
static void
advance(int k, size_t total)
{
	while (m.next[k] < total &&
	    (m.key[m.next[k]] != k || m.state[m.next[k]] == 2))
		m.next[k]++;
}

/*
 * Whether record x of key k may be the j-th of the batch in slot: the
 * first of its key in the batch is the key's oldest record not delivered
 * and none of the key is in another request; a later one is the key's
 * next waiting record after the previous one of the key in the batch.
 */
static int
in_turn(size_t slot, size_t j, int x, int k, size_t added)
{
	size_t i;
	int prev = -1, y;

	if (m.state[x] != 0)
		return 0;
	for (i = j; i-- > 0;) {
		if (m.key[rec_index(flight[slot][i])] == k) {
			prev = rec_index(flight[slot][i]);
			break;
		}
	}
	if (prev < 0) {
		advance(k, added);
		return m.inflight[k] == 0 && m.next[k] == (size_t)x;
	}
	for (y = prev + 1; y < x; y++)
		if (m.key[y] == k && m.state[y] == 0)
			return 0;
	return y == x;
}

/* Adds 1 to 16 records of random keys, a few due later (pace). */
static int
burst(struct putq *q, unsigned r, int64_t now, size_t *added)
{
	unsigned i, n = 1 + (r >> 4) % 16;
	char name[32];

	for (i = 0; i < n && *added < NREC; i++) {
		unsigned h = r * 2654435761u + i * 40503u;
		int k = (int)((h >> 8) % NKEY);
		struct putq_in in = { .data = name, .pk = name, .pklen = 2,
		    .lineno = *added + 1, .now = now,
		    .not_before = (h >> 20) % 16 == 0 ?
		    now + (int64_t)((h >> 12) % 20) : 0 };

		snprintf(name, sizeof(name), "%c%c%zu", 'A' + k % 26,
		    'A' + k / 26, *added);
		in.len = strlen(name);
		m.key[*added] = k;
		if (putq_add(q, &in) == NULL)
			return -1;
		(*added)++;
	}
	return 0;
}

static void
test_random(void)
{
	struct putq q = PUTQ_INIT;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	size_t added = 0, delivered = 0, i, j;
	int64_t now = 0;
	int ok = 1, counters = 1, step;
	char why[256] = "";

	section("random run: rules of order and parking, counters true");
	memset(&m, 0, sizeof(m));
	for (step = 0; step < 200000 && (added < NREC || delivered < added);
	    step++) {
		unsigned r;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		r = (unsigned)(rng >> 32);
		now += r % 3;
		if (r % 4 == 0 && added < NREC) {
			if (burst(&q, r, now, &added) != 0) {
				ok = 0;
				snprintf(why, sizeof(why), "add failed");
				break;
			}
		} else if (r % 4 == 1) {
			size_t slot = (r >> 8) % 64;

			if (nflight[slot] > 0)
				continue;
			nflight[slot] = putq_take(&q, now, 1 + (r >> 16) % 12,
			    20 + (r >> 20) % 200, flight[slot]);
			for (j = 0; j < nflight[slot]; j++) {
				int x = rec_index(flight[slot][j]);
				int k = m.key[x];

				if (!in_turn(slot, j, x, k, added) && ok) {
					snprintf(why, sizeof(why), "step %d: "
					    "record %d of key %d taken out of "
					    "turn (oldest %zu, in flight %d)",
					    step, x, k, m.next[k],
					    m.inflight[k]);
					ok = 0;
				}
				if (j > 0 && flight[slot][j - 1]->seq >=
				    flight[slot][j]->seq && ok) {
					snprintf(why, sizeof(why), "step %d: "
					    "batch not in input order", step);
					ok = 0;
				}
				m.state[x] = 1;
				m.inflight[k]++;
			}
		} else {
			size_t slot = (r >> 8) % 64;

			for (j = 0; j < nflight[slot]; j++) {
				struct putq_rec *rc = flight[slot][j];
				int x = rec_index(rc), k = m.key[x];
				unsigned f = (r >> (j % 16)) & 7;

				m.inflight[k]--;
				if (f == 0) {
					m.state[x] = 0;
					putq_fail(&q, rc, now + (r >> 24) % 10,
					    now);
				} else {
					m.state[x] = 2;
					delivered++;
					putq_done(&q, rc, now);
				}
			}
			nflight[slot] = 0;
			for (i = 0; i < NKEY; i++)
				advance((int)i, added);
		}
		{
			size_t infl = 0;

			for (i = 0; i < 64; i++)
				infl += nflight[i];
			if (q.inflight != infl || q.queued + infl + delivered !=
			    added)
				counters = 0;
		}
	}
	check(ok, "every record is taken in its key's turn, never beside an "
	    "earlier one in flight; every batch in input order");
	if (!ok)
		diag("%s", why);
	check(counters, "queued and in flight add up at every step");
	check(added == NREC && delivered == NREC && q.queued == 0 &&
	    q.queued_bytes == 0 && q.keys.n == 0,
	    "%zu records added, %zu delivered; nothing left", added,
	    delivered);
	putq_free(&q);
}

int
main(int argc, char **argv)
{
	if (tap_begin("putq_test", argc, argv) != 0)
		return 2;
	test_order();
	test_fairness();
	test_limits();
	test_requeue();
	test_pace_and_pop();
	test_random();
	return tap_end();
}
