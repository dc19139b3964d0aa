/*
 * test_ctx_deadline.c — deadlines and the context-aware blocking calls:
 *
 *  - a timeout cancels with GOC_TIMEOUT, not before its deadline, and its
 *    descendants get GOC_TIMEOUT too; a child keeps an earlier parent
 *    deadline; a deadline already past gives a context born timed out;
 *  - cancelling before the deadline stops the timer: the context is freed
 *    at its last release, not when the deadline passes (LeakSanitizer
 *    would report it at exit otherwise: the deadlines here are an hour);
 *  - GOC_NO_TIMEOUT and GOC_NO_DEADLINE make contexts with no deadline,
 *    and a zero timeout one born timed out;
 *  - many contexts with random timeouts, half cancelled early;
 *  - goc_chan_send_ctx / goc_chan_recv_ctx give up with the context's
 *    error, complete when the channel is ready, report GOC_CLOSED;
 *  - goc_wg_wait_ctx returns the context's error and leaves the wait group
 *    clean: later waiters and the counter reaching zero work as usual,
 *    with waiters cancelled around them.
 */
#include "testutil.h"
#include "waitfor.h"

static void timeout_fires(void)
{
	int64_t t0 = goc_now();
	goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 20 * GOC_MILLISECOND);
	goc_ctx *child = goc_ctx_with_cancel(ctx);
	goc_ctx *later = goc_ctx_with_timeout(child, GOC_HOUR);
	int64_t deadline, child_deadline;
	CHECK(goc_ctx_deadline(ctx, &deadline), "no deadline");
	CHECK(deadline >= t0 + 20 * GOC_MILLISECOND && deadline <= goc_now() + 20 * GOC_MILLISECOND,
	      "deadline off");
	CHECK(goc_ctx_deadline(later, &child_deadline) && child_deadline == deadline,
	      "a later deadline below an earlier one keeps the earlier");
	/* Not timed out before its deadline (this goroutine may itself have
	 * been held up past it on a loaded machine: then GOC_TIMEOUT is right). */
	goc_status early = goc_ctx_err(ctx);
	CHECK(early == GOC_OK || goc_now() >= deadline, "timed out %lld ns before its deadline: %d",
	      (long long)(deadline - goc_now()), early);
	goc_chan_recv(goc_ctx_done(later), NULL);
	int64_t waited = goc_now() - t0;
	CHECK(waited >= 20 * GOC_MILLISECOND, "done after %lld ns", (long long)waited);
	CHECK(goc_ctx_err(ctx) == GOC_TIMEOUT, "err %d", goc_ctx_err(ctx));
	CHECK(goc_ctx_err(child) == GOC_TIMEOUT && goc_ctx_err(later) == GOC_TIMEOUT,
	      "descendants: %d %d", goc_ctx_err(child), goc_ctx_err(later));
	CHECK(goc_ctx_child_count(ctx) == 0, "timed-out context keeps children");
	goc_ctx_release(later);
	goc_ctx_release(child);
	goc_ctx_release(ctx);

	goc_ctx *past = goc_ctx_with_deadline(goc_ctx_background(), goc_now() - 1);
	CHECK(goc_ctx_err(past) == GOC_TIMEOUT, "past deadline: %d", goc_ctx_err(past));
	CHECK(goc_chan_try_recv(goc_ctx_done(past), NULL) == GOC_CLOSED, "past: done not closed");
	goc_ctx_release(past);
	ok("timeouts cancel with GOC_TIMEOUT, down the tree, not early");
}

static void cancel_stops_timer(void)
{
	goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
	goc_ctx *ctx = goc_ctx_with_timeout(parent, GOC_HOUR);
	goc_ctx_cancel(ctx);
	CHECK(goc_ctx_err(ctx) == GOC_CANCELED, "cancel before the deadline: %d", goc_ctx_err(ctx));
	CHECK(goc_ctx_child_count(parent) == 0, "still linked");
	goc_ctx_release(ctx);
	/* Cancelled through its parent: the timer is stopped too. */
	goc_ctx *ctx2 = goc_ctx_with_timeout(parent, GOC_HOUR);
	goc_ctx_cancel(parent);
	CHECK(goc_ctx_err(ctx2) == GOC_CANCELED, "through the parent: %d", goc_ctx_err(ctx2));
	goc_ctx_release(ctx2);
	goc_ctx_release(parent);
	ok("cancel stops the deadline timer (freed at once)");
}

