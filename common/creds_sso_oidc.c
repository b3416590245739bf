/*
 * creds_sso_oidc.c - refreshing an sso-session's cached token with the
 * refresh token `aws sso login` stored beside it, as botocore's
 * SSOTokenProvider does: SSO OIDC CreateToken (POST /token, grant type
 * refresh_token, no signature), then the cache file rewritten with the
 * new token (creds_sso.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "aws.h"
#include "awsconf.h"
#include "creds_provider.h"
#include "creds_sso.h"
#include "http.h"
#include "kpfs.h"
#include "msg.h"

#define OIDC_WHAT "IAM Identity Center (SSO) OIDC CreateToken"
/* expiresIn beyond ten years is not a token lifetime. */
#define MAX_EXPIRES_IN (10LL * 366 * 86400)

int
creds_sso_oidc_parse(const char *buf, size_t len, char **access_token,
    long long *expires_in, char **refresh_token, char *err, size_t errsz)
{
	struct json_object *doc, *v;
	const char *tok, *rt = NULL;
	int rc = -1;

	*access_token = *refresh_token = NULL;
	doc = creds_json_object(OIDC_WHAT, "response", buf, len, err, errsz);
	if (doc == NULL)
		goto out;
	tok = creds_sso_json_str(OIDC_WHAT, doc, "accessToken", err, errsz);
	if (tok == NULL)
		goto out;
	if (!creds_header_safe(tok)) {
		msg_seterr(err, errsz, "%s: \"accessToken\" holds a control "
		    "character", OIDC_WHAT);
		goto out;
	}
	if (!json_object_object_get_ex(doc, "expiresIn", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 1 ||
	    json_object_get_int64(v) > MAX_EXPIRES_IN) {
		msg_seterr(err, errsz, "%s: no \"expiresIn\" in seconds",
		    OIDC_WHAT);
		goto out;
	}
	*expires_in = json_object_get_int64(v);
	if (json_object_object_get_ex(doc, "refreshToken", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0)
		rt = json_object_get_string(v);
	*access_token = strdup(tok);
	*refresh_token = rt != NULL ? strdup(rt) : NULL;
	if (*access_token == NULL || (rt != NULL && *refresh_token == NULL)) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		creds_free_secret(*access_token);
		creds_free_secret(*refresh_token);
		*access_token = *refresh_token = NULL;
	}
	json_object_put(doc);
	return rc;
}

/* Adds key: a copy of v (a no-op when v is NULL); -1 on no memory. */
static int
add(struct json_object *o, const char *key, const char *v)
{
	struct json_object *s;

	if (v == NULL)
		return 0;
	s = json_object_new_string(v);
	if (s == NULL || json_object_object_add(o, key, s) != 0) {
		json_object_put(s);
		return -1;
	}
	return 0;
}

/* The JSON text of o: a new string (creds_free_secret()), or NULL. */
static char *
json_text(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return s != NULL ? strdup(s) : NULL;
}

/* CreateToken's request body for t. */
static char *
request_body(const struct creds_sso_token *t)
{
	struct json_object *o = json_object_new_object();
	char *s = NULL;

	if (o != NULL && add(o, "clientId", t->client_id) == 0 &&
	    add(o, "clientSecret", t->client_secret) == 0 &&
	    add(o, "grantType", "refresh_token") == 0 &&
	    add(o, "refreshToken", t->refresh_token) == 0)
		s = json_text(o);
	json_object_put(o);
	return s;
}

/* The cache file as botocore writes a refreshed token: startUrl, region,
 * accessToken, expiresAt, the registration, refreshToken if any. */
static char *
cache_doc(const struct creds_sso_config *cfg, const struct creds_sso_token *t)
{
	struct json_object *o = json_object_new_object();
	char when[32];
	struct tm tm;
	char *s = NULL;

	if (gmtime_r(&t->expires_at, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		goto out;
	if (o != NULL && add(o, "startUrl", cfg->start_url) == 0 &&
	    add(o, "region", cfg->region) == 0 &&
	    add(o, "accessToken", t->access_token) == 0 &&
	    add(o, "expiresAt", when) == 0 &&
	    add(o, "clientId", t->client_id) == 0 &&
	    add(o, "clientSecret", t->client_secret) == 0 &&
	    add(o, "registrationExpiresAt", t->registration_expires_at) == 0 &&
	    add(o, "refreshToken", t->refresh_token) == 0)
		s = json_text(o);
out:
	json_object_put(o);
	return s;
}

/* Replaces the cache file path by t, mode 0600, atomically. */
static int
save(const struct creds_sso_config *cfg, const char *path,
    const struct creds_sso_token *t, char *err, size_t errsz)
{
	const char *slash = strrchr(path, '/');
	char *doc = NULL, *dir = NULL;
	int dfd = -1, rc = -1;

	doc = cache_doc(cfg, t);
	dir = slash != NULL ? strndup(path, (size_t)(slash - path)) : NULL;
	if (doc == NULL || dir == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || kpfs_write_atomic_mode(dfd, slash + 1, doc,
	    strlen(doc), 0600) != 0) {
		msg_seterr(err, errsz, "cannot write %s: %s", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (dfd >= 0)
		close(dfd);
	creds_free_secret(doc);
	free(dir);
	return rc;
}

int
creds_sso_oidc_url(const struct awsconf *conf,
    const struct creds_sso_config *cfg, char **url, char *err, size_t errsz)
{
	char *base = creds_sso_base_url(conf, cfg, "SSO OIDC", "oidc", err,
	    errsz);
	size_t n;

	*url = NULL;
	if (base == NULL)
		return -1;
	n = strlen(base) + sizeof("/token");
	*url = malloc(n);
	if (*url != NULL)
		snprintf(*url, n, "%s/token", base);
	else
		msg_seterr(err, errsz, "out of memory");
	free(base);
	return *url != NULL ? 0 : -1;
}

/* POSTs body to url; 0 with a 200 answer in *resp, else -1. */
static int
create_token(const struct awsconf *conf, const struct creds_sso_config *cfg,
    const char *url, const char *body, struct http_response *resp, char *err,
    size_t errsz)
{
	const char *h[] = { "Content-Type: application/json",
	    "User-Agent: kinpipe/" KP_VERSION };
	struct http_client *http = NULL;
	struct http_request req;
	char code[128], message[256];
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	http = creds_sso_http(conf, cfg);
	if (http == NULL) {
		msg_seterr(err, errsz, "%s: cannot initialise libcurl",
		    OIDC_WHAT);
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = h;
	req.nheaders = sizeof(h) / sizeof(h[0]);
	req.body = body;
	req.body_len = strlen(body);
	if (http_do(http, &req, resp) < 0) {
		msg_seterr(err, errsz, "%s: %s", OIDC_WHAT, resp->error);
		goto out;
	}
	if (resp->status != 200) {
		aws_error(resp, code, sizeof(code), message, sizeof(message));
		msg_seterr(err, errsz, "%s answered HTTP %ld%s%s%s%s", OIDC_WHAT,
		    resp->status, code[0] != '\0' ? " " : "", code,
		    message[0] != '\0' ? ": " : "", message);
		goto out;
	}
	rc = 0;
out:
	http_client_free(http);
	return rc;
}

/* Whether t can be refreshed at now: it has a refresh token and a
 * registration that has not expired. */
static int
refreshable(const struct creds_sso_token *t, time_t now)
{
	time_t reg;

	return t->refresh_token != NULL && t->client_id != NULL &&
	    t->client_secret != NULL && t->registration_expires_at != NULL &&
	    creds_parse_time(t->registration_expires_at, &reg) == 0 &&
	    reg > now;
}

int
creds_sso_refresh(const struct awsconf *conf,
    const struct creds_sso_config *cfg, const char *path,
    struct creds_sso_token *t, time_t now, char *err, size_t errsz)
{
	struct http_response resp;
	char *url = NULL, *body = NULL, *tok = NULL, *rt = NULL;
	long long expires_in = 0;
	int rc = -1;

	memset(&resp, 0, sizeof(resp));
	if (t->expires_at - now >= CREDS_SSO_REFRESH_WINDOW ||
	    !refreshable(t, now))
		return 0;
	if (creds_sso_oidc_url(conf, cfg, &url, err, errsz) < 0)
		goto out;
	body = request_body(t);
	if (body == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	if (create_token(conf, cfg, url, body, &resp, err, errsz) < 0 ||
	    creds_sso_oidc_parse(resp.body, resp.body_len, &tok, &expires_in,
	    &rt, err, errsz) < 0)
		goto out;
	creds_free_secret(t->access_token);
	t->access_token = tok;
	tok = NULL;
	t->expires_at = now + (time_t)expires_in;
	creds_free_secret(t->refresh_token);
	t->refresh_token = rt;
	rt = NULL;
	msg_secret(t->access_token);
	msg_secret(t->refresh_token);
	msg_debug("credentials: sso: token of sso-session \"%s\" refreshed",
	    cfg->session);
	/* The new token is good even if the file cannot take it (a
	 * provider prints nothing but debug detail). */
	if (save(cfg, path, t, err, errsz) < 0)
		msg_debug("credentials: sso: %s", err);
	rc = 1;
out:
	creds_http_clear(&resp);
	creds_free_secret(body);
	creds_free_secret(tok);
	creds_free_secret(rt);
	free(url);
	return rc;
}
