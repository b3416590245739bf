/*
 * kin-put - send NDJSON lines to an Amazon Kinesis data stream.
 *
 * Each input line becomes one Kinesis record, sent with PutRecords
 * (Amazon Kinesis Data Streams API Reference, "PutRecords"): batches of at
 * most 500 records and 5 MiB, records of at most 1 MiB (data plus partition
 * key), several requests in flight on one libcurl multi handle.  Entries a
 * response marks as failed are retried alone, with backoff; a record whose
 * attempts are spent goes to the dead-letter file.  Per partition key,
 * records are never in two requests at once, so a retried record is always
 * sent before the later records of its key.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "aws.h"
#include "buf.h"
#include "cli.h"
#include "jfield.h"
#include "jscan.h"
#include "kpl.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "sig.h"

#define USAGE "kin-put [-hqv] --stream NAME|ARN [--ca-bundle FILE] " \
	"[--connect-timeout DURATION] [--dead-letter FILE] " \
	"[--endpoint-url URL] [--explicit-hash-key-field PATH] " \
	"[--linger DURATION] [--max-attempts N] [--max-batch-bytes BYTES] " \
	"[--max-batch-records N] [--max-in-flight N] [--max-line BYTES] " \
	"[--max-record-bytes BYTES] [--no-verify-ssl] " \
	"[--pace-field PATH [--speed X]] " \
	"[--partition-key KEY | --partition-key-field PATH] " \
	"[--profile NAME] [--progress | --no-progress] [--raw] [--receipts] " \
	"[--region REGION] [--retry-budget DURATION] [--strict] " \
	"[--timeout DURATION]"

static const char help_text[] =
    "Sends each line of standard input as one record to a Kinesis data stream.\n"
    "\n"
    "Options:\n"
    "  --stream NAME|ARN        the stream (an ARN is sent as StreamARN)\n"
    "  --partition-key KEY      the same partition key for every record\n"
    "  --partition-key-field PATH\n"
    "                           partition key from a field of each record\n"
    "                           (default: a random key per record)\n"
    "  --explicit-hash-key-field PATH\n"
    "                           explicit hash key (decimal) from a field\n"
    "  --raw                    send any line as it is (no JSON check)\n"
    "  --linger DURATION        longest a record waits for its batch\n"
    "                           (default 100ms)\n"
    "  --max-in-flight N        PutRecords requests in flight, 1 to 64\n"
    "                           (default 4)\n"
    "  --max-batch-records N    records per request, 1 to 500 (default 500)\n"
    "  --max-batch-bytes BYTES  bytes per request (default 5MiB)\n"
    "  --max-record-bytes BYTES largest record, data plus key (default 1MiB)\n"
    "  --pace-field PATH        replay at the pace of this time field\n"
    "  --speed X                with --pace-field: X times real time\n"
    "                           (default 1)\n"
    "  --receipts               print {\"line\",\"shard\",\"seq\"} per record\n"
    "                           sent\n"
    "Rejected lines and records that cannot be delivered both go to\n"
    "--dead-letter.\n";

enum {
	OPT_STREAM = CLI_ID, OPT_PK, OPT_PK_FIELD, OPT_EHK_FIELD, OPT_RAW,
	OPT_LINGER, OPT_INFLIGHT, OPT_BATCH_RECORDS, OPT_BATCH_BYTES,
	OPT_RECORD_BYTES, OPT_PACE_FIELD, OPT_SPEED, OPT_RECEIPTS,
};

static const struct cli_option options[] = {
	{ "stream", 1, OPT_STREAM },
	{ "partition-key", 1, OPT_PK },
	{ "partition-key-field", 1, OPT_PK_FIELD },
	{ "explicit-hash-key-field", 1, OPT_EHK_FIELD },
	{ "raw", 0, OPT_RAW },
	{ "linger", 1, OPT_LINGER },
	{ "max-in-flight", 1, OPT_INFLIGHT },
	{ "max-batch-records", 1, OPT_BATCH_RECORDS },
	{ "max-batch-bytes", 1, OPT_BATCH_BYTES },
	{ "max-record-bytes", 1, OPT_RECORD_BYTES },
	{ "pace-field", 1, OPT_PACE_FIELD },
	{ "speed", 1, OPT_SPEED },
	{ "receipts", 0, OPT_RECEIPTS },
	{ NULL, 0, 0 },
};

#define KINESIS_MAX_PK 256

/* One input line on its way to Kinesis.  data, pk and ehk share one block. */
struct rec {
	struct rec *next;
	char *data;
	size_t len;
	char *pk;
	size_t pklen;
	char *ehk;            /* NULL without --explicit-hash-key-field */
	unsigned long long lineno;
	int attempts;
	int64_t not_before;   /* monotonic ms: retry backoff or --pace-field */
	int64_t arrived;      /* monotonic ms: when it was read */
	int64_t first_try;    /* monotonic ms of its first attempt */
	struct key *key;
};

