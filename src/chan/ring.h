/*
 * ring.h — the buffer of a buffered channel: a ring that senders and
 * receivers use without the channel lock while nobody waits.
 *
 * Taking the channel lock costs two atomic read-modify-writes per operation
 * and makes a producer and a consumer on two cores fight over one cache
 * line. While no goroutine waits on the channel, a send only has to claim
 * the next position and fill its cell, and a receive the reverse; that is
 * a bounded multi-producer multi-consumer queue (the cell "turn" scheme of
 * Dmitry Vyukov's queue): one CAS per operation.
 *
 * Positions. sendpos and recvpos each pack, in one 64-bit word,
 *     lap (31 bits) << 33 | index (32 bits) << 1 | FROZEN (1 bit)
 * where index < cap is the cell and lap counts trips round the ring
 * (modulo 2^31). Cell `index` carries a 32-bit turn: the send of lap L may
 * fill it when turn == 2L and then sets 2L+1; the receive of lap L may take
 * it when turn == 2L+1 and then sets 2L+2 = 2(L+1). The arithmetic wraps
 * consistently: 2L is taken modulo 2^32 and L modulo 2^31.
 *
 * Fast paths (ring_send_fast / ring_recv_fast): read the position; if it is
 * FROZEN give up; if the cell's turn is not ours and the position has not
 * moved meanwhile, the ring is full (empty) and we give up; else claim the
 * position with a CAS, move the element, and publish the cell's next turn
 * with a release store. The CAS compares the whole word, so it fails once
 * the word is frozen: after a freeze no fast path can claim a position.
 *
 * Freezing. The slow path (chan.c, select.c) locks the channel and freezes
 * both positions with a CAS each, so that under the lock the positions are
 * stable and Go's locked algorithm (direct hand-off to a waiting receiver,
 * FIFO queues of waiters, a sender's value moved into the slot a receive
 * frees) runs unchanged. A channel stays frozen while a goroutine waits on
 * it: that is what makes a sender meet a waiting receiver instead of
 * slipping its value into the ring behind the receiver's back, and what
 * stops new receivers from overtaking a sender queued on a full ring. It is
 * thawed when the last waiter leaves (goc__chan_unlock). So no Dekker-style
 * store-then-load check is needed on the fast paths: the "somebody waits"
 * signal is the same word the fast path CASes.
 *
 * Signal channels (elem_size 0) carry nothing, so their "ring" is just the
 * number of buffered tokens, kept in sendpos as count << 1 | FROZEN (recvpos
 * is unused): a send adds one with a CAS below cap, a receive takes one
 * above zero. That costs no memory per slot, so a signal channel may have
 * any capacity, as in Go.
 *
 * In flight. A fast operation that claimed its position just before the
 * freeze may not have published its cell yet. Under the lock the positions
 * say which cells are claimed; goc__ring_push_locked / goc__ring_pop_locked wait for
 * the cell's turn, which comes within a few instructions unless the
 * claiming thread was descheduled by the kernel (then the wait yields the
 * CPU until it is back). Goroutines are never preempted, so the claimer is
 * never a goroutine of the waiting thread itself.
 */
#ifndef GOC_CHAN_RING_H
#define GOC_CHAN_RING_H

#include "chan.h"

#define POS_FROZEN ((uint64_t)1)
#define POS_INDEX_SHIFT 1
#define POS_INDEX_MASK ((uint64_t)UINT32_MAX << POS_INDEX_SHIFT)
#define POS_LAP_SHIFT 33
#define POS_LAP_MASK ((uint64_t)0x7fffffff)

static inline uint32_t pos_index(uint64_t pos)
{
	return (uint32_t)(pos >> POS_INDEX_SHIFT);
}

static inline uint32_t pos_lap(uint64_t pos)
{
	return (uint32_t)(pos >> POS_LAP_SHIFT);
}

/* The turn at which the send of pos may fill its cell; the receive may
 * take it at +1 and hands it to the next lap at +2. */
static inline uint32_t send_turn(uint64_t pos)
{
	return pos_lap(pos) << 1;
}

/* The position after pos (FROZEN bit unchanged); the lap wraps off the top
 * of the word. */
static inline uint64_t pos_next(const goc_chan *c, uint64_t pos)
{
	if (pos_index(pos) + 1 < c->cap)
		return pos + ((uint64_t)1 << POS_INDEX_SHIFT);
	return (pos & ~POS_INDEX_MASK) + ((uint64_t)1 << POS_LAP_SHIFT);
}

