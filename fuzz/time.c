/*
 * time: event time (common/kptime.c: RFC 3339 and epoch) and the
 * durations, sizes and counts of the command lines (common/cli.c).  A
 * parsed time must format and parse back to itself.
 */
#include <stdio.h>

#include "cli.h"
#include "kptime.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size);
	char out[KPTIME_BUFSZ];
	const char *why;
	int64_t ms, back;
	uint64_t u;
	size_t n;

	if (kptime_parse(s, size, &ms) == 0 &&
	    (n = kptime_format(ms, out, sizeof(out))) > 0 &&
	    (kptime_parse(out, n, &back) != 0 || back != ms)) {
		fprintf(stderr, "%s -> %s does not parse back\n", s, out);
		abort();
	}
	(void)kptime_from_string(s, size, &ms, &why);
	(void)cli_parse_duration(s, &ms);
	(void)cli_parse_size(s, &u);
	(void)cli_parse_count(s, UINT64_MAX, &u);
	(void)cli_parse_count(s, 10000, &u);
	free(s);
	return 0;
}
