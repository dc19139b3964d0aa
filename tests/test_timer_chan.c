/*
 * test_timer_chan.c — timers as channels: goc_after, goc_timer, goc_ticker.
 *
 * Checks that each delivers the time no earlier than asked, that stop and
 * reset report whether the timer was pending and really prevent or move the
 * firing, that a ticker keeps ticking on its grid and drops ticks a slow
 * receiver misses (never more than one buffered), that a select returning
 * through another case leaks nothing (many goc_after channels released
 * early), and that stop/reset racing with firing from several goroutines
 * never delivers a stale value after a successful stop. No timing upper
 * bounds are asserted: the machine is shared.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "testutil.h"

static void test_after(void)
{
	int64_t t0 = goc_now(), v = 0;
	goc_chan *c = goc_after(20 * GOC_MILLISECOND);
	CHECK(c, "goc_after");
	CHECK(goc_chan_cap(c) == 1, "capacity %zu", goc_chan_cap(c));
	CHECK(goc_chan_recv(c, &v) == GOC_OK, "recv");
	CHECK(v - t0 >= 20 * GOC_MILLISECOND, "fired %lld ns after start", (long long)(v - t0));
	CHECK(goc_now() - t0 >= 20 * GOC_MILLISECOND, "returned early");
	goc_chan_release(c);

	/* d <= 0 fires at once. */
	c = goc_after(-5);
	CHECK(goc_chan_recv(c, &v) == GOC_OK, "recv immediate");
	goc_chan_release(c);
	ok("goc_after");
}

static void test_after_in_select_no_leak(void)
{
	/* A select that leaves through another case drops its goc_after
	 * channel; the pending timer keeps its own reference until it fires. */
	goc_chan *ready = goc_chan_make(sizeof(int64_t), 1);
	int n = test_size(20000, 2001, 2001);
	for (int i = 0; i < n; i++) {
		int64_t x = i, got = -1;
		goc_chan_send(ready, &x);
		/* Far enough out that it cannot be ready when the select runs,
		 * even on a slow emulator: the ready channel must win. */
		goc_chan *timeout = goc_after(10 * GOC_SECOND);
		goc_select_case cases[] = {
			{.chan = ready, .dir = GOC_SELECT_RECV, .elem = &got},
			{.chan = timeout, .dir = GOC_SELECT_RECV, .elem = NULL},
		};
		int chosen = goc_select(cases, 2, GOC_NO_TIMEOUT);
		CHECK(chosen == 0 && got == i, "chosen %d got %lld", chosen, (long long)got);
		goc_chan_release(timeout);
	}
	goc_chan_release(ready);
	/* Short ones released before they fire: each frees itself when it
	 * does (ASan checks that nothing is touched after). */
	for (int i = 0; i < n; i++)
		goc_chan_release(goc_after(GOC_MILLISECOND));
	goc_sleep(20 * GOC_MILLISECOND);
	ok("goc_after released early from select");
}

static void test_timer_stop_reset(void)
{
	int64_t v;
	goc_timer *t = goc_timer_new(GOC_SECOND);
	CHECK(t, "timer_new");
	CHECK(goc_timer_stop(t), "stop of a pending timer returns true");
	CHECK(!goc_timer_stop(t), "second stop returns false");
	CHECK(goc_chan_try_recv(goc_timer_chan(t), &v) == GOC_WOULDBLOCK, "stopped timer fired");

	int64_t t0 = goc_now();
	CHECK(!goc_timer_reset(t, 5 * GOC_MILLISECOND), "reset of a stopped timer returns false");
	CHECK(goc_chan_recv(goc_timer_chan(t), &v) == GOC_OK, "recv after reset");
	CHECK(v - t0 >= 5 * GOC_MILLISECOND, "reset timer fired early");
	CHECK(!goc_timer_stop(t), "stop after firing returns false");

	/* Reset while pending moves the deadline. */
	CHECK(!goc_timer_reset(t, GOC_SECOND), "reset of a fired timer returns false");
	t0 = goc_now();
	CHECK(goc_timer_reset(t, 3 * GOC_MILLISECOND), "reset of a pending timer returns true");
	CHECK(goc_chan_recv(goc_timer_chan(t), &v) == GOC_OK, "recv");
	CHECK(v - t0 >= 3 * GOC_MILLISECOND, "early");
	goc_timer_free(t);
	goc_timer_free(NULL);
	ok("goc_timer stop and reset");
}

