/*
 * creds_role.c - the "assume-role" provider: a profile with role_arn and
 * source_profile or credential_source gets credentials from STS
 * AssumeRole, signed with the source credentials ("Assume role
 * credentials" of the AWS SDKs and Tools reference guide; botocore's
 * AssumeRoleProvider and CanonicalNameCredentialSourcer).
 *
 * A profile with web_identity_token_file is not this provider's
 * (creds_web.c).  Keys: role_arn, source_profile or credential_source
 * (Environment, Ec2InstanceMetadata, EcsContainer; both is an error),
 * external_id, role_session_name (default creds_default_session_name()),
 * duration_seconds; mfa_serial is an error, since kinpipe never prompts.
 *
 * A source profile with keys (aws_access_key_id or aws_secret_access_key)
 * or without role_arn gets its credentials from the providers of
 * profile_sources[] below, in botocore's order, the environment never
 * counting; else it assumes its own role first (chained profiles).  A
 * profile may name itself as its source only if it has keys; any other
 * return to a profile on the way is a cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awsconf.h"
#include "creds_provider.h"
#include "kptime.h"
#include "msg.h"
#include "sts.h"

/* Profiles in one chain of source_profile, at most. */
#define MAX_HOPS 16
#define NOTESZ 256

/*
 * Where a source profile's own credentials come from, in botocore's order
 * (ProfileProviderBuilder); the first that has some wins.
 */
static const struct source {
	const char *name;
	creds_provider_fn *fn;
} profile_sources[] = {
	{ "assume-role-with-web-identity", creds_provider_web_identity },
	{ "sso", creds_provider_sso },
	{ "shared-credentials-file", creds_provider_credentials },
	{ "credential-process", creds_provider_process },
	{ "config-file", creds_provider_config },
};

/* credential_source's values, botocore's canonical names (any case).  The
 * environment counts even under --profile: no profile is passed. */
static const struct named {
	const char *name;
	creds_provider_fn *fn;
	int with_profile;
} named_sources[] = {
	{ "Environment", creds_provider_env, 0 },
	{ "Ec2InstanceMetadata", creds_provider_imds, 1 },
	{ "EcsContainer", creds_provider_container, 1 },
};

/* One resolution: the profiles visited, the top call's buffers. */
struct walk {
	struct creds_call *call;
	const char *visited[MAX_HOPS];
	int nvisited;
};

static int assume(struct walk *w, const struct awsconf *conf,
    struct creds *out);

const char *
creds_default_session_name(void)
{
	static char name[40];

	if (name[0] == '\0')
		snprintf(name, sizeof(name), "kinpipe-%lld",
		    (long long)kptime_now_ms());
	return name;
}

int
creds_sts_target(const struct creds_call *call, struct sts_target *t)
{
	const struct creds_aws *a = call->aws;
	const struct awsconf *conf = a != NULL ? a->conf : call->conf;
	const char *region = awsconf_region(conf, a != NULL ? a->region :
	    NULL, NULL);

	if (sts_endpoint(conf, region, t, call->err, call->errsz) < 0)
		return -1;
	if (a != NULL && a->ca_bundle != NULL)
		t->ca_bundle = a->ca_bundle;
	if (a != NULL && a->no_verify_ssl)
		t->verify = 0;
	return 0;
}

static int
has_role(const struct awsconf *conf)
{
	return creds_nonempty(awsconf_get(conf, "role_arn")) != NULL &&
	    awsconf_get(conf, "web_identity_token_file") == NULL;
}

static int
has_keys(const struct awsconf *conf)
{
	return awsconf_get(conf, "aws_access_key_id") != NULL ||
	    awsconf_get(conf, "aws_secret_access_key") != NULL;
}

/* Runs one provider for conf (NULL: no profile) into out, with the top
 * call's buffers. */
static int
run_provider(struct walk *w, creds_provider_fn *fn,
    const struct awsconf *conf, struct creds *out)
{
	struct creds_call sub = *w->call;
	char note[NOTESZ];

	sub.conf = conf;
	sub.note = note;
	sub.notesz = sizeof(note);
	note[0] = '\0';
	return fn(&sub, out);
}

/* The credentials named by credential_source of profile conf. */
static int
from_named(struct walk *w, const struct awsconf *conf, const char *name,
    struct creds *out)
{
	struct creds_call *call = w->call;
	size_t i;
	int r;

	for (i = 0; i < sizeof(named_sources) / sizeof(named_sources[0]); i++)
		if (strcasecmp(name, named_sources[i].name) == 0)
			break;
	if (i == sizeof(named_sources) / sizeof(named_sources[0]))
		return msg_seterr(call->err, call->errsz, "credential_source "
		    "\"%.64s\" of profile \"%s\" is not valid: expected "
		    "Environment, Ec2InstanceMetadata or EcsContainer", name,
		    awsconf_profile(conf));
	r = run_provider(w, named_sources[i].fn, named_sources[i].with_profile ?
	    conf : NULL, out);
	if (r == 0)
		return msg_seterr(call->err, call->errsz, "no credentials "
		    "found in credential_source %s of profile \"%s\"",
		    named_sources[i].name, awsconf_profile(conf));
	return r < 0 ? -1 : 0;
}

