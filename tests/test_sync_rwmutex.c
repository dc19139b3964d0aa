/*
 * test_sync_rwmutex.c — goc_rwmutex:
 *
 *  - readers hold the lock together: N readers each wait, holding it,
 *    until all N are inside at once;
 *  - exclusion under stress: goroutines and two plain threads mix read and
 *    write locks (and their try forms); a writer is always alone, readers
 *    never overlap a writer, and the protected counter is exact;
 *  - writer preference: while a reader holds the lock and a writer waits,
 *    try_rlock fails and a new reader queues behind the writer (it enters
 *    only after the writer has been in);
 *  - writers are not starved by a continuous stream of overlapping
 *    readers: every writer gets in, repeatedly, while readers keep coming;
 *  - try forms on a free, read-locked and write-locked lock.
 *
 * Registered with GOCMAXPROCS 1, 2 and 4 besides the default.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "testutil.h"
#include "waitfor.h"

static goc_wg done = GOC_WG_INIT;

/* ---- readers together ----------------------------------------------------- */

static goc_rwmutex rw = GOC_RWMUTEX_INIT;
static atomic_long readers_inside;
static long nreaders;

static void reader_waiting_for_all(void *arg)
{
	(void)arg;
	goc_rwmutex_rlock(&rw);
	atomic_fetch_add(&readers_inside, 1);
	while (atomic_load(&readers_inside) < nreaders)
		goc_sleep(100 * GOC_MICROSECOND);
	goc_rwmutex_runlock(&rw);
	goc_wg_done(&done);
}

static void test_readers_together(void)
{
	nreaders = test_size(100, 50, 50);
	goc_wg_add(&done, nreaders);
	for (long i = 0; i < nreaders; i++)
		CHECK(goc_go(reader_waiting_for_all, NULL) > 0, "spawn");
	goc_wg_wait(&done);
	CHECK(goc_rwmutex_try_lock(&rw), "free after the readers left");
	goc_rwmutex_unlock(&rw);
	ok("readers hold the lock together");
}

/* ---- exclusion ------------------------------------------------------------ */

static atomic_long writers_in, readers_in;
static long shared_counter; /* written under the write lock */
static long rounds;

static void write_section(void)
{
	CHECK(atomic_fetch_add(&writers_in, 1) == 0, "two writers inside");
	CHECK(atomic_load(&readers_in) == 0, "a writer with readers inside");
	shared_counter++;
	if (shared_counter % 50 == 0)
		goc_yield();
	atomic_fetch_sub(&writers_in, 1);
}

static void read_section(long i)
{
	atomic_fetch_add(&readers_in, 1);
	CHECK(atomic_load(&writers_in) == 0, "a reader with a writer inside");
	if (i % 31 == 0)
		goc_yield();
	atomic_fetch_sub(&readers_in, 1);
}

static void mixed(void *arg)
{
	long id = (long)(intptr_t)arg;
	for (long i = 0; i < rounds; i++) {
		long k = i + id;
		if (k % 10 == 0) {
			goc_rwmutex_lock(&rw);
			write_section();
			goc_rwmutex_unlock(&rw);
		} else if (k % 10 == 1) {
			if (goc_rwmutex_try_lock(&rw)) {
				write_section();
				goc_rwmutex_unlock(&rw);
			}
		} else if (k % 10 == 2) {
			if (goc_rwmutex_try_rlock(&rw)) {
				read_section(k);
				goc_rwmutex_runlock(&rw);
			}
		} else {
			goc_rwmutex_rlock(&rw);
			read_section(k);
			goc_rwmutex_runlock(&rw);
		}
	}
	goc_wg_done(&done);
}

static void *thread_mixed(void *arg)
{
	mixed(arg);
	return NULL;
}

static void test_exclusion(void)
{
	long goroutines = test_size(100, 50, 50);
	rounds = test_size(2000, 500, 300);
	goc_wg_add(&done, goroutines + 2);
	pthread_t threads[2];
	for (int t = 0; t < 2; t++)
		CHECK(pthread_create(&threads[t], NULL, thread_mixed, (void *)(intptr_t)(7 + t)) ==
			      0,
		      "pthread_create");
	for (long g = 0; g < goroutines; g++)
		CHECK(goc_go(mixed, (void *)(intptr_t)g) > 0, "spawn");
	goc_wg_wait(&done);
	for (int t = 0; t < 2; t++)
		pthread_join(threads[t], NULL);
	/* Every k % 10 == 0 iteration wrote; try_lock iterations may have. */
	long sure = 0;
	for (long id = 0; id < goroutines; id++)
		for (long i = 0; i < rounds; i++)
			sure += (i + id) % 10 == 0;
	for (long id = 7; id < 9; id++)
		for (long i = 0; i < rounds; i++)
			sure += (i + id) % 10 == 0;
	CHECK(shared_counter >= sure, "writes %ld, at least %ld expected", shared_counter, sure);
	ok("readers and writers exclude each other (goroutines, plain threads, try forms)");
}

/* ---- writer preference ---------------------------------------------------- */

static atomic_int stage; /* 1: writer waiting, 2: writer inside, 3: late reader inside */
static atomic_int late_reader_started;

static void waiting_writer(void *arg)
{
	(void)arg;
	atomic_store(&stage, 1);
	goc_rwmutex_lock(&rw);
	CHECK(atomic_load(&stage) == 1, "the late reader entered before the writer");
	atomic_store(&stage, 2);
	goc_rwmutex_unlock(&rw);
	goc_wg_done(&done);
}

