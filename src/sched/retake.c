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
 *    p->long_run_ms while it lasts, for dumps. Nothing is preempted.
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
#include "runq.h"
#include "runtime.h"

#define RETAKE_AFTER (20 * GOC_MICROSECOND)
#define RETAKE_UNWANTED_AFTER (10 * GOC_MILLISECOND)
#define LONG_RUN (10 * GOC_MILLISECOND)

struct p_watch {
	uint32_t syscalltick;  /* the P's syscalltick as last seen */
	int64_t syscall_seen;  /* when that section was first seen */
	uint64_t progress;     /* schedtick and syscalltick as last seen */
	int64_t progress_seen; /* when they were first seen at that value */
	bool long_run_counted; /* the stretch in progress is in sched.nlongruns */
};

static struct p_watch watch[GOC_MAX_PROCS];

/*
 * Go's handoffp: gives p, just taken from a syscall section (P_IDLE, on no
 * list, owned by the caller), to an M if there is anything for one to do,
 * else to the idle list.
 */
static void handoff(goc__p *p)
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
	handoff(p);
	return true;
}

static uint64_t progress_of(goc__p *p)
{
	return (uint64_t)goc__load_relaxed(&p->schedtick) << 32 |
		goc__load_relaxed(&p->syscalltick);
}

/* Notes whether p, in state status, has run one goroutine for too long. */
static void watch_long_run(goc__p *p, struct p_watch *w, uint32_t status, int64_t now)
{
	uint64_t progress = progress_of(p);
	if (status != P_RUNNING || progress != w->progress) {
		w->progress = progress;
		w->progress_seen = now;
		w->long_run_counted = false;
		return;
	}
	int64_t ran = now - w->progress_seen;
	if (ran < LONG_RUN || !goc__load_relaxed(&p->curg))
		return; /* short so far, or the M is on its own stack */
	if (!w->long_run_counted) {
		w->long_run_counted = true;
		goc__fetch_add_relaxed(&goc__sched.nlongruns, 1);
	}
	int64_t ms = ran / GOC_MILLISECOND;
	/* Published only if the P has still not moved: a stretch that ended
	 * since the first look was folded (or will be) without this value. */
	if (progress_of(p) == progress)
		goc__store_relaxed(&p->long_run_ms, ms > UINT16_MAX ? UINT16_MAX : (uint32_t)ms);
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

int goc__retake(int64_t now)
{
	int retaken = 0;
	int32_t n = goc__load_acquire(&goc__sched.nprocs_made);
	for (int32_t i = 0; i < n; i++) {
		goc__p *p = goc__sched.allp[i];
		struct p_watch *w = &watch[i];
		uint32_t status = goc__load_acquire(&p->status);
		watch_long_run(p, w, status, now);
		if (status == P_SYSCALL && retake_syscall(p, w, now))
			retaken++;
	}
	return retaken;
}
