#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64.h"
#include "buf.h"
#include "crc32c.h"
#include "msg.h"
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

/* The '<' of the first "<tag>" (or "</tag>" with close) at or after p. */
static const char *
find_tag(const char *p, const char *tag, size_t tl, int close)
{
	for (; (p = strchr(p, '<')) != NULL; p++) {
		const char *q = p + 1;

		if (close && *q++ != '/')
			continue;
		if (strncmp(q, tag, tl) == 0 && q[tl] == '>')
			return p;
	}
	return NULL;
}

int
s3_xml_value(const char *body, const char *tag, struct buf *out)
{
	size_t tl = strlen(tag);
	const char *p, *q;

	if (body == NULL || tl == 0)
		return -1;
	p = find_tag(body, tag, tl, 0);
	if (p == NULL)
		return -1;
	p += tl + 2;
	q = find_tag(p, tag, tl, 1);
	if (q == NULL)
		return -1;
	while (p < q) {
		char tmp[4];
		size_t tlen = 0, used = 0;

		if (*p == '&')
			used = entity(p + 1, tmp, &tlen);
		if (used == 0) {
			buf_char(out, *p++);
			continue;
		}
		buf_add(out, tmp, tlen);
		p += used + 1;
	}
	return out->failed ? -1 : 0;
}

int
s3_upload_id(const char *body, struct buf *out)
{
	buf_reset(out);
	if (s3_xml_value(body, "UploadId", out) != 0 || out->len == 0 ||
	    buf_cstr(out) == NULL)
		return -1;
	return 0;
}

int
s3_uploads_of(const char *body, const char *key, const char *except,
    char ***ids, size_t *n)
{
	struct buf seg = BUF_INIT, k = BUF_INIT, id = BUF_INIT;
	const char *p = body, *q;
	char **v = NULL, **nv, *s;
	int rc = 0;

	*ids = NULL;
	*n = 0;
	while (p != NULL && (p = find_tag(p, "Upload", 6, 0)) != NULL &&
	    (q = find_tag(p, "Upload", 6, 1)) != NULL) {
		buf_reset(&seg);
		buf_reset(&k);
		buf_reset(&id);
		buf_add(&seg, p, (size_t)(q - p));
		p = q;
		if (buf_cstr(&seg) == NULL) {
			rc = -1;
			break;
		}
		if (s3_xml_value(buf_cstr(&seg), "Key", &k) != 0 ||
		    s3_xml_value(buf_cstr(&seg), "UploadId", &id) != 0 ||
		    buf_cstr(&k) == NULL || buf_cstr(&id) == NULL ||
		    strcmp(buf_cstr(&k), key) != 0 || id.len == 0 ||
		    (except != NULL && strcmp(buf_cstr(&id), except) == 0))
			continue;
		if ((nv = realloc(v, (*n + 1) * sizeof(*v))) == NULL ||
		    (s = strdup(buf_cstr(&id))) == NULL) {
			if (nv != NULL)
				v = nv;
			rc = -1;
			break;
		}
		v = nv;
		v[(*n)++] = s;
	}
	buf_free(&seg);
	buf_free(&k);
	buf_free(&id);
	*ids = v;
	return rc;
}

void
s3_xml_copy(const char *body, const char *tag, char *out, size_t outsz)
{
	struct buf b = BUF_INIT;
	const char *v;

	out[0] = '\0';
	/* Made safe before it is cut: a server may quote credentials. */
	if (s3_xml_value(body, tag, &b) == 0 && (v = buf_cstr(&b)) != NULL)
		msg_clean(v, out, outsz);
	buf_free(&b);
}

int
s3_complete_error(const char *body, char *code, size_t codesz, char *msg,
    size_t msgsz)
{
	code[0] = msg[0] = '\0';
	if (body == NULL || strstr(body, "<Error>") == NULL)
		return 0;
	s3_xml_copy(body, "Code", code, codesz);
	s3_xml_copy(body, "Message", msg, msgsz);
	return 1;
}

void
s3_etag_plain(const char *in, char *out, size_t outsz)
{
	size_t n = strlen(in);

	if (outsz == 0)
		return;
	if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
		in++;
		n -= 2;
	}
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

void
s3_complete_etag(const char *body, const char *header_etag, char *out,
    size_t outsz)
{
	struct buf b = BUF_INIT;
	const char *v = NULL;

	if (s3_xml_value(body, "ETag", &b) == 0)
		v = buf_cstr(&b);
	s3_etag_plain(v != NULL ? v : header_etag, out, outsz);
	buf_free(&b);
}

