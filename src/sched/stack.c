/*
 * stack.c — goroutine stacks: slots carved from large reservations, pooled
 * per P, guarded against overflow, given back to the kernel when idle.
 *
 * A slot is a power-of-two range of address space (16 KiB .. 1 GiB; size
 * class k is 16 KiB << k). A small header (struct goc__slot) and a canary
 * word live at the top, the stack grows down from just below them; only the
 * pages a goroutine touches are ever committed. A goroutine holds a slot
 * from its first run to its end (goc__stack_attach / goc__stack_detach).
 *
 * Overflow protection and the kernel's mapping budget. Every guard page
 * splits a mapping, and the kernel caps a process at vm.max_map_count
 * mappings (65530 by default), which is what stops guard-per-coroutine C
 * libraries near 32,700 live coroutines. goc spends at most half of the
 * budget left after a reserve for the program on guarded slots:
 *
 *   guarded chunk:  [G|stack 0][G|stack 1]...   G = PROT_NONE guard page
 *   canary chunk:   [G][stack 0][stack 1]...    one guard for the chunk
 *
 * Beyond the budget slots are unguarded: an overflow runs into the top of
 * the slot below, where a canary word sits (the last 8 bytes of every slot).
 * It is checked each time the goroutine above switches out, so an overflow
 * there is reported as soon as the goroutine next blocks or yields, instead
 * of at the faulting instruction. A canary reads 0 when the slot below has
 * been given back to the kernel (released pages read as zero); that is
 * accepted, which makes detection best-effort for those slots. Slots in a
 * new chunk are handed out in address order, so the slot below a slot in use
 * always carries a canary or is released.
 *
 * Pools. Each P keeps up to P_GFREE_MAX free slots of the default class, in
 * LIFO order so the next goroutine starts on the stack the last one left
 * warm in the cache; beyond that half move to the class's global pool (one
 * lock per class). Pools are arrays of pointers, not lists threaded through
 * the slots, so moving slots between them touches no slot memory.
 * The scavenger (sysmon, once a second) releases the pages of free slots that
 * stayed unused for a whole period; their address range stays reserved and
 * is reused first, so the number of mappings never grows back.
 *
 * Compaction. A goroutine started with goc_go_options.compact_stack (or
 * every goroutine, with GOCDEBUG=stackcompactall=1) promises that nobody
 * touches its stack while it waits in a channel operation or a select
 * without a timer. When such a goroutine parks while more than
 * GOCDEBUG=stackcompact=N goroutines exist (default 10000; -1: never),
 * the M that switched away from it copies the used part of its slot, from
 * its saved sp to the slot's top (frames, slot header, canary: a few
 * hundred bytes), into a malloc'd buffer, and points the channel records
 * whose elem lies in that range at the copy, all before the park's unlock
 * step releases the channel locks, so a waker writes a received value into
 * (or reads a sent one from) the copy. After the unlock step the slot goes
 * on the M's release batch; when the batch is full one madvise per run of
 * adjacent slots gives the pages back. Whoever switches to the goroutine
 * next copies the bytes back to the same addresses first (the touch faults
 * fresh pages in) and frees the buffer. g->compact_state orders the two:
 *
 *   NONE -> COPIED (compacted, unlock step not yet run)
 *        -> SAVED (on a batch: may be released)
 *        -> RELEASING (a flusher claimed it; its madvise is under way)
 *        -> RELEASED
 *   COPIED, SAVED, RELEASED -> NONE: restored; RELEASING: the restorer
 *   waits for the flusher's RELEASED.
 *
 * The state carries a generation number (a global counter) above its low
 * three bits, so a stale batch entry or a late "done" never moves the
 * state of a later compaction of the same descriptor.
 *
 * Invariants:
 *  - A slot is free (on a P cache, a class free list, or the released list)
 *    or owned by exactly one goroutine.
 *  - The chunk table only grows; entries are published with a release store
 *    of nchunks, so the signal handler can read it without locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../debug/debug.h"
#include "../prim/env.h"
#include "runtime.h"
#include "sanitizer.h"

#ifdef GOC_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define CLASS_MIN_SHIFT 14 /* 16 KiB */
#define NCLASSES 17        /* 16 KiB .. 1 GiB */
#define P_CACHE_MOVE (P_GFREE_MAX / 2)
#define GUARDED_CHUNK_BYTES ((size_t)4 << 20)
#define GUARDED_CHUNK_MAX_SLOTS 64
#define CANARY_CHUNK_BYTES ((size_t)64 << 20)
#define CANARY_CHUNK_MAX_SLOTS 1024
#define CANARY 0xDEADC0DE60C57ACCull
#define MAP_RESERVE_FOR_PROGRAM 16384
#define ALTSTACK_SIZE (64 * 1024)

