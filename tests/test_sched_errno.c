/*
 * test_sched_errno.c — errno belongs to the goroutine, not to the thread.
 *
 * errno is thread-local, and a goroutine that parks on one M may resume on
 * another: unless the runtime saves and restores it across switches, a
 * goroutine would read whatever the new thread last left in errno (and the
 * compiler may even have cached the old thread's errno address). With
 * GOCMAXPROCS=2 and busy goroutines keeping both Ps occupied:
 *  1. NTRACKED goroutines each set errno to a value of their own, then switch
 *     `switches` times (alternating goc_yield and a short goc_sleep), reading
 *     errno after each switch and recording the OS thread (gettid) they
 *     resumed on. errno must hold its value every time, and some goroutine
 *     must have resumed on a different thread at least once; if none
 *     migrated the round is repeated (bounded: ROUNDS_MAX), so the
 *     migration check cannot flake while the errno check is always made.
 *     Under valgrind, which runs one thread at a time, a migration is not
 *     required.
 *  2. Every busy goroutine also keeps its own distinct errno value across
 *     its yields, so goroutines sharing an M do not see each other's.
 *  3. errno set by a failing system call (close(-1): EBADF) survives a
 *     sleep.
 *
 * errno is read and written through errno_get/errno_set, which take its
 * address afresh on every call: a compiler may otherwise keep the address
 * of the previous thread's errno in a register across a goc call, which
 * goc cannot prevent (docs/ARCHITECTURE.md, "errno and other
 * thread-locals"); what goc promises is the value.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

#define NBUSY 6
#define NTRACKED 8
#define ROUNDS_MAX 20

static long switches;
static atomic_int stop_busy;
static atomic_long busy_errno_errors;
static atomic_int busy_errno_last_bad;
static goc_wg busy_wg = GOC_WG_INIT;

__attribute__((noinline)) static int errno_get(void)
{
	int *p = &errno;
	__asm__ __volatile__("" : "+r"(p) : : "memory");
	return *p;
}

__attribute__((noinline)) static void errno_set(int v)
{
	int *p = &errno;
	__asm__ __volatile__("" : "+r"(p) : : "memory");
	*p = v;
}

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Keeps the Ps busy but unevenly: computes a little, then yields or
 * sleeps for a varying time, so Ps run dry now and then and their Ms
 * steal from each other or run each other's timers (which is what moves
 * goroutines between threads). Checks its own errno throughout. */
static void busy(void *arg)
{
	int mine = 1000 + (int)(intptr_t)arg;
	errno_set(mine);
	volatile uint64_t x = 0;
	for (unsigned n = 0; !atomic_load(&stop_busy); n++) {
		for (int i = 0; i < 2000; i++)
			x += (uint64_t)i;
		if (n % 4 == 0)
			goc_sleep((int64_t)(n % 7 + 1) * 20 * GOC_MICROSECOND);
		else
			goc_yield();
		int e = errno_get();
		if (e != mine) {
			atomic_fetch_add(&busy_errno_errors, 1);
			atomic_store(&busy_errno_last_bad, e);
		}
		errno_set(mine);
	}
	goc_wg_done(&busy_wg);
}

struct tracked {
	int value;
	int migrations;
	long checks;
	goc_wg *done;
};

static void tracked_g(void *arg)
{
	struct tracked *t = arg;
	errno_set(t->value);
	pid_t last = tid();
	for (long i = 0; i < switches; i++) {
		if (i % 2)
			goc_yield();
		else
			goc_sleep(20 * GOC_MICROSECOND);
		int now = errno_get();
		CHECK(now == t->value, "errno is %d after switch %ld, want %d (thread %d -> %d)",
		      now, i, t->value, (int)last, (int)tid());
		t->checks++;
		pid_t here = tid();
		if (here != last)
			t->migrations++;
		last = here;
	}
	goc_wg_done(t->done);
}

static void syscall_errno(void *arg)
{
	goc_wg *done = arg;
	CHECK(close(-1) == -1, "close(-1) succeeded");
	CHECK(errno_get() == EBADF, "close(-1) set errno %d", errno_get());
	for (int i = 0; i < 100; i++) {
		goc_sleep(10 * GOC_MICROSECOND);
		int e = errno_get();
		CHECK(e == EBADF, "errno %d after sleep %d, want EBADF", e, i);
	}
	goc_wg_done(done);
}

static void main_g(void *arg)
{
	(void)arg;
	CHECK(goc_maxprocs(0) == 2, "GOCMAXPROCS is %d, want 2", goc_maxprocs(0));
	goc_wg_add(&busy_wg, NBUSY);
	for (int i = 0; i < NBUSY; i++)
		CHECK(goc_go(busy, (void *)(intptr_t)i) > 0, "goc_go");

	int rounds = 0, migrations = 0;
	long checks = 0;
	while (migrations == 0 && rounds < ROUNDS_MAX) {
		goc_wg done = GOC_WG_INIT;
		struct tracked t[NTRACKED];
		goc_wg_add(&done, NTRACKED);
		for (int i = 0; i < NTRACKED; i++) {
			t[i] = (struct tracked){.value = 4242 + 100 * rounds + i, .done = &done};
			CHECK(goc_go(tracked_g, &t[i]) > 0, "goc_go");
		}
		goc_wg_wait(&done);
		for (int i = 0; i < NTRACKED; i++) {
			migrations += t[i].migrations;
			checks += t[i].checks;
		}
		rounds++;
	}
	printf("errno checked %ld times over %d rounds; %d migrations between threads\n", checks,
	       rounds, migrations);
	/* valgrind runs one thread at a time and may leave the second M idle
	 * for a whole run: there the errno checks still run on every switch,
	 * but a migration cannot be required. */
	const char *under = getenv("GOC_TEST_SANITIZER");
	if (under && strcmp(under, "valgrind") == 0 && migrations == 0)
		printf("no migration happened under valgrind (threads run one at a time there)\n");
	else
		CHECK(migrations > 0, "the tracked goroutine never changed threads in %d rounds",
		      rounds);
	ok("errno kept across switches and migrations");

	goc_wg done = GOC_WG_INIT;
	goc_wg_add(&done, 1);
	CHECK(goc_go(syscall_errno, &done) > 0, "goc_go");
	goc_wg_wait(&done);
	ok("errno from a failed system call survives sleeps");

	atomic_store(&stop_busy, 1);
	goc_wg_wait(&busy_wg);
	CHECK(atomic_load(&busy_errno_errors) == 0,
	      "busy goroutines found their errno changed %ld times (last seen: %d)",
	      atomic_load(&busy_errno_errors), atomic_load(&busy_errno_last_bad));
	ok("goroutines sharing threads keep their own errno");
}

int main(void)
{
	setenv("GOCMAXPROCS", "2", 1);
	switches = getenv("GOC_TEST_SANITIZER") ? 2000 : 20000;
	goc_main(main_g, NULL);
	return 0;
}
