/*
 * timer.c — waking on time: TimerSleepers.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "bench.h"

/* The range the sleeps are drawn from, both ends included. */
#define SHORTEST_SLEEP_NS GOC_MILLISECOND
#define LONGEST_SLEEP_NS (50 * GOC_MILLISECOND)

/*
 * SplitMix64 (Steele, Lea and Flood), exactly as the specification gives
 * it, so that goc and Go draw the same sleeps. Seeded with 0 its first
 * outputs are 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f
 * and 0xf88bb8a8724c81ec.
 */
static uint64_t splitmix64_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
	return z ^ (z >> 31);
}

/* One sleeping goroutine: what it sleeps, how late it woke. */
struct sleeper {
	int64_t sleep_ns;
	int64_t lateness_ns;
	goc_wg *finished;
};

static void sleeper_body(void *arg)
{
	struct sleeper *self = arg;
	int64_t t = goc_now();
	goc_sleep(self->sleep_ns);
	self->lateness_ns = goc_now() - t - self->sleep_ns;
	goc_wg_done(self->finished);
}

/*
 * TimerSleepers: n goroutines started at once, goroutine i sleeping for
 * the i-th duration drawn from SplitMix64 seeded with 0 (uniform in
 * [1 ms, 50 ms] at microsecond granularity: the first four are 9775,
 * 45115, 11355 and 11758 µs). One op is one goroutine; the elapsed time
 * runs from the first spawn until all have finished. Extra metrics: how
 * far that time overshoots the longest sleep, and the median and 99th
 * percentile of lateness, the time around a sleep minus the time asked
 * for. Validation: no sleep returned early.
 */
void bench_timer_sleepers(struct bench_run *run)
{
	size_t n = (size_t)run->n;
	struct sleeper *sleepers = bench_alloc(n, sizeof *sleepers);
	goc_wg finished;
	goc_wg_init(&finished);
	uint64_t rng = 0;
	uint64_t choices = (uint64_t)((LONGEST_SLEEP_NS - SHORTEST_SLEEP_NS) / GOC_MICROSECOND) + 1;
	for (size_t i = 0; i < n; i++) {
		int64_t extra_us = (int64_t)(splitmix64_next(&rng) % choices);
		sleepers[i] = (struct sleeper){SHORTEST_SLEEP_NS + extra_us * GOC_MICROSECOND, 0,
					       &finished};
	}

	bench_start(run);
	goc_wg_add(&finished, run->n);
	for (size_t i = 0; i < n; i++)
		bench_go(sleeper_body, &sleepers[i]);
	goc_wg_wait(&finished);
	bench_stop(run);

	int64_t *lateness = bench_alloc(n, sizeof *lateness);
	for (size_t i = 0; i < n; i++) {
		if (sleepers[i].lateness_ns < 0)
			bench_fail("goroutine %zu woke %" PRId64 " ns early", i,
				   -sleepers[i].lateness_ns);
		lateness[i] = sleepers[i].lateness_ns;
	}
	bench_add_metric(run, (double)(run->elapsed_ns - LONGEST_SLEEP_NS) / 1e6, "overshoot-ms");
	bench_add_latencies(run, lateness, n);
	free(lateness);
	free(sleepers);
}
