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
 * sent before the later records of its key (the queue of putq.h).  With
 * --aggregate, the records of a batch are packed per partition key into
 * the KPL's aggregated records (putagg.h); each user record is still
 * settled, retried and dead-lettered on its own.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"
#include "cli.h"
#include "jfield.h"
#include "jscan.h"
#include "kinesis.h"
#include "kpl.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "progress.h"
#include "putagg.h"
#include "putq.h"
#include "sig.h"
#include "sigv4.h"

#define USAGE "kin-put [-hqv] --stream NAME|ARN " \
	"[--aggregate [--aggregate-max-bytes BYTES] " \
	"[--aggregate-max-records N]] [--ca-bundle FILE] " \
	"[--connect-timeout DURATION] [--dead-letter FILE] " \
	"[--endpoint-url URL] [--explicit-hash-key-field PATH] " \
	"[--linger DURATION] [--max-attempts N] [--max-batch-bytes BYTES] " \
	"[--max-batch-records N] [--max-in-flight N] [--max-line BYTES] " \
	"[--max-record-bytes BYTES] [--no-verify-ssl] " \
	"[--pace-field PATH [--speed X]] " \
	"[--partition-key KEY | --partition-key-field PATH] " \
	"[--profile NAME] [--progress | --no-progress] [--raw] [--receipts] " \
	"[--region REGION] [--retry-budget DURATION] [--stats FILE] [--strict] " \
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
    "  --aggregate              pack the records of a partition key into\n"
    "                           KPL aggregated records\n"
    "  --aggregate-max-bytes BYTES\n"
    "                           largest aggregated record (default 50KiB)\n"
    "  --aggregate-max-records N\n"
    "                           user records per aggregated record\n"
    "                           (default: no limit)\n"
    "Rejected lines and records that cannot be delivered both go to\n"
    "--dead-letter.\n";

enum {
	OPT_STREAM = CLI_ID, OPT_PK, OPT_PK_FIELD, OPT_EHK_FIELD, OPT_RAW,
	OPT_LINGER, OPT_INFLIGHT, OPT_BATCH_RECORDS, OPT_BATCH_BYTES,
	OPT_RECORD_BYTES, OPT_PACE_FIELD, OPT_SPEED, OPT_RECEIPTS,
	OPT_AGGREGATE, OPT_AGG_BYTES, OPT_AGG_RECORDS,
};

/* --aggregate: user records taken for one request, at most (the request
 * still holds at most 500 Kinesis records and 5 MiB). */
#define AGG_TAKE 32000
/* The KPL's AggregationMaxSize: its default, its minimum. */
#define AGG_BYTES_DEFAULT 51200
#define AGG_BYTES_MIN 64

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
	{ "aggregate", 0, OPT_AGGREGATE },
	{ "aggregate-max-bytes", 1, OPT_AGG_BYTES },
	{ "aggregate-max-records", 1, OPT_AGG_RECORDS },
	{ NULL, 0, 0 },
};

/* One PutRecords request: reused from one request to the next. */
struct batch {
	struct batch *next;   /* in the free list */
	struct putq_rec **recs;
	size_t n;             /* user records */
	size_t nsent;         /* Kinesis records */
	struct putagg agg;    /* --aggregate: the Kinesis records */
	struct buf body;
};

struct opts {
	const char *stream;
	const char *pk;
	size_t pklen;
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
	int aggregate;
	size_t agg_bytes;     /* 0: the default */
	size_t agg_records;   /* 0: no limit */
	size_t take;          /* user records per request */
};

struct state {
	struct opts *o;
	struct cli *cli;            /* the shared options */
	struct kinesis *k;
	struct nd_writer *out;
	struct nd_reject rej;
	struct jscan *js;
	int f_pk, f_ehk, f_pace;    /* the scanner's fields */
	struct buf pkbuf, ehkbuf, tbuf; /* decoded field strings */
	struct putq q;              /* records not yet accepted by Kinesis */
	struct batch *spare;        /* batches not in flight */
	struct batch **batches;     /* every batch made, to free at exit */
	size_t nbatches;
	/* pacing */
	int64_t pace_t0, pace_w0;
	int paced;
	/* counters */
	unsigned long long lines, ok, retried, undeliverable, reordered;
	unsigned long long kinesis_ok;  /* Kinesis records stored */
	unsigned long long resent;  /* sent again after an answer that may
	                             * hide a write: maybe stored twice */
	int fatal;
	int stopping;         /* a first SIGINT/SIGTERM: reading stopped */
	int abandon;          /* a second one: no more attempts */
	int broken;           /* memory or randomness failed: reading stops */
	unsigned long long control;  /* control lines skipped */
	unsigned char pool[256];     /* random bytes not used yet */
	size_t pool_used;
	struct progress prog;
};

