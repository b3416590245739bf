/*
 * sts.h - a small client of the AWS Security Token Service's Query API
 * (Version 2011-06-15): AssumeRole, signed with SigV4 (service "sts") with
 * the source credentials, and AssumeRoleWithWebIdentity, unsigned.  Both
 * are a form-encoded POST; the answer is XML.  Used by the role providers
 * of the credentials chain (creds_role.c, creds_web.c).  Private to
 * libkinpipe.
 *
 * Endpoint (sts_endpoint()): the service-specific endpoint rules of
 * awsconf_endpoint() with service id "STS" (AWS_ENDPOINT_URL_STS, the
 * "services" section's sts endpoint_url, ...), else the regional endpoint
 * https://sts.REGION.amazonaws.com, which is the AWS CLI v2's and
 * botocore's default since botocore 1.40 (July 2025).
 * sts_regional_endpoints = legacy (profile) or AWS_STS_REGIONAL_ENDPOINTS
 * =legacy (which wins) sends the regions that had the global endpoint
 * (us-east-1, us-west-2, eu-west-1, ... as botocore lists them) to
 * https://sts.amazonaws.com, signed for us-east-1; region "aws-global"
 * always does.  A configured endpoint is signed for the region, whatever
 * the mode.  Any other value than "regional" or "legacy" is a
 * configuration error.
 *
 * Messages name the action, the role and STS's error code and message
 * (cleaned with msg_clean()); never a secret, a session token or a web
 * identity token.  Nothing here prints but msg_debug().
 */
#ifndef KP_STS_H
#define KP_STS_H

#include <stddef.h>
#include <time.h>

#include "creds.h"

struct awsconf;

/* An STS answer larger than this is not one (they are a few KiB). */
#define STS_MAX_ANSWER (64 * 1024)

/* Where and how STS is called. */
struct sts_target {
	char *url;             /* owned; no trailing '/' */
	char region[64];       /* the signing region */
	const char *ca_bundle; /* borrowed; NULL: the system's */
	int verify;            /* verify TLS peers */
};

/*
 * The STS endpoint for conf (the tool's profile) and region (NULL: none
 * configured; then only a configured endpoint URL works, signed for
 * us-east-1).  Returns 0 and fills *t (release with sts_target_clear()),
 * or -1 with a message in err (a configuration error).
 */
int sts_endpoint(const struct awsconf *conf, const char *region,
    struct sts_target *t, char *err, size_t errsz);
void sts_target_clear(struct sts_target *t);

/* One call's parameters; every string is borrowed. */
struct sts_params {
	const char *role_arn;
	const char *session_name;
	const char *external_id;      /* NULL: none (AssumeRole only) */
	long duration_seconds;        /* 0: STS's default (AssumeRole only) */
	const char *web_identity_token; /* non-NULL: AssumeRoleWithWebIdentity */
};

/*
 * Calls AssumeRole with source (signed) or, when p->web_identity_token is
 * set, AssumeRoleWithWebIdentity (unsigned; source is ignored and may be
 * NULL).  Transport errors, 5xx and throttling are tried up to three
 * times.  Returns 0 with *out filled (its source is left NULL), or -1 with
 * a message in err.
 */
int sts_assume(const struct sts_target *t, const struct sts_params *p,
    const struct creds *source, struct creds *out, char *err, size_t errsz);

/*
 * The parsers, for the client above, the tests and the fuzz target.
 * sts_parse_credentials() reads the answer of action ("AssumeRole",
 * "AssumeRoleWithWebIdentity"): the element <ACTION>Response/<ACTION>Result
 * /Credentials with AccessKeyId, SecretAccessKey, SessionToken and
 * Expiration (ISO 8601), each once, printable ASCII without blanks.
 * Returns 0 with *out filled, or -1 with a message in err (which never
 * quotes the document).  The XML must be well formed as far as it is read:
 * elements nest and close, attributes are quoted, text holds only the five
 * entities, character references and CDATA sections; no DOCTYPE, no
 * processing instruction but the leading declaration, at most 16 levels.
 */
int sts_parse_credentials(const char *action, const char *body, size_t len,
    struct creds *out, char *err, size_t errsz);

/*
 * The Code and Message of an STS error document (ErrorResponse/Error, or
 * .../Errors/Error), made safe with msg_clean() and cut to fit; "" when
 * absent or when the document is not well-formed XML.
 */
void sts_parse_error(const char *body, size_t len, char *code, size_t codesz,
    char *message, size_t msgsz);

#endif
