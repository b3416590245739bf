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
 */
#include <errno.h>
#include <getopt.h>
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

#define USAGE "sigma-flag [-qv] [--all] [--count-field PATH] " \
	"[--dead-letter FILE] [--direction up|down|both] [--max-line BYTES] " \
	"[--mean-field PATH] [--min-count N] [--sigma K] " \
	"[--stddev-field PATH] [--strict] [--value-field PATH]"

static const char help_text[] =
    "usage: " USAGE "\n"
    "\n"
    "Flags records whose value lies more than K standard deviations from the\n"
    "mean carried in the record: |value - mean| > K * stddev.\n"
    "\n"
    "  --value-field PATH    the value to judge (default price)\n"
    "  --mean-field PATH     the mean (default window.mean)\n"
    "  --stddev-field PATH   the standard deviation (default window.stddev)\n"
    "  --count-field PATH    the window's record count (default window.count),\n"
    "                        read only with --min-count\n"
    "  --sigma K             the threshold in standard deviations, > 0 (default 3)\n"
    "  --min-count N         never flag a record whose count is below N\n"
    "                        (default 0: the count is not read)\n"
    "  --direction up|down|both\n"
    "                        flag values above, below or on either side of\n"
    "                        the mean (default both)\n"
    "  --all                 write every record, with \"anomaly\":true|false\n"
    "  --dead-letter FILE    append rejected lines to FILE, verbatim\n"
    "  --strict              stop at the first rejected line\n"
    "  --max-line BYTES      longest accepted line (default 1MiB + 4KiB)\n"
    "  -v, --verbose         a summary on stderr at exit\n"
    "  -q, --quiet           errors only\n"
    "  --help                this text\n"
    "  --version             the version\n";

enum direction {
	DIR_BOTH,
	DIR_UP,
	DIR_DOWN,
};

/* What a statistics field (mean, stddev, count) holds in one record. */
enum stat_state {
	STAT_NUMBER,  /* a finite number */
	STAT_NULL,    /* null, or an object on its path is null: no statistics */
	STAT_BAD,     /* missing or of the wrong type: bad input */
};

struct opts {
	struct jf_path value, mean, stddev, count;
	double sigma;
	uint64_t min_count;
	enum direction dir;
	int all;
	int strict;
	const char *dead_letter;
	size_t max_line;
};

struct counts {
	unsigned long long records;  /* records judged or passed, not rejected */
	unsigned long long flagged;
	unsigned long long unjudged; /* no statistics, zero stddev, --min-count */
	unsigned long long control;
};

/* The members this tool adds, as spliced text: ',"sigma":K' is the same
 * for every record, so it is formatted once. */
struct splice {
	char sigma[64];
	size_t sigma_len;
};

enum {
	OPT_VALUE = 256,
	OPT_MEAN,
	OPT_STDDEV,
	OPT_COUNT,
	OPT_SIGMA,
	OPT_MIN_COUNT,
	OPT_DIRECTION,
	OPT_ALL,
	OPT_DEAD,
	OPT_STRICT,
	OPT_MAX_LINE,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option longopts[] = {
	{ "value-field", required_argument, NULL, OPT_VALUE },
	{ "mean-field", required_argument, NULL, OPT_MEAN },
	{ "stddev-field", required_argument, NULL, OPT_STDDEV },
	{ "count-field", required_argument, NULL, OPT_COUNT },
	{ "sigma", required_argument, NULL, OPT_SIGMA },
	{ "min-count", required_argument, NULL, OPT_MIN_COUNT },
	{ "direction", required_argument, NULL, OPT_DIRECTION },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "dead-letter", required_argument, NULL, OPT_DEAD },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "max-line", required_argument, NULL, OPT_MAX_LINE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/*
 * Looks up a statistics field.  A null anywhere on the path means "this
 * record carries no statistics" (window-stats --emit trailing writes
 * "window":null before a key has a closed window), which is not bad input;
 * a missing member or a wrong type is.
 */
static enum stat_state
stat_get(struct json_object *root, const struct jf_path *p, double *out,
    const char **why)
{
	struct json_object *o = root;
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (o == NULL)
			return STAT_NULL;
		if (!json_object_is_type(o, json_type_object)) {
			*why = "missing";
			return STAT_BAD;
		}
		if (!json_object_object_get_ex(o, p->seg[i], &o)) {
			*why = "missing";
			return STAT_BAD;
		}
	}
	if (o == NULL)
		return STAT_NULL;
	return jf_number(o, out, why) == 0 ? STAT_NUMBER : STAT_BAD;
}

