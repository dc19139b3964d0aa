/*
 * linux.c — the prim.h services on Linux.
 *
 * Everything here is a thin, checked wrapper over a system call. Functions
 * that can be reached from a signal handler (goc__prim_write_stderr,
 * goc__prim_nanotime) use async-signal-safe calls only.
 */
#define _GNU_SOURCE
#include "prim.h"

#include "atomic.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef GOC_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

int64_t goc__prim_nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void goc__prim_sleep_until(int64_t deadline)
{
	struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

bool goc__prim_futex_wait(uint32_t *word, uint32_t expected, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	if (deadline > 0) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
	 * retry after a spurious wake-up does not stretch the wait. errno is
	 * preserved: this runs on goroutines' threads (a contended runtime
	 * lock) between the user's code and the switch that saves its errno. */
	int saved = errno;
	long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, tsp,
			 NULL, FUTEX_BITSET_MATCH_ANY);
	bool timed_out = r == -1 && errno == ETIMEDOUT;
	errno = saved;
	return !timed_out;
}

void goc__prim_futex_wake(uint32_t *word, int n)
{
	int saved = errno;
	syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
	errno = saved;
}

void *goc__prim_reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* A huge page would commit 2 MiB for a goroutine that touched 4 KiB. */
	madvise(p, size, MADV_NOHUGEPAGE);
	return p;
}

void goc__prim_unreserve(void *addr, size_t size)
{
	munmap(addr, size);
}

bool goc__prim_guard(void *addr, size_t size)
{
	return mprotect(addr, size, PROT_NONE) == 0;
}

void goc__prim_release(void *addr, size_t size)
{
	madvise(addr, size, MADV_DONTNEED);
}

size_t goc__prim_page_size(void)
{
	static size_t page;
	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

long goc__prim_max_map_count(void)
{
	long limit = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &limit) != 1)
			limit = 65530;
		fclose(f);
	}
	return limit;
}

bool goc__prim_thread_start(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t tid;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The scheduler's own stack (g0): find-runnable, timers, signal
	 * handling fallbacks. User code never runs here. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int saved = errno; /* called from goroutines (waking an M) */
	goc__prim_sigmask mask;
	goc__prim_thread_sigmask_enter(&mask);
	int r = pthread_create(&tid, &attr, fn, arg);
	goc__prim_thread_sigmask_leave(&mask);
	pthread_attr_destroy(&attr);
	errno = saved;
	return r == 0;
}

/* Asynchronous signals sent to the process as a whole, whose default
 * action a program commonly replaces (Go's signal.Notify targets). */
static const int notify_signals[] = {SIGHUP,  SIGINT,  SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
				     SIGALRM, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT};

bool goc__prim_notify_signal_ok(int sig)
{
	for (size_t i = 0; i < sizeof notify_signals / sizeof *notify_signals; i++)
		if (notify_signals[i] == sig)
			return true;
	return false;
}

_Static_assert(sizeof(goc__prim_sigmask) >= sizeof(sigset_t), "goc__prim_sigmask holds a sigset_t");

void goc__prim_thread_sigmask_enter(goc__prim_sigmask *saved)
{
	sigset_t block;
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof notify_signals / sizeof *notify_signals; i++)
		sigaddset(&block, notify_signals[i]);
	pthread_sigmask(SIG_BLOCK, &block, (sigset_t *)(void *)saved->words);
}

void goc__prim_thread_sigmask_leave(const goc__prim_sigmask *saved)
{
	pthread_sigmask(SIG_SETMASK, (const sigset_t *)(const void *)saved->words, NULL);
}

bool goc__prim_under_valgrind(void)
{
#ifdef GOC_HAVE_VALGRIND
	return RUNNING_ON_VALGRIND != 0;
#else
	return false;
#endif
}

int goc__prim_thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int goc__prim_cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

void goc__prim_write_stderr(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(2, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

uint64_t goc__prim_random64(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
		return v;
	static uint64_t counter;
	v = (uint64_t)goc__prim_nanotime() ^
		goc__add_fetch_relaxed(&counter, 0x9E3779B97F4A7C15ull);
	v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ull;
	return v ^ (v >> 31);
}
