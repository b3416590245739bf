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

	if (n <= a->rcap)
		return 0;
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

/*
 * The bytes that name rc's aggregate in the table of open ones: its
 * partition key, and its explicit hash key after the key's NUL (putq.h
 * keeps them so, in one block).
 */
static size_t
open_len(const struct putq_rec *rc)
{
	return rc->ehk != NULL ? rc->pklen + 1 + rc->ehklen : rc->pklen;
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

size_t
putagg_pack(struct putagg *a, struct putq_rec *const *recs, size_t n,
    const struct putagg_limits *l)
{
	size_t i, total = 0;

	a->n = 0;
	htab_free(&a->open);
	if (grow(a, n) != 0)
		return (size_t)-1;
	for (i = 0; i < n; i++) {
		const struct putq_rec *rc = recs[i];
		uintptr_t v = (uintptr_t)htab_get(&a->open, rc->pk,
		    open_len(rc));
		struct putagg_entry *e = v ? &a->ent[v - 1] : NULL;

		if (e != NULL && e->pklen == rc->pklen && same_ehk(e, rc) &&
		    e->count < l->max_agg_records) {
			size_t s = size_with(e, recs, rc);

			if (s + e->pklen <= l->max_agg_bytes &&
			    total - e->size + s <= l->max_bytes) {
				total += s - e->size;
				e->size = s;
				e->count++;
				link_rec(a, e, v - 1, i);
				continue;
			}
		}
		/* A new entry, the key's open one from now on. */
		if (a->n == l->max_entries ||
		    total + rc->len + rc->pklen > l->max_bytes)
			break;
		if (e != NULL)
			htab_del(&a->open, rc->pk, open_len(rc));
		e = entry_new(a, rc, i);
		if (e == NULL || htab_put(&a->open, rc->pk, open_len(rc),
		    (void *)(uintptr_t)a->n) != 0)
			return (size_t)-1;
		total += rc->len + rc->pklen;
		link_rec(a, e, a->n - 1, i);
	}
	htab_free(&a->open);
	if (encode(a, recs) != 0)
		return (size_t)-1;
	return i;
}

void
putagg_free(struct putagg *a)
{
	if (a == NULL)
		return;
	free(a->ent);
	free(a->next);
	free(a->of);
	htab_free(&a->open);
	buf_free(&a->blob);
	memset(a, 0, sizeof(*a));
}
