/*
 * sts.c - AssumeRole and AssumeRoleWithWebIdentity over STS's Query API
 * (AWS Security Token Service API Reference), and the strict reading of
 * its XML answers.  See sts.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "awsconf.h"
#include "buf.h"
#include "creds_provider.h"
#include "http.h"
#include "kptime.h"
#include "msg.h"
#include "retry.h"
#include "sigv4.h"
#include "sts.h"

#ifndef KP_VERSION
#define KP_VERSION "0"
#endif

#define STS_VERSION "2011-06-15"
#define STS_CONNECT_MS 10000L
#define STS_TOTAL_MS 30000L
/* Transient failures (network, 5xx, throttling): three attempts. */
#define STS_RETRY { 3, 200, 2000, 20000 }

#define XML_MAX_DEPTH 16
#define XML_PATH_MAX 512

/* ---- a strict reader of the little XML STS sends ---- */

/* Called for each element without child elements, with its path
 * ("A/B/C") and decoded text.  Returns 0, or -1 to stop. */
typedef int xml_leaf_fn(void *u, const char *path, const char *text,
    size_t n);

struct xml {
	const char *p, *end;
	char path[XML_PATH_MAX];
	size_t plen[XML_MAX_DEPTH + 1]; /* path length above each level */
	int child[XML_MAX_DEPTH + 1];   /* the element has had a child */
	int depth, root_done;
	struct buf text;
	const char *why;
};

static int
xml_fail(struct xml *x, const char *why)
{
	x->why = why;
	return -1;
}

static int
xml_starts(const struct xml *x, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(x->end - x->p) >= n && memcmp(x->p, s, n) == 0;
}

/* Moves past the next occurrence of s, or fails. */
static int
xml_skip_past(struct xml *x, const char *s, const char *why)
{
	size_t n = strlen(s);
	const char *q;

	for (q = x->p; (size_t)(x->end - q) >= n; q++)
		if (memcmp(q, s, n) == 0) {
			x->p = q + n;
			return 0;
		}
	return xml_fail(x, why);
}

static void
xml_blanks(struct xml *x)
{
	while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' ||
	    *x->p == '\r' || *x->p == '\n'))
		x->p++;
}

static int
xml_name_char(char c, int first)
{
	if (isalpha((unsigned char)c) || c == '_' || c == ':')
		return 1;
	return !first && (isdigit((unsigned char)c) || c == '-' || c == '.');
}

/* A name at x->p: its length, 0 when there is none. */
static size_t
xml_name(struct xml *x)
{
	size_t n = 0;

	while (x->p + n < x->end && xml_name_char(x->p[n], n == 0))
		n++;
	return n > 64 ? 0 : n;
}

/* The text so far of the current element is only blanks. */
static int
xml_text_blank(const struct xml *x)
{
	size_t i;

	for (i = 0; i < x->text.len; i++)
		if (!isspace((unsigned char)x->text.p[i]))
			return 0;
	return 1;
}

/* "&...;" at x->p into the text: the five entities and character
 * references; a reference beyond ASCII becomes U+FFFD (what is read here
 * is ASCII; a message may lose a character). */
static int
xml_entity(struct xml *x)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	unsigned long cp = 0;
	int hex, digits = 0;
	size_t i;

	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
		if (xml_starts(x, ents[i].name)) {
			buf_char(&x->text, ents[i].c);
			x->p += strlen(ents[i].name);
			return 0;
		}
	if (!xml_starts(x, "&#"))
		return xml_fail(x, "an unknown entity");
	x->p += 2;
	hex = x->p < x->end && *x->p == 'x';
	x->p += hex;
	for (; x->p < x->end && digits < 8 && (hex ?
	    isxdigit((unsigned char)*x->p) : isdigit((unsigned char)*x->p));
	    x->p++, digits++)
		cp = cp * (hex ? 16 : 10) + (unsigned long)(isdigit(
		    (unsigned char)*x->p) ? *x->p - '0' :
		    (tolower((unsigned char)*x->p) - 'a' + 10));
	if (digits == 0 || digits == 8 || x->p >= x->end || *x->p != ';' ||
	    cp == 0 || cp > 0x10ffff || (cp < 0x20 && cp != '\t' &&
	    cp != '\n' && cp != '\r'))
		return xml_fail(x, "a bad character reference");
	x->p++;
	if (cp < 0x80)
		buf_char(&x->text, (char)cp);
	else
		buf_lit(&x->text, "\xef\xbf\xbd");
	return 0;
}

