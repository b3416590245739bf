#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jfield.h"
#include "jscan.h"

struct want {
	const struct jf_path *p;
	size_t *seglen;     /* length of each segment, compared first */
};

struct jscan {
	struct want w[JSCAN_MAX_FIELDS];
	size_t nw;
	/* first[d][b]: the wants whose segment d starts with byte b (an empty
	 * segment: with any byte, and b is 0 for an empty name), so that a
	 * member no want can match costs one lookup; ndepth rows. */
	uint32_t (*first)[256];
	size_t ndepth;
	struct jscan_field f[JSCAN_MAX_FIELDS];
	struct jf_parser jp;    /* words the errors of refused lines */
	int jp_ready;
	struct buf key;         /* a member name with escapes, decoded */
	char why[160];
	size_t brace;
	int empty;
	int control;
};

/* The cursor of one scan. */
struct sc {
	struct jscan *s;
	const char *base, *p, *end;
	const char *err;        /* why the scanner refused the line */
	size_t members;         /* of the top-level object */
	int all_kinpipe;
};

struct jscan *
jscan_new(void)
{
	return calloc(1, sizeof(struct jscan));
}

void
jscan_free(struct jscan *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nw; i++)
		free(s->w[i].seglen);
	free(s->first);
	if (s->jp_ready)
		jf_parser_free(&s->jp);
	buf_free(&s->key);
	free(s);
}

int
jscan_want(struct jscan *s, const struct jf_path *p)
{
	struct want *w;
	size_t i;

	if (s->nw >= JSCAN_MAX_FIELDS || p->n == 0)
		return -1;
	w = &s->w[s->nw];
	w->seglen = calloc(p->n, sizeof(size_t));
	if (w->seglen == NULL)
		return -1;
	if (p->n > s->ndepth) {
		uint32_t (*f)[256] = realloc(s->first, p->n * sizeof(*f));

		if (f == NULL) {
			free(w->seglen);
			return -1;
		}
		memset(f + s->ndepth, 0, (p->n - s->ndepth) * sizeof(*f));
		s->first = f;
		s->ndepth = p->n;
	}
	for (i = 0; i < p->n; i++) {
		uint32_t bit = UINT32_C(1) << s->nw;
		size_t b;

		w->seglen[i] = strlen(p->seg[i]);
		if (w->seglen[i] > 0)
			s->first[i][(unsigned char)p->seg[i][0]] |= bit;
		else
			for (b = 0; b < 256; b++)
				s->first[i][b] |= bit;
	}
	w->p = p;
	return (int)s->nw++;
}

const struct jscan_field *
jscan_get(const struct jscan *s, int i)
{
	return &s->f[i];
}

int
jscan_is_control(const struct jscan *s)
{
	return s->control;
}

size_t
jscan_brace(const struct jscan *s)
{
	return s->brace;
}

int
jscan_empty(const struct jscan *s)
{
	return s->empty;
}

/* ---- the scanner ---- */

size_t
jscan_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t k, i;

	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return k;
}

static int
fail(struct sc *c, const char *why)
{
	if (c->err == NULL)
		c->err = why;
	return -1;
}

static inline void
ws(struct sc *c)
{
	/* Compact JSON has none: one comparison decides. */
	while (c->p < c->end && (unsigned char)*c->p <= ' ' &&
	    (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' ||
	    *c->p == '\r'))
		c->p++;
}

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BYTES(b)  (0x0101010101010101ull * (b))

/*
 * The first byte at or after p that is not plain printable ASCII inside a
 * string (a control character, a quote, a backslash or a byte >= 0x80),
 * looking at whole words while eight bytes remain; the caller goes on
 * byte by byte from there.  In a word, "x - BYTES(n) & ~x & BYTES(0x80)"
 * marks the bytes below n; a borrow can mark bytes above a marked one, so
 * only the lowest mark (the first byte, little-endian) is trusted.
 */
