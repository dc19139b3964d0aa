/*
 * pool.c — goc_pool, Go's sync.Pool: per-P caches of free objects, a
 * locked shared list, and a victim cache that releases idle objects over
 * two trim cycles.
 *
 * A pool's state, made on first use and registered for trimming:
 *
 *   pool_state                       pool_local (one per P, on its own cache lines)
 *   +----------------------+        +-------------------------------------------+
 *   | lock                 |        | private | head_tail | hits | puts         |  line 0
 *   | shared   (locked)    |  --->  +-------------------------------------------+
 *   | victim   (locked)    |        | ring[0 .. LOCAL_RING-1]                   |  lines 1..
 *   | counters (atomic)    |        +-------------------------------------------+
 *   | locals[GOC_MAX_PROCS]|
 *   +----------------------+
 *
 * Where an object can be, and who moves it:
 *  - a P's `private` slot: put by the P's owner, taken by its owner or by a
 *    trim (atomic exchange);
 *  - a P's `ring`, a bounded deque: pushed and popped at the head by the
 *    owner, popped at the tail by anyone (other Ps stealing, plain threads,
 *    trims);
 *  - `shared`: puts from plain threads and puts that found their ring
 *    full; anyone takes, under `lock`;
 *  - `victim`: everything that was in the three above at the last trim;
 *    gets take from it under `lock`; the next trim drops what is left.
 *
 * "The owner" is the M holding the P. goc does not preempt: a goroutine
 * leaves its P (and its M) only at a scheduling point — a park, a yield,
 * its end — and get and put make none between reading m->p and their last
 * touch of that P's local (new_fn and drop_fn run after it). So the owner
 * side of a local is used by one thread at a time, and a P changing hands
 * between Ms goes through sched.lock, which orders the two owners.
 *
 * Invariants:
 *  - Only the owner stores a non-NULL value into `private`; everyone else
 *    only exchanges it with NULL.
 *  - ring: head - tail is the number of objects, at most LOCAL_RING; the
 *    slots from tail to head-1 (mod LOCAL_RING) hold them. Only the owner
 *    changes head; tail changes by CAS of the whole head_tail word, so a
 *    thief and the owner popping the last object cannot both win. A slot
 *    a thief has claimed (tail moved past it) stays non-NULL until the
 *    thief has read it and cleared it; the owner never reuses a non-NULL
 *    slot.
 *  - Lock order: registry_lock, then a pool's lock. drop_fn and new_fn run
 *    with neither held (drop_fn: with registry_lock held, so a pool cannot
 *    be destroyed under a trim; see goc_pool_destroy).
 *
 * Why a bounded ring and not Go's chain of doubling deques: a chain frees
 * a drained segment while a thief may still be reading it, which Go leaves
 * to its garbage collector. Without one, a fixed ring per P plus a locked
 * overflow list needs no memory reclamation scheme, and a P's ring only
 * overflows in bursts of more than LOCAL_RING puts without gets.
 *
 * Why `private` costs an atomic exchange on get (Go's is a plain load and
 * store): Go trims at garbage collection, with the world stopped; goc's
 * trim runs on the monitor thread while owners run, so taking an object
 * must be one indivisible step. Put stays a plain store (the first
 * invariant above).
 */
#include <stdlib.h>
#include <string.h>

#include "syncint.h"

#define CACHE_LINE 64
#define LOCAL_RING 128 /* a power of two: indices are taken mod LOCAL_RING */

struct pool_local {
	void *private;      /* atomic; see the invariants */
	uint64_t head_tail; /* atomic: head << 32 | tail, both counting up and wrapping */
	int64_t hits;       /* gets served here; written by the owner only (relaxed) */
	int64_t puts;       /* puts made here; written by the owner only (relaxed) */
	void *ring[LOCAL_RING] __attribute__((aligned(CACHE_LINE))); /* atomic elements */
} __attribute__((aligned(CACHE_LINE)));

/* A growable array of objects; its owner's lock protects it. */
struct obj_vec {
	void **items;
	size_t n, cap;
};

