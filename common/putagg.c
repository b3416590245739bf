/*
 * putagg.c - packs a batch's user records into KPL aggregated records
 * (putagg.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpl.h"
#include "putagg.h"

static int
grow(struct putagg *a, size_t n)
{
	size_t *next, *of;
	struct putq_rec **left;

	if (n <= a->rcap)
		return 0;
	left = realloc(a->left, n * sizeof(*left));
	if (left == NULL)
		return -1;
	a->left = left;
	next = realloc(a->next, n * sizeof(*next));
	if (next == NULL)
		return -1;
	a->next = next;
	of = realloc(a->of, n * sizeof(*of));
	if (of == NULL)
		return -1;
	a->of = of;
	a->rcap = n;
	return 0;
}

static struct putagg_entry *
entry_new(struct putagg *a, const struct putq_rec *rc, size_t i)
{
	struct putagg_entry *e;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		struct putagg_entry *ne = realloc(a->ent, cap * sizeof(*ne));

		if (ne == NULL)
			return NULL;
		a->ent = ne;
		a->cap = cap;
	}
	e = &a->ent[a->n++];
	memset(e, 0, sizeof(*e));
	e->first = e->last = i;
	e->count = 1;
	e->size = rc->len;	/* alone, it is sent as it is */
	e->pk = rc->pk;
	e->pklen = rc->pklen;
	e->ehk = rc->ehk;
	e->ehklen = rc->ehklen;
	return e;
}

static int
same_ehk(const struct putagg_entry *e, const struct putq_rec *rc)
{
	if (e->ehk == NULL || rc->ehk == NULL)
		return e->ehk == rc->ehk;
	return e->ehklen == rc->ehklen && memcmp(e->ehk, rc->ehk,
	    e->ehklen) == 0;
}

/* e's size with rc added: an aggregate from its second record on. */
static size_t
size_with(const struct putagg_entry *e, struct putq_rec *const *recs,
    const struct putq_rec *rc)
{
	size_t s = e->size;

	if (e->count == 1)
		s = kpl_agg_frame_size(e->pklen, e->ehk ? e->ehklen : 0) +
		    kpl_agg_rec_size(recs[e->first]->len, e->ehk != NULL);
	return s + kpl_agg_rec_size(rc->len, e->ehk != NULL);
}

/* The entries' data into a->blob; then their pointers. */
static int
encode(struct putagg *a, struct putq_rec *const *recs)
{
	size_t i, j;

	buf_reset(&a->blob);
	for (i = 0; i < a->n; i++) {
		struct putagg_entry *e = &a->ent[i];
		size_t start = a->blob.len;

		if (e->count == 1) {
			e->data = recs[e->first]->data;
			continue;
		}
		kpl_agg_begin(&a->blob, e->pk, e->pklen, e->ehk, e->ehklen);
		for (j = e->first; j != SIZE_MAX; j = a->next[j])
			kpl_agg_add(&a->blob, recs[j]->data, recs[j]->len,
			    e->ehk != NULL);
		if (kpl_agg_end(&a->blob, start) != 0)
			return -1;
		e->data = (const char *)(uintptr_t)start;
	}
	for (i = 0; i < a->n; i++)
		if (a->ent[i].count > 1)
			a->ent[i].data = a->blob.p +
			    (uintptr_t)a->ent[i].data;
	return 0;
}

/* Links user record i, of entry ei, after the entry's last. */
static void
link_rec(struct putagg *a, struct putagg_entry *e, size_t ei, size_t i)
{
	a->next[i] = SIZE_MAX;
	a->of[i] = ei;
	if (e->last != i)
		a->next[e->last] = i;
	e->last = i;
}

/* The table's mark of a key closed for this request. */
#define CLOSED ((void *)UINTPTR_MAX)

/* Closes rc's key for this request: its later records wait too, so that
 * what waits is, of each key, its last records taken. */
static int
close_key(struct putagg *a, const struct putq_rec *rc)
{
	htab_del(&a->open, rc->pk, rc->pklen);
	return htab_put(&a->open, rc->pk, rc->pklen, CLOSED) == 0 ? 0 : -1;
}

/*
 * Puts user record rc (recs[k]) into its key's entry, or a new one.
 * Returns 1 when it is packed, 0 when it is left for a later request (its
 * key's entry is full or has another explicit hash key, or the request is
 * full), -1 when memory is short.
 */
static int
pack_one(struct putagg *a, struct putq_rec *const *recs, size_t k,
    const struct putagg_limits *l, size_t *total)
{
	const struct putq_rec *rc = recs[k];
	void *v = htab_get(&a->open, rc->pk, rc->pklen);
	struct putagg_entry *e;
	size_t s;

	if (v == CLOSED)
		return 0;
	if (v != NULL) {
		/* One Kinesis record per key in a request. */
		e = &a->ent[(uintptr_t)v - 1];
		if (!same_ehk(e, rc) || e->count >= l->max_agg_records)
			return close_key(a, rc);
		s = size_with(e, recs, rc);
		if (s + e->pklen > l->max_agg_bytes ||
		    *total - e->size + s > l->max_bytes)
			return close_key(a, rc);
		*total += s - e->size;
		e->size = s;
		e->count++;
		link_rec(a, e, (uintptr_t)v - 1, k);
		return 1;
	}
	if (a->n == l->max_entries || *total + rc->len + rc->pklen > l->max_bytes)
		return htab_put(&a->open, rc->pk, rc->pklen, CLOSED) == 0 ? 0 : -1;
	if (entry_new(a, rc, k) == NULL ||
	    htab_put(&a->open, rc->pk, rc->pklen, (void *)(uintptr_t)a->n) != 0)
		return -1;
	*total += rc->len + rc->pklen;
	link_rec(a, &a->ent[a->n - 1], a->n - 1, k);
	return 1;
}

size_t
putagg_pack(struct putagg *a, struct putq_rec **recs, size_t n,
    const struct putagg_limits *l)
{
	size_t i, k = 0, nleft = 0, total = 0;

	a->n = 0;
	htab_free(&a->open);
	if (grow(a, n) != 0)
		return (size_t)-1;
	for (i = 0; i < n; i++) {
		int rc = pack_one(a, recs, i, l, &total);

		if (rc < 0)
			return (size_t)-1;
		if (rc == 0)
			a->of[i] = SIZE_MAX;	/* waits */
	}
	htab_free(&a->open);
	if (encode(a, recs) != 0)
		return (size_t)-1;
	/* Nothing fails from here on: recs is reordered only now, packed
	 * records first, each part in input order. */
	for (i = 0; i < n; i++) {
		if (a->of[i] == SIZE_MAX) {
			a->left[nleft++] = recs[i];
		} else {
			a->of[k] = a->of[i];
			recs[k++] = recs[i];
		}
	}
	memcpy(recs + k, a->left, nleft * sizeof(*recs));
	return k;
}

void
putagg_free(struct putagg *a)
{
	if (a == NULL)
		return;
	free(a->ent);
	free(a->next);
	free(a->of);
	free(a->left);
	htab_free(&a->open);
	buf_free(&a->blob);
	memset(a, 0, sizeof(*a));
}
