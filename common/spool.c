#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json.h>
#include <openssl/evp.h>

#include "buf.h"
#include "jfield.h"
#include "jscan.h"
#include "kpfs.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "s3.h"
#include "sigv4.h"
#include "spool.h"

/* Longest record line a recovery scan reads whole; longer ones are only
 * counted. */
#define RECOVER_MAX_LINE (256 * 1024 * 1024)

/* Records buffered by a part before they are written. */
#define PART_BUF (64 * 1024)

/* Largest manifest read back. */
#define META_MAX (64 * 1024)

/* BASE/HASH of a destination into dir[0..dirsz).  Returns 0, or -1 with
 * err (and *config_error when no base directory is known). */
static int
spool_path(const char *tool, const char *base, const char *ident, char *dir,
    size_t dirsz, char *err, size_t errsz, int *config_error)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	unsigned char h[32];
	unsigned int hl = 0;
	char hx[65];
	int n;

	if (EVP_Digest(ident, strlen(ident), h, &hl, EVP_sha256(), NULL) != 1) {
		snprintf(err, errsz, "SHA-256 failed");
		return -1;
	}
	/* 64 bits of the hash: no two destinations of one machine meet. */
	sigv4_hex(h, 8, hx);
	if (base != NULL)
		n = snprintf(dir, dirsz, "%s/%s", base, hx);
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(dir, dirsz, "%s/kinpipe/%s/%s", xdg, tool, hx);
	else if (home != NULL && home[0] == '/')
		n = snprintf(dir, dirsz, "%s/.local/state/kinpipe/%s/%s", home,
		    tool, hx);
	else {
		snprintf(err, errsz, "no spool directory: set --spool-dir, "
		    "XDG_STATE_HOME or HOME");
		*config_error = 1;
		return -1;
	}
	if (n < 0 || (size_t)n >= dirsz) {
		snprintf(err, errsz, "spool directory path too long");
		return -1;
	}
	return 0;
}

/* A spool another user could have written to is not ours to deliver: a
 * shared --spool-dir (mode 1777) lets anyone make the directory first. */
static int
spool_trusted(struct spool *sp, char *err, size_t errsz, int *config_error)
{
	const char *why = NULL;
	int rc = kpfs_dir_private(sp->fd, &why);

	if (rc == 1)
		return 0;
	if (rc < 0)
		snprintf(err, errsz, "spool directory %s: %s", sp->dir,
		    strerror(errno));
	else
		snprintf(err, errsz, "spool directory %s %s: its files cannot "
		    "be trusted; check what it holds and make it yours alone "
		    "(chown, chmod 0700), or remove it, or give --spool-dir a "
		    "directory of your own", sp->dir, why);
	*config_error = rc == 0;
	return -1;
}

/* The spool directory dir opened, never through a symbolic link (one
 * planted there would lead to someone else's directory).  Returns the
 * descriptor, or -1 with err (and *config_error for a link). */
static int
spool_dir_open(const char *dir, char *err, size_t errsz, int *config_error)
{
	struct stat st;
	int fd;

	if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
		errno = ELOOP;
	else if (kpfs_mkdirs(dir, 0700) != 0)
		;
	else if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) >= 0)
		return fd;
	if (errno == ELOOP) {
		snprintf(err, errsz, "spool directory %s is a symbolic link: "
		    "remove it, or give --spool-dir a directory of your own",
		    dir);
		*config_error = 1;
	} else {
		snprintf(err, errsz, "spool directory %s: %s", dir,
		    strerror(errno));
	}
	return -1;
}

struct spool *
spool_open(const char *tool, const char *base, const char *ident, char *err,
    size_t errsz, int *config_error)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	char dir[PATH_MAX];

	*config_error = 0;
	if (sp == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	sp->fd = sp->lockfd = -1;
	if (spool_path(tool, base, ident, dir, sizeof(dir), err, errsz,
	    config_error) != 0)
		goto fail;
	sp->dir = strdup(dir);
	if (sp->dir == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	sp->fd = spool_dir_open(dir, err, errsz, config_error);
	if (sp->fd < 0 || spool_trusted(sp, err, errsz, config_error) != 0)
		goto fail;
	sp->lockfd = openat(sp->fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (sp->lockfd < 0) {
		snprintf(err, errsz, "%s/lock: %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errsz, "spool directory %s is in use by another %s",
		    dir, tool);
		goto fail;
	}
	if (kpfs_write_atomic(sp->fd, "dest", ident, strlen(ident)) != 0) {
		snprintf(err, errsz, "%s/dest: %s", dir, strerror(errno));
		goto fail;
	}
	return sp;
fail:
	spool_close(sp);
	return NULL;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->lockfd >= 0)
		close(sp->lockfd);
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->dir);
	free(sp);
}

