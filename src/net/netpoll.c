/*
 * netpoll.c — the network poller: epoll, poll descriptors, I/O deadlines.
 *
 * One epoll instance, created on first use, holds every registered fd
 * edge-triggered for EPOLLIN | EPOLLOUT | EPOLLRDHUP, with the fd's poll
 * descriptor as the event's data; an eventfd (data NULL, level-triggered)
 * lets goc__netpoll_break wake an M blocked in epoll_wait. Only a blocking poll
 * consumes the eventfd: a non-blocking one running at the same time in
 * another M must not swallow a wake-up meant for the blocked one.
 *
 * A poll descriptor has a waiter slot per direction, as Go's pollDesc.rg/wg.
 * A slot holds one of
 *
 *     PD_NIL    nobody waits and no readiness is pending
 *     PD_READY  the fd became ready and no waiter has consumed the notice
 *     PD_WAIT   a goroutine is about to park (between its "would block"
 *               and the commit of its park, done after its switch)
 *     a goc__g*  that goroutine is parked
 *
 * and changes only by atomic compare-and-swap (sequentially consistent), so
 * that no wake-up is lost between the waiter's "would block" and its park:
 *  - the waiter moves NIL -> WAIT (or consumes READY -> NIL and returns);
 *    it then re-reads the closing flag, its deadline and its context's
 *    error, each of which their writers change before they clear the slot;
 *  - the park's commit step (run on the next context, off the waiter's
 *    stack) moves WAIT -> g; if it fails, someone changed WAIT to READY or
 *    NIL meanwhile, and goc__park makes the goroutine runnable at once;
 *  - a notifier (netpoll: readiness; deadline timer, close, context:
 *    errors) swaps the slot to READY (readiness) or NIL (errors) and
 *    readies the goroutine it took out, if any. Exactly one party takes a
 *    given goroutine out of a slot, which is what goc__ready requires.
 * Invariant: a slot holds a goroutine only while that goroutine is
 * G_WAITING in goc__park on it, and at most one goroutine waits per slot.
 *
 * Deadlines are absolute goc_now() instants per direction: 0 none, -1
 * expired, otherwise pending with a goc__rtimer armed for it. pd->lock
 * orders the setters, the timers and eviction; waiters read the deadline
 * and the closing flag without it (atomics). A firing timer re-checks the
 * deadline under the lock, so a timer left over from an earlier deadline
 * (reset, cleared, or a descriptor reused for another fd) does nothing
 * unless the deadline now in force has passed too.
 *
 * Descriptors are never freed: they are recycled through a free list, so
 * a late event from epoll or a late timer always finds valid memory, and
 * at worst wakes a waiter spuriously (waiters retry their I/O and wait
 * again). Every descriptor made is also on the list np.all, so that one
 * held only by a parked goroutine's stack (goc_fd_wait's private one) is
 * still reachable for a leak checker (LeakSanitizer at exit), which does
 * not scan goroutine stacks.
 *
 * Lock order: pd->lock, then a timer heap's lock, then sched.lock (setting
 * a deadline arms a timer under pd->lock). A context's lock comes before
 * nothing here: a cancelled context's hook only touches atomics and
 * goc__ready.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../ctx/ctx.h"
#include "../debug/trace.h"
#include "netpoll.h"

#define PD_NIL ((uintptr_t)0)
#define PD_READY ((uintptr_t)1)
#define PD_WAIT ((uintptr_t)2)

/* sysmon polls when nobody has for this long. */
#define SYSMON_POLL_GAP (10 * GOC_MILLISECOND)
/* A plain thread blocked in poll(2) without a wake-up eventfd (eventfd
 * failed) re-reads the closing flag, its deadline and its context at least
 * this often (they may change while it waits). */
#define THREAD_POLL_SLICE (50 * GOC_MILLISECOND)
/* Events taken per epoll_wait. */
#define EVENTS_PER_POLL 64

/*
 *   poll_desc: [lock | fd | any_event | closing | hung_up | slot[2] | thread_wake[2] | deadline[2] | timer[2] | next_free]
 *
 * fd and any_event are set when the descriptor is opened, before it is
 * registered with epoll; the rest as described at the top of the file.
 */