static void late_reader(void *arg)
{
	(void)arg;
	atomic_store(&late_reader_started, 1);
	goc_rwmutex_rlock(&rw);
	CHECK(atomic_load(&stage) == 2, "the late reader got in ahead of the waiting writer");
	atomic_store(&stage, 3);
	goc_rwmutex_runlock(&rw);
	goc_wg_done(&done);
}

static void test_writer_preference(void)
{
	atomic_store(&stage, 0);
	atomic_store(&late_reader_started, 0);
	goc_rwmutex_rlock(&rw);
	goc_wg_add(&done, 2);
	goc_go(waiting_writer, NULL);
	while (atomic_load(&stage) != 1)
		goc_yield();
	/* Give the writer time to announce itself; then it blocks readers. */
	while (goc_rwmutex_try_rlock(&rw)) {
		goc_rwmutex_runlock(&rw);
		goc_sleep(100 * GOC_MICROSECOND);
	}
	/* The late reader queues behind the writer: wait until it is parked
	 * in its rlock (and the writer in its lock), so neither getting in
	 * below is not a matter of having looked too early. */
	goc_go(late_reader, NULL);
	WAIT_FOR(atomic_load(&late_reader_started) && others_parked(),
		 "the writer and the late reader did not settle");
	CHECK(atomic_load(&stage) == 1, "someone got in while a reader held the lock");
	goc_rwmutex_runlock(&rw);
	goc_wg_wait(&done);
	CHECK(atomic_load(&stage) == 3, "stage %d", atomic_load(&stage));
	ok("a waiting writer stops new readers; they enter after it");
}

/* ---- writers not starved -------------------------------------------------- */

static atomic_int stop_readers;
static goc_wg readers_done = GOC_WG_INIT;

/* Readers overlap: each holds the lock across a sleep, and there are
 * several of them, so without writer preference the lock would never be
 * free of readers. */
static void stream_reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_readers)) {
		goc_rwmutex_rlock(&rw);
		atomic_fetch_add(&readers_in, 1);
		goc_sleep(200 * GOC_MICROSECOND);
		atomic_fetch_sub(&readers_in, 1);
		goc_rwmutex_runlock(&rw);
	}
	goc_wg_done(&readers_done);
}

static void *thread_stream_reader(void *arg)
{
	stream_reader(arg);
	return NULL;
}

static atomic_int writes_done;

static void starving_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		goc_rwmutex_lock(&rw);
		CHECK(atomic_load(&readers_in) == 0, "readers inside with the writer");
		goc_rwmutex_unlock(&rw);
		atomic_fetch_add(&writes_done, 1);
		goc_sleep(GOC_MILLISECOND);
	}
	goc_wg_done(&done);
}

/* Each write lock waits only for the readers already inside (200 us of
 * sleep each): 20 of them take well under a second even under TSan on a
 * loaded machine. Without writer preference the writer would not get in
 * while readers overlap, and the limit below fails the test instead of
 * hanging it. */
#define WRITER_LIMIT (30 * GOC_SECOND)

static void test_writers_not_starved(void)
{
	int nstream = 8;
	atomic_store(&stop_readers, 0);
	atomic_store(&readers_in, 0);
	goc_wg_add(&readers_done, nstream + 1);
	for (int i = 0; i < nstream; i++)
		goc_go(stream_reader, NULL);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, thread_stream_reader, NULL) == 0, "pthread_create");
	/* The readers are streaming before the writer comes. */
	WAIT_FOR(atomic_load(&readers_in) > 0, "the readers never got in");
	goc_wg_add(&done, 1);
	goc_go(starving_writer, NULL);
	WAIT_FOR_WITHIN(WRITER_LIMIT, atomic_load(&writes_done) == 20,
			"the writer starved: %d of 20 writes", atomic_load(&writes_done));
	goc_wg_wait(&done);
	atomic_store(&stop_readers, 1);
	goc_wg_wait(&readers_done);
	pthread_join(t, NULL);
	ok("writers get in, repeatedly, through a continuous stream of readers");
}

/* ---- try forms ------------------------------------------------------------ */

static void test_try_forms(void)
{
	goc_rwmutex l;
	goc_rwmutex_init(&l);
	CHECK(goc_rwmutex_try_rlock(&l), "try_rlock of a free lock");
	CHECK(goc_rwmutex_try_rlock(&l), "try_rlock of a read-locked lock");
	CHECK(!goc_rwmutex_try_lock(&l), "try_lock of a read-locked lock");
	goc_rwmutex_runlock(&l);
	goc_rwmutex_runlock(&l);
	CHECK(goc_rwmutex_try_lock(&l), "try_lock of a free lock");
	CHECK(!goc_rwmutex_try_lock(&l), "try_lock of a write-locked lock");
	CHECK(!goc_rwmutex_try_rlock(&l), "try_rlock of a write-locked lock");
	goc_rwmutex_unlock(&l);
	goc_rwmutex_lock(&l);
	goc_rwmutex_unlock(&l);
	goc_rwmutex_rlock(&l);
	goc_rwmutex_runlock(&l);
	ok("try forms on free, read-locked and write-locked locks");
}

static void main_g(void *arg)
{
	(void)arg;
	test_try_forms();
	test_readers_together();
	test_exclusion();
	test_writer_preference();
	test_writers_not_starved();
}

int main(void)
{
	alarm(240); /* a starved waiter hangs: fail well before ctest's timeout */
	goc_main(main_g, NULL);
	return 0;
}
