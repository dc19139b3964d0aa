/*
 * trace.c — the execution tracer (Go's runtime/trace): goroutine run
 * slices, creation, blocking and unblocking, P start and stop, syscall
 * sections, timer and netpoll wake-ups, written as Chrome Trace Event
 * JSON, one event per line:
 *
 *     {"displayTimeUnit":"ns","traceEvents":[
 *     {"ph":"X","pid":1,"tid":1,"ts":12.345,"dur":0.871,"name":"G7 ping",...},
 *     ...
 *     {"ph":"M","pid":1,"tid":0,"name":"process_name","args":{"name":"..."}}
 *     ]}
 *
 * Tracks (tid): P n is n + 1; TID_TIMERS, TID_NETWORK and TID_OTHER hold
 * unblocks by timers, by the netpoller and by the scheduler or plain
 * threads; M n's syscall slices are on TID_SYSCALLS + n.
 *
 * Buffers. Each M owns a struct trace_m (m->trace, made on its first
 * event, never freed, reused by later traces): the state of its open run
 * and syscall slices and a buffer of formatted lines. Only the M writes
 * them, inside a write section; a full buffer is appended to the file
 * under file_lock, once per TRACE_BUF_SIZE bytes of events. Threads that
 * are not Ms (sysmon, plain threads) share one trace_m under other_lock.
 *
 * Invariants:
 *  - An M touches its trace_m only inside a write section: it stores
 *    writing = 1, then reads goc__trace_on, and records only if its
 *    GOC__HOOK_TRACE bit (the flag) is set; it stores writing = 0 when
 *    done. Both sequentially consistent.
 *  - goc_trace_stop clears the flag, then waits until every
 *    registered trace_m has writing == 0. A section that began before
 *    the clear is waited for; one that begins after it reads the cleared
 *    flag (of the two stores and two loads, one side sees the other's
 *    store). So once the wait is over no M writes a trace_m, and stop
 *    may read and flush them all; goc_trace_start resets them before it
 *    sets the flag, which the next section reads.
 *  - A run slice of goroutine g on P p is open in the trace_m of the M
 *    running g from the switch to g (or g's return from a syscall
 *    section) to the switch away from it (or its entry into one). An M
 *    holds one P at a time and a P moves between Ms only through
 *    sched.lock or the P_SYSCALL CAS, both after the slice closed, so
 *    the slices of one P never overlap.
 *  - g->trace_mark is written by whoever unblocks g (before g is
 *    published, so the M that next runs g reads it) and cleared by that
 *    M when g's run slice opens. It holds the trace's tag (a number
 *    that changes with every trace) shifted left once, plus 1 if a flow
 *    start was written for the unblock, whose finish the slice then
 *    writes. An unblock is always followed by the run it enables, so a
 *    goroutine has at most one mark; a mark of an earlier trace fails
 *    the tag comparison.
 *
 *  - A flow's id is unique in its trace (Perfetto drops a flow whose id
 *    was used before). The unblocker numbers it and leaves the number for
 *    the goroutine's next run in pending_flows[g->id % PENDING_FLOWS],
 *    which it claims with a CAS of the slot's goroutine id from 0; the M
 *    that runs g reads the number (ordered after the write by g's
 *    publication to a run queue) and frees the slot with a release store.
 *    A slot taken by another goroutine's pending flow means no flow for
 *    this unblock: its instant is still recorded.
 *
 * Flows bind the "s" to the slice enclosing it (the unblocker's run) and
 * the "f" to the next slice on its track (the unblocked goroutine's run,
 * which begins at the same instant: the "f" line is written first).
 * Unblocks by timers, the netpoller, the scheduler and plain threads have
 * no slice to start from: they are instants without a flow.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug.h"
#include "trace.h"

enum {
	TRACE_BUF_SIZE = 32 * 1024,
	/* Room kept free for one event: the longest (a slice of a goroutine
	 * whose 31-byte name is escaped, 6 bytes a byte, twice) is under
	 * 600 bytes. */
	TRACE_EVENT_MAX = 1024,
	TID_TIMERS = GOC_MAX_PROCS + 1,
	TID_NETWORK = GOC_MAX_PROCS + 2,
	TID_OTHER = GOC_MAX_PROCS + 3,
	TID_SYSCALLS = 1000,
	TAG_MAX = 127,            /* tags fit in trace_mark's upper 7 bits */
	ANNOTATION_TEXT_MAX = 64, /* bytes of a user string in an annotation */
	PENDING_FLOWS = 4096,
};

