/*
 * cpuprof.c — the CPU profiler: SIGPROF samples of the stacks goc's
 * threads (Ms) are running, gathered into a pprof profile.
 *
 * Timers. Every M gets a POSIX timer on its own CPU-time clock
 * (pthread_getcpuclockid), signalling that very thread (SIGEV_THREAD_ID)
 * after each 1/rate seconds of CPU it uses, as Go does since 1.18. The
 * process-wide setitimer(ITIMER_PROF) is not used: its expirations are
 * checked once per kernel tick for the whole process and each sends one
 * signal to whichever thread the kernel picks, so with several threads busy
 * samples are lost (at most one per tick) and credited to the wrong thread.
 * Per-thread clocks count each thread's CPU exactly and interrupt the
 * thread that used it. Only Ms are sampled: they run every goroutine; a
 * plain thread calling into goc, sysmon and the drainer are not.
 * The kernel checks CPU timers once per tick, so at rates above the tick
 * rate (CONFIG_HZ, often 250) a signal stands for several periods: the
 * timer's overrun count says how many more, and the sample is weighted by
 * them, which keeps the profile's total CPU time right.
 *
 * Threads register once, when they start (goc__cpuprof_thread_start, the one
 * call the scheduler makes into the profiler): nothing is added to any hot
 * path, and with profiling off the cost is that call per thread.
 *
 * The signal handler may interrupt anything: a goroutine, the scheduler on
 * g0 holding sched.lock, the context switch halfway between two stacks,
 * malloc. So it takes no lock, allocates nothing, calls no libc function
 * and leaves errno alone: it reads the interrupted stack pointer, picks the
 * stack it is on (the goroutine's, the thread's own, or neither, when a
 * switch is under way: then the sample is the pc alone), walks the frame
 * pointers within that stack's bounds (goc__unwind_signal, unwind.c: reads
 * nothing outside them) straight into a slot of the sample ring.
 *
 * The sample ring is a bounded multi-producer, single-consumer queue
 * (Vyukov's): a slot at position pos is free for the producer that claims
 * pos when slot.seq == pos, holds a published sample when slot.seq ==
 * pos + 1, and becomes free for the next lap (pos + RING_SLOTS) when the
 * drainer has copied it out. Producers claim positions with a CAS on tail;
 * a slot whose sample the drainer has not taken yet makes the ring full and
 * the sample is counted as lost (the profile's comments say how many). The
 * drainer, a thread of its own, moves published samples into the
 * goc__profile every 100 ms, so the ring only needs to hold 100 ms worth.
 *
 * Starting and stopping. `sampling` tells handlers whether to record;
 * `handlers_inside` counts handlers running. A handler increments the
 * count before reading `sampling`; goc_pprof_cpu_stop clears `sampling`
 * before waiting for the count to reach zero. Both are sequentially
 * consistent, so either stop sees the handler's increment and waits for
 * it, or the handler sees sampling off and records nothing: no handler
 * touches the ring once stop has waited, and it can be drained for the last
 * time and freed.
 *
 * Invariants:
 *  - prof.lock (a pthread mutex, never taken by the handler) protects the
 *    registered threads and their timers, and every session field.
 *  - A timer exists only for a registered thread and only while sampling.
 *    Registered threads never exit (Ms live as long as the process), so
 *    their pthread_t stays valid for pthread_getcpuclockid.
 *  - ring.head is touched by the drainer only (and by stop after the
 *    drainer has exited); slots move free -> claimed -> published -> free.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "debug.h"
#include "pprof.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define RING_SLOTS 2048 /* a power of two */
#define DEFAULT_RATE_HZ 100
#define DRAIN_INTERVAL_NS (100 * GOC_MILLISECOND)

_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
	       "the signal handler needs lock-free 64-bit atomics");

