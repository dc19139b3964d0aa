/*
 * mutex.c — goc_mutex, Go's sync.Mutex.
 *
 * `state` packs the lock into one 32-bit word:
 *
 *   bit 0  LOCKED    somebody holds the mutex
 *   bit 1  WOKEN     a waiter is awake and competing (unlock need not wake another)
 *   bit 2  STARVING  the mutex is handed from unlocker to the oldest waiter
 *   3..31            waiters parked (or about to park) on `sema`
 *
 * Normal mode: waiters queue FIFO, but a woken waiter does not own the
 * mutex; it competes with goroutines that are arriving (and have the
 * advantage of already running on a CPU). A woken waiter that loses
 * queues again at the head. Throughput is high because a running goroutine
 * can take and release the mutex many times without a switch.
 *
 * Starvation mode: a waiter that has waited longer than 1 ms sets STARVING
 * at its next attempt. From then on, unlock hands the mutex directly to
 * the waiter at the head of the queue (with the token of the wait queue,
 * see goc__rtsema_release); arrivals neither take it nor spin, they queue at the
 * tail. The waiter that receives it leaves starvation mode if it is the
 * last waiter or waited less than 1 ms itself.
 *
 * Invariants:
 *  - LOCKED and the waiter count change only by CAS or atomic add on
 *    `state`; while STARVING, LOCKED is clear between an unlock and the
 *    hand-off's receiver setting it: nobody else may take the mutex then.
 *  - WOKEN is set by at most one goroutine at a time (the spinner that set
 *    it, or the unlocker on behalf of the waiter it wakes) and cleared by
 *    that goroutine's next successful state change.
 *  - Each waiter counted in `state` takes exactly one token from `sema`.
 *
 * Spinning: only while the holder probably runs on another CPU — more than
 * one CPU and more Ps busy than just us (gomaxprocs > idle Ps + spinning
 * Ms + 1) — and at most 4 rounds of 30 pauses, as Go's
 * sync_runtime_canSpin. A plain thread has no P: it spins on a multi-CPU
 * machine under the same round limit, since parking costs it a futex
 * system call.
 *
 * Difference from Go: Go also refuses to spin while the spinner's own P
 * has other goroutines queued. goc keeps spinning then, because it does
 * not preempt: a goroutine that parks at once hands its P to the next
 * queued goroutine, and under contention that is usually a waiter this P
 * just woke, which contends in turn — a convoy in which every lock changes
 * hands through a park and a switch. On MutexContended at -procs 2 (64
 * goroutines, 2 Ps) Go's rule measured 43–127 ns per lock with two million
 * parks per run; spinning regardless, 30–34 ns with twenty thousand, in
 * the same minutes on the same machine. The cost is at most 4 rounds
 * (a few microseconds) of delay for the queued goroutines.
 */
#include "syncint.h"

enum {
	MUTEX_LOCKED = 1,
	MUTEX_WOKEN = 2,
	MUTEX_STARVING = 4,
	MUTEX_WAITER_SHIFT = 3,
	MUTEX_WAITER = 1 << MUTEX_WAITER_SHIFT,
	SPIN_ROUNDS = 4,
	SPIN_PAUSES = 30,
	CONFIRM_PAUSES = 8,
};

#define STARVATION_THRESHOLD GOC_MILLISECOND

static int32_t load_state(goc_mutex *m)
{
	return goc__load_relaxed(&m->state);
}

static bool cas_state(goc_mutex *m, int32_t *old, int32_t new_state)
{
	return goc__cas_acqrel(&m->state, old, new_state);
}

static int cpu_count(void)
{
	static int cached;
	int n = goc__load_relaxed(&cached);
	if (n == 0) {
		n = goc__prim_cpu_count();
		goc__store_relaxed(&cached, n);
	}
	return n;
}

static bool can_spin(int round)
{
	if (round >= SPIN_ROUNDS || cpu_count() <= 1)
		return false;
	goc__m *m = goc__m_self();
	if (!m || !m->p)
		return true;
	int32_t busy = goc__load_relaxed(&goc__sched.gomaxprocs) -
		goc__load_relaxed(&goc__sched.npidle) - goc__load_relaxed(&goc__sched.nmspinning);
	return busy > 1;
}

static void spin(int pauses)
{
	for (int i = 0; i < pauses; i++)
		goc__cpu_relax();
}

/* A spinner that saw the mutex free looks again a moment later before it
 * tries to take it: a holder that relocks in a tight loop has it back
 * within nanoseconds, and snatching it in that gap only moves the mutex's
 * cache line between cores — the old holder then spins in turn and
 * snatches it back. A holder that has really let go leaves it free. */
static int32_t confirm_free(goc_mutex *m)
{
	spin(CONFIRM_PAUSES);
	return load_state(m);
}

void goc_mutex_init(goc_mutex *m)
{
	*m = (goc_mutex)GOC_MUTEX_INIT;
}