/* Attributes up to '>' or "/>": name="value" or name='value'. */
static int
xml_attributes(struct xml *x, int *empty)
{
	for (;;) {
		const char *s = x->p;
		size_t n;
		char q;

		xml_blanks(x);
		if (xml_starts(x, "/>") || xml_starts(x, ">")) {
			*empty = *x->p == '/';
			x->p += *empty ? 2 : 1;
			return 0;
		}
		if (x->p == s)
			return xml_fail(x, "a malformed tag");
		n = xml_name(x);
		if (n == 0)
			return xml_fail(x, "a malformed attribute");
		x->p += n;
		xml_blanks(x);
		if (x->p >= x->end || *x->p++ != '=')
			return xml_fail(x, "a malformed attribute");
		xml_blanks(x);
		if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
			return xml_fail(x, "an unquoted attribute");
		q = *x->p++;
		while (x->p < x->end && *x->p != q && *x->p != '<')
			x->p++;
		if (x->p >= x->end || *x->p != q)
			return xml_fail(x, "a malformed attribute");
		x->p++;
	}
}

/* "<name ...>" or "<name .../>" at x->p. */
static int
xml_start_tag(struct xml *x, xml_leaf_fn *fn, void *u)
{
	size_t n, at;
	int empty = 0;

	x->p++;
	n = xml_name(x);
	if (n == 0)
		return xml_fail(x, "a malformed tag");
	if (x->depth == 0 && x->root_done)
		return xml_fail(x, "more than one root element");
	if (x->depth == XML_MAX_DEPTH)
		return xml_fail(x, "elements nested too deep");
	if (x->depth > 0 && !xml_text_blank(x))
		return xml_fail(x, "text beside an element");
	at = x->plen[x->depth];
	if (at + (x->depth > 0) + n + 1 > sizeof(x->path))
		return xml_fail(x, "elements nested too deep");
	if (x->depth > 0)
		x->path[at++] = '/';
	memcpy(x->path + at, x->p, n);
	x->path[at + n] = '\0';
	x->p += n;
	if (xml_attributes(x, &empty) < 0)
		return -1;
	x->child[x->depth] = 1;
	x->depth++;
	x->plen[x->depth] = at + n;
	x->child[x->depth] = 0;
	buf_reset(&x->text);
	if (!empty)
		return 0;
	if (fn(u, x->path, "", 0) < 0)
		return xml_fail(x, NULL);
	x->depth--;
	x->path[x->plen[x->depth]] = '\0';
	x->root_done = x->depth == 0;
	return 0;
}

/* "</name>" at x->p: it must close the current element. */
static int
xml_end_tag(struct xml *x, xml_leaf_fn *fn, void *u)
{
	size_t n, start;
	const char *text;

	x->p += 2;
	n = xml_name(x);
	if (x->depth == 0)
		return xml_fail(x, "an end tag without a start tag");
	start = x->plen[x->depth] - n;
	if (n == 0 || x->plen[x->depth] < n || (start > 0 &&
	    x->path[start - 1] != '/') || memcmp(x->path + start, x->p, n) != 0)
		return xml_fail(x, "mismatched tags");
	x->p += n;
	xml_blanks(x);
	if (x->p >= x->end || *x->p++ != '>')
		return xml_fail(x, "a malformed end tag");
	if (x->child[x->depth]) {
		if (!xml_text_blank(x))
			return xml_fail(x, "text beside an element");
	} else {
		text = buf_cstr(&x->text);
		if (text == NULL)
			return xml_fail(x, "out of memory");
		if (fn(u, x->path, text, x->text.len) < 0)
			return xml_fail(x, NULL);
	}
	buf_reset(&x->text);
	x->depth--;
	x->path[x->plen[x->depth]] = '\0';
	x->root_done = x->depth == 0;
	return 0;
}

