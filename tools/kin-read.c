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
#include <unistd.h>

#include "aws.h"
#include "b64.h"
#include "buf.h"
#include "cli.h"
#include "jfield.h"
#include "kpl.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
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
	char *id;
	char *parent, *adjacent;
	unsigned char lo[16], hi[16];  /* hash key range, big-endian */
	enum shard_state state;
	int owned;
	int closed;            /* has an ending sequence number */
	int initial;           /* listed when the read started */
	char *iter;
	char *last_seq;        /* position: last sequence number written */
	unsigned long long last_sub; /* sub-sequence within an aggregate */
	int caught_up;         /* the last fetch reached the tip */
	int64_t next_at;       /* monotonic ms of the next allowed call */
	int64_t window_start;  /* rate limit: 5 calls per second */
	int calls;
	int backoff;           /* consecutive throttles */
};

struct opts {
	const char *stream;
	enum from_kind from;
	int64_t from_ms;
	char **after_shard, **after_seq;
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
	const char *dead;
	int strict;
	struct aws_opts aws;
};

struct state {
	struct opts *o;
	struct aws_client *aws;
	struct nd_writer *out;
	struct nd_reject rej;
	struct jf_parser jp;
	const char *stream_member;
	struct shard *shards;
	size_t nshards;
	unsigned long long written, rejected_kpl, dropped_range, calls;
	int done;
	int listed;            /* the first ListShards is done */
	unsigned char *buf;    /* decoded record data */
	size_t bufcap;
};

static struct shard *
find_shard(struct state *st, const char *id)
{
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < st->nshards; i++)
		if (strcmp(st->shards[i].id, id) == 0)
			return &st->shards[i];
	return NULL;
}

static const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
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
		if (strcmp(st->o->only[i], s->id) == 0)
			return 1;
	p = find_shard(st, s->parent);
	return p != NULL && p->owned;
}

/*
 * ListShards, every page; adds the shards not known yet.  Returns 0 or -1.
 * Shards come back in creation order, so parents precede their children.
 */
