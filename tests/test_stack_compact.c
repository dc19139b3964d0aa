/*
 * test_stack_compact.c — a goroutine whose stack was compacted while it
 * was parked (goc_go_options.compact_stack, GOCDEBUG=stackcompact; see
 * src/sched/stack.c) resumes with every byte of its stack intact, and the
 * channel values it sent from or received into its locals meanwhile went
 * where they belong.
 *
 * With GOCDEBUG=stackcompact=0 every park of these goroutines in a channel
 * operation or a select without a timeout compacts them. Each goroutine
 * fills a frame deep in a recursion with a pattern of its own, then waits:
 *  1. receiving into a local from its own unbuffered channel;
 *  2. sending a local on it (the driver checks what arrived);
 *  3. in a three-case select (receive into a local, send a local, and a
 *     channel nothing is sent on), twice: once won by each of the two;
 *  4. receiving from a channel that is then closed (the local is zeroed).
 * After every wake it checks the whole pattern, down the recursion. The
 * rounds run with many goroutines at once, so wakes race with other Ms
 * compacting and releasing batches. The runtime's counters must show
 * that the goroutines were compacted and restored as often.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../src/sched/runtime.h"
#include "testutil.h"

#define FRAME_BYTES 1536
#define DEPTH 6

static long n_goroutines;
static long rounds;
static goc_chan *closed_gate;
static goc_chan *never;
static goc_wg done = GOC_WG_INIT;
static atomic_long bad;

struct worker {
	long index;
	goc_chan *c;    /* unbuffered, int64_t: the driver and this goroutine */
	goc_chan *back; /* unbuffered, int64_t: select's send case */
};

static unsigned char pattern_byte(long index, int level, size_t i)
{
	return (unsigned char)(index * 131 + level * 29 + i * 7 + 1);
}

static void fail(long index, const char *what)
{
	fprintf(stderr, "goroutine %ld: %s\n", index, what);
	atomic_fetch_add(&bad, 1);
}

static void waits(struct worker *w);

/* Recurses DEPTH frames, each holding a patterned array, then waits at the
 * bottom; each frame checks its array after the waits. */
static __attribute__((noinline)) void descend(struct worker *w, int level)
{
	volatile unsigned char frame[FRAME_BYTES];
	for (size_t i = 0; i < FRAME_BYTES; i++)
		frame[i] = pattern_byte(w->index, level, i);
	if (level + 1 < DEPTH)
		descend(w, level + 1);
	else
		waits(w);
	for (size_t i = 0; i < FRAME_BYTES; i++)
		if (frame[i] != pattern_byte(w->index, level, i)) {
			fail(w->index, "stack byte changed across compaction");
			return;
		}
}

static void waits(struct worker *w)
{
	for (long r = 0; r < rounds; r++) {
		int64_t base = w->index * 1000 + r * 10;
		/* 1: receive into a local. */
		volatile int64_t got = -1;
		if (goc_chan_recv(w->c, (int64_t *)&got) != GOC_OK || got != base + 1)
			fail(w->index, "receive into a local lost its value");
		/* 2: send a local. */
		volatile int64_t out = base + 2;
		goc_chan_send(w->c, (int64_t *)&out);
		/* 3: select, won by its receive, then by its send. */
		for (int k = 0; k < 2; k++) {
			volatile int64_t in = -1, sent = base + 3 + k;
			goc_select_case cases[3] = {
				{.chan = w->c, .dir = GOC_SELECT_RECV, .elem = (int64_t *)&in},
				{.chan = w->back, .dir = GOC_SELECT_SEND, .elem = (int64_t *)&sent},
				{.chan = never, .dir = GOC_SELECT_RECV},
			};
			int chosen = goc_select(cases, 3, GOC_NO_TIMEOUT);
			if (chosen != k)
				fail(w->index, "select chose the wrong case");
			else if (k == 0 && (in != base + 3 || !cases[0].ok))
				fail(w->index, "select's receive into a local lost its value");
		}
	}
	/* 4: a close zeroes the local it would have received into. */
	volatile int64_t zeroed = 77;
	if (goc_chan_recv(closed_gate, (int64_t *)&zeroed) != GOC_CLOSED || zeroed != 0)
		fail(w->index, "receive from a closed channel did not zero the local");
}

