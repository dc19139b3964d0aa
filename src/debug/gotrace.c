/*
 * gotrace.c — the execution trace in Go's own binary format, the one Go
 * 1.19's runtime/trace writes (header "go 1.19 trace"), so that
 * `go tool trace` from Debian's golang-go opens it: the timeline per P,
 * goroutine analysis, the network, synchronization, syscall and
 * scheduler-latency profiles, user tasks and regions.
 *
 * Recording. A consumer of the scheduler's hooks (trace.h, bit
 * GOC__HOOK_GOTRACE): each hook appends a record — what happened, to which
 * goroutine, on which P (-1 for a thread holding none), the clock, a
 * number from one global counter that orders all records, and the
 * caller's stack where the event has one — to a log of the calling M
 * (blocks of 64 KiB, made as needed) or, for threads that are not Ms, to a
 * shared log under a lock. Nothing is formatted while the program runs.
 *
 * Writing (goc__gotrace_stop). Go's format is strict: every P's events
 * form one stream in which each goroutine is created before it starts, a
 * goroutine blocks only while running, is unblocked only while waiting,
 * and goroutine transitions on different Ps are tied by per-goroutine
 * sequence numbers; Go's parser rejects the whole file at the first
 * inconsistency. goc does not stop the world to start a trace, so the
 * records are replayed in their global order through a model of every
 * goroutine and P, which
 *   - introduces what existed before the trace (a goroutine first seen
 *     running is created and started, one first seen unblocked is created
 *     waiting, a P first seen busy is started),
 *   - numbers the transitions as Go's parser expects them, and
 *   - drops the rare record that does not fit the model (an unblock of a
 *     goroutine that is not waiting, a region end that does not match the
 *     innermost region),
 * then writes each P's stream as one batch, the strings, the stacks
 * (symbolized now, from the first goc_ public function outwards, so that
 * profiles point at the program's code) and the clock's frequency.
 * Timestamps are made strictly increasing along the global order, so that
 * Go's merge of the streams, which takes the earliest ready event, finds
 * the same order.
 *
 * Invariants:
 *  - The write-section protocol of trace.c, with the GOC__HOOK_GOTRACE
 *    bit as the flag: an M stores writing = 1, then reads the flag and
 *    records only if it is set; goc__gotrace_stop clears the flag, then
 *    waits for every log's writing == 0 before it reads the logs.
 *  - A log is appended to only by its M (or under other_lock for the
 *    shared log), and read only by stop, after the wait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "debug.h"
#include "trace.h"

enum {
	LOG_BLOCK_SIZE = 64 * 1024,
	STACK_MAX = 32, /* frames kept per event */
	TEXT_MAX = 200, /* bytes kept of a user string */
	REGION_DEPTH = 16,
};

/* Go 1.19's event types (internal/trace). */
enum {
	EV_BATCH = 1,
	EV_FREQUENCY = 2,
	EV_STACK = 3,
	EV_PROC_START = 5,
	EV_PROC_STOP = 6,
	EV_GO_CREATE = 13,
	EV_GO_START = 14,
	EV_GO_END = 15,
	EV_GO_SCHED = 17,
	EV_GO_PREEMPT = 18,
	EV_GO_SLEEP = 19,
	EV_GO_BLOCK = 20,
	EV_GO_UNBLOCK = 21,
	EV_GO_BLOCK_SEND = 22,
	EV_GO_BLOCK_RECV = 23,
	EV_GO_BLOCK_SELECT = 24,
	EV_GO_BLOCK_SYNC = 25,
	EV_GO_BLOCK_COND = 26,
	EV_GO_BLOCK_NET = 27,
	EV_GO_SYSCALL = 28,
	EV_GO_SYS_EXIT = 29,
	EV_GO_SYS_BLOCK = 30,
	EV_GO_WAITING = 31,
	EV_STRING = 37,
	EV_USER_TASK_CREATE = 45,
	EV_USER_TASK_END = 46,
	EV_USER_REGION = 47,
	EV_USER_LOG = 48,
};

/* What a record says happened. */
enum rec_kind {
	R_START,   /* g starts running on p */
	R_STOP,    /* g's run on p ends; ev: the Go event saying how */
	R_UNBLOCK, /* g made runnable by whoever runs on p */
	R_CREATE,  /* g created by whoever runs on p */
	R_PROC_START,
	R_PROC_STOP,
	R_SYS_ENTER, /* g, running on p, enters a syscall section */
	R_SYS_EXIT,  /* g leaves it (holding no P yet) */
	R_TASK_NEW,  /* a: task, b: parent; text: name */
	R_TASK_END,  /* a: task */
	R_REGION,    /* a: task, b: 0 begin, 1 end; text: name */
	R_LOG,       /* a: task; text: category, then message */
};

