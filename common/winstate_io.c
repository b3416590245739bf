/*
 * winstate_io.c - the serialised form of the window state (winstate.h
 * documents it): ws_save() writes it, ws_load() checks and reads it.
 *
 * The reader is strict because a checkpoint it accepts becomes the truth of
 * every later run: a file that is not exactly what a writer of this version
 * could have written is refused with the line and the reason, and the state
 * is left empty rather than half loaded.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "buf.h"
#include "jfield.h"
#include "jscan.h"
#include "kpfs.h"
#include "kptime.h"
#include "winstate.h"
#include "winstate_int.h"

static const char *const emit_words[] = { "windows", "records", "trailing",
    NULL };
static const char *const wm_words[] = { "per-key", "global", NULL };

/* Event times and window bounds a state may hold: far inside int64, so
 * that start + size + lateness cannot overflow. */
#define TIME_LIMIT (INT64_C(1) << 60)

/* Bytes a save to a descriptor gathers before it writes. */
#define FLUSH_AT 65536

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the lines and their members ---- */

/* The kinds of line.  Each has one list of member names, in the order
 * written, that the writer fills by index and the reader looks for. */
enum { L_HEAD, L_KEY, L_WIN, L_REC, L_CLOSED, L_END, L_N };

static const char *const head_names[] = { "format", "version", "size",
    "slide", "offset", "out_of_orderness", "allowed_lateness", "watermark",
    "emit", "trailing", "time_field", "value_field", "key_field",
    "weight_field", "window_field", "max_time", "idle_floor", "records",
    "late", "fired", "refired", "control", "keys", "key_ttl", NULL };
enum {
	H_FORMAT, H_VERSION, H_SIZE, H_SLIDE, H_OFFSET, H_OOO, H_LATENESS,
	H_WATERMARK, H_EMIT, H_TRAILING, H_TIME, H_VALUE, H_KEY, H_WEIGHT,
	H_WINDOW, H_MAX, H_FLOOR, H_RECORDS, H_LATE, H_FIRED, H_REFIRED,
	H_CONTROL, H_KEYS, H_KEY_TTL, H_N
};

static const char *const key_names[] = { "t", "key", "max_time",
    "idle_floor", "windows", "closed", NULL };
enum { K_T, K_KEY, K_MAX, K_FLOOR, K_WINDOWS, K_CLOSED, K_N };

/* "acc" comes last: the reader looks for each member of acc_members
 * below as "acc.<name>", from W_ACC (C_ACC) on. */
static const char *const win_names[] = { "t", "start", "end", "fires",
    "records", "acc", NULL };
enum { W_T, W_START, W_END, W_FIRES, W_RECORDS, W_ACC, W_N };

static const char *const rec_names[] = { "t", "brace", "empty", "line",
    NULL };
enum { R_T, R_BRACE, R_EMPTY, R_LINE, R_N };

static const char *const closed_names[] = { "t", "start", "end", "acc",
    NULL };
enum { C_T, C_START, C_END, C_ACC, C_N };

static const char *const end_names[] = { "t", "lines", "crc32", NULL };
enum { E_T, E_LINES, E_CRC, E_N };

static const char *const *const names[L_N] = { head_names, key_names,
    win_names, rec_names, closed_names, end_names };

/* The "t" of each kind of line; the header has "format" instead. */
static const char *const kinds[L_N] = { NULL, "key", "window", "record",
    "closed", "end" };

/* What a member's value is, and how it is written. */
enum mkind {
	M_INT,      /* int64_t; WS_NO_TIME (a time not seen yet) is null */
	M_COUNT,    /* uint64_t */
	M_NUM,      /* double, read back to the same bits */
	M_STR,      /* a NUL-terminated string, or NULL for null */
	M_RAW,      /* a NUL-terminated JSON literal, as it is */
	M_BYTES,    /* struct bytes, as a JSON string */
	M_KEY,      /* struct ws_key: its JSON value */
	M_ACC,      /* struct ws_acc: an object of acc_members */
};

struct bytes {
	const char *p;
	size_t n;
};

/* The value of a member: where it is, and its kind. */
struct value {
	enum mkind kind;
	const void *p;
};

/* The members of an accumulator, in the order written (winstate.h), and
 * where struct ws_acc keeps each. */
static const struct {
	const char *name;
	enum mkind kind;
	size_t off;
} acc_members[] = {
	{ "n", M_COUNT, offsetof(struct ws_acc, n) },
	{ "shift", M_NUM, offsetof(struct ws_acc, shift) },
	{ "mean", M_NUM, offsetof(struct ws_acc, wmean) },
	{ "m2", M_NUM, offsetof(struct ws_acc, m2) },
	{ "sum", M_NUM, offsetof(struct ws_acc, sum) },
	{ "sum_c", M_NUM, offsetof(struct ws_acc, sumc) },
	{ "min", M_NUM, offsetof(struct ws_acc, min) },
	{ "max", M_NUM, offsetof(struct ws_acc, max) },
	{ "first_time", M_INT, offsetof(struct ws_acc, first_ts) },
	{ "first", M_NUM, offsetof(struct ws_acc, first) },
	{ "last_time", M_INT, offsetof(struct ws_acc, last_ts) },
	{ "last", M_NUM, offsetof(struct ws_acc, last) },
	{ "wsum", M_NUM, offsetof(struct ws_acc, wsum) },
	{ "wsum_c", M_NUM, offsetof(struct ws_acc, wsumc) },
	{ "wsum_x", M_NUM, offsetof(struct ws_acc, wx) },
	{ "wsum_x_c", M_NUM, offsetof(struct ws_acc, wxc) },
};

