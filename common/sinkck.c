#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "jfield.h"
#include "kptime.h"
#include "msg.h"
#include "outbox.h"
#include "parts.h"
#include "sinkck.h"
#include "spool.h"

#define TOOL "s3-put"

void
sinkck_part_clear(struct sinkck_part *p)
{
	free(p->key);
	free(p->tb);
	memset(p, 0, sizeof(*p));
}

static void
plist_free(struct sinkck_part *p, size_t n)
{
	size_t i;

	for (i = 0; p != NULL && i < n; i++)
		sinkck_part_clear(&p[i]);
	free(p);
}

/* Appends p (its strings taken) to *list.  0, or -1. */
static int
push(struct sinkck_part **list, size_t *n, struct sinkck_part *p)
{
	struct sinkck_part *nl = realloc(*list, (*n + 1) * sizeof(*nl));

	if (nl == NULL)
		return -1;
	*list = nl;
	nl[(*n)++] = *p;
	memset(p, 0, sizeof(*p));
	return 0;
}

static int read_sink(struct sinkck *, const struct ckpt_commit *, char *,
    size_t);

/* Reads the last commit, if any, and checks it against this run: its
 * parts go to c->pending and c->open.  Returns 0, or an exit status with
 * err (a commit of another destination, job or options, damaged or
 * newer). */
static int
read_commit(struct sinkck *c, char *err, size_t errsz)
{
	struct ckpt_commit cm;
	enum ckpt_err kind;
	int rc;

	rc = ckpt_read_commit(c->ck, &cm, &kind, err, errsz);
	if (rc <= 0)
		return rc < 0 ? ckpt_exit_status(kind) : 0;
	rc = read_sink(c, &cm, err, errsz);
	c->committed = cm.b.id;
	if (rc == 0 && c->job[0] == '\0')
		snprintf(c->job, sizeof(c->job), "%s", cm.b.job);
	else if (rc == 0 && strcmp(c->job, cm.b.job) != 0) {
		msg_seterr(err, errsz, "%s/commit.json is of job %s, not %s",
		    ckpt_path(c->ck), cm.b.job, c->job);
		rc = KP_EXIT_USAGE;
	}
	ckpt_commit_clear(&cm);
	return rc;
}

int
sinkck_open(struct sinkck *c, const char *dir, const char *job,
    const char *ident, struct json_object *shape, char *err, size_t errsz)
{
	enum ckpt_err kind;

	memset(c, 0, sizeof(*c));
	c->shape = shape;
	c->ident = strdup(ident);
	if (c->ident == NULL) {
		msg_seterr(err, errsz, "out of memory");
		return KP_EXIT_FAILURE;
	}
	if (job != NULL)
		snprintf(c->job, sizeof(c->job), "%s", job);
	if (ckpt_open(dir, TOOL, &c->ck, &kind, err, errsz) != 0)
		return ckpt_exit_status(kind);
	return read_commit(c, err, errsz);
}

void
sinkck_close(struct sinkck *c)
{
	ckpt_close(c->ck);
	json_object_put(c->shape);
	free(c->ident);
	plist_free(c->staged, c->nstaged);
	plist_free(c->pending, c->npending);
	plist_free(c->open, c->nopen);
	memset(c, 0, sizeof(*c));
}

const char *
sinkck_job(struct sinkck *c, char *err, size_t errsz)
{
	char *data = NULL;
	size_t len;
	int rc;

	if (c->job[0] != '\0')
		return c->job;
	rc = ckpt_read_file(c->ck, "job", &data, &len);
	if (rc == 0) {
		while (len > 0 && data[len - 1] == '\n')
			data[--len] = '\0';
		if (ckpt_job_ok(data))
			snprintf(c->job, sizeof(c->job), "%s", data);
	}
	free(data);
	if (c->job[0] != '\0')
		return c->job;
	msg_seterr(err, errsz, "%s/job: %s: no job names the objects: run "
	    "kin-read --checkpoint-dir %s upstream, or give --job",
	    ckpt_path(c->ck), rc == 0 ? "not a job name" : rc > 0 ?
	    "missing" : strerror(errno), ckpt_path(c->ck));
	return NULL;
}