#define SLOT_MAGIC 0x60C5107060C51070ull
/* Bytes at the top of a slot: the goc__slot, then the canary word above it. */
#define SLOT_AREA (((sizeof(struct goc__slot) + 8) + 15) & ~(size_t)15)

struct chunk {
	char *base; /* first slot (after the chunk guard, if any) */
	size_t slot_size;
	uint32_t nslots;
	uint32_t used;     /* slots carved so far; atomic */
	bool guarded;      /* each slot has its own guard page */
	char *chunk_guard; /* canary chunks: the guard page below base */
};

/* Chunk table: CHUNK_DIR pages of CHUNK_PAGE entries, filled in order. */
#define CHUNK_PAGE 1024
#define CHUNK_DIR 4096
static struct chunk *chunk_dir[CHUNK_DIR];
static size_t nchunks; /* atomic */

struct stack_class {
	goc__lock lock;
	struct goc__slot **free; /* free slots with their header intact; a stack */
	size_t nfree, cap_free;
	size_t low_water; /* least nfree since the last scavenge */
	char **released;  /* slot bases whose pages went back to the kernel */
	size_t nreleased, cap_released;
	struct chunk *carving; /* chunk new slots come from */
};

static struct stack_class classes[NCLASSES];
static size_t default_size;
static int default_class;
static long guarded_budget; /* atomic: slots that may still get a guard page */
static size_t page_size;

size_t goc__stack_default_size(void)
{
	return default_size;
}

int goc__stack_class_of(size_t size, size_t *rounded)
{
	/* A slot must hold a guard page and room for a stack above it, also
	 * with 16 or 64 KiB pages (some aarch64 kernels). */
	if (size < 4 * goc__prim_page_size())
		size = 4 * goc__prim_page_size();
	size_t s = (size_t)1 << CLASS_MIN_SHIFT;
	int k = 0;
	while (s < size && k < NCLASSES - 1) {
		s <<= 1;
		k++;
	}
	if (s < size)
		return -1;
	if (rounded)
		*rounded = s;
	return k;
}

static size_t class_size(int k)
{
	return (size_t)1 << (CLASS_MIN_SHIFT + k);
}

static long long compact_threshold; /* live goroutines above which to compact; -1: never */
bool goc__stack_compact_every;

void goc__stack_module_init(void)
{
	page_size = goc__prim_page_size();
	compact_threshold = goc__gocdebug_long("stackcompact", 10000, -1, INT64_MAX);
	goc__stack_compact_every = goc__gocdebug_long("stackcompactall", 0, 0, 1) != 0;
	long def = goc__env_long("GOCSTACKSIZE", 64 * 1024, 16 * 1024, 1L << 30);
	default_class = goc__stack_class_of((size_t)def, &default_size);
	long budget = (goc__prim_max_map_count() - MAP_RESERVE_FOR_PROGRAM) / 2;
	goc__store_relaxed(&guarded_budget, budget > 0 ? budget : 0);
}

static bool chunk_table_add(struct chunk *c)
{
	size_t n = goc__load_relaxed(&nchunks);
	size_t page = n / CHUNK_PAGE;
	if (page >= CHUNK_DIR)
		return false;
	if (!chunk_dir[page]) {
		struct chunk *entries = goc__prim_reserve(CHUNK_PAGE * sizeof(struct chunk));
		if (!entries)
			return false;
		goc__store_release(&chunk_dir[page], entries);
	}
	chunk_dir[page][n % CHUNK_PAGE] = *c;
	goc__store_release(&nchunks, n + 1);
	return true;
}

