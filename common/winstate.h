/*
 * winstate.h - the window state of window-stats: keys, their event-time
 * windows and accumulators, watermarks, lateness, the trailing history of
 * closed windows and the records each open window holds, and a serialised
 * form of all of it that a checkpoint writes and a restart reads back.
 *
 * The semantics are Flink's, as window-stats(1) documents them: windows
 * [s, s + size) start every slide from the epoch plus offset
 * (TimeWindow.getWindowStartWithOffset); the watermark is the largest
 * event time seen minus the out-of-orderness, per key or over all keys,
 * never below what --idle-timeout raised it to; a window fires once the
 * watermark reaches its end, and is kept for the allowed lateness after
 * that, a record reaching it then re-firing it at once; windows due
 * together fire in the order of window end, then start, then key in
 * first-seen order.
 *
 * A key costs what it must remember.  Once its windows have all fired and
 * the allowed lateness has passed them, its windows go: under a per-key
 * watermark the key keeps its watermark (a late record must stay late);
 * under the global watermark it is forgotten, and if it comes back it is
 * a new key, last in first-seen order.  With --key-ttl a key whose last
 * event time the stream's watermark (the largest event time of all keys
 * minus the out-of-orderness, checked as each key is looked up) has passed
 * by the TTL fires its open windows and is forgotten, whatever the
 * watermark mode.  Under the global watermark a timer queue (a heap of
 * keys by their next due time, as Flink's timer service) finds the windows
 * due, so that firing costs in proportion to the windows that fire.
 *
 * What a firing writes is the caller's: ws_on_fire() names a function
 * that the state calls for every firing, in that order.  The state keeps
 * everything that carries from one record to the next; the caller keeps
 * its options, its output and its loop.
 *
 * Nothing here prints: errors are return values, with text in a caller's
 * buffer where there is more to say than "out of memory".
 *
 * ---- The serialised form, version 2 ----
 *
 * NDJSON: one JSON object per line, UTF-8, each line ended by "\n", so that
 * `cat` shows it and `jq` reads it.  Times are whole milliseconds since the
 * epoch (UTC), or null for "none yet"; counts are whole numbers; every other
 * number is a double in the shortest form that reads back to the same bits
 * (-0 included), or one of the strings "NaN", "Infinity", "-Infinity".
 * The lines, in this order:
 *
 *   the header: "format":"kinpipe-window-state" and "version":2; the
 *     options that shape the results, compared with the reader's own:
 *     "size", "slide", "offset", "out_of_orderness", "allowed_lateness"
 *     (ms), "watermark" ("per-key"|"global"), "emit"
 *     ("windows"|"records"|"trailing"), "trailing", "time_field",
 *     "value_field", "key_field", "weight_field" (paths as given, null when
 *     absent), "window_field"; the global watermark's inputs: "max_time"
 *     (largest event time seen) and "idle_floor" (what --idle-timeout
 *     raised the global watermark to); the counters "records", "late",
 *     "fired", "refired", "control"; "keys", the number of keys; and
 *     "key_ttl" (ms, 0 for none), compared too.
 *   for each key held, in first-seen order (a load numbers them again;
 *   the timer and TTL queues are rebuilt from the windows and max_time):
 *     {"t":"key","key":K,"max_time":T,"idle_floor":T,"windows":N,"closed":M}
 *     K is the key's JSON value: null without --key-field, a string
 *     (whose bytes are the key) or another value's text without blanks.
 *     max_time and idle_floor are the key's own watermark inputs.
 *     then its N open or retained windows, by start, each
 *       {"t":"window","start":T,"end":T,"fires":F,"records":R,"acc":A}
 *       (F: times fired so far) followed by its R buffered records
 *       (--emit records, before the window's first firing), in input order
 *       {"t":"record","brace":B,"empty":false,"line":"<the record>"}
 *       (the record's bytes exactly, as a JSON string; B the offset of its
 *       closing brace, empty whether the object has no member)
 *     then its M closed windows (--emit trailing), oldest first
 *       {"t":"closed","start":T,"end":T,"acc":A}
 *   last: {"t":"end","lines":N,"crc32":C}, N the lines before it and C the
 *     CRC-32 (zlib's) of all their bytes.
 *
 * An accumulator A is {"n":count, "shift":the first value, "mean" and "m2":
 * Welford's mean and squared deviations of value - shift, "sum" and
 * "sum_c": the Neumaier sum of value - shift and its compensation, "min",
 * "max", "first_time", "first", "last_time", "last", "wsum" and "wsum_c":
 * the weights, "wsum_x" and "wsum_x_c": weight * (value - shift)}.
 *
 * For example, the state of `window-stats --key-field symbol --emit
 * records` after the one record {"timestamp":70,"symbol":"BTCUSDT",
 * "price":1} (each object is one line; broken here to fit):
 *
 *   {"format":"kinpipe-window-state","version":2,"size":60000,
 *    "slide":60000,"offset":0,"out_of_orderness":0,"allowed_lateness":0,
 *    "watermark":"per-key","emit":"records","trailing":1,
 *    "time_field":"timestamp","value_field":"price","key_field":"symbol",
 *    "weight_field":null,"window_field":"window","max_time":70000,
 *    "idle_floor":null,"records":1,"late":0,"fired":0,"refired":0,
 *    "control":0,"keys":1,"key_ttl":0}
 *   {"t":"key","key":"BTCUSDT","max_time":70000,"idle_floor":null,
 *    "windows":1,"closed":0}
 *   {"t":"window","start":60000,"end":120000,"fires":0,"records":1,
 *    "acc":{"n":1,"shift":1,"mean":0,"m2":0,"sum":0,"sum_c":0,"min":1,
 *    "max":1,"first_time":70000,"first":1,"last_time":70000,"last":1,
 *    "wsum":0,"wsum_c":0,"wsum_x":0,"wsum_x_c":0}}
 *   {"t":"record","brace":44,"empty":false,
 *    "line":"{\"timestamp\":70,\"symbol\":\"BTCUSDT\",\"price\":1}"}
 *   {"t":"end","lines":4,"crc32":2135341039}
 *
 * A reader checks, in this order: the format name; the version (it reads
 * its own and version 1, and refuses a newer one by name, so a later
 * change of the form must raise WS_FORMAT_VERSION); the final newline and the end line's count and
 * checksum; the shaping options, a mismatch naming the option; then every
 * line: types, ranges, the order of windows and their alignment to size,
 * slide and offset, the watermark invariants (an open window ends after its
 * key's watermark, a retained one within the allowed lateness), buffered
 * records that are JSON objects matching their brace, empty flag and
 * count.  Members a line does not need are ignored.
 *
 * Version 1 (before keys were forgotten) is version 2 without "key_ttl":
 * it loads as a state without --key-ttl (a run with --key-ttl refuses
 * it, naming the option), and under the global watermark its keys that
 * hold nothing are forgotten on load.  The header's max_time equals the
 * largest of the keys' unless keys may have been forgotten (global
 * watermark, --key-ttl), where it is at least that.
 */
