#include <stdlib.h>
#include <string.h>

#include "jdoc.h"
#include "jscan.h"

void
jdoc_init(struct jdoc *d, const char *s, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->p = s;
	d->end = s + n;
}

void
jdoc_free(struct jdoc *d)
{
	if (d != NULL)
		buf_free(&d->key);
}

static int
fail(struct jdoc *d, const char *why)
{
	if (d->err == NULL)
		d->err = why;
	return -1;
}

static void
ws(struct jdoc *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' ||
	    *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static int
literal(struct jdoc *d, const char *lit, size_t n)
{
	if ((size_t)(d->end - d->p) < n || memcmp(d->p, lit, n) != 0)
		return fail(d, "unexpected character");
	d->p += n;
	return 0;
}

int
jdoc_value(struct jdoc *d, struct jdoc_val *v)
{
	const char *q, *why = NULL;

	ws(d);
	if (d->p >= d->end)
		return fail(d, "unexpected end of data");
	/* json-c's limit: a value, of any type, inside 32 containers is
	 * refused (32 nested empty arrays are not). */
	if (d->nest >= JSCAN_MAX_DEPTH)
		return fail(d, "nesting too deep");
	v->tok = d->p;
	v->escaped = 0;
	switch (*d->p) {
	case '{':
	case '[':
		v->type = *d->p == '{' ? JDOC_OBJECT : JDOC_ARRAY;
		d->nest++;
		d->fresh = 1;
		d->p++;
		v->len = 1;
		return 0;
	case '"':
		v->type = JDOC_STRING;
		q = jscan_str_end(d->p, d->end, &v->escaped, &why);
		break;
	case 't':
		v->type = JDOC_TRUE;
		q = literal(d, "true", 4) == 0 ? d->p : NULL;
		break;
	case 'f':
		v->type = JDOC_FALSE;
		q = literal(d, "false", 5) == 0 ? d->p : NULL;
		break;
	case 'n':
		v->type = JDOC_NULL;
		q = literal(d, "null", 4) == 0 ? d->p : NULL;
		break;
	default:
		v->type = JDOC_NUMBER;
		q = jscan_num_end(d->p, d->end, &why);
		break;
	}
	if (q == NULL)
		return fail(d, why != NULL ? why : "unexpected character");
	v->len = (size_t)(q - v->tok);
	d->p = q;
	d->fresh = 0;
	return 0;
}

/* Past the separator before the next member or element, or the close.
 * Returns 1 when one follows, 0 when close was read, -1. */
static int
next(struct jdoc *d, char close)
{
	ws(d);
	if (d->p >= d->end)
		return fail(d, "unexpected end of data");
	if (*d->p == close && d->fresh) {
		d->fresh = 0;
		d->nest--;
		d->p++;
		return 0;
	}
	if (d->fresh) {
		d->fresh = 0;
		return 1;
	}
	if (*d->p == close) {
		d->nest--;
		d->p++;
		return 0;
	}
	if (*d->p != ',')
		return fail(d, close == '}' ? "object value separator ',' "
		    "expected" : "array value separator ',' expected");
	d->p++;
	ws(d);
	return 1;
}

/* The next member's name: raw when decode is 0. */
static int
member(struct jdoc *d, const char **key, size_t *klen, int decode)
{
	struct jscan_field f;
	const char *q, *why = NULL;
	int rc = next(d, '}');

	if (rc <= 0)
		return rc;
	if (d->p >= d->end || *d->p != '"')
		return fail(d, "quoted object property name expected");
	f.escaped = 0;
	q = jscan_str_end(d->p, d->end, &f.escaped, &why);
	if (q == NULL)
		return fail(d, why);
	*key = d->p + 1;
	*klen = (size_t)(q - d->p) - 2;
	if (f.escaped && decode) {
		f.type = JSCAN_STRING;
		f.tok = d->p;
		f.len = (size_t)(q - d->p);
		if (jscan_string(&f, &d->key, key, klen) != 0)
			return fail(d, "out of memory");
	}
	d->p = q;
	ws(d);
	if (d->p >= d->end || *d->p != ':')
		return fail(d, "object property name separator ':' expected");
	d->p++;
	return 1;
}

int
jdoc_member(struct jdoc *d, const char **key, size_t *klen)
{
	return member(d, key, klen, 1);
}

int
jdoc_elem(struct jdoc *d)
{
	return next(d, ']');
}

int
jdoc_skip(struct jdoc *d, const struct jdoc_val *v)
{
	struct jdoc_val e;
	const char *k;
	size_t kn;
	int rc;

	if (v->type != JDOC_OBJECT && v->type != JDOC_ARRAY)
		return 0;
	for (;;) {
		rc = v->type == JDOC_OBJECT ? member(d, &k, &kn, 0) :
		    jdoc_elem(d);
		if (rc <= 0)
			return rc;
		if (jdoc_value(d, &e) != 0 || jdoc_skip(d, &e) != 0)
			return -1;
	}
}

int
jdoc_end(struct jdoc *d)
{
	ws(d);
	if (d->p != d->end)
		return fail(d, "trailing characters after the value");
	return 0;
}

int
jdoc_check(const char *s, size_t n, enum jdoc_type *top, const char **why)
{
	struct jdoc d;
	struct jdoc_val v;
	int rc = -1;

	jdoc_init(&d, s, n);
	ws(&d);
	if (d.p == d.end) {
		*why = "empty line";
		return -1;
	}
	if (jdoc_value(&d, &v) == 0 && jdoc_skip(&d, &v) == 0 &&
	    jdoc_end(&d) == 0) {
		*top = v.type;
		rc = 0;
	} else {
		*why = d.err;
	}
	jdoc_free(&d);
	return rc;
}

int
jdoc_number(const struct jdoc_val *v, int64_t *n, double *d)
{
	char small[64], *s = small;
	int integer = memchr(v->tok, '.', v->len) == NULL &&
	    memchr(v->tok, 'e', v->len) == NULL &&
	    memchr(v->tok, 'E', v->len) == NULL;

	if (!integer && jscan_fast_number(v->tok, v->len, d) == 0)
		return 0;
	/* A NUL-terminated copy ends the token for strto*(). */
	if (v->len >= sizeof(small) && (s = malloc(v->len + 1)) == NULL)
		return -1;
	memcpy(s, v->tok, v->len);
	s[v->len] = '\0';
	if (integer && s[0] == '-') {
		/* json-c: strtoll, which clamps at the 64-bit limits. */
		*n = strtoll(s, NULL, 10);
	} else if (integer) {
		/* json-c: strtoull, then INT64_MAX for what int64 cannot
		 * hold. */
		unsigned long long u = strtoull(s, NULL, 10);

		*n = u > INT64_MAX ? INT64_MAX : (int64_t)u;
	} else {
		*d = strtod(s, NULL);
	}
	if (s != small)
		free(s);
	return integer;
}

size_t
jdoc_settle(char *s, struct buf *tmp)
{
	struct jscan_field f;
	const char *out;
	char *q = strpbrk(s, "\"\\");
	size_t n;

	if (*q == '"') {
		*q = '\0';
		return (size_t)(q - s);
	}
	/* An escape: find the closing quote, then decode as jscan does. */
	while (*q != '"')
		q += *q == '\\' ? 2 : 1;
	f.type = JSCAN_STRING;
	f.tok = s - 1;
	f.len = (size_t)(q - s) + 2;
	f.escaped = 1;
	if (jscan_string(&f, tmp, &out, &n) != 0)
		return (size_t)-1;
	/* Decoding never lengthens a string: it fits where it stood. */
	memmove(s, out, n);
	s[n] = '\0';
	return n;
}

char *
jdoc_strdup(const struct jdoc_val *v, struct buf *tmp)
{
	struct jscan_field f;
	const char *s;
	size_t n;
	char *c;

	f.type = JSCAN_STRING;
	f.tok = v->tok;
	f.len = v->len;
	f.escaped = v->escaped;
	if (jscan_string(&f, tmp, &s, &n) != 0)
		return NULL;
	/* As a C string: up to a NUL from \u0000. */
	n = strnlen(s, n);
	if ((c = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(c, s, n);
	c[n] = '\0';
	return c;
}