/* ---- writing ---- */

struct sink {
	struct buf *b;
	size_t from;        /* where this save starts in b */
	size_t done;        /* b->p[from..done) are in crc */
	uLong crc;
	uint64_t lines;
	int to_fd;          /* write to fd; else everything stays in b */
	int fd;
	int err;            /* errno of a failed write, or ENOMEM */
};

/* A double that reads back to the same bits: the shortest round-trip
 * form keeps the sign of -0; JSON has no NaN or infinity, so those are
 * strings (a NaN's payload is not kept: the statistics only ever print a
 * NaN as null, and it stays NaN through every operation). */
static void
put_num(struct buf *b, double v)
{
	if (isnan(v))
		buf_lit(b, "\"NaN\"");
	else if (isinf(v) && v > 0)
		buf_lit(b, "\"Infinity\"");
	else if (isinf(v))
		buf_lit(b, "\"-Infinity\"");
	else
		buf_double(b, v);
}

static void put_line(struct buf *b, const char *const *name,
    const struct value *v, size_t n);

static void
put_acc(struct buf *b, const struct ws_acc *a)
{
	const char *name[NELEM(acc_members)];
	struct value v[NELEM(acc_members)];
	size_t i;

	for (i = 0; i < NELEM(acc_members); i++) {
		name[i] = acc_members[i].name;
		v[i].kind = acc_members[i].kind;
		v[i].p = (const char *)a + acc_members[i].off;
	}
	put_line(b, name, v, NELEM(acc_members));
}

static void
put_value(struct buf *b, const struct value *v)
{
	const int64_t *i = v->p;
	const struct bytes *by = v->p;

	switch (v->kind) {
	case M_INT:
		if (*i == WS_NO_TIME)
			buf_lit(b, "null");
		else
			buf_i64(b, *i);
		break;
	case M_COUNT:
		buf_u64(b, *(const uint64_t *)v->p);
		break;
	case M_STR:
		if (v->p == NULL)
			buf_lit(b, "null");
		else
			buf_jstrz(b, v->p);
		break;
	case M_NUM:
		put_num(b, *(const double *)v->p);
		break;
	case M_BYTES:
		buf_jstr(b, by->p, by->n);
		break;
	case M_RAW:
		buf_str(b, v->p);
		break;
	case M_KEY:
		ws_key_json(v->p, b);
		break;
	case M_ACC:
		put_acc(b, v->p);
		break;
	}
}

/* An object of n members: name[i] with value v[i]. */
static void
put_line(struct buf *b, const char *const *name, const struct value *v,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		buf_char(b, i == 0 ? '{' : ',');
		buf_jstrz(b, name[i]);
		buf_char(b, ':');
		put_value(b, &v[i]);
	}
	buf_char(b, '}');
}

static void
put_header(struct buf *b, const struct ws *s)
{
	const struct ws_opts *o = &s->o;
	const uint64_t u[] = { WS_FORMAT_VERSION, o->trailing, s->n.records,
	    s->n.late, s->n.fired, s->n.refired, s->n.control, s->nkeys };
	const struct value v[H_N] = {
		[H_FORMAT] = { M_STR, WS_FORMAT_NAME },
		[H_VERSION] = { M_COUNT, &u[0] },
		[H_SIZE] = { M_INT, &o->size },
		[H_SLIDE] = { M_INT, &o->slide },
		[H_OFFSET] = { M_INT, &o->offset },
		[H_OOO] = { M_INT, &o->ooo },
		[H_LATENESS] = { M_INT, &o->lateness },
		[H_WATERMARK] = { M_STR, wm_words[o->global ? 1 : 0] },
		[H_EMIT] = { M_STR, emit_words[o->emit] },
		[H_TRAILING] = { M_COUNT, &u[1] },
		[H_TIME] = { M_STR, o->time_field },
		[H_VALUE] = { M_STR, o->value_field },
		[H_KEY] = { M_STR, o->key_field },
		[H_WEIGHT] = { M_STR, o->weight_field },
		[H_WINDOW] = { M_STR, o->window_field },
		[H_MAX] = { M_INT, &s->gmax },
		[H_FLOOR] = { M_INT, &s->gfloor },
		[H_RECORDS] = { M_COUNT, &u[2] },
		[H_LATE] = { M_COUNT, &u[3] },
		[H_FIRED] = { M_COUNT, &u[4] },
		[H_REFIRED] = { M_COUNT, &u[5] },
		[H_CONTROL] = { M_COUNT, &u[6] },
		[H_KEYS] = { M_COUNT, &u[7] },
		[H_KEY_TTL] = { M_INT, &o->key_ttl },
	};

	put_line(b, head_names, v, H_N);
}

/* A key line, then its windows with their records, then its closed
 * windows, each line passed to line(). */
