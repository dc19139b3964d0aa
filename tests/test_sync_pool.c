/*
 * test_sync_pool.c — goc_pool and goc_counter:
 *
 *  - a goroutine gets back the object it just put (its P's private slot);
 *  - objects left in one P's list are taken by a plain thread (which has
 *    no P and steals), and the private slot stays with its P;
 *  - plain threads put and get through the shared list;
 *  - the two-cycle release: after one trim nothing is dropped and get
 *    finds the objects in the victim cache; the second trim gives every
 *    object still cached to drop_fn, and a third drops nothing;
 *  - an idle pool is emptied by the monitor thread's own trims;
 *  - stress: goroutines and plain threads get and put while a goroutine
 *    trims; no object is ever handed to two users at once, the statistics
 *    add up, and after destroy every object made has been dropped once;
 *  - no new_fn: get on an empty pool returns NULL; no drop_fn: free();
 *  - goc_counter: goroutines and plain threads add concurrently, a reader
 *    sees the sum only grow, the final sum is exact; reset and negative
 *    deltas.
 *
 * The monitor thread trims every pool every 2 seconds, and may do so in
 * the middle of a check that counts trims: such checks compare the trim
 * count before and after, and retry if the monitor got in between.
 *
 * Registered with GOCMAXPROCS 1, 2 and 4 besides the default.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"

#define MAGIC 0x600dcafe

struct object {
	atomic_int in_use;
	int magic;
	long payload[6];
};

static atomic_long made, dropped;

static void *object_new(void *arg)
{
	(void)arg;
	struct object *o = calloc(1, sizeof *o);
	CHECK(o, "calloc");
	o->magic = MAGIC;
	atomic_fetch_add(&made, 1);
	return o;
}

static void object_drop(void *obj, void *arg)
{
	(void)arg;
	struct object *o = obj;
	CHECK(o->magic == MAGIC, "dropped something that is not an object");
	CHECK(atomic_load(&o->in_use) == 0, "dropped an object in use");
	o->magic = 0;
	atomic_fetch_add(&dropped, 1);
	free(o);
}

static goc_wg done = GOC_WG_INIT;

static int64_t trims_of(goc_pool *pool)
{
	goc_pool_stats st;
	goc_pool_stats_read(pool, &st);
	return st.trims;
}

/* ---- the P's private slot ------------------------------------------------- */

static void test_private(void)
{
	for (int attempt = 0;; attempt++) {
		CHECK(attempt < 5, "the monitor's trims kept interfering");
		goc_pool pool = GOC_POOL_INIT(object_new, object_drop, NULL);
		void *a = goc_pool_get(&pool);
		int64_t trims = trims_of(&pool);
		goc_pool_put(&pool, a);
		void *b = goc_pool_get(&pool);
		goc_pool_put(&pool, b);
		goc_pool_stats st;
		goc_pool_stats_read(&pool, &st);
		/* A monitor trim between the put and the get moves the object to
		 * the victim cache: a get from there is not the check. */
		bool interfered = st.trims != trims;
		if (!interfered) {
			CHECK(a == b, "did not get back the object just put");
			CHECK(st.puts == 2 && st.hits_local == 1 && st.misses == 1,
			      "puts %lld local %lld misses %lld", (long long)st.puts,
			      (long long)st.hits_local, (long long)st.misses);
		}
		goc_pool_put(&pool, NULL); /* ignored */
		goc_pool_destroy(&pool);
		if (!interfered)
			break;
	}
	ok("a goroutine gets back its own object from its P");
}

/* ---- stealing by a plain thread ------------------------------------------ */

struct steal {
	goc_pool *pool;
	void *got[10];
};

static void *thread_get10(void *arg)
{
	struct steal *s = arg;
	for (int i = 0; i < 10; i++)
		s->got[i] = goc_pool_get(s->pool);
	return NULL;
}

