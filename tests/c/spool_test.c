/*
 * spool_test - unit tests of the sink's spool (common/spool.c) and of the
 * local publish step (kpfs_publish(), common/kpfs.c), on a private folder:
 * the spool directory of a destination and its lock, parts written through
 * their buffer and sealed, manifests written and read back, the recovery
 * scan of what a crash leaves (torn last line, data without a manifest, a
 * manifest without data, temporary files, empty parts, event and
 * processing times), removal; publishing a file below a directory, with
 * and without --no-overwrite, through symbolic links never, and without
 * leaving a temporary file after a failure.
 *
 *   spool_test [-v]
 *
 * Prints TAP (tap.h) and exits 0 when every check passed.  Files go to a
 * folder under $TMPDIR (or /tmp), removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpfs.h"
#include "kptime.h"
#include "msg.h"
#include "spool.h"
#include "tap.h"

/* tmpdir/rel into out. */
static const char *
path(char *out, size_t outsz, const char *rel)
{
	tmp_path(out, outsz, rel);
	return out;
}

/* The file at p holds exactly want. */
static int
file_is(const char *p, const char *want)
{
	size_t n = 0;
	char *got = slurp(p, &n);
	int same = got != NULL && n == strlen(want) && strcmp(got, want) == 0;

	free(got);
	return same;
}

static int
exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static void
put_file(const char *p, const char *data)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || kpfs_write_all(fd, data, strlen(data)) != 0) {
		perror(p);
		exit(2);
	}
	close(fd);
}

/* ---- the spool ---- */

static struct spool *
open_spool(const char *base, const char *ident)
{
	char err[512];
	int cfg = 0;
	struct spool *sp = spool_open("s3-put", base, ident, err, sizeof(err),
	    &cfg);

	if (sp == NULL)
		diag("spool_open: %s", err);
	return sp;
}

static void
test_open(void)
{
	char base[4200], p[4400], err[512];
	struct spool *a, *b;
	int cfg = 0;

	section("the spool directory of a destination");
	path(base, sizeof(base), "spool");
	a = open_spool(base, "s3\nhttp://e\nbucket\np/\n");
	check(a != NULL, "spool_open creates the directory");
	if (a == NULL)
		return;
	check(strlen(a->dir) == strlen(base) + 17 &&
	    strncmp(a->dir, base, strlen(base)) == 0, "BASE/ and 16 hex digits");
	snprintf(p, sizeof(p), "%s/dest", a->dir);
	check(file_is(p, "s3\nhttp://e\nbucket\np/\n"),
	    "dest holds the destination's text");
	b = spool_open("s3-put", base, "s3\nhttp://e\nbucket\np/\n", err,
	    sizeof(err), &cfg);
	check(b == NULL && cfg == 0 && strstr(err, "is in use by another "
	    "s3-put") != NULL, "a second process of the destination is refused");
	b = open_spool(base, "file\n/x/\n");
	check(b != NULL && strcmp(a->dir, b->dir) != 0,
	    "another destination has its own directory");
	spool_close(b);
	spool_close(a);
	a = open_spool(base, "s3\nhttp://e\nbucket\np/\n");
	check(a != NULL, "the lock goes with spool_close()");
	spool_close(a);
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
	b = spool_open("s3-put", NULL, "x", err, sizeof(err), &cfg);
	check(b == NULL && cfg == 1 && strstr(err, "--spool-dir") != NULL,
	    "no base directory at all is a configuration error");
	setenv("XDG_STATE_HOME", tmpdir, 1);
	b = open_spool(NULL, "x");
	path(p, sizeof(p), "kinpipe/s3-put/");
	check(b != NULL && strncmp(b->dir, p, strlen(p)) == 0,
	    "$XDG_STATE_HOME/kinpipe/TOOL by default");
	spool_close(b);
}

