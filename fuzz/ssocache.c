/*
 * ssocache: the IAM Identity Center provider's documents (common/
 * creds_sso.c): the token cache file `aws sso login` writes
 * (creds_sso_token_parse) and the GetRoleCredentials answer
 * (creds_sso_role_parse).
 * Input: the document, given to both.
 */
#include <time.h>

#include "creds.h"
#include "creds_provider.h"
#include "creds_sso.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], *tok = NULL;
	struct creds c;
	time_t exp;

	if (creds_sso_token_parse("fuzz", (const char *)data, size, &tok, &exp,
	    err, sizeof(err)) == 0) {
		/* What the provider sends as a header: one line. */
		if (tok == NULL || *tok == '\0' || !creds_header_safe(tok))
			abort();
		creds_free_secret(tok);
	}
	if (creds_sso_role_parse((const char *)data, size, &c, err,
	    sizeof(err)) == 0) {
		if (c.access_key_id == NULL || c.secret_access_key == NULL ||
		    c.session_token == NULL || c.expiration <= 0)
			abort();
		creds_clear(&c);
	}
	return 0;
}