static void worker_main(void *arg)
{
	descend(arg, 0);
	goc_wg_done(&done);
}

static void main_g(void *arg)
{
	(void)arg;
	struct worker *ws = calloc((size_t)n_goroutines, sizeof *ws);
	CHECK(ws != NULL, "calloc");
	closed_gate = goc_chan_make(sizeof(int64_t), 0);
	never = goc_chan_make(sizeof(int64_t), 0);
	goc_wg_add(&done, n_goroutines);
	goc_go_options opts = {.compact_stack = true};
	for (long i = 0; i < n_goroutines; i++) {
		ws[i].index = i;
		ws[i].c = goc_chan_make(sizeof(int64_t), 0);
		ws[i].back = goc_chan_make(sizeof(int64_t), 0);
		CHECK(ws[i].c && ws[i].back, "goc_chan_make");
		CHECK(goc_go_opts(worker_main, &ws[i], &opts) > 0, "goc_go_opts");
	}
	for (long r = 0; r < rounds; r++) {
		/* Each step goes to every goroutine before the next step, so
		 * all of them are parked (and compacted) in between. */
		for (long i = 0; i < n_goroutines; i++) {
			int64_t v = i * 1000 + r * 10 + 1;
			goc_chan_send(ws[i].c, &v);
		}
		for (long i = 0; i < n_goroutines; i++) {
			int64_t v = -1;
			goc_chan_recv(ws[i].c, &v);
			CHECK(v == i * 1000 + r * 10 + 2, "goroutine %ld sent %lld", i,
			      (long long)v);
		}
		for (long i = 0; i < n_goroutines; i++) {
			int64_t v = i * 1000 + r * 10 + 3;
			goc_chan_send(ws[i].c, &v);
		}
		for (long i = 0; i < n_goroutines; i++) {
			int64_t v = -1;
			goc_chan_recv(ws[i].back, &v);
			CHECK(v == i * 1000 + r * 10 + 4, "goroutine %ld's select sent %lld", i,
			      (long long)v);
		}
	}
	/* Let them all park on the gate before it closes. */
	for (;;) {
		uint64_t compacted, restored;
		goc__stack_compact_stats(&compacted, &restored);
		if (compacted - restored >= (uint64_t)n_goroutines)
			break;
		goc_sleep(GOC_MILLISECOND);
	}
	goc_chan_close(closed_gate);
	goc_wg_wait(&done);
	CHECK(atomic_load(&bad) == 0, "%ld goroutines saw a damaged stack or value",
	      atomic_load(&bad));

	uint64_t compacted, restored;
	goc__stack_compact_stats(&compacted, &restored);
	/* At least the parks on the gate; most other waits park too, unless
	 * the driver got there first. */
	CHECK(compacted >= (uint64_t)n_goroutines, "%llu compactions, want at least %ld",
	      (unsigned long long)compacted, n_goroutines);
	CHECK(restored == compacted, "%llu compactions but %llu restores",
	      (unsigned long long)compacted, (unsigned long long)restored);
	for (long i = 0; i < n_goroutines; i++) {
		goc_chan_release(ws[i].c);
		goc_chan_release(ws[i].back);
	}
	goc_chan_release(closed_gate);
	goc_chan_release(never);
	free(ws);
}

int main(void)
{
	/* Compact at every park, whatever the number of goroutines. */
	setenv("GOCDEBUG", "stackcompact=0", 1);
	n_goroutines = test_size(400, 200, 100);
	rounds = test_size(10, 5, 3);
	goc_main(main_g, NULL);
	ok("test_stack_compact");
	return 0;
}
