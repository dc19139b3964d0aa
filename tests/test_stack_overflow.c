/*
 * test_stack_overflow.c — a goroutine that runs out of stack is reported
 * as a stack overflow, never as a bare SIGSEGV or silent corruption.
 *
 * Goroutine stacks are fixed-size C stacks (64 KiB by default). The first
 * slots get a guard page below them; past the kernel's mapping budget
 * ((vm.max_map_count - 16384) / 2 slots) slots are unguarded and an
 * overflow is caught by a canary word at the top of the slot below, checked
 * when the goroutine next parks. Each crashing case runs in a child process
 * (run_self with a mode; alarm() turns a hang into a failure) and must die
 * of SIGABRT with "goroutine N: stack overflow" (N the id goc_go returned)
 * and a "created by" line naming the function that called goc_go:
 *  - "guarded": a goroutine recursing without bound (a volatile buffer per
 *    frame, noinline, so it is neither a loop nor a tail call) hits its
 *    guard page.
 *  - "canary": the child first parks more goroutines than the guard budget,
 *    then probes for a goroutine whose stack has no guard page below it
 *    (from /proc/self/maps: the page under its stack is not PROT_NONE).
 *    That one recurses to just short of its stack's end and then calls a
 *    function whose single 16 KiB buffer, written in full, straddles the
 *    end of the stack (so the canary word is overwritten whatever the
 *    compiler's frame layout), and parks (goc_yield, then goc_sleep): the
 *    canary check must report it. Skipped if the budget is over 200,000
 *    (a raised vm.max_map_count would make the setup too big) and under
 *    TSan (8128 live fibers at most).
 *  - "depth_default": a bounded recursion of DEPTH (300) frames of over
 *    1 KiB each on a default stack overflows; in this process the same
 *    recursion succeeds on a goroutine made with goc_go_opts and a 1 MiB
 *    stack_size.
 *  - "nil_fn", "nil_fn_thread", "nil_fn_opts": goc_go(NULL, ...) panics
 *    with "panic: goc_go: nil function" and SIGABRT, from a goroutine and
 *    from a plain thread.
 * In process: stack_size over 1 GiB returns -EINVAL; exactly
 * 1 GiB (address space only) works.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define DEPTH 300
#define FRAME 1024
#define STACK_DEFAULT (64 * 1024)

static volatile int sink;

/* ---- recursion ---- */

__attribute__((noinline)) int recurse_forever(int depth)
{
	volatile char buf[FRAME];
	for (int i = 0; i < FRAME; i++)
		buf[i] = (char)(depth + i);
	if (depth == -1) /* never: keeps the compiler from proving no end */
		return buf[0];
	return recurse_forever(depth + 1) + buf[depth % FRAME];
}

__attribute__((noinline)) int recurse_to(int depth, int limit)
{
	volatile char buf[FRAME];
	for (int i = 0; i < FRAME; i++)
		buf[i] = (char)(depth + i);
	if (depth >= limit)
		return buf[0];
	return recurse_to(depth + 1, limit) + buf[depth % FRAME];
}

/* Tells the parent which goroutine is about to overflow (before it does:
 * the crash ends the process, maybe before the spawner prints anything). */
static void announce_self(void)
{
	printf("overflowing goroutine %lld\n", (long long)goc_id());
	fflush(stdout);
}

static void overflow_forever(void *arg)
{
	(void)arg;
	announce_self();
	sink = recurse_forever(0);
	printf("unbounded recursion returned\n");
}

static int goc_id_is_quiet; /* in process: no announcement */

static void recurse_depth(void *arg)
{
	int *finished = arg;
	if (!goc_id_is_quiet)
		announce_self();
	sink = recurse_to(0, DEPTH);
	*finished = 1;
	printf("recursion of depth %d returned\n", DEPTH);
}

/* Called from a goroutine: spawns one. Not static and noinline, so the
 * crash report's "created by" line can name it. */
__attribute__((noinline)) int64_t spawn_overflower(goc_fn fn, void *arg)
{
	int64_t id = goc_go(fn, arg);
	CHECK(id > 0, "goc_go");
	return id;
}

static void wait_forever(void)
{
	goc_chan *never = goc_chan_make(0, 0);
	goc_chan_recv(never, NULL);
}

static void guarded_main(void *arg)
{
	(void)arg;
	spawn_overflower(overflow_forever, NULL);
	wait_forever();
}

static void depth_default_main(void *arg)
{
	(void)arg;
	static int finished;
	spawn_overflower(recurse_depth, &finished);
	wait_forever();
}

/* ---- the canary case ---- */

static char *stack_top; /* a local of the probing goroutine's entry frame */

/* 16 KiB in one buffer, written in full: wherever the stack's end falls in
 * it, the canary word just below is overwritten. Then parks, which is when
 * the canary is checked. */
__attribute__((noinline)) static void straddle_and_park(void)
{
	volatile char big[16 * 1024];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)0xA5;
	goc_yield();
	goc_sleep(GOC_MILLISECOND);
	sink = big[0];
}

