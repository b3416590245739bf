/*
 * common_test - unit tests of the parsers and formatters of libkinpipe:
 * event time (kptime), durations, sizes and counts, JSON fields and the
 * strict line parser (jfield), the NDJSON reader, writer, bad-input rules
 * and control lines (ndjson), base64, KPL aggregation, the retry policy and
 * http_url_host.  Fixed inputs only: no network, no wall clock.
 *
 *   common_test [-v]
 *
 * Prints TAP: one "ok N - what" or "not ok N - what" per check, "# ..."
 * diagnostics after a failure (and every section name), and the plan
 * "1..N" last.  Exits 0 when every check passed, 1 otherwise.  -v also
 * prints the messages the library writes on stderr (normally captured).
 *
 * Every input string is copied into a heap buffer of exactly its length
 * before a parser sees it, so that under ASan (build-asan/tests) or
 * valgrind a read one byte past the end is caught.  Temporary files go to
 * a private folder under $TMPDIR (or /tmp), removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json.h>
#include <openssl/evp.h>

#include "b64.h"
#include "buf.h"
#include "cli.h"
#include "http.h"
#include "jfield.h"
#include "jscan.h"
#include "kpl.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "retry.h"
#include "tap.h"

/* ---- kptime ---- */

static void
parse_ok(const char *s, int64_t want)
{
	size_t n = strlen(s);
	char *b = exact(s, n);
	int64_t got = INT64_MIN;
	int rc = kptime_parse(b, n, &got);

	if (!check(rc == 0 && got == want, "kptime_parse \"%s\" = %" PRId64,
	    SHOW(s), want))
		diag("rc %d, got %" PRId64, rc, got);
	free(b);
}

static void
parse_bad(const char *s)
{
	size_t n = strlen(s);
	char *b = exact(s, n);
	int64_t got = 12345;
	int rc = kptime_parse(b, n, &got);

	if (!check(rc == -1 && got == 12345, "kptime_parse rejects \"%s\"",
	    SHOW(s)))
		diag("rc %d, got %" PRId64, rc, got);
	free(b);
}

static void
format_is(int64_t ms, const char *want)
{
	char buf[KPTIME_BUFSZ];
	size_t n;

	memset(buf, 'x', sizeof(buf));
	n = kptime_format(ms, buf, sizeof(buf));
	if (want == NULL) {
		if (!check(n == 0, "kptime_format %" PRId64 " is out of range", ms))
			diag("got \"%s\"", buf);
		return;
	}
	if (!check(n == strlen(want) && strcmp(buf, want) == 0,
	    "kptime_format %" PRId64 " = %s", ms, want))
		diag("got %zu \"%s\"", n, n ? buf : "");
}

/* Parses json text with json-c, then kptime_from_json. */
static void
from_json(const char *json, enum kptime_unit unit, int ok, int64_t want)
{
	struct json_object *o = json_tokener_parse(json);
	const char *why = NULL;
	int64_t got = INT64_MIN;
	int rc = kptime_from_json(o, unit, &got, &why);
	static const char *units[] = { "auto", "s", "ms" };

	if (ok) {
		if (!check(rc == 0 && got == want,
		    "kptime_from_json %s (%s) = %" PRId64, json, units[unit], want))
			diag("rc %d, got %" PRId64 ", why %s", rc, got,
			    why ? why : "-");
	} else {
		if (!check(rc == -1 && why != NULL && *why != '\0',
		    "kptime_from_json rejects %s (%s)", json, units[unit]))
			diag("rc %d, got %" PRId64, rc, got);
		else if (verbose)
			diag("why: %s", why);
	}
	json_object_put(o);
}

static void
test_kptime(void)
{
	static const char full[] = "2024-08-09T01:54:15.342+02:00";
	struct json_object *o;
	const char *why;
	int64_t ms;
	size_t i;
	int bad;

	section("kptime_parse");
	parse_ok("2024-08-08T23:54:15.342Z", 1723161255342);
	parse_ok("2024-08-08T23:54:15Z", 1723161255000);
	parse_ok("2024-08-08t23:54:15.342z", 1723161255342);
	parse_ok("2024-08-08 23:54:15.342Z", 1723161255342);
	/* fractions of 1..12 digits, truncated toward the past */
	parse_ok("2024-08-08T23:54:15.3Z", 1723161255300);
	parse_ok("2024-08-08T23:54:15.34Z", 1723161255340);
	parse_ok("2024-08-08T23:54:15.3429Z", 1723161255342);
	parse_ok("2024-08-08T23:54:15.342999999Z", 1723161255342);
	parse_ok("2024-08-08T23:54:15.999999999999Z", 1723161255999);
	parse_ok("2024-08-08T23:54:15.000000000001Z", 1723161255000);
	parse_ok("2024-08-08T23:54:15.0Z", 1723161255000);
	/* offsets */
	parse_ok("2024-08-09T01:54:15.342+02:00", 1723161255342);
	parse_ok("2024-08-08T18:24:15.342-05:30", 1723161255342);
	parse_ok("2024-08-08T23:54:15.342+00:00", 1723161255342);
	parse_ok("2024-08-08T23:54:15.342-00:00", 1723161255342);
	parse_ok("2024-08-09T23:53:15.342+23:59", 1723161255342);
	/* calendar */
	parse_ok("1970-01-01T00:00:00Z", 0);
	parse_ok("1969-12-31T23:59:59.999Z", -1);
	parse_ok("1970-01-01T00:00:00+01:00", -3600000);
	parse_ok("2024-02-29T00:00:00Z", 1709164800000);
	parse_ok("2000-02-29T12:00:00Z", 951825600000);
	parse_ok("1900-03-01T00:00:00Z", -2203891200000);
	parse_ok("2024-12-31T23:59:59Z", 1735689599000);
	parse_ok("0000-01-01T00:00:00Z", -62167219200000);
	parse_ok("0000-02-29T00:00:00Z", -62167219200000 + 59 * 86400000LL);
	parse_ok("9999-12-31T23:59:59.999Z", 253402300799999);
	/* a leap second is the first second of the next minute */
	parse_ok("2016-12-31T23:59:60Z", 1483228800000);
	parse_ok("2016-12-31T23:59:60.5Z", 1483228800500);

	parse_bad("");
	parse_bad("2024-08-08T23:54:15");         /* no zone: never local time */
	parse_bad("2024-08-08T23:54:15.342");
	parse_bad("2024-08-08T23:54:15.Z");       /* empty fraction */
	parse_bad("2024-08-08T23:54:15,342Z");
	parse_bad("2024-08-08X23:54:15Z");
	parse_bad("2024-08-08_23:54:15Z");
	parse_bad("2024-08-08T23:54Z");
	parse_bad("2024-8-08T23:54:15Z");
	parse_bad("24-08-08T23:54:15Z");
	parse_bad("+2024-08-08T23:54:15Z");
	parse_bad("20a4-08-08T23:54:15Z");
	parse_bad("2024/08/08T23:54:15Z");
	parse_bad("2024-08-08T23.54.15Z");
	parse_bad("2023-02-29T00:00:00Z");        /* not a leap year */
	parse_bad("1900-02-29T00:00:00Z");        /* century, not leap */
	parse_bad("2024-02-30T00:00:00Z");
	parse_bad("2024-04-31T00:00:00Z");
	parse_bad("2024-06-31T00:00:00Z");
	parse_bad("2024-09-31T00:00:00Z");
	parse_bad("2024-11-31T00:00:00Z");
	parse_bad("2024-01-32T00:00:00Z");
	parse_bad("2024-00-10T00:00:00Z");
	parse_bad("2024-13-10T00:00:00Z");
	parse_bad("2024-01-00T00:00:00Z");
	parse_bad("2024-01-01T24:00:00Z");
	parse_bad("2024-01-01T23:60:00Z");
	parse_bad("2024-01-01T23:59:61Z");
	parse_bad("2024-01-01T23:59:99Z");
	parse_bad("2024-08-08T23:54:15+24:00");
	parse_bad("2024-08-08T23:54:15+02:60");
	parse_bad("2024-08-08T23:54:15+0200");
	parse_bad("2024-08-08T23:54:15+02");
	parse_bad("2024-08-08T23:54:15+2:00");
	parse_bad("2024-08-08T23:54:15+02:0");
	parse_bad("2024-08-08T23:54:15+02-00");
	parse_bad("2024-08-08T23:54:15 +02:00");
	parse_bad("2024-08-08T23:54:15ZZ");
	parse_bad("2024-08-08T23:54:15Zx");
	parse_bad("2024-08-08T23:54:15Z ");
	parse_bad(" 2024-08-08T23:54:15Z");
	parse_bad("2024-08-08T23:54:15+02:00Z");
	parse_bad("2024-08-08T23:54:15+02:00:00");
	parse_bad("2024-08-08T23:54:15.342UTC");
	parse_bad("2024-08-08T23:54:15.3a2Z");
	parse_bad("1723161255342");
	parse_bad("not a time at all, 30 chars..");
	/* every truncation of a valid time is rejected, without overreads */
	bad = 0;
	for (i = 0; i < sizeof(full) - 1; i++) {
		char *b = exact(full, i);

		if (kptime_parse(b, i, &ms) != -1)
			bad++;
		free(b);
	}
	check(bad == 0, "kptime_parse rejects all %zu truncations of %s",
	    sizeof(full) - 1, full);
	/* a NUL inside is not the end */
	{
		static const char nul[] = "2024-08-08T23:54:15Z\0";
		char *b = exact(nul, sizeof(nul) - 1);

		check(kptime_parse(b, sizeof(nul) - 1, &ms) == -1,
		    "kptime_parse rejects a trailing NUL byte");
		free(b);
	}

	section("kptime_format");
	format_is(0, "1970-01-01T00:00:00.000Z");
	format_is(1723161255342, "2024-08-08T23:54:15.342Z");
	format_is(-1, "1969-12-31T23:59:59.999Z");
	format_is(-1000, "1969-12-31T23:59:59.000Z");
	format_is(-86400000, "1969-12-31T00:00:00.000Z");
	format_is(-86400001, "1969-12-30T23:59:59.999Z");
	format_is(-2203891200000, "1900-03-01T00:00:00.000Z");
	format_is(951825600000, "2000-02-29T12:00:00.000Z");
	format_is(1709164800000, "2024-02-29T00:00:00.000Z");
	format_is(-62167219200000, "0000-01-01T00:00:00.000Z");
	format_is(253402300799999, "9999-12-31T23:59:59.999Z");
	format_is(-62167219200001, NULL);
	format_is(253402300800000, NULL);
	format_is(INT64_MAX, NULL);
	format_is(INT64_MIN, NULL);
	format_is(INT64_MIN + 1, NULL);
	format_is(INT64_MIN + 86399999, NULL);
	{
		char small[KPTIME_BUFSZ];

		check(kptime_format(0, small, 24) == 0,
		    "kptime_format into a 24-byte buffer (no room for NUL) is 0");
		check(kptime_format(0, small, 25) == 24 &&
		    strcmp(small, "1970-01-01T00:00:00.000Z") == 0,
		    "kptime_format into a 25-byte buffer fits");
	}
	/* format then parse gives the same time, across the whole range */
	{
		uint64_t x = 0x2545f4914f6cdd1dULL;
		char buf[KPTIME_BUFSZ];
		int n = 0;

		bad = 0;
		for (i = 0; i < 20000; i++) {
			int64_t t, back = 0;
			size_t len;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			t = -62167219200000 + (int64_t)(x % 315569520000000ULL);
			if (i < 4000)
				t = (int64_t)(x % 4000000000000ULL) - 2000000000000;
			len = kptime_format(t, buf, sizeof(buf));
			if (len != 24 || kptime_parse(buf, len, &back) != 0 ||
			    back != t) {
				if (bad++ < 3)
					diag("%" PRId64 " -> %s -> %" PRId64, t,
					    buf, back);
			}
			n++;
		}
		check(bad == 0, "kptime_format/kptime_parse round trip of %d times",
		    n);
	}

	section("kptime_floor_div");
	check(kptime_floor_div(7, 2) == 3, "floor_div 7/2 = 3");
	check(kptime_floor_div(-7, 2) == -4, "floor_div -7/2 = -4");
	check(kptime_floor_div(-6, 2) == -3, "floor_div -6/2 = -3");
	check(kptime_floor_div(7, -2) == -4, "floor_div 7/-2 = -4");
	check(kptime_floor_div(-7, -2) == 3, "floor_div -7/-2 = 3");
	check(kptime_floor_div(0, 60000) == 0, "floor_div 0/60000 = 0");
	check(kptime_floor_div(-1, 60000) == -1, "floor_div -1/60000 = -1");
	check(kptime_floor_div(-60000, 60000) == -1,
	    "floor_div -60000/60000 = -1");
	check(kptime_floor_div(-60001, 60000) == -2,
	    "floor_div -60001/60000 = -2");
	check(kptime_floor_div(59999, 60000) == 0, "floor_div 59999/60000 = 0");

	section("kptime_from_json");
	from_json("\"2024-08-08T23:54:15.342Z\"", KPTIME_AUTO, 1, 1723161255342);
	from_json("\"2024-08-09T01:54:15.342+02:00\"", KPTIME_MS, 1, 1723161255342);
	from_json("1723161255", KPTIME_AUTO, 1, 1723161255000);
	from_json("1723161255342", KPTIME_AUTO, 1, 1723161255342);
	from_json("1723161255.342", KPTIME_AUTO, 1, 1723161255342);
	from_json("1723161255342.9", KPTIME_AUTO, 1, 1723161255342);
	from_json("0", KPTIME_AUTO, 1, 0);
	from_json("1.5", KPTIME_AUTO, 1, 1500);
	from_json("1.001", KPTIME_AUTO, 1, 1001);
	from_json("1089018456.001", KPTIME_AUTO, 1, 1089018456001);
	from_json("68002245.989", KPTIME_AUTO, 1, 68002245989);
	from_json("0.0005", KPTIME_AUTO, 1, 0);
	from_json("-0.0005", KPTIME_AUTO, 1, -1);
	from_json("-1.5", KPTIME_AUTO, 1, -1500);
	from_json("-1723161255", KPTIME_AUTO, 1, -1723161255000);
	from_json("-1723161255342", KPTIME_AUTO, 1, -1723161255342);
	from_json("99999999999", KPTIME_AUTO, 1, 99999999999000);
	from_json("100000000000", KPTIME_AUTO, 1, 100000000000);
	from_json("-9999999999", KPTIME_AUTO, 1, -9999999999000);
	from_json("-99999999999", KPTIME_AUTO, 0, 0);     /* year -1199 */
	from_json("-100000000000", KPTIME_AUTO, 1, -100000000000);
	from_json("1e11", KPTIME_AUTO, 1, 100000000000);
	from_json("1.7e9", KPTIME_AUTO, 1, 1700000000000);
	from_json("5", KPTIME_MS, 1, 5);
	from_json("1723161255342", KPTIME_MS, 1, 1723161255342);
	from_json("1723161255", KPTIME_S, 1, 1723161255000);
	from_json("253402300799", KPTIME_S, 1, 253402300799000);
	from_json("-62167219200", KPTIME_S, 1, -62167219200000);
	from_json("1723161255342", KPTIME_S, 0, 0);
	from_json("253402300800", KPTIME_S, 0, 0);
	from_json("253402300800000", KPTIME_AUTO, 0, 0);
	from_json("-62167219200001", KPTIME_AUTO, 0, 0);
	from_json("1e300", KPTIME_AUTO, 0, 0);
	from_json("-1e300", KPTIME_AUTO, 0, 0);
	from_json("1e999", KPTIME_AUTO, 0, 0);
	from_json("9223372036854775807", KPTIME_AUTO, 0, 0);
	from_json("-9223372036854775808", KPTIME_AUTO, 0, 0);
	/* a string time must also fall within the years 0000..9999 once its
	 * offset is applied (kinpipe(7)), so that it can be written back */
	from_json("\"9999-12-31T23:59:59.999+00:00\"", KPTIME_AUTO, 1,
	    253402300799999);
	from_json("\"0000-01-01T00:00:00-01:00\"", KPTIME_AUTO, 1,
	    -62167219200000 + 3600000);
	from_json("\"9999-12-31T23:59:59-01:00\"", KPTIME_AUTO, 0, 0);
	from_json("\"0000-01-01T00:00:00+01:00\"", KPTIME_AUTO, 0, 0);
	from_json("\"1723161255\"", KPTIME_AUTO, 0, 0);
	from_json("\"\"", KPTIME_AUTO, 0, 0);
	from_json("\"2024-08-08T23:54:15\"", KPTIME_AUTO, 0, 0);
	from_json("true", KPTIME_AUTO, 0, 0);
	from_json("[1723161255]", KPTIME_AUTO, 0, 0);
	from_json("{\"t\":1}", KPTIME_AUTO, 0, 0);
	why = NULL;
	check(kptime_from_json(NULL, KPTIME_AUTO, &ms, &why) == -1 &&
	    why != NULL, "kptime_from_json rejects a missing field (NULL)");
	o = json_object_new_double(NAN);
	why = NULL;
	check(kptime_from_json(o, KPTIME_AUTO, &ms, &why) == -1 && why != NULL,
	    "kptime_from_json rejects a NaN double");
	json_object_put(o);
	o = json_object_new_double(-INFINITY);
	why = NULL;
	check(kptime_from_json(o, KPTIME_AUTO, &ms, &why) == -1 && why != NULL,
	    "kptime_from_json rejects -Infinity");
	json_object_put(o);
	/* Epoch seconds with a millisecond fraction are exact, whatever the
	 * binary rounding of the double (kinpipe(7): 1723161255.342 and
	 * 1723161255342 are the same time). */
	{
		static const int64_t bases[] = { 0, 1, 7, 68002245, 1089018456,
		    1723161255, 1999999999, -1, -1723161255 };
		size_t b;
		int f, n = 0;

		bad = 0;
		for (b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
			for (f = 0; f < 1000; f++) {
				char txt[64];
				int64_t want;

				if (bases[b] < 0) {
					snprintf(txt, sizeof(txt), "-%" PRId64 ".%03d",
					    -bases[b], f);
					want = bases[b] * 1000 - f;
				} else {
					snprintf(txt, sizeof(txt), "%" PRId64 ".%03d",
					    bases[b], f);
					want = bases[b] * 1000 + f;
				}
				o = json_tokener_parse(txt);
				ms = INT64_MIN;
				if (kptime_from_json(o, KPTIME_AUTO, &ms, &why) != 0 ||
				    ms != want) {
					if (bad++ < 5)
						diag("%s -> %" PRId64, txt, ms);
				}
				json_object_put(o);
				n++;
			}
		}
		check(bad == 0, "kptime_from_json: %d epoch seconds with a "
		    "millisecond fraction are exact (%d wrong)", n, bad);
	}
}

