/*
 * winstate_test - unit tests of the window state (common/winstate.h):
 * accumulators, keys, window assignment, watermarks, lateness and firing
 * order, --idle-timeout floors, and the serialised form: its exact text,
 * round trips, and the refusal of truncated, corrupted, newer or
 * mismatched states.
 *
 *   winstate_test [-v]
 *
 * Prints TAP through tests/c/tap.h: "ok N - what" or "not ok N - what" per
 * check, "# ..." diagnostics, and the plan "1..N" last.  Exits 0 when every
 * check passed, 1 otherwise.  -v shows more of the first difference of a
 * failed comparison.
 *
 * The round trips feed real trades (tests/data/market-trades.ndjson.gz,
 * found through $KP_ROOT or the driver's own path) and generated records
 * (keys of every JSON kind that come and go, disorder, late records, -0,
 * values whose sums overflow to infinity and NaN) through every emission
 * mode, tumbling and sliding windows, per-key and global watermarks, with
 * and without allowed lateness.  One run goes uninterrupted; another is
 * saved at many cut points, thrown away and loaded back each time.  Every
 * firing is logged with what window-stats writes from it (key, bounds,
 * firing count, the accumulator's bits, the records spliced), so equal
 * logs mean equal output.  Temporary files go under $TMPDIR (or /tmp).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "buf.h"
#include "jfield.h"
#include "jscan.h"
#include "kptime.h"
#include "tap.h"
#include "winstate.h"

static void
die(const char *what)
{
	fprintf(stderr, "winstate_test: %s\n", what);
	exit(2);
}

/* Where a and b (of lengths na, nb) first differ, for a diagnostic. */
static void
show_diff(const char *what, const char *a, size_t na, const char *b,
    size_t nb)
{
	size_t i = 0, from;

	while (i < na && i < nb && a[i] == b[i])
		i++;
	from = i > 60 ? i - 60 : 0;
	diag("%s: %zu and %zu bytes, first difference at %zu", what, na, nb, i);
	diag("a: ...%.*s", (int)((na - from) > (verbose ? 400 : 120) ?
	    (verbose ? 400 : 120) : na - from), a + from);
	diag("b: ...%.*s", (int)((nb - from) > (verbose ? 400 : 120) ?
	    (verbose ? 400 : 120) : nb - from), b + from);
}

/* b holds exactly, or contains, the string s. */
#define IS(b, s) ((b)->len == strlen(s) && memcmp((b)->p, (s), (b)->len) == 0)
#define HAS(b, s) (memmem((b)->p, (b)->len, (s), strlen(s)) != NULL)

static int
eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p,
	    a->len) == 0);
}

/* Where s first stands in b; dies when it does not. */
static char *
find(const struct buf *b, const char *s)
{
	char *at = memmem(b->p, b->len, s, strlen(s));

	if (at == NULL) {
		fprintf(stderr, "winstate_test: no %s in the state\n", s);
		exit(2);
	}
	return at;
}

/* a and b equal, or a diagnostic of where they differ. */
static int
same_bytes(const char *what, const struct buf *a, const struct buf *b)
{
	if (eq(a, b))
		return 1;
	show_diff(what, a->p ? a->p : "", a->len, b->p ? b->p : "", b->len);
	return 0;
}

/* ---- records ---- */

struct rec {
	int64_t ts;
	double value, weight;
	int kind;            /* WS_KEY_* */
	char *key;
	size_t keylen;
	char *line;
	size_t len, brace;
	int empty;
};

struct recs {
	struct rec *r;
	size_t n, cap;
};

/* Reads the fields window-stats would read (timestamp, price, symbol,
 * volume) from one line, with the library's own scanner. */
struct reader {
	struct jscan *js;
	struct jf_path path[4];
	struct buf tmp;
};

static void
reader_init(struct reader *rd)
{
	static const char *const names[] = { "timestamp", "price", "symbol",
	    "volume" };
	int i;

	memset(rd, 0, sizeof(*rd));
	rd->js = jscan_new();
	if (rd->js == NULL)
		die("out of memory");
	for (i = 0; i < 4; i++)
		if (jf_path_init(&rd->path[i], names[i]) != 0 ||
		    jscan_want(rd->js, &rd->path[i]) != i)
			die("out of memory");
}

static void
reader_free(struct reader *rd)
{
	int i;

	jscan_free(rd->js);
	for (i = 0; i < 4; i++)
		jf_path_free(&rd->path[i]);
	buf_free(&rd->tmp);
}

static char *
dup_bytes(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		die("out of memory");
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Appends the record of line[0..len) to rs; dies on a line the tests did
 * not mean to be bad. */
static void
add_line(struct reader *rd, struct recs *rs, const char *line, size_t len)
{
	const struct jscan_field *f;
	const char *why = NULL, *k;
	struct rec *r;
	size_t kn;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 1024;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		if (rs->r == NULL)
			die("out of memory");
	}
	r = &rs->r[rs->n];
	memset(r, 0, sizeof(*r));
	if (jscan_line(rd->js, line, len, &why) != 0 ||
	    jscan_time(jscan_get(rd->js, 0), KPTIME_AUTO, &rd->tmp, &r->ts,
	    &why) != 0 ||
	    jscan_number(jscan_get(rd->js, 1), &r->value, &why) != 0 ||
	    jscan_number(jscan_get(rd->js, 3), &r->weight, &why) != 0) {
		fprintf(stderr, "winstate_test: %.*s: %s\n", (int)len, line,
		    why);
		exit(2);
	}
	f = jscan_get(rd->js, 2);
	if (f->type == JSCAN_STRING) {
		r->kind = WS_KEY_STRING;
		if (jscan_string(f, &rd->tmp, &k, &kn) != 0)
			die("out of memory");
		r->key = dup_bytes(k, kn);
		r->keylen = kn;
	} else {
		r->kind = WS_KEY_JSON;
		buf_reset(&rd->tmp);
		jscan_text(f, &rd->tmp);
		r->key = dup_bytes(rd->tmp.p, rd->tmp.len);
		r->keylen = rd->tmp.len;
	}
	r->line = dup_bytes(line, len);
	r->len = len;
	r->brace = jscan_brace(rd->js);
	r->empty = jscan_empty(rd->js);
	rs->n++;
}

static void
recs_free(struct recs *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		free(rs->r[i].key);
		free(rs->r[i].line);
	}
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

/* The first max lines of the real trades. */
static int
load_trades(const char *root, size_t max, struct recs *rs)
{
	char path[4200], line[8192];
	struct reader rd;
	gzFile gz;

	snprintf(path, sizeof(path), "%s/tests/data/market-trades.ndjson.gz",
	    root);
	gz = gzopen(path, "rb");
	if (gz == NULL)
		return -1;
	reader_init(&rd);
	while (rs->n < max && gzgets(gz, line, sizeof(line)) != NULL) {
		size_t n = strlen(line);

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		add_line(&rd, rs, line, n);
	}
	gzclose(gz);
	reader_free(&rd);
	return 0;
}

static uint64_t rng_state;