/*
 * A record in a log:
 *
 *   [ struct rec | pcs[npcs] (uintptr_t) | text bytes (len1 + len2) | pad to 8 ]
 */
struct rec {
	uint64_t order; /* from trace's counter: the global order */
	int64_t ts;
	int64_t g;
	uint64_t fn; /* g's start function: its GoCreate's start stack */
	uint64_t a, b;
	int32_t p; /* the P whose stream it belongs to, -1 for none */
	uint8_t kind;
	uint8_t ev;
	uint8_t npcs;
	uint8_t pad;
	uint16_t len1, len2;
	uint32_t thread; /* R_PROC_START: the M's id */
};

struct log_block {
	struct log_block *next;
	size_t used;
	char data[LOG_BLOCK_SIZE];
};

/* A thread's log (the shared one for threads that are not Ms). */
struct goc__gotrace_log {
	uint32_t writing; /* atomic; see the invariants */
	bool is_shared;
	struct goc__gotrace_log *next; /* registry; registry_lock */
	struct log_block *head, *tail;
};

static struct {
	pthread_mutex_t registry_lock;
	pthread_mutex_t other_lock; /* shared */
	struct goc__gotrace_log *registry;
	struct goc__gotrace_log shared;
	uint64_t order; /* atomic: the last record's number */
	int64_t start_ns;
	bool lost;       /* atomic: a record was dropped for want of memory */
	bool registered; /* shared is in the registry */
} gt = {
	.registry_lock = PTHREAD_MUTEX_INITIALIZER,
	.other_lock = PTHREAD_MUTEX_INITIALIZER,
	.shared = {.is_shared = true},
};

/* ---- recording ---- */

static struct goc__gotrace_log *log_of(goc__m *m)
{
	struct goc__gotrace_log *l = m->gotrace;
	if (l)
		return l;
	l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	pthread_mutex_lock(&gt.registry_lock);
	l->next = gt.registry;
	gt.registry = l;
	pthread_mutex_unlock(&gt.registry_lock);
	return m->gotrace = l;
}

/* Enters a write section (trace.c's protocol) for the calling thread;
 * NULL if no Go trace is being taken. */
static struct goc__gotrace_log *section_enter(goc__m *m)
{
	if (!(goc__load_relaxed(&goc__trace_on) & GOC__HOOK_GOTRACE))
		return NULL;
	if (!m) {
		pthread_mutex_lock(&gt.other_lock);
		if (goc__load_seqcst(&goc__trace_on) & GOC__HOOK_GOTRACE)
			return &gt.shared;
		pthread_mutex_unlock(&gt.other_lock);
		return NULL;
	}
	struct goc__gotrace_log *l = log_of(m);
	if (!l) {
		goc__store_relaxed(&gt.lost, true);
		return NULL;
	}
	goc__store_seqcst(&l->writing, 1);
	if (!(goc__load_seqcst(&goc__trace_on) & GOC__HOOK_GOTRACE)) {
		goc__store_release(&l->writing, 0);
		return NULL;
	}
	return l;
}

static void section_leave(struct goc__gotrace_log *l)
{
	if (l->is_shared)
		pthread_mutex_unlock(&gt.other_lock);
	else
		goc__store_release(&l->writing, 0);
}

/* Room for size bytes at the end of l, or NULL. */
static void *log_reserve(struct goc__gotrace_log *l, size_t size)
{
	struct log_block *b = l->tail;
	if (!b || LOG_BLOCK_SIZE - b->used < size) {
		b = malloc(sizeof *b);
		if (!b) {
			goc__store_relaxed(&gt.lost, true);
			return NULL;
		}
		b->next = NULL;
		b->used = 0;
		if (l->tail)
			l->tail->next = b;
		else
			l->head = b;
		l->tail = b;
	}
	void *at = b->data + b->used;
	b->used += size;
	return at;
}

/* Records an event of the calling thread. stack: capture the running
 * goroutine's stack; text1/text2: user strings (may be NULL). */
