/*
 * chan.c — channels: Go's hchan in C.
 *
 * A channel is a lock, an optional ring buffer and two FIFO queues of
 * waiting goroutines. A send that finds a waiting receiver copies its value
 * straight into the receiver's destination and readies it (no trip through
 * the buffer); a receive that finds a waiting sender on a full buffer takes
 * the oldest buffered value and moves the sender's value into the freed
 * slot, so order is preserved. Otherwise values go through the buffer, and
 * when that cannot proceed the goroutine queues itself and parks; the
 * channel lock is released only once it is off its stack (goc__park).
 *
 * A buffered channel's buffer is a ring (ring.h) that sends and receives
 * use without the lock while nobody waits on the channel; everything else
 * runs under the lock with the ring frozen.
 *
 * Waiters are served first come, first served: queues are FIFO and a woken
 * waiter's operation is already complete when it runs.
 *
 * Closing wakes every waiter: receivers see "closed" (after the buffer
 * drains), senders panic, as in Go. Lifetime: reference counted; whoever
 * drops the last reference frees the channel, and no goroutine may be
 * blocked on it then (that is a use-after-free, like free() on a buffer
 * someone still reads).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../sched/runq.h"
#include "ring.h"

#define MAX_ELEM_SIZE (64 * 1024)

void goc__waitq_push(waitq *q, chan_waiter *w)
{
	goc__list_push_back(q, &w->link);
}

void goc__waitq_remove(waitq *q, chan_waiter *w)
{
	if (goc__list_linked(q, &w->link))
		goc__list_remove(q, &w->link);
}

chan_waiter *goc__waitq_take(waitq *q)
{
	for (;;) {
		goc__list_node *n = goc__list_pop_front(q);
		if (!n)
			return NULL;
		chan_waiter *w = goc__list_entry(n, chan_waiter, link);
		/* A select waits on several channels at once: only the first
		 * channel to claim it may complete an operation. */
		if (w->is_select) {
			uint32_t zero = 0;
			if (!goc__cas_acqrel(&w->g->select_done, &zero, 1))
				continue;
		}
		return w;
	}
}

goc_chan *goc_chan_make(size_t elem_size, size_t cap)
{
	/* A signal channel's buffer is a count (ring.h): no cells. */
	size_t cell_size = cap && elem_size ? CELL_ELEM_OFFSET + ((elem_size + 7) & ~(size_t)7) : 0;
	if (elem_size > MAX_ELEM_SIZE || (cell_size && cap > CHAN_MAX_CAP) ||
	    (cell_size && cap > (SIZE_MAX / 2 - sizeof(goc_chan)) / cell_size)) {
		errno = EINVAL;
		return NULL;
	}
	size_t bytes = (sizeof(goc_chan) + cap * cell_size + 63) & ~(size_t)63;
	goc_chan *c = aligned_alloc(64, bytes);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, bytes);
	c->elem_size = elem_size;
	c->cap = cap;
	c->cell_size = cell_size;
	c->refs = 1;
	return c;
}

goc_chan *goc_chan_retain(goc_chan *c)
{
	if (c)
		goc__fetch_add_relaxed(&c->refs, 1);
	return c;
}

void goc_chan_release(goc_chan *c)
{
	if (!c)
		return;
	int64_t left = goc__sub_fetch_acqrel(&c->refs, 1);
	if (left < 0)
		goc__panic("goc_chan_release: channel released more often than retained");
	if (left == 0) {
		if (c->recvq.first || c->sendq.first)
			goc__panic(
				"goc_chan_release: freeing a channel that goroutines are blocked on");
		free(c);
	}
}

void goc__chan_lock(goc_chan *c)
{
	goc__spinlock_acquire(&c->lock);
	if (c->cap) {
		goc__ring_freeze(&c->sendpos);
		goc__ring_freeze(&c->recvpos);
	}
}

/* Go's hchan invariants, checked as c->lock is released: a buffered
 * channel that holds values has no waiting receiver, and one with room has
 * no waiting sender. A select waiter that another channel claimed stays
 * queued until its goroutine removes it, but the send or receive that
 * changes the count takes (and drops) every such waiter first, so the
 * invariants hold with them too. Unbuffered channels have none: a select
 * may wait to send and to receive on the same one. */
static inline bool chan_consistent_locked(goc_chan *c)
{
	if (!c->cap)
		return true;
	size_t count = goc__ring_count_locked(c);
	return (count == 0 || goc__list_empty(&c->recvq)) &&
		(count == c->cap || goc__list_empty(&c->sendq));
}

void goc__chan_unlock(goc_chan *c)
{
	goc__assert_held(&c->lock);
	goc__assert(chan_consistent_locked(c));
	if (c->cap && !c->recvq.first && !c->sendq.first) {
		goc__ring_thaw(&c->recvpos);
		if (!c->closed)
			goc__ring_thaw(&c->sendpos);
	}
	goc__spinlock_release(&c->lock);
}

bool goc__chan_park_unlock(void *chan)
{
	goc_chan *c = chan;
	goc__assert(chan_consistent_locked(c));
	goc__spinlock_release(&c->lock);
	return true;
}