/* splitmix64: a fixed sequence for a fixed seed. */
static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int64_t
rnd_in(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/*
 * n generated records: nine keys of every JSON kind, coming and going;
 * event times that drift forward with jitter, some far behind (late), some
 * repeated; values around 100, some -0, and one key whose values are
 * +-1e308 so that its sums overflow.  Lines carry escapes, UTF-8 and, now
 * and then, blanks around the object.
 */
static void
gen_records(uint64_t seed, size_t n, struct recs *rs)
{
	static const char *const keys[] = { "\"A\"", "\"B\"", "\"C\"",
	    "\"\xc3\xa9\\\"q\\u0001\"", "123456789012345678901234567890",
	    "99999999999999999999", "{\"x\": [1, \"\xc3\xa9\"]}", "true",
	    "\"huge\"" };
	const size_t nk = sizeof(keys) / sizeof(keys[0]);
	struct buf b = BUF_INIT;
	struct reader rd;
	int64_t base = INT64_C(1723161200000), ts = base;
	size_t i, k;

	rng_state = seed;
	reader_init(&rd);
	for (i = 0; i < n; i++) {
		double v;

		base += rnd_in(0, 250);
		/* Key k comes at n k / 2nk; two in three leave after n / 2
		 * records (key 0 stays: there is always one). */
		do {
			k = (size_t)(rnd() % nk);
		} while (i < n * k / (2 * nk) || (k % 3 != 0 &&
		    i >= n * k / (2 * nk) + n / 2));
		if (rnd() % 50 == 0)
			ts = base - rnd_in(20000, 60000);
		else if (rnd() % 100 != 0)
			ts = base + rnd_in(-3000, 500);
		v = k == nk - 1 ? (rnd() % 2 ? 1e308 : -1e308) :
		    rnd() % 40 == 0 ? -0.0 : 100 + (double)rnd_in(-5000,
		    5000) / 100;
		buf_reset(&b);
		if (rnd() % 10 == 0)
			buf_lit(&b, " ");
		buf_lit(&b, "{\"timestamp\":");
		buf_i64(&b, ts);
		buf_lit(&b, ",\"symbol\":");
		buf_str(&b, keys[k]);
		buf_lit(&b, ",\"price\":");
		if (v == 0 && signbit(v))
			buf_lit(&b, "-0.0");
		else
			buf_double(&b, v);
		buf_lit(&b, ",\"volume\":");
		buf_double(&b, (double)rnd_in(0, 300) / 100);
		buf_lit(&b, ",\"note\":\"\xc3\xa9\\\"\\u0001 \\/\"}");
		if (rnd() % 10 == 0)
			buf_lit(&b, "  ");
		if (b.failed)
			die("out of memory");
		add_line(&rd, rs, b.p, b.len);
	}
	buf_free(&b);
	reader_free(&rd);
}

/* ---- runs ---- */

/* A state and the log of what its firings would write. */
struct run {
	struct ws *s;
	struct buf log;
	const struct rec *cur;   /* the record being added */
};

/* A double by its bits (hex float); every NaN alike: only its being NaN
 * can reach an output (as null). */
static void
log_num(struct buf *b, double v)
{
	if (isnan(v))
		buf_lit(b, " nan");
	else
		buf_printf(b, " %a", v);
}

static void
log_acc(struct buf *b, const struct ws_acc *a)
{
	buf_printf(b, " n=%" PRIu64 " t=%" PRId64 ",%" PRId64, a->n,
	    a->first_ts, a->last_ts);
	log_num(b, a->shift);
	log_num(b, a->wmean);
	log_num(b, a->m2);
	log_num(b, a->sum);
	log_num(b, a->sumc);
	log_num(b, a->min);
	log_num(b, a->max);
	log_num(b, a->first);
	log_num(b, a->last);
	log_num(b, a->wsum);
	log_num(b, a->wsumc);
	log_num(b, a->wx);
	log_num(b, a->wxc);
}

static int
on_fire(void *ctx, const struct ws_key *k, const struct ws_win *w)
{
	struct run *r = ctx;
	struct buf *b = &r->log;
	size_t i;

	buf_lit(b, "fire ");
	ws_key_json(k, b);
	buf_printf(b, " [%" PRId64 ",%" PRId64 ") #%u", w->start, w->end,
	    (unsigned)w->fires);
	log_acc(b, &w->acc);
	buf_char(b, '\n');
	if (r->s->o.emit != WS_EMIT_RECORDS)
		return 0;
	if (w->fires > 0) {
		buf_lit(b, "  again ");
		buf_add(b, r->cur->line, r->cur->len);
		buf_printf(b, " @%zu\n", r->cur->brace);
		return 0;
	}
	for (i = 0; i < w->nrec; i++) {
		buf_lit(b, "  ");
		buf_add(b, w->buf + w->recs[i].off, w->recs[i].len);
		buf_printf(b, " @%zu%s\n", w->recs[i].brace,
		    w->recs[i].empty ? " empty" : "");
	}
	return 0;
}

/* Adds one record as window-stats does, logging a full key set, a late
 * record, and (--emit trailing) the statistics written with it.  Returns
 * 0, WS_FULL, WS_LATE, or a negative error. */
static int
feed(struct run *r, const struct rec *x)
{
	struct ws_record wr;
	struct ws_key *k;
	struct ws_acc a;
	int64_t wm = 0;
	int rc;

	rc = ws_key(r->s, x->kind, x->key, x->keylen, &k);
	if (rc == WS_FULL) {
		buf_lit(&r->log, "full\n");
		return rc;
	}
	if (rc != 0)
		return rc;
	memset(&wr, 0, sizeof(wr));
	wr.ts = x->ts;
	wr.value = x->value;
	wr.weight = x->weight;
	wr.line = x->line;
	wr.len = x->len;
	wr.brace = x->brace;
	wr.empty = x->empty;
	r->cur = x;
	rc = ws_add(r->s, k, &wr, &wm);
	if (rc == WS_LATE) {
		buf_printf(&r->log, "late %" PRId64 " %" PRId64 "\n", x->ts,
		    wm);
		return rc;
	}
	if (rc == 0 && r->s->o.emit == WS_EMIT_TRAILING) {
		ws_trailing(k, &a);
		buf_printf(&r->log, "trail %zu", k->nclosed);
		if (k->nclosed > 0)
			buf_printf(&r->log, " [%" PRId64 ",%" PRId64 ")",
			    k->closed[0].start, k->closed[k->nclosed - 1].end);
		log_acc(&r->log, &a);
		buf_char(&r->log, '\n');
	}
	return rc;
}

static void
run_start(struct run *r, const struct ws_opts *o)
{
	char err[256];

	r->s = ws_new(o, err, sizeof(err));
	if (r->s == NULL)
		die(err);
	ws_on_fire(r->s, on_fire, r);
}

static void
run_end(struct run *r)
{
	ws_free(r->s);
	r->s = NULL;
	buf_free(&r->log);
}

static void
log_counts(struct run *r)
{
	const struct ws_counts *n = &r->s->n;

	buf_printf(&r->log, "counts %llu %llu %llu %llu %llu keys %zu\n",
	    n->records, n->late, n->fired, n->refired, n->control,
	    r->s->nkeys);
}

/* Default options of the small tests: 60 s tumbling windows, per key. */
static struct ws_opts
opts(void)
{
	struct ws_opts o;

	memset(&o, 0, sizeof(o));
	o.size = o.slide = 60000;
	o.trailing = 1;
	o.emit = WS_EMIT_WINDOWS;
	o.time_field = "timestamp";
	o.value_field = "price";
	o.key_field = "k";
	o.window_field = "window";
	return o;
}

/* A record built from its parts, added to r.  Returns ws_add()'s result. */
static int
put(struct run *r, const char *key, int64_t ts, double v)
{
	struct buf line = BUF_INIT;
	struct rec x;
	int rc;

	memset(&x, 0, sizeof(x));
	buf_printf(&line, "{\"timestamp\":%" PRId64 ",\"k\":\"%s\","
	    "\"price\":", ts, key);
	buf_double(&line, v);
	buf_char(&line, '}');
	x.ts = ts;
	x.value = v;
	x.kind = WS_KEY_STRING;
	x.key = (char *)key;
	x.keylen = strlen(key);
	x.line = line.p;
	x.len = line.len;
	x.brace = line.len - 1;
	rc = feed(r, &x);
	buf_free(&line);
	return rc;
}

/* ---- accumulators ---- */

static double
acc_mean(const struct ws_acc *a)
{
	return a->shift + (a->sum + a->sumc) / (double)a->n;
}

static double
acc_var(const struct ws_acc *a)
{
	return a->m2 / (double)a->n;
}

static void
test_acc(void)
{
	struct ws_acc a, b, c, all;
	double xs[200];
	size_t i;

	section("accumulators");
	memset(&a, 0, sizeof(a));
	ws_acc_add(&a, 10, 61000.25, 2);
	check(a.n == 1 && a.shift == 61000.25 && acc_mean(&a) == 61000.25 &&
	    a.m2 == 0 && a.min == a.max && a.first == a.last,
	    "one value: count 1, mean the value, no deviation");
	ws_acc_add(&a, 20, 61000.75, 2);
	check(a.n == 2 && acc_mean(&a) == 61000.5 && acc_var(&a) == 0.0625 &&
	    a.wsum == 4 && a.shift + (a.wx + a.wxc) / a.wsum == 61000.5,
	    "two values: mean, population variance and weighted mean exact");

	memset(&a, 0, sizeof(a));
	ws_acc_add(&a, 80, 1, 0);
	ws_acc_add(&a, 70, 2, 0);
	ws_acc_add(&a, 90, 3, 0);
	ws_acc_add(&a, 70, 4, 0);
	ws_acc_add(&a, 90, 5, 0);
	check(a.first == 2 && a.first_ts == 70 && a.last == 5 &&
	    a.last_ts == 90, "first and last by event time, ties in input "
	    "order");

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&all, 0, sizeof(all));
	rng_state = 42;
	for (i = 0; i < 200; i++) {
		xs[i] = 60000 + (double)rnd_in(-10000, 10000) / 100;
		ws_acc_add(i < 120 ? &a : &b, (int64_t)i, xs[i], 1);
		ws_acc_add(&all, (int64_t)i, xs[i], 1);
	}
	c = a;
	ws_acc_merge(&c, &b);
	check(c.n == 200 && fabs(acc_mean(&c) - acc_mean(&all)) < 1e-9 &&
	    fabs(acc_var(&c) - acc_var(&all)) < 1e-9 * acc_var(&all) &&
	    c.min == all.min && c.max == all.max && c.first == all.first &&
	    c.last == all.last, "merging two windows equals adding their "
	    "values in one");
	c = a;
	memset(&b, 0, sizeof(b));
	ws_acc_merge(&c, &b);
	check(memcmp(&c, &a, sizeof(a)) == 0, "merging an empty window "
	    "changes nothing");
	memset(&c, 0, sizeof(c));
	ws_acc_merge(&c, &a);
	check(memcmp(&c, &a, sizeof(a)) == 0, "merging into an empty window "
	    "copies");
	memset(&a, 0, sizeof(a));
	ws_acc_add(&a, 1, 1e308, 0);
	ws_acc_add(&a, 2, -1e308, 0);
	check(isinf(a.sum + a.sumc) || isnan(a.sum + a.sumc),
	    "sums of 1e308 overflow (the serialised form must keep that)");
}