static void record(enum rec_kind kind, int ev, goc__g *g, goc__p *p, uint64_t a, uint64_t b,
		   bool stack, const char *text1, const char *text2)
{
	goc__m *m = goc__m_self();
	struct goc__gotrace_log *l = section_enter(m);
	if (!l)
		return;
	goc__stacktrace t;
	int npcs = 0;
	if (stack && goc__unwind_self(2, &t))
		npcs = t.n < STACK_MAX ? t.n : STACK_MAX;
	size_t len1 = text1 ? strnlen(text1, TEXT_MAX) : 0;
	size_t len2 = text2 ? strnlen(text2, TEXT_MAX) : 0;
	size_t size = (sizeof(struct rec) + (size_t)npcs * sizeof(uintptr_t) + len1 + len2 + 7) &
		~(size_t)7;
	struct rec *r = log_reserve(l, size);
	if (r) {
		r->order = goc__add_fetch_relaxed(&gt.order, 1);
		r->ts = goc__prim_nanotime();
		r->g = g ? g->id : 0;
		r->fn = g ? (uint64_t)(uintptr_t)g->fn : 0;
		r->a = a;
		r->b = b;
		r->p = p ? p->id : -1;
		r->kind = (uint8_t)kind;
		r->ev = (uint8_t)ev;
		r->npcs = (uint8_t)npcs;
		r->len1 = (uint16_t)len1;
		r->len2 = (uint16_t)len2;
		r->thread = m ? (uint32_t)m->id : 0;
		uintptr_t *pcs = (uintptr_t *)(r + 1);
		if (npcs)
			memcpy(pcs, t.pcs, (size_t)npcs * sizeof *pcs);
		char *text = (char *)(pcs + npcs);
		if (len1)
			memcpy(text, text1, len1);
		if (len2)
			memcpy(text + len1, text2, len2);
	}
	section_leave(l);
}

/* The Go event that ends a run for a goroutine parked with reason r. */
static int block_event(uint8_t r)
{
	switch (r) {
	case WAIT_SLEEP:
		return EV_GO_SLEEP;
	case WAIT_CHAN_SEND:
		return EV_GO_BLOCK_SEND;
	case WAIT_CHAN_RECV:
		return EV_GO_BLOCK_RECV;
	case WAIT_SELECT:
		return EV_GO_BLOCK_SELECT;
	case WAIT_WAITGROUP:
	case WAIT_MUTEX:
	case WAIT_RWMUTEX_R:
	case WAIT_RWMUTEX_W:
	case WAIT_SEMACQUIRE:
		return EV_GO_BLOCK_SYNC;
	case WAIT_COND:
		return EV_GO_BLOCK_COND;
	case WAIT_IO:
		return EV_GO_BLOCK_NET;
	default:
		return EV_GO_BLOCK;
	}
}

void goc__gotrace_switch(goc__m *m, goc__g *from, goc__g *to)
{
	if (!(from->flags & G_FLAG_G0)) {
		uint32_t state = goc__load_relaxed(&from->state);
		int ev = state == G_WAITING ? block_event(from->wait_reason)
			: state == G_DEAD   ? EV_GO_END
					    : EV_GO_SCHED;
		record(R_STOP, ev, from, m->p, 0, 0, ev != EV_GO_END, NULL, NULL);
	}
	if (!(to->flags & G_FLAG_G0))
		record(R_START, 0, to, m->p, 0, 0, false, NULL, NULL);
}

static goc__p *current_p(void)
{
	goc__m *m = goc__m_self();
	return m ? m->p : NULL;
}

/* The goroutine an annotation belongs to: Go's format puts it on the
 * goroutine running on the P. NULL on a plain thread. */
static goc__g *current_g(void)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	return g && !(g->flags & G_FLAG_G0) ? g : NULL;
}

void goc__gotrace_unblock(goc__g *g)
{
	record(R_UNBLOCK, 0, g, current_p(), 0, 0, true, NULL, NULL);
}

void goc__gotrace_create(goc__g *g)
{
	record(R_CREATE, 0, g, current_p(), 0, 0, true, NULL, NULL);
}

void goc__gotrace_proc(goc__p *p, bool start)
{
	record(start ? R_PROC_START : R_PROC_STOP, 0, NULL, p, 0, 0, false, NULL, NULL);
}

void goc__gotrace_syscall_enter(goc__m *m)
{
	record(R_SYS_ENTER, 0, m->curg, m->p, 0, 0, true, NULL, NULL);
}

void goc__gotrace_syscall_exit(goc__m *m)
{
	record(R_SYS_EXIT, 0, m->curg, NULL, 0, 0, false, NULL, NULL);
}

