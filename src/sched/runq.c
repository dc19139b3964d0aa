/*
 * runq.c — run queues: each P's lock-free ring with its runnext slot, and
 * the global queue.
 *
 * The local ring holds RUNQ_SIZE goroutines. Only the owning P's M stores
 * into slots and advances runq_tail; the owner and thieves take from the
 * head with a CAS, so a slot is read before the CAS that claims it and a
 * stale read is harmless (the CAS fails and the reader retries). Slots are
 * atomic (relaxed) because a thief may read a slot the owner is rewriting
 * after the thief's view went stale; the tail's release store and the
 * head's acquire loads order the slot contents themselves.
 *
 * runnext holds the goroutine readied by the running one; it runs before
 * the ring, which is what makes a send/receive ping-pong a direct hand-off.
 * It is taken by exchange/CAS because thieves may take it too.
 *
 * The global queue is a growable ring of pointers under goc__sched.lock. A full ring moves half of itself there in one batch.
 */
#include "runq.h"

#include <stdlib.h>

#include "runtime.h"

/* How many goroutines one pull from the global queue may move to a P. Go
 * takes up to half a ring (128); a smaller batch leaves room in the ring for
 * goroutines readied locally (timers, channels), which would otherwise
 * overflow back to the global queue's tail behind everything waiting there
 * (with 100,000 fresh goroutines queued that cost tens of milliseconds). */
#define GLOBRUNQ_BATCH 32

/* Makes room for n more in the global ring; sched.lock held. */
static void globrunq_reserve_locked(size_t n)
{
	size_t size = (size_t)goc__sched.runq_size;
	if (size + n <= goc__sched.runq_cap)
		return;
	size_t cap = goc__sched.runq_cap ? goc__sched.runq_cap : 1024;
	while (cap < size + n)
		cap *= 2;
	goc__g **ring = malloc(cap * sizeof *ring);
	if (!ring)
		goc__fatal("out of memory growing the global run queue to %zu", cap);
	for (size_t i = 0; i < size; i++)
		ring[i] = goc__sched.runq[(goc__sched.runq_first + i) % goc__sched.runq_cap];
	free(goc__sched.runq);
	goc__sched.runq = ring;
	goc__sched.runq_cap = cap;
	goc__sched.runq_first = 0;
}

void goc__globrunq_put_batch_locked(goc__g *const *gs, size_t n)
{
	goc__assert_held(&goc__sched.lock);
	globrunq_reserve_locked(n);
	size_t size = (size_t)goc__sched.runq_size;
	for (size_t i = 0; i < n; i++)
		goc__sched.runq[(goc__sched.runq_first + size + i) % goc__sched.runq_cap] = gs[i];
	goc__store_seqcst(&goc__sched.runq_size, (int64_t)(size + n));
}

void goc__globrunq_put(goc__g *g)
{
	goc__lock_acquire(&goc__sched.lock);
	goc__globrunq_put_batch_locked(&g, 1);
	goc__lock_release(&goc__sched.lock);
}

static goc__g *globrunq_pop_locked(void)
{
	goc__g *g = goc__sched.runq[goc__sched.runq_first];
	goc__sched.runq_first = (goc__sched.runq_first + 1) % goc__sched.runq_cap;
	return g;
}

goc__g *goc__globrunq_get_locked(goc__p *p, int max)
{
	goc__assert_held(&goc__sched.lock);
	/* The ring only its owner (the caller) fills is empty, so the batch
	 * below fits without goc__runq_put taking sched.lock again. */
	goc__assert(max == 1 ||
		    goc__load_relaxed(&p->runq_tail) == goc__load_relaxed(&p->runq_head));
	int64_t size = goc__sched.runq_size;
	if (size == 0)
		return NULL;
	int64_t procs = goc__load_relaxed(&goc__sched.gomaxprocs);
	int64_t n = size / procs + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > GLOBRUNQ_BATCH)
		n = GLOBRUNQ_BATCH;
	goc__store_relaxed(&goc__sched.runq_size, size - n);
	goc__g *g = globrunq_pop_locked();
	/* The caller's ring is empty (or max is 1), so these all fit and
	 * goc__runq_put never needs the lock we hold. */
	while (--n > 0)
		goc__runq_put(p, globrunq_pop_locked(), false);
	return g;
}

/* The ring is full: move half of it and g to the global queue. */
static bool runq_put_slow(goc__p *p, goc__g *g, uint32_t head, uint32_t tail)
{
	enum { HALF = RUNQ_SIZE / 2 };
	goc__g *batch[HALF + 1];
	uint32_t n = (tail - head) / 2;
	if (n != HALF)
		goc__fatal("runq_put_slow: queue is not full");
	for (uint32_t i = 0; i < n; i++)
		batch[i] = goc__load_relaxed(&p->runq[(head + i) % RUNQ_SIZE]);
	if (!goc__cas_release(&p->runq_head, &head, head + n))
		return false;
	batch[n] = g;
	goc__lock_acquire(&goc__sched.lock);
	goc__globrunq_put_batch_locked(batch, n + 1);
	goc__lock_release(&goc__sched.lock);
	return true;
}

