/*
 * putq.c - kin-put's queue of records: one FIFO per partition key, the
 * ready keys in input order, the delayed ones in a heap, the ones in
 * flight parked (putq.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "putq.h"

enum { KEY_IDLE, KEY_READY, KEY_DELAYED, KEY_INFLIGHT };

struct putq_key {
	struct putq_rec *head, *tail;  /* waiting, in input order */
	struct putq_rec *ret, *ret_tail; /* failed in the request in flight,
	                                  * to go back ahead of head */
	struct putq_key *next;         /* in the ready list */
	size_t pending;                /* records waiting in head..tail */
	size_t bytes;                  /* their data plus keys */
	size_t inflight;               /* records taken, not yet settled */
	int state;
	int failed;                    /* a record of the request in flight
	                                * failed */
	size_t len;
	char name[];                   /* the partition key: the table's key */
};

static size_t
rec_size(const struct putq_rec *rc)
{
	return rc->len + rc->pklen;
}

/* ---- the heap of delayed keys, earliest first record first ---- */

static int
heap_less(const struct putq_key *a, const struct putq_key *b)
{
	if (a->head->not_before != b->head->not_before)
		return a->head->not_before < b->head->not_before;
	return a->head->seq < b->head->seq;
}

/* Never fails: putq_add() keeps room for every key. */
static void
heap_push(struct putq *q, struct putq_key *k)
{
	size_t i = q->ndelayed++;

	while (i > 0 && heap_less(k, q->delayed[(i - 1) / 2])) {
		q->delayed[i] = q->delayed[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	q->delayed[i] = k;
	k->state = KEY_DELAYED;
}

static struct putq_key *
heap_pop(struct putq *q)
{
	struct putq_key *top = q->delayed[0], *last;
	size_t i = 0, n;

	n = --q->ndelayed;
	last = q->delayed[n];
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && heap_less(q->delayed[c + 1], q->delayed[c]))
			c++;
		if (!heap_less(q->delayed[c], last))
			break;
		q->delayed[i] = q->delayed[c];
		i = c;
	}
	if (n > 0)
		q->delayed[i] = last;
	return top;
}

/* ---- the ready list, by the input order of each key's first record ---- */

static void
ready_insert(struct putq *q, struct putq_key *k)
{
	uint64_t s = k->head->seq;
	struct putq_key *p, *prev = NULL;

	k->state = KEY_READY;
	q->ready_recs += k->pending;
	q->ready_bytes += k->bytes;
	/* A new key is the newest: appended.  A key back from a request or
	 * a backoff holds older records and walks in from the front. */
	if (q->ready_tail == NULL || q->ready_tail->head->seq < s) {
		k->next = NULL;
		if (q->ready_tail != NULL)
			q->ready_tail->next = k;
		else
			q->ready = k;
		q->ready_tail = k;
		return;
	}
	for (p = q->ready; p != NULL && p->head->seq < s; p = p->next)
		prev = p;
	k->next = p;
	if (prev != NULL)
		prev->next = k;
	else
		q->ready = k;
}

/* Takes the first ready key off the list. */
static struct putq_key *
ready_shift(struct putq *q)
{
	struct putq_key *k = q->ready;

	q->ready = k->next;
	if (q->ready == NULL)
		q->ready_tail = NULL;
	k->next = NULL;
	k->state = KEY_IDLE;
	q->ready_recs -= k->pending;
	q->ready_bytes -= k->bytes;
	return k;
}

/* ---- keys ---- */

static void
key_forget(struct putq *q, struct putq_key *k)
{
	htab_del(&q->keys, k->name, k->len);
	free(k);
}

/* A key with a first record and nothing in flight: ready or delayed. */
static void
schedule(struct putq *q, struct putq_key *k, int64_t now)
{
	if (k->head->not_before > now)
		heap_push(q, k);
	else
		ready_insert(q, k);
}

/* The last record of a key's request is settled: its failed records go
 * back ahead of the others, then the key is scheduled or forgotten. */
static void
key_back(struct putq *q, struct putq_key *k, int64_t now)
{
	if (k->ret != NULL) {
		k->ret_tail->next = k->head;
		if (k->head == NULL)
			k->tail = k->ret_tail;
		k->head = k->ret;
		k->ret = k->ret_tail = NULL;
	}
	k->failed = 0;
	k->state = KEY_IDLE;
	if (k->head == NULL)
		key_forget(q, k);
	else
		schedule(q, k, now);
}

static struct putq_key *
key_get(struct putq *q, const char *name, size_t len)
{
	struct putq_key *k = htab_get(&q->keys, name, len);

	if (k != NULL)
		return k;
	/* Room in the heap for every key, so that no push can fail. */
	if (q->keys.n + 1 > q->delayed_cap) {
		size_t cap = q->delayed_cap ? 2 * q->delayed_cap : 64;
		struct putq_key **d = realloc(q->delayed, cap * sizeof(*d));

		if (d == NULL)
			return NULL;
		q->delayed = d;
		q->delayed_cap = cap;
	}
	k = calloc(1, sizeof(*k) + len + 1);
	if (k == NULL)
		return NULL;
	memcpy(k->name, name, len);
	k->len = len;
	k->state = KEY_IDLE;
	if (htab_put(&q->keys, k->name, len, k) != 0) {
		free(k);
		return NULL;
	}
	return k;
}

/* ---- the queue ---- */

