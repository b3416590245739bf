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
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "jfield.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "sig.h"

#define USAGE "window-stats [-qv] [--allowed-lateness DURATION] " \
	"[--dead-letter FILE] [--emit windows|records|trailing] " \
	"[--idle-timeout DURATION] [--key-field PATH] [--late-output FILE] " \
	"[--max-keys N] [--max-line BYTES] [--offset DURATION] " \
	"[--out-of-orderness DURATION] [--size DURATION] " \
	"[--slide DURATION] [--strict] [--time-field PATH] [--trailing N] " \
	"[--value-field PATH] [--watermark per-key|global] " \
	"[--weight-field PATH] [--window-field NAME]"

static const char help_text[] =
    "usage: " USAGE "\n"
    "\n"
    "Cuts records into event-time windows per key (Flink's tumbling and\n"
    "sliding event-time windows) and writes each window's statistics.\n"
    "\n"
    "  --time-field PATH     event time: RFC 3339 string or epoch number\n"
    "                        (default timestamp)\n"
    "  --value-field PATH    the number to summarise (default price)\n"
    "  --key-field PATH      the window key (default: one key for all)\n"
    "  --weight-field PATH   a weight: adds weight_sum and weighted_mean\n"
    "  --size DURATION       window length (default 1m)\n"
    "  --slide DURATION      start a window every DURATION, at most --size\n"
    "                        (default --size: tumbling windows)\n"
    "  --offset DURATION     shift the windows from the epoch; may be\n"
    "                        negative, |offset| < slide (default 0)\n"
    "  --out-of-orderness DURATION\n"
    "                        the watermark's lag behind the largest event\n"
    "                        time seen (default 0)\n"
    "  --watermark per-key|global\n"
    "                        one watermark per key (default) or one for all\n"
    "  --allowed-lateness DURATION\n"
    "                        keep fired windows this long for late records,\n"
    "                        each of which re-fires its window (default 0)\n"
    "  --late-output FILE    append records later than that to FILE\n"
    "                        (without it they are rejected lines)\n"
    "  --idle-timeout DURATION\n"
    "                        after DURATION without input (wall clock), fire\n"
    "                        every open window\n"
    "  --emit windows|records|trailing\n"
    "                        a line per window (default), every record with\n"
    "                        its window's statistics when the window fires,\n"
    "                        or every record at once with the statistics of\n"
    "                        its key's last closed windows\n"
    "  --trailing N          trailing: merge the last N closed windows\n"
    "                        (default 1)\n"
    "  --window-field NAME   the member records and trailing add (default\n"
    "                        window)\n"
    "  --max-keys N          reject records of keys beyond the first N\n"
    "                        (default: no limit)\n"
    "  --max-line BYTES      longest accepted line (default 1MiB + 4KiB)\n"
    "  --dead-letter FILE    append rejected lines to FILE, verbatim\n"
    "  --strict              stop at the first rejected line\n"
    "  -v, --verbose         a summary on stderr at exit\n"
    "  -q, --quiet           errors only\n"
    "  --help                this text\n"
    "  --version             the version\n";

/* Longest duration accepted: 10,000 years, so that time + duration never
 * overflows an int64 of milliseconds. */
#define DUR_MAX 315576000000000LL
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
	uint64_t max_keys;  /* 0: no limit */
	size_t max_line;
	const char *dead_letter, *late_output;
	int strict;
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

/* A growable buffer for one output line or fragment.  Allocation failure
 * is sticky and checked once, when the text is used. */
struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		char *np;

		while (ncap < b->len + n)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
sb_lit(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* s as a JSON string, escaped the way nd_append_jstr() does. */
static void
sb_jstr(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, from = 0;

	sb_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 0, 0, 0, 0, 0 };
		size_t elen = 2;

		if (c == '"' || c == '\\')
			esc[1] = (char)c;
		else if (c == '\n')
			esc[1] = 'n';
		else if (c == '\r')
			esc[1] = 'r';
		else if (c == '\t')
			esc[1] = 't';
		else if (c < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		} else
			continue;
		sb_add(b, s + from, i - from);
		sb_add(b, esc, elen);
		from = i + 1;
	}
	sb_add(b, s + from, n - from);
	sb_add(b, "\"", 1);
}

/* A double as JSON: the shortest of %.15g..%.17g that reads back exactly,
 * as nd_append_double() writes it; non-finite values become null. */