/* ---- keys ---- */

static void
test_keys(void)
{
	struct ws_opts o = opts();
	struct ws_key *k1, *k2, *k3, *k4;
	struct buf b = BUF_INIT;
	struct run r;
	char name[32];
	int i, ok;

	section("keys");
	memset(&r, 0, sizeof(r));
	run_start(&r, &o);
	check(ws_key(r.s, WS_KEY_STRING, "1", 1, &k1) == 0 &&
	    ws_key(r.s, WS_KEY_JSON, "1", 1, &k2) == 0 && k1 != k2 &&
	    r.s->nkeys == 2, "the string \"1\" and the number 1 are two keys");
	check(ws_key(r.s, WS_KEY_STRING, "1", 1, &k3) == 0 && k3 == k1,
	    "the same key again is the same key");
	check(ws_key(r.s, WS_KEY_JSON, "123456789012345678901234567890", 30,
	    &k3) == 0 && ws_key(r.s, WS_KEY_JSON, "99999999999999999999", 20,
	    &k4) == 0 && k3 != k4 && r.s->nkeys == 4,
	    "123456789012345678901234567890 and 99999999999999999999 are two "
	    "keys (their text, not a double)");
	check(k1->seq == 0 && k2->seq == 1 && k3->seq == 2 && k4->seq == 3 &&
	    r.s->keys[2] == k3, "keys keep their first-seen order");
	ws_key_json(k1, &b);
	buf_char(&b, ' ');
	ws_key_json(k3, &b);
	check(IS(&b, "\"1\" 123456789012345678901234567890"),
	    "ws_key_json: a string quoted, a number as its text");
	buf_reset(&b);
	check(ws_key(r.s, WS_KEY_STRING, "a\"b\x01\0z", 6, &k1) == 0,
	    "a key with a quote, a control character and a NUL");
	ws_key_json(k1, &b);
	check(IS(&b, "\"a\\\"b\\u0001\\u0000z\""),
	    "ws_key_json escapes it as JSON");
	ok = 1;
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "key%d", i);
		if (ws_key(r.s, WS_KEY_STRING, name, strlen(name), &k1) != 0)
			ok = 0;
	}
	for (i = 0; i < 2000 && ok; i++) {
		snprintf(name, sizeof(name), "key%d", i);
		ok = ws_key(r.s, WS_KEY_STRING, name, strlen(name), &k1) == 0 &&
		    k1->seq == (uint64_t)i + 5;
	}
	check(ok && r.s->nkeys == 2005, "2000 more keys: each found again, "
	    "in order");
	run_end(&r);

	o.max_keys = 2;
	o.key_field = NULL;
	run_start(&r, &o);
	check(ws_key(r.s, WS_KEY_NONE, NULL, 0, &k1) == 0 && k1->idlen == 0,
	    "without --key-field the one key has an empty identity");
	buf_reset(&b);
	ws_key_json(k1, &b);
	check(IS(&b, "null"), "... written null");
	check(put(&r, "x", 10000, 1) == 0 && put(&r, "y", 10000, 1) == 0 &&
	    ws_key(r.s, WS_KEY_STRING, "z", 1, &k3) == WS_FULL &&
	    ws_key(r.s, WS_KEY_STRING, "x", 1, &k4) == 0 &&
	    put(&r, "x", 20000, 1) == 0 && r.s->nlive == 2,
	    "max_keys: a key beyond those holding windows is WS_FULL, "
	    "earlier keys go on");
	run_end(&r);
	o.global = 1;
	run_start(&r, &o);
	check(put(&r, "x", 10000, 1) == 0 && put(&r, "y", 70000, 1) == 0 &&
	    r.s->nlive == 1 && put(&r, "z", 70000, 1) == 0 &&
	    put(&r, "w", 70000, 1) == WS_FULL, "max_keys counts live keys: "
	    "a key whose windows all fired makes room");
	run_end(&r);
	buf_free(&b);
}

/* ---- windows, watermarks, firing ---- */

/* The key named by the string name, or NULL. */
static struct ws_key *
key_named(const struct ws *s, const char *name)
{
	char id[64];

	snprintf(id, sizeof(id), "s%s", name);
	return htab_get(&s->index, id, strlen(id));
}

/* The starts of k's windows, "s1 s2 ..." in seconds. */
static const char *
starts(const struct ws_key *k)
{
	static char out[256];
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < k->nw && o < sizeof(out) - 24; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%lld",
		    i ? " " : "", (long long)(k->w[i].start / 1000));
	return out;
}

static void
test_assign(void)
{
	struct ws_opts o = opts();
	struct run r;

	section("window assignment");
	memset(&r, 0, sizeof(r));
	o.ooo = 3600000;
	run_start(&r, &o);
	put(&r, "a", 70000, 1);
	check(strcmp(starts(r.s->keys[0]), "60") == 0 &&
	    r.s->keys[0]->w[0].end == 120000, "tumbling: 70s is in [60s, "
	    "120s)");
	put(&r, "b", 119999, 1);
	put(&r, "b", 120000, 1);
	check(strcmp(starts(r.s->keys[1]), "60 120") == 0,
	    "end is exclusive: 119.999s and 120s are in two windows");
	put(&r, "c", -30000, 1);
	check(strcmp(starts(r.s->keys[2]), "-60") == 0, "before 1970: -30s "
	    "is in [-60s, 0) (floor)");
	run_end(&r);

	o.slide = 30000;
	run_start(&r, &o);
	put(&r, "a", 70000, 1);
	check(strcmp(starts(r.s->keys[0]), "30 60") == 0 &&
	    r.s->unfired == 2, "sliding 1m/30s: 70s is in the windows from "
	    "30s and 60s");
	run_end(&r);

	o.slide = 60000;
	o.offset = 15000;
	run_start(&r, &o);
	put(&r, "a", 70000, 1);
	put(&r, "a", 75000, 1);
	check(strcmp(starts(r.s->keys[0]), "15 75") == 0, "--offset 15s: "
	    "windows from 15s and 75s");
	run_end(&r);

	o.offset = -15000;
	run_start(&r, &o);
	put(&r, "a", 70000, 1);
	check(strcmp(starts(r.s->keys[0]), "45") == 0, "--offset -15s: 70s "
	    "is in [45s, 105s)");
	put(&r, "a", 10000, 1);
	check(strcmp(starts(r.s->keys[0]), "-15 45") == 0, "an earlier "
	    "window goes before, windows stay sorted by start");
	run_end(&r);

	o.offset = 0;
	o.size = WS_MAX_WINDOWS_PER_RECORD;
	o.slide = 1;
	run_start(&r, &o);
	put(&r, "a", 70000, 1);
	check(r.s->keys[0]->nw == WS_MAX_WINDOWS_PER_RECORD,
	    "WS_MAX_WINDOWS_PER_RECORD windows for one record");
	run_end(&r);
}

static void
test_bad_opts(void)
{
	struct ws_opts o;
	char err[128];

	section("options");
	o = opts();
	o.slide = o.size + 1;
	check(ws_new(&o, err, sizeof(err)) == NULL && strstr(err, "slide"),
	    "slide above size refused: %s", err);
	o = opts();
	o.offset = o.slide;
	check(ws_new(&o, err, sizeof(err)) == NULL && strstr(err, "offset"),
	    "|offset| >= slide refused: %s", err);
	o = opts();
	o.trailing = 0;
	check(ws_new(&o, err, sizeof(err)) == NULL && strstr(err,
	    "trailing"), "trailing 0 refused: %s", err);
	o = opts();
	o.size = 0;
	check(ws_new(&o, err, sizeof(err)) == NULL && strstr(err, "size"),
	    "size 0 refused: %s", err);
	o = opts();
	o.size = WS_MAX_WINDOWS_PER_RECORD + 1;
	o.slide = 1;
	check(ws_new(&o, err, sizeof(err)) == NULL && strstr(err, "windows "
	    "per record"), "more windows per record refused: %s", err);
	o = opts();
	o.lateness = -1;
	check(ws_new(&o, err, sizeof(err)) == NULL && strstr(err,
	    "lateness"), "negative lateness refused: %s", err);
}

