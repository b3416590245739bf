/*
 * creds_sso.c - the "sso" provider: IAM Identity Center role credentials
 * from the token `aws sso login` caches (creds_sso.h has the rules and
 * where they come from).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aws.h"
#include "awsconf.h"
#include "creds_provider.h"
#include "creds_sso.h"
#include "http.h"
#include "msg.h"
#include "sigv4.h"

/* The portal is an AWS service on the Internet: the usual connect time,
 * and one more attempt after a transport error, a throttle or a 5xx. */
#define SSO_CONNECT_MS 10000L
#define SSO_TOTAL_MS 30000L
#define SSO_ATTEMPTS 2

#define SSO_WHAT "IAM Identity Center (SSO)"

/* GetRoleCredentials' expiration: 2000-01-01 to 9999-12-31, in ms. */
#define MIN_EXPIRATION_MS 946684800000LL
#define MAX_EXPIRATION_MS 253402300799000LL

/* The keys a profile needs, in botocore's order. */
static const char *const sso_keys[] = { "sso_role_name", "sso_account_id",
    "sso_start_url", "sso_region" };

/* A key set in both the profile and its [sso-session NAME] must agree
 * (botocore's _resolve_sso_session_reference). */
static int
check_session_keys(const struct awsconf *conf, const char *session,
    char *err, size_t errsz)
{
	const char *key, *value, *sv, *pv;
	size_t pos = 0;

	while (awsconf_section_next(conf, "sso-session", session, &pos, &key,
	    &value)) {
		sv = awsconf_section_get(conf, "sso-session", session, key);
		pv = awsconf_get(conf, key);
		if (pv == NULL || sv == NULL || strcmp(pv, sv) == 0)
			continue;
		return msg_seterr(err, errsz, "profile \"%s\": %s is \"%.200s\" "
		    "in the profile but \"%.200s\" in [sso-session %s] of %s: "
		    "they must be the same", awsconf_profile(conf), key, pv, sv,
		    session, awsconf_path(conf, AWSCONF_CONFIG));
	}
	(void)value;
	return 0;
}

/* cfg's start URL and region from [sso-session NAME], which must have
 * them (botocore's SSOTokenProvider). */
static int
session_settings(const struct awsconf *conf, struct creds_sso_config *cfg,
    char *err, size_t errsz)
{
	const char *s = cfg->session;

	if (*s == '\0' || !awsconf_section_exists(conf, "sso-session", s))
		return msg_seterr(err, errsz, "profile \"%s\": sso_session "
		    "\"%.200s\" has no [sso-session %.200s] section in %s",
		    awsconf_profile(conf), s, s,
		    awsconf_path(conf, AWSCONF_CONFIG) != NULL ?
		    awsconf_path(conf, AWSCONF_CONFIG) : "(no config file)");
	if (check_session_keys(conf, s, err, errsz) < 0)
		return -1;
	cfg->start_url = creds_nonempty(awsconf_section_get(conf,
	    "sso-session", s, "sso_start_url"));
	cfg->region = creds_nonempty(awsconf_section_get(conf, "sso-session",
	    s, "sso_region"));
	if (cfg->start_url == NULL || cfg->region == NULL)
		return msg_seterr(err, errsz, "[sso-session %s] of %s, used by "
		    "profile \"%s\", is missing %s", s,
		    awsconf_path(conf, AWSCONF_CONFIG), awsconf_profile(conf),
		    cfg->start_url == NULL ? (cfg->region == NULL ?
		    "sso_start_url, sso_region" : "sso_start_url") :
		    "sso_region");
	return 0;
}

