/*
 * test_alloc.c — goc's heap (src/alloc/): C's semantics at every size-class
 * boundary and for large and huge sizes, alignment, realloc growth and
 * shrink, calloc overflow and zeroing, frees on other Ps and plain threads
 * under stress with every byte checked, no growth over a million cross-P
 * alloc/free cycles, the scavenger giving a burst back (RSS drops),
 * GOCMEMLIMIT, MemStats, and the misuse reports (double free, foreign
 * pointer, interior pointer) in child processes.
 *
 * Sanitizer builds route goc_malloc to the C library (src/alloc/malloc.c):
 * the semantic checks run there too; the checks of goc's own heap (stats,
 * scavenger, misuse reports) are skipped with a message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "goc.h"
#include "testutil.h"

static int own_heap(void)
{
	const char *s = getenv("GOC_TEST_SANITIZER");
	return !(s && (!strcmp(s, "address") || !strcmp(s, "thread")));
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static int check_fill(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

static void test_sizes(void)
{
	/* Every size up to 33 KiB, then large and huge ones. */
	for (size_t n = 0; n <= 33 * 1024; n += (n < 2048 ? 1 : 61)) {
		unsigned char *p = goc_malloc(n);
		CHECK(p, "malloc(%zu)", n);
		CHECK(((uintptr_t)p & 15) == 0, "malloc(%zu) = %p misaligned", n, (void *)p);
		CHECK(goc_malloc_usable_size(p) >= n, "usable %zu < %zu", goc_malloc_usable_size(p),
		      n);
		fill(p, n, (unsigned)n);
		CHECK(check_fill(p, n, (unsigned)n), "bytes of %zu", n);
		goc_free(p);
	}
	size_t big[] = {
		32768, 32769, 65536, 1 << 20, (1 << 20) + 1, (size_t)40 << 20, (size_t)100 << 20};
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
		unsigned char *p = goc_malloc(big[i]);
		CHECK(p, "malloc(%zu)", big[i]);
		CHECK(goc_malloc_usable_size(p) >= big[i], "usable of %zu", big[i]);
		p[0] = 1;
		p[big[i] - 1] = 2;
		goc_free(p);
	}
	goc_free(NULL);
	void *a = goc_malloc(0), *b = goc_malloc(0);
	CHECK(a && b && a != b, "malloc(0) gives distinct pointers");
	goc_free(a);
	goc_free(b);
	if (own_heap()) { /* ASan aborts on these instead (allocator_may_return_null) */
		errno = 0;
		CHECK(goc_malloc(SIZE_MAX - 4096) == NULL && errno == ENOMEM,
		      "huge malloc: ENOMEM");
	}
	ok("sizes");
}

static void test_calloc_realloc_align(void)
{
	if (own_heap()) {
		errno = 0;
		CHECK(goc_calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM, "calloc overflow");
	}
	for (size_t n = 1; n < 200000; n = n * 3 + 1) {
		/* Dirty memory of that size first, so calloc must clear. */
		unsigned char *d = goc_malloc(n);
		memset(d, 0xAB, n);
		goc_free(d);
		unsigned char *z = goc_calloc(n, 1);
		CHECK(z, "calloc %zu", n);
		for (size_t i = 0; i < n; i++)
			CHECK(z[i] == 0, "calloc(%zu)[%zu] = %d", n, i, z[i]);
		goc_free(z);
	}
	unsigned char *p = goc_realloc(NULL, 10);
	fill(p, 10, 3);
	size_t n = 10;
	for (size_t to = 17; to < (1 << 20); to = to * 2 + 5) {
		p = goc_realloc(p, to);
		CHECK(p && check_fill(p, n, 3), "realloc grow to %zu keeps bytes", to);
		fill(p, to, 3);
		n = to;
	}
	for (size_t to = n / 3; to > 8; to /= 3) {
		p = goc_realloc(p, to);
		CHECK(p && check_fill(p, to, 3), "realloc shrink to %zu keeps bytes", to);
	}
	CHECK(goc_realloc(p, 0) == NULL, "realloc(p, 0) frees");
	for (size_t align = 1; align <= ((size_t)1 << 22); align <<= 1) {
		size_t sizes[] = {1, align, align + 1, 3 * align, 40000};
		for (size_t i = 0; i < 5; i++) {
			void *q = goc_aligned_alloc(align, sizes[i]);
			CHECK(q && ((uintptr_t)q & (align - 1)) == 0,
			      "aligned_alloc(%zu, %zu) = %p", align, sizes[i], q);
			memset(q, 1, sizes[i]);
			goc_free(q);
		}
	}
	errno = 0;
	CHECK(goc_aligned_alloc(24, 48) == NULL && errno == EINVAL, "align 24: EINVAL");
	ok("calloc, realloc, aligned_alloc");
}