static inline const char *
plain_run(const char *p, const char *end)
{
	while (end - p >= 8) {
		uint64_t v, q, b, m;

		memcpy(&v, p, 8);
		q = v ^ BYTES('"');
		b = v ^ BYTES('\\');
		m = ((v - BYTES(0x20)) & ~v) | ((q - BYTES(1)) & ~q) |
		    ((b - BYTES(1)) & ~b) | v;
		m &= BYTES(0x80);
		if (m != 0)
			return p + (__builtin_ctzll(m) >> 3);
		p += 8;
	}
	return p;
}
#else
static inline const char *
plain_run(const char *p, const char *end)
{
	(void)end;
	return p;
}
#endif

/*
 * The rest of a string from p, the first byte that is not plain printable
 * ASCII: escapes, UTF-8 and errors.  Returns the closing quote, or NULL
 * (c->err says why).
 */
static const char *
string_rest(struct sc *c, const char *p, int *escaped)
{
	size_t k;

	for (;;) {
		p = plain_run(p, c->end);
		while (p < c->end && (unsigned char)*p >= 0x20 &&
		    (unsigned char)*p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p >= c->end)
			return fail(c, "unterminated string"), NULL;
		if (*p == '"')
			return p;
		if (*p == '\\') {
			*escaped = 1;
			if (p + 1 >= c->end)
				return fail(c, "unterminated string"), NULL;
			if (p[1] == 'u') {
				if (c->end - p < 6 || !is_hex(p[2]) ||
				    !is_hex(p[3]) || !is_hex(p[4]) ||
				    !is_hex(p[5]))
					return fail(c, "invalid string "
					    "sequence"), NULL;
				p += 6;
			} else if (p[1] != '\0' && strchr("\"\\/bfnrt", p[1])) {
				p += 2;
			} else {
				return fail(c, "invalid string sequence"), NULL;
			}
			continue;
		}
		if ((unsigned char)*p < 0x20)
			return fail(c, "control character in a string"), NULL;
		k = jscan_utf8_len((const unsigned char *)p,
		    (size_t)(c->end - p));
		if (k == 0)
			return fail(c, "invalid UTF-8"), NULL;
		p += k;
	}
}

/*
 * A string at c->p ('"').  On success *s, *n are its raw content (between
 * the quotes) and *escaped says whether it holds a backslash.  Inlined:
 * the common case, plain ASCII up to the closing quote, is a few words
 * and no call.
 */
static inline __attribute__((always_inline)) int
scan_string(struct sc *c, const char **s, size_t *n, int *escaped)
{
	const char *p = plain_run(c->p + 1, c->end);

	*escaped = 0;
	if (p >= c->end || *p != '"') {
		p = string_rest(c, p, escaped);
		if (p == NULL)
			return -1;
	}
	*s = c->p + 1;
	*n = (size_t)(p - (c->p + 1));
	c->p = p + 1;
	return 0;
}

/* A number by RFC 8259's grammar. */
/* The first byte at or after p that is not a digit, by words as in
 * plain_run: a byte is a digit when its high nibble is 3 both as it is and
 * plus 6; a carry out of a byte >= 0xfa only marks bytes above it. */
static inline const char *
digits(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (end - p >= 8) {
		uint64_t v, m;

		memcpy(&v, p, 8);
		m = ((v & BYTES(0xf0)) ^ BYTES(0x30)) |
		    (((v + BYTES(6)) & BYTES(0xf0)) ^ BYTES(0x30));
		if (m != 0)
			return p + (__builtin_ctzll(m) >> 3);
		p += 8;
	}
#endif
	while (p < end && (unsigned)(*p - '0') <= 9)
		p++;
	return p;
}

static int
scan_number(struct sc *c)
{
	const char *p = c->p;

	if (p < c->end && *p == '-')
		p++;
	if (p < c->end && *p == '0')
		p++;
	else if (p < c->end && *p >= '1' && *p <= '9')
		p = digits(p + 1, c->end);
	else
		return fail(c, "unexpected character");
	if (p < c->end && *p == '.') {
		if (++p >= c->end || !is_digit(*p))
			return fail(c, "digit expected after '.'");
		p = digits(p + 1, c->end);
	}
	if (p < c->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < c->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= c->end || !is_digit(*p))
			return fail(c, "digit expected in the exponent");
		p = digits(p + 1, c->end);
	}
	c->p = p;
	return 0;
}