struct pool_state {
	goc__lock lock; /* protects shared and victim */
	struct obj_vec shared;
	struct obj_vec victim;
	/* Counters of the slow paths; atomic. */
	int64_t puts_shared, hits_stolen, hits_victim, misses, dropped, trims;
	goc_pool *pool;
	goc__list_node link; /* in registry; registry_lock */
	uint32_t nlocals;    /* atomic: one past the highest P id with a local */
	struct pool_local *locals[GOC_MAX_PROCS]; /* atomic: made on the P's first use */
};

/* Every pool in use, for goc_pool_trim_all; registry_lock. */
static goc__lock registry_lock = GOC_LOCK_INIT;
static goc__list registry; /* of pool_state.link */

/* ---- a P's ring ---- */

static uint64_t pack(uint32_t head, uint32_t tail)
{
	return (uint64_t)head << 32 | tail;
}

/* Owner only. False if the ring is full. The tail may be stale (thieves
 * move it); a stale tail only makes the ring look fuller. The release add
 * publishes the slot's contents (and the object's) to a thief that reads
 * head_tail with acquire. */
static bool ring_push_head(struct pool_local *l, void *obj)
{
	uint64_t ht = goc__load_relaxed(&l->head_tail);
	uint32_t head = (uint32_t)(ht >> 32), tail = (uint32_t)ht;
	if (head - tail >= LOCAL_RING)
		return false;
	void **slot = &l->ring[head % LOCAL_RING];
	/* A thief that claimed this slot may not have read it yet. */
	if (goc__load_acquire(slot))
		return false;
	goc__store_relaxed(slot, obj);
	goc__add_fetch_release(&l->head_tail, (uint64_t)1 << 32);
	return true;
}

/* Owner only: the most recently pushed object, or NULL. The CAS settles a
 * race with a thief for the last object; the slot was written by this
 * thread (or a previous owner, ordered by the P hand-over). */
static void *ring_pop_head(struct pool_local *l)
{
	uint64_t ht = goc__load_relaxed(&l->head_tail);
	for (;;) {
		uint32_t head = (uint32_t)(ht >> 32), tail = (uint32_t)ht;
		if (head == tail)
			return NULL;
		if (goc__cas_weak_acqrel(&l->head_tail, &ht, pack(head - 1, tail))) {
			void **slot = &l->ring[(head - 1) % LOCAL_RING];
			void *obj = goc__load_relaxed(slot);
			goc__store_relaxed(slot, NULL);
			return obj;
		}
	}
}

/* Anyone: the oldest object, or NULL. Claims the slot by moving the tail
 * with a CAS (acquire: the owner's push of that slot is visible), then
 * reads it and clears it with a release store, which tells the owner the
 * slot may be reused. */
static void *ring_pop_tail(struct pool_local *l)
{
	uint64_t ht = goc__load_acquire(&l->head_tail);
	for (;;) {
		uint32_t head = (uint32_t)(ht >> 32), tail = (uint32_t)ht;
		if (head == tail)
			return NULL;
		if (goc__cas_weak_acqrel(&l->head_tail, &ht, pack(head, tail + 1))) {
			void **slot = &l->ring[tail % LOCAL_RING];
			void *obj = goc__load_relaxed(slot);
			goc__store_release(slot, NULL);
			return obj;
		}
	}
}

/* ---- object arrays ---- */

static bool vec_push(struct obj_vec *v, void *obj)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void **items = realloc(v->items, cap * sizeof *items);
		if (!items)
			return false;
		v->items = items;
		v->cap = cap;
	}
	v->items[v->n++] = obj;
	return true;
}

static void *vec_pop(struct obj_vec *v)
{
	return v->n ? v->items[--v->n] : NULL;
}

/* ---- state ---- */

static void count_owner(int64_t *counter)
{
	goc__store_relaxed(counter, goc__load_relaxed(counter) + 1);
}

static void count(int64_t *counter, int64_t n)
{
	goc__add_fetch_relaxed(counter, n);
}

static void drop(goc_pool *pool, void *obj)
{
	if (pool->drop_fn)
		pool->drop_fn(obj, pool->arg);
	else
		free(obj);
}

static struct pool_state **state_word(goc_pool *pool)
{
	return (struct pool_state **)&pool->state;
}

static struct pool_state *state_make(goc_pool *pool)
{
	goc__lock_acquire(&registry_lock);
	struct pool_state *st = goc__load_acquire(state_word(pool));
	if (!st) {
		st = calloc(1, sizeof *st);
		if (!st)
			goc__panic("goc_pool: out of memory for the pool's state");
		st->pool = pool;
		goc__list_push_front(&registry, &st->link);
		goc__store_release(state_word(pool), st);
	}
	goc__lock_release(&registry_lock);
	return st;
}

