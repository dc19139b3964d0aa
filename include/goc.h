/*
 * goc.h — Go's concurrency runtime for C.
 *
 * The one header a goc program includes. Goroutines run M:N over every core
 * on a G/M/P work-stealing scheduler; they block with channels, timers and the
 * sync toolbox, and the runtime keeps the other goroutines running.
 *
 *     #include <goc.h>
 *
 *     static void worker(void *arg) { ... goc_sleep(10 * GOC_MILLISECOND); ... }
 *
 *     static void main_goroutine(void *arg) {
 *         goc_wg wg = GOC_WG_INIT;
 *         goc_wg_add(&wg, 1);
 *         goc_go(worker, &wg);
 *         goc_wg_wait(&wg);
 *     }
 *
 *     int main(void) { goc_main(main_goroutine, NULL); return 0; }
 *
 * Conventions: every name starts with goc_; sizes are bytes. Misuse that Go
 * would answer with a panic (closing a closed channel, a negative wait group
 * counter, a NULL function) prints "panic: ..." with the goroutine's
 * identity and aborts. Ordinary failure is a return value, by three rules:
 *
 *   1. A call that can fail returns a goc_status: GOC_OK (0); a positive
 *      GOC_* code for an ordinary outcome (closed, would block, timeout,
 *      canceled); or a negative errno for a failure of the system or of an
 *      argument (-ENOMEM, -EAGAIN, -EINVAL, -EBUSY, -EIO, ...). A call that
 *      returns a count, a size or an id returns it (>= 0) or a negative
 *      errno; the I/O calls report a deadline as -ETIMEDOUT and a context
 *      as -ECANCELED or -ETIMEDOUT. goc_strerror names any of these.
 *   2. NULL is returned only by constructors that never park (goc_chan_make,
 *      goc_ctx_with_*, goc_after, ...); they alone set errno (ENOMEM, or
 *      EINVAL for an argument out of range).
 *   3. No call that can park reports through errno: a goroutine may resume
 *      on another thread, whose errno the compiler may read (API.md,
 *      "Thread-locals and errno").
 *
 * Time: durations and instants are int64_t nanoseconds (GOC_SECOND, ...).
 *   - A timeout bounds a wait: > 0 waits that long at most, 0 does not wait
 *     (tries once), GOC_NO_TIMEOUT (any negative value) waits for as long
 *     as it takes.
 *   - A delay says when something happens (goc_sleep, goc_after, timers,
 *     the expiry of goc_ctx_with_timeout, as in Go): <= 0 is now.
 *   - A deadline is an absolute goc_now() instant; GOC_NO_DEADLINE (0)
 *     means none, and one already past fails at once.
 *   - In an options struct a zero field takes the documented default;
 *     GOC_NO_TIMEOUT there asks for no limit at all.
 *
 * Every call may be made from a goroutine or from a plain OS thread that
 * goc did not create; a plain thread that blocks in goc blocks itself only.
 * The full reference is docs/API.md.
 */
#ifndef GOC_H
#define GOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define GOC_VERSION "0.1.0"

/* Durations, in nanoseconds, as in Go's time package. */
#define GOC_NANOSECOND ((int64_t)1)
#define GOC_MICROSECOND ((int64_t)1000)
#define GOC_MILLISECOND ((int64_t)1000000)
#define GOC_SECOND ((int64_t)1000000000)
#define GOC_MINUTE ((int64_t)60000000000)
#define GOC_HOUR ((int64_t)3600000000000)

/* "Wait without bound" for a timeout argument or option (see above). */
#define GOC_NO_TIMEOUT ((int64_t)-1)
/* "No deadline" for a deadline argument (see above), as Go's zero time. */
#define GOC_NO_DEADLINE ((int64_t)0)

/*
 * The result of a call that can fail: GOC_OK, one of the positive codes
 * below, or a negative errno (rule 1 above). An int, so that it can hold
 * both; compare it with GOC_OK or test `< 0` for a system failure.
 */
typedef int goc_status;
enum {
	GOC_OK = 0,
	GOC_CLOSED = 1,     /* the channel is closed (and, for receive, drained) */
	GOC_WOULDBLOCK = 2, /* a non-blocking call could not proceed now */
	GOC_TIMEOUT = 3,    /* the deadline passed first (Go's DeadlineExceeded) */
	GOC_CANCELED = 4,   /* the context was canceled */
};

