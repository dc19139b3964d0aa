/*
 * runtime.h — the scheduler's data structures: G, M and P, and the
 * internal interface every other mechanism is built on (park / ready).
 *
 * G is a goroutine, M an OS thread, P a processor: the right to run
 * goroutines. An M runs goroutines only while it holds a P; there are
 * exactly gomaxprocs usable Ps. Each P has a local run queue; a locked global
 * run queue catches overflow and goroutines readied from outside any P.
 *
 * Invariants:
 *  - A G is in at most one run queue (a P's ring, a P's runnext, or the
 *    global queue), and only while its state is G_RUNNABLE.
 *  - A G's saved context (sp) is valid whenever its state is not G_RUNNING.
 *    A G that parks is not made visible to readiers until it is off its
 *    stack: park's unlock callback runs on the next context (post-switch).
 *  - ready(g) is called only on a G in G_WAITING, by the one party that
 *    took it off a wait queue (or won a select's claim); it moves it to
 *    G_RUNNABLE exactly once.
 *  - An M touches the local run queue's tail only for the P it holds;
 *    thieves move the head with a CAS.
 *  - m->curg is the G running on m, NULL while m runs on its own stack (g0).
 */
#ifndef GOC_SCHED_RUNTIME_H
#define GOC_SCHED_RUNTIME_H

#include "../prim/atomic.h"
#include "../prim/list.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../sync/qsbr.h"
#include "goc.h"
#include "lock.h"

typedef struct goc__g goc__g;
typedef struct goc__m goc__m;
typedef struct goc__p goc__p;
typedef struct goc__rtimer goc__rtimer;

#define RUNQ_SIZE 256
#define P_GFREE_MAX 128

/* Why a goroutine waits; shown in dumps, as Go words them. */
typedef enum goc__wait_reason {
	WAIT_NONE = 0,
	WAIT_SLEEP,
	WAIT_CHAN_SEND,
	WAIT_CHAN_RECV,
	WAIT_CHAN_SEND_NIL,
	WAIT_CHAN_RECV_NIL,
	WAIT_SELECT,
	WAIT_SELECT_NO_CASES,
	WAIT_WAITGROUP,
	WAIT_MUTEX,
	WAIT_RWMUTEX_R,
	WAIT_RWMUTEX_W,
	WAIT_COND,
	WAIT_SEMACQUIRE,
	WAIT_IO,
	WAIT_SYSCALL,
	WAIT_REASON_COUNT
} goc__wait_reason;

const char *goc__wait_reason_string(goc__wait_reason r);

enum g_state {
	G_FREE = 0,     /* slot in a stack pool, no goroutine */
	G_RUNNABLE = 1, /* in a run queue */
	G_RUNNING = 2,  /* on an M */
	G_WAITING = 3,  /* parked; someone will ready it */
	G_DEAD = 4,     /* finished, slot about to be freed */
};

enum g_flags {
	G_FLAG_FOREIGN = 1 << 0, /* a plain thread's stand-in: parks on a futex */
	G_FLAG_G0 = 1 << 1,      /* an M's scheduler context */
	G_FLAG_MAIN = 1 << 2,    /* the goroutine of goc_main */
	G_FLAG_COMPACT = 1 << 3, /* its stack may be compacted while it waits (stack.c) */
	/* goc_go_options: never preempted asynchronously (preempt.c). */
	G_FLAG_NO_ASYNC_PREEMPT = 1 << 4,
	/* goc_go_options: after an asynchronous preemption it may resume on
	 * any M (it keeps no thread-local addresses in registers). */
	G_FLAG_PREEMPT_MIGRATES = 1 << 5,
};

/*
 * A goroutine waiting on a channel (Go's sudog); see src/chan/chan.h. A
 * goroutine waits on at most one channel outside select, so every
 * descriptor embeds one record for that (dense, like the descriptors);
 * a select takes one record per case from the pool of src/chan/waiter.c.
 * Whoever dequeues a record fills elem/success, and only then readies g;
 * after readying g it does not touch the record again.
 */
