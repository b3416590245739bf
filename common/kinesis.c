#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"
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

/*
 * The hot responses (GetRecords, PutRecords) are walked with jdoc.h
 * instead: one pass validates the whole body and notes, for each member
 * that matters, its last occurrence (json-c keeps the last); the checks
 * then run on the notes in the order the json-c code above runs them, so
 * a response gives the same verdict and the same message as before.  The
 * strings are decoded in place in the response's own copy (jdoc_settle),
 * once the whole body is known to be valid.
 */

/* A member noted by a walk: its last value. */
struct jmem {
	int seen;
	struct jdoc_val v;
};

/* A member name to note, with its length. */
struct jname {
	const char *s;
	size_t n;
};

#define JNAME(lit) { lit, sizeof(lit) - 1 }

/* A refused body's error, worded by json-c from the bytes as they came
 * (parse_doc); the walker's reason when json-c takes it. */
static void
refused(const char *what, const char *body, size_t len, const char *own,
    char *err, size_t errsz)
{
	struct json_object *o = parse_doc(what, body, len, err, errsz);

	if (o == NULL)
		return;
	json_object_put(o);
	snprintf(err, errsz, "malformed %s response: invalid JSON: %s", what,
	    own != NULL ? own : "unexpected character");
}

/* Walks the object just entered, noting the last value of each of the n
 * names into m[] (containers are skipped; their start is kept). */
static int
note_members(struct jdoc *d, const struct jname *names, struct jmem *m,
    size_t n)
{
	struct jdoc_val v;
	const char *k;
	size_t kn, i;
	int rc;

	while ((rc = jdoc_member(d, &k, &kn)) == 1) {
		if (jdoc_value(d, &v) != 0)
			return -1;
		for (i = 0; i < n; i++)
			if (names[i].n == kn && memcmp(names[i].s, k, kn) == 0) {
				m[i].seen = 1;
				m[i].v = v;
				break;
			}
		if (jdoc_skip(d, &v) != 0)
			return -1;
	}
	return rc;
}

/* Enters the container noted in m, in a document that ends at end and is
 * known to be valid. */
static void
jmem_enter(struct jdoc *d, const struct jmem *m, const char *end)
{
	struct jdoc_val v;

	jdoc_init(d, m->v.tok, (size_t)(end - m->v.tok));
	(void)jdoc_value(d, &v);
}

/* member() on a note: 1 present with type t, 0 absent or null, -1. */
static int
jmember(const struct jmem *m, const char *key, enum jdoc_type t,
    const char *what, char *err, size_t errsz)
{
	if (!m->seen || m->v.type == JDOC_NULL)
		return 0;
	if (m->v.type == t)
		return 1;
	snprintf(err, errsz, "malformed %s response: %s is not %s", what, key,
	    t == JDOC_STRING ? "a string" : t == JDOC_ARRAY ? "an array" :
	    t == JDOC_OBJECT ? "an object" : "a number");
	return -1;
}

/* str_required() on a note: 0 or -1. */
static int
jstr_required(const struct jmem *m, const char *key, const char *what,
    char *err, size_t errsz)
{
	int rc = jmember(m, key, JDOC_STRING, what, err, errsz);

	if (rc == 0)
		snprintf(err, errsz, "malformed %s response: no %s", what,
		    key);
	return rc == 1 ? 0 : -1;
}

/* int_member() on a note: json-c's integers only (a fraction or an
 * exponent makes a double, "not a number"). */
