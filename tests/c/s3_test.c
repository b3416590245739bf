/*
 * s3_test - unit tests of the S3 object protocol (common/s3.c), no server:
 * s3:// URIs, bucket names and keys; the requests of PutObject, HeadObject,
 * CreateMultipartUpload, UploadPart, CompleteMultipartUpload (its XML body)
 * and AbortMultipartUpload, with every object header, including values
 * far longer than a fixed buffer would hold; the answers (UploadId, ETags,
 * an <Error> inside a 200 answer, the XML value reader that aws_error()
 * shares); digests and the single and multipart ETags.
 *
 *   s3_test [-v]
 *
 * Prints TAP (tap.h) and exits 0 when every check passed.  Inputs the
 * parsers read are heap copies of exactly their size, so that ASan or
 * valgrind catches a read past them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "buf.h"
#include "http.h"
#include "msg.h"
#include "s3.h"
#include "sigv4.h"
#include "tap.h"

/* A check of two strings, with both shown when they differ. */
static void
check_str(const char *got, const char *want, const char *what)
{
	int same = got != NULL && strcmp(got, want) == 0;

	if (!check(same, "%s", what)) {
		diag("got:  %s", got != NULL ? got : "(null)");
		diag("want: %s", want);
	}
}

/* A heap copy of s, exactly strlen(s) + 1 bytes. */
static char *
dup_exact(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		perror("strdup");
		exit(2);
	}
	return p;
}

/* n copies of c, NUL-terminated (free()). */
static char *
repeat(char c, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL) {
		perror("malloc");
		exit(2);
	}
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* The request's headers, "|"-joined, into out. */
static const char *
headers(const struct s3_request *rq, struct buf *out)
{
	size_t i;

	buf_reset(out);
	for (i = 0; i < rq->nheaders; i++) {
		if (i > 0)
			buf_char(out, '|');
		buf_str(out, rq->headers[i]);
	}
	return buf_cstr(out);
}

static const char *
query(struct s3_request *rq)
{
	return buf_cstr(&rq->query);
}

static void
test_uri_and_keys(void)
{
	struct s3_uri u;
	char err[256];
	const char *why = "";
	char *k, *p;

	section("URIs, bucket names, keys");
	k = dup_exact("s3://my-bucket/a/b");
	check(s3_uri_parse(k, &u, err, sizeof(err)) == 0 &&
	    strcmp(u.bucket, "my-bucket") == 0 && strcmp(u.prefix, "a/b/") == 0,
	    "s3://my-bucket/a/b: prefix gets its '/'");
	s3_uri_clear(&u);
	free(k);
	check(s3_uri_parse("s3://bucket", &u, err, sizeof(err)) == 0 &&
	    strcmp(u.prefix, "") == 0, "s3://bucket: empty prefix");
	s3_uri_clear(&u);
	check(s3_uri_parse("s3://B_x/p/", &u, err, sizeof(err)) == -1 &&
	    strcmp(err, "not a valid bucket name: 'B_x'") == 0,
	    "a bad bucket name is refused");
	check(s3_uri_parse("s3://bucket/a//b/", &u, err, sizeof(err)) == -1 &&
	    strstr(err, "empty path segment") != NULL,
	    "an empty prefix segment is refused");
	check(s3_uri_parse("http://x/", &u, err, sizeof(err)) == -1,
	    "not s3:// is refused");
	check(s3_bucket_ok("abc") && !s3_bucket_ok("ab") &&
	    !s3_bucket_ok("a..b") && !s3_bucket_ok("-ab") &&
	    !s3_bucket_ok("Abc"), "bucket name rules");
	check(s3_key_ok("a/b.json", 8, &why), "a plain key is fine");
	check(!s3_key_ok("", 0, &why) && strcmp(why, "empty key") == 0,
	    "an empty key is refused");
	check(!s3_key_ok("a/../b", 6, &why), "'..' segment refused");
	check(!s3_key_ok("a\nb", 3, &why), "control character refused");
	k = repeat('k', S3_KEY_MAX + 1);
	check(!s3_key_ok(k, S3_KEY_MAX + 1, &why) &&
	    s3_key_ok(k, S3_KEY_MAX, &why), "1024 bytes at most");
	free(k);
	p = s3_object_path("b", "pre fix+=~%é/x");
	check_str(p, "/b/pre%20fix%2B%3D~%25%C3%A9/x",
	    "object path: the key encoded once, '/' kept");
	free(p);
}

