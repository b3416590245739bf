/*
 * sigv4.c - AWS Signature Version 4, in the four steps AWS documents:
 *
 *   1. canonical_request()  "Create a canonical request"
 *   2. string_to_sign()     "Create a hash of the canonical request" and
 *                           "Create a string to sign"
 *   3. signing_key()        "Derive a signing key"
 *   4. signature()          "Calculate the signature"
 *
 * (AWS General Reference, "Create a signed AWS API request"; Amazon S3 API
 * Reference, "Signature Calculations for the Authorization Header" for the
 * S3 differences.)  sign_request() strings them together for the header and
 * the presigned-URL forms.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define SHA256_LEN 32
#define AMZ_DATE_LEN 16   /* 20150830T123600Z */
#define DATE_STAMP_LEN 8  /* 20150830 */
#define MAX_EXPIRES 604800UL

/* ---- character classes: ASCII only, never the locale ---- */

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static int
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* A scope part (region, service, key id): printable, no '/', ',' or space. */
static int
valid_scope_part(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || c == '/' || c == ',' || c == '=')
			return 0;
	}
	return 1;
}

/* A header value we may emit: no control characters (no CR/LF injection). */
static int
valid_header_value(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* An HTTP token (RFC 9110 5.6.2), for header names and the method. */
static int
valid_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || (c != '\0' && strchr(extra, c))))
			return 0;
	}
	return 1;
}

static void
buf_uri_encode(struct buf *b, const char *in, size_t len, int encode_slash)
{
	static const char digits[] = "0123456789ABCDEF";
	char esc[3];
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (is_unreserved(c) || (c == '/' && !encode_slash)) {
			buf_char(b, (char)c);
		} else {
			esc[0] = '%';
			esc[1] = digits[c >> 4];
			esc[2] = digits[c & 0x0f];
			buf_add(b, esc, 3);
		}
	}
}

/* Percent-decodes in[0..len) into b; -1 (EINVAL) on a malformed escape. */
static int
pct_decode(const char *in, size_t len, struct buf *b)
{
	size_t i;
	int hi, lo, ret = -1;

	for (i = 0; i < len; i++) {
		if (in[i] != '%') {
			buf_char(b, in[i]);
			continue;
		}
		hi = len - i < 3 ? -1 : hex_value((unsigned char)in[i + 1]);
		lo = len - i < 3 ? -1 : hex_value((unsigned char)in[i + 2]);
		if (hi < 0 || lo < 0) {
			errno = EINVAL;
			goto out;
		}
		buf_char(b, (char)(hi << 4 | lo));
		i += 2;
	}
	ret = 0;
out:
	return ret;
}

/* ---- exported helpers ---- */

void
sigv4_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

int
sigv4_sha256_hex(const void *data, size_t len,
    char out[SIGV4_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const unsigned char empty[1];
	int ret = -1;

	if (out == NULL || (data == NULL && len > 0)) {
		errno = EINVAL;
		goto out;
	}
	if (data == NULL)
		data = empty;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != SHA256_LEN) {
		out[0] = '\0';
		errno = EIO;
		goto out;
	}
	sigv4_hex(md, SHA256_LEN, out);
	ret = 0;
out:
	return ret;
}

int
sigv4_uri_encode(const char *in, size_t len, int encode_slash, char *out,
    size_t outsize)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i, o = 0;
	int ret = -1;

	if (out == NULL || outsize == 0 || (in == NULL && len > 0)) {
		errno = EINVAL;
		goto out;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (is_unreserved(c) || (c == '/' && !encode_slash)) {
			if (outsize - o < 2)
				goto range;
			out[o++] = (char)c;
		} else {
			if (outsize - o < 4)
				goto range;
			out[o++] = '%';
			out[o++] = digits[c >> 4];
			out[o++] = digits[c & 0x0f];
		}
	}
	out[o] = '\0';
	ret = 0;
	goto out;
range:
	out[0] = '\0';
	errno = ERANGE;
out:
	return ret;
}

