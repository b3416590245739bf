/*
 * buf_test - unit tests of the JSON writer (common/buf.h): strings escaped
 * so that json-c reads back the same bytes, doubles in their shortest exact
 * form, integers, times, base64, and the sticky failure flag.
 *
 *   buf_test [-v]
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>

#include <json.h>

#include "b64.h"
#include "buf.h"
#include "tap.h"

static void
jstr_is(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT;
	struct json_object *o;
	char *x = exact(in, n);

	buf_jstr(&b, x, n);
	check(!b.failed && b.len == strlen(want) && memcmp(b.p, want, b.len) ==
	    0, "buf_jstr %s = %s", show(in, n), SHOW(want)) ||
	    (diag("got %s", b.p ? show(b.p, b.len) : ""), 0);
	o = json_tokener_parse(buf_cstr(&b));
	check(o != NULL && json_object_is_type(o, json_type_string) &&
	    (size_t)json_object_get_string_len(o) == n &&
	    memcmp(json_object_get_string(o), in, n) == 0,
	    "buf_jstr %s reads back as the input", show(in, n));
	json_object_put(o);
	buf_free(&b);
	free(x);
}

static void
test_strings(void)
{
	char all[32];
	struct buf b = BUF_INIT;
	size_t i;

	section("buf_jstr");
	jstr_is("", 0, "\"\"");
	jstr_is("plain", 5, "\"plain\"");
	jstr_is("a\"b", 3, "\"a\\\"b\"");
	jstr_is("a\\b", 3, "\"a\\\\b\"");
	jstr_is("/", 1, "\"/\"");
	jstr_is("\n\r\t", 3, "\"\\n\\r\\t\"");
	jstr_is("\b\f", 2, "\"\\u0008\\u000c\"");
	jstr_is("a\0b", 3, "\"a\\u0000b\"");
	jstr_is("\x1f\x7f", 2, "\"\\u001f\x7f\"");
	jstr_is("caf\xc3\xa9 \xe2\x98\x95", 9, "\"caf\xc3\xa9 \xe2\x98\x95\"");
	jstr_is("\"\"\"", 3, "\"\\\"\\\"\\\"\"");
	for (i = 0; i < sizeof(all); i++)
		all[i] = (char)i;
	buf_jstr(&b, all, sizeof(all));
	{
		struct json_object *o = json_tokener_parse(buf_cstr(&b));

		check(o != NULL && json_object_get_string_len(o) == 32 &&
		    memcmp(json_object_get_string(o), all, 32) == 0,
		    "every control character escaped and read back");
		json_object_put(o);
	}
	buf_reset(&b);
	buf_jstrz(&b, "z\"");
	check(b.len == 5 && memcmp(b.p, "\"z\\\"\"", 5) == 0, "buf_jstrz");
	buf_free(&b);
}

static void
double_is(double v, const char *want)
{
	struct buf b = BUF_INIT;

	buf_double(&b, v);
	check(!b.failed && b.len == strlen(want) &&
	    memcmp(b.p, want, b.len) == 0, "buf_double %.17g = %s", v, want) ||
	    (diag("got %s", b.p ? show(b.p, b.len) : ""), 0);
	if (isfinite(v))
		check(strtod(buf_cstr(&b), NULL) == v,
		    "buf_double %.17g reads back exactly", v);
	buf_free(&b);
}

static void
test_numbers(void)
{
	struct buf b = BUF_INIT;

	section("buf_double, buf_u64, buf_i64");
	double_is(0, "0");
	double_is(-0.0, "-0");
	double_is(1, "1");
	double_is(0.1, "0.1");
	double_is(0.30000000000000004, "0.30000000000000004");
	double_is(0.5, "0.5");
	double_is(61234.56, "61234.56");
	double_is(1e21, "1e+21");
	double_is(1.5e-300, "1.5e-300");
	double_is(DBL_MAX, "1.7976931348623157e+308");
	double_is(DBL_MIN, "2.2250738585072014e-308");
	double_is(4.9406564584124654e-324, "4.94065645841247e-324");
	double_is(123456789012345678.0, "1.2345678901234568e+17");
	double_is(NAN, "null");
	double_is(INFINITY, "null");
	double_is(-INFINITY, "null");
	buf_u64(&b, 0);
	buf_char(&b, ' ');
	buf_u64(&b, UINT64_MAX);
	buf_char(&b, ' ');
	buf_i64(&b, INT64_MIN);
	buf_char(&b, ' ');
	buf_i64(&b, -7);
	buf_char(&b, ' ');
	buf_i64(&b, INT64_MAX);
	check(strcmp(buf_cstr(&b), "0 18446744073709551615 "
	    "-9223372036854775808 -7 9223372036854775807") == 0,
	    "integers at both ends of their range") ||
	    (diag("got %s", b.p), 0);
	buf_free(&b);
}

/* buf_double as it was before its fast path: the first of %.15g, %.16g,
 * %.17g that reads back exactly.  The fast path must print the same. */
static void
slow_double(double v, char *out, size_t n)
{
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
}

