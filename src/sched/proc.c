/*
 * proc.c — the scheduler: Ms and Ps, spawning, switching, park/ready,
 * finding work, idling, and goc_main.
 *
 * Switching. Goroutines switch directly to one another (G to G) whenever
 * the P's local queue has a successor; only when it is empty does the
 * leaving goroutine switch to its M's own stack (g0), where find_runnable
 * may steal, run timers and sleep. Whatever must happen after the leaving
 * goroutine is off its stack (releasing the wait-queue lock it parked
 * under, requeueing a yielder, freeing a finished goroutine's slot) is left
 * in m->post and done by the arriving context before anything else
 * (post_switch). That is what lets a readier never see a goroutine whose
 * registers are not yet saved.
 *
 * Waking Ms (Go's policy). When work appears (spawn, ready) and there is an
 * idle P but no spinning M, one M is woken to spin (look for work). A
 * spinning M that finds work stops spinning and, if it was the last
 * spinner, wakes another, so bursts fan out one M at a time; at most half of
 * the busy Ps worth of Ms spin at once. A spinner that finds nothing
 * decrements nmspinning and only then re-checks every run queue: a producer
 * publishes work before it reads nmspinning, so one of the two always sees
 * the other (both sides use sequentially consistent atomics).
 *
 * Timers. Each P has a heap (time/timer.c). The M holding a P runs its due
 * timers after every switch; an idle M computes the earliest deadline of
 * all Ps, and one idle M (sched.timer_m) sleeps until it. Arming an earlier
 * timer wakes that M, or starts one.
 *
 * The network poller. While goroutines wait for I/O, find_runnable polls
 * without blocking before it steals, and one idle M (sched.poll_m) blocks
 * in epoll_wait instead of on its futex, until the next timer if it also
 * is the timer M; waking it (m_wake) writes the poller's eventfd. What it
 * finds it readies on an idle P it takes, or on the global queue. poll_m
 * stays set until that M has left epoll_wait, even once a waker has taken
 * it off the idle list: with two Ms blocked in epoll_wait, the kernel hands
 * the eventfd's wake-up to one of them, and the other — the one woken, with
 * a P handed to it — would sleep on with its work.
 *
 * Lock order: a wait-queue lock (channel, wait group, timer heap) may be held
 * when sched.lock is taken, never the reverse. Timer callbacks run with no
 * runtime lock held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../arch/context.h"
#include "../debug/debug.h"
#include "../prim/env.h"
#include "../debug/trace.h"
#include "../net/netpoll.h"
#include "golimit.h"
#include "runq.h"
#include "runtime.h"
#include "sanitizer.h"

struct goc__sched goc__sched;

/* initial-exec: in libgoc.so and libgoc-malloc.so a general-dynamic
 * thread-local costs a __tls_get_addr call per access, and goc__m_self is
 * on malloc's fast path (src/alloc/mcache.c). */
static __thread goc__m *tls_m __attribute__((tls_model("initial-exec")));
static __thread goc__g *tls_foreign_g;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t foreign_key;

static void check_dead_locked(void);

/* ---- thread-local access ----
 * noinline: the compiler may otherwise keep a thread-local address from
 * before a context switch and use it after the goroutine moved to another
 * thread. */

__attribute__((noinline)) goc__m *goc__m_self(void)
{
	goc__m *m;
	m = tls_m;
	__asm__ __volatile__("" ::: "memory");
	return m;
}

static void foreign_g_free(void *g)
{
	goc__fetch_sub_seqcst(&goc__sched.nforeign, 1);
	free(g);
}

/* The calling plain thread's stand-in goroutine, made on first use. */
__attribute__((noinline)) static goc__g *foreign_g(void)
{
	goc__g *g = tls_foreign_g;
	if (!g) {
		goc__runtime_init(); /* creates foreign_key, whose destructor unregisters */
		g = calloc(1, sizeof *g);
		if (!g)
			goc__fatal("out of memory for a thread's goc state");
		g->flags = G_FLAG_FOREIGN;
		g->state = G_RUNNING;
		goc__fetch_add_seqcst(&goc__sched.nforeign, 1);
		tls_foreign_g = g;
		pthread_setspecific(foreign_key, g);
	}
	return g;
}

goc__g *goc__g_self(void)
{
	goc__m *m = goc__m_self();
	if (m)
		return m->curg;
	return foreign_g();
}

/* errno lives in thread-local storage: each M keeps the address of its
 * thread's errno, taken once on that thread, and a goroutine's errno is
 * copied out when it leaves an M and back in on whichever M resumes it. */
static void errno_save(goc__m *m, goc__g *g)
{
	g->saved_errno = *m->errno_ptr;
}

static void errno_restore(goc__m *m, goc__g *g)
{
	*m->errno_ptr = g->saved_errno;
}

