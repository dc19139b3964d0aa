/*
 * dump.c — printing goroutines: one (panics, stack overflows), all (goc_dump,
 * SIGQUIT, fatal errors such as the deadlock report) or some (leak checks,
 * blockwarn), in Go's format:
 *
 *   goroutine 17 [chan receive, 3 minutes]:
 *   	name "worker"
 *   goc_chan_recv(...)
 *   	/src/goc/src/chan/chan.c:412 +0x8c
 *   worker(...)
 *   	/src/app/main.c:42 +0x1c
 *   created by spawn_workers in goroutine 1
 *   	/src/app/main.c:57 +0x3d
 *
 * Which stack a goroutine shows (nothing is stopped to take it, as in Go):
 *  - the caller's own: walked from the caller's frame (goc__unwind_here);
 *  - one that is not running (parked, queued after having run): walked from
 *    its saved context (goc__unwind_saved);
 *  - one that has never run: its function, as the one frame;
 *  - one running on another M: none ("[running]", as Go prints it).
 * A goroutine resumed while its stack is walked gives a wrong trace, never
 * a fault: the walk reads only its stack slot (unwind.c).
 *
 * All goroutines are found by walking the descriptor regions (gpool.c).
 * Output goes through goc__buf (print.c), without malloc, except what the
 * symbolizer (symbolize.c) does; a signal handler prints raw frames
 * (goc__dump_g_trace with symbolize = false) or has sysmon print for it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "debug.h"

/* What is printed of a goroutine, copied at once from a descriptor that
 * other threads may be changing. */
struct g_view {
	int64_t id, parent_id;
	uint32_t state;
	uint8_t wait_reason, flags;
	int64_t wait_since;
	uint16_t long_runs, long_run_ms; /* finished stretches without a scheduling point */
	uint32_t running_long_ms;        /* the stretch in progress, 0 if none */
	const void *sp;
	uintptr_t stack_lo, stack_hi;
	uintptr_t fn, create_pc;
	char name[32];
};

/* How long g has been running without a scheduling point, as sysmon
 * last published it on g's P (retake.c); 0 if it has not been flagged. */
static uint32_t long_run_in_progress(const goc__g *g)
{
	int32_t n = goc__load_acquire(&goc__sched.nprocs_made);
	for (int32_t i = 0; i < n; i++) {
		goc__p *p = goc__sched.allp[i];
		if (goc__load_relaxed(&p->curg) == g)
			return goc__load_relaxed(&p->long_run_ms);
	}
	return 0;
}

GOC_RACY_READER static void g_view_take(const goc__g *g, struct g_view *v)
{
	v->id = g->id;
	v->parent_id = g->parent_id;
	v->state = goc__load_acquire(&g->state);
	v->wait_reason = g->wait_reason;
	v->flags = g->flags;
	v->wait_since = g->wait_since;
	v->long_runs = g->long_runs;
	v->long_run_ms = g->long_run_ms;
	v->running_long_ms = v->state == G_RUNNING ? long_run_in_progress(g) : 0;
	v->sp = g->sp;
	v->stack_lo = (uintptr_t)g->stack_lo;
	v->stack_hi = v->stack_lo ? v->stack_lo + g->stack_size : 0;
	v->fn = (uintptr_t)g->fn;
	v->create_pc = (uintptr_t)g->create_pc;
	for (size_t i = 0; i < sizeof v->name; i++)
		v->name[i] = g->name[i];
	v->name[sizeof v->name - 1] = 0;
}

static const char *state_word(const struct g_view *v)
{
	switch (v->state) {
	case G_RUNNABLE:
		return "runnable";
	case G_RUNNING:
		/* Inside a syscall section (syscall.c) it runs, blocked in C. */
		if (v->wait_reason == WAIT_SYSCALL)
			return goc__wait_reason_string(WAIT_SYSCALL);
		return "running";
	case G_WAITING:
		return goc__wait_reason_string((goc__wait_reason)v->wait_reason);
	case G_DEAD:
		return "dead";
	default:
		return "idle";
	}
}

