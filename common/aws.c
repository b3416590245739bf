#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "awsconf.h"
#include "buf.h"
#include "creds.h"
#include "kptime.h"
#include "msg.h"
#include "ratelim.h"
#include "s3.h"
#include "s3addr.h"
#include "sigv4.h"

#define AWS_MAX_HEADERS 32

/* Buckets whose region a redirect taught, at most (s3-put has one). */
#define AWS_MAX_BUCKET_REGIONS 64

/* A bucket in another region than the client's, and its endpoint there. */
struct bucket_region {
	char *bucket;
	char *region;
	struct awsconf_endpoint ep;
};

struct aws_client {
	struct awsconf *conf;
	struct creds_chain *chain;
	struct http_client *http;
	char *region;
	char *service_id;
	char *signing_name;
	struct awsconf_endpoint ep;
	char host[256];
	int s3;
	char *explicit_url;         /* --endpoint-url, or NULL */
	enum s3addr_style style;    /* S3 */
	struct bucket_region br[AWS_MAX_BUCKET_REGIONS];
	size_t nbr;
	struct retry_policy retry;
	struct ratelim *rl;     /* adaptive retry mode, else NULL */
	uint64_t seed;
	const volatile sig_atomic_t *stop;
};

void
aws_opts_init(struct aws_opts *o)
{
	static const struct retry_policy def = RETRY_POLICY_DEFAULT;

	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 120000;
	o->retry = def;
}

/* Where a retry setting came from, for messages: "AWS_MAX_ATTEMPTS" or
 * "max_attempts in profile "p" (FILE)". */
static const char *
setting(const struct awsconf *conf, const char *var, const char *key,
    const char **value, char *src, size_t srcsz)
{
	enum awsconf_file f = AWSCONF_CONFIG;
	const char *path;

	if ((*value = awsconf_env(var)) != NULL) {
		snprintf(src, srcsz, "%s", var);
		return *value;
	}
	if ((*value = awsconf_get(conf, key)) == NULL)
		return NULL;
	if (awsconf_file_get(conf, AWSCONF_CREDENTIALS, key) != NULL)
		f = AWSCONF_CREDENTIALS;
	path = awsconf_path(conf, f);
	snprintf(src, srcsz, "%s in profile \"%s\" (%s)", key,
	    awsconf_profile(conf), path ? path : "?");
	return *value;
}

/* A whole number of attempts, 1 to 1000 (as --max-attempts). */
static int
attempts(const char *s, uint64_t *n)
{
	const char *p = s;

	*n = 0;
	for (p = s; *p >= '0' && *p <= '9' && *n <= 1000; p++)
		*n = *n * 10 + (uint64_t)(*p - '0');
	return p == s || *p != '\0' || *n < 1 || *n > 1000 ? -1 : 0;
}

int
aws_retry_settings(const struct awsconf *conf, const struct aws_opts *o,
    struct retry_policy *p, int *adaptive, char *err, size_t errsz)
{
	static const char *const modes[] = { "standard", "legacy", "adaptive" };
	char src[600], clean[64];
	const char *v;
	uint64_t n;
	size_t i;

	*p = o->retry;
	*adaptive = 0;
	if (!o->max_attempts_set && setting(conf, "AWS_MAX_ATTEMPTS",
	    "max_attempts", &v, src, sizeof(src)) != NULL) {
		if (attempts(v, &n) != 0) {
			msg_clean(v, clean, sizeof(clean));
			snprintf(err, errsz, "%s: expected a whole number of "
			    "attempts from 1 to 1000: %s", src, clean);
			return -1;
		}
		p->max_attempts = (int)n;
	}
	if (setting(conf, "AWS_RETRY_MODE", "retry_mode", &v, src,
	    sizeof(src)) == NULL)
		return 0;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(v, modes[i]) == 0) {
			*adaptive = i == 2;
			return 0;
		}
	msg_clean(v, clean, sizeof(clean));
	snprintf(err, errsz, "%s: expected standard, adaptive or legacy: %s",
	    src, clean);
	return -1;
}

static double
now_s(void)
{
	return (double)kptime_mono_ms() / 1000.0;
}

