/*
 * s3up_test - the upload engine (common/s3up.c) against a real
 * S3-compatible server, and against a local directory: the one-shot PUT
 * (single and multipart, gzip), results in submission order, the staged
 * path of the exactly-once commit (STAGE: create and parts, nothing
 * visible; COMPLETE by upload id and parts from a new engine, as after a
 * restart; ABORT by id), the record callback, If-None-Match with the HEAD
 * comparison of single and multipart ETags, destinations.
 *
 *   s3up_test BUCKET [full]
 *
 * The server is the S3 endpoint of the environment (AWS_ENDPOINT_URL_S3),
 * with its credentials and region, as for every tool.  Without "full" only
 * what s3rver implements is used (PutObject, HeadObject, GetObject and
 * multipart create, part and complete); with it, also
 * AbortMultipartUpload, ListMultipartUploads and If-None-Match (moto).
 * Prints TAP (tap.h) and exits 0 when every check passed.  Files go to a
 * folder under $TMPDIR (or /tmp), removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aws.h"
#include "buf.h"
#include "kpfs.h"
#include "kptime.h"
#include "msg.h"
#include "s3.h"
#include "s3up.h"
#include "tap.h"

#define MiB (1024 * 1024)

/* The server has S3's multipart ETags, AbortMultipartUpload,
 * ListMultipartUploads, If-None-Match (moto; s3rver has not). */
static int full;
static struct s3up_dest dest;
static const char *bucket;

/* Calls of the record callback. */
struct rec {
	int ids, nulls, refuse;
	char last[512];
};

/* A source file and its bytes. */
struct file {
	char name[64];
	unsigned char *data;
	size_t len;
};

static int
record(void *user, const char *upload_id)
{
	struct rec *r = user;

	if (upload_id == NULL) {
		r->nulls++;
		return 0;
	}
	r->ids++;
	snprintf(r->last, sizeof(r->last), "%s", upload_id);
	return r->refuse ? -1 : 0;
}

