/*
 * window-stats - event-time windows per key, and their statistics.
 *
 * Flink's TumblingEventTimeWindows and SlidingEventTimeWindows behind a
 * bounded-out-of-orderness watermark, as a filter.  The windows, their
 * accumulators, the watermarks and lateness are the window state of
 * winstate.h; this file holds the options, what a firing writes and the
 * loop.
 *
 * What a firing writes depends on --emit: one statistics line per window,
 * every record of the window with the statistics spliced in, or (trailing)
 * every record at once with the statistics of its key's last closed windows.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ckpt.h"
#include "cli.h"
#include "jfield.h"
#include "jscan.h"
#include "kptime.h"
#include "progress.h"
#include "msg.h"
#include "ndjson.h"
#include "sig.h"
#include "winstate.h"

#define USAGE "window-stats [-hqv] [--allowed-lateness DURATION] " \
	"[--checkpoint-dir DIR] [--dead-letter FILE] " \
	"[--emit windows|records|trailing] [--final] " \
	"[--idle-timeout DURATION] [--key-field PATH] [--key-ttl DURATION] " \
	"[--late-output FILE] " \
	"[--max-keys N] [--max-line BYTES] [--offset DURATION] " \
	"[--out-of-orderness DURATION] [--progress | --no-progress] " \
	"[--size DURATION] [--slide DURATION] [--stats FILE] [--strict] [--time-field PATH] " \
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
    "  --max-keys N             reject records of a key beyond N keys that\n"
    "                           hold windows (default: no limit)\n"
    "  --key-ttl DURATION       forget a key (after firing its open windows)\n"
    "                           once event time is DURATION past its last\n"
    "                           record; its later records open new windows\n"
    "                           (default: never)\n"
    "Checkpoints (kinpipe(7), CHECKPOINTS):\n"
    "  --checkpoint-dir DIR     the pipeline's checkpoint directory: start from\n"
    "                           the state of its last commit, save the state at\n"
    "                           every barrier; the end of input then keeps the\n"
    "                           open windows for a later run\n"
    "  --final                  the stream ends with this input: its final\n"
    "                           barrier and the end of input fire every open\n"
    "                           window (a drain)\n";


struct opts {
	struct ws_opts ws;   /* what shapes the windows (its fields are set
	                      * from the paths below) */
	struct jf_path time, value, key, weight;
	int has_key, has_weight;
	int64_t idle;
	struct jf_path wfield;  /* --window-field, as a one-member path */
	const char *late_output;
	const char *ckdir;      /* --checkpoint-dir */
	int final;              /* --final */
};

/* Everything a run holds. */
struct tool {
	struct opts o;
	struct cli cli;
	struct nd_reject rej;
	struct nd_reader *in;
	struct ws *ws;
	struct nd_writer *out;
	FILE *late;
	struct buf sb;       /* the line or fragment being built */
	struct jscan *js;    /* reads the fields of each line */
	int f_time, f_value, f_key, f_weight, f_window;
	struct buf tmp;      /* a decoded key or time */
	struct progress prog;
	struct ws_record rec;  /* the record being processed */
	struct ckpt_dir *ck;   /* --checkpoint-dir */
	uint64_t snapshots;    /* taken in this run */
	int64_t last_data;     /* monotonic ms of the last record read */
	int status, stopped, epipe;
};

static int
oom(void)
{
	msg_err("out of memory");
	return ND_ERROR;
}

/* The state's out of memory as the writer's error, reported. */
static int
ws_rc(int rc)
{
	return rc == WS_NOMEM ? oom() : rc;
}

/* ---- what a firing writes ---- */

/* ',"name":' then the double v ("null" when v is NaN or infinite). */
static void
sb_num(struct buf *b, const char *name, double v)
{
	buf_char(b, ',');
	buf_jstrz(b, name);
	buf_char(b, ':');
	buf_double(b, v);
}

/* "count":N,...,"sum":S and the weighted members: the statistics every
 * emission mode writes, in this order. */