/* Per partition key: how many of its records are in flight. */
struct key {
	struct key *next;     /* hash chain */
	char *name;
	int inflight;
	uint64_t blocked;     /* batch scan in which it was skipped */
	uint64_t failed;      /* batch generation in which an entry failed */
	int pending;          /* records of this key waiting in the queue */
};

struct batch {
	struct rec **recs;
	size_t n;
	struct buf body;
	uint64_t gen;
};

struct opts {
	const char *stream;
	const char *pk;
	struct jf_path pk_field, ehk_field, pace_field;
	int has_pk_field, has_ehk_field, has_pace;
	int raw;
	int64_t linger_ms;
	int max_inflight;
	size_t batch_records;
	size_t batch_bytes;
	size_t record_bytes;
	double speed;
	int speed_set;
	int receipts;
	const char *dead;
	int strict;
	size_t max_line;
	int progress;
	struct aws_opts aws;
};

struct state {
	struct opts *o;
	struct aws_client *aws;
	struct nd_writer *out;
	struct nd_reject rej;
	struct jscan *js;
	int f_pk, f_ehk, f_pace;    /* the scanner's fields */
	struct buf pkbuf, ehkbuf;   /* decoded field strings */
	const char *stream_member;
	/* queue of records not yet accepted by Kinesis, in input order */
	struct rec *head, *tail;
	size_t queued, queued_bytes;
	struct key **keys;
	size_t nkeys_buckets, nkeys;
	uint64_t gen;
	/* pacing */
	int64_t pace_t0, pace_w0;
	int paced;
	/* counters */
	unsigned long long lines, sent, ok, retried, undeliverable, reordered;
	unsigned long long requests;
	int fatal;
	int oom;
	unsigned long long control;  /* control lines skipped */
	uint64_t rng;
	int64_t start_ms, last_progress;
};

static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct key *
key_get(struct state *st, const char *name)
{
	uint64_t h = fnv(name);
	struct key *k;
	size_t b;

	if (st->nkeys >= st->nkeys_buckets) {
		size_t nb = st->nkeys_buckets ? st->nkeys_buckets * 2 : 1024, i;
		struct key **nt = calloc(nb, sizeof(*nt));

		if (nt == NULL)
			return NULL;
		for (i = 0; i < st->nkeys_buckets; i++) {
			while (st->keys[i] != NULL) {
				struct key *e = st->keys[i];

				st->keys[i] = e->next;
				b = fnv(e->name) & (nb - 1);
				e->next = nt[b];
				nt[b] = e;
			}
		}
		free(st->keys);
		st->keys = nt;
		st->nkeys_buckets = nb;
	}
	b = h & (st->nkeys_buckets - 1);
	for (k = st->keys[b]; k != NULL; k = k->next)
		if (strcmp(k->name, name) == 0)
			return k;
	k = calloc(1, sizeof(*k));
	if (k == NULL || (k->name = strdup(name)) == NULL) {
		free(k);
		return NULL;
	}
	k->next = st->keys[b];
	st->keys[b] = k;
	st->nkeys++;
	return k;
}

/* Forgets a key nothing refers to, so random keys do not pile up. */
static void
key_release(struct state *st, struct key *k)
{
	struct key **pp;

	if (k->inflight > 0 || k->pending > 0)
		return;
	pp = &st->keys[fnv(k->name) & (st->nkeys_buckets - 1)];
	while (*pp != k)
		pp = &(*pp)->next;
	*pp = k->next;
	st->nkeys--;
	free(k->name);
	free(k);
}

static void
random_key(struct state *st, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		uint64_t x = st->rng;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		st->rng = x;
		out[i] = hex[x >> 60];
	}
	out[32] = '\0';
}

/* The string form of a key field: a string as is, a number as written. */
static int
key_text(const struct jscan_field *f, struct buf *tmp, const char **s,
    size_t *n, const char **why)
{
	switch (f->type) {
	case JSCAN_STRING:
		if (jscan_string(f, tmp, s, n) != 0) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	case JSCAN_NUMBER:
		*s = f->tok;
		*n = f->len;
		return 0;
	case JSCAN_MISSING:
		*why = "missing";
		return -1;
	default:
		*why = "not a string or number";
		return -1;
	}
}

