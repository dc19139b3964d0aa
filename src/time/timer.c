/*
 * timer.c — per-P timer heaps and goc_sleep.
 *
 * Each P owns a heap of pending timers ordered by (when, seq); seq is the
 * insertion order, so timers due at the same instant fire first-in,
 * first-out. A heap has its own lock because other Ms run its due timers
 * when they are idle or its P is busy, and stop/reset may come from any
 * thread. `earliest` mirrors the root's deadline (0 when empty) so the
 * scheduler can test "anything due?" with one load and no lock.
 *
 * A timer's `heap` field says which heap holds it (NULL: not pending); it
 * changes only under that heap's lock, so goc__rtimer_del re-checks it after
 * locking. A timer is popped before its callback runs, and the callback
 * runs with no lock held: a stop racing with a firing timer finds it gone
 * and reports that it did not stop it.
 *
 * goc_sleep parks the goroutine with its timer, which lives on the
 * goroutine's own stack, while holding the heap lock: the timer cannot fire
 * before the goroutine is off its stack.
 */
#include <stdlib.h>

#include "../debug/trace.h"
#include "../sched/runtime.h"

#define ARITY 4

/* A heap entry carries the sort key, so sifting compares entries without
 * touching the timers themselves (they live on goroutine stacks, each on a
 * page of its own: a miss apiece). */
struct heap_entry {
	int64_t when;
	uint64_t seq;
	goc__rtimer *t;
};

struct timer_heap {
	goc__lock lock;
	struct heap_entry *items;
	size_t n, cap;
	int64_t earliest; /* atomic */
	uint64_t seq;
};

struct timer_heap *goc__rtimer_heap_new(void)
{
	struct timer_heap *h = calloc(1, sizeof *h);
	if (!h)
		goc__fatal("out of memory allocating a timer heap");
	return h;
}

static bool before(const struct heap_entry *a, const struct heap_entry *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(struct timer_heap *h, size_t i, struct heap_entry e)
{
	h->items[i] = e;
	e.t->index = i;
}

static void sift_up(struct timer_heap *h, size_t i)
{
	struct heap_entry e = h->items[i];
	while (i > 0) {
		size_t parent = (i - 1) / ARITY;
		if (!before(&e, &h->items[parent]))
			break;
		place(h, i, h->items[parent]);
		i = parent;
	}
	place(h, i, e);
}

static void sift_down(struct timer_heap *h, size_t i)
{
	struct heap_entry e = h->items[i];
	for (;;) {
		size_t first = i * ARITY + 1, best = i;
		const struct heap_entry *best_e = &e;
		for (size_t c = first; c < first + ARITY && c < h->n; c++) {
			if (before(&h->items[c], best_e)) {
				best = c;
				best_e = &h->items[c];
			}
		}
		if (best == i)
			break;
		place(h, i, *best_e);
		i = best;
	}
	place(h, i, e);
}

/* The heap order at i: not before its parent, not after any child. */
static inline bool heap_ordered_at(const struct timer_heap *h, size_t i)
{
	if (i > 0 && before(&h->items[i], &h->items[(i - 1) / ARITY]))
		return false;
	for (size_t c = i * ARITY + 1; c < i * ARITY + 1 + ARITY && c < h->n; c++)
		if (before(&h->items[c], &h->items[i]))
			return false;
	return true;
}

static void update_earliest(struct timer_heap *h)
{
	goc__store_seqcst(&h->earliest, h->n ? h->items[0].when : 0);
}

static void insert_locked(struct timer_heap *h, goc__rtimer *t)
{
	goc__assert_held(&h->lock);
	goc__assert(goc__load_relaxed(&t->heap) == NULL); /* not pending twice */
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct heap_entry *items = realloc(h->items, cap * sizeof *items);
		if (!items)
			goc__fatal("out of memory growing a timer heap to %zu timers", cap);
		h->items = items;
		h->cap = cap;
	}
	t->seq = h->seq++;
	goc__store_release(&t->heap, h);
	h->items[h->n] = (struct heap_entry){.when = t->when, .seq = t->seq, .t = t};
	sift_up(h, h->n++);
	goc__assert(heap_ordered_at(h, t->index));
	update_earliest(h);
}