void
spool_name(uint64_t seq, enum spool_file f, char out[SPOOL_NAME_MAX])
{
	snprintf(out, SPOOL_NAME_MAX, "%016llu.%s", (unsigned long long)seq,
	    f == SPOOL_DATA ? "ndjson" : "meta");
}

void
spool_meta_clear(struct spool_meta *m)
{
	if (m == NULL)
		return;
	free(m->key);
	free(m->time_field);
	free(m->upload_id);
	memset(m, 0, sizeof(*m));
}

int
spool_meta_write(struct spool *sp, uint64_t seq, const struct spool_meta *m)
{
	struct buf b = BUF_INIT;
	char name[SPOOL_NAME_MAX];
	const char *text;
	int rc = -1;

	buf_lit(&b, "{\"version\":1,\"key\":");
	buf_jstrz(&b, m->key);
	buf_lit(&b, ",\"gzip\":");
	buf_str(&b, m->gzip ? "true" : "false");
	buf_lit(&b, ",\"bucket_by\":");
	buf_str(&b, m->by_processing ? "\"processing-time\"" : "\"event-time\"");
	if (m->time_field != NULL) {
		buf_lit(&b, ",\"time_field\":");
		buf_jstrz(&b, m->time_field);
	}
	buf_lit(&b, ",\"opened\":");
	buf_time(&b, m->opened_ms);
	if (m->upload_id != NULL) {
		buf_lit(&b, ",\"upload_id\":");
		buf_jstrz(&b, m->upload_id);
	}
	buf_char(&b, '}');
	text = buf_cstr(&b);
	if (text == NULL) {
		errno = ENOMEM;
		goto out;
	}
	spool_name(seq, SPOOL_META, name);
	rc = kpfs_write_atomic(sp->fd, name, text, b.len);
out:
	buf_free(&b);
	return rc;
}

/* A strdup of the string member k of o, or NULL (then *bad when memory
 * was short). */
static char *
meta_str(struct json_object *o, const char *k, int *bad)
{
	const char *v = jf_str(o, k);
	char *s;

	if (v == NULL)
		return NULL;
	s = strdup(v);
	if (s == NULL)
		*bad = 1;
	return s;
}

int
spool_meta_read(struct spool *sp, uint64_t seq, struct spool_meta *m)
{
	char name[SPOOL_NAME_MAX], *text = NULL;
	struct json_object *o = NULL, *gz;
	const char *by, *opened, *why = "";
	ssize_t n = 0;
	int fd, bad = 0;

	memset(m, 0, sizeof(*m));
	m->opened_ms = INT64_MIN;
	spool_name(seq, SPOOL_META, name);
	fd = openat(sp->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	text = malloc(META_MAX + 1);
	if (fd >= 0 && text != NULL)
		n = read(fd, text, META_MAX);
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		text[n] = '\0';
		o = json_tokener_parse(text);
	}
	if (o == NULL || !json_object_is_type(o, json_type_object))
		goto fail;
	m->key = meta_str(o, "key", &bad);
	m->time_field = meta_str(o, "time_field", &bad);
	m->upload_id = meta_str(o, "upload_id", &bad);
	m->gzip = json_object_object_get_ex(o, "gzip", &gz) &&
	    json_object_get_boolean(gz);
	by = jf_str(o, "bucket_by");
	m->by_processing = by != NULL && strcmp(by, "processing-time") == 0;
	opened = jf_str(o, "opened");
	if (opened != NULL && kptime_parse(opened, strlen(opened),
	    &m->opened_ms) != 0)
		m->opened_ms = INT64_MIN;
	if (bad || m->key == NULL || !s3_key_ok(m->key, strlen(m->key), &why))
		goto fail;
	json_object_put(o);
	free(text);
	return 0;
fail:
	json_object_put(o);
	free(text);
	spool_meta_clear(m);
	return -1;
}

int
spool_create(struct spool *sp, const struct spool_meta *m, uint64_t *seq,
    char *err, size_t errsz)
{
	char name[SPOOL_NAME_MAX];
	int fd;

	*seq = sp->next_seq;
	spool_name(*seq, SPOOL_DATA, name);
	fd = openat(sp->fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errsz, "%s/%s: %s", sp->dir, name, strerror(errno));
		return -1;
	}
	sp->next_seq++;
	/* The manifest's atomic write fsyncs the directory: both names are
	 * durable from here. */
	if (spool_meta_write(sp, *seq, m) != 0) {
		snprintf(err, errsz, "%s/%016llu.meta: %s", sp->dir,
		    (unsigned long long)*seq, strerror(errno));
		close(fd);
		unlinkat(sp->fd, name, 0);
		return -1;
	}
	return fd;
}

