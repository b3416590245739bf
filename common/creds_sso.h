/*
 * creds_sso.h - the parts of the IAM Identity Center ("sso") credentials
 * provider (creds_sso.c) that the unit tests and the fuzz targets reach.
 * Private to libkinpipe: tools use creds.h.
 *
 * The provider follows botocore's SSOProvider, SSOTokenProvider and
 * SSOTokenLoader, and "IAM Identity Center credential provider" of the
 * AWS SDKs and Tools reference guide:
 *
 *   - a profile uses it when it has sso_account_id or sso_role_name;
 *   - with sso_session = NAME, sso_start_url and sso_region come from the
 *     config file's "[sso-session NAME]" section (a key set in both the
 *     profile and the section must have the same value there); without
 *     it (the legacy form) from the profile;
 *   - the access token is the one `aws sso login` (AWS CLI v2) caches in
 *     ~/.aws/sso/cache/SHA1.json, SHA1 being the hex SHA-1 of the session
 *     name, or of the start URL in the legacy form: a JSON object with
 *     "accessToken" and "expiresAt" (ISO 8601, UTC);
 *   - GetRoleCredentials (IAM Identity Center portal API) exchanges it
 *     for the role's credentials: GET /federation/credentials?role_name=
 *     R&account_id=A with the token in x-amz-sso_bearer_token, on
 *     https://portal.sso.REGION.amazonaws.com or the endpoint configured
 *     for service id "SSO" (AWS_ENDPOINT_URL_SSO, awsconf_endpoint()).
 *
 * The token is never refreshed here (no sso-oidc CreateToken): once it
 * has expired, the error says to run aws sso login.
 */
#ifndef KP_CREDS_SSO_H
#define KP_CREDS_SSO_H

#include <stddef.h>
#include <time.h>

struct awsconf;
struct creds;

/* A profile's resolved IAM Identity Center settings, borrowed from the
 * awsconf they were read from. */
struct creds_sso_config {
	const char *session;    /* sso_session, or NULL: the legacy form */
	const char *start_url;  /* sso_start_url */
	const char *region;     /* sso_region */
	const char *account_id; /* sso_account_id */
	const char *role_name;  /* sso_role_name */
};

/*
 * The settings of conf's profile: 1 with *cfg filled, 0 when the profile
 * does not use IAM Identity Center (neither sso_account_id nor
 * sso_role_name), -1 with a message in err on a configuration error (a
 * key missing, a session without its section, a value that differs
 * between the profile and its session).
 */
int creds_sso_config(const struct awsconf *conf, struct creds_sso_config *cfg,
    char *err, size_t errsz);

/*
 * The token cache file of cfg: a new string in *path (free()), "$HOME/
 * .aws/sso/cache/" and the SHA-1 of the session name (or of the start URL)
 * in hex, ".json".  -1 with a message in err when $HOME is not set.
 */
int creds_sso_cache_path(const struct creds_sso_config *cfg, char **path,
    char *err, size_t errsz);

/*
 * The cached token document buf[0..len) (need not be NUL-terminated):
 * its "accessToken" into *token (a new string: creds_free_secret()) and
 * its "expiresAt" into *expires_at.  what names the file at the start of
 * every message.  0, or -1 with a message in err that never quotes the
 * token.
 */
int creds_sso_token_parse(const char *what, const char *buf, size_t len,
    char **token, time_t *expires_at, char *err, size_t errsz);

/*
 * GetRoleCredentials' answer buf[0..len): {"roleCredentials":
 * {"accessKeyId", "secretAccessKey", "sessionToken", "expiration" (epoch
 * milliseconds)}} into *out (creds_clear() it).  0, or -1 with a message
 * in err that names keys, never values.
 */
int creds_sso_role_parse(const char *buf, size_t len, struct creds *out,
    char *err, size_t errsz);

/*
 * The GetRoleCredentials URL for cfg: a new string in *url (free()),
 * the endpoint of service id "SSO" (the configured one, else
 * https://portal.sso.REGION.DOMAIN) and the query.  -1 with a message.
 */
int creds_sso_url(const struct awsconf *conf,
    const struct creds_sso_config *cfg, char **url, char *err, size_t errsz);

#endif
