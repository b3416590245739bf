/*
 * outbox.h - a sink's parts on their way to the destination: the glue
 * between the spool (spool.h) and the upload engine (s3up.h).
 *
 * A part whose spool file is sealed goes in the outbox and to the engine.
 * When the engine begins a multipart upload for it, its manifest learns
 * the upload id (outbox_record() is the engine's record callback), so
 * that a restart aborts what a crash left open.  A part delivered is
 * reported and its spool files are removed; a part the engine gave up on
 * is reported, keeps its spool files and is tried again, with a new series
 * of retries, OUTBOX_RETRY_MS later or at the next flush: a long outage
 * delays parts, it never loses them.  At start, outbox_recover() puts in
 * what an earlier run left in the spool.
 *
 * The outbox borrows the spool and the engine; the caller services the
 * engine and calls outbox_collect() after.  Nothing here prints except a
 * warning when a delivered part's spool file cannot be removed.
 */
#ifndef KP_OUTBOX_H
#define KP_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "s3up.h"
#include "spool.h"

/* A part that failed is tried again this long after. */
#define OUTBOX_RETRY_MS 30000

struct buf;
struct outbox;

/*
 * Told of each part finished, in the order parts went in: r->ok when it
 * was delivered (its spool files are then removed), else r->why says why
 * not (it waits to be tried again).  uri names the object.
 */
typedef void (*outbox_report)(void *arg, const struct spool_entry *e,
    const struct s3up_result *r, const char *uri);

/* Returns a new outbox over sp and up (borrowed), or NULL.  Free with
 * outbox_free(). */
struct outbox *outbox_new(struct spool *sp, struct s3up *up,
    outbox_report report, void *arg);

/* Frees the outbox and its parts (their jobs taken back from the engine
 * first); accepts NULL.  The spool files stay. */
void outbox_free(struct outbox *ob);

/* The engine's record callback (s3up_config.record): writes the upload
 * id, or its absence, into the part's manifest.  0, or -1. */
int outbox_record(void *part, const char *upload_id);

/* Puts a sealed part in the outbox, taking e's manifest strings.
 * Returns 0, or -1 when memory is short. */
int outbox_add(struct outbox *ob, struct spool_entry *e);

/* Puts in what an earlier run left in the spool (spool_recover()):
 * *n parts of *bytes bytes.  Returns 0, or -1 with err set. */
int outbox_recover(struct outbox *ob, size_t *n, uint64_t *bytes,
    char *err, size_t errsz);

/* Takes the parts the engine finished, in order: reported, then removed
 * or set aside to be tried again. */
void outbox_collect(struct outbox *ob);

/* Hands the parts set aside back to the engine once their time has come
 * (now, monotonic ms), or all of them with force.  Oldest first.  Returns
 * 0, or -1 when memory is short (the part stays in the spool). */
int outbox_retry(struct outbox *ob, int64_t now, int force);

/* The earlier of until and the time the next part set aside is due. */
int64_t outbox_wake(const struct outbox *ob, int64_t until);

/* Parts not delivered yet: with the engine or set aside. */
size_t outbox_left(const struct outbox *ob);

/* Parts the engine gave up on so far (a flush compares). */
unsigned long long outbox_failures(const struct outbox *ob);

/* Spool bytes of the parts not delivered yet. */
uint64_t outbox_bytes(const struct outbox *ob);

/* A delivered object's report line (kinpipe(7)'s s3-put output: uri,
 * records, bytes, etag, first_time, last_time), appended to b. */
void outbox_line(struct buf *b, const struct spool_entry *e,
    const struct s3up_result *r, const char *uri);

#endif