struct poll_desc {
	goc__lock lock; /* orders deadline changes, timers, eviction */
	int fd;
	bool any_event;         /* atomic (a late event of the previous user
				 * may read it): every event wakes the read slot.
				 * Stored with release after the descriptor is
				 * initialised and loaded with acquire by netpoll:
				 * epoll orders them too, but TSan cannot see it */
	uint32_t closing;       /* atomic; set once under lock by evict */
	uint32_t hung_up;       /* atomic: an event said hang-up, peer shutdown or
				 * error; set by netpoll before it sets READY */
	uintptr_t slot[2];      /* atomic: PD_NIL, PD_READY, PD_WAIT or a goc__g* */
	int32_t thread_wake[2]; /* atomic: the wake-up eventfd of a plain thread
				 * waiting in that direction, or -1 */
	int64_t deadline[2];    /* atomic; written under lock: 0, -1 or an instant */
	goc__rtimer timer[2];   /* lock; arg is the descriptor, set once */
	poll_desc *next_free;   /* cache_lock */
	poll_desc *next_all;    /* set once under cache_lock */
};

static struct {
	pthread_once_t once;
	int epfd; /* -errno if the poller could not be made */
	int breakfd;
	uint32_t break_pending; /* atomic: an eventfd write not yet consumed */
	int32_t waiters;        /* atomic: goroutines parked in slots (may overcount briefly) */
	int32_t blocked;        /* atomic: Ms blocked in netpoll */
	int64_t last_poll;      /* atomic: goc_now() of the last poll */
	bool no_pwait2;         /* atomic: the kernel (or valgrind) lacks epoll_pwait2 */
	goc__lock cache_lock;
	poll_desc *free; /* cache_lock */
	poll_desc *all;  /* cache_lock: every descriptor made, by next_all */
} np = {.once = PTHREAD_ONCE_INIT, .epfd = -1, .breakfd = -1};

static void netpoll_init(void)
{
	goc__runtime_init();
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		np.epfd = -errno;
		return;
	}
	int breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (breakfd < 0) {
		np.epfd = -errno;
		close(epfd);
		return;
	}
	/* Level-triggered: a pending wake-up stays visible until the blocked
	 * poll it is meant for consumes it (a non-blocking poll leaves it). */
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) < 0) {
		np.epfd = -errno;
		close(breakfd);
		close(epfd);
		return;
	}
	np.breakfd = breakfd;
	/* valgrind does not know epoll_pwait2: it would warn "unhandled
	 * syscall" on the first call before the ENOSYS fallback; under it,
	 * whose timing is coarse anyway, epoll_wait's milliseconds do. */
	if (goc__prim_under_valgrind())
		goc__store_relaxed(&np.no_pwait2, true);
	goc__store_relaxed(&np.last_poll, goc__prim_nanotime());
	/* Release: goc__netpoll() reads epfd without the once. */
	goc__store_release(&np.epfd, epfd);
}

/* ---- slots ---- */

/* Takes the goroutine out of pd's slot for mode, leaving READY (ioready)
 * or NIL; returns it, or NULL if none was parked there. It still counts
 * in np.waiters until its readier calls waiter_ready (after goc__ready:
 * a goroutine is always either counted or queued). An error
 * notification (!ioready) leaves a pending READY alone: the waiter will
 * consume it, retry its I/O and meet the error at its next wait. */
static goc__g *slot_unblock(poll_desc *pd, enum poll_mode mode, bool ioready)
{
	uintptr_t *slot = &pd->slot[mode];
	uintptr_t old = goc__load_seqcst(slot);
	for (;;) {
		if (old == PD_READY)
			return NULL;
		if (old == PD_NIL && !ioready)
			return NULL;
		uintptr_t next = ioready ? PD_READY : PD_NIL;
		if (goc__cas_seqcst(slot, &old, next)) {
			if (old == PD_NIL || old == PD_WAIT)
				return NULL;
			return (goc__g *)old;
		}
	}
}

/* Readies g, taken out of a slot by slot_unblock. */
static void waiter_ready(goc__g *g)
{
	goc__ready(g);
	goc__fetch_sub_seqcst(&np.waiters, 1);
}