typedef struct chan_waiter {
	goc__list_node link; /* in the channel's recvq or sendq; the channel's lock */
	goc__g *g;
	void *elem;     /* send: the value; recv: where to put it (or NULL) */
	int case_index; /* which select case this is */
	bool is_select; /* part of a select: claim g->select_done first */
	bool success;   /* true: a value moved; false: the channel closed */
} chan_waiter;

/*
 * A goroutine's descriptor. Descriptors live in dense arrays (gpool.c) and
 * are reused, never freed; a goroutine gets a stack slot (stack.c) only
 * when it first runs, and gives it back when it finishes, so a burst of
 * spawns touches small descriptors (about 150 bytes) rather than a page per goroutine, and
 * a goroutine that starts as another ends runs on the stack just freed.
 *
 * Fields written only by the goroutine itself or by the M running it need no
 * lock; state is atomic (readiers CAS it); the rest is set at creation.
 */
struct goc__g {
	void *sp;            /* saved stack pointer while not running; NULL before the first run */
	uint32_t state;      /* enum g_state; atomic */
	uint8_t wait_reason; /* goc__wait_reason while G_WAITING */
	uint8_t flags;       /* enum g_flags */
	uint8_t size_class;  /* stack size class to run on, see stack.c */
	uint8_t trace_mark;  /* the execution trace's note of an unblock whose run has
				 * not started yet (debug/trace.c); written only while a
				 * trace is being taken */
	int64_t id;
	int64_t parent_id;
	void *create_pc;        /* return address in the code that called goc_go */
	int64_t wait_since;     /* coarse goc_now() when it last parked */
	int64_t runnable_since; /* when it last became runnable, while the scheduling
				 * latency is measured (debug/schedlat.c); 0 once it runs.
				 * Written by its readier before publishing it */
	goc_fn fn;
	void *arg;
	goc__m *m;              /* the M running it, while G_RUNNING */
	struct goc__slot *slot; /* its stack, from the first run to the end */
	char *stack_lo;         /* lowest usable stack address */
	size_t stack_size;      /* usable bytes above stack_lo */
	int saved_errno;
	uint32_t wakeup;      /* set by whoever readies it: which select case woke it */
	uint32_t select_done; /* atomic: 0 until a case of its select claims it (select.c) */
	/* Stretches of over 10 ms without a scheduling point that sysmon saw
	 * (retake.c), and the length in ms of the last one; both stop at
	 * 65535, 16 bits each so they fill the hole before chan_wait. Written
	 * by the M holding the goroutine's P (goc__long_run_fold), read by
	 * dumps (racy, diagnostic). */
	uint16_t long_runs;
	uint16_t long_run_ms;
	chan_waiter chan_wait; /* its record while blocked in a channel send or receive */
	/* Stack compaction (stack.c). park_waiters: set by a goroutine with
	 * G_FLAG_COMPACT just before it parks in a channel operation or a
	 * select without a timer: the records whose elem may point into its
	 * stack; taken (and cleared) by the M that runs that park's unlock
	 * step. compact_state (atomic) tells whether its stack is moved
	 * aside; the other compact_ fields are written by the M that
	 * compacts it before the park's unlock step and read by the M that
	 * restores it, after the ready that follows that unlock. */
	chan_waiter *const *park_waiters;
	uint32_t npark_waiters;
	uint32_t compact_state;
	uint32_t compact_len;       /* bytes moved aside, from compact_from up */
	unsigned char *compact_buf; /* where they are */
	char *compact_from;         /* the saved sp when it was compacted */
	/* The only M that may run it, or NULL (any M). Set by the goroutine
	 * itself (goc_lock_os_thread, or its M while preempting it), read by
	 * whichever M takes it from a run queue (proc.c, start_locked_m). */
	goc__m *lockedm;
	void *asan_fake_stack;
	void *tsan_fiber; /* created once per descriptor, reused */
	/* Its profile labels (debug/labels.c), holding a reference; written
	 * by itself, or by spawn before it is published; atomic for the
	 * goroutine profile's reads. */
	struct goc__labels *labels;
	char name[32];
};

/*
 * The header at the top of every stack slot. The canary word above it is the
 * slot's last 8 bytes; see stack.c.
 *
 *   slot:  [guard page?][ stack, grows down ... ][ goc__slot | canary ]
 *          ^base        ^stack_lo                ^initial sp
 */
