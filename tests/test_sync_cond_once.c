/*
 * test_sync_cond_once.c — goc_cond, goc_once and a wait-group hunt:
 *
 *  - cond, signal: a bounded queue guarded by a mutex and two conds
 *    (not empty, not full), producers and consumers (goroutines and a
 *    plain thread) signalling after each change; every item arrives. A
 *    lost wake-up leaves a consumer or producer asleep forever, which the
 *    watchdog turns into a failure;
 *  - cond, broadcast: a barrier of N goroutines reused for many rounds;
 *  - cond, ping-pong: two goroutines hand a turn back and forth with
 *    signal, many times (each wait begins just before the other's signal);
 *  - a signal wakes one waiter only, and never a waiter that started
 *    waiting after it; broadcast wakes all who wait;
 *  - once: goroutines and plain threads race to run the same function;
 *    it runs exactly once and every caller returns only after it finished;
 *  - wait group: rounds of add / done-from-another-goroutine / several
 *    waiters, hunting for a lost wake-up.
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

/* ---- signal: bounded queue ------------------------------------------------- */

#define QCAP 4

static struct {
	goc_mutex mutex;
	goc_cond not_empty, not_full;
	long items[QCAP];
	int head, len;
	long sum_out; /* under mutex */
} q = {GOC_MUTEX_INIT, GOC_COND_INIT, GOC_COND_INIT, {0}, 0, 0, 0};

static long per_producer;

static void queue_put(long v)
{
	goc_mutex_lock(&q.mutex);
	while (q.len == QCAP)
		goc_cond_wait(&q.not_full, &q.mutex);
	q.items[(q.head + q.len++) % QCAP] = v;
	goc_cond_signal(&q.not_empty);
	goc_mutex_unlock(&q.mutex);
}

/* Returns the item; -1 ends a consumer. */
static long queue_take(void)
{
	goc_mutex_lock(&q.mutex);
	while (q.len == 0)
		goc_cond_wait(&q.not_empty, &q.mutex);
	long v = q.items[q.head];
	q.head = (q.head + 1) % QCAP;
	q.len--;
	if (v >= 0)
		q.sum_out += v;
	goc_mutex_unlock(&q.mutex);
	/* Signal outside the lock: allowed, and a different interleaving. */
	goc_cond_signal(&q.not_full);
	return v;
}

static void producer(void *arg)
{
	(void)arg;
	for (long i = 1; i <= per_producer; i++)
		queue_put(i);
	goc_wg_done(&done);
}

static void consumer(void *arg)
{
	(void)arg;
	while (queue_take() >= 0)
		;
	goc_wg_done(&done);
}

static void *thread_consumer(void *arg)
{
	consumer(arg);
	return NULL;
}

static void test_signal_queue(void)
{
	int producers = 4, consumers = 4;
	per_producer = test_size(20000, 5000, 2000);
	goc_wg_add(&done, producers + consumers + 1);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, thread_consumer, NULL) == 0, "pthread_create");
	for (int i = 0; i < consumers; i++)
		goc_go(consumer, NULL);
	for (int i = 0; i < producers; i++)
		goc_go(producer, NULL);
	/* Wait for the producers through the sum, then stop the consumers. */
	long want = producers * per_producer * (per_producer + 1) / 2;
	for (;;) {
		goc_mutex_lock(&q.mutex);
		long got = q.sum_out;
		goc_mutex_unlock(&q.mutex);
		if (got == want)
			break;
		CHECK(got < want, "consumed %ld, more than the %ld produced", got, want);
		goc_sleep(GOC_MILLISECOND);
	}
	for (int i = 0; i < consumers + 1; i++)
		queue_put(-1);
	goc_wg_wait(&done);
	pthread_join(t, NULL);
	ok("cond signal: bounded queue, producers and consumers (one a plain thread)");
}

/* ---- broadcast: a reusable barrier ---------------------------------------- */

