/*
 * kptime.h - event time: RFC 3339 and epoch numbers in, RFC 3339 UTC with
 * milliseconds out; clocks.
 *
 * Event time is an int64 count of milliseconds since 1970-01-01T00:00:00Z,
 * the resolution of Flink's event time.  Finer fractions are truncated
 * toward the past (floor), so ordering within a millisecond is not kept.
 */
#ifndef KP_KPTIME_H
#define KP_KPTIME_H

#include <stddef.h>
#include <stdint.h>

#include <json.h>

#define KPTIME_BUFSZ 32

/* How epoch numbers are read. */
enum kptime_unit {
	KPTIME_AUTO, /* |n| >= 1e11 is milliseconds, else seconds */
	KPTIME_S,
	KPTIME_MS,
};

/*
 * Parses an RFC 3339 date-time: YYYY-MM-DD, 'T' (or 't' or ' '), hh:mm:ss,
 * an optional fraction of any length, and 'Z' or an offset +hh:mm / -hh:mm.
 * Returns 0, or -1 when s[0..n) is not such a time.
 */
int kptime_parse(const char *s, size_t n, int64_t *ms);

/* An RFC 3339 string s[0..n) within the years 0000..9999 in UTC, or an
 * epoch number (see unit).  Return 0, or -1 with *why set to a static
 * reason. */
int kptime_from_string(const char *s, size_t n, int64_t *ms, const char **why);
int kptime_from_number(double v, enum kptime_unit unit, int64_t *ms,
    const char **why);

/* A JSON string (RFC 3339) or number (epoch, see unit).  Returns 0, or -1
 * with *why set to a static reason. */
int kptime_from_json(struct json_object *o, enum kptime_unit unit,
    int64_t *ms, const char **why);

/* Writes "YYYY-MM-DDThh:mm:ss.mmmZ" into buf (at least KPTIME_BUFSZ bytes).
 * Returns the length, or 0 for a year outside 0000..9999. */
size_t kptime_format(int64_t ms, char *buf, size_t size);

/* Floor division and modulo for window arithmetic on negative times. */
int64_t kptime_floor_div(int64_t a, int64_t b);

/* Wall clock (CLOCK_REALTIME) and a monotonic clock, in milliseconds. */
int64_t kptime_now_ms(void);
int64_t kptime_mono_ms(void);

#endif