/* Counts Unicode code points of UTF-8 text (Kinesis limits keys in those). */
static size_t
utf8_chars(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

static int
bad(struct state *st, struct nd_reader *r, const char *line, size_t len,
    const char *fmt, const char *a, const char *b)
{
	return nd_reject(&st->rej, nd_name(r), nd_lineno(r), line, len, fmt, a, b);
}

/*
 * Turns one input line into a queued record.  Returns 0 (queued or
 * rejected), -1 to stop (--strict, dead-letter failure, out of memory).
 */
static int
take_line(struct state *st, struct nd_reader *r, const char *line, size_t len,
    int64_t *pace_at)
{
	struct opts *o = st->o;
	const char *pk = o->pk, *ehk = NULL, *why = NULL;
	size_t pklen = pk ? strlen(pk) : 0, ehklen = 0;
	char rnd[33];
	struct rec *rc;
	*pace_at = -1;
	if (!o->raw) {
		if (jscan_line(st->js, line, len, &why) != 0)
			return bad(st, r, line, len, "%s%s", why, "");
		/* Control lines steer a processing pipeline; they are not
		 * data for the stream.  Skipped, counted. */
		if (jscan_is_control(st->js)) {
			st->control++;
			return 0;
		}
	}
	if (o->has_pk_field && key_text(jscan_get(st->js, st->f_pk),
	    &st->pkbuf, &pk, &pklen, &why) != 0)
		return bad(st, r, line, len, "partition key field %s: %s",
		    o->pk_field.text, why);
	if (pk == NULL) {
		random_key(st, rnd);
		pk = rnd;
		pklen = 32;
	}
	if (pklen == 0 || utf8_chars(pk, pklen) > KINESIS_MAX_PK)
		return bad(st, r, line, len, "partition key must have 1 to 256 "
		    "characters%s%s", "", "");
	if (o->has_ehk_field) {
		const struct jscan_field *f = jscan_get(st->js, st->f_ehk);
		unsigned char h[16];

		if (jscan_string(f, &st->ehkbuf, &ehk, &ehklen) != 0)
			return bad(st, r, line, len, "explicit hash key field "
			    "%s: %s", o->ehk_field.text, f->type ==
			    JSCAN_MISSING ? "missing" : "not a string");
		if (kpl_dec128(ehk, ehklen, h) != 0)
			return bad(st, r, line, len, "explicit hash key field "
			    "%s: %s", o->ehk_field.text,
			    "not a decimal 128-bit number");
	}
	if (len + pklen > o->record_bytes) {
		char lim[32];

		snprintf(lim, sizeof(lim), "%zu", o->record_bytes);
		return bad(st, r, line, len, "record larger than %s bytes%s",
		    lim, "");
	}
	if (o->has_pace) {
		int64_t t;

		if (jscan_time(jscan_get(st->js, st->f_pace), KPTIME_AUTO,
		    &st->pkbuf, &t, &why) != 0)
			return bad(st, r, line, len, "pace field %s: %s",
			    o->pace_field.text, why);
		if (!st->paced) {
			st->paced = 1;
			st->pace_t0 = t;
			st->pace_w0 = kptime_mono_ms();
		}
		*pace_at = st->pace_w0 + (int64_t)((double)(t - st->pace_t0) / o->speed);
	}
	rc = malloc(sizeof(*rc) + len + 1 + pklen + 1 + (ehk ? ehklen + 1 : 0));
	if (rc == NULL) {
		msg_err("out of memory");
		st->oom = 1;
		return -1;
	}
	memset(rc, 0, sizeof(*rc));
	rc->data = (char *)(rc + 1);
	memcpy(rc->data, line, len);
	rc->data[len] = '\0';
	rc->len = len;
	rc->pk = rc->data + len + 1;
	memcpy(rc->pk, pk, pklen);
	rc->pk[pklen] = '\0';
	rc->pklen = pklen;
	if (ehk != NULL) {
		rc->ehk = rc->pk + pklen + 1;
		memcpy(rc->ehk, ehk, ehklen);
		rc->ehk[ehklen] = '\0';
	}
	rc->lineno = nd_lineno(r);
	rc->key = key_get(st, rc->pk);
	if (rc->key == NULL) {
		free(rc);
		msg_err("out of memory");
		st->oom = 1;
		return -1;
	}
	rc->key->pending++;
	rc->arrived = kptime_mono_ms();
	if (*pace_at > rc->arrived)
		rc->not_before = *pace_at;
	if (st->tail)
		st->tail->next = rc;
	else
		st->head = rc;
	st->tail = rc;
	st->queued++;
	st->queued_bytes += len + pklen;
	return 0;
}

static void
unlink_rec(struct state *st, struct rec *prev, struct rec *rc)
{
	if (prev)
		prev->next = rc->next;
	else
		st->head = rc->next;
	if (st->tail == rc)
		st->tail = prev;
	rc->next = NULL;
	st->queued--;
	st->queued_bytes -= rc->len + rc->pklen;
	rc->key->pending--;
}

/*
 * Takes the records that may go now, in queue order.  A record waits while
 * its key has a record in another request (in flight), while it backs off,
 * or when an earlier record of its key waits: then per-key order holds
 * across retries.  Returns the number taken.
 */
static size_t
form_batch(struct state *st, struct batch *b, int64_t now)
{
	struct opts *o = st->o;
	struct rec *rc, *prev = NULL, *next;
	uint64_t g = ++st->gen;
	size_t bytes = 0;

	b->n = 0;
	for (rc = st->head; rc != NULL && b->n < o->batch_records; rc = next) {
		size_t sz;

		next = rc->next;
		if (rc->key->blocked == g || rc->key->inflight > 0 ||
		    rc->not_before > now) {
			rc->key->blocked = g;
			prev = rc;
			continue;
		}
		sz = rc->len + rc->pklen;
		if (bytes + sz > o->batch_bytes)
			break;
		unlink_rec(st, prev, rc);
		b->recs[b->n++] = rc;
		bytes += sz;
	}
	return b->n;
}

static int
build_body(struct state *st, struct batch *b)
{
	struct buf *o = &b->body;
	size_t i;

	buf_reset(o);
	buf_lit(o, "{\"");
	buf_str(o, st->stream_member);
	buf_lit(o, "\":");
	buf_jstrz(o, st->o->stream);
	buf_lit(o, ",\"Records\":[");
	for (i = 0; i < b->n; i++) {
		struct rec *rc = b->recs[i];

		if (i > 0)
			buf_char(o, ',');
		buf_lit(o, "{\"Data\":\"");
		buf_b64(o, rc->data, rc->len);
		buf_lit(o, "\",\"PartitionKey\":");
		buf_jstr(o, rc->pk, rc->pklen);
		if (rc->ehk != NULL) {
			buf_lit(o, ",\"ExplicitHashKey\":");
			buf_jstrz(o, rc->ehk);
		}
		buf_char(o, '}');
	}
	buf_lit(o, "]}");
	return o->failed ? -1 : 0;
}

static struct batch *
batch_new(size_t cap)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (b == NULL || (b->recs = calloc(cap, sizeof(*b->recs))) == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

static void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	free(b->recs);
	buf_free(&b->body);
	free(b);
}

static int
send_batch(struct state *st, struct batch *b)
{
	static const char *const hdrs[] = {
		"Content-Type: application/x-amz-json-1.1",
		"X-Amz-Target: Kinesis_20131202.PutRecords",
	};
	struct aws_call call;
	char err[512];
	size_t i;

	if (build_body(st, b) != 0) {
		msg_err("out of memory");
		return -1;
	}
	memset(&call, 0, sizeof(call));
	call.method = "POST";
	call.path = "/";
	call.headers = hdrs;
	call.nheaders = 2;
	call.body = b->body.p;
	call.body_len = b->body.len;
	if (aws_start(st->aws, &call, b, err, sizeof(err)) == NULL) {
		msg_err("%s", err);
		return -1;
	}
	for (i = 0; i < b->n; i++) {
		b->recs[i]->key->inflight++;
		if (b->recs[i]->first_try == 0)
			b->recs[i]->first_try = kptime_mono_ms();
	}
	st->requests++;
	st->sent += b->n;
	return 0;
}

static void
free_rec(struct state *st, struct rec *rc)
{
	struct key *k = rc->key;

	free(rc);
	key_release(st, k);
}

/* A record whose attempts are spent: dead-letter it, count it. */
static void
give_up(struct state *st, struct rec *rc, const char *why)
{
	char where[64];

	snprintf(where, sizeof(where), "<stdin>:%llu", rc->lineno);
	st->undeliverable++;
	msg_err("%s: undeliverable after %d attempts: %s", where, rc->attempts, why);
	if (st->rej.dead != NULL && !st->rej.failed &&
	    (fwrite(rc->data, 1, rc->len, st->rej.dead) != rc->len ||
	    fputc('\n', st->rej.dead) == EOF)) {
		msg_err("%s: %s", st->rej.dead_path, strerror(errno));
		st->rej.failed = 1;
	}
}

/*
 * Puts failed records back at the head of the queue, in their order, with
 * a backoff; they are older than any queued record of their key.  The
 * caller has already counted them in their keys' pending counts, so that
 * no key is released while they are between lists.
 */
static void
requeue(struct state *st, struct rec **failed, size_t n, int64_t retry_after)
{
	const struct retry_policy *p = aws_client_retry(st->aws);
	int64_t now = kptime_mono_ms();
	size_t i;

	for (i = n; i-- > 0;) {
		struct rec *rc = failed[i];
		int64_t ceiling = p->base_ms, delay;
		int a;

		for (a = 1; a < rc->attempts && ceiling < p->cap_ms; a++)
			ceiling *= 2;
		if (ceiling > p->cap_ms)
			ceiling = p->cap_ms;
		st->rng ^= st->rng << 13;
		st->rng ^= st->rng >> 7;
		st->rng ^= st->rng << 17;
		delay = 1 + (int64_t)(st->rng % (uint64_t)(ceiling + 1));
		if (retry_after >= 0)
			delay = retry_after < p->cap_ms ? retry_after : p->cap_ms;
		rc->not_before = now + delay;
		rc->next = st->head;
		st->head = rc;
		if (st->tail == NULL)
			st->tail = rc;
		st->queued++;
		st->queued_bytes += rc->len + rc->pklen;
	}
}

static void
write_receipt(struct state *st, struct rec *rc, const char *shard,
    const char *seq)
{
	struct buf *o = nd_buf(st->out);

	buf_lit(o, "{\"line\":");
	buf_u64(o, rc->lineno);
	buf_lit(o, ",\"shard\":");
	buf_jstrz(o, shard);
	buf_lit(o, ",\"seq\":");
	buf_jstrz(o, seq);
	buf_char(o, '}');
	nd_end(st->out);
}

/* Settles a finished PutRecords request. */
static void
finish(struct state *st, struct http_xfer *x)
{
	struct batch *b = http_xfer_user(x);
	struct http_response *resp = http_xfer_response(x);
	const struct retry_policy *p = aws_client_retry(st->aws);
	struct json_object *root = NULL, *arr = NULL;
	struct rec **failed = NULL;
	size_t nfailed = 0, i;
	char err[512];
	enum retry_kind kind = RETRY_NO;

	failed = calloc(b->n ? b->n : 1, sizeof(*failed));
	if (resp->status >= 200 && resp->status < 300) {
		root = json_tokener_parse(resp->body ? resp->body : "");
		if (root == NULL || !json_object_object_get_ex(root, "Records", &arr) ||
		    !json_object_is_type(arr, json_type_array) ||
		    json_object_array_length(arr) != b->n) {
			snprintf(err, sizeof(err), "malformed PutRecords response");
			kind = RETRY_YES;
			arr = NULL;
		}
	} else {
		kind = aws_outcome(resp, err, sizeof(err));
	}
	if (arr == NULL && kind == RETRY_NO) {
		/* Permanent failure of the whole request (no such stream,
		 * access denied, ...): nothing more can be delivered. */
		msg_err("PutRecords: %s", err);
		st->fatal = 1;
	}
	if (kind == RETRY_CREDENTIALS)
		aws_client_credentials_expired(st->aws);
	st->gen++;
	for (i = 0; i < b->n; i++) {
		struct rec *rc = b->recs[i];
		struct json_object *e = arr ? json_object_array_get_idx(arr, i) : NULL;
		struct json_object *v;
		const char *code = NULL;

		rc->key->inflight--;
		rc->attempts++;
		if (e != NULL && json_object_object_get_ex(e, "ErrorCode", &v) &&
		    json_object_get_type(v) == json_type_string) {
			struct json_object *m;

			code = json_object_get_string(v);
			snprintf(err, sizeof(err), "%s: %s", code,
			    json_object_object_get_ex(e, "ErrorMessage", &m) ?
			    json_object_get_string(m) : "");
		}
		if (e != NULL && code == NULL) {
			struct json_object *sh = NULL, *sq = NULL;

			json_object_object_get_ex(e, "ShardId", &sh);
			json_object_object_get_ex(e, "SequenceNumber", &sq);
			if (rc->key->failed == st->gen)
				st->reordered++;
			st->ok++;
			if (st->o->receipts)
				write_receipt(st, rc, sh ? json_object_get_string(sh) : "",
				    sq ? json_object_get_string(sq) : "");
			free_rec(st, rc);
			continue;
		}
		rc->key->failed = st->gen;
		if (st->fatal || rc->attempts >= p->max_attempts ||
		    kptime_mono_ms() - rc->first_try > p->budget_ms) {
			give_up(st, rc, st->fatal ? "stopped after a permanent error" : err);
			free_rec(st, rc);
			continue;
		}
		if (failed == NULL) {
			give_up(st, rc, "out of memory");
			free_rec(st, rc);
			continue;
		}
		rc->key->pending++;
		failed[nfailed++] = rc;
	}
	if (nfailed > 0) {
		st->retried += nfailed;
		msg_warn("PutRecords: %zu of %zu records failed (%s); retrying them",
		    nfailed, b->n, err);
		requeue(st, failed, nfailed, arr ? -1 : resp->retry_after_ms);
	}
	free(failed);
	json_object_put(root);
	batch_free(b);
	http_xfer_free(x);
}

static void
progress(struct state *st, int final)
{
	int64_t now = kptime_mono_ms();
	double secs = (double)(now - st->start_ms) / 1000.0;

	if (!st->o->progress || (!final && now - st->last_progress < 1000))
		return;
	st->last_progress = now;
	fprintf(stderr, "\r%s: %llu records sent, %.0f/s, %llu retries, %llu rejected%s",
	    msg_prog(), st->ok, secs > 0 ? (double)st->ok / secs : 0.0,
	    st->retried, st->rej.count, final ? "\n" : "");
}

static int
option(struct cli *c, int id, const char *arg)
{
	struct opts *o = c->ctx;
	uint64_t n;
	int rc = 0;

	switch (id) {
	case OPT_STREAM:
		o->stream = arg;
		break;
	case OPT_PK:
		o->pk = arg;
		break;
	case OPT_PK_FIELD:
		rc = cli_path(c, arg, &o->pk_field);
		o->has_pk_field = 1;
		break;
	case OPT_EHK_FIELD:
		rc = cli_path(c, arg, &o->ehk_field);
		o->has_ehk_field = 1;
		break;
	case OPT_PACE_FIELD:
		rc = cli_path(c, arg, &o->pace_field);
		o->has_pace = 1;
		break;
	case OPT_RAW:
		o->raw = 1;
		break;
	case OPT_LINGER:
		rc = cli_duration(c, arg, 0, 86400000, &o->linger_ms);
		break;
	case OPT_INFLIGHT:
		rc = cli_count(c, arg, 1, 64, &n);
		o->max_inflight = (int)n;
		break;
	case OPT_BATCH_RECORDS:
		rc = cli_count(c, arg, 1, 500, &n);
		o->batch_records = n;
		break;
	case OPT_BATCH_BYTES:
		rc = cli_size(c, arg, 1, 1ULL << 32, &n);
		o->batch_bytes = n;
		break;
	case OPT_RECORD_BYTES:
		rc = cli_size(c, arg, 1, 1ULL << 30, &n);
		o->record_bytes = n;
		break;
	case OPT_SPEED:
		rc = cli_positive(c, arg, &o->speed);
		o->speed_set = 1;
		break;
	case OPT_RECEIPTS:
		o->receipts = 1;
		break;
	}
	return rc;
}

/* Returns CLI_RUN, CLI_DONE or an exit status. */
static int
parse_opts(int argc, char **argv, struct cli *c, struct opts *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->linger_ms = 100;
	o->max_inflight = 4;
	o->batch_records = 500;
	o->batch_bytes = 5 * 1024 * 1024;
	o->record_bytes = 0;	/* 1 MiB, or --max-batch-bytes if smaller */
	o->speed = 1.0;
	c->usage = USAGE;
	c->help = help_text;
	c->groups = CLI_INPUT | CLI_PROGRESS | CLI_AWS;
	c->options = options;
	c->handle = option;
	c->ctx = o;
	rc = cli_parse(c, argc, argv);
	if (rc != CLI_RUN)
		return rc;
	if (o->stream == NULL || *o->stream == '\0')
		return cli_usage(c, "--stream is required");
	if (o->pk != NULL && o->has_pk_field)
		return cli_usage(c, "--partition-key and --partition-key-field "
		    "exclude each other");
	if (o->pk != NULL && (*o->pk == '\0' ||
	    utf8_chars(o->pk, strlen(o->pk)) > KINESIS_MAX_PK))
		return cli_usage(c, "--partition-key must have 1 to 256 "
		    "characters");
	if (o->raw && (o->has_pk_field || o->has_ehk_field || o->has_pace))
		return cli_usage(c, "--raw cannot be used with field options");
	if (o->speed_set && !o->has_pace)
		return cli_usage(c, "--speed needs --pace-field");
	if (o->record_bytes == 0)
		o->record_bytes = o->batch_bytes < 1024 * 1024 ?
		    o->batch_bytes : 1024 * 1024;
	if (o->record_bytes > o->batch_bytes)
		return cli_usage(c, "--max-record-bytes exceeds "
		    "--max-batch-bytes");
	o->dead = c->dead_letter;
	o->strict = c->strict;
	o->max_line = c->max_line;
	o->progress = c->progress;
	o->aws = c->aws;
	return CLI_RUN;
}

/* Whether reading may go on: memory stays bounded by the queue's size. */
static int
room(const struct state *st, size_t limit)
{
	return st->queued_bytes < limit &&
	    st->queued < st->o->batch_records * (size_t)(st->o->max_inflight + 1);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct cli cli;
	struct state st;
	struct nd_reader *r = NULL;
	char err[1024];
	int rc, usage_error = 0, eof = 0, status = KP_EXIT_OK;
	int64_t pace_at = -1;
	size_t queue_limit;
	uint64_t seed = 0;

	msg_init(argv[0]);
	memset(&st, 0, sizeof(st));
	memset(&cli, 0, sizeof(cli));
	rc = parse_opts(argc, argv, &cli, &o);
	if (rc != CLI_RUN)
		return rc == CLI_DONE ? KP_EXIT_OK : rc;
	o.aws.stop = &sig_stop;
	st.o = &o;
	st.js = jscan_new();
	if (sig_setup() != 0 || st.js == NULL ||
	    (o.has_pk_field && (st.f_pk = jscan_want(st.js, &o.pk_field)) < 0) ||
	    (o.has_ehk_field &&
	    (st.f_ehk = jscan_want(st.js, &o.ehk_field)) < 0) ||
	    (o.has_pace && (st.f_pace = jscan_want(st.js, &o.pace_field)) < 0)) {
		msg_err("cannot initialise");
		return KP_EXIT_FAILURE;
	}
	if (nd_reject_init(&st.rej, o.dead, o.strict) != 0)
		return KP_EXIT_USAGE;
	st.aws = aws_client_new("Kinesis", "kinesis", &o.aws, err, sizeof(err),
	    &usage_error);
	if (st.aws == NULL) {
		msg_err("%s", err);
		return usage_error ? KP_EXIT_USAGE : KP_EXIT_FAILURE;
	}
	st.stream_member = strncmp(o.stream, "arn:", 4) == 0 ? "StreamARN" : "StreamName";
	st.out = nd_writer_new(1);
	r = nd_reader_new(0, "<stdin>", o.max_line);
	if (st.out == NULL || r == NULL) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	nd_reader_set_reject(r, &st.rej);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)kptime_now_ms() ^ (uint64_t)getpid() << 32;
	st.rng = seed | 1;
	st.start_ms = kptime_mono_ms();
	/* Memory stays bounded: reading pauses while this much waits. */
	queue_limit = o.batch_bytes * (size_t)(o.max_inflight + 1);

	for (;;) {
		struct http_xfer *x;
		int64_t now = kptime_mono_ms(), wait_ms = 1000;
		int stalled = 0, can_read, collected;

		/* 1. read what is available */
		can_read = !eof && !sig_stop && !st.fatal && room(&st, queue_limit);
		while (can_read && pace_at < 0) {
			char *line;
			size_t len;

			rc = nd_next(r, &line, &len, 0);
			if (rc == ND_LINE) {
				st.lines++;
				if (take_line(&st, r, line, len, &pace_at) != 0) {
					eof = 1;
					status = st.rej.strict && !st.rej.failed &&
					    !st.oom ? KP_EXIT_REJECTED : KP_EXIT_FAILURE;
					break;
				}
				if (pace_at >= 0 && pace_at <= now)
					pace_at = -1;
				if (!room(&st, queue_limit))
					break;
				continue;
			}
			if (rc == ND_TOOLONG) {
				if (o.strict) {
					eof = 1;
					status = KP_EXIT_REJECTED;
					break;
				}
				continue;
			}
			if (rc == ND_TIMEOUT) {
				stalled = 1;
				break;
			}
			if (rc == ND_INTR)
				break;
			if (rc == ND_ERROR) {
				msg_err("<stdin>: read error: %s", strerror(errno));
				status = KP_EXIT_FAILURE;
			}
			eof = 1;
			break;
		}
		if (pace_at >= 0 && pace_at <= kptime_mono_ms())
			pace_at = -1;
		if (sig_stop)
			eof = 1;

		/* 2. send what may go */
		now = kptime_mono_ms();
		while (!st.fatal && st.head != NULL &&
		    http_inflight(aws_client_http(st.aws)) < o.max_inflight) {
			int full = st.queued >= o.batch_records ||
			    st.queued_bytes >= o.batch_bytes;
			int due = eof || stalled || o.has_pace ||
			    now - st.head->arrived >= o.linger_ms;
			struct batch *b;

			if (!full && !due)
				break;
			b = batch_new(o.batch_records);
			if (b == NULL) {
				msg_err("out of memory");
				st.fatal = 1;
				break;
			}
			if (form_batch(&st, b, now) == 0) {
				batch_free(b);
				break;
			}
			if (send_batch(&st, b) != 0) {
				/* Put them back; this is a local failure. */
				for (size_t i = 0; i < b->n; i++)
					b->recs[i]->key->pending++;
				requeue(&st, b->recs, b->n, 0);
				batch_free(b);
				st.fatal = 1;
				break;
			}
		}

		/* 3. collect finished requests; freed slots are used at once */
		collected = 0;
		while ((x = http_wait(aws_client_http(st.aws), 0)) != NULL) {
			finish(&st, x);
			collected++;
		}
		if (collected > 0)
			nd_flush(st.out);	/* receipts reach a live reader */
		progress(&st, 0);

		if (st.fatal && http_inflight(aws_client_http(st.aws)) == 0) {
			/* Nothing more will go: everything queued is undeliverable. */
			while (st.head != NULL) {
				struct rec *q = st.head;

				unlink_rec(&st, NULL, q);
				give_up(&st, q, "stopped after a permanent error");
				free_rec(&st, q);
			}
			break;
		}
		if (eof && st.head == NULL &&
		    http_inflight(aws_client_http(st.aws)) == 0)
			break;
		if (collected > 0)
			continue;

		/* 4. wait for input, a response, a linger or backoff deadline */
		now = kptime_mono_ms();
		if (st.head != NULL) {
			int64_t due = st.head->arrived + o.linger_ms - now;

			if (due < wait_ms)
				wait_ms = due < 1 ? 1 : due;
			if (st.head->not_before > now && st.head->not_before - now < wait_ms)
				wait_ms = st.head->not_before - now;
		}
		if (pace_at >= 0 && pace_at - now < wait_ms)
			wait_ms = pace_at - now < 1 ? 1 : pace_at - now;
		can_read = !eof && !sig_stop && !st.fatal && room(&st, queue_limit) &&
		    pace_at < 0;
		if (http_inflight(aws_client_http(st.aws)) > 0) {
			if (http_poll_fd(aws_client_http(st.aws), can_read ? 0 : -1,
			    (int)wait_ms) < 0) {
				msg_err("HTTP error");
				status = KP_EXIT_FAILURE;
				break;
			}
		} else if (can_read) {
			char *line;
			size_t len;

			/* Block on input alone, up to the next deadline. */
			rc = nd_next(r, &line, &len, (int)wait_ms);
			if (rc == ND_LINE) {
				st.lines++;
				if (take_line(&st, r, line, len, &pace_at) != 0) {
					eof = 1;
					status = st.rej.strict && !st.rej.failed &&
					    !st.oom ? KP_EXIT_REJECTED : KP_EXIT_FAILURE;
				}
			} else if (rc == ND_EOF) {
				eof = 1;
			} else if (rc == ND_ERROR) {
				msg_err("<stdin>: read error: %s", strerror(errno));
				status = KP_EXIT_FAILURE;
				eof = 1;
			} else if (rc == ND_TOOLONG && o.strict) {
				eof = 1;
				status = KP_EXIT_REJECTED;
			}
		} else if (st.head != NULL || pace_at >= 0) {
			retry_sleep(wait_ms, &sig_stop);
		}
	}

	progress(&st, 1);
	if (st.reordered > 0)
		msg_warn("%llu records were stored after a failed record of the same "
		    "partition key in the same request (reordered)", st.reordered);
	msg_info("%llu lines, %llu records delivered in %llu requests, %llu retried, "
	    "%llu rejected, %llu undeliverable, %llu control lines skipped", st.lines,
	    st.ok, st.requests, st.retried, st.rej.count, st.undeliverable, st.control);
	if (nd_writer_close(st.out) == ND_ERROR && status == KP_EXIT_OK)
		status = KP_EXIT_FAILURE;
	if (nd_reject_close(&st.rej) != 0 && status == KP_EXIT_OK)
		status = KP_EXIT_FAILURE;
	if (st.fatal)
		status = KP_EXIT_FAILURE;
	else if (status == KP_EXIT_OK && (st.rej.count > 0 || st.undeliverable > 0))
		status = KP_EXIT_REJECTED;
	nd_reader_free(r);
	nd_writer_free(st.out);
	jscan_free(st.js);
	buf_free(&st.pkbuf);
	buf_free(&st.ehkbuf);
	aws_client_free(st.aws);
	free(st.keys);
	jf_path_free(&o.pk_field);
	jf_path_free(&o.ehk_field);
	jf_path_free(&o.pace_field);
	return status;
}
