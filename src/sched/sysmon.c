/*
 * sysmon.c — the system monitor: a thread outside the P set that wakes
 * every 10 ms to do what no goroutine will do on its own.
 *
 * Today it keeps the coarse clock that parked goroutines stamp their wait
 * with (goc_sched.coarse_now), wakes an M when a timer is overdue by more
 * than a tick (a safety net under the timer M protocol of proc.c), and once
 * a second gives the memory of stack slots that stayed unused for a whole
 * second back to the kernel (goc_stack_scavenge). Every 2 seconds it runs
 * one trim cycle of every goc_pool (goc_pool_trim_all), so that objects a
 * pool has cached through two cycles are released. It takes no P and runs
 * no goroutine.
 */
#include "../debug/debug.h"
#include "runtime.h"

#define SYSMON_TICK (10 * GOC_MILLISECOND)
#define SCAVENGE_EVERY 100 /* ticks: one second */
#define POOL_TRIM_EVERY 200 /* ticks: two seconds */

static void *sysmon_main(void *arg)
{
	(void)arg;
	int64_t next = prim_nanotime();
	for (unsigned tick = 1;; tick++) {
		next += SYSMON_TICK;
		prim_sleep_until(next);
		int64_t now = prim_nanotime();
		__atomic_store_n(&goc_sched.coarse_now, now, __ATOMIC_RELAXED);
		if (now > next + SYSMON_TICK)
			next = now; /* we were descheduled: do not try to catch up */
		goc_sched_check_timers(now, SYSMON_TICK);
		goc_debug_sysmon_tick(now);
		if (tick % SCAVENGE_EVERY == 0)
			goc_stack_scavenge();
		if (tick % POOL_TRIM_EVERY == 0)
			goc_pool_trim_all();
	}
	return NULL;
}

void goc_sysmon_start(void)
{
	if (!prim_thread_start(sysmon_main, NULL))
		goc_fatal("cannot start the sysmon thread");
}
