/*
 * creds_imds.c - the "imds" provider: the role credentials of an EC2
 * instance from its instance metadata service ("IMDS credential provider"
 * of the AWS SDKs and Tools reference guide; "Use the Instance Metadata
 * Service to access instance metadata" of the EC2 user guide for IMDSv2
 * session tokens).
 *
 * IMDSv2: PUT /latest/api/token, then GET the role name and its
 * credentials with the token.  IMDSv1 (no token) only when the token
 * request answers 403, 404 or 405 and neither AWS_EC2_METADATA_V1_DISABLED
 * nor the profile's ec2_metadata_v1_disabled is true.
 * AWS_EC2_METADATA_DISABLED=true skips IMDS without a request.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awsconf.h"
#include "creds_provider.h"
#include "http.h"
#include "msg.h"

/* IMDS is probed on every host without other credentials: an absent one
 * must cost little. */
#define IMDS_CONNECT_MS 1000L
#define IMDS_TOTAL_MS 2000L
#define IMDS_TOKEN_TTL "21600"

#define IMDS_V4_URL "http://169.254.169.254"
#define IMDS_V6_URL "http://[fd00:ec2::254]"
#define TOKEN_PATH "/latest/api/token"
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"

/* One IMDS conversation. */
struct imds {
	struct creds_call *call;
	struct http_client *http;
	char *base;                 /* the endpoint, no trailing '/' */
	char *tokhdr;               /* the session token header; NULL: v1 */
	char *role;
	struct http_response resp;  /* the last answer */
};

/* The endpoint as configured, or the default of the endpoint mode. */
static int
configured_endpoint(const struct awsconf *conf, const char **ep, char *err,
    size_t errsz)
{
	const char *mode;

	*ep = awsconf_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (*ep == NULL && conf != NULL)
		*ep = creds_nonempty(awsconf_get(conf,
		    "ec2_metadata_service_endpoint"));
	if (*ep != NULL)
		return 0;
	mode = awsconf_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	if (mode == NULL && conf != NULL)
		mode = creds_nonempty(awsconf_get(conf,
		    "ec2_metadata_service_endpoint_mode"));
	if (mode == NULL || strcasecmp(mode, "IPv4") == 0) {
		*ep = IMDS_V4_URL;
	} else if (strcasecmp(mode, "IPv6") == 0) {
		*ep = IMDS_V6_URL;
	} else {
		msg_seterr(err, errsz, "invalid EC2 metadata endpoint mode "
		    "\"%.20s\": expected IPv4 or IPv6", mode);
		return -1;
	}
	return 0;
}

int
creds_imds_endpoint(const struct awsconf *conf, char **url, char *err,
    size_t errsz)
{
	const char *ep;
	size_t n;
	int rc = -1;

	*url = NULL;
	if (awsconf_is_true(getenv("AWS_EC2_METADATA_DISABLED"))) {
		rc = 0;
		goto out;
	}
	if (configured_endpoint(conf, &ep, err, errsz) < 0)
		goto out;
	if (!creds_header_safe(ep) || strchr(ep, ' ') != NULL ||
	    (strncasecmp(ep, "http://", 7) != 0 &&
	    strncasecmp(ep, "https://", 8) != 0)) {
		msg_seterr(err, errsz, "invalid EC2 metadata service endpoint: "
		    "expected http://HOST[:PORT]");
		goto out;
	}
	n = strlen(ep);
	while (n > 0 && ep[n - 1] == '/')
		n--;
	*url = strndup(ep, n);
	if (*url == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/* An IAM role name: [\w+=,.@-]+ (IAM API reference, RoleName). */
static int
role_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("_+=,.@-", s[i]) == NULL)
			return 0;
	return 1;
}

/* Why IMDS gave nothing: a note for the chain's error, and -vv detail. */
static void
imds_none(struct imds *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
imds_none(struct imds *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->call->note, st->call->notesz, fmt, ap);
	va_end(ap);
	msg_debug("IMDS: %s", st->call->note);
}

