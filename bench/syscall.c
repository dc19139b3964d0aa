/*
 * syscall.c — the cost of a syscall section: SyscallHandoff.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

/*
 * SyscallHandoff: one goroutine makes n getpid system calls, each inside
 * goc_syscall_enter / goc_syscall_exit, as Go's syscall.Syscall wraps it in
 * entersyscall / exitsyscall. One op is one call with its section. The
 * extra metric bare-ns/op is the same loop without the sections, timed in
 * the same run, so the section's own cost is the difference. The call is
 * too short for sysmon to take the P, so this measures the fast path.
 */
void bench_syscall_handoff(struct bench_run *run)
{
	long pid = (long)getpid();
	long mismatches = 0;

	int64_t bare_began = goc_now();
	for (int64_t i = 0; i < run->n; i++)
		mismatches += syscall(SYS_getpid) != pid;
	int64_t bare_ns = goc_now() - bare_began;

	bench_start(run);
	for (int64_t i = 0; i < run->n; i++) {
		goc_syscall_enter();
		mismatches += syscall(SYS_getpid) != pid;
		goc_syscall_exit();
	}
	bench_stop(run);

	if (mismatches != 0)
		bench_fail("getpid returned another pid %ld times", mismatches);
	bench_add_metric(run, (double)bare_ns / (double)run->n, "bare-ns/op");
}
