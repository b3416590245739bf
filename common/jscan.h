/*
 * jscan.h - the record scanner: validates an NDJSON line and reads the few
 * fields a tool needs from it, without building a json-c object.
 *
 * One pass over the line checks it against RFC 8259 (UTF-8 validated, no
 * NaN or Infinity, no leading zeros, no trailing characters) with json-c's
 * nesting limit (32 containers), and notes where each wanted field's value
 * stands.  Only a line the scanner refuses goes to json-c, which words the
 * error the way every kinpipe tool reports bad JSON ("invalid JSON: ...",
 * "not a JSON object", "empty line").  The scanner's verdict is final: a
 * line it accepts is valid JSON, so a tool may pass it on verbatim.
 *
 * Values are read as json-c would read them, except numbers: every number
 * is read at its full range as a double (json-c clamps integers to 64
 * bits), and text is taken from the line itself, so a key or partition key
 * is the value's own JSON text.  When a member occurs twice the last one
 * wins, as in json-c.
 */
#ifndef KP_JSCAN_H
#define KP_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "kptime.h"

struct buf;
struct jf_path;

/* Most fields one scanner reads. */
#define JSCAN_MAX_FIELDS 32

/* json-c's default nesting limit, in containers (objects and arrays). */
#define JSCAN_MAX_DEPTH 32

enum jscan_type {
	JSCAN_MISSING = 0,  /* a member of the path is absent, or a value
	                     * that is neither an object nor null stands in
	                     * its way */
	JSCAN_NULL_PATH,    /* a null stands on the path before its end */
	JSCAN_NULL,
	JSCAN_FALSE,
	JSCAN_TRUE,
	JSCAN_NUMBER,
	JSCAN_STRING,
	JSCAN_OBJECT,
	JSCAN_ARRAY,
};

/* Where a wanted field's value stands in the line last scanned. */
struct jscan_field {
	enum jscan_type type;
	const char *tok;    /* the value's bytes (a string with its quotes) */
	size_t len;
	int escaped;        /* a string holding a backslash escape */
};

struct jscan;

/* Returns a new scanner reading no field yet, or NULL.  Free with
 * jscan_free(). */
struct jscan *jscan_new(void);
void jscan_free(struct jscan *s);

/*
 * Adds a field to read, by path; p is borrowed and must outlive the
 * scanner.  Returns the field's index (0, 1, ...) for jscan_get(), or -1
 * when JSCAN_MAX_FIELDS are taken or memory is short.
 */
int jscan_want(struct jscan *s, const struct jf_path *p);

/*
 * Scans line[0..len).  Returns 0 when it is one JSON object (the fields are
 * then filled), or -1 with *why set: "empty line", "not a JSON object" or
 * "invalid JSON: ..." (valid until the next call).
 */
int jscan_line(struct jscan *s, const char *line, size_t len,
    const char **why);

/* Field i of the line last scanned successfully. */
const struct jscan_field *jscan_get(const struct jscan *s, int i);

/* The object last scanned is a control line: its members, one or more,
 * are all named "__kinpipe" (kinpipe(7)). */
int jscan_is_control(const struct jscan *s);

/* Offset of the closing brace of the object last scanned, and whether it
 * has no member: where a tool splices members of its own. */
size_t jscan_brace(const struct jscan *s);
int jscan_empty(const struct jscan *s);

/*
 * Just the verdict and the control test, for a line no field of which is
 * needed.  Returns 1 for a control line, 0 for another JSON object, -1 for
 * bad input (*why set, static or valid until the next call with s).
 */
int jscan_kind(struct jscan *s, const char *line, size_t len,
    const char **why);

/*
 * A field as a finite number.  Returns 0 with *v, or -1 with *why:
 * "missing", "null" (a null value or a null on the path), "not a number"
 * or "not a finite number" (1e999).
 */
int jscan_number(const struct jscan_field *f, double *v, const char **why);

/*
 * The last number a field held, as text and value.  Records that repeat a
 * number's text (window-stats --emit records gives every record of a
 * window the same statistics) convert it once: the same bytes give the
 * same double.
 */
struct jscan_memo {
	double v;
	size_t len;         /* 0: nothing remembered */
	char tok[40];
};

/*
 * A valid number token's value without strtod where that is exact
 * (Clinger's fast path: up to 19 digits whose integer is at most 2^53,
 * times 10^e, |e| <= 22), as strtod rounds it.  Returns 0, or -1 for the
 * caller to use strtod.
 */
int jscan_fast_number(const char *p, size_t n, double *x);

/* jscan_number through memo m (zeroed before first use). */
int jscan_number_memo(const struct jscan_field *f, struct jscan_memo *m,
    double *v, const char **why);

/*
 * A string field's bytes, escapes decoded as json-c decodes them (a lone
 * surrogate becomes U+FFFD).  Plain strings point into the line; escaped
 * ones are decoded into tmp (valid until tmp changes).  Returns 0, or -1
 * when f is not a string or memory is short.
 */
int jscan_string(const struct jscan_field *f, struct buf *tmp,
    const char **str, size_t *n);

/*
 * Event time from a string (RFC 3339) or a number (epoch, per unit), as
 * kptime_from_json() reads them.  Returns 0 with *ms, or -1 with *why.
 */
int jscan_time(const struct jscan_field *f, enum kptime_unit unit,
    struct buf *tmp, int64_t *ms, const char **why);

/*
 * The field's JSON text without the white space between tokens, appended
 * to out: how kinpipe compares keys that are not strings.  Nothing for an
 * absent field.
 */
void jscan_text(const struct jscan_field *f, struct buf *out);

/* Length of one valid UTF-8 sequence (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF) at p[0..n), or 0. */
size_t jscan_utf8_len(const unsigned char *p, size_t n);

/*
 * The tokens of the scanner, for a walker of whole documents (jdoc.h):
 * the end of the string at p (*p is its opening quote), one past its
 * closing quote, with *escaped set when it holds a backslash; the end of
 * the number at p (RFC 8259's grammar).  NULL with *why when the token is
 * not valid (a static reason, without "invalid JSON: ").
 */
const char *jscan_str_end(const char *p, const char *end, int *escaped,
    const char **why);
const char *jscan_num_end(const char *p, const char *end, const char **why);

#endif
