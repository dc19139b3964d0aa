/*
 * alloc.c — the heap under goroutines: AllocPipeline and
 * AllocPipelineMalloc. One producer goroutine allocates each item (a
 * block of 64 to 1023 bytes, sizes from a fixed pseudo-random sequence),
 * writes its first and last bytes and sends it through a channel of
 * capacity 128; one consumer goroutine checks the bytes and frees it. With
 * two Ps the two run on different Ps, so every block is allocated on one
 * P and freed on the other. AllocPipeline uses goc_malloc/goc_free;
 * AllocPipelineMalloc uses malloc/free, so LD_PRELOAD chooses the C
 * allocator it measures (tools/bench-alloc.sh). AllocPipelineUnprofiled
 * is AllocPipeline with the heap profile off (goc_set_mem_profile_rate(0)):
 * the difference is what sampling at the default rate costs. One op is one
 * item. The
 * Go counterpart (bench/go/alloc.go) allocates with make([]byte, n) and
 * drops the slice after the check: its GC frees.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "bench.h"

struct pipeline {
	int64_t n;
	goc_chan *items, *done;
	void *(*alloc)(size_t);
	void (*release)(void *);
};

static size_t item_size(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return 64 + (size_t)(*state >> 33) % 960;
}

static void pipeline_producer(void *arg)
{
	struct pipeline *pl = arg;
	uint64_t state = 1;
	for (int64_t i = 0; i < pl->n; i++) {
		size_t size = item_size(&state);
		unsigned char *p = pl->alloc(size);
		if (!p)
			bench_fail("out of memory");
		p[0] = (unsigned char)i;
		p[size - 1] = (unsigned char)size;
		goc_chan_send(pl->items, &p);
	}
	goc_chan_close(pl->items);
	goc_chan_release(pl->items);
}

static void pipeline_consumer(void *arg)
{
	struct pipeline *pl = arg;
	uint64_t state = 1;
	int64_t i = 0, bad = 0;
	unsigned char *p;
	while (goc_chan_recv(pl->items, &p) == GOC_OK) {
		size_t size = item_size(&state);
		bad += p[0] != (unsigned char)i || p[size - 1] != (unsigned char)size;
		pl->release(p);
		i++;
	}
	goc_chan_release(pl->items);
	goc_chan_send(pl->done, &bad);
	goc_chan_release(pl->done);
}

static void run_pipeline(struct bench_run *run, void *(*alloc)(size_t), void (*release)(void *))
{
	struct pipeline pl = {.n = run->n, .alloc = alloc, .release = release};
	int64_t bad;
	bench_start(run);
	pl.items = bench_chan(sizeof(void *), 128);
	pl.done = bench_chan(sizeof(int64_t), 1);
	goc_chan_retain(pl.items);
	goc_chan_retain(pl.items);
	goc_chan_retain(pl.done);
	bench_go(pipeline_producer, &pl);
	bench_go(pipeline_consumer, &pl);
	goc_status status = goc_chan_recv(pl.done, &bad);
	bench_stop(run);
	goc_chan_release(pl.items);
	goc_chan_release(pl.done);
	if (status != GOC_OK || bad)
		bench_fail("%" PRId64 " items corrupted", bad);
}

void bench_alloc_pipeline(struct bench_run *run)
{
	run_pipeline(run, goc_malloc, goc_free);
}

void bench_alloc_pipeline_unprofiled(struct bench_run *run)
{
	int64_t rate = goc_set_mem_profile_rate(0);
	run_pipeline(run, goc_malloc, goc_free);
	goc_set_mem_profile_rate(rate);
}

void bench_alloc_pipeline_malloc(struct bench_run *run)
{
	run_pipeline(run, malloc, free);
}
