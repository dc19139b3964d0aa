/*
 * monitor.c — the debugging work sysmon does every tick (10 ms): reports
 * that signal handlers asked for (signal_report.c), schedtrace lines
 * (schedtrace.c), and blockwarn scans (blockwarn.c).
 *
 * The settings are read from GOCDEBUG once, at runtime start, before
 * sysmon starts, and never change; with all of them off a tick costs two
 * loads of pending-request words and three compares.
 */
#include "debug.h"

#include "../prim/env.h"

/* Scans for goroutines blocked too long at most this often, and at least
 * four times per blockwarn period. */
#define BLOCKWARN_SCAN_MAX (1 * GOC_SECOND)

static int64_t start_time;
static int64_t schedtrace_every, schedtrace_next;
static bool scheddetail;
static int64_t blockwarn_after, blockwarn_every, blockwarn_next;

void goc__debug_init(void)
{
	goc__symbolize_init();
	goc__sigquit_init();
	start_time = goc__prim_nanotime();
	schedtrace_every = goc__gocdebug_long("schedtrace", 0, 0, 3600 * 1000) * GOC_MILLISECOND;
	schedtrace_next = start_time + schedtrace_every;
	scheddetail = goc__gocdebug_long("scheddetail", 0, 0, 1) != 0;
	blockwarn_after = goc__gocdebug_long("blockwarn", 0, 0, 365LL * 24 * 3600) * GOC_SECOND;
	blockwarn_every =
		blockwarn_after / 4 < BLOCKWARN_SCAN_MAX ? blockwarn_after / 4 : BLOCKWARN_SCAN_MAX;
	blockwarn_next = start_time + blockwarn_every;
}

void goc__debug_sysmon_tick(int64_t now)
{
	goc__signal_reports_poll();
	if (schedtrace_every && now >= schedtrace_next) {
		goc__buf b = {.fd = 2};
		goc__schedtrace_print(&b, now - start_time, scheddetail);
		schedtrace_next += schedtrace_every;
		if (schedtrace_next <= now)
			schedtrace_next = now + schedtrace_every;
	}
	if (blockwarn_after && now >= blockwarn_next) {
		goc__blockwarn_scan(now, blockwarn_after);
		blockwarn_next = now + blockwarn_every;
	}
}