/* Adds 1 to an eventfd (non-blocking, so never waits), keeping errno. */
static void eventfd_post(int efd)
{
	uint64_t one = 1;
	int saved = errno;
	while (write(efd, &one, sizeof one) < 0 && errno == EINTR)
		;
	errno = saved;
}

/* Wakes a plain thread waiting on pd in mode, if any, to re-read what
 * ends its wait: called after the closing flag, a deadline or a context
 * changed (each stored sequentially consistent before this load; the
 * thread publishes its eventfd before it re-reads them). A late write to
 * an eventfd that has gone back to the pool only makes its next owner
 * look again. */
static void thread_notify(poll_desc *pd, enum poll_mode mode)
{
	int efd = goc__load_seqcst(&pd->thread_wake[mode]);
	if (efd >= 0)
		eventfd_post(efd);
}

/* 0, or why a wait or an I/O attempt on pd in mode must fail now. */
static int pd_error(poll_desc *pd, enum poll_mode mode)
{
	if (goc__load_seqcst(&pd->closing))
		return -EBADF;
	if (goc__load_seqcst(&pd->deadline[mode]) < 0)
		return -ETIMEDOUT;
	return 0;
}

/* ---- descriptors ---- */

static void deadline_fire(goc__rtimer *t, int64_t now);

static poll_desc *pd_alloc(void)
{
	goc__lock_acquire(&np.cache_lock);
	poll_desc *pd = np.free;
	if (pd)
		np.free = pd->next_free;
	goc__lock_release(&np.cache_lock);
	if (pd)
		return pd;
	pd = calloc(1, sizeof *pd);
	if (!pd)
		return NULL;
	for (int mode = 0; mode < 2; mode++) {
		pd->timer[mode].fn = deadline_fire;
		pd->timer[mode].arg = pd;
	}
	goc__lock_acquire(&np.cache_lock);
	pd->next_all = np.all;
	np.all = pd;
	goc__lock_release(&np.cache_lock);
	return pd;
}

static void pd_recycle(poll_desc *pd)
{
	goc__lock_acquire(&np.cache_lock);
	pd->next_free = np.free;
	np.free = pd;
	goc__lock_release(&np.cache_lock);
}

poll_desc *goc__poll_desc_open(int fd, bool any_event, int *err)
{
	pthread_once(&np.once, netpoll_init);
	int epfd = goc__load_acquire(&np.epfd);
	if (epfd < 0) {
		*err = epfd;
		return NULL;
	}
	poll_desc *pd = pd_alloc();
	if (!pd) {
		*err = -ENOMEM;
		return NULL;
	}
	goc__lock_acquire(&pd->lock);
	pd->fd = fd;
	goc__store_release(&pd->any_event, any_event);
	goc__store_seqcst(&pd->closing, 0);
	goc__store_seqcst(&pd->hung_up, 0);
	for (int mode = 0; mode < 2; mode++) {
		goc__store_seqcst(&pd->slot[mode], PD_NIL);
		goc__store_seqcst(&pd->thread_wake[mode], -1);
		goc__store_seqcst(&pd->deadline[mode], 0);
	}
	goc__lock_release(&pd->lock);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.ptr = pd};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		*err = -errno;
		pd_recycle(pd);
		return NULL;
	}
	return pd;
}

void goc__poll_desc_evict(poll_desc *pd)
{
	goc__lock_acquire(&pd->lock);
	goc__store_seqcst(&pd->closing, 1);
	goc__rtimer_del(&pd->timer[POLL_READ]);
	goc__rtimer_del(&pd->timer[POLL_WRITE]);
	goc__g *reader = slot_unblock(pd, POLL_READ, false);
	goc__g *writer = slot_unblock(pd, POLL_WRITE, false);
	goc__lock_release(&pd->lock);
	if (reader)
		waiter_ready(reader);
	if (writer)
		waiter_ready(writer);
	thread_notify(pd, POLL_READ);
	thread_notify(pd, POLL_WRITE);
}

