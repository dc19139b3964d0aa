/*
 * lock.h — the runtime's internal lock.
 *
 * A futex-based mutex in one 32-bit word (0 unlocked, 1 locked, 2 locked
 * with sleepers), for the short critical sections inside the runtime: run
 * queue overflow, wait queues, timer heaps. A goroutine that blocks on it
 * blocks its whole M, as in Go's runtime locks, so it must never be held
 * across user code. It has no owner: a lock taken before a context switch
 * may be released by the post-switch step on the same M (see park in
 * proc.c).
 */
#ifndef GOC_SCHED_LOCK_H
#define GOC_SCHED_LOCK_H

#include "../prim/atomic.h"
#include <stdbool.h>
#include <stdint.h>

#include "../prim/prim.h"

/* One iteration of a spin-wait: tells the core we are spinning (frees
 * resources for the other hyperthread, avoids a memory-order flush). */
#if defined(__x86_64__)
#define goc__cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define goc__cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define goc__cpu_relax() ((void)0)
#endif

typedef struct goc__lock {
	uint32_t word;
} goc__lock;

#define GOC_LOCK_INIT \
	{             \
		0     \
	}

void goc__lock_slow(uint32_t *word);

static inline void goc__lock_acquire_word(uint32_t *word)
{
	uint32_t expected = 0;
	if (goc__cas_acquire(word, &expected, 1))
		return;
	goc__lock_slow(word);
}

static inline void goc__lock_release_word(uint32_t *word)
{
	if (goc__xchg_release(word, 0) == 2)
		goc__prim_futex_wake(word, 1);
}

static inline bool goc__lock_try_word(uint32_t *word)
{
	uint32_t expected = 0;
	return goc__cas_acquire(word, &expected, 1);
}

static inline void goc__lock_acquire(goc__lock *l)
{
	goc__lock_acquire_word(&l->word);
}
static inline void goc__lock_release(goc__lock *l)
{
	goc__lock_release_word(&l->word);
}

/*
 * A spin lock, for critical sections of a few dozen instructions that never
 * block (a channel's). Waiters spin, then yield their thread to the kernel;
 * they never sleep on a futex, so releasing is a plain store rather than an
 * exchange that checks for sleepers: one atomic read-modify-write less per
 * critical section (7.5 ns each on the development machine; a channel
 * round trip holds four). The cost is that a waiter whose holder was
 * descheduled keeps yielding instead of sleeping, acceptable only because
 * no holder blocks while holding it.
 */
typedef struct goc__spinlock {
	uint32_t word;
} goc__spinlock;

void goc__spinlock_slow(goc__spinlock *l);

static inline void goc__spinlock_acquire(goc__spinlock *l)
{
	uint32_t expected = 0;
	if (!goc__cas_weak_acquire(&l->word, &expected, 1))
		goc__spinlock_slow(l);
}

static inline void goc__spinlock_release(goc__spinlock *l)
{
	goc__store_release(&l->word, 0);
}

#endif
