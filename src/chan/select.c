/*
 * select.c — goc_select, Go's select statement.
 *
 * 1. Lock every distinct channel of the cases in address order (the global
 *    lock order that keeps two selects over the same channels from
 *    deadlocking), then poll the cases in a random order and complete the
 *    first that can proceed: among ready cases each is equally likely.
 * 2. If none can and the caller may wait, queue one waiter record per case
 *    (from the dense pool of waiter.c), all marked is_select, with the
 *    goroutine's select_done cleared; arm the timeout timer if there is one,
 *    and park; the park's unlock step releases every channel lock (and the
 *    timer heap's) once the goroutine is off its stack.
 * 3. A channel operation (or the timer) that finds one of these waiters
 *    claims the whole select with a CAS on g->select_done; losers skip
 *    the waiter. The winner has already moved the value when the goroutine
 *    wakes; it relocks the other channels to take its other waiters off
 *    their queues (not the winner's, which its waker may have freed), and
 *    makes sure the timer callback is no longer running before its stack
 *    frame (which holds the timer) goes away.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"

#define SMALL 8
#define TIMED_OUT UINT32_MAX

struct select_locks {
	goc_chan **chans; /* distinct channels in address order */
	size_t n;
	goc__lock *heap_lock; /* the timeout timer's heap, or NULL */
};

static void lock_all(struct select_locks *l)
{
	for (size_t i = 0; i < l->n; i++)
		goc__chan_lock(l->chans[i]);
}

static void unlock_all(struct select_locks *l)
{
	for (size_t i = l->n; i-- > 0;)
		goc__chan_unlock(l->chans[i]);
}

/*
 * l, and for a select of at most SMALL channels the array it points to,
 * lie on the parking goroutine's stack. Once the first lock below is
 * released a waker may ready the goroutine, and if its stack was
 * compacted (stack.c) another M writes the stack back before running it,
 * while this M would still be reading the array. So the releases work from
 * a copy in this frame.
 */
static bool unlock_all_for_park(void *arg)
{
	struct select_locks local = *(struct select_locks *)arg;
	goc_chan *chans[SMALL];
	if (local.n <= SMALL) {
		memcpy(chans, local.chans, local.n * sizeof *chans);
		local.chans = chans;
	}
	if (local.heap_lock)
		goc__lock_release(local.heap_lock);
	unlock_all(&local);
	return true;
}

struct select_timeout {
	goc__rtimer timer;
	goc__g *g;
	uint32_t finished; /* atomic: the callback no longer touches this */
};

static void select_timeout_fire(goc__rtimer *t, int64_t now)
{
	(void)now;
	struct select_timeout *st = t->arg;
	uint32_t zero = 0;
	goc__g *g = st->g;
	bool won = goc__cas_acqrel(&g->select_done, &zero, 1);
	if (won)
		g->wakeup = TIMED_OUT;
	goc__store_release(&st->finished, 1);
	if (won)
		goc__ready(g);
}

static int compare_chan(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (goc_chan *const *)a, y = (uintptr_t) * (goc_chan *const *)b;
	return x < y ? -1 : x > y;
}

/* Completes a case on its locked channel if it can proceed now; not for a
 * send on a closed channel. */
static bool try_case(goc_select_case *cs, chan_waiter **wake)
{
	goc_chan *c = cs->chan;
	if (cs->dir == GOC_SELECT_SEND)
		return goc__chan_send_locked(c, cs->elem, wake);
	bool closed;
	if (!goc__chan_recv_locked(c, cs->elem, &closed, wake))
		return false;
	cs->ok = !closed;
	return true;
}

