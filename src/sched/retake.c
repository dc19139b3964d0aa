/*
 * retake.c — sysmon's look at every P (Go's retake): taking Ps back from
 * Ms that sit in a syscall section (syscall.c), and spotting goroutines
 * that run for over 10 ms without a scheduling point.
 *
 * sysmon keeps, per P, what it saw last (struct p_watch, sysmon's own):
 *  - the P's syscalltick, and when it first saw that value while the P was
 *    P_SYSCALL. Seeing the same section again at least RETAKE_AFTER later
 *    means the M has been in it at least that long. As in Go, the P is then
 *    taken only if somebody wants it: goroutines are queued on it, or no M
 *    is spinning and no P is idle (so nobody would look for work queued
 *    elsewhere), or the section has lasted 10 ms (a P should not stay
 *    reserved for a thread that is not using it).
 *  - the P's progress (schedtick, bumped at every scheduling point, and
 *    syscalltick), and when it last changed. A P that is running a
 *    goroutine (p->curg) and has made no progress for LONG_RUN is running
 *    one goroutine that never reached a scheduling point: sysmon counts the
 *    stretch once in sched.nlongruns and publishes its length in
 *    p->long_run_ms while it lasts, for dumps. While the M's CPU clock
 *    moves (it computes rather than waits in the kernel), sysmon asks for
 *    a preemption at every pass (goc__preempt_request, preempt.c).
 *
 * sysmon writes nothing into goroutine descriptors: at its next scheduling
 * point the P's owner moves p->long_run_ms into the goroutine that ran the
 * stretch (goc__long_run_fold: g->long_runs, g->long_run_ms), so a
 * descriptor is only ever written by the M running it and never behind
 * the back of whoever reuses it.
 *
 * Both are measured from sysmon's first sighting, so they read short by
 * up to one sysmon period, never long.
 *
 * Races. Taking a P is a CAS from P_SYSCALL to P_IDLE, racing the M's own
 * CAS back to P_RUNNING in goc_syscall_exit; the winner owns the P. sysmon
 * stores p->long_run_ms only after reading the progress again; a stretch
 * that ends between that read and the store leaves a length that the next
 * fold credits to the goroutine that ran the stretch if it is still p's
 * curg, a wrong diagnostic otherwise, never a bad access.
 */
#include <time.h>

#include "runq.h"
#include "runtime.h"

#define RETAKE_AFTER (20 * GOC_MICROSECOND)
#define RETAKE_UNWANTED_AFTER (10 * GOC_MILLISECOND)
#define LONG_RUN (10 * GOC_MILLISECOND)
/* A stretch this long makes sysmon read the M's CPU clock: still after
 * another look, with the thread asleep in the kernel, the M is blocked
 * outside goc and its handler is asked to lend the P. */
#define BLOCKED_CHECK_AFTER (1 * GOC_MILLISECOND)
/* CPU time the thread must have used since that first reading for a
 * preemption request: a goroutine that the kernel kept off the CPU for
 * most of the stretch (a loaded machine) has not run 10 ms, and stopping it
 * would only reorder it behind goroutines that became runnable after it. */
#define PREEMPT_MIN_CPU (1 * GOC_MILLISECOND)

struct p_watch {
	uint32_t syscalltick;  /* the P's syscalltick as last seen */
	int64_t syscall_seen;  /* when that section was first seen */
	uint64_t progress;     /* schedtick and syscalltick as last seen */
	int64_t progress_seen; /* when they were first seen at that value */
	bool long_run_counted; /* the stretch in progress is in sched.nlongruns */
	/* The M's CPU-time clock as read half-way through the stretch, and
	 * which M it was: a thread whose clock has not moved since is
	 * blocked (or waiting for a CPU), not computing. */
	goc__m *cpu_m;
	int64_t cpu_ns;
	int64_t cpu_first; /* the stretch's first reading */
	bool cpu_read;     /* the last look read the clock (cpu_ns is current) */
	bool lend_asked;   /* one request per stretch: each signal may EINTR */
};

static struct p_watch watch[GOC_MAX_PROCS];

/*
 * Go's handoffp: gives p, just taken from a syscall section (P_IDLE, on no
 * list, owned by the caller), to an M if there is anything for one to do,
 * else to the idle list.
 */
void goc__handoffp(goc__p *p)
{
	int64_t timer = 0;
	goc__lock_acquire(&goc__sched.lock);
	bool retiring = p->id >= goc__sched.gomaxprocs;
	if (retiring || !goc__runq_empty(p) || goc__sched.runq_size > 0) {
		/* Work to run (a retiring P's M retires it first thing). */
		goc__startm_locked(p, false);
	} else if (goc__load_seqcst(&goc__sched.nmspinning) +
				   goc__load_seqcst(&goc__sched.npidle) ==
			   0 &&
		   goc__cas_seqcst(&goc__sched.nmspinning, &(int32_t){0}, 1)) {
		/* Nobody looks for work queued behind the busy Ps: one M
		 * spinning with p will (the same claim as wakep's). */
		goc__startm_locked(p, true);
	} else {
		goc__pidle_put(p);
		timer = goc__timers_earliest(p->timers);
	}
	goc__lock_release(&goc__sched.lock);
	/* Its timers were its M's to run; now an idle M must wait for them. */
	if (timer)
		goc__sched_timer_armed(timer);
}

