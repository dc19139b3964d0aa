/*
 * memstats.c — goc_memstats_read: Go's runtime.MemStats from the heap's
 * own counters.
 *
 * Object counts come from the caches (each counts the allocations and
 * frees made through it, relaxed single-writer counters), from the
 * counters of operations that went around every cache, and from the
 * large-object counters; page counts from the page heap, under its lock.
 * Nothing is stopped: counts of different caches are read one after the
 * other, so a reading taken while other threads allocate is a sum of
 * recent values, not a snapshot (Go stops the world for one). A free
 * counted before the allocation it matches (two caches read in that
 * order) is why frees are capped at mallocs per class.
 */
#include <string.h>

#include "../sched/runtime.h"
#include "../prim/atomic.h"
#include "alloc.h"

void goc_memstats_read(goc_memstats *s)
{
	memset(s, 0, sizeof *s);
#ifndef GOC_ALLOC_SYSTEM
	for (unsigned cls = 1; cls < GOC_ALLOC_NCLASSES; cls++) {
		uint64_t mallocs, frees;
		goc__mcache_uncached_counts(cls, &mallocs, &frees);
		for (goc__mcache *c = goc__mcache_all(); c; c = c->all_next) {
			mallocs += goc__load_relaxed(&c->cls[cls].nmalloc);
			frees += goc__load_relaxed(&c->cls[cls].nfree);
		}
		if (frees > mallocs)
			frees = mallocs;
		uint32_t size = goc__class_size[cls];
		s->by_size[cls - 1].size = size;
		s->by_size[cls - 1].mallocs = mallocs;
		s->by_size[cls - 1].frees = frees;
		s->mallocs += mallocs;
		s->frees += frees;
		s->total_alloc += mallocs * size;
		s->heap_alloc += (mallocs - frees) * size;
	}
	uint64_t lm = goc__load_relaxed(&goc__large_counts[0]);
	uint64_t lmb = goc__load_relaxed(&goc__large_counts[1]);
	uint64_t lf = goc__load_relaxed(&goc__large_counts[2]);
	uint64_t lfb = goc__load_relaxed(&goc__large_counts[3]);
	s->mallocs += lm;
	s->frees += lf;
	s->total_alloc += lmb;
	s->heap_alloc += lmb - lfb;
	s->heap_objects = s->mallocs - s->frees;
	s->alloc = s->heap_alloc;
	goc__heap_stats hs;
	goc__heap_stats_read(&hs);
	s->heap_sys = hs.sys;
	s->heap_idle = hs.idle;
	s->heap_inuse = hs.inuse;
	s->heap_released = hs.released;
	s->meta_sys = hs.meta;
#else
	for (unsigned cls = 1; cls < GOC_ALLOC_NCLASSES; cls++)
		s->by_size[cls - 1].size = goc__class_size[cls];
#endif
	goc__stack_memstats(&s->stack_inuse, &s->stack_sys);
	s->sys = s->heap_sys + s->stack_sys + s->meta_sys;
}
