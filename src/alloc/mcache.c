/*
 * mcache.c — the caches the fast paths allocate from (Go's mcache): one per
 * P, used by whichever M holds the P, and one per plain thread (or M
 * running without a P), made on its first allocation and handed back to
 * the central lists when the thread exits.
 *
 * A cache holds, per size class, one span it owns and a list of that
 * span's free objects. Allocating pops the list; freeing an object of a
 * span the cache owns pushes it back; both are plain loads and stores,
 * because only the cache's holder touches it. Those two are inline in
 * goc_malloc and goc_free (alloc.h: goc__mcache_pop, goc__mcache_push);
 * this file has everything behind them. Freeing any other object
 * pushes it onto its span's thread_free with one CAS (central.c), and
 * never takes a lock. When the list is empty the cache takes the frees
 * others made into its span (one exchange), then carves objects from the
 * span's never-used tail, and only then trades the span for another from
 * central.
 *
 * Who may use a P's cache: the M holding the P, reached only through
 * goc__mcache_self(), which reads m->p at each call (never a cache kept
 * across a call that can block or switch goroutines). The holder sets
 * cache.busy for the length of each operation. A signal handler that
 * allocates on the same thread finds busy set and goes around the cache
 * (central.c's goc__central_alloc_one, without blocking), so a handler
 * interrupting malloc cannot corrupt the list. Busy is also what makes a
 * P handed to another M while its previous M was stuck in the kernel safe
 * (the slow path below can block in mmap): the new holder finds the cache
 * busy and goes around it until the previous M has finished.
 *
 * Invariants:
 *  - cls[c].free holds only free objects of cls[c].span, and the cache is
 *    that span's owner.
 *  - caches.lock protects the list of every cache and the free thread
 *    caches; a cache, once made, is never unmapped (statistics read all).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "../sched/lock.h"
#include "../sched/runtime.h"
#include "../prim/atomic.h"
#include "alloc.h"

#define TLS __attribute__((tls_model("initial-exec")))

enum thread_cache_state { TC_NONE = 0, TC_LIVE = 1, TC_DEAD = 2 };

__thread goc__mcache *goc__tls_cache TLS; /* the thread's own; NULL until made */
static __thread uint8_t tls_state TLS;

goc__mcache *goc__p_caches[GOC_MAX_PROCS]; /* atomic; made by the P's holder */

static struct {
	goc__lock lock;
	goc__mcache *all;  /* atomic head; every cache */
	goc__mcache *dead; /* thread caches of exited threads, for reuse */
	pthread_key_t key;
	bool key_made;
} caches;

goc__mcache *goc__mcache_all(void)
{
	return goc__load_acquire(&caches.all);
}

static goc__mcache *cache_make(bool thread_cache)
{
	goc__lock_acquire(&caches.lock);
	goc__mcache *c = caches.dead;
	if (c && thread_cache) {
		caches.dead = c->dead_next;
		goc__lock_release(&caches.lock);
		return c;
	}
	c = goc__meta_alloc(sizeof *c);
	if (c) {
		c->thread_cache = thread_cache;
		c->sample_left = goc__memprof_next_sample();
		c->all_next = caches.all;
		goc__store_release(&caches.all, c);
	}
	goc__lock_release(&caches.lock);
	return c;
}

/* Hands every span of c back to central (thread exit). */
static void cache_flush(goc__mcache *c)
{
	for (unsigned cls = 1; cls < GOC_ALLOC_NCLASSES; cls++) {
		goc__mcache_class *k = &c->cls[cls];
		if (!k->span)
			continue;
		goc__central_release(k->span, k->free);
		k->span = NULL;
		k->free = NULL;
	}
}

static void thread_cache_exit(void *arg)
{
	goc__mcache *c = arg;
	goc__tls_cache = NULL;
	tls_state = TC_DEAD;
	cache_flush(c);
	goc__lock_acquire(&caches.lock);
	c->dead_next = caches.dead;
	caches.dead = c;
	goc__lock_release(&caches.lock);
}

__attribute__((noinline)) static goc__mcache *thread_cache_make(void)
{
	if (tls_state == TC_DEAD)
		return NULL;
	goc__mcache *c = cache_make(true);
	if (!c)
		return NULL;
	goc__tls_cache = c;
	tls_state = TC_LIVE;
	/* The key is made here, not at start-up: this may be the first
	 * malloc of the process (libgoc-malloc.so), before any constructor.
	 * pthread_key_create and a key below PTHREAD_KEYS' first block do
	 * not allocate; a nested allocation would find goc__tls_cache set. */
	goc__lock_acquire(&caches.lock);
	if (!caches.key_made)
		caches.key_made = pthread_key_create(&caches.key, thread_cache_exit) == 0;
	bool have_key = caches.key_made;
	goc__lock_release(&caches.lock);
	if (have_key)
		pthread_setspecific(caches.key, c);
	return c;
}

__attribute__((noinline)) static goc__mcache *p_cache_make(int32_t id)
{
	goc__lock_acquire(&caches.lock);
	goc__mcache *c = goc__p_caches[id];
	goc__lock_release(&caches.lock);
	if (c)
		return c;
	c = cache_make(false);
	if (!c)
		return NULL;
	goc__lock_acquire(&caches.lock);
	if (goc__p_caches[id]) {
		/* Another M made it first (the P changed hands meanwhile):
		 * keep ours as a spare thread cache. */
		c->thread_cache = true;
		c->dead_next = caches.dead;
		caches.dead = c;
		c = goc__p_caches[id];
	} else {
		goc__store_release(&goc__p_caches[id], c);
	}
	goc__lock_release(&caches.lock);
	return c;
}

