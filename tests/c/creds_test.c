/*
 * creds_test - prints, as one JSON line, what creds.h and awsconf.h
 * resolve from the environment and the shared files.  Secrets are shown
 * only as a SHA-256 and a length.
 *
 *   creds_test [-v] creds  [OPTIONS]           credentials of the chain
 *   creds_test [-v] config [OPTIONS]           region, endpoints, TLS
 *   creds_test [-v] get    [OPTIONS] STEP...   one creds_get per STEP:
 *       a number is the `now` to pass, "invalidate" calls creds_invalidate
 *   creds_test container-url                   creds_container_url()
 *   creds_test imds-endpoint [OPTIONS]         creds_imds_endpoint()
 *   creds_test parse-time TEXT                 creds_parse_time()
 *   creds_test sts-endpoint [OPTIONS]          sts_endpoint()
 *
 * OPTIONS: --profile NAME --region R --endpoint-url URL --ca-bundle FILE
 *          --no-verify-ssl --now EPOCH
 *
 * Exit: 0, 1 when credentials cannot be had, 2 on a configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "awsconf.h"
#include "creds.h"
#include "msg.h"
#include "sts.h"

#define USAGE "creds_test [-v] creds|config|get|container-url|" \
	"imds-endpoint|parse-time|sts-endpoint [--profile NAME] [--region R] " \
	"[--endpoint-url URL] [--ca-bundle FILE] [--no-verify-ssl] " \
	"[--now EPOCH] [ARG ...]"

struct opts {
	const char *profile, *region, *endpoint_url, *ca_bundle;
	int no_verify;
	time_t now;
	char **args;
	int nargs;
};

static int
parse_epoch(const char *s, time_t *t)
{
	char *end;
	long long v;

	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0')
		return -1;
	*t = (time_t)v;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->now = time(NULL);
	o->args = calloc((size_t)argc + 1, sizeof(char *));
	if (o->args == NULL)
		return -1;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		int has = i + 1 < argc;

		if (strcmp(a, "--no-verify-ssl") == 0) {
			o->no_verify = 1;
		} else if (strcmp(a, "--profile") == 0 && has) {
			o->profile = argv[++i];
		} else if (strcmp(a, "--region") == 0 && has) {
			o->region = argv[++i];
		} else if (strcmp(a, "--endpoint-url") == 0 && has) {
			o->endpoint_url = argv[++i];
		} else if (strcmp(a, "--ca-bundle") == 0 && has) {
			o->ca_bundle = argv[++i];
		} else if (strcmp(a, "--now") == 0 && has) {
			if (parse_epoch(argv[++i], &o->now) < 0)
				return -1;
		} else if (strncmp(a, "--", 2) == 0) {
			return -1;
		} else {
			o->args[o->nargs++] = argv[i];
		}
	}
	return 0;
}

/* Adds key: string or null; returns -1 on failure. */
static int
add_str(struct json_object *o, const char *key, const char *v)
{
	struct json_object *s = NULL;

	if (v != NULL) {
		s = json_object_new_string(v);
		if (s == NULL)
			return -1;
	}
	if (json_object_object_add(o, key, s) != 0) {
		json_object_put(s);
		return -1;
	}
	return 0;
}

static int
add_int(struct json_object *o, const char *key, long long v)
{
	struct json_object *n = json_object_new_int64(v);

	if (n == NULL || json_object_object_add(o, key, n) != 0) {
		json_object_put(n);
		return -1;
	}
	return 0;
}

static int
add_bool(struct json_object *o, const char *key, int v)
{
	struct json_object *b = json_object_new_boolean(v);

	if (b == NULL || json_object_object_add(o, key, b) != 0) {
		json_object_put(b);
		return -1;
	}
	return 0;
}

static int
sha256_hex(const char *s, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int
print_obj(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);

	if (s == NULL || printf("%s\n", s) < 0)
		return -1;
	return 0;
}

/* What a credentials set is, without its secrets. */
static int
creds_json(struct json_object *o, const struct creds *c)
{
	char hex[65];

	if (sha256_hex(c->secret_access_key, hex) < 0 ||
	    add_str(o, "source", c->source) < 0 ||
	    add_str(o, "access_key_id", c->access_key_id) < 0 ||
	    add_str(o, "secret_sha256", hex) < 0 ||
	    add_int(o, "secret_len", (long long)strlen(c->secret_access_key)) < 0 ||
	    add_bool(o, "token", c->session_token != NULL) < 0)
		return -1;
	if (c->session_token != NULL &&
	    (sha256_hex(c->session_token, hex) < 0 ||
	    add_str(o, "token_sha256", hex) < 0))
		return -1;
	return add_int(o, "expiration", (long long)c->expiration);
}

