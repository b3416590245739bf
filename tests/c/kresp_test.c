/*
 * kresp_test - the Kinesis responses kinpipe reads on its hot paths
 * (GetRecords, PutRecords), parsed by kinesis.c (a jdoc.h walk) and by a
 * reference: the json-c implementation kinesis.c had before, kept here
 * word for word.  Many generated responses (every member present, absent,
 * null, of the wrong type or twice; strings with every kind of escape;
 * numbers at and past their limits; nesting at json-c's limit) and as many
 * mutated ones (bytes flipped, dropped, inserted, cut, garbage appended)
 * go to both: the verdicts, the error messages and the parsed records must
 * be the same.  jdoc_check, with which kin-read checks a record's data,
 * is held to jf_parse's verdict the same way.  Fixed seeds: the same
 * cases every run.
 *
 *   kresp_test [-v]
 *
 * TAP as tests/c/tap.h prints it.  Each response is copied into a heap
 * buffer of exactly its length (no NUL) first, so that ASan or valgrind
 * catch a read past its end.
 */
#include <math.h>
#include <stdint.h>

#include <json.h>

#include "buf.h"
#include "jdoc.h"
#include "jfield.h"
#include "kinesis.h"
#include "kpl.h"
#include "tap.h"

/* ---- the reference: kinesis.c's json-c parsers as they were ---- */

/* A GetRecords response, as the reference parses it. */
struct ref_records {
	struct json_object *doc;
	struct kinesis_record *rec;
	size_t n;
	const char *next_iterator;
	int64_t millis_behind;
	struct kinesis_shard_list child;
};

/* A PutRecords response, as the reference parses it. */
struct ref_put {
	struct json_object *doc;
	struct kinesis_put_result *entry;
	size_t n;
	size_t failed;
};

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


static void
ref_records_free(struct ref_records *r)
{
	if (r == NULL)
		return;
	json_object_put(r->doc);
	free(r->rec);
	kinesis_shard_list_free(&r->child);
	memset(r, 0, sizeof(*r));
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
children(struct json_object *doc, struct ref_records *r, char *err,
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

static int
ref_get_records_parse(const char *body, size_t len,
    struct ref_records *r, char *err, size_t errsz)
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
		ref_records_free(r);
	return rc;
}


static void
ref_put_free(struct ref_put *r)
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

static int
ref_put_records_parse(const char *body, size_t len, size_t nsent,
    struct ref_put *r, char *err, size_t errsz)
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
		ref_put_free(r);
	return rc;
}


/* ---- output, for comparison ---- */

static void
out_bytes(struct buf *o, const char *s, size_t n)
{
	buf_jstr(o, s, n);
	buf_char(o, ' ');
}

static void
out_cstr(struct buf *o, const char *s)
{
	if (s == NULL)
		buf_lit(o, "(null) ");
	else
		out_bytes(o, s, strlen(s));
}

static void
out_shards(struct buf *o, const struct kinesis_shard_list *l)
{
	size_t i, j;

	for (i = 0; i < l->n; i++) {
		const struct kinesis_shard *s = &l->shard[i];

		buf_lit(o, "child ");
		out_cstr(o, s->id);
		out_cstr(o, s->parent);
		out_cstr(o, s->adjacent);
		for (j = 0; j < 16; j++)
			buf_u64(o, (uint64_t)s->lo[j] << 8 | s->hi[j]);
		buf_u64(o, (uint64_t)s->closed);
		buf_char(o, '\n');
	}
}

static void
out_records(struct buf *o, const struct kinesis_record *rec, size_t n,
    const char *next, int64_t behind, const struct kinesis_shard_list *l)
{
	size_t i;

	buf_u64(o, n);
	buf_char(o, ' ');
	out_cstr(o, next);
	buf_i64(o, behind);
	buf_char(o, '\n');
	for (i = 0; i < n; i++) {
		const struct kinesis_record *r = &rec[i];

		out_cstr(o, r->seq);
		out_bytes(o, r->pk, r->pklen);
		out_bytes(o, r->data, r->data_len);
		buf_i64(o, r->has_arrival ? r->arrival_ms : -999);
		buf_char(o, '\n');
	}
	out_shards(o, l);
}

