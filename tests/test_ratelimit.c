/*
 * test_ratelimit.c — goc_limiter against the cases of x/time/rate's
 * rate_test.go (allow sequences, reservations and their cancellation,
 * set_limit/set_burst, reserve with a maximum wait, WaitN's errors) and the
 * edge cases users filed against it: a zero limit with a burst, burst 1 at
 * rate 0, the infinite rate with burst 0, parallel waits and allows from
 * goroutines and plain threads (never more events than the bucket gives).
 * Outcomes only: no assertion depends on how long anything took.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>

#include "testutil.h"

#define D (100 * GOC_MILLISECOND)
static int64_t t0;
#define T(k) (t0 + (int64_t)(k)*D)

struct allow {
	int64_t t;
	int n;
	bool ok;
};

static void run_allows(goc_limiter *lim, const struct allow *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		bool ok = goc_limiter_allow_n(lim, a[i].t, a[i].n);
		CHECK(ok == a[i].ok, "%s step %zu: allow_n(t%lld, %d) = %d", name, i,
		      (long long)((a[i].t - t0) / D), a[i].n, ok);
	}
}
#define ALLOWS(lim, name, ...)                                                   \
	do {                                                                     \
		const struct allow steps_[] = {__VA_ARGS__};                     \
		run_allows(lim, steps_, sizeof steps_ / sizeof steps_[0], name); \
	} while (0)

/* Multiples of D since t0, swallowing small inaccuracies as Go's test. */
static long d_since(int64_t t)
{
	return (long)((t - t0 + GOC_MILLISECOND) / D);
}

static goc_reservation reserve(goc_limiter *lim, int64_t t, int n, int64_t act, bool ok)
{
	goc_reservation r = goc_limiter_reserve_n(lim, t, n);
	CHECK(r.ok == ok && (!ok || d_since(r.time_to_act) == d_since(act)),
	      "reserve_n(t%ld, %d) = (t%ld, %d) want (t%ld, %d)", d_since(t), n,
	      d_since(r.time_to_act), r.ok, d_since(act), ok);
	return r;
}

static void every(void)
{
	CHECK(isinf(goc_rate_every(0)) && isinf(goc_rate_every(-1)), "every(<=0) is inf");
	CHECK(goc_rate_every(GOC_NANOSECOND) == 1e9, "1ns");
	CHECK(goc_rate_every(GOC_SECOND) == 1, "1s");
	CHECK(goc_rate_every(2 * GOC_SECOND) == 0.5, "2s");
	CHECK(fabs(goc_rate_every(2500 * GOC_MILLISECOND) - 0.4) < 1e-12, "2.5s");
	ok("every");
}

static void allows(void)
{
	goc_limiter *lim = goc_limiter_new(10, 1);
	ALLOWS(lim, "burst1", {T(0), 1, true}, {T(0), 1, false}, {T(0), 1, false}, {T(1), 1, true},
	       {T(1), 1, false}, {T(1), 1, false}, {T(2), 2, false}, {T(2), 1, true},
	       {T(2), 1, false});
	goc_limiter_free(lim);
	lim = goc_limiter_new(10, 3);
	ALLOWS(lim, "burst3", {T(0), 2, true}, {T(0), 2, false}, {T(0), 1, true}, {T(0), 1, false},
	       {T(1), 4, false}, {T(2), 1, true}, {T(3), 1, true}, {T(4), 1, true}, {T(4), 1, true},
	       {T(4), 1, false}, {T(4), 1, false}, {T(9), 3, true}, {T(9), 0, true});
	goc_limiter_free(lim);
	lim = goc_limiter_new(10, 3);
	ALLOWS(lim, "jump backwards", {T(1), 1, true}, {T(0), 1, true}, {T(0), 1, true},
	       {T(0), 1, false}, {T(0), 1, false}, {T(1), 1, true}, {T(1), 1, false},
	       {T(1), 1, false}, {T(2), 1, true}, {T(2), 1, false}, {T(2), 1, false});
	goc_limiter_free(lim);
	/* golang.org/issue/34861: no truncation of nanoseconds. */
	lim = goc_limiter_new(0.7692307692307693, 1);
	CHECK(goc_limiter_allow(lim), "no truncation errors");
	goc_limiter_free(lim);
	ok("allow_n sequences (burst 1, burst 3, time going backwards)");
}