goc__mcache *goc__mcache_self(void)
{
	goc__m *m = goc__m_self();
	goc__p *p = m ? m->p : NULL;
	if (p) {
		goc__mcache *c = goc__load_acquire(&goc__p_caches[p->id]);
		return __builtin_expect(c != NULL, 1) ? c : p_cache_make(p->id);
	}
	goc__mcache *c = goc__tls_cache;
	return __builtin_expect(c != NULL, 1) ? c : thread_cache_make();
}

static bool busy(goc__mcache *c)
{
	return goc__load_acquire(&c->busy) != 0;
}

static void counter_inc(uint64_t *v)
{
	goc__store_relaxed(v, goc__load_relaxed(v) + 1);
}

/* Objects not counted by any cache: allocations and frees that went
 * around one (atomic). */
static uint64_t uncached_mallocs[GOC_ALLOC_NCLASSES], uncached_frees[GOC_ALLOC_NCLASSES];

void goc__mcache_uncached_counts(unsigned cls, uint64_t *mallocs, uint64_t *frees)
{
	*mallocs = goc__load_relaxed(&uncached_mallocs[cls]);
	*frees = goc__load_relaxed(&uncached_frees[cls]);
}

/* The cache's span for cls ran out of listed objects: its remote frees,
 * its fresh tail, or another span. Returns an object, the list holding
 * the rest. */
GOC_ALLOC_TEXT static void *refill(goc__mcache *c, unsigned cls)
{
	goc__mcache_class *k = &c->cls[cls];
	goc__span *s = k->span;
	if (s) {
		uintptr_t remote = goc__load_relaxed(&s->thread_free);
		if (remote) {
			void *list = (void *)goc__xchg_acquire(&s->thread_free, 0);
			k->free = *(void **)list;
			return list;
		}
		char *end = s->base + (size_t)s->nelems * s->elem_size;
		if (s->fresh < end) {
			/* Carve up to a page's worth at a time: the rest stays
			 * untouched (uncommitted) until needed. */
			char *p = s->fresh;
			size_t n = GOC_ALLOC_PAGE / s->elem_size;
			if (n == 0)
				n = 1;
			char *stop = p + n * s->elem_size;
			if (stop > end)
				stop = end;
			void *list = NULL;
			for (char *q = stop - s->elem_size; q > p; q -= s->elem_size) {
				*(void **)q = list;
				list = q;
			}
			s->fresh = stop;
			k->free = list;
			return p;
		}
		k->span = NULL;
		goc__central_release(s, NULL);
	}
	void *list;
	s = goc__central_take(cls, c, &list);
	if (!s)
		return NULL;
	k->span = s;
	if (list) {
		k->free = *(void **)list;
		return list;
	}
	k->free = NULL;
	return refill(c, cls);
}

GOC_ALLOC_TEXT void *goc__small_alloc(size_t n, unsigned cls)
{
	(void)n;
	goc__mcache *c = goc__mcache_self();
	void *p;
	if (__builtin_expect(!c || busy(c), 0)) {
		p = goc__central_alloc_one(cls, c != NULL);
		if (p) {
			((uintptr_t *)p)[1] = 0;
			goc__fetch_add_relaxed(&uncached_mallocs[cls], 1);
		}
		return p;
	}
	goc__mcache_busy_enter(c);
	goc__mcache_class *k = &c->cls[cls];
	p = k->free;
	if (__builtin_expect(p != NULL, 1))
		k->free = *(void **)p;
	else if (!(p = refill(c, cls))) {
		goc__mcache_busy_leave(c);
		return NULL;
	}
	((uintptr_t *)p)[1] = 0;
	counter_inc(&k->nmalloc);
	int64_t left = goc__load_relaxed(&c->sample_left) - goc__class_size[cls];
	goc__store_relaxed(&c->sample_left, left);
	goc__mcache_busy_leave(c);
	if (__builtin_expect(left < 0, 0)) {
		goc__store_relaxed(&c->sample_left, goc__memprof_next_sample());
		if (goc__load_relaxed(&goc__memprof_rate) > 0)
			goc__memprof_alloc(p, goc__class_size[cls]);
	}
	return p;
}

void goc__small_free(goc__span *s, void *p, goc__mcache *c)
{
	unsigned cls = s->sizeclass;
	if (!c) {
		c = goc__mcache_self();
		if (c && goc__mcache_push(c, s, p))
			return;
	}
	if (__builtin_expect(!c || busy(c), 0)) {
		goc__fetch_add_relaxed(&uncached_frees[cls], 1);
	} else {
		goc__mcache_busy_enter(c);
		counter_inc(&c->cls[cls].nfree);
		goc__mcache_busy_leave(c);
	}
	goc__central_remote_free(s, p);
}

/* goc_set_mem_profile_rate: every cache takes a new countdown at its next
 * allocation. */
void goc__mcache_resample_all(void)
{
	for (goc__mcache *c = goc__mcache_all(); c; c = c->all_next)
		goc__store_relaxed(&c->sample_left, 0);
}

void goc__mcache_fork_prepare(void)
{
	goc__lock_acquire(&caches.lock);
}

void goc__mcache_fork_after(void)
{
	goc__lock_release(&caches.lock);
}
