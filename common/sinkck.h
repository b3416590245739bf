/*
 * sinkck.h - the sink's side of the exactly-once commit (kinpipe(7),
 * CHECKPOINTS): what s3-put writes into the commit record, and how it
 * starts again from it.
 *
 * Between two barriers, parts that roll are staged: their records are
 * durable in the spool (under the checkpoint directory), nothing of them is
 * at the destination.  At a barrier the open parts are fsynced and the
 * commit record is written, naming the barrier's positions, every part
 * staged or still undelivered (pending) and every open part with its
 * length: that write is the pipeline's commit point.  Only then do the
 * staged parts go to the destination, each written at most once under a
 * name chosen before the commit (If-None-Match: *, and on a 412 a
 * comparison of content).
 *
 * On start the last commit says it all: its pending parts are delivered
 * again (an upload a crash left open is aborted first), its open parts are
 * cut back to their committed length and written on, and every other file
 * of the spool, the work of an epoch that never committed, is removed.
 * A spool file is removed once its object is delivered, so a pending part
 * whose file is gone was delivered.
 *
 * Messages go to the caller's buffer; nothing prints but msg_info().
 */
#ifndef KP_SINKCK_H
#define KP_SINKCK_H

#include <stddef.h>
#include <stdint.h>

#include <json.h>

#include "ckpt.h"

struct outbox;
struct parts;
struct spool;
struct spool_entry;

/* A part as the commit record names it. */
struct sinkck_part {
	uint64_t seq;          /* its spool file */
	char *key;             /* its object */
	char *tb;              /* its time bucket (open parts) */
	uint64_t bytes, records;
	int64_t first_ms, last_ms;
	int64_t opened_ms;     /* wall clock the part opened (open parts) */
};

void sinkck_part_clear(struct sinkck_part *p);

struct sinkck {
	/* The sink's, borrowed: set after sinkck_open(). */
	struct spool *sp;
	struct parts *ps;               /* its open parts */
	struct outbox *ob;              /* where committed parts go */
	/* The module's. */
	struct ckpt_dir *ck;
	char job[CKPT_JOB_MAX + 1];
	uint64_t committed;             /* the last commit's id; 0: none */
	struct json_object *shape;      /* what names and shapes objects */
	char *ident;                    /* the destination */
	struct sinkck_part *staged;     /* rolled since the last commit */
	size_t nstaged;
	struct sinkck_part *pending;    /* committed, not delivered yet */
	size_t npending;
	struct sinkck_part *open;       /* the last commit's open parts, at
	                                 * start only */
	size_t nopen;
};

/*
 * Opens the checkpoint directory dir for s3-put (its lock), sets the job
 * (job, --job, if not NULL, else the one kin-read recorded in DIR/job:
 * sinkck_job() reads it when first needed) and reads the last commit:
 * the parts it left pending end in c->pending, its open parts in c->open.
 * shape (taken) and ident name the options that shape objects and the
 * destination: a commit written with others, of another job, damaged or
 * newer is refused, before the spool is touched.  Returns 0, or an exit
 * status with err.
 */
int sinkck_open(struct sinkck *c, const char *dir, const char *job,
    const char *ident, struct json_object *shape, char *err, size_t errsz);
void sinkck_close(struct sinkck *c);

/* The job, read from DIR/job the first time.  NULL with err when there is
 * none (kin-read --checkpoint-dir upstream writes it). */
const char *sinkck_job(struct sinkck *c, char *err, size_t errsz);

/*
 * Brings the spool sp into line with the last commit (sinkck_open() read
 * it): the pending parts whose files are gone were delivered and leave
 * c->pending, the open parts' files stay (reopen them), and every other
 * part file is removed.  Returns 0, or an exit status with err.
 */
int sinkck_recover(struct sinkck *c, struct spool *sp, char *err,
    size_t errsz);

/* A part rolled: staged until the next commit (its strings taken).
 * Returns 0, or -1 when memory is short. */
int sinkck_stage(struct sinkck *c, struct sinkck_part *p);

/* The same for a rolled part as parts.h hands it over (a parts_roll_fn):
 * the entry's strings are taken or freed.  0, or -1. */
int sinkck_stage_entry(struct sinkck *c, struct spool_entry *e,
    const char *tb);

/*
 * The sink's whole barrier: a final barrier rolls every open part; the
 * open parts are fsynced; the commit is written (sinkck_commit()); the
 * parts it made pending go to the outbox.  Returns 0, or -1 with err.
 */
int sinkck_barrier(struct sinkck *c, const struct ckpt_barrier *b,
    char *err, size_t errsz);

/*
 * The sink's start: sinkck_recover(), then the pending parts go to the
 * outbox (an upload a crash left open is aborted first) and the open
 * parts are opened again in c->ps.  Returns 0, or an exit status with
 * err.
 */
int sinkck_restart(struct sinkck *c, char *err, size_t errsz);

/*
 * Commits barrier b: writes the commit record with b's positions, the
 * parts staged and pending, and the open parts given (already fsynced).
  * On success the staged parts become pending and *fresh, *nfresh name them
 * (borrowed from c->pending: hand them to the destination now).  Returns
 * 0, or -1 with err (nothing changed; the previous commit stands).
 */
int sinkck_commit(struct sinkck *c, const struct ckpt_barrier *b,
    const struct sinkck_part *open, size_t nopen,
    const struct sinkck_part **fresh, size_t *nfresh, char *err,
    size_t errsz);

/* Part seq was delivered: no later commit names it. */
void sinkck_delivered(struct sinkck *c, uint64_t seq);

#endif