static int
cmd_creds(const struct opts *o, int get_steps)
{
	struct awsconf *conf = NULL;
	struct creds_chain *chain = NULL;
	struct json_object *out = NULL;
	struct creds c;
	char err[AWSCONF_ERRSZ];
	time_t now;
	int i, nsteps, rc = KP_EXIT_FAILURE;

	memset(&c, 0, sizeof(c));
	if (awsconf_load(o->profile, &conf, err, sizeof(err)) < 0) {
		msg_err("%s", err);
		rc = KP_EXIT_USAGE;
		goto out;
	}
	chain = creds_chain_new(conf);
	if (chain == NULL) {
		msg_err("out of memory");
		goto out;
	}
	nsteps = get_steps ? o->nargs : 1;
	for (i = 0; i < nsteps; i++) {
		now = o->now;
		if (get_steps && strcmp(o->args[i], "invalidate") == 0) {
			creds_invalidate(chain);
			continue;
		}
		if (get_steps && parse_epoch(o->args[i], &now) < 0) {
			rc = msg_usage(USAGE, "bad step '%s'", o->args[i]);
			goto out;
		}
		if (creds_get(chain, now, &c) < 0) {
			msg_err("%s", creds_chain_error(chain));
			goto out;
		}
		out = json_object_new_object();
		if (out == NULL || creds_json(out, &c) < 0 ||
		    add_str(out, "profile", awsconf_profile(conf)) < 0 ||
		    (get_steps && (add_int(out, "now", (long long)now) < 0 ||
		    add_int(out, "resolutions",
		    (long long)creds_chain_resolutions(chain)) < 0)) ||
		    print_obj(out) < 0) {
			msg_err("cannot write the result");
			goto out;
		}
		json_object_put(out);
		out = NULL;
		creds_clear(&c);
	}
	rc = KP_EXIT_OK;
out:
	json_object_put(out);
	creds_clear(&c);
	creds_chain_free(chain);
	awsconf_free(conf);
	return rc;
}

static int
add_endpoint(struct json_object *o, const struct awsconf *conf,
    const char *service, const char *key, const struct opts *opt,
    const char *region, char *err, size_t errsz)
{
	struct awsconf_endpoint ep;
	struct json_object *e = NULL;
	int rc = -1;

	if (awsconf_endpoint(conf, service, opt->endpoint_url, region, &ep, err,
	    errsz) < 0)
		return -2;
	e = json_object_new_object();
	if (e == NULL || add_str(e, "url", ep.url) < 0 ||
	    add_bool(e, "custom", ep.custom) < 0 ||
	    add_str(e, "source", ep.source) < 0)
		goto out;
	if (json_object_object_add(o, key, e) != 0)
		goto out;
	e = NULL;
	rc = 0;
out:
	json_object_put(e);
	awsconf_endpoint_clear(&ep);
	return rc;
}

static int
cmd_config(const struct opts *o)
{
	struct awsconf *conf = NULL;
	struct json_object *out = NULL;
	struct awsconf_tls tls;
	char err[AWSCONF_ERRSZ];
	const char *region, *rsrc;
	int r, rc = KP_EXIT_USAGE;

	if (awsconf_load(o->profile, &conf, err, sizeof(err)) < 0) {
		msg_err("%s", err);
		goto out;
	}
	if (awsconf_region_required(conf, o->region, &region, err,
	    sizeof(err)) < 0) {
		msg_err("%s", err);
		goto out;
	}
	(void)awsconf_region(conf, o->region, &rsrc);
	awsconf_tls(conf, o->ca_bundle, o->no_verify, &tls);
	out = json_object_new_object();
	if (out == NULL || add_str(out, "profile", awsconf_profile(conf)) < 0 ||
	    add_str(out, "region", region) < 0 ||
	    add_str(out, "region_source", rsrc) < 0)
		goto fail;
	r = add_endpoint(out, conf, "Kinesis", "kinesis", o, region, err,
	    sizeof(err));
	if (r == 0)
		r = add_endpoint(out, conf, "S3", "s3", o, region, err,
		    sizeof(err));
	if (r == -2) {
		msg_err("%s", err);
		goto out;
	}
	if (r < 0 || add_str(out, "ca_bundle", tls.ca_bundle) < 0 ||
	    add_str(out, "ca_source", tls.ca_source) < 0 ||
	    add_bool(out, "verify", tls.verify) < 0 ||
	    add_str(out, "s3_addressing_style",
	    awsconf_get_sub(conf, "s3", "addressing_style")) < 0 ||
	    print_obj(out) < 0)
		goto fail;
	rc = KP_EXIT_OK;
	goto out;
fail:
	msg_err("cannot write the result");
	rc = KP_EXIT_FAILURE;
out:
	json_object_put(out);
	awsconf_free(conf);
	return rc;
}

