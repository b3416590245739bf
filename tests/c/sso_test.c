/*
 * sso_test - unit tests of the IAM Identity Center provider's pieces
 * (common/creds_sso.h) and the config file's [sso-session NAME] sections
 * (awsconf_section_*()): the token cache document, the GetRoleCredentials
 * answer, the profile's settings and their errors, the cache file name
 * (botocore's SSOTokenLoader test vectors) and the portal URL.  No request
 * is made.
 *
 *   sso_test [-v]
 */
#include <time.h>

#include "awsconf.h"
#include "creds.h"
#include "creds_sso.h"
#include "tap.h"

#define ERRSZ 512

/* ---- the token cache document ---- */

static void
token_ok(const char *doc, const char *want_tok, time_t want_exp)
{
	char err[ERRSZ] = "", *b = exact(doc, strlen(doc));
	struct creds_sso_token t;
	int r;

	r = creds_sso_token_parse("cache", b, strlen(doc), &t, err,
	    sizeof(err));
	if (!check(r == 0 && t.access_token != NULL &&
	    strcmp(t.access_token, want_tok) == 0 && t.expires_at == want_exp,
	    "token: %s", SHOW(doc)))
		diag("r=%d err=%s exp=%lld", r, err, (long long)t.expires_at);
	creds_sso_token_clear(&t);
	free(b);
}

static void
token_bad_n(const char *doc, size_t n, const char *want_err)
{
	char err[ERRSZ] = "", *b = exact(doc, n);
	struct creds_sso_token t;
	int r;

	r = creds_sso_token_parse("cache", b, n, &t, err, sizeof(err));
	if (!check(r == -1 && t.access_token == NULL &&
	    strstr(err, want_err) != NULL && strstr(err, "s3cr3t") == NULL,
	    "token refused (%s): %s", want_err, show(doc, n)))
		diag("r=%d err=%s", r, err);
	free(b);
}

static void
token_bad(const char *doc, const char *want_err)
{
	token_bad_n(doc, strlen(doc), want_err);
}

/* What a refresh needs is read when present, ignored when not a string. */
static void
test_token_refresh_keys(void)
{
	static const char full[] = "{\"accessToken\": \"a\", \"expiresAt\": "
	    "\"2030-01-01T00:00:00Z\", \"clientId\": \"cid\", \"clientSecret\": "
	    "\"cs\", \"registrationExpiresAt\": \"2030-03-01T00:00:00Z\", "
	    "\"refreshToken\": \"rt\"}";
	static const char odd[] = "{\"accessToken\": \"a\", \"expiresAt\": "
	    "\"2030-01-01T00:00:00Z\", \"clientId\": 7, \"clientSecret\": "
	    "null, \"refreshToken\": \"\"}";
	struct creds_sso_token t;
	char err[ERRSZ];

	check(creds_sso_token_parse("c", full, strlen(full), &t, err,
	    sizeof(err)) == 0 && t.refresh_token != NULL &&
	    strcmp(t.refresh_token, "rt") == 0 && t.client_id != NULL &&
	    strcmp(t.client_id, "cid") == 0 && t.client_secret != NULL &&
	    strcmp(t.client_secret, "cs") == 0 &&
	    t.registration_expires_at != NULL &&
	    strcmp(t.registration_expires_at, "2030-03-01T00:00:00Z") == 0,
	    "token: the refresh token and the registration are read");
	creds_sso_token_clear(&t);
	check(creds_sso_token_parse("c", odd, strlen(odd), &t, err,
	    sizeof(err)) == 0 && t.refresh_token == NULL &&
	    t.client_id == NULL && t.client_secret == NULL &&
	    t.registration_expires_at == NULL,
	    "token: refresh keys that are not strings are ignored");
	creds_sso_token_clear(&t);
}

static void
oidc_case(const char *doc, int want_rc, const char *want_tok,
    long long want_in, const char *want_rt, const char *want_err)
{
	char err[ERRSZ] = "", *b = exact(doc, strlen(doc)), *tok, *rt;
	long long in = 0;
	int r;

	r = creds_sso_oidc_parse(b, strlen(doc), &tok, &in, &rt, err,
	    sizeof(err));
	if (!check(r == want_rc && (r < 0 ? tok == NULL && rt == NULL &&
	    strstr(err, want_err) != NULL && strstr(err, "s3cr3t") == NULL :
	    strcmp(tok, want_tok) == 0 && in == want_in &&
	    (want_rt == NULL ? rt == NULL : rt != NULL &&
	    strcmp(rt, want_rt) == 0)), "CreateToken answer: %s", SHOW(doc)))
		diag("r=%d err=%s", r, err);
	free(tok);
	free(rt);
	free(b);
}

