#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "ckpt.h"
#include "jfield.h"
#include "kpfs.h"
#include "kptime.h"
#include "msg.h"

#define COMMIT_FILE "commit.json"
/* A commit record holds a few positions a shard and the sink's state. */
#define MAX_FILE (64 * 1024 * 1024)

struct ckpt_dir {
	char *path;
	int fd;
	int lockfd;
};

int
ckpt_exit_status(enum ckpt_err e)
{
	switch (e) {
	case CKPT_OK:
		return 0;
	case CKPT_E_FOREIGN:
	case CKPT_E_NEWER:
	case CKPT_E_CORRUPT:
		return 2;
	default:
		return 1;
	}
}

/* ---- barriers ---- */

static void
pos_clear(struct ckpt_pos *p)
{
	free(p->shard);
	free(p->seq);
	free(p->start);
	memset(p, 0, sizeof(*p));
}

void
ckpt_barrier_clear(struct ckpt_barrier *b)
{
	size_t i;

	for (i = 0; i < b->npos; i++)
		pos_clear(&b->pos[i]);
	free(b->pos);
	free(b->job);
	free(b->stream);
	memset(b, 0, sizeof(*b));
}

struct ckpt_pos *
ckpt_pos_find(const struct ckpt_barrier *b, const char *shard)
{
	size_t i;

	for (i = 0; i < b->npos; i++)
		if (strcmp(b->pos[i].shard, shard) == 0)
			return &b->pos[i];
	return NULL;
}

struct ckpt_pos *
ckpt_pos_set(struct ckpt_barrier *b, const char *shard, const char *seq,
    const char *start)
{
	struct ckpt_pos *p = ckpt_pos_find(b, shard), np;
	int failed = 0;

	memset(&np, 0, sizeof(np));
	np.shard = buf_strdup(shard, &failed);
	np.seq = buf_strdup(seq, &failed);
	np.start = buf_strdup(start, &failed);
	if (failed)
		goto fail;
	if (p != NULL) {
		pos_clear(p);
		*p = np;
		return p;
	}
	p = realloc(b->pos, (b->npos + 1) * sizeof(*p));
	if (p == NULL)
		goto fail;
	b->pos = p;
	b->pos[b->npos] = np;
	return &b->pos[b->npos++];
fail:
	pos_clear(&np);
	return NULL;
}

int
ckpt_barrier_copy(struct ckpt_barrier *dst, const struct ckpt_barrier *src)
{
	int failed = 0;
	size_t i;

	memset(dst, 0, sizeof(*dst));
	dst->id = src->id;
	dst->final = src->final;
	dst->job = buf_strdup(src->job, &failed);
	dst->stream = buf_strdup(src->stream, &failed);
	for (i = 0; i < src->npos && !failed; i++) {
		const struct ckpt_pos *s = &src->pos[i];
		struct ckpt_pos *d = ckpt_pos_set(dst, s->shard, s->seq,
		    s->start);

		if (d == NULL) {
			failed = 1;
			break;
		}
		d->has_sub = s->has_sub;
		d->sub = s->sub;
		d->done = s->done;
	}
	if (failed) {
		ckpt_barrier_clear(dst);
		return -1;
	}
	return 0;
}

/* "positions":{...} of b. */
static void
positions_json(const struct ckpt_barrier *b, struct buf *out)
{
	size_t i;

	buf_lit(out, "\"positions\":{");
	for (i = 0; i < b->npos; i++) {
		const struct ckpt_pos *p = &b->pos[i];

		if (i > 0)
			buf_char(out, ',');
		buf_jstrz(out, p->shard);
		buf_char(out, ':');
		if (p->seq != NULL) {
			buf_lit(out, "{\"seq\":");
			buf_jstrz(out, p->seq);
			if (p->has_sub) {
				buf_lit(out, ",\"sub\":");
				buf_u64(out, p->sub);
			}
		} else {
			buf_lit(out, "{\"start\":");
			buf_jstrz(out, p->start != NULL ? p->start :
			    "trim-horizon");
		}
		if (p->done)
			buf_lit(out, ",\"done\":true");
		buf_char(out, '}');
	}
	buf_char(out, '}');
}