int
spool_remove(struct spool *sp, uint64_t seq, char *err, size_t errsz)
{
	static const enum spool_file order[] = { SPOOL_DATA, SPOOL_META };
	char name[SPOOL_NAME_MAX];
	int rc = 0;
	size_t i;

	/* Data first: a manifest without data always means "delivered". */
	for (i = 0; i < 2; i++) {
		spool_name(seq, order[i], name);
		if (unlinkat(sp->fd, name, 0) != 0 && errno != ENOENT &&
		    rc == 0) {
			snprintf(err, errsz, "%s/%s: %s", sp->dir, name,
			    strerror(errno));
			rc = -1;
		}
	}
	return rc;
}

int
spool_part_open(struct spool *sp, struct spool_part *p,
    const struct spool_meta *m, char *err, size_t errsz)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->buf = malloc(PART_BUF);
	if (p->buf == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	p->fd = spool_create(sp, m, &p->seq, err, errsz);
	if (p->fd < 0) {
		spool_part_close(p);
		return -1;
	}
	return 0;
}

/* A write error of part p's data file into err; returns -1. */
static int
part_error(struct spool *sp, struct spool_part *p, const char *what,
    char *err, size_t errsz)
{
	snprintf(err, errsz, "%s/%016llu.ndjson: %s%s", sp->dir,
	    (unsigned long long)p->seq, what, strerror(errno));
	return -1;
}

int
spool_part_flush(struct spool *sp, struct spool_part *p, char *err,
    size_t errsz)
{
	if (p->blen > 0 && kpfs_write_all(p->fd, p->buf, p->blen) != 0)
		return part_error(sp, p, "", err, errsz);
	p->blen = 0;
	return 0;
}

int
spool_part_append(struct spool *sp, struct spool_part *p, const char *line,
    size_t len, char *err, size_t errsz)
{
	if (p->blen + len + 1 > PART_BUF &&
	    spool_part_flush(sp, p, err, errsz) != 0)
		return -1;
	if (len + 1 > PART_BUF) {
		/* A record larger than the buffer goes straight through. */
		if (kpfs_write_all(p->fd, line, len) != 0 ||
		    kpfs_write_all(p->fd, "\n", 1) != 0)
			return part_error(sp, p, "", err, errsz);
	} else {
		memcpy(p->buf + p->blen, line, len);
		p->buf[p->blen + len] = '\n';
		p->blen += len + 1;
	}
	p->bytes += len + 1;
	p->records++;
	return 0;
}

int
spool_part_seal(struct spool *sp, struct spool_part *p, char *err,
    size_t errsz)
{
	if (spool_part_flush(sp, p, err, errsz) != 0)
		return -1;
	if (fsync(p->fd) != 0)
		return part_error(sp, p, "fsync: ", err, errsz);
	return 0;
}

int
spool_part_reopen(struct spool *sp, struct spool_part *p, uint64_t seq,
    uint64_t bytes, uint64_t records, char *err, size_t errsz)
{
	char name[SPOOL_NAME_MAX];
	struct stat st;

	memset(p, 0, sizeof(*p));
	p->seq = seq;
	p->buf = malloc(PART_BUF);
	spool_name(seq, SPOOL_DATA, name);
	p->fd = openat(sp->fd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (p->buf == NULL || p->fd < 0)
		goto fail;
	if (fstat(p->fd, &st) != 0)
		goto fail;
	if ((uint64_t)st.st_size < bytes) {
		errno = EIO;
		snprintf(err, errsz, "%s/%s: %llu bytes, shorter than the %llu "
		    "committed", sp->dir, name, (unsigned long long)st.st_size,
		    (unsigned long long)bytes);
		spool_part_close(p);
		return -1;
	}
	if (ftruncate(p->fd, (off_t)bytes) != 0 ||
	    lseek(p->fd, 0, SEEK_END) < 0 || fsync(p->fd) != 0)
		goto fail;
	p->bytes = bytes;
	p->records = records;
	return 0;
fail:
	snprintf(err, errsz, "%s/%s: %s", sp->dir, name, p->buf == NULL ?
	    "out of memory" : strerror(errno));
	spool_part_close(p);
	return -1;
}

void
spool_part_close(struct spool_part *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	free(p->buf);
	p->buf = NULL;
}

void
spool_entries_free(struct spool_entry *e, size_t n)
{
	size_t i;

	for (i = 0; e != NULL && i < n; i++)
		spool_meta_clear(&e[i].meta);
	free(e);
}

/* ---- recovery ---- */

/* Cuts a torn last line of the data file fd (size *size): the file then
 * ends after its last newline.  Returns 0, or -1. */
static int
cut_torn_line(int fd, uint64_t seq, off_t *size)
{
	char buf[4096], c;
	off_t end = *size, at = end;

	if (end == 0)
		return 0;
	if (pread(fd, &c, 1, end - 1) != 1)
		return -1;
	if (c == '\n')
		return 0;
	/* Back to the last newline, or the start. */
	while (at > 0) {
		size_t k = at > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)at;
		ssize_t got = pread(fd, buf, k, at - (off_t)k);
		char *nl;

		if (got != (ssize_t)k)
			return -1;
		nl = memrchr(buf, '\n', k);
		if (nl != NULL) {
			at = at - (off_t)k + (nl - buf) + 1;
			break;
		}
		at -= (off_t)k;
	}
	msg_warn("spool file %016llu: cutting a torn last line (%lld bytes)",
	    (unsigned long long)seq, (long long)(end - at));
	if (ftruncate(fd, at) != 0 || fsync(fd) != 0)
		return -1;
	*size = at;
	return 0;
}

