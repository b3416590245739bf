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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "cli.h"
#include "jfield.h"
#include "kinesis.h"
#include "kpl.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "progress.h"
#include "sig.h"

#define USAGE "kin-read [-hqv] --stream NAME|ARN [--ca-bundle FILE] " \
	"[--connect-timeout DURATION] [--count N] [--dead-letter FILE] " \
	"[--endpoint-url URL] [--envelope] [--follow] [--from POSITION] " \
	"[--limit N] [--list-interval DURATION] [--max-attempts N] " \
	"[--no-verify-ssl] [--poll-interval DURATION] [--profile NAME] " \
	"[--progress | --no-progress] [--region REGION] " \
	"[--retry-budget DURATION] [--shards ID,...] [--strict] " \
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
    "Records whose data is not a JSON object are rejected lines (without\n"
    "--envelope): --dead-letter keeps their data.\n";

enum {
	OPT_STREAM = CLI_ID, OPT_FROM, OPT_FOLLOW, OPT_UNTIL, OPT_COUNT,
	OPT_SHARDS, OPT_ENVELOPE, OPT_LIMIT, OPT_POLL, OPT_LIST,
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
	{ NULL, 0, 0 },
};

enum from_kind { FROM_TRIM, FROM_LATEST, FROM_AT, FROM_AFTER };

enum shard_state {
	SH_WAITING,   /* parents not finished yet */
	SH_READING,
	SH_FINISHED,  /* closed and drained, or stopped by --until */
};

struct shard {
	struct kinesis_shard k;  /* id, parents, hash key range, closed */
	enum shard_state state;
	int owned;
	int initial;           /* listed when the read started */
	char *iter;
	char *last_seq;        /* position: last sequence number written */
	unsigned long long last_sub; /* sub-sequence within an aggregate */
	int caught_up;         /* the last fetch reached the tip */
	int64_t behind_ms;     /* its last MillisBehindLatest, or -1 */
	int64_t next_at;       /* monotonic ms of the next allowed call */
	int64_t window_start;  /* rate limit: 5 calls per second */
	int calls;
	int backoff;           /* consecutive throttles */
};

/* A shard named by --from after-sequence:, and the sequence number it is
 * read after. */
struct after {
	char *shard;
	char *seq;
};

struct opts {
	const char *stream;
	enum from_kind from;
	int64_t from_ms;
	struct after *after;
	size_t nafter;
	int follow;
	int64_t until_ms;
	int has_until;
	unsigned long long count;
	char **only;
	size_t nonly;
	int envelope;
	int limit;
	int64_t poll_ms, list_ms;
};

struct state {
	struct opts *o;
	struct kinesis *k;
	struct nd_writer *out;
	struct nd_reject rej;
	struct jf_parser jp;
	struct progress prog;
	struct shard *shards;
	size_t nshards;
	unsigned long long written, rejected_kpl, dropped_range;
	int done;
	int listed;            /* the first ListShards is done */
	unsigned char *buf;    /* decoded record data */
	size_t bufcap;
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

static struct shard *
find_shard(struct state *st, const char *id)
{
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < st->nshards; i++)
		if (strcmp(st->shards[i].k.id, id) == 0)
			return &st->shards[i];
	return NULL;
}

/* A shard is ours if listed in --shards, or a child of one of ours. */
static int
is_owned(struct state *st, struct shard *s)
{
	struct shard *p;
	size_t i;

	if (st->o->nonly == 0)
		return 1;
	for (i = 0; i < st->o->nonly; i++)
		if (strcmp(st->o->only[i], s->k.id) == 0)
			return 1;
	p = find_shard(st, s->k.parent);
	return p != NULL && p->owned;
}

/*
 * ListShards, every page; adds the shards not known yet.  Returns 0 or -1.
 * Shards come back in creation order, so parents precede their children.
 */
