/*
 * sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256).
 *
 * Follows the four steps of the AWS General Reference, "Create a signed AWS
 * API request": canonical request, string to sign, signing key, signature.
 * Tested against the AWS Signature Version 4 test suite and the aws-c-auth
 * signing suite (tests/data/sigv4/, tests/c/sigv4_test.c).
 *
 * The signing time is always a parameter; nothing here reads the clock.
 * Nothing here prints a secret: the secret access key is only used to derive
 * the signing key and every copy of key material is wiped after use.
 *
 * Errors: functions return 0 on success and -1 on failure with errno set:
 * EINVAL (bad argument or malformed request part), ERANGE (output buffer
 * too small), ENOMEM, EIO (an OpenSSL call failed).  No message is printed.
 */
#ifndef KP_SIGV4_H
#define KP_SIGV4_H

#include <stddef.h>
#include <time.h>

/* Length of a hex SHA-256 digest, without the NUL. */
#define SIGV4_SHA256_HEX_LEN 64

/* x-amz-content-sha256 value for a payload that is not signed (S3). */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* Output size that always suffices for sigv4_uri_encode() of len bytes. */
#define SIGV4_URI_ENCODE_MAX(len) (3 * (len) + 1)

/* Flags of struct sigv4_request. */
enum {
	/*
	 * Remove dot segments and empty segments ("//") from the path before
	 * encoding it, as every service but S3 expects.  Ignored with SIGV4_S3.
	 */
	SIGV4_NORMALIZE_PATH = 1 << 0,
	/*
	 * Amazon S3 rules: the path is signed exactly as given (the caller
	 * encoded the key once with sigv4_uri_encode()); it is neither
	 * normalised nor encoded again.  Implies SIGV4_CONTENT_SHA256.
	 */
	SIGV4_S3 = 1 << 1,
	/* Add and sign an x-amz-content-sha256 header holding the payload hash. */
	SIGV4_CONTENT_SHA256 = 1 << 2,
	/*
	 * With a session token: add X-Amz-Security-Token after signing instead
	 * of signing it (a few services want that).  By default it is signed.
	 */
	SIGV4_TOKEN_UNSIGNED = 1 << 3,
};

/* One request header.  Neither string is owned by the struct. */
struct sigv4_header {
	const char *name;
	const char *value;
};

/* Credentials; the signer only reads them.  session_token NULL or "" if none. */
struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
};

/*
 * The request to sign.  The signer only reads it; every pointer stays the
 * caller's.
 *
 * path:    as it will be sent on the wire (already URI-encoded), never NULL;
 *          "" is signed as "/".  Without SIGV4_S3 it is (optionally
 *          normalised and) encoded once more, as SigV4 specifies for every
 *          service but S3.
 * query:   the raw query string without '?', NULL or "" when none.  Each
 *          name and value is percent-decoded and re-encoded, so encoded
 *          input is not encoded twice; '+' is a literal plus (send spaces as
 *          %20).  Malformed escapes are EINVAL.  Parameters are sorted.
 * headers: every header that will be sent and must be signed; "host" is
 *          required.  Names are matched case-insensitively; repeated names
 *          are joined with ',' in the order given.  Values are trimmed and
 *          runs of blanks (SP, HT, CR, LF: an obs-folded line counts as one
 *          blank) collapse to one space.  Must not contain the headers the
 *          signer adds: Authorization, X-Amz-Date, X-Amz-Security-Token
 *          (when the credentials have a token) and x-amz-content-sha256
 *          (with SIGV4_S3 / SIGV4_CONTENT_SHA256).
 * payload, payload_len: the body, hashed by the signer (NULL/0: empty), used
 *          only when payload_hash is NULL.
 * payload_hash: a precomputed lowercase hex SHA-256 of the body, or a
 *          literal such as SIGV4_UNSIGNED_PAYLOAD; at most 64 characters.
 */