/* ---- cross-P and cross-thread frees ---- */

#define RING 64

struct xfer {
	goc_chan *ch;
	long items;
	goc_wg *wg;
};

static void producer(void *arg)
{
	struct xfer *x = arg;
	uint64_t r = (uint64_t)(uintptr_t)x * 2654435761u;
	for (long i = 0; i < x->items; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		size_t n = 1 + (r >> 33) % (i % 64 == 0 ? 70000 : 600);
		unsigned char *p = goc_malloc(n + sizeof(size_t));
		memcpy(p, &n, sizeof n);
		fill(p + sizeof n, n, (unsigned)i);
		struct {
			unsigned char *p;
			long i;
		} item = {p, i};
		goc_chan_send(x->ch, &item);
	}
	goc_wg_done(x->wg);
}

static void consumer(void *arg)
{
	struct xfer *x = arg;
	struct {
		unsigned char *p;
		long i;
	} item;
	while (goc_chan_recv(x->ch, &item) == GOC_OK) {
		size_t n;
		memcpy(&n, item.p, sizeof n);
		CHECK(check_fill(item.p + sizeof n, n, (unsigned)item.i), "item %ld bytes", item.i);
		goc_free(item.p);
	}
	goc_wg_done(x->wg);
}

static void cross_main(void *arg)
{
	long items = *(long *)arg;
	goc_wg producers = GOC_WG_INIT, consumers = GOC_WG_INIT;
	struct xfer px = {goc_chan_make(sizeof(void *) + sizeof(long), RING), items, &producers};
	struct xfer cx = px;
	cx.wg = &consumers;
	goc_wg_add(&producers, 4);
	goc_wg_add(&consumers, 4);
	for (int i = 0; i < 4; i++) {
		goc_go(producer, &px);
		goc_go(consumer, &cx);
	}
	goc_wg_wait(&producers);
	goc_chan_close(px.ch);
	goc_wg_wait(&consumers);
	goc_chan_release(px.ch);
}

static void *thread_freer(void *arg)
{
	goc_chan *ch = arg;
	void *p;
	while (goc_chan_recv(ch, &p) == GOC_OK) {
		size_t n = goc_malloc_usable_size(p);
		CHECK(n >= 100, "usable");
		CHECK(((unsigned char *)p)[99] == 0x5A, "byte checked");
		goc_free(p);
	}
	return NULL;
}

static void plain_main(void *arg)
{
	long items = *(long *)arg;
	goc_chan *ch = goc_chan_make(sizeof(void *), RING);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thread_freer, ch);
	for (long i = 0; i < items; i++) {
		unsigned char *p = goc_malloc(100 + (size_t)(i % 300));
		memset(p, 0x5A, 100);
		goc_chan_send(ch, &p);
	}
	goc_chan_close(ch);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	goc_chan_release(ch);
}

static void test_cross(void)
{
	long items = test_size(200000, 20000, 5000);
	goc_main(cross_main, &items);
	ok("frees on other Ps, every byte checked");
	goc_main(plain_main, &items);
	ok("frees on plain threads");
}