static struct {
	goc_mutex mutex;
	goc_cond cond;
	int arrived, generation, parties;
} barrier = {GOC_MUTEX_INIT, GOC_COND_INIT, 0, 0, 0};

static void barrier_wait(void)
{
	goc_mutex_lock(&barrier.mutex);
	int gen = barrier.generation;
	if (++barrier.arrived == barrier.parties) {
		barrier.arrived = 0;
		barrier.generation++;
		goc_cond_broadcast(&barrier.cond);
	} else {
		while (gen == barrier.generation)
			goc_cond_wait(&barrier.cond, &barrier.mutex);
	}
	goc_mutex_unlock(&barrier.mutex);
}

static long barrier_rounds;
static atomic_long barrier_passed;

static void barrier_party(void *arg)
{
	(void)arg;
	for (long r = 0; r < barrier_rounds; r++) {
		barrier_wait();
		atomic_fetch_add(&barrier_passed, 1);
	}
	goc_wg_done(&done);
}

static void test_broadcast_barrier(void)
{
	barrier.parties = 16;
	barrier_rounds = test_size(2000, 500, 200);
	goc_wg_add(&done, barrier.parties);
	for (int i = 0; i < barrier.parties; i++)
		goc_go(barrier_party, NULL);
	goc_wg_wait(&done);
	CHECK(atomic_load(&barrier_passed) == barrier.parties * barrier_rounds, "passed %ld",
	      atomic_load(&barrier_passed));
	ok("cond broadcast: a barrier of 16 reused for every round");
}

/* ---- ping-pong ------------------------------------------------------------ */

static struct {
	goc_mutex mutex;
	goc_cond cond;
	int turn;
} pp = {GOC_MUTEX_INIT, GOC_COND_INIT, 0};

static long pp_rounds;

static void pinger(void *arg)
{
	int me = (int)(intptr_t)arg;
	for (long i = 0; i < pp_rounds; i++) {
		goc_mutex_lock(&pp.mutex);
		while (pp.turn != me)
			goc_cond_wait(&pp.cond, &pp.mutex);
		pp.turn = 1 - me;
		goc_cond_signal(&pp.cond);
		goc_mutex_unlock(&pp.mutex);
	}
	goc_wg_done(&done);
}

static void test_ping_pong(void)
{
	pp_rounds = test_size(50000, 10000, 5000);
	goc_wg_add(&done, 2);
	goc_go(pinger, (void *)0);
	goc_go(pinger, (void *)1);
	goc_wg_wait(&done);
	ok("cond ping-pong: a turn handed back and forth with signal");
}

/* ---- signal wakes one, and only earlier waiters ---------------------------- */

static goc_mutex one_mutex = GOC_MUTEX_INIT;
static goc_cond one_cond = GOC_COND_INIT;
static int waiting; /* under one_mutex: goroutines inside cond_wait */
static atomic_int woken;

static void one_waiter(void *arg)
{
	(void)arg;
	goc_mutex_lock(&one_mutex);
	waiting++;
	goc_cond_wait(&one_cond, &one_mutex);
	waiting--;
	goc_mutex_unlock(&one_mutex);
	atomic_fetch_add(&woken, 1);
	goc_wg_done(&done);
}

static void wait_for_waiters(int n)
{
	for (;;) {
		goc_mutex_lock(&one_mutex);
		int w = waiting;
		goc_mutex_unlock(&one_mutex);
		if (w == n)
			return;
		goc_sleep(100 * GOC_MICROSECOND);
	}
}