static void
out_put(struct buf *o, const struct kinesis_put_result *e, size_t n,
    size_t failed)
{
	size_t i;

	buf_u64(o, n);
	buf_char(o, ' ');
	buf_u64(o, failed);
	buf_char(o, '\n');
	for (i = 0; i < n; i++) {
		out_cstr(o, e[i].shard);
		out_cstr(o, e[i].seq);
		out_cstr(o, e[i].code);
		out_cstr(o, e[i].message);
		buf_char(o, '\n');
	}
}

/* ---- the generator ---- */

static uint64_t rng = 88172645463325252ull;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (unsigned)(rng % n) : 0;
}

static void
sp(struct buf *b)
{
	static const char *const w[] = { "", "", "", " ", "\n", "\t ", "\r\n" };

	buf_str(b, w[rnd(7)]);
}

/* A string with, now and then, every kind of escape and raw UTF-8. */
static void
gen_str(struct buf *b, const char *base)
{
	static const char *const odd[] = { "\\u0000", "\\\"", "\\\\", "\\/",
	    "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\udc00x", "\\ud800\\ud800",
	    "\xc3\xa9", "\xf0\x9f\x98\x80", "\\n", "\\b\\f\\r\\t", "\\u001F",
	    "\\uFFFF", "\\u0041" };
	int k = rnd(4) == 0 ? 1 + rnd(3) : 0;

	buf_char(b, '"');
	buf_str(b, base);
	while (k-- > 0) {
		buf_str(b, odd[rnd(sizeof(odd) / sizeof(odd[0]))]);
		buf_str(b, base + rnd((unsigned)strlen(base) + 1));
	}
	buf_char(b, '"');
}

static void
gen_num(struct buf *b)
{
	static const char *const n[] = { "0", "-0", "1", "42", "1795703716.61",
	    "1795703716", "1.5e9", "1E3", "-5", "1e999", "-1e999",
	    "99999999999999999999", "-99999999999999999999",
	    "9223372036854775807", "9223372036854775808",
	    "18446744073709551616", "1000000000000", "1000000000001",
	    "-1000000000000.5", "0.0001", "1795703716.6105",
	    "12345678901234567890123456789012345678901234567890123456789012345678"
	};

	buf_str(b, n[rnd(sizeof(n) / sizeof(n[0]))]);
}

/* Something of a random type; a nest of containers now and then. */
static void
gen_any(struct buf *b, int depth)
{
	int i, d;

	switch (rnd(9)) {
	case 0: buf_lit(b, "null"); break;
	case 1: buf_lit(b, "true"); break;
	case 2: buf_lit(b, "false"); break;
	case 3: gen_num(b); break;
	case 4: gen_str(b, "abc"); break;
	case 5: buf_lit(b, "{\"x\":[1,{}]}"); break;
	case 6: buf_lit(b, "[]"); break;
	case 7:
		/* At json-c's limit of 32 containers, and past it. */
		d = 28 - depth + (int)rnd(8);
		for (i = 0; i < d; i++)
			buf_str(b, i % 2 ? "{\"a\":" : "[");
		buf_lit(b, "1");
		for (i = d - 1; i >= 0; i--)
			buf_str(b, i % 2 ? "}" : "]");
		break;
	default: buf_lit(b, "{}"); break;
	}
}

/* A member: usually a good value (good()), else absent, null, another
 * type; sometimes twice.  Returns whether it was written. */
static int
gen_member(struct buf *b, int first, const char *key, int depth,
    void (*good)(struct buf *, int))
{
	int i, times = rnd(12) == 0 ? 2 : 1, r = rnd(40);

	if (r == 0)
		return 0;
	for (i = 0; i < times; i++) {
		if (!first || i > 0)
			buf_char(b, ',');
		sp(b);
		if (rnd(30) == 0) {
			/* The name, escaped. */
			buf_char(b, '"');
			buf_add(b, key, 1);
			buf_lit(b, "\\u00");
			buf_char(b, "0123456789abcdef"[key[1] >> 4]);
			buf_char(b, "0123456789abcdef"[key[1] & 15]);
			buf_str(b, key + 2);
			buf_char(b, '"');
		} else {
			buf_jstrz(b, key);
		}
		sp(b);
		buf_char(b, ':');
		sp(b);
		if (r == 1)
			buf_lit(b, "null");
		else if (r == 2)
			gen_any(b, depth + 1);
		else
			good(b, depth + 1);
		sp(b);
	}
	return 1;
}