struct goc__slot {
	uint64_t magic; /* SLOT_MAGIC; checked when the slot is reused */
	goc__g *owner;  /* atomic: goroutine running on it, or NULL */
	uint8_t size_class;
	uint8_t guarded;     /* a guard page lies below stack_lo */
	uint8_t check_below; /* no guard: check the canary of the slot below */
	uint8_t reserved;
	unsigned valgrind_id;
	char *stack_lo;
};

/* What the context that resumes after a switch must do for the one that
 * left (see g_switch in proc.c). */
enum post_switch {
	POST_NONE = 0,
	POST_PARK,  /* run the unlock callback; re-ready if it says so */
	POST_YIELD, /* put the previous G back on the run queue */
	POST_EXIT,  /* free the previous G's stack and descriptor */
};

typedef bool (*goc__unlock_fn)(void *lock);

/* An OS thread. */
struct goc__m {
	goc__g g0;          /* this thread's own stack, where the scheduler idles */
	goc__g *curg;       /* G running now; NULL on g0 */
	goc__p *p;          /* P held, or NULL */
	goc__p *nextp;      /* P handed over by whoever woke this M */
	uint32_t park_word; /* futex: 1 when woken */
	bool spinning;      /* looking for work without having found any */
	bool idle_listed;   /* on sched.midle; sched.lock */
	bool in_netpoll;    /* atomic: blocked in goc__netpoll() as sched.poll_m */
	int64_t id;
	goc__m *schedlink; /* next on sched.midle; sched.lock */
	goc__m *alllink;   /* next in sched.allm, never removed */
	/* Post-switch step, filled by the leaving context, run by the arriving
	 * one. Touched only by this M. */
	enum post_switch post;
	goc__g *post_g;
	goc__unlock_fn post_unlock;
	void *post_lock;
	uint64_t fastrand;
	int *errno_ptr; /* this thread's errno */
	void *altstack;
	/* The P this M held when its goroutine entered a syscall section
	 * (syscall.c), until the goroutine leaves it; m->p is NULL meanwhile.
	 * Only this M. */
	goc__p *syscall_p;
	/* This M's execution-trace buffer and state (debug/trace.c), made
	 * the first time it records an event; only this M. */
	struct trace_m *trace;
	/* Its record as a reader of QSBR-reclaimed structures (sync/qsbr.h):
	 * announced at every switch, offline while it sleeps idle. */
	goc__qsbr_reader qsbr;
	/* This M's log for the trace in Go's format (debug/gotrace.c), made
	 * the first time it records an event; only this M. */
	struct goc__gotrace_log *gotrace;
	/* The goroutine this M is dedicated to (goc_lock_os_thread), or
	 * NULL; and the lock's nesting depth. Only this M. */
	goc__g *lockedg;
	int32_t locked_depth;
	/* A goroutine locked to another M that this M took from a run queue,
	 * to hand its P to that M from g0 (start_locked_m). Only this M. */
	goc__g *locked_next;
	/* The kernel's id of this thread and its CPU-time clock, set once
	 * by the thread itself before it is published in allm; sysmon reads
	 * them to signal it and to tell running from blocked (preempt.c). */
	int32_t tid;
	clockid_t cpuclock;
	bool cpuclock_ok;
	/* The signal mask this thread runs goroutines with, taken when it
	 * started; an interrupted context with another mask is inside a
	 * signal handler (preempt.c). Only this M. */
	uint64_t sigmask;
	/* The P in m->syscall_p was lent by this M's signal handler while
	 * its goroutine was blocked in the kernel outside goc (automatic
	 * hand-off, preempt.c), not by goc_syscall_enter: the goroutine's
	 * next blocking goc call (goc__check_may_block), goc_syscall_enter,
	 * or its end takes a P back. Written by this M (atomic: sysmon reads
	 * it, with lent_since, to pull back one that runs the program's code
	 * without a P). */
	bool lent;
	int64_t lent_since;
};