/* ---- the commit record's sink state ---- */

static void
part_json(struct buf *b, const struct sinkck_part *p, int open)
{
	buf_lit(b, "{\"seq\":");
	buf_u64(b, p->seq);
	buf_lit(b, ",\"key\":");
	buf_jstrz(b, p->key);
	buf_lit(b, ",\"bytes\":");
	buf_u64(b, p->bytes);
	buf_lit(b, ",\"records\":");
	buf_u64(b, p->records);
	buf_lit(b, ",\"first\":");
	buf_i64(b, p->first_ms);
	buf_lit(b, ",\"last\":");
	buf_i64(b, p->last_ms);
	if (open) {
		buf_lit(b, ",\"tb\":");
		buf_jstrz(b, p->tb != NULL ? p->tb : "");
		buf_lit(b, ",\"opened\":");
		buf_i64(b, p->opened_ms);
	}
	buf_char(b, '}');
}

static void
parts_json(struct buf *b, const struct sinkck_part *p, size_t n, int open,
    int *first)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (*first)
			buf_char(b, ',');
		*first = 1;
		part_json(b, &p[i], open);
	}
}

/* The sink member of a commit record, parsed as json-c (the commit record
 * writer embeds it). */
static struct json_object *
sink_state(const struct sinkck *c, const struct sinkck_part *open,
    size_t nopen)
{
	struct buf b = BUF_INIT;
	struct json_object *o = NULL;
	int first = 0;

	buf_lit(&b, "{\"dest\":");
	buf_jstrz(&b, c->ident);
	buf_lit(&b, ",\"shape\":");
	buf_str(&b, json_object_to_json_string_ext(c->shape,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_lit(&b, ",\"pending\":[");
	parts_json(&b, c->pending, c->npending, 0, &first);
	parts_json(&b, c->staged, c->nstaged, 0, &first);
	buf_lit(&b, "],\"open\":[");
	first = 0;
	parts_json(&b, open, nopen, 1, &first);
	buf_lit(&b, "]}");
	if (buf_cstr(&b) != NULL)
		o = json_tokener_parse(b.p);
	buf_free(&b);
	return o;
}

int
sinkck_commit(struct sinkck *c, const struct ckpt_barrier *b,
    const struct sinkck_part *open, size_t nopen,
    const struct sinkck_part **fresh, size_t *nfresh, char *err,
    size_t errsz)
{
	struct ckpt_commit cm;
	struct sinkck_part *np;
	size_t i, first;
	int rc;

	memset(&cm, 0, sizeof(cm));
	cm.b = *b;
	cm.committer = TOOL;
	cm.sink = sink_state(c, open, nopen);
	if (cm.sink == NULL)
		return msg_seterr(err, errsz, "out of memory");
	/* Room first: once the record is written nothing may fail. */
	np = realloc(c->pending, (c->npending + c->nstaged + 1) * sizeof(*np));
	if (np == NULL) {
		json_object_put(cm.sink);
		return msg_seterr(err, errsz, "out of memory");
	}
	c->pending = np;
	rc = ckpt_write_commit(c->ck, &cm, err, errsz);
	json_object_put(cm.sink);
	if (rc != 0)
		return -1;
	first = c->npending;
	for (i = 0; i < c->nstaged; i++)
		c->pending[c->npending++] = c->staged[i];
	free(c->staged);
	c->staged = NULL;
	c->nstaged = 0;
	c->committed = b->id;
	*fresh = c->pending + first;
	*nfresh = c->npending - first;
	return 0;
}

int
sinkck_stage(struct sinkck *c, struct sinkck_part *p)
{
	return push(&c->staged, &c->nstaged, p);
}

void
sinkck_delivered(struct sinkck *c, uint64_t seq)
{
	size_t i;

	for (i = 0; i < c->npending; i++) {
		if (c->pending[i].seq == seq) {
			sinkck_part_clear(&c->pending[i]);
			memmove(&c->pending[i], &c->pending[i + 1],
			    (c->npending - i - 1) * sizeof(*c->pending));
			c->npending--;
			return;
		}
	}
}

/* ---- recovery ---- */

/* One part of a commit record's list.  0, or -1 for a malformed one. */
static int
part_parse(struct json_object *o, struct sinkck_part *p, int open)
{
	struct json_object *v;
	const char *key = jf_str(o, "key"), *tb = jf_str(o, "tb");
	static const char *const num[] = { "seq", "bytes", "records", "first",
	    "last", "opened" };
	int64_t n[6] = { 0, 0, 0, 0, 0, 0 };
	size_t i;

	memset(p, 0, sizeof(*p));
	if (key == NULL || (open && tb == NULL))
		return -1;
	for (i = 0; i < (open ? 6u : 5u); i++) {
		if (!json_object_object_get_ex(o, num[i], &v) ||
		    !json_object_is_type(v, json_type_int))
			return -1;
		n[i] = json_object_get_int64(v);
		if (i < 3 && n[i] < 0)
			return -1;
	}
	p->seq = (uint64_t)n[0];
	p->bytes = (uint64_t)n[1];
	p->records = (uint64_t)n[2];
	p->first_ms = n[3];
	p->last_ms = n[4];
	p->opened_ms = n[5];
	p->key = strdup(key);
	p->tb = open ? strdup(tb) : NULL;
	return p->key == NULL || (open && p->tb == NULL) ? -1 : 0;
}

/* The list name of sink into *list.  0, or -1. */
static int
parts_parse(struct json_object *sink, const char *name, int open,
    struct sinkck_part **list, size_t *n)
{
	struct json_object *a;
	struct sinkck_part p;
	size_t i;

	if (!json_object_object_get_ex(sink, name, &a) ||
	    !json_object_is_type(a, json_type_array))
		return -1;
	for (i = 0; i < json_object_array_length(a); i++) {
		if (part_parse(json_object_array_get_idx(a, i), &p, open) != 0 ||
		    push(list, n, &p) != 0) {
			sinkck_part_clear(&p);
			return -1;
		}
	}
	return 0;
}

/* A destination's identity ("s3\nENDPOINT\nBUCKET\nPREFIX\n", or
 * "file\nPATH\n") on one line, for messages. */
static void
ident_line(const char *id, char *out, size_t outsz)
{
	size_t i, n = 0;

	for (i = 0; id[i] != '\0' && n + 1 < outsz; i++)
		if (id[i] != '\n' || (id[i + 1] != '\0' && n > 0))
			out[n++] = id[i] == '\n' ? ' ' : id[i];
	out[n] = '\0';
}

/* The commit's sink state checked against this run and read.  0, or an
 * exit status with err. */
static int
read_sink(struct sinkck *c, const struct ckpt_commit *cm, char *err,
    size_t errsz)
{
	const char *dest = jf_str(cm->sink, "dest");
	struct json_object *shape = NULL;

	if (cm->sink == NULL || strcmp(cm->committer, TOOL) != 0) {
		msg_seterr(err, errsz, "%s/commit.json was committed by %s, not "
		    "by an s3-put: one checkpoint directory serves one "
		    "pipeline", ckpt_path(c->ck), cm->committer);
		return KP_EXIT_USAGE;
	}
	if (dest == NULL || strcmp(dest, c->ident) != 0) {
		char was[512], now[512];

		ident_line(dest != NULL ? dest : "none", was, sizeof(was));
		ident_line(c->ident, now, sizeof(now));
		msg_seterr(err, errsz, "%s/commit.json is of another destination "
		    "(%s; this run writes to %s): one checkpoint directory "
		    "serves one pipeline: give its destination, or another "
		    "--checkpoint-dir", ckpt_path(c->ck), was, now);
		return KP_EXIT_USAGE;
	}
	json_object_object_get_ex(cm->sink, "shape", &shape);
	if (shape == NULL || !json_object_equal(shape, c->shape)) {
		msg_seterr(err, errsz, "%s/commit.json was written with other "
		    "object options (%s); this run has %s: objects of one job "
		    "keep their names and form", ckpt_path(c->ck), shape ?
		    json_object_to_json_string_ext(shape,
		    JSON_C_TO_STRING_PLAIN) : "none",
		    json_object_to_json_string_ext(c->shape,
		    JSON_C_TO_STRING_PLAIN));
		return KP_EXIT_USAGE;
	}
	if (parts_parse(cm->sink, "pending", 0, &c->pending,
	    &c->npending) != 0 ||
	    parts_parse(cm->sink, "open", 1, &c->open, &c->nopen) != 0) {
		msg_seterr(err, errsz, "%s/commit.json: a malformed part list",
		    ckpt_path(c->ck));
		return KP_EXIT_USAGE;
	}
	return 0;
}

static int
named(const struct sinkck_part *p, size_t n, uint64_t seq)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].seq == seq)
			return 1;
	return 0;
}

