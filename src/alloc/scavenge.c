/*
 * scavenge.c — giving the heap's idle memory back to the kernel (Go's
 * background scavenger) and the soft memory limit GOCMEMLIMIT (Go's
 * GOMEMLIMIT).
 *
 * About once a second (sysmon's scavenge tick, or, in a program that
 * never started goc's scheduler — libgoc-malloc.so — the next large free
 * or span refill after the second is up) the scavenger
 *  1. returns to the page heap every central span none of whose objects
 *     is in use (central.c), and
 *  2. releases (MADV_DONTNEED) every free run of pages that stayed free
 *     for the whole last second.
 * Go paces its scavenger to about 1% of a CPU and keeps a margin above
 * the heap goal; with explicit frees there is no heap goal, and a run
 * that stayed unused for a second is what a program in a steady state
 * does not need. MADV_DONTNEED rather than MADV_FREE: the drop shows in
 * RSS at once (Go's default since 1.16, for the same reason).
 *
 * GOCMEMLIMIT (bytes, with Go's suffixes B, KiB, MiB, GiB, TiB) is soft,
 * like Go's: the heap never refuses memory because of it, but when the
 * memory the heap and stacks hold (reserved minus released) grows past
 * 95% of the limit, every free run is released at once, whatever its age,
 * on the allocation that grew the heap.
 */
#include <stdlib.h>
#include <string.h>

#include "../prim/prim.h"
#include "../sched/runtime.h"
#include "../prim/atomic.h"
#include "alloc.h"

#define SCAVENGE_PERIOD GOC_SECOND

static int64_t memlimit;  /* atomic; 0: not read yet */
static int64_t next_tick; /* atomic: when the next pass is due */

static int64_t parse_limit(const char *v)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v)
		return INT64_MAX;
	static const struct {
		const char *suffix;
		int shift;
	} units[] = {{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(end, units[i].suffix)) {
			if (n > (unsigned long long)INT64_MAX >> units[i].shift)
				return INT64_MAX;
			return (int64_t)(n << units[i].shift);
		}
	static const char warn[] = "goc: ignoring malformed GOCMEMLIMIT\n";
	goc__prim_write_stderr(warn, sizeof warn - 1);
	return INT64_MAX;
}

int64_t goc__alloc_memlimit(void)
{
	int64_t limit = goc__load_relaxed(&memlimit);
	if (limit)
		return limit;
	const char *v = getenv("GOCMEMLIMIT");
	limit = v && *v ? parse_limit(v) : INT64_MAX;
	goc__store_relaxed(&memlimit, limit);
	return limit;
}

static uint64_t retained(void)
{
	goc__heap_stats hs;
	goc__heap_stats_read(&hs);
	uint64_t inuse, sys;
	goc__stack_memstats(&inuse, &sys);
	return hs.sys - hs.released + inuse + hs.meta;
}

void goc__alloc_limit_check(void)
{
	int64_t limit = goc__alloc_memlimit();
	if (limit == INT64_MAX)
		return;
	uint64_t target = (uint64_t)limit / 20 * 19;
	uint64_t have = retained();
	if (have > target)
		goc__heap_scavenge(INT64_MAX, have - target);
}

static void scavenge(int64_t now)
{
	goc__central_reclaim();
	goc__heap_scavenge(now - SCAVENGE_PERIOD, SIZE_MAX);
	goc__alloc_limit_check();
}

void goc__alloc_scavenge_tick(int64_t now)
{
	int64_t due = goc__load_relaxed(&next_tick);
	if (now < due || !goc__cas_relaxed(&next_tick, &due, now + SCAVENGE_PERIOD))
		return;
	scavenge(now);
}

void goc__alloc_scavenge_maybe(void)
{
	goc__alloc_scavenge_tick(goc__prim_nanotime());
}
