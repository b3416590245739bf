/*
 * kpfs.h - durable files and directories: atomic replacement (write, fsync,
 * rename, fsync the directory), directory creation, walks below a root
 * directory that can never leave it, and publishing a file below one.
 *
 * Functions return 0 (or a descriptor) on success and -1 with errno set on
 * failure (kpfs_publish(): with a reason in a caller's buffer); nothing
 * here prints.
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
 * Is the directory fd ours alone to trust: owned by this user and writable
 * by nobody else?  Returns 1, or 0 with *why saying what is wrong ("is
 * owned by uid N", "is writable by its group or by others"), or -1 with
 * errno set.
 */
int kpfs_dir_private(int fd, const char **why);

/*
 * Creates the temporary file tmp in dirfd for writing, exclusively
 * (O_EXCL, O_NOFOLLOW), with mode.  A file already there is removed and
 * created again only when it is a leftover of ours: a regular file of
 * this user with no other hard link, or with one only, final (in dirfd,
 * if not NULL: the name a killed publish had already linked it to).
 * Anything else (a symbolic link, a hard link to another file, a FIFO, a
 * file of another user) stays, and the call fails with EEXIST and *why
 * saying what it is; other failures leave *why NULL.  Returns the
 * descriptor, or -1.
 */
int kpfs_create_tmp(int dirfd, const char *tmp, const char *final,
    mode_t mode, const char **why);

/*
 * Replaces the file name in dirfd by data, atomically: writes
 * ".<name>.tmp", fsyncs it, renames it over name and fsyncs dirfd.
 * After a crash either the old or the new file is there, whole.
 */
int kpfs_write_atomic(int dirfd, const char *name, const void *data,
    size_t len);
/* The same with the new file's mode (kpfs_write_atomic(): 0644). */
int kpfs_write_atomic_mode(int dirfd, const char *name, const void *data,
    size_t len, mode_t mode);

/* write() of every byte, retried on EINTR. */
int kpfs_write_all(int fd, const void *data, size_t len);

/*
 * Where kpfs_publish() gets a file's bytes: returns 1 with the next piece
 * in *data, *len (valid until the next call), 0 at the end, or -1 with
 * *why set (static or the source's own, valid until the next call).
 */
typedef int (*kpfs_source)(void *arg, const void **data, size_t *len,
    const char **why);

/*
 * Publishes a file at rel, a kpfs_rel_ok() path, below the directory rootfd,
 * the way an object store would: whole or not at all, and durably.  Its
 * directories are opened and created with kpfs_open_under() (never through
 * a symbolic link); the bytes from next(arg) go to ".NAME.tmp" beside it
 * (kpfs_create_tmp()), which is fsynced and then renamed over NAME, or, with
 * no_overwrite, linked to NAME (link() fails when NAME exists: the local
 * If-None-Match) and removed; the directory is then fsynced.  With
 * no_overwrite, an existing NAME whose MD5 is that of the new bytes counts
 * as published: the same file written by an earlier run.  md5 receives the
 * MD5 of the bytes.  A failed publish removes its temporary file.
 *
 * Returns 0 (published), 1 (no_overwrite: already there with the same
 * content), or -1 with the reason in err ("directory of REL: ...",
 * "already exists with other content (--no-overwrite)", ...).
 */
int kpfs_publish(int rootfd, const char *rel, int no_overwrite,
    kpfs_source next, void *arg, unsigned char md5[16], char *err,
    size_t errsz);

#endif