static void
test_digests(void)
{
	struct s3_digest d;
	char *abc = dup_exact("abc");
	unsigned char raw[3] = { 0xde, 0xad, 0x01 };
	char hx[7];

	section("digests");
	check(s3_digest(abc, 3, 1, &d) == 0, "digest of abc");
	check_str(d.sha256_hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "SHA-256 hex");
	check_str(d.sha256_b64, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
	    "SHA-256 base64");
	check_str(d.md5_b64, "kAFQmDzST7DWlj99KOF/cg==", "MD5 base64");
	check(d.has_md5, "MD5 wanted, MD5 there");
	check(s3_digest(NULL, 0, 0, &d) == 0 && !d.has_md5 &&
	    strcmp(d.sha256_hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b"
	    "934ca495991b7852b855") == 0, "empty body; no MD5 unless wanted");
	sigv4_hex(raw, 3, hx);
	check_str(hx, "dead01", "sigv4_hex: the one hex encoder");
	free(abc);
}

static const struct s3_object_opts plain = {
	"application/x-ndjson", NULL, NULL, NULL, NULL, S3_CHECKSUM_SHA256, 0,
	NULL, NULL, NULL, 0, 0, NULL
};

static void
test_put_head(void)
{
	struct s3_request rq = S3_REQUEST_INIT;
	struct s3_object_opts o = plain;
	struct buf h = BUF_INIT, want = BUF_INIT;
	struct s3_digest d;
	const char *why = "";
	char body[] = "{\"a\":1}\n";

	section("PutObject, HeadObject");
	s3_digest(body, strlen(body), 1, &d);
	check(s3_put_object(&rq, "b-k", "p/x y.json", &o, body, strlen(body),
	    &d, &why) == 0, "PutObject builds");
	check_str(rq.method, "PUT", "PutObject: method");
	check_str(rq.bucket, "b-k", "PutObject: bucket");
	check_str(rq.path, "/p/x%20y.json", "PutObject: path below it");
	check(rq.query.len == 0, "PutObject: no query");
	check(rq.body == body && rq.body_len == strlen(body) &&
	    rq.payload_hash == d.sha256_hex, "PutObject: body and payload hash");
	buf_printf(&want, "Content-Type: application/x-ndjson|"
	    "x-amz-checksum-sha256: %s", d.sha256_b64);
	check_str(headers(&rq, &h), buf_cstr(&want),
	    "PutObject: Content-Type and the SHA-256 checksum");
	o.content_encoding = "gzip";
	o.sse = "aws:kms";
	o.sse_kms_key_id = "alias/pipe";
	o.storage_class = "STANDARD_IA";
	o.checksum = S3_CHECKSUM_MD5;
	o.if_none_match = 1;
	check(s3_put_object(&rq, "b", "k", &o, body, strlen(body), &d,
	    &why) == 0, "PutObject with every option builds");
	buf_reset(&want);
	buf_printf(&want, "Content-Type: application/x-ndjson|"
	    "Content-Encoding: gzip|x-amz-server-side-encryption: aws:kms|"
	    "x-amz-server-side-encryption-aws-kms-key-id: alias/pipe|"
	    "x-amz-storage-class: STANDARD_IA|Content-MD5: %s|"
	    "If-None-Match: *", d.md5_b64);
	check_str(headers(&rq, &h), buf_cstr(&want),
	    "PutObject: every object header, Content-MD5, If-None-Match");
	d.has_md5 = 0;
	check(s3_put_object(&rq, "b", "k", &o, body, 8, &d, &why) == -1 &&
	    strcmp(why, "no MD5 for Content-MD5") == 0,
	    "Content-MD5 without an MD5 is an error, not an empty header");
	o = plain;
	o.checksum = S3_CHECKSUM_NONE;
	o.content_type = NULL;
	check(s3_put_object(&rq, "b", "k", &o, body, 8, &d, &why) == 0 &&
	    rq.nheaders == 0, "--checksum none and no type: no header");
	check(s3_head_object(&rq, "b", "a/k", &why) == 0 &&
	    strcmp(rq.method, "HEAD") == 0 && rq.nheaders == 0 &&
	    rq.body == NULL && strcmp(rq.bucket, "b") == 0 &&
	    strcmp(rq.path, "/a/k") == 0,
	    "HeadObject: HEAD, the bucket and path, nothing else");
	s3_request_clear(&rq);
	s3_request_clear(&rq);
	check(rq.path == NULL && rq.nheaders == 0, "clear twice is harmless");
	buf_free(&h);
	buf_free(&want);
}

