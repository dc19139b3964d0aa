/*
 * signal.c — Go's os/signal: goc_signal_notify, goc_signal_stop and
 * goc_ctx_with_signals.
 *
 * How a signal reaches a channel. Every thread goc starts blocks the
 * signals that can be taken (prim/linux.c decides the set, once), so a
 * process-directed signal goes to a thread of the program's own if one
 * does not block it, or else stays pending on the process:
 *  - pending on the process (every thread blocks it: the program blocked
 *    it in main before goc_main, as signalfd users do): a signalfd that
 *    watches the registered signals becomes readable;
 *  - delivered to a thread of the program's (the one waiting in goc_main,
 *    say): goc's handler, installed for each registered signal, sets the
 *    signal's bit in `pending` and writes the eventfd (both
 *    async-signal-safe).
 * One epoll fd holds the signalfd and the eventfd, and the watcher
 * goroutine parks on it through the netpoller (goc_fd_wait). It reads
 * both, then sends each signal to every channel registered for it with a
 * non-blocking send (Go drops a signal for a full channel, too).
 *
 * The watcher runs while there are registrations: it is started by the
 * first and leaves, when woken, once there are none (goc_signal_stop
 * wakes it through the eventfd). While it waits on the poller, the
 * deadlock check sees a goroutine that the outside world can wake, which
 * is the truth; after the last stop it is gone and the check is as before.
 *
 * Invariants (state.lock): counts[s] is the number of registrations whose
 * set holds s; s has goc's handler and is in the signalfd's mask exactly
 * while counts[s] > 0, and saved[s] is what the handler replaced.
 * watcher_running is true from the spawn of the watcher until it decides,
 * under the lock, to leave.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../chan/chan.h"
#include "../sched/runtime.h"

#define SIG_MAX 65

struct registration {
	goc_chan *c; /* a reference of its own */
	sigset_t set;
	struct registration *next;
};

static struct {
	pthread_once_t once;
	int init_err; /* a negative errno if the fds could not be made */
	int sfd, efd; /* signalfd, eventfd (the handler's wake-up) */
	int epfd;     /* holds both; the watcher waits on it */
	goc__lock lock;
	struct registration *regs;       /* lock */
	int counts[SIG_MAX];             /* lock */
	struct sigaction saved[SIG_MAX]; /* lock */
	sigset_t watched;                /* lock: the signals with counts > 0 */
	bool watcher_running;            /* lock */
	uint64_t pending;                /* atomic: bit s, set by the handler */
} state = {.once = PTHREAD_ONCE_INIT, .sfd = -1, .efd = -1, .epfd = -1, .lock = GOC_LOCK_INIT};

static void fds_init(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigemptyset(&state.watched);
	state.sfd = signalfd(-1, &none, SFD_NONBLOCK | SFD_CLOEXEC);
	state.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	state.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	if (state.sfd < 0 || state.efd < 0 || state.epfd < 0 ||
	    epoll_ctl(state.epfd, EPOLL_CTL_ADD, state.sfd, &ev) < 0 ||
	    epoll_ctl(state.epfd, EPOLL_CTL_ADD, state.efd, &ev) < 0)
		state.init_err = -errno;
}

/* Runs on whichever of the program's threads the kernel picked. */
static void on_signal(int sig)
{
	int saved = errno;
	goc__fetch_or_acqrel(&state.pending, (uint64_t)1 << (sig & 63));
	uint64_t one = 1;
	while (write(state.efd, &one, sizeof one) < 0 && errno == EINTR)
		;
	errno = saved;
}

static void wake_watcher(void)
{
	uint64_t one = 1;
	int saved = errno;
	while (write(state.efd, &one, sizeof one) < 0 && errno == EINTR)
		;
	errno = saved;
}

/* Sends sig to every channel registered for it. The channels are retained
 * under the lock and sent to outside it. */
static void deliver(int sig)
{
	goc_chan *to[32];
	size_t skip = 0;
	for (;;) {
		size_t n = 0, seen = 0;
		bool more = false;
		goc__lock_acquire(&state.lock);
		for (struct registration *r = state.regs; r; r = r->next) {
			if (!sigismember(&r->set, sig))
				continue;
			if (seen++ < skip)
				continue;
			if (n == sizeof to / sizeof *to) {
				more = true;
				break;
			}
			to[n++] = goc_chan_retain(r->c);
		}
		goc__lock_release(&state.lock);
		for (size_t i = 0; i < n; i++) {
			goc_chan_try_send(to[i], &sig);
			goc_chan_release(to[i]);
		}
		if (!more)
			return;
		skip += n;
	}
}

static void watcher(void *arg)
{
	(void)arg;
	for (;;) {
		goc__lock_acquire(&state.lock);
		if (!state.regs) {
			state.watcher_running = false;
			goc__lock_release(&state.lock);
			return;
		}
		goc__lock_release(&state.lock);
		goc_fd_wait(state.epfd, GOC_FD_READ, GOC_NO_DEADLINE);
		for (;;) {
			/* The read is made under the lock because goc_signal_stop
			 * changes the signalfd's mask (watch_locked) under it: the
			 * kernel copes with the two at once, but TSan sees an fd
			 * written and read with nothing ordering them. The fd is
			 * non-blocking, so the lock is held for one short call. */
			struct signalfd_siginfo si[8];
			goc__lock_acquire(&state.lock);
			ssize_t got = read(state.sfd, si, sizeof si);
			goc__lock_release(&state.lock);
			if (got < (ssize_t)sizeof si[0])
				break;
			for (size_t i = 0; i < (size_t)got / sizeof si[0]; i++)
				deliver((int)si[i].ssi_signo);
		}
		uint64_t count;
		while (read(state.efd, &count, sizeof count) < 0 && errno == EINTR)
			;
		uint64_t bits = goc__xchg_acqrel(&state.pending, 0);
		for (int sig = 1; sig < 64; sig++)
			if (bits & ((uint64_t)1 << sig))
				deliver(sig);
	}
}

