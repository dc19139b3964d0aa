/*
 * blocking.c — goc_blocking_ctx: a blocking call that a context can
 * abandon (goc/io.h).
 *
 * The call runs in a goroutine of its own, in a syscall section; the
 * caller waits in a select on the call's `done` channel and the context.
 * Whoever of the two moves `state` out of CALL_RUNNING decides who frees
 * the call:
 *  - the helper (RUNNING -> DONE): the result is published, and `done` is
 *    closed; the caller reads the result and frees the call;
 *  - the caller (RUNNING -> ABANDONED): it returns ctx's error at once;
 *    the helper, finding ABANDONED when fn returns, drops the result and
 *    frees the call.
 * Invariants: result is written before the helper's CAS (acq_rel) and
 * read after the caller's receive from the closed `done` (ordered after
 * that CAS by the close) or after its own failed CAS (acquire). The call
 * owns one reference to `done`; the helper takes a second one around the
 * close, which may let the caller free the call before it returns.
 */
#include <errno.h>
#include <stdlib.h>

#include "../sched/runtime.h"

enum { CALL_RUNNING, CALL_DONE, CALL_ABANDONED };

struct blocking_call {
	void *(*fn)(void *arg);
	void *arg;
	void (*drop)(void *result, void *arg);
	void *result;   /* written by the helper before leaving RUNNING */
	goc_chan *done; /* closed by the helper when it wins */
	uint32_t state; /* atomic: CALL_* */
};

static void blocking_call_free(struct blocking_call *b)
{
	goc_chan_release(b->done);
	free(b);
}

static void helper(void *arg)
{
	struct blocking_call *b = arg;
	void *result = goc_blocking(b->fn, b->arg);
	b->result = result;
	uint32_t expected = CALL_RUNNING;
	if (goc__cas_acqrel(&b->state, &expected, CALL_DONE)) {
		/* The caller frees b once it sees the close: take our own
		 * reference to the channel first. */
		goc_chan *done = goc_chan_retain(b->done);
		goc_chan_close(done);
		goc_chan_release(done);
		return;
	}
	if (b->drop)
		b->drop(result, b->arg);
	blocking_call_free(b);
}

/* fn will not run: arg goes to drop at once, so that on every return but
 * GOC_OK the caller can leave arg to drop. */
static goc_status not_run(goc_status st, void *arg, void (*drop)(void *result, void *arg))
{
	if (drop)
		drop(NULL, arg);
	return st;
}

goc_status goc_blocking_ctx(goc_ctx *ctx, void *(*fn)(void *arg), void *arg,
			    void (*drop)(void *result, void *arg), void **result)
{
	if (!fn)
		goc__panic("goc_blocking_ctx: nil function");
	if (!ctx)
		goc__panic("goc_blocking_ctx: nil context");
	goc_status st = goc_ctx_err(ctx);
	if (st != GOC_OK)
		return not_run(st, arg, drop);
	struct blocking_call *b = malloc(sizeof *b);
	goc_chan *done = goc_chan_make(0, 0);
	if (!b || !done) {
		free(b);
		goc_chan_release(done);
		return not_run(-ENOMEM, arg, drop);
	}
	*b = (struct blocking_call){.fn = fn, .arg = arg, .drop = drop, .done = done};
	goc_go_options opts = {.name = "goc_blocking_ctx"};
	int64_t id = goc_go_opts(helper, b, &opts);
	if (id < 0) {
		blocking_call_free(b);
		return not_run((goc_status)id, arg, drop);
	}
	goc_select_case cases[2] = {{.chan = done, .dir = GOC_SELECT_RECV},
				    {.chan = goc_ctx_done(ctx), .dir = GOC_SELECT_RECV}};
	if (goc_select(cases, 2, GOC_NO_TIMEOUT) == 1) {
		uint32_t expected = CALL_RUNNING;
		if (goc__cas_acqrel(&b->state, &expected, CALL_ABANDONED))
			return goc_ctx_err(ctx);
		/* fn returned meanwhile: its result is ours after all. */
		goc_chan_recv(done, NULL);
	}
	if (result)
		*result = b->result;
	blocking_call_free(b);
	return GOC_OK;
}
