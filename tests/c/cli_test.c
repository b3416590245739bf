/*
 * cli_test - unit tests of the shared command line (common/cli.h): a tool's
 * own options handed to its callback, the shared groups, the wording of
 * every usage error, the value parsers and their ranges, operands, --help
 * and --version.
 *
 *   cli_test [-v]
 */
#include <inttypes.h>
#include <stdint.h>

#include "cli.h"
#include "jfield.h"
#include "tap.h"

#define USAGE "t [-hqv] [--size DURATION] [--n N] [--flag] [--mode a|b|c] " \
	"[--path PATH] [--bytes BYTES] [--k K] ARG"

enum { T_SIZE = CLI_ID, T_N, T_FLAG, T_MODE, T_PATH, T_BYTES, T_K };

static const struct cli_option options[] = {
	{ "size", 1, T_SIZE },
	{ "n", 1, T_N },
	{ "flag", 0, T_FLAG },
	{ "mode", 1, T_MODE },
	{ "path", 1, T_PATH },
	{ "bytes", 1, T_BYTES },
	{ "k", 1, T_K },
	{ NULL, 0, 0 },
};

struct vals {
	int64_t size;
	uint64_t n, bytes;
	int flag, mode, calls;
	double k;
	struct jf_path path;
	char *copy;    /* the words parsed: the results point into it */
	char *argv[32];
};

static void
vals_free(struct vals *v)
{
	jf_path_free(&v->path);
	free(v->copy);
	memset(v, 0, sizeof(*v));
}

static struct cap out_cap;

static int
handle(struct cli *c, int id, const char *arg)
{
	static const char *const modes[] = { "a", "b", "c", NULL };
	struct vals *v = c->ctx;

	v->calls++;
	switch (id) {
	case T_SIZE:
		return cli_duration(c, arg, 1, 86400000, &v->size);
	case T_N:
		return cli_count(c, arg, 1, 64, &v->n);
	case T_FLAG:
		v->flag = 1;
		return 0;
	case T_MODE:
		return cli_word(c, arg, modes, &v->mode);
	case T_PATH:
		return cli_path(c, arg, &v->path);
	case T_BYTES:
		return cli_size(c, arg, 5 * 1048576, 5ULL << 30, &v->bytes);
	case T_K:
		return cli_positive(c, arg, &v->k);
	}
	return 0;
}

/* Runs cli_parse on the words of line (split at blanks) with groups;
 * returns its result, the stderr text in *err and stdout in *out. */
