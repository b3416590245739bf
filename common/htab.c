#include <stdlib.h>
#include <string.h>

#include "htab.h"

uint64_t
htab_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 14695981039346656037ULL; /* FNV-1a offset basis */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* The slot of key, or the free slot where it would go. */
static size_t
find(const struct htab *t, const void *key, size_t len, uint64_t h)
{
	size_t mask = t->nslot - 1, j = (size_t)h & mask;

	while (t->slot[j].value != NULL) {
		const struct htab_entry *e = &t->slot[j];

		if (e->hash == h && e->len == len &&
		    memcmp(e->key, key, len) == 0)
			break;
		j = (j + 1) & mask;
	}
	return j;
}

void *
htab_get(const struct htab *t, const void *key, size_t len)
{
	if (t->n == 0)
		return NULL;
	return t->slot[find(t, key, len, htab_hash(key, len))].value;
}

static int
grow(struct htab *t)
{
	size_t n = t->nslot ? t->nslot * 2 : 16, i;
	struct htab_entry *s = calloc(n, sizeof(*s));

	if (s == NULL || n <= t->nslot) {
		free(s);
		return -1;
	}
	for (i = 0; i < t->nslot; i++) {
		const struct htab_entry *e = &t->slot[i];
		size_t j;

		if (e->value == NULL)
			continue;
		for (j = (size_t)e->hash & (n - 1); s[j].value != NULL;
		    j = (j + 1) & (n - 1))
			;
		s[j] = *e;
	}
	free(t->slot);
	t->slot = s;
	t->nslot = n;
	return 0;
}

int
htab_put(struct htab *t, const void *key, size_t len, void *value)
{
	uint64_t h = htab_hash(key, len);
	size_t j;

	/* At most half full: probes stay short. */
	if ((t->n + 1) * 2 > t->nslot && grow(t) != 0)
		return -1;
	j = find(t, key, len, h);
	t->slot[j].key = key;
	t->slot[j].len = len;
	t->slot[j].hash = h;
	t->slot[j].value = value;
	t->n++;
	return 0;
}

void *
htab_del(struct htab *t, const void *key, size_t len)
{
	size_t mask, i, j;
	void *v;

	if (t->n == 0)
		return NULL;
	mask = t->nslot - 1;
	i = find(t, key, len, htab_hash(key, len));
	v = t->slot[i].value;
	if (v == NULL)
		return NULL;
	/* Backward shift: move up every following entry whose home slot is
	 * not between the hole and it, so no probe crosses a free slot. */
	for (j = (i + 1) & mask; t->slot[j].value != NULL; j = (j + 1) & mask) {
		size_t home = (size_t)t->slot[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	memset(&t->slot[i], 0, sizeof(t->slot[i]));
	t->n--;
	return v;
}

void
htab_free(struct htab *t)
{
	free(t->slot);
	t->slot = NULL;
	t->nslot = 0;
	t->n = 0;
}
