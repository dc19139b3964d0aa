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
 * channel lock is released only once it is off its stack (goc_park).
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

#include "chan.h"

#define MAX_ELEM_SIZE (64 * 1024)

void waitq_push(waitq *q, chan_waiter *w)
{
	w->next = NULL;
	w->prev = q->last;
	if (q->last)
		q->last->next = w;
	else
		q->first = w;
	q->last = w;
}

void waitq_remove(waitq *q, chan_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else if (q->first == w)
		q->first = w->next;
	else
		return; /* not queued */
	if (w->next)
		w->next->prev = w->prev;
	else
		q->last = w->prev;
	w->next = w->prev = NULL;
}

chan_waiter *waitq_take(waitq *q)
{
	for (;;) {
		chan_waiter *w = q->first;
		if (!w)
			return NULL;
		waitq_remove(q, w);
		/* A select waits on several channels at once: only the first
		 * channel to claim it may complete an operation. */
		if (w->sel) {
			uint32_t zero = 0;
			if (!__atomic_compare_exchange_n(&w->sel->done, &zero, 1, false,
							 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				continue;
		}
		return w;
	}
}

goc_chan *goc_chan_make(size_t elem_size, size_t cap)
{
	if (elem_size > MAX_ELEM_SIZE || (elem_size && cap > (SIZE_MAX / 2) / elem_size)) {
		errno = EINVAL;
		return NULL;
	}
	goc_chan *c = calloc(1, sizeof *c + elem_size * cap);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->elem_size = elem_size;
	c->cap = cap;
	c->refs = 1;
	return c;
}

goc_chan *goc_chan_retain(goc_chan *c)
{
	if (c)
		__atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void goc_chan_release(goc_chan *c)
{
	if (!c)
		return;
	int64_t left = __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	if (left < 0)
		goc_panic("goc_chan_release: channel released more often than retained");
	if (left == 0) {
		if (c->recvq.first || c->sendq.first)
			goc_panic("goc_chan_release: freeing a channel that goroutines are blocked on");
		free(c);
	}
}

/* Copies one element; dst NULL discards it. Word-sized elements, the common
 * case, are copied inline rather than through a memcpy call. */
static void copy_elem(goc_chan *c, void *dst, const void *src)
{
	if (!dst)
		return;
	switch (c->elem_size) {
	case 0:
		return;
	case 8:
		memcpy(dst, src, 8);
		return;
	case 4:
		memcpy(dst, src, 4);
		return;
	default:
		memcpy(dst, src, c->elem_size);
	}
}

static unsigned char *slot(goc_chan *c, size_t i)
{
	return c->buf + i * c->elem_size;
}

_Noreturn void chan_panic_closed_send(void)
{
	goc_panic("send on closed channel");
}

void chan_wake(chan_waiter *w)
{
	goc_g *g = w->g;
	g->wakeup = (uint32_t)w->case_index;
	goc_ready(g);
}

bool chan_send_locked(goc_chan *c, const void *elem, chan_waiter **wake)
{
	chan_waiter *w = waitq_take(&c->recvq);
	*wake = w;
	if (w) {
		copy_elem(c, w->elem, elem);
		w->success = true;
		return true;
	}
	if (c->count < c->cap) {
		copy_elem(c, slot(c, c->sendx), elem);
		if (++c->sendx == c->cap)
			c->sendx = 0;
		c->count++;
		return true;
	}
	return false;
}

bool chan_recv_locked(goc_chan *c, void *elem, bool *closed, chan_waiter **wake)
{
	*closed = false;
	chan_waiter *w = waitq_take(&c->sendq);
	*wake = w;
	if (w) {
		if (c->cap == 0) {
			copy_elem(c, elem, w->elem);
		} else {
			/* Full buffer: take its head, and the sender's value
			 * takes the freed place at the tail. */
			copy_elem(c, elem, slot(c, c->recvx));
			copy_elem(c, slot(c, c->recvx), w->elem);
			if (++c->recvx == c->cap)
				c->recvx = 0;
			c->sendx = c->recvx;
		}
		w->success = true;
		return true;
	}
	if (c->count > 0) {
		copy_elem(c, elem, slot(c, c->recvx));
		if (++c->recvx == c->cap)
			c->recvx = 0;
		c->count--;
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

_Noreturn void chan_block_forever(goc_wait_reason r)
{
	for (;;)
		goc_park(nil_unlock, NULL, r);
}

static void check_elem(goc_chan *c, const void *elem, const char *op)
{
	if (!elem && c->elem_size)
		goc_panic("%s: NULL element for a channel of %zu-byte elements", op, c->elem_size);
}

/* Ends an operation that completed under the lock. */
static void unlock_and_wake(goc_chan *c, chan_waiter *wake)
{
	goc_lock_release(&c->lock);
	if (wake)
		chan_wake(wake);
}

void goc_chan_send(goc_chan *c, const void *elem)
{
	if (!c)
		chan_block_forever(WAIT_CHAN_SEND_NIL);
	check_elem(c, elem, "goc_chan_send");
	chan_waiter *wake;
	goc_lock_acquire(&c->lock);
	if (c->closed) {
		goc_lock_release(&c->lock);
		chan_panic_closed_send();
	}
	if (chan_send_locked(c, elem, &wake)) {
		unlock_and_wake(c, wake);
		return;
	}
	chan_waiter self = {.g = goc_g_self(), .elem = (void *)elem};
	waitq_push(&c->sendq, &self);
	goc_park(goc_park_unlock_lock, &c->lock, WAIT_CHAN_SEND);
	if (!self.success)
		chan_panic_closed_send();
}

/* Locks c and receives if that can be done now: true with *result set and
 * c unlocked; false with c still locked. */
static inline bool recv_now(goc_chan *c, void *elem, goc_status *result)
{
	bool closed;
	chan_waiter *wake;
	goc_lock_acquire(&c->lock);
	if (!chan_recv_locked(c, elem, &closed, &wake))
		return false;
	unlock_and_wake(c, wake);
	*result = closed ? GOC_CLOSED : GOC_OK;
	return true;
}

goc_status goc_chan_recv(goc_chan *c, void *elem)
{
	if (!c)
		chan_block_forever(WAIT_CHAN_RECV_NIL);
	goc_status result;
	if (recv_now(c, elem, &result))
		return result;
	chan_waiter self = {.g = goc_g_self(), .elem = elem};
	waitq_push(&c->recvq, &self);
	goc_park(goc_park_unlock_lock, &c->lock, WAIT_CHAN_RECV);
	/* c is not touched again: woken by a close, the closer already
	 * zeroed *elem, and may have dropped the last reference since. */
	return self.success ? GOC_OK : GOC_CLOSED;
}

goc_status goc_chan_try_send(goc_chan *c, const void *elem)
{
	if (!c)
		return GOC_WOULDBLOCK;
	check_elem(c, elem, "goc_chan_try_send");
	chan_waiter *wake;
	goc_lock_acquire(&c->lock);
	if (c->closed) {
		goc_lock_release(&c->lock);
		return GOC_CLOSED;
	}
	if (chan_send_locked(c, elem, &wake)) {
		unlock_and_wake(c, wake);
		return GOC_OK;
	}
	goc_lock_release(&c->lock);
	return GOC_WOULDBLOCK;
}

goc_status goc_chan_try_recv(goc_chan *c, void *elem)
{
	if (!c)
		return GOC_WOULDBLOCK;
	goc_status result;
	if (recv_now(c, elem, &result))
		return result;
	goc_lock_release(&c->lock);
	return GOC_WOULDBLOCK;
}

void goc_chan_close(goc_chan *c)
{
	if (!c)
		goc_panic("close of nil channel");
	goc_lock_acquire(&c->lock);
	if (c->closed) {
		goc_lock_release(&c->lock);
		goc_panic("close of closed channel");
	}
	c->closed = 1;
	/* Collect everyone first, ready them after unlocking: a readied
	 * goroutine may run at once on another M and free the channel. */
	waitq wake = {NULL, NULL};
	chan_waiter *w;
	while ((w = waitq_take(&c->recvq)) != NULL) {
		w->success = false;
		if (w->elem && c->elem_size)
			memset(w->elem, 0, c->elem_size);
		waitq_push(&wake, w);
	}
	while ((w = waitq_take(&c->sendq)) != NULL) {
		w->success = false;
		waitq_push(&wake, w);
	}
	goc_lock_release(&c->lock);
	while ((w = wake.first) != NULL) {
		/* Read the link before waking: the record is on the waiter's
		 * stack and gone once it runs. */
		wake.first = w->next;
		chan_wake(w);
	}
}

size_t goc_chan_len(goc_chan *c)
{
	if (!c)
		return 0;
	goc_lock_acquire(&c->lock);
	size_t n = c->count;
	goc_lock_release(&c->lock);
	return n;
}

size_t goc_chan_cap(goc_chan *c)
{
	return c ? c->cap : 0;
}
