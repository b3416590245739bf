/*
 * creds.h - the AWS credentials provider chain, as in the AWS CLI/SDKs.
 *
 * Order, first match wins:
 *   1. "env": AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   1a. "assume-role": the profile's role_arn with source_profile or
 *      credential_source, through STS AssumeRole (creds_role.c)
 *   1b. "assume-role-with-web-identity": AWS_WEB_IDENTITY_TOKEN_FILE and
 *      AWS_ROLE_ARN, or the profile's web_identity_token_file and
 *      role_arn, through STS AssumeRoleWithWebIdentity (creds_web.c)
 *   1c. "sso": a profile with sso_account_id or sso_role_name: IAM Identity
 *      Center role credentials from GetRoleCredentials, with the token
 *      `aws sso login` cached in ~/.aws/sso/cache (creds_sso.h)
 *   2. "shared-credentials-file": aws_access_key_id, aws_secret_access_key,
 *      aws_session_token of the profile in ~/.aws/credentials
 *   3. "config-file": the same keys in the profile of ~/.aws/config
 *   4. "credential-process": the profile's credential_process, run with
 *      /bin/sh -c; stdout is the JSON document of the AWS "Sourcing
 *      credentials with an external process" page, "Version": 1
 *   5. "container": AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
 *      http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI (https,
 *      or http to a loopback, ECS or EKS Pod Identity address), with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN as Authorization
 *   6. "imds": EC2 instance metadata, IMDSv2 (PUT /latest/api/token first,
 *      IMDSv1 only when that answers 403/404/405 and neither
 *      AWS_EC2_METADATA_V1_DISABLED nor ec2_metadata_v1_disabled is true);
 *      base URL from AWS_EC2_METADATA_SERVICE_ENDPOINT or the profile's
 *      ec2_metadata_service_endpoint, else by
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (IPv4 169.254.169.254, IPv6
 *      [fd00:ec2::254]); AWS_EC2_METADATA_DISABLED=true skips it.
 *
 * Probing is quiet: a provider that is not configured (no variable, no key,
 * no IMDS answering within ~1 s) passes to the next.  A configured provider
 * that fails (partial keys, credential_process exiting non-zero or printing
 * bad JSON, a container endpoint answering an error) stops the chain with
 * an error.  Messages never contain a secret, a session token or an
 * authorization token.  Extra detail of each probe is given to msg_debug()
 * (-vv); nothing else here prints, except that credential_process's stderr
 * goes to ours.
 *
 * libcurl must be initialised (curl_global_init) before the container or
 * IMDS providers run.  A chain is not thread-safe: serialise creds_get().
 */
#ifndef KP_CREDS_H
#define KP_CREDS_H

#include <stddef.h>
#include <time.h>

struct awsconf;

/* Seconds before expiration at which cached credentials are refreshed. */
#define CREDS_REFRESH_WINDOW 300

struct creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL when there is none */
	time_t expiration;   /* 0: never expires */
	const char *source;  /* static: "env", "assume-role",
	                      * "assume-role-with-web-identity", "sso",
	                      * "shared-credentials-file",
	                      * "config-file", "credential-process",
	                      * "container", "imds" */
};

/* Frees the strings of c (wiping them first) and zeroes *c; accepts NULL
 * and a zeroed struct. */
void creds_clear(struct creds *c);

/* Deep copy: on success 0 and *dst owns new strings (creds_clear() it);
 * -1 on no memory with *dst zeroed. */
int creds_copy(struct creds *dst, const struct creds *src);

struct creds_chain;

/*
 * Returns a new chain for the profile of conf, or NULL on no memory.
 * conf is borrowed and must outlive the chain.  Free with
 * creds_chain_free().
 */
struct creds_chain *creds_chain_new(const struct awsconf *conf);

/*
 * The tool's --region, --ca-bundle and --no-verify-ssl (NULL, 0: not
 * given), for the providers that call STS (assume-role,
 * assume-role-with-web-identity); borrowed, they must outlive the chain.
 * Without it STS is called for the region of the environment or profile.
 */
void creds_chain_set_aws(struct creds_chain *chain, const char *region,
    const char *ca_bundle, int no_verify_ssl);

/* Frees the chain and its cached credentials; accepts NULL. */
void creds_chain_free(struct creds_chain *chain);

/*
 * Fills *out with a copy of the chain's credentials (the caller owns it:
 * creds_clear()).  Cached credentials are returned unless there are none,
 * creds_invalidate() was called, or they expire at or before
 * now + CREDS_REFRESH_WINDOW; then the whole chain is resolved again.
 * If that fails while the cached credentials have not expired yet, those
 * are returned and a warning is given with msg_warn().
 * Returns 0, or -1 with *out zeroed and a message in creds_chain_error().
 * now is a parameter so that tests can fix the time.
 */
int creds_get(struct creds_chain *chain, time_t now, struct creds *out);

/* Drops the cached credentials: the next creds_get() resolves again.
 * Call it once after an ExpiredToken-class error from a service. */
void creds_invalidate(struct creds_chain *chain);

/* The message of the last failed creds_get(), or "" (borrowed). */
const char *creds_chain_error(const struct creds_chain *chain);

/* How many times creds_get() resolved the chain (for -v statistics). */
unsigned long creds_chain_resolutions(const struct creds_chain *chain);

/*
 * The URL the container provider would fetch, or NULL when neither
 * container variable is set: a new string, free().  Returns -1 with a
 * message in err when the variables are set but not usable (e.g. a
 * FULL_URI to a host that is not allowed), else 0.
 */
int creds_container_url(char **url, char *err, size_t errsz);

/*
 * The IMDS base URL for conf's profile (no trailing '/'): a new string,
 * free().  NULL with 0 when IMDS is disabled.  -1 with a message in err on
 * a bad endpoint mode or on no memory.
 */
int creds_imds_endpoint(const struct awsconf *conf, char **url, char *err,
    size_t errsz);

/*
 * Parses an ISO 8601 / RFC 3339 UTC timestamp as AWS sends them
 * ("2024-05-01T12:00:00Z", optional fraction, "+HH:MM" offsets).
 * Returns 0 and *t, or -1.
 */
int creds_parse_time(const char *s, time_t *t);

#endif