static int
parse(const char *line, unsigned groups, struct cli *c, struct vals *v,
    char **err, char **out)
{
	char *copy, **argv, *tok, *save = NULL;
	int argc = 0, rc;

	memset(c, 0, sizeof(*c));
	vals_free(v);
	copy = v->copy = strdup(line);
	argv = v->argv;
	argv[argc++] = "t";
	for (tok = strtok_r(copy, " ", &save); tok != NULL && argc < 31;
	    tok = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(tok, "''") == 0 ? "" : tok;
	argv[argc] = NULL;
	c->usage = USAGE;
	c->help = "Tests the command line.\n";
	c->groups = groups;
	c->options = options;
	c->handle = handle;
	c->ctx = v;
	c->max_operands = 1;
	cap_begin();
	/* --help and --version stay off the TAP stream. */
	cap_fd_begin(&out_cap, 1, "stdout");
	rc = cli_parse(c, argc, argv);
	*out = cap_fd_end(&out_cap);
	*err = cap_end();
	return rc;
}

/* line is a usage error: exit 2, stderr "t: reason\nusage: USAGE\n". */
static void
usage_error(const char *line, unsigned groups, const char *reason)
{
	struct cli c;
	struct vals v = { 0 };
	char *err, *out, want[1024];
	int rc = parse(line, groups, &c, &v, &err, &out);

	snprintf(want, sizeof(want), "cli_test: %s\nusage: %s\n", reason, USAGE);
	if (!check(rc == KP_EXIT_USAGE && strcmp(err, want) == 0 && *out == '\0',
	    "'%s': %s", line, reason))
		diag("got %d, stderr %s", rc, SHOW(err));
	vals_free(&v);
	free(err);
	free(out);
}

static void
test_errors(void)
{
	section("usage errors name the option and the value");
	usage_error("--bogus x", 0, "unknown option: --bogus");
	usage_error("-x", 0, "unknown option: -x");
	usage_error("-vx", 0, "unknown option: -x");
	usage_error("--flag=1 x", 0, "option takes no argument: --flag=1");
	usage_error("--help=1", 0, "option takes no argument: --help=1");
	usage_error("--size", 0, "option needs an argument: --size");
	usage_error("x y", 0, "unexpected argument: y");
	usage_error("--size 5x", 0, "--size: not a duration between 1ms and "
	    "1d: 5x");
	usage_error("--size 0", 0, "--size: not a duration between 1ms and 1d: "
	    "0");
	usage_error("--size 2d", 0, "--size: not a duration between 1ms and 1d: "
	    "2d");
	usage_error("--size=-1s", 0, "--size: not a duration between 1ms and "
	    "1d: -1s");
	usage_error("--n 0", 0, "--n: not a whole number between 1 and 64: 0");
	usage_error("--n 65", 0, "--n: not a whole number between 1 and 64: 65");
	usage_error("--n 2.5", 0, "--n: not a whole number between 1 and 64: "
	    "2.5");
	usage_error("--n -1", 0, "--n: not a whole number between 1 and 64: -1");
	usage_error("--mode d", 0, "--mode: expected a, b or c: d");
	usage_error("--path a..b", 0, "--path: bad path: a..b");
	usage_error("--path ''", 0, "--path: bad path: ");
	usage_error("--bytes 4MiB", 0, "--bytes: not a size between 5MiB and "
	    "5GiB: 4MiB");
	usage_error("--bytes 5x", 0, "--bytes: not a size between 5MiB and "
	    "5GiB: 5x");
	usage_error("--k 0", 0, "--k: not a positive number: 0");
	usage_error("--k nan", 0, "--k: not a positive number: nan");
	usage_error("--k inf", 0, "--k: not a positive number: inf");
	usage_error("--k 3x", 0, "--k: not a positive number: 3x");
	usage_error("--dead-letter f", 0, "unknown option: --dead-letter");
	usage_error("--progress", 0, "unknown option: --progress");
	usage_error("--region r", CLI_INPUT, "unknown option: --region");
	usage_error("--max-line 0", CLI_INPUT, "--max-line: not a size between 1 "
	    "and 1GiB: 0");
	usage_error("--max-line 3GiB", CLI_INPUT, "--max-line: not a size "
	    "between 1 and 1GiB: 3GiB");
	usage_error("--max-line 4KiB", CLI_REJECT, "unknown option: --max-line");
	usage_error("--timeout soon", CLI_AWS, "--timeout: not a duration "
	    "between 1ms and 1d: soon");
	usage_error("--connect-timeout 0", CLI_AWS, "--connect-timeout: not a "
	    "duration between 1ms and 1d: 0");
	usage_error("--max-attempts 0", CLI_AWS, "--max-attempts: not a whole "
	    "number between 1 and 1000: 0");
	usage_error("--retry-budget x", CLI_AWS, "--retry-budget: not a "
	    "duration between 0 and 1d: x");
	usage_error("--no-verify-ssl=1", CLI_AWS, "option takes no argument: "
	    "--no-verify-ssl=1");
}

static void
test_values(void)
{
	struct cli c;
	struct vals v = { 0 };
	char *err, *out;
	int rc;

	section("values reach the tool; shared options are handled");
	rc = parse("--size 1m30s --n 64 --flag --mode c --path a.b --bytes 5MiB "
	    "--k 2.5 arg", 0, &c, &v, &err, &out);
	check(rc == CLI_RUN && v.size == 90000 && v.n == 64 && v.flag &&
	    v.mode == 2 && v.path.n == 2 && v.bytes == 5 * 1048576 &&
	    v.k == 2.5 && c.noperands == 1 && strcmp(c.operands[0], "arg") ==
	    0 && *err == '\0', "every kind of value, and the operand");
	free(err);
	free(out);
	rc = parse("--size=250ms --n=1", 0, &c, &v, &err, &out);
	check(rc == CLI_RUN && v.size == 250 && v.n == 1 && c.noperands == 0,
	    "--name=value");
	free(err);
	free(out);
	rc = parse("--si 1s --fl", 0, &c, &v, &err, &out);
	check(rc == CLI_RUN && v.size == 1000 && v.flag,
	    "unambiguous abbreviations, as getopt_long takes them");
	free(err);
	free(out);
	rc = parse("--dead-letter d --strict --max-line 4KiB --no-progress",
	    CLI_INPUT | CLI_PROGRESS, &c, &v, &err, &out);
	if (!check(rc == CLI_RUN && c.dead_letter != NULL &&
	    strcmp(c.dead_letter, "d") == 0 && c.strict &&
	    c.max_line == 4096 && c.progress == 0 && v.calls == 0,
	    "the input and progress groups, not handed to the tool"))
		diag("rc %d max_line %zu progress %d calls %d err %s", rc,
		    c.max_line, c.progress, v.calls, err);
	free(err);
	free(out);
	rc = parse("--progress", CLI_PROGRESS, &c, &v, &err, &out);
	check(rc == CLI_RUN && c.progress == 1, "--progress");
	free(err);
	free(out);
	rc = parse("--region eu-west-1 --profile p --endpoint-url http://h "
	    "--ca-bundle ca --no-verify-ssl --connect-timeout 2s --timeout 1m "
	    "--max-attempts 3 --retry-budget 0", CLI_AWS, &c, &v, &err, &out);
	check(rc == CLI_RUN && strcmp(c.aws.region, "eu-west-1") == 0 &&
	    strcmp(c.aws.profile, "p") == 0 &&
	    strcmp(c.aws.endpoint_url, "http://h") == 0 &&
	    strcmp(c.aws.ca_bundle, "ca") == 0 && c.aws.no_verify_ssl &&
	    c.aws.connect_timeout_ms == 2000 && c.aws.timeout_ms == 60000 &&
	    c.aws.retry.max_attempts == 3 && c.aws.retry.budget_ms == 0,
	    "the AWS group fills aws_opts") || (diag("rc %d err %s", rc, err),
	    0);
	free(err);
	free(out);
	rc = parse("", CLI_AWS | CLI_INPUT, &c, &v, &err, &out);
	check(rc == CLI_RUN && c.aws.timeout_ms == 120000 &&
	    c.aws.connect_timeout_ms == 10000 &&
	    c.aws.retry.max_attempts == 10 && c.max_line > 1048576 &&
	    c.dead_letter == NULL && !c.strict, "defaults");
	free(err);
	free(out);
	msg_verbosity = 1;
	rc = parse("-vv", 0, &c, &v, &err, &out);
	check(rc == CLI_RUN && msg_verbosity == 3, "-vv");
	free(err);
	free(out);
	rc = parse("-q", 0, &c, &v, &err, &out);
	check(rc == CLI_RUN && msg_verbosity == 0, "-q");
	msg_verbosity = 1;
	free(err);
	free(out);
	vals_free(&v);
}

static void
test_help(void)
{
	struct cli c;
	struct vals v = { 0 };
	char *err, *out;
	int rc;

	section("--help and --version");
	rc = parse("--help", CLI_INPUT | CLI_PROGRESS | CLI_AWS, &c, &v, &err,
	    &out);
	check(rc == CLI_DONE && strncmp(out, "usage: " USAGE "\n\nTests the "
	    "command line.\n", strlen(USAGE) + 32) == 0 && *err == '\0',
	    "--help: the usage line, a blank line, the tool's text");
	check(strstr(out, cli_help_input) != NULL &&
	    strstr(out, cli_help_progress) != NULL &&
	    strstr(out, cli_help_aws) != NULL &&
	    strstr(out, cli_help_general) != NULL,
	    "--help: then the help of the groups it takes");
	free(err);
	free(out);
	rc = parse("--help", CLI_REJECT, &c, &v, &err, &out);
	check(rc == CLI_DONE && strstr(out, cli_help_reject) != NULL &&
	    strstr(out, "--max-line") == NULL,
	    "--help of CLI_REJECT alone: --dead-letter and --strict, no "
	    "--max-line");
	free(err);
	free(out);
	rc = parse("--dead-letter d --strict", CLI_REJECT, &c, &v, &err, &out);
	check(rc == CLI_RUN && c.dead_letter != NULL &&
	    strcmp(c.dead_letter, "d") == 0 && c.strict,
	    "CLI_REJECT alone: --dead-letter and --strict");
	free(err);
	free(out);
	rc = parse("-h", 0, &c, &v, &err, &out);
	check(rc == CLI_DONE && strstr(out, cli_help_input) == NULL &&
	    strstr(out, cli_help_general) != NULL,
	    "-h is --help; only the groups taken are shown");
	free(err);
	free(out);
	rc = parse("--version", 0, &c, &v, &err, &out);
	check(rc == CLI_DONE && strcmp(out, "cli_test " KP_VERSION "\n") == 0,
	    "--version");
	free(err);
	free(out);
	rc = parse("--n 3 --help --bogus", 0, &c, &v, &err, &out);
	check(rc == CLI_DONE, "--help stops the parse at once");
	free(err);
	free(out);
	cap_begin();
	rc = cli_config_error("%s: %s", "f", "No such file or directory");
	err = cap_end();
	check(rc == KP_EXIT_USAGE && strcmp(err, "cli_test: f: No such file or "
	    "directory\n") == 0, "a configuration error: the reason alone, "
	    "exit 2");
	free(err);
	vals_free(&v);
}

static void
test_parsers(void)
{
	static const struct {
		const char *s;
		int ok;
		int64_t ms;
	} durs[] = {
		{ "0", 1, 0 }, { "1ms", 1, 1 }, { "1s", 1, 1000 },
		{ "1.5s", 1, 1500 }, { "1m", 1, 60000 }, { "1h30m", 1, 5400000 },
		{ "2d", 1, 172800000 }, { "", 0, 0 }, { "s", 0, 0 },
		{ "1", 0, 0 }, { "1x", 0, 0 }, { "-1s", 0, 0 },
		{ "0.5ms", 0, 0 }, { "1e3s", 1, 1000000 },
	};
	uint64_t u = 0;
	int64_t ms;
	size_t i;

	section("the parsers");
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		ms = -7;
		check((cli_parse_duration(durs[i].s, &ms) == 0) == durs[i].ok &&
		    (!durs[i].ok || ms == durs[i].ms), "duration \"%s\" %s",
		    durs[i].s, durs[i].ok ? "ok" : "refused");
	}
	check(cli_parse_size("1KiB", &u) == 0 && u == 1024, "size 1KiB");
	check(cli_parse_size("2k", &u) == 0 && u == 2000, "size 2k");
	check(cli_parse_size("3GiB", &u) == 0 && u == 3ULL << 30, "size 3GiB");
	check(cli_parse_size("1.5MiB", &u) == -1, "size 1.5MiB refused");
	check(cli_parse_size("99999999999GiB", &u) == -1,
	    "size overflow refused");
	check(cli_parse_count("18446744073709551615", UINT64_MAX, &u) == 0 &&
	    u == UINT64_MAX, "count at its maximum");
	check(cli_parse_count("18446744073709551616", UINT64_MAX, &u) == -1,
	    "count beyond 64 bits refused");
	check(cli_parse_count("11", 10, &u) == -1, "count beyond max refused");
	check(cli_parse_count(" 1", 10, &u) == -1, "count with a blank refused");
}

int
main(int argc, char **argv)
{
	if (tap_begin("cli_test", argc, argv) != 0)
		return 2;
	test_errors();
	test_values();
	test_help();
	test_parsers();
	return tap_end();
}
