/*
 * kpl.h - records aggregated by the Kinesis Producer Library.
 *
 * Format (amazon-kinesis-producer, aggregation-format.md): 4 magic bytes
 * F3 89 9A C2, a protobuf AggregatedRecord, then the MD5 of the protobuf
 * bytes.  AggregatedRecord { repeated string partition_key_table = 1;
 * repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
 * Record { required uint64 partition_key_index = 1; optional uint64
 * explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags =
 * 4; }.  A blob without the magic, too short, or whose MD5 does not match is
 * not aggregated: it is one ordinary record (as the KCL treats it).
 */
#ifndef KP_KPL_H
#define KP_KPL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define KPL_MAGIC "\xf3\x89\x9a\xc2"

/* One sub-record; pointers borrow from the blob. */
struct kpl_record {
	const unsigned char *data;
	size_t len;
	const char *pk;        /* not NUL-terminated */
	size_t pklen;
	const char *ehk;       /* NULL when absent */
	size_t ehklen;
};

struct kpl_agg {
	struct kpl_record *recs;
	size_t n;
};

/*
 * Decodes blob.  Returns 1 and fills *out (free with kpl_agg_free()) when it
 * is a valid aggregated record, 0 when it is not aggregated, -1 when it has
 * the magic and a matching MD5 but a malformed body (the caller reports it).
 */
int kpl_decode(const unsigned char *blob, size_t len, struct kpl_agg *out);
void kpl_agg_free(struct kpl_agg *a);

/*
 * Encodes n records (pks/datas) into an aggregated blob with every record
 * using its own partition key entry.  Returns a new buffer (free()) and
 * its length in *outlen, or NULL.  Used by tests to build fixtures.
 */
unsigned char *kpl_encode(const char *const *pks, const char *const *datas,
    const size_t *lens, size_t n, size_t *outlen);

/*
 * The encoder of kin-put --aggregate: one aggregated record whose user
 * records all share one partition key (table entry 0) and, when ehk is not
 * NULL, one explicit hash key (table entry 0), as the format allows ("the
 * key tables ... records point to the same key").  kpl_agg_begin() appends
 * the magic and the key tables to b, kpl_agg_add() one Record (index 0
 * for each key, data), kpl_agg_end() the MD5 of the protobuf bytes since
 * start + 4 (start: b->len before kpl_agg_begin()).  kpl_agg_end() returns
 * 0, or -1 when memory ran short (b->failed) or MD5 failed.
 */
void kpl_agg_begin(struct buf *b, const char *pk, size_t pklen,
    const char *ehk, size_t ehklen);
void kpl_agg_add(struct buf *b, const void *data, size_t len, int has_ehk);
int kpl_agg_end(struct buf *b, size_t start);

/* The bytes kpl_agg_begin() plus kpl_agg_end() write (ehk: 0 when none),
 * and the bytes one kpl_agg_add() writes: their sum is the blob's size. */
size_t kpl_agg_frame_size(size_t pklen, size_t ehklen);
size_t kpl_agg_rec_size(size_t len, int has_ehk);

/*
 * The 128-bit hash key of a sub-record, as a 16-byte big-endian number:
 * its explicit hash key (decimal) when present, else the MD5 of its
 * partition key, as Kinesis maps keys to shards.  Returns 0 or -1.
 */
int kpl_hash_key(const struct kpl_record *r, unsigned char out[16]);

/* Parses a decimal 128-bit number into 16 big-endian bytes.  0 or -1. */
int kpl_dec128(const char *s, size_t n, unsigned char out[16]);

#endif
