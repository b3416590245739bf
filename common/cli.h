/*
 * cli.h - the command line every kinpipe tool shares.
 *
 * A tool lists its own options and says which groups of shared ones it
 * takes; cli_parse() runs getopt_long over both, handles the shared options
 * itself and hands each of the tool's to its callback.  Every tool thus
 * takes -h/--help, --version, -v/--verbose and -q/--quiet, words its usage
 * errors the same way ("tool: --option: reason: value", then the usage
 * line, exit 2) and prints the same help for the same option.
 *
 * Configuration errors found after parsing (no region, a file that cannot
 * be opened) are not usage errors: cli_config_error() prints the reason
 * alone and returns the same exit status, 2.
 */
#ifndef KP_CLI_H
#define KP_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"

struct jf_path;

/* Groups of shared options, besides -h, -q, -v, --help, --version. */
enum {
	CLI_REJECT = 1 << 0,    /* --dead-letter FILE, --strict: bad input */
	CLI_PROGRESS = 1 << 1,  /* --progress, --no-progress, --stats FILE */
	CLI_AWS = 1 << 2,       /* --region ... --retry-budget (aws.h) */
	CLI_LINES = 1 << 3,     /* --max-line BYTES; only with CLI_REJECT */
	/* A tool that reads NDJSON lines takes both; kin-read, whose input
	 * is records, not lines, takes CLI_REJECT alone. */
	CLI_INPUT = CLI_REJECT | CLI_LINES,
};

/* Ids of a tool's own options start here (and stay below 0x1000). */
#define CLI_ID 0x100

/* One option of a tool's own; a list ends with a NULL name. */
struct cli_option {
	const char *name;   /* long name, without "--" */
	int has_arg;        /* 1: takes a value */
	int id;             /* >= CLI_ID */
};

/* Return values of cli_parse() besides exit statuses. */
enum {
	CLI_RUN = 0,        /* go on */
	CLI_DONE = -1,      /* --help or --version printed: exit 0 */
};

struct cli {
	/* Set by the tool. */
	const char *usage;        /* the usage line, equal to SYNOPSIS */
	const char *help;         /* --help text after the usage line: what
	                           * the tool does and its own options */
	unsigned groups;          /* CLI_* */
	const struct cli_option *options;
	/* Called for each of the tool's options, with c->opt naming it:
	 * returns 0, or an exit status (from the functions below). */
	int (*handle)(struct cli *c, int id, const char *arg);
	void *ctx;                /* the tool's, for handle() */
	int max_operands;         /* operands allowed after the options */

	/* Results. */
	const char *dead_letter;  /* CLI_REJECT */
	int strict;
	size_t max_line;          /* CLI_LINES */
	int progress;             /* CLI_PROGRESS: default isatty(2) */
	const char *stats;        /* CLI_PROGRESS: --stats FILE, or NULL */
	struct aws_opts aws;      /* CLI_AWS */
	char **operands;
	int noperands;

	/* The option being handled, as the user spelt its name ("--size"). */
	const char *opt;
	char optbuf[64];
};

/* Help lines of the shared groups, printed by --help after the tool's. */
extern const char cli_help_input[], cli_help_reject[], cli_help_progress[],
    cli_help_aws[], cli_help_general[];

/*
 * Parses argv into c (the tool set usage, help, groups, options, handle
 * and max_operands; cli_parse() sets the defaults of the results first).
 * Returns CLI_RUN, CLI_DONE, or an exit status: 2 after a usage error
 * (already printed), 1 when --help could not be written.
 */
int cli_parse(struct cli *c, int argc, char **argv);

/* Usage error: "prog: reason" and the usage line on stderr; returns 2. */
int cli_usage(const struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Usage error about the option being handled: "prog: OPT: what: arg". */
int cli_bad(const struct cli *c, const char *what, const char *arg);

/* Configuration error: "prog: reason" alone; returns 2. */
int cli_config_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * Values of the option being handled.  Each returns 0 with the value, or
 * prints a usage error naming the option and the accepted range and
 * returns 2.  min and max bound the value, both included.
 */
int cli_duration(const struct cli *c, const char *arg, int64_t min,
    int64_t max, int64_t *out);
int cli_size(const struct cli *c, const char *arg, uint64_t min,
    uint64_t max, uint64_t *out);
int cli_count(const struct cli *c, const char *arg, uint64_t min,
    uint64_t max, uint64_t *out);
/* A positive finite number. */
int cli_positive(const struct cli *c, const char *arg, double *out);
int cli_path(const struct cli *c, const char *arg, struct jf_path *p);
/* One of words (NULL-terminated): *out is its index.  The message lists
 * them: "expected a, b or c". */
int cli_word(const struct cli *c, const char *arg, const char *const *words,
    int *out);

/*
 * The non-empty items of a comma-separated list ("a,,b" is a and b), as
 * new strings appended to *items (*n of them; free each and the array).
 * Returns the number added, or -1 when memory is short.
 */
int cli_split(const char *list, char ***items, size_t *n);

/* Longest duration: 10,000 years, so that time + duration never overflows
 * an int64 of milliseconds. */
#define CLI_DURATION_MAX 315576000000000LL

/*
 * The parsers behind those, which print nothing; 0 or -1.
 * Durations: one or more <number><unit> groups, units ms, s, m, h, d
 * ("1m", "250ms", "1h30m", "1.5s"); "0" alone is zero.
 * Sizes: a whole number with an optional suffix k, M, G (powers of 1000),
 * KiB, MiB, GiB (powers of 1024), or B.
 * Counts: a non-negative whole number up to max.
 */
int cli_parse_duration(const char *s, int64_t *ms);
int cli_parse_size(const char *s, uint64_t *bytes);
int cli_parse_count(const char *s, uint64_t max, uint64_t *out);

#endif