static int
scan_literal(struct sc *c, const char *lit, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return fail(c, "unexpected character");
	c->p += n;
	return 0;
}

static unsigned
hex4(const char *p)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char ch = p[i];

		v = v * 16 + (unsigned)(is_digit(ch) ? ch - '0' :
		    (ch | 0x20) - 'a' + 10);
	}
	return v;
}

static void
put_utf8(struct buf *b, unsigned cp)
{
	char u[4];

	if (cp < 0x80) {
		buf_char(b, (char)cp);
		return;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 4);
	}
}

/*
 * Decodes the raw content of a valid JSON string (between its quotes) into
 * out, as json-c does: a surrogate pair is one code point, a lone
 * surrogate is U+FFFD.
 */
static void
unescape(const char *s, size_t n, struct buf *out)
{
	size_t i = 0, from = 0;

	while (i < n) {
		unsigned cp;

		if (s[i] != '\\') {
			i++;
			continue;
		}
		buf_add(out, s + from, i - from);
		if (s[i + 1] != 'u') {
			static const char in[] = "\"\\/bfnrt";
			static const char to[] = "\"\\/\b\f\n\r\t";

			buf_char(out, to[strchr(in, s[i + 1]) - in]);
			i += 2;
			from = i;
			continue;
		}
		cp = hex4(s + i + 2);
		i += 6;
		if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= n &&
		    s[i] == '\\' && s[i + 1] == 'u') {
			unsigned lo = hex4(s + i + 2);

			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			}
		}
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 0xfffd;
		put_utf8(out, cp);
		from = i;
	}
	buf_add(out, s + from, n - from);
}

const char *
jscan_str_end(const char *p, const char *end, int *escaped,
    const char **why)
{
	struct sc c;
	const char *s;
	size_t n;

	memset(&c, 0, sizeof(c));
	c.base = c.p = p;
	c.end = end;
	if (scan_string(&c, &s, &n, escaped) != 0) {
		*why = c.err;
		return NULL;
	}
	return c.p;
}

const char *
jscan_num_end(const char *p, const char *end, const char **why)
{
	struct sc c;

	memset(&c, 0, sizeof(c));
	c.base = c.p = p;
	c.end = end;
	if (scan_number(&c) != 0) {
		*why = c.err;
		return NULL;
	}
	return c.p;
}

static int scan_value(struct sc *c, uint32_t active, size_t depth,
    size_t nest);

/*
 * An object at c->p.  active: the wants whose path leads here; depth: how
 * many of their segments are behind us; nest: containers open around it.
 * A member that matches a want's segment resets what an earlier duplicate
 * said (json-c keeps the last).
 */
