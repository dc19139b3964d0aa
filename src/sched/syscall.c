/*
 * syscall.c — syscall sections (Go's entersyscall / exitsyscall): a
 * goroutine about to block its thread lends its P out, so that sysmon can
 * hand the P to another M while the call lasts; the blocking-call and file
 * helpers built on them; and the limit on the number of Ms, which grow
 * with the number of goroutines blocked at once.
 *
 * goc_syscall_enter costs two stores and a release store: the M forgets
 * its P (m->p = NULL, remembered in m->syscall_p), bumps the P's
 * syscalltick (so sysmon can tell this section from the previous one) and
 * marks the P P_SYSCALL. No lock, no clock read, no wake-up. sysmon
 * (retake.c) takes a P that stays P_SYSCALL too long by a CAS to P_IDLE
 * and hands it on.
 *
 * goc_syscall_exit tries, in order:
 *  1. its own P, if still P_SYSCALL: one CAS back to P_RUNNING;
 *  2. an idle P, under sched.lock (Go's exitsyscallfast_pidle);
 *  3. otherwise the goroutine parks on its M's own stack (g0), which makes
 *     it runnable — on a P that has become idle meanwhile, else on the
 *     global queue — and goes on to find work or sleep (Go's exitsyscall0).
 *
 * Invariants:
 *  - m->syscall_p != NULL exactly while m's goroutine is inside a section,
 *    and m->p == NULL and the P's curg NULL meanwhile: this M touches no
 *    run queue, cache or timer heap of the P, and a blocking goc call
 *    panics (goc__check_may_block).
 *  - While the P is P_SYSCALL it belongs to the M in the section; whichever
 *    of that M and sysmon wins the CAS out of P_SYSCALL owns it after.
 *  - The goroutine stays G_RUNNING; its wait reason reads WAIT_SYSCALL for
 *    dumps until it leaves the section.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "../debug/trace.h"
#include "../prim/env.h"
#include "runtime.h"

#define DEFAULT_MAX_THREADS 10000

void goc_syscall_enter(void)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (!g)
		return; /* a plain thread holds no P to lend */
	if (m->lent)
		goc__lent_return(m);
	if (m->syscall_p)
		goc__panic("goc_syscall_enter: already inside a syscall section");
	goc__p *p = m->p;
	if (__builtin_expect(goc__load_relaxed(&p->long_run_ms) != 0, 0))
		goc__long_run_fold(p); /* a scheduling point: the stretch ends here */
	g->wait_reason = WAIT_SYSCALL;
	g->wait_since = goc__load_relaxed(&goc__sched.coarse_now);
	if (goc__tracing())
		goc__trace_syscall_enter(m);
	m->syscall_p = p;
	m->p = NULL;
	/* The P runs no goroutine while it is lent out: an M that takes it
	 * over must not fold a long-run record into this one (a write to a
	 * goroutine running on another thread). */
	goc__store_relaxed(&p->curg, NULL);
	goc__store_relaxed(&p->syscalltick, p->syscalltick + 1);
	/* Release: a sysmon that reads P_SYSCALL (acquire) also reads the new
	 * syscalltick, and once it has taken the P by its CAS, the run ring,
	 * caches and counters as this M left them. */
	goc__store_release(&p->status, P_SYSCALL);
}

/* The goroutine of m holds a P again and leaves the section. The P may
 * not be the one it left, or it may be its own after another M's section
 * on it (taken by sysmon, given to another M, lent again: the CAS from
 * P_SYSCALL cannot tell), so the P is told its M and goroutine again:
 * sysmon signals p->m and watches p->curg. */
static void section_left(goc__m *m, goc__g *g)
{
	goc__p *p = m->p;
	if (goc__load_relaxed(&p->m) != m)
		goc__store_release(&p->m, m);
	goc__store_relaxed(&p->curg, g);
	g->wait_reason = WAIT_NONE;
	if (goc__tracing())
		goc__trace_syscall_resume(m);
}

/* Unlock callback of the park in exit_without_p, run on g0 once the
 * goroutine is off its stack: makes it runnable, preferably on a P that
 * this M takes now and will run it on next. */
static bool ready_after_syscall(void *arg)
{
	goc__g *g = arg;
	goc__m *m = goc__m_self();
	goc__lock_acquire(&goc__sched.lock);
	goc__p *p = goc__pidle_get();
	goc__lock_release(&goc__sched.lock);
	if (p)
		goc__acquirep(m, p);
	/* With a P, onto its runnext; without, onto the global queue, and
	 * goc__ready's wakep sees any P that went idle after our look (a P is
	 * put idle only after its M found the global queue empty under
	 * sched.lock, and wakep reads npidle after the queue is published). */
	goc__ready(g);
	return true;
}

/* The P was taken while the goroutine was in the section. */
static void exit_without_p(goc__m *m, goc__g *g)
{
	/* Our lock may sleep in the kernel: keep the errno the section left. */
	int saved_errno = errno;
	goc__p *p = NULL;
	if (goc__load_relaxed(&goc__sched.npidle) > 0) {
		goc__lock_acquire(&goc__sched.lock);
		p = goc__pidle_get();
		goc__lock_release(&goc__sched.lock);
	}
	errno = saved_errno;
	if (p) {
		goc__acquirep(m, p);
		section_left(m, g);
		return;
	}
	/* Every P is busy: queue ourselves from g0 and let this M look for
	 * work or sleep. The switch saves errno with the goroutine and
	 * restores it on whichever M resumes it. */
	goc__park_without_p(ready_after_syscall, g, WAIT_SYSCALL);
}

