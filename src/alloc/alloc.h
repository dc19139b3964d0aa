/*
 * alloc.h — goc's heap, as its files see each other: Go's allocator (size
 * classes, spans of pages, a cache per P, a central list per class, a page
 * heap, a scavenger) with mimalloc's answer to C's explicit free from
 * another thread (a lock-free "thread free" list in every span).
 *
 *   goc_malloc(n) ─► size class ─► cache of the caller's P (or thread) ─► span's objects
 *                                      │ empty                                 ▲
 *                                      ▼                                       │ frees by the
 *                                  central[class]: spans with free objects ────┘ owner: local
 *                                      │ none                                   others: span's
 *                                      ▼                                        thread_free (CAS)
 *                                  page heap: runs of 8 KiB pages in 64 MiB arenas
 *                                      │ none            (objects > 32 KiB come straight from here)
 *                                      ▼
 *                                  the kernel (reserve an arena)
 *
 * Files: sizeclass.c (the classes), pageheap.c (arenas, the page map, runs of
 * free pages, span descriptors), central.c (spans per class shared by every
 * cache), mcache.c (the caches and the fast paths), large.c (objects above
 * 32 KiB), scavenge.c (giving idle pages back, GOCMEMLIMIT), malloc.c (the
 * public calls and misuse reports), memstats.c (goc_memstats_read), and
 * preload.c (malloc and friends, only in libgoc-malloc.so). The heap profile
 * is src/debug/heapprof.c.
 *
 * Invariants:
 *  - A small span is owned by at most one cache (span.owner) or by no one.
 *    Only the owner pops objects from it and pushes objects onto the
 *    owner's free list of its class; anyone else who frees one of its
 *    objects pushes it onto span.thread_free with a CAS.
 *  - An unowned span is in central[class].partial (it has free objects,
 *    reachable under central's lock), in central[class].adopted (pushed
 *    there lock-free by the first free after it was detached), or detached:
 *    it had no free object when its owner let it go, and thread_free holds
 *    exactly SPAN_DETACHED. The free that finds SPAN_DETACHED moves it to
 *    adopted, so a span with a free object is never lost.
 *  - Every page of an in-use span maps to the span in its arena's page map;
 *    a free run maps at its first and last page.
 */
#ifndef GOC_ALLOC_ALLOC_H
#define GOC_ALLOC_ALLOC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc.h"
#include "../prim/atomic.h"
#include "../sched/runtime.h"

#define GOC_ALLOC_PAGE_SHIFT 13
#define GOC_ALLOC_PAGE ((size_t)1 << GOC_ALLOC_PAGE_SHIFT) /* 8 KiB, Go's page */
#define GOC_ALLOC_ARENA_SHIFT 26
#define GOC_ALLOC_ARENA ((size_t)1 << GOC_ALLOC_ARENA_SHIFT) /* 64 MiB, Go's arena */
#define GOC_ALLOC_ARENA_PAGES (GOC_ALLOC_ARENA / GOC_ALLOC_PAGE)
#define GOC_ALLOC_MAX_SMALL 32768
#define GOC_ALLOC_NCLASSES 73 /* class 0 is "large"; 1..72 are small */
#define GOC_ALLOC_ALIGN 16    /* alignof(max_align_t) */

/* The allocator's entry points and the functions between them and the
 * heap profiler live in one section, so the profiler can drop their frames
 * from a sampled stack (debug/heapprof.c). */
#define GOC_ALLOC_TEXT __attribute__((section("goc_alloc_text"), noinline))

/* ---- size classes (sizeclass.c) ---- */

extern const uint32_t goc__class_size[GOC_ALLOC_NCLASSES];
extern const uint8_t goc__class_pages[GOC_ALLOC_NCLASSES];
extern const uint8_t goc__class_small_index[65];  /* (n + 15) / 16, n <= 1024 */
extern const uint8_t goc__class_large_index[257]; /* (n + 127) / 128, n <= 32 KiB */

/* The class of a small request n (n <= GOC_ALLOC_MAX_SMALL). */
static inline unsigned goc__size_class(size_t n)
{
	if (n <= 1024)
		return goc__class_small_index[(n + 15) >> 4];
	return goc__class_large_index[(n + 127) >> 7];
}

/* ---- spans and the page heap (pageheap.c) ---- */

enum span_state { SPAN_FREE = 0, SPAN_SMALL = 1, SPAN_LARGE = 2 };

/* The low bit of span.thread_free: the span was let go with no free object
 * and is in no list (objects are 16-aligned, so the bit is free). */
#define SPAN_DETACHED ((uintptr_t)1)