/* A file of NDJSON records of about len bytes, salt making it unique. */
static void
make_file(struct file *f, const char *name, size_t len, int salt)
{
	char path[4200];
	size_t i;
	int fd, n;

	snprintf(f->name, sizeof(f->name), "%s", name);
	f->data = malloc(len + 128);
	f->len = 0;
	for (i = 0; f->len < len; i++) {
		n = snprintf((char *)f->data + f->len, 128,
		    "{\"i\":%zu,\"salt\":%d,\"pad\":\"%040zu\"}\n", i, salt,
		    i * 7919);
		f->len += (size_t)n;
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || kpfs_write_all(fd, f->data, f->len) != 0) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static struct s3up_source
source(const struct file *f, int gzip)
{
	struct s3up_source s;

	s.dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	s.name = f->name;
	s.len = f->len;
	s.gzip = gzip;
	return s;
}

/* The ETag S3 gives f uploaded in parts of 5 MiB (or in one PUT). */
static void
expected_etag(const struct file *f, int multipart, char *out, size_t outsz)
{
	unsigned char md5s[16][16];
	size_t n = 0, off;
	unsigned int l;

	for (off = 0; off < f->len || n == 0; off += 5 * MiB) {
		size_t k = f->len - off < 5 * MiB ? f->len - off : 5 * MiB;

		EVP_Digest(f->data + off, k, md5s[n++], &l, EVP_md5(), NULL);
	}
	s3_object_etag((const unsigned char (*)[16])md5s, n, multipart, out,
	    outsz);
}

static struct s3up *
engine(int if_none_match)
{
	struct s3up_config cfg;
	char err[256];
	struct s3up *e;

	memset(&cfg, 0, sizeof(cfg));
	cfg.dest = &dest;
	cfg.obj.content_type = "application/x-ndjson";
	cfg.obj.checksum = S3_CHECKSUM_SHA256;
	cfg.obj.if_none_match = if_none_match;
	cfg.part_size = 5 * MiB;
	cfg.max_in_flight = 4;
	cfg.max_chunks = 4;
	cfg.record = record;
	e = s3up_new(&cfg, err, sizeof(err));
	if (e == NULL) {
		diag("s3up_new: %s", err);
		exit(2);
	}
	return e;
}

/* Services e until a job is finished; NULL after two minutes. */
static struct s3up_job *
next_job(struct s3up *e)
{
	int64_t end = kptime_mono_ms() + 120000;
	struct s3up_job *j;

	for (;;) {
		s3up_service(e);
		if ((j = s3up_next(e)) != NULL)
			return j;
		if (kptime_mono_ms() > end)
			return NULL;
		s3up_poll(e, -1, 200);
	}
}

/* One finished job; its result copied into *out (strings stolen). */
static int
run_job(struct s3up *e, struct s3up_job *j, struct s3up_result *out)
{
	struct s3up_job *got = j != NULL ? next_job(e) : NULL;
	struct s3up_result *r;

	memset(out, 0, sizeof(*out));
	if (got == NULL || got != j) {
		section("no job, or another one");
		return -1;
	}
	r = (struct s3up_result *)s3up_result(got);
	*out = *r;
	r->upload_id = NULL;
	r->parts = NULL;
	s3up_job_free(got);
	if (!out->ok)
		diag("why: %s", out->why);
	return 0;
}

static void
result_clear(struct s3up_result *r)
{
	free(r->upload_id);
	free(r->parts);
	memset(r, 0, sizeof(*r));
}

/* A synchronous request: its status (0 on a transport error), the ETag
 * and the body into resp (http_response_clear() it). */
static long
call(struct s3_request *rq, struct http_response *resp)
{
	struct aws_call c;
	char err[512];

	memset(&c, 0, sizeof(c));
	c.method = rq->method;
	c.bucket = rq->bucket;
	c.path = rq->path;
	c.query = rq->query.len > 0 ? buf_cstr(&rq->query) : NULL;
	c.headers = rq->headers;
	c.nheaders = rq->nheaders;
	c.body = rq->body;
	c.body_len = rq->body_len;
	c.payload_hash = rq->payload_hash;
	aws_call(dest.aws, &c, resp, err, sizeof(err));
	return resp->status;
}

/* HEAD of key: its status, the ETag without quotes into etag. */
static long
head(const char *key, char *etag, size_t etagsz)
{
	struct s3_request rq = S3_REQUEST_INIT;
	struct http_response resp;
	const char *why;
	long st;

	s3_head_object(&rq, bucket, key, &why);
	st = call(&rq, &resp);
	s3_etag_plain(resp.etag, etag, etagsz);
	http_response_clear(&resp);
	s3_request_clear(&rq);
	return st;
}

/* GET of key equals f. */
static int
same_object(const char *key, const struct file *f)
{
	struct s3_request rq = S3_REQUEST_INIT;
	struct http_response resp;
	const char *why;
	int same;

	s3_head_object(&rq, bucket, key, &why);
	rq.method = "GET";
	same = call(&rq, &resp) == 200 && resp.body_len == f->len &&
	    memcmp(resp.body, f->data, f->len) == 0;
	http_response_clear(&resp);
	s3_request_clear(&rq);
	return same;
}

/* Uploads in progress for key (ListMultipartUploads). */
static int
open_uploads(const char *key)
{
	struct s3_request rq = S3_REQUEST_INIT;
	struct http_response resp;
	const char *p, *why;
	int n = -1;

	s3_head_object(&rq, bucket, "x", &why);
	free(rq.path);
	rq.path = strdup("/");     /* the bucket itself */
	rq.method = "GET";
	buf_printf(&rq.query, "prefix=%s&uploads=", key);
	if (call(&rq, &resp) == 200)
		for (n = 0, p = resp.body; (p = strstr(p, "<UploadId>")) != NULL;
		    p++)
			n++;
	http_response_clear(&resp);
	s3_request_clear(&rq);
	return n;
}

static void
make_bucket(void)
{
	struct s3_request rq = S3_REQUEST_INIT;
	struct http_response resp;
	const char *why;
	long st;

	s3_head_object(&rq, bucket, "x", &why);
	free(rq.path);
	rq.path = strdup("/");     /* the bucket itself */
	rq.method = "PUT";
	st = call(&rq, &resp);
	if (st != 200 && st != 409)
		diag("CreateBucket: HTTP %ld", st);
	http_response_clear(&resp);
	s3_request_clear(&rq);
}

/* STAGE, then COMPLETE by id and parts from a new engine. */
static void
test_staged(const struct file *a)
{
	struct rec rec = { 0, 0, 0, "" };
	struct s3up_source src = source(a, 0);
	struct s3up *e = engine(0);
	struct s3up_result r, c;
	char want[S3_ETAG_MAX], etag[S3_ETAG_MAX];
	size_t i;
	int parts_ok = 1;

	section("stage, then complete after a restart");
	run_job(e, s3up_stage(e, "st/a.json", &src, &rec), &r);
	check(r.ok, "STAGE of 11 MiB");
	check(r.upload_id != NULL && r.upload_id[0] != '\0',
	    "an upload id comes back");
	check(r.nparts == 3 && r.bytes == a->len,
	    "three parts of 5 MiB, every byte sent");
	for (i = 0; i < r.nparts; i++)
		if (r.parts[i].number != (int)i + 1 ||
		    strlen(r.parts[i].etag) != 34 || r.parts[i].etag[0] != '"' ||
		    strlen(r.parts[i].sha256_b64) != 44)
			parts_ok = 0;
	check(parts_ok, "each part: its number, quoted ETag and SHA-256");
	check(rec.ids == 1 && r.upload_id != NULL &&
	    strcmp(rec.last, r.upload_id) == 0 && rec.nulls == 0,
	    "the id was recorded before the parts, and kept");
	check(head("st/a.json", etag, sizeof(etag)) == 404,
	    "staged: nothing visible yet");
	s3up_free(e);

	/* A new engine, from the recorded id and parts only. */
	e = engine(0);
	run_job(e, s3up_complete(e, "st/a.json", r.upload_id, r.parts,
	    r.nparts, &rec), &c);
	expected_etag(a, 1, want, sizeof(want));
	check(c.ok, "COMPLETE by id and parts in a new engine");
	check(same_object("st/a.json", a), "the object is the file");
	check(head("st/a.json", etag, sizeof(etag)) == 200 &&
	    strcmp(etag, c.etag) == 0, "HEAD gives the ETag Complete gave");
	result_clear(&c);
	if (full) {
		/* s3rver makes up ETags of its own, and forgets a completed
		 * upload. */
		check(head("st/a.json", etag, sizeof(etag)) == 200 &&
		    strcmp(etag, want) == 0,
		    "that ETag is S3's: MD5 of the part MD5s, -3");
		run_job(e, s3up_complete(e, "st/a.json", r.upload_id, r.parts,
		    r.nparts, &rec), &c);
		check(c.ok, "completing it again is harmless (idempotent)");
		result_clear(&c);
	}
	result_clear(&r);
	s3up_free(e);
	close(src.dirfd);
}

/* One-shot PUTs: results in submission order; gzip; a record refused. */
static void
test_put(const struct file *a, const struct file *small)
{
	struct rec rec = { 0, 0, 0, "" };
	struct s3up_source sa = source(a, 0), ss = source(small, 0);
	struct s3up_source sg = source(small, 1);
	struct s3up *e = engine(0);
	struct s3up_job *j1, *j2, *j3, *got[3];
	char want[S3_ETAG_MAX], etag[S3_ETAG_MAX];
	struct s3up_result r;
	int i, ok = 1;

	section("one-shot PUT");
	j1 = s3up_put(e, "put/1.json", &sa, NULL, 0, &rec);
	j2 = s3up_put(e, "put/2.json", &ss, NULL, 0, &rec);
	j3 = s3up_put(e, "put/3.json.gz", &sg, NULL, 0, &rec);
	for (i = 0; i < 3; i++) {
		got[i] = next_job(e);
		ok = ok && got[i] != NULL && s3up_result(got[i])->ok;
	}
	check(got[0] == j1 && got[1] == j2 && got[2] == j3,
	    "results come back in submission order");
	check(ok, "all three delivered");
	expected_etag(a, 1, want, sizeof(want));
	check(got[0] != NULL && (strcmp(s3up_result(got[0])->etag, want) == 0 ||
	    (!full && s3up_result(got[0])->etag[0] != '\0')),
	    "the multipart one: its multipart ETag");
	expected_etag(small, 0, want, sizeof(want));
	check(got[1] != NULL && strcmp(s3up_result(got[1])->etag, want) == 0,
	    "the single one: the MD5 of its bytes");
	check(same_object("put/1.json", a) && same_object("put/2.json", small),
	    "both read back byte-exact");
	check(got[2] != NULL && head("put/3.json.gz", etag, sizeof(etag)) ==
	    200 && s3up_result(got[2])->bytes < small->len,
	    "gzip: compressed bytes sent");
	for (i = 0; i < 3; i++)
		s3up_job_free(got[i]);
	rec.refuse = 1;
	run_job(e, s3up_put(e, "put/refused.json", &sa, NULL, 0, &rec), &r);
	check(!r.ok && strstr(r.why, "cannot record the upload id") != NULL,
	    "an upload id that cannot be recorded fails the job");
	check(head("put/refused.json", etag, sizeof(etag)) == 404,
	    "and nothing is completed");
	result_clear(&r);
	s3up_free(e);
	close(sa.dirfd);
	close(ss.dirfd);
	close(sg.dirfd);
}

/* AbortMultipartUpload, ListMultipartUploads: moto. */
static void
test_abort(const struct file *b)
{
	struct rec rec = { 0, 0, 0, "" };
	struct s3up_source src = source(b, 0);
	struct s3up *e = engine(0);
	struct s3up_result r, x;
	char etag[S3_ETAG_MAX];

	section("abort by id");
	run_job(e, s3up_stage(e, "ab/b.json", &src, &rec), &r);
	check(r.ok && r.nparts == 2, "STAGE of 6 MiB: two parts");
	check(open_uploads("ab/b.json") == 1, "one upload open");
	run_job(e, s3up_abort(e, "ab/b.json", r.upload_id, &rec), &x);
	check(x.ok, "ABORT by id");
	check(open_uploads("ab/b.json") == 0, "no upload open any more");
	result_clear(&x);
	run_job(e, s3up_complete(e, "ab/b.json", r.upload_id, r.parts,
	    r.nparts, &rec), &x);
	/* S3 says NoSuchUpload (then HEAD finds nothing); moto says 500. */
	check(!x.ok, "COMPLETE of an aborted upload fails");
	check(head("ab/b.json", etag, sizeof(etag)) == 404,
	    "and there is no object");
	result_clear(&x);
	run_job(e, s3up_abort(e, "ab/b.json", "no-such-upload", &rec), &x);
	check(x.ok, "ABORT of an upload already gone counts as done");
	result_clear(&x);
	result_clear(&r);
	s3up_free(e);
	close(src.dirfd);
}

/* If-None-Match: *, and the HEAD comparison after a 412: moto. */
static void
test_no_overwrite(const struct file *a, const struct file *b,
    const struct file *small, const struct file *small2)
{
	struct rec rec = { 0, 0, 0, "" };
	struct s3up_source sa = source(a, 0), sb = source(b, 0);
	struct s3up_source ss = source(small, 0), s2 = source(small2, 0);
	struct s3up *e = engine(1);
	struct s3up_result r, c;
	char want[S3_ETAG_MAX], etag[S3_ETAG_MAX];

	section("If-None-Match");
	expected_etag(a, 1, want, sizeof(want));
	run_job(e, s3up_put(e, "st/a.json", &sa, NULL, 0, &rec), &r);
	check(r.ok && r.existed, "multipart, the same object there: 412, HEAD, "
	    "the same multipart ETag: delivered");
	check(strcmp(r.etag, want) == 0, "with that ETag");
	check(open_uploads("st/a.json") == 0,
	    "the upload the 412 left open is aborted");
	check(rec.nulls >= 1, "and the caller told it is gone");
	result_clear(&r);
	run_job(e, s3up_put(e, "st/a.json", &sb, NULL, 0, &rec), &r);
	check(!r.ok && strstr(r.why, "already exists with other content") !=
	    NULL, "multipart, other content there: refused");
	check(head("st/a.json", etag, sizeof(etag)) == 200 &&
	    strcmp(etag, want) == 0, "the object there is untouched");
	check(open_uploads("st/a.json") == 0, "no upload left open");
	result_clear(&r);
	run_job(e, s3up_put(e, "nov/s.json", &ss, NULL, 0, &rec), &r);
	check(r.ok && !r.existed, "single PUT of a new key");
	result_clear(&r);
	run_job(e, s3up_put(e, "nov/s.json", &ss, NULL, 0, &rec), &r);
	check(r.ok && r.existed, "the same again: 412, the same MD5: delivered");
	result_clear(&r);
	run_job(e, s3up_put(e, "nov/s.json", &s2, NULL, 0, &rec), &r);
	check(!r.ok && strstr(r.why, "already exists with other content") !=
	    NULL, "other content: refused");
	result_clear(&r);
	/* The commit's path: staged, then completed where it is there. */
	run_job(e, s3up_stage(e, "st/a.json", &sa, &rec), &r);
	run_job(e, s3up_complete(e, "st/a.json", r.upload_id, r.parts,
	    r.nparts, &rec), &c);
	check(r.ok && c.ok && c.existed && strcmp(c.etag, want) == 0,
	    "COMPLETE where the same object is: 412, HEAD, the same: done");
	check(open_uploads("st/a.json") == 0, "that upload is aborted too");
	result_clear(&c);
	result_clear(&r);
	s3up_free(e);
	close(sa.dirfd);
	close(sb.dirfd);
	close(ss.dirfd);
	close(s2.dirfd);
}

/* A directory as destination, and bad destinations. */
static void
test_local(const struct file *small)
{
	struct s3up_dest saved = dest;
	struct aws_opts ao;
	struct rec rec = { 0, 0, 0, "" };
	struct s3up_source src = source(small, 0);
	struct s3up_result r;
	struct s3up *e;
	char dir[4200], p[4400], want[S3_ETAG_MAX], err[512];
	int cfg = 0, fd;
	unsigned char *got = malloc(small->len + 1);
	ssize_t n = -1;

	section("a directory");
	aws_opts_init(&ao);
	snprintf(dir, sizeof(dir), "file://%s/out/", tmpdir);
	check(s3up_dest_open(&dest, dir, &ao, err, sizeof(err), &cfg) == 0 &&
	    dest.local, "file:///PATH/ opens a directory");
	e = engine(0);
	run_job(e, s3up_put(e, "d/s.json", &src, NULL, 0, &rec), &r);
	expected_etag(small, 0, want, sizeof(want));
	check(r.ok && strcmp(r.etag, want) == 0, "PUT: published, its MD5");
	snprintf(p, sizeof(p), "%s/out/d/s.json", tmpdir);
	fd = open(p, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, got, small->len + 1);
		close(fd);
	}
	check(n == (ssize_t)small->len && memcmp(got, small->data,
	    small->len) == 0, "the file holds the bytes");
	result_clear(&r);
	run_job(e, s3up_stage(e, "d/t.json", &src, &rec), &r);
	check(!r.ok && strcmp(r.why, "a directory has no multipart upload") ==
	    0, "STAGE: a directory has no multipart upload");
	result_clear(&r);
	s3up_free(e);
	s3up_dest_close(&dest);
	dest = saved;
	check(s3up_dest_open(&saved, "http://x/", &ao, err, sizeof(err),
	    &cfg) == -1 && cfg == 1 && strcmp(err, "unsupported destination: "
	    "http://x/ (s3://, file:// or a path)") == 0,
	    "an unknown scheme is a configuration error");
	check(s3up_dest_open(&saved, "file://rel", &ao, err, sizeof(err),
	    &cfg) == -1 && cfg == 1, "file:// without an absolute path");
	check(s3up_dest_open(&saved, "s3://B_x/", &ao, err, sizeof(err),
	    &cfg) == -1 && cfg == 1, "a bad bucket name");
	free(got);
	close(src.dirfd);
}

