/*
 * htab.h - the one hash table of kinpipe: byte-string keys to pointers,
 * open addressing with linear probing and FNV-1a hashing.
 *
 * The table stores pointers only: each entry's key bytes are the caller's
 * and must stay valid (and unchanged) while the entry is in the table.
 * Removal shifts the following entries back (no tombstones), so a table
 * that sees many keys come and go keeps short probes.  Nothing here
 * prints.
 */
#ifndef KP_HTAB_H
#define KP_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_entry {
	const void *key;    /* borrowed from the caller */
	size_t len;
	uint64_t hash;
	void *value;        /* NULL marks a free slot */
};

struct htab {
	struct htab_entry *slot;
	size_t nslot;       /* a power of two, or 0 */
	size_t n;           /* entries in use */
};

#define HTAB_INIT { NULL, 0, 0 }

/* FNV-1a of len bytes. */
uint64_t htab_hash(const void *key, size_t len);

/* The value stored for key, or NULL. */
void *htab_get(const struct htab *t, const void *key, size_t len);

/*
 * Stores value (not NULL) for key, which must not be in the table yet; key
 * is borrowed (usually it points into value).  Returns 0, or -1 when
 * memory is short (the table is unchanged).
 */
int htab_put(struct htab *t, const void *key, size_t len, void *value);

/* Removes key; returns its value, or NULL when it was not there. */
void *htab_del(struct htab *t, const void *key, size_t len);

/* Frees the slots (not the values) and empties the table. */
void htab_free(struct htab *t);

#endif
