/*
 * test_debug_leak.c — goc_leakcheck, goc's goleak.
 *
 * From the main goroutine (so the caller and the main goroutine are never
 * reported):
 *  - clean: goroutines that finish within 50 ms (one sleeps that long) are
 *    not leaks: the grace period waits for them; the result is 0 and
 *    nothing is printed.
 *  - planted: a goroutine blocked in leaky_receiver is found: the result
 *    is 1 and the output has its entry, wait reason and stack (its function
 *    and this file), after about `grace` and not much longer.
 *  - allow-list: the same leak is allowed by its function name, by the
 *    function that created it (plant_leak), or by its goroutine name.
 *  - after the leaked goroutine is released, the check is clean again.
 * Then with GOCMAXPROCS=1 the same runs once more in a child, where the
 * grace period's sleeps are what lets the finishing goroutines run at all.
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int sink; /* atomic: keeps calls from being tail calls */

static void finishes_soon(void *arg)
{
	goc_sleep((int64_t)(intptr_t)arg * GOC_MILLISECOND);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

__attribute__((noinline)) static void leaky_receiver(void *arg)
{
	goc_chan_recv(arg, NULL);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

__attribute__((noinline)) static int64_t plant_leak(goc_chan *c)
{
	goc_go_options named = {.name = "leaky"};
	return goc_go_opts(leaky_receiver, c, &named);
}

static int64_t check_into(char **text, const char *const *allow, int64_t grace)
{
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	CHECK(f, "open_memstream");
	goc_leakcheck_options o = {.grace = grace, .allow = allow, .out = f};
	int64_t n = goc_leakcheck(&o);
	fclose(f);
	return n;
}

static void leak_main(void *arg)
{
	(void)arg;
	for (intptr_t i = 0; i < 20; i++)
		goc_go(finishes_soon, (void *)(i % 2 ? (intptr_t)50 : 0));
	char *text;
	int64_t n = check_into(&text, NULL, 0);
	CHECK(n == 0 && text[0] == 0, "clean: got %lld:\n%s", (long long)n, text);
	free(text);
	ok("goc_leakcheck: goroutines that finish within the grace period are no leak");

	goc_chan *c = goc_chan_make(0, 0);
	int64_t id = plant_leak(c);
	int64_t t0 = goc_now();
	n = check_into(&text, NULL, 200 * GOC_MILLISECOND);
	int64_t took = goc_now() - t0;
	char want[64];
	snprintf(want, sizeof want, "goroutine %lld [chan receive", (long long)id);
	CHECK(n == 1, "planted: want 1, got %lld:\n%s", (long long)n, text);
	CHECK(contains(text, want) && contains(text, "leaky_receiver(...)\n\t") &&
		      contains(text, "/test_debug_leak.c:") &&
		      contains(text, "created by plant_leak in goroutine 1") &&
		      contains(text, "goc_leakcheck: 1 goroutine leaked"),
	      "planted: want its entry and stack:\n%s", text);
	CHECK(took >= 200 * GOC_MILLISECOND && took < 5 * GOC_SECOND, "took %lld ms",
	      (long long)(took / GOC_MILLISECOND));
	free(text);
	ok("goc_leakcheck finds a planted leak, with its stack");

	static const char *const by_fn[] = {"leaky_receiver", NULL};
	static const char *const by_creator[] = {"some_other", "plant_leak", NULL};
	static const char *const by_name[] = {"leaky", NULL};
	const char *const *lists[] = {by_fn, by_creator, by_name};
	for (int i = 0; i < 3; i++) {
		n = check_into(&text, lists[i], 10 * GOC_MILLISECOND);
		CHECK(n == 0 && text[0] == 0, "allow-list %d: got %lld:\n%s", i, (long long)n,
		      text);
		free(text);
	}
	ok("goc_leakcheck allow-list: function, creator, name");

	goc_chan_close(c);
	n = check_into(&text, NULL, 0);
	CHECK(n == 0, "released: got %lld:\n%s", (long long)n, text);
	free(text);
	goc_chan_release(c);
	ok("goc_leakcheck is clean once the leak is released");
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		alarm(60);
		goc_main(leak_main, NULL);
		return 0;
	}
	goc_main(leak_main, NULL);
	static const char *const one_p[] = {"GOCMAXPROCS=1", NULL};
	child_result r = run_self(argv[0], "procs1", one_p);
	printf("%s", r.out);
	CHECK(r.exited && r.status == 0, "GOCMAXPROCS=1 run failed");
	free(r.out);
	ok("goc_leakcheck with GOCMAXPROCS=1");
	return 0;
}
