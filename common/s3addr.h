/*
 * s3addr.h - S3 request addressing: virtual-hosted style
 * (https://BUCKET.s3.REGION.amazonaws.com/KEY) or path style
 * (https://s3.REGION.amazonaws.com/BUCKET/KEY), chosen as botocore
 * chooses (its S3 endpoint rule set, with the ForcePathStyle it derives
 * from the config's "s3 = addressing_style"):
 *
 *   path style     when asked (addressing_style = path, s3-put's
 *                  --path-style); on a custom endpoint unless
 *                  addressing_style = virtual; for a bucket name that is
 *                  not a DNS host name (an IPv4 address, a label starting
 *                  or ending with '-'), for a name with dots under https
 *                  (the certificate's *.s3... covers one label only), and
 *                  for a custom endpoint whose host is an IP address;
 *   virtual-hosted otherwise: the bucket is the first label of the host,
 *                  also in front of a custom endpoint's host:port when
 *                  addressing_style = virtual.
 *
 * Pure functions: nothing here reads the environment or prints.
 */
#ifndef KP_S3ADDR_H
#define KP_S3ADDR_H

#include <stddef.h>

enum s3addr_style {
	S3ADDR_AUTO,      /* the default: virtual where it can be */
	S3ADDR_PATH,
	S3ADDR_VIRTUAL,
};

/* "auto", "path" or "virtual" (any case) into *out.  Returns 0, or -1. */
int s3addr_style_parse(const char *s, enum s3addr_style *out);

/* 1 when a request for bucket (a valid name, s3_bucket_ok()) through
 * endpoint_url (custom: not AWS's own) goes virtual-hosted, else 0. */
int s3addr_virtual(const char *bucket, const char *endpoint_url, int custom,
    enum s3addr_style style);

/*
 * The endpoint URL a request for bucket goes to, and the path its own
 * path ("/KEY", URI-encoded) follows: for virtual-hosted style
 * "scheme://BUCKET.host[:port][/path]" and "", for path style the
 * endpoint URL itself and "/BUCKET".  Both new strings (free()).
 * Returns 0, or -1 when memory is short.
 */
int s3addr_url(const char *bucket, const char *endpoint_url, int vhost,
    char **url, char **bucket_path);

#endif
