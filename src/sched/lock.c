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
		if (__atomic_load_n(word, __ATOMIC_RELAXED) == 0 && goc__lock_try_word(word))
			return;
		goc__cpu_relax();
	}
	while (__atomic_exchange_n(word, 2, __ATOMIC_ACQUIRE) != 0)
		goc__prim_futex_wait(word, 2, 0);
}

void goc__spinlock_slow(goc__spinlock *l)
{
	for (unsigned spin = 0;; spin++) {
		uint32_t expected = 0;
		if (__atomic_load_n(&l->word, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&l->word, &expected, 1, true, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
		if (spin < 100)
			goc__cpu_relax();
		else
			sched_yield();
	}
}
