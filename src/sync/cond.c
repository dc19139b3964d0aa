/*
 * cond.c — goc_cond, Go's sync.Cond over a notify list with tickets.
 *
 * A waiter takes a ticket (`wait`, incremented atomically) while it still
 * holds the mutex, unlocks, and then queues its record under `lock` —
 * unless its ticket has been notified in between, in which case it returns
 * at once. `notify` is the next ticket to wake: signal wakes ticket
 * `notify` and increments it, broadcast moves it up to `wait`. So a signal
 * made after a waiter took its ticket reaches that waiter even if the
 * waiter has not parked yet, and a signal never reaches a waiter that
 * arrived after it: no lost and no stolen wake-ups.
 *
 * Invariants:
 *  - Tickets are compared modulo 2^32 (a waiter is notified when
 *    ticket - notify is negative as a signed 32-bit number).
 *  - `notify` changes only under `lock`; readers without the lock use it
 *    only to skip the lock when wait == notify (nobody waiting).
 *  - Each record on the list has a ticket not yet notified; the notifier
 *    that unlinks a record readies its goroutine, after unlocking.
 *
 * Fast path: signal and broadcast with no waiter read two words and take
 * no lock. A waiter that has taken its ticket before such a read is seen
 * (the ticket increment is sequentially consistent, and so is the read).
 */
#include "syncint.h"

typedef struct cond_waiter {
	goc__g *g;
	uint32_t ticket;
	struct cond_waiter *next;
} cond_waiter;

static bool ticket_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

void goc_cond_init(goc_cond *cond)
{
	*cond = (goc_cond)GOC_COND_INIT;
}

void goc_cond_wait(goc_cond *cond, goc_mutex *mutex)
{
	uint32_t ticket = goc__fetch_add_seqcst(&cond->wait, 1);
	goc_mutex_unlock(mutex);
	goc__lock_acquire_word(&cond->lock);
	if (ticket_before(ticket, goc__load_relaxed(&cond->notify))) {
		goc__lock_release_word(&cond->lock);
	} else {
		cond_waiter self = {.g = goc__g_self(), .ticket = ticket, .next = NULL};
		if (cond->tail)
			((cond_waiter *)cond->tail)->next = &self;
		else
			cond->head = &self;
		cond->tail = &self;
		goc__park(goc__park_unlock_lock, &cond->lock, WAIT_COND);
	}
	goc_mutex_lock(mutex);
}

static bool nobody_waits(goc_cond *cond)
{
	return goc__load_seqcst(&cond->wait) == goc__load_seqcst(&cond->notify);
}

void goc_cond_signal(goc_cond *cond)
{
	if (nobody_waits(cond))
		return;
	goc__lock_acquire_word(&cond->lock);
	uint32_t ticket = goc__load_relaxed(&cond->notify);
	if (ticket == goc__load_seqcst(&cond->wait)) {
		goc__lock_release_word(&cond->lock);
		return;
	}
	goc__store_seqcst(&cond->notify, ticket + 1);
	/* The waiter holding this ticket may not have queued yet; then it
	 * finds its ticket notified and does not park. Records are mostly
	 * in ticket order, so the search usually stops at the head. */
	cond_waiter *prev = NULL;
	for (cond_waiter *w = cond->head; w; prev = w, w = w->next) {
		if (w->ticket != ticket)
			continue;
		if (prev)
			prev->next = w->next;
		else
			cond->head = w->next;
		if (cond->tail == w)
			cond->tail = prev;
		goc__g *g = w->g;
		goc__lock_release_word(&cond->lock);
		goc__ready(g);
		return;
	}
	goc__lock_release_word(&cond->lock);
}

void goc_cond_broadcast(goc_cond *cond)
{
	if (nobody_waits(cond))
		return;
	goc__lock_acquire_word(&cond->lock);
	cond_waiter *w = cond->head;
	cond->head = cond->tail = NULL;
	goc__store_seqcst(&cond->notify, goc__load_seqcst(&cond->wait));
	goc__lock_release_word(&cond->lock);
	while (w) {
		/* Read next first: the record is gone once its goroutine runs. */
		cond_waiter *next = w->next;
		goc__ready(w->g);
		w = next;
	}
}