/* Text or a CDATA section at x->p. */
static int
xml_text(struct xml *x)
{
	unsigned char c = (unsigned char)*x->p;

	if (xml_starts(x, "<![CDATA[")) {
		const char *s = x->p + 9;

		if (x->depth == 0)
			return xml_fail(x, "text outside the root element");
		if (xml_skip_past(x, "]]>", "an unterminated CDATA section") < 0)
			return -1;
		buf_add(&x->text, s, (size_t)(x->p - 3 - s));
		return 0;
	}
	if (x->depth == 0 && !isspace(c))
		return xml_fail(x, "text outside the root element");
	if (c == '&')
		return xml_entity(x);
	if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
		return xml_fail(x, "a control character");
	buf_char(&x->text, (char)c);
	x->p++;
	return 0;
}

/*
 * Walks body[0..len), calling fn for each leaf element.  Returns 0, or -1
 * with *why (NULL when fn stopped the walk).
 */
static int
xml_walk(const char *body, size_t len, xml_leaf_fn *fn, void *u,
    const char **why)
{
	struct xml x;
	int r = 0;

	memset(&x, 0, sizeof(x));
	x.p = body;
	x.end = body + len;
	if (xml_starts(&x, "\xef\xbb\xbf"))
		x.p += 3;
	if (xml_starts(&x, "<?xml") && (x.end - x.p == 5 ||
	    isspace((unsigned char)x.p[5])))
		r = xml_skip_past(&x, "?>", "an unterminated declaration");
	while (r == 0 && x.p < x.end) {
		if (xml_starts(&x, "<!--"))
			r = xml_skip_past(&x, "-->", "an unterminated comment");
		else if (xml_starts(&x, "<![CDATA["))
			r = xml_text(&x);
		else if (xml_starts(&x, "<!") || xml_starts(&x, "<?"))
			r = xml_fail(&x, "a DOCTYPE or processing instruction");
		else if (xml_starts(&x, "</"))
			r = xml_end_tag(&x, fn, u);
		else if (*x.p == '<')
			r = xml_start_tag(&x, fn, u);
		else
			r = xml_text(&x);
		if (r == 0 && x.text.failed)
			r = xml_fail(&x, "out of memory");
	}
	if (r == 0 && (x.depth != 0 || !x.root_done))
		r = xml_fail(&x, x.depth != 0 ? "an unclosed element" :
		    "no element");
	if (x.text.p != NULL)
		OPENSSL_cleanse(x.text.p, x.text.cap);
	buf_free(&x.text);
	*why = x.why;
	return r;
}

/* ---- the answers ---- */

enum { F_AKID, F_SECRET, F_TOKEN, F_EXP, NFIELDS };

static const char *const field_names[NFIELDS] = { "AccessKeyId",
    "SecretAccessKey", "SessionToken", "Expiration" };

struct cred_walk {
	char prefix[160];        /* "<A>Response/<A>Result/Credentials/" */
	char *v[NFIELDS];
	const char *bad;         /* a field's name when it is bad */
};

static int
cred_leaf(void *u, const char *path, const char *text, size_t n)
{
	struct cred_walk *w = u;
	size_t pl = strlen(w->prefix), i, k;

	if (strncmp(path, w->prefix, pl) != 0)
		return 0;
	for (i = 0; i < NFIELDS; i++)
		if (strcmp(path + pl, field_names[i]) == 0)
			break;
	if (i == NFIELDS)
		return 0;
	w->bad = field_names[i];
	if (w->v[i] != NULL || n == 0)
		return -1; /* twice, or empty */
	for (k = 0; k < n; k++)
		if ((unsigned char)text[k] <= 0x20 ||
		    (unsigned char)text[k] >= 0x7f)
			return -1;
	w->v[i] = strdup(text);
	if (w->v[i] == NULL)
		return -1;
	w->bad = NULL;
	return 0;
}

int
sts_parse_credentials(const char *action, const char *body, size_t len,
    struct creds *out, char *err, size_t errsz)
{
	struct cred_walk w;
	const char *why = NULL;
	time_t exp = 0;
	int i, rc = -1;