/* A processor. Touched by its M without locks, except where noted. */
struct goc__p {
	int32_t id;
	uint32_t status;      /* enum p_status; atomic, see the transitions below */
	goc__p *link;         /* next on sched.pidle; sched.lock */
	goc__m *m;            /* holder */
	uint32_t schedtick;   /* picks by next_local; owner stores, sysmon reads (atomic) */
	uint32_t syscalltick; /* syscall sections entered; owner stores, sysmon reads (atomic) */
	goc__g *curg; /* G its M runs now, NULL on g0; owner stores, sysmon reads (atomic) */
	uint32_t
		long_run_ms; /* sysmon: curg's stretch without a scheduling point, 0 if none; atomic */
	/* sysmon asks the goroutine running the stretch that began at
	 * schedtick t to stop by storing t + 1 (preempt.c); the owner clears
	 * it when it honours it. atomic. */
	uint32_t preempt_tick;
	/* Likewise for lending the P: sysmon saw the M blocked in the
	 * kernel for the stretch that began at schedtick t. atomic. */
	uint32_t lend_tick;
	/* Local run queue: a ring written at the tail by the owner only;
	 * consumed at the head by the owner and by thieves, with a CAS. */
	uint32_t runq_head;      /* atomic */
	uint32_t runq_tail;      /* atomic; stored by the owner only */
	goc__g *runnext;         /* atomic; readied-by-running G runs next */
	goc__g *runq[RUNQ_SIZE]; /* atomic elements */
	/* Free goroutine descriptors, and free stack slots of the default
	 * size. Owner only. */
	uint32_t ngfree, nsfree;
	goc__g *gfree[P_GFREE_MAX];
	struct goc__slot *sfree[P_GFREE_MAX];
	/* Goroutine ids handed out from a batch reserved globally. */
	int64_t goid_next, goid_end;
	/* Counters (owner writes, anyone reads, relaxed). */
	int64_t created, exited, switches;
	/* Timers of goroutines that ran on this P; its own lock. */
	struct timer_heap *timers;
};

/*
 * P states. Who moves a P from one to another:
 *
 *   P_IDLE ──── goc__pidle_get / goc__acquirep (sched.lock) ───► P_RUNNING
 *   P_RUNNING ── goc__pidle_put (its M, sched.lock) ──────► P_IDLE
 *   P_RUNNING ── goc_syscall_enter (its M, store) ───► P_SYSCALL
 *   P_SYSCALL ── goc_syscall_exit (its M, CAS) ──────► P_RUNNING
 *   P_SYSCALL ── sysmon's retake (CAS) ──────────────► P_IDLE, then handed
 *                to another M (goc__acquirep: P_RUNNING) or put on sched.pidle
 *   P_IDLE / P_RUNNING ── retirement (sched.lock) ───► P_RETIRING ──► P_DEAD
 *                                                      (or P_IDLE)
 *   P_DEAD ── goc_maxprocs grows (sched.lock) ───────► P_IDLE
 *
 * Only the two ways out of P_SYSCALL race each other (the M coming back
 * and sysmon): both CAS, so exactly one owns the P afterwards. Every other
 * transition is made by the P's owner or under sched.lock.
 */
enum p_status { P_IDLE = 0, P_RUNNING = 1, P_RETIRING = 2, P_DEAD = 3, P_SYSCALL = 4 };