static uint32_t fastrand(goc__m *m)
{
	/* xorshift64*, per M: no shared state. */
	uint64_t x = m->fastrand;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	m->fastrand = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

uint32_t goc__fastrand(void)
{
	goc__m *m = goc__m_self();
	if (m)
		return fastrand(m);
	static uint64_t shared = 0x9E3779B97F4A7C15ull;
	uint64_t x = goc__add_fetch_relaxed(&shared, 0x9E3779B97F4A7C15ull);
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	return (uint32_t)((x ^ (x >> 27)) >> 32);
}

/* ---- Ps ---- */

static goc__p *p_new(int32_t id)
{
	goc__p *p = aligned_alloc(64, (sizeof(goc__p) + 63) & ~(size_t)63);
	if (!p)
		goc__fatal("out of memory allocating P %d", id);
	memset(p, 0, sizeof *p);
	p->id = id;
	goc__store_relaxed(&p->status, P_IDLE);
	p->timers = goc__rtimer_heap_new();
	return p;
}

/* sched.lock held. */
void goc__pidle_put(goc__p *p)
{
	if (goc__tracing())
		goc__trace_proc_stop(p);
	goc__store_relaxed(&p->status, P_IDLE);
	goc__store_relaxed(&p->m, NULL);
	p->link = goc__sched.pidle;
	goc__sched.pidle = p;
	goc__fetch_add_seqcst(&goc__sched.npidle, 1);
}

/* sched.lock held. */
goc__p *goc__pidle_get(void)
{
	goc__p *p = goc__sched.pidle;
	if (p) {
		goc__sched.pidle = p->link;
		p->link = NULL;
		goc__store_relaxed(&p->status, P_RUNNING);
		goc__fetch_sub_seqcst(&goc__sched.npidle, 1);
	}
	return p;
}

void goc__acquirep(goc__m *m, goc__p *p)
{
	if (goc__tracing())
		goc__trace_proc_start(p);
	m->p = p;
	/* Release: sysmon reads it (acquire) to signal the M and read its
	 * clock (preempt.c, retake.c), fields set before the M started. */
	goc__store_release(&p->m, m);
	goc__store_relaxed(&p->status, P_RUNNING);
}

/*
 * Retiring a P (gomaxprocs shrank) happens in two halves so that no timer
 * lock is taken under sched.lock (the lock order is the other way round).
 * The first, under sched.lock, takes p out of service and moves its queued
 * goroutines to the global queue; the second, without it, moves its timers
 * to P0 and its free pools to the global ones, then makes p dead, or idle
 * again if gomaxprocs grew back meanwhile, and wakes an M for the moved
 * goroutines. The caller owns p throughout.
 */
static void p_retire_start_locked(goc__p *p)
{
	goc__store_relaxed(&p->status, P_RETIRING);
	goc__store_relaxed(&p->m, NULL);
	goc__runq_drain_to_global_locked(p);
}

static void wakep(void);

static void p_retire_finish(goc__p *p)
{
	goc__timers_move(p->timers, goc__sched.allp[0]);
	goc__stack_drain_p(p);
	goc__g_drain_p(p);
	goc__lock_acquire(&goc__sched.lock);
	if (p->id < goc__sched.gomaxprocs)
		goc__pidle_put(p);
	else
		goc__store_relaxed(&p->status, P_DEAD);
	goc__lock_release(&goc__sched.lock);
	wakep();
}

/* ---- Ms ---- */

/* The poller M publishes in_netpoll and then reads park_word before it
 * blocks; we store park_word and then read in_netpoll (all sequentially
 * consistent): either it sees our 1 and does not block, or we see it
 * polling and break its epoll_wait. */
static void m_wake(goc__m *m)
{
	goc__store_seqcst(&m->park_word, 1);
	if (goc__load_seqcst(&m->in_netpoll))
		goc__netpoll_break();
	else
		goc__prim_futex_wake(&m->park_word, 1);
}

/* sched.lock held. */
static void midle_remove_locked(goc__m *m)
{
	goc__m **pp = &goc__sched.midle;
	while (*pp && *pp != m)
		pp = &(*pp)->schedlink;
	if (*pp) {
		*pp = m->schedlink;
		goc__sched.nmidle--;
	}
	m->idle_listed = false;
	m->schedlink = NULL;
	if (goc__sched.timer_m == m) {
		goc__sched.timer_m = NULL;
		goc__store_seqcst(&goc__sched.timer_m_until, INT64_MAX);
	}
	/* poll_m is cleared by the poller itself, once out of epoll_wait
	 * (stopm_netpoll): see the top of the file. */
}

/* An idle M, preferably neither the one waiting for the next timer nor the
 * one blocked in the poller (taking it would leave nobody waiting).
 * sched.lock held. */
static goc__m *midle_get_locked(void)
{
	goc__m *m = goc__sched.midle;
	while (m && (m == goc__sched.timer_m || m == goc__sched.poll_m))
		m = m->schedlink;
	if (!m)
		m = goc__sched.midle;
	if (m)
		midle_remove_locked(m);
	return m;
}

static void *m_thread_main(void *arg);

/* sched.lock held; the new M starts with nextp. */
static goc__m *m_new_locked(goc__p *nextp, bool spinning)
{
	goc__thread_limit_check_locked(goc__sched.mcount + 1);
	goc__m *m = aligned_alloc(64, (sizeof(goc__m) + 63) & ~(size_t)63);
	if (!m)
		goc__fatal("out of memory creating a thread");
	memset(m, 0, sizeof *m);
	m->id = goc__sched.mcount++;
	m->nextp = nextp;
	m->spinning = spinning;
	m->g0.flags = G_FLAG_G0;
	m->fastrand = 0x9E3779B97F4A7C15ull * (uint64_t)(m->id + 1) | 1;
	m->alllink = goc__sched.allm;
	goc__sched.allm = m;
	if (!goc__prim_thread_start(m_thread_main, m))
		goc__fatal("cannot create an OS thread for the scheduler (errno %d)", errno);
	return m;
}

/* Gets an M running with P p (spinning as asked). sched.lock held. */
void goc__startm_locked(goc__p *p, bool spinning)
{
	goc__m *m = midle_get_locked();
	if (!m) {
		m_new_locked(p, spinning);
		return;
	}
	m->nextp = p;
	m->spinning = spinning;
	m_wake(m);
}

/* Work appeared: make sure some M will look for it. */
static void wakep(void)
{
	if (goc__load_seqcst(&goc__sched.npidle) == 0)
		return;
	if (goc__load_seqcst(&goc__sched.nmspinning) != 0)
		return;
	int32_t zero = 0;
	if (!goc__cas_seqcst(&goc__sched.nmspinning, &zero, 1))
		return;
	goc__lock_acquire(&goc__sched.lock);
	goc__p *p = goc__pidle_get();
	if (!p) {
		goc__lock_release(&goc__sched.lock);
		goc__fetch_sub_seqcst(&goc__sched.nmspinning, 1);
		return;
	}
	goc__startm_locked(p, true);
	goc__lock_release(&goc__sched.lock);
}

static void reset_spinning(goc__m *m)
{
	m->spinning = false;
	if (goc__sub_fetch_seqcst(&goc__sched.nmspinning, 1) == 0)
		wakep();
}

/* ---- switching ---- */

static goc__m *post_switch(goc__m *m);
static void g_entry(void *transfer);

/* A goroutine about to run for the first time gets its stack now, from
 * this P's cache: usually the one a goroutine just finished with. */
static void first_run_prepare(goc__m *m, goc__g *g)
{
	if (!goc__stack_attach(m->p, g))
		goc__fatal("out of address space for the stack of goroutine %lld (size class %d)",
			   (long long)g->id, g->size_class);
	san_g_created(g);
	g->sp = goc__cpuctx_make((void *)((uintptr_t)g->slot & ~(uintptr_t)15), g_entry);
}

/*
 * Switches m from `from` to `to`; returns, once `from` is resumed, the M
 * now running it. The caller has set m->post for what `from` needs done.
 */
static goc__m *g_switch(goc__m *m, goc__g *from, goc__g *to, bool from_exits)
{
	/* The one place every run of a goroutine begins and ends: park,
	 * yield, exit and first run all come through here. */
	if (goc__tracing())
		goc__trace_switch(m, from, to);
	goc__qsbr_quiescent(&m->qsbr);
	if (to->flags & G_FLAG_G0) {
		m->curg = NULL;
		/* NULL for a goroutine leaving a syscall section without a P. */
		if (m->p)
			goc__store_relaxed(&m->p->curg, NULL);
	} else {
		if (!to->sp)
			first_run_prepare(m, to);
		else if (__builtin_expect(goc__load_relaxed(&to->compact_state) != 0, 0))
			goc__stack_restore(to);
		m->curg = to;
		to->m = m;
		goc__store_relaxed(&to->state, G_RUNNING);
		goc__store_relaxed(&m->p->switches, m->p->switches + 1);
		goc__store_relaxed(&m->p->curg, to);
	}
	errno_save(m, from);
	san_before_switch(from, to, from_exits);
	m = goc__cpuctx_switch(&from->sp, to->sp, m);
	san_after_switch(from);
	m = post_switch(m);
	errno_restore(m, from);
	return m;
}

/* Runs timers of p that are due. Called with no runtime lock held. */
static void run_due_timers(goc__p *p)
{
	int64_t next = goc__timers_earliest(p->timers);
	if (next == 0)
		return;
	int64_t now = goc__prim_nanotime();
	if (next <= now)
		goc__timers_run(p->timers, now);
}

static inline void make_runnable(goc__g *g);

/* The unlock step of prev's park said "do not park after all". */
static void park_called_off(goc__g *prev)
{
	if (goc__tracing())
		goc__trace_unblock(prev, true);
	make_runnable(prev);
}

static goc__m *post_switch(goc__m *m)
{
	goc__g *prev = m->post_g;
	switch (m->post) {
	case POST_NONE:
		break;
	case POST_PARK: {
		m->post = POST_NONE;
		/* Before the unlock step: until then nobody can wake prev. */
		uint32_t compacted = prev->park_waiters ? goc__stack_compact(prev) : 0;
		if (!m->post_unlock(m->post_lock))
			park_called_off(prev);
		if (compacted)
			goc__stack_compact_done(prev, compacted);
		break;
	}
	case POST_YIELD:
		m->post = POST_NONE;
		goc__runq_put(m->p, prev, false);
		break;
	case POST_EXIT:
		m->post = POST_NONE;
		goc__stack_detach(m->p, prev);
		goc__g_free(m->p, prev);
		break;
	}
	if (m->p)
		run_due_timers(m->p);
	return m;
}

/* The next goroutine from p's own queues, or NULL; never blocks. */
static bool p_retiring(goc__p *p)
{
	return p->id >= goc__load_relaxed(&goc__sched.gomaxprocs);
}

/* The next goroutine from p's own queues (and now and then the global
 * queue), or NULL if p's local queue is empty. */
static goc__g *next_local(goc__p *p)
{
	/* An atomic store (a plain one on the CPUs goc runs on): sysmon reads
	 * the tick to tell a goroutine that runs on from one that yields. */
	uint32_t tick = p->schedtick + 1;
	goc__store_relaxed(&p->schedtick, tick);
	if (__builtin_expect(goc__load_relaxed(&p->long_run_ms) != 0, 0))
		goc__long_run_fold(p);
	/* Every 61st pick comes from the global queue, so goroutines there
	 * are not starved by two that keep readying each other locally. */
	if (tick % 61 == 0 && goc__load_relaxed(&goc__sched.runq_size) > 0) {
		goc__lock_acquire(&goc__sched.lock);
		goc__g *g = goc__globrunq_get_locked(p, 1);
		goc__lock_release(&goc__sched.lock);
		if (g)
			return g;
	}
	return goc__runq_get(p);
}

/* Leaves the current goroutine for the next runnable one of this P, or for
 * g0 when there is none. Returns the M that resumes it later. */
static goc__m *switch_away(goc__m *m, goc__g *g, bool exits)
{
	/* A retiring P goes back through g0, which hands it in; so does a
	 * locked M, which runs nothing but its goroutine. */
	goc__g *next = p_retiring(m->p) || m->lockedg ? NULL : next_local(m->p);
	if (next && __builtin_expect(next->lockedm != NULL, 0) && next->lockedm != m) {
		/* Only its own M may run it: g0 hands that M our P. */
		m->locked_next = next;
		next = NULL;
	}
	return g_switch(m, g, next ? next : &m->g0, exits);
}

/* ---- park / ready ---- */

bool goc__park_unlock_lock(void *lock)
{
	goc__lock_release((goc__lock *)lock);
	return true;
}

static void foreign_park(goc__g *g, goc__unlock_fn unlockf, void *lock, goc__wait_reason r)
{
	g->wait_reason = (uint8_t)r;
	g->wait_since = goc__load_relaxed(&goc__sched.coarse_now);
	goc__store_release(&g->state, G_WAITING);
	if (!unlockf(lock)) {
		goc__store_relaxed(&g->state, G_RUNNING);
		return;
	}
	while (goc__load_acquire(&g->state) == G_WAITING)
		goc__prim_futex_wait(&g->state, G_WAITING, 0);
	goc__store_relaxed(&g->state, G_RUNNING);
	g->wait_reason = WAIT_NONE;
}

/* Records what the switch away from parking goroutine g must do. */
static void park_prepare(goc__m *m, goc__g *g, goc__unlock_fn unlockf, void *lock,
			 goc__wait_reason r)
{
	/* An unguarded stack's overflow shows in the canary below it. It is
	 * checked when a goroutine blocks or yields, not when it exits: the
	 * canary sits in another goroutine's (cold) page, and reading it doubled
	 * the cost of a short-lived goroutine. A finished goroutine's overflow
	 * is caught when the damaged slot below is next reused (its magic). */
	if (!goc__stack_canary_ok(g))
		goc__stack_overflow_canary(g);
	g->wait_reason = (uint8_t)r;
	/* A coarse clock (sysmon refreshes it): exact enough for "waiting 3
	 * minutes" and free on this path. */
	g->wait_since = goc__load_relaxed(&goc__sched.coarse_now);
	goc__store_relaxed(&g->state, G_WAITING);
	m->post = POST_PARK;
	m->post_g = g;
	m->post_unlock = unlockf;
	m->post_lock = lock;
}

/*
 * goc__park while the block profile is on (debug/blockprof.c): a wait it
 * counts is timed and, once the goroutine runs again, recorded with the
 * stack it waited in. The profile finds the waiting code by skipping a
 * fixed number of frames (the recorder, this function, goc__park), so
 * neither call on the way may be a tail call: the empty asm below and the
 * store after the call in goc__park see to it.
 */
static __attribute__((noinline)) void park_profiled(goc__m *m, goc__g *g, goc__unlock_fn unlockf,
						    void *lock, goc__wait_reason r)
{
	int64_t since = goc__blockprof_start(r);
	park_prepare(m, g, unlockf, lock, r);
	switch_away(m, g, false);
	if (since)
		goc__blockprof_record(since);
	__asm__ __volatile__("");
}

void goc__park(goc__unlock_fn unlockf, void *lock, goc__wait_reason r)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (!g) {
		if (m)
			goc__fatal("goc__park called on the scheduler's own stack");
		foreign_park(foreign_g(), unlockf, lock, r);
		return;
	}
	if (__builtin_expect(m->p == NULL, 0)) {
		/* The caller holds the wait queue's lock: a P lent while the
		 * goroutine was blocked in the kernel is taken back only if
		 * that needs no waiting; else it parks from g0, without one. */
		if (!m->lent)
			goc__p_missing(m, "a blocking call");
		else if (!goc__lent_try_return(m)) {
			goc__park_without_p(unlockf, lock, r);
			return;
		}
	}
	if (__builtin_expect(goc__blockprof_on(), 0)) {
		park_profiled(m, g, unlockf, lock, r);
	} else {
		park_prepare(m, g, unlockf, lock, r);
		switch_away(m, g, false);
	}
	/* After both, so park_profiled is never a tail call. */
	g->wait_reason = WAIT_NONE;
}

