/*
 * ndjson.h - newline-delimited JSON input and output, and the bad-input rules.
 *
 * The reader hands out one line at a time with its line number, bounds the
 * line length, tolerates CRLF, and calls a "stall" hook before it would block
 * so a tool can flush what it holds (low latency without a flush per line).
 * The writer buffers whole records and writes only whole records; EPIPE on the
 * output means "downstream stopped".  Control lines are recognised by the
 * record scanner (jscan.h).
 */
#ifndef KP_NDJSON_H
#define KP_NDJSON_H

#include <stddef.h>
#include <stdio.h>

#define ND_MAX_LINE_DEFAULT (1024 * 1024 + 4096)

/* Results of nd_next() and of writer calls. */
enum {
	ND_LINE = 1,     /* a line was read */
	ND_EOF = 0,      /* end of input */
	ND_TIMEOUT = -1, /* timeout_ms elapsed with no complete line */
	ND_TOOLONG = -2, /* a line over the maximum was skipped (and reported) */
	ND_ERROR = -3,   /* read or write error; errno is set */
	ND_INTR = -4,    /* a signal arrived (nd_next only) */
	ND_EPIPE = -5,   /* the reader of our output went away */
};

struct nd_reject;

/* ---- reader ---- */

struct nd_reader;

/* Returns a new reader over fd (not owned); name is used in messages, e.g.
 * "<stdin>".  max_line is the longest accepted line, without its newline.
 * Free with nd_reader_free(). */
struct nd_reader *nd_reader_new(int fd, const char *name, size_t max_line);
void nd_reader_free(struct nd_reader *r);

/* fn(arg) is called whenever the reader is about to wait for input. */
void nd_reader_on_stall(struct nd_reader *r, void (*fn)(void *), void *arg);

/* Lines over the maximum are reported to rej (which may be NULL: then only a
 * message and ND_TOOLONG) and streamed whole into its dead-letter file. */
void nd_reader_set_reject(struct nd_reader *r, struct nd_reject *rej);

/*
 * Reads the next line.  On ND_LINE, *line points into the reader's buffer,
 * NUL-terminated, without "\n" or "\r\n", valid until the next call; *len is
 * its length.  timeout_ms < 0 waits forever; 0 polls.  A final line without a
 * newline is returned as a line.  With a signal, returns ND_INTR (the tool
 * checks its flag and calls again).
 */
int nd_next(struct nd_reader *r, char **line, size_t *len, int timeout_ms);

/* Number of the line last returned (1-based). */
unsigned long long nd_lineno(const struct nd_reader *r);
const char *nd_name(const struct nd_reader *r);

/* ---- writer ---- */

struct nd_writer;

/* Returns a new writer over fd (not owned, closed by nd_writer_close()). */
struct nd_writer *nd_writer_new(int fd);
void nd_writer_free(struct nd_writer *w);

/*
 * The record under construction: append to it with the buf.h writer
 * (buf_jstr(), buf_double(), ...), then end it with nd_end().  The pointer
 * stays valid for the writer's life.
 */
struct buf *nd_buf(struct nd_writer *w);
/* End the record: appends "\n"; writes out when enough is buffered.
 * When an append ran out of memory, the record is dropped and ND_ERROR
 * returned. */
int nd_end(struct nd_writer *w);
/* Whole record in one call: data + "\n". */
int nd_put(struct nd_writer *w, const char *data, size_t len);
/* Drop the record under construction (e.g. on an error half-way). */
void nd_discard(struct nd_writer *w);

/* Write every complete record buffered so far. */
int nd_flush(struct nd_writer *w);
/* Stall hook for nd_reader_on_stall(): flushes the writer given as arg. */
void nd_flush_hook(void *w);
/* Flush and close the fd, checking both.  Returns 0, ND_EPIPE or ND_ERROR
 * (after printing why). */
int nd_writer_close(struct nd_writer *w);
/* Sticky status: 0, ND_EPIPE or ND_ERROR. */
int nd_writer_status(const struct nd_writer *w);

/* Records ended so far (nd_end(), nd_put()), control lines included. */
unsigned long long nd_count(const struct nd_writer *w);

/* ---- bad input ---- */

struct nd_reject {
	FILE *dead;                /* --dead-letter file, or NULL */
	char *dead_path;
	unsigned long long count;  /* lines rejected so far */
	int strict;                /* --strict: the first one stops the tool */
	int failed;                /* writing the dead-letter file failed */
	struct nd_reason *reasons; /* the flood limit's reasons (private) */
	size_t nreasons;
};

/* Opens path (append mode) as the dead-letter file if path is not NULL.
 * Returns 0, or -1 after printing why. */
int nd_reject_init(struct nd_reject *rej, const char *path, int strict);

/*
 * Reports a bad line: "prog: SRC:LINE: reason" on stderr (unless -q), counts
 * it and writes it verbatim (plus "\n") to the dead-letter file.  Returns 0 to
 * go on, -1 when the tool must stop (--strict, or the dead-letter write
 * failed).  A flood stays readable: only the first 10 lines of each reason
 * are shown (all with -v), the rest are counted, and nd_reject_close()
 * prints "N more lines rejected: reason" for each; every line still goes
 * to the dead-letter file.
 */
int nd_reject(struct nd_reject *rej, const char *src, unsigned long long lineno,
    const char *line, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Same, where the reason text varies from line to line (times, values):
 * kind, a fixed text, names the reason for the flood limit. */
int nd_reject_as(struct nd_reject *rej, const char *src,
    unsigned long long lineno, const char *kind, const char *line, size_t len,
    const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* Same, with a free-form location ("shardId-000000000001:4960..."). */
int nd_reject_at(struct nd_reject *rej, const char *where, const char *line,
    size_t len, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * The flood limit alone, for a line the tool reports itself (what is
 * "rejected" or "undeliverable", a static string; kind names the reason):
 * returns 1 when the report is to be shown, 0 when it is only counted
 * (the first time, a note says so).  nd_reject_close() prints the counts.
 */
int nd_reject_shown(struct nd_reject *rej, const char *what, const char *kind);

/*
 * Makes the dead-letter lines written so far durable: nd_sync_file() of
 * the file.  Returns 0, or -1 after printing why (rej->failed is set).
 * A tool calls it before it passes a checkpoint barrier on.
 */
int nd_reject_sync(struct nd_reject *rej);

/* Prints the flood limit's counts; flushes, syncs and closes the
 * dead-letter file.  Returns 0 or -1. */
int nd_reject_close(struct nd_reject *rej);

/*
 * Flushes f and, when it is a regular file, fsyncs it.  A pipe, a terminal
 * or /dev/null is normal usage for a side output and cannot be fsynced:
 * flushing is all there is.  Returns 0, or -1 with errno set.
 */
int nd_sync_file(FILE *f);

#endif
