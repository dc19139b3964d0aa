/*
 * golimit.c — the cap on live goroutines; see golimit.h.
 *
 * The count is goc_num_goroutine(): the sum over Ps of created - exited,
 * plus goroutines spawned by plain threads. Every spawn admitted while a
 * cap is set increments one of those counters before it releases
 * limit_lock, so the sum read under the lock includes every admitted
 * goroutine. Exits decrement without the lock and can only make the sum
 * too high for a moment, never too low: the cap is never exceeded.
 */

#include "../debug/debug.h"
#include "../prim/env.h"
#include "golimit.h"
#include "runtime.h"

int64_t goc__golimit_max;

static goc__lock limit_lock = GOC_LOCK_INIT;

bool goc__golimit_enter(void)
{
	goc__lock_acquire(&limit_lock);
	int64_t cap = goc__load_relaxed(&goc__golimit_max);
	if (cap == 0 || goc_num_goroutine() < cap)
		return true;
	goc__lock_release(&limit_lock);
	return false;
}

void goc__golimit_leave(void)
{
	goc__lock_release(&limit_lock);
}

int64_t goc_set_max_goroutines(int64_t n)
{
	if (n < 0)
		return goc__load_relaxed(&goc__golimit_max);
	return goc__xchg_relaxed(&goc__golimit_max, n);
}

void goc__golimit_init_from_env(void)
{
	long long n = goc__gocdebug_long("maxgoroutines", -1, 0, INT64_MAX);
	if (n >= 0)
		goc_set_max_goroutines(n);
}
