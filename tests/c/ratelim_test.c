/*
 * ratelim_test - unit tests of the adaptive-mode rate limiter
 * (common/ratelim.h) against botocore's own numbers: the table below is
 * the output of botocore 1.43's ClientRateLimiter, TokenBucket,
 * RateClocker and CubicCalculator driven by a fake clock through the same
 * script of responses and token requests (the script is in the comment at
 * the table), then the rules one at a time: nothing waits before the
 * first throttle, the fill rate never drops below 0.5 a second, a
 * throttle cuts the rate to 0.7 x the rate in use.
 *
 *   ratelim_test [-v]
 */
#include <math.h>

#include "ratelim.h"
#include "tap.h"

enum ev { OK, THR, ACQ };

/*
 * { time, event, expected }: for OK/THR the fill rate after the response,
 * for ACQ the wait ratelim_acquire() returns (0: a token was taken).
 * Made with (clock starting at 100.0, TokenBucket(max_rate=1),
 * CubicCalculator(0, 100.0)):
 *   ACQ: tb.acquire(block=False), on CapacityNotAvailableError
 *        tb._sleep_amount(1); 0 while the limiter is not enabled
 *   OK/THR: limiter.on_receiving_response(), then tb.max_rate
 */
static const struct step {
	double t;
	enum ev ev;
	double want;
} script[] = {
	{100.1, OK, 0.5},         /* measured 0: 2 x 0 caps the rate */
	{100.3, OK, 0.5},
	{100.6, OK, 0.5},         /* measured 4.8 (3 in the 100.0 bucket) */
	{100.7, OK, 0.5},
	{101.2, OK, 0.6912000000000049},  /* measured 4.16 */
	{101.3, THR, 2.912},      /* 0.7 x 4.16 */
	{101.3, ACQ, 0.09645604395604564},
	{101.4, ACQ, 0.0},
	{103.4, ACQ, 0.0},
	{103.5, OK, 2.944},       /* measured 1.472 */
	{104.1, OK, 3.7888},
	{104.2, THR, 1.32608},    /* 0.7 x measured 1.8944 */
	{104.3, ACQ, 0.0},
	{106.4, ACQ, 0.0},
	{106.5, OK, 2.03776},
	{107.0, OK, 3.607552},
	{108.0, OK, 2.3215104},
	{110.0, OK, 1.26430208},
	{110.1, ACQ, 0.0},
	{110.2, ACQ, 0.4819004268346922},
	{115.0, OK, 0.5728604159999999},
	{115.5, OK, 3.3145720832000003},
	{116.0, THR, 1.352020045824},
	{118.0, ACQ, 0.0},
};

static int
close_to(double got, double want)
{
	return fabs(got - want) <= 1e-9 * (fabs(want) > 1 ? fabs(want) : 1);
}

static void
test_botocore(void)
{
	struct ratelim r;
	size_t i;

	section("botocore's numbers");
	ratelim_init(&r, 100.0);
	for (i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
		const struct step *s = &script[i];
		double got = s->ev == ACQ ? ratelim_acquire(&r, s->t) :
		    ratelim_response(&r, s->ev == THR, s->t);

		check(close_to(got, s->want), "%.1f %s: %.12g (want %.12g)",
		    s->t, s->ev == ACQ ? "acquire" : s->ev == THR ?
		    "throttled" : "ok", got, s->want);
	}
}

static void
test_rules(void)
{
	struct ratelim r;
	double t, w;
	int i, waited = 0;

	section("rules");
	ratelim_init(&r, 0);
	for (i = 0; i < 1000; i++)
		waited += ratelim_acquire(&r, 0) != 0;
	check(waited == 0 && !r.enabled, "no wait before the first throttle");
	check(ratelim_response(&r, 1, 0) == 0.5 && r.enabled,
	    "a throttle with no measured rate: the 0.5/s floor");
	w = ratelim_acquire(&r, 0);
	check(close_to(w, 2.0), "then a token in 2 s (%g)", w);
	check(close_to(ratelim_acquire(&r, 1), 1.0),
	    "asked again 1 s later: 1 s more, no token taken");
	check(ratelim_acquire(&r, 2) == 0, "2 s later: a token");
	check(ratelim_acquire(&r, 2) > 0, "and the bucket is empty again");
	check(ratelim_acquire(&r, 100) == 0 && ratelim_acquire(&r, 100) > 0,
	    "an idle bucket holds one token at most at a low rate");

	/* A steady 10 requests a second, then a throttle: 0.7 x 10. */
	ratelim_init(&r, 0);
	for (t = 0.05; t < 5; t += 0.1)
		ratelim_response(&r, 0, t);
	w = ratelim_response(&r, 1, 5.0);
	check(fabs(w - 7.0) < 0.05, "throttled at 10/s: 7/s (%g)", w);
	check(close_to(r.w_max * 0.7, w), "w_max is the rate in use");
	/* Successes after it grow the rate back, capped by 2 x measured. */
	for (t = 5.1; t < 8; t += 0.1)
		w = ratelim_response(&r, 0, t);
	check(w > 7.0 && w <= 2 * r.measured + 1e-9,
	    "successes raise the rate again, at most 2 x measured (%g)", w);
}

int
main(int argc, char **argv)
{
	if (tap_begin("ratelim_test", argc, argv) != 0)
		return 2;
	test_botocore();
	test_rules();
	return tap_end();
}