void goc__runq_put(goc__p *p, goc__g *g, bool next)
{
	if (next) {
		/* An exchange, even when runnext is empty: it is the full
		 * barrier between publishing g and reading nmspinning/npidle
		 * that keeps wake-ups from being lost (docs/ARCHITECTURE.md,
		 * section 6). Except with one P: then there is no other P to
		 * wake, and since only the owner makes runnext non-NULL
		 * (thieves only take it away), an empty runnext stays empty
		 * until a plain store fills it. That saves an atomic RMW per
		 * wake-up: ChanPingPong-1 95-98 -> 84 ns. */
		if (goc__load_relaxed(&goc__sched.gomaxprocs) == 1 &&
		    !goc__load_relaxed(&p->runnext)) {
			goc__store_release(&p->runnext, g);
			return;
		}
		goc__g *old = goc__xchg_acqrel(&p->runnext, g);
		if (!old)
			return;
		g = old; /* the displaced one goes to the tail */
	}
	for (;;) {
		uint32_t head = goc__load_acquire(&p->runq_head);
		uint32_t tail = goc__load_relaxed(&p->runq_tail);
		if (tail - head < RUNQ_SIZE) {
			goc__store_relaxed(&p->runq[tail % RUNQ_SIZE], g);
			goc__store_release(&p->runq_tail, tail + 1);
			return;
		}
		if (runq_put_slow(p, g, head, tail))
			return;
	}
}

/* Starts loading the goroutine that will probably run after the one being
 * taken: its goc__g and the top of its stack share a page that is, with many
 * goroutines, out of the cache and the TLB. A prefetch never faults, so a
 * stale slot is harmless. */
static void prefetch_next(goc__p *p, uint32_t head)
{
	const char *g = (const char *)goc__load_relaxed(&p->runq[head % RUNQ_SIZE]);
	__builtin_prefetch(g);
	__builtin_prefetch(g - 64);
}

goc__g *goc__runq_get(goc__p *p)
{
	goc__g *next = goc__load_relaxed(&p->runnext);
	if (next && goc__cas_acqrel(&p->runnext, &next, NULL))
		return next;
	for (;;) {
		uint32_t head = goc__load_acquire(&p->runq_head);
		uint32_t tail = goc__load_relaxed(&p->runq_tail);
		if (tail == head)
			return NULL;
		goc__g *g = goc__load_relaxed(&p->runq[head % RUNQ_SIZE]);
		if (goc__cas_release(&p->runq_head, &head, head + 1)) {
			if (tail - head > 1)
				prefetch_next(p, head + 1);
			return g;
		}
	}
}

bool goc__runq_empty(goc__p *p)
{
	/* runnext is read last: a goroutine moving from runnext to the ring
	 * is seen in one or the other. */
	for (;;) {
		uint32_t head = goc__load_acquire(&p->runq_head);
		uint32_t tail = goc__load_acquire(&p->runq_tail);
		goc__g *next = goc__load_acquire(&p->runnext);
		if (tail == goc__load_acquire(&p->runq_tail))
			return head == tail && next == NULL;
	}
}

/* Takes half of victim's goroutines into batch (a ring of RUNQ_SIZE,
 * starting at batch_head). Returns how many. */
static uint32_t runq_grab(goc__p *victim, goc__g **batch, uint32_t batch_head, bool steal_next)
{
	for (;;) {
		uint32_t head = goc__load_acquire(&victim->runq_head);
		uint32_t tail = goc__load_acquire(&victim->runq_tail);
		uint32_t n = tail - head;
		n = n - n / 2;
		if (n == 0) {
			if (!steal_next)
				return 0;
			goc__g *next = goc__load_acquire(&victim->runnext);
			if (!next)
				return 0;
			/* The victim is probably about to run its runnext itself
			 * (a goroutine it just readied, as in a ping-pong): give it
			 * about 3 us before taking it, so the hand-off stays on
			 * one core. */
			if (goc__load_relaxed(&victim->status) == P_RUNNING) {
				int64_t until = goc__prim_nanotime() + 3000;
				while (goc__prim_nanotime() < until)
					goc__cpu_relax();
			}
			if (!goc__cas_acqrel(&victim->runnext, &next, NULL))
				continue;
			goc__store_relaxed(&batch[batch_head % RUNQ_SIZE], next);
			return 1;
		}
		if (n > RUNQ_SIZE / 2)
			continue; /* read an inconsistent head/tail pair */
		for (uint32_t i = 0; i < n; i++)
			goc__store_relaxed(
				&batch[(batch_head + i) % RUNQ_SIZE],
				goc__load_relaxed(&victim->runq[(head + i) % RUNQ_SIZE]));
		if (goc__cas_release(&victim->runq_head, &head, head + n))
			return n;
	}
}

goc__g *goc__runq_steal(goc__p *p, goc__p *victim, bool steal_next)
{
	uint32_t tail = goc__load_relaxed(&p->runq_tail);
	uint32_t n = runq_grab(victim, p->runq, tail, steal_next);
	if (n == 0)
		return NULL;
	n--;
	goc__g *g = goc__load_relaxed(&p->runq[(tail + n) % RUNQ_SIZE]);
	if (n == 0)
		return g;
	goc__store_release(&p->runq_tail, tail + n);
	return g;
}

/* Moves every goroutine of p's local queue to the global queue; p is owned
 * by the caller and sched.lock is held. */
void goc__runq_drain_to_global_locked(goc__p *p)
{
	goc__assert_held(&goc__sched.lock);
	goc__g *g;
	while ((g = goc__runq_get(p)) != NULL)
		goc__globrunq_put_batch_locked(&g, 1);
}