static void print_header(goc__buf *b, const struct g_view *v, int64_t now)
{
	goc__buf_str(b, "goroutine ");
	goc__buf_int(b, v->id);
	goc__buf_str(b, " [");
	goc__buf_str(b, state_word(v));
	bool in_syscall = v->state == G_RUNNING && v->wait_reason == WAIT_SYSCALL;
	if ((v->state == G_WAITING || in_syscall) && v->wait_since) {
		int64_t secs = (now - v->wait_since) / GOC_SECOND;
		if (secs < 0)
			secs = 0;
		goc__buf_str(b, ", ");
		if (secs >= 60) {
			goc__buf_int(b, secs / 60);
			goc__buf_str(b, secs / 60 == 1 ? " minute" : " minutes");
		} else {
			goc__buf_int(b, secs);
			goc__buf_str(b, secs == 1 ? " second" : " seconds");
		}
	}
	if (v->running_long_ms) {
		goc__buf_str(b, ", ");
		goc__buf_int(b, v->running_long_ms);
		goc__buf_str(b, " ms without a scheduling point");
	}
	goc__buf_str(b, "]:\n");
	if (v->long_runs) {
		goc__buf_str(b, "\tran over 10 ms without a scheduling point ");
		goc__buf_int(b, v->long_runs);
		goc__buf_str(b,
			     v->long_runs == 1 ? " time, the last for " : " times, the last for ");
		goc__buf_int(b, v->long_run_ms);
		goc__buf_str(b, " ms\n");
	}
	if (v->name[0]) {
		goc__buf_str(b, "\tname \"");
		goc__buf_str(b, v->name);
		goc__buf_str(b, "\"\n");
	}
}

static void print_frame(goc__buf *b, uintptr_t pc, bool exact, bool symbolize)
{
	if (symbolize)
		goc__symbolize_func(b, pc, exact);
	else
		goc__buf_str(b, "?");
	goc__buf_str(b, "(...)\n\t");
	if (symbolize)
		goc__symbolize_location(b, pc, exact);
	else
		goc__raw_location(b, pc);
	goc__buf_str(b, "\n");
}

static void print_trace(goc__buf *b, const goc__stacktrace *t, bool symbolize)
{
	for (int i = 0; i < t->n; i++)
		print_frame(b, t->pcs[i], i == 0 && t->first_exact, symbolize);
	if (t->truncated)
		goc__buf_str(b, "...additional frames elided...\n");
}

static void print_creation(goc__buf *b, const struct g_view *v, bool symbolize)
{
	if (v->flags & G_FLAG_MAIN)
		goc__buf_str(b, "main goroutine, started by goc_main from ");
	else
		goc__buf_str(b, "created by ");
	if (symbolize)
		goc__symbolize_func(b, v->create_pc, false);
	else
		goc__buf_str(b, "?");
	if (!(v->flags & G_FLAG_MAIN)) {
		if (v->parent_id) {
			goc__buf_str(b, " in goroutine ");
			goc__buf_int(b, v->parent_id);
		} else {
			goc__buf_str(b, " on a thread that is not a goroutine");
		}
	}
	goc__buf_str(b, "\n\t");
	if (symbolize)
		goc__symbolize_location(b, v->create_pc, false);
	else
		goc__raw_location(b, v->create_pc);
	goc__buf_str(b, "\n");
}

/*
 * A goroutine whose function ended in a tail call into a blocking call
 * (`return goc_chan_recv(c, &v);`, or any last call at -O2) has no frame of
 * its own: the callee returns straight into the runtime's entry, which the
 * walk drops, so the trace would end in goc_chan_recv. Go always shows the
 * function a goroutine started in, so the trace gets it back as its
 * outermost frame when that frame lies in another function. Entries other
 * than an exact first one are return addresses, looked up at pc - 1: the
 * function's entry is stored one past it. Needs the symbolizer (not in a
 * signal handler). A goroutine profile of many goroutines parked at the
 * same place asks the same question for each: the answers are remembered
 * in a small direct-mapped table.
 */
static goc__lock start_seen_lock = GOC_LOCK_INIT;
static struct start_seen {
	uintptr_t pc, fn; /* the outermost frame and the start function asked about */
	bool exact;
	bool missing; /* the answer: pc is not in fn */
} start_seen[64];     /* start_seen_lock */

static void start_frame_restore(const struct g_view *v, goc__stacktrace *t)
{
	if (!v->fn || t->n == 0 || t->truncated || t->n == GOC_TRACE_MAX)
		return;
	int last = t->n - 1;
	bool exact = last == 0 && t->first_exact;
	uintptr_t pc = t->pcs[last];
	struct start_seen *seen =
		&start_seen[((pc >> 2) ^ (v->fn >> 4)) % (sizeof start_seen / sizeof *start_seen)];
	goc__lock_acquire(&start_seen_lock);
	bool known = seen->pc == pc && seen->fn == v->fn && seen->exact == exact;
	bool missing = seen->missing;
	goc__lock_release(&start_seen_lock);
	if (!known) {
		goc__frame_symbol s;
		missing = goc__symbolize_frame(pc, exact, &s) && s.pc - s.func_offset != v->fn;
		goc__lock_acquire(&start_seen_lock);
		*seen = (struct start_seen){
			.pc = pc, .fn = v->fn, .exact = exact, .missing = missing};
		goc__lock_release(&start_seen_lock);
	}
	if (missing)
		t->pcs[t->n++] = v->fn + 1;
}