/* The log's lines that start with "fire", joined by '|', shortened to
 * "key start end #fires n". */
static const char *
fires(const struct run *r)
{
	static char out[1024];
	const char *p = r->log.p, *end = r->log.p + r->log.len;
	size_t o = 0;

	out[0] = '\0';
	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char key[64], line[256];
		long long s, e;
		unsigned f;
		unsigned long long n;

		if (nl == NULL)
			break;
		/* sscanf wants a string: the log has no terminator. */
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (strncmp(line, "fire ", 5) == 0 && sscanf(line, "fire %63s "
		    "[%lld,%lld) #%u n=%llu", key, &s, &e, &f, &n) == 5)
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "%s%s %lld %lld #%u %llu", o ? "|" : "", key,
			    s / 1000, e / 1000, f, n);
		if (o >= sizeof(out) - 1)
			break;
		p = nl + 1;
	}
	return out;
}

static void
test_fire(void)
{
	struct ws_opts o = opts();
	struct run r;
	int64_t wm = 0;

	section("watermarks and firing");
	memset(&r, 0, sizeof(r));
	run_start(&r, &o);
	put(&r, "A", 70000, 1);
	put(&r, "B", 130000, 2);
	put(&r, "A", 80000, 3);
	check(strcmp(fires(&r), "") == 0, "per-key: another key's later "
	    "record fires nothing");
	put(&r, "A", 125000, 4);
	check(strcmp(fires(&r), "\"A\" 60 120 #0 2") == 0, "per-key: the "
	    "key's own record fires its window: %s", fires(&r));
	check(r.s->keys[0]->nw == 1 && r.s->unfired == 2, "without "
	    "lateness a fired window is dropped at once");
	ws_finish(r.s);
	check(strcmp(fires(&r), "\"A\" 60 120 #0 2|\"A\" 120 180 #0 1|"
	    "\"B\" 120 180 #0 1") == 0 && r.s->unfired == 0 &&
	    r.s->keys[0]->nw == 0, "end of input fires the rest in end, "
	    "start, key order and drops them");
	run_end(&r);

	o.global = 1;
	o.ooo = 60000;
	run_start(&r, &o);
	put(&r, "B", 70000, 1);
	put(&r, "A", 10000, 2);
	put(&r, "A", 75000, 3);
	put(&r, "C", 200000, 4);
	check(strcmp(fires(&r), "\"A\" 0 60 #0 1|\"B\" 60 120 #0 1|"
	    "\"A\" 60 120 #0 1") == 0, "global: one watermark fires every "
	    "key, in end, start, first-seen order: %s", fires(&r));
	run_end(&r);

	o.ooo = 0;
	o.lateness = 11000;
	run_start(&r, &o);
	put(&r, "A", 70000, 1);
	put(&r, "B", 130000, 2);
	check(ws_watermark(r.s, r.s->keys[0]) == 130000, "global watermark: "
	    "largest event time minus out-of-orderness");
	check(put(&r, "A", 80000, 3) == 0 && strcmp(fires(&r),
	    "\"A\" 60 120 #0 1|\"A\" 60 120 #1 2") == 0 &&
	    r.s->n.refired == 1, "within the allowed lateness a record "
	    "re-fires its window (#1)");
	check(r.s->keys[0]->nw == 1, "the fired window is kept for the "
	    "allowed lateness");
	put(&r, "B", 131000, 2);
	check(r.s->nkeys == 1 && r.s->keys[0]->id[1] == 'B', "... and "
	    "dropped once W >= end + lateness; the key, holding nothing, is "
	    "forgotten");
	check(put(&r, "A", 81000, 3) == WS_LATE && r.s->nkeys == 1,
	    "a record for it is then late, and leaves no key behind");
	check(ws_add(r.s, r.s->keys[0], &(struct ws_record){ .ts = 90000,
	    .value = 1 }, &wm) == WS_LATE && wm == 131000 &&
	    r.s->n.late >= 1, "a record too late for every window: WS_LATE "
	    "with the watermark");
	run_end(&r);

	o = opts();
	o.lateness = 120000;
	o.key_field = NULL;
	run_start(&r, &o);
	feed(&r, &(struct rec){ .ts = 70000, .value = 1, .line = "{}",
	    .len = 2, .brace = 1 });
	feed(&r, &(struct rec){ .ts = 150000, .value = 9, .line = "{}",
	    .len = 2, .brace = 1 });
	feed(&r, &(struct rec){ .ts = 80000, .value = 3, .line = "{}",
	    .len = 2, .brace = 1 });
	feed(&r, &(struct rec){ .ts = 90000, .value = 5, .line = "{}",
	    .len = 2, .brace = 1 });
	feed(&r, &(struct rec){ .ts = 10000, .value = 7, .line = "{}",
	    .len = 2, .brace = 1 });
	check(strcmp(fires(&r), "null 60 120 #0 1|null 60 120 #1 2|"
	    "null 60 120 #2 3|null 0 60 #0 1") == 0, "re-firings count up; "
	    "a new window behind the watermark fires at once: %s", fires(&r));
	run_end(&r);
}

static void
test_modes(void)
{
	struct ws_opts o = opts();
	struct run r;
	struct ws_key *k;

	section("records and trailing");
	memset(&r, 0, sizeof(r));
	o.emit = WS_EMIT_RECORDS;
	run_start(&r, &o);
	put(&r, "A", 70000, 1);
	put(&r, "A", 80000, 3);
	k = r.s->keys[0];
	check(k->w[0].nrec == 2 && k->w[0].recs[1].off == k->w[0].recs[0].len &&
	    memcmp(k->w[0].buf, "{\"timestamp\":70000", 18) == 0,
	    "records: an open window keeps its records verbatim, in order");
	put(&r, "A", 130000, 5);
	check(HAS(&r.log, "  {\"timestamp\":70000,\"k\":\"A\",\"price\":1} "
	    "@36\n  {\"timestamp\":80000") && k->w[0].nrec == 1,
	    "records: the firing gets them all, then they are freed");
	run_end(&r);

	o.emit = WS_EMIT_TRAILING;
	o.trailing = 2;
	run_start(&r, &o);
	put(&r, "A", 70000, 1);
	put(&r, "A", 130000, 3);
	put(&r, "A", 190000, 5);
	k = r.s->keys[0];
	check(k->nclosed == 2 && k->closed[0].start == 60000 &&
	    k->closed[1].start == 120000, "trailing: the closed windows, "
	    "oldest first");
	put(&r, "A", 250000, 7);
	check(k->nclosed == 2 && k->closed[0].start == 120000 &&
	    k->closed[1].start == 180000, "trailing: only the newest N stay");
	k->text_ok = 1;
	put(&r, "A", 310000, 9);
	check(k->text_ok == 0, "trailing: a change of the closed windows "
	    "clears the caller's text");
	run_end(&r);
}

static void
test_idle(void)
{
	struct ws_opts o = opts();
	struct run r;

	section("--idle-timeout");
	memset(&r, 0, sizeof(r));
	run_start(&r, &o);
	put(&r, "A", 70000, 1);
	put(&r, "B", 200000, 1);
	check(ws_idle(r.s) == 0 && r.s->unfired == 0 &&
	    r.s->keys[0]->floor == 120000 && r.s->keys[1]->floor == 240000,
	    "per-key: each key's floor is its newest open window's end");
	check(put(&r, "A", 75000, 2) == WS_LATE, "a record for a window the "
	    "floor closed is late");
	check(put(&r, "A", 130000, 3) == 0 && r.s->unfired == 1,
	    "a later record opens a window as usual");
	run_end(&r);

	o.global = 1;
	run_start(&r, &o);
	put(&r, "A", 70000, 1);
	put(&r, "B", 80000, 1);
	check(ws_idle(r.s) == 0 && r.s->gfloor == 120000 &&
	    r.s->nkeys == 0 && strcmp(fires(&r),
	    "\"A\" 60 120 #0 1|\"B\" 60 120 #0 1") == 0, "global: one floor, "
	    "every window fires (and the keys, holding nothing, go)");
	run_end(&r);
}