static int
list_shards(struct state *st)
{
	struct json_object *req = NULL, *resp = NULL, *arr;
	char *token = NULL;
	char err[1024];
	int rc = -1;
	size_t i;

	do {
		req = json_object_new_object();
		if (req == NULL)
			goto out;
		if (token != NULL) {
			json_object_object_add(req, "NextToken", json_object_new_string(token));
		} else {
			json_object_object_add(req, st->stream_member,
			    json_object_new_string(st->o->stream));
		}
		if (aws_json(st->aws, "Kinesis_20131202.ListShards", req, &resp, err,
		    sizeof(err)) != 0) {
			msg_err("ListShards: %s", err);
			goto out;
		}
		st->calls++;
		if (json_object_object_get_ex(resp, "Shards", &arr) &&
		    json_object_is_type(arr, json_type_array)) {
			for (i = 0; i < json_object_array_length(arr); i++) {
				struct json_object *e = json_object_array_get_idx(arr, i), *r;
				const char *id = jstr(e, "ShardId");
				struct shard *s, *ns;

				if (id == NULL || find_shard(st, id) != NULL)
					continue;
				ns = realloc(st->shards, (st->nshards + 1) * sizeof(*ns));
				if (ns == NULL)
					goto out;
				st->shards = ns;
				s = &st->shards[st->nshards];
				memset(s, 0, sizeof(*s));
				s->id = strdup(id);
				s->parent = dup_or_null(jstr(e, "ParentShardId"));
				s->adjacent = dup_or_null(jstr(e, "AdjacentParentShardId"));
				if (s->id == NULL)
					goto out;
				if (json_object_object_get_ex(e, "HashKeyRange", &r)) {
					const char *lo = jstr(r, "StartingHashKey");
					const char *hi = jstr(r, "EndingHashKey");

					if (lo)
						kpl_dec128(lo, strlen(lo), s->lo);
					if (hi)
						kpl_dec128(hi, strlen(hi), s->hi);
				} else {
					memset(s->hi, 0xff, 16);
				}
				if (json_object_object_get_ex(e, "SequenceNumberRange", &r) &&
				    jstr(r, "EndingSequenceNumber") != NULL)
					s->closed = 1;
				s->initial = !st->listed;
				s->state = SH_WAITING;
				st->nshards++;
				s->owned = is_owned(st, s);
				msg_debug("shard %s%s%s", s->id, s->parent ? " child of " : "",
				    s->parent ? s->parent : "");
			}
		}
		free(token);
		token = dup_or_null(jstr(resp, "NextToken"));
		json_object_put(resp);
		json_object_put(req);
		resp = req = NULL;
	} while (token != NULL);
	st->listed = 1;
	rc = 0;
out:
	free(token);
	json_object_put(resp);
	json_object_put(req);
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

/* Gets an iterator for a shard that has none (start, or expired). */
static int
get_iterator(struct state *st, struct shard *s)
{
	struct json_object *req = json_object_new_object(), *resp = NULL;
	const struct opts *o = st->o;
	const char *type = "TRIM_HORIZON", *seq = s->last_seq;
	char err[1024];
	size_t i;
	int rc = -1;

	if (req == NULL)
		return -1;
	if (seq == NULL) {
		for (i = 0; i < o->nafter; i++)
			if (strcmp(o->after_shard[i], s->id) == 0)
				seq = o->after_seq[i];
	}
	json_object_object_add(req, st->stream_member, json_object_new_string(o->stream));
	json_object_object_add(req, "ShardId", json_object_new_string(s->id));
	if (seq != NULL) {
		type = "AFTER_SEQUENCE_NUMBER";
		json_object_object_add(req, "StartingSequenceNumber",
		    json_object_new_string(seq));
	} else if (o->from == FROM_LATEST && s->initial) {
		/* Shards created after the start hold only newer records: they
		 * are read from their beginning. */
		type = "LATEST";
	} else if (o->from == FROM_AT) {
		type = "AT_TIMESTAMP";
		json_object_object_add(req, "Timestamp",
		    json_object_new_double((double)o->from_ms / 1000.0));
	}
	json_object_object_add(req, "ShardIteratorType", json_object_new_string(type));
	if (aws_json(st->aws, "Kinesis_20131202.GetShardIterator", req, &resp, err,
	    sizeof(err)) != 0) {
		msg_err("GetShardIterator %s: %s", s->id, err);
		goto out;
	}
	st->calls++;
	free(s->iter);
	s->iter = dup_or_null(jstr(resp, "ShardIterator"));
	if (s->iter == NULL) {
		/* A closed shard with nothing after the position. */
		s->state = SH_FINISHED;
	}
	rc = 0;
out:
	json_object_put(req);
	json_object_put(resp);
	return rc;
}

/* Writes the data of one (sub-)record.  Returns 0, or -1 to stop. */
static int
emit(struct state *st, struct shard *s, const char *seq, unsigned long long sub,
    int aggregated, const char *pk, size_t pklen, double arrival,
    const unsigned char *data, size_t len)
{
	struct json_object *obj = NULL;
	const char *why = NULL;
	const char *p = (const char *)data;
	char ts[KPTIME_BUFSZ];
	size_t n = len;
	int is_json, rc = 0;

	/* Trailing white space (a producer's newline) is not data. */
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' ||
	    p[n - 1] == '\t'))
		n--;
	obj = jf_parse(&st->jp, p, n, &why);
	is_json = obj != NULL;
	if (!st->o->envelope) {
		if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
			char where[512];

			snprintf(where, sizeof(where), "%s:%s%s", s->id, seq,
			    aggregated ? "" : "");
			if (aggregated)
				snprintf(where, sizeof(where), "%s:%s/%llu", s->id, seq, sub);
			rc = nd_reject_at(&st->rej, where, p, n, "%s",
			    obj == NULL ? why : "not a JSON object");
			goto out;
		}
		if (memchr(p, '\n', n) == NULL) {
			nd_put(st->out, p, n);
		} else {
			/* Pretty-printed data: one compact line. */
			const char *c = json_object_to_json_string_ext(obj,
			    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

			nd_put(st->out, c, strlen(c));
		}
	} else {
		struct buf *b = nd_buf(st->out);

		buf_lit(b, "{\"stream\":");
		buf_jstrz(b, st->o->stream);
		buf_lit(b, ",\"shard\":");
		buf_jstrz(b, s->id);
		buf_lit(b, ",\"seq\":");
		buf_jstrz(b, seq);
		if (aggregated) {
			buf_lit(b, ",\"subseq\":");
			buf_u64(b, sub);
		}
		buf_lit(b, ",\"pk\":");
		buf_jstr(b, pk, pklen);
		if (kptime_format((int64_t)(arrival * 1000.0 + 0.5), ts,
		    sizeof(ts)) > 0) {
			buf_lit(b, ",\"arrival\":");
			buf_jstrz(b, ts);
		}
		buf_lit(b, ",\"data\":");
		if (is_json && (json_object_is_type(obj, json_type_object) ||
		    json_object_is_type(obj, json_type_array))) {
			const char *c = memchr(p, '\n', n) == NULL ? NULL :
			    json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE);

			if (c != NULL)
				buf_str(b, c);
			else
				buf_add(b, p, n);
		} else {
			buf_char(b, '"');
			buf_b64(b, data, len);
			buf_lit(b, "\",\"encoding\":\"base64\"");
		}
		buf_char(b, '}');
		if (nd_end(st->out) == ND_ERROR && nd_writer_status(st->out) == 0) {
			msg_err("out of memory");
			rc = -1;
			goto out;
		}
	}
	st->written++;