/* The defect of the fixed 192-byte header buffers: a long value was cut
 * short without a word. */
static void
test_long_headers(void)
{
	struct s3_request rq = S3_REQUEST_INIT;
	struct s3_object_opts o = plain;
	struct s3_digest d;
	const char *why = "";
	char *type = repeat('t', 239), *kms = repeat('K', 2048);
	char *want;
	size_t i;

	section("long header values are sent whole");
	memcpy(type, "text/", 5);
	s3_digest("x", 1, 0, &d);
	o.content_type = type;
	o.sse = "aws:kms";
	o.sse_kms_key_id = kms;
	check(s3_put_object(&rq, "b", "k", &o, "x", 1, &d, &why) == 0,
	    "PutObject with a 239-character type and a 2048-character key id");
	want = malloc(strlen(type) + 16);
	snprintf(want, strlen(type) + 16, "Content-Type: %s", type);
	check(strlen(rq.headers[0]) == 14 + 239 &&
	    strcmp(rq.headers[0], want) == 0,
	    "Content-Type: all 239 characters (was cut to 177)");
	free(want);
	for (i = 0; i < rq.nheaders; i++)
		if (strncmp(rq.headers[i], "x-amz-server-side-encryption-aws-"
		    "kms-key-id: ", 45) == 0)
			break;
	check(i < rq.nheaders && strlen(rq.headers[i]) == 45 + 2048 &&
	    strcmp(rq.headers[i] + 45, kms) == 0,
	    "the KMS key id: all 2048 characters");
	check(s3_create_multipart(&rq, "b", "k", &o, &why) == 0 &&
	    strlen(rq.headers[0]) == 14 + 239,
	    "CreateMultipartUpload: the long type whole too");
	o.content_type = "text/plain\r\nX-Evil: 1";
	check(s3_put_object(&rq, "b", "k", &o, "x", 1, &d, &why) == -1 &&
	    strcmp(why, "control character in a header value") == 0,
	    "a value with CR LF is refused (no header injection)");
	s3_request_clear(&rq);
	free(type);
	free(kms);
}

