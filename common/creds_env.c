/*
 * creds_env.c - the "env" provider: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN ("Environment variables" of
 * the AWS SDKs and Tools reference guide).
 */
#include <stddef.h>

#include "awsconf.h"
#include "creds_provider.h"
#include "msg.h"

int
creds_provider_env(struct creds_call *call, struct creds *out)
{
	const char *akid = awsconf_env("AWS_ACCESS_KEY_ID");
	const char *secret = awsconf_env("AWS_SECRET_ACCESS_KEY");
	const char *token = awsconf_env("AWS_SESSION_TOKEN");

	/* --profile beats the environment, as in the AWS CLI. */
	if (call->conf != NULL && awsconf_profile_from_option(call->conf))
		return 0;
	if (akid == NULL && secret == NULL)
		return 0;
	if (akid == NULL || secret == NULL) {
		msg_seterr(call->err, call->errsz, "partial credentials in the "
		    "environment: %s is set but %s is not set",
		    akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -1;
	}
	/* botocore still honours the name of the first STS tokens. */
	if (token == NULL)
		token = awsconf_env("AWS_SECURITY_TOKEN");
	return creds_set(out, akid, secret, token, 0, call->err,
	    call->errsz) < 0 ? -1 : 1;
}
