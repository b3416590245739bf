/*
 * creds_web.c - the "assume-role-with-web-identity" provider: an OIDC
 * token in a file (EKS service accounts, GitHub Actions and other CI)
 * traded for role credentials by STS AssumeRoleWithWebIdentity, which is
 * not signed ("Assume role credentials" of the AWS SDKs and Tools
 * reference guide; botocore's AssumeRoleWithWebIdentityProvider).
 *
 * Each of AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN and
 * AWS_ROLE_SESSION_NAME wins over the profile's web_identity_token_file,
 * role_arn and role_session_name, except under --profile and for a source
 * profile, where only the profile counts.  The token file is read at every
 * resolution (the platforms rotate it); a trailing line break is not part
 * of the token.
 */
#include <stdio.h>
#include <string.h>

#include "awsconf.h"
#include "creds_provider.h"
#include "msg.h"
#include "sts.h"

/* STS takes tokens of up to 20,000 characters. */
#define MAX_WEB_TOKEN (32 * 1024)

/* The variable, unless the environment does not count, else the key. */
static const char *
setting(const struct awsconf *conf, int env, const char *var,
    const char *key)
{
	const char *v = env ? awsconf_env(var) : NULL;

	if (v == NULL && conf != NULL)
		v = creds_nonempty(awsconf_get(conf, key));
	return v;
}

int
creds_provider_web_identity(struct creds_call *call, struct creds *out)
{
	const struct awsconf *conf = call->conf;
	int env = conf == NULL || !awsconf_profile_from_option(conf);
	const char *file = setting(conf, env, "AWS_WEB_IDENTITY_TOKEN_FILE",
	    "web_identity_token_file");
	struct sts_params p;
	struct sts_target t;
	char *token = NULL;
	int rc = -1;

	if (file == NULL)
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&t, 0, sizeof(t));
	p.role_arn = setting(conf, env, "AWS_ROLE_ARN", "role_arn");
	p.session_name = setting(conf, env, "AWS_ROLE_SESSION_NAME",
	    "role_session_name");
	if (p.session_name == NULL)
		p.session_name = creds_default_session_name();
	if (p.role_arn == NULL) {
		msg_seterr(call->err, call->errsz, "a web identity token file is "
		    "configured but no role: set AWS_ROLE_ARN or role_arn in "
		    "profile \"%s\"", conf != NULL ? awsconf_profile(conf) :
		    "default");
		goto out;
	}
	if (creds_read_token_file("the web identity token file", file,
	    MAX_WEB_TOKEN, &token, call->err, call->errsz) < 0)
		goto out;
	if (*token == '\0') {
		msg_seterr(call->err, call->errsz, "the web identity token file "
		    "%s is empty", file);
		goto out;
	}
	p.web_identity_token = token;
	if (creds_sts_target(call, &t) < 0 ||
	    sts_assume(&t, &p, NULL, out, call->err, call->errsz) < 0)
		goto out;
	msg_debug("credentials: web identity: assumed %s as %s", p.role_arn,
	    p.session_name);
	rc = 1;
out:
	sts_target_clear(&t);
	creds_free_secret(token);
	return rc;
}