static void
test_multipart(void)
{
	struct s3_request rq = S3_REQUEST_INIT;
	struct s3_object_opts o = plain;
	struct s3_part parts[2];
	struct s3_digest d;
	struct buf h = BUF_INIT;
	const char *why = "";

	section("multipart requests");
	o.storage_class = "GLACIER_IR";
	check(s3_create_multipart(&rq, "b", "m/k", &o, &why) == 0,
	    "CreateMultipartUpload builds");
	check(strcmp(rq.method, "POST") == 0 &&
	    strcmp(query(&rq), "uploads") == 0 && rq.body_len == 0,
	    "CreateMultipartUpload: POST ?uploads, no body");
	check_str(headers(&rq, &h), "Content-Type: application/x-ndjson|"
	    "x-amz-storage-class: GLACIER_IR|x-amz-checksum-algorithm: SHA256",
	    "CreateMultipartUpload: object headers and the checksum algorithm");
	o.checksum = S3_CHECKSUM_MD5;
	check(s3_create_multipart(&rq, "b", "m/k", &o, &why) == 0 &&
	    strstr(headers(&rq, &h), "checksum-algorithm") == NULL,
	    "no checksum algorithm unless SHA-256");
	o.checksum = S3_CHECKSUM_SHA256;

	s3_digest("part", 4, 1, &d);
	check(s3_upload_part(&rq, "b", "m/k", "up&1", 3, "part", 4, &d,
	    S3_CHECKSUM_SHA256, &why) == 0, "UploadPart builds");
	check_str(query(&rq), "partNumber=3&uploadId=up%261",
	    "UploadPart: part number and the upload id encoded");
	check(strcmp(rq.method, "PUT") == 0 && rq.body_len == 4 &&
	    rq.payload_hash == d.sha256_hex, "UploadPart: PUT, its body");
	{
		struct buf want = BUF_INIT;

		buf_printf(&want, "Content-Type: application/octet-stream|"
		    "x-amz-checksum-sha256: %s", d.sha256_b64);
		check_str(headers(&rq, &h), buf_cstr(&want),
		    "UploadPart: octet-stream and the part's checksum");
		buf_free(&want);
	}
	check(s3_upload_part(&rq, "b", "k", "id+/=&~% \xc3\xbc", 1, "p", 1,
	    &d, S3_CHECKSUM_NONE, &why) == 0 &&
	    strcmp(query(&rq), "partNumber=1&uploadId="
	    "id%2B%2F%3D%26~%25%20%C3%BC") == 0,
	    "an odd upload id is encoded once, '/' included");
	check(s3_upload_part(&rq, "b", "k", "id", 0, "p", 1, &d,
	    S3_CHECKSUM_NONE, &why) == -1, "part number 0 refused");
	check(s3_upload_part(&rq, "b", "k", "id", 10001, "p", 1, &d,
	    S3_CHECKSUM_NONE, &why) == -1, "part number 10001 refused");
	check(s3_upload_part(&rq, "b", "k", "", 1, "p", 1, &d,
	    S3_CHECKSUM_NONE, &why) == -1 && strcmp(why, "empty upload id") == 0,
	    "an empty upload id refused");

	memset(parts, 0, sizeof(parts));
	parts[0].number = 1;
	snprintf(parts[0].etag, sizeof(parts[0].etag), "\"e1\"");
	snprintf(parts[0].sha256_b64, sizeof(parts[0].sha256_b64), "S1=");
	parts[1].number = 2;
	snprintf(parts[1].etag, sizeof(parts[1].etag), "\"a&b<c>\"");
	snprintf(parts[1].sha256_b64, sizeof(parts[1].sha256_b64), "S2=");
	o.if_none_match = 1;
	check(s3_complete_multipart(&rq, "b", "m/k", "up&1", parts, 2, &o,
	    &why) == 0, "CompleteMultipartUpload builds");
	check(strcmp(rq.method, "POST") == 0 &&
	    strcmp(query(&rq), "uploadId=up%261") == 0,
	    "Complete: POST ?uploadId=");
	check_str(headers(&rq, &h), "Content-Type: application/xml|"
	    "If-None-Match: *", "Complete: XML, If-None-Match");
	{
		char *body = malloc(rq.body_len + 1);

		memcpy(body, rq.body, rq.body_len);
		body[rq.body_len] = '\0';
		check_str(body, "<CompleteMultipartUpload xmlns=\"http://s3."
		    "amazonaws.com/doc/2006-03-01/\"><Part><PartNumber>1"
		    "</PartNumber><ETag>\"e1\"</ETag><ChecksumSHA256>S1="
		    "</ChecksumSHA256></Part><Part><PartNumber>2</PartNumber>"
		    "<ETag>\"a&amp;b&lt;c&gt;\"</ETag><ChecksumSHA256>S2="
		    "</ChecksumSHA256></Part></CompleteMultipartUpload>",
		    "Complete: the body, ETags escaped, checksums listed");
		free(body);
	}
	check(rq.payload_hash == NULL,
	    "Complete: the signer hashes the body it was given");
	o.checksum = S3_CHECKSUM_MD5;
	o.if_none_match = 0;
	check(s3_complete_multipart(&rq, "b", "k", "u", parts, 1, &o,
	    &why) == 0 && memmem(rq.body, rq.body_len, "Checksum", 8) == NULL &&
	    rq.nheaders == 1, "Complete without SHA-256: no checksums");
	parts[1].number = 1;
	check(s3_complete_multipart(&rq, "b", "k", "u", parts, 2, &o,
	    &why) == -1, "Complete: part numbers must ascend");
	check(s3_complete_multipart(&rq, "b", "k", "u", parts, 0, &o,
	    &why) == -1, "Complete: no part, no request");
	check(s3_abort_multipart(&rq, "b", "m/k", "up&1", &why) == 0 &&
	    strcmp(rq.method, "DELETE") == 0 &&
	    strcmp(query(&rq), "uploadId=up%261") == 0 && rq.nheaders == 0 &&
	    rq.body == NULL, "AbortMultipartUpload: DELETE ?uploadId=");
	check(s3_abort_multipart(&rq, "b", "k", NULL, &why) == -1,
	    "Abort without an id refused");
	check(s3_list_multipart(&rq, "b", "m/k 1.json", &why) == 0 &&
	    strcmp(rq.method, "GET") == 0 && strcmp(rq.bucket, "b") == 0 &&
	    strcmp(rq.path, "/") == 0 &&
	    strcmp(query(&rq), "prefix=m%2Fk%201.json&uploads") == 0 &&
	    rq.nheaders == 0 && rq.body == NULL,
	    "ListMultipartUploads: GET b /?prefix=KEY&uploads");
	s3_request_clear(&rq);
	buf_free(&h);
}

