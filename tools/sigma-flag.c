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
 * objects, and building json-c objects for them costs four times what the
 * judgement needs.  So each line first goes through scan_record(), a strict,
 * allocation-free JSON scanner that validates the whole line and picks out
 * the few fields we read.  It only ever says "valid, here are the fields" or
 * "not sure": anything outside plain ASCII JSON (non-ASCII bytes, \u escapes,
 * escaped keys, integers of 19 digits or more, deep nesting, unusual white
 * space, any syntax error) goes to the json-c parser, which decides and
 * words the error.  The scanner therefore accepts a subset of what json-c
 * accepts and reads the same values from it (last duplicate member wins,
 * integers through int64 as json-c does).
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

/* What one field of a record holds. */
enum fstate {
	FS_MISSING,   /* absent, or a non-object on its path: bad input */
	FS_NUMBER,    /* a finite number */
	FS_NULL,      /* null, or a null object on its path: no statistics */
	FS_WRONG,     /* another type, or not finite: bad input */
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

struct field {
	enum fstate st;
	double v;           /* FS_NUMBER */
	const char *why;    /* FS_WRONG */
};

struct opts {
	struct jf_path path[F_N];  /* value, mean, stddev, count, zscore, ... */
	int used[F_N];             /* count only with --min-count, anomaly
	                            * only with --all */
	size_t nused, fidx[F_N];   /* the used fields, in order */
	size_t *seglen[F_N];       /* length of each path segment */
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
 * One field from a json-c object.  A null anywhere on the path means "this
 * record carries no statistics" (window-stats --emit trailing writes
 * "window":null before a key has a closed window), which is not bad input;
 * a missing member or a wrong type is.
 */
static void
field_from_json(struct json_object *root, const struct jf_path *p,
    struct field *f)
{
	struct json_object *o = root;
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (o == NULL) {
			f->st = FS_NULL;
			return;
		}
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, p->seg[i], &o)) {
			f->st = FS_MISSING;
			return;
		}
	}
	if (o == NULL)
		f->st = FS_NULL;
	else if (jf_number(o, &f->v, &f->why) == 0)
		f->st = FS_NUMBER;
	else
		f->st = FS_WRONG;
}

/* ---- the fast scanner ---- */

/* json-c's default nesting limit is 32: stay below it. */
#define SCAN_MAX_DEPTH 30

/* A field being looked for, as the scanner sees it. */
struct want {
	const struct jf_path *p;
	size_t *seglen;
	enum fstate st;
	const char *tok;     /* FS_NUMBER: the number's text */
	size_t toklen;
};

struct scan {
	const char *p, *end;
	struct want *w;
	size_t nw;
};

static int scan_value(struct scan *s, unsigned active, size_t depth);

static void
scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* A string at s->p ('"'): plain ASCII and the two-character escapes only. */
static int
scan_string(struct scan *s, const char **str, size_t *len, int *escaped)
{
	const char *p = s->p + 1;

	*escaped = 0;
	for (;;) {
		while (p < s->end && *p != '"' && *p != '\\' &&
		    (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80)
			p++;
		if (p >= s->end)
			return -1;
		if (*p == '"')
			break;
		if (*p != '\\' || p + 1 >= s->end || p[1] == '\0' ||
		    strchr("\"\\/bfnrt", p[1]) == NULL)
			return -1;
		*escaped = 1;
		p += 2;
	}
	*str = s->p + 1;
	*len = (size_t)(p - (s->p + 1));
	s->p = p + 1;
	return 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number by RFC 8259's grammar; integers of more than 18 digits are left
 * to json-c (int64 overflow rules). */
static int
scan_number(struct scan *s)
{
	const char *p = s->p, *d;
	int integer = 1;

	if (p < s->end && *p == '-')
		p++;
	d = p;
	if (p < s->end && *p == '0')
		p++;
	else if (p < s->end && *p >= '1' && *p <= '9')
		while (p < s->end && is_digit(*p))
			p++;
	else
		return -1;
	if (p - d > 18)
		integer = -1;
	if (p < s->end && *p == '.') {
		if (++p >= s->end || !is_digit(*p))
			return -1;
		while (p < s->end && is_digit(*p))
			p++;
		integer = 0;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || !is_digit(*p))
			return -1;
		while (p < s->end && is_digit(*p))
			p++;
		integer = 0;
	}
	if (integer < 0)
		return -1;
	s->p = p;
	return 0;
}

static int
scan_literal(struct scan *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/*
 * An object at s->p.  active: the wants whose path leads here, depth: how
 * many of their segments are behind us.  A member that matches a want's
 * segment resets what an earlier duplicate said (json-c keeps the last).
 */
static int
scan_object(struct scan *s, unsigned active, size_t depth)
{
	s->p++;
	scan_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		const char *key, *vstart;
		size_t klen, i;
		unsigned sub = 0, last = 0;
		int esc;

		if (s->p >= s->end || *s->p != '"' ||
		    scan_string(s, &key, &klen, &esc) != 0 || esc)
			return -1;
		scan_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -1;
		s->p++;
		scan_ws(s);
		if (s->p >= s->end)
			return -1;
		vstart = s->p;
		for (i = 0; active != 0 && i < s->nw; i++) {
			struct want *w = &s->w[i];

			if (!(active & (1u << i)) || w->seglen[depth] != klen ||
			    memcmp(w->p->seg[depth], key, klen) != 0)
				continue;
			if (depth + 1 == w->p->n) {
				last |= 1u << i;
				if (*vstart == 'n')
					w->st = FS_NULL;
				else if (*vstart == '-' || is_digit(*vstart))
					w->st = FS_NUMBER;
				else
					w->st = FS_WRONG;
			} else if (*vstart == '{') {
				w->st = FS_MISSING;
				sub |= 1u << i;
			} else {
				w->st = *vstart == 'n' ? FS_NULL : FS_MISSING;
			}
		}
		if (scan_value(s, sub, depth + 1) != 0)
			return -1;
		for (i = 0; last != 0 && i < s->nw; i++) {
			if ((last & (1u << i)) && s->w[i].st == FS_NUMBER) {
				s->w[i].tok = vstart;
				s->w[i].toklen = (size_t)(s->p - vstart);
			}
		}
		scan_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			scan_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return -1;
	}
}

static int
scan_array(struct scan *s, size_t depth)
{
	s->p++;
	scan_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (scan_value(s, 0, depth + 1) != 0)
			return -1;
		scan_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			scan_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 0;
		}
		return -1;
	}
}