struct sample_slot {
	uint64_t seq;    /* atomic; see the ring protocol above */
	int64_t periods; /* CPU periods it stands for: 1 + timer overruns */
	int64_t goid;    /* 0: not on a goroutine's stack */
	char gname[sizeof(((goc__g *)0)->name)];
	goc__labels *labels;   /* the goroutine's profile labels, a reference; or NULL */
	goc__stacktrace trace; /* pcs[0] is the interrupted pc */
};

struct sample_ring {
	uint64_t tail; /* atomic: next position to claim */
	char pad[56];  /* producers' line apart from the drainer's */
	uint64_t head; /* next position to drain; drainer only */
	struct sample_slot slots[RING_SLOTS];
};

/* A thread that can be profiled: an M, registered when it started. */
struct profiled_thread {
	pthread_t thread;
	pid_t tid;
	bool armed; /* timer exists */
	timer_t timer;
};

static struct {
	pthread_mutex_t lock;
	struct profiled_thread *threads;
	size_t nthreads, threads_cap;
	int rate_hz; /* 0: DEFAULT_RATE_HZ */
	bool handler_installed;
	struct sigaction previous_handler;
	/* The session, while running. */
	bool running;
	FILE *out;
	goc__profile *profile;
	struct sample_ring *ring;
	int64_t period_ns;
	int64_t start_unix_ns, start_ns;
	pthread_t drainer;
	pthread_mutex_t drain_lock; /* protects stopping; drain_wake's mutex */
	pthread_cond_t drain_wake;
	bool stopping;
} prof = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.drain_lock = PTHREAD_MUTEX_INITIALIZER,
	.drain_wake = PTHREAD_COND_INITIALIZER,
};

/* Shared with the signal handler. */
static struct sample_ring *sampling_ring; /* atomic */
static int sampling;                      /* atomic, seq_cst: handlers record */
static int handlers_inside;               /* atomic, seq_cst */
static uint64_t samples_lost;             /* atomic: the ring was full */
static int drainer_threads;               /* atomic: 1 while the drainer runs */

/* This thread's own stack, where its scheduler (g0) runs; set when it
 * registers, read by the handler on the same thread. */
static __thread uintptr_t thread_stack_lo, thread_stack_hi;

/* ---- the signal handler ---- */

/* The stack pointer the signal interrupted. */
static uintptr_t interrupted_sp(const void *ucontext)
{
	const ucontext_t *uc = ucontext;
#if defined(__x86_64__)
	return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (uintptr_t)uc->uc_mcontext.sp;
#else
#error "goc supports x86_64 and aarch64"
#endif
}

/* Fills slot with the stack the signal interrupted. */
static void capture(struct sample_slot *slot, const void *ucontext)
{
	uintptr_t sp = interrupted_sp(ucontext);
	goc__m *m = goc__m_self();
	/* curg is stored by this very thread, which the handler interrupted:
	 * the value read is the one the interrupted code last stored. */
	goc__g *g = m ? goc__load_relaxed(&m->curg) : NULL;
	uintptr_t lo = sp, hi = sp; /* empty unless sp is on a stack we know */
	slot->goid = 0;
	slot->gname[0] = '\0';
	slot->labels = NULL;
	if (g && sp >= (uintptr_t)g->stack_lo && sp < (uintptr_t)g->stack_lo + g->stack_size) {
		/* On the goroutine's stack: frame records lie between sp and
		 * its top. */
		lo = sp;
		hi = (uintptr_t)g->stack_lo + g->stack_size;
		slot->goid = g->id;
		for (size_t i = 0; i < sizeof slot->gname; i++)
			slot->gname[i] = g->name[i];
		slot->gname[sizeof slot->gname - 1] = '\0';
		/* Held by the goroutine this handler interrupted (labels.c). */
		slot->labels = goc__load_relaxed(&g->labels);
		goc__labels_retain(slot->labels);
	} else if (sp >= thread_stack_lo && sp < thread_stack_hi) {
		lo = sp;
		hi = thread_stack_hi;
	}
	/* Otherwise sp is on neither stack (a switch under way): the pc is
	 * all that can be trusted, and the empty range stops the walk after
	 * it. */
	goc__unwind_signal(ucontext, lo, hi, &slot->trace);
}

