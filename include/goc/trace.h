/*
 * goc/trace.h — execution traces (Go's runtime/trace), in the Chrome Trace
 * Event format that Perfetto (https://ui.perfetto.dev) and chrome://tracing
 * open.
 * Included by goc.h; include <goc.h>, not this file.
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

/* Stops tracing, writes what is buffered and the end of the JSON, and
 * flushes out (the caller closes it). GOC_OK; -EINVAL if no trace is being
 * taken; the negative errno of a failed write; -ENOMEM if some thread's
 * events were lost for want of memory (the file is still valid JSON).
 * Tracing has stopped in every case. */
goc_status goc_trace_stop(void);

#endif
