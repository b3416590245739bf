/*
 * awsconf.h - the AWS shared config and credentials files, region,
 * endpoint and TLS resolution, the way the AWS CLI and SDKs do it.
 *
 * Files: $AWS_CONFIG_FILE (default ~/.aws/config) and
 * $AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials), "~/" expanded
 * from $HOME.  A missing file is not an error.  In the config file a
 * profile is "[profile NAME]" ("[default]" or "[profile default]" for the
 * default one; "[profile default]" wins); in the credentials file it is
 * "[NAME]".  Lines starting with '#' or ';' are comments, as is the rest of
 * a section line after ']' and a " #" or " ;" in a value.  A property with
 * an empty value followed by more-indented "key = value" lines has
 * sub-properties ("s3 =\n  addressing_style = path").  Keys are matched
 * without regard to case, like the CLI's parser.
 *
 * Profile: the explicit argument (a tool's --profile), else $AWS_PROFILE,
 * else "default".  An explicitly named profile that is in neither file is
 * a configuration error (as in the CLI), "default" may be absent.
 *
 * Nothing here prints; errors are returned as text in a caller buffer.
 * Environment variables are read when each function is called.
 */
#ifndef KP_AWSCONF_H
#define KP_AWSCONF_H

#include <stddef.h>

/* A size for the err buffers below that always holds a whole message. */
#define AWSCONF_ERRSZ 512

struct awsconf;

enum awsconf_file {
	AWSCONF_CONFIG,      /* ~/.aws/config */
	AWSCONF_CREDENTIALS, /* ~/.aws/credentials */
};

/*
 * Reads both files for the profile named by `profile` (NULL: $AWS_PROFILE,
 * else "default").  On success returns 0 and stores a new awsconf in *out
 * (free with awsconf_free()).  On a malformed file ("FILE:LINE: reason"),
 * an unreadable file or an explicitly named profile that does not exist,
 * returns -1 with a message in err (never a file's values) and *out NULL.
 */
int awsconf_load(const char *profile, struct awsconf **out, char *err,
    size_t errsz);

/* Frees conf and everything borrowed from it; accepts NULL. */
void awsconf_free(struct awsconf *conf);

/* The profile name in use, and the two file paths (NULL when $HOME is
 * unset and no variable names the file).  Borrowed from conf. */
const char *awsconf_profile(const struct awsconf *conf);
/* 1 when the profile was the explicit argument of awsconf_load() (a
 * tool's --profile): the AWS CLI then ignores credentials in the
 * environment. */
int awsconf_profile_from_option(const struct awsconf *conf);
const char *awsconf_path(const struct awsconf *conf, enum awsconf_file which);

/*
 * A property of the profile in one file, or NULL.  Borrowed from conf.
 * A property with sub-properties has the value "".
 */
const char *awsconf_file_get(const struct awsconf *conf,
    enum awsconf_file which, const char *key);

/*
 * A property of the profile as the CLI sees it: the credentials file's
 * value if it has one, else the config file's; NULL if neither.
 * awsconf_get_sub() reads a sub-property ("s3", "addressing_style").
 * Borrowed from conf.
 */
const char *awsconf_get(const struct awsconf *conf, const char *key);
const char *awsconf_get_sub(const struct awsconf *conf, const char *key,
    const char *subkey);

/*
 * The config file's sections that are not profiles, "[KIND NAME]" such as
 * "[sso-session NAME]": awsconf_section_exists() is 1 when the file has
 * one, else 0; awsconf_section_get() is a top-level property of it (the
 * last one when a key is set twice), or NULL; awsconf_section_next()
 * walks its top-level properties in file order: *pos starts at 0, each
 * call returns 1 with *key (lower case) and *value, or 0 at the end.
 * Everything is borrowed from conf.
 */
int awsconf_section_exists(const struct awsconf *conf, const char *kind,
    const char *name);
const char *awsconf_section_get(const struct awsconf *conf,
    const char *kind, const char *name, const char *key);
int awsconf_section_next(const struct awsconf *conf, const char *kind,
    const char *name, size_t *pos, const char **key, const char **value);

/* path with a leading "~/" made $HOME's, as the files' paths are: a new
 * string (free()), or NULL on no memory or when path needs $HOME and it
 * is unset or empty. */
char *awsconf_expand_path(const char *path);

/* 1 if a property or variable value means "true" (case-insensitive),
 * 0 for NULL or anything else. */
int awsconf_is_true(const char *value);

/* The value of environment variable name, or NULL when it is unset or
 * empty: like the AWS CLI, an empty variable counts as unset.  Borrowed
 * from the environment. */
const char *awsconf_env(const char *name);