static int
scan_value(struct scan *s, unsigned active, size_t depth)
{
	const char *str;
	size_t len;
	int esc;

	if (s->p >= s->end || depth > SCAN_MAX_DEPTH)
		return -1;
	switch (*s->p) {
	case '{':
		return scan_object(s, active, depth);
	case '[':
		return scan_array(s, depth);
	case '"':
		return scan_string(s, &str, &len, &esc);
	case 't':
		return scan_literal(s, "true", 4);
	case 'f':
		return scan_literal(s, "false", 5);
	case 'n':
		return scan_literal(s, "null", 4);
	default:
		return scan_number(s);
	}
}

/*
 * Reads the fields of a line that is one JSON object, without json-c.
 * Returns 0 with f[] filled, or -1 when the line is not plain enough to be
 * sure (then json-c decides).
 */
static int
scan_record(const char *line, size_t len, struct want *w, size_t nw,
    const size_t *fidx, struct field *out)
{
	struct scan s = { line, line + len, w, nw };
	size_t i;

	for (i = 0; i < nw; i++)
		w[i].st = FS_MISSING;
	scan_ws(&s);
	if (s.p >= s.end || *s.p != '{' ||
	    scan_value(&s, (1u << nw) - 1, 0) != 0)
		return -1;
	scan_ws(&s);
	if (s.p != s.end)
		return -1;
	for (i = 0; i < nw; i++) {
		struct field *f = &out[fidx[i]];

		f->st = w[i].st;
		if (w[i].st == FS_WRONG)
			f->why = "not a number";
		if (w[i].st != FS_NUMBER)
			continue;
		/* As json-c reads them: integers through int64, others with
		 * strtod.  The token is a valid JSON number followed by a
		 * delimiter, so both stop at its end. */
		if (memchr(w[i].tok, '.', w[i].toklen) == NULL &&
		    memchr(w[i].tok, 'e', w[i].toklen) == NULL &&
		    memchr(w[i].tok, 'E', w[i].toklen) == NULL)
			f->v = (double)strtoll(w[i].tok, NULL, 10);
		else
			f->v = strtod(w[i].tok, NULL);
		if (!isfinite(f->v)) {
			f->st = FS_WRONG;
			f->why = "not a finite number";
		}
	}
	return 0;
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
 * Reads the used fields of a record line into f[]: with the scanner when it
 * can, else with json-c.  Returns 0, or 1 when the line is not a JSON object
 * (*why says why).
 */
static int
read_fields(const struct opts *o, struct jf_parser *jp, struct want *want,
    const char *line, size_t len, struct field *f, const char **why,
    char *jbuf, size_t jsz)
{
	struct json_object *rec;
	size_t i;

	for (i = 0; i < F_N; i++) {
		f[i].st = FS_MISSING;
		f[i].why = NULL;
	}
	if (scan_record(line, len, want, o->nused, o->fidx, f) == 0)
		return 0;
	rec = jf_parse_object(jp, line, len, why);
	if (rec == NULL) {
		*why = json_why(*why, jbuf, jsz);
		return 1;
	}
	for (i = 0; i < o->nused; i++)
		field_from_json(rec, &o->path[o->fidx[i]], &f[o->fidx[i]]);
	json_object_put(rec);
	return 0;
}

/* Why a field is bad, for messages. */
static const char *
fwhy(const struct field *f)
{
	switch (f->st) {
	case FS_MISSING:
		return "missing";
	case FS_NULL:
		return "null";
	default:
		return f->why != NULL ? f->why : "not a number";
	}
}

/*
 * Judges one record from its fields and writes it (or not).  Returns 0 to
 * go on, 1 when the line is bad input (*why says why, in whybuf), or an ND_*
 * code from the writer.
 */
static int
judge(const struct opts *o, const struct splice *sp, const struct field *f,
    const char *line, size_t len, struct nd_writer *w, struct counts *c,
    const char **why, char *whybuf, size_t whysz)
{
	const struct field *fv = &f[F_VALUE], *fm = &f[F_MEAN];
	const struct field *fs = &f[F_STDDEV], *fc = &f[F_COUNT];
	long double diff, bound;
	double z = 0;
	int has_z = 0, judged = 0, anomaly = 0, empty, rc;
	size_t i;
	long end;

	*why = whybuf;
	for (i = F_ZSCORE; i < F_N; i++) {
		if (o->used[i] && f[i].st != FS_MISSING) {
			snprintf(whybuf, whysz, "field \"%s\" already present",
			    o->path[i].text);
			return 1;
		}
	}
	/* The value is the record's own: null is as bad as missing. */
	if (fv->st != FS_NUMBER) {
		snprintf(whybuf, whysz, "%s: %s", o->path[F_VALUE].text,
		    fwhy(fv));
		return 1;
	}
	for (i = F_MEAN; i <= F_COUNT; i++) {
		if (!o->used[i])
			continue;
		if (f[i].st == FS_MISSING || f[i].st == FS_WRONG ||
		    (f[i].st == FS_NUMBER && i != F_MEAN && f[i].v < 0)) {
			snprintf(whybuf, whysz, "%s: %s", o->path[i].text,
			    f[i].st == FS_NUMBER ? "negative" : fwhy(&f[i]));
			return 1;
		}
	}

	/*
	 * The test is |value - mean| > K * stddev, strictly, computed in long
	 * double so that neither the difference nor the bound overflows.  A
	 * zero (or null) stddev never flags: a window whose values are all
	 * equal gives no scale to measure a deviation against.
	 */
	if (fm->st == FS_NUMBER && fs->st == FS_NUMBER && fs->v > 0) {
		diff = (long double)fv->v - (long double)fm->v;
		bound = (long double)o->sigma * (long double)fs->v;
		z = (double)(diff / (long double)fs->v);
		has_z = 1;
		judged = o->min_count == 0 || (fc->st == FS_NUMBER &&
		    fc->v >= (double)o->min_count);
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
	{
		const char *spec[F_N] = { vf, mf, sf, cf, "zscore", "sigma",
		    "anomaly" };
		static const char *const opt[F_N] = { "--value-field",
		    "--mean-field", "--stddev-field", "--count-field" };
		size_t i, j;

		o->used[F_VALUE] = o->used[F_MEAN] = o->used[F_STDDEV] = 1;
		o->used[F_COUNT] = o->min_count > 0;
		o->used[F_ZSCORE] = o->used[F_SIGMA] = 1;
		o->used[F_ANOMALY] = o->all;
		for (i = 0; i < F_N; i++) {
			if (jf_path_init(&o->path[i], spec[i]) != 0)
				return msg_usage(USAGE, "%s: bad path: %s",
				    opt[i], spec[i]);
			if (o->used[i])
				o->fidx[o->nused++] = i;
			/* The scanner compares segments by length first. */
			o->seglen[i] = calloc(o->path[i].n, sizeof(size_t));
			if (o->seglen[i] == NULL) {
				msg_err("out of memory");
				return KP_EXIT_FAILURE;
			}
			for (j = 0; j < o->path[i].n; j++)
				o->seglen[i][j] = strlen(o->path[i].seg[j]);
		}
	}
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
	struct want want[F_N];
	struct field f[F_N];
	char whybuf[512], jbuf[256];
	int status = KP_EXIT_FAILURE, rc, epipe = 0;
	char *line;
	size_t len, i;

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
	memset(want, 0, sizeof(want));
	for (i = 0; i < o.nused; i++) {
		want[i].p = &o.path[o.fidx[i]];
		want[i].seglen = o.seglen[o.fidx[i]];
	}
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
			rc = read_fields(&o, &jp, want, line, len, f, &why,
			    jbuf, sizeof(jbuf));
			if (rc == 0)
				rc = judge(&o, &sp, f, line, len, w, &c, &why,
				    whybuf, sizeof(whybuf));
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
	nd_writer_free(w);
	nd_reader_free(r);
	jf_parser_free(&jp);
	if (rej.dead != NULL || rej.dead_path != NULL)
		nd_reject_close(&rej);
	for (i = 0; i < F_N; i++) {
		jf_path_free(&o.path[i]);
		free(o.seglen[i]);
	}
	return status;
}