/* A short English description of a goc_status or of a negative errno
 * ("closed", "timeout", "Cannot allocate memory", ...); a static string,
 * safe from any thread. */
const char *goc_strerror(int code);

/* ---- goroutines ------------------------------------------------------- */

typedef void (*goc_fn)(void *arg);

/* Options of goc_go_opts. Zero-initialise and set what you need. */
typedef struct goc_go_options {
	/* Bytes of stack to reserve; 0 means the default (64 KiB, or the
	 * GOCSTACKSIZE environment variable). Rounded up to a power of two of
	 * at least 16 KiB; at most 1 GiB. Memory is committed only as the
	 * goroutine touches it. */
	size_t stack_size;
	/* A name shown in dumps and crash reports; copied (up to 31 bytes). */
	const char *name;
	/* The goroutine keeps Go's rule for its stack: while it is blocked in
	 * a channel operation or in a select without a timeout, no other
	 * goroutine or thread reads or writes its stack (the values it sends
	 * from or receives into its locals excepted: the runtime redirects
	 * those). Many such goroutines parked at once (GOCDEBUG=stackcompact)
	 * then have the used part of their stacks moved aside and the pages
	 * given back to the kernel while they wait, and put back at the same
	 * address when they wake. */
	bool compact_stack;
	/* Never preempt this goroutine asynchronously (by a signal): it
	 * yields only at goc calls and goc_preempt_check(). */
	bool no_async_preempt;
	/* After an asynchronous preemption the goroutine may resume on any
	 * thread. Only for code that keeps no thread-local address (errno,
	 * __thread variables) in a register and holds no thread-owned lock
	 * across arbitrary instructions; by default it resumes on the same
	 * thread. */
	bool preempt_migrates;
} goc_go_options;

/*
 * Runs fn(arg) as the main goroutine and returns when it returns. The
 * calling thread waits; fn runs on the scheduler's threads, with a stack of
 * 8 MiB (or GOCSTACKSIZE, if larger). Goroutines still alive when fn returns stay parked or queued; they
 * are not killed and run on if another goc_main or a plain thread lets them.
 * GOCMAXPROCS in the environment sets the number of Ps (default: the number
 * of CPUs). Must not be called from a goroutine.
 */
void goc_main(goc_fn fn, void *arg);

/*
 * Starts fn(arg) in a new goroutine and returns its id (> 0), or -ENOMEM if
 * no goroutine descriptor could be had, or -EAGAIN at the goroutine limit
 * (goc_set_max_goroutines). The stack is taken when the goroutine first
 * runs; running out of address space then is a fatal error. fn == NULL
 * panics.
 */
int64_t goc_go(goc_fn fn, void *arg);

/* goc_go with options (stack size, name). opts may be NULL. A stack size
 * over 1 GiB returns -EINVAL. */
int64_t goc_go_opts(goc_fn fn, void *arg, const goc_go_options *opts);

/* Lets other goroutines run (Go's runtime.Gosched). On a plain thread it
 * calls sched_yield. */
void goc_yield(void);

/*
 * Preemption (Go's, see docs/ARCHITECTURE.md §28). A goroutine that runs
 * 10 ms without a scheduling point is stopped by a signal (SIGURG) when
 * it is in the program's own code, and resumes later on the same thread.
 * GOCDEBUG=asyncpreemptoff=1 turns the signals off.
 *
 * goc_preempt_check: a scheduling point for long loops, cheap when no
 * preemption is asked for (a few loads); honours one that is, whatever
 * code the goroutine was in when it was asked.
 *
 * goc_preempt_allow_object: code of the shared object that contains addr
 * may be preempted too (by default only the main executable's, never a
 * library's: a library may hold a lock of its own). Returns 0, -EINVAL
 * (addr is in no object, or in goc) or -ENOSPC (too many objects).
 */
void goc_preempt_check(void);
int goc_preempt_allow_object(const void *addr);

/*
 * Go's runtime.LockOSThread / UnlockOSThread: the calling goroutine runs
 * only on its current thread, and that thread runs no other goroutine,
 * until as many unlocks as locks. For C libraries that keep per-thread
 * state. A goroutine that exits locked frees its thread for others (Go
 * ends the thread). No effect on a plain thread.
 */
