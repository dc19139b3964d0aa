/*
 * preempt.c — asynchronous preemption: sysmon's SIGURG to an M whose
 * goroutine has run 10 ms without a scheduling point, the signal handler
 * that decides whether the interrupted code may be stopped there, and the
 * registry of code that may be.
 *
 * The signal. sysmon (retake.c) sees a P whose goroutine has made no
 * scheduling progress for 10 ms, reads the M's CPU-time clock, and when the
 * thread has used CPU since its last look (it computes, rather than waits
 * in the kernel: a signal would only cut a sleep short with EINTR), stores
 * the stretch's schedtick + 1 in p->preempt_tick and sends SIGURG to that
 * thread with tgkill. It repeats at every sysmon pass until the stretch
 * ends. The handler runs on the M itself, so everything it reads about
 * the M and its goroutine is its own thread's state, between two
 * instructions of the interrupted code.
 *
 * When it is safe. The handler stops the goroutine only if all hold:
 *  - the request is for the stretch still going (p->preempt_tick ==
 *    p->schedtick + 1), and the M runs a goroutine that holds its P;
 *  - async preemption is on (not GOCDEBUG=asyncpreemptoff=1, not TSan,
 *    which delivers signals late on a copy of the context, not valgrind),
 *    and the goroutine did not opt out (goc_go_options.no_async_preempt);
 *  - the interrupted pc is in code that may be preempted: the main
 *    executable's, less goc's own (the linker sections goc_text, see
 *    CMakeLists.txt, and goc_alloc_text, the allocator's entry points
 *    that the heap profiler tells apart), or an object registered with
 *    goc_preempt_allow_object. Never libc, the dynamic loader, the vDSO
 *    or goc: so no libc or goc lock is held by the stopped frame, and no
 *    P-local operation is half done (ARCHITECTURE §28, rule 5);
 *  - the interrupted context has the signal mask the thread runs
 *    goroutines with (another mask means a handler of another signal was
 *    running, on top of code that may be goc's or libc's);
 *  - the goroutine's stack has room for the registers and the scheduler's
 *    frames below the interrupted frame's red zone.
 * Otherwise the request stays pending: goc_preempt_check() honours it,
 * and sysmon signals again.
 *
 * Stopping. On x86_64 the handler makes the interrupted thread, once the
 * handler returns, "call" goc__async_preempt (switch_x86_64.S): it pushes
 * the interrupted pc 128 bytes below the stack pointer (the red zone a leaf
 * function may use stays intact) and points the pc at the trampoline, which
 * saves every register (general, flags, and the whole FP/SIMD state with
 * xsave), calls goc__preempt_park (proc.c) and restores them all. On
 * aarch64 the trampoline is not written yet: requests stay pending there
 * (goc_preempt_check still works).
 *
 * SIGURG is installed here and nowhere else, once, with SA_RESTART and
 * SA_ONSTACK. A SIGURG that is not sysmon's (si_code SI_TKILL from this
 * process), such as a socket's out-of-band data, goes to the handler that
 * was there before.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef GOC_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

#include "../debug/debug.h"
#include "../prim/env.h"
#include "runtime.h"
#include "sanitizer.h"

/* Below the interrupted frame: its red zone, the saved registers and the
 * XSAVE area (up to ~2.7 KiB with AVX-512), and the scheduler's frames. */
#ifdef GOC_ASAN
#define PREEMPT_STACK_ROOM (32 * 1024)
#else
#define PREEMPT_STACK_ROOM (12 * 1024)
#endif
#define MAX_RANGES 32

struct code_range {
	uintptr_t lo, hi;
};

/* How far above the interrupted stack pointer the lending handler looks
 * for the return address that tells who called into the kernel. */
#define LEND_SCAN_WORDS 1024