static void
test_parts(void)
{
	char base[4200], p[4400], err[512], big[70000];
	struct spool_meta m, back;
	struct spool_part part;
	struct spool *sp;

	section("parts and manifests");
	path(base, sizeof(base), "parts");
	sp = open_spool(base, "parts");
	if (!check(sp != NULL, "spool opened"))
		return;
	memset(&m, 0, sizeof(m));
	m.key = "p/2024-08-08--23/part-x-0.json";
	m.time_field = "t.at";
	m.gzip = 1;
	m.opened_ms = 1723161255342LL;
	check(spool_part_open(sp, &part, &m, err, sizeof(err)) == 0 &&
	    part.seq == 0 && sp->next_seq == 1, "a part opens as number 0");
	check(spool_part_append(sp, &part, "{\"a\":1}", 7, err,
	    sizeof(err)) == 0 && part.records == 1 && part.bytes == 8,
	    "a record is counted with its newline");
	snprintf(p, sizeof(p), "%s/0000000000000000.ndjson", sp->dir);
	check(file_is(p, ""), "buffered, not written yet");
	memset(big, 'x', sizeof(big));
	check(spool_part_append(sp, &part, big, sizeof(big), err,
	    sizeof(err)) == 0, "a record larger than the buffer");
	check(spool_part_seal(sp, &part, err, sizeof(err)) == 0 &&
	    part.bytes == 8 + sizeof(big) + 1, "sealed");
	{
		struct stat st;

		check(stat(p, &st) == 0 && (uint64_t)st.st_size == part.bytes,
		    "the data file holds every byte, in order");
	}
	spool_part_close(&part);
	check(spool_meta_read(sp, 0, &back) == 0 &&
	    strcmp(back.key, m.key) == 0 && back.gzip == 1 &&
	    strcmp(back.time_field, "t.at") == 0 && !back.by_processing &&
	    back.opened_ms == m.opened_ms && back.upload_id == NULL,
	    "the manifest reads back");
	spool_meta_clear(&back);
	m.upload_id = "up&\"1";
	check(spool_meta_write(sp, 0, &m) == 0 && spool_meta_read(sp, 0,
	    &back) == 0 && strcmp(back.upload_id, "up&\"1") == 0,
	    "an upload id, escaped and read back");
	spool_meta_clear(&back);
	snprintf(p, sizeof(p), "%s/0000000000000000.meta", sp->dir);
	check(file_is(p, "{\"version\":1,"
	    "\"key\":\"p/2024-08-08--23/part-x-0.json\",\"gzip\":true,"
	    "\"bucket_by\":\"event-time\",\"time_field\":\"t.at\",\"opened\":"
	    "\"2024-08-08T23:54:15.342Z\",\"upload_id\":\"up&\\\"1\"}"),
	    "the manifest's JSON");
	put_file(p, "{\"key\":\"../x\"}");
	check(spool_meta_read(sp, 0, &back) == -1, "a key with '..' is refused");
	put_file(p, "not json");
	check(spool_meta_read(sp, 0, &back) == -1, "not JSON is refused");
	check(spool_remove(sp, 0, err, sizeof(err)) == 0 && !exists(p),
	    "removed");
	check(spool_remove(sp, 0, err, sizeof(err)) == 0,
	    "removing what is gone is no error");
	spool_close(sp);
}

/* Writes part seq with manifest m and data (NULL: no data file). */
static void
leave_part(struct spool *sp, uint64_t seq, const struct spool_meta *m,
    const char *data)
{
	char name[SPOOL_NAME_MAX], p[4400];

	if (m != NULL && spool_meta_write(sp, seq, m) != 0) {
		perror("spool_meta_write");
		exit(2);
	}
	if (data != NULL) {
		spool_name(seq, SPOOL_DATA, name);
		snprintf(p, sizeof(p), "%s/%s", sp->dir, name);
		put_file(p, data);
	}
}

