#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "aws.h"
#include "buf.h"
#include "http.h"
#include "kpfs.h"
#include "kptime.h"
#include "msg.h"
#include "retry.h"
#include "s3.h"
#include "s3up.h"
#include "sigv4.h"

/* Bytes read from a source file at a time through gzip. */
#define SRC_BUF (64 * 1024)
/* Pieces of a file published to a directory. */
#define LOCAL_PIECE (1024 * 1024)
/* Longest sleep while something is due but no request may start. */
#define WAIT_MAX_MS 500
/* A job's reason for failing, as msg_seterr()'s buffer. */
#define WHY(j) (j)->res.why, sizeof((j)->res.why)

enum req_kind { R_ABORT_OLD, R_PUT, R_CREATE, R_PART, R_COMPLETE, R_ABORT,
	R_HEAD, R_LIST, R_ABORT_STRAY };

static const char *const req_name[] = {
	"AbortMultipartUpload", "PutObject", "CreateMultipartUpload",
	"UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
	"HeadObject", "ListMultipartUploads", "AbortMultipartUpload",
};

enum s3up_op { OP_PUT, OP_STAGE, OP_COMPLETE, OP_ABORT };

struct chunk;

/* One request of a job, with its own retry state. */
struct req {
	enum req_kind kind;
	struct s3up_job *job;
	struct chunk *chunk;
	int pending;            /* to be started once not_before has come */
	int64_t not_before;
	int started;            /* retry state initialised */
	int refreshed;          /* credentials refreshed once */
	int redirected;         /* sent to the bucket's region once */
	struct retry_state rs;
	struct http_xfer *x;    /* in flight */
	struct s3_request sr;   /* what is in flight (its body included) */
};

/* A piece of an object in memory: the whole object for a single PUT, one
 * part of a multipart upload. */
struct chunk {
	unsigned char *buf;     /* NULL once its part is uploaded */
	size_t len;
	struct s3_digest d;
	struct s3_part part;    /* number 0: a single PUT */
	int done;
	struct req rq;
};

/* An object's bytes: a file read from its start, gzip-compressed or not. */
struct src {
	int dirfd;
	char *name;
	uint64_t len;
	int gzip;
	int fd;                 /* open while the job reads it */
	uint64_t off;           /* bytes of the file read */
	int done;               /* every object byte produced */
	z_stream z;
	int z_live;
	unsigned char *zin;
	uint64_t out;           /* object bytes produced */
	unsigned char *piece;   /* a directory's publish: the last piece */
	char why[300];
};

enum job_state { J_NEW, J_ABORT_OLD, J_PUT, J_CREATE, J_PARTS, J_COMPLETE,
	J_HEAD, J_ABORT, J_LIST, J_ABORT_STRAY, J_DONE, J_FAILED };

struct s3up_job {
	struct s3up_job *next;
	struct s3up *e;
	enum s3up_op op;
	enum job_state state;
	char *key;
	void *user;
	uint64_t serial;
	struct src src;
	char *upload_id;
	char *old_upload_id;    /* left by an earlier run: aborted first */
	int sweep;              /* other uploads of the key may be open */
	char **stray;           /* ... and these are: aborted before parts */
	size_t nstray;
	struct chunk **chunks;
	size_t nchunks, capchunks;
	struct s3_part *parts;  /* for CompleteMultipartUpload */
	size_t nparts;
	int inflight;
	int failing;            /* a permanent error: abort once idle */
	int upload_gone;        /* NoSuchUpload on Complete: nothing to abort */
	int abort_ok;           /* the abort ends the job well */
	struct req one;         /* the job's single request of its state */
	struct s3up_result res;
};

struct s3up {
	struct s3up_config c;
	const struct s3up_dest *d;
	struct aws_client *aws;     /* NULL: a directory */
	struct http_client *http;
	struct s3up_job *queue, **tail;
	size_t njobs;
	size_t held;            /* chunks holding memory */
	int giveup;
	int list_warned;        /* a ListMultipartUploads refused, said once */
	uint64_t serial;
};

static void job_fail(struct s3up_job *j);

/* ---- the source: an object's bytes ---- */

