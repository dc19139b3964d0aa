/*
 * gpool.c — goroutine descriptors (goc__g): allocated densely, reused, never
 * freed, as in Go's allgs.
 *
 * Descriptors are carved in order from large reservations (regions) of
 * address space, committed page by page as they are first used. Walking the
 * regions up to their high-water mark visits every descriptor that ever
 * existed, which is how dumps and the deadlock report find all goroutines
 * without a registry on the spawn path.
 *
 * Each P caches up to P_GFREE_MAX free descriptors (LIFO, so a spawn reuses
 * the descriptor a goroutine just released, still in the cache); beyond that
 * half go to the global pool under gpool_lock.
 *
 * Invariants: a descriptor is on exactly one free list or belongs to one
 * goroutine; regions and their `used` counts only grow, published with
 * release stores so readers without the lock see initialised descriptors.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define REGION_BYTES ((size_t)1 << 30)
#define MAX_REGIONS 64
#define P_CACHE_MOVE (P_GFREE_MAX / 2)

struct g_region {
	goc__g *base;
	size_t used; /* atomic: descriptors carved so far */
	size_t cap;
};

static struct g_region regions[MAX_REGIONS];
static size_t nregions; /* atomic */

static goc__lock gpool_lock = GOC_LOCK_INIT;
static goc__g **global_free; /* gpool_lock */
static size_t nglobal_free, cap_global_free;

/* A never-used descriptor; gpool_lock held. */
static goc__g *carve_locked(void)
{
	size_t n = goc__load_relaxed(&nregions);
	struct g_region *r = n ? &regions[n - 1] : NULL;
	if (!r || r->used == r->cap) {
		if (n == MAX_REGIONS)
			return NULL;
		goc__g *base = goc__prim_reserve(REGION_BYTES);
		if (!base)
			return NULL;
		r = &regions[n];
		r->base = base;
		r->cap = REGION_BYTES / sizeof(goc__g);
		r->used = 0;
		goc__store_release(&nregions, n + 1);
	}
	goc__g *g = &r->base[r->used];
	goc__store_release(&r->used, r->used + 1);
	return g;
}

static goc__g *global_get_locked(void)
{
	if (nglobal_free)
		return global_free[--nglobal_free];
	return carve_locked();
}

static void global_put(goc__g *const *gs, size_t n)
{
	goc__lock_acquire(&gpool_lock);
	if (nglobal_free + n > cap_global_free) {
		size_t cap = cap_global_free ? cap_global_free * 2 : 1024;
		while (cap < nglobal_free + n)
			cap *= 2;
		goc__g **grown = realloc(global_free, cap * sizeof *grown);
		if (!grown)
			goc__fatal("out of memory growing the goroutine pool to %zu", cap);
		global_free = grown;
		cap_global_free = cap;
	}
	memcpy(global_free + nglobal_free, gs, n * sizeof *gs);
	nglobal_free += n;
	goc__lock_release(&gpool_lock);
}

goc__g *goc__g_alloc(goc__p *p)
{
	goc__g *g;
	if (p) {
		if (p->ngfree == 0) {
			goc__lock_acquire(&gpool_lock);
			while (p->ngfree < P_CACHE_MOVE) {
				goc__g *got = global_get_locked();
				if (!got)
					break;
				p->gfree[p->ngfree++] = got;
			}
			goc__lock_release(&gpool_lock);
			if (p->ngfree == 0)
				return NULL;
		}
		g = p->gfree[--p->ngfree];
	} else {
		goc__lock_acquire(&gpool_lock);
		g = global_get_locked();
		goc__lock_release(&gpool_lock);
		if (!g)
			return NULL;
	}
	/* Keep the sanitizer state that belongs to the descriptor; clear the
	 * rest of a previous goroutine's identity. */
	void *tsan_fiber = g->tsan_fiber;
	memset(g, 0, sizeof *g);
	g->tsan_fiber = tsan_fiber;
	return g;
}

void goc__g_free(goc__p *p, goc__g *g)
{
	goc__store_release(&g->state, G_FREE);
	if (!p) {
		global_put(&g, 1);
		return;
	}
	if (p->ngfree == P_GFREE_MAX) {
		p->ngfree -= P_CACHE_MOVE;
		global_put(p->gfree + p->ngfree, P_CACHE_MOVE);
	}
	p->gfree[p->ngfree++] = g;
}

void goc__g_drain_p(goc__p *p)
{
	if (p->ngfree)
		global_put(p->gfree, p->ngfree);
	p->ngfree = 0;
}

void goc__g_for_each(void (*fn)(goc__g *g, void *arg), void *arg)
{
	size_t n = goc__load_acquire(&nregions);
	for (size_t r = 0; r < n; r++) {
		size_t used = goc__load_acquire(&regions[r].used);
		for (size_t i = 0; i < used; i++) {
			goc__g *g = &regions[r].base[i];
			uint32_t st = goc__load_acquire(&g->state);
			if (st != G_FREE && st != G_DEAD)
				fn(g, arg);
		}
	}
}
