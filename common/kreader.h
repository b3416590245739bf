/*
 * kreader.h - reading a Kinesis stream shard by shard: the GetRecords
 * paging state machine of a consumer (Amazon Kinesis Data Streams API
 * Reference; the KCL's rules).
 *
 * Shards come from ListShards (every page, in creation order, so parents
 * precede their children).  A shard is read only once its parents are
 * finished, so the order of a partition key survives resharding; at most
 * five GetRecords calls a second go to a shard, an empty fetch waits the
 * poll interval and a throttled one backs off; an expired iterator is
 * replaced from the last position.  Where a shard starts comes from the
 * last commit of a checkpoint (ckpt.h) if there is one, else from the
 * consumer's --from.  The reader keeps, per shard, the position after the
 * last record its caller wrote (kr_wrote()), and gives it back as a
 * barrier's position (kr_barrier_pos()).
 *
 * The caller owns the records: kr_fetch() hands a GetRecords response
 * over, the caller writes its records, then kr_advance() moves the shard
 * on.  Messages go to stderr through msg.h (a failed call is an error).
 */
#ifndef KP_KREADER_H
#define KP_KREADER_H

#include <stddef.h>
#include <stdint.h>

#include "kinesis.h"

struct ckpt_barrier;

enum kr_state {
	KR_WAITING,    /* parents not finished yet */
	KR_READING,
	KR_FINISHED,   /* closed and drained, stopped by a limit, or done */
};

struct kr_shard {
	struct kinesis_shard k;  /* id, parents, hash key range, closed */
	enum kr_state state;
	int owned;               /* ours to read (--shards) */
	int initial;             /* listed when the read started */
	char *iter;
	char *last_seq;          /* the last sequence number written */
	unsigned long long last_sub; /* the sub-record within an aggregate */
	int cut;                 /* last_seq is an aggregate written up to
	                          * last_sub only */
	int ended;               /* closed, and read to its end */
	char *start;             /* with no last_seq: "trim-horizon" or
	                          * "at-timestamp:TIME" (from a commit) */
	char *skip_seq;          /* resumed at this aggregate: its records up */
	unsigned long long skip_sub; /* to skip_sub are written already */
	int caught_up;           /* the last fetch reached the tip */
	int64_t behind_ms;       /* its last MillisBehindLatest, or -1 */
	int64_t next_at;         /* monotonic ms of the next allowed call */
	int64_t window_start;    /* rate limit: five calls a second */
	int calls;
	int backoff;             /* consecutive throttles */
};

/* --from: where shards start without a commit. */
enum kr_from_kind { KR_FROM_TRIM, KR_FROM_LATEST, KR_FROM_AT, KR_FROM_AFTER };

struct kr_from {
	enum kr_from_kind kind;
	int64_t ms;              /* KR_FROM_AT */
	char **shard, **seq;     /* KR_FROM_AFTER: SHARD=SEQ pairs */
	size_t n;
};

/*
 * Parses a --from position: trim-horizon, latest, at-timestamp:TIME,
 * after-sequence:SHARD=SEQ[,SHARD=SEQ...].  Returns 0, -1 when it is not
 * one, or -2 when memory is short.
 */
int kr_from_parse(struct kr_from *f, const char *arg);
void kr_from_clear(struct kr_from *f);

struct kreader {
	/* Set by the caller; borrowed. */
	struct kinesis *k;
	char **only;             /* --shards: these and their children */
	size_t nonly;
	const struct kr_from *from;
	const struct ckpt_barrier *resume; /* the last commit, or NULL */
	int oldest;              /* --on-expired oldest */
	int limit;               /* records per GetRecords */
	int64_t poll_ms;         /* after an empty fetch */
	int64_t started_ms;      /* wall clock: "latest" in a barrier */
	/* The reader's. */
	struct kr_shard *shards;
	size_t n;
	int listed;
	int fail;                /* the exit status of the last failure */
	unsigned long long expired;  /* positions past the retention */
};

/* Frees the shards; the borrowed members stay the caller's. */
void kr_free(struct kreader *r);

struct kr_shard *kr_find(struct kreader *r, const char *id);

/* ListShards, every page; adds the shards not known yet.  Returns 0,
 * KR_INTERRUPTED when a signal stopped the call after the first listing
 * (said at -v; before it, that is a failure), or -1 after printing why. */
#define KR_INTERRUPTED 1
int kr_list(struct kreader *r);

/* Starts reading the waiting shards whose parents are finished. */
void kr_promote(struct kreader *r);

/*
 * One GetRecords call on shard s (getting an iterator first when it has
 * none).  Returns 1 with *res filled (the caller writes the records, then
 * calls kr_advance() and kinesis_records_free()), 0 when there is nothing
 * to take now (throttled, expired iterator, the shard finished, the call
 * stopped by a signal), or -1 on a failure (said on stderr; r->fail holds
 * the exit status).
 */
int kr_fetch(struct kreader *r, struct kr_shard *s, int64_t now,
    struct kinesis_records *res);

/* Moves s on after its records were taken: the next iterator, the end of
 * a closed shard, the tip, the next call's time.  Returns 0, or -1. */
int kr_advance(struct kreader *r, struct kr_shard *s,
    const struct kinesis_records *res, int64_t now);

/* The caller wrote (or rejected) the record seq (sub-record sub of an
 * aggregate when aggregated): the shard's position moves past it.
 * Returns 0, or -1 when memory is short. */
int kr_wrote(struct kr_shard *s, const char *seq, unsigned long long sub,
    int aggregated);

/* How many leading sub-records of aggregate seq of s were written before
 * a resume (0 for any other record); the resume is then behind. */
size_t kr_skip(struct kr_shard *s, const char *seq, size_t nsub);

/* Adds s's position to barrier b: after the last record written, or where
 * it starts.  Returns 0, or -1. */
int kr_barrier_pos(struct kreader *r, struct kr_shard *s,
    struct ckpt_barrier *b);

#endif
