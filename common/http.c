#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"

#define HTTP_MAX_BODY (256UL * 1024 * 1024)

struct http_xfer {
	struct http_client *c;
	CURL *easy;
	struct curl_slist *hdrs;
	struct http_response resp;
	size_t body_cap;
	void *user;
	int running;
	int too_large;      /* the body went past o.max_body */
	int sends;          /* times the request went out (libcurl sends it
	                     * again by itself when a reused connection died
	                     * without an answer) */
	struct http_xfer *next_done;
	struct http_xfer *run_prev, *run_next;  /* the client's running ones */
};

struct http_client {
	CURLM *multi;
	CURL **pool;      /* idle easy handles, reused for their caches */
	size_t npool, cappool;
	int inflight;
	struct http_xfer *run;   /* running (for http_abort_all()) */
	struct http_xfer *done;  /* finished, not yet handed out */
	struct http_opts o;
	char *ca_bundle;
};

static int curl_ready;

struct http_client *
http_client_new(const struct http_opts *o)
{
	struct http_client *c = NULL;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return NULL;
		curl_ready = 1;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->o = *o;
	if (o->ca_bundle != NULL && (c->ca_bundle = strdup(o->ca_bundle)) == NULL)
		goto fail;
	c->o.ca_bundle = c->ca_bundle;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = 10000;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 120000;
	if (c->o.max_body == 0 || c->o.max_body > HTTP_MAX_BODY)
		c->o.max_body = HTTP_MAX_BODY;
	c->multi = curl_multi_init();
	if (c->multi == NULL)
		goto fail;
	return c;
fail:
	http_client_free(c);
	return NULL;
}

void
http_client_free(struct http_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	while (c->done != NULL) {
		struct http_xfer *x = c->done;

		c->done = x->next_done;
		http_xfer_free(x);
	}
	for (i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	free(c->pool);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	free(c->ca_bundle);
	free(c);
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	size_t len = size * n, max = x->c->o.max_body;

	if (len > max - x->resp.body_len) {
		x->too_large = 1;
		return 0; /* aborts the transfer */
	}
	if (x->resp.body_len + len + 1 > x->body_cap) {
		size_t ncap = x->body_cap ? x->body_cap : 4096;
		char *nb;

		while (ncap < x->resp.body_len + len + 1)
			ncap *= 2;
		if (ncap > max + 1)
			ncap = max + 1;
		nb = realloc(x->resp.body, ncap);
		if (nb == NULL)
			return 0;
		x->resp.body = nb;
		x->body_cap = ncap;
	}
	memcpy(x->resp.body + x->resp.body_len, p, len);
	x->resp.body_len += len;
	x->resp.body[x->resp.body_len] = '\0';
	return len;
}

static void
copy_value(char *dst, size_t dstsz, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
	    v[n - 1] == ' '))
		n--;
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static int
header_is(const char *line, size_t n, const char *name, const char **val,
    size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
		return 0;
	*val = line + k + 1;
	*vlen = n - k - 1;
	return 1;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	size_t len = size * n, vlen;
	const char *v;
	char tmp[128];

	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100-continue or a redirect). */
		x->resp.retry_after_ms = -1;
		x->resp.etag[0] = x->resp.request_id[0] = '\0';
		x->resp.error_type[0] = x->resp.bucket_region[0] = '\0';
	} else if (header_is(p, len, "retry-after", &v, &vlen)) {
		char *end;
		long secs;

		copy_value(tmp, sizeof(tmp), v, vlen);
		errno = 0;
		secs = strtol(tmp, &end, 10);
		if (errno == 0 && end != tmp && *end == '\0' && secs >= 0) {
			x->resp.retry_after_ms = secs * 1000;
		} else {
			time_t when = curl_getdate(tmp, NULL);

			if (when != -1)
				x->resp.retry_after_ms = when > time(NULL) ?
				    (int64_t)(when - time(NULL)) * 1000 : 0;
		}
	} else if (header_is(p, len, "etag", &v, &vlen)) {
		copy_value(x->resp.etag, sizeof(x->resp.etag), v, vlen);
	} else if (header_is(p, len, "x-amzn-requestid", &v, &vlen) ||
	    header_is(p, len, "x-amz-request-id", &v, &vlen)) {
		copy_value(x->resp.request_id, sizeof(x->resp.request_id), v, vlen);
	} else if (header_is(p, len, "x-amzn-errortype", &v, &vlen)) {
		copy_value(x->resp.error_type, sizeof(x->resp.error_type), v, vlen);
	} else if (header_is(p, len, "x-amz-bucket-region", &v, &vlen)) {
		copy_value(x->resp.bucket_region, sizeof(x->resp.bucket_region),
		    v, vlen);
	}
	return len;
}