void goc__park_without_p(goc__unlock_fn unlockf, void *lock, goc__wait_reason r)
{
	goc__m *m = goc__m_self();
	goc__g *g = m->curg;
	park_prepare(m, g, unlockf, lock, r);
	g_switch(m, g, &m->g0, false);
	g->wait_reason = WAIT_NONE;
}

void goc__ready(goc__g *g)
{
	if (g->flags & G_FLAG_FOREIGN) {
		goc__store_release(&g->state, G_RUNNABLE);
		goc__prim_futex_wake(&g->state, 1);
		return;
	}
	if (goc__tracing())
		goc__trace_unblock(g, false);
	make_runnable(g);
}

/* goc__ready for a goroutine (not a plain thread's stand-in). Inlined:
 * a call of its own on every ready measurably slows channel hand-offs. */
static inline __attribute__((always_inline)) void make_runnable(goc__g *g)
{
	/* A plain store, not a CAS: exactly one party can ready a parked
	 * goroutine, the one that took it off a wait queue under that queue's
	 * lock (or won a select's claim), so nobody races us here. The check
	 * catches a runtime bug, not a user error. Release: what the readier
	 * wrote for the goroutine (a received value) is visible when it runs. */
	uint32_t state = goc__load_relaxed(&g->state);
	if (state != G_WAITING)
		goc__fatal("goc__ready: goroutine %lld is not waiting (state %u)", (long long)g->id,
			   state);
	goc__store_release(&g->state, G_RUNNABLE);
	goc__m *m = goc__m_self();
	if (m && m->p)
		goc__runq_put(m->p, g, true);
	else
		goc__globrunq_put(g);
	wakep();
}

