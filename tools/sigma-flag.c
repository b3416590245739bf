/*
 * sigma-flag - flag records whose value lies more than K standard deviations
 * from a mean carried in the record itself.
 *
 * It is the second half of the reference job: window-stats --emit records
 * (or --emit trailing) adds a "window" object with the statistics of each
 * record's window; sigma-flag compares the record's value with them and keeps
 * the anomalies.  It is stateless: each line is judged alone, control lines
 * pass through in order, and records that pass are written from their
 * original bytes with the new members spliced before the closing brace.
 *
 * Speed: window-stats --emit records lines carry a dozen numbers and two
 * objects; the record scanner (jscan.h) validates each line and picks out
 * the few fields judged, without building a json-c object.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "jfield.h"
#include "jscan.h"
#include "msg.h"
#include "ndjson.h"
#include "progress.h"
#include "sig.h"

#define USAGE "sigma-flag [-hqv] [--all] [--count-field PATH] " \
	"[--dead-letter FILE] [--direction up|down|both] [--max-line BYTES] " \
	"[--mean-field PATH] [--min-count N] [--progress | --no-progress] " \
	"[--sigma K] [--stats FILE] [--stddev-field PATH] [--strict] [--value-field PATH]"

static const char help_text[] =
    "Flags records whose value lies more than K standard deviations from the\n"
    "mean carried in the record: |value - mean| > K * stddev.\n"
    "\n"
    "Options:\n"
    "  --value-field PATH       the value to judge (default price)\n"
    "  --mean-field PATH        the mean (default window.mean)\n"
    "  --stddev-field PATH      the standard deviation (default window.stddev)\n"
    "  --count-field PATH       the window's record count (default\n"
    "                           window.count), read only with --min-count\n"
    "  --sigma K                the threshold in standard deviations, > 0\n"
    "                           (default 3)\n"
    "  --min-count N            never flag a record whose count is below N\n"
    "                           (default 0: the count is not read)\n"
    "  --direction up|down|both\n"
    "                           flag values above, below or on either side of\n"
    "                           the mean (default both)\n"
    "  --all                    write every record, with \"anomaly\":true|false\n";

/* In the order --direction lists them. */
enum direction {
	DIR_UP,
	DIR_DOWN,
	DIR_BOTH,
};

/* The fields a record is judged on; the last three are the members this
 * tool adds, looked up only to refuse records that already have them. */
enum {
	F_VALUE,
	F_MEAN,
	F_STDDEV,
	F_COUNT,
	F_ZSCORE,
	F_SIGMA,
	F_ANOMALY,
	F_N,
};

struct opts {
	const char *spec[F_N];     /* the paths as given */
	struct jf_path path[F_N];
	int used[F_N];             /* count only with --min-count, anomaly
	                            * only with --all */
	int idx[F_N];              /* the scanner's index of each used field */
	double sigma;
	uint64_t min_count;
	enum direction dir;
	int all;
};

struct counts {
	unsigned long long records;  /* records judged or passed, not rejected */
	unsigned long long flagged;
	unsigned long long unjudged; /* no statistics, zero stddev, --min-count */
	unsigned long long control;
};

/* What one statistic of a record says. */
enum stat {
	ST_NUMBER,   /* a finite number, in *v */
	ST_NONE,     /* null, or a null on its path: no statistics */
	ST_BAD,      /* missing, another type, not finite: bad input */
};

/* What judging carries from record to record: the members this tool
 * adds, as spliced text (',"sigma":K' is the same for every record, so it
 * is formatted once), and the last text and value of each statistic (the
 * records of one window repeat them: each is converted once). */
struct judging {
	struct buf sigma;
	struct jscan_memo memo[F_N];
};

/* The state of a run, for the stall hook. */
struct run {
	struct nd_writer *w;
	struct progress prog;
	const struct counts *c;
	struct nd_reject *rej;
};

enum {
	OPT_VALUE = CLI_ID,
	OPT_MEAN,
	OPT_STDDEV,
	OPT_COUNT,
	OPT_SIGMA,
	OPT_MIN_COUNT,
	OPT_DIRECTION,
	OPT_ALL,
};