/* Recurses until the frame is within 8 KiB of the stack's end, then
 * straddles it. */
__attribute__((noinline)) static int recurse_near_end(int depth)
{
	volatile char buf[FRAME];
	for (int i = 0; i < FRAME; i++)
		buf[i] = (char)(depth + i);
	if ((size_t)(stack_top - (char *)buf) >= STACK_DEFAULT - 8 * 1024) {
		straddle_and_park();
		return buf[0];
	}
	return recurse_near_end(depth + 1) + buf[depth % FRAME];
}

/* Whether the page just below the stack that holds `addr` is a guard page:
 * the mapping holding addr starts less than a stack size below it and the
 * mapping under that is inaccessible. */
static int guard_below(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	CHECK(f, "open /proc/self/maps");
	char line[512];
	uintptr_t prev_hi = 0;
	char prev_perm[8] = "";
	int guarded = -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perm[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3)
			continue;
		if (addr >= lo && addr < hi) {
			guarded = addr - lo < STACK_DEFAULT && prev_hi == lo &&
				strncmp(prev_perm, "---", 3) == 0;
			break;
		}
		prev_hi = hi;
		memcpy(prev_perm, perm, sizeof perm);
	}
	fclose(f);
	CHECK(guarded >= 0, "address %#lx is in no mapping", (unsigned long)addr);
	return guarded;
}

static goc_chan *probe_result; /* int: 1 guarded (the prober parks), 0 not */
static goc_chan *park_forever;

static void probe(void *arg)
{
	(void)arg;
	char here;
	stack_top = &here;
	int guarded = guard_below((uintptr_t)&here);
	if (guarded) {
		goc_chan_send(probe_result, &guarded);
		goc_chan_recv(park_forever, NULL); /* keep its slot */
		return;
	}
	announce_self();
	sink = recurse_near_end(0);
	printf("overflow into the slot below went unnoticed\n");
	fflush(stdout);
	goc_chan_send(probe_result, &guarded);
}

static goc_wg parked_started = GOC_WG_INIT;

static void parked(void *arg)
{
	(void)arg;
	goc_wg_done(&parked_started);
	goc_chan_recv(park_forever, NULL);
}

static void canary_main(void *arg)
{
	(void)arg;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	long max_map = 65530;
	if (f) {
		if (fscanf(f, "%ld", &max_map) != 1)
			max_map = 65530;
		fclose(f);
	}
	long budget = (max_map - 16384) / 2;
	if (budget > 200000) {
		printf("skip: vm.max_map_count %ld gives a guard budget of %ld\n", max_map, budget);
		exit(0);
	}
	const char *san = getenv("GOC_TEST_SANITIZER");
	if (san && strcmp(san, "thread") == 0) {
		printf("skip: TSan allows 8128 live fibers, the guard budget is %ld\n", budget);
		exit(0);
	}
	if (budget < 0)
		budget = 0;
	park_forever = goc_chan_make(0, 0);
	probe_result = goc_chan_make(sizeof(int), 0);
	/* Past the budget, with room for the guarded slots still cached by
	 * each P (a P takes 64 at a time). */
	long n = budget + 64L * (goc_maxprocs(0) + 2);
	goc_wg_add(&parked_started, n);
	for (long i = 0; i < n; i++)
		CHECK(goc_go(parked, NULL) > 0, "goc_go #%ld", i);
	goc_wg_wait(&parked_started);
	printf("%ld goroutines parked (guard budget %ld)\n", n, budget);
	fflush(stdout);
	for (int tries = 0; tries < 1000; tries++) {
		spawn_overflower(probe, NULL);
		int guarded = -1;
		goc_chan_recv(probe_result, &guarded);
		if (!guarded) {
			printf("overflow not reported\n");
			exit(1);
		}
	}
	printf("no unguarded stack found\n");
	exit(1);
}

/* ---- nil function ---- */

static void nil_main(void *arg)
{
	(void)arg;
	goc_go(NULL, NULL);
	printf("goc_go(NULL) returned\n");
}

static void nil_opts_main(void *arg)
{
	(void)arg;
	goc_go_options o = {.stack_size = 128 * 1024};
	goc_go_opts(NULL, NULL, &o);
	printf("goc_go_opts(NULL) returned\n");
}

static void run_mode(const char *mode)
{
	if (strcmp(mode, "guarded") == 0)
		goc_main(guarded_main, NULL);
	else if (strcmp(mode, "canary") == 0)
		goc_main(canary_main, NULL);
	else if (strcmp(mode, "depth_default") == 0)
		goc_main(depth_default_main, NULL);
	else if (strcmp(mode, "nil_fn") == 0)
		goc_main(nil_main, NULL);
	else if (strcmp(mode, "nil_fn_opts") == 0)
		goc_main(nil_opts_main, NULL);
	else if (strcmp(mode, "nil_fn_thread") == 0)
		goc_go(NULL, NULL); /* this is a plain thread: no goc_main */
	else
		CHECK(0, "unknown mode %s", mode);
	printf("mode %s returned\n", mode);
}