/* A flow started by an unblock, waiting for the goroutine's next run. */
struct pending_flow {
	int64_t g_id; /* atomic: the goroutine, 0 if the slot is free */
	uint64_t id;  /* the flow's id; see the invariants */
};

static struct pending_flow pending_flows[PENDING_FLOWS];

/* An M's trace state (or the one shared by threads that are not Ms): the
 * slices it has open and the lines not yet written. Fields other than
 * writing and next belong to the owner inside its write sections, and to
 * goc_trace_start / _stop while no section runs. */
struct trace_m {
	uint32_t writing; /* atomic: the owner is inside a write section */
	bool synced;      /* this trace has seen the M: the fields below are valid */
	bool had_syscall; /* its syscall track needs a name */
	int64_t m_id;     /* -1 for the shared state of non-M threads */
	goc__g *slice_g;  /* goroutine whose run slice is open, or NULL */
	int64_t slice_since;
	int32_t slice_tid;
	goc__g *syscall_g; /* goroutine inside a syscall section, or NULL */
	int64_t syscall_since;
	struct trace_m *next; /* registry; registry_lock */
	size_t len;           /* bytes of buf in use */
	char buf[TRACE_BUF_SIZE];
};

int32_t goc__trace_on;

static struct {
	pthread_mutex_t control_lock;  /* one goc_trace_start / stop at a time */
	pthread_mutex_t file_lock;     /* writes to out */
	pthread_mutex_t registry_lock; /* the list of trace_m */
	pthread_mutex_t other_lock;    /* other: events of threads that are not Ms */
	struct trace_m *registry;
	struct trace_m *other;
	/* Set by goc_trace_start before goc__trace_on, read by sections. */
	FILE *out;
	goc_trace_format format; /* control_lock */
	int64_t start_ns;
	uint8_t tag;
	uint64_t last_flow_id; /* atomic */
	bool lost;             /* atomic: an M could not have its buffer */
	int write_errno;       /* the first failed write's errno; file_lock */
} trace = {
	.control_lock = PTHREAD_MUTEX_INITIALIZER,
	.file_lock = PTHREAD_MUTEX_INITIALIZER,
	.registry_lock = PTHREAD_MUTEX_INITIALIZER,
	.other_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Set on a thread while it runs a timer callback (goc__trace_timer_fire):
 * whatever that readies was unblocked by the timer. Thread-local rather
 * than per goroutine because callbacks run on whatever context arrives
 * after a switch, or on g0, and never switch themselves. */
static __thread bool running_timer;

/* ---- formatting ---- */

static void put_bytes(struct trace_m *tm, const char *s, size_t n)
{
	memcpy(tm->buf + tm->len, s, n);
	tm->len += n;
}

static void put_str(struct trace_m *tm, const char *s)
{
	put_bytes(tm, s, strlen(s));
}

static void put_char(struct trace_m *tm, char c)
{
	tm->buf[tm->len++] = c;
}

static void put_uint(struct trace_m *tm, uint64_t v)
{
	char digits[20];
	int n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		put_char(tm, digits[--n]);
}

static void put_int(struct trace_m *tm, int64_t v)
{
	if (v < 0) {
		put_char(tm, '-');
		put_uint(tm, (uint64_t)0 - (uint64_t)v);
	} else {
		put_uint(tm, (uint64_t)v);
	}
}

/* Nanoseconds as microseconds with three decimals, the trace's unit. */
static void put_us(struct trace_m *tm, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	put_uint(tm, (uint64_t)ns / 1000);
	unsigned frac = (unsigned)((uint64_t)ns % 1000);
	put_char(tm, '.');
	put_char(tm, (char)('0' + frac / 100));
	put_char(tm, (char)('0' + frac / 10 % 10));
	put_char(tm, (char)('0' + frac % 10));
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* s as the inside of a JSON string. Goroutine names are the user's bytes,
 * possibly cut mid-character at 31 bytes: anything that is not
 * well-formed UTF-8 becomes U+FFFD, so the file stays valid JSON. */
static void put_escaped(struct trace_m *tm, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			put_char(tm, '\\');
			put_char(tm, (char)c);
			i++;
		} else if (c < 0x20) {
			put_str(tm, "\\u00");
			put_char(tm, hex[c >> 4]);
			put_char(tm, hex[c & 15]);
			i++;
		} else if (c < 0x80) {
			put_char(tm, (char)c);
			i++;
		} else {
			size_t len = utf8_sequence(p + i, n - i);
			if (len) {
				put_bytes(tm, s + i, len);
				i += len;
			} else {
				put_str(tm, "\\ufffd");
				i++;
			}
		}
	}
}

