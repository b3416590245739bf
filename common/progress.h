/*
 * progress.h - the progress line of a long-running tool: one line on
 * stderr, rewritten in place ("\r") at most once a second, ended by a
 * newline at exit.  On by default when stderr is a terminal (cli.h's
 * --progress, --no-progress); off, it costs one comparison a call.
 */
#ifndef KP_PROGRESS_H
#define KP_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress {
	int on;
	int shown;           /* a line is on the terminal */
	int64_t start_ms;    /* monotonic */
	int64_t last_ms;
	int width;           /* of the last line, to blank what it left */
};

void progress_init(struct progress *p, int on);

/* True when a line is due (on, and a second since the last one). */
int progress_due(struct progress *p);

/*
 * "\rprog: TEXT" on stderr, padded over the previous line; final: ends it
 * with a newline (only if a line was shown or final forces one).
 */
void progress_show(struct progress *p, int final, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A span of ms as a person reads it: "1.5s", "12m05s", "3h07m". */
void progress_span(int64_t ms, char *out, size_t outsz);

/* Seconds since progress_init(), for rates. */
double progress_elapsed(const struct progress *p);

#endif