static void
sb_stats(struct buf *b, const struct ws_acc *a, int weights)
{
	double n = (double)a->n, s = a->sum + a->sumc, ws = a->wsum + a->wsumc;
	const struct {
		const char *name;
		double v;
	} m[] = {
		{ "mean", a->shift + s / n },
		{ "stddev", sqrt(a->m2 / n) },
		/* A sample of one has no deviation: null. */
		{ "sample_stddev", a->n < 2 ? NAN : sqrt(a->m2 / (n - 1)) },
		{ "min", a->min },
		{ "max", a->max },
		{ "first", a->first },
		{ "last", a->last },
		{ "sum", n * a->shift + s },
		{ "weight_sum", ws },
		{ "weighted_mean", ws == 0 ? NAN :
		    a->shift + (a->wx + a->wxc) / ws },
	};
	size_t i;

	buf_lit(b, "\"count\":");
	buf_u64(b, a->n);
	for (i = 0; i < sizeof(m) / sizeof(m[0]) - (weights ? 0 : 2); i++)
		sb_num(b, m[i].name, m[i].v);
}

/* A record's original bytes with frag spliced before its closing brace. */
static int
put_spliced(struct nd_writer *out, const char *line, size_t len, size_t brace,
    int empty, const struct buf *frag)
{
	struct buf *b = nd_buf(out);

	buf_add(b, line, brace);
	if (!empty)
		buf_char(b, ',');
	buf_add(b, frag->p, frag->len);
	buf_add(b, line + brace, len - brace);
	return nd_end(out);
}

/* "<s>":start,"<e>":end, the window's statistics, "update" after its
 * first firing, and the closing brace. */
static void
sb_window(struct buf *b, const struct ws_win *w, const char *s,
    const char *e, int weights)
{
	buf_jstrz(b, s);
	buf_char(b, ':');
	buf_time(b, w->start);
	buf_char(b, ',');
	buf_jstrz(b, e);
	buf_char(b, ':');
	buf_time(b, w->end);
	buf_char(b, ',');
	sb_stats(b, &w->acc, weights);
	if (w->fires > 0) {
		buf_lit(b, ",\"update\":");
		buf_u64(b, w->fires);
	}
	buf_char(b, '}');
}

/*
 * The state fires window w of key k (ws_fire_fn): --emit windows writes
 * its line; --emit records its records at the first firing, and at a
 * re-firing the record that caused it (t->rec), so that no record is ever
 * written twice; --emit trailing nothing (the state keeps the window).
 */
static int
on_fire(void *ctx, const struct ws_key *k, const struct ws_win *w)
{
	struct tool *t = ctx;
	const struct opts *o = &t->o;
	struct buf *b = &t->sb;
	const struct ws_record *r = &t->rec;
	int rc = 0;
	size_t i;

	if (o->ws.emit == WS_EMIT_TRAILING)
		return 0;
	buf_reset(b);
	if (o->ws.emit == WS_EMIT_WINDOWS) {
		buf_lit(b, "{\"key\":");
		ws_key_json(k, b);
		buf_char(b, ',');
		sb_window(b, w, "window_start", "window_end", o->has_weight);
		return b->failed ? oom() : nd_put(t->out, b->p, b->len);
	}
	buf_jstrz(b, o->ws.window_field);
	buf_lit(b, ":{");
	sb_window(b, w, "start", "end", o->has_weight);
	if (b->failed)
		return oom();
	if (w->fires > 0)
		return put_spliced(t->out, r->line, r->len, r->brace, r->empty,
		    b);
	for (i = 0; i < w->nrec && rc == 0; i++) {
		const struct ws_rec *wr = &w->recs[i];

		rc = put_spliced(t->out, w->buf + wr->off, wr->len, wr->brace,
		    wr->empty, b);
	}
	return rc;
}

/* --emit trailing: writes the record now, with the merged statistics of
 * its key's last closed windows (or null before the first one); the
 * member is kept with the key until they change. */
static int
put_trailing(struct tool *t, struct ws_key *k)
{
	const struct ws_record *r = &t->rec;
	struct buf *b = &k->text;
	struct ws_acc a;

	if (!k->text_ok) {
		buf_reset(b);
		buf_jstrz(b, t->o.ws.window_field);
		if (k->nclosed == 0) {
			buf_lit(b, ":null");
		} else {
			ws_trailing(k, &a);
			buf_lit(b, ":{\"start\":");
			buf_time(b, k->closed[0].start);
			buf_lit(b, ",\"end\":");
			buf_time(b, k->closed[k->nclosed - 1].end);
			buf_lit(b, ",\"windows\":");
			buf_u64(b, k->nclosed);
			buf_char(b, ',');
			sb_stats(b, &a, t->o.has_weight);
			buf_char(b, '}');
		}
		if (b->failed)
			return oom();
		k->text_ok = 1;
	}
	return put_spliced(t->out, r->line, r->len, r->brace, r->empty, b);
}

/* ---- one record ---- */

enum {
	REC_OK = 0,
	REC_BAD = 1,   /* bad input: *why */
	REC_LATE = 2,  /* too late for every window it belongs to */
};

