/*
 * metrics.c — Prometheus metrics (goc/metrics.h): the registry of the
 * program's counters, gauges and histograms, their per-P cells, and the
 * text exposition format 0.0.4 of those and of the runtime's own metrics.
 *
 *   families ──► family "app_requests_total" (type, help)
 *                   └─ series {method="GET"} ──► slot 17: cells 17.. in
 *                   └─ series {method="PUT"}      every P's chunk, and
 *                                                 shared[] for plain threads
 *
 * Cells. A series owns `ncells` consecutive slots (a counter or gauge
 * one; a histogram one per bucket, +Inf included, then the sum as a
 * double's bits). Slot s of P i is chunks[i][s / CHUNK_CELLS][s %
 * CHUNK_CELLS]; a series never straddles two chunks. Updates find the
 * calling goroutine's P and add to its cell with a relaxed load and
 * store: P-local state (ARCHITECTURE.md §28), written only by the M holding
 * the P, which cannot lose it or be preempted inside goc between the read
 * of m->p and the store; no other core writes the line, so it never
 * bounces. A thread that is not running a goroutine on a P, or a P whose
 * chunk could not be allocated, adds to the series' shared cells instead,
 * with atomic read-modify-writes.
 *
 * Invariants:
 *  - registry.lock (a pthread mutex: registration never parks a
 *    goroutine) protects the family list, every family's series list and
 *    next_slot. Families and series are never freed.
 *  - A chunk pointer goes from NULL to a zeroed chunk once, stored
 *    (release) by the M holding its P; readers load it with acquire, so
 *    they see zeros or later adds. Chunks are never freed.
 *  - A scrape reads every cell with a relaxed load: each value is exact,
 *    the set is a near-instant view (a histogram's count is the sum of
 *    its buckets as read, so _count always equals the +Inf bucket).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../net/netpoll.h"
#include "debug.h"
#include "trace.h"

enum {
	CHUNK_CELLS = 1024,
	MAX_CHUNKS = 64, /* 65536 cells in all */
	MAX_BOUNDS = 64,
};

enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

struct family;

/* One series. Everything but shared[] is set at registration. */
struct series {
	struct family *family;
	struct series *next; /* the family's next series; registry.lock */
	char *labels;        /* `k="v",...` as registered, "" for none */
	int32_t slot;        /* first cell */
	int32_t ncells;
	int nbounds;     /* histograms: bounds, without +Inf */
	double *bounds;  /* histograms */
	int64_t *shared; /* ncells cells for threads without a P; atomic */
};

struct goc_metric_counter {
	struct series s;
};
struct goc_metric_gauge {
	struct series s;
};
struct goc_metric_histogram {
	struct series s;
};

struct family {
	struct family *next; /* registry.lock */
	enum metric_kind kind;
	char *name;
	char *help;            /* "" for none */
	struct series *series; /* registration order; registry.lock */
	struct series *last;
};

static struct {
	pthread_mutex_t lock;
	struct family *families, *last;
	int32_t next_slot;
} registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Every P's chunks; atomic pointers, see the invariants. */
static int64_t *chunks[GOC_MAX_PROCS][MAX_CHUNKS];

/* ---- validation ---- */

static bool name_char(char c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		(colon && c == ':') || (!first && c >= '0' && c <= '9');
}

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++)
		if (!name_char(s[i], i == 0, colon))
			return false;
	return true;
}

/* A label set in the exposition's syntax, with no reserved or repeated
 * name (repeats are caught only among the first 16 labels). */
static bool valid_labels(const char *s)
{
	const char *names[16];
	size_t lens[16];
	int n = 0;
	while (*s) {
		const char *name = s;
		while (name_char(*s, s == name, false))
			s++;
		size_t len = (size_t)(s - name);
		if (len == 0 || (len >= 2 && name[0] == '_' && name[1] == '_') ||
		    (len == 2 && !memcmp(name, "le", 2)))
			return false;
		for (int i = 0; i < n; i++)
			if (lens[i] == len && !memcmp(names[i], name, len))
				return false;
		if (n < 16) {
			names[n] = name;
			lens[n++] = len;
		}
		if (s[0] != '=' || s[1] != '"')
			return false;
		for (s += 2; *s != '"'; s++) {
			if (!*s || *s == '\n')
				return false;
			if (*s == '\\' && s[1] != '\\' && s[1] != '"' && s[1] != 'n')
				return false;
			if (*s == '\\')
				s++;
		}
		s++;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return false;
	}
	return true;
}

