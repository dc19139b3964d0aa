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
 *  - the caller's own: walked from the caller's frame (goc_unwind_here);
 *  - one that is not running (parked, queued after having run): walked from
 *    its saved context (goc_unwind_saved);
 *  - one that has never run: its function, as the one frame;
 *  - one running on another M: none ("[running]", as Go prints it).
 * A goroutine resumed while its stack is walked gives a wrong trace, never
 * a fault: the walk reads only its stack slot (unwind.c).
 *
 * All goroutines are found by walking the descriptor regions (gpool.c).
 * Output goes through goc_buf (print.c), without malloc, except what the
 * symbolizer (symbolize.c) does; a signal handler prints raw frames
 * (goc_dump_g_trace with symbolize = false) or has sysmon print for it.
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
static uint32_t long_run_in_progress(const goc_g *g)
{
	int32_t n = __atomic_load_n(&goc_sched.nprocs_made, __ATOMIC_ACQUIRE);
	for (int32_t i = 0; i < n; i++) {
		goc_p *p = goc_sched.allp[i];
		if (__atomic_load_n(&p->curg, __ATOMIC_RELAXED) == g)
			return __atomic_load_n(&p->long_run_ms, __ATOMIC_RELAXED);
	}
	return 0;
}

GOC_RACY_READER static void g_view_take(const goc_g *g, struct g_view *v)
{
	v->id = g->id;
	v->parent_id = g->parent_id;
	v->state = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);
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
			return goc_wait_reason_string(WAIT_SYSCALL);
		return "running";
	case G_WAITING:
		return goc_wait_reason_string((goc_wait_reason)v->wait_reason);
	case G_DEAD:
		return "dead";
	default:
		return "idle";
	}
}

static void print_header(goc_buf *b, const struct g_view *v, int64_t now)
{
	goc_buf_str(b, "goroutine ");
	goc_buf_int(b, v->id);
	goc_buf_str(b, " [");
	goc_buf_str(b, state_word(v));
	bool in_syscall = v->state == G_RUNNING && v->wait_reason == WAIT_SYSCALL;
	if ((v->state == G_WAITING || in_syscall) && v->wait_since) {
		int64_t secs = (now - v->wait_since) / GOC_SECOND;
		if (secs < 0)
			secs = 0;
		goc_buf_str(b, ", ");
		if (secs >= 60) {
			goc_buf_int(b, secs / 60);
			goc_buf_str(b, secs / 60 == 1 ? " minute" : " minutes");
		} else {
			goc_buf_int(b, secs);
			goc_buf_str(b, secs == 1 ? " second" : " seconds");
		}
	}
	if (v->running_long_ms) {
		goc_buf_str(b, ", ");
		goc_buf_int(b, v->running_long_ms);
		goc_buf_str(b, " ms without a scheduling point");
	}
	goc_buf_str(b, "]:\n");
	if (v->long_runs) {
		goc_buf_str(b, "\tran over 10 ms without a scheduling point ");
		goc_buf_int(b, v->long_runs);
		goc_buf_str(b, v->long_runs == 1 ? " time, the last for " : " times, the last for ");
		goc_buf_int(b, v->long_run_ms);
		goc_buf_str(b, " ms\n");
	}
	if (v->name[0]) {
		goc_buf_str(b, "\tname \"");
		goc_buf_str(b, v->name);
		goc_buf_str(b, "\"\n");
	}
}

static void print_frame(goc_buf *b, uintptr_t pc, bool exact, bool symbolize)
{
	if (symbolize)
		goc_symbolize_func(b, pc, exact);
	else
		goc_buf_str(b, "?");
	goc_buf_str(b, "(...)\n\t");
	if (symbolize)
		goc_symbolize_location(b, pc, exact);
	else
		goc_raw_location(b, pc);
	goc_buf_str(b, "\n");
}

static void print_trace(goc_buf *b, const goc_trace *t, bool symbolize)
{
	for (int i = 0; i < t->n; i++)
		print_frame(b, t->pcs[i], i == 0 && t->first_exact, symbolize);
	if (t->truncated)
		goc_buf_str(b, "...additional frames elided...\n");
}

static void print_creation(goc_buf *b, const struct g_view *v, bool symbolize)
{
	if (v->flags & G_FLAG_MAIN)
		goc_buf_str(b, "main goroutine, started by goc_main from ");
	else
		goc_buf_str(b, "created by ");
	if (symbolize)
		goc_symbolize_func(b, v->create_pc, false);
	else
		goc_buf_str(b, "?");
	if (!(v->flags & G_FLAG_MAIN)) {
		if (v->parent_id) {
			goc_buf_str(b, " in goroutine ");
			goc_buf_int(b, v->parent_id);
		} else {
			goc_buf_str(b, " on a thread that is not a goroutine");
		}
	}
	goc_buf_str(b, "\n\t");
	if (symbolize)
		goc_symbolize_location(b, v->create_pc, false);
	else
		goc_raw_location(b, v->create_pc);
	goc_buf_str(b, "\n");
}

