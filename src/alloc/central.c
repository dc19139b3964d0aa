/*
 * central.c — the spans of each size class that no cache owns (Go's
 * mcentral): where a cache gets its next span, where it leaves a span it
 * let go of while objects of it were still free, and where spans come back
 * to life when objects of a detached span are freed.
 *
 * Go's mcentral keeps full and partial spans and learns which objects are
 * free by sweeping after a GC. In C every free is explicit, so a span's
 * free objects are known at once: the owner's local list, or the span's
 * thread_free stack for frees by anyone else (mimalloc's design). What a
 * central list must still solve is a span that has no owner and no free
 * object (detached): the first free into it must make it reachable again.
 * That free finds SPAN_DETACHED in thread_free, replaces it by the object
 * in the same CAS, and pushes the span onto the lock-free `adopted` stack
 * of its class; the next cache needing a span moves adopted spans into
 * `partial` under the lock. So no free ever takes a lock, and the lock is
 * taken only by caches changing spans (once per span's worth of objects)
 * and by the scavenger.
 *
 * Counting: span.used is the number of objects out of an unowned span,
 * objects in its thread_free included (they are subtracted when collected).
 * A cache that lets go of a span sets it (objects carved minus its free
 * list); the scavenger collects thread_free of partial spans and returns
 * spans with none out to the page heap.
 *
 * Invariants:
 *  - central[c].lock protects partial (doubly linked) and every field of an
 *    unowned span there except thread_free; adopted is a stack pushed with
 *    CAS and emptied whole with an exchange (no ABA: nothing pops one).
 *  - A span is on partial only while unowned and not detached.
 */
#include <string.h>

#include "../sched/lock.h"
#include "../prim/atomic.h"
#include "alloc.h"

struct central {
	goc__lock lock;
	goc__span *partial; /* lock */
	goc__span *adopted; /* atomic; see above */
} __attribute__((aligned(64)));

static struct central central[GOC_ALLOC_NCLASSES];

static void partial_push(struct central *k, goc__span *s)
{
	s->prev = NULL;
	s->next = k->partial;
	if (k->partial)
		k->partial->prev = s;
	k->partial = s;
}

