/*
 * jscan_test - unit tests of the record scanner (common/jscan.h): fields by
 * path and their types, member names with escapes, duplicates, nulls on a
 * path, the top-level facts (closing brace, control lines), numbers at full
 * range, strings decoded as json-c decodes them, event times, key text, and
 * the verdict on every kind of bad line with json-c's wording.
 *
 * The last section is differential: thousands of lines made by mutating
 * valid records (a deterministic generator) must get the same verdict from
 * the scanner as from the strict json-c parser of jfield.h, and the same
 * value for a field when both accept them.
 *
 *   jscan_test [-v]
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>

#include <json.h>

#include "buf.h"
#include "jfield.h"
#include "jscan.h"
#include "kptime.h"
#include "tap.h"

/* A scanner reading the fields named by specs (NULL-terminated). */
struct fx {
	struct jscan *js;
	struct jf_path path[8];
	size_t n;
};

static void
fx_init(struct fx *f, const char *const *specs)
{
	memset(f, 0, sizeof(*f));
	f->js = jscan_new();
	if (f->js == NULL)
		exit(2);
	for (; *specs != NULL; specs++, f->n++) {
		if (jf_path_init(&f->path[f->n], *specs) != 0 ||
		    jscan_want(f->js, &f->path[f->n]) != (int)f->n)
			exit(2);
	}
}

static void
fx_free(struct fx *f)
{
	size_t i;

	jscan_free(f->js);
	for (i = 0; i < f->n; i++)
		jf_path_free(&f->path[i]);
}

static const char *const type_name[] = {
	"missing", "null-path", "null", "false", "true", "number", "string",
	"object", "array",
};

/* Scans line; field i must have type want and (if tok != NULL) that text. */
static void
field_is(struct fx *f, const char *line, int i, enum jscan_type want,
    const char *tok)
{
	size_t n = strlen(line);
	char *b = exact(line, n);
	const char *why = NULL;
	const struct jscan_field *fd;
	int rc = jscan_line(f->js, b, n, &why);

	if (rc != 0) {
		check(0, "%s: field %s is %s", show(line, n),
		    f->path[i].text, type_name[want]);
		diag("refused: %s", why);
		free(b);
		return;
	}
	fd = jscan_get(f->js, i);
	if (!check(fd->type == want && (tok == NULL || (fd->len == strlen(tok) &&
	    memcmp(fd->tok, tok, fd->len) == 0)), "%s: field %s is %s%s%s",
	    show(line, n), f->path[i].text, type_name[want], tok ? " " : "",
	    tok ? tok : ""))
		diag("got %s %s", type_name[fd->type],
		    fd->tok ? show(fd->tok, fd->len) : "");
	free(b);
}

/* line is refused with exactly reason. */
static void
refused(struct jscan *js, const char *line, size_t n, const char *reason)
{
	char *b = exact(line, n);
	const char *why = NULL;
	int rc = jscan_line(js, b, n, &why);

	if (!check(rc == -1 && why != NULL && strcmp(why, reason) == 0,
	    "refused %s: %s", show(line, n), reason))
		diag("got %d %s", rc, why ? why : "(no reason)");
	free(b);
}

static void
accepted(struct jscan *js, const char *line)
{
	size_t n = strlen(line);
	char *b = exact(line, n);
	const char *why = NULL;

	if (!check(jscan_line(js, b, n, &why) == 0, "accepted %s",
	    show(line, n)))
		diag("refused: %s", why);
	free(b);
}