static void g_seq(struct buf *b, int d) { (void)d; gen_str(b, "49590338271490256608559692538361571095921575989136588898"); }
static void g_pk(struct buf *b, int d) { (void)d; gen_str(b, "AAPL"); }
static void g_data(struct buf *b, int d) { (void)d; gen_str(b, rnd(5) ? "eyJwIjoxMDEuNX0=" : ""); }
static void g_num(struct buf *b, int d) { (void)d; gen_num(b); }
static void g_sid(struct buf *b, int d) { (void)d; gen_str(b, "shardId-000000000001"); }
static void g_any(struct buf *b, int d) { gen_any(b, d); }

static void
g_time(struct buf *b, int d)
{
	(void)d;
	if (rnd(8))
		buf_lit(b, "1795703716.61");
	else
		gen_num(b);
}

static void
g_hkey(struct buf *b, int d)
{
	static const char *const k[] = { "0", "340282366920938463463374607431768211455",
	    "340282366920938463463374607431768211456", "12", "-1", "x" };

	(void)d;
	gen_str(b, k[rnd(6)]);
}

static void
g_range(struct buf *b, int d)
{
	int f = 1;

	buf_char(b, '{');
	if (gen_member(b, f, "StartingHashKey", d, g_hkey))
		f = 0;
	gen_member(b, f, "EndingHashKey", d, g_hkey);
	buf_char(b, '}');
}

static void
g_parents(struct buf *b, int d)
{
	int i, n = (int)rnd(4);

	buf_char(b, '[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_char(b, ',');
		if (rnd(10) == 0)
			gen_any(b, d + 1);
		else
			g_sid(b, d + 1);
	}
	buf_char(b, ']');
}

/* An object of the members named, in a random order. */
static void
gen_object(struct buf *b, int depth, const char *const *keys,
    void (*const *good)(struct buf *, int), int n)
{
	int order[8], i, f = 1;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		int j = (int)rnd((unsigned)i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	buf_char(b, '{');
	sp(b);
	for (i = 0; i < n; i++)
		if (gen_member(b, f, keys[order[i]], depth, good[order[i]]))
			f = 0;
	buf_char(b, '}');
}

static void
g_record(struct buf *b, int d)
{
	static const char *const k[] = { "SequenceNumber", "PartitionKey",
	    "Data", "ApproximateArrivalTimestamp", "EncryptionType" };
	static void (*const g[])(struct buf *, int) = { g_seq, g_pk, g_data,
	    g_time, g_any };

	gen_object(b, d, k, g, 5);
}

static void
g_child(struct buf *b, int d)
{
	static const char *const k[] = { "ShardId", "ParentShards",
	    "HashKeyRange" };
	static void (*const g[])(struct buf *, int) = { g_sid, g_parents,
	    g_range };

	gen_object(b, d, k, g, 3);
}

static void
gen_array(struct buf *b, int d, void (*elem)(struct buf *, int), int max)
{
	int i, n = (int)rnd((unsigned)max + 1);

	buf_char(b, '[');
	sp(b);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_char(b, ',');
		sp(b);
		if (rnd(80) == 0)
			gen_any(b, d + 1);
		else
			elem(b, d + 1);
		sp(b);
	}
	buf_char(b, ']');
}

static void g_records(struct buf *b, int d) { gen_array(b, d, g_record, 6); }
static void g_children(struct buf *b, int d) { gen_array(b, d, g_child, 2); }

static void
g_put_entry(struct buf *b, int d)
{
	static const char *const k[] = { "ErrorCode", "ErrorMessage",
	    "ShardId", "SequenceNumber" };
	static void (*const g[])(struct buf *, int) = { g_sid, g_pk, g_sid,
	    g_seq };

	if (rnd(3) == 0) {
		gen_object(b, d, k, g, 4);
		return;
	}
	/* Mostly what servers send: a success or a failure. */
	if (rnd(3) == 0)
		buf_lit(b, "{\"ErrorCode\":\"ProvisionedThroughputExceededException\","
		    "\"ErrorMessage\":\"Rate exceeded\"}");
	else
		buf_lit(b, "{\"SequenceNumber\":\"4959\",\"ShardId\":"
		    "\"shardId-000000000000\"}");
}

static void g_put_records(struct buf *b, int d) { gen_array(b, d, g_put_entry, 5); }