static int
jint_member(const struct jmem *m, const char *key, int64_t def, int64_t *n,
    const char *what, char *err, size_t errsz)
{
	double dbl;
	int rc = jmember(m, key, JDOC_NUMBER, what, err, errsz);

	*n = def;
	if (rc <= 0)
		return rc;
	rc = jdoc_number(&m->v, n, &dbl);
	if (rc < 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (rc == 0) {
		*n = def;
		snprintf(err, errsz, "malformed %s response: %s is not a "
		    "number", what, key);
		return -1;
	}
	if (*n < 0) {
		snprintf(err, errsz, "malformed %s response: %s is negative",
		    what, key);
		return -1;
	}
	return 0;
}

/* The string whose content starts at s, in place in doc (the writable
 * copy s points into): decoded and NUL-terminated.  Returns its length,
 * or (size_t)-1. */
static size_t
settle(char *doc, const char *s, struct buf *tmp)
{
	return jdoc_settle(doc + (s - doc), tmp);
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
	free(r->doc);
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

/*
 * Walks a whole response body (doc[0..len)): the last value of each member
 * named in names[0..n) is noted in *m[i]; when the first (the array of
 * entries) is an array, entries(d, arg) reads it.  Returns 0, or -1 with
 * *why (the body is refused).
 */
static int
walk_response(const char *doc, size_t len, const struct jname *names,
    struct jmem *const *m, size_t n, int (*entries)(struct jdoc *, void *),
    void *arg, const char **why)
{
	struct jdoc d;
	struct jdoc_val top, v;
	const char *k;
	size_t kn, i;
	int rc = -1;

	jdoc_init(&d, doc, len);
	if (jdoc_value(&d, &top) != 0 || top.type != JDOC_OBJECT)
		goto out;
	while ((rc = jdoc_member(&d, &k, &kn)) == 1) {
		rc = -1;
		if (jdoc_value(&d, &v) != 0)
			goto out;
		for (i = 0; i < n; i++)
			if (names[i].n == kn && memcmp(names[i].s, k, kn) == 0)
				break;
		if (i < n) {
			m[i]->seen = 1;
			m[i]->v = v;
		}
		if (i == 0 && v.type == JDOC_ARRAY ? entries(&d, arg) != 0 :
		    jdoc_skip(&d, &v) != 0)
			goto out;
	}
	if (rc == 0)
		rc = jdoc_end(&d);
out:
	*why = d.err;
	jdoc_free(&d);
	return rc < 0 ? -1 : 0;
}

/* The walk of a GetRecords response: its members' last values, and what
 * was wrong with the first bad record of the last Records. */
struct gr {
	struct kinesis_records *r;
	struct jmem recs, next, millis, child;
	size_t cap;
	char bad[256];
};

/* One entry of Records, walked (e: its value, entered): the strings are
 * noted raw (settled by gr_settle), a semantic error goes to why. */
static int
record_entry(struct jdoc *d, const struct jdoc_val *e,
    struct kinesis_record *r, char *why, size_t whysz)
{
	static const char what[] = "GetRecords";
	static const struct jname names[] = { JNAME("SequenceNumber"),
	    JNAME("PartitionKey"), JNAME("Data"),
	    JNAME("ApproximateArrivalTimestamp") };
	struct jmem m[4];
	int64_t i;
	double t;
	int rc;

	if (e->type != JDOC_OBJECT) {
		snprintf(why, whysz, "malformed %s response: a record is not "
		    "an object", what);
		return jdoc_skip(d, e);
	}
	memset(m, 0, sizeof(m));
	if (note_members(d, names, m, 4) != 0)
		return -1;
	if (jstr_required(&m[0], "SequenceNumber", what, why, whysz) != 0 ||
	    jstr_required(&m[1], "PartitionKey", what, why, whysz) != 0 ||
	    jstr_required(&m[2], "Data", what, why, whysz) != 0)
		return 0;
	memset(r, 0, sizeof(*r));
	r->seq = m[0].v.tok + 1;
	r->pk = m[1].v.tok + 1;
	r->pklen = m[1].v.len - 2;
	r->data = m[2].v.tok + 1;
	r->data_len = m[2].v.len - 2;
	/* A number of epoch seconds, with a fraction (json-c: a double) or
	 * without (an int). */
	if (!m[3].seen || m[3].v.type == JDOC_NULL)
		return 0;
	if (m[3].v.type != JDOC_NUMBER) {
		snprintf(why, whysz, "malformed %s response: "
		    "ApproximateArrivalTimestamp is not a number", what);
		return 0;
	}
	rc = jdoc_number(&m[3].v, &i, &t);
	if (rc < 0) {
		snprintf(why, whysz, "out of memory");
		return 0;
	}
	if (rc == 1)
		t = (double)i;
	/* Within the years kinpipe prints (kptime.h), with room to spare. */
	if (!isfinite(t) || fabs(t) > 1e12) {
		snprintf(why, whysz, "malformed %s response: "
		    "ApproximateArrivalTimestamp out of range", what);
		return 0;
	}
	r->has_arrival = 1;
	r->arrival_ms = (int64_t)llround(t * 1000.0);
	return 0;
}

/* Records, entered: the entries into r->rec (replacing an earlier
 * Records), the first bad one's reason in g->bad. */
static int
records(struct jdoc *d, void *arg)
{
	struct gr *g = arg;
	struct kinesis_records *r = g->r;
	struct jdoc_val e;
	int rc;

	r->n = 0;
	g->bad[0] = '\0';
	if (g->cap == 0) {
		/* Even an empty Records has an array. */
		if ((r->rec = malloc(64 * sizeof(*r->rec))) == NULL) {
			d->err = "out of memory";
			return -1;
		}
		g->cap = 64;
	}
	while ((rc = jdoc_elem(d)) == 1) {
		if (jdoc_value(d, &e) != 0)
			return -1;
		if (g->bad[0] != '\0') {
			if (jdoc_skip(d, &e) != 0)
				return -1;
			continue;
		}
		if (r->n == g->cap) {
			size_t cap = g->cap * 2;
			struct kinesis_record *nr = realloc(r->rec,
			    cap * sizeof(*nr));

			if (nr == NULL) {
				d->err = "out of memory";
				return -1;
			}
			r->rec = nr;
			g->cap = cap;
		}
		if (record_entry(d, &e, &r->rec[r->n], g->bad,
		    sizeof(g->bad)) != 0)
			return -1;
		r->n++;
	}
	return rc;
}

/* A noted string as a new C string; *failed set when memory is short. */
static char *
jstrdup(const struct jdoc_val *v, struct buf *tmp, int *failed)
{
	char *c = jdoc_strdup(v, tmp);

	if (c == NULL)
		*failed = 1;
	return c;
}

/* HashKeyRange noted in m into s (the whole range when absent). */
static int
jhash_range(const struct jmem *m, const char *end, struct kinesis_shard *s,
    struct buf *tmp, char *err, size_t errsz)
{
	static const char what[] = "GetRecords";
	static const struct jname names[] = { JNAME("StartingHashKey"),
	    JNAME("EndingHashKey") };
	struct jmem k[2];
	struct jdoc d;
	char *lo, *hi;
	int rc = jmember(m, "HashKeyRange", JDOC_OBJECT, what, err, errsz),
	    failed = 0;

	if (rc <= 0) {
		memset(s->lo, 0, 16);
		memset(s->hi, 0xff, 16);
		return rc;
	}
	memset(k, 0, sizeof(k));
	jmem_enter(&d, m, end);
	rc = note_members(&d, names, k, 2);
	jdoc_free(&d);
	if (rc != 0 ||
	    jstr_required(&k[0], "StartingHashKey", what, err, errsz) != 0 ||
	    jstr_required(&k[1], "EndingHashKey", what, err, errsz) != 0)
		return -1;
	lo = jstrdup(&k[0].v, tmp, &failed);
	hi = jstrdup(&k[1].v, tmp, &failed);
	rc = 0;
	if (failed) {
		snprintf(err, errsz, "out of memory");
		rc = -1;
	} else if (kpl_dec128(lo, strlen(lo), s->lo) != 0 ||
	    kpl_dec128(hi, strlen(hi), s->hi) != 0) {
		snprintf(err, errsz, "malformed %s response: a hash key is not "
		    "a decimal 128-bit number", what);
		rc = -1;
	}
	free(lo);
	free(hi);
	return rc;
}

/* The parents of a child shard (ParentShards, noted in m, an array). */
static int
parents(const struct jmem *m, const char *end, struct kinesis_shard *s,
    struct buf *tmp, char *err, size_t errsz)
{
	static const char what[] = "GetRecords";
	struct jdoc_val p[2];
	struct jdoc d;
	size_t n = 0;
	int failed = 0;

	if (m->seen && m->v.type == JDOC_ARRAY) {
		jmem_enter(&d, m, end);
		while (jdoc_elem(&d) == 1) {
			struct jdoc_val v;

			(void)jdoc_value(&d, &v);
			(void)jdoc_skip(&d, &v);
			if (n < 2)
				p[n] = v;
			n++;
		}
		jdoc_free(&d);
	}
	if (n < 1 || n > 2) {
		snprintf(err, errsz, "malformed %s response: a child shard "
		    "with %zu parents", what, n);
		return -1;
	}
	if (p[0].type != JDOC_STRING || (n == 2 && p[1].type != JDOC_STRING)) {
		snprintf(err, errsz, "malformed %s response: a parent shard id "
		    "is not a string", what);
		return -1;
	}
	s->parent = jstrdup(&p[0], tmp, &failed);
	if (n == 2)
		s->adjacent = jstrdup(&p[1], tmp, &failed);
	if (failed) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* One entry of ChildShards: ShardId, ParentShards (one or two),
 * HashKeyRange. */
static int
child_entry(struct jdoc *d, const struct jdoc_val *e, const char *end,
    struct kinesis_shard *s, struct buf *tmp, char *err, size_t errsz)
{
	static const char what[] = "GetRecords";
	static const struct jname names[] = { JNAME("ShardId"),
	    JNAME("ParentShards"), JNAME("HashKeyRange") };
	struct jmem m[3];
	int failed = 0;

	if (e->type != JDOC_OBJECT) {
		snprintf(err, errsz, "malformed %s response: a child shard is "
		    "not an object", what);
		return -1;
	}
	memset(m, 0, sizeof(m));
	(void)note_members(d, names, m, 3);
	if (jstr_required(&m[0], "ShardId", what, err, errsz) != 0 ||
	    jmember(&m[1], "ParentShards", JDOC_ARRAY, what, err, errsz) < 0 ||
	    jhash_range(&m[2], end, s, tmp, err, errsz) != 0 ||
	    parents(&m[1], end, s, tmp, err, errsz) != 0)
		return -1;
	s->id = jstrdup(&m[0].v, tmp, &failed);
	if (failed) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* ChildShards (noted in g) into r->child. */
static int
children(const struct gr *g, const char *end, struct kinesis_records *r,
    struct buf *tmp, char *err, size_t errsz)
{
	struct jdoc d;
	struct jdoc_val e;
	int rc = jmember(&g->child, "ChildShards", JDOC_ARRAY, "GetRecords",
	    err, errsz);

	if (rc <= 0)
		return rc;
	jmem_enter(&d, &g->child, end);
	while (rc == 1 && jdoc_elem(&d) == 1) {
		struct kinesis_shard *s = shard_add(&r->child);

		(void)jdoc_value(&d, &e);
		if (s == NULL) {
			snprintf(err, errsz, "out of memory");
			rc = -1;
		} else if (child_entry(&d, &e, end, s, tmp, err, errsz) != 0) {
			rc = -1;
		}
	}
	jdoc_free(&d);
	return rc < 0 ? -1 : 0;
}

/* The strings of the records, settled in place. */
static int
gr_settle(struct kinesis_records *r, struct buf *tmp)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct kinesis_record *e = &r->rec[i];

		if (settle(r->doc, e->seq, tmp) == (size_t)-1 ||
		    (e->pklen = settle(r->doc, e->pk, tmp)) == (size_t)-1 ||
		    (e->data_len = settle(r->doc, e->data, tmp)) == (size_t)-1)
			return -1;
	}
	if (r->next_iterator != NULL &&
	    settle(r->doc, r->next_iterator, tmp) == (size_t)-1)
		return -1;
	return 0;
}

/*
 * Parses a GetRecords response held in doc[0..len) (NUL-terminated), of
 * which r takes ownership.
 */
static int
records_parse(char *doc, size_t len, struct kinesis_records *r, char *err,
    size_t errsz)
{
	static const char what[] = "GetRecords";
	static const struct jname names[] = { JNAME("Records"),
	    JNAME("NextShardIterator"), JNAME("MillisBehindLatest"),
	    JNAME("ChildShards") };
	struct gr g;
	struct jmem *const m[] = { &g.recs, &g.next, &g.millis, &g.child };
	struct buf tmp = BUF_INIT;
	const char *why = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	memset(&g, 0, sizeof(g));
	r->doc = doc;
	g.r = r;
	if (len > 0x7fffffff || walk_response(doc, len, names, m, 4, records,
	    &g, &why) != 0) {
		refused(what, doc, len, why, err, errsz);
		goto out;
	}
	if (jmember(&g.recs, "Records", JDOC_ARRAY, what, err, errsz) < 0 ||
	    jmember(&g.next, "NextShardIterator", JDOC_STRING, what, err,
	    errsz) < 0 || jint_member(&g.millis, "MillisBehindLatest", -1,
	    &r->millis_behind, what, err, errsz) != 0 || children(&g,
	    doc + len, r, &tmp, err, errsz) != 0)
		goto out;
	if (!g.recs.seen || g.recs.v.type != JDOC_ARRAY) {
		snprintf(err, errsz, "malformed %s response: no Records", what);
		goto out;
	}
	if (g.bad[0] != '\0') {
		snprintf(err, errsz, "%s", g.bad);
		goto out;
	}
	if (g.next.seen && g.next.v.type == JDOC_STRING)
		r->next_iterator = g.next.v.tok + 1;
	if (gr_settle(r, &tmp) != 0) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		kinesis_records_free(r);
	buf_free(&tmp);
	return rc;
}

/* A copy of body[0..len), NUL-terminated; NULL with err. */
static char *
body_copy(const char *body, size_t len, char *err, size_t errsz)
{
	char *doc = malloc(len + 1);

	if (doc == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (len > 0)
		memcpy(doc, body, len);
	doc[len] = '\0';
	return doc;
}

int
kinesis_get_records_parse(const char *body, size_t len,
    struct kinesis_records *r, char *err, size_t errsz)
{
	char *doc;

	memset(r, 0, sizeof(*r));
	if (body == NULL || len == 0) {
		refused("GetRecords", body, len, NULL, err, errsz);
		return -1;
	}
	if ((doc = body_copy(body, len, err, errsz)) == NULL)
		return -1;
	return records_parse(doc, len, r, err, errsz);
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
	if (resp.body == NULL || resp.body_len == 0) {
		rc = kinesis_get_records_parse(resp.body, resp.body_len, r,
		    err, errsz);
	} else {
		/* The records are read in place: r takes the body. */
		rc = records_parse(resp.body, resp.body_len, r, err, errsz);
		resp.body = NULL;
		resp.body_len = 0;
	}
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
	free(r->doc);
	free(r->entry);
	memset(r, 0, sizeof(*r));
}

/* The walk of a PutRecords response. */
struct pr {
	struct kinesis_put_response *r;
	struct jmem recs, count;
	size_t nsent;
	size_t n;                     /* entries of the last Records */
	char bad[256];                /* the first bad one among the first
	                               * nsent, or "" */
};

/* One entry of a PutRecords response (e: its value, entered); a semantic
 * error goes to why. */
static int
put_entry(struct jdoc *d, const struct jdoc_val *e,
    struct kinesis_put_result *p, char *why, size_t whysz)
{
	static const char what[] = "PutRecords";
	static const struct jname names[] = { JNAME("ErrorCode"),
	    JNAME("ErrorMessage"), JNAME("ShardId"), JNAME("SequenceNumber") };
	static const char *const keys[] = { "ErrorCode", "ErrorMessage",
	    "ShardId", "SequenceNumber" };
	const char **out[4];
	struct jmem m[4];
	size_t i;

	if (e->type != JDOC_OBJECT) {
		snprintf(why, whysz, "malformed %s response: an entry is not "
		    "an object", what);
		return jdoc_skip(d, e);
	}
	memset(m, 0, sizeof(m));
	if (note_members(d, names, m, 4) != 0)
		return -1;
	out[0] = &p->code;
	out[1] = &p->message;
	out[2] = &p->shard;
	out[3] = &p->seq;
	for (i = 0; i < 4; i++) {
		int rc = jmember(&m[i], keys[i], JDOC_STRING, what, why, whysz);

		if (rc < 0)
			return 0;
		*out[i] = rc == 1 ? m[i].v.tok + 1 : NULL;
	}
	if (p->code == NULL && (p->shard == NULL || p->seq == NULL))
		snprintf(why, whysz, "malformed %s response: an entry with "
		    "neither ErrorCode nor ShardId and SequenceNumber", what);
	return 0;
}

/* Records, entered: the first nsent entries into r->entry. */
static int
put_entries(struct jdoc *d, void *arg)
{
	struct pr *g = arg;
	struct kinesis_put_response *r = g->r;
	struct jdoc_val e;
	int rc;

	g->n = 0;
	g->bad[0] = '\0';
	while ((rc = jdoc_elem(d)) == 1) {
		if (jdoc_value(d, &e) != 0)
			return -1;
		if (g->n < g->nsent && g->bad[0] == '\0') {
			if (put_entry(d, &e, &r->entry[g->n], g->bad,
			    sizeof(g->bad)) != 0)
				return -1;
		} else if (jdoc_skip(d, &e) != 0) {
			return -1;
		}
		g->n++;
	}
	return rc;
}

/* The strings of the entries, settled in place. */
static int
pr_settle(struct kinesis_put_response *r, struct buf *tmp)
{
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		struct kinesis_put_result *p = &r->entry[i];
		const char **s[4] = { &p->shard, &p->seq, &p->code,
		    &p->message };

		for (j = 0; j < 4; j++)
			if (*s[j] != NULL &&
			    settle(r->doc, *s[j], tmp) == (size_t)-1)
				return -1;
		if (p->message == NULL)
			p->message = "";
		if (p->code != NULL)
			r->failed++;
	}
	return 0;
}

int
kinesis_put_records_parse(const char *body, size_t len, size_t nsent,
    struct kinesis_put_response *r, char *err, size_t errsz)
{
	static const char what[] = "PutRecords";
	static const struct jname names[] = { JNAME("Records"),
	    JNAME("FailedRecordCount") };
	struct pr g;
	struct jmem *const m[] = { &g.recs, &g.count };
	struct buf tmp = BUF_INIT;
	const char *why = NULL;
	int64_t count;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	memset(&g, 0, sizeof(g));
	g.nsent = nsent;
	if (body == NULL || len == 0 || len > 0x7fffffff) {
		refused(what, body, len, NULL, err, errsz);
		return -1;
	}
	if ((r->doc = body_copy(body, len, err, errsz)) == NULL)
		return -1;
	r->entry = calloc(nsent ? nsent : 1, sizeof(*r->entry));
	if (r->entry == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	g.r = r;
	if (walk_response(r->doc, len, names, m, 2, put_entries, &g,
	    &why) != 0) {
		refused(what, body, len, why, err, errsz);
		goto out;
	}
	if (jmember(&g.recs, "Records", JDOC_ARRAY, what, err, errsz) < 0 ||
	    jint_member(&g.count, "FailedRecordCount", -1, &count, what, err,
	    errsz) != 0)
		goto out;
	if (!g.recs.seen || g.recs.v.type != JDOC_ARRAY || g.n != nsent) {
		snprintf(err, errsz, "malformed %s response: %zu entries for "
		    "%zu records", what, g.recs.seen &&
		    g.recs.v.type == JDOC_ARRAY ? g.n : 0, nsent);
		goto out;
	}
	if (g.bad[0] != '\0') {
		snprintf(err, errsz, "%s", g.bad);
		goto out;
	}
	r->n = nsent;
	if (pr_settle(r, &tmp) != 0) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	if (count >= 0 && (uint64_t)count != r->failed) {
		snprintf(err, errsz, "malformed %s response: "
		    "FailedRecordCount %lld for %zu failed entries", what,
		    (long long)count, r->failed);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		kinesis_put_response_free(r);
	buf_free(&tmp);
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