static int select_cases(goc_select_case *cases, size_t n, int64_t timeout, goc_chan **chans,
			goc_chan **relock, uint32_t *order, chan_waiter **waiters)
{
	/* Random poll order over the cases that have a channel (an
	 * inside-out Fisher-Yates shuffle). */
	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cases[i].chan)
			continue;
		uint32_t j = goc__fastrand() % (uint32_t)(live + 1);
		order[live] = order[j];
		order[j] = (uint32_t)i;
		live++;
	}
	size_t nchans = 0;
	for (size_t i = 0; i < n; i++)
		if (cases[i].chan)
			chans[nchans++] = cases[i].chan;
	/* Selects have a handful of cases: an insertion sort beats qsort's
	 * call overhead and temporary buffer (6% of SelectPingPong). */
	if (nchans > 16) {
		qsort(chans, nchans, sizeof *chans, compare_chan);
	} else {
		for (size_t i = 1; i < nchans; i++) {
			goc_chan *c = chans[i];
			size_t j = i;
			for (; j > 0 && (uintptr_t)chans[j - 1] > (uintptr_t)c; j--)
				chans[j] = chans[j - 1];
			chans[j] = c;
		}
	}
	size_t distinct = 0;
	for (size_t i = 0; i < nchans; i++)
		if (distinct == 0 || chans[distinct - 1] != chans[i])
			chans[distinct++] = chans[i];
	struct select_locks locks = {.chans = chans, .n = distinct, .heap_lock = NULL};

	if (live == 0) {
		if (timeout == 0)
			return -1;
		if (timeout > 0) {
			goc_sleep(timeout);
			return -1;
		}
		goc__chan_block_forever(n == 0 ? WAIT_SELECT_NO_CASES : WAIT_SELECT);
	}

	lock_all(&locks);
	for (size_t k = 0; k < live; k++) {
		goc_select_case *cs = &cases[order[k]];
		chan_waiter *wake;
		if (cs->dir == GOC_SELECT_SEND && cs->chan->closed) {
			unlock_all(&locks);
			goc__chan_panic_closed_send();
		}
		if (try_case(cs, &wake)) {
			unlock_all(&locks);
			if (wake)
				goc__chan_wake(wake);
			return (int)order[k];
		}
	}
	if (timeout == 0) {
		unlock_all(&locks);
		return -1;
	}

	goc__g *g = goc__g_self();
	/* No waiter of ours is queued anywhere and every channel is locked:
	 * a claimant can only see this after it takes one of the locks. */
	goc__store_relaxed(&g->select_done, 0);
	for (size_t k = 0; k < live; k++) {
		uint32_t i = order[k];
		chan_waiter *w = goc__chan_waiter_get();
		w->elem = cases[i].elem;
		w->is_select = true;
		w->case_index = (int)i;
		waiters[k] = w;
		goc__waitq_push(cases[i].dir == GOC_SELECT_SEND ? &cases[i].chan->sendq
								: &cases[i].chan->recvq,
				w);
	}
	struct select_timeout st = {.g = g};
	if (timeout > 0) {
		st.timer.when = goc_now() + timeout;
		st.timer.fn = select_timeout_fire;
		st.timer.arg = &st;
		goc__m *m = goc__m_self();
		goc__p *p = m && m->p ? m->p : goc__sched.allp[0];
		if (goc__rtimer_add_locked(p, &st.timer, &locks.heap_lock))
			goc__sched_timer_armed(st.timer.when);
	} else
		allow_compaction(g, waiters, (uint32_t)live);
	goc__park(unlock_all_for_park, &locks, WAIT_SELECT);

	uint32_t fired = g->wakeup;
	if (timeout > 0 && fired != TIMED_OUT && !goc__rtimer_del(&st.timer)) {
		/* The timer was popped and its callback lost the race: wait
		 * until it has let go of st, which lives in this frame. */
		while (!goc__load_acquire(&st.finished))
			goc_yield();
	}
	/* Relock to withdraw our other waiters. Build the list apart from
	 * `locks`, which the M that parked us may still be reading as it
	 * releases the locks. Leave out the channel whose operation woke us:
	 * the goroutine that completed it may have freed it already, and
	 * unless it appears in several cases no waiter of ours is left there. */
	struct select_locks again = {.chans = relock, .n = 0, .heap_lock = NULL};
	goc_chan *winner = fired != TIMED_OUT ? cases[fired].chan : NULL;
	size_t winner_uses = 0;
	for (size_t k = 0; k < live; k++)
		winner_uses += cases[order[k]].chan == winner;
	for (size_t i = 0; i < locks.n; i++)
		if (chans[i] != winner || winner_uses > 1)
			relock[again.n++] = chans[i];
	lock_all(&again);
	bool won_success = false;
	for (size_t k = 0; k < live; k++) {
		chan_waiter *w = waiters[k];
		if ((uint32_t)w->case_index == fired) {
			won_success = w->success;
			continue;
		}
		uint32_t i = (uint32_t)w->case_index;
		goc__waitq_remove(cases[i].dir == GOC_SELECT_SEND ? &cases[i].chan->sendq
								  : &cases[i].chan->recvq,
				  w);
	}
	unlock_all(&again);
	for (size_t k = 0; k < live; k++)
		goc__chan_waiter_put(waiters[k]);
	if (fired == TIMED_OUT)
		return -1;
	goc_select_case *cs = &cases[fired];
	if (cs->dir == GOC_SELECT_SEND) {
		if (!won_success)
			goc__chan_panic_closed_send();
	} else {
		cs->ok = won_success; /* closed: the closer zeroed *elem */
	}
	return (int)fired;
}

int goc_select(goc_select_case *cases, size_t n, int64_t timeout)
{
	if (n && !cases)
		goc__panic("goc_select: NULL cases with n = %zu", n);
	for (size_t i = 0; i < n; i++) {
		goc_select_case *cs = &cases[i];
		if (cs->dir != GOC_SELECT_SEND && cs->dir != GOC_SELECT_RECV)
			goc__panic("goc_select: case %zu has an invalid direction %d", i,
				   (int)cs->dir);
		if (cs->chan && cs->dir == GOC_SELECT_SEND && !cs->elem && cs->chan->elem_size)
			goc__panic("goc_select: send case %zu has a NULL element", i);
		if (cs->dir == GOC_SELECT_RECV)
			cs->ok = false;
	}
	if (timeout > 0)
		goc__runtime_init(); /* the timeout timer needs the Ps */
	goc_chan *small_chans[2 * SMALL];
	uint32_t small_order[SMALL];
	chan_waiter *small_waiters[SMALL];
	goc_chan **chans = small_chans;
	uint32_t *order = small_order;
	chan_waiter **waiters = small_waiters;
	if (n > SMALL) {
		chans = malloc(2 * n * sizeof *chans);
		order = malloc(n * sizeof *order);
		waiters = malloc(n * sizeof *waiters);
		if (!chans || !order || !waiters)
			goc__panic("goc_select: out of memory for %zu cases", n);
	}
	size_t room = n > SMALL ? n : SMALL;
	int r = select_cases(cases, n, timeout, chans, chans + room, order, waiters);
	if (n > SMALL) {
		free(chans);
		free(order);
		free(waiters);
	}
	return r;
}
