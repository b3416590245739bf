/*
 * http.h - HTTP over libcurl: one multi handle per client, so connections
 * are reused and several requests can be in flight; a synchronous call on
 * top.  Retrying is the caller's (see retry.h, aws.h): this layer reports
 * what happened, classifying transport errors as transient or not.
 * Only http and https are spoken, and redirects are never followed: a 3xx
 * comes back to the caller as it is.
 */
#ifndef KP_HTTP_H
#define KP_HTTP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct http_response;

struct http_opts {
	const char *ca_bundle;       /* NULL: the system default */
	int verify;                  /* verify the peer and host name */
	long connect_timeout_ms;     /* 0: 10 s */
	long timeout_ms;             /* whole request; 0: 120 s */
	long low_speed_secs;         /* abort below 1 B/s for this long; 0: off */
	int no_proxy;                /* 1: never through a proxy, whatever
	                              * http_proxy & co. say */
	size_t max_body;             /* a longer response body fails the
	                              * request, error "response too large";
	                              * 0: 256 MiB */
	/* A tool's stop flag (sig.h): a synchronous wait (http_wait_xfer(),
	 * http_do()) gives up once it is set, however long the request
	 * would still take.  NULL: never. */
	const volatile sig_atomic_t *stop;
	/* Called as each transfer ends, with the server's answer or a
	 * transport error (not for http_abort_all()), before a wait hands
	 * it out: how the adaptive retry mode (aws.c) sees every response.
	 * NULL: nothing. */
	void (*on_done)(void *arg, const struct http_response *r);
	void *on_done_arg;
};

struct http_request {
	const char *method;            /* GET, HEAD, PUT, POST, DELETE */
	const char *url;
	const char *const *headers;    /* "Name: value" strings */
	size_t nheaders;
	const void *body;              /* not copied: valid until done */
	size_t body_len;
};

struct http_response {
	long status;                   /* 0 after a transport error */
	int transport_retryable;       /* the transport error is transient */
	int unsent;                    /* ... and came before the request
	                                * went out (connect, resolve, TLS
	                                * set-up): the server never saw it */
	int resent;                    /* libcurl sent the request twice: a
	                                * reused connection died before an
	                                * answer (the first may have been
	                                * applied; libcurl 7.80 and later) */
	char error[256];               /* transport error text */
	char *body;                    /* owned, NUL-terminated */
	size_t body_len;
	int64_t retry_after_ms;        /* Retry-After, or -1 */
	char etag[128];
	char request_id[128];
	char error_type[128];          /* x-amzn-ErrorType */
	char bucket_region[64];        /* x-amz-bucket-region (S3) */
};

struct http_client;
struct http_xfer;

/* Returns a new client, or NULL.  Free with http_client_free(). */
struct http_client *http_client_new(const struct http_opts *o);
void http_client_free(struct http_client *c);

/* Starts a request; user is handed back by http_xfer_user().  Returns NULL
 * when the request could not even be set up (out of memory, bad URL). */
struct http_xfer *http_start(struct http_client *c,
    const struct http_request *req, void *user);

/*
 * Drives the transfers until one finishes or timeout_ms passes (< 0: no
 * limit); returns the finished one, else NULL.  Signals do not interrupt
 * it (requests are bounded by their timeouts), so a tool can drain.  A
 * finished transfer belongs to the caller: http_xfer_free() it.
 */
struct http_xfer *http_wait(struct http_client *c, int timeout_ms);

/* Drives the transfers until x has finished (others that finish meanwhile
 * stay queued for http_wait()).  Returns 0, or -1 on a libcurl error or
 * once the stop flag (http_opts) is set: x is then still running, and
 * http_xfer_free() aborts it. */
int http_wait_xfer(struct http_client *c, struct http_xfer *x);

/*
 * Drives the transfers and waits up to timeout_ms for activity on them or
 * for fd (-1: none) to become readable.  Returns 1 when fd is readable,
 * 0 otherwise, -1 on a libcurl error.  Finished transfers are then
 * collected with http_wait(c, 0).
 */
int http_poll_fd(struct http_client *c, int fd, int timeout_ms);

/*
 * Stops every transfer still running: each is then handed out by
 * http_wait() as finished, with status 0, a transient error, and why as
 * its error.  What the server did with a request is then unknown.
 */
void http_abort_all(struct http_client *c, const char *why);

/* Transfers started and not yet returned by http_wait(). */
int http_inflight(const struct http_client *c);

struct http_response *http_xfer_response(struct http_xfer *x);
void *http_xfer_user(const struct http_xfer *x);
/* Frees x (aborting it if still running); accepts NULL. */
void http_xfer_free(struct http_xfer *x);

/* One request, synchronously; *resp is filled (free with
 * http_response_clear()).  Returns 0 when a response arrived (any status),
 * -1 on a transport error (resp->error says which). */
int http_do(struct http_client *c, const struct http_request *req,
    struct http_response *resp);

void http_response_clear(struct http_response *r);

/* "host[:port]" of a URL into out (the Host header value).  0 or -1. */
int http_url_host(const char *url, char *out, size_t outsz);

#endif