static int
list_shards(struct state *st)
{
	struct kinesis_shard_list l;
	char err[1024];
	size_t i;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	if (kinesis_list_shards(st->k, &l, err, sizeof(err)) != 0) {
		msg_err("ListShards: %s", err);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		struct shard *s, *ns;

		if (find_shard(st, l.shard[i].id) != NULL)
			continue;
		ns = realloc(st->shards, (st->nshards + 1) * sizeof(*ns));
		if (ns == NULL) {
			msg_err("out of memory");
			goto out;
		}
		st->shards = ns;
		s = &st->shards[st->nshards++];
		memset(s, 0, sizeof(*s));
		/* Taken from the list, strings and all. */
		s->k = l.shard[i];
		memset(&l.shard[i], 0, sizeof(l.shard[i]));
		s->initial = !st->listed;
		s->state = SH_WAITING;
		s->behind_ms = -1;
		s->owned = is_owned(st, s);
		msg_debug("shard %s%s%s", s->k.id, s->k.parent ? " child of " :
		    "", s->k.parent ? s->k.parent : "");
	}
	st->listed = 1;
	rc = 0;
out:
	kinesis_shard_list_free(&l);
	return rc;
}

static int
parent_done(struct state *st, const char *id)
{
	struct shard *p = find_shard(st, id);

	/* A parent past the retention period is no longer listed: done.  A
	 * parent outside --shards is another reader's: not waited for. */
	return id == NULL || p == NULL || !p->owned || p->state == SH_FINISHED;
}

/* Promotes waiting shards whose parents are finished. */
static void
promote(struct state *st)
{
	size_t i;

	for (i = 0; i < st->nshards; i++) {
		struct shard *s = &st->shards[i];

		if (s->owned && s->state == SH_WAITING &&
		    parent_done(st, s->k.parent) &&
		    parent_done(st, s->k.adjacent))
			s->state = SH_READING;
	}
}