/* ---- spawning and exiting ---- */

static int64_t goid_new(goc__p *p)
{
	enum { BATCH = 16 };
	if (!p)
		return goc__add_fetch_relaxed(&goc__sched.goid_gen, 1);
	if (p->goid_next == p->goid_end) {
		int64_t end = goc__add_fetch_relaxed(&goc__sched.goid_gen, BATCH);
		p->goid_next = end - BATCH + 1;
		p->goid_end = end + 1;
	}
	return p->goid_next++;
}

static _Noreturn void g_exit(goc__m *m, goc__g *g)
{
	if (g->labels) {
		goc__labels *labels = g->labels;
		goc__store_release(&g->labels, NULL);
		goc__labels_release(labels);
	}
	goc__store_release(&g->state, G_DEAD);
	if (m->lockedg == g) {
		/* Go ends a thread whose goroutine exits locked; goc's Ms
		 * are reused, so the M simply becomes an ordinary one. */
		m->lockedg = NULL;
		m->locked_depth = 0;
	}
	g->lockedm = NULL;
	goc__p *p = m->p;
	goc__store_relaxed(&p->exited, p->exited + 1);
	m->post = POST_EXIT;
	m->post_g = g;
	switch_away(m, g, true);
	goc__fatal("a finished goroutine was resumed");
}

static void g_entry(void *transfer)
{
	goc__m *m = transfer;
	goc__g *g = m->curg;
	san_after_switch(g);
	m = post_switch(m);
	g->fn(g->arg);
	m = goc__m_self();
	if (m->lent)
		goc__lent_return(m); /* exiting needs a P */
	g_exit(goc__m_self(), g);
}

static int64_t spawn(goc_fn fn, void *arg, const goc_go_options *opts, void *pc, bool is_main)
{
	if (!fn)
		goc__panic("goc_go: nil function");
	goc__runtime_init();
	size_t size = opts && opts->stack_size ? opts->stack_size : goc__stack_default_size();
	if (is_main && size < ((size_t)8 << 20))
		size = (size_t)8 << 20;
	int k = goc__stack_class_of(size, NULL);
	if (k < 0)
		return -EINVAL;
	goc__m *m = goc__m_self();
	goc__p *p = m ? m->p : NULL;
	/* The goroutine cap (golimit.h): one relaxed load when none is set. */
	bool capped = !is_main && goc__golimit_active();
	if (capped && !goc__golimit_enter())
		return -EAGAIN;
	goc__g *g = goc__g_alloc(p);
	if (!g) {
		if (capped)
			goc__golimit_leave();
		return -ENOMEM;
	}
	g->size_class = (uint8_t)k;
	goc__g *parent = m ? m->curg : tls_foreign_g;
	g->id = goid_new(p);
	g->parent_id = parent ? parent->id : 0;
	g->create_pc = pc;
	/* Profile labels are inherited: one load and a test when the parent
	 * has none. */
	g->labels = parent ? parent->labels : NULL;
	if (g->labels)
		goc__labels_retain(g->labels);
	g->fn = fn;
	g->arg = arg;
	if (is_main)
		g->flags |= G_FLAG_MAIN;
	else if ((opts && opts->compact_stack) || goc__stack_compact_every)
		g->flags |= G_FLAG_COMPACT;
	if (opts && opts->no_async_preempt)
		g->flags |= G_FLAG_NO_ASYNC_PREEMPT;
	if (opts && opts->preempt_migrates)
		g->flags |= G_FLAG_PREEMPT_MIGRATES;
	if (opts && opts->name) {
		strncpy(g->name, opts->name, sizeof g->name - 1);
		g->name[sizeof g->name - 1] = 0;
	}
	goc__store_relaxed(&g->state, G_RUNNABLE);
	if (goc__tracing())
		goc__trace_create(g);
	int64_t id = g->id;
	if (p) {
		/* Counted before it is queued: harmless, this M is not idle, so
		 * no deadlock check runs until it has queued g. */
		goc__store_relaxed(&p->created, p->created + 1);
		goc__runq_put(p, g, true);
	} else {
		/* A plain thread counts as one that may wake someone (nforeign)
		 * before its goroutine is counted, and stays counted until the
		 * goroutine is findable: a deadlock check between the two sees
		 * the thread, never a counted goroutine nobody can find. */
		if (!m)
			foreign_g();
		goc__fetch_add_relaxed(&goc__sched.foreign_created, 1);
		goc__globrunq_put(g);
	}
	if (capped)
		goc__golimit_leave();
	wakep();
	return id;
}

int64_t goc_go(goc_fn fn, void *arg)
{
	return spawn(fn, arg, NULL, __builtin_return_address(0), false);
}

int64_t goc_go_opts(goc_fn fn, void *arg, const goc_go_options *opts)
{
	if (opts && opts->stack_size > ((size_t)1 << 30))
		return -EINVAL;
	return spawn(fn, arg, opts, __builtin_return_address(0), false);
}