out:
	/* The position moves on whether the record was written or rejected:
	 * a rejected record is accounted for (dead letter), not to be reread. */
	if (s->last_seq == NULL || strcmp(s->last_seq, seq) != 0) {
		free(s->last_seq);
		s->last_seq = strdup(seq);
	}
	s->last_sub = sub;
	json_object_put(obj);
	if (nd_writer_status(st->out) != 0)
		return -1;
	return rc;
}

static int
in_range(const struct shard *s, const unsigned char h[16])
{
	return memcmp(h, s->lo, 16) >= 0 && memcmp(h, s->hi, 16) <= 0;
}

/* Handles one record of a GetRecords response.  Returns 0 or -1 to stop. */
static int
record(struct state *st, struct shard *s, struct json_object *r)
{
	const char *seq = jstr(r, "SequenceNumber"), *pk = jstr(r, "PartitionKey");
	const char *d = jstr(r, "Data");
	struct json_object *at;
	double arrival = 0;
	size_t dlen;
	long n;
	struct kpl_agg agg;
	int k;

	if (seq == NULL || d == NULL || pk == NULL) {
		msg_err("%s: malformed record in GetRecords response", s->id);
		return -1;
	}
	if (json_object_object_get_ex(r, "ApproximateArrivalTimestamp", &at))
		arrival = json_object_get_double(at);
	if (st->o->has_until && arrival * 1000.0 >= (double)st->o->until_ms) {
		s->state = SH_FINISHED;
		return 1;
	}
	dlen = strlen(d);
	if (dlen / 4 * 3 + 3 > st->bufcap) {
		unsigned char *nb = realloc(st->buf, dlen / 4 * 3 + 3);

		if (nb == NULL) {
			msg_err("out of memory");
			return -1;
		}
		st->buf = nb;
		st->bufcap = dlen / 4 * 3 + 3;
	}
	n = b64_decode(d, dlen, st->buf);
	if (n < 0) {
		msg_err("%s:%s: record data is not base64", s->id, seq);
		return -1;
	}
	k = kpl_decode(st->buf, (size_t)n, &agg);
	if (k == 0)
		return emit(st, s, seq, 0, 0, pk, strlen(pk), arrival, st->buf, (size_t)n);
	if (k < 0) {
		char where[512];

		snprintf(where, sizeof(where), "%s:%s", s->id, seq);
		st->rejected_kpl++;
		return nd_reject_at(&st->rej, where, d, dlen,
		    "malformed KPL aggregated record (base64 data kept)");
	}
	for (size_t i = 0; i < agg.n; i++) {
		unsigned char h[16];
		int rc;

		/* After resharding, an aggregate may hold sub-records whose
		 * keys now map to a sibling shard; the KCL drops them. */
		if (kpl_hash_key(&agg.recs[i], h) == 0 && !in_range(s, h)) {
			st->dropped_range++;
			continue;
		}
		rc = emit(st, s, seq, i, 1, agg.recs[i].pk, agg.recs[i].pklen, arrival,
		    agg.recs[i].data, agg.recs[i].len);
		if (rc != 0) {
			kpl_agg_free(&agg);
			return rc;
		}
		if (st->o->count && st->written >= st->o->count)
			break;
	}
	kpl_agg_free(&agg);
	return 0;
}