/*
 * The key of the record last scanned, as ws_key() takes it: strings by
 * their bytes, other values by their JSON text without blanks, the one key
 * without --key-field.  Returns REC_OK, REC_BAD (*why), or ND_ERROR.
 */
static int
record_key(struct tool *t, struct buf *why, int *kind, const char **ks,
    size_t *kn)
{
	const struct opts *o = &t->o;
	const struct jscan_field *f;

	*kind = WS_KEY_NONE;
	*ks = "";
	*kn = 0;
	if (!o->has_key)
		return REC_OK;
	f = jscan_get(t->js, t->f_key);
	switch (f->type) {
	case JSCAN_MISSING:
	case JSCAN_NULL_PATH:
		buf_printf(why, "%s: missing", o->key.text);
		return REC_BAD;
	case JSCAN_NULL:
		buf_printf(why, "%s: null", o->key.text);
		return REC_BAD;
	case JSCAN_STRING:
		*kind = WS_KEY_STRING;
		return jscan_string(f, &t->tmp, ks, kn) != 0 ? oom() : REC_OK;
	default:
		*kind = WS_KEY_JSON;
		buf_reset(&t->tmp);
		jscan_text(f, &t->tmp);
		if (t->tmp.failed)
			return oom();
		*ks = t->tmp.p;
		*kn = t->tmp.len;
		return REC_OK;
	}
}

/*
 * Reads the fields of one record and gives it to its windows.  Returns
 * REC_OK, REC_BAD (*why), REC_LATE (late[] = event time, watermark), or an
 * ND_* code from the writer.
 */
static int
on_record(struct tool *t, const char *line, size_t len, struct buf *why,
    int64_t late[2])
{
	const struct opts *o = &t->o;
	struct jscan *js = t->js;
	struct ws_record *r = &t->rec;
	const char *fwhy = NULL, *ks;
	struct ws_key *k;
	size_t kn;
	int kind, rc;

	memset(r, 0, sizeof(*r));
	if (jscan_time(jscan_get(js, t->f_time), KPTIME_AUTO, &t->tmp, &r->ts,
	    &fwhy) != 0) {
		buf_printf(why, "%s: %s", o->time.text, fwhy);
		return REC_BAD;
	}
	if (jscan_number(jscan_get(js, t->f_value), &r->value, &fwhy) != 0) {
		buf_printf(why, "%s: %s", o->value.text, fwhy);
		return REC_BAD;
	}
	if (o->has_weight && jscan_number(jscan_get(js, t->f_weight),
	    &r->weight, &fwhy) != 0) {
		buf_printf(why, "%s: %s", o->weight.text, fwhy);
		return REC_BAD;
	}
	rc = record_key(t, why, &kind, &ks, &kn);
	if (rc != REC_OK)
		return rc;
	if (o->ws.emit != WS_EMIT_WINDOWS) {
		if (jscan_get(js, t->f_window)->type != JSCAN_MISSING) {
			buf_printf(why, "field \"%s\" already present",
			    o->ws.window_field);
			return REC_BAD;
		}
		r->brace = jscan_brace(js);
		r->empty = jscan_empty(js);
	}
	r->line = line;
	r->len = len;
	rc = ws_key(t->ws, kind, ks, kn, &k);
	if (rc == WS_FULL) {
		buf_printf(why, "more keys than --max-keys %llu",
		    (unsigned long long)o->ws.max_keys);
		return REC_BAD;
	}
	if (rc != 0)
		return ws_rc(rc);
	rc = ws_add(t->ws, k, r, &late[1]);
	if (rc == WS_LATE) {
		late[0] = r->ts;
		return REC_LATE;
	}
	if (rc == 0 && o->ws.emit == WS_EMIT_TRAILING)
		rc = put_trailing(t, k);
	return ws_rc(rc);
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
	OPT_KEY_TTL,
	OPT_CHECKPOINT_DIR,
	OPT_FINAL,
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
	{ "key-ttl", 1, OPT_KEY_TTL },
	{ "checkpoint-dir", 1, OPT_CHECKPOINT_DIR },
	{ "final", 0, OPT_FINAL },
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
	struct ws_opts *ws = &o->ws;
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
		rc = cli_duration(c, arg, 1, CLI_DURATION_MAX, &ws->size);
		break;
	case OPT_SLIDE:
		rc = cli_duration(c, arg, 1, CLI_DURATION_MAX, &ws->slide);
		g->slide = 1;
		break;
	case OPT_OFFSET:
		/* The one duration that may be negative. */
		rc = cli_duration(c, arg[0] == '-' ? arg + 1 : arg, 0,
		    CLI_DURATION_MAX, &ws->offset);
		if (rc == 0 && arg[0] == '-')
			ws->offset = -ws->offset;
		break;
	case OPT_OOO:
		rc = cli_duration(c, arg, 0, CLI_DURATION_MAX, &ws->ooo);
		break;
	case OPT_LATENESS:
		rc = cli_duration(c, arg, 0, CLI_DURATION_MAX, &ws->lateness);
		break;
	case OPT_IDLE:
		rc = cli_duration(c, arg, 1, 24 * 86400000, &o->idle);
		break;
	case OPT_WATERMARK:
		rc = cli_word(c, arg, wms, &ws->global);
		break;
	case OPT_LATE_OUTPUT:
		o->late_output = arg;
		break;
	case OPT_EMIT:
		rc = cli_word(c, arg, emits, &w);
		ws->emit = (enum ws_emit)w;
		break;
	case OPT_TRAILING:
		rc = cli_count(c, arg, 1, WS_MAX_TRAILING, &ws->trailing);
		g->trailing = 1;
		break;
	case OPT_WINDOW_FIELD:
		if (*arg == '\0')
			rc = cli_bad(c, "empty name", arg);
		ws->window_field = arg;
		g->wfield = 1;
		break;
	case OPT_MAX_KEYS:
		rc = cli_count(c, arg, 1, UINT32_MAX - 2, &ws->max_keys);
		break;
	case OPT_KEY_TTL:
		rc = cli_duration(c, arg, 1, CLI_DURATION_MAX, &ws->key_ttl);
		break;
	case OPT_CHECKPOINT_DIR:
		if (*arg == '\0')
			rc = cli_bad(c, "empty path", arg);
		o->ckdir = arg;
		break;
	case OPT_FINAL:
		o->final = 1;
		break;
	}
	return rc;
}

