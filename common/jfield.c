#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jfield.h"
#include "jscan.h"

int
jf_path_init(struct jf_path *p, const char *spec)
{
	size_t i, n = 1;
	char *s;

	memset(p, 0, sizeof(*p));
	if (spec == NULL || *spec == '\0')
		return -1;
	for (s = (char *)spec; *s; s++)
		if (*s == '.')
			n++;
	p->text = strdup(spec);
	p->seg = calloc(n, sizeof(*p->seg));
	s = strdup(spec);
	if (p->text == NULL || p->seg == NULL || s == NULL) {
		free(s);
		jf_path_free(p);
		return -1;
	}
	/* seg[0] owns the copy; the others point into it. */
	p->seg[0] = s;
	for (i = 1; *s; s++) {
		if (*s == '.') {
			*s = '\0';
			p->seg[i++] = s + 1;
		}
	}
	p->n = n;
	for (i = 0; i < n; i++) {
		if (*p->seg[i] == '\0') {
			jf_path_free(p);
			return -1;
		}
	}
	return 0;
}

int
jf_path_name(struct jf_path *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	if (name == NULL || *name == '\0')
		return -1;
	p->text = strdup(name);
	p->seg = calloc(1, sizeof(*p->seg));
	if (p->text == NULL || p->seg == NULL ||
	    (p->seg[0] = strdup(name)) == NULL) {
		jf_path_free(p);
		return -1;
	}
	p->n = 1;
	return 0;
}

void
jf_path_free(struct jf_path *p)
{
	if (p == NULL)
		return;
	if (p->seg != NULL)
		free(p->seg[0]);
	free(p->seg);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

struct json_object *
jf_get(struct json_object *root, const struct jf_path *p)
{
	struct json_object *o = root;
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (o == NULL || !json_object_is_type(o, json_type_object))
			return NULL;
		if (!json_object_object_get_ex(o, p->seg[i], &o))
			return NULL;
	}
	return o;
}

