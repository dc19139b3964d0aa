/*
 * toolbox.c — the service toolbox at work: LimiterAllowN, x/time/rate's
 * BenchmarkAllowN (a limiter of one event a second, burst 1, asked for
 * one token at a fixed instant by a goroutine per P, so nearly every call
 * is a refusal). One op is one allow_n.
 */
#include <inttypes.h>

#include "bench.h"

struct limiter_work {
	goc_limiter *lim;
	int64_t now;
	int64_t per_worker;
	int64_t allowed; /* atomic */
	goc_wg finished;
};

static void limiter_worker(void *arg)
{
	struct limiter_work *lw = arg;
	int64_t allowed = 0;
	for (int64_t i = 0; i < lw->per_worker; i++)
		allowed += goc_limiter_allow_n(lw->lim, lw->now, 1);
	__atomic_add_fetch(&lw->allowed, allowed, __ATOMIC_RELAXED);
	goc_wg_done(&lw->finished);
}

void bench_limiter_allow_n(struct bench_run *run)
{
	int workers = goc_maxprocs(0);
	struct limiter_work lw = {.lim = goc_limiter_new(goc_rate_every(GOC_SECOND), 1),
				  .now = goc_now(),
				  .per_worker = run->n / workers,
				  .finished = GOC_WG_INIT};
	if (!lw.lim)
		bench_fail("goc_limiter_new: out of memory");
	run->ops = lw.per_worker * workers;
	bench_start(run);
	goc_wg_add(&lw.finished, workers);
	for (int w = 0; w < workers; w++)
		bench_go(limiter_worker, &lw);
	goc_wg_wait(&lw.finished);
	bench_stop(run);
	goc_limiter_free(lw.lim);
	if (lw.allowed != 1)
		bench_fail("%" PRId64 " events allowed at one instant, want 1", lw.allowed);
}