void goc_yield(void)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (!g) {
		sched_yield();
		return;
	}
	goc__check_may_block(m, "goc_yield");
	goc__p *p = m->p;
	if (!goc__stack_canary_ok(g))
		goc__stack_overflow_canary(g);
	if (p_retiring(p) || m->lockedg) {
		/* Queue ourselves on it and let g0 hand its goroutines to the
		 * global queue. */
		goc__store_relaxed(&g->state, G_RUNNABLE);
		m->post = POST_YIELD;
		m->post_g = g;
		g_switch(m, g, &m->g0, false);
		return;
	}
	/* next_local returns NULL only for an empty local queue, which the
	 * global queue and stealing may then fill. */
	goc__g *next = next_local(p);
	if (!next && goc__load_relaxed(&goc__sched.runq_size) > 0) {
		goc__lock_acquire(&goc__sched.lock);
		next = goc__globrunq_get_locked(p, 0);
		goc__lock_release(&goc__sched.lock);
	}
	if (!next) {
		/* Others may be queued behind a busy P: take some. */
		int32_t n = goc__load_relaxed(&goc__sched.gomaxprocs);
		for (int32_t i = 0; i < n && !next; i++) {
			goc__p *victim = goc__sched.allp[i];
			if (victim != p)
				next = goc__runq_steal(p, victim, false);
		}
	}
	if (!next) {
		run_due_timers(p);
		return;
	}
	goc__store_relaxed(&g->state, G_RUNNABLE);
	m->post = POST_YIELD;
	m->post_g = g;
	if (next->lockedm && next->lockedm != m) {
		m->locked_next = next;
		next = &m->g0;
	}
	g_switch(m, g, next, false);
}

/* ---- finding work (on g0) ---- */

static goc__g *steal_work(goc__m *m)
{
	goc__p *p = m->p;
	int32_t n = goc__load_relaxed(&goc__sched.gomaxprocs);
	for (int round = 0; round < 4; round++) {
		uint32_t start = fastrand(m);
		for (int32_t i = 0; i < n; i++) {
			goc__p *victim = goc__sched.allp[(start + (uint32_t)i) % (uint32_t)n];
			if (victim == p)
				continue;
			goc__g *g = goc__runq_steal(p, victim, round == 3);
			if (g) {
				goc__fetch_add_relaxed(&goc__sched.nsteals, 1);
				return g;
			}
		}
	}
	return NULL;
}

/* Earliest timer of all Ps, or 0. */
static int64_t timers_earliest_all(void)
{
	int64_t best = 0;
	int32_t n = goc__load_acquire(&goc__sched.nprocs_made);
	for (int32_t i = 0; i < n; i++) {
		int64_t w = goc__timers_earliest(goc__sched.allp[i]->timers);
		if (w && (!best || w < best))
			best = w;
	}
	return best;
}

static void timers_run_all(int64_t now)
{
	int32_t n = goc__load_acquire(&goc__sched.nprocs_made);
	for (int32_t i = 0; i < n; i++) {
		struct timer_heap *h = goc__sched.allp[i]->timers;
		int64_t w = goc__timers_earliest(h);
		if (w && w <= now)
			goc__timers_run(h, now);
	}
}

static bool any_runq_work(void)
{
	if (goc__load_seqcst(&goc__sched.runq_size) > 0)
		return true;
	int32_t n = goc__load_seqcst(&goc__sched.gomaxprocs);
	for (int32_t i = 0; i < n; i++)
		if (!goc__runq_empty(goc__sched.allp[i]))
			return true;
	return false;
}

/*
 * stopm's wait for the poller M: blocks in goc__netpoll() until an fd is ready,
 * the deadline `until` (0: none) passes, or m_wake breaks the wait. Then it
 * leaves the idle list (or, if a waker already took it off, takes the
 * handed-over P), takes an idle P if it found goroutines and has none, and
 * readies them there (on the global queue if every P is busy). Returns
 * holding a P, with m->nextp clear, or with no P.
 */
static void stopm_netpoll(goc__m *m, int64_t until)
{
	goc__g *ready[128];
	int n = 0;
	goc__store_seqcst(&m->in_netpoll, true);
	if (goc__load_seqcst(&m->park_word) == 0)
		n = goc__netpoll(until ? until : INT64_MAX, ready, 128);
	goc__store_seqcst(&m->in_netpoll, false);
	goc__lock_acquire(&goc__sched.lock);
	bool claimed = !m->idle_listed;
	if (!claimed)
		midle_remove_locked(m);
	if (goc__sched.poll_m == m)
		goc__sched.poll_m = NULL;
	goc__lock_release(&goc__sched.lock);
	if (claimed) {
		/* A waker took us off the list: its store to park_word comes. */
		while (goc__load_acquire(&m->park_word) == 0)
			goc__prim_futex_wait(&m->park_word, 0, 0);
		goc__store_relaxed(&m->park_word, 0);
	}
	if (m->nextp) {
		goc__acquirep(m, m->nextp);
		m->nextp = NULL;
	} else if (n > 0) {
		goc__lock_acquire(&goc__sched.lock);
		goc__p *p = goc__pidle_get();
		goc__lock_release(&goc__sched.lock);
		if (p)
			goc__acquirep(m, p);
	}
	for (int i = 0; i < n; i++)
		goc__ready(ready[i]);
	goc__netpoll_delivered(n);
}

/* Sleeps until woken or until the earliest timer of all Ps. Returns with
 * m->nextp set if a P was handed over, or (as the poller M) holding one. */
static void stopm(goc__m *m)
{
	goc__lock_acquire(&goc__sched.lock);
	/* The deadline is read under sched.lock: a timer armed after any
	 * earlier reading either shows here, or its goc__sched_timer_armed
	 * (which takes the lock when nobody waits for an earlier deadline)
	 * runs after we are on the idle list and wakes us. */
	int64_t until = timers_earliest_all();
	if (until) {
		if (!goc__sched.timer_m || until < goc__sched.timer_m_until) {
			goc__sched.timer_m = m;
			goc__store_seqcst(&goc__sched.timer_m_until, until);
		} else {
			until = 0; /* the timer M covers it */
		}
	}
	/* While goroutines wait for I/O and a P is idle (as in Go, where the
	 * M that just gave up its P polls), one idle M waits in the poller:
	 * for the fds, and for the timer deadline if it took one above. With
	 * every P busy, the Ms running them poll without blocking whenever
	 * their queues run dry, and readied goroutines stay on their P. */
	bool poller = !goc__sched.poll_m && goc__netpoll_has_waiters() &&
		goc__load_relaxed(&goc__sched.npidle) > 0;
	if (poller)
		goc__sched.poll_m = m;
	m->idle_listed = true;
	m->schedlink = goc__sched.midle;
	goc__sched.midle = m;
	goc__sched.nmidle++;
	if (!until && !poller)
		check_dead_locked();
	goc__lock_release(&goc__sched.lock);

	if (poller) {
		stopm_netpoll(m, until);
		return;
	}
	while (goc__load_acquire(&m->park_word) == 0) {
		if (goc__prim_futex_wait(&m->park_word, 0, until))
			continue;
		goc__lock_acquire(&goc__sched.lock);
		if (m->idle_listed) {
			midle_remove_locked(m);
			goc__lock_release(&goc__sched.lock);
			return; /* timed out: go run the timers */
		}
		goc__lock_release(&goc__sched.lock);
		until = 0; /* someone took us off the list: a wake-up is coming */
	}
	goc__store_relaxed(&m->park_word, 0);
}

