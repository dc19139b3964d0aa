/*
 * rtsema.c — goc_rtsema: a count of tokens and a FIFO of parked waiters, Go's
 * runtime semaphore (semacquire / semrelease) embedded in its object.
 *
 * Invariants:
 *  - `tokens` is changed only atomically: +1 by a release, -1 by a
 *    successful take (a CAS that never lets it go below zero).
 *  - Under `lock`, `nwait` equals the number of waiter records linked from
 *    `head`. An acquirer counts itself and links its record in the same
 *    critical section, and parks with the lock as its park lock, so a
 *    releaser cannot ready it before it is off its stack.
 *  - A waiter record lives on its waiter's stack; it is unlinked (under the
 *    lock) by the releaser that readies it, and touched by nobody after
 *    that ready. While it is linked, only holders of the lock touch it
 *    (the mutex profile's restamping included).
 *
 * No lost wake-up: an acquirer increments nwait and only then tries to take
 * a token; a releaser adds its token and only then reads nwait (both
 * sequentially consistent). Either the acquirer sees the token, or the
 * releaser sees the waiter and takes the lock, which the acquirer holds
 * until it is queued and parked.
 */
#include "../debug/debug.h"
#include "syncint.h"

typedef struct rtsema_waiter {
	goc__g *g;
	struct rtsema_waiter *next;
	bool handed; /* the releaser took a token on our behalf */
	/* For the mutex profile (debug/mutexprof.c): when it queued, or when
	 * the last release left it queued; 0 while the profile is off. */
	int64_t profiled_since;
} rtsema_waiter;

static bool take_token(goc_rtsema *q)
{
	uint32_t v = goc__load_relaxed(&q->tokens);
	while (v > 0) {
		if (goc__cas_weak_acquire(&q->tokens, &v, v - 1))
			return true;
	}
	return false;
}

static void enqueue_locked(goc_rtsema *q, rtsema_waiter *w, bool lifo)
{
	goc__assert(goc__load_relaxed(&q->lock) != 0);
	/* The acquirer counted itself in nwait before queueing. */
	goc__assert(goc__load_relaxed(&q->nwait) > 0);
	if (!q->head) {
		w->next = NULL;
		q->head = q->tail = w;
	} else if (lifo) {
		w->next = q->head;
		q->head = w;
	} else {
		w->next = NULL;
		((rtsema_waiter *)q->tail)->next = w;
		q->tail = w;
	}
}

static rtsema_waiter *dequeue_locked(goc_rtsema *q)
{
	goc__assert(goc__load_relaxed(&q->lock) != 0);
	goc__assert(q->head && goc__load_relaxed(&q->nwait) > 0);
	rtsema_waiter *w = q->head;
	q->head = w->next;
	if (!q->head)
		q->tail = NULL;
	return w;
}

/* The mutex profile's delay for a release that dequeued w: what w and the
 * waiters still queued have waited since they queued or since the
 * previous release, whichever was later (Go 1.22 charges an unlock for
 * every waiter it holds up; the queue is walked here, so the sum is exact
 * rather than Go's estimate). Each is restamped now, so every stretch of
 * waiting is charged once, to the release that ended it; w keeps the new
 * stamp in case it loses the token and queues again. q->lock. */
static int64_t charge_contention_locked(goc_rtsema *q, rtsema_waiter *w)
{
	int64_t now = goc__prim_nanotime();
	int64_t delay = now - w->profiled_since;
	w->profiled_since = now;
	for (rtsema_waiter *rest = q->head; rest; rest = rest->next) {
		if (rest->profiled_since) {
			delay += now - rest->profiled_since;
			rest->profiled_since = now;
		}
	}
	return delay > 0 ? delay : 1;
}

void goc__rtsema_acquire(goc_rtsema *q, bool lifo, goc__wait_reason r)
{
	if (take_token(q))
		return;
	rtsema_waiter self = {.g = goc__g_self()};
	if (__builtin_expect(goc__load_relaxed(&goc__mutexprof_fraction) != 0, 0))
		self.profiled_since = goc__prim_nanotime();
	for (;;) {
		goc__lock_acquire_word(&q->lock);
		goc__add_fetch_seqcst(&q->nwait, 1);
		if (take_token(q)) {
			goc__sub_fetch_seqcst(&q->nwait, 1);
			goc__lock_release_word(&q->lock);
			return;
		}
		self.handed = false;
		enqueue_locked(q, &self, lifo);
		goc__park(goc__park_unlock_lock, &q->lock, r);
		/* Woken without a hand-off, the token is up for grabs: a
		 * newcomer may have taken it, and then we queue again. */
		if (self.handed || take_token(q))
			return;
	}
}

void goc__rtsema_release(goc_rtsema *q, bool handoff)
{
	goc__add_fetch_seqcst(&q->tokens, 1);
	if (goc__load_seqcst(&q->nwait) == 0)
		return;
	goc__lock_acquire_word(&q->lock);
	if (goc__load_relaxed(&q->nwait) == 0) {
		/* Another releaser woke the waiter we saw. */
		goc__lock_release_word(&q->lock);
		return;
	}
	rtsema_waiter *w = dequeue_locked(q);
	goc__sub_fetch_seqcst(&q->nwait, 1);
	bool handed = handoff && take_token(q);
	w->handed = handed;
	goc__g *g = w->g;
	int64_t contended_ns = 0;
	if (__builtin_expect(w->profiled_since != 0, 0))
		contended_ns = charge_contention_locked(q, w);
	goc__lock_release_word(&q->lock);
	/* Before the ready, where it cannot be a tail call: the profile's
	 * stack skips this frame by count. */
	if (contended_ns)
		goc__mutexprof_record(contended_ns);
	/* The record may vanish as soon as g runs: nothing reads it after
	 * this ready. */
	goc__ready(g);
	if (handed)
		goc_yield();
}