static void
sb_double(struct sbuf *b, double v)
{
	char tmp[40];
	int n, prec;

	if (!isfinite(v)) {
		sb_add(b, "null", 4);
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	sb_add(b, tmp, (size_t)n);
}

static void
sb_u64(struct sbuf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);

	sb_add(b, tmp, (size_t)n);
}

static void
sb_time(struct sbuf *b, int64_t ms)
{
	char tmp[KPTIME_BUFSZ + 2];
	size_t n = kptime_format(ms, tmp + 1, sizeof(tmp) - 2);

	if (n == 0) {
		sb_add(b, "null", 4);
		return;
	}
	tmp[0] = '"';
	tmp[n + 1] = '"';
	sb_add(b, tmp, n + 2);
}

/* "count":N,...,"sum":S and the weighted members: the statistics every
 * emission mode writes, in this order. */
static void
sb_stats(struct sbuf *b, const struct acc *a, int weights)
{
	double n = (double)a->n, s = a->sum + a->sumc;

	sb_lit(b, "\"count\":");
	sb_u64(b, a->n);
	sb_lit(b, ",\"mean\":");
	sb_double(b, a->shift + s / n);
	sb_lit(b, ",\"stddev\":");
	sb_double(b, sqrt(a->m2 / n));
	sb_lit(b, ",\"sample_stddev\":");
	if (a->n < 2)
		sb_add(b, "null", 4);
	else
		sb_double(b, sqrt(a->m2 / (n - 1)));
	sb_lit(b, ",\"min\":");
	sb_double(b, a->min);
	sb_lit(b, ",\"max\":");
	sb_double(b, a->max);
	sb_lit(b, ",\"first\":");
	sb_double(b, a->first);
	sb_lit(b, ",\"last\":");
	sb_double(b, a->last);
	sb_lit(b, ",\"sum\":");
	sb_double(b, n * a->shift + s);
	if (weights) {
		double ws = a->wsum + a->wsumc;

		sb_lit(b, ",\"weight_sum\":");
		sb_double(b, ws);
		sb_lit(b, ",\"weighted_mean\":");
		if (ws == 0)
			sb_add(b, "null", 4);
		else
			sb_double(b, a->shift + (a->wx + a->wxc) / ws);
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
	struct sbuf sb;      /* the line or fragment being built */
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
	int rc = nd_append(out, line, brace);

	if (rc == 0 && !empty)
		rc = nd_append(out, ",", 1);
	if (rc == 0)
		rc = nd_append(out, frag, flen);
	if (rc == 0)
		rc = nd_append(out, line + brace, len - brace);
	if (rc != 0) {
		nd_discard(out);
		return rc;
	}
	return nd_end(out);
}

static void
sb_key(struct sbuf *b, const struct key *k)
{
	if (k->idlen == 0)
		sb_add(b, "null", 4);
	else if (k->id[0] == 's')
		sb_jstr(b, k->id + 1, k->idlen - 1);
	else
		sb_add(b, k->id + 1, k->idlen - 1);
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
	struct sbuf *b = &t->sb;
	int rc = 0;
	size_t i;

	b->len = 0;
	switch (o->emit) {
	case EMIT_WINDOWS:
		sb_lit(b, "{\"key\":");
		sb_key(b, k);
		sb_lit(b, ",\"window_start\":");
		sb_time(b, w->start);
		sb_lit(b, ",\"window_end\":");
		sb_time(b, w->end);
		sb_add(b, ",", 1);
		sb_stats(b, &w->acc, o->has_weight);
		if (w->fires > 0) {
			sb_lit(b, ",\"update\":");
			sb_u64(b, w->fires);
		}
		sb_add(b, "}", 1);
		if (b->failed)
			return oom();
		rc = nd_put(t->out, b->p, b->len);
		break;
	case EMIT_RECORDS:
		sb_jstr(b, o->window_field, strlen(o->window_field));
		sb_lit(b, ":{\"start\":");
		sb_time(b, w->start);
		sb_lit(b, ",\"end\":");
		sb_time(b, w->end);
		sb_add(b, ",", 1);
		sb_stats(b, &w->acc, o->has_weight);
		if (w->fires > 0) {
			sb_lit(b, ",\"update\":");
			sb_u64(b, w->fires);
		}
		sb_add(b, "}", 1);
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
	struct sbuf *b = &t->sb;
	struct acc a;
	size_t i;

	if (!k->frag_ok) {
		b->len = 0;
		sb_jstr(b, t->o->window_field, strlen(t->o->window_field));
		if (k->nclosed == 0) {
			sb_lit(b, ":null");
		} else {
			memset(&a, 0, sizeof(a));
			for (i = 0; i < k->nclosed; i++)
				acc_merge(&a, &k->closed[i].acc);
			sb_lit(b, ":{\"start\":");
			sb_time(b, k->closed[0].start);
			sb_lit(b, ",\"end\":");
			sb_time(b, k->closed[k->nclosed - 1].end);
			sb_lit(b, ",\"windows\":");
			sb_u64(b, k->nclosed);
			sb_add(b, ",", 1);
			sb_stats(b, &a, t->o->has_weight);
			sb_add(b, "}", 1);
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

/* Why jf_get() found nothing at p: the path ends at a JSON null, or some
 * step of it is missing.  Only on the error path. */
static const char *
absent(struct json_object *root, const struct jf_path *p)
{
	struct json_object *o = root;
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (o == NULL || !json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, p->seg[i], &o))
			return "missing";
	}
	return "null";
}

/* A number field: 0, or -1 with the reason in whybuf. */
static int
get_number(struct json_object *root, const struct jf_path *p, double *out,
    char *whybuf, size_t whysz)
{
	struct json_object *v = jf_get(root, p);
	const char *why = NULL;

	if (v == NULL)
		why = absent(root, p);
	else if (jf_number(v, out, &why) == 0)
		return 0;
	snprintf(whybuf, whysz, "%s: %s", p->text, why);
	return -1;
}

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
on_record(struct tool *t, struct json_object *root, const char *line,
    size_t len, const char **why, char *whybuf, size_t whysz, int64_t late[2])
{
	const struct opts *o = t->o;
	struct wstate *st = &t->st;
	struct json_object *jt, *jk;
	const char *fwhy = NULL, *ks = "";
	struct key *k;
	int64_t ts, wm, s, s0, s1;
	double x, weight = 0;
	char tag = 0;
	size_t kn = 0;
	int full, placed = 0, rc;
	long brace;

	jt = jf_get(root, &o->time);
	if (jt == NULL)
		fwhy = absent(root, &o->time);
	if (jt == NULL || kptime_from_json(jt, KPTIME_AUTO, &ts, &fwhy) != 0) {
		snprintf(whybuf, whysz, "%s: %s", o->time.text, fwhy);
		goto bad;
	}
	if (get_number(root, &o->value, &x, whybuf, whysz) != 0)
		goto bad;
	if (o->has_weight &&
	    get_number(root, &o->weight, &weight, whybuf, whysz) != 0)
		goto bad;
	if (o->has_key) {
		jk = jf_get(root, &o->key);
		if (jk == NULL) {
			snprintf(whybuf, whysz, "%s: %s", o->key.text,
			    absent(root, &o->key));
			goto bad;
		}
		/* Keys compare by their JSON text; strings by their bytes. */
		if (json_object_is_type(jk, json_type_string)) {
			tag = 's';
			ks = json_object_get_string(jk);
			kn = (size_t)json_object_get_string_len(jk);
		} else {
			tag = 'j';
			ks = json_object_to_json_string_ext(jk,
			    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
			if (ks == NULL)
				return oom();
			kn = strlen(ks);
		}
	}
	if (o->emit != EMIT_WINDOWS) {
		if (json_object_object_get_ex(root, o->window_field, NULL)) {
			snprintf(whybuf, whysz, "field \"%s\" already present",
			    o->window_field);
			goto bad;
		}
		brace = jf_obj_end(line, len, &t->empty);
		if (brace < 0) {
			snprintf(whybuf, whysz, "not a JSON object");
			goto bad;
		}
		t->brace = (size_t)brace;
	}
	t->line = line;
	t->len = len;

	k = key_get(t, tag, ks, kn, &full);
	if (k == NULL) {
		if (!full)
			return oom();
		snprintf(whybuf, whysz, "more keys than --max-keys %llu",
		    (unsigned long long)o->max_keys);
		goto bad;
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
bad:
	*why = whybuf;
	return REC_BAD;
}

/* ---- options ---- */

enum {
	OPT_TIME = 256,
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
	OPT_MAX_LINE,
	OPT_DEAD,
	OPT_STRICT,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option longopts[] = {
	{ "time-field", required_argument, NULL, OPT_TIME },
	{ "value-field", required_argument, NULL, OPT_VALUE },
	{ "key-field", required_argument, NULL, OPT_KEY },
	{ "weight-field", required_argument, NULL, OPT_WEIGHT },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "slide", required_argument, NULL, OPT_SLIDE },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "out-of-orderness", required_argument, NULL, OPT_OOO },
	{ "watermark", required_argument, NULL, OPT_WATERMARK },
	{ "allowed-lateness", required_argument, NULL, OPT_LATENESS },
	{ "late-output", required_argument, NULL, OPT_LATE_OUTPUT },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "emit", required_argument, NULL, OPT_EMIT },
	{ "trailing", required_argument, NULL, OPT_TRAILING },
	{ "window-field", required_argument, NULL, OPT_WINDOW_FIELD },
	{ "max-keys", required_argument, NULL, OPT_MAX_KEYS },
	{ "max-line", required_argument, NULL, OPT_MAX_LINE },
	{ "dead-letter", required_argument, NULL, OPT_DEAD },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* A duration option; --offset alone may be negative. */
static int
dur_arg(const char *opt, const char *arg, int neg_ok, int64_t *out)
{
	const char *s = arg;
	int neg = 0;

	if (neg_ok && *s == '-') {
		neg = 1;
		s++;
	}
	if (kpdur_parse(s, out) != 0 || *out > DUR_MAX)
		return msg_usage(USAGE, "%s: not a duration: %s", opt, arg);
	if (neg)
		*out = -*out;
	return 0;
}

static int
path_arg(const char *opt, const char *spec, struct jf_path *p)
{
	if (jf_path_init(p, spec) != 0)
		return msg_usage(USAGE, "%s: bad path: %s", opt, spec);
	return 0;
}

/* Returns 0 to run, -1 after --help or --version, or an exit status. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	const char *tf = "timestamp", *vf = "price", *kf = NULL, *wf = NULL;
	int slide_set = 0, trailing_set = 0, wfield_set = 0, ch, rc;
	uint64_t n;

	o->size = 60000;
	o->emit = EMIT_WINDOWS;
	o->trailing = 1;
	o->window_field = "window";
	o->max_line = ND_MAX_LINE_DEFAULT;
	opterr = 0; /* our own messages, prefixed "window-stats:" */
	while ((ch = getopt_long(argc, argv, ":qv", longopts, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case OPT_TIME: tf = optarg; break;
		case OPT_VALUE: vf = optarg; break;
		case OPT_KEY: kf = optarg; break;
		case OPT_WEIGHT: wf = optarg; break;
		case OPT_SIZE:
			rc = dur_arg("--size", optarg, 0, &o->size);
			break;
		case OPT_SLIDE:
			rc = dur_arg("--slide", optarg, 0, &o->slide);
			slide_set = 1;
			break;
		case OPT_OFFSET:
			rc = dur_arg("--offset", optarg, 1, &o->offset);
			break;
		case OPT_OOO:
			rc = dur_arg("--out-of-orderness", optarg, 0, &o->ooo);
			break;
		case OPT_LATENESS:
			rc = dur_arg("--allowed-lateness", optarg, 0,
			    &o->lateness);
			break;
		case OPT_IDLE:
			rc = dur_arg("--idle-timeout", optarg, 0, &o->idle);
			if (rc == 0 && (o->idle < 1 || o->idle > INT_MAX))
				rc = msg_usage(USAGE, "--idle-timeout: not "
				    "between 1ms and 24d: %s", optarg);
			break;
		case OPT_WATERMARK:
			if (strcmp(optarg, "per-key") == 0)
				o->global = 0;
			else if (strcmp(optarg, "global") == 0)
				o->global = 1;
			else
				rc = msg_usage(USAGE, "--watermark: expected "
				    "per-key or global: %s", optarg);
			break;
		case OPT_LATE_OUTPUT: o->late_output = optarg; break;
		case OPT_EMIT:
			if (strcmp(optarg, "windows") == 0)
				o->emit = EMIT_WINDOWS;
			else if (strcmp(optarg, "records") == 0)
				o->emit = EMIT_RECORDS;
			else if (strcmp(optarg, "trailing") == 0)
				o->emit = EMIT_TRAILING;
			else
				rc = msg_usage(USAGE, "--emit: expected windows, "
				    "records or trailing: %s", optarg);
			break;
		case OPT_TRAILING:
			if (kpnum_parse(optarg, 1000, &o->trailing) != 0 ||
			    o->trailing == 0)
				rc = msg_usage(USAGE, "--trailing: not a whole "
				    "number from 1 to 1000: %s", optarg);
			trailing_set = 1;
			break;
		case OPT_WINDOW_FIELD:
			if (*optarg == '\0')
				rc = msg_usage(USAGE, "--window-field: empty "
				    "name");
			o->window_field = optarg;
			wfield_set = 1;
			break;
		case OPT_MAX_KEYS:
			if (kpnum_parse(optarg, UINT32_MAX - 2, &o->max_keys)
			    != 0 || o->max_keys == 0)
				rc = msg_usage(USAGE, "--max-keys: not a positive "
				    "whole number: %s", optarg);
			break;
		case OPT_MAX_LINE:
			if (kpsize_parse(optarg, &n) != 0 || n == 0 ||
			    n > 0x7ffffffe)
				rc = msg_usage(USAGE, "--max-line: not a size "
				    "between 1 and 2GiB: %s", optarg);
			o->max_line = (size_t)n;
			break;
		case OPT_DEAD: o->dead_letter = optarg; break;
		case OPT_STRICT: o->strict = 1; break;
		case 'v': msg_verbosity++; break;
		case 'q': msg_verbosity = 0; break;
		case OPT_HELP:
			fputs(help_text, stdout);
			return fflush(stdout) == 0 ? -1 : KP_EXIT_FAILURE;
		case OPT_VERSION:
			printf("window-stats %s\n", KP_VERSION);
			return fflush(stdout) == 0 ? -1 : KP_EXIT_FAILURE;
		case ':':
			return msg_usage(USAGE, "option needs an argument: %s",
			    argv[optind - 1]);
		default:
			if (optopt >= 256)
				return msg_usage(USAGE, "option takes no "
				    "argument: %s", argv[optind - 1]);
			if (optopt != 0)
				return msg_usage(USAGE, "unknown option: -%c",
				    optopt);
			return msg_usage(USAGE, "unknown option: %s",
			    argv[optind - 1]);
		}
		if (rc != 0)
			return rc;
	}
	if (optind < argc)
		return msg_usage(USAGE, "unexpected argument: %s", argv[optind]);
	if (o->size < 1)
		return msg_usage(USAGE, "--size: must be at least 1ms");
	if (!slide_set)
		o->slide = o->size;
	if (o->slide < 1 || o->slide > o->size)
		return msg_usage(USAGE, "--slide: must be from 1ms to --size");
	if ((o->size + o->slide - 1) / o->slide > MAX_WINDOWS_PER_RECORD)
		return msg_usage(USAGE, "--size / --slide: more than %d windows "
		    "per record", MAX_WINDOWS_PER_RECORD);
	/* Flink's own rule for window assigners. */
	if (o->offset <= -o->slide || o->offset >= o->slide)
		return msg_usage(USAGE, "--offset: |offset| must be less than "
		    "--slide (or --size)");
	if (trailing_set && o->emit != EMIT_TRAILING)
		return msg_usage(USAGE, "--trailing needs --emit trailing");
	if (wfield_set && o->emit == EMIT_WINDOWS)
		return msg_usage(USAGE, "--window-field needs --emit records "
		    "or --emit trailing");
	/* Sliding windows overlap: merging several would count records
	 * more than once. */
	if (o->emit == EMIT_TRAILING && o->trailing > 1 && o->slide < o->size)
		return msg_usage(USAGE, "--trailing above 1 needs tumbling "
		    "windows (no --slide below --size)");
	if ((rc = path_arg("--time-field", tf, &o->time)) != 0 ||
	    (rc = path_arg("--value-field", vf, &o->value)) != 0)
		return rc;
	if (kf != NULL) {
		if ((rc = path_arg("--key-field", kf, &o->key)) != 0)
			return rc;
		o->has_key = 1;
	}
	if (wf != NULL) {
		if ((rc = path_arg("--weight-field", wf, &o->weight)) != 0)
			return rc;
		o->has_weight = 1;
	}
	return 0;
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

/*
 * Parses a line and tells whether it is a control line: what
 * nd_is_control() decides, from the parse every record needs anyway
 * instead of a second scan.  nd_is_control() is asked only for a line the
 * strict parser refused.  *root is the parsed object or NULL (*why).
 */
static int
is_control(struct jf_parser *jp, const char *line, size_t len,
    struct json_object **root, const char **why)
{
	*root = jf_parse_object(jp, line, len, why);
	if (*root == NULL)
		return nd_is_control(line, len);
	return json_object_object_length(*root) == 1 &&
	    json_object_object_get_ex(*root, "__kinpipe", NULL);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct tool t;
	struct nd_reject rej;
	struct nd_reader *r = NULL;
	struct jf_parser jp = { NULL, { 0 } };
	struct json_object *root = NULL;
	char whybuf[512];
	int status = KP_EXIT_FAILURE, rc, epipe = 0, stopped = 0;
	char *line;
	size_t len;

	memset(&o, 0, sizeof(o));
	memset(&t, 0, sizeof(t));
	memset(&rej, 0, sizeof(rej));
	msg_init(argv[0]);
	rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		status = rc < 0 ? KP_EXIT_OK : rc;
		goto out;
	}
	if (sig_setup() != 0) {
		msg_err("cannot install signal handlers: %s", strerror(errno));
		goto out;
	}
	if (nd_reject_init(&rej, o.dead_letter, o.strict) != 0)
		goto out;
	if (o.late_output != NULL) {
		t.late = fopen(o.late_output, "a");
		if (t.late == NULL) {
			msg_err("%s: %s", o.late_output, strerror(errno));
			goto out;
		}
	}
	if (jf_parser_init(&jp) != 0) {
		msg_err("out of memory");
		goto out;
	}
	t.o = &o;
	t.rej = &rej;
	t.st.gmax = NO_TIME;
	t.st.gfloor = NO_TIME;
	t.st.gnext_due = INT64_MAX;
	r = nd_reader_new(STDIN_FILENO, "<stdin>", o.max_line);
	t.out = nd_writer_new(STDOUT_FILENO);
	if (r == NULL || t.out == NULL) {
		msg_err("out of memory");
		goto out;
	}
	nd_reader_set_reject(r, &rej);
	/* Flush what we hold whenever input stalls: low latency on a live
	 * stream without a write per record. */
	nd_reader_on_stall(r, nd_flush_hook, t.out);

	status = KP_EXIT_OK;
	for (;;) {
		const char *why = NULL;
		int64_t late[2] = { 0, 0 };
		int timeout = o.idle > 0 && t.st.unfired > 0 ? (int)o.idle : -1;

		if (sig_stop)
			break;
		rc = nd_next(r, &line, &len, timeout);
		if (rc == ND_EOF)
			break;
		if (rc == ND_INTR)
			continue; /* sig_stop is checked above */
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
		} else if (is_control(&jp, line, len, &root, &why)) {
			/* Nothing to act on yet (checkpoints come with the
			 * exactly-once issue): forward in order. */
			t.st.control++;
			json_object_put(root);
			root = NULL;
			rc = nd_put(t.out, line, len);
		} else {
			if (root == NULL) {
				rc = REC_BAD;
			} else {
				rc = on_record(&t, root, line, len, &why, whybuf,
				    sizeof(whybuf), late);
				json_object_put(root);
				root = NULL;
			}
			if (rc == REC_BAD) {
				if (nd_reject(&rej, nd_name(r), nd_lineno(r),
				    line, len, "%s", why) != 0) {
					status = rej.failed ? KP_EXIT_FAILURE :
					    KP_EXIT_REJECTED;
					stopped = 1;
					break;
				}
				continue;
			}
			if (rc == REC_LATE) {
				if (on_late(&t, r, line, len, late,
				    &status) != 0) {
					stopped = 1;
					break;
				}
				continue;
			}
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
	json_object_put(root);
	if (t.late != NULL)
		fclose(t.late);
	nd_writer_free(t.out);
	nd_reader_free(r);
	jf_parser_free(&jp);
	if (rej.dead != NULL || rej.dead_path != NULL)
		nd_reject_close(&rej);
	state_free(&t.st);
	free(t.sb.p);
	free(t.due);
	jf_path_free(&o.time);
	jf_path_free(&o.value);
	jf_path_free(&o.key);
	jf_path_free(&o.weight);
	return status;
}
