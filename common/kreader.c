#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "kptime.h"
#include "kreader.h"
#include "msg.h"

/* ---- --from ---- */

void
kr_from_clear(struct kr_from *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->shard[i]);
		free(f->seq[i]);
	}
	free(f->shard);
	free(f->seq);
	memset(f, 0, sizeof(*f));
}

/* after-sequence:SHARD=SEQ[,SHARD=SEQ...] */
static int
parse_after(struct kr_from *f, const char *list)
{
	char **items = NULL, **ns;
	size_t n = 0, i;
	int rc = 0;

	if (cli_split(list, &items, &n) < 0)
		rc = -2;
	for (i = 0; i < n && rc == 0; i++) {
		char *eq = strchr(items[i], '=');

		if (eq == NULL || eq == items[i] || eq[1] == '\0') {
			rc = -1;
			break;
		}
		ns = realloc(f->shard, (f->n + 1) * sizeof(*ns));
		if (ns != NULL)
			f->shard = ns;
		ns = realloc(f->seq, (f->n + 1) * sizeof(*ns));
		if (ns != NULL)
			f->seq = ns;
		if (ns == NULL || f->shard == NULL) {
			rc = -2;
			break;
		}
		*eq = '\0';
		f->seq[f->n] = strdup(eq + 1);
		f->shard[f->n++] = items[i];
		items[i] = NULL;
		if (f->seq[f->n - 1] == NULL)
			rc = -2;
	}
	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
	return rc == 0 && f->n == 0 ? -1 : rc;
}

int
kr_from_parse(struct kr_from *f, const char *arg)
{
	kr_from_clear(f);
	if (strcmp(arg, "trim-horizon") == 0) {
		f->kind = KR_FROM_TRIM;
	} else if (strcmp(arg, "latest") == 0) {
		f->kind = KR_FROM_LATEST;
	} else if (strncmp(arg, "at-timestamp:", 13) == 0) {
		f->kind = KR_FROM_AT;
		return kptime_parse(arg + 13, strlen(arg + 13), &f->ms);
	} else if (strncmp(arg, "after-sequence:", 15) == 0) {
		f->kind = KR_FROM_AFTER;
		return parse_after(f, arg + 15);
	} else {
		return -1;
	}
	return 0;
}

/* ---- shards ---- */

void
kr_free(struct kreader *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct kr_shard *s = &r->shards[i];

		kinesis_shard_clear(&s->k);
		free(s->iter);
		free(s->last_seq);
		free(s->start);
		free(s->skip_seq);
	}
	free(r->shards);
	r->shards = NULL;
	r->n = 0;
}

struct kr_shard *
kr_find(struct kreader *r, const char *id)
{
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->shards[i].k.id, id) == 0)
			return &r->shards[i];
	return NULL;
}

/* A shard is ours if listed in --shards, or a child of one of ours. */
static int
is_owned(struct kreader *r, const struct kr_shard *s)
{
	struct kr_shard *p;
	size_t i;

	if (r->nonly == 0)
		return 1;
	for (i = 0; i < r->nonly; i++)
		if (strcmp(r->only[i], s->k.id) == 0)
			return 1;
	p = kr_find(r, s->k.parent);
	return p != NULL && p->owned;
}

/*
 * Where a shard newly listed starts, from the last commit: after its
 * committed position (at the aggregate a checkpoint cut, to finish it),
 * from its committed start, or finished; a shard the commit does not know
 * appeared since and is read from its beginning.  Without a commit,
 * --from decides.  Returns 0, or -1 when memory is short.
 */
static int
resume_shard(struct kreader *r, struct kr_shard *s)
{
	const struct ckpt_pos *p;

	if (r->resume == NULL)
		return 0;
	p = ckpt_pos_find(r->resume, s->k.id);
	if (p == NULL)
		return (s->start = strdup("trim-horizon")) == NULL ? -1 : 0;
	if (p->done) {
		s->state = KR_FINISHED;
		s->ended = 1;
	}
	if (p->seq != NULL && (s->last_seq = strdup(p->seq)) == NULL)
		return -1;
	if (p->has_sub) {
		s->skip_seq = strdup(p->seq);
		s->skip_sub = s->last_sub = p->sub;
		s->cut = 1;
		if (s->skip_seq == NULL)
			return -1;
	}
	if (p->start != NULL && (s->start = strdup(p->start)) == NULL)
		return -1;
	return 0;
}

