/*
 * progress.h - the progress of a long-running tool: one line on stderr,
 * rewritten in place ("\r") at most once a second and ended by a newline
 * at exit, on by default when stderr is a terminal (cli.h's --progress,
 * --no-progress); and, with --stats FILE, the same counters as a JSON
 * object in FILE, replaced atomically at most once a second and at exit,
 * for monitoring (kinpipe(7), COMMON OPTIONS).  Off, both cost one
 * comparison a call.
 */
#ifndef KP_PROGRESS_H
#define KP_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct buf;

struct progress {
	int on;
	const char *stats;   /* --stats FILE, or NULL */
	int shown;           /* a line is on the terminal */
	int64_t start_ms;    /* monotonic */
	int64_t last_ms;
	int width;           /* of the last line, to blank what it left */
	int warned;          /* the stats file could not be written */
};

void progress_init(struct progress *p, int on, const char *stats);

/* True when a line or the stats file is due (a second since the last). */
int progress_due(struct progress *p);

/* Milliseconds until progress_due() becomes true (0: now), or -1 when
 * there is neither a line nor a stats file: how long a tool waiting for
 * input may sleep. */
int progress_wait(const struct progress *p);

/*
 * "\rprog: TEXT" on stderr, padded over the previous line; final: ends it
 * with a newline (only if a line was shown or final forces one).
 */
void progress_show(struct progress *p, int final, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Replaces the stats file (when there is one) by the object
 * {"tool":PROG,"pid":N,"time":NOW,"running":!final,FIELDS}, where fields is
 * the tool's members as a JSON fragment ("\"records\":12,...").  Returns
 * 0, or -1 when the file cannot be written (a warning is given once).
 */
int progress_stats(struct progress *p, int final, const struct buf *fields);

/* A span of ms as a person reads it: "1.5s", "12m05s", "3h07m". */
void progress_span(int64_t ms, char *out, size_t outsz);

/* Seconds since progress_init(), for rates. */
double progress_elapsed(const struct progress *p);

#endif
