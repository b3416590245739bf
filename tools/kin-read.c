/*
 * kin-read - write the records of an Amazon Kinesis data stream as NDJSON.
 *
 * Shards come from ListShards (paginated); each shard is read with
 * GetShardIterator and GetRecords (Amazon Kinesis Data Streams API
 * Reference), at most five calls per second per shard.  After a split or
 * a merge a child shard is read only once all its parents are finished, so
 * the order of a partition key survives resharding.  By default the read
 * stops at the tip of the stream (every shard caught up or closed and
 * drained): a bounded read for cron.  --follow keeps reading like tail -f.
 * The position of every shard (the last sequence number written) is kept
 * as each record is written, for checkpoints.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "buf.h"
#include "ckpt.h"
#include "cli.h"
#include "jdoc.h"
#include "jfield.h"
#include "kinesis.h"
#include "kpl.h"
#include "kreader.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "progress.h"
#include "sig.h"

#define USAGE "kin-read [-hqv] --stream NAME|ARN [--ca-bundle FILE] " \
	"[--checkpoint-dir DIR [--checkpoint-interval DURATION] " \
	"[--checkpoint-records N] [--job NAME] [--on-expired fail|oldest] " \
	"[--self-commit]] " \
	"[--connect-timeout DURATION] [--count N] [--dead-letter FILE] " \
	"[--endpoint-url URL] [--envelope] [--follow] [--from POSITION] " \
	"[--limit N] [--list-interval DURATION] [--max-attempts N] " \
	"[--no-verify-ssl] [--poll-interval DURATION] [--profile NAME] " \
	"[--progress | --no-progress] [--region REGION] " \
	"[--retry-budget DURATION] [--shards ID,...] [--stats FILE] [--strict] " \
	"[--timeout DURATION] [--until TIME]"

static const char help_text[] =
    "Writes every record of a Kinesis data stream to standard output as NDJSON.\n"
    "\n"
    "Options:\n"
    "  --stream NAME|ARN        the stream (an ARN is sent as StreamARN)\n"
    "  --from POSITION          trim-horizon (default), latest,\n"
    "                           at-timestamp:TIME,\n"
    "                           after-sequence:SHARD=SEQ[,SHARD=SEQ...]\n"
    "  --follow                 keep reading new records (default: stop at the\n"
    "                           tip)\n"
    "  --until TIME             stop at records that arrived at TIME or later\n"
    "  --count N                stop after N records\n"
    "  --shards ID,...          read only these shards (and their children)\n"
    "  --envelope               wrap records: {stream,shard,seq,pk,arrival,data}\n"
    "  --limit N                records per GetRecords call, 1 to 10000\n"
    "                           (default 10000)\n"
    "  --poll-interval DURATION wait after an empty fetch (default 1s)\n"
    "  --list-interval DURATION with --follow: how often to look for new\n"
    "                           shards (default 10s)\n"
    "Checkpoints (kinpipe(7), CHECKPOINTS):\n"
    "  --checkpoint-dir DIR     the pipeline's checkpoint directory: resume\n"
    "                           after the positions of its last commit (--from\n"
    "                           counts only before the first), and write a\n"
    "                           barrier every --checkpoint-interval and at the\n"
    "                           end of the read\n"
    "  --checkpoint-interval DURATION\n"
    "                           time between barriers (default 10s)\n"
    "  --checkpoint-records N   a barrier after N records too\n"
    "  --job NAME               the job named in barriers and object names\n"
    "                           (default: from the stream name)\n"
    "  --self-commit            commit the positions itself once a barrier is\n"
    "                           written (no committing sink downstream:\n"
    "                           at-least-once)\n"
    "  --on-expired fail|oldest a committed position past the stream's\n"
    "                           retention stops the read (default) or goes on\n"
    "                           from the oldest record still there\n"
    "Records whose data is not a JSON object are rejected lines (without\n"
    "--envelope): --dead-letter keeps their data.\n";

enum {
	OPT_STREAM = CLI_ID, OPT_FROM, OPT_FOLLOW, OPT_UNTIL, OPT_COUNT,
	OPT_SHARDS, OPT_ENVELOPE, OPT_LIMIT, OPT_POLL, OPT_LIST, OPT_CKDIR,
	OPT_CKINTERVAL, OPT_CKRECORDS, OPT_JOB, OPT_SELF_COMMIT, OPT_EXPIRED,
};

static const struct cli_option options[] = {
	{ "stream", 1, OPT_STREAM },
	{ "from", 1, OPT_FROM },
	{ "follow", 0, OPT_FOLLOW },
	{ "until", 1, OPT_UNTIL },
	{ "count", 1, OPT_COUNT },
	{ "shards", 1, OPT_SHARDS },
	{ "envelope", 0, OPT_ENVELOPE },
	{ "limit", 1, OPT_LIMIT },
	{ "poll-interval", 1, OPT_POLL },
	{ "list-interval", 1, OPT_LIST },
	{ "checkpoint-dir", 1, OPT_CKDIR },
	{ "checkpoint-interval", 1, OPT_CKINTERVAL },
	{ "checkpoint-records", 1, OPT_CKRECORDS },
	{ "job", 1, OPT_JOB },
	{ "self-commit", 0, OPT_SELF_COMMIT },
	{ "on-expired", 1, OPT_EXPIRED },
	{ NULL, 0, 0 },
};

struct opts {
	const char *stream;
	struct kr_from from;    /* --from */
	int follow;
	int64_t until_ms;
	int has_until;
	unsigned long long count;
	char **only;
	size_t nonly;
	int envelope;
	int limit;
	int64_t poll_ms, list_ms;
	const char *ckdir;     /* --checkpoint-dir */
	int64_t ck_interval;
	uint64_t ck_records;
	const char *job;
	int self_commit;
	int oldest;            /* --on-expired oldest */
};

