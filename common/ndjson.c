#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "msg.h"
#include "ndjson.h"

#define ND_READ_CHUNK (64 * 1024)
#define ND_WRITE_FLUSH (64 * 1024)
#define ND_PIPE_SIZE (1024 * 1024)

struct nd_reader {
	int fd;
	const char *name;
	size_t max;
	char *buf;
	size_t cap, start, end, scan;
	unsigned long long lineno;
	int eof;
	int skipping;      /* discarding the rest of an over-long line */
	void (*stall)(void *);
	void *stall_arg;
	struct nd_reject *rej;
};

struct nd_reader *
nd_reader_new(int fd, const char *name, size_t max_line)
{
	struct nd_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->fd = fd;
	r->name = name;
	r->max = max_line ? max_line : ND_MAX_LINE_DEFAULT;
	/* Room for a longest line and its CRLF. */
	r->cap = ND_READ_CHUNK;
	if (r->cap > r->max + 2)
		r->cap = r->max + 2 < 4096 ? 4096 : r->max + 2;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
nd_reader_free(struct nd_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

void
nd_reader_on_stall(struct nd_reader *r, void (*fn)(void *), void *arg)
{
	r->stall = fn;
	r->stall_arg = arg;
}

void
nd_reader_set_reject(struct nd_reader *r, struct nd_reject *rej)
{
	r->rej = rej;
}

unsigned long long
nd_lineno(const struct nd_reader *r)
{
	return r->lineno;
}

const char *
nd_name(const struct nd_reader *r)
{
	return r->name;
}

/* Streams part of an over-long line to the dead-letter file. */
static void
dead_write(struct nd_reader *r, const char *p, size_t n)
{
	if (r->rej == NULL || r->rej->dead == NULL || r->rej->failed)
		return;
	if (n > 0 && fwrite(p, 1, n, r->rej->dead) != n) {
		msg_err("%s: %s", r->rej->dead_path, strerror(errno));
		r->rej->failed = 1;
	}
}

/*
 * Waits until fd is readable.  Before a wait that would block, the stall
 * hook runs, so output held in buffers reaches the next stage while we idle.
 */
static int
wait_input(struct nd_reader *r, int timeout_ms)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	int n;

	if (r->stall == NULL && timeout_ms < 0)
		return 1; /* plain blocking read */
	n = poll(&pfd, 1, 0);
	if (n > 0)
		return 1;
	if (n < 0)
		return errno == EINTR ? ND_INTR : ND_ERROR;
	if (r->stall)
		r->stall(r->stall_arg);
	if (timeout_ms == 0)
		return ND_TIMEOUT;
	n = poll(&pfd, 1, timeout_ms);
	if (n > 0)
		return 1;
	if (n == 0)
		return ND_TIMEOUT;
	return errno == EINTR ? ND_INTR : ND_ERROR;
}

static int
fill(struct nd_reader *r, int timeout_ms)
{
	ssize_t n;
	int rc;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->scan -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		size_t ncap = r->cap * 2;
		char *nb;

		if (ncap > r->max + 2)
			ncap = r->max + 2;
		if (ncap <= r->cap)
			return ND_TOOLONG;
		nb = realloc(r->buf, ncap);
		if (nb == NULL)
			return ND_ERROR;
		r->buf = nb;
		r->cap = ncap;
	}
	rc = wait_input(r, timeout_ms);
	if (rc != 1)
		return rc;
	n = read(r->fd, r->buf + r->end, r->cap - r->end);
	if (n < 0) {
		if (errno == EINTR)
			return ND_INTR;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return ND_TIMEOUT;
		return ND_ERROR;
	}
	if (n == 0)
		r->eof = 1;
	r->end += (size_t)n;
	return 1;
}

static void
report_toolong(struct nd_reader *r)
{
	r->lineno++;
	if (r->rej) {
		char kind[64];

		r->rej->count++;
		snprintf(kind, sizeof(kind), "line longer than %zu bytes",
		    r->max);
		if ((msg_verbosity >= 1 || r->rej->strict) &&
		    nd_reject_shown(r->rej, "rejected", kind))
			msg_err("%s:%llu: %s", r->name, r->lineno, kind);
	} else {
		msg_err("%s:%llu: line longer than %zu bytes", r->name,
		    r->lineno, r->max);
	}
}

