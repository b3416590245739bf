/*
 * parts.h - the open parts of a file sink, bucketed and rolled as Flink's
 * FileSink does for row formats: each record goes to the part of its time
 * bucket (a strftime name of its event time, or of the processing time),
 * appended to a spool file (spool.h); a part rolls by Flink's
 * DefaultRollingPolicy: its size, its record count, the time since it
 * opened, the time since its last record.  A rolled part is sealed (its
 * records fsynced) and handed to the caller's roll function, which sends it
 * on or stages it for a commit.
 *
 * The caller names parts (its naming function) and receives them rolled;
 * the policy is the caller's options.  Errors come back as text in
 * ps->err; nothing prints.
 */
#ifndef KP_PARTS_H
#define KP_PARTS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"

struct buf;

/* Most parts open at once: beyond, the least recently written rolls. */
#define PARTS_MAX_OPEN 256

struct part {
	struct part *next;
	char *tb;                 /* its time bucket */
	struct spool_meta meta;   /* its manifest: key, ... */
	struct spool_part f;      /* its spool file and counts */
	int64_t first_ms, last_ms;      /* event times */
	int64_t opened_mono, last_mono; /* monotonic: opened, last record */
	uint64_t last_seq;        /* order of its last record (LRU) */
	int touched;              /* a record since last_mono was set */
};

struct parts_policy {
	const char *bucket_format;    /* strftime, UTC; "" for no bucket */
	uint64_t max_bytes;           /* bytes of records per part */
	uint64_t max_records;         /* 0: no limit */
	int64_t rollover_ms;          /* since the part opened; 0: off */
	int64_t inactivity_ms;        /* since its last record; 0: off */
};

/* Names a new part of bucket tb into key.  0, or -1 (it said why). */
typedef int (*parts_name_fn)(void *ctx, const char *tb, struct buf *key);

/* Takes a rolled part as a spool entry (its strings are the callee's)
 * and its bucket.  0, or -1 (fatal for the sink). */
typedef int (*parts_roll_fn)(void *ctx, struct spool_entry *e,
    const char *tb);

struct parts {
	/* Set by the caller. */
	struct spool *sp;
	struct parts_policy pol;
	struct spool_meta proto;      /* gzip, by_processing, time_field of
	                               * every part's manifest (borrowed) */
	parts_name_fn name;
	parts_roll_fn rolled;
	void *ctx;
	/* The parts'. */
	struct part *head;            /* in opening order */
	size_t n;
	uint64_t bytes;               /* spooled by the open parts */
	int64_t tb_sec;               /* cache of the last bucket */
	uint64_t seq;                 /* records added */
	char tb[256];
	char err[PATH_MAX + 256];     /* the last failure */
};

/* Gives a zeroed struct parts its initial state (no part open). */
void parts_init(struct parts *ps);

/* Closes every open part (their files stay) and frees them. */
void parts_free(struct parts *ps);

/* The bucket name of time ms by fmt, UTC, into out.  0, or -1 when it
 * gives no name or one too long. */
int parts_bucket(const char *fmt, int64_t ms, char *out, size_t outsz);

/* What names a sink's parts: "KEY_PREFIX BUCKET/PART_PREFIX-ID-N SUFFIX". */
struct parts_names {
	const char *bucket_format;
	const char *key_prefix;     /* the S3 destination's prefix; "" */
	int local;                  /* a local directory, not S3 */
	const char *part_prefix, *part_suffix;
	size_t id_max;              /* the longest ID */
	int gzip;                   /* ".gz" follows */
};

/*
 * Checks, before anything is created, that every name the sink can make is
 * valid: the bucket of any time (probed at times with the longest strftime
 * names) is a safe key piece, and the longest key, with an ID of id_max
 * bytes and the largest N, fits S3_KEY_MAX; in a local directory its last
 * piece, written first as ".NAME.tmp", fits NAME_MAX.  Returns 0, or -1
 * with "--option: reason" in err.
 */
int parts_names_check(const struct parts_names *pn, char *err, size_t errsz);

/*
 * One record, time t_ms, into the part of its bucket (opened when there is
 * none), rolling first by size and after by size and count.  Returns 0, or
 * -1 with ps->err (fatal).  The clock is read only when a part opens: a
 * part that took a record is marked, and its time of last record becomes
 * the now of the next parts_roll_due() (the caller takes records in short
 * non-blocking turns between two of them), so that a record costs no
 * clock read.
 */
int parts_add(struct parts *ps, const char *line, size_t len, int64_t t_ms);

/* Rolls p, or every part, or those whose rollover or inactivity time has
 * come (now, monotonic).  0, or -1 with ps->err. */
int parts_roll(struct parts *ps, struct part *p);
int parts_roll_all(struct parts *ps);
int parts_roll_due(struct parts *ps, int64_t now);

/* The earlier of until and the next rolling time of an open part (now,
 * monotonic: the last record of a marked part). */
int64_t parts_wake(const struct parts *ps, int64_t now, int64_t until);

/* Writes out what the parts hold in their buffers (seal: and fsyncs
 * their files).  0, or -1 with ps->err. */
int parts_flush(struct parts *ps);
int parts_seal(struct parts *ps);

/*
 * Opens again a part an earlier run left open (a checkpoint's commit said
 * so): its file cut back to bytes, its counts and times, and its age
 * taken from opened_ms (wall clock) so that --rollover goes on.  The
 * strings are copied.  0, or -1 with ps->err.
 */
int parts_reopen(struct parts *ps, uint64_t seq, const char *key,
    const char *tb, uint64_t bytes, uint64_t records, int64_t first_ms,
    int64_t last_ms, int64_t opened_ms, int64_t now, int64_t wall);

/*
 * The id in object names, derived from the input: the first 16 hex digits
 * of SHA-256 over the first record, into out (17 bytes).  Replaying the
 * same input gives the same id, so the same keys (the exactly-once commit
 * builds on that).  0, or -1 when OpenSSL fails.
 */
int parts_run_id(const char *line, size_t len, char *out);

#endif