struct state {
	struct opts *o;
	struct kinesis *k;
	struct nd_writer *out;
	struct nd_reject rej;
	struct jf_parser jp;
	struct progress prog;
	struct kreader rd;     /* the shards and their positions */
	unsigned long long written, rejected_kpl, dropped_range;
	int done;
	unsigned char *buf;    /* decoded record data */
	size_t bufcap;
	/* checkpoints */
	struct ckpt_dir *ck;
	struct ckpt_barrier resume;   /* the last commit's positions */
	char job[CKPT_JOB_MAX + 1];
	uint64_t next_id;             /* the next barrier's id */
	int64_t last_barrier;         /* monotonic ms */
	unsigned long long since_barrier;
};

/* One record to write: a Kinesis record, or one user record of the KPL
 * aggregate it holds. */
struct item {
	const struct kinesis_record *r;  /* sequence number, arrival */
	int aggregated;
	unsigned long long sub;          /* index within the aggregate */
	const char *pk;
	size_t pklen;
	const unsigned char *data;
	size_t len;
};

/* What a record's data is, as JSON. */
struct datum {
	enum jdoc_type kind;             /* JDOC_NULL too when not JSON */
	struct json_object *obj;         /* built only for data to compact
	                                  * (it spans lines) */
	const char *why;                 /* not JSON: json-c's reason */
};

/*
 * Reads data p[0..n): the common case, one line of valid JSON, is checked
 * by jdoc alone (the verdicts json-c gives, without its objects); data
 * jdoc refuses or that spans lines goes to json-c (jf_parse), which words
 * the reason or compacts it, as before.
 */
static void
datum_read(struct state *st, struct datum *dt, const char *p, size_t n)
{
	const char *why = NULL;

	memset(dt, 0, sizeof(*dt));
	if (memchr(p, '\n', n) == NULL && jdoc_check(p, n, &dt->kind,
	    &why) == 0)
		return;
	dt->kind = JDOC_NULL;
	dt->obj = jf_parse(&st->jp, p, n, &dt->why);
	if (json_object_is_type(dt->obj, json_type_object))
		dt->kind = JDOC_OBJECT;
	else if (json_object_is_type(dt->obj, json_type_array))
		dt->kind = JDOC_ARRAY;
	/* A valid value of another type on one line needs no object. */
	if (dt->kind == JDOC_NULL && dt->obj != NULL) {
		json_object_put(dt->obj);
		dt->obj = NULL;
	}
	if (dt->obj != NULL && memchr(p, '\n', n) == NULL) {
		json_object_put(dt->obj);
		dt->obj = NULL;
	}
}