/*
 * A run of pages: free, cut into objects of one class, or one large
 * object. Descriptors live in metadata memory and are recycled, never
 * unmapped, so a racy reader never faults.
 *
 *   base ─► [ obj | obj | obj | ... | fresh ─► never handed out ... ] base + npages * 8 KiB
 */
typedef struct goc__span {
	char *base;
	size_t npages;
	uint8_t state;     /* enum span_state; heap lock to change, read by anyone freeing */
	uint8_t sizeclass; /* small spans */
	bool needzero;     /* free runs: pages may hold old data (not fresh or released) */
	bool released;     /* free runs: pages were given back to the kernel */
	uint32_t elem_size;
	uint32_t nelems;
	/* Small spans, set when the span is cut, read by every free:
	 * limit = nelems * elem_size (offsets at or past it are no object),
	 * divmagic = 2^32 / elem_size rounded up (offset * divmagic >> 32 is
	 * the object's index for every offset below limit: Go's divMagic). */
	uint32_t limit;
	uint32_t divmagic;
	/* Small spans. thread_free: objects freed by non-owners, a stack
	 * pushed with CAS, | SPAN_DETACHED (see the invariants); atomic. */
	uintptr_t thread_free;
	struct goc__mcache *owner; /* atomic relaxed; set by the cache taking it, cleared by it */
	char *fresh;               /* next never-handed-out object; the owner, else central lock */
	void *local_free;          /* unowned span's own free list; central lock */
	uint32_t used;             /* objects out, while unowned; central lock (see central.c) */
	int32_t nsampled; /* heap-profile samples among its objects; atomic, changed under prof lock */
	/* Bit i % 64 is set while an object of index i may be sampled: a
	 * free looks in the profiler's table only when its bit is set. Set
	 * and cleared (when nsampled drops to 0) under the profiler's lock,
	 * read by frees with a relaxed load (a sampled object's bit was set
	 * before malloc returned it, so its free sees it). */
	uint64_t sampled_mask;
	/* Large spans. */
	void *large_ptr;   /* the pointer handed out (aligned allocations lie inside) */
	size_t large_size; /* bytes requested, for the statistics and the profile */
	/* Lists: central's partial and adopted lists, the heap's free runs,
	 * the descriptor free list. The lock of the list it is on. */
	struct goc__span *next, *prev;
	int64_t free_since; /* free runs: when it became free (scavenger) */
} goc__span;

/* The arena map (pageheap.c), here so that free finds a span inline.
 * Arenas are aligned to their size: an address's high bits name its arena
 * in a two-level map; each arena maps its pages to spans. */
#define GOC_ALLOC_L2_BITS 12
#define GOC_ALLOC_L1_BITS (48 - GOC_ALLOC_ARENA_SHIFT - GOC_ALLOC_L2_BITS)
struct goc__arena {
	char *base;
	goc__span *huge;                         /* a huge object's reservation, else NULL */
	goc__span *pages[GOC_ALLOC_ARENA_PAGES]; /* atomic elements; see pageheap.c */
};
extern __attribute__((
	visibility("hidden"))) struct goc__arena **goc__arena_l1[1 << GOC_ALLOC_L1_BITS];

static inline struct goc__arena *goc__arena_of(uintptr_t a)
{
	if (a >> 48)
		return NULL;
	struct goc__arena **l2 =
		goc__load_acquire(&goc__arena_l1[a >> (GOC_ALLOC_ARENA_SHIFT + GOC_ALLOC_L2_BITS)]);
	if (!l2)
		return NULL;
	return goc__load_acquire(
		&l2[(a >> GOC_ALLOC_ARENA_SHIFT) & ((1 << GOC_ALLOC_L2_BITS) - 1)]);
}

/* The span holding p, or NULL if p is in no arena of this heap. Lock-free;
 * a pointer the caller legitimately holds maps to its span. */
static inline goc__span *goc__span_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct goc__arena *ar = goc__arena_of(a);
	if (!ar)
		return NULL;
	if (ar->huge)
		return ar->huge;
	return goc__load_relaxed(&ar->pages[(a - (uintptr_t)ar->base) >> GOC_ALLOC_PAGE_SHIFT]);
}
/* A span of npages pages for state (SPAN_SMALL or SPAN_LARGE), pages
 * zeroed if zero is set; NULL when the kernel refuses. */
goc__span *goc__heap_alloc(size_t npages, int state, bool zero);
/* Gives a span's pages back to the heap. */
void goc__heap_free(goc__span *s);
/* Like the two above without blocking: NULL/false if the heap lock is
 * busy (reentrant calls from signal handlers). */