/* Formats the reason json-c gave so that every parse failure reads alike. */
static const char *
json_why(const char *why, char *buf, size_t size)
{
	if (strncmp(why, "invalid JSON", 12) == 0 ||
	    strcmp(why, "not a JSON object") == 0 ||
	    strcmp(why, "empty line") == 0)
		return why;
	snprintf(buf, size, "invalid JSON: %s", why);
	return buf;
}

/*
 * Judges one record and writes it (or not).  Returns 0 to go on, 1 when the
 * line is bad input (*why says why; whybuf may hold it), or an ND_* code
 * from the writer.
 */
static int
judge(const struct opts *o, const struct splice *sp, struct json_object *rec,
    const char *line, size_t len, struct nd_writer *w, struct counts *c,
    const char **why, char *whybuf, size_t whysz)
{
	static const char *const added[] = { "zscore", "sigma", "anomaly" };
	enum stat_state ms, ss, cs = STAT_NUMBER;
	double value, mean = 0, sd = 0, count = 0, z = 0;
	long double diff, bound;
	int has_z = 0, judged = 0, anomaly = 0, empty, rc;
	const char *fwhy = NULL;
	size_t i, nadded = o->all ? 3 : 2;
	long end;

	for (i = 0; i < nadded; i++) {
		if (json_object_object_get_ex(rec, added[i], NULL)) {
			snprintf(whybuf, whysz, "field \"%s\" already present",
			    added[i]);
			*why = whybuf;
			return 1;
		}
	}
	/* The value is the record's own: null is as bad as missing. */
	if (stat_get(rec, &o->value, &value, &fwhy) != STAT_NUMBER) {
		snprintf(whybuf, whysz, "%s: %s", o->value.text,
		    fwhy != NULL ? fwhy : "null");
		*why = whybuf;
		return 1;
	}
	ms = stat_get(rec, &o->mean, &mean, &fwhy);
	if (ms == STAT_BAD) {
		snprintf(whybuf, whysz, "%s: %s", o->mean.text, fwhy);
		*why = whybuf;
		return 1;
	}
	ss = stat_get(rec, &o->stddev, &sd, &fwhy);
	if (ss == STAT_BAD || (ss == STAT_NUMBER && sd < 0)) {
		snprintf(whybuf, whysz, "%s: %s", o->stddev.text,
		    ss == STAT_BAD ? fwhy : "negative");
		*why = whybuf;
		return 1;
	}
	if (o->min_count > 0) {
		cs = stat_get(rec, &o->count, &count, &fwhy);
		if (cs == STAT_BAD || (cs == STAT_NUMBER && count < 0)) {
			snprintf(whybuf, whysz, "%s: %s", o->count.text,
			    cs == STAT_BAD ? fwhy : "negative");
			*why = whybuf;
			return 1;
		}
	}

	/*
	 * The test is |value - mean| > K * stddev, strictly, computed in long
	 * double so that neither the difference nor the bound overflows.  A
	 * zero (or null) stddev never flags: a window whose values are all
	 * equal gives no scale to measure a deviation against.
	 */
	if (ms == STAT_NUMBER && ss == STAT_NUMBER && sd > 0) {
		diff = (long double)value - (long double)mean;
		bound = (long double)o->sigma * (long double)sd;
		z = (double)(diff / (long double)sd);
		has_z = 1;
		judged = cs == STAT_NUMBER && count >= (double)o->min_count;
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
	end = jf_obj_end(line, len, &empty);
	if (end < 0) {
		*why = "not a JSON object";
		return 1;
	}
	c->records++;
	if (anomaly)
		c->flagged++;
	else if (!judged)
		c->unjudged++;
	if (!anomaly && !o->all)
		return 0;

	rc = nd_append(w, line, (size_t)end);
	rc = rc ? rc : nd_append(w, empty ? "\"zscore\":" : ",\"zscore\":",
	    empty ? 9 : 10);
	if (rc == 0)
		rc = has_z ? nd_append_double(w, z) : nd_append(w, "null", 4);
	rc = rc ? rc : nd_append(w, sp->sigma, sp->sigma_len);
	if (rc == 0 && o->all)
		rc = anomaly ? nd_append(w, ",\"anomaly\":true}", 16) :
		    nd_append(w, ",\"anomaly\":false}", 17);
	else if (rc == 0)
		rc = nd_append(w, "}", 1);
	if (rc != 0) {
		nd_discard(w);
		return rc;
	}
	return nd_end(w);
}

/* ',"sigma":K' with K in the shortest form that reads back exactly, the
 * way nd_append_double() writes zscore. */
static size_t
sigma_text(double k, char *buf, size_t size)
{
	char num[40];
	int prec, n;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, k);
		if (strtod(num, NULL) == k)
			break;
	}
	n = snprintf(buf, size, ",\"sigma\":%s", num);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	const char *vf = "price", *mf = "window.mean", *sf = "window.stddev";
	const char *cf = "window.count";
	uint64_t n;
	char *end;
	int ch;

	o->sigma = 3;
	o->dir = DIR_BOTH;
	o->max_line = ND_MAX_LINE_DEFAULT;
	opterr = 0; /* our own messages, prefixed "sigma-flag:" */
	while ((ch = getopt_long(argc, argv, ":qv", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_VALUE: vf = optarg; break;
		case OPT_MEAN: mf = optarg; break;
		case OPT_STDDEV: sf = optarg; break;
		case OPT_COUNT: cf = optarg; break;
		case OPT_SIGMA:
			errno = 0;
			o->sigma = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !isfinite(o->sigma) || o->sigma <= 0)
				return msg_usage(USAGE, "--sigma: not a positive "
				    "number: %s", optarg);
			break;
		case OPT_MIN_COUNT:
			if (kpnum_parse(optarg, UINT64_MAX, &o->min_count) != 0)
				return msg_usage(USAGE, "--min-count: not a whole "
				    "number: %s", optarg);
			break;
		case OPT_DIRECTION:
			if (strcmp(optarg, "both") == 0)
				o->dir = DIR_BOTH;
			else if (strcmp(optarg, "up") == 0)
				o->dir = DIR_UP;
			else if (strcmp(optarg, "down") == 0)
				o->dir = DIR_DOWN;
			else
				return msg_usage(USAGE, "--direction: expected "
				    "up, down or both: %s", optarg);
			break;
		case OPT_ALL: o->all = 1; break;
		case OPT_DEAD: o->dead_letter = optarg; break;
		case OPT_STRICT: o->strict = 1; break;
		case OPT_MAX_LINE:
			if (kpsize_parse(optarg, &n) != 0 || n == 0 ||
			    n > 0x7ffffffe)
				return msg_usage(USAGE, "--max-line: not a size "
				    "between 1 and 2GiB: %s", optarg);
			o->max_line = (size_t)n;
			break;
		case 'v': msg_verbosity++; break;
		case 'q': msg_verbosity = 0; break;
		case OPT_HELP:
			fputs(help_text, stdout);
			return fflush(stdout) == 0 ? -1 : KP_EXIT_FAILURE;
		case OPT_VERSION:
			printf("sigma-flag %s\n", KP_VERSION);
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
	}
	if (optind < argc)
		return msg_usage(USAGE, "unexpected argument: %s", argv[optind]);
	if (jf_path_init(&o->value, vf) != 0)
		return msg_usage(USAGE, "--value-field: bad path: %s", vf);
	if (jf_path_init(&o->mean, mf) != 0)
		return msg_usage(USAGE, "--mean-field: bad path: %s", mf);
	if (jf_path_init(&o->stddev, sf) != 0)
		return msg_usage(USAGE, "--stddev-field: bad path: %s", sf);
	if (jf_path_init(&o->count, cf) != 0)
		return msg_usage(USAGE, "--count-field: bad path: %s", cf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct counts c = { 0 };
	struct splice sp;
	struct nd_reject rej;
	struct nd_reader *r = NULL;
	struct nd_writer *w = NULL;
	struct jf_parser jp = { NULL };
	struct json_object *rec = NULL;
	char whybuf[512], jbuf[256];
	int status = KP_EXIT_FAILURE, rc, epipe = 0;
	char *line;
	size_t len;

	memset(&o, 0, sizeof(o));
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
	sp.sigma_len = sigma_text(o.sigma, sp.sigma, sizeof(sp.sigma));
	if (nd_reject_init(&rej, o.dead_letter, o.strict) != 0)
		goto out;
	if (jf_parser_init(&jp) != 0) {
		msg_err("out of memory");
		goto out;
	}
	r = nd_reader_new(STDIN_FILENO, "<stdin>", o.max_line);
	w = nd_writer_new(STDOUT_FILENO);
	if (r == NULL || w == NULL) {
		msg_err("out of memory");
		goto out;
	}
	nd_reader_set_reject(r, &rej);
	/* Flush what we hold whenever input stalls: low latency on a live
	 * stream without a write per record. */
	nd_reader_on_stall(r, nd_flush_hook, w);

	status = KP_EXIT_OK;
	while (!sig_stop) {
		const char *why = NULL;

		rc = nd_next(r, &line, &len, -1);
		if (rc == ND_EOF)
			break;
		if (rc == ND_INTR)
			continue;
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
		if (nd_is_control(line, len)) {
			c.control++;
			rc = nd_put(w, line, len);
		} else {
			rec = jf_parse_object(&jp, line, len, &why);
			if (rec == NULL) {
				why = json_why(why, jbuf, sizeof(jbuf));
				rc = 1;
			} else {
				rc = judge(&o, &sp, rec, line, len, w, &c, &why,
				    whybuf, sizeof(whybuf));
				json_object_put(rec);
				rec = NULL;
			}
			if (rc == 1) {
				if (nd_reject(&rej, nd_name(r), nd_lineno(r), line,
				    len, "%s", why) != 0)
					break;
				continue;
			}
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
	}

	rc = nd_writer_close(w);
	if (rc == ND_EPIPE)
		epipe = 1;
	else if (rc != 0)
		status = KP_EXIT_FAILURE;
	if (epipe)
		msg_info("output closed by the reader; stopped after line %llu",
		    nd_lineno(r));
	if (nd_reject_close(&rej) != 0)
		status = KP_EXIT_FAILURE;
	if (status == KP_EXIT_OK && rej.count > 0)
		status = KP_EXIT_REJECTED;
	msg_info("%llu records, %llu flagged, %llu not judged, "
	    "%llu control lines, %llu rejected", c.records, c.flagged,
	    c.unjudged, c.control, rej.count);
out:
	json_object_put(rec);
	nd_writer_free(w);
	nd_reader_free(r);
	jf_parser_free(&jp);
	if (rej.dead != NULL || rej.dead_path != NULL)
		nd_reject_close(&rej);
	jf_path_free(&o.value);
	jf_path_free(&o.mean);
	jf_path_free(&o.stddev);
	jf_path_free(&o.count);
	return status;
}
