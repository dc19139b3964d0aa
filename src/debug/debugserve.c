/*
 * debugserve.c — goc_debug_serve: the runtime's views over HTTP, as Go's
 * net/http/pprof and expvar serve them, so that `go tool pprof
 * http://ADDR/debug/pprof/profile` and a browser work against a running
 * goc program.
 *
 *   goc_debug_serve: listen --> serve_main (a goroutine: goc_http_serve
 *                    with route as the handler, until `stop` ends)
 *   route:           /debug/pprof/ (index), profile, trace, goroutine, block,
 *                    mutex, heap, allocs, cmdline; /debug/sched; /debug/vars;
 *                    /metrics (Prometheus, metrics.c)
 *
 * Formats follow Go's: profiles are gzipped profile.proto (pprof.c);
 * goroutine?debug=1, block/mutex?debug=1 and heap/allocs?debug=1 are Go's
 * text profiles (a
 * "count @ pcs" line per distinct stack, then a "#\tpc\tfunc+off\t
 * file:line" line per frame); goroutine?debug=2 is a goc_dump, as Go's is
 * its traceback; failures are text/plain with X-Go-Pprof: 1.
 *
 * Invariants:
 *  - server.lock serialises goc_debug_serve, _addr and _stop; running,
 *    stop, ln and addr change only under it. While running, stop stays
 *    valid for the handlers: _stop cancels it, then waits for serve_main,
 *    which returns only after every connection goroutine has ended.
 *  - every response but the CPU profile and the trace is written whole into memory (a
 *    memstream) before its head is sent: its length is known, and a
 *    failure while writing it still becomes an error status.
 *  - the CPU profiler and the tracer are one per process: a second request
 *    while one runs is refused with a 500, as Go refuses it; a profile or
 *    trace ends early when the server stops or the client goes away.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "contention.h"
#include "debug.h"
#include "../http/http.h"

#define DEFAULT_PROFILE_SECONDS 30
#define DEFAULT_TRACE_SECONDS 1
/* Requests in flight when the server stops get this long to finish. */
#define SHUTDOWN_TIMEOUT GOC_SECOND

static struct {
	goc_mutex lock;
	bool running;
	goc_ctx *stop;    /* cancelled by goc_debug_serve_stop */
	goc_listener *ln; /* taken over by serve_main's goc_http_serve */
	goc_wg serving;   /* serve_main */
	char addr[128];
} server = {.lock = GOC_MUTEX_INIT, .serving = GOC_WG_INIT};

/* ---- responses ---- */

static void respond(goc_http_exchange *x, int status, const char *content_type,
		    const char *attachment, const char *data, size_t len)
{
	goc_http_set_status(x, status);
	goc_http_add_header(x, "Content-Type", content_type);
	goc_http_add_header(x, "X-Content-Type-Options", "nosniff");
	if (attachment) {
		char disposition[96];
		snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"",
			 attachment);
		goc_http_add_header(x, "Content-Disposition", disposition);
	}
	goc_http_set_length(x, (int64_t)len);
	goc_http_write(x, data, len);
}