/* The acquire load pairs with state_make's release store: a state seen
 * here is fully initialised. */
static struct pool_state *state_of(goc_pool *pool)
{
	struct pool_state *st = goc__load_acquire(state_word(pool));
	return st ? st : state_make(pool);
}

/* p's local, made by its owner on first use (so no two threads make it);
 * published with a release store for thieves and trims. */
static struct pool_local *local_of(struct pool_state *st, goc__p *p)
{
	struct pool_local *l = goc__load_acquire(&st->locals[p->id]);
	if (l)
		return l;
	l = aligned_alloc(CACHE_LINE, sizeof *l);
	if (!l)
		goc__panic("goc_pool: out of memory for a per-P cache");
	memset(l, 0, sizeof *l);
	goc__store_release(&st->locals[p->id], l);
	uint32_t n = goc__load_relaxed(&st->nlocals);
	while (n < (uint32_t)p->id + 1 &&
	       !goc__cas_weak_release(&st->nlocals, &n, (uint32_t)p->id + 1))
		;
	return l;
}

/* The P of the calling goroutine, or NULL on a plain thread (or an M
 * running timers without a P). Valid until the caller's next scheduling
 * point, which get and put do not reach while they use it. */
static goc__p *current_p(void)
{
	goc__m *m = goc__m_self();
	return m ? m->p : NULL;
}

/* ---- get and put ---- */

void goc_pool_init(goc_pool *pool, void *(*new_fn)(void *arg),
		   void (*drop_fn)(void *obj, void *arg), void *arg)
{
	*pool = (goc_pool)GOC_POOL_INIT(new_fn, drop_fn, arg);
}

/* Other Ps' rings (starting after our own, so thieves spread out), then
 * the shared list, then the victim cache, then new_fn. */
static void *get_slow(goc_pool *pool, struct pool_state *st, goc__p *p)
{
	uint32_t n = goc__load_acquire(&st->nlocals);
	uint32_t start = p ? (uint32_t)p->id + 1 : 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = (start + i) % n;
		struct pool_local *l = goc__load_acquire(&st->locals[id]);
		if (!l || (p && id == (uint32_t)p->id))
			continue;
		void *obj = ring_pop_tail(l);
		if (obj) {
			count(&st->hits_stolen, 1);
			return obj;
		}
	}
	goc__lock_acquire(&st->lock);
	int64_t *counter = &st->hits_stolen;
	void *obj = vec_pop(&st->shared);
	if (!obj) {
		counter = &st->hits_victim;
		obj = vec_pop(&st->victim);
	}
	goc__lock_release(&st->lock);
	if (obj) {
		count(counter, 1);
		return obj;
	}
	count(&st->misses, 1);
	return pool->new_fn ? pool->new_fn(pool->arg) : NULL;
}

/* Fast path on a goroutine: the private slot (one atomic exchange), then
 * the head of our own ring (one CAS). Both lock-free and touching only
 * our P's lines, except when a thief or a trim is working on them. */
void *goc_pool_get(goc_pool *pool)
{
	struct pool_state *st = state_of(pool);
	goc__p *p = current_p();
	if (p) {
		struct pool_local *l = local_of(st, p);
		void *obj = goc__xchg_acqrel(&l->private, NULL);
		if (!obj)
			obj = ring_pop_head(l);
		if (obj) {
			count_owner(&l->hits);
			return obj;
		}
	}
	return get_slow(pool, st, p);
}

static void put_shared(goc_pool *pool, struct pool_state *st, void *obj)
{
	goc__lock_acquire(&st->lock);
	bool kept = vec_push(&st->shared, obj);
	goc__lock_release(&st->lock);
	if (!kept) {
		/* No memory to cache it: release it instead. */
		count(&st->dropped, 1);
		drop(pool, obj);
	}
}

/* Fast path on a goroutine: an empty private slot takes it with a plain
 * release store (only the owner fills it), else the ring's head (one
 * atomic add). */