static const struct cli_option options[] = {
	{ "value-field", 1, OPT_VALUE },
	{ "mean-field", 1, OPT_MEAN },
	{ "stddev-field", 1, OPT_STDDEV },
	{ "count-field", 1, OPT_COUNT },
	{ "sigma", 1, OPT_SIGMA },
	{ "min-count", 1, OPT_MIN_COUNT },
	{ "direction", 1, OPT_DIRECTION },
	{ "all", 0, OPT_ALL },
	{ NULL, 0, 0 },
};

/*
 * A statistic of the record.  A null anywhere on the path means "this
 * record carries no statistics" (window-stats --emit trailing writes
 * "window":null before a key has a closed window), which is not bad input;
 * a missing member or a wrong type is.
 */
static enum stat
stat_read(const struct jscan_field *f, struct jscan_memo *m, double *v,
    const char **why)
{
	if (f->type == JSCAN_NULL || f->type == JSCAN_NULL_PATH)
		return ST_NONE;
	return jscan_number_memo(f, m, v, why) == 0 ? ST_NUMBER : ST_BAD;
}

/*
 * Judges one scanned record and writes it (or not).  Returns 0 to go on,
 * 1 when the line is bad input (the reason in why), or an ND_* code from
 * the writer.
 */
static int
judge(const struct opts *o, struct judging *jg, struct jscan *js,
    const char *line, struct nd_writer *w, struct counts *c, struct buf *why)
{
	enum stat st[F_N] = { ST_BAD, ST_NONE, ST_NONE, ST_NONE };
	double v[F_N] = { 0 }, z = 0;
	const char *reason = NULL;
	long double diff, bound;
	int has_z = 0, judged = 0, anomaly = 0;
	struct buf *out;
	size_t i;

	for (i = F_ZSCORE; i < F_N; i++) {
		if (o->used[i] && jscan_get(js, o->idx[i])->type != JSCAN_MISSING) {
			buf_printf(why, "field \"%s\" already present", o->spec[i]);
			return 1;
		}
	}
	/* The value is the record's own: null is as bad as missing. */
	if (jscan_number(jscan_get(js, o->idx[F_VALUE]), &v[F_VALUE],
	    &reason) != 0) {
		buf_printf(why, "%s: %s", o->spec[F_VALUE], reason);
		return 1;
	}
	for (i = F_MEAN; i <= F_COUNT; i++) {
		if (!o->used[i])
			continue;
		st[i] = stat_read(jscan_get(js, o->idx[i]), &jg->memo[i], &v[i],
		    &reason);
		if (st[i] == ST_NUMBER && i != F_MEAN && v[i] < 0) {
			st[i] = ST_BAD;
			reason = "negative";
		}
		if (st[i] == ST_BAD) {
			buf_printf(why, "%s: %s", o->spec[i], reason);
			return 1;
		}
	}

	/*
	 * The test is |value - mean| > K * stddev, strictly, computed in long
	 * double so that neither the difference nor the bound overflows.  A
	 * zero (or null) stddev never flags: a window whose values are all
	 * equal gives no scale to measure a deviation against.
	 */
	if (st[F_MEAN] == ST_NUMBER && st[F_STDDEV] == ST_NUMBER &&
	    v[F_STDDEV] > 0) {
		diff = (long double)v[F_VALUE] - (long double)v[F_MEAN];
		bound = (long double)o->sigma * (long double)v[F_STDDEV];
		z = (double)(diff / (long double)v[F_STDDEV]);
		has_z = 1;
		judged = o->min_count == 0 || (st[F_COUNT] == ST_NUMBER &&
		    v[F_COUNT] >= (double)o->min_count);
		if (judged) {
			switch (o->dir) {
			case DIR_UP:
				anomaly = diff > bound;
				break;
			case DIR_DOWN:
				anomaly = -diff > bound;
				break;
			case DIR_BOTH:
				anomaly = fabsl(diff) > bound;
				break;
			}
		}
	}
	c->records++;
	if (anomaly)
		c->flagged++;
	else if (!judged)
		c->unjudged++;
	if (!anomaly && !o->all)
		return 0;

	out = nd_buf(w);
	buf_add(out, line, jscan_brace(js));
	if (jscan_empty(js))
		buf_lit(out, "\"zscore\":");
	else
		buf_lit(out, ",\"zscore\":");
	if (has_z)
		buf_double(out, z);
	else
		buf_lit(out, "null");
	buf_add(out, jg->sigma.p, jg->sigma.len);
	if (o->all && anomaly)
		buf_lit(out, ",\"anomaly\":true}");
	else if (o->all)
		buf_lit(out, ",\"anomaly\":false}");
	else
		buf_lit(out, "}");
	return nd_end(w);
}

