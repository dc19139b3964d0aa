/*
 * malloc.c — the public allocation calls (goc_malloc and friends) with C's
 * semantics, and the reports of misuse the heap can detect cheaply.
 *
 * C's rules, as glibc applies them: every block is aligned to
 * alignof(max_align_t) (16); malloc(0) returns a unique pointer (a 16-byte
 * object); free(NULL) does nothing; realloc(NULL, n) is malloc(n) and
 * realloc(p, 0) frees p and returns NULL; calloc fails on an overflowing
 * product; every failure returns NULL with errno ENOMEM (EINVAL for a bad
 * alignment).
 *
 * Misuse found on free: a pointer in no arena of this heap, inside a free
 * run, or not at the start of an object ("free of a pointer goc's heap
 * never returned"), and a small object freed twice (the second word of a
 * freed object holds a mark that malloc clears; see mcache.c). Both panic
 * with the goroutine's stack. A large object freed twice is caught only
 * while its pages stay free.
 *
 * Sanitizer builds (GOC_ALLOC_SYSTEM) send every call to the C library,
 * whose allocator the sanitizer replaces, so ASan sees goc_malloc's
 * objects; the heap profile and goc's heap statistics are then empty.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "../sched/runtime.h"
#include "../prim/atomic.h"
#include "alloc.h"

_Noreturn void goc__alloc_misuse(const char *what, const void *p)
{
	goc__panic("goc_free: %s (%p)", what, p);
}

#ifdef GOC_ALLOC_SYSTEM

void *goc_malloc(size_t n)
{
	return malloc(n);
}
void *goc_calloc(size_t count, size_t size)
{
	return calloc(count, size);
}
void *goc_realloc(void *p, size_t n)
{
	if (p && n == 0) {
		free(p);
		return NULL;
	}
	return realloc(p, n);
}
void goc_free(void *p)
{
	free(p);
}
void *goc_aligned_alloc(size_t align, size_t n)
{
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned_alloc(align, (n + align - 1) & ~(align - 1));
}
size_t goc_malloc_usable_size(void *p)
{
	return p ? malloc_usable_size(p) : 0;
}

#else

static void *nomem(void)
{
	errno = ENOMEM;
	return NULL;
}

/* A small object of class cls: the caller's cache's list inline, the
 * slow path (mcache.c) for everything else. */
static inline void *small_alloc(size_t n, unsigned cls)
{
	goc__mcache *c = goc__mcache_fast();
	if (__builtin_expect(c != NULL, 1)) {
		void *p = goc__mcache_pop(c, cls);
		if (__builtin_expect(p != NULL, 1))
			return p;
	}
	return goc__small_alloc(n, cls);
}

GOC_ALLOC_TEXT void *goc_malloc(size_t n)
{
	void *p = __builtin_expect(n <= GOC_ALLOC_MAX_SMALL, 1) ? small_alloc(n, goc__size_class(n))
								: goc__large_alloc(n, 0, false);
	return p ? p : nomem();
}

GOC_ALLOC_TEXT void *goc_calloc(size_t count, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(count, size, &n))
		return nomem();
	if (n > GOC_ALLOC_MAX_SMALL) {
		void *p = goc__large_alloc(n, 0, true);
		return p ? p : nomem();
	}
	void *p = small_alloc(n, goc__size_class(n));
	if (!p)
		return nomem();
	memset(p, 0, n);
	return p;
}

/* The index of p in s, a small span, or panics if p is not the start of
 * one of its objects. One multiply instead of a division. */
static inline uint32_t small_index(goc__span *s, void *p)
{
	uintptr_t off = (uintptr_t)((char *)p - s->base);
	if (__builtin_expect(off >= s->limit, 0))
		goc__alloc_misuse("free of a pointer goc's heap never returned", p);
	uint32_t index = (uint32_t)((off * s->divmagic) >> 32);
	if (__builtin_expect(index * s->elem_size != off, 0))
		goc__alloc_misuse("free of a pointer inside an object", p);
	return index;
}

/* The span of a pointer handed to free, realloc or usable_size; panics on
 * a pointer this heap never returned. */
