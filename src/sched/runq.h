/*
 * runq.h — run queue operations (runq.c). The local ones are called by the
 * M holding p, except runq_steal's victim side and runq_empty, which any M
 * may call.
 */
#ifndef GOC_SCHED_RUNQ_H
#define GOC_SCHED_RUNQ_H

#include "runtime.h"

/* Puts g on p's local queue; next: into runnext (the previous runnext goes
 * to the tail). A full ring spills half to the global queue. */
void runq_put(goc_p *p, goc_g *g, bool next);
/* Takes runnext, else the ring's head; NULL if empty. */
goc_g *runq_get(goc_p *p);
bool runq_empty(goc_p *p);
/* Steals half of victim's ring into p's (empty) ring; returns one of them
 * to run now. steal_next: victim's runnext may be taken. */
goc_g *runq_steal(goc_p *p, goc_p *victim, bool steal_next);

void globrunq_put(goc_g *g);
void globrunq_put_batch_locked(goc_g *const *gs, size_t n);
/* Takes a fair share of the global queue (at most max if max > 0), one to
 * return and the rest onto p's ring, which must be empty unless max == 1. */
goc_g *globrunq_get_locked(goc_p *p, int max);
void runq_drain_to_global_locked(goc_p *p);

#endif
