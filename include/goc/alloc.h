/*
 * goc/alloc.h — goc's heap: Go's allocator for C (per-P caches, size
 * classes, a page heap, a scavenger), its statistics (Go's
 * runtime.MemStats) and the heap profile. Included by goc.h; include
 * <goc.h>, not this file.
 *
 * The calls have C's semantics and work from goroutines and plain threads
 * alike; a block may be freed by any goroutine or thread. Blocks are
 * aligned to alignof(max_align_t). The whole program's malloc can be goc's
 * too: LD_PRELOAD=libgoc-malloc.so (docs/API.md, "The heap").
 *
 *     char *buf = goc_malloc(4096);      // from the caller's P, no lock
 *     goc_chan_send(work, &buf);         // freed by another goroutine:
 *     ...                                // goc_free(buf) never locks
 *
 * goc_free panics on a pointer goc's heap never returned and on a second
 * free of a small object (up to 32 KiB).
 */
#ifndef GOC_ALLOC_H
#define GOC_ALLOC_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/alloc.h>"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* As malloc, calloc, realloc, free, aligned_alloc and malloc_usable_size.
 * NULL with errno ENOMEM when memory runs out; goc_aligned_alloc: EINVAL
 * unless align is a power of two. goc_realloc(p, 0) frees p and returns
 * NULL, as glibc's realloc. */
void *goc_malloc(size_t size);
void *goc_calloc(size_t count, size_t size);
void *goc_realloc(void *ptr, size_t size);
void goc_free(void *ptr);
void *goc_aligned_alloc(size_t align, size_t size);
size_t goc_malloc_usable_size(void *ptr);

#define GOC_MEMSTATS_NCLASSES 72

/*
 * Go's runtime.MemStats, the fields that mean something for goc's heap.
 * Byte counts are exact at the moment of reading, except that the counts
 * of different caches are read one after the other, not all at one
 * instant, and StackInuse is approximate (see docs/API.md).
 */
typedef struct goc_memstats {
	uint64_t alloc;         /* bytes of live objects (= heap_alloc) */
	uint64_t total_alloc;   /* bytes allocated since start, freed ones included */
	uint64_t sys;           /* bytes reserved from the OS: heap, stacks, metadata */
	uint64_t mallocs;       /* objects allocated since start */
	uint64_t frees;         /* objects freed since start */
	uint64_t heap_alloc;    /* bytes of live objects, rounded to their size class */
	uint64_t heap_sys;      /* bytes of heap address space reserved */
	uint64_t heap_idle;     /* bytes in free runs of pages (released included) */
	uint64_t heap_inuse;    /* bytes in spans holding objects */
	uint64_t heap_released; /* bytes given back to the OS (or never touched) */
	uint64_t heap_objects;  /* live objects */
	uint64_t stack_inuse;   /* bytes of goroutine stacks in use */
	uint64_t stack_sys;     /* bytes reserved for goroutine stacks */
	uint64_t meta_sys;      /* the heap's own metadata (spans, caches, maps) */
	struct {
		uint32_t size; /* the class's object size */
		uint64_t mallocs, frees;
	} by_size[GOC_MEMSTATS_NCLASSES];
} goc_memstats;

/* Fills *s (Go's runtime.ReadMemStats; goc's stops no goroutine). */
void goc_memstats_read(goc_memstats *s);

/*
 * The heap profile's sampling (Go's runtime.MemProfileRate): on average
 * one allocation per `bytes` allocated is recorded with its stack, the
 * gaps exponentially distributed; 1 records every allocation; 0 turns
 * sampling off. The default is 512 KiB. Set it before the allocations of
 * interest (as Go's documentation asks); returns the previous rate. A
 * negative value only reads it.
 */
int64_t goc_set_mem_profile_rate(int64_t bytes);

#endif