static void test_signal_one(void)
{
	int n = 5;
	goc_wg_add(&done, n + 1);
	for (int i = 0; i < n; i++)
		goc_go(one_waiter, NULL);
	wait_for_waiters(n);
	goc_cond_signal(&one_cond);
	while (atomic_load(&woken) == 0)
		goc_sleep(100 * GOC_MICROSECOND);
	/* A waiter that starts now must not be woken by the signal already
	 * made. (waiting counts a goroutine once it holds its ticket.) */
	goc_go(one_waiter, NULL);
	wait_for_waiters(n); /* n - 1 old ones plus the new one */
	/* Settled: every waiter parked. One woken by mistake would have been
	 * runnable, so it would have run and counted itself first. */
	WAIT_FOR(others_parked(), "the waiters did not settle");
	CHECK(atomic_load(&woken) == 1, "one signal woke %d", atomic_load(&woken));
	goc_cond_broadcast(&one_cond);
	goc_wg_wait(&done);
	CHECK(atomic_load(&woken) == n + 1, "broadcast left %d asleep",
	      n + 1 - atomic_load(&woken));
	/* Nobody waits: signal and broadcast are no-ops. */
	goc_cond_signal(&one_cond);
	goc_cond_broadcast(&one_cond);
	ok("signal wakes one earlier waiter; broadcast wakes all");
}

/* ---- once ------------------------------------------------------------------ */

static goc_once once = GOC_ONCE_INIT;
static atomic_int once_runs, once_finished;

static void init_once(void *arg)
{
	(void)arg;
	atomic_fetch_add(&once_runs, 1);
	goc_sleep(10 * GOC_MILLISECOND); /* callers pile up meanwhile */
	atomic_store(&once_finished, 1);
}

static void once_caller(void *arg)
{
	(void)arg;
	goc_once_do(&once, init_once, NULL);
	CHECK(atomic_load(&once_finished) == 1, "goc_once_do returned before fn finished");
	goc_wg_done(&done);
}

static void *thread_once_caller(void *arg)
{
	once_caller(arg);
	return NULL;
}

static void test_once(void)
{
	long callers = test_size(200, 100, 100);
	for (int round = 0; round < 5; round++) {
		goc_once_init(&once);
		atomic_store(&once_runs, 0);
		atomic_store(&once_finished, 0);
		goc_wg_add(&done, callers + 2);
		pthread_t t[2];
		for (int i = 0; i < 2; i++)
			CHECK(pthread_create(&t[i], NULL, thread_once_caller, NULL) == 0,
			      "pthread_create");
		for (long i = 0; i < callers; i++)
			goc_go(once_caller, NULL);
		goc_wg_wait(&done);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		CHECK(atomic_load(&once_runs) == 1, "fn ran %d times", atomic_load(&once_runs));
	}
	goc_once_do(&once, init_once, NULL);
	CHECK(atomic_load(&once_runs) == 1, "fn ran again after it had run");
	ok("once: one run under contention; every caller waits for it");
}

/* ---- wait group ----------------------------------------------------------- */

static void finisher(void *arg)
{
	goc_wg *wg = arg;
	goc_wg_done(wg);
}

static void wg_waiter(void *arg)
{
	goc_wg *wg = arg;
	goc_wg_wait(wg);
	goc_wg_done(&done);
}

static void test_wait_group_hunt(void)
{
	long wg_rounds = test_size(20000, 5000, 2000);
	for (long r = 0; r < wg_rounds; r++) {
		goc_wg wg = GOC_WG_INIT;
		goc_wg_add(&wg, 2);
		goc_wg_add(&done, 2);
		goc_go(wg_waiter, &wg);
		goc_go(wg_waiter, &wg);
		goc_go(finisher, &wg);
		if (r % 3 == 0)
			goc_yield();
		goc_wg_done(&wg);
		goc_wg_wait(&wg);
		goc_wg_wait(&done); /* the waiters are gone before wg leaves scope */
	}
	ok("wait group: no lost wake-up over many rounds");
}

static void main_g(void *arg)
{
	(void)arg;
	test_signal_one();
	test_signal_queue();
	test_broadcast_barrier();
	test_ping_pong();
	test_once();
	test_wait_group_hunt();
}

int main(void)
{
	alarm(240); /* a lost wake-up hangs: fail well before ctest's timeout */
	goc_main(main_g, NULL);
	return 0;
}