static void
test_oidc(void)
{
	section("the CreateToken answer");
	oidc_case("{\"accessToken\": \"new\", \"expiresIn\": 28800, "
	    "\"refreshToken\": \"rt2\", \"tokenType\": \"Bearer\"}", 0, "new",
	    28800, "rt2", NULL);
	oidc_case("{\"accessToken\": \"new\", \"expiresIn\": 60}", 0, "new",
	    60, NULL, NULL);
	oidc_case("{\"expiresIn\": 60, \"refreshToken\": \"s3cr3t\"}", -1,
	    NULL, 0, NULL, "no \"accessToken\"");
	oidc_case("{\"accessToken\": \"s3cr3t\", \"expiresIn\": 0}", -1, NULL,
	    0, NULL, "no \"expiresIn\" in seconds");
	oidc_case("{\"accessToken\": \"s3cr3t\", \"expiresIn\": \"60\"}", -1,
	    NULL, 0, NULL, "no \"expiresIn\" in seconds");
	oidc_case("{\"accessToken\": \"s3cr3t\", \"expiresIn\": 1e30}", -1,
	    NULL, 0, NULL, "no \"expiresIn\" in seconds");
	oidc_case("{\"accessToken\": \"s3\\ncr3t\", \"expiresIn\": 60}", -1,
	    NULL, 0, NULL, "control character");
	oidc_case("[]", -1, NULL, 0, NULL, "response is not a JSON object");
}

static void
test_token(void)
{
	static char big[70000];

	section("the token cache document");
	token_ok("{\"accessToken\": \"tok\", \"expiresAt\": "
	    "\"2030-01-01T00:00:00Z\"}", "tok", 1893456000);
	/* As aws sso login writes it, with the registration beside it. */
	token_ok("{\"startUrl\": \"https://d-abc123.awsapps.com/start\", "
	    "\"region\": \"us-east-1\", \"accessToken\": \"aoa.b-c_d\", "
	    "\"expiresAt\": \"2030-01-01T00:00:00Z\", \"clientId\": \"cid\", "
	    "\"clientSecret\": \"cs\", \"registrationExpiresAt\": "
	    "\"2030-03-01T00:00:00Z\", \"refreshToken\": \"rt\"}\n",
	    "aoa.b-c_d", 1893456000);
	/* botocore's test vector form, and offsets. */
	token_ok("{\"accessToken\":\"totally.a.token\",\"expiresAt\":"
	    "\"2002-10-18T03:52:38UTC\"}", "totally.a.token", 1034913158);
	token_ok("{\"accessToken\":\"t\",\"expiresAt\":"
	    "\"2030-01-01T01:00:00.123+01:00\"}", "t", 1893456000);
	token_bad("{\"expiresAt\": \"2030-01-01T00:00:00Z\"}",
	    "no \"accessToken\"");
	token_bad("{\"accessToken\": null, \"expiresAt\": "
	    "\"2030-01-01T00:00:00Z\"}", "no \"accessToken\"");
	token_bad("{\"accessToken\": \"\", \"expiresAt\": "
	    "\"2030-01-01T00:00:00Z\"}", "not a non-empty string");
	token_bad("{\"accessToken\": 42, \"expiresAt\": "
	    "\"2030-01-01T00:00:00Z\"}", "not a non-empty string");
	token_bad("{\"accessToken\": \"s3cr3t\"}", "no \"expiresAt\"");
	token_bad("{\"accessToken\": \"s3cr3t\", \"expiresAt\": \"soon\"}",
	    "not an ISO 8601 time");
	token_bad("{\"accessToken\": \"s3cr3t\", \"expiresAt\": 1893456000}",
	    "not a non-empty string");
	token_bad("{\"accessToken\": \"s3\\ncr3t\", \"expiresAt\": "
	    "\"2030-01-01T00:00:00Z\"}", "control character");
	token_bad("{\"accessToken\": \"s3cr3t\"", "file is not valid JSON");
	token_bad("[\"s3cr3t\"]", "file is not a JSON object");
	token_bad("{\"accessToken\": \"s3cr3t\", \"expiresAt\": "
	    "\"2030-01-01T00:00:00Z\"} x", "text after the JSON object");
	token_bad("", "file is not valid JSON");
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	token_bad_n(big, sizeof(big), "file too large");
	test_token_refresh_keys();
}

