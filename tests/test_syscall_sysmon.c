/*
 * test_syscall_sysmon.c — what ends a program or is only recorded, each
 * case in a child process (run_self with a mode):
 *  - misuse of syscall sections panics: a nested enter, an exit without
 *    enter, a channel receive, goc_sleep and goc_yield inside a section;
 *    the dump shows the goroutine as "[syscall, N seconds]";
 *  - GOCMAXTHREADS=6: goroutines blocked at once need more threads than
 *    that: "fatal error: thread exhaustion" after Go's "program exceeds
 *    6-thread limit" line, with the blocked goroutines dumped as
 *    "[syscall"; goc_set_max_threads below the threads already running
 *    dies the same way;
 *  - a goroutine spinning over 30 ms without a scheduling point is
 *    recorded by sysmon: goc_sched_stats.long_runs counts it, and a dump
 *    taken while it spins shows "[running, N ms without a scheduling
 *    point]". It spins until sysmon has seen it (bounded), so a slow
 *    machine delays the test instead of failing it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "panic_modes.h"
#include "testutil.h"

/* ---- misuse ---- */

static void nested_enter(void *arg)
{
	(void)arg;
	goc_syscall_enter();
	goc_syscall_enter();
}

static void exit_without_enter(void *arg)
{
	(void)arg;
	goc_syscall_exit();
}

static void recv_inside(void *arg)
{
	(void)arg;
	goc_chan *c = goc_chan_make(sizeof(int), 0);
	goc_syscall_enter();
	int v;
	goc_chan_recv(c, &v);
}

static void sleep_inside(void *arg)
{
	(void)arg;
	goc_syscall_enter();
	goc_sleep(GOC_MILLISECOND);
}

static void yield_inside(void *arg)
{
	(void)arg;
	goc_syscall_enter();
	goc_yield();
}

static const struct panic_mode modes[] = {
	{"nested_enter", nested_enter,
	 "panic: goc_syscall_enter: already inside a syscall section"},
	{"exit_without_enter", exit_without_enter,
	 "panic: goc_syscall_exit: not inside a syscall section"},
	{"recv_inside", recv_inside,
	 "panic: a blocking call inside a syscall section (between goc_syscall_enter and "
	 "goc_syscall_exit)"},
	{"sleep_inside", sleep_inside, "panic: goc_sleep inside a syscall section"},
	{"yield_inside", yield_inside, "panic: goc_yield inside a syscall section"},
};
#define NMODES (sizeof modes / sizeof modes[0])

/* ---- thread exhaustion ---- */

static void *sleep_long(void *arg)
{
	(void)arg;
	usleep(500 * 1000);
	return NULL;
}

static void exhaust_blocker(void *arg)
{
	(void)arg;
	goc_blocking(sleep_long, NULL);
}

static void exhaust_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++)
		CHECK(goc_go(exhaust_blocker, NULL) > 0, "goc_go");
	goc_sleep(5 * GOC_SECOND);
	printf("no exhaustion\n");
	exit(3);
}

static void set_below_main(void *arg)
{
	(void)arg;
	CHECK(goc_set_max_threads(0) == 10000, "default limit");
	CHECK(goc_set_max_threads(100) == 10000, "set");
	CHECK(goc_set_max_threads(0) == 100, "read back");
	goc_set_max_threads(1);
	printf("survived\n");
	exit(3);
}

/* ---- long runs ---- */

static int64_t spin_flag;

static int64_t long_runs(void)
{
	static goc_sched_stats s;
	goc_sched_stats_read(&s);
	return s.long_runs;
}

/* Spins without a scheduling point for at least 30 ms and until sysmon
 * counted it (at most 10 s), then reports. */
static void spinner(void *arg)
{
	int64_t before = *(int64_t *)arg;
	int64_t start = goc_now();
	while (goc_now() - start < 30 * GOC_MILLISECOND || long_runs() == before) {
		if (goc_now() - start > 10 * GOC_SECOND) {
			printf("sysmon never counted the spinner\n");
			exit(3);
		}
	}
	printf("long runs %lld -> %lld after %lld ms\n", (long long)before, (long long)long_runs(),
	       (long long)((goc_now() - start) / GOC_MILLISECOND));
	fflush(stdout);
	/* Keep spinning for the dumper (below), which ends the process. */
	__atomic_store_n(&spin_flag, 1, __ATOMIC_RELEASE);
	while (goc_now() - start < 20 * GOC_SECOND)
		;
	printf("no dump\n");
	exit(3);
}