/* The scheduler's global state. */
struct goc__sched {
	goc__lock lock; /* protects what is marked sched.lock */
	/* Global run queue: a growable ring of pointers, so moving goroutines
	 * in and out never touches (cold) goroutine memory. sched.lock. */
	goc__g **runq;
	size_t runq_cap, runq_first;
	int64_t runq_size;   /* atomic reads, writes under sched.lock */
	goc__p *pidle;       /* idle Ps; sched.lock */
	int32_t npidle;      /* atomic */
	int32_t nmspinning;  /* atomic */
	goc__m *midle;       /* idle Ms; sched.lock */
	int32_t nmidle;      /* sched.lock */
	int32_t mcount;      /* Ms created; sched.lock */
	int32_t gomaxprocs;  /* atomic */
	int32_t nprocs_made; /* Ps allocated in allp; sched.lock */
	goc__p *allp[GOC_MAX_PROCS];
	goc__m *allm;            /* every M; sched.lock to add */
	goc__m *timer_m;         /* the idle M sleeping until the next timer; sched.lock */
	int64_t timer_m_until;   /* atomic: when timer_m wakes; INT64_MAX if none */
	goc__m *poll_m;          /* the idle M blocked in the network poller; sched.lock */
	int64_t goid_gen;        /* atomic: last goroutine id reserved */
	int64_t foreign_created; /* atomic: goroutines spawned by plain threads */
	int32_t nforeign;        /* atomic: plain threads attached to goc */
	int32_t main_active;     /* atomic: goc_main is running its goroutine */
	int64_t coarse_now;      /* atomic: goc_now() as of sysmon's last tick */
	int64_t nsteals;         /* statistics, relaxed */
	int32_t maxmcount;       /* thread limit (GOCMAXTHREADS); sched.lock */
	int64_t nretakes;        /* statistics, relaxed: Ps sysmon took from syscalls */
	int64_t nlongruns; /* statistics, relaxed: runs over 10 ms without a scheduling point */
	int64_t npreempts; /* statistics, relaxed: goroutines stopped by preemption */
	int64_t nhandoffs; /* statistics, relaxed: Ps lent by Ms blocked in the kernel */
	int32_t nlent;     /* atomic: Ms whose P is lent now (m->lent) */
};

extern struct goc__sched goc__sched;

/* Whether some P besides the caller's is running goroutines now, so that a
 * short spin-wait for one of them to act may pay off. */
static inline bool goc__other_procs_busy(void)
{
	return goc__load_relaxed(&goc__sched.gomaxprocs) - goc__load_relaxed(&goc__sched.npidle) >
		1;
}

/* ---- internal interface (proc.c) ---- */

void goc__runtime_init(void);
goc__m *goc__m_self(void);
goc__g *goc__g_self(void);

/*
 * Parks the calling goroutine with reason r. The caller has put it on some
 * wait queue under a lock; unlockf(lock) runs after the goroutine is off
 * its stack (returning false means "do not park after all": the goroutine is
 * made runnable again at once). Returns when someone readied it. On a plain
 * thread it blocks the thread on a futex.
 */
void goc__park(goc__unlock_fn unlockf, void *lock, goc__wait_reason r);
/* goc__park for a goroutine whose M holds no P (leaving a syscall section
 * whose P was taken): it switches to the M's own stack (g0), where
 * unlockf runs. */
void goc__park_without_p(goc__unlock_fn unlockf, void *lock, goc__wait_reason r);
/* Makes a parked goroutine runnable (on the current P's runnext). */
void goc__ready(goc__g *g);
/* An unlock callback for goc__park that releases a goc__lock. */
bool goc__park_unlock_lock(void *lock);

/* Panics: prints "panic: ..." with the goroutine's identity and aborts. */
_Noreturn void goc__panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "fatal error: ..." and exits with status 2 after a dump. */
_Noreturn void goc__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- goroutine descriptors (gpool.c) ---- */

/* A free descriptor with its identity cleared, or NULL. */
goc__g *goc__g_alloc(goc__p *p);
void goc__g_free(goc__p *p, goc__g *g);
void goc__g_drain_p(goc__p *p);
/* Calls fn on every goroutine that exists (not free, not finished). */
void goc__g_for_each(void (*fn)(goc__g *g, void *arg), void *arg);

/* ---- stacks (stack.c) ---- */

void goc__stack_module_init(void);
size_t goc__stack_default_size(void);
int goc__stack_class_of(size_t size, size_t *rounded);
/* Gives g a stack of its size class and prepares its first context;
 * false if no memory could be had. */
bool goc__stack_attach(goc__p *p, goc__g *g);
/* Takes back g's stack. */
void goc__stack_detach(goc__p *p, goc__g *g);
void goc__stack_drain_p(goc__p *p);
void goc__stack_scavenge(void);
/* Bytes of stack slots handed out (slots cached by Ps count as in use)
 * and reserved, for goc_memstats_read. */