static void test_steal(void)
{
	for (int attempt = 0;; attempt++) {
		CHECK(attempt < 5, "the monitor's trims kept interfering");
		goc_pool pool = GOC_POOL_INIT(object_new, object_drop, NULL);
		void *objs[10];
		for (int i = 0; i < 10; i++)
			objs[i] = goc_pool_get(&pool);
		int64_t trims = trims_of(&pool);
		/* The first goes to the private slot, the other nine to the ring.
		 * Nothing below is a scheduling point, so we stay on this P. */
		for (int i = 0; i < 10; i++)
			goc_pool_put(&pool, objs[i]);
		struct steal s = {.pool = &pool};
		pthread_t t;
		CHECK(pthread_create(&t, NULL, thread_get10, &s) == 0, "pthread_create");
		pthread_join(t, NULL);
		void *mine = goc_pool_get(&pool);
		goc_pool_stats st;
		goc_pool_stats_read(&pool, &st);
		bool interfered = st.trims != trims;
		if (!interfered) {
			CHECK(mine == objs[0], "the private slot was not kept for its P");
			CHECK(st.hits_stolen == 9 && st.misses == 11, "stolen %lld misses %lld",
			      (long long)st.hits_stolen, (long long)st.misses);
			for (int i = 0; i < 9; i++)
				CHECK(s.got[i] == objs[i + 1],
				      "steal %d took %p, want %p (oldest first)", i, s.got[i],
				      objs[i + 1]);
		}
		for (int i = 0; i < 10; i++)
			goc_pool_put(&pool, s.got[i]);
		goc_pool_put(&pool, mine);
		goc_pool_destroy(&pool);
		if (!interfered)
			break;
	}
	CHECK(atomic_load(&made) == atomic_load(&dropped), "made %ld dropped %ld",
	      atomic_load(&made), atomic_load(&dropped));
	ok("a plain thread steals a P's list, oldest first; the private slot stays");
}

/* ---- plain threads' shared list ------------------------------------------- */

static void *thread_put_get(void *arg)
{
	goc_pool *pool = arg;
	void *a = goc_pool_get(pool);
	goc_pool_put(pool, a);
	void *b = goc_pool_get(pool);
	goc_pool_put(pool, b);
	return (void *)(intptr_t)(a == b);
}

static void test_plain_threads(void)
{
	goc_pool pool = GOC_POOL_INIT(object_new, object_drop, NULL);
	pthread_t t;
	void *same;
	CHECK(pthread_create(&t, NULL, thread_put_get, &pool) == 0, "pthread_create");
	pthread_join(t, &same);
	CHECK(same, "a plain thread did not get back what it put");
	void *obj = goc_pool_get(&pool); /* from the shared list */
	CHECK(obj, "get");
	goc_pool_put(&pool, obj);
	goc_pool_destroy(&pool);
	ok("plain threads put and get through the shared list");
}

/* ---- two trim cycles -------------------------------------------------- */

enum { CYCLE_OBJECTS = 300 }; /* more than one P's ring holds: the shared list too */

static void put_fresh(goc_pool *pool, int n)
{
	void *objs[CYCLE_OBJECTS];
	for (int i = 0; i < n; i++)
		objs[i] = goc_pool_get(pool);
	for (int i = 0; i < n; i++)
		goc_pool_put(pool, objs[i]);
}

static void test_two_cycles(void)
{
	for (int attempt = 0;; attempt++) {
		CHECK(attempt < 5, "the monitor's trims kept interfering");
		goc_pool pool = GOC_POOL_INIT(object_new, object_drop, NULL);
		put_fresh(&pool, CYCLE_OBJECTS);
		long dropped0 = atomic_load(&dropped);
		int64_t trims = trims_of(&pool);
		int64_t first = goc_pool_trim(&pool);
		long dropped1 = atomic_load(&dropped);
		/* Everything is in the victim cache now: get finds it there. */
		void *objs[CYCLE_OBJECTS];
		long made0 = atomic_load(&made);
		for (int i = 0; i < CYCLE_OBJECTS; i++)
			objs[i] = goc_pool_get(&pool);
		long made1 = atomic_load(&made);
		goc_pool_stats st;
		goc_pool_stats_read(&pool, &st);
		for (int i = 0; i < CYCLE_OBJECTS; i++)
			goc_pool_put(&pool, objs[i]);
		int64_t second = goc_pool_trim(&pool);
		long dropped2 = atomic_load(&dropped);
		int64_t third = goc_pool_trim(&pool);
		int64_t fourth = goc_pool_trim(&pool);
		long dropped4 = atomic_load(&dropped);
		bool interfered = trims_of(&pool) != trims + 4;
		goc_pool_destroy(&pool);
		if (interfered)
			continue;
		CHECK(first == 0 && dropped1 == dropped0, "the first trim dropped %lld objects",
		      (long long)first);
		CHECK(made1 == made0 && st.hits_victim == CYCLE_OBJECTS,
		      "after one trim, %ld new objects were made and %lld came from the victim cache",
		      made1 - made0, (long long)st.hits_victim);
		CHECK(second == 0 && dropped2 == dropped0,
		      "the first trim after putting them back dropped %lld", (long long)second);
		CHECK(third == CYCLE_OBJECTS && dropped4 == dropped0 + CYCLE_OBJECTS,
		      "the second trim after the last put dropped %lld of %d", (long long)third,
		      CYCLE_OBJECTS);
		CHECK(fourth == 0, "a trim of an empty pool dropped %lld", (long long)fourth);
		break;
	}
	ok("two-cycle release: one trim keeps objects (victim cache), the second drops them");
}