_Noreturn void goc__chan_panic_closed_send(void)
{
	goc__panic("send on closed channel");
}

void goc__chan_wake(chan_waiter *w)
{
	goc__g *g = w->g;
	g->wakeup = (uint32_t)w->case_index;
	goc__ready(g);
}

bool goc__chan_send_locked(goc_chan *c, const void *elem, chan_waiter **wake)
{
	chan_waiter *w = goc__waitq_take(&c->recvq);
	*wake = w;
	if (w) {
		chan_copy_elem(c, w->elem, elem);
		w->success = true;
		return true;
	}
	if (c->cap && goc__ring_count_locked(c) < c->cap) {
		goc__ring_push_locked(c, elem);
		return true;
	}
	return false;
}

bool goc__chan_recv_locked(goc_chan *c, void *elem, bool *closed, chan_waiter **wake)
{
	*closed = false;
	*wake = NULL;
	if (c->cap && goc__ring_count_locked(c) > 0) {
		/* Take the oldest value; a sender waiting on the full ring
		 * moves its value into the place just freed, after every
		 * value sent before it. */
		goc__ring_pop_locked(c, elem);
		chan_waiter *w = goc__waitq_take(&c->sendq);
		if (w) {
			goc__ring_push_locked(c, w->elem);
			w->success = true;
			*wake = w;
		}
		return true;
	}
	chan_waiter *w = goc__waitq_take(&c->sendq);
	if (w) {
		chan_copy_elem(c, elem, w->elem);
		w->success = true;
		*wake = w;
		return true;
	}
	if (c->closed) {
		if (elem && c->elem_size)
			memset(elem, 0, c->elem_size);
		*closed = true;
		return true;
	}
	return false;
}

/* Blocks forever: an operation on a NULL channel. */
static bool nil_unlock(void *unused)
{
	(void)unused;
	return true;
}

_Noreturn void goc__chan_block_forever(goc__wait_reason r)
{
	for (;;)
		goc__park(nil_unlock, NULL, r);
}

static void check_elem(goc_chan *c, const void *elem, const char *op)
{
	if (!elem && c->elem_size)
		goc__panic("%s: NULL element for a channel of %zu-byte elements", op, c->elem_size);
}

/* Ends an operation that completed under the lock. */
static void unlock_and_wake(goc_chan *c, chan_waiter *wake)
{
	goc__chan_unlock(c);
	if (wake)
		goc__chan_wake(wake);
}

/*
 * A blocking send (receive) whose fast path found the ring full (empty):
 * while another P runs goroutines, the one that will make room (bring a
 * value) is probably running there now, so spin a little, retrying the
 * fast path, before paying for the lock, a park, and a ready and wake-up
 * across Ps. Not when the ring is frozen: then goroutines wait on the
 * channel and the locked path must pair us with them. About 2 us at most
 * (50 rounds of 4 pauses of ~10 ns). ChanBuffered-2 (producer and consumer
 * on two Ps): 22-40 ns an item with 130,000-320,000 parks per 20 M items
 * before; after: see the commit.
 */
#define RING_SPIN_ROUNDS 50
#define RING_SPIN_PAUSES 4

static bool ring_spin(goc_chan *c, bool send, void *elem)
{
	if (!goc__other_procs_busy())
		return false;
	/* Goroutines queued on our own P cannot run while we spin, and the
	 * partner may be one of them (WorkerPool-2: workers spinning for a
	 * producer queued behind them took 558 ns a task). */
	goc__m *m = goc__m_self();
	if (m && m->p && !goc__runq_empty(m->p))
		return false;
	for (int round = 0; round < RING_SPIN_ROUNDS; round++) {
		for (int i = 0; i < RING_SPIN_PAUSES; i++)
			goc__cpu_relax();
		if (ring_frozen(c, send))
			return false;
		if (send ? ring_send_fast(c, elem) : ring_recv_fast(c, elem))
			return true;
	}
	return false;
}

/* The part of a send after the fast path: NULL channels and elements,
 * then the locked algorithm, parking if it must. Out of line so the fast
 * path stays small. */
static __attribute__((noinline)) void send_slow(goc_chan *c, const void *elem)
{
	if (!c)
		goc__chan_block_forever(WAIT_CHAN_SEND_NIL);
	check_elem(c, elem, "goc_chan_send");
	if (c->cap && ring_spin(c, true, (void *)elem))
		return;
	chan_waiter *wake;
	goc__chan_lock(c);
	if (c->closed) {
		goc__chan_unlock(c);
		goc__chan_panic_closed_send();
	}
	if (goc__chan_send_locked(c, elem, &wake)) {
		unlock_and_wake(c, wake);
		return;
	}
	goc__g *g = goc__g_self();
	g->chan_wait = (chan_waiter){.g = g, .elem = (void *)elem};
	goc__waitq_push(&c->sendq, &g->chan_wait);
	chan_waiter *const self = &g->chan_wait;
	allow_compaction(g, &self, 1);
	goc__park(goc__chan_park_unlock, c, WAIT_CHAN_SEND);
	if (!g->chan_wait.success)
		goc__chan_panic_closed_send();
}