static int
hmac_sha256(const unsigned char *key, size_t keylen, const char *data,
    size_t len, unsigned char out[SHA256_LEN])
{
	unsigned int outlen = 0;
	int ret = -1;

	if (keylen > 0x7fffffff ||
	    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data,
	    len, out, &outlen) == NULL || outlen != SHA256_LEN) {
		errno = EIO;
		goto out;
	}
	ret = 0;
out:
	return ret;
}

/* ---- step 1: the canonical request ---- */

/*
 * Canonical URI.  S3: the path as sent.  Others: dot segments and empty
 * segments removed when normalising (RFC 3986 5.2.4, plus "//" -> "/" as the
 * suite's normalize-path cases show), then each byte outside the
 * unreserved set encoded once more.
 */
static int
canonical_uri(const char *path, unsigned flags, struct buf *b)
{
	struct buf norm = {0};
	const char *seg, *end, *p;
	size_t n, cut;
	int trailing = 0, ret = -1;

	if (*path == '\0') {
		buf_char(b, '/');
		ret = 0;
		goto out;
	}
	if (flags & SIGV4_S3) {
		buf_str(b, path);
		ret = 0;
		goto out;
	}
	if (path[0] != '/') {
		errno = EINVAL;
		goto out;
	}
	if (!(flags & SIGV4_NORMALIZE_PATH)) {
		buf_uri_encode(b, path, strlen(path), 0);
		ret = 0;
		goto out;
	}
	end = path + strlen(path);
	for (p = path; p < end; p = seg + n) {
		seg = p + 1;  /* p is at a '/' */
		n = strcspn(seg, "/");
		trailing = 0;
		if (n == 0 || (n == 1 && seg[0] == '.')) {
			trailing = 1;
		} else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			/* Drop the last segment; at the root there is none. */
			cut = norm.len;
			while (cut > 0 && norm.p[cut - 1] != '/')
				cut--;
			if (cut > 0)
				cut--;
			norm.len = cut;
			trailing = 1;
		} else {
			buf_char(&norm, '/');
			buf_add(&norm, seg, n);
		}
	}
	if (norm.len == 0 || trailing)
		buf_char(&norm, '/');
	if (norm.failed) {
		errno = ENOMEM;
		goto out;
	}
	buf_uri_encode(b, norm.p, norm.len, 0);
	ret = 0;
out:
	buf_free(&norm);
	return ret;
}

struct qparam {
	char *name;   /* encoded */
	char *value;  /* encoded */
};

struct qlist {
	struct qparam *v;
	size_t n;
	size_t cap;
};

static void
qlist_free(struct qlist *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->v[i].name);
		free(q->v[i].value);
	}
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/* Appends name=value, both given decoded (raw bytes). */
static int
qlist_add(struct qlist *q, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	struct buf bn = {0}, bv = {0};
	struct qparam *nv;
	size_t cap;
	int ret = -1;

	if (q->n == q->cap) {
		cap = q->cap ? q->cap * 2 : 8;
		nv = realloc(q->v, cap * sizeof(*nv));
		if (nv == NULL) {
			errno = ENOMEM;
			goto out;
		}
		q->v = nv;
		q->cap = cap;
	}
	buf_uri_encode(&bn, name, nlen, 1);
	buf_uri_encode(&bv, value, vlen, 1);
	q->v[q->n].name = buf_take(&bn);
	q->v[q->n].value = buf_take(&bv);
	if (q->v[q->n].name == NULL || q->v[q->n].value == NULL) {
		free(q->v[q->n].name);
		free(q->v[q->n].value);
		errno = ENOMEM;
		goto out;
	}
	q->n++;
	ret = 0;
out:
	buf_free(&bn);
	buf_free(&bv);
	return ret;
}