/* ---- durations, sizes, counts ---- */

static void
dur_is(const char *s, int ok, int64_t want)
{
	int64_t got = -77;
	int rc;

	rc = cli_parse_duration(s, &got);
	if (ok) {
		if (!check(rc == 0 && got == want, "cli_parse_duration \"%s\" = %" PRId64,
		    SHOW(s), want))
			diag("rc %d, got %" PRId64, rc, got);
	} else {
		if (!check(rc == -1 && got == -77, "cli_parse_duration rejects \"%s\"",
		    SHOW(s)))
			diag("rc %d, got %" PRId64, rc, got);
	}
}

static void
size_is(const char *s, int ok, uint64_t want)
{
	uint64_t got = 77;
	int rc = cli_parse_size(s, &got);

	if (ok) {
		if (!check(rc == 0 && got == want, "cli_parse_size \"%s\" = %" PRIu64,
		    SHOW(s), want))
			diag("rc %d, got %" PRIu64, rc, got);
	} else {
		if (!check(rc == -1 && got == 77, "cli_parse_size rejects \"%s\"",
		    SHOW(s)))
			diag("rc %d, got %" PRIu64, rc, got);
	}
}

static void
num_is(const char *s, uint64_t max, int ok, uint64_t want)
{
	uint64_t got = 77;
	int rc = cli_parse_count(s, max, &got);

	if (ok) {
		if (!check(rc == 0 && got == want, "cli_parse_count \"%s\" (max %" PRIu64
		    ") = %" PRIu64, SHOW(s), max, want))
			diag("rc %d, got %" PRIu64, rc, got);
	} else {
		if (!check(rc == -1 && got == 77, "cli_parse_count rejects \"%s\" (max %"
		    PRIu64 ")", SHOW(s), max))
			diag("rc %d, got %" PRIu64, rc, got);
	}
}

static void
test_units(void)
{
	int64_t d = -77;

	section("cli_parse_duration");
	dur_is("1m30s", 1, 90000);
	dur_is("250ms", 1, 250);
	dur_is("1.5s", 1, 1500);
	dur_is("0", 1, 0);
	dur_is("0s", 1, 0);
	dur_is("0ms", 1, 0);
	dur_is("1ms", 1, 1);
	dur_is("1s", 1, 1000);
	dur_is("1m", 1, 60000);
	dur_is("1h", 1, 3600000);
	dur_is("1d", 1, 86400000);
	dur_is("1h30m", 1, 5400000);
	dur_is("1d12h", 1, 129600000);
	dur_is("2m500ms", 1, 120500);
	dur_is("0.5m", 1, 30000);
	dur_is("100000d", 1, 8640000000000);
	dur_is("", 0, 0);
	dur_is("5", 0, 0);
	dur_is("m", 0, 0);
	dur_is("ms", 0, 0);
	dur_is("1x", 0, 0);
	dur_is("-1s", 0, 0);
	dur_is("+1s", 0, 0);
	dur_is("1S", 0, 0);
	dur_is("1M", 0, 0);
	dur_is("1 s", 0, 0);
	dur_is(" 1s", 0, 0);
	dur_is("1s ", 0, 0);
	dur_is("1m30", 0, 0);
	dur_is(".5s", 0, 0);
	dur_is("0.5ms", 0, 0);            /* not a whole number of ms */
	dur_is("1.0001s", 0, 0);
	dur_is("00", 0, 0);
	dur_is("1sm", 0, 0);
	dur_is("1mss", 0, 0);
	dur_is("99999999999999999999d", 0, 0);
	dur_is("1e400s", 0, 0);
	check(cli_parse_duration(NULL, &d) == -1 && d == -77, "cli_parse_duration rejects NULL");

	section("cli_parse_size");
	size_is("0", 1, 0);
	size_is("123", 1, 123);
	size_is("10B", 1, 10);
	size_is("1k", 1, 1000);
	size_is("1K", 1, 1000);
	size_is("2kB", 1, 2000);
	size_is("2KB", 1, 2000);
	size_is("1M", 1, 1000000);
	size_is("3MB", 1, 3000000);
	size_is("1G", 1, 1000000000);
	size_is("1GB", 1, 1000000000);
	size_is("1KiB", 1, 1024);
	size_is("5MiB", 1, 5242880);
	size_is("1GiB", 1, 1073741824);
	size_is("18446744073709551615", 1, UINT64_MAX);
	size_is("18446744073709551615B", 1, UINT64_MAX);
	size_is("17179869183GiB", 1, 17179869183ULL * 1073741824ULL);
	size_is("", 0, 0);
	size_is("-1", 0, 0);
	size_is("+1", 0, 0);
	size_is(" 1", 0, 0);
	size_is("1 ", 0, 0);
	size_is("1.5M", 0, 0);
	size_is("1 M", 0, 0);
	size_is("1m", 0, 0);
	size_is("1mb", 0, 0);
	size_is("1Kib", 0, 0);
	size_is("1KIB", 0, 0);
	size_is("1e3", 0, 0);
	size_is("0x10", 0, 0);
	size_is("k", 0, 0);
	size_is("18446744073709551616", 0, 0);
	size_is("18446744073709551615k", 0, 0);
	size_is("17179869184GiB", 0, 0);
	size_is("20000000000G", 0, 0);

	section("cli_parse_count");
	num_is("0", 10, 1, 0);
	num_is("42", 100, 1, 42);
	num_is("10", 10, 1, 10);
	num_is("007", 10, 1, 7);
	num_is("18446744073709551615", UINT64_MAX, 1, UINT64_MAX);
	num_is("11", 10, 0, 0);
	num_is("", 10, 0, 0);
	num_is("-1", UINT64_MAX, 0, 0);
	num_is("+1", 10, 0, 0);
	num_is(" 1", 10, 0, 0);
	num_is("1 ", 10, 0, 0);
	num_is("1.0", 10, 0, 0);
	num_is("1k", 10000, 0, 0);
	num_is("0x10", 100, 0, 0);
	num_is("1e3", 10000, 0, 0);
	num_is("18446744073709551616", UINT64_MAX, 0, 0);
	{
		uint64_t v = 77;

		check(cli_parse_count(NULL, 10, &v) == -1 && v == 77,
		    "cli_parse_count rejects NULL");
	}
}

/* ---- jfield ---- */

static void
path_is(const char *spec, size_t nseg, const char *segs)
{
	struct jf_path p;
	int rc = jf_path_init(&p, spec);

	if (nseg == 0) {
		if (!check(rc == -1 && p.seg == NULL && p.text == NULL && p.n == 0,
		    "jf_path_init rejects \"%s\"", spec ? SHOW(spec) : "(null)"))
			diag("rc %d, n %zu", rc, p.n);
	} else {
		char joined[256] = "";
		size_t i;

		size_t o = 0;

		for (i = 0; rc == 0 && i < p.n && o < sizeof(joined); i++)
			o += (size_t)snprintf(joined + o, sizeof(joined) - o, "%s|",
			    p.seg[i]);
		if (!check(rc == 0 && p.n == nseg && strcmp(joined, segs) == 0 &&
		    strcmp(p.text, spec) == 0,
		    "jf_path_init \"%s\" = %s", spec, segs))
			diag("rc %d, n %zu, segs %s", rc, p.n, joined);
	}
	jf_path_free(&p);
	jf_path_free(&p); /* twice: the first free leaves it empty */
}

/* Parses s (exact copy, length n) with jf_parse; ok: the expected JSON
 * serialisation (plain), or NULL when it must fail with why containing
 * whysub (NULL: any reason). */
