/*
 * lock.c — the contended path of the runtime's internal lock (lock.h).
 *
 * Spin briefly (the holder is usually running on another core and about to
 * release), then sleep on the futex with the word at 2 so the releaser knows
 * to wake someone.
 */
#include "lock.h"

void goc_lock_slow(uint32_t *word)
{
	for (int spin = 0; spin < 100; spin++) {
		if (__atomic_load_n(word, __ATOMIC_RELAXED) == 0 && goc_lock_try_word(word))
			return;
		goc_cpu_relax();
	}
	while (__atomic_exchange_n(word, 2, __ATOMIC_ACQUIRE) != 0)
		prim_futex_wait(word, 2, 0);
}
