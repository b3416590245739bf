/*
 * kinesis.h - the Amazon Kinesis Data Streams protocol (Amazon Kinesis
 * Data Streams API Reference; JSON 1.1, X-Amz-Target
 * "Kinesis_20131202.<Operation>"): request bodies, the parsing of their
 * responses, and the calls themselves through aws.h.
 *
 * Bodies are built with the one JSON writer (buf.h), so every name, key and
 * iterator a caller or a server hands in is escaped.  Responses are parsed
 * as whole documents, strict RFC 8259 (ListShards and GetShardIterator
 * with jf_parse_object; GetRecords and PutRecords, the hot ones, walked
 * with jdoc.h to the same verdicts and messages, their strings decoded in
 * place in a copy of the body the result owns) and checked member by
 * member: a member the API always sends that is missing, or any member
 * of the wrong type, makes the response malformed (-1 with a reason).  A
 * JSON null counts as an absent member, as some servers write every
 * optional member (kinesis-mock: "ErrorCode": null).
 *
 * Errors follow aws.h: 0 or -1 with the reason in err ("Code: message
 * (HTTP 400)" for an AWS error, after the retry policy of retry.h).
 * Nothing here writes to stdout; aws_call() warns on stderr per retry.
 */
#ifndef KP_KINESIS_H
#define KP_KINESIS_H

#include <stddef.h>
#include <stdint.h>

#include <json.h>

#include "aws.h"
#include "buf.h"

/* Service limits (API Reference, PutRecords and GetRecords). */
#define KINESIS_MAX_PK_CHARS 256          /* partition key, in code points */
#define KINESIS_PUT_MAX_RECORDS 500
#define KINESIS_PUT_MAX_BYTES (5 * 1024 * 1024)
#define KINESIS_RECORD_MAX_BYTES (1024 * 1024) /* data plus partition key */
#define KINESIS_GET_MAX_LIMIT 10000

/* A client: one AWS client and the stream every call names. */
struct kinesis {
	struct aws_client *aws;     /* owned */
	const char *stream;         /* borrowed: name or ARN, as given */
	unsigned long long calls;   /* requests made, retries not counted */
};

/*
 * Returns a new client of stream (borrowed: it must outlive the client),
 * or NULL with a message in err and *usage_error as aws_client_new() sets
 * it.  Free with kinesis_free().
 */
struct kinesis *kinesis_new(const char *stream, const struct aws_opts *o,
    char *err, size_t errsz, int *usage_error);
void kinesis_free(struct kinesis *k);

/* The request member naming stream: "StreamARN" for an ARN ("arn:..."),
 * else "StreamName". */
const char *kinesis_stream_member(const char *stream);

/* Whether pk[0..len) (UTF-8) is a valid partition key: 1 to 256 Unicode
 * code points. */
int kinesis_pk_valid(const char *pk, size_t len);

/* ---- ListShards ---- */

/* One shard, as ListShards (or a GetRecords ChildShards entry) gives it. */
struct kinesis_shard {
	char *id;
	char *parent;                 /* ParentShardId, or NULL */
	char *adjacent;               /* AdjacentParentShardId, or NULL */
	unsigned char lo[16], hi[16]; /* hash key range, big-endian; the whole
	                               * range when the response has none */
	int closed;                   /* has an EndingSequenceNumber */
};

/* Frees a shard's strings and zeroes it; accepts NULL. */
void kinesis_shard_clear(struct kinesis_shard *s);

/* Shards in the order of the responses; owns every string of its shards.
 * A caller may take a shard's strings by setting them to NULL. */
struct kinesis_shard_list {
	struct kinesis_shard *shard;
	size_t n;
	char *next_token;             /* NextToken of the last page, or NULL */
};

/* Empties l and frees what it owns; accepts NULL. */
void kinesis_shard_list_free(struct kinesis_shard_list *l);

/*
 * The body of a ListShards call: the stream for the first page
 * ({"StreamName":...} or {"StreamARN":...}), the token alone for the
 * others (the API refuses both).  next_token NULL: first page.  Returns 0,
 * or -1 when memory is short (b->failed).
 */
int kinesis_list_shards_body(struct buf *b, const char *stream,
    const char *next_token);

/*
 * Parses one ListShards response; appends its shards to l and sets
 * l->next_token.  Returns 0, or -1 with the reason in err (l then keeps
 * the shards of earlier pages).
 */
int kinesis_list_shards_parse(const char *body, size_t len,
    struct kinesis_shard_list *l, char *err, size_t errsz);

/* Every page of ListShards into l (emptied first).  0, KINESIS_INTERRUPTED
 * (aws.h: the stop flag was set), or -1 with err. */
int kinesis_list_shards(struct kinesis *k, struct kinesis_shard_list *l,
    char *err, size_t errsz);

/* ---- GetShardIterator ---- */

enum kinesis_iterator_type {
	KINESIS_TRIM_HORIZON,
	KINESIS_LATEST,
	KINESIS_AT_TIMESTAMP,
	KINESIS_AT_SEQUENCE_NUMBER,
	KINESIS_AFTER_SEQUENCE_NUMBER,
};

/* Where an iterator starts. */
struct kinesis_position {
	enum kinesis_iterator_type type;
	const char *seq;              /* AT_/AFTER_SEQUENCE_NUMBER */
	int64_t timestamp_ms;         /* AT_TIMESTAMP: ms since the epoch */
};

/* The API name of a type ("TRIM_HORIZON", ...), or NULL. */
const char *kinesis_iterator_type_name(enum kinesis_iterator_type t);

/*
 * The body of a GetShardIterator call.  The timestamp is written as epoch
 * seconds with its milliseconds, exactly ("1700000000.123").  Returns 0,
 * or -1 for an unknown type, a sequence type without seq, or short memory.
 */