void goc_syscall_exit(void)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (!g)
		return;
	goc__p *p = m->syscall_p;
	if (!p)
		goc__panic("goc_syscall_exit: not inside a syscall section");
	if (goc__tracing())
		goc__trace_syscall_exit(m);
	m->syscall_p = NULL;
	/* The one race of a section: sysmon may CAS the P away at this very
	 * moment. Whichever CAS succeeds owns the P. Winning here means
	 * nobody else touched the P since our own release store, so the CAS
	 * needs no stronger ordering than acquire. */
	uint32_t expected = P_SYSCALL;
	if (goc__cas_acquire(&p->status, &expected, P_RUNNING)) {
		m->p = p;
		section_left(m, g);
		return;
	}
	exit_without_p(m, g);
}

void *goc_blocking(void *(*fn)(void *arg), void *arg)
{
	if (!fn)
		goc__panic("goc_blocking: nil function");
	goc_syscall_enter();
	void *result = fn(arg);
	goc_syscall_exit();
	return result;
}

/* ---- files ----
 * errno is read only inside the sections, on the thread that made the
 * call, and returned negated: the goroutine may leave goc_syscall_exit on
 * another thread. */

ssize_t goc_file_read(int fd, void *buf, size_t n)
{
	goc_syscall_enter();
	ssize_t got;
	do
		got = read(fd, buf, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		got = -errno;
	goc_syscall_exit();
	return got;
}

ssize_t goc_file_pread(int fd, void *buf, size_t n, off_t offset)
{
	goc_syscall_enter();
	ssize_t got;
	do
		got = pread(fd, buf, n, offset);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		got = -errno;
	goc_syscall_exit();
	return got;
}

/* Writes all of buf at offset (or at the file position when offset < 0);
 * returns 0 or a negative errno, with *done the bytes written. Inside a
 * section. */
static int write_all(int fd, const char *buf, size_t n, off_t offset, size_t *done)
{
	*done = 0;
	while (*done < n) {
		ssize_t put = offset < 0
			? write(fd, buf + *done, n - *done)
			: pwrite(fd, buf + *done, n - *done, offset + (off_t)*done);
		if (put < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (put == 0)
			return -EIO; /* no progress and no error: do not spin */
		*done += (size_t)put;
	}
	return 0;
}

static ssize_t write_section(int fd, const void *buf, size_t n, off_t offset, size_t *written)
{
	size_t done;
	goc_syscall_enter();
	int err = write_all(fd, buf, n, offset, &done);
	goc_syscall_exit();
	if (written)
		*written = done;
	return err ? err : (ssize_t)n;
}

ssize_t goc_file_write(int fd, const void *buf, size_t n, size_t *written)
{
	return write_section(fd, buf, n, -1, written);
}

ssize_t goc_file_pwrite(int fd, const void *buf, size_t n, off_t offset, size_t *written)
{
	if (offset < 0) {
		if (written)
			*written = 0;
		return -EINVAL;
	}
	return write_section(fd, buf, n, offset, written);
}

/* ---- the automatic hand-off's way back ---- */

void goc__lent_clear(goc__m *m)
{
	goc__store_relaxed(&m->lent, false);
	goc__fetch_sub_relaxed(&goc__sched.nlent, 1);
}

void goc__lent_return(goc__m *m)
{
	goc__lent_clear(m);
	goc_syscall_exit();
}

bool goc__lent_try_return(goc__m *m)
{
	goc__g *g = m->curg;
	goc__p *p = m->syscall_p;
	goc__lent_clear(m);
	m->syscall_p = NULL;
	if (goc__tracing())
		goc__trace_syscall_exit(m);
	uint32_t expected = P_SYSCALL;
	if (!goc__cas_acquire(&p->status, &expected, P_RUNNING)) {
		/* Taken: an idle P, if any (sched.lock may be taken under a
		 * wait-queue lock). */
		int saved_errno = errno;
		goc__lock_acquire(&goc__sched.lock);
		p = goc__pidle_get();
		goc__lock_release(&goc__sched.lock);
		errno = saved_errno;
		if (!p) {
			g->wait_reason = WAIT_NONE;
			return false;
		}
		goc__acquirep(m, p);
	} else {
		m->p = p;
	}
	section_left(m, g);
	return true;
}

void goc__p_missing(goc__m *m, const char *what)
{
	if (m->lent) {
		goc__lent_return(m);
		return;
	}
	goc__panic("%s inside a syscall section (between goc_syscall_enter and goc_syscall_exit)",
		   what);
}

/* ---- the thread limit ----
 * Counted as Go counts it for debug.SetMaxThreads: every thread the
 * runtime made for itself, the Ms and sysmon; plain threads do not count. */

void goc__thread_limit_init_from_env(void)
{
	goc__sched.maxmcount =
		(int32_t)goc__env_long("GOCMAXTHREADS", DEFAULT_MAX_THREADS, 1, INT32_MAX);
}

void goc__thread_limit_check_locked(int32_t count)
{
	int32_t with_sysmon = count + 1;
	if (with_sysmon <= goc__sched.maxmcount)
		return;
	char line[96];
	int len = snprintf(line, sizeof line, "runtime: program exceeds %d-thread limit\n",
			   (int)goc__sched.maxmcount);
	goc__prim_write_stderr(line, (size_t)len);
	goc__fatal("thread exhaustion");
}

int goc_set_max_threads(int n)
{
	goc__runtime_init();
	goc__lock_acquire(&goc__sched.lock);
	int old = goc__sched.maxmcount;
	if (n > 0) {
		goc__sched.maxmcount = n;
		goc__thread_limit_check_locked(goc__sched.mcount);
	}
	goc__lock_release(&goc__sched.lock);
	return old;
}