static int32_t p_tid(const goc__p *p)
{
	return p->id + 1;
}

/* The first fields of an event on track tid at instant ns. */
static void event_begin(struct trace_m *tm, const char *ph, int32_t tid, int64_t ns)
{
	put_str(tm, "{\"ph\":\"");
	put_str(tm, ph);
	put_str(tm, "\",\"pid\":1,\"tid\":");
	put_int(tm, tid);
	put_str(tm, ",\"ts\":");
	put_us(tm, ns - trace.start_ns);
}

/* An instant event's fields after event_begin. */
static void instant_name(struct trace_m *tm, const char *name, const char *cat)
{
	put_str(tm, ",\"s\":\"t\",\"name\":\"");
	put_str(tm, name);
	put_str(tm, "\",\"cat\":\"");
	put_str(tm, cat);
	put_char(tm, '"');
}

static void chunk_write(struct trace_m *tm)
{
	if (tm->len == 0)
		return;
	/* The hooks run inside goroutines' calls: keep their errno. */
	int saved_errno = errno;
	pthread_mutex_lock(&trace.file_lock);
	if (fwrite(tm->buf, 1, tm->len, trace.out) != tm->len && !trace.write_errno)
		trace.write_errno = errno ? errno : EIO;
	pthread_mutex_unlock(&trace.file_lock);
	tm->len = 0;
	errno = saved_errno;
}

/* Closes the event's line; writes the buffer out if the next event might
 * not fit. */
static void event_end(struct trace_m *tm)
{
	put_str(tm, "},\n");
	if (tm->len > TRACE_BUF_SIZE - TRACE_EVENT_MAX)
		chunk_write(tm);
}

/* ---- slices ---- */

static void slice_open(struct trace_m *tm, goc__g *g, const goc__p *p, int64_t now)
{
	tm->slice_g = g;
	tm->slice_since = now;
	tm->slice_tid = p_tid(p);
	uint8_t mark = g->trace_mark;
	if (mark >> 1 == trace.tag && (mark & 1)) {
		struct pending_flow *pf = &pending_flows[(uint64_t)g->id % PENDING_FLOWS];
		event_begin(tm, "f", tm->slice_tid, now);
		put_str(tm, ",\"name\":\"unblock\",\"cat\":\"unblock\",\"id\":");
		put_uint(tm, pf->id);
		event_end(tm);
		goc__store_release(&pf->g_id, 0);
	}
	g->trace_mark = 0;
}

/* The goroutine's identity as a slice's or an instant's name. */
static void put_g_name(struct trace_m *tm, const goc__g *g)
{
	put_char(tm, 'G');
	put_int(tm, g->id);
	if (g->name[0]) {
		put_char(tm, ' ');
		put_escaped(tm, g->name);
	}
}

static void put_g_args(struct trace_m *tm, const goc__g *g)
{
	put_str(tm, "\"goroutine\":");
	put_int(tm, g->id);
	if (g->name[0]) {
		put_str(tm, ",\"name\":\"");
		put_escaped(tm, g->name);
		put_char(tm, '"');
	}
}

/* Closes the open run slice at now; end says why it ended. */
static void slice_close(struct trace_m *tm, int64_t now, const char *end)
{
	goc__g *g = tm->slice_g;
	event_begin(tm, "X", tm->slice_tid, tm->slice_since);
	put_str(tm, ",\"dur\":");
	put_us(tm, now - tm->slice_since);
	put_str(tm, ",\"name\":\"");
	put_g_name(tm, g);
	put_str(tm, "\",\"cat\":\"goroutine\",\"args\":{");
	put_g_args(tm, g);
	put_str(tm, ",\"end\":\"");
	put_str(tm, end);
	put_char(tm, '"');
	if (strcmp(end, "block") == 0) {
		put_str(tm, ",\"wait\":\"");
		put_str(tm, goc__wait_reason_string((goc__wait_reason)g->wait_reason));
		put_char(tm, '"');
	}
	put_char(tm, '}');
	event_end(tm);
	tm->slice_g = NULL;
}

