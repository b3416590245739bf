/*
 * sts: STS's XML answers (common/sts.c): sts_parse_credentials() for both
 * actions and sts_parse_error().  Credentials that parse are complete,
 * printable and never empty; an error's code and message are always
 * terminated within their buffers.
 */
#include <stdio.h>

#include "creds.h"
#include "fuzz.h"
#include "sts.h"

static void
check(const char *action, const char *s, size_t n)
{
	struct creds c;
	char err[256];

	if (sts_parse_credentials(action, s, n, &c, err, sizeof(err)) == 0) {
		if (c.access_key_id == NULL || *c.access_key_id == '\0' ||
		    c.secret_access_key == NULL ||
		    *c.secret_access_key == '\0' || c.session_token == NULL ||
		    c.expiration == 0)
			abort();
		creds_clear(&c);
	} else if (err[0] == '\0' || strlen(err) >= sizeof(err)) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size);
	char code[16], msg[32];

	check("AssumeRole", s, size);
	check("AssumeRoleWithWebIdentity", s, size);
	sts_parse_error(s, size, code, sizeof(code), msg, sizeof(msg));
	if (strlen(code) >= sizeof(code) || strlen(msg) >= sizeof(msg))
		abort();
	free(s);
	return 0;
}