static struct {
	bool async; /* signals are sent and acted on */
	bool lend;  /* ... and blocked threads lend their Ps */
	/* Code that may be preempted: [0, nranges) complete before nranges
	 * is published (release); read by the handler (acquire). */
	struct code_range ranges[MAX_RANGES];
	int nranges;
	/* goc's own code inside the executable (goc_text, goc_alloc_text),
	 * ordered by address; set once by goc__preempt_init. */
	struct code_range goc[2];
	int ngoc;
	pthread_mutex_t ranges_lock;
	struct sigaction previous; /* the SIGURG handler goc replaced */
	pid_t pid;
} pre = {.ranges_lock = PTHREAD_MUTEX_INITIALIZER};

/* The linker's bounds of the goc_text section (libgoc.a's prelinked
 * object) and of goc_alloc_text (src/alloc/alloc.h: goc_malloc and the
 * other entry points of the allocator, whose per-P caches must never be
 * left half updated); absent (NULL) when goc is linked another way. */
extern char __start_goc_text[] __attribute__((weak, visibility("hidden")));
extern char __stop_goc_text[] __attribute__((weak, visibility("hidden")));
extern char __start_goc_alloc_text[] __attribute__((weak, visibility("hidden")));
extern char __stop_goc_alloc_text[] __attribute__((weak, visibility("hidden")));

#if defined(__x86_64__)
void goc__async_preempt(void);
/* Bytes the trampoline reserves for XSAVE (0: use FXSAVE's 512). */
uint32_t goc__xsave_size;
#endif

bool goc__preempt_async_enabled(void)
{
	return pre.async;
}

/* ---- the code that may be preempted ---- */

static bool add_range_locked(uintptr_t lo, uintptr_t hi)
{
	int n = goc__load_relaxed(&pre.nranges);
	if (n == MAX_RANGES)
		return false;
	pre.ranges[n].lo = lo;
	pre.ranges[n].hi = hi;
	goc__store_release(&pre.nranges, n + 1);
	return true;
}

struct object_search {
	uintptr_t base; /* load address of the object wanted; main: first entry */
	bool main;
	bool found;
	bool full;
};

static bool in_goc(uintptr_t pc)
{
	for (int i = 0; i < pre.ngoc; i++)
		if (pc >= pre.goc[i].lo && pc < pre.goc[i].hi)
			return true;
	return false;
}

/* Adds [lo, hi) less goc's own code where it lies inside. */
static bool add_code_locked(uintptr_t lo, uintptr_t hi)
{
	for (int i = 0; i < pre.ngoc && lo < hi; i++) {
		const struct code_range *c = &pre.goc[i];
		if (c->hi <= lo || hi <= c->lo)
			continue;
		if (lo < c->lo && !add_range_locked(lo, c->lo))
			return false;
		lo = c->hi;
	}
	return lo >= hi || add_range_locked(lo, hi);
}

/* Adds the executable segments of the object searched for, less goc's
 * own code where it lies inside them. */
static int add_object_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct object_search *s = arg;
	if (!s->main && info->dlpi_addr != s->base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (!add_code_locked(lo, lo + ph->p_memsz))
			s->full = true;
	}
	s->found = true;
	return 1; /* the first entry is the main program */
}

static void add_goc_section(char *start, char *stop)
{
	uintptr_t lo = (uintptr_t)start, hi = (uintptr_t)stop;
	if (!lo || hi <= lo)
		return;
	struct code_range *c = &pre.goc[pre.ngoc++];
	c->lo = lo;
	c->hi = hi;
	if (pre.ngoc == 2 && pre.goc[0].lo > lo) {
		c->lo = pre.goc[0].lo;
		c->hi = pre.goc[0].hi;
		pre.goc[0].lo = lo;
		pre.goc[0].hi = hi;
	}
}

/* Whether goc's code can be told apart from the program's: it lies in
 * its own sections (libgoc.a), or in a shared object of its own. */
static bool find_goc_code(void)
{
	Dl_info self, exe;
	if ((uintptr_t)__start_goc_text &&
	    (uintptr_t)__stop_goc_text > (uintptr_t)__start_goc_text) {
		add_goc_section(__start_goc_text, __stop_goc_text);
		add_goc_section(__start_goc_alloc_text, __stop_goc_alloc_text);
		return true;
	}
	void *main_sym = dlsym(RTLD_DEFAULT, "main");
	if (!dladdr((void *)goc__preempt_init, &self) || !main_sym || !dladdr(main_sym, &exe))
		return false;
	/* In a shared object goc is not in the main executable at all. */
	return self.dli_fbase != exe.dli_fbase;
}