static void
test_answers(void)
{
	struct buf b = BUF_INIT;
	char code[64], msg[64], etag[S3_ETAG_MAX], small[5];
	char *body;

	section("answers");
	body = dup_exact("<R><UploadId>up&amp;1</UploadId></R>");
	check(s3_upload_id(body, &b) == 0 && strcmp(buf_cstr(&b), "up&1") == 0,
	    "UploadId, entity decoded");
	free(body);
	check(s3_upload_id("<R><UploadId></UploadId></R>", &b) == -1,
	    "an empty UploadId is none");
	check(s3_upload_id("<R></R>", &b) == -1, "no UploadId");
	check(s3_upload_id(NULL, &b) == -1, "no body");
	{
		char **ids;
		size_t n;

		body = dup_exact("<ListMultipartUploadsResult><Bucket>b</Bucket>"
		    "<Upload><Key>k</Key><UploadId>u1</UploadId></Upload>"
		    "<Upload><Key>k.gz</Key><UploadId>u2</UploadId></Upload>"
		    "<Upload><Key>k</Key><UploadId>mine</UploadId></Upload>"
		    "<Upload><Key>k</Key><UploadId>u&amp;3</UploadId></Upload>"
		    "<Upload><Key>k</Key></Upload>"
		    "</ListMultipartUploadsResult>");
		check(s3_uploads_of(body, "k", "mine", &ids, &n) == 0 &&
		    n == 2 && strcmp(ids[0], "u1") == 0 &&
		    strcmp(ids[1], "u&3") == 0,
		    "ListMultipartUploads: the key's uploads, but for ours "
		    "and other keys with its prefix");
		while (n > 0)
			free(ids[--n]);
		free(ids);
		free(body);
		check(s3_uploads_of("<ListBucketResult><Contents><Key>k</Key>"
		    "</Contents></ListBucketResult>", "k", NULL, &ids, &n) == 0 &&
		    n == 0 && ids == NULL,
		    "a listing of objects (s3rver) holds no upload");
	}
	buf_reset(&b);
	body = dup_exact("<a>&lt;&gt;&quot;&apos;&#65;&#x42;&#x1F600;&bogus;"
	    "</a>");
	check(s3_xml_value(body, "a", &b) == 0 &&
	    strcmp(buf_cstr(&b), "<>\"'AB\xf0\x9f\x98\x80&bogus;") == 0,
	    "the five entities, numeric references; others kept");
	free(body);
	buf_reset(&b);
	check(s3_xml_value("<UploadIdX>no</UploadIdX><UploadId>yes</UploadId>",
	    "UploadId", &b) == 0 && strcmp(buf_cstr(&b), "yes") == 0,
	    "a longer tag name is not the tag");
	buf_reset(&b);
	check(s3_xml_value("<a>open only", "a", &b) == -1 && b.len == 0,
	    "no closing tag: absent");
	buf_free(&b);

	body = dup_exact("<?xml version=\"1.0\"?>\n<Error><Code>InternalError"
	    "</Code><Message>We encountered an internal error &amp; more"
	    "</Message></Error>");
	check(s3_complete_error(body, code, sizeof(code), msg,
	    sizeof(msg)) == 1 && strcmp(code, "InternalError") == 0 &&
	    strcmp(msg, "We encountered an internal error & more") == 0,
	    "an <Error> in a 200 Complete answer");
	check(s3_complete_error(body, code, sizeof(code), small,
	    sizeof(small)) == 1 && strcmp(small, "We e") == 0,
	    "its message cut to the caller's buffer");
	free(body);
	check(s3_complete_error("<CompleteMultipartUploadResult><ETag>x"
	    "</ETag></CompleteMultipartUploadResult>", code, sizeof(code), msg,
	    sizeof(msg)) == 0, "a result is no error");
	check(s3_complete_error(NULL, code, sizeof(code), msg,
	    sizeof(msg)) == 0 && code[0] == '\0', "no body, no error");
	s3_complete_etag("<R><ETag>&quot;mpu-etag-2&quot;</ETag></R>", "\"h\"",
	    etag, sizeof(etag));
	check_str(etag, "mpu-etag-2", "Complete's ETag from the body");
	s3_complete_etag("<R></R>", "\"hdr\"", etag, sizeof(etag));
	check_str(etag, "hdr", "else from the header");
	s3_etag_plain("\"abc\"", etag, sizeof(etag));
	check_str(etag, "abc", "ETag quotes stripped");
	s3_etag_plain("abc", etag, sizeof(etag));
	check_str(etag, "abc", "an ETag without quotes kept");
	s3_etag_plain("\"", etag, sizeof(etag));
	check_str(etag, "\"", "a lone quote kept");
	s3_etag_plain("\"abcdefgh\"", small, sizeof(small));
	check_str(small, "abcd", "cut to the buffer");
}