static void
put_key(struct sink *k, const struct ws_key *key,
    void (*line)(struct sink *))
{
	const uint64_t u[] = { key->nw, key->nclosed };
	const struct value kv[K_N] = {
		[K_T] = { M_STR, "key" },
		[K_KEY] = { M_KEY, key },
		[K_MAX] = { M_INT, &key->maxts },
		[K_FLOOR] = { M_INT, &key->floor },
		[K_WINDOWS] = { M_COUNT, &u[0] },
		[K_CLOSED] = { M_COUNT, &u[1] },
	};
	size_t i, r;

	put_line(k->b, key_names, kv, K_N);
	line(k);
	for (i = 0; i < key->nw; i++) {
		const struct ws_win *w = &key->w[i];
		const uint64_t wu[] = { w->fires, w->nrec };
		const struct value wv[W_N] = {
			[W_T] = { M_STR, "window" },
			[W_START] = { M_INT, &w->start },
			[W_END] = { M_INT, &w->end },
			[W_FIRES] = { M_COUNT, &wu[0] },
			[W_RECORDS] = { M_COUNT, &wu[1] },
			[W_ACC] = { M_ACC, &w->acc },
		};

		put_line(k->b, win_names, wv, W_N);
		line(k);
		for (r = 0; r < w->nrec; r++) {
			const struct ws_rec *rec = &w->recs[r];
			const uint64_t brace = rec->brace;
			const struct bytes by = { w->buf + rec->off, rec->len };
			const struct value rv[R_N] = {
				[R_T] = { M_STR, "record" },
				[R_BRACE] = { M_COUNT, &brace },
				[R_EMPTY] = { M_RAW, rec->empty ? "true" :
				    "false" },
				[R_LINE] = { M_BYTES, &by },
			};

			put_line(k->b, rec_names, rv, R_N);
			line(k);
		}
	}
	for (i = 0; i < key->nclosed; i++) {
		const struct ws_closed *c = &key->closed[i];
		const struct value cv[C_N] = {
			[C_T] = { M_STR, "closed" },
			[C_START] = { M_INT, &c->start },
			[C_END] = { M_INT, &c->end },
			[C_ACC] = { M_ACC, &c->acc },
		};

		put_line(k->b, closed_names, cv, C_N);
		line(k);
	}
}

/* Adds what the sink holds to the checksum, and writes it out when it
 * writes to a descriptor and has gathered enough (or all is set). */
static void
sink_flush(struct sink *k, int all)
{
	struct buf *b = k->b;

	if (k->err != 0)
		return;
	if (b->failed) {
		k->err = ENOMEM;
		return;
	}
	k->crc = crc32_z(k->crc, (const Bytef *)b->p + k->done,
	    b->len - k->done);
	k->done = b->len;
	if (!k->to_fd || (!all && b->len - k->from < FLUSH_AT))
		return;
	if (kpfs_write_all(k->fd, b->p + k->from, b->len - k->from) != 0)
		k->err = errno;
	b->len = k->from;
	k->done = k->from;
}

static void
sink_line(struct sink *k)
{
	buf_char(k->b, '\n');
	k->lines++;
	if (k->to_fd && k->b->len - k->from >= FLUSH_AT)
		sink_flush(k, 0);
}

static int
seq_cmp(const void *pa, const void *pb)
{
	const struct ws_key *const *a = pa, *const *b = pb;

	return (*a)->seq < (*b)->seq ? -1 : (*a)->seq > (*b)->seq;
}

/* Writes the whole state into k.  Returns 0 or an errno value. */
static int
save(const struct ws *s, struct sink *k)
{
	uint64_t crc;
	const struct value ev[E_N] = {
		[E_T] = { M_STR, "end" },
		[E_LINES] = { M_COUNT, &k->lines },
		[E_CRC] = { M_COUNT, &crc },
	};
	struct ws_key **by_seq = NULL;
	size_t i;

	/* Keys are held in no order; they are written in first-seen order,
	 * the order a load gives them back. */
	if (s->nkeys > 0) {
		by_seq = malloc(s->nkeys * sizeof(*by_seq));
		if (by_seq == NULL)
			return ENOMEM;
		memcpy(by_seq, s->keys, s->nkeys * sizeof(*by_seq));
		qsort(by_seq, s->nkeys, sizeof(*by_seq), seq_cmp);
	}
	put_header(k->b, s);
	sink_line(k);
	for (i = 0; i < s->nkeys && k->err == 0; i++)
		put_key(k, by_seq[i], sink_line);
	free(by_seq);
	sink_flush(k, 1);
	crc = k->crc;
	put_line(k->b, end_names, ev, E_N);
	buf_char(k->b, '\n');
	sink_flush(k, 1);
	return k->err;
}

int
ws_save(const struct ws *s, struct buf *out)
{
	struct sink k;

	memset(&k, 0, sizeof(k));
	k.b = out;
	k.from = k.done = out->len;
	k.crc = crc32_z(0, NULL, 0);
	return save(s, &k) == 0 ? 0 : -1;
}

int
ws_save_fd(const struct ws *s, int fd, char *err, size_t errsz)
{
	struct buf b = BUF_INIT;
	struct sink k;
	int rc;

	memset(&k, 0, sizeof(k));
	k.b = &b;
	k.crc = crc32_z(0, NULL, 0);
	k.to_fd = 1;
	k.fd = fd;
	rc = save(s, &k);
	if (rc != 0)
		snprintf(err, errsz, "%s", rc == ENOMEM ? "out of memory" :
		    strerror(rc));
	buf_free(&b);
	return rc == 0 ? 0 : -1;
}

/* ---- reading ---- */

struct loader {
	struct ws *s;
	const char *p, *end;        /* the lines not read yet */
	unsigned long long lineno;  /* of the line last read */
	int kind;                   /* of the line last read */
	uint64_t version;           /* of the state read */
	struct jscan *js[L_N];
	struct jf_path path[L_N][JSCAN_MAX_FIELDS];
	struct jscan *rec;          /* checks buffered records */
	struct buf tmp, id;
	char *err;
	size_t errsz;
};

