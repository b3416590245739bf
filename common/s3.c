#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "sigv4.h"

int
s3_bucket_ok(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-'))
			return 0;
		if (c == '.' && i > 0 && b[i - 1] == '.')
			return 0;
	}
	if (b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
		return 0;
	return 1;
}

int
s3_key_ok(const char *key, size_t len, const char **why)
{
	size_t i, seg = 0;

	if (len == 0) {
		*why = "empty key";
		return 0;
	}
	if (len > S3_KEY_MAX) {
		*why = "key longer than 1024 bytes";
		return 0;
	}
	for (i = 0; i <= len; i++) {
		if (i < len && (unsigned char)key[i] < 0x20) {
			*why = "control character in key";
			return 0;
		}
		if (i < len && key[i] == 0x7f) {
			*why = "control character in key";
			return 0;
		}
		if (i == len || key[i] == '/') {
			size_t n = i - seg;

			if (n == 0) {
				*why = "empty path segment in key";
				return 0;
			}
			if ((n == 1 && key[seg] == '.') ||
			    (n == 2 && key[seg] == '.' && key[seg + 1] == '.')) {
				*why = "'.' or '..' segment in key";
				return 0;
			}
			seg = i + 1;
		}
	}
	return 1;
}

int
s3_uri_parse(const char *s, struct s3_uri *u, char *err, size_t errsz)
{
	const char *b, *slash, *why;
	size_t blen, plen;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, "s3://", 5) != 0) {
		snprintf(err, errsz, "not an s3:// URI: %s", s);
		return -1;
	}
	b = s + 5;
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	u->bucket = strndup(b, blen);
	if (u->bucket == NULL)
		goto nomem;
	if (!s3_bucket_ok(u->bucket)) {
		snprintf(err, errsz, "not a valid bucket name: '%s'", u->bucket);
		goto fail;
	}
	plen = slash ? strlen(slash + 1) : 0;
	if (plen > 0) {
		const char *p = slash + 1;
		size_t body = p[plen - 1] == '/' ? plen - 1 : plen;

		if (!s3_key_ok(p, body, &why)) {
			snprintf(err, errsz, "bad prefix '%s': %s", p, why);
			goto fail;
		}
		u->prefix = malloc(body + 2);
		if (u->prefix == NULL)
			goto nomem;
		memcpy(u->prefix, p, body);
		u->prefix[body] = '/';
		u->prefix[body + 1] = '\0';
	} else {
		u->prefix = strdup("");
		if (u->prefix == NULL)
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errsz, "out of memory");
fail:
	s3_uri_clear(u);
	return -1;
}

void
s3_uri_clear(struct s3_uri *u)
{
	if (u == NULL)
		return;
	free(u->bucket);
	free(u->prefix);
	u->bucket = u->prefix = NULL;
}

char *
s3_object_path(const char *bucket, const char *key)
{
	size_t kl = strlen(key), bl = strlen(bucket);
	size_t encsz = SIGV4_URI_ENCODE_MAX(kl), total = bl + encsz + 3;
	char *out = malloc(total);

	if (out == NULL)
		return NULL;
	out[0] = '/';
	memcpy(out + 1, bucket, bl);
	out[bl + 1] = '/';
	if (sigv4_uri_encode(key, kl, 0, out + bl + 2, total - bl - 2) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Decodes one entity at p (after '&'); returns its length or 0. */
static size_t
entity(const char *p, char *out, size_t *outlen)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' },
		{ "quot;", '"' }, { "apos;", '\'' },
	};
	size_t i;

	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		size_t n = strlen(ents[i].name);

		if (strncmp(p, ents[i].name, n) == 0) {
			out[0] = ents[i].c;
			*outlen = 1;
			return n;
		}
	}
	if (p[0] == '#') {
		unsigned long cp;
		char *end;

		cp = p[1] == 'x' ? strtoul(p + 2, &end, 16) :
		    strtoul(p + 1, &end, 10);
		if (*end != ';' || cp == 0 || cp > 0x10ffff)
			return 0;
		/* UTF-8 of the code point. */
		if (cp < 0x80) {
			out[0] = (char)cp;
			*outlen = 1;
		} else if (cp < 0x800) {
			out[0] = (char)(0xc0 | (cp >> 6));
			out[1] = (char)(0x80 | (cp & 0x3f));
			*outlen = 2;
		} else if (cp < 0x10000) {
			out[0] = (char)(0xe0 | (cp >> 12));
			out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[2] = (char)(0x80 | (cp & 0x3f));
			*outlen = 3;
		} else {
			out[0] = (char)(0xf0 | (cp >> 18));
			out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[3] = (char)(0x80 | (cp & 0x3f));
			*outlen = 4;
		}
		return (size_t)(end - p) + 1;
	}
	return 0;
}

int
s3_xml_value(const char *body, const char *tag, char *out, size_t outsz)
{
	char open[80], close[80];
	const char *p, *q;
	size_t o = 0;

	if (body == NULL || outsz == 0)
		return -1;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	p = strstr(body, open);
	if (p == NULL)
		return -1;
	p += strlen(open);
	q = strstr(p, close);
	if (q == NULL)
		return -1;
	while (p < q) {
		char tmp[4];
		size_t tl = 1, used = 0;

		if (*p == '&')
			used = entity(p + 1, tmp, &tl);
		if (used == 0) {
			tmp[0] = *p;
			tl = 1;
			p++;
		} else {
			p += used + 1;
		}
		if (o + tl >= outsz)
			return -1;
		memcpy(out + o, tmp, tl);
		o += tl;
	}
	out[o] = '\0';
	return 0;
}