void goc__gotrace_preempt(goc__m *m)
{
	record(R_STOP, EV_GO_PREEMPT, m->curg, m->p, 0, 0, true, NULL, NULL);
}

void goc__gotrace_syscall_resume(goc__m *m)
{
	record(R_START, 0, m->curg, m->p, 0, 0, false, NULL, NULL);
}

void goc__gotrace_task(uint64_t id, uint64_t parent, const char *name, bool end)
{
	record(end ? R_TASK_END : R_TASK_NEW, 0, current_g(), current_p(), id, parent, true, name,
	       NULL);
}

void goc__gotrace_region(uint64_t task, const char *name, bool end)
{
	record(R_REGION, 0, current_g(), current_p(), task, end, true, name, NULL);
}

void goc__gotrace_log(uint64_t task, const char *category, const char *message)
{
	record(R_LOG, 0, current_g(), current_p(), task, 0, true, category, message);
}

/* ---- start ---- */

void goc__gotrace_start(void)
{
	/* No section writes while the flag is clear: the logs are ours. */
	pthread_mutex_lock(&gt.registry_lock);
	if (!gt.registered) {
		gt.shared.next = gt.registry;
		gt.registry = &gt.shared;
		gt.registered = true;
	}
	pthread_mutex_unlock(&gt.registry_lock);
	gt.order = 0;
	gt.lost = false;
	gt.start_ns = goc__prim_nanotime();
	goc__fetch_or_seqcst(&goc__trace_on, GOC__HOOK_GOTRACE);
}

/* ---- growing buffers and tables for the writer ---- */

struct bytes {
	unsigned char *data;
	size_t len, cap;
	bool failed;
};