/* ---- the parent ---- */

static void expect_overflow(const char *self, const char *mode, const char *how)
{
	child_result r = run_self(self, mode, NULL);
	printf("--- %s: %s %d\n%s", mode, r.exited ? "exit status" : "signal", r.status, r.out);
	if (r.exited && r.status == 0 && contains(r.out, "skip:")) {
		printf("ok: %s (skipped)\n", mode);
		free(r.out);
		return;
	}
	/* Under ASan the write across the end of an unguarded stack may land
	 * on memory ASan has poisoned, and ASan reports it first: that is the
	 * overflow detected too, by another tool. */
	if (how && strcmp(how, "canary") == 0 && r.exited && r.status != 0 &&
	    contains(r.out, "ERROR: AddressSanitizer")) {
		printf("ok: %s overflow reported (by AddressSanitizer, before the canary check)\n",
		       mode);
		free(r.out);
		return;
	}
	long long id = 0;
	const char *p = strstr(r.out, "overflowing goroutine ");
	CHECK(p && sscanf(p, "overflowing goroutine %lld", &id) == 1 && id > 0, "%s: no id", mode);
	char want[96];
	snprintf(want, sizeof want, "goroutine %lld: stack overflow", id);
	CHECK(contains(r.out, want), "%s: '%s' not reported", mode, want);
	CHECK(contains(r.out, "created by spawn_overflower"), "%s: creator not named", mode);
	CHECK(!r.exited && r.status == SIGABRT, "%s: want death by SIGABRT, got %s %d", mode,
	      r.exited ? "exit status" : "signal", r.status);
	if (how)
		CHECK(contains(r.out, how), "%s: '%s' not in the report", mode, how);
	CHECK(!contains(r.out, "returned") && !contains(r.out, "unnoticed"),
	      "%s: the program went on after the overflow", mode);
	free(r.out);
	printf("ok: %s overflow reported\n", mode);
}

static void expect_nil_panic(const char *self, const char *mode)
{
	child_result r = run_self(self, mode, NULL);
	printf("--- %s: %s %d\n%s", mode, r.exited ? "exit status" : "signal", r.status, r.out);
	CHECK(contains(r.out, "panic: goc_go: nil function"), "%s: no panic message", mode);
	CHECK(!r.exited && r.status == SIGABRT, "%s: want SIGABRT", mode);
	CHECK(!contains(r.out, "returned"), "%s: goc_go returned", mode);
	free(r.out);
	printf("ok: %s panics\n", mode);
}

static goc_wg wg = GOC_WG_INIT;
static int deep_finished;

static void deep_then_done(void *arg)
{
	recurse_depth(arg);
	goc_wg_done(&wg);
}

static void tiny(void *arg)
{
	char local[256];
	memset(local, 1, sizeof local);
	*(int *)arg = local[0] + local[255];
	goc_wg_done(&wg);
}

static void in_process(void *arg)
{
	(void)arg;
	goc_id_is_quiet = 1;
	goc_go_options big = {.stack_size = 1024 * 1024};
	goc_wg_add(&wg, 1);
	CHECK(goc_go_opts(deep_then_done, &deep_finished, &big) > 0, "goc_go_opts 1 MiB");
	goc_wg_wait(&wg);
	CHECK(deep_finished, "deep recursion did not finish");
	ok("the same recursion fits a 1 MiB stack");

	goc_go_options huge = {.stack_size = ((size_t)1 << 30) + 1};
	CHECK(goc_go_opts(tiny, NULL, &huge) == -EINVAL, "stack_size 1 GiB + 1 accepted");
	huge.stack_size = SIZE_MAX;
	CHECK(goc_go_opts(tiny, NULL, &huge) == -EINVAL, "stack_size SIZE_MAX accepted");
	ok("stack_size over 1 GiB: -EINVAL");

	int out = 0;
	goc_go_options gib = {.stack_size = (size_t)1 << 30, .name = "one-gib"};
	goc_wg_add(&wg, 1);
	int64_t id = goc_go_opts(tiny, &out, &gib);
	CHECK(id > 0, "stack_size 1 GiB refused: %s", goc_strerror((int)id));
	goc_wg_wait(&wg);
	CHECK(out == 2, "the 1 GiB goroutine did not run");
	ok("stack_size of exactly 1 GiB works");
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		alarm(120);
		run_mode(argv[1]);
		return 0;
	}
	expect_overflow(argv[0], "guarded", NULL);
	expect_overflow(argv[0], "depth_default", NULL);
	expect_overflow(argv[0], "canary", "canary");
	expect_nil_panic(argv[0], "nil_fn");
	expect_nil_panic(argv[0], "nil_fn_opts");
	expect_nil_panic(argv[0], "nil_fn_thread");
	goc_main(in_process, NULL);
	return 0;
}