static void
gen_get(struct buf *b)
{
	static const char *const k[] = { "Records", "NextShardIterator",
	    "MillisBehindLatest", "ChildShards", "__type" };
	static void (*const g[])(struct buf *, int) = { g_records, g_seq,
	    g_num, g_children, g_any };

	sp(b);
	gen_object(b, 0, k, g, 5);
	sp(b);
}

static void
gen_put(struct buf *b)
{
	static const char *const k[] = { "Records", "FailedRecordCount",
	    "EncryptionType" };
	static void (*const g[])(struct buf *, int) = { g_put_records, g_num,
	    g_any };

	sp(b);
	gen_object(b, 0, k, g, 3);
	sp(b);
}

/* One to three mutations of b. */
static void
mutate(struct buf *b)
{
	static const char bytes[] = "{}[]\",:\\0-.eEnt \n\x01\x1f\x7f\x80\xbf"
	    "\xc0\xc3\xed\xf4\xf5\xff";
	int k = 1 + (int)rnd(3);

	while (k-- > 0 && b->len > 0) {
		size_t at = rnd((unsigned)b->len);
		char c = bytes[rnd(sizeof(bytes))];   /* the NUL too */

		switch (rnd(6)) {
		case 0:
			b->p[at] = c;
			break;
		case 1:
			memmove(b->p + at, b->p + at + 1, b->len - at - 1);
			b->len--;
			break;
		case 2:
			buf_char(b, 0);
			if (b->failed)
				return;
			memmove(b->p + at + 1, b->p + at, b->len - at - 1);
			b->p[at] = c;
			break;
		case 3:
			b->len = at;
			break;
		case 4:
			buf_add(b, &c, 1);
			break;
		default:
			/* A digit or letter where it changes a token's kind. */
			b->p[at] = "0a9-\"e"[rnd(6)];
			break;
		}
	}
}

/* ---- the comparison ---- */

struct tally {
	unsigned cases, ok, refused, differ;
};

static void
compare_get(const char *p, size_t n, struct tally *t)
{
	struct ref_records a;
	struct kinesis_records b;
	struct buf oa = BUF_INIT, ob = BUF_INIT;
	char ea[512] = "", eb[512] = "";
	char *body = n ? exact(p, n) : NULL;
	int ra = ref_get_records_parse(body, n, &a, ea, sizeof(ea));
	int rb = kinesis_get_records_parse(body, n, &b, eb, sizeof(eb));

	if (ra == 0)
		out_records(&oa, a.rec, a.n, a.next_iterator, a.millis_behind,
		    &a.child);
	if (rb == 0)
		out_records(&ob, b.rec, b.n, b.next_iterator, b.millis_behind,
		    &b.child);
	t->cases++;
	if (ra == 0)
		t->ok++;
	else
		t->refused++;
	if (ra != rb || (ra != 0 && strcmp(ea, eb) != 0) || oa.len != ob.len ||
	    (oa.len > 0 && memcmp(oa.p, ob.p, oa.len) != 0)) {
		if (t->differ++ < 5) {
			diag("GetRecords: %s", show(p, n));
			diag("  json-c: %d %s %s", ra, ea, oa.len ? show(oa.p, oa.len) : "");
			diag("  jdoc:   %d %s %s", rb, eb, ob.len ? show(ob.p, ob.len) : "");
		}
	}
	if (ra == 0)
		ref_records_free(&a);
	if (rb == 0)
		kinesis_records_free(&b);
	buf_free(&oa);
	buf_free(&ob);
	free(body);
}

static void
compare_put(const char *p, size_t n, size_t nsent, struct tally *t)
{
	struct ref_put a;
	struct kinesis_put_response b;
	struct buf oa = BUF_INIT, ob = BUF_INIT;
	char ea[512] = "", eb[512] = "";
	char *body = n ? exact(p, n) : NULL;
	int ra = ref_put_records_parse(body, n, nsent, &a, ea, sizeof(ea));
	int rb = kinesis_put_records_parse(body, n, nsent, &b, eb, sizeof(eb));

	if (ra == 0)
		out_put(&oa, a.entry, a.n, a.failed);
	if (rb == 0)
		out_put(&ob, b.entry, b.n, b.failed);
	t->cases++;
	if (ra == 0)
		t->ok++;
	else
		t->refused++;
	if (ra != rb || (ra != 0 && strcmp(ea, eb) != 0) || oa.len != ob.len ||
	    (oa.len > 0 && memcmp(oa.p, ob.p, oa.len) != 0)) {
		if (t->differ++ < 5) {
			diag("PutRecords (%zu sent): %s", nsent, show(p, n));
			diag("  json-c: %d %s %s", ra, ea, oa.len ? show(oa.p, oa.len) : "");
			diag("  jdoc:   %d %s %s", rb, eb, ob.len ? show(ob.p, ob.len) : "");
		}
	}
	if (ra == 0)
		ref_put_free(&a);
	if (rb == 0)
		kinesis_put_response_free(&b);
	buf_free(&oa);
	buf_free(&ob);
	free(body);
}

