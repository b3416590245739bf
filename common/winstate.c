/*
 * winstate.c - keys, windows, accumulators and watermarks of window-stats
 * (winstate.h).  The serialised form is in winstate_io.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kptime.h"
#include "winstate.h"
#include "winstate_int.h"

/* A window about to fire. */
struct ws_due {
	struct ws_key *k;
	struct ws_win *w;
};

static int expire(struct ws *s);

/* ---- statistics ---- */

static void
neu_add(double *s, double *c, double v)
{
	double t = *s + v;

	if (fabs(*s) >= fabs(v))
		*c += (*s - t) + v;
	else
		*c += (v - t) + *s;
	*s = t;
}

void
ws_acc_add(struct ws_acc *a, int64_t ts, double x, double w)
{
	double d, delta;

	if (a->n == 0) {
		memset(a, 0, sizeof(*a));
		a->shift = a->min = a->max = a->first = a->last = x;
		a->first_ts = a->last_ts = ts;
	}
	d = x - a->shift;
	a->n++;
	delta = d - a->wmean;
	a->wmean += delta / (double)a->n;
	a->m2 += delta * (d - a->wmean);
	neu_add(&a->sum, &a->sumc, d);
	if (x < a->min)
		a->min = x;
	if (x > a->max)
		a->max = x;
	/* First and last by event time; equal times keep input order. */
	if (ts < a->first_ts) {
		a->first_ts = ts;
		a->first = x;
	}
	if (ts >= a->last_ts) {
		a->last_ts = ts;
		a->last = x;
	}
	neu_add(&a->wsum, &a->wsumc, w);
	neu_add(&a->wx, &a->wxc, w * d);
}

void
ws_acc_merge(struct ws_acc *a, const struct ws_acc *b)
{
	double ds, delta, n;

	if (b->n == 0)
		return;
	if (a->n == 0) {
		*a = *b;
		return;
	}
	ds = b->shift - a->shift;
	delta = ds + (b->wmean - a->wmean);
	n = (double)a->n + (double)b->n;
	a->m2 += b->m2 + delta * delta * ((double)a->n * (double)b->n / n);
	a->wmean += delta * ((double)b->n / n);
	neu_add(&a->sum, &a->sumc, b->sum);
	neu_add(&a->sum, &a->sumc, b->sumc);
	neu_add(&a->sum, &a->sumc, ds * (double)b->n);
	neu_add(&a->wx, &a->wxc, b->wx);
	neu_add(&a->wx, &a->wxc, b->wxc);
	neu_add(&a->wx, &a->wxc, ds * (b->wsum + b->wsumc));
	neu_add(&a->wsum, &a->wsumc, b->wsum);
	neu_add(&a->wsum, &a->wsumc, b->wsumc);
	if (b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
	if (b->first_ts < a->first_ts) {
		a->first_ts = b->first_ts;
		a->first = b->first;
	}
	if (b->last_ts >= a->last_ts) {
		a->last_ts = b->last_ts;
		a->last = b->last;
	}
	a->n += b->n;
}

void
ws_trailing(const struct ws_key *k, struct ws_acc *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < k->nclosed; i++)
		ws_acc_merge(out, &k->closed[i].acc);
}

/* ---- the state ---- */

void *
wsi_grow(void *p, size_t *cap, size_t n, size_t sz, size_t first)
{
	size_t nc = *cap ? *cap * 2 : first;
	void *np;

	if (n < *cap)
		return p;
	if (nc > SIZE_MAX / sz)
		return NULL;
	np = realloc(p, nc * sz);
	if (np != NULL)
		*cap = nc;
	return np;
}