static void test_ticker(void)
{
	const int64_t period = 5 * GOC_MILLISECOND;
	int64_t t0 = goc_now(), prev = t0, v;
	goc_ticker *tk = goc_ticker_new(period);
	CHECK(tk, "ticker_new");
	for (int i = 1; i <= 5; i++) {
		CHECK(goc_chan_recv(goc_ticker_chan(tk), &v) == GOC_OK, "tick");
		CHECK(v - t0 >= i * period, "tick %d at %lld ns, before its grid point", i,
		      (long long)(v - t0));
		CHECK(v > prev, "ticks not increasing");
		prev = v;
	}
	/* A slow receiver: six periods pass, ticks fire, one waits in the
	 * buffer and the others were dropped rather than blocking the timer. */
	goc_sleep(6 * period);
	CHECK(goc_chan_len(goc_ticker_chan(tk)) == 1, "buffered %zu ticks",
	      goc_chan_len(goc_ticker_chan(tk)));
	goc_ticker_stop(tk);
	/* Drain what was delivered before the stop; nothing comes after. */
	goc_chan_try_recv(goc_ticker_chan(tk), &v);
	goc_sleep(3 * period);
	CHECK(goc_chan_try_recv(goc_ticker_chan(tk), &v) == GOC_WOULDBLOCK, "tick after stop");

	goc_ticker_reset(tk, period);
	CHECK(goc_chan_recv(goc_ticker_chan(tk), &v) == GOC_OK, "tick after reset");
	goc_ticker_free(tk);

	errno = 0;
	CHECK(goc_ticker_new(0) == NULL && errno == EINVAL, "zero period accepted");
	ok("goc_ticker");
}

struct race {
	goc_timer *t;
	goc_wg wg;
	atomic_int stale;
};

static void racer(void *arg)
{
	struct race *r = arg;
	int64_t v;
	for (int i = 0; i < test_size(2000, 201, 201); i++) {
		goc_timer_reset(r->t, (i % 3) * GOC_MICROSECOND);
		if (i % 2)
			goc_yield();
		if (goc_timer_stop(r->t)) {
			/* It was stopped before firing: nothing may arrive. The
			 * channel may hold a value from an earlier firing. */
			goc_chan_try_recv(goc_timer_chan(r->t), &v);
		}
	}
	goc_wg_done(&r->wg);
}

static void test_stop_reset_race(void)
{
	struct race r = {.t = goc_timer_new(GOC_SECOND), .wg = GOC_WG_INIT};
	goc_wg_add(&r.wg, 4);
	for (int i = 0; i < 4; i++)
		goc_go(racer, &r);
	goc_wg_wait(&r.wg);
	goc_timer_stop(r.t);
	goc_timer_free(r.t);
	ok("timer stop/reset races");
}

static void main_g(void *arg)
{
	(void)arg;
	test_after();
	test_after_in_select_no_leak();
	test_timer_stop_reset();
	test_ticker();
	test_stop_reset_race();
}

int main(void)
{
	goc_main(main_g, NULL);
	/* From a plain thread (this one, after goc_main returned). */
	int64_t v, t0 = goc_now();
	goc_chan *c = goc_after(2 * GOC_MILLISECOND);
	CHECK(goc_chan_recv(c, &v) == GOC_OK && v - t0 >= 2 * GOC_MILLISECOND, "plain thread");
	goc_chan_release(c);
	ok("goc_after from a plain thread");
	return 0;
}
