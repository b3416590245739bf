/*
 * s3.h - Amazon S3 REST helpers: s3:// URIs, bucket names and object keys,
 * path-style request paths, and the few values the object API answers in
 * XML (UploadId, ETag, Code).
 *
 * Requests are addressed path-style, https://ENDPOINT/BUCKET/KEY, the one
 * form that the aws_client (one endpoint, one Host header) and every
 * S3-compatible server (s3rver, MinIO) accept.  Nothing here prints.
 */
#ifndef KP_S3_H
#define KP_S3_H

#include <stddef.h>

/* Longest object key S3 accepts, in bytes of UTF-8. */
#define S3_KEY_MAX 1024

struct s3_uri {
	char *bucket;
	char *prefix;   /* "" or ends with '/' */
};

/*
 * Parses "s3://BUCKET[/PREFIX]".  The prefix names a folder: a '/' is added
 * when it lacks one.  The bucket must be a valid name (s3_bucket_ok()) and
 * the prefix must pass s3_key_ok() without its trailing '/'.  Returns 0
 * and fills *u (release with s3_uri_clear()), or -1 with a reason in err.
 */
int s3_uri_parse(const char *s, struct s3_uri *u, char *err, size_t errsz);
void s3_uri_clear(struct s3_uri *u);

/* A bucket name by the general purpose bucket rules: 3 to 63 characters
 * of a-z 0-9 . -, starting and ending with a letter or digit, no "..". */
int s3_bucket_ok(const char *b);

/*
 * An object key kinpipe is willing to write: 1..S3_KEY_MAX bytes, no
 * control character, and '/'-separated segments that are neither empty
 * nor "." nor "..", so that the same key is also a safe relative path
 * below a local directory.  Returns 1, or 0 with *why set (static).
 */
int s3_key_ok(const char *key, size_t len, const char **why);

/* "/BUCKET/KEY" with the key URI-encoded once ('/' kept), as SigV4 signs
 * S3 paths.  Returns a new string (free()), or NULL on no memory. */
char *s3_object_path(const char *bucket, const char *key);

/*
 * The text of the first <tag>...</tag> in an XML body, with the five XML
 * entities and numeric character references decoded.  Returns 0, or -1
 * when the tag is absent or the value does not fit.
 */
int s3_xml_value(const char *body, const char *tag, char *out, size_t outsz);

#endif
