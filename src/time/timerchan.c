/*
 * timerchan.c — timers that deliver on channels: goc_after, goc_timer,
 * goc_ticker (Go's time.After, time.Timer, time.Ticker).
 *
 * A chan_timer embeds a runtime timer and owns a channel of capacity 1.
 * Firing does a non-blocking send of the time (a full channel drops the
 * tick, as in Go) and, for a ticker, re-arms the timer for the next tick on
 * its grid.
 *
 * Lifetime. refs counts the user's handle plus one for the runtime timer
 * while it is pending in a heap. Firing takes over the heap's reference for
 * the length of the callback: a one-shot callback drops it at the end, a
 * ticker hands it back to the heap when it re-arms. So the object outlives
 * any callback in flight, whatever the user does meanwhile.
 *
 * lock (a goc__lock) orders stop/reset against firing: all take it. A
 * callback that was already past the heap when the timer was stopped sees
 * `stopped`; one that raced with a reset finds the timer back in a heap.
 * Either way it delivers nothing and does not re-arm. Lock order: chan_timer.lock, then a timer heap lock,
 * then the channel's lock.
 */
#include <errno.h>
#include <stdlib.h>

#include "../sched/runtime.h"

typedef struct chan_timer {
	goc__rtimer rt;
	goc__lock lock;
	goc_chan *c;
	int64_t period; /* > 0 for a ticker */
	int64_t refs;   /* atomic */
	bool stopped;   /* lock */
} chan_timer;

struct goc_timer {
	chan_timer ct;
};
struct goc_ticker {
	chan_timer ct;
};

static void ct_unref(chan_timer *ct)
{
	if (goc__sub_fetch_acqrel(&ct->refs, 1) == 0) {
		goc_chan_release(ct->c);
		free(ct);
	}
}

/* Puts ct in a heap (the caller's P's, or P0's from a plain thread); the
 * heap's reference is taken here. ct->lock held. */
static void ct_arm(chan_timer *ct, int64_t when)
{
	goc__runtime_init();
	goc__m *m = goc__m_self();
	goc__p *p = m && m->p ? m->p : goc__sched.allp[0];
	goc__fetch_add_relaxed(&ct->refs, 1);
	ct->rt.when = when;
	goc__rtimer_add(p, &ct->rt);
}

/* Takes ct out of its heap if it is there; ct->lock held. */
static bool ct_disarm(chan_timer *ct)
{
	if (!goc__rtimer_del(&ct->rt))
		return false;
	ct_unref(ct); /* the heap's reference; the user still holds one */
	return true;
}

static void ct_fire(goc__rtimer *rt, int64_t now)
{
	chan_timer *ct = rt->arg;
	goc__lock_acquire(&ct->lock);
	/* Stopped, or reset (and so back in a heap) after this firing left
	 * the heap: this callback is stale and must not deliver or re-arm. */
	bool stale = ct->stopped || goc__load_acquire(&rt->heap) != NULL;
	if (!stale) {
		goc_chan_try_send(ct->c, &now);
		if (ct->period > 0) {
			/* Next tick on the grid, skipping ticks missed entirely. */
			int64_t missed = (now - rt->when) / ct->period;
			ct_arm(ct, rt->when + (missed + 1) * ct->period);
		}
	}
	goc__lock_release(&ct->lock);
	ct_unref(ct); /* the reference the heap passed to this callback */
}

static chan_timer *ct_new(int64_t first, int64_t period)
{
	chan_timer *ct = calloc(1, sizeof *ct);
	goc_chan *c = goc_chan_make(sizeof(int64_t), 1);
	if (!ct || !c) {
		free(ct);
		goc_chan_release(c);
		errno = ENOMEM;
		return NULL;
	}
	ct->c = c;
	ct->period = period;
	ct->refs = 1;
	ct->rt.fn = ct_fire;
	ct->rt.arg = ct;
	goc__lock_acquire(&ct->lock);
	ct_arm(ct, goc_now() + (first > 0 ? first : 0));
	goc__lock_release(&ct->lock);
	return ct;
}

static bool ct_stop(chan_timer *ct)
{
	goc__lock_acquire(&ct->lock);
	ct->stopped = true;
	bool was_pending = ct_disarm(ct);
	goc__lock_release(&ct->lock);
	return was_pending;
}

static bool ct_reset(chan_timer *ct, int64_t d, int64_t period)
{
	goc__lock_acquire(&ct->lock);
	bool was_pending = ct_disarm(ct);
	ct->stopped = false;
	ct->period = period;
	ct_arm(ct, goc_now() + (d > 0 ? d : 0));
	goc__lock_release(&ct->lock);
	return was_pending;
}

static void ct_free(chan_timer *ct)
{
	if (!ct)
		return;
	ct_stop(ct);
	ct_unref(ct);
}

goc_chan *goc_after(int64_t d)
{
	chan_timer *ct = ct_new(d, 0);
	if (!ct)
		return NULL;
	/* The caller gets its own channel reference; the timer object lives
	 * on only until it fires (its user reference is dropped here). */
	goc_chan *c = goc_chan_retain(ct->c);
	ct_unref(ct);
	return c;
}

goc_timer *goc_timer_new(int64_t d)
{
	return (goc_timer *)ct_new(d, 0);
}

goc_chan *goc_timer_chan(goc_timer *t)
{
	if (!t)
		goc__panic("goc_timer_chan: nil timer");
	return t->ct.c;
}

bool goc_timer_stop(goc_timer *t)
{
	if (!t)
		goc__panic("goc_timer_stop: nil timer");
	return ct_stop(&t->ct);
}

bool goc_timer_reset(goc_timer *t, int64_t d)
{
	if (!t)
		goc__panic("goc_timer_reset: nil timer");
	return ct_reset(&t->ct, d, 0);
}

void goc_timer_free(goc_timer *t)
{
	ct_free(t ? &t->ct : NULL);
}

goc_ticker *goc_ticker_new(int64_t period)
{
	if (period <= 0) {
		errno = EINVAL;
		return NULL;
	}
	return (goc_ticker *)ct_new(period, period);
}

goc_chan *goc_ticker_chan(goc_ticker *t)
{
	if (!t)
		goc__panic("goc_ticker_chan: nil ticker");
	return t->ct.c;
}

void goc_ticker_stop(goc_ticker *t)
{
	if (!t)
		goc__panic("goc_ticker_stop: nil ticker");
	ct_stop(&t->ct);
}

void goc_ticker_reset(goc_ticker *t, int64_t period)
{
	if (!t)
		goc__panic("goc_ticker_reset: nil ticker");
	if (period <= 0)
		goc__panic("goc_ticker_reset: non-positive period %lld", (long long)period);
	ct_reset(&t->ct, period, period);
}

void goc_ticker_free(goc_ticker *t)
{
	ct_free(t ? &t->ct : NULL);
}