static inline unsigned char *cell_at(goc_chan *c, uint64_t pos)
{
	return c->cells + (size_t)pos_index(pos) * c->cell_size;
}

static inline uint32_t *cell_turn(unsigned char *cell)
{
	return (uint32_t *)(void *)cell;
}

/*
 * After losing a race for a position: another core has just taken the
 * line. Backing off exponentially (up to 64 pauses, about 0.6 us here)
 * lets one core run a series of operations with the line in its cache
 * instead of the two trading it on every one: ChanMPMC-2 went from 95-140
 * ns an item, with a quarter of the CASes failing, to 17-33 ns with almost
 * none failing.
 */
static inline void ring_backoff(unsigned *backoff)
{
	for (unsigned i = 0; i < *backoff; i++)
		goc__cpu_relax();
	if (*backoff < 64)
		*backoff <<= 1;
}

/* Adds delta (+1 or -1) to a signal channel's token count if the result
 * stays within 0..cap and the count is not frozen. */
static inline __attribute__((always_inline)) bool tokens_add_fast(goc_chan *c, int delta)
{
	uint64_t w = goc__load_relaxed(&c->sendpos);
	for (unsigned backoff = 1;; ring_backoff(&backoff)) {
		uint64_t n = w >> 1;
		if ((w & POS_FROZEN) || (delta > 0 ? n >= c->cap : n == 0))
			return false;
		/* Acquire/release: a token orders the sender's earlier writes
		 * before the receiver's later reads, as a value would. */
		if (goc__cas_weak_acqrel(&c->sendpos, &w, delta > 0 ? w + 2 : w - 2))
			return true;
	}
}

/* Lock-free send and receive on a buffered channel that is not frozen:
 * true if the value moved; false if the ring was full (send), empty
 * (receive) or frozen, and the locked path must decide. */
/* Whether the fast paths are shut out (the channel is locked, has waiters,
 * or, for sends, is closed). */
static inline bool ring_frozen(const goc_chan *c, bool send)
{
	const uint64_t *pos = send || c->elem_size == 0 ? &c->sendpos : &c->recvpos;
	return goc__load_relaxed(pos) & POS_FROZEN;
}

static inline __attribute__((always_inline)) bool ring_send_fast(goc_chan *c, const void *elem)
{
	if (c->elem_size == 0)
		return tokens_add_fast(c, 1);
	uint64_t pos = goc__load_relaxed(&c->sendpos);
	for (unsigned backoff = 1;; ring_backoff(&backoff)) {
		if (pos & POS_FROZEN)
			return false;
		unsigned char *cell = cell_at(c, pos);
		/* Acquire: the receive of the previous lap has finished
		 * reading the cell before we overwrite it. */
		if (goc__load_acquire(cell_turn(cell)) != send_turn(pos)) {
			uint64_t now = goc__load_relaxed(&c->sendpos);
			if (now == pos)
				return false; /* full */
			pos = now;            /* lost the race for it */
			continue;
		}
		if (goc__cas_weak_relaxed(&c->sendpos, &pos, pos_next(c, pos))) {
			chan_copy_elem(c, cell + CELL_ELEM_OFFSET, elem);
			goc__store_release(cell_turn(cell), send_turn(pos) + 1);
			return true;
		}
	}
}

static inline __attribute__((always_inline)) bool ring_recv_fast(goc_chan *c, void *elem)
{
	if (c->elem_size == 0)
		return tokens_add_fast(c, -1);
	uint64_t pos = goc__load_relaxed(&c->recvpos);
	for (unsigned backoff = 1;; ring_backoff(&backoff)) {
		if (pos & POS_FROZEN)
			return false;
		unsigned char *cell = cell_at(c, pos);
		/* Acquire: the element the sender wrote is visible. */
		if (goc__load_acquire(cell_turn(cell)) != send_turn(pos) + 1) {
			uint64_t now = goc__load_relaxed(&c->recvpos);
			if (now == pos)
				return false; /* empty */
			pos = now;            /* lost the race for it */
			continue;
		}
		if (goc__cas_weak_relaxed(&c->recvpos, &pos, pos_next(c, pos))) {
			chan_copy_elem(c, elem, cell + CELL_ELEM_OFFSET);
			goc__store_release(cell_turn(cell), send_turn(pos) + 2);
			return true;
		}
	}
}

#endif