void goc__stack_memstats(uint64_t *inuse, uint64_t *sys);
bool goc__stack_canary_ok(const goc__g *g);
_Noreturn void goc__stack_overflow_canary(goc__g *g);
void goc__stack_install_overflow_handler(void);
void goc__stack_thread_init(goc__m *m);
/* The goroutine whose guard page holds addr, or NULL. Signal-safe. */
goc__g *goc__stack_guard_owner(const void *addr);
/* Compaction of a parked goroutine's stack. goc__stack_compact runs in
 * the post-switch step of g's park, before its unlock step, when
 * g->park_waiters is set; it returns a nonzero ticket if it moved the
 * stack aside, which goc__stack_compact_done takes after the unlock step
 * (the pages may be released from then on). goc__stack_restore puts it
 * back; the M about to switch to g calls it when g->compact_state is set. */
uint32_t goc__stack_compact(goc__g *g);
void goc__stack_compact_done(goc__g *g, uint32_t ticket);
void goc__stack_restore(goc__g *g);
/* Whether goroutines without goc_go_options.compact_stack get it
 * (GOCDEBUG=stackcompactall=1); set once at start-up. */
extern bool goc__stack_compact_every;
/* Stacks compacted and restored so far (relaxed counters). */
void goc__stack_compact_stats(uint64_t *compacted, uint64_t *restored);

/* ---- timers (time/timer.c) ---- */

/* A runtime timer: fn(t, now) runs once, on some M, with no lock held,
 * after `when`. Whoever embeds one keeps it alive until it has fired or
 * goc__rtimer_del said it was removed. */
struct goc__rtimer {
	int64_t when;
	void (*fn)(goc__rtimer *t, int64_t now);
	void *arg;
	struct timer_heap *heap; /* atomic: heap holding it, or NULL */
	size_t index;            /* position in heap; heap lock */
	uint64_t seq;            /* insertion order: ties fire FIFO */
};

struct timer_heap *goc__rtimer_heap_new(void);
void goc__rtimer_add(goc__p *p, goc__rtimer *t);
/* Removes t if pending; true if it was (so it will not fire). */
bool goc__rtimer_del(goc__rtimer *t);
/* Runs timers of heap h due by now; returns the next deadline or 0. */
int64_t goc__timers_run(struct timer_heap *h, int64_t now);
int64_t goc__timers_earliest(struct timer_heap *h);
/* Moves every timer of from into to (P retirement). */
void goc__timers_move(struct timer_heap *from, goc__p *to);
/* Called by the timer code when it armed a timer earlier than anything the
 * idle Ms wait for. */
void goc__sched_timer_armed(int64_t when);
/* Locks p's heap and inserts t; true if t is now the earliest. The caller
 * releases heap_lock (for goc_sleep: after parking). */
bool goc__rtimer_add_locked(goc__p *p, goc__rtimer *t, goc__lock **heap_lock);

/* A random number, cheap, per M. */
uint32_t goc__fastrand(void);

/* Wakes an M if a timer is overdue by more than slack (sysmon). */
void goc__sched_check_timers(int64_t now, int64_t slack);

/* sysmon (sysmon.c). */
void goc__sysmon_start(void);

/* ---- Ps and Ms, for syscall.c and retake.c (proc.c) ---- */

/* An idle P, taken off sched.pidle (now P_RUNNING), or NULL. sched.lock. */
goc__p *goc__pidle_get(void);
/* Puts p on sched.pidle (P_IDLE). sched.lock. */
void goc__pidle_put(goc__p *p);
/* m takes p, which the caller owns. */
void goc__acquirep(goc__m *m, goc__p *p);
/* Hands p to an idle M, or a new one (spinning as asked; a spinning
 * start is counted in nmspinning by the caller). sched.lock. */
void goc__startm_locked(goc__p *p, bool spinning);

/* ---- syscall sections and the thread limit (syscall.c) ---- */

/* Reads GOCMAXTHREADS. */
void goc__thread_limit_init_from_env(void);
/* Before making the count-th M: dies of thread exhaustion past the
 * limit. sched.lock. */
void goc__thread_limit_check_locked(int32_t count);
/* m->p is NULL on a goroutine about to block: takes a P back if the
 * P was lent automatically (m->lent), else panics (a goroutine tried to
 * block inside a syscall section). */
