/*
 * runq.h — run queue operations (runq.c). The local ones are called by the
 * M holding p, except goc__runq_steal's victim side and goc__runq_empty, which any M
 * may call.
 */
#ifndef GOC_SCHED_RUNQ_H
#define GOC_SCHED_RUNQ_H

#include "runtime.h"

/* Puts g on p's local queue; next: into runnext (the previous runnext goes
 * to the tail). A full ring spills half to the global queue. */
void goc__runq_put(goc__p *p, goc__g *g, bool next);
/* Takes runnext, else the ring's head; NULL if empty. */
goc__g *goc__runq_get(goc__p *p);
bool goc__runq_empty(goc__p *p);
/* Steals half of victim's ring into p's (empty) ring; returns one of them
 * to run now. steal_next: victim's runnext may be taken. */
goc__g *goc__runq_steal(goc__p *p, goc__p *victim, bool steal_next);

void goc__globrunq_put(goc__g *g);
void goc__globrunq_put_batch_locked(goc__g *const *gs, size_t n);
/* Takes a fair share of the global queue (at most max if max > 0), one to
 * return and the rest onto p's ring, which must be empty unless max == 1. */
goc__g *goc__globrunq_get_locked(goc__p *p, int max);
void goc__runq_drain_to_global_locked(goc__p *p);

#endif
