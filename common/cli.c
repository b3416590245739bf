#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "jfield.h"
#include "msg.h"
#include "ndjson.h"

/* Ids of the shared options. */
enum {
	O_HELP = 0x1000, O_VERSION, O_VERBOSE, O_QUIET,
	O_DEAD, O_STRICT, O_MAX_LINE,
	O_PROGRESS, O_NO_PROGRESS, O_STATS,
	O_REGION, O_PROFILE, O_ENDPOINT_URL, O_CA_BUNDLE, O_NO_VERIFY_SSL,
	O_CONNECT_TIMEOUT, O_TIMEOUT, O_MAX_ATTEMPTS, O_RETRY_BUDGET,
};

static const struct cli_option general[] = {
	{ "help", 0, O_HELP },
	{ "version", 0, O_VERSION },
	{ "verbose", 0, O_VERBOSE },
	{ "quiet", 0, O_QUIET },
	{ NULL, 0, 0 },
};

static const struct cli_option reject[] = {
	{ "dead-letter", 1, O_DEAD },
	{ "strict", 0, O_STRICT },
	{ NULL, 0, 0 },
};

static const struct cli_option lines[] = {
	{ "max-line", 1, O_MAX_LINE },
	{ NULL, 0, 0 },
};

static const struct cli_option progress[] = {
	{ "progress", 0, O_PROGRESS },
	{ "no-progress", 0, O_NO_PROGRESS },
	{ "stats", 1, O_STATS },
	{ NULL, 0, 0 },
};

static const struct cli_option aws[] = {
	{ "region", 1, O_REGION },
	{ "profile", 1, O_PROFILE },
	{ "endpoint-url", 1, O_ENDPOINT_URL },
	{ "ca-bundle", 1, O_CA_BUNDLE },
	{ "no-verify-ssl", 0, O_NO_VERIFY_SSL },
	{ "connect-timeout", 1, O_CONNECT_TIMEOUT },
	{ "timeout", 1, O_TIMEOUT },
	{ "max-attempts", 1, O_MAX_ATTEMPTS },
	{ "retry-budget", 1, O_RETRY_BUDGET },
	{ NULL, 0, 0 },
};

#define HELP_REJECT \
    "Input:\n" \
    "  --dead-letter FILE       append rejected lines to FILE, verbatim\n" \
    "  --strict                 stop at the first rejected line\n"

const char cli_help_input[] = HELP_REJECT
    "  --max-line BYTES         longest accepted line (default 1MiB + 4KiB)\n";

const char cli_help_reject[] = HELP_REJECT;

const char cli_help_progress[] =
    "Progress:\n"
    "  --progress, --no-progress\n"
    "                           a progress line on stderr (default: when\n"
    "                           stderr is a terminal)\n"
    "  --stats FILE             the same counters as JSON in FILE, replaced\n"
    "                           every second and at exit\n";

const char cli_help_aws[] =
    "AWS:\n"
    "  --region REGION          AWS region (else AWS_REGION, AWS_DEFAULT_REGION,\n"
    "                           the profile)\n"
    "  --profile NAME           profile of ~/.aws/config and ~/.aws/credentials\n"
    "  --endpoint-url URL       service endpoint (else AWS_ENDPOINT_URL_<SERVICE>,\n"
    "                           AWS_ENDPOINT_URL, the profile)\n"
    "  --ca-bundle FILE         CA certificates to verify TLS with (else\n"
    "                           AWS_CA_BUNDLE)\n"
    "  --no-verify-ssl          do not verify TLS certificates\n"
    "  --connect-timeout DURATION\n"
    "                           connection timeout (default 10s)\n"
    "  --timeout DURATION       timeout of one request (default 120s)\n"
    "  --max-attempts N         attempts per request, first included (else\n"
    "                           AWS_MAX_ATTEMPTS, the profile, 10)\n"
    "  --retry-budget DURATION  no retry starts after this long (default 5m)\n";

const char cli_help_general[] =
    "General:\n"
    "  -v, --verbose            more messages (-vv: debug); a summary at exit\n"
    "  -q, --quiet              errors only\n"
    "  -h, --help               this text\n"
    "  --version                the version\n";

#define MAX_LONGOPTS 96

