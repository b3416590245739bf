#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "kpfs.h"

int
kpfs_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path), i;

	if (n == 0 || n >= sizeof(buf)) {
		errno = n == 0 ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	/* Each prefix ending before a '/', then the whole path. */
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		if (i < n)
			buf[i] = '/';
	}
	{
		struct stat st;

		if (stat(path, &st) != 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
	return 0;
}

int
kpfs_fsync_dir(int dirfd)
{
	/* Some file systems refuse fsync on a directory: nothing to do there. */
	if (fsync(dirfd) != 0 && errno != EINVAL && errno != EROFS)
		return -1;
	return 0;
}

int
kpfs_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc, e;

	if (fd < 0)
		return -1;
	rc = kpfs_fsync_dir(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

int
kpfs_rel_ok(const char *rel, size_t len)
{
	size_t i = 0;

	if (len == 0 || rel[0] == '/')
		return 0;
	while (i < len) {
		size_t j = i;

		while (j < len && rel[j] != '/') {
			if (rel[j] == '\0')
				return 0;
			j++;
		}
		if (j == i)
			return 0; /* empty segment: "a//b" or a trailing '/' */
		if ((j - i == 1 && rel[i] == '.') ||
		    (j - i == 2 && rel[i] == '.' && rel[i + 1] == '.'))
			return 0;
		if (j == len)
			break;
		i = j + 1;
		if (i == len)
			return 0;
	}
	return 1;
}

int
kpfs_open_under(int rootfd, const char *rel, size_t len, int create)
{
	char seg[NAME_MAX + 1];
	int fd, next, e;
	size_t i = 0;

	if (len == 0)
		return openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!kpfs_rel_ok(rel, len)) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (i < len) {
		size_t j = i;

		while (j < len && rel[j] != '/')
			j++;
		if (j - i > NAME_MAX) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(seg, rel + i, j - i);
		seg[j - i] = '\0';
		next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, seg, 0755) != 0 && errno != EEXIST)
				goto fail;
			if (kpfs_fsync_dir(fd) != 0)
				goto fail;
			next = openat(fd, seg, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0)
			goto fail;
		close(fd);
		fd = next;
		i = j + 1;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
kpfs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
kpfs_dir_private(int fd, const char **why)
{
	static char owner[48];
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -1;
	if (st.st_uid != geteuid()) {
		snprintf(owner, sizeof(owner), "is owned by uid %lu, not by "
		    "this user", (unsigned long)st.st_uid);
		*why = owner;
		return 0;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		*why = "is writable by its group or by others";
		return 0;
	}
	return 1;
}

/* Is tmp, a regular file of ours with two links, the other name of
 * final: what a publish killed between link() and unlink() leaves? */
static int
link_leftover(int dirfd, const struct stat *st, const char *final)
{
	struct stat f;

	return final != NULL && st->st_nlink == 2 &&
	    fstatat(dirfd, final, &f, AT_SYMLINK_NOFOLLOW) == 0 &&
	    f.st_dev == st->st_dev && f.st_ino == st->st_ino;
}

int
kpfs_create_tmp(int dirfd, const char *tmp, const char *final, mode_t mode,
    const char **why)
{
	struct stat st;
	int fd, tries;

	*why = NULL;
	for (tries = 0; tries < 2; tries++) {
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
		/* Something has the name: only a leftover of ours (a lone
		 * regular file we own, from a killed run) may go. */
		if (fstatat(dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;       /* gone meanwhile: try again */
		if (S_ISLNK(st.st_mode))
			*why = "is a symbolic link";
		else if (!S_ISREG(st.st_mode))
			*why = "is not a regular file";
		else if (st.st_uid != geteuid())
			*why = "belongs to another user";
		else if (st.st_nlink != 1 && !link_leftover(dirfd, &st, final))
			*why = "has other hard links";
		if (*why != NULL) {
			errno = EEXIST;
			return -1;
		}
		if (unlinkat(dirfd, tmp, 0) != 0 && errno != ENOENT)
			return -1;
	}
	errno = EEXIST;
	*why = "keeps being created again";
	return -1;
}

int
kpfs_write_atomic(int dirfd, const char *name, const void *data, size_t len)
{
	return kpfs_write_atomic_mode(dirfd, name, data, len, 0644);
}

int
kpfs_write_atomic_mode(int dirfd, const char *name, const void *data,
    size_t len, mode_t mode)
{
	const char *why;
	char tmp[NAME_MAX + 1];
	int fd = -1, e;
	int n = snprintf(tmp, sizeof(tmp), ".%s.tmp", name);

	if (n < 0 || (size_t)n >= sizeof(tmp) || strchr(name, '/') != NULL) {
		errno = n < 0 || strchr(name, '/') != NULL ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	fd = kpfs_create_tmp(dirfd, tmp, NULL, mode, &why);
	if (fd < 0)
		return -1;      /* and not ours to remove */
	if (kpfs_write_all(fd, data, len) != 0 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) != 0)
		goto fail;
	return kpfs_fsync_dir(dirfd);
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	errno = e;
	return -1;
}

/* A file read as a kpfs_source. */
struct fd_source {
	int fd;
	unsigned char buf[64 * 1024];
};

static int
fd_piece(void *arg, const void **data, size_t *len, const char **why)
{
	struct fd_source *fs = arg;
	ssize_t k;

	do
		k = read(fs->fd, fs->buf, sizeof(fs->buf));
	while (k < 0 && errno == EINTR);
	if (k < 0) {
		*why = strerror(errno);
		return -1;
	}
	*data = fs->buf;
	*len = (size_t)k;
	return k > 0;
}

/* The MD5 of every piece of next(arg), each also written to fd unless fd
 * is -1.  Returns 0, or -1 with err set ("WHAT: reason", or the source's
 * own reason). */
static int
md5_stream(kpfs_source next, void *arg, int fd, const char *what,
    unsigned char md5[16], char *err, size_t errsz)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const char *why = "read error";
	const void *data;
	unsigned int n = 0;
	size_t len;
	int r, rc = -1;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1) {
		snprintf(err, errsz, "%s: MD5 failed", what);
		goto out;
	}
	while ((r = next(arg, &data, &len, &why)) == 1) {
		if (fd >= 0 && kpfs_write_all(fd, data, len) != 0) {
			snprintf(err, errsz, "%s: %s", what, strerror(errno));
			goto out;
		}
		if (EVP_DigestUpdate(md, data, len) != 1) {
			snprintf(err, errsz, "%s: MD5 failed", what);
			goto out;
		}
	}
	if (r < 0)
		snprintf(err, errsz, "%s", why);
	else if (EVP_DigestFinal_ex(md, md5, &n) != 1)
		snprintf(err, errsz, "%s: MD5 failed", what);
	else
		rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* The MD5 of the regular file name in dirfd.  Returns 0, or -1 (also
 * for anything else there: a FIFO must not hang us). */
static int
file_md5(int dirfd, const char *name, unsigned char md5[16])
{
	struct fd_source fs;
	struct stat st;
	char err[64];
	int rc = -1;

	fs.fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fs.fd < 0)
		return -1;
	if (fstat(fs.fd, &st) == 0 && S_ISREG(st.st_mode))
		rc = md5_stream(fd_piece, &fs, -1, name, md5, err,
		    sizeof(err));
	close(fs.fd);
	return rc;
}

/* The bytes of next(arg) into the new file tmp in dfd, fsynced, and
 * their MD5.  Returns 0, or -1 with err set; -2 when tmp could not be
 * created (what has the name is not ours to remove). */
static int
publish_write(int dfd, const char *tmp, const char *name, kpfs_source next,
    void *arg, unsigned char md5[16], char *err, size_t errsz)
{
	const char *why;
	int fd, rc = -1;

	fd = kpfs_create_tmp(dfd, tmp, name, 0644, &why);
	if (fd < 0) {
		snprintf(err, errsz, "%s: %s", tmp, why != NULL ? why :
		    strerror(errno));
		if (why != NULL)
			snprintf(err + strlen(err), errsz - strlen(err),
			    ": not ours, left in place (remove it)");
		return -2;
	}
	if (md5_stream(next, arg, fd, tmp, md5, err, errsz) != 0)
		goto out;
	if (fsync(fd) != 0) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	/* close() may report a write error of its own. */
	if (close(fd) != 0 && rc == 0) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	return rc;
}

/*
 * Gives tmp the name name unless that exists (link() is the local
 * If-None-Match).  An existing name with the same MD5 is this very file,
 * delivered by an earlier run.  Returns 0 (linked), 1 (the same file was
 * there), or -1 with err set.
 */
static int
publish_link(int dfd, const char *tmp, const char *name,
    const unsigned char md5[16], char *err, size_t errsz)
{
	unsigned char other[16];

	if (linkat(dfd, tmp, dfd, name, 0) == 0) {
		if (unlinkat(dfd, tmp, 0) != 0) {
			snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != EEXIST) {
		snprintf(err, errsz, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (file_md5(dfd, name, other) != 0 || memcmp(other, md5, 16) != 0) {
		snprintf(err, errsz, "already exists with other content "
		    "(--no-overwrite)");
		return -1;
	}
	unlinkat(dfd, tmp, 0);
	return 1;
}

int
kpfs_publish(int rootfd, const char *rel, int no_overwrite,
    kpfs_source next, void *arg, unsigned char md5[16], char *err,
    size_t errsz)
{
	const char *slash = strrchr(rel, '/'), *name = slash ? slash + 1 : rel;
	char tmp[NAME_MAX + 1];
	int dfd, n, rc = -1, placed = 0;

	if (!kpfs_rel_ok(rel, strlen(rel))) {
		snprintf(err, errsz, "not a relative path below the directory: "
		    "%s", rel);
		return -1;
	}
	dfd = kpfs_open_under(rootfd, rel, slash ? (size_t)(slash - rel) : 0, 1);
	if (dfd < 0) {
		snprintf(err, errsz, "directory of %s: %s", rel, strerror(errno));
		return -1;
	}
	n = snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errsz, "name too long: %s", name);
		close(dfd);
		return -1;
	}
	if ((rc = publish_write(dfd, tmp, name, next, arg, md5, err,
	    errsz)) != 0) {
		if (rc == -2) {         /* the name is not ours: keep it */
			close(dfd);
			return -1;
		}
		rc = -1;
		goto out;
	}
	rc = -1;
	if (no_overwrite) {
		rc = publish_link(dfd, tmp, name, md5, err, errsz);
	} else if (renameat(dfd, tmp, dfd, name) != 0) {
		snprintf(err, errsz, "%s: %s", name, strerror(errno));
	} else {
		rc = 0;
	}
	placed = rc >= 0;
	if (placed && kpfs_fsync_dir(dfd) != 0) {
		snprintf(err, errsz, "fsync: %s", strerror(errno));
		rc = -1;
	}
out:
	/* Whatever failed, no temporary file is left behind; once renamed
	 * or linked away there is none, and the name may be another's. */
	if (rc < 0 && !placed)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return rc;
}