static void
test_double_paths(void)
{
	static const double p10[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7,
	    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18 };
	static const double edge[] = { 1e-4, 0.0001000000000000001,
	    9.9999999999999991e-5, 999999999999999.0, 999999999999999.9,
	    1e15, 123456789012345.6, 0.1 + 0.2, 2.675, 1.005, 60000.01,
	    -0.5, -61234.56, 9007199254740993.0, 5e-324, 0.000123 };
	unsigned long long seed = 0x9e3779b97f4a7c15ull;
	size_t i, bad = 0, total = 0;
	struct buf b = BUF_INIT;
	char want[48];

	section("buf_double: the fast path prints what printf did");
	for (i = 0; i < 400000 + sizeof(edge) / sizeof(edge[0]); i++) {
		double v;

		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		if (i >= 400000)
			v = edge[i - 400000];
		else if (i % 3 == 0)    /* any bits at all */
			memcpy(&v, &seed, sizeof(v));
		else if (i % 3 == 1)    /* a short decimal, as prices are */
			v = (double)(seed % 100000000000000000ull) /
			    p10[(seed >> 57) % 19];
		else                    /* a computed one, as means are */
			v = (double)(seed % 1000000007ull) /
			    (double)(1 + (seed >> 40) % 997);
		if ((seed >> 63) != 0)
			v = -v;
		if (!isfinite(v))
			continue;
		total++;
		buf_reset(&b);
		buf_double(&b, v);
		slow_double(v, want, sizeof(want));
		if (b.failed || strcmp(buf_cstr(&b), want) != 0) {
			if (bad++ < 5)
				diag("%.17g: got %s, printf %s", v,
				    buf_cstr(&b), want);
		}
	}
	check(bad == 0, "%zu doubles print as %%.15g-%%.17g did (%zu differ)",
	    total, bad);
	buf_free(&b);
}

static void
test_times_b64(void)
{
	struct buf b = BUF_INIT;
	static const unsigned char bin[] = { 0, 0xff, 0x10, 0x80, 'a' };
	unsigned char back[8];
	long n;

	section("buf_time, buf_b64");
	buf_time(&b, 1723161255342LL);
	check(strcmp(buf_cstr(&b), "\"2024-08-08T23:54:15.342Z\"") == 0,
	    "buf_time writes a quoted RFC 3339 time");
	buf_reset(&b);
	buf_time(&b, -1);
	check(strcmp(buf_cstr(&b), "\"1969-12-31T23:59:59.999Z\"") == 0,
	    "buf_time before the epoch");
	buf_reset(&b);
	buf_time(&b, INT64_MAX);
	check(strcmp(buf_cstr(&b), "null") == 0,
	    "buf_time beyond year 9999 is null");
	buf_reset(&b);
	buf_b64(&b, bin, sizeof(bin));
	n = b64_decode(b.p, b.len, back);
	check(b.len == B64_ENCODED_LEN(sizeof(bin)) && n == sizeof(bin) &&
	    memcmp(back, bin, sizeof(bin)) == 0, "buf_b64 decodes back");
	buf_reset(&b);
	buf_b64(&b, "", 0);
	check(b.len == 0, "buf_b64 of nothing is nothing");
	buf_free(&b);
}

static void
test_growth(void)
{
	struct buf b = BUF_INIT;
	size_t i;
	int ok = 1;

	section("growth, reset, printf, failure");
	for (i = 0; i < 100000; i++)
		buf_lit(&b, "0123456789");
	for (i = 0; i < 100000 && ok; i++)
		ok = memcmp(b.p + i * 10, "0123456789", 10) == 0;
	check(!b.failed && b.len == 1000000 && ok,
	    "a million bytes appended in order");
	buf_reset(&b);
	check(b.len == 0 && b.cap >= 1000000 && !b.failed,
	    "buf_reset empties and keeps the memory");
	buf_printf(&b, "%s=%d;", "x", 42);
	buf_printf(&b, "%05.1f", 2.25);
	check(strcmp(buf_cstr(&b), "x=42;002.2") == 0 ||
	    strcmp(buf_cstr(&b), "x=42;002.3") == 0, "buf_printf appends");
	buf_free(&b);
	check(b.p == NULL && b.len == 0 && b.cap == 0, "buf_free zeroes");
	buf_free(NULL);
	check(1, "buf_free accepts NULL");
	b.failed = 1;
	buf_lit(&b, "x");
	buf_jstrz(&b, "y");
	buf_double(&b, 1);
	check(b.len == 0 && b.p == NULL && buf_cstr(&b) == NULL,
	    "after a failure nothing is appended and buf_cstr is NULL");
	check(buf_reserve(&b, 1) == -1, "buf_reserve fails while failed");
	buf_reset(&b);
	check(buf_reserve(&b, SIZE_MAX / 2) == -1 && b.failed && b.p == NULL,
	    "an impossible size fails and sets failed");
	buf_free(&b);
	buf_add(&b, "", 0);
	check(b.len == 0 && !b.failed, "appending nothing is fine");
	buf_char(&b, 'c');
	check(b.len == 1 && b.p[0] == 'c', "buf_char");
	{
		char *t = buf_take(&b);

		check(t != NULL && strcmp(t, "c") == 0 && b.p == NULL &&
		    b.len == 0, "buf_take hands the string over, b is empty");
		free(t);
		t = buf_take(&b);
		check(t != NULL && *t == '\0', "buf_take of nothing is \"\"");
		free(t);
		b.failed = 1;
		errno = 0;
		t = buf_take(&b);
		check(t == NULL && errno == ENOMEM && !b.failed,
		    "buf_take after a failure: NULL, ENOMEM, b emptied");
	}
	buf_free(&b);
}

int
main(int argc, char **argv)
{
	if (tap_begin("buf_test", argc, argv) != 0)
		return 2;
	test_strings();
	test_numbers();
	test_double_paths();
	test_times_b64();
	test_growth();
	return tap_end();
}
