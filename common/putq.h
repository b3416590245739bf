/*
 * putq.h - the queue of records kin-put sends with PutRecords, one FIFO per
 * partition key.
 *
 * Per-key order is kept the way kin-put(1) says ("Order"): the records of
 * a key are never in two requests at once, and a record that fails goes
 * back to the head of its key's FIFO, ahead of the later records of its
 * key.  A key is in one of four states:
 *
 *   idle      no record waiting, none in flight: forgotten at once, so
 *             that random keys do not pile up;
 *   ready     its first record may go now: in a heap by the input order
 *             (seq) of that first record;
 *   delayed   its first record waits for a time (a retry's backoff, or
 *             --pace-field): in a heap by that time;
 *   in flight records of it are in a request: parked, whatever waits
 *             behind them, until the last of them is settled.
 *
 * putq_take() merges the ready keys' FIFOs: it takes the records that may
 * go in input order, as a scan of one queue in input order that skips the
 * keys in flight would, but visits only the records it takes (and at most
 * one more per key, where the key's run stops), so forming a batch costs
 * what the batch holds, not what the queue holds.  Nothing here prints, sends
 * or reads the clock: times are parameters (monotonic milliseconds).
 */
#ifndef KP_PUTQ_H
#define KP_PUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "retry.h"

struct putq_key;

/* One input line on its way to Kinesis.  data, pk and ehk are in the
 * record's own block, each NUL-terminated; lengths are kept so nothing
 * measures them again. */
struct putq_rec {
	struct putq_rec *next;   /* in its key's FIFO */
	struct putq_key *key;
	char *data;
	size_t len;
	char *pk;
	size_t pklen;
	char *ehk;               /* NULL: none */
	size_t ehklen;
	uint64_t seq;            /* input order, from 1 */
	unsigned long long lineno;
	int attempts;            /* requests it was in, answered or not */
	struct retry_state retry; /* the caller's: from its first attempt */
	int64_t arrived;         /* when it was queued */
	int64_t not_before;      /* backoff or pace: not sent before */
};

/* What putq_add() copies into a new record. */
struct putq_in {
	const char *data;
	size_t len;
	const char *pk;
	size_t pklen;
	const char *ehk;         /* NULL: none */
	size_t ehklen;
	unsigned long long lineno;
	int64_t now;             /* its arrival */
	int64_t not_before;      /* 0: none */
};

struct putq {
	struct htab keys;         /* partition key -> struct putq_key */
	struct putq_key **ready;  /* min-heap on the first record's seq */
	struct putq_key **delayed; /* min-heap on the first record's time */
	size_t nready, ndelayed;
	size_t heap_cap;          /* of each heap: room for every key */
	size_t queued;            /* records waiting (not in flight) */
	size_t queued_bytes;      /* their data plus keys */
	size_t ready_recs;        /* of those, records of ready keys */
	size_t ready_bytes;
	size_t inflight;          /* records taken and not yet settled */
	uint64_t seq;             /* the last record's */
};

#define PUTQ_INIT { HTAB_INIT, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/*
 * Queues a new record (its key's bytes must be a valid partition key).
 * Returns it, owned by the queue, or NULL when memory is short (nothing
 * queued).
 */
struct putq_rec *putq_add(struct putq *q, const struct putq_in *in);

/* Moves the delayed keys whose time has come (not_before <= now) to the
 * ready list. */
void putq_wake(struct putq *q, int64_t now);

/*
 * Forms a batch: takes into out, in input order, the records that may go
 * (of keys not in flight; a key's records up to its first one not yet
 * due), up to max_recs records and max_bytes bytes (data plus keys); a
 * record that would pass max_bytes ends the batch.  The keys taken from
 * are in flight until each of their records is settled.  Wakes due keys
 * first.  Returns the number taken.
 */
size_t putq_take(struct putq *q, int64_t now, size_t max_recs,
    size_t max_bytes, struct putq_rec **out);

/*
 * Settles a record taken: delivered.  Frees it.  Returns 1 when a record
 * of its key failed earlier in the same request (the entries of a request
 * are handled independently: this one is stored before the failed one),
 * else 0.  The last record of a key settled returns the key to the queue
 * (ready or delayed at now) or forgets it.
 */
int putq_done(struct putq *q, struct putq_rec *rc, int64_t now);

/*
 * Settles a record taken: failed.  retry_at >= 0: it goes back to the head
 * of its key's FIFO, after its key's other records failed in the same
 * request and before every later one, due at retry_at.  retry_at < 0: it
 * is dropped and freed.  Returns the key as putq_done() does.
 */
void putq_fail(struct putq *q, struct putq_rec *rc, int64_t retry_at,
    int64_t now);

/*
 * Gives back a record taken and not sent (a batch that could not hold
 * it): it goes back to the head of its key's FIFO, untried.  Records of a
 * key are given back last first, and only a key's last records taken, so
 * that its order is kept.  The key's last record given back or settled
 * returns the key to the queue, as putq_done() does.
 */
void putq_untake(struct putq *q, struct putq_rec *rc, int64_t now);

/*
 * Removes and returns the oldest waiting record (input order) of the keys
 * not in flight, whatever its time, or NULL: what is left when no more
 * will be sent.  The caller frees it with putq_rec_free().
 */
struct putq_rec *putq_pop(struct putq *q);

/* The arrival of the oldest record of the ready keys, or -1 when none is
 * ready. */
int64_t putq_oldest_ready(const struct putq *q);

/* The earliest time a delayed key becomes ready, or -1 when none is. */
int64_t putq_next_due(const struct putq *q);

/* Frees a record that is no longer queued (popped, or taken by a request
 * that will not be settled).  Accepts NULL. */
void putq_rec_free(struct putq_rec *rc);

/* Frees every waiting record and every key (records in flight are the
 * caller's) and empties the queue. */
void putq_free(struct putq *q);

#endif