#ifndef KP_WINSTATE_H
#define KP_WINSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "htab.h"

#define WS_FORMAT_NAME "kinpipe-window-state"
#define WS_FORMAT_VERSION 2

/* Most windows one record may belong to (size / slide). */
#define WS_MAX_WINDOWS_PER_RECORD 10000

/* Most closed windows --emit trailing keeps per key. */
#define WS_MAX_TRAILING 1000

/* Longest size, out-of-orderness or lateness (about 35,000 years): event
 * times, window bounds and their sums stay far from int64 overflow. */
#define WS_DURATION_MAX (INT64_C(1) << 50)

/* "No event time yet" (an empty watermark, no idle floor). */
#define WS_NO_TIME INT64_MIN

/* Results besides 0, and besides what the fire function returns. */
enum {
	WS_LATE = 1,        /* ws_add(): too late for every window */
	WS_FULL = 2,        /* ws_key(): --max-keys reached */
	WS_NOMEM = -64,     /* out of memory */
};

enum ws_emit {
	WS_EMIT_WINDOWS,
	WS_EMIT_RECORDS,    /* windows keep their records until they fire */
	WS_EMIT_TRAILING,   /* keys keep their last closed windows */
};

/* The options of a state.  Strings are borrowed: they must outlive it. */
struct ws_opts {
	int64_t size, slide, offset;   /* ms; 1 <= slide <= size,
	                                * |offset| < slide */
	int64_t ooo, lateness;         /* ms, >= 0 */
	int global;                    /* one watermark over all keys */
	enum ws_emit emit;
	uint64_t trailing;             /* closed windows kept per key, >= 1 */
	uint64_t max_keys;             /* keys holding windows at once, 0: no
	                                * limit (not saved: a run may change
	                                * it; keys already held stay) */
	int64_t key_ttl;               /* ms, 0: none; forget a key once the
	                                * stream's watermark is this far past
	                                * its last event time (saved and
	                                * compared) */
	/* The fields, saved and compared only: NULL when absent. */
	const char *time_field, *value_field, *key_field, *weight_field;
	const char *window_field;
};

