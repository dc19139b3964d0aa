/*
 * test_map.c — goc_map, Go's sync.Map:
 *
 *  - every operation's result on byte-string and 64-bit keys (present,
 *    absent, empty key, keys that differ only in length), len, clear,
 *    range (each entry once, early stop);
 *  - enough keys to build a deep trie and delete it down to nothing;
 *  - a stress run: goroutines on every P and plain threads mixing loads,
 *    stores, swaps, compare-and-swaps, deletes and ranges over a small key
 *    space, every value read checked to be one some writer stored for
 *    that key (a freed node read under ASan fails the run);
 *  - a range whose callback parks while other goroutines delete what it
 *    walks (its own QSBR record keeps the nodes alive);
 *  - clear racing stores.
 */
#include <pthread.h>
#include <string.h>

#include "testutil.h"

/* Values encode their key: a value for key k is (k << 8 | tag) + 1. */
#define VAL(k, tag) ((void *)(uintptr_t)((((uint64_t)(k)) << 8 | (tag)) + 1))
#define VAL_KEY(v) ((((uint64_t)(uintptr_t)(v)) - 1) >> 8)

static void basics(void)
{
	goc_map *m = goc_map_new();
	void *v = NULL;
	bool loaded;
	CHECK(!goc_map_load(m, "a", 1, &v), "empty map");
	CHECK(goc_map_store(m, "a", 1, VAL(1, 0)) == GOC_OK, "store");
	CHECK(goc_map_load(m, "a", 1, &v) && v == VAL(1, 0), "load");
	CHECK(!goc_map_load(m, "a\0", 2, NULL), "a key one byte longer is another key");
	CHECK(goc_map_store(m, NULL, 0, VAL(2, 0)) == GOC_OK, "empty key");
	CHECK(goc_map_load(m, "", 0, &v) && v == VAL(2, 0), "empty key loads");
	CHECK(goc_map_len(m) == 2, "len %lld", (long long)goc_map_len(m));

	CHECK(goc_map_load_or_store(m, "a", 1, VAL(1, 1), &v, &loaded) == GOC_OK && loaded &&
		      v == VAL(1, 0),
	      "load_or_store of a present key loads");
	CHECK(goc_map_load_or_store(m, "b", 1, VAL(3, 0), &v, &loaded) == GOC_OK && !loaded &&
		      v == VAL(3, 0),
	      "load_or_store of an absent key stores");
	CHECK(goc_map_swap(m, "b", 1, VAL(3, 1), &v, &loaded) == GOC_OK && loaded && v == VAL(3, 0),
	      "swap of a present key");
	CHECK(goc_map_swap(m, "c", 1, VAL(4, 0), &v, &loaded) == GOC_OK && !loaded && v == NULL,
	      "swap of an absent key");
	CHECK(!goc_map_compare_and_swap(m, "c", 1, VAL(4, 9), VAL(4, 1)), "cas with a wrong old");
	CHECK(goc_map_compare_and_swap(m, "c", 1, VAL(4, 0), VAL(4, 1)), "cas");
	CHECK(goc_map_load(m, "c", 1, &v) && v == VAL(4, 1), "cas stored");
	CHECK(!goc_map_compare_and_swap(m, "zz", 2, NULL, VAL(5, 0)), "cas of an absent key");
	CHECK(!goc_map_compare_and_delete(m, "c", 1, VAL(4, 0)), "cad with a wrong old");
	CHECK(goc_map_compare_and_delete(m, "c", 1, VAL(4, 1)), "cad");
	CHECK(!goc_map_load(m, "c", 1, NULL), "cad deleted");
	CHECK(goc_map_load_and_delete(m, "b", 1, &v) && v == VAL(3, 1), "load_and_delete");
	CHECK(!goc_map_load_and_delete(m, "b", 1, &v), "load_and_delete of an absent key");
	goc_map_delete(m, "b", 1);
	goc_map_delete(m, "a", 1);
	CHECK(goc_map_len(m) == 1, "len %lld", (long long)goc_map_len(m));

	/* Integer keys are their 8 bytes. */
	CHECK(goc_map_store_u64(m, 42, VAL(42, 0)) == GOC_OK, "store_u64");
	uint64_t k = 42;
	CHECK(goc_map_load(m, &k, 8, &v) && v == VAL(42, 0), "u64 key is its bytes");
	CHECK(goc_map_load_u64(m, 42, &v) && v == VAL(42, 0), "load_u64");
	CHECK(goc_map_compare_and_swap_u64(m, 42, VAL(42, 0), VAL(42, 1)), "cas_u64");
	CHECK(goc_map_swap_u64(m, 42, VAL(42, 2), &v, &loaded) == GOC_OK && loaded &&
		      v == VAL(42, 1),
	      "swap_u64");
	CHECK(goc_map_load_and_delete_u64(m, 42, &v) && v == VAL(42, 2), "load_and_delete_u64");
	goc_map_clear(m);
	CHECK(goc_map_len(m) == 0 && !goc_map_load(m, "", 0, NULL), "clear");
	goc_map_free(m);
	ok("every operation on byte-string and integer keys");
}