const char *
jf_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
jf_parser_init(struct jf_parser *jp)
{
	jp->tok = json_tokener_new();
	if (jp->tok == NULL)
		return -1;
	json_tokener_set_flags(jp->tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return 0;
}

void
jf_parser_free(struct jf_parser *jp)
{
	if (jp->tok != NULL)
		json_tokener_free(jp->tok);
	jp->tok = NULL;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* True when o holds a NaN or Infinity literal (not 1e999, which is a
 * valid JSON number that merely overflows: jf_number() rejects it). */
static int
has_nonfinite_literal(struct json_object *o)
{
	const char *t;
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		if (isfinite(json_object_get_double(o)))
			return 0;
		t = json_object_to_json_string(o);
		return t[0] == 'N' || t[0] == 'I' || (t[0] == '-' && t[1] == 'I');
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (has_nonfinite_literal(json_object_array_get_idx(o, i)))
				return 1;
		return 0;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (v != NULL && has_nonfinite_literal(v))
				return 1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Why a number token json-c took is not one by RFC 8259's grammar, or
 * NULL.  json-c takes leading zeros ("00", "012.5", "-01"), a sign without
 * digits before the point ("-.5") and a point without digits after it. */
static const char *
number_why(const char *t, size_t n)
{
	size_t i = 0;

	if (i < n && t[i] == '-')
		i++;
	if (i < n && t[i] == '0')
		i++;
	else if (i < n && t[i] >= '1' && t[i] <= '9')
		while (i < n && is_digit(t[i]))
			i++;
	else if (i < n && t[i] == '.')
		return i > 0 ? "invalid JSON: number expected" :
		    "invalid JSON: unexpected character";
	else
		return "invalid JSON: number expected";
	if (i < n && t[i] == '.') {
		if (++i >= n || !is_digit(t[i]))
			return "invalid JSON: digit expected after '.'";
		while (i < n && is_digit(t[i]))
			i++;
	}
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			i++;
		if (i >= n || !is_digit(t[i]))
			return "invalid JSON: number expected";
		while (i < n && is_digit(t[i]))
			i++;
	}
	return i == n ? NULL : "invalid JSON: number expected";
}

/*
 * What json-c takes even in strict mode but RFC 8259 does not: a
 * single-quoted member name, a raw control character in a string, a number
 * not by RFC 8259's grammar ("1.", "1.e5", "-01", "00", "-.5"), and UTF-8 that is overlong, a surrogate or
 * above U+10FFFF.  The tools pass accepted lines on verbatim, so such a line
 * would reach the next stage as invalid JSON.  One pass over a line json-c
 * accepted; returns a reason or NULL.
 */
static const char *
rfc8259_check(const char *line, size_t len)
{
	const unsigned char *p = (const unsigned char *)line;
	size_t i = 0, k;
	int in_str = 0;

	while (i < len) {
		unsigned char c = p[i];

		if (in_str) {
			if (c == '"') {
				in_str = 0;
				i++;
			} else if (c == '\\') {
				i += 2; /* json-c checked the escape */
			} else if (c < 0x20) {
				return "invalid JSON: control character in a string";
			} else if (c < 0x80) {
				i++;
			} else if ((k = jscan_utf8_len(p + i, len - i)) != 0) {
				i += k;
			} else {
				return "invalid JSON: invalid UTF-8";
			}
		} else if (c == '"') {
			in_str = 1;
			i++;
		} else if (c == '\'') {
			return "invalid JSON: single-quoted string";
		} else if (c == '-' || (c >= '0' && c <= '9') || c == '.') {
			size_t n = 0;
			const char *why;

			while (i + n < len && strchr("+-0123456789.eE", line[i + n]) &&
			    line[i + n] != '\0')
				n++;
			why = number_why(line + i, n);

			if (why != NULL)
				return why;
			i += n;
		} else {
			i++;
		}
	}
	return NULL;
}

struct json_object *
jf_parse(struct jf_parser *jp, const char *line, size_t len, const char **why)
{
	struct json_object *o;
	enum json_tokener_error e;
	size_t used;
	const char *bad;

	if (len > 0x7fffffff) {
		*why = "line too long";
		return NULL;
	}
	json_tokener_reset(jp->tok);
	o = json_tokener_parse_ex(jp->tok, line, (int)len);
	e = json_tokener_get_error(jp->tok);
	used = json_tokener_get_parse_end(jp->tok);
	if (o == NULL && e == json_tokener_continue && len > 0) {
		/* A number or literal at the very end ("42", "true") is not
		 * known to be complete until the end of input: say so with a
		 * NUL, as json_tokener_parse() does. */
		o = json_tokener_parse_ex(jp->tok, "", 1);
		e = json_tokener_get_error(jp->tok);
		used = len;
		if (o == NULL && e != json_tokener_success)
			e = json_tokener_continue;
	}
	if (o == NULL) {
		if (e == json_tokener_success) {
			/* a JSON null, which has no object to return */
			*why = "not a JSON object";
		} else if (e == json_tokener_continue) {
			*why = len == 0 ? "empty line" : "invalid JSON: unexpected end of line";
		} else {
			snprintf(jp->why, sizeof(jp->why), "invalid JSON: %s",
			    json_tokener_error_desc(e));
			*why = jp->why;
		}
		return NULL;
	}
	while (used < len && is_ws(line[used]))
		used++;
	if (used != len) {
		json_object_put(o);
		*why = "invalid JSON: trailing characters after the value";
		return NULL;
	}
	/* json-c accepts NaN, Infinity and -Infinity even in strict mode.
	 * Such literals need an 'N' or an 'I', which no other JSON token
	 * outside a string has: look only when one is present. */
	if ((memchr(line, 'N', len) != NULL || memchr(line, 'I', len) != NULL) &&
	    has_nonfinite_literal(o)) {
		json_object_put(o);
		*why = "invalid JSON: NaN and Infinity are not JSON numbers";
		return NULL;
	}
	bad = rfc8259_check(line, len);
	if (bad != NULL) {
		json_object_put(o);
		*why = bad;
		return NULL;
	}
	return o;
}

struct json_object *
jf_parse_object(struct jf_parser *jp, const char *line, size_t len,
    const char **why)
{
	struct json_object *o = jf_parse(jp, line, len, why);

	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		*why = "not a JSON object";
		return NULL;
	}
	return o;
}

int
jf_number(struct json_object *o, double *out, const char **why)
{
	double v;

	if (o == NULL) {
		*why = "missing";
		return -1;
	}
	switch (json_object_get_type(o)) {
	case json_type_int:
		v = (double)json_object_get_int64(o);
		break;
	case json_type_double:
		v = json_object_get_double(o);
		break;
	default:
		*why = "not a number";
		return -1;
	}
	if (!isfinite(v)) {
		*why = "not a finite number";
		return -1;
	}
	*out = v;
	return 0;
}

long
jf_obj_end(const char *line, size_t len, int *empty)
{
	size_t end = len, i;

	while (end > 0 && is_ws(line[end - 1]))
		end--;
	if (end == 0 || line[end - 1] != '}')
		return -1;
	i = end - 1;
	/* Empty when only white space stands between '{' and '}'. */
	while (i > 0 && is_ws(line[i - 1]))
		i--;
	*empty = i > 0 && line[i - 1] == '{';
	return (long)(end - 1);
}