/* The reason, after "line N: " once a line is being read.  Returns -1. */
static int
lerr(struct loader *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
lerr(struct loader *l, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->lineno > 0)
		snprintf(l->err, l->errsz, "line %llu: %s", l->lineno, msg);
	else
		snprintf(l->err, l->errsz, "%s", msg);
	return -1;
}

/* Looks for name, the i-th member of lines of kind k. */
static int
look_for(struct loader *l, int k, int i, const char *name)
{
	return jf_path_init(&l->path[k][i], name) != 0 ||
	    jscan_want(l->js[k], &l->path[k][i]) != i ? -1 : 0;
}

/* A scanner for each kind of line, looking for its members ("acc" as each
 * member of acc_members), and one for buffered records. */
static int
loader_init(struct loader *l)
{
	char name[32];
	size_t a;
	int k, i;

	for (k = 0; k < L_N; k++) {
		l->js[k] = jscan_new();
		if (l->js[k] == NULL)
			return -1;
		for (i = 0; names[k][i] != NULL; i++) {
			if (strcmp(names[k][i], "acc") != 0) {
				if (look_for(l, k, i, names[k][i]) != 0)
					return -1;
				continue;
			}
			for (a = 0; a < NELEM(acc_members); a++) {
				snprintf(name, sizeof(name), "acc.%s",
				    acc_members[a].name);
				if (look_for(l, k, i + (int)a, name) != 0)
					return -1;
			}
		}
	}
	l->rec = jscan_new();
	return l->rec != NULL ? 0 : -1;
}

static void
loader_free(struct loader *l)
{
	int k, i;

	for (k = 0; k < L_N; k++) {
		jscan_free(l->js[k]);
		for (i = 0; i < JSCAN_MAX_FIELDS; i++)
			jf_path_free(&l->path[k][i]);
	}
	jscan_free(l->rec);
	buf_free(&l->tmp);
	buf_free(&l->id);
}

static const struct jscan_field *
fld(const struct loader *l, int i)
{
	return jscan_get(l->js[l->kind], i);
}

static const char *
fname(const struct loader *l, int i)
{
	return l->path[l->kind][i].text;
}

static int
absent(const struct jscan_field *f)
{
	return f->type == JSCAN_MISSING || f->type == JSCAN_NULL_PATH;
}

/* A JSON number without fraction or exponent. */
static int
whole(const struct jscan_field *f)
{
	return f->type == JSCAN_NUMBER && f->len < 24 &&
	    memchr(f->tok, '.', f->len) == NULL &&
	    memchr(f->tok, 'e', f->len) == NULL &&
	    memchr(f->tok, 'E', f->len) == NULL;
}

/* Member i as a whole number in [min, max], or null (WS_NO_TIME) when
 * nullable. */
static int
get_int(struct loader *l, int i, int nullable, int64_t min, int64_t max,
    int64_t *v)
{
	const struct jscan_field *f = fld(l, i);
	char tmp[24];
	long long x;

	if (nullable && f->type == JSCAN_NULL) {
		*v = WS_NO_TIME;
		return 0;
	}
	if (absent(f))
		return lerr(l, "%s: missing", fname(l, i));
	if (!whole(f))
		return lerr(l, "%s: not a whole number%s", fname(l, i),
		    nullable ? " or null" : "");
	memcpy(tmp, f->tok, f->len);
	tmp[f->len] = '\0';
	errno = 0;
	x = strtoll(tmp, NULL, 10);
	if (errno != 0 || x < min || x > max)
		return lerr(l, "%s: out of range: %s", fname(l, i), tmp);
	*v = x;
	return 0;
}

/* Member i as a whole number from 0 to max. */
static int
get_count(struct loader *l, int i, uint64_t max, uint64_t *v)
{
	const struct jscan_field *f = fld(l, i);
	char tmp[24];
	unsigned long long x;

	if (absent(f))
		return lerr(l, "%s: missing", fname(l, i));
	if (!whole(f) || f->tok[0] == '-')
		return lerr(l, "%s: not a whole number from 0", fname(l, i));
	memcpy(tmp, f->tok, f->len);
	tmp[f->len] = '\0';
	errno = 0;
	x = strtoull(tmp, NULL, 10);
	if (errno != 0 || x > max)
		return lerr(l, "%s: out of range: %s", fname(l, i), tmp);
	*v = x;
	return 0;
}

/* Member i as a double, as put_num() wrote it. */
static int
get_num(struct loader *l, int i, double *v)
{
	const struct jscan_field *f = fld(l, i);
	char tmp[40];

	if (absent(f))
		return lerr(l, "%s: missing", fname(l, i));
	/* put_num() writes at most 24 characters: a longer number is not
	 * one a writer wrote.  strtod reads a terminated copy, rounds
	 * correctly and keeps -0. */
	if (f->type == JSCAN_NUMBER && f->len >= sizeof(tmp))
		return lerr(l, "%s: a number longer than %zu characters",
		    fname(l, i), sizeof(tmp) - 1);
	if (f->type == JSCAN_NUMBER) {
		memcpy(tmp, f->tok, f->len);
		tmp[f->len] = '\0';
		*v = strtod(tmp, NULL);
		return 0;
	}
	if (f->type == JSCAN_STRING && f->len == 5 &&
	    memcmp(f->tok, "\"NaN\"", 5) == 0)
		*v = NAN;
	else if (f->type == JSCAN_STRING && f->len == 10 &&
	    memcmp(f->tok, "\"Infinity\"", 10) == 0)
		*v = INFINITY;
	else if (f->type == JSCAN_STRING && f->len == 11 &&
	    memcmp(f->tok, "\"-Infinity\"", 11) == 0)
		*v = -INFINITY;
	else
		return lerr(l, "%s: not a number", fname(l, i));
	return 0;
}