static int
scan_object(struct sc *c, uint32_t active, size_t depth, size_t nest)
{
	struct jscan *s = c->s;
	int top = nest == 0;

	c->p++;
	ws(c);
	if (c->p < c->end && *c->p == '}') {
		if (top) {
			s->brace = (size_t)(c->p - c->base);
			s->empty = 1;
		}
		c->p++;
		return 0;
	}
	for (;;) {
		const char *key, *vstart;
		size_t klen, i;
		uint32_t sub = 0, last = 0, m;
		int esc;

		if (c->p >= c->end || *c->p != '"')
			return fail(c, "quoted object property name expected");
		if (scan_string(c, &key, &klen, &esc) != 0)
			return -1;
		if (esc && (active != 0 || top)) {
			buf_reset(&s->key);
			unescape(key, klen, &s->key);
			if (s->key.failed)
				return fail(c, "out of memory");
			key = s->key.p;
			klen = s->key.len;
		}
		if (top) {
			c->members++;
			if (klen != 9 || memcmp(key, "__kinpipe", 9) != 0)
				c->all_kinpipe = 0;
		}
		ws(c);
		if (c->p >= c->end || *c->p != ':')
			return fail(c, "object property name separator ':' "
			    "expected");
		c->p++;
		ws(c);
		if (c->p >= c->end)
			return fail(c, "unexpected end of line");
		vstart = c->p;
		m = active == 0 ? 0 :
		    active & s->first[depth][klen > 0 ? (unsigned char)*key : 0];
		for (; m != 0; m &= m - 1) {
			const struct want *w;
			struct jscan_field *f;

			i = (size_t)__builtin_ctz(m);
			w = &s->w[i];
			f = &s->f[i];
			if (w->seglen[depth] != klen ||
			    memcmp(w->p->seg[depth], key, klen) != 0)
				continue;
			if (depth + 1 == w->p->n) {
				last |= 1u << i;
			} else if (*vstart == '{') {
				f->type = JSCAN_MISSING;
				sub |= 1u << i;
			} else {
				f->type = *vstart == 'n' ? JSCAN_NULL_PATH :
				    JSCAN_MISSING;
			}
		}
		if (scan_value(c, sub, depth + 1, nest + 1) != 0)
			return -1;
		for (m = last; m != 0; m &= m - 1) {
			struct jscan_field *f = &s->f[__builtin_ctz(m)];

			f->tok = vstart;
			f->len = (size_t)(c->p - vstart);
			f->escaped = 0;
			switch (*vstart) {
			case '{': f->type = JSCAN_OBJECT; break;
			case '[': f->type = JSCAN_ARRAY; break;
			case 't': f->type = JSCAN_TRUE; break;
			case 'f': f->type = JSCAN_FALSE; break;
			case 'n': f->type = JSCAN_NULL; break;
			case '"':
				f->type = JSCAN_STRING;
				f->escaped = memchr(vstart, '\\', f->len) != NULL;
				break;
			default: f->type = JSCAN_NUMBER; break;
			}
		}
		ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			ws(c);
			continue;
		}
		if (c->p < c->end && *c->p == '}') {
			if (top)
				s->brace = (size_t)(c->p - c->base);
			c->p++;
			return 0;
		}
		return fail(c, c->p >= c->end ? "unexpected end of line" :
		    "object value separator ',' expected");
	}
}

static int
scan_array(struct sc *c, size_t nest)
{
	c->p++;
	ws(c);
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return 0;
	}
	for (;;) {
		if (scan_value(c, 0, 0, nest + 1) != 0)
			return -1;
		ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			ws(c);
			continue;
		}
		if (c->p < c->end && *c->p == ']') {
			c->p++;
			return 0;
		}
		return fail(c, c->p >= c->end ? "unexpected end of line" :
		    "array value separator ',' expected");
	}
}

static int
scan_value(struct sc *c, uint32_t active, size_t depth, size_t nest)
{
	const char *str;
	size_t len;
	int esc;

	if (c->p >= c->end)
		return fail(c, "unexpected end of line");
	/* json-c's limit: a value of any type inside 32 containers. */
	if (nest >= JSCAN_MAX_DEPTH)
		return fail(c, "nesting too deep");
	switch (*c->p) {
	case '{':
		return scan_object(c, active, depth, nest);
	case '[':
		return scan_array(c, nest);
	case '"':
		return scan_string(c, &str, &len, &esc);
	case 't':
		return scan_literal(c, "true", 4);
	case 'f':
		return scan_literal(c, "false", 5);
	case 'n':
		return scan_literal(c, "null", 4);
	default:
		return scan_number(c);
	}
}

/* Words a refused line's error as json-c does, so every tool reports bad
 * JSON alike; falls back to the scanner's own reason. */
