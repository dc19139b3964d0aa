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
 * releasing the lock (after it is off its stack, see goc__park); the add
 * that brings the counter to zero takes the lock before collecting the
 * list, so it always sees every waiter that counted itself.
 *
 * A waiter with a context (goc_wg_wait_ctx) may also leave when the
 * context is cancelled: its hook (ctx/ctx.h), under wg->lock, takes it off
 * the list and uncounts it from state's low half. A waiter's state, under
 * wg->lock, says who owns it: NEW (not queued yet), QUEUED, RELEASED (taken
 * by the add that reached zero, which will ready it) or CANCELED (the hook
 * took it, or reached it before it queued).
 */
#include <stddef.h>

#include "../ctx/ctx.h"

enum wg_waiter_state { WG_NEW, WG_QUEUED, WG_RELEASED, WG_CANCELED };

typedef struct wg_waiter {
	goc__g *g;
	goc_wg *wg;
	struct wg_waiter *prev, *next;
	enum wg_waiter_state state; /* wg->lock */
	goc_status err;             /* the context's error, when CANCELED */
	ctx_hook hook;
} wg_waiter;

void goc_wg_init(goc_wg *wg)
{
	*wg = (goc_wg)GOC_WG_INIT;
}

void goc_wg_add(goc_wg *wg, int64_t delta)
{
	if (!wg)
		goc__panic("goc_wg_add: nil wait group");
	if (delta > INT32_MAX || delta < -(int64_t)INT32_MAX)
		goc__panic("sync: WaitGroup delta %lld out of range", (long long)delta);
	uint64_t v = goc__add_fetch_seqcst(&wg->state, (uint64_t)delta << 32);
	int32_t counter = (int32_t)(v >> 32);
	uint32_t waiters = (uint32_t)v;
	if (counter < 0)
		goc__panic("sync: negative WaitGroup counter");
	if (delta > 0 && counter == delta && waiters != 0)
		goc__panic("sync: WaitGroup misuse: Add called concurrently with Wait");
	if (counter > 0 || waiters == 0)
		return;
	goc__lock_acquire_word(&wg->lock);
	/* Only the counter half is compared: a cancelled waiter may have
	 * uncounted itself since, but nothing may have made the counter
	 * positive again. */
	if (goc__load_seqcst(&wg->state) >> 32 != 0)
		goc__panic("sync: WaitGroup misuse: Add called concurrently with Wait");
	goc__store_seqcst(&wg->state, 0);
	wg_waiter *w = wg->waiters_head;
	wg->waiters_head = wg->waiters_tail = NULL;
	for (wg_waiter *released = w; released; released = released->next)
		released->state = WG_RELEASED;
	goc__lock_release_word(&wg->lock);
	while (w) {
		/* Read next before readying: the waiter's record lives on its
		 * stack and is gone once it runs. */
		wg_waiter *next = w->next;
		goc__ready(w->g);
		w = next;
	}
}

void goc_wg_done(goc_wg *wg)
{
	goc_wg_add(wg, -1);
}

/* Queues self and parks until released, unless the counter is zero or
 * self was cancelled before it could queue. */
static void wait_as(goc_wg *wg, wg_waiter *self)
{
	for (;;) {
		uint64_t v = goc__load_seqcst(&wg->state);
		if ((v >> 32) == 0)
			return;
		goc__lock_acquire_word(&wg->lock);
		if (self->state == WG_CANCELED) {
			goc__lock_release_word(&wg->lock);
			return;
		}
		if (goc__cas_seqcst(&wg->state, &v, v + 1)) {
			self->state = WG_QUEUED;
			self->next = NULL;
			self->prev = wg->waiters_tail;
			if (self->prev)
				self->prev->next = self;
			else
				wg->waiters_head = self;
			wg->waiters_tail = self;
			goc__park(goc__park_unlock_lock, &wg->lock, WAIT_WAITGROUP);
			return;
		}
		goc__lock_release_word(&wg->lock);
	}
}

void goc_wg_wait(goc_wg *wg)
{
	if (!wg)
		goc__panic("goc_wg_wait: nil wait group");
	wg_waiter self = {.g = goc__g_self(), .wg = wg};
	wait_as(wg, &self);
}

/* The context of a waiter was cancelled (its lock held). */
static void cancel_waiter(ctx_hook *hook, goc_status err)
{
	wg_waiter *w = (wg_waiter *)((char *)hook - offsetof(wg_waiter, hook));
	goc_wg *wg = w->wg;
	bool wake = false;
	goc__lock_acquire_word(&wg->lock);
	if (w->state == WG_NEW || w->state == WG_QUEUED) {
		if (w->state == WG_QUEUED) {
			wg_waiter *prev = w->prev, *next = w->next;
			if (prev)
				prev->next = next;
			else
				wg->waiters_head = next;
			if (next)
				next->prev = prev;
			else
				wg->waiters_tail = prev;
			goc__fetch_sub_seqcst(&wg->state, 1);
			wake = true;
		}
		w->state = WG_CANCELED;
		w->err = err;
	}
	goc__lock_release_word(&wg->lock);
	if (wake)
		goc__ready(w->g);
}

goc_status goc_wg_wait_ctx(goc_wg *wg, goc_ctx *ctx)
{
	if (!wg)
		goc__panic("goc_wg_wait_ctx: nil wait group");
	if (!ctx) {
		goc_wg_wait(wg);
		return GOC_OK;
	}
	goc_status err = goc_ctx_err(ctx);
	if (err != GOC_OK)
		return err;
	if ((goc__load_seqcst(&wg->state) >> 32) == 0)
		return GOC_OK;
	wg_waiter self = {.g = goc__g_self(), .wg = wg, .hook.fire = cancel_waiter};
	err = goc__ctx_hook_add(ctx, &self.hook);
	if (err != GOC_OK)
		return err;
	wait_as(wg, &self);
	goc__ctx_hook_remove(&self.hook);
	return self.state == WG_CANCELED ? self.err : GOC_OK;
}