/* Removes the part files no commit names; drops pending parts whose file
 * is gone (delivered).  0, or -1 with err. */
static int
sweep(struct sinkck *c, struct spool *sp, char *err, size_t errsz)
{
	uint64_t *seqs = NULL;
	size_t n = 0, i, removed = 0;
	int rc = -1;

	if (spool_list(sp, &seqs, &n, err, errsz) != 0)
		return -1;
	/* A new part never takes the number of a part the commit names: a
	 * delivered part's file is gone, and the number, reused, would make
	 * an uncommitted part pass for it. */
	for (i = 0; i < c->npending + c->nopen; i++) {
		uint64_t s = i < c->npending ? c->pending[i].seq :
		    c->open[i - c->npending].seq;

		if (s >= sp->next_seq)
			sp->next_seq = s + 1;
	}
	for (i = 0; i < n; i++) {
		if (named(c->pending, c->npending, seqs[i]) ||
		    named(c->open, c->nopen, seqs[i]))
			continue;
		if (spool_remove(sp, seqs[i], err, errsz) != 0)
			goto out;
		removed++;
	}
	/* Delivered: the data file goes first (spool_remove()), so a part
	 * whose data is gone was delivered, its manifest or not. */
	for (i = c->npending; i-- > 0;) {
		char name[SPOOL_NAME_MAX];

		spool_name(c->pending[i].seq, SPOOL_DATA, name);
		if (faccessat(sp->fd, name, F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
		    errno == ENOENT && spool_remove(sp, c->pending[i].seq, err,
		    errsz) == 0)
			sinkck_delivered(c, c->pending[i].seq);
	}
	if (removed > 0)
		msg_info("removed %zu part%s of an epoch that never committed",
		    removed, removed == 1 ? "" : "s");
	rc = 0;
out:
	free(seqs);
	return rc;
}

int
sinkck_recover(struct sinkck *c, struct spool *sp, char *err, size_t errsz)
{
	return sweep(c, sp, err, errsz) == 0 ? 0 : KP_EXIT_FAILURE;
}

/* ---- the sink's steps ---- */

int
sinkck_stage_entry(struct sinkck *c, struct spool_entry *e, const char *tb)
{
	struct sinkck_part p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.seq = e->seq;
	p.key = e->meta.key;
	e->meta.key = NULL;
	p.tb = strdup(tb);
	p.bytes = e->bytes;
	p.records = e->records;
	p.first_ms = e->first_ms;
	p.last_ms = e->last_ms;
	p.opened_ms = e->meta.opened_ms;
	spool_meta_clear(&e->meta);
	rc = p.tb == NULL ? -1 : sinkck_stage(c, &p);
	sinkck_part_clear(&p);
	return rc;
}

/* A committed part to the outbox: its spool entry, with the upload a
 * crash may have left open (from its manifest); recovered: an earlier
 * process may have begun its upload.  Returns 0, or -1. */
static int
deliver(struct sinkck *c, const struct sinkck_part *p, int recovered)
{
	struct spool_entry e;
	struct spool_meta m;

	memset(&e, 0, sizeof(e));
	e.seq = p->seq;
	e.bytes = p->bytes;
	e.records = p->records;
	e.first_ms = p->first_ms;
	e.last_ms = p->last_ms;
	e.have_times = 1;
	e.recovered = recovered;
	e.meta.gzip = c->ps->proto.gzip;
	e.meta.opened_ms = p->opened_ms;
	if (spool_meta_read(c->sp, p->seq, &m) == 0) {
		e.meta.upload_id = m.upload_id;
		m.upload_id = NULL;
		spool_meta_clear(&m);
	}
	e.meta.key = strdup(p->key);
	if (c->ps->proto.time_field != NULL)
		e.meta.time_field = strdup(c->ps->proto.time_field);
	if (e.meta.key == NULL || (c->ps->proto.time_field != NULL &&
	    e.meta.time_field == NULL)) {
		spool_meta_clear(&e.meta);
		return -1;
	}
	return outbox_add(c->ob, &e);
}

/* The open parts as a commit names them.  A new array (*n entries; the
 * strings borrowed from the parts), or NULL. */
static struct sinkck_part *
open_parts(const struct sinkck *c, size_t *n)
{
	struct sinkck_part *a = calloc(c->ps->n + 1, sizeof(*a));
	const struct part *p;

	*n = 0;
	for (p = c->ps->head; a != NULL && p != NULL; p = p->next) {
		a[*n].seq = p->f.seq;
		a[*n].key = p->meta.key;
		a[*n].tb = p->tb;
		a[*n].bytes = p->f.bytes;
		a[*n].records = p->f.records;
		a[*n].first_ms = p->first_ms;
		a[*n].last_ms = p->last_ms;
		a[(*n)++].opened_ms = p->meta.opened_ms;
	}
	return a;
}

int
sinkck_barrier(struct sinkck *c, const struct ckpt_barrier *b, char *err,
    size_t errsz)
{
	const struct sinkck_part *fresh = NULL;
	struct sinkck_part *open;
	size_t nopen = 0, nfresh = 0, i;
	int rc;

	if ((b->final && parts_roll_all(c->ps) != 0) ||
	    parts_seal(c->ps) != 0)
		return msg_seterr(err, errsz, "%s", c->ps->err);
	open = open_parts(c, &nopen);
	if (open == NULL)
		return msg_seterr(err, errsz, "out of memory");
	rc = sinkck_commit(c, b, open, nopen, &fresh, &nfresh, err, errsz);
	free(open);
	if (rc != 0)
		return -1;
	msg_debug("committed checkpoint %llu: %zu parts to deliver",
	    (unsigned long long)b->id, nfresh);
	for (i = 0; i < nfresh; i++)
		if (deliver(c, &fresh[i], 0) != 0)
			return msg_seterr(err, errsz, "out of memory");
	return 0;
}

int
sinkck_restart(struct sinkck *c, char *err, size_t errsz)
{
	int64_t now = kptime_mono_ms(), wall = kptime_now_ms();
	size_t i;
	int rc = sinkck_recover(c, c->sp, err, errsz);

	if (rc != 0)
		return rc;
	for (i = 0; i < c->npending; i++)
		if (deliver(c, &c->pending[i], 1) != 0) {
			msg_seterr(err, errsz, "out of memory");
			return KP_EXIT_FAILURE;
		}
	for (i = 0; i < c->nopen; i++) {
		const struct sinkck_part *p = &c->open[i];

		if (parts_reopen(c->ps, p->seq, p->key, p->tb, p->bytes,
		    p->records, p->first_ms, p->last_ms, p->opened_ms, now,
		    wall) != 0) {
			msg_seterr(err, errsz, "%s", c->ps->err);
			return KP_EXIT_FAILURE;
		}
	}
	if (c->committed > 0)
		msg_info("resumed from checkpoint %llu: %zu parts to deliver, "
		    "%zu open", (unsigned long long)c->committed, c->npending,
		    c->nopen);
	return 0;
}