/* Splits a raw query on '&' and '=', decodes each part and adds it. */
static int
qlist_parse(struct qlist *q, const char *query)
{
	struct buf name = {0}, value = {0};
	const char *p, *amp, *eq;
	size_t n;
	int ret = -1;

	for (p = query; p != NULL && *p != '\0'; p = *amp ? amp + 1 : amp) {
		n = strcspn(p, "&");
		amp = p + n;
		if (n == 0)
			continue;  /* "a=1&&b=2": an empty pair is no parameter */
		eq = memchr(p, '=', n);
		buf_free(&name);
		buf_free(&value);
		if (pct_decode(p, eq ? (size_t)(eq - p) : n, &name) < 0)
			goto out;
		if (eq && pct_decode(eq + 1, (size_t)(amp - eq - 1), &value) < 0)
			goto out;
		if (name.failed || value.failed) {
			errno = ENOMEM;
			goto out;
		}
		if (qlist_add(q, name.p ? name.p : "", name.len,
		    value.p ? value.p : "", value.len) < 0)
			goto out;
	}
	ret = 0;
out:
	buf_free(&name);
	buf_free(&value);
	return ret;
}

static int
qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/* Sorted by encoded name, then value, joined as name=value&... */
static void
canonical_query(struct qlist *q, struct buf *b)
{
	size_t i;

	if (q->n > 1)
		qsort(q->v, q->n, sizeof(*q->v), qparam_cmp);
	for (i = 0; i < q->n; i++) {
		if (i > 0)
			buf_char(b, '&');
		buf_str(b, q->v[i].name);
		buf_char(b, '=');
		buf_str(b, q->v[i].value);
	}
}

struct chdr {
	char *name;    /* lowercase */
	char *value;   /* trimmed, blanks collapsed */
	size_t order;  /* position given, so that equal names keep it */
};

struct hlist {
	struct chdr *v;
	size_t n;
	size_t cap;
};

static void
hlist_free(struct hlist *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	memset(h, 0, sizeof(*h));
}

static int
hlist_add(struct hlist *h, const char *name, const char *value)
{
	struct buf bn = {0}, bv = {0};
	struct chdr *nv;
	const char *p, *end;
	size_t cap;
	int ret = -1;

	if (h->n == h->cap) {
		cap = h->cap ? h->cap * 2 : 8;
		nv = realloc(h->v, cap * sizeof(*nv));
		if (nv == NULL) {
			errno = ENOMEM;
			goto out;
		}
		h->v = nv;
		h->cap = cap;
	}
	for (p = name; *p; p++)
		buf_char(&bn, ascii_lower(*p));
	/* Trim, and collapse each run of blanks (an obs-fold included) to a
	 * single space: "Trimall" of the SigV4 canonical headers. */
	p = value;
	end = value + strlen(value);
	while (p < end && is_blank((unsigned char)*p))
		p++;
	while (end > p && is_blank((unsigned char)end[-1]))
		end--;
	for (; p < end; p++) {
		if (is_blank((unsigned char)*p)) {
			if (!is_blank((unsigned char)p[-1]))
				buf_char(&bv, ' ');
		} else {
			buf_char(&bv, *p);
		}
	}
	h->v[h->n].name = buf_take(&bn);
	h->v[h->n].value = buf_take(&bv);
	h->v[h->n].order = h->n;
	if (h->v[h->n].name == NULL || h->v[h->n].value == NULL) {
		free(h->v[h->n].name);
		free(h->v[h->n].value);
		errno = ENOMEM;
		goto out;
	}
	h->n++;
	ret = 0;
out:
	buf_free(&bn);
	buf_free(&bv);
	return ret;
}

static int
chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Canonical headers ("name:value\n" each, repeated names joined with ','
 * in the order given) and the signed-headers list ("a;b;c").
 */
static void
canonical_headers(struct hlist *h, struct buf *canon, struct buf *signed_hdrs)
{
	size_t i;

	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), chdr_cmp);
	for (i = 0; i < h->n; i++) {
		if (i > 0 && strcmp(h->v[i].name, h->v[i - 1].name) == 0) {
			buf_char(canon, ',');
			buf_str(canon, h->v[i].value);
			continue;
		}
		if (i > 0) {
			buf_char(canon, '\n');
			buf_char(signed_hdrs, ';');
		}
		buf_str(canon, h->v[i].name);
		buf_char(canon, ':');
		buf_str(canon, h->v[i].value);
		buf_str(signed_hdrs, h->v[i].name);
	}
	if (h->n > 0)
		buf_char(canon, '\n');
}