/* "id":N,"job":"J","stream":"S" */
static void
ident_json(const struct ckpt_barrier *b, struct buf *out)
{
	buf_lit(out, "\"job\":");
	buf_jstrz(out, b->job != NULL ? b->job : "");
	buf_lit(out, ",\"stream\":");
	buf_jstrz(out, b->stream != NULL ? b->stream : "");
}

void
ckpt_barrier_line(const struct ckpt_barrier *b, struct buf *out)
{
	buf_lit(out, "{\"__kinpipe\":{\"barrier\":");
	buf_u64(out, b->id);
	buf_lit(out, ",\"version\":");
	buf_u64(out, CKPT_VERSION);
	buf_char(out, ',');
	ident_json(b, out);
	buf_lit(out, ",\"final\":");
	if (b->final)
		buf_lit(out, "true,");
	else
		buf_lit(out, "false,");
	positions_json(b, out);
	buf_lit(out, "}}");
}

/* A whole number member >= 0 into *v; absent is an error. */
static int
get_u64(struct json_object *o, const char *key, uint64_t *v)
{
	struct json_object *m;

	if (!json_object_object_get_ex(o, key, &m) ||
	    !json_object_is_type(m, json_type_int) ||
	    json_object_get_int64(m) < 0)
		return -1;
	*v = (uint64_t)json_object_get_int64(m);
	return 0;
}

/* The positions object into b. */
static int
positions_parse(struct json_object *pos, struct ckpt_barrier *b, char *err,
    size_t errsz)
{
	if (!json_object_is_type(pos, json_type_object))
		return msg_seterr(err, errsz, "%s", "positions is not an object");
	json_object_object_foreach(pos, shard, v) {
		const char *seq = jf_str(v, "seq"), *start = jf_str(v, "start");
		struct json_object *m;
		struct ckpt_pos *p;

		if (v == NULL || !json_object_is_type(v, json_type_object) ||
		    (seq == NULL) == (start == NULL) || *shard == '\0')
			return msg_seterr(err, errsz, "%s", "a position needs a seq or a "
			    "start");
		p = ckpt_pos_set(b, shard, seq, start);
		if (p == NULL)
			return msg_seterr(err, errsz, "%s", "out of memory");
		if (json_object_object_get_ex(v, "sub", &m)) {
			if (seq == NULL || get_u64(v, "sub", &p->sub) != 0)
				return msg_seterr(err, errsz, "%s", "bad sub");
			p->has_sub = 1;
		}
		if (json_object_object_get_ex(v, "done", &m)) {
			if (!json_object_is_type(m, json_type_boolean))
				return msg_seterr(err, errsz, "%s", "bad done");
			p->done = json_object_get_boolean(m);
		}
	}
	return 0;
}

/* The members every barrier and commit record has. */
static int
barrier_members(struct json_object *o, struct ckpt_barrier *b,
    const char *idkey, char *err, size_t errsz)
{
	struct json_object *m;
	const char *job = jf_str(o, "job"), *stream = jf_str(o, "stream");
	int failed = 0;

	if (get_u64(o, idkey, &b->id) != 0)
		return msg_seterr(err, errsz, "%s", "no id");
	if (job == NULL || stream == NULL)
		return msg_seterr(err, errsz, "%s", "no job or stream");
	b->job = buf_strdup(job, &failed);
	b->stream = buf_strdup(stream, &failed);
	if (failed)
		return msg_seterr(err, errsz, "%s", "out of memory");
	if (json_object_object_get_ex(o, "final", &m))
		b->final = json_object_get_boolean(m);
	if (!json_object_object_get_ex(o, "positions", &m))
		return msg_seterr(err, errsz, "%s", "no positions");
	return positions_parse(m, b, err, errsz);
}