int
wsi_opts_check(const struct ws_opts *o, char *err, size_t errsz)
{
	const char *why = NULL;

	if (o->size < 1 || o->size > WS_DURATION_MAX)
		why = "size out of range";
	else if (o->slide < 1 || o->slide > o->size)
		why = "slide must be from 1ms to size";
	else if ((o->size + o->slide - 1) / o->slide >
	    WS_MAX_WINDOWS_PER_RECORD)
		why = "more windows per record than WS_MAX_WINDOWS_PER_RECORD";
	else if (o->offset <= -o->slide || o->offset >= o->slide)
		why = "|offset| must be less than slide";
	else if (o->ooo < 0 || o->ooo > WS_DURATION_MAX)
		why = "out-of-orderness out of range";
	else if (o->lateness < 0 || o->lateness > WS_DURATION_MAX)
		why = "allowed lateness out of range";
	else if (o->emit != WS_EMIT_WINDOWS && o->emit != WS_EMIT_RECORDS &&
	    o->emit != WS_EMIT_TRAILING)
		why = "unknown emission mode";
	else if (o->trailing < 1 || o->trailing > WS_MAX_TRAILING)
		why = "trailing out of range";
	else if (o->key_ttl < 0 || o->key_ttl > WS_DURATION_MAX)
		why = "key TTL out of range";
	if (why != NULL)
		snprintf(err, errsz, "%s", why);
	return why != NULL ? -1 : 0;
}

struct ws *
ws_new(const struct ws_opts *o, char *err, size_t errsz)
{
	struct ws *s;

	if (wsi_opts_check(o, err, errsz) != 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s != NULL) {
		s->o = *o;
		ws_clear(s);  /* no key, no event time yet */
	} else {
		snprintf(err, errsz, "out of memory");
	}
	return s;
}

void
ws_on_fire(struct ws *s, ws_fire_fn fn, void *ctx)
{
	s->fire = fn;
	s->ctx = ctx;
}

static void
win_drop_records(struct ws_win *w)
{
	free(w->buf);
	free(w->recs);
	w->buf = NULL;
	w->recs = NULL;
	w->blen = w->bcap = w->nrec = w->crec = 0;
}

static void
key_free(struct ws_key *k)
{
	if (k == NULL)
		return;
	while (k->nw > 0)
		win_drop_records(&k->w[--k->nw]);
	free(k->w);
	free(k->closed);
	buf_free(&k->text);
	free(k->id);
	free(k);
}

void
ws_clear(struct ws *s)
{
	size_t i;

	for (i = 0; i < s->nkeys; i++)
		key_free(s->keys[i]);
	free(s->keys);
	s->keys = NULL;
	s->nkeys = s->ckeys = s->nlive = 0;
	s->nextseq = 0;
	htab_free(&s->index);
	free(s->timers.a);
	free(s->ttl.a);
	memset(&s->timers, 0, sizeof(s->timers));
	memset(&s->ttl, 0, sizeof(s->ttl));
	s->ttl.which = 1;
	s->gmax = WS_NO_TIME;
	s->gfloor = WS_NO_TIME;
	s->unfired = 0;
	memset(&s->n, 0, sizeof(s->n));
}

void
ws_free(struct ws *s)
{
	if (s == NULL)
		return;
	ws_clear(s);
	free(s->due);
	free(s->pop);
	buf_free(&s->id);
	free(s);
}

int64_t
ws_watermark(const struct ws *s, const struct ws_key *k)
{
	int64_t m = s->o.global ? s->gmax : k->maxts;
	int64_t f = s->o.global ? s->gfloor : k->floor;
	int64_t w = m == WS_NO_TIME ? WS_NO_TIME : m - s->o.ooo;

	return w > f ? w : f;
}

/* When a window next needs work: its firing, then the end of its
 * allowed lateness, when it is dropped. */
int64_t
wsi_win_due(const struct ws *s, const struct ws_win *w)
{
	return w->fires ? w->end + s->o.lateness : w->end;
}

/* ---- the key queues: binary min-heaps that know each key's place ---- */

static int
q_less(const struct ws_queue *q, const struct ws_key *a,
    const struct ws_key *b)
{
	int64_t x = q->which ? a->maxts : a->next_due;
	int64_t y = q->which ? b->maxts : b->next_due;

	if (x != y)
		return x < y;
	return a->seq < b->seq;
}

