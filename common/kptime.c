#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kptime.h"

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z */
#define KPTIME_MIN_MS (-62167219200000LL)
#define KPTIME_MAX_MS 253402300799999LL

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int
digits(const char *s, size_t n, size_t at, size_t count, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (at + count > n)
		return -1;
	for (i = 0; i < count; i++) {
		char c = s[at + i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (unsigned)(c - '0');
	}
	*out = v;
	return 0;
}

static int
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
kptime_parse(const char *s, size_t n, int64_t *ms)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, se, oh = 0, om = 0, frac = 0;
	size_t i = 19;
	int64_t t;
	int sign = 0;

	if (digits(s, n, 0, 4, &y) || n < 20 || s[4] != '-' ||
	    digits(s, n, 5, 2, &mo) || s[7] != '-' || digits(s, n, 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s, n, 11, 2, &h) || s[13] != ':' ||
	    digits(s, n, 14, 2, &mi) || s[16] != ':' ||
	    digits(s, n, 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 ||
	    se > 60)
		return -1;
	if (i < n && s[i] == '.') {
		unsigned scale = 100;
		size_t start = ++i;

		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			frac += (unsigned)(s[i] - '0') * scale;
			scale /= 10;
		}
		if (i == start)
			return -1;
	}
	if (i >= n)
		return -1;
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '-' ? -1 : 1;
		if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
		    digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	t -= sign * (int64_t)(oh * 3600 + om * 60);
	*ms = t * 1000 + frac;
	return 0;
}

int
kptime_from_string(const char *s, size_t n, int64_t *ms, const char **why)
{
	if (kptime_parse(s, n, ms) != 0) {
		*why = "not an RFC 3339 time";
		return -1;
	}
	/* An offset can move a time out of 0000..9999 in UTC. */
	if (*ms < KPTIME_MIN_MS || *ms > KPTIME_MAX_MS) {
		*why = "time out of range";
		return -1;
	}
	return 0;
}

int
kptime_from_number(double v, enum kptime_unit unit, int64_t *ms,
    const char **why)
{
	double scale, r;

	if (unit == KPTIME_AUTO)
		unit = fabs(v) >= 1e11 ? KPTIME_MS : KPTIME_S;
	scale = unit == KPTIME_MS ? 1.0 : 1000.0;
	v *= scale;
	/* A decimal fraction such as 1089018456.001 s is not exact in binary,
	 * and v * 1000 can land a hair below the millisecond it names: within
	 * a few ulps of a whole number, that number is meant.  Otherwise
	 * truncate toward the past. */
	r = round(v);
	v = fabs(v - r) <= fabs(v) * 4 * DBL_EPSILON ? r : floor(v);
	/* Keep to years 0000..9999 so every time can be written back. */
	if (!isfinite(v) || v < KPTIME_MIN_MS || v > KPTIME_MAX_MS) {
		*why = "epoch time out of range";
		return -1;
	}
	*ms = (int64_t)v;
	return 0;
}

int
kptime_from_json(struct json_object *o, enum kptime_unit unit, int64_t *ms,
    const char **why)
{
	if (o == NULL) {
		*why = "missing";
		return -1;
	}
	switch (json_object_get_type(o)) {
	case json_type_string:
		return kptime_from_string(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o), ms, why);
	case json_type_int:
		return kptime_from_number((double)json_object_get_int64(o), unit,
		    ms, why);
	case json_type_double:
		return kptime_from_number(json_object_get_double(o), unit, ms,
		    why);
	default:
		*why = "neither an RFC 3339 string nor an epoch number";
		return -1;
	}
}

int64_t
kptime_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* v in exactly n decimal digits, zero-padded. */
static void
put_digits(char *out, unsigned v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

size_t
kptime_format(int64_t ms, char *buf, size_t size)
{
	int64_t days = kptime_floor_div(ms, 86400000), y;
	/* The floor modulo, not ms - days * 86400000: that product overflows
	 * for the times near INT64_MIN (found by fuzzing a manifest). */
	int64_t rem = ms % 86400000 + (ms % 86400000 < 0 ? 86400000 : 0);
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999 || size < 25)
		return 0;
	/* YYYY-MM-DDTHH:MM:SS.mmmZ, digit by digit: this runs for every
	 * window and record written, where snprintf was a tenth of the
	 * cost of a window. */
	put_digits(buf, (unsigned)y, 4);
	buf[4] = '-';
	put_digits(buf + 5, m, 2);
	buf[7] = '-';
	put_digits(buf + 8, d, 2);
	buf[10] = 'T';
	put_digits(buf + 11, (unsigned)(rem / 3600000), 2);
	buf[13] = ':';
	put_digits(buf + 14, (unsigned)(rem / 60000 % 60), 2);
	buf[16] = ':';
	put_digits(buf + 17, (unsigned)(rem / 1000 % 60), 2);
	buf[19] = '.';
	put_digits(buf + 20, (unsigned)(rem % 1000), 3);
	buf[23] = 'Z';
	buf[24] = '\0';
	return 24;
}

int64_t
kptime_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
kptime_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