/* A source profile's own credentials (profile_sources[]). */
static int
from_own(struct walk *w, const struct awsconf *src, struct creds *out)
{
	size_t i;
	int r;

	for (i = 0; i < sizeof(profile_sources) / sizeof(profile_sources[0]);
	    i++) {
		r = run_provider(w, profile_sources[i].fn, src, out);
		if (r < 0)
			return -1;
		if (r > 0) {
			msg_debug("credentials: source profile \"%s\": %s",
			    awsconf_profile(src), profile_sources[i].name);
			return 0;
		}
	}
	return msg_seterr(w->call->err, w->call->errsz, "the source profile "
	    "\"%s\" has no credentials", awsconf_profile(src));
}

/* "a -> b -> c" of the visited profiles into buf. */
static void
path_of(const struct walk *w, const char *last, char *buf, size_t bufsz)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < w->nvisited && n < bufsz; i++)
		n += (size_t)snprintf(buf + n, bufsz - n, "%s -> ",
		    w->visited[i]);
	if (n < bufsz)
		snprintf(buf + n, bufsz - n, "%s", last);
}

/* The credentials of source_profile name of profile conf. */
static int
from_profile(struct walk *w, const struct awsconf *conf, const char *name,
    struct creds *out)
{
	struct creds_call *call = w->call;
	struct awsconf *src = NULL;
	char err[AWSCONF_ERRSZ], path[256];
	int i, rc = -1;

	for (i = 0; i < w->nvisited; i++)
		if (strcmp(w->visited[i], name) == 0)
			break;
	if (awsconf_load(name, &src, err, sizeof(err)) < 0) {
		msg_seterr(call->err, call->errsz, "the source_profile \"%s\" "
		    "of profile \"%s\" cannot be used: %s", name,
		    awsconf_profile(conf), err);
		goto out;
	}
	/* A profile may take its own keys; any other return is a cycle. */
	if (i < w->nvisited && (strcmp(name, awsconf_profile(conf)) != 0 ||
	    !has_keys(src))) {
		path_of(w, name, path, sizeof(path));
		msg_seterr(call->err, call->errsz, "source_profile makes a "
		    "cycle: %s", path);
		goto out;
	}
	if (w->nvisited == MAX_HOPS) {
		msg_seterr(call->err, call->errsz, "more than %d profiles in a "
		    "chain of source_profile", MAX_HOPS);
		goto out;
	}
	w->visited[w->nvisited++] = awsconf_profile(src);
	if (has_keys(src) || !has_role(src))
		rc = from_own(w, src, out);
	else
		rc = assume(w, src, out);
	w->nvisited--;
out:
	awsconf_free(src);
	return rc;
}

/* duration_seconds: a whole number of seconds in STS's range. */
static int
duration_of(struct creds_call *call, const struct awsconf *conf, long *d)
{
	const char *v = creds_nonempty(awsconf_get(conf, "duration_seconds"));
	char *end;

	*d = 0;
	if (v == NULL)
		return 0;
	*d = strtol(v, &end, 10);
	if (*end != '\0' || *d < 900 || *d > 43200)
		return msg_seterr(call->err, call->errsz, "duration_seconds of "
		    "profile \"%s\" is not a number of seconds from 900 to "
		    "43200: \"%.32s\"",
		    awsconf_profile(conf), v);
	return 0;
}

/* The role of profile conf (which has role_arn), assumed. */
static int
assume(struct walk *w, const struct awsconf *conf, struct creds *out)
{
	struct creds_call *call = w->call;
	const char *prof = awsconf_profile(conf);
	const char *sp = creds_nonempty(awsconf_get(conf, "source_profile"));
	const char *cs = creds_nonempty(awsconf_get(conf, "credential_source"));
	struct sts_params p;
	struct sts_target t;
	struct creds src;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(&src, 0, sizeof(src));
	p.role_arn = awsconf_get(conf, "role_arn");
	p.external_id = creds_nonempty(awsconf_get(conf, "external_id"));
	p.session_name = creds_nonempty(awsconf_get(conf,
	    "role_session_name"));
	if (p.session_name == NULL)
		p.session_name = creds_default_session_name();
	if (sp != NULL && cs != NULL)
		return msg_seterr(call->err, call->errsz, "profile \"%s\" has "
		    "both source_profile and credential_source", prof);
	if (sp == NULL && cs == NULL)
		return msg_seterr(call->err, call->errsz, "profile \"%s\" has "
		    "role_arn but neither source_profile nor credential_source",
		    prof);
	if (creds_nonempty(awsconf_get(conf, "mfa_serial")) != NULL)
		return msg_seterr(call->err, call->errsz, "profile \"%s\" needs "
		    "an MFA code (mfa_serial), and kinpipe never prompts: use "
		    "credentials that need none, e.g. from aws sts "
		    "get-session-token in the environment", prof);
	if (duration_of(call, conf, &p.duration_seconds) < 0)
		return -1;
	rc = cs != NULL ? from_named(w, conf, cs, &src) :
	    from_profile(w, conf, sp, &src);
	if (rc == 0)
		rc = creds_sts_target(call, &t);
	if (rc == 0) {
		rc = sts_assume(&t, &p, &src, out, call->err, call->errsz);
		sts_target_clear(&t);
	}
	creds_clear(&src);
	if (rc == 0)
		msg_debug("credentials: profile \"%s\": assumed %s as %s", prof,
		    p.role_arn, p.session_name);
	return rc;
}

int
creds_provider_assume_role(struct creds_call *call, struct creds *out)
{
	struct walk w;

	if (call->conf == NULL || !has_role(call->conf))
		return 0;
	memset(&w, 0, sizeof(w));
	w.call = call;
	w.visited[w.nvisited++] = awsconf_profile(call->conf);
	return assume(&w, call->conf, out) < 0 ? -1 : 1;
}
