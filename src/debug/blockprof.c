/*
 * blockprof.c — the block profile (Go's runtime.SetBlockProfileRate and
 * pprof's "block" profile): where goroutines wait in channel operations,
 * select, mutexes, read-write mutexes, condition variables, semaphores and
 * wait groups, and for how long.
 *
 * The hook is in goc__park, the one place every such wait goes through
 * (goc__blockprof_on in debug.h): with the profile off it is a compare of
 * goc__blockprof_rate_ns with zero and a branch that is never taken.
 * With it on, a park for a profiled wait reason reads the clock, and the
 * goroutine, once resumed, records the event with its own stack — the
 * same frames it parked in, since a parked stack does not change — so no
 * stack is walked for a wait that the sampling then drops.
 *
 * Sampling, as Go's blocksampled: an event that waited at least the rate
 * is recorded as it is; a shorter one with probability delay / rate, and
 * then counted rate / delay times with rate ns of delay, so the expected
 * totals of both sums are the true ones.
 *
 * The delay runs until the goroutine runs again, so it includes the time
 * it sat in a run queue after being readied (Go stops the clock at the
 * ready); on a busy machine a profile shows somewhat longer waits than
 * Go's would.
 *
 * Waits of plain threads (which block on a futex, without a goroutine
 * stack to walk) are not recorded.
 */
#include <errno.h>

#include "contention.h"

int64_t goc__blockprof_rate_ns;

static goc__contention_table blocks = GOC_CONTENTION_TABLE_INIT;

void goc_pprof_set_block_rate(int64_t rate_ns)
{
	goc__store_relaxed(&goc__blockprof_rate_ns, rate_ns > 0 ? rate_ns : 0);
}

int64_t goc__blockprof_start(goc__wait_reason r)
{
	if (!((1u << r) & GOC_BLOCKPROF_REASONS))
		return 0;
	return goc__prim_nanotime();
}

static uint64_t random64(void)
{
	return (uint64_t)goc__fastrand() << 32 | goc__fastrand();
}

__attribute__((noinline)) void goc__blockprof_record(int64_t since)
{
	int64_t rate = goc__load_relaxed(&goc__blockprof_rate_ns);
	if (rate == 0)
		return; /* switched off while we waited */
	int64_t delay = goc__prim_nanotime() - since;
	if (delay <= 0)
		delay = 1;
	double count = 1;
	if (delay < rate) {
		if (random64() % (uint64_t)rate > (uint64_t)delay)
			return;
		count = (double)rate / (double)delay;
		delay = rate;
	}
	goc__stacktrace stack;
	/* Skip this function and goc__park's two frames (see park_profiled
	 * in proc.c): the innermost frame is the wait (recv_slow,
	 * goc__rtsema_acquire, ...), as runtime.chanrecv1 is in Go's. */
	if (goc__unwind_self(3, &stack))
		goc__contention_add(&blocks, &stack, count, delay);
}

goc_status goc_pprof_block(FILE *out)
{
	return goc__contention_write(&blocks, out, 1);
}

goc__contention_table *goc__blockprof_table(void)
{
	return &blocks;
}
