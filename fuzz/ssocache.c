/*
 * ssocache: the IAM Identity Center provider's documents (common/
 * creds_sso.c, creds_sso_oidc.c): the token cache file `aws sso login`
 * writes (creds_sso_token_parse), the GetRoleCredentials answer
 * (creds_sso_role_parse) and the SSO OIDC CreateToken answer
 * (creds_sso_oidc_parse).
 * Input: the document, given to each.
 */
#include <time.h>

#include "creds.h"
#include "creds_provider.h"
#include "creds_sso.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], *tok = NULL, *rt = NULL;
	struct creds_sso_token t;
	struct creds c;
	long long in;

	if (creds_sso_token_parse("fuzz", (const char *)data, size, &t, err,
	    sizeof(err)) == 0) {
		/* What the provider sends as a header: one line. */
		if (t.access_token == NULL || *t.access_token == '\0' ||
		    !creds_header_safe(t.access_token))
			abort();
		creds_sso_token_clear(&t);
	}
	if (creds_sso_oidc_parse((const char *)data, size, &tok, &in, &rt, err,
	    sizeof(err)) == 0) {
		if (tok == NULL || !creds_header_safe(tok) || in < 1)
			abort();
		creds_free_secret(tok);
		creds_free_secret(rt);
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