/* ---- registration ---- */

static struct family *family_find(const char *name)
{
	for (struct family *f = registry.families; f; f = f->next)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

/* registry.lock held. The first slot of n consecutive cells in one chunk,
 * or -1 if the cells are used up. */
static int32_t slots_take(int32_t n)
{
	int32_t slot = registry.next_slot;
	if (slot % CHUNK_CELLS + n > CHUNK_CELLS)
		slot = (slot / CHUNK_CELLS + 1) * CHUNK_CELLS;
	if (slot + n > CHUNK_CELLS * MAX_CHUNKS)
		return -1;
	registry.next_slot = slot + n;
	return slot;
}

static struct series *series_new(enum metric_kind kind, size_t size, const char *name,
				 const char *help, const char *labels, const double *bounds,
				 int nbounds)
{
	if (!labels)
		labels = "";
	if (!help)
		help = "";
	if (!valid_name(name, true) || !valid_labels(labels)) {
		errno = EINVAL;
		return NULL;
	}
	if (kind == KIND_HISTOGRAM) {
		if (!bounds || nbounds < 1 || nbounds > MAX_BOUNDS) {
			errno = EINVAL;
			return NULL;
		}
		for (int i = 0; i < nbounds; i++)
			if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1])) {
				errno = EINVAL;
				return NULL;
			}
	}
	int32_t ncells = kind == KIND_HISTOGRAM ? nbounds + 2 : 1;
	struct series *s = calloc(1, size);
	struct family *fresh = calloc(1, sizeof *fresh);
	if (s) {
		s->labels = strdup(labels);
		s->shared = calloc((size_t)ncells, sizeof *s->shared);
		s->bounds =
			kind == KIND_HISTOGRAM ? malloc((size_t)nbounds * sizeof *bounds) : NULL;
	}
	if (fresh) {
		fresh->name = strdup(name);
		fresh->help = strdup(help);
	}
	bool made = s && s->labels && s->shared && (kind != KIND_HISTOGRAM || s->bounds) && fresh &&
		fresh->name && fresh->help;
	int err = made ? 0 : ENOMEM;
	struct family *f = NULL;
	if (made) {
		pthread_mutex_lock(&registry.lock);
		f = family_find(name);
		if (f && (f->kind != kind || strcmp(f->help, help)))
			err = EEXIST;
		for (struct series *o = f ? f->series : NULL; o && !err; o = o->next)
			if (!strcmp(o->labels, labels))
				err = EEXIST;
		if (!err && (s->slot = slots_take(ncells)) < 0)
			err = ENOMEM;
		if (!err) {
			if (!f) {
				f = fresh;
				fresh = NULL;
				f->kind = kind;
				if (registry.last)
					registry.last->next = f;
				else
					registry.families = f;
				registry.last = f;
			}
			s->family = f;
			s->ncells = ncells;
			s->nbounds = kind == KIND_HISTOGRAM ? nbounds : 0;
			if (s->bounds)
				memcpy(s->bounds, bounds, (size_t)nbounds * sizeof *bounds);
			if (f->last)
				f->last->next = s;
			else
				f->series = s;
			f->last = s;
		}
		pthread_mutex_unlock(&registry.lock);
	}
	if (fresh) {
		free(fresh->name);
		free(fresh->help);
		free(fresh);
	}
	if (err) {
		if (s) {
			free(s->labels);
			free(s->shared);
			free(s->bounds);
			free(s);
		}
		errno = err;
		return NULL;
	}
	return s;
}

goc_metric_counter *goc_metric_counter_new(const char *name, const char *help, const char *labels)
{
	return (goc_metric_counter *)series_new(KIND_COUNTER, sizeof(goc_metric_counter), name,
						help, labels, NULL, 0);
}

goc_metric_gauge *goc_metric_gauge_new(const char *name, const char *help, const char *labels)
{
	return (goc_metric_gauge *)series_new(KIND_GAUGE, sizeof(goc_metric_gauge), name, help,
					      labels, NULL, 0);
}

goc_metric_histogram *goc_metric_histogram_new(const char *name, const char *help,
					       const char *labels, const double *bounds, int n)
{
	return (goc_metric_histogram *)series_new(KIND_HISTOGRAM, sizeof(goc_metric_histogram),
						  name, help, labels, bounds, n);
}

/* ---- updates ---- */

/* P id's chunk c, made now (by the M holding P id). NULL if there is no
 * memory. */
