/*
 * lock.c — the contended paths of the runtime's internal locks (lock.h).
 *
 * goc__lock: spin briefly (the holder is usually running on another core and
 * about to release), then sleep on the futex with the word at 2 so the
 * releaser knows to wake someone.
 *
 * goc__spinlock: spin while the word is taken, reading it without writing so
 * the line stays shared, and after a while yield the thread on each round
 * (its holder may have been descheduled).
 */
#include <sched.h>

#include "lock.h"

void goc__lock_slow(uint32_t *word)
{
	for (int spin = 0; spin < 100; spin++) {
		if (goc__load_relaxed(word) == 0 && goc__lock_try_word(word))
			return;
		goc__cpu_relax();
	}
	while (goc__xchg_acquire(word, 2) != 0)
		goc__prim_futex_wait(word, 2, 0);
}

void goc__spinlock_slow(goc__spinlock *l)
{
	for (unsigned spin = 0;; spin++) {
		uint32_t expected = 0;
		if (goc__load_relaxed(&l->word) == 0 &&
		    goc__cas_weak_acquire(&l->word, &expected, 1))
			return;
		if (spin < 100)
			goc__cpu_relax();
		else
			sched_yield();
	}
}
