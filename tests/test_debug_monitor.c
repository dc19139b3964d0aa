/*
 * test_debug_monitor.c — what sysmon prints on request: GOCDEBUG=schedtrace,
 * scheddetail and blockwarn. Each case runs in a child (run_self) with
 * GOCMAXPROCS=2 and its GOCDEBUG, and the parent parses what it printed:
 *  - "schedtrace" (schedtrace=100): for 600 ms the main goroutine keeps
 *    spawning short goroutines. Every "SCHED" line must parse, with
 *    gomaxprocs=2, idleprocs <= gomaxprocs, idlethreads and spinningthreads
 *    <= threads, exactly gomaxprocs local queue lengths in brackets, and
 *    times that grow by about 100 ms; at least 4 lines.
 *  - "scheddetail" (schedtrace=100,scheddetail=1): a goroutine blocked in
 *    a receive; the report has a line per P ("  P0: status=" and "  P1:"),
 *    an M line with its p=, and "  G<id>: status=4(chan receive)".
 *  - "blockwarn" (blockwarn=1): one goroutine blocked in stuck_forever for
 *    3 s, another blocked 300 ms then released. The first is reported
 *    exactly once, with its wait reason and stack; the second never, nor
 *    the main goroutine, which sleeps (sleeps are not reported).
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int sink; /* atomic: keeps calls from being tail calls */
static goc_chan *never_sent;

