/*
 * s3.h - the Amazon S3 object protocol, without the network: s3:// URIs,
 * bucket names and object keys; the requests of PutObject, HeadObject and
 * the multipart upload (CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload and its XML body, AbortMultipartUpload) with the
 * headers an object is created with; reading the answers (UploadId, ETag,
 * an <Error> inside a 200 answer, the one XML value reader of kinpipe); the
 * digests of a body (SHA-256 hex and base64, MD5) and the ETag S3 gives an
 * object, single or multipart, so that an object found in place can be
 * recognised as ours.
 *
 * A request names its bucket and the path below it ("/KEY"); the
 * aws_client addresses it virtual-hosted or path-style (s3addr.h) and
 * follows the bucket to its region (aws.h).  A built struct s3_request
 * is everything aws_start() needs besides signing: common/s3up.c sends
 * them.  Every header, query and body is built with buf.h, so no value is
 * ever cut short.  Nothing here prints.
 */
#ifndef KP_S3_H
#define KP_S3_H

#include <stddef.h>

#include "buf.h"
#include "crc32c.h"
#include "sigv4.h"

/* Longest object key S3 accepts, in bytes of UTF-8. */
#define S3_KEY_MAX 1024

/* Parts of one multipart upload, and the smallest part but the last. */
#define S3_MAX_PARTS 10000
#define S3_PART_MIN (5ULL * 1024 * 1024)

/* Longest ETag kept (a part's is 34 characters with its quotes). */
#define S3_ETAG_MAX 128

/* Lengths of the base64 forms of a SHA-256 and an MD5, without the NUL. */
#define S3_SHA256_B64_LEN 44
#define S3_MD5_B64_LEN 24

/* Headers one request may carry, at most (the signer takes 32). */
#define S3_MAX_HEADERS 32

/* User metadata of an object: at most S3_META_MAX entries (so that every
 * header fits in S3_MAX_HEADERS), names of at most S3_META_NAME_MAX bytes,
 * and S3's limit of 2 KB for the names and values together. */
#define S3_META_MAX 16
#define S3_META_NAME_MAX 116
#define S3_META_BYTES_MAX 2048

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

/* 1 when s holds a control character (0x00-0x1f, 0x7f): such a value is
 * never sent in a header. */
int s3_has_ctl(const char *s);

/* "/BUCKET/KEY" with the key URI-encoded once ('/' kept), as SigV4 signs
 * S3 paths.  Returns a new string (free()), or NULL on no memory. */
char *s3_object_path(const char *bucket, const char *key);

/* ---- digests ---- */

/* The integrity header sent with every body (x-amz-checksum-sha256,
 * Content-MD5, none, or x-amz-checksum-crc32c). */
enum s3_checksum { S3_CHECKSUM_SHA256, S3_CHECKSUM_MD5, S3_CHECKSUM_NONE,
	S3_CHECKSUM_CRC32C };

/* The digests of one body. */
struct s3_digest {
	unsigned char sha256[32];
	unsigned char md5[16];      /* only when has_md5 */
	int has_md5;
	char sha256_hex[SIGV4_SHA256_HEX_LEN + 1];  /* signs the payload */
	char sha256_b64[S3_SHA256_B64_LEN + 1];     /* x-amz-checksum-sha256 */
	char md5_b64[S3_MD5_B64_LEN + 1];           /* Content-MD5 */
	char crc32c_b64[CRC32C_B64_LEN + 1];        /* x-amz-checksum-crc32c,
	                                             * "" unless computed */
};

/*
 * Digests of data[0..len): SHA-256 always (SigV4 signs the payload hash),
 * MD5 too when want_md5 (Content-MD5, or an ETag to compare).  Returns 0,
 * or -1 when OpenSSL fails.
 */
int s3_digest(const void *data, size_t len, int want_md5, struct s3_digest *d);

/* Adds the CRC-32C of data[0..len) to a digest made by s3_digest(). */
void s3_digest_crc32c(const void *data, size_t len, struct s3_digest *d);

/* ---- requests ---- */