static void
test_fields(void)
{
	static const char *const specs[] = { "price", "window.mean",
	    "window.stats.n", "symbol", NULL };
	struct fx f;

	section("fields by path");
	fx_init(&f, specs);
	field_is(&f, "{\"price\":1.5}", 0, JSCAN_NUMBER, "1.5");
	field_is(&f, "{\"price\":-0.25e+3,\"x\":1}", 0, JSCAN_NUMBER,
	    "-0.25e+3");
	field_is(&f, "{\"price\":\"61000\"}", 0, JSCAN_STRING, "\"61000\"");
	field_is(&f, "{\"price\":null}", 0, JSCAN_NULL, "null");
	field_is(&f, "{\"price\":true}", 0, JSCAN_TRUE, "true");
	field_is(&f, "{\"price\":false}", 0, JSCAN_FALSE, "false");
	field_is(&f, "{\"price\":{\"a\":1}}", 0, JSCAN_OBJECT, "{\"a\":1}");
	field_is(&f, "{\"price\":[1, 2]}", 0, JSCAN_ARRAY, "[1, 2]");
	field_is(&f, "{}", 0, JSCAN_MISSING, NULL);
	field_is(&f, "{\"Price\":1}", 0, JSCAN_MISSING, NULL);
	field_is(&f, "{\"pric\":1,\"pricee\":2}", 0, JSCAN_MISSING, NULL);
	field_is(&f, "{\"a\":{\"price\":1}}", 0, JSCAN_MISSING, NULL);
	field_is(&f, "{\"window\":{\"mean\":2}}", 1, JSCAN_NUMBER, "2");
	field_is(&f, "{\"window\":null}", 1, JSCAN_NULL_PATH, NULL);
	field_is(&f, "{\"window\":{\"mean\":null}}", 1, JSCAN_NULL, NULL);
	field_is(&f, "{\"window\":3}", 1, JSCAN_MISSING, NULL);
	field_is(&f, "{\"window\":\"x\"}", 1, JSCAN_MISSING, NULL);
	field_is(&f, "{\"window\":[{\"mean\":1}]}", 1, JSCAN_MISSING, NULL);
	field_is(&f, "{\"window\":{}}", 1, JSCAN_MISSING, NULL);
	field_is(&f, "{\"window\":{\"stats\":{\"n\":7}}}", 2, JSCAN_NUMBER, "7");
	field_is(&f, "{\"window\":{\"stats\":null}}", 2, JSCAN_NULL_PATH, NULL);
	field_is(&f, "{\"window\":null,\"price\":1}", 2, JSCAN_NULL_PATH, NULL);
	field_is(&f, "{\"symbol\":\"BTC\\u0055SDT\"}", 3, JSCAN_STRING,
	    "\"BTC\\u0055SDT\"");

	section("duplicates: the last member wins, as in json-c");
	field_is(&f, "{\"price\":1,\"price\":9}", 0, JSCAN_NUMBER, "9");
	field_is(&f, "{\"price\":1,\"price\":null}", 0, JSCAN_NULL, NULL);
	field_is(&f, "{\"window\":{\"mean\":1},\"window\":{\"mean\":9}}", 1,
	    JSCAN_NUMBER, "9");
	field_is(&f, "{\"window\":{\"mean\":1},\"window\":{}}", 1,
	    JSCAN_MISSING, NULL);
	field_is(&f, "{\"window\":{\"mean\":1},\"window\":null}", 1,
	    JSCAN_NULL_PATH, NULL);
	field_is(&f, "{\"window\":null,\"window\":{\"mean\":4}}", 1,
	    JSCAN_NUMBER, "4");
	field_is(&f, "{\"window\":{\"mean\":1,\"mean\":2}}", 1, JSCAN_NUMBER,
	    "2");

	section("member names with escapes are compared decoded");
	field_is(&f, "{\"pr\\u0069ce\":5}", 0, JSCAN_NUMBER, "5");
	field_is(&f, "{\"\\u0070rice\":5}", 0, JSCAN_NUMBER, "5");
	field_is(&f, "{\"win\\u0064ow\":{\"m\\u0065an\":6}}", 1, JSCAN_NUMBER,
	    "6");
	field_is(&f, "{\"price\\u0000\":5}", 0, JSCAN_MISSING, NULL);
	field_is(&f, "{\"pri\\\"ce\":5}", 0, JSCAN_MISSING, NULL);

	section("white space around tokens");
	field_is(&f, " \t{ \"price\" :\t7 , \"window\" : { \"mean\" : 8 } } \r",
	    1, JSCAN_NUMBER, "8");
	field_is(&f, "{\"price\" : 7 }", 0, JSCAN_NUMBER, "7");
	fx_free(&f);
}

