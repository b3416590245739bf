/*
 * awsconf: the AWS config and credentials file parser (common/awsconf.c).
 * Input: the config file, a NUL byte, the credentials file.
 */
#include <stdio.h>

#include "awsconf.h"
#include "fuzz.h"

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
	}
	fz_file("config", data, a);
	fz_file("credentials", nul != NULL ? nul + 1 : data + size,
	    nul != NULL ? size - a - 1 : 0);
	if (awsconf_load(NULL, &conf, err, sizeof(err)) == 0 && conf != NULL) {
		(void)awsconf_get(conf, "region");
		(void)awsconf_get_sub(conf, "s3", "addressing_style");
		(void)awsconf_file_get(conf, AWSCONF_CREDENTIALS,
		    "aws_access_key_id");
		awsconf_free(conf);
	}
	if (awsconf_load("p", &conf, err, sizeof(err)) == 0 && conf != NULL)
		awsconf_free(conf);
	return 0;
}