static int
option(struct cli *c, int id, const char *arg)
{
	static const char *const dirs[] = { "up", "down", "both", NULL };
	struct opts *o = c->ctx;
	int rc = 0, d;

	switch (id) {
	case OPT_VALUE:
	case OPT_MEAN:
	case OPT_STDDEV:
	case OPT_COUNT:
		o->spec[F_VALUE + (id - OPT_VALUE)] = arg;
		rc = cli_path(c, arg, &o->path[F_VALUE + (id - OPT_VALUE)]);
		break;
	case OPT_SIGMA:
		rc = cli_positive(c, arg, &o->sigma);
		break;
	case OPT_MIN_COUNT:
		rc = cli_count(c, arg, 0, UINT64_MAX, &o->min_count);
		break;
	case OPT_DIRECTION:
		rc = cli_word(c, arg, dirs, &d);
		o->dir = (enum direction)d;
		break;
	case OPT_ALL:
		o->all = 1;
		break;
	}
	return rc;
}

/* Parses the command line into c and o.  Returns CLI_RUN, CLI_DONE or an
 * exit status. */
static int
parse_args(int argc, char **argv, struct cli *c, struct opts *o)
{
	static const char *const dflt[F_N] = { "price", "window.mean",
	    "window.stddev", "window.count", "zscore", "sigma", "anomaly" };
	size_t i;
	int rc;

	o->sigma = 3;
	o->dir = DIR_BOTH;
	c->usage = USAGE;
	c->help = help_text;
	c->groups = CLI_INPUT | CLI_PROGRESS;
	c->options = options;
	c->handle = option;
	c->ctx = o;
	rc = cli_parse(c, argc, argv);
	if (rc != CLI_RUN)
		return rc;
	o->used[F_VALUE] = o->used[F_MEAN] = o->used[F_STDDEV] = 1;
	o->used[F_COUNT] = o->min_count > 0;
	o->used[F_ZSCORE] = o->used[F_SIGMA] = 1;
	o->used[F_ANOMALY] = o->all;
	for (i = 0; i < F_N; i++) {
		if (o->spec[i] != NULL)
			continue;
		o->spec[i] = dflt[i];
		if (jf_path_init(&o->path[i], dflt[i]) != 0) {
			msg_err("out of memory");
			return KP_EXIT_FAILURE;
		}
	}
	return CLI_RUN;
}

static void
show_progress(struct run *run, int final)
{
	const struct counts *c = run->c;

	struct buf f = BUF_INIT;

	progress_show(&run->prog, final, "%llu records, %llu flagged, %.0f/s",
	    c->records, c->flagged,
	    (double)c->records / (progress_elapsed(&run->prog) + 1e-9));
	buf_printf(&f, "\"records_in\":%llu,\"records_out\":%llu,"
	    "\"flagged\":%llu,\"not_judged\":%llu,\"control\":%llu,"
	    "\"rejected\":%llu", c->records, nd_count(run->w) - c->control,
	    c->flagged, c->unjudged, c->control, run->rej->count);
	progress_stats(&run->prog, final, &f);
	buf_free(&f);
}

/* Stall hook: before sigma-flag waits for input, what it holds goes out. */
static void
on_stall(void *arg)
{
	struct run *run = arg;

	nd_flush(run->w);
	if (progress_due(&run->prog))
		show_progress(run, 0);
}

/* The end of a run: the last progress, output closed, the summary.
 * Returns the exit status. */