/* One GetRecords call on a shard.  Returns 0, or -1 on a fatal error. */
static int
fetch(struct state *st, struct shard *s, int64_t now)
{
	static const char *const hdrs[] = {
		"Content-Type: application/x-amz-json-1.1",
		"X-Amz-Target: Kinesis_20131202.GetRecords",
	};
	struct json_object *resp = NULL, *recs, *mbl;
	struct http_response hr;
	struct aws_call call;
	char err[1024];
	struct buf body = BUF_INIT;
	size_t i, nrec = 0;
	const char *next;
	int rc = -1;
	enum retry_kind kind;

	memset(&hr, 0, sizeof(hr));
	if (s->iter == NULL && get_iterator(st, s) != 0)
		return -1;
	if (s->state == SH_FINISHED)
		return 0;
	buf_lit(&body, "{\"ShardIterator\":");
	buf_jstrz(&body, s->iter);
	buf_lit(&body, ",\"Limit\":");
	buf_u64(&body, (uint64_t)st->o->limit);
	buf_char(&body, '}');
	if (body.failed) {
		msg_err("out of memory");
		goto out;
	}
	memset(&call, 0, sizeof(call));
	call.method = "POST";
	call.path = "/";
	call.headers = hdrs;
	call.nheaders = 2;
	call.body = body.p;
	call.body_len = body.len;
	/* Rate limit: 5 GetRecords per second per shard. */
	if (now - s->window_start >= 1000) {
		s->window_start = now;
		s->calls = 0;
	}
	s->calls++;
	st->calls++;
	if (aws_call(st->aws, &call, &hr, err, sizeof(err)) != 0) {
		char code[128], m[256];

		aws_error(&hr, code, sizeof(code), m, sizeof(m));
		if (strcmp(code, "ExpiredIteratorException") == 0) {
			/* Iterators live five minutes: start again after the
			 * last record written. */
			msg_info("%s: iterator expired; getting a new one", s->id);
			free(s->iter);
			s->iter = NULL;
			rc = 0;
		} else if (hr.status != 0 &&
		    (kind = retry_classify(hr.status, 0, code)) == RETRY_THROTTLED) {
			s->backoff++;
			s->next_at = now + (s->backoff < 6 ? 200LL << s->backoff : 10000);
			rc = 0;
		} else {
			msg_err("GetRecords %s: %s", s->id, err);
		}
		goto out;
	}
	s->backoff = 0;
	resp = json_tokener_parse(hr.body ? hr.body : "");
	if (resp == NULL) {
		msg_err("GetRecords %s: response is not JSON", s->id);
		goto out;
	}
	if (json_object_object_get_ex(resp, "Records", &recs) &&
	    json_object_is_type(recs, json_type_array)) {
		nrec = json_object_array_length(recs);
		for (i = 0; i < nrec && s->state != SH_FINISHED; i++) {
			int r = record(st, s, json_object_array_get_idx(recs, i));

			if (r < 0)
				goto out;
			if (st->o->count && st->written >= st->o->count) {
				st->done = 1;
				rc = 0;
				goto out;
			}
		}
	}
	next = jstr(resp, "NextShardIterator");
	free(s->iter);
	s->iter = dup_or_null(next);
	if (next == NULL)
		s->state = SH_FINISHED;
	/* A closed shard is done only when it has no next iterator. */
	s->caught_up = !s->closed && nrec == 0 &&
	    (!json_object_object_get_ex(resp, "MillisBehindLatest", &mbl) ||
	    json_object_get_int64(mbl) == 0);
	/* An empty fetch waits the poll interval; never more than five
	 * calls a second on a shard. */
	s->next_at = nrec == 0 ? now + st->o->poll_ms : now;
	if (s->calls >= 5 && s->next_at < s->window_start + 1000)
		s->next_at = s->window_start + 1000;
	rc = 0;
out:
	buf_free(&body);
	json_object_put(resp);
	http_response_clear(&hr);
	return rc;
}

