/*
 * counter.c — goc_counter, a statistics counter sharded per P.
 *
 *   goc_counter: slots[0] ... slots[GOC_MAX_PROCS - 1] | slots[GOC_MAX_PROCS] | base
 *                one cache line per P                  | plain threads' line  |
 *
 * Invariants:
 *  - slots[i] is written only by the M holding P i (a plain load and
 *    store), or, for the last slot, by anyone with an atomic add.
 *  - The value is the sum of the slots minus `base`; reset moves `base`
 *    up to the sum instead of zeroing slots that their owners may be
 *    writing at that moment.
 *
 * Why an add needs no atomic read-modify-write: goc does not preempt, so
 * between reading m->p and storing the new value the goroutine cannot
 * leave its P, and no other thread writes that slot (a P changes hands
 * only through sched.lock, which orders its successive owners). Readers
 * use atomic loads, so they see each slot's latest or an earlier value —
 * never a torn one. Each slot on its own cache line keeps Ps from
 * invalidating each other's lines: the false sharing that makes one
 * shared atomic counter slow once several cores add to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "syncint.h"

#define CACHE_LINE 64
#define FOREIGN_SLOT GOC_MAX_PROCS

struct counter_slot {
	int64_t value; /* atomic loads and stores; see the invariants */
} __attribute__((aligned(CACHE_LINE)));

struct goc_counter {
	struct counter_slot slots[GOC_MAX_PROCS + 1];
	int64_t base __attribute__((aligned(CACHE_LINE))); /* atomic */
};

goc_counter *goc_counter_new(void)
{
	goc_counter *c = aligned_alloc(CACHE_LINE, sizeof *c);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, sizeof *c);
	return c;
}

void goc_counter_free(goc_counter *c)
{
	free(c);
}

void goc_counter_add(goc_counter *c, int64_t delta)
{
	goc__m *m = goc__m_self();
	goc__p *p = m ? m->p : NULL;
	if (!p) {
		goc__add_fetch_relaxed(&c->slots[FOREIGN_SLOT].value, delta);
		return;
	}
	int64_t *slot = &c->slots[p->id].value;
	goc__store_relaxed(slot, goc__load_relaxed(slot) + delta);
}

static int64_t slots_sum(goc_counter *c)
{
	int64_t sum = 0;
	for (int i = 0; i <= FOREIGN_SLOT; i++)
		sum += goc__load_relaxed(&c->slots[i].value);
	return sum;
}

int64_t goc_counter_read(goc_counter *c)
{
	return slots_sum(c) - goc__load_relaxed(&c->base);
}

void goc_counter_reset(goc_counter *c)
{
	goc__store_relaxed(&c->base, slots_sum(c));
}