static int
finish(struct run *run, struct nd_reader *r, int status, int epipe)
{
	const struct counts *c = run->c;
	int rc;

	show_progress(run, 1);
	rc = nd_writer_close(run->w);
	if (rc == ND_EPIPE)
		epipe = 1;
	else if (rc != 0)
		status = KP_EXIT_FAILURE;
	if (epipe)
		msg_info("output closed by the reader; stopped after line %llu",
		    nd_lineno(r));
	if (nd_reject_close(run->rej) != 0)
		status = KP_EXIT_FAILURE;
	if (status == KP_EXIT_OK && run->rej->count > 0)
		status = KP_EXIT_REJECTED;
	msg_info("%llu records, %llu flagged, %llu not judged, "
	    "%llu control lines, %llu rejected", c->records, c->flagged,
	    c->unjudged, c->control, run->rej->count);
	return status;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct cli cli;
	struct counts c = { 0 };
	struct judging jg = { BUF_INIT, { { 0, 0, { 0 } } } };
	struct nd_reject rej;
	struct nd_reader *r = NULL;
	struct nd_writer *w = NULL;
	struct jscan *js = NULL;
	struct buf why = BUF_INIT;
	struct run run;
	int status = KP_EXIT_FAILURE, rc, epipe = 0;
	char *line;
	size_t len, i;

	memset(&o, 0, sizeof(o));
	memset(&cli, 0, sizeof(cli));
	memset(&rej, 0, sizeof(rej));
	memset(&run, 0, sizeof(run));
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
	buf_lit(&jg.sigma, ",\"sigma\":");
	buf_double(&jg.sigma, o.sigma);
	js = jscan_new();
	r = nd_reader_new(STDIN_FILENO, "<stdin>", cli.max_line);
	w = nd_writer_new(STDOUT_FILENO);
	if (js == NULL || r == NULL || w == NULL || jg.sigma.failed) {
		msg_err("out of memory");
		goto out;
	}
	for (i = 0; i < F_N; i++) {
		if (o.used[i] && (o.idx[i] = jscan_want(js, &o.path[i])) < 0) {
			msg_err("out of memory");
			goto out;
		}
	}
	run.w = w;
	run.c = &c;
	progress_init(&run.prog, cli.progress, cli.stats);
	run.rej = &rej;
	nd_reader_set_reject(r, &rej);
	/* Flush what we hold whenever input stalls: low latency on a live
	 * stream without a write per record. */
	nd_reader_on_stall(r, on_stall, &run);

	status = KP_EXIT_OK;
	while (!sig_stop) {
		const char *reason = NULL;

		/* A quiet input still gets its progress line and --stats. */
		rc = nd_next(r, &line, &len, progress_wait(&run.prog));
		if (rc == ND_EOF)
			break;
		if (rc == ND_INTR)
			continue;
		if (rc == ND_TIMEOUT) {
			if (progress_due(&run.prog))
				show_progress(&run, 0);
			continue;
		}
		if (rc == ND_TOOLONG) {
			if (rej.strict || rej.failed)
				break;
			continue;
		}
		if (rc != ND_LINE) {
			msg_err("<stdin>: %s", strerror(errno));
			status = KP_EXIT_FAILURE;
			break;
		}
		buf_reset(&why);
		if (jscan_line(js, line, len, &reason) != 0) {
			buf_str(&why, reason);
			rc = 1;
		} else if (jscan_is_control(js)) {
			/* A barrier passes once the lines rejected before it
			 * are durable: they belong to its checkpoint. */
			c.control++;
			if (nd_reject_sync(&rej) != 0) {
				status = KP_EXIT_FAILURE;
				break;
			}
			rc = nd_put(w, line, len);
			if (rc == 0)
				rc = nd_flush(w);
		} else {
			rc = judge(&o, &jg, js, line, w, &c, &why);
		}
		if (rc == 1) {
			if (nd_reject(&rej, nd_name(r), nd_lineno(r), line, len,
			    "%.*s", (int)why.len, why.p) != 0)
				break;
			continue;
		}
		if (rc == ND_EPIPE) {
			epipe = 1;
			break;
		}
		if (rc != 0) {
			/* The writer has reported a write error itself. */
			if (nd_writer_status(w) == 0)
				msg_err("out of memory");
			status = KP_EXIT_FAILURE;
			break;
		}
		if ((c.records & 4095) == 0 && progress_due(&run.prog))
			show_progress(&run, 0);
	}

	status = finish(&run, r, status, epipe);
out:
	nd_writer_free(w);
	nd_reader_free(r);
	jscan_free(js);
	buf_free(&why);
	buf_free(&jg.sigma);
	if (rej.dead != NULL || rej.dead_path != NULL)
		nd_reject_close(&rej);
	for (i = 0; i < F_N; i++)
		jf_path_free(&o.path[i]);
	return status;
}