struct sigv4_request {
	const char *method;
	const char *path;
	const char *query;
	const struct sigv4_header *headers;
	size_t nheaders;
	const void *payload;
	size_t payload_len;
	const char *payload_hash;
	const char *region;
	const char *service;
	time_t time;     /* signing time, seconds since the epoch */
	unsigned flags;  /* SIGV4_* */
};

/* At most four headers are added: date, token, content hash, authorization. */
#define SIGV4_MAX_ADDED 4

/*
 * The result of signing.  Every char * member is allocated and owned by the
 * struct; sigv4_signed_free() frees them all.  headers[] aliases those
 * strings (names are static), so the struct may be copied by value but must
 * be freed exactly once.
 *
 * canonical_request and string_to_sign are kept for tests and debugging;
 * they contain header values, including the session token, so do not log
 * them.  They never contain the secret access key.
 */
struct sigv4_signed {
	/* Headers the caller must add to the request, in this order:
	 * X-Amz-Date, X-Amz-Security-Token (token), x-amz-content-sha256
	 * (S3/CONTENT_SHA256), Authorization.  Empty after sigv4_presign(). */
	struct sigv4_header headers[SIGV4_MAX_ADDED];
	size_t nheaders;

	char *amz_date;          /* "20150830T123600Z" */
	char *security_token;    /* copy of the token, NULL without one */
	char *content_sha256;    /* payload hash as signed */
	char *authorization;     /* Authorization value; NULL after presign */
	char *query;             /* presign only: parameters to append to the
	                          * query ('&' first if it is not empty) */
	char signature[SIGV4_SHA256_HEX_LEN + 1];
	char *canonical_request;
	char *string_to_sign;
};

/*
 * Signs req for the Authorization header.  On success fills *out, which
 * the caller frees with sigv4_signed_free(); on failure *out holds nothing
 * to free.
 */
int sigv4_sign(const struct sigv4_request *req,
    const struct sigv4_credentials *cred, struct sigv4_signed *out);

/*
 * Presigned URL (query-string signing), expires in 1..604800 seconds.
 * out->query receives X-Amz-Algorithm, -Credential, -Date, -SignedHeaders,
 * -Expires, -Security-Token (if any; signed unless SIGV4_TOKEN_UNSIGNED) and
 * -Signature, encoded, to append to the request's query.  No header is
 * added; SIGV4_CONTENT_SHA256 is ignored (the payload hash, often
 * SIGV4_UNSIGNED_PAYLOAD for S3, is still signed).  Free with
 * sigv4_signed_free().
 */
int sigv4_presign(const struct sigv4_request *req,
    const struct sigv4_credentials *cred, unsigned long expires,
    struct sigv4_signed *out);

/* Frees the members of *s and zeroes it; s may be NULL.  Not s itself. */
void sigv4_signed_free(struct sigv4_signed *s);

/* len bytes as 2 * len lowercase hex digits and a NUL into out (the one
 * hex encoder of kinpipe: digests in signatures, ETags, spool names). */
void sigv4_hex(const unsigned char *in, size_t len, char *out);

/* Lowercase hex SHA-256 of len bytes at data (data may be NULL if len is 0)
 * into out, NUL-terminated. */
int sigv4_sha256_hex(const void *data, size_t len,
    char out[SIGV4_SHA256_HEX_LEN + 1]);

/*
 * SigV4 URI encoding (RFC 3986): A-Z a-z 0-9 - . _ ~ are kept, every other
 * byte becomes %XX with uppercase hex; '/' is kept unless encode_slash.
 * Input is taken as raw bytes and encoded once: to build an S3 path encode
 * the key with encode_slash 0.  Writes a NUL-terminated string to out;
 * ERANGE (out set to "") if outsize is too small, SIGV4_URI_ENCODE_MAX(len)
 * always suffices.
 */
int sigv4_uri_encode(const char *in, size_t len, int encode_slash,
    char *out, size_t outsize);

#endif
