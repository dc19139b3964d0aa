/*
 * waiter.c — the records a select's cases wait with (chan_waiter, Go's
 * sudog), from a dense pool. (A plain send or receive waits with the record
 * embedded in the goroutine's descriptor.)
 *
 * A record could live on the waiting goroutine's stack, but then every walk
 * of a long wait queue — a close that wakes 100,000 selects, a select
 * withdrawing from a busy channel — touches one stack page per waiter: a
 * cache and a TLB miss each. Records come instead from slabs of 64 and
 * are reused, so a queue's records sit close together in memory.
 *
 * Each thread keeps up to CACHE_MAX free records in a thread-local array;
 * it refills from and spills to a central free list under a lock, BATCH at
 * a time. A goroutine may take a record on one M and give it back on
 * another: the caches rebalance through the central list. Plain threads
 * use the central list directly, so nothing is stranded when they exit.
 *
 * The thread-local cache is touched only inside goc__chan_waiter_get and
 * goc__chan_waiter_put, which are out of line and never switch goroutines, so
 * no thread-local address is kept across a park (a goroutine may resume
 * on another thread).
 *
 * Invariants: a record is either free (in one cache or the central list)
 * or owned by the goroutine that got it, until that goroutine puts it back
 * after it has woken; whoever wakes a waiter reads the record before
 * readying the goroutine and not after. Slabs are never freed: the pool is
 * as large as the most select cases that ever waited at once (40 bytes
 * each).
 */
#include <stdlib.h>

#include "chan.h"

#define CACHE_MAX 128
#define BATCH 32
#define SLAB 64

static __thread struct {
	uint32_t n;
	chan_waiter *free[CACHE_MAX];
} cache;

static goc__lock central_lock = GOC_LOCK_INIT;
static goc__list_node *central_free; /* records linked through link.next; central_lock */

/* central_lock held. */
static void central_grow_locked(void)
{
	chan_waiter *slab = calloc(SLAB, sizeof *slab);
	if (!slab)
		goc__fatal("out of memory for channel waiter records");
	for (size_t i = 0; i < SLAB; i++) {
		slab[i].link.next = central_free;
		central_free = &slab[i].link;
	}
}

static chan_waiter *central_get(void)
{
	goc__lock_acquire(&central_lock);
	if (!central_free)
		central_grow_locked();
	goc__list_node *n = central_free;
	central_free = n->next;
	goc__lock_release(&central_lock);
	return goc__list_entry(n, chan_waiter, link);
}

static void central_put_list(chan_waiter *first, chan_waiter *last)
{
	goc__lock_acquire(&central_lock);
	last->link.next = central_free;
	central_free = &first->link;
	goc__lock_release(&central_lock);
}

/* Moves up to BATCH records from the central list into this thread's
 * cache. */
static void cache_refill(void)
{
	goc__lock_acquire(&central_lock);
	while (cache.n < BATCH) {
		if (!central_free)
			central_grow_locked();
		goc__list_node *n = central_free;
		central_free = n->next;
		cache.free[cache.n++] = goc__list_entry(n, chan_waiter, link);
	}
	goc__lock_release(&central_lock);
}

__attribute__((noinline)) chan_waiter *goc__chan_waiter_get(void)
{
	goc__g *g = goc__g_self();
	chan_waiter *w;
	if (g->flags & G_FLAG_FOREIGN) {
		w = central_get();
	} else {
		if (cache.n == 0)
			cache_refill();
		w = cache.free[--cache.n];
	}
	*w = (chan_waiter){.g = g};
	return w;
}

__attribute__((noinline)) void goc__chan_waiter_put(chan_waiter *w)
{
	if (w->g->flags & G_FLAG_FOREIGN) {
		central_put_list(w, w);
		return;
	}
	if (cache.n == CACHE_MAX) {
		/* Spill the oldest BATCH, keep the recently used (warm) ones. */
		for (size_t i = 0; i + 1 < BATCH; i++)
			cache.free[i]->link.next = &cache.free[i + 1]->link;
		central_put_list(cache.free[0], cache.free[BATCH - 1]);
		cache.n -= BATCH;
		for (size_t i = 0; i < cache.n; i++)
			cache.free[i] = cache.free[i + BATCH];
	}
	cache.free[cache.n++] = w;
}
