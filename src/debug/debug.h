/*
 * debug.h — the runtime's debugging facilities, as the scheduler and the
 * other debug files see them: stack traces (unwind.c), symbols (symbolize.c),
 * goroutine dumps (dump.c), reports requested from a signal handler
 * (signal_report.c) and the work sysmon does for them every tick (monitor.c:
 * schedtrace.c, blockwarn.c).
 *
 * The split that matters is signal safety. Unwinding is: it reads frame
 * records and writes into a fixed array. Symbolizing is not (libdw takes
 * locks and allocates), so a signal handler captures a trace and hands the
 * printing to sysmon, falling back to raw addresses if sysmon does not
 * answer (signal_report.c).
 */
#ifndef GOC_DEBUG_DEBUG_H
#define GOC_DEBUG_DEBUG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../sched/runtime.h"

/* Racy reads of another thread's scheduler state, for diagnostics only
 * (dumps, schedtrace): TSan is told not to instrument the function doing
 * them, and ASan not to check reads of another goroutine's stack. */
#define GOC_RACY_READER __attribute__((no_sanitize("thread", "address"), noinline))

/* ---- stack traces (unwind.c): signal-safe ---- */

#define GOC_TRACE_MAX 64

/* Program counters of a stack, innermost first. pcs[0] is the exact
 * instruction when first_exact (a signal's context), otherwise every entry
 * is a return address (the symbol lookup then uses pc - 1, the call). */
typedef struct goc__stacktrace {
	int n;
	bool first_exact;
	bool truncated; /* the chain went on past GOC_TRACE_MAX */
	uintptr_t pcs[GOC_TRACE_MAX];
} goc__stacktrace;

/* The stack of a goroutine that is not running, from its saved context.
 * Reads only [lo, hi), so a goroutine that starts running meanwhile yields
 * a short or odd trace, never a fault. */
void goc__unwind_saved(const void *sp, uintptr_t lo, uintptr_t hi, goc__stacktrace *t);
/* The caller's own stack, without the `skip` innermost frames (0: starts
 * at goc__unwind_here's caller). lo/hi bound it as above. */
void goc__unwind_here(int skip, uintptr_t lo, uintptr_t hi, goc__stacktrace *t);
/* The stack interrupted by a signal, from its ucontext_t. */
void goc__unwind_signal(const void *ucontext, uintptr_t lo, uintptr_t hi, goc__stacktrace *t);

/* ---- symbols (symbolize.c): not signal-safe ---- */

/* Describes the modules loaded now, for goc__raw_location (runtime start). */
void goc__symbolize_init(void);
/* The name of the function holding pc ("?" if unknown). exact: pc is the
 * instruction itself (a signal's pc, a function's address) rather than a
 * return address, whose call instruction is what is looked up. */
void goc__symbolize_func(goc__buf *b, uintptr_t pc, bool exact);
/* Where pc is: "/path/file.c:42 +0x1c" (the offset from the function's
 * entry); without line information "/path/module+0x61c4 pc=0x...". */
void goc__symbolize_location(goc__buf *b, uintptr_t pc, bool exact);
/* Copies the function name into name (size bytes); false, with name = "",
 * if unknown. */
bool goc__symbolize_name(uintptr_t pc, bool exact, char *name, size_t size);
/* One frame as Go's text profiles print it ("#\t0x4f2a1b\tworker+0x2b\t
 * /src/app/main.c:42"): the lookup pc (a return address minus one, inside
 * its call; an exact pc as it is), its function, the offset of the lookup
 * pc in it, and file:line; "" and 0 for what is unknown. */
typedef struct goc__frame_symbol {
	uintptr_t pc;
	char func[256];
	uintptr_t func_offset;
	char file[512];
	int line;
} goc__frame_symbol;
/* Fills out for pc; false if its function is unknown. */
bool goc__symbolize_frame(uintptr_t pc, bool exact, goc__frame_symbol *out);
/* Threads the symbolizer runs (0 or 1), for the deadlock check's count of
 * the threads it knows. */
int goc__symbolizer_threads(void);
/* Signal-safe: "/path/module+0x61c4 pc=0x..." from the start-up table. */
void goc__raw_location(goc__buf *b, uintptr_t pc);

/* ---- dumps (dump.c) ---- */

/* Prints g with the trace t (NULL: none), symbolized or raw. */
void goc__dump_g_trace(goc__buf *b, goc__g *g, int64_t now, const goc__stacktrace *t,
		       bool symbolize);
/* Prints g with whatever stack can be had without stopping it: its own
 * when g is the caller, the saved one when it is not running. */
void goc__dump_g_to(goc__buf *b, goc__g *g, int64_t now);
/* Prints every goroutine, the caller's first. */
void goc__dump_all_to(goc__buf *b);
/* Fills t with the calling goroutine's stack from `skip` frames above the
 * caller of this function (0: starting at that caller); false on g0 or a
 * plain thread. */
bool goc__unwind_self(int skip, goc__stacktrace *t);
/* What a dump shows of a goroutine other than the caller, for profiles. */
typedef struct goc__g_summary {
	int64_t id;
	const char *state;     /* "chan receive", "runnable", "running", ... */
	char name[32];         /* goc_go_options.name, or "" */
	goc__stacktrace trace; /* n == 0: running on another M, no stack */
} goc__g_summary;
void goc__g_summarize(goc__g *g, goc__g_summary *s);

/* ---- reports from signal handlers (signal_report.c) ---- */

