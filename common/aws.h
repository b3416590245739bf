/*
 * aws.h - a signed AWS service client: configuration (awsconf.h),
 * credentials (creds.h), SigV4 (sigv4.h) and HTTP (http.h) put together,
 * with the retry policy (retry.h) for synchronous calls.
 */
#ifndef KP_AWS_H
#define KP_AWS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>


#include "http.h"
#include "retry.h"

struct aws_opts {
	const char *region;
	const char *profile;
	const char *endpoint_url;
	const char *ca_bundle;
	int no_verify_ssl;
	int64_t connect_timeout_ms;
	int64_t timeout_ms;
	struct retry_policy retry;
	/* S3: path-style addressing whatever the config's
	 * "s3 = addressing_style" says (s3-put's --path-style). */
	int s3_path_style;
	/* 1 when --max-attempts set retry.max_attempts: it then wins over
	 * $AWS_MAX_ATTEMPTS and the profile's max_attempts (aws_client_new()
	 * reads those, and $AWS_RETRY_MODE / retry_mode). */
	int max_attempts_set;
	/* A tool's stop flag (sig.h): a synchronous call (aws_call()) gives
	 * up once it is set, in its request or in the wait before a retry.
	 * NULL: never. */
	const volatile sig_atomic_t *stop;
};

/* Defaults for every field (cli.h parses the options into them). */
void aws_opts_init(struct aws_opts *o);

struct aws_client;

/*
 * The retry settings of the environment and the profile, as the SDKs name
 * them: max attempts from $AWS_MAX_ATTEMPTS, else the profile's
 * max_attempts (unless o->max_attempts_set: the option wins), else
 * o->retry's; the mode from $AWS_RETRY_MODE, else the profile's
 * retry_mode: "standard" (the default) and "legacy" are kinpipe's one
 * policy, "adaptive" adds client-side rate limiting (ratelim.h).  Returns
 * 0 with *p and *adaptive, or -1 with a message naming the source of a
 * bad value (a configuration error).
 */
struct awsconf;
int aws_retry_settings(const struct awsconf *conf, const struct aws_opts *o,
    struct retry_policy *p, int *adaptive, char *err, size_t errsz);

/*
 * Returns a new client for a service ("Kinesis"/"kinesis",
 * "S3"/"s3": service id and signing name), or NULL with a message in err:
 * then *usage_error is 1 for a configuration problem (no region, no
 * credentials, a bad profile: exit 2), 0 otherwise.
 */
struct aws_client *aws_client_new(const char *service_id,
    const char *signing_name, const struct aws_opts *o, char *err,
    size_t errsz, int *usage_error);
void aws_client_free(struct aws_client *c);

const char *aws_client_region(const struct aws_client *c);
const char *aws_client_endpoint(const struct aws_client *c);
/* 1 when the endpoint is not AWS's own (S3 then uses path style unless
 * "s3 = addressing_style = virtual"). */
int aws_client_custom_endpoint(const struct aws_client *c);
struct http_client *aws_client_http(struct aws_client *c);
const struct retry_policy *aws_client_retry(const struct aws_client *c);

/* One request to sign and send. */
struct aws_call {
	const char *method;
	const char *bucket;          /* S3: the bucket, addressed virtual-
	                              * hosted or path-style (s3addr.h) in
	                              * its region; NULL: none (Kinesis) */
	const char *path;            /* URI-encoded, starting with '/';
	                              * below the bucket when there is one */
	const char *query;           /* without '?', or NULL */
	const char *const *headers;  /* extra "Name: value" headers, signed */
	size_t nheaders;
	const void *body;
	size_t body_len;
	const char *payload_hash;    /* NULL: computed from body */
};

/*
 * Signs call with the current credentials and starts it on the client's
 * HTTP multi handle (collect it with http_wait(aws_client_http(c), ...)).
 * Returns NULL with a message in err when it cannot be signed or started.
 */
struct http_xfer *aws_start(struct aws_client *c, const struct aws_call *call,
    void *user, char *err, size_t errsz);

/*
 * The AWS error of a response: code (from x-amzn-ErrorType, a JSON
 * "__type"/"code", or an XML <Code>) and message.  Both may be empty.
 * Both are made safe for a message before they are cut to fit
 * (msg_clean()): a server may quote the request's credentials.
 */
void aws_error(const struct http_response *r, char *code, size_t codesz,
    char *message, size_t msgsz);

/* How a finished response should be treated (retry.h), and the text of
 * its failure ("Code: message" or the transport error) into err. */
/*
 * May a request that failed (kind from aws_outcome(); parsed: a 2xx answer
 * was read) have been applied by the server all the same?  Yes when it went
 * out and no answer came back (also when libcurl sent it twice by itself),
 * when the answer was a server error, or an unreadable 2xx: a request that
 * is not idempotent, sent again, may then be applied twice.
 */
int aws_maybe_applied(const struct http_response *r, enum retry_kind kind,
    int parsed);

enum retry_kind aws_outcome(const struct http_response *r, char *err,
    size_t errsz);

/*
 * S3's answer that a bucket is in another region than the request was
 * signed for, handled as botocore's S3RegionRedirectorv2 does: a 301, 302
 * or 307 status, PermanentRedirect, AuthorizationHeaderMalformed with a
 * <Region>, IllegalLocationConstraintException, or a 301/400 without a
 * body to a HEAD request.  The bucket's region is the answer's
 * x-amz-bucket-region header, else the error's <Region>, else the
 * x-amz-bucket-region of a HEAD of the bucket (sent now, synchronously).
 * Returns 1 when the region is found (and differs from the one the
 * request went to): it is remembered for the rest of the client's life,
 * so that every later request for the bucket is signed for it and goes to
 * its endpoint (the same custom endpoint, or AWS's of that region), a -v
 * message names both regions, and the caller sends the request again at
 * once, but only once.  Returns 0 when r is no such answer or the region
 * cannot be found.
 */
int aws_s3_redirect(struct aws_client *c, const char *bucket, int head,
    const struct http_response *r);

/* The region requests for bucket are signed for, and the endpoint URL
 * they go to (before addressing): the client's unless a redirect taught
 * another.  Borrowed from c. */
const char *aws_bucket_region(const struct aws_client *c, const char *bucket);
const char *aws_bucket_endpoint(const struct aws_client *c,
    const char *bucket);

/* To be called after an ExpiredToken-class error: credentials are resolved
 * again on the next request (once per error). */
void aws_client_credentials_expired(struct aws_client *c);

/*
 * A synchronous call with the retry policy: transient failures and
 * throttling are retried with backoff (one warning per retry on stderr),
 * expired credentials are refreshed once, an S3 call to a bucket in
 * another region is sent there once (aws_s3_redirect()).  Returns 0 with
 * *resp holding a 2xx response (http_response_clear() it), or -1 with
 * *resp holding the last response (if any) and the reason in err;
 * AWS_INTERRUPTED (err "interrupted" or "interrupted while retrying") once
 * the stop flag is set.
 */
#define AWS_INTERRUPTED (-2)
int aws_call(struct aws_client *c, const struct aws_call *call,
    struct http_response *resp, char *err, size_t errsz);

#endif