struct putq_rec *
putq_add(struct putq *q, const struct putq_in *in)
{
	size_t extra = in->len + 1 + in->pklen + 1 +
	    (in->ehk != NULL ? in->ehklen + 1 : 0);
	struct putq_rec *rc = malloc(sizeof(*rc) + extra);
	struct putq_key *k;

	if (rc == NULL)
		return NULL;
	memset(rc, 0, sizeof(*rc));
	rc->data = (char *)(rc + 1);
	memcpy(rc->data, in->data, in->len);
	rc->data[in->len] = '\0';
	rc->len = in->len;
	rc->pk = rc->data + in->len + 1;
	memcpy(rc->pk, in->pk, in->pklen);
	rc->pk[in->pklen] = '\0';
	rc->pklen = in->pklen;
	if (in->ehk != NULL) {
		rc->ehk = rc->pk + in->pklen + 1;
		memcpy(rc->ehk, in->ehk, in->ehklen);
		rc->ehk[in->ehklen] = '\0';
		rc->ehklen = in->ehklen;
	}
	rc->lineno = in->lineno;
	rc->arrived = in->now;
	rc->not_before = in->not_before;
	k = key_get(q, rc->pk, rc->pklen);
	if (k == NULL) {
		free(rc);
		return NULL;
	}
	rc->key = k;
	rc->seq = ++q->seq;
	if (k->tail != NULL)
		k->tail->next = rc;
	else
		k->head = rc;
	k->tail = rc;
	k->pending++;
	k->bytes += rec_size(rc);
	q->queued++;
	q->queued_bytes += rec_size(rc);
	if (k->state == KEY_IDLE) {
		schedule(q, k, in->now);
	} else if (k->state == KEY_READY) {
		q->ready_recs++;
		q->ready_bytes += rec_size(rc);
	}
	return rc;
}

void
putq_wake(struct putq *q, int64_t now)
{
	while (q->ndelayed > 0 && q->delayed[0]->head->not_before <= now)
		ready_insert(q, heap_pop(q));
}

/* Takes the first record of k, ready or not. */
static struct putq_rec *
key_shift(struct putq *q, struct putq_key *k)
{
	struct putq_rec *rc = k->head;

	k->head = rc->next;
	if (k->head == NULL)
		k->tail = NULL;
	rc->next = NULL;
	k->pending--;
	k->bytes -= rec_size(rc);
	q->queued--;
	q->queued_bytes -= rec_size(rc);
	return rc;
}

size_t
putq_take(struct putq *q, int64_t now, size_t max_recs, size_t max_bytes,
    struct putq_rec **out)
{
	size_t n = 0, bytes = 0;
	int room = 1;

	putq_wake(q, now);
	while (room && n < max_recs && q->ready != NULL) {
		struct putq_key *k = ready_shift(q);
		size_t took = 0;

		/* The key's run: its due records, in order. */
		while (k->head != NULL && n < max_recs &&
		    k->head->not_before <= now) {
			if (bytes + rec_size(k->head) > max_bytes) {
				room = 0;
				break;
			}
			bytes += rec_size(k->head);
			out[n++] = key_shift(q, k);
			took++;
		}
		if (took > 0) {
			k->state = KEY_INFLIGHT;
			k->inflight = took;
			q->inflight += took;
		} else {
			/* Nothing fitted: the key stays first. */
			schedule(q, k, now);
		}
	}
	return n;
}

/* One record of a request is settled. */
static void
settled(struct putq *q, struct putq_key *k, int64_t now)
{
	q->inflight--;
	if (--k->inflight == 0)
		key_back(q, k, now);
}

int
putq_done(struct putq *q, struct putq_rec *rc, int64_t now)
{
	struct putq_key *k = rc->key;
	int after_failure = k->failed;

	free(rc);
	settled(q, k, now);
	return after_failure;
}

void
putq_fail(struct putq *q, struct putq_rec *rc, int64_t retry_at,
    int64_t now)
{
	struct putq_key *k = rc->key;

	k->failed = 1;
	if (retry_at < 0) {
		free(rc);
	} else {
		rc->not_before = retry_at;
		rc->next = NULL;
		if (k->ret_tail != NULL)
			k->ret_tail->next = rc;
		else
			k->ret = rc;
		k->ret_tail = rc;
		k->pending++;
		k->bytes += rec_size(rc);
		q->queued++;
		q->queued_bytes += rec_size(rc);
	}
	settled(q, k, now);
}

struct putq_rec *
putq_pop(struct putq *q)
{
	struct putq_key *k;
	struct putq_rec *rc;

	putq_wake(q, INT64_MAX);
	if (q->ready == NULL)
		return NULL;
	k = ready_shift(q);
	rc = key_shift(q, k);
	if (k->head != NULL)
		ready_insert(q, k);
	else
		key_forget(q, k);
	return rc;
}

int64_t
putq_oldest_ready(const struct putq *q)
{
	return q->ready != NULL ? q->ready->head->arrived : -1;
}

int64_t
putq_next_due(const struct putq *q)
{
	return q->ndelayed > 0 ? q->delayed[0]->head->not_before : -1;
}

void
putq_rec_free(struct putq_rec *rc)
{
	free(rc);
}

static void
free_list(struct putq_rec *rc)
{
	while (rc != NULL) {
		struct putq_rec *next = rc->next;

		free(rc);
		rc = next;
	}
}

void
putq_free(struct putq *q)
{
	size_t i;

	for (i = 0; i < q->keys.nslot; i++) {
		struct putq_key *k = q->keys.slot[i].value;

		if (k == NULL)
			continue;
		free_list(k->head);
		free_list(k->ret);
		free(k);
	}
	htab_free(&q->keys);
	free(q->delayed);
	*q = (struct putq)PUTQ_INIT;
}
