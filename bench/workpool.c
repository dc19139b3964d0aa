/*
 * workpool.c — a worker pool: WorkerPool (the specification's workload,
 * on goc channels) and WorkerPoolGoc (the same tasks through
 * goc_workpool; goc only).
 */
#include <inttypes.h>
#include <stdint.h>

#include "bench.h"

#define POOL_WORKERS 8
#define POOL_QUEUE 16

/* A task: a function and its argument, sent by value so that queueing one
 * allocates nothing. */
struct task {
	void (*apply)(int64_t *acc, int64_t arg);
	int64_t arg;
};

static void add_to_checksum(int64_t *acc, int64_t arg)
{
	*acc += arg;
}

struct pool_worker {
	goc_chan *tasks;
	int64_t sum;
	goc_wg *finished;
};

static void pool_worker_body(void *arg)
{
	struct pool_worker *w = arg;
	int64_t acc = 0;
	struct task t;
	while (goc_chan_recv(w->tasks, &t) == GOC_OK)
		t.apply(&acc, t.arg);
	w->sum = acc;
	goc_wg_done(w->finished);
}

static void check_checksum(int64_t n, int64_t total)
{
	int64_t want = n * (n - 1) / 2;
	if (total != want)
		bench_fail("workers summed to %" PRId64 ", want %" PRId64, total, want);
}

/*
 * WorkerPool: eight workers, each with its own accumulator, take tasks
 * from one channel of capacity 16 until it is closed; the driver sends the
 * n tasks {add_to_checksum, i}. Timed: from making the channel until every
 * worker has finished. One op is one task. Check: the accumulators add up
 * to n(n-1)/2.
 */
void bench_worker_pool(struct bench_run *run)
{
	struct pool_worker workers[POOL_WORKERS];
	goc_wg finished;
	goc_wg_init(&finished);
	bench_start(run);
	goc_chan *tasks = bench_chan(sizeof(struct task), POOL_QUEUE);
	goc_wg_add(&finished, POOL_WORKERS);
	for (int w = 0; w < POOL_WORKERS; w++) {
		workers[w] = (struct pool_worker){tasks, 0, &finished};
		bench_go(pool_worker_body, &workers[w]);
	}
	for (int64_t i = 0; i < run->n; i++) {
		struct task t = {add_to_checksum, i};
		goc_chan_send(tasks, &t);
	}
	goc_chan_close(tasks);
	goc_wg_wait(&finished);
	bench_stop(run);
	int64_t total = 0;
	for (int w = 0; w < POOL_WORKERS; w++)
		total += workers[w].sum;
	check_checksum(run->n, total);
	goc_chan_release(tasks);
}

static int64_t pool_checksum;

static void add_to_shared_checksum(void *arg)
{
	__atomic_fetch_add(&pool_checksum, (int64_t)(intptr_t)arg, __ATOMIC_RELAXED);
}

/*
 * WorkerPoolGoc: the same n tasks through goc_workpool with eight workers
 * (min = max = 8), a queue of 16 and the BLOCK policy, drained by
 * goc_workpool_stop. A task's function takes one argument, so the workers
 * add into one shared atomic checksum instead of their own accumulators.
 * Timed: from creating the pool until the stop returned.
 */
void bench_worker_pool_goc(struct bench_run *run)
{
	pool_checksum = 0;
	goc_workpool_options options = {.min_workers = POOL_WORKERS,
					.max_workers = POOL_WORKERS,
					.queue_size = POOL_QUEUE,
					.policy = GOC_WORKPOOL_BLOCK};
	bench_start(run);
	goc_workpool *pool = goc_workpool_new(&options);
	if (!pool)
		bench_fail("goc_workpool_new: out of memory");
	for (int64_t i = 0; i < run->n; i++)
		if (goc_workpool_submit(pool, add_to_shared_checksum, (void *)(intptr_t)i) !=
		    GOC_OK)
			bench_fail("task %" PRId64 " was not accepted", i);
	goc_workpool_stop(pool, NULL);
	bench_stop(run);
	goc_workpool_free(pool);
	check_checksum(run->n, __atomic_load_n(&pool_checksum, __ATOMIC_RELAXED));
}