static __attribute__((noinline)) int64_t *chunk_make(int32_t id, int32_t c)
{
	int64_t *fresh = calloc(CHUNK_CELLS, sizeof *fresh);
	if (fresh)
		goc__store_release(&chunks[id][c], fresh);
	return fresh;
}

/*
 * Adds delta to cell i of s: to the calling goroutine's P's cell (a plain
 * read and write, see above), else to s's shared one.
 */
static inline void cell_add(const struct series *s, int32_t i, int64_t delta)
{
	goc__m *m = goc__m_self();
	goc__p *p = m ? m->p : NULL;
	if (p) {
		int32_t slot = s->slot + i;
		int32_t c = slot / CHUNK_CELLS;
		int64_t *chunk = goc__load_relaxed(&chunks[p->id][c]);
		if (__builtin_expect(chunk != NULL, 1) || (chunk = chunk_make(p->id, c))) {
			int64_t *cell = &chunk[slot % CHUNK_CELLS];
			goc__store_relaxed(cell, goc__load_relaxed(cell) + delta);
			return;
		}
	}
	goc__fetch_add_relaxed(&s->shared[i], delta);
}

void goc_metric_counter_add(goc_metric_counter *c, int64_t delta)
{
	if (delta < 0)
		goc__panic("goc_metric_counter_add: negative delta %" PRId64 " on %s", delta,
			   c->s.family->name);
	cell_add(&c->s, 0, delta);
}

void goc_metric_gauge_add(goc_metric_gauge *g, int64_t delta)
{
	cell_add(&g->s, 0, delta);
}

/* The sum of cell i of s over every P; without the shared cell. */
static int64_t sum_of_ps(const struct series *s, int32_t i)
{
	int32_t slot = s->slot + i;
	int64_t sum = 0;
	for (int p = 0; p < GOC_MAX_PROCS; p++) {
		const int64_t *chunk = goc__load_acquire(&chunks[p][slot / CHUNK_CELLS]);
		if (chunk)
			sum += goc__load_relaxed(&chunk[slot % CHUNK_CELLS]);
	}
	return sum;
}

void goc_metric_gauge_set(goc_metric_gauge *g, int64_t value)
{
	/* The shared cell takes whatever makes the total value. */
	goc__store_relaxed(&g->s.shared[0], value - sum_of_ps(&g->s, 0));
}

static int64_t cell_total(const struct series *s, int32_t i)
{
	return sum_of_ps(s, i) + goc__load_relaxed(&s->shared[i]);
}

int64_t goc_metric_counter_value(const goc_metric_counter *c)
{
	return cell_total(&c->s, 0);
}

int64_t goc_metric_gauge_value(const goc_metric_gauge *g)
{
	return cell_total(&g->s, 0);
}

static double bits_double(int64_t bits)
{
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

static int64_t double_bits(double d)
{
	int64_t bits;
	memcpy(&bits, &d, sizeof bits);
	return bits;
}

void goc_metric_histogram_observe(goc_metric_histogram *h, double v)
{
	if (isnan(v))
		return;
	const struct series *s = &h->s;
	int b = 0;
	while (b < s->nbounds && v > s->bounds[b])
		b++;
	cell_add(s, b, 1);
	/* The sum is a double: its cell holds the bits. On a P that is a
	 * plain read and write like the others; on the shared cells a CAS. */
	int32_t sum_cell = s->nbounds + 1;
	goc__m *m = goc__m_self();
	goc__p *p = m ? m->p : NULL;
	int32_t slot = s->slot + sum_cell;
	int64_t *chunk = p ? goc__load_relaxed(&chunks[p->id][slot / CHUNK_CELLS]) : NULL;
	if (chunk) {
		int64_t *cell = &chunk[slot % CHUNK_CELLS];
		goc__store_relaxed(cell, double_bits(bits_double(goc__load_relaxed(cell)) + v));
		return;
	}
	int64_t old = goc__load_relaxed(&s->shared[sum_cell]);
	while (!goc__cas_weak_relaxed(&s->shared[sum_cell], &old,
				      double_bits(bits_double(old) + v)))
		;
}

/* ---- the exposition ---- */

/* Help text with backslash and newline escaped, as the format asks. */
static void put_help(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	for (const char *c = help; *c; c++) {
		if (*c == '\\')
			fputs("\\\\", f);
		else if (*c == '\n')
			fputs("\\n", f);
		else
			fputc(*c, f);
	}
	fputc('\n', f);
}

static void put_family_head(FILE *f, const char *name, const char *help, const char *type)
{
	put_help(f, name, help);
	fprintf(f, "# TYPE %s %s\n", name, type);
}

/* A double the shortest way that reads back the same. */
static void put_double(FILE *f, double v)
{
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", f);
		return;
	}
	if (isnan(v)) {
		fputs("NaN", f);
		return;
	}
	char text[40];
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(text, sizeof text, "%.*g", digits, v);
		if (strtod(text, NULL) == v)
			break;
	}
	fputs(text, f);
}