static void respond_error(goc_http_exchange *x, int status, const char *what, int err)
{
	char text[256];
	int n = err ? snprintf(text, sizeof text, "%s: %s\n", what, strerror(err))
		    : snprintf(text, sizeof text, "%s\n", what);
	goc_http_add_header(x, "X-Go-Pprof", "1");
	respond(x, status, "text/plain; charset=utf-8", NULL, text,
		(size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

/* Writes a response body to f; 0 or an errno value. */
typedef int (*body_writer)(FILE *f, const void *arg);

/* Answers with what write puts in a memstream, or a 500 if it fails. */
static void serve_written(goc_http_exchange *x, body_writer write, const void *arg,
			  const char *content_type, const char *attachment)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);
	if (!f) {
		respond_error(x, 500, "could not build the response", ENOMEM);
		return;
	}
	int err = write(f, arg);
	if (fclose(f) != 0 && !err)
		err = ENOMEM;
	if (err)
		respond_error(x, 500, "could not build the response", err);
	else
		respond(x, 200, content_type, attachment, data, len);
	free(data);
}

/* The profile writers return GOC_OK or a negative errno. */
static int status_errno(goc_status st)
{
	return st < 0 ? -st : 0;
}

/* ---- queries ---- */

/* The integer value of name in query ("a=1&debug=2"); def when absent or
 * not a number (as Go's handlers treat a malformed one). */
/* The value of name in query, copied into value[size]; false if absent,
 * empty or too long. */
static bool query_value(goc_http_str query, const char *name, char *value, size_t size)
{
	size_t name_len = strlen(name);
	const char *p = query.ptr, *end = query.ptr + query.len;
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *field_end = amp ? amp : end;
		if ((size_t)(field_end - p) > name_len && !memcmp(p, name, name_len) &&
		    p[name_len] == '=') {
			size_t n = (size_t)(field_end - p) - name_len - 1;
			if (n == 0 || n >= size)
				return false;
			memcpy(value, p + name_len + 1, n);
			value[n] = 0;
			return true;
		}
		p = amp ? amp + 1 : end;
	}
	return false;
}

static int64_t query_int(goc_http_str query, const char *name, int64_t def)
{
	char value[24];
	if (!query_value(query, name, value, sizeof value))
		return def;
	char *rest;
	errno = 0;
	long long v = strtoll(value, &rest, 10);
	return *rest || errno ? def : v;
}

/* ?seconds= as a duration in ns: fractions allowed, as Go's trace handler
 * reads them; def_seconds when absent, malformed or not positive; capped
 * at a day. */
static int64_t query_seconds(goc_http_str query, int64_t def_seconds)
{
	char value[24];
	if (!query_value(query, "seconds", value, sizeof value))
		return def_seconds * GOC_SECOND;
	char *rest;
	double v = strtod(value, &rest);
	if (*rest || !(v > 0))
		return def_seconds * GOC_SECOND;
	if (v > 86400)
		v = 86400;
	int64_t ns = (int64_t)(v * (double)GOC_SECOND);
	return ns > 0 ? ns : 1;
}

/* ---- text profiles ---- */

static void print_pcs(FILE *f, const goc__stacktrace *t)
{
	for (int i = 0; i < t->n; i++)
		fprintf(f, " 0x%" PRIxPTR, t->pcs[i]);
	fputc('\n', f);
}

static void print_frames(FILE *f, const goc__stacktrace *t)
{
	for (int i = 0; i < t->n; i++) {
		goc__frame_symbol s;
		goc__symbolize_frame(t->pcs[i], i == 0 && t->first_exact, &s);
		fprintf(f, "#\t0x%" PRIxPTR "\t%s+0x%" PRIxPTR "\t%s:%d\n", s.pc,
			s.func[0] ? s.func : "?", s.func_offset, s.file[0] ? s.file : "?", s.line);
	}
	fputc('\n', f);
}

struct stacks {
	goc__stacktrace *items;
	size_t n, cap;
	goc__g *self;
	bool failed;
};

static void stacks_add(struct stacks *l, const goc__stacktrace *t)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		goc__stacktrace *items = realloc(l->items, cap * sizeof *items);
		if (!items) {
			l->failed = true;
			return;
		}
		l->items = items;
		l->cap = cap;
	}
	l->items[l->n++] = *t;
}

static void stacks_add_other(goc__g *g, void *arg)
{
	struct stacks *l = arg;
	if (g == l->self || l->failed)
		return;
	goc__g_summary s;
	goc__g_summarize(g, &s);
	stacks_add(l, &s.trace);
}

static int trace_compare(const void *a, const void *b)
{
	const goc__stacktrace *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	if (x->first_exact != y->first_exact)
		return x->first_exact ? 1 : -1;
	return memcmp(x->pcs, y->pcs, (size_t)x->n * sizeof x->pcs[0]);
}

/* A run of equal stacks in the sorted list. */
struct stack_group {
	size_t first, count;
};