static size_t
add_options(struct option *lo, size_t n, const struct cli_option *o)
{
	for (; o != NULL && o->name != NULL && n < MAX_LONGOPTS - 1; o++, n++) {
		lo[n].name = o->name;
		lo[n].has_arg = o->has_arg ? required_argument : no_argument;
		lo[n].flag = NULL;
		lo[n].val = o->id;
	}
	return n;
}

static int
print_help(const struct cli *c)
{
	printf("usage: %s\n\n%s", c->usage, c->help);
	if ((c->groups & CLI_INPUT) == CLI_INPUT)
		fputs(cli_help_input, stdout);
	else if (c->groups & CLI_REJECT)
		fputs(cli_help_reject, stdout);
	if (c->groups & CLI_PROGRESS)
		fputs(cli_help_progress, stdout);
	if (c->groups & CLI_AWS)
		fputs(cli_help_aws, stdout);
	fputs(cli_help_general, stdout);
	return fflush(stdout) == 0 && !ferror(stdout) ? CLI_DONE :
	    KP_EXIT_FAILURE;
}

int
cli_usage(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_verr(fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s\n", c->usage);
	return KP_EXIT_USAGE;
}

int
cli_bad(const struct cli *c, const char *what, const char *arg)
{
	return cli_usage(c, "%s: %s: %s", c->opt, what, arg);
}

int
cli_config_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_verr(fmt, ap);
	va_end(ap);
	return KP_EXIT_USAGE;
}

/* ---- values ---- */

int
cli_parse_duration(const char *s, int64_t *ms)
{
	double total = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		double v, mult;
		char *end;

		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		v = strtod(p, &end);
		if (errno != 0 || end == p)
			return -1;
		p = end;
		if (strncmp(p, "ms", 2) == 0) {
			mult = 1;
			p += 2;
		} else if (*p == 's') {
			mult = 1000;
			p++;
		} else if (*p == 'm') {
			mult = 60000;
			p++;
		} else if (*p == 'h') {
			mult = 3600000;
			p++;
		} else if (*p == 'd') {
			mult = 86400000;
			p++;
		} else {
			return -1;
		}
		total += v * mult;
	}
	if (total > 9.2e18 || total != floor(total))
		return -1;
	*ms = (int64_t)total;
	return 0;
}

int
cli_parse_count(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cli_parse_size(const char *s, uint64_t *bytes)
{
	static const struct { const char *suf; uint64_t mult; } sufs[] = {
		{ "", 1 }, { "B", 1 },
		{ "k", 1000 }, { "K", 1000 }, { "kB", 1000 }, { "KB", 1000 },
		{ "M", 1000000 }, { "MB", 1000000 },
		{ "G", 1000000000 }, { "GB", 1000000000 },
		{ "KiB", 1024 }, { "MiB", 1048576 }, { "GiB", 1073741824 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	for (i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++) {
		if (strcmp(end, sufs[i].suf) == 0) {
			if (v > UINT64_MAX / sufs[i].mult)
				return -1;
			*bytes = v * sufs[i].mult;
			return 0;
		}
	}
	return -1;
}

/* A duration in the largest unit that divides it: "24d", "250ms". */
static void
fmt_duration(int64_t ms, char *out, size_t outsz)
{
	static const struct { const char *unit; int64_t ms; } u[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 },
	};
	size_t i;

	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (ms != 0 && ms % u[i].ms == 0) {
			snprintf(out, outsz, "%lld%s", (long long)(ms / u[i].ms),
			    u[i].unit);
			return;
		}
	}
	snprintf(out, outsz, ms == 0 ? "0" : "%lldms", (long long)ms);
}

/* A size in the largest binary unit that divides it: "2GiB", "5MiB". */
static void
fmt_size(uint64_t n, char *out, size_t outsz)
{
	static const struct { const char *unit; uint64_t b; } u[] = {
		{ "GiB", 1073741824 }, { "MiB", 1048576 }, { "KiB", 1024 },
	};
	size_t i;

	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (n != 0 && n % u[i].b == 0) {
			snprintf(out, outsz, "%llu%s",
			    (unsigned long long)(n / u[i].b), u[i].unit);
			return;
		}
	}
	snprintf(out, outsz, "%llu", (unsigned long long)n);
}