static goc__g *find_runnable(goc__m *m)
{
	for (;;) {
		goc__p *p = m->p;
		if (p) {
			if (p_retiring(p)) {
				goc__lock_acquire(&goc__sched.lock);
				/* Again under the lock: gomaxprocs may have grown back. */
				bool retire = p->id >= goc__sched.gomaxprocs;
				if (retire)
					p_retire_start_locked(p);
				goc__lock_release(&goc__sched.lock);
				if (retire) {
					m->p = NULL;
					if (m->spinning) {
						m->spinning = false;
						goc__fetch_sub_seqcst(&goc__sched.nmspinning, 1);
					}
					p_retire_finish(p);
					continue;
				}
			}
			int64_t due = timers_earliest_all();
			if (due && due <= goc__prim_nanotime())
				timers_run_all(goc__prim_nanotime());
			goc__g *g = next_local(p);
			if (g)
				return g;
			if (goc__load_relaxed(&goc__sched.runq_size) > 0) {
				goc__lock_acquire(&goc__sched.lock);
				g = goc__globrunq_get_locked(p, 0);
				goc__lock_release(&goc__sched.lock);
				if (g)
					return g;
			}
			/* Goroutines whose fds are ready, unless an M blocked in
			 * the poller will see them anyway. */
			if (goc__netpoll_has_waiters() && !goc__netpoll_blocked()) {
				goc__g *ready[128];
				int n = goc__netpoll(0, ready, 128);
				for (int i = 0; i < n; i++)
					goc__ready(ready[i]);
				goc__netpoll_delivered(n);
				if (n > 0 && (g = next_local(p)))
					return g;
			}
			int32_t busy = goc__load_relaxed(&goc__sched.gomaxprocs) -
				goc__load_relaxed(&goc__sched.npidle);
			if (m->spinning || 2 * goc__load_relaxed(&goc__sched.nmspinning) < busy) {
				if (!m->spinning) {
					m->spinning = true;
					goc__fetch_add_seqcst(&goc__sched.nmspinning, 1);
				}
				g = steal_work(m);
				if (g)
					return g;
			}
		}

		/* Nothing to do: give the P back and sleep. */
		int64_t until = timers_earliest_all();
		goc__lock_acquire(&goc__sched.lock);
		if (p && goc__sched.runq_size > 0) {
			goc__g *g = goc__globrunq_get_locked(p, 0);
			goc__lock_release(&goc__sched.lock);
			return g;
		}
		if (p) {
			goc__pidle_put(p);
			m->p = NULL;
		}
		goc__lock_release(&goc__sched.lock);

		if (m->spinning) {
			m->spinning = false;
			goc__fetch_sub_seqcst(&goc__sched.nmspinning, 1);
			/* Work published before we stopped spinning may not have
			 * woken anyone: look once more. */
			if (any_runq_work()) {
				goc__lock_acquire(&goc__sched.lock);
				goc__p *again = goc__pidle_get();
				goc__lock_release(&goc__sched.lock);
				if (again) {
					goc__acquirep(m, again);
					m->spinning = true;
					goc__fetch_add_seqcst(&goc__sched.nmspinning, 1);
					continue;
				}
			}
		}
		if (until && until <= goc__prim_nanotime()) {
			goc__lock_acquire(&goc__sched.lock);
			goc__p *tp = goc__pidle_get();
			goc__lock_release(&goc__sched.lock);
			if (tp) {
				goc__acquirep(m, tp);
				continue;
			}
			/* Every P is busy: fire the timers from here; what they
			 * ready goes to the global queue. */
			timers_run_all(goc__prim_nanotime());
			continue;
		}
		goc__qsbr_offline(&m->qsbr);
		stopm(m);
		goc__qsbr_online(&m->qsbr);
		if (m->nextp) {
			goc__acquirep(m, m->nextp);
			m->nextp = NULL;
		}
	}
}

/* ---- M affinity: locked threads and preempted goroutines ----
 *
 * A goroutine with g->lockedm set runs only on that M: one that called
 * goc_lock_os_thread (the M runs nothing else, m->lockedg), or one
 * preempted asynchronously, whose M sleeps on the goroutine's own stack
 * (goc__preempt_park) until it may resume it. Such a goroutine waits in
 * the run queues like any other, so it gets its turn in the usual order;
 * the M that takes it from a queue does not run it but hands its own P to
 * the goroutine's M and wakes it (Go's startlockedm), then looks for work
 * without a P, which puts it to sleep. The sleeping M is on no idle list:
 * it is woken only that way, with the P in m->nextp.
 */

/* Sleeps until an M hands this one a P (start_locked_m); returns it.
 * Offline for QSBR meanwhile, as in stopm: the goroutine it keeps was
 * stopped outside goc (or is parked), so it holds no map reference, and
 * grace periods must not wait for the end of its turn. */
static goc__p *wait_for_handed_p(goc__m *m)
{
	goc__qsbr_offline(&m->qsbr);
	while (goc__load_acquire(&m->park_word) == 0)
		goc__prim_futex_wait(&m->park_word, 0, 0);
	goc__store_relaxed(&m->park_word, 0);
	goc__qsbr_online(&m->qsbr);
	goc__p *p = m->nextp;
	m->nextp = NULL;
	return p;
}

/* g, which m took from a run queue, may run only on g->lockedm: give that
 * M our P. On g0. */
static void start_locked_m(goc__m *m, goc__g *g)
{
	goc__m *lm = g->lockedm;
	goc__p *p = m->p;
	m->p = NULL;
	if (m->spinning)
		reset_spinning(m);
	lm->nextp = p;
	m_wake(lm);
}

/* m's locked goroutine is not running: lend m's P to the others until
 * the goroutine is handed back with a P. On g0. */
static void stop_locked_m(goc__m *m)
{
	goc__p *p = m->p;
	if (p) {
		m->p = NULL;
		goc__handoffp(p);
	}
	goc__acquirep(m, wait_for_handed_p(m));
}

/* Preempted g waits, still on m, for its turn: queued at the back of the
 * global queue (as Go queues preempted goroutines), while m's P runs the
 * others on another M. */
static void preempt_wait_on_m(goc__m *m, goc__g *g, goc__p *p)
{
	goc__m *was_locked = g->lockedm;
	if (goc__tracing())
		goc__trace_preempt(m);
	g->lockedm = m;
	m->p = NULL;
	goc__store_relaxed(&p->curg, NULL);
	goc__store_release(&g->state, G_RUNNABLE);
	goc__lock_acquire(&goc__sched.lock);
	goc__globrunq_put_batch_locked(&g, 1);
	goc__lock_release(&goc__sched.lock);
	goc__handoffp(p);
	p = wait_for_handed_p(m);
	goc__acquirep(m, p);
	g->lockedm = was_locked;
	goc__store_relaxed(&g->state, G_RUNNING);
	goc__store_relaxed(&p->switches, p->switches + 1);
	goc__store_relaxed(&p->curg, g);
	if (goc__tracing())
		goc__trace_syscall_resume(m);
}