/* obj as one compact line, or NULL when memory is short. */
static const char *
compact(struct json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Writes a record's data as it is (one line), or rejects it when it is
 * not a JSON object.  Returns 0, or -1 to stop. */
static int
write_data(struct state *st, struct kr_shard *s, const struct item *it,
    const struct datum *dt, const char *p, size_t n)
{
	const char *c;
	char where[512];

	if (dt->kind != JDOC_OBJECT) {
		if (it->aggregated)
			snprintf(where, sizeof(where), "%s:%s/%llu", s->k.id,
			    it->r->seq, it->sub);
		else
			snprintf(where, sizeof(where), "%s:%s", s->k.id,
			    it->r->seq);
		return nd_reject_at(&st->rej, where, p, n, "%s",
		    dt->why != NULL ? dt->why : "not a JSON object");
	}
	if (dt->obj == NULL) {
		nd_put(st->out, p, n);
	} else {
		/* Pretty-printed data: one compact line. */
		if ((c = compact(dt->obj)) == NULL) {
			msg_err("out of memory");
			return -1;
		}
		nd_put(st->out, c, strlen(c));
	}
	st->written++;
	return 0;
}

/* Writes a record in its envelope (kin-read(1), Envelope).  0 or -1. */
static int
write_envelope(struct state *st, struct kr_shard *s, const struct item *it,
    const struct datum *dt, const char *p, size_t n)
{
	struct buf *b = nd_buf(st->out);
	char ts[KPTIME_BUFSZ];
	const char *c = p;
	size_t clen = n;

	buf_lit(b, "{\"stream\":");
	buf_jstrz(b, st->o->stream);
	buf_lit(b, ",\"shard\":");
	buf_jstrz(b, s->k.id);
	buf_lit(b, ",\"seq\":");
	buf_jstrz(b, it->r->seq);
	if (it->aggregated) {
		buf_lit(b, ",\"subseq\":");
		buf_u64(b, it->sub);
	}
	buf_lit(b, ",\"pk\":");
	buf_jstr(b, it->pk, it->pklen);
	if (it->r->has_arrival &&
	    kptime_format(it->r->arrival_ms, ts, sizeof(ts)) > 0) {
		buf_lit(b, ",\"arrival\":");
		buf_jstrz(b, ts);
	}
	buf_lit(b, ",\"data\":");
	if (dt->kind == JDOC_OBJECT || dt->kind == JDOC_ARRAY) {
		/* Pretty-printed data: compacted to stay on one line. */
		if (dt->obj != NULL) {
			if ((c = compact(dt->obj)) == NULL) {
				nd_discard(st->out);
				msg_err("out of memory");
				return -1;
			}
			clen = strlen(c);
		}
		buf_add(b, c, clen);
	} else {
		buf_char(b, '"');
		buf_b64(b, it->data, it->len);
		buf_lit(b, "\",\"encoding\":\"base64\"");
	}
	buf_char(b, '}');
	if (nd_end(st->out) == ND_ERROR && nd_writer_status(st->out) == 0) {
		msg_err("out of memory");
		return -1;
	}
	st->written++;
	return 0;
}

/* Writes the data of one (sub-)record.  Returns 0, or -1 to stop. */
static int
emit(struct state *st, struct kr_shard *s, const struct item *it)
{
	struct datum dt;
	const char *p = (const char *)it->data;
	size_t n = it->len;
	int rc;

	/* Trailing white space (a producer's newline) is not data. */
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' ||
	    p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	datum_read(st, &dt, p, n);
	if (st->o->envelope)
		rc = write_envelope(st, s, it, &dt, p, n);
	else
		rc = write_data(st, s, it, &dt, p, n);
	/* The position moves on whether the record was written or rejected:
	 * a rejected record is accounted for (dead letter), not to be reread. */
	if (kr_wrote(s, it->r->seq, it->sub, it->aggregated) != 0) {
		msg_err("out of memory");
		rc = -1;
	}
	st->since_barrier++;
	json_object_put(dt.obj);
	if (nd_writer_status(st->out) != 0)
		return -1;
	return rc;
}

static int
in_range(const struct kr_shard *s, const unsigned char h[16])
{
	return memcmp(h, s->k.lo, 16) >= 0 && memcmp(h, s->k.hi, 16) <= 0;
}

/* The user records of a KPL aggregate.  Returns 0 or -1 to stop. */
static int
emit_aggregate(struct state *st, struct kr_shard *s,
    const struct kinesis_record *r, const struct kpl_agg *agg)
{
	struct item it;
	size_t i;
	int rc;

	/* Resumed inside this aggregate: its first records are written. */
	for (i = kr_skip(s, r->seq, agg->n); i < agg->n; i++) {
		const struct kpl_record *u = &agg->recs[i];
		unsigned char h[16];

		/* After resharding, an aggregate may hold sub-records whose
		 * keys now map to a sibling shard; the KCL drops them. */
		if (kpl_hash_key(u, h) == 0 && !in_range(s, h)) {
			st->dropped_range++;
			continue;
		}
		it.r = r;
		it.aggregated = 1;
		it.sub = i;
		it.pk = u->pk;
		it.pklen = u->pklen;
		it.data = u->data;
		it.len = u->len;
		rc = emit(st, s, &it);
		if (rc != 0)
			return rc;
		if (st->o->count && st->written >= st->o->count)
			return 0;
	}
	/* The whole aggregate is written: a barrier needs no sub-record. */
	s->cut = 0;
	return 0;
}

/*
 * Handles one record of a GetRecords response.  Returns 0, 1 when it
 * finished the shard (--until), or -1 to stop.
 */
static int
record(struct state *st, struct kr_shard *s, const struct kinesis_record *r)
{
	struct kpl_agg agg;
	struct item it;
	long n;
	int k, rc;

	if (st->o->has_until && r->has_arrival &&
	    r->arrival_ms >= st->o->until_ms) {
		s->state = KR_FINISHED;
		return 1;
	}
	if (r->data_len / 4 * 3 + 3 > st->bufcap) {
		unsigned char *nb = realloc(st->buf, r->data_len / 4 * 3 + 3);

		if (nb == NULL) {
			msg_err("out of memory");
			return -1;
		}
		st->buf = nb;
		st->bufcap = r->data_len / 4 * 3 + 3;
	}
	n = b64_decode(r->data, r->data_len, st->buf);
	if (n < 0) {
		msg_err("%s:%s: record data is not base64", s->k.id, r->seq);
		return -1;
	}
	k = kpl_decode(st->buf, (size_t)n, &agg);
	if (k < 0) {
		char where[512];

		snprintf(where, sizeof(where), "%s:%s", s->k.id, r->seq);
		st->rejected_kpl++;
		return nd_reject_at(&st->rej, where, r->data, r->data_len,
		    "malformed KPL aggregated record (base64 data kept)");
	}
	if (k > 0) {
		rc = emit_aggregate(st, s, r, &agg);
		kpl_agg_free(&agg);
		return rc;
	}
	/* Resumed at this record to finish an aggregate: it is not one, so
	 * it was written whole. */
	if (kr_skip(s, r->seq, 1) > 0)
		return 0;
	memset(&it, 0, sizeof(it));
	it.r = r;
	it.pk = r->pk;
	it.pklen = r->pklen;
	it.data = st->buf;
	it.len = (size_t)n;
	return emit(st, s, &it);
}

/* One GetRecords call on a shard, and its records written.  Returns 0, or
 * -1 on a fatal error. */
static int
fetch(struct state *st, struct kr_shard *s, int64_t now)
{
	struct kinesis_records res;
	size_t i;
	int rc = kr_fetch(&st->rd, s, now, &res);

	if (rc <= 0)
		return rc;
	rc = 0;
	for (i = 0; i < res.n && s->state != KR_FINISHED && !st->done; i++) {
		if (record(st, s, &res.rec[i]) < 0)
			rc = -1;
		if (rc < 0)
			break;
		if (st->o->count && st->written >= st->o->count)
			st->done = 1;
	}
	if (rc == 0 && !st->done)
		rc = kr_advance(&st->rd, s, &res, now);
	kinesis_records_free(&res);
	return rc;
}

/* --shards ID,...: 0, -1 for no id, or KP_EXIT_FAILURE. */
static int
parse_shards(struct opts *o, const char *list)
{
	if (cli_split(list, &o->only, &o->nonly) < 0)
		return KP_EXIT_FAILURE;
	return o->nonly > 0 ? 0 : -1;
}

/* The options of checkpoints. */
static int
ckpt_option(struct cli *c, struct opts *o, int id, const char *arg)
{
	static const char *const expired[] = { "fail", "oldest", NULL };

	switch (id) {
	case OPT_CKDIR:
		o->ckdir = arg;
		return *arg == '\0' ? cli_bad(c, "empty path", arg) : 0;
	case OPT_CKINTERVAL:
		return cli_duration(c, arg, 1, 86400000, &o->ck_interval);
	case OPT_CKRECORDS:
		return cli_count(c, arg, 1, UINT64_MAX, &o->ck_records);
	case OPT_JOB:
		o->job = arg;
		return ckpt_job_ok(arg) ? 0 : cli_bad(c, "expected 1 to 64 of "
		    "A-Z a-z 0-9 . _ -", arg);
	case OPT_SELF_COMMIT:
		o->self_commit = 1;
		return 0;
	case OPT_EXPIRED:
		return cli_word(c, arg, expired, &o->oldest);
	}
	return 0;
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
	case OPT_FROM:
		rc = kr_from_parse(&o->from, arg);
		if (rc == -1)
			rc = cli_bad(c, "expected trim-horizon, latest, "
			    "at-timestamp:TIME or after-sequence:SHARD=SEQ,...",
			    arg);
		else if (rc == -2)
			rc = KP_EXIT_FAILURE;
		break;
	case OPT_FOLLOW:
		o->follow = 1;
		break;
	case OPT_UNTIL:
		if (kptime_parse(arg, strlen(arg), &o->until_ms) != 0)
			rc = cli_bad(c, "not an RFC 3339 time", arg);
		o->has_until = 1;
		break;
	case OPT_COUNT:
		rc = cli_count(c, arg, 1, UINT64_MAX, &n);
		o->count = n;
		break;
	case OPT_SHARDS:
		rc = parse_shards(o, arg);
		if (rc < 0)
			rc = cli_bad(c, "no shard id", arg);
		break;
	case OPT_ENVELOPE:
		o->envelope = 1;
		break;
	case OPT_LIMIT:
		rc = cli_count(c, arg, 1, KINESIS_GET_MAX_LIMIT, &n);
		o->limit = (int)n;
		break;
	case OPT_POLL:
		rc = cli_duration(c, arg, 0, 86400000, &o->poll_ms);
		break;
	case OPT_LIST:
		rc = cli_duration(c, arg, 1, 86400000, &o->list_ms);
		break;
	default:
		rc = ckpt_option(c, o, id, arg);
		break;
	}
	if (rc == KP_EXIT_FAILURE)
		msg_err("out of memory");
	return rc;
}

