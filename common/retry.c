#include <errno.h>
#include <string.h>
#include <time.h>

#include "retry.h"

void
retry_start(struct retry_state *st, int64_t now_ms, uint64_t seed)
{
	st->attempt = 0;
	st->start_ms = now_ms;
	st->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t
next_rand(struct retry_state *st)
{
	uint64_t x = st->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	st->rng = x;
	return x;
}

/* Error codes the AWS SDKs retry (throttling and transient). */
static const char *const throttle_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException", "TransactionInProgressException",
	"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
	"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException", "KMSThrottlingException",
};
static const char *const transient_codes[] = {
	"RequestTimeout", "RequestTimeoutException", "InternalError",
	"InternalFailure", "ServiceUnavailable", "InternalServerError",
	"IDPCommunicationError",
};
static const char *const expired_codes[] = {
	"ExpiredToken", "ExpiredTokenException", "RequestExpired",
	"InvalidClientTokenId", "TokenRefreshRequired",
};

static int
in(const char *code, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(code, list[i]) == 0)
			return 1;
	return 0;
}

#define IN(code, list) in(code, list, sizeof(list) / sizeof(list[0]))

enum retry_kind
retry_classify(long status, int transport_retryable, const char *aws_code)
{
	if (status == 0)
		return transport_retryable ? RETRY_YES : RETRY_NO;
	if (aws_code != NULL && *aws_code != '\0') {
		if (IN(aws_code, expired_codes))
			return RETRY_CREDENTIALS;
		if (IN(aws_code, throttle_codes))
			return RETRY_THROTTLED;
		if (IN(aws_code, transient_codes))
			return RETRY_YES;
	}
	if (status == 429)
		return RETRY_THROTTLED;
	if (status == 408 || status >= 500)
		return RETRY_YES;
	return RETRY_NO;
}

int64_t
retry_next(const struct retry_policy *p, struct retry_state *st,
    int64_t now_ms, int64_t retry_after_ms)
{
	int64_t ceiling, delay;
	int i;

	st->attempt++;
	if (st->attempt >= p->max_attempts)
		return -1;
	ceiling = p->base_ms;
	for (i = 1; i < st->attempt && ceiling < p->cap_ms; i++)
		ceiling *= 2;
	if (ceiling > p->cap_ms)
		ceiling = p->cap_ms;
	/* Full jitter: uniform in [0, ceiling], at least 1 ms. */
	delay = ceiling > 0 ? (int64_t)(next_rand(st) % (uint64_t)(ceiling + 1)) : 0;
	if (delay < 1)
		delay = 1;
	if (retry_after_ms >= 0)
		delay = retry_after_ms < p->cap_ms ? retry_after_ms : p->cap_ms;
	if (now_ms + delay - st->start_ms > p->budget_ms)
		return -1;
	return delay;
}

int
retry_sleep(int64_t ms, const volatile sig_atomic_t *stop)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0) {
		if (errno != EINTR)
			return -1;
		if (stop != NULL && *stop)
			return -1;
	}
	return 0;
}
