/*
 * kpfs.h - durable files and directories: atomic replacement (write, fsync,
 * rename, fsync the directory), directory creation, and walks below a root
 * directory that can never leave it.
 *
 * Functions return 0 (or a descriptor) on success and -1 with errno set on
 * failure; nothing here prints.
 */
#ifndef KP_KPFS_H
#define KP_KPFS_H

#include <stddef.h>
#include <sys/types.h>

/* Creates path and every missing parent with mode (like mkdir -p).
 * An existing directory is not an error. */
int kpfs_mkdirs(const char *path, mode_t mode);

/* fsync() of the directory dirfd (or of the directory at path). */
int kpfs_fsync_dir(int dirfd);
int kpfs_fsync_path(const char *path);

/*
 * True when rel[0..len) is a relative path whose every '/'-separated
 * segment is non-empty and neither "." nor "..", with no NUL byte: such a
 * path, walked below a directory with kpfs_open_under(), stays inside it.
 */
int kpfs_rel_ok(const char *rel, size_t len);

/*
 * Opens the directory rel[0..len) below the directory rootfd, one segment
 * at a time with O_NOFOLLOW (a symbolic link anywhere on the way is ELOOP
 * or ENOTDIR), creating missing ones with mode 0755 when create is set (the
 * parent is fsynced after each creation).  len 0 opens rootfd itself
 * again.  A path failing kpfs_rel_ok() is EINVAL.  Returns a new
 * descriptor (close it), or -1.
 */
int kpfs_open_under(int rootfd, const char *rel, size_t len, int create);

/*
 * Replaces the file name in dirfd by data, atomically: writes
 * ".<name>.tmp", fsyncs it, renames it over name and fsyncs dirfd.
 * After a crash either the old or the new file is there, whole.
 */
int kpfs_write_atomic(int dirfd, const char *name, const void *data,
    size_t len);

/* write() of every byte, retried on EINTR. */
int kpfs_write_all(int fd, const void *data, size_t len);

#endif
