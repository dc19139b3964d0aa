/*
 * trace.h — the execution tracer's hooks (trace.c), as the scheduler, the
 * syscall sections, the timers and the netpoller call them.
 *
 * Every hook site reads goc__trace_on and branches to the hook only when a
 * trace is being taken or another consumer of the hooks is on:
 *
 *     if (goc__tracing())
 *             goc__trace_switch(m, from, to);
 *
 * With no consumer on that is a load of a hidden global (no GOT load), a test
 * and a branch never taken. The hooks themselves re-check the flag inside
 * their write section (trace.c), so a trace stopped between the test and
 * the hook records nothing.
 */
#ifndef GOC_DEBUG_TRACE_H
#define GOC_DEBUG_TRACE_H

#include <stdbool.h>
#include <stdio.h>

#include "../sched/runtime.h"

/* The consumers of the hooks that are on, GOC__HOOK_* bits: the hooks
 * below are the one interface through which the scheduler reports events,
 * and each hook hands them to every consumer whose bit is set. Atomic; the
 * hook sites read it relaxed, trace.c's write sections sequentially
 * consistent. */
extern __attribute__((visibility("hidden"))) int32_t goc__trace_on;

enum {
	GOC__HOOK_TRACE = 1,    /* an execution trace is being taken (trace.c) */
	GOC__HOOK_SCHEDLAT = 2, /* the scheduling latency is measured (schedlat.c) */
	GOC__HOOK_GOTRACE = 4,  /* a trace in Go's binary format is taken (gotrace.c) */
};

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
/* m's goroutine, preempted, gives its P up and waits on m: its run
 * slice ends with "preempt" (goc__trace_syscall_resume opens the next). */
void goc__trace_preempt(goc__m *m);
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

/* gotrace.c, called by the hooks above (and by the annotation calls)
 * while GOC__HOOK_GOTRACE is on; the arguments are the hooks'. */
void goc__gotrace_switch(goc__m *m, goc__g *from, goc__g *to);
void goc__gotrace_unblock(goc__g *g);
void goc__gotrace_create(goc__g *g);
void goc__gotrace_proc(goc__p *p, bool start);
void goc__gotrace_syscall_enter(goc__m *m);
void goc__gotrace_syscall_exit(goc__m *m);
void goc__gotrace_preempt(goc__m *m);
void goc__gotrace_syscall_resume(goc__m *m);
void goc__gotrace_task(uint64_t id, uint64_t parent, const char *name, bool end);
void goc__gotrace_region(uint64_t task, const char *name, bool end);
void goc__gotrace_log(uint64_t task, const char *category, const char *message);
/* Sets GOC__HOOK_GOTRACE; trace.c's control lock held, no trace running. */
void goc__gotrace_start(void);
/* Clears it, waits out the recorders, writes the trace to out: 0 or an
 * errno value; *lost: records were dropped for want of memory. */
int goc__gotrace_stop(FILE *out, bool *lost);

/* schedlat.c, called by the hooks above while GOC__HOOK_SCHEDLAT is on:
 * g became runnable (unblocked, created, or yielded) ... */
void goc__schedlat_runnable(goc__g *g);
/* ... and the M holding p switches to g, which ran on no P since. */
void goc__schedlat_running(goc__p *p, goc__g *g);
/* Turns the measure on (it stays on). */
void goc__schedlat_start(void);
/* The histogram over every P: counts[i] runs waited at most
 * goc__schedlat_bounds[i] seconds and more than the bound before it;
 * counts[GOC__SCHEDLAT_BUCKETS] waited longer than the last. */
enum { GOC__SCHEDLAT_BUCKETS = 18 };
extern const double goc__schedlat_bounds[GOC__SCHEDLAT_BUCKETS];
void goc__schedlat_read(int64_t counts[GOC__SCHEDLAT_BUCKETS + 1], int64_t *sum_ns);

#endif
