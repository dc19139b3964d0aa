/*
 * heapprof.c — the heap profile (Go's runtime.MemProfileRate and pprof's
 * "heap" and "allocs" profiles): which stacks allocated how much, and how
 * much of it is still in use.
 *
 * Sampling is Go's: each cache counts down the bytes it hands out from an
 * exponentially distributed start whose mean is the rate (mcache.c), so
 * an allocation of n bytes is sampled with probability 1 - exp(-n/rate)
 * whichever cache serves it; the writer un-samples as Go's does (each
 * bucket's counts divided by that probability). A sampled allocation
 * walks its stack with the frame-pointer unwinder the CPU profiler uses,
 * without the allocator's own frames (they live in the section
 * goc_alloc_text), adds to the bucket of that stack and size, and is
 * remembered in a table by address; its span counts it (span.nsampled)
 * and sets the bit of its index modulo 64 in span.sampled_mask, so a free
 * looks in the table only when its own bit is set.
 *
 * inuse_* is exact at the moment of writing: C frees explicitly, and the
 * free of a sampled object is recorded as it happens (Go's profile shows
 * the heap as of the last completed GC).
 *
 * Invariants:
 *  - prof.lock protects the object table and the bucket chains' links;
 *    bucket counters are atomic (the writer reads them without the lock).
 *  - Buckets are never freed; object records are recycled.
 *  - A thread holding prof.lock, or inside the profiler, samples nothing
 *    (tls_in_profiler): the allocations the profiler itself causes are
 *    not profiled and cannot come back into it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../alloc/alloc.h"
#include "../prim/atomic.h"
#include "../sched/lock.h"
#include "debug.h"
#include "pprof.h"

#define TLS __attribute__((tls_model("initial-exec")))
#define BUCKET_CHAINS 1024
#define OBJECT_CHAINS 4096

int64_t goc__memprof_rate = 512 * 1024;

struct heap_bucket {
	struct heap_bucket *chain; /* same hash; prof.lock */
	struct heap_bucket *all;   /* every bucket, newest first; set once */
	uint64_t hash;
	size_t size;
	int64_t allocs, frees; /* atomic */
	int npcs;
	uintptr_t pcs[GOC_TRACE_MAX];
};

struct sampled_object {
	struct sampled_object *next;
	void *p;
	struct heap_bucket *bucket;
};

static struct {
	goc__lock lock;
	struct heap_bucket *chains[BUCKET_CHAINS];
	struct heap_bucket *all; /* atomic head */
	struct sampled_object *objects[OBJECT_CHAINS];
	struct sampled_object *spare;
} prof;

static __thread bool tls_in_profiler TLS;
static __thread uint64_t tls_rng TLS;
static __thread uintptr_t tls_stack_lo TLS, tls_stack_hi TLS;

extern char __start_goc_alloc_text[] __attribute__((visibility("hidden")));
extern char __stop_goc_alloc_text[] __attribute__((visibility("hidden")));

static uint64_t rng_next(void)
{
	if (!tls_rng)
		tls_rng = (uint64_t)(uintptr_t)&tls_rng ^ (uint64_t)goc__prim_nanotime() ^
			0x9e3779b97f4a7c15ull;
	tls_rng ^= tls_rng << 13;
	tls_rng ^= tls_rng >> 7;
	tls_rng ^= tls_rng << 17;
	return tls_rng;
}

/* ln(u) for 0 < u <= 1, to about 1e-6 (the sampler needs no more, and
 * goc does not link libm): u = m * 2^e, ln(m) = 2 atanh((m-1)/(m+1)). */
static double ln(double u)
{
	uint64_t bits;
	memcpy(&bits, &u, sizeof bits);
	int e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ~((uint64_t)0x7ff << 52)) | ((uint64_t)1023 << 52);
	double m;
	memcpy(&m, &bits, sizeof m);
	double z = (m - 1) / (m + 1), z2 = z * z;
	double series = z * (1 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 + z2 / 9))));
	return e * 0.6931471805599453 + 2 * series;
}

/* exp(x) for x <= 0: 2^k * exp(r), |r| <= ln(2) / 2, r's series to r^9. */
static double exp_neg(double x)
{
	if (x < -700)
		return 0;
	int k = (int)(x / 0.6931471805599453 - 0.5);
	double r = x - k * 0.6931471805599453;
	double term = 1, sum = 1;
	for (int i = 1; i < 10; i++) {
		term *= r / i;
		sum += term;
	}
	for (; k < 0; k++)
		sum *= 0.5;
	return sum;
}

