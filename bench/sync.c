/*
 * sync.c — the sync toolbox: MutexContended (and the same work on a pthread
 * mutex from as many threads, MutexContendedPthread), PoolGetPut (and the
 * allocation it saves, PoolAlloc), and CounterShared / CounterSharded (one
 * atomic counter against goc_counter's cache line per P), and
 * MetricCounterAdd (a Prometheus counter's add, goc/metrics.h).
 *
 * The workers of every workload report to the driver through a wait group,
 * so the driver parks instead of blocking its M in pthread_join.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- MutexContended ---------------------------------------------------- */

/* How many goroutines (or threads) take the mutex. */
#define LOCKERS 64

struct mutex_contended {
	int64_t n; /* lock+unlock per locker */
	goc_mutex mutex;
	pthread_mutex_t pthread_mutex;
	int64_t counter; /* plain: only ever touched with the mutex held */
	goc_wg finished;
};

static void mutex_locker(void *arg)
{
	struct mutex_contended *mc = arg;
	for (int64_t i = 0; i < mc->n; i++) {
		goc_mutex_lock(&mc->mutex);
		mc->counter++;
		goc_mutex_unlock(&mc->mutex);
	}
	goc_wg_done(&mc->finished);
}

/* MutexContended: 64 goroutines each take one goc_mutex n times to
 * increment a plain counter. One op is one lock, increment and unlock. */
void bench_mutex_contended(struct bench_run *run)
{
	struct mutex_contended mc = {.n = run->n, .mutex = GOC_MUTEX_INIT, .finished = GOC_WG_INIT};
	run->ops = LOCKERS * run->n;

	bench_start(run);
	goc_wg_add(&mc.finished, LOCKERS);
	for (int g = 0; g < LOCKERS; g++)
		bench_go(mutex_locker, &mc);
	goc_wg_wait(&mc.finished);
	bench_stop(run);

	if (mc.counter != run->ops)
		bench_fail("counter is %" PRId64 ", want %" PRId64, mc.counter, run->ops);
}

static void *pthread_locker(void *arg)
{
	struct mutex_contended *mc = arg;
	for (int64_t i = 0; i < mc->n; i++) {
		pthread_mutex_lock(&mc->pthread_mutex);
		mc->counter++;
		pthread_mutex_unlock(&mc->pthread_mutex);
	}
	goc_wg_done(&mc->finished);
	return NULL;
}

/* MutexContendedPthread: MutexContended's work done by 64 plain threads on
 * a default pthread mutex, the yardstick the goc_mutex must not lose to.
 * Creating the threads is timed, as creating the goroutines is; joining
 * them (they have finished by then) is not. -procs does not apply. */
void bench_mutex_contended_pthread(struct bench_run *run)
{
	struct mutex_contended mc = {.n = run->n, .finished = GOC_WG_INIT};
	pthread_mutex_init(&mc.pthread_mutex, NULL);
	pthread_t threads[LOCKERS];
	run->ops = LOCKERS * run->n;

	bench_start(run);
	goc_wg_add(&mc.finished, LOCKERS);
	for (int t = 0; t < LOCKERS; t++)
		if (pthread_create(&threads[t], NULL, pthread_locker, &mc) != 0)
			bench_fail("pthread_create failed");
	goc_wg_wait(&mc.finished);
	bench_stop(run);

	for (int t = 0; t < LOCKERS; t++)
		pthread_join(threads[t], NULL);
	pthread_mutex_destroy(&mc.pthread_mutex);
	if (mc.counter != run->ops)
		bench_fail("counter is %" PRId64 ", want %" PRId64, mc.counter, run->ops);
}

/* ---- workers for PoolGetPut, PoolAlloc and the counters ---------------- */

/* How many goroutines share the pool or the counter. */
#define WORKERS 8

struct crew {
	int64_t per_worker; /* iterations of each worker */
	goc_wg finished;
};

/* Times WORKERS goroutines running fn(arg), which does crew->per_worker
 * iterations and then goc_wg_done(&crew->finished); one op is one
 * iteration. */
static void run_crew(struct bench_run *run, struct crew *crew, goc_fn fn, void *arg)
{
	crew->per_worker = run->n / WORKERS;
	run->ops = crew->per_worker * WORKERS;
	bench_start(run);
	goc_wg_add(&crew->finished, WORKERS);
	for (int w = 0; w < WORKERS; w++)
		bench_go(fn, arg);
	goc_wg_wait(&crew->finished);
	bench_stop(run);
}

/* ---- PoolGetPut and PoolAlloc ----------------------------------------- */

#define POOL_OBJECT_SIZE 256

struct pool_work {
	struct crew crew; /* an iteration: get+put (or malloc+free) */
	goc_pool pool;
	int64_t made; /* objects new_fn made; atomic */
};

static void *pool_object_new(void *arg)
{
	struct pool_work *pw = arg;
	__atomic_add_fetch(&pw->made, 1, __ATOMIC_RELAXED);
	return malloc(POOL_OBJECT_SIZE);
}

