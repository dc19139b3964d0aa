/*
 * chan.h — channel internals shared by chan.c and select.c.
 */
#ifndef GOC_CHAN_CHAN_H
#define GOC_CHAN_CHAN_H

#include "../sched/runtime.h"

/* State of one goc_select call, on the selecting goroutine's stack. */
typedef struct select_state {
	uint32_t done;        /* atomic: 0 until a case (or the timeout) claims it */
} select_state;

/*
 * A goroutine waiting on a channel (Go's sudog). Lives on the waiter's
 * stack; linked into the channel's recvq or sendq under the channel lock.
 * Whoever dequeues it fills elem/success, and only then readies g.
 */
typedef struct chan_waiter {
	goc_g *g;
	struct chan_waiter *next, *prev;
	void *elem;           /* send: the value; recv: where to put it (or NULL) */
	select_state *sel;    /* non-NULL if part of a select */
	int case_index;       /* which select case this is */
	bool success;         /* true: a value moved; false: the channel closed */
} chan_waiter;

typedef struct waitq {
	chan_waiter *first, *last;
} waitq;

/*
 * Memory layout:
 *   [ goc_chan header | buffer: cap * elem_size bytes ]
 * lock protects every field but refs and the constants elem_size and cap.
 * At least one of recvq and sendq is empty, except for a select that waits
 * to send and receive on the same channel.
 */
struct goc_chan {
	goc_lock lock;
	uint32_t closed;
	size_t elem_size;
	size_t cap;
	size_t count;         /* values in the buffer */
	size_t sendx, recvx;  /* buffer positions of the next send / receive */
	waitq recvq, sendq;
	int64_t refs;         /* atomic */
	_Alignas(16) unsigned char buf[];
};

void waitq_push(waitq *q, chan_waiter *w);
void waitq_remove(waitq *q, chan_waiter *w);
/* The first waiter that can still be woken (a select's first claim wins),
 * removed from q; NULL if none. */
chan_waiter *waitq_take(waitq *q);

/* Operations on a locked channel that leave it locked. They return true if
 * the operation happened; *wake is then a waiter to pass to chan_wake once
 * the lock is released (or NULL). chan_send_locked must not be called on a
 * closed channel; chan_recv_locked sets *closed for "closed and drained". */
bool chan_send_locked(goc_chan *c, const void *elem, chan_waiter **wake);
bool chan_recv_locked(goc_chan *c, void *elem, bool *closed, chan_waiter **wake);
/* Readies a waiter that an operation completed. */
void chan_wake(chan_waiter *w);

_Noreturn void chan_panic_closed_send(void);
/* Parks for good: an operation on a NULL channel, an empty select. */
_Noreturn void chan_block_forever(goc_wait_reason r);

#endif