static bool preemptible_pc(uintptr_t pc)
{
	int n = goc__load_acquire(&pre.nranges);
	for (int i = 0; i < n; i++)
		if (pc >= pre.ranges[i].lo && pc < pre.ranges[i].hi)
			return true;
	return false;
}

/* Whether the object described by info is a copy of goc: libgoc.so, or
 * libgoc-malloc.so (all of goc again, preloaded or linked beside a static
 * libgoc.a), or whatever else defines goc_main itself. The executable
 * that links libgoc.a is not: its goc code is cut out by section. */
static bool object_holds_goc(const Dl_info *info)
{
	Dl_info self;
	if (dladdr((void *)goc__preempt_init, &self) && self.dli_fbase == info->dli_fbase)
		return pre.ngoc == 0;
	void *h = dlopen(info->dli_fname, RTLD_NOLOAD | RTLD_LAZY);
	if (!h)
		return false;
	/* dlsym searches the object's dependencies too: only a definition
	 * inside the object itself counts. */
	void *sym = dlsym(h, "goc_main");
	Dl_info where;
	bool holds = sym && dladdr(sym, &where) && where.dli_fbase == info->dli_fbase;
	dlclose(h);
	return holds;
}

int goc_preempt_allow_object(const void *addr)
{
	goc__runtime_init();
	Dl_info info;
	struct link_map *lm = NULL;
	if (!addr || !dladdr1(addr, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return -EINVAL;
	uintptr_t a = (uintptr_t)addr;
	if (in_goc(a) || object_holds_goc(&info))
		return -EINVAL; /* goc itself is never preempted */
	if (preemptible_pc(a))
		return 0; /* already allowed */
	/* The object is found by its load bias, which dl_iterate_phdr
	 * reports as dlpi_addr. */
	struct object_search s = {.base = lm->l_addr};
	pthread_mutex_lock(&pre.ranges_lock);
	dl_iterate_phdr(add_object_segments, &s);
	pthread_mutex_unlock(&pre.ranges_lock);
	if (s.full)
		return -ENOSPC;
	return s.found ? 0 : -EINVAL;
}

/* ---- the signal ---- */

/* The first 64 signals of a mask, as the kernel keeps them (glibc's
 * sigset_t starts with the kernel's word). */
static uint64_t mask_word(const sigset_t *set)
{
	uint64_t w;
	memcpy(&w, set, sizeof w);
	return w;
}

/*
 * Whether the code blocked at pc (not the program's own, not goc's: libc,
 * the vDSO, another library) was called by the program rather than by
 * goc: the first word above the stack pointer that is an address of the
 * executable's code decides. Above the library's frames, that is the
 * return address into whoever called it, unless the library keeps a
 * pointer into the executable among its locals (a callback it was given
 * by the program); so a goc return address always wins, and goc passes
 * no code of the program to libc.
 */
static bool blocked_for_program(uintptr_t pc, uintptr_t sp, const goc__g *g)
{
	if (preemptible_pc(pc) || in_goc(pc))
		return false; /* running the program's code, or goc's */
	uintptr_t hi = (uintptr_t)g->stack_lo + g->stack_size;
	if (sp < (uintptr_t)g->stack_lo || sp >= hi || sp % sizeof(uintptr_t))
		return false;
	const uintptr_t *w = (const uintptr_t *)sp;
	for (int i = 0; i < LEND_SCAN_WORDS && (uintptr_t)(w + i + 1) <= hi; i++) {
		uintptr_t v = w[i];
		if (in_goc(v))
			return false;
		if (preemptible_pc(v))
			return true;
	}
	return false;
}

/* The automatic hand-off, on the M's own thread: exactly the steps of
 * goc_syscall_enter (syscall.c), taken for a goroutine that is in library
 * code the program called (blocked in the kernel, or computing there), so
 * goc code never sees its P go (§28 rule 4). */
static void lend(goc__m *m, goc__g *g, goc__p *p)
{
	g->wait_reason = WAIT_SYSCALL;
	g->wait_since = goc__load_relaxed(&goc__sched.coarse_now);
	m->syscall_p = p;
	m->p = NULL;
	goc__store_relaxed(&m->lent_since, goc__load_relaxed(&goc__sched.coarse_now));
	goc__store_relaxed(&m->lent, true);
	goc__fetch_add_relaxed(&goc__sched.nlent, 1);
	goc__store_relaxed(&p->lend_tick, 0);
	goc__store_relaxed(&p->syscalltick, p->syscalltick + 1);
	goc__store_release(&p->status, P_SYSCALL);
	goc__fetch_add_relaxed(&goc__sched.nhandoffs, 1);
}

/* Makes the interrupted code "call" the trampoline once the handler
 * returns, if the stack has room: true if it did. */
static bool redirect(const goc__g *g, ucontext_t *uc, uintptr_t pc, uintptr_t sp)
{
#if defined(__x86_64__)
	if (sp < (uintptr_t)g->stack_lo + PREEMPT_STACK_ROOM ||
	    sp > (uintptr_t)g->stack_lo + g->stack_size)
		return false; /* little room left, or not on its own stack */
	/* A call that skips the red zone: the trampoline returns with
	 * `ret $128`, landing on pc with the stack pointer as it was. */
	uintptr_t *slot = (uintptr_t *)(sp - 128 - sizeof(uintptr_t));
	*slot = pc;
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)slot;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)goc__async_preempt;
	return true;
#else
	(void)g;
	(void)uc;
	(void)pc;
	(void)sp;
	return false; /* no trampoline for this CPU yet */
#endif
}