static void
test_recover(void)
{
	char base[4200], p[4400];
	struct spool_meta m;
	struct spool_entry *es = NULL;
	struct spool *sp;
	char err[512];
	size_t n = 0;

	section("recovery");
	path(base, sizeof(base), "rec");
	sp = open_spool(base, "rec");
	if (!check(sp != NULL, "spool opened"))
		return;
	memset(&m, 0, sizeof(m));
	m.key = "k/a.json";
	m.time_field = "ts";
	m.opened_ms = INT64_MIN;
	/* 3: two records and a torn third. */
	leave_part(sp, 3, &m, "{\"ts\":\"2024-08-08T23:00:01Z\"}\n"
	    "{\"ts\":1723158000000}\n{\"ts\":\"2024-08");
	/* 5: delivered, only the manifest left. */
	leave_part(sp, 5, &m, NULL);
	/* 7: data, no manifest; 8: empty data, no manifest. */
	leave_part(sp, 7, NULL, "{\"ts\":1}\n");
	leave_part(sp, 8, NULL, "");
	/* 9: bucketed by processing time, upload id recorded. */
	m.key = "k/b.json";
	m.by_processing = 1;
	m.opened_ms = 1000;
	m.upload_id = "up-9";
	leave_part(sp, 9, &m, "{\"no time\":1}\n");
	/* 11: empty part; 12: unreadable manifest. */
	m.upload_id = NULL;
	leave_part(sp, 11, &m, "");
	leave_part(sp, 12, NULL, "{}\n");
	snprintf(p, sizeof(p), "%s/0000000000000012.meta", sp->dir);
	put_file(p, "{");
	snprintf(p, sizeof(p), "%s/.0000000000000013.meta.tmp", sp->dir);
	put_file(p, "{");
	check(spool_recover(sp, &es, &n, err, sizeof(err)) == 0,
	    "spool_recover runs");
	check(n == 2 && es[0].seq == 3 && es[1].seq == 9,
	    "parts 3 and 9 are to deliver, in order");
	if (n == 2) {
		check(es[0].records == 2 && es[0].bytes == 51,
		    "the torn last line is cut: 2 records, 51 bytes");
		check(es[0].have_times && es[0].first_ms == 1723158000000LL &&
		    es[0].last_ms == 1723158001000LL,
		    "first and last event time, through the time field");
		check(strcmp(es[1].meta.upload_id, "up-9") == 0 &&
		    strcmp(es[1].meta.key, "k/b.json") == 0,
		    "the manifest comes with the part");
		check(es[1].have_times && es[1].first_ms == 1000 &&
		    es[1].last_ms >= 1000, "processing time: opened, then mtime");
	}
	snprintf(p, sizeof(p), "%s/0000000000000003.ndjson", sp->dir);
	{
		struct stat st;

		check(stat(p, &st) == 0 && st.st_size == 51,
		    "the cut is on disk");
	}
	snprintf(p, sizeof(p), "%s/0000000000000005.meta", sp->dir);
	check(!exists(p), "a manifest without data is removed");
	snprintf(p, sizeof(p), "%s/0000000000000007.ndjson", sp->dir);
	check(exists(p), "data without a manifest is left alone");
	snprintf(p, sizeof(p), "%s/0000000000000008.ndjson", sp->dir);
	check(!exists(p), "empty data without a manifest is removed");
	snprintf(p, sizeof(p), "%s/0000000000000011.meta", sp->dir);
	check(!exists(p), "an empty part is removed");
	snprintf(p, sizeof(p), "%s/0000000000000012.meta", sp->dir);
	check(exists(p), "an unreadable manifest is left alone");
	snprintf(p, sizeof(p), "%s/.0000000000000013.meta.tmp", sp->dir);
	check(!exists(p), "a temporary manifest is removed");
	check(sp->next_seq == 13, "numbering goes on after the last number seen");
	spool_entries_free(es, n);
	spool_close(sp);
}

/* Parts this user did not write are never delivered: a part of another
 * user (root only can make one) and one whose data is not a regular file. */
static void
test_recover_foreign(void)
{
	struct spool_entry *es = NULL;
	struct spool_meta m;
	struct spool *sp;
	char err[512], p[4400];
	size_t n = 9;

	path(p, sizeof(p), "foreign");
	sp = open_spool(p, "foreign");
	if (!check(sp != NULL, "spool opened"))
		return;
	memset(&m, 0, sizeof(m));
	m.key = "k/planted.json";
	m.opened_ms = INT64_MIN;
	leave_part(sp, 1, &m, NULL);
	snprintf(p, sizeof(p), "%s/0000000000000001.ndjson", sp->dir);
	if (mkfifo(p, 0600) != 0)
		perror("mkfifo");
	if (geteuid() == 0) {
		leave_part(sp, 2, &m, "{\"planted\":1}\n");
		snprintf(p, sizeof(p), "%s/0000000000000002.ndjson", sp->dir);
		if (chown(p, 65534, 65534) != 0)
			perror("chown");
	}
	check(spool_recover(sp, &es, &n, err, sizeof(err)) == 0 && n == 0,
	    "a part whose data is not a regular file is left alone");
	if (geteuid() == 0)
		check(n == 0 && exists(p), "a part of another user is left "
		    "alone, never delivered");
	else
		check(1, "# SKIP a file of another user needs root to make");
	spool_entries_free(es, n);
	spool_close(sp);
}