int
s3_etag_md5(const char *etag, unsigned char md5[16])
{
	size_t n = strlen(etag), i;

	if (n == 34 && etag[0] == '"' && etag[33] == '"')
		etag++;
	else if (n != 32)
		return -1;
	for (i = 0; i < 16; i++) {
		char pair[3] = { etag[2 * i], etag[2 * i + 1], '\0' };
		char *end;

		if (strspn(pair, "0123456789abcdefABCDEF") != 2)
			return -1;
		md5[i] = (unsigned char)strtoul(pair, &end, 16);
	}
	return 0;
}

int
s3_object_etag(const unsigned char (*md5s)[16], size_t n, int multipart,
    char *out, size_t outsz)
{
	unsigned char sum[16];
	unsigned int sl = 0;
	int k;

	if (outsz < 33 || n == 0 || (!multipart && n != 1))
		return -1;
	if (!multipart) {
		sigv4_hex(md5s[0], 16, out);
		return 0;
	}
	/* The ETag S3 gives a completed multipart upload: the MD5 of the
	 * parts' binary MD5s, one after the other, and "-" their count. */
	if (n > S3_MAX_PARTS ||
	    EVP_Digest(md5s, n * 16, sum, &sl, EVP_md5(), NULL) != 1)
		return -1;
	sigv4_hex(sum, 16, out);
	k = snprintf(out + 32, outsz - 32, "-%zu", n);
	if (k < 0 || (size_t)k >= outsz - 32)
		return -1;
	return 0;
}

int
s3_digest(const void *data, size_t len, int want_md5, struct s3_digest *d)
{
	unsigned int n = 0;
	static const unsigned char none[1];

	memset(d, 0, sizeof(*d));
	if (data == NULL)
		data = none;
	if (EVP_Digest(data, len, d->sha256, &n, EVP_sha256(), NULL) != 1)
		return -1;
	sigv4_hex(d->sha256, 32, d->sha256_hex);
	b64_encode(d->sha256, 32, d->sha256_b64);
	if (want_md5) {
		if (EVP_Digest(data, len, d->md5, &n, EVP_md5(), NULL) != 1)
			return -1;
		b64_encode(d->md5, 16, d->md5_b64);
		d->has_md5 = 1;
	}
	return 0;
}

void
s3_digest_crc32c(const void *data, size_t len, struct s3_digest *d)
{
	crc32c_b64(crc32c(0, data, len), d->crc32c_b64);
}

/* ---- requests ---- */

void
s3_request_clear(struct s3_request *rq)
{
	if (rq == NULL)
		return;
	free(rq->path);
	buf_free(&rq->query);
	buf_free(&rq->lines);
	buf_free(&rq->xml);
	memset(rq, 0, sizeof(*rq));
}