static goc__span *checked_span(void *p)
{
	goc__span *s = goc__span_of(p);
	char *c = p;
	if (!s || c < s->base || c >= s->base + (s->npages << GOC_ALLOC_PAGE_SHIFT))
		goc__alloc_misuse("free of a pointer goc's heap never returned", p);
	uint8_t state = goc__load_relaxed(&s->state);
	if (state == SPAN_SMALL) {
		small_index(s, p);
		return s;
	}
	if (state == SPAN_LARGE) {
		if (p != s->large_ptr)
			goc__alloc_misuse("free of a pointer inside an object", p);
		return s;
	}
	goc__alloc_misuse("double free or free of a pointer goc's heap never returned", p);
}

/* A small object's free: its mark checked and set, its sample recorded,
 * a push onto the caller's list when its cache owns the span, else the
 * slow path. */
__attribute__((always_inline)) static inline void free_small(goc__span *s, void *p, uint32_t index)
{
	uintptr_t *words = p;
	if (__builtin_expect(words[1] == goc__free_mark(p), 0))
		goc__alloc_misuse("double free", p);
	words[1] = goc__free_mark(p);
	if (__builtin_expect(goc__load_relaxed(&s->sampled_mask) >> (index & 63) & 1, 0))
		goc__memprof_free(p, s);
	goc__mcache *c = goc__mcache_fast();
	if (__builtin_expect(c == NULL || !goc__mcache_push(c, s, p), 0))
		goc__small_free(s, p, c);
}

/* Everything goc_free does not do inline: large objects, misuse (and a
 * small span, should its state be read differently the second time). */
__attribute__((noinline)) static void free_other(void *p)
{
	goc__span *s = checked_span(p);
	if (s->state == SPAN_SMALL)
		free_small(s, p, small_index(s, p));
	else
		goc__large_free(s, p);
}

/*
 * The small-object free, inline: the span by the page map, the pointer
 * checked to start one of its objects (a pointer into a stale descriptor
 * of a free run fails the offset check: limit bounds it to the span), then
 * free_small.
 */
void goc_free(void *p)
{
	goc__span *s = goc__span_of(p);
	if (__builtin_expect(s != NULL && goc__load_relaxed(&s->state) == SPAN_SMALL, 1))
		free_small(s, p, small_index(s, p));
	else if (p)
		free_other(p);
}

static size_t usable(goc__span *s, void *p)
{
	if (s->state == SPAN_SMALL)
		return s->elem_size;
	return (s->npages << GOC_ALLOC_PAGE_SHIFT) - (size_t)((char *)p - s->base);
}

size_t goc_malloc_usable_size(void *p)
{
	return p ? usable(checked_span(p), p) : 0;
}

GOC_ALLOC_TEXT void *goc_realloc(void *p, size_t n)
{
	if (!p)
		return goc_malloc(n);
	if (n == 0) {
		goc_free(p);
		return NULL;
	}
	goc__span *s = checked_span(p);
	size_t have = usable(s, p);
	/* Keep the block when it fits and would not be more than half
	 * empty (a shrink to a smaller class moves, as Go's append would
	 * not, to give the memory back). */
	if (n <= have && (n > have / 2 || have <= 16))
		return p;
	void *q = goc_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, n < have ? n : have);
	goc_free(p);
	return q;
}

GOC_ALLOC_TEXT void *goc_aligned_alloc(size_t align, size_t n)
{
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= GOC_ALLOC_ALIGN)
		return goc_malloc(n);
	if (align <= GOC_ALLOC_PAGE && n <= GOC_ALLOC_MAX_SMALL) {
		/* A class whose size is a multiple of align: its objects
		 * start at multiples of it from a page-aligned span. */
		size_t want = (n + align - 1) & ~(align - 1);
		if (want <= GOC_ALLOC_MAX_SMALL) {
			unsigned cls = goc__size_class(want);
			while (cls < GOC_ALLOC_NCLASSES - 1 && goc__class_size[cls] % align)
				cls++;
			void *p = small_alloc(n, cls);
			return p ? p : nomem();
		}
	}
	void *p = goc__large_alloc(n, align, false);
	return p ? p : nomem();
}

#endif