/* Returns CLI_RUN, CLI_DONE or an exit status. */
static int
parse_args(int argc, char **argv, struct cli *c, struct opts *o)
{
	struct given g = { o, 0, 0, 0 };
	struct ws_opts *ws = &o->ws;
	int rc;

	ws->size = 60000;
	ws->emit = WS_EMIT_WINDOWS;
	ws->trailing = 1;
	ws->window_field = "window";
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
		ws->slide = ws->size;
	if (ws->slide > ws->size)
		return cli_usage(c, "--slide: must be from 1ms to --size");
	if ((ws->size + ws->slide - 1) / ws->slide > WS_MAX_WINDOWS_PER_RECORD)
		return cli_usage(c, "--size / --slide: more than %d windows "
		    "per record", WS_MAX_WINDOWS_PER_RECORD);
	/* Flink's own rule for window assigners. */
	if (ws->offset <= -ws->slide || ws->offset >= ws->slide)
		return cli_usage(c, "--offset: |offset| must be less than "
		    "--slide (or --size)");
	if (g.trailing && ws->emit != WS_EMIT_TRAILING)
		return cli_usage(c, "--trailing needs --emit trailing");
	if (g.wfield && ws->emit == WS_EMIT_WINDOWS)
		return cli_usage(c, "--window-field needs --emit records "
		    "or --emit trailing");
	/* Sliding windows overlap: merging several would count records
	 * more than once. */
	if (ws->emit == WS_EMIT_TRAILING && ws->trailing > 1 &&
	    ws->slide < ws->size)
		return cli_usage(c, "--trailing above 1 needs tumbling "
		    "windows (no --slide below --size)");
	if ((o->time.n == 0 && jf_path_init(&o->time, "timestamp") != 0) ||
	    (o->value.n == 0 && jf_path_init(&o->value, "price") != 0) ||
	    jf_path_name(&o->wfield, ws->window_field) != 0) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	/* The state records the fields, to refuse a checkpoint of others. */
	ws->time_field = o->time.text;
	ws->value_field = o->value.text;
	ws->key_field = o->has_key ? o->key.text : NULL;
	ws->weight_field = o->has_weight ? o->weight.text : NULL;
	return CLI_RUN;
}

/* ---- the loop ---- */

/* Late record: to --late-output, or else a rejected line.  Returns 0 to go
 * on, -1 to stop (with t->status set). */