static const char *
refusal(struct jscan *s, const char *line, size_t len, const char *own)
{
	struct json_object *o;
	const char *why = NULL;

	if (len == 0)
		return "empty line";
	if (!s->jp_ready) {
		if (jf_parser_init(&s->jp) != 0)
			goto own;
		s->jp_ready = 1;
	}
	o = jf_parse_object(&s->jp, line, len, &why);
	if (o != NULL) {
		/* json-c took what RFC 8259 does not ("-01"): the scanner's
		 * verdict stands. */
		json_object_put(o);
		goto own;
	}
	if (strncmp(why, "invalid JSON", 12) == 0 ||
	    strcmp(why, "not a JSON object") == 0 ||
	    strcmp(why, "empty line") == 0)
		return why;
	snprintf(s->why, sizeof(s->why), "invalid JSON: %s", why);
	return s->why;
own:
	snprintf(s->why, sizeof(s->why), "invalid JSON: %s", own);
	return s->why;
}

int
jscan_line(struct jscan *s, const char *line, size_t len, const char **why)
{
	struct sc c;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.s = s;
	c.base = c.p = line;
	c.end = line + len;
	c.all_kinpipe = 1;
	for (i = 0; i < s->nw; i++)
		s->f[i].type = JSCAN_MISSING;
	s->empty = 0;
	s->control = 0;
	ws(&c);
	if (c.p >= c.end || *c.p != '{') {
		if (c.p < c.end && (*c.p == '[' || *c.p == '"' ||
		    *c.p == '-' || is_digit(*c.p) || *c.p == 't' ||
		    *c.p == 'f' || *c.p == 'n'))
			c.err = "not a JSON object";
		else
			c.err = "unexpected character";
		goto refused;
	}
	if (scan_value(&c, s->nw ? (uint32_t)((1ull << s->nw) - 1) : 0, 0,
	    0) != 0)
		goto refused;
	ws(&c);
	if (c.p != c.end) {
		c.err = "trailing characters after the value";
		goto refused;
	}
	s->control = c.members > 0 && c.all_kinpipe;
	return 0;
refused:
	*why = refusal(s, line, len, c.err ? c.err : "unexpected character");
	return -1;
}

int
jscan_kind(struct jscan *s, const char *line, size_t len, const char **why)
{
	size_t nw = s->nw;
	int rc;

	/* No field is looked for. */
	s->nw = 0;
	rc = jscan_line(s, line, len, why);
	s->nw = nw;
	if (rc != 0)
		return -1;
	return s->control;
}

/* ---- values ---- */

/*
 * A valid JSON number token converted without strtod when that is exact
 * (Clinger's fast path): at most 19 significant digits whose integer m is
 * at most 2^53, times a power of ten 10^e with |e| <= 22.  Both are
 * doubles exactly, so one IEEE multiplication or division rounds the true
 * value correctly, as strtod does.  Returns -1 for strtod to do it.
 */
int
jscan_fast_number(const char *p, size_t n, double *x)
{
	static const double pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
		1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
		1e21, 1e22,
	};
	const char *end = p + n;
	uint64_t m = 0;
	int neg = 0, nd = 0, e = 0, frac = 0, integer = 1;
	double d;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	for (; p < end; p++) {
		unsigned dig = (unsigned)(*p - '0');

		if (*p == '.') {
			frac = 1;
			integer = 0;
			continue;
		}
		if (dig > 9)
			break;
		if (m == 0 && dig == 0) {
			e -= frac;          /* a leading zero */
			continue;
		}
		if (++nd > 19)
			return -1;
		m = m * 10 + dig;
		e -= frac;
	}
	if (p < end) {                      /* the exponent */
		int en = 0, eneg = 0, k = 0;

		integer = 0;
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		for (; p < end; p++, k++) {
			if (k == 4)
				return -1;  /* strtod knows what 1e99999 is */
			en = en * 10 + (*p - '0');
		}
		e += eneg ? -en : en;
	}
	if (m > (UINT64_C(1) << 53) || e > 22 || e < -22)
		return m == 0 ? (*x = neg && !integer ? -0.0 : 0.0, 0) : -1;
	d = (double)m;
	d = e >= 0 ? d * pow10[e] : d / pow10[-e];
	/* "-0" as an integer is 0, as json-c reads it. */
	*x = neg && !(integer && m == 0) ? -d : d;
	return 0;
}