static void
test_etags(void)
{
	unsigned char md5s[2][16], one[16];
	char out[S3_ETAG_MAX], tiny[40];

	section("ETags");
	check(s3_etag_md5("\"5d41402abc4b2a76b9719d911017c592\"", md5s[0]) == 0,
	    "a quoted part ETag is an MD5");
	check(s3_etag_md5("7d793037a0760186574b0282f2f435e7", md5s[1]) == 0,
	    "an unquoted one too");
	check(s3_object_etag(md5s, 2, 1, out, sizeof(out)) == 0,
	    "multipart ETag computed");
	check_str(out, "065947336a2f2a95ba8899f3675c3be6-2",
	    "multipart ETag: MD5 of the parts' MD5s, -2");
	check(s3_object_etag(md5s, 1, 0, out, sizeof(out)) == 0, "single ETag");
	check_str(out, "5d41402abc4b2a76b9719d911017c592",
	    "single PUT: the body's MD5");
	check(s3_object_etag(md5s, 1, 1, out, sizeof(out)) == 0 &&
	    strcmp(out + 32, "-1") == 0 &&
	    strncmp(out, "5d41402abc4b2a76b9719d911017c592", 32) != 0,
	    "one part uploaded as multipart: another ETag, -1");
	check(s3_object_etag(md5s, 2, 0, out, sizeof(out)) == -1,
	    "two MD5s are no single PUT");
	check(s3_object_etag(md5s, 0, 1, out, sizeof(out)) == -1, "no parts");
	check(s3_object_etag(md5s, 2, 1, tiny, 34) == -1,
	    "a buffer too small for -N");
	check(s3_etag_md5("065947336a2f2a95ba8899f3675c3be6-2", one) == -1,
	    "a multipart ETag is no MD5");
	check(s3_etag_md5("\"5d41402abc4b2a76b9719d911017c59g\"", one) == -1,
	    "not hex");
	check(s3_etag_md5("\"5d41402abc\"", one) == -1, "too short");
}

