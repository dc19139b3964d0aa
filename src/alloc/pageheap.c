/*
 * pageheap.c — the page heap (Go's mheap): address space from the kernel in
 * 64 MiB arenas, cut into spans of 8 KiB pages for the size classes and for
 * large objects; the page map that finds a pointer's span; span descriptors
 * and the other metadata.
 *
 * Arenas are reserved aligned to their size, so a pointer's arena is its
 * high bits. A two-level map (goc__arena_l1 → level 2 → arena) says whether an
 * address lies in one of our arenas at all: that is how a free of a pointer
 * goc never returned is caught without touching the pointer's memory.
 * Each arena holds a page map: in-use spans are recorded at every page (a
 * free may name any object inside), free runs at their first and last page
 * (what coalescing needs). An object larger than half an arena gets an
 * arena-aligned reservation of its own ("huge"), mapped whole to its span.
 *
 * Free runs are kept in lists by length (1 to 127 pages) and one list of
 * longer runs searched for the best fit: Go keeps a radix tree of page
 * bitmaps to find runs fast across huge heaps; with C's explicit frees
 * most requests are served by the caches, and a list per length finds a
 * fitting run in a few steps at the sizes the classes ask for.
 *
 * Invariants:
 *  - heap.lock protects the free lists, every page map entry's writes, the
 *    statistics and span descriptors' fields while they are free runs.
 *  - Page map entries and arena map entries are written under heap.lock and
 *    read without it (atomic, relaxed): a span is entered in the map before
 *    any pointer into it is handed out, and it leaves the map only after its
 *    last object was freed, so whoever frees a pointer it owns finds the
 *    span. Descriptors are recycled, never unmapped.
 *  - Neighbouring free runs are always merged; a free run never crosses an
 *    arena's end.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>

#include "../prim/prim.h"
#include "../sched/lock.h"
#include "../prim/atomic.h"
#include "alloc.h"

#define ARENA_L2_BITS GOC_ALLOC_L2_BITS
#define FREE_LISTS 128 /* lists 1..127 by length; list 0: longer runs */

/* The arena map and struct goc__arena are in alloc.h (free reads them
 * inline). Atomic elements. */
struct goc__arena **goc__arena_l1[1 << GOC_ALLOC_L1_BITS];

static struct {
	goc__lock lock;
	goc__span *free[FREE_LISTS]; /* free runs, doubly linked */
	goc__span *spare;            /* recycled descriptors */
	goc__heap_stats st;
} heap;

static struct {
	goc__lock lock;
	char *next, *end; /* the current chunk of metadata memory */
	uint64_t total;
} meta;

#define META_CHUNK ((size_t)1 << 20)

void *goc__meta_alloc(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	goc__lock_acquire(&meta.lock);
	if ((size_t)(meta.end - meta.next) < size) {
		size_t chunk = size > META_CHUNK ? size : META_CHUNK;
		char *p = goc__prim_reserve(chunk);
		if (!p) {
			goc__lock_release(&meta.lock);
			return NULL;
		}
		meta.next = p;
		meta.end = p + chunk;
		meta.total += chunk;
	}
	void *p = meta.next;
	meta.next += size;
	goc__lock_release(&meta.lock);
	return p;
}

/* ---- the arena map ---- */

/* heap.lock held. */
static bool arena_map_set(uintptr_t a, struct goc__arena *ar)
{
	struct goc__arena ***slot = &goc__arena_l1[a >> (GOC_ALLOC_ARENA_SHIFT + ARENA_L2_BITS)];
	if (!*slot) {
		struct goc__arena **l2 =
			goc__meta_alloc(sizeof(struct goc__arena *) << ARENA_L2_BITS);
		if (!l2)
			return false;
		goc__store_release(slot, l2);
	}
	goc__store_release(&(*slot)[(a >> GOC_ALLOC_ARENA_SHIFT) & ((1 << ARENA_L2_BITS) - 1)], ar);
	return true;
}