void goc__poll_desc_close(poll_desc *pd, bool unregister)
{
	goc__lock_acquire(&pd->lock);
	goc__rtimer_del(&pd->timer[POLL_READ]);
	goc__rtimer_del(&pd->timer[POLL_WRITE]);
	for (int mode = 0; mode < 2; mode++)
		if (goc__load_seqcst(&pd->slot[mode]) > PD_WAIT)
			goc__fatal("netpoll: closing fd %d with a goroutine still waiting on it",
				   pd->fd);
	goc__lock_release(&pd->lock);
	if (unregister)
		epoll_ctl(np.epfd, EPOLL_CTL_DEL, pd->fd, NULL);
	pd_recycle(pd);
}

/* ---- deadlines ---- */

/* A timer armed for a deadline of pd fired. */
static void deadline_fire(goc__rtimer *t, int64_t now)
{
	poll_desc *pd = t->arg;
	enum poll_mode mode = t == &pd->timer[POLL_READ] ? POLL_READ : POLL_WRITE;
	goc__g *g = NULL;
	goc__lock_acquire(&pd->lock);
	int64_t deadline = goc__load_relaxed(&pd->deadline[mode]);
	bool expired = deadline > 0 && deadline <= now;
	if (expired) {
		goc__store_seqcst(&pd->deadline[mode], -1);
		g = slot_unblock(pd, mode, false);
	}
	goc__lock_release(&pd->lock);
	if (g)
		waiter_ready(g);
	if (expired)
		thread_notify(pd, mode);
}

void goc__poll_desc_set_deadline(poll_desc *pd, enum poll_mode mode, int64_t deadline)
{
	if (deadline != 0 && deadline <= goc__prim_nanotime())
		deadline = -1;
	goc__rtimer *t = &pd->timer[mode];
	goc__g *g = NULL;
	goc__lock_acquire(&pd->lock);
	goc__store_seqcst(&pd->deadline[mode], deadline);
	goc__rtimer_del(t);
	if (deadline > 0) {
		/* The heap of the caller's P, or P 0's for a plain thread (P 0
		 * never retires). */
		goc__m *m = goc__m_self();
		t->when = deadline;
		goc__rtimer_add(m && m->p ? m->p : goc__sched.allp[0], t);
	} else if (deadline < 0) {
		g = slot_unblock(pd, mode, false);
	}
	goc__lock_release(&pd->lock);
	if (g)
		waiter_ready(g);
	thread_notify(pd, mode);
}

int goc__poll_desc_prepare(poll_desc *pd, enum poll_mode mode, bool *had_notice)
{
	int err = pd_error(pd, mode);
	if (err)
		return err;
	/* A READY left from an earlier edge is forgotten: the I/O attempt
	 * that follows sees whatever caused it, and any edge after this
	 * store sets READY again. Nobody else waits in this slot (the fd layer
	 * serializes each direction), so it cannot hold WAIT or a goroutine. */
	bool notice = goc__load_relaxed(&pd->slot[mode]) == PD_READY;
	if (notice)
		goc__store_seqcst(&pd->slot[mode], PD_NIL);
	if (had_notice)
		*had_notice = notice;
	return 0;
}

bool goc__poll_desc_hung_up(poll_desc *pd)
{
	return goc__load_seqcst(&pd->hung_up);
}

/* ---- waiting ---- */

/* A goroutine waiting on a slot, and the context hook that may cancel it. */
struct io_waiter {
	ctx_hook hook;
	poll_desc *pd;
	enum poll_mode mode;
	int err; /* atomic: the context's error, as -errno */
};

/* The waiter's context was cancelled (its lock held): record the error
 * before clearing the slot, so the waiter sees one or the other. */
static void io_wait_cancel(ctx_hook *hook, goc_status st)
{
	struct io_waiter *w = (struct io_waiter *)((char *)hook - offsetof(struct io_waiter, hook));
	goc__store_seqcst(&w->err, net_status_errno(st));
	goc__g *g = slot_unblock(w->pd, w->mode, false);
	if (g)
		waiter_ready(g);
}

struct park_commit {
	uintptr_t *slot;
	goc__g *g;
};