static void syscall_close(struct trace_m *tm, int64_t now)
{
	goc__g *g = tm->syscall_g;
	event_begin(tm, "X", TID_SYSCALLS + (int32_t)tm->m_id, tm->syscall_since);
	put_str(tm, ",\"dur\":");
	put_us(tm, now - tm->syscall_since);
	put_str(tm, ",\"name\":\"syscall\",\"cat\":\"syscall\",\"args\":{");
	put_g_args(tm, g);
	put_char(tm, '}');
	event_end(tm);
	tm->syscall_g = NULL;
	tm->had_syscall = true;
}

/* ---- write sections ---- */

static void state_reset(struct trace_m *tm)
{
	tm->synced = false;
	tm->had_syscall = false;
	tm->slice_g = NULL;
	tm->syscall_g = NULL;
	tm->len = 0;
}

static struct trace_m *state_new(int64_t m_id)
{
	struct trace_m *tm = malloc(sizeof *tm);
	if (!tm) {
		goc__store_relaxed(&trace.lost, true);
		return NULL;
	}
	state_reset(tm);
	tm->writing = 0;
	tm->m_id = m_id;
	pthread_mutex_lock(&trace.registry_lock);
	tm->next = trace.registry;
	trace.registry = tm;
	pthread_mutex_unlock(&trace.registry_lock);
	return tm;
}

/* The first section of a trace on m: what m was doing when the trace
 * started, which no hook saw, began at the start. */
static void sync_m(struct trace_m *tm, goc__m *m)
{
	tm->synced = true;
	goc__g *g = m->curg;
	if (!g)
		return;
	if (m->p) {
		tm->slice_g = g;
		tm->slice_since = trace.start_ns;
		tm->slice_tid = p_tid(m->p);
	} else if (m->syscall_p) {
		tm->syscall_g = g;
		tm->syscall_since = trace.start_ns;
	}
}

/*
 * Enters a write section for the calling thread (m, or NULL for a thread
 * that is not an M) and returns the state to write to, or NULL if no trace
 * is being taken (or m's state could not be had). An M's section is
 * lock-free: see the invariants above. Other threads take other_lock and
 * check the flag under it; stop takes the lock after clearing the flag.
 */
static struct trace_m *section_enter(goc__m *m)
{
	/* Another consumer of the hooks may be on without a trace. */
	if (!(goc__load_relaxed(&goc__trace_on) & GOC__HOOK_TRACE))
		return NULL;
	if (!m) {
		pthread_mutex_lock(&trace.other_lock);
		if ((goc__load_seqcst(&goc__trace_on) & GOC__HOOK_TRACE) && trace.other)
			return trace.other;
		pthread_mutex_unlock(&trace.other_lock);
		return NULL;
	}
	struct trace_m *tm = m->trace;
	if (!tm) {
		/* Registered before the section begins, so a stop that
		 * misses it in the registry also clears the flag before the
		 * check below. */
		tm = m->trace = state_new(m->id);
		if (!tm)
			return NULL;
	}
	goc__store_seqcst(&tm->writing, 1);
	if (!(goc__load_seqcst(&goc__trace_on) & GOC__HOOK_TRACE)) {
		goc__store_release(&tm->writing, 0);
		return NULL;
	}
	if (!tm->synced)
		sync_m(tm, m);
	return tm;
}

static void section_leave(struct trace_m *tm)
{
	if (tm == trace.other)
		pthread_mutex_unlock(&trace.other_lock);
	else
		goc__store_release(&tm->writing, 0);
}

/* ---- hooks ---- */

/* The consumers of the hooks that are on now. */
static int32_t hooks_on(void)
{
	return goc__load_relaxed(&goc__trace_on);
}