/* Adds the shards of l not known yet (taking their strings).  0 or -1. */
static int
add_shards(struct kreader *r, struct kinesis_shard_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct kr_shard *s, *ns;

		if (kr_find(r, l->shard[i].id) != NULL)
			continue;
		ns = realloc(r->shards, (r->n + 1) * sizeof(*ns));
		if (ns == NULL)
			return -1;
		r->shards = ns;
		s = &r->shards[r->n++];
		memset(s, 0, sizeof(*s));
		s->k = l->shard[i];
		memset(&l->shard[i], 0, sizeof(l->shard[i]));
		s->initial = !r->listed;
		s->state = KR_WAITING;
		s->behind_ms = -1;
		s->owned = is_owned(r, s);
		if (resume_shard(r, s) != 0)
			return -1;
		msg_debug("shard %s%s%s", s->k.id, s->k.parent ? " child of " :
		    "", s->k.parent ? s->k.parent : "");
	}
	return 0;
}

int
kr_list(struct kreader *r)
{
	struct kinesis_shard_list l;
	char err[1024];
	int rc;

	memset(&l, 0, sizeof(l));
	rc = kinesis_list_shards(r->k, &l, err, sizeof(err));
	if (rc == KINESIS_INTERRUPTED && r->listed) {
		/* A signal during a read: the caller stops as after one. */
		msg_info("ListShards: %s", err);
		rc = KR_INTERRUPTED;
	} else if (rc != 0) {
		msg_err("ListShards: %s", err);
		rc = -1;
	} else if (add_shards(r, &l) != 0) {
		msg_err("out of memory");
		rc = -1;
	} else {
		r->listed = 1;
		rc = 0;
	}
	kinesis_shard_list_free(&l);
	return rc;
}

static int
parent_done(struct kreader *r, const char *id)
{
	struct kr_shard *p = kr_find(r, id);

	/* A parent past the retention period is no longer listed: done.  A
	 * parent outside --shards is another reader's: not waited for. */
	return id == NULL || p == NULL || !p->owned || p->state == KR_FINISHED;
}

void
kr_promote(struct kreader *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct kr_shard *s = &r->shards[i];

		if (s->owned && s->state == KR_WAITING &&
		    parent_done(r, s->k.parent) &&
		    parent_done(r, s->k.adjacent))
			s->state = KR_READING;
	}
}

/* ---- positions ---- */

/*
 * The position a shard without an iterator is read from: after the last
 * record written (at it, to finish an aggregate cut by a checkpoint), from
 * its committed start, or by --from.  Returns 0, or -1 for a start this
 * kinpipe cannot read.
 */
static int
position(struct kreader *r, const struct kr_shard *s,
    struct kinesis_position *pos)
{
	const struct kr_from *f = r->from;
	size_t i;

	memset(pos, 0, sizeof(*pos));
	pos->type = KINESIS_TRIM_HORIZON;
	if (s->skip_seq != NULL) {
		pos->type = KINESIS_AT_SEQUENCE_NUMBER;
		pos->seq = s->skip_seq;
		return 0;
	}
	pos->seq = s->last_seq;
	for (i = 0; pos->seq == NULL && r->resume == NULL && i < f->n; i++)
		if (strcmp(f->shard[i], s->k.id) == 0)
			pos->seq = f->seq[i];
	if (pos->seq != NULL) {
		pos->type = KINESIS_AFTER_SEQUENCE_NUMBER;
	} else if (s->start != NULL) {
		if (strncmp(s->start, "at-timestamp:", 13) == 0) {
			pos->type = KINESIS_AT_TIMESTAMP;
			return kptime_parse(s->start + 13, strlen(s->start + 13),
			    &pos->timestamp_ms);
		}
		return strcmp(s->start, "trim-horizon") == 0 ? 0 : -1;
	} else if (f->kind == KR_FROM_LATEST && s->initial) {
		/* Shards created after the start hold only newer records: they
		 * are read from their beginning. */
		pos->type = KINESIS_LATEST;
	} else if (f->kind == KR_FROM_AT) {
		pos->type = KINESIS_AT_TIMESTAMP;
		pos->timestamp_ms = f->ms;
	}
	return 0;
}