void goc_chan_send(goc_chan *c, const void *elem)
{
	if (c && c->cap && (elem || !c->elem_size) && ring_send_fast(c, elem))
		return;
	send_slow(c, elem);
}

/* Locks c and receives if that can be done now: true with *result set and
 * c unlocked; false with c still locked. */
static bool recv_locked_now(goc_chan *c, void *elem, goc_status *result)
{
	bool closed;
	chan_waiter *wake;
	goc__chan_lock(c);
	if (!goc__chan_recv_locked(c, elem, &closed, &wake))
		return false;
	unlock_and_wake(c, wake);
	*result = closed ? GOC_CLOSED : GOC_OK;
	return true;
}

static __attribute__((noinline)) goc_status recv_slow(goc_chan *c, void *elem)
{
	if (!c)
		goc__chan_block_forever(WAIT_CHAN_RECV_NIL);
	if (c->cap && ring_spin(c, false, elem))
		return GOC_OK;
	goc_status result;
	if (recv_locked_now(c, elem, &result))
		return result;
	goc__g *g = goc__g_self();
	g->chan_wait = (chan_waiter){.g = g, .elem = elem};
	goc__waitq_push(&c->recvq, &g->chan_wait);
	chan_waiter *const self = &g->chan_wait;
	allow_compaction(g, &self, 1);
	goc__park(goc__chan_park_unlock, c, WAIT_CHAN_RECV);
	/* c is not touched again: woken by a close, the closer already
	 * zeroed *elem, and may have dropped the last reference since. */
	return g->chan_wait.success ? GOC_OK : GOC_CLOSED;
}

goc_status goc_chan_recv(goc_chan *c, void *elem)
{
	if (c && c->cap && ring_recv_fast(c, elem))
		return GOC_OK;
	return recv_slow(c, elem);
}

goc_status goc_chan_try_send(goc_chan *c, const void *elem)
{
	if (!c)
		return GOC_WOULDBLOCK;
	check_elem(c, elem, "goc_chan_try_send");
	if (c->cap && ring_send_fast(c, elem))
		return GOC_OK;
	chan_waiter *wake;
	goc__chan_lock(c);
	if (c->closed) {
		goc__chan_unlock(c);
		return GOC_CLOSED;
	}
	if (goc__chan_send_locked(c, elem, &wake)) {
		unlock_and_wake(c, wake);
		return GOC_OK;
	}
	goc__chan_unlock(c);
	return GOC_WOULDBLOCK;
}

goc_status goc_chan_try_recv(goc_chan *c, void *elem)
{
	if (!c)
		return GOC_WOULDBLOCK;
	if (c->cap && ring_recv_fast(c, elem))
		return GOC_OK;
	goc_status result;
	if (recv_locked_now(c, elem, &result))
		return result;
	goc__chan_unlock(c);
	return GOC_WOULDBLOCK;
}

/* Takes up to max waiters off q for a close, marking them failed (and
 * zeroing receivers' destinations); stores whom to wake in gs / cases. */
static size_t close_take(goc_chan *c, waitq *q, goc__g **gs, uint32_t *cases, size_t max)
{
	size_t n = 0;
	chan_waiter *w;
	while (n < max && (w = goc__waitq_take(q)) != NULL) {
		w->success = false;
		if (q == &c->recvq && w->elem && c->elem_size)
			memset(w->elem, 0, c->elem_size);
		gs[n] = w->g;
		cases[n] = (uint32_t)w->case_index;
		n++;
	}
	return n;
}

/*
 * Waiters are taken off in batches and readied with the lock released: a
 * readied goroutine may run at once on another M. The batch keeps the
 * goroutine and case in a small array, so the records are walked once
 * (ContextCancelFanout closes one channel under 100,000 waiters). The
 * channel is retained meanwhile so that a woken goroutine dropping the last
 * reference cannot free it under us.
 */
void goc_chan_close(goc_chan *c)
{
	enum { BATCH = 64 };
	if (!c)
		goc__panic("close of nil channel");
	goc_chan_retain(c);
	goc__chan_lock(c);
	if (c->closed) {
		goc__chan_unlock(c);
		goc_chan_release(c);
		goc__panic("close of closed channel");
	}
	c->closed = 1;
	for (;;) {
		goc__g *gs[BATCH];
		uint32_t cases[BATCH];
		size_t n = close_take(c, &c->recvq, gs, cases, BATCH);
		n += close_take(c, &c->sendq, gs + n, cases + n, BATCH - n);
		goc__chan_unlock(c);
		for (size_t i = 0; i < n; i++) {
			gs[i]->wakeup = cases[i];
			goc__ready(gs[i]);
		}
		if (n < BATCH)
			break;
		goc__chan_lock(c);
	}
	goc_chan_release(c);
}

size_t goc_chan_len(goc_chan *c)
{
	return c && c->cap ? goc__ring_count_racy(c) : 0;
}

size_t goc_chan_cap(goc_chan *c)
{
	return c ? c->cap : 0;
}
