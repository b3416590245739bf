#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kptime.h"
#include "msg.h"
#include "outbox.h"

/* A part in the outbox: with the engine, or set aside (parked). */
struct item {
	struct item *next;      /* in the park list */
	struct outbox *ob;
	struct spool_entry e;   /* e.meta.upload_id: an upload that may be
	                         * open */
	int64_t parked_at;
};

struct outbox {
	struct spool *sp;
	struct s3up *up;
	outbox_report report;
	void *arg;
	struct item *parked;
	size_t nparked;
	unsigned long long failures;
	uint64_t bytes;
};

struct outbox *
outbox_new(struct spool *sp, struct s3up *up, outbox_report report,
    void *arg)
{
	struct outbox *ob = calloc(1, sizeof(*ob));

	if (ob == NULL)
		return NULL;
	ob->sp = sp;
	ob->up = up;
	ob->report = report;
	ob->arg = arg;
	return ob;
}

static void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	spool_meta_clear(&it->e.meta);
	free(it);
}

void
outbox_free(struct outbox *ob)
{
	struct s3up_job *j;
	struct item *it;

	if (ob == NULL)
		return;
	/* The jobs the engine still has point at their parts. */
	while ((j = s3up_drop(ob->up)) != NULL) {
		item_free(s3up_user(j));
		s3up_job_free(j);
	}
	while ((it = ob->parked) != NULL) {
		ob->parked = it->next;
		item_free(it);
	}
	free(ob);
}

int
outbox_record(void *part, const char *upload_id)
{
	struct item *it = part;
	char *id = NULL;

	if (upload_id != NULL && (id = strdup(upload_id)) == NULL)
		return -1;
	free(it->e.meta.upload_id);
	it->e.meta.upload_id = id;
	if (spool_meta_write(it->ob->sp, it->e.seq, &it->e.meta) != 0) {
		msg_err("%s/%016llu.meta: %s", it->ob->sp->dir,
		    (unsigned long long)it->e.seq, strerror(errno));
		return -1;
	}
	return 0;
}

/* Hands a part to the engine.  An upload its manifest names was left
 * open (by a crash, or by an abort that failed): it is aborted first. */
static int
submit(struct outbox *ob, struct item *it)
{
	char name[SPOOL_NAME_MAX];
	struct s3up_source src;

	spool_name(it->e.seq, SPOOL_DATA, name);
	src.dirfd = ob->sp->fd;
	src.name = name;
	src.len = it->e.bytes;
	src.gzip = it->e.meta.gzip;
	if (s3up_put(ob->up, it->e.meta.key, &src, it->e.meta.upload_id,
	    it->e.recovered ? S3UP_SWEEP : 0, it) == NULL) {
		ob->bytes -= it->e.bytes;
		item_free(it);
		return -1;
	}
	return 0;
}

int
outbox_add(struct outbox *ob, struct spool_entry *e)
{
	struct item *it = calloc(1, sizeof(*it));

	if (it == NULL)
		return -1;
	it->ob = ob;
	it->e = *e;
	memset(&e->meta, 0, sizeof(e->meta));
	ob->bytes += it->e.bytes;
	return submit(ob, it);
}

int
outbox_recover(struct outbox *ob, size_t *n, uint64_t *bytes, char *err,
    size_t errsz)
{
	struct spool_entry *es = NULL;
	size_t i;
	int rc = 0;

	*bytes = 0;
	if (spool_recover(ob->sp, &es, n, err, errsz) != 0)
		return -1;
	for (i = 0; i < *n && rc == 0; i++) {
		*bytes += es[i].bytes;
		es[i].recovered = 1;
		if (outbox_add(ob, &es[i]) != 0) {
			snprintf(err, errsz, "out of memory");
			rc = -1;
		}
	}
	spool_entries_free(es, *n);
	return rc;
}

/* A part delivered: reported, and its spool files go. */
static void
delivered(struct outbox *ob, struct item *it, const struct s3up_result *r,
    const char *uri)
{
	char err[PATH_MAX + 64];

	ob->report(ob->arg, &it->e, r, uri);
	if (spool_remove(ob->sp, it->e.seq, err, sizeof(err)) != 0)
		msg_warn("%s", err);
	ob->bytes -= it->e.bytes <= ob->bytes ? it->e.bytes : ob->bytes;
	item_free(it);
}

/* Not delivered: reported; its spool files stay, and it waits. */
static void
park(struct outbox *ob, struct item *it, const struct s3up_result *r,
    const char *uri)
{
	ob->report(ob->arg, &it->e, r, uri);
	ob->failures++;
	it->parked_at = kptime_mono_ms();
	it->next = ob->parked;
	ob->parked = it;
	ob->nparked++;
}

void
outbox_collect(struct outbox *ob)
{
	struct buf uri = BUF_INIT;
	struct s3up_job *j;

	while ((j = s3up_next(ob->up)) != NULL) {
		const struct s3up_result *r = s3up_result(j);
		const char *u;

		buf_reset(&uri);
		s3up_uri(ob->up, s3up_key(j), &uri);
		u = buf_cstr(&uri) != NULL ? uri.p : s3up_key(j);
		if (r->ok)
			delivered(ob, s3up_user(j), r, u);
		else
			park(ob, s3up_user(j), r, u);
		s3up_job_free(j);
	}
	buf_free(&uri);
}

int
outbox_retry(struct outbox *ob, int64_t now, int force)
{
	for (;;) {
		struct item **pp, **best = NULL, *it;

		for (pp = &ob->parked; *pp != NULL; pp = &(*pp)->next)
			if ((force || now - (*pp)->parked_at >= OUTBOX_RETRY_MS) &&
			    (best == NULL || (*pp)->e.seq < (*best)->e.seq))
				best = pp;
		if (best == NULL)
			return 0;
		it = *best;
		*best = it->next;
		ob->nparked--;
		msg_info("trying spool file %016llu again",
		    (unsigned long long)it->e.seq);
		/* Out of memory: the part stays in the spool for a restart. */
		if (submit(ob, it) != 0)
			return -1;
	}
}

int64_t
outbox_wake(const struct outbox *ob, int64_t until)
{
	const struct item *it;

	for (it = ob->parked; it != NULL; it = it->next)
		if (it->parked_at + OUTBOX_RETRY_MS < until)
			until = it->parked_at + OUTBOX_RETRY_MS;
	return until;
}

size_t
outbox_left(const struct outbox *ob)
{
	return s3up_pending(ob->up) + ob->nparked;
}

unsigned long long
outbox_failures(const struct outbox *ob)
{
	return ob->failures;
}

uint64_t
outbox_bytes(const struct outbox *ob)
{
	return ob->bytes;
}

void
outbox_line(struct buf *b, const struct spool_entry *e,
    const struct s3up_result *r, const char *uri)
{
	buf_lit(b, "{\"uri\":");
	buf_jstrz(b, uri);
	buf_lit(b, ",\"records\":");
	buf_u64(b, e->records);
	buf_lit(b, ",\"bytes\":");
	buf_u64(b, r->bytes);
	buf_lit(b, ",\"etag\":");
	buf_jstrz(b, r->etag);
	/* buf_time() writes null for a time out of range. */
	buf_lit(b, ",\"first_time\":");
	buf_time(b, e->have_times ? e->first_ms : INT64_MIN);
	buf_lit(b, ",\"last_time\":");
	buf_time(b, e->have_times ? e->last_ms : INT64_MIN);
	buf_char(b, '}');
}
