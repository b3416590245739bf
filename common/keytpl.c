#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "jscan.h"
#include "keytpl.h"
#include "kptime.h"
#include "s3.h"

/* The longest field path in a placeholder. */
#define PATH_MAX_LEN 256

/* FileUtils.escapePathName's set (Apache Hive): 0x00-0x1F, 0x7F and
 * these; the Windows-only additions (' ', '<', '>', '|') are not. */
static int
hive_escaped(unsigned char c)
{
	return c < 0x20 || c == 0x7f || (c < 0x80 &&
	    strchr("\"#%'*/:=?\\{[]^", c) != NULL && c != '\0');
}

void
keytpl_escape(const char *s, size_t n, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (hive_escaped(c)) {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			buf_add(out, e, 3);
		} else {
			buf_char(out, (char)c);
		}
	}
}

void
keytpl_free(struct keytpl *t)
{
	size_t i;

	for (i = 0; t->p != NULL && i < t->n; i++) {
		free(t->p[i].text);
		jf_path_free(&t->p[i].path);
	}
	free(t->p);
	buf_free(&t->cache);
	memset(t, 0, sizeof(*t));
}

static struct keytpl_piece *
add_piece(struct keytpl *t)
{
	struct keytpl_piece *np = realloc(t->p, (t->n + 1) * sizeof(*np));

	if (np == NULL)
		return NULL;
	t->p = np;
	memset(&np[t->n], 0, sizeof(*np));
	np[t->n].field = -1;
	return &np[t->n++];
}

/* The text gathered so far becomes a piece.  0, or -1. */
static int
end_text(struct keytpl *t, struct buf *text)
{
	struct keytpl_piece *p;

	if (text->len == 0)
		return 0;
	p = add_piece(t);
	if (p == NULL || (p->text = buf_take(text)) == NULL)
		return -1;
	return 0;
}

/* A '%' strftime would pair with what follows the text: an odd run of
 * them at its end. */
static int
dangling_percent(const struct buf *text)
{
	size_t n = 0;

	while (n < text->len && text->p[text->len - 1 - n] == '%')
		n++;
	return n % 2;
}

/* The placeholder whose path is s[0..n).  0, or -1 with err. */
static int
placeholder(struct keytpl *t, const char *s, size_t n, char *err,
    size_t errsz)
{
	struct keytpl_piece *p;
	char path[PATH_MAX_LEN + 1];
	size_t i;

	if (n == 0 || n > PATH_MAX_LEN) {
		snprintf(err, errsz, "an empty or too long field path in {}");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '{' ||
		    s[i] == '%') {
			snprintf(err, errsz, "a '{', '%%' or control character "
			    "in field path {%.*s}", (int)n, s);
			return -1;
		}
	}
	if (t->nfields >= KEYTPL_MAX_FIELDS) {
		snprintf(err, errsz, "more than %d fields", KEYTPL_MAX_FIELDS);
		return -1;
	}
	memcpy(path, s, n);
	path[n] = '\0';
	p = add_piece(t);
	if (p == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (jf_path_init(&p->path, path) != 0) {
		snprintf(err, errsz, "an empty segment in field path {%s}",
		    path);
		return -1;
	}
	t->nfields++;
	return 0;
}

int
keytpl_parse(struct keytpl *t, const char *tmpl, char *err, size_t errsz)
{
	struct buf text = BUF_INIT;
	const char *s = tmpl, *e;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->sec = INT64_MIN;
	while (*s != '\0') {
		if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
			buf_char(&text, *s);
			s += 2;
		} else if (*s == '}') {
			snprintf(err, errsz, "a '}' without '{' (a literal brace "
			    "is written }})");
			goto out;
		} else if (*s == '{') {
			e = strchr(s + 1, '}');
			if (e == NULL) {
				snprintf(err, errsz, "a '{' without '}' (a literal "
				    "brace is written {{)");
				goto out;
			}
			if (dangling_percent(&text)) {
				snprintf(err, errsz, "a '%%' alone before '{'");
				goto out;
			}
			if (end_text(t, &text) != 0) {
				snprintf(err, errsz, "out of memory");
				goto out;
			}
			if (placeholder(t, s + 1, (size_t)(e - s - 1), err,
			    errsz) != 0)
				goto out;
			s = e + 1;
		} else {
			buf_char(&text, *s++);
		}
	}
	if (end_text(t, &text) != 0) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	buf_free(&text);
	if (rc != 0)
		keytpl_free(t);
	return rc;
}

void
keytpl_probe(const struct keytpl *t, const char *val, struct buf *out)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		buf_str(out, t->p[i].text != NULL ? t->p[i].text : val);
}

