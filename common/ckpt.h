/*
 * ckpt.h - checkpoints: the barrier control line, the checkpoint directory
 * of a pipeline and its commit record (kinpipe(7), CHECKPOINTS).
 *
 * A pipeline's stages share one directory.  kin-read emits barriers, control
 * lines that carry an increasing id and the position of every shard after
 * the last record written before them; every stage acts on a barrier when
 * it reaches it (window-stats writes a snapshot, s3-put makes the records
 * before it durable) and passes it on.  The sink then writes the commit
 * record, DIR/commit.json, with write, fsync, rename and a directory fsync:
 * that one write commits the pipeline's state at the barrier.  On restart
 * every stage reads the commit record and starts from it.
 *
 * Every file is small text a person can cat.  Nothing here prints; errors
 * come back as text in a caller buffer, with a kind that says how a tool
 * should exit (CKPT_E_*).
 */
#ifndef KP_CKPT_H
#define KP_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include <json.h>

struct buf;

/* The format of barriers and of the commit record. */
#define CKPT_VERSION 1

/* Longest job name: it goes into object names. */
#define CKPT_JOB_MAX 64

/* The kinds of error, for the exit status (kinpipe(7), EXIT STATUS). */
enum ckpt_err {
	CKPT_OK = 0,
	CKPT_E_IO = 1,      /* a file could not be read or written: exit 1 */
	CKPT_E_BUSY,        /* another process holds the lock: exit 1 */
	CKPT_E_FOREIGN,     /* another job's directory, or not ours: exit 2 */
	CKPT_E_NEWER,       /* written by a newer format: exit 2 */
	CKPT_E_CORRUPT,     /* a file is damaged: exit 2 */
};

/* The exit status for an error kind. */
int ckpt_exit_status(enum ckpt_err e);

/* The position of one shard. */
struct ckpt_pos {
	char *shard;
	char *seq;          /* the last sequence number written; NULL: none */
	int has_sub;        /* seq is an aggregate (KPL) cut after sub-record */
	uint64_t sub;       /*   sub (0-based) */
	char *start;        /* without seq: where the shard is read from,
	                     * "trim-horizon" or "at-timestamp:TIME" */
	int done;           /* the shard is closed and read to its end */
};

/* A barrier, or the state a commit record commits. */
struct ckpt_barrier {
	uint64_t id;        /* 1, 2, ...: the epoch it ends */
	char *job;
	char *stream;
	int final;          /* the last barrier of a run (end of a bounded
	                     * read, or a stop) */
	struct ckpt_pos *pos;
	size_t npos;
};

/* Frees the members of b and zeroes it; accepts a zeroed struct. */
void ckpt_barrier_clear(struct ckpt_barrier *b);

/* Deep copy into a zeroed dst.  Returns 0, or -1 (no memory; dst cleared). */
int ckpt_barrier_copy(struct ckpt_barrier *dst, const struct ckpt_barrier *src);

/*
 * Adds or replaces the position of shard in b (a copy of every string).
 * seq or start may be NULL.  Returns the entry, or NULL on no memory.
 */
struct ckpt_pos *ckpt_pos_set(struct ckpt_barrier *b, const char *shard,
    const char *seq, const char *start);

/* The position of shard in b, or NULL. */
struct ckpt_pos *ckpt_pos_find(const struct ckpt_barrier *b,
    const char *shard);

/*
 * The control line of barrier b (no newline), appended to out:
 *   {"__kinpipe":{"barrier":ID,"job":"J","stream":"S","final":false,
 *    "positions":{"SHARD":{"seq":"N"},"SHARD":{"seq":"N","sub":2},
 *    "SHARD":{"start":"trim-horizon"},"SHARD":{"seq":"N","done":true}}}}
 * Sequence numbers are JSON strings: jq and friends round big numbers.
 */
void ckpt_barrier_line(const struct ckpt_barrier *b, struct buf *out);

/*
 * Reads a control line.  Returns 1 with *b filled (ckpt_barrier_clear() it)
 * when it is a barrier, 0 when it is another control line (passed on
 * untouched), -1 with a reason in err when it claims to be a barrier but is
 * malformed or of a newer version.
 */
int ckpt_barrier_parse(const char *line, size_t len, struct ckpt_barrier *b,
    char *err, size_t errsz);

/*
 * A job name from a stream name or ARN: the stream's name, with characters
 * outside A-Z a-z 0-9 . _ - made '-', cut to CKPT_JOB_MAX.  Returns 0, or -1
 * when nothing is left.
 */
int ckpt_job_from_stream(const char *stream, char *out, size_t outsz);

/* 1 when name is a valid job name: 1 to CKPT_JOB_MAX of A-Z a-z 0-9 . _ - */
int ckpt_job_ok(const char *name);

/* ---- the directory ---- */

struct ckpt_dir;

/*
 * Opens (creating it and its parents, mode 0700) the checkpoint directory
 * path for tool ("kin-read", "window-stats", "s3-put") and takes the tool's
 * lock, DIR/.TOOL.lock, so that two runs of one stage never share it.
 * Returns 0 and *out (free with ckpt_close()), or -1 with err and *kind.
 */
int ckpt_open(const char *path, const char *tool, struct ckpt_dir **out,
    enum ckpt_err *kind, char *err, size_t errsz);
void ckpt_close(struct ckpt_dir *d);

const char *ckpt_path(const struct ckpt_dir *d);
int ckpt_fd(const struct ckpt_dir *d);

/* What a commit record holds. */
struct ckpt_commit {
	struct ckpt_barrier b;        /* id, job, stream, positions */
	char *committer;              /* "s3-put", "kin-read" */
	struct json_object *sink;     /* the committer's own state, or NULL
	                               * (owned: json_object_put) */
};

void ckpt_commit_clear(struct ckpt_commit *c);

/*
 * Reads DIR/commit.json.  Returns 1 with *c filled when there is one, 0 when
 * there is none (a new pipeline), -1 with err and *kind when it cannot be
 * read, is damaged, is not a kinpipe commit record or is of a newer
 * version.  The message says what to do.
 */
int ckpt_read_commit(struct ckpt_dir *d, struct ckpt_commit *c,
    enum ckpt_err *kind, char *err, size_t errsz);

/*
 * Writes the commit record atomically: the one commit point of the
 * pipeline.  Returns 0, or -1 with err (the previous record stays).
 */
int ckpt_write_commit(struct ckpt_dir *d, const struct ckpt_commit *c,
    char *err, size_t errsz);

/*
 * A file of the directory (name without '/'): replaced atomically (write,
 * fsync, rename, directory fsync), read whole (a new NUL-terminated buffer
 * in *data, *len; 0, 1 when absent, -1 with errno), removed.
 */
int ckpt_write_file(struct ckpt_dir *d, const char *name, const void *data,
    size_t len);
int ckpt_read_file(struct ckpt_dir *d, const char *name, char **data,
    size_t *len);
int ckpt_remove_file(struct ckpt_dir *d, const char *name);

/* The name of tool's snapshot at barrier id: "TOOL.ID.state". */
void ckpt_snapshot_name(const char *tool, uint64_t id, char *out,
    size_t outsz);

/*
 * Removes the files PREFIX<ID>SUFFIX of the directory whose ID is below
 * keep (snapshots of epochs a later commit made useless).  Returns how many
 * went, or -1.
 */
int ckpt_prune(struct ckpt_dir *d, const char *prefix, const char *suffix,
    uint64_t keep);

#endif