struct timed {
	goc_ctx *ctx;
	int64_t deadline;
	bool cancel_early;
	goc_wg *finished;
	goc_status seen;
	int64_t woke;
};

static void watch(void *arg)
{
	struct timed *t = arg;
	if (t->cancel_early) {
		goc_sleep(GOC_MILLISECOND);
		goc_ctx_cancel(t->ctx);
	}
	goc_chan_recv(goc_ctx_done(t->ctx), NULL);
	t->woke = goc_now();
	t->seen = goc_ctx_err(t->ctx);
	goc_wg_done(t->finished);
}

static void many_timeouts(void)
{
	long n = test_size(2000, 500, 300);
	struct timed *t = calloc((size_t)n, sizeof *t);
	goc_wg finished = GOC_WG_INIT;
	goc_wg_add(&finished, n);
	uint64_t seed = 88172645463325252ull;
	for (long i = 0; i < n; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		int64_t timeout = (int64_t)(seed % 30 + 2) * GOC_MILLISECOND;
		t[i].cancel_early = i % 2 == 0;
		t[i].ctx = goc_ctx_with_timeout(goc_ctx_background(),
						t[i].cancel_early ? GOC_HOUR : timeout);
		goc_ctx_deadline(t[i].ctx, &t[i].deadline);
		t[i].finished = &finished;
		goc_go(watch, &t[i]);
	}
	goc_wg_wait(&finished);
	for (long i = 0; i < n; i++) {
		goc_status want = t[i].cancel_early ? GOC_CANCELED : GOC_TIMEOUT;
		CHECK(t[i].seen == want, "context %ld: %d, want %d", i, t[i].seen, want);
		if (!t[i].cancel_early)
			CHECK(t[i].woke >= t[i].deadline, "context %ld woke early", i);
		goc_ctx_release(t[i].ctx);
	}
	free(t);
	ok("many contexts with timeouts, half cancelled early");
}

static void late_send(void *arg)
{
	goc_chan *c = arg;
	goc_sleep(5 * GOC_MILLISECOND);
	int v = 42;
	goc_chan_send(c, &v);
	goc_chan_close(c);
	goc_chan_release(c);
}

static void late_recv(void *arg)
{
	goc_chan *c = arg;
	goc_sleep(5 * GOC_MILLISECOND);
	int v = 0;
	CHECK(goc_chan_recv(c, &v) == GOC_OK && v == 7, "late receiver got %d", v);
	goc_chan_release(c);
}

static void channels(void)
{
	goc_chan *c = goc_chan_make(sizeof(int), 0);
	int v = 0;
	goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_MILLISECOND);
	CHECK(goc_chan_recv_ctx(c, &v, ctx) == GOC_TIMEOUT, "recv should time out");
	CHECK(goc_chan_send_ctx(c, &v, ctx) == GOC_TIMEOUT, "send on a timed-out context");
	goc_ctx_release(ctx);

	ctx = goc_ctx_with_timeout(goc_ctx_background(), GOC_HOUR);
	goc_go(late_send, goc_chan_retain(c));
	CHECK(goc_chan_recv_ctx(c, &v, ctx) == GOC_OK && v == 42, "recv: %d", v);
	CHECK(goc_chan_recv_ctx(c, &v, ctx) == GOC_CLOSED && v == 0, "recv on closed");
	goc_chan_release(c);

	c = goc_chan_make(sizeof(int), 0);
	goc_go(late_recv, goc_chan_retain(c));
	v = 7;
	CHECK(goc_chan_send_ctx(c, &v, ctx) == GOC_OK, "send");
	goc_ctx_cancel(ctx);
	CHECK(goc_chan_send_ctx(c, &v, ctx) == GOC_CANCELED, "send on a cancelled context");
	goc_ctx_release(ctx);
	goc_chan_release(c);
	ok("channel send/recv with a context");
}