void goc__trace_switch(goc__m *m, goc__g *from, goc__g *to)
{
	int32_t on = hooks_on();
	if (on & GOC__HOOK_SCHEDLAT) {
		if (!(from->flags & G_FLAG_G0) && goc__load_relaxed(&from->state) == G_RUNNABLE)
			goc__schedlat_runnable(from);
		if (!(to->flags & G_FLAG_G0))
			goc__schedlat_running(m->p, to);
	}
	if (on & GOC__HOOK_GOTRACE)
		goc__gotrace_switch(m, from, to);
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	int64_t now = goc__prim_nanotime();
	if (tm->slice_g == from) {
		uint32_t state = goc__load_relaxed(&from->state);
		slice_close(tm, now,
			    state == G_WAITING        ? "block"
				    : state == G_DEAD ? "exit"
						      : "yield");
	}
	if (!(to->flags & G_FLAG_G0))
		slice_open(tm, to, m->p, now);
	section_leave(tm);
}

/* Numbers a flow to g's next run and leaves the number for it; false if
 * g's slot is taken. */
static bool flow_claim(goc__g *g)
{
	struct pending_flow *pf = &pending_flows[(uint64_t)g->id % PENDING_FLOWS];
	int64_t free_slot = 0;
	if (!goc__cas_acquire(&pf->g_id, &free_slot, g->id))
		return false;
	pf->id = goc__add_fetch_relaxed(&trace.last_flow_id, 1);
	return true;
}

void goc__trace_unblock(goc__g *g, bool by_self)
{
	int32_t on = hooks_on();
	if (on & GOC__HOOK_SCHEDLAT)
		goc__schedlat_runnable(g);
	if (on & GOC__HOOK_GOTRACE)
		goc__gotrace_unblock(g);
	goc__m *m = goc__m_self();
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	uint8_t recorded = (uint8_t)(trace.tag << 1);
	if (g->trace_mark == recorded) {
		/* Taken out of the poller by goc__netpoll(), which recorded it. */
		section_leave(tm);
		return;
	}
	int64_t now = goc__prim_nanotime();
	goc__g *by = NULL;          /* the goroutine that unblocked g, if one did */
	const char *by_what = NULL; /* else what did */
	int32_t tid;
	if (by_self) {
		by = g;
		tid = m && m->p ? p_tid(m->p) : TID_OTHER;
	} else if (running_timer) {
		by_what = "timer";
		tid = TID_TIMERS;
	} else if (m && m->curg && tm->slice_g == m->curg) {
		by = m->curg;
		tid = tm->slice_tid;
	} else if (m && m->curg && tm->syscall_g == m->curg) {
		by = m->curg;
		tid = TID_SYSCALLS + (int32_t)tm->m_id;
	} else {
		by_what = m ? "scheduler" : "thread";
		tid = TID_OTHER;
	}
	event_begin(tm, "i", tid, now);
	instant_name(tm, "unblock", "unblock");
	put_str(tm, ",\"args\":{");
	put_g_args(tm, g);
	put_str(tm, ",\"by\":");
	if (by) {
		put_int(tm, by->id);
	} else {
		put_char(tm, '"');
		put_str(tm, by_what);
		put_char(tm, '"');
	}
	put_char(tm, '}');
	event_end(tm);
	bool flow = by && !by_self && flow_claim(g);
	if (flow) {
		event_begin(tm, "s", tid, now);
		put_str(tm, ",\"name\":\"unblock\",\"cat\":\"unblock\",\"id\":");
		put_uint(tm, pending_flows[(uint64_t)g->id % PENDING_FLOWS].id);
		event_end(tm);
	}
	g->trace_mark = (uint8_t)(recorded | flow);
	section_leave(tm);
}

void goc__trace_netpoll(goc__g *const *ready, int n)
{
	if (n <= 0)
		return;
	struct trace_m *tm = section_enter(goc__m_self());
	if (!tm)
		return;
	int64_t now = goc__prim_nanotime();
	for (int i = 0; i < n; i++) {
		event_begin(tm, "i", TID_NETWORK, now);
		instant_name(tm, "unblock", "unblock");
		put_str(tm, ",\"args\":{");
		put_g_args(tm, ready[i]);
		put_str(tm, ",\"by\":\"netpoll\"}");
		event_end(tm);
		ready[i]->trace_mark = (uint8_t)(trace.tag << 1);
	}
	section_leave(tm);
}

void goc__trace_timer_fire(goc__rtimer *t, int64_t now)
{
	running_timer = true;
	t->fn(t, now);
	running_timer = false;
}

