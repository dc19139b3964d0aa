/*
 * context.c — cancellation: ContextCancelFanout.
 */
#include <stdlib.h>

#include "bench.h"

/* What the parked goroutines share; one workload runs per process. */
static struct {
	goc_ctx *ctx;
	goc_chan *never;
	int64_t canceled_at; /* written before the cancel, read after it */
	goc_wg ready, done;
} fanout;

/* Waits in a two-case select on the context's done channel and a channel
 * that never becomes ready; stores the time from just before the cancel
 * until it ran again in its slot. */
static void fanout_body(void *arg)
{
	int64_t *latency = arg;
	goc_wg_done(&fanout.ready);
	goc_select_case cases[2] = {{.chan = goc_ctx_done(fanout.ctx), .dir = GOC_SELECT_RECV},
				    {.chan = fanout.never, .dir = GOC_SELECT_RECV}};
	if (goc_select(cases, 2, GOC_NO_TIMEOUT) == 0)
		*latency = goc_now() - fanout.canceled_at;
	goc_wg_done(&fanout.done);
}

/*
 * ContextCancelFanout: n goroutines parked in a select on one context's
 * done channel (and a channel nothing is sent on) are woken by cancelling
 * the context. Timed: the cancel until every goroutine has run again. One
 * op is one goroutine; extra metrics: the median and 99th percentile of
 * the time from just before the cancel until each goroutine ran. Check:
 * every goroutine left through the done case.
 */
void bench_context_cancel_fanout(struct bench_run *run)
{
	size_t n = (size_t)run->n;
	int64_t *latency = bench_alloc(n, sizeof *latency);
	fanout.ctx = goc_ctx_with_cancel(goc_ctx_background());
	fanout.never = bench_chan(0, 0);
	if (!fanout.ctx)
		bench_fail("goc_ctx_with_cancel: out of memory");
	goc_wg_init(&fanout.ready);
	goc_wg_init(&fanout.done);
	goc_wg_add(&fanout.ready, run->n);
	goc_wg_add(&fanout.done, run->n);
	for (size_t i = 0; i < n; i++) {
		latency[i] = -1;
		bench_go(fanout_body, &latency[i]);
	}
	goc_wg_wait(&fanout.ready);

	bench_start(run);
	fanout.canceled_at = run->began_ns;
	goc_ctx_cancel(fanout.ctx);
	goc_wg_wait(&fanout.done);
	bench_stop(run);

	for (size_t i = 0; i < n; i++)
		if (latency[i] < 0)
			bench_fail("goroutine %zu did not leave through the done channel", i);
	bench_add_latencies(run, latency, n);
	goc_ctx_release(fanout.ctx);
	goc_chan_release(fanout.never);
	free(latency);
}
