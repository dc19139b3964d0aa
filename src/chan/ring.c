/*
 * ring.c — the locked side of a buffered channel's ring: freezing, and
 * moving values in and out while frozen. The scheme is described in ring.h.
 */
#include <sched.h>

#include "ring.h"

void goc__ring_freeze(uint64_t *pos)
{
	uint64_t w = goc__load_relaxed(pos);
	while (!(w & POS_FROZEN) && !goc__cas_weak_acqrel(pos, &w, w | POS_FROZEN))
		;
}

/* A frozen word is written by the lock holder only (fast-path CASes on it
 * fail), so a plain store thaws it. */
void goc__ring_thaw(uint64_t *pos)
{
	uint64_t w = goc__load_relaxed(pos);
	if (w & POS_FROZEN)
		goc__store_release(pos, w & ~POS_FROZEN);
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
		return (size_t)(goc__load_relaxed(&c->sendpos) >> 1);
	return count_between(c, goc__load_relaxed(&c->recvpos), goc__load_relaxed(&c->sendpos));
}

size_t goc__ring_count_racy(const goc_chan *c)
{
	if (c->elem_size == 0)
		return (size_t)(goc__load_acquire(&c->sendpos) >> 1);
	uint64_t recv = goc__load_acquire(&c->recvpos);
	uint64_t send = goc__load_acquire(&c->sendpos);
	return count_between(c, recv, send);
}

/* Waits until a fast operation that claimed this cell before the freeze
 * has published it. */
static void await_turn(unsigned char *cell, uint32_t turn)
{
	for (unsigned spins = 0; goc__load_acquire(cell_turn(cell)) != turn; spins++) {
		if (spins < 64)
			goc__cpu_relax();
		else
			sched_yield();
	}
}

void goc__ring_push_locked(goc_chan *c, const void *elem)
{
	if (c->elem_size == 0) {
		goc__fetch_add_release(&c->sendpos, 2);
		return;
	}
	uint64_t pos = goc__load_relaxed(&c->sendpos);
	unsigned char *cell = cell_at(c, pos);
	await_turn(cell, send_turn(pos));
	chan_copy_elem(c, cell + CELL_ELEM_OFFSET, elem);
	goc__store_release(cell_turn(cell), send_turn(pos) + 1);
	goc__store_relaxed(&c->sendpos, pos_next(c, pos));
}

void goc__ring_pop_locked(goc_chan *c, void *elem)
{
	if (c->elem_size == 0) {
		goc__fetch_sub_acqrel(&c->sendpos, 2);
		return;
	}
	uint64_t pos = goc__load_relaxed(&c->recvpos);
	unsigned char *cell = cell_at(c, pos);
	await_turn(cell, send_turn(pos) + 1);
	chan_copy_elem(c, elem, cell + CELL_ELEM_OFFSET);
	goc__store_release(cell_turn(cell), send_turn(pos) + 2);
	goc__store_relaxed(&c->recvpos, pos_next(c, pos));
}