static int
parse_from(struct opts *o, const char *arg)
{
	if (strcmp(arg, "trim-horizon") == 0) {
		o->from = FROM_TRIM;
	} else if (strcmp(arg, "latest") == 0) {
		o->from = FROM_LATEST;
	} else if (strncmp(arg, "at-timestamp:", 13) == 0) {
		o->from = FROM_AT;
		if (kptime_parse(arg + 13, strlen(arg + 13), &o->from_ms) != 0)
			return -1;
	} else if (strncmp(arg, "after-sequence:", 15) == 0) {
		char *copy = strdup(arg + 15), *tok, *save = NULL;

		if (copy == NULL)
			return -1;
		o->from = FROM_AFTER;
		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(tok, '=');

			if (eq == NULL || eq == tok || eq[1] == '\0') {
				free(copy);
				return -1;
			}
			*eq = '\0';
			o->after_shard = realloc(o->after_shard, (o->nafter + 1) * sizeof(char *));
			o->after_seq = realloc(o->after_seq, (o->nafter + 1) * sizeof(char *));
			if (o->after_shard == NULL || o->after_seq == NULL) {
				free(copy);
				return -1;
			}
			o->after_shard[o->nafter] = strdup(tok);
			o->after_seq[o->nafter] = strdup(eq + 1);
			o->nafter++;
		}
		free(copy);
		if (o->nafter == 0)
			return -1;
	} else {
		return -1;
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
		if (parse_from(o, arg) != 0)
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
	case OPT_SHARDS: {
		char *copy = strdup(arg), *tok, *save = NULL;

		if (copy == NULL)
			return KP_EXIT_FAILURE;
		for (tok = strtok_r(copy, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save)) {
			char **no = realloc(o->only, (o->nonly + 1) *
			    sizeof(*no));

			if (no == NULL) {
				free(copy);
				return KP_EXIT_FAILURE;
			}
			o->only = no;
			o->only[o->nonly++] = strdup(tok);
		}
		free(copy);
		if (o->nonly == 0)
			rc = cli_bad(c, "no shard id", arg);
		break;
	}
	case OPT_ENVELOPE:
		o->envelope = 1;
		break;
	case OPT_LIMIT:
		rc = cli_count(c, arg, 1, 10000, &n);
		o->limit = (int)n;
		break;
	case OPT_POLL:
		rc = cli_duration(c, arg, 0, 86400000, &o->poll_ms);
		break;
	case OPT_LIST:
		rc = cli_duration(c, arg, 1, 86400000, &o->list_ms);
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
	o->limit = 10000;
	o->poll_ms = 1000;
	o->list_ms = 10000;
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
	o->dead = c->dead_letter;
	o->strict = c->strict;
	o->aws = c->aws;
	return CLI_RUN;
}

