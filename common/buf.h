/*
 * buf.h - a growable byte buffer, and the one JSON writer of kinpipe: every
 * tool and every request body appends strings, numbers and times through
 * these functions, never through snprintf of unescaped data.
 *
 * Allocation failure is sticky: once an append cannot grow the buffer,
 * b->failed is set and every later append does nothing, so that a caller
 * builds a whole line or body and checks once, when it uses the text.
 * A zeroed struct buf (BUF_INIT) is an empty buffer; buf_free() releases it.
 */
#ifndef KP_BUF_H
#define KP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *p;       /* the bytes, not NUL-terminated (see buf_cstr()) */
	size_t len;
	size_t cap;
	int failed;    /* an append could not allocate */
};

#define BUF_INIT { NULL, 0, 0, 0 }

/* Frees the bytes and zeroes *b; accepts NULL. */
void buf_free(struct buf *b);

/* Empties the buffer (keeping its memory) and clears failed. */
void buf_reset(struct buf *b);

/* Makes room for n more bytes.  Returns 0, or -1 (and sets failed). */
int buf_reserve(struct buf *b, size_t n);

void buf_add(struct buf *b, const void *data, size_t n);
/* A string literal, its length known at compile time. */
#define buf_lit(b, s) buf_add((b), "" s, sizeof(s) - 1)
void buf_str(struct buf *b, const char *s);
void buf_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * s[0..n) as a JSON string: quoted, '"' and '\\' escaped, \n \r \t as
 * two-character escapes, other control characters as \u00XX.  Bytes
 * from 0x80 up are copied as they are (the caller hands UTF-8).
 */
void buf_jstr(struct buf *b, const char *s, size_t n);
/* The same for a NUL-terminated string. */
void buf_jstrz(struct buf *b, const char *s);

/* A double as JSON: the shortest of %.15g, %.16g, %.17g that reads back
 * exactly; NaN and infinities become null. */
void buf_double(struct buf *b, double v);
void buf_u64(struct buf *b, uint64_t v);
void buf_i64(struct buf *b, int64_t v);

/* Event time (ms since the epoch) as a quoted RFC 3339 UTC string with
 * milliseconds, or null outside the years 0000..9999. */
void buf_time(struct buf *b, int64_t ms);

/* n bytes as base64 (RFC 4648, padded), unquoted. */
void buf_b64(struct buf *b, const void *data, size_t n);

/*
 * The bytes as a NUL-terminated string (the NUL is not counted in len), or
 * NULL when an append failed.  Valid until the next append.
 */
const char *buf_cstr(struct buf *b);

/* A heap copy of the string s, or NULL for NULL; *failed is set when
 * memory is short (so that several copies need one check). */
char *buf_strdup(const char *s, int *failed);

/*
 * The bytes as a new NUL-terminated string (free() it), leaving b empty;
 * NULL with errno ENOMEM when an append failed or memory is short (b is
 * emptied all the same).
 */
char *buf_take(struct buf *b);

#endif
