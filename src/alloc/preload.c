/*
 * preload.c — libgoc-malloc.so: goc's heap as the whole program's malloc.
 * The library is all of goc plus this file, which defines the C library's
 * allocation functions on top of goc_malloc and friends:
 *
 *     LD_PRELOAD=/usr/local/lib/libgoc-malloc.so ./program
 *     cc ... -lgoc-malloc      (linked in: the same functions, found first)
 *
 * Then every allocation of the program and of its libraries goes through
 * the per-P and per-thread caches and shows in goc's heap profile and
 * MemStats. A goc program that preloads it calls goc_* in this library
 * (the preloaded definitions come first), so there is one runtime.
 *
 * What the functions meet, and why each is safe:
 *  - Before goc is initialised, and in programs that never use goc: the
 *    heap needs no runtime. goc__m_self() is NULL, so every thread uses a
 *    cache of its own, made on its first allocation from memory the heap
 *    maps itself; no allocation of ours calls malloc.
 *  - Inside dlsym and the dynamic loader: we never call dlsym (there is
 *    no "real malloc" to find), so dlsym's own allocations are ordinary.
 *  - fork: the child must not inherit a heap lock held by a thread that
 *    does not exist there. pthread_atfork handlers take every heap lock
 *    before fork and release them after, in parent and child.
 *  - Signal handlers: a handler that allocates or frees a small object
 *    while its thread was inside the allocator finds the cache busy and
 *    goes around it without blocking (mcache.c); an allocation that would
 *    have to wait for a lock fails with ENOMEM instead. (glibc's malloc is
 *    not async-signal-safe at all.) Large objects in such a handler take
 *    the heap lock as usual.
 *  - Thread exit: the thread's cache goes back to the central lists from a
 *    pthread key destructor; allocations after it (other destructors) go
 *    around any cache.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sched/lock.h"
#include "alloc.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT GOC_ALLOC_TEXT void *malloc(size_t n)
{
	return goc_malloc(n);
}

EXPORT void free(void *p)
{
	goc_free(p);
}

EXPORT GOC_ALLOC_TEXT void *calloc(size_t count, size_t size)
{
	return goc_calloc(count, size);
}

EXPORT GOC_ALLOC_TEXT void *realloc(void *p, size_t n)
{
	return goc_realloc(p, n);
}

EXPORT GOC_ALLOC_TEXT void *reallocarray(void *p, size_t count, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(count, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return goc_realloc(p, n);
}

/* glibc's memalign rounds an alignment that is not a power of two up to
 * one. */
static size_t power_of_two_at_least(size_t align)
{
	size_t a = GOC_ALLOC_ALIGN;
	while (a < align && a < ((size_t)1 << 62))
		a <<= 1;
	return a;
}

EXPORT GOC_ALLOC_TEXT void *aligned_alloc(size_t align, size_t n)
{
	return goc_aligned_alloc(align, n);
}

EXPORT GOC_ALLOC_TEXT void *memalign(size_t align, size_t n)
{
	return goc_aligned_alloc(power_of_two_at_least(align), n);
}

EXPORT GOC_ALLOC_TEXT int posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	int saved = errno;
	void *p = goc_aligned_alloc(align, n);
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

EXPORT GOC_ALLOC_TEXT void *valloc(size_t n)
{
	return goc_aligned_alloc((size_t)sysconf(_SC_PAGESIZE), n);
}

EXPORT GOC_ALLOC_TEXT void *pvalloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (n > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return goc_aligned_alloc(page, (n + page - 1) & ~(page - 1));
}

EXPORT size_t malloc_usable_size(void *p)
{
	return goc_malloc_usable_size(p);
}

/* ---- fork ---- */

static void fork_prepare(void)
{
	goc__memprof_fork_prepare();
	goc__mcache_fork_prepare();
	goc__central_fork_prepare();
	goc__heap_fork_prepare();
}

static void fork_after(void)
{
	goc__heap_fork_after();
	goc__central_fork_after();
	goc__mcache_fork_after();
	goc__memprof_fork_after();
}

__attribute__((constructor)) static void preload_init(void)
{
	pthread_atfork(fork_prepare, fork_after, fork_after);
}