void goc__trace_create(goc__g *g)
{
	int32_t on = hooks_on();
	if (on & GOC__HOOK_SCHEDLAT)
		goc__schedlat_runnable(g);
	if (on & GOC__HOOK_GOTRACE)
		goc__gotrace_create(g);
	goc__m *m = goc__m_self();
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	int64_t now = goc__prim_nanotime();
	int32_t tid = TID_OTHER;
	if (m && m->curg && tm->slice_g == m->curg)
		tid = tm->slice_tid;
	else if (m && m->curg && tm->syscall_g == m->curg)
		tid = TID_SYSCALLS + (int32_t)tm->m_id;
	event_begin(tm, "i", tid, now);
	instant_name(tm, "create", "create");
	put_str(tm, ",\"args\":{");
	put_g_args(tm, g);
	put_str(tm, ",\"parent\":");
	put_int(tm, g->parent_id);
	put_char(tm, '}');
	event_end(tm);
	g->trace_mark = 0;
	section_leave(tm);
}

static void proc_event(goc__p *p, const char *name)
{
	goc__m *m = goc__m_self();
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	event_begin(tm, "i", p_tid(p), goc__prim_nanotime());
	instant_name(tm, name, "proc");
	if (m) {
		put_str(tm, ",\"args\":{\"m\":");
		put_int(tm, m->id);
		put_char(tm, '}');
	}
	event_end(tm);
	section_leave(tm);
}

void goc__trace_proc_start(goc__p *p)
{
	if (hooks_on() & GOC__HOOK_GOTRACE)
		goc__gotrace_proc(p, true);
	proc_event(p, "proc start");
}

void goc__trace_proc_stop(goc__p *p)
{
	if (hooks_on() & GOC__HOOK_GOTRACE)
		goc__gotrace_proc(p, false);
	proc_event(p, "proc stop");
}

void goc__trace_syscall_enter(goc__m *m)
{
	if (hooks_on() & GOC__HOOK_GOTRACE)
		goc__gotrace_syscall_enter(m);
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	int64_t now = goc__prim_nanotime();
	if (tm->slice_g && tm->slice_g == m->curg)
		slice_close(tm, now, "syscall");
	tm->syscall_g = m->curg;
	tm->syscall_since = now;
	section_leave(tm);
}

void goc__trace_preempt(goc__m *m)
{
	if (hooks_on() & GOC__HOOK_GOTRACE)
		goc__gotrace_preempt(m);
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	if (tm->slice_g && tm->slice_g == m->curg)
		slice_close(tm, goc__prim_nanotime(), "preempt");
	section_leave(tm);
}

void goc__trace_syscall_exit(goc__m *m)
{
	if (hooks_on() & GOC__HOOK_GOTRACE)
		goc__gotrace_syscall_exit(m);
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	if (tm->syscall_g && tm->syscall_g == m->curg)
		syscall_close(tm, goc__prim_nanotime());
	section_leave(tm);
}

void goc__trace_syscall_resume(goc__m *m)
{
	if (hooks_on() & GOC__HOOK_GOTRACE)
		goc__gotrace_syscall_resume(m);
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	if (!tm->slice_g)
		slice_open(tm, m->curg, m->p, goc__prim_nanotime());
	section_leave(tm);
}

/* ---- start and stop ---- */

goc_status goc_trace_start(FILE *out)
{
	return goc_trace_start_format(out, GOC_TRACE_JSON);
}

goc_status goc_trace_start_format(FILE *out, goc_trace_format format)
{
	if (!out || (format != GOC_TRACE_JSON && format != GOC_TRACE_GO))
		return -EINVAL;
	goc__runtime_init();
	pthread_mutex_lock(&trace.control_lock);
	if (trace.out) {
		pthread_mutex_unlock(&trace.control_lock);
		return -EBUSY;
	}
	trace.format = format;
	if (format == GOC_TRACE_GO) {
		trace.out = out;
		goc__gotrace_start();
		pthread_mutex_unlock(&trace.control_lock);
		return GOC_OK;
	}
	if (!trace.other && !(trace.other = state_new(-1))) {
		pthread_mutex_unlock(&trace.control_lock);
		return -ENOMEM;
	}
	/* No section writes while the flag is clear: the states are ours. */
	pthread_mutex_lock(&trace.registry_lock);
	for (struct trace_m *tm = trace.registry; tm; tm = tm->next)
		state_reset(tm);
	pthread_mutex_unlock(&trace.registry_lock);
	trace.out = out;
	trace.tag = (uint8_t)(trace.tag % TAG_MAX + 1);
	/* Flows the last trace left pending (their goroutines never ran
	 * again) are forgotten: their marks carry the old tag. */
	memset(pending_flows, 0, sizeof pending_flows);
	trace.last_flow_id = 0;
	trace.lost = false;
	trace.write_errno = 0;
	trace.start_ns = goc__prim_nanotime();
	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", out);
	goc__fetch_or_seqcst(&goc__trace_on, GOC__HOOK_TRACE);
	pthread_mutex_unlock(&trace.control_lock);
	return GOC_OK;
}

