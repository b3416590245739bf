/*
 * keytpl.h - key templates: a sink's bucket format with record fields in
 * it, as Fluent Bit's s3_key_format (record accessors), Vector's
 * key_prefix ({{ field }}) and Firehose's dynamic partitioning have.
 *
 * A template is strftime(3) text with {field.path} placeholders:
 *
 *   symbol={symbol}/date=%Y-%m-%d/
 *
 * "{{" and "}}" stand for a literal brace; any other '}' outside a
 * placeholder, an unclosed '{', an empty path or segment, a '{' or '%'
 * inside a path, and a '%' left alone before a placeholder are errors.
 * The text between placeholders is formatted with strftime on its own
 * (UTC), so a '%' a field value holds is never expanded.
 *
 * A value becomes text as Hive names a partition directory (Apache Hive,
 * FileUtils.escapePathName): a string is its decoded text, a number its
 * JSON text, true and false their names; an empty string and null give
 * __HIVE_DEFAULT_PARTITION__; the bytes 0x00-0x1F and 0x7F and the
 * characters " # % ' * / : = ? \ { [ ] ^ are written %XX (upper-case
 * hex), everything else (UTF-8 included) as it is.  Athena, Hive and
 * Spark decode %XX when they read the partition back.  An object, an
 * array, a missing field, a bucket over the room the caller allows, a
 * segment over seg_max bytes, or a "." or ".." segment is the record's
 * fault (bad input): no record can make a key with a '/' of its own, a
 * control character, an empty, "." or ".." segment.
 */
#ifndef KP_KEYTPL_H
#define KP_KEYTPL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "jfield.h"

struct jscan;

/* Most placeholders in one template. */
#define KEYTPL_MAX_FIELDS 16

/* What a null or empty value names: Hive's default partition. */
#define KEYTPL_DEFAULT_PARTITION "__HIVE_DEFAULT_PARTITION__"

struct keytpl_piece {
	char *text;             /* strftime text, braces unescaped; or NULL */
	struct jf_path path;    /* a placeholder, when text is NULL */
	int field;              /* its jscan index (keytpl_want()) */
	size_t off, len;        /* text: its strftime in cache */
};

struct keytpl {
	struct keytpl_piece *p;
	size_t n, nfields;
	size_t room;            /* the longest bucket (caller's; 0: none) */
	size_t seg_max;         /* the longest segment (0: no limit) */
	/* strftime of the text pieces for the second cached */
	int64_t sec;
	struct buf cache;
	char why[200];          /* the last record's fault */
};

/* Parses tmpl into t (zeroed first).  Returns 0, or -1 with the reason in
 * err ("--bucket-format: ..." is the caller's to add). */
int keytpl_parse(struct keytpl *t, const char *tmpl, char *err,
    size_t errsz);
void keytpl_free(struct keytpl *t);

/* The template as a strftime format with each placeholder replaced by
 * val: what start-up checks probe (val must hold no '%'). */
void keytpl_probe(const struct keytpl *t, const char *val, struct buf *out);

/* Asks js for every placeholder's field.  0, or -1 (too many fields or no
 * memory). */
int keytpl_want(struct keytpl *t, struct jscan *js);

/* Hive's escaping of one partition value s[0..n) into out. */
void keytpl_escape(const char *s, size_t n, struct buf *out);

/*
 * The bucket of the record js last scanned, at time ms, into out (reset
 * first; NUL-terminated).  tmp is scratch.  Returns 0, 1 when the record
 * is to blame (*why: "FIELD: reason" or "bucket: reason", in t, valid
 * until the next call), or -1 when memory is short or strftime gives
 * nothing.
 */
int keytpl_expand(struct keytpl *t, int64_t ms, const struct jscan *js,
    struct buf *tmp, struct buf *out, const char **why);

#endif