static int
on_late(struct tool *t, const char *line, size_t len, const int64_t late[2])
{
	char tsbuf[KPTIME_BUFSZ], wmbuf[KPTIME_BUFSZ];

	if (t->late != NULL) {
		if (fwrite(line, 1, len, t->late) != len ||
		    putc('\n', t->late) == EOF) {
			msg_err("%s: %s", t->o.late_output, strerror(errno));
			t->status = KP_EXIT_FAILURE;
			return -1;
		}
		return 0;
	}
	if (kptime_format(late[0], tsbuf, sizeof(tsbuf)) == 0)
		snprintf(tsbuf, sizeof(tsbuf), "?");
	if (kptime_format(late[1], wmbuf, sizeof(wmbuf)) == 0)
		snprintf(wmbuf, sizeof(wmbuf), "?");
	if (nd_reject_as(&t->rej, nd_name(t->in), nd_lineno(t->in),
	    "late record: its windows have closed", line, len,
	    "late record: event time %s, watermark %s: its windows have "
	    "closed", tsbuf, wmbuf) != 0) {
		t->status = t->rej.failed ? KP_EXIT_FAILURE : KP_EXIT_REJECTED;
		return -1;
	}
	return 0;
}

/*
 * What the outcome rc of one line means for the loop: returns 0 to go on,
 * 1 to stop (t->status or t->epipe set).  The writer, oom() or on_late()
 * have reported their own errors.
 */
static int
outcome(struct tool *t, int rc, const char *line, size_t len,
    const struct buf *why, const int64_t late[2])
{
	if (rc == REC_BAD) {
		if (why->failed) {
			msg_err("out of memory");
			t->status = KP_EXIT_FAILURE;
			return 1;
		}
		if (nd_reject(&t->rej, nd_name(t->in), nd_lineno(t->in), line,
		    len, "%.*s", (int)why->len, why->p) == 0)
			return 0;
		t->status = t->rej.failed ? KP_EXIT_FAILURE : KP_EXIT_REJECTED;
		return 1;
	}
	if (rc == REC_LATE)
		return on_late(t, line, len, late) != 0;
	if (rc == ND_EPIPE) {
		t->epipe = 1;
		return 1;
	}
	if (rc != 0) {
		t->status = KP_EXIT_FAILURE;
		return 1;
	}
	return 0;
}