/* The metadata lines naming track tid and placing it among the tracks. */
static void put_track_name(struct trace_m *tm, int32_t tid, const char *name)
{
	put_str(tm, "{\"ph\":\"M\",\"pid\":1,\"tid\":");
	put_int(tm, tid);
	put_str(tm, ",\"name\":\"thread_name\",\"args\":{\"name\":\"");
	put_str(tm, name);
	put_str(tm, "\"}},\n{\"ph\":\"M\",\"pid\":1,\"tid\":");
	put_int(tm, tid);
	put_str(tm, ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":");
	put_int(tm, tid);
	put_char(tm, '}');
	event_end(tm);
}

/* Writes the tracks' names and the end of the JSON through tm's buffer.
 * registry_lock held. */
static void write_tail(struct trace_m *tm)
{
	char name[32];
	int32_t nprocs = goc__load_acquire(&goc__sched.nprocs_made);
	for (int32_t i = 0; i < nprocs; i++) {
		snprintf(name, sizeof name, "P%d", (int)i);
		put_track_name(tm, p_tid(goc__sched.allp[i]), name);
	}
	put_track_name(tm, TID_TIMERS, "Timers");
	put_track_name(tm, TID_NETWORK, "Network");
	put_track_name(tm, TID_OTHER, "Scheduler and threads");
	for (struct trace_m *s = trace.registry; s; s = s->next) {
		if (s->had_syscall) {
			snprintf(name, sizeof name, "M%lld syscalls", (long long)s->m_id);
			put_track_name(tm, TID_SYSCALLS + (int32_t)s->m_id, name);
		}
	}
	/* The last line has no comma: the one place the array ends. */
	chunk_write(tm);
	put_str(tm,
		"{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":\"");
	put_escaped(tm, program_invocation_short_name);
	put_str(tm, " (goc)\"}}\n]}\n");
	chunk_write(tm);
}

/* goc_trace_stop of a trace in Go's format; control_lock held. */
static goc_status stop_go_format(void)
{
	bool lost = false;
	int err = goc__gotrace_stop(trace.out, &lost);
	if (fflush(trace.out) != 0 && !err)
		err = errno ? errno : EIO;
	trace.out = NULL;
	pthread_mutex_unlock(&trace.control_lock);
	return err ? -err : lost ? -ENOMEM : GOC_OK;
}

goc_status goc_trace_stop(void)
{
	pthread_mutex_lock(&trace.control_lock);
	if (!trace.out) {
		pthread_mutex_unlock(&trace.control_lock);
		return -EINVAL;
	}
	if (trace.format == GOC_TRACE_GO)
		return stop_go_format();
	goc__fetch_and_seqcst(&goc__trace_on, ~GOC__HOOK_TRACE);
	/* Wait out the sections that saw the flag set (invariants above). */
	pthread_mutex_lock(&trace.other_lock);
	pthread_mutex_unlock(&trace.other_lock);
	pthread_mutex_lock(&trace.registry_lock);
	for (struct trace_m *tm = trace.registry; tm; tm = tm->next)
		while (goc__load_acquire(&tm->writing))
			sched_yield();
	int64_t now = goc__prim_nanotime();
	/* Whatever runs now ends with the trace. */
	for (struct trace_m *tm = trace.registry; tm; tm = tm->next) {
		if (tm->slice_g)
			slice_close(tm, now, "stop");
		if (tm->syscall_g)
			syscall_close(tm, now);
		if (tm != trace.other)
			chunk_write(tm);
	}
	write_tail(trace.other);
	pthread_mutex_unlock(&trace.registry_lock);
	goc_status st = GOC_OK;
	if (fflush(trace.out) != 0 && !trace.write_errno)
		trace.write_errno = errno ? errno : EIO;
	if (trace.write_errno)
		st = -trace.write_errno;
	else if (goc__load_relaxed(&trace.lost))
		st = -ENOMEM;
	trace.out = NULL;
	pthread_mutex_unlock(&trace.control_lock);
	return st;
}

