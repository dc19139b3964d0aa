/*
 * prim.h — the operating system, behind one small interface.
 *
 * The runtime's core asks this layer, not the OS, for futexes, the monotonic
 * clock, address space, threads and configuration from the environment.
 * (Signals, thread-locals and pthread keys are still used directly where
 * they are the mechanism itself: the overflow handler, the M's identity.) src/prim/linux.c is the one
 * implementation (Linux on x86_64 and aarch64).
 */
#ifndef GOC_PRIM_H
#define GOC_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds (CLOCK_MONOTONIC). */
int64_t goc__prim_nanotime(void);

/* Sleeps the calling thread until the monotonic instant deadline. */
void goc__prim_sleep_until(int64_t deadline);

/* Blocks while *word == expected, at most until the monotonic instant
 * deadline (0: no deadline). Returns false if the deadline passed. Spurious
 * returns are allowed; callers re-check their condition. */
bool goc__prim_futex_wait(uint32_t *word, uint32_t expected, int64_t deadline);
/* Wakes up to n threads blocked on word. */
void goc__prim_futex_wake(uint32_t *word, int n);

/* Reserves size bytes of address space, readable and writable, committed
 * page by page on first touch, never backed by huge pages. NULL on failure. */
void *goc__prim_reserve(size_t size);
/* Gives a reservation back entirely. */
void goc__prim_unreserve(void *addr, size_t size);
/* Makes [addr, addr+size) inaccessible (a guard). False on failure (the
 * kernel's mapping count is exhausted). */
bool goc__prim_guard(void *addr, size_t size);
/* Gives the memory of [addr, addr+size) back to the kernel; the range stays
 * reserved and reads as zero afterwards. */
void goc__prim_release(void *addr, size_t size);
/* The page size. */
size_t goc__prim_page_size(void);
/* The kernel's limit on memory mappings (vm.max_map_count). */
long goc__prim_max_map_count(void);

/* Starts a detached thread running fn(arg), with the signals of
 * goc__prim_notify_signals blocked. False on failure. */
bool goc__prim_thread_start(void *(*fn)(void *), void *arg);

/*
 * Signal masks: the one place that decides them. Every thread goc starts
 * blocks the signals a program may take with goc_signal_notify (hangup,
 * interrupt, termination, the user signals, window changes, alarms,
 * children), so they never interrupt a goroutine and reach the program
 * through signalfd or a thread of its own (src/signal/signal.c). Never the
 * ones the runtime or the machine needs delivered: SIGURG, SIGPROF, SIGQUIT,
 * SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT, SIGPIPE (sent
 * to the writing thread itself), nor glibc's own.
 */
typedef struct goc__prim_sigmask {
	unsigned long words[1024 / (8 * sizeof(unsigned long))]; /* a sigset_t */
} goc__prim_sigmask;
/* Whether goc_signal_notify accepts sig (and goc's threads block it). */
bool goc__prim_notify_signal_ok(int sig);
/* Blocks those signals in the calling thread, saving its mask; a thread
 * created until the matching leave inherits them blocked. */
void goc__prim_thread_sigmask_enter(goc__prim_sigmask *saved);
void goc__prim_thread_sigmask_leave(const goc__prim_sigmask *saved);
/* Number of threads in this process now (/proc/self/task); -1 if unknown. */
int goc__prim_thread_count(void);
/* Number of CPUs this process may run on. */
int goc__prim_cpu_count(void);

/* Whether the program runs under valgrind, which does not know every
 * system call (epoll_pwait2, for one). False in a build without
 * valgrind's header. */
bool goc__prim_under_valgrind(void);

/* Writes a whole buffer to fd 2, async-signal-safe. */
void goc__prim_write_stderr(const char *buf, size_t len);

/* 64 random bits from the kernel (getrandom), for hash seeds; a mix of the
 * clock and a counter if the kernel has none to give. */
uint64_t goc__prim_random64(void);

#endif
