/*
 * s3up.h - the upload engine: delivers objects to an S3 bucket (or, the
 * same way, to a local directory) without blocking its caller.
 *
 * A tool submits jobs and services the engine from its own loop:
 *
 *   e = s3up_new(&cfg, err, sizeof(err));
 *   j = s3up_put(e, key, &src, NULL, 0, me);    // any number of them
 *   for (;;) {
 *       s3up_poll(e, fd, s3up_wake(e, now, until) - now);
 *       s3up_service(e);                        // collect, start, retry
 *       while ((j = s3up_next(e)) != NULL) {    // in submission order
 *           ... s3up_result(j) ...
 *           s3up_job_free(j);
 *       }
 *   }
 *
 * Every request runs on the AWS client's libcurl multi handle, up to
 * max_in_flight at once, each with its own retry state (retry.h: backoff,
 * Retry-After, a time budget; expired credentials refreshed once).  An
 * object's bytes are read from a file (a sink's spool file) when its job
 * starts, through gzip or not, in chunks of part_size: memory holds at most
 * max_chunks chunks whatever the number of jobs queued, and a queued job
 * holds no descriptor.  Jobs of one key run one after the other, in
 * submission order.
 *
 * Operations:
 *   PUT       the whole object, now: PutObject when it fits in one chunk,
 *             else CreateMultipartUpload, UploadPart for each chunk and
 *             CompleteMultipartUpload; an upload left by an earlier run
 *             (old_upload_id) is aborted first.  A failed multipart upload
 *             is aborted.
 *   STAGE     CreateMultipartUpload and every UploadPart, not completed:
 *             the result holds the upload id and each part's number, ETag
 *             and checksum, to be written into a commit record.  A failure
 *             aborts the upload.
 *   COMPLETE  CompleteMultipartUpload of a staged upload, by its id and
 *             parts (as recorded, possibly by an earlier process).  A
 *             failure does not abort it: the commit record still needs it.
 *   ABORT     AbortMultipartUpload by id; an upload already gone counts
 *             as aborted.
 * This is the two-phase commit of Flink's FileSink: STAGE before the
 * commit point (the id and parts go into the commit record), COMPLETE
 * after it, or, on recovery, COMPLETE for a committed epoch and ABORT for
 * one that never committed.
 *
 * With if_none_match (s3_object_opts), PutObject and
 * CompleteMultipartUpload never replace an object: on 412 Precondition
 * Failed (or NoSuchUpload when completing a recorded upload) the engine
 * asks HeadObject for the ETag there and compares it with the one this
 * object has (s3_object_etag(): single or multipart), so that an object
 * delivered by an earlier run counts as delivered (result.existed), and
 * an upload left open by the 412 is aborted.
 *
 * With expected_owner (s3_object_opts) every request to the bucket, the
 * parts, HEAD, listing and aborts included, carries
 * x-amz-expected-bucket-owner; with checksum S3_CHECKSUM_CRC32C each chunk's
 * CRC-32C is computed and sent, and kept with its part for the Complete.
 *
 * A directory has no multipart upload: PUT publishes the file
 * with kpfs_publish(), synchronously when the job's turn comes; STAGE,
 * COMPLETE and ABORT fail.
 *
 * The engine may print diagnostics on stderr (msg.h): a warning per retry,
 * information with -v; a job's failure is its result's why.
 */
#ifndef KP_S3UP_H
#define KP_S3UP_H

#include <stddef.h>
#include <stdint.h>

#include "s3.h"

struct aws_client;
struct aws_opts;
struct buf;
struct s3up;
struct s3up_job;

/* A destination of objects. */
struct s3up_dest {
	int local;                 /* a directory; else an S3 bucket */
	struct s3_uri s3;          /* S3: the bucket, and the prefix of keys */
	struct aws_client *aws;    /* S3: the client */
	char *root;                /* a directory: its absolute path, without
	                            * a trailing '/' ("" for the root) */
	int rootfd;                /* a directory: open */
	char *ident;               /* a text naming the destination: endpoint,
	                            * bucket and prefix, or the path (the
	                            * identity of its spool) */
	int created;               /* a directory: s3up_dest_open() made it */
};

/*
 * Opens a destination: "s3://BUCKET[/PREFIX]" (an S3 client configured by
 * ao: credentials, region, endpoint), or "file:///PATH" or a plain PATH (a
 * directory, created if missing).  Returns 0, or -1 with err set and
 * *config_error when the URI or the configuration is to blame (exit 2).
 */
int s3up_dest_open(struct s3up_dest *d, const char *uri,
    const struct aws_opts *ao, char *err, size_t errsz, int *config_error);
/* Closes what s3up_dest_open() opened; accepts a zeroed struct. */
void s3up_dest_close(struct s3up_dest *d);
/* Removes the directory s3up_dest_open() created, if it is still empty:
 * a run refused before it wrote anything leaves nothing behind. */
void s3up_dest_unmake(struct s3up_dest *d);

