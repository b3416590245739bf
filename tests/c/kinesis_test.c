/*
 * kinesis_test - unit tests of common/kinesis: the request bodies of
 * ListShards, GetShardIterator, GetRecords and PutRecords, the parsing of
 * their responses (as AWS, kinesalite, kinesis-mock and moto write them,
 * and malformed), partition key limits and the GetRecords failures a
 * reader handles itself.  Fixed inputs only: no network.
 *
 *   kinesis_test [-v]
 *
 * TAP as tests/c/tap.h prints it.  Every response is copied into a heap
 * buffer of exactly its length (no NUL) before a parser sees it, so that
 * ASan or valgrind catch a read past its end.  Every body is parsed back
 * with jf_parse (RFC 8259, strict) to prove it is valid JSON whatever the
 * names, keys and iterators held.
 */
#include <stdint.h>

#include <json.h>

#include "buf.h"
#include "http.h"
#include "jfield.h"
#include "kinesis.h"
#include "tap.h"

/* ---- helpers ---- */

/* Checks that a body is exactly want; prints both when not. */
static void
body_is(const struct buf *b, const char *want, const char *what)
{
	int ok = !b->failed && b->len == strlen(want) &&
	    memcmp(b->p, want, b->len) == 0;

	if (!check(ok, "%s", what)) {
		diag("got:  %s", b->failed ? "(failed)" : show(b->p, b->len));
		diag("want: %s", SHOW(want));
	}
}

/* The body parsed back as RFC 8259 JSON (jf_parse: json-c, strict, and
 * what json-c lets through refused, such as a raw newline in a string), or
 * NULL. */
static struct json_object *
reparse(const struct buf *b)
{
	struct jf_parser jp;
	struct json_object *o = NULL;
	const char *why;

	if (b->failed || jf_parser_init(&jp) != 0)
		return NULL;
	o = jf_parse_object(&jp, b->p, b->len, &why);
	jf_parser_free(&jp);
	return o;
}

/* Member key of the body parsed back equals want, byte for byte. */
static void
member_is(const struct buf *b, const char *key, const char *want,
    size_t wlen, const char *what)
{
	struct json_object *o = reparse(b), *v;
	int ok = o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) == wlen &&
	    memcmp(json_object_get_string(v), want, wlen) == 0;

	if (!check(ok, "%s", what))
		diag("body: %s", b->failed ? "(failed)" : show(b->p, b->len));
	json_object_put(o);
}

