/*
 * trace.h — the execution tracer's hooks (trace.c), as the scheduler, the
 * syscall sections, the timers and the netpoller call them.
 *
 * Every hook site reads goc_trace_on and branches to the hook only when a
 * trace is being taken:
 *
 *     if (goc_tracing())
 *             goc_trace_switch(m, from, to);
 *
 * With no trace that is a load of a hidden global (no GOT load), a test
 * and a branch never taken. The hooks themselves re-check the flag inside
 * their write section (trace.c), so a trace stopped between the test and
 * the hook records nothing.
 */
#ifndef GOC_DEBUG_TRACE_H
#define GOC_DEBUG_TRACE_H

#include <stdbool.h>

#include "../sched/runtime.h"

/* Nonzero while a trace is being taken. Atomic; the hook sites read it
 * relaxed, trace.c's write sections sequentially consistent. */
extern __attribute__((visibility("hidden"))) int32_t goc_trace_on;

static inline bool goc_tracing(void)
{
	return __builtin_expect(__atomic_load_n(&goc_trace_on, __ATOMIC_RELAXED) != 0, 0);
}

/* g_switch, before m->curg changes: ends from's run slice (the reason is
 * from's state: parked, yielded or finished) and starts to's. Either may
 * be m's g0. */
void goc_trace_switch(goc_m *m, goc_g *from, goc_g *to);
/* goc_ready, before g is published to a run queue: g was unblocked by
 * whoever runs now (a goroutine, a timer, the netpoller, the scheduler, a
 * plain thread). by_self: g's own park was called off by its unlock step. */
void goc_trace_unblock(goc_g *g, bool by_self);
/* spawn, before g is published: g was created by whoever runs now. */
void goc_trace_create(goc_g *g);
/* acquirep (the calling M takes p) and pidle_put (p goes idle). */
void goc_trace_proc_start(goc_p *p);
void goc_trace_proc_stop(goc_p *p);
/* goc_syscall_enter, while m still holds its P: m's goroutine's run slice
 * ends and a syscall slice on m's own track begins. */
void goc_trace_syscall_enter(goc_m *m);
/* goc_syscall_exit, while m->syscall_p is still set: the syscall slice
 * ends. */
void goc_trace_syscall_exit(goc_m *m);
/* The goroutine of m holds a P again and goes on running (a syscall
 * section left without parking): its run slice begins. */
void goc_trace_syscall_resume(goc_m *m);
/* netpoll(): the n goroutines it took out of their slots were unblocked
 * by the network; their readiers' goc_ready records nothing more. */
void goc_trace_netpoll(goc_g *const *ready, int n);
/* Runs the timer callback t->fn(t, now), with what it readies recorded as
 * unblocked by a timer. */
void goc_trace_timer_fire(goc_rtimer *t, int64_t now);

#endif