int
jscan_number(const struct jscan_field *f, double *v, const char **why)
{
	char small[64];
	double x;

	switch (f->type) {
	case JSCAN_NUMBER:
		break;
	case JSCAN_MISSING:
		*why = "missing";
		return -1;
	case JSCAN_NULL:
	case JSCAN_NULL_PATH:
		*why = "null";
		return -1;
	default:
		*why = "not a number";
		return -1;
	}
	if (jscan_fast_number(f->tok, f->len, &x) == 0) {
		*v = x;
		return 0;
	}
	/* strtod rounds correctly at any length; it reads a NUL-terminated
	 * copy, so it never looks past the token. */
	if (f->len < sizeof(small)) {
		memcpy(small, f->tok, f->len);
		small[f->len] = '\0';
		x = strtod(small, NULL);
	} else {
		char *big = strndup(f->tok, f->len);

		if (big == NULL) {
			*why = "out of memory";
			return -1;
		}
		x = strtod(big, NULL);
		free(big);
	}
	if (!isfinite(x)) {
		*why = "not a finite number";
		return -1;
	}
	/* "-0" as an integer is 0, as json-c reads it. */
	if (memchr(f->tok, '.', f->len) == NULL &&
	    memchr(f->tok, 'e', f->len) == NULL &&
	    memchr(f->tok, 'E', f->len) == NULL)
		x += 0.0;
	*v = x;
	return 0;
}

int
jscan_number_memo(const struct jscan_field *f, struct jscan_memo *m,
    double *v, const char **why)
{
	if (f->type == JSCAN_NUMBER && f->len == m->len &&
	    memcmp(f->tok, m->tok, f->len) == 0) {
		*v = m->v;
		return 0;
	}
	if (jscan_number(f, v, why) != 0)
		return -1;
	if (f->len <= sizeof(m->tok)) {
		memcpy(m->tok, f->tok, f->len);
		m->len = f->len;
		m->v = *v;
	}
	return 0;
}

int
jscan_string(const struct jscan_field *f, struct buf *tmp, const char **str,
    size_t *n)
{
	if (f->type != JSCAN_STRING)
		return -1;
	if (!f->escaped) {
		*str = f->tok + 1;
		*n = f->len - 2;
		return 0;
	}
	buf_reset(tmp);
	unescape(f->tok + 1, f->len - 2, tmp);
	if (buf_cstr(tmp) == NULL)
		return -1;
	*str = tmp->p;
	*n = tmp->len;
	return 0;
}

int
jscan_time(const struct jscan_field *f, enum kptime_unit unit,
    struct buf *tmp, int64_t *ms, const char **why)
{
	const char *s;
	size_t n;
	double v;

	switch (f->type) {
	case JSCAN_STRING:
		if (jscan_string(f, tmp, &s, &n) != 0) {
			*why = "out of memory";
			return -1;
		}
		return kptime_from_string(s, n, ms, why);
	case JSCAN_NUMBER:
		if (jscan_number(f, &v, why) != 0) {
			*why = "epoch time out of range";
			return -1;
		}
		return kptime_from_number(v, unit, ms, why);
	case JSCAN_MISSING:
		*why = "missing";
		return -1;
	case JSCAN_NULL:
	case JSCAN_NULL_PATH:
		*why = "null";
		return -1;
	default:
		*why = "neither an RFC 3339 string nor an epoch number";
		return -1;
	}
}

void
jscan_text(const struct jscan_field *f, struct buf *out)
{
	const char *p = f->tok, *end, *from = p;

	if (p == NULL)          /* an absent field: no text */
		return;
	end = p + f->len;
	/* Copy all but the white space between tokens. */
	while (p < end) {
		if (*p == '"') {
			for (p++; *p != '"'; p++)
				if (*p == '\\')
					p++;
			p++;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			buf_add(out, from, (size_t)(p - from));
			while (p < end && (*p == ' ' || *p == '\t' ||
			    *p == '\n' || *p == '\r'))
				p++;
			from = p;
			continue;
		}
		p++;
	}
	buf_add(out, from, (size_t)(end - from));
}