void goc_lock_os_thread(void);
void goc_unlock_os_thread(void);

/* Blocks the calling goroutine (or thread) for at least ns nanoseconds (a
 * delay: ns <= 0 returns at once). */
void goc_sleep(int64_t ns);

/* The monotonic clock, in nanoseconds. */
int64_t goc_now(void);

/* The id of the calling goroutine, or 0 on a plain thread. */
int64_t goc_id(void);

/* The number of goroutines that exist (created and not yet finished). */
int64_t goc_num_goroutine(void);

/*
 * A cap on live goroutines: once n goroutines exist, goc_go and
 * goc_go_opts return -EAGAIN (Go would instead run out of
 * memory) until some finish. n > 0 sets the cap, 0 removes it, n < 0 only
 * reads it; returns the previous cap (0: none). The environment sets it at
 * start-up with GOCDEBUG=maxgoroutines=N. The main goroutine of goc_main
 * is never refused, and goroutines that exist when a cap is set stay. With
 * no cap the check costs goc_go one relaxed load; with a cap, spawns take
 * a global lock and sum the per-P counters, so the cap is exact.
 */
int64_t goc_set_max_goroutines(int64_t n);

/*
 * Sets the number of Ps (goroutines running in parallel) to n and returns
 * the previous setting; n <= 0 only reads it. n is capped at 256 (a larger
 * value returns -EINVAL).
 */
int goc_maxprocs(int n);

/* A snapshot of the scheduler's counters (for demos, dashboards, tests). */
#define GOC_MAX_PROCS 256
typedef struct goc_proc_stats {
	int64_t runq;     /* goroutines in its local run queue now */
	int64_t switches; /* goroutines it has switched to, in all */
	int64_t spawned;  /* goroutines spawned by code running on it */
} goc_proc_stats;
typedef struct goc_sched_stats {
	int procs; /* GOCMAXPROCS now */
	int idle_procs;
	int threads; /* Ms created */
	int idle_threads;
	int spinning_threads;
	int64_t goroutines;  /* alive now */
	int64_t global_runq; /* goroutines in the global run queue */
	int64_t steals;      /* successful steals from another P's queue */
	int64_t retakes;     /* Ps sysmon took from goroutines in syscall sections */
	int64_t long_runs;   /* runs over 10 ms without a scheduling point, seen by sysmon */
	int64_t preemptions; /* goroutines stopped by preemption (signal or goc_preempt_check) */
	int64_t blocked_handoffs;        /* Ps lent by threads blocked in the kernel outside goc */
	goc_proc_stats p[GOC_MAX_PROCS]; /* the first `procs` entries are set */
} goc_sched_stats;

/* Fills *out; counters are read without stopping the world, so they are
 * each exact but not taken at the same instant. */
void goc_sched_stats_read(goc_sched_stats *out);

/* ---- channels ------------------------------------------------------------ */

/* A channel of fixed-size elements, as Go's chan T. Reference counted: the
 * creator holds one reference; goc_chan_release drops one and frees the
 * channel with the last. */
typedef struct goc_chan goc_chan;

/* Makes a channel of elements of elem_size bytes (0 allowed: a signal
 * channel) with a buffer of cap elements (0: unbuffered). A buffered channel
 * takes cap * (elem_size rounded up to 8, plus 8) bytes; a signal channel's
 * buffer is a counter, so it may have any cap. Returns NULL with errno =
 * ENOMEM or EINVAL (elem_size over 64 KiB, a cap over 2^32 - 1 for elements
 * of nonzero size, or a buffer size overflowing). */
goc_chan *goc_chan_make(size_t elem_size, size_t cap);
/* Takes / drops a reference. */
goc_chan *goc_chan_retain(goc_chan *c);
void goc_chan_release(goc_chan *c);

/* Sends the elem_size bytes at elem. Blocks until a receiver takes them or
 * there is room in the buffer. Sending on a closed channel panics; on NULL
 * blocks forever. */
void goc_chan_send(goc_chan *c, const void *elem);
/* Receives into elem (may be NULL to discard). GOC_OK: a value was
 * received; GOC_CLOSED: the channel is closed and drained, *elem zeroed.
 * On NULL blocks forever. */
