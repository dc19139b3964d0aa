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
#include "../debug/trace.h"
#include "../net/netpoll.h"
#include "golimit.h"
#include "runq.h"
#include "runtime.h"
#include "sanitizer.h"

struct goc_sched goc_sched;

static __thread goc_m *tls_m;
static __thread goc_g *tls_foreign_g;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t foreign_key;

static void check_dead_locked(void);

#define SEQ_CST __ATOMIC_SEQ_CST
#define RLX __ATOMIC_RELAXED

/* ---- thread-local access ----
 * noinline: the compiler may otherwise keep a thread-local address from
 * before a context switch and use it after the goroutine moved to another
 * thread. */

__attribute__((noinline)) goc_m *goc_m_self(void)
{
	goc_m *m;
	m = tls_m;
	__asm__ __volatile__("" ::: "memory");
	return m;
}

static void foreign_g_free(void *g)
{
	__atomic_fetch_sub(&goc_sched.nforeign, 1, SEQ_CST);
	free(g);
}

/* The calling plain thread's stand-in goroutine, made on first use. */
__attribute__((noinline)) static goc_g *foreign_g(void)
{
	goc_g *g = tls_foreign_g;
	if (!g) {
		goc_runtime_init(); /* creates foreign_key, whose destructor unregisters */
		g = calloc(1, sizeof *g);
		if (!g)
			goc_fatal("out of memory for a thread's goc state");
		g->flags = G_FLAG_FOREIGN;
		g->state = G_RUNNING;
		__atomic_fetch_add(&goc_sched.nforeign, 1, SEQ_CST);
		tls_foreign_g = g;
		pthread_setspecific(foreign_key, g);
	}
	return g;
}

goc_g *goc_g_self(void)
{
	goc_m *m = goc_m_self();
	if (m)
		return m->curg;
	return foreign_g();
}

/* errno lives in thread-local storage: each M keeps the address of its
 * thread's errno, taken once on that thread, and a goroutine's errno is
 * copied out when it leaves an M and back in on whichever M resumes it. */
static void errno_save(goc_m *m, goc_g *g)
{
	g->saved_errno = *m->errno_ptr;
}

static void errno_restore(goc_m *m, goc_g *g)
{
	*m->errno_ptr = g->saved_errno;
}

