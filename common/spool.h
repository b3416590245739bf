/*
 * spool.h - the on-disk spool of a sink, independent of where its objects
 * go: one directory per destination, locked by the one process writing to
 * that destination, holding a data file of records per part and a small
 * JSON manifest naming the object the records belong to.
 *
 * Layout of a spool directory:
 *   lock                 flock()ed while a process uses the directory
 *   dest                 the text identifying the destination
 *   NNNNNNNNNNNNNNNN.ndjson   a part's records, one a line
 *   NNNNNNNNNNNNNNNN.meta     its manifest (written atomically)
 * Part files are numbered in the order they were opened.  A manifest is
 * written after its data file is created, and removed after it (data
 * first): a data file without a manifest can only be empty, a manifest
 * without data was delivered.
 *
 * Functions return 0 (or a descriptor) or -1; errors go to a caller's
 * buffer, except that the recovery scan warns on stderr (msg.h) about the
 * files it leaves alone or repairs.
 */
#ifndef KP_SPOOL_H
#define KP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Room for a part file's name ("%016llu.ndjson"). */
#define SPOOL_NAME_MAX 32

enum spool_file { SPOOL_DATA, SPOOL_META };

struct spool {
	char *dir;           /* the directory's path */
	int fd;              /* the directory */
	int lockfd;          /* holds the lock */
	uint64_t next_seq;   /* number of the next part file */
};

/* A part's manifest: what a restart needs to deliver it the same way. */
struct spool_meta {
	char *key;           /* the object's key */
	int gzip;            /* the object is the records gzip-compressed */
	int by_processing;   /* bucketed by processing time */
	char *time_field;    /* path of the event time, or NULL */
	int64_t opened_ms;   /* wall-clock time the part opened, or INT64_MIN */
	char *upload_id;     /* a multipart upload begun for it, or NULL */
};

/* A part found by spool_recover(). */
struct spool_entry {
	uint64_t seq;
	struct spool_meta meta;
	uint64_t bytes, records;
	int64_t first_ms, last_ms;   /* event times, or processing times */
	int have_times;
	int recovered;               /* left by an earlier process (not
	                              * stored) */
};

/*
 * Opens the spool directory of a destination: BASE/HASH, where BASE is
 * base, or else $XDG_STATE_HOME/kinpipe/TOOL, or else
 * $HOME/.local/state/kinpipe/TOOL, and HASH is the first 16 hex digits of
 * the SHA-256 of ident, a text naming the destination.  Creates it (mode
 * 0700), takes its lock ("spool directory ... is in use by another TOOL"
 * when another process holds it) and writes ident to "dest".  Returns a
 * new spool (spool_close() it), or NULL with the reason in err and
 * *config_error set when the configuration is to blame (no base
 * directory at all).
 */
struct spool *spool_open(const char *tool, const char *base,
    const char *ident, char *err, size_t errsz, int *config_error);

/* Releases the lock and frees sp; accepts NULL.  Files stay. */
void spool_close(struct spool *sp);

/* The name of part file seq. */
void spool_name(uint64_t seq, enum spool_file f, char out[SPOOL_NAME_MAX]);

/*
 * Creates the data file of a new part and then its manifest m (one
 * directory fsync covers both).  Returns the data file's descriptor
 * (read-write; close it), with its number in *seq, or -1 with err set.
 */
int spool_create(struct spool *sp, const struct spool_meta *m, uint64_t *seq,
    char *err, size_t errsz);

/*
 * A part being written: records go through a buffer into its data file.
 * Errors are "DIR/NNNNNNNNNNNNNNNN.ndjson: reason" in err.
 */
struct spool_part {
	uint64_t seq;
	int fd;
	char *buf;           /* records not yet written to the file */
	size_t blen;
	uint64_t bytes, records;
};

/* Opens a new part (spool_create()) with manifest m.  Returns 0, or -1
 * with err set (p is then closed). */
int spool_part_open(struct spool *sp, struct spool_part *p,
    const struct spool_meta *m, char *err, size_t errsz);

/* Appends one record, line[0..len) and a newline.  Returns 0, or -1. */
int spool_part_append(struct spool *sp, struct spool_part *p,
    const char *line, size_t len, char *err, size_t errsz);

/* Writes out what the buffer holds.  Returns 0, or -1. */
int spool_part_flush(struct spool *sp, struct spool_part *p, char *err,
    size_t errsz);

/* Flushes and fsyncs the part: its records are durable.  Returns 0, or -1. */
int spool_part_seal(struct spool *sp, struct spool_part *p, char *err,
    size_t errsz);

/*
 * Opens part seq again, to append to it: its data file is cut back to
 * bytes (what a checkpoint committed; anything after was not) and fsynced;
 * records is its count.  Returns 0, or -1 with err set (also when the file
 * is shorter than bytes).
 */
int spool_part_reopen(struct spool *sp, struct spool_part *p, uint64_t seq,
    uint64_t bytes, uint64_t records, char *err, size_t errsz);

/* Closes the data file and frees the buffer (the files stay); accepts
 * a part never opened (zeroed, fd -1). */
void spool_part_close(struct spool_part *p);

/* Replaces the manifest of part seq, atomically.  Returns 0, or -1 with
 * errno set. */
int spool_meta_write(struct spool *sp, uint64_t seq, const struct spool_meta *m);

/* Reads the manifest of part seq into m (spool_meta_clear() it).  Returns
 * 0, or -1 when it is missing or not a manifest with a valid key. */
int spool_meta_read(struct spool *sp, uint64_t seq, struct spool_meta *m);

/* Frees the strings of m and zeroes it; accepts NULL. */
void spool_meta_clear(struct spool_meta *m);

/* Removes part seq: the data first, then the manifest.  Returns 0, or -1
 * with err set (a file that is already gone is no error). */
int spool_remove(struct spool *sp, uint64_t seq, char *err, size_t errsz);

/*
 * Scans what an earlier process left: removes temporary manifests of an
 * interrupted write, empty data files without a manifest and manifests
 * whose data was delivered; leaves alone (with a warning) data without a
 * manifest and unreadable manifests; cuts a torn last line (only a crash
 * of the machine leaves one); counts each part's records and finds their
 * first and last event time (or, bucketed by processing time, the time
 * the part opened and its file's last change).  Parts without a record
 * are removed.  Sets sp->next_seq past every number seen.
 *
 * Returns 0 with the parts in *out (in order; spool_entries_free() them)
 * and their count in *n, or -1 with err set when the directory cannot be
 * read.
 */
int spool_recover(struct spool *sp, struct spool_entry **out, size_t *n,
    char *err, size_t errsz);

/*
 * The numbers of the parts with a manifest, sorted, in a new array *seqs
 * (*n of them), after the same cleaning as spool_recover() and with
 * sp->next_seq set past every number seen.  Returns 0, or -1 with err.
 */
int spool_list(struct spool *sp, uint64_t **seqs, size_t *n, char *err,
    size_t errsz);
void spool_entries_free(struct spool_entry *e, size_t n);

#endif
