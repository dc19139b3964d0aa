/*
 * debug.h — the runtime's debugging facilities, as the scheduler and the
 * other debug files see them: stack traces (unwind.c), symbols (symbolize.c),
 * goroutine dumps (dump.c), reports requested from a signal handler
 * (signal_report.c), GOCDEBUG settings (gocdebug.c) and the work sysmon does
 * for them every tick (monitor.c: schedtrace.c, blockwarn.c).
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
typedef struct goc_trace {
	int n;
	bool first_exact;
	bool truncated;         /* the chain went on past GOC_TRACE_MAX */
	uintptr_t pcs[GOC_TRACE_MAX];
} goc_trace;

/* The stack of a goroutine that is not running, from its saved context.
 * Reads only [lo, hi), so a goroutine that starts running meanwhile yields
 * a short or odd trace, never a fault. */
void goc_unwind_saved(const void *sp, uintptr_t lo, uintptr_t hi, goc_trace *t);
/* The caller's own stack, without the `skip` innermost frames (0: starts
 * at goc_unwind_here's caller). lo/hi bound it as above. */
void goc_unwind_here(int skip, uintptr_t lo, uintptr_t hi, goc_trace *t);
/* The stack interrupted by a signal, from its ucontext_t. */
void goc_unwind_signal(const void *ucontext, uintptr_t lo, uintptr_t hi, goc_trace *t);

/* ---- symbols (symbolize.c): not signal-safe ---- */

/* Describes the modules loaded now, for goc_raw_location (runtime start). */
void goc_symbolize_init(void);
/* The name of the function holding pc ("?" if unknown). exact: pc is the
 * instruction itself (a signal's pc, a function's address) rather than a
 * return address, whose call instruction is what is looked up. */
void goc_symbolize_func(goc_buf *b, uintptr_t pc, bool exact);
/* Where pc is: "/path/file.c:42 +0x1c" (the offset from the function's
 * entry); without line information "/path/module+0x61c4 pc=0x...". */
void goc_symbolize_location(goc_buf *b, uintptr_t pc, bool exact);
/* Copies the function name into name (size bytes); false, with name = "",
 * if unknown. */
bool goc_symbolize_name(uintptr_t pc, bool exact, char *name, size_t size);
/* Threads the symbolizer runs (0 or 1), for the deadlock check's count of
 * the threads it knows. */
int goc_symbolizer_threads(void);
/* Signal-safe: "/path/module+0x61c4 pc=0x..." from the start-up table. */
void goc_raw_location(goc_buf *b, uintptr_t pc);

/* ---- dumps (dump.c) ---- */

/* Prints g with the trace t (NULL: none), symbolized or raw. */
void goc_dump_g_trace(goc_buf *b, goc_g *g, int64_t now, const goc_trace *t, bool symbolize);
/* Prints g with whatever stack can be had without stopping it: its own
 * when g is the caller, the saved one when it is not running. */
void goc_dump_g_to(goc_buf *b, goc_g *g, int64_t now);
/* Prints every goroutine, the caller's first. */
void goc_dump_all_to(goc_buf *b);

/* ---- reports from signal handlers (signal_report.c) ---- */

/* From a signal handler: prints g, interrupted at ucontext, symbolized by
 * sysmon, or raw if sysmon does not answer within 2 seconds. */
void goc_dump_g_from_signal(int fd, goc_g *g, const void *ucontext);
/* Installs the SIGQUIT handler unless GOCDEBUG=sigquit=0 (runtime start). */
void goc_sigquit_init(void);
/* sysmon: prints what a signal handler asked for. */
void goc_signal_reports_poll(void);

/* ---- GOCDEBUG (gocdebug.c) ---- */

/* The value of name in GOCDEBUG=name=value,...; def when absent. A value
 * that is not an integer in [min, max] is reported on stderr ("goc:
 * ignoring GOCDEBUG name=value: ...") and yields def. */
long long goc_gocdebug_long(const char *name, long long def, long long min, long long max);

/* ---- sysmon's debugging duties (monitor.c) ---- */

/* Reads GOCDEBUG (runtime start). */
void goc_debug_init(void);
/* Every sysmon tick. */
void goc_debug_sysmon_tick(int64_t now);
/* schedtrace.c: one SCHED report (with scheddetail, the P/M/G lines). */
void goc_schedtrace_print(goc_buf *b, int64_t now, bool detail);
/* blockwarn.c: reports goroutines blocked at least `after` ns, once per
 * wait. */
void goc_blockwarn_scan(int64_t now, int64_t after);

#endif