/* Length of p[0..n) without the CR of a CRLF ending: the CR belongs to the
 * newline, for the length limit and for the dead letter (kinpipe(7)). */
static size_t
chomp_cr(const char *p, size_t n)
{
	return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

int
nd_next(struct nd_reader *r, char **line, size_t *len, int timeout_ms)
{
	for (;;) {
		char *nl = NULL;
		int rc;

		if (r->scan < r->end)
			nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
		if (r->skipping) {
			if (nl == NULL) {
				/* Hold a last CR back: it may be that of CRLF. */
				size_t n = chomp_cr(r->buf + r->start,
				    r->end - r->start);

				dead_write(r, r->buf + r->start, n);
				r->start += n;
				r->scan = r->end;
			} else {
				size_t n = (size_t)(nl - (r->buf + r->start));

				dead_write(r, r->buf + r->start,
				    chomp_cr(r->buf + r->start, n));
				dead_write(r, "\n", 1);
				r->start = r->scan = r->start + n + 1;
				r->skipping = 0;
				return ND_TOOLONG;
			}
		} else if (nl != NULL) {
			size_t n = (size_t)(nl - (r->buf + r->start));
			size_t m = chomp_cr(r->buf + r->start, n);

			if (m > r->max) {
				/* Only when the buffer is larger than the limit
				 * (max_line under 4 KiB): the whole over-long
				 * line arrived at once. */
				report_toolong(r);
				dead_write(r, r->buf + r->start, m);
				dead_write(r, "\n", 1);
				r->start = r->scan = r->start + n + 1;
				return ND_TOOLONG;
			}
			*line = r->buf + r->start;
			r->start = r->scan = r->start + n + 1;
			(*line)[m] = '\0';
			*len = m;
			r->lineno++;
			return ND_LINE;
		} else if (chomp_cr(r->buf + r->start, r->end - r->start) >
		    r->max) {
			/* No newline within the limit: report the line now and
			 * stream it whole into the dead-letter file. */
			report_toolong(r);
			r->skipping = 1;
			continue;
		} else {
			r->scan = r->end;
		}
		if (r->eof) {
			if (r->skipping) {
				dead_write(r, "\n", 1);
				r->skipping = 0;
				r->start = r->scan = r->end; /* a held-back CR */
				return ND_TOOLONG;
			}
			if (r->end > r->start) {
				size_t n = r->end - r->start;

				*line = r->buf + r->start;
				r->start = r->scan = r->end;
				if (n > 0 && (*line)[n - 1] == '\r')
					n--;
				(*line)[n] = '\0'; /* cap > max >= n */
				*len = n;
				r->lineno++;
				return ND_LINE;
			}
			return ND_EOF;
		}
		rc = fill(r, timeout_ms);
		if (rc == ND_TOOLONG) {
			report_toolong(r);
			r->skipping = 1;
			continue;
		}
		if (rc != 1)
			return rc;
	}
}

/* ---- writer ---- */

struct nd_writer {
	int fd;
	struct buf b;
	size_t rec;  /* end of the last complete record */
	int status;
	unsigned long long count;
};

struct nd_writer *
nd_writer_new(int fd)
{
	struct nd_writer *w = calloc(1, sizeof(*w));
	int sz;

	if (w == NULL)
		return NULL;
	w->fd = fd;
	/* A pipe to the next stage grows from 64 KiB to ND_PIPE_SIZE where
	 * the system allows it (pipe-max-size, the user's pipe quota):
	 * stages then switch contexts about half as often. */
	sz = fcntl(fd, F_GETPIPE_SZ);     /* -1: not a pipe */
	if (sz > 0 && sz < ND_PIPE_SIZE)
		(void)fcntl(fd, F_SETPIPE_SZ, ND_PIPE_SIZE);
	if (buf_reserve(&w->b, ND_WRITE_FLUSH * 2) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

void
nd_writer_free(struct nd_writer *w)
{
	if (w == NULL)
		return;
	buf_free(&w->b);
	free(w);
}

struct buf *
nd_buf(struct nd_writer *w)
{
	return &w->b;
}

int
nd_end(struct nd_writer *w)
{
	buf_char(&w->b, '\n');
	if (w->b.failed) {
		nd_discard(w);
		return ND_ERROR;
	}
	w->rec = w->b.len;
	w->count++;
	if (w->rec >= ND_WRITE_FLUSH)
		return nd_flush(w);
	return w->status;
}

int
nd_put(struct nd_writer *w, const char *data, size_t len)
{
	buf_add(&w->b, data, len);
	return nd_end(w);
}

void
nd_discard(struct nd_writer *w)
{
	w->b.len = w->rec;
	w->b.failed = 0;
}

/* Drops the complete records from the buffer, keeping a partial one. */
static void
consume(struct nd_writer *w)
{
	w->b.len -= w->rec;
	memmove(w->b.p, w->b.p + w->rec, w->b.len);
	w->rec = 0;
}

int
nd_flush(struct nd_writer *w)
{
	size_t off = 0;

	if (w->status != 0) {
		/* Output is gone: keep memory bounded by dropping it. */
		consume(w);
		return w->status;
	}
	while (off < w->rec) {
		ssize_t n = write(w->fd, w->b.p + off, w->rec - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->status = errno == EPIPE ? ND_EPIPE : ND_ERROR;
			if (w->status == ND_ERROR)
				msg_err("write error: %s", strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	consume(w);
	return w->status;
}

void
nd_flush_hook(void *w)
{
	nd_flush(w);
}

int
nd_writer_status(const struct nd_writer *w)
{
	return w->status;
}

unsigned long long
nd_count(const struct nd_writer *w)
{
	return w->count;
}

int
nd_writer_close(struct nd_writer *w)
{
	int rc = nd_flush(w);

	if (close(w->fd) != 0 && rc == 0) {
		rc = errno == EPIPE ? ND_EPIPE : ND_ERROR;
		if (rc == ND_ERROR)
			msg_err("close of output: %s", strerror(errno));
	}
	w->status = rc;
	return rc;
}

/* ---- bad input ---- */

/*
 * The flood limit: a reason is shown in full for its first ND_SHOWN lines,
 * then counted; nd_reject_close() says how many were not shown.  At most
 * ND_REASONS reasons are told apart, the others share the last entry.
 */
#define ND_SHOWN 10
#define ND_REASONS 64

struct nd_reason {
	char *text;
	const char *what;          /* "rejected", "undeliverable" */
	unsigned long long seen, hidden;
};

/* Reasons that differ only in their numbers are one ("timed out after
 * 10001 ms", "... 10003 ms"): the first one seen names them. */
static int
same_reason(const char *a, const char *b)
{
	while (*a != '\0' && *b != '\0') {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (isdigit((unsigned char)*a))
				a++;
			while (isdigit((unsigned char)*b))
				b++;
		} else if (*a++ != *b++) {
			return 0;
		}
	}
	return *a == *b;
}

static struct nd_reason *
reason_of(struct nd_reject *rej, const char *what, const char *kind)
{
	struct nd_reason *r;
	size_t i;

	for (i = 0; i < rej->nreasons; i++)
		if (strcmp(rej->reasons[i].what, what) == 0 &&
		    same_reason(rej->reasons[i].text, kind))
			return &rej->reasons[i];
	if (rej->nreasons == ND_REASONS)
		return &rej->reasons[ND_REASONS - 1];
	if (rej->reasons == NULL) {
		rej->reasons = calloc(ND_REASONS, sizeof(*rej->reasons));
		if (rej->reasons == NULL)
			return NULL;
	}
	r = &rej->reasons[rej->nreasons];
	r->text = strdup(rej->nreasons == ND_REASONS - 1 ?
	    "other reasons" : kind);
	if (r->text == NULL)
		return NULL;
	r->what = what;
	rej->nreasons++;
	return r;
}

int
nd_reject_shown(struct nd_reject *rej, const char *what, const char *kind)
{
	struct nd_reason *r = reason_of(rej, what, kind);

	if (r == NULL)
		return 1;	/* out of memory: shown, never lost */
	r->seen++;
	if (msg_verbosity >= 2 || r->seen <= ND_SHOWN)
		return 1;
	if (r->hidden++ == 0)
		msg_err("more lines %s for this reason are counted, not shown "
		    "(-v shows each): %s", what, r->text);
	return 0;
}

/* One line per reason that was not shown in full. */
static void
reject_summary(struct nd_reject *rej)
{
	size_t i;

	for (i = 0; i < rej->nreasons; i++) {
		struct nd_reason *r = &rej->reasons[i];

		if (r->hidden > 0)
			msg_err("%llu more lines %s: %s", r->hidden, r->what,
			    r->text);
		free(r->text);
	}
	free(rej->reasons);
	rej->reasons = NULL;
	rej->nreasons = 0;
}

int
nd_reject_init(struct nd_reject *rej, const char *path, int strict)
{
	memset(rej, 0, sizeof(*rej));
	rej->strict = strict;
	if (path == NULL)
		return 0;
	rej->dead = fopen(path, "a");
	if (rej->dead == NULL) {
		msg_err("%s: %s", path, strerror(errno));
		return -1;
	}
	rej->dead_path = strdup(path);
	if (rej->dead_path == NULL) {
		fclose(rej->dead);
		rej->dead = NULL;
		return -1;
	}
	return 0;
}

static int
reject_v(struct nd_reject *rej, const char *where, const char *kind,
    const char *line, size_t len, const char *fmt, va_list ap)
{
	char reason[1024];

	vsnprintf(reason, sizeof(reason), fmt, ap);
	rej->count++;
	if ((msg_verbosity >= 1 || rej->strict) &&
	    nd_reject_shown(rej, "rejected", kind != NULL ? kind : reason))
		msg_err("%s: %s", where, reason);
	if (rej->dead != NULL && !rej->failed) {
		if (fwrite(line, 1, len, rej->dead) != len ||
		    fputc('\n', rej->dead) == EOF) {
			msg_err("%s: %s", rej->dead_path, strerror(errno));
			rej->failed = 1;
		}
	}
	return rej->strict || rej->failed ? -1 : 0;
}

/* reject_v() at "SRC:LINE". */
static int
reject_line_v(struct nd_reject *rej, const char *src, unsigned long long lineno,
    const char *kind, const char *line, size_t len, const char *fmt,
    va_list ap)
{
	char where[512];

	snprintf(where, sizeof(where), "%s:%llu", src, lineno);
	return reject_v(rej, where, kind, line, len, fmt, ap);
}

int
nd_reject(struct nd_reject *rej, const char *src, unsigned long long lineno,
    const char *line, size_t len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = reject_line_v(rej, src, lineno, NULL, line, len, fmt, ap);
	va_end(ap);
	return rc;
}

int
nd_reject_as(struct nd_reject *rej, const char *src, unsigned long long lineno,
    const char *kind, const char *line, size_t len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = reject_line_v(rej, src, lineno, kind, line, len, fmt, ap);
	va_end(ap);
	return rc;
}

int
nd_reject_at(struct nd_reject *rej, const char *where, const char *line,
    size_t len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = reject_v(rej, where, NULL, line, len, fmt, ap);
	va_end(ap);
	return rc;
}

int
nd_sync_file(FILE *f)
{
	struct stat st;

	if (fflush(f) != 0)
		return -1;
	if (fstat(fileno(f), &st) != 0)
		return -1;
	if (S_ISREG(st.st_mode) && fsync(fileno(f)) != 0)
		return -1;
	return 0;
}

int
nd_reject_sync(struct nd_reject *rej)
{
	if (rej->dead == NULL || rej->failed)
		return rej->failed ? -1 : 0;
	if (nd_sync_file(rej->dead) != 0) {
		msg_err("%s: %s", rej->dead_path, strerror(errno));
		rej->failed = 1;
		return -1;
	}
	return 0;
}

int
nd_reject_close(struct nd_reject *rej)
{
	int rc = rej->failed ? -1 : 0;

	reject_summary(rej);
	if (rej->dead != NULL) {
		if (nd_sync_file(rej->dead) != 0) {
			if (!rej->failed)
				msg_err("%s: %s", rej->dead_path, strerror(errno));
			rc = -1;
		}
		if (fclose(rej->dead) != 0)
			rc = -1;
		rej->dead = NULL;
	}
	free(rej->dead_path);
	rej->dead_path = NULL;
	return rc;
}