static int
all_bytes(const unsigned char *p, unsigned char c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* ---- parsers over exact copies ---- */

static int
list_parse(const char *s, struct kinesis_shard_list *l, char *err,
    size_t errsz)
{
	size_t n = strlen(s);
	char *b = exact(s, n);
	int rc = kinesis_list_shards_parse(b, n, l, err, errsz);

	free(b);
	return rc;
}

static int
iter_parse(const char *s, char **it, char *err, size_t errsz)
{
	size_t n = strlen(s);
	char *b = exact(s, n);
	int rc = kinesis_get_shard_iterator_parse(b, n, it, err, errsz);

	free(b);
	return rc;
}

static int
records_parse(const char *s, struct kinesis_records *r, char *err,
    size_t errsz)
{
	size_t n = strlen(s);
	char *b = exact(s, n);
	int rc = kinesis_get_records_parse(b, n, r, err, errsz);

	/* The records borrow from the document, not from the body. */
	free(b);
	return rc;
}

static int
put_parse(const char *s, size_t nsent, struct kinesis_put_response *r,
    char *err, size_t errsz)
{
	size_t n = strlen(s);
	char *b = exact(s, n);
	int rc = kinesis_put_records_parse(b, n, nsent, r, err, errsz);

	free(b);
	return rc;
}

/* A malformed ListShards response: -1, a reason, nothing appended. */
static void
list_bad(const char *s, const char *reason_part, const char *what)
{
	struct kinesis_shard_list l;
	char err[256] = "";
	int rc;

	memset(&l, 0, sizeof(l));
	rc = list_parse(s, &l, err, sizeof(err));
	if (!check(rc == -1 && l.n == 0 && strstr(err, reason_part) != NULL,
	    "ListShards malformed: %s", what))
		diag("rc %d, %zu shards, err \"%s\"", rc, l.n, err);
	kinesis_shard_list_free(&l);
}

static void
records_bad(const char *s, const char *reason_part, const char *what)
{
	struct kinesis_records r;
	char err[256] = "";
	int rc = records_parse(s, &r, err, sizeof(err));

	if (!check(rc == -1 && r.doc == NULL && r.n == 0 &&
	    strstr(err, reason_part) != NULL, "GetRecords malformed: %s", what))
		diag("rc %d, err \"%s\"", rc, err);
	kinesis_records_free(&r);
}

static void
put_bad(const char *s, size_t nsent, const char *reason_part,
    const char *what)
{
	struct kinesis_put_response r;
	char err[256] = "";
	int rc = put_parse(s, nsent, &r, err, sizeof(err));

	if (!check(rc == -1 && r.doc == NULL && r.entry == NULL &&
	    strstr(err, reason_part) != NULL, "PutRecords malformed: %s", what))
		diag("rc %d, err \"%s\"", rc, err);
	kinesis_put_response_free(&r);
}

/* ---- the tests ---- */

static void
test_basics(void)
{
	char pk[1100];
	size_t i;

	section("stream member, partition keys");
	check(strcmp(kinesis_stream_member("trades"), "StreamName") == 0,
	    "a name is sent as StreamName");
	check(strcmp(kinesis_stream_member(
	    "arn:aws:kinesis:us-east-1:123456789012:stream/trades"),
	    "StreamARN") == 0, "an ARN is sent as StreamARN");
	check(strcmp(kinesis_stream_member("arnold"), "StreamName") == 0,
	    "a name that starts with arn but not arn: is a name");
	check(!kinesis_pk_valid("", 0), "an empty partition key is refused");
	check(kinesis_pk_valid("a", 1), "a one-character key is taken");
	memset(pk, 'k', 257);
	check(kinesis_pk_valid(pk, 256), "256 characters are taken");
	check(!kinesis_pk_valid(pk, 257), "257 characters are refused");
	for (i = 0; i < 257; i++)
		memcpy(pk + 2 * i, "\xc3\xa9", 2);
	check(kinesis_pk_valid(pk, 512),
	    "256 two-byte characters (512 bytes) are taken");
	check(!kinesis_pk_valid(pk, 514), "257 two-byte characters are refused");
	for (i = 0; i < 257; i++)
		memcpy(pk + 4 * i, "\xf0\x9f\x98\x80", 4);
	check(kinesis_pk_valid(pk, 1024),
	    "256 four-byte characters (1024 bytes) are taken");
	check(!kinesis_pk_valid(pk, 1028), "257 four-byte characters are refused");
	check(kinesis_pk_valid("a\0b", 3), "a key may hold a NUL byte");
}

static void
test_list_body(void)
{
	static const char odd[] = "s\"t\\r\nm";
	struct buf b = BUF_INIT;

	section("ListShards bodies");
	kinesis_list_shards_body(&b, "trades", NULL);
	body_is(&b, "{\"StreamName\":\"trades\"}", "first page: the stream name");
	kinesis_list_shards_body(&b,
	    "arn:aws:kinesis:us-east-1:123456789012:stream/trades", NULL);
	body_is(&b, "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:"
	    "stream/trades\"}", "first page of an ARN: StreamARN");
	kinesis_list_shards_body(&b, "trades", "tok/1==");
	body_is(&b, "{\"NextToken\":\"tok/1==\"}",
	    "later pages: the token alone, without the stream");
	kinesis_list_shards_body(&b, odd, NULL);
	member_is(&b, "StreamName", odd, sizeof(odd) - 1,
	    "a stream name with a quote, a backslash and a newline is "
	    "escaped and reads back");
	kinesis_list_shards_body(&b, "s", "a\"b\\c\nd\x01");
	body_is(&b, "{\"NextToken\":\"a\\\"b\\\\c\\nd\\u0001\"}",
	    "a token with a quote, a backslash, a newline and a control "
	    "character is escaped");
	buf_free(&b);
}

static void
test_iterator_body(void)
{
	static const char odd[] = "shardId-\"0\\\n";
	struct kinesis_position pos;
	struct buf b = BUF_INIT;

	section("GetShardIterator bodies");
	memset(&pos, 0, sizeof(pos));
	pos.type = KINESIS_TRIM_HORIZON;
	kinesis_get_shard_iterator_body(&b, "trades", "shardId-000000000000",
	    &pos);
	body_is(&b, "{\"StreamName\":\"trades\",\"ShardId\":"
	    "\"shardId-000000000000\",\"ShardIteratorType\":\"TRIM_HORIZON\"}",
	    "TRIM_HORIZON");
	pos.type = KINESIS_LATEST;
	kinesis_get_shard_iterator_body(&b, "arn:aws:kinesis:eu-west-1:1:"
	    "stream/x", "shardId-1", &pos);
	body_is(&b, "{\"StreamARN\":\"arn:aws:kinesis:eu-west-1:1:stream/x\","
	    "\"ShardId\":\"shardId-1\",\"ShardIteratorType\":\"LATEST\"}",
	    "LATEST, with an ARN");
	pos.type = KINESIS_AT_TIMESTAMP;
	pos.timestamp_ms = 1700000000123;
	kinesis_get_shard_iterator_body(&b, "s", "h", &pos);
	body_is(&b, "{\"StreamName\":\"s\",\"ShardId\":\"h\","
	    "\"ShardIteratorType\":\"AT_TIMESTAMP\","
	    "\"Timestamp\":1700000000.123}",
	    "AT_TIMESTAMP: exact epoch seconds with milliseconds");
	pos.timestamp_ms = 5;
	kinesis_get_shard_iterator_body(&b, "s", "h", &pos);
	check(strstr(buf_cstr(&b), "\"Timestamp\":0.005}") != NULL,
	    "AT_TIMESTAMP: 5 ms is 0.005");
	pos.timestamp_ms = -1500;
	kinesis_get_shard_iterator_body(&b, "s", "h", &pos);
	check(strstr(buf_cstr(&b), "\"Timestamp\":-1.500}") != NULL,
	    "AT_TIMESTAMP: before the epoch, -1.500");
	pos.type = KINESIS_AT_SEQUENCE_NUMBER;
	pos.seq = "4968";
	kinesis_get_shard_iterator_body(&b, "s", "h", &pos);
	body_is(&b, "{\"StreamName\":\"s\",\"ShardId\":\"h\","
	    "\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\","
	    "\"StartingSequenceNumber\":\"4968\"}", "AT_SEQUENCE_NUMBER");
	pos.type = KINESIS_AFTER_SEQUENCE_NUMBER;
	kinesis_get_shard_iterator_body(&b, "s", "h", &pos);
	body_is(&b, "{\"StreamName\":\"s\",\"ShardId\":\"h\","
	    "\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\","
	    "\"StartingSequenceNumber\":\"4968\"}", "AFTER_SEQUENCE_NUMBER");
	kinesis_get_shard_iterator_body(&b, "s", odd, &pos);
	member_is(&b, "ShardId", odd, sizeof(odd) - 1,
	    "a shard id with a quote, a backslash and a newline reads back");
	pos.seq = NULL;
	check(kinesis_get_shard_iterator_body(&b, "s", "h", &pos) == -1,
	    "AFTER_SEQUENCE_NUMBER without a sequence number is refused");
	pos.type = KINESIS_AT_SEQUENCE_NUMBER;
	check(kinesis_get_shard_iterator_body(&b, "s", "h", &pos) == -1,
	    "AT_SEQUENCE_NUMBER without a sequence number is refused");
	pos.type = (enum kinesis_iterator_type)42;
	check(kinesis_get_shard_iterator_body(&b, "s", "h", &pos) == -1 &&
	    kinesis_iterator_type_name(pos.type) == NULL,
	    "an unknown iterator type is refused");
	buf_free(&b);
}

static void
test_records_body(void)
{
	static const char moto[] = "cDE6c2hhcmRJZC0wMDAwMDAwMDAwMDA6MA==\n";
	static const char odd[] = "AAAA\"q\\b\nz";
	struct buf b = BUF_INIT;

	section("GetRecords bodies");
	kinesis_get_records_body(&b, moto, 10);
	body_is(&b, "{\"ShardIterator\":\"cDE6c2hhcmRJZC0wMDAwMDAwMDAwMDA6MA=="
	    "\\n\",\"Limit\":10}", "a moto iterator: its newline escaped");
	member_is(&b, "ShardIterator", moto, sizeof(moto) - 1,
	    "the moto iterator reads back with its newline");
	kinesis_get_records_body(&b, odd, 10000);
	member_is(&b, "ShardIterator", odd, sizeof(odd) - 1,
	    "an iterator with a quote, a backslash and a newline reads back");
	kinesis_get_records_body(&b, "it", 0);
	body_is(&b, "{\"ShardIterator\":\"it\"}", "no Limit when limit is 0");
	buf_free(&b);
}

static void
test_put_body(void)
{
	static const char pk[] = "p\"k\\\n";
	static const unsigned char bin[] = { 0x00, 0xff, 0x0a, 0x22 };
	struct json_object *o, *recs, *e, *v;
	struct buf b = BUF_INIT;
	int ok;

	section("PutRecords bodies");
	kinesis_put_records_open(&b, "trades");
	check(kinesis_put_records_close(&b) == 0, "an empty batch closes");
	body_is(&b, "{\"StreamName\":\"trades\",\"Records\":[]}",
	    "an empty batch");
	kinesis_put_records_open(&b, "trades");
	kinesis_put_records_add(&b, "{\"a\":1}", 7, "k", 1, NULL);
	kinesis_put_records_add(&b, "x", 1, "k2", 2,
	    "340282366920938463463374607431768211455");
	kinesis_put_records_close(&b);
	body_is(&b, "{\"StreamName\":\"trades\",\"Records\":["
	    "{\"Data\":\"eyJhIjoxfQ==\",\"PartitionKey\":\"k\"},"
	    "{\"Data\":\"eA==\",\"PartitionKey\":\"k2\",\"ExplicitHashKey\":"
	    "\"340282366920938463463374607431768211455\"}]}",
	    "two records, base64 data, an explicit hash key on the second");
	kinesis_put_records_open(&b, "arn:aws:kinesis:us-east-1:1:stream/s");
	kinesis_put_records_add(&b, bin, sizeof(bin), pk, sizeof(pk) - 1,
	    NULL);
	kinesis_put_records_add(&b, "", 0, "a\0b", 3, NULL);
	kinesis_put_records_close(&b);
	o = reparse(&b);
	ok = o != NULL && json_object_object_get_ex(o, "StreamARN", &v) &&
	    json_object_object_get_ex(o, "Records", &recs) &&
	    json_object_array_length(recs) == 2;
	check(ok, "an ARN goes as StreamARN; the body is valid JSON");
	e = ok ? json_object_array_get_idx(recs, 0) : NULL;
	check(e != NULL && json_object_object_get_ex(e, "PartitionKey", &v) &&
	    (size_t)json_object_get_string_len(v) == sizeof(pk) - 1 &&
	    memcmp(json_object_get_string(v), pk, sizeof(pk) - 1) == 0,
	    "a partition key with a quote, a backslash and a newline reads "
	    "back");
	check(e != NULL && json_object_object_get_ex(e, "Data", &v) &&
	    strcmp(json_object_get_string(v), "AP8KIg==") == 0,
	    "binary data (NUL, 0xff, newline, quote) is base64");
	e = ok ? json_object_array_get_idx(recs, 1) : NULL;
	check(e != NULL && json_object_object_get_ex(e, "PartitionKey", &v) &&
	    json_object_get_string_len(v) == 3 &&
	    memcmp(json_object_get_string(v), "a\0b", 3) == 0 &&
	    json_object_object_get_ex(e, "Data", &v) &&
	    strcmp(json_object_get_string(v), "") == 0,
	    "a key holding a NUL goes as \\u0000; empty data as \"\"");
	json_object_put(o);
	buf_free(&b);
}

static void
test_list_parse(void)
{
	struct kinesis_shard_list l;
	char err[256] = "";
	int rc;

	section("ListShards responses");
	memset(&l, 0, sizeof(l));
	/* kinesalite, after a split of shard 0 */
	rc = list_parse("{\"Shards\":[{\"HashKeyRange\":{\"StartingHashKey\":"
	    "\"0\",\"EndingHashKey\":\"170141183460469231731687303715884105727\"},"
	    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"4968\","
	    "\"EndingSequenceNumber\":\"4969\"},\"ShardId\":"
	    "\"shardId-000000000000\"},{\"HashKeyRange\":{\"StartingHashKey\":"
	    "\"170141183460469231731687303715884105728\",\"EndingHashKey\":"
	    "\"340282366920938463463374607431768211455\"},"
	    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"4970\"},"
	    "\"ShardId\":\"shardId-000000000001\"},{\"ParentShardId\":"
	    "\"shardId-000000000000\",\"HashKeyRange\":{\"StartingHashKey\":"
	    "\"0\",\"EndingHashKey\":\"999\"},\"SequenceNumberRange\":"
	    "{\"StartingSequenceNumber\":\"4971\"},\"ShardId\":"
	    "\"shardId-000000000002\"}]}", &l, err, sizeof(err));
	check(rc == 0 && l.n == 3 && l.next_token == NULL,
	    "kinesalite: three shards, no NextToken");
	if (l.n == 3) {
		check(strcmp(l.shard[0].id, "shardId-000000000000") == 0 &&
		    l.shard[0].parent == NULL && l.shard[0].adjacent == NULL &&
		    l.shard[0].closed, "a closed shard without parents");
		check(!l.shard[1].closed, "an open shard");
		check(strcmp(l.shard[2].parent, "shardId-000000000000") == 0,
		    "a child names its parent");
		check(all_bytes(l.shard[0].lo, 0, 16) &&
		    l.shard[0].hi[0] == 0x7f && all_bytes(l.shard[0].hi + 1,
		    0xff, 15), "hash key range 0 .. 2^127-1");
		check(l.shard[1].lo[0] == 0x80 && all_bytes(l.shard[1].lo + 1,
		    0, 15) && all_bytes(l.shard[1].hi, 0xff, 16),
		    "hash key range 2^127 .. 2^128-1");
	}
	/* kinesis-mock writes every optional member, as null */
	rc = list_parse("{\"NextToken\":\"p1::shardId-000000000000\",\"Shards\":"
	    "[{\"AdjacentParentShardId\":null,\"HashKeyRange\":{\"EndingHashKey\":"
	    "\"999\",\"StartingHashKey\":\"0\"},\"ParentShardId\":null,"
	    "\"SequenceNumberRange\":{\"EndingSequenceNumber\":null,"
	    "\"StartingSequenceNumber\":\"1\"},\"ShardId\":\"shardId-000000000003\"}]}",
	    &l, err, sizeof(err));
	check(rc == 0 && l.n == 4 && l.next_token != NULL &&
	    strcmp(l.next_token, "p1::shardId-000000000000") == 0,
	    "a second page appends its shard and keeps its NextToken");
	if (l.n == 4)
		check(l.shard[3].parent == NULL && l.shard[3].adjacent == NULL &&
		    !l.shard[3].closed, "null members count as absent");
	rc = list_parse("{\"Shards\":[{\"ShardId\":\"shardId-9\","
	    "\"ParentShardId\":\"shardId-7\",\"AdjacentParentShardId\":"
	    "\"shardId-8\"}]}", &l, err, sizeof(err));
	check(rc == 0 && l.n == 5 && l.next_token == NULL &&
	    strcmp(l.shard[4].adjacent, "shardId-8") == 0 &&
	    all_bytes(l.shard[4].lo, 0, 16) && all_bytes(l.shard[4].hi, 0xff,
	    16), "a merge child names both parents; no HashKeyRange: the "
	    "whole range; the last page clears NextToken");
	rc = list_parse("{\"Shards\":[{\"ShardId\":\"x\"},{\"ShardId\":7}]}",
	    &l, err, sizeof(err));
	check(rc == -1 && l.n == 5,
	    "a malformed page adds none of its shards, keeps the earlier ones");
	kinesis_shard_list_free(&l);
	check(l.n == 0 && l.shard == NULL, "kinesis_shard_list_free empties");
	kinesis_shard_list_free(NULL);
}

static void
test_list_null_type(void)
{
	struct kinesis_shard_list l;
	char err[256] = "";

	memset(&l, 0, sizeof(l));
	check(list_parse("{\"Shards\":[],\"__type\":null,\"NextToken\":null}",
	    &l, err, sizeof(err)) == 0 && l.n == 0 && l.next_token == NULL,
	    "ListShards: \"__type\": null and \"NextToken\": null are "
	    "ignored");
	kinesis_shard_list_free(&l);
}

static void
test_list_malformed(void)
{
	list_bad("", "empty", "an empty body");
	list_bad("not json", "invalid JSON", "not JSON");
	list_bad("[1,2]", "not a JSON object", "an array");
	list_bad("{\"Shards\":[]} x", "invalid JSON", "text after the object");
	list_bad("{}", "no Shards", "no Shards");
	list_bad("{\"Shards\":{}}", "Shards is not an array",
	    "Shards is an object");
	list_bad("{\"Shards\":[1]}", "not an object", "a shard is a number");
	list_bad("{\"Shards\":[{}]}", "no ShardId", "a shard without ShardId");
	list_bad("{\"Shards\":[{\"ShardId\":1}]}", "ShardId is not a string",
	    "ShardId is a number");
	list_bad("{\"Shards\":[{\"ShardId\":\"a\",\"ParentShardId\":[]}]}",
	    "ParentShardId is not a string", "ParentShardId is an array");
	list_bad("{\"Shards\":[{\"ShardId\":\"a\",\"HashKeyRange\":"
	    "{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"12x\"}}]}",
	    "decimal 128-bit", "a hash key that is not decimal");
	list_bad("{\"Shards\":[{\"ShardId\":\"a\",\"HashKeyRange\":"
	    "{\"StartingHashKey\":\"0\"}}]}", "no EndingHashKey",
	    "a range without its end");
	list_bad("{\"Shards\":[],\"NextToken\":5}", "NextToken is not a string",
	    "NextToken is a number");
	list_bad("{\"Shards\":[{\"ShardId\":\"a\",\"SequenceNumberRange\":"
	    "{\"EndingSequenceNumber\":1}}]}",
	    "EndingSequenceNumber is not a string",
	    "EndingSequenceNumber is a number");
}

static void
test_iterator_parse(void)
{
	char err[256] = "", *it = NULL;
	int rc;

	section("GetShardIterator responses");
	rc = iter_parse("{\"ShardIterator\":\"AAAA/+==\"}", &it, err,
	    sizeof(err));
	check(rc == 0 && it != NULL && strcmp(it, "AAAA/+==") == 0,
	    "an iterator");
	free(it);
	rc = iter_parse("{\"ShardIterator\": \"cDE6MA==\\n\"}", &it, err,
	    sizeof(err));
	check(rc == 0 && it != NULL && strcmp(it, "cDE6MA==\n") == 0,
	    "moto's iterator, its newline decoded");
	free(it);
	rc = iter_parse("{\"ShardIterator\":null}", &it, err, sizeof(err));
	check(rc == 0 && it == NULL, "null: no iterator (a drained shard)");
	rc = iter_parse("{}", &it, err, sizeof(err));
	check(rc == 0 && it == NULL, "absent: no iterator");
	rc = iter_parse("{\"ShardIterator\":12}", &it, err, sizeof(err));
	check(rc == -1 && it == NULL && strstr(err, "ShardIterator is not a "
	    "string") != NULL, "an iterator that is a number is malformed");
	rc = iter_parse("{\"ShardIterator\":\"a\"", &it, err, sizeof(err));
	check(rc == -1 && it == NULL && strstr(err, "GetShardIterator") !=
	    NULL, "a cut response is malformed, and says which call");
}

static void
test_records_parse(void)
{
	struct kinesis_records r;
	char err[256] = "";
	int rc;

	section("GetRecords responses");
	/* kinesalite */
	rc = records_parse("{\"MillisBehindLatest\":0,\"NextShardIterator\":"
	    "\"AAAA\",\"Records\":[{\"PartitionKey\":\"k2\",\"Data\":"
	    "\"eyJhIjoxfQ==\",\"ApproximateArrivalTimestamp\":1795703716.61,"
	    "\"SequenceNumber\":\"4968\"}]}", &r, err, sizeof(err));
	check(rc == 0 && r.n == 1 && strcmp(r.next_iterator, "AAAA") == 0 &&
	    r.millis_behind == 0 && r.child.n == 0,
	    "kinesalite: one record, the next iterator, at the tip");
	if (rc == 0 && r.n == 1)
		check(strcmp(r.rec[0].seq, "4968") == 0 &&
		    strcmp(r.rec[0].pk, "k2") == 0 && r.rec[0].pklen == 2 &&
		    strcmp(r.rec[0].data, "eyJhIjoxfQ==") == 0 &&
		    r.rec[0].data_len == 12 && r.rec[0].has_arrival &&
		    r.rec[0].arrival_ms == 1795703716610,
		    "its members; the arrival time rounded to the millisecond");
	kinesis_records_free(&r);
	/* kinesis-mock, on a shard closed by a split */
	rc = records_parse("{\"ChildShards\":[{\"HashKeyRange\":{\"EndingHashKey\":"
	    "\"999\",\"StartingHashKey\":\"0\"},\"ParentShards\":"
	    "[\"shardId-000000000000\"],\"ShardId\":\"shardId-000000000002\"},"
	    "{\"HashKeyRange\":{\"EndingHashKey\":\"2000\",\"StartingHashKey\":"
	    "\"1000\"},\"ParentShards\":[\"shardId-000000000000\","
	    "\"shardId-000000000001\"],\"ShardId\":\"shardId-000000000003\"}],"
	    "\"MillisBehindLatest\":1500,\"NextShardIterator\":null,\"Records\":"
	    "[{\"ApproximateArrivalTimestamp\":1795703718,\"Data\":\"\","
	    "\"EncryptionType\":\"NONE\",\"PartitionKey\":\"a\\u0000b\","
	    "\"SequenceNumber\":\"1\"}],\"__type\":null}", &r, err, sizeof(err));
	check(rc == 0 && r.next_iterator == NULL && r.millis_behind == 1500,
	    "a closed shard: no next iterator; MillisBehindLatest; \"__type\": "
	    "null ignored");
	check(rc == 0 && r.child.n == 2 && strcmp(r.child.shard[0].id,
	    "shardId-000000000002") == 0 && strcmp(r.child.shard[0].parent,
	    "shardId-000000000000") == 0 && r.child.shard[0].adjacent == NULL,
	    "ChildShards: a split child and its parent");
	check(rc == 0 && r.child.n == 2 && strcmp(r.child.shard[1].adjacent,
	    "shardId-000000000001") == 0 && r.child.shard[1].hi[15] == 0xd0 &&
	    r.child.shard[1].hi[14] == 0x07 && r.child.shard[1].lo[15] == 0xe8,
	    "ChildShards: a merge child's two parents and hash key range");
	check(rc == 0 && r.n == 1 && r.rec[0].pklen == 3 &&
	    memcmp(r.rec[0].pk, "a\0b", 3) == 0 && r.rec[0].data_len == 0 &&
	    r.rec[0].arrival_ms == 1795703718000,
	    "a key holding a NUL keeps its length; empty data; a whole-second "
	    "arrival time");
	kinesis_records_free(&r);
	rc = records_parse("{\"Records\":[{\"SequenceNumber\":\"1\","
	    "\"PartitionKey\":\"k\",\"Data\":\"eA==\"}],\"ChildShards\":null}",
	    &r, err, sizeof(err));
	check(rc == 0 && r.n == 1 && !r.rec[0].has_arrival &&
	    r.millis_behind == -1 && r.next_iterator == NULL,
	    "no arrival time, no MillisBehindLatest (-1), ChildShards null");
	kinesis_records_free(&r);
	rc = records_parse("{\"Records\":[],\"NextShardIterator\":\"n\"}", &r,
	    err, sizeof(err));
	check(rc == 0 && r.n == 0 && r.rec != NULL, "no records");
	kinesis_records_free(&r);
	kinesis_records_free(NULL);
	check(r.doc == NULL && r.rec == NULL, "kinesis_records_free empties");
}

static void
test_records_malformed(void)
{
	records_bad("", "empty", "an empty body");
	records_bad("{\"Records\":[NaN]}", "invalid JSON", "NaN");
	records_bad("{\"NextShardIterator\":\"n\"}", "no Records", "no Records");
	records_bad("{\"Records\":\"x\"}", "Records is not an array",
	    "Records is a string");
	records_bad("{\"Records\":[[]]}", "a record is not an object",
	    "a record is an array");
	records_bad("{\"Records\":[{\"PartitionKey\":\"k\",\"Data\":\"\"}]}",
	    "no SequenceNumber", "a record without SequenceNumber");
	records_bad("{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":"
	    "\"k\"}]}", "no Data", "a record without Data");
	records_bad("{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":"
	    "\"k\",\"Data\":7}]}", "Data is not a string", "Data is a number");
	records_bad("{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":"
	    "null,\"Data\":\"\"}]}", "no PartitionKey", "PartitionKey is null");
	records_bad("{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":"
	    "\"k\",\"Data\":\"\",\"ApproximateArrivalTimestamp\":\"2024\"}]}",
	    "ApproximateArrivalTimestamp is not a number",
	    "an arrival time that is a string");
	records_bad("{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":"
	    "\"k\",\"Data\":\"\",\"ApproximateArrivalTimestamp\":1e300}]}",
	    "out of range", "an arrival time out of range");
	records_bad("{\"Records\":[],\"NextShardIterator\":[\"n\"]}",
	    "NextShardIterator is not a string", "NextShardIterator is an array");
	records_bad("{\"Records\":[],\"MillisBehindLatest\":\"0\"}",
	    "MillisBehindLatest is not a number",
	    "MillisBehindLatest is a string");
	records_bad("{\"Records\":[],\"MillisBehindLatest\":-5}", "negative",
	    "MillisBehindLatest is negative");
	records_bad("{\"Records\":[],\"ChildShards\":{}}",
	    "ChildShards is not an array", "ChildShards is an object");
	records_bad("{\"Records\":[],\"ChildShards\":[{\"ShardId\":\"c\","
	    "\"ParentShards\":[]}]}", "0 parents", "a child without parents");
	records_bad("{\"Records\":[],\"ChildShards\":[{\"ShardId\":\"c\","
	    "\"ParentShards\":[1]}]}", "parent shard id is not a string",
	    "a parent id that is a number");
}

static void
test_records_error(void)
{
	struct http_response r;
	char body[256];

	section("GetRecords failures");
	memset(&r, 0, sizeof(r));
	r.status = 400;
	snprintf(body, sizeof(body), "{\"__type\":\"ExpiredIteratorException\","
	    "\"message\":\"Iterator expired.\"}");
	r.body = body;
	r.body_len = strlen(body);
	check(kinesis_get_records_error(&r) == KINESIS_EXPIRED_ITERATOR,
	    "ExpiredIteratorException: get a new iterator");
	snprintf(body, sizeof(body), "{\"__type\":\"com.amazonaws.kinesis.v20131202"
	    "#ExpiredIteratorException\"}");
	r.body_len = strlen(body);
	check(kinesis_get_records_error(&r) == KINESIS_EXPIRED_ITERATOR,
	    "the same with a namespace before '#'");
	snprintf(body, sizeof(body), "{\"__type\":"
	    "\"ProvisionedThroughputExceededException\",\"message\":\"slow\"}");
	r.body_len = strlen(body);
	check(kinesis_get_records_error(&r) == KINESIS_THROTTLED,
	    "ProvisionedThroughputExceededException: throttled");
	snprintf(body, sizeof(body), "{\"__type\":null,\"message\":\"?\"}");
	r.body_len = strlen(body);
	check(kinesis_get_records_error(&r) == -1,
	    "\"__type\": null on a 400 is no code: a failure");
	r.status = 429;
	check(kinesis_get_records_error(&r) == KINESIS_THROTTLED,
	    "HTTP 429 without a code: throttled");
	r.status = 400;
	r.body = NULL;
	r.body_len = 0;
	snprintf(r.error_type, sizeof(r.error_type),
	    "ExpiredIteratorException:http://internal.amazon.com/");
	check(kinesis_get_records_error(&r) == KINESIS_EXPIRED_ITERATOR,
	    "the code from x-amzn-ErrorType");
	r.error_type[0] = '\0';
	snprintf(body, sizeof(body), "{\"__type\":\"ResourceNotFoundException\"}");
	r.body = body;
	r.body_len = strlen(body);
	check(kinesis_get_records_error(&r) == -1,
	    "ResourceNotFoundException: a failure");
	r.status = 0;
	r.body = NULL;
	r.body_len = 0;
	check(kinesis_get_records_error(&r) == -1,
	    "a transport error: a failure");
}

static void
test_put_parse(void)
{
	struct kinesis_put_response r;
	char err[256] = "";
	int rc;

	section("PutRecords responses");
	rc = put_parse("{\"FailedRecordCount\":0,\"Records\":[{\"ShardId\":"
	    "\"shardId-000000000001\",\"SequenceNumber\":\"4968\"},{\"ShardId\":"
	    "\"shardId-000000000000\",\"SequenceNumber\":\"4969\"}]}", 2, &r,
	    err, sizeof(err));
	check(rc == 0 && r.n == 2 && r.failed == 0 && r.entry[0].code == NULL &&
	    strcmp(r.entry[0].shard, "shardId-000000000001") == 0 &&
	    strcmp(r.entry[1].seq, "4969") == 0, "kinesalite: two records stored");
	kinesis_put_response_free(&r);
	rc = put_parse("{\"EncryptionType\":\"NONE\",\"FailedRecordCount\":0,"
	    "\"Records\":[{\"ErrorCode\":null,\"ErrorMessage\":null,"
	    "\"SequenceNumber\":\"4968\",\"ShardId\":\"shardId-000000000001\"}]}",
	    1, &r, err, sizeof(err));
	check(rc == 0 && r.failed == 0 && r.entry[0].code == NULL &&
	    strcmp(r.entry[0].shard, "shardId-000000000001") == 0,
	    "kinesis-mock: \"ErrorCode\": null is a stored record");
	kinesis_put_response_free(&r);
	rc = put_parse("{\"FailedRecordCount\":2,\"Records\":[{\"ShardId\":\"s\","
	    "\"SequenceNumber\":\"1\"},{\"ErrorCode\":"
	    "\"ProvisionedThroughputExceededException\",\"ErrorMessage\":"
	    "\"Rate exceeded for shard\"},{\"ErrorCode\":\"InternalFailure\"}]}",
	    3, &r, err, sizeof(err));
	check(rc == 0 && r.n == 3 && r.failed == 2,
	    "a partial failure: two of three failed");
	check(rc == 0 && r.entry[0].code == NULL && strcmp(r.entry[1].code,
	    "ProvisionedThroughputExceededException") == 0 &&
	    strcmp(r.entry[1].message, "Rate exceeded for shard") == 0 &&
	    r.entry[1].shard == NULL, "a failed entry's code and message");
	check(rc == 0 && strcmp(r.entry[2].message, "") == 0,
	    "a failed entry without ErrorMessage: an empty message");
	kinesis_put_response_free(&r);
	rc = put_parse("{\"Records\":[{\"ErrorCode\":\"InternalFailure\"}],"
	    "\"__type\":null}", 1, &r, err, sizeof(err));
	check(rc == 0 && r.failed == 1,
	    "no FailedRecordCount: counted from the entries; \"__type\": null "
	    "ignored");
	kinesis_put_response_free(&r);
	rc = put_parse("{\"FailedRecordCount\":0,\"Records\":[]}", 0, &r, err,
	    sizeof(err));
	check(rc == 0 && r.n == 0, "an empty batch's response");
	kinesis_put_response_free(&r);
	kinesis_put_response_free(NULL);
	check(r.doc == NULL && r.entry == NULL, "kinesis_put_response_free "
	    "empties");
}

static void
test_put_malformed(void)
{
	put_bad("", 1, "empty", "an empty body");
	put_bad("{\"Records\":[{\"ShardId\":\"s\",\"SequenceNumber\":\"1\"}",
	    1, "invalid JSON", "a cut body");
	put_bad("{\"Records\":[{\"ShardId\":\"s\",\"SequenceNumber\":\"1\"}]}",
	    2, "1 entries for 2 records", "fewer entries than records");
	put_bad("{\"Records\":[{\"ShardId\":\"s\",\"SequenceNumber\":\"1\"},"
	    "{\"ShardId\":\"s\",\"SequenceNumber\":\"2\"}]}", 1,
	    "2 entries for 1 records", "more entries than records");
	put_bad("{\"FailedRecordCount\":0}", 1, "0 entries for 1 records",
	    "no Records");
	put_bad("{\"Records\":{}}", 1, "Records is not an array",
	    "Records is an object");
	put_bad("{\"Records\":[\"s\"]}", 1, "an entry is not an object",
	    "an entry is a string");
	put_bad("{\"Records\":[{}]}", 1, "neither ErrorCode nor",
	    "an entry with nothing in it");
	put_bad("{\"Records\":[{\"ShardId\":\"s\"}]}", 1,
	    "neither ErrorCode nor", "a stored entry without SequenceNumber");
	put_bad("{\"Records\":[{\"ErrorCode\":400}]}", 1,
	    "ErrorCode is not a string", "ErrorCode is a number");
	put_bad("{\"Records\":[{\"ShardId\":1,\"SequenceNumber\":\"1\"}]}", 1,
	    "ShardId is not a string", "ShardId is a number");
	put_bad("{\"FailedRecordCount\":1,\"Records\":[{\"ShardId\":\"s\","
	    "\"SequenceNumber\":\"1\"}]}", 1, "FailedRecordCount 1 for 0",
	    "FailedRecordCount does not match the entries");
	put_bad("{\"FailedRecordCount\":\"0\",\"Records\":[]}", 0,
	    "FailedRecordCount is not a number", "FailedRecordCount is a string");
	put_bad("{\"FailedRecordCount\":-1,\"Records\":[]}", 0, "negative",
	    "FailedRecordCount is negative");
	put_bad("{\"FailedRecordCount\":0,\"Records\":[]} {}", 0,
	    "invalid JSON", "two documents");
}

int
main(int argc, char **argv)
{
	if (tap_begin("kinesis_test", argc, argv) != 0)
		return 2;
	test_basics();
	test_list_body();
	test_iterator_body();
	test_records_body();
	test_put_body();
	test_list_parse();
	test_list_null_type();
	test_list_malformed();
	test_iterator_parse();
	test_records_parse();
	test_records_malformed();
	test_records_error();
	test_put_parse();
	test_put_malformed();
	return tap_end();
}