/*
 * Step 1.  CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
 * CanonicalHeaders \n SignedHeaders \n HashedPayload.
 */
static char *
canonical_request(const char *method, const char *path, unsigned flags,
    struct qlist *query, const char *canon_headers,
    const char *signed_headers, const char *payload_hash)
{
	struct buf b = {0};
	char *creq = NULL;

	buf_str(&b, method);
	buf_char(&b, '\n');
	if (canonical_uri(path, flags, &b) < 0)
		goto out;
	buf_char(&b, '\n');
	canonical_query(query, &b);
	buf_char(&b, '\n');
	buf_str(&b, canon_headers);
	buf_char(&b, '\n');
	buf_str(&b, signed_headers);
	buf_char(&b, '\n');
	buf_str(&b, payload_hash);
	creq = buf_take(&b);
out:
	buf_free(&b);
	return creq;
}

/* ---- step 2: the string to sign ---- */

/* StringToSign = Algorithm \n RequestDateTime \n CredentialScope \n
 * hex(SHA256(CanonicalRequest)). */
static char *
string_to_sign(const char *amz_date, const char *scope, const char *creq)
{
	struct buf b = {0};
	char hash[SIGV4_SHA256_HEX_LEN + 1];
	char *sts = NULL;

	if (sigv4_sha256_hex(creq, strlen(creq), hash) < 0)
		goto out;
	buf_str(&b, ALGORITHM "\n");
	buf_str(&b, amz_date);
	buf_char(&b, '\n');
	buf_str(&b, scope);
	buf_char(&b, '\n');
	buf_str(&b, hash);
	sts = buf_take(&b);
out:
	buf_free(&b);
	return sts;
}

/* ---- step 3: the signing key ---- */

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request").  Every intermediate key is wiped. */
static int
signing_key(const char *secret, const char *date_stamp, const char *region,
    const char *service, unsigned char key[SHA256_LEN])
{
	unsigned char k1[SHA256_LEN], k2[SHA256_LEN], k3[SHA256_LEN];
	unsigned char *k0 = NULL;
	size_t slen = strlen(secret), k0len;
	int ret = -1;

	if (slen > (size_t)-1 - 4) {
		errno = EINVAL;
		goto out;
	}
	k0len = slen + 4;
	k0 = malloc(k0len);
	if (k0 == NULL) {
		errno = ENOMEM;
		goto out;
	}
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	if (hmac_sha256(k0, k0len, date_stamp, strlen(date_stamp), k1) < 0 ||
	    hmac_sha256(k1, SHA256_LEN, region, strlen(region), k2) < 0 ||
	    hmac_sha256(k2, SHA256_LEN, service, strlen(service), k3) < 0 ||
	    hmac_sha256(k3, SHA256_LEN, TERMINATOR, strlen(TERMINATOR),
	    key) < 0)
		goto out;
	ret = 0;
out:
	if (k0 != NULL)
		OPENSSL_clear_free(k0, k0len);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	if (ret < 0)
		OPENSSL_cleanse(key, SHA256_LEN);
	return ret;
}

/* ---- step 4: the signature ---- */

/* Signature = hex(HMAC(kSigning, StringToSign)). */
static int
signature(const char *secret, const char *date_stamp, const char *region,
    const char *service, const char *sts, char out[SIGV4_SHA256_HEX_LEN + 1])
{
	unsigned char key[SHA256_LEN], mac[SHA256_LEN];
	int ret = -1;

	if (signing_key(secret, date_stamp, region, service, key) < 0)
		goto out;
	if (hmac_sha256(key, SHA256_LEN, sts, strlen(sts), mac) < 0)
		goto out;
	sigv4_hex(mac, SHA256_LEN, out);
	ret = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return ret;
}

/* ---- putting the steps together ---- */