/*
 * Keys whose windows all fired: under a per-key watermark only the key's
 * watermark stays; under the global one the key goes (and is new if it
 * comes back); --key-ttl forgets a quiet key after firing what it holds.
 */
static void
test_retire(void)
{
	struct ws_opts o = opts();
	struct run r;
	struct ws_key *k;
	int i, ok;

	section("keys that hold nothing");
	memset(&r, 0, sizeof(r));
	run_start(&r, &o);
	put(&r, "A", 70000, 1);
	put(&r, "B", 80000, 1);
	k = r.s->keys[0];
	check(ws_idle(r.s) == 0 && r.s->nkeys == 2 && k->nw == 0 &&
	    k->w == NULL && k->cw == 0 && k->maxts == 70000 &&
	    r.s->nlive == 0, "per-key: a key whose windows all fired keeps "
	    "only its watermark");
	check(put(&r, "A", 75000, 2) == WS_LATE && put(&r, "A", 130000, 2) ==
	    0 && k->nw == 1 && r.s->nlive == 1, "... so its late records stay "
	    "late, and a new window makes it live again");
	run_end(&r);

	o.global = 1;
	run_start(&r, &o);
	put(&r, "A", 10000, 1);
	put(&r, "B", 20000, 1);
	put(&r, "C", 70000, 1);
	check(r.s->nkeys == 1 && r.s->timers.n == 1, "global: keys whose "
	    "windows fired are forgotten");
	put(&r, "B", 80000, 1);
	put(&r, "A", 90000, 1);
	put(&r, "D", 130000, 1);
	check(strstr(fires(&r), "\"C\" 60 120 #0 1|\"B\" 60 120 #0 1|"
	    "\"A\" 60 120 #0 1") != NULL, "... and a key that comes back is "
	    "new: last in first-seen order: %s", fires(&r));
	run_end(&r);

	/* The timer queue fires as the full scan did: end, start, key. */
	o.size = 60000;
	o.slide = 20000;
	o.lateness = 30000;
	run_start(&r, &o);
	ok = 1;
	for (i = 0; i < 3000 && ok; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", (i * 7) % 101);
		ok = put(&r, key, (int64_t)i * 1000 - (i % 5) * 3000,
		    i % 9) != WS_NOMEM;
	}
	check(ok && r.s->timers.n <= r.s->nkeys && r.s->nkeys <= 101 &&
	    ws_finish(r.s) == 0 && r.s->nkeys == 0 && r.s->timers.n == 0 &&
	    r.s->unfired == 0, "sliding, lateness: the timer queue holds the "
	    "keys with windows; the end empties both");
	run_end(&r);

	o = opts();
	o.key_ttl = 100000;
	run_start(&r, &o);
	put(&r, "A", 70000, 1);
	put(&r, "B", 80000, 2);
	put(&r, "B", 170000, 3);
	check(r.s->nkeys == 2 && strcmp(fires(&r), "\"B\" 60 120 #0 1") == 0,
	    "--key-ttl: a key within the TTL stays");
	put(&r, "C", 171000, 4);
	check(r.s->nkeys == 2 && key_named(r.s, "A") == NULL &&
	    strcmp(fires(&r), "\"B\" 60 120 #0 1|\"A\" 60 120 #0 1") == 0,
	    "... and one quiet for longer fires what it holds and is "
	    "forgotten: %s", fires(&r));
	check(put(&r, "A", 75000, 5) == 0 && r.s->nkeys == 3,
	    "... its later records open new windows, not late ones");
	run_end(&r);
}

/* ---- the serialised form ---- */

static int
save(const struct ws *s, struct buf *b)
{
	buf_reset(b);
	return ws_save(s, b);
}

/* A new state of o loaded from b: NULL (err set) when refused. */
static struct ws *
loaded(const struct ws_opts *o, const struct buf *b, char *err, size_t n)
{
	struct ws *s = ws_new(o, err, n);

	if (s == NULL)
		die(err);
	err[0] = '\0';
	if (ws_load(s, b->p, b->len, err, n) == 0)
		return s;
	if (s->nkeys != 0 || s->n.records != 0)
		diag("a refused load left %zu keys", s->nkeys);
	ws_free(s);
	return NULL;
}

/* The state of a small run: two keys, records mode, one open window with a
 * record each, one retained fired window. */
static void
small_state(struct run *r, const struct ws_opts *o)
{
	memset(r, 0, sizeof(*r));
	run_start(r, o);
	put(r, "BTC", 70000, 1);
	put(r, "ETH", 80000, -0.0);
	put(r, "BTC", 130000, 2);
}

static void
test_format(void)
{
	static const char want[] =
	    "{\"format\":\"kinpipe-window-state\",\"version\":2,\"size\":60000,"
	    "\"slide\":60000,\"offset\":0,\"out_of_orderness\":0,"
	    "\"allowed_lateness\":15000,\"watermark\":\"per-key\","
	    "\"emit\":\"records\",\"trailing\":1,\"time_field\":\"timestamp\","
	    "\"value_field\":\"price\",\"key_field\":\"k\","
	    "\"weight_field\":null,\"window_field\":\"window\","
	    "\"max_time\":130000,\"idle_floor\":null,\"records\":3,\"late\":0,"
	    "\"fired\":1,\"refired\":0,\"control\":0,\"keys\":2,\"key_ttl\":0}\n"
	    "{\"t\":\"key\",\"key\":\"BTC\",\"max_time\":130000,"
	    "\"idle_floor\":null,\"windows\":2,\"closed\":0}\n"
	    "{\"t\":\"window\",\"start\":60000,\"end\":120000,\"fires\":1,"
	    "\"records\":0,\"acc\":{\"n\":1,\"shift\":1,\"mean\":0,\"m2\":0,"
	    "\"sum\":0,\"sum_c\":0,\"min\":1,\"max\":1,\"first_time\":70000,"
	    "\"first\":1,\"last_time\":70000,\"last\":1,\"wsum\":0,"
	    "\"wsum_c\":0,\"wsum_x\":0,\"wsum_x_c\":0}}\n"
	    "{\"t\":\"window\",\"start\":120000,\"end\":180000,\"fires\":0,"
	    "\"records\":1,\"acc\":{\"n\":1,\"shift\":2,\"mean\":0,\"m2\":0,"
	    "\"sum\":0,\"sum_c\":0,\"min\":2,\"max\":2,\"first_time\":130000,"
	    "\"first\":2,\"last_time\":130000,\"last\":2,\"wsum\":0,"
	    "\"wsum_c\":0,\"wsum_x\":0,\"wsum_x_c\":0}}\n"
	    "{\"t\":\"record\",\"brace\":39,\"empty\":false,\"line\":"
	    "\"{\\\"timestamp\\\":130000,\\\"k\\\":\\\"BTC\\\","
	    "\\\"price\\\":2}\"}\n"
	    "{\"t\":\"key\",\"key\":\"ETH\",\"max_time\":80000,"
	    "\"idle_floor\":null,\"windows\":1,\"closed\":0}\n"
	    "{\"t\":\"window\",\"start\":60000,\"end\":120000,\"fires\":0,"
	    "\"records\":1,\"acc\":{\"n\":1,\"shift\":-0,\"mean\":0,\"m2\":0,"
	    "\"sum\":0,\"sum_c\":0,\"min\":-0,\"max\":-0,\"first_time\":80000,"
	    "\"first\":-0,\"last_time\":80000,\"last\":-0,\"wsum\":0,"
	    "\"wsum_c\":0,\"wsum_x\":0,\"wsum_x_c\":0}}\n"
	    "{\"t\":\"record\",\"brace\":39,\"empty\":false,\"line\":"
	    "\"{\\\"timestamp\\\":80000,\\\"k\\\":\\\"ETH\\\","
	    "\\\"price\\\":-0}\"}\n";
	static const char example[] =
	    "{\"format\":\"kinpipe-window-state\",\"version\":2,\"size\":60000,"
	    "\"slide\":60000,\"offset\":0,\"out_of_orderness\":0,"
	    "\"allowed_lateness\":0,\"watermark\":\"per-key\","
	    "\"emit\":\"records\",\"trailing\":1,\"time_field\":\"timestamp\","
	    "\"value_field\":\"price\",\"key_field\":\"symbol\","
	    "\"weight_field\":null,\"window_field\":\"window\","
	    "\"max_time\":70000,\"idle_floor\":null,\"records\":1,\"late\":0,"
	    "\"fired\":0,\"refired\":0,\"control\":0,\"keys\":1,\"key_ttl\":0}\n"
	    "{\"t\":\"key\",\"key\":\"BTCUSDT\",\"max_time\":70000,"
	    "\"idle_floor\":null,\"windows\":1,\"closed\":0}\n"
	    "{\"t\":\"window\",\"start\":60000,\"end\":120000,\"fires\":0,"
	    "\"records\":1,\"acc\":{\"n\":1,\"shift\":1,\"mean\":0,\"m2\":0,"
	    "\"sum\":0,\"sum_c\":0,\"min\":1,\"max\":1,\"first_time\":70000,"
	    "\"first\":1,\"last_time\":70000,\"last\":1,\"wsum\":0,"
	    "\"wsum_c\":0,\"wsum_x\":0,\"wsum_x_c\":0}}\n"
	    "{\"t\":\"record\",\"brace\":44,\"empty\":false,\"line\":"
	    "\"{\\\"timestamp\\\":70,\\\"symbol\\\":\\\"BTCUSDT\\\","
	    "\\\"price\\\":1}\"}\n"
	    "{\"t\":\"end\",\"lines\":4,\"crc32\":2135341039}\n";
	struct ws_opts o = opts();
	struct buf b = BUF_INIT, b2 = BUF_INIT, end = BUF_INIT;
	struct run r;
	struct ws *s;
	char err[256];
	size_t n = sizeof(want) - 1;

	section("the serialised form");
	o.emit = WS_EMIT_RECORDS;
	o.lateness = 15000;
	small_state(&r, &o);
	save(r.s, &b);
	buf_printf(&end, "{\"t\":\"end\",\"lines\":8,\"crc32\":%lu}\n",
	    crc32_z(crc32_z(0, NULL, 0), (const Bytef *)want, n));
	check(b.len == n + end.len && memcmp(b.p, want, n) == 0 &&
	    memcmp(b.p + n, end.p, end.len) == 0, "the state is written "
	    "exactly as winstate.h documents it");
	if (b.len < n || memcmp(b.p, want, n) != 0)
		show_diff("saved vs documented", b.p, b.len, want, n);
	s = loaded(&o, &b, err, sizeof(err));
	check(s != NULL, "it loads back: %s", err);
	if (s != NULL) {
		save(s, &b2);
		check(same_bytes("resaved", &b, &b2), "and saves to the same "
		    "bytes");
		check(s->keys[1]->w[0].acc.min == 0 &&
		    signbit(s->keys[1]->w[0].acc.min) && s->unfired == 2 &&
		    s->keys[0]->next_due == 120000 + 15000,
		    "-0 keeps its sign; what is derived is derived again");
		ws_free(s);
	}
	run_end(&r);

	/* The example of winstate.h, as it is printed there. */
	o = opts();
	o.emit = WS_EMIT_RECORDS;
	o.key_field = "symbol";
	memset(&r, 0, sizeof(r));
	run_start(&r, &o);
	feed(&r, &(struct rec){ .ts = 70000, .value = 1,
	    .kind = WS_KEY_STRING, .key = "BTCUSDT", .keylen = 7,
	    .line = "{\"timestamp\":70,\"symbol\":\"BTCUSDT\",\"price\":1}",
	    .len = 45, .brace = 44 });
	save(r.s, &b);
	check(IS(&b, example), "the example of winstate.h is what is written");
	run_end(&r);

	o = opts();
	run_start(&r, &o);
	save(r.s, &b);
	check(HAS(&b, "\"keys\":0,\"key_ttl\":0}\n{\"t\":\"end\",\"lines\":1,\"crc32\":") &&
	    memchr(b.p, '\n', b.len - 1) == memrchr(b.p, '\n', b.len - 1),
	    "an empty state: a header and the end line");
	s = loaded(&o, &b, err, sizeof(err));
	check(s != NULL && s->nkeys == 0 && s->gmax == WS_NO_TIME,
	    "an empty state loads back empty: %s", err);
	ws_free(s);
	run_end(&r);
	buf_free(&b);
	buf_free(&b2);
	buf_free(&end);
}