static void
parse_json(struct jf_parser *jp, int object, const char *s, size_t n,
    const char *want, const char *whysub)
{
	char *b = exact(s, n);
	const char *why = NULL;
	struct json_object *o = object ? jf_parse_object(jp, b, n, &why) :
	    jf_parse(jp, b, n, &why);
	const char *fn = object ? "jf_parse_object" : "jf_parse";

	if (want != NULL) {
		const char *got = o ? json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;

		if (!check(got != NULL && strcmp(got, want) == 0,
		    "%s accepts \"%s\"", fn, show(s, n)))
			diag("got %s (why %s)", got ? got : "NULL",
			    why ? why : "-");
	} else {
		if (!check(o == NULL && why != NULL &&
		    (whysub == NULL || strstr(why, whysub) != NULL),
		    "%s rejects \"%s\"%s%s", fn, show(s, n),
		    whysub ? ": " : "", whysub ? whysub : ""))
			diag("got %s, why \"%s\"", o ? json_object_to_json_string(o) :
			    "NULL", why ? why : "(null)");
	}
	json_object_put(o);
	free(b);
}

#define PJ_OK(jp, s, want) parse_json(jp, 0, s, strlen(s), want, NULL)
#define PJ_BAD(jp, s, why) parse_json(jp, 0, s, strlen(s), NULL, why)
#define PO_OK(jp, s, want) parse_json(jp, 1, s, strlen(s), want, NULL)
#define PO_BAD(jp, s, why) parse_json(jp, 1, s, strlen(s), NULL, why)

static void
number_is(const char *json, int ok, double want)
{
	struct json_object *o = json_tokener_parse(json);
	const char *why = NULL;
	double got = -77;
	int rc = jf_number(o, &got, &why);

	if (ok) {
		if (!check(rc == 0 && got == want, "jf_number %s = %.17g", json,
		    want))
			diag("rc %d, got %.17g", rc, got);
	} else {
		if (!check(rc == -1 && why != NULL && got == -77,
		    "jf_number rejects %s", json))
			diag("rc %d, got %.17g", rc, got);
	}
	json_object_put(o);
}

static void
obj_end_is(const char *s, long want, int want_empty)
{
	size_t n = strlen(s);
	char *b = exact(s, n);
	int empty = -1;
	long got = jf_obj_end(b, n, &empty);

	if (want < 0) {
		if (!check(got == -1, "jf_obj_end \"%s\" = -1", SHOW(s)))
			diag("got %ld", got);
	} else {
		if (!check(got == want && empty == want_empty,
		    "jf_obj_end \"%s\" = %ld, %s", SHOW(s), want,
		    want_empty ? "empty" : "not empty"))
			diag("got %ld, empty %d", got, empty);
	}
	free(b);
}

static void
test_jfield(void)
{
	struct jf_parser jp;
	struct jf_path p;
	struct json_object *root, *o;
	char deep[2 * 40000 + 8];
	const char *why;
	int i;

	section("jf_path_init");
	path_is("price", 1, "price|");
	path_is("window.mean", 2, "window|mean|");
	path_is("a.b.c.d", 4, "a|b|c|d|");
	path_is("with space.x-y", 2, "with space|x-y|");
	path_is("", 0, NULL);
	path_is(NULL, 0, NULL);
	path_is(".", 0, NULL);
	path_is(".a", 0, NULL);
	path_is("a.", 0, NULL);
	path_is("a..b", 0, NULL);
	path_is("..", 0, NULL);

	section("jf_get");
	root = json_tokener_parse("{\"price\":2,\"window\":{\"mean\":1.5,"
	    "\"in\":{\"deep\":\"x\"}},\"s\":\"str\",\"arr\":[{\"a\":1}],"
	    "\"nul\":null,\"dot.ted\":3}");
	jf_path_init(&p, "price");
	o = jf_get(root, &p);
	check(o != NULL && json_object_get_int(o) == 2, "jf_get price");
	jf_path_free(&p);
	jf_path_init(&p, "window.mean");
	o = jf_get(root, &p);
	check(o != NULL && json_object_get_double(o) == 1.5, "jf_get window.mean");
	jf_path_free(&p);
	jf_path_init(&p, "window.in.deep");
	o = jf_get(root, &p);
	check(o != NULL && strcmp(json_object_get_string(o), "x") == 0,
	    "jf_get window.in.deep");
	jf_path_free(&p);
	jf_path_init(&p, "window");
	o = jf_get(root, &p);
	check(o != NULL && json_object_is_type(o, json_type_object),
	    "jf_get window (an object)");
	jf_path_free(&p);
	{
		static const char *const missing[] = { "nope", "window.nope",
		    "price.x", "s.x", "arr.0", "arr.a", "window.mean.x", "nul",
		    "nul.x", "dot.ted", "window.in.deep.more" };
		size_t k;

		for (k = 0; k < sizeof(missing) / sizeof(missing[0]); k++) {
			jf_path_init(&p, missing[k]);
			check(jf_get(root, &p) == NULL, "jf_get %s is NULL",
			    missing[k]);
			jf_path_free(&p);
		}
	}
	jf_path_init(&p, "a");
	check(jf_get(NULL, &p) == NULL, "jf_get on a NULL root is NULL");
	o = json_object_new_int(5);
	check(jf_get(o, &p) == NULL, "jf_get on a number root is NULL");
	json_object_put(o);
	jf_path_free(&p);
	json_object_put(root);

	section("jf_parse");
	if (!check(jf_parser_init(&jp) == 0, "jf_parser_init"))
		return;
	PJ_OK(&jp, "{\"a\":1}", "{\"a\":1}");
	PJ_OK(&jp, "  {\"a\":1}  \t", "{\"a\":1}");
	PJ_OK(&jp, "{\"a\":1}\r", "{\"a\":1}");
	PJ_OK(&jp, "[1,2]", "[1,2]");
	PJ_OK(&jp, "\"x\"", "\"x\"");
	PJ_OK(&jp, "123", "123");
	PJ_OK(&jp, "-1.5", "-1.5");
	PJ_OK(&jp, "0", "0");
	PJ_OK(&jp, "true", "true");
	PJ_OK(&jp, "false", "false");
	PJ_OK(&jp, " 42 ", "42");
	PJ_OK(&jp, "{}", "{}");
	PJ_OK(&jp, "{\"s\":\"NaN\",\"Infinity\":\"-Infinity\"}",
	    "{\"s\":\"NaN\",\"Infinity\":\"-Infinity\"}");
	PJ_OK(&jp, "{\"NaN\":1}", "{\"NaN\":1}");
	PJ_OK(&jp, "{\"e\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
	    "{\"e\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}");
	PJ_OK(&jp, "{\"u\":\"\\u00e9\\ud83d\\ude00\"}",
	    "{\"u\":\"\xc3\xa9\xf0\x9f\x98\x80\"}");
	PJ_OK(&jp, "{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
	    "{\"esc\":\"\\\"\\\\/\\b\\f\\n\\r\\t\"}");
	PJ_OK(&jp, "{\"n\":[1e5,1E+5,-1,0.5e-3]}", "{\"n\":[1e5,1E+5,-1,0.5e-3]}");
	PJ_OK(&jp, "{\"big\":1e999}", "{\"big\":1e999}"); /* valid JSON */
	PJ_OK(&jp, "{\"a\":1,\"a\":2}", "{\"a\":2}");

	PJ_BAD(&jp, "", "empty line");
	PJ_BAD(&jp, "   ", "invalid JSON");
	PJ_BAD(&jp, "null", NULL);    /* no object to return */
	PJ_BAD(&jp, "NaN", "invalid JSON");
	PJ_BAD(&jp, "-Infinity", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":NaN}", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":Infinity}", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":-Infinity}", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":[1,{\"b\":NaN}]}", "invalid JSON");
	PJ_BAD(&jp, "[nan]", "invalid JSON");
	PJ_BAD(&jp, "[inf]", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":1} x", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":1}{\"b\":2}", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":1},", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":1", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":1,}", "invalid JSON");
	PJ_BAD(&jp, "[1,2,]", "invalid JSON");
	PJ_BAD(&jp, "{a:1}", "invalid JSON");
	PJ_BAD(&jp, "{'a':1}", "invalid JSON");
	PJ_BAD(&jp, "{\"a\":'b'}", "invalid JSON");
	PJ_BAD(&jp, "[01]", "invalid JSON");
	PJ_BAD(&jp, "[+1]", "invalid JSON");
	PJ_BAD(&jp, "[.5]", "invalid JSON");
	PJ_BAD(&jp, "[1.]", "invalid JSON");
	PJ_BAD(&jp, "1.", "invalid JSON");
	PJ_BAD(&jp, "[1.e5]", "invalid JSON");
	PJ_BAD(&jp, "[0x10]", "invalid JSON");
	PJ_BAD(&jp, "[tru]", "invalid JSON");
	PJ_BAD(&jp, "[True]", "invalid JSON");
	PJ_BAD(&jp, "[1]/* c */", "invalid JSON");
	PJ_BAD(&jp, "/*c*/[1]", "invalid JSON");
	PJ_BAD(&jp, "[\"a\tb\"]", "invalid JSON");       /* raw control char */
	PJ_BAD(&jp, "[\"a\x01" "b\"]", "invalid JSON");
	PJ_BAD(&jp, "[\"\\x41\"]", "invalid JSON");
	/* invalid UTF-8: a stray byte, a bad continuation, a truncated
	 * sequence, an overlong form, a surrogate, beyond U+10FFFF */
	PJ_BAD(&jp, "\xff", "invalid");
	PJ_BAD(&jp, "{\"a\":\"\xff\"}", "invalid");
	PJ_BAD(&jp, "{\"a\":\"\xc3\x28\"}", "invalid");
	PJ_BAD(&jp, "{\"a\":\"\xe2\x82\"}", "invalid");
	PJ_BAD(&jp, "{\"a\":\"\xc0\xaf\"}", "invalid");
	PJ_BAD(&jp, "{\"a\":\"\xe0\x80\xaf\"}", "invalid");
	PJ_BAD(&jp, "{\"a\":\"\xed\xa0\x80\"}", "invalid");
	PJ_BAD(&jp, "{\"a\":\"\xf4\x90\x80\x80\"}", "invalid");
	PJ_BAD(&jp, "{\"a\":\"\xf8\x88\x80\x80\x80\"}", "invalid");
	PJ_BAD(&jp, "{\"\xff\":1}", "invalid");
	/* NUL bytes are data, not an end */
	parse_json(&jp, 0, "{\"a\":1}\0", 8, NULL, "invalid JSON");
	parse_json(&jp, 0, "{\"a\":\"x\0y\"}", 11, NULL, "invalid JSON");
	/* nesting: 30 levels parse, a very deep line fails cleanly */
	for (i = 0; i < 30; i++) {
		deep[i] = '[';
		deep[30 + i] = ']';
	}
	parse_json(&jp, 0, deep, 60,
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", NULL);
	for (i = 0; i < 40000; i++) {
		deep[i] = '[';
		deep[40000 + i] = ']';
	}
	parse_json(&jp, 0, deep, 80000, NULL, "invalid JSON");
	for (i = 0; i < 40000; i++) {
		memcpy(deep + 2 * i, "{\"", 2);
		deep[80000 - 1 - i] = '}';
	}
	parse_json(&jp, 1, deep, 80000, NULL, "invalid JSON");
	/* the parser is reusable after errors */
	PJ_OK(&jp, "{\"after\":\"errors\"}", "{\"after\":\"errors\"}");

	section("jf_parse_object");
	PO_OK(&jp, "{\"a\":{\"b\":[1,\"x\",null,true]}}",
	    "{\"a\":{\"b\":[1,\"x\",null,true]}}");
	PO_OK(&jp, " { } ", "{}");
	PO_BAD(&jp, "[1]", "not a JSON object");
	PO_BAD(&jp, "\"s\"", "not a JSON object");
	PO_BAD(&jp, "42", "not a JSON object");
	PO_BAD(&jp, "true", "not a JSON object");
	PO_BAD(&jp, "null", "not a JSON object");
	PO_BAD(&jp, "", "empty line");
	PO_BAD(&jp, "{", "invalid JSON");
	PO_BAD(&jp, "}", "invalid JSON");
	PO_BAD(&jp, "{\"price\":NaN}", "invalid JSON");
	PO_BAD(&jp, "{\"price\":1}garbage", "invalid JSON");
	jf_parser_free(&jp);
	jf_parser_free(&jp);

	section("jf_number");
	number_is("1", 1, 1);
	number_is("-2.5", 1, -2.5);
	number_is("61837.63", 1, 61837.63);
	number_is("9007199254740993", 1, 9007199254740992.0);
	number_is("1e308", 1, 1e308);
	number_is("1e999", 0, 0);
	number_is("-1e999", 0, 0);
	number_is("\"1\"", 0, 0);
	number_is("true", 0, 0);
	number_is("[1]", 0, 0);
	number_is("{}", 0, 0);
	why = NULL;
	{
		double v = -77;

		check(jf_number(NULL, &v, &why) == -1 && why != NULL && v == -77,
		    "jf_number rejects a missing value (NULL)");
	}

	section("jf_obj_end");
	obj_end_is("{}", 1, 1);
	obj_end_is("{ }", 2, 1);
	obj_end_is("{\t}", 2, 1);
	obj_end_is("{}  ", 1, 1);
	obj_end_is("{}\r", 1, 1);
	obj_end_is("{\"a\":1}", 6, 0);
	obj_end_is("{\"a\":1}   \t", 6, 0);
	obj_end_is("{\"a\":1 }", 7, 0);
	obj_end_is("{\"a\":{}}", 7, 0);
	obj_end_is("{\"a\":{ }}", 8, 0);
	obj_end_is("{\"a\":\"}\"}", 8, 0);
	obj_end_is("{\"a\":\"{\"}", 8, 0);
	obj_end_is("{\"a\":\"{}\"}", 9, 0);
	obj_end_is("{\"a\":[{}]}", 9, 0);
	obj_end_is("{\"a\":null}", 9, 0);
	obj_end_is("", -1, 0);
	obj_end_is("   ", -1, 0);
	obj_end_is("[1]", -1, 0);
	obj_end_is("{\"a\":1", -1, 0);
	obj_end_is("{\"a\":1} x", -1, 0);
}

/* ---- ndjson reader ---- */

struct ev {
	int rc;                 /* ND_LINE, ND_TOOLONG, ND_EOF, ... */
	const char *line;       /* ND_LINE: the line (NULL: len 'x's) */
	size_t len;
	unsigned long long lineno;
};

static const char *
rc_name(int rc)
{
	switch (rc) {
	case ND_LINE: return "LINE";
	case ND_EOF: return "EOF";
	case ND_TIMEOUT: return "TIMEOUT";
	case ND_TOOLONG: return "TOOLONG";
	case ND_ERROR: return "ERROR";
	case ND_INTR: return "INTR";
	case ND_EPIPE: return "EPIPE";
	default: return "?";
	}
}

/* True when line[0..len) is len 'x' characters. */
static int
all_x(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != 'x')
			return 0;
	return 1;
}