struct s3up_config {
	const struct s3up_dest *dest;  /* borrowed: outlives the engine */
	struct s3_object_opts obj;     /* headers of the objects created;
	                                * strings borrowed */
	uint64_t part_size;            /* chunk size: objects up to it go in
	                                * one PutObject; at least 5 MiB */
	int max_in_flight;             /* requests at once, >= 1 */
	int max_chunks;                /* chunks held in memory, >= 1 */
	/*
	 * Called with a job's user pointer and its upload id as soon as
	 * CreateMultipartUpload answers (before any part is sent), and with
	 * NULL once the engine has aborted it: the caller keeps the id where
	 * a restart finds it.  Returns 0, or -1 when it cannot: the upload is
	 * then aborted and the job fails.  NULL: not told.
	 */
	int (*record)(void *user, const char *upload_id);
};

/* Where an object's bytes come from. */
struct s3up_source {
	int dirfd;          /* borrowed: must stay open while the job runs */
	const char *name;   /* a file below dirfd (copied) */
	uint64_t len;       /* bytes of it, from its start */
	int gzip;           /* the object is those bytes gzip-compressed */
};

/* The outcome of a finished job. */
struct s3up_result {
	int ok;                   /* delivered, staged, completed, aborted */
	char why[600];            /* else the reason */
	char etag[S3_ETAG_MAX];   /* the object's ETag, no quotes (PUT,
	                           * COMPLETE; for a directory the MD5) */
	uint64_t bytes;           /* object bytes sent (PUT, STAGE) */
	int existed;              /* if_none_match: it was there already,
	                           * with the same content */
	char *upload_id;          /* STAGE: the upload */
	struct s3_part *parts;    /* STAGE: its parts, in order */
	size_t nparts;
};

/* Returns a new engine, or NULL with the reason in err.  Free with
 * s3up_free(). */
struct s3up *s3up_new(const struct s3up_config *cfg, char *err,
    size_t errsz);

/* Frees the engine with every job not handed back (their requests in
 * flight are dropped); accepts NULL. */
void s3up_free(struct s3up *e);

/*
 * Submit a job; user is the caller's, handed to record() and back by
 * s3up_user().  Each returns the job, which the engine owns until
 * s3up_next() hands it back, or NULL when memory is short.
 *
 * s3up_put: the object key from src; old_upload_id (or NULL) is an upload
 * of the same key left by an earlier run, aborted before anything else.
 * With S3UP_SWEEP in flags (an object an earlier run may have begun), a
 * multipart upload lists the uploads of its key once it is created and
 * aborts the others, which a run killed before it recorded their ids left
 * open; a job whose CreateMultipartUpload is retried does so too, since a
 * lost answer may have created one.  A listing refused (no
 * s3:ListBucketMultipartUploads, a server without the call) is one
 * warning per engine and the job goes on.
 */
#define S3UP_SWEEP 1
struct s3up_job *s3up_put(struct s3up *e, const char *key,
    const struct s3up_source *src, const char *old_upload_id, int flags,
    void *user);
struct s3up_job *s3up_stage(struct s3up *e, const char *key,
    const struct s3up_source *src, void *user);
/* parts[0..n) are copied. */
struct s3up_job *s3up_complete(struct s3up *e, const char *key,
    const char *upload_id, const struct s3_part *parts, size_t n,
    void *user);
struct s3up_job *s3up_abort(struct s3up *e, const char *key,
    const char *upload_id, void *user);

/* Collects the requests that finished, retries and starts what can
 * start.  Never blocks (but a directory's publish is synchronous). */
void s3up_service(struct s3up *e);

/* The oldest job submitted, once it is finished (the caller then owns
 * it), else NULL: results come back in submission order. */
struct s3up_job *s3up_next(struct s3up *e);

/* The oldest job whatever its state, its requests dropped: at the end of
 * a run, so that the caller can free what user points at.  NULL when no
 * job is left. */
struct s3up_job *s3up_drop(struct s3up *e);

/* Jobs submitted and not handed back yet. */
size_t s3up_pending(const struct s3up *e);

/*
 * When the engine next needs s3up_service(): the earlier of until and the
 * time of its next retry (monotonic ms, kptime_mono_ms()); when something
 * is due but no request may start, a while later (a finishing request
 * wakes s3up_poll() anyway).
 */
int64_t s3up_wake(const struct s3up *e, int64_t now, int64_t until);

/* Waits up to timeout_ms for a request to make progress or fd (-1: none)
 * to become readable.  Returns 1 when fd is readable, else 0. */
int s3up_poll(struct s3up *e, int fd, int timeout_ms);

/* From now on a failure is final: no request is retried (a second
 * signal: stop trying). */
void s3up_giveup(struct s3up *e);

/* Drops every request in flight; their jobs stay unfinished (pending)
 * and are freed with the engine. */
void s3up_abandon(struct s3up *e);

/* "s3://BUCKET/KEY" or "file:///ROOT/KEY", appended to out. */
void s3up_uri(const struct s3up *e, const char *key, struct buf *out);

const struct s3up_result *s3up_result(const struct s3up_job *j);
const char *s3up_key(const struct s3up_job *j);
void *s3up_user(const struct s3up_job *j);

/* Frees a job handed back by s3up_next(); accepts NULL. */
void s3up_job_free(struct s3up_job *j);

#endif