int
keytpl_want(struct keytpl *t, struct jscan *js)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (t->p[i].text != NULL)
			continue;
		t->p[i].field = jscan_want(js, &t->p[i].path);
		if (t->p[i].field < 0)
			return -1;
	}
	return 0;
}

/* The text pieces formatted for the second of ms.  0, or -1. */
static int
format_texts(struct keytpl *t, int64_t ms)
{
	int64_t sec = kptime_floor_div(ms, 1000);
	time_t ts = (time_t)sec;
	struct tm tm;
	size_t i;

	if (sec == t->sec)
		return 0;
	t->sec = INT64_MIN;
	if (gmtime_r(&ts, &tm) == NULL)
		return -1;
	buf_reset(&t->cache);
	for (i = 0; i < t->n; i++) {
		struct keytpl_piece *p = &t->p[i];
		char out[512];
		size_t n;

		if (p->text == NULL)
			continue;
		n = strftime(out, sizeof(out), p->text, &tm);
		if (n == 0)
			return -1;
		p->off = t->cache.len;
		p->len = n;
		buf_add(&t->cache, out, n);
	}
	if (t->cache.failed)
		return -1;
	t->sec = sec;
	return 0;
}

static int
fault(struct keytpl *t, const struct keytpl_piece *p, const char *why)
{
	snprintf(t->why, sizeof(t->why), "%.120s: %s", p->path.text, why);
	return 1;
}

/* Placeholder p's value, escaped, onto out.  0, or 1 (the record's
 * fault, t->why), or -1. */
static int
value(struct keytpl *t, const struct keytpl_piece *p,
    const struct jscan *js, struct buf *tmp, struct buf *out)
{
	const struct jscan_field *f = jscan_get(js, p->field);
	const char *s;
	size_t n;

	switch (f->type) {
	case JSCAN_MISSING:
	case JSCAN_NULL_PATH:
		return fault(t, p, "missing");
	case JSCAN_NULL:
		buf_lit(out, KEYTPL_DEFAULT_PARTITION);
		return 0;
	case JSCAN_FALSE:
	case JSCAN_TRUE:
	case JSCAN_NUMBER:
		/* A number's JSON text has nothing Hive escapes. */
		buf_add(out, f->tok, f->len);
		return 0;
	case JSCAN_STRING:
		buf_reset(tmp);
		if (jscan_string(f, tmp, &s, &n) != 0)
			return -1;
		if (n == 0)
			buf_lit(out, KEYTPL_DEFAULT_PARTITION);
		else
			keytpl_escape(s, n, out);
		return 0;
	case JSCAN_OBJECT:
	case JSCAN_ARRAY:
		break;
	}
	return fault(t, p, "an object or array cannot name a partition");
}

/* The bucket out holds is a key piece the caller can use.  0, or 1. */
static int
bucket_ok(struct keytpl *t, const struct buf *out)
{
	const char *why = "", *seg, *end = out->p + out->len;

	if (out->len == 0)
		return 0;
	if (t->room > 0 && out->len > t->room) {
		snprintf(t->why, sizeof(t->why), "bucket: %zu bytes, over the "
		    "%zu the object key has room for", out->len, t->room);
		return 1;
	}
	if (!s3_key_ok(out->p, out->len, &why)) {
		snprintf(t->why, sizeof(t->why), "bucket: %s", why);
		return 1;
	}
	for (seg = out->p; t->seg_max > 0 && seg < end;) {
		const char *sl = memchr(seg, '/', (size_t)(end - seg));
		size_t n = (size_t)((sl != NULL ? sl : end) - seg);

		if (n > t->seg_max) {
			snprintf(t->why, sizeof(t->why), "bucket: a segment of "
			    "%zu bytes, over %zu", n, t->seg_max);
			return 1;
		}
		seg += n + 1;
	}
	return 0;
}

int
keytpl_expand(struct keytpl *t, int64_t ms, const struct jscan *js,
    struct buf *tmp, struct buf *out, const char **why)
{
	size_t i;
	int rc;

	*why = t->why;
	t->why[0] = '\0';
	buf_reset(out);
	if (format_texts(t, ms) != 0)
		return -1;
	for (i = 0; i < t->n; i++) {
		const struct keytpl_piece *p = &t->p[i];

		if (p->text != NULL) {
			buf_add(out, t->cache.p + p->off, p->len);
			continue;
		}
		rc = value(t, p, js, tmp, out);
		if (rc != 0)
			return rc;
	}
	if (buf_cstr(out) == NULL)
		return -1;
	return bucket_ok(t, out);
}