struct seen {
	int64_t count;
	uint8_t *hits;
	uint64_t stop_after;
};

static bool count_entry(const void *key, size_t len, void *value, void *arg)
{
	struct seen *s = arg;
	uint64_t k;
	CHECK(len == 8, "key length %zu", len);
	memcpy(&k, key, 8);
	CHECK(VAL_KEY(value) == k, "value %p under key %llu", value, (unsigned long long)k);
	s->hits[k]++;
	s->count++;
	return s->stop_after == 0 || (uint64_t)s->count < s->stop_after;
}

static void many_keys(void)
{
	enum { N = 100000 };
	goc_map *m = goc_map_new();
	for (uint64_t k = 0; k < N; k++)
		CHECK(goc_map_store_u64(m, k, VAL(k, 0)) == GOC_OK, "store");
	CHECK(goc_map_len(m) == N, "len %lld", (long long)goc_map_len(m));
	struct seen s = {.hits = calloc(N, 1)};
	goc_map_range(m, count_entry, &s);
	CHECK(s.count == N, "range saw %lld", (long long)s.count);
	for (uint64_t k = 0; k < N; k++)
		CHECK(s.hits[k] == 1, "key %llu seen %d times", (unsigned long long)k, s.hits[k]);
	struct seen early = {.hits = calloc(N, 1), .stop_after = 10};
	goc_map_range(m, count_entry, &early);
	CHECK(early.count == 10, "range stopped after %lld", (long long)early.count);
	for (uint64_t k = 0; k < N; k += 2)
		goc_map_delete_u64(m, k);
	for (uint64_t k = 0; k < N; k++) {
		void *v;
		bool there = goc_map_load_u64(m, k, &v);
		CHECK(there == (k % 2 == 1) && (!there || v == VAL(k, 0)), "key %llu",
		      (unsigned long long)k);
	}
	for (uint64_t k = 1; k < N; k += 2)
		CHECK(goc_map_load_and_delete_u64(m, k, NULL), "delete %llu",
		      (unsigned long long)k);
	CHECK(goc_map_len(m) == 0, "len after deleting all %lld", (long long)goc_map_len(m));
	goc_map_free(m);
	free(s.hits);
	free(early.hits);
	ok("100000 keys: range, deletes down to an empty trie");
}

/* ---- stress ---- */

enum { KEYS = 512 };

struct stress {
	goc_map *m;
	int rounds;
	int64_t bad; /* atomic */
	goc_wg done;
};

static bool range_check(const void *key, size_t len, void *value, void *arg)
{
	struct stress *st = arg;
	uint64_t k;
	memcpy(&k, key, sizeof k);
	if (len != 8 || VAL_KEY(value) != k)
		__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
	return true;
}

static void stress_worker(void *arg)
{
	struct stress *st = arg;
	uint64_t x = (uint64_t)goc_now() | 1;
	for (int i = 0; i < st->rounds; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t k = x % KEYS;
		uint64_t tag = (x >> 20) & 0xff;
		void *v = NULL;
		bool loaded;
		switch ((x >> 32) % 10) {
		case 0:
		case 1:
		case 2:
		case 3:
			if (goc_map_load_u64(st->m, k, &v) && VAL_KEY(v) != k)
				__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
			break;
		case 4:
			goc_map_store_u64(st->m, k, VAL(k, tag));
			break;
		case 5:
			goc_map_load_or_store_u64(st->m, k, VAL(k, tag), &v, &loaded);
			if (VAL_KEY(v) != k)
				__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
			break;
		case 6:
			if (goc_map_swap_u64(st->m, k, VAL(k, tag), &v, &loaded) == GOC_OK &&
			    loaded && VAL_KEY(v) != k)
				__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
			break;
		case 7:
			if (goc_map_load_u64(st->m, k, &v))
				goc_map_compare_and_swap_u64(st->m, k, v, VAL(k, tag));
			break;
		case 8:
			if (goc_map_load_and_delete_u64(st->m, k, &v) && VAL_KEY(v) != k)
				__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
			break;
		case 9:
			if (i % 64 == 0)
				goc_map_range(st->m, range_check, st);
			else if (goc_map_load_u64(st->m, k, &v))
				goc_map_compare_and_delete_u64(st->m, k, v);
			break;
		}
		if (i % 1000 == 0)
			goc_yield();
	}
	goc_wg_done(&st->done);
}