static void bytes_put(struct bytes *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n)
			cap *= 2;
		unsigned char *data = realloc(b->data, cap);
		if (!data) {
			b->failed = true;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void bytes_byte(struct bytes *b, unsigned char c)
{
	bytes_put(b, &c, 1);
}

static void bytes_uvarint(struct bytes *b, uint64_t v)
{
	unsigned char buf[10];
	size_t n = 0;
	while (v >= 0x80) {
		buf[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	buf[n++] = (unsigned char)v;
	bytes_put(b, buf, n);
}

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

/* Interned byte strings (strings and stacks) by content: id i + 1 is
 * entry i. An open-addressing index over a growing array. */
struct intern {
	struct entry {
		uint64_t hash;
		size_t len;
		void *data;
	} * entries;
	size_t n, cap;
	uint32_t *index; /* entry number + 1, 0 for free */
	size_t index_cap;
	bool failed;
};

static bool intern_grow(struct intern *t)
{
	size_t cap = t->index_cap ? 2 * t->index_cap : 1024;
	uint32_t *index = calloc(cap, sizeof *index);
	struct entry *entries = realloc(t->entries, cap / 2 * sizeof *entries);
	if (!index || !entries) {
		free(index);
		if (entries)
			t->entries = entries;
		return false;
	}
	t->entries = entries;
	for (size_t i = 0; i < t->n; i++) {
		size_t at = t->entries[i].hash & (cap - 1);
		while (index[at])
			at = (at + 1) & (cap - 1);
		index[at] = (uint32_t)i + 1;
	}
	free(t->index);
	t->index = index;
	t->index_cap = cap;
	t->cap = cap / 2;
	return true;
}

/* The id of the n bytes at p, added if new; 0 if out of memory. */
static uint64_t intern(struct intern *t, const void *p, size_t n)
{
	if (t->failed || (t->n == t->cap && !intern_grow(t))) {
		t->failed = true;
		return 0;
	}
	uint64_t h = hash_bytes(p, n);
	size_t at = h & (t->index_cap - 1);
	for (; t->index[at]; at = (at + 1) & (t->index_cap - 1)) {
		struct entry *e = &t->entries[t->index[at] - 1];
		if (e->hash == h && e->len == n && !memcmp(e->data, p, n))
			return t->index[at];
	}
	void *copy = malloc(n ? n : 1);
	if (!copy) {
		t->failed = true;
		return 0;
	}
	memcpy(copy, p, n);
	t->entries[t->n] = (struct entry){h, n, copy};
	t->index[at] = (uint32_t)++t->n;
	return t->n;
}

static void intern_free(struct intern *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->entries[i].data);
	free(t->entries);
	free(t->index);
}

/* ---- the model replayed at stop ---- */

enum { G_UNKNOWN, GS_RUNNABLE, GS_RUNNING, GS_WAITING, GS_DEAD };

struct model_g {
	int64_t id; /* 0: a free slot */
	uint8_t state;
	uint8_t depth; /* open regions */
	uint64_t seq;  /* Go's parser's sequence number for it */
	struct {
		uint64_t task, name;
	} regions[REGION_DEPTH];
	uint32_t deeper; /* regions opened past REGION_DEPTH, not written */
	uint64_t fn;     /* its start function, from the records */
};

/* A stream: the events of one P (index p + 1; 0 holds P -1). */
struct stream {
	struct bytes out;
	bool running;
	bool used;
	int64_t curg; /* goroutine running on it, 0 for none */
	int64_t first_ts, last_ts;
};

struct writer {
	struct model_g *gs;
	size_t gs_cap;       /* a power of two */
	struct model_g none; /* regions of events with no goroutine */
	struct stream streams[GOC_MAX_PROCS + 1];
	struct intern strings, stacks;
	int64_t ts; /* the last event's time, made strictly increasing */
};

static struct model_g *model_g(struct writer *w, int64_t id)
{
	if (id == 0)
		return &w->none;
	size_t at = (uint64_t)id * 0x9E3779B97F4A7C15ull & (w->gs_cap - 1);
	while (w->gs[at].id && w->gs[at].id != id)
		at = (at + 1) & (w->gs_cap - 1);
	if (!w->gs[at].id)
		w->gs[at].id = id;
	return &w->gs[at];
}

static struct stream *stream_of(struct writer *w, int32_t p)
{
	return &w->streams[p + 1];
}

/* Appends event ev with its arguments (after the timestamp, the stack id
 * included) to stream s. */
static void emit(struct writer *w, struct stream *s, int ev, const uint64_t *args, int nargs)
{
	if (!s->used) {
		s->used = true;
		s->first_ts = s->last_ts = w->ts;
	}
	struct bytes body = {0};
	bytes_uvarint(&body, (uint64_t)(w->ts - s->last_ts));
	s->last_ts = w->ts;
	for (int i = 0; i < nargs; i++)
		bytes_uvarint(&body, args[i]);
	if (body.failed) {
		s->out.failed = true;
		return;
	}
	/* Up to two arguments after the timestamp go inline; more are
	 * preceded by the length of the event's values in bytes. */
	int inline_args = nargs < 3 ? nargs : 3;
	bytes_byte(&s->out, (unsigned char)(ev | inline_args << 6));
	if (nargs >= 3)
		bytes_uvarint(&s->out, body.len);
	bytes_put(&s->out, body.data, body.len);
	free(body.data);
}

static void emit0(struct writer *w, struct stream *s, int ev)
{
	emit(w, s, ev, NULL, 0);
}

static void emit1(struct writer *w, struct stream *s, int ev, uint64_t a)
{
	emit(w, s, ev, &a, 1);
}

/* The stack id of a record's pcs (0 for none). */
static uint64_t stack_id(struct writer *w, const struct rec *r)
{
	if (!r->npcs)
		return 0;
	return intern(&w->stacks, r + 1, r->npcs * sizeof(uintptr_t));
}

static uint64_t string_id(struct writer *w, const char *s, size_t n)
{
	return n ? intern(&w->strings, s, n) : 0;
}

static void proc_ensure(struct writer *w, struct stream *s, uint32_t thread)
{
	if (!s->running) {
		emit1(w, s, EV_PROC_START, thread);
		s->running = true;
	}
}

/* Creates g on s (whose running goroutine, or none, creates it). */
/* The one-frame stack of g's start function (go tool trace's views
 * refuse a GoCreate without it). The pc is one past the function's entry:
 * stacks are symbolized as return addresses. */
static uint64_t start_stack(struct writer *w, const struct model_g *g)
{
	uintptr_t pc = (uintptr_t)(g->fn ? g->fn : (uint64_t)(uintptr_t)goc_go) + 1;
	return intern(&w->stacks, &pc, sizeof pc);
}

static void g_create(struct writer *w, struct stream *s, struct model_g *g, uint64_t stack)
{
	uint64_t args[] = {(uint64_t)g->id, start_stack(w, g), stack};
	emit(w, s, EV_GO_CREATE, args, 3);
	g->state = GS_RUNNABLE;
	g->seq = 1;
}

static void g_start(struct writer *w, struct stream *s, struct model_g *g)
{
	uint64_t args[] = {(uint64_t)g->id, g->seq++};
	emit(w, s, EV_GO_START, args, 2);
	g->state = GS_RUNNING;
	s->curg = g->id;
}

static void g_unblock(struct writer *w, struct stream *s, struct model_g *g, uint64_t stack)
{
	uint64_t args[] = {(uint64_t)g->id, g->seq++, stack};
	emit(w, s, EV_GO_UNBLOCK, args, 3);
	g->state = GS_RUNNABLE;
}

/* Makes g run on the P of s (a real P), as the next record needs:
 * introduces it if the trace has not seen it, ends the run of another
 * goroutine the model has there; false if g cannot run there. */
static bool g_run_on(struct writer *w, struct stream *s, struct model_g *g, uint32_t thread)
{
	if (s == &w->streams[0])
		return false;
	proc_ensure(w, s, thread);
	if (g->state == GS_RUNNING)
		return s->curg == g->id;
	if (s->curg) {
		struct model_g *other = model_g(w, s->curg);
		emit1(w, s, EV_GO_SCHED, 0);
		other->state = GS_RUNNABLE;
		s->curg = 0;
	}
	if (g->state == G_UNKNOWN)
		g_create(w, s, g, 0);
	else if (g->state == GS_WAITING)
		g_unblock(w, s, g, 0);
	else if (g->state == GS_DEAD)
		return false;
	g_start(w, s, g);
	return true;
}

static void replay(struct writer *w, const struct rec *r)
{
	struct stream *s = stream_of(w, r->p);
	struct model_g *g = r->g ? model_g(w, r->g) : NULL;
	if (g && !g->fn)
		g->fn = r->fn;
	const char *text = (const char *)((const uintptr_t *)(r + 1) + r->npcs);
	switch ((enum rec_kind)r->kind) {
	case R_START:
		if (g->state != GS_RUNNING || s->curg != g->id)
			g_run_on(w, s, g, r->thread);
		break;
	case R_STOP:
		if (!g_run_on(w, s, g, r->thread))
			break;
		if (r->ev == EV_GO_END)
			emit0(w, s, EV_GO_END);
		else
			emit1(w, s, r->ev, stack_id(w, r));
		g->state = r->ev == EV_GO_END                            ? GS_DEAD
			: r->ev == EV_GO_SCHED || r->ev == EV_GO_PREEMPT ? GS_RUNNABLE
									 : GS_WAITING;
		s->curg = 0;
		break;
	case R_UNBLOCK:
		if (g->state == G_UNKNOWN) {
			g_create(w, s, g, 0);
			emit1(w, s, EV_GO_WAITING, (uint64_t)g->id);
			g->state = GS_WAITING;
			g->seq = 2;
		}
		if (g->state == GS_WAITING)
			g_unblock(w, s, g, stack_id(w, r));
		break;
	case R_CREATE:
		if (g->state == G_UNKNOWN)
			g_create(w, s, g, stack_id(w, r));
		break;
	case R_PROC_START:
		if (!s->running)
			proc_ensure(w, s, r->thread);
		break;
	case R_PROC_STOP:
		proc_ensure(w, s, r->thread);
		if (s->curg) {
			model_g(w, s->curg)->state = GS_RUNNABLE;
			emit1(w, s, EV_GO_SCHED, 0);
			s->curg = 0;
		}
		emit0(w, s, EV_PROC_STOP);
		s->running = false;
		break;
	case R_SYS_ENTER:
		if (!g_run_on(w, s, g, r->thread))
			break;
		/* The P is lent out at once (goc_syscall_enter): a blocking
		 * syscall in Go's terms, whatever its length. */
		emit1(w, s, EV_GO_SYSCALL, stack_id(w, r));
		emit0(w, s, EV_GO_SYS_BLOCK);
		g->state = GS_WAITING;
		s->curg = 0;
		break;
	case R_SYS_EXIT:
		if (g->state == GS_WAITING) {
			uint64_t args[] = {(uint64_t)g->id, g->seq++, 0};
			emit(w, s, EV_GO_SYS_EXIT, args, 3);
			g->state = GS_RUNNABLE;
		}
		break;
	case R_TASK_NEW: {
		if (g && !g_run_on(w, s, g, r->thread))
			break;
		uint64_t args[] = {r->a, r->b, string_id(w, text, r->len1), stack_id(w, r)};
		emit(w, s, EV_USER_TASK_CREATE, args, 4);
		break;
	}
	case R_TASK_END: {
		if (g && !g_run_on(w, s, g, r->thread))
			break;
		uint64_t args[] = {r->a, stack_id(w, r)};
		emit(w, s, EV_USER_TASK_END, args, 2);
		break;
	}
	case R_REGION: {
		/* Go's parser refuses an end that does not match the
		 * innermost open region of its goroutine: such ends are
		 * dropped (as are regions nested too deep to follow), and so
		 * are regions of plain threads and of syscall sections, whose
		 * goroutine has no P to run on in the trace. */
		if (!g || !g_run_on(w, s, g, r->thread))
			break;
		struct model_g *owner = model_g(w, s->curg);
		uint64_t name = string_id(w, text, r->len1);
		if (r->b == 0 && owner->depth == REGION_DEPTH) {
			owner->deeper++;
			break;
		}
		if (r->b == 1 && owner->deeper) {
			owner->deeper--;
			break;
		}
		if (r->b == 1 &&
		    (owner->depth == 0 || owner->regions[owner->depth - 1].task != r->a ||
		     owner->regions[owner->depth - 1].name != name))
			break;
		if (r->b == 0) {
			owner->regions[owner->depth].task = r->a;
			owner->regions[owner->depth++].name = name;
		} else {
			owner->depth--;
		}
		uint64_t args[] = {r->a, r->b, name, stack_id(w, r)};
		emit(w, s, EV_USER_REGION, args, 4);
		break;
	}
	case R_LOG: {
		if (g && !g_run_on(w, s, g, r->thread))
			break;
		uint64_t args[] = {r->a, string_id(w, text, r->len1), stack_id(w, r)};
		emit(w, s, EV_USER_LOG, args, 3);
		bytes_uvarint(&s->out, r->len2);
		bytes_put(&s->out, text + r->len1, r->len2);
		break;
	}
	}
}

/* ---- writing ---- */

static int rec_compare(const void *a, const void *b)
{
	const struct rec *x = *(const struct rec *const *)a, *y = *(const struct rec *const *)b;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Function names from the first public goc_ call outwards, so that the
 * runtime's own frames (the hook, the switch, the park) do not head every
 * stack; the whole stack when it holds no public call. */
static size_t first_public_frame(struct writer *w, const uintptr_t *pcs, size_t n,
				 goc__frame_symbol *syms)
{
	(void)w;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(syms[i].func, "goc_", 4) && syms[i].func[4] != '_')
			return i;
	(void)pcs;
	return 0;
}

static void write_stacks(struct writer *w, struct bytes *out)
{
	goc__frame_symbol *syms = malloc(STACK_MAX * sizeof *syms);
	if (!syms) {
		out->failed = true;
		return;
	}
	for (size_t i = 0; i < w->stacks.n; i++) {
		const uintptr_t *pcs = w->stacks.entries[i].data;
		size_t n = w->stacks.entries[i].len / sizeof(uintptr_t);
		for (size_t k = 0; k < n; k++)
			if (!goc__symbolize_frame(pcs[k], false, &syms[k]))
				syms[k].func[0] = 0;
		size_t first = first_public_frame(w, pcs, n, syms);
		struct bytes body = {0};
		bytes_uvarint(&body, i + 1);
		bytes_uvarint(&body, n - first);
		for (size_t k = first; k < n; k++) {
			const char *func = syms[k].func[0] ? syms[k].func : "?";
			const char *file = syms[k].file[0] ? syms[k].file : "?";
			bytes_uvarint(&body, pcs[k]);
			bytes_uvarint(&body, string_id(w, func, strlen(func)));
			bytes_uvarint(&body, string_id(w, file, strlen(file)));
			bytes_uvarint(&body, (uint64_t)(syms[k].line > 0 ? syms[k].line : 0));
		}
		bytes_byte(out, EV_STACK | 3 << 6);
		bytes_uvarint(out, body.len);
		bytes_put(out, body.data, body.len);
		if (body.failed)
			out->failed = true;
		free(body.data);
	}
	free(syms);
}

static void write_strings(struct writer *w, struct bytes *out)
{
	for (size_t i = 0; i < w->strings.n; i++) {
		bytes_byte(out, EV_STRING);
		bytes_uvarint(out, i + 1);
		bytes_uvarint(out, w->strings.entries[i].len);
		bytes_put(out, w->strings.entries[i].data, w->strings.entries[i].len);
	}
}

/* Every record of every log, in their global order (malloc'd). */
static struct rec **collect(size_t *n)
{
	size_t count = 0, cap = 1024;
	struct rec **all = malloc(cap * sizeof *all);
	for (struct goc__gotrace_log *l = gt.registry; l && all; l = l->next) {
		for (struct log_block *b = l->head; b && all; b = b->next) {
			for (size_t at = 0; at < b->used;) {
				struct rec *r = (struct rec *)(b->data + at);
				if (count == cap) {
					struct rec **bigger = realloc(all, 2 * cap * sizeof *all);
					if (!bigger) {
						free(all);
						return NULL;
					}
					all = bigger;
					cap *= 2;
				}
				all[count++] = r;
				at += (sizeof *r + r->npcs * sizeof(uintptr_t) + r->len1 + r->len2 +
				       7) &
					~(size_t)7;
			}
		}
	}
	if (all)
		qsort(all, count, sizeof *all, rec_compare);
	*n = count;
	return all;
}

static void logs_free(void)
{
	for (struct goc__gotrace_log *l = gt.registry; l; l = l->next) {
		for (struct log_block *b = l->head, *next; b; b = next) {
			next = b->next;
			free(b);
		}
		l->head = l->tail = NULL;
	}
}

/* Replays the records into the streams and writes the file. */
static int write_trace(FILE *out)
{
	size_t n = 0;
	struct rec **all = collect(&n);
	struct writer *w = calloc(1, sizeof *w);
	size_t gs_cap = 1024;
	while (gs_cap < 2 * n + 16)
		gs_cap *= 2;
	if (w)
		w->gs = calloc(gs_cap, sizeof *w->gs);
	if (!all || !w || !w->gs) {
		free(all);
		if (w)
			free(w->gs);
		free(w);
		return ENOMEM;
	}
	w->gs_cap = gs_cap;
	w->ts = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t ts = all[i]->ts - gt.start_ns;
		w->ts = ts > w->ts ? ts : w->ts + 1;
		replay(w, all[i]);
	}
	free(all);
	/* A run still going at the stop ends there, as Go's StopTrace ends
	 * its caller's: go tool trace's views need an end for every start. */
	for (int i = 1; i <= GOC_MAX_PROCS; i++) {
		struct stream *s = &w->streams[i];
		if (s->used && s->curg) {
			w->ts++;
			model_g(w, s->curg)->state = GS_RUNNABLE;
			emit1(w, s, EV_GO_SCHED, 0);
			s->curg = 0;
		}
	}

	struct bytes file = {0};
	bytes_put(&file, "go 1.19 trace\0\0\0", 16);
	for (int i = 0; i <= GOC_MAX_PROCS; i++) {
		struct stream *s = &w->streams[i];
		if (!s->used)
			continue;
		bytes_byte(&file, EV_BATCH | 1 << 6);
		bytes_uvarint(&file, (uint64_t)(int64_t)(i - 1));
		bytes_uvarint(&file, (uint64_t)s->first_ts);
		bytes_put(&file, s->out.data, s->out.len);
		if (s->out.failed)
			file.failed = true;
		free(s->out.data);
	}
	write_stacks(w, &file);
	write_strings(w, &file);
	bytes_byte(&file, EV_FREQUENCY);
	bytes_uvarint(&file, 1000000000);
	int err = file.failed || w->strings.failed || w->stacks.failed ? ENOMEM : 0;
	if (!err && fwrite(file.data, 1, file.len, out) != file.len)
		err = errno ? errno : EIO;
	free(file.data);
	intern_free(&w->strings);
	intern_free(&w->stacks);
	free(w->gs);
	free(w);
	return err;
}

int goc__gotrace_stop(FILE *out, bool *lost)
{
	goc__fetch_and_seqcst(&goc__trace_on, ~GOC__HOOK_GOTRACE);
	/* Wait out the sections that saw the flag set (trace.c's protocol). */
	pthread_mutex_lock(&gt.other_lock);
	pthread_mutex_unlock(&gt.other_lock);
	pthread_mutex_lock(&gt.registry_lock);
	for (struct goc__gotrace_log *l = gt.registry; l; l = l->next)
		while (goc__load_acquire(&l->writing))
			sched_yield();
	int err = write_trace(out);
	logs_free();
	pthread_mutex_unlock(&gt.registry_lock);
	*lost = goc__load_relaxed(&gt.lost);
	return err;
}
