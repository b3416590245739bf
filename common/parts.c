#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"
#include "kptime.h"
#include "parts.h"
#include "s3.h"
#include "sigv4.h"

void
parts_init(struct parts *ps)
{
	ps->head = NULL;
	ps->n = 0;
	ps->bytes = 0;
	ps->tb_sec = INT64_MIN;
	ps->tb[0] = '\0';
	ps->err[0] = '\0';
}

static void
part_free(struct part *p)
{
	if (p == NULL)
		return;
	spool_part_close(&p->f);
	spool_meta_clear(&p->meta);
	free(p->tb);
	free(p);
}

void
parts_free(struct parts *ps)
{
	while (ps->head != NULL) {
		struct part *p = ps->head;

		ps->head = p->next;
		part_free(p);
	}
	ps->n = 0;
	ps->bytes = 0;
}

int
parts_bucket(const char *fmt, int64_t ms, char *out, size_t outsz)
{
	time_t sec = (time_t)kptime_floor_div(ms, 1000);
	struct tm tm;

	if (gmtime_r(&sec, &tm) == NULL)
		return -1;
	out[0] = '\0';
	if (*fmt == '\0')
		return 0;
	return strftime(out, outsz, fmt, &tm) == 0 ? -1 : 0;
}

/* The length of the longest bucket name, or -1 (err says why). */
static long
bucket_max(const char *fmt, char *err, size_t errsz)
{
	/* The epoch, a day, the last millisecond of 9999, and a Wednesday
	 * in September (the longest English day and month names). */
	static const int64_t probes[] = { 0, 1723161255342LL,
	    253402300799999LL, 1727222400000LL };
	const char *why = "";
	char tb[256];
	size_t i, n, max = 0;

	for (i = 0; i < strlen(fmt); i++)
		if ((unsigned char)fmt[i] < 0x20 || fmt[i] == 0x7f)
			break;
	if (i < strlen(fmt) || i > 128) {
		snprintf(err, errsz, "--bucket-format: too long or with a "
		    "control character");
		return -1;
	}
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (parts_bucket(fmt, probes[i], tb, sizeof(tb)) != 0) {
			snprintf(err, errsz, "--bucket-format: gives an empty "
			    "or too long name: %s", fmt);
			return -1;
		}
		n = strlen(tb);
		if (n > 0 && !s3_key_ok(tb, n, &why)) {
			snprintf(err, errsz, "--bucket-format: %s: %s", why, fmt);
			return -1;
		}
		if (n > max)
			max = n;
	}
	return (long)max;
}

int
parts_names_check(const struct parts_names *pn, char *err, size_t errsz)
{
	/* "-ID-" and the largest N, 18446744073709551615 */
	size_t name = strlen(pn->part_prefix) + pn->id_max + 2 + 20 +
	    strlen(pn->part_suffix) + (pn->gzip ? 3 : 0), key;
	long tb = bucket_max(pn->bucket_format, err, errsz);

	if (tb < 0)
		return -1;
	key = strlen(pn->key_prefix) + (size_t)tb + (tb > 0) + name;
	if (pn->local && name + 5 > NAME_MAX) {
		snprintf(err, errsz, "--part-prefix: too long: its file names "
		    "could have %zu bytes, over %d: %.40s...", name + 5,
		    NAME_MAX, pn->part_prefix);
		return -1;
	}
	if (!pn->local && key > S3_KEY_MAX) {
		snprintf(err, errsz, "--part-prefix: too long: its object keys "
		    "could have %zu bytes, over %d: %.40s...", key, S3_KEY_MAX,
		    pn->part_prefix);
		return -1;
	}
	return 0;
}

static int
fail(struct parts *ps, const char *what)
{
	snprintf(ps->err, sizeof(ps->err), "%s", what);
	return -1;
}

/* Puts p last: in opening order, parts rolled together report in key
 * order. */