	memset(&w, 0, sizeof(w));
	memset(out, 0, sizeof(*out));
	snprintf(w.prefix, sizeof(w.prefix), "%sResponse/%sResult/Credentials/",
	    action, action);
	if (xml_walk(body, len, cred_leaf, &w, &why) < 0) {
		if (w.bad != NULL)
			msg_seterr(err, errsz, "STS %s answer: Credentials/%s is "
			    "repeated, empty or not printable ASCII", action,
			    w.bad);
		else
			msg_seterr(err, errsz, "STS %s answer is not well-formed "
			    "XML: %s", action, why != NULL ? why : "out of memory");
		goto out;
	}
	for (i = 0; i < NFIELDS; i++)
		if (w.v[i] == NULL) {
			msg_seterr(err, errsz, "STS %s answer has no "
			    "%sResult/Credentials/%s", action, action,
			    field_names[i]);
			goto out;
		}
	if (creds_parse_time(w.v[F_EXP], &exp) < 0) {
		msg_seterr(err, errsz, "STS %s answer: Credentials/Expiration is "
		    "not an ISO 8601 time", action);
		goto out;
	}
	rc = creds_set(out, w.v[F_AKID], w.v[F_SECRET], w.v[F_TOKEN], exp, err,
	    errsz);
out:
	free(w.v[F_AKID]);
	creds_free_secret(w.v[F_SECRET]);
	creds_free_secret(w.v[F_TOKEN]);
	free(w.v[F_EXP]);
	return rc;
}

struct err_walk {
	char *code, *message;
	size_t codesz, msgsz;
};

static int
err_leaf(void *u, const char *path, const char *text, size_t n)
{
	static const char *const prefixes[] = { "ErrorResponse/Error/",
	    "ErrorResponse/Errors/Error/", "Response/Errors/Error/" };
	struct err_walk *w = u;
	size_t i, pl;

	(void)n;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		pl = strlen(prefixes[i]);
		if (strncmp(path, prefixes[i], pl) != 0)
			continue;
		if (strcmp(path + pl, "Code") == 0 && w->code[0] == '\0')
			msg_clean(text, w->code, w->codesz);
		else if (strcmp(path + pl, "Message") == 0 &&
		    w->message[0] == '\0')
			msg_clean(text, w->message, w->msgsz);
	}
	return 0;
}

void
sts_parse_error(const char *body, size_t len, char *code, size_t codesz,
    char *message, size_t msgsz)
{
	struct err_walk w = { code, message, codesz, msgsz };
	const char *why;

	code[0] = message[0] = '\0';
	if (body == NULL || xml_walk(body, len, err_leaf, &w, &why) < 0)
		code[0] = message[0] = '\0';
}

/* ---- the endpoint ---- */

/* The regions botocore sends to the global endpoint with
 * sts_regional_endpoints = legacy (botocore/args.py). */
static int
legacy_global_region(const char *r)
{
	static const char *const regions[] = { "ap-northeast-1",
	    "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global",
	    "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1",
	    "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1", "us-east-2",
	    "us-west-1", "us-west-2" };
	size_t i;

	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
		if (strcmp(r, regions[i]) == 0)
			return 1;
	return 0;
}

int
sts_endpoint(const struct awsconf *conf, const char *region,
    struct sts_target *t, char *err, size_t errsz)
{
	struct awsconf_endpoint ep;
	struct awsconf_tls tls;
	const char *mode = awsconf_env("AWS_STS_REGIONAL_ENDPOINTS");
	int global;

	memset(t, 0, sizeof(*t));
	if (mode == NULL && conf != NULL)
		mode = creds_nonempty(awsconf_get(conf,
		    "sts_regional_endpoints"));
	if (mode != NULL && strcmp(mode, "regional") != 0 &&
	    strcmp(mode, "legacy") != 0)
		return msg_seterr(err, errsz, "sts_regional_endpoints (or "
		    "AWS_STS_REGIONAL_ENDPOINTS) must be regional or legacy, "
		    "not \"%.32s\"", mode);
	if (region != NULL && *region == '\0')
		region = NULL;
	global = region != NULL && (strcmp(region, "aws-global") == 0 ||
	    (mode != NULL && strcmp(mode, "legacy") == 0 &&
	    legacy_global_region(region)));
	if (awsconf_endpoint(conf, "STS", NULL, global ? "us-east-1" : region,
	    &ep, err, errsz) < 0)
		return -1;
	/* A configured endpoint is signed for the region, as botocore does. */
	if (ep.custom)
		global = region == NULL;
	if (!ep.custom && global) {
		free(ep.url);
		ep.url = strdup("https://sts.amazonaws.com");
		if (ep.url == NULL)
			return msg_seterr(err, errsz, "out of memory");
	}
	t->url = ep.url;
	snprintf(t->region, sizeof(t->region), "%s", global || region == NULL ?
	    "us-east-1" : region);
	awsconf_tls(conf, NULL, 0, &tls);
	t->ca_bundle = tls.ca_bundle;
	t->verify = 1;
	msg_debug("credentials: STS endpoint %s (%s), region %s", t->url,
	    ep.source, t->region);
	return 0;
}