/*
 * Writes in[0..inlen) to a file, reads it back through a reader with
 * max_line and a reject (dead letter in a file), and compares each result
 * with want[] (ending with ND_EOF).  want_dead: the dead letter's expected
 * content (length dead_len), NULL for empty.  want_err: a substring of
 * stderr, or NULL for none expected.
 */
static void
reader_case(const char *name, const char *in, size_t inlen, size_t max,
    const struct ev *want, size_t nwant, const char *want_dead,
    size_t dead_len, unsigned long long want_count, const char *want_err)
{
	char path[4200], dpath[4200];
	struct nd_reject rej;
	struct nd_reader *r = NULL;
	size_t i, got_len = 0;
	char *dead = NULL, *err;
	int fd = -1, ok = 1, rc = ND_EOF;

	tmp_path(path, sizeof(path), "reader.in");
	tmp_path(dpath, sizeof(dpath), "reader.dead");
	unlink(dpath);
	if (spit(path, in, inlen) != 0 || (fd = open(path, O_RDONLY)) < 0 ||
	    nd_reject_init(&rej, dpath, 0) != 0) {
		check(0, "%s: set-up", name);
		if (fd >= 0)
			close(fd);
		return;
	}
	r = nd_reader_new(fd, "<t>", max);
	nd_reader_set_reject(r, &rej);
	cap_begin();
	for (i = 0; i < nwant && ok; i++) {
		char *line = NULL;
		size_t len = 0;

		rc = nd_next(r, &line, &len, -1);
		if (rc != want[i].rc) {
			ok = 0;
		} else if (rc == ND_LINE) {
			if (len != want[i].len || line[len] != '\0' ||
			    (want[i].line ? memcmp(line, want[i].line, len) != 0 :
			    !all_x(line, len)))
				ok = 0;
		}
		if (ok && rc != ND_EOF && nd_lineno(r) != want[i].lineno)
			ok = 0;
		if (!ok) {
			printf("#   event %zu: want %s len %zu line %llu, got %s "
			    "len %zu line %llu%s%s\n", i, rc_name(want[i].rc),
			    want[i].len, want[i].lineno, rc_name(rc), len,
			    nd_lineno(r), rc == ND_LINE ? ": " : "",
			    rc == ND_LINE ? show(line, len) : "");
		}
	}
	/* EOF is sticky */
	if (ok) {
		char *line;
		size_t len;

		rc = nd_next(r, &line, &len, -1);
		if (rc != ND_EOF) {
			ok = 0;
			diag("after EOF: %s", rc_name(rc));
		}
	}
	err = cap_end();
	check(ok, "nd_reader %s: lines, results and line numbers", name);
	check(rej.count == want_count, "nd_reader %s: %llu rejected", name,
	    want_count) || (diag("count %llu", rej.count), 0);
	check(nd_reject_close(&rej) == 0, "nd_reader %s: dead letter closed",
	    name);
	dead = slurp(dpath, &got_len);
	if (want_dead == NULL) {
		check(dead != NULL && got_len == 0, "nd_reader %s: dead letter empty",
		    name) || (diag("%zu bytes", got_len), 0);
	} else {
		if (!check(dead != NULL && got_len == dead_len &&
		    memcmp(dead, want_dead, dead_len) == 0,
		    "nd_reader %s: dead letter holds the whole over-long lines", name))
			diag("%zu bytes, want %zu: %s", got_len, dead_len,
			    dead ? show(dead, got_len) : "(none)");
	}
	if (want_err == NULL)
		check(*err == '\0', "nd_reader %s: nothing on stderr", name) ||
		    (diag("%s", err), 0);
	else
		check(strstr(err, want_err) != NULL, "nd_reader %s: stderr says "
		    "\"%s\"", name, want_err) || (diag("stderr: %s", err), 0);
	free(err);
	free(dead);
	nd_reader_free(r);
	close(fd);
	unlink(path);
	unlink(dpath);
}

static int stalls;

static void
count_stall(void *arg)
{
	(void)arg;
	stalls++;
}

static void
test_reader(void)
{
	section("nd_reader");
	{
		static const char in[] = "{\"a\":1}\nsecond\r\n\n\r\nlast";
		static const struct ev want[] = {
			{ ND_LINE, "{\"a\":1}", 7, 1 },
			{ ND_LINE, "second", 6, 2 },
			{ ND_LINE, "", 0, 3 },
			{ ND_LINE, "", 0, 4 },
			{ ND_LINE, "last", 4, 5 },
			{ ND_EOF, NULL, 0, 5 },
		};

		reader_case("lines, CRLF, empty lines, final line without newline",
		    in, sizeof(in) - 1, 0, want, 6, NULL, 0, 0, NULL);
	}
	{
		static const char in[] = "a\nb\n";
		static const struct ev want[] = {
			{ ND_LINE, "a", 1, 1 },
			{ ND_LINE, "b", 1, 2 },
			{ ND_EOF, NULL, 0, 2 },
		};

		reader_case("final newline gives no extra line", in,
		    sizeof(in) - 1, 0, want, 3, NULL, 0, 0, NULL);
	}
	{
		static const struct ev want[] = { { ND_EOF, NULL, 0, 0 } };

		reader_case("empty input", "", 0, 0, want, 1, NULL, 0, 0, NULL);
	}
	{
		static const char in[] = "\n";
		static const struct ev want[] = {
			{ ND_LINE, "", 0, 1 },
			{ ND_EOF, NULL, 0, 1 },
		};

		reader_case("one empty line", in, 1, 0, want, 2, NULL, 0, 0, NULL);
	}
	{
		static const char in[] = "a\rb\nc\r\r\nlast\r";
		static const struct ev want[] = {
			{ ND_LINE, "a\rb", 3, 1 },
			{ ND_LINE, "c\r", 2, 2 },
			{ ND_LINE, "last", 4, 3 },
			{ ND_EOF, NULL, 0, 3 },
		};

		reader_case("a lone CR is data; only the CR of CRLF goes", in,
		    sizeof(in) - 1, 0, want, 4, NULL, 0, 0, NULL);
	}
	{
		static const char in[] = "a\0b\n\0\n";
		static const struct ev want[] = {
			{ ND_LINE, "a\0b", 3, 1 },
			{ ND_LINE, "\0", 1, 2 },
			{ ND_EOF, NULL, 0, 2 },
		};

		reader_case("NUL bytes are kept", in, sizeof(in) - 1, 0, want, 3,
		    NULL, 0, 0, NULL);
	}
	/* max_line 10 (under the 4 KiB buffer): exactly 10 is a line, 11 is
	 * not; the line after keeps its number */
	{
		static const char in[] = "0123456789\n0123456789A\nnext\n"
		    "0123456789\r\n0123456789AB\r\n0123456789\ry\n"
		    "end0123456789";
		static const char dead[] = "0123456789A\n0123456789AB\n"
		    "0123456789\ry\nend0123456789\n";
		static const struct ev want[] = {
			{ ND_LINE, "0123456789", 10, 1 },
			{ ND_TOOLONG, NULL, 0, 2 },
			{ ND_LINE, "next", 4, 3 },
			{ ND_LINE, "0123456789", 10, 4 },
			{ ND_TOOLONG, NULL, 0, 5 },
			{ ND_TOOLONG, NULL, 0, 6 },
			{ ND_TOOLONG, NULL, 0, 7 },
			{ ND_EOF, NULL, 0, 7 },
		};

		reader_case("max_line 10 (CRLF: the CR is not counted, nor "
		    "dead-lettered)", in, sizeof(in) - 1, 10, want, 8, dead,
		    sizeof(dead) - 1, 4, "<t>:2: line longer than 10 bytes");
	}
	/* max_line 10, a 10000-byte line: longer than the buffer, streamed
	 * into the dead letter across reads */
	{
		size_t n = 10000, i;
		char *in = malloc(n + 32), *dead = malloc(n + 2);
		static const struct ev want[] = {
			{ ND_LINE, "ok", 2, 1 },
			{ ND_TOOLONG, NULL, 0, 2 },
			{ ND_LINE, "after", 5, 3 },
			{ ND_EOF, NULL, 0, 3 },
		};

		memcpy(in, "ok\n", 3);
		for (i = 0; i < n; i++)
			in[3 + i] = dead[i] = (char)('a' + i % 26);
		dead[n] = '\n';
		memcpy(in + 3 + n, "\r\nafter\n", 8);
		reader_case("max_line 10, a 10000-byte CRLF line", in, n + 11, 10,
		    want, 4, dead, n + 1, 1, "<t>:2: line longer than 10 bytes");
		free(in);
		free(dead);
	}
	/* max_line 100000: the buffer grows to exactly max_line + 1 */
	{
		size_t max = 100000, off = 0;
		char *in = malloc(4 * max + 150064);
		char *dead = malloc(max + 2 + 150001);
		static const struct ev want[] = {
			{ ND_LINE, NULL, 100000, 1 },
			{ ND_TOOLONG, NULL, 0, 2 },
			{ ND_LINE, "after", 5, 3 },
			{ ND_LINE, NULL, 99999, 4 },
			{ ND_LINE, NULL, 100000, 5 },
			{ ND_TOOLONG, NULL, 0, 6 },
			{ ND_EOF, NULL, 0, 6 },
		};

		memset(in, 'x', max);
		off = max;
		in[off++] = '\n';
		memset(in + off, 'y', max + 1);
		off += max + 1;
		in[off++] = '\n';
		memcpy(in + off, "after\n", 6);
		off += 6;
		memset(in + off, 'x', max - 1);
		off += max - 1;
		in[off++] = '\n';
		memset(in + off, 'x', max);
		off += max;
		in[off++] = '\r';
		in[off++] = '\n';
		memset(in + off, 'z', 150000);
		off += 150000;
		memset(dead, 'y', max + 1);
		dead[max + 1] = '\n';
		memset(dead + max + 2, 'z', 150000);
		dead[max + 2 + 150000] = '\n';
		reader_case("max_line 100000, at and over it, CRLF at it, "
		    "over-long last line", in, off, max, want, 7, dead,
		    max + 2 + 150001, 2, "<t>:6: line longer than 100000 bytes");
		free(in);
		free(dead);
	}
	/* the default maximum */
	{
		size_t max = ND_MAX_LINE_DEFAULT;
		char *in = malloc(2 * max + 64);
		char *dead = malloc(max + 8);
		size_t off = 0;
		static const struct ev want[] = {
			{ ND_LINE, NULL, ND_MAX_LINE_DEFAULT, 1 },
			{ ND_TOOLONG, NULL, 0, 2 },
			{ ND_LINE, "z", 1, 3 },
			{ ND_EOF, NULL, 0, 3 },
		};

		memset(in, 'x', max);
		off = max;
		in[off++] = '\n';
		memset(in + off, 'x', max + 1);
		memset(dead, 'x', max + 1);
		dead[max + 1] = '\n';
		off += max + 1;
		memcpy(in + off, "\nz\n", 3);
		off += 3;
		reader_case("default max_line (0)", in, off, 0, want, 4, dead,
		    max + 2, 1, "line longer than 1052672 bytes");
		free(in);
		free(dead);
	}

	section("nd_reader on a pipe: timeouts and the stall hook");
	{
		int p[2];
		struct nd_reader *r;
		char *line = NULL;
		size_t len = 0;
		int rc;

		if (!check(pipe(p) == 0, "pipe"))
			return;
		r = nd_reader_new(p[0], "<pipe>", 0);
		stalls = 0;
		nd_reader_on_stall(r, count_stall, NULL);
		rc = nd_next(r, &line, &len, 0);
		check(rc == ND_TIMEOUT, "no data, timeout 0: ND_TIMEOUT") ||
		    (diag("got %s", rc_name(rc)), 0);
		check(stalls == 1, "the stall hook ran once before waiting") ||
		    (diag("stalls %d", stalls), 0);
		rc = nd_next(r, &line, &len, 20);
		check(rc == ND_TIMEOUT && stalls == 2,
		    "no data, timeout 20 ms: ND_TIMEOUT after the stall hook");
		if (write(p[1], "abc", 3) != 3)
			diag("write failed");
		rc = nd_next(r, &line, &len, 0);
		check(rc == ND_TIMEOUT, "a partial line is not a line yet") ||
		    (diag("got %s", rc_name(rc)), 0);
		if (write(p[1], "def\nghi", 7) != 7)
			diag("write failed");
		stalls = 0;
		rc = nd_next(r, &line, &len, 0);
		check(rc == ND_LINE && len == 6 && strcmp(line, "abcdef") == 0 &&
		    nd_lineno(r) == 1, "the line completed by a later write") ||
		    (diag("got %s %s", rc_name(rc), rc == ND_LINE ? line : ""), 0);
		check(stalls == 0, "no stall while data is ready");
		rc = nd_next(r, &line, &len, 0);
		check(rc == ND_TIMEOUT && stalls == 1,
		    "\"ghi\" without newline on an open pipe: ND_TIMEOUT");
		close(p[1]);
		rc = nd_next(r, &line, &len, 0);
		check(rc == ND_LINE && strcmp(line, "ghi") == 0 &&
		    nd_lineno(r) == 2, "after the writer closes, the final line") ||
		    (diag("got %s", rc_name(rc)), 0);
		rc = nd_next(r, &line, &len, 0);
		check(rc == ND_EOF, "then ND_EOF") ||
		    (diag("got %s", rc_name(rc)), 0);
		check(strcmp(nd_name(r), "<pipe>") == 0, "nd_name");
		nd_reader_free(r);
		close(p[0]);
	}
	{
		int p[2];
		struct nd_reader *r;
		char *line = NULL;
		size_t len = 0;
		int rc;

		if (pipe(p) != 0)
			return;
		r = nd_reader_new(p[0], "<pipe>", 0);
		rc = nd_next(r, &line, &len, 0);
		check(rc == ND_TIMEOUT, "without a stall hook, timeout 0: "
		    "ND_TIMEOUT");
		rc = nd_next(r, &line, &len, 10);
		check(rc == ND_TIMEOUT, "without a stall hook, timeout 10 ms: "
		    "ND_TIMEOUT");
		close(p[1]);
		rc = nd_next(r, &line, &len, -1);
		check(rc == ND_EOF, "closed empty pipe: ND_EOF");
		nd_reader_free(r);
		close(p[0]);
	}
	{
		/* an over-long CRLF line arriving in pieces: a CR at the end
		 * of a piece is held back until the next byte tells */
		int p[2];
		struct nd_reader *r;
		struct nd_reject rej;
		char dpath[4200], *line = NULL, *err, *dead;
		size_t len = 0;
		int rc[8], k = 0;

		tmp_path(dpath, sizeof(dpath), "pieces.dead");
		if (pipe(p) != 0 || nd_reject_init(&rej, dpath, 0) != 0)
			return;
		r = nd_reader_new(p[0], "<pipe>", 10);
		nd_reader_set_reject(r, &rej);
		cap_begin();
		if (write(p[1], "0123456789ABC\r", 14) != 14)
			diag("write failed");
		rc[k++] = nd_next(r, &line, &len, 0);   /* TIMEOUT */
		if (write(p[1], "\n0123456789DEF\r", 15) != 15)
			diag("write failed");
		rc[k++] = nd_next(r, &line, &len, 0);   /* TOOLONG */
		rc[k++] = nd_next(r, &line, &len, 0);   /* TIMEOUT */
		if (write(p[1], "more\n0123456789GHI\r", 19) != 19)
			diag("write failed");
		rc[k++] = nd_next(r, &line, &len, 0);   /* TOOLONG */
		rc[k++] = nd_next(r, &line, &len, 0);   /* TIMEOUT */
		close(p[1]);
		rc[k++] = nd_next(r, &line, &len, 0);   /* TOOLONG */
		rc[k++] = nd_next(r, &line, &len, 0);   /* EOF */
		err = cap_end();
		check(rc[0] == ND_TIMEOUT && rc[1] == ND_TOOLONG &&
		    rc[2] == ND_TIMEOUT && rc[3] == ND_TOOLONG &&
		    rc[4] == ND_TIMEOUT && rc[5] == ND_TOOLONG && rc[6] == ND_EOF &&
		    nd_lineno(r) == 3 && rej.count == 3,
		    "over-long lines in pieces: TOOLONG each, no phantom line") ||
		    (diag("%s %s %s %s %s %s %s, line %llu", rc_name(rc[0]),
		    rc_name(rc[1]), rc_name(rc[2]), rc_name(rc[3]),
		    rc_name(rc[4]), rc_name(rc[5]), rc_name(rc[6]),
		    nd_lineno(r)), 0);
		nd_reject_close(&rej);
		dead = slurp(dpath, &len);
		check(dead != NULL && strcmp(dead, "0123456789ABC\n"
		    "0123456789DEF\rmore\n0123456789GHI\n") == 0,
		    "over-long lines in pieces: dead letter without the CRs of "
		    "CRLF, with a CR inside a line") ||
		    (diag("got %s", dead ? show(dead, len) : "(none)"), 0);
		free(dead);
		free(err);
		unlink(dpath);
		nd_reader_free(r);
		close(p[0]);
	}
	{
		/* a reader without a reject: over-long lines are still
		 * reported (message) and skipped */
		int p[2];
		struct nd_reader *r;
		char *line = NULL, *err;
		size_t len = 0;
		int rc1, rc2, rc3;

		if (pipe(p) != 0)
			return;
		if (write(p[1], "toolong\nok\n", 11) != 11)
			diag("write failed");
		close(p[1]);
		r = nd_reader_new(p[0], "<stdin>", 4);
		msg_verbosity = 0;
		cap_begin();
		rc1 = nd_next(r, &line, &len, -1);
		rc2 = nd_next(r, &line, &len, -1);
		rc3 = nd_next(r, &line, &len, -1);
		err = cap_end();
		msg_verbosity = 1;
		check(rc1 == ND_TOOLONG && rc2 == ND_LINE &&
		    strcmp(line, "ok") == 0 && nd_lineno(r) == 2 && rc3 == ND_EOF,
		    "no reject: TOOLONG, then the next line as line 2");
		check(strstr(err, "<stdin>:1: line longer than 4 bytes") != NULL,
		    "no reject: the over-long line is reported even with -q") ||
		    (diag("stderr: %s", err), 0);
		free(err);
		nd_reader_free(r);
		close(p[0]);
	}
	{
		/* with a reject and -q, the over-long line is counted quietly */
		static const char in[] = "toolong\nok\n";
		static const struct ev want[] = {
			{ ND_TOOLONG, NULL, 0, 1 },
			{ ND_LINE, "ok", 2, 2 },
			{ ND_EOF, NULL, 0, 2 },
		};

		msg_verbosity = 0;
		reader_case("-q, max_line 4", in, sizeof(in) - 1, 4, want, 3,
		    "toolong\n", 8, 1, NULL);
		msg_verbosity = 1;
	}
}