static int
header_is(const char *name, const char *lower)
{
	size_t i;

	for (i = 0; name[i] && lower[i]; i++)
		if (ascii_lower(name[i]) != lower[i])
			return 0;
	return name[i] == '\0' && lower[i] == '\0';
}

/* The arguments are usable: 1 if so, 0 if not. */
static int
valid_request(const struct sigv4_request *req,
    const struct sigv4_credentials *cred)
{
	size_t i, len;
	int has_host = 0, ok = 0;
	const char *ph;

	if (req == NULL || !valid_token(req->method) || req->path == NULL ||
	    !valid_scope_part(req->region) || !valid_scope_part(req->service) ||
	    (req->headers == NULL && req->nheaders > 0) ||
	    (req->payload == NULL && req->payload_len > 0))
		goto out;
	if (cred == NULL || !valid_scope_part(cred->access_key_id) ||
	    cred->secret_access_key == NULL ||
	    cred->secret_access_key[0] == '\0' ||
	    (cred->session_token != NULL &&
	    !valid_header_value(cred->session_token)))
		goto out;
	ph = req->payload_hash;
	if (ph != NULL) {
		len = strlen(ph);
		if (len == 0 || len > SIGV4_SHA256_HEX_LEN)
			goto out;
		for (i = 0; i < len; i++)
			if ((unsigned char)ph[i] <= ' ' ||
			    (unsigned char)ph[i] >= 0x7f)
				goto out;
	}
	for (i = 0; i < req->nheaders; i++) {
		if (!valid_token(req->headers[i].name) ||
		    req->headers[i].value == NULL)
			goto out;
		if (header_is(req->headers[i].name, "host"))
			has_host = 1;
	}
	ok = has_host;
out:
	return ok;
}

/* 1 if the caller passed a header that the signer itself adds. */
static int
has_reserved(const struct sigv4_request *req, int has_token, int presign)
{
	size_t i;
	const char *n;
	int found = 0;

	for (i = 0; i < req->nheaders && !found; i++) {
		n = req->headers[i].name;
		found = header_is(n, "authorization") ||
		    (!presign && header_is(n, "x-amz-date")) ||
		    (has_token && header_is(n, "x-amz-security-token")) ||
		    (!presign && (req->flags & (SIGV4_S3 | SIGV4_CONTENT_SHA256))
		    && header_is(n, "x-amz-content-sha256"));
	}
	return found;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		errno = ENOMEM;
	return p;
}

/* "name=encoded(value)" with a leading '&' unless first. */
static void
query_out(struct buf *b, const char *name, const char *value)
{
	if (b->len > 0)
		buf_char(b, '&');
	buf_str(b, name);
	buf_char(b, '=');
	buf_uri_encode(b, value, strlen(value), 1);
}

/* Presigning: the query parameters to append, in the order aws-c-auth
 * writes them (any order is valid). */
static int
presigned_query(struct sigv4_signed *out, const char *credential,
    const char *signed_headers, const char *expires, const char *token)
{
	struct buf b = {0};

	query_out(&b, "X-Amz-Algorithm", ALGORITHM);
	query_out(&b, "X-Amz-Credential", credential);
	query_out(&b, "X-Amz-Date", out->amz_date);
	query_out(&b, "X-Amz-SignedHeaders", signed_headers);
	query_out(&b, "X-Amz-Expires", expires);
	if (token != NULL)
		query_out(&b, "X-Amz-Security-Token", token);
	query_out(&b, "X-Amz-Signature", out->signature);
	out->query = buf_take(&b);
	return out->query != NULL ? 0 : -1;
}