/* Member i as a string (*str NULL for null when nullable), decoded into
 * l->tmp when escaped: valid until the next call. */
static int
get_str(struct loader *l, int i, int nullable, const char **str, size_t *n)
{
	const struct jscan_field *f = fld(l, i);

	if (nullable && f->type == JSCAN_NULL) {
		*str = NULL;
		*n = 0;
		return 0;
	}
	if (absent(f))
		return lerr(l, "%s: missing", fname(l, i));
	if (f->type != JSCAN_STRING)
		return lerr(l, "%s: not a string%s", fname(l, i),
		    nullable ? " or null" : "");
	if (jscan_string(f, &l->tmp, str, n) != 0)
		return lerr(l, "out of memory");
	return 0;
}

/* Scans line[0..len) as a line of kind. */
static int
scan(struct loader *l, int kind, const char *line, size_t len)
{
	const struct jscan_field *t;
	const char *why = NULL;
	size_t n;

	l->kind = kind;
	if (jscan_line(l->js[kind], line, len, &why) != 0)
		return lerr(l, "%s", why);
	if (kinds[kind] == NULL)
		return 0;
	t = fld(l, 0);
	n = strlen(kinds[kind]);
	if (t->type == JSCAN_STRING && t->len == n + 2 &&
	    memcmp(t->tok + 1, kinds[kind], n) == 0)
		return 0;
	if (t->type == JSCAN_STRING && t->len < 40)
		return lerr(l, "a %s line expected, found %.*s", kinds[kind],
		    (int)t->len, t->tok);
	return lerr(l, "a %s line expected", kinds[kind]);
}

/* Reads the next line, which must be of kind. */
static int
next_line(struct loader *l, int kind)
{
	const char *line = l->p, *nl;

	l->lineno++;
	if (l->p >= l->end)
		return lerr(l, "a %s line expected, found the end line",
		    kinds[kind]);
	/* l->end follows a newline, so one is found. */
	nl = memchr(line, '\n', (size_t)(l->end - line));
	l->p = nl + 1;
	return scan(l, kind, line, (size_t)(nl - line));
}

/* The header's format and version, checked before anything else: a newer
 * version is refused whatever else it holds. */
static int
read_version(struct loader *l)
{
	const char *s;
	size_t n;
	uint64_t v;

	if (next_line(l, L_HEAD) != 0)
		return -1;
	if (fld(l, H_FORMAT)->type != JSCAN_STRING)
		return lerr(l, "not a window state (no \"format\")");
	if (get_str(l, H_FORMAT, 0, &s, &n) != 0)
		return -1;
	if (n != strlen(WS_FORMAT_NAME) || memcmp(s, WS_FORMAT_NAME, n) != 0)
		return lerr(l, "not a window state: format \"%.*s\", not "
		    "\"%s\"", n > 60 ? 60 : (int)n, s, WS_FORMAT_NAME);
	if (get_count(l, H_VERSION, UINT64_MAX, &v) != 0)
		return -1;
	if (v > WS_FORMAT_VERSION)
		return lerr(l, "format version %llu is newer than this program "
		    "reads (%d)", (unsigned long long)v, WS_FORMAT_VERSION);
	if (v < 1)
		return lerr(l, "version: no such version: 0");
	l->version = v;
	return 0;
}

/* The end line and the checksum of every line before it: a file cut short
 * or changed is refused before its lines are believed. */
static int
read_end(struct loader *l, const char *data, size_t len, uint64_t *lines)
{
	unsigned long long at = l->lineno;
	const char *last;
	uint64_t crc;

	l->lineno = 0;
	last = memrchr(data, '\n', len - 1);
	last = last != NULL ? last + 1 : data;
	if (last == data || scan(l, L_END, last, len - 1 -
	    (size_t)(last - data)) != 0)
		return lerr(l, "truncated: no end line");
	if (get_count(l, E_LINES, UINT64_MAX, lines) != 0 ||
	    get_count(l, E_CRC, UINT32_MAX, &crc) != 0)
		return -1;
	if (crc32_z(crc32_z(0, NULL, 0), (const Bytef *)data,
	    (size_t)(last - data)) != crc)
		return lerr(l, "checksum mismatch: the state is corrupted");
	l->end = last;
	l->lineno = at;
	l->kind = L_HEAD;
	return 0;
}

/* Option mismatches name the option, not a line. */
static int
differs(struct loader *l, const char *opt, const char *saved,
    const char *have)
{
	l->lineno = 0;
	return lerr(l, "%s differs: the state was saved with %s, this run "
	    "has %s", opt, saved, have);
}

static int
same_ms(struct loader *l, int i, const char *opt, int64_t have)
{
	char a[32], b[32];
	int64_t v;

	if (get_int(l, i, 0, -WS_DURATION_MAX, WS_DURATION_MAX, &v) != 0)
		return -1;
	if (v == have)
		return 0;
	snprintf(a, sizeof(a), "%lldms", (long long)v);
	snprintf(b, sizeof(b), "%lldms", (long long)have);
	return differs(l, opt, a, b);
}