int
creds_sso_config(const struct awsconf *conf, struct creds_sso_config *cfg,
    char *err, size_t errsz)
{
	const char **vals[4];
	char missing[128];
	size_t i, n = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (awsconf_get(conf, "sso_role_name") == NULL &&
	    awsconf_get(conf, "sso_account_id") == NULL)
		return 0;
	cfg->session = awsconf_get(conf, "sso_session");
	if (cfg->session != NULL) {
		if (session_settings(conf, cfg, err, errsz) < 0)
			return -1;
	} else {
		cfg->start_url = creds_nonempty(awsconf_get(conf,
		    "sso_start_url"));
		cfg->region = creds_nonempty(awsconf_get(conf, "sso_region"));
	}
	cfg->role_name = creds_nonempty(awsconf_get(conf, "sso_role_name"));
	cfg->account_id = creds_nonempty(awsconf_get(conf, "sso_account_id"));
	vals[0] = &cfg->role_name;
	vals[1] = &cfg->account_id;
	vals[2] = &cfg->start_url;
	vals[3] = &cfg->region;
	missing[0] = '\0';
	for (i = 0; i < sizeof(sso_keys) / sizeof(sso_keys[0]); i++)
		if (*vals[i] == NULL)
			n += (size_t)snprintf(missing + n, sizeof(missing) - n,
			    "%s%s", n > 0 ? ", " : "", sso_keys[i]);
	if (n > 0)
		return msg_seterr(err, errsz, "profile \"%s\" is configured for "
		    SSO_WHAT " but is missing %s", awsconf_profile(conf),
		    missing);
	return 1;
}

int
creds_sso_cache_path(const struct creds_sso_config *cfg, char **path,
    char *err, size_t errsz)
{
	const char *in = cfg->session != NULL ? cfg->session : cfg->start_url;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char rel[sizeof("~/.aws/sso/cache/.json") + 2 * 20];
	size_t n;

	*path = NULL;
	if (EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return msg_seterr(err, errsz, "cannot compute a SHA-1");
	n = (size_t)snprintf(rel, sizeof(rel), "~/.aws/sso/cache/");
	for (i = 0; i < mdlen; i++)
		n += (size_t)snprintf(rel + n, sizeof(rel) - n, "%02x", md[i]);
	snprintf(rel + n, sizeof(rel) - n, ".json");
	*path = awsconf_expand_path(rel);
	if (*path == NULL)
		return msg_seterr(err, errsz, awsconf_env("HOME") == NULL ?
		    SSO_WHAT ": HOME is not set, so the token cache "
		    "~/.aws/sso/cache cannot be found" : "out of memory");
	return 0;
}

const char *
creds_sso_json_str(const char *what, struct json_object *o, const char *key,
    char *err, size_t errsz)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null)) {
		msg_seterr(err, errsz, "%s: no \"%s\"", what, key);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		msg_seterr(err, errsz, "%s: \"%s\" is not a non-empty string",
		    what, key);
		return NULL;
	}
	return json_object_get_string(v);
}

/* ISO 8601 in UTC as creds_parse_time() reads it; early AWS CLI v2
 * releases wrote "UTC" in place of "Z", which botocore also reads. */
static int
parse_expires_at(const char *s, time_t *t)
{
	char buf[64];
	size_t n = strlen(s);

	if (n > 3 && n < sizeof(buf) && strcmp(s + n - 3, "UTC") == 0) {
		memcpy(buf, s, n - 3);
		buf[n - 3] = 'Z';
		buf[n - 2] = '\0';
		s = buf;
	}
	return creds_parse_time(s, t);
}

void
creds_sso_token_clear(struct creds_sso_token *t)
{
	if (t == NULL)
		return;
	creds_free_secret(t->access_token);
	creds_free_secret(t->refresh_token);
	free(t->client_id);
	creds_free_secret(t->client_secret);
	free(t->registration_expires_at);
	memset(t, 0, sizeof(*t));
}

/* The optional string members a refresh needs: copies, or NULL when a
 * member is absent or not a non-empty string. */