static void
test_facts(void)
{
	static const char *const none[] = { NULL };
	static const struct {
		const char *line;
		size_t brace;
		int empty, control;
	} cases[] = {
		{ "{}", 1, 1, 0 },
		{ "{ }", 2, 1, 0 },
		{ " {  } ", 4, 1, 0 },
		{ "{\"a\":1}", 6, 0, 0 },
		{ "{\"a\":{\"b\":{}}} \t", 13, 0, 0 },
		{ "{\"a\":\"}\"}", 8, 0, 0 },
		{ "{\"__kinpipe\":{\"barrier\":1}}", 26, 0, 1 },
		{ "{\"__kinpipe\":1,\"__kinpipe\":2}", 28, 0, 1 },
		{ "{\"__kin\\u0070ipe\":1}", 19, 0, 1 },
		{ "{\"__kinpipe\":1,\"a\":2}", 20, 0, 0 },
		{ "{\"a\":{\"__kinpipe\":1}}", 20, 0, 0 },
	};
	struct fx f;
	size_t i;

	section("the closing brace, empty objects, control lines");
	fx_init(&f, none);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].line);
		char *b = exact(cases[i].line, n);
		const char *why = NULL;
		int rc = jscan_line(f.js, b, n, &why);

		if (!check(rc == 0 && jscan_brace(f.js) == cases[i].brace &&
		    jscan_empty(f.js) == cases[i].empty &&
		    jscan_is_control(f.js) == cases[i].control,
		    "%s: brace at %zu, %s, %s", show(b, n), cases[i].brace,
		    cases[i].empty ? "empty" : "not empty",
		    cases[i].control ? "control" : "record"))
			diag("rc %d (%s), brace %zu, empty %d, control %d", rc,
			    why ? why : "", jscan_brace(f.js), jscan_empty(f.js),
			    jscan_is_control(f.js));
		check(jscan_kind(f.js, b, n, &why) == cases[i].control,
		    "jscan_kind %s is %d", show(b, n), cases[i].control);
		free(b);
	}
	fx_free(&f);
}

