/*
 * htab_test - unit tests of the hash table (common/htab.h): put, get and
 * delete against a reference model, under growth and heavy churn (the
 * backward-shift delete must never lose an entry behind a removed one),
 * binary keys, and keys that differ only in length.
 *
 *   htab_test [-v]
 */
#include <inttypes.h>
#include <stdint.h>

#include "htab.h"
#include "tap.h"

#define NKEYS 5000

struct item {
	char key[24];
	size_t len;
	int in;        /* in the table, by the model */
};

static struct item items[NKEYS];

/* Every item is found exactly when the model says it is in. */
static int
consistent(const struct htab *t, size_t *bad)
{
	size_t i, n = 0;

	for (i = 0; i < NKEYS; i++) {
		void *v = htab_get(t, items[i].key, items[i].len);

		if ((items[i].in && v != &items[i]) || (!items[i].in && v != NULL)) {
			*bad = i;
			return 0;
		}
		n += items[i].in;
	}
	*bad = SIZE_MAX;
	return n == t->n;
}

static void
test_basic(void)
{
	struct htab t = HTAB_INIT;
	static const char k0[] = "a\0b", k1[] = "a";
	int x = 1, y = 2, z = 3;

	section("basics");
	check(htab_get(&t, "x", 1) == NULL, "an empty table finds nothing");
	check(htab_del(&t, "x", 1) == NULL, "an empty table deletes nothing");
	check(htab_put(&t, k0, 3, &x) == 0 && htab_put(&t, k1, 1, &y) == 0 &&
	    htab_put(&t, "", 0, &z) == 0, "three keys put");
	check(htab_get(&t, k0, 3) == &x && htab_get(&t, k1, 1) == &y &&
	    htab_get(&t, "", 0) == &z && t.n == 3,
	    "binary, prefix and empty keys are distinct");
	check(htab_get(&t, "a\0c", 3) == NULL && htab_get(&t, "ab", 2) == NULL,
	    "near misses are not found");
	check(htab_del(&t, k1, 1) == &y && htab_get(&t, k1, 1) == NULL &&
	    htab_get(&t, k0, 3) == &x && t.n == 2, "delete one, keep the others");
	check(htab_del(&t, k1, 1) == NULL, "deleting twice finds nothing");
	check(htab_hash("", 0) == 0xcbf29ce484222325ULL &&
	    htab_hash("a", 1) == 0xaf63dc4c8601ec8cULL, "FNV-1a values");
	htab_free(&t);
	check(t.n == 0 && t.slot == NULL && htab_get(&t, k0, 3) == NULL,
	    "htab_free empties the table");
}

static void
test_churn(void)
{
	struct htab t = HTAB_INIT;
	size_t i, round, bad = 0;
	int ok = 1;

	section("growth and churn against a model");
	for (i = 0; i < NKEYS; i++) {
		items[i].len = (size_t)snprintf(items[i].key,
		    sizeof(items[i].key), "key-%zu", i * 7919 % 100003);
		items[i].in = 0;
	}
	for (i = 0; i < NKEYS && ok; i++) {
		ok = htab_put(&t, items[i].key, items[i].len, &items[i]) == 0;
		items[i].in = 1;
	}
	check(ok && consistent(&t, &bad), "%d keys put, every one found",
	    NKEYS);
	check(t.nslot >= 2 * t.n && (t.nslot & (t.nslot - 1)) == 0,
	    "at most half full, a power of two");
	for (round = 0; round < 40; round++) {
		for (i = 0; i < 2000; i++) {
			struct item *it = &items[tap_rand() % NKEYS];

			if (it->in) {
				ok = ok && htab_del(&t, it->key, it->len) == it;
				it->in = 0;
			} else {
				ok = ok && htab_put(&t, it->key, it->len, it) == 0;
				it->in = 1;
			}
		}
		if (!check(ok && consistent(&t, &bad), "churn round %zu: the "
		    "table matches the model (%zu keys)", round, t.n) &&
		    bad != SIZE_MAX)
			diag("item %zu (%s) in=%d", bad, items[bad].key,
			    items[bad].in);
	}
	for (i = 0; i < NKEYS; i++) {
		if (items[i].in) {
			ok = ok && htab_del(&t, items[i].key, items[i].len) ==
			    &items[i];
			items[i].in = 0;
		}
	}
	check(ok && t.n == 0 && consistent(&t, &bad),
	    "everything deleted: the table is empty");
	htab_free(&t);
}

int
main(int argc, char **argv)
{
	if (tap_begin("htab_test", argc, argv) != 0)
		return 2;
	test_basic();
	test_churn();
	return tap_end();
}