static struct chunk *chunk_at(size_t i)
{
	return &chunk_dir[i / CHUNK_PAGE][i % CHUNK_PAGE];
}

/* Serialises appends to the chunk table (chunks of different classes are
 * made under different class locks). */
static goc__lock chunk_table_lock = GOC_LOCK_INIT;

/* Reserves a new chunk for class k; the caller holds that class's lock. */
static struct chunk *chunk_new(int k)
{
	size_t slot = class_size(k);
	long budget = goc__load_relaxed(&guarded_budget);
	struct chunk c = {0};
	size_t nslots;
	c.slot_size = slot;
	c.guarded = budget > 0;
	if (c.guarded) {
		nslots = GUARDED_CHUNK_BYTES / slot;
		if (nslots > GUARDED_CHUNK_MAX_SLOTS)
			nslots = GUARDED_CHUNK_MAX_SLOTS;
		if (nslots > (size_t)budget)
			nslots = (size_t)budget;
	} else {
		nslots = CANARY_CHUNK_BYTES / slot;
		if (nslots > CANARY_CHUNK_MAX_SLOTS)
			nslots = CANARY_CHUNK_MAX_SLOTS;
	}
	if (nslots == 0)
		nslots = 1;
	size_t bytes = nslots * slot + (c.guarded ? 0 : page_size);
	char *mem = goc__prim_reserve(bytes);
	if (!mem)
		return NULL;
	if (c.guarded) {
		for (size_t i = 0; i < nslots; i++) {
			if (!goc__prim_guard(mem + i * slot, page_size)) {
				/* The mapping budget is gone (the program uses more than
				 * we reserved for it): the rest of this chunk and every
				 * later one go without guards. */
				goc__store_relaxed(&guarded_budget, 0);
				nslots = i;
				break;
			}
		}
		goc__fetch_sub_relaxed(&guarded_budget, (long)nslots);
		c.base = mem;
		if (nslots == 0) {
			goc__prim_unreserve(mem, bytes);
			return NULL;
		}
	} else {
		c.chunk_guard = mem;
		goc__prim_guard(mem, page_size);
		c.base = mem + page_size;
	}
	c.nslots = (uint32_t)nslots;
	goc__lock_acquire(&chunk_table_lock);
	bool ok = chunk_table_add(&c);
	struct chunk *entry = ok ? chunk_at(goc__load_relaxed(&nchunks) - 1) : NULL;
	goc__lock_release(&chunk_table_lock);
	if (!ok)
		goc__prim_unreserve(mem, bytes);
	return entry;
}

static struct goc__slot *slot_hdr(char *slot_base, size_t slot_size)
{
	return (struct goc__slot *)(slot_base + slot_size - SLOT_AREA);
}

/* Sets up the header of a slot whose memory is zero (new or released). */
static struct goc__slot *slot_init(char *slot_base, int k, bool guarded, bool check_below)
{
	size_t size = class_size(k);
	struct goc__slot *s = slot_hdr(slot_base, size);
	s->magic = SLOT_MAGIC;
	s->size_class = (uint8_t)k;
	s->guarded = guarded;
	s->check_below = check_below;
	s->stack_lo = slot_base + (guarded ? page_size : 0);
	*(uint64_t *)(slot_base + size - 8) = CANARY;
#ifdef GOC_HAVE_VALGRIND
	s->valgrind_id = VALGRIND_STACK_REGISTER(s->stack_lo, (char *)s);
#endif
	return s;
}

/* Released slots are remembered by base address; bit 0 says guarded, bit 1
 * says the slot below carries a canary to check. */
static struct goc__slot *class_take_released(struct stack_class *c, int k)
{
	if (c->nreleased == 0)
		return NULL;
	uintptr_t v = (uintptr_t)c->released[--c->nreleased];
	return slot_init((char *)(v & ~(uintptr_t)3), k, v & 1, v & 2);
}

