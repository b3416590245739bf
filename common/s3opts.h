/*
 * s3opts.h - the options of s3-put that describe the objects it creates
 * in S3 (the headers of PutObject and CreateMultipartUpload): parsed and
 * checked against S3's own rules before anything is sent, into a struct
 * s3_object_opts (s3.h).
 *
 *   --content-type TYPE           Content-Type
 *   --checksum sha256|md5|crc32c|none
 *   --sse AES256|aws:kms          x-amz-server-side-encryption
 *   --sse-kms-key-id KEY          ...-aws-kms-key-id (with aws:kms)
 *   --sse-bucket-key              ...-bucket-key-enabled: true (aws:kms)
 *   --storage-class CLASS         x-amz-storage-class
 *   --acl CANNED                  x-amz-acl, one of S3's canned ACLs
 *   --expected-bucket-owner ID    x-amz-expected-bucket-owner, 12 digits
 *   --tagging K=V&K=V             x-amz-tagging, URL-encoded
 *   --metadata NAME=VALUE         x-amz-meta-NAME (repeatable)
 *
 * None of them means anything for a local directory: s3opts_check()
 * makes them a usage error there.
 */
#ifndef KP_S3OPTS_H
#define KP_S3OPTS_H

#include <stddef.h>

#include "cli.h"
#include "s3.h"

/* Ids of these options in a tool's cli_option table. */
enum {
	S3OPT_CHECKSUM = CLI_ID + 0x80,
	S3OPT_CONTENT_TYPE,
	S3OPT_SSE,
	S3OPT_SSE_KMS,
	S3OPT_SSE_BUCKET_KEY,
	S3OPT_STORAGE_CLASS,
	S3OPT_ACL,
	S3OPT_OWNER,
	S3OPT_TAGGING,
	S3OPT_METADATA,
};

/* The table entries, for a tool's cli_option list. */
#define S3OPTS_TABLE \
	{ "checksum", 1, S3OPT_CHECKSUM }, \
	{ "content-type", 1, S3OPT_CONTENT_TYPE }, \
	{ "sse", 1, S3OPT_SSE }, \
	{ "sse-kms-key-id", 1, S3OPT_SSE_KMS }, \
	{ "sse-bucket-key", 0, S3OPT_SSE_BUCKET_KEY }, \
	{ "storage-class", 1, S3OPT_STORAGE_CLASS }, \
	{ "acl", 1, S3OPT_ACL }, \
	{ "expected-bucket-owner", 1, S3OPT_OWNER }, \
	{ "tagging", 1, S3OPT_TAGGING }, \
	{ "metadata", 1, S3OPT_METADATA }

/* Their --help lines. */
#define S3OPTS_HELP \
    "  --content-type TYPE      Content-Type (default application/x-ndjson)\n" \
    "  --checksum sha256|md5|crc32c|none\n" \
    "                           integrity header (default sha256)\n" \
    "  --sse AES256|aws:kms     server-side encryption\n" \
    "  --sse-kms-key-id KEY     KMS key for --sse aws:kms\n" \
    "  --sse-bucket-key         an S3 Bucket Key for --sse aws:kms\n" \
    "  --storage-class CLASS    S3 storage class (e.g. STANDARD_IA)\n" \
    "  --acl CANNED             canned ACL (e.g. bucket-owner-full-control)\n" \
    "  --expected-bucket-owner ACCOUNT\n" \
    "                           refuse a bucket of another account\n" \
    "  --tagging K=V&...        object tags, URL-encoded (at most 10)\n" \
    "  --metadata NAME=VALUE    user metadata x-amz-meta-NAME (repeatable)\n"

/* What the options hold besides obj.  Zeroed, then obj pointed at the
 * struct to fill (its defaults set). */
struct s3opts {
	struct s3_object_opts *obj;
	struct s3_meta meta[S3_META_MAX];
	/* The names and values of --metadata, NUL-terminated, back to back. */
	char text[S3_META_BYTES_MAX + 2 * S3_META_MAX];
	size_t used;
	const char *s3_only;   /* the first option given, as spelt, or NULL */
	char s3_only_buf[64];
};

/* One of the options above (id S3OPT_*): 0, or an exit status after a
 * usage error naming the option. */
int s3opts_option(struct cli *c, struct s3opts *x, int id, const char *arg);

/* After parsing: the options that need --sse aws:kms have it, and none
 * is given for a local directory (local).  0, or an exit status. */
int s3opts_check(const struct cli *c, const struct s3opts *x, int local);

/*
 * Checks a tag set in the URL-encoded form of x-amz-tagging, by S3's
 * rules: at most 10 tags, keys unique, 1 to 128 characters (not starting
 * with "aws:"), values up to 256, made of letters, digits, spaces and
 * + - = . _ : / @ once decoded.  Returns 1, or 0 with *why (static).
 */
int s3opts_tagging_ok(const char *s, const char **why);

/* A metadata name: 1 to S3_META_NAME_MAX characters of an HTTP header
 * name (RFC 9110 token). */
int s3opts_meta_name_ok(const char *s, size_t n);

#endif
