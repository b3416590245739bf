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
 * An sso-session's token is refreshed within 15 minutes of its expiry
 * with the refresh token beside it (SSO OIDC CreateToken,
 * creds_sso_oidc.c), and the file rewritten, as botocore does; a legacy
 * profile's never is.  A token that is missing, or expired and not
 * refreshed, is an error that says to run aws sso login.
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
	const char *ca_bundle;  /* the tool's --ca-bundle, or NULL: then
	                         * AWS_CA_BUNDLE, the profile's ca_bundle */
	int no_verify_ssl;      /* the tool's --no-verify-ssl */
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

/* A cached token: what the provider uses, and what a refresh needs. */
struct creds_sso_token {
	char *access_token;            /* a secret */
	time_t expires_at;
	/* NULL when the file has none (not a non-empty string): */
	char *refresh_token;           /* a secret */
	char *client_id;
	char *client_secret;           /* a secret */
	char *registration_expires_at; /* as written, ISO 8601 */
};

/* Frees (wiping the secrets) and zeroes *t; accepts NULL. */
void creds_sso_token_clear(struct creds_sso_token *t);

/*
 * The cached token document buf[0..len) (need not be NUL-terminated):
 * "accessToken" (required, one line) and "expiresAt" (required), and the
 * optional "refreshToken", "clientId", "clientSecret" and
 * "registrationExpiresAt", into *t (creds_sso_token_clear() it).  what
 * names the file at the start of every message.  0, or -1 with *t zeroed
 * and a message in err that never quotes a value.
 */
int creds_sso_token_parse(const char *what, const char *buf, size_t len,
    struct creds_sso_token *t, char *err, size_t errsz);

/*
 * GetRoleCredentials' answer buf[0..len): {"roleCredentials":
 * {"accessKeyId", "secretAccessKey", "sessionToken", "expiration" (epoch
 * milliseconds)}} into *out (creds_clear() it).  0, or -1 with a message
 * in err that names keys, never values.
 */
int creds_sso_role_parse(const char *buf, size_t len, struct creds *out,
    char *err, size_t errsz);

/*
 * The base URL of service_id ("SSO", "SSO OIDC") for cfg's sso_region: a
 * new string (free()), the endpoint configured for it (awsconf_endpoint():
 * AWS_ENDPOINT_URL_<ID> and so on), else https://HOST.REGION.DOMAIN with
 * the service's own host label HOST ("portal.sso", "oidc").  NULL with a
 * message in err.
 */
char *creds_sso_base_url(const struct awsconf *conf,
    const struct creds_sso_config *cfg, const char *service_id,
    const char *host, char *err, size_t errsz);

/*
 * A new HTTP client for the portal and its OIDC service (http_client_free()
 * it), or NULL: Internet services, so proxies as configured, certificates
 * checked against cfg's CA bundle, else AWS_CA_BUNDLE or the profile's
 * ca_bundle (not at all with cfg's no_verify_ssl), 10 s to connect, 30 s a
 * request, answers up to CREDS_MAX_DOC.
 */
struct http_client;
struct http_client *creds_sso_http(const struct awsconf *conf,
    const struct creds_sso_config *cfg);

/*
 * The GetRoleCredentials URL for cfg: a new string in *url (free()),
 * the endpoint of service id "SSO" (the configured one, else
 * https://portal.sso.REGION.DOMAIN) and the query.  -1 with a message.
 */
int creds_sso_url(const struct awsconf *conf,
    const struct creds_sso_config *cfg, char **url, char *err, size_t errsz);

/* Member key of the JSON object o, which must be a non-empty string
 * (borrowed from o), or NULL with "WHAT: no \"KEY\"" or the like in err.
 * Shared by creds_sso.c and creds_sso_oidc.c. */
struct json_object;
const char *creds_sso_json_str(const char *what, struct json_object *o,
    const char *key, char *err, size_t errsz);

/* ---- creds_sso_oidc.c: refreshing a session's token ---- */

/* A session's token is refreshed when it expires within this many
 * seconds (botocore's SSOTokenProvider). */
#define CREDS_SSO_REFRESH_WINDOW (15 * 60)

/*
 * Refreshes t, the token of cfg's session read from the cache file path,
 * when it expires within CREDS_SSO_REFRESH_WINDOW of now and the file
 * has what a refresh needs (refreshToken, clientId, clientSecret, a
 * registrationExpiresAt after now): SSO OIDC CreateToken, grant type
 * refresh_token, on https://oidc.REGION.DOMAIN or the endpoint configured
 * for service id "SSO OIDC" (AWS_ENDPOINT_URL_SSO_OIDC).  The new token
 * replaces t's and the cache file (mode 0600, atomically), as botocore
 * writes it.  Returns 1 when refreshed, 0 when not due or not possible,
 * -1 with a message in err (t unchanged, the file too unless only its
 * rewriting failed).
 */
int creds_sso_refresh(const struct awsconf *conf,
    const struct creds_sso_config *cfg, const char *path,
    struct creds_sso_token *t, time_t now, char *err, size_t errsz);

/*
 * The CreateToken URL for cfg's sso_region: a new string in *url
 * (free()), the endpoint of service id "SSO OIDC" (the configured one,
 * else https://oidc.REGION.DOMAIN) and "/token".  -1 with a message.
 */
int creds_sso_oidc_url(const struct awsconf *conf,
    const struct creds_sso_config *cfg, char **url, char *err, size_t errsz);

/*
 * CreateToken's answer buf[0..len): "accessToken" (one line) into
 * *access_token, "expiresIn" (seconds, 1 to 10 years) into *expires_in,
 * the optional "refreshToken" into *refresh_token (else NULL); new strings,
 * creds_free_secret() them.  0, or -1 with a message that quotes no value.
 */
int creds_sso_oidc_parse(const char *buf, size_t len, char **access_token,
    long long *expires_in, char **refresh_token, char *err, size_t errsz);

#endif