static int
refresh_members(struct json_object *doc, struct creds_sso_token *t)
{
	static const char *const keys[] = { "refreshToken", "clientId",
	    "clientSecret", "registrationExpiresAt" };
	char **dst[] = { &t->refresh_token, &t->client_id, &t->client_secret,
	    &t->registration_expires_at };
	struct json_object *v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!json_object_object_get_ex(doc, keys[i], &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0)
			continue;
		*dst[i] = strdup(json_object_get_string(v));
		if (*dst[i] == NULL)
			return -1;
	}
	return 0;
}

int
creds_sso_token_parse(const char *what, const char *buf, size_t len,
    struct creds_sso_token *t, char *err, size_t errsz)
{
	struct json_object *doc;
	const char *tok, *exp;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	doc = creds_json_object(what, "file", buf, len, err, errsz);
	if (doc == NULL)
		goto out;
	tok = creds_sso_json_str(what, doc, "accessToken", err, errsz);
	if (tok == NULL)
		goto out;
	exp = creds_sso_json_str(what, doc, "expiresAt", err, errsz);
	if (exp == NULL)
		goto out;
	if (parse_expires_at(exp, &t->expires_at) < 0) {
		msg_seterr(err, errsz, "%s: \"expiresAt\" is not an ISO 8601 "
		    "time", what);
		goto out;
	}
	if (!creds_header_safe(tok)) {
		msg_seterr(err, errsz, "%s: \"accessToken\" holds a control "
		    "character", what);
		goto out;
	}
	t->access_token = strdup(tok);
	if (t->access_token == NULL || refresh_members(doc, t) < 0) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		creds_sso_token_clear(t);
	json_object_put(doc);
	return rc;
}

int
creds_sso_role_parse(const char *buf, size_t len, struct creds *out,
    char *err, size_t errsz)
{
	static const char what[] = SSO_WHAT " GetRoleCredentials";
	struct json_object *doc, *rc_obj, *v;
	const char *akid, *secret, *token;
	int64_t ms;
	double d;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	doc = creds_json_object(what, "response", buf, len, err, errsz);
	if (doc == NULL)
		goto out;
	if (!json_object_object_get_ex(doc, "roleCredentials", &rc_obj) ||
	    !json_object_is_type(rc_obj, json_type_object)) {
		msg_seterr(err, errsz, "%s: no \"roleCredentials\" object in "
		    "the response", what);
		goto out;
	}
	if ((akid = creds_sso_json_str(what, rc_obj, "accessKeyId", err, errsz)) ==
	    NULL ||
	    (secret = creds_sso_json_str(what, rc_obj, "secretAccessKey", err,
	    errsz)) == NULL ||
	    (token = creds_sso_json_str(what, rc_obj, "sessionToken", err, errsz)) ==
	    NULL)
		goto out;
	if (!json_object_object_get_ex(rc_obj, "expiration", &v) ||
	    !(json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))) {
		msg_seterr(err, errsz, "%s: no numeric \"expiration\" in the "
		    "response", what);
		goto out;
	}
	/* Milliseconds since 1970; a time before 2000 or after 9999 is not
	 * one AWS would send (and a double is range-checked before it is
	 * converted). */
	d = json_object_get_double(v);
	ms = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) :
	    (d >= (double)MIN_EXPIRATION_MS && d <= (double)MAX_EXPIRATION_MS) ?
	    (int64_t)d : 0;
	if (ms < MIN_EXPIRATION_MS || ms > MAX_EXPIRATION_MS) {
		msg_seterr(err, errsz, "%s: \"expiration\" is not a time in "
		    "milliseconds", what);
		goto out;
	}
	if (creds_set(out, akid, secret, token, (time_t)(ms / 1000), err,
	    errsz) < 0)
		goto out;
	rc = 0;
out:
	json_object_put(doc);
	return rc;
}

/* s, URI-encoded for a query value: a new string, or NULL. */
static char *
query_value(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(SIGV4_URI_ENCODE_MAX(n));

	if (out != NULL && sigv4_uri_encode(s, n, 1, out,
	    SIGV4_URI_ENCODE_MAX(n)) < 0) {
		free(out);
		out = NULL;
	}
	return out;
}