int kinesis_get_shard_iterator_body(struct buf *b, const char *stream,
    const char *shard_id, const struct kinesis_position *pos);

/*
 * Parses a GetShardIterator response: *iterator is a new string (free()),
 * or NULL when the response has none (a closed shard with nothing after
 * the position).  Returns 0, or -1 with err.
 */
int kinesis_get_shard_iterator_parse(const char *body, size_t len,
    char **iterator, char *err, size_t errsz);

/*
 * The call: 0 with *iterator as above, KINESIS_EXPIRED_POSITION when the
 * position is a sequence number older than the shard's trim horizon (the
 * stream's retention has passed it: Kinesis answers InvalidArgumentException
 * naming StartingSequenceNumber), KINESIS_INTERRUPTED, or -1 with err.
 */
int kinesis_get_shard_iterator(struct kinesis *k, const char *shard_id,
    const struct kinesis_position *pos, char **iterator, char *err,
    size_t errsz);

/* ---- GetRecords ---- */

/* One record; the strings are borrowed from the response document
 * (seq NUL-terminated, pk and data too, but they may hold a NUL). */
struct kinesis_record {
	const char *seq;
	const char *pk;
	size_t pklen;
	const char *data;             /* base64, as received */
	size_t data_len;
	int has_arrival;
	int64_t arrival_ms;           /* ApproximateArrivalTimestamp, rounded
	                               * to the millisecond */
};

/* A parsed GetRecords response; free with kinesis_records_free(). */
struct kinesis_records {
	char *doc;                    /* owns the records' strings: the
	                               * response, decoded in place */
	struct kinesis_record *rec;
	size_t n;
	const char *next_iterator;    /* NULL: the shard is closed and read
	                               * to its end */
	int64_t millis_behind;        /* MillisBehindLatest, or -1 */
	struct kinesis_shard_list child; /* ChildShards (parents in
	                               * parent/adjacent), empty when absent */
};

/* Frees what r holds and zeroes it; accepts NULL. */
void kinesis_records_free(struct kinesis_records *r);

/* The body of a GetRecords call; limit <= 0 sends none.  0 or -1. */
int kinesis_get_records_body(struct buf *b, const char *iterator, int limit);

/* Parses a GetRecords response into *r (zeroed first).  0 or -1 with err
 * (r is then empty). */
int kinesis_get_records_parse(const char *body, size_t len,
    struct kinesis_records *r, char *err, size_t errsz);

/* Results of kinesis_get_records() besides 0 and -1. */
enum {
	KINESIS_EXPIRED_ITERATOR = 1, /* ExpiredIteratorException: get a new
	                               * iterator */
	KINESIS_THROTTLED = 2,        /* still throttled after the retries */
	KINESIS_EXPIRED_POSITION = 3, /* GetShardIterator: the sequence number
	                               * is past the retention period */
	KINESIS_INTERRUPTED = 4,      /* the stop flag was set (aws.h) */
};

/*
 * What a failed GetRecords response means to a reader (resp as aws_call()
 * left it): KINESIS_EXPIRED_ITERATOR, KINESIS_THROTTLED (a throttling
 * status or error code, retry.h), or -1 for any other failure.
 */
int kinesis_get_records_error(const struct http_response *resp);

/*
 * The call.  Returns 0 with *r filled, KINESIS_EXPIRED_ITERATOR,
 * KINESIS_THROTTLED or KINESIS_INTERRUPTED (err says what), or -1 with
 * err.
 */
int kinesis_get_records(struct kinesis *k, const char *iterator, int limit,
    struct kinesis_records *r, char *err, size_t errsz);

/* ---- PutRecords ---- */

/*
 * The body of a PutRecords call, in three steps: open (the stream),
 * one add per record (data is base64-encoded here; ehk, a decimal explicit
 * hash key, may be NULL), close.  close returns 0, or -1 when memory ran
 * short on the way (b->failed).
 */
void kinesis_put_records_open(struct buf *b, const char *stream);
void kinesis_put_records_add(struct buf *b, const void *data, size_t len,
    const char *pk, size_t pklen, const char *ehk);
int kinesis_put_records_close(struct buf *b);

/* The outcome of one record of a PutRecords request.  Strings are
 * borrowed from the response document. */
struct kinesis_put_result {
	const char *shard;            /* success: ShardId */
	const char *seq;              /* success: SequenceNumber */
	const char *code;             /* failure: ErrorCode; NULL: success */
	const char *message;          /* failure: ErrorMessage, "" if none */
};

struct kinesis_put_response {
	char *doc;                    /* owns the strings: the response,
	                               * decoded in place */
	struct kinesis_put_result *entry;  /* one per record sent, in order */
	size_t n;
	size_t failed;                /* entries with an ErrorCode */
};

/* Frees what r holds and zeroes it; accepts NULL. */
void kinesis_put_response_free(struct kinesis_put_response *r);

/*
 * Parses a PutRecords response to a request of nsent records.  Malformed:
 * not one entry per record, an entry with neither an ErrorCode nor both
 * ShardId and SequenceNumber, or a FailedRecordCount that is not the
 * number of failed entries.  Returns 0, or -1 with err (r empty).
 */
int kinesis_put_records_parse(const char *body, size_t len, size_t nsent,
    struct kinesis_put_response *r, char *err, size_t errsz);

/*
 * Starts a PutRecords request with body (which must stay unchanged until
 * the transfer is collected) on the client's HTTP multi handle, as
 * aws_start() does; user comes back with http_xfer_user().  Returns the
 * transfer, or NULL with err.
 */
struct http_xfer *kinesis_put_records_start(struct kinesis *k,
    const struct buf *body, void *user, char *err, size_t errsz);

#endif