static void print_view(goc_buf *b, const struct g_view *v, int64_t now, const goc_trace *t,
		       bool symbolize)
{
	print_header(b, v, now);
	if (t) {
		print_trace(b, t, symbolize);
	} else if (!v->sp && v->state == G_RUNNABLE && v->fn) {
		print_frame(b, v->fn, true, symbolize);
	} else if (v->state == G_RUNNING) {
		goc_buf_str(b, "\tgoroutine running on other thread; stack unavailable\n");
	}
	print_creation(b, v, symbolize);
	goc_buf_str(b, "\n");
	goc_buf_flush(b);
}

void goc_dump_g_trace(goc_buf *b, goc_g *g, int64_t now, const goc_trace *t, bool symbolize)
{
	struct g_view v;
	g_view_take(g, &v);
	print_view(b, &v, now, t, symbolize);
}

/* The calling goroutine, or NULL on g0 or a plain thread. */
static goc_g *self_g(void)
{
	goc_m *m = goc_m_self();
	return m ? m->curg : NULL;
}

/* The stack of a goroutine other than the caller, as a dump shows it:
 * the saved one when it is not running, its function alone when it has
 * never run; false (none) when it runs on another M. */
static bool view_trace(const struct g_view *v, goc_trace *t)
{
	if (v->state != G_RUNNING && v->sp) {
		goc_unwind_saved(v->sp, v->stack_lo, v->stack_hi, t);
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
static void dump_one(goc_buf *b, goc_g *g, int64_t now, const goc_trace *self_trace)
{
	struct g_view v;
	g_view_take(g, &v);
	if (g == self_g()) {
		print_view(b, &v, now, self_trace, true);
		return;
	}
	goc_trace t;
	print_view(b, &v, now, view_trace(&v, &t) ? &t : NULL, true);
}

void goc_g_summarize(goc_g *g, goc_g_summary *s)
{
	struct g_view v;
	g_view_take(g, &v);
	s->id = v.id;
	s->state = state_word(&v);
	memcpy(s->name, v.name, sizeof s->name);
	if (!view_trace(&v, &s->trace)) {
		s->trace.n = 0;
		s->trace.truncated = false;
		s->trace.first_exact = false;
	}
}

__attribute__((noinline)) bool goc_unwind_self(int skip, goc_trace *t)
{
	goc_g *g = self_g();
	if (!g || !g->stack_lo)
		return false;
	uintptr_t lo = (uintptr_t)g->stack_lo;
	goc_unwind_here(skip + 1, lo, lo + g->stack_size, t);
	return true;
}

void goc_dump_g_to(goc_buf *b, goc_g *g, int64_t now)
{
	goc_trace t;
	dump_one(b, g, now, goc_unwind_self(1, &t) ? &t : NULL);
}

struct dump_all {
	goc_buf *b;
	int64_t now;
	goc_g *self;
};

static void dump_other(goc_g *g, void *arg)
{
	struct dump_all *d = arg;
	if (g != d->self)
		dump_one(d->b, g, d->now, NULL);
}

/* Prints every goroutine, the caller first with self_trace. */
static void dump_all(goc_buf *b, const goc_trace *self_trace)
{
	struct dump_all d = {.b = b, .now = prim_nanotime(), .self = self_g()};
	if (d.self)
		dump_one(b, d.self, d.now, self_trace);
	goc_g_for_each(dump_other, &d);
}

__attribute__((noinline)) void goc_dump_all_to(goc_buf *b)
{
	goc_trace t;
	dump_all(b, goc_unwind_self(1, &t) ? &t : NULL);
}

__attribute__((noinline)) void goc_dump_g(int fd, goc_g *g, int64_t now)
{
	goc_buf b = {.fd = fd};
	goc_trace t;
	dump_one(&b, g, now, goc_unwind_self(1, &t) ? &t : NULL);
}

__attribute__((noinline)) void goc_dump_all(int fd)
{
	goc_buf b = {.fd = fd};
	goc_trace t;
	dump_all(&b, goc_unwind_self(1, &t) ? &t : NULL);
}

__attribute__((noinline)) void goc_dump(FILE *f)
{
	goc_runtime_init();
	goc_buf b = {.fd = -1, .file = f};
	goc_trace t;
	dump_all(&b, goc_unwind_self(1, &t) ? &t : NULL);
	fflush(f);
}
