/*
 * trace.h — the execution tracer's hooks (trace.c), as the scheduler, the
 * syscall sections, the timers and the netpoller call them.
 *
 * Every hook site reads goc__trace_on and branches to the hook only when a
 * trace is being taken:
 *
 *     if (goc__tracing())
 *             goc__trace_switch(m, from, to);
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
extern __attribute__((visibility("hidden"))) int32_t goc__trace_on;

static inline bool goc__tracing(void)
{
	return __builtin_expect(goc__load_relaxed(&goc__trace_on) != 0, 0);
}

/* g_switch, before m->curg changes: ends from's run slice (the reason is
 * from's state: parked, yielded or finished) and starts to's. Either may
 * be m's g0. */
void goc__trace_switch(goc__m *m, goc__g *from, goc__g *to);
/* goc__ready, before g is published to a run queue: g was unblocked by
 * whoever runs now (a goroutine, a timer, the netpoller, the scheduler, a
 * plain thread). by_self: g's own park was called off by its unlock step. */
void goc__trace_unblock(goc__g *g, bool by_self);
/* spawn, before g is published: g was created by whoever runs now. */
void goc__trace_create(goc__g *g);
/* goc__acquirep (the calling M takes p) and goc__pidle_put (p goes idle). */
void goc__trace_proc_start(goc__p *p);
void goc__trace_proc_stop(goc__p *p);
/* goc_syscall_enter, while m still holds its P: m's goroutine's run slice
 * ends and a syscall slice on m's own track begins. */
void goc__trace_syscall_enter(goc__m *m);
/* goc_syscall_exit, while m->syscall_p is still set: the syscall slice
 * ends. */
void goc__trace_syscall_exit(goc__m *m);
/* The goroutine of m holds a P again and goes on running (a syscall
 * section left without parking): its run slice begins. */
void goc__trace_syscall_resume(goc__m *m);
/* goc__netpoll(): the n goroutines it took out of their slots were unblocked
 * by the network; their readiers' goc__ready records nothing more. */
void goc__trace_netpoll(goc__g *const *ready, int n);
/* Runs the timer callback t->fn(t, now), with what it readies recorded as
 * unblocked by a timer. */
void goc__trace_timer_fire(goc__rtimer *t, int64_t now);

#endif
