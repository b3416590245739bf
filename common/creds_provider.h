/*
 * creds_provider.h - the interface between the credentials chain
 * (creds.c) and its providers (creds_env.c, creds_file.c,
 * creds_process.c, creds_container.c, creds_imds.c), and the helpers they
 * share.  Private to libkinpipe: tools use creds.h.
 *
 * A provider is one function that looks at one source of credentials:
 *
 *   1  it found credentials: *out is filled (the caller owns it:
 *      creds_clear()); the chain sets out->source from the table
 *   0  the source is not configured: quiet, the chain goes on; the provider
 *      may say why in call->note (shown at the end of the "no AWS
 *      credentials found" error for providers with a note label)
 *  -1  the source is configured but fails: the chain stops; call->err
 *      holds the message, which never contains a secret, a session token
 *      or an authorization token
 *
 * A provider prints nothing but msg_debug() detail, and credential_process
 * writes its own stderr to ours.
 */
#ifndef KP_CREDS_PROVIDER_H
#define KP_CREDS_PROVIDER_H

#include <stddef.h>
#include <time.h>

#include "creds.h"

struct awsconf;
struct creds_aws;
struct http_client;
struct http_response;
struct json_object;

/* Bounds on what a provider may be sent: a credentials document is under
 * 4 KiB; anything much larger is not one. */
#define CREDS_MAX_DOC (64 * 1024)

/* What the chain hands a provider for one call.  All of it is borrowed
 * from the chain; the buffers are cleared before the call. */
struct creds_call {
	const struct awsconf *conf; /* the chain's profile */
	char *err;                  /* the message when the provider fails */
	size_t errsz;
	char *note;                 /* why it found nothing, if worth saying */
	size_t notesz;
	const struct creds_aws *aws; /* for the providers that call STS */
};

/* What the providers that call STS take from the tool (creds.h,
 * creds_chain_set_aws()); the chain's own profile and nothing else by
 * default. */
struct creds_aws {
	const struct awsconf *conf; /* the tool's profile: STS endpoint */
	const char *region;         /* --region; NULL: env, then profile */
	const char *ca_bundle;      /* --ca-bundle; NULL: env, then profile */
	int no_verify_ssl;
};

typedef int creds_provider_fn(struct creds_call *call, struct creds *out);

creds_provider_fn creds_provider_env;         /* creds_env.c */
creds_provider_fn creds_provider_sso;         /* creds_sso.c */
creds_provider_fn creds_provider_credentials; /* creds_file.c */
creds_provider_fn creds_provider_config;      /* creds_file.c */
creds_provider_fn creds_provider_process;     /* creds_process.c */
creds_provider_fn creds_provider_container;   /* creds_container.c */
creds_provider_fn creds_provider_imds;        /* creds_imds.c */
creds_provider_fn creds_provider_assume_role; /* creds_role.c */
creds_provider_fn creds_provider_web_identity; /* creds_web.c */

/* v, or NULL when v is NULL or "": an empty value counts as unset. */
static inline const char *
creds_nonempty(const char *v)
{
	return (v != NULL && *v != '\0') ? v : NULL;
}

/* ---- creds.c ---- */

/* Frees s after wiping it; accepts NULL.  For every string that held a
 * secret or a token. */
void creds_free_secret(char *s);

/* Fills *c with copies of borrowed strings (token may be NULL or "": no
 * token).  Returns 0, or -1 with "out of memory" in err. */
int creds_set(struct creds *c, const char *akid, const char *secret,
    const char *token, time_t expiration, char *err, size_t errsz);

/*
 * The file of a token (a new string in *tok, free with
 * creds_free_secret()), without a trailing line break, at most max bytes,
 * no NUL byte; what names it in messages.  Read anew at every call: the
 * platforms rotate these files.  Returns 0, or -1 with a message in err.
 * (creds_container.c)
 */
int creds_read_token_file(const char *what, const char *file, size_t max,
    char **tok, char *err, size_t errsz);

/* ---- creds_role.c: what the STS providers share ---- */

/*
 * The STS endpoint and TLS settings for call (sts.h; the tool's profile,
 * region and TLS options of call->aws).  Returns 0, or -1 with a message
 * in call->err.
 */
struct sts_target;
int creds_sts_target(const struct creds_call *call, struct sts_target *t);

/* A RoleSessionName when none is configured: "kinpipe-" and the time of
 * the process's first call in ms since the epoch (static). */
const char *creds_default_session_name(void);

/* ---- creds_json.c ---- */

/*
 * Credentials from the JSON document buf[0..len) (it need not be
 * NUL-terminated): AccessKeyId, SecretAccessKey, the token under
 * token_key ("SessionToken" for credential_process, "Token" for the
 * container and IMDS endpoints) and an optional Expiration.  With
 * version_required, "Version": 1 is mandatory (credential_process).  A
 * "Code" or "code" other than "Success" is an error.  what names the
 * source at the start of every message; messages name keys and error
 * codes, never values.  Returns 0 with *out filled, or -1 with a message
 * in err.
 */
int creds_from_json(const char *what, const char *buf, size_t len,
    const char *token_key, int version_required, struct creds *out,
    char *err, size_t errsz);

/* The whole of buf[0..len) (at most CREDS_MAX_DOC bytes) as one JSON
 * object: a new json_object (json_object_put() it), or NULL with a message
 * in err, "WHAT: NOUN is not valid JSON" and the like. */
struct json_object *creds_json_object(const char *what, const char *noun,
    const char *buf, size_t len, char *err, size_t errsz);

/* ---- creds_http.c: what the container and IMDS providers share ---- */

/* 1 when s can go into an HTTP header (no control character but tab). */
int creds_header_safe(const char *s);

/* A new "Name: value" string (free with creds_free_secret() when value is
 * a secret), or NULL on no memory. */
char *creds_header_line(const char *name, const char *value);

/*
 * A new HTTP client for a metadata endpoint: never through a proxy (they
 * are link-local or loopback), redirects not followed, bodies capped at
 * CREDS_MAX_DOC, the given timeouts.  NULL on failure.  Free with
 * http_client_free().
 */
struct http_client *creds_http_new(long connect_ms, long total_ms);

/*
 * One request without a body: method "GET" or "PUT", extra headers (a
 * NULL-terminated array of "Name: value" strings, may be NULL).  Returns
 * 0 when an answer came (any status, in *resp, body NUL-terminated, never
 * NULL), -1 with the transport error in err when none did.  *resp is
 * overwritten (clear an earlier answer first); either way release it with
 * creds_http_clear().
 */
int creds_http_do(struct http_client *http, const char *method,
    const char *url, const char *const *headers, struct http_response *resp,
    char *err, size_t errsz);

/* http_response_clear() after wiping the body: it may hold secrets. */
void creds_http_clear(struct http_response *resp);

#endif