/* The entries of a generated PutRecords body, or a random count. */
static size_t
put_nsent(const struct buf *b)
{
	const char *p = memmem(b->p, b->len, "\"Records\"", 9);
	size_t n = 0;

	if (rnd(4) == 0 || p == NULL)
		return rnd(6);
	/* Top-level entries: count the objects opened at depth 2. */
	for (; p < b->p + b->len && *p != '['; p++)
		;
	{
		int depth = 0, in = 0;

		for (; p < b->p + b->len; p++) {
			if (in) {
				if (*p == '\\')
					p++;
				else if (*p == '"')
					in = 0;
				continue;
			}
			if (*p == '"')
				in = 1;
			else if (*p == '[' || *p == '{') {
				if (depth == 1)
					n++;
				depth++;
			} else if (*p == ']' || *p == '}') {
				if (--depth == 0)
					break;
			} else if (depth == 1 && *p != ',' && *p != ' ' &&
			    *p != '\n' && *p != '\t' && *p != '\r' &&
			    (p[-1] == ',' || p[-1] == '[' || p[-1] == ' ' ||
			    p[-1] == '\n' || p[-1] == '\t' || p[-1] == '\r'))
				n++;
		}
	}
	return n;
}

/* jdoc_check against jf_parse (json-c, strict) on any value, as kin-read
 * checks a record's data: what jdoc takes, json-c takes, as the same
 * type. */
static void
compare_check(struct jf_parser *jp, const char *p, size_t n, struct tally *t)
{
	struct json_object *o;
	enum jdoc_type top = JDOC_NULL;
	const char *why = NULL, *mine = NULL;
	char *s = exact(p, n);
	int a, b, same;

	o = jf_parse(jp, s, n, &why);
	/* A bare null: no object, "not a JSON object". */
	a = o != NULL || strcmp(why, "not a JSON object") == 0;
	b = jdoc_check(s, n, &top, &mine) == 0;
	/* What jdoc takes json-c takes; what jdoc refuses goes to json-c in
	 * kin-read, whose verdict stands (it calls "null" followed by
	 * anything "not a JSON object", as it calls a bare null). */
	same = !b || a;
	if (same && b && o != NULL)
		same = (top == JDOC_OBJECT) == json_object_is_type(o,
		    json_type_object) && (top == JDOC_ARRAY) ==
		    json_object_is_type(o, json_type_array);
	t->cases++;
	if (a)
		t->ok++;
	else
		t->refused++;
	if (!same && t->differ++ < 5)
		diag("jdoc_check %d (%s), json-c %d (%s): %s", b, mine ? mine : "",
		    a, why ? why : "", show(p, n));
	json_object_put(o);
	free(s);
}

static void
run_check(unsigned cases)
{
	struct jf_parser jp;
	struct tally t;
	struct buf b = BUF_INIT;
	unsigned i;

	memset(&t, 0, sizeof(t));
	if (jf_parser_init(&jp) != 0)
		return;
	for (i = 0; i < cases; i++) {
		buf_reset(&b);
		switch (i % 3) {
		case 0: gen_get(&b); break;
		case 1: gen_put(&b); break;
		default: gen_any(&b, rnd(4)); break;
		}
		if (i % 2)
			mutate(&b);
		if (b.failed)
			break;
		compare_check(&jp, b.p, b.len, &t);
	}
	buf_free(&b);
	jf_parser_free(&jp);
	check(t.cases == cases && t.differ == 0, "jdoc_check: %u values, %u "
	    "taken and %u refused by json-c: none taken by jdoc alone, the "
	    "same types (%u differ)", t.cases, t.ok, t.refused, t.differ);
}