static void
opts_free(struct opts *o)
{
	size_t i;

	kr_from_clear(&o->from);
	for (i = 0; i < o->nonly; i++)
		free(o->only[i]);
	free(o->only);
}

/* ", 1.5s behind the tip": the largest MillisBehindLatest of the shards
 * being read, or "" before any has one. */
static void
behind(const struct state *st, char *out, size_t outsz)
{
	int64_t ms = -1;
	char span[32];
	size_t i;

	for (i = 0; i < st->rd.n; i++)
		if (st->rd.shards[i].owned &&
		    st->rd.shards[i].state == KR_READING &&
		    st->rd.shards[i].behind_ms > ms)
			ms = st->rd.shards[i].behind_ms;
	progress_span(ms, span, sizeof(span));
	snprintf(out, outsz, "%s%s%s", ms < 0 ? "" : ms == 0 ?
	    ", at the tip" : ", ", ms > 0 ? span : "", ms > 0 ?
	    " behind the tip" : "");
}

static void
show_progress(struct state *st, int final)
{
	double secs = progress_elapsed(&st->prog);
	char b[64];

	struct buf f = BUF_INIT;
	int64_t ms = -1;
	size_t i;

	if (!final && !progress_due(&st->prog))
		return;
	behind(st, b, sizeof(b));
	progress_show(&st->prog, final, "%llu records written, %.0f/s%s",
	    st->written, secs > 0 ? (double)st->written / secs : 0.0, b);
	for (i = 0; i < st->rd.n; i++)
		if (st->rd.shards[i].owned && st->rd.shards[i].behind_ms > ms)
			ms = st->rd.shards[i].behind_ms;
	buf_printf(&f, "\"records_out\":%llu,\"rejected\":%llu,"
	    "\"behind_ms\":%lld,\"shards\":%zu,\"barrier\":%llu,"
	    "\"api_calls\":%llu", st->written, st->rej.count, (long long)ms,
	    st->rd.n, (unsigned long long)(st->next_id - 1), st->k->calls);
	progress_stats(&st->prog, final, &f);
	buf_free(&f);
}

