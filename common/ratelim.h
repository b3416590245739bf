/*
 * ratelim.h - client-side rate limiting of the "adaptive" retry mode, as
 * the AWS SDKs do it (botocore's retries/adaptive.py, bucket.py and
 * throttling.py, whose constants and formulas these are):
 *
 *  - a token bucket: a request takes one token before it is sent; tokens
 *    refill at the fill rate (at least 0.5 a second) up to a capacity of
 *    max(rate, 1).  The bucket only acts once a throttling error has been
 *    seen: until then nothing ever waits.
 *  - a measured send rate: responses counted in half-second buckets,
 *    smoothed (0.8 of the new bucket, 0.2 of the old rate).
 *  - CUBIC (RFC 8312 as botocore applies it, C = 0.4, beta = 0.7): on a
 *    throttling error the rate drops to 0.7 x the rate then in use (the
 *    measured rate, or the fill rate if lower) and that rate becomes the
 *    new w_max; on any other response the rate is
 *    0.4 (t - t_fail - K)^3 + w_max, K = cbrt(w_max (1 - beta) / C).
 *    The fill rate is that rate, at most twice the measured rate.
 *
 * Time is passed in (seconds, any origin, never going back) so tests are
 * repeatable; nothing here sleeps or prints.
 */
#ifndef KP_RATELIM_H
#define KP_RATELIM_H

struct ratelim {
	int enabled;          /* a throttling error has been seen */
	/* token bucket */
	double fill_rate;     /* tokens a second */
	double max_capacity;
	double capacity;
	double last_refill;
	/* CUBIC */
	double w_max, k, last_fail;
	/* measured rate */
	double measured, last_bucket, count;
};

/* A limiter at time now: fill rate 1, no tokens, not enabled. */
void ratelim_init(struct ratelim *r, double now);

/*
 * Before sending a request: 0 when it may go now (a token was taken, or
 * the limiter is not enabled), else the seconds to wait before asking
 * again (no token is taken then).
 */
double ratelim_acquire(struct ratelim *r, double now);

/*
 * After each response (any outcome; throttled: retry_classify() said
 * RETRY_THROTTLED): updates the measured rate and the fill rate.  Returns
 * the new fill rate.
 */
double ratelim_response(struct ratelim *r, int throttled, double now);

#endif