/* aws_error() reads XML errors with the same reader. */
static void
test_aws_error(void)
{
	struct http_response r;
	char code[32], msg[16];

	section("aws_error over XML");
	memset(&r, 0, sizeof(r));
	r.status = 404;
	r.body = dup_exact("<Error><Code>NoSuchUpload</Code><Message>a &amp; "
	    "b is gone for good</Message></Error>");
	r.body_len = strlen(r.body);
	aws_error(&r, code, sizeof(code), msg, sizeof(msg));
	check_str(code, "NoSuchUpload", "aws_error: the XML Code");
	check_str(msg, "a & b is gone f", "aws_error: the Message, decoded, cut");
	free(r.body);
	/* A secret where the buffer cuts: redacted before the cut. */
	msg_secret("SECRETSECRETSECRETSECRET");
	r.body = dup_exact("<Error><Code>Bad\x1b[2J</Code><Message>ab "
	    "SECRETSECRETSECRETSECRET</Message></Error>");
	r.body_len = strlen(r.body);
	aws_error(&r, code, sizeof(code), msg, sizeof(msg));
	check_str(code, "Bad\\x1b[2J", "aws_error: the XML Code made safe");
	check_str(msg, "ab [redacted]", "aws_error: a secret the cut would "
	    "halve redacted whole");
	free(r.body);
	r.body = dup_exact("{\"__type\":\"x#Bad\\n\",\"message\":\"ab "
	    "SECRETSECRETSECRETSECRET\"}");
	r.body_len = strlen(r.body);
	aws_error(&r, code, sizeof(code), msg, sizeof(msg));
	check(strcmp(code, "Bad\\n") == 0 && strcmp(msg, "ab [redacted]") == 0,
	    "aws_error: the same over JSON");
	free(r.body);
}

/* --acl, --tagging, --metadata, --sse-bucket-key, --checksum crc32c and
 * --expected-bucket-owner: on the requests S3 documents them for. */