static void record_sample(const void *ucontext, int overruns)
{
	struct sample_ring *ring = goc__load_acquire(&sampling_ring);
	uint64_t pos = goc__load_relaxed(&ring->tail);
	struct sample_slot *slot;
	for (;;) {
		slot = &ring->slots[pos & (RING_SLOTS - 1)];
		/* Acquire: pairs with the drainer's release, so its reads of
		 * the slot's last sample are done before ours overwrite it. */
		uint64_t seq = goc__load_acquire(&slot->seq);
		if (seq == pos) {
			/* Free for pos: whoever moves tail past pos owns it. */
			if (goc__cas_relaxed(&ring->tail, &pos, pos + 1))
				break;
		} else if (seq < pos) {
			/* Still holds the sample of the previous lap. */
			goc__fetch_add_relaxed(&samples_lost, 1);
			return;
		} else {
			/* Another handler claimed pos meanwhile. */
			pos = goc__load_relaxed(&ring->tail);
		}
	}
	capture(slot, ucontext);
	slot->periods = 1 + (overruns > 0 ? overruns : 0);
	/* Release: the drainer that sees pos + 1 sees the whole sample. */
	goc__store_release(&slot->seq, pos + 1);
}

static void on_sigprof(int sig, siginfo_t *info, void *ucontext)
{
	if (info->si_code != SI_TIMER || info->si_value.sival_ptr != &prof) {
		/* Not one of our timers: whoever handled SIGPROF before, if
		 * anyone (its default action, ending the process, is not
		 * taken). */
		const struct sigaction *prev = &prof.previous_handler;
		if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN)
			return;
		if (prev->sa_flags & SA_SIGINFO)
			prev->sa_sigaction(sig, info, ucontext);
		else
			prev->sa_handler(sig);
		return;
	}
	goc__add_fetch_seqcst(&handlers_inside, 1);
	if (goc__load_seqcst(&sampling))
		record_sample(ucontext, info->si_overrun);
	goc__sub_fetch_seqcst(&handlers_inside, 1);
}

/* ---- timers ---- */

/* Starts t's timer: every period_ns of its CPU time. prof.lock. */
static void thread_arm(struct profiled_thread *t, int64_t period_ns)
{
	clockid_t clock;
	if (t->armed || pthread_getcpuclockid(t->thread, &clock) != 0)
		return;
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGPROF;
	ev.sigev_value.sival_ptr = &prof;
	ev.sigev_notify_thread_id = t->tid;
	if (timer_create(clock, &ev, &t->timer) != 0)
		return;
	/* The first expiry at a pseudo-random point of the first period, so
	 * threads started together are not sampled in lockstep. */
	int64_t first = 1 + (int64_t)(((uint64_t)t->tid * 0x9E3779B97F4A7C15ull) >> 33) % period_ns;
	struct itimerspec spec = {
		.it_interval = {period_ns / GOC_SECOND, period_ns % GOC_SECOND},
		.it_value = {first / GOC_SECOND, first % GOC_SECOND},
	};
	if (timer_settime(t->timer, 0, &spec, NULL) != 0) {
		timer_delete(t->timer);
		return;
	}
	t->armed = true;
}

/* prof.lock. */
static void thread_disarm(struct profiled_thread *t)
{
	if (!t->armed)
		return;
	timer_delete(t->timer);
	t->armed = false;
}