static struct goc__slot *class_carve(struct stack_class *c, int k)
{
	struct chunk *ch = c->carving;
	if (!ch || ch->used == ch->nslots) {
		ch = chunk_new(k);
		if (!ch)
			return NULL;
		c->carving = ch;
	}
	uint32_t i = ch->used;
	char *base = ch->base + (size_t)i * ch->slot_size;
	struct goc__slot *s = slot_init(base, k, ch->guarded, !ch->guarded && i > 0);
	goc__store_release(&ch->used, i + 1);
	return s;
}

/* Takes one slot of class k from the global pools; class lock held. */
static struct goc__slot *class_get_locked(struct stack_class *c, int k)
{
	if (c->nfree) {
		struct goc__slot *s = c->free[--c->nfree];
		if (c->nfree < c->low_water)
			c->low_water = c->nfree;
		return s;
	}
	struct goc__slot *s = class_take_released(c, k);
	return s ? s : class_carve(c, k);
}

/* Appends n slots to class k's pool. */
static void class_put(int k, struct goc__slot *const *ss, size_t n)
{
	struct stack_class *c = &classes[k];
	goc__lock_acquire(&c->lock);
	if (c->nfree + n > c->cap_free) {
		size_t cap = c->cap_free ? c->cap_free * 2 : 1024;
		while (cap < c->nfree + n)
			cap *= 2;
		struct goc__slot **grown = realloc(c->free, cap * sizeof *grown);
		if (!grown)
			goc__fatal("out of memory growing a stack pool to %zu slots", cap);
		c->free = grown;
		c->cap_free = cap;
	}
	memcpy(c->free + c->nfree, ss, n * sizeof *ss);
	c->nfree += n;
	goc__lock_release(&c->lock);
}

static struct goc__slot *slot_get(goc__p *p, int k)
{
	struct goc__slot *s;
	if (p && k == default_class) {
		if (p->nsfree == 0) {
			struct stack_class *c = &classes[k];
			goc__lock_acquire(&c->lock);
			while (p->nsfree < P_CACHE_MOVE) {
				struct goc__slot *got = class_get_locked(c, k);
				if (!got)
					break;
				p->sfree[p->nsfree++] = got;
			}
			goc__lock_release(&c->lock);
			if (p->nsfree == 0)
				return NULL;
		}
		s = p->sfree[--p->nsfree];
	} else {
		struct stack_class *c = &classes[k];
		goc__lock_acquire(&c->lock);
		s = class_get_locked(c, k);
		goc__lock_release(&c->lock);
		if (!s)
			return NULL;
	}
	if (s->magic != SLOT_MAGIC)
		goc__fatal("stack slot %p corrupted (a stack overflow of the goroutine above it?)",
			   (void *)s);
	return s;
}

bool goc__stack_attach(goc__p *p, goc__g *g)
{
	struct goc__slot *s = slot_get(p, g->size_class);
	if (!s)
		return false;
	goc__store_release(&s->owner, g);
	g->slot = s;
	g->stack_lo = s->stack_lo;
	g->stack_size = (size_t)((char *)s - s->stack_lo);
	return true;
}

void goc__stack_detach(goc__p *p, goc__g *g)
{
	struct goc__slot *s = g->slot;
	g->slot = NULL;
	goc__store_release(&s->owner, NULL);
	int k = s->size_class;
	if (p && k == default_class) {
		if (p->nsfree == P_GFREE_MAX) {
			p->nsfree -= P_CACHE_MOVE;
			class_put(k, p->sfree + p->nsfree, P_CACHE_MOVE);
		}
		p->sfree[p->nsfree++] = s;
		return;
	}
	class_put(k, &s, 1);
}

void goc__stack_drain_p(goc__p *p)
{
	if (p->nsfree)
		class_put(default_class, p->sfree, p->nsfree);
	p->nsfree = 0;
}

bool goc__stack_canary_ok(const goc__g *g)
{
	if (!g->slot->check_below)
		return true;
	uint64_t below = *(const uint64_t *)(g->stack_lo - 8);
	return below == CANARY || below == 0;
}