/* base + path + leaf, and the request; 0 with an answer in st->resp. */
static int
imds_request(struct imds *st, const char *method, const char *path,
    const char *leaf, const char *const *headers, char *err, size_t errsz)
{
	size_t n = strlen(st->base) + strlen(path) + strlen(leaf) + 1;
	char *url = malloc(n);
	int rc = -1;

	creds_http_clear(&st->resp);
	if (url == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	snprintf(url, n, "%s%s%s", st->base, path, leaf);
	rc = creds_http_do(st->http, method, url, headers, &st->resp, err,
	    errsz);
out:
	free(url);
	return rc;
}

/*
 * The session token, into st->tokhdr.  Silence until the token request
 * gets an answer: no answer means "not on EC2".  Returns 1 to go on (with
 * a token, or without one for IMDSv1), 0 when IMDS gives nothing (the note
 * says why), -1 on an error.
 */
static int
imds_token(struct imds *st)
{
	/* The PUT has no body: no form Content-Type either ("Name:" drops
	 * the header libcurl would add). */
	const char *const headers[] = { "X-aws-ec2-metadata-token-ttl-seconds: "
	    IMDS_TOKEN_TTL, "Content-Type:", NULL };
	struct creds_call *call = st->call;
	const char *v1dis;
	char ferr[256];
	size_t n;

	if (imds_request(st, "PUT", TOKEN_PATH, "", headers, ferr,
	    sizeof(ferr)) < 0) {
		imds_none(st, "no answer from %.80s: %.140s", st->base, ferr);
		return 0;
	}
	if (st->resp.status == 200) {
		n = st->resp.body_len;
		while (n > 0 && isspace((unsigned char)st->resp.body[n - 1]))
			n--;
		st->resp.body[n] = '\0';
		if (n == 0 || !creds_header_safe(st->resp.body)) {
			msg_seterr(call->err, call->errsz, "EC2 metadata "
			    "service: malformed session token");
			return -1;
		}
		st->tokhdr = creds_header_line("X-aws-ec2-metadata-token",
		    st->resp.body);
		if (st->tokhdr == NULL) {
			msg_seterr(call->err, call->errsz, "out of memory");
			return -1;
		}
		return 1;
	}
	if (st->resp.status != 403 && st->resp.status != 404 &&
	    st->resp.status != 405) {
		imds_none(st, "token request answered HTTP %ld",
		    st->resp.status);
		return 0;
	}
	/* The SDKs fall back to IMDSv1 on these, unless told not to. */
	v1dis = awsconf_env("AWS_EC2_METADATA_V1_DISABLED");
	if (v1dis == NULL)
		v1dis = awsconf_get(call->conf, "ec2_metadata_v1_disabled");
	if (awsconf_is_true(v1dis)) {
		imds_none(st, "token request answered HTTP %ld and IMDSv1 is "
		    "disabled", st->resp.status);
		return 0;
	}
	msg_debug("IMDS: token request answered HTTP %ld, trying IMDSv1",
	    st->resp.status);
	return 1;
}

/* The instance profile's role, into st->role.  Returns 1, 0 when the
 * instance has none (quiet), -1 on an error. */
static int
imds_role(struct imds *st)
{
	const char *const headers[] = { st->tokhdr, NULL };
	struct creds_call *call = st->call;
	char ferr[256];
	size_t n;

	if (imds_request(st, "GET", CREDS_PATH, "", headers, ferr,
	    sizeof(ferr)) < 0) {
		msg_seterr(call->err, call->errsz, "EC2 metadata service: "
		    "listing roles: %s", ferr);
		return -1;
	}
	if (st->resp.status == 404) {
		imds_none(st, "the instance has no IAM role");
		return 0;
	}
	if (st->resp.status != 200) {
		msg_seterr(call->err, call->errsz, "EC2 metadata service: "
		    "listing roles answered HTTP %ld", st->resp.status);
		return -1;
	}
	/* One role per instance profile: the first line. */
	n = strcspn(st->resp.body, "\r\n");
	if (!role_valid(st->resp.body, n)) {
		msg_seterr(call->err, call->errsz, "EC2 metadata service: "
		    "malformed role name");
		return -1;
	}
	st->role = strndup(st->resp.body, n);
	if (st->role == NULL) {
		msg_seterr(call->err, call->errsz, "out of memory");
		return -1;
	}
	return 1;
}

/* The role's credentials.  Returns 1 with *out filled, or -1. */
static int
imds_role_creds(struct imds *st, struct creds *out)
{
	const char *const headers[] = { st->tokhdr, NULL };
	struct creds_call *call = st->call;
	char ferr[256];

	if (imds_request(st, "GET", CREDS_PATH, st->role, headers, ferr,
	    sizeof(ferr)) < 0) {
		msg_seterr(call->err, call->errsz, "EC2 metadata service: "
		    "credentials of role %s: %s", st->role, ferr);
		return -1;
	}
	if (st->resp.status != 200) {
		msg_seterr(call->err, call->errsz, "EC2 metadata service: "
		    "credentials of role %s answered HTTP %ld", st->role,
		    st->resp.status);
		return -1;
	}
	if (creds_from_json("EC2 metadata service", st->resp.body,
	    st->resp.body_len, "Token", 0, out, call->err, call->errsz) < 0)
		return -1;
	return 1;
}

/* Past the token request the instance exists and failures are errors,
 * except "no role attached". */
int
creds_provider_imds(struct creds_call *call, struct creds *out)
{
	struct imds st;
	int rc = -1;

	memset(&st, 0, sizeof(st));
	st.call = call;
	if (creds_imds_endpoint(call->conf, &st.base, call->err,
	    call->errsz) < 0)
		goto out;
	if (st.base == NULL) {
		imds_none(&st, "disabled by AWS_EC2_METADATA_DISABLED");
		rc = 0;
		goto out;
	}
	st.http = creds_http_new(IMDS_CONNECT_MS, IMDS_TOTAL_MS);
	if (st.http == NULL) {
		msg_seterr(call->err, call->errsz, "EC2 metadata service: "
		    "cannot initialise libcurl");
		goto out;
	}
	rc = imds_token(&st);
	if (rc == 1)
		rc = imds_role(&st);
	if (rc == 1)
		rc = imds_role_creds(&st, out);
out:
	creds_http_clear(&st.resp);
	http_client_free(st.http);
	free(st.base);
	free(st.role);
	creds_free_secret(st.tokhdr);
	return rc;
}
