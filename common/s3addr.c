/*
 * s3addr.c - virtual-hosted or path-style S3 addressing.
 *
 * The rules are those of botocore's S3 endpoint rule set
 * (botocore/data/s3/2006-03-01/endpoint-rule-set-1.json: the functions
 * aws.isVirtualHostableS3Bucket and parseURL's isIp) and of
 * botocore/args.py (compute_endpoint_resolver_builtin_defaults: a custom
 * endpoint forces path style unless addressing_style is "virtual").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3addr.h"

int
s3addr_style_parse(const char *s, enum s3addr_style *out)
{
	static const char *const names[] = { "auto", "path", "virtual" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum s3addr_style)i;
			return 0;
		}
	}
	return -1;
}

/* s[0..n) is four dot-separated groups of 1 to 3 digits (botocore's
 * IPV4_RE). */
static int
ipv4_form(const char *s, size_t n)
{
	size_t i, digits = 0, dots = 0;

	for (i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			if (++digits > 3)
				return 0;
		} else if (s[i] == '.' && digits > 0 && dots < 3) {
			dots++;
			digits = 0;
		} else {
			return 0;
		}
	}
	return dots == 3 && digits > 0;
}

/* Every '.'-separated label of b is a host label: 1 to 63 of a-z 0-9 -,
 * not starting or ending with '-' (RFC 1123). */
static int
host_labels(const char *b)
{
	const char *p = b;

	for (;;) {
		size_t n = strcspn(p, ".");

		if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-' ||
		    strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

/* The host of a URL (without port) is an IP address. */
static int
host_is_ip(const char *url)
{
	const char *h = strstr(url, "://");
	size_t n;

	if (h == NULL)
		return 0;
	h += 3;
	if (*h == '[')
		return 1;
	n = strcspn(h, ":/");
	return ipv4_form(h, n);
}

int
s3addr_virtual(const char *bucket, const char *endpoint_url, int custom,
    enum s3addr_style style)
{
	size_t n = strlen(bucket);
	int https = strncasecmp(endpoint_url, "https://", 8) == 0;

	if (style == S3ADDR_PATH || (custom && style != S3ADDR_VIRTUAL))
		return 0;
	if (n < 3 || n > 63 || ipv4_form(bucket, n) || !host_labels(bucket))
		return 0;
	/* Dots make more labels than the certificate's wildcard covers. */
	if (https && strchr(bucket, '.') != NULL)
		return 0;
	return !host_is_ip(endpoint_url);
}

int
s3addr_url(const char *bucket, const char *endpoint_url, int vhost,
    char **url, char **bucket_path)
{
	const char *h = strstr(endpoint_url, "://");

	*url = *bucket_path = NULL;
	if (h == NULL)
		return -1;
	h += 3;
	if (vhost) {
		if (asprintf(url, "%.*s%s.%s", (int)(h - endpoint_url),
		    endpoint_url, bucket, h) < 0)
			*url = NULL;
		*bucket_path = strdup("");
	} else {
		*url = strdup(endpoint_url);
		if (asprintf(bucket_path, "/%s", bucket) < 0)
			*bucket_path = NULL;
	}
	if (*url == NULL || *bucket_path == NULL) {
		free(*url);
		free(*bucket_path);
		*url = *bucket_path = NULL;
		return -1;
	}
	return 0;
}