static uint32_t fastrand(goc_m *m)
{
	/* xorshift64*, per M: no shared state. */
	uint64_t x = m->fastrand;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	m->fastrand = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

uint32_t goc_fastrand(void)
{
	goc_m *m = goc_m_self();
	if (m)
		return fastrand(m);
	static uint64_t shared = 0x9E3779B97F4A7C15ull;
	uint64_t x = __atomic_add_fetch(&shared, 0x9E3779B97F4A7C15ull, RLX);
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	return (uint32_t)((x ^ (x >> 27)) >> 32);
}

/* ---- Ps ---- */

static goc_p *p_new(int32_t id)
{
	goc_p *p = aligned_alloc(64, (sizeof(goc_p) + 63) & ~(size_t)63);
	if (!p)
		goc_fatal("out of memory allocating P %d", id);
	memset(p, 0, sizeof *p);
	p->id = id;
	__atomic_store_n(&p->status, P_IDLE, RLX);
	p->timers = goc_rtimer_heap_new();
	return p;
}

/* sched.lock held. */
void pidle_put(goc_p *p)
{
	if (goc_tracing())
		goc_trace_proc_stop(p);
	__atomic_store_n(&p->status, P_IDLE, RLX);
	p->m = NULL;
	p->link = goc_sched.pidle;
	goc_sched.pidle = p;
	__atomic_fetch_add(&goc_sched.npidle, 1, SEQ_CST);
}

/* sched.lock held. */
goc_p *pidle_get(void)
{
	goc_p *p = goc_sched.pidle;
	if (p) {
		goc_sched.pidle = p->link;
		p->link = NULL;
		__atomic_store_n(&p->status, P_RUNNING, RLX);
		__atomic_fetch_sub(&goc_sched.npidle, 1, SEQ_CST);
	}
	return p;
}

void acquirep(goc_m *m, goc_p *p)
{
	if (goc_tracing())
		goc_trace_proc_start(p);
	m->p = p;
	p->m = m;
	__atomic_store_n(&p->status, P_RUNNING, RLX);
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
static void p_retire_start_locked(goc_p *p)
{
	__atomic_store_n(&p->status, P_RETIRING, RLX);
	p->m = NULL;
	runq_drain_to_global_locked(p);
}

static void wakep(void);

static void p_retire_finish(goc_p *p)
{
	goc_timers_move(p->timers, goc_sched.allp[0]);
	goc_stack_drain_p(p);
	goc_g_drain_p(p);
	goc_lock_acquire(&goc_sched.lock);
	if (p->id < goc_sched.gomaxprocs)
		pidle_put(p);
	else
		__atomic_store_n(&p->status, P_DEAD, RLX);
	goc_lock_release(&goc_sched.lock);
	wakep();
}

/* ---- Ms ---- */

/* The poller M publishes in_netpoll and then reads park_word before it
 * blocks; we store park_word and then read in_netpoll (all sequentially
 * consistent): either it sees our 1 and does not block, or we see it
 * polling and break its epoll_wait. */
static void m_wake(goc_m *m)
{
	__atomic_store_n(&m->park_word, 1, SEQ_CST);
	if (__atomic_load_n(&m->in_netpoll, SEQ_CST))
		netpoll_break();
	else
		prim_futex_wake(&m->park_word, 1);
}

/* sched.lock held. */
static void midle_remove_locked(goc_m *m)
{
	goc_m **pp = &goc_sched.midle;
	while (*pp && *pp != m)
		pp = &(*pp)->schedlink;
	if (*pp) {
		*pp = m->schedlink;
		goc_sched.nmidle--;
	}
	m->idle_listed = false;
	m->schedlink = NULL;
	if (goc_sched.timer_m == m) {
		goc_sched.timer_m = NULL;
		__atomic_store_n(&goc_sched.timer_m_until, INT64_MAX, SEQ_CST);
	}
	/* poll_m is cleared by the poller itself, once out of epoll_wait
	 * (stopm_netpoll): see the top of the file. */
}

/* An idle M, preferably neither the one waiting for the next timer nor the
 * one blocked in the poller (taking it would leave nobody waiting).
 * sched.lock held. */
static goc_m *midle_get_locked(void)
{
	goc_m *m = goc_sched.midle;
	while (m && (m == goc_sched.timer_m || m == goc_sched.poll_m))
		m = m->schedlink;
	if (!m)
		m = goc_sched.midle;
	if (m)
		midle_remove_locked(m);
	return m;
}

static void *m_thread_main(void *arg);

/* sched.lock held; the new M starts with nextp. */
static goc_m *m_new_locked(goc_p *nextp, bool spinning)
{
	goc_thread_limit_check_locked(goc_sched.mcount + 1);
	goc_m *m = aligned_alloc(64, (sizeof(goc_m) + 63) & ~(size_t)63);
	if (!m)
		goc_fatal("out of memory creating a thread");
	memset(m, 0, sizeof *m);
	m->id = goc_sched.mcount++;
	m->nextp = nextp;
	m->spinning = spinning;
	m->g0.flags = G_FLAG_G0;
	m->fastrand = 0x9E3779B97F4A7C15ull * (uint64_t)(m->id + 1) | 1;
	m->alllink = goc_sched.allm;
	goc_sched.allm = m;
	if (!prim_thread_start(m_thread_main, m))
		goc_fatal("cannot create an OS thread for the scheduler (errno %d)", errno);
	return m;
}

/* Gets an M running with P p (spinning as asked). sched.lock held. */
void startm_locked(goc_p *p, bool spinning)
{
	goc_m *m = midle_get_locked();
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
	if (__atomic_load_n(&goc_sched.npidle, SEQ_CST) == 0)
		return;
	if (__atomic_load_n(&goc_sched.nmspinning, SEQ_CST) != 0)
		return;
	int32_t zero = 0;
	if (!__atomic_compare_exchange_n(&goc_sched.nmspinning, &zero, 1, false, SEQ_CST, RLX))
		return;
	goc_lock_acquire(&goc_sched.lock);
	goc_p *p = pidle_get();
	if (!p) {
		goc_lock_release(&goc_sched.lock);
		__atomic_fetch_sub(&goc_sched.nmspinning, 1, SEQ_CST);
		return;
	}
	startm_locked(p, true);
	goc_lock_release(&goc_sched.lock);
}

static void reset_spinning(goc_m *m)
{
	m->spinning = false;
	if (__atomic_sub_fetch(&goc_sched.nmspinning, 1, SEQ_CST) == 0)
		wakep();
}

/* ---- switching ---- */

static goc_m *post_switch(goc_m *m);
static void g_entry(void *transfer);

/* A goroutine about to run for the first time gets its stack now, from
 * this P's cache: usually the one a goroutine just finished with. */
static void first_run_prepare(goc_m *m, goc_g *g)
{
	if (!goc_stack_attach(m->p, g))
		goc_fatal("out of address space for the stack of goroutine %lld (size class %d)",
			  (long long)g->id, g->size_class);
	san_g_created(g);
	g->sp = goc_ctx_make((void *)((uintptr_t)g->slot & ~(uintptr_t)15), g_entry);
}

/*
 * Switches m from `from` to `to`; returns, once `from` is resumed, the M
 * now running it. The caller has set m->post for what `from` needs done.
 */
static goc_m *g_switch(goc_m *m, goc_g *from, goc_g *to, bool from_exits)
{
	/* The one place every run of a goroutine begins and ends: park,
	 * yield, exit and first run all come through here. */
	if (goc_tracing())
		goc_trace_switch(m, from, to);
	if (to->flags & G_FLAG_G0) {
		m->curg = NULL;
		/* NULL for a goroutine leaving a syscall section without a P. */
		if (m->p)
			__atomic_store_n(&m->p->curg, NULL, RLX);
	} else {
		if (!to->sp)
			first_run_prepare(m, to);
		m->curg = to;
		to->m = m;
		__atomic_store_n(&to->state, G_RUNNING, RLX);
		__atomic_store_n(&m->p->switches, m->p->switches + 1, RLX);
		__atomic_store_n(&m->p->curg, to, RLX);
	}
	errno_save(m, from);
	san_before_switch(from, to, from_exits);
	m = goc_ctx_switch(&from->sp, to->sp, m);
	san_after_switch(from);
	m = post_switch(m);
	errno_restore(m, from);
	return m;
}

/* Runs timers of p that are due. Called with no runtime lock held. */
static void run_due_timers(goc_p *p)
{
	int64_t next = goc_timers_earliest(p->timers);
	if (next == 0)
		return;
	int64_t now = prim_nanotime();
	if (next <= now)
		goc_timers_run(p->timers, now);
}

static inline void make_runnable(goc_g *g);

/* The unlock step of prev's park said "do not park after all". */
static void park_called_off(goc_g *prev)
{
	if (goc_tracing())
		goc_trace_unblock(prev, true);
	make_runnable(prev);
}

static goc_m *post_switch(goc_m *m)
{
	goc_g *prev = m->post_g;
	switch (m->post) {
	case POST_NONE:
		break;
	case POST_PARK:
		m->post = POST_NONE;
		if (!m->post_unlock(m->post_lock))
			park_called_off(prev);
		break;
	case POST_YIELD:
		m->post = POST_NONE;
		runq_put(m->p, prev, false);
		break;
	case POST_EXIT:
		m->post = POST_NONE;
		goc_stack_detach(m->p, prev);
		goc_g_free(m->p, prev);
		break;
	}
	if (m->p)
		run_due_timers(m->p);
	return m;
}

/* The next goroutine from p's own queues, or NULL; never blocks. */
static bool p_retiring(goc_p *p)
{
	return p->id >= __atomic_load_n(&goc_sched.gomaxprocs, RLX);
}

/* The next goroutine from p's own queues (and now and then the global
 * queue), or NULL if p's local queue is empty. */
static goc_g *next_local(goc_p *p)
{
	/* An atomic store (a plain one on the CPUs goc runs on): sysmon reads
	 * the tick to tell a goroutine that runs on from one that yields. */
	uint32_t tick = p->schedtick + 1;
	__atomic_store_n(&p->schedtick, tick, RLX);
	if (__builtin_expect(__atomic_load_n(&p->long_run_ms, RLX) != 0, 0))
		goc_long_run_fold(p);
	/* Every 61st pick comes from the global queue, so goroutines there
	 * are not starved by two that keep readying each other locally. */
	if (tick % 61 == 0 && __atomic_load_n(&goc_sched.runq_size, RLX) > 0) {
		goc_lock_acquire(&goc_sched.lock);
		goc_g *g = globrunq_get_locked(p, 1);
		goc_lock_release(&goc_sched.lock);
		if (g)
			return g;
	}
	return runq_get(p);
}

/* Leaves the current goroutine for the next runnable one of this P, or for
 * g0 when there is none. Returns the M that resumes it later. */
static goc_m *switch_away(goc_m *m, goc_g *g, bool exits)
{
	/* A retiring P goes back through g0, which hands it in. */
	goc_g *next = p_retiring(m->p) ? NULL : next_local(m->p);
	return g_switch(m, g, next ? next : &m->g0, exits);
}

/* ---- park / ready ---- */

bool goc_park_unlock_lock(void *lock)
{
	goc_lock_release((goc_lock *)lock);
	return true;
}

static void foreign_park(goc_g *g, goc_unlock_fn unlockf, void *lock, goc_wait_reason r)
{
	g->wait_reason = (uint8_t)r;
	g->wait_since = __atomic_load_n(&goc_sched.coarse_now, RLX);
	__atomic_store_n(&g->state, G_WAITING, __ATOMIC_RELEASE);
	if (!unlockf(lock)) {
		__atomic_store_n(&g->state, G_RUNNING, RLX);
		return;
	}
	while (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) == G_WAITING)
		prim_futex_wait(&g->state, G_WAITING, 0);
	__atomic_store_n(&g->state, G_RUNNING, RLX);
	g->wait_reason = WAIT_NONE;
}

/* Records what the switch away from parking goroutine g must do. */
static void park_prepare(goc_m *m, goc_g *g, goc_unlock_fn unlockf, void *lock,
			 goc_wait_reason r)
{
	/* An unguarded stack's overflow shows in the canary below it. It is
	 * checked when a goroutine blocks or yields, not when it exits: the
	 * canary sits in another goroutine's (cold) page, and reading it doubled
	 * the cost of a short-lived goroutine. A finished goroutine's overflow
	 * is caught when the damaged slot below is next reused (its magic). */
	if (!goc_stack_canary_ok(g))
		goc_stack_overflow_canary(g);
	g->wait_reason = (uint8_t)r;
	/* A coarse clock (sysmon refreshes it): exact enough for "waiting 3
	 * minutes" and free on this path. */
	g->wait_since = __atomic_load_n(&goc_sched.coarse_now, RLX);
	__atomic_store_n(&g->state, G_WAITING, RLX);
	m->post = POST_PARK;
	m->post_g = g;
	m->post_unlock = unlockf;
	m->post_lock = lock;
}

/*
 * goc_park while the block profile is on (debug/blockprof.c): a wait it
 * counts is timed and, once the goroutine runs again, recorded with the
 * stack it waited in. The profile finds the waiting code by skipping a
 * fixed number of frames (the recorder, this function, goc_park), so
 * neither call on the way may be a tail call: the empty asm below and the
 * store after the call in goc_park see to it.
 */
static __attribute__((noinline)) void park_profiled(goc_m *m, goc_g *g, goc_unlock_fn unlockf,
						   void *lock, goc_wait_reason r)
{
	int64_t since = goc_blockprof_start(r);
	park_prepare(m, g, unlockf, lock, r);
	switch_away(m, g, false);
	if (since)
		goc_blockprof_record(since);
	__asm__ __volatile__("");
}

void goc_park(goc_unlock_fn unlockf, void *lock, goc_wait_reason r)
{
	goc_m *m = goc_m_self();
	goc_g *g = m ? m->curg : NULL;
	if (!g) {
		if (m)
			goc_fatal("goc_park called on the scheduler's own stack");
		foreign_park(foreign_g(), unlockf, lock, r);
		return;
	}
	goc_check_may_block(m, "a blocking call");
	if (__builtin_expect(goc_blockprof_on(), 0)) {
		park_profiled(m, g, unlockf, lock, r);
	} else {
		park_prepare(m, g, unlockf, lock, r);
		switch_away(m, g, false);
	}
	/* After both, so park_profiled is never a tail call. */
	g->wait_reason = WAIT_NONE;
}

void goc_park_without_p(goc_unlock_fn unlockf, void *lock, goc_wait_reason r)
{
	goc_m *m = goc_m_self();
	goc_g *g = m->curg;
	park_prepare(m, g, unlockf, lock, r);
	g_switch(m, g, &m->g0, false);
	g->wait_reason = WAIT_NONE;
}

void goc_ready(goc_g *g)
{
	if (g->flags & G_FLAG_FOREIGN) {
		__atomic_store_n(&g->state, G_RUNNABLE, __ATOMIC_RELEASE);
		prim_futex_wake(&g->state, 1);
		return;
	}
	if (goc_tracing())
		goc_trace_unblock(g, false);
	make_runnable(g);
}

/* goc_ready for a goroutine (not a plain thread's stand-in). Inlined:
 * a call of its own on every ready measurably slows channel hand-offs. */
static inline __attribute__((always_inline)) void make_runnable(goc_g *g)
{
	/* A plain store, not a CAS: exactly one party can ready a parked
	 * goroutine, the one that took it off a wait queue under that queue's
	 * lock (or won a select's claim), so nobody races us here. The check
	 * catches a runtime bug, not a user error. Release: what the readier
	 * wrote for the goroutine (a received value) is visible when it runs. */
	uint32_t state = __atomic_load_n(&g->state, RLX);
	if (state != G_WAITING)
		goc_fatal("goc_ready: goroutine %lld is not waiting (state %u)", (long long)g->id,
			  state);
	__atomic_store_n(&g->state, G_RUNNABLE, __ATOMIC_RELEASE);
	goc_m *m = goc_m_self();
	if (m && m->p)
		runq_put(m->p, g, true);
	else
		globrunq_put(g);
	wakep();
}

/* ---- spawning and exiting ---- */

static int64_t goid_new(goc_p *p)
{
	enum { BATCH = 16 };
	if (!p)
		return __atomic_add_fetch(&goc_sched.goid_gen, 1, RLX);
	if (p->goid_next == p->goid_end) {
		int64_t end = __atomic_add_fetch(&goc_sched.goid_gen, BATCH, RLX);
		p->goid_next = end - BATCH + 1;
		p->goid_end = end + 1;
	}
	return p->goid_next++;
}

static _Noreturn void g_exit(goc_m *m, goc_g *g)
{
	__atomic_store_n(&g->state, G_DEAD, __ATOMIC_RELEASE);
	goc_p *p = m->p;
	__atomic_store_n(&p->exited, p->exited + 1, RLX);
	m->post = POST_EXIT;
	m->post_g = g;
	switch_away(m, g, true);
	goc_fatal("a finished goroutine was resumed");
}

static void g_entry(void *transfer)
{
	goc_m *m = transfer;
	goc_g *g = m->curg;
	san_after_switch(g);
	m = post_switch(m);
	g->fn(g->arg);
	g_exit(goc_m_self(), g);
}

static int64_t spawn(goc_fn fn, void *arg, const goc_go_options *opts, void *pc, bool is_main)
{
	if (!fn)
		goc_panic("goc_go: nil function");
	goc_runtime_init();
	size_t size = opts && opts->stack_size ? opts->stack_size : goc_stack_default_size();
	if (is_main && size < ((size_t)8 << 20))
		size = (size_t)8 << 20;
	int k = goc_stack_class_of(size, NULL);
	if (k < 0) {
		errno = EINVAL;
		return 0;
	}
	goc_m *m = goc_m_self();
	goc_p *p = m ? m->p : NULL;
	/* The goroutine cap (golimit.h): one relaxed load when none is set. */
	bool capped = !is_main && goc_golimit_active();
	if (capped && !goc_golimit_enter())
		return 0;
	goc_g *g = goc_g_alloc(p);
	if (!g) {
		if (capped)
			goc_golimit_leave();
		errno = ENOMEM;
		return 0;
	}
	g->size_class = (uint8_t)k;
	goc_g *parent = m ? m->curg : tls_foreign_g;
	g->id = goid_new(p);
	g->parent_id = parent ? parent->id : 0;
	g->create_pc = pc;
	g->fn = fn;
	g->arg = arg;
	if (is_main)
		g->flags |= G_FLAG_MAIN;
	if (opts && opts->name) {
		strncpy(g->name, opts->name, sizeof g->name - 1);
		g->name[sizeof g->name - 1] = 0;
	}
	__atomic_store_n(&g->state, G_RUNNABLE, RLX);
	if (goc_tracing())
		goc_trace_create(g);
	int64_t id = g->id;
	if (p) {
		__atomic_store_n(&p->created, p->created + 1, RLX);
		runq_put(p, g, true);
	} else {
		__atomic_fetch_add(&goc_sched.foreign_created, 1, RLX);
		if (!m) /* not a goroutine in a syscall section: a plain thread */
			foreign_g();
		globrunq_put(g);
	}
	if (capped)
		goc_golimit_leave();
	wakep();
	return id;
}

int64_t goc_go(goc_fn fn, void *arg)
{
	return spawn(fn, arg, NULL, __builtin_return_address(0), false);
}

int64_t goc_go_opts(goc_fn fn, void *arg, const goc_go_options *opts)
{
	if (opts && opts->stack_size > ((size_t)1 << 30)) {
		errno = EINVAL;
		return 0;
	}
	return spawn(fn, arg, opts, __builtin_return_address(0), false);
}

void goc_yield(void)
{
	goc_m *m = goc_m_self();
	goc_g *g = m ? m->curg : NULL;
	if (!g) {
		sched_yield();
		return;
	}
	goc_check_may_block(m, "goc_yield");
	goc_p *p = m->p;
	if (!goc_stack_canary_ok(g))
		goc_stack_overflow_canary(g);
	if (p_retiring(p)) {
		/* Queue ourselves on it and let g0 hand its goroutines to the
		 * global queue. */
		__atomic_store_n(&g->state, G_RUNNABLE, RLX);
		m->post = POST_YIELD;
		m->post_g = g;
		g_switch(m, g, &m->g0, false);
		return;
	}
	/* next_local returns NULL only for an empty local queue, which the
	 * global queue and stealing may then fill. */
	goc_g *next = next_local(p);
	if (!next && __atomic_load_n(&goc_sched.runq_size, RLX) > 0) {
		goc_lock_acquire(&goc_sched.lock);
		next = globrunq_get_locked(p, 0);
		goc_lock_release(&goc_sched.lock);
	}
	if (!next) {
		/* Others may be queued behind a busy P: take some. */
		int32_t n = __atomic_load_n(&goc_sched.gomaxprocs, RLX);
		for (int32_t i = 0; i < n && !next; i++) {
			goc_p *victim = goc_sched.allp[i];
			if (victim != p)
				next = runq_steal(p, victim, false);
		}
	}
	if (!next) {
		run_due_timers(p);
		return;
	}
	__atomic_store_n(&g->state, G_RUNNABLE, RLX);
	m->post = POST_YIELD;
	m->post_g = g;
	g_switch(m, g, next, false);
}

/* ---- finding work (on g0) ---- */

static goc_g *steal_work(goc_m *m)
{
	goc_p *p = m->p;
	int32_t n = __atomic_load_n(&goc_sched.gomaxprocs, RLX);
	for (int round = 0; round < 4; round++) {
		uint32_t start = fastrand(m);
		for (int32_t i = 0; i < n; i++) {
			goc_p *victim = goc_sched.allp[(start + (uint32_t)i) % (uint32_t)n];
			if (victim == p)
				continue;
			goc_g *g = runq_steal(p, victim, round == 3);
			if (g) {
				__atomic_fetch_add(&goc_sched.nsteals, 1, RLX);
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
	int32_t n = __atomic_load_n(&goc_sched.nprocs_made, __ATOMIC_ACQUIRE);
	for (int32_t i = 0; i < n; i++) {
		int64_t w = goc_timers_earliest(goc_sched.allp[i]->timers);
		if (w && (!best || w < best))
			best = w;
	}
	return best;
}

static void timers_run_all(int64_t now)
{
	int32_t n = __atomic_load_n(&goc_sched.nprocs_made, __ATOMIC_ACQUIRE);
	for (int32_t i = 0; i < n; i++) {
		struct timer_heap *h = goc_sched.allp[i]->timers;
		int64_t w = goc_timers_earliest(h);
		if (w && w <= now)
			goc_timers_run(h, now);
	}
}

static bool any_runq_work(void)
{
	if (__atomic_load_n(&goc_sched.runq_size, SEQ_CST) > 0)
		return true;
	int32_t n = __atomic_load_n(&goc_sched.gomaxprocs, SEQ_CST);
	for (int32_t i = 0; i < n; i++)
		if (!runq_empty(goc_sched.allp[i]))
			return true;
	return false;
}

/*
 * stopm's wait for the poller M: blocks in netpoll() until an fd is ready,
 * the deadline `until` (0: none) passes, or m_wake breaks the wait. Then it
 * leaves the idle list (or, if a waker already took it off, takes the
 * handed-over P), takes an idle P if it found goroutines and has none, and
 * readies them there (on the global queue if every P is busy). Returns
 * holding a P, with m->nextp clear, or with no P.
 */
static void stopm_netpoll(goc_m *m, int64_t until)
{
	goc_g *ready[128];
	int n = 0;
	__atomic_store_n(&m->in_netpoll, true, SEQ_CST);
	if (__atomic_load_n(&m->park_word, SEQ_CST) == 0)
		n = netpoll(until ? until : INT64_MAX, ready, 128);
	__atomic_store_n(&m->in_netpoll, false, SEQ_CST);
	goc_lock_acquire(&goc_sched.lock);
	bool claimed = !m->idle_listed;
	if (!claimed)
		midle_remove_locked(m);
	if (goc_sched.poll_m == m)
		goc_sched.poll_m = NULL;
	goc_lock_release(&goc_sched.lock);
	if (claimed) {
		/* A waker took us off the list: its store to park_word comes. */
		while (__atomic_load_n(&m->park_word, __ATOMIC_ACQUIRE) == 0)
			prim_futex_wait(&m->park_word, 0, 0);
		__atomic_store_n(&m->park_word, 0, RLX);
	}
	if (m->nextp) {
		acquirep(m, m->nextp);
		m->nextp = NULL;
	} else if (n > 0) {
		goc_lock_acquire(&goc_sched.lock);
		goc_p *p = pidle_get();
		goc_lock_release(&goc_sched.lock);
		if (p)
			acquirep(m, p);
	}
	for (int i = 0; i < n; i++)
		goc_ready(ready[i]);
	netpoll_delivered(n);
}

/* Sleeps until woken or until the earliest timer of all Ps. Returns with
 * m->nextp set if a P was handed over, or (as the poller M) holding one. */
static void stopm(goc_m *m)
{
	goc_lock_acquire(&goc_sched.lock);
	/* The deadline is read under sched.lock: a timer armed after any
	 * earlier reading either shows here, or its goc_sched_timer_armed
	 * (which takes the lock when nobody waits for an earlier deadline)
	 * runs after we are on the idle list and wakes us. */
	int64_t until = timers_earliest_all();
	if (until) {
		if (!goc_sched.timer_m || until < goc_sched.timer_m_until) {
			goc_sched.timer_m = m;
			__atomic_store_n(&goc_sched.timer_m_until, until, SEQ_CST);
		} else {
			until = 0; /* the timer M covers it */
		}
	}
	/* While goroutines wait for I/O and a P is idle (as in Go, where the
	 * M that just gave up its P polls), one idle M waits in the poller:
	 * for the fds, and for the timer deadline if it took one above. With
	 * every P busy, the Ms running them poll without blocking whenever
	 * their queues run dry, and readied goroutines stay on their P. */
	bool poller = !goc_sched.poll_m && netpoll_has_waiters() &&
		      __atomic_load_n(&goc_sched.npidle, RLX) > 0;
	if (poller)
		goc_sched.poll_m = m;
	m->idle_listed = true;
	m->schedlink = goc_sched.midle;
	goc_sched.midle = m;
	goc_sched.nmidle++;
	if (!until && !poller)
		check_dead_locked();
	goc_lock_release(&goc_sched.lock);

	if (poller) {
		stopm_netpoll(m, until);
		return;
	}
	while (__atomic_load_n(&m->park_word, __ATOMIC_ACQUIRE) == 0) {
		if (prim_futex_wait(&m->park_word, 0, until))
			continue;
		goc_lock_acquire(&goc_sched.lock);
		if (m->idle_listed) {
			midle_remove_locked(m);
			goc_lock_release(&goc_sched.lock);
			return; /* timed out: go run the timers */
		}
		goc_lock_release(&goc_sched.lock);
		until = 0; /* someone took us off the list: a wake-up is coming */
	}
	__atomic_store_n(&m->park_word, 0, RLX);
}

static goc_g *find_runnable(goc_m *m)
{
	for (;;) {
		goc_p *p = m->p;
		if (p) {
			if (p_retiring(p)) {
				goc_lock_acquire(&goc_sched.lock);
				/* Again under the lock: gomaxprocs may have grown back. */
				bool retire = p->id >= goc_sched.gomaxprocs;
				if (retire)
					p_retire_start_locked(p);
				goc_lock_release(&goc_sched.lock);
				if (retire) {
					m->p = NULL;
					if (m->spinning) {
						m->spinning = false;
						__atomic_fetch_sub(&goc_sched.nmspinning, 1, SEQ_CST);
					}
					p_retire_finish(p);
					continue;
				}
			}
			int64_t due = timers_earliest_all();
			if (due && due <= prim_nanotime())
				timers_run_all(prim_nanotime());
			goc_g *g = next_local(p);
			if (g)
				return g;
			if (__atomic_load_n(&goc_sched.runq_size, RLX) > 0) {
				goc_lock_acquire(&goc_sched.lock);
				g = globrunq_get_locked(p, 0);
				goc_lock_release(&goc_sched.lock);
				if (g)
					return g;
			}
			/* Goroutines whose fds are ready, unless an M blocked in
			 * the poller will see them anyway. */
			if (netpoll_has_waiters() && !netpoll_blocked()) {
				goc_g *ready[128];
				int n = netpoll(0, ready, 128);
				for (int i = 0; i < n; i++)
					goc_ready(ready[i]);
				netpoll_delivered(n);
				if (n > 0 && (g = next_local(p)))
					return g;
			}
			int32_t busy = __atomic_load_n(&goc_sched.gomaxprocs, RLX) -
				       __atomic_load_n(&goc_sched.npidle, RLX);
			if (m->spinning ||
			    2 * __atomic_load_n(&goc_sched.nmspinning, RLX) < busy) {
				if (!m->spinning) {
					m->spinning = true;
					__atomic_fetch_add(&goc_sched.nmspinning, 1, SEQ_CST);
				}
				g = steal_work(m);
				if (g)
					return g;
			}
		}

		/* Nothing to do: give the P back and sleep. */
		int64_t until = timers_earliest_all();
		goc_lock_acquire(&goc_sched.lock);
		if (p && goc_sched.runq_size > 0) {
			goc_g *g = globrunq_get_locked(p, 0);
			goc_lock_release(&goc_sched.lock);
			return g;
		}
		if (p) {
			pidle_put(p);
			m->p = NULL;
		}
		goc_lock_release(&goc_sched.lock);

		if (m->spinning) {
			m->spinning = false;
			__atomic_fetch_sub(&goc_sched.nmspinning, 1, SEQ_CST);
			/* Work published before we stopped spinning may not have
			 * woken anyone: look once more. */
			if (any_runq_work()) {
				goc_lock_acquire(&goc_sched.lock);
				goc_p *again = pidle_get();
				goc_lock_release(&goc_sched.lock);
				if (again) {
					acquirep(m, again);
					m->spinning = true;
					__atomic_fetch_add(&goc_sched.nmspinning, 1, SEQ_CST);
					continue;
				}
			}
		}
		if (until && until <= prim_nanotime()) {
			goc_lock_acquire(&goc_sched.lock);
			goc_p *tp = pidle_get();
			goc_lock_release(&goc_sched.lock);
			if (tp) {
				acquirep(m, tp);
				continue;
			}
			/* Every P is busy: fire the timers from here; what they
			 * ready goes to the global queue. */
			timers_run_all(prim_nanotime());
			continue;
		}
		stopm(m);
		if (m->nextp) {
			acquirep(m, m->nextp);
			m->nextp = NULL;
		}
	}
}

static void *m_thread_main(void *arg)
{
	goc_m *m = arg;
	tls_m = m;
	m->errno_ptr = &errno;
	goc_cpuprof_thread_start();
	goc_stack_thread_init(m);
	san_g0_init(&m->g0);
	acquirep(m, m->nextp);
	m->nextp = NULL;
	for (;;) {
		goc_g *g = find_runnable(m);
		if (m->spinning)
			reset_spinning(m);
		g_switch(m, &m->g0, g, false);
	}
	return NULL;
}

/* ---- timers armed ---- */

void goc_sched_timer_armed(int64_t when)
{
	if (when >= __atomic_load_n(&goc_sched.timer_m_until, SEQ_CST))
		return;
	goc_lock_acquire(&goc_sched.lock);
	goc_m *m = goc_sched.timer_m;
	/* With no timer M, an M blocked in the poller without a deadline
	 * comes back to take the new one (unless it is already woken). */
	if (!m && goc_sched.poll_m && goc_sched.poll_m->idle_listed)
		m = goc_sched.poll_m;
	if (m && when < goc_sched.timer_m_until) {
		midle_remove_locked(m);
		m->nextp = NULL;
		goc_lock_release(&goc_sched.lock);
		m_wake(m);
		return;
	}
	goc_lock_release(&goc_sched.lock);
	if (!m)
		wakep();
}

/* sysmon's safety net: a timer overdue by more than `slack` means no M is
 * about to run it (a timer M taken for other work, all Ps busy with
 * goroutines that do not switch): wake one as if it had just been armed. */
void goc_sched_check_timers(int64_t now, int64_t slack)
{
	int64_t next = timers_earliest_all();
	if (next && next < now - slack)
		goc_sched_timer_armed(next);
}

/* ---- deadlock detection ---- */

static int64_t count_goroutines(void)
{
	int64_t n = __atomic_load_n(&goc_sched.foreign_created, RLX);
	int32_t np = __atomic_load_n(&goc_sched.nprocs_made, __ATOMIC_ACQUIRE);
	for (int32_t i = 0; i < np; i++) {
		goc_p *p = goc_sched.allp[i];
		n += __atomic_load_n(&p->created, RLX) - __atomic_load_n(&p->exited, RLX);
	}
	return n;
}

/* The calling M is about to sleep with no deadline; sched.lock held. If
 * every M is idle, no timer is pending, no goroutine is queued and nothing
 * outside goc can wake anyone, the program can never make progress. */
static void check_dead_locked(void)
{
	if (goc_sched.nmidle != goc_sched.mcount)
		return;
	if (!__atomic_load_n(&goc_sched.main_active, SEQ_CST))
		return;
	if (__atomic_load_n(&goc_sched.nforeign, SEQ_CST) > 0)
		return;
	/* A thread goc has never seen (not an M, not sysmon, not the one
	 * waiting in goc_main) may still send to a channel or spawn: only a
	 * process made of goc's own threads can be known to be stuck. */
	if (prim_thread_count() >
	    goc_sched.mcount + 2 + SAN_OWN_THREADS + goc_symbolizer_threads() +
		    goc_cpuprof_threads())
		return;
	if (goc_sched.runq_size > 0 || goc_sched.timer_m || timers_earliest_all())
		return;
	/* Goroutines parked on fds can be woken by the network. */
	if (netpoll_has_waiters())
		return;
	int32_t n = __atomic_load_n(&goc_sched.gomaxprocs, RLX);
	for (int32_t i = 0; i < n; i++)
		if (!runq_empty(goc_sched.allp[i]))
			return;
	if (count_goroutines() <= 0)
		return;
	goc_fatal("all goroutines are asleep - deadlock!");
}

/* ---- runtime setup, goc_main, queries ---- */

static void runtime_init_once(void)
{
	pthread_key_create(&foreign_key, foreign_g_free);
	goc_stack_module_init();
	goc_golimit_init_from_env();
	goc_thread_limit_init_from_env();
	int32_t procs =
	    (int32_t)prim_env_long("GOCMAXPROCS", prim_cpu_count(), 1, GOC_MAX_PROCS);
	if (procs > GOC_MAX_PROCS)
		procs = GOC_MAX_PROCS;
	goc_sched.timer_m_until = INT64_MAX;
	goc_sched.coarse_now = prim_nanotime();
	goc_sched.gomaxprocs = procs;
	for (int32_t i = procs - 1; i >= 0; i--) {
		goc_sched.allp[i] = p_new(i);
		pidle_put(goc_sched.allp[i]);
	}
	__atomic_store_n(&goc_sched.nprocs_made, procs, __ATOMIC_RELEASE);
	goc_debug_init();
	goc_stack_install_overflow_handler();
	goc_sysmon_start();
}

void goc_runtime_init(void)
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
	__atomic_store_n(&goc_sched.main_active, 0, SEQ_CST);
	goc_wg_done(&ms->done);
}

void goc_main(goc_fn fn, void *arg)
{
	if (!fn)
		goc_panic("goc_main: nil function");
	goc_runtime_init();
	if (goc_m_self())
		goc_panic("goc_main called from a goroutine");
	if (__atomic_exchange_n(&goc_sched.main_active, 1, SEQ_CST))
		goc_panic("goc_main: already running in another thread");
	struct main_start ms = {.fn = fn, .arg = arg};
	goc_wg_init(&ms.done);
	goc_wg_add(&ms.done, 1);
	/* This thread only waits for the main goroutine: it must not count as
	 * a plain thread that might wake someone (deadlock detection). */
	foreign_g();
	__atomic_fetch_sub(&goc_sched.nforeign, 1, SEQ_CST);
	if (!spawn(main_goroutine, &ms, NULL, __builtin_return_address(0), true))
		goc_fatal("goc_main: cannot allocate the main goroutine's stack");
	goc_wg_wait(&ms.done);
	__atomic_fetch_add(&goc_sched.nforeign, 1, SEQ_CST);
}

int64_t goc_id(void)
{
	goc_m *m = goc_m_self();
	return m && m->curg ? m->curg->id : 0;
}

int64_t goc_num_goroutine(void)
{
	goc_runtime_init();
	return count_goroutines();
}

void goc_sched_stats_read(goc_sched_stats *out)
{
	goc_runtime_init();
	memset(out, 0, sizeof *out);
	goc_lock_acquire(&goc_sched.lock);
	out->procs = goc_sched.gomaxprocs;
	out->idle_procs = __atomic_load_n(&goc_sched.npidle, RLX);
	out->threads = goc_sched.mcount;
	out->idle_threads = goc_sched.nmidle;
	out->spinning_threads = __atomic_load_n(&goc_sched.nmspinning, RLX);
	out->global_runq = goc_sched.runq_size;
	goc_lock_release(&goc_sched.lock);
	out->goroutines = count_goroutines();
	out->steals = __atomic_load_n(&goc_sched.nsteals, RLX);
	out->retakes = __atomic_load_n(&goc_sched.nretakes, RLX);
	out->long_runs = __atomic_load_n(&goc_sched.nlongruns, RLX);
	for (int i = 0; i < out->procs; i++) {
		goc_p *p = goc_sched.allp[i];
		uint32_t head = __atomic_load_n(&p->runq_head, __ATOMIC_ACQUIRE);
		uint32_t tail = __atomic_load_n(&p->runq_tail, __ATOMIC_ACQUIRE);
		out->p[i].runq = (int64_t)(uint32_t)(tail - head) +
				 (__atomic_load_n(&p->runnext, RLX) ? 1 : 0);
		out->p[i].switches = __atomic_load_n(&p->switches, RLX);
		out->p[i].spawned = __atomic_load_n(&p->created, RLX);
	}
}

int64_t goc_now(void)
{
	return prim_nanotime();
}

int goc_maxprocs(int n)
{
	goc_runtime_init();
	int old = __atomic_load_n(&goc_sched.gomaxprocs, SEQ_CST);
	if (n <= 0)
		return old;
	if (n > GOC_MAX_PROCS) {
		errno = EINVAL;
		return -1;
	}
	goc_lock_acquire(&goc_sched.lock);
	old = goc_sched.gomaxprocs;
	while (goc_sched.nprocs_made < n) {
		goc_p *p = p_new(goc_sched.nprocs_made);
		__atomic_store_n(&p->status, P_DEAD, RLX);
		goc_sched.allp[goc_sched.nprocs_made] = p;
		__atomic_store_n(&goc_sched.nprocs_made, goc_sched.nprocs_made + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&goc_sched.gomaxprocs, n, SEQ_CST);
	/* Idle Ps beyond n retire now; running ones at their next schedule. */
	goc_p *retiring = NULL;
	goc_p **pp = &goc_sched.pidle;
	while (*pp) {
		goc_p *p = *pp;
		if (p->id >= n) {
			*pp = p->link;
			__atomic_fetch_sub(&goc_sched.npidle, 1, SEQ_CST);
			p_retire_start_locked(p);
			p->link = retiring;
			retiring = p;
		} else {
			pp = &p->link;
		}
	}
	for (int32_t i = 0; i < n; i++)
		if (__atomic_load_n(&goc_sched.allp[i]->status, RLX) == P_DEAD)
			pidle_put(goc_sched.allp[i]);
	goc_lock_release(&goc_sched.lock);
	while (retiring) {
		goc_p *p = retiring;
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
	prim_write_stderr(msg, len);
}

_Noreturn void goc_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("panic: ", fmt, ap);
	va_end(ap);
	goc_m *m = goc_m_self();
	goc_g *g = m ? m->curg : tls_foreign_g;
	if (g && !(g->flags & G_FLAG_FOREIGN))
		goc_dump_g(2, g, prim_nanotime());
	else
		prim_write_stderr("(on a thread that is not a goroutine)\n", 38);
	abort();
}

_Noreturn void goc_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("fatal error: ", fmt, ap);
	va_end(ap);
	goc_dump_all(2);
	_exit(2);
}