/* Which chunk slot holds address a: its chunk and index, or false. */
static bool slot_of(const void *a, struct chunk **out, size_t *index)
{
	size_t n = goc__load_acquire(&nchunks);
	const char *addr = a;
	for (size_t i = 0; i < n; i++) {
		struct chunk *c = chunk_at(i);
		const char *lo = c->chunk_guard ? c->chunk_guard : c->base;
		const char *hi = c->base + (size_t)c->nslots * c->slot_size;
		if (addr >= lo && addr < hi) {
			*out = c;
			*index = addr < c->base ? 0 : (size_t)(addr - c->base) / c->slot_size;
			return true;
		}
	}
	return false;
}

goc__g *goc__stack_guard_owner(const void *addr)
{
	struct chunk *c;
	size_t i;
	if (!slot_of(addr, &c, &i))
		return NULL;
	const char *a = addr;
	char *slot = c->base + i * c->slot_size;
	bool in_guard = c->guarded ? a < slot + page_size
				   : (a >= c->chunk_guard && a < c->chunk_guard + page_size);
	if (!in_guard)
		return NULL;
	return goc__load_acquire(&slot_hdr(slot, c->slot_size)->owner);
}

void goc__stack_scavenge(void)
{
	for (int k = 0; k < NCLASSES; k++) {
		struct stack_class *c = &classes[k];
		goc__lock_acquire(&c->lock);
		size_t n = c->low_water;
		if (n > c->nfree)
			n = c->nfree;
		if (n && c->nreleased + n > c->cap_released) {
			size_t cap = c->cap_released ? c->cap_released : 256;
			while (cap < c->nreleased + n)
				cap *= 2;
			char **r = realloc(c->released, cap * sizeof *r);
			if (!r)
				n = 0;
			else {
				c->released = r;
				c->cap_released = cap;
			}
		}
		/* The bottom of the pool is what has been unused longest. */
		struct goc__slot **cold = n ? malloc(n * sizeof *cold) : NULL;
		if (cold) {
			memcpy(cold, c->free, n * sizeof *cold);
			memmove(c->free, c->free + n, (c->nfree - n) * sizeof *c->free);
			c->nfree -= n;
		}
		c->low_water = c->nfree;
		goc__lock_release(&c->lock);
		if (!cold)
			continue;
		/* Only sysmon scavenges, and takers only shrink `released`, so
		 * the room reserved above is still there when we come back. */
		/* Release outside the lock; the slots are in nobody's pool now. */
		for (size_t i = 0; i < n; i++) {
			struct goc__slot *sl = cold[i];
			char *from = sl->stack_lo;
			char *base = from - (sl->guarded ? page_size : 0);
			uintptr_t tag = (sl->guarded ? 1 : 0) | (sl->check_below ? 2 : 0);
			goc__prim_release(from, (size_t)(base + class_size(k) - from));
			cold[i] = (struct goc__slot *)((uintptr_t)base | tag);
		}
		goc__lock_acquire(&c->lock);
		for (size_t i = 0; i < n; i++)
			c->released[c->nreleased++] = (char *)cold[i];
		goc__lock_release(&c->lock);
		free(cold);
	}
}

void goc__stack_memstats(uint64_t *inuse, uint64_t *sys)
{
	uint64_t reserved = 0, carved = 0, pooled = 0;
	size_t n = __atomic_load_n(&nchunks, __ATOMIC_ACQUIRE);
	for (size_t i = 0; i < n; i++) {
		struct chunk *c = chunk_at(i);
		reserved += (uint64_t)c->nslots * c->slot_size;
		carved += (uint64_t)__atomic_load_n(&c->used, __ATOMIC_RELAXED) * c->slot_size;
	}
	for (int k = 0; k < NCLASSES; k++) {
		goc__lock_acquire(&classes[k].lock);
		pooled += (uint64_t)(classes[k].nfree + classes[k].nreleased) * class_size(k);
		goc__lock_release(&classes[k].lock);
	}
	*sys = reserved;
	*inuse = carved > pooled ? carved - pooled : 0;
}

/* ---- compaction of parked goroutines' stacks ---- */

enum {
	COMPACT_NONE = 0,
	COMPACT_COPIED = 1,
	COMPACT_SAVED = 2,
	COMPACT_RELEASING = 3,
	COMPACT_RELEASED = 4,
	COMPACT_STATE_MASK = 7,
	COMPACT_GEN_SHIFT = 3,
};
#define RELEASE_BATCH 64