int
kr_barrier_pos(struct kreader *r, struct kr_shard *s, struct ckpt_barrier *b)
{
	struct kinesis_position pos;
	struct ckpt_pos *p;
	char start[KPTIME_BUFSZ + 16], t[KPTIME_BUFSZ];

	if (s->last_seq != NULL) {
		p = ckpt_pos_set(b, s->k.id, s->last_seq, NULL);
		if (p != NULL) {
			p->has_sub = s->cut;
			p->sub = s->last_sub;
			p->done = s->ended;
		}
		return p != NULL ? 0 : -1;
	}
	if (position(r, s, &pos) != 0)
		return -1;
	if (pos.type == KINESIS_AFTER_SEQUENCE_NUMBER)
		return ckpt_pos_set(b, s->k.id, pos.seq, NULL) ? 0 : -1;
	/* LATEST was the tip when the read started: a later run reads what
	 * arrived since. */
	if (pos.type == KINESIS_LATEST)
		pos.timestamp_ms = r->started_ms;
	if (pos.type == KINESIS_TRIM_HORIZON)
		snprintf(start, sizeof(start), "trim-horizon");
	else if (kptime_format(pos.timestamp_ms, t, sizeof(t)) > 0)
		snprintf(start, sizeof(start), "at-timestamp:%s", t);
	else
		return -1;
	p = ckpt_pos_set(b, s->k.id, NULL, start);
	if (p != NULL)
		p->done = s->ended;
	return p != NULL ? 0 : -1;
}

int
kr_wrote(struct kr_shard *s, const char *seq, unsigned long long sub,
    int aggregated)
{
	if (s->last_seq == NULL || strcmp(s->last_seq, seq) != 0) {
		free(s->last_seq);
		s->last_seq = strdup(seq);
		if (s->last_seq == NULL)
			return -1;
	}
	s->last_sub = sub;
	s->cut = aggregated;
	return 0;
}

size_t
kr_skip(struct kr_shard *s, const char *seq, size_t nsub)
{
	size_t n = 0;

	if (s->skip_seq == NULL)
		return 0;
	if (strcmp(s->skip_seq, seq) == 0)
		n = s->skip_sub + 1 < nsub ? (size_t)s->skip_sub + 1 : nsub;
	free(s->skip_seq);
	s->skip_seq = NULL;
	return n;
}

/* ---- reading ---- */

/* A committed position the stream's retention has passed: an error (exit
 * 2), or with --on-expired oldest a warning and the oldest record. */
static int
expired(struct kreader *r, struct kr_shard *s)
{
	if (!r->oldest) {
		msg_err("%s: the committed position %s is no longer in the "
		    "stream (its retention period has passed it): the records "
		    "after it that were trimmed are lost; to go on from the "
		    "oldest record still there, run once with --on-expired "
		    "oldest (kinpipe(7), CHECKPOINTS)", s->k.id,
		    s->skip_seq ? s->skip_seq : s->last_seq);
		return KP_EXIT_USAGE;
	}
	msg_warn("%s: the committed position %s is past the stream's "
	    "retention: reading from the oldest record still there (records "
	    "in between are lost)", s->k.id,
	    s->skip_seq ? s->skip_seq : s->last_seq);
	r->expired++;
	free(s->last_seq);
	free(s->skip_seq);
	s->last_seq = s->skip_seq = NULL;
	s->cut = 0;
	free(s->start);
	s->start = strdup("trim-horizon");
	return s->start == NULL ? KP_EXIT_FAILURE : 0;
}