/* An arena-aligned reservation of size bytes (a multiple of the arena). */
static char *reserve_aligned(size_t size)
{
	char *p = goc__prim_reserve(size + GOC_ALLOC_ARENA);
	if (!p)
		return NULL;
	uintptr_t start = ((uintptr_t)p + GOC_ALLOC_ARENA - 1) & ~(GOC_ALLOC_ARENA - 1);
	if (start > (uintptr_t)p)
		goc__prim_unreserve(p, start - (uintptr_t)p);
	uintptr_t end = (uintptr_t)p + size + GOC_ALLOC_ARENA;
	if (end > start + size)
		goc__prim_unreserve((char *)(start + size), end - (start + size));
	return (char *)start;
}

/* ---- span descriptors and page map entries (heap.lock) ---- */

static goc__span *span_new(void)
{
	goc__span *s = heap.spare;
	if (s) {
		heap.spare = s->next;
		memset(s, 0, sizeof *s);
		return s;
	}
	s = goc__meta_alloc(sizeof *s);
	if (s)
		heap.st.meta += sizeof *s;
	return s;
}

static void span_dispose(goc__span *s)
{
	s->state = SPAN_FREE;
	s->npages = 0;
	s->next = heap.spare;
	heap.spare = s;
}

static struct goc__arena *arena_at(const char *p)
{
	return goc__arena_of((uintptr_t)p);
}

static size_t page_index(struct goc__arena *ar, const char *p)
{
	return (size_t)(p - ar->base) >> GOC_ALLOC_PAGE_SHIFT;
}

static void map_pages(goc__span *s, goc__span *to, bool every)
{
	struct goc__arena *ar = arena_at(s->base);
	size_t first = page_index(ar, s->base);
	if (every) {
		for (size_t i = 0; i < s->npages; i++)
			goc__store_relaxed(&ar->pages[first + i], to);
	} else {
		goc__store_relaxed(&ar->pages[first], to);
		goc__store_relaxed(&ar->pages[first + s->npages - 1], to);
	}
}

static unsigned free_list_of(size_t npages)
{
	return npages < FREE_LISTS ? (unsigned)npages : 0;
}