/* A member that is one of words (index have) or, with words NULL, a
 * string equal to have (NULL: null). */
static int
same_text(struct loader *l, int i, const char *opt,
    const char *const *words, const char *have)
{
	char a[128];
	const char *s;
	size_t n;

	if (get_str(l, i, words == NULL, &s, &n) != 0)
		return -1;
	if (s == NULL && have == NULL)
		return 0;
	if (s != NULL && have != NULL && strlen(have) == n &&
	    memcmp(s, have, n) == 0)
		return 0;
	if (s == NULL)
		snprintf(a, sizeof(a), "none");
	else
		snprintf(a, sizeof(a), "%.*s", n > 100 ? 100 : (int)n, s);
	return differs(l, opt, a, have != NULL ? have : "none");
}

static int
check_opts(struct loader *l)
{
	const struct ws_opts *o = &l->s->o;
	char a[32], b[32];
	uint64_t v;

	if (same_ms(l, H_SIZE, "--size", o->size) != 0 ||
	    same_ms(l, H_SLIDE, "--slide", o->slide) != 0 ||
	    same_ms(l, H_OFFSET, "--offset", o->offset) != 0 ||
	    same_ms(l, H_OOO, "--out-of-orderness", o->ooo) != 0 ||
	    same_ms(l, H_LATENESS, "--allowed-lateness", o->lateness) != 0 ||
	    same_text(l, H_WATERMARK, "--watermark", wm_words,
	    wm_words[o->global ? 1 : 0]) != 0 ||
	    same_text(l, H_EMIT, "--emit", emit_words,
	    emit_words[o->emit]) != 0 ||
	    same_text(l, H_TIME, "--time-field", NULL, o->time_field) != 0 ||
	    same_text(l, H_VALUE, "--value-field", NULL, o->value_field) != 0 ||
	    same_text(l, H_KEY, "--key-field", NULL, o->key_field) != 0 ||
	    same_text(l, H_WEIGHT, "--weight-field", NULL,
	    o->weight_field) != 0 ||
	    same_text(l, H_WINDOW, "--window-field", NULL,
	    o->window_field) != 0 ||
	    get_count(l, H_TRAILING, WS_MAX_TRAILING, &v) != 0)
		return -1;
	/* Version 1 had no --key-ttl: it reads as none. */
	if (l->version >= 2 && same_ms(l, H_KEY_TTL, "--key-ttl",
	    o->key_ttl) != 0)
		return -1;
	if (l->version < 2 && o->key_ttl != 0)
		return differs(l, "--key-ttl", "none (version 1)", "a TTL");
	if (v == o->trailing)
		return 0;
	snprintf(a, sizeof(a), "%llu", (unsigned long long)v);
	snprintf(b, sizeof(b), "%llu", (unsigned long long)o->trailing);
	return differs(l, "--trailing", a, b);
}

/* The header's watermark inputs and counters. */
static int
read_globals(struct loader *l, uint64_t *nkeys)
{
	struct ws *s = l->s;
	uint64_t c[5];
	int i;

	if (get_int(l, H_MAX, 1, -TIME_LIMIT, TIME_LIMIT, &s->gmax) != 0 ||
	    get_int(l, H_FLOOR, 1, -TIME_LIMIT, TIME_LIMIT, &s->gfloor) != 0)
		return -1;
	for (i = 0; i < 5; i++)
		if (get_count(l, H_RECORDS + i, UINT64_MAX, &c[i]) != 0)
			return -1;
	if (get_count(l, H_KEYS, SIZE_MAX / 2, nkeys) != 0)
		return -1;
	if (c[3] > c[2])
		return lerr(l, "refired: more than fired");
	if (!s->o.global && s->gfloor != WS_NO_TIME)
		return lerr(l, "idle_floor: not null with per-key watermarks");
	s->n.records = c[0];
	s->n.late = c[1];
	s->n.fired = c[2];
	s->n.refired = c[3];
	s->n.control = c[4];
	return 0;
}

/* A window's bounds: end = start + size, start on the grid of slide and
 * offset. */
static int
read_bounds(struct loader *l, int i, int64_t *start, int64_t *end)
{
	const struct ws_opts *o = &l->s->o;

	if (get_int(l, i, 0, -TIME_LIMIT, TIME_LIMIT, start) != 0 ||
	    get_int(l, i + 1, 0, -TIME_LIMIT, TIME_LIMIT, end) != 0)
		return -1;
	if (*end != *start + o->size)
		return lerr(l, "end: not start + --size");
	if (*start - o->offset - o->slide * kptime_floor_div(*start - o->offset,
	    o->slide) != 0)
		return lerr(l, "start: not on the grid of --slide and "
		    "--offset");
	return 0;
}

/* An accumulator of the window [start, end), its members from base on. */
static int
read_acc(struct loader *l, int base, int64_t start, int64_t end,
    struct ws_acc *a)
{
	size_t i;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < NELEM(acc_members) && rc == 0; i++) {
		void *p = (char *)a + acc_members[i].off;
		int at = base + (int)i;

		if (acc_members[i].kind == M_COUNT)
			rc = get_count(l, at, UINT64_MAX, p);
		else if (acc_members[i].kind == M_INT)
			rc = get_int(l, at, 0, start, end - 1, p);
		else
			rc = get_num(l, at, p);
	}
	if (rc != 0)
		return -1;
	if (a->n == 0)
		return lerr(l, "acc.n: a window holds at least one record");
	if (a->first_ts > a->last_ts)
		return lerr(l, "acc.first_time: after acc.last_time");
	/* The values are the records' own: finite, and bounded by min and
	 * max. */
	if (!isfinite(a->min) || !isfinite(a->max) || a->min > a->max)
		return lerr(l, "acc.min, acc.max: not a finite range");
	if (!(a->shift >= a->min && a->shift <= a->max &&
	    a->first >= a->min && a->first <= a->max &&
	    a->last >= a->min && a->last <= a->max))
		return lerr(l, "acc.shift, acc.first, acc.last: outside "
		    "acc.min..acc.max");
	return 0;
}