/* A goroutine that ran on without its lent P, stopped in the program's
 * code: it takes a P back, waiting on its M for one if none is free. */
static void lent_return_same_m(goc__m *m, goc__g *g)
{
	if (goc__lent_try_return(m))
		return;
	goc__m *was_locked = g->lockedm;
	g->lockedm = m;
	goc__store_release(&g->state, G_RUNNABLE);
	goc__globrunq_put(g);
	wakep();
	goc__p *p = wait_for_handed_p(m);
	goc__acquirep(m, p);
	g->lockedm = was_locked;
	goc__store_relaxed(&g->state, G_RUNNING);
	goc__store_relaxed(&p->curg, g);
}

void goc__preempt_park(void)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (!g)
		return;
	if (!m->p) {
		if (m->lent) {
			int saved = *m->errno_ptr;
			lent_return_same_m(m, g);
			*m->errno_ptr = saved;
		}
		return;
	}
	goc__p *p = m->p;
	int saved_errno = *m->errno_ptr;
	/* A scheduling point: the stretch sysmon saw ends here. */
	goc__store_relaxed(&p->preempt_tick, 0);
	goc__store_relaxed(&p->schedtick, p->schedtick + 1);
	if (goc__load_relaxed(&p->long_run_ms) != 0)
		goc__long_run_fold(p);
	goc__fetch_add_relaxed(&goc__sched.npreempts, 1);
	run_due_timers(p);
	if (goc__runq_empty(p) && goc__load_relaxed(&goc__sched.runq_size) == 0) {
		*m->errno_ptr = saved_errno;
		return; /* nobody else wants the P */
	}
	if ((g->flags & G_FLAG_PREEMPT_MIGRATES) && !m->lockedg) {
		goc_yield();
		m = goc__m_self();
	} else {
		preempt_wait_on_m(m, g, p);
	}
	*m->errno_ptr = saved_errno;
}

void goc_lock_os_thread(void)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (!g)
		return; /* a plain thread is its own thread already */
	if (m->locked_depth == INT32_MAX)
		goc__panic("goc_lock_os_thread: nested too deeply");
	m->locked_depth++;
	m->lockedg = g;
	g->lockedm = m;
}

void goc_unlock_os_thread(void)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (!g || m->locked_depth == 0)
		return; /* as in Go: unlocking an unlocked goroutine does nothing */
	if (--m->locked_depth == 0) {
		m->lockedg = NULL;
		g->lockedm = NULL;
	}
}

static void *m_thread_main(void *arg)
{
	goc__m *m = arg;
	tls_m = m;
	m->errno_ptr = &errno;
	goc__preempt_thread_start(m);
	goc__cpuprof_thread_start();
	goc__stack_thread_init(m);
	san_g0_init(&m->g0);
	goc__qsbr_register(&m->qsbr);
	goc__qsbr_online(&m->qsbr);
	goc__acquirep(m, m->nextp);
	m->nextp = NULL;
	for (;;) {
		goc__g *g;
		if (m->lockedg) {
			/* Its goroutine blocked or yielded: lend the P out
			 * and sleep until the goroutine is runnable again. */
			stop_locked_m(m);
			g = m->lockedg;
		} else if (m->locked_next) {
			g = m->locked_next;
			m->locked_next = NULL;
		} else {
			g = find_runnable(m);
			if (m->spinning)
				reset_spinning(m);
		}
		if (g->lockedm && g->lockedm != m) {
			start_locked_m(m, g);
			continue;
		}
		g_switch(m, &m->g0, g, false);
	}
	return NULL;
}

/* ---- timers armed ---- */

void goc__sched_timer_armed(int64_t when)
{
	if (when >= goc__load_seqcst(&goc__sched.timer_m_until))
		return;
	goc__lock_acquire(&goc__sched.lock);
	goc__m *m = goc__sched.timer_m;
	/* With no timer M, an M blocked in the poller without a deadline
	 * comes back to take the new one (unless it is already woken). */
	if (!m && goc__sched.poll_m && goc__sched.poll_m->idle_listed)
		m = goc__sched.poll_m;
	if (m && when < goc__sched.timer_m_until) {
		midle_remove_locked(m);
		m->nextp = NULL;
		goc__lock_release(&goc__sched.lock);
		m_wake(m);
		return;
	}
	goc__lock_release(&goc__sched.lock);
	if (!m)
		wakep();
}

/* sysmon's safety net: a timer overdue by more than `slack` means no M is
 * about to run it (a timer M taken for other work, all Ps busy with
 * goroutines that do not switch): wake one as if it had just been armed. */
void goc__sched_check_timers(int64_t now, int64_t slack)
{
	int64_t next = timers_earliest_all();
	if (next && next < now - slack)
		goc__sched_timer_armed(next);
}

/* ---- deadlock detection ---- */

static int64_t count_goroutines(void)
{
	int64_t n = goc__load_relaxed(&goc__sched.foreign_created);
	int32_t np = goc__load_acquire(&goc__sched.nprocs_made);
	for (int32_t i = 0; i < np; i++) {
		goc__p *p = goc__sched.allp[i];
		n += goc__load_relaxed(&p->created) - goc__load_relaxed(&p->exited);
	}
	return n;
}

/* The calling M is about to sleep with no deadline; sched.lock held. If
 * every M is idle, no timer is pending, no goroutine is queued and nothing
 * outside goc can wake anyone, the program can never make progress. */
static void check_dead_locked(void)
{
	if (goc__sched.nmidle != goc__sched.mcount)
		return;
	if (!goc__load_seqcst(&goc__sched.main_active))
		return;
	if (goc__load_seqcst(&goc__sched.nforeign) > 0)
		return;
	/* A thread goc has never seen (not an M, not sysmon, not the one
	 * waiting in goc_main) may still send to a channel or spawn: only a
	 * process made of goc's own threads can be known to be stuck. */
	if (goc__prim_thread_count() > goc__sched.mcount + 2 + SAN_OWN_THREADS +
		    goc__symbolizer_threads() + goc__cpuprof_threads())
		return;
	if (goc__sched.runq_size > 0 || goc__sched.timer_m || timers_earliest_all())
		return;
	/* Goroutines parked on fds can be woken by the network. */
	if (goc__netpoll_has_waiters())
		return;
	int32_t n = goc__load_relaxed(&goc__sched.gomaxprocs);
	for (int32_t i = 0; i < n; i++)
		if (!goc__runq_empty(goc__sched.allp[i]))
			return;
	if (count_goroutines() <= 0)
		return;
	goc__fatal("all goroutines are asleep - deadlock!");
}

/* ---- runtime setup, goc_main, queries ---- */