/* ---- ndjson writer ---- */

static char *
writer_file(const char *name, int *fd)
{
	static char path[4200];

	tmp_path(path, sizeof(path), name);
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	return path;
}

static void
jstr_is(const char *in, size_t n, const char *want)
{
	struct nd_writer *w;
	char *path, *got, *b = exact(in, n);
	size_t len = 0;
	int fd;

	path = writer_file("jstr", &fd);
	w = nd_writer_new(fd);
	buf_jstr(nd_buf(w), b, n);
	nd_end(w);
	nd_writer_close(w);
	nd_writer_free(w);
	got = slurp(path, &len);
	if (!check(got != NULL && len == strlen(want) + 1 &&
	    memcmp(got, want, len - 1) == 0 && got[len - 1] == '\n',
	    "buf_jstr \"%s\" = %s", show(in, n), show(want, strlen(want))))
		diag("got %s", got ? show(got, len) : "(none)");
	/* and json-c reads back the same bytes */
	if (got != NULL) {
		struct json_object *o = json_tokener_parse(got);

		check(o != NULL && json_object_is_type(o, json_type_string) &&
		    (size_t)json_object_get_string_len(o) == n &&
		    memcmp(json_object_get_string(o), in, n) == 0,
		    "buf_jstr \"%s\" reads back as the input", show(in, n));
		json_object_put(o);
	}
	free(got);
	free(b);
	unlink(path);
}

static char dbl_out[64];

/* buf_double(v) as written (no newline), into dbl_out. */
static const char *
dbl(double v)
{
	struct nd_writer *w;
	char *path, *got;
	size_t len = 0;
	int fd;

	path = writer_file("dbl", &fd);
	w = nd_writer_new(fd);
	buf_double(nd_buf(w), v);
	nd_end(w);
	nd_writer_close(w);
	nd_writer_free(w);
	got = slurp(path, &len);
	dbl_out[0] = '\0';
	if (got != NULL && len > 0 && len < sizeof(dbl_out)) {
		memcpy(dbl_out, got, len - 1);
		dbl_out[len - 1] = '\0';
	}
	free(got);
	unlink(path);
	return dbl_out;
}

static void
dbl_is(double v, const char *want)
{
	const char *got = dbl(v);

	if (!check(strcmp(got, want) == 0, "buf_double %.17g = %s", v,
	    want))
		diag("got %s", got);
}