/* A buffered record of window w. */
static int
read_record(struct loader *l, struct ws_win *w)
{
	const struct jscan_field *f;
	const char *line, *why = NULL;
	uint64_t brace;
	size_t n;

	if (next_line(l, L_REC) != 0 ||
	    get_count(l, R_BRACE, SIZE_MAX, &brace) != 0)
		return -1;
	f = fld(l, R_EMPTY);
	if (f->type != JSCAN_TRUE && f->type != JSCAN_FALSE)
		return lerr(l, "empty: not true or false");
	if (get_str(l, R_LINE, 0, &line, &n) != 0)
		return -1;
	if (jscan_line(l->rec, line, n, &why) != 0)
		return lerr(l, "line: %s", why);
	if (jscan_is_control(l->rec))
		return lerr(l, "line: a control line is not a record");
	if (jscan_brace(l->rec) != brace)
		return lerr(l, "brace: %llu, but the record's closing brace is "
		    "at %zu", (unsigned long long)brace, jscan_brace(l->rec));
	if (jscan_empty(l->rec) != (f->type == JSCAN_TRUE))
		return lerr(l, "empty: does not match the record");
	if (wsi_win_keep(w, line, n, (size_t)brace, f->type == JSCAN_TRUE) != 0)
		return lerr(l, "out of memory");
	return 0;
}

/* A window of key k, then its buffered records. */
static int
read_window(struct loader *l, struct ws_key *k)
{
	const struct ws *s = l->s;
	uint64_t fires, nrec, want, i;
	int64_t start, end, wm;
	struct ws_acc acc;
	struct ws_win *w;

	if (next_line(l, L_WIN) != 0 || read_bounds(l, W_START, &start,
	    &end) != 0)
		return -1;
	if (k->nw > 0 && start <= k->w[k->nw - 1].start)
		return lerr(l, "start: windows out of order");
	if (get_count(l, W_FIRES, UINT32_MAX, &fires) != 0 ||
	    get_count(l, W_RECORDS, SIZE_MAX, &nrec) != 0 ||
	    read_acc(l, W_ACC, start, end, &acc) != 0)
		return -1;
	if (acc.last_ts > k->maxts)
		return lerr(l, "acc.last_time: after the key's max_time");
	/* Between two records every window the watermark reached has
	 * fired, and every fired one it passed by the lateness is gone. */
	wm = ws_watermark(s, k);
	if (fires == 0 && wm >= end)
		return lerr(l, "fires: 0, but the watermark %lld has passed "
		    "the end", (long long)wm);
	if (fires > 0 && (wm < end || wm >= end + s->o.lateness))
		return lerr(l, "fires: %llu, but the watermark %lld is not "
		    "within the allowed lateness", (unsigned long long)fires,
		    (long long)wm);
	want = s->o.emit == WS_EMIT_RECORDS && fires == 0 ? acc.n : 0;
	if (nrec != want)
		return lerr(l, "records: %llu, not %llu",
		    (unsigned long long)nrec, (unsigned long long)want);
	w = wsi_win_push(k);
	if (w == NULL)
		return lerr(l, "out of memory");
	w->start = start;
	w->end = end;
	w->fires = (uint32_t)fires;
	w->acc = acc;
	for (i = 0; i < nrec; i++)
		if (read_record(l, w) != 0)
			return -1;
	return 0;
}

/* A closed window of key k (--emit trailing). */
static int
read_closed(struct loader *l, struct ws_key *k)
{
	struct ws_closed c;

	if (next_line(l, L_CLOSED) != 0 || read_bounds(l, C_START, &c.start,
	    &c.end) != 0)
		return -1;
	if (k->nclosed > 0 && c.end <= k->closed[k->nclosed - 1].end)
		return lerr(l, "start: closed windows out of order");
	if (read_acc(l, C_ACC, c.start, c.end, &c.acc) != 0)
		return -1;
	if (k->closed == NULL) {
		k->closed = calloc(l->s->o.trailing, sizeof(*k->closed));
		if (k->closed == NULL)
			return lerr(l, "out of memory");
	}
	k->closed[k->nclosed++] = c;
	return 0;
}

/* The identity of the key line's key (winstate.h: WS_KEY_*) into l->id. */
static int
read_identity(struct loader *l)
{
	const struct jscan_field *f = fld(l, K_KEY);
	int keyed = l->s->o.key_field != NULL;
	const char *s;
	size_t n;

	buf_reset(&l->id);
	if (absent(f))
		return lerr(l, "key: missing");
	if (f->type == JSCAN_NULL && keyed)
		return lerr(l, "key: null, but keys have a --key-field");
	if (f->type == JSCAN_NULL)
		return buf_cstr(&l->id) != NULL ? 0 : lerr(l, "out of memory");
	if (!keyed)
		return lerr(l, "key: not null, but there is no --key-field");
	if (f->type == JSCAN_STRING) {
		if (jscan_string(f, &l->tmp, &s, &n) != 0)
			return lerr(l, "out of memory");
		buf_char(&l->id, WS_KEY_STRING);
		buf_add(&l->id, s, n);
	} else {
		buf_char(&l->id, WS_KEY_JSON);
		jscan_text(f, &l->id);
	}
	if (buf_cstr(&l->id) == NULL)
		return lerr(l, "out of memory");
	return 0;
}

