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
	struct putq_key *taken;        /* keys taken from by this batch */
	size_t hidx;                   /* place in its heap */
	size_t pending;                /* records waiting in head..tail */
	size_t bytes;                  /* their data plus keys */
	size_t inflight;               /* records taken, not yet settled */
	int state;
	int failed;                    /* a record of the request in flight
	                                * failed */
	size_t len;
	char name[];                   /* the partition key: the table's key */
};

typedef int key_less(const struct putq_key *, const struct putq_key *);

static size_t
rec_size(const struct putq_rec *rc)
{
	return rc->len + rc->pklen;
}

/* ---- two heaps of keys: ready by seq, delayed by time ---- */

static int
by_seq(const struct putq_key *a, const struct putq_key *b)
{
	return a->head->seq < b->head->seq;
}

static int
by_time(const struct putq_key *a, const struct putq_key *b)
{
	if (a->head->not_before != b->head->not_before)
		return a->head->not_before < b->head->not_before;
	return a->head->seq < b->head->seq;
}

static void
heap_set(struct putq_key **h, size_t i, struct putq_key *k)
{
	h[i] = k;
	k->hidx = i;
}

static void
heap_up(struct putq_key **h, size_t i, key_less *less)
{
	struct putq_key *k = h[i];

	while (i > 0 && less(k, h[(i - 1) / 2])) {
		heap_set(h, i, h[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(h, i, k);
}

static void
heap_down(struct putq_key **h, size_t n, size_t i, key_less *less)
{
	struct putq_key *k = h[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && less(h[c + 1], h[c]))
			c++;
		if (!less(h[c], k))
			break;
		heap_set(h, i, h[c]);
		i = c;
	}
	heap_set(h, i, k);
}

/* Never fails: putq_add() keeps room for every key in each heap. */
static void
heap_push(struct putq_key **h, size_t *n, struct putq_key *k,
    key_less *less)
{
	h[*n] = k;
	heap_up(h, (*n)++, less);
}

/* Removes the key at index i. */
static void
heap_remove(struct putq_key **h, size_t *n, size_t i, key_less *less)
{
	struct putq_key *last = h[--*n];

	if (i == *n)
		return;
	heap_set(h, i, last);
	heap_down(h, *n, i, less);
	heap_up(h, last->hidx, less);
}

static void
ready_push(struct putq *q, struct putq_key *k)
{
	k->state = KEY_READY;
	q->ready_recs += k->pending;
	q->ready_bytes += k->bytes;
	heap_push(q->ready, &q->nready, k, by_seq);
}

static void
ready_remove(struct putq *q, struct putq_key *k)
{
	heap_remove(q->ready, &q->nready, k->hidx, by_seq);
	k->state = KEY_IDLE;
	q->ready_recs -= k->pending;
	q->ready_bytes -= k->bytes;
}

static void
delay(struct putq *q, struct putq_key *k)
{
	k->state = KEY_DELAYED;
	heap_push(q->delayed, &q->ndelayed, k, by_time);
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
		delay(q, k);
	else
		ready_push(q, k);
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
	/* Room in each heap for every key, so that no push can fail. */
	if (q->keys.n + 1 > q->heap_cap) {
		size_t cap = q->heap_cap ? 2 * q->heap_cap : 64;
		struct putq_key **r = realloc(q->ready, cap * sizeof(*r)), **d;

		if (r == NULL)
			return NULL;
		q->ready = r;
		d = realloc(q->delayed, cap * sizeof(*d));
		if (d == NULL)
			return NULL;
		q->delayed = d;
		q->heap_cap = cap;
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

/* Appends rc to one of its key's lists (waiting, or failed and going back)
 * and counts it as waiting. */
static void
append(struct putq *q, struct putq_rec **head, struct putq_rec **tail,
    struct putq_rec *rc)
{
	rc->next = NULL;
	if (*tail != NULL)
		(*tail)->next = rc;
	else
		*head = rc;
	*tail = rc;
	rc->key->pending++;
	rc->key->bytes += rec_size(rc);
	q->queued++;
	q->queued_bytes += rec_size(rc);
}

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
	append(q, &k->head, &k->tail, rc);
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
	while (q->ndelayed > 0 && q->delayed[0]->head->not_before <= now) {
		struct putq_key *k = q->delayed[0];

		heap_remove(q->delayed, &q->ndelayed, 0, by_time);
		ready_push(q, k);
	}
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
	struct putq_key *taken = NULL, *k;
	size_t n = 0, bytes = 0;

	putq_wake(q, now);
	/* The merge: the ready key whose first record is oldest, each time. */
	while (n < max_recs && q->nready > 0) {
		struct putq_rec *rc;

		k = q->ready[0];
		if (k->head->not_before > now) {
			/* Its run ends at a record not yet due: the key waits
			 * for its request, or (none taken) for that time. */
			ready_remove(q, k);
			if (k->inflight == 0)
				delay(q, k);
			continue;
		}
		if (bytes + rec_size(k->head) > max_bytes)
			break;
		bytes += rec_size(k->head);
		q->ready_recs--;
		q->ready_bytes -= rec_size(k->head);
		rc = key_shift(q, k);
		out[n++] = rc;
		if (k->inflight++ == 0) {
			k->taken = taken;
			taken = k;
		}
		q->inflight++;
		if (k->head != NULL) {
			heap_down(q->ready, q->nready, 0, by_seq);
		} else {
			ready_remove(q, k);
		}
	}
	/* The keys taken from are parked until their records are settled. */
	for (k = taken; k != NULL; k = taken) {
		taken = k->taken;
		k->taken = NULL;
		if (k->state == KEY_READY)
			ready_remove(q, k);
		k->state = KEY_INFLIGHT;
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
		append(q, &k->ret, &k->ret_tail, rc);
	}
	settled(q, k, now);
}

void
putq_untake(struct putq *q, struct putq_rec *rc, int64_t now)
{
	struct putq_key *k = rc->key;

	rc->next = k->head;
	k->head = rc;
	if (k->tail == NULL)
		k->tail = rc;
	k->pending++;
	k->bytes += rec_size(rc);
	q->queued++;
	q->queued_bytes += rec_size(rc);
	settled(q, k, now);
}

struct putq_rec *
putq_pop(struct putq *q)
{
	struct putq_key *k;
	struct putq_rec *rc;

	putq_wake(q, INT64_MAX);
	if (q->nready == 0)
		return NULL;
	k = q->ready[0];
	ready_remove(q, k);
	rc = key_shift(q, k);
	if (k->head != NULL)
		ready_push(q, k);
	else
		key_forget(q, k);
	return rc;
}

int64_t
putq_oldest_ready(const struct putq *q)
{
	return q->nready > 0 ? q->ready[0]->head->arrived : -1;
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
	free(q->ready);
	free(q->delayed);
	*q = (struct putq)PUTQ_INIT;
}