static void
test_writer(void)
{
	struct nd_writer *w;
	char *path, *got, *err;
	size_t len = 0, i;
	int fd, rc, bad;

	section("nd_writer: whole records");
	path = writer_file("w1", &fd);
	w = nd_writer_new(fd);
	buf_lit(nd_buf(w), "{\"a\":");
	rc = nd_flush(w);
	got = slurp(path, &len);
	check(rc == 0 && got != NULL && len == 0,
	    "a record under construction is not written by nd_flush");
	free(got);
	buf_lit(nd_buf(w), "1}");
	nd_end(w);
	buf_add(nd_buf(w), "{\"partial\"", 10);
	nd_flush(w);
	got = slurp(path, &len);
	check(got != NULL && len == 8 && memcmp(got, "{\"a\":1}\n", 8) == 0,
	    "nd_flush writes the complete records only") ||
	    (diag("got %s", got ? show(got, len) : "(none)"), 0);
	free(got);
	nd_discard(w);
	nd_put(w, "{\"b\":2}", 7);
	buf_printf(nd_buf(w), "{\"n\":%d,\"s\":\"%s\"}", 42, "x");
	nd_end(w);
	buf_lit(nd_buf(w), "{\"dropped\":");
	rc = nd_writer_close(w);
	check(rc == 0 && nd_writer_status(w) == 0, "nd_writer_close returns 0");
	nd_writer_free(w);
	got = slurp(path, &len);
	check(got != NULL && strcmp(got, "{\"a\":1}\n{\"b\":2}\n"
	    "{\"n\":42,\"s\":\"x\"}\n") == 0,
	    "nd_discard drops the partial record; close writes the rest, "
	    "not the unfinished one") ||
	    (diag("got %s", got ? show(got, len) : "(none)"), 0);
	free(got);
	unlink(path);

	/* a pipe grows to 1 MiB where the system allows it */
	{
		int pfd[2], max = 0;
		FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");

		if (f != NULL && fscanf(f, "%d", &max) != 1)
			max = 0;
		if (f != NULL)
			fclose(f);
		if (pipe(pfd) == 0) {
			w = nd_writer_new(pfd[1]);
			if (max >= 1024 * 1024 && geteuid() == 0)
				check(fcntl(pfd[1], F_GETPIPE_SZ) == 1024 * 1024,
				    "nd_writer_new grows a pipe to 1 MiB");
			else
				diag("pipe growth not checked: not root, or "
				    "pipe-max-size %d", max);
			nd_writer_free(w);
			close(pfd[0]);
			close(pfd[1]);
		}
	}

	/* many records: whatever was written so far is whole records */
	path = writer_file("w2", &fd);
	w = nd_writer_new(fd);
	bad = 0;
	for (i = 0; i < 3000; i++) {
		char rec[101];

		memset(rec, 'r', 100);
		rec[0] = '"';
		rec[99] = '"';
		nd_put(w, rec, 100);
		if (i % 500 == 499) {
			struct stat st;

			if (stat(path, &st) != 0 || st.st_size % 101 != 0)
				bad++;
		}
	}
	{
		struct stat st;

		check(bad == 0 && stat(path, &st) == 0 && st.st_size > 0 &&
		    st.st_size % 101 == 0 && st.st_size < 3000 * 101,
		    "the writer flushes by itself, whole records only");
	}
	/* a single record larger than the flush size */
	{
		size_t big = 300000;
		char *rec = malloc(big);

		memset(rec, 'B', big);
		nd_put(w, rec, big);
		free(rec);
	}
	check(nd_writer_close(w) == 0, "close after a 300000-byte record");
	nd_writer_free(w);
	got = slurp(path, &len);
	check(got != NULL && len == 3000 * 101 + 300001 &&
	    got[len - 1] == '\n' && got[len - 2] == 'B' &&
	    got[3000 * 101 - 1] == '\n', "all 3001 records written");
	free(got);
	unlink(path);

	section("nd_append_jstr");
	jstr_is("plain", 5, "\"plain\"");
	jstr_is("", 0, "\"\"");
	jstr_is("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"");
	jstr_is("\n\r\t", 3, "\"\\n\\r\\t\"");
	jstr_is("\x01\x1f\x08\x0c", 4, "\"\\u0001\\u001f\\u0008\\u000c\"");
	jstr_is("a\0b", 3, "\"a\\u0000b\"");
	jstr_is("\x7f", 1, "\"\x7f\"");
	jstr_is("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
	    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	{
		/* every control character, each escaped */
		char in[32], want[32 * 6 + 3];
		size_t o = 0;

		want[o++] = '"';
		for (i = 0; i < 32; i++) {
			in[i] = (char)i;
			if (i == '\n')
				o += (size_t)snprintf(want + o, 7, "\\n");
			else if (i == '\r')
				o += (size_t)snprintf(want + o, 7, "\\r");
			else if (i == '\t')
				o += (size_t)snprintf(want + o, 7, "\\t");
			else
				o += (size_t)snprintf(want + o, 7, "\\u%04zx", i);
		}
		want[o++] = '"';
		want[o] = '\0';
		jstr_is(in, 32, want);
	}

	section("nd_append_double");
	dbl_is(0.0, "0");
	dbl_is(-0.0, "-0");
	dbl_is(1.0, "1");
	dbl_is(100.0, "100");
	dbl_is(0.1, "0.1");
	dbl_is(61837.63, "61837.63");
	dbl_is(1.0 / 3.0, "0.3333333333333333");
	dbl_is(0.1 + 0.2, "0.30000000000000004");
	dbl_is(2.0 / 3.0, "0.6666666666666666");
	dbl_is(1e21, "1e+21");
	dbl_is(1.5e-7, "1.5e-07");
	dbl_is(-2.5, "-2.5");
	dbl_is(9007199254740993.0, "9007199254740992");
	dbl_is(DBL_MAX, "1.7976931348623157e+308");
	dbl_is(-DBL_MAX, "-1.7976931348623157e+308");
	dbl_is(NAN, "null");
	dbl_is(-NAN, "null");
	dbl_is(INFINITY, "null");
	dbl_is(-INFINITY, "null");
	{
		/* random doubles: valid JSON that reads back exactly, in the
		 * shortest of the three precisions */
		uint64_t x = 88172645463325252ULL;
		int n = 0;

		bad = 0;
		for (i = 0; i < 3000; i++) {
			double v;
			char ref[64];
			struct json_object *o;
			const char *s;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (i < 1000) {
				memcpy(&v, &x, sizeof(v));
				if (!isfinite(v))
					continue;
			} else if (i < 2000) {
				v = (double)(x % 100000000) / 100.0;
			} else {
				v = ldexp((double)(x >> 11), -(int)(x % 200)) *
				    ((x & 1) ? -1 : 1);
			}
			s = dbl(v);
			/* the shortest of %.15g, %.16g, %.17g that reads back */
			snprintf(ref, sizeof(ref), "%.15g", v);
			if (strtod(ref, NULL) != v)
				snprintf(ref, sizeof(ref), "%.16g", v);
			if (strtod(ref, NULL) != v)
				snprintf(ref, sizeof(ref), "%.17g", v);
			o = json_tokener_parse(s);
			if (o == NULL || strtod(s, NULL) != v ||
			    strcmp(s, ref) != 0 || json_object_get_double(o) != v) {
				if (bad++ < 3)
					diag("%.17g -> %s", v, s);
			}
			json_object_put(o);
			n++;
		}
		check(bad == 0, "buf_double round trip of %d doubles", n);
	}

	section("nd_writer: EPIPE and errors");
	{
		int p[2];
		struct sigaction sa, old;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, &old);
		if (pipe(p) == 0) {
			close(p[0]);
			w = nd_writer_new(p[1]);
			cap_begin();
			nd_put(w, "{\"a\":1}", 7);
			rc = nd_flush(w);
			check(rc == ND_EPIPE, "write to a closed pipe: ND_EPIPE") ||
			    (diag("got %s", rc_name(rc)), 0);
			check(nd_writer_status(w) == ND_EPIPE,
			    "nd_writer_status is ND_EPIPE (sticky)");
			rc = nd_put(w, "{\"b\":2}", 7);
			check(rc == ND_EPIPE, "nd_put after EPIPE returns ND_EPIPE");
			rc = nd_writer_close(w);
			err = cap_end();
			check(rc == ND_EPIPE, "nd_writer_close returns ND_EPIPE");
			check(*err == '\0', "EPIPE is not an error message") ||
			    (diag("stderr: %s", err), 0);
			free(err);
			nd_writer_free(w);
		}
		fd = open("/dev/full", O_WRONLY);
		if (fd >= 0) {
			w = nd_writer_new(fd);
			cap_begin();
			nd_put(w, "{\"a\":1}", 7);
			rc = nd_writer_close(w);
			err = cap_end();
			check(rc == ND_ERROR, "write to /dev/full: ND_ERROR") ||
			    (diag("got %s", rc_name(rc)), 0);
			check(strstr(err, "write error") != NULL,
			    "and a message says so") ||
			    (diag("stderr: %s", err), 0);
			free(err);
			nd_writer_free(w);
		}
		sigaction(SIGPIPE, &old, NULL);
	}
	nd_writer_free(NULL);
	nd_reader_free(NULL);
	check(1, "nd_writer_free(NULL) and nd_reader_free(NULL) are no-ops");
}

/* ---- bad input, control lines ---- */

/* The flood limit: 10 in full per reason, reasons that differ only in
 * their numbers are one, then a count at close. */
static void
test_reject_flood(void)
{
	struct nd_reject rej;
	char *err, want[4096];
	size_t n = 0;
	int i, shown = 0;

	section("nd_reject flood limit");
	nd_reject_init(&rej, NULL, 0);
	cap_begin();
	for (i = 0; i < 15; i++)
		if (nd_reject_shown(&rej, "undeliverable", i % 2 ?
		    "Operation timed out after 10001 milliseconds" :
		    "Operation timed out after 9 milliseconds"))
			shown++;
	nd_reject_close(&rej);
	err = cap_end();
	check(shown == 10, "the first 10 of a reason are shown") ||
	    (diag("shown: %d", shown), 0);
	n += (size_t)snprintf(want + n, sizeof(want) - n, "common_test: more "
	    "lines undeliverable for this reason are counted, not shown (-v "
	    "shows each): Operation timed out after 9 milliseconds\n");
	snprintf(want + n, sizeof(want) - n, "common_test: 5 more lines "
	    "undeliverable: Operation timed out after 9 milliseconds\n");
	check(strcmp(err, want) == 0, "numbers do not make another reason; "
	    "the note, then the count at close") || (diag("stderr: %s", err), 0);
	free(err);

	nd_reject_init(&rej, NULL, 0);
	msg_verbosity = 2;
	cap_begin();
	for (i = shown = 0; i < 15; i++)
		shown += nd_reject_shown(&rej, "rejected", "bad");
	nd_reject_close(&rej);
	err = cap_end();
	msg_verbosity = 1;
	check(shown == 15 && *err == '\0', "-v: every one shown, no count");
	free(err);
}

static void
test_reject(void)
{
	struct nd_reject rej;
	char dpath[4200], *err, *dead;
	size_t len = 0;
	int rc1, rc2;

	section("nd_reject");
	tmp_path(dpath, sizeof(dpath), "dead.ndjson");
	spit(dpath, "earlier\n", 8);
	check(nd_reject_init(&rej, dpath, 0) == 0, "nd_reject_init with a file");
	cap_begin();
	rc1 = nd_reject(&rej, "<stdin>", 42, "{\"bad\"", 6, "invalid JSON: %s",
	    "unexpected end of line");
	rc2 = nd_reject_at(&rej, "shardId-000000000001:4960123", "a\0b", 3,
	    "not a JSON object");
	err = cap_end();
	check(rc1 == 0 && rc2 == 0, "nd_reject goes on when not strict");
	check(rej.count == 2, "two lines counted");
	check(strcmp(err, "common_test: <stdin>:42: invalid JSON: unexpected "
	    "end of line\ncommon_test: shardId-000000000001:4960123: not a "
	    "JSON object\n") == 0, "message \"prog: SRC:LINE: reason\"") ||
	    (diag("stderr: %s", err), 0);
	free(err);
	check(nd_reject_close(&rej) == 0, "nd_reject_close");
	dead = slurp(dpath, &len);
	check(dead != NULL && len == 8 + 7 + 4 &&
	    memcmp(dead, "earlier\n{\"bad\"\na\0b\n", len) == 0,
	    "the dead letter is appended to, verbatim, a newline each") ||
	    (diag("got %s", dead ? show(dead, len) : "(none)"), 0);
	free(dead);
	check(nd_reject_close(&rej) == 0, "nd_reject_close twice is harmless");

	/* -q: counted and dead-lettered, not reported */
	unlink(dpath);
	nd_reject_init(&rej, dpath, 0);
	msg_verbosity = 0;
	cap_begin();
	rc1 = nd_reject(&rej, "<stdin>", 1, "x", 1, "bad");
	err = cap_end();
	msg_verbosity = 1;
	check(rc1 == 0 && rej.count == 1 && *err == '\0',
	    "with -q: counted, nothing on stderr");
	free(err);
	nd_reject_close(&rej);
	dead = slurp(dpath, &len);
	check(dead != NULL && strcmp(dead, "x\n") == 0, "with -q: dead-lettered");
	free(dead);
	unlink(dpath);

	/* --strict: stop, and say why even with -q */
	nd_reject_init(&rej, NULL, 1);
	msg_verbosity = 0;
	cap_begin();
	rc1 = nd_reject(&rej, "<stdin>", 7, "x", 1, "not a JSON object");
	err = cap_end();
	msg_verbosity = 1;
	check(rc1 == -1 && rej.count == 1, "strict: nd_reject returns -1");
	check(strcmp(err, "common_test: <stdin>:7: not a JSON object\n") == 0,
	    "strict: reported even with -q") || (diag("stderr: %s", err), 0);
	free(err);
	check(nd_reject_close(&rej) == 0, "nd_reject_close without a file");

	/* dead letter failures */
	cap_begin();
	rc1 = nd_reject_init(&rej, "/nonexistent-dir/dead", 0);
	err = cap_end();
	check(rc1 == -1 && strstr(err, "/nonexistent-dir/dead") != NULL,
	    "nd_reject_init on a path that cannot be opened: -1 and why");
	free(err);
	if (access("/dev/full", W_OK) == 0) {
		char *big = malloc(100000);

		memset(big, 'x', 100000);
		check(nd_reject_init(&rej, "/dev/full", 0) == 0,
		    "nd_reject_init /dev/full");
		cap_begin();
		rc1 = nd_reject(&rej, "<stdin>", 1, big, 100000, "bad");
		rc2 = nd_reject_close(&rej);
		err = cap_end();
		check(rc1 == -1 && rej.failed == 1,
		    "a failed dead-letter write stops the tool (-1)");
		check(rc2 == -1, "and nd_reject_close returns -1");
		check(strstr(err, "/dev/full") != NULL, "with a message");
		free(err);
		free(big);
	}

	section("jscan_kind: control lines");
	{
		static const struct {
			const char *line;
			int want;
		} cases[] = {
			{ "{\"__kinpipe\":{\"checkpoint\":1}}", 1 },
			{ "{\"__kinpipe\":1}", 1 },
			{ "{\"__kinpipe\":null}", 1 },
			{ " {\"__kinpipe\":{}}", 1 },
			{ "{ \"__kinpipe\" : \"x\" }", 1 },
			{ "{\"__kinpipe\":{}} ", 1 },
			{ "{\"__kinpipe\":{}}\r", 1 },
			{ "{\"__kinpipe\":1,\"a\":2}", 0 },
			{ "{\"a\":2,\"__kinpipe\":1}", 0 },
			{ "{\"a\":\"__kinpipe\"}", 0 },
			{ "{\"a\":\"\\\"__kinpipe\\\"\"}", 0 },
			{ "{\"note\":\"\\\"__kinpipe\\\":1\"}", 0 },
			{ "{\"a\":{\"__kinpipe\":1}}", 0 },
			{ "[{\"__kinpipe\":1}]", 0 },
			{ "\"__kinpipe\"", 0 },
			{ "{\"__kinpipe\"}", 0 },
			{ "{\"__kinpipe\":", 0 },
			{ "{\"__kinpipe\":1", 0 },
			{ "{\"__kinpipe\":1}x", 0 },
			{ "{\"__kinpipe\":1}{\"price\":1}", 0 },
			{ "{\"__kinpipeX\":1}", 0 },
			{ "{\"_kinpipe\":1}", 0 },
			{ "{}", 0 },
			{ "", 0 },
			{ "{", 0 },
		};
		size_t k;

		for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			size_t n = strlen(cases[k].line);
			char *b = exact(cases[k].line, n);
			struct jscan *js = jscan_new();
			const char *why;
			int got = js != NULL && jscan_kind(js, b, n, &why) == 1;

			check(got == cases[k].want, "jscan_kind \"%s\" is %s",
			    show(b, n), cases[k].want ? "control" : "not control");
			jscan_free(js);
			free(b);
		}
	}
}

