/*
 * golimit.h — the cap on live goroutines (goc_set_max_goroutines,
 * GOCDEBUG=maxgoroutines=N), as the spawn path in proc.c sees it.
 *
 * With no cap, spawning pays one relaxed load of goc__golimit_max. With a
 * cap, a spawn is admitted under a global lock that covers both the count
 * (the per-P created - exited sums) and the spawn's own increment of its
 * P's created counter, so concurrent spawns cannot overshoot; goroutines
 * that finish meanwhile only make the count an overestimate.
 */
#ifndef GOC_SCHED_GOLIMIT_H
#define GOC_SCHED_GOLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "../prim/atomic.h"

/* The cap; 0: none. Relaxed loads; changed by goc_set_max_goroutines. */
extern int64_t goc__golimit_max;

static inline bool goc__golimit_active(void)
{
	return goc__load_relaxed(&goc__golimit_max) != 0;
}

/* Takes the limit lock and returns true if one more goroutine fits; the
 * caller then counts it (its P's created, or foreign_created) and calls
 * goc__golimit_leave. At the cap: releases the lock and returns false
 * (goc_go then returns -EAGAIN). */
bool goc__golimit_enter(void);
void goc__golimit_leave(void);

/* Reads GOCDEBUG=...,maxgoroutines=N,... (runtime start-up). */
void goc__golimit_init_from_env(void);

#endif