/* ---- user annotations ---- */

/* An annotation on the calling thread's current track: an async slice's
 * begin or end ("b"/"e") or an instant ("i"), with cat, id and name, and
 * the task in its arguments (and a message for a log). */
static void annotation(const char *ph, const char *cat, uint64_t id, const char *name,
		       uint64_t task, const char *message)
{
	goc__m *m = goc__m_self();
	struct trace_m *tm = section_enter(m);
	if (!tm)
		return;
	int32_t tid = TID_OTHER;
	if (m && m->curg && tm->slice_g == m->curg)
		tid = tm->slice_tid;
	event_begin(tm, ph, tid, goc__prim_nanotime());
	if (ph[0] == 'i')
		put_str(tm, ",\"s\":\"t\"");
	put_str(tm, ",\"cat\":\"");
	put_str(tm, cat);
	put_str(tm, "\",\"id\":");
	put_uint(tm, id);
	put_str(tm, ",\"name\":\"");
	/* User strings are cut so that an event stays within
	 * TRACE_EVENT_MAX once escaped (6 bytes a byte at worst). */
	char cut[ANNOTATION_TEXT_MAX + 1];
	snprintf(cut, sizeof cut, "%s", name ? name : "");
	put_escaped(tm, cut);
	put_str(tm, "\",\"args\":{\"task\":");
	put_uint(tm, task);
	if (m && m->curg) {
		put_str(tm, ",\"goroutine\":");
		put_int(tm, m->curg->id);
	}
	if (message) {
		snprintf(cut, sizeof cut, "%s", message);
		put_str(tm, ",\"message\":\"");
		put_escaped(tm, cut);
		put_char(tm, '"');
	}
	put_char(tm, '}');
	event_end(tm);
	section_leave(tm);
}

static uint64_t last_task_id; /* atomic */

uint64_t goc_trace_task_new(uint64_t parent, const char *name)
{
	uint64_t id = goc__add_fetch_relaxed(&last_task_id, 1);
	int32_t on = hooks_on();
	if (on & GOC__HOOK_GOTRACE)
		goc__gotrace_task(id, parent, name, false);
	if (on & GOC__HOOK_TRACE)
		annotation("b", "task", id, name, parent, NULL);
	return id;
}

void goc_trace_task_end(uint64_t task)
{
	int32_t on = hooks_on();
	if (on & GOC__HOOK_GOTRACE)
		goc__gotrace_task(task, 0, NULL, true);
	if (on & GOC__HOOK_TRACE)
		annotation("e", "task", task, "", task, NULL);
}

/* A region's async id: the goroutine's, so that its regions nest on one
 * track (0 for plain threads). */
static uint64_t region_id(void)
{
	goc__m *m = goc__m_self();
	return m && m->curg ? (uint64_t)m->curg->id : 0;
}

void goc_trace_region_begin(uint64_t task, const char *name)
{
	int32_t on = hooks_on();
	if (on & GOC__HOOK_GOTRACE)
		goc__gotrace_region(task, name, false);
	if (on & GOC__HOOK_TRACE)
		annotation("b", "region", region_id(), name, task, NULL);
}

void goc_trace_region_end(uint64_t task, const char *name)
{
	int32_t on = hooks_on();
	if (on & GOC__HOOK_GOTRACE)
		goc__gotrace_region(task, name, true);
	if (on & GOC__HOOK_TRACE)
		annotation("e", "region", region_id(), name, task, NULL);
}

void goc_trace_log(uint64_t task, const char *category, const char *message)
{
	int32_t on = hooks_on();
	if (on & GOC__HOOK_GOTRACE)
		goc__gotrace_log(task, category, message ? message : "");
	if (on & GOC__HOOK_TRACE)
		annotation("i", "log", task, category, task, message ? message : "");
}