static void
run(const char *what, int put, int mutated, unsigned cases)
{
	struct tally t;
	struct buf b = BUF_INIT;
	unsigned i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < cases; i++) {
		buf_reset(&b);
		if (put)
			gen_put(&b);
		else
			gen_get(&b);
		if (mutated)
			mutate(&b);
		if (b.failed)
			break;
		if (put)
			compare_put(b.p, b.len, put_nsent(&b), &t);
		else
			compare_get(b.p, b.len, &t);
	}
	buf_free(&b);
	check(t.cases == cases && t.differ == 0, "%s: %u responses, %u taken "
	    "and %u refused by json-c: the same verdicts, messages and records "
	    "(%u differ)", what, t.cases, t.ok, t.refused, t.differ);
	check(t.ok >= cases / 200 && t.refused >= cases / 200, "%s: both "
	    "verdicts are exercised", what);
}

/* Responses written by hand: the servers', and edge cases. */
static void
fixed(void)
{
	static const char *const get[] = {
		"{\"Records\":[],\"NextShardIterator\":\"n\",\"MillisBehindLatest\":0}",
		"{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":\"k\","
		    "\"Data\":\"eA==\"}],\"Records\":null}",
		"{\"Records\":[[]],\"Records\":[]}",
		"{\"Records\":[],\"MillisBehindLatest\":1.0}",
		"{\"Records\":[],\"MillisBehindLatest\":-0}",
		"{\"Records\":[],\"NextShardIterator\":\"a\\u0000b\"}",
		"{\"Rec\\u006frds\":[{\"SequenceNumber\":\"1\\/2\",\"PartitionKey\":"
		    "\"\\ud83d\\ude00\",\"Data\":\"eA\\u003d=\"}]}",
		"{\"Records\":[]} x", "{\"Records\":[]}\n", "[]", "null", "\"x\"",
		"{\"Records\":[],}", "{\"Records\":[,]}", "{\"Records\":[1,]}",
		"{\"Records\":[\"\xed\xa0\x80\"]}", "{\"Records\":[\"\x01\"]}",
		"{\"Records\":[01]}", "{\"Records\":[1.]}", "{\"Records\":[NaN]}",
		"{\"Records\":[Infinity]}", "{\"Records\":[-Infinity]}",
		"{'Records':[]}", " ", "{\"Records\":[]", "{\"Records\"}",
		"{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":\"k\","
		    "\"Data\":\"\",\"ApproximateArrivalTimestamp\":1e999}]}",
	};
	static const char *const put[] = {
		"{\"FailedRecordCount\":0,\"Records\":[{\"SequenceNumber\":\"1\","
		    "\"ShardId\":\"s\"}]}",
		"{\"FailedRecordCount\":1,\"Records\":[{\"ErrorCode\":\"E\\u0000x\"}]}",
		"{\"FailedRecordCount\":9223372036854775808,\"Records\":[{}]}",
		"{\"FailedRecordCount\":-99999999999999999999,\"Records\":[{}]}",
		"{\"FailedRecordCount\":1e0,\"Records\":[{}]}",
		"{\"Records\":[{\"SequenceNumber\":\"1\",\"ShardId\":\"s\"}],"
		    "\"Records\":[{\"ErrorCode\":\"E\",\"ErrorMessage\":null}]}",
	};
	struct tally t;
	size_t i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < sizeof(get) / sizeof(get[0]); i++)
		compare_get(get[i], strlen(get[i]), &t);
	compare_get("", 0, &t);
	check(t.differ == 0, "GetRecords, %u written by hand: the same", t.cases);
	memset(&t, 0, sizeof(t));
	for (i = 0; i < sizeof(put) / sizeof(put[0]); i++)
		compare_put(put[i], strlen(put[i]), 1, &t);
	compare_put("", 0, 0, &t);
	check(t.differ == 0, "PutRecords, %u written by hand: the same", t.cases);
}

int
main(int argc, char **argv)
{
	unsigned n = 5000;

	if (tap_begin("kresp_test", argc, argv) != 0)
		return 2;
	/* Fewer under valgrind, which runs every case fifty times slower. */
	if (getenv("KRESP_CASES") != NULL)
		n = (unsigned)strtoul(getenv("KRESP_CASES"), NULL, 10);
	fixed();
	run("GetRecords, generated", 0, 0, n);
	run("GetRecords, mutated", 0, 1, n);
	run("PutRecords, generated", 1, 0, n);
	run("PutRecords, mutated", 1, 1, n);
	run_check(n);
	return tap_end();
}