/* goc__park's unlock step, on the next context: publishes the goroutine in
 * its slot unless a notifier changed WAIT meanwhile. The commit record
 * lives on the parked goroutine's stack: it is read before the CAS, since
 * once the CAS succeeds the goroutine may be readied and running. The
 * waiter count goes up first, so it never undercounts a parked goroutine
 * (deadlock detection and the poller M rely on it). */
static bool park_commit(void *arg)
{
	struct park_commit *c = arg;
	uintptr_t *slot = c->slot;
	uintptr_t g = (uintptr_t)c->g;
	goc__fetch_add_seqcst(&np.waiters, 1);
	uintptr_t expected = PD_WAIT;
	if (goc__cas_seqcst(slot, &expected, g))
		return true;
	goc__fetch_sub_seqcst(&np.waiters, 1);
	return false;
}

static int ms_until(int64_t until, int64_t now)
{
	int64_t ms = (until - now + GOC_MILLISECOND - 1) / GOC_MILLISECOND;
	return ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms;
}

/*
 * Plain threads' wake-up eventfds: one per thread that ever waited, taken
 * on its first wait and given back to this pool when the thread exits,
 * never closed (a notifier may still hold its number; writing to a reused
 * fd would corrupt someone's file, writing to a pooled eventfd only makes
 * its next owner look again).
 */
static struct {
	pthread_once_t once;
	pthread_key_t key;
	goc__lock lock;
	int *free;         /* lock */
	size_t nfree, cap; /* lock */
} wake_pool = {.once = PTHREAD_ONCE_INIT};

static __thread int thread_wake_fd = -1;

static void wake_fd_return(void *unused)
{
	(void)unused;
	int efd = thread_wake_fd;
	if (efd < 0)
		return;
	thread_wake_fd = -1;
	goc__lock_acquire(&wake_pool.lock);
	if (wake_pool.nfree == wake_pool.cap) {
		size_t cap = wake_pool.cap ? 2 * wake_pool.cap : 16;
		int *grown = realloc(wake_pool.free, cap * sizeof *grown);
		if (grown) {
			wake_pool.free = grown;
			wake_pool.cap = cap;
		}
	}
	if (wake_pool.nfree < wake_pool.cap)
		wake_pool.free[wake_pool.nfree++] = efd;
	goc__lock_release(&wake_pool.lock);
	/* With no room to keep it, the eventfd stays open and unused. */
}

static void wake_pool_init(void)
{
	pthread_key_create(&wake_pool.key, wake_fd_return);
}

/* The calling thread's wake-up eventfd, or -1 if none could be had (the
 * thread then waits in slices). */
