/*
 * winstate_int.h - what the two halves of the window state module share:
 * winstate.c (keys, windows, firing) and winstate_io.c (the serialised
 * form).  Not for other modules: use winstate.h.
 */
#ifndef KP_WINSTATE_INT_H
#define KP_WINSTATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "winstate.h"

/*
 * Room for element n of the array p of *cap elements of size sz: doubles
 * the array (to first elements when empty) when n has reached *cap.
 * Returns the array, moved or not, or NULL when memory is short (p is then
 * unchanged and still the caller's).
 */
void *wsi_grow(void *p, size_t *cap, size_t n, size_t sz, size_t first);

/* Checks o against the ranges of winstate.h.  Returns 0, or -1 with the
 * reason in err. */
int wsi_opts_check(const struct ws_opts *o, char *err, size_t errsz);

/* A new key with identity id[0..idlen), last in first-seen order; no
 * --max-keys check.  NULL when memory is short. */
struct ws_key *wsi_key_new(struct ws *s, const char *id, size_t idlen);

/* The key with that identity, or NULL. */
struct ws_key *wsi_key_find(const struct ws *s, const char *id, size_t idlen);

/* Appends a zeroed window to k's list; NULL when memory is short. */
struct ws_win *wsi_win_push(struct ws_key *k);

/* Keeps a record's bytes in w.  Returns 0, or -1 when memory is short. */
int wsi_win_keep(struct ws_win *w, const char *line, size_t len, size_t brace,
    int empty);

/* When w next needs work: its end, or once fired the end of its
 * lateness. */
int64_t wsi_win_due(const struct ws *s, const struct ws_win *w);

/* Recomputes what a load does not read: unfired, next_due, the live
 * count and the queues.  Returns 0, or -1 when memory is short. */
int wsi_derive(struct ws *s);

/* Forgets k entirely (frees it). */
void wsi_key_remove(struct ws *s, struct ws_key *k);

/* After k's windows changed: its live count, its place in the timer
 * queue; a key holding nothing is retired (per-key watermark: only its
 * watermark stays) or forgotten (global).  Returns 0 or WS_NOMEM. */
int wsi_key_settle(struct ws *s, struct ws_key *k);

#endif