void
sts_target_clear(struct sts_target *t)
{
	if (t == NULL)
		return;
	free(t->url);
	memset(t, 0, sizeof(*t));
}

/* ---- the call ---- */

/* "&name=value", the value form-encoded (RFC 3986 unreserved kept). */
static void
form_param(struct buf *b, const char *name, const char *value)
{
	size_t n = strlen(value);
	char *enc = malloc(SIGV4_URI_ENCODE_MAX(n));

	if (enc == NULL || sigv4_uri_encode(value, n, 1, enc,
	    SIGV4_URI_ENCODE_MAX(n)) < 0) {
		b->failed = 1;
	} else {
		buf_printf(b, "&%s=", name);
		buf_str(b, enc);
	}
	if (enc != NULL) {
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
	}
}

static const char *
action_of(const struct sts_params *p)
{
	return p->web_identity_token != NULL ? "AssumeRoleWithWebIdentity" :
	    "AssumeRole";
}

/* The form body of the call. */
static void
form_body(struct buf *b, const struct sts_params *p)
{
	buf_printf(b, "Action=%s&Version=%s", action_of(p), STS_VERSION);
	form_param(b, "RoleArn", p->role_arn);
	form_param(b, "RoleSessionName", p->session_name);
	if (p->web_identity_token != NULL) {
		form_param(b, "WebIdentityToken", p->web_identity_token);
		return;
	}
	if (p->external_id != NULL)
		form_param(b, "ExternalId", p->external_id);
	if (p->duration_seconds > 0)
		buf_printf(b, "&DurationSeconds=%ld", p->duration_seconds);
}

#define MAX_HEADERS 8
#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

/* The headers of one attempt, signed unless source is NULL: owned[] holds
 * the strings to free. */
static int
call_headers(const struct sts_target *t, const struct buf *body,
    const struct creds *source, const char **h, size_t *nh, char **owned,
    size_t *nowned)
{
	const char *path = strstr(t->url, "://");
	struct sigv4_header sh[2];
	struct sigv4_request rq;
	struct sigv4_credentials sc;
	struct sigv4_signed sig;
	char host[256];
	size_t i, n;

	*nh = *nowned = 0;
	h[(*nh)++] = "User-Agent: kinpipe/" KP_VERSION;
	h[(*nh)++] = "Content-Type: " FORM_TYPE;
	if (source == NULL)
		return 0;
	path = path + 3 + strcspn(path + 3, "/");
	if (http_url_host(t->url, host, sizeof(host)) < 0)
		return -1;
	sh[0].name = "content-type";
	sh[0].value = FORM_TYPE;
	sh[1].name = "host";
	sh[1].value = host;
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.path = *path != '\0' ? path : "/";
	rq.headers = sh;
	rq.nheaders = 2;
	rq.payload = body->p;
	rq.payload_len = body->len;
	rq.region = t->region;
	rq.service = "sts";
	rq.time = time(NULL);
	rq.flags = SIGV4_NORMALIZE_PATH;
	sc.access_key_id = source->access_key_id;
	sc.secret_access_key = source->secret_access_key;
	sc.session_token = source->session_token;
	if (sigv4_sign(&rq, &sc, &sig) < 0)
		return -1;
	for (i = 0; i < sig.nheaders; i++) {
		char *s = creds_header_line(sig.headers[i].name,
		    sig.headers[i].value);

		if (s == NULL)
			break;
		owned[(*nowned)++] = s;
		h[(*nh)++] = s;
	}
	n = sig.nheaders;
	sigv4_signed_free(&sig);
	return i == n ? 0 : -1;
}