int
cli_duration(const struct cli *c, const char *arg, int64_t min, int64_t max,
    int64_t *out)
{
	char lo[32], hi[32], what[96];
	int64_t v;

	if (cli_parse_duration(arg, &v) == 0 && v >= min && v <= max) {
		*out = v;
		return 0;
	}
	if (min <= 0 && max >= CLI_DURATION_MAX)
		return cli_bad(c, "not a duration", arg);
	fmt_duration(min, lo, sizeof(lo));
	fmt_duration(max, hi, sizeof(hi));
	if (max >= CLI_DURATION_MAX)
		snprintf(what, sizeof(what), "not a duration of %s or more", lo);
	else
		snprintf(what, sizeof(what), "not a duration between %s and %s",
		    lo, hi);
	return cli_bad(c, what, arg);
}

int
cli_size(const struct cli *c, const char *arg, uint64_t min, uint64_t max,
    uint64_t *out)
{
	char lo[32], hi[32], what[96];
	uint64_t v;

	if (cli_parse_size(arg, &v) == 0 && v >= min && v <= max) {
		*out = v;
		return 0;
	}
	fmt_size(min, lo, sizeof(lo));
	fmt_size(max, hi, sizeof(hi));
	if (max == UINT64_MAX && min == 0)
		snprintf(what, sizeof(what), "not a size");
	else if (max == UINT64_MAX)
		snprintf(what, sizeof(what), "not a size of %s or more", lo);
	else
		snprintf(what, sizeof(what), "not a size between %s and %s",
		    lo, hi);
	return cli_bad(c, what, arg);
}

int
cli_count(const struct cli *c, const char *arg, uint64_t min, uint64_t max,
    uint64_t *out)
{
	char what[96];
	uint64_t v;

	if (cli_parse_count(arg, max, &v) == 0 && v >= min) {
		*out = v;
		return 0;
	}
	if (max == UINT64_MAX && min == 0)
		snprintf(what, sizeof(what), "not a whole number");
	else if (max == UINT64_MAX)
		snprintf(what, sizeof(what), "not a whole number of %llu or "
		    "more", (unsigned long long)min);
	else
		snprintf(what, sizeof(what), "not a whole number between %llu "
		    "and %llu", (unsigned long long)min,
		    (unsigned long long)max);
	return cli_bad(c, what, arg);
}

int
cli_positive(const struct cli *c, const char *arg, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) ||
	    !(v > 0))
		return cli_bad(c, "not a positive number", arg);
	*out = v;
	return 0;
}

int
cli_path(const struct cli *c, const char *arg, struct jf_path *p)
{
	jf_path_free(p);
	if (jf_path_init(p, arg) != 0)
		return cli_bad(c, "bad path", arg);
	return 0;
}

int
cli_word(const struct cli *c, const char *arg, const char *const *words,
    int *out)
{
	char what[256];
	size_t n = 0, len = 0;
	int i;

	for (i = 0; words[i] != NULL; i++) {
		if (strcmp(arg, words[i]) == 0) {
			*out = i;
			return 0;
		}
		n++;
	}
	len = (size_t)snprintf(what, sizeof(what), "expected");
	for (i = 0; words[i] != NULL && len < sizeof(what); i++)
		len += (size_t)snprintf(what + len, sizeof(what) - len, "%s%s",
		    i == 0 ? " " : (size_t)i + 1 == n ? " or " : ", ", words[i]);
	return cli_bad(c, what, arg);
}

int
cli_split(const char *list, char ***items, size_t *n)
{
	const char *p = list;
	int added = 0;

	for (;;) {
		size_t len;
		char **ni;

		p += strspn(p, ",");
		if (*p == '\0')
			return added;
		len = strcspn(p, ",");
		ni = realloc(*items, (*n + 1) * sizeof(*ni));
		if (ni == NULL)
			return -1;
		*items = ni;
		ni[*n] = strndup(p, len);
		if (ni[*n] == NULL)
			return -1;
		(*n)++;
		added++;
		p += len;
	}
}

/* ---- the shared options ---- */