/* A plain thread: once the spinner is counted, and has spun 20 ms more,
 * dumps every goroutine by way of a fatal error. */
static void *dumper(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&spin_flag, __ATOMIC_ACQUIRE))
		usleep(1000);
	usleep(20 * 1000);
	goc_set_max_threads(1);
	return NULL;
}

static void long_run_main(void *arg)
{
	(void)arg;
	static int64_t before;
	before = long_runs();
	pthread_t t;
	CHECK(pthread_create(&t, NULL, dumper, NULL) == 0, "pthread_create");
	/* Not preempted: the run the dump must show has to stay one stretch
	 * (a preemption would end it and start a new, shorter one). */
	CHECK(goc_go_opts(spinner, &before,
			  &(goc_go_options){.name = "spinner", .no_async_preempt = true}) > 0,
	      "goc_go");
	goc_sleep(60 * GOC_SECOND);
}

static int run_mode(const char *mode)
{
	alarm(60);
	if (strcmp(mode, "exhaust") == 0)
		goc_main(exhaust_main, NULL);
	else if (strcmp(mode, "set_below") == 0)
		goc_main(set_below_main, NULL);
	else if (strcmp(mode, "long_run") == 0)
		goc_main(long_run_main, NULL);
	else
		return panic_mode_run(mode, modes, NMODES);
	return 3;
}

static child_result run(const char *self, const char *mode, const char *const *env)
{
	child_result r = run_self(self, mode, env);
	printf("--- %s: %s %d\n%s", mode, r.exited ? "exit status" : "signal", r.status, r.out);
	return r;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return run_mode(argv[1]);

	panic_modes_check(argv[0], modes, NMODES);
	child_result r = run_self(argv[0], "recv_inside", NULL);
	CHECK(contains(r.out, "[syscall"), "the panicking goroutine is not shown in a syscall:\n%s",
	      r.out);
	free(r.out);
	ok("a goroutine inside a section is dumped as [syscall, ...]");

	static const char *const exhaust_env[] = {"GOCMAXTHREADS=6", NULL};
	r = run(argv[0], "exhaust", exhaust_env);
	CHECK(r.exited && r.status == 2, "want exit status 2");
	CHECK(contains(r.out,
		       "runtime: program exceeds 6-thread limit\nfatal error: thread exhaustion"),
	      "no thread exhaustion message");
	CHECK(contains(r.out, "[syscall"), "no goroutine dumped in a syscall");
	free(r.out);
	ok("GOCMAXTHREADS exceeded: fatal error: thread exhaustion");

	r = run(argv[0], "set_below", NULL);
	CHECK(r.exited && r.status == 2 && contains(r.out, "fatal error: thread exhaustion") &&
		      !contains(r.out, "survived"),
	      "goc_set_max_threads below the threads running must be fatal");
	free(r.out);
	ok("goc_set_max_threads below the running threads: thread exhaustion");

	static const char *const one_proc[] = {"GOCMAXPROCS=1", NULL};
	r = run(argv[0], "long_run", one_proc);
	CHECK(r.exited && r.status == 2, "want the dump's exit status 2");
	const char *seen = strstr(r.out, "long runs ");
	long long before = -1, after = -1;
	CHECK(seen && sscanf(seen, "long runs %lld -> %lld", &before, &after) == 2 &&
		      after > before,
	      "the spinner was not counted");
	const char *header = strstr(r.out, "[running, ");
	long long ms = 0;
	CHECK(header && sscanf(header, "[running, %lld ms without a scheduling point]", &ms) == 1 &&
		      ms >= 10,
	      "no long-run header in the dump");
	CHECK(contains(r.out, "name \"spinner\""), "spinner not in the dump");
	free(r.out);
	ok("sysmon records a goroutine running over 10 ms without a scheduling point");
	return 0;
}