/* ---- checkpoints ---- */

/* Makes what kin-read wrote durable, for --self-commit: flushed, and
 * fsynced when standard output is a file. */
static int
sync_output(struct state *st)
{
	struct stat sb;

	if (nd_flush(st->out) != 0)
		return -1;
	if (fstat(STDOUT_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    fsync(STDOUT_FILENO) != 0) {
		msg_err("standard output: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Writes a barrier after the records written so far: its id, the job and
 * the position of every shard of ours (kinpipe(7), CHECKPOINTS).  With
 * --self-commit it then commits those positions.  Returns 0, or an exit
 * status.
 */
static int
barrier(struct state *st, int final)
{
	struct ckpt_commit c;
	char err[1024];
	size_t i;
	int rc = KP_EXIT_FAILURE;

	memset(&c, 0, sizeof(c));
	c.b.id = st->next_id;
	c.b.final = final;
	c.b.job = st->job;
	c.b.stream = (char *)st->o->stream;
	c.committer = "kin-read";
	for (i = 0; i < st->rd.n; i++) {
		if (st->rd.shards[i].owned &&
		    kr_barrier_pos(&st->rd, &st->rd.shards[i], &c.b) != 0) {
			msg_err("out of memory");
			goto out;
		}
	}
	/* The records rejected before the barrier are its checkpoint's. */
	if (nd_reject_sync(&st->rej) != 0)
		goto out;
	ckpt_barrier_line(&c.b, nd_buf(st->out));
	if (nd_end(st->out) != 0 || nd_flush(st->out) != 0) {
		/* Downstream went away (| head): the read ends quietly, as
		 * at a record; nothing is committed. */
		if (nd_writer_status(st->out) == ND_EPIPE) {
			st->done = 1;
			rc = KP_EXIT_OK;
		}
		goto out;
	}
	if (st->o->self_commit && (sync_output(st) != 0 ||
	    ckpt_write_commit(st->ck, &c, err, sizeof(err)) != 0)) {
		msg_err("%s", err);
		goto out;
	}
	msg_debug("barrier %llu%s", (unsigned long long)c.b.id,
	    final ? " (final)" : "");
	st->next_id++;
	st->last_barrier = kptime_mono_ms();
	st->since_barrier = 0;
	rc = 0;
out:
	/* job and stream were borrowed. */
	c.b.job = c.b.stream = NULL;
	c.committer = NULL;
	ckpt_commit_clear(&c);
	return rc;
}

/* A barrier when --checkpoint-interval or --checkpoint-records says so.
 * Returns 0, or an exit status. */
static int
barrier_due(struct state *st)
{
	const struct opts *o = st->o;

	if (st->ck == NULL ||
	    (kptime_mono_ms() - st->last_barrier < o->ck_interval &&
	    (o->ck_records == 0 || st->since_barrier < o->ck_records)))
		return 0;
	return barrier(st, 0);
}

/* The job of this pipeline, recorded in DIR/job the first time: another
 * job's directory is refused.  Returns 0, or an exit status. */
static int
check_job(struct state *st)
{
	char *data = NULL;
	size_t len;
	int rc;

	if (st->o->job != NULL)
		snprintf(st->job, sizeof(st->job), "%s", st->o->job);
	else if (ckpt_job_from_stream(st->o->stream, st->job,
	    sizeof(st->job)) != 0)
		return cli_config_error("no job name in the stream name %s: "
		    "give --job", st->o->stream);
	rc = ckpt_read_file(st->ck, "job", &data, &len);
	if (rc == 0) {
		while (len > 0 && data[len - 1] == '\n')
			data[--len] = '\0';
		rc = strcmp(data, st->job) == 0 ? 0 : cli_config_error(
		    "%s belongs to job %s, not %s: give --job %s, or another "
		    "--checkpoint-dir", ckpt_path(st->ck), data, st->job, data);
	} else if (rc > 0) {
		char line[CKPT_JOB_MAX + 2];
		int n = snprintf(line, sizeof(line), "%s\n", st->job);

		rc = ckpt_write_file(st->ck, "job", line, (size_t)n);
		if (rc != 0)
			msg_err("%s/job: %s", ckpt_path(st->ck), strerror(errno));
	} else {
		msg_err("%s/job: %s", ckpt_path(st->ck), strerror(errno));
		rc = KP_EXIT_FAILURE;
	}
	free(data);
	return rc;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The options that shape what kin-read writes, DIR/kin-read.json: written
 * while there is no commit, and after the first one a run with others is
 * refused (its output would not continue the committed one).  Returns 0,
 * or an exit status.
 */
static int
check_shape(struct state *st, int committed)
{
	const struct opts *o = st->o;
	struct buf b = BUF_INIT;
	char **only = NULL, *data = NULL;
	size_t i, len;
	int rc;

	if (o->nonly > 0 && (only = malloc(o->nonly * sizeof(*only))) == NULL)
		return KP_EXIT_FAILURE;
	for (i = 0; i < o->nonly; i++)
		only[i] = o->only[i];
	if (o->nonly > 0)
		qsort(only, o->nonly, sizeof(*only), str_cmp);
	buf_printf(&b, "{\"envelope\":%s,\"shards\":",
	    o->envelope ? "true" : "false");
	for (i = 0; i < o->nonly; i++) {
		buf_char(&b, i == 0 ? '[' : ',');
		buf_jstrz(&b, only[i]);
	}
	buf_str(&b, o->nonly > 0 ? "]}\n" : "null}\n");
	free(only);
	if (b.failed) {
		buf_free(&b);
		return KP_EXIT_FAILURE;
	}
	rc = committed ? ckpt_read_file(st->ck, "kin-read.json", &data,
	    &len) : 1;
	if (rc > 0) {
		rc = ckpt_write_file(st->ck, "kin-read.json", b.p, b.len);
		if (rc != 0)
			msg_err("%s/kin-read.json: %s", ckpt_path(st->ck),
			    strerror(errno));
	} else if (rc < 0) {
		msg_err("%s/kin-read.json: %s", ckpt_path(st->ck),
		    strerror(errno));
	} else if (len != b.len || memcmp(data, b.p, len) != 0) {
		rc = cli_config_error("%s was committed with other --envelope "
		    "or --shards options: %.*s; this run has %.*s",
		    ckpt_path(st->ck), (int)strcspn(data, "\n"), data,
		    (int)b.len - 1, b.p);
	}
	free(data);
	buf_free(&b);
	return rc < 0 ? KP_EXIT_FAILURE : rc;
}

/*
 * Opens the checkpoint directory and reads its last commit: the positions
 * to resume after, and the next barrier's id.  Returns CLI_RUN, or an exit
 * status.
 */
static int
ckpt_start(struct state *st)
{
	struct ckpt_commit c;
	enum ckpt_err kind;
	char err[1024];
	int rc, shape;

	st->rd.started_ms = kptime_now_ms();
	st->last_barrier = kptime_mono_ms();
	st->next_id = 1;
	if (st->o->ckdir == NULL)
		return CLI_RUN;
	rc = ckpt_open(st->o->ckdir, "kin-read", &st->ck, &kind, err,
	    sizeof(err));
	if (rc == 0 && (rc = check_job(st)) != 0)
		return rc;
	if (rc == 0)
		rc = ckpt_read_commit(st->ck, &c, &kind, err, sizeof(err));
	if (rc < 0) {
		msg_err("%s", err);
		return ckpt_exit_status(kind);
	}
	if ((shape = check_shape(st, rc > 0)) != 0) {
		if (rc > 0)
			ckpt_commit_clear(&c);
		return shape;
	}
	if (rc == 0)
		return CLI_RUN;
	if (st->o->self_commit && strcmp(c.committer, "kin-read") != 0) {
		/* Its commit would replace the sink's, and what the sink
		 * needs to recover with it. */
		rc = cli_config_error("%s: the last commit is %s's: a pipeline "
		    "with a committing sink takes no --self-commit",
		    ckpt_path(st->ck), c.committer);
	} else if (strcmp(c.b.stream, st->o->stream) != 0 ||
	    strcmp(c.b.job, st->job) != 0) {
		rc = cli_config_error("%s: the last commit is of stream %s, job "
		    "%s; this read is of stream %s, job %s", ckpt_path(st->ck),
		    c.b.stream, c.b.job, st->o->stream, st->job);
	} else {
		st->resume = c.b;
		memset(&c.b, 0, sizeof(c.b));
		st->rd.resume = &st->resume;
		st->next_id = st->resume.id + 1;
		msg_info("resuming after checkpoint %llu",
		    (unsigned long long)st->resume.id);
		rc = CLI_RUN;
	}
	ckpt_commit_clear(&c);
	return rc;
}

/* What one pass over the shards found. */
struct pass {
	int active;            /* shards being read */
	int all_tip;           /* each of them caught up */
	int64_t next;          /* monotonic ms of the next call due */
};

/*
 * One GetRecords call on each shard being read whose turn has come.
 * Returns -1 to go on, or the exit status the read stops with.
 */
static int
read_shards(struct state *st, struct pass *p)
{
	int64_t now = kptime_mono_ms();
	size_t i;

	for (i = 0; i < st->rd.n && !sig_stop && !st->done; i++) {
		struct kr_shard *s = &st->rd.shards[i];
		int w;

		if (!s->owned || s->state != KR_READING)
			continue;
		p->active++;
		if (s->next_at <= now) {
			if (fetch(st, s, now) != 0) {
				/* Downstream went away (| head): done. */
				if (nd_writer_status(st->out) == ND_EPIPE)
					return KP_EXIT_OK;
				if (st->rd.fail != 0)
					return st->rd.fail;
				return st->rej.strict && st->rej.count > 0 ?
				    KP_EXIT_REJECTED : KP_EXIT_FAILURE;
			}
			w = nd_writer_status(st->out);
			if (w != 0)
				return w == ND_ERROR ? KP_EXIT_FAILURE :
				    KP_EXIT_OK;
			now = kptime_mono_ms();
		}
		if (s->state == KR_READING) {
			if (!s->caught_up)
				p->all_tip = 0;
			if (s->next_at < p->next)
				p->next = s->next_at;
		}
	}
	return -1;
}

/* The read, until the tip (or with --follow a signal or a limit).
 * Returns the exit status so far. */
static int
run(struct state *st)
{
	const struct opts *o = st->o;
	int64_t last_list = kptime_mono_ms(), now;
	size_t i, before;
	int rc;

	while (!sig_stop && !st->done) {
		struct pass p = { 0, 1, kptime_mono_ms() + 1000 };

		kr_promote(&st->rd);
		if ((rc = read_shards(st, &p)) >= 0)
			return rc;
		if ((rc = barrier_due(st)) != 0)
			return rc;
		show_progress(st, 0);
		if (st->rej.strict && st->rej.count > 0)
			break;
		kr_promote(&st->rd);
		/* Children that just became readable, or wait for a parent
		 * still being read, are not at the tip. */
		for (i = 0; i < st->rd.n; i++)
			if (st->rd.shards[i].owned &&
			    st->rd.shards[i].state != KR_FINISHED &&
			    !st->rd.shards[i].caught_up)
				p.all_tip = 0;
		if (o->follow && o->has_until && p.active == 0)
			break;	/* every shard passed --until */
		if (!o->follow && (p.active == 0 || p.all_tip)) {
			/* Bounded read: look once more for shards created by a
			 * reshard during the read before stopping. */
			before = st->rd.n;
			rc = kr_list(&st->rd);
			if (rc != 0)	/* a signal: stopped as after one */
				return rc == KR_INTERRUPTED ? KP_EXIT_OK :
				    KP_EXIT_FAILURE;
			kr_promote(&st->rd);
			if (st->rd.n == before)
				break;
			continue;
		}
		if (o->follow && kptime_mono_ms() - last_list >= o->list_ms) {
			rc = kr_list(&st->rd);
			if (rc != 0)	/* a signal: stopped as after one */
				return rc == KR_INTERRUPTED ? KP_EXIT_OK :
				    KP_EXIT_FAILURE;
			last_list = kptime_mono_ms();
			continue;
		}
		now = kptime_mono_ms();
		if (p.next > now) {
			nd_flush(st->out);
			retry_sleep(p.next - now, &sig_stop);
		}
	}
	return KP_EXIT_OK;
}

/* Returns CLI_RUN, CLI_DONE or an exit status. */
static int
parse_opts(int argc, char **argv, struct cli *c, struct opts *o)
{
	int rc;

	*c = (struct cli){ .usage = USAGE, .help = help_text,
	    .groups = CLI_REJECT | CLI_PROGRESS | CLI_AWS, .options = options,
	    .handle = option, .ctx = o };
	o->limit = KINESIS_GET_MAX_LIMIT;
	o->poll_ms = 1000;
	o->list_ms = 10000;
	o->ck_interval = 10000;
	rc = cli_parse(c, argc, argv);
	if (rc == CLI_RUN && (o->stream == NULL || *o->stream == '\0'))
		rc = cli_usage(c, "--stream is required");
	if (rc == CLI_RUN && o->ckdir == NULL && (o->job != NULL ||
	    o->self_commit || o->ck_records > 0 || o->oldest))
		rc = cli_usage(c, "--job, --self-commit, --checkpoint-records "
		    "and --on-expired need --checkpoint-dir");
	return rc;
}

/* The first ListShards, and the check of --shards against it. */
static int
first_list(struct state *st)
{
	size_t i;

	if (kr_list(&st->rd) != 0)
		return KP_EXIT_FAILURE;
	for (i = 0; i < st->o->nonly; i++) {
		if (kr_find(&st->rd, st->o->only[i]) == NULL) {
			msg_err("--shards: no shard %s in stream %s",
			    st->o->only[i], st->o->stream);
			return KP_EXIT_USAGE;
		}
	}
	return CLI_RUN;
}

/* Everything a run needs, up to the first list of shards.  Returns
 * CLI_RUN or an exit status (the message printed). */
static int
start(struct state *st, struct cli *c)
{
	char err[1024];
	int usage_error = 0, rc;

	c->aws.stop = &sig_stop;
	if (sig_setup() != 0 || jf_parser_init(&st->jp) != 0) {
		msg_err("cannot initialise");
		return KP_EXIT_FAILURE;
	}
	if (nd_reject_init(&st->rej, c->dead_letter, c->strict) != 0)
		return KP_EXIT_USAGE;
	st->k = kinesis_new(st->o->stream, &c->aws, err, sizeof(err),
	    &usage_error);
	if (st->k == NULL) {
		msg_err("%s", err);
		return usage_error ? KP_EXIT_USAGE : KP_EXIT_FAILURE;
	}
	st->rd.k = st->k;
	st->rd.only = st->o->only;
	st->rd.nonly = st->o->nonly;
	st->rd.from = &st->o->from;
	st->rd.oldest = st->o->oldest;
	st->rd.limit = st->o->limit;
	st->rd.poll_ms = st->o->poll_ms;
	st->out = nd_writer_new(1);
	if (st->out == NULL) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	progress_init(&st->prog, c->progress, c->stats);
	rc = ckpt_start(st);
	return rc != CLI_RUN ? rc : first_list(st);
}

/* Reports, closes the output and frees; returns the final status. */
static int
finish(struct state *st, int status)
{
	if (st->out != NULL) {
		show_progress(st, 1);
		msg_info("%llu records written, %llu rejected, %llu API calls, "
		    "%zu shards", st->written, st->rej.count, st->k->calls,
		    st->rd.n);
		if (st->dropped_range > 0)
			msg_info("%llu aggregated sub-records outside their "
			    "shard's hash range dropped (resharding)",
			    st->dropped_range);
		if (nd_writer_close(st->out) == ND_ERROR)
			status = KP_EXIT_FAILURE;
		if (nd_reject_close(&st->rej) != 0 && status == KP_EXIT_OK)
			status = KP_EXIT_FAILURE;
		if (status == KP_EXIT_OK && st->rej.count > 0)
			status = KP_EXIT_REJECTED;
	} else {
		/* Stopped before the read: the dead-letter file is empty. */
		nd_reject_close(&st->rej);
	}
	kr_free(&st->rd);
	free(st->buf);
	nd_writer_free(st->out);
	jf_parser_free(&st->jp);
	kinesis_free(st->k);
	ckpt_barrier_clear(&st->resume);
	ckpt_close(st->ck);
	return status;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct cli cli;
	struct state st = { .o = &o };
	int rc;

	msg_init(argv[0]);
	rc = parse_opts(argc, argv, &cli, &o);
	if (rc == CLI_RUN)
		rc = start(&st, &cli);
	if (rc == CLI_RUN) {
		rc = run(&st);
		/* The end of a bounded read, a limit or a stop: the last
		 * barrier, after everything written (not once output failed). */
		if (rc == KP_EXIT_OK && st.ck != NULL &&
		    nd_writer_status(st.out) == 0)
			rc = barrier(&st, 1);
	}
	/* Stops and reports wherever the read ended. */
	rc = finish(&st, rc);
	opts_free(&o);
	return rc == CLI_DONE ? KP_EXIT_OK : rc;
}
