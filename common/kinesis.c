#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jfield.h"
#include "kinesis.h"
#include "kpl.h"

#define TARGET "X-Amz-Target: Kinesis_20131202."
#define CONTENT_TYPE "Content-Type: application/x-amz-json-1.1"

struct kinesis *
kinesis_new(const char *stream, const struct aws_opts *o, char *err,
    size_t errsz, int *usage_error)
{
	struct kinesis *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		snprintf(err, errsz, "out of memory");
		*usage_error = 0;
		return NULL;
	}
	k->aws = aws_client_new("Kinesis", "kinesis", o, err, errsz,
	    usage_error);
	if (k->aws == NULL) {
		free(k);
		return NULL;
	}
	k->stream = stream;
	return k;
}

void
kinesis_free(struct kinesis *k)
{
	if (k == NULL)
		return;
	aws_client_free(k->aws);
	free(k);
}

const char *
kinesis_stream_member(const char *stream)
{
	return strncmp(stream, "arn:", 4) == 0 ? "StreamARN" : "StreamName";
}

int
kinesis_pk_valid(const char *pk, size_t len)
{
	size_t i, chars = 0;

	/* Every byte that does not continue a UTF-8 sequence starts a code
	 * point. */
	for (i = 0; i < len; i++)
		if (((unsigned char)pk[i] & 0xc0) != 0x80)
			chars++;
	return chars >= 1 && chars <= KINESIS_MAX_PK_CHARS;
}

/* ---- requests ---- */

/* The aws_call of a JSON 1.1 request: hdrs holds the content type and the
 * target of the operation. */
static void
json_call(struct aws_call *call, const char *hdrs[2], const char *target,
    const struct buf *body)
{
	hdrs[0] = CONTENT_TYPE;
	hdrs[1] = target;
	memset(call, 0, sizeof(*call));
	call->method = "POST";
	call->path = "/";
	call->headers = hdrs;
	call->nheaders = 2;
	call->body = body->p;
	call->body_len = body->len;
}

/*
 * One synchronous call with the retry policy.  Returns 0 with a 2xx
 * response in *resp, or -1 with err and *resp holding the last response
 * (either way the caller clears *resp).
 */
static int
post(struct kinesis *k, const char *target, const struct buf *body,
    struct http_response *resp, char *err, size_t errsz)
{
	struct aws_call call;
	const char *hdrs[2];