static int group_compare(const void *a, const void *b)
{
	const struct stack_group *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* goroutine?debug=1: Go's "goroutine profile: total N", then the
 * distinct stacks, most common first. */
__attribute__((noinline)) static int write_goroutine_text(FILE *f, const void *arg)
{
	(void)arg;
	goc__m *m = goc__m_self();
	struct stacks l = {.self = m ? m->curg : NULL};
	goc__stacktrace own;
	if (l.self && goc__unwind_self(0, &own))
		stacks_add(&l, &own);
	goc__g_for_each(stacks_add_other, &l);
	struct stack_group *groups = l.failed ? NULL : malloc((l.n + 1) * sizeof *groups);
	if (!groups) {
		free(l.items);
		return ENOMEM;
	}
	qsort(l.items, l.n, sizeof *l.items, trace_compare);
	size_t ngroups = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (i == 0 || trace_compare(&l.items[i - 1], &l.items[i]) != 0)
			groups[ngroups++] = (struct stack_group){.first = i};
		groups[ngroups - 1].count++;
	}
	qsort(groups, ngroups, sizeof *groups, group_compare);
	fprintf(f, "goroutine profile: total %zu\n", l.n);
	for (size_t i = 0; i < ngroups; i++) {
		const goc__stacktrace *t = &l.items[groups[i].first];
		fprintf(f, "%zu @", groups[i].count);
		print_pcs(f, t);
		print_frames(f, t);
	}
	free(groups);
	free(l.items);
	return 0;
}

static int write_dump(FILE *f, const void *arg)
{
	(void)arg;
	goc_dump(f);
	return ferror(f) ? ENOMEM : 0;
}

static int delay_compare(const void *a, const void *b)
{
	const goc__contention_record *x = a, *y = b;
	return x->delay_ns > y->delay_ns ? -1 : x->delay_ns < y->delay_ns;
}

/* Which contention profile, for its text and proto writers. */
struct contention_view {
	const char *heading; /* Go's: "contention" (block), "mutex" */
	goc__contention_table *(*table)(void);
	goc_status (*write_proto)(FILE *out);
	bool sampled; /* print the mutex fraction */
};

static const struct contention_view block_view = {"contention", goc__blockprof_table,
						  goc_pprof_block, false};
static const struct contention_view mutex_view = {"mutex", goc__mutexprof_table, goc_pprof_mutex,
						  true};

/* block|mutex?debug=1: Go's text form. Delays are nanoseconds, so
 * "cycles" are nanoseconds at 1e9 per second. */
static int write_contention_text(FILE *f, const void *arg)
{
	const struct contention_view *v = arg;
	goc__contention_record *records;
	size_t n;
	int err = goc__contention_snapshot(v->table(), &records, &n);
	if (err)
		return err;
	qsort(records, n, sizeof *records, delay_compare);
	fprintf(f, "--- %s:\ncycles/second=%" PRId64 "\n", v->heading, GOC_SECOND);
	if (v->sampled)
		fprintf(f, "sampling period=%d\n", goc_pprof_set_mutex_fraction(-1));
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%" PRId64 " %" PRId64 " @", records[i].delay_ns, records[i].count);
		print_pcs(f, &records[i].stack);
		print_frames(f, &records[i].stack);
	}
	free(records);
	return 0;
}

static int write_contention_proto(FILE *f, const void *arg)
{
	const struct contention_view *v = arg;
	return status_errno(v->write_proto(f));
}

/* heap|allocs?debug=1: Go's text form ("inuse_objects: inuse_bytes
 * [alloc_objects: alloc_bytes] @ pcs", headed by the totals and
 * heap/<2 * rate>), then the MemStats lines Go appends. */