int64_t goc__memprof_next_sample(void)
{
	int64_t rate = goc__load_relaxed(&goc__memprof_rate);
	if (rate <= 0)
		return INT64_MAX / 2;
	if (rate == 1)
		return 0;
	/* -rate * ln(u), u uniform in (0, 1]. */
	double u = (double)((rng_next() >> 11) + 1) * 0x1.0p-53;
	double next = -ln(u) * (double)rate;
	return next < (double)(INT64_MAX / 4) ? (int64_t)next : INT64_MAX / 4;
}

int64_t goc_set_mem_profile_rate(int64_t bytes)
{
	if (bytes < 0)
		return goc__load_relaxed(&goc__memprof_rate);
	int64_t old = goc__xchg_relaxed(&goc__memprof_rate, bytes);
	goc__mcache_resample_all();
	return old;
}

static bool in_alloc_text(uintptr_t pc)
{
	return pc > (uintptr_t)__start_goc_alloc_text && pc <= (uintptr_t)__stop_goc_alloc_text;
}

/* The caller's stack without the allocator's frames. */
static void take_stack(goc__stacktrace *t)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (g && g->stack_lo) {
		uintptr_t lo = (uintptr_t)g->stack_lo;
		goc__unwind_here(0, lo, lo + g->stack_size, t);
	} else {
		if (!tls_stack_hi) {
			pthread_attr_t attr;
			void *addr;
			size_t size;
			if (pthread_getattr_np(pthread_self(), &attr) == 0) {
				if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
					tls_stack_lo = (uintptr_t)addr;
					tls_stack_hi = (uintptr_t)addr + size;
				}
				pthread_attr_destroy(&attr);
			}
			if (!tls_stack_hi) {
				t->n = 0;
				return;
			}
		}
		goc__unwind_here(0, tls_stack_lo, tls_stack_hi, t);
	}
	/* The profiler's own frames, then the allocator's; the first frame
	 * after those is the caller of the public entry. */
	int skip = 0;
	while (skip < t->n && !in_alloc_text(t->pcs[skip]))
		skip++;
	if (skip == t->n)
		skip = 0;
	while (skip < t->n && in_alloc_text(t->pcs[skip]))
		skip++;
	for (int i = skip; i < t->n; i++)
		t->pcs[i - skip] = t->pcs[i];
	t->n -= skip;
}