goc__span *goc__heap_try_alloc(size_t npages, int state, bool zero);
bool goc__heap_try_free(goc__span *s);
/* Metadata memory: never freed, zeroed; NULL if the kernel refuses. */
void *goc__meta_alloc(size_t size);

/* Page heap statistics, bytes, read under the heap lock. */
typedef struct goc__heap_stats {
	uint64_t sys;      /* arenas reserved */
	uint64_t inuse;    /* in spans of objects */
	uint64_t idle;     /* in free runs (released included) */
	uint64_t released; /* given back to the kernel */
	uint64_t meta;     /* descriptors and caches */
} goc__heap_stats;
void goc__heap_stats_read(goc__heap_stats *st);
/* Releases free runs idle since before `older_than` (any when INT64_MAX),
 * until `want` bytes are released (SIZE_MAX: no bound). Returns bytes
 * released. */
size_t goc__heap_scavenge(int64_t older_than, size_t want);
/* fork: take every heap lock before, release after (both sides). */
void goc__heap_fork_prepare(void);
void goc__heap_fork_after(void);

/* ---- central lists (central.c) ---- */

/* A span of class cls with at least one free object, owned by c, its
 * free objects moved to *freelist; NULL when out of memory. */
goc__span *goc__central_take(unsigned cls, struct goc__mcache *c, void **freelist);
/* c lets go of s, whose free objects are the list freelist (possibly
 * empty). */
void goc__central_release(goc__span *s, void *freelist);
/* One object of class cls without any cache (reentrant calls, threads
 * after their cache was torn down). try: never block. */
void *goc__central_alloc_one(unsigned cls, bool try);
/* A free by someone other than s's owner. Lock-free. */
void goc__central_remote_free(goc__span *s, void *p);
/* Returns central spans with no object in use to the heap (scavenger). */
void goc__central_reclaim(void);
void goc__central_fork_prepare(void);
void goc__central_fork_after(void);

/* ---- caches (mcache.c) ---- */

typedef struct goc__mcache_class {
	void *free;       /* objects of span ready to hand out */
	goc__span *span;  /* the span it allocates from, or NULL */
	uint64_t nmalloc; /* objects handed out; owner stores, readers load (relaxed) */
	uint64_t nfree;   /* objects freed through this cache */
} goc__mcache_class;

typedef struct goc__mcache {
	goc__mcache_class cls[GOC_ALLOC_NCLASSES];
	/* Bytes until the next heap-profile sample; owner, relaxed atomics
	 * (goc_set_mem_profile_rate zeroes it from outside). */
	int64_t sample_left;
	/* Set while the owner is inside the allocator: a signal handler's
	 * malloc on the same thread must not touch the cache (it goes
	 * around it). Owner only, with signal fences. */
	uint32_t busy;
	bool thread_cache;             /* a plain thread's, not a P's */
	struct goc__mcache *all_next;  /* every cache ever made; set once, then read-only */
	struct goc__mcache *dead_next; /* free thread caches; caches lock */
} goc__mcache;

/* The cache the caller must use now, or NULL (a thread whose cache was
 * torn down, or no memory for one). The one way to reach a per-P cache:
 * the rule for code holding a P's cache across anything that can make the
 * goroutine lose its P lives here (see mcache.c). */
goc__mcache *goc__mcache_self(void);
/* The list of every cache (statistics, the profiler's rate change). */
goc__mcache *goc__mcache_all(void);
/* Small allocation and free through the caller's cache: the slow paths
 * behind the inline ones below (refills, samples, caches to make, busy
 * caches, frees into spans the cache does not own). The object's
 * double-free mark is already checked and set when goc__small_free runs. */
void *goc__small_alloc(size_t n, unsigned cls);
/* c: the caller's cache as goc__mcache_fast found it (NULL: none yet). */
void goc__small_free(goc__span *s, void *p, goc__mcache *c);

/* The per-P caches and the calling thread's own (mcache.c), here for the
 * inline fast paths. */
extern __attribute__((visibility("hidden"))) goc__mcache *goc__p_caches[GOC_MAX_PROCS];
extern __thread __attribute__((visibility("hidden"), tls_model("initial-exec")))
goc__mcache *goc__tls_cache;

/* goc__mcache_self without making a cache: NULL when the caller has none
 * yet (the slow path makes it). Same rule: m->p read once, per call. */
static inline goc__mcache *goc__mcache_fast(void)
{
	goc__m *m = goc__m_self();
	goc__p *p = m ? m->p : NULL;
	if (p)
		return goc__load_acquire(&goc__p_caches[p->id]);
	return goc__tls_cache;
}