static uint32_t compact_gen;           /* atomic: generations handed out */
static uint64_t ncompacted, nrestored; /* atomic statistics, relaxed */
static __thread struct release_batch { /* this M's slots waiting for madvise */
	uint32_t n;
	goc__g *gs[RELEASE_BATCH];
	uint32_t tickets[RELEASE_BATCH]; /* each one's state when it was queued (SAVED) */
} release_batch;

void goc__stack_compact_stats(uint64_t *compacted, uint64_t *restored)
{
	*compacted = goc__load_relaxed(&ncompacted);
	*restored = goc__load_relaxed(&nrestored);
}

/*
 * Copies a parked goroutine's frames. Under ASan they hold poisoned red
 * zones, which an instrumented memcpy would report: a word loop built
 * without instrumentation copies them as plain bytes (the shadow stays as
 * it was, matching the bytes put back). Both ends are 8-byte aligned.
 */
#ifdef GOC_ASAN
__attribute__((no_sanitize_address, noinline)) static void stack_copy(void *dst, const void *src,
								      size_t len)
{
	volatile uint64_t *d = dst;
	const volatile uint64_t *s = src;
	for (size_t i = 0; i < len / 8; i++)
		d[i] = s[i];
}
#else
static void stack_copy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}
#endif

uint32_t goc__stack_compact(goc__g *g)
{
	chan_waiter *const *waiters = g->park_waiters;
	uint32_t nwaiters = g->npark_waiters;
	g->park_waiters = NULL;
	if (compact_threshold < 0 || !g->slot || goc_num_goroutine() <= compact_threshold)
		return 0;
	char *from = g->sp;
	char *top = (char *)g->slot + SLOT_AREA;
	size_t len = (size_t)(top - from);
	unsigned char *buf = malloc(len);
	if (!buf)
		return 0;
	stack_copy(buf, from, len);
	/* The waiter records are read here, before the page can go: for a
	 * select the array of them is in the goroutine's frame. */
	for (uint32_t i = 0; i < nwaiters; i++) {
		chan_waiter *w = waiters[i];
		char *e = w->elem;
		if (e >= from && e < top)
			w->elem = buf + (e - from);
	}
	g->compact_buf = buf;
	g->compact_len = (uint32_t)len;
	g->compact_from = from;
	uint32_t gen = goc__add_fetch_relaxed(&compact_gen, 1);
	uint32_t ticket = (gen << COMPACT_GEN_SHIFT) | COMPACT_COPIED;
	if (ticket == COMPACT_COPIED) /* the generation wrapped to 0 */
		ticket = (1u << COMPACT_GEN_SHIFT) | COMPACT_COPIED;
	goc__store_relaxed(&g->compact_state, ticket);
	goc__fetch_add_relaxed(&ncompacted, 1);
	return ticket;
}

static int compare_ranges(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((char *const *)a)[0], y = (uintptr_t)((char *const *)b)[0];
	return x < y ? -1 : x > y;
}

/* Releases the pages of the batch's slots still waiting for it: one
 * madvise per run of adjacent slots (ParkedMemory's goroutines sit on
 * consecutive slots, so usually one for the whole batch). */
static void release_flush(struct release_batch *b)
{
	char *ranges[RELEASE_BATCH][2];
	goc__g *claimed[RELEASE_BATCH];
	uint32_t gens[RELEASE_BATCH];
	uint32_t n = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		goc__g *g = b->gs[i];
		uint32_t saved = b->tickets[i];
		uint32_t releasing = (saved & ~(uint32_t)COMPACT_STATE_MASK) | COMPACT_RELEASING;
		/* Claimed: g cannot be restored until we store RELEASED, so its
		 * slot is its own and reading where it lies is safe. */
		if (!goc__cas_acqrel(&g->compact_state, &saved, releasing))
			continue;
		ranges[n][0] = g->stack_lo;
		ranges[n][1] = g->compact_from + g->compact_len;
		claimed[n] = g;
		gens[n] = releasing & ~(uint32_t)COMPACT_STATE_MASK;
		n++;
	}
	b->n = 0;
	if (n == 0)
		return;
	qsort(ranges, n, sizeof ranges[0], compare_ranges);
	for (uint32_t i = 0; i < n;) {
		uint32_t j = i + 1;
		while (j < n && ranges[j][0] == ranges[j - 1][1])
			j++;
		goc__prim_release(ranges[i][0], (size_t)(ranges[j - 1][1] - ranges[i][0]));
		i = j;
	}
	for (uint32_t i = 0; i < n; i++)
		goc__store_release(&claimed[i]->compact_state, gens[i] | COMPACT_RELEASED);
}

