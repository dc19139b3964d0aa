/*
 * chan.h — channel internals shared by chan.c and select.c.
 */
#ifndef GOC_CHAN_CHAN_H
#define GOC_CHAN_CHAN_H

#include <string.h>

#include "../sched/runtime.h"

/* A record for a select case of the calling goroutine (or thread), fields
 * zeroed but g set; never NULL (running out of memory is fatal). Give it
 * back with goc__chan_waiter_put once woken. (struct chan_waiter: runtime.h.) */
chan_waiter *goc__chan_waiter_get(void);
void goc__chan_waiter_put(chan_waiter *w);

/* A FIFO of chan_waiter records, linked through their `link`. */
typedef goc__list waitq;

/*
 * Memory layout:
 *   [ goc_chan header (four cache lines) | cells: cap * cell_size bytes ]
 *
 * A buffered channel's buffer is a ring of cells, each a 32-bit turn
 * counter followed by one element. sendpos and recvpos are the ring
 * positions of the next send and the next receive, each packed in one word
 * with a FROZEN bit (see ring.h); they sit on cache lines of their own so a
 * sender and a receiver on two cores do not write the same line.
 *
 * lock protects closed, recvq and sendq, and every change of sendpos and
 * recvpos made while they are frozen. Outside the lock the positions change
 * only by the lock-free fast paths of ring.h, and only while not frozen.
 * elem_size, cap and cell_size never change; refs is atomic.
 *
 * At least one of recvq and sendq is empty, except for a select that waits
 * to send and receive on the same channel. A buffered channel is frozen
 * (both positions) whenever it is locked or has a waiter, and its sendpos
 * stays frozen once it is closed.
 */
struct goc_chan {
	goc__spinlock lock;
	uint32_t closed;
	size_t elem_size;
	size_t cap;
	size_t cell_size; /* bytes per ring cell: turn word and element */
	waitq recvq, sendq;
	int64_t refs;                  /* atomic */
	_Alignas(64) uint64_t sendpos; /* atomic; see ring.h */
	_Alignas(64) uint64_t recvpos; /* atomic; see ring.h */
	_Alignas(64) unsigned char cells[];
};

/* Offset of the element in a ring cell (after the turn word, aligned). */
#define CELL_ELEM_OFFSET 8
/* The largest capacity a ring position can index. */
#define CHAN_MAX_CAP ((size_t)UINT32_MAX)

/* Locks c, and freezes a buffered channel's ring so the fast paths stay
 * out; goc__chan_unlock thaws it unless a goroutine waits on it (or, for
 * sending, it is closed) and unlocks. */
void goc__chan_lock(goc_chan *c);
void goc__chan_unlock(goc_chan *c);
/* A goc__park unlock callback that releases a channel locked by goc__chan_lock
 * on which the parking goroutine has just queued itself (so the ring stays
 * frozen). */
bool goc__chan_park_unlock(void *chan);

/* On a locked (frozen) channel: values in the ring, and moving one in or
 * out; push needs count < cap, pop count > 0. */
size_t goc__ring_count_locked(const goc_chan *c);
void goc__ring_push_locked(goc_chan *c, const void *elem);
void goc__ring_pop_locked(goc_chan *c, void *elem);
/* The approximate number of values in the ring, without the lock. */
size_t goc__ring_count_racy(const goc_chan *c);
void goc__ring_freeze(uint64_t *pos);
void goc__ring_thaw(uint64_t *pos);

/* Copies one element of c; dst NULL discards it. Elements of one, two or
 * four words (a value, a function and its argument, a small struct) are
 * copied inline rather than through a memcpy call (9.6% of WorkerPool-2). */
static inline void chan_copy_elem(const goc_chan *c, void *dst, const void *src)
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
	case 16:
		memcpy(dst, src, 16);
		return;
	case 32:
		memcpy(dst, src, 32);
		return;
	default:
		memcpy(dst, src, c->elem_size);
	}
}

void goc__waitq_push(waitq *q, chan_waiter *w);
void goc__waitq_remove(waitq *q, chan_waiter *w);
/* The first waiter that can still be woken (a select's first claim wins),
 * removed from q; NULL if none. */
chan_waiter *goc__waitq_take(waitq *q);

/* Operations on a locked channel that leave it locked. They return true if
 * the operation happened; *wake is then a waiter to pass to goc__chan_wake once
 * the lock is released (or NULL). goc__chan_send_locked must not be called on a
 * closed channel; goc__chan_recv_locked sets *closed for "closed and drained". */
bool goc__chan_send_locked(goc_chan *c, const void *elem, chan_waiter **wake);
bool goc__chan_recv_locked(goc_chan *c, void *elem, bool *closed, chan_waiter **wake);
/* Readies a waiter that an operation completed. */
void goc__chan_wake(chan_waiter *w);

/* Before parking with waiters queued: a goroutine that may be compacted
 * (G_FLAG_COMPACT, stack.c) lets the park's post-switch step move its
 * stack aside, redirecting these records' elem if it points into it. The
 * array must stay put until the park's unlock step has run. Only for
 * waits where nothing else refers to the goroutine's stack (no timer in
 * its frame). Plain threads never park on their stack's behalf here. */
static inline void allow_compaction(goc__g *g, chan_waiter *const *waiters, uint32_t n)
{
	if (__builtin_expect(g->flags & G_FLAG_COMPACT, 0)) {
		g->park_waiters = waiters;
		g->npark_waiters = n;
	}
}

_Noreturn void goc__chan_panic_closed_send(void);
/* Parks for good: an operation on a NULL channel, an empty select. */
_Noreturn void goc__chan_block_forever(goc__wait_reason r);

#endif