static void
append(struct parts *ps, struct part *p)
{
	struct part **pp;

	for (pp = &ps->head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = p;
	ps->n++;
	ps->bytes += p->f.bytes;
}

int
parts_roll(struct parts *ps, struct part *p)
{
	struct spool_entry e;
	struct part **pp;
	int rc = -1;

	for (pp = &ps->head; *pp != NULL && *pp != p; pp = &(*pp)->next)
		;
	if (*pp == p) {
		*pp = p->next;
		ps->n--;
		ps->bytes -= p->f.bytes;
	}
	if (spool_part_seal(ps->sp, &p->f, ps->err, sizeof(ps->err)) != 0)
		goto out;
	memset(&e, 0, sizeof(e));
	e.seq = p->f.seq;
	e.meta = p->meta;
	memset(&p->meta, 0, sizeof(p->meta));
	e.bytes = p->f.bytes;
	e.records = p->f.records;
	e.first_ms = p->first_ms;
	e.last_ms = p->last_ms;
	e.have_times = 1;
	if (ps->rolled(ps->ctx, &e, p->tb) != 0) {
		fail(ps, "out of memory");
		goto out;
	}
	rc = 0;
out:
	part_free(p);
	return rc;
}

int
parts_roll_all(struct parts *ps)
{
	int rc = 0;

	while (ps->head != NULL)
		if (parts_roll(ps, ps->head) != 0)
			rc = -1;
	return rc;
}

int
parts_roll_due(struct parts *ps, int64_t now)
{
	const struct parts_policy *pol = &ps->pol;
	struct part *p = ps->head, *next;
	int rc = 0;

	for (; p != NULL; p = next) {
		next = p->next;
		if (p->touched) {
			p->last_mono = now;
			p->touched = 0;
		}
		if (((pol->rollover_ms > 0 &&
		    now - p->opened_mono >= pol->rollover_ms) ||
		    (pol->inactivity_ms > 0 &&
		    now - p->last_mono >= pol->inactivity_ms)) &&
		    parts_roll(ps, p) != 0)
			rc = -1;
	}
	return rc;
}

int64_t
parts_wake(const struct parts *ps, int64_t now, int64_t until)
{
	const struct parts_policy *pol = &ps->pol;
	const struct part *p;

	for (p = ps->head; p != NULL; p = p->next) {
		int64_t last = p->touched ? now : p->last_mono;

		if (pol->rollover_ms > 0 &&
		    p->opened_mono + pol->rollover_ms < until)
			until = p->opened_mono + pol->rollover_ms;
		if (pol->inactivity_ms > 0 &&
		    last + pol->inactivity_ms < until)
			until = last + pol->inactivity_ms;
	}
	return until;
}

int
parts_flush(struct parts *ps)
{
	struct part *p;

	for (p = ps->head; p != NULL; p = p->next)
		if (spool_part_flush(ps->sp, &p->f, ps->err,
		    sizeof(ps->err)) != 0)
			return -1;
	return 0;
}

int
parts_seal(struct parts *ps)
{
	struct part *p;

	for (p = ps->head; p != NULL; p = p->next)
		if (spool_part_seal(ps->sp, &p->f, ps->err,
		    sizeof(ps->err)) != 0)
			return -1;
	return 0;
}

/* A new part's manifest from the prototype, with key (taken).  0 or -1. */
static int
new_meta(struct parts *ps, struct spool_meta *m, char *key)
{
	memset(m, 0, sizeof(*m));
	m->key = key;
	m->gzip = ps->proto.gzip;
	m->by_processing = ps->proto.by_processing;
	m->opened_ms = kptime_now_ms();
	if (ps->proto.time_field != NULL &&
	    (m->time_field = strdup(ps->proto.time_field)) == NULL)
		return -1;
	return 0;
}

/* Too many buckets at once: the least recently written part rolls, as if
 * it had gone inactive. */
static int
roll_lru(struct parts *ps)
{
	struct part *lru = ps->head, *q;

	for (q = ps->head; q != NULL; q = q->next)
		if (q->last_seq < lru->last_seq)
			lru = q;
	return parts_roll(ps, lru);
}

static struct part *
open_part(struct parts *ps, const char *tb)
{
	struct buf key = BUF_INIT;
	struct part *p = NULL;

	if (ps->n >= PARTS_MAX_OPEN && roll_lru(ps) != 0)
		return NULL;
	if (ps->name(ps->ctx, tb, &key) != 0) {
		buf_free(&key);
		fail(ps, "");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->tb = strdup(tb)) == NULL ||
	    new_meta(ps, &p->meta, buf_take(&key)) != 0 ||
	    p->meta.key == NULL) {
		fail(ps, "out of memory");
		goto fail;
	}
	p->f.fd = -1;
	if (spool_part_open(ps->sp, &p->f, &p->meta, ps->err,
	    sizeof(ps->err)) != 0)
		goto fail;
	p->opened_mono = p->last_mono = kptime_mono_ms();
	append(ps, p);
	return p;
fail:
	buf_free(&key);
	part_free(p);
	return NULL;
}