/* Replaces the first occurrence of from by to in b, then seals b again
 * (lines and checksum of its end line), so that only the change is
 * wrong.  Dies when from is not there. */
static void
edit(struct buf *b, const char *from, const char *to)
{
	struct buf n = BUF_INIT;
	const char *at = find(b, from), *last;
	size_t lines = 0, i;

	buf_add(&n, b->p, (size_t)(at - b->p));
	buf_str(&n, to);
	buf_add(&n, at + strlen(from), b->len - (size_t)(at - b->p) -
	    strlen(from));
	last = memrchr(n.p, '\n', n.len - 1) + 1;
	for (i = 0; i < (size_t)(last - n.p); i++)
		lines += n.p[i] == '\n';
	buf_reset(b);
	buf_add(b, n.p, (size_t)(last - n.p));
	buf_printf(b, "{\"t\":\"end\",\"lines\":%zu,\"crc32\":%lu}\n", lines,
	    crc32_z(crc32_z(0, NULL, 0), (const Bytef *)n.p,
	    (size_t)(last - n.p)));
	buf_free(&n);
}

/* One corruption: from replaced by to (sealed again) must be refused with
 * a reason containing want. */
static void
refused(const struct ws_opts *o, const struct buf *good, const char *from,
    const char *to, const char *want)
{
	struct buf b = BUF_INIT;
	struct ws *s;
	char err[256];

	buf_add(&b, good->p, good->len);
	edit(&b, from, to);
	s = loaded(o, &b, err, sizeof(err));
	check(s == NULL && strstr(err, want) != NULL, "%s -> %s: refused: %s",
	    from, to, err);
	ws_free(s);
	buf_free(&b);
}