static int thread_wake_get(void)
{
	if (thread_wake_fd >= 0)
		return thread_wake_fd;
	pthread_once(&wake_pool.once, wake_pool_init);
	int efd = -1;
	goc__lock_acquire(&wake_pool.lock);
	if (wake_pool.nfree > 0)
		efd = wake_pool.free[--wake_pool.nfree];
	goc__lock_release(&wake_pool.lock);
	if (efd < 0 && (efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -1;
	thread_wake_fd = efd;
	/* The key's value only needs to be non-NULL for the destructor to run. */
	pthread_setspecific(wake_pool.key, &thread_wake_fd);
	return efd;
}

/* A plain thread's wait, and the context hook that wakes it. */
struct thread_waiter {
	ctx_hook hook;
	int efd;
};

static void thread_wait_cancel(ctx_hook *hook, goc_status st)
{
	(void)st;
	struct thread_waiter *w =
		(struct thread_waiter *)((char *)hook - offsetof(struct thread_waiter, hook));
	eventfd_post(w->efd);
}

/*
 * A plain OS thread has no P to come back to: it blocks in poll(2) on the
 * fd and on its wake-up eventfd, which the closer, a deadline change and
 * the context's cancellation write to once the thread has published it in
 * pd->thread_wake, and re-reads what may end the wait whenever it wakes.
 */
static int thread_wait(poll_desc *pd, enum poll_mode mode, goc_ctx *ctx)
{
	goc__g_self(); /* registers the thread: it may wake goroutines later */
	short events = goc__load_relaxed(&pd->any_event) ? POLLIN | POLLOUT
		: mode == POLL_READ                      ? POLLIN
							 : POLLOUT;
	struct thread_waiter w = {.hook.fire = thread_wait_cancel, .efd = thread_wake_get()};
	if (ctx && w.efd >= 0) {
		goc_status st = goc__ctx_hook_add(ctx, &w.hook);
		if (st != GOC_OK)
			return net_status_errno(st);
	}
	if (w.efd >= 0)
		goc__store_seqcst(&pd->thread_wake[mode], w.efd);
	int result;
	for (;;) {
		if ((result = pd_error(pd, mode)) != 0)
			break;
		if ((result = net_ctx_errno(ctx)) != 0)
			break;
		int64_t now = goc__prim_nanotime();
		/* Read again: the deadline's timer may have expired it (-1)
		 * since pd_error looked. */
		int64_t deadline = goc__load_seqcst(&pd->deadline[mode]);
		if (deadline < 0 || (deadline > 0 && deadline <= now)) {
			result = -ETIMEDOUT;
			break;
		}
		int64_t until = w.efd >= 0 ? 0 : now + THREAD_POLL_SLICE;
		if (deadline > 0 && (until == 0 || deadline < until))
			until = deadline;
		struct pollfd pfd[2] = {{.fd = pd->fd, .events = events},
					{.fd = w.efd, .events = POLLIN}};
		int r = poll(pfd, w.efd >= 0 ? 2 : 1, until ? ms_until(until, now) : -1);
		if (r > 0 && pfd[0].revents) {
			result = 0;
			break;
		}
		if (r > 0) {
			uint64_t value;
			while (read(w.efd, &value, sizeof value) < 0 && errno == EINTR)
				;
		} else if (r < 0 && errno != EINTR) {
			result = -errno;
			break;
		}
	}
	if (w.efd >= 0)
		goc__store_seqcst(&pd->thread_wake[mode], -1);
	if (ctx && w.efd >= 0)
		goc__ctx_hook_remove(&w.hook);
	return result;
}

int goc__poll_desc_wait(poll_desc *pd, enum poll_mode mode, goc_ctx *ctx)
{
	goc__m *m = goc__m_self();
	if (!m || !m->curg)
		return thread_wait(pd, mode, ctx);
	struct io_waiter w = {.hook.fire = io_wait_cancel, .pd = pd, .mode = mode};
	if (ctx) {
		goc_status st = goc__ctx_hook_add(ctx, &w.hook);
		if (st != GOC_OK)
			return net_status_errno(st);
	}
	uintptr_t *slot = &pd->slot[mode];
	bool ready = false;
	for (;;) {
		uintptr_t old = PD_READY;
		if (goc__cas_seqcst(slot, &old, PD_NIL)) {
			ready = true;
			break;
		}
		if (old == PD_NIL && goc__cas_seqcst(slot, &old, PD_WAIT))
			break;
		if (old != PD_NIL && old != PD_READY)
			goc__panic("two goroutines wait to %s fd %d at once",
				   mode == POLL_READ ? "read" : "write", pd->fd);
	}
	if (!ready) {
		/* WAIT is published: a closer, a deadline or a canceller that
		 * acted before now is seen here; one that acts later finds WAIT
		 * or our goroutine in the slot and clears it. */
		if (pd_error(pd, mode) == 0 && goc__load_seqcst(&w.err) == 0) {
			struct park_commit commit = {.slot = slot, .g = m->curg};
			goc__park(park_commit, &commit, WAIT_IO);
		}
		/* Whoever readied us took our goroutine out of the slot; what is
		 * left is READY (the fd is ready), NIL (an error), or WAIT (we
		 * did not park). */
		ready = goc__xchg_seqcst(slot, PD_NIL) == PD_READY;
	}
	if (ctx)
		goc__ctx_hook_remove(&w.hook);
	if (ready)
		return 0;
	int err = pd_error(pd, mode);
	if (err)
		return err;
	return goc__load_seqcst(&w.err);
}

/* ---- polling ---- */

bool goc__netpoll_has_waiters(void)
{
	return goc__load_relaxed(&np.waiters) > 0;
}

int64_t goc__netpoll_waiters(void)
{
	return goc__load_relaxed(&np.waiters);
}

bool goc__netpoll_blocked(void)
{
	return goc__load_relaxed(&np.blocked) > 0;
}

void goc__netpoll_break(void)
{
	if (goc__load_acquire(&np.epfd) < 0)
		return;
	uint32_t idle = 0;
	if (!goc__cas_seqcst(&np.break_pending, &idle, 1))
		return; /* a write is pending: the blocked M wakes anyway */
	eventfd_post(np.breakfd);
}

/* epoll_wait until an absolute instant, with nanosecond precision where
 * the kernel has epoll_pwait2 (epoll_wait's milliseconds would make every
 * timer the poller M waits for up to a millisecond late). */
static int epoll_wait_until(int epfd, struct epoll_event *ev, int max, int64_t until)
{
	if (until == 0)
		return epoll_wait(epfd, ev, max, 0);
	if (until == INT64_MAX)
		return epoll_wait(epfd, ev, max, -1);
	int64_t now = goc__prim_nanotime();
	if (until <= now)
		return epoll_wait(epfd, ev, max, 0);
	if (!goc__load_relaxed(&np.no_pwait2)) {
		int64_t d = until - now;
		struct timespec ts = {.tv_sec = d / GOC_SECOND, .tv_nsec = d % GOC_SECOND};
		int n = epoll_pwait2(epfd, ev, max, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		goc__store_relaxed(&np.no_pwait2, true);
	}
	return epoll_wait(epfd, ev, max, ms_until(until, now));
}

int goc__netpoll(int64_t until, goc__g **ready, int max)
{
	int epfd = goc__load_acquire(&np.epfd);
	if (epfd < 0)
		return 0;
	struct epoll_event ev[EVENTS_PER_POLL];
	int room = max / 2 < EVENTS_PER_POLL ? max / 2 : EVENTS_PER_POLL;
	bool blocking = until != 0;
	if (blocking)
		goc__fetch_add_seqcst(&np.blocked, 1);
	int saved = errno;
	int n = epoll_wait_until(epfd, ev, room, until);
	errno = saved;
	if (blocking)
		goc__fetch_sub_seqcst(&np.blocked, 1);
	goc__store_relaxed(&np.last_poll, goc__prim_nanotime());
	int count = 0;
	for (int i = 0; i < n; i++) {
		poll_desc *pd = ev[i].data.ptr;
		uint32_t e = ev[i].events;
		if (!pd) {
			if (!blocking)
				continue;
			uint64_t value;
			saved = errno;
			while (read(np.breakfd, &value, sizeof value) < 0 && errno == EINTR)
				;
			errno = saved;
			goc__store_seqcst(&np.break_pending, 0);
			continue;
		}
		bool readable = e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
		bool writable = e & (EPOLLOUT | EPOLLHUP | EPOLLERR);
		if ((e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !goc__load_relaxed(&pd->hung_up))
			goc__store_seqcst(&pd->hung_up, 1);
		if (goc__load_acquire(&pd->any_event)) {
			readable = readable || writable;
			writable = false;
		}
		goc__g *g;
		if (readable && (g = slot_unblock(pd, POLL_READ, true)))
			ready[count++] = g;
		if (writable && (g = slot_unblock(pd, POLL_WRITE, true)))
			ready[count++] = g;
	}
	if (goc__tracing())
		goc__trace_netpoll(ready, count);
	return count;
}

void goc__netpoll_sysmon(int64_t now)
{
	if (!goc__netpoll_has_waiters() || goc__netpoll_blocked())
		return;
	if (now - goc__load_relaxed(&np.last_poll) < SYSMON_POLL_GAP)
		return;
	goc__g *ready[2 * EVENTS_PER_POLL];
	int n = goc__netpoll(0, ready, 2 * EVENTS_PER_POLL);
	for (int i = 0; i < n; i++)
		goc__ready(ready[i]);
	goc__netpoll_delivered(n);
}

void goc__netpoll_delivered(int n)
{
	if (n > 0)
		goc__fetch_sub_seqcst(&np.waiters, n);
}