/* ---- the monitor's trims ---------------------------------------------- */

static void test_monitor_trims(void)
{
	goc_pool pool = GOC_POOL_INIT(object_new, object_drop, NULL);
	put_fresh(&pool, 50);
	goc_pool_stats st;
	/* The monitor trims every 2 s; two trims drop everything. */
	for (int i = 0; i < 300; i++) {
		goc_pool_stats_read(&pool, &st);
		if (st.dropped == 50)
			break;
		goc_sleep(100 * GOC_MILLISECOND);
	}
	CHECK(st.dropped == 50 && st.trims >= 2, "after 30 s: dropped %lld, trims %lld",
	      (long long)st.dropped, (long long)st.trims);
	goc_pool_destroy(&pool);
	ok("an idle pool is emptied by the monitor's trims");
}

/* ---- stress ------------------------------------------------------------- */

static goc_pool stress_pool = GOC_POOL_INIT(object_new, object_drop, NULL);
static long stress_rounds;
static atomic_long stress_gets, stress_puts;
static atomic_int stop_trimming;

static void stress_user(void *arg)
{
	long id = (long)(intptr_t)arg;
	struct object *held[4];
	for (long i = 0; i < stress_rounds; i++) {
		int n = (int)((i + id) % 4) + 1;
		for (int k = 0; k < n; k++) {
			struct object *o = goc_pool_get(&stress_pool);
			CHECK(o->magic == MAGIC, "got a dropped or foreign object");
			CHECK(atomic_exchange(&o->in_use, 1) == 0, "an object handed out twice");
			o->payload[0] = id;
			held[k] = o;
		}
		if (i % 64 == 0)
			goc_yield();
		for (int k = 0; k < n; k++) {
			CHECK(held[k]->payload[0] == id, "an object changed in our hands");
			atomic_store(&held[k]->in_use, 0);
			goc_pool_put(&stress_pool, held[k]);
		}
		atomic_fetch_add(&stress_gets, n);
		atomic_fetch_add(&stress_puts, n);
	}
	goc_wg_done(&done);
}

static void *thread_stress_user(void *arg)
{
	stress_user(arg);
	return NULL;
}

static void trimmer(void *arg)
{
	goc_wg *trimmer_done = arg;
	while (!atomic_load(&stop_trimming)) {
		goc_pool_trim(&stress_pool);
		goc_sleep(200 * GOC_MICROSECOND);
	}
	goc_wg_done(trimmer_done);
}