static void
test_refusals(void)
{
	/* A change to a valid state (sealed again), and why it is refused. */
	static const struct {
		const char *from, *to, *why;
	} cases[] = {
		{ "\"version\":2", "\"version\":0", "no such version" },
		{ "kinpipe-window-state", "kinpipe-window-stats",
		    "not a window state" },
		{ "\"format\":\"kinpipe-window-state\",", "",
		    "not a window state" },
		{ "\"size\":60000", "\"size\":30000",
		    "--size differs: the state was saved with 30000ms, this "
		    "run has 60000ms" },
		{ "\"slide\":60000", "\"slide\":30000", "--slide" },
		{ "\"offset\":0", "\"offset\":1", "--offset" },
		{ "\"out_of_orderness\":0", "\"out_of_orderness\":5",
		    "--out-of-orderness" },
		{ "\"allowed_lateness\":15000", "\"allowed_lateness\":0",
		    "--allowed-lateness" },
		{ "per-key", "global", "--watermark differs" },
		{ "\"emit\":\"records\"", "\"emit\":\"windows\"",
		    "--emit differs" },
		{ "\"trailing\":1", "\"trailing\":3", "--trailing differs" },
		{ "\"time_field\":\"timestamp\"", "\"time_field\":\"ts\"",
		    "--time-field differs" },
		{ "\"value_field\":\"price\"", "\"value_field\":\"p\"",
		    "--value-field differs" },
		{ "\"key_field\":\"k\"", "\"key_field\":null",
		    "--key-field differs: the state was saved with none" },
		{ "\"weight_field\":null", "\"weight_field\":\"v\"",
		    "--weight-field differs" },
		{ "\"window_field\":\"window\"", "\"window_field\":\"w\"",
		    "--window-field differs" },
		{ "\"keys\":2", "\"keys\":3",
		    "a key line expected, found the end line" },
		{ "\"keys\":2", "\"keys\":1", "a line after the last" },
		{ "\"refired\":0", "\"refired\":2", "more than fired" },
		{ "\"records\":3", "\"records\":-3", "not a whole" },
		{ "\"max_time\":130000,\"idle_floor\":null,\"r",
		    "\"max_time\":140000,\"idle_floor\":null,\"r",
		    "largest max_time" },
		{ "\"idle_floor\":null,\"records\"",
		    "\"idle_floor\":5,\"records\"", "per-key" },
		{ "\"key\":\"BTC\"", "\"key\":\"ETH\"", "appears twice" },
		{ "\"key\":\"BTC\"", "\"key\":null", "key: null" },
		{ "\"t\":\"key\",\"key\":\"BTC\"", "\"t\":\"key\"",
		    "key: missing" },
		{ "\"t\":\"key\"", "\"t\":\"window\"",
		    "a key line expected, found \"window\"" },
		{ "\"max_time\":130000,\"idle_floor\":null,\"w",
		    "\"max_time\":\"130000\",\"idle_floor\":null,\"w",
		    "max_time: not a whole number" },
		{ "\"windows\":2", "\"windows\":1",
		    "a key line expected, found \"window\"" },
		{ "\"start\":60000,\"end\":120000,\"fires\":1",
		    "\"start\":60001,\"end\":120001,\"fires\":1",
		    "not on the grid" },
		{ "\"end\":120000,\"fires\":1", "\"end\":110000,\"fires\":1",
		    "end: not start + --size" },
		{ "\"start\":120000,\"end\":180000",
		    "\"start\":0,\"end\":60000", "windows out of order" },
		{ "\"fires\":1", "\"fires\":0", "fires: 0, but the watermark" },
		{ "\"fires\":1", "\"fires\":4294967296",
		    "fires: out of range" },
		{ "\"fires\":1,\"records\":0", "\"fires\":1,\"records\":1",
		    "records: 1, not 0" },
		{ "\"acc\":{\"n\":1,\"shift\":1",
		    "\"acc\":{\"n\":0,\"shift\":1", "at least one record" },
		{ "\"first_time\":70000", "\"first_time\":50000",
		    "acc.first_time: out of range" },
		{ "\"min\":1,\"max\":1", "\"min\":1,\"max\":0",
		    "not a finite range" },
		{ "\"min\":1,\"max\":1", "\"min\":1,\"max\":\"NaN\"",
		    "not a finite range" },
		{ "\"shift\":1", "\"shift\":7", "outside" },
		{ "\"m2\":0", "\"m2\":true", "acc.m2: not a number" },
		{ "\"m2\":0",
		    "\"m2\":0.000000000000000000000000000000000000000",
		    "acc.m2: a number longer than 39 characters" },
		{ "\"brace\":39", "\"brace\":38", "closing brace is at 39" },
		{ "\"empty\":false", "\"empty\":true",
		    "empty: does not match" },
		{ "\\\"price\\\":2}", "\\\"price\\\":2", "line: invalid JSON" },
		{ "\"t\":\"record\",\"brace\":39",
		    "\"t\":\"closed\",\"brace\":39", "a record line expected" },
		{ "\"windows\":2,\"closed\":0", "\"windows\":2,\"closed\":1",
		    "closed: out of range" },
	};
	struct ws_opts o = opts(), t = opts();
	struct buf good = BUF_INIT, b = BUF_INIT, tr = BUF_INIT;
	struct run r;
	struct ws *s;
	char err[256];
	size_t cut, bad, i;

	section("refused states");
	o.emit = WS_EMIT_RECORDS;
	o.lateness = 15000;
	small_state(&r, &o);
	save(r.s, &good);
	run_end(&r);

	s = loaded(&o, &(struct buf){ (char *)"", 0, 0, 0 }, err,
	    sizeof(err));
	check(s == NULL && strstr(err, "empty"), "an empty file: %s", err);
	for (cut = 1, bad = 0; cut < good.len; cut += 7) {
		struct buf part = { good.p, cut, 0, 0 };

		s = loaded(&o, &part, err, sizeof(err));
		if (s != NULL || (strstr(err, "truncated") == NULL &&
		    strstr(err, "checksum") == NULL)) {
			if (bad++ == 0)
				diag("cut at %zu: %s", cut, err);
		}
		ws_free(s);
	}
	check(bad == 0, "cut short anywhere: refused as truncated");
	buf_add(&b, good.p, good.len);
	b.p[200] ^= 1;
	s = loaded(&o, &b, err, sizeof(err));
	check(s == NULL && strstr(err, "checksum mismatch"), "one bit "
	    "flipped: %s", err);
	ws_free(s);
	buf_reset(&b);
	buf_add(&b, good.p, good.len);
	*(find(&b, "\"version\":2") + 10) = '3';
	s = loaded(&o, &b, err, sizeof(err));
	check(s == NULL && strstr(err, "version 3 is newer"), "a newer "
	    "version, whatever else it holds: %s", err);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(&o, &good, cases[i].from, cases[i].to, cases[i].why);
	/* Version 1: the same without key_ttl, read as no TTL. */
	buf_reset(&b);
	buf_add(&b, good.p, good.len);
	edit(&b, "\"version\":2", "\"version\":1");
	edit(&b, ",\"key_ttl\":0}", "}");
	s = loaded(&o, &b, err, sizeof(err));
	check(s != NULL && s->nkeys == 2, "a version 1 state loads: %s",
	    s == NULL ? err : "");
	ws_free(s);
	o.key_ttl = 1000;
	s = loaded(&o, &b, err, sizeof(err));
	check(s == NULL && strstr(err, "--key-ttl differs"), "... but not "
	    "into a run with --key-ttl: %s", err);
	o.key_ttl = 0;
	buf_reset(&b);
	buf_add(&b, good.p, good.len);
	edit(&b, "\"key_ttl\":0}\n", "\"key_ttl\":0}\nnot json\n");
	s = loaded(&o, &b, err, sizeof(err));
	check(s == NULL && strstr(err, "line 2: invalid JSON"),
	    "a line that is not JSON: %s", err);
	buf_reset(&b);
	buf_add(&b, good.p, good.len);
	/* The last digit: the number stays in range whatever it is. */
	*(strchr(find(&b, "\"crc32\":"), '}') - 1) ^= 1;
	s = loaded(&o, &b, err, sizeof(err));
	check(s == NULL && strstr(err, "checksum mismatch"), "a wrong "
	    "checksum: %s", err);
	buf_reset(&b);
	buf_add(&b, good.p, good.len);
	*(find(&b, "\"lines\":8") + 8) = '7';
	s = loaded(&o, &b, err, sizeof(err));
	check(s == NULL && strstr(err, "the end line counts 7 lines, the state "
	    "has 8"), "a wrong line count: %s", err);
	buf_reset(&b);
	buf_add(&b, good.p, good.len);
	buf_lit(&b, "{}\n");
	s = loaded(&o, &b, err, sizeof(err));
	check(s == NULL && strstr(err, "truncated: no end line"), "a line "
	    "after the end line: %s", err);

	t.emit = WS_EMIT_TRAILING;
	t.trailing = 2;
	memset(&r, 0, sizeof(r));
	run_start(&r, &t);
	put(&r, "A", 70000, 1);
	put(&r, "A", 130000, 2);
	put(&r, "A", 190000, 3);
	save(r.s, &tr);
	run_end(&r);
	s = loaded(&t, &tr, err, sizeof(err));
	check(s != NULL && s->keys[0]->nclosed == 2 &&
	    s->keys[0]->closed[1].start == 120000, "trailing: closed windows "
	    "load back: %s", err);
	ws_free(s);
	refused(&t, &tr, "\"t\":\"closed\",\"start\":120000,\"end\":180000",
	    "\"t\":\"closed\",\"start\":0,\"end\":60000",
	    "closed windows out of order");
	refused(&t, &tr, "\"windows\":1,\"closed\":2",
	    "\"windows\":1,\"closed\":3", "closed: out of range");

	memset(&r, 0, sizeof(r));
	run_start(&r, &o);
	put(&r, "X", 1000, 1);
	check(ws_load(r.s, good.p, good.len, err, sizeof(err)) != 0 &&
	    strstr(err, "not empty") && r.s->nkeys == 1 &&
	    r.s->n.records == 1, "loading into a state in use: refused, the "
	    "state untouched");
	run_end(&r);

	buf_free(&good);
	buf_free(&b);
	buf_free(&tr);
}

/* Keys of every kind, NaN and infinities, records with escapes and
 * blanks: through a file descriptor and back. */
static void
test_fd(void)
{
	struct ws_opts o = opts();
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct recs rs = { NULL, 0, 0 };
	struct run r;
	struct ws *s;
	char path[4200], err[256];
	int fd, has_nan = 0, has_inf = 0;
	size_t i;

	section("descriptors");
	o.emit = WS_EMIT_RECORDS;
	o.key_field = "symbol";
	o.size = o.slide = 3600000;
	gen_records(7, 600, &rs);
	memset(&r, 0, sizeof(r));
	run_start(&r, &o);
	for (i = 0; i < rs.n; i++)
		feed(&r, &rs.r[i]);
	save(r.s, &a);
	has_nan = HAS(&a, "\"NaN\"");
	has_inf = HAS(&a, "Infinity\"");
	check(has_nan && has_inf, "the generated state holds NaN and "
	    "infinite sums");
	check(HAS(&a, "\"key\":{\"x\":[1,\"\xc3\xa9\"]},") &&
	    HAS(&a, "\"key\":99999999999999999999,") &&
	    HAS(&a, "\"key\":123456789012345678901234567890,") &&
	    HAS(&a, "\"key\":\"\xc3\xa9\\\"q\\u0001\",") &&
	    HAS(&a, "\"key\":true,"),
	    "keys are written as their JSON text without blanks");
	tmp_path(path, sizeof(path), "state");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	check(fd >= 0 && ws_save_fd(r.s, fd, err, sizeof(err)) == 0,
	    "ws_save_fd writes to a file");
	if (fd >= 0)
		close(fd);
	fd = open(path, O_RDONLY);
	s = ws_new(&o, err, sizeof(err));
	check(fd >= 0 && s != NULL && ws_load_fd(s, fd, err, sizeof(err)) == 0,
	    "ws_load_fd reads it back: %s", err);
	if (fd >= 0)
		close(fd);
	save(s, &b);
	check(same_bytes("through a file", &a, &b), "the same bytes through "
	    "a file");
	fd = open(path, O_RDONLY);
	check(fd >= 0 && ws_save_fd(r.s, fd, err, sizeof(err)) != 0 &&
	    strstr(err, "Bad file"), "ws_save_fd to a read-only descriptor: "
	    "%s", err);
	if (fd >= 0)
		close(fd);
	ws_clear(s);
	check(ws_load_fd(s, -1, err, sizeof(err)) != 0 && strstr(err,
	    "read: Bad file"), "ws_load_fd from a bad descriptor: %s", err);
	ws_free(s);
	run_end(&r);
	recs_free(&rs);
	buf_free(&a);
	buf_free(&b);
}

