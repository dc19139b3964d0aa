/*
 * test_group.c — goc_group, the errgroup:
 *
 *  - no error: wait returns 0 after every task ran; the group's context is
 *    cancelled by wait;
 *  - the first error cancels the group's context, the other tasks see it
 *    and stop early, and wait returns that first error (not a later one);
 *  - a parent's cancellation reaches the tasks through the group's context;
 *  - the limit: never more tasks running than the limit, go blocks at the
 *    limit, try_go returns GOC_WOULDBLOCK there;
 *  - misuse panics (changing the limit while tasks run, limit 0, freeing a
 *    group with tasks running), in a child process.
 */
#include "panic_modes.h"

struct counters {
	int64_t ran;        /* atomic */
	int64_t running;    /* atomic */
	int64_t most;       /* atomic: the most running at once */
	int64_t saw_cancel; /* atomic */
};

static int count_task(goc_ctx *ctx, void *arg)
{
	(void)ctx;
	struct counters *c = arg;
	int64_t now = __atomic_add_fetch(&c->running, 1, __ATOMIC_SEQ_CST);
	int64_t most = __atomic_load_n(&c->most, __ATOMIC_SEQ_CST);
	while (now > most &&
	       !__atomic_compare_exchange_n(&c->most, &most, now, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST))
		;
	goc_sleep(200 * GOC_MICROSECOND);
	__atomic_sub_fetch(&c->running, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&c->ran, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void no_error(void)
{
	struct counters c = {0};
	goc_group *g = goc_group_new(NULL);
	for (int i = 0; i < 50; i++)
		CHECK(goc_group_go(g, count_task, &c) == GOC_OK, "go");
	CHECK(goc_ctx_err(goc_group_ctx(g)) == GOC_OK, "context cancelled early");
	CHECK(goc_group_wait(g) == 0, "error without a failing task");
	CHECK(c.ran == 50, "ran %lld", (long long)c.ran);
	CHECK(goc_ctx_err(goc_group_ctx(g)) == GOC_CANCELED, "wait cancels the context");
	goc_group_free(g);
	ok("no error: wait returns 0 after every task");
}

/* Waits for cancellation; gives up (returning 99) after WAIT_GIVE_UP, so
 * that a cancellation that never comes fails the test instead of hanging
 * it. Far longer than any working cancellation takes, even under TSan on
 * a loaded machine. */
#define WAIT_GIVE_UP (10 * GOC_SECOND)

static int wait_for_cancel(goc_ctx *ctx, void *arg)
{
	struct counters *c = arg;
	goc_chan *timeout = goc_after(WAIT_GIVE_UP);
	goc_select_case cases[2] = {{.chan = goc_ctx_done(ctx), .dir = GOC_SELECT_RECV},
				    {.chan = timeout, .dir = GOC_SELECT_RECV}};
	int chosen = goc_select(cases, 2, GOC_NO_TIMEOUT);
	goc_chan_release(timeout);
	if (chosen == 0)
		__atomic_add_fetch(&c->saw_cancel, 1, __ATOMIC_SEQ_CST);
	return chosen == 0 ? 0 : 99;
}

static int fail_7(goc_ctx *ctx, void *arg)
{
	(void)ctx;
	(void)arg;
	goc_sleep(2 * GOC_MILLISECOND);
	return 7;
}

static int fail_8_after_cancel(goc_ctx *ctx, void *arg)
{
	(void)arg;
	goc_chan_recv(goc_ctx_done(ctx), NULL);
	return 8;
}

static void first_error(void)
{
	struct counters c = {0};
	goc_group *g = goc_group_new(goc_ctx_background());
	enum { WAITERS = 20 };
	for (int i = 0; i < WAITERS; i++)
		goc_group_go(g, wait_for_cancel, &c);
	goc_group_go(g, fail_8_after_cancel, NULL);
	goc_group_go(g, fail_7, NULL);
	int64_t t0 = goc_now();
	int err = goc_group_wait(g);
	CHECK(err == 7, "wait returned %d, want the first error 7", err);
	CHECK(c.saw_cancel == WAITERS, "%lld of %d tasks saw the cancellation",
	      (long long)c.saw_cancel, WAITERS);
	/* Stopped early: long before their give-up timer (a group that did
	 * not cancel them would take WAIT_GIVE_UP here). */
	CHECK(goc_now() - t0 < WAIT_GIVE_UP / 2, "the others were not stopped early");
	goc_group_free(g);
	ok("the first error cancels the others; wait returns it");
}

static void parent_cancel(void)
{
	struct counters c = {0};
	goc_ctx *parent = goc_ctx_with_timeout(goc_ctx_background(), 5 * GOC_MILLISECOND);
	goc_group *g = goc_group_new(parent);
	for (int i = 0; i < 5; i++)
		goc_group_go(g, wait_for_cancel, &c);
	CHECK(goc_group_wait(g) == 0, "tasks saw the cancellation and returned 0");
	CHECK(c.saw_cancel == 5, "saw %lld", (long long)c.saw_cancel);
	CHECK(goc_ctx_err(goc_group_ctx(g)) == GOC_TIMEOUT, "group context: %d",
	      goc_ctx_err(goc_group_ctx(g)));
	goc_group_free(g);
	goc_ctx_release(parent);
	ok("a parent's timeout reaches the tasks");
}

/* A task that holds its place until the gate closes. */
struct gated_task {
	struct counters *c;
	goc_chan *gate;
};

static int gated(goc_ctx *ctx, void *arg)
{
	(void)ctx;
	struct gated_task *t = arg;
	goc_chan_recv(t->gate, NULL);
	__atomic_add_fetch(&t->c->ran, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void limit(void)
{
	struct counters c = {0};
	goc_group *g = goc_group_new(NULL);
	goc_group_set_limit(g, 3);
	int64_t t0 = goc_now();
	for (int i = 0; i < 30; i++)
		CHECK(goc_group_go(g, count_task, &c) == GOC_OK, "go");
	/* 30 tasks of 200 us, 3 at a time: go blocked for most of it. */
	CHECK(goc_now() - t0 >= 8 * 200 * GOC_MICROSECOND, "go did not block at the limit");
	CHECK(goc_group_wait(g) == 0, "error");
	CHECK(c.ran == 30 && c.most <= 3, "ran %lld, at most %lld at once", (long long)c.ran,
	      (long long)c.most);

	/* The two tasks stay running until the gate closes, so the third try
	 * meets the limit however slowly this goroutine runs. */
	goc_group_set_limit(g, 2);
	struct gated_task gt = {&c, goc_chan_make(0, 0)};
	CHECK(goc_group_try_go(g, gated, &gt) == GOC_OK, "try 1");
	CHECK(goc_group_try_go(g, gated, &gt) == GOC_OK, "try 2");
	CHECK(goc_group_try_go(g, count_task, &c) == GOC_WOULDBLOCK, "try at the limit");
	goc_chan_close(gt.gate);
	goc_group_wait(g);
	goc_chan_release(gt.gate);
	goc_group_set_limit(g, -1);
	for (int i = 0; i < 10; i++)
		CHECK(goc_group_try_go(g, count_task, &c) == GOC_OK, "unlimited try");
	goc_group_wait(g);
	CHECK(c.ran == 42, "ran %lld", (long long)c.ran);
	goc_group_free(g);
	ok("the limit: at most n running, go blocks, try_go refuses");
}

static void main_g(void *arg)
{
	(void)arg;
	no_error();
	first_error();
	parent_cancel();
	limit();
}

/* ---- misuse ---- */

static int sleepy(goc_ctx *ctx, void *arg)
{
	(void)ctx;
	(void)arg;
	goc_sleep(GOC_SECOND);
	return 0;
}

static void mode_limit_while_running(void *arg)
{
	(void)arg;
	goc_group *g = goc_group_new(NULL);
	goc_group_go(g, sleepy, NULL);
	goc_group_set_limit(g, 2);
}

static void mode_limit_zero(void *arg)
{
	(void)arg;
	goc_group_set_limit(goc_group_new(NULL), 0);
}

static void mode_free_running(void *arg)
{
	(void)arg;
	goc_group *g = goc_group_new(NULL);
	goc_group_go(g, sleepy, NULL);
	goc_group_free(g);
}

static const struct panic_mode modes[] = {
	{"limit_while_running", mode_limit_while_running,
	 "panic: errgroup: modify limit while 1 goroutines in the group are still active"},
	{"limit_zero", mode_limit_zero, "panic: goc_group_set_limit: a limit of 0"},
	{"free_running", mode_free_running,
	 "panic: goc_group_free: 1 tasks of the group are still running"},
};

int main(int argc, char **argv)
{
	return panic_modes_main(argc, argv, main_g, modes, sizeof modes / sizeof modes[0]);
}