/*
 * The base URL of service_id ("SSO", "SSO OIDC") for cfg's sso_region: a
 * new string, the configured endpoint, else the service's own host label
 * (not the one awsconf_endpoint() makes of the service id) in front of
 * ".REGION.DOMAIN".  NULL with a message.
 */
char *
creds_sso_base_url(const struct awsconf *conf,
    const struct creds_sso_config *cfg, const char *service_id,
    const char *host, char *err, size_t errsz)
{
	struct awsconf_endpoint ep;
	char eerr[AWSCONF_ERRSZ], *url = NULL;
	const char *rest;
	size_t n;

	if (awsconf_endpoint(conf, service_id, NULL, cfg->region, &ep, eerr,
	    sizeof(eerr)) < 0) {
		/* The region there is sso_region, not the profile's. */
		msg_seterr(err, errsz, "profile \"%s\": the %s endpoint "
		    "(sso_region \"%.64s\"): %s", awsconf_profile(conf),
		    service_id, cfg->region, eerr);
		return NULL;
	}
	rest = strchr(ep.url + strlen("https://"), '.');
	if (ep.custom || rest == NULL) {
		url = ep.url;
		ep.url = NULL;
	} else {
		n = strlen("https://") + strlen(host) + strlen(rest) + 1;
		url = malloc(n);
		if (url != NULL)
			snprintf(url, n, "https://%s%s", host, rest);
	}
	if (url == NULL)
		msg_seterr(err, errsz, "out of memory");
	awsconf_endpoint_clear(&ep);
	return url;
}

int
creds_sso_url(const struct awsconf *conf,
    const struct creds_sso_config *cfg, char **url, char *err, size_t errsz)
{
	char *base, *role, *acct;
	size_t n;

	*url = NULL;
	base = creds_sso_base_url(conf, cfg, "SSO", "portal.sso", err, errsz);
	role = query_value(cfg->role_name);
	acct = query_value(cfg->account_id);
	if (base != NULL && role != NULL && acct != NULL) {
		n = strlen(base) + strlen(role) + strlen(acct) +
		    sizeof("/federation/credentials?role_name=&account_id=");
		*url = malloc(n);
		if (*url != NULL)
			snprintf(*url, n, "%s/federation/credentials?role_name="
			    "%s&account_id=%s", base, role, acct);
	}
	if (*url == NULL && base != NULL)
		msg_seterr(err, errsz, "out of memory");
	free(base);
	free(role);
	free(acct);
	return *url != NULL ? 0 : -1;
}

/* What to run when the token is missing, expired or refused: the CLI
 * logs a session in by its name, a legacy profile by the profile. */
static const char *
login_hint(const struct awsconf *conf, const struct creds_sso_config *cfg,
    char *buf, size_t bufsz)
{
	if (cfg->session != NULL)
		snprintf(buf, bufsz, "run aws sso login --sso-session %s",
		    cfg->session);
	else
		snprintf(buf, bufsz, "run aws sso login --profile %s",
		    awsconf_profile(conf));
	return buf;
}