static CURL *
take_easy(struct http_client *c)
{
	CURL *e;

	if (c->npool > 0) {
		e = c->pool[--c->npool];
		curl_easy_reset(e);
		return e;
	}
	return curl_easy_init();
}

static void
give_easy(struct http_client *c, CURL *e)
{
	if (c->npool == c->cappool) {
		size_t ncap = c->cappool ? c->cappool * 2 : 8;
		CURL **np = realloc(c->pool, ncap * sizeof(*np));

		if (np == NULL) {
			curl_easy_cleanup(e);
			return;
		}
		c->pool = np;
		c->cappool = ncap;
	}
	c->pool[c->npool++] = e;
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Called before each sending of a request on a connection. */
static int
on_prereq(void *arg, char *ip, char *lip, int port, int lport)
{
	struct http_xfer *x = arg;

	(void)ip;
	(void)lip;
	(void)port;
	(void)lport;
	if (++x->sends > 1)
		x->resp.resent = 1;
	return CURL_PREREQFUNC_OK;
}
#endif

/* Every setopt is checked; one failure fails the set-up. */
#define SET(e, opt, val) \
	do { if (curl_easy_setopt(e, opt, val) != CURLE_OK) goto fail; } while (0)

/* x leaves the client's running transfers: out of the multi handle. */
static void
stop_running(struct http_xfer *x)
{
	struct http_client *c = x->c;

	curl_multi_remove_handle(c->multi, x->easy);
	if (x->run_prev != NULL)
		x->run_prev->run_next = x->run_next;
	else
		c->run = x->run_next;
	if (x->run_next != NULL)
		x->run_next->run_prev = x->run_prev;
	x->run_prev = x->run_next = NULL;
	x->running = 0;
	c->inflight--;
}

struct http_xfer *
http_start(struct http_client *c, const struct http_request *req, void *user)
{
	struct http_xfer *x = calloc(1, sizeof(*x));
	size_t i;

	if (x == NULL)
		return NULL;
	x->c = c;
	x->user = user;
	x->resp.retry_after_ms = -1;
	x->easy = take_easy(c);
	if (x->easy == NULL)
		goto fail;
	for (i = 0; i < req->nheaders; i++) {
		struct curl_slist *n = curl_slist_append(x->hdrs, req->headers[i]);

		if (n == NULL)
			goto fail;
		x->hdrs = n;
	}
	/* No "Expect: 100-continue" round trip; no default Content-Type. */
	{
		static const char *const extra[] = { "Expect:", "Accept:" };

		for (i = 0; i < 2; i++) {
			struct curl_slist *n = curl_slist_append(x->hdrs, extra[i]);

			if (n == NULL)
				goto fail;
			x->hdrs = n;
		}
	}
	SET(x->easy, CURLOPT_URL, req->url);
	SET(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	SET(x->easy, CURLOPT_NOSIGNAL, 1L);
	SET(x->easy, CURLOPT_TCP_NODELAY, 1L);
	SET(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	if (c->o.no_proxy)
		SET(x->easy, CURLOPT_NOPROXY, "*");
	SET(x->easy, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
	SET(x->easy, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
	if (c->o.low_speed_secs > 0) {
		SET(x->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		SET(x->easy, CURLOPT_LOW_SPEED_TIME, c->o.low_speed_secs);
	}
	SET(x->easy, CURLOPT_SSL_VERIFYPEER, c->o.verify ? 1L : 0L);
	SET(x->easy, CURLOPT_SSL_VERIFYHOST, c->o.verify ? 2L : 0L);
	if (c->o.ca_bundle != NULL)
		SET(x->easy, CURLOPT_CAINFO, c->o.ca_bundle);
	SET(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	SET(x->easy, CURLOPT_WRITEDATA, x);
	SET(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	SET(x->easy, CURLOPT_HEADERDATA, x);
	SET(x->easy, CURLOPT_PRIVATE, x);
#if LIBCURL_VERSION_NUM >= 0x075000
	SET(x->easy, CURLOPT_PREREQFUNCTION, on_prereq);
	SET(x->easy, CURLOPT_PREREQDATA, x);
#endif
	SET(x->easy, CURLOPT_ERRORBUFFER, x->resp.error);
	if (strcmp(req->method, "HEAD") == 0) {
		SET(x->easy, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "GET") == 0 && req->body_len == 0) {
		SET(x->easy, CURLOPT_HTTPGET, 1L);
	} else {
		/* A body of any method, sent from the caller's buffer. */
		SET(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(x->easy, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
		SET(x->easy, CURLOPT_CUSTOMREQUEST, req->method);
	}
	if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
		goto fail;
	x->running = 1;
	c->inflight++;
	x->run_next = c->run;
	if (c->run != NULL)
		c->run->run_prev = x;
	c->run = x;
	return x;
fail:
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	free(x);
	return NULL;
}

/* Transport errors worth another attempt. */
static int
transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
}

static void
collect(struct http_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct http_xfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x == NULL)
			continue;
		if (m->data.result == CURLE_OK) {
			curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE,
			    &x->resp.status);
		} else {
			x->resp.status = 0;
			x->resp.transport_retryable = transient(m->data.result);
			x->resp.unsent = m->data.result == CURLE_COULDNT_CONNECT ||
			    m->data.result == CURLE_COULDNT_RESOLVE_HOST ||
			    m->data.result == CURLE_COULDNT_RESOLVE_PROXY ||
			    m->data.result == CURLE_SSL_CONNECT_ERROR;
			if (x->too_large)
				snprintf(x->resp.error, sizeof(x->resp.error),
				    "response too large");
			else if (x->resp.error[0] == '\0')
				snprintf(x->resp.error, sizeof(x->resp.error), "%s",
				    curl_easy_strerror(m->data.result));
		}
		stop_running(x);
		if (c->o.on_done != NULL)
			c->o.on_done(c->o.on_done_arg, &x->resp);
		x->next_done = c->done;
		c->done = x;
	}
}

/* http_wait(), which also gives up once *stop (NULL: never) is set. */
static struct http_xfer *
wait_any(struct http_client *c, int timeout_ms,
    const volatile sig_atomic_t *stop)
{
	struct timespec t0;
	int64_t deadline = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (timeout_ms >= 0)
		deadline = (int64_t)t0.tv_sec * 1000 + t0.tv_nsec / 1000000 +
		    timeout_ms;
	for (;;) {
		struct timespec now;
		int running, wait_ms = 1000;
		int64_t nowms;

		if (curl_multi_perform(c->multi, &running) != CURLM_OK)
			return NULL;
		collect(c);
		if (c->done != NULL) {
			struct http_xfer *x = c->done;

			c->done = x->next_done;
			x->next_done = NULL;
			return x;
		}
		if (c->inflight == 0 || (stop != NULL && *stop))
			return NULL;
		clock_gettime(CLOCK_MONOTONIC, &now);
		nowms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
		if (deadline >= 0) {
			if (nowms >= deadline)
				return NULL;
			if (deadline - nowms < wait_ms)
				wait_ms = (int)(deadline - nowms);
		}
		if (curl_multi_poll(c->multi, NULL, 0, wait_ms, NULL) != CURLM_OK)
			return NULL;
	}
}

struct http_xfer *
http_wait(struct http_client *c, int timeout_ms)
{
	return wait_any(c, timeout_ms, NULL);
}

int
http_poll_fd(struct http_client *c, int fd, int timeout_ms)
{
	struct curl_waitfd wfd = { fd, CURL_WAIT_POLLIN, 0 };
	int running;

	if (curl_multi_perform(c->multi, &running) != CURLM_OK)
		return -1;
	collect(c);
	if (c->done != NULL)
		return 0;
	if (curl_multi_poll(c->multi, fd >= 0 ? &wfd : NULL, fd >= 0 ? 1 : 0,
	    timeout_ms, NULL) != CURLM_OK)
		return -1;
	if (curl_multi_perform(c->multi, &running) != CURLM_OK)
		return -1;
	collect(c);
	return fd >= 0 && (wfd.revents & CURL_WAIT_POLLIN) ? 1 : 0;
}

void
http_abort_all(struct http_client *c, const char *why)
{
	while (c->run != NULL) {
		struct http_xfer *x = c->run;

		stop_running(x);
		x->resp.status = 0;
		x->resp.transport_retryable = 1;
		snprintf(x->resp.error, sizeof(x->resp.error), "%s", why);
		x->next_done = c->done;
		c->done = x;
	}
}

int
http_inflight(const struct http_client *c)
{
	return c->inflight;
}

struct http_response *
http_xfer_response(struct http_xfer *x)
{
	return &x->resp;
}

void *
http_xfer_user(const struct http_xfer *x)
{
	return x->user;
}

void
http_xfer_free(struct http_xfer *x)
{
	if (x == NULL)
		return;
	if (x->running)
		stop_running(x);
	if (x->easy != NULL)
		give_easy(x->c, x->easy);
	curl_slist_free_all(x->hdrs);
	free(x->resp.body);
	free(x);
}

void
http_response_clear(struct http_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
}

int
http_wait_xfer(struct http_client *c, struct http_xfer *x)
{
	/* Other transfers may finish first; keep them for their owners. */
	while (x->running) {
		struct http_xfer *done = wait_any(c, -1, c->o.stop), **pp;

		if (done == NULL)
			return -1;
		if (done == x)
			return 0;
		pp = &c->done;
		while (*pp != NULL)
			pp = &(*pp)->next_done;
		*pp = done;
		done->next_done = NULL;
	}
	/* Finished earlier: unlink it from the done list. */
	{
		struct http_xfer **pp = &c->done;

		while (*pp != NULL && *pp != x)
			pp = &(*pp)->next_done;
		if (*pp == x)
			*pp = x->next_done;
		x->next_done = NULL;
	}
	return 0;
}

int
http_do(struct http_client *c, const struct http_request *req,
    struct http_response *resp)
{
	struct http_xfer *x;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	x = http_start(c, req, NULL);
	if (x == NULL) {
		snprintf(resp->error, sizeof(resp->error), "cannot set up request");
		return -1;
	}
	if (http_wait_xfer(c, x) != 0) {
		http_xfer_free(x);
		snprintf(resp->error, sizeof(resp->error), "interrupted");
		return -1;
	}
	*resp = x->resp;
	x->resp.body = NULL;
	http_xfer_free(x);
	return resp->status == 0 ? -1 : 0;
}

int
http_url_host(const char *url, char *out, size_t outsz)
{
	const char *p = strstr(url, "://"), *end;
	size_t n;

	if (p == NULL)
		return -1;
	p += 3;
	end = p + strcspn(p, "/?#");
	n = (size_t)(end - p);
	/* Drop a default port: the Host header omits it. */
	if (strncmp(url, "https://", 8) == 0 && n > 4 &&
	    strncmp(end - 4, ":443", 4) == 0)
		n -= 4;
	else if (strncmp(url, "http://", 7) == 0 && n > 3 &&
	    strncmp(end - 3, ":80", 3) == 0)
		n -= 3;
	if (n == 0 || n >= outsz)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}
