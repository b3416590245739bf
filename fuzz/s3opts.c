/*
 * s3opts: s3-put's object option checks (common/s3opts.c), the x-amz-tagging
 * tag set (s3opts_tagging_ok) and metadata names (s3opts_meta_name_ok), and
 * CRC-32C (common/crc32c.c) over the same bytes.  A tag set accepted holds
 * only the characters of the URL-encoded form; the SSE4.2 CRC (where the
 * CPU has it) equals the table's.
 */
#include <stdio.h>

#include "crc32c.h"
#include "fuzz.h"
#include "s3opts.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t hn, rn;
	const uint8_t *rest = fz_split(data, size, &hn, &rn);
	char *tags = fz_str(data, hn);
	const char *why = NULL;

	if (s3opts_tagging_ok(tags, &why)) {
		if (strspn(tags, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-._:/@=+%&") != strlen(tags) || tags[0] == '\0')
			abort();
	} else if (why == NULL) {
		abort();
	}
	(void)s3opts_meta_name_ok((const char *)rest, rn);
	if (crc32c(0, data, size) != crc32c_sw(0, data, size))
		abort();
	free(tags);
	return 0;
}