static void
show_progress(struct tool *t, int final)
{
	const struct ws *s = t->ws;

	struct buf f = BUF_INIT;

	progress_show(&t->prog, final, "%llu records, %zu keys, %llu windows "
	    "fired, %llu open, %llu late", s->n.records, s->nkeys,
	    s->n.fired - s->n.refired, (unsigned long long)s->unfired,
	    s->n.late);
	buf_printf(&f, "\"records_in\":%llu,\"records_out\":%llu,"
	    "\"keys\":%zu,\"windows_fired\":%llu,\"windows_open\":%llu,"
	    "\"late\":%llu,\"rejected\":%llu,\"checkpoints\":%llu",
	    s->n.records, nd_count(t->out) - s->n.control, s->nkeys,
	    s->n.fired - s->n.refired, (unsigned long long)s->unfired,
	    s->n.late, t->rej.count, (unsigned long long)t->snapshots);
	progress_stats(&t->prog, final, &f);
	buf_free(&f);
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

/*
 * Reads and handles lines until end of input or SIGINT/SIGTERM (then
 * t->stopped stays 0), or until an error or --strict stops it.  A quiet
 * input fires the open windows after --idle-timeout.
 */
/* ---- checkpoints ---- */

#define CKPT_TOOL "window-stats"

/*
 * Opens the checkpoint directory and loads the state of its last commit
 * (kinpipe(7), CHECKPOINTS): the state window-stats saved at the barrier
 * the pipeline's sink then committed.  Returns 0, or an exit status.
 */
static int
ckpt_start(struct tool *t)
{
	struct ckpt_commit c;
	enum ckpt_err kind;
	char err[1024], name[64], *data = NULL;
	size_t len;
	int rc, status = KP_EXIT_OK;

	rc = ckpt_open(t->o.ckdir, CKPT_TOOL, &t->ck, &kind, err, sizeof(err));
	if (rc == 0)
		rc = ckpt_read_commit(t->ck, &c, &kind, err, sizeof(err));
	if (rc < 0) {
		msg_err("%s", err);
		return ckpt_exit_status(kind);
	}
	if (rc == 0) {
		msg_info("%s: no commit yet: starting with no window",
		    t->o.ckdir);
		return KP_EXIT_OK;
	}
	ckpt_snapshot_name(CKPT_TOOL, c.b.id, name, sizeof(name));
	rc = ckpt_read_file(t->ck, name, &data, &len);
	if (strcmp(c.committer, "kin-read") == 0) {
		/* kin-read commits as the barrier leaves it, before this
		 * stage saved its state: nothing to resume from. */
		msg_err("%s/commit.json was written by kin-read --self-commit, "
		    "which does not wait for window-stats: give window-stats "
		    "a pipeline whose sink commits (s3-put --checkpoint-dir), "
		    "or no --checkpoint-dir", t->o.ckdir);
		status = KP_EXIT_USAGE;
	} else if (rc != 0) {
		msg_err("%s/%s: %s: checkpoint %llu of job %s was committed "
		    "without the window state it needs (was window-stats in "
		    "that pipeline, with this directory?)", t->o.ckdir, name,
		    rc > 0 ? "missing" : strerror(errno),
		    (unsigned long long)c.b.id, c.b.job);
		status = rc > 0 ? KP_EXIT_USAGE : KP_EXIT_FAILURE;
	} else if (ws_load(t->ws, data, len, err, sizeof(err)) != 0) {
		msg_err("%s/%s: %s; the pipeline cannot resume from it "
		    "(kinpipe(7), CHECKPOINTS, says how to start again)",
		    t->o.ckdir, name, err);
		status = KP_EXIT_USAGE;
	} else {
		msg_info("resumed from checkpoint %llu: %zu keys, %llu windows "
		    "open", (unsigned long long)c.b.id, t->ws->nkeys,
		    (unsigned long long)t->ws->unfired);
		/* The counters are this run's: the summary and --stats. */
		memset(&t->ws->n, 0, sizeof(t->ws->n));
	}
	free(data);
	ckpt_commit_clear(&c);
	return status;
}

/* Saves the state at barrier b, and removes the states no commit can
 * need any more (those before the last commit).  Returns 0, or -1. */
static int
ckpt_save(struct tool *t, const struct ckpt_barrier *b)
{
	struct ckpt_commit c;
	enum ckpt_err kind;
	struct buf state = BUF_INIT;
	char name[64], err[1024];
	int rc = -1;

	ckpt_snapshot_name(CKPT_TOOL, b->id, name, sizeof(name));
	if (ws_save(t->ws, &state) != 0 || state.failed) {
		msg_err("out of memory");
		goto out;
	}
	if (ckpt_write_file(t->ck, name, state.p, state.len) != 0) {
		msg_err("%s/%s: %s", t->o.ckdir, name, strerror(errno));
		goto out;
	}
	t->snapshots++;
	if (ckpt_read_commit(t->ck, &c, &kind, err, sizeof(err)) > 0) {
		ckpt_prune(t->ck, CKPT_TOOL ".", ".state", c.b.id);
		ckpt_commit_clear(&c);
	}
	rc = 0;
out:
	buf_free(&state);
	return rc;
}

/*
 * A control line.  A barrier first makes durable what belongs to its
 * checkpoint: the lines rejected or late before it and, with
 * --checkpoint-dir, the window state; then it passes on, as every other
 * control line does, in order.  Returns 0, or an ND_* code.
 */
static int
on_control(struct tool *t, const char *line, size_t len)
{
	struct ckpt_barrier b;
	char err[512];
	int kind, rc;

	t->ws->n.control++;
	kind = ckpt_barrier_parse(line, len, &b, err, sizeof(err));
	if (kind < 0 && t->ck != NULL) {
		msg_err("%s:%llu: cannot take a checkpoint at this barrier: %s",
		    nd_name(t->in), nd_lineno(t->in), err);
		return ND_ERROR;
	}
	if (kind > 0) {
		/* --final: the final barrier ends the stream; its windows
		 * fire before it, so that its checkpoint holds them. */
		rc = 0;
		if (t->ck != NULL && t->o.final && b.final &&
		    (rc = ws_rc(ws_finish(t->ws))) != 0) {
			ckpt_barrier_clear(&b);
			return rc;
		}
		rc = nd_reject_sync(&t->rej);
		if (rc == 0 && t->late != NULL && nd_sync_file(t->late) != 0) {
			msg_err("%s: %s", t->o.late_output, strerror(errno));
			rc = -1;
		}
		if (rc == 0 && t->ck != NULL)
			rc = ckpt_save(t, &b);
		ckpt_barrier_clear(&b);
		if (rc != 0)
			return ND_ERROR;
	}
	rc = nd_put(t->out, line, len);
	return rc != 0 ? rc : nd_flush(t->out);
}

/* How long input may stay quiet before --idle-timeout fires the open
 * windows: measured from the last record, so that control lines (a
 * barrier every few seconds) do not put it off.  -1: no limit. */
static int
idle_wait(const struct tool *t)
{
	int64_t left;

	if (t->o.idle <= 0 || t->ws->unfired == 0)
		return -1;
	left = t->o.idle - (kptime_mono_ms() - t->last_data);
	return left > 0 ? (int)left : 0;
}

/* How long to wait for input: until --idle-timeout fires, or the
 * progress line or --stats file is due.  -1: no limit. */
static int
input_wait(const struct tool *t)
{
	int w = idle_wait(t), p = progress_wait(&t->prog);

	return w < 0 || (p >= 0 && p < w) ? p : w;
}

static void
run(struct tool *t)
{
	struct buf why = BUF_INIT;
	char *line;
	size_t len;
	int rc;

	while (!sig_stop) {
		const char *reason = NULL;
		int64_t late[2] = { 0, 0 };

		rc = nd_next(t->in, &line, &len, input_wait(t));
		if (rc == ND_EOF)
			break;
		if (rc == ND_INTR)
			continue; /* sig_stop is checked above */
		buf_reset(&why);
		if (rc == ND_TIMEOUT) {
			if (progress_due(&t->prog))
				show_progress(t, 0);
			if (idle_wait(t) != 0)
				continue;
			msg_debug("idle: firing %llu open windows",
			    (unsigned long long)t->ws->unfired);
			rc = ws_rc(ws_idle(t->ws));
		} else if (rc == ND_TOOLONG) {
			if (!t->rej.strict && !t->rej.failed)
				continue;
			t->status = t->rej.failed ? KP_EXIT_FAILURE :
			    KP_EXIT_REJECTED;
			t->stopped = 1;
			break;
		} else if (rc != ND_LINE) {
			msg_err("<stdin>: %s", strerror(errno));
			t->status = KP_EXIT_FAILURE;
			t->stopped = 1;
			break;
		} else if (jscan_line(t->js, line, len, &reason) != 0) {
			buf_str(&why, reason);
			rc = REC_BAD;
		} else if (jscan_is_control(t->js)) {
			rc = on_control(t, line, len);
		} else {
			t->last_data = kptime_mono_ms();
			rc = on_record(t, line, len, &why, late);
		}
		if (outcome(t, rc, line, len, &why, late) != 0) {
			t->stopped = 1;
			break;
		}
		if ((t->ws->n.records & 4095) == 0 && progress_due(&t->prog))
			show_progress(t, 0);
	}
	buf_free(&why);
}

/* The scanner of every line, with the fields of the options. */
static int
scanner(struct tool *t)
{
	const struct opts *o = &t->o;

	t->js = jscan_new();
	if (t->js == NULL)
		return -1;
	t->f_time = jscan_want(t->js, &o->time);
	t->f_value = jscan_want(t->js, &o->value);
	t->f_key = o->has_key ? jscan_want(t->js, &o->key) : 0;
	t->f_weight = o->has_weight ? jscan_want(t->js, &o->weight) : 0;
	t->f_window = o->ws.emit != WS_EMIT_WINDOWS ?
	    jscan_want(t->js, &o->wfield) : 0;
	return t->f_time < 0 || t->f_value < 0 || t->f_key < 0 ||
	    t->f_weight < 0 || t->f_window < 0 ? -1 : 0;
}

/* Signals, files, input, output and the window state.  Returns
 * KP_EXIT_OK or the exit status (reported). */
static int
setup(struct tool *t)
{
	char err[256];
	int rc;

	if (sig_setup() != 0) {
		msg_err("cannot install signal handlers: %s", strerror(errno));
		return KP_EXIT_FAILURE;
	}
	if (nd_reject_init(&t->rej, t->cli.dead_letter, t->cli.strict) != 0)
		return KP_EXIT_USAGE;
	if (t->o.late_output != NULL) {
		t->late = fopen(t->o.late_output, "a");
		if (t->late == NULL)
			return cli_config_error("%s: %s", t->o.late_output,
			    strerror(errno));
	}
	t->ws = ws_new(&t->o.ws, err, sizeof(err));
	if (t->ws == NULL) {
		msg_err("%s", err);
		return KP_EXIT_FAILURE;
	}
	ws_on_fire(t->ws, on_fire, t);
	if (t->o.ckdir != NULL && (rc = ckpt_start(t)) != KP_EXIT_OK)
		return rc;
	t->last_data = kptime_mono_ms();
	progress_init(&t->prog, t->cli.progress, t->cli.stats);
	t->in = nd_reader_new(STDIN_FILENO, "<stdin>", t->cli.max_line);
	t->out = nd_writer_new(STDOUT_FILENO);
	if (t->in == NULL || t->out == NULL || scanner(t) != 0) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	nd_reader_set_reject(t->in, &t->rej);
	/* Flush what we hold whenever input stalls: low latency on a live
	 * stream without a write per record. */
	nd_reader_on_stall(t->in, on_stall, t);
	return KP_EXIT_OK;
}

/*
 * End of input, or SIGINT/SIGTERM (Flink's stop --drain): every open
 * window fires.  Not after --strict stopped us, nor after an error: those
 * windows would be cut short.  Then everything is flushed and closed, and
 * the summary written.
 */
static void
finish(struct tool *t)
{
	const struct ws_counts *n = &t->ws->n;
	int rc;

	/* End of input, or SIGINT/SIGTERM: without checkpoints the stream
	 * is over and every open window fires (Flink's final MAX_WATERMARK,
	 * its stop --drain).  With checkpoints the open windows stay in the
	 * last saved state for a later run (Flink's stop-with-savepoint);
	 * with --final they fired at the final barrier, and what is still
	 * open fires here (after the last commit: a later run fires it
	 * again).  A stop by --strict or an error never fires windows cut
	 * short. */
	if (!t->stopped && (t->ck == NULL || t->o.final)) {
		rc = ws_rc(ws_finish(t->ws));
		if (rc == ND_EPIPE)
			t->epipe = 1;
		else if (rc != 0)
			t->status = KP_EXIT_FAILURE;
	} else if (t->ws->unfired > 0) {
		msg_info("%s with %llu windows open%s", t->stopped ? "stopped" :
		    "ended", (unsigned long long)t->ws->unfired, t->ck != NULL ?
		    " (kept in the checkpoint for a later run)" : "");
	}
	show_progress(t, 1);
	rc = nd_writer_close(t->out);
	if (rc == ND_EPIPE)
		t->epipe = 1;
	else if (rc != 0)
		t->status = KP_EXIT_FAILURE;
	if (t->epipe)
		msg_info("output closed by the reader; stopped after line %llu",
		    nd_lineno(t->in));
	if (t->late != NULL) {
		if (nd_sync_file(t->late) != 0) {
			msg_err("%s: %s", t->o.late_output, strerror(errno));
			t->status = KP_EXIT_FAILURE;
		}
		if (fclose(t->late) != 0)
			t->status = KP_EXIT_FAILURE;
		t->late = NULL;
	}
	if (nd_reject_close(&t->rej) != 0)
		t->status = KP_EXIT_FAILURE;
	if (t->status == KP_EXIT_OK && t->rej.count > 0)
		t->status = KP_EXIT_REJECTED;
	if (n->late > 0 && t->o.late_output == NULL)
		msg_warn("%llu late records rejected (no --late-output)",
		    n->late);
	msg_info("%llu records, %zu keys, %llu windows fired (%llu re-fired), "
	    "%llu late, %llu control lines, %llu rejected", n->records,
	    t->ws->nkeys, n->fired - n->refired, n->refired, n->late,
	    n->control, t->rej.count);
}

/* Frees what t holds, whether or not the run got far. */
static void
tool_free(struct tool *t)
{
	struct jf_path *paths[] = { &t->o.time, &t->o.value, &t->o.key,
	    &t->o.weight, &t->o.wfield };
	size_t i;

	if (t->late != NULL)
		fclose(t->late);
	if (t->rej.dead != NULL || t->rej.dead_path != NULL)
		nd_reject_close(&t->rej);
	nd_writer_free(t->out);
	nd_reader_free(t->in);
	jscan_free(t->js);
	ws_free(t->ws);
	ckpt_close(t->ck);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		jf_path_free(paths[i]);
	buf_free(&t->sb);
	buf_free(&t->tmp);
}

int
main(int argc, char **argv)
{
	struct tool t;
	int rc;

	memset(&t, 0, sizeof(t));
	msg_init(argv[0]);
	rc = parse_args(argc, argv, &t.cli, &t.o);
	if (rc != CLI_RUN) {
		t.status = rc == CLI_DONE ? KP_EXIT_OK : rc;
	} else {
		t.status = setup(&t);
		if (t.status == KP_EXIT_OK) {
			run(&t);
			finish(&t);
		}
	}
	tool_free(&t);
	return t.status;
}
