/*
 * test_sched_spawn_million.c — a million goroutines alive at once.
 *
 * Go programs casually run hundreds of thousands of goroutines; goc's
 * promise is the same (a parked goroutine costs about one page). The main
 * goroutine spawns N goroutines that each count themselves in a wait group
 * and then block receiving from one shared unbuffered channel. Once all N
 * have counted themselves they are all alive at the same time, so
 * goc_num_goroutine() must report at least N. Closing the channel wakes
 * every one of them: each must see GOC_CLOSED and finish, and the number
 * of goroutines must drop back to the main goroutine alone.
 *
 * N is 1,000,000 (100,000 under ASan; 2,000 under TSan, whose limit is
 * 8128 live threads and fibers, each costing it about a megabyte).
 */
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"

static long n_goroutines;
static goc_chan *gate;
static goc_wg started = GOC_WG_INIT;
static goc_wg finished = GOC_WG_INIT;
static atomic_long saw_closed;
static atomic_long saw_other;

static void parked(void *arg)
{
	(void)arg;
	goc_wg_done(&started);
	goc_status st = goc_chan_recv(gate, NULL);
	if (st == GOC_CLOSED)
		atomic_fetch_add_explicit(&saw_closed, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&saw_other, 1, memory_order_relaxed);
	goc_wg_done(&finished);
}

static void main_g(void *arg)
{
	(void)arg;
	gate = goc_chan_make(0, 0);
	CHECK(gate != NULL, "goc_chan_make");
	int64_t before = goc_num_goroutine(); /* the main goroutine */
	CHECK(before >= 1, "goc_num_goroutine() = %lld with main running", (long long)before);

	goc_wg_add(&started, n_goroutines);
	goc_wg_add(&finished, n_goroutines);
	for (long i = 0; i < n_goroutines; i++) {
		int64_t id = goc_go(parked, NULL);
		CHECK(id > 0, "goc_go #%ld returned %lld", i, (long long)id);
	}
	goc_wg_wait(&started);

	/* Every goroutine has run up to its receive and none can get past it:
	 * all N are alive now. */
	int64_t alive = goc_num_goroutine();
	CHECK(alive >= n_goroutines, "goc_num_goroutine() = %lld with %ld goroutines parked",
	      (long long)alive, n_goroutines);
	CHECK(atomic_load(&saw_closed) + atomic_load(&saw_other) == 0,
	      "a goroutine got past an unbuffered receive nobody sent to");
	printf("alive while parked: %lld, rss %ld KiB\n", (long long)alive, rss_kib());
	ok("all goroutines alive at once");

	goc_chan_close(gate);
	goc_wg_wait(&finished);
	CHECK(atomic_load(&saw_closed) == n_goroutines, "%ld of %ld saw GOC_CLOSED",
	      atomic_load(&saw_closed), n_goroutines);
	CHECK(atomic_load(&saw_other) == 0, "%ld receives returned something else",
	      atomic_load(&saw_other));
	ok("all woke on close and ran to the end");

	/* Finished goroutines stop counting (their exit is recorded before
	 * the wait group is done only in program order, so allow the last
	 * few to still be on their way out). */
	int64_t after = 0;
	for (int tries = 0; tries < 2000; tries++) {
		after = goc_num_goroutine();
		if (after <= before)
			break;
		goc_sleep(GOC_MILLISECOND);
	}
	CHECK(after <= before, "goc_num_goroutine() = %lld after all finished (was %lld)",
	      (long long)after, (long long)before);
	ok("goroutine count back to the main goroutine");
	goc_chan_release(gate);
}

int main(void)
{
	n_goroutines = test_size(1000000, 100000, 2000);
	goc_main(main_g, NULL);
	return 0;
}
