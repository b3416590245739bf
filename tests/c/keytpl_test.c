/*
 * keytpl_test - unit tests of s3-put's key templates (common/keytpl.c):
 * the template grammar (placeholders, literal braces, the errors), Hive's
 * escaping of every ASCII byte against FileUtils.escapePathName's set,
 * and expansion of each kind of value, with the time text cached.
 *
 *   keytpl_test [-v]
 *
 * Prints TAP (tap.h) and exits 0 when every check passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jscan.h"
#include "keytpl.h"
#include "tap.h"

static void
grammar(void)
{
	static const char *const bad[] = { "{", "}", "a{b", "a}b", "{}",
	    "{a..b}", "{.a}", "{a.}", "%{a}", "x%%%{a}", "{a%b}", "{a{b}",
	    "{a\tb}", NULL };
	static const char *const good[][2] = {
		{ "", "" }, { "%Y", "%Y" }, { "{{", "{" }, { "}}", "}" },
		{ "{{a}}", "{a}" }, { "s={s}/%H", "s=X/%H" },
		{ "%%{a}{b.c}", "%%XX" }, { "{{{a}}}", "{X}" },
	};
	struct keytpl t;
	struct buf b = BUF_INIT;
	char err[256];
	size_t i;

	section("grammar");
	for (i = 0; bad[i] != NULL; i++) {
		check(keytpl_parse(&t, bad[i], err, sizeof(err)) == -1 &&
		    err[0] != '\0', "refused: %s (%s)", bad[i], err);
		keytpl_free(&t);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		buf_reset(&b);
		if (check(keytpl_parse(&t, good[i][0], err, sizeof(err)) == 0,
		    "parsed: %s", good[i][0])) {
			keytpl_probe(&t, "X", &b);
			check(buf_cstr(&b) != NULL && strcmp(b.p, good[i][1]) == 0,
			    "probe of %s is %s (got %s)", good[i][0], good[i][1],
			    b.p);
		}
		keytpl_free(&t);
	}
	check(keytpl_parse(&t, "{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}{k}{l}{m}{n}{o}{p}",
	    err, sizeof(err)) == 0 && t.nfields == KEYTPL_MAX_FIELDS,
	    "16 fields");
	keytpl_free(&t);
	check(keytpl_parse(&t, "{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}{k}{l}{m}{n}{o}{p}"
	    "{q}", err, sizeof(err)) == -1, "17 fields refused");
	keytpl_free(&t);
	buf_free(&b);
}

/* Every ASCII byte alone: escaped exactly when Hive escapes it. */
static void
escaping(void)
{
	static const char hive[] = "\"#%'*/:=?\\{[]^";
	struct buf b = BUF_INIT;
	int c, bad = 0;

	section("escaping");
	for (c = 0; c < 0x80; c++) {
		char ch = (char)c, want[4];
		int esc = c < 0x20 || c == 0x7f ||
		    (c != 0 && strchr(hive, c) != NULL);

		buf_reset(&b);
		keytpl_escape(&ch, 1, &b);
		if (esc)
			snprintf(want, sizeof(want), "%%%02X", c);
		else
			snprintf(want, sizeof(want), "%c", c);
		if (c == 0)
			memcpy(want, "%00", 4);
		if (b.len != strlen(want) || memcmp(b.p, want, b.len) != 0) {
			diag("byte 0x%02x", c);
			bad++;
		}
	}
	check(bad == 0, "each ASCII byte escaped as Hive does");
	buf_reset(&b);
	keytpl_escape("\xc3\xa9t\xc3\xa9/\xe2\x82\xac", 9, &b);
	check(buf_cstr(&b) != NULL && strcmp(b.p, "\xc3\xa9t\xc3\xa9%2F\xe2\x82\xac")
	    == 0, "UTF-8 kept, '/' escaped");
	buf_free(&b);
}

/* The bucket of line at time ms by tmpl: its return and text. */
static int
expand(const char *tmpl, const char *line, int64_t ms, struct buf *out,
    const char **why)
{
	struct keytpl t;
	struct jscan *js = jscan_new();
	struct buf tmp = BUF_INIT;
	char err[256];
	int rc = -2;

	if (js != NULL && keytpl_parse(&t, tmpl, err, sizeof(err)) == 0) {
		t.room = 64;
		t.seg_max = 30;
		if (keytpl_want(&t, js) == 0 &&
		    jscan_line(js, line, strlen(line), why) == 0) {
			rc = keytpl_expand(&t, ms, js, &tmp, out, why);
			/* Kept past the template's end for the message. */
			if (rc == 1) {
				static char w[256];

				snprintf(w, sizeof(w), "%s", *why);
				*why = w;
			}
		}
		keytpl_free(&t);
	}
	jscan_free(js);
	buf_free(&tmp);
	return rc;
}

