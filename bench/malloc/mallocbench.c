/*
 * mallocbench.c — the C allocator workloads, on plain threads and plain
 * malloc/free, so that LD_PRELOAD picks the allocator measured (glibc's
 * with none; jemalloc, tcmalloc, mimalloc or libgoc-malloc.so):
 * tools/bench-alloc.sh runs them side by side. Written from the
 * workloads' definitions:
 *
 *  XmallocTest   a producer thread allocates blocks (16 to 512 bytes) and
 *                hands them through a single-producer ring to a consumer
 *                thread that frees them: every free is remote.
 *                One op: one block.
 *  Larson        a server simulation: each of 2 threads keeps 1000 slots
 *                and repeatedly frees a random slot's block and allocates
 *                a new one of random size (16 to 1024 bytes); every 64
 *                rounds it trades 16 blocks with the other thread through
 *                a locked exchange, so a share of frees is remote.
 *                One op: one free and one malloc.
 *  CacheScratch  the main thread allocates one 8-byte object per thread
 *                and hands them over; each thread frees it, then n times
 *                allocates an 8-byte object, writes it 100 times and frees
 *                it. An allocator that gives neighbouring objects to the
 *                two threads makes them share a cache line.
 *                One op: one malloc, 100 writes, one free.
 *
 * Output is Go's benchmark format plus peak RSS (KiB, from getrusage):
 *     BenchmarkXmallocTest-2  4000000  52.1 ns/op  10240 peak-rss-KiB
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t next_random(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

static void fail(const char *what)
{
	fprintf(stderr, "mallocbench: %s\n", what);
	exit(1);
}

/* ---- XmallocTest ---- */

#define RING 4096

struct ring {
	void *slot[RING];
	uint64_t head __attribute__((aligned(64))); /* consumer's; atomic */
	uint64_t tail __attribute__((aligned(64))); /* producer's; atomic */
	int64_t n;
};

static void *xmalloc_producer(void *arg)
{
	struct ring *r = arg;
	uint64_t s = 7;
	for (int64_t i = 0; i < r->n; i++) {
		size_t size = 16 + next_random(&s) % 497;
		unsigned char *p = malloc(size);
		if (!p)
			fail("out of memory");
		p[0] = 0xA5;
		uint64_t t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
		while (t - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == RING)
			sched_yield();
		r->slot[t % RING] = p;
		__atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *xmalloc_consumer(void *arg)
{
	struct ring *r = arg;
	for (int64_t i = 0; i < r->n; i++) {
		uint64_t h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
		while (__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) == h)
			sched_yield();
		unsigned char *p = r->slot[h % RING];
		__atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
		if (p[0] != 0xA5)
			fail("corrupted block");
		free(p);
	}
	return NULL;
}

static void xmalloc_test(int64_t n)
{
	static struct ring r;
	r.n = n;
	pthread_t a, b;
	pthread_create(&a, NULL, xmalloc_producer, &r);
	pthread_create(&b, NULL, xmalloc_consumer, &r);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
}

/* ---- Larson ---- */

#define LARSON_THREADS 2
#define LARSON_SLOTS 1000
#define LARSON_TRADE 16

static struct {
	pthread_mutex_t lock;
	void *pool[LARSON_TRADE * LARSON_THREADS * 4];
	int npool;
} exchange = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

struct larson_thread {
	int64_t rounds;
	uint64_t seed;
};

static void *larson_worker(void *arg)
{
	struct larson_thread *t = arg;
	void *slots[LARSON_SLOTS];
	for (int i = 0; i < LARSON_SLOTS; i++)
		slots[i] = malloc(16 + next_random(&t->seed) % 1009);
	for (int64_t r = 0; r < t->rounds; r++) {
		int i = (int)(next_random(&t->seed) % LARSON_SLOTS);
		free(slots[i]);
		size_t size = 16 + next_random(&t->seed) % 1009;
		slots[i] = malloc(size);
		if (!slots[i])
			fail("out of memory");
		memset(slots[i], 1, 16);
		if (r % 64 == 63) {
			/* Hand 16 blocks to the pool and take 16 back (ours or
			 * the other thread's). */
			pthread_mutex_lock(&exchange.lock);
			for (int k = 0; k < LARSON_TRADE; k++) {
				int j = (int)(next_random(&t->seed) % LARSON_SLOTS);
				void *mine = slots[j];
				int at = (int)(next_random(&t->seed) % (exchange.npool + 1));
				if (at < exchange.npool) {
					slots[j] = exchange.pool[at];
					exchange.pool[at] = mine;
				} else if (exchange.npool <
					   (int)(sizeof exchange.pool / sizeof exchange.pool[0])) {
					exchange.pool[exchange.npool++] = mine;
					slots[j] = malloc(16);
				}
			}
			pthread_mutex_unlock(&exchange.lock);
		}
	}
	for (int i = 0; i < LARSON_SLOTS; i++)
		free(slots[i]);
	return NULL;
}

static void larson(int64_t n)
{
	pthread_t th[LARSON_THREADS];
	struct larson_thread t[LARSON_THREADS];
	for (int i = 0; i < LARSON_THREADS; i++) {
		t[i].rounds = n / LARSON_THREADS;
		t[i].seed = (uint64_t)i * 7919 + 1;
		pthread_create(&th[i], NULL, larson_worker, &t[i]);
	}
	for (int i = 0; i < LARSON_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < exchange.npool; i++)
		free(exchange.pool[i]);
	exchange.npool = 0;
}

/* ---- CacheScratch ---- */

#define SCRATCH_THREADS 2

struct scratch {
	int64_t n;
	char *first; /* allocated by the main thread */
};

static void *scratch_worker(void *arg)
{
	struct scratch *s = arg;
	free(s->first);
	for (int64_t i = 0; i < s->n; i++) {
		volatile char *p = malloc(8);
		for (int k = 0; k < 100; k++)
			p[k & 7] = (char)(p[k & 7] + 1);
		free((void *)p);
	}
	return NULL;
}

static void cache_scratch(int64_t n)
{
	pthread_t th[SCRATCH_THREADS];
	struct scratch s[SCRATCH_THREADS];
	for (int i = 0; i < SCRATCH_THREADS; i++) {
		s[i].n = n / SCRATCH_THREADS;
		s[i].first = malloc(8);
	}
	for (int i = 0; i < SCRATCH_THREADS; i++)
		pthread_create(&th[i], NULL, scratch_worker, &s[i]);
	for (int i = 0; i < SCRATCH_THREADS; i++)
		pthread_join(th[i], NULL);
}

static const struct {
	const char *name;
	int64_t n;
	void (*run)(int64_t n);
} workloads[] = {
	{"XmallocTest", 4000000, xmalloc_test},
	{"Larson", 4000000, larson},
	{"CacheScratch", 2000000, cache_scratch},
};

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	double scale = argc > 2 ? atof(argv[2]) : 1;
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
		if (only && !strstr(workloads[i].name, only))
			continue;
		int64_t n = (int64_t)(workloads[i].n * scale);
		if (n < 2)
			n = 2;
		int64_t start = now_ns();
		workloads[i].run(n);
		int64_t ns = now_ns() - start;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		printf("Benchmark%s-2\t%10" PRId64 "\t%10.2f ns/op\t%8ld peak-rss-KiB\n",
		       workloads[i].name, n, (double)ns / (double)n, ru.ru_maxrss);
		fflush(stdout);
	}
	return 0;
}
