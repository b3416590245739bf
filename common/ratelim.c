#include <math.h>

#include "ratelim.h"

#define MIN_FILL_RATE 0.5     /* bucket.py TokenBucket._MIN_RATE */
#define SMOOTHING 0.8         /* adaptive.py RateClocker */
#define BUCKET_SECONDS 0.5
#define CUBIC_C 0.4           /* throttling.py CubicCalculator */
#define CUBIC_BETA 0.7
#define MAX_RATE_SCALE 2.0    /* adaptive.py ClientRateLimiter */

static void
refill(struct ratelim *r, double now)
{
	double c = r->capacity + (now - r->last_refill) * r->fill_rate;

	r->capacity = c < r->max_capacity ? c : r->max_capacity;
	r->last_refill = now;
}

static void
set_rate(struct ratelim *r, double rate, double now)
{
	refill(r, now);  /* tokens so far accrue at the old rate */
	r->fill_rate = rate > MIN_FILL_RATE ? rate : MIN_FILL_RATE;
	r->max_capacity = rate >= 1 ? rate : 1;
	if (r->capacity > r->max_capacity)
		r->capacity = r->max_capacity;
}

static double
zero_point(double w_max)
{
	return cbrt(w_max * (1 - CUBIC_BETA) / CUBIC_C);
}

void
ratelim_init(struct ratelim *r, double now)
{
	r->enabled = 0;
	r->capacity = 0;
	r->last_refill = now;
	r->fill_rate = 1;
	r->max_capacity = 1;
	r->w_max = 0;
	r->k = zero_point(0);
	r->last_fail = now;
	r->measured = 0;
	r->last_bucket = floor(now);
	r->count = 0;
}

double
ratelim_acquire(struct ratelim *r, double now)
{
	if (!r->enabled)
		return 0;
	refill(r, now);
	if (r->capacity >= 1) {
		r->capacity -= 1;
		return 0;
	}
	return (1 - r->capacity) / r->fill_rate;
}

/* The smoothed send rate, counting this response. */
static double
measure(struct ratelim *r, double now)
{
	double scale = 1 / BUCKET_SECONDS;
	double bucket = floor(now * scale) / scale;

	r->count += 1;
	if (bucket > r->last_bucket) {
		double rate = r->count / (bucket - r->last_bucket);

		r->measured = rate * SMOOTHING + r->measured * (1 - SMOOTHING);
		r->count = 0;
		r->last_bucket = bucket;
	}
	return r->measured;
}

double
ratelim_response(struct ratelim *r, int throttled, double now)
{
	double measured = measure(r, now), rate, dt;

	if (!throttled) {
		dt = now - r->last_fail - r->k;
		rate = CUBIC_C * dt * dt * dt + r->w_max;
	} else {
		double in_use = measured;

		if (r->enabled && r->fill_rate < in_use)
			in_use = r->fill_rate;
		r->w_max = in_use;
		r->k = zero_point(in_use);
		r->last_fail = now;
		rate = in_use * CUBIC_BETA;
		r->enabled = 1;
	}
	if (rate > MAX_RATE_SCALE * measured)
		rate = MAX_RATE_SCALE * measured;
	set_rate(r, rate, now);
	return r->fill_rate;
}
