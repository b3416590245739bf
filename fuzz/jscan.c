/*
 * jscan: the record scanner (common/jscan.c) and field paths
 * (common/jfield.c).  Input: a field path, a newline, a record line.  The
 * scanner must never read past the line, and a line it accepts must be
 * one json-c's strict parser accepts too (the scanner is the validating
 * one: it may refuse more, never less).
 */
#include <math.h>

#include "buf.h"
#include "jfield.h"
#include "jscan.h"
#include "fuzz.h"

/* A number the scanner converted (its fast path or strtod) is exactly
 * what strtod gives for the token, sign of zero included ("-0" as an
 * integer is 0, as json-c reads it). */
static void
same_as_strtod(const struct jscan_field *f, double v)
{
	char *tok = fz_str((const uint8_t *)f->tok, f->len);
	double want = strtod(tok, NULL);

	if (strpbrk(tok, ".eE") == NULL)
		want += 0.0;
	if (v != want || signbit(v) != signbit(want))
		abort();
	free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jf_parser jp;
	static int init;
	struct jscan *s = jscan_new();
	struct jf_path p = { 0 }, q = { 0 };
	struct buf tmp = BUF_INIT;
	const struct jscan_field *f;
	const uint8_t *rest;
	size_t hn, rn;
	char *spec, *line;
	const char *why, *str;
	double v;
	int64_t ms;
	size_t n;
	int ip = -1, iq = -1;

	if (!init) {
		if (jf_parser_init(&jp) != 0)
			abort();
		init = 1;
	}
	if (s == NULL)
		abort();
	rest = fz_split(data, size, &hn, &rn);
	spec = fz_str(data, hn > 64 ? 64 : hn);
	/* The rest exactly, in a buffer of its own size: ASan sees any read
	 * past the line. */
	line = malloc(rn ? rn : 1);
	if (line == NULL)
		abort();
	memcpy(line, rest, rn);
	if (jf_path_init(&p, spec) == 0)
		ip = jscan_want(s, &p);
	if (jf_path_init(&q, "timestamp") == 0)
		iq = jscan_want(s, &q);
	if (jscan_line(s, line, rn, &why) == 0) {
		if (!jscan_is_control(s)) {
			struct json_object *o = jf_parse_object(&jp, line, rn,
			    &why);

			if (o == NULL)
				abort();        /* accepted what json-c refuses */
			json_object_put(o);
		}
		for (int i = 0; i < 2; i++) {
			int idx = i == 0 ? ip : iq;

			if (idx < 0 || (f = jscan_get(s, idx)) == NULL)
				continue;
			if (jscan_number(f, &v, &why) == 0)
				same_as_strtod(f, v);
			buf_reset(&tmp);
			(void)jscan_string(f, &tmp, &str, &n);
			buf_reset(&tmp);
			(void)jscan_time(f, KPTIME_AUTO, &tmp, &ms, &why);
			buf_reset(&tmp);
			jscan_text(f, &tmp);
		}
	}
	(void)jscan_kind(s, line, rn, &why);
	buf_free(&tmp);
	jf_path_free(&p);
	jf_path_free(&q);
	jscan_free(s);
	free(spec);
	free(line);
	return 0;
}