/* The input side of the loop. */
struct loop {
	struct nd_reader *r;
	int eof;
	int stalled;          /* no input within this round */
	int64_t pace_at;      /* --pace-field: reading waits until then */
	size_t queue_limit;   /* reading pauses while this much waits */
	int status;
};

/* The partition key and explicit hash key of one line. */
struct line_keys {
	const char *pk;
	size_t pklen;
	const char *ehk;      /* NULL: none */
	size_t ehklen;
	char rnd[33];         /* a random key */
};

/*
 * n (at most 256) random bytes from the kernel, drawn a pool at a time:
 * random partition keys and the seeds of retry jitter.  0, or -1.
 */
static int
random_bytes(struct state *st, void *out, size_t n)
{
	if (sizeof(st->pool) - st->pool_used < n) {
		/* Up to 256 bytes, getrandom() is never cut short. */
		if (getrandom(st->pool, sizeof(st->pool), 0) !=
		    (ssize_t)sizeof(st->pool))
			return -1;
		st->pool_used = 0;
	}
	memcpy(out, st->pool + st->pool_used, n);
	st->pool_used += n;
	return 0;
}

/* 32 random hexadecimal digits.  0, or -1. */
static int
random_key(struct state *st, char *out)
{
	unsigned char r[16];

	if (random_bytes(st, r, sizeof(r)) != 0)
		return -1;
	sigv4_hex(r, sizeof(r), out);
	return 0;
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

/* Rejects the line being read with a reason.  0, or -1 to stop. */
static int
bad(struct state *st, struct nd_reader *r, const char *line, size_t len,
    const char *why)
{
	return nd_reject(&st->rej, nd_name(r), nd_lineno(r), line, len, "%s",
	    why);
}

/* The keys of the line last scanned.  0, or -1 with the reason in why. */
static int
line_keys(struct state *st, struct line_keys *kv, char *why, size_t whysz)
{
	const struct opts *o = st->o;
	const char *w = NULL;

	kv->pk = o->pk;
	kv->pklen = o->pklen;
	kv->ehk = NULL;
	kv->ehklen = 0;
	if (o->has_pk_field && key_text(jscan_get(st->js, st->f_pk),
	    &st->pkbuf, &kv->pk, &kv->pklen, &w) != 0) {
		snprintf(why, whysz, "partition key field %s: %s",
		    o->pk_field.text, w);
		return -1;
	}
	if (kv->pk == NULL) {
		if (random_key(st, kv->rnd) != 0) {
			snprintf(why, whysz, "no random bytes: %s",
			    strerror(errno));
			st->broken = 1;
			return -1;
		}
		kv->pk = kv->rnd;
		kv->pklen = 32;
	}
	if (!kinesis_pk_valid(kv->pk, kv->pklen)) {
		snprintf(why, whysz, "partition key must have 1 to 256 "
		    "characters");
		return -1;
	}
	if (o->has_ehk_field) {
		const struct jscan_field *f = jscan_get(st->js, st->f_ehk);
		unsigned char h[16];

		if (jscan_string(f, &st->ehkbuf, &kv->ehk, &kv->ehklen) != 0)
			w = f->type == JSCAN_MISSING ? "missing" :
			    "not a string";
		else if (kpl_dec128(kv->ehk, kv->ehklen, h) != 0)
			w = "not a decimal 128-bit number";
		if (w != NULL) {
			snprintf(why, whysz, "explicit hash key field %s: %s",
			    o->ehk_field.text, w);
			return -1;
		}
	}
	return 0;
}

/* --pace-field: when the line last scanned is due.  0, or -1 with why. */
static int
pace_time(struct state *st, int64_t *pace_at, char *why, size_t whysz)
{
	const char *w = NULL;
	int64_t t;

	/* A buffer of its own: the partition key may be in pkbuf. */
	if (jscan_time(jscan_get(st->js, st->f_pace), KPTIME_AUTO, &st->tbuf,
	    &t, &w) != 0) {
		snprintf(why, whysz, "pace field %s: %s", st->o->pace_field.text,
		    w);
		return -1;
	}
	if (!st->paced) {
		st->paced = 1;
		st->pace_t0 = t;
		st->pace_w0 = kptime_mono_ms();
	}
	*pace_at = st->pace_w0 +
	    (int64_t)((double)(t - st->pace_t0) / st->o->speed);
	return 0;
}

/* Queues a record of the line.  0, or -1 when memory is short. */
static int
queue_record(struct state *st, struct nd_reader *r, const char *line,
    size_t len, const struct line_keys *kv, int64_t pace_at)
{
	struct putq_in in = { .data = line, .len = len, .pk = kv->pk,
	    .pklen = kv->pklen, .ehk = kv->ehk, .ehklen = kv->ehklen,
	    .lineno = nd_lineno(r), .now = kptime_mono_ms() };

	if (pace_at > in.now)
		in.not_before = pace_at;
	return putq_add(&st->q, &in) != NULL ? 0 : -1;
}

/*
 * Turns one input line into a queued record.  Returns 0 (queued or
 * rejected), -1 to stop (--strict, dead-letter failure, out of memory).
 */
static int
take_line(struct state *st, struct nd_reader *r, const char *line, size_t len,
    int64_t *pace_at)
{
	struct line_keys kv;
	const char *w = NULL;
	char why[512];

	*pace_at = -1;
	if (!st->o->raw) {
		if (jscan_line(st->js, line, len, &w) != 0)
			return bad(st, r, line, len, w);
		/* Control lines steer a processing pipeline; they are not
		 * data for the stream.  Skipped, counted. */
		if (jscan_is_control(st->js)) {
			st->control++;
			return 0;
		}
	}
	if (line_keys(st, &kv, why, sizeof(why)) != 0) {
		if (!st->broken)
			return bad(st, r, line, len, why);
		msg_err("%s", why);
		return -1;
	}
	if (len + kv.pklen > st->o->record_bytes) {
		snprintf(why, sizeof(why), "record larger than %zu bytes",
		    st->o->record_bytes);
		return bad(st, r, line, len, why);
	}
	if (st->o->has_pace && pace_time(st, pace_at, why, sizeof(why)) != 0)
		return bad(st, r, line, len, why);
	if (queue_record(st, r, line, len, &kv, *pace_at) != 0) {
		msg_err("out of memory");
		st->broken = 1;
		return -1;
	}
	return 0;
}

/* A batch to fill: a spare one, or a new one.  NULL when memory is short. */
static struct batch *
batch_get(struct state *st)
{
	struct batch *b = st->spare, **all;

	if (b != NULL) {
		st->spare = b->next;
		b->next = NULL;
		return b;
	}
	all = realloc(st->batches, (st->nbatches + 1) * sizeof(*all));
	if (all == NULL)
		return NULL;
	st->batches = all;
	b = calloc(1, sizeof(*b));
	if (b == NULL ||
	    (b->recs = calloc(st->o->take, sizeof(*b->recs))) == NULL) {
		free(b);
		return NULL;
	}
	st->batches[st->nbatches++] = b;
	return b;
}

/* A batch whose records are settled: its arrays and body buffer serve the
 * next request. */
static void
batch_put(struct state *st, struct batch *b)
{
	b->n = 0;
	b->next = st->spare;
	st->spare = b;
}

/*
 * The Kinesis records of a batch: its user records, or with --aggregate
 * their aggregates; the user records that do not fit in the request go
 * back to the queue, untried.  0, or -1 when memory is short.
 */
static int
pack(struct state *st, struct batch *b, int64_t now)
{
	const struct opts *o = st->o;
	struct putagg_limits l = { o->batch_records, o->batch_bytes,
	    o->agg_bytes, o->agg_records };
	size_t n;

	b->nsent = b->n;
	if (!o->aggregate)
		return 0;
	n = putagg_pack(&b->agg, b->recs, b->n, &l);
	if (n == (size_t)-1) {
		msg_err("out of memory");
		return -1;
	}
	while (b->n > n)
		putq_untake(&st->q, b->recs[--b->n], now);
	b->nsent = b->agg.n;
	return 0;
}

static int
send_batch(struct state *st, struct batch *b)
{
	char err[512];
	int64_t now;
	size_t i;

	kinesis_put_records_open(&b->body, st->o->stream);
	for (i = 0; i < b->nsent; i++) {
		if (st->o->aggregate)
			kinesis_put_records_add(&b->body, b->agg.ent[i].data,
			    b->agg.ent[i].size, b->agg.ent[i].pk,
			    b->agg.ent[i].pklen, b->agg.ent[i].ehk);
		else
			kinesis_put_records_add(&b->body, b->recs[i]->data,
			    b->recs[i]->len, b->recs[i]->pk, b->recs[i]->pklen,
			    b->recs[i]->ehk);
	}
	if (kinesis_put_records_close(&b->body) != 0) {
		msg_err("out of memory");
		return -1;
	}
	if (kinesis_put_records_start(st->k, &b->body, b, err,
	    sizeof(err)) == NULL) {
		msg_err("%s", err);
		return -1;
	}
	now = kptime_mono_ms();
	for (i = 0; i < b->n; i++) {
		struct putq_rec *rc = b->recs[i];
		uint64_t seed = rc->lineno;

		/* The retry budget runs from the first attempt; each record
		 * jitters on its own. */
		if (rc->attempts == 0) {
			random_bytes(st, &seed, sizeof(seed));
			retry_start(&rc->retry, now, seed);
		}
	}
	return 0;
}

/* A record whose attempts are spent: dead-letter it, count it. */
static void
give_up(struct state *st, struct putq_rec *rc, const char *why)
{
	st->undeliverable++;
	if (nd_reject_shown(&st->rej, "undeliverable", why))
		msg_err("<stdin>:%llu: undeliverable after %d attempts: %s",
		    rc->lineno, rc->attempts, why);
	if (st->rej.dead != NULL && !st->rej.failed &&
	    (fwrite(rc->data, 1, rc->len, st->rej.dead) != rc->len ||
	    fputc('\n', st->rej.dead) == EOF)) {
		msg_err("%s: %s", st->rej.dead_path, strerror(errno));
		st->rej.failed = 1;
	}
}

static void
write_receipt(struct state *st, struct putq_rec *rc, const char *shard,
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

/* How a finished request went, for settle(). */
struct outcome {
	const struct kinesis_put_response *pr; /* NULL: failed as a whole */
	int64_t retry_after;  /* the server's Retry-After, or -1 */
	int64_t now;
	char err[512];        /* why it, or the last entry, failed */
	size_t nfailed;       /* records to retry */
};

/*
 * Settles a record of a finished request, sent in its i-th Kinesis record
 * (with --aggregate, shared with other user records): delivered, back in
 * the queue with its backoff (ahead of the later records of its key), or
 * undeliverable.
 */
static void
settle(struct state *st, struct putq_rec *rc, size_t i, struct outcome *oc)
{
	const struct retry_policy *p = aws_client_retry(st->k->aws);
	const struct kinesis_put_result *e = oc->pr ? &oc->pr->entry[i] : NULL;
	int64_t delay;

	rc->attempts++;
	if (e != NULL && e->code == NULL) {
		st->ok++;
		if (st->o->receipts)
			write_receipt(st, rc, e->shard, e->seq);
		if (putq_done(&st->q, rc, oc->now))
			st->reordered++;
		return;
	}
	if (e != NULL)
		snprintf(oc->err, sizeof(oc->err), "%s: %s", e->code,
		    e->message);
	/* The one retry policy (retry.h): attempts, budget, backoff. */
	delay = st->fatal || st->abandon ? -1 :
	    retry_next(p, &rc->retry, oc->now, oc->retry_after);
	if (delay < 0) {
		give_up(st, rc, st->fatal ? "stopped after a permanent error" :
		    st->abandon ? "stopped by a second signal" : oc->err);
		putq_fail(&st->q, rc, -1, oc->now);
		return;
	}
	putq_fail(&st->q, rc, oc->now + delay, oc->now);
	oc->nfailed++;
}

/* Settles a finished PutRecords request. */
static void
finish(struct state *st, struct http_xfer *x)
{
	struct batch *b = http_xfer_user(x);
	struct http_response *resp = http_xfer_response(x);
	struct kinesis_put_response pr;
	struct outcome oc = { .retry_after = -1, .now = kptime_mono_ms() };
	enum retry_kind kind = RETRY_NO;
	int parsed = 0;
	size_t i;

	memset(&pr, 0, sizeof(pr));
	if (resp->status >= 200 && resp->status < 300) {
		parsed = kinesis_put_records_parse(resp->body, resp->body_len,
		    b->nsent, &pr, oc.err, sizeof(oc.err)) == 0;
		/* The server may have stored the batch: sent again, it may
		 * be stored twice, never lost. */
		kind = parsed ? RETRY_NO : RETRY_YES;
	} else {
		kind = aws_outcome(resp, oc.err, sizeof(oc.err));
	}
	if (!parsed && kind == RETRY_NO) {
		/* Permanent failure of the whole request (no such stream,
		 * access denied, ...): nothing more can be delivered. */
		msg_err("PutRecords: %s", oc.err);
		st->fatal = 1;
	}
	if (kind == RETRY_CREDENTIALS)
		aws_client_credentials_expired(st->k->aws);
	if (aws_maybe_applied(resp, kind, parsed))
		st->resent += b->n;
	if (parsed)
		oc.pr = &pr;
	else
		oc.retry_after = resp->retry_after_ms;
	if (parsed)
		st->kinesis_ok += pr.n - pr.failed;
	for (i = 0; i < b->n; i++)
		settle(st, b->recs[i], st->o->aggregate ? b->agg.of[i] : i,
		    &oc);
	if (oc.nfailed > 0) {
		st->retried += oc.nfailed;
		msg_warn("PutRecords: %zu of %zu records failed (%s); retrying them",
		    oc.nfailed, b->n, oc.err);
	}
	kinesis_put_response_free(&pr);
	batch_put(st, b);
	http_xfer_free(x);
}

static void
show_progress(struct state *st, int final)
{
	double secs = progress_elapsed(&st->prog);
	struct buf f = BUF_INIT;

	if (!final && !progress_due(&st->prog))
		return;
	progress_show(&st->prog, final, "%llu records sent, %.0f/s, %llu "
	    "retries, %llu rejected", st->ok, secs > 0 ? (double)st->ok / secs :
	    0.0, st->retried, st->rej.count);
	buf_printf(&f, "\"records_in\":%llu,\"records_out\":%llu,"
	    "\"kinesis_records\":%llu,"
	    "\"retried\":%llu,\"resent\":%llu,\"rejected\":%llu,"
	    "\"undeliverable\":%llu,\"control\":%llu", st->lines, st->ok,
	    st->kinesis_ok, st->retried, st->resent, st->rej.count,
	    st->undeliverable, st->control);
	progress_stats(&st->prog, final, &f);
	buf_free(&f);
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
		rc = cli_count(c, arg, 1, KINESIS_PUT_MAX_RECORDS, &n);
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
	case OPT_AGGREGATE:
		o->aggregate = 1;
		break;
	case OPT_AGG_BYTES:
		rc = cli_size(c, arg, AGG_BYTES_MIN, 1ULL << 30, &n);
		o->agg_bytes = n;
		break;
	case OPT_AGG_RECORDS:
		rc = cli_count(c, arg, 1, UINT32_MAX, &n);
		o->agg_records = n;
		break;
	}
	return rc;
}

/* The checks of options against each other. */
static int
check_opts(struct cli *c, struct opts *o)
{
	if (o->stream == NULL || *o->stream == '\0')
		return cli_usage(c, "--stream is required");
	if (o->pk != NULL && o->has_pk_field)
		return cli_usage(c, "--partition-key and --partition-key-field "
		    "exclude each other");
	o->pklen = o->pk != NULL ? strlen(o->pk) : 0;
	if (o->pk != NULL && !kinesis_pk_valid(o->pk, o->pklen))
		return cli_usage(c, "--partition-key must have 1 to 256 "
		    "characters");
	if (o->raw && (o->has_pk_field || o->has_ehk_field || o->has_pace))
		return cli_usage(c, "--raw cannot be used with field options");
	if (o->speed_set && !o->has_pace)
		return cli_usage(c, "--speed needs --pace-field");
	if (o->record_bytes == 0)
		o->record_bytes = o->batch_bytes < KINESIS_RECORD_MAX_BYTES ?
		    o->batch_bytes : KINESIS_RECORD_MAX_BYTES;
	if (o->record_bytes > o->batch_bytes)
		return cli_usage(c, "--max-record-bytes exceeds "
		    "--max-batch-bytes");
	if (!o->aggregate && (o->agg_bytes > 0 || o->agg_records > 0))
		return cli_usage(c, "--aggregate-max-bytes and "
		    "--aggregate-max-records need --aggregate");
	if (o->agg_bytes > o->record_bytes)
		return cli_usage(c, "--aggregate-max-bytes exceeds "
		    "--max-record-bytes");
	if (o->agg_bytes == 0)
		o->agg_bytes = o->record_bytes < AGG_BYTES_DEFAULT ?
		    o->record_bytes : AGG_BYTES_DEFAULT;
	if (o->agg_records == 0)
		o->agg_records = SIZE_MAX;
	if (o->aggregate && o->pk == NULL && !o->has_pk_field)
		msg_warn("--aggregate without a partition key option packs "
		    "nothing: every record has a random key of its own");
	o->take = o->aggregate ? AGG_TAKE : o->batch_records;
	return CLI_RUN;
}

/* Returns CLI_RUN, CLI_DONE or an exit status. */
static int
parse_opts(int argc, char **argv, struct cli *c, struct opts *o)
{
	int rc;

	*c = (struct cli){ .usage = USAGE, .help = help_text,
	    .groups = CLI_INPUT | CLI_PROGRESS | CLI_AWS, .options = options,
	    .handle = option, .ctx = o };
	o->linger_ms = 100;
	o->max_inflight = 4;
	o->batch_records = KINESIS_PUT_MAX_RECORDS;
	o->batch_bytes = KINESIS_PUT_MAX_BYTES;
	o->record_bytes = 0;	/* 1 MiB, or --max-batch-bytes if smaller */
	o->speed = 1.0;
	rc = cli_parse(c, argc, argv);
	return rc == CLI_RUN ? check_opts(c, o) : rc;
}

/* Whether reading may go on: memory stays bounded by the queue's size. */
static int
room(const struct state *st, const struct loop *lp)
{
	return st->q.queued_bytes < lp->queue_limit &&
	    st->q.queued < st->o->take * (size_t)(st->o->max_inflight + 1);
}

static int
can_read(const struct state *st, const struct loop *lp)
{
	return !lp->eof && !sig_stop && !st->fatal && room(st, lp);
}

/*
 * Acts on one result of nd_next().  Returns 1 when reading pauses (end of
 * input, an error, --strict, no input for now), else 0.
 */
static int
input(struct state *st, struct loop *lp, int rc, const char *line,
    size_t len)
{
	switch (rc) {
	case ND_LINE:
		st->lines++;
		if (take_line(st, lp->r, line, len, &lp->pace_at) == 0)
			return 0;
		lp->status = st->rej.strict && !st->rej.failed && !st->broken ?
		    KP_EXIT_REJECTED : KP_EXIT_FAILURE;
		break;
	case ND_TOOLONG:
		if (!st->cli->strict)
			return 0;
		lp->status = KP_EXIT_REJECTED;
		break;
	case ND_TIMEOUT:
	case ND_INTR:
		return 1;
	case ND_ERROR:
		msg_err("<stdin>: read error: %s", strerror(errno));
		lp->status = KP_EXIT_FAILURE;
		break;
	default:  /* ND_EOF */
		break;
	}
	lp->eof = 1;
	return 1;
}

/* Step 1: reads what input is available, without waiting. */
static void
read_available(struct state *st, struct loop *lp, int64_t now)
{
	char *line = NULL;
	size_t len = 0;
	int rc;

	lp->stalled = 0;
	if (!can_read(st, lp))
		return;
	while (lp->pace_at < 0) {
		rc = nd_next(lp->r, &line, &len, 0);
		if (rc == ND_TIMEOUT)
			lp->stalled = 1;
		if (input(st, lp, rc, line, len) != 0)
			break;
		if (rc != ND_LINE)
			continue;
		if (lp->pace_at >= 0 && lp->pace_at <= now)
			lp->pace_at = -1;
		if (!room(st, lp))
			break;
	}
}

/*
 * Step 2: starts requests while slots are free and a batch is due: when a
 * batch's worth waits (a full batch, or the queue can take no more), or
 * when the oldest record that may go has waited --linger.
 */
static void
send_ready(struct state *st, struct loop *lp)
{
	const struct opts *o = st->o;
	struct http_client *h = aws_client_http(st->k->aws);
	int64_t now = kptime_mono_ms();
	size_t i;

	putq_wake(&st->q, now);
	while (!st->fatal && !st->abandon &&
	    http_inflight(h) < o->max_inflight) {
		int64_t oldest = putq_oldest_ready(&st->q);
		int full = st->q.queued >= o->take ||
		    st->q.queued_bytes >= o->batch_bytes;
		int due = lp->eof || lp->stalled || o->has_pace ||
		    now - oldest >= o->linger_ms;
		struct batch *b;

		if (oldest < 0 || (!full && !due))
			break;
		b = batch_get(st);
		if (b == NULL) {
			msg_err("out of memory");
			st->fatal = 1;
			break;
		}
		b->n = putq_take(&st->q, now, o->take, o->batch_bytes,
		    b->recs);
		if (b->n == 0) {
			batch_put(st, b);
			break;
		}
		if (pack(st, b, now) != 0 || send_batch(st, b) != 0) {
			/* Put them back; this is a local failure. */
			for (i = 0; i < b->n; i++)
				putq_fail(&st->q, b->recs[i],
				    b->recs[i]->not_before, now);
			batch_put(st, b);
			st->fatal = 1;
			break;
		}
	}
}

/* Step 3: settles the finished requests.  Returns how many. */
static int
collect(struct state *st)
{
	struct http_xfer *x;
	int n = 0;

	while ((x = http_wait(aws_client_http(st->k->aws), 0)) != NULL) {
		finish(st, x);
		n++;
	}
	if (n > 0)
		nd_flush(st->out);	/* receipts reach a live reader */
	show_progress(st, 0);
	return n;
}

/* After a permanent error or a second signal: everything queued is
 * undeliverable, in input order. */
static void
drain(struct state *st)
{
	for (;;) {
		struct putq_rec *rc = putq_pop(&st->q);

		if (rc == NULL)
			break;
		give_up(st, rc, st->fatal ? "stopped after a permanent error" :
		    "stopped by a second signal");
		putq_rec_free(rc);
	}
}

/* The time from now until t (at least 1 ms), if sooner than wait_ms. */
static int64_t
sooner(int64_t wait_ms, int64_t t, int64_t now)
{
	if (t < 0 || t - now >= wait_ms)
		return wait_ms;
	return t - now < 1 ? 1 : t - now;
}

/*
 * How long step 4 may wait: until input, a response, or the first
 * linger, backoff or pace deadline.  The queue's deadlines count only
 * while a request may start: with every slot taken a response comes
 * first, and nothing could be sent before it.
 */
static int64_t
wait_time(const struct state *st, const struct loop *lp, int64_t now)
{
	int64_t wait_ms = 1000, oldest = putq_oldest_ready(&st->q);

	if (!st->fatal && !st->abandon &&
	    http_inflight(aws_client_http(st->k->aws)) < st->o->max_inflight) {
		if (oldest >= 0)
			wait_ms = sooner(wait_ms, oldest + st->o->linger_ms,
			    now);
		wait_ms = sooner(wait_ms, putq_next_due(&st->q), now);
	}
	return sooner(wait_ms, lp->pace_at, now);
}

/* Step 4: waits.  Returns 0, or -1 when the loop must end. */
static int
wait_step(struct state *st, struct loop *lp)
{
	struct http_client *h = aws_client_http(st->k->aws);
	int64_t wait_ms = wait_time(st, lp, kptime_mono_ms());
	int reading = can_read(st, lp) && lp->pace_at < 0, rc;
	char *line = NULL;
	size_t len = 0;

	if (http_inflight(h) > 0) {
		if (http_poll_fd(h, reading ? 0 : -1, (int)wait_ms) < 0) {
			msg_err("HTTP error");
			lp->status = KP_EXIT_FAILURE;
			return -1;
		}
	} else if (reading) {
		/* Block on input alone, up to the next deadline. */
		rc = nd_next(lp->r, &line, &len, (int)wait_ms);
		input(st, lp, rc, line, len);
	} else if (st->q.queued > 0 || lp->pace_at >= 0) {
		retry_sleep(wait_ms, &sig_stop);
	}
	return 0;
}

/* The first SIGINT or SIGTERM stops reading; the records read are still
 * delivered, with their retries.  A second one (even one that came with
 * the first) stops the retries and the requests: all not delivered is
 * undeliverable (an abandoned request may have been stored). */
static void
check_signal(struct state *st, struct loop *lp)
{
	if (!sig_stop)
		return;
	sig_stop = 0;
	lp->eof = 1;
	if (!st->stopping) {
		st->stopping = 1;
		msg_info("stopping: delivering the records already read");
	}
	if (sig_count >= 2 && !st->abandon) {
		st->abandon = 1;
		http_abort_all(aws_client_http(st->k->aws), "abandoned");
		msg_warn("second signal: the records not yet delivered are "
		    "undeliverable");
	}
}

/* Reads, sends and collects until the input is drained and delivered. */
static void
run(struct state *st, struct loop *lp)
{
	struct http_client *h = aws_client_http(st->k->aws);
	int collected;

	for (;;) {
		read_available(st, lp, kptime_mono_ms());
		if (lp->pace_at >= 0 && lp->pace_at <= kptime_mono_ms())
			lp->pace_at = -1;
		check_signal(st, lp);
		send_ready(st, lp);
		collected = collect(st);
		if ((st->fatal || st->abandon) && http_inflight(h) == 0) {
			drain(st);
			break;
		}
		if (lp->eof && st->q.queued == 0 && http_inflight(h) == 0)
			break;
		/* Freed slots are used at once. */
		if (collected > 0)
			continue;
		if (wait_step(st, lp) != 0)
			break;
	}
}

/* Everything a run needs.  Returns CLI_RUN or an exit status. */
static int
start(struct state *st, struct loop *lp)
{
	const struct opts *o = st->o;
	struct cli *c = st->cli;
	char err[1024];
	int usage_error = 0;

	c->aws.stop = &sig_stop;
	st->js = jscan_new();
	if (sig_setup() != 0 || st->js == NULL ||
	    (o->has_pk_field &&
	    (st->f_pk = jscan_want(st->js, &o->pk_field)) < 0) ||
	    (o->has_ehk_field &&
	    (st->f_ehk = jscan_want(st->js, &o->ehk_field)) < 0) ||
	    (o->has_pace &&
	    (st->f_pace = jscan_want(st->js, &o->pace_field)) < 0)) {
		msg_err("cannot initialise");
		return KP_EXIT_FAILURE;
	}
	if (nd_reject_init(&st->rej, c->dead_letter, c->strict) != 0)
		return KP_EXIT_USAGE;
	st->k = kinesis_new(o->stream, &c->aws, err, sizeof(err),
	    &usage_error);
	if (st->k == NULL) {
		msg_err("%s", err);
		return usage_error ? KP_EXIT_USAGE : KP_EXIT_FAILURE;
	}
	st->out = nd_writer_new(1);
	lp->r = nd_reader_new(0, "<stdin>", c->max_line);
	if (st->out == NULL || lp->r == NULL) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	nd_reader_set_reject(lp->r, &st->rej);
	st->pool_used = sizeof(st->pool);
	progress_init(&st->prog, c->progress, c->stats);
	lp->pace_at = -1;
	lp->queue_limit = o->batch_bytes * (size_t)(o->max_inflight + 1);
	return CLI_RUN;
}

/* Reports and closes; returns the final status. */
static int
report(struct state *st, int status)
{
	show_progress(st, 1);
	if (st->resent > 0)
		msg_warn("%llu records were sent again after a request whose "
		    "answer was lost or was a server error: each may be stored "
		    "twice in the stream", st->resent);
	if (st->reordered > 0)
		msg_warn("%llu records were stored after a failed record of the "
		    "same partition key in the same request (reordered)",
		    st->reordered);
	msg_info("%llu lines, %llu records delivered in %llu Kinesis records "
	    "and %llu requests, %llu retried, %llu rejected, %llu "
	    "undeliverable, %llu control lines skipped", st->lines, st->ok,
	    st->kinesis_ok, st->k->calls, st->retried, st->rej.count,
	    st->undeliverable, st->control);
	if (nd_writer_close(st->out) == ND_ERROR && status == KP_EXIT_OK)
		status = KP_EXIT_FAILURE;
	if (nd_reject_close(&st->rej) != 0 && status == KP_EXIT_OK)
		status = KP_EXIT_FAILURE;
	if (st->fatal)
		status = KP_EXIT_FAILURE;
	else if (status == KP_EXIT_OK &&
	    (st->rej.count > 0 || st->undeliverable > 0))
		status = KP_EXIT_REJECTED;
	return status;
}

static void
cleanup(struct state *st, struct loop *lp)
{
	size_t i;

	/* Records and keys left by a run cut short. */
	putq_free(&st->q);
	nd_reject_close(&st->rej);
	nd_reader_free(lp->r);
	nd_writer_free(st->out);
	jscan_free(st->js);
	buf_free(&st->pkbuf);
	buf_free(&st->ehkbuf);
	buf_free(&st->tbuf);
	kinesis_free(st->k);
	/* After the requests: the records of one cut short are its batch's. */
	for (i = 0; i < st->nbatches; i++) {
		struct batch *b = st->batches[i];
		size_t j;

		for (j = 0; j < b->n; j++)
			putq_rec_free(b->recs[j]);
		free(b->recs);
		putagg_free(&b->agg);
		buf_free(&b->body);
		free(b);
	}
	free(st->batches);
	jf_path_free(&st->o->pk_field);
	jf_path_free(&st->o->ehk_field);
	jf_path_free(&st->o->pace_field);
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct cli cli;
	struct state st = { .o = &o, .cli = &cli, .q = PUTQ_INIT };
	struct loop lp = { 0 };
	int rc;

	msg_init(argv[0]);
	rc = parse_opts(argc, argv, &cli, &o);
	if (rc == CLI_RUN)
		rc = start(&st, &lp);
	if (rc == CLI_RUN) {
		run(&st, &lp);
		rc = report(&st, lp.status);
	}
	cleanup(&st, &lp);
	return rc == CLI_DONE ? KP_EXIT_OK : rc;
}