static int
cmd_url(const struct opts *o, int imds)
{
	struct awsconf *conf = NULL;
	struct json_object *out = NULL;
	char err[AWSCONF_ERRSZ], *url = NULL;
	int r, rc = KP_EXIT_USAGE;

	if (imds) {
		if (awsconf_load(o->profile, &conf, err, sizeof(err)) < 0) {
			msg_err("%s", err);
			goto out;
		}
		r = creds_imds_endpoint(conf, &url, err, sizeof(err));
	} else {
		r = creds_container_url(&url, err, sizeof(err));
	}
	if (r < 0) {
		msg_err("%s", err);
		goto out;
	}
	out = json_object_new_object();
	if (out == NULL || add_str(out, "url", url) < 0 || print_obj(out) < 0) {
		msg_err("cannot write the result");
		rc = KP_EXIT_FAILURE;
		goto out;
	}
	rc = KP_EXIT_OK;
out:
	free(url);
	json_object_put(out);
	awsconf_free(conf);
	return rc;
}

static int
cmd_sts_endpoint(const struct opts *o)
{
	struct awsconf *conf = NULL;
	struct json_object *out = NULL;
	struct sts_target t;
	char err[AWSCONF_ERRSZ];
	int rc = KP_EXIT_USAGE;

	memset(&t, 0, sizeof(t));
	if (awsconf_load(o->profile, &conf, err, sizeof(err)) < 0 ||
	    sts_endpoint(conf, awsconf_region(conf, o->region, NULL), &t, err,
	    sizeof(err)) < 0) {
		msg_err("%s", err);
		goto out;
	}
	out = json_object_new_object();
	if (out == NULL || add_str(out, "url", t.url) < 0 ||
	    add_str(out, "region", t.region) < 0 || print_obj(out) < 0) {
		msg_err("cannot write the result");
		rc = KP_EXIT_FAILURE;
		goto out;
	}
	rc = KP_EXIT_OK;
out:
	sts_target_clear(&t);
	json_object_put(out);
	awsconf_free(conf);
	return rc;
}

static int
cmd_parse_time(const struct opts *o)
{
	time_t t;

	if (o->nargs != 1)
		return msg_usage(USAGE, "parse-time takes one argument");
	if (creds_parse_time(o->args[0], &t) < 0) {
		msg_err("not an ISO 8601 time");
		return KP_EXIT_FAILURE;
	}
	if (printf("%lld\n", (long long)t) < 0)
		return KP_EXIT_FAILURE;
	return KP_EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct opts o;
	const char *cmd;
	int i = 1, rc;

	memset(&o, 0, sizeof(o));
	msg_init(argv[0]);
	while (i < argc && strcmp(argv[i], "-v") == 0) {
		msg_verbosity++;
		i++;
	}
	if (i >= argc)
		return msg_usage(USAGE, "missing command");
	cmd = argv[i++];
	if (parse_opts(argc - i, argv + i, &o) < 0) {
		free(o.args);
		return msg_usage(USAGE, "bad options");
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(o.args);
		msg_err("cannot initialise libcurl");
		return KP_EXIT_FAILURE;
	}
	if (strcmp(cmd, "creds") == 0)
		rc = cmd_creds(&o, 0);
	else if (strcmp(cmd, "get") == 0)
		rc = o.nargs > 0 ? cmd_creds(&o, 1) :
		    msg_usage(USAGE, "get needs steps");
	else if (strcmp(cmd, "config") == 0)
		rc = cmd_config(&o);
	else if (strcmp(cmd, "container-url") == 0)
		rc = cmd_url(&o, 0);
	else if (strcmp(cmd, "imds-endpoint") == 0)
		rc = cmd_url(&o, 1);
	else if (strcmp(cmd, "parse-time") == 0)
		rc = cmd_parse_time(&o);
	else if (strcmp(cmd, "sts-endpoint") == 0)
		rc = cmd_sts_endpoint(&o);
	else
		rc = msg_usage(USAGE, "unknown command '%s'", cmd);
	curl_global_cleanup();
	free(o.args);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		msg_err("stdout: write error");
		rc = KP_EXIT_FAILURE;
	}
	return rc;
}