/* lock held: s gets (or loses) goc's handler and its place in the
 * signalfd's mask as its count crosses zero. */
static void watch_locked(int sig, int delta)
{
	state.counts[sig] += delta;
	if (delta > 0 && state.counts[sig] == 1) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sa.sa_flags = SA_RESTART | SA_ONSTACK;
		sigfillset(&sa.sa_mask);
		sigaction(sig, &sa, &state.saved[sig]);
		sigaddset(&state.watched, sig);
	} else if (delta < 0 && state.counts[sig] == 0) {
		sigaction(sig, &state.saved[sig], NULL);
		sigdelset(&state.watched, sig);
	} else {
		return;
	}
	signalfd(state.sfd, &state.watched, 0);
}

int goc_signal_notify(goc_chan *c, const int *sigs, size_t nsigs)
{
	if (!c)
		goc__panic("goc_signal_notify: nil channel");
	goc__runtime_init();
	if (c->elem_size != sizeof(int) || nsigs == 0 || !sigs)
		return -EINVAL;
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < nsigs; i++) {
		if (sigs[i] <= 0 || sigs[i] >= SIG_MAX || !goc__prim_notify_signal_ok(sigs[i]))
			return -EINVAL;
		sigaddset(&set, sigs[i]);
	}
	pthread_once(&state.once, fds_init);
	if (state.init_err)
		return state.init_err;
	struct registration *fresh = malloc(sizeof *fresh);
	if (!fresh)
		return -ENOMEM;
	goc__lock_acquire(&state.lock);
	struct registration *r = state.regs;
	while (r && r->c != c)
		r = r->next;
	if (r) {
		free(fresh);
	} else {
		r = fresh;
		r->c = goc_chan_retain(c);
		sigemptyset(&r->set);
		r->next = state.regs;
		state.regs = r;
	}
	for (int sig = 1; sig < SIG_MAX; sig++) {
		if (sigismember(&set, sig) && !sigismember(&r->set, sig)) {
			sigaddset(&r->set, sig);
			watch_locked(sig, 1);
		}
	}
	bool start = !state.watcher_running;
	state.watcher_running = true;
	goc__lock_release(&state.lock);
	if (start) {
		goc_go_options opts = {.name = "goc_signal watcher"};
		if (goc_go_opts(watcher, NULL, &opts) <= 0) {
			goc_signal_stop(c);
			goc__lock_acquire(&state.lock);
			state.watcher_running = false;
			goc__lock_release(&state.lock);
			return -ENOMEM;
		}
	}
	return 0;
}

void goc_signal_stop(goc_chan *c)
{
	if (!c)
		return;
	pthread_once(&state.once, fds_init);
	goc__lock_acquire(&state.lock);
	struct registration **link = &state.regs;
	while (*link && (*link)->c != c)
		link = &(*link)->next;
	struct registration *r = *link;
	if (r) {
		*link = r->next;
		for (int sig = 1; sig < SIG_MAX; sig++)
			if (sigismember(&r->set, sig))
				watch_locked(sig, -1);
	}
	bool wake = r && !state.regs && state.watcher_running;
	goc__lock_release(&state.lock);
	if (!r)
		return;
	goc_chan_release(r->c);
	free(r);
	if (wake && !state.init_err)
		wake_watcher();
}

/* ---- goc_ctx_with_signals ---- */

struct signal_ctx {
	goc_ctx *ctx;   /* a reference of its own */
	goc_chan *sigs; /* the registered channel */
};

/* Waits for a signal or for the context's end, then cancels it and ends
 * the registration. */
static void signal_ctx_wait(void *arg)
{
	struct signal_ctx *w = arg;
	goc_select_case cases[2] = {{.chan = w->sigs, .dir = GOC_SELECT_RECV},
				    {.chan = goc_ctx_done(w->ctx), .dir = GOC_SELECT_RECV}};
	int sig;
	cases[0].elem = &sig;
	goc_select(cases, 2, GOC_NO_TIMEOUT);
	goc_signal_stop(w->sigs);
	goc_ctx_cancel(w->ctx);
	goc_chan_release(w->sigs);
	goc_ctx_release(w->ctx);
	free(w);
}

goc_ctx *goc_ctx_with_signals(goc_ctx *parent, const int *sigs, size_t nsigs)
{
	if (!parent)
		goc__panic("goc_ctx_with_signals: nil parent context");
	struct signal_ctx *w = malloc(sizeof *w);
	goc_chan *c = goc_chan_make(sizeof(int), 1);
	goc_ctx *ctx = goc_ctx_with_cancel(parent);
	int err = !w || !c || !ctx ? -ENOMEM : goc_signal_notify(c, sigs, nsigs);
	if (err) {
		free(w);
		goc_chan_release(c);
		if (ctx)
			goc_ctx_cancel(ctx);
		goc_ctx_release(ctx);
		errno = -err;
		return NULL;
	}
	w->ctx = goc_ctx_retain(ctx);
	w->sigs = c;
	goc_go_options opts = {.name = "goc_ctx_with_signals"};
	if (goc_go_opts(signal_ctx_wait, w, &opts) <= 0) {
		goc_signal_stop(c);
		goc_chan_release(c);
		goc_ctx_cancel(ctx);
		goc_ctx_release(ctx);
		goc_ctx_release(ctx);
		free(w);
		errno = ENOMEM;
		return NULL;
	}
	return ctx;
}