/* A key line, then the key's windows and closed windows. */
static int
read_key(struct loader *l)
{
	struct ws *s = l->s;
	uint64_t nw, nc, i;
	int64_t maxts, floor;
	struct ws_key *k;

	if (next_line(l, L_KEY) != 0 || read_identity(l) != 0)
		return -1;
	if (wsi_key_find(s, l->id.p, l->id.len) != NULL)
		return lerr(l, "key: appears twice");
	if (get_int(l, K_MAX, 0, -TIME_LIMIT, TIME_LIMIT, &maxts) != 0 ||
	    get_int(l, K_FLOOR, 1, -TIME_LIMIT, TIME_LIMIT, &floor) != 0 ||
	    get_count(l, K_WINDOWS, SIZE_MAX / sizeof(struct ws_win),
	    &nw) != 0 ||
	    get_count(l, K_CLOSED, s->o.emit == WS_EMIT_TRAILING ?
	    s->o.trailing : 0, &nc) != 0)
		return -1;
	if (s->o.global && floor != WS_NO_TIME)
		return lerr(l, "idle_floor: not null with a global watermark");
	if (maxts > s->gmax)
		return lerr(l, "max_time: after the header's max_time");
	k = wsi_key_new(s, l->id.p, l->id.len);
	if (k == NULL)
		return lerr(l, "out of memory");
	k->maxts = maxts;
	k->floor = floor;
	for (i = 0; i < nw; i++)
		if (read_window(l, k) != 0)
			return -1;
	for (i = 0; i < nc; i++)
		if (read_closed(l, k) != 0)
			return -1;
	return 0;
}

static int
empty_state(const struct ws *s)
{
	return s->nkeys == 0 && s->gmax == WS_NO_TIME &&
	    s->gfloor == WS_NO_TIME && s->n.records == 0 && s->n.late == 0 &&
	    s->n.fired == 0 && s->n.refired == 0 && s->n.control == 0;
}

/* Every line after the header: the keys, nothing more, as many lines as
 * the end line counts, and a header max_time that is the keys' largest. */
static int
read_body(struct loader *l, uint64_t nkeys, uint64_t lines)
{
	struct ws *s = l->s;
	int64_t max = WS_NO_TIME;
	uint64_t i;

	for (i = 0; i < nkeys; i++)
		if (read_key(l) != 0)
			return -1;
	if (l->p < l->end) {
		l->lineno++;
		return lerr(l, "a line after the last key's");
	}
	if (l->lineno != lines) {
		i = l->lineno;
		l->lineno = 0;
		return lerr(l, "the end line counts %llu lines, the state has "
		    "%llu", (unsigned long long)lines, (unsigned long long)i);
	}
	for (i = 0; i < s->nkeys; i++)
		if (s->keys[i]->maxts > max)
			max = s->keys[i]->maxts;
	l->lineno = 0;
	/* Keys are forgotten under a global watermark or --key-ttl: the
	 * header's max_time may then be later than every key's. */
	if (max > s->gmax || (max != s->gmax && !s->o.global &&
	    s->o.key_ttl == 0))
		return lerr(l, "max_time of the header is not the largest "
		    "max_time of the keys");
	return 0;
}

int
ws_load(struct ws *s, const char *data, size_t len, char *err,
    size_t errsz)
{
	struct loader l;
	uint64_t nkeys = 0, lines = 0;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	l.s = s;
	l.p = data;
	l.end = data + len;
	l.err = err;
	l.errsz = errsz;
	if (!empty_state(s)) {
		/* Nothing to undo: the caller's state stays as it was. */
		snprintf(err, errsz, "the state to load into is not empty");
		return -1;
	}
	if (len == 0) {
		lerr(&l, "empty: no header");
		goto out;
	}
	/* Every line ends with a newline, whatever the version: a file
	 * without one at its end was cut short. */
	if (data[len - 1] != '\n') {
		lerr(&l, "truncated: the last line has no newline");
		goto out;
	}
	if (loader_init(&l) != 0) {
		lerr(&l, "out of memory");
		goto out;
	}
	if (read_version(&l) != 0 || read_end(&l, data, len, &lines) != 0 ||
	    check_opts(&l) != 0 || read_globals(&l, &nkeys) != 0 ||
	    read_body(&l, nkeys, lines) != 0)
		goto out;
	if (wsi_derive(s) != 0) {
		lerr(&l, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		ws_clear(s);
	loader_free(&l);
	return rc;
}

int
ws_load_fd(struct ws *s, int fd, char *err, size_t errsz)
{
	struct buf b = BUF_INIT;
	int rc = -1;
	ssize_t n;

	for (;;) {
		if (buf_reserve(&b, FLUSH_AT) != 0) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		n = read(fd, b.p + b.len, b.cap - b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errsz, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
	}
	rc = ws_load(s, b.p != NULL ? b.p : "", b.len, err, errsz);
out:
	buf_free(&b);
	return rc;
}
