/*
 * mutexprof.c — the mutex profile (Go's runtime.SetMutexProfileFraction
 * and pprof's "mutex" profile): contention on goc_mutex and goc_rwmutex,
 * charged, as in Go, to the stack of the goroutine that unlocked and so
 * ended a wait, with the delay the waiter it woke suffered.
 *
 * The wait queue under both mutexes (src/sync/rtsema.c) stamps a waiter
 * with the time it queued when the profile is on (one relaxed load and a
 * branch on its already slow path when off). The releaser that dequeues a
 * stamped waiter adds up what it and the waiters still queued have waited
 * since their stamps and restamps them all, so each stretch of waiting is
 * charged once, to the unlock that ended it (as Go 1.22 does, there by an
 * estimate). Then, outside the queue's lock, it calls
 * goc__mutexprof_record, which samples one event in `fraction` and records
 * it with fraction events and fraction times the delay (Go's scaling),
 * walking the unlocker's stack.
 */
#include "contention.h"

int32_t goc__mutexprof_fraction;

static goc__contention_table contentions = GOC_CONTENTION_TABLE_INIT;

int goc_pprof_set_mutex_fraction(int n)
{
	if (n < 0)
		return goc__load_relaxed(&goc__mutexprof_fraction);
	return goc__xchg_relaxed(&goc__mutexprof_fraction, n);
}

__attribute__((noinline)) void goc__mutexprof_record(int64_t delay_ns)
{
	int32_t fraction = goc__load_relaxed(&goc__mutexprof_fraction);
	if (fraction <= 0 || goc__fastrand() % (uint32_t)fraction != 0)
		return;
	goc__stacktrace stack;
	/* Skip this function and goc__rtsema_release: the innermost frame is the
	 * unlock. */
	if (goc__unwind_self(2, &stack))
		goc__contention_add(&contentions, &stack, fraction, delay_ns * fraction);
}

goc_status goc_pprof_mutex(FILE *out)
{
	return goc__contention_write(&contentions, out,
				     goc__load_relaxed(&goc__mutexprof_fraction));
}

goc__contention_table *goc__mutexprof_table(void)
{
	return &contentions;
}
