/*
 * waitgroup.c — goc_wg, Go's sync.WaitGroup.
 *
 * state packs the counter (high 32 bits) and the number of waiters (low
 * 32 bits) so both are read and changed in one atomic operation. The
 * waiter list is protected by wg->lock.
 *
 * Fast paths: add with waiters == 0 or a counter still above zero, and wait
 * with the counter already zero, touch only `state`. A waiter registers by
 * a CAS on state made while it holds the lock, and appends itself before
 * releasing the lock (after it is off its stack, see goc_park); the add
 * that brings the counter to zero takes the lock before collecting the
 * list, so it always sees every waiter that counted itself.
 */
#include "../sched/runtime.h"

typedef struct wg_waiter {
	goc_g *g;
	struct wg_waiter *next;
} wg_waiter;

void goc_wg_init(goc_wg *wg)
{
	*wg = (goc_wg)GOC_WG_INIT;
}

void goc_wg_add(goc_wg *wg, int64_t delta)
{
	if (!wg)
		goc_panic("goc_wg_add: nil wait group");
	if (delta > INT32_MAX || delta < -(int64_t)INT32_MAX)
		goc_panic("sync: WaitGroup delta %lld out of range", (long long)delta);
	uint64_t v = __atomic_add_fetch(&wg->state, (uint64_t)delta << 32, __ATOMIC_SEQ_CST);
	int32_t counter = (int32_t)(v >> 32);
	uint32_t waiters = (uint32_t)v;
	if (counter < 0)
		goc_panic("sync: negative WaitGroup counter");
	if (delta > 0 && counter == delta && waiters != 0)
		goc_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
	if (counter > 0 || waiters == 0)
		return;
	goc_lock_acquire_word(&wg->lock);
	if (__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST) != v)
		goc_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
	__atomic_store_n(&wg->state, 0, __ATOMIC_SEQ_CST);
	wg_waiter *w = wg->waiters_head;
	wg->waiters_head = wg->waiters_tail = NULL;
	goc_lock_release_word(&wg->lock);
	while (w) {
		/* Read next before readying: the waiter's record lives on its
		 * stack and is gone once it runs. */
		wg_waiter *next = w->next;
		goc_ready(w->g);
		w = next;
	}
}

void goc_wg_done(goc_wg *wg)
{
	goc_wg_add(wg, -1);
}

void goc_wg_wait(goc_wg *wg)
{
	if (!wg)
		goc_panic("goc_wg_wait: nil wait group");
	for (;;) {
		uint64_t v = __atomic_load_n(&wg->state, __ATOMIC_SEQ_CST);
		if ((v >> 32) == 0)
			return;
		goc_lock_acquire_word(&wg->lock);
		if (__atomic_compare_exchange_n(&wg->state, &v, v + 1, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST)) {
			wg_waiter self = {.g = goc_g_self(), .next = NULL};
			if (wg->waiters_tail)
				((wg_waiter *)wg->waiters_tail)->next = &self;
			else
				wg->waiters_head = &self;
			wg->waiters_tail = &self;
			goc_park(goc_park_unlock_lock, &wg->lock, WAIT_WAITGROUP);
			return;
		}
		goc_lock_release_word(&wg->lock);
	}
}
