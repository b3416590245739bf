/*
 * creds.c - the AWS credentials provider chain: the order of the
 * providers, quiet probing, caching, refresh before expiration and
 * invalidation.  Each provider is in its own file behind the interface of
 * creds_provider.h.
 *
 * Follows the AWS SDKs and Tools reference guide: "Understand the
 * credential provider chain".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "awsconf.h"
#include "creds.h"
#include "creds_provider.h"
#include "msg.h"

#define ERRSZ 512
#define NOTESZ 256
/* After a failed refresh while the cached credentials are still valid,
 * wait this long before trying again. */
#define REFRESH_RETRY_SECONDS 30

/*
 * The chain, first match wins (creds.h).  A provider with a note label
 * says, at the end of the "no AWS credentials found" error, why it had
 * nothing: whether IMDS answered is what a user on EC2 needs to know.
 */
static const struct provider {
	const char *name;       /* creds.source */
	creds_provider_fn *fn;
	const char *note_label; /* NULL: its note is not shown */
} providers[] = {
	{ "env", creds_provider_env, NULL },
	{ "assume-role", creds_provider_assume_role, NULL },
	{ "assume-role-with-web-identity", creds_provider_web_identity, NULL },
	{ "sso", creds_provider_sso, NULL },
	{ "shared-credentials-file", creds_provider_credentials, NULL },
	{ "config-file", creds_provider_config, NULL },
	{ "credential-process", creds_provider_process, NULL },
	{ "container", creds_provider_container, NULL },
	{ "imds", creds_provider_imds, "instance metadata" },
};

#define NPROVIDERS (sizeof(providers) / sizeof(providers[0]))

struct creds_chain {
	const struct awsconf *conf;
	struct creds_aws aws;      /* for the providers that call STS */
	struct creds cached;
	int have;
	time_t retry_after;        /* no refresh attempt before this */
	unsigned long resolutions;
	char err[ERRSZ];
	char notes[NPROVIDERS][NOTESZ]; /* of the last resolution */
};

void
creds_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void
creds_clear(struct creds *c)
{
	if (c == NULL)
		return;
	free(c->access_key_id);
	creds_free_secret(c->secret_access_key);
	creds_free_secret(c->session_token);
	memset(c, 0, sizeof(*c));
}

int
creds_copy(struct creds *dst, const struct creds *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->access_key_id = strdup(src->access_key_id);
	dst->secret_access_key = strdup(src->secret_access_key);
	if (src->session_token != NULL)
		dst->session_token = strdup(src->session_token);
	dst->expiration = src->expiration;
	dst->source = src->source;
	if (dst->access_key_id == NULL || dst->secret_access_key == NULL ||
	    (src->session_token != NULL && dst->session_token == NULL)) {
		creds_clear(dst);
		return -1;
	}
	return 0;
}

