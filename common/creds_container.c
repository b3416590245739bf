/*
 * creds_container.c - the "container" provider: the ECS container
 * credentials endpoint and EKS Pod Identity ("Container credential
 * provider" of the AWS SDKs and Tools reference guide).
 *
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is a path on the ECS agent,
 * http://169.254.170.2; else AWS_CONTAINER_CREDENTIALS_FULL_URI is any
 * https URL, or an http URL to a loopback, ECS or EKS Pod Identity
 * address.  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read on every call:
 * EKS rotates it) or AWS_CONTAINER_AUTHORIZATION_TOKEN is sent as the
 * Authorization header.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "awsconf.h"
#include "creds_provider.h"
#include "http.h"
#include "msg.h"

#define MAX_TOKEN_FILE (16 * 1024)
/* A configured container endpoint answers quickly, but gets more slack
 * than IMDS, which is probed on every host. */
#define CONTAINER_CONNECT_MS 2000L
#define CONTAINER_TOTAL_MS 5000L
#define CONTAINER_ATTEMPTS 2

#define ECS_HOST_URL "http://169.254.170.2"


/* Hosts an http:// FULL_URI may name: the loopback, the ECS agent and
 * EKS Pod Identity addresses (SDK reference, container provider). */
static int
container_host_allowed(const char *host)
{
	static const char *const allowed[] = { "localhost", "::1", "[::1]",
	    "169.254.170.2", "169.254.170.23", "fd00:ec2::23",
	    "[fd00:ec2::23]" };
	size_t i;
	int a, b, c, d;
	char extra;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcasecmp(host, allowed[i]) == 0)
			return 1;
	/* Any 127.0.0.0/8 address, written as a dotted quad. */
	if (sscanf(host, "%d.%d.%d.%d%c", &a, &b, &c, &d, &extra) == 4 &&
	    a == 127 && b >= 0 && b <= 255 && c >= 0 && c <= 255 && d >= 0 &&
	    d <= 255)
		return 1;
	return 0;
}

/* A FULL_URI must be https, or http to an allowed host.  libcurl's URL
 * parser decides what the host is, as it will when connecting. */
static int
check_full_uri(const char *uri, char *err, size_t errsz)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if (!creds_header_safe(uri) || strchr(uri, ' ') != NULL) {
		msg_seterr(err, errsz, "AWS_CONTAINER_CREDENTIALS_FULL_URI is "
		    "not a valid URL");
		goto out;
	}
	u = curl_url();
	if (u == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		msg_seterr(err, errsz, "AWS_CONTAINER_CREDENTIALS_FULL_URI is "
		    "not a valid URL");
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0 ||
	    (strcasecmp(scheme, "http") == 0 && container_host_allowed(host))) {
		rc = 0;
		goto out;
	}
	msg_seterr(err, errsz, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be "
	    "https, or http to a loopback address, 169.254.170.2, "
	    "169.254.170.23 or fd00:ec2::23 (host \"%.100s\" is not allowed)",
	    host);
out:
	curl_free(scheme);
	curl_free(host);
	if (u != NULL)
		curl_url_cleanup(u);
	return rc;
}

int
creds_container_url(char **url, char *err, size_t errsz)
{
	const char *rel = awsconf_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = awsconf_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	size_t n;
	int rc = -1;

	*url = NULL;
	if (rel != NULL) {
		if (!creds_header_safe(rel) || strchr(rel, ' ') != NULL) {
			msg_seterr(err, errsz, "AWS_CONTAINER_CREDENTIALS_"
			    "RELATIVE_URI is not a valid path");
			goto out;
		}
		n = strlen(ECS_HOST_URL) + 1 + strlen(rel) + 1;
		*url = malloc(n);
		if (*url == NULL)
			goto nomem;
		snprintf(*url, n, "%s%s%s", ECS_HOST_URL, rel[0] == '/' ? "" :
		    "/", rel);
	} else if (full != NULL) {
		if (check_full_uri(full, err, errsz) < 0)
			goto out;
		*url = strdup(full);
		if (*url == NULL)
			goto nomem;
	}
	rc = 0;
	goto out;
nomem:
	msg_seterr(err, errsz, "out of memory");
out:
	return rc;
}

