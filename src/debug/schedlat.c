/*
 * schedlat.c — the scheduling latency: how long goroutines wait from
 * becoming runnable (readied, created, or yielding) to running, as Go's
 * /sched/latencies:seconds, kept as a histogram per P for the Prometheus
 * exposition (metrics.c).
 *
 * The measure rides on the execution tracer's hooks (trace.h): it is a
 * consumer of them, on once goc__schedlat_start sets GOC__HOOK_SCHEDLAT,
 * so with it off the scheduler pays nothing beyond the hook sites' test.
 * When on, the hook that makes g runnable stamps g->runnable_since with
 * the clock, and the switch to g (by the M holding P p) counts now minus
 * the stamp in p's row and clears the stamp. A goroutine made runnable
 * before the measure began has no stamp and is not counted.
 *
 * Invariants:
 *  - g->runnable_since is written by whoever makes g runnable, before g
 *    is published to a run queue, and read and cleared by the M that
 *    then runs g: the run queue orders the two.
 *  - A row of rows[] is written only by the M holding its P (one at a
 *    time, as P hand-offs order them), with relaxed stores of the value
 *    it read plus one; goc__schedlat_read sums every row with relaxed
 *    loads, so each count is exact and the total is a near-instant view.
 */
#include "debug.h"
#include "trace.h"

/* Upper bounds in seconds, as Go's runtime/metrics buckets grow: a few
 * per decade from 1 µs to 1 s. */
const double goc__schedlat_bounds[GOC__SCHEDLAT_BUCKETS] = {
	1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1,
};

/* The same bounds in nanoseconds, for the switch's comparisons. */
static const int64_t bounds_ns[GOC__SCHEDLAT_BUCKETS] = {
	1000,    2500,    5000,    10000,    25000,    50000,    100000,    250000,    500000,
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 1000000000,
};

/* A P's histogram, on cache lines of its own. */
struct row {
	int64_t counts[GOC__SCHEDLAT_BUCKETS + 1];
	int64_t sum_ns;
} __attribute__((aligned(64)));

static struct row rows[GOC_MAX_PROCS];

void goc__schedlat_start(void)
{
	goc__fetch_or_relaxed(&goc__trace_on, GOC__HOOK_SCHEDLAT);
}

void goc__schedlat_runnable(goc__g *g)
{
	g->runnable_since = goc__prim_nanotime();
}

void goc__schedlat_running(goc__p *p, goc__g *g)
{
	int64_t since = g->runnable_since;
	if (!since || !p)
		return;
	g->runnable_since = 0;
	int64_t waited = goc__prim_nanotime() - since;
	if (waited < 0)
		waited = 0;
	int b = 0;
	while (b < GOC__SCHEDLAT_BUCKETS && waited > bounds_ns[b])
		b++;
	struct row *r = &rows[p->id];
	goc__store_relaxed(&r->counts[b], goc__load_relaxed(&r->counts[b]) + 1);
	goc__store_relaxed(&r->sum_ns, goc__load_relaxed(&r->sum_ns) + waited);
}

void goc__schedlat_read(int64_t counts[GOC__SCHEDLAT_BUCKETS + 1], int64_t *sum_ns)
{
	for (int b = 0; b <= GOC__SCHEDLAT_BUCKETS; b++)
		counts[b] = 0;
	*sum_ns = 0;
	for (int i = 0; i < GOC_MAX_PROCS; i++) {
		for (int b = 0; b <= GOC__SCHEDLAT_BUCKETS; b++)
			counts[b] += goc__load_relaxed(&rows[i].counts[b]);
		*sum_ns += goc__load_relaxed(&rows[i].sum_ns);
	}
}