int
ckpt_barrier_parse(const char *line, size_t len, struct ckpt_barrier *b,
    char *err, size_t errsz)
{
	struct jf_parser jp;
	struct json_object *root = NULL, *k, *m;
	const char *why;
	uint64_t version = 0;
	int rc = -1;

	memset(b, 0, sizeof(*b));
	if (jf_parser_init(&jp) != 0)
		return msg_seterr(err, errsz, "%s", "out of memory");
	root = jf_parse_object(&jp, line, len, &why);
	if (root == NULL) {
		msg_seterr(err, errsz, "%s", why);
		goto out;
	}
	if (!json_object_object_get_ex(root, "__kinpipe", &k) ||
	    !json_object_is_type(k, json_type_object) ||
	    !json_object_object_get_ex(k, "barrier", &m)) {
		rc = 0; /* another kind of control line */
		goto out;
	}
	if (get_u64(k, "version", &version) != 0 || version == 0) {
		msg_seterr(err, errsz, "%s", "barrier without a version");
		goto out;
	}
	if (version > CKPT_VERSION) {
		snprintf(err, errsz, "barrier of a newer version (%" PRIu64
		    "; this kinpipe reads %d)", version, CKPT_VERSION);
		goto out;
	}
	if (barrier_members(k, b, "barrier", err, errsz) != 0)
		goto out;
	rc = 1;
out:
	if (rc != 1)
		ckpt_barrier_clear(b);
	json_object_put(root);
	jf_parser_free(&jp);
	return rc;
}

