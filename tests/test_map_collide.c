/*
 * test_map_collide.c — goc_map's rare paths, reached by compiling the map
 * with a weak hash in place of XXH3 (this file includes src/sync/map.c):
 *
 *  - full 64-bit collisions: keys whose hashes are equal share a chain;
 *    store, swap, compare-and-swap, delete in the head, middle and tail of
 *    a chain, range over chains;
 *  - hashes equal in their top 60 bits: inserting builds a path of
 *    indirect nodes 15 levels deep, and deleting cuts it back to the root;
 *  - the same under goroutines and a plain thread at once.
 */
#include "../src/sync/hash.h"

/* Mode 0: hash = key % 4 (full collisions); mode 1: hash = key (a deep
 * path: only the lowest 4 bits differ). */
static int hash_mode;

static uint64_t weak_hash(const void *key, size_t len)
{
	uint64_t k = 0;
	memcpy(&k, key, len < sizeof k ? len : sizeof k);
	return hash_mode == 0 ? k % 4 : k;
}

#define goc__hash(key, len, seed) ((void)(seed), weak_hash((key), (len)))
#include "../src/sync/map.c"

#include <pthread.h>

#include "testutil.h"

#define VAL(k, tag) ((void *)(uintptr_t)((((uint64_t)(k)) << 8 | (tag)) + 1))
#define VAL_KEY(v) ((((uint64_t)(uintptr_t)(v)) - 1) >> 8)

static bool count_visit(const void *key, size_t len, void *value, void *arg)
{
	uint64_t k;
	CHECK(len == 8, "len");
	memcpy(&k, key, 8);
	CHECK(VAL_KEY(value) == k, "value under key %llu", (unsigned long long)k);
	(*(int64_t *)arg)++;
	return true;
}

static void sequential(int mode, int n)
{
	hash_mode = mode;
	goc_map *m = goc_map_new();
	for (uint64_t k = 0; k < (uint64_t)n; k++)
		CHECK(goc_map_store_u64(m, k, VAL(k, 0)) == GOC_OK, "store");
	for (uint64_t k = 0; k < (uint64_t)n; k++) {
		void *v;
		CHECK(goc_map_load_u64(m, k, &v) && v == VAL(k, 0), "load %llu",
		      (unsigned long long)k);
	}
	int64_t seen = 0;
	goc_map_range(m, count_visit, &seen);
	CHECK(seen == n && goc_map_len(m) == n, "range %lld len %lld", (long long)seen,
	      (long long)goc_map_len(m));
	void *v;
	bool loaded;
	CHECK(goc_map_swap_u64(m, 5, VAL(5, 1), &v, &loaded) == GOC_OK && loaded && v == VAL(5, 0),
	      "swap in a chain");
	CHECK(goc_map_compare_and_swap_u64(m, 5, VAL(5, 1), VAL(5, 2)), "cas in a chain");
	CHECK(!goc_map_compare_and_delete_u64(m, 5, VAL(5, 1)), "cad with a wrong old");
	/* Delete from the middle, the ends, then everything. */
	for (uint64_t k = (uint64_t)n / 2; k < (uint64_t)n; k += 3)
		goc_map_delete_u64(m, k);
	for (uint64_t k = 0; k < (uint64_t)n; k++) {
		bool there = goc_map_load_u64(m, k, &v);
		bool want = !(k >= (uint64_t)n / 2 && (k - (uint64_t)n / 2) % 3 == 0);
		CHECK(there == want, "key %llu there %d", (unsigned long long)k, there);
	}
	for (uint64_t k = 0; k < (uint64_t)n; k++)
		goc_map_delete_u64(m, k);
	CHECK(goc_map_len(m) == 0, "len %lld", (long long)goc_map_len(m));
	for (int j = 0; j < CHILDREN; j++)
		CHECK(m->root->children[j] == NULL, "root slot %d left after deleting all", j);
	goc_map_free(m);
}

struct stress {
	goc_map *m;
	int64_t bad; /* atomic */
	goc_wg done;
};

static void worker(void *arg)
{
	struct stress *st = arg;
	uint64_t x = (uint64_t)goc_now() | 1;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t k = x % 64;
		void *v;
		switch ((x >> 32) % 4) {
		case 0:
			if (goc_map_load_u64(st->m, k, &v) && VAL_KEY(v) != k)
				__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
			break;
		case 1:
			goc_map_store_u64(st->m, k, VAL(k, i & 0xff));
			break;
		case 2:
			if (goc_map_load_and_delete_u64(st->m, k, &v) && VAL_KEY(v) != k)
				__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
			break;
		case 3:
			if (goc_map_load_u64(st->m, k, &v))
				goc_map_compare_and_delete_u64(st->m, k, v);
			break;
		}
		if (i % 500 == 0)
			goc_yield();
	}
	goc_wg_done(&st->done);
}

static void *thread_main(void *arg)
{
	worker(arg);
	return NULL;
}

static void concurrent(int mode)
{
	hash_mode = mode;
	struct stress st = {.m = goc_map_new(), .done = GOC_WG_INIT};
	goc_wg_add(&st.done, 4);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, thread_main, &st) == 0, "thread");
	for (int i = 0; i < 3; i++)
		CHECK(goc_go(worker, &st) > 0, "go");
	goc_wg_wait(&st.done);
	pthread_join(th, NULL);
	CHECK(st.bad == 0, "bad values");
	goc_map_free(st.m);
}

static void all(void *arg)
{
	(void)arg;
	sequential(0, 200);
	ok("full hash collisions: chains of 50 entries, every operation, deletes anywhere");
	sequential(1, 64);
	ok("hashes equal but in the lowest bits: 15-level paths built and cut back");
	concurrent(0);
	concurrent(1);
	ok("both under goroutines and a plain thread at once");
}

int main(void)
{
	goc_main(all, NULL);
	return 0;
}