/* Gets an iterator for a shard that has none (start, or expired). */
static int
get_iterator(struct state *st, struct shard *s)
{
	const struct opts *o = st->o;
	struct kinesis_position pos;
	char err[1024];
	size_t i;

	memset(&pos, 0, sizeof(pos));
	pos.type = KINESIS_TRIM_HORIZON;
	pos.seq = s->last_seq;
	for (i = 0; pos.seq == NULL && i < o->nafter; i++)
		if (strcmp(o->after[i].shard, s->k.id) == 0)
			pos.seq = o->after[i].seq;
	if (pos.seq != NULL) {
		pos.type = KINESIS_AFTER_SEQUENCE_NUMBER;
	} else if (o->from == FROM_LATEST && s->initial) {
		/* Shards created after the start hold only newer records: they
		 * are read from their beginning. */
		pos.type = KINESIS_LATEST;
	} else if (o->from == FROM_AT) {
		pos.type = KINESIS_AT_TIMESTAMP;
		pos.timestamp_ms = o->from_ms;
	}
	free(s->iter);
	s->iter = NULL;
	if (kinesis_get_shard_iterator(st->k, s->k.id, &pos, &s->iter, err,
	    sizeof(err)) != 0) {
		msg_err("GetShardIterator %s: %s", s->k.id, err);
		return -1;
	}
	/* No iterator: a closed shard with nothing after the position. */
	if (s->iter == NULL)
		s->state = SH_FINISHED;
	return 0;
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
write_data(struct state *st, struct shard *s, const struct item *it,
    struct json_object *obj, const char *p, size_t n, const char *why)
{
	const char *c;
	char where[512];

	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		if (it->aggregated)
			snprintf(where, sizeof(where), "%s:%s/%llu", s->k.id,
			    it->r->seq, it->sub);
		else
			snprintf(where, sizeof(where), "%s:%s", s->k.id,
			    it->r->seq);
		return nd_reject_at(&st->rej, where, p, n, "%s",
		    obj == NULL ? why : "not a JSON object");
	}
	if (memchr(p, '\n', n) == NULL) {
		nd_put(st->out, p, n);
	} else {
		/* Pretty-printed data: one compact line. */
		if ((c = compact(obj)) == NULL) {
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
write_envelope(struct state *st, struct shard *s, const struct item *it,
    struct json_object *obj, const char *p, size_t n)
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
	if (obj != NULL && (json_object_is_type(obj, json_type_object) ||
	    json_object_is_type(obj, json_type_array))) {
		/* Pretty-printed data: compacted to stay on one line. */
		if (memchr(p, '\n', n) != NULL) {
			if ((c = compact(obj)) == NULL) {
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
emit(struct state *st, struct shard *s, const struct item *it)
{
	struct json_object *obj;
	const char *why = NULL, *p = (const char *)it->data;
	size_t n = it->len;
	int rc;

	/* Trailing white space (a producer's newline) is not data. */
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' ||
	    p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	obj = jf_parse(&st->jp, p, n, &why);
	if (st->o->envelope)
		rc = write_envelope(st, s, it, obj, p, n);
	else
		rc = write_data(st, s, it, obj, p, n, why);
	/* The position moves on whether the record was written or rejected:
	 * a rejected record is accounted for (dead letter), not to be reread. */
	if (s->last_seq == NULL || strcmp(s->last_seq, it->r->seq) != 0) {
		free(s->last_seq);
		s->last_seq = strdup(it->r->seq);
		if (s->last_seq == NULL) {
			msg_err("out of memory");
			rc = -1;
		}
	}
	s->last_sub = it->sub;
	json_object_put(obj);
	if (nd_writer_status(st->out) != 0)
		return -1;
	return rc;
}

static int
in_range(const struct shard *s, const unsigned char h[16])
{
	return memcmp(h, s->k.lo, 16) >= 0 && memcmp(h, s->k.hi, 16) <= 0;
}

/* The user records of a KPL aggregate.  Returns 0 or -1 to stop. */
static int
emit_aggregate(struct state *st, struct shard *s,
    const struct kinesis_record *r, const struct kpl_agg *agg)
{
	struct item it;
	size_t i;
	int rc;

	for (i = 0; i < agg->n; i++) {
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
			break;
	}
	return 0;
}

/*
 * Handles one record of a GetRecords response.  Returns 0, 1 when it
 * finished the shard (--until), or -1 to stop.
 */
static int
record(struct state *st, struct shard *s, const struct kinesis_record *r)
{
	struct kpl_agg agg;
	struct item it;
	long n;
	int k, rc;

	if (st->o->has_until && r->has_arrival &&
	    r->arrival_ms >= st->o->until_ms) {
		s->state = SH_FINISHED;
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
	memset(&it, 0, sizeof(it));
	it.r = r;
	it.pk = r->pk;
	it.pklen = r->pklen;
	it.data = st->buf;
	it.len = (size_t)n;
	return emit(st, s, &it);
}

/* Writes the records of a GetRecords response and moves the shard on.
 * Returns 0, or -1 on a fatal error. */
static int
take_records(struct state *st, struct shard *s,
    const struct kinesis_records *res, int64_t now)
{
	size_t i;

	for (i = 0; i < res->n && s->state != SH_FINISHED; i++) {
		if (record(st, s, &res->rec[i]) < 0)
			return -1;
		if (st->o->count && st->written >= st->o->count) {
			st->done = 1;
			return 0;
		}
	}
	free(s->iter);
	s->iter = NULL;
	if (res->next_iterator == NULL) {
		s->state = SH_FINISHED;
	} else if ((s->iter = strdup(res->next_iterator)) == NULL) {
		msg_err("out of memory");
		return -1;
	}
	s->behind_ms = res->millis_behind;
	/* A closed shard is done only when it has no next iterator. */
	s->caught_up = !s->k.closed && res->n == 0 && res->millis_behind <= 0;
	/* An empty fetch waits the poll interval; never more than five
	 * calls a second on a shard. */
	s->next_at = res->n == 0 ? now + st->o->poll_ms : now;
	if (s->calls >= 5 && s->next_at < s->window_start + 1000)
		s->next_at = s->window_start + 1000;
	return 0;
}

/* One GetRecords call on a shard.  Returns 0, or -1 on a fatal error. */
static int
fetch(struct state *st, struct shard *s, int64_t now)
{
	struct kinesis_records res;
	char err[1024];
	int rc;

	if (s->iter == NULL && get_iterator(st, s) != 0)
		return -1;
	if (s->state == SH_FINISHED)
		return 0;
	/* Rate limit: 5 GetRecords per second per shard. */
	if (now - s->window_start >= 1000) {
		s->window_start = now;
		s->calls = 0;
	}
	s->calls++;
	rc = kinesis_get_records(st->k, s->iter, st->o->limit, &res, err,
	    sizeof(err));
	switch (rc) {
	case 0:
		s->backoff = 0;
		rc = take_records(st, s, &res, now);
		kinesis_records_free(&res);
		return rc;
	case KINESIS_EXPIRED_ITERATOR:
		/* Iterators live five minutes: start again after the last
		 * record written. */
		msg_info("%s: iterator expired; getting a new one", s->k.id);
		free(s->iter);
		s->iter = NULL;
		return 0;
	case KINESIS_THROTTLED:
		s->backoff++;
		s->next_at = now + (s->backoff < 6 ? 200LL << s->backoff :
		    10000);
		return 0;
	default:
		msg_err("GetRecords %s: %s", s->k.id, err);
		return -1;
	}
}

/* The next non-empty item of a comma-separated list at *p, and its length
 * in *n; NULL at the end. */
static const char *
next_item(const char **p, size_t *n)
{
	const char *s = *p + strspn(*p, ",");

	if (*s == '\0')
		return NULL;
	*n = strcspn(s, ",");
	*p = s + *n;
	return s;
}

/* after-sequence:SHARD=SEQ[,SHARD=SEQ...].  0, -1 for a bad list, or
 * KP_EXIT_FAILURE when memory is short. */
static int
parse_after(struct opts *o, const char *list)
{
	const char *item, *eq;
	size_t n;

	while ((item = next_item(&list, &n)) != NULL) {
		struct after *na;

		eq = memchr(item, '=', n);
		if (eq == NULL || eq == item || eq == item + n - 1)
			return -1;
		na = realloc(o->after, (o->nafter + 1) * sizeof(*na));
		if (na == NULL)
			return KP_EXIT_FAILURE;
		o->after = na;
		na[o->nafter].shard = strndup(item, (size_t)(eq - item));
		na[o->nafter].seq = strndup(eq + 1, n - (size_t)(eq - item) - 1);
		o->nafter++;
		if (na[o->nafter - 1].shard == NULL ||
		    na[o->nafter - 1].seq == NULL)
			return KP_EXIT_FAILURE;
	}
	return o->nafter > 0 ? 0 : -1;
}

/* --from.  0, -1 for a bad position, or KP_EXIT_FAILURE. */
static int
parse_from(struct opts *o, const char *arg)
{
	if (strcmp(arg, "trim-horizon") == 0) {
		o->from = FROM_TRIM;
	} else if (strcmp(arg, "latest") == 0) {
		o->from = FROM_LATEST;
	} else if (strncmp(arg, "at-timestamp:", 13) == 0) {
		o->from = FROM_AT;
		return kptime_parse(arg + 13, strlen(arg + 13), &o->from_ms);
	} else if (strncmp(arg, "after-sequence:", 15) == 0) {
		o->from = FROM_AFTER;
		return parse_after(o, arg + 15);
	} else {
		return -1;
	}
	return 0;
}

/* --shards ID,...: 0, -1 for no id, or KP_EXIT_FAILURE. */
static int
parse_shards(struct opts *o, const char *list)
{
	const char *item;
	size_t n;

	while ((item = next_item(&list, &n)) != NULL) {
		char **no = realloc(o->only, (o->nonly + 1) * sizeof(*no));

		if (no == NULL)
			return KP_EXIT_FAILURE;
		o->only = no;
		if ((no[o->nonly] = strndup(item, n)) == NULL)
			return KP_EXIT_FAILURE;
		o->nonly++;
	}
	return o->nonly > 0 ? 0 : -1;
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
		rc = parse_from(o, arg);
		if (rc < 0)
			rc = cli_bad(c, "expected trim-horizon, latest, "
			    "at-timestamp:TIME or after-sequence:SHARD=SEQ,...",
			    arg);
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
	}
	if (rc == KP_EXIT_FAILURE)
		msg_err("out of memory");
	return rc;
}

static void
opts_free(struct opts *o)
{
	size_t i;

	for (i = 0; i < o->nafter; i++) {
		free(o->after[i].shard);
		free(o->after[i].seq);
	}
	free(o->after);
	for (i = 0; i < o->nonly; i++)
		free(o->only[i]);
	free(o->only);
}

/* "1.5s behind the tip": the largest MillisBehindLatest of the shards
 * being read, or "" before any has one. */
static void
behind(const struct state *st, char *out, size_t outsz)
{
	int64_t ms = -1;
	size_t i;

	for (i = 0; i < st->nshards; i++)
		if (st->shards[i].owned && st->shards[i].state == SH_READING &&
		    st->shards[i].behind_ms > ms)
			ms = st->shards[i].behind_ms;
	if (ms < 0)
		snprintf(out, outsz, "%s", "");
	else if (ms == 0)
		snprintf(out, outsz, ", at the tip");
	else if (ms < 60000)
		snprintf(out, outsz, ", %.1fs behind the tip",
		    (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, outsz, ", %lldm%02llds behind the tip",
		    (long long)(ms / 60000), (long long)(ms / 1000 % 60));
	else
		snprintf(out, outsz, ", %lldh%02lldm behind the tip",
		    (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
}

static void
show_progress(struct state *st, int final)
{
	double secs = progress_elapsed(&st->prog);
	char b[64];

	if (!final && !progress_due(&st->prog))
		return;
	behind(st, b, sizeof(b));
	progress_show(&st->prog, final, "%llu records written, %.0f/s%s",
	    st->written, secs > 0 ? (double)st->written / secs : 0.0, b);
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

	for (i = 0; i < st->nshards && !sig_stop && !st->done; i++) {
		struct shard *s = &st->shards[i];
		int w;

		if (!s->owned || s->state != SH_READING)
			continue;
		p->active++;
		if (s->next_at <= now) {
			if (fetch(st, s, now) != 0) {
				/* Downstream went away (| head): done. */
				if (nd_writer_status(st->out) == ND_EPIPE)
					return KP_EXIT_OK;
				return st->rej.strict && st->rej.count > 0 ?
				    KP_EXIT_REJECTED : KP_EXIT_FAILURE;
			}
			w = nd_writer_status(st->out);
			if (w != 0)
				return w == ND_ERROR ? KP_EXIT_FAILURE :
				    KP_EXIT_OK;
			now = kptime_mono_ms();
		}
		if (s->state == SH_READING) {
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

		promote(st);
		if ((rc = read_shards(st, &p)) >= 0)
			return rc;
		show_progress(st, 0);
		if (st->rej.strict && st->rej.count > 0)
			break;
		promote(st);
		/* Children that just became readable, or wait for a parent
		 * still being read, are not at the tip. */
		for (i = 0; i < st->nshards; i++)
			if (st->shards[i].owned &&
			    st->shards[i].state != SH_FINISHED &&
			    !st->shards[i].caught_up)
				p.all_tip = 0;
		if (o->follow && o->has_until && p.active == 0)
			break;	/* every shard passed --until */
		if (!o->follow && (p.active == 0 || p.all_tip)) {
			/* Bounded read: look once more for shards created by a
			 * reshard during the read before stopping. */
			before = st->nshards;
			if (list_shards(st) != 0)
				return KP_EXIT_FAILURE;
			promote(st);
			if (st->nshards == before)
				break;
			continue;
		}
		if (o->follow && kptime_mono_ms() - last_list >= o->list_ms) {
			if (list_shards(st) != 0)
				return KP_EXIT_FAILURE;
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
	rc = cli_parse(c, argc, argv);
	if (rc == CLI_RUN && (o->stream == NULL || *o->stream == '\0'))
		rc = cli_usage(c, "--stream is required");
	return rc;
}

/* The first ListShards, and the check of --shards against it. */
static int
first_list(struct state *st)
{
	size_t i;

	if (list_shards(st) != 0)
		return KP_EXIT_FAILURE;
	for (i = 0; i < st->o->nonly; i++) {
		if (find_shard(st, st->o->only[i]) == NULL) {
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
	int usage_error = 0;

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
	st->out = nd_writer_new(1);
	if (st->out == NULL) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	progress_init(&st->prog, c->progress);
	return first_list(st);
}

/* Reports, closes the output and frees; returns the final status. */
static int
finish(struct state *st, int status)
{
	size_t i;

	if (st->out != NULL) {
		show_progress(st, 1);
		msg_info("%llu records written, %llu rejected, %llu API calls, "
		    "%zu shards", st->written, st->rej.count, st->k->calls,
		    st->nshards);
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
	for (i = 0; i < st->nshards; i++) {
		kinesis_shard_clear(&st->shards[i].k);
		free(st->shards[i].iter);
		free(st->shards[i].last_seq);
	}
	free(st->shards);
	free(st->buf);
	nd_writer_free(st->out);
	jf_parser_free(&st->jp);
	kinesis_free(st->k);
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
	/* Stops and reports wherever the read ended. */
	rc = finish(&st, rc == CLI_RUN ? run(&st) : rc);
	opts_free(&o);
	return rc == CLI_DONE ? KP_EXIT_OK : rc;
}