/* A million objects allocated on one P and freed on another: the heap
 * must not grow with the count. */
static void churn_producer(void *arg)
{
	struct xfer *x = arg;
	for (long i = 0; i < x->items; i++) {
		void *p = goc_malloc(48 + (size_t)(i & 63) * 8);
		goc_chan_send(x->ch, &p);
	}
	goc_chan_close(x->ch);
	goc_wg_done(x->wg);
}

static void churn_consumer(void *arg)
{
	struct xfer *x = arg;
	void *p;
	while (goc_chan_recv(x->ch, &p) == GOC_OK)
		goc_free(p);
	goc_wg_done(x->wg);
}

static void churn_main(void *arg)
{
	long items = *(long *)arg;
	goc_wg wg = GOC_WG_INIT;
	struct xfer x = {goc_chan_make(sizeof(void *), 128), items, &wg};
	goc_wg_add(&wg, 2);
	goc_go(churn_producer, &x);
	goc_go(churn_consumer, &x);
	goc_wg_wait(&wg);
	goc_chan_release(x.ch);
}

static void test_no_growth(void)
{
	if (!own_heap()) {
		printf("skip: no growth (sanitizer build: goc_malloc is the C library's)\n");
		return;
	}
	long items = test_size(200000, 20000, 5000);
	goc_main(churn_main, &items);
	goc_memstats a;
	goc_memstats_read(&a);
	items *= 5;
	goc_main(churn_main, &items);
	goc_memstats b;
	goc_memstats_read(&b);
	CHECK(b.heap_inuse <= a.heap_inuse + (2 << 20),
	      "heap in use grew from %llu to %llu over %ld cross-P cycles",
	      (unsigned long long)a.heap_inuse, (unsigned long long)b.heap_inuse, items);
	CHECK(b.mallocs - a.mallocs >= (uint64_t)items, "mallocs counted");
	ok("no growth over cross-P cycles");
}

static void test_memstats(void)
{
	if (!own_heap()) {
		printf("skip: memstats (sanitizer build)\n");
		return;
	}
	goc_memstats a, b;
	goc_memstats_read(&a);
	void *small[1000];
	for (int i = 0; i < 1000; i++)
		small[i] = goc_malloc(100);
	void *large = goc_malloc(1 << 20);
	goc_memstats_read(&b);
	CHECK(b.mallocs - a.mallocs == 1001, "mallocs +%llu",
	      (unsigned long long)(b.mallocs - a.mallocs));
	CHECK(b.heap_objects - a.heap_objects == 1001, "objects");
	CHECK(b.heap_alloc - a.heap_alloc >= 1000 * 100 + (1 << 20), "heap_alloc");
	CHECK(b.by_size[6].size == 112 && b.by_size[6].mallocs - a.by_size[6].mallocs == 1000,
	      "by_size of the 112-byte class");
	CHECK(b.heap_sys >= b.heap_inuse + b.heap_idle - 1 && b.heap_idle >= b.heap_released,
	      "sys %llu inuse %llu idle %llu released %llu", (unsigned long long)b.heap_sys,
	      (unsigned long long)b.heap_inuse, (unsigned long long)b.heap_idle,
	      (unsigned long long)b.heap_released);
	for (int i = 0; i < 1000; i++)
		goc_free(small[i]);
	goc_free(large);
	goc_memstats c;
	goc_memstats_read(&c);
	CHECK(c.frees - b.frees == 1001 && c.heap_objects == a.heap_objects, "frees");
	ok("memstats");
}

/* ---- the scavenger ---- */