/* http_opts.on_done of an adaptive client: every answer updates the
 * send rate, throttling errors (retry.h) cut it. */
static void
observe(void *arg, const struct http_response *r)
{
	struct aws_client *c = arg;
	char code[128], message[8];
	int throttled = 0;

	if (r->status != 0 && (r->status < 200 || r->status >= 300)) {
		aws_error(r, code, sizeof(code), message, sizeof(message));
		throttled = retry_classify(r->status, 0, code) ==
		    RETRY_THROTTLED;
	}
	if (throttled)
		msg_info("adaptive retry mode: throttled (%s); client-side "
		    "send rate now %.2f requests/s", code,
		    ratelim_response(c->rl, 1, now_s()));
	else
		ratelim_response(c->rl, 0, now_s());
}

/* Adaptive mode: waits for a token of the limiter before a request. */
static void
wait_token(struct aws_client *c)
{
	double w;

	while ((w = ratelim_acquire(c->rl, now_s())) > 0) {
		int64_t ms = (int64_t)(w * 1000) + 1;

		msg_debug("adaptive retry mode: waiting %lld ms to send "
		    "(%.2f requests/s)", (long long)ms, c->rl->fill_rate);
		/* Stopping: the request goes, the tool is draining. */
		if (retry_sleep(ms, c->stop) != 0)
			return;
	}
}

static int warned_no_verify;

/* S3 addressing: --path-style, else the profile's "s3 =
 * addressing_style" (auto, path or virtual), else auto. */
static int
s3_style(struct aws_client *c, const struct aws_opts *o, char *err,
    size_t errsz)
{
	const char *v = awsconf_get_sub(c->conf, "s3", "addressing_style");

	c->style = S3ADDR_AUTO;
	if (o->s3_path_style) {
		c->style = S3ADDR_PATH;
		return 0;
	}
	if (v == NULL || *v == '\0' || s3addr_style_parse(v, &c->style) == 0)
		return 0;
	snprintf(err, errsz, "invalid s3 addressing_style \"%.32s\" in "
	    "profile \"%s\": expected auto, path or virtual", v,
	    awsconf_profile(c->conf));
	return -1;
}

