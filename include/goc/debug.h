/*
 * goc/debug.h — seeing inside a running program: goroutine dumps, the
 * SIGQUIT dump, a leak check for tests, and the debug server (Go's
 * net/http/pprof and expvar over HTTP: goc_debug_serve).
 * Included by goc.h; include <goc.h>, not this file.
 *
 * A dump prints every goroutine as Go's runtime does: its id, state or
 * wait reason and how long it has waited, its stack (function, file:line,
 * innermost first) and where it was created:
 *
 *     goroutine 17 [chan receive, 3 minutes]:
 *     goc_chan_recv(...)
 *     	/src/goc/src/chan/chan.c:412 +0x8c
 *     worker(...)
 *     	/src/app/main.c:42 +0x1c
 *     created by spawn_workers in goroutine 1
 *     	/src/app/main.c:57 +0x3d
 *
 * Stacks are walked through frame pointers: compile with
 * -fno-omit-frame-pointer (and -g for file:line) to see every frame;
 * functions compiled without frame pointers are missing from the traces.
 * Goroutines running on another thread at that instant show no stack.
 *
 * Environment (GOCDEBUG=name=value,...): sigquit=0 leaves SIGQUIT alone;
 * schedtrace=N prints a scheduler summary every N ms, scheddetail=1 adds
 * every P, M and goroutine to it; blockwarn=S reports each goroutine blocked
 * for S seconds, once per wait. docs/API.md has the details.
 */
#ifndef GOC_DEBUG_H
#define GOC_DEBUG_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/debug.h>"
#endif

#include <stdio.h>

/* Prints every goroutine to f, the caller's first. */
void goc_dump(FILE *f);

/*
 * Whether SIGQUIT (Ctrl-\) dumps every goroutine to stderr and exits with
 * status 2, as in Go. On by default (unless GOCDEBUG=sigquit=0, or the
 * program had its own SIGQUIT handler before goc started); false restores
 * the disposition goc found. Returns the previous setting.
 */
bool goc_sigquit_dump(bool on);

/* Options of goc_leakcheck. Zero-initialise and set what you need. */
typedef struct goc_leakcheck_options {
	/* How long goroutines may take to finish before they count as
	 * leaked; 0 means 1 second, GOC_NO_TIMEOUT as long as it takes. */
	int64_t grace;
	/* NULL-terminated names of goroutines not to report: a goroutine is
	 * allowed if its function, the function that created it, or its name
	 * (goc_go_options.name) is in the list. May be NULL. */
	const char *const *allow;
	/* Where the leaked goroutines' dumps go; NULL: stderr. */
	FILE *out;
} goc_leakcheck_options;

/*
 * For tests, like Go's goleak: the number of goroutines alive other than
 * the caller, the main goroutine and the allowed ones, once goroutines that
 * are still finishing have had `grace` to do so (checked again every few
 * milliseconds). The leaked ones are printed, with their stacks, to out.
 * opts may be NULL.
 */
int64_t goc_leakcheck(const goc_leakcheck_options *opts);

/*
 * The debug server, like Go's net/http/pprof and expvar: an HTTP server
 * (goc_http_serve) in a goroutine of its own, listening on addr ("tcp",
 * e.g. "127.0.0.1:6060"; port 0 picks a free port), serving
 *
 *   /debug/pprof/                 an HTML index of the profiles, with counts
 *   /debug/pprof/profile?seconds=N  a CPU profile of N seconds [30]
 *   /debug/pprof/goroutine?debug=D  0: profile.proto; 1: stacks grouped,
 *                                  with counts; 2: a goc_dump
 *   /debug/pprof/block?debug=D    the block profile; 1: as text
 *   /debug/pprof/mutex?debug=D    the mutex profile; 1: as text
 *   /debug/pprof/cmdline          the command line, NUL-separated
 *   /debug/sched                  JSON: Ps, Ms, run queues, goroutines by state
 *   /debug/vars                   JSON: counters, memory, command line
 *   /metrics                      Prometheus text format 0.0.4 (goc/metrics.h)
 *
 * so that `go tool pprof http://ADDR/debug/pprof/profile?seconds=5` works
 * against a running program. Nothing is protected: listen on loopback,
 * or somewhere only trusted clients reach. Returns 0, or a negative errno:
 * -EADDRINUSE and the other errors of goc_listen, -EBUSY if the server
 * runs already, -ENOMEM.
 */
int goc_debug_serve(const char *addr);

/* The address the debug server listens on ("127.0.0.1:34567") into buf;
 * its length, or -ENOTCONN when it is not running, -ENOSPC if buf is too
 * small. */
int goc_debug_serve_addr(char *buf, size_t size);

/* Stops the debug server: it stops accepting, a CPU profile being taken
 * ends at once, and the call returns once the server's goroutines have
 * ended. Nothing happens if it is not running. */
void goc_debug_serve_stop(void);

#endif