/*
 * Running statistics of one window.  Values are taken relative to the
 * window's first value (shift), so that prices around 60,000 with cent-size
 * deviations keep their low digits; the squared deviations follow Welford,
 * the sums are Neumaier-compensated.
 */
struct ws_acc {
	uint64_t n;
	double shift;
	double wmean, m2;    /* Welford: mean of x - shift, squared
	                      * deviations */
	double sum, sumc;    /* sum of x - shift, and its compensation */
	double min, max;
	int64_t first_ts, last_ts;
	double first, last;
	double wsum, wsumc;  /* weights */
	double wx, wxc;      /* weight * (x - shift) */
};

/* A buffered record: where its bytes are in the window's buffer, and
 * where its closing brace is. */
struct ws_rec {
	size_t off, len, brace;
	int empty;
};

struct ws_win {
	int64_t start, end;
	uint32_t fires;      /* times fired so far */
	struct ws_acc acc;
	/* --emit records: the window's records, verbatim and in input order,
	 * until its first firing (the fire function reads them). */
	char *buf;
	size_t blen, bcap;
	struct ws_rec *recs;
	size_t nrec, crec;
};

/* A closed window as --emit trailing remembers it. */
struct ws_closed {
	int64_t start, end;
	struct ws_acc acc;
};

/* Key kinds: the first byte of a key's identity. */
enum {
	WS_KEY_NONE = 0,     /* no --key-field: the one key, identity "" */
	WS_KEY_STRING = 's', /* "s" + the string's bytes */
	WS_KEY_JSON = 'j',   /* "j" + the value's JSON text without blanks */
};

struct ws_key {
	char *id;            /* identity, NUL-terminated */
	size_t idlen;
	uint64_t seq;        /* first-seen order */
	int64_t maxts;       /* largest event time of this key */
	int64_t floor;       /* watermark raised by --idle-timeout */
	struct ws_win *w;    /* open (and retained fired) windows, by start */
	size_t nw, cw;
	int64_t next_due;    /* no window needs work before W reaches this */
	size_t ix;           /* position in ws.keys */
	size_t qpos[2];      /* positions in the timer and TTL queues */
	int live;            /* holds windows (open, retained or closed) */
	struct ws_closed *closed;  /* trailing: last N closed, oldest first */
	size_t nclosed;
	/* The caller's text derived from the closed windows (window-stats
	 * keeps its trailing member here): the state frees it, and clears
	 * text_ok whenever the closed windows change.  Never saved. */
	struct buf text;
	int text_ok;
};

struct ws_counts {
	unsigned long long records;  /* placed in a window */
	unsigned long long late;     /* in no window */
	unsigned long long fired;    /* firings, re-firings included */
	unsigned long long refired;
	unsigned long long control;  /* control lines: counted by the caller */
};

/*
 * Called for each firing of window w of key k, in order; w->fires is the
 * number of earlier firings (0 the first time).  In --emit records, at a
 * first firing w->recs are the window's records (freed afterwards); a
 * re-firing is caused by the record the caller is adding.  Returns 0, or a
 * value (other than the WS_ ones) that stops the state's work and is
 * returned to the caller as it is.
 */
typedef int (*ws_fire_fn)(void *ctx, const struct ws_key *k,
    const struct ws_win *w);

/* A queue of keys (a binary min-heap with positions in the keys). */
struct ws_queue {
	struct ws_key **a;
	size_t n, c;
	int which;           /* 0: by next_due, 1: by maxts; then by seq */
};

#define WS_NOPOS SIZE_MAX

/*
 * The state.  Read its members freely; change them only through the
 * functions below (except n.control).
 */