/* ---- publish ---- */

struct pieces {
	const char *const *p;
	int i, fail_at;
};

static int
next_piece(void *arg, const void **data, size_t *len, const char **why)
{
	struct pieces *ps = arg;

	if (ps->i == ps->fail_at) {
		*why = "the source failed";
		return -1;
	}
	if (ps->p[ps->i] == NULL)
		return 0;
	*data = ps->p[ps->i];
	*len = strlen(ps->p[ps->i]);
	ps->i++;
	return 1;
}

static int
publish(int rootfd, const char *rel, int no_overwrite, const char *a,
    const char *b, int fail_at, char *err, size_t errsz)
{
	const char *p[3] = { a, b, NULL };
	struct pieces ps = { p, 0, fail_at };
	unsigned char md5[16];

	return kpfs_publish(rootfd, rel, no_overwrite, next_piece, &ps, md5,
	    err, errsz);
}

/* What already has a publish's temporary name: a leftover of ours is
 * replaced, anything else is refused and left alone. */
static void
test_publish_tmp(const char *dir, int rootfd)
{
	char tmp[4400], victim[4400], obj[4400], err[512];
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s/.t.json.tmp", dir);
	snprintf(obj, sizeof(obj), "%s/t.json", dir);
	spit(tmp, "half", 4);
	check(publish(rootfd, "t.json", 0, "whole\n", NULL, -1, err,
	    sizeof(err)) == 0 && file_is(obj, "whole\n") && !exists(tmp),
	    "a leftover temporary file of ours is replaced");
	path(victim, sizeof(victim), "victim");
	spit(victim, "precious", 8);
	if (link(victim, tmp) != 0)
		perror("link");
	check(publish(rootfd, "t.json", 0, "evil\n", NULL, -1, err,
	    sizeof(err)) == -1 && strstr(err, "has other hard links") != NULL,
	    "a hard link at the temporary name is refused");
	check(file_is(victim, "precious") && file_is(obj, "whole\n") &&
	    exists(tmp), "the linked file untouched, the name left in place");
	unlink(tmp);
	if (symlink(victim, tmp) != 0)
		perror("symlink");
	check(publish(rootfd, "t.json", 0, "evil\n", NULL, -1, err,
	    sizeof(err)) == -1 && strstr(err, "symbolic link") != NULL &&
	    file_is(victim, "precious"), "a symbolic link is refused");
	unlink(tmp);
	if (mkfifo(tmp, 0600) != 0)
		perror("mkfifo");
	check(publish(rootfd, "t.json", 0, "evil\n", NULL, -1, err,
	    sizeof(err)) == -1 && strstr(err, "not a regular file") != NULL,
	    "a FIFO is refused, without hanging");
	unlink(tmp);
	/* Killed between link() and unlink(): the name and the temporary
	 * file are one file, ours. */
	if (link(obj, tmp) != 0)
		perror("link");
	check(publish(rootfd, "t.json", 1, "whole\n", NULL, -1, err,
	    sizeof(err)) == 1 && file_is(obj, "whole\n") && !exists(tmp),
	    "a temporary file linked to its own name is a leftover of ours");
	snprintf(victim, sizeof(victim), "%s/f.json", dir);
	if (mkfifo(victim, 0600) != 0)
		perror("mkfifo");
	alarm(20);      /* a hang is a failure */
	check(publish(rootfd, "f.json", 1, "x\n", NULL, -1, err,
	    sizeof(err)) == -1 && strstr(err, "already exists") != NULL,
	    "a FIFO at the name itself is other content, without hanging");
	alarm(0);
	unlink(victim);
	if (geteuid() == 0) {
		spit(tmp, "theirs", 6);
		if (chown(tmp, 65534, 65534) != 0)
			perror("chown");
		check(publish(rootfd, "t.json", 0, "evil\n", NULL, -1, err,
		    sizeof(err)) == -1 && strstr(err, "another user") != NULL &&
		    stat(tmp, &st) == 0 && st.st_uid == 65534,
		    "a file of another user is refused and kept");
		unlink(tmp);
	} else {
		check(1, "# SKIP a file of another user needs root to make");
	}
}

