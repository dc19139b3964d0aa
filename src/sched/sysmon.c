/*
 * sysmon.c — the system monitor: a thread outside the P set that wakes
 * every 20 µs to 10 ms to do what no goroutine will do on its own.
 *
 * Every time it wakes it keeps the coarse clock that parked goroutines
 * stamp their wait with (goc__sched.coarse_now), wakes an M when a timer is
 * overdue by more than SYSMON_TICK (a safety net under the timer M
 * protocol of proc.c), and looks at every P (retake.c): it takes Ps from
 * Ms stuck in syscall sections and hands them to other Ms, and records
 * goroutines that run over 10 ms without a scheduling point. Once a second
 * it gives the memory of stack slots that stayed unused for a whole second
 * back to the kernel (goc__stack_scavenge), and runs the heap's scavenger
 * (src/alloc/scavenge.c); every 2 seconds it runs one trim
 * cycle of every goc_pool (goc_pool_trim_all), so that objects a pool has
 * cached through two cycles are released. When goroutines wait for I/O
 * and nobody has polled the network for 10 ms (every M busy, none blocked
 * in the poller), it polls and readies what it finds (goc__netpoll_sysmon). It
 * takes no P and runs no goroutine.
 *
 * How long it sleeps is Go's rule: 20 µs while it is taking Ps, doubling
 * after 50 wake-ups in a row that took none, up to SYSMON_TICK. So a
 * syscall section is taken over 20 µs after it began when sysmon is busy,
 * and within about two ticks when it has backed off. While a preemption
 * it asked for is outstanding it wakes every PREEMPT_RETRY to signal
 * again.
 */
#include "../alloc/alloc.h"
#include "../net/netpoll.h"
#include "../debug/debug.h"
#include "runtime.h"

#define SYSMON_TICK (10 * GOC_MILLISECOND)
#define SYSMON_SHORTEST_SLEEP (20 * GOC_MICROSECOND)
#define SYSMON_IDLE_BEFORE_BACKOFF 50 /* wake-ups in a row that took no P */
#define SCAVENGE_EVERY GOC_SECOND
#define POOL_TRIM_EVERY (2 * GOC_SECOND)
/* While a preemption is asked for and not yet honoured (the signal found
 * the goroutine in library code, say), the signal is sent again this
 * often: each lands where the goroutine happens to be. */
#define PREEMPT_RETRY (200 * GOC_MICROSECOND)
/* A goroutine that has run this long without the P its thread lent while
 * in library code is signalled, to take one back if it is in its own
 * code (preempt.c). */
#define LENT_RECALL_AFTER (10 * GOC_MILLISECOND)

static void *sysmon_main(void *arg)
{
	(void)arg;
	int64_t sleep = SYSMON_SHORTEST_SLEEP;
	int idle = 0;
	int64_t now = goc__prim_nanotime();
	int64_t next_scavenge = now + SCAVENGE_EVERY;
	int64_t next_pool_trim = now + POOL_TRIM_EVERY;
	for (;;) {
		goc__prim_sleep_until(now + sleep);
		now = goc__prim_nanotime();
		goc__store_relaxed(&goc__sched.coarse_now, now);
		goc__sched_check_timers(now, SYSMON_TICK);
		goc__debug_sysmon_tick(now);
		goc__netpoll_sysmon(now);
		bool preempting;
		if (goc__retake(now, &preempting) > 0)
			idle = 0;
		else
			idle++;
		if (idle == 0)
			sleep = SYSMON_SHORTEST_SLEEP;
		else if (idle > SYSMON_IDLE_BEFORE_BACKOFF)
			sleep = sleep * 2 < SYSMON_TICK ? sleep * 2 : SYSMON_TICK;
		if (preempting && sleep > PREEMPT_RETRY)
			sleep = PREEMPT_RETRY;
		goc__lent_recall(now, LENT_RECALL_AFTER);
		if (now >= next_scavenge) {
			goc__stack_scavenge();
			goc__alloc_scavenge_tick(now);
			next_scavenge = now + SCAVENGE_EVERY;
		}
		if (now >= next_pool_trim) {
			goc_pool_trim_all();
			next_pool_trim = now + POOL_TRIM_EVERY;
		}
	}
	return NULL;
}

void goc__sysmon_start(void)
{
	if (!goc__prim_thread_start(sysmon_main, NULL))
		goc__fatal("cannot start the sysmon thread");
}
