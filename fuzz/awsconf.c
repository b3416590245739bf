/*
 * awsconf: the AWS config and credentials file parser (common/awsconf.c),
 * and what the IAM Identity Center provider reads from it: the profile's
 * sso_* keys and its [sso-session NAME] section (creds_sso_config(), the
 * portal URL and the token cache file it names; no request is made).
 * Input: the config file, a NUL byte, the credentials file.
 */
#include <stdio.h>

#include "awsconf.h"
#include "creds_sso.h"
#include "fuzz.h"

/* The SSO settings of conf's profile, as creds_sso.c resolves them. */
static void
sso(const struct awsconf *conf)
{
	struct creds_sso_config cfg;
	const char *k, *v;
	char err[512], *s = NULL;
	size_t pos = 0;

	while (awsconf_section_next(conf, "sso-session",
	    awsconf_get(conf, "sso_session"), &pos, &k, &v))
		if (k == NULL || v == NULL)
			abort();
	if (creds_sso_config(conf, &cfg, err, sizeof(err)) != 1)
		return;
	if (cfg.start_url == NULL || cfg.region == NULL ||
	    cfg.account_id == NULL || cfg.role_name == NULL)
		abort();
	if (creds_sso_url(conf, &cfg, &s, err, sizeof(err)) == 0)
		free(s);
	if (creds_sso_cache_path(&cfg, &s, err, sizeof(err)) == 0)
		free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char cfg[4200], cred[4200];
	const uint8_t *nul = memchr(data, '\0', size);
	size_t a = nul != NULL ? (size_t)(nul - data) : size;
	struct awsconf *conf = NULL;
	char err[512];

	if (cfg[0] == '\0') {
		snprintf(cfg, sizeof(cfg), "%s/config", fz_dir());
		snprintf(cred, sizeof(cred), "%s/credentials", fz_dir());
		setenv("AWS_CONFIG_FILE", cfg, 1);
		setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
		setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
		setenv("HOME", fz_dir(), 1);
	}
	fz_file("config", data, a);
	fz_file("credentials", nul != NULL ? nul + 1 : data + size,
	    nul != NULL ? size - a - 1 : 0);
	if (awsconf_load(NULL, &conf, err, sizeof(err)) == 0 && conf != NULL) {
		(void)awsconf_get(conf, "region");
		(void)awsconf_get_sub(conf, "s3", "addressing_style");
		(void)awsconf_file_get(conf, AWSCONF_CREDENTIALS,
		    "aws_access_key_id");
		sso(conf);
		awsconf_free(conf);
	}
	if (awsconf_load("p", &conf, err, sizeof(err)) == 0 && conf != NULL) {
		sso(conf);
		awsconf_free(conf);
	}
	if (awsconf_load("dev", &conf, err, sizeof(err)) == 0 && conf != NULL) {
		sso(conf);
		awsconf_free(conf);
	}
	return 0;
}