int
ckpt_job_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= CKPT_JOB_MAX && strspn(name,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

int
ckpt_job_from_stream(const char *stream, char *out, size_t outsz)
{
	const char *slash = strrchr(stream, '/');
	size_t i, n;

	/* arn:aws:kinesis:REGION:ACCOUNT:stream/NAME */
	if (strncmp(stream, "arn:", 4) == 0 && slash != NULL)
		stream = slash + 1;
	n = strlen(stream);
	if (n > CKPT_JOB_MAX)
		n = CKPT_JOB_MAX;
	if (n == 0 || outsz <= n)
		return -1;
	for (i = 0; i < n; i++) {
		char c = stream[i];

		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ?
		    c : '-';
	}
	out[n] = '\0';
	return 0;
}

/* ---- the directory ---- */

/* A checkpoint directory another user can write to could hold a commit
 * of theirs: refused (exit 2). */
static int
ckpt_trusted(struct ckpt_dir *d, enum ckpt_err *kind, char *err,
    size_t errsz)
{
	const char *why = NULL;
	int rc = kpfs_dir_private(d->fd, &why);

	if (rc == 1)
		return 0;
	if (rc < 0)
		return msg_seterr(err, errsz, "checkpoint directory %s: %s",
		    d->path, strerror(errno));
	*kind = CKPT_E_FOREIGN;
	return msg_seterr(err, errsz, "checkpoint directory %s %s: its files "
	    "cannot be trusted (kinpipe(7), CHECKPOINTS); give a directory of "
	    "your own, or check what it holds and make it yours alone (chown, "
	    "chmod 0700)", d->path, why);
}

int
ckpt_open(const char *path, const char *tool, struct ckpt_dir **out,
    enum ckpt_err *kind, char *err, size_t errsz)
{
	struct ckpt_dir *d = calloc(1, sizeof(*d));
	char lock[128];

	*out = NULL;
	*kind = CKPT_E_IO;
	if (d == NULL)
		return msg_seterr(err, errsz, "%s", "out of memory");
	d->fd = d->lockfd = -1;
	d->path = strdup(path);
	if (d->path == NULL) {
		msg_seterr(err, errsz, "%s", "out of memory");
		goto fail;
	}
	if (kpfs_mkdirs(path, 0700) != 0) {
		snprintf(err, errsz, "checkpoint directory %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd >= 0 && ckpt_trusted(d, kind, err, errsz) != 0)
		goto fail;
	snprintf(lock, sizeof(lock), ".%s.lock", tool);
	if (d->fd >= 0)
		d->lockfd = openat(d->fd, lock, O_RDWR | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (d->fd < 0 || d->lockfd < 0) {
		snprintf(err, errsz, "checkpoint directory %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (flock(d->lockfd, LOCK_EX | LOCK_NB) != 0) {
		*kind = errno == EWOULDBLOCK ? CKPT_E_BUSY : CKPT_E_IO;
		snprintf(err, errsz, "checkpoint directory %s is in use by "
		    "another %s (%s/%s is locked)", path, tool, path, lock);
		goto fail;
	}
	*kind = CKPT_OK;
	*out = d;
	return 0;
fail:
	ckpt_close(d);
	return -1;
}

void
ckpt_close(struct ckpt_dir *d)
{
	if (d == NULL)
		return;
	if (d->lockfd >= 0)
		close(d->lockfd);
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
}

const char *
ckpt_path(const struct ckpt_dir *d)
{
	return d->path;
}

int
ckpt_fd(const struct ckpt_dir *d)
{
	return d->fd;
}

int
ckpt_write_file(struct ckpt_dir *d, const char *name, const void *data,
    size_t len)
{
	return kpfs_write_atomic(d->fd, name, data, len);
}

int
ckpt_read_file(struct ckpt_dir *d, const char *name, char **data, size_t *len)
{
	struct buf b = BUF_INIT;
	int fd = openat(d->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = -1;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	for (;;) {
		ssize_t n;

		if (buf_reserve(&b, 65536) != 0) {
			errno = ENOMEM;
			goto out;
		}
		n = read(fd, b.p + b.len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len > MAX_FILE) {
			errno = EFBIG;
			goto out;
		}
	}
	*len = b.len;
	*data = buf_take(&b);
	rc = *data != NULL ? 0 : -1;
out:
	buf_free(&b);
	close(fd);
	return rc;
}

int
ckpt_remove_file(struct ckpt_dir *d, const char *name)
{
	if (unlinkat(d->fd, name, 0) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

void
ckpt_snapshot_name(const char *tool, uint64_t id, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s.%" PRIu64 ".state", tool, id);
}

int
ckpt_prune(struct ckpt_dir *d, const char *prefix, const char *suffix,
    uint64_t keep)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	struct dirent *e;
	DIR *dir;
	int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;

	if (fd < 0)
		return -1;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return -1;
	}
	while ((e = readdir(dir)) != NULL) {
		size_t len = strlen(e->d_name);
		unsigned long long id;
		char *end;

		if (len <= pl + sl || strncmp(e->d_name, prefix, pl) != 0 ||
		    strcmp(e->d_name + len - sl, suffix) != 0 ||
		    e->d_name[pl] < '0' || e->d_name[pl] > '9')
			continue;
		errno = 0;
		id = strtoull(e->d_name + pl, &end, 10);
		if (errno != 0 || end != e->d_name + len - sl || id >= keep)
			continue;
		if (unlinkat(d->fd, e->d_name, 0) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

/* ---- the commit record ---- */

void
ckpt_commit_clear(struct ckpt_commit *c)
{
	ckpt_barrier_clear(&c->b);
	free(c->committer);
	json_object_put(c->sink);
	memset(c, 0, sizeof(*c));
}

int
ckpt_write_commit(struct ckpt_dir *d, const struct ckpt_commit *c, char *err,
    size_t errsz)
{
	struct buf b = BUF_INIT;
	int rc = -1;

	buf_lit(&b, "{\"kinpipe\":\"commit\",\"version\":");
	buf_u64(&b, CKPT_VERSION);
	buf_lit(&b, ",\"id\":");
	buf_u64(&b, c->b.id);
	buf_char(&b, ',');
	ident_json(&c->b, &b);
	buf_lit(&b, ",\"committer\":");
	buf_jstrz(&b, c->committer != NULL ? c->committer : "");
	/* When, for a person reading the file: nothing depends on it. */
	buf_lit(&b, ",\"time\":");
	buf_time(&b, kptime_now_ms());
	buf_char(&b, ',');
	positions_json(&c->b, &b);
	if (c->sink != NULL) {
		buf_lit(&b, ",\"sink\":");
		buf_str(&b, json_object_to_json_string_ext(c->sink,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	buf_lit(&b, "}\n");
	if (b.failed) {
		msg_seterr(err, errsz, "%s", "out of memory");
		goto out;
	}
	if (ckpt_write_file(d, COMMIT_FILE, b.p, b.len) != 0) {
		snprintf(err, errsz, "%s/%s: %s", d->path, COMMIT_FILE,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* Fills c from the parsed record o.  0, or -1 with err and *kind. */
static int
commit_members(struct json_object *o, struct ckpt_commit *c,
    enum ckpt_err *kind, char *err, size_t errsz)
{
	const char *tag = jf_str(o, "kinpipe"), *who = jf_str(o, "committer");
	struct json_object *sink;
	uint64_t version = 0;

	*kind = CKPT_E_FOREIGN;
	if (tag == NULL || strcmp(tag, "commit") != 0)
		return msg_seterr(err, errsz, "%s", "not a kinpipe commit record");
	*kind = CKPT_E_CORRUPT;
	if (get_u64(o, "version", &version) != 0 || version == 0)
		return msg_seterr(err, errsz, "%s", "no version");
	if (version > CKPT_VERSION) {
		*kind = CKPT_E_NEWER;
		snprintf(err, errsz, "written by a newer kinpipe (format %"
		    PRIu64 "; this one reads %d): upgrade kinpipe", version,
		    CKPT_VERSION);
		return -1;
	}
	if (barrier_members(o, &c->b, "id", err, errsz) != 0)
		return -1;
	if (who == NULL || (c->committer = strdup(who)) == NULL)
		return msg_seterr(err, errsz, "%s", "no committer");
	if (json_object_object_get_ex(o, "sink", &sink))
		c->sink = json_object_get(sink);
	return 0;
}

int
ckpt_read_commit(struct ckpt_dir *d, struct ckpt_commit *c,
    enum ckpt_err *kind, char *err, size_t errsz)
{
	struct jf_parser jp = { NULL, { 0 } };
	struct json_object *o = NULL;
	char *data = NULL, why[256];
	const char *jwhy;
	size_t len;
	int rc = -1, r;

	memset(c, 0, sizeof(*c));
	*kind = CKPT_E_IO;
	r = ckpt_read_file(d, COMMIT_FILE, &data, &len);
	if (r == 1) {
		*kind = CKPT_OK;
		return 0;
	}
	if (r != 0) {
		snprintf(err, errsz, "%s/%s: %s", d->path, COMMIT_FILE,
		    strerror(errno));
		return -1;
	}
	if (jf_parser_init(&jp) != 0) {
		msg_seterr(err, errsz, "%s", "out of memory");
		goto out;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
		len--;
	o = jf_parse_object(&jp, data, len, &jwhy);
	*kind = CKPT_E_CORRUPT;
	if (o == NULL)
		msg_seterr(why, sizeof(why), "%s", jwhy);
	else if (commit_members(o, c, kind, why, sizeof(why)) == 0)
		rc = 1;
	if (rc != 1) {
		snprintf(err, errsz, "%s/%s: %s; the pipeline cannot resume "
		    "from it (kinpipe(7), CHECKPOINTS, says how to start "
		    "again)", d->path, COMMIT_FILE, why);
		ckpt_commit_clear(c);
	} else {
		*kind = CKPT_OK;
	}
out:
	json_object_put(o);
	jf_parser_free(&jp);
	free(data);
	return rc;
}