static int write_heap_text(FILE *f, const void *arg)
{
	(void)arg;
	goc__heapprof_record *r;
	size_t n;
	int err = goc__heapprof_snapshot(&r, &n);
	if (err)
		return err;
	int64_t t[4] = {0, 0, 0, 0};
	for (size_t i = 0; i < n; i++) {
		t[0] += r[i].inuse_objects;
		t[1] += r[i].inuse_bytes;
		t[2] += r[i].alloc_objects;
		t[3] += r[i].alloc_bytes;
	}
	fprintf(f,
		"heap profile: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @ heap/%" PRId64
		"\n",
		t[0], t[1], t[2], t[3], 2 * goc_set_mem_profile_rate(-1));
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @",
			r[i].inuse_objects, r[i].inuse_bytes, r[i].alloc_objects, r[i].alloc_bytes);
		print_pcs(f, &r[i].stack);
		print_frames(f, &r[i].stack);
	}
	free(r);
	goc_memstats m;
	goc_memstats_read(&m);
	fprintf(f,
		"\n# runtime.MemStats\n# Alloc = %" PRIu64 "\n# TotalAlloc = %" PRIu64
		"\n# Sys = %" PRIu64 "\n# Mallocs = %" PRIu64 "\n# Frees = %" PRIu64
		"\n# HeapAlloc = %" PRIu64 "\n# HeapSys = %" PRIu64 "\n# HeapIdle = %" PRIu64
		"\n# HeapInuse = %" PRIu64 "\n# HeapReleased = %" PRIu64
		"\n# HeapObjects = %" PRIu64 "\n# Stack = %" PRIu64 " / %" PRIu64 "\n",
		m.alloc, m.total_alloc, m.sys, m.mallocs, m.frees, m.heap_alloc, m.heap_sys,
		m.heap_idle, m.heap_inuse, m.heap_released, m.heap_objects, m.stack_inuse,
		m.stack_sys);
	return 0;
}

static int write_heap_proto(FILE *f, const void *arg)
{
	return goc__heapprof_write(f, arg != NULL);
}

static int write_goroutine_proto(FILE *f, const void *arg)
{
	(void)arg;
	return status_errno(goc_pprof_goroutine(f));
}

/* ---- the index ---- */

static int64_t contention_count(const struct contention_view *v)
{
	goc__contention_record *records;
	size_t n;
	if (goc__contention_snapshot(v->table(), &records, &n))
		return -1;
	free(records);
	return (int64_t)n;
}

static int64_t heap_count(void)
{
	goc__heapprof_record *records;
	size_t n;
	if (goc__heapprof_snapshot(&records, &n))
		return -1;
	free(records);
	return (int64_t)n;
}

static int write_index(FILE *f, const void *arg)
{
	(void)arg;
	const struct {
		const char *name, *href, *about;
		int64_t count;
	} rows[] = {
		{"allocs", "allocs?debug=1",
		 "a sampling of every allocation since the program started (goc's heap; "
		 "goc_set_mem_profile_rate sets the sampling)",
		 heap_count()},
		{"block", "block?debug=1",
		 "where goroutines waited on channels, select and the sync types, and for how long "
		 "(goc_pprof_set_block_rate turns it on)",
		 contention_count(&block_view)},
		{"goroutine", "goroutine?debug=1",
		 "the stacks of every goroutine now; debug=2 prints them as goc_dump does",
		 goc_num_goroutine()},
		{"heap", "heap?debug=1",
		 "a sampling of the objects of goc's heap in use now, and of every allocation; "
		 "open it with go tool pprof -sample_index=inuse_space",
		 heap_count()},
		{"mutex", "mutex?debug=1",
		 "the unlocks that ended contended waits on goc_mutex and goc_rwmutex "
		 "(goc_pprof_set_mutex_fraction turns it on)",
		 contention_count(&mutex_view)},
		{"profile", "profile",
		 "a CPU profile over the seconds given by ?seconds= (30 by default); open it with "
		 "go tool pprof",
		 0},
		{"trace", "trace?seconds=1",
		 "an execution trace in Go's format over the seconds given by ?seconds= (1 by "
		 "default); open it with go tool trace",
		 0},
	};
	fputs("<html>\n<head><title>/debug/pprof/</title></head>\n<body>\n/debug/pprof/<br>\n"
	      "<br>\nProfiles:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n",
	      f);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		fprintf(f, "<tr><td>%" PRId64 "</td><td><a href=\"%s\">%s</a></td></tr>\n",
			rows[i].count, rows[i].href, rows[i].name);
	fputs("</table>\n<a href=\"goroutine?debug=2\">every goroutine's stack (goc_dump)</a>\n"
	      "<br>\n<p>\nWhat they hold:\n<ul>\n",
	      f);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		fprintf(f, "<li><b>%s</b>: %s</li>\n", rows[i].name, rows[i].about);
	fputs("</ul>\n</p>\n<p>Also: <a href=\"/debug/sched\">/debug/sched</a>, "
	      "<a href=\"/debug/vars\">/debug/vars</a>.</p>\n</body>\n</html>\n",
	      f);
	return 0;
}