/* The handler's decision, on the M's own thread (see the top). */
static void on_request(goc__m *m, ucontext_t *uc)
{
	goc__g *g = m->curg;
	if (!g)
		return;
	/* Another mask: the pc is in a handler of another signal, whose
	 * interrupted code (goc's, libc's) lies below it on this stack. */
	if (mask_word(&uc->uc_sigmask) != m->sigmask)
		return;
#if defined(__x86_64__)
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#else
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.sp;
#endif
	goc__p *p = m->p;
	if (!p) {
		/* Running without its lent P: back into the scheduler once it
		 * is in the program's own code (goc__preempt_park). */
		if (goc__load_relaxed(&m->lent) && preemptible_pc(pc))
			redirect(g, uc, pc, sp);
		return;
	}
	uint32_t next = p->schedtick + 1;
	bool preempt = goc__load_relaxed(&p->preempt_tick) == next &&
		!(g->flags & G_FLAG_NO_ASYNC_PREEMPT);
	bool blocked = goc__load_relaxed(&p->lend_tick) == next;
	if (!preempt && !blocked)
		return;
	if (preemptible_pc(pc)) {
		if (preempt)
			redirect(g, uc, pc, sp);
		return;
	}
	/* In library code the program called: like Go's cgo calls, it runs
	 * on without a P, and the P serves the others meanwhile. */
	if (pre.lend && blocked_for_program(pc, sp, g))
		lend(m, g, p);
}

static void on_sigurg(int sig, siginfo_t *info, void *ucontext)
{
	if (info->si_code != SI_TKILL || info->si_pid != pre.pid) {
		const struct sigaction *prev = &pre.previous;
		if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction)
			prev->sa_sigaction(sig, info, ucontext);
		else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN)
			prev->sa_handler(sig);
		return;
	}
	int saved_errno = errno;
	goc__m *m = goc__m_self();
	if (m && pre.async)
		on_request(m, ucontext);
	errno = saved_errno;
}

#if defined(__x86_64__)
static void xsave_size_init(void)
{
	unsigned a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27))) /* OSXSAVE: XSAVE usable */
		return;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xd), "c"(0));
	goc__xsave_size = (b + 63) & ~63u;
}
#endif