static void free_list_insert(goc__span *s)
{
	goc__span **head = &heap.free[free_list_of(s->npages)];
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void free_list_remove(goc__span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		heap.free[free_list_of(s->npages)] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* Enters s (state SPAN_FREE) as a free run, merged with its free
 * neighbours. */
static void free_run_add(goc__span *s)
{
	struct goc__arena *ar = arena_at(s->base);
	size_t first = page_index(ar, s->base);
	if (first > 0) {
		goc__span *left = ar->pages[first - 1];
		if (left && left->state == SPAN_FREE) {
			free_list_remove(left);
			if (left->released != s->released) {
				/* A mixed run counts as not released; its released
				 * part is released again by the next scavenge. */
				heap.st.released -= (left->released ? left->npages : s->npages)
					<< GOC_ALLOC_PAGE_SHIFT;
				s->released = false;
			}
			s->needzero |= left->needzero;
			s->base = left->base;
			s->npages += left->npages;
			if (left->free_since > s->free_since)
				s->free_since = left->free_since;
			span_dispose(left);
			first = page_index(ar, s->base);
		}
	}
	size_t end = first + s->npages;
	if (end < GOC_ALLOC_ARENA_PAGES) {
		goc__span *right = ar->pages[end];
		if (right && right->state == SPAN_FREE) {
			free_list_remove(right);
			if (right->released != s->released) {
				heap.st.released -= (right->released ? right->npages : s->npages)
					<< GOC_ALLOC_PAGE_SHIFT;
				s->released = false;
			}
			s->needzero |= right->needzero;
			s->npages += right->npages;
			if (right->free_since > s->free_since)
				s->free_since = right->free_since;
			span_dispose(right);
		}
	}
	map_pages(s, s, false);
	free_list_insert(s);
}

/* A new arena, entered as one free run. */
static bool heap_grow(void)
{
	char *base = reserve_aligned(GOC_ALLOC_ARENA);
	if (!base)
		return false;
	struct goc__arena *ar = goc__meta_alloc(sizeof *ar);
	goc__span *s = span_new();
	if (!ar || !s || !arena_map_set((uintptr_t)base, ar)) {
		goc__prim_unreserve(base, GOC_ALLOC_ARENA);
		return false;
	}
	heap.st.meta += sizeof *ar;
	ar->base = base;
	/* The arena is fresh: its pages read as zero until touched, and
	 * count as released (Go's HeapReleased counts them so too). */
	s->base = base;
	s->npages = GOC_ALLOC_ARENA_PAGES;
	s->state = SPAN_FREE;
	s->released = true;
	heap.st.sys += GOC_ALLOC_ARENA;
	heap.st.idle += GOC_ALLOC_ARENA;
	heap.st.released += GOC_ALLOC_ARENA;
	free_run_add(s);
	return true;
}

/* The best fitting free run of at least npages, or NULL. */
static goc__span *free_run_find(size_t npages)
{
	for (size_t n = npages; n < FREE_LISTS; n++)
		if (heap.free[n])
			return heap.free[n];
	goc__span *best = NULL;
	for (goc__span *s = heap.free[0]; s; s = s->next)
		if (s->npages >= npages && (!best || s->npages < best->npages))
			best = s;
	return best;
}

static goc__span *alloc_huge_locked(size_t npages, int state)
{
	size_t size =
		((npages << GOC_ALLOC_PAGE_SHIFT) + GOC_ALLOC_ARENA - 1) & ~(GOC_ALLOC_ARENA - 1);
	goc__span *s = span_new();
	struct goc__arena *ar = goc__meta_alloc(offsetof(struct goc__arena, pages));
	char *base = s && ar ? reserve_aligned(size) : NULL;
	if (!base) {
		if (s)
			span_dispose(s);
		return NULL;
	}
	ar->base = base;
	ar->huge = s;
	s->base = base;
	s->npages = size >> GOC_ALLOC_PAGE_SHIFT;
	s->state = (uint8_t)state;
	for (size_t off = 0; off < size; off += GOC_ALLOC_ARENA)
		if (!arena_map_set((uintptr_t)base + off, ar)) {
			for (size_t undo = 0; undo < off; undo += GOC_ALLOC_ARENA)
				arena_map_set((uintptr_t)base + undo, NULL);
			goc__prim_unreserve(base, size);
			span_dispose(s);
			return NULL;
		}
	heap.st.sys += size;
	heap.st.inuse += size;
	return s;
}

static goc__span *alloc_locked(size_t npages, int state, bool *needzero)
{
	if (npages > GOC_ALLOC_ARENA_PAGES / 2) {
		*needzero = false;
		return alloc_huge_locked(npages, state);
	}
	goc__span *run = free_run_find(npages);
	if (!run) {
		if (!heap_grow())
			return NULL;
		run = free_run_find(npages);
	}
	free_list_remove(run);
	if (run->released)
		heap.st.released -= npages << GOC_ALLOC_PAGE_SHIFT;
	if (run->npages > npages) {
		goc__span *rest = span_new();
		if (!rest) {
			free_list_insert(run);
			return NULL;
		}
		rest->base = run->base + (npages << GOC_ALLOC_PAGE_SHIFT);
		rest->npages = run->npages - npages;
		rest->state = SPAN_FREE;
		rest->needzero = run->needzero;
		rest->released = run->released;
		rest->free_since = run->free_since;
		run->npages = npages;
		map_pages(rest, rest, false);
		free_list_insert(rest);
	}
	*needzero = run->needzero && !run->released;
	heap.st.idle -= npages << GOC_ALLOC_PAGE_SHIFT;
	heap.st.inuse += npages << GOC_ALLOC_PAGE_SHIFT;
	run->state = (uint8_t)state;
	run->needzero = false;
	run->released = false;
	run->next = run->prev = NULL;
	map_pages(run, run, true);
	return run;
}

static goc__span *finish_alloc(goc__span *s, bool needzero, bool zero)
{
	if (s && needzero && zero)
		memset(s->base, 0, s->npages << GOC_ALLOC_PAGE_SHIFT);
	return s;
}

goc__span *goc__heap_alloc(size_t npages, int state, bool zero)
{
	bool needzero = false;
	goc__lock_acquire(&heap.lock);
	goc__span *s = alloc_locked(npages, state, &needzero);
	goc__lock_release(&heap.lock);
	goc__alloc_limit_check();
	return finish_alloc(s, needzero, zero);
}

goc__span *goc__heap_try_alloc(size_t npages, int state, bool zero)
{
	bool needzero = false;
	if (!goc__lock_try_word(&heap.lock.word))
		return NULL;
	goc__span *s = alloc_locked(npages, state, &needzero);
	goc__lock_release(&heap.lock);
	return finish_alloc(s, needzero, zero);
}

static void free_locked(goc__span *s)
{
	struct goc__arena *ar = arena_at(s->base);
	if (ar->huge == s) {
		size_t size = s->npages << GOC_ALLOC_PAGE_SHIFT;
		char *base = s->base;
		for (size_t off = 0; off < size; off += GOC_ALLOC_ARENA)
			arena_map_set((uintptr_t)base + off, NULL);
		heap.st.sys -= size;
		heap.st.inuse -= size;
		span_dispose(s);
		/* The arena descriptor stays: a racy reader may hold it. */
		goc__prim_unreserve(base, size);
		return;
	}
	heap.st.inuse -= s->npages << GOC_ALLOC_PAGE_SHIFT;
	heap.st.idle += s->npages << GOC_ALLOC_PAGE_SHIFT;
	/* In-use pages other than the ends stop naming the span: a later
	 * free of a stale pointer into them finds no span. */
	map_pages(s, NULL, true);
	s->state = SPAN_FREE;
	s->needzero = true;
	s->released = false;
	s->free_since = goc__prim_nanotime();
	free_run_add(s);
}

void goc__heap_free(goc__span *s)
{
	goc__lock_acquire(&heap.lock);
	free_locked(s);
	goc__lock_release(&heap.lock);
}

bool goc__heap_try_free(goc__span *s)
{
	if (!goc__lock_try_word(&heap.lock.word))
		return false;
	free_locked(s);
	goc__lock_release(&heap.lock);
	return true;
}

void goc__heap_stats_read(goc__heap_stats *st)
{
	goc__lock_acquire(&heap.lock);
	*st = heap.st;
	goc__lock_release(&heap.lock);
	goc__lock_acquire(&meta.lock);
	st->meta = meta.total;
	goc__lock_release(&meta.lock);
}

size_t goc__heap_scavenge(int64_t older_than, size_t want)
{
	size_t done = 0;
	goc__lock_acquire(&heap.lock);
	for (unsigned i = 0; i < FREE_LISTS && done < want; i++) {
		for (goc__span *s = heap.free[i]; s && done < want; s = s->next) {
			if (s->released || s->free_since > older_than)
				continue;
			size_t bytes = s->npages << GOC_ALLOC_PAGE_SHIFT;
			goc__prim_release(s->base, bytes);
			s->released = true;
			s->needzero = false;
			heap.st.released += bytes;
			done += bytes;
		}
	}
	goc__lock_release(&heap.lock);
	return done;
}

void goc__heap_fork_prepare(void)
{
	goc__lock_acquire(&heap.lock);
	goc__lock_acquire(&meta.lock);
}

void goc__heap_fork_after(void)
{
	goc__lock_release(&meta.lock);
	goc__lock_release(&heap.lock);
}
