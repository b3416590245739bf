/*
 * window-stats - event-time windows per key, and their statistics.
 *
 * Flink's TumblingEventTimeWindows and SlidingEventTimeWindows behind a
 * bounded-out-of-orderness watermark, as a filter.  Each record is assigned
 * to the windows [s, s + size) with s = ts - floormod(ts - offset, slide);
 * the watermark is W = largest event time seen - out-of-orderness, per key
 * (default) or over all keys; a window fires once W >= end.  Flink's own
 * BoundedOutOfOrdernessWatermarks emits max - ooo - 1 and fires a window at
 * W >= end - 1 (TimeWindow.maxTimestamp()), which is the same instant.
 * A window is kept --allowed-lateness longer (Flink's allowedLateness): a
 * record that still reaches it re-fires it at once; a record that reaches
 * none of its windows is late.  End of input fires every open window
 * (Flink's final MAX_WATERMARK).
 *
 * What a firing writes depends on --emit: one statistics line per window,
 * every record of the window with the statistics spliced in, or (trailing)
 * every record at once with the statistics of its key's last closed windows.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "buf.h"
#include "cli.h"
#include "jfield.h"
#include "jscan.h"
#include "kptime.h"
#include "progress.h"
#include "msg.h"
#include "ndjson.h"
#include "sig.h"

#define USAGE "window-stats [-hqv] [--allowed-lateness DURATION] " \
	"[--dead-letter FILE] [--emit windows|records|trailing] " \
	"[--idle-timeout DURATION] [--key-field PATH] [--late-output FILE] " \
	"[--max-keys N] [--max-line BYTES] [--offset DURATION] " \
	"[--out-of-orderness DURATION] [--progress | --no-progress] " \
	"[--size DURATION] [--slide DURATION] [--strict] [--time-field PATH] " \
	"[--trailing N] [--value-field PATH] [--watermark per-key|global] " \
	"[--weight-field PATH] [--window-field NAME]"

static const char help_text[] =
    "Cuts records into event-time windows per key (Flink's tumbling and\n"
    "sliding event-time windows) and writes each window's statistics.\n"
    "\n"
    "Options:\n"
    "  --time-field PATH        event time: RFC 3339 string or epoch number\n"
    "                           (default timestamp)\n"
    "  --value-field PATH       the number to summarise (default price)\n"
    "  --key-field PATH         the window key (default: one key for all)\n"
    "  --weight-field PATH      a weight: adds weight_sum and weighted_mean\n"
    "  --size DURATION          window length (default 1m)\n"
    "  --slide DURATION         start a window every DURATION, at most --size\n"
    "                           (default --size: tumbling windows)\n"
    "  --offset DURATION        shift the windows from the epoch; may be\n"
    "                           negative, |offset| < slide (default 0)\n"
    "  --out-of-orderness DURATION\n"
    "                           the watermark's lag behind the largest event\n"
    "                           time seen (default 0)\n"
    "  --watermark per-key|global\n"
    "                           one watermark per key (default) or one for all\n"
    "  --allowed-lateness DURATION\n"
    "                           keep fired windows this long for late records,\n"
    "                           each of which re-fires its window (default 0)\n"
    "  --late-output FILE       append records later than that to FILE\n"
    "                           (without it they are rejected lines)\n"
    "  --idle-timeout DURATION  after DURATION without input (wall clock), fire\n"
    "                           every open window\n"
    "  --emit windows|records|trailing\n"
    "                           a line per window (default), every record with\n"
    "                           its window's statistics when the window fires,\n"
    "                           or every record at once with the statistics of\n"
    "                           its key's last closed windows\n"
    "  --trailing N             trailing: merge the last N closed windows\n"
    "                           (default 1)\n"
    "  --window-field NAME      the member records and trailing add (default\n"
    "                           window)\n"
    "  --max-keys N             reject records of keys beyond the first N\n"
    "                           (default: no limit)\n";

/* Most windows one record may belong to (size / slide). */
#define MAX_WINDOWS_PER_RECORD 10000
#define NO_TIME INT64_MIN

enum emit {
	EMIT_WINDOWS,
	EMIT_RECORDS,
	EMIT_TRAILING,
};

struct opts {
	struct jf_path time, value, key, weight;
	int has_key, has_weight;
	int64_t size, slide, offset, ooo, lateness, idle;
	int global;
	enum emit emit;
	uint64_t trailing;
	const char *window_field;
	struct jf_path wfield;  /* the same, as a one-member path */
	uint64_t max_keys;  /* 0: no limit */
	const char *late_output;
};

/* ---- statistics ---- */

/*
 * Running statistics of one window.  Values are taken relative to the
 * window's first value (shift), so that prices around 60,000 with cent-size
 * deviations keep their low digits; the squared deviations follow Welford,
 * the sums are Neumaier-compensated.
 */
struct acc {
	uint64_t n;
	double shift;
	double wmean, m2;    /* Welford: mean of x - shift, squared deviations */
	double sum, sumc;    /* sum of x - shift, and its compensation */
	double min, max;
	int64_t first_ts, last_ts;
	double first, last;
	double wsum, wsumc;  /* weights */
	double wx, wxc;      /* weight * (x - shift) */
};

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

static void
acc_add(struct acc *a, int64_t ts, double x, double w)
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

/*
 * Merges b (a newer window) into a: Chan, Golub and LeVeque's pairwise
 * update of the squared deviations, in a's frame of reference.
 */
static void
acc_merge(struct acc *a, const struct acc *b)
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

/* ---- text ---- */

/* "count":N,...,"sum":S and the weighted members: the statistics every
 * emission mode writes, in this order. */