/* name{labels[,extra]} with the braces left out when both are empty. */
static void put_series_name(FILE *f, const char *name, const char *suffix, const char *labels,
			    const char *extra_name, double extra)
{
	fprintf(f, "%s%s", name, suffix);
	bool any = labels[0] || extra_name;
	if (any)
		fputc('{', f);
	fputs(labels, f);
	if (extra_name) {
		fprintf(f, "%s%s=\"", labels[0] ? "," : "", extra_name);
		put_double(f, extra);
		fputc('"', f);
	}
	if (any)
		fputc('}', f);
	fputc(' ', f);
}

/* A histogram's lines from its non-cumulative bucket counts. */
static void put_histogram(FILE *f, const char *name, const char *labels, const double *bounds,
			  int nbounds, const int64_t *counts, double sum)
{
	int64_t cumulative = 0;
	for (int b = 0; b <= nbounds; b++) {
		cumulative += counts[b];
		put_series_name(f, name, "_bucket", labels, "le",
				b < nbounds ? bounds[b] : INFINITY);
		fprintf(f, "%" PRId64 "\n", cumulative);
	}
	put_series_name(f, name, "_sum", labels, NULL, 0);
	put_double(f, sum);
	fputc('\n', f);
	put_series_name(f, name, "_count", labels, NULL, 0);
	fprintf(f, "%" PRId64 "\n", cumulative);
}

static void put_user_metrics(FILE *f)
{
	pthread_mutex_lock(&registry.lock);
	for (const struct family *fam = registry.families; fam; fam = fam->next) {
		put_family_head(f, fam->name, fam->help, kind_names[fam->kind]);
		for (const struct series *s = fam->series; s; s = s->next) {
			if (fam->kind != KIND_HISTOGRAM) {
				put_series_name(f, fam->name, "", s->labels, NULL, 0);
				fprintf(f, "%" PRId64 "\n", cell_total(s, 0));
				continue;
			}
			int64_t counts[MAX_BOUNDS + 1];
			for (int b = 0; b <= s->nbounds; b++)
				counts[b] = cell_total(s, b);
			double sum = bits_double(goc__load_relaxed(&s->shared[s->nbounds + 1]));
			for (int p = 0; p < GOC_MAX_PROCS; p++) {
				int32_t slot = s->slot + s->nbounds + 1;
				const int64_t *chunk =
					goc__load_acquire(&chunks[p][slot / CHUNK_CELLS]);
				if (chunk)
					sum += bits_double(
						goc__load_relaxed(&chunk[slot % CHUNK_CELLS]));
			}
			put_histogram(f, fam->name, s->labels, s->bounds, s->nbounds, counts, sum);
		}
	}
	pthread_mutex_unlock(&registry.lock);
}

static void put_gauge(FILE *f, const char *name, const char *help, int64_t v)
{
	put_family_head(f, name, help, "gauge");
	fprintf(f, "%s %" PRId64 "\n", name, v);
}

static void put_counter(FILE *f, const char *name, const char *help, int64_t v)
{
	put_family_head(f, name, help, "counter");
	fprintf(f, "%s %" PRId64 "\n", name, v);
}

static void count_waiting(goc__g *g, void *arg)
{
	int64_t *by_reason = arg;
	goc__g_brief b;
	goc__g_brief_take(g, &b);
	if (b.state == G_WAITING && b.wait_reason < WAIT_REASON_COUNT)
		by_reason[b.wait_reason]++;
}