static void print_view(goc__buf *b, const struct g_view *v, int64_t now, const goc__stacktrace *t,
		       bool symbolize)
{
	print_header(b, v, now);
	if (t && symbolize) {
		goc__stacktrace whole = *t;
		start_frame_restore(v, &whole);
		print_trace(b, &whole, symbolize);
	} else if (t) {
		print_trace(b, t, symbolize);
	} else if (!v->sp && v->state == G_RUNNABLE && v->fn) {
		print_frame(b, v->fn, true, symbolize);
	} else if (v->state == G_RUNNING) {
		goc__buf_str(b, "\tgoroutine running on other thread; stack unavailable\n");
	}
	print_creation(b, v, symbolize);
	goc__buf_str(b, "\n");
	goc__buf_flush(b);
}

void goc__dump_g_trace(goc__buf *b, goc__g *g, int64_t now, const goc__stacktrace *t,
		       bool symbolize)
{
	struct g_view v;
	g_view_take(g, &v);
	print_view(b, &v, now, t, symbolize);
}

/* The calling goroutine, or NULL on g0 or a plain thread. */
static goc__g *self_g(void)
{
	goc__m *m = goc__m_self();
	return m ? m->curg : NULL;
}

/* The stack of a goroutine other than the caller, as a dump shows it:
 * the saved one when it is not running, its function alone when it has
 * never run; false (none) when it runs on another M. */
static bool view_trace(const struct g_view *v, goc__stacktrace *t)
{
	if (v->state != G_RUNNING && v->sp) {
		goc__unwind_saved(v->sp, v->stack_lo, v->stack_hi, t);
		return true;
	}
	if (!v->sp && v->state == G_RUNNABLE && v->fn) {
		t->n = 1;
		t->truncated = false;
		t->first_exact = true;
		t->pcs[0] = v->fn;
		return true;
	}
	return false;
}

/* Prints g; self_trace is the caller's own stack when g is the caller. */
static void dump_one(goc__buf *b, goc__g *g, int64_t now, const goc__stacktrace *self_trace)
{
	struct g_view v;
	g_view_take(g, &v);
	if (g == self_g()) {
		print_view(b, &v, now, self_trace, true);
		return;
	}
	goc__stacktrace t;
	print_view(b, &v, now, view_trace(&v, &t) ? &t : NULL, true);
}

void goc__g_summarize(goc__g *g, goc__g_summary *s)
{
	struct g_view v;
	g_view_take(g, &v);
	s->id = v.id;
	s->state = state_word(&v);
	memcpy(s->name, v.name, sizeof s->name);
	if (view_trace(&v, &s->trace)) {
		start_frame_restore(&v, &s->trace);
	} else {
		s->trace.n = 0;
		s->trace.truncated = false;
		s->trace.first_exact = false;
	}
}

__attribute__((noinline)) bool goc__unwind_self(int skip, goc__stacktrace *t)
{
	goc__g *g = self_g();
	if (!g || !g->stack_lo)
		return false;
	uintptr_t lo = (uintptr_t)g->stack_lo;
	goc__unwind_here(skip + 1, lo, lo + g->stack_size, t);
	return true;
}

void goc__dump_g_to(goc__buf *b, goc__g *g, int64_t now)
{
	goc__stacktrace t;
	dump_one(b, g, now, goc__unwind_self(1, &t) ? &t : NULL);
}

struct dump_all {
	goc__buf *b;
	int64_t now;
	goc__g *self;
};

static void dump_other(goc__g *g, void *arg)
{
	struct dump_all *d = arg;
	if (g != d->self)
		dump_one(d->b, g, d->now, NULL);
}

/* Prints every goroutine, the caller first with self_trace. */
static void dump_all(goc__buf *b, const goc__stacktrace *self_trace)
{
	struct dump_all d = {.b = b, .now = goc__prim_nanotime(), .self = self_g()};
	if (d.self)
		dump_one(b, d.self, d.now, self_trace);
	goc__g_for_each(dump_other, &d);
}

__attribute__((noinline)) void goc__dump_all_to(goc__buf *b)
{
	goc__stacktrace t;
	dump_all(b, goc__unwind_self(1, &t) ? &t : NULL);
}

__attribute__((noinline)) void goc__dump_g(int fd, goc__g *g, int64_t now)
{
	goc__buf b = {.fd = fd};
	goc__stacktrace t;
	dump_one(&b, g, now, goc__unwind_self(1, &t) ? &t : NULL);
}

__attribute__((noinline)) void goc__dump_all(int fd)
{
	goc__buf b = {.fd = fd};
	goc__stacktrace t;
	dump_all(&b, goc__unwind_self(1, &t) ? &t : NULL);
}

__attribute__((noinline)) void goc_dump(FILE *f)
{
	goc__runtime_init();
	goc__buf b = {.fd = -1, .file = f};
	goc__stacktrace t;
	dump_all(&b, goc__unwind_self(1, &t) ? &t : NULL);
	fflush(f);
}