static void
test_verdicts(void)
{
	static const struct {
		const char *line;
		const char *why;
	} bad[] = {
		{ "", "empty line" },
		{ " ", "invalid JSON: unexpected end of line" },
		{ "not json", "invalid JSON: null expected" },
		{ "xyz", "invalid JSON: unexpected character" },
		{ "{price:1}", "invalid JSON: quoted object property name "
		    "expected" },
		{ "{\"price\" 1}", "invalid JSON: object property name "
		    "separator ':' expected" },
		{ "{\"price\":01}", "invalid JSON: number expected" },
		{ "{\"price\":-01}", "invalid JSON: number expected" },
		{ "{\"price\":1,}", "invalid JSON: unexpected character" },
		{ "[1,2]", "not a JSON object" },
		{ "\"price\"", "not a JSON object" },
		{ "42", "not a JSON object" },
		{ "true", "not a JSON object" },
		{ "null", "not a JSON object" },
		{ "{\"price\":1,", "invalid JSON: unexpected end of line" },
		{ "{\"price\":1} {\"price\":2}", "invalid JSON: unexpected "
		    "character" },
		{ "{\"a\":1}}", "invalid JSON: unexpected character" },
		{ "{\"a\":1.}", "invalid JSON: digit expected after '.'" },
		{ "{\"a\":1.e5}", "invalid JSON: digit expected after '.'" },
		{ "{'a':1}", "invalid JSON: single-quoted string" },
		{ "{\"a\":NaN}", "invalid JSON: NaN and Infinity are not JSON "
		    "numbers" },
		{ "{\"a\":-Infinity}", "invalid JSON: NaN and Infinity are not "
		    "JSON numbers" },
		{ "{\"a\":True}", "invalid JSON: boolean expected" },
		{ "{\"a\":nul}", "invalid JSON: null expected" },
		{ "{\"a\":+1}", "invalid JSON: unexpected character" },
		{ "{\"a\":.5}", "invalid JSON: unexpected character" },
		{ "{\"a\":1e}", "invalid JSON: number expected" },
		{ "{\"a\":0x1}", "invalid JSON: number expected" },
		{ "{\"a\":\"\\x\"}", "invalid JSON: invalid string sequence" },
		{ "{\"a\":\"\\u12\"}", "invalid JSON: invalid string sequence" },
		{ "{\"a\":\"\\u12G4\"}", "invalid JSON: invalid string sequence" },
		{ "{\"a\":[1 2]}", "invalid JSON: array value separator ',' "
		    "expected" },
		{ "{,}", "invalid JSON: quoted object property name expected" },
		{ "{\"a\":1 \"b\":2}", "invalid JSON: object value separator ',' "
		    "expected" },
		{ "{\"a\":\"x\ty\"}", "invalid JSON: control character in a "
		    "string" },
		{ "{\"a\":\"\xff\"}", "invalid JSON: invalid utf-8 string" },
		{ "{\"a\":\"\xc0\xaf\"}", "invalid JSON: invalid UTF-8" },
		{ "{\"a\":\"\xed\xa0\x80\"}", "invalid JSON: invalid UTF-8" },
		{ "{\"a\":\"\xf4\x90\x80\x80\"}", "invalid JSON: invalid UTF-8" },
		{ "{\"a\":01234.56}", "invalid JSON: number expected" },
		{ "{\"a\":00}", "invalid JSON: number expected" },
		{ "{\"a\":-.5}", "invalid JSON: number expected" },
		{ "{\"a\":0.}", "invalid JSON: digit expected after '.'" },
		{ "{\"a\":-0.e1}", "invalid JSON: digit expected after '.'" },
		{ "{\"a\":\"unterminated}", "invalid JSON: unexpected end of "
		    "line" },
		{ "\xef\xbb\xbf{\"a\":1}", "invalid JSON: invalid utf-8 string" },
	};
	static const char *const good[] = {
		"{\"a\":\"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80\"}",
		"{\"a\":\"\\ud83d\\ude00 \\ud800 \\u0000\"}",
		"{\"a\":[],\"b\":{},\"c\":[[]],\"d\":[{}]}",
		"{\"a\":-0,\"b\":0.0,\"c\":1E400,\"d\":-1e-400}",
		"{\"a\":123456789012345678901234567890}",
		"{\"\":1,\"\":2}",
		"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
	};
	struct jscan *js = jscan_new();
	char deep[200];
	size_t i, n;

	section("verdicts on bad lines, worded as json-c words them");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(js, bad[i].line, strlen(bad[i].line), bad[i].why);
	refused(js, "{\"a\":\"x\0y\"}", 11, "invalid JSON: unexpected end of "
	    "data");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		accepted(js, good[i]);

	section("nesting: 32 containers, as json-c allows");
	/* {"a": + 31 arrays: 32 containers */
	n = (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
	for (i = 0; i < 31; i++)
		deep[n++] = '[';
	for (i = 0; i < 31; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	accepted(js, deep);
	n = (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
	for (i = 0; i < 32; i++)
		deep[n++] = '[';
	for (i = 0; i < 32; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	refused(js, deep, n, "invalid JSON: nesting too deep");
	/* A scalar inside 32 containers: json-c refuses it as well. */
	n = (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
	for (i = 0; i < 31; i++)
		deep[n++] = '[';
	deep[n++] = '1';
	for (i = 0; i < 31; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	refused(js, deep, n, "invalid JSON: nesting too deep");
	/* Inside 31, it is taken. */
	n = (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
	for (i = 0; i < 30; i++)
		deep[n++] = '[';
	deep[n++] = '1';
	for (i = 0; i < 30; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	accepted(js, deep);
	jscan_free(js);
}

static void
number_is(const char *tok, int ok, double want, const char *why)
{
	struct jscan_field f;
	const char *got_why = NULL;
	double v = -12345;
	char *b = exact(tok, strlen(tok));
	int rc;

	memset(&f, 0, sizeof(f));
	f.type = JSCAN_NUMBER;
	f.tok = b;
	f.len = strlen(tok);
	rc = jscan_number(&f, &v, &got_why);
	if (ok)
		check(rc == 0 && v == want && signbit(v) == signbit(want),
		    "number %s = %.17g", tok, want) || (diag("got %d %.17g",
		    rc, v), 0);
	else
		check(rc == -1 && strcmp(got_why, why) == 0,
		    "number %s: %s", tok, why) || (diag("got %d %s", rc,
		    got_why ? got_why : ""), 0);
	free(b);
}

static void
test_numbers(void)
{
	static const struct {
		enum jscan_type t;
		const char *why;
	} other[] = {
		{ JSCAN_MISSING, "missing" },
		{ JSCAN_NULL, "null" },
		{ JSCAN_NULL_PATH, "null" },
		{ JSCAN_STRING, "not a number" },
		{ JSCAN_TRUE, "not a number" },
		{ JSCAN_OBJECT, "not a number" },
		{ JSCAN_ARRAY, "not a number" },
	};
	size_t i;

	section("numbers at full range");
	number_is("0", 1, 0, NULL);
	number_is("-0", 1, 0.0, NULL);
	number_is("-0.0", 1, -0.0, NULL);
	number_is("61234.56", 1, 61234.56, NULL);
	number_is("9007199254740993", 1, 9007199254740992.0, NULL);
	number_is("18446744073709551616", 1, 18446744073709551616.0, NULL);
	number_is("123456789012345678901234567890", 1,
	    123456789012345678901234567890.0, NULL);
	number_is("-9223372036854775809", 1, -9223372036854775808.0, NULL);
	number_is("1e308", 1, 1e308, NULL);
	number_is("1e-400", 1, 0.0, NULL);
	number_is("1e400", 0, 0, "not a finite number");
	number_is("-1E+400", 0, 0, "not a finite number");
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		struct jscan_field f;
		const char *why = NULL;
		double v;

		memset(&f, 0, sizeof(f));
		f.type = other[i].t;
		f.tok = "x";
		f.len = 1;
		check(jscan_number(&f, &v, &why) == -1 &&
		    strcmp(why, other[i].why) == 0, "%s is no number: %s",
		    type_name[other[i].t], other[i].why);
	}
}

/*
 * Random number tokens, shaped to hit both sides of the exact fast path
 * (digit counts around 15-20, exponents around +-22, leading and trailing
 * zeros), convert to exactly what strtod gives, sign of zero included.
 */
static void
test_numbers_random(void)
{
	char tok[64];
	size_t i, bad = 0;
	unsigned long long seed = 88172645463325252ull;

	section("numbers: the fast path against strtod");
	for (i = 0; i < 300000; i++) {
		struct jscan_field f;
		const char *why = NULL;
		double v = 0, want;
		size_t n = 0, k, nint, nfrac;

		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		if (seed & 1)
			tok[n++] = '-';
		nint = 1 + (seed >> 1) % 20;
		nfrac = (seed >> 6) & 1 ? (seed >> 7) % 22 : 0;
		for (k = 0; k < nint; k++) {
			seed ^= seed << 13, seed ^= seed >> 7,
			    seed ^= seed << 17;
			tok[n++] = (char)('0' + (k == 0 && nint > 1 ?
			    1 + seed % 9 : seed % 10));
			if ((seed >> 8) % 5 == 0 && k == 0 && nint == 1)
				tok[n - 1] = '0';
		}
		if (nfrac > 0) {
			tok[n++] = '.';
			for (k = 0; k < nfrac; k++) {
				seed ^= seed << 13, seed ^= seed >> 7,
				    seed ^= seed << 17;
				tok[n++] = (char)('0' + ((seed >> 9) % 3 == 0 ?
				    0 : seed % 10));
			}
		}
		if ((seed >> 12) % 3 == 0)
			n += (size_t)snprintf(tok + n, sizeof(tok) - n, "%s%d",
			    (seed >> 14) & 1 ? "e" : "E-",
			    (int)((seed >> 15) % 30));
		tok[n] = '\0';
		want = strtod(tok, NULL);
		if (strpbrk(tok, ".eE") == NULL)
			want += 0.0;
		memset(&f, 0, sizeof(f));
		f.type = JSCAN_NUMBER;
		f.tok = tok;
		f.len = n;
		if (jscan_number(&f, &v, &why) != 0 || v != want ||
		    signbit(v) != signbit(want)) {
			if (bad++ < 5)
				diag("%s: got %.17g, strtod %.17g", tok, v, want);
		}
	}
	check(bad == 0, "300,000 random tokens convert as strtod does (%zu "
	    "differ)", bad);
	number_is("4.35", 1, 4.35, NULL);
	number_is("0.1", 1, 0.1, NULL);
	number_is("9007199254740992e22", 1, 9007199254740992e22, NULL);
	number_is("9007199254740993e-22", 1, 9007199254740993e-22, NULL);
	number_is("1e23", 1, 1e23, NULL);
	number_is("1.7976931348623157e308", 1, 1.7976931348623157e308,
	    NULL);
	number_is("0.00000000000000000000000000000000001", 1, 1e-35, NULL);
	number_is("-0e5", 1, -0.0, NULL);
	number_is("0e99999", 1, 0.0, NULL);
	number_is("1234567890123456789", 1, 1234567890123456789.0, NULL);
}

/* The string token tok decodes to want[0..wn) exactly as json-c decodes. */
static void
string_is(const char *tok, const char *want, size_t wn)
{
	struct jscan_field f;
	struct buf tmp = BUF_INIT;
	struct json_object *o;
	const char *s = NULL;
	size_t n = 0;
	char *b = exact(tok, strlen(tok));
	int rc;

	memset(&f, 0, sizeof(f));
	f.type = JSCAN_STRING;
	f.tok = b;
	f.len = strlen(tok);
	f.escaped = strchr(tok, '\\') != NULL;
	rc = jscan_string(&f, &tmp, &s, &n);
	check(rc == 0 && n == wn && memcmp(s, want, n) == 0, "string %s",
	    show(tok, strlen(tok))) || (diag("got %s", s ? show(s, n) : ""), 0);
	o = json_tokener_parse(tok);
	check(o != NULL && (size_t)json_object_get_string_len(o) == n &&
	    memcmp(json_object_get_string(o), s, n) == 0,
	    "string %s: json-c decodes the same", show(tok, strlen(tok)));
	json_object_put(o);
	buf_free(&tmp);
	free(b);
}

static void
test_strings(void)
{
	section("strings decoded as json-c decodes them");
	string_is("\"plain\"", "plain", 5);
	string_is("\"\"", "", 0);
	string_is("\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d", 7);
	string_is("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5);
	string_is("\"\\u0041\\u00e9\\u20ac\"", "A\xc3\xa9\xe2\x82\xac", 6);
	string_is("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
	string_is("\"\\ud800\"", "\xef\xbf\xbd", 3);
	string_is("\"\\udc00x\"", "\xef\xbf\xbdx", 4);
	string_is("\"\\ud800\\u0041\"", "\xef\xbf\xbd" "A", 4);
	string_is("\"a\\u0000b\"", "a\0b", 3);
	string_is("\"caf\xc3\xa9\"", "caf\xc3\xa9", 5);
	string_is("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4);
}

static void
time_is(const char *line, int ok, int64_t want, const char *why)
{
	static const char *const specs[] = { "t", NULL };
	struct fx f;
	struct buf tmp = BUF_INIT;
	const char *w = NULL;
	int64_t ms = -1;
	size_t n = strlen(line);
	char *b = exact(line, n);
	int rc;

	fx_init(&f, specs);
	rc = jscan_line(f.js, b, n, &w);
	if (rc == 0)
		rc = jscan_time(jscan_get(f.js, 0), KPTIME_AUTO, &tmp, &ms, &w);
	if (ok)
		check(rc == 0 && ms == want, "time %s = %" PRId64, show(line, n),
		    want) || (diag("got %d %" PRId64 " %s", rc, ms, w ? w : ""),
		    0);
	else
		check(rc == -1 && w != NULL && strcmp(w, why) == 0,
		    "time %s: %s", show(line, n), why) || (diag("got %d %s", rc,
		    w ? w : ""), 0);
	fx_free(&f);
	buf_free(&tmp);
	free(b);
}

static void
test_times(void)
{
	section("event times from strings and numbers");
	time_is("{\"t\":\"2024-08-08T23:54:15.342Z\"}", 1, 1723161255342LL,
	    NULL);
	time_is("{\"t\":\"2024-08-09T01:54:15.342+02:00\"}", 1,
	    1723161255342LL, NULL);
	time_is("{\"t\":\"2024-08-08T23:54:15.342\\u005a\"}", 1,
	    1723161255342LL, NULL);
	time_is("{\"t\":1723161255342}", 1, 1723161255342LL, NULL);
	time_is("{\"t\":1723161255.342}", 1, 1723161255342LL, NULL);
	time_is("{\"t\":1089018456.001}", 1, 1089018456001LL, NULL);
	time_is("{\"t\":0}", 1, 0, NULL);
	time_is("{\"t\":-1}", 1, -1000, NULL);
	time_is("{}", 0, 0, "missing");
	time_is("{\"t\":null}", 0, 0, "null");
	time_is("{\"t\":true}", 0, 0,
	    "neither an RFC 3339 string nor an epoch number");
	time_is("{\"t\":\"yesterday\"}", 0, 0, "not an RFC 3339 time");
	time_is("{\"t\":\"9999-12-31T23:59:59-01:00\"}", 0, 0,
	    "time out of range");
	time_is("{\"t\":1e300}", 0, 0, "epoch time out of range");
	time_is("{\"t\":1e999}", 0, 0, "epoch time out of range");
}

static void
text_is(const char *line, const char *want)
{
	static const char *const specs[] = { "k", NULL };
	struct fx f;
	struct buf out = BUF_INIT;
	const char *why;
	size_t n = strlen(line);
	char *b = exact(line, n);

	fx_init(&f, specs);
	if (jscan_line(f.js, b, n, &why) == 0)
		jscan_text(jscan_get(f.js, 0), &out);
	check(out.len == strlen(want) &&
	    (out.len == 0 || memcmp(out.p, want, out.len) == 0),
	    "key text of %s is %s", show(line, n), want) || (diag("got %s",
	    out.p ? show(out.p, out.len) : ""), 0);
	fx_free(&f);
	buf_free(&out);
	free(b);
}

static void
test_text(void)
{
	section("key text: the value's JSON without white space between tokens");
	text_is("{\"k\":123456789012345678901234567890}",
	    "123456789012345678901234567890");
	text_is("{\"k\":99999999999999999999}", "99999999999999999999");
	text_is("{\"k\":1.50}", "1.50");
	text_is("{\"k\":-0}", "-0");
	text_is("{\"k\":true}", "true");
	text_is("{\"k\": { \"a\" : [ 1 , 2 ] } }", "{\"a\":[1,2]}");
	text_is("{\"k\":[\"a b\" ,\t\"c\\\" d\"]}", "[\"a b\",\"c\\\" d\"]");
	text_is("{\"k\":\"x  y\"}", "\"x  y\"");
	/* Found by fuzz/jscan: an absent field has no bytes (UBSan: NULL +
	 * 0 in jscan_text). */
	text_is("{\"j\":1}", "");
	text_is("{\"k\":null}", "null");
}

/* ---- differential ---- */

/* One random edit of b[0..*n) (capacity cap). */
static void
mutate(char *b, size_t *n, size_t cap)
{
	static const char pool[] = "{}[]\":,.-+0123456789eE \t\\u/nultrfa"
	    "\x7f\x01\xc3\xa9\xe2\x82\xac\xed\xa0\xff\xf0\x9f";
	size_t at = *n ? (size_t)(tap_rand() % (*n + 1)) : 0;

	switch (tap_rand() % 6) {
	case 0: /* replace a byte */
		if (at < *n)
			b[at] = pool[tap_rand() % (sizeof(pool) - 1)];
		break;
	case 1: /* insert a byte */
		if (*n + 1 < cap) {
			memmove(b + at + 1, b + at, *n - at);
			b[at] = pool[tap_rand() % (sizeof(pool) - 1)];
			(*n)++;
		}
		break;
	case 2: /* delete a byte */
		if (at < *n) {
			memmove(b + at, b + at + 1, *n - at - 1);
			(*n)--;
		}
		break;
	case 3: /* truncate */
		*n = at;
		break;
	case 4: { /* duplicate a span */
		size_t len = (size_t)(tap_rand() % 12), from;

		if (*n == 0 || *n + len >= cap)
			break;
		from = (size_t)(tap_rand() % *n);
		if (from + len > *n)
			len = *n - from;
		memmove(b + at + len, b + at, *n - at);
		memmove(b + at, b + from + (from >= at ? len : 0), len);
		*n += len;
		break;
	}
	default: /* swap two bytes */
		if (*n > 1) {
			size_t j = (size_t)(tap_rand() % *n);
			char c;

			if (at >= *n)
				at = *n - 1;
			c = b[at];
			b[at] = b[j];
			b[j] = c;
		}
		break;
	}
}

/* Compares the scanner with json-c on one line; 0 when they agree. */
static int
same(struct jscan *js, struct jf_parser *jp, const struct jf_path *p,
    const char *line, size_t n, char *why_out, size_t wsz)
{
	const char *w1 = NULL, *w2 = NULL;
	struct json_object *o;
	int a, rc = 0;

	a = jscan_line(js, line, n, &w1) == 0;
	o = jf_parse_object(jp, line, n, &w2);
	if (a != (o != NULL)) {
		snprintf(why_out, wsz, "scanner %s, json-c %s",
		    a ? "accepts" : w1, o ? "accepts" : w2);
		rc = -1;
	} else if (a) {
		/* The same value for "price" when both read it. */
		const struct jscan_field *f = jscan_get(js, 0);
		struct json_object *v = jf_get(o, p);
		double x = 0, y = 0;
		const char *w;
		int sx = jscan_number(f, &x, &w) == 0;
		int sy = v != NULL && json_object_is_type(v, json_type_double) &&
		    jf_number(v, &y, &w) == 0;

		if (sy && (!sx || x != y)) {
			snprintf(why_out, wsz, "price %.17g against json-c's "
			    "%.17g", x, y);
			rc = -1;
		}
		if ((v == NULL) != (f->type == JSCAN_MISSING ||
		    f->type == JSCAN_NULL_PATH || f->type == JSCAN_NULL)) {
			snprintf(why_out, wsz, "price found by one only");
			rc = -1;
		}
	}
	json_object_put(o);
	return rc;
}

static void
test_differential(void)
{
	static const char *const seeds[] = {
		"{\"timestamp\":\"2024-08-08T23:54:15.342Z\",\"symbol\":\"BTCUSDT\","
		    "\"price\":61234.56,\"qty\":0.00123,\"trade_id\":3712345678}",
		"{\"price\":9,\"window\":{\"mean\":1,\"stddev\":1,\"count\":20,"
		    "\"start\":\"2024-08-08T23:54:00.000Z\"}}",
		"{\"a\":[1,2,{\"b\":null}],\"price\":-1.5e-3,\"t\":true,\"f\":false}",
		"{\"note\":\"caf\xc3\xa9 \\u00e9 \\\"q\\\" \\\\ \\/\",\"price\":1}",
		"{ \"price\" : 2 , \"x\" : [ ] , \"y\" : { } }",
		"{\"pr\\u0069ce\":3,\"n\":[[[[[[1]]]]]]}",
		"{\"price\":123456789012345678901234567890,\"k\":\"\xf0\x9f\x98\x80\"}",
		"{\"__kinpipe\":{\"barrier\":{\"id\":7}}}",
	};
	struct jscan *js = jscan_new();
	struct jf_parser jp;
	struct jf_path p;
	char b[512], why[160];
	size_t s, k;

	section("differential: the scanner against json-c on mutated lines");
	if (js == NULL || jf_parser_init(&jp) != 0 ||
	    jf_path_init(&p, "price") != 0 || jscan_want(js, &p) != 0)
		exit(2);
	for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		size_t len = strlen(seeds[s]), agree = 0, total = 0;
		int first = 1;

		for (k = 0; k < 4000; k++) {
			size_t n = len, m, edits = 1 + (size_t)(tap_rand() % 4);
			char *x;

			memcpy(b, seeds[s], len);
			for (m = 0; m < edits; m++)
				mutate(b, &n, sizeof(b));
			x = exact(b, n);
			total++;
			if (same(js, &jp, &p, x, n, why, sizeof(why)) == 0)
				agree++;
			else if (first) {
				diag("disagree on %s: %s", show(x, n), why);
				first = 0;
			}
			free(x);
		}
		check(agree == total, "seed %zu: %zu mutated lines, same verdict "
		    "and price as json-c", s, total);
	}
	jf_path_free(&p);
	jf_parser_free(&jp);
	jscan_free(js);
}

int
main(int argc, char **argv)
{
	if (tap_begin("jscan_test", argc, argv) != 0)
		return 2;
	test_fields();
	test_facts();
	test_verdicts();
	test_numbers();
	test_numbers_random();
	test_strings();
	test_times();
	test_text();
	test_differential();
	return tap_end();
}