/*
 * Region: explicit (--region) > $AWS_REGION > $AWS_DEFAULT_REGION > the
 * profile's "region".  Empty values count as unset.  Returns a pointer
 * borrowed from explicit, the environment or conf, or NULL when none is
 * configured; *source (if not NULL) is set to a static name: "explicit",
 * "AWS_REGION", "AWS_DEFAULT_REGION", "profile" or NULL.
 */
const char *awsconf_region(const struct awsconf *conf,
    const char *explicit_region, const char **source);

/*
 * awsconf_region() for tools that need a region: returns 0 and *region,
 * or -1 with the message every tool prints when none is configured
 * (a configuration error, exit 2) or the one for a malformed region.
 */
int awsconf_region_required(const struct awsconf *conf,
    const char *explicit_region, const char **region, char *err,
    size_t errsz);

/* Where a service endpoint came from. */
struct awsconf_endpoint {
	char *url;          /* new string, no trailing '/'; see below */
	int custom;         /* 1 unless the regional AWS default: a custom
	                     * endpoint means path-style S3 addressing */
	int fips;           /* the AWS default's FIPS variant */
	int dualstack;      /* the AWS default's dual-stack variant */
	const char *source; /* static: "explicit", "AWS_ENDPOINT_URL_<ID>",
	                     * "AWS_ENDPOINT_URL", "services-section",
	                     * "profile", "default" */
};

/*
 * The endpoint URL of a service, like the SDKs' "service-specific
 * endpoints": explicit (--endpoint-url) > $AWS_ENDPOINT_URL_<ID> >
 * $AWS_ENDPOINT_URL > endpoint_url in the "[services NAME]" section the
 * profile's "services" names (sub-section <id>) > the profile's
 * endpoint_url > "https://<id>.<region>.amazonaws.com" (".com.cn" for cn-
 * regions, the ISO partitions' domains for us-iso*, eu-isoe).
 * $AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true or the profile's
 * ignore_configured_endpoint_urls=true disable the variables and files,
 * never the explicit URL.  The AWS default of Kinesis and S3 is their FIPS
 * and/or dual-stack endpoint when awsconf_use_fips() and
 * awsconf_use_dualstack() say so (botocore's endpoint rule sets); like
 * botocore, both are ignored when a custom endpoint is configured.  The
 * DNS suffixes of the partitions (aws-cn, aws-us-gov, aws-iso*, aws-eusc)
 * are botocore's data/partitions.json's.
 *
 * service_id is the AWS service identifier ("Kinesis", "S3"); its
 * variable suffix is upper case with spaces as '_', its config key lower
 * case with spaces as '_', its host label lower case with spaces removed.
 * region may be NULL when a custom endpoint is configured.
 *
 * Returns 0 and fills *out (release with awsconf_endpoint_clear()), or -1
 * with a message in err: no region for a default endpoint, a malformed
 * region, or a custom URL that is not http(s)://host[...].
 */
int awsconf_endpoint(const struct awsconf *conf, const char *service_id,
    const char *explicit_url, const char *region,
    struct awsconf_endpoint *out, char *err, size_t errsz);

/*
 * FIPS endpoints: $AWS_USE_FIPS_ENDPOINT, else the profile's
 * use_fips_endpoint.  Dual-stack (IPv6) endpoints: for S3 the profile's
 * "s3 =\n use_dualstack_endpoint = true" first, then
 * $AWS_USE_DUALSTACK_ENDPOINT, else the profile's use_dualstack_endpoint.
 * 1 when the value is "true" (any case), else 0, as botocore reads them.
 */
int awsconf_use_fips(const struct awsconf *conf);
int awsconf_use_dualstack(const struct awsconf *conf, const char *service_id);

/* 1 when r is a well-formed region name (a DNS label of a-z 0-9 -). */
int awsconf_region_ok(const char *r);

/* Frees out->url and zeroes *out; accepts NULL and a zeroed struct. */
void awsconf_endpoint_clear(struct awsconf_endpoint *ep);

/* TLS settings for requests to AWS. */
struct awsconf_tls {
	const char *ca_bundle; /* borrowed; NULL: the system default */
	const char *ca_source; /* static: "explicit", "AWS_CA_BUNDLE",
	                        * "profile" or NULL */
	int verify;            /* 0 only with no_verify (--no-verify-ssl) */
};

/*
 * CA bundle: explicit (--ca-bundle) > $AWS_CA_BUNDLE > the profile's
 * ca_bundle.  Pointers are borrowed from explicit, the environment or conf.
 */
void awsconf_tls(const struct awsconf *conf, const char *explicit_ca,
    int no_verify, struct awsconf_tls *out);

#endif