/* Header signing: the Authorization value and the list of headers to add. */
static int
authorization(struct sigv4_signed *out, const char *credential,
    const char *signed_headers, int add_sha)
{
	struct buf b = {0};
	size_t n = 0;

	buf_str(&b, ALGORITHM " Credential=");
	buf_str(&b, credential);
	buf_str(&b, ", SignedHeaders=");
	buf_str(&b, signed_headers);
	buf_str(&b, ", Signature=");
	buf_str(&b, out->signature);
	out->authorization = buf_take(&b);
	if (out->authorization == NULL)
		return -1;
	out->headers[n].name = "X-Amz-Date";
	out->headers[n++].value = out->amz_date;
	if (out->security_token != NULL) {
		out->headers[n].name = "X-Amz-Security-Token";
		out->headers[n++].value = out->security_token;
	}
	if (add_sha) {
		out->headers[n].name = "x-amz-content-sha256";
		out->headers[n++].value = out->content_sha256;
	}
	out->headers[n].name = "Authorization";
	out->headers[n++].value = out->authorization;
	out->nheaders = n;
	return 0;
}

/* The credential scope "DATE/REGION/SERVICE/aws4_request" and the
 * credential "KEYID/SCOPE", as new strings.  Returns 0, or -1 (ENOMEM). */
static int
credential_scope(const char *date_stamp, const struct sigv4_request *req,
    const struct sigv4_credentials *cred, char **scope, char **credential)
{
	struct buf b = {0};

	buf_str(&b, date_stamp);
	buf_char(&b, '/');
	buf_str(&b, req->region);
	buf_char(&b, '/');
	buf_str(&b, req->service);
	buf_str(&b, "/" TERMINATOR);
	*scope = buf_take(&b);
	if (*scope == NULL)
		return -1;
	buf_str(&b, cred->access_key_id);
	buf_char(&b, '/');
	buf_str(&b, *scope);
	*credential = buf_take(&b);
	return *credential == NULL ? -1 : 0;
}

/* The query parameters of a presigned URL that are signed themselves
 * (every X-Amz-* but the signature; the token unless NULL). */
static int
presign_params(struct qlist *ql, const char *credential, const char *amz_date,
    const char *exp, const char *signed_headers, const char *token)
{
	if (qlist_add(ql, "X-Amz-Algorithm", 15, ALGORITHM,
	    strlen(ALGORITHM)) < 0 ||
	    qlist_add(ql, "X-Amz-Credential", 16, credential,
	    strlen(credential)) < 0 ||
	    qlist_add(ql, "X-Amz-Date", 10, amz_date, AMZ_DATE_LEN) < 0 ||
	    qlist_add(ql, "X-Amz-Expires", 13, exp, strlen(exp)) < 0 ||
	    qlist_add(ql, "X-Amz-SignedHeaders", 19, signed_headers,
	    strlen(signed_headers)) < 0)
		return -1;
	if (token != NULL && qlist_add(ql, "X-Amz-Security-Token", 20, token,
	    strlen(token)) < 0)
		return -1;
	return 0;
}

static int
sign_request(const struct sigv4_request *req,
    const struct sigv4_credentials *cred, int presign, unsigned long expires,
    struct sigv4_signed *out)
{
	struct hlist hl = {0};
	struct qlist ql = {0};
	struct buf canon = {0}, sh = {0};
	struct tm tm;
	char amz_date[AMZ_DATE_LEN + 1], date_stamp[DATE_STAMP_LEN + 1];
	char hash[SIGV4_SHA256_HEX_LEN + 1], exp[24] = "";
	char *signed_headers = NULL, *canon_headers = NULL, *scope_s = NULL;
	char *credential = NULL;
	const char *token;
	unsigned flags;
	int sign_token, add_sha, ret = -1;
	size_t i;

	if (out == NULL) {
		errno = EINVAL;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	if (!valid_request(req, cred)) {
		errno = EINVAL;
		goto out;
	}
	flags = req->flags;
	token = cred->session_token;
	if (token != NULL && *token == '\0')
		token = NULL;
	sign_token = token != NULL && !(flags & SIGV4_TOKEN_UNSIGNED);
	add_sha = !presign && (flags & (SIGV4_S3 | SIGV4_CONTENT_SHA256));
	if (has_reserved(req, token != NULL, presign) ||
	    (presign && (expires < 1 || expires > MAX_EXPIRES))) {
		errno = EINVAL;
		goto out;
	}

	if (gmtime_r(&req->time, &tm) == NULL ||
	    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm) !=
	    AMZ_DATE_LEN) {
		errno = EINVAL;
		goto out;
	}
	memcpy(date_stamp, amz_date, DATE_STAMP_LEN);
	date_stamp[DATE_STAMP_LEN] = '\0';