/* Promotes waiting shards whose parents are finished. */
static void
promote(struct state *st)
{
	size_t i;

	for (i = 0; i < st->nshards; i++) {
		struct shard *s = &st->shards[i];

		if (s->owned && s->state == SH_WAITING &&
		    parent_done(st, s->parent) && parent_done(st, s->adjacent))
			s->state = SH_READING;
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct cli cli;
	struct state st;
	char err[1024];
	int rc, usage_error = 0, status = KP_EXIT_OK;
	int64_t last_list;
	size_t i;

	msg_init(argv[0]);
	memset(&st, 0, sizeof(st));
	memset(&cli, 0, sizeof(cli));
	rc = parse_opts(argc, argv, &cli, &o);
	if (rc != CLI_RUN)
		return rc == CLI_DONE ? KP_EXIT_OK : rc;
	o.aws.stop = &sig_stop;
	st.o = &o;
	if (sig_setup() != 0 || jf_parser_init(&st.jp) != 0) {
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
	if (st.out == NULL) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	if (list_shards(&st) != 0) {
		status = KP_EXIT_FAILURE;
		goto done;
	}
	for (i = 0; i < o.nonly; i++) {
		if (find_shard(&st, o.only[i]) == NULL) {
			msg_err("--shards: no shard %s in stream %s", o.only[i], o.stream);
			status = KP_EXIT_USAGE;
			goto done;
		}
	}
	last_list = kptime_mono_ms();

	while (!sig_stop && !st.done) {
		int64_t now = kptime_mono_ms(), next = now + 1000;
		int active = 0, all_tip = 1;

		promote(&st);
		for (i = 0; i < st.nshards && !sig_stop && !st.done; i++) {
			struct shard *s = &st.shards[i];

			if (!s->owned || s->state != SH_READING)
				continue;
			active++;
			if (s->next_at <= now) {
				if (fetch(&st, s, now) != 0) {
					/* Downstream went away (| head): done. */
					if (nd_writer_status(st.out) == ND_EPIPE)
						goto done;
					status = st.rej.strict && st.rej.count > 0 ?
					    KP_EXIT_REJECTED : KP_EXIT_FAILURE;
					goto done;
				}
				if (nd_writer_status(st.out) != 0) {
					if (nd_writer_status(st.out) == ND_ERROR)
						status = KP_EXIT_FAILURE;
					goto done;
				}
				now = kptime_mono_ms();
			}
			if (s->state == SH_READING) {
				if (!s->caught_up)
					all_tip = 0;
				if (s->next_at < next)
					next = s->next_at;
			}
		}
		if (st.rej.strict && st.rej.count > 0)
			break;
		promote(&st);
		/* Children that just became readable, or wait for a parent
		 * still being read, are not at the tip. */
		for (i = 0; i < st.nshards; i++)
			if (st.shards[i].owned && st.shards[i].state != SH_FINISHED &&
			    !st.shards[i].caught_up)
				all_tip = 0;
		if (o.follow && o.has_until && active == 0)
			break;	/* every shard passed --until */
		if (!o.follow && (active == 0 || all_tip)) {
			/* Bounded read: look once more for shards created by a
			 * reshard during the read before stopping. */
			size_t before = st.nshards;

			if (list_shards(&st) != 0) {
				status = KP_EXIT_FAILURE;
				break;
			}
			promote(&st);
			if (st.nshards == before)
				break;
			continue;
		}
		if (o.follow && kptime_mono_ms() - last_list >= o.list_ms) {
			if (list_shards(&st) != 0) {
				status = KP_EXIT_FAILURE;
				break;
			}
			last_list = kptime_mono_ms();
			continue;
		}
		now = kptime_mono_ms();
		if (next > now) {
			nd_flush(st.out);
			retry_sleep(next - now, &sig_stop);
		}
	}
done:
	msg_info("%llu records written, %llu rejected, %llu API calls, %zu shards",
	    st.written, st.rej.count, st.calls, st.nshards);
	if (st.dropped_range > 0)
		msg_info("%llu aggregated sub-records outside their shard's hash range "
		    "dropped (resharding)", st.dropped_range);
	rc = nd_writer_close(st.out);
	if (rc == ND_ERROR)
		status = KP_EXIT_FAILURE;
	if (nd_reject_close(&st.rej) != 0 && status == KP_EXIT_OK)
		status = KP_EXIT_FAILURE;
	if (status == KP_EXIT_OK && st.rej.count > 0)
		status = KP_EXIT_REJECTED;
	for (i = 0; i < st.nshards; i++) {
		free(st.shards[i].id);
		free(st.shards[i].parent);
		free(st.shards[i].adjacent);
		free(st.shards[i].iter);
		free(st.shards[i].last_seq);
	}
	free(st.shards);
	free(st.buf);
	nd_writer_free(st.out);
	jf_parser_free(&st.jp);
	aws_client_free(st.aws);
	for (i = 0; i < o.nafter; i++) {
		free(o.after_shard[i]);
		free(o.after_seq[i]);
	}
	free(o.after_shard);
	free(o.after_seq);
	for (i = 0; i < o.nonly; i++)
		free(o.only[i]);
	free(o.only);
	return status;
}