struct ws {
	struct ws_opts o;
	struct ws_key **keys;    /* every key held, in no order */
	size_t nkeys;
	size_t nlive;            /* keys holding windows (--max-keys) */
	int64_t gmax;            /* largest event time over all keys */
	int64_t gfloor;          /* global watermark raised by --idle-timeout */
	uint64_t unfired;        /* windows not fired yet */
	struct ws_counts n;
	/* Private. */
	size_t ckeys;
	struct htab index;       /* identity -> key */
	uint64_t nextseq;        /* the next key's seq */
	struct ws_queue timers;  /* global watermark: keys by next_due */
	struct ws_queue ttl;     /* --key-ttl: keys by maxts */
	struct ws_key **pop;     /* keys taken from the timer queue */
	size_t npop, cpop;
	ws_fire_fn fire;
	void *ctx;
	struct ws_due *due;
	size_t ndue, cdue;
	struct buf id;           /* the identity being looked up */
};

/*
 * Returns a new empty state with options o (copied; its strings borrowed),
 * or NULL with the reason in err (options out of range, or out of memory).
 * Free with ws_free().
 */
struct ws *ws_new(const struct ws_opts *o, char *err, size_t errsz);
void ws_free(struct ws *s);

/* The function called for every firing (NULL: none). */
void ws_on_fire(struct ws *s, ws_fire_fn fn, void *ctx);

/* Empties s: no key, nothing counted, as ws_new() left it. */
void ws_clear(struct ws *s);

/*
 * The key of kind WS_KEY_* with bytes b[0..n), created on first sight.
 * Returns 0 with *k, WS_FULL when it would be a key beyond max_keys, or
 * WS_NOMEM.
 */
int ws_key(struct ws *s, int kind, const char *b, size_t n,
    struct ws_key **k);

/* The key's JSON value (null, a string, or its JSON text), appended. */
void ws_key_json(const struct ws_key *k, struct buf *out);

/* The watermark of key k (of every key, with a global watermark). */
int64_t ws_watermark(const struct ws *s, const struct ws_key *k);

/* One record for ws_add(). */
struct ws_record {
	int64_t ts;          /* event time, ms */
	double value, weight;
	/* --emit records: the line, kept verbatim by the windows it joins. */
	const char *line;
	size_t len, brace;
	int empty;
};

/*
 * Gives a record of key k to its windows (Flink's assignment), fires the
 * windows it re-fires within the allowed lateness, then every window its
 * watermark has reached (of k, or of every key with a global watermark).
 * Returns 0; WS_LATE with *wm (the watermark) when it is too late for all
 * of its windows (counted as late, not as a record); WS_NOMEM; or what the
 * fire function returned.
 */
int ws_add(struct ws *s, struct ws_key *k, const struct ws_record *r,
    int64_t *wm);

/*
 * --idle-timeout went by without input: raises the watermark (of each key,
 * or the global one) to the end of the newest open window and fires every
 * open window.  Returns 0, WS_NOMEM or what the fire function returned.
 */
int ws_idle(struct ws *s);

/* End of input (Flink's final MAX_WATERMARK): fires every open window,
 * and drops them all.  Returns as ws_idle(). */
int ws_finish(struct ws *s);

/* Accumulators. */
void ws_acc_add(struct ws_acc *a, int64_t ts, double x, double w);
/* Merges b (a newer window) into a: Chan, Golub and LeVeque's pairwise
 * update of the squared deviations, in a's frame of reference. */
void ws_acc_merge(struct ws_acc *a, const struct ws_acc *b);
/* The merge of k's closed windows (n == 0 when there are none). */
void ws_trailing(const struct ws_key *k, struct ws_acc *out);

/*
 * The serialised form of s (above), appended to out.  Returns 0, or -1
 * when memory ran out (out->failed is then set).
 */
int ws_save(const struct ws *s, struct buf *out);

/* The same, written to fd.  Returns 0, or -1 with the reason in err. */
int ws_save_fd(const struct ws *s, int fd, char *err, size_t errsz);

/*
 * Reads the serialised form in data[0..len) into s, which must be empty
 * (new, or after ws_clear()) and have the options of the run that carries
 * on.  Returns 0, or -1 with the reason in err ("line N: ...", a newer
 * version, a checksum mismatch, an option that differs, ...); s is then
 * empty again: never a partial load.
 */
int ws_load(struct ws *s, const char *data, size_t len, char *err,
    size_t errsz);

/* The same, reading fd to its end. */
int ws_load_fd(struct ws *s, int fd, char *err, size_t errsz);

#endif