/* From a signal handler: prints g, interrupted at ucontext, symbolized by
 * sysmon, or raw if sysmon does not answer within 2 seconds. */
void goc__dump_g_from_signal(int fd, goc__g *g, const void *ucontext);
/* Installs the SIGQUIT handler unless GOCDEBUG=sigquit=0 (runtime start). */
void goc__sigquit_init(void);
/* sysmon: prints what a signal handler asked for. */
void goc__signal_reports_poll(void);

/* ---- block and mutex profiles (blockprof.c, mutexprof.c) ---- */

/* The block profile's rate in ns; 0: off. Atomic, relaxed. Hidden, so
 * the hook loads it directly rather than through the GOT. */
extern __attribute__((visibility("hidden"))) int64_t goc__blockprof_rate_ns;
/* The wait reasons the block profile counts, as Go's: channels, select,
 * the sync types and semaphores; not sleeps, I/O, nil channels or an
 * empty select. */
#define GOC_BLOCKPROF_REASONS                                                                     \
	(1u << WAIT_CHAN_SEND | 1u << WAIT_CHAN_RECV | 1u << WAIT_SELECT | 1u << WAIT_WAITGROUP | \
	 1u << WAIT_MUTEX | 1u << WAIT_RWMUTEX_R | 1u << WAIT_RWMUTEX_W | 1u << WAIT_COND |       \
	 1u << WAIT_SEMACQUIRE)
/* Whether the block profile is on: goc__park's test, one compare of a
 * global and a branch while it is off. */
static inline bool goc__blockprof_on(void)
{
	return goc__load_relaxed(&goc__blockprof_rate_ns) != 0;
}
/* The clock at the start of a park for reason r if the block profile
 * counts it, else 0. */
int64_t goc__blockprof_start(goc__wait_reason r);
/* goc__park, once resumed, for a nonzero goc__blockprof_start: samples and
 * records the wait with the stack three frames above this call (skipping
 * the recorder and goc__park's two frames). */
void goc__blockprof_record(int64_t since);

/* 1 in how many mutex contentions are recorded; 0: off. Atomic, relaxed. */
extern __attribute__((visibility("hidden"))) int32_t goc__mutexprof_fraction;
/* The wait queue's releaser, for a waiter that waited delay_ns (sampled
 * here), with the releaser's stack. */
void goc__mutexprof_record(int64_t delay_ns);

/* ---- the heap profile (heapprof.c) ---- */

/* Writes the heap profile as profile.proto; allocs: alloc_space is the
 * default sample type (the allocs profile). 0 or an errno value. */
int goc__heapprof_write(FILE *out, bool allocs);
/* A bucket of the heap profile, un-sampled, for the text form. */
typedef struct goc__heapprof_record {
	int64_t alloc_objects, alloc_bytes, inuse_objects, inuse_bytes;
	goc__stacktrace stack;
} goc__heapprof_record;
/* Copies every bucket into *records (malloc'd). 0 or ENOMEM. */
int goc__heapprof_snapshot(goc__heapprof_record **records, size_t *n);

/* ---- sysmon's debugging duties (monitor.c) ---- */

/* Reads GOCDEBUG (runtime start). */
void goc__debug_init(void);
/* Every sysmon tick. */
void goc__debug_sysmon_tick(int64_t now);
/* What schedtrace and the debug server (debugserve.c) show of a P, an M
 * and a goroutine, read without locks (schedtrace.c): each field is a
 * value it held recently, not all of them at one instant. -1: none. */
typedef struct goc__p_view {
	int32_t id;
	uint32_t status; /* enum p_status */
	uint32_t schedtick;
	uint32_t gfree;  /* free descriptors cached */
	int64_t m_id;    /* the M holding it while P_RUNNING */
	int64_t curg_id; /* the goroutine its M runs */
	int64_t runq;    /* its local run queue, runnext included */
} goc__p_view;
typedef struct goc__m_view {
	int64_t id, p_id, curg_id;
	bool spinning;
	bool blocked; /* asleep on its futex, without a P */
} goc__m_view;
typedef struct goc__g_brief {
	int64_t id;
	uint32_t state;               /* enum g_state */
	goc__wait_reason wait_reason; /* meaningful while G_WAITING */
	int64_t m_id;                 /* the M running it */
} goc__g_brief;
void goc__p_view_take(const goc__p *p, goc__p_view *v);
void goc__m_view_take(const goc__m *m, goc__m_view *v);
void goc__g_brief_take(const goc__g *g, goc__g_brief *v);
/* The M after m in sched.allm; the first for NULL; NULL after the last. */
const goc__m *goc__m_next(const goc__m *m);
/* schedtrace.c: one SCHED report (with scheddetail, the P/M/G lines). */
void goc__schedtrace_print(goc__buf *b, int64_t now, bool detail);
/* blockwarn.c: reports goroutines blocked at least `after` ns, once per
 * wait. */
void goc__blockwarn_scan(int64_t now, int64_t after);

/* ---- profile labels (labels.c) ---- */

typedef struct goc__labels goc__labels;
/* Another reference to l (NULL: nothing); async-signal-safe. */
void goc__labels_retain(goc__labels *l);
/* Drops one; the last frees l after a QSBR grace period. */
void goc__labels_release(goc__labels *l);
/* l's pairs: *kv gets key, value, key, value, ...; returns the number of
 * pairs (0 for NULL). */
int goc__labels_get(const goc__labels *l, const char ***kv);

#endif