static void put_runtime_metrics(FILE *f)
{
	goc_sched_stats st;
	goc_sched_stats_read(&st);
	put_gauge(f, "goc_goroutines", "Number of goroutines that currently exist.", st.goroutines);
	int64_t by_reason[WAIT_REASON_COUNT] = {0};
	goc__g_for_each(count_waiting, by_reason);
	put_family_head(f, "goc_goroutines_waiting", "Number of goroutines parked, by wait reason.",
			"gauge");
	for (int r = 1; r < WAIT_REASON_COUNT; r++)
		fprintf(f, "goc_goroutines_waiting{reason=\"%s\"} %" PRId64 "\n",
			goc__wait_reason_string((goc__wait_reason)r), by_reason[r]);
	put_gauge(f, "goc_threads", "Number of OS threads created.", st.threads);
	put_gauge(f, "goc_gomaxprocs", "Number of Ps (GOCMAXPROCS).", st.procs);
	put_gauge(f, "goc_netpoll_waiters", "Number of goroutines parked in the network poller.",
		  goc__netpoll_waiters());

	int64_t counts[GOC__SCHEDLAT_BUCKETS + 1], sum_ns;
	goc__schedlat_read(counts, &sum_ns);
	put_family_head(f, "goc_sched_latencies_seconds",
			"Time goroutines spent runnable before running, since the first scrape.",
			"histogram");
	put_histogram(f, "goc_sched_latencies_seconds", "", goc__schedlat_bounds,
		      GOC__SCHEDLAT_BUCKETS, counts, (double)sum_ns / 1e9);

	int64_t switches = 0, created = goc__load_relaxed(&goc__sched.foreign_created);
	int32_t made = goc__load_acquire(&goc__sched.nprocs_made);
	for (int32_t i = 0; i < made; i++) {
		const goc__p *p = goc__load_acquire(&goc__sched.allp[i]);
		switches += goc__load_relaxed(&p->switches);
		created += goc__load_relaxed(&p->created);
	}
	put_counter(f, "goc_goroutines_created_total", "Goroutines created.", created);
	put_counter(f, "goc_sched_switches_total", "Switches to a goroutine.", switches);
	put_counter(f, "goc_sched_steals_total", "Successful steals from another P's run queue.",
		    st.steals);
	put_counter(f, "goc_sched_retakes_total",
		    "Ps sysmon took from goroutines inside syscall sections.", st.retakes);
	put_counter(f, "goc_sched_long_runs_total",
		    "Runs over 10 ms without a scheduling point, as sysmon saw them.",
		    st.long_runs);

	/* goc's heap (goc_malloc), under the names client_golang's Go
	 * collector gives runtime.MemStats. */
	goc_memstats ms;
	goc_memstats_read(&ms);
	static const struct {
		const char *name, *help;
		size_t offset;
		bool counter;
	} memstats[] = {
		{"go_memstats_alloc_bytes", "Bytes of goc's heap allocated and still in use.",
		 offsetof(goc_memstats, alloc), false},
		{"go_memstats_alloc_bytes_total", "Bytes allocated by goc's heap, even if freed.",
		 offsetof(goc_memstats, total_alloc), true},
		{"go_memstats_sys_bytes",
		 "Bytes goc's heap and goroutine stacks reserved from the system.",
		 offsetof(goc_memstats, sys), false},
		{"go_memstats_mallocs_total", "Objects allocated by goc's heap.",
		 offsetof(goc_memstats, mallocs), true},
		{"go_memstats_frees_total", "Objects freed to goc's heap.",
		 offsetof(goc_memstats, frees), true},
		{"go_memstats_heap_alloc_bytes", "Bytes of live objects in goc's heap.",
		 offsetof(goc_memstats, heap_alloc), false},
		{"go_memstats_heap_sys_bytes", "Bytes of address space goc's heap reserved.",
		 offsetof(goc_memstats, heap_sys), false},
		{"go_memstats_heap_idle_bytes", "Bytes of goc's heap in free page runs.",
		 offsetof(goc_memstats, heap_idle), false},
		{"go_memstats_heap_inuse_bytes", "Bytes of goc's heap in spans holding objects.",
		 offsetof(goc_memstats, heap_inuse), false},
		{"go_memstats_heap_released_bytes", "Bytes of goc's heap given back to the system.",
		 offsetof(goc_memstats, heap_released), false},
		{"go_memstats_heap_objects", "Live objects in goc's heap.",
		 offsetof(goc_memstats, heap_objects), false},
		{"go_memstats_stack_inuse_bytes", "Bytes of goroutine stacks in use.",
		 offsetof(goc_memstats, stack_inuse), false},
		{"go_memstats_stack_sys_bytes", "Bytes reserved for goroutine stacks.",
		 offsetof(goc_memstats, stack_sys), false},
		{"go_memstats_other_sys_bytes", "Bytes of goc's heap metadata.",
		 offsetof(goc_memstats, meta_sys), false},
	};
	for (size_t i = 0; i < sizeof memstats / sizeof memstats[0]; i++) {
		uint64_t v;
		memcpy(&v, (const char *)&ms + memstats[i].offset, sizeof v);
		if (memstats[i].counter)
			put_counter(f, memstats[i].name, memstats[i].help, (int64_t)v);
		else
			put_gauge(f, memstats[i].name, memstats[i].help, (int64_t)v);
	}

	struct mallinfo2 heap = mallinfo2();
	put_gauge(f, "goc_memstats_heap_alloc_bytes", "Bytes of malloc's heap in use.",
		  (int64_t)(heap.uordblks + heap.hblkhd));
	put_gauge(f, "goc_memstats_heap_sys_bytes", "Bytes malloc obtained from the system.",
		  (int64_t)(heap.arena + heap.hblkhd));
}