void goc__cpuprof_thread_start(void)
{
	pthread_attr_t attr;
	void *stack;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		if (pthread_attr_getstack(&attr, &stack, &size) == 0) {
			thread_stack_lo = (uintptr_t)stack;
			thread_stack_hi = (uintptr_t)stack + size;
		}
		pthread_attr_destroy(&attr);
	}
	pthread_mutex_lock(&prof.lock);
	struct profiled_thread *grown = prof.threads;
	if (prof.nthreads == prof.threads_cap) {
		size_t cap = prof.threads_cap ? 2 * prof.threads_cap : 16;
		grown = realloc(prof.threads, cap * sizeof *grown);
		if (grown) {
			prof.threads = grown;
			prof.threads_cap = cap;
		}
	}
	/* Out of memory: this thread is not profiled, which a profile can
	 * live with. */
	if (grown) {
		struct profiled_thread *t = &prof.threads[prof.nthreads++];
		t->thread = pthread_self();
		t->tid = (pid_t)syscall(SYS_gettid);
		t->armed = false;
		if (prof.running)
			thread_arm(t, prof.period_ns);
	}
	pthread_mutex_unlock(&prof.lock);
}

/* ---- draining ---- */

/* Moves the published samples into the profile. The drainer, or stop
 * once the drainer has exited. */
static void drain(void)
{
	struct sample_ring *ring = prof.ring;
	for (;;) {
		struct sample_slot *slot = &ring->slots[ring->head & (RING_SLOTS - 1)];
		/* Acquire: pairs with the handler's release of seq. */
		if (goc__load_acquire(&slot->seq) != ring->head + 1)
			return; /* empty, or the next sample is still being taken */
		int64_t values[2] = {slot->periods, slot->periods * prof.period_ns};
		goc__profile_label labels[2 + GOC_PPROF_LABELS_MAX] = {
			{.key = "goroutine", .num = slot->goid},
			{.key = "goroutine_name", .str = slot->gname},
		};
		int nlabels = slot->goid ? (slot->gname[0] ? 2 : 1) : 0;
		const char **kv;
		int npairs = goc__labels_get(slot->labels, &kv);
		for (int i = 0; i < npairs; i++)
			labels[nlabels++] =
				(goc__profile_label){.key = kv[2 * i], .str = kv[2 * i + 1]};
		if (!goc__profile_add(prof.profile, slot->trace.pcs, slot->trace.n,
				      slot->trace.first_exact, values, labels, nlabels))
			goc__fetch_add_relaxed(&samples_lost, 1);
		goc__labels_release(slot->labels);
		/* Release: our reads of the slot happen before a handler reuses
		 * it on the next lap. */
		goc__store_release(&slot->seq, ring->head + RING_SLOTS);
		ring->head++;
	}
}

static void *drainer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&prof.drain_lock);
	while (!prof.stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t ns = until.tv_nsec + DRAIN_INTERVAL_NS;
		until.tv_sec += ns / GOC_SECOND;
		until.tv_nsec = ns % GOC_SECOND;
		pthread_cond_timedwait(&prof.drain_wake, &prof.drain_lock, &until);
		pthread_mutex_unlock(&prof.drain_lock);
		drain();
		pthread_mutex_lock(&prof.drain_lock);
	}
	pthread_mutex_unlock(&prof.drain_lock);
	return NULL;
}

/* ---- starting and stopping ---- */

int goc__cpuprof_threads(void)
{
	return goc__load_seqcst(&drainer_threads);
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * GOC_SECOND + ts.tv_nsec;
}

/* Installs on_sigprof, once for the life of the process: a signal of the
 * last timer may still be pending after a stop. prof.lock. */
static bool handler_install(void)
{
	if (prof.handler_installed)
		return true;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigprof;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGPROF, &sa, &prof.previous_handler) != 0)
		return false;
	prof.handler_installed = true;
	return true;
}

/* Frees the session's buffers. prof.lock. */
static void session_free(void)
{
	goc__profile_free(prof.profile);
	free(prof.ring);
	prof.profile = NULL;
	prof.ring = NULL;
	prof.out = NULL;
}

