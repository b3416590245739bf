/*
 * jfield.h - JSON records: parsing a line, fields by dotted path, numbers,
 * and finding where to splice new members into an object's original bytes.
 */
#ifndef KP_JFIELD_H
#define KP_JFIELD_H

#include <stddef.h>

#include <json.h>

/* A dotted field path ("price", "window.mean"), split once. */
struct jf_path {
	char *text;    /* the path as given */
	char **seg;
	size_t n;
};

/* Splits spec at dots.  Returns 0, or -1 for an empty path or segment. */
int jf_path_init(struct jf_path *p, const char *spec);
/* A path of one member, name, dots and all.  Returns 0, or -1 for an
 * empty name or no memory. */
int jf_path_name(struct jf_path *p, const char *name);
void jf_path_free(struct jf_path *p);

/* The member at path p of root, or NULL when any step is missing or not an
 * object.  Borrowed reference. */
struct json_object *jf_get(struct json_object *root, const struct jf_path *p);

/* The string member key of o (an object), or NULL when o is NULL, the
 * member is absent or it is not a string.  Borrowed from o. */
const char *jf_str(struct json_object *o, const char *key);

/* One reused tokener, strict JSON (no NaN/Infinity literals), UTF-8 checked. */
struct jf_parser {
	struct json_tokener *tok;
	char why[96];   /* the last "invalid JSON: ..." reason */
};

int jf_parser_init(struct jf_parser *jp);
void jf_parser_free(struct jf_parser *jp);

/*
 * Parses a line that must hold exactly one JSON value (white space around it
 * allowed).  Returns a new reference (json_object_put() it), or NULL with
 * *why set to a description, "invalid JSON: ..." for a syntax error (valid
 * until the next call with jp).  A bare null has no object to return: NULL,
 * with *why "not a JSON object".
 */
struct json_object *jf_parse(struct jf_parser *jp, const char *line,
    size_t len, const char **why);

/* Parses a line that must be a JSON object; *why = "not a JSON object" else. */
struct json_object *jf_parse_object(struct jf_parser *jp, const char *line,
    size_t len, const char **why);

/* A finite number from a JSON int or double.  Strings are not numbers.
 * Returns 0, or -1 with *why set. */
int jf_number(struct json_object *o, double *out, const char **why);

/*
 * For a line known to hold one JSON object: the offset of its closing '}'
 * (trailing white space skipped), and *empty = 1 when the object has no
 * members, so the caller knows whether a ',' must precede spliced members.
 * Returns -1 when the line does not end in '}'.
 */
long jf_obj_end(const char *line, size_t len, int *empty);

#endif