void goc_pool_put(goc_pool *pool, void *obj)
{
	if (!obj)
		return;
	struct pool_state *st = state_of(pool);
	goc__p *p = current_p();
	if (p) {
		struct pool_local *l = local_of(st, p);
		count_owner(&l->puts);
		if (!goc__load_relaxed(&l->private)) {
			goc__store_release(&l->private, obj);
			return;
		}
		if (ring_push_head(l, obj))
			return;
	} else {
		count(&st->puts_shared, 1);
	}
	put_shared(pool, st, obj);
}

/* ---- trimming ---- */

/*
 * One cycle: everything cached becomes the victim cache, and the old
 * victim cache is dropped. Objects move with the same atomic steps a thief
 * uses, so owners keep running meanwhile; an object put during the cycle
 * may stay where it is until the next one. registry_lock held (the pool
 * cannot be destroyed meanwhile); returns the number dropped.
 */
static int64_t trim_cycle(struct pool_state *st)
{
	goc_pool *pool = st->pool;
	goc__lock_acquire(&st->lock);
	struct obj_vec fresh = st->shared;
	st->shared = (struct obj_vec){0};
	goc__lock_release(&st->lock);

	int64_t dropped = 0;
	uint32_t n = goc__load_acquire(&st->nlocals);
	for (uint32_t id = 0; id < n; id++) {
		struct pool_local *l = goc__load_acquire(&st->locals[id]);
		if (!l)
			continue;
		void *obj = goc__xchg_acqrel(&l->private, NULL);
		do {
			if (obj && !vec_push(&fresh, obj)) {
				drop(pool, obj);
				dropped++;
			}
		} while ((obj = ring_pop_tail(l)));
	}

	goc__lock_acquire(&st->lock);
	struct obj_vec old = st->victim;
	st->victim = fresh;
	goc__lock_release(&st->lock);

	for (size_t i = 0; i < old.n; i++)
		drop(pool, old.items[i]);
	free(old.items);
	dropped += (int64_t)old.n;
	count(&st->dropped, dropped);
	count(&st->trims, 1);
	return dropped;
}

int64_t goc_pool_trim(goc_pool *pool)
{
	goc__lock_acquire(&registry_lock);
	struct pool_state *st = goc__load_acquire(state_word(pool));
	int64_t dropped = st ? trim_cycle(st) : 0;
	goc__lock_release(&registry_lock);
	return dropped;
}

int64_t goc_pool_trim_all(void)
{
	int64_t dropped = 0;
	goc__lock_acquire(&registry_lock);
	goc__list_for_each (n, &registry)
		dropped += trim_cycle(goc__list_entry(n, struct pool_state, link));
	goc__lock_release(&registry_lock);
	return dropped;
}

void goc_pool_stats_read(goc_pool *pool, goc_pool_stats *out)
{
	*out = (goc_pool_stats){0};
	struct pool_state *st = goc__load_acquire(state_word(pool));
	if (!st)
		return;
	uint32_t n = goc__load_acquire(&st->nlocals);
	for (uint32_t id = 0; id < n; id++) {
		struct pool_local *l = goc__load_acquire(&st->locals[id]);
		if (!l)
			continue;
		out->hits_local += goc__load_relaxed(&l->hits);
		out->puts += goc__load_relaxed(&l->puts);
	}
	out->puts += goc__load_relaxed(&st->puts_shared);
	out->hits_stolen = goc__load_relaxed(&st->hits_stolen);
	out->hits_victim = goc__load_relaxed(&st->hits_victim);
	out->misses = goc__load_relaxed(&st->misses);
	out->dropped = goc__load_relaxed(&st->dropped);
	out->trims = goc__load_relaxed(&st->trims);
}

/* Two trim cycles empty every cache (the first moves everything into the
 * victim cache, the second drops it); then the state goes. */
void goc_pool_destroy(goc_pool *pool)
{
	goc__lock_acquire(&registry_lock);
	struct pool_state *st = goc__load_acquire(state_word(pool));
	if (!st) {
		goc__lock_release(&registry_lock);
		return;
	}
	trim_cycle(st);
	trim_cycle(st);
	goc__list_remove(&registry, &st->link);
	goc__store_release(state_word(pool), NULL);
	goc__lock_release(&registry_lock);
	for (uint32_t id = 0; id < st->nlocals; id++)
		free(st->locals[id]);
	free(st->victim.items);
	free(st->shared.items);
	free(st);
}