int
creds_set(struct creds *c, const char *akid, const char *secret,
    const char *token, time_t expiration, char *err, size_t errsz)
{
	struct creds tmp;

	tmp.access_key_id = (char *)akid;
	tmp.secret_access_key = (char *)secret;
	tmp.session_token = (char *)creds_nonempty(token);
	tmp.expiration = expiration;
	tmp.source = NULL;
	if (creds_copy(c, &tmp) < 0) {
		msg_seterr(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* The error of a resolution where no provider had credentials, with the
 * notes of the providers that have a note label. */
static void
none_found(struct creds_chain *chain)
{
	size_t i, n;
	int w;

	w = snprintf(chain->err, sizeof(chain->err), "no AWS credentials "
	    "found for profile \"%s\": set AWS_ACCESS_KEY_ID and "
	    "AWS_SECRET_ACCESS_KEY, add keys or credential_process to the "
	    "profile, or run where a container or EC2 instance role provides "
	    "them", awsconf_profile(chain->conf));
	for (i = 0; i < NPROVIDERS; i++) {
		if (w < 0 || (size_t)w >= sizeof(chain->err))
			break; /* truncated: no room for more */
		if (providers[i].note_label == NULL)
			continue;
		n = (size_t)w;
		w = snprintf(chain->err + n, sizeof(chain->err) - n,
		    " (%s: %s)", providers[i].note_label,
		    chain->notes[i][0] != '\0' ? chain->notes[i] :
		    "not tried");
		if (w >= 0)
			w += (int)n;
	}
}

/* Refuses credentials that a provider handed out already expired. */
static int
check_expired(struct creds_chain *chain, time_t now, struct creds *c)
{
	char when[32];
	struct tm tm;

	if (c->expiration == 0 || c->expiration > now)
		return 0;
	if (gmtime_r(&c->expiration, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "(unknown)");
	snprintf(chain->err, sizeof(chain->err), "credentials from %s expired "
	    "at %s", c->source, when);
	return -1;
}

/* Walks the chain; the first provider that answers decides. */
static int
resolve(struct creds_chain *chain, time_t now, struct creds *out)
{
	struct creds_call call;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	chain->resolutions++;
	for (i = 0; i < NPROVIDERS; i++)
		chain->notes[i][0] = '\0';
	call.conf = chain->conf;
	call.aws = &chain->aws;
	call.err = chain->err;
	call.errsz = sizeof(chain->err);
	call.notesz = NOTESZ;
	for (i = 0; i < NPROVIDERS; i++) {
		call.note = chain->notes[i];
		chain->err[0] = '\0';
		r = providers[i].fn(&call, out);
		if (r < 0)
			return -1;
		if (r == 0) {
			msg_debug("credentials: %s: none", providers[i].name);
			continue;
		}
		out->source = providers[i].name;
		if (check_expired(chain, now, out) < 0) {
			creds_clear(out);
			return -1;
		}
		msg_secret(out->secret_access_key);
		msg_secret(out->session_token);
		msg_debug("credentials: using %s", out->source);
		return 0;
	}
	none_found(chain);
	return -1;
}

struct creds_chain *
creds_chain_new(const struct awsconf *conf)
{
	struct creds_chain *chain = calloc(1, sizeof(*chain));

	if (chain != NULL) {
		chain->conf = conf;
		chain->aws.conf = conf;
	}
	return chain;
}

void
creds_chain_set_aws(struct creds_chain *chain, const char *region,
    const char *ca_bundle, int no_verify_ssl)
{
	chain->aws.region = region;
	chain->aws.ca_bundle = ca_bundle;
	chain->aws.no_verify_ssl = no_verify_ssl;
}

void
creds_chain_free(struct creds_chain *chain)
{
	if (chain == NULL)
		return;
	creds_clear(&chain->cached);
	free(chain);
}

void
creds_invalidate(struct creds_chain *chain)
{
	creds_clear(&chain->cached);
	chain->have = 0;
	chain->retry_after = 0;
}

const char *
creds_chain_error(const struct creds_chain *chain)
{
	return chain->err;
}

unsigned long
creds_chain_resolutions(const struct creds_chain *chain)
{
	return chain->resolutions;
}

int
creds_get(struct creds_chain *chain, time_t now, struct creds *out)
{
	struct creds fresh;
	time_t exp = chain->cached.expiration;

	memset(out, 0, sizeof(*out));
	if (chain->have && (exp == 0 || exp > now + CREDS_REFRESH_WINDOW))
		goto copy;
	/* Backing off after a failed refresh, with credentials still good. */
	if (chain->have && now < chain->retry_after && exp > now)
		goto copy;
	chain->err[0] = '\0';
	if (resolve(chain, now, &fresh) == 0) {
		creds_clear(&chain->cached);
		chain->cached = fresh;
		chain->have = 1;
		chain->retry_after = 0;
		goto copy;
	}
	if (chain->have && chain->cached.expiration > now) {
		msg_warn("cannot refresh AWS credentials (%s); using the "
		    "cached ones until they expire", chain->err);
		chain->retry_after = now + REFRESH_RETRY_SECONDS;
		goto copy;
	}
	creds_clear(&chain->cached);
	chain->have = 0;
	return -1;
copy:
	if (creds_copy(out, &chain->cached) < 0) {
		snprintf(chain->err, sizeof(chain->err), "out of memory");
		return -1;
	}
	return 0;
}
