#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "kptime.h"

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t ncap;
	char *np;

	if (b->failed)
		return -1;
	if (n <= b->cap - b->len)
		return 0;
	/* Bounded so that the doubling below cannot overflow. */
	if (n > SIZE_MAX / 4 - b->len) {
		b->failed = 1;
		return -1;
	}
	ncap = b->cap ? b->cap : 256;
	while (ncap - b->len < n)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (np == NULL) {
		b->failed = 1;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

void
buf_add(struct buf *b, const void *data, size_t n)
{
	if (n == 0 || buf_reserve(b, n) != 0)
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_char(struct buf *b, char c)
{
	if (buf_reserve(b, 1) != 0)
		return;
	b->p[b->len++] = c;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	/* vsnprintf writes a NUL after the text: room for it too. */
	if (buf_reserve(b, (size_t)n + 1) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_jstr(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i, from = 0;
	char *o;

	/* Worst case: every byte becomes \u00XX. */
	if (n > (SIZE_MAX - 2) / 6 || buf_reserve(b, n * 6 + 2) != 0)
		return;
	o = b->p + b->len;
	*o++ = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = u[i];
		char e;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(o, s + from, i - from);
		o += i - from;
		from = i + 1;
		switch (c) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		default: e = 0; break;
		}
		*o++ = '\\';
		if (e != 0) {
			*o++ = e;
		} else {
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	memcpy(o, s + from, n - from);
	o += n - from;
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

void
buf_jstrz(struct buf *b, const char *s)
{
	buf_jstr(b, s, strlen(s));
}

/*
 * v in plain notation when a decimal of at most 15 significant digits
 * converts back to it exactly: then that decimal is what "%.15g" prints
 * (15 digits always survive a round trip through a double, DBL_DIG), so
 * the output is the same as buf_double's printf path, at a fraction of
 * its cost.  m / 10^k is checked as strtod would read it: m < 10^15 and
 * 10^k are exact doubles, so the one division rounds correctly (Clinger).
 * Returns -1 when v needs more than 15 digits (the loop finds any decimal
 * of 15 that reads back: a·10^k is within 0.22 of its integer M < 10^15),
 * -2 when "%g" would use an exponent.
 */
static int
short_double(struct buf *b, double v)
{
	static const double p10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
		1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
	};
	double a = fabs(v);
	char tmp[40], *p = tmp + sizeof(tmp);
	int64_t m = 0;
	int k;

	if (!(a >= 1e-4 && a < 1e15))
		return -2;
	for (k = 0; k <= 19; k++) {
		double x = a * p10[k];

		if (x >= 1e15)
			return -1;
		m = (int64_t)(x + 0.5);
		if ((double)m / p10[k] == a)
			break;
	}
	if (k > 19)
		return -1;
	for (; k > 0 && m % 10 == 0; k--)
		m /= 10;
	for (; k > 0; k--, m /= 10)
		*--p = (char)('0' + m % 10);
	if (p != tmp + sizeof(tmp))
		*--p = '.';
	do {
		*--p = (char)('0' + m % 10);
		m /= 10;
	} while (m != 0);
	if (v < 0)
		*--p = '-';
	buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
	return 0;
}

void
buf_double(struct buf *b, double v)
{
	char tmp[40];
	int n, prec;

	if (!isfinite(v)) {
		buf_lit(b, "null");
		return;
	}
	n = short_double(b, v);
	if (n == 0)
		return;
	for (prec = n == -1 ? 16 : 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	buf_add(b, tmp, (size_t)n);
}

void
buf_u64(struct buf *b, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void
buf_i64(struct buf *b, int64_t v)
{
	if (v < 0) {
		buf_char(b, '-');
		buf_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		buf_u64(b, (uint64_t)v);
	}
}

void
buf_time(struct buf *b, int64_t ms)
{
	char tmp[KPTIME_BUFSZ + 2];
	size_t n = kptime_format(ms, tmp + 1, sizeof(tmp) - 2);

	if (n == 0) {
		buf_lit(b, "null");
		return;
	}
	tmp[0] = '"';
	tmp[n + 1] = '"';
	buf_add(b, tmp, n + 2);
}

void
buf_b64(struct buf *b, const void *data, size_t n)
{
	size_t need = B64_ENCODED_LEN(n);

	/* b64_encode() writes a NUL after the text. */
	if (buf_reserve(b, need + 1) != 0)
		return;
	b->len += b64_encode(data, n, b->p + b->len);
}

const char *
buf_cstr(struct buf *b)
{
	if (buf_reserve(b, 1) != 0)
		return NULL;
	b->p[b->len] = '\0';
	return b->p;
}

char *
buf_take(struct buf *b)
{
	char *p = NULL;

	if (buf_cstr(b) != NULL) {
		p = b->p;
		b->p = NULL;
	} else {
		errno = ENOMEM;
	}
	buf_free(b);
	return p;
}

char *
buf_strdup(const char *s, int *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*failed = 1;
	return d;
}