/* ---- process_* (as Prometheus client libraries export them) ---- */

static int64_t count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int64_t n = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* Seconds since the epoch at which the process started: its start in
 * clock ticks since boot (/proc/self/stat field 22) plus the boot time. */
static double start_time(void)
{
	double boot = 0;
	FILE *in = fopen("/proc/stat", "re");
	char line[256];
	while (in && fgets(line, sizeof line, in))
		if (sscanf(line, "btime %lf", &boot) == 1)
			break;
	if (in)
		fclose(in);
	in = fopen("/proc/self/stat", "re");
	if (!in)
		return 0;
	char stat[1024];
	size_t n = fread(stat, 1, sizeof stat - 1, in);
	fclose(in);
	stat[n] = 0;
	/* Fields after the command's closing parenthesis: state is 3rd. */
	const char *p = strrchr(stat, ')');
	unsigned long long ticks = 0;
	for (int field = 2; p && *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (!p || sscanf(p, "%llu", &ticks) != 1)
		return 0;
	return boot + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

static void put_process_metrics(FILE *f)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	put_family_head(f, "process_cpu_seconds_total",
			"Total user and system CPU time spent in seconds.", "counter");
	fputs("process_cpu_seconds_total ", f);
	put_double(f, cpu);
	fputc('\n', f);

	long long pages = 0, resident = 0;
	FILE *in = fopen("/proc/self/statm", "re");
	if (in) {
		if (fscanf(in, "%lld %lld", &pages, &resident) != 2)
			pages = resident = 0;
		fclose(in);
	}
	long page = sysconf(_SC_PAGESIZE);
	put_gauge(f, "process_resident_memory_bytes", "Resident memory size in bytes.",
		  resident * page);
	put_gauge(f, "process_virtual_memory_bytes", "Virtual memory size in bytes.", pages * page);
	put_gauge(f, "process_open_fds", "Number of open file descriptors.", count_open_fds());
	struct rlimit lim;
	int64_t max_fds = -1;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
		max_fds = (int64_t)lim.rlim_cur;
	put_gauge(f, "process_max_fds", "Maximum number of open file descriptors.", max_fds);
	put_family_head(f, "process_start_time_seconds",
			"Start time of the process since unix epoch in seconds.", "gauge");
	fputs("process_start_time_seconds ", f);
	put_double(f, start_time());
	fputc('\n', f);
}

goc_status goc_metrics_write(FILE *out)
{
	goc__runtime_init();
	/* The latency histogram counts from the first scrape on. */
	goc__schedlat_start();
	put_runtime_metrics(out);
	put_process_metrics(out);
	put_user_metrics(out);
	if (ferror(out) || fflush(out) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

void goc_metrics_handler(goc_http_exchange *x, void *user)
{
	(void)user;
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);
	int err = f ? goc_metrics_write(f) : -ENOMEM;
	if (f && fclose(f) != 0 && !err)
		err = -ENOMEM;
	if (err) {
		static const char failed[] = "could not write the metrics\n";
		goc_http_set_status(x, 500);
		goc_http_add_header(x, "Content-Type", "text/plain; charset=utf-8");
		goc_http_set_length(x, (int64_t)sizeof failed - 1);
		goc_http_write(x, failed, sizeof failed - 1);
	} else {
		goc_http_set_status(x, 200);
		goc_http_add_header(x, "Content-Type", GOC_METRICS_CONTENT_TYPE);
		goc_http_set_length(x, (int64_t)len);
		goc_http_write(x, data, len);
	}
	free(data);
}