/* ---- JSON ---- */

static void json_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *p_status_name(uint32_t status)
{
	switch (status) {
	case P_IDLE:
		return "idle";
	case P_RUNNING:
		return "running";
	case P_RETIRING:
		return "retiring";
	case P_DEAD:
		return "dead";
	case P_SYSCALL:
		return "syscall";
	default:
		return "?";
	}
}

struct census {
	int64_t total, runnable, running, waiting;
	int64_t by_reason[WAIT_REASON_COUNT];
};

static void census_add(goc__g *g, void *arg)
{
	struct census *c = arg;
	goc__g_brief b;
	goc__g_brief_take(g, &b);
	c->total++;
	if (b.state == G_RUNNABLE)
		c->runnable++;
	else if (b.state == G_RUNNING)
		c->running++;
	else if (b.state == G_WAITING) {
		c->waiting++;
		if (b.wait_reason < WAIT_REASON_COUNT)
			c->by_reason[b.wait_reason]++;
	}
}

static void write_census(FILE *f)
{
	struct census c = {0};
	goc__g_for_each(census_add, &c);
	fprintf(f,
		"\"goroutines\": {\"total\": %" PRId64 ", \"running\": %" PRId64
		", \"runnable\": %" PRId64 ", \"waiting\": %" PRId64 ", \"wait_reasons\": {",
		c.total, c.running, c.runnable, c.waiting);
	const char *sep = "";
	for (int r = 0; r < WAIT_REASON_COUNT; r++) {
		if (!c.by_reason[r])
			continue;
		const char *name = goc__wait_reason_string((goc__wait_reason)r);
		fputs(sep, f);
		json_string(f, name, strlen(name));
		fprintf(f, ": %" PRId64, c.by_reason[r]);
		sep = ", ";
	}
	fputs("}}", f);
}

/* /debug/sched: the scheduler as schedtrace with scheddetail sees it. */
static int write_sched(FILE *f, const void *arg)
{
	(void)arg;
	goc_sched_stats st;
	goc_sched_stats_read(&st);
	fprintf(f,
		"{\n\"gomaxprocs\": %d,\n\"idleprocs\": %d,\n\"threads\": %d,\n"
		"\"spinningthreads\": %d,\n\"idlethreads\": %d,\n\"runqueue\": %" PRId64
		",\n\"procs\": [",
		st.procs, st.idle_procs, st.threads, st.spinning_threads, st.idle_threads,
		st.global_runq);
	for (int i = 0; i < st.procs; i++) {
		goc__p_view v;
		goc__p_view_take(goc__sched.allp[i], &v);
		fprintf(f,
			"%s\n  {\"id\": %d, \"status\": \"%s\", \"m\": %" PRId64
			", \"curg\": %" PRId64 ", \"runqsize\": %" PRId64
			", \"schedtick\": %u, \"gfreecnt\": %u"
			", \"switches\": %" PRId64 ", \"spawned\": %" PRId64 "}",
			i ? "," : "", v.id, p_status_name(v.status), v.m_id, v.curg_id, v.runq,
			v.schedtick, v.gfree, st.p[i].switches, st.p[i].spawned);
	}
	fputs("\n],\n\"ms\": [", f);
	const char *sep = "";
	for (const goc__m *m = goc__m_next(NULL); m; m = goc__m_next(m)) {
		goc__m_view v;
		goc__m_view_take(m, &v);
		fprintf(f,
			"%s\n  {\"id\": %" PRId64 ", \"p\": %" PRId64 ", \"curg\": %" PRId64
			", \"spinning\": %s, \"idle\": %s}",
			sep, v.id, v.p_id, v.curg_id, v.spinning ? "true" : "false",
			v.blocked ? "true" : "false");
		sep = ",";
	}
	fputs("\n],\n", f);
	write_census(f);
	fputs("\n}\n", f);
	return 0;
}