/* ---- round trips ---- */

/* Positions of the cuts: every `every` records, and the last. */
struct cuts {
	size_t every, n;
	struct buf *saved;
};

/* The uninterrupted run: its log, and its state saved at each cut. */
static void
reference(const struct recs *in, const struct ws_opts *o, struct cuts *c,
    struct buf *log)
{
	struct run r;
	size_t i;

	memset(&r, 0, sizeof(r));
	run_start(&r, o);
	for (i = 0; i < in->n; i++) {
		if (i > 0 && i % c->every == 0) {
			if (i % (3 * c->every) == 0)
				ws_idle(r.s);
			save(r.s, &c->saved[i / c->every - 1]);
		}
		if (feed(&r, &in->r[i]) < 0)
			die("feed failed");
	}
	log_counts(&r);
	ws_finish(r.s);
	log_counts(&r);
	buf_add(log, r.log.p, r.log.len);
	run_end(&r);
}

/*
 * Saves r's state into now (and, at odd cuts, through ws_save_fd() into the
 * file path), throws the state away and loads a new one from the bytes or
 * the file.  Returns 0, or -1 with err.
 */
static int
cut(struct run *r, const struct ws_opts *o, size_t j, const char *path,
    struct buf *now, char *err, size_t errsz)
{
	int fd = -1, rc;

	save(r->s, now);
	if (j % 2 == 1) {
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ws_save_fd(r->s, fd, err, errsz) != 0 ||
		    lseek(fd, 0, SEEK_SET) != 0)
			die("cannot write the cut file");
	}
	ws_free(r->s);
	run_start(r, o);
	err[0] = '\0';
	if (fd < 0) {
		rc = ws_load(r->s, now->p, now->len, err, errsz);
	} else {
		rc = ws_load_fd(r->s, fd, err, errsz);
		close(fd);
	}
	return rc;
}

/*
 * Feeds in to a state that is saved at every cut, thrown away and loaded
 * back, then compared with the uninterrupted run: the state at each cut,
 * the state loaded and saved again, and the output.
 */
static void
roundtrip(const char *what, const struct recs *in, const struct ws_opts *o,
    size_t every)
{
	struct cuts c = { every, 0, NULL };
	struct buf ref = BUF_INIT, now = BUF_INIT, again = BUF_INIT;
	struct run r;
	size_t i, differ = 0, reload = 0, refused_n = 0;
	char err[256], path[4200];

	c.n = (in->n - 1) / every;
	c.saved = calloc(c.n + 1, sizeof(*c.saved));
	if (c.saved == NULL)
		die("out of memory");
	reference(in, o, &c, &ref);
	tmp_path(path, sizeof(path), "cut");
	memset(&r, 0, sizeof(r));
	run_start(&r, o);
	for (i = 0; i < in->n; i++) {
		if (i > 0 && i % every == 0) {
			size_t j = i / every - 1;

			if (i % (3 * every) == 0)
				ws_idle(r.s);
			if (cut(&r, o, j, path, &now, err, sizeof(err)) != 0 &&
			    refused_n++ == 0)
				diag("cut at record %zu refused: %s", i, err);
			/* Differences are counted; the first is shown. */
			if (!eq(&now, &c.saved[j]) && differ++ == 0)
				same_bytes("cut", &now, &c.saved[j]);
			save(r.s, &again);
			if (!eq(&now, &again) && reload++ == 0)
				same_bytes("reloaded", &now, &again);
		}
		if (feed(&r, &in->r[i]) < 0)
			die("feed failed");
	}
	log_counts(&r);
	ws_finish(r.s);
	log_counts(&r);
	check(differ == 0 && refused_n == 0, "%s: the state saved at %zu "
	    "cuts, each loaded back, equals the uninterrupted run's", what,
	    c.n);
	check(reload == 0, "%s: each loaded state saves to the same bytes",
	    what);
	check(same_bytes("output", &r.log, &ref), "%s: the output (%zu "
	    "bytes) equals the uninterrupted run's", what, ref.len);
	run_end(&r);
	for (i = 0; i < c.n; i++)
		buf_free(&c.saved[i]);
	free(c.saved);
	buf_free(&ref);
	buf_free(&now);
	buf_free(&again);
}

static void
test_roundtrips(const char *root)
{
	static const char *const emits[] = { "windows", "records",
	    "trailing" };
	struct recs trades = { NULL, 0, 0 }, gen = { NULL, 0, 0 };
	char what[160];
	int e, sl, g, lt, d;

	section("round trips");
	if (!check(load_trades(root, 8000, &trades) == 0 &&
	    trades.n == 8000, "read 8000 real trades from %s/tests/data",
	    root))
		return;
	gen_records(20240809, 4000, &gen);
	for (d = 0; d < 2; d++)
	for (e = 0; e < 3; e++)
	for (sl = 0; sl < 2; sl++)
	for (g = 0; g < 2; g++)
	for (lt = 0; lt < 2; lt++) {
		struct ws_opts o = opts();

		o.emit = (enum ws_emit)e;
		o.key_field = "symbol";
		o.weight_field = "volume";
		o.size = 5000;
		o.slide = sl ? 2000 : 5000;
		o.offset = sl ? -1000 : 0;
		o.trailing = sl ? 1 : 3;
		o.global = g;
		o.ooo = d ? 1000 : 0;
		o.lateness = lt ? 3000 : 0;
		snprintf(what, sizeof(what), "%s, %s, %s, %s, lateness %s",
		    d ? "generated" : "trades", emits[e],
		    sl ? "sliding 5s/2s" : "tumbling 5s",
		    g ? "global" : "per-key", lt ? "3s" : "0");
		roundtrip(what, d ? &gen : &trades, &o, d ? 331 : 499);
	}
	/* --key-ttl: keys forgotten (their windows fired) between cuts. */
	for (e = 0; e < 3; e++)
	for (g = 0; g < 2; g++) {
		struct ws_opts o = opts();

		o.emit = (enum ws_emit)e;
		o.key_field = "symbol";
		o.size = o.slide = 5000;
		o.global = g;
		o.lateness = 3000;
		o.key_ttl = 2000;
		snprintf(what, sizeof(what), "trades, %s, tumbling 5s, %s, "
		    "lateness 3s, key TTL 2s", emits[e],
		    g ? "global" : "per-key");
		roundtrip(what, &trades, &o, 499);
	}
	recs_free(&trades);
	recs_free(&gen);
}

/* The repository: $KP_ROOT, else two folders above this driver's. */
static void
find_root(const char *argv0, char *root, size_t n)
{
	const char *env = getenv("KP_ROOT");
	const char *slash;

	if (env != NULL && *env != '\0') {
		snprintf(root, n, "%s", env);
		return;
	}
	slash = strrchr(argv0, '/');
	if (slash == NULL)
		snprintf(root, n, "../..");
	else
		snprintf(root, n, "%.*s/../..", (int)(slash - argv0), argv0);
}

int
main(int argc, char **argv)
{
	char root[4096], p[4200];

	if (tap_begin("winstate_test", argc, argv) != 0)
		return 2;
	find_root(argv[0], root, sizeof(root));
	test_acc();
	test_keys();
	test_assign();
	test_bad_opts();
	test_fire();
	test_modes();
	test_idle();
	test_retire();
	test_format();
	test_refusals();
	test_fd();
	test_roundtrips(root);
	tmp_path(p, sizeof(p), "state");
	unlink(p);
	tmp_path(p, sizeof(p), "cut");
	unlink(p);
	return tap_end();
}
