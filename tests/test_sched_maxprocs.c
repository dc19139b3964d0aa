/*
 * test_sched_maxprocs.c — goc_maxprocs reads and changes the number of Ps
 * at run time, like Go's runtime.GOMAXPROCS.
 *
 *  1. goc_maxprocs(0) (and any n <= 0) only reads; it agrees with
 *     goc_sched_stats_read's procs.
 *  2. While WORKERS goroutines run a mix of yields, sleeps and channel
 *     round trips, the main goroutine changes the setting 1 -> 4 -> 2 -> 1,
 *     each call returning the previous value. Ps that go away hand their
 *     queued goroutines, timers and stacks to the others: every worker must
 *     still finish, with every message delivered.
 *  2b. The same with run queues full of goroutines that only yield: two
 *     goroutines each spawn YIELDERS yielders (filling their P's ring) and
 *     yield themselves, then the setting drops from 2 to 1 (SHRINKS rounds).
 *     A goroutine yielding on the P being retired has a full ring behind it;
 *     all of them must go on running and finish.
 *  3. After goc_maxprocs(4), four goroutines that spin (without yielding)
 *     until all four have arrived must all get there: that needs four Ps
 *     running at once (bounded wait, so a failure does not hang; on a
 *     two-core machine the four threads take turns, which is enough).
 *  4. goc_maxprocs(1000) (over the cap of 256) returns -EINVAL and
 *     leaves the setting alone.
 *  5. GOCMAXPROCS=3 in the environment is honoured (a child via run_self),
 *     and a junk value falls back to a sane setting (>= 1).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define WORKERS 400
#define ROUNDS 200

static atomic_long rounds_done;
static atomic_long finished;
static goc_wg wg = GOC_WG_INIT;

struct pair {
	goc_chan *ping, *pong;
};

/* Holds its own references to both channels (taken by the worker). The
 * worker cannot finish before echo's first receive, so copying *arg first
 * thing is safe. */
static void echo(void *arg)
{
	struct pair p = *(struct pair *)arg;
	long v;
	while (goc_chan_recv(p.ping, &v) == GOC_OK)
		goc_chan_send(p.pong, &(long){v + 1});
	goc_chan_release(p.ping);
	goc_chan_release(p.pong);
	goc_wg_done(&wg);
}

static void worker(void *arg)
{
	long id = (long)(intptr_t)arg;
	struct pair p = {goc_chan_make(sizeof(long), 0), goc_chan_make(sizeof(long), 0)};
	CHECK(p.ping && p.pong, "goc_chan_make");
	goc_chan_retain(p.ping);
	goc_chan_retain(p.pong);
	CHECK(goc_go(echo, &p) > 0, "goc_go");
	for (long r = 0; r < ROUNDS; r++) {
		long v = id * 1000000 + r, back = 0;
		goc_chan_send(p.ping, &v);
		CHECK(goc_chan_recv(p.pong, &back) == GOC_OK && back == v + 1, "echo %ld -> %ld", v,
		      back);
		if (r % 16 == 0)
			goc_sleep((r % 3 + 1) * 100 * GOC_MICROSECOND);
		else
			goc_yield();
		atomic_fetch_add_explicit(&rounds_done, 1, memory_order_relaxed);
	}
	goc_chan_close(p.ping);
	goc_chan_release(p.ping);
	goc_chan_release(p.pong);
	atomic_fetch_add(&finished, 1);
	goc_wg_done(&wg);
}

#define YIELDERS 250
#define SHRINKS 20

static atomic_int stop_yielding;
static goc_wg yield_wg = GOC_WG_INIT;

static void pure_yielder(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_yielding))
		goc_yield();
	goc_wg_done(&yield_wg);
}

static void yield_spawner(void *arg)
{
	(void)arg;
	for (int i = 0; i < YIELDERS; i++)
		CHECK(goc_go(pure_yielder, NULL) > 0, "goc_go");
	pure_yielder(NULL);
}

static atomic_int arrived;
static atomic_int saw_all;
static goc_wg spin_wg = GOC_WG_INIT;

/* Spins, never yielding, until n goroutines have arrived: with fewer than
 * n Ps running at once the rest could never arrive. Gives up after 30 s
 * (a failure, not a measurement). */
static void spin_barrier(void *arg)
{
	int n = (int)(intptr_t)arg;
	atomic_fetch_add(&arrived, 1);
	int64_t give_up = goc_now() + 30 * GOC_SECOND;
	while (atomic_load(&arrived) < n && goc_now() < give_up)
		;
	if (atomic_load(&arrived) >= n)
		atomic_fetch_add(&saw_all, 1);
	goc_wg_done(&spin_wg);
}

static void check_stats(int want)
{
	goc_sched_stats st;
	goc_sched_stats_read(&st);
	CHECK(st.procs == want, "stats say %d procs, want %d", st.procs, want);
}