static void short_job(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

static void schedtrace_main(void *arg)
{
	(void)arg;
	int64_t end = goc_now() + 600 * GOC_MILLISECOND;
	while (goc_now() < end) {
		for (int i = 0; i < 50; i++)
			goc_go(short_job, NULL);
		goc_sleep(GOC_MILLISECOND);
	}
}

__attribute__((noinline)) static void stuck_forever(void *arg)
{
	(void)arg;
	goc_chan_recv(never_sent, NULL);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

static void scheddetail_main(void *arg)
{
	(void)arg;
	never_sent = goc_chan_make(0, 0);
	printf("stuck goroutine %lld\n", (long long)goc_go(stuck_forever, NULL));
	fflush(stdout);
	goc_sleep(350 * GOC_MILLISECOND);
}

__attribute__((noinline)) static void briefly_blocked(void *arg)
{
	goc_chan_recv(arg, NULL);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

static void blockwarn_main(void *arg)
{
	(void)arg;
	never_sent = goc_chan_make(0, 0);
	goc_chan *release = goc_chan_make(0, 0);
	printf("stuck goroutine %lld\n", (long long)goc_go(stuck_forever, NULL));
	printf("brief goroutine %lld\n", (long long)goc_go(briefly_blocked, release));
	fflush(stdout);
	goc_sleep(300 * GOC_MILLISECOND);
	goc_chan_send(release, NULL);
	goc_chan_release(release);
	goc_sleep(2700 * GOC_MILLISECOND);
}

static int count_of(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void check_schedtrace(const char *out)
{
	int lines = 0;
	long prev_ms = -1;
	for (const char *l = strstr(out, "SCHED "); l; l = strstr(l + 1, "\nSCHED ")) {
		if (*l == '\n')
			l++;
		long ms, runqueue;
		int procs, idle, threads, spinning, idlethreads, used = 0;
		int n = sscanf(l,
			       "SCHED %ldms: gomaxprocs=%d idleprocs=%d threads=%d "
			       "spinningthreads=%d idlethreads=%d runqueue=%ld [%n",
			       &ms, &procs, &idle, &threads, &spinning, &idlethreads, &runqueue,
			       &used);
		CHECK(n == 7 && used > 0, "unparsable line: %.200s", l);
		CHECK(procs == 2 && idle >= 0 && idle <= procs, "procs: %.200s", l);
		CHECK(threads >= 1 && spinning >= 0 && spinning <= threads && idlethreads >= 0 &&
			      idlethreads <= threads && runqueue >= 0,
		      "threads: %.200s", l);
		const char *q = l + used;
		int queues = 0;
		for (;;) {
			char *end;
			long v = strtol(q, &end, 10);
			if (end == q)
				break;
			CHECK(v >= 0 && v <= 257, "queue length %ld: %.200s", v, l);
			queues++;
			q = end;
		}
		CHECK(*q == ']' && queues == procs, "want %d queue lengths: %.200s", procs, l);
		CHECK(ms > prev_ms && (prev_ms < 0 || ms - prev_ms >= 90), "times: %ld after %ld",
		      ms, prev_ms);
		prev_ms = ms;
		lines++;
	}
	CHECK(lines >= 4, "want at least 4 SCHED lines, got %d:\n%s", lines, out);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		alarm(60);
		if (strcmp(argv[1], "schedtrace") == 0)
			goc_main(schedtrace_main, NULL);
		else if (strcmp(argv[1], "scheddetail") == 0)
			goc_main(scheddetail_main, NULL);
		else if (strcmp(argv[1], "blockwarn") == 0)
			goc_main(blockwarn_main, NULL);
		fflush(stdout);
		return 0;
	}

	static const char *const trace_env[] = {"GOCMAXPROCS=2", "GOCDEBUG=schedtrace=100", NULL};
	child_result r = run_self(argv[0], "schedtrace", trace_env);
	CHECK(r.exited && r.status == 0, "schedtrace child:\n%s", r.out);
	check_schedtrace(r.out);
	free(r.out);
	ok("GOCDEBUG=schedtrace=100: lines parse and add up");

	static const char *const detail_env[] = {"GOCMAXPROCS=2",
						 "GOCDEBUG=schedtrace=100,scheddetail=1", NULL};
	r = run_self(argv[0], "scheddetail", detail_env);
	CHECK(r.exited && r.status == 0, "scheddetail child:\n%s", r.out);
	long long id = 0;
	const char *l = strstr(r.out, "stuck goroutine ");
	CHECK(l && sscanf(l, "stuck goroutine %lld", &id) == 1, "no id:\n%s", r.out);
	char want[64];
	snprintf(want, sizeof want, "\n  G%lld: status=4(chan receive) m=-1\n", id);
	CHECK(contains(r.out, "SCHED ") && contains(r.out, "\n  P0: status=") &&
		      contains(r.out, "\n  P1: status=") && contains(r.out, " schedtick=") &&
		      contains(r.out, " runqsize=") && contains(r.out, " gfreecnt=") &&
		      contains(r.out, "\n  M") && contains(r.out, ": p=") &&
		      contains(r.out, " curg=") && contains(r.out, want),
	      "scheddetail: want P, M and G lines (%s):\n%s", want, r.out);
	free(r.out);
	ok("GOCDEBUG=scheddetail=1: P, M and G lines");

	static const char *const warn_env[] = {"GOCMAXPROCS=2", "GOCDEBUG=blockwarn=1", NULL};
	r = run_self(argv[0], "blockwarn", warn_env);
	CHECK(r.exited && r.status == 0, "blockwarn child:\n%s", r.out);
	long long stuck = 0, brief = 0;
	l = strstr(r.out, "stuck goroutine ");
	CHECK(l && sscanf(l, "stuck goroutine %lld", &stuck) == 1, "no id:\n%s", r.out);
	l = strstr(r.out, "brief goroutine ");
	CHECK(l && sscanf(l, "brief goroutine %lld", &brief) == 1, "no id:\n%s", r.out);
	snprintf(want, sizeof want, "goc: blockwarn: goroutine %lld blocked for ", stuck);
	CHECK(count_of(r.out, want) == 1, "want one report of goroutine %lld:\n%s", stuck, r.out);
	CHECK(count_of(r.out, "goc: blockwarn: ") == 1, "want one report in all:\n%s", r.out);
	const char *report = strstr(r.out, want);
	CHECK((contains(report, " seconds in chan receive\n") ||
	       contains(report, " second in chan receive\n")) &&
		      contains(report, "stuck_forever(...)\n\t") &&
		      contains(report, "/test_debug_monitor.c:"),
	      "blockwarn report without reason or stack:\n%s", r.out);
	free(r.out);
	ok("GOCDEBUG=blockwarn=1 reports a long wait once, with its stack");
	return 0;
}
