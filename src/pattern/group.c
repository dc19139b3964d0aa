/*
 * group.c — goc_group, Go's errgroup: tasks in goroutines under a shared
 * context, the first error cancelling the rest.
 *
 * A group is a wait group counting its running tasks, a cancellable child
 * context, the first error, and optionally a semaphore of `limit` permits
 * that every task holds while it runs. Each task's goroutine gets a small
 * heap record {group, fn, arg}, freed as it starts.
 *
 * Invariants:
 *  - failed goes from 0 to 1 once, by an atomic exchange; the task that
 *    wins it stores first_error and cancels ctx. goc_group_wait reads
 *    first_error after the wait group, whose done/wait order the write
 *    before the read.
 *  - A task holds one permit of limit (when limited) from before its
 *    goroutine starts until after its function returned.
 *  - limited changes only while no task runs (checked; Go panics too).
 */
#include <errno.h>
#include <stdlib.h>

#include "../sched/runtime.h"

struct goc_group {
	goc_ctx *ctx;
	goc_wg running;
	goc_sema limit;
	bool limited;
	uint32_t failed; /* atomic */
	int first_error;
};

struct group_task {
	goc_group *group;
	goc_group_fn fn;
	void *arg;
};

goc_group *goc_group_new(goc_ctx *parent)
{
	goc_group *g = calloc(1, sizeof *g);
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->ctx = goc_ctx_with_cancel(parent ? parent : goc_ctx_background());
	if (!g->ctx) {
		free(g);
		errno = ENOMEM;
		return NULL;
	}
	goc_wg_init(&g->running);
	return g;
}

static goc_group *checked(goc_group *g, const char *what)
{
	if (!g)
		goc__panic("%s: nil group", what);
	return g;
}

static int64_t running_tasks(goc_group *g)
{
	return (int64_t)(goc__load_seqcst(&g->running.state) >> 32);
}

goc_ctx *goc_group_ctx(goc_group *g)
{
	return checked(g, "goc_group_ctx")->ctx;
}

void goc_group_set_limit(goc_group *g, int n)
{
	checked(g, "goc_group_set_limit");
	if (n == 0)
		goc__panic("goc_group_set_limit: a limit of 0 would block every goc_group_go");
	int64_t active = running_tasks(g);
	if (active != 0)
		goc__panic(
			"errgroup: modify limit while %lld goroutines in the group are still active",
			(long long)active);
	g->limited = n > 0;
	if (g->limited)
		goc_sema_init(&g->limit, n);
}

static void task_main(void *arg)
{
	struct group_task task = *(struct group_task *)arg;
	free(arg);
	goc_group *g = task.group;
	int err = task.fn(g->ctx, task.arg);
	if (err != 0 && !goc__xchg_acqrel(&g->failed, 1)) {
		g->first_error = err;
		goc_ctx_cancel(g->ctx);
	}
	if (g->limited)
		goc_sema_release(&g->limit, 1);
	goc_wg_done(&g->running);
}

/* Starts the task of a group holding a permit for it (if limited). */
static goc_status start(goc_group *g, goc_group_fn fn, void *arg)
{
	goc_status err = -ENOMEM;
	struct group_task *task = malloc(sizeof *task);
	if (task) {
		*task = (struct group_task){g, fn, arg};
		goc_wg_add(&g->running, 1);
		int64_t id = goc_go(task_main, task);
		if (id > 0)
			return GOC_OK;
		goc_wg_done(&g->running);
		free(task);
		err = (goc_status)id;
	}
	if (g->limited)
		goc_sema_release(&g->limit, 1);
	return err;
}

goc_status goc_group_go(goc_group *g, goc_group_fn fn, void *arg)
{
	checked(g, "goc_group_go");
	if (!fn)
		goc__panic("goc_group_go: nil function");
	if (g->limited)
		goc_sema_acquire(&g->limit, NULL, 1);
	return start(g, fn, arg);
}

goc_status goc_group_try_go(goc_group *g, goc_group_fn fn, void *arg)
{
	checked(g, "goc_group_try_go");
	if (!fn)
		goc__panic("goc_group_try_go: nil function");
	if (g->limited && !goc_sema_try_acquire(&g->limit, 1))
		return GOC_WOULDBLOCK;
	return start(g, fn, arg);
}

int goc_group_wait(goc_group *g)
{
	checked(g, "goc_group_wait");
	goc_wg_wait(&g->running);
	goc_ctx_cancel(g->ctx);
	return goc__load_acquire(&g->failed) ? g->first_error : 0;
}

void goc_group_free(goc_group *g)
{
	if (!g)
		return;
	int64_t active = running_tasks(g);
	if (active != 0)
		goc__panic("goc_group_free: %lld tasks of the group are still running",
			   (long long)active);
	goc_ctx_cancel(g->ctx);
	goc_ctx_release(g->ctx);
	free(g);
}