static void burst_main(void *arg)
{
	(void)arg;
	enum { N = 4096 };
	static void *blocks[N];
	for (int i = 0; i < N; i++) {
		blocks[i] = goc_malloc(64 * 1024 - 64 * (i & 7));
		memset(blocks[i], 1, 60000);
	}
	long before = rss_kib();
	for (int i = 0; i < N; i++)
		goc_free(blocks[i]);
	/* sysmon scavenges about every second what stayed free a second. */
	long after = before;
	for (int i = 0; i < 40 && after > before - 150 * 1024; i++) {
		goc_sleep(100 * GOC_MILLISECOND);
		after = rss_kib();
	}
	CHECK(after <= before - 150 * 1024, "RSS %ld KiB before, %ld KiB after", before, after);
	goc_memstats s;
	goc_memstats_read(&s);
	CHECK(s.heap_released >= (uint64_t)200 << 20, "released %llu",
	      (unsigned long long)s.heap_released);
}

static void test_scavenger(void)
{
	if (!own_heap()) {
		printf("skip: scavenger (sanitizer build)\n");
		return;
	}
	goc_main(burst_main, NULL);
	ok("scavenger returns a burst");
}

/* ---- misuse, in children ---- */

static void double_free(void *arg)
{
	(void)arg;
	void *p = goc_malloc(64);
	goc_free(p);
	goc_free(p);
}

static void foreign_free(void *arg)
{
	(void)arg;
	goc_free(malloc(64));
}

static void interior_free(void *arg)
{
	(void)arg;
	char *p = goc_malloc(64);
	goc_free(p + 16);
}

static void test_misuse(void)
{
	if (!own_heap()) {
		printf("skip: misuse reports (sanitizer build: the sanitizer reports them)\n");
		return;
	}
	struct {
		void (*fn)(void *);
		const char *want;
	} cases[] = {{double_free, "double free"},
		     {foreign_free, "never returned"},
		     {interior_free, "inside an object"}};
	for (int i = 0; i < 3; i++) {
		child_result r = run_child(cases[i].fn, NULL, NULL);
		CHECK(!r.exited && r.status == 6 && contains(r.out, "panic: goc_free: ") &&
			      contains(r.out, cases[i].want),
		      "misuse %d: exited %d status %d: %s", i, r.exited, r.status, r.out);
		free(r.out);
	}
	ok("misuse panics");
}

static void limit_main(void *arg)
{
	(void)arg;
	/* 200 MiB under a 64 MiB limit: once freed, the pages go back at
	 * the next growth, without waiting for the scavenger's second. */
	enum { N = 200 };
	static void *blocks[N];
	for (int i = 0; i < N; i++) {
		blocks[i] = goc_malloc(1 << 20);
		memset(blocks[i], 1, 1 << 20);
	}
	for (int i = 0; i < N; i++)
		goc_free(blocks[i]);
	void *p = goc_malloc(40 << 20);
	goc_memstats s;
	goc_memstats_read(&s);
	CHECK(s.heap_sys - s.heap_released <= (uint64_t)130 << 20,
	      "retained %llu MiB under GOCMEMLIMIT=64MiB",
	      (unsigned long long)((s.heap_sys - s.heap_released) >> 20));
	goc_free(p);
	exit(0);
}

static void test_memlimit(const char *self)
{
	if (!own_heap()) {
		printf("skip: GOCMEMLIMIT (sanitizer build)\n");
		return;
	}
	const char *under = getenv("GOC_TEST_SANITIZER");
	if (under && !strcmp(under, "valgrind")) {
		printf("skip: GOCMEMLIMIT (the test re-runs itself, which valgrind cannot follow)\n");
		return;
	}
	const char *env[] = {"GOCMEMLIMIT=64MiB", NULL};
	child_result r = run_self(self, "limit", env);
	CHECK(r.exited && r.status == 0, "GOCMEMLIMIT child: %s", r.out);
	free(r.out);
	ok("GOCMEMLIMIT");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "limit")) {
		goc_main(limit_main, NULL);
		return 1;
	}
	test_sizes();
	test_calloc_realloc_align();
	test_memstats();
	test_cross();
	test_no_growth();
	test_misuse();
	test_memlimit(argv[0]);
	test_scavenger();
	return 0;
}