goc_status goc_pprof_cpu_set_rate(int hz)
{
	if (hz < 1 || hz > 10000)
		return -EINVAL;
	pthread_mutex_lock(&prof.lock);
	bool busy = prof.running;
	if (!busy)
		prof.rate_hz = hz;
	pthread_mutex_unlock(&prof.lock);
	return busy ? -EBUSY : GOC_OK;
}

goc_status goc_pprof_cpu_start(FILE *out)
{
	if (!out)
		return -EINVAL;
	pthread_mutex_lock(&prof.lock);
	if (prof.running) {
		pthread_mutex_unlock(&prof.lock);
		return -EBUSY;
	}
	int hz = prof.rate_hz ? prof.rate_hz : DEFAULT_RATE_HZ;
	prof.period_ns = GOC_SECOND / hz;
	static const goc__profile_value_type types[2] = {{"samples", "count"},
							 {"cpu", "nanoseconds"}};
	prof.profile = goc__profile_new(types, 2, types[1], prof.period_ns);
	prof.ring = malloc(sizeof *prof.ring);
	int err = prof.profile && prof.ring ? 0 : ENOMEM;
	if (!err) {
		prof.ring->tail = prof.ring->head = 0;
		for (uint64_t i = 0; i < RING_SLOTS; i++)
			prof.ring->slots[i].seq = i;
		prof.stopping = false;
		err = handler_install() ? 0 : errno;
	}
	if (!err) {
		goc__store_seqcst(&drainer_threads, 1);
		goc__prim_sigmask mask;
		goc__prim_thread_sigmask_enter(&mask);
		err = pthread_create(&prof.drainer, NULL, drainer_main, NULL);
		goc__prim_thread_sigmask_leave(&mask);
	}
	if (err) {
		goc__store_seqcst(&drainer_threads, 0);
		session_free();
		pthread_mutex_unlock(&prof.lock);
		return -err;
	}
	prof.out = out;
	prof.start_unix_ns = clock_ns(CLOCK_REALTIME);
	prof.start_ns = clock_ns(CLOCK_MONOTONIC);
	goc__store_relaxed(&samples_lost, 0);
	goc__store_release(&sampling_ring, prof.ring);
	goc__store_seqcst(&sampling, 1);
	prof.running = true;
	for (size_t i = 0; i < prof.nthreads; i++)
		thread_arm(&prof.threads[i], prof.period_ns);
	pthread_mutex_unlock(&prof.lock);
	return GOC_OK;
}

goc_status goc_pprof_cpu_stop(void)
{
	pthread_mutex_lock(&prof.lock);
	if (!prof.running) {
		pthread_mutex_unlock(&prof.lock);
		return -EINVAL;
	}
	for (size_t i = 0; i < prof.nthreads; i++)
		thread_disarm(&prof.threads[i]);
	goc__store_seqcst(&sampling, 0);
	/* See "Starting and stopping" above: after this, no handler is in
	 * or will enter the ring. */
	while (goc__load_seqcst(&handlers_inside))
		sched_yield();
	pthread_mutex_lock(&prof.drain_lock);
	prof.stopping = true;
	pthread_cond_signal(&prof.drain_wake);
	pthread_mutex_unlock(&prof.drain_lock);
	pthread_join(prof.drainer, NULL);
	goc__store_seqcst(&drainer_threads, 0);
	drain();

	int64_t duration = clock_ns(CLOCK_MONOTONIC) - prof.start_ns;
	uint64_t lost = goc__load_relaxed(&samples_lost);
	int err = 0;
	if (lost) {
		char note[96];
		snprintf(note, sizeof note, "goc: %llu samples lost (the sample buffer was full)",
			 (unsigned long long)lost);
		if (!goc__profile_comment(prof.profile, note))
			err = ENOMEM;
	}
	if (!err)
		err = goc__profile_write(prof.profile, prof.out, prof.start_unix_ns, duration);
	session_free();
	prof.running = false;
	pthread_mutex_unlock(&prof.lock);
	return -err;
}