static void remove_locked(struct timer_heap *h, goc__rtimer *t)
{
	goc__assert_held(&h->lock);
	goc__assert(goc__load_relaxed(&t->heap) == h && t->index < h->n &&
		    h->items[t->index].t == t);
	size_t i = t->index;
	struct heap_entry last = h->items[--h->n];
	if (i != h->n) {
		place(h, i, last);
		sift_down(h, i);
		sift_up(h, last.t->index);
		goc__assert(heap_ordered_at(h, last.t->index));
	}
	goc__store_release(&t->heap, NULL);
	update_earliest(h);
}

bool goc__rtimer_add_locked(goc__p *p, goc__rtimer *t, goc__lock **heap_lock)
{
	struct timer_heap *h = p->timers;
	goc__lock_acquire(&h->lock);
	insert_locked(h, t);
	*heap_lock = &h->lock;
	return h->items[0].t == t;
}

void goc__rtimer_add(goc__p *p, goc__rtimer *t)
{
	goc__lock *lock;
	bool first = goc__rtimer_add_locked(p, t, &lock);
	goc__lock_release(lock);
	if (first)
		goc__sched_timer_armed(t->when);
}

bool goc__rtimer_del(goc__rtimer *t)
{
	for (;;) {
		struct timer_heap *h = goc__load_acquire(&t->heap);
		if (!h)
			return false;
		goc__lock_acquire(&h->lock);
		if (goc__load_relaxed(&t->heap) == h) {
			remove_locked(h, t);
			goc__lock_release(&h->lock);
			return true;
		}
		goc__lock_release(&h->lock);
	}
}

int64_t goc__timers_earliest(struct timer_heap *h)
{
	return goc__load_seqcst(&h->earliest);
}

int64_t goc__timers_run(struct timer_heap *h, int64_t now)
{
	goc__lock_acquire(&h->lock);
	while (h->n && h->items[0].when <= now) {
		goc__rtimer *t = h->items[0].t;
		remove_locked(h, t);
		goc__lock_release(&h->lock);
		if (goc__tracing())
			goc__trace_timer_fire(t, now);
		else
			t->fn(t, now);
		goc__lock_acquire(&h->lock);
	}
	int64_t next = h->n ? h->items[0].when : 0;
	goc__lock_release(&h->lock);
	return next;
}

void goc__timers_move(struct timer_heap *from, goc__p *to)
{
	struct timer_heap *dst = to->timers;
	if (from == dst)
		return;
	goc__lock_acquire(&from->lock);
	goc__lock_acquire(&dst->lock);
	while (from->n) {
		goc__rtimer *t = from->items[0].t;
		remove_locked(from, t);
		insert_locked(dst, t);
	}
	int64_t first = dst->n ? dst->items[0].when : 0;
	goc__lock_release(&dst->lock);
	goc__lock_release(&from->lock);
	if (first)
		goc__sched_timer_armed(first);
}

static void sleep_fire(goc__rtimer *t, int64_t now)
{
	(void)now;
	goc__ready(t->arg);
}

void goc_sleep(int64_t ns)
{
	if (ns <= 0)
		return;
	goc__runtime_init();
	int64_t when = goc__prim_nanotime() + ns;
	goc__m *m = goc__m_self();
	if (!m) {
		/* A plain thread sleeps by itself; goc__g_self registers it, so
		 * while it may still do something goc knows not to report a
		 * deadlock. */
		goc__g_self();
		goc__prim_sleep_until(when);
		return;
	}
	goc__check_may_block(m, "goc_sleep");
	goc__g *g = m->curg;
	goc__rtimer t = {.when = when, .fn = sleep_fire, .arg = g};
	goc__lock *lock;
	if (goc__rtimer_add_locked(m->p, &t, &lock))
		goc__sched_timer_armed(when);
	goc__park(goc__park_unlock_lock, lock, WAIT_SLEEP);
}
