/*
 * signal_report.c — reports asked for from signal handlers, printed by
 * sysmon: the SIGQUIT dump, and the stack of a goroutine that hit its
 * guard page.
 *
 * A signal handler may not symbolize (libdw locks and allocates; the
 * signal may have interrupted malloc), so it only records what it needs
 * and leaves the printing to sysmon, which looks every tick (10 ms):
 *  - SIGQUIT sets sigquit_pending; sysmon prints "SIGQUIT: quit", every
 *    goroutine, and exits with status 2, as Go does. The handler returns at
 *    once, so the interrupted thread goes on until then.
 *  - A stack overflow (stack.c's fault handler, on the signal stack)
 *    captures the goroutine's trace from the signal's context (signal-safe,
 *    unwind.c), posts it in crash_request and waits on a futex while sysmon
 *    prints it symbolized. If sysmon has not taken the request within 2
 *    seconds (sysmon itself stuck, say, on a lock the faulting thread
 *    holds), the handler withdraws it and prints raw frames — module and
 *    offset, for addr2line — itself; if sysmon took it but has not finished
 *    2 seconds later, the handler prints the raw frames after it.
 *
 * Invariants: one crash report at a time (crash_claim); crash_request.state
 * goes IDLE -> POSTED (handler) -> TAKEN (sysmon, by CAS) -> DONE, or
 * POSTED -> WITHDRAWN (handler, by CAS): exactly one side prints, except
 * when sysmon stalls mid-report.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "debug.h"

#include "../prim/env.h"

enum { REQ_IDLE, REQ_POSTED, REQ_TAKEN, REQ_DONE, REQ_WITHDRAWN };

#define CRASH_WAIT (2 * GOC_SECOND)

static struct {
	uint32_t state; /* atomic; see above */
	int fd;
	goc__g *g;
	goc__stacktrace trace;
} crash_request;

static uint32_t crash_claim;     /* atomic: a crash report is being made */
static uint32_t sigquit_pending; /* atomic */

void goc__dump_g_from_signal(int fd, goc__g *g, const void *ucontext)
{
	goc__stacktrace t;
	uintptr_t lo = (uintptr_t)g->stack_lo;
	goc__unwind_signal(ucontext, lo, lo + g->stack_size, &t);
	goc__buf b = {.fd = fd};
	if (goc__xchg_acqrel(&crash_claim, 1)) {
		/* Another crash is being reported: do not wait behind it. */
		goc__dump_g_trace(&b, g, goc__prim_nanotime(), &t, false);
		return;
	}
	crash_request.fd = fd;
	crash_request.g = g;
	crash_request.trace = t;
	goc__store_release(&crash_request.state, REQ_POSTED);
	int64_t deadline = goc__prim_nanotime() + CRASH_WAIT;
	uint32_t st;
	bool taken = false;
	while ((st = goc__load_acquire(&crash_request.state)) != REQ_DONE) {
		if (goc__prim_nanotime() >= deadline) {
			uint32_t posted = REQ_POSTED;
			if (taken || goc__cas_acqrel(&crash_request.state, &posted, REQ_WITHDRAWN))
				break;
			/* sysmon is printing it: give it as long again, once. */
			taken = true;
			deadline = goc__prim_nanotime() + CRASH_WAIT;
		}
		goc__prim_futex_wait(&crash_request.state, st, deadline);
	}
	if (st != REQ_DONE) {
		if (taken)
			goc__buf_str(&b, "(the symbolized report did not finish; raw frames:)\n");
		goc__dump_g_trace(&b, g, goc__prim_nanotime(), &t, false);
	}
}

static void crash_request_poll(void)
{
	uint32_t posted = REQ_POSTED;
	if (goc__load_acquire(&crash_request.state) != REQ_POSTED ||
	    !goc__cas_acqrel(&crash_request.state, &posted, REQ_TAKEN))
		return;
	goc__buf b = {.fd = crash_request.fd};
	goc__dump_g_trace(&b, crash_request.g, goc__prim_nanotime(), &crash_request.trace, true);
	goc__store_release(&crash_request.state, REQ_DONE);
	goc__prim_futex_wake(&crash_request.state, 1);
}

/* ---- SIGQUIT ---- */

static goc__lock sigquit_lock = GOC_LOCK_INIT;
static bool sigquit_on;                /* sigquit_lock */
static struct sigaction sigquit_found; /* what goc replaced; sigquit_lock */

static void on_sigquit(int sig)
{
	(void)sig;
	goc__store_release(&sigquit_pending, 1);
}

/* sigquit_lock held. */
static void sigquit_set_locked(bool on)
{
	if (on == sigquit_on)
		return;
	if (on) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sigquit;
		sa.sa_flags = SA_RESTART | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGQUIT, &sa, &sigquit_found);
	} else {
		sigaction(SIGQUIT, &sigquit_found, NULL);
	}
	sigquit_on = on;
}

bool goc_sigquit_dump(bool on)
{
	goc__runtime_init();
	goc__lock_acquire(&sigquit_lock);
	bool was = sigquit_on;
	sigquit_set_locked(on);
	goc__lock_release(&sigquit_lock);
	return was;
}

void goc__sigquit_init(void)
{
	if (!goc__gocdebug_long("sigquit", 1, 0, 1))
		return;
	/* A program that handles SIGQUIT itself keeps its handler. One that
	 * inherited SIGQUIT ignored (started with `prog &` from a shell script)
	 * gets the dump anyway, as Go installs its handler over SIG_IGN for
	 * every signal but SIGHUP and SIGINT. */
	struct sigaction now;
	if (sigaction(SIGQUIT, NULL, &now) != 0)
		return;
	bool has_handler = (now.sa_flags & SA_SIGINFO) != 0 ||
		(now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN);
	if (has_handler)
		return;
	goc__lock_acquire(&sigquit_lock);
	sigquit_set_locked(true);
	goc__lock_release(&sigquit_lock);
}

void goc__signal_reports_poll(void)
{
	crash_request_poll();
	if (goc__load_acquire(&sigquit_pending)) {
		goc__buf b = {.fd = 2};
		goc__buf_str(&b, "SIGQUIT: quit\n\n");
		goc__dump_all_to(&b);
		_exit(2);
	}
}