static void
test_publish(void)
{
	char dir[4200], p[4400], err[512], link[4400];
	unsigned char md5[16];
	const char *hello[] = { "hel", "lo\n", NULL };
	struct pieces ps = { hello, 0, -1 };
	int rootfd;

	section("kpfs_publish");
	path(dir, sizeof(dir), "pub");
	kpfs_mkdirs(dir, 0755);
	rootfd = open(dir, O_RDONLY | O_DIRECTORY);
	check(kpfs_publish(rootfd, "a/b/c.json", 0, next_piece, &ps, md5, err,
	    sizeof(err)) == 0, "published below new directories");
	snprintf(p, sizeof(p), "%s/a/b/c.json", dir);
	check(file_is(p, "hello\n"), "the bytes, in order");
	check(md5[0] == 0xb1 && md5[1] == 0x94 && md5[15] == 0x84,
	    "the MD5 of the bytes");
	snprintf(p, sizeof(p), "%s/a/b/.c.json.tmp", dir);
	check(!exists(p), "no temporary file left");
	check(publish(rootfd, "a/b/c.json", 0, "new\n", NULL, -1, err,
	    sizeof(err)) == 0, "without no_overwrite a file is replaced");
	snprintf(p, sizeof(p), "%s/a/b/c.json", dir);
	check(file_is(p, "new\n"), "replaced");
	check(publish(rootfd, "a/b/c.json", 1, "new\n", NULL, -1, err,
	    sizeof(err)) == 1, "no_overwrite: the same content counts as there");
	check(publish(rootfd, "a/b/c.json", 1, "other\n", NULL, -1, err,
	    sizeof(err)) == -1 && strcmp(err, "already exists with other "
	    "content (--no-overwrite)") == 0,
	    "no_overwrite: other content is refused");
	check(file_is(p, "new\n"), "and the file is kept");
	check(publish(rootfd, "a/n.json", 1, "x", "y", -1, err,
	    sizeof(err)) == 0, "no_overwrite: a new name is linked");
	snprintf(p, sizeof(p), "%s/a/.n.json.tmp", dir);
	check(!exists(p), "and its temporary file removed");
	check(publish(rootfd, "a/f.json", 0, "x", "y", 1, err,
	    sizeof(err)) == -1 && strcmp(err, "the source failed") == 0,
	    "a failing source fails the publish");
	snprintf(p, sizeof(p), "%s/a/.f.json.tmp", dir);
	snprintf(link, sizeof(link), "%s/a/f.json", dir);
	check(!exists(p) && !exists(link), "leaving no file at all");
	path(p, sizeof(p), "outside");
	kpfs_mkdirs(p, 0755);
	snprintf(link, sizeof(link), "%s/ln", dir);
	if (symlink(p, link) != 0)
		perror("symlink");
	check(publish(rootfd, "ln/x.json", 0, "x", NULL, -1, err,
	    sizeof(err)) == -1 && strncmp(err, "directory of ln/x.json: ", 24)
	    == 0, "a symbolic link on the way is not followed");
	path(link, sizeof(link), "outside/x.json");
	check(!exists(link), "nothing written outside");
	check(publish(rootfd, "../x.json", 0, "x", NULL, -1, err,
	    sizeof(err)) == -1, "'..' is refused");
	test_publish_tmp(dir, rootfd);
	close(rootfd);
}

int
main(int argc, char **argv)
{
	char cmd[4200];

	if (tap_begin("spool_test", argc, argv) != 0)
		return 2;
	msg_verbosity = 0;
	test_open();
	test_parts();
	test_recover();
	test_recover_foreign();
	test_publish();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", tmpdir);
	if (system(cmd) != 0)
		diag("could not empty %s", tmpdir);
	return tap_end();
}
