/*
 * test_sync_mutex.c — goc_mutex:
 *
 *  - mutual exclusion under stress: many goroutines and two plain threads
 *    lock one mutex (some with try_lock), each critical section checks that
 *    it is alone and sometimes yields or sleeps while holding the lock, so
 *    waiters really park; the plain counter it protects comes out exact;
 *  - try_lock: fails while held (also from a plain thread), succeeds when
 *    free; static and dynamic initialisation;
 *  - starvation mode: a holder that sleeps with the mutex held and relocks
 *    at once after each unlock (it would win every race in normal mode)
 *    cannot keep a waiter out: the waiter, a goroutine and then a plain
 *    thread, gets the mutex ten times while the holder keeps going;
 *  - a goroutine that locks a mutex twice is reported as deadlocked,
 *    waiting in "sync.Mutex.Lock".
 *
 * Registered with GOCMAXPROCS 1, 2 and 4 besides the default.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "waitfor.h"

/* ---- mutual exclusion ------------------------------------------------- */

static goc_mutex big = GOC_MUTEX_INIT;
static atomic_int inside;
static long counter; /* protected by big */
static long rounds;
static goc_wg done = GOC_WG_INIT;

static void critical_section(long i)
{
	CHECK(atomic_fetch_add(&inside, 1) == 0, "two holders at once");
	counter++;
	if (i % 97 == 0)
		goc_yield(); /* a scheduling point while holding it */
	else if (i % 1009 == 0)
		goc_sleep(20 * GOC_MICROSECOND);
	CHECK(atomic_fetch_sub(&inside, 1) == 1, "two holders at once");
}

static void locker(void *arg)
{
	long id = (long)(intptr_t)arg;
	for (long i = 0; i < rounds; i++) {
		if ((i + id) % 5 == 0) {
			while (!goc_mutex_try_lock(&big))
				goc_yield();
		} else {
			goc_mutex_lock(&big);
		}
		critical_section(i + id);
		goc_mutex_unlock(&big);
	}
	goc_wg_done(&done);
}

static void *thread_locker(void *arg)
{
	locker(arg);
	return NULL;
}

static void test_exclusion(void)
{
	long goroutines = test_size(200, 100, 100);
	rounds = test_size(2000, 500, 300);
	counter = 0;
	goc_wg_add(&done, goroutines + 2);
	pthread_t threads[2];
	for (int t = 0; t < 2; t++)
		CHECK(pthread_create(&threads[t], NULL, thread_locker,
				     (void *)(intptr_t)(1000 + t)) == 0,
		      "pthread_create");
	for (long g = 0; g < goroutines; g++)
		CHECK(goc_go(locker, (void *)(intptr_t)g) > 0, "spawn");
	goc_wg_wait(&done);
	for (int t = 0; t < 2; t++)
		pthread_join(threads[t], NULL);
	CHECK(counter == (goroutines + 2) * rounds, "counter %ld, want %ld", counter,
	      (goroutines + 2) * rounds);
	ok("mutual exclusion: goroutines and plain threads, lock and try_lock");
}

/* ---- try_lock ------------------------------------------------------------ */

static void *thread_try_lock(void *arg)
{
	return (void *)(intptr_t)goc_mutex_try_lock(arg);
}

static void test_try_lock(void)
{
	goc_mutex m;
	goc_mutex_init(&m);
	CHECK(goc_mutex_try_lock(&m), "try_lock of a free mutex");
	CHECK(!goc_mutex_try_lock(&m), "try_lock of a held mutex");
	pthread_t t;
	void *got;
	pthread_create(&t, NULL, thread_try_lock, &m);
	pthread_join(t, &got);
	CHECK(!got, "a plain thread's try_lock of a held mutex");
	goc_mutex_unlock(&m);
	pthread_create(&t, NULL, thread_try_lock, &m);
	pthread_join(t, &got);
	CHECK(got, "a plain thread's try_lock of a free mutex");
	/* Unlocked by another thread than the one that locked it: allowed. */
	goc_mutex_unlock(&m);
	goc_mutex_lock(&m);
	goc_mutex_unlock(&m);
	ok("try_lock, from goroutines and plain threads");
}

/* ---- starvation mode ---------------------------------------------------- */