/*
 * One attempt.  Returns 0 with *out, 1 when it may be retried (the reason
 * in err), -1 on a failure that stays.
 */
static int
attempt(struct http_client *http, const struct sts_target *t,
    const struct sts_params *p, const struct buf *body,
    const struct creds *source, struct creds *out, int64_t *retry_after,
    char *err, size_t errsz)
{
	const char *h[MAX_HEADERS];
	char *owned[SIGV4_MAX_ADDED];
	char code[128], message[512];
	struct http_request req;
	struct http_response resp;
	size_t nh = 0, nowned = 0, i;
	enum retry_kind kind;
	int rc = -1;

	memset(&resp, 0, sizeof(resp));
	if (call_headers(t, body, source, h, &nh, owned, &nowned) < 0) {
		msg_seterr(err, errsz, "STS %s: cannot sign the request: %s",
		    action_of(p), strerror(errno ? errno : ENOMEM));
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = t->url;
	req.headers = h;
	req.nheaders = nh;
	req.body = body->p;
	req.body_len = body->len;
	*retry_after = -1;
	if (http_do(http, &req, &resp) < 0) {
		msg_seterr(err, errsz, "STS %s at %s: %s", action_of(p), t->url,
		    resp.error);
		rc = retry_classify(0, resp.transport_retryable, NULL) ==
		    RETRY_NO ? -1 : 1;
		goto out;
	}
	if (resp.status == 200) {
		rc = sts_parse_credentials(action_of(p), resp.body ? resp.body :
		    "", resp.body_len, out, err, errsz);
		goto out;
	}
	sts_parse_error(resp.body, resp.body_len, code, sizeof(code), message,
	    sizeof(message));
	if (code[0] == '\0' && resp.error_type[0] != '\0')
		msg_clean(resp.error_type, code, sizeof(code));
	msg_seterr(err, errsz, "STS %s for %s: %s%s%s (HTTP %ld)",
	    action_of(p), p->role_arn, code[0] ? code : "error",
	    message[0] ? ": " : "", message, resp.status);
	kind = retry_classify(resp.status, 0, code[0] ? code : NULL);
	*retry_after = resp.retry_after_ms;
	rc = kind == RETRY_YES || kind == RETRY_THROTTLED ? 1 : -1;
out:
	for (i = 0; i < nowned; i++)
		creds_free_secret(owned[i]);
	creds_http_clear(&resp);
	return rc;
}

int
sts_assume(const struct sts_target *t, const struct sts_params *p,
    const struct creds *source, struct creds *out, char *err, size_t errsz)
{
	static const struct retry_policy pol = STS_RETRY;
	struct http_client *http = NULL;
	struct retry_state st;
	struct http_opts o;
	struct buf body = BUF_INIT;
	int64_t delay, retry_after;
	int r = -1;

	memset(out, 0, sizeof(*out));
	form_body(&body, p);
	if (buf_cstr(&body) == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.ca_bundle = t->ca_bundle;
	o.verify = t->verify;
	o.connect_timeout_ms = STS_CONNECT_MS;
	o.timeout_ms = STS_TOTAL_MS;
	o.max_body = STS_MAX_ANSWER;
	http = http_client_new(&o);
	if (http == NULL) {
		msg_seterr(err, errsz, "cannot initialise libcurl");
		goto out;
	}
	retry_start(&st, kptime_mono_ms(), (uint64_t)kptime_mono_ms());
	msg_debug("credentials: STS %s for %s at %s", action_of(p),
	    p->role_arn, t->url);
	while ((r = attempt(http, t, p, &body, source, out, &retry_after, err,
	    errsz)) == 1) {
		delay = retry_next(&pol, &st, kptime_mono_ms(), retry_after);
		if (delay < 0)
			break;
		msg_debug("credentials: %s; retry in %lld ms", err,
		    (long long)delay);
		(void)retry_sleep(delay, NULL);
	}
out:
	http_client_free(http);
	if (body.p != NULL)
		OPENSSL_cleanse(body.p, body.cap);
	buf_free(&body);
	return r == 0 ? 0 : -1;
}