goc_status goc_chan_recv(goc_chan *c, void *elem);
/* Non-blocking forms: GOC_OK, GOC_WOULDBLOCK, or GOC_CLOSED. */
goc_status goc_chan_try_send(goc_chan *c, const void *elem);
goc_status goc_chan_try_recv(goc_chan *c, void *elem);
/* Closes c: receivers drain the buffer then see GOC_CLOSED; blocked senders
 * panic. Closing a closed or NULL channel panics. */
void goc_chan_close(goc_chan *c);
size_t goc_chan_len(goc_chan *c);
size_t goc_chan_cap(goc_chan *c);

/* One case of goc_select. */
typedef enum goc_select_dir { GOC_SELECT_RECV = 0, GOC_SELECT_SEND = 1 } goc_select_dir;
typedef struct goc_select_case {
	goc_chan *chan; /* NULL: never ready */
	goc_select_dir dir;
	void *elem; /* send: the value; recv: where to store it (or NULL) */
	bool ok;    /* recv, out: true if a value was received, false if closed */
} goc_select_case;

/* Waits until one case can proceed, performs it and returns its index. With
 * several ready, one is chosen uniformly at random. timeout (see "Time"
 * above) 0 is Go's default (returns GOC_SELECT_NONE if none is ready),
 * GOC_NO_TIMEOUT waits forever, a positive one waits that many nanoseconds
 * and then returns GOC_SELECT_NONE. */
#define GOC_SELECT_NONE (-1)
int goc_select(goc_select_case *cases, size_t n, int64_t timeout);

/* ---- timers as channels ---------------------------------------------- */

/*
 * Go's time.After, time.Timer and time.Ticker. Each delivers the monotonic
 * time (int64_t, goc_now() at firing) on a channel of capacity 1; a value
 * is dropped if the previous one has not been received yet, as in Go.
 *
 * Memory: goc_after returns a channel reference the caller must release
 * (goc_chan_release) whether or not it ever receives from it; the pending
 * timer holds a reference of its own until it fires, so releasing early is
 * safe and nothing leaks when a select returns through another case. A
 * goc_timer or goc_ticker is freed by goc_timer_free / goc_ticker_free,
 * which stop it first; the channel stays valid while the caller holds its
 * own reference (goc_chan_retain).
 */
typedef struct goc_timer goc_timer;
typedef struct goc_ticker goc_ticker;

/* A channel that receives the time once, after d nanoseconds (d <= 0: at
 * once). NULL with errno = ENOMEM on failure. */
goc_chan *goc_after(int64_t d);

goc_timer *goc_timer_new(int64_t d);
goc_chan *goc_timer_chan(goc_timer *t);
/* Stops t; true if that prevented it from firing. */
bool goc_timer_stop(goc_timer *t);
/* Re-arms t to fire d from now; true if it was still pending. */
bool goc_timer_reset(goc_timer *t, int64_t d);
void goc_timer_free(goc_timer *t);

/* Ticks every period (> 0, else NULL with errno = EINVAL); ticks the
 * receiver is too slow for are dropped. */
goc_ticker *goc_ticker_new(int64_t period);
goc_chan *goc_ticker_chan(goc_ticker *t);
void goc_ticker_stop(goc_ticker *t);
/* Stops it and sets a new period (> 0) from now. */
void goc_ticker_reset(goc_ticker *t, int64_t period);
void goc_ticker_free(goc_ticker *t);

/* ---- the sync toolbox, context and patterns ------------------------------
 * Declared in the headers below, each included here (include <goc.h> only). */
#define GOC_H_INSIDE
#include "goc/sync.h"
#include "goc/context.h"
#include "goc/sema.h"
#include "goc/group.h"
#include "goc/workpool.h"
#include "goc/debug.h"
#include "goc/net.h"
#include "goc/http.h"
#include "goc/http_client.h"
#include "goc/syscall.h"
#include "goc/io.h"
#include "goc/signal.h"
#include "goc/typed.h"
#include "goc/pprof.h"
#include "goc/alloc.h"
#include "goc/trace.h"
#include "goc/tracectx.h"
#include "goc/singleflight.h"
#include "goc/ratelimit.h"
#include "goc/map.h"
#include "goc/metrics.h"
#undef GOC_H_INSIDE

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* GOC_H */