/* Tries to take p, seen P_SYSCALL, from its M; true if it did. */
static bool retake_syscall(goc__p *p, struct p_watch *w, int64_t now)
{
	uint32_t tick = goc__load_relaxed(&p->syscalltick);
	if (tick != w->syscalltick) {
		w->syscalltick = tick;
		w->syscall_seen = now;
		return false;
	}
	int64_t in_section = now - w->syscall_seen;
	if (in_section < RETAKE_AFTER)
		return false;
	if (goc__runq_empty(p) &&
	    goc__load_relaxed(&goc__sched.nmspinning) + goc__load_relaxed(&goc__sched.npidle) > 0 &&
	    in_section < RETAKE_UNWANTED_AFTER)
		return false;
	/* Acquire pairs with the release store of goc_syscall_enter: the P's
	 * owner-only fields are seen as its M left them. Failing means the M
	 * came back first and holds the P again. */
	uint32_t expected = P_SYSCALL;
	if (!goc__cas_acquire(&p->status, &expected, P_IDLE))
		return false;
	goc__fetch_add_relaxed(&goc__sched.nretakes, 1);
	goc__handoffp(p);
	return true;
}

static uint64_t progress_of(goc__p *p)
{
	return (uint64_t)goc__load_relaxed(&p->schedtick) << 32 |
		goc__load_relaxed(&p->syscalltick);
}

/* What p's M did since the last call in this stretch: CPU_MOVED (also
 * when that cannot be told), CPU_STILL, or CPU_FIRST (the first call,
 * which only takes the first reading: a signal in doubt could cut a sleep
 * short). One clock_gettime
 * on another thread's CPU clock: a system call, made only for Ps whose
 * goroutine has run 5 ms without a scheduling point. */
enum cpu_seen { CPU_FIRST, CPU_STILL, CPU_MOVED };

static enum cpu_seen thread_cpu(goc__p *p, struct p_watch *w)
{
	w->cpu_read = false;
	goc__m *m = goc__load_acquire(&p->m);
	if (!m || !goc__load_relaxed(&m->cpuclock_ok))
		return CPU_MOVED;
	struct timespec ts;
	if (clock_gettime(goc__load_relaxed(&m->cpuclock), &ts) != 0)
		return CPU_MOVED;
	int64_t ns = (int64_t)ts.tv_sec * GOC_SECOND + ts.tv_nsec;
	enum cpu_seen seen = w->cpu_m != m ? CPU_FIRST : ns != w->cpu_ns ? CPU_MOVED : CPU_STILL;
	if (seen == CPU_FIRST)
		w->cpu_first = ns;
	w->cpu_read = true;
	w->cpu_m = m;
	w->cpu_ns = ns;
	return seen;
}

/* Notes whether p, in state status, has run one goroutine for too long,
 * and asks it to stop (preempt.c) while it computes. */
static bool watch_long_run(goc__p *p, struct p_watch *w, uint32_t status, int64_t now)
{
	uint64_t progress = progress_of(p);
	if (status != P_RUNNING || progress != w->progress) {
		w->progress = progress;
		w->progress_seen = now;
		w->long_run_counted = false;
		w->cpu_m = NULL;
		w->lend_asked = false;
		return false;
	}
	int64_t ran = now - w->progress_seen;
	if (ran < BLOCKED_CHECK_AFTER || !goc__load_relaxed(&p->curg))
		return false; /* short so far, or the M is on its own stack */
	/* Without signals (asyncpreemptoff, TSan) the clock is not needed. */
	w->cpu_read = false;
	enum cpu_seen cpu = goc__preempt_async_enabled() ? thread_cpu(p, w) : CPU_MOVED;
	if (cpu == CPU_STILL && !w->lend_asked) {
		goc__m *m = goc__load_acquire(&p->m);
		if (m && goc__thread_sleeping(goc__load_acquire(&m->tid))) {
			w->lend_asked = true;
			goc__lend_request(p);
		}
	}
	bool computing = cpu == CPU_MOVED;
	if (ran < LONG_RUN)
		return cpu == CPU_FIRST; /* look again soon */
	if (computing && (!w->cpu_read || w->cpu_ns - w->cpu_first >= PREEMPT_MIN_CPU))
		goc__preempt_request(p, ran);
	if (!w->long_run_counted) {
		w->long_run_counted = true;
		goc__fetch_add_relaxed(&goc__sched.nlongruns, 1);
	}
	int64_t ms = ran / GOC_MILLISECOND;
	/* Published only if the P has still not moved: a stretch that ended
	 * since the first look was folded (or will be) without this value. */
	if (progress_of(p) == progress)
		goc__store_relaxed(&p->long_run_ms, ms > UINT16_MAX ? UINT16_MAX : (uint32_t)ms);
	return computing;
}

void goc__long_run_fold(goc__p *p)
{
	uint32_t ms = goc__xchg_relaxed(&p->long_run_ms, 0);
	goc__g *g = p->curg;
	if (!ms || !g)
		return;
	if (g->long_runs < UINT16_MAX)
		g->long_runs++;
	g->long_run_ms = (uint16_t)ms;
}

int goc__retake(int64_t now, bool *preempting)
{
	int retaken = 0;
	*preempting = false;
	int32_t n = goc__load_acquire(&goc__sched.nprocs_made);
	for (int32_t i = 0; i < n; i++) {
		goc__p *p = goc__sched.allp[i];
		struct p_watch *w = &watch[i];
		uint32_t status = goc__load_acquire(&p->status);
		if (watch_long_run(p, w, status, now))
			*preempting = true;
		if (status == P_SYSCALL && retake_syscall(p, w, now))
			retaken++;
	}
	return retaken;
}