/* The file's bytes: a new buffer in *buf (wipe it: it holds the token). */
static int
read_cache(const char *path, char **buf, size_t *len, int *missing, char *err,
    size_t errsz)
{
	FILE *fp;
	char *b = NULL;
	size_t n = 0;
	int rc = -1;

	*buf = NULL;
	*missing = 0;
	fp = fopen(path, "r");
	if (fp == NULL) {
		*missing = errno == ENOENT || errno == ENOTDIR;
		return msg_seterr(err, errsz, "cannot read %s: %s", path,
		    strerror(errno));
	}
	b = malloc(CREDS_MAX_DOC + 1);
	if (b == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	n = fread(b, 1, CREDS_MAX_DOC + 1, fp);
	if (ferror(fp)) {
		msg_seterr(err, errsz, "cannot read %s: read error", path);
		goto out;
	}
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	fclose(fp);
	if (b != NULL) {
		OPENSSL_cleanse(b, CREDS_MAX_DOC + 1);
		free(b);
	}
	return rc;
}

/*
 * The cached access token of cfg, not expired at now: a new string in
 * *token (creds_free_secret()).  A session's token that expires within
 * CREDS_SSO_REFRESH_WINDOW is refreshed first when the file allows it
 * (botocore's SSOTokenProvider); if that fails, the token is used as long
 * as it has not expired.
 */
static int
load_token(const struct awsconf *conf, const struct creds_sso_config *cfg,
    time_t now, char **token, char *err, size_t errsz)
{
	struct creds_sso_token t;
	char *path = NULL, *buf = NULL, hint[256], who[300], when[32];
	char rerr[AWSCONF_ERRSZ] = "";
	size_t len = 0;
	struct tm tm;
	int missing, rc = -1;

	*token = NULL;
	memset(&t, 0, sizeof(t));
	login_hint(conf, cfg, hint, sizeof(hint));
	if (cfg->session != NULL)
		snprintf(who, sizeof(who), "sso-session \"%s\"", cfg->session);
	else
		snprintf(who, sizeof(who), "%.250s", cfg->start_url);
	if (creds_sso_cache_path(cfg, &path, err, errsz) < 0)
		goto out;
	if (read_cache(path, &buf, &len, &missing, err, errsz) < 0) {
		if (missing)
			msg_seterr(err, errsz, "no " SSO_WHAT " token for %s "
			    "(%s): %s", who, path, hint);
		goto out;
	}
	if (creds_sso_token_parse(path, buf, len, &t, err, errsz) < 0) {
		size_t n = strlen(err);

		snprintf(err + n, errsz - n, ": %s", hint);
		goto out;
	}
	if (cfg->session != NULL &&
	    creds_sso_refresh(conf, cfg, path, &t, now, rerr,
	    sizeof(rerr)) < 0)
		msg_debug("credentials: sso: cannot refresh the token of %s: "
		    "%s", who, rerr);
	if (t.expires_at <= now) {
		if (gmtime_r(&t.expires_at, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(when, sizeof(when), "(unknown)");
		msg_seterr(err, errsz, "the " SSO_WHAT " token for %s expired "
		    "at %s%s%s%s: %s", who, when, rerr[0] != '\0' ?
		    " (and refreshing it failed: " : "", rerr,
		    rerr[0] != '\0' ? ")" : "", hint);
		goto out;
	}
	*token = t.access_token;
	t.access_token = NULL;
	msg_secret(*token);
	msg_debug("credentials: sso: token of %s from %s", who, path);
	rc = 0;
out:
	creds_sso_token_clear(&t);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	free(path);
	return rc;
}

/* An error answer of GetRoleCredentials as a message. */
static void
role_error(const struct awsconf *conf, const struct creds_sso_config *cfg,
    const struct http_response *resp, char *err, size_t errsz)
{
	char code[128], message[256], hint[256];

	aws_error(resp, code, sizeof(code), message, sizeof(message));
	if (resp->status == 401 || strcmp(code, "UnauthorizedException") == 0)
		msg_seterr(err, errsz, SSO_WHAT " refused the token (%s%s%s): "
		    "the session has expired or is otherwise invalid: %s",
		    code[0] != '\0' ? code : "HTTP 401", message[0] != '\0' ?
		    ": " : "", message, login_hint(conf, cfg, hint,
		    sizeof(hint)));
	else if (resp->status == 403 || resp->status == 404)
		msg_seterr(err, errsz, SSO_WHAT " gives no credentials for role "
		    "\"%.100s\" in account %.20s (%s%s%s): check "
		    "sso_role_name and sso_account_id of profile \"%s\"",
		    cfg->role_name, cfg->account_id, code[0] != '\0' ? code :
		    "HTTP error", message[0] != '\0' ? ": " : "", message,
		    awsconf_profile(conf));
	else
		msg_seterr(err, errsz, SSO_WHAT " GetRoleCredentials answered "
		    "HTTP %ld%s%s%s%s", resp->status, code[0] != '\0' ? " " : "",
		    code, message[0] != '\0' ? ": " : "", message);
}

struct http_client *
creds_sso_http(const struct awsconf *conf,
    const struct creds_sso_config *cfg)
{
	struct awsconf_tls tls;
	struct http_opts o;

	awsconf_tls(conf, cfg->ca_bundle, cfg->no_verify_ssl, &tls);
	memset(&o, 0, sizeof(o));
	o.ca_bundle = tls.ca_bundle;
	o.verify = tls.verify;
	o.connect_timeout_ms = SSO_CONNECT_MS;
	o.timeout_ms = SSO_TOTAL_MS;
	o.max_body = CREDS_MAX_DOC;
	return http_client_new(&o);
}

/* GETs url with the token; retried once on a transport error, a throttle
 * or a 5xx.  0 with a 200 answer in *resp, else -1 with a message. */
static int
get_role(const struct awsconf *conf, const struct creds_sso_config *cfg,
    const char *url, const char *token, struct http_response *resp,
    char *err, size_t errsz)
{
	struct http_client *http = NULL;
	const char *headers[2] = { NULL, NULL };
	char *bearer = NULL, ferr[256];
	int attempt, rc = -1;

	memset(resp, 0, sizeof(*resp));
	bearer = creds_header_line("x-amz-sso_bearer_token", token);
	if (bearer == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	headers[0] = bearer;
	http = creds_sso_http(conf, cfg);
	if (http == NULL) {
		msg_seterr(err, errsz, SSO_WHAT ": cannot initialise libcurl");
		goto out;
	}
	for (attempt = 1; attempt <= SSO_ATTEMPTS; attempt++) {
		creds_http_clear(resp);
		if (creds_http_do(http, "GET", url, headers, resp, ferr,
		    sizeof(ferr)) < 0) {
			msg_seterr(err, errsz, SSO_WHAT " GetRoleCredentials: %s",
			    ferr);
			continue;
		}
		if (resp->status == 200) {
			rc = 0;
			goto out;
		}
		role_error(conf, cfg, resp, err, errsz);
		if (resp->status != 429 && resp->status < 500)
			goto out;
	}
out:
	http_client_free(http);
	creds_free_secret(bearer);
	return rc;
}

int
creds_provider_sso(struct creds_call *call, struct creds *out)
{
	struct creds_sso_config cfg;
	struct http_response resp;
	char *token = NULL, *url = NULL;
	int r, rc = -1;

	memset(&resp, 0, sizeof(resp));
	r = creds_sso_config(call->conf, &cfg, call->err, call->errsz);
	if (r <= 0)
		return r;
	if (call->aws != NULL) {
		cfg.ca_bundle = call->aws->ca_bundle;
		cfg.no_verify_ssl = call->aws->no_verify_ssl;
	}
	if (creds_sso_url(call->conf, &cfg, &url, call->err, call->errsz) < 0)
		goto out;
	if (load_token(call->conf, &cfg, time(NULL), &token, call->err,
	    call->errsz) < 0)
		goto out;
	msg_debug("credentials: sso: GetRoleCredentials for role %s in "
	    "account %s", cfg.role_name, cfg.account_id);
	if (get_role(call->conf, &cfg, url, token, &resp, call->err,
	    call->errsz) < 0)
		goto out;
	if (creds_sso_role_parse(resp.body, resp.body_len, out, call->err,
	    call->errsz) < 0)
		goto out;
	rc = 1;
out:
	creds_http_clear(&resp);
	creds_free_secret(token);
	free(url);
	return rc;
}