/* ---- base64 ---- */

static void
test_b64(void)
{
	static const unsigned char bytes[] = { 0x00, 0xff, 0x10, 0x80, 0x7f,
	    0xfe, 0x01, 0xc3, 0xa9 };
	static const struct {
		const char *plain, *enc;
	} rfc[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = {
		"Z", "Zg", "Zg=", "Zg===", "Zm9vY", "Zm9v=", "====", "A===",
		"Z===", "Zg=a", "Z=g=", "=Zg=", "Zm=v", "Zm9vYg==Zm9v",
		"Zm9vYg====", "Zm9v Yg=", "Zg== ", " Zg==", "Zg==    ",
		"Zg==\n\n\n\n", "Zm9*", "Zm9-", "Zm9_", "Zm9v\x80\x80\x80\x80",
	};
	size_t k, n;

	section("base64");
	for (k = 0; k < sizeof(rfc) / sizeof(rfc[0]); k++) {
		char out[16];
		unsigned char dec[16];
		size_t pl = strlen(rfc[k].plain), el = strlen(rfc[k].enc);
		char *e = exact(rfc[k].enc, el);
		long d;

		n = b64_encode(rfc[k].plain, pl, out);
		check(n == el && B64_ENCODED_LEN(pl) == el &&
		    strcmp(out, rfc[k].enc) == 0, "b64_encode \"%s\" = %s (RFC 4648)",
		    rfc[k].plain, rfc[k].enc);
		d = b64_decode(e, el, dec);
		check(d == (long)pl && memcmp(dec, rfc[k].plain, pl) == 0,
		    "b64_decode %s = \"%s\"", rfc[k].enc, rfc[k].plain) ||
		    (diag("got %ld", d), 0);
		free(e);
	}
	/* binary round trips of lengths 0..9 */
	for (n = 0; n <= sizeof(bytes); n++) {
		char out[B64_ENCODED_LEN(sizeof(bytes)) + 1];
		unsigned char dec[sizeof(out)];
		size_t el = b64_encode(bytes, n, out);
		char *e = exact(out, el);
		long d = b64_decode(e, el, dec);

		check(el == B64_ENCODED_LEN(n) && d == (long)n &&
		    memcmp(dec, bytes, n) == 0, "b64 binary round trip, %zu bytes",
		    n) || (diag("enc %s, dec %ld", out, d), 0);
		free(e);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		size_t el = strlen(bad[k]);
		unsigned char dec[64];
		char *e = exact(bad[k], el);
		long d = b64_decode(e, el, dec);

		check(d == -1, "b64_decode rejects \"%s\"", show(bad[k], el)) ||
		    (diag("got %ld", d), 0);
		free(e);
	}
}

/* ---- KPL ---- */

/* magic + body + MD5(body) */
static unsigned char *
kpl_blob(const unsigned char *body, size_t n, size_t *len)
{
	unsigned char *b = malloc(4 + n + 16);
	unsigned int mdlen = 0;

	memcpy(b, KPL_MAGIC, 4);
	if (n)
		memcpy(b + 4, body, n);
	EVP_Digest(body, n, b + 4 + n, &mdlen, EVP_md5(), NULL);
	*len = 4 + n + 16;
	return b;
}

static void
kpl_body_is(const char *name, const unsigned char *body, size_t n, int want)
{
	struct kpl_agg a;
	size_t len;
	unsigned char *b = kpl_blob(body, n, &len);
	int rc = kpl_decode(b, len, &a);

	check(rc == want && (rc == 1 ? a.n == 1 && a.recs[0].len == 1 &&
	    a.recs[0].data[0] == 'd' : a.recs == NULL && a.n == 0),
	    "kpl_decode %s: %d", name, want) ||
	    (diag("got %d, %zu records", rc, a.n), 0);
	kpl_agg_free(&a);
	free(b);
}

static void
dec128_is(const char *s, int ok, const char *hex)
{
	unsigned char out[16];
	char got[33];
	size_t i, n = strlen(s);
	char *b = exact(s, n);
	int rc = kpl_dec128(b, n, out);

	for (i = 0; i < 16; i++)
		snprintf(got + 2 * i, 3, "%02x", out[i]);
	if (ok)
		check(rc == 0 && strcmp(got, hex) == 0, "kpl_dec128 %s = %s",
		    SHOW(s), hex) || (diag("rc %d, got %s", rc, got), 0);
	else
		check(rc == -1, "kpl_dec128 rejects \"%s\"", SHOW(s));
	free(b);
}

static void
test_kpl(void)
{
	static const char *const pks[] = { "a", "bb", "a", "" };
	static const char *const datas[] = { "{\"p\":1}", "", "bin\0ary",
	    "x" };
	static const size_t lens[] = { 7, 0, 7, 1 };
	struct kpl_agg a;
	unsigned char *blob, hk[16];
	size_t len, i;
	int rc, same;

	section("kpl");
	blob = kpl_encode(pks, datas, lens, 4, &len);
	if (!check(blob != NULL, "kpl_encode 4 records"))
		return;
	check(len > 20 && memcmp(blob, KPL_MAGIC, 4) == 0, "starts with the magic");
	rc = kpl_decode(blob, len, &a);
	same = rc == 1 && a.n == 4;
	for (i = 0; same && i < 4; i++) {
		same = a.recs[i].len == lens[i] &&
		    memcmp(a.recs[i].data, datas[i], lens[i]) == 0 &&
		    a.recs[i].pklen == strlen(pks[i]) &&
		    memcmp(a.recs[i].pk, pks[i], a.recs[i].pklen) == 0 &&
		    a.recs[i].ehk == NULL;
	}
	check(same, "kpl_decode gives back the 4 records, keys and data");
	if (rc == 1 && a.n > 0) {
		kpl_hash_key(&a.recs[0], hk);
		/* MD5("a") = 0cc175b9c0f1b6a831c399e269772661 */
		check(memcmp(hk, "\x0c\xc1\x75\xb9\xc0\xf1\xb6\xa8\x31\xc3\x99\xe2"
		    "\x69\x77\x26\x61", 16) == 0,
		    "kpl_hash_key without an explicit key is MD5(pk)");
	}
	kpl_agg_free(&a);
	kpl_agg_free(&a);
	kpl_agg_free(NULL);
	/* any changed byte after the magic: MD5 mismatch, not aggregated */
	{
		int all = 1;

		for (i = 4; i < len; i++) {
			blob[i] ^= 0x01;
			rc = kpl_decode(blob, len, &a);
			if (rc != 0 || a.recs != NULL)
				all = 0;
			kpl_agg_free(&a);
			blob[i] ^= 0x01;
		}
		check(all, "every single-bit change after the magic: not "
		    "aggregated (0)");
	}
	check(kpl_decode(blob, len - 1, &a) == 0, "truncated blob: not aggregated");
	kpl_agg_free(&a);
	blob[0] = 'X';
	check(kpl_decode(blob, len, &a) == 0, "no magic: not aggregated");
	kpl_agg_free(&a);
	free(blob);
	check(kpl_decode((const unsigned char *)KPL_MAGIC "0123456789abcde", 19,
	    &a) == 0, "19 bytes with the magic: not aggregated");
	check(kpl_decode((const unsigned char *)"", 0, &a) == 0,
	    "empty blob: not aggregated");

	/* large records and keys: multi-byte varints */
	{
		char *bigpk = malloc(300), *bigdata = malloc(70000);
		const char *p2[2], *d2[2];
		size_t l2[2];

		memset(bigpk, 'k', 299);
		bigpk[299] = '\0';
		memset(bigdata, 'd', 70000);
		p2[0] = bigpk;
		p2[1] = "small";
		d2[0] = bigdata;
		d2[1] = "s";
		l2[0] = 70000;
		l2[1] = 1;
		blob = kpl_encode(p2, d2, l2, 2, &len);
		rc = kpl_decode(blob, len, &a);
		check(rc == 1 && a.n == 2 && a.recs[0].len == 70000 &&
		    a.recs[0].pklen == 299 && a.recs[1].len == 1 &&
		    a.recs[1].pklen == 5, "kpl round trip of a 70000-byte record "
		    "with a 299-byte key");
		kpl_agg_free(&a);
		free(blob);
		free(bigpk);
		free(bigdata);
	}

	/* hand-made bodies with a valid MD5 */
	{
		static const unsigned char ok_ehk[] = {
			0x0a, 0x01, 'k',                      /* pk table "k" */
			0x12, 0x03, '1', '2', '3',            /* ehk table "123" */
			0x1a, 0x07, 0x08, 0x00, 0x10, 0x00, 0x1a, 0x01, 'd',
		};
		static const unsigned char ok_unknown[] = {
			0x0a, 0x01, 'k',
			0x20, 0x05,                           /* field 4, varint */
			0x2d, 1, 2, 3, 4,                     /* field 5, fixed32 */
			0x31, 1, 2, 3, 4, 5, 6, 7, 8,         /* field 6, fixed64 */
			0x22, 0x00,                           /* field 4, bytes */
			0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 'd',
			0x3a, 0x02, 'x', 'y',                 /* field 7, bytes */
		};
		static const unsigned char short_field[] = { 0x1a, 0x05, 0x08 };
		static const unsigned char no_data[] = { 0x0a, 0x01, 'k', 0x1a,
		    0x02, 0x08, 0x00 };
		static const unsigned char no_pk[] = { 0x0a, 0x01, 'k', 0x1a,
		    0x03, 0x1a, 0x01, 'd' };
		static const unsigned char pk_range[] = { 0x0a, 0x01, 'k', 0x1a,
		    0x05, 0x08, 0x05, 0x1a, 0x01, 'd' };
		static const unsigned char ehk_range[] = { 0x0a, 0x01, 'k', 0x1a,
		    0x07, 0x08, 0x00, 0x10, 0x01, 0x1a, 0x01, 'd' };
		static const unsigned char bad_varint[] = { 0x80 };
		static const unsigned char long_varint[] = { 0x08, 0xff, 0xff,
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
		static const unsigned char group[] = { 0x0b, 0x0c };
		static const unsigned char rec_short[] = { 0x0a, 0x01, 'k', 0x1a,
		    0x04, 0x08, 0x00, 0x1a, 0x05 };
		static const unsigned char huge_len[] = { 0x0a, 0xff, 0xff, 0xff,
		    0xff, 0x0f, 'k' };

		blob = kpl_blob(ok_ehk, sizeof(ok_ehk), &len);
		rc = kpl_decode(blob, len, &a);
		check(rc == 1 && a.n == 1 && a.recs[0].ehk != NULL &&
		    a.recs[0].ehklen == 3 && memcmp(a.recs[0].ehk, "123", 3) == 0,
		    "kpl_decode: explicit hash key from its table");
		if (rc == 1 && a.n == 1) {
			memset(hk, 0xaa, 16);
			check(kpl_hash_key(&a.recs[0], hk) == 0 &&
			    memcmp(hk, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x7b", 16) == 0,
			    "kpl_hash_key with an explicit key is that number");
		}
		kpl_agg_free(&a);
		free(blob);
		kpl_body_is("unknown fields skipped", ok_unknown,
		    sizeof(ok_unknown), 1);
		kpl_body_is("field longer than the body", short_field,
		    sizeof(short_field), -1);
		kpl_body_is("record without data", no_data, sizeof(no_data), -1);
		kpl_body_is("record without a partition key index", no_pk,
		    sizeof(no_pk), -1);
		kpl_body_is("partition key index out of range", pk_range,
		    sizeof(pk_range), -1);
		kpl_body_is("explicit hash key index out of range", ehk_range,
		    sizeof(ehk_range), -1);
		kpl_body_is("truncated varint", bad_varint, sizeof(bad_varint), -1);
		kpl_body_is("varint over 64 bits", long_varint,
		    sizeof(long_varint), -1);
		kpl_body_is("group wire type", group, sizeof(group), -1);
		kpl_body_is("record data longer than the record", rec_short,
		    sizeof(rec_short), -1);
		kpl_body_is("length near 2^32", huge_len, sizeof(huge_len), -1);
	}

	section("kpl_dec128");
	dec128_is("0", 1, "00000000000000000000000000000000");
	dec128_is("123", 1, "0000000000000000000000000000007b");
	dec128_is("256", 1, "00000000000000000000000000000100");
	dec128_is("18446744073709551616", 1, "00000000000000010000000000000000");
	dec128_is("170141183460469231731687303715884105728", 1,
	    "80000000000000000000000000000000");
	dec128_is("340282366920938463463374607431768211455", 1,
	    "ffffffffffffffffffffffffffffffff");
	dec128_is("0000000000000000000000000000000000000001", 0, NULL);
	dec128_is("340282366920938463463374607431768211456", 0, NULL);
	dec128_is("999999999999999999999999999999999999999", 0, NULL);
	dec128_is("", 0, NULL);
	dec128_is("-1", 0, NULL);
	dec128_is("12a", 0, NULL);
	dec128_is(" 1", 0, NULL);
	dec128_is("1.0", 0, NULL);
}

/* ---- retry ---- */

static void
test_retry(void)
{
	static const struct {
		long status;
		int transport;
		const char *code;
		enum retry_kind want;
	} cls[] = {
		{ 0, 1, NULL, RETRY_YES },
		{ 0, 0, NULL, RETRY_NO },
		{ 200, 0, NULL, RETRY_NO },
		{ 400, 0, NULL, RETRY_NO },
		{ 400, 0, "ValidationException", RETRY_NO },
		{ 400, 0, "ResourceNotFoundException", RETRY_NO },
		{ 403, 0, "AccessDenied", RETRY_NO },
		{ 404, 0, "NoSuchBucket", RETRY_NO },
		{ 408, 0, NULL, RETRY_YES },
		{ 429, 0, NULL, RETRY_THROTTLED },
		{ 500, 0, NULL, RETRY_YES },
		{ 500, 0, "", RETRY_YES },
		{ 500, 0, "InternalFailure", RETRY_YES },
		{ 502, 0, NULL, RETRY_YES },
		{ 503, 0, NULL, RETRY_YES },
		{ 503, 0, "SlowDown", RETRY_THROTTLED },
		{ 504, 0, NULL, RETRY_YES },
		{ 400, 0, "ThrottlingException", RETRY_THROTTLED },
		{ 400, 0, "ProvisionedThroughputExceededException", RETRY_THROTTLED },
		{ 400, 0, "LimitExceededException", RETRY_THROTTLED },
		{ 400, 0, "RequestLimitExceeded", RETRY_THROTTLED },
		{ 400, 0, "RequestTimeout", RETRY_YES },
		{ 400, 0, "ExpiredTokenException", RETRY_CREDENTIALS },
		{ 403, 0, "ExpiredToken", RETRY_CREDENTIALS },
		{ 403, 0, "RequestExpired", RETRY_CREDENTIALS },
		{ 403, 0, "InvalidClientTokenId", RETRY_CREDENTIALS },
		{ 400, 0, "throttlingexception", RETRY_NO },
	};
	static const char *kinds[] = { "NO", "YES", "THROTTLED", "CREDENTIALS" };
	struct retry_policy pol = { 20, 100, 1000, 1000000 };
	struct retry_state a, b;
	int64_t d, da, db, ceiling;
	size_t k;
	int i, bad, differ;

	section("retry_classify");
	for (k = 0; k < sizeof(cls) / sizeof(cls[0]); k++) {
		enum retry_kind got = retry_classify(cls[k].status,
		    cls[k].transport, cls[k].code);

		check(got == cls[k].want, "retry_classify %ld%s %s = %s",
		    cls[k].status, cls[k].status == 0 ? (cls[k].transport ?
		    " (transient)" : " (permanent)") : "",
		    cls[k].code ? cls[k].code : "-", kinds[cls[k].want]) ||
		    (diag("got %s", kinds[got]), 0);
	}

	section("retry_next");
	/* jitter in [1, ceiling], ceiling doubling from base up to cap */
	retry_start(&a, 0, 42);
	bad = 0;
	for (i = 1; i < pol.max_attempts; i++) {
		ceiling = 100LL << (i - 1 < 10 ? i - 1 : 10);
		if (ceiling > pol.cap_ms)
			ceiling = pol.cap_ms;
		d = retry_next(&pol, &a, 0, -1);
		if (d < 1 || d > ceiling) {
			if (bad++ < 3)
				diag("attempt %d: delay %" PRId64 ", ceiling %"
				    PRId64, i, d, ceiling);
		}
	}
	check(bad == 0, "every delay within [1, ceiling], ceiling capped");
	check(retry_next(&pol, &a, 0, -1) == -1 && a.attempt == pol.max_attempts,
	    "after max_attempts attempts: -1");
	/* the jitter is spread, not constant, over many seeds */
	{
		int64_t lo = INT64_MAX, hi = 0;

		for (i = 1; i <= 200; i++) {
			struct retry_policy p1 = { 10, 1000, 1000, 1000000 };

			retry_start(&a, 0, (uint64_t)i);
			d = retry_next(&p1, &a, 0, -1);
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		check(lo >= 1 && hi <= 1000 && hi - lo > 500,
		    "full jitter: 200 seeds spread over [1, 1000]") ||
		    (diag("lo %" PRId64 " hi %" PRId64, lo, hi), 0);
	}
	/* deterministic with a fixed seed */
	retry_start(&a, 1000, 7);
	retry_start(&b, 1000, 7);
	differ = 0;
	for (i = 1; i < 10; i++) {
		da = retry_next(&pol, &a, 1000, -1);
		db = retry_next(&pol, &b, 1000, -1);
		if (da != db)
			differ++;
	}
	check(differ == 0, "a fixed seed gives the same delays");
	retry_start(&a, 0, 7);
	retry_start(&b, 0, 8);
	differ = 0;
	for (i = 1; i < 10; i++)
		if (retry_next(&pol, &a, 0, -1) != retry_next(&pol, &b, 0, -1))
			differ++;
	check(differ > 0, "another seed gives other delays");
	retry_start(&a, 0, 0);
	d = retry_next(&pol, &a, 0, -1);
	check(d >= 1 && d <= 100, "seed 0 works (a fixed default)");
	/* Retry-After wins, capped */
	retry_start(&a, 0, 1);
	check(retry_next(&pol, &a, 0, 300) == 300, "Retry-After 300 ms honoured");
	check(retry_next(&pol, &a, 0, 5000) == 1000,
	    "Retry-After 5000 ms capped at cap_ms 1000");
	check(retry_next(&pol, &a, 0, 0) == 0, "Retry-After 0: no wait");
	/* the budget */
	{
		struct retry_policy p2 = { 100, 100, 1000, 10000 };

		retry_start(&a, 5000, 3);
		d = retry_next(&p2, &a, 6000, -1);
		check(d >= 1 && d <= 100, "within the budget: a delay");
		check(retry_next(&p2, &a, 15000, 0) == 0,
		    "at the end of the budget, no wait: still a retry");
		check(retry_next(&p2, &a, 15000, 1) == -1,
		    "a delay that ends past the budget: -1");
		check(retry_next(&p2, &a, 20000, -1) == -1,
		    "past the budget: -1");
		check(retry_next(&p2, &a, 15000, 5000) == -1,
		    "a Retry-After past the budget: -1");
	}
	{
		struct retry_policy one = { 1, 100, 1000, 10000 };
		struct retry_policy def = RETRY_POLICY_DEFAULT;

		retry_start(&a, 0, 1);
		check(retry_next(&one, &a, 0, -1) == -1,
		    "max_attempts 1: never retried");
		retry_start(&a, 0, 1);
		for (i = 1; i < def.max_attempts; i++)
			if (retry_next(&def, &a, 0, -1) < 0)
				break;
		check(i == def.max_attempts && retry_next(&def, &a, 0, -1) == -1,
		    "default policy: %d attempts in all", def.max_attempts);
	}
}

/* ---- http_url_host ---- */

static void
host_is(const char *url, const char *want)
{
	char out[256];
	int rc;

	memset(out, 'x', sizeof(out));
	rc = http_url_host(url, out, sizeof(out));
	if (want == NULL)
		check(rc == -1, "http_url_host rejects \"%s\"", url) ||
		    (diag("got %s", out), 0);
	else
		check(rc == 0 && strcmp(out, want) == 0, "http_url_host %s = %s",
		    url, want) || (diag("rc %d, got %.40s", rc, out), 0);
}

static void
test_http(void)
{
	char small[8];

	section("http_url_host");
	host_is("https://kinesis.us-east-1.amazonaws.com",
	    "kinesis.us-east-1.amazonaws.com");
	host_is("https://kinesis.us-east-1.amazonaws.com/",
	    "kinesis.us-east-1.amazonaws.com");
	host_is("https://kinesis.us-east-1.amazonaws.com:443/",
	    "kinesis.us-east-1.amazonaws.com");
	host_is("https://s3.amazonaws.com:443", "s3.amazonaws.com");
	host_is("http://127.0.0.1:80/x", "127.0.0.1");
	host_is("http://127.0.0.1:80", "127.0.0.1");
	host_is("http://127.0.0.1:4567", "127.0.0.1:4567");
	host_is("http://127.0.0.1:4567/", "127.0.0.1:4567");
	host_is("http://127.0.0.1:4567/path/to?q=1", "127.0.0.1:4567");
	host_is("http://localhost:4568?list-type=2", "localhost:4568");
	host_is("http://localhost:4568#frag", "localhost:4568");
	host_is("https://h.example:8443/a", "h.example:8443");
	host_is("http://h.example:443/", "h.example:443");
	host_is("https://h.example:80/", "h.example:80");
	host_is("http://h.example:180/", "h.example:180");
	host_is("http://h.example:8080", "h.example:8080");
	host_is("https://h.example:4430", "h.example:4430");
	host_is("http://[::1]:80/", "[::1]");
	host_is("http://[::1]:4567/", "[::1]:4567");
	host_is("https://bucket.s3.us-west-2.amazonaws.com/key/with:colon",
	    "bucket.s3.us-west-2.amazonaws.com");
	host_is("kinesis.us-east-1.amazonaws.com", NULL);
	host_is("http://", NULL);
	host_is("http:///path", NULL);
	host_is("", NULL);
	check(http_url_host("http://toolonghost/", small, sizeof(small)) == -1,
	    "http_url_host: a host that does not fit is -1");
	check(http_url_host("http://abcdefg/", small, sizeof(small)) == 0 &&
	    strcmp(small, "abcdefg") == 0,
	    "http_url_host: 7 characters and the NUL fit 8 bytes");
	check(http_url_host("http://abcdefgh/", small, sizeof(small)) == -1,
	    "http_url_host: 8 characters do not fit 8 bytes");
}

/* msg_clean(): what a server says, made safe for a terminal. */
/* check() of two strings, showing what came when they differ. */
static int
check_eq(const char *got, const char *want, const char *what)
{
	if (strcmp(got, want) == 0)
		return check(1, "%s", what);
	diag("got  %s", got);
	diag("want %s", want);
	return check(0, "%s", what);
}

static void
test_msg_clean(void)
{
	/* in, what it becomes, why; after the secrets below are given. */
	static const char *const cases[][3] = {
		{ "plain text, caf\xc3\xa9 \xe2\x82\xac",
		  "plain text, caf\xc3\xa9 \xe2\x82\xac",
		  "printable ASCII and valid UTF-8 kept" },
		{ "a\nb\rc\td\x1b[31m\x7f", "a\\nb\\rc\\td\\x1b[31m\\x7f",
		  "control characters escaped" },
		{ "\xff\xc3(\xed\xa0\x80\xc0\x80",
		  "\\xff\\xc3(\\xed\\xa0\\x80\\xc0\\x80",
		  "invalid UTF-8, surrogates and overlong forms escaped" },
		{ "Credential=AKID/x, Signature=abc123;",
		  "Credential=[redacted], Signature=[redacted];",
		  "labelled credential values redacted" },
		{ "key s3cr3t-value-xyz! short", "key [redacted]! short",
		  "a registered secret redacted; under 8 bytes ignored" },
		{ "cut piece-secret-0123 here, piece-secret kept",
		  "cut [redacted] here, piece-secret kept",
		  "16 bytes or more of a secret cut short redacted, fewer kept" },
		{ "x-amz-security-token:abc def",
		  "x-amz-security-token:[redacted] def",
		  "a header as sent, lower case, no blank" },
		{ "{\"SessionToken\": \"tok\", \"n\": 1}",
		  "{\"SessionToken\": \"[redacted]\", \"n\": 1}",
		  "a JSON member" },
		{ "aws_secret_access_key = wJalr x",
		  "aws_secret_access_key = [redacted] x",
		  "a credentials file line" },
		{ "SignatureDoesNotMatch: the signature we calculated; "
		  "SignedHeaders=host",
		  "SignatureDoesNotMatch: the signature we calculated; "
		  "SignedHeaders=host", "words that are no labelled value kept" },
	};
	char out[256], again[256], small[8];
	size_t i;

	section("msg_clean");
	msg_secret("short");
	msg_secret("s3cr3t-value-xyz");
	msg_secret("piece-secret-0123456789abcdef");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg_clean(cases[i][0], out, sizeof(out));
		check_eq(out, cases[i][1], cases[i][2]);
	}
	msg_clean("abc\n\ndefgh", small, sizeof(small) - 1);
	check_eq(small, "abc\\n", "cut to fit, never inside an escape");
	msg_clean("Signature=\x1b[2J\x1b[31mx Credential=", out, sizeof(out));
	msg_clean(out, again, sizeof(again));
	check_eq(again, "Signature=[redacted] Credential=",
	    "cleaning twice changes nothing");
}

int
main(int argc, char **argv)
{
	if (tap_begin("common_test", argc, argv) != 0)
		return 2;
	test_msg_clean();
	test_kptime();
	test_units();
	test_jfield();
	test_reader();
	test_writer();
	test_reject();
	test_reject_flood();
	test_b64();
	test_kpl();
	test_retry();
	test_http();
	return tap_end();
}
