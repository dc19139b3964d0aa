/*
 * test_sched_steal.c — work spawned by one goroutine spreads over the Ps.
 *
 * Everything spawned by a goroutine goes to its own P's run queue; only
 * work stealing (an idle M taking half of a busy P's queue) or the global
 * queue let a second P run any of it. With GOCMAXPROCS=2 the main
 * goroutine spawns WORKERS goroutines that each busy-compute for about
 * WORK_NS (no blocking call, so the spawner's P stays busy for the whole
 * run) and record the OS thread (gettid) they ran on. At least two distinct
 * threads must have run them. 200 x 2 ms is 400 ms of work, more than
 * enough for the idle P's M to be woken and steal, however noisy the
 * machine; a scheduler that never steals fails every time.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

#define WORKERS 200
#define WORK_NS (2 * GOC_MILLISECOND)

static pid_t ran_on[WORKERS];
static uint64_t results[WORKERS]; /* keeps the busy work from being optimised away */

static void worker(void *arg)
{
	long i = (long)(intptr_t)arg;
	/* Busy work measured by the clock, so it lasts about as long on
	 * any machine; the arithmetic keeps the loop from being empty. */
	uint64_t x = (uint64_t)i + 1;
	int64_t until = goc_now() + WORK_NS;
	while (goc_now() < until)
		for (int k = 0; k < 1000; k++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	results[i] = x;
	ran_on[i] = (pid_t)syscall(SYS_gettid);
}

static goc_wg wg = GOC_WG_INIT;

static void worker_done(void *arg)
{
	worker(arg);
	goc_wg_done(&wg);
}

static void main_g(void *arg)
{
	(void)arg;
	CHECK(goc_maxprocs(0) == 2, "GOCMAXPROCS is %d, want 2", goc_maxprocs(0));
	goc_sched_stats before;
	goc_sched_stats_read(&before);
	goc_wg_add(&wg, WORKERS);
	for (long i = 0; i < WORKERS; i++)
		CHECK(goc_go(worker_done, (void *)(intptr_t)i) > 0, "goc_go");
	goc_wg_wait(&wg);

	pid_t distinct[WORKERS];
	int ndistinct = 0;
	for (int i = 0; i < WORKERS; i++) {
		CHECK(ran_on[i] > 0, "worker %d did not record its thread", i);
		int seen = 0;
		for (int j = 0; j < ndistinct; j++)
			seen |= distinct[j] == ran_on[i];
		if (!seen)
			distinct[ndistinct++] = ran_on[i];
	}
	goc_sched_stats after;
	goc_sched_stats_read(&after);
	printf("%d workers ran on %d threads; steals %lld\n", WORKERS, ndistinct,
	       (long long)(after.steals - before.steals));
	CHECK(ndistinct >= 2, "all %d workers ran on one thread", WORKERS);
	ok("work spawned by one goroutine ran on several threads");
}

int main(void)
{
	setenv("GOCMAXPROCS", "2", 1);
	goc_main(main_g, NULL);
	return 0;
}