/* One entry of user metadata: x-amz-meta-NAME: VALUE. */
struct s3_meta {
	const char *name;
	const char *value;
};

/* What an object is created with, by PutObject or CreateMultipartUpload;
 * the strings are borrowed. */
struct s3_object_opts {
	const char *content_type;      /* NULL: none */
	const char *content_encoding;  /* NULL: none ("gzip") */
	const char *sse;               /* NULL, "AES256" or "aws:kms" */
	const char *sse_kms_key_id;    /* NULL: the account's default key */
	const char *storage_class;     /* NULL: STANDARD */
	enum s3_checksum checksum;     /* of every body, parts included */
	int if_none_match;             /* If-None-Match: * on PutObject and
	                                * CompleteMultipartUpload: never
	                                * replace an object */
	const char *acl;               /* x-amz-acl, a canned ACL, or NULL */
	const char *tagging;           /* x-amz-tagging, URL-encoded, or NULL */
	const struct s3_meta *metadata;  /* x-amz-meta-*: metadata[0..n) */
	size_t nmetadata;
	int bucket_key;                /* x-amz-server-side-encryption-bucket-
	                                * key-enabled: true (with aws:kms) */
	const char *expected_owner;    /* x-amz-expected-bucket-owner on every
	                                * request (s3_expect_owner()), or NULL */
};

/* One part of a multipart upload, as CompleteMultipartUpload lists it. */
struct s3_part {
	int number;                              /* 1..S3_MAX_PARTS */
	char etag[S3_ETAG_MAX];                  /* UploadPart's, quotes kept */
	char sha256_b64[S3_SHA256_B64_LEN + 1];  /* "" unless SHA-256 */
	char crc32c_b64[CRC32C_B64_LEN + 1];     /* "" unless CRC-32C */
};

/*
 * One request, built by one of the functions below and ready to be signed
 * and sent (aws.h: method, path, query, headers, body, payload_hash).  It
 * owns its path, query, headers and any body built here (the XML of
 * CompleteMultipartUpload); a body handed in (PutObject, UploadPart) and
 * the digest are borrowed and must outlive the request.  A zeroed struct
 * (S3_REQUEST_INIT) is empty; s3_request_clear() frees it and may be
 * called again before the next build.
 */
struct s3_request {
	const char *method;              /* static */
	const char *bucket;              /* borrowed from the builder's caller */
	char *path;                      /* "/KEY", the key encoded */
	struct buf query;                /* without '?'; empty: none */
	struct buf lines;                /* the header lines, NUL-separated */
	const char *headers[S3_MAX_HEADERS];  /* "Name: value", into lines */
	size_t nheaders;
	struct buf xml;                  /* a body built here */
	const void *body;
	size_t body_len;
	const char *payload_hash;        /* hex SHA-256 of the body, or NULL:
	                                  * the signer hashes it */
};

#define S3_REQUEST_INIT { NULL, NULL, NULL, BUF_INIT, BUF_INIT, { NULL }, 0, \
	BUF_INIT, NULL, 0, NULL }

void s3_request_clear(struct s3_request *rq);

/*
 * The builders.  Each clears rq first, and returns 0, or -1 with *why
 * (static text): out of memory, a header value with a control character,
 * an empty upload id, a part number outside 1..S3_MAX_PARTS.
 *
 * The bucket is borrowed: it must outlive the request.
 *
 * PUT /BUCKET/KEY with the object's headers, the body's checksum and
 * If-None-Match: * when o asks for it; d is the body's digest.
 */
int s3_put_object(struct s3_request *rq, const char *bucket, const char *key,
    const struct s3_object_opts *o, const void *body, size_t len,
    const struct s3_digest *d, const char **why);

/*
 * Adds x-amz-expected-bucket-owner: account to a request built by any of
 * these builders (S3 then answers 403 when another account owns the
 * bucket).  Returns 0, or -1 with *why.
 */
int s3_expect_owner(struct s3_request *rq, const char *account,
    const char **why);

/* HEAD /BUCKET/KEY: is there an object, and what is its ETag. */
int s3_head_object(struct s3_request *rq, const char *bucket,
    const char *key, const char **why);

