/*
 * test_sched_spawn_churn.c — ten million short goroutines in bounded memory.
 *
 * A server spawns a goroutine per request for months; whatever a goroutine
 * leaves behind when it finishes (a slot not returned to its pool, a
 * record never freed) adds up. The main goroutine spawns TOTAL goroutines
 * in batches of BATCH, each batch joined with a wait group before the next
 * starts, so at most BATCH are alive at once and every stack slot should
 * be reused over and over.
 *
 * Memory: the resident set size is measured once the first WARMUP
 * goroutines have come and gone (pools, run queues and caches have reached
 * their working size by then). At the end it may have grown by at most
 * half of what a leak of LEAK_BYTES (100) per later goroutine would add, so
 * any per-goroutine leak of 100 bytes or more fails, while the noise of
 * allocator caches and the sysmon scavenger is far inside the margin.
 *
 * Every goroutine also bumps a counter: all TOTAL must have run.
 * TOTAL is 10,000,000 in batches of 10,000 (2,000,000 under ASan; under
 * TSan, whose limit is 8128 live threads and fibers, 200,000 in batches of
 * 2,000, and without the memory bound: TSan's own per-fiber state and
 * shadow memory grow by far more than 100 bytes per goroutine).
 */
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"

#define LEAK_BYTES 100

static long total;
static long batch;
static long warmup;
static atomic_long ran;

static void short_lived(void *arg)
{
	atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
	goc_wg_done(arg);
}

static void main_g(void *arg)
{
	(void)arg;
	goc_wg wg = GOC_WG_INIT;
	long baseline = -1;
	long peak = 0;
	for (long spawned = 0; spawned < total; spawned += batch) {
		goc_wg_add(&wg, batch);
		for (long i = 0; i < batch; i++)
			CHECK(goc_go(short_lived, &wg) > 0, "goc_go failed after %ld", spawned + i);
		goc_wg_wait(&wg);
		if (spawned + batch == warmup) {
			baseline = rss_kib();
			CHECK(baseline > 0, "cannot read VmRSS");
		}
		if (baseline > 0 && (spawned / batch) % 64 == 0) {
			long now = rss_kib();
			if (now > peak)
				peak = now;
		}
	}
	CHECK(atomic_load(&ran) == total, "ran %ld of %ld", atomic_load(&ran), total);
	ok("every goroutine ran");

	long end = rss_kib();
	if (end > peak)
		peak = end;
	long allowed_kib = (long)((double)(total - warmup) * LEAK_BYTES / 2 / 1024);
	const char *san = getenv("GOC_TEST_SANITIZER");
	if (san && strcmp(san, "thread") == 0) {
		printf("rss after %ld goroutines: %ld KiB; after %ld: %ld KiB (not checked under TSan)\n",
		       warmup, baseline, total, end);
		return;
	}
	printf("rss after %ld goroutines: %ld KiB; after %ld: %ld KiB (peak %ld); allowed growth "
	       "%ld KiB\n",
	       warmup, baseline, total, end, peak, allowed_kib);
	CHECK(end - baseline <= allowed_kib,
	      "rss grew by %ld KiB over %ld goroutines (bound %ld KiB: a leak of %d bytes each)",
	      end - baseline, total - warmup, allowed_kib, LEAK_BYTES);
	CHECK(peak - baseline <= allowed_kib, "rss peaked %ld KiB above its baseline (bound %ld)",
	      peak - baseline, allowed_kib);
	ok("memory bounded");
}

int main(void)
{
	total = test_size(10000000, 2000000, 200000);
	batch = test_size(10000, 10000, 2000);
	warmup = total / 10;
	goc_main(main_g, NULL);
	return 0;
}