/* The command line, NUL-separated as in /proc/self/cmdline (malloc'd). */
static char *read_cmdline(size_t *len)
{
	*len = 0;
	FILE *in = fopen("/proc/self/cmdline", "re");
	if (!in)
		return NULL;
	char *data = NULL;
	size_t cap = 0;
	for (;;) {
		if (cap - *len < 1024) {
			char *bigger = realloc(data, cap + 4096);
			if (!bigger)
				break;
			data = bigger;
			cap += 4096;
		}
		size_t got = fread(data + *len, 1, cap - *len, in);
		if (got == 0)
			break;
		*len += got;
	}
	fclose(in);
	return data;
}

static void write_cmdline_json(FILE *f)
{
	size_t len;
	char *args = read_cmdline(&len);
	fputs("\"cmdline\": [", f);
	for (size_t at = 0; at < len;) {
		size_t n = strnlen(args + at, len - at);
		if (at)
			fputs(", ", f);
		json_string(f, args + at, n);
		at += n + 1;
	}
	fputs("]", f);
	free(args);
}

static int64_t resident_bytes(void)
{
	FILE *in = fopen("/proc/self/statm", "re");
	long long size = 0, resident = 0;
	if (!in)
		return 0;
	if (fscanf(in, "%lld %lld", &size, &resident) != 2)
		resident = 0;
	fclose(in);
	return resident * sysconf(_SC_PAGESIZE);
}

/* /debug/vars: expvar's cmdline and memstats (the keys that have a C
 * counterpart) and the scheduler's counters. */