/* One record of a recovered part: counted, its time noted. */
static void
scan_record(struct spool_entry *e, struct jscan *js, int field,
    struct buf *tmp, const char *line, size_t len)
{
	const char *why;
	int64_t t;

	e->records++;
	if (js == NULL || jscan_line(js, line, len, &why) != 0 ||
	    jscan_time(jscan_get(js, field), KPTIME_AUTO, tmp, &t, &why) != 0)
		return;
	if (!e->have_times || t < e->first_ms)
		e->first_ms = t;
	if (!e->have_times || t > e->last_ms)
		e->last_ms = t;
	e->have_times = 1;
}

/* Counts the records of the data file fd and finds their times.  Returns
 * 0, or -1 on a read error. */
static int
scan_records(struct spool_entry *e, int fd, const struct stat *st)
{
	struct jf_path path = { NULL, NULL, 0 };
	struct jscan *js = NULL;
	struct nd_reader *r = NULL;
	struct buf tmp = BUF_INIT;
	int field = -1, rc = -1, nrc;
	char *line;
	size_t len;

	if (!e->meta.by_processing && e->meta.time_field != NULL &&
	    jf_path_init(&path, e->meta.time_field) == 0 &&
	    (js = jscan_new()) != NULL && (field = jscan_want(js, &path)) < 0) {
		jscan_free(js);
		js = NULL;
	}
	r = nd_reader_new(fd, "spool", RECOVER_MAX_LINE);
	if (r == NULL || lseek(fd, 0, SEEK_SET) != 0)
		goto out;
	while ((nrc = nd_next(r, &line, &len, -1)) != ND_EOF) {
		if (nrc == ND_TOOLONG)
			e->records++;
		else if (nrc == ND_LINE)
			scan_record(e, js, field, &tmp, line, len);
		else if (nrc != ND_INTR)
			goto out;
	}
	if (e->meta.by_processing && e->records > 0 &&
	    e->meta.opened_ms != INT64_MIN) {
		/* Processing time: from the part's opening to its last
		 * write. */
		e->first_ms = e->meta.opened_ms;
		e->last_ms = (int64_t)st->st_mtim.tv_sec * 1000 +
		    st->st_mtim.tv_nsec / 1000000;
		if (e->last_ms < e->first_ms)
			e->last_ms = e->first_ms;
		e->have_times = 1;
	}
	rc = 0;
out:
	nd_reader_free(r);
	jscan_free(js);
	jf_path_free(&path);
	buf_free(&tmp);
	return rc;
}

/* False when file f of part seq is there but not a regular file of this
 * user: planted by someone else (when the directory was open to others),
 * it is not ours to deliver. */