static void main_g(void *arg)
{
	(void)arg;
	int initial = goc_maxprocs(0);
	CHECK(initial >= 1 && initial <= 256, "goc_maxprocs(0) = %d", initial);
	CHECK(goc_maxprocs(-5) == initial, "goc_maxprocs(-5) changed or misread");
	CHECK(goc_maxprocs(0) == initial, "reading changed the setting");
	check_stats(initial);
	ok("goc_maxprocs(0) reads");

	CHECK(goc_maxprocs(1) == initial, "goc_maxprocs(1) did not return the old value");
	goc_wg_add(&wg, 2 * WORKERS); /* each worker and its echo */
	for (long i = 0; i < WORKERS; i++)
		CHECK(goc_go(worker, (void *)(intptr_t)i) > 0, "goc_go");
	const int steps[] = {4, 2, 1, 4, 1};
	int prev = 1;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		/* Change once some progress has been made at the old setting
		 * (or every worker is already done). */
		long at = atomic_load(&rounds_done);
		while (atomic_load(&rounds_done) < at + WORKERS * 4 &&
		       atomic_load(&finished) < WORKERS)
			goc_sleep(GOC_MILLISECOND);
		int old = goc_maxprocs(steps[i]);
		CHECK(old == prev, "goc_maxprocs(%d) returned %d, want %d", steps[i], old, prev);
		CHECK(goc_maxprocs(0) == steps[i], "setting is %d after goc_maxprocs(%d)",
		      goc_maxprocs(0), steps[i]);
		check_stats(steps[i]);
		prev = steps[i];
	}
	goc_wg_wait(&wg);
	CHECK(atomic_load(&finished) == WORKERS, "finished %ld of %d", atomic_load(&finished),
	      WORKERS);
	CHECK(atomic_load(&rounds_done) == (long)WORKERS * ROUNDS, "rounds %ld",
	      atomic_load(&rounds_done));
	ok("goroutines finish while GOCMAXPROCS changes 1 -> 4 -> 2 -> 1 -> 4 -> 1");

	for (int round = 0; round < SHRINKS; round++) {
		atomic_store(&stop_yielding, 0);
		CHECK(goc_maxprocs(2) == 1, "round %d: to 2", round);
		goc_wg_add(&yield_wg, 2 * (YIELDERS + 1));
		CHECK(goc_go(yield_spawner, NULL) > 0, "goc_go");
		CHECK(goc_go(yield_spawner, NULL) > 0, "goc_go");
		goc_sleep(2 * GOC_MILLISECOND);
		CHECK(goc_maxprocs(1) == 2, "round %d: to 1", round);
		goc_sleep(2 * GOC_MILLISECOND);
		atomic_store(&stop_yielding, 1);
		goc_wg_wait(&yield_wg);
	}
	ok("full run queues of yielding goroutines survive shrinking 2 -> 1");

	CHECK(goc_maxprocs(4) == 1, "back to 4");
	goc_wg_add(&spin_wg, 4);
	for (int i = 0; i < 4; i++)
		CHECK(goc_go(spin_barrier, (void *)(intptr_t)4) > 0, "goc_go");
	goc_wg_wait(&spin_wg);
	CHECK(atomic_load(&saw_all) == 4, "only %d of 4 spinning goroutines saw all four arrive",
	      atomic_load(&saw_all));
	ok("four Ps run four goroutines at once");

	int r = goc_maxprocs(1000);
	CHECK(r == -EINVAL, "goc_maxprocs(1000) returned %d, want -EINVAL", r);
	CHECK(goc_maxprocs(257) == -EINVAL, "257 accepted");
	CHECK(goc_maxprocs(0) == 4, "a refused value changed the setting to %d", goc_maxprocs(0));
	CHECK(goc_maxprocs(256) == 4, "256 refused");
	CHECK(goc_maxprocs(initial) == 256, "back to the initial value");
	ok("goc_maxprocs over the cap: -EINVAL; 256 allowed");
}

static void print_procs(void *arg)
{
	(void)arg;
	goc_sched_stats st;
	goc_sched_stats_read(&st);
	printf("procs=%d stats=%d\n", goc_maxprocs(0), st.procs);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		alarm(60);
		goc_main(print_procs, NULL);
		return 0;
	}
	static const char *const env3[] = {"GOCMAXPROCS=3", NULL};
	child_result r = run_self(argv[0], "print", env3);
	printf("--- GOCMAXPROCS=3: %s", r.out);
	CHECK(r.exited && r.status == 0, "child failed");
	CHECK(contains(r.out, "procs=3 stats=3"), "GOCMAXPROCS=3 not honoured");
	free(r.out);
	ok("GOCMAXPROCS=3 in the environment");

	static const char *const env_junk[] = {"GOCMAXPROCS=lots", NULL};
	r = run_self(argv[0], "print", env_junk);
	printf("--- GOCMAXPROCS=lots: %s", r.out);
	CHECK(r.exited && r.status == 0, "child failed");
	int procs = 0, stats = 0;
	const char *p = strstr(r.out, "procs=");
	CHECK(p && sscanf(p, "procs=%d stats=%d", &procs, &stats) == 2, "no output");
	CHECK(procs >= 1 && procs <= 256 && procs == stats, "procs %d stats %d", procs, stats);
	free(r.out);
	ok("a junk GOCMAXPROCS falls back to a valid setting");

	alarm(60); /* a scheduler hang fails the test (SIGALRM) instead of stalling ctest */
	goc_main(main_g, NULL);
	return 0;
}
