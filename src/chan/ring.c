/*
 * ring.c — the locked side of a buffered channel's ring: freezing, and
 * moving values in and out while frozen. The scheme is described in ring.h.
 */
#include <sched.h>

#include "ring.h"

void goc__ring_freeze(uint64_t *pos)
{
	uint64_t w = __atomic_load_n(pos, __ATOMIC_RELAXED);
	while (!(w & POS_FROZEN) &&
	       !__atomic_compare_exchange_n(pos, &w, w | POS_FROZEN, true, __ATOMIC_ACQ_REL,
					    __ATOMIC_RELAXED))
		;
}

/* A frozen word is written by the lock holder only (fast-path CASes on it
 * fail), so a plain store thaws it. */
void goc__ring_thaw(uint64_t *pos)
{
	uint64_t w = __atomic_load_n(pos, __ATOMIC_RELAXED);
	if (w & POS_FROZEN)
		__atomic_store_n(pos, w & ~POS_FROZEN, __ATOMIC_RELEASE);
}

/* Values between recv and send positions; laps differ by at most one when
 * both were read in a consistent state. */
static size_t count_between(const goc_chan *c, uint64_t recv, uint64_t send)
{
	uint32_t laps = (pos_lap(send) - pos_lap(recv)) & (uint32_t)POS_LAP_MASK;
	if (laps > 1)
		return c->cap;
	int64_t n = (int64_t)laps * (int64_t)c->cap + (int64_t)pos_index(send) -
		(int64_t)pos_index(recv);
	if (n < 0)
		return 0;
	return (size_t)n > c->cap ? c->cap : (size_t)n;
}

size_t goc__ring_count_locked(const goc_chan *c)
{
	if (c->elem_size == 0)
		return (size_t)(__atomic_load_n(&c->sendpos, __ATOMIC_RELAXED) >> 1);
	return count_between(c, __atomic_load_n(&c->recvpos, __ATOMIC_RELAXED),
			     __atomic_load_n(&c->sendpos, __ATOMIC_RELAXED));
}

size_t goc__ring_count_racy(const goc_chan *c)
{
	if (c->elem_size == 0)
		return (size_t)(__atomic_load_n(&c->sendpos, __ATOMIC_ACQUIRE) >> 1);
	uint64_t recv = __atomic_load_n(&c->recvpos, __ATOMIC_ACQUIRE);
	uint64_t send = __atomic_load_n(&c->sendpos, __ATOMIC_ACQUIRE);
	return count_between(c, recv, send);
}

/* Waits until a fast operation that claimed this cell before the freeze
 * has published it. */
static void await_turn(unsigned char *cell, uint32_t turn)
{
	for (unsigned spins = 0; __atomic_load_n(cell_turn(cell), __ATOMIC_ACQUIRE) != turn;
	     spins++) {
		if (spins < 64)
			goc__cpu_relax();
		else
			sched_yield();
	}
}

void goc__ring_push_locked(goc_chan *c, const void *elem)
{
	if (c->elem_size == 0) {
		__atomic_fetch_add(&c->sendpos, 2, __ATOMIC_RELEASE);
		return;
	}
	uint64_t pos = __atomic_load_n(&c->sendpos, __ATOMIC_RELAXED);
	unsigned char *cell = cell_at(c, pos);
	await_turn(cell, send_turn(pos));
	chan_copy_elem(c, cell + CELL_ELEM_OFFSET, elem);
	__atomic_store_n(cell_turn(cell), send_turn(pos) + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&c->sendpos, pos_next(c, pos), __ATOMIC_RELAXED);
}

void goc__ring_pop_locked(goc_chan *c, void *elem)
{
	if (c->elem_size == 0) {
		__atomic_fetch_sub(&c->sendpos, 2, __ATOMIC_ACQ_REL);
		return;
	}
	uint64_t pos = __atomic_load_n(&c->recvpos, __ATOMIC_RELAXED);
	unsigned char *cell = cell_at(c, pos);
	await_turn(cell, send_turn(pos) + 1);
	chan_copy_elem(c, elem, cell + CELL_ELEM_OFFSET);
	__atomic_store_n(cell_turn(cell), send_turn(pos) + 2, __ATOMIC_RELEASE);
	__atomic_store_n(&c->recvpos, pos_next(c, pos), __ATOMIC_RELAXED);
}