int
creds_read_token_file(const char *what, const char *file, size_t max,
    char **tok, char *err, size_t errsz)
{
	FILE *fp = NULL;
	char *b = NULL;
	size_t n = 0;
	int rc = -1;

	*tok = NULL;
	fp = fopen(file, "r");
	if (fp == NULL) {
		msg_seterr(err, errsz, "cannot read %s %s: %s", what, file,
		    strerror(errno));
		goto out;
	}
	b = malloc(max + 1);
	if (b == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	n = fread(b, 1, max + 1, fp);
	if (ferror(fp) || n > max) {
		msg_seterr(err, errsz, "cannot read %s %s: %s", what, file,
		    ferror(fp) ? "read error" : "too large");
		goto out;
	}
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
		n--;
	b[n] = '\0';
	if (memchr(b, '\0', n) != NULL) {
		msg_seterr(err, errsz, "%s %s holds a NUL byte", what, file);
		goto out;
	}
	*tok = b;
	b = NULL;
	rc = 0;
out:
	if (fp != NULL)
		fclose(fp);
	if (b != NULL) {
		/* The whole buffer: the bytes after a NUL were read too. */
		OPENSSL_cleanse(b, max + 1);
		free(b);
	}
	return rc;
}

/* The Authorization value for the container endpoint: a new string in
 * *tok, or NULL when none is configured.  The file wins over the variable,
 * as in the SDKs; a trailing newline in the file is not part of it. */
static int
container_auth(char **tok, char *err, size_t errsz)
{
	const char *file, *var;
	char *b = NULL;
	int rc = -1;

	*tok = NULL;
	file = awsconf_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	var = awsconf_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	if (file != NULL) {
		if (creds_read_token_file("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		    file, MAX_TOKEN_FILE, &b, err, errsz) < 0)
			goto out;
	} else if (var != NULL) {
		b = strdup(var);
		if (b == NULL) {
			msg_seterr(err, errsz, "out of memory");
			goto out;
		}
	} else {
		rc = 0;
		goto out;
	}
	if (!creds_header_safe(b)) {
		msg_seterr(err, errsz, "the container authorization token "
		    "holds a line break or control character");
		goto out;
	}
	*tok = b;
	b = NULL;
	rc = 0;
out:
	creds_free_secret(b);
	return rc;
}

/* GETs url, once more on a transport error or a 5xx: the agent may be
 * busy.  Returns 0 with a 200 answer in *resp, else -1 with a message. */
static int
container_fetch(const char *what, const char *url, const char *const *headers,
    struct http_response *resp, char *err, size_t errsz)
{
	struct http_client *http = NULL;
	char ferr[256];
	int attempt, rc = -1;

	memset(resp, 0, sizeof(*resp));
	http = creds_http_new(CONTAINER_CONNECT_MS, CONTAINER_TOTAL_MS);
	if (http == NULL) {
		msg_seterr(err, errsz, "%s: cannot initialise libcurl", what);
		goto out;
	}
	for (attempt = 1; attempt <= CONTAINER_ATTEMPTS; attempt++) {
		creds_http_clear(resp);
		if (creds_http_do(http, "GET", url, headers, resp, ferr,
		    sizeof(ferr)) < 0) {
			msg_seterr(err, errsz, "%s: %s", what, ferr);
			continue;
		}
		if (resp->status >= 500) {
			msg_seterr(err, errsz, "%s answered HTTP %ld", what,
			    resp->status);
			continue;
		}
		break;
	}
	if (attempt > CONTAINER_ATTEMPTS)
		goto out;
	if (resp->status != 200) {
		msg_seterr(err, errsz, "%s answered HTTP %ld", what,
		    resp->status);
		goto out;
	}
	rc = 0;
out:
	http_client_free(http);
	return rc;
}

int
creds_provider_container(struct creds_call *call, struct creds *out)
{
	const char *what = awsconf_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
	    ? "container credentials endpoint "
	    "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
	    : "container credentials endpoint "
	    "(AWS_CONTAINER_CREDENTIALS_FULL_URI)";
	char *url = NULL, *tok = NULL, *authz = NULL;
	const char *headers[3] = { "Accept: application/json", NULL, NULL };
	struct http_response resp;
	int rc = -1;

	memset(&resp, 0, sizeof(resp));
	if (creds_container_url(&url, call->err, call->errsz) < 0)
		goto out;
	if (url == NULL) {
		rc = 0;
		goto out;
	}
	if (container_auth(&tok, call->err, call->errsz) < 0)
		goto out;
	if (tok != NULL) {
		authz = creds_header_line("Authorization", tok);
		if (authz == NULL) {
			msg_seterr(call->err, call->errsz, "out of memory");
			goto out;
		}
		headers[1] = authz;
	}
	if (container_fetch(what, url, headers, &resp, call->err,
	    call->errsz) < 0)
		goto out;
	if (creds_from_json(what, resp.body, resp.body_len, "Token", 0, out,
	    call->err, call->errsz) < 0)
		goto out;
	rc = 1;
out:
	creds_http_clear(&resp);
	free(url);
	creds_free_secret(tok);
	creds_free_secret(authz);
	return rc;
}
