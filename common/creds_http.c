/*
 * creds_http.c - what the container and IMDS providers share: requests
 * to a metadata endpoint through http.h, and the checks on what goes into
 * their headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "creds_provider.h"
#include "http.h"
#include "msg.h"

#ifndef KP_VERSION
#define KP_VERSION "0"
#endif

int
creds_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 0;
	return 1;
}

char *
creds_header_line(const char *name, const char *value)
{
	size_t n = strlen(name) + 2 + strlen(value) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s: %s", name, value);
	return p;
}

struct http_client *
creds_http_new(long connect_ms, long total_ms)
{
	struct http_opts o;

	memset(&o, 0, sizeof(o));
	o.verify = 1; /* an https FULL_URI is verified, system CAs */
	o.connect_timeout_ms = connect_ms;
	o.timeout_ms = total_ms;
	o.no_proxy = 1;
	o.max_body = CREDS_MAX_DOC;
	return http_client_new(&o);
}

/* The most headers a provider sends, besides the User-Agent. */
#define MAX_HEADERS 4

int
creds_http_do(struct http_client *http, const char *method, const char *url,
    const char *const *headers, struct http_response *resp, char *err,
    size_t errsz)
{
	const char *h[MAX_HEADERS + 1] = { "User-Agent: kinpipe/" KP_VERSION };
	struct http_request req;
	size_t n = 1;
	int rc = -1;

	memset(&req, 0, sizeof(req));
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	for (; headers != NULL && *headers != NULL; headers++) {
		if (n == MAX_HEADERS + 1) {
			msg_seterr(err, errsz, "too many headers");
			goto out;
		}
		h[n++] = *headers;
	}
	req.method = method;
	req.url = url;
	req.headers = h;
	req.nheaders = n;
	if (http_do(http, &req, resp) < 0) {
		msg_seterr(err, errsz, "%s", resp->error);
		goto out;
	}
	/* An empty answer has no body buffer: give callers a string. */
	if (resp->body == NULL) {
		resp->body = calloc(1, 1);
		if (resp->body == NULL) {
			msg_seterr(err, errsz, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	return rc;
}

void
creds_http_clear(struct http_response *resp)
{
	if (resp->body != NULL)
		OPENSSL_cleanse(resp->body, resp->body_len);
	http_response_clear(resp);
}