static void lock_slow(goc_mutex *m, goc__wait_reason reason)
{
	int64_t wait_start = 0;
	bool starving = false; /* this waiter has waited over the threshold */
	bool awoke = false;    /* this goroutine owns the WOKEN bit */
	int round = 0;
	int32_t old = load_state(m);
	for (;;) {
		/* Spin while the mutex is held in normal mode (in starvation
		 * mode it goes to a waiter, never to us). Setting WOKEN tells
		 * the unlocker not to wake a parked waiter that would only
		 * compete with us. */
		if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && can_spin(round)) {
			if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
			    cas_state(m, &old, old | MUTEX_WOKEN))
				awoke = true;
			spin(SPIN_PAUSES);
			round++;
			old = load_state(m);
			if (!(old & MUTEX_LOCKED))
				old = confirm_free(m);
			continue;
		}
		int32_t new_state = old;
		/* Take it unless it belongs to the starving waiters. */
		if (!(old & MUTEX_STARVING))
			new_state |= MUTEX_LOCKED;
		if (old & (MUTEX_LOCKED | MUTEX_STARVING))
			new_state += MUTEX_WAITER;
		/* Only switch to starvation mode while it is locked: an
		 * unlocked mutex in starvation mode would wait for an unlock
		 * that never comes. */
		if (starving && (old & MUTEX_LOCKED))
			new_state |= MUTEX_STARVING;
		if (awoke) {
			if (!(new_state & MUTEX_WOKEN))
				goc__panic("sync: inconsistent mutex state");
			new_state &= ~MUTEX_WOKEN;
		}
		if (!cas_state(m, &old, new_state))
			continue;
		if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
			return; /* took it */
		/* Counted as a waiter: park. One who waited before goes to
		 * the front of the queue. */
		bool waited_before = wait_start != 0;
		if (!waited_before)
			wait_start = goc__prim_nanotime();
		goc__rtsema_acquire(&m->sema, waited_before, reason);
		starving = starving || goc__prim_nanotime() - wait_start > STARVATION_THRESHOLD;
		old = load_state(m);
		if (old & MUTEX_STARVING) {
			/* Handed to us: LOCKED is clear and we are still
			 * counted as a waiter. Take it, and leave starvation
			 * mode if we are the last waiter or did not starve;
			 * staying in it would hand the mutex from waiter to
			 * waiter at a switch per lock. */
			if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) ||
			    (old >> MUTEX_WAITER_SHIFT) == 0)
				goc__panic("sync: inconsistent mutex state");
			int32_t delta = MUTEX_LOCKED - MUTEX_WAITER;
			if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
				delta -= MUTEX_STARVING;
			goc__add_fetch_acqrel(&m->state, delta);
			return;
		}
		/* Woken in normal mode: the unlocker set WOKEN for us. */
		awoke = true;
		round = 0;
		old = load_state(m);
	}
}

/*
 * Fast path: one CAS that sets LOCKED on a mutex that is neither locked nor
 * starving, whatever its waiter count — the same barging the slow path
 * allows in normal mode, so a holder that keeps relocking while others are
 * parked does not pay a failed CAS each time. The relaxed load that picks
 * the expected value is a hit in the common case (the line is ours); the
 * CAS's acquire ordering makes the previous holder's writes visible.
 */
void goc__mutex_lock_as(goc_mutex *m, goc__wait_reason r)
{
	int32_t old = load_state(m);
	if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)) &&
	    goc__cas_acquire(&m->state, &old, old | MUTEX_LOCKED))
		return;
	lock_slow(m, r);
}

void goc_mutex_lock(goc_mutex *m)
{
	goc__mutex_lock_as(m, WAIT_MUTEX);
}

bool goc_mutex_try_lock(goc_mutex *m)
{
	int32_t old = load_state(m);
	if (old & (MUTEX_LOCKED | MUTEX_STARVING))
		return false;
	/* A waiter woken in normal mode may be about to take it too; the
	 * CAS decides, as it would between two lockers. */
	return goc__cas_acquire(&m->state, &old, old | MUTEX_LOCKED);
}

static void unlock_slow(goc_mutex *m, int32_t new_state)
{
	if (!((new_state + MUTEX_LOCKED) & MUTEX_LOCKED))
		goc__panic("sync: unlock of unlocked mutex");
	if (new_state & MUTEX_STARVING) {
		/* Hand it to the first waiter and let it run now; it sets
		 * LOCKED itself, and STARVING keeps newcomers out meanwhile. */
		goc__rtsema_release(&m->sema, true);
		return;
	}
	int32_t old = new_state;
	for (;;) {
		/* Nobody to wake, or somebody else already took the mutex,
		 * woke a waiter or started a hand-off. */
		if ((old >> MUTEX_WAITER_SHIFT) == 0 ||
		    (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
			return;
		if (cas_state(m, &old, (old - MUTEX_WAITER) | MUTEX_WOKEN)) {
			goc__rtsema_release(&m->sema, false);
			return;
		}
	}
}

/* Fast path: one atomic add that leaves 0 (no waiters, nobody woken, not
 * starving). The release ordering publishes the critical section. */
void goc_mutex_unlock(goc_mutex *m)
{
	int32_t new_state = goc__sub_fetch_release(&m->state, MUTEX_LOCKED);
	if (new_state != 0)
		unlock_slow(m, new_state);
}