static void test_stress(void)
{
	long users = test_size(64, 32, 32);
	stress_rounds = test_size(5000, 1000, 500);
	goc_wg trimmer_done = GOC_WG_INIT;
	goc_wg_add(&trimmer_done, 1);
	goc_go(trimmer, &trimmer_done);
	goc_wg_add(&done, users + 2);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, thread_stress_user,
				     (void *)(intptr_t)(100 + i)) == 0,
		      "pthread_create");
	for (long u = 0; u < users; u++)
		goc_go(stress_user, (void *)(intptr_t)u);
	goc_wg_wait(&done);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop_trimming, 1);
	goc_wg_wait(&trimmer_done);

	goc_pool_stats st;
	goc_pool_stats_read(&stress_pool, &st);
	int64_t gets = st.hits_local + st.hits_stolen + st.hits_victim + st.misses;
	CHECK(gets == atomic_load(&stress_gets) && st.puts == atomic_load(&stress_puts),
	      "stats: %lld gets (%lld local, %lld stolen, %lld victim, %lld misses), %lld puts; "
	      "made %ld gets and %ld puts",
	      (long long)gets, (long long)st.hits_local, (long long)st.hits_stolen,
	      (long long)st.hits_victim, (long long)st.misses, (long long)st.puts,
	      atomic_load(&stress_gets), atomic_load(&stress_puts));
	goc_pool_destroy(&stress_pool);
	CHECK(atomic_load(&made) == atomic_load(&dropped), "made %ld, dropped %ld",
	      atomic_load(&made), atomic_load(&dropped));
	ok("stress: get/put from goroutines and threads with concurrent trims");
}

/* ---- defaults --------------------------------------------------------- */

static void test_defaults(void)
{
	goc_pool pool;
	goc_pool_init(&pool, NULL, NULL, NULL);
	CHECK(goc_pool_get(&pool) == NULL, "get on an empty pool without new_fn");
	goc_pool_put(&pool, malloc(64)); /* freed with free() by destroy */
	goc_pool_put(&pool, malloc(64));
	void *obj = goc_pool_get(&pool);
	CHECK(obj != NULL, "get after put");
	free(obj);
	goc_pool_destroy(&pool);
	ok("no new_fn: NULL when empty; no drop_fn: free()");
}

/* ---- counter ------------------------------------------------------------ */

static goc_counter *counter;
static long adds;
static atomic_int adders_left;

static void adder(void *arg)
{
	(void)arg;
	for (long i = 0; i < adds; i++) {
		goc_counter_add(counter, 2);
		goc_counter_add(counter, -1);
		if (i % 1000 == 0)
			goc_yield();
	}
	atomic_fetch_sub(&adders_left, 1);
	goc_wg_done(&done);
}

static void *thread_adder(void *arg)
{
	adder(arg);
	return NULL;
}

static void test_counter(void)
{
	counter = goc_counter_new();
	CHECK(counter && goc_counter_read(counter) == 0, "new counter");
	long goroutines = test_size(32, 16, 16);
	adds = test_size(100000, 20000, 5000);
	atomic_store(&adders_left, (int)goroutines + 2);
	goc_wg_add(&done, goroutines + 2);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, thread_adder, NULL) == 0, "pthread_create");
	for (long g = 0; g < goroutines; g++)
		goc_go(adder, NULL);
	/* Every add of 2 comes before its add of -1, so the sum never drops
	 * below what an earlier read saw minus the adders in flight. */
	int64_t last = 0;
	while (atomic_load(&adders_left) > 0) {
		int64_t now = goc_counter_read(counter);
		CHECK(now >= last - (goroutines + 2), "the sum went from %lld to %lld",
		      (long long)last, (long long)now);
		last = now;
		goc_sleep(100 * GOC_MICROSECOND);
	}
	goc_wg_wait(&done);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	int64_t want = (goroutines + 2) * adds;
	CHECK(goc_counter_read(counter) == want, "sum %lld, want %lld",
	      (long long)goc_counter_read(counter), (long long)want);
	goc_counter_reset(counter);
	CHECK(goc_counter_read(counter) == 0, "after reset: %lld",
	      (long long)goc_counter_read(counter));
	goc_counter_add(counter, -5);
	goc_counter_add(counter, 7);
	CHECK(goc_counter_read(counter) == 2, "after reset and adds: %lld",
	      (long long)goc_counter_read(counter));
	goc_counter_free(counter);
	ok("sharded counter: exact sum from goroutines and threads; reset");
}

static void main_g(void *arg)
{
	(void)arg;
	test_private();
	test_steal();
	test_plain_threads();
	test_two_cycles();
	test_defaults();
	test_stress();
	test_counter();
	test_monitor_trims();
}

int main(void)
{
	goc_main(main_g, NULL);
	return 0;
}