static void reservations(void)
{
	goc_limiter *lim = goc_limiter_new(10, 2);
	reserve(lim, T(0), 2, T(0), true);
	reserve(lim, T(0), 2, T(2), true);
	reserve(lim, T(3), 2, T(4), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 0);
	reserve(lim, T(0), 2, T(0), false);
	reserve(lim, T(3), 2, T(0), false);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 2); /* mix */
	reserve(lim, T(0), 3, T(1), false);
	reserve(lim, T(0), 2, T(0), true);
	ALLOWS(lim, "mix1", {T(1), 2, false});
	reserve(lim, T(1), 2, T(2), true);
	ALLOWS(lim, "mix2", {T(1), 1, false});
	ALLOWS(lim, "mix3", {T(3), 1, true});
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 2); /* cancel invalid */
	reserve(lim, T(0), 2, T(0), true);
	goc_reservation r = reserve(lim, T(0), 3, T(3), false);
	goc_reservation_cancel_at(&r, T(0));
	reserve(lim, T(0), 2, T(2), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 2); /* cancel last */
	reserve(lim, T(0), 2, T(0), true);
	r = reserve(lim, T(0), 2, T(2), true);
	goc_reservation_cancel_at(&r, T(1));
	reserve(lim, T(1), 2, T(2), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 2); /* cancel too late */
	reserve(lim, T(0), 2, T(0), true);
	r = reserve(lim, T(0), 2, T(2), true);
	goc_reservation_cancel_at(&r, T(3));
	reserve(lim, T(3), 2, T(4), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 2); /* cancel giving 0 tokens back */
	reserve(lim, T(0), 2, T(0), true);
	r = reserve(lim, T(0), 1, T(1), true);
	reserve(lim, T(0), 1, T(2), true);
	goc_reservation_cancel_at(&r, T(0));
	reserve(lim, T(0), 1, T(3), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 2); /* cancel giving 1 token back */
	reserve(lim, T(0), 2, T(0), true);
	r = reserve(lim, T(0), 2, T(2), true);
	reserve(lim, T(0), 1, T(3), true);
	goc_reservation_cancel_at(&r, T(2));
	reserve(lim, T(2), 2, T(4), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 4); /* cancel several */
	reserve(lim, T(0), 4, T(0), true);
	goc_reservation ra = reserve(lim, T(0), 3, T(3), true);
	reserve(lim, T(0), 1, T(4), true);
	goc_reservation rc = reserve(lim, T(0), 1, T(5), true);
	goc_reservation_cancel_at(&rc, T(1));
	goc_reservation_cancel_at(&ra, T(1));
	reserve(lim, T(1), 3, T(5), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 2); /* reserve jumping back */
	reserve(lim, T(1), 2, T(1), true);
	reserve(lim, T(0), 1, T(1), true);
	reserve(lim, T(2), 2, T(3), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(10, 2); /* jump back, cancel */
	reserve(lim, T(1), 2, T(1), true);
	r = reserve(lim, T(1), 2, T(3), true);
	reserve(lim, T(1), 1, T(4), true);
	goc_reservation_cancel_at(&r, T(0));
	reserve(lim, T(1), 2, T(4), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(5, 2); /* set limit */
	reserve(lim, T(0), 2, T(0), true);
	reserve(lim, T(0), 2, T(4), true);
	goc_limiter_set_limit_at(lim, T(2), 10);
	reserve(lim, T(2), 1, T(4), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(5, 2); /* set burst */
	reserve(lim, T(0), 2, T(0), true);
	reserve(lim, T(0), 2, T(4), true);
	goc_limiter_set_burst_at(lim, T(3), 4);
	reserve(lim, T(0), 4, T(9), true);
	goc_limiter_free(lim);

	lim = goc_limiter_new(5, 2); /* set limit, then cancel */
	reserve(lim, T(0), 2, T(0), true);
	r = reserve(lim, T(0), 2, T(4), true);
	goc_limiter_set_limit_at(lim, T(2), 10);
	goc_reservation_cancel_at(&r, T(2));
	reserve(lim, T(2), 2, T(3), true);
	goc_limiter_free(lim);

	/* Delays, and a reservation that is not ok waits forever. */
	lim = goc_limiter_new(10, 1);
	r = goc_limiter_reserve_n(lim, T(0), 1);
	CHECK(goc_reservation_delay_from(&r, T(0)) == 0, "delay 0");
	r = goc_limiter_reserve_n(lim, T(0), 1);
	CHECK(goc_reservation_delay_from(&r, T(0)) == D, "delay D");
	CHECK(goc_reservation_delay_from(&r, T(5)) == 0, "delay past");
	r = goc_limiter_reserve_n(lim, T(0), 2);
	CHECK(!r.ok && goc_reservation_delay_from(&r, T(0)) == GOC_INF_DURATION, "not ok");
	goc_limiter_free(lim);
	ok("reservations: delays, cancel (nothing, some, all tokens back), set_limit, set_burst");
}

static void zero_and_infinite(void)
{
	/* A zero limit allows `burst` events in all, then none. */
	goc_limiter *lim = goc_limiter_new(0, 10);
	ALLOWS(lim, "zero limit", {T(0), 2, true}, {T(0), 8, true}, {T(1), 1, false},
	       {T(1000), 1, false});
	goc_limiter_free(lim);
	lim = goc_limiter_new(0, 1);
	ALLOWS(lim, "burst 1 rate 0", {T(0), 1, true}, {T(0), 1, false}, {T(1000), 1, false});
	goc_limiter_free(lim);
	/* Inf with burst 0 allows everything, any n. */
	lim = goc_limiter_new(GOC_RATE_INF, 0);
	ALLOWS(lim, "inf burst 0", {T(0), 1, true}, {T(0), 1000, true}, {T(0), 1, true});
	goc_reservation r = goc_limiter_reserve_n(lim, T(0), 5);
	CHECK(r.ok && goc_reservation_delay_from(&r, T(0)) == 0, "inf reserve");
	CHECK(goc_limiter_wait_n(lim, NULL, 100) == GOC_OK, "inf wait beyond burst");
	/* Leaving inf: the bucket keeps what it held (its burst, 0 here). */
	goc_limiter_set_limit_at(lim, T(1), 10);
	goc_limiter_set_burst_at(lim, T(1), 1);
	ALLOWS(lim, "after inf", {T(1), 1, false}, {T(2), 1, true}, {T(2), 1, false});
	goc_limiter_free(lim);
	/* A limiter with burst 0 and a finite limit allows nothing but n 0. */
	lim = goc_limiter_new(10, 0);
	ALLOWS(lim, "burst 0", {T(0), 1, false}, {T(100), 1, false}, {T(100), 0, true});
	goc_limiter_free(lim);
	ok("zero limit, burst 1 at rate 0, inf with burst 0, burst 0");
}

struct waiter {
	goc_limiter *lim;
	goc_ctx *ctx;
	goc_status st;
	goc_wg done;
};

static void waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->st = goc_limiter_wait_n(w->lim, w->ctx, 1);
	goc_wg_done(&w->done);
}

static void reserve_max_and_wait(void)
{
	goc_limiter *lim = goc_limiter_new(10, 3);
	goc_ctx *cancelled = goc_ctx_with_cancel(goc_ctx_background());
	goc_ctx_cancel(cancelled);
	CHECK(goc_limiter_wait_n(lim, cancelled, 1) == GOC_CANCELED, "already cancelled");
	CHECK(goc_limiter_wait_n(lim, NULL, 4) == -EINVAL, "n > burst");
	CHECK(goc_limiter_wait_n(lim, NULL, 3) == GOC_OK, "full bucket: no wait");
	/* The bucket is empty: 3 tokens take 300 ms, past a 10 ms deadline,
	 * so wait_n refuses at once and takes nothing. */
	goc_ctx *short_ctx = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_MILLISECOND);
	CHECK(goc_limiter_wait_n(lim, short_ctx, 3) == GOC_TIMEOUT, "would exceed deadline");
	CHECK(goc_ctx_err(short_ctx) == GOC_OK || goc_ctx_err(short_ctx) == GOC_TIMEOUT, "ctx");
	goc_ctx_cancel(short_ctx);
	goc_ctx_release(short_ctx);
	goc_ctx_release(cancelled);
	goc_limiter_free(lim);

	/* A wait that ctx cancels: the reservation is cancelled, so its
	 * token goes back and the next one is not pushed a second later. */
	lim = goc_limiter_new(1, 1);
	CHECK(goc_limiter_allow_n(lim, goc_now(), 1), "take the only token");
	struct waiter w = {lim, goc_ctx_with_cancel(goc_ctx_background()), GOC_OK, GOC_WG_INIT};
	goc_wg_add(&w.done, 1);
	CHECK(goc_go(waiter_main, &w) > 0, "go");
	goc_sleep(10 * GOC_MILLISECOND);
	goc_ctx_cancel(w.ctx);
	goc_wg_wait(&w.done);
	CHECK(w.st == GOC_CANCELED, "cancelled wait: %d", w.st);
	int64_t now = goc_now();
	goc_reservation r = goc_limiter_reserve_n(lim, now, 1);
	CHECK(r.ok && goc_reservation_delay_from(&r, now) <= GOC_SECOND,
	      "the cancelled wait's token came back (delay %lld)",
	      (long long)goc_reservation_delay_from(&r, now));
	goc_ctx_release(w.ctx);
	goc_limiter_free(lim);
	ok("wait_n: cancelled ctx, n over the burst, a wait past the deadline");
}

