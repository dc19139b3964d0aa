/*
 * waitfor.h — waiting for a condition instead of sleeping and hoping.
 *
 * Tests run on loaded CI machines and under sanitizers, where "sleep a
 * millisecond, the other goroutine will have got there by then" is false
 * often enough to fail a build. Wait for what the assertion needs instead:
 *
 *     WAIT_FOR(cond, fmt, ...)
 *
 * polls cond (sleeping 50 us between tries, so the goroutines it waits for
 * get to run even with one P) until it holds. If it still does not after
 * WAIT_FOR_LIMIT — 10 s, far beyond what any working mechanism needs, even
 * under TSan on a loaded machine — the test fails with the condition and
 * the message. WAIT_FOR_WITHIN(limit, cond, fmt, ...) takes its own limit.
 *
 * others_parked() tells whether every goroutine but the caller is blocked:
 * no other P is running anything and every run queue is empty. A goroutine
 * that set a flag just before a blocking call, seen with others_parked(),
 * is parked inside that call (it is neither running nor runnable, and it
 * has passed the flag). Use it to establish an order among waiters (start
 * the next only once the previous one is queued), and to check that
 * nothing happens: anything a wrong wake-up made runnable would first run,
 * so "others_parked() and still nothing happened" cannot be a question of
 * having looked too early.
 */
#ifndef GOC_TEST_WAITFOR_H
#define GOC_TEST_WAITFOR_H

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#define WAIT_FOR_LIMIT (10 * GOC_SECOND)

#define WAIT_FOR_WITHIN(limit, cond, ...)                                                         \
	do {                                                                                      \
		int64_t wait_for_limit_ = (limit);                                                \
		int64_t wait_for_end_ = goc_now() + wait_for_limit_;                              \
		while (!(cond)) {                                                                 \
			if (goc_now() > wait_for_end_) {                                          \
				fprintf(stderr,                                                   \
					"%s:%d: gave up after %.1f s waiting for %s: ", __FILE__, \
					__LINE__, (double)wait_for_limit_ / GOC_SECOND, #cond);   \
				fprintf(stderr, __VA_ARGS__);                                     \
				fprintf(stderr, "\n");                                            \
				exit(1);                                                          \
			}                                                                         \
			goc_sleep(50 * GOC_MICROSECOND);                                          \
		}                                                                                 \
	} while (0)

#define WAIT_FOR(cond, ...) WAIT_FOR_WITHIN(WAIT_FOR_LIMIT, cond, __VA_ARGS__)

static inline bool sched_quiet(goc_sched_stats *st)
{
	goc_sched_stats_read(st);
	/* The caller's own P is busy when it is a goroutine. */
	int busy_ok = goc_id() != 0 ? 1 : 0;
	if (st->idle_procs != st->procs - busy_ok || st->global_runq != 0)
		return false;
	for (int i = 0; i < st->procs; i++)
		if (st->p[i].runq != 0)
			return false;
	return true;
}

/* True when no goroutine other than the caller is running or runnable.
 * The counters are not read at one instant, so two readings: idle Ps,
 * then empty run queues, then idle Ps again. A goroutine that was not
 * running at the first (its P was idle) and is in no run queue at the
 * second was parked or has been taken by a P since; at the third every
 * other P is idle again, so it is parked.
 *
 * A P held by a spinning M (one looking for work, often woken by the
 * caller's own wake-up from WAIT_FOR's last sleep) is not counted idle: the
 * M may have just taken a goroutine it is about to run. Instead the caller
 * waits for it to give the P back, yielding its thread to the kernel (a
 * goroutine yield could wake yet another M), for at most 2000 rounds;
 * under TSan on a loaded machine a spinning M outlives a 50 us sleep. */
static inline bool others_parked(void)
{
	static goc_sched_stats st; /* 6 KiB: not on a goroutine's stack */
	for (int i = 0; i < 2000; i++) {
		if (sched_quiet(&st) && sched_quiet(&st))
			return true;
		if (st.spinning_threads == 0)
			return false;
		sched_yield();
	}
	return false;
}

#endif
