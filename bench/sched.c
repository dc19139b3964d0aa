/*
 * sched.c — giving up the processor: Yield and SchedLatency.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "bench.h"

/* One of Yield's two goroutines: how many calls it must make and, once it
 * is done, how many it made. */
struct yielder {
	int64_t calls_wanted;
	int64_t calls_made;
	goc_wg *finished;
};

static void yielder_body(void *arg)
{
	struct yielder *self = arg;
	int64_t made = 0;
	while (made < self->calls_wanted) {
		goc_yield();
		made++;
	}
	self->calls_made = made;
	goc_wg_done(self->finished);
}

/*
 * Yield: two goroutines each call goc_yield n/2 times (at least once). One
 * op is one call. With one P every call switches to the other goroutine;
 * with two, each goroutine tends to have a P of its own and a call is a
 * trip through the run queues that comes back to the caller.
 */
void bench_yield(struct bench_run *run)
{
	int64_t per_goroutine = run->n / 2 > 0 ? run->n / 2 : 1;
	goc_wg finished;
	goc_wg_init(&finished);
	struct yielder yielders[2];
	for (int g = 0; g < 2; g++)
		yielders[g] = (struct yielder){per_goroutine, 0, &finished};
	run->ops = 2 * per_goroutine;

	bench_start(run);
	goc_wg_add(&finished, 2);
	for (int g = 0; g < 2; g++)
		bench_go(yielder_body, &yielders[g]);
	goc_wg_wait(&finished);
	bench_stop(run);

	int64_t made = yielders[0].calls_made + yielders[1].calls_made;
	if (made != run->ops)
		bench_fail("%" PRId64 " calls counted, want %" PRId64, made, run->ops);
}

/* ---- SchedLatency ---- */

static _Atomic int hogs_stop;

/* A goroutine that never reaches a scheduling point until told to stop. */
static void latency_hog(void *arg)
{
	goc_wg *done = arg;
	volatile uint64_t x = 1;
	while (!hogs_stop)
		x = x * 6364136223846793005u + 1442695040888963407u;
	goc_wg_done(done);
}

/*
 * SchedLatency: a 1 ms ticker read by the driver while `hogs` goroutines
 * per P spin without a scheduling point. One op is one tick (n ticks);
 * each tick's lateness is the gap since the previous one minus 1 ms (a
 * late tick shows as a long gap: tickers drop ticks they cannot deliver,
 * in Go and in goc). Extra metrics: median, 99th percentile and maximum
 * lateness in microseconds.
 */
static void sched_latency(struct bench_run *run, int hogs_per_proc)
{
	int procs = goc_maxprocs(0);
	int hogs = hogs_per_proc * procs;
	int64_t *late = malloc((size_t)run->n * sizeof *late);
	if (!late)
		bench_fail("out of memory");
	goc_wg done;
	goc_wg_init(&done);
	hogs_stop = 0;
	goc_wg_add(&done, hogs);
	for (int i = 0; i < hogs; i++)
		goc_go(latency_hog, &done);
	goc_ticker *t = goc_ticker_new(GOC_MILLISECOND);
	int64_t tick;
	bench_start(run);
	if (goc_chan_recv(goc_ticker_chan(t), &tick) != GOC_OK)
		bench_fail("ticker closed");
	int64_t prev = goc_now();
	for (int64_t i = 0; i < run->n; i++) {
		if (goc_chan_recv(goc_ticker_chan(t), &tick) != GOC_OK)
			bench_fail("ticker closed");
		int64_t now = goc_now();
		int64_t gap = now - prev - GOC_MILLISECOND;
		late[i] = gap > 0 ? gap : 0;
		prev = now;
	}
	bench_stop(run);
	goc_ticker_free(t);
	hogs_stop = 1;
	goc_wg_wait(&done);
	int64_t max = 0;
	for (int64_t i = 0; i < run->n; i++)
		if (late[i] > max)
			max = late[i];
	bench_add_latencies(run, late, (size_t)run->n);
	bench_add_metric(run, (double)max / 1e3, "max-us");
	free(late);
}

void bench_sched_latency_hogs1(struct bench_run *run)
{
	sched_latency(run, 1);
}

void bench_sched_latency_hogs2(struct bench_run *run)
{
	sched_latency(run, 2);
}