static int write_vars(FILE *f, const void *arg)
{
	(void)arg;
	goc_sched_stats st;
	goc_sched_stats_read(&st);
	int64_t switches = 0, spawned = 0;
	for (int i = 0; i < st.procs; i++) {
		switches += st.p[i].switches;
		spawned += st.p[i].spawned;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	goc_memstats m;
	goc_memstats_read(&m);
	fputs("{\n", f);
	write_cmdline_json(f);
	fprintf(f,
		",\n\"goroutines\": %" PRId64 ",\n\"memstats\": {\"HeapAlloc\": %" PRIu64
		", \"Alloc\": %" PRIu64 ", \"TotalAlloc\": %" PRIu64 ", \"Sys\": %" PRIu64
		", \"Mallocs\": %" PRIu64 ", \"Frees\": %" PRIu64 ", \"HeapSys\": %" PRIu64
		", \"HeapIdle\": %" PRIu64 ", \"HeapInuse\": %" PRIu64
		", \"HeapReleased\": %" PRIu64 ", \"HeapObjects\": %" PRIu64
		", \"StackInuse\": %" PRIu64 ", \"StackSys\": %" PRIu64 ", \"RSS\": %" PRId64
		", \"MaxRSS\": %lld},\n",
		st.goroutines, m.heap_alloc, m.alloc, m.total_alloc, m.sys, m.mallocs, m.frees,
		m.heap_sys, m.heap_idle, m.heap_inuse, m.heap_released, m.heap_objects,
		m.stack_inuse, m.stack_sys, resident_bytes(), (long long)ru.ru_maxrss * 1024);
	fprintf(f,
		"\"sched\": {\"gomaxprocs\": %d, \"idleprocs\": %d, \"threads\": %d, "
		"\"idlethreads\": %d, \"spinningthreads\": %d, \"runqueue\": %" PRId64
		", \"steals\": %" PRId64 ", \"retakes\": %" PRId64 ", \"long_runs\": %" PRId64
		", \"switches\": %" PRId64 ", \"spawned\": %" PRId64 "},\n",
		st.procs, st.idle_procs, st.threads, st.idle_threads, st.spinning_threads,
		st.global_runq, st.steals, st.retakes, st.long_runs, switches, spawned);
	goc__http_counters hs;
	goc__http_counters_read(&hs);
	fprintf(f,
		"\"http\": {\"conns_open\": %" PRId64 ", \"conns_accepted\": %" PRId64
		", \"conn_limit_waits\": %" PRId64 "}\n}\n",
		hs.conns_open, hs.conns_accepted, hs.conn_limit_waits);
	return 0;
}

static void serve_cmdline(goc_http_exchange *x)
{
	size_t len;
	char *args = read_cmdline(&len);
	respond(x, 200, "text/plain; charset=utf-8", NULL, args ? args : "", len);
	free(args);
}

/* ---- the CPU profile and the execution trace ---- */

/* A recording that runs for the request's duration: the CPU profile
 * (one per process) or the execution trace (one per process). */
struct timed {
	goc_status (*start)(FILE *out);
	goc_status (*stop)(void);
	const char *what;       /* in error messages */
	const char *attachment; /* the file name offered */
};

static goc_status trace_start_go(FILE *out)
{
	return goc_trace_start_format(out, GOC_TRACE_GO);
}

static const struct timed cpu_profile = {goc_pprof_cpu_start, goc_pprof_cpu_stop, "CPU profiling",
					 "profile"};
static const struct timed exec_trace = {trace_start_go, goc_trace_stop, "tracing", "trace"};

/* Records for duration ns, or until the server stops or the client goes
 * away, and answers with what was recorded. */
static void serve_timed(goc_http_exchange *x, const struct timed *t, int64_t duration)
{
	char *data = NULL;
	size_t len = 0;
	char what[64];
	FILE *f = open_memstream(&data, &len);
	snprintf(what, sizeof what, "Could not enable %s", t->what);
	if (!f) {
		respond_error(x, 500, what, ENOMEM);
		return;
	}
	goc_status started = t->start(f);
	if (started != GOC_OK) {
		int err = status_errno(started);
		fclose(f);
		free(data);
		if (err == EBUSY) {
			snprintf(what, sizeof what, "Could not enable %s: %s already in use",
				 t->what, t->what);
			respond_error(x, 500, what, 0);
		} else
			respond_error(x, 500, what, err);
		return;
	}
	goc_select_case ends[] = {
		{.chan = goc_ctx_done(server.stop), .dir = GOC_SELECT_RECV},
		{.chan = goc_ctx_done(goc_http_ctx(x)), .dir = GOC_SELECT_RECV},
	};
	goc_select(ends, 2, duration);
	int err = status_errno(t->stop());
	if (fclose(f) != 0 && !err)
		err = ENOMEM;
	if (err) {
		snprintf(what, sizeof what, "Could not write the %s", t->attachment);
		respond_error(x, 500, what, err);
	} else
		respond(x, 200, "application/octet-stream", t->attachment, data, len);
	free(data);
}

/* ---- routing ---- */

static bool path_is(const goc_http_request *r, const char *path)
{
	size_t n = strlen(path);
	return r->path.len == n && !memcmp(r->path.ptr, path, n);
}

static void serve_contention(goc_http_exchange *x, const struct contention_view *v,
			     const char *attachment, int64_t debug)
{
	if (debug > 0)
		serve_written(x, write_contention_text, v, "text/plain; charset=utf-8", NULL);
	else
		serve_written(x, write_contention_proto, v, "application/octet-stream", attachment);
}

static void route(goc_http_exchange *x, void *user)
{
	(void)user;
	const goc_http_request *r = goc_http_req(x);
	int64_t debug = query_int(r->query, "debug", 0);
	if (path_is(r, "/debug/pprof/") || path_is(r, "/debug/pprof"))
		serve_written(x, write_index, NULL, "text/html; charset=utf-8", NULL);
	else if (path_is(r, "/debug/pprof/profile"))
		serve_timed(x, &cpu_profile, query_seconds(r->query, DEFAULT_PROFILE_SECONDS));
	else if (path_is(r, "/debug/pprof/trace"))
		serve_timed(x, &exec_trace, query_seconds(r->query, DEFAULT_TRACE_SECONDS));
	else if (path_is(r, "/debug/pprof/goroutine") && debug >= 2)
		serve_written(x, write_dump, NULL, "text/plain; charset=utf-8", NULL);
	else if (path_is(r, "/debug/pprof/goroutine") && debug == 1)
		serve_written(x, write_goroutine_text, NULL, "text/plain; charset=utf-8", NULL);
	else if (path_is(r, "/debug/pprof/goroutine"))
		serve_written(x, write_goroutine_proto, NULL, "application/octet-stream",
			      "goroutine");
	else if (path_is(r, "/debug/pprof/block"))
		serve_contention(x, &block_view, "block", debug);
	else if (path_is(r, "/debug/pprof/mutex"))
		serve_contention(x, &mutex_view, "mutex", debug);
	else if (path_is(r, "/debug/pprof/heap") || path_is(r, "/debug/pprof/allocs")) {
		/* gc=1 asks Go to collect first; C frees explicitly, so the
		 * profile is current anyway and gc is ignored. */
		bool allocs = path_is(r, "/debug/pprof/allocs");
		if (debug > 0)
			serve_written(x, write_heap_text, NULL, "text/plain; charset=utf-8", NULL);
		else
			serve_written(x, write_heap_proto, allocs ? "" : NULL,
				      "application/octet-stream", allocs ? "allocs" : "heap");
	} else if (path_is(r, "/debug/pprof/cmdline"))
		serve_cmdline(x);
	else if (path_is(r, "/debug/sched"))
		serve_written(x, write_sched, NULL, "application/json; charset=utf-8", NULL);
	else if (path_is(r, "/debug/vars"))
		serve_written(x, write_vars, NULL, "application/json; charset=utf-8", NULL);
	else if (path_is(r, "/metrics"))
		goc_metrics_handler(x, NULL);
	else
		respond(x, 404, "text/plain; charset=utf-8", NULL, "404 page not found\n", 19);
}

/* ---- the server ---- */

static void serve_main(void *arg)
{
	(void)arg;
	goc_http_server_options opts = {.shutdown = server.stop,
					.shutdown_timeout = SHUTDOWN_TIMEOUT};
	if (goc_http_serve(server.ln, route, NULL, &opts) < 0)
		goc_listener_close(server.ln);
	goc_wg_done(&server.serving);
}

/* server.lock held, not running. */
static int start_locked(const char *addr)
{
	goc_listener *ln;
	int err = goc_listen("tcp", addr, &ln);
	if (err)
		return err;
	goc_ctx *stop = goc_ctx_with_cancel(goc_ctx_background());
	if (!stop) {
		goc_listener_close(ln);
		return -ENOMEM;
	}
	if (goc_listener_addr(ln, server.addr, sizeof server.addr) < 0)
		server.addr[0] = 0;
	server.stop = stop;
	server.ln = ln;
	goc_wg_add(&server.serving, 1);
	goc_go_options named = {.name = "debug server"};
	int64_t id = goc_go_opts(serve_main, NULL, &named);
	if (id < 0) {
		goc_wg_done(&server.serving);
		goc_ctx_release(stop);
		goc_listener_close(ln);
		return (int)id;
	}
	server.running = true;
	return 0;
}

int goc_debug_serve(const char *addr)
{
	if (!addr)
		return -EINVAL;
	goc__runtime_init();
	goc_mutex_lock(&server.lock);
	int err = server.running ? -EBUSY : start_locked(addr);
	goc_mutex_unlock(&server.lock);
	return err;
}

int goc_debug_serve_addr(char *buf, size_t size)
{
	goc_mutex_lock(&server.lock);
	size_t n = strlen(server.addr);
	int r = !server.running ? -ENOTCONN : n >= size ? -ENOSPC : (int)n;
	if (r >= 0)
		memcpy(buf, server.addr, n + 1);
	goc_mutex_unlock(&server.lock);
	return r;
}

void goc_debug_serve_stop(void)
{
	goc_mutex_lock(&server.lock);
	if (server.running) {
		goc_ctx_cancel(server.stop);
		goc_wg_wait(&server.serving);
		goc_ctx_release(server.stop);
		server.stop = NULL;
		server.ln = NULL;
		server.addr[0] = 0;
		server.running = false;
	}
	goc_mutex_unlock(&server.lock);
}