/* POST /BUCKET/KEY?uploads with the object's headers (and
 * x-amz-checksum-algorithm: SHA256 or CRC32C when the parts carry one). */
int s3_create_multipart(struct s3_request *rq, const char *bucket,
    const char *key, const struct s3_object_opts *o, const char **why);

/* PUT /BUCKET/KEY?partNumber=N&uploadId=ID with the part's checksum. */
int s3_upload_part(struct s3_request *rq, const char *bucket, const char *key,
    const char *upload_id, int number, const void *body, size_t len,
    const struct s3_digest *d, enum s3_checksum ck, const char **why);

/*
 * POST /BUCKET/KEY?uploadId=ID with the <CompleteMultipartUpload> body
 * listing parts[0..n) in order (each with its ChecksumSHA256 or
 * ChecksumCRC32C when o's checksum is that and the part has one), and
 * If-None-Match: * when o asks for it.
 */
int s3_complete_multipart(struct s3_request *rq, const char *bucket,
    const char *key, const char *upload_id, const struct s3_part *parts,
    size_t n, const struct s3_object_opts *o, const char **why);

/* GET /BUCKET/?prefix=KEY&uploads: the multipart uploads in progress
 * whose keys begin with key (ListMultipartUploads). */
int s3_list_multipart(struct s3_request *rq, const char *bucket,
    const char *key, const char **why);

/* DELETE /BUCKET/KEY?uploadId=ID. */
int s3_abort_multipart(struct s3_request *rq, const char *bucket,
    const char *key, const char *upload_id, const char **why);

/* ---- answers ---- */

/*
 * Appends to out the text of the first <tag>...</tag> of an XML body, with
 * the five XML entities and numeric character references decoded.
 * Returns 0, or -1 when the tag is absent (out unchanged) or memory is
 * short.
 */
int s3_xml_value(const char *body, const char *tag, struct buf *out);

/* The same into out[0..outsz), made safe for a message (msg_clean():
 * credentials redacted, control characters escaped) and cut to fit; ""
 * when absent.  For what a server says (Code, Message). */
void s3_xml_copy(const char *body, const char *tag, char *out, size_t outsz);

/* The UploadId of a CreateMultipartUpload answer, into out (reset first).
 * Returns 0, or -1 when there is none or it is empty. */
int s3_upload_id(const char *body, struct buf *out);

/*
 * The UploadIds of a ListMultipartUploads answer whose Key is key exactly,
 * but for except (may be NULL): *ids a new array of *n new strings (free
 * each, then the array; NULL when none).  Returns 0, or -1 out of memory.
 */
int s3_uploads_of(const char *body, const char *key, const char *except,
    char ***ids, size_t *n);

/*
 * CompleteMultipartUpload may fail after its 200 status line: the body is
 * then an <Error>.  Returns 1 with its code and message (either may be
 * empty), or 0 when body is a result (or NULL).
 */
int s3_complete_error(const char *body, char *code, size_t codesz,
    char *msg, size_t msgsz);

/* The ETag of a completed upload: the <ETag> of the answer's body, else
 * the header's; without quotes. */
void s3_complete_etag(const char *body, const char *header_etag, char *out,
    size_t outsz);

/* An ETag without the quotes S3 puts around it (cut to outsz - 1). */
void s3_etag_plain(const char *in, char *out, size_t outsz);

/*
 * The MD5 an ETag holds when it is one: 32 hex digits, quotes optional.
 * A part's ETag is (unless the object is encrypted with SSE-KMS or
 * SSE-C).  Returns 0, or -1.
 */
int s3_etag_md5(const char *etag, unsigned char md5[16]);

/*
 * The ETag S3 gives an object whose parts have the MD5s md5s[0..n): the
 * hex MD5 of the body for a single PutObject (multipart 0, n 1), or the hex
 * MD5 of the concatenated part MD5s followed by "-n" for a multipart upload.
 * Into out (S3_ETAG_MAX bytes suffice).  Returns 0, or -1.
 */
int s3_object_etag(const unsigned char (*md5s)[16], size_t n, int multipart,
    char *out, size_t outsz);

#endif