struct aws_client *
aws_client_new(const char *service_id, const char *signing_name,
    const struct aws_opts *o, char *err, size_t errsz, int *usage_error)
{
	struct aws_client *c = calloc(1, sizeof(*c));
	struct awsconf_tls tls;
	struct http_opts ho;
	struct creds cr;
	const char *region;
	int adaptive;

	memset(&cr, 0, sizeof(cr));
	*usage_error = 1;
	if (c == NULL) {
		snprintf(err, errsz, "out of memory");
		*usage_error = 0;
		return NULL;
	}
	if (awsconf_load(o->profile, &c->conf, err, errsz) != 0)
		goto fail;
	if (awsconf_region_required(c->conf, o->region, &region, err, errsz) != 0)
		goto fail;
	c->region = strdup(region);
	c->service_id = strdup(service_id);
	c->signing_name = strdup(signing_name);
	if (c->region == NULL || c->service_id == NULL || c->signing_name == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (awsconf_endpoint(c->conf, service_id, o->endpoint_url, c->region,
	    &c->ep, err, errsz) != 0)
		goto fail;
	if (http_url_host(c->ep.url, c->host, sizeof(c->host)) != 0) {
		snprintf(err, errsz, "bad endpoint URL: %s", c->ep.url);
		goto fail;
	}
	c->s3 = strcmp(signing_name, "s3") == 0;
	if (c->s3 && s3_style(c, o, err, errsz) != 0)
		goto fail;
	if (o->endpoint_url != NULL && *o->endpoint_url != '\0' &&
	    (c->explicit_url = strdup(o->endpoint_url)) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (aws_retry_settings(c->conf, o, &c->retry, &adaptive, err,
	    errsz) != 0)
		goto fail;
	if (adaptive) {
		if ((c->rl = malloc(sizeof(*c->rl))) == NULL) {
			snprintf(err, errsz, "out of memory");
			*usage_error = 0;
			goto fail;
		}
		ratelim_init(c->rl, now_s());
	}
	msg_debug("%s: %d attempts, %s retry mode", service_id,
	    c->retry.max_attempts, adaptive ? "adaptive" : "standard");
	c->stop = o->stop;
	c->seed = (uint64_t)kptime_mono_ms() * 2654435761u ^ (uint64_t)getpid();
	c->chain = creds_chain_new(c->conf);
	if (c->chain == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	creds_chain_set_aws(c->chain, c->region, o->ca_bundle, o->no_verify_ssl);
	if (creds_get(c->chain, time(NULL), &cr) != 0) {
		snprintf(err, errsz, "%s", creds_chain_error(c->chain));
		goto fail;
	}
	creds_clear(&cr);
	awsconf_tls(c->conf, o->ca_bundle, o->no_verify_ssl, &tls);
	if (!tls.verify && !warned_no_verify) {
		/* Said once per process, however many clients it makes. */
		warned_no_verify = 1;
		msg_warn("--no-verify-ssl: TLS certificates and host names are "
		    "not verified: anyone on the network path can read and "
		    "change the requests");
	}
	memset(&ho, 0, sizeof(ho));
	ho.ca_bundle = tls.ca_bundle;
	ho.stop = o->stop;
	ho.verify = tls.verify;
	ho.connect_timeout_ms = (long)o->connect_timeout_ms;
	ho.timeout_ms = (long)o->timeout_ms;
	if (c->rl != NULL) {
		ho.on_done = observe;
		ho.on_done_arg = c;
	}
	c->http = http_client_new(&ho);
	if (c->http == NULL) {
		snprintf(err, errsz, "cannot initialise libcurl");
		*usage_error = 0;
		goto fail;
	}
	return c;
fail:
	aws_client_free(c);
	return NULL;
}

void
aws_client_free(struct aws_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	http_client_free(c->http);
	creds_chain_free(c->chain);
	for (i = 0; i < c->nbr; i++) {
		free(c->br[i].bucket);
		free(c->br[i].region);
		awsconf_endpoint_clear(&c->br[i].ep);
	}
	free(c->explicit_url);
	awsconf_endpoint_clear(&c->ep);
	awsconf_free(c->conf);
	free(c->rl);
	free(c->region);
	free(c->service_id);
	free(c->signing_name);
	free(c);
}

const char *
aws_client_region(const struct aws_client *c)
{
	return c->region;
}

const char *
aws_client_endpoint(const struct aws_client *c)
{
	return c->ep.url;
}

int
aws_client_custom_endpoint(const struct aws_client *c)
{
	return c->ep.custom;
}

struct http_client *
aws_client_http(struct aws_client *c)
{
	return c->http;
}

const struct retry_policy *
aws_client_retry(const struct aws_client *c)
{
	return &c->retry;
}

void
aws_client_credentials_expired(struct aws_client *c)
{
	creds_invalidate(c->chain);
}

/* The redirect-taught entry of bucket, or NULL. */
static const struct bucket_region *
find_bucket(const struct aws_client *c, const char *bucket)
{
	size_t i;

	for (i = 0; bucket != NULL && i < c->nbr; i++)
		if (strcmp(c->br[i].bucket, bucket) == 0)
			return &c->br[i];
	return NULL;
}

const char *
aws_bucket_region(const struct aws_client *c, const char *bucket)
{
	const struct bucket_region *b = find_bucket(c, bucket);

	return b != NULL ? b->region : c->region;
}

const char *
aws_bucket_endpoint(const struct aws_client *c, const char *bucket)
{
	const struct bucket_region *b = find_bucket(c, bucket);

	return b != NULL ? b->ep.url : c->ep.url;
}

/* Where one call goes: the region it is signed for, its endpoint URL
 * (with the bucket's label when virtual-hosted), the bucket's path
 * ("/BUCKET" for path style, else ""), and its Host header. */
struct target {
	const char *region;
	char *base;
	char *bucket_path;
	char host[320];
};

static void
target_clear(struct target *t)
{
	free(t->base);
	free(t->bucket_path);
	t->base = t->bucket_path = NULL;
}

static int
call_target(const struct aws_client *c, const struct aws_call *call,
    struct target *t)
{
	const struct bucket_region *b = find_bucket(c, call->bucket);
	const struct awsconf_endpoint *ep = b != NULL ? &b->ep : &c->ep;

	t->region = b != NULL ? b->region : c->region;
	t->base = t->bucket_path = NULL;
	if (call->bucket == NULL) {
		t->base = strdup(ep->url);
		t->bucket_path = strdup("");
		snprintf(t->host, sizeof(t->host), "%s", c->host);
	} else if (s3addr_url(call->bucket, ep->url, s3addr_virtual(
	    call->bucket, ep->url, ep->custom, c->style), &t->base,
	    &t->bucket_path) != 0 ||
	    http_url_host(t->base, t->host, sizeof(t->host)) != 0) {
		target_clear(t);
		return -1;
	}
	if (t->base == NULL || t->bucket_path == NULL) {
		target_clear(t);
		return -1;
	}
	return 0;
}

/*
 * The path a call goes to, and its URL: an endpoint URL with a path
 * (https://proxy.example/kinesis) puts it before the call's, as botocore
 * joins them ("/" alone becomes the endpoint's path, "/b/k" its
 * continuation); a path-style bucket's "/BUCKET" comes between them.  The
 * path is what is signed, so that both agree.  Returns 0, or -1 when
 * memory is short.
 */
static int
request_url(const struct target *t, const struct aws_call *call,
    char **path, char **url)
{
	const char *host = strstr(t->base, "://");
	const char *ep = host + 3 + strcspn(host + 3, "/");
	const char *q = call->query && *call->query ? call->query : NULL;
	size_t plen;

	*url = NULL;
	if (*ep != '\0' && *t->bucket_path == '\0' &&
	    strcmp(call->path, "/") == 0)
		*path = strdup(ep);
	else if (asprintf(path, "%s%s%s", ep, t->bucket_path, call->path) < 0)
		*path = NULL;
	if (*path == NULL)
		return -1;
	plen = (size_t)(ep - t->base);
	if (asprintf(url, "%.*s%s%s%s", (int)plen, t->base, *path,
	    q ? "?" : "", q ? q : "") < 0) {
		*url = NULL;
		return -1;
	}
	return 0;
}

struct http_xfer *
aws_start(struct aws_client *c, const struct aws_call *call, void *user,
    char *err, size_t errsz)
{
	struct sigv4_header sh[AWS_MAX_HEADERS + 1];
	char names[AWS_MAX_HEADERS][128];
	const char *hv[AWS_MAX_HEADERS + 2 + SIGV4_MAX_ADDED];
	char *owned[SIGV4_MAX_ADDED + 1];
	struct sigv4_signed sig;
	struct sigv4_request rq;
	struct sigv4_credentials sc;
	struct http_request hr;
	struct http_xfer *x = NULL;
	struct creds cr;
	struct target t;
	char *url = NULL, *path = NULL;
	size_t i, n = 0, nh = 0, nowned = 0;

	memset(&sig, 0, sizeof(sig));
	memset(&cr, 0, sizeof(cr));
	memset(&t, 0, sizeof(t));
	if (call->nheaders > AWS_MAX_HEADERS) {
		snprintf(err, errsz, "too many headers");
		return NULL;
	}
	if (c->rl != NULL)
		wait_token(c);
	if (creds_get(c->chain, time(NULL), &cr) != 0) {
		snprintf(err, errsz, "%s", creds_chain_error(c->chain));
		return NULL;
	}
	/* Split "Name: value" for the signer; the strings stay the caller's. */
	for (i = 0; i < call->nheaders; i++) {
		const char *colon = strchr(call->headers[i], ':');
		size_t k;

		if (colon == NULL || (k = (size_t)(colon - call->headers[i])) >=
		    sizeof(names[0])) {
			snprintf(err, errsz, "malformed header");
			goto out;
		}
		memcpy(names[i], call->headers[i], k);
		names[i][k] = '\0';
		sh[n].name = names[i];
		sh[n].value = colon + 1;
		n++;
	}
	if (call_target(c, call, &t) != 0) {
		snprintf(err, errsz, "out of memory, or a bad bucket host name");
		goto out;
	}
	sh[n].name = "host";
	sh[n].value = t.host;
	n++;
	if (request_url(&t, call, &path, &url) != 0) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = call->method;
	rq.path = path;
	rq.query = call->query;
	rq.headers = sh;
	rq.nheaders = n;
	rq.payload = call->body;
	rq.payload_len = call->body_len;
	rq.payload_hash = call->payload_hash;
	rq.region = t.region;
	rq.service = c->signing_name;
	rq.time = time(NULL);
	rq.flags = c->s3 ? SIGV4_S3 : SIGV4_NORMALIZE_PATH;
	sc.access_key_id = cr.access_key_id;
	sc.secret_access_key = cr.secret_access_key;
	sc.session_token = cr.session_token;
	if (sigv4_sign(&rq, &sc, &sig) != 0) {
		snprintf(err, errsz, "cannot sign the request: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < call->nheaders; i++)
		hv[nh++] = call->headers[i];
	for (i = 0; i < sig.nheaders; i++) {
		size_t len = strlen(sig.headers[i].name) +
		    strlen(sig.headers[i].value) + 3;
		char *h = malloc(len);

		if (h == NULL) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		snprintf(h, len, "%s: %s", sig.headers[i].name,
		    sig.headers[i].value);
		owned[nowned++] = h;
		hv[nh++] = h;
	}
	memset(&hr, 0, sizeof(hr));
	hr.method = call->method;
	hr.url = url;
	hr.headers = hv;
	hr.nheaders = nh;
	hr.body = call->body;
	hr.body_len = call->body_len;
	x = http_start(c->http, &hr, user);
	if (x == NULL)
		snprintf(err, errsz, "cannot start the request to %s", t.base);
out:
	for (i = 0; i < nowned; i++)
		free(owned[i]);
	target_clear(&t);
	free(url);
	free(path);
	sigv4_signed_free(&sig);
	creds_clear(&cr);
	return x;
}

/* The first of the members k1, k2, k3 (NULL: none) of o that is a string,
 * or NULL. */
static const char *
jstr_member(struct json_object *o, const char *k1, const char *k2,
    const char *k3)
{
	const char *keys[3] = { k1, k2, k3 };
	struct json_object *v;
	size_t i;

	for (i = 0; i < 3 && keys[i] != NULL; i++)
		if (json_object_object_get_ex(o, keys[i], &v) &&
		    json_object_is_type(v, json_type_string))
			return json_object_get_string(v);
	return NULL;
}

/* What a server says, made safe (msg_clean()) before it is cut to fit:
 * it may quote the request's credentials or carry escapes. */
static void
copy_str(char *out, size_t outsz, const char *s)
{
	msg_clean(s, out, outsz);
}

void
aws_error(const struct http_response *r, char *code, size_t codesz,
    char *message, size_t msgsz)
{
	code[0] = message[0] = '\0';
	if (r->error_type[0] != '\0') {
		/* "Code:http://internal.amazon.com/..." */
		char t[sizeof(r->error_type)];
		size_t n = strcspn(r->error_type, ":");

		memcpy(t, r->error_type, n);
		t[n] = '\0';
		copy_str(code, codesz, t);
	}
	if (r->body == NULL || r->body_len == 0)
		return;
	if (r->body[0] == '{') {
		struct json_object *o = json_tokener_parse(r->body);
		const char *t;

		if (o == NULL)
			return;
		/* Only string members count: "__type": null is no code. */
		t = code[0] == '\0' ? jstr_member(o, "__type", "code", "Code") :
		    NULL;
		if (t != NULL) {
			const char *h = strrchr(t, '#');

			copy_str(code, codesz, h ? h + 1 : t);
		}
		t = jstr_member(o, "message", "Message", NULL);
		if (t != NULL)
			copy_str(message, msgsz, t);
		json_object_put(o);
	} else if (strstr(r->body, "<Error") != NULL ||
	    strstr(r->body, "<ErrorResponse") != NULL) {
		if (code[0] == '\0')
			s3_xml_copy(r->body, "Code", code, codesz);
		s3_xml_copy(r->body, "Message", message, msgsz);
	}
}

int
aws_maybe_applied(const struct http_response *r, enum retry_kind kind,
    int parsed)
{
	if (r->resent)
		return 1;
	if (parsed || (kind != RETRY_YES && kind != RETRY_THROTTLED))
		return 0;
	if (r->status == 0)
		return !r->unsent;
	return r->status < 400 || r->status >= 500;
}

enum retry_kind
aws_outcome(const struct http_response *r, char *err, size_t errsz)
{
	char code[128], message[512];

	if (r->status == 0) {
		snprintf(err, errsz, "%s", r->error);
		return retry_classify(0, r->transport_retryable, NULL);
	}
	if (r->status >= 200 && r->status < 300) {
		err[0] = '\0';
		return RETRY_NO;
	}
	aws_error(r, code, sizeof(code), message, sizeof(message));
	if (code[0] != '\0')
		snprintf(err, errsz, "%s: %s (HTTP %ld)", code,
		    message[0] ? message : "no message", r->status);
	else
		snprintf(err, errsz, "HTTP %ld%s%s", r->status,
		    message[0] ? ": " : "", message);
	return retry_classify(r->status, 0, code);
}

/*
 * Remembers that bucket is in region: its endpoint there (the same custom
 * endpoint, or AWS's of that region) for every later request.  Returns 0,
 * or -1 (no endpoint for the region, no room, no memory).
 */
static int
remember_region(struct aws_client *c, const char *bucket, const char *region)
{
	struct bucket_region *b = (struct bucket_region *)find_bucket(c, bucket);
	struct awsconf_endpoint ep;
	char err[AWSCONF_ERRSZ];
	char *nb = NULL, *nr = NULL;

	if (b == NULL && c->nbr == AWS_MAX_BUCKET_REGIONS)
		return -1;
	if (awsconf_endpoint(c->conf, c->service_id, c->explicit_url, region,
	    &ep, err, sizeof(err)) != 0) {
		msg_warn("s3://%s: no endpoint for region %s: %s", bucket, region,
		    err);
		return -1;
	}
	if ((b == NULL && (nb = strdup(bucket)) == NULL) ||
	    (nr = strdup(region)) == NULL) {
		free(nb);
		awsconf_endpoint_clear(&ep);
		return -1;
	}
	if (b == NULL) {
		b = &c->br[c->nbr++];
		b->bucket = nb;
	} else {
		free(b->region);
		awsconf_endpoint_clear(&b->ep);
	}
	b->region = nr;
	b->ep = ep;
	return 0;
}

/* The x-amz-bucket-region of a HEAD of the bucket, into out ("" when the
 * answer has none), signed for the region the client knows it in. */
static void
head_bucket_region(struct aws_client *c, const char *bucket, char *out,
    size_t outsz)
{
	struct aws_call call;
	struct http_xfer *x;
	char err[256];

	out[0] = '\0';
	memset(&call, 0, sizeof(call));
	call.method = "HEAD";
	call.bucket = bucket;
	call.path = "/";
	x = aws_start(c, &call, NULL, err, sizeof(err));
	if (x == NULL)
		return;
	if (http_wait_xfer(c->http, x) == 0)
		snprintf(out, outsz, "%s", http_xfer_response(x)->bucket_region);
	http_xfer_free(x);
}

int
aws_s3_redirect(struct aws_client *c, const char *bucket, int head,
    const struct http_response *r)
{
	char code[128], message[8], region[64];
	const char *old;
	struct buf rb = BUF_INIT;
	long st = r->status;
	int wrong;

	if (!c->s3 || bucket == NULL || st == 0 || (st >= 200 && st < 300))
		return 0;
	aws_error(r, code, sizeof(code), message, sizeof(message));
	region[0] = '\0';
	if (r->body != NULL && s3_xml_value(r->body, "Region", &rb) == 0 &&
	    buf_cstr(&rb) != NULL)
		snprintf(region, sizeof(region), "%s", rb.p);
	buf_free(&rb);
	wrong = st == 301 || st == 302 || st == 307 ||
	    strcmp(code, "PermanentRedirect") == 0 ||
	    strcmp(code, "IllegalLocationConstraintException") == 0 ||
	    (strcmp(code, "AuthorizationHeaderMalformed") == 0 &&
	    region[0] != '\0') ||
	    (head && (st == 400 || st == 301));
	if (!wrong)
		return 0;
	/* The header, else the error's <Region>, else a HEAD of the bucket. */
	if (r->bucket_region[0] != '\0')
		snprintf(region, sizeof(region), "%s", r->bucket_region);
	else if (region[0] == '\0')
		head_bucket_region(c, bucket, region, sizeof(region));
	if (region[0] == '\0' || !awsconf_region_ok(region)) {
		msg_debug("s3://%s: HTTP %ld%s%s: the bucket's region is not "
		    "known", bucket, st, code[0] ? " " : "", code);
		return 0;
	}
	old = aws_bucket_region(c, bucket);
	if (strcmp(old, region) != 0) {
		char was[64];

		snprintf(was, sizeof(was), "%s", old);
		if (remember_region(c, bucket, region) != 0)
			return 0;
		msg_info("s3://%s: the bucket is in region %s, not %s: its "
		    "requests go to %s, signed for %s, from now on", bucket,
		    region, was, aws_bucket_endpoint(c, bucket), region);
	}
	return 1;
}

/* A request as retry messages name it: the operation of a JSON API call
 * (its X-Amz-Target after the '.': "GetRecords"), else "METHOD PATH". */
static const char *
call_name(const struct aws_call *call, char *buf, size_t bufsz)
{
	static const char target[] = "X-Amz-Target:";
	size_t i;

	for (i = 0; i < call->nheaders; i++) {
		const char *h = call->headers[i], *op;

		if (strncasecmp(h, target, sizeof(target) - 1) != 0)
			continue;
		op = strrchr(h, '.');
		op = op != NULL ? op + 1 : h + sizeof(target) - 1;
		while (*op == ' ')
			op++;
		snprintf(buf, bufsz, "%s", op);
		return buf;
	}
	snprintf(buf, bufsz, "%s %s", call->method, call->path);
	return buf;
}

int
aws_call(struct aws_client *c, const struct aws_call *call,
    struct http_response *resp, char *err, size_t errsz)
{
	struct retry_state st;
	char name[300];
	int refreshed = 0, redirected = 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	retry_start(&st, kptime_mono_ms(), c->seed++);
	for (;;) {
		struct http_xfer *x = aws_start(c, call, NULL, err, errsz);
		enum retry_kind kind;
		int64_t delay;

		if (x == NULL)
			return -1;
		if (http_wait_xfer(c->http, x) != 0) {
			http_xfer_free(x);
			if (c->stop != NULL && *c->stop) {
				snprintf(err, errsz, "interrupted");
				return AWS_INTERRUPTED;
			}
			snprintf(err, errsz, "HTTP transfer failed");
			return -1;
		}
		http_response_clear(resp);
		*resp = *http_xfer_response(x);
		http_xfer_response(x)->body = NULL;
		http_xfer_free(x);
		if (resp->status >= 200 && resp->status < 300)
			return 0;
		if (call->bucket != NULL && !redirected &&
		    aws_s3_redirect(c, call->bucket,
		    strcmp(call->method, "HEAD") == 0, resp)) {
			redirected = 1;
			continue;
		}
		kind = aws_outcome(resp, err, errsz);
		if (kind == RETRY_NO)
			return -1;
		if (kind == RETRY_CREDENTIALS) {
			if (refreshed)
				return -1;
			refreshed = 1;
			creds_invalidate(c->chain);
			msg_warn("%s; refreshing credentials", err);
			continue;
		}
		delay = retry_next(&c->retry, &st, kptime_mono_ms(),
		    resp->retry_after_ms);
		if (delay < 0)
			return -1;
		msg_warn("%s: %s; retry %d in %lld ms", call_name(call, name,
		    sizeof(name)), err, st.attempt, (long long)delay);
		if (retry_sleep(delay, c->stop) != 0) {
			snprintf(err, errsz, "interrupted while retrying");
			return AWS_INTERRUPTED;
		}
	}
}