static void
values(void)
{
	static const struct {
		const char *tmpl, *line, *want;   /* want NULL: bad input */
	} cases[] = {
		{ "s={s}/%Y", "{\"s\":\"BTC\"}", "s=BTC/1970" },
		{ "s={s}", "{\"s\":\"a/b%Y\"}", "s=a%2Fb%25Y" },
		{ "s={s}", "{\"s\":\"\"}", "s=" KEYTPL_DEFAULT_PARTITION },
		{ "s={s}", "{\"s\":null}", "s=" KEYTPL_DEFAULT_PARTITION },
		{ "s={s}", "{\"s\":false}", "s=false" },
		{ "s={s}", "{\"s\":1.50}", "s=1.50" },
		{ "s={s}", "{\"s\":\"\\u0000\\n\"}", "s=%00%0A" },
		{ "{a.b}", "{\"a\":{\"b\":\"x\"}}", "x" },
		{ "{a.b}", "{\"a\":null}", NULL },
		{ "{a.b}", "{\"a\":{}}", NULL },
		{ "s={s}", "{\"s\":{}}", NULL },
		{ "s={s}", "{\"s\":[]}", NULL },
		{ "{s}", "{\"s\":\"..\"}", NULL },
		{ "{s}", "{\"s\":\".\"}", NULL },
		{ "x={s}", "{\"s\":\"..\"}", "x=.." },
		{ "{s}", "{\"s\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", NULL },
		{ "{s}/{s}/{s}/{s}", "{\"s\":\"aaaaaaaaaaaaaaaa\"}", NULL },
	};
	struct buf out = BUF_INIT;
	const char *why;
	size_t i;
	int rc;

	section("values");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = "";
		rc = expand(cases[i].tmpl, cases[i].line, 1000, &out, &why);
		if (cases[i].want != NULL)
			check(rc == 0 && strcmp(out.p, cases[i].want) == 0,
			    "%s on %s: %s (got %d %s)", cases[i].tmpl,
			    cases[i].line, cases[i].want, rc,
			    rc == 0 ? out.p : why);
		else
			check(rc == 1 && why[0] != '\0', "%s on %s: bad input (%s)",
			    cases[i].tmpl, cases[i].line, why);
	}
	buf_free(&out);
}

/* The time text is cached by second and follows the time. */
static void
time_cache(void)
{
	struct keytpl t;
	struct jscan *js = jscan_new();
	struct buf tmp = BUF_INIT, out = BUF_INIT;
	const char *why, *line = "{\"s\":1}";
	char err[128];
	int ok;

	section("time");
	ok = js != NULL && keytpl_parse(&t, "%H:%M:%S/{s}", err,
	    sizeof(err)) == 0 && keytpl_want(&t, js) == 0 &&
	    jscan_line(js, line, strlen(line), &why) == 0;
	check(ok && keytpl_expand(&t, 3723000, js, &tmp, &out, &why) == 0 &&
	    strcmp(out.p, "01:02:03/1") == 0, "01:02:03/1");
	check(ok && keytpl_expand(&t, 3723999, js, &tmp, &out, &why) == 0 &&
	    strcmp(out.p, "01:02:03/1") == 0, "same second");
	check(ok && keytpl_expand(&t, 3724000, js, &tmp, &out, &why) == 0 &&
	    strcmp(out.p, "01:02:04/1") == 0, "next second");
	check(ok && keytpl_expand(&t, -1, js, &tmp, &out, &why) == 0 &&
	    strcmp(out.p, "23:59:59/1") == 0, "before the epoch");
	keytpl_free(&t);
	jscan_free(js);
	buf_free(&tmp);
	buf_free(&out);
}

int
main(int argc, char **argv)
{
	if (tap_begin("keytpl_test", argc, argv) != 0)
		return 2;
	grammar();
	escaping();
	values();
	time_cache();
	return tap_end();
}
