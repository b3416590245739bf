/*
 * putagg.h - kin-put --aggregate: packs the user records of a batch into
 * Kinesis records in the KPL's aggregated format (kpl.h).
 *
 * The records of one partition key go into one aggregated record, whose
 * PartitionKey (and ExplicitHashKey) is theirs, so it lands on their
 * shard.  A request holds at most one Kinesis record per key: its user
 * records are stored, or fail, together, so no later record of a key can
 * be stored before an earlier one that failed in the same request
 * (kin-put(1), "Order").  When a key's aggregate is full (max_agg_bytes,
 * data plus key, or max_agg_records user records) or its next record has
 * another explicit hash key, the key's next records wait for the next
 * request.  An aggregate of one user record is sent as that record, not
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
	struct putq_rec **left; /* per user record: scratch */
	size_t rcap;
	struct htab open;        /* partition key -> its open entry + 1 */
	struct buf blob;         /* the entries' data, back to back */
};

#define PUTAGG_INIT { NULL, 0, 0, NULL, NULL, NULL, 0, HTAB_INIT, BUF_INIT }

/*
 * Packs recs[0..n) (a batch taken from the queue, in input order) into
 * entries and encodes them into a->blob.  Reorders recs: the k records
 * packed first, then those that did not fit in the request, each part in
 * input order; returns k.  The caller gives the others back (putq_untake(),
 * recs[n - 1] first): of each key, they are its last records taken.
 * Returns (size_t)-1 when memory is short, recs unchanged.  a->of[i] is
 * the entry of user record i < k.
 */
size_t putagg_pack(struct putagg *a, struct putq_rec **recs, size_t n,
    const struct putagg_limits *l);

/* Frees what a holds; accepts NULL. */
void putagg_free(struct putagg *a);

#endif
