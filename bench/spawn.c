/*
 * spawn.c — the goroutine life cycle: SpawnJoin and SpawnJoinBatch (create
 * goroutines and wait for them to finish) and ParkedMemory (what a
 * goroutine blocked on a channel costs in resident memory).
 */
#include <inttypes.h>
#include <stdatomic.h>

#include "bench.h"

/* How many goroutines one SpawnJoinBatch round starts. */
#define SPAWN_BATCH 1000

/* What every goroutine of SpawnJoin and SpawnJoinBatch is given. */
struct spawn_shared {
	goc_wg finished;
	_Atomic int64_t ran; /* goroutines that have run */
};

static void spawn_body(void *arg)
{
	struct spawn_shared *shared = arg;
	atomic_fetch_add(&shared->ran, 1);
	goc_wg_done(&shared->finished);
}

/* Starts count goroutines running spawn_body and waits for them. */
static void spawn_and_join(struct spawn_shared *shared, int64_t count)
{
	goc_wg_add(&shared->finished, count);
	for (int64_t i = 0; i < count; i++)
		bench_go(spawn_body, shared);
	goc_wg_wait(&shared->finished);
}

/* SpawnJoin: n goroutines started at once, each bumping a counter. One op
 * is one goroutine, from goc_go to the wait that sees it finish. */
void bench_spawn_join(struct bench_run *run)
{
	struct spawn_shared shared;
	goc_wg_init(&shared.finished);
	atomic_init(&shared.ran, 0);

	bench_start(run);
	spawn_and_join(&shared, run->n);
	bench_stop(run);

	int64_t ran = atomic_load(&shared.ran);
	if (ran != run->n)
		bench_fail("counter is %" PRId64 " after %" PRId64 " goroutines", ran, run->n);
}

/* SpawnJoinBatch: n rounds of SpawnJoin with SPAWN_BATCH goroutines, each
 * round waited for before the next starts. One op is one goroutine. */
void bench_spawn_join_batch(struct bench_run *run)
{
	struct spawn_shared shared;
	goc_wg_init(&shared.finished);
	atomic_init(&shared.ran, 0);
	run->ops = run->n * SPAWN_BATCH;

	bench_start(run);
	for (int64_t round = 0; round < run->n; round++)
		spawn_and_join(&shared, SPAWN_BATCH);
	bench_stop(run);

	int64_t ran = atomic_load(&shared.ran);
	if (ran != run->ops)
		bench_fail("counter is %" PRId64 " after %" PRId64 " goroutines", ran, run->ops);
}

/* What every goroutine of ParkedMemory is given. */
struct parked_shared {
	goc_wg ready;          /* counts down as goroutines are about to park */
	goc_wg done;           /* counts down as they finish */
	goc_chan *wake;        /* unbuffered, elements of 0 bytes; only closed */
	_Atomic int64_t woken; /* goroutines that saw wake closed */
};

static void parked_body(void *arg)
{
	struct parked_shared *shared = arg;
	goc_wg_done(&shared->ready);
	if (goc_chan_recv(shared->wake, NULL) == GOC_CLOSED)
		atomic_fetch_add(&shared->woken, 1);
	goc_wg_done(&shared->done);
}

/*
 * ParkedMemory: n goroutines park receiving from one shared channel; the
 * growth of VmRSS from before they were started until all are parked,
 * divided by n, is reported as KB/goroutine. Timed: spawning until all
 * are about to park, plus closing the channel until all have finished.
 * It has no warm-up, so the first reading is the footprint of a process
 * that has done nothing but start the runtime and this driver.
 */
void bench_parked_memory(struct bench_run *run)
{
	int64_t before = bench_resident_bytes();

	struct parked_shared shared;
	goc_wg_init(&shared.ready);
	goc_wg_init(&shared.done);
	atomic_init(&shared.woken, 0);
	shared.wake = bench_chan(0, 0);

	bench_start(run);
	goc_wg_add(&shared.ready, run->n);
	goc_wg_add(&shared.done, run->n);
	for (int64_t i = 0; i < run->n; i++)
		bench_go_compact(parked_body, &shared);
	goc_wg_wait(&shared.ready);
	bench_stop(run);

	int64_t parked = bench_resident_bytes();

	bench_start(run);
	goc_chan_close(shared.wake);
	goc_wg_wait(&shared.done);
	bench_stop(run);

	goc_chan_release(shared.wake);
	int64_t woken = atomic_load(&shared.woken);
	if (woken != run->n)
		bench_fail("%" PRId64 " of %" PRId64 " goroutines woke from the closed channel",
			   woken, run->n);
	bench_add_metric(run, (double)(parked - before) / 1024 / (double)run->n, "KB/goroutine");
}
