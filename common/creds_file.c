/*
 * creds_file.c - the "shared-credentials-file" and "config-file"
 * providers: aws_access_key_id, aws_secret_access_key and
 * aws_session_token of the profile in ~/.aws/credentials, then in
 * ~/.aws/config ("Shared config and credentials files" of the AWS SDKs
 * and Tools reference guide).  Reading the files is awsconf.c's.
 */
#include <stddef.h>

#include "awsconf.h"
#include "creds_provider.h"
#include "msg.h"

static int
from_file(struct creds_call *call, enum awsconf_file which,
    struct creds *out)
{
	const struct awsconf *conf = call->conf;
	const char *akid, *secret, *token;

	akid = creds_nonempty(awsconf_file_get(conf, which,
	    "aws_access_key_id"));
	secret = creds_nonempty(awsconf_file_get(conf, which,
	    "aws_secret_access_key"));
	token = creds_nonempty(awsconf_file_get(conf, which,
	    "aws_session_token"));
	if (token == NULL)
		token = creds_nonempty(awsconf_file_get(conf, which,
		    "aws_security_token"));
	if (akid == NULL && secret == NULL)
		return 0;
	if (akid == NULL || secret == NULL) {
		msg_seterr(call->err, call->errsz, "partial credentials in "
		    "profile \"%s\" of %s: %s is set but %s is not set",
		    awsconf_profile(conf), awsconf_path(conf, which),
		    akid ? "aws_access_key_id" : "aws_secret_access_key",
		    akid ? "aws_secret_access_key" : "aws_access_key_id");
		return -1;
	}
	return creds_set(out, akid, secret, token, 0, call->err,
	    call->errsz) < 0 ? -1 : 1;
}

int
creds_provider_credentials(struct creds_call *call, struct creds *out)
{
	return from_file(call, AWSCONF_CREDENTIALS, out);
}

int
creds_provider_config(struct creds_call *call, struct creds *out)
{
	return from_file(call, AWSCONF_CONFIG, out);
}
