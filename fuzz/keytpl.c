/*
 * keytpl: s3-put's key templates (common/keytpl.c).  Input: a template,
 * a newline, a record line.  A template that parses expands, for any
 * record, to a bucket that is a safe key piece (no control character, no
 * empty, "." or ".." segment, within the room given) or to a fault of the
 * record; a value never adds a '/' of its own.
 */
#include "buf.h"
#include "jscan.h"
#include "keytpl.h"
#include "s3.h"
#include "fuzz.h"

static size_t
count(const char *s, size_t n, char c)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keytpl t;
	struct jscan *js = jscan_new();
	struct buf tmp = BUF_INIT, out = BUF_INIT, probe = BUF_INIT;
	const uint8_t *rest;
	size_t hn, rn;
	char *tmpl, *line, err[256];
	const char *why;
	int rc;

	if (js == NULL)
		abort();
	rest = fz_split(data, size, &hn, &rn);
	tmpl = fz_str(data, hn > 256 ? 256 : hn);
	line = malloc(rn ? rn : 1);
	if (line == NULL)
		abort();
	memcpy(line, rest, rn);
	if (keytpl_parse(&t, tmpl, err, sizeof(err)) != 0)
		goto out;
	keytpl_probe(&t, "x", &probe);
	t.room = 300;
	t.seg_max = 100;
	if (keytpl_want(&t, js) != 0 || jscan_line(js, line, rn, &why) != 0)
		goto out;
	rc = keytpl_expand(&t, 1723161255342LL, js, &tmp, &out, &why);
	if (rc == 0 && out.len > 0) {
		/* The bucket's slashes are the template's own. */
		const char *p = buf_cstr(&probe);

		if (out.len > t.room || !s3_key_ok(out.p, out.len, &why) ||
		    p == NULL || count(out.p, out.len, '/') >
		    count(p, probe.len, '/') + 2 * count(p, probe.len, '%'))
			abort();
	}
	if (rc == 1 && why[0] == '\0')
		abort();
out:
	keytpl_free(&t);
	jscan_free(js);
	buf_free(&tmp);
	buf_free(&out);
	buf_free(&probe);
	free(tmpl);
	free(line);
	return 0;
}