	if (req->payload_hash != NULL) {
		if (strlen(req->payload_hash) >= sizeof(hash)) {
			errno = EINVAL;
			goto out;
		}
		memcpy(hash, req->payload_hash, strlen(req->payload_hash) + 1);
	} else if (sigv4_sha256_hex(req->payload, req->payload_len, hash) < 0) {
		goto out;
	}

	if (credential_scope(date_stamp, req, cred, &scope_s,
	    &credential) < 0)
		goto out;

	/* The headers to sign: the caller's and those the signer adds. */
	for (i = 0; i < req->nheaders; i++)
		if (hlist_add(&hl, req->headers[i].name,
		    req->headers[i].value) < 0)
			goto out;
	if ((!presign && hlist_add(&hl, "x-amz-date", amz_date) < 0) ||
	    (!presign && sign_token &&
	    hlist_add(&hl, "x-amz-security-token", token) < 0) ||
	    (add_sha && hlist_add(&hl, "x-amz-content-sha256", hash) < 0))
		goto out;
	canonical_headers(&hl, &canon, &sh);
	canon_headers = buf_take(&canon);
	signed_headers = buf_take(&sh);
	if (canon_headers == NULL || signed_headers == NULL)
		goto out;

	if (qlist_parse(&ql, req->query) < 0)
		goto out;
	if (presign) {
		snprintf(exp, sizeof(exp), "%lu", expires);
		if (presign_params(&ql, credential, amz_date, exp,
		    signed_headers, sign_token ? token : NULL) < 0)
			goto out;
	}

	out->canonical_request = canonical_request(req->method, req->path,
	    flags, &ql, canon_headers, signed_headers, hash);
	if (out->canonical_request == NULL)
		goto out;
	out->string_to_sign = string_to_sign(amz_date, scope_s,
	    out->canonical_request);
	if (out->string_to_sign == NULL)
		goto out;
	if (signature(cred->secret_access_key, date_stamp, req->region,
	    req->service, out->string_to_sign, out->signature) < 0)
		goto out;

	out->amz_date = xstrdup(amz_date);
	out->content_sha256 = xstrdup(hash);
	if (out->amz_date == NULL || out->content_sha256 == NULL)
		goto out;
	if (token != NULL) {
		out->security_token = xstrdup(token);
		if (out->security_token == NULL)
			goto out;
	}
	if (presign ? presigned_query(out, credential, signed_headers, exp,
	    token) < 0 : authorization(out, credential, signed_headers,
	    add_sha) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0) {
		int e = errno;

		sigv4_signed_free(out);
		errno = e;
	}
	hlist_free(&hl);
	qlist_free(&ql);
	buf_free(&canon);
	buf_free(&sh);
	free(signed_headers);
	free(canon_headers);
	free(scope_s);
	free(credential);
	return ret;
}

int
sigv4_sign(const struct sigv4_request *req,
    const struct sigv4_credentials *cred, struct sigv4_signed *out)
{
	return sign_request(req, cred, 0, 0, out);
}

int
sigv4_presign(const struct sigv4_request *req,
    const struct sigv4_credentials *cred, unsigned long expires,
    struct sigv4_signed *out)
{
	return sign_request(req, cred, 1, expires, out);
}

void
sigv4_signed_free(struct sigv4_signed *s)
{
	if (s == NULL)
		return;
	free(s->amz_date);
	if (s->security_token != NULL)
		OPENSSL_clear_free(s->security_token,
		    strlen(s->security_token));
	free(s->content_sha256);
	free(s->authorization);
	free(s->query);
	free(s->canonical_request);
	free(s->string_to_sign);
	memset(s, 0, sizeof(*s));
}
