/*
 * large.c — objects above 32 KiB: a span of their own from the page heap,
 * as in Go (no cache holds large spans; the heap lock is taken per
 * allocation and free, which the size of the object amortizes). Objects
 * over half an arena get a reservation of their own (pageheap.c).
 *
 * An alignment above the page size is met by allocating align - 8 KiB
 * more pages and handing out the aligned pointer inside the span
 * (span.large_ptr); the page map leads any pointer inside back to the span.
 *
 * Statistics are global atomic counters: one more atomic add next to a
 * lock and a page-map update is noise.
 */
#include <errno.h>

#include "../prim/atomic.h"
#include "alloc.h"

uint64_t goc__large_counts[4]; /* mallocs, bytes, frees, bytes; atomic */

GOC_ALLOC_TEXT void *goc__large_alloc(size_t n, size_t align, bool zero)
{
	size_t extra = align > GOC_ALLOC_PAGE ? align - GOC_ALLOC_PAGE : 0;
	if (n > SIZE_MAX / 2 - extra - GOC_ALLOC_PAGE)
		return NULL;
	size_t npages = (n + extra + GOC_ALLOC_PAGE - 1) >> GOC_ALLOC_PAGE_SHIFT;
	goc__span *s = goc__heap_alloc(npages, SPAN_LARGE, zero);
	if (!s)
		return NULL;
	uintptr_t p = (uintptr_t)s->base;
	if (align > GOC_ALLOC_PAGE)
		p = (p + align - 1) & ~(uintptr_t)(align - 1);
	s->large_ptr = (void *)p;
	size_t usable = (s->npages << GOC_ALLOC_PAGE_SHIFT) - (p - (uintptr_t)s->base);
	s->large_size = usable;
	goc__fetch_add_relaxed(&goc__large_counts[0], 1);
	goc__fetch_add_relaxed(&goc__large_counts[1], usable);
	/* Large objects draw on the caller's sample countdown too. */
	goc__mcache *c = goc__mcache_self();
	if (c && !goc__load_relaxed(&c->busy)) {
		int64_t left = goc__load_relaxed(&c->sample_left) - (int64_t)usable;
		if (left < 0) {
			goc__store_relaxed(&c->sample_left, goc__memprof_next_sample());
			if (goc__load_relaxed(&goc__memprof_rate) > 0) {
				goc__memprof_alloc((void *)p, usable);
			}
		} else {
			goc__store_relaxed(&c->sample_left, left);
		}
	}
	return (void *)p;
}

void goc__large_free(goc__span *s, void *p)
{
	if (goc__load_relaxed(&s->nsampled))
		goc__memprof_free(p, s);
	goc__fetch_add_relaxed(&goc__large_counts[2], 1);
	goc__fetch_add_relaxed(&goc__large_counts[3], s->large_size);
	goc__heap_free(s);
	goc__alloc_scavenge_maybe();
}
