/*
 * goc/trace.h — execution traces (Go's runtime/trace), in the Chrome Trace
 * Event format that Perfetto (https://ui.perfetto.dev) and chrome://tracing
 * open, or in Go's own binary format (Go 1.19's), which `go tool trace`
 * opens. User annotations (tasks, regions, logs) as runtime/trace has them.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * Go's format:
 *
 *     goc_trace_start_format(f, GOC_TRACE_GO);
 *     ...
 *     goc_trace_stop();
 *     // go tool trace app.trace;  go tool trace -pprof=sched app.trace > s.pb
 *
 * It holds Go's events: goroutine creation, start, block (by kind: channel
 * send and receive, select, sync, cond, network, sleep), unblock, end,
 * yield; syscall sections (a goroutine's section lends its P out at once,
 * so each is a blocking syscall in Go's terms); P start and stop; the
 * stacks of creations, blocks, unblocks and syscalls (from the first goc_
 * public call outwards), so that `go tool trace`'s network, sync, syscall
 * and scheduler-latency profiles point at the program's code. Events are
 * kept in memory until goc_trace_stop writes the file (64 bytes each,
 * more with a stack).
 *
 *     FILE *f = fopen("app.trace.json", "w");
 *     goc_trace_start(f);
 *     run_workload();
 *     goc_trace_stop();                    // completes the JSON
 *     fclose(f);
 *
 * The trace shows one track per P ("P0", "P1", ...) holding a slice for
 * every stretch a goroutine ran there, named "G<id> <name>", whose
 * arguments say why it ended ("end": "block" with "wait": the wait reason,
 * "yield", "exit", "syscall", or "stop" if it still ran when the trace
 * stopped). Instants mark goroutine creation ("create", with the parent)
 * and unblocking ("unblock", with "by": the goroutine id that readied it,
 * or "timer", "netpoll", "scheduler", "thread" for a plain thread), and a
 * flow arrow leads from the readying goroutine's slice to the readied
 * one's next slice. P start and stop are instants on the P's track; a
 * goroutine's syscall section (goc_syscall_enter / goc_blocking / the file
 * helpers) is a slice on the track "M<id> syscalls" of its thread;
 * unblocks by timers and the netpoller sit on the tracks "Timers" and
 * "Network". Timestamps are microseconds since goc_trace_start.
 *
 * The file holds one event per line. Events are buffered per thread and
 * written in chunks while the trace runs, so the file is in time order
 * only per thread; viewers sort it. Only one trace at a time.
 */
#ifndef GOC_TRACE_H
#define GOC_TRACE_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/trace.h>"
#endif

#include <stdio.h>

/* Starts tracing to out (opened for writing). GOC_OK; -EINVAL if out is
 * NULL; -EBUSY if a trace is being taken already; -ENOMEM. */
goc_status goc_trace_start(FILE *out);

typedef enum goc_trace_format {
	GOC_TRACE_JSON, /* Chrome Trace Event JSON (Perfetto) */
	GOC_TRACE_GO,   /* Go 1.19's binary execution trace (go tool trace) */
} goc_trace_format;

/* goc_trace_start with a choice of format (-EINVAL for an unknown one). */
goc_status goc_trace_start_format(FILE *out, goc_trace_format format);

/* Stops tracing, writes what is buffered and the end of the JSON, and
 * flushes out (the caller closes it). GOC_OK; -EINVAL if no trace is being
 * taken; the negative errno of a failed write; -ENOMEM if some thread's
 * events were lost for want of memory (the file is still valid JSON).
 * Tracing has stopped in every case. */
goc_status goc_trace_stop(void);

/*
 * User annotations, as runtime/trace's NewTask, StartRegion, Log. A task
 * is a logical operation (a request) that may span goroutines; a region a
 * stretch of one goroutine's time, nested in its other regions (an end
 * must name the innermost open region of its goroutine; one that does not
 * is left out of Go's format); a log a timestamped message. Tasks are
 * numbers: 0 is "no task"; goc_trace_task_new returns a new one (nonzero)
 * whether or not a trace is being taken. Strings are copied (up to 200
 * bytes in Go's format, 64 in JSON). Without a trace each call is a load
 * and a test.
 *
 * In JSON, tasks and regions are async slices (category "task" with the
 * task's id, "region" with the goroutine's id) and logs are instants
 * (category "log", named by the category, the message in the args).
 */
uint64_t goc_trace_task_new(uint64_t parent, const char *name);
void goc_trace_task_end(uint64_t task);
void goc_trace_region_begin(uint64_t task, const char *name);
void goc_trace_region_end(uint64_t task, const char *name);
void goc_trace_log(uint64_t task, const char *category, const char *message);

#endif