static uint64_t bucket_hash(const goc__stacktrace *t, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull ^ size;
	for (int i = 0; i < t->n; i++) {
		h ^= t->pcs[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* prof.lock held. */
static struct heap_bucket *bucket_for(const goc__stacktrace *t, size_t size)
{
	uint64_t h = bucket_hash(t, size);
	struct heap_bucket **head = &prof.chains[h % BUCKET_CHAINS];
	for (struct heap_bucket *b = *head; b; b = b->chain)
		if (b->hash == h && b->size == size && b->npcs == t->n &&
		    !memcmp(b->pcs, t->pcs, (size_t)t->n * sizeof t->pcs[0]))
			return b;
	struct heap_bucket *b = goc__meta_alloc(sizeof *b);
	if (!b)
		return NULL;
	b->hash = h;
	b->size = size;
	b->npcs = t->n;
	memcpy(b->pcs, t->pcs, (size_t)t->n * sizeof t->pcs[0]);
	b->chain = *head;
	*head = b;
	b->all = prof.all;
	goc__store_release(&prof.all, b);
	return b;
}

static size_t object_chain(const void *p)
{
	return ((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull >> (64 - 12);
}

__attribute__((noinline)) void goc__memprof_alloc(void *p, size_t size)
{
	if (tls_in_profiler)
		return;
	tls_in_profiler = true;
	goc__stacktrace t;
	take_stack(&t);
	goc__span *s = goc__span_of(p);
	goc__lock_acquire(&prof.lock);
	struct heap_bucket *b = bucket_for(&t, size);
	struct sampled_object *o = prof.spare;
	if (o)
		prof.spare = o->next;
	else
		o = goc__meta_alloc(sizeof *o);
	if (b && o) {
		o->p = p;
		o->bucket = b;
		size_t i = object_chain(p);
		o->next = prof.objects[i];
		prof.objects[i] = o;
		goc__fetch_add_relaxed(&b->allocs, 1);
		goc__fetch_add_relaxed(&s->nsampled, 1);
		if (s->state == SPAN_SMALL) {
			size_t index = (size_t)((char *)p - s->base) / s->elem_size;
			goc__store_relaxed(&s->sampled_mask,
					   goc__load_relaxed(&s->sampled_mask) |
						   (uint64_t)1 << (index & 63));
		}
	} else if (o) {
		o->next = prof.spare;
		prof.spare = o;
	}
	goc__lock_release(&prof.lock);
	tls_in_profiler = false;
}

void goc__memprof_free(void *p, goc__span *s)
{
	bool was = tls_in_profiler;
	tls_in_profiler = true;
	goc__lock_acquire(&prof.lock);
	struct sampled_object **link = &prof.objects[object_chain(p)];
	while (*link && (*link)->p != p)
		link = &(*link)->next;
	struct sampled_object *o = *link;
	if (o) {
		*link = o->next;
		goc__fetch_add_relaxed(&o->bucket->frees, 1);
		if (goc__fetch_sub_relaxed(&s->nsampled, 1) == 1)
			goc__store_relaxed(&s->sampled_mask, 0);
		o->next = prof.spare;
		prof.spare = o;
	}
	goc__lock_release(&prof.lock);
	tls_in_profiler = was;
}

void goc__memprof_fork_prepare(void)
{
	goc__lock_acquire(&prof.lock);
}

void goc__memprof_fork_after(void)
{
	goc__lock_release(&prof.lock);
}

/* Go's scaleHeapSample: a bucket of objects of `size` bytes, sampled at
 * `rate`, stands for count / (1 - exp(-size / rate)) objects. */
static double unsample_factor(size_t size, int64_t rate)
{
	if (rate <= 1 || size == 0)
		return 1;
	return 1 / (1 - exp_neg(-(double)size / (double)rate));
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * GOC_SECOND + ts.tv_nsec;
}

/* Writes the heap profile; allocs: with alloc_space as the default
 * sample type (pprof's "allocs"). 0 or an errno value. */
int goc__heapprof_write(FILE *out, bool allocs)
{
	static const goc__profile_value_type types[4] = {{"alloc_objects", "count"},
							 {"alloc_space", "bytes"},
							 {"inuse_objects", "count"},
							 {"inuse_space", "bytes"}};
	int64_t rate = goc__load_relaxed(&goc__memprof_rate);
	goc__profile *profile =
		goc__profile_new(types, 4, (goc__profile_value_type){"space", "bytes"}, rate);
	if (!profile || (allocs && !goc__profile_default_sample_type(profile, "alloc_space"))) {
		goc__profile_free(profile);
		return ENOMEM;
	}
	int err = 0;
	for (struct heap_bucket *b = goc__load_acquire(&prof.all); b && !err; b = b->all) {
		int64_t a = goc__load_relaxed(&b->allocs);
		int64_t f = goc__load_relaxed(&b->frees);
		if (f > a)
			f = a;
		double k = unsample_factor(b->size, rate);
		int64_t values[4] = {(int64_t)(a * k + 0.5), (int64_t)(a * k * b->size + 0.5),
				     (int64_t)((a - f) * k + 0.5),
				     (int64_t)((a - f) * k * b->size + 0.5)};
		goc__profile_label label = {.key = "bytes", .num = (int64_t)b->size};
		if (!goc__profile_add(profile, b->pcs, b->npcs, false, values, &label, 1))
			err = ENOMEM;
	}
	if (!err)
		err = goc__profile_write(profile, out, clock_ns(CLOCK_REALTIME), 0);
	goc__profile_free(profile);
	return err;
}

goc_status goc_pprof_heap(FILE *out)
{
	if (!out)
		return -EINVAL;
	int err = goc__heapprof_write(out, false);
	return err ? -err : GOC_OK;
}

/* A snapshot of the buckets for the text form: stack, size, counts. */
int goc__heapprof_snapshot(goc__heapprof_record **records, size_t *n)
{
	size_t count = 0;
	struct heap_bucket *head = goc__load_acquire(&prof.all);
	for (struct heap_bucket *b = head; b; b = b->all)
		count++;
	goc__heapprof_record *r = count ? malloc(count * sizeof *r) : NULL;
	*records = r;
	*n = 0;
	if (count && !r)
		return ENOMEM;
	int64_t rate = goc__load_relaxed(&goc__memprof_rate);
	size_t i = 0;
	for (struct heap_bucket *b = head; b && i < count; b = b->all, i++) {
		int64_t a = goc__load_relaxed(&b->allocs);
		int64_t f = goc__load_relaxed(&b->frees);
		if (f > a)
			f = a;
		double k = unsample_factor(b->size, rate);
		r[i].alloc_objects = (int64_t)(a * k + 0.5);
		r[i].alloc_bytes = (int64_t)(a * k * b->size + 0.5);
		r[i].inuse_objects = (int64_t)((a - f) * k + 0.5);
		r[i].inuse_bytes = (int64_t)((a - f) * k * b->size + 0.5);
		r[i].stack.n = b->npcs;
		r[i].stack.first_exact = false;
		r[i].stack.truncated = false;
		memcpy(r[i].stack.pcs, b->pcs, (size_t)b->npcs * sizeof b->pcs[0]);
	}
	*n = i;
	return 0;
}