/* "/KEY", the key URI-encoded once ('/' kept); NULL on no memory. */
static char *
key_path(const char *key)
{
	size_t kl = strlen(key), total = SIGV4_URI_ENCODE_MAX(kl) + 2;
	char *out = malloc(total);

	if (out == NULL)
		return NULL;
	out[0] = '/';
	if (sigv4_uri_encode(key, kl, 0, out + 1, total - 1) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Starts a request: method, bucket and path; the rest is empty. */
static int
req_begin(struct s3_request *rq, const char *method, const char *bucket,
    const char *key, const char **why)
{
	s3_request_clear(rq);
	rq->method = method;
	rq->bucket = bucket;
	rq->path = key_path(key);
	if (rq->path == NULL) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int
s3_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* "Name: value" as the next header line.  A value is sent as it is, so
 * it may hold no control character (no header injection). */
static int
req_header(struct s3_request *rq, const char *name, const char *value,
    const char **why)
{
	if (rq->nheaders >= S3_MAX_HEADERS) {
		*why = "too many headers";
		return -1;
	}
	if (s3_has_ctl(value)) {
		*why = "control character in a header value";
		return -1;
	}
	buf_str(&rq->lines, name);
	buf_lit(&rq->lines, ": ");
	buf_str(&rq->lines, value);
	buf_char(&rq->lines, '\0');
	rq->nheaders++;
	return 0;
}

/* Points headers[] at the lines, once they are all appended (the buffer
 * may move while it grows). */
static int
req_seal(struct s3_request *rq, const char **why)
{
	size_t i, off = 0;

	if (rq->lines.failed || rq->query.failed || rq->xml.failed ||
	    buf_cstr(&rq->query) == NULL) {
		*why = "out of memory";
		return -1;
	}
	for (i = 0; i < rq->nheaders; i++) {
		rq->headers[i] = rq->lines.p + off;
		off += strlen(rq->headers[i]) + 1;
	}
	return 0;
}

/* "name=VALUE" appended to the query, the value encoded. */
static int
req_query(struct s3_request *rq, const char *name, const char *value,
    const char **why)
{
	size_t n = strlen(value), room = SIGV4_URI_ENCODE_MAX(n);

	buf_str(&rq->query, name);
	buf_char(&rq->query, '=');
	if (buf_reserve(&rq->query, room) != 0 ||
	    sigv4_uri_encode(value, n, 1, rq->query.p + rq->query.len,
	    room) != 0) {
		*why = "out of memory";
		return -1;
	}
	rq->query.len += strlen(rq->query.p + rq->query.len);
	return 0;
}

/* "uploadId=ID" (after "partNumber=N&" for a part), the id encoded. */
static int
req_upload_id(struct s3_request *rq, const char *upload_id, int part,
    const char **why)
{
	if (upload_id == NULL || *upload_id == '\0') {
		*why = "empty upload id";
		return -1;
	}
	if (part != 0)
		buf_printf(&rq->query, "partNumber=%d&", part);
	return req_query(rq, "uploadId", upload_id, why);
}

/* The headers an object is created with. */
static int
req_object_headers(struct s3_request *rq, const struct s3_object_opts *o,
    const char **why)
{
	static const char *const names[] = { "Content-Type", "Content-Encoding",
	    "x-amz-server-side-encryption",
	    "x-amz-server-side-encryption-aws-kms-key-id",
	    "x-amz-server-side-encryption-bucket-key-enabled",
	    "x-amz-storage-class", "x-amz-acl", "x-amz-tagging" };
	const char *values[] = { o->content_type, o->content_encoding, o->sse,
	    o->sse_kms_key_id, o->bucket_key ? "true" : NULL,
	    o->storage_class, o->acl, o->tagging };
	struct buf name = BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (values[i] != NULL &&
		    req_header(rq, names[i], values[i], why) != 0)
			return -1;
	for (i = 0; i < o->nmetadata && rc == 0; i++) {
		buf_reset(&name);
		buf_lit(&name, "x-amz-meta-");
		buf_str(&name, o->metadata[i].name);
		if (buf_cstr(&name) == NULL) {
			*why = "out of memory";
			rc = -1;
		} else {
			rc = req_header(rq, name.p, o->metadata[i].value, why);
		}
	}
	buf_free(&name);
	return rc;
}

/* The integrity header of a body, and its payload hash for the signer. */
static int
req_body(struct s3_request *rq, const void *body, size_t len,
    const struct s3_digest *d, enum s3_checksum ck, const char **why)
{
	rq->body = body;
	rq->body_len = len;
	rq->payload_hash = d->sha256_hex;
	if (ck == S3_CHECKSUM_SHA256)
		return req_header(rq, "x-amz-checksum-sha256", d->sha256_b64,
		    why);
	if (ck == S3_CHECKSUM_MD5) {
		if (!d->has_md5) {
			*why = "no MD5 for Content-MD5";
			return -1;
		}
		return req_header(rq, "Content-MD5", d->md5_b64, why);
	}
	if (ck == S3_CHECKSUM_CRC32C) {
		if (d->crc32c_b64[0] == '\0') {
			*why = "no CRC-32C for x-amz-checksum-crc32c";
			return -1;
		}
		/* x-amz-sdk-checksum-algorithm too, as the AWS SDKs send it:
		 * S3 ignores it beside the checksum itself, and servers that
		 * stand in for S3 (moto) keep the checksum only with it. */
		if (req_header(rq, "x-amz-sdk-checksum-algorithm", "CRC32C",
		    why) != 0)
			return -1;
		return req_header(rq, "x-amz-checksum-crc32c", d->crc32c_b64,
		    why);
	}
	return 0;
}

int
s3_put_object(struct s3_request *rq, const char *bucket, const char *key,
    const struct s3_object_opts *o, const void *body, size_t len,
    const struct s3_digest *d, const char **why)
{
	if (req_begin(rq, "PUT", bucket, key, why) != 0 ||
	    req_object_headers(rq, o, why) != 0 ||
	    req_body(rq, body, len, d, o->checksum, why) != 0)
		return -1;
	if (o->if_none_match && req_header(rq, "If-None-Match", "*", why) != 0)
		return -1;
	return req_seal(rq, why);
}

int
s3_expect_owner(struct s3_request *rq, const char *account, const char **why)
{
	if (req_header(rq, "x-amz-expected-bucket-owner", account, why) != 0)
		return -1;
	return req_seal(rq, why);
}

int
s3_head_object(struct s3_request *rq, const char *bucket, const char *key,
    const char **why)
{
	if (req_begin(rq, "HEAD", bucket, key, why) != 0)
		return -1;
	return req_seal(rq, why);
}

int
s3_create_multipart(struct s3_request *rq, const char *bucket,
    const char *key, const struct s3_object_opts *o, const char **why)
{
	if (req_begin(rq, "POST", bucket, key, why) != 0)
		return -1;
	buf_lit(&rq->query, "uploads");
	if (req_object_headers(rq, o, why) != 0)
		return -1;
	if (o->checksum == S3_CHECKSUM_SHA256 &&
	    req_header(rq, "x-amz-checksum-algorithm", "SHA256", why) != 0)
		return -1;
	if (o->checksum == S3_CHECKSUM_CRC32C &&
	    req_header(rq, "x-amz-checksum-algorithm", "CRC32C", why) != 0)
		return -1;
	return req_seal(rq, why);
}

int
s3_upload_part(struct s3_request *rq, const char *bucket, const char *key,
    const char *upload_id, int number, const void *body, size_t len,
    const struct s3_digest *d, enum s3_checksum ck, const char **why)
{
	if (number < 1 || number > S3_MAX_PARTS) {
		*why = "part number outside 1..10000";
		return -1;
	}
	if (req_begin(rq, "PUT", bucket, key, why) != 0 ||
	    req_upload_id(rq, upload_id, number, why) != 0 ||
	    req_header(rq, "Content-Type", "application/octet-stream",
	    why) != 0 || req_body(rq, body, len, d, ck, why) != 0)
		return -1;
	return req_seal(rq, why);
}

/* s[0..) as XML character data: & < > escaped. */
static void
xml_text(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '&')
			buf_lit(b, "&amp;");
		else if (*s == '<')
			buf_lit(b, "&lt;");
		else if (*s == '>')
			buf_lit(b, "&gt;");
		else
			buf_char(b, *s);
	}
}

/* The body of CompleteMultipartUpload, as the S3 API reference gives it. */
static int
complete_xml(struct buf *b, const struct s3_part *parts, size_t n,
    enum s3_checksum ck, const char **why)
{
	size_t i;

	if (n == 0 || n > S3_MAX_PARTS) {
		*why = "no parts, or more than 10000";
		return -1;
	}
	buf_lit(b, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/"
	    "doc/2006-03-01/\">");
	for (i = 0; i < n; i++) {
		const struct s3_part *p = &parts[i];

		/* S3 wants them in ascending order. */
		if (p->number < 1 || p->number > S3_MAX_PARTS ||
		    (i > 0 && p->number <= parts[i - 1].number)) {
			*why = "part numbers not ascending within 1..10000";
			return -1;
		}
		buf_printf(b, "<Part><PartNumber>%d</PartNumber><ETag>",
		    p->number);
		xml_text(b, p->etag);
		buf_lit(b, "</ETag>");
		if (ck == S3_CHECKSUM_SHA256 && p->sha256_b64[0] != '\0') {
			buf_lit(b, "<ChecksumSHA256>");
			xml_text(b, p->sha256_b64);
			buf_lit(b, "</ChecksumSHA256>");
		}
		if (ck == S3_CHECKSUM_CRC32C && p->crc32c_b64[0] != '\0') {
			buf_lit(b, "<ChecksumCRC32C>");
			xml_text(b, p->crc32c_b64);
			buf_lit(b, "</ChecksumCRC32C>");
		}
		buf_lit(b, "</Part>");
	}
	buf_lit(b, "</CompleteMultipartUpload>");
	return 0;
}

int
s3_complete_multipart(struct s3_request *rq, const char *bucket,
    const char *key, const char *upload_id, const struct s3_part *parts,
    size_t n, const struct s3_object_opts *o, const char **why)
{
	if (req_begin(rq, "POST", bucket, key, why) != 0 ||
	    req_upload_id(rq, upload_id, 0, why) != 0 ||
	    req_header(rq, "Content-Type", "application/xml", why) != 0)
		return -1;
	if (o->if_none_match && req_header(rq, "If-None-Match", "*", why) != 0)
		return -1;
	if (complete_xml(&rq->xml, parts, n, o->checksum, why) != 0)
		return -1;
	if (req_seal(rq, why) != 0)
		return -1;
	rq->body = rq->xml.p;
	rq->body_len = rq->xml.len;
	return 0;
}

int
s3_list_multipart(struct s3_request *rq, const char *bucket,
    const char *key, const char **why)
{
	if (req_begin(rq, "GET", bucket, "", why) != 0 ||
	    req_query(rq, "prefix", key, why) != 0)
		return -1;
	buf_lit(&rq->query, "&uploads");
	return req_seal(rq, why);
}

int
s3_abort_multipart(struct s3_request *rq, const char *bucket,
    const char *key, const char *upload_id, const char **why)
{
	if (req_begin(rq, "DELETE", bucket, key, why) != 0 ||
	    req_upload_id(rq, upload_id, 0, why) != 0)
		return -1;
	return req_seal(rq, why);
}