int
main(int argc, char **argv)
{
	struct file a, b, small, small2;
	struct aws_opts ao;
	char uri[256], err[512], cmd[4200];
	int cfg = 0;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: s3up_test BUCKET [full]\n");
		return 2;
	}
	bucket = argv[1];
	full = argc > 2 && strcmp(argv[2], "full") == 0;
	if (tap_begin("s3up_test", 1, argv) != 0)
		return 2;
	aws_opts_init(&ao);
	ao.retry.max_attempts = 3;
	snprintf(uri, sizeof(uri), "s3://%s/", bucket);
	if (s3up_dest_open(&dest, uri, &ao, err, sizeof(err), &cfg) != 0) {
		fprintf(stderr, "s3up_test: %s\n", err);
		return 2;
	}
	make_bucket();
	make_file(&a, "a.ndjson", 11 * MiB, 1);
	make_file(&b, "b.ndjson", 6 * MiB, 2);
	make_file(&small, "s.ndjson", 1000, 3);
	make_file(&small2, "s2.ndjson", 1000, 4);
	test_staged(&a);
	test_put(&a, &small);
	if (full) {
		test_abort(&b);
		test_no_overwrite(&a, &b, &small, &small2);
	}
	test_local(&small);
	s3up_dest_close(&dest);
	free(a.data);
	free(b.data);
	free(small.data);
	free(small2.data);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", tmpdir);
	if (system(cmd) != 0)
		diag("could not empty %s", tmpdir);
	return tap_end();
}
