#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
kpfs_write_atomic(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[NAME_MAX + 1];
	int fd = -1, e;
	int n = snprintf(tmp, sizeof(tmp), ".%s.tmp", name);

	if (n < 0 || (size_t)n >= sizeof(tmp) || strchr(name, '/') != NULL) {
		errno = n < 0 || strchr(name, '/') != NULL ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
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