/* ---- parallel use ---- */

struct hammer {
	goc_limiter *lim;
	int calls;
	int64_t allowed; /* atomic */
	int64_t waited;  /* atomic */
	goc_wg done;
};

static void allow_hammer(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < h->calls; i++)
		if (goc_limiter_allow(h->lim))
			__atomic_add_fetch(&h->allowed, 1, __ATOMIC_RELAXED);
	goc_wg_done(&h->done);
}

static void *allow_thread(void *arg)
{
	allow_hammer(arg);
	return NULL;
}

static void wait_hammer(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < h->calls; i++)
		if (goc_limiter_wait(h->lim, NULL) == GOC_OK)
			__atomic_add_fetch(&h->waited, 1, __ATOMIC_RELAXED);
	goc_wg_done(&h->done);
}

static void parallel(void *arg)
{
	(void)arg;
	/* One token an hour, a burst of 50: exactly 50 of the allows from
	 * 8 goroutines and 2 plain threads succeed. */
	struct hammer h = {.lim = goc_limiter_new(goc_rate_every(GOC_HOUR), 50),
			   .calls = 2000,
			   .done = GOC_WG_INIT};
	goc_wg_add(&h.done, 10);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, allow_thread, &h) == 0, "thread");
	for (int i = 0; i < 8; i++)
		CHECK(goc_go(allow_hammer, &h) > 0, "go");
	goc_wg_wait(&h.done);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(h.allowed == 50, "allowed %lld of a burst of 50", (long long)h.allowed);
	goc_limiter_free(h.lim);

	/* Parallel waits at 2000/s with a burst of 1: all 100 succeed, and
	 * they cannot all have happened in less than 99 token intervals. */
	struct hammer w = {.lim = goc_limiter_new(2000, 1), .calls = 25, .done = GOC_WG_INIT};
	goc_wg_add(&w.done, 4);
	int64_t start = goc_now();
	for (int i = 0; i < 4; i++)
		CHECK(goc_go(wait_hammer, &w) > 0, "go");
	goc_wg_wait(&w.done);
	int64_t took = goc_now() - start;
	CHECK(w.waited == 100, "waited %lld", (long long)w.waited);
	CHECK(took >= 99 * GOC_SECOND / 2000, "100 events in %lld ns", (long long)took);
	goc_limiter_free(w.lim);
	ok("parallel allow (goroutines and plain threads) and parallel wait_n");
}

static void all(void *arg)
{
	(void)arg;
	t0 = goc_now();
	every();
	allows();
	reservations();
	zero_and_infinite();
	reserve_max_and_wait();
	parallel(NULL);
}

int main(void)
{
	goc_main(all, NULL);
	return 0;
}