static void
q_set(struct ws_queue *q, size_t i, struct ws_key *k)
{
	q->a[i] = k;
	k->qpos[q->which] = i;
}

/* Moves the key at i up or down to its place. */
static void
q_fix(struct ws_queue *q, size_t i)
{
	struct ws_key *k = q->a[i];

	while (i > 0 && q_less(q, k, q->a[(i - 1) / 2])) {
		q_set(q, i, q->a[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && q_less(q, q->a[c + 1], q->a[c]))
			c++;
		if (!q_less(q, q->a[c], k))
			break;
		q_set(q, i, q->a[c]);
		i = c;
	}
	q_set(q, i, k);
}

/* Puts k in q, or moves it to its place after its time changed.  Returns 0
 * or -1 when memory is short. */
static int
q_put(struct ws_queue *q, struct ws_key *k)
{
	struct ws_key **na;

	if (k->qpos[q->which] == WS_NOPOS) {
		na = wsi_grow(q->a, &q->c, q->n, sizeof(*na), 64);
		if (na == NULL)
			return -1;
		q->a = na;
		k->qpos[q->which] = q->n++;
		q->a[q->n - 1] = k;
	}
	q_fix(q, k->qpos[q->which]);
	return 0;
}

static void
q_del(struct ws_queue *q, struct ws_key *k)
{
	size_t i = k->qpos[q->which];

	if (i == WS_NOPOS)
		return;
	k->qpos[q->which] = WS_NOPOS;
	if (i < --q->n) {
		q_set(q, i, q->a[q->n]);
		q_fix(q, i);
	}
}

/* Forgets k entirely: index, queues, the list of keys. */
void
wsi_key_remove(struct ws *s, struct ws_key *k)
{
	struct ws_key *last;

	q_del(&s->timers, k);
	q_del(&s->ttl, k);
	if (k->live)
		s->nlive--;
	htab_del(&s->index, k->id, k->idlen);
	last = s->keys[--s->nkeys];
	s->keys[k->ix] = last;
	last->ix = k->ix;
	key_free(k);
}

/*
 * After k's windows changed: counts it as live or not, keeps it in the
 * timer queue while it has windows (global watermark), and when it holds
 * nothing frees what a held window needs.  A key that holds nothing keeps
 * only what it must remember: under a per-key watermark its watermark,
 * under the global one nothing (it is forgotten, and is a new key if it
 * comes back).  Returns 0, or WS_NOMEM.
 */
int
wsi_key_settle(struct ws *s, struct ws_key *k)
{
	int holds = k->nw > 0 || k->nclosed > 0;

	if (holds != k->live) {
		k->live = holds;
		if (holds)
			s->nlive++;
		else
			s->nlive--;
	}
	if (s->o.global && k->nw > 0)
		return q_put(&s->timers, k) == 0 ? 0 : WS_NOMEM;
	q_del(&s->timers, k);
	if (holds)
		return 0;
	if (s->o.global) {
		wsi_key_remove(s, k);
		return 0;
	}
	free(k->w);
	free(k->closed);
	buf_free(&k->text);
	k->w = NULL;
	k->closed = NULL;
	k->cw = 0;
	k->text_ok = 0;
	return 0;
}

struct ws_key *
wsi_key_new(struct ws *s, const char *id, size_t idlen)
{
	struct ws_key *k = NULL, **nk;

	nk = wsi_grow(s->keys, &s->ckeys, s->nkeys, sizeof(*nk), 16);
	if (nk == NULL)
		goto fail;
	s->keys = nk;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		goto fail;
	k->id = malloc(idlen + 1);
	if (k->id == NULL)
		goto fail;
	if (idlen > 0)
		memcpy(k->id, id, idlen);
	k->id[idlen] = '\0';
	k->idlen = idlen;
	k->seq = s->nextseq;
	k->maxts = WS_NO_TIME;
	k->floor = WS_NO_TIME;
	k->next_due = INT64_MAX;
	k->qpos[0] = k->qpos[1] = WS_NOPOS;
	if (htab_put(&s->index, k->id, k->idlen, k) != 0)
		goto fail;
	k->ix = s->nkeys;
	s->keys[s->nkeys++] = k;
	s->nextseq++;
	if (s->o.key_ttl > 0 && q_put(&s->ttl, k) != 0) {
		wsi_key_remove(s, k);
		return NULL;
	}
	return k;
fail:
	key_free(k);
	return NULL;
}

struct ws_key *
wsi_key_find(const struct ws *s, const char *id, size_t idlen)
{
	return htab_get(&s->index, id, idlen);
}

int
ws_key(struct ws *s, int kind, const char *b, size_t n, struct ws_key **k)
{
	int rc;

	buf_reset(&s->id);
	if (kind != WS_KEY_NONE)
		buf_char(&s->id, (char)kind);
	buf_add(&s->id, b, n);
	/* Terminated, so that even the empty identity has bytes to point
	 * at. */
	if (buf_cstr(&s->id) == NULL)
		return WS_NOMEM;
	rc = expire(s);
	if (rc != 0)
		return rc;
	*k = wsi_key_find(s, s->id.p, s->id.len);
	if (*k != NULL && (*k)->live)
		return 0;
	/* --max-keys counts keys that hold windows, not keys remembered. */
	if (s->o.max_keys > 0 && s->nlive >= s->o.max_keys)
		return WS_FULL;
	if (*k != NULL)
		return 0;
	*k = wsi_key_new(s, s->id.p, s->id.len);
	return *k != NULL ? 0 : WS_NOMEM;
}

void
ws_key_json(const struct ws_key *k, struct buf *out)
{
	if (k->idlen == 0)
		buf_lit(out, "null");
	else if (k->id[0] == WS_KEY_STRING)
		buf_jstr(out, k->id + 1, k->idlen - 1);
	else
		buf_add(out, k->id + 1, k->idlen - 1);
}

/* Room for one more window at the end of k's list.  Returns it, zeroed, or
 * NULL when memory is short. */
struct ws_win *
wsi_win_push(struct ws_key *k)
{
	struct ws_win *nw = wsi_grow(k->w, &k->cw, k->nw, sizeof(*nw), 4);

	if (nw == NULL)
		return NULL;
	k->w = nw;
	memset(&k->w[k->nw], 0, sizeof(k->w[k->nw]));
	return &k->w[k->nw++];
}

/* The window [start, end) of k, created when new.  NULL on allocation
 * failure. */
static struct ws_win *
win_get(struct ws *s, struct ws_key *k, int64_t start, int64_t end)
{
	size_t i = k->nw;
	struct ws_win *w;

	/* New windows come last almost always: search from the end. */
	while (i > 0 && k->w[i - 1].start > start)
		i--;
	if (i > 0 && k->w[i - 1].start == start)
		return &k->w[i - 1];
	if (wsi_win_push(k) == NULL)
		return NULL;
	memmove(k->w + i + 1, k->w + i, (k->nw - 1 - i) * sizeof(*k->w));
	w = &k->w[i];
	memset(w, 0, sizeof(*w));
	w->start = start;
	w->end = end;
	s->unfired++;
	if (end < k->next_due)
		k->next_due = end;
	if (wsi_key_settle(s, k) != 0)
		return NULL;
	return w;
}

int
wsi_win_keep(struct ws_win *w, const char *line, size_t len, size_t brace,
    int empty)
{
	struct ws_rec *nr;

	if (len > w->bcap - w->blen) {
		size_t nc = w->bcap ? w->bcap : 1024;
		char *nb;

		while (nc - w->blen < len)
			nc *= 2;
		nb = realloc(w->buf, nc);
		if (nb == NULL)
			return -1;
		w->buf = nb;
		w->bcap = nc;
	}
	nr = wsi_grow(w->recs, &w->crec, w->nrec, sizeof(*nr), 16);
	if (nr == NULL)
		return -1;
	w->recs = nr;
	memcpy(w->buf + w->blen, line, len);
	w->recs[w->nrec].off = w->blen;
	w->recs[w->nrec].len = len;
	w->recs[w->nrec].brace = brace;
	w->recs[w->nrec].empty = empty;
	w->nrec++;
	w->blen += len;
	return 0;
}

/* --emit trailing: remembers w as one of k's last N closed windows (or
 * replaces it after a re-firing). */
static int
closed_put(struct ws *s, struct ws_key *k, const struct ws_win *w)
{
	size_t i, n = k->nclosed;

	if (k->closed == NULL) {
		k->closed = calloc(s->o.trailing, sizeof(*k->closed));
		if (k->closed == NULL)
			return WS_NOMEM;
	}
	k->text_ok = 0;
	for (i = 0; i < n; i++) {
		if (k->closed[i].start == w->start) {
			k->closed[i].acc = w->acc;
			return 0;
		}
	}
	/* Keep the newest N by end; a late window older than all of them
	 * when the list is full does not enter. */
	i = n;
	while (i > 0 && k->closed[i - 1].end > w->end)
		i--;
	if (n == s->o.trailing) {
		if (i == 0)
			return 0;
		memmove(k->closed, k->closed + 1, (i - 1) * sizeof(*k->closed));
		i--;
	} else {
		memmove(k->closed + i + 1, k->closed + i,
		    (n - i) * sizeof(*k->closed));
		k->nclosed++;
	}
	k->closed[i].start = w->start;
	k->closed[i].end = w->end;
	k->closed[i].acc = w->acc;
	return 0;
}

/*
 * Fires window w of key k: the first time (the watermark passed its end, or
 * end of input), or again for a record within the allowed lateness.  The
 * counts move even when the fire function fails, as the caller then stops.
 */
static int
fire(struct ws *s, struct ws_key *k, struct ws_win *w)
{
	int rc = 0;

	if (s->fire != NULL)
		rc = s->fire(s->ctx, k, w);
	if (rc == 0 && s->o.emit == WS_EMIT_TRAILING)
		rc = closed_put(s, k, w);
	/* A first firing has written the records: a re-firing writes only
	 * the record that caused it, so no record is written twice. */
	if (s->o.emit == WS_EMIT_RECORDS && w->fires == 0)
		win_drop_records(w);
	if (w->fires == 0)
		s->unfired--;
	else
		s->n.refired++;
	w->fires++;
	s->n.fired++;
	return rc;
}

static int
due_cmp(const void *pa, const void *pb)
{
	const struct ws_due *a = pa, *b = pb;

	if (a->w->end != b->w->end)
		return a->w->end < b->w->end ? -1 : 1;
	if (a->w->start != b->w->start)
		return a->w->start < b->w->start ? -1 : 1;
	return a->k->seq < b->k->seq ? -1 : a->k->seq > b->k->seq;
}

/* Drops k's fired windows whose allowed lateness the watermark passed, and
 * recomputes k->next_due. */
static void
key_sweep(struct ws *s, struct ws_key *k, int64_t wm)
{
	size_t i, j = 0;

	k->next_due = INT64_MAX;
	for (i = 0; i < k->nw; i++) {
		struct ws_win *w = &k->w[i];

		if (w->fires > 0 && w->end + s->o.lateness <= wm) {
			win_drop_records(w);
			continue;
		}
		if (wsi_win_due(s, w) < k->next_due)
			k->next_due = wsi_win_due(s, w);
		if (i != j)
			k->w[j] = *w;
		j++;
	}
	k->nw = j;
}

/* Adds to the due list k's windows that watermark wm has reached and that
 * have not fired. */
static int
collect_key(struct ws *s, struct ws_key *k, int64_t wm)
{
	struct ws_due *nd;
	size_t j;

	if (wm < k->next_due)
		return 0;
	for (j = 0; j < k->nw; j++) {
		if (k->w[j].fires > 0 || k->w[j].end > wm)
			continue;
		nd = wsi_grow(s->due, &s->cdue, s->ndue, sizeof(*nd), 64);
		if (nd == NULL)
			return WS_NOMEM;
		s->due = nd;
		s->due[s->ndue].k = k;
		s->due[s->ndue].w = &k->w[j];
		s->ndue++;
	}
	return 0;
}

/* Fires the due list in the order of window end, then start, then key. */
static int
fire_due(struct ws *s)
{
	size_t i;
	int rc = 0;

	if (s->ndue > 1)
		qsort(s->due, s->ndue, sizeof(*s->due), due_cmp);
	for (i = 0; i < s->ndue && rc == 0; i++)
		rc = fire(s, s->due[i].k, s->due[i].w);
	s->ndue = 0;
	return rc;
}

/* Sweeps k and settles it; k may be gone afterwards. */
static int
key_done(struct ws *s, struct ws_key *k, int64_t wm)
{
	key_sweep(s, k, wm);
	return wsi_key_settle(s, k);
}

/*
 * The global watermark: takes from the timer queue only the keys with a
 * window due (Flink's timer service), so that firing costs in proportion
 * to the windows that fire, not to the keys held.
 */
static int
advance_global(struct ws *s)
{
	int64_t wm = ws_watermark(s, NULL);
	struct ws_key **np;
	size_t i;
	int rc = 0, rc2;

	s->npop = 0;
	s->ndue = 0;
	while (rc == 0 && s->timers.n > 0 && s->timers.a[0]->next_due <= wm) {
		struct ws_key *k = s->timers.a[0];

		np = wsi_grow(s->pop, &s->cpop, s->npop, sizeof(*np), 64);
		if (np == NULL)
			return WS_NOMEM;
		s->pop = np;
		q_del(&s->timers, k);
		s->pop[s->npop++] = k;
		rc = collect_key(s, k, wm);
	}
	if (rc == 0)
		rc = fire_due(s);
	for (i = 0; i < s->npop; i++) {
		rc2 = key_done(s, s->pop[i], wm);
		if (rc == 0)
			rc = rc2;
	}
	s->npop = 0;
	return rc;
}

/*
 * Fires every window whose end the watermark has reached, in the order of
 * window end, then window start, then key (first-seen order), then drops
 * what lateness no longer keeps.  only != NULL: that key alone (per-key
 * watermark).  eof: the watermark is +infinity for every key.
 */
static int
advance(struct ws *s, struct ws_key *only, int eof)
{
	size_t i;
	int rc = 0, rc2;

	s->ndue = 0;
	if (only != NULL) {
		int64_t wm = ws_watermark(s, only);

		if (wm < only->next_due)
			return 0;
		rc = collect_key(s, only, wm);
		if (rc == 0)
			rc = fire_due(s);
		rc2 = key_done(s, only, wm);
		return rc != 0 ? rc : rc2;
	}
	if (s->o.global && !eof)
		return advance_global(s);
	/* Every key: per-key watermarks after --idle-timeout, or the end. */
	for (i = 0; i < s->nkeys && rc == 0; i++)
		rc = collect_key(s, s->keys[i], eof ? INT64_MAX :
		    ws_watermark(s, s->keys[i]));
	if (rc == 0)
		rc = fire_due(s);
	/* From the last: a key forgotten takes the place of the last. */
	for (i = s->nkeys; i > 0; i--) {
		struct ws_key *k = s->keys[i - 1];

		rc2 = key_done(s, k, eof ? INT64_MAX : ws_watermark(s, k));
		if (rc == 0)
			rc = rc2;
	}
	return rc;
}

/*
 * --key-ttl (Flink's state TTL): a key whose last event time the stream's
 * watermark (largest event time over all keys minus the out-of-orderness)
 * has passed by the TTL is forgotten; its open windows fire first, as at
 * the end of its input, so that no record is lost.  Keys go in the order
 * of their last event time, then first-seen order.
 */
static int
expire(struct ws *s)
{
	int64_t clock;
	int rc = 0;

	if (s->o.key_ttl == 0 || s->gmax == WS_NO_TIME)
		return 0;
	clock = s->gmax - s->o.ooo;
	while (rc == 0 && s->ttl.n > 0 &&
	    s->ttl.a[0]->maxts <= clock - s->o.key_ttl) {
		struct ws_key *k = s->ttl.a[0];

		s->ndue = 0;
		rc = collect_key(s, k, INT64_MAX);
		if (rc == 0)
			rc = fire_due(s);
		wsi_key_remove(s, k);
	}
	return rc;
}

int
ws_add(struct ws *s, struct ws_key *k, const struct ws_record *r,
    int64_t *wm)
{
	const struct ws_opts *o = &s->o;
	int64_t w, st, s0, s1;
	int placed = 0, rc;

	s->n.records++;
	if (r->ts > k->maxts) {
		k->maxts = r->ts;
		if (k->qpos[1] != WS_NOPOS)
			q_fix(&s->ttl, k->qpos[1]);
	}
	if (r->ts > s->gmax)
		s->gmax = r->ts;
	w = ws_watermark(s, k);

	/* Flink's assignment: the last window starts at
	 * ts - floormod(ts - offset, slide); earlier ones every slide, while
	 * they still contain ts. */
	s1 = r->ts - ((r->ts - o->offset) - o->slide *
	    kptime_floor_div(r->ts - o->offset, o->slide));
	s0 = s1 - o->slide * ((s1 - (r->ts - o->size + 1)) / o->slide);
	for (st = s0; st <= s1; st += o->slide) {
		int64_t e = st + o->size;
		struct ws_win *win;

		if (w >= e + o->lateness)
			continue; /* that window is gone */
		placed = 1;
		win = win_get(s, k, st, e);
		if (win == NULL)
			return WS_NOMEM;
		ws_acc_add(&win->acc, r->ts, r->value, r->weight);
		if (o->emit == WS_EMIT_RECORDS && win->fires == 0 &&
		    wsi_win_keep(win, r->line, r->len, r->brace, r->empty) != 0)
			return WS_NOMEM;
		/* Within the allowed lateness: Flink's EventTimeTrigger fires
		 * at once for a window the watermark has already passed. */
		if (w >= e) {
			rc = fire(s, k, win);
			if (rc != 0)
				return rc;
		}
	}
	if (!placed) {
		s->n.records--;
		s->n.late++;
		*wm = w;
		/* A key created for this record alone holds nothing. */
		if (!k->live)
			(void)wsi_key_settle(s, k);
		return WS_LATE;
	}
	return advance(s, o->global ? NULL : k, 0);
}


int
ws_idle(struct ws *s)
{
	size_t i, j;

	for (i = 0; i < s->nkeys; i++) {
		struct ws_key *k = s->keys[i];
		int64_t *f = s->o.global ? &s->gfloor : &k->floor;

		for (j = 0; j < k->nw; j++) {
			if (k->w[j].fires == 0 && k->w[j].end > *f)
				*f = k->w[j].end;
		}
	}
	return advance(s, NULL, 0);
}

int
ws_finish(struct ws *s)
{
	return advance(s, NULL, 1);
}

/* After a load: what is derived from the windows rather than saved (a
 * key that holds nothing under the global watermark, as a version 1
 * state may have, is forgotten). */
int
wsi_derive(struct ws *s)
{
	size_t i, j;

	s->unfired = 0;
	s->nlive = 0;
	/* Keys entered the TTL queue before their max_time was read. */
	s->ttl.n = 0;
	for (i = 0; i < s->nkeys; i++)
		s->keys[i]->qpos[1] = WS_NOPOS;
	for (i = s->nkeys; i > 0; i--) {
		struct ws_key *k = s->keys[i - 1];

		if (s->o.key_ttl > 0 && q_put(&s->ttl, k) != 0)
			return -1;
		k->next_due = INT64_MAX;
		k->live = 0;
		for (j = 0; j < k->nw; j++) {
			if (k->w[j].fires == 0)
				s->unfired++;
			if (wsi_win_due(s, &k->w[j]) < k->next_due)
				k->next_due = wsi_win_due(s, &k->w[j]);
		}
		if (wsi_key_settle(s, k) != 0)
			return -1;
	}
	return 0;
}