struct wg_waiter_arg {
	goc_wg *wg;
	goc_ctx *ctx;
	goc_status got;
	goc_wg *finished;
};

/* The number of goroutines waiting on wg (the low half of its state). */
static uint32_t wg_waiters(goc_wg *wg)
{
	return (uint32_t)__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST);
}

static void wait_with_ctx(void *arg)
{
	struct wg_waiter_arg *a = arg;
	a->got = goc_wg_wait_ctx(a->wg, a->ctx);
	goc_wg_done(a->finished);
}

static void waitgroups(void)
{
	goc_wg wg = GOC_WG_INIT;
	/* A live context (a short timeout might already have passed here). */
	goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), GOC_HOUR);
	CHECK(goc_wg_wait_ctx(&wg, ctx) == GOC_OK, "zero counter");
	goc_ctx_release(ctx);
	ctx = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_MILLISECOND);
	goc_wg_add(&wg, 1);
	CHECK(goc_wg_wait_ctx(&wg, ctx) == GOC_TIMEOUT, "wait should time out");
	CHECK((uint32_t)wg.state == 0, "a timed-out waiter is still counted: %llx",
	      (unsigned long long)wg.state);
	CHECK(wg.waiters_head == NULL, "a timed-out waiter is still queued");
	goc_ctx_release(ctx);

	/* Several waiters, every other one cancelled, around plain waits. */
	enum { N = 16 };
	struct wg_waiter_arg a[N];
	goc_ctx *cancel = goc_ctx_with_cancel(goc_ctx_background());
	/* The cancelled and the plain waiters report on wait groups of their
	 * own, so the cancelled ones can be waited for alone. */
	goc_wg finished_cancelled = GOC_WG_INIT, finished_plain = GOC_WG_INIT;
	goc_wg_add(&finished_cancelled, N / 2);
	goc_wg_add(&finished_plain, N / 2);
	for (int i = 0; i < N; i++) {
		a[i] = (struct wg_waiter_arg){&wg, i % 2 ? cancel : NULL, -1,
					      i % 2 ? &finished_cancelled : &finished_plain};
		goc_go(wait_with_ctx, &a[i]);
	}
	/* All N queued (each counts itself under the lock, then parks). */
	WAIT_FOR(wg_waiters(&wg) == N, "%u of %d waiters queued", wg_waiters(&wg), N);
	goc_ctx_cancel(cancel);
	goc_ctx *limit = goc_ctx_with_timeout(goc_ctx_background(), WAIT_FOR_LIMIT);
	CHECK(goc_wg_wait_ctx(&finished_cancelled, limit) == GOC_OK,
	      "the cancelled waiters did not return within 10 s");
	goc_ctx_release(limit);
	for (int i = 0; i < N; i++)
		if (i % 2)
			CHECK(a[i].got == GOC_CANCELED, "waiter %d: %d", i, a[i].got);
	CHECK(wg_waiters(&wg) == N / 2, "waiters counted: %u", wg_waiters(&wg));
	for (int i = 0; i < N; i += 2)
		CHECK(a[i].got == -1, "plain waiter %d returned before the counter reached zero",
		      i);
	goc_wg_done(&wg); /* releases the plain waiters */
	goc_wg_wait(&finished_plain);
	for (int i = 0; i < N; i++)
		CHECK(a[i].got == (i % 2 ? GOC_CANCELED : GOC_OK), "waiter %d: %d", i, a[i].got);
	CHECK(wg.state == 0, "state after release: %llx", (unsigned long long)wg.state);
	/* Usable again, a cancelled context fails at once. */
	goc_wg_add(&wg, 1);
	CHECK(goc_wg_wait_ctx(&wg, cancel) == GOC_CANCELED, "already cancelled");
	goc_wg_done(&wg);
	CHECK(goc_wg_wait_ctx(&wg, cancel) == GOC_CANCELED, "cancelled wins even at zero");
	goc_wg_wait(&wg);
	goc_ctx_release(cancel);
	ok("wait group wait with a context: cancelled waiters leave cleanly");
}