void goc__stack_compact_done(goc__g *g, uint32_t ticket)
{
	uint32_t copied = ticket;
	uint32_t saved = (ticket & ~(uint32_t)COMPACT_STATE_MASK) | COMPACT_SAVED;
	/* Fails if g was woken and restored meanwhile (perhaps compacted
	 * again: that compaction has its own generation). */
	if (!goc__cas_acqrel(&g->compact_state, &copied, saved))
		return;
	struct release_batch *b = &release_batch;
	b->gs[b->n] = g;
	b->tickets[b->n] = saved;
	if (++b->n == RELEASE_BATCH)
		release_flush(b);
}

void goc__stack_restore(goc__g *g)
{
	for (;;) {
		uint32_t s = goc__load_acquire(&g->compact_state);
		uint32_t state = s & COMPACT_STATE_MASK;
		if (state == COMPACT_NONE)
			return;
		if (state == COMPACT_RELEASING) {
			goc__cpu_relax();
			continue;
		}
		if (goc__cas_acqrel(&g->compact_state, &s, COMPACT_NONE))
			break;
	}
	stack_copy(g->compact_from, g->compact_buf, g->compact_len);
	free(g->compact_buf);
	g->compact_buf = NULL;
	goc__fetch_add_relaxed(&nrestored, 1);
}

/* ---- overflow reports ---- */

static struct sigaction previous_segv, previous_bus;

/* ucontext: the fault's, when called from the signal handler; NULL when
 * called by the goroutine itself (the canary check). */
static void report_overflow(goc__g *g, const char *how, const void *ucontext)
{
	goc__buf b = {.fd = 2};
	goc__buf_str(&b, "goroutine ");
	goc__buf_int(&b, g->id);
	goc__buf_str(&b, ": stack overflow (");
	goc__buf_str(&b, how);
	goc__buf_str(&b, "; stack of ");
	goc__buf_int(&b, (int64_t)(class_size(g->size_class) / 1024));
	goc__buf_str(&b, " KiB; give it more with goc_go_options.stack_size or GOCSTACKSIZE)\n");
	goc__buf_flush(&b);
	if (ucontext)
		goc__dump_g_from_signal(2, g, ucontext);
	else
		goc__dump_g(2, g, goc__prim_nanotime());
	goc__buf_str(&b, "fatal error: stack overflow\n");
	goc__buf_flush(&b);
}

_Noreturn void goc__stack_overflow_canary(goc__g *g)
{
	report_overflow(g, "detected by the canary below its stack", NULL);
	abort();
}

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
	goc__g *g = goc__stack_guard_owner(info->si_addr);
	if (g) {
		report_overflow(g, "hit the guard page", uctx);
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	/* Not ours: hand the fault to whoever handled it before, or let the
	 * default action (a core dump) happen when the instruction re-runs. */
	struct sigaction *prev = sig == SIGSEGV ? &previous_segv : &previous_bus;
	if (prev->sa_flags & SA_SIGINFO) {
		if (prev->sa_sigaction) {
			prev->sa_sigaction(sig, info, uctx);
			return;
		}
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
}

void goc__stack_install_overflow_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &previous_segv);
	sigaction(SIGBUS, &sa, &previous_bus);
}

void goc__stack_thread_init(goc__m *m)
{
	/* The fault handler must run on a stack of its own: the faulting one
	 * is out of room by definition. */
	m->altstack = malloc(ALTSTACK_SIZE);
	if (!m->altstack)
		return;
	stack_t ss = {.ss_sp = m->altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
	sigaltstack(&ss, NULL);
}