struct starve {
	goc_mutex mutex;
	atomic_int stop;
	atomic_long hog_locks;   /* times the hog took the mutex */
	atomic_int waiter_locks; /* times the waiter got it */
	goc_wg hog_done;
};

/* Holds the mutex while sleeping and relocks right after unlocking, so in
 * normal mode a woken waiter always finds it taken again. */
static void hog(void *arg)
{
	struct starve *s = arg;
	while (!atomic_load(&s->stop)) {
		goc_mutex_lock(&s->mutex);
		atomic_fetch_add(&s->hog_locks, 1);
		goc_sleep(100 * GOC_MICROSECOND);
		goc_mutex_unlock(&s->mutex);
	}
	goc_wg_done(&s->hog_done);
}

static void starving_waiter(struct starve *s)
{
	for (int i = 0; i < 10; i++) {
		goc_mutex_lock(&s->mutex);
		goc_mutex_unlock(&s->mutex);
		atomic_fetch_add(&s->waiter_locks, 1);
		goc_sleep(100 * GOC_MICROSECOND);
	}
}

static void starving_goroutine(void *arg)
{
	starving_waiter(arg);
}

static void *starving_thread(void *arg)
{
	starving_waiter(arg);
	return NULL;
}

/* The waiter must get the mutex ten times while the hog keeps relocking
 * it. With starvation mode each lock waits about a millisecond (plus the
 * hog's 100 us): well under a second even under TSan on a loaded machine.
 * Without it the waiter would not get in while the hog runs (with one P,
 * never), and the limit below fails the test instead of hanging it. */
#define STARVATION_LIMIT (30 * GOC_SECOND)

static void wait_for_waiter(struct starve *s, const char *who)
{
	WAIT_FOR_WITHIN(STARVATION_LIMIT, atomic_load(&s->waiter_locks) == 10,
			"%s starved: got the mutex %d of 10 times while the hog took it %ld times",
			who, atomic_load(&s->waiter_locks), atomic_load(&s->hog_locks));
}

static void test_starvation(void)
{
	static struct starve s = {.mutex = GOC_MUTEX_INIT, .hog_done = GOC_WG_INIT};
	goc_wg_add(&s.hog_done, 1);
	CHECK(goc_go(hog, &s) > 0, "spawn");
	/* The hog holds the mutex (and keeps relocking it) before the waiter
	 * comes. */
	WAIT_FOR(atomic_load(&s.hog_locks) > 0, "the hog never took the mutex");
	CHECK(goc_go(starving_goroutine, &s) > 0, "spawn");
	wait_for_waiter(&s, "a goroutine");
	ok("starvation mode: a goroutine gets the mutex from a relocking holder");
	atomic_store(&s.waiter_locks, 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, starving_thread, &s) == 0, "pthread_create");
	wait_for_waiter(&s, "a plain thread");
	pthread_join(t, NULL);
	ok("starvation mode: a plain thread gets the mutex from a relocking holder");
	atomic_store(&s.stop, 1);
	goc_wg_wait(&s.hog_done);
}

/* ---- wait reason in dumps ----------------------------------------------- */

/* Locking a mutex twice deadlocks the only goroutine; the deadlock report
 * shows what it waits for. */
static void double_lock_mode(void *arg)
{
	(void)arg;
	static goc_mutex m = GOC_MUTEX_INIT;
	goc_mutex_lock(&m);
	goc_mutex_lock(&m);
}

static void main_g(void *arg)
{
	(void)arg;
	test_try_lock();
	test_exclusion();
	test_starvation();
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "double_lock") == 0) {
		goc_main(double_lock_mode, NULL);
		return 0;
	}
	alarm(240); /* a starved waiter hangs: fail well before ctest's timeout */
	goc_main(main_g, NULL);
	if (deadlock_reports_expected("double lock")) {
		child_result r = run_self(argv[0], "double_lock", NULL);
		CHECK(r.exited && r.status == 2, "double lock: want exit 2, got %d:\n%s", r.status,
		      r.out);
		CHECK(contains(r.out, "all goroutines are asleep - deadlock!") &&
			      contains(r.out, "[sync.Mutex.Lock"),
		      "double lock report:\n%s", r.out);
		free(r.out);
		ok("a goroutine that locks twice is reported, waiting in sync.Mutex.Lock");
	}
	return 0;
}
