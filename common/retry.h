/*
 * retry.h - the one retry policy of kinpipe (curl's and the AWS SDKs'):
 * retryable failures are network errors, 408, 429, 5xx and the AWS
 * throttling and transient error codes; the delay is exponential backoff
 * with full jitter, capped, within a total time budget; Retry-After wins
 * when the server sends one.
 */
#ifndef KP_RETRY_H
#define KP_RETRY_H

#include <signal.h>
#include <stdint.h>

struct retry_policy {
	int max_attempts;   /* attempts in all, first one included */
	int64_t base_ms;    /* first backoff ceiling */
	int64_t cap_ms;     /* largest single delay */
	int64_t budget_ms;  /* no retry starts after this much time */
};

/* 10 attempts, 100 ms base, 20 s cap, 5 min budget. */
#define RETRY_POLICY_DEFAULT { 10, 100, 20000, 300000 }

struct retry_state {
	int attempt;        /* attempts made so far */
	int64_t start_ms;   /* monotonic time of the first attempt */
	uint64_t rng;       /* jitter generator state (xorshift) */
};

/* What to do with a failure. */
enum retry_kind {
	RETRY_NO = 0,       /* permanent: report it */
	RETRY_YES,          /* transient: back off and retry */
	RETRY_THROTTLED,    /* throttled: back off and retry */
	RETRY_CREDENTIALS,  /* expired credentials: refresh once, retry */
};

/* Starts a state at now_ms with the jitter seed (tests fix it). */
void retry_start(struct retry_state *st, int64_t now_ms, uint64_t seed);

/*
 * Classifies an HTTP outcome.  status is 0 for a transport error (then
 * transport_retryable says whether that error is transient, e.g. a refused
 * or reset connection or a timeout); aws_code is the error code parsed from
 * the body or NULL.
 */
enum retry_kind retry_classify(long status, int transport_retryable,
    const char *aws_code);

/*
 * After a failed attempt: the delay in ms before the next one, or -1 when
 * the policy is spent (attempts or budget).  retry_after_ms >= 0 is the
 * server's Retry-After and is honoured (up to cap).  Counts the attempt.
 */
int64_t retry_next(const struct retry_policy *p, struct retry_state *st,
    int64_t now_ms, int64_t retry_after_ms);

/* Sleeps ms milliseconds; returns -1 early when a signal arrives while
 * *stop is set (stop may be NULL: never). */
int retry_sleep(int64_t ms, const volatile sig_atomic_t *stop);

#endif