/* ---- the GetRoleCredentials answer ---- */

static void
role_ok(const char *doc, time_t want_exp)
{
	char err[ERRSZ] = "", *b = exact(doc, strlen(doc));
	struct creds c;
	int r;

	r = creds_sso_role_parse(b, strlen(doc), &c, err, sizeof(err));
	if (!check(r == 0 && strcmp(c.access_key_id, "ASIAX") == 0 &&
	    strcmp(c.secret_access_key, "s3cr3t") == 0 &&
	    c.session_token != NULL && strcmp(c.session_token, "tok") == 0 &&
	    c.expiration == want_exp, "role credentials: %s", SHOW(doc)))
		diag("r=%d err=%s", r, err);
	if (r == 0)
		creds_clear(&c);
	free(b);
}

static void
role_bad(const char *doc, const char *want_err)
{
	char err[ERRSZ] = "", *b = exact(doc, strlen(doc));
	struct creds c;
	int r;

	r = creds_sso_role_parse(b, strlen(doc), &c, err, sizeof(err));
	if (!check(r == -1 && c.access_key_id == NULL &&
	    strstr(err, want_err) != NULL && strstr(err, "s3cr3t") == NULL &&
	    strstr(err, "GetRoleCredentials") != NULL,
	    "role answer refused (%s): %s", want_err, SHOW(doc)))
		diag("r=%d err=%s", r, err);
	free(b);
}

#define RC(body) "{\"roleCredentials\": {" body "}}"
#define KEYS "\"accessKeyId\": \"ASIAX\", \"secretAccessKey\": \"s3cr3t\", " \
	"\"sessionToken\": \"tok\""

static void
test_role(void)
{
	section("the GetRoleCredentials answer");
	role_ok(RC(KEYS ", \"expiration\": 1893456000000"), 1893456000);
	role_ok(RC(KEYS ", \"expiration\": 1893456000999"), 1893456000);
	role_ok(RC(KEYS ", \"expiration\": 1.893456e12"), 1893456000);
	role_bad("{}", "no \"roleCredentials\"");
	role_bad("{\"roleCredentials\": [\"s3cr3t\"]}", "no \"roleCredentials\"");
	role_bad(RC("\"secretAccessKey\": \"s3cr3t\", \"sessionToken\": "
	    "\"tok\", \"expiration\": 1893456000000"), "no \"accessKeyId\"");
	role_bad(RC("\"accessKeyId\": \"ASIAX\", \"sessionToken\": \"tok\", "
	    "\"expiration\": 1893456000000"), "no \"secretAccessKey\"");
	role_bad(RC("\"accessKeyId\": \"ASIAX\", \"secretAccessKey\": "
	    "\"s3cr3t\", \"expiration\": 1893456000000"),
	    "no \"sessionToken\"");
	role_bad(RC(KEYS), "no numeric \"expiration\"");
	role_bad(RC(KEYS ", \"expiration\": \"2030-01-01T00:00:00Z\""),
	    "no numeric \"expiration\"");
	/* Seconds, not milliseconds: 1970 and a bit. */
	role_bad(RC(KEYS ", \"expiration\": 1893456000"),
	    "not a time in milliseconds");
	role_bad(RC(KEYS ", \"expiration\": -1"), "not a time in milliseconds");
	role_bad(RC(KEYS ", \"expiration\": 1e300"),
	    "not a time in milliseconds");
	role_bad("{\"roleCredentials\": ", "response is not valid JSON");
}

/* ---- the profile's settings ---- */

static char cfgfile[4200];

/* Loads profile from a config file holding text.  NULL after a diag. */
static struct awsconf *
load(const char *text, const char *profile)
{
	struct awsconf *conf = NULL;
	char err[ERRSZ];

	if (spit(cfgfile, text, strlen(text)) < 0 ||
	    awsconf_load(profile, &conf, err, sizeof(err)) < 0) {
		diag("load: %s", err);
		return NULL;
	}
	return conf;
}

