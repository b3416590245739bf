/*
 * jdoc.h - a pull walker over one whole JSON document (RFC 8259), for the
 * service responses kinpipe reads on its hot paths (kinesis.h: PutRecords
 * and GetRecords) without building a json-c object tree.
 *
 * The caller asks for one value at a time; a container is entered when
 * read, then walked member by member (jdoc_member) or element by element
 * (jdoc_elem), or skipped whole (jdoc_skip).  Every byte is validated on
 * the way with the record scanner's tokens (jscan.h), so a document the
 * walker goes through to jdoc_end() is one json-c takes in kinpipe's
 * strict mode (jf_parse: UTF-8 checked, no NaN or Infinity, no leading
 * zeros, no trailing characters) and with json-c's nesting limit
 * (JSCAN_MAX_DEPTH containers).  A refused document leaves the first
 * reason in d->err; callers word their error with json-c (jf_parse) from
 * the untouched bytes, as jscan does, so the messages stay json-c's.
 *
 * Nothing is allocated but a member name with escapes, decoded into
 * d->key.  Duplicate members are the caller's: json-c keeps the last, and
 * so should a caller (it sees every occurrence, in order).
 */
#ifndef KP_JDOC_H
#define KP_JDOC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

enum jdoc_type {
	JDOC_NULL,
	JDOC_FALSE,
	JDOC_TRUE,
	JDOC_NUMBER,
	JDOC_STRING,
	JDOC_OBJECT,
	JDOC_ARRAY,
};

/* One value read.  A container is entered: tok is its bracket. */
struct jdoc_val {
	enum jdoc_type type;
	const char *tok;    /* the token; a string with its quotes */
	size_t len;         /* the token's bytes (1 for a container) */
	int escaped;        /* a string holding a backslash */
};

struct jdoc {
	const char *p, *end;
	size_t nest;        /* containers entered and not left */
	int fresh;          /* a container was just entered */
	const char *err;    /* why the document was refused, or NULL */
	struct buf key;     /* an escaped member name, decoded */
};

/* Starts walking s[0..n) (borrowed).  Free with jdoc_free(). */
void jdoc_init(struct jdoc *d, const char *s, size_t n);
void jdoc_free(struct jdoc *d);

/* Reads the next value (entering a container).  0, or -1 (d->err). */
int jdoc_value(struct jdoc *d, struct jdoc_val *v);

/*
 * In an object just entered or after a member's value: 1 with the next
 * member's name (decoded when escaped: then valid until the next call;
 * else pointing into the document) and the walker at its value; 0 when
 * the object ends (it is left); -1 (d->err).
 */
int jdoc_member(struct jdoc *d, const char **key, size_t *klen);

/* In an array just entered or after an element: 1 when an element
 * follows (read it with jdoc_value), 0 when the array ends, -1. */
int jdoc_elem(struct jdoc *d);

/* Skips what is left of v: the rest of a container just entered (checked
 * all the same); nothing for a scalar.  0 or -1. */
int jdoc_skip(struct jdoc *d, const struct jdoc_val *v);

/* After the top value: only white space may follow.  0 or -1. */
int jdoc_end(struct jdoc *d);

/*
 * Validates s[0..n) as one JSON value (any type).  Returns 0 with *top,
 * the type of the value, or -1 with *why (static; no "invalid JSON: "
 * prefix), "empty line" when only white space is there.
 */
int jdoc_check(const char *s, size_t n, enum jdoc_type *top,
    const char **why);

/*
 * A number as json-c reads it: 1 with *n when it is an integer (no
 * fraction, no exponent; clamped to 64 bits as json-c clamps it), 0 when
 * json-c reads it as a double (*d then, as strtod() reads it), -1 when
 * memory is short (a number of 64 characters or more).
 */
int jdoc_number(const struct jdoc_val *v, int64_t *n, double *d);

/* The string member name equals lit. */
#define JDOC_KEY(k, n, lit) \
	((n) == sizeof(lit) - 1 && memcmp((k), (lit), sizeof(lit) - 1) == 0)

/*
 * Settles in place a string of a validated, writable, NUL-terminated
 * document: s is its first byte after the opening quote.  Its escapes are
 * decoded as json-c decodes them, and a NUL ends it.  Returns the decoded
 * length (a NUL from \u0000 included), or (size_t)-1 when memory is short
 * (tmp, scratch for an escaped string).
 */
size_t jdoc_settle(char *s, struct buf *tmp);

/* A string value, decoded, as a new C string (up to a NUL from \u0000,
 * as json_object_get_string() then strdup() give it); NULL when memory is
 * short.  tmp is scratch. */
char *jdoc_strdup(const struct jdoc_val *v, struct buf *tmp);

#endif