static void partial_remove(struct central *k, goc__span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		k->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* Lock held: moves every adopted span to partial. */
static void splice_adopted(struct central *k)
{
	goc__span *s = goc__xchg_acquire(&k->adopted, NULL);
	while (s) {
		goc__span *next = s->next;
		partial_push(k, s);
		s = next;
	}
}

static char *span_end(const goc__span *s)
{
	return s->base + (size_t)s->nelems * s->elem_size;
}

static uint32_t carved(const goc__span *s)
{
	return (uint32_t)((size_t)(s->fresh - s->base) / s->elem_size);
}

/* Takes s's thread_free list; *n counts it when n is set. */
static void *collect(goc__span *s, uint32_t *n)
{
	if (!goc__load_relaxed(&s->thread_free))
		return NULL;
	void *list = (void *)goc__xchg_acquire(&s->thread_free, 0);
	if (n)
		for (void *p = list; p; p = *(void **)p)
			++*n;
	return list;
}

/* Lock held (or the span is new): collects thread_free into local_free. */
static void collect_unowned(goc__span *s)
{
	uint32_t n = 0;
	void *list = collect(s, &n);
	if (!list)
		return;
	void **tail = &list;
	while (*tail)
		tail = (void **)*tail;
	*tail = s->local_free;
	s->local_free = list;
	s->used -= n;
}

static goc__span *span_new(unsigned cls, bool try)
{
	size_t npages = goc__class_pages[cls];
	goc__span *s = try ? goc__heap_try_alloc(npages, SPAN_SMALL, false)
			   : goc__heap_alloc(npages, SPAN_SMALL, false);
	if (!s)
		return NULL;
	s->sizeclass = (uint8_t)cls;
	s->elem_size = goc__class_size[cls];
	s->nelems = (uint32_t)((npages << GOC_ALLOC_PAGE_SHIFT) / s->elem_size);
	s->limit = s->nelems * s->elem_size;
	s->divmagic = 0xFFFFFFFFu / s->elem_size + 1;
	s->sampled_mask = 0;
	s->fresh = s->base;
	s->local_free = NULL;
	s->used = 0;
	goc__store_relaxed(&s->thread_free, 0);
	goc__store_relaxed(&s->nsampled, 0);
	goc__store_relaxed(&s->owner, NULL);
	return s;
}

goc__span *goc__central_take(unsigned cls, goc__mcache *c, void **freelist)
{
	goc__alloc_scavenge_maybe();
	struct central *k = &central[cls];
	goc__lock_acquire(&k->lock);
	splice_adopted(k);
	goc__span *s = k->partial;
	if (s)
		partial_remove(k, s);
	goc__lock_release(&k->lock);
	if (!s) {
		s = span_new(cls, false);
		if (!s)
			return NULL;
	}
	goc__store_relaxed(&s->owner, c);
	void *list = s->local_free;
	s->local_free = NULL;
	void *remote = collect(s, NULL);
	if (remote) {
		void **tail = &remote;
		while (*tail)
			tail = (void **)*tail;
		*tail = list;
		list = remote;
	}
	*freelist = list;
	return s;
}

void goc__central_release(goc__span *s, void *freelist)
{
	struct central *k = &central[s->sizeclass];
	uint32_t nfree = 0;
	for (void *p = freelist; p; p = *(void **)p)
		nfree++;
	s->used = carved(s) - nfree;
	s->local_free = freelist;
	goc__store_relaxed(&s->owner, NULL);
	if (!freelist && s->fresh == span_end(s)) {
		/* Nothing free that we know of: detach, unless a free arrived
		 * meanwhile (then it goes on partial below). The release
		 * orders used and owner before whoever adopts the span. */
		uintptr_t expected = 0;
		if (goc__cas_release(&s->thread_free, &expected, SPAN_DETACHED))
			return;
	}
	goc__lock_acquire(&k->lock);
	partial_push(k, s);
	goc__lock_release(&k->lock);
}

void goc__central_remote_free(goc__span *s, void *p)
{
	uintptr_t old = goc__load_relaxed(&s->thread_free);
	do
		*(uintptr_t *)p = old & ~SPAN_DETACHED;
	while (!goc__cas_weak_acqrel(&s->thread_free, &old, (uintptr_t)p));
	if (!(old & SPAN_DETACHED))
		return;
	/* This free revived a detached span: make it reachable. */
	struct central *k = &central[s->sizeclass];
	goc__span *head = goc__load_relaxed(&k->adopted);
	do
		s->next = head;
	while (!goc__cas_weak_release(&k->adopted, &head, s));
}

void *goc__central_alloc_one(unsigned cls, bool try)
{
	struct central *k = &central[cls];
	if (try) {
		if (!goc__lock_try_word(&k->lock.word))
			return NULL;
	} else {
		goc__lock_acquire(&k->lock);
	}
	splice_adopted(k);
	goc__span *s = k->partial;
	if (!s) {
		s = span_new(cls, try);
		if (!s) {
			goc__lock_release(&k->lock);
			return NULL;
		}
		partial_push(k, s);
	}
	collect_unowned(s);
	void *p = s->local_free;
	if (p) {
		s->local_free = *(void **)p;
	} else {
		p = s->fresh;
		s->fresh += s->elem_size;
	}
	s->used++;
	if (!s->local_free && s->fresh == span_end(s)) {
		partial_remove(k, s);
		uintptr_t expected = 0;
		if (!goc__cas_release(&s->thread_free, &expected, SPAN_DETACHED))
			partial_push(k, s);
	}
	goc__lock_release(&k->lock);
	return p;
}

void goc__central_reclaim(void)
{
	for (unsigned cls = 1; cls < GOC_ALLOC_NCLASSES; cls++) {
		struct central *k = &central[cls];
		goc__lock_acquire(&k->lock);
		splice_adopted(k);
		goc__span *next;
		for (goc__span *s = k->partial; s; s = next) {
			next = s->next;
			collect_unowned(s);
			if (s->used == 0) {
				partial_remove(k, s);
				goc__heap_free(s);
			}
		}
		goc__lock_release(&k->lock);
	}
}

void goc__central_fork_prepare(void)
{
	for (unsigned cls = 1; cls < GOC_ALLOC_NCLASSES; cls++)
		goc__lock_acquire(&central[cls].lock);
}

void goc__central_fork_after(void)
{
	for (unsigned cls = 1; cls < GOC_ALLOC_NCLASSES; cls++)
		goc__lock_release(&central[cls].lock);
}