static const char SESSION_CFG[] =
    "[profile dev]\n"
    "sso_session = admin\n"
    "sso_account_id = 123456789012\n"
    "sso_role_name = Writer Role\n"
    "region = eu-west-1\n"
    "[sso-session admin]\n"
    "sso_start_url = https://d-abc123.awsapps.com/start\n"
    "sso_region = us-east-2\n"
    "sso_registration_scopes = sso:account:access\n"
    "[profile legacy]\n"
    "sso_start_url = https://d-abc123.awsapps.com/start\n"
    "sso_region = cn-north-1\n"
    "sso_account_id = 123456789012\n"
    "sso_role_name = Reader\n"
    "[profile static]\n"
    "aws_access_key_id = AKID\n"
    "aws_secret_access_key = s3cr3t\n";

static void
test_config_ok(void)
{
	struct creds_sso_config cfg;
	struct awsconf *conf;
	char err[ERRSZ] = "", *path = NULL, *url = NULL, want[4400];
	int r;

	conf = load(SESSION_CFG, "dev");
	r = conf != NULL ? creds_sso_config(conf, &cfg, err, sizeof(err)) : -2;
	check(r == 1 && cfg.session != NULL &&
	    strcmp(cfg.session, "admin") == 0 &&
	    strcmp(cfg.start_url, "https://d-abc123.awsapps.com/start") == 0 &&
	    strcmp(cfg.region, "us-east-2") == 0 &&
	    strcmp(cfg.account_id, "123456789012") == 0 &&
	    strcmp(cfg.role_name, "Writer Role") == 0,
	    "sso-session profile: settings from [sso-session admin]");
	r = r == 1 ? creds_sso_cache_path(&cfg, &path, err, sizeof(err)) : -2;
	snprintf(want, sizeof(want), "%s/.aws/sso/cache/"
	    "d033e22ae348aeb5660fc2140aec35850c4da997.json", tmpdir);
	if (!check(r == 0 && strcmp(path, want) == 0,
	    "sso-session profile: cache file is SHA-1 of the session name"))
		diag("%s", path != NULL ? path : err);
	r = r == 0 ? creds_sso_url(conf, &cfg, &url, err, sizeof(err)) : -2;
	if (!check(r == 0 && strcmp(url, "https://portal.sso.us-east-2."
	    "amazonaws.com/federation/credentials?role_name=Writer%20Role"
	    "&account_id=123456789012") == 0,
	    "sso-session profile: the portal of sso_region, query encoded"))
		diag("%s", url != NULL ? url : err);
	free(url);
	url = NULL;
	r = creds_sso_oidc_url(conf, &cfg, &url, err, sizeof(err));
	if (!check(r == 0 && strcmp(url, "https://oidc.us-east-2.amazonaws.com/"
	    "token") == 0, "sso-session profile: CreateToken on the sso_region's "
	    "oidc host"))
		diag("%s", url != NULL ? url : err);
	free(path);
	free(url);
	path = url = NULL;
	awsconf_free(conf);

	conf = load(SESSION_CFG, "legacy");
	r = conf != NULL ? creds_sso_config(conf, &cfg, err, sizeof(err)) : -2;
	check(r == 1 && cfg.session == NULL &&
	    strcmp(cfg.region, "cn-north-1") == 0,
	    "legacy profile: settings from the profile");
	r = r == 1 ? creds_sso_cache_path(&cfg, &path, err, sizeof(err)) : -2;
	snprintf(want, sizeof(want), "%s/.aws/sso/cache/"
	    "40a89917e3175433e361b710a9d43528d7f1890a.json", tmpdir);
	check(r == 0 && strcmp(path, want) == 0,
	    "legacy profile: cache file is SHA-1 of the start URL");
	r = r == 0 ? creds_sso_url(conf, &cfg, &url, err, sizeof(err)) : -2;
	if (!check(r == 0 && strncmp(url, "https://portal.sso.cn-north-1."
	    "amazonaws.com.cn/federation/credentials?", 60) == 0,
	    "legacy profile: a cn- region's portal is on amazonaws.com.cn"))
		diag("%s", url != NULL ? url : err);
	free(path);
	free(url);
	awsconf_free(conf);

	conf = load(SESSION_CFG, "static");
	r = conf != NULL ? creds_sso_config(conf, &cfg, err, sizeof(err)) : -2;
	check(r == 0, "a profile without sso_account_id or sso_role_name: "
	    "not configured");
	awsconf_free(conf);
}