static int
shared(struct cli *c, int id, const char *arg)
{
	struct aws_opts *a = &c->aws;
	uint64_t n;
	int rc = 0;

	switch (id) {
	case O_VERBOSE:
		msg_verbosity++;
		break;
	case O_QUIET:
		msg_verbosity = 0;
		break;
	case O_DEAD:
		c->dead_letter = arg;
		break;
	case O_STRICT:
		c->strict = 1;
		break;
	case O_MAX_LINE:
		rc = cli_size(c, arg, 1, 1ULL << 30, &n);
		c->max_line = (size_t)n;
		break;
	case O_PROGRESS:
		c->progress = 1;
		break;
	case O_NO_PROGRESS:
		c->progress = 0;
		break;
	case O_STATS:
		if (*arg == '\0')
			rc = cli_bad(c, "empty path", arg);
		c->stats = arg;
		break;
	case O_REGION:
		a->region = arg;
		break;
	case O_PROFILE:
		a->profile = arg;
		break;
	case O_ENDPOINT_URL:
		a->endpoint_url = arg;
		break;
	case O_CA_BUNDLE:
		a->ca_bundle = arg;
		break;
	case O_NO_VERIFY_SSL:
		a->no_verify_ssl = 1;
		break;
	case O_CONNECT_TIMEOUT:
		rc = cli_duration(c, arg, 1, 86400000, &a->connect_timeout_ms);
		break;
	case O_TIMEOUT:
		rc = cli_duration(c, arg, 1, 86400000, &a->timeout_ms);
		break;
	case O_MAX_ATTEMPTS:
		rc = cli_count(c, arg, 1, 1000, &n);
		a->retry.max_attempts = (int)n;
		a->max_attempts_set = 1;
		break;
	case O_RETRY_BUDGET:
		rc = cli_duration(c, arg, 0, 86400000, &a->retry.budget_ms);
		break;
	}
	return rc;
}

int
cli_parse(struct cli *c, int argc, char **argv)
{
	struct option lo[MAX_LONGOPTS];
	size_t n = 0;
	int ch, li, rc;

	c->max_line = ND_MAX_LINE_DEFAULT;
	c->progress = isatty(STDERR_FILENO);
	aws_opts_init(&c->aws);
	n = add_options(lo, n, c->options);
	n = add_options(lo, n, general);
	if (c->groups & CLI_REJECT)
		n = add_options(lo, n, reject);
	if (c->groups & CLI_LINES)
		n = add_options(lo, n, lines);
	if (c->groups & CLI_PROGRESS)
		n = add_options(lo, n, progress);
	if (c->groups & CLI_AWS)
		n = add_options(lo, n, aws);
	memset(&lo[n], 0, sizeof(lo[n]));
	opterr = 0; /* our own messages, naming the option */
	optind = 0; /* GNU: a full reset, also after an error mid-argument */
	for (;;) {
		li = -1;
		ch = getopt_long(argc, argv, ":hqv", lo, &li);
		if (ch == -1)
			break;
		if (li >= 0) {
			snprintf(c->optbuf, sizeof(c->optbuf), "--%s",
			    lo[li].name);
		} else {
			snprintf(c->optbuf, sizeof(c->optbuf), "-%c",
			    ch == '?' || ch == ':' ? optopt : ch);
		}
		c->opt = c->optbuf;
		switch (ch) {
		case 'h':
		case O_HELP:
			return print_help(c);
		case O_VERSION:
			printf("%s %s\n", msg_prog(), KP_VERSION);
			return fflush(stdout) == 0 && !ferror(stdout) ?
			    CLI_DONE : KP_EXIT_FAILURE;
		case 'v':
			ch = O_VERBOSE;
			break;
		case 'q':
			ch = O_QUIET;
			break;
		case ':':
			return cli_usage(c, "option needs an argument: %s",
			    argv[optind - 1]);
		case '?':
			if (optopt >= CLI_ID)
				return cli_usage(c, "option takes no argument: "
				    "%s", argv[optind - 1]);
			if (optopt != 0)
				return cli_usage(c, "unknown option: -%c",
				    optopt);
			return cli_usage(c, "unknown option: %s",
			    argv[optind - 1]);
		}
		if (ch >= O_HELP)
			rc = shared(c, ch, optarg);
		else
			rc = c->handle(c, ch, optarg);
		if (rc != 0)
			return rc;
	}
	c->operands = argv + optind;
	c->noperands = argc - optind;
	if (c->noperands > c->max_operands)
		return cli_usage(c, "unexpected argument: %s",
		    argv[optind + c->max_operands]);
	return CLI_RUN;
}