/* The counter reaching zero races with the waiters' cancellation: each
 * waiter returns exactly one of the two outcomes and the state ends
 * clean. */
static void waitgroup_race(void)
{
	long rounds = test_size(300, 100, 50);
	for (long r = 0; r < rounds; r++) {
		goc_wg wg = GOC_WG_INIT, finished = GOC_WG_INIT;
		goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
		struct wg_waiter_arg a[4];
		goc_wg_add(&wg, 1);
		goc_wg_add(&finished, 4);
		for (int i = 0; i < 4; i++) {
			a[i] = (struct wg_waiter_arg){&wg, ctx, -1, &finished};
			goc_go(wait_with_ctx, &a[i]);
		}
		goc_yield();
		if (r % 2) {
			goc_ctx_cancel(ctx);
			goc_wg_done(&wg);
		} else {
			goc_wg_done(&wg);
			goc_ctx_cancel(ctx);
		}
		goc_wg_wait(&finished);
		for (int i = 0; i < 4; i++)
			CHECK(a[i].got == GOC_OK || a[i].got == GOC_CANCELED, "round %ld: %d", r,
			      a[i].got);
		CHECK(wg.state == 0 && wg.waiters_head == NULL, "round %ld: state %llx", r,
		      (unsigned long long)wg.state);
		goc_ctx_release(ctx);
	}
	ok("wait group release races with cancellation");
}

static void no_deadline(void)
{
	int64_t d;
	/* goc_ctx_with_timeout's argument is a delay: negative, even
	 * GOC_NO_TIMEOUT's -1, is a deadline already past, as Go's. */
	goc_ctx *negative = goc_ctx_with_timeout(goc_ctx_background(), -GOC_SECOND);
	CHECK(goc_ctx_deadline(negative, &d) && d <= goc_now(),
	      "a negative timeout: no past deadline");
	CHECK(goc_ctx_err(negative) == GOC_TIMEOUT, "negative timeout: %d", goc_ctx_err(negative));
	goc_ctx_release(negative);
	goc_ctx *minus_one = goc_ctx_with_timeout(goc_ctx_background(), -1);
	CHECK(goc_ctx_err(minus_one) == GOC_TIMEOUT, "timeout -1: %d", goc_ctx_err(minus_one));
	goc_ctx_release(minus_one);
	goc_ctx *forever = goc_ctx_with_cancel(goc_ctx_background());
	CHECK(!goc_ctx_deadline(forever, &d), "goc_ctx_with_cancel has a deadline");
	CHECK(goc_ctx_err(forever) == GOC_OK, "with_cancel: %d", goc_ctx_err(forever));
	goc_ctx *none = goc_ctx_with_deadline(forever, GOC_NO_DEADLINE);
	CHECK(!goc_ctx_deadline(none, &d), "GOC_NO_DEADLINE has a deadline");
	CHECK(goc_ctx_err(none) == GOC_OK, "GOC_NO_DEADLINE: %d", goc_ctx_err(none));
	goc_ctx_cancel(forever);
	CHECK(goc_ctx_err(none) == GOC_CANCELED, "not cancelled with its parent");
	goc_ctx *now = goc_ctx_with_timeout(goc_ctx_background(), 0);
	CHECK(goc_ctx_err(now) == GOC_TIMEOUT, "timeout 0: %d", goc_ctx_err(now));
	goc_ctx_release(now);
	goc_ctx_release(none);
	goc_ctx_release(forever);
	ok("GOC_NO_DEADLINE: no deadline; timeout <= 0: timed out at once, as Go's WithTimeout");
}

static void main_g(void *arg)
{
	(void)arg;
	timeout_fires();
	cancel_stops_timer();
	no_deadline();
	many_timeouts();
	channels();
	waitgroups();
	waitgroup_race();
}

int main(void)
{
	goc_main(main_g, NULL);
	return 0;
}