static void
config_bad(const char *text, const char *want_err)
{
	struct creds_sso_config cfg;
	struct awsconf *conf = load(text, "p");
	char err[ERRSZ] = "";
	int r;

	r = conf != NULL ? creds_sso_config(conf, &cfg, err, sizeof(err)) : -2;
	if (!check(r == -1 && strstr(err, want_err) != NULL,
	    "config error: %s", want_err))
		diag("r=%d err=%s", r, err);
	awsconf_free(conf);
}

static void
test_config_bad(void)
{
	section("configuration errors");
	config_bad("[profile p]\nsso_role_name = R\n",
	    "profile \"p\" is configured for IAM Identity Center (SSO) but is "
	    "missing sso_account_id, sso_start_url, sso_region");
	config_bad("[profile p]\nsso_account_id = 1\nsso_start_url = u\n"
	    "sso_region = us-east-1\nsso_role_name =\n",
	    "but is missing sso_role_name");
	config_bad("[profile p]\nsso_session = nope\nsso_account_id = 1\n"
	    "sso_role_name = R\n", "profile \"p\": sso_session \"nope\" has no "
	    "[sso-session nope] section in");
	config_bad("[profile p]\nsso_session =\nsso_account_id = 1\n"
	    "sso_role_name = R\n", "has no [sso-session ] section");
	/* A profile section of that name is not a session. */
	config_bad("[profile p]\nsso_session = s\nsso_account_id = 1\n"
	    "sso_role_name = R\n[profile s]\nsso_start_url = u\n"
	    "sso_region = us-east-1\n", "has no [sso-session s] section");
	config_bad("[profile p]\nsso_session = s\nsso_account_id = 1\n"
	    "sso_role_name = R\nsso_start_url = https://a/start\n"
	    "[sso-session s]\nsso_start_url = https://b/start\n"
	    "sso_region = us-east-1\n", "profile \"p\": sso_start_url is "
	    "\"https://a/start\" in the profile but \"https://b/start\" in "
	    "[sso-session s]");
	config_bad("[profile p]\nsso_session = s\nsso_account_id = 1\n"
	    "sso_role_name = R\nsso_region = us-west-2\n"
	    "[sso-session s]\nsso_start_url = u\nsso_region = us-east-1\n",
	    "sso_region is \"us-west-2\" in the profile but \"us-east-1\"");
	config_bad("[profile p]\nsso_session = s\nsso_account_id = 1\n"
	    "sso_role_name = R\n[sso-session s]\nsso_start_url = u\n",
	    "[sso-session s] of");
	config_bad("[profile p]\nsso_session = s\nsso_account_id = 1\n"
	    "sso_role_name = R\nsso_start_url = u\nsso_region = us-east-1\n"
	    "[sso-session s]\n", "is missing sso_start_url, sso_region");
}

static void
test_sections(void)
{
	struct awsconf *conf;
	const char *k, *v;
	size_t pos = 0;
	int n = 0, order = 1;

	section("[sso-session NAME] sections");
	conf = load("[sso-session  a ]\nsso_region = r1\ns3 =\n  sub = x\n"
	    "SSO_Start_URL = u1\n[profile a]\nsso_region = no\n"
	    "[sso-session a]\nsso_region = r2\n[sso-session b]\nk = v\n", "a");
	if (conf == NULL) {
		check(0, "sections load");
		return;
	}
	check(awsconf_section_exists(conf, "sso-session", "a") &&
	    awsconf_section_exists(conf, "sso-session", "b") &&
	    !awsconf_section_exists(conf, "sso-session", "c") &&
	    !awsconf_section_exists(conf, "sso-session", "") &&
	    !awsconf_section_exists(conf, "sso-session", NULL),
	    "awsconf_section_exists");
	v = awsconf_section_get(conf, "sso-session", "a", "sso_region");
	check(v != NULL && strcmp(v, "r2") == 0,
	    "the last value of a key set twice wins");
	v = awsconf_section_get(conf, "sso-session", "a", "sso_start_url");
	check(v != NULL && strcmp(v, "u1") == 0, "keys match in any case");
	check(awsconf_section_get(conf, "sso-session", "c", "k") == NULL &&
	    awsconf_section_get(conf, "sso-session", "a", "k") == NULL,
	    "absent section or key: NULL");
	while (awsconf_section_next(conf, "sso-session", "a", &pos, &k, &v)) {
		static const char *const want[] = { "sso_region", "s3",
		    "sso_start_url", "sso_region" };

		if (n >= 4 || strcmp(k, want[n]) != 0)
			order = 0;
		n++;
	}
	check(n == 4 && order, "awsconf_section_next: top-level keys of both "
	    "[sso-session a] in file order, sub-properties not");
	awsconf_free(conf);
}