static struct part *
find_part(struct parts *ps, const char *tb)
{
	struct part *p;

	for (p = ps->head; p != NULL; p = p->next)
		if (strcmp(p->tb, tb) == 0)
			return p;
	return NULL;
}

int
parts_add(struct parts *ps, const char *line, size_t len, int64_t t_ms)
{
	const struct parts_policy *pol = &ps->pol;
	int64_t sec = kptime_floor_div(t_ms, 1000);
	struct part *p;

	if (sec != ps->tb_sec) {
		if (parts_bucket(pol->bucket_format, t_ms, ps->tb,
		    sizeof(ps->tb)) != 0) {
			snprintf(ps->err, sizeof(ps->err), "--bucket-format: no "
			    "name for time %lld", (long long)t_ms);
			return -1;
		}
		ps->tb_sec = sec;
	}
	p = find_part(ps, ps->tb);
	if (p != NULL && p->f.records > 0 &&
	    p->f.bytes + len + 1 > pol->max_bytes) {
		if (parts_roll(ps, p) != 0)
			return -1;
		p = NULL;
	}
	if (p == NULL && (p = open_part(ps, ps->tb)) == NULL)
		return -1;
	if (p->f.records == 0 || t_ms < p->first_ms)
		p->first_ms = t_ms;
	if (p->f.records == 0 || t_ms > p->last_ms)
		p->last_ms = t_ms;
	if (spool_part_append(ps->sp, &p->f, line, len, ps->err,
	    sizeof(ps->err)) != 0)
		return -1;
	p->last_seq = ++ps->seq;
	p->touched = 1;
	ps->bytes += len + 1;
	if ((pol->max_records && p->f.records >= pol->max_records) ||
	    p->f.bytes >= pol->max_bytes)
		return parts_roll(ps, p);
	return 0;
}

int
parts_reopen(struct parts *ps, uint64_t seq, const char *key,
    const char *tb, uint64_t bytes, uint64_t records, int64_t first_ms,
    int64_t last_ms, int64_t opened_ms, int64_t now, int64_t wall)
{
	struct part *p = calloc(1, sizeof(*p));
	char *k = strdup(key);

	if (p == NULL || k == NULL || (p->tb = strdup(tb)) == NULL ||
	    new_meta(ps, &p->meta, k) != 0) {
		if (p == NULL || p->meta.key == NULL)
			free(k);
		part_free(p);
		return fail(ps, "out of memory");
	}
	p->f.fd = -1;
	if (spool_part_reopen(ps->sp, &p->f, seq, bytes, records, ps->err,
	    sizeof(ps->err)) != 0) {
		part_free(p);
		return -1;
	}
	p->meta.opened_ms = opened_ms;
	p->first_ms = first_ms;
	p->last_ms = last_ms;
	/* Its age goes on from its opening, in wall-clock time. */
	p->opened_mono = now - (wall > opened_ms ? wall - opened_ms : 0);
	p->last_mono = now;
	p->last_seq = ++ps->seq;
	append(ps, p);
	return 0;
}

int
parts_run_id(const char *line, size_t len, char *out)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	unsigned int hl = 0;
	int rc = -1;

	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, "kinpipe s3-put\n", 15) == 1 &&
	    EVP_DigestUpdate(md, line, len) == 1 &&
	    EVP_DigestFinal_ex(md, h, &hl) == 1) {
		sigv4_hex(h, 8, out);
		rc = 0;
	}
	EVP_MD_CTX_free(md);
	return rc;
}