static void
sb_stats(struct buf *b, const struct acc *a, int weights)
{
	double n = (double)a->n, s = a->sum + a->sumc;

	buf_lit(b, "\"count\":");
	buf_u64(b, a->n);
	buf_lit(b, ",\"mean\":");
	buf_double(b, a->shift + s / n);
	buf_lit(b, ",\"stddev\":");
	buf_double(b, sqrt(a->m2 / n));
	buf_lit(b, ",\"sample_stddev\":");
	if (a->n < 2)
		buf_add(b, "null", 4);
	else
		buf_double(b, sqrt(a->m2 / (n - 1)));
	buf_lit(b, ",\"min\":");
	buf_double(b, a->min);
	buf_lit(b, ",\"max\":");
	buf_double(b, a->max);
	buf_lit(b, ",\"first\":");
	buf_double(b, a->first);
	buf_lit(b, ",\"last\":");
	buf_double(b, a->last);
	buf_lit(b, ",\"sum\":");
	buf_double(b, n * a->shift + s);
	if (weights) {
		double ws = a->wsum + a->wsumc;

		buf_lit(b, ",\"weight_sum\":");
		buf_double(b, ws);
		buf_lit(b, ",\"weighted_mean\":");
		if (ws == 0)
			buf_add(b, "null", 4);
		else
			buf_double(b, a->shift + (a->wx + a->wxc) / ws);
	}
}

/* ---- state ---- */

/* A buffered record (records mode): where its bytes are in the window's
 * buffer, and where its closing brace is. */
struct rec {
	size_t off, len, brace;
	int empty;
};

struct win {
	int64_t start, end;
	uint32_t fires;      /* times fired so far */
	struct acc acc;
	/* Records mode: the window's records, verbatim and in input order,
	 * until its first firing writes them. */
	char *buf;
	size_t blen, bcap;
	struct rec *recs;
	size_t nrec, crec;
};

/* A closed window as trailing mode remembers it. */
struct closed {
	int64_t start, end;
	struct acc acc;
};

struct key {
	char *id;            /* identity: "s" + string bytes, "j" + JSON text,
	                      * or "" without --key-field */
	size_t idlen;
	uint64_t hash;
	uint64_t seq;        /* first-seen order */
	int64_t maxts;       /* largest event time of this key */
	int64_t floor;       /* watermark raised by --idle-timeout */
	struct win *w;       /* open (and retained fired) windows, by start */
	size_t nw, cw;
	int64_t next_due;    /* no window needs work before W reaches this */
	struct closed *closed;  /* trailing: last N closed windows, oldest first */
	size_t nclosed;
	/* Derived, not state: the trailing fragment, rebuilt when stale. */
	char *frag;
	size_t fraglen;
	int frag_ok;
};

/*
 * All window state lives here, so that a checkpoint (the exactly-once issue)
 * can serialise it in one place: the keys in first-seen order with their
 * windows and closed windows, the watermarks, and the counters.  Nothing
 * else carries anything from one record to the next.
 */
struct wstate {
	struct key **keys;   /* by seq */
	size_t nkeys, ckeys;
	uint32_t *slot;      /* open addressing: index + 1 into keys, 0 free */
	size_t nslot;
	int64_t gmax;        /* largest event time over all keys */
	int64_t gfloor;      /* global watermark raised by --idle-timeout */
	int64_t gnext_due;   /* lower bound of every key's next_due */
	uint64_t unfired;    /* windows not fired yet */
	unsigned long long records, late, fired, refired, control;
};

/* A window about to fire. */
struct due {
	struct key *k;
	struct win *w;
};

struct tool {
	const struct opts *o;
	struct wstate st;
	struct nd_writer *out;
	struct nd_reject *rej;
	const char *src;
	FILE *late;
	struct buf sb;       /* the line or fragment being built */
	struct jscan *js;    /* reads the fields of each line */
	int f_time, f_value, f_key, f_weight, f_window;
	struct buf tmp;      /* a decoded key or time */
	struct progress prog;
	struct due *due;
	size_t ndue, cdue;
	/* The record being processed, for records-mode re-firings. */
	const char *line;
	size_t len, brace;
	int empty;
};

static int
oom(void)
{
	msg_err("out of memory");
	return ND_ERROR;
}

static int64_t
watermark(const struct tool *t, const struct key *k)
{
	int64_t m = t->o->global ? t->st.gmax : k->maxts;
	int64_t f = t->o->global ? t->st.gfloor : k->floor;
	int64_t w = m == NO_TIME ? NO_TIME : m - t->o->ooo;

	return w > f ? w : f;
}

/* When a window next needs work: its firing, then the end of its
 * allowed lateness, when it is dropped. */
static int64_t
win_due(const struct tool *t, const struct win *w)
{
	return w->fires ? w->end + t->o->lateness : w->end;
}

static uint64_t
hash_id(char tag, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	h = (h ^ (unsigned char)tag) * 1099511628211ULL;
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static int
slots_grow(struct wstate *st)
{
	size_t n = st->nslot ? st->nslot * 2 : 64, i;
	uint32_t *s = calloc(n, sizeof(*s));

	if (s == NULL)
		return -1;
	for (i = 0; i < st->nkeys; i++) {
		size_t j = (size_t)st->keys[i]->hash & (n - 1);

		while (s[j] != 0)
			j = (j + 1) & (n - 1);
		s[j] = (uint32_t)(i + 1);
	}
	free(st->slot);
	st->slot = s;
	st->nslot = n;
	return 0;
}

static void
key_free(struct key *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->nw; i++) {
		free(k->w[i].buf);
		free(k->w[i].recs);
	}
	free(k->w);
	free(k->closed);
	free(k->frag);
	free(k->id);
	free(k);
}

/*
 * The key with identity (tag, s, n), created on first sight.  Returns NULL
 * with *full = 1 when --max-keys would be passed, or NULL on allocation
 * failure.
 */