/* Gets an iterator for a shard that has none (start, or expired).
 * Returns 0, or an exit status. */
static int
get_iterator(struct kreader *r, struct kr_shard *s)
{
	struct kinesis_position pos;
	char err[1024];
	int rc;

	if (position(r, s, &pos) != 0) {
		msg_err("%s: cannot read from '%s'", s->k.id, s->start);
		return KP_EXIT_USAGE;
	}
	free(s->iter);
	s->iter = NULL;
	rc = kinesis_get_shard_iterator(r->k, s->k.id, &pos, &s->iter, err,
	    sizeof(err));
	if (rc == KINESIS_EXPIRED_POSITION) {
		rc = expired(r, s);
		return rc != 0 ? rc : get_iterator(r, s);
	}
	if (rc == KINESIS_INTERRUPTED) {
		/* A signal: no iterator yet, nothing to take (kr_fetch). */
		msg_info("GetShardIterator %s: %s", s->k.id, err);
		return 0;
	}
	if (rc != 0) {
		msg_err("GetShardIterator %s: %s", s->k.id, err);
		return KP_EXIT_FAILURE;
	}
	/* No iterator: a closed shard with nothing after the position. */
	if (s->iter == NULL) {
		s->state = KR_FINISHED;
		s->ended = 1;
	}
	return 0;
}

int
kr_fetch(struct kreader *r, struct kr_shard *s, int64_t now,
    struct kinesis_records *res)
{
	char err[1024];
	int rc;

	if (s->iter == NULL) {
		r->fail = get_iterator(r, s);
		if (r->fail != 0)
			return -1;
		if (s->iter == NULL && s->state != KR_FINISHED)
			return 0;	/* stopped by a signal */
	}
	if (s->state == KR_FINISHED)
		return 0;
	/* Rate limit: 5 GetRecords per second per shard. */
	if (now - s->window_start >= 1000) {
		s->window_start = now;
		s->calls = 0;
	}
	s->calls++;
	rc = kinesis_get_records(r->k, s->iter, r->limit, res, err,
	    sizeof(err));
	switch (rc) {
	case 0:
		s->backoff = 0;
		return 1;
	case KINESIS_EXPIRED_ITERATOR:
		/* Iterators live five minutes: start again after the last
		 * record written. */
		msg_info("%s: iterator expired; getting a new one", s->k.id);
		free(s->iter);
		s->iter = NULL;
		return 0;
	case KINESIS_INTERRUPTED:
		/* A signal: the caller stops after the records it wrote. */
		msg_info("GetRecords %s: %s", s->k.id, err);
		return 0;
	case KINESIS_THROTTLED:
		s->backoff++;
		s->next_at = now + (s->backoff < 6 ? 200LL << s->backoff :
		    10000);
		return 0;
	default:
		msg_err("GetRecords %s: %s", s->k.id, err);
		r->fail = KP_EXIT_FAILURE;
		return -1;
	}
}

int
kr_advance(struct kreader *r, struct kr_shard *s,
    const struct kinesis_records *res, int64_t now)
{
	free(s->iter);
	s->iter = NULL;
	if (s->state == KR_FINISHED)
		return 0;	/* stopped by a limit: no iterator kept */
	if (res->next_iterator == NULL) {
		s->state = KR_FINISHED;
		s->ended = 1;
	} else if ((s->iter = strdup(res->next_iterator)) == NULL) {
		msg_err("out of memory");
		r->fail = KP_EXIT_FAILURE;
		return -1;
	}
	s->behind_ms = res->millis_behind;
	/* A closed shard is done only when it has no next iterator. */
	s->caught_up = !s->k.closed && res->n == 0 && res->millis_behind <= 0;
	/* An empty fetch waits the poll interval; never more than five
	 * calls a second on a shard. */
	s->next_at = res->n == 0 ? now + r->poll_ms : now;
	if (s->calls >= 5 && s->next_at < s->window_start + 1000)
		s->next_at = s->window_start + 1000;
	return 0;
}