static int
spool_ours(struct spool *sp, uint64_t seq, enum spool_file f)
{
	char name[SPOOL_NAME_MAX];
	struct stat st;

	spool_name(seq, f, name);
	if (fstatat(sp->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 1;
	return S_ISREG(st.st_mode) && st.st_uid == geteuid();
}

/*
 * Reads part seq into *e.  Returns 1 when it is to be delivered, 0 when
 * there is nothing to deliver (delivered, empty, or left alone), -1 on a
 * read error (err set).
 */
static int
recover_one(struct spool *sp, uint64_t seq, struct spool_entry *e, char *err,
    size_t errsz)
{
	char data[SPOOL_NAME_MAX];
	struct stat st;
	off_t size;
	int fd, rc = -1;

	memset(e, 0, sizeof(*e));
	e->seq = seq;
	spool_name(seq, SPOOL_DATA, data);
	if (!spool_ours(sp, seq, SPOOL_META) || !spool_ours(sp, seq, SPOOL_DATA)) {
		msg_warn("%s/%016llu: a part that is not this user's: left "
		    "alone, never delivered", sp->dir, (unsigned long long)seq);
		return 0;
	}
	if (spool_meta_read(sp, seq, &e->meta) != 0) {
		msg_warn("%s/%016llu.meta: unreadable manifest: left alone",
		    sp->dir, (unsigned long long)seq);
		return 0;
	}
	fd = openat(sp->fd, data, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* Delivered; only its manifest was left. */
		spool_remove(sp, seq, err, errsz);
		spool_meta_clear(&e->meta);
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errsz, "%s/%s: cannot recover: %s", sp->dir, data,
		    strerror(errno));
		goto out;
	}
	size = st.st_size;
	if (cut_torn_line(fd, seq, &size) != 0 || scan_records(e, fd, &st) != 0) {
		snprintf(err, errsz, "%s/%s: cannot recover: read error",
		    sp->dir, data);
		goto out;
	}
	e->bytes = (uint64_t)size;
	rc = e->records > 0;
	if (rc == 0)
		spool_remove(sp, seq, err, errsz);
out:
	if (fd >= 0)
		close(fd);
	if (rc != 1)
		spool_meta_clear(&e->meta);
	return rc;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One name of the directory: a manifest's number goes to seqs; leftovers
 * are cleaned.  Returns 0, or -1 when memory is short. */
static int
list_one(struct spool *sp, const char *name, uint64_t **seqs, size_t *n,
    size_t *cap)
{
	unsigned long long v;
	char meta[SPOOL_NAME_MAX], *end;
	struct stat st;

	if (name[0] == '.') {
		/* A temporary manifest of an interrupted write. */
		size_t l = strlen(name);

		if (l > 5 && strcmp(name + l - 4, ".tmp") == 0)
			unlinkat(sp->fd, name, 0);
		return 0;
	}
	errno = 0;
	v = strtoull(name, &end, 10);
	if (errno != 0 || end == name ||
	    (strcmp(end, ".meta") != 0 && strcmp(end, ".ndjson") != 0))
		return 0;
	if (v + 1 > sp->next_seq)
		sp->next_seq = v + 1;
	if (strcmp(end, ".ndjson") == 0) {
		spool_name(v, SPOOL_META, meta);
		if (fstatat(sp->fd, meta, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
		    fstatat(sp->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return 0;
		if (st.st_size == 0)
			unlinkat(sp->fd, name, 0);
		else
			msg_warn("%s/%s: no manifest: left alone", sp->dir, name);
		return 0;
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		uint64_t *ns = realloc(*seqs, nc * sizeof(*ns));

		if (ns == NULL)
			return -1;
		*seqs = ns;
		*cap = nc;
	}
	(*seqs)[(*n)++] = v;
	return 0;
}

int
spool_list(struct spool *sp, uint64_t **seqs, size_t *n, char *err,
    size_t errsz)
{
	struct dirent *de;
	size_t cap = 0;
	DIR *d = NULL;
	int dfd, rc = -1;

	*seqs = NULL;
	*n = 0;
	dfd = openat(sp->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		snprintf(err, errsz, "%s: %s", sp->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (list_one(sp, de->d_name, seqs, n, &cap) != 0) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
	}
	if (*n > 0)
		qsort(*seqs, *n, sizeof(**seqs), cmp_u64);
	rc = 0;
out:
	closedir(d);
	return rc;
}

int
spool_recover(struct spool *sp, struct spool_entry **out, size_t *n,
    char *err, size_t errsz)
{
	struct spool_entry *es = NULL;
	uint64_t *seqs = NULL;
	size_t nseq = 0, i, k = 0;
	int rc = -1, r;

	*out = NULL;
	*n = 0;
	if (spool_list(sp, &seqs, &nseq, err, errsz) != 0)
		goto out;
	if (nseq > 0 && (es = calloc(nseq, sizeof(*es))) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	for (i = 0; i < nseq; i++) {
		r = recover_one(sp, seqs[i], &es[k], err, errsz);
		if (r < 0)
			goto out;
		k += (size_t)r;
	}
	*out = es;
	*n = k;
	es = NULL;
	rc = 0;
out:
	spool_entries_free(es, k);
	free(seqs);
	return rc;
}