	if (body->failed) {
		memset(resp, 0, sizeof(*resp));
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	json_call(&call, hdrs, target, body);
	k->calls++;
	return aws_call(k->aws, &call, resp, err, errsz);
}

/* ---- responses ---- */

/* Parses a whole response body that must be one JSON object.  Returns a
 * new reference, or NULL with err. */
static struct json_object *
parse_doc(const char *what, const char *body, size_t len, char *err,
    size_t errsz)
{
	struct jf_parser jp;
	struct json_object *o = NULL;
	const char *why = NULL;

	if (jf_parser_init(&jp) != 0) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (body == NULL || len == 0)
		why = "empty body";
	else
		o = jf_parse_object(&jp, body, len, &why);
	if (o == NULL)
		snprintf(err, errsz, "malformed %s response: %s", what, why);
	jf_parser_free(&jp);
	return o;
}

/*
 * Member key of o, typed.  Returns 1 with *v when present with type t, 0
 * when absent or null, -1 (with err naming it) for another type.
 */
static int
member(struct json_object *o, const char *key, enum json_type t,
    struct json_object **v, const char *what, char *err, size_t errsz)
{
	*v = NULL;
	if (!json_object_object_get_ex(o, key, v) ||
	    json_object_is_type(*v, json_type_null)) {
		*v = NULL;
		return 0;
	}
	if (json_object_is_type(*v, t))
		return 1;
	snprintf(err, errsz, "malformed %s response: %s is not %s", what, key,
	    t == json_type_string ? "a string" : t == json_type_array ?
	    "an array" : t == json_type_object ? "an object" : "a number");
	*v = NULL;
	return -1;
}

/* A string member: 0 with *s (NULL when absent or null), -1 with err. */
static int
str_member(struct json_object *o, const char *key, const char **s,
    const char *what, char *err, size_t errsz)
{
	struct json_object *v;
	int rc = member(o, key, json_type_string, &v, what, err, errsz);

	*s = rc == 1 ? json_object_get_string(v) : NULL;
	return rc < 0 ? -1 : 0;
}

/* A string member the API always sends. */
static int
str_required(struct json_object *o, const char *key, const char **s,
    const char *what, char *err, size_t errsz)
{
	if (str_member(o, key, s, what, err, errsz) != 0)
		return -1;
	if (*s == NULL) {
		snprintf(err, errsz, "malformed %s response: no %s", what,
		    key);
		return -1;
	}
	return 0;
}

/* A whole number member: 0 with *n (def when absent or null), -1. */
static int
int_member(struct json_object *o, const char *key, int64_t def,
    int64_t *n, const char *what, char *err, size_t errsz)
{
	struct json_object *v;
	int rc = member(o, key, json_type_int, &v, what, err, errsz);

	*n = rc == 1 ? json_object_get_int64(v) : def;
	if (rc == 1 && *n < 0) {
		snprintf(err, errsz, "malformed %s response: %s is negative",
		    what, key);
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

void
kinesis_shard_clear(struct kinesis_shard *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->parent);
	free(s->adjacent);
	memset(s, 0, sizeof(*s));
}

void
kinesis_shard_list_free(struct kinesis_shard_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		kinesis_shard_clear(&l->shard[i]);
	free(l->shard);
	free(l->next_token);
	memset(l, 0, sizeof(*l));
}

/* HashKeyRange of e into s (the whole range when absent). */
static int
hash_range(struct json_object *e, struct kinesis_shard *s, const char *what,
    char *err, size_t errsz)
{
	struct json_object *r;
	const char *lo, *hi;
	int rc = member(e, "HashKeyRange", json_type_object, &r, what, err,
	    errsz);

	if (rc <= 0) {
		memset(s->lo, 0, 16);
		memset(s->hi, 0xff, 16);
		return rc;
	}
	if (str_required(r, "StartingHashKey", &lo, what, err, errsz) != 0 ||
	    str_required(r, "EndingHashKey", &hi, what, err, errsz) != 0)
		return -1;
	if (kpl_dec128(lo, strlen(lo), s->lo) != 0 ||
	    kpl_dec128(hi, strlen(hi), s->hi) != 0) {
		snprintf(err, errsz, "malformed %s response: a hash key is not "
		    "a decimal 128-bit number", what);
		return -1;
	}
	return 0;
}

/* Appends an empty shard to l; NULL when memory is short. */
static struct kinesis_shard *
shard_add(struct kinesis_shard_list *l)
{
	struct kinesis_shard *ns = realloc(l->shard,
	    (l->n + 1) * sizeof(*ns));

	if (ns == NULL)
		return NULL;
	l->shard = ns;
	memset(&ns[l->n], 0, sizeof(ns[0]));
	return &ns[l->n++];
}

/* One entry of ListShards' Shards. */
static int
list_entry(struct json_object *e, struct kinesis_shard *s, char *err,
    size_t errsz)
{
	static const char what[] = "ListShards";
	struct json_object *r;
	const char *id, *parent, *adjacent, *end = NULL;
	int failed = 0;

	if (!json_object_is_type(e, json_type_object)) {
		snprintf(err, errsz, "malformed %s response: a shard is not "
		    "an object", what);
		return -1;
	}
	if (str_required(e, "ShardId", &id, what, err, errsz) != 0 ||
	    str_member(e, "ParentShardId", &parent, what, err, errsz) != 0 ||
	    str_member(e, "AdjacentParentShardId", &adjacent, what, err,
	    errsz) != 0 || hash_range(e, s, what, err, errsz) != 0 ||
	    member(e, "SequenceNumberRange", json_type_object, &r, what, err,
	    errsz) < 0 || (r != NULL && str_member(r, "EndingSequenceNumber",
	    &end, what, err, errsz) != 0))
		return -1;
	s->closed = end != NULL;
	s->id = buf_strdup(id, &failed);
	s->parent = buf_strdup(parent, &failed);
	s->adjacent = buf_strdup(adjacent, &failed);
	if (failed) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

int
kinesis_list_shards_parse(const char *body, size_t len,
    struct kinesis_shard_list *l, char *err, size_t errsz)
{
	struct json_object *doc, *arr;
	const char *token = NULL;
	size_t i, n, before = l->n;
	int rc = -1, failed = 0;

	doc = parse_doc("ListShards", body, len, err, errsz);
	if (doc == NULL)
		return -1;
	if (member(doc, "Shards", json_type_array, &arr, "ListShards", err,
	    errsz) < 0 || str_member(doc, "NextToken", &token, "ListShards",
	    err, errsz) != 0)
		goto out;
	if (arr == NULL) {
		snprintf(err, errsz, "malformed ListShards response: no "
		    "Shards");
		goto out;
	}
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		struct kinesis_shard *s = shard_add(l);

		if (s == NULL) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		if (list_entry(json_object_array_get_idx(arr, i), s, err,
		    errsz) != 0)
			goto out;
	}
	free(l->next_token);
	l->next_token = buf_strdup(token, &failed);
	if (failed) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	/* A page is taken whole or not at all. */
	while (rc != 0 && l->n > before)
		kinesis_shard_clear(&l->shard[--l->n]);
	json_object_put(doc);
	return rc;
}

int
kinesis_list_shards_body(struct buf *b, const char *stream,
    const char *next_token)
{
	buf_reset(b);
	buf_lit(b, "{\"");
	if (next_token != NULL) {
		buf_lit(b, "NextToken\":");
		buf_jstrz(b, next_token);
	} else {
		buf_str(b, kinesis_stream_member(stream));
		buf_lit(b, "\":");
		buf_jstrz(b, stream);
	}
	buf_char(b, '}');
	return b->failed ? -1 : 0;
}

int
kinesis_list_shards(struct kinesis *k, struct kinesis_shard_list *l,
    char *err, size_t errsz)
{
	struct buf body = BUF_INIT;
	struct http_response resp;
	char *last = NULL;
	int rc = -1;

	kinesis_shard_list_free(l);
	memset(&resp, 0, sizeof(resp));
	/* Pages until one comes without a NextToken. */
	do {
		http_response_clear(&resp);
		free(last);
		last = NULL;
		if (l->next_token != NULL &&
		    (last = strdup(l->next_token)) == NULL) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		kinesis_list_shards_body(&body, k->stream, last);
		rc = post(k, TARGET "ListShards", &body, &resp, err, errsz);
		if (rc != 0) {
			rc = rc == AWS_INTERRUPTED ? KINESIS_INTERRUPTED : -1;
			goto out;
		}
		rc = -1;
		if (kinesis_list_shards_parse(resp.body, resp.body_len, l, err,
		    errsz) != 0)
			goto out;
		/* A server that hands back the token it was given would
		 * keep this loop going for ever. */
		if (last != NULL && l->next_token != NULL &&
		    strcmp(last, l->next_token) == 0) {
			snprintf(err, errsz, "ListShards: the same NextToken "
			    "twice");
			goto out;
		}
	} while (l->next_token != NULL);
	rc = 0;
out:
	free(last);
	http_response_clear(&resp);
	buf_free(&body);
	return rc;
}

/* ---- GetShardIterator ---- */

const char *
kinesis_iterator_type_name(enum kinesis_iterator_type t)
{
	switch (t) {
	case KINESIS_TRIM_HORIZON:
		return "TRIM_HORIZON";
	case KINESIS_LATEST:
		return "LATEST";
	case KINESIS_AT_TIMESTAMP:
		return "AT_TIMESTAMP";
	case KINESIS_AT_SEQUENCE_NUMBER:
		return "AT_SEQUENCE_NUMBER";
	case KINESIS_AFTER_SEQUENCE_NUMBER:
		return "AFTER_SEQUENCE_NUMBER";
	}
	return NULL;
}

/* ms since the epoch as exact decimal seconds: "-1.500", "1700000000.123"
 * (a double would round some of them). */
static void
epoch_seconds(struct buf *b, int64_t ms)
{
	uint64_t u = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	char frac[4];

	if (ms < 0)
		buf_char(b, '-');
	buf_u64(b, u / 1000);
	frac[0] = '.';
	frac[1] = (char)('0' + u / 100 % 10);
	frac[2] = (char)('0' + u / 10 % 10);
	frac[3] = (char)('0' + u % 10);
	buf_add(b, frac, 4);
}

int
kinesis_get_shard_iterator_body(struct buf *b, const char *stream,
    const char *shard_id, const struct kinesis_position *pos)
{
	const char *type = kinesis_iterator_type_name(pos->type);
	int seq = pos->type == KINESIS_AT_SEQUENCE_NUMBER ||
	    pos->type == KINESIS_AFTER_SEQUENCE_NUMBER;

	buf_reset(b);
	if (type == NULL || (seq && pos->seq == NULL))
		return -1;
	buf_lit(b, "{\"");
	buf_str(b, kinesis_stream_member(stream));
	buf_lit(b, "\":");
	buf_jstrz(b, stream);
	buf_lit(b, ",\"ShardId\":");
	buf_jstrz(b, shard_id);
	buf_lit(b, ",\"ShardIteratorType\":\"");
	buf_str(b, type);
	buf_char(b, '"');
	if (seq) {
		buf_lit(b, ",\"StartingSequenceNumber\":");
		buf_jstrz(b, pos->seq);
	} else if (pos->type == KINESIS_AT_TIMESTAMP) {
		buf_lit(b, ",\"Timestamp\":");
		epoch_seconds(b, pos->timestamp_ms);
	}
	buf_char(b, '}');
	return b->failed ? -1 : 0;
}

int
kinesis_get_shard_iterator_parse(const char *body, size_t len,
    char **iterator, char *err, size_t errsz)
{
	struct json_object *doc;
	const char *it = NULL;
	int rc = -1, failed = 0;

	*iterator = NULL;
	doc = parse_doc("GetShardIterator", body, len, err, errsz);
	if (doc == NULL)
		return -1;
	if (str_member(doc, "ShardIterator", &it, "GetShardIterator", err,
	    errsz) != 0)
		goto out;
	*iterator = buf_strdup(it, &failed);
	if (failed) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_object_put(doc);
	return rc;
}

/* Kinesis' answer to a sequence number the retention has trimmed away:
 * InvalidArgumentException about StartingSequenceNumber. */
static int
expired_position(const struct http_response *resp,
    const struct kinesis_position *pos)
{
	char code[128], msg[512];

	if (pos->type != KINESIS_AFTER_SEQUENCE_NUMBER &&
	    pos->type != KINESIS_AT_SEQUENCE_NUMBER)
		return 0;
	aws_error(resp, code, sizeof(code), msg, sizeof(msg));
	return strcmp(code, "InvalidArgumentException") == 0 &&
	    (strcasestr(msg, "StartingSequenceNumber") != NULL ||
	    strcasestr(msg, "starting sequence number") != NULL);
}

int
kinesis_get_shard_iterator(struct kinesis *k, const char *shard_id,
    const struct kinesis_position *pos, char **iterator, char *err,
    size_t errsz)
{
	struct buf body = BUF_INIT;
	struct http_response resp;
	int rc = -1;

	*iterator = NULL;
	memset(&resp, 0, sizeof(resp));
	if (kinesis_get_shard_iterator_body(&body, k->stream, shard_id,
	    pos) != 0) {
		snprintf(err, errsz, body.failed ? "out of memory" :
		    "bad iterator position");
		goto out;
	}
	rc = post(k, TARGET "GetShardIterator", &body, &resp, err, errsz);
	if (rc != 0) {
		if (rc == AWS_INTERRUPTED)
			rc = KINESIS_INTERRUPTED;
		else if (expired_position(&resp, pos))
			rc = KINESIS_EXPIRED_POSITION;
		else
			rc = -1;
		goto out;
	}
	rc = kinesis_get_shard_iterator_parse(resp.body, resp.body_len,
	    iterator, err, errsz);
out:
	http_response_clear(&resp);
	buf_free(&body);
	return rc;
}

/* ---- GetRecords ---- */

void
kinesis_records_free(struct kinesis_records *r)
{
	if (r == NULL)
		return;
	json_object_put(r->doc);
	free(r->rec);
	kinesis_shard_list_free(&r->child);
	memset(r, 0, sizeof(*r));
}

int
kinesis_get_records_body(struct buf *b, const char *iterator, int limit)
{
	buf_reset(b);
	buf_lit(b, "{\"ShardIterator\":");
	buf_jstrz(b, iterator);
	if (limit > 0) {
		buf_lit(b, ",\"Limit\":");
		buf_u64(b, (uint64_t)limit);
	}
	buf_char(b, '}');
	return b->failed ? -1 : 0;
}

/* One entry of Records. */
static int
record_entry(struct json_object *e, struct kinesis_record *r, char *err,
    size_t errsz)
{
	static const char what[] = "GetRecords";
	struct json_object *v;
	double s;

	if (!json_object_is_type(e, json_type_object)) {
		snprintf(err, errsz, "malformed %s response: a record is not "
		    "an object", what);
		return -1;
	}
	if (str_required(e, "SequenceNumber", &r->seq, what, err, errsz) != 0 ||
	    str_required(e, "PartitionKey", &r->pk, what, err, errsz) != 0 ||
	    str_required(e, "Data", &r->data, what, err, errsz) != 0)
		return -1;
	json_object_object_get_ex(e, "PartitionKey", &v);
	r->pklen = (size_t)json_object_get_string_len(v);
	json_object_object_get_ex(e, "Data", &v);
	r->data_len = (size_t)json_object_get_string_len(v);
	/* A number of epoch seconds, with a fraction (json-c: a double) or
	 * without (an int). */
	if (!json_object_object_get_ex(e, "ApproximateArrivalTimestamp", &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int)) {
		snprintf(err, errsz, "malformed %s response: "
		    "ApproximateArrivalTimestamp is not a number", what);
		return -1;
	}
	s = json_object_get_double(v);
	/* Within the years kinpipe prints (kptime.h), with room to spare. */
	if (!isfinite(s) || fabs(s) > 1e12) {
		snprintf(err, errsz, "malformed %s response: "
		    "ApproximateArrivalTimestamp out of range", what);
		return -1;
	}
	r->has_arrival = 1;
	r->arrival_ms = (int64_t)llround(s * 1000.0);
	return 0;
}

/* One entry of ChildShards: ShardId, ParentShards (one or two),
 * HashKeyRange. */
static int
child_entry(struct json_object *e, struct kinesis_shard *s, char *err,
    size_t errsz)
{
	static const char what[] = "GetRecords";
	struct json_object *parents, *p;
	const char *id, *pid[2] = { NULL, NULL };
	size_t i, n;
	int failed = 0;

	if (!json_object_is_type(e, json_type_object)) {
		snprintf(err, errsz, "malformed %s response: a child shard is "
		    "not an object", what);
		return -1;
	}
	if (str_required(e, "ShardId", &id, what, err, errsz) != 0 ||
	    member(e, "ParentShards", json_type_array, &parents, what, err,
	    errsz) < 0 || hash_range(e, s, what, err, errsz) != 0)
		return -1;
	n = parents != NULL ? json_object_array_length(parents) : 0;
	if (n < 1 || n > 2) {
		snprintf(err, errsz, "malformed %s response: a child shard "
		    "with %zu parents", what, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(parents, i);
		if (!json_object_is_type(p, json_type_string)) {
			snprintf(err, errsz, "malformed %s response: a parent "
			    "shard id is not a string", what);
			return -1;
		}
		pid[i] = json_object_get_string(p);
	}
	s->id = buf_strdup(id, &failed);
	s->parent = buf_strdup(pid[0], &failed);
	s->adjacent = buf_strdup(pid[1], &failed);
	if (failed) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* ChildShards of doc into r->child. */
static int
children(struct json_object *doc, struct kinesis_records *r, char *err,
    size_t errsz)
{
	struct json_object *arr;
	size_t i, n;
	int rc = member(doc, "ChildShards", json_type_array, &arr,
	    "GetRecords", err, errsz);

	if (rc <= 0)
		return rc;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		struct kinesis_shard *s = shard_add(&r->child);

		if (s == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		if (child_entry(json_object_array_get_idx(arr, i), s, err,
		    errsz) != 0)
			return -1;
	}
	return 0;
}

int
kinesis_get_records_parse(const char *body, size_t len,
    struct kinesis_records *r, char *err, size_t errsz)
{
	struct json_object *arr;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->doc = parse_doc("GetRecords", body, len, err, errsz);
	if (r->doc == NULL)
		return -1;
	if (member(r->doc, "Records", json_type_array, &arr, "GetRecords",
	    err, errsz) < 0 || str_member(r->doc, "NextShardIterator",
	    &r->next_iterator, "GetRecords", err, errsz) != 0 ||
	    int_member(r->doc, "MillisBehindLatest", -1, &r->millis_behind,
	    "GetRecords", err, errsz) != 0 || children(r->doc, r, err,
	    errsz) != 0)
		goto out;
	if (arr == NULL) {
		snprintf(err, errsz, "malformed GetRecords response: no "
		    "Records");
		goto out;
	}
	r->n = json_object_array_length(arr);
	r->rec = calloc(r->n ? r->n : 1, sizeof(*r->rec));
	if (r->rec == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	for (i = 0; i < r->n; i++)
		if (record_entry(json_object_array_get_idx(arr, i),
		    &r->rec[i], err, errsz) != 0)
			goto out;
	rc = 0;
out:
	if (rc != 0)
		kinesis_records_free(r);
	return rc;
}

int
kinesis_get_records_error(const struct http_response *resp)
{
	char code[128], message[256];

	/* Two failures a reader handles itself: an iterator that lived past
	 * its five minutes, and a shard still throttled once the retry
	 * policy is spent. */
	if (resp->status == 0)
		return -1;
	aws_error(resp, code, sizeof(code), message, sizeof(message));
	if (strcmp(code, "ExpiredIteratorException") == 0)
		return KINESIS_EXPIRED_ITERATOR;
	if (retry_classify(resp->status, 0, code) == RETRY_THROTTLED)
		return KINESIS_THROTTLED;
	return -1;
}

int
kinesis_get_records(struct kinesis *k, const char *iterator, int limit,
    struct kinesis_records *r, char *err, size_t errsz)
{
	struct buf body = BUF_INIT;
	struct http_response resp;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	memset(&resp, 0, sizeof(resp));
	kinesis_get_records_body(&body, iterator, limit);
	rc = post(k, TARGET "GetRecords", &body, &resp, err, errsz);
	if (rc != 0) {
		rc = rc == AWS_INTERRUPTED ? KINESIS_INTERRUPTED :
		    kinesis_get_records_error(&resp);
		goto out;
	}
	rc = kinesis_get_records_parse(resp.body, resp.body_len, r, err,
	    errsz);
out:
	http_response_clear(&resp);
	buf_free(&body);
	return rc;
}

/* ---- PutRecords ---- */

void
kinesis_put_records_open(struct buf *b, const char *stream)
{
	buf_reset(b);
	buf_lit(b, "{\"");
	buf_str(b, kinesis_stream_member(stream));
	buf_lit(b, "\":");
	buf_jstrz(b, stream);
	buf_lit(b, ",\"Records\":[");
}

void
kinesis_put_records_add(struct buf *b, const void *data, size_t len,
    const char *pk, size_t pklen, const char *ehk)
{
	/* The open bracket ends the body until the first record. */
	if (b->len > 0 && b->p[b->len - 1] != '[')
		buf_char(b, ',');
	buf_lit(b, "{\"Data\":\"");
	buf_b64(b, data, len);
	buf_lit(b, "\",\"PartitionKey\":");
	buf_jstr(b, pk, pklen);
	if (ehk != NULL) {
		buf_lit(b, ",\"ExplicitHashKey\":");
		buf_jstrz(b, ehk);
	}
	buf_char(b, '}');
}

int
kinesis_put_records_close(struct buf *b)
{
	buf_lit(b, "]}");
	return b->failed ? -1 : 0;
}

void
kinesis_put_response_free(struct kinesis_put_response *r)
{
	if (r == NULL)
		return;
	json_object_put(r->doc);
	free(r->entry);
	memset(r, 0, sizeof(*r));
}

/* One entry of a PutRecords response. */
static int
put_entry(struct json_object *e, struct kinesis_put_result *p, char *err,
    size_t errsz)
{
	static const char what[] = "PutRecords";

	if (!json_object_is_type(e, json_type_object)) {
		snprintf(err, errsz, "malformed %s response: an entry is not "
		    "an object", what);
		return -1;
	}
	if (str_member(e, "ErrorCode", &p->code, what, err, errsz) != 0 ||
	    str_member(e, "ErrorMessage", &p->message, what, err, errsz) != 0 ||
	    str_member(e, "ShardId", &p->shard, what, err, errsz) != 0 ||
	    str_member(e, "SequenceNumber", &p->seq, what, err, errsz) != 0)
		return -1;
	if (p->message == NULL)
		p->message = "";
	if (p->code == NULL && (p->shard == NULL || p->seq == NULL)) {
		snprintf(err, errsz, "malformed %s response: an entry with "
		    "neither ErrorCode nor ShardId and SequenceNumber", what);
		return -1;
	}
	return 0;
}

int
kinesis_put_records_parse(const char *body, size_t len, size_t nsent,
    struct kinesis_put_response *r, char *err, size_t errsz)
{
	struct json_object *arr;
	int64_t count;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->doc = parse_doc("PutRecords", body, len, err, errsz);
	if (r->doc == NULL)
		return -1;
	if (member(r->doc, "Records", json_type_array, &arr, "PutRecords",
	    err, errsz) < 0 || int_member(r->doc, "FailedRecordCount", -1,
	    &count, "PutRecords", err, errsz) != 0)
		goto out;
	if (arr == NULL || json_object_array_length(arr) != nsent) {
		snprintf(err, errsz, "malformed PutRecords response: %zu "
		    "entries for %zu records", arr != NULL ?
		    json_object_array_length(arr) : 0, nsent);
		goto out;
	}
	r->n = nsent;
	r->entry = calloc(nsent ? nsent : 1, sizeof(*r->entry));
	if (r->entry == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	for (i = 0; i < nsent; i++) {
		if (put_entry(json_object_array_get_idx(arr, i), &r->entry[i],
		    err, errsz) != 0)
			goto out;
		if (r->entry[i].code != NULL)
			r->failed++;
	}
	if (count >= 0 && (uint64_t)count != r->failed) {
		snprintf(err, errsz, "malformed PutRecords response: "
		    "FailedRecordCount %lld for %zu failed entries",
		    (long long)count, r->failed);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		kinesis_put_response_free(r);
	return rc;
}

struct http_xfer *
kinesis_put_records_start(struct kinesis *k, const struct buf *body,
    void *user, char *err, size_t errsz)
{
	struct aws_call call;
	const char *hdrs[2];
	struct http_xfer *x;

	if (body->failed) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	json_call(&call, hdrs, TARGET "PutRecords", body);
	x = aws_start(k->aws, &call, user, err, errsz);
	if (x != NULL)
		k->calls++;
	return x;
}