/* busy: see mcache.c. A signal handler on the same thread finds it set
 * and goes around the cache. */
static inline void goc__mcache_busy_enter(goc__mcache *c)
{
	goc__store_relaxed(&c->busy, 1);
	goc__signal_fence_seqcst();
}

static inline void goc__mcache_busy_leave(goc__mcache *c)
{
	goc__signal_fence_seqcst();
	goc__store_release(&c->busy, 0);
}

/* The double-free mark: a freed small object's second word holds this
 * value, which no allocation leaves there (malloc clears the word). */
static inline uintptr_t goc__free_mark(const void *p)
{
	return (uintptr_t)p ^ (uintptr_t)0x9e3779b97f4a7c15ull;
}

/* Pops an object of class cls from c's list: NULL when the list is
 * empty, the cache busy or a heap-profile sample due (the slow path,
 * goc__small_alloc, does those). Plain loads and stores: only c's holder
 * runs this. */
static inline void *goc__mcache_pop(goc__mcache *c, unsigned cls)
{
	if (__builtin_expect(goc__load_relaxed(&c->busy) != 0, 0))
		return NULL;
	goc__mcache_busy_enter(c);
	goc__mcache_class *k = &c->cls[cls];
	void *p = k->free;
	int64_t left = goc__load_relaxed(&c->sample_left) - goc__class_size[cls];
	if (__builtin_expect(p && left >= 0, 1)) {
		k->free = *(void **)p;
		((uintptr_t *)p)[1] = 0;
		goc__store_relaxed(&k->nmalloc, goc__load_relaxed(&k->nmalloc) + 1);
		goc__store_relaxed(&c->sample_left, left);
	} else {
		p = NULL;
	}
	goc__mcache_busy_leave(c);
	return p;
}

/* Pushes p, an object of s whose mark is set, onto c's list if c owns s
 * and is not busy; false otherwise (goc__small_free). */
static inline bool goc__mcache_push(goc__mcache *c, goc__span *s, void *p)
{
	if (__builtin_expect(goc__load_relaxed(&s->owner) != c || goc__load_relaxed(&c->busy), 0))
		return false;
	goc__mcache_busy_enter(c);
	goc__mcache_class *k = &c->cls[s->sizeclass];
	*(void **)p = k->free;
	k->free = p;
	goc__store_relaxed(&k->nfree, goc__load_relaxed(&k->nfree) + 1);
	goc__mcache_busy_leave(c);
	return true;
}
/* Allocations and frees of class cls that went around every cache. */
void goc__mcache_uncached_counts(unsigned cls, uint64_t *mallocs, uint64_t *frees);
/* Every cache takes a new sample countdown at its next allocation. */
void goc__mcache_resample_all(void);
/* fork: the caches' lock, before and after (both sides). */
void goc__mcache_fork_prepare(void);
void goc__mcache_fork_after(void);

/* ---- large objects (large.c) ---- */

void *goc__large_alloc(size_t n, size_t align, bool zero);
void goc__large_free(goc__span *s, void *p);
/* Large objects: mallocs, their bytes, frees, their bytes (atomic). */
extern uint64_t goc__large_counts[4];

/* ---- misuse (malloc.c) ---- */

_Noreturn void goc__alloc_misuse(const char *what, const void *p);

/* ---- the heap profile (debug/heapprof.c) ---- */

/* Mean bytes between samples (Go's MemProfileRate); 0: off. */
extern __attribute__((visibility("hidden"))) int64_t goc__memprof_rate;
/* The next countdown for a cache: exponential with the rate as mean. */
int64_t goc__memprof_next_sample(void);
/* Records a sampled allocation of size bytes at p (usable bytes, as Go
 * counts the rounded size) with the caller's stack, and counts it in its
 * span's nsampled. */
void goc__memprof_alloc(void *p, size_t size);
/* The free of an object of s, a span with sampled objects: records it if
 * p was sampled. */
void goc__memprof_free(void *p, goc__span *s);
void goc__memprof_fork_prepare(void);
void goc__memprof_fork_after(void);

/* ---- the scavenger (scavenge.c) ---- */

/* sysmon, about every second. */
void goc__alloc_scavenge_tick(int64_t now);
/* GOCMEMLIMIT in bytes, INT64_MAX when unset. */
int64_t goc__alloc_memlimit(void);
/* The heap grew: if over the limit, scavenge now. Heap lock not held. */
void goc__alloc_limit_check(void);
/* The scavenger's pass, when due, for programs whose sysmon does not run
 * (no lock held). */
void goc__alloc_scavenge_maybe(void);

#endif