static void
src_close(struct src *s)
{
	if (s->z_live)
		deflateEnd(&s->z);
	s->z_live = 0;
	free(s->zin);
	s->zin = NULL;
	free(s->piece);
	s->piece = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* pread() of n bytes at off into p; -1 with s->why. */
static int
src_pread(struct src *s, void *p, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(s->fd, (char *)p + got, n - got,
		    (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			snprintf(s->why, sizeof(s->why), "reading %s: %s",
			    s->name, k < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		got += (size_t)k;
	}
	return 0;
}

/* The next up to cap bytes of the file as they are. */
static int
src_plain(struct src *s, size_t cap, unsigned char **buf, size_t *len)
{
	uint64_t left = s->len - s->off;
	size_t n = left < cap ? (size_t)left : cap;

	*buf = malloc(n ? n : 1);
	if (*buf == NULL) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return -1;
	}
	if (src_pread(s, *buf, n, s->off) != 0)
		return -1;
	*len = n;
	s->off += n;
	s->done = s->off >= s->len;
	return 0;
}

/* Starts the gzip stream (RFC 1952: deflate with a gzip wrapper). */
static int
src_zstart(struct src *s)
{
	memset(&s->z, 0, sizeof(s->z));
	if (deflateInit2(&s->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		snprintf(s->why, sizeof(s->why), "zlib: cannot start");
		return -1;
	}
	s->z_live = 1;
	if (s->zin == NULL && (s->zin = malloc(SRC_BUF)) == NULL) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return -1;
	}
	return 0;
}

/* Feeds deflate the next bytes of the file when it has none. */
static int
src_zfeed(struct src *s)
{
	uint64_t left = s->len - s->off;
	size_t want = left < SRC_BUF ? (size_t)left : SRC_BUF;

	if (s->z.avail_in > 0 || left == 0)
		return 0;
	if (src_pread(s, s->zin, want, s->off) != 0)
		return -1;
	s->z.next_in = s->zin;
	s->z.avail_in = (uInt)want;
	s->off += want;
	return 0;
}

/* The next up to cap bytes of the gzip stream of the file. */
static int
src_gzip(struct src *s, size_t cap, unsigned char **buf, size_t *len)
{
	/* Start small and grow: most parts compress to far less than cap. */
	uint64_t est = deflateBound(&s->z, (uLong)(s->len - s->off)) +
	    s->z.avail_in + 4096;
	size_t alloc = (size_t)(est < cap ? est : cap), n = 0;
	unsigned char *b = malloc(alloc);

	*buf = b;
	if (b == NULL)
		goto nomem;
	for (;;) {
		int flush, zrc;

		if (src_zfeed(s) != 0)
			return -1;
		if (n == alloc) {
			if (alloc >= cap)
				break; /* the chunk is full */
			alloc = alloc * 2 < cap ? alloc * 2 : cap;
			if ((b = realloc(*buf, alloc)) == NULL)
				goto nomem;
			*buf = b;
		}
		flush = s->off >= s->len && s->z.avail_in == 0 ? Z_FINISH :
		    Z_NO_FLUSH;
		s->z.next_out = b + n;
		s->z.avail_out = (uInt)(alloc - n);
		zrc = deflate(&s->z, flush);
		n = alloc - s->z.avail_out;
		if (zrc == Z_STREAM_END) {
			deflateEnd(&s->z);
			s->z_live = 0;
			s->done = 1;
			break;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			snprintf(s->why, sizeof(s->why), "zlib: error %d", zrc);
			return -1;
		}
	}
	*len = n;
	return 0;
nomem:
	snprintf(s->why, sizeof(s->why), "out of memory");
	return -1;
}

/*
 * The next piece of the object, up to cap bytes, in a new buffer *buf
 * (free() it, also after a failure).  Opens the file on first use: queued
 * jobs hold no descriptor, an outage may queue thousands.  Returns 0, or
 * -1 with s->why set.
 */
static int
src_next(struct src *s, size_t cap, unsigned char **buf, size_t *len)
{
	int rc;

	*buf = NULL;
	*len = 0;
	if (s->fd < 0) {
		s->fd = openat(s->dirfd, s->name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (s->fd < 0) {
			snprintf(s->why, sizeof(s->why), "%s: %s", s->name,
			    strerror(errno));
			return -1;
		}
	}
	if (!s->gzip)
		rc = src_plain(s, cap, buf, len);
	else if (!s->z_live && src_zstart(s) != 0)
		rc = -1;
	else
		rc = src_gzip(s, cap, buf, len);
	if (rc == 0)
		s->out += *len;
	return rc;
}

/* kpfs_source over a job's source, for a directory's publish. */
static int
src_piece(void *arg, const void **data, size_t *len, const char **why)
{
	struct src *s = arg;

	free(s->piece);
	s->piece = NULL;
	if (s->done)
		return 0;
	if (src_next(s, LOCAL_PIECE, &s->piece, len) != 0) {
		*why = s->why;
		return -1;
	}
	*data = s->piece;
	return 1;
}

/* ---- jobs ---- */

static void
chunk_free(struct s3up *e, struct chunk *c)
{
	if (c == NULL)
		return;
	if (c->buf != NULL)
		e->held--;
	free(c->buf);
	s3_request_clear(&c->rq.sr);
	free(c);
}

/* The memory of a job's chunks goes as soon as it is finished; the result
 * waits for its turn. */
static void
job_release(struct s3up_job *j)
{
	size_t i;

	for (i = 0; i < j->nchunks; i++) {
		struct chunk *c = j->chunks[i];

		if (c->buf != NULL)
			j->e->held--;
		free(c->buf);
		c->buf = NULL;
		s3_request_clear(&c->rq.sr);
	}
	s3_request_clear(&j->one.sr);
	src_close(&j->src);
}

static void
job_fail(struct s3up_job *j)
{
	job_release(j);
	j->state = J_FAILED;
}

static void
job_done(struct s3up_job *j)
{
	job_release(j);
	j->res.bytes = j->src.out;
	j->res.ok = 1;
	j->state = J_DONE;
}

void
s3up_job_free(struct s3up_job *j)
{
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->nchunks; i++)
		chunk_free(j->e, j->chunks[i]);
	free(j->chunks);
	s3_request_clear(&j->one.sr);
	src_close(&j->src);
	free(j->src.name);
	free(j->key);
	free(j->upload_id);
	free(j->old_upload_id);
	while (j->nstray > 0)
		free(j->stray[--j->nstray]);
	free(j->stray);
	free(j->parts);
	free(j->res.upload_id);
	free(j->res.parts);
	free(j);
}

static struct s3up_job *
job_new(struct s3up *e, enum s3up_op op, const char *key,
    const struct s3up_source *src, const char *upload_id, void *user)
{
	struct s3up_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->e = e;
	j->op = op;
	j->user = user;
	j->serial = ++e->serial;
	j->src.fd = -1;
	j->key = strdup(key);
	if (src != NULL) {
		j->src.dirfd = src->dirfd;
		j->src.len = src->len;
		j->src.gzip = src->gzip;
		j->src.name = strdup(src->name);
	}
	if (upload_id != NULL)
		j->upload_id = strdup(upload_id);
	if (j->key == NULL || (src != NULL && j->src.name == NULL) ||
	    (upload_id != NULL && j->upload_id == NULL)) {
		s3up_job_free(j);
		return NULL;
	}
	return j;
}

static struct s3up_job *
submit(struct s3up *e, struct s3up_job *j)
{
	if (j == NULL)
		return NULL;
	j->next = NULL;
	*e->tail = j;
	e->tail = &j->next;
	e->njobs++;
	return j;
}

struct s3up_job *
s3up_put(struct s3up *e, const char *key, const struct s3up_source *src,
    const char *old_upload_id, int flags, void *user)
{
	struct s3up_job *j = job_new(e, OP_PUT, key, src, NULL, user);

	if (j != NULL)
		j->sweep = (flags & S3UP_SWEEP) != 0;
	if (j != NULL && old_upload_id != NULL &&
	    (j->old_upload_id = strdup(old_upload_id)) == NULL) {
		s3up_job_free(j);
		return NULL;
	}
	return submit(e, j);
}

struct s3up_job *
s3up_stage(struct s3up *e, const char *key, const struct s3up_source *src,
    void *user)
{
	return submit(e, job_new(e, OP_STAGE, key, src, NULL, user));
}

struct s3up_job *
s3up_complete(struct s3up *e, const char *key, const char *upload_id,
    const struct s3_part *parts, size_t n, void *user)
{
	struct s3up_job *j = job_new(e, OP_COMPLETE, key, NULL, upload_id, user);

	if (j == NULL)
		return NULL;
	j->parts = malloc((n ? n : 1) * sizeof(*parts));
	if (j->parts == NULL) {
		s3up_job_free(j);
		return NULL;
	}
	if (n > 0)
		memcpy(j->parts, parts, n * sizeof(*parts));
	j->nparts = n;
	return submit(e, j);
}

struct s3up_job *
s3up_abort(struct s3up *e, const char *key, const char *upload_id,
    void *user)
{
	return submit(e, job_new(e, OP_ABORT, key, NULL, upload_id, user));
}

const struct s3up_result *
s3up_result(const struct s3up_job *j)
{
	return &j->res;
}

const char *
s3up_key(const struct s3up_job *j)
{
	return j->key;
}

void *
s3up_user(const struct s3up_job *j)
{
	return j->user;
}

/* s, percent-encoded as the path of a file: URI (RFC 8089, RFC 3986
 * 3.3): every byte but A-Z a-z 0-9 - . _ ~ and '/' as %XX. */
static void
uri_path(struct buf *out, const char *s)
{
	size_t n = strlen(s), cap = SIGV4_URI_ENCODE_MAX(n);

	if (buf_reserve(out, cap) != 0)
		return;
	if (sigv4_uri_encode(s, n, 0, out->p + out->len, cap) == 0)
		out->len += strlen(out->p + out->len);
}

void
s3up_uri(const struct s3up *e, const char *key, struct buf *out)
{
	if (e->aws != NULL) {
		buf_printf(out, "s3://%s/%s", e->d->s3.bucket, key);
	} else {
		buf_lit(out, "file://");
		uri_path(out, e->d->root);
		buf_char(out, '/');
		uri_path(out, key);
	}
}

/* ---- destinations ---- */

/* s3://BUCKET/PREFIX: an S3 client. */
static int
dest_s3(struct s3up_dest *d, const char *uri, const struct aws_opts *ao,
    struct buf *ident, char *err, size_t errsz, int *config_error)
{
	if (s3_uri_parse(uri, &d->s3, err, errsz) != 0)
		return -1;
	d->aws = aws_client_new("S3", "s3", ao, err, errsz, config_error);
	if (d->aws == NULL)
		return -1;
	buf_printf(ident, "s3\n%s\n%s\n%s\n", aws_client_endpoint(d->aws),
	    d->s3.bucket, d->s3.prefix);
	return 0;
}

/* file:///PATH or PATH: the directory, created and opened. */
static int
dest_dir(struct s3up_dest *d, const char *uri, struct buf *ident, char *err,
    size_t errsz, int *config_error)
{
	const char *path = uri, *colon = strstr(uri, "://");
	char resolved[PATH_MAX];

	if (strncmp(uri, "file://", 7) == 0) {
		path = uri + 7;
		if (strncmp(path, "localhost/", 10) == 0)
			path += 9;
		if (path[0] != '/') {
			snprintf(err, errsz, "not a file:/// URI: %s", uri);
			return -1;
		}
	} else if (colon != NULL && strspn(uri, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789+.-") == (size_t)(colon - uri)) {
		snprintf(err, errsz, "unsupported destination: %s (s3://, "
		    "file:// or a path)", uri);
		return -1;
	}
	if (*path == '\0') {
		snprintf(err, errsz, "empty destination");
		return -1;
	}
	*config_error = 0;
	d->local = 1;
	d->created = access(path, F_OK) != 0;
	if (kpfs_mkdirs(path, 0755) != 0 || realpath(path, resolved) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	d->root = strdup(strcmp(resolved, "/") == 0 ? "" : resolved);
	d->rootfd = open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->root == NULL || d->rootfd < 0) {
		snprintf(err, errsz, "%s: %s", resolved,
		    d->root == NULL ? "out of memory" : strerror(errno));
		return -1;
	}
	buf_printf(ident, "file\n%s/\n", d->root);
	return 0;
}

void
s3up_dest_unmake(struct s3up_dest *d)
{
	if (d->local && d->created && d->root != NULL && d->root[0] != '\0')
		(void)rmdir(d->root);
	d->created = 0;
}

int
s3up_dest_open(struct s3up_dest *d, const char *uri,
    const struct aws_opts *ao, char *err, size_t errsz, int *config_error)
{
	struct buf ident = BUF_INIT;
	int rc;

	memset(d, 0, sizeof(*d));
	d->rootfd = -1;
	*config_error = 1;
	if (strncmp(uri, "s3://", 5) == 0)
		rc = dest_s3(d, uri, ao, &ident, err, errsz, config_error);
	else
		rc = dest_dir(d, uri, &ident, err, errsz, config_error);
	if (rc == 0 && buf_cstr(&ident) == NULL) {
		snprintf(err, errsz, "out of memory");
		*config_error = 0;
		rc = -1;
	}
	if (rc == 0) {
		d->ident = ident.p;     /* NUL-terminated by buf_cstr() */
		ident = (struct buf)BUF_INIT;
		*config_error = 0;
	} else {
		s3up_dest_close(d);
	}
	buf_free(&ident);
	return rc;
}

void
s3up_dest_close(struct s3up_dest *d)
{
	if (d == NULL)
		return;
	aws_client_free(d->aws);
	s3_uri_clear(&d->s3);
	free(d->root);
	free(d->ident);
	if (d->local && d->rootfd >= 0)
		close(d->rootfd);
	memset(d, 0, sizeof(*d));
	d->rootfd = -1;
}

/* ---- requests ---- */

static int
slots(const struct s3up *e)
{
	return e->http != NULL && http_inflight(e->http) < e->c.max_in_flight;
}

static void
req_arm(struct req *rq, enum req_kind kind, struct s3up_job *j,
    struct chunk *c, int64_t now)
{
	rq->kind = kind;
	rq->job = j;
	rq->chunk = c;
	rq->pending = 1;
	rq->not_before = now;
	rq->started = 0;
	rq->refreshed = 0;
	rq->redirected = 0;
}

/* Arms the job's single request of a new state. */
static void
job_go(struct s3up_job *j, enum job_state st, enum req_kind kind, int64_t now)
{
	j->state = st;
	req_arm(&j->one, kind, j, NULL, now);
}

/* Builds the S3 request of rq into rq->sr.  Returns 0, or -1 with *why. */
static int
req_build(struct s3up *e, struct req *rq, const char **why)
{
	struct s3up_job *j = rq->job;
	const struct s3_object_opts *o = &e->c.obj;
	struct chunk *c = rq->chunk;

	switch (rq->kind) {
	case R_ABORT_OLD:
		return s3_abort_multipart(&rq->sr, e->d->s3.bucket, j->key,
		    j->old_upload_id, why);
	case R_ABORT:
		return s3_abort_multipart(&rq->sr, e->d->s3.bucket, j->key,
		    j->upload_id, why);
	case R_PUT:
		return s3_put_object(&rq->sr, e->d->s3.bucket, j->key, o, c->buf,
		    c->len, &c->d, why);
	case R_CREATE:
		return s3_create_multipart(&rq->sr, e->d->s3.bucket, j->key, o, why);
	case R_PART:
		return s3_upload_part(&rq->sr, e->d->s3.bucket, j->key, j->upload_id,
		    c->part.number, c->buf, c->len, &c->d, o->checksum, why);
	case R_COMPLETE:
		return s3_complete_multipart(&rq->sr, e->d->s3.bucket, j->key,
		    j->upload_id, j->parts, j->nparts, o, why);
	case R_HEAD:
		return s3_head_object(&rq->sr, e->d->s3.bucket, j->key, why);
	case R_LIST:
		return s3_list_multipart(&rq->sr, e->d->s3.bucket, j->key, why);
	case R_ABORT_STRAY:
		return s3_abort_multipart(&rq->sr, e->d->s3.bucket, j->key,
		    j->stray[j->nstray - 1], why);
	}
	*why = "unknown request";
	return -1;
}

/* Builds rq; every request to the bucket names its expected owner. */
static int
req_build_owned(struct s3up *e, struct req *rq, const char **why)
{
	if (req_build(e, rq, why) != 0)
		return -1;
	if (e->c.obj.expected_owner != NULL)
		return s3_expect_owner(&rq->sr, e->c.obj.expected_owner, why);
	return 0;
}

/* Starts rq now.  Returns 0, or -1 when it could not even be sent (the
 * reason is the job's why). */
static int
req_start(struct s3up *e, struct req *rq)
{
	struct s3up_job *j = rq->job;
	const char *why = "";
	struct aws_call call;

	if (req_build_owned(e, rq, &why) != 0) {
		msg_seterr(WHY(j), "%s: %s", req_name[rq->kind], why);
		return -1;
	}
	memset(&call, 0, sizeof(call));
	call.method = rq->sr.method;
	call.bucket = rq->sr.bucket;
	call.path = rq->sr.path;
	call.query = rq->sr.query.len > 0 ? rq->sr.query.p : NULL;
	call.headers = rq->sr.headers;
	call.nheaders = rq->sr.nheaders;
	call.body = rq->sr.body;
	call.body_len = rq->sr.body_len;
	call.payload_hash = rq->sr.payload_hash;
	if (!rq->started) {
		retry_start(&rq->rs, kptime_mono_ms(), j->serial * 7919u +
		    (uint64_t)rq->kind * 131u +
		    (rq->chunk ? (uint64_t)rq->chunk->part.number : 0) + 1);
		rq->started = 1;
	}
	rq->x = aws_start(e->aws, &call, rq, j->res.why, sizeof(j->res.why));
	if (rq->x == NULL)
		return -1;
	rq->pending = 0;
	j->inflight++;
	return 0;
}

/* ---- the multipart state machine ---- */

/* The next chunk of a job's object, digested.  NULL with the job's why
 * on failure. */
static struct chunk *
chunk_new(struct s3up_job *j)
{
	struct s3up *e = j->e;
	struct chunk *c = calloc(1, sizeof(*c));
	const struct s3_object_opts *o = &e->c.obj;
	int want_md5 = o->checksum == S3_CHECKSUM_MD5 || o->if_none_match;

	if (c == NULL)
		goto nomem;
	if (j->nchunks == j->capchunks) {
		size_t nc = j->capchunks ? j->capchunks * 2 : 4;
		struct chunk **np = realloc(j->chunks, nc * sizeof(*np));

		if (np == NULL)
			goto nomem;
		j->chunks = np;
		j->capchunks = nc;
	}
	j->chunks[j->nchunks++] = c;
	c->part.number = (int)j->nchunks;
	if (src_next(&j->src, (size_t)e->c.part_size, &c->buf, &c->len) != 0) {
		/* The chunk stays listed, without memory. */
		free(c->buf);
		c->buf = NULL;
		msg_seterr(WHY(j), "%s", j->src.why);
		return NULL;
	}
	e->held++;
	if (s3_digest(c->buf, c->len, want_md5, &c->d) != 0) {
		msg_seterr(WHY(j), "digest failed");
		return NULL;
	}
	if (o->checksum == S3_CHECKSUM_SHA256)
		snprintf(c->part.sha256_b64, sizeof(c->part.sha256_b64), "%s",
		    c->d.sha256_b64);
	if (o->checksum == S3_CHECKSUM_CRC32C) {
		s3_digest_crc32c(c->buf, c->len, &c->d);
		snprintf(c->part.crc32c_b64, sizeof(c->part.crc32c_b64), "%s",
		    c->d.crc32c_b64);
	}
	return c;
nomem:
	free(c);
	msg_seterr(WHY(j), "out of memory");
	return NULL;
}

/* The first chunk of a PUT or STAGE job: a single PutObject when the
 * whole object fits in it (PUT only), else a multipart upload. */
static void
job_begin(struct s3up_job *j, int64_t now)
{
	struct chunk *c = chunk_new(j);

	if (c == NULL) {
		job_fail(j);
		return;
	}
	if (j->op == OP_PUT && j->src.done) {
		c->part.number = 0;
		job_go(j, J_PUT, R_PUT, now);
		j->one.chunk = c;
	} else {
		job_go(j, J_CREATE, R_CREATE, now);
	}
}

/* The parts list of CompleteMultipartUpload (and of a STAGE result), from
 * the chunks. */
static int
parts_from_chunks(struct s3up_job *j)
{
	size_t i;

	free(j->parts);
	j->parts = malloc(j->nchunks * sizeof(*j->parts));
	if (j->parts == NULL)
		return -1;
	for (i = 0; i < j->nchunks; i++)
		j->parts[i] = j->chunks[i]->part;
	j->nparts = j->nchunks;
	return 0;
}

/* Every part is up: complete the upload (PUT) or hand it back (STAGE). */
static void
parts_finished(struct s3up_job *j, int64_t now)
{
	if (parts_from_chunks(j) != 0) {
		msg_seterr(WHY(j), "out of memory");
		j->failing = 1;
		return;
	}
	if (j->op == OP_PUT) {
		job_go(j, J_COMPLETE, R_COMPLETE, now);
		return;
	}
	j->res.upload_id = strdup(j->upload_id);
	j->res.parts = malloc(j->nparts * sizeof(*j->parts));
	if (j->res.upload_id == NULL || j->res.parts == NULL) {
		msg_seterr(WHY(j), "out of memory");
		j->failing = 1;
		return;
	}
	memcpy(j->res.parts, j->parts, j->nparts * sizeof(*j->parts));
	j->res.nparts = j->nparts;
	job_done(j);
}

static int
chunks_all_done(const struct s3up_job *j)
{
	size_t i;

	for (i = 0; i < j->nchunks; i++)
		if (!j->chunks[i]->done)
			return 0;
	return 1;
}

/* Uploading parts: retries that are due, then new chunks while requests
 * and memory allow; an upload that failed is aborted once idle. */
static void
step_parts(struct s3up_job *j, int64_t now)
{
	struct s3up *e = j->e;
	size_t i;

	for (i = 0; i < j->nchunks && !j->failing && slots(e); i++) {
		struct req *rq = &j->chunks[i]->rq;

		if (rq->pending && rq->not_before <= now && req_start(e, rq) != 0)
			j->failing = 1;
	}
	while (!j->failing && !j->src.done && slots(e) &&
	    e->held < (size_t)e->c.max_chunks) {
		struct chunk *c = chunk_new(j);

		if (c == NULL) {
			j->failing = 1;
			break;
		}
		if (c->len == 0 && j->src.done && c->part.number > 1) {
			/* gzip ended right at a part boundary: the previous
			 * part is the last one. */
			chunk_free(e, c);
			j->nchunks--;
			break;
		}
		req_arm(&c->rq, R_PART, j, c, now);
		if (req_start(e, &c->rq) != 0)
			j->failing = 1;
	}
	if (!j->failing && j->src.done && chunks_all_done(j))
		parts_finished(j, now);
	if (j->state == J_PARTS && j->failing && j->inflight == 0)
		job_go(j, J_ABORT, R_ABORT, now);
}

/* A directory: the object is published at once. */
static void
step_local(struct s3up_job *j)
{
	unsigned char md5[16];
	int rc;

	if (j->op != OP_PUT) {
		msg_seterr(WHY(j), "a directory has no multipart upload");
		job_fail(j);
		return;
	}
	rc = kpfs_publish(j->e->d->rootfd, j->key, j->e->c.obj.if_none_match,
	    src_piece, &j->src, md5, j->res.why, sizeof(j->res.why));
	if (rc < 0) {
		job_fail(j);
		return;
	}
	s3_object_etag((const unsigned char (*)[16])md5, 1, 0, j->res.etag,
	    sizeof(j->res.etag));
	j->res.existed = rc == 1;
	job_done(j);
}

/* A new job's first step. */
static void
step_new(struct s3up_job *j, int64_t now)
{
	if (j->e->aws == NULL) {
		step_local(j);
		return;
	}
	switch (j->op) {
	case OP_PUT:
	case OP_STAGE:
		if (j->old_upload_id != NULL)
			job_go(j, J_ABORT_OLD, R_ABORT_OLD, now);
		else
			job_begin(j, now);
		break;
	case OP_COMPLETE:
		job_go(j, J_COMPLETE, R_COMPLETE, now);
		break;
	case OP_ABORT:
		j->abort_ok = 1;
		job_go(j, J_ABORT, R_ABORT, now);
		break;
	}
}

/* Moves a job forward as far as it can go without waiting. */
static void
job_step(struct s3up_job *j, int64_t now)
{
	struct s3up *e = j->e;

	if (j->state == J_NEW)
		step_new(j, now);
	if (j->state == J_PARTS)
		step_parts(j, now);
	if (j->state == J_DONE || j->state == J_FAILED || j->state == J_PARTS ||
	    j->state == J_NEW)
		return;
	if (j->one.pending && j->one.not_before <= now && slots(e) &&
	    req_start(e, &j->one) != 0) {
		if (j->state == J_COMPLETE && j->op == OP_PUT) {
			j->failing = 1;
			job_go(j, J_ABORT, R_ABORT, now);
		} else {
			job_fail(j);
		}
	}
}

/* True when an earlier unfinished job writes the same key: jobs of one
 * key land in order (a recovered part before a replay's). */
static int
key_busy(const struct s3up *e, const struct s3up_job *j)
{
	const struct s3up_job *p;

	for (p = e->queue; p != NULL && p != j; p = p->next)
		if (p->state != J_DONE && p->state != J_FAILED &&
		    strcmp(p->key, j->key) == 0)
			return 1;
	return 0;
}

/* Steps every job that may move, oldest first. */
static void
pump(struct s3up *e)
{
	int64_t now = kptime_mono_ms();
	struct s3up_job *j;

	for (j = e->queue; j != NULL; j = j->next) {
		if (j->state == J_DONE || j->state == J_FAILED)
			continue;
		/* A new object needs memory for its first chunk. */
		if (j->state == J_NEW && e->aws != NULL &&
		    (j->op == OP_PUT || j->op == OP_STAGE) &&
		    j->old_upload_id == NULL &&
		    e->held >= (size_t)e->c.max_chunks)
			continue;
		if (j->state == J_NEW && key_busy(e, j))
			continue;
		if (e->aws != NULL && !slots(e))
			break;
		job_step(j, now);
	}
}

/* ---- answers ---- */

/* Is the object HeadObject found ours?  Compares its ETag with the one
 * this object has: the MD5 of a single PUT, or the multipart ETag from
 * the parts' MD5s (computed here, or read from their ETags). */
static int
head_same(const struct s3up_job *j, const char *head_etag)
{
	unsigned char (*md5s)[16] = NULL;
	char want[S3_ETAG_MAX], got[S3_ETAG_MAX];
	size_t n = j->nchunks ? j->nchunks : j->nparts, i;
	int multipart = !(j->nchunks == 1 && j->chunks[0]->part.number == 0);
	int ok = 0;

	if (n == 0 || (md5s = malloc(n * sizeof(*md5s))) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (j->nchunks > 0 && j->chunks[i]->d.has_md5)
			memcpy(md5s[i], j->chunks[i]->d.md5, 16);
		else if (i >= j->nparts ||
		    s3_etag_md5(j->parts[i].etag, md5s[i]) != 0)
			goto out;
	}
	s3_etag_plain(head_etag, got, sizeof(got));
	ok = s3_object_etag((const unsigned char (*)[16])md5s, n, multipart,
	    want, sizeof(want)) == 0 && strcmp(want, got) == 0;
out:
	free(md5s);
	return ok;
}

/*
 * After HeadObject (etag NULL: it failed): the object there is ours or it
 * is not.  A multipart upload the 412 left open is aborted; a recorded
 * one (COMPLETE) only when the object is ours, else it stays for the
 * caller to decide.
 */
static void
on_head(struct s3up_job *j, const char *etag, const char *uri, int64_t now)
{
	int same = etag != NULL && head_same(j, etag);
	int single = j->nchunks == 1 && j->chunks[0]->part.number == 0;

	if (same) {
		msg_info("%s: already there with the same content", uri);
		s3_etag_plain(etag, j->res.etag, sizeof(j->res.etag));
		j->res.existed = 1;
		j->res.why[0] = '\0';
	} else if (etag != NULL && !j->upload_gone) {
		msg_seterr(WHY(j), "already exists with other content (--no-overwrite: "
		    "PreconditionFailed, HTTP 412)");
	}
	if (single || j->upload_gone || (!same && j->op == OP_COMPLETE)) {
		if (same)
			job_done(j);
		else
			job_fail(j);
		return;
	}
	j->abort_ok = same;
	job_go(j, J_ABORT, R_ABORT, now);
}

/* The parts go up, the first one first. */
static void
parts_begin(struct s3up_job *j, int64_t now)
{
	j->state = J_PARTS;
	req_arm(&j->chunks[0]->rq, R_PART, j, j->chunks[0], now);
}

/* The next stray upload to abort, or the parts once there is none. */
static void
next_stray(struct s3up_job *j, int64_t now)
{
	if (j->nstray > 0)
		job_go(j, J_ABORT_STRAY, R_ABORT_STRAY, now);
	else
		parts_begin(j, now);
}

/* A stray upload aborted, or given up: the next. */
static void
stray_done(struct s3up_job *j, int64_t now)
{
	free(j->stray[--j->nstray]);
	next_stray(j, now);
}

/* A ListMultipartUploads that failed for good: said once, and the parts
 * go up (a lifecycle rule removes what stays open). */
static void
list_failed(struct s3up_job *j, const char *uri, const char *err,
    int64_t now)
{
	if (!j->e->list_warned)
		msg_warn("%s: cannot list the multipart uploads a lost "
		    "CreateMultipartUpload answer or a crash may have left "
		    "open (%s); they stay until a lifecycle rule aborts them "
		    "(s3-put(1))", uri, err);
	j->e->list_warned = 1;
	parts_begin(j, now);
}

/* The answer to CreateMultipartUpload: the upload id, recorded before any
 * part goes up. */
static void
on_created(struct s3up_job *j, const struct http_response *resp, int64_t now)
{
	struct s3up *e = j->e;
	struct buf id = BUF_INIT;

	if (s3_upload_id(resp->body, &id) != 0) {
		msg_seterr(WHY(j), "CreateMultipartUpload: no UploadId in the answer");
		job_fail(j);
		goto out;
	}
	j->upload_id = strdup(buf_cstr(&id));
	if (j->upload_id == NULL || (e->c.record != NULL &&
	    e->c.record(j->user, j->upload_id) != 0)) {
		msg_seterr(WHY(j), "cannot record the upload id");
		if (j->upload_id != NULL)
			job_go(j, J_ABORT, R_ABORT, now);
		else
			job_fail(j);
		goto out;
	}
	if (j->sweep)
		job_go(j, J_LIST, R_LIST, now);
	else
		parts_begin(j, now);
out:
	buf_free(&id);
}

/* The uploads of the key a ListMultipartUploads found, but for this
 * job's and those other jobs hold: to abort. */
static void
on_listed(struct s3up_job *j, const char *body, const char *uri, int64_t now)
{
	const struct s3up_job *o;
	size_t i = 0;

	if (s3_uploads_of(body, j->key, j->upload_id, &j->stray,
	    &j->nstray) != 0)
		msg_warn("%s: out of memory reading ListMultipartUploads", uri);
	while (i < j->nstray) {
		for (o = j->e->queue; o != NULL; o = o->next)
			if (o != j && strcmp(o->key, j->key) == 0 &&
			    ((o->upload_id != NULL &&
			    strcmp(o->upload_id, j->stray[i]) == 0) ||
			    (o->old_upload_id != NULL &&
			    strcmp(o->old_upload_id, j->stray[i]) == 0)))
				break;
		if (o == NULL) {
			i++;
			continue;
		}
		free(j->stray[i]);
		j->stray[i] = j->stray[--j->nstray];
	}
	next_stray(j, now);
}

/* An upload aborted: forgotten by the caller, and the job ends. */
static void
on_aborted(struct s3up_job *j, const char *uri)
{
	struct s3up *e = j->e;

	msg_info("%s: aborted multipart upload %s", uri, j->upload_id);
	if (e->c.record != NULL && j->op != OP_ABORT)
		e->c.record(j->user, NULL);
	if (j->abort_ok)
		job_done(j);
	else
		job_fail(j);
}

/* A 2xx answer. */
static void
on_ok(struct req *rq, const struct http_response *resp, const char *uri,
    int64_t now)
{
	struct s3up_job *j = rq->job;

	switch (rq->kind) {
	case R_ABORT_OLD:
		msg_info("%s: aborted multipart upload %s of an earlier run",
		    uri, j->old_upload_id);
		free(j->old_upload_id);
		j->old_upload_id = NULL;
		j->state = J_NEW;
		break;
	case R_PUT:
		if (resp->etag[0] == '\0') {
			msg_seterr(WHY(j), "PutObject: no ETag in the answer");
			job_fail(j);
			break;
		}
		s3_etag_plain(resp->etag, j->res.etag, sizeof(j->res.etag));
		job_done(j);
		break;
	case R_CREATE:
		on_created(j, resp, now);
		break;
	case R_PART:
		if (resp->etag[0] == '\0') {
			msg_seterr(WHY(j), "UploadPart %d: no ETag in the answer",
			    rq->chunk->part.number);
			j->failing = 1;
			break;
		}
		snprintf(rq->chunk->part.etag, sizeof(rq->chunk->part.etag),
		    "%s", resp->etag);
		rq->chunk->done = 1;
		free(rq->chunk->buf);
		rq->chunk->buf = NULL;
		j->e->held--;
		break;
	case R_COMPLETE:
		s3_complete_etag(resp->body, resp->etag, j->res.etag,
		    sizeof(j->res.etag));
		job_done(j);
		break;
	case R_ABORT:
		on_aborted(j, uri);
		break;
	case R_HEAD:
		on_head(j, resp->etag, uri, now);
		break;
	case R_LIST:
		on_listed(j, resp->body, uri, now);
		break;
	case R_ABORT_STRAY:
		msg_info("%s: aborted multipart upload %s, left open by a lost "
		    "answer or an earlier run", uri, j->stray[j->nstray - 1]);
		stray_done(j, now);
		break;
	}
}

/*
 * Failures with a meaning of their own: an old upload already gone, 412
 * from If-None-Match, a recorded upload gone or one to abort gone.
 * Returns 1 when handled.
 */
static int
on_special(struct req *rq, const struct http_response *resp,
    enum retry_kind kind, const char *err, const char *uri, int64_t now)
{
	struct s3up_job *j = rq->job;
	long st = resp->status;

	if (rq->kind == R_ABORT_OLD && (st == 404 || kind == RETRY_NO)) {
		if (st != 404)
			msg_warn("%s: cannot abort multipart upload %s of an "
			    "earlier run: %s", uri, j->old_upload_id, err);
		free(j->old_upload_id);
		j->old_upload_id = NULL;
		j->state = J_NEW;
		return 1;
	}
	if (st == 412 && j->e->c.obj.if_none_match &&
	    (rq->kind == R_PUT || rq->kind == R_COMPLETE)) {
		job_go(j, J_HEAD, R_HEAD, now);
		return 1;
	}
	if (st == 404 && rq->kind == R_COMPLETE && j->op == OP_COMPLETE) {
		/* Completed already, by an earlier process?  Then the object
		 * there is this one. */
		msg_seterr(WHY(j), "CompleteMultipartUpload: %s", err);
		j->upload_gone = 1;
		job_go(j, J_HEAD, R_HEAD, now);
		return 1;
	}
	if (st == 404 && rq->kind == R_ABORT && j->op == OP_ABORT) {
		job_done(j);
		return 1;
	}
	if (rq->kind == R_LIST && kind == RETRY_NO) {
		list_failed(j, uri, err, now);
		return 1;
	}
	if (rq->kind == R_ABORT_STRAY && (st == 404 || kind == RETRY_NO)) {
		if (st != 404)
			msg_warn("%s: cannot abort multipart upload %s: %s", uri,
			    j->stray[j->nstray - 1], err);
		stray_done(j, now);
		return 1;
	}
	return 0;
}

/* A transient failure: retried when the policy allows.  Returns 1 when
 * the request is armed again; else 0, with reason reworded when the
 * policy is spent. */
static int
on_retry(struct req *rq, const struct http_response *resp,
    enum retry_kind kind, const char *err, const char *uri, int64_t now,
    char *reason, size_t reasonsz)
{
	struct s3up *e = rq->job->e;
	int64_t delay;

	if (kind == RETRY_CREDENTIALS && !rq->refreshed) {
		rq->refreshed = 1;
		aws_client_credentials_expired(e->aws);
		msg_warn("%s %s: %s; refreshing credentials", req_name[rq->kind],
		    uri, err);
		rq->pending = 1;
		rq->not_before = now;
		return 1;
	}
	if (kind != RETRY_YES && kind != RETRY_THROTTLED)
		return 0;
	if (rq->kind == R_CREATE)
		rq->job->sweep = 1;     /* the lost answer may have made one */
	delay = retry_next(aws_client_retry(e->aws), &rq->rs, now,
	    resp->retry_after_ms);
	if (delay < 0 || e->giveup) {
		snprintf(reason, reasonsz, "%s: %s (gave up after %d attempts)",
		    req_name[rq->kind], err, rq->rs.attempt);
		return 0;
	}
	msg_warn("%s %s: %s; retry %d in %lld ms", req_name[rq->kind], uri, err,
	    rq->rs.attempt, (long long)delay);
	rq->pending = 1;
	rq->not_before = now + delay;
	return 1;
}

/* A failure for good; reason is "Request: error". */
static void
on_failed(struct req *rq, const char *err, const char *reason,
    const char *uri, int64_t now)
{
	struct s3up_job *j = rq->job;

	switch (rq->kind) {
	case R_ABORT_OLD:
		msg_warn("%s: cannot abort multipart upload %s of an earlier "
		    "run: %s", uri, j->old_upload_id, reason);
		free(j->old_upload_id);
		j->old_upload_id = NULL;
		j->state = J_NEW;
		break;
	case R_HEAD:
		if (!j->upload_gone)
			msg_seterr(WHY(j), "already exists (--no-overwrite: "
			    "PreconditionFailed, HTTP 412), and cannot be "
			    "compared: %s", err);
		on_head(j, NULL, uri, now);
		break;
	case R_PUT:
	case R_CREATE:
		msg_seterr(WHY(j), "%s", reason);
		job_fail(j);
		break;
	case R_PART:
	case R_COMPLETE:
		msg_seterr(WHY(j), "%s", reason);
		/* A recorded upload stays for its commit to complete. */
		if (j->op == OP_COMPLETE) {
			job_fail(j);
			break;
		}
		j->state = J_PARTS;
		j->failing = 1;
		break;
	case R_LIST:
		list_failed(j, uri, reason, now);
		break;
	case R_ABORT_STRAY:
		msg_warn("%s: cannot abort multipart upload %s: %s", uri,
		    j->stray[j->nstray - 1], reason);
		stray_done(j, now);
		break;
	case R_ABORT:
		/* record() was not told: the caller keeps the id, and a later
		 * run can abort it.  The reason the upload was aborted for
		 * stays the job's. */
		msg_warn("%s: multipart upload %s not aborted: %s", uri,
		    j->upload_id, err);
		if (j->op == OP_ABORT || j->res.why[0] == '\0')
			msg_seterr(WHY(j), "%s", reason);
		if (j->abort_ok && j->op != OP_ABORT)
			job_done(j);
		else
			job_fail(j);
		break;
	}
}

/* Handles one finished request. */
static void
on_done(struct s3up *e, struct http_xfer *x)
{
	struct req *rq = http_xfer_user(x);
	struct s3up_job *j = rq->job;
	struct http_response *resp = http_xfer_response(x);
	char err[512], code[128], msg[256], reason[700];
	struct buf ub = BUF_INIT;
	int64_t now = kptime_mono_ms();
	enum retry_kind kind;
	const char *uri;

	rq->x = NULL;
	j->inflight--;
	s3up_uri(e, j->key, &ub);
	uri = buf_cstr(&ub) != NULL ? ub.p : j->key;
	kind = aws_outcome(resp, err, sizeof(err));
	if (resp->status >= 200 && resp->status < 300 &&
	    (rq->kind != R_COMPLETE || !s3_complete_error(resp->body, code,
	    sizeof(code), msg, sizeof(msg)))) {
		on_ok(rq, resp, uri, now);
		goto out;
	}
	if (resp->status >= 200 && resp->status < 300) {
		/* CompleteMultipartUpload may fail after its 200 header. */
		snprintf(err, sizeof(err), "%s: %s (in a 200 answer)",
		    code[0] ? code : "Error", msg[0] ? msg : "no message");
		kind = retry_classify(500, 0, code);
	}
	if (!rq->redirected && aws_s3_redirect(e->aws, e->d->s3.bucket,
	    rq->kind == R_HEAD, resp)) {
		/* The bucket's region is known now: sent there at once. */
		rq->redirected = 1;
		rq->pending = 1;
		rq->not_before = now;
		goto out;
	}
	snprintf(reason, sizeof(reason), "%s: %s", req_name[rq->kind], err);
	if (!on_special(rq, resp, kind, err, uri, now) &&
	    !on_retry(rq, resp, kind, err, uri, now, reason, sizeof(reason)))
		on_failed(rq, err, reason, uri, now);
out:
	s3_request_clear(&rq->sr);
	buf_free(&ub);
	http_xfer_free(x);
}

/* ---- the engine ---- */

struct s3up *
s3up_new(const struct s3up_config *cfg, char *err, size_t errsz)
{
	struct s3up *e;

	if (cfg->dest == NULL || cfg->part_size < S3_PART_MIN ||
	    cfg->max_in_flight < 1 || cfg->max_chunks < 1) {
		snprintf(err, errsz, "no destination, a part size under 5 MiB, "
		    "or no request or chunk allowed");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	e->c = *cfg;
	e->d = cfg->dest;
	e->tail = &e->queue;
	if (!e->d->local) {
		e->aws = e->d->aws;
		e->http = aws_client_http(e->aws);
	}
	return e;
}

void
s3up_free(struct s3up *e)
{
	if (e == NULL)
		return;
	s3up_abandon(e);
	while (e->queue != NULL) {
		struct s3up_job *j = e->queue;

		e->queue = j->next;
		s3up_job_free(j);
	}
	free(e);
}

void
s3up_service(struct s3up *e)
{
	struct http_xfer *x;

	if (e->http != NULL)
		while ((x = http_wait(e->http, 0)) != NULL)
			on_done(e, x);
	pump(e);
}

struct s3up_job *
s3up_next(struct s3up *e)
{
	struct s3up_job *j = e->queue;

	if (j == NULL || (j->state != J_DONE && j->state != J_FAILED))
		return NULL;
	e->queue = j->next;
	if (e->queue == NULL)
		e->tail = &e->queue;
	e->njobs--;
	j->next = NULL;
	return j;
}

/* Drops rq's transfer, if any. */
static void
req_drop(struct req *rq)
{
	if (rq->x != NULL) {
		http_xfer_free(rq->x);
		rq->x = NULL;
		rq->job->inflight--;
	}
	s3_request_clear(&rq->sr);
}

struct s3up_job *
s3up_drop(struct s3up *e)
{
	struct s3up_job *j = e->queue;

	if (j == NULL)
		return NULL;
	s3up_abandon(e);
	if (j->state != J_DONE && j->state != J_FAILED)
		job_fail(j);
	return s3up_next(e);
}

size_t
s3up_pending(const struct s3up *e)
{
	return e->njobs;
}

int64_t
s3up_wake(const struct s3up *e, int64_t now, int64_t until)
{
	const struct s3up_job *j;
	size_t i;

	for (j = e->queue; j != NULL; j = j->next) {
		if (j->one.pending && j->one.not_before < until)
			until = j->one.not_before;
		for (i = 0; i < j->nchunks; i++)
			if (j->chunks[i]->rq.pending &&
			    j->chunks[i]->rq.not_before < until)
				until = j->chunks[i]->rq.not_before;
	}
	/* Due, but every slot taken: a request finishing wakes the poll. */
	if (e->http != NULL && until < now + 1 && !slots(e))
		until = now + WAIT_MAX_MS;
	return until;
}

int
s3up_poll(struct s3up *e, int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (timeout_ms < 0)
		timeout_ms = 0;
	if (e->http != NULL)
		return http_poll_fd(e->http, fd, timeout_ms) > 0;
	if (fd < 0) {
		struct timespec ts = { timeout_ms / 1000,
		    (long)(timeout_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return 0;
	}
	return poll(&pfd, 1, timeout_ms) > 0;
}

void
s3up_giveup(struct s3up *e)
{
	e->giveup = 1;
}

void
s3up_abandon(struct s3up *e)
{
	struct s3up_job *j;
	struct http_xfer *x;
	size_t i;

	e->giveup = 1;
	/* Finished ones first: they are the client's until handed out. */
	if (e->http != NULL) {
		while ((x = http_wait(e->http, 0)) != NULL) {
			struct req *rq = http_xfer_user(x);

			rq->x = NULL;
			rq->job->inflight--;
			http_xfer_free(x);
		}
	}
	for (j = e->queue; j != NULL; j = j->next) {
		req_drop(&j->one);
		for (i = 0; i < j->nchunks; i++)
			req_drop(&j->chunks[i]->rq);
	}
}