static struct key *
key_get(struct tool *t, char tag, const char *s, size_t n, int *full)
{
	struct wstate *st = &t->st;
	uint64_t h = hash_id(tag, s, n);
	struct key *k = NULL;
	size_t j;

	*full = 0;
	if (st->nslot > 0) {
		for (j = (size_t)h & (st->nslot - 1); st->slot[j] != 0;
		    j = (j + 1) & (st->nslot - 1)) {
			k = st->keys[st->slot[j] - 1];
			if (k->hash == h && k->idlen == n + (tag != 0) &&
			    (tag == 0 || k->id[0] == tag) &&
			    memcmp(k->id + (tag != 0), s, n) == 0)
				return k;
		}
	}
	if (t->o->max_keys > 0 && st->nkeys >= t->o->max_keys) {
		*full = 1;
		return NULL;
	}
	if (st->nkeys >= UINT32_MAX - 1)
		return NULL;
	if ((st->nkeys + 1) * 2 > st->nslot && slots_grow(st) != 0)
		return NULL;
	if (st->nkeys == st->ckeys) {
		size_t nc = st->ckeys ? st->ckeys * 2 : 16;
		struct key **nk = realloc(st->keys, nc * sizeof(*nk));

		if (nk == NULL)
			return NULL;
		st->keys = nk;
		st->ckeys = nc;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->idlen = n + (tag != 0);
	k->id = malloc(k->idlen + 1);
	if (k->id == NULL) {
		free(k);
		return NULL;
	}
	if (tag != 0)
		k->id[0] = tag;
	memcpy(k->id + (tag != 0), s, n);
	k->id[k->idlen] = '\0';
	k->hash = h;
	k->seq = st->nkeys;
	k->maxts = NO_TIME;
	k->floor = NO_TIME;
	k->next_due = INT64_MAX;
	for (j = (size_t)h & (st->nslot - 1); st->slot[j] != 0;
	    j = (j + 1) & (st->nslot - 1))
		;
	st->slot[j] = (uint32_t)(st->nkeys + 1);
	st->keys[st->nkeys++] = k;
	return k;
}

/* The window [start, end) of k, created when new.  NULL on allocation
 * failure. */
static struct win *
win_get(struct tool *t, struct key *k, int64_t start, int64_t end)
{
	size_t i = k->nw;
	struct win *w;

	/* New windows come last almost always: search from the end. */
	while (i > 0 && k->w[i - 1].start > start)
		i--;
	if (i > 0 && k->w[i - 1].start == start)
		return &k->w[i - 1];
	if (k->nw == k->cw) {
		size_t nc = k->cw ? k->cw * 2 : 4;
		struct win *nw = realloc(k->w, nc * sizeof(*nw));

		if (nw == NULL)
			return NULL;
		k->w = nw;
		k->cw = nc;
	}
	memmove(k->w + i + 1, k->w + i, (k->nw - i) * sizeof(*k->w));
	k->nw++;
	w = &k->w[i];
	memset(w, 0, sizeof(*w));
	w->start = start;
	w->end = end;
	t->st.unfired++;
	if (end < k->next_due)
		k->next_due = end;
	if (end < t->st.gnext_due)
		t->st.gnext_due = end;
	return w;
}

/* Keeps a record's bytes in its window until the window fires. */
static int
win_keep(struct win *w, const char *line, size_t len, size_t brace, int empty)
{
	if (w->blen + len > w->bcap) {
		size_t nc = w->bcap ? w->bcap : 1024;
		char *nb;

		while (nc < w->blen + len)
			nc *= 2;
		nb = realloc(w->buf, nc);
		if (nb == NULL)
			return -1;
		w->buf = nb;
		w->bcap = nc;
	}
	if (w->nrec == w->crec) {
		size_t nc = w->crec ? w->crec * 2 : 16;
		struct rec *nr = realloc(w->recs, nc * sizeof(*nr));

		if (nr == NULL)
			return -1;
		w->recs = nr;
		w->crec = nc;
	}
	memcpy(w->buf + w->blen, line, len);
	w->recs[w->nrec].off = w->blen;
	w->recs[w->nrec].len = len;
	w->recs[w->nrec].brace = brace;
	w->recs[w->nrec].empty = empty;
	w->nrec++;
	w->blen += len;
	return 0;
}

/* ---- output ---- */

/* A record's original bytes with frag spliced before its closing brace. */
static int
put_spliced(struct nd_writer *out, const char *line, size_t len, size_t brace,
    int empty, const char *frag, size_t flen)
{
	struct buf *b = nd_buf(out);

	buf_add(b, line, brace);
	if (!empty)
		buf_char(b, ',');
	buf_add(b, frag, flen);
	buf_add(b, line + brace, len - brace);
	return nd_end(out);
}

static void
sb_key(struct buf *b, const struct key *k)
{
	if (k->idlen == 0)
		buf_add(b, "null", 4);
	else if (k->id[0] == 's')
		buf_jstr(b, k->id + 1, k->idlen - 1);
	else
		buf_add(b, k->id + 1, k->idlen - 1);
}

/* Trailing mode: remembers w as one of k's last N closed windows (or
 * replaces it after a re-firing). */
static int
closed_put(struct tool *t, struct key *k, const struct win *w)
{
	size_t i, n = k->nclosed;

	if (k->closed == NULL) {
		k->closed = calloc(t->o->trailing, sizeof(*k->closed));
		if (k->closed == NULL)
			return oom();
	}
	k->frag_ok = 0;
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
	if (n == t->o->trailing) {
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
 * end of input), or again for a record that arrived within the allowed
 * lateness (t->line is that record).
 */
static int
fire(struct tool *t, struct key *k, struct win *w)
{
	const struct opts *o = t->o;
	struct buf *b = &t->sb;
	int rc = 0;
	size_t i;

	buf_reset(b);
	switch (o->emit) {
	case EMIT_WINDOWS:
		buf_lit(b, "{\"key\":");
		sb_key(b, k);
		buf_lit(b, ",\"window_start\":");
		buf_time(b, w->start);
		buf_lit(b, ",\"window_end\":");
		buf_time(b, w->end);
		buf_add(b, ",", 1);
		sb_stats(b, &w->acc, o->has_weight);
		if (w->fires > 0) {
			buf_lit(b, ",\"update\":");
			buf_u64(b, w->fires);
		}
		buf_add(b, "}", 1);
		if (b->failed)
			return oom();
		rc = nd_put(t->out, b->p, b->len);
		break;
	case EMIT_RECORDS:
		buf_jstr(b, o->window_field, strlen(o->window_field));
		buf_lit(b, ":{\"start\":");
		buf_time(b, w->start);
		buf_lit(b, ",\"end\":");
		buf_time(b, w->end);
		buf_add(b, ",", 1);
		sb_stats(b, &w->acc, o->has_weight);
		if (w->fires > 0) {
			buf_lit(b, ",\"update\":");
			buf_u64(b, w->fires);
		}
		buf_add(b, "}", 1);
		if (b->failed)
			return oom();
		if (w->fires == 0) {
			for (i = 0; i < w->nrec && rc == 0; i++) {
				const struct rec *r = &w->recs[i];

				rc = put_spliced(t->out, w->buf + r->off, r->len,
				    r->brace, r->empty, b->p, b->len);
			}
			free(w->buf);
			free(w->recs);
			w->buf = NULL;
			w->recs = NULL;
			w->blen = w->bcap = w->nrec = w->crec = 0;
		} else {
			/* A re-firing writes only the record that caused
			 * it: no record is ever written twice. */
			rc = put_spliced(t->out, t->line, t->len, t->brace,
			    t->empty, b->p, b->len);
		}
		break;
	case EMIT_TRAILING:
		rc = closed_put(t, k, w);
		break;
	}
	if (w->fires == 0)
		t->st.unfired--;
	else
		t->st.refired++;
	w->fires++;
	t->st.fired++;
	return rc;
}

static int
due_cmp(const void *pa, const void *pb)
{
	const struct due *a = pa, *b = pb;

	if (a->w->end != b->w->end)
		return a->w->end < b->w->end ? -1 : 1;
	if (a->w->start != b->w->start)
		return a->w->start < b->w->start ? -1 : 1;
	return a->k->seq < b->k->seq ? -1 : a->k->seq > b->k->seq;
}

/* Drops k's fired windows whose allowed lateness the watermark passed, and
 * recomputes k->next_due. */
static void
key_sweep(struct tool *t, struct key *k, int64_t wm)
{
	size_t i, j = 0;

	k->next_due = INT64_MAX;
	for (i = 0; i < k->nw; i++) {
		struct win *w = &k->w[i];

		if (w->fires > 0 && w->end + t->o->lateness <= wm) {
			free(w->buf);
			free(w->recs);
			continue;
		}
		if (win_due(t, w) < k->next_due)
			k->next_due = win_due(t, w);
		if (i != j)
			k->w[j] = *w;
		j++;
	}
	k->nw = j;
}

/*
 * Fires every window whose end the watermark has reached, in the order of
 * window end, then window start, then key (first-seen order), then drops
 * what lateness no longer keeps.  only != NULL: that key alone (per-key
 * watermark).  eof: the watermark is +infinity for every key.
 */
static int
advance(struct tool *t, struct key *only, int eof)
{
	struct wstate *st = &t->st;
	size_t first = 0, last = st->nkeys, i, j;
	int rc = 0;

	if (only != NULL) {
		if (watermark(t, only) < only->next_due)
			return 0;
		first = only->seq;
		last = first + 1;
	} else if (!eof && !t->o->global) {
		/* Per-key watermarks, every key (--idle-timeout). */
	} else if (!eof && st->nkeys > 0 &&
	    watermark(t, st->keys[0]) < st->gnext_due) {
		return 0;
	}
	t->ndue = 0;
	for (i = first; i < last; i++) {
		struct key *k = st->keys[i];
		int64_t wm = eof ? INT64_MAX : watermark(t, k);

		if (wm < k->next_due)
			continue;
		for (j = 0; j < k->nw; j++) {
			if (k->w[j].fires > 0 || k->w[j].end > wm)
				continue;
			if (t->ndue == t->cdue) {
				size_t nc = t->cdue ? t->cdue * 2 : 64;
				struct due *nd = realloc(t->due, nc * sizeof(*nd));

				if (nd == NULL)
					return oom();
				t->due = nd;
				t->cdue = nc;
			}
			t->due[t->ndue].k = k;
			t->due[t->ndue].w = &k->w[j];
			t->ndue++;
		}
	}
	if (t->ndue > 1 && last - first > 1)
		qsort(t->due, t->ndue, sizeof(*t->due), due_cmp);
	for (i = 0; i < t->ndue && rc == 0; i++)
		rc = fire(t, t->due[i].k, t->due[i].w);
	if (rc != 0)
		return rc;
	if (only != NULL) {
		key_sweep(t, only, watermark(t, only));
		return 0;
	}
	/* A full scan: the only place gnext_due is raised. */
	st->gnext_due = INT64_MAX;
	for (i = 0; i < st->nkeys; i++) {
		struct key *k = st->keys[i];

		key_sweep(t, k, eof ? INT64_MAX : watermark(t, k));
		if (k->next_due < st->gnext_due)
			st->gnext_due = k->next_due;
	}
	return 0;
}

/* --idle-timeout: no input for that long.  Raises the watermark to the end
 * of the newest open window (of each key, or over all keys) so that every
 * open window fires; later records for them are late as usual. */
static int
idle(struct tool *t)
{
	struct wstate *st = &t->st;
	size_t i, j;

	for (i = 0; i < st->nkeys; i++) {
		struct key *k = st->keys[i];

		for (j = 0; j < k->nw; j++) {
			int64_t *f = t->o->global ? &st->gfloor : &k->floor;

			if (k->w[j].fires == 0 && k->w[j].end > *f)
				*f = k->w[j].end;
		}
	}
	msg_debug("idle: firing %llu open windows",
	    (unsigned long long)st->unfired);
	return advance(t, NULL, 0);
}

/* Trailing mode: writes the record now, with the merged statistics of its
 * key's last closed windows (or null before the first one). */
static int
put_trailing(struct tool *t, struct key *k)
{
	struct buf *b = &t->sb;
	struct acc a;
	size_t i;

	if (!k->frag_ok) {
		buf_reset(b);
		buf_jstr(b, t->o->window_field, strlen(t->o->window_field));
		if (k->nclosed == 0) {
			buf_lit(b, ":null");
		} else {
			memset(&a, 0, sizeof(a));
			for (i = 0; i < k->nclosed; i++)
				acc_merge(&a, &k->closed[i].acc);
			buf_lit(b, ":{\"start\":");
			buf_time(b, k->closed[0].start);
			buf_lit(b, ",\"end\":");
			buf_time(b, k->closed[k->nclosed - 1].end);
			buf_lit(b, ",\"windows\":");
			buf_u64(b, k->nclosed);
			buf_add(b, ",", 1);
			sb_stats(b, &a, t->o->has_weight);
			buf_add(b, "}", 1);
		}
		if (b->failed)
			return oom();
		if (b->len > k->fraglen || k->frag == NULL) {
			char *nf = realloc(k->frag, b->len);

			if (nf == NULL)
				return oom();
			k->frag = nf;
		}
		memcpy(k->frag, b->p, b->len);
		k->fraglen = b->len;
		k->frag_ok = 1;
	}
	return put_spliced(t->out, t->line, t->len, t->brace, t->empty,
	    k->frag, k->fraglen);
}

/* ---- one record ---- */

enum {
	REC_OK = 0,
	REC_BAD = 1,   /* bad input: *why */
	REC_LATE = 2,  /* too late for every window it belongs to */
};

/*
 * Reads the fields of one record and gives it to its windows.  Returns
 * REC_OK, REC_BAD (*why), REC_LATE (late[] = event time, watermark), or an
 * ND_* code from the writer.
 */
static int
on_record(struct tool *t, const char *line, size_t len, struct buf *why,
    int64_t late[2])
{
	const struct opts *o = t->o;
	struct wstate *st = &t->st;
	struct jscan *js = t->js;
	const char *fwhy = NULL, *ks = "";
	struct key *k;
	int64_t ts, wm, s, s0, s1;
	double x, weight = 0;
	char tag = 0;
	size_t kn = 0;
	int full, placed = 0, rc;

	if (jscan_time(jscan_get(js, t->f_time), KPTIME_AUTO, &t->tmp, &ts,
	    &fwhy) != 0) {
		buf_printf(why, "%s: %s", o->time.text, fwhy);
		return REC_BAD;
	}
	if (jscan_number(jscan_get(js, t->f_value), &x, &fwhy) != 0) {
		buf_printf(why, "%s: %s", o->value.text, fwhy);
		return REC_BAD;
	}
	if (o->has_weight && jscan_number(jscan_get(js, t->f_weight), &weight,
	    &fwhy) != 0) {
		buf_printf(why, "%s: %s", o->weight.text, fwhy);
		return REC_BAD;
	}
	if (o->has_key) {
		const struct jscan_field *f = jscan_get(js, t->f_key);

		/* Keys compare by their JSON text; strings by their bytes. */
		switch (f->type) {
		case JSCAN_MISSING:
		case JSCAN_NULL_PATH:
			buf_printf(why, "%s: missing", o->key.text);
			return REC_BAD;
		case JSCAN_NULL:
			buf_printf(why, "%s: null", o->key.text);
			return REC_BAD;
		case JSCAN_STRING:
			tag = 's';
			if (jscan_string(f, &t->tmp, &ks, &kn) != 0)
				return oom();
			break;
		default:
			tag = 'j';
			buf_reset(&t->tmp);
			jscan_text(f, &t->tmp);
			if (t->tmp.failed)
				return oom();
			ks = t->tmp.p;
			kn = t->tmp.len;
			break;
		}
	}
	if (o->emit != EMIT_WINDOWS) {
		if (jscan_get(js, t->f_window)->type != JSCAN_MISSING) {
			buf_printf(why, "field \"%s\" already present",
			    o->window_field);
			return REC_BAD;
		}
		t->brace = jscan_brace(js);
		t->empty = jscan_empty(js);
	}
	t->line = line;
	t->len = len;

	k = key_get(t, tag, ks, kn, &full);
	if (k == NULL) {
		if (!full)
			return oom();
		buf_printf(why, "more keys than --max-keys %llu",
		    (unsigned long long)o->max_keys);
		return REC_BAD;
	}
	st->records++;
	if (ts > k->maxts)
		k->maxts = ts;
	if (ts > st->gmax)
		st->gmax = ts;
	wm = watermark(t, k);

	/* Flink's assignment: the last window starts at
	 * ts - floormod(ts - offset, slide); earlier ones every slide, while
	 * they still contain ts. */
	s1 = ts - ((ts - o->offset) - o->slide *
	    kptime_floor_div(ts - o->offset, o->slide));
	s0 = s1 - o->slide * ((s1 - (ts - o->size + 1)) / o->slide);
	for (s = s0; s <= s1; s += o->slide) {
		int64_t e = s + o->size;
		struct win *w;

		if (wm >= e + o->lateness)
			continue; /* that window is gone */
		placed = 1;
		w = win_get(t, k, s, e);
		if (w == NULL)
			return oom();
		acc_add(&w->acc, ts, x, weight);
		if (o->emit == EMIT_RECORDS && w->fires == 0 &&
		    win_keep(w, line, len, t->brace, t->empty) != 0)
			return oom();
		/* Within the allowed lateness: Flink's EventTimeTrigger fires
		 * at once for a window the watermark has already passed. */
		if (wm >= e) {
			rc = fire(t, k, w);
			if (rc != 0)
				return rc;
		}
	}
	if (!placed) {
		st->records--;
		late[0] = ts;
		late[1] = wm;
		return REC_LATE;
	}
	rc = advance(t, o->global ? NULL : k, 0);
	if (rc == 0 && o->emit == EMIT_TRAILING)
		rc = put_trailing(t, k);
	return rc;
}

/* ---- options ---- */

enum {
	OPT_TIME = CLI_ID,
	OPT_VALUE,
	OPT_KEY,
	OPT_WEIGHT,
	OPT_SIZE,
	OPT_SLIDE,
	OPT_OFFSET,
	OPT_OOO,
	OPT_WATERMARK,
	OPT_LATENESS,
	OPT_LATE_OUTPUT,
	OPT_IDLE,
	OPT_EMIT,
	OPT_TRAILING,
	OPT_WINDOW_FIELD,
	OPT_MAX_KEYS,
};

static const struct cli_option options[] = {
	{ "time-field", 1, OPT_TIME },
	{ "value-field", 1, OPT_VALUE },
	{ "key-field", 1, OPT_KEY },
	{ "weight-field", 1, OPT_WEIGHT },
	{ "size", 1, OPT_SIZE },
	{ "slide", 1, OPT_SLIDE },
	{ "offset", 1, OPT_OFFSET },
	{ "out-of-orderness", 1, OPT_OOO },
	{ "watermark", 1, OPT_WATERMARK },
	{ "allowed-lateness", 1, OPT_LATENESS },
	{ "late-output", 1, OPT_LATE_OUTPUT },
	{ "idle-timeout", 1, OPT_IDLE },
	{ "emit", 1, OPT_EMIT },
	{ "trailing", 1, OPT_TRAILING },
	{ "window-field", 1, OPT_WINDOW_FIELD },
	{ "max-keys", 1, OPT_MAX_KEYS },
	{ NULL, 0, 0 },
};

/* Options given, for the checks made once all are read. */
struct given {
	struct opts *o;
	int slide, trailing, wfield;
};

static int
option(struct cli *c, int id, const char *arg)
{
	static const char *const wms[] = { "per-key", "global", NULL };
	static const char *const emits[] = { "windows", "records", "trailing",
	    NULL };
	struct given *g = c->ctx;
	struct opts *o = g->o;
	int rc = 0, w;

	switch (id) {
	case OPT_TIME:
		rc = cli_path(c, arg, &o->time);
		break;
	case OPT_VALUE:
		rc = cli_path(c, arg, &o->value);
		break;
	case OPT_KEY:
		rc = cli_path(c, arg, &o->key);
		o->has_key = 1;
		break;
	case OPT_WEIGHT:
		rc = cli_path(c, arg, &o->weight);
		o->has_weight = 1;
		break;
	case OPT_SIZE:
		rc = cli_duration(c, arg, 1, CLI_DURATION_MAX, &o->size);
		break;
	case OPT_SLIDE:
		rc = cli_duration(c, arg, 1, CLI_DURATION_MAX, &o->slide);
		g->slide = 1;
		break;
	case OPT_OFFSET:
		/* The one duration that may be negative. */
		rc = cli_duration(c, arg[0] == '-' ? arg + 1 : arg, 0,
		    CLI_DURATION_MAX, &o->offset);
		if (rc == 0 && arg[0] == '-')
			o->offset = -o->offset;
		break;
	case OPT_OOO:
		rc = cli_duration(c, arg, 0, CLI_DURATION_MAX, &o->ooo);
		break;
	case OPT_LATENESS:
		rc = cli_duration(c, arg, 0, CLI_DURATION_MAX, &o->lateness);
		break;
	case OPT_IDLE:
		rc = cli_duration(c, arg, 1, 24 * 86400000, &o->idle);
		break;
	case OPT_WATERMARK:
		rc = cli_word(c, arg, wms, &o->global);
		break;
	case OPT_LATE_OUTPUT:
		o->late_output = arg;
		break;
	case OPT_EMIT:
		rc = cli_word(c, arg, emits, &w);
		o->emit = (enum emit)w;
		break;
	case OPT_TRAILING:
		rc = cli_count(c, arg, 1, 1000, &o->trailing);
		g->trailing = 1;
		break;
	case OPT_WINDOW_FIELD:
		if (*arg == '\0')
			rc = cli_bad(c, "empty name", arg);
		o->window_field = arg;
		g->wfield = 1;
		break;
	case OPT_MAX_KEYS:
		rc = cli_count(c, arg, 1, UINT32_MAX - 2, &o->max_keys);
		break;
	}
	return rc;
}

/* Returns CLI_RUN, CLI_DONE or an exit status. */
static int
parse_args(int argc, char **argv, struct cli *c, struct opts *o)
{
	struct given g = { o, 0, 0, 0 };
	int rc;

	o->size = 60000;
	o->emit = EMIT_WINDOWS;
	o->trailing = 1;
	o->window_field = "window";
	c->usage = USAGE;
	c->help = help_text;
	c->groups = CLI_INPUT | CLI_PROGRESS;
	c->options = options;
	c->handle = option;
	c->ctx = &g;
	rc = cli_parse(c, argc, argv);
	if (rc != CLI_RUN)
		return rc;
	if (!g.slide)
		o->slide = o->size;
	if (o->slide > o->size)
		return cli_usage(c, "--slide: must be from 1ms to --size");
	if ((o->size + o->slide - 1) / o->slide > MAX_WINDOWS_PER_RECORD)
		return cli_usage(c, "--size / --slide: more than %d windows "
		    "per record", MAX_WINDOWS_PER_RECORD);
	/* Flink's own rule for window assigners. */
	if (o->offset <= -o->slide || o->offset >= o->slide)
		return cli_usage(c, "--offset: |offset| must be less than "
		    "--slide (or --size)");
	if (g.trailing && o->emit != EMIT_TRAILING)
		return cli_usage(c, "--trailing needs --emit trailing");
	if (g.wfield && o->emit == EMIT_WINDOWS)
		return cli_usage(c, "--window-field needs --emit records "
		    "or --emit trailing");
	/* Sliding windows overlap: merging several would count records
	 * more than once. */
	if (o->emit == EMIT_TRAILING && o->trailing > 1 && o->slide < o->size)
		return cli_usage(c, "--trailing above 1 needs tumbling "
		    "windows (no --slide below --size)");
	if ((o->time.n == 0 && jf_path_init(&o->time, "timestamp") != 0) ||
	    (o->value.n == 0 && jf_path_init(&o->value, "price") != 0) ||
	    jf_path_name(&o->wfield, o->window_field) != 0) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	return CLI_RUN;
}

/* ---- main ---- */

static void
state_free(struct wstate *st)
{
	size_t i;

	for (i = 0; i < st->nkeys; i++)
		key_free(st->keys[i]);
	free(st->keys);
	free(st->slot);
	memset(st, 0, sizeof(*st));
}

/* Late record: to --late-output, or else a rejected line.  Returns 0 to go
 * on, -1 to stop (with *status set). */
static int
on_late(struct tool *t, struct nd_reader *r, const char *line, size_t len,
    const int64_t late[2], int *status)
{
	char tsbuf[KPTIME_BUFSZ], wmbuf[KPTIME_BUFSZ];

	t->st.late++;
	if (t->late != NULL) {
		if (fwrite(line, 1, len, t->late) != len ||
		    putc('\n', t->late) == EOF) {
			msg_err("%s: %s", t->o->late_output, strerror(errno));
			*status = KP_EXIT_FAILURE;
			return -1;
		}
		return 0;
	}
	if (kptime_format(late[0], tsbuf, sizeof(tsbuf)) == 0)
		snprintf(tsbuf, sizeof(tsbuf), "?");
	if (kptime_format(late[1], wmbuf, sizeof(wmbuf)) == 0)
		snprintf(wmbuf, sizeof(wmbuf), "?");
	if (nd_reject(t->rej, nd_name(r), nd_lineno(r), line, len,
	    "late record: event time %s, watermark %s: its windows have "
	    "closed", tsbuf, wmbuf) != 0) {
		*status = t->rej->failed ? KP_EXIT_FAILURE : KP_EXIT_REJECTED;
		return -1;
	}
	return 0;
}

static void
show_progress(struct tool *t, int final)
{
	progress_show(&t->prog, final, "%llu records, %zu keys, %llu windows "
	    "fired, %llu open, %llu late", t->st.records, t->st.nkeys,
	    t->st.fired - t->st.refired, (unsigned long long)t->st.unfired,
	    t->st.late);
}

/* Stall hook: before window-stats waits for input, what it holds goes
 * out. */
static void
on_stall(void *arg)
{
	struct tool *t = arg;

	nd_flush(t->out);
	if (progress_due(&t->prog))
		show_progress(t, 0);
}

/* The scanner of every line, with the fields of the options. */
static int
scanner(struct tool *t, const struct opts *o)
{
	t->js = jscan_new();
	if (t->js == NULL)
		return -1;
	t->f_time = jscan_want(t->js, &o->time);
	t->f_value = jscan_want(t->js, &o->value);
	t->f_key = o->has_key ? jscan_want(t->js, &o->key) : 0;
	t->f_weight = o->has_weight ? jscan_want(t->js, &o->weight) : 0;
	t->f_window = o->emit != EMIT_WINDOWS ? jscan_want(t->js, &o->wfield) :
	    0;
	return t->f_time < 0 || t->f_value < 0 || t->f_key < 0 ||
	    t->f_weight < 0 || t->f_window < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct cli cli;
	struct tool t;
	struct nd_reject rej;
	struct nd_reader *r = NULL;
	struct buf why = BUF_INIT;
	int status = KP_EXIT_FAILURE, rc, epipe = 0, stopped = 0;
	char *line;
	size_t len;

	memset(&o, 0, sizeof(o));
	memset(&cli, 0, sizeof(cli));
	memset(&t, 0, sizeof(t));
	memset(&rej, 0, sizeof(rej));
	msg_init(argv[0]);
	rc = parse_args(argc, argv, &cli, &o);
	if (rc != CLI_RUN) {
		status = rc == CLI_DONE ? KP_EXIT_OK : rc;
		goto out;
	}
	if (sig_setup() != 0) {
		msg_err("cannot install signal handlers: %s", strerror(errno));
		goto out;
	}
	if (nd_reject_init(&rej, cli.dead_letter, cli.strict) != 0) {
		status = KP_EXIT_USAGE;
		goto out;
	}
	if (o.late_output != NULL) {
		t.late = fopen(o.late_output, "a");
		if (t.late == NULL) {
			status = cli_config_error("%s: %s", o.late_output,
			    strerror(errno));
			goto out;
		}
	}
	t.o = &o;
	t.rej = &rej;
	t.st.gmax = NO_TIME;
	t.st.gfloor = NO_TIME;
	t.st.gnext_due = INT64_MAX;
	progress_init(&t.prog, cli.progress);
	r = nd_reader_new(STDIN_FILENO, "<stdin>", cli.max_line);
	t.out = nd_writer_new(STDOUT_FILENO);
	if (r == NULL || t.out == NULL || scanner(&t, &o) != 0) {
		msg_err("out of memory");
		goto out;
	}
	nd_reader_set_reject(r, &rej);
	/* Flush what we hold whenever input stalls: low latency on a live
	 * stream without a write per record. */
	nd_reader_on_stall(r, on_stall, &t);

	status = KP_EXIT_OK;
	for (;;) {
		const char *reason = NULL;
		int64_t late[2] = { 0, 0 };
		int timeout = o.idle > 0 && t.st.unfired > 0 ? (int)o.idle : -1;

		if (sig_stop)
			break;
		rc = nd_next(r, &line, &len, timeout);
		if (rc == ND_EOF)
			break;
		if (rc == ND_INTR)
			continue; /* sig_stop is checked above */
		buf_reset(&why);
		if (rc == ND_TIMEOUT) {
			rc = idle(&t);
		} else if (rc == ND_TOOLONG) {
			if (rej.strict || rej.failed) {
				status = rej.failed ? KP_EXIT_FAILURE :
				    KP_EXIT_REJECTED;
				stopped = 1;
				break;
			}
			continue;
		} else if (rc != ND_LINE) {
			msg_err("<stdin>: %s", strerror(errno));
			status = KP_EXIT_FAILURE;
			stopped = 1;
			break;
		} else if (jscan_line(t.js, line, len, &reason) != 0) {
			buf_str(&why, reason);
			rc = REC_BAD;
		} else if (jscan_is_control(t.js)) {
			/* Nothing to act on yet (checkpoints come with the
			 * exactly-once issue): forward in order. */
			t.st.control++;
			rc = nd_put(t.out, line, len);
		} else {
			rc = on_record(&t, line, len, &why, late);
		}
		if (rc == REC_BAD) {
			if (why.failed) {
				msg_err("out of memory");
				status = KP_EXIT_FAILURE;
				stopped = 1;
				break;
			}
			if (nd_reject(&rej, nd_name(r), nd_lineno(r), line, len,
			    "%.*s", (int)why.len, why.p) != 0) {
				status = rej.failed ? KP_EXIT_FAILURE :
				    KP_EXIT_REJECTED;
				stopped = 1;
				break;
			}
			continue;
		}
		if (rc == REC_LATE) {
			if (on_late(&t, r, line, len, late, &status) != 0) {
				stopped = 1;
				break;
			}
			continue;
		}
		if (rc == ND_EPIPE) {
			epipe = 1;
			stopped = 1;
			break;
		}
		if (rc != 0) {
			/* The writer or oom() has said why. */
			status = KP_EXIT_FAILURE;
			stopped = 1;
			break;
		}
		if ((t.st.records & 4095) == 0 && progress_due(&t.prog))
			show_progress(&t, 0);
	}
	/* End of input, or SIGINT/SIGTERM (Flink's stop --drain): every open
	 * window fires.  Not after --strict stopped us, nor after an error:
	 * those windows would be cut short. */
	if (!stopped) {
		rc = advance(&t, NULL, 1);
		if (rc == ND_EPIPE)
			epipe = 1;
		else if (rc != 0)
			status = KP_EXIT_FAILURE;
	} else if (t.st.unfired > 0) {
		msg_info("stopped with %llu windows open",
		    (unsigned long long)t.st.unfired);
	}

	show_progress(&t, 1);
	rc = nd_writer_close(t.out);
	if (rc == ND_EPIPE)
		epipe = 1;
	else if (rc != 0)
		status = KP_EXIT_FAILURE;
	if (epipe)
		msg_info("output closed by the reader; stopped after line %llu",
		    nd_lineno(r));
	if (t.late != NULL) {
		if (fflush(t.late) != 0 || fsync(fileno(t.late)) != 0) {
			msg_err("%s: %s", o.late_output, strerror(errno));
			status = KP_EXIT_FAILURE;
		}
		if (fclose(t.late) != 0)
			status = KP_EXIT_FAILURE;
		t.late = NULL;
	}
	if (nd_reject_close(&rej) != 0)
		status = KP_EXIT_FAILURE;
	if (status == KP_EXIT_OK && rej.count > 0)
		status = KP_EXIT_REJECTED;
	if (t.st.late > 0 && o.late_output == NULL)
		msg_warn("%llu late records rejected (no --late-output)",
		    t.st.late);
	msg_info("%llu records, %zu keys, %llu windows fired (%llu re-fired), "
	    "%llu late, %llu control lines, %llu rejected", t.st.records,
	    t.st.nkeys, t.st.fired - t.st.refired, t.st.refired, t.st.late,
	    t.st.control, rej.count);
out:
	if (t.late != NULL)
		fclose(t.late);
	nd_writer_free(t.out);
	nd_reader_free(r);
	jscan_free(t.js);
	if (rej.dead != NULL || rej.dead_path != NULL)
		nd_reject_close(&rej);
	state_free(&t.st);
	buf_free(&t.sb);
	buf_free(&t.tmp);
	buf_free(&why);
	free(t.due);
	jf_path_free(&o.time);
	jf_path_free(&o.value);
	jf_path_free(&o.key);
	jf_path_free(&o.weight);
	jf_path_free(&o.wfield);
	return status;
}