static void
test_object_options(void)
{
	static const struct s3_meta meta[] = { { "source", "kin-read" },
	    { "Run-Id", "a b" } };
	struct s3_request rq = S3_REQUEST_INIT;
	struct s3_object_opts o = plain;
	struct buf h = BUF_INIT, want = BUF_INIT;
	struct s3_part parts[2];
	struct s3_digest d;
	const char *why = "";
	char body[] = "123456789";

	section("ACL, tags, metadata, bucket key, CRC-32C, bucket owner");
	s3_digest(body, 9, 0, &d);
	o.checksum = S3_CHECKSUM_CRC32C;
	check(s3_put_object(&rq, "b", "k", &o, body, 9, &d, &why) == -1 &&
	    strcmp(why, "no CRC-32C for x-amz-checksum-crc32c") == 0,
	    "x-amz-checksum-crc32c without a CRC is an error");
	s3_digest_crc32c(body, 9, &d);
	check_str(d.crc32c_b64, "4waSgw==", "the CRC-32C of 123456789, "
	    "big-endian base64");
	o.acl = "bucket-owner-full-control";
	o.tagging = "team=data&env=prod";
	o.metadata = meta;
	o.nmetadata = 2;
	o.sse = "aws:kms";
	o.bucket_key = 1;
	check(s3_put_object(&rq, "b", "k", &o, body, 9, &d, &why) == 0,
	    "PutObject with the object options builds");
	check_str(headers(&rq, &h), "Content-Type: application/x-ndjson|"
	    "x-amz-server-side-encryption: aws:kms|"
	    "x-amz-server-side-encryption-bucket-key-enabled: true|"
	    "x-amz-acl: bucket-owner-full-control|"
	    "x-amz-tagging: team=data&env=prod|x-amz-meta-source: kin-read|"
	    "x-amz-meta-Run-Id: a b|x-amz-sdk-checksum-algorithm: CRC32C|"
	    "x-amz-checksum-crc32c: 4waSgw==",
	    "PutObject: ACL, tagging, metadata, bucket key, CRC-32C");
	check(s3_create_multipart(&rq, "b", "k", &o, &why) == 0 &&
	    s3_expect_owner(&rq, "111122223333", &why) == 0,
	    "CreateMultipartUpload with the object options builds");
	check_str(headers(&rq, &h), "Content-Type: application/x-ndjson|"
	    "x-amz-server-side-encryption: aws:kms|"
	    "x-amz-server-side-encryption-bucket-key-enabled: true|"
	    "x-amz-acl: bucket-owner-full-control|"
	    "x-amz-tagging: team=data&env=prod|x-amz-meta-source: kin-read|"
	    "x-amz-meta-Run-Id: a b|x-amz-checksum-algorithm: CRC32C|"
	    "x-amz-expected-bucket-owner: 111122223333",
	    "CreateMultipartUpload: the same, the algorithm, the owner");
	check(s3_upload_part(&rq, "b", "k", "u", 2, body, 9, &d,
	    S3_CHECKSUM_CRC32C, &why) == 0 &&
	    s3_expect_owner(&rq, "111122223333", &why) == 0,
	    "UploadPart with CRC-32C builds");
	check_str(headers(&rq, &h), "Content-Type: application/octet-stream|"
	    "x-amz-sdk-checksum-algorithm: CRC32C|"
	    "x-amz-checksum-crc32c: 4waSgw==|"
	    "x-amz-expected-bucket-owner: 111122223333",
	    "UploadPart: the part's CRC-32C and the owner, no object header");
	memset(parts, 0, sizeof(parts));
	parts[0].number = 1;
	snprintf(parts[0].etag, sizeof(parts[0].etag), "\"e1\"");
	snprintf(parts[0].crc32c_b64, sizeof(parts[0].crc32c_b64), "AAAAAA==");
	parts[1].number = 2;
	snprintf(parts[1].etag, sizeof(parts[1].etag), "\"e2\"");
	snprintf(parts[1].crc32c_b64, sizeof(parts[1].crc32c_b64), "4waSgw==");
	check(s3_complete_multipart(&rq, "b", "k", "u", parts, 2, &o,
	    &why) == 0, "CompleteMultipartUpload with CRC-32C builds");
	buf_reset(&want);
	buf_lit(&want, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws."
	    "com/doc/2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>\"e1"
	    "\"</ETag><ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part><Part>"
	    "<PartNumber>2</PartNumber><ETag>\"e2\"</ETag><ChecksumCRC32C>"
	    "4waSgw==</ChecksumCRC32C></Part></CompleteMultipartUpload>");
	check(rq.body_len == want.len && memcmp(rq.body, want.p, want.len) ==
	    0, "CompleteMultipartUpload: each part's ChecksumCRC32C") ||
	    (diag("got %.*s", (int)rq.body_len, (const char *)rq.body), 0);
	check_str(headers(&rq, &h), "Content-Type: application/xml",
	    "CompleteMultipartUpload: no object header");
	check(s3_head_object(&rq, "b", "k", &why) == 0 &&
	    s3_expect_owner(&rq, "111122223333", &why) == 0 &&
	    strcmp(headers(&rq, &h), "x-amz-expected-bucket-owner: "
	    "111122223333") == 0, "HeadObject: the owner");
	check(s3_abort_multipart(&rq, "b", "k", "u", &why) == 0 &&
	    s3_expect_owner(&rq, "111122223333", &why) == 0 &&
	    rq.nheaders == 1, "AbortMultipartUpload: the owner");
	check(s3_put_object(&rq, "b", "k", &o, body, 9, &d, &why) == 0 &&
	    s3_expect_owner(&rq, "1\n", &why) == -1 &&
	    strcmp(why, "control character in a header value") == 0,
	    "an owner with a control character is refused");
	s3_request_clear(&rq);
	buf_free(&h);
	buf_free(&want);
}

int
main(int argc, char **argv)
{
	if (tap_begin("s3_test", argc, argv) != 0)
		return 2;
	test_uri_and_keys();
	test_digests();
	test_put_head();
	test_long_headers();
	test_multipart();
	test_answers();
	test_etags();
	test_aws_error();
	test_object_options();
	return tap_end();
}