static void
setup_env(void)
{
	static const char *const unset[] = { "AWS_PROFILE",
	    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC",
	    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_REGION",
	    "AWS_DEFAULT_REGION" };
	char cred[4200];
	size_t i;

	for (i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		unsetenv(unset[i]);
	tmp_path(cfgfile, sizeof(cfgfile), "config");
	tmp_path(cred, sizeof(cred), "credentials-absent");
	setenv("AWS_CONFIG_FILE", cfgfile, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
	setenv("HOME", tmpdir, 1);
}

static void
test_endpoint(void)
{
	struct creds_sso_config cfg;
	struct awsconf *conf;
	char err[ERRSZ] = "", *url = NULL, *path = NULL;
	int r;

	section("the portal endpoint and HOME");
	setenv("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9/sso/", 1);
	conf = load(SESSION_CFG, "dev");
	r = conf != NULL ? creds_sso_config(conf, &cfg, err, sizeof(err)) : -2;
	r = r == 1 ? creds_sso_url(conf, &cfg, &url, err, sizeof(err)) : -2;
	if (!check(r == 0 && strcmp(url, "http://127.0.0.1:9/sso/federation/"
	    "credentials?role_name=Writer%20Role&account_id=123456789012") == 0,
	    "AWS_ENDPOINT_URL_SSO replaces the portal, its path kept"))
		diag("%s", url != NULL ? url : err);
	free(url);
	url = NULL;
	setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/oidc", 1);
	r = creds_sso_oidc_url(conf, &cfg, &url, err, sizeof(err));
	if (!check(r == 0 && strcmp(url, "http://127.0.0.1:9/oidc/token") == 0,
	    "AWS_ENDPOINT_URL_SSO_OIDC replaces the OIDC host"))
		diag("%s", url != NULL ? url : err);
	free(url);
	url = NULL;
	unsetenv("AWS_ENDPOINT_URL_SSO");
	unsetenv("AWS_ENDPOINT_URL_SSO_OIDC");
	awsconf_free(conf);

	conf = load("[profile p]\nservices = t\nsso_account_id = 1\n"
	    "sso_role_name = R\nsso_start_url = u\nsso_region = us-east-1\n"
	    "[services t]\nsso =\n  endpoint_url = http://127.0.0.1:9\n", "p");
	r = conf != NULL ? creds_sso_config(conf, &cfg, err, sizeof(err)) : -2;
	r = r == 1 ? creds_sso_url(conf, &cfg, &url, err, sizeof(err)) : -2;
	check(r == 0 && strncmp(url, "http://127.0.0.1:9/federation/", 30) == 0,
	    "a [services] section's sso endpoint_url");
	free(url);
	url = NULL;
	awsconf_free(conf);

	conf = load("[profile p]\nsso_account_id = 1\nsso_role_name = R\n"
	    "sso_start_url = u\nsso_region = Not_A_Region\n", "p");
	r = conf != NULL ? creds_sso_config(conf, &cfg, err, sizeof(err)) : -2;
	r = r == 1 ? creds_sso_url(conf, &cfg, &url, err, sizeof(err)) : -2;
	if (!check(r == -1 && url == NULL && strstr(err, "sso_region "
	    "\"Not_A_Region\"") != NULL, "a malformed sso_region is refused"))
		diag("%s", err);
	r = creds_sso_config(conf, &cfg, err, sizeof(err));
	unsetenv("HOME");
	r = r == 1 ? creds_sso_cache_path(&cfg, &path, err, sizeof(err)) : -2;
	if (!check(r == -1 && path == NULL && strstr(err, "HOME is not set") !=
	    NULL, "no HOME: no cache file, and a message saying why"))
		diag("%s", err);
	setenv("HOME", tmpdir, 1);
	awsconf_free(conf);
}

int
main(int argc, char **argv)
{
	if (tap_begin("sso_test", argc, argv) != 0)
		return 2;
	setup_env();
	test_token();
	test_role();
	test_oidc();
	section("the profile's settings");
	test_config_ok();
	test_config_bad();
	test_sections();
	test_endpoint();
	unlink(cfgfile);
	return tap_end();
}
