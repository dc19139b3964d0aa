/*
 * test_debug_gdb.c — tools/goc-gdb.py against a live program.
 *
 * The child ("target") parks one goroutine in parked_in_recv, one in
 * parked_in_wg and one in parked_by_tail_call (a tail call into
 * goc_chan_recv, which leaves it no frame), then calls all_parked(), where gdb (batch mode, the script
 * loaded with -x) stops it and runs `info goroutines` and `goroutine N bt`
 * for the receiver. Expected: a line per planted goroutine with its id, its
 * wait reason, parked_in_... (or the tail caller, as its start function)
 * with this file and its creator; the backtrace shows
 * goc__park, parked_in_recv and this file. Skipped when gdb is not
 * installed, or cannot trace (ptrace not permitted).
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int sink; /* atomic: keeps calls from being tail calls */
static goc_chan *never_sent;
static goc_wg never_done;

__attribute__((noinline)) static void parked_in_recv(void *arg)
{
	(void)arg;
	goc_chan_recv(never_sent, NULL);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

__attribute__((noinline)) static void parked_in_wg(void *arg)
{
	(void)arg;
	goc_wg_wait(&never_done);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

/* Ends in a tail call at -O2 (a jump into goc_chan_recv): shown as its
 * start function all the same. */
__attribute__((noinline)) static void parked_by_tail_call(void *arg)
{
	(void)arg;
	goc_chan_recv(never_sent, NULL);
}

__attribute__((noinline)) void all_parked(long long recv_id, long long wg_id, long long tail_id)
{
	__asm__ __volatile__("" ::"r"(recv_id), "r"(wg_id), "r"(tail_id) : "memory");
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

static void target_main(void *arg)
{
	(void)arg;
	never_sent = goc_chan_make(0, 0);
	goc_wg_init(&never_done);
	goc_wg_add(&never_done, 1);
	int64_t a = goc_go(parked_in_recv, NULL);
	int64_t b = goc_go(parked_in_wg, NULL);
	int64_t c = goc_go(parked_by_tail_call, NULL);
	goc_sleep(100 * GOC_MILLISECOND);
	printf("planted %lld %lld %lld\n", (long long)a, (long long)b, (long long)c);
	fflush(stdout);
	all_parked(a, b, c);
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		alarm(60);
		goc_main(target_main, NULL);
		return 0;
	}
	if (system("gdb --version >/dev/null 2>&1") != 0) {
		printf("skipped: gdb is not installed\n");
		return 0;
	}
	const char *emulator = getenv("GOC_TEST_EMULATOR");
	if (emulator && *emulator) {
		printf("skipped under an emulator\n");
		return 0;
	}
	char src[4096];
	snprintf(src, sizeof src, "%s", __FILE__);
	char script[4200];
	snprintf(script, sizeof script, "%s/../tools/goc-gdb.py", dirname(src));
	CHECK(access(script, R_OK) == 0, "no %s", script);
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0, "readlink");
	self[n] = 0;

	/* Goroutine ids are handed out in order from 1: the main goroutine
	 * is 1, the three planted ones 2, 3 and 4 (checked against "planted"). */
	char cmd[16384];
	snprintf(cmd, sizeof cmd,
		 "gdb -batch -nx -x '%s' -ex 'set pagination off' -ex 'break all_parked' "
		 "-ex run -ex 'info goroutines' -ex 'goroutine 2 bt' -ex 'goroutine 3 bt' "
		 "-ex 'info goroutines' -ex kill --args '%s' target 2>&1",
		 script, self);
	FILE *p = popen(cmd, "r");
	CHECK(p, "popen");
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	size_t k;
	while ((k = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += k;
		if (len + 1 >= cap)
			out = realloc(out, cap *= 2);
	}
	out[len] = 0;
	pclose(p);
	printf("%s", out);
	if (contains(out, "ptrace: Operation not permitted") ||
	    contains(out, "Could not trace the inferior") ||
	    contains(out, "warning: Error disabling address space randomization")) {
		if (!contains(out, "planted ")) {
			printf("skipped: gdb cannot trace here\n");
			return 0;
		}
	}
	CHECK(contains(out, "planted 2 3 4"), "want goroutines 2, 3 and 4 planted");
	CHECK(contains(out, "  2 [chan receive] parked_in_recv ") &&
		      contains(out, "  3 [sync.WaitGroup.Wait] parked_in_wg ") &&
		      contains(out, "  4 [chan receive] parked_by_tail_call "),
	      "info goroutines: want each with reason and function");
	CHECK(contains(out, " created by target_main "), "info goroutines: want the creator");
	CHECK(contains(out, "goroutine 2 started in parked_in_recv; created by target_main"),
	      "goroutine N bt: want the start function first");
	CHECK(contains(out, "/test_debug_gdb.c:"), "info goroutines: want this file");
	const char *bt2 = strstr(out, "goc__park");
	CHECK(bt2 && contains(bt2, "parked_in_recv") && contains(bt2, "test_debug_gdb.c"),
	      "goroutine 2 bt: want goc__park then parked_in_recv");
	CHECK(contains(bt2, "parked_in_wg"), "goroutine 3 bt: want parked_in_wg");
	free(out);
	ok("gdb: info goroutines and goroutine N bt");
	return 0;
}