void goc__preempt_init(void)
{
	pre.pid = getpid();
	bool off = goc__gocdebug_long("asyncpreemptoff", 0, 0, 1) != 0;
#ifdef GOC_TSAN
	off = true;
#endif
#if !defined(__x86_64__)
	off = true;
#endif
#ifdef GOC_HAVE_VALGRIND
	if (RUNNING_ON_VALGRIND)
		off = true;
#endif
#if defined(__x86_64__)
	xsave_size_init();
#endif
	if (!off && !find_goc_code())
		off = true; /* goc's code cannot be told from the program's */
	if (!off) {
		struct object_search s = {.main = true};
		pthread_mutex_lock(&pre.ranges_lock);
		dl_iterate_phdr(add_object_segments, &s);
		pthread_mutex_unlock(&pre.ranges_lock);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigurg;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (!off && sigaction(SIGURG, &sa, &pre.previous) != 0)
		off = true;
	pre.async = !off;
	/* Lending needs goc's code bounds (libgoc.a), to tell goc's calls
	 * into the kernel from the program's. */
	pre.lend = pre.async && pre.ngoc != 0 && goc__gocdebug_long("blockedhandoff", 0, 0, 1) != 0;
}

void goc__preempt_thread_start(goc__m *m)
{
	clockid_t clock;
	bool ok = pthread_getcpuclockid(pthread_self(), &clock) == 0;
	goc__store_relaxed(&m->cpuclock, clock);
	goc__store_relaxed(&m->cpuclock_ok, ok);
	sigset_t mask;
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	m->sigmask = mask_word(&mask);
	goc__store_release(&m->tid, (int32_t)syscall(SYS_gettid));
}

/* sysmon: p has run one goroutine for `ran` ns. */
void goc__preempt_request(goc__p *p, int64_t ran)
{
	(void)ran;
	uint32_t tick = goc__load_relaxed(&p->schedtick);
	goc__store_relaxed(&p->preempt_tick, tick + 1);
	if (!pre.async)
		return;
	/* Ms are never freed: a stale p->m is a thread that gets a signal it
	 * ignores (its P's tick no longer matches). */
	goc__m *m = goc__load_acquire(&p->m);
	if (!m)
		return;
	int32_t tid = goc__load_acquire(&m->tid);
	if (tid > 0)
		syscall(SYS_tgkill, pre.pid, tid, SIGURG);
}

void goc__lend_request(goc__p *p)
{
	if (!pre.lend)
		return;
	uint32_t tick = goc__load_relaxed(&p->schedtick);
	goc__store_relaxed(&p->lend_tick, tick + 1);
	goc__m *m = goc__load_acquire(&p->m);
	int32_t tid = m ? goc__load_acquire(&m->tid) : 0;
	if (tid > 0)
		syscall(SYS_tgkill, pre.pid, tid, SIGURG);
}

bool goc__thread_sleeping(int32_t tid)
{
	if (!pre.lend)
		return false;
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	/* "tid (comm) S ...": the state follows the last ')'. */
	const char *close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' &&
		(close_paren[2] == 'S' || close_paren[2] == 'D');
}

void goc__lent_recall(int64_t now, int64_t after)
{
	if (!pre.lend || goc__load_relaxed(&goc__sched.nlent) == 0)
		return;
	goc__lock_acquire(&goc__sched.lock);
	goc__m *first = goc__sched.allm;
	goc__lock_release(&goc__sched.lock);
	/* allm only grows at its head, and Ms are never freed. */
	for (goc__m *m = first; m; m = m->alllink) {
		if (!goc__load_relaxed(&m->lent) || now - goc__load_relaxed(&m->lent_since) < after)
			continue;
		int32_t tid = goc__load_acquire(&m->tid);
		if (tid > 0)
			syscall(SYS_tgkill, pre.pid, tid, SIGURG);
	}
}

/* ---- the cooperative check ---- */

void goc_preempt_check(void)
{
	goc__m *m = goc__m_self();
	if (!m || !m->curg)
		return;
	goc__p *p = m->p;
	if (p && __builtin_expect(goc__load_relaxed(&p->preempt_tick) == p->schedtick + 1, 0))
		goc__preempt_park();
}