static void *stress_thread(void *arg)
{
	stress_worker(arg);
	return NULL;
}

static void stress(void)
{
	struct stress st = {.m = goc_map_new(),
			    .rounds = (int)test_size(200000, 50000, 20000),
			    .done = GOC_WG_INIT};
	enum { GOROUTINES = 6, THREADS = 2 };
	goc_wg_add(&st.done, GOROUTINES + THREADS);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, stress_thread, &st) == 0, "thread");
	for (int i = 0; i < GOROUTINES; i++)
		CHECK(goc_go(stress_worker, &st) > 0, "go");
	goc_wg_wait(&st.done);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK(st.bad == 0, "%lld values read under the wrong key", (long long)st.bad);
	int64_t n = 0;
	for (uint64_t k = 0; k < KEYS; k++)
		n += goc_map_load_u64(st.m, k, NULL);
	CHECK(goc_map_len(st.m) == n, "len %lld, %lld keys present", (long long)goc_map_len(st.m),
	      (long long)n);
	goc_map_free(st.m);
	ok("stress: goroutines and plain threads mixing every operation");
}

/* A range whose callback parks while deleters empty the map under it. */
struct parking_range {
	goc_map *m;
	int64_t visited;
	goc_wg deleters;
	bool started; /* atomic */
};

static bool parking_visit(const void *key, size_t len, void *value, void *arg)
{
	struct parking_range *pr = arg;
	uint64_t k;
	memcpy(&k, key, sizeof k);
	CHECK(len == 8 && VAL_KEY(value) == k, "range saw a bad entry");
	__atomic_store_n(&pr->started, true, __ATOMIC_SEQ_CST);
	pr->visited++;
	if (pr->visited % 64 == 0)
		goc_sleep(GOC_MILLISECOND);
	return true;
}

static void deleter(void *arg)
{
	struct parking_range *pr = arg;
	while (!__atomic_load_n(&pr->started, __ATOMIC_SEQ_CST))
		goc_sleep(100 * GOC_MICROSECOND);
	/* Delete and re-store everything, many times: nodes the range
	 * stands on are cut out and retired while it sleeps. */
	for (int round = 0; round < 20; round++) {
		for (uint64_t k = 0; k < 2048; k++)
			goc_map_delete_u64(pr->m, k);
		for (uint64_t k = 0; k < 2048; k++)
			goc_map_store_u64(pr->m, k, VAL(k, round));
		goc_yield();
	}
	goc_wg_done(&pr->deleters);
}

static void parking_range(void)
{
	struct parking_range pr = {.m = goc_map_new(), .deleters = GOC_WG_INIT};
	for (uint64_t k = 0; k < 2048; k++)
		goc_map_store_u64(pr.m, k, VAL(k, 0));
	goc_wg_add(&pr.deleters, 2);
	CHECK(goc_go(deleter, &pr) > 0 && goc_go(deleter, &pr) > 0, "go");
	goc_map_range(pr.m, parking_visit, &pr);
	goc_wg_wait(&pr.deleters);
	goc_map_free(pr.m);
	ok("a range whose callback parks while other goroutines delete under it");
}

static void clearer(void *arg)
{
	struct stress *st = arg;
	for (int i = 0; i < 200; i++) {
		goc_map_clear(st->m);
		goc_yield();
	}
	goc_wg_done(&st->done);
}

static void clear_race(void)
{
	struct stress st = {.m = goc_map_new(),
			    .rounds = (int)test_size(50000, 20000, 5000),
			    .done = GOC_WG_INIT};
	goc_wg_add(&st.done, 4);
	CHECK(goc_go(clearer, &st) > 0, "go");
	for (int i = 0; i < 3; i++)
		CHECK(goc_go(stress_worker, &st) > 0, "go");
	goc_wg_wait(&st.done);
	CHECK(st.bad == 0, "bad values");
	goc_map_clear(st.m);
	CHECK(goc_map_len(st.m) == 0, "len after clear %lld", (long long)goc_map_len(st.m));
	goc_map_free(st.m);
	ok("clear racing every other operation");
}

static void all(void *arg)
{
	(void)arg;
	basics();
	many_keys();
	stress();
	parking_range();
	clear_race();
}

int main(void)
{
	goc_main(all, NULL);
	return 0;
}