static void runtime_init_once(void)
{
	pthread_key_create(&foreign_key, foreign_g_free);
	goc__stack_module_init();
	goc__golimit_init_from_env();
	goc__thread_limit_init_from_env();
	int32_t procs =
		(int32_t)goc__env_long("GOCMAXPROCS", goc__prim_cpu_count(), 1, GOC_MAX_PROCS);
	if (procs > GOC_MAX_PROCS)
		procs = GOC_MAX_PROCS;
	goc__sched.timer_m_until = INT64_MAX;
	goc__sched.coarse_now = goc__prim_nanotime();
	goc__sched.gomaxprocs = procs;
	for (int32_t i = procs - 1; i >= 0; i--) {
		goc__sched.allp[i] = p_new(i);
		goc__pidle_put(goc__sched.allp[i]);
	}
	goc__store_release(&goc__sched.nprocs_made, procs);
	goc__debug_init();
	goc__stack_install_overflow_handler();
	goc__preempt_init();
	goc__sysmon_start();
}

void goc__runtime_init(void)
{
	pthread_once(&init_once, runtime_init_once);
}

struct main_start {
	goc_fn fn;
	void *arg;
	goc_wg done;
};

static void main_goroutine(void *arg)
{
	struct main_start *ms = arg;
	ms->fn(ms->arg);
	/* Off before the waiting thread is released: from here on goroutines
	 * left blocked are not a deadlock, whatever the Ms see while goc_main
	 * is still returning. */
	goc__store_seqcst(&goc__sched.main_active, 0);
	goc_wg_done(&ms->done);
}

void goc_main(goc_fn fn, void *arg)
{
	if (!fn)
		goc__panic("goc_main: nil function");
	goc__runtime_init();
	if (goc__m_self())
		goc__panic("goc_main called from a goroutine");
	if (goc__xchg_seqcst(&goc__sched.main_active, 1))
		goc__panic("goc_main: already running in another thread");
	struct main_start ms = {.fn = fn, .arg = arg};
	goc_wg_init(&ms.done);
	goc_wg_add(&ms.done, 1);
	foreign_g();
	if (!spawn(main_goroutine, &ms, NULL, __builtin_return_address(0), true))
		goc__fatal("goc_main: cannot allocate the main goroutine's stack");
	/* This thread only waits for the main goroutine: from now on it must
	 * not count as a plain thread that might wake someone (deadlock
	 * detection). Not before: until the main goroutine is queued, an idle
	 * M would see it counted and findable nowhere. The Ms that went idle
	 * while we still counted skipped their check; we make it for them. */
	goc__fetch_sub_seqcst(&goc__sched.nforeign, 1);
	goc__lock_acquire(&goc__sched.lock);
	check_dead_locked();
	goc__lock_release(&goc__sched.lock);
	goc_wg_wait(&ms.done);
	goc__fetch_add_seqcst(&goc__sched.nforeign, 1);
}

int64_t goc_id(void)
{
	goc__m *m = goc__m_self();
	return m && m->curg ? m->curg->id : 0;
}

int64_t goc_num_goroutine(void)
{
	goc__runtime_init();
	return count_goroutines();
}

void goc_sched_stats_read(goc_sched_stats *out)
{
	goc__runtime_init();
	memset(out, 0, sizeof *out);
	goc__lock_acquire(&goc__sched.lock);
	out->procs = goc__sched.gomaxprocs;
	out->idle_procs = goc__load_relaxed(&goc__sched.npidle);
	out->threads = goc__sched.mcount;
	out->idle_threads = goc__sched.nmidle;
	out->spinning_threads = goc__load_relaxed(&goc__sched.nmspinning);
	out->global_runq = goc__sched.runq_size;
	goc__lock_release(&goc__sched.lock);
	out->goroutines = count_goroutines();
	out->steals = goc__load_relaxed(&goc__sched.nsteals);
	out->retakes = goc__load_relaxed(&goc__sched.nretakes);
	out->long_runs = goc__load_relaxed(&goc__sched.nlongruns);
	out->preemptions = goc__load_relaxed(&goc__sched.npreempts);
	out->blocked_handoffs = goc__load_relaxed(&goc__sched.nhandoffs);
	for (int i = 0; i < out->procs; i++) {
		goc__p *p = goc__sched.allp[i];
		uint32_t head = goc__load_acquire(&p->runq_head);
		uint32_t tail = goc__load_acquire(&p->runq_tail);
		out->p[i].runq =
			(int64_t)(uint32_t)(tail - head) + (goc__load_relaxed(&p->runnext) ? 1 : 0);
		out->p[i].switches = goc__load_relaxed(&p->switches);
		out->p[i].spawned = goc__load_relaxed(&p->created);
	}
}

int64_t goc_now(void)
{
	return goc__prim_nanotime();
}

int goc_maxprocs(int n)
{
	goc__runtime_init();
	int old = goc__load_seqcst(&goc__sched.gomaxprocs);
	if (n <= 0)
		return old;
	if (n > GOC_MAX_PROCS)
		return -EINVAL;
	goc__lock_acquire(&goc__sched.lock);
	old = goc__sched.gomaxprocs;
	while (goc__sched.nprocs_made < n) {
		goc__p *p = p_new(goc__sched.nprocs_made);
		goc__store_relaxed(&p->status, P_DEAD);
		goc__sched.allp[goc__sched.nprocs_made] = p;
		goc__store_release(&goc__sched.nprocs_made, goc__sched.nprocs_made + 1);
	}
	goc__store_seqcst(&goc__sched.gomaxprocs, n);
	/* Idle Ps beyond n retire now; running ones at their next schedule. */
	goc__p *retiring = NULL;
	goc__p **pp = &goc__sched.pidle;
	while (*pp) {
		goc__p *p = *pp;
		if (p->id >= n) {
			*pp = p->link;
			goc__fetch_sub_seqcst(&goc__sched.npidle, 1);
			p_retire_start_locked(p);
			p->link = retiring;
			retiring = p;
		} else {
			pp = &p->link;
		}
	}
	for (int32_t i = 0; i < n; i++)
		if (goc__load_relaxed(&goc__sched.allp[i]->status) == P_DEAD)
			goc__pidle_put(goc__sched.allp[i]);
	goc__lock_release(&goc__sched.lock);
	while (retiring) {
		goc__p *p = retiring;
		retiring = p->link;
		p->link = NULL;
		p_retire_finish(p);
	}
	wakep();
	return old;
}

/* ---- panics and fatal errors ---- */

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	char msg[1024];
	int n = snprintf(msg, sizeof msg, "%s", prefix);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	size_t len = strlen(msg);
	if (len < sizeof msg - 2) {
		msg[len++] = '\n';
		msg[len++] = '\n';
	}
	goc__prim_write_stderr(msg, len);
}

_Noreturn void goc__panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("panic: ", fmt, ap);
	va_end(ap);
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : tls_foreign_g;
	if (g && !(g->flags & G_FLAG_FOREIGN))
		goc__dump_g(2, g, goc__prim_nanotime());
	else
		goc__prim_write_stderr("(on a thread that is not a goroutine)\n", 38);
	abort();
}

_Noreturn void goc__fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("fatal error: ", fmt, ap);
	va_end(ap);
	goc__dump_all(2);
	_exit(2);
}