static void pool_worker(void *arg)
{
	struct pool_work *pw = arg;
	for (int64_t i = 0; i < pw->crew.per_worker; i++) {
		unsigned char *obj = goc_pool_get(&pw->pool);
		if (!obj)
			bench_fail("goc_pool_get returned NULL");
		obj[i % POOL_OBJECT_SIZE] = (unsigned char)i;
		goc_pool_put(&pw->pool, obj);
	}
	goc_wg_done(&pw->crew.finished);
}

/* Keeps the compiler from dropping a malloc/free pair whose object is
 * never read. */
static void *volatile alloc_sink;

static void alloc_worker(void *arg)
{
	struct pool_work *pw = arg;
	for (int64_t i = 0; i < pw->crew.per_worker; i++) {
		unsigned char *obj = malloc(POOL_OBJECT_SIZE);
		if (!obj)
			bench_fail("malloc failed");
		obj[i % POOL_OBJECT_SIZE] = (unsigned char)i;
		alloc_sink = obj;
		free(obj);
	}
	goc_wg_done(&pw->crew.finished);
}

/* PoolGetPut: 8 goroutines each take a 256-byte object from one goc_pool,
 * write a byte of it and put it back, n/8 times. One op is one get and
 * put. Checked: the pool made at most a few objects per worker. */
void bench_pool_get_put(struct bench_run *run)
{
	struct pool_work pw = {.crew.finished = GOC_WG_INIT};
	goc_pool_init(&pw.pool, pool_object_new, NULL, &pw);
	run_crew(run, &pw.crew, pool_worker, &pw);
	goc_pool_stats stats;
	goc_pool_stats_read(&pw.pool, &stats);
	goc_pool_destroy(&pw.pool);
	if (stats.puts != run->ops || pw.made > 4 * WORKERS)
		bench_fail("%" PRId64 " puts (want %" PRId64 "), %" PRId64 " objects made",
			   stats.puts, run->ops, pw.made);
}

/* PoolAlloc: PoolGetPut without the pool — malloc and free of 256 bytes. */
void bench_pool_alloc(struct bench_run *run)
{
	struct pool_work pw = {.crew.finished = GOC_WG_INIT};
	run_crew(run, &pw.crew, alloc_worker, &pw);
}

/* ---- CounterShared and CounterSharded ---------------------------------- */

struct counter_work {
	struct crew crew;     /* an iteration: an add */
	int64_t shared;       /* CounterShared's one atomic */
	goc_counter *sharded; /* CounterSharded's */
};

static void shared_adder(void *arg)
{
	struct counter_work *cw = arg;
	for (int64_t i = 0; i < cw->crew.per_worker; i++)
		__atomic_add_fetch(&cw->shared, 1, __ATOMIC_RELAXED);
	goc_wg_done(&cw->crew.finished);
}

static void sharded_adder(void *arg)
{
	struct counter_work *cw = arg;
	for (int64_t i = 0; i < cw->crew.per_worker; i++)
		goc_counter_add(cw->sharded, 1);
	goc_wg_done(&cw->crew.finished);
}

/* CounterShared: 8 goroutines add 1 to one shared atomic int64, n/8 times
 * each. One op is one add. */
void bench_counter_shared(struct bench_run *run)
{
	struct counter_work cw = {.crew.finished = GOC_WG_INIT};
	run_crew(run, &cw.crew, shared_adder, &cw);
	if (cw.shared != run->ops)
		bench_fail("counter is %" PRId64 ", want %" PRId64, cw.shared, run->ops);
}

/* CounterSharded: CounterShared on a goc_counter. */
void bench_counter_sharded(struct bench_run *run)
{
	struct counter_work cw = {.crew.finished = GOC_WG_INIT, .sharded = goc_counter_new()};
	if (!cw.sharded)
		bench_fail("goc_counter_new: out of memory");
	run_crew(run, &cw.crew, sharded_adder, &cw);
	int64_t sum = goc_counter_read(cw.sharded);
	goc_counter_free(cw.sharded);
	if (sum != run->ops)
		bench_fail("counter is %" PRId64 ", want %" PRId64, sum, run->ops);
}

/* ---- MetricCounterAdd --------------------------------------------------- */

struct metric_work {
	struct crew crew; /* an iteration: an add */
	goc_metric_counter *counter;
};

static void metric_adder(void *arg)
{
	struct metric_work *mw = arg;
	for (int64_t i = 0; i < mw->crew.per_worker; i++)
		goc_metric_counter_add(mw->counter, 1);
	goc_wg_done(&mw->crew.finished);
}

/* MetricCounterAdd: CounterShared on one series of a Prometheus counter
 * (goc_metric_counter_add: a relaxed atomic add to the P's own cell).
 * Each run registers a series of its own. */
void bench_metric_counter_add(struct bench_run *run)
{
	static int runs;
	char labels[32];
	snprintf(labels, sizeof labels, "run=\"%d\"", ++runs);
	struct metric_work mw = {.crew.finished = GOC_WG_INIT};
	mw.counter = goc_metric_counter_new("bench_adds_total", "Adds.", labels);
	if (!mw.counter)
		bench_fail("goc_metric_counter_new: %s", strerror(errno));
	run_crew(run, &mw.crew, metric_adder, &mw);
	int64_t sum = goc_metric_counter_value(mw.counter);
	if (sum != run->ops)
		bench_fail("counter is %" PRId64 ", want %" PRId64, sum, run->ops);
}