void goc__p_missing(goc__m *m, const char *what);
/* Takes back the P that m's signal handler lent (m->lent): the exit of
 * the implicit syscall section. May park; no lock may be held. */
void goc__lent_return(goc__m *m);
/* The same without parking (a wait-queue lock may be held): true if m
 * holds a P again; false if none could be had, and m->lent is cleared. */
bool goc__lent_try_return(goc__m *m);
/* A goroutine's M gives its P up for the length of a syscall section, and
 * its signal handler lends it while the goroutine is blocked in the kernel
 * outside goc: one load, made anyway, tells both (ARCHITECTURE §28). */
static inline void goc__check_may_block(goc__m *m, const char *what)
{
	if (__builtin_expect(m->p == NULL, 0))
		goc__p_missing(m, what);
}

/* ---- sysmon's look at the Ps (retake.c) ---- */

/* Takes Ps from Ms that have sat in a syscall section too long and hands
 * them on; records goroutines running over 10 ms without a scheduling
 * point and asks them to stop (*preempting: a request is outstanding).
 * Returns the number of Ps retaken. sysmon only. */
int goc__retake(int64_t now, bool *preempting);
/* Go's handoffp: gives p, which the caller owns and no M holds, to an M
 * if there is work for one (a fresh spinning M if nobody looks for work),
 * else to the idle list. Takes sched.lock. */
void goc__handoffp(goc__p *p);
/* Called by p's owner at a scheduling point when p->long_run_ms is set:
 * moves the record of the stretch that just ended into p->curg. */
void goc__long_run_fold(goc__p *p);

/* ---- preemption (preempt.c; the scheduler's half in proc.c) ---- */

/* Installs the SIGURG handler and finds the code that may be preempted;
 * once, from runtime init. */
void goc__preempt_init(void);
/* Records the calling thread, a new M, for sysmon's signals (tid, CPU
 * clock); first thing on the M's thread. */
void goc__preempt_thread_start(goc__m *m);
/* sysmon: p's goroutine has run `ran` ns without a scheduling point. */
void goc__preempt_request(goc__p *p, int64_t ran);
/* sysmon: p's M has been blocked in the kernel for the whole stretch;
 * asks its signal handler to lend p if the goroutine is outside goc. */
void goc__lend_request(goc__p *p);
/* Whether thread tid is sleeping in the kernel (state S or D in
 * /proc/self/task/tid/stat), not waiting for a CPU. sysmon only. */
bool goc__thread_sleeping(int32_t tid);
/* sysmon: signals the Ms that have run without their lent P for over
 * `after` ns, so that one running the program's code takes a P back. */
void goc__lent_recall(int64_t now, int64_t after);
/* m->lent ends (its M only). */
void goc__lent_clear(goc__m *m);
/* Whether GOCDEBUG=asyncpreemptoff=1 (or a sanitizer) turned signals off. */
bool goc__preempt_async_enabled(void);
/* The scheduler's side of a preemption, on the goroutine's own stack with
 * no lock held (called by the trampoline and by goc_preempt_check):
 * lets other goroutines use the P and comes back, on the same M unless the
 * goroutine allows migration. */
void goc__preempt_park(void);

/* ---- debugging (debug/) ---- */

void goc__dump_all(int fd);
void goc__dump_g(int fd, goc__g *g, int64_t now);
/* Registers the calling thread, a new M, with the CPU profiler
 * (debug/cpuprof.c); the M calls it once, first thing. */
void goc__cpuprof_thread_start(void);
/* Threads the CPU profiler runs (0 or 1: its drainer, which never wakes a
 * goroutine), for the deadlock check's count of the threads it knows. */
int goc__cpuprof_threads(void);

/* Small signal-safe formatting helpers (debug/print.c). */
typedef struct goc__buf {
	int fd;     /* where flushes go, unless file is set */
	void *file; /* a FILE * (goc_dump), or NULL; not signal-safe */
	size_t len;
	char data[512];
} goc__buf;
void goc__buf_str(goc__buf *b, const char *s);
void goc__buf_int(goc__buf *b, int64_t v);
void goc__buf_hex(goc__buf *b, uint64_t v);
void goc__buf_flush(goc__buf *b);

#endif
