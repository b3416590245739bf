/*
 * putagg.h - kin-put --aggregate: packs the user records of a batch into
 * Kinesis records in the KPL's aggregated format (kpl.h).
 *
 * The records of one partition key and explicit hash key (if any) go into
 * one aggregated record, whose PartitionKey (and ExplicitHashKey) is
 * theirs, so it lands on their shard; when it is full (max_agg_bytes, data
 * plus key, or max_agg_records user records) their next records start
 * another.  An aggregate of one user record is sent as that record, not
 * aggregated, as the KPL does (KinesisRecord::serialize()): so a record
 * too large to share an aggregate goes alone, as without --aggregate.
 * Nothing here sends, prints or reads the clock.
 */
#ifndef KP_PUTAGG_H
#define KP_PUTAGG_H

#include <stddef.h>

#include "buf.h"
#include "htab.h"
#include "putq.h"

struct putagg_limits {
	size_t max_entries;      /* Kinesis records per request (500) */
	size_t max_bytes;        /* per request, data plus keys (5 MiB) */
	size_t max_agg_bytes;    /* per aggregated record, data plus key */
	size_t max_agg_records;  /* user records per aggregated record */
};

/* One Kinesis record of the request. */
struct putagg_entry {
	size_t first, last;      /* its user records: indexes into recs */
	size_t count;
	size_t size;             /* its data (as it will be encoded) */
	const char *pk;          /* borrowed from its first user record */
	size_t pklen;
	const char *ehk;         /* NULL: none */
	size_t ehklen;
	const char *data;        /* after putagg_pack(): in blob, or the
	                          * user record's own when count is 1 */
};

struct putagg {
	struct putagg_entry *ent;
	size_t n, cap;
	size_t *next;            /* per user record: the next one of its
	                          * entry, or SIZE_MAX */
	size_t *of;              /* per user record: its entry */
	size_t rcap;
	struct htab open;        /* partition key -> its open entry + 1 */
	struct buf blob;         /* the entries' data, back to back */
};

#define PUTAGG_INIT { NULL, 0, 0, NULL, NULL, 0, HTAB_INIT, BUF_INIT }

/*
 * Packs recs[0..n) (a batch taken from the queue, in input order) into
 * entries and encodes them into a->blob.  Returns how many of recs are
 * packed, always a prefix: the records after it did not fit in the
 * request, and the caller gives them back (putq_untake(), last first).
 * Returns (size_t)-1 when memory is short.  a->of[i] is the entry of
 * user record i.
 */
size_t putagg_pack(struct putagg *a, struct putq_rec *const *recs, size_t n,
    const struct putagg_limits *l);

/* Frees what a holds; accepts NULL. */
void putagg_free(struct putagg *a);

#endif
