/*
 * netpoll.h — the network poller (netpoll.c): what the fd layer (fd.c)
 * and the scheduler (proc.c, sysmon.c) need from it.
 *
 * Every fd that goroutines wait on has a poll descriptor registered with
 * one epoll instance, edge-triggered, for reading and writing at once. A
 * descriptor has two waiter slots (read, write), each holding at most one
 * parked goroutine, and a deadline per direction. Readiness found by
 * goc__netpoll() and expiry of a deadline wake the goroutine in the slot through
 * goc__ready; a plain OS thread waits with poll(2) instead (it has no P to
 * come back to and nobody would run its deadline timers).
 *
 * The scheduler polls without blocking in find_runnable while goroutines
 * wait for I/O; one idle M blocks in goc__netpoll() until the next timer instead
 * of sleeping on its futex, and goc__netpoll_break() wakes it; sysmon polls when
 * nobody has for 10 ms.
 */
#ifndef GOC_NET_NETPOLL_H
#define GOC_NET_NETPOLL_H

#include <errno.h>

#include "../sched/runtime.h"

typedef struct poll_desc poll_desc;

/* A cancelled context's status as the errno the network calls return:
 * -ETIMEDOUT for GOC_TIMEOUT, -ECANCELED otherwise. */
static inline int net_status_errno(goc_status st)
{
	return st == GOC_TIMEOUT ? -ETIMEDOUT : -ECANCELED;
}

/* 0 if ctx (may be NULL) is not cancelled, else its net_status_errno. */
static inline int net_ctx_errno(goc_ctx *ctx)
{
	goc_status st = ctx ? goc_ctx_err(ctx) : GOC_OK;
	return st == GOC_OK ? 0 : net_status_errno(st);
}

enum poll_mode { POLL_READ = 0, POLL_WRITE = 1 };

/* Registers fd (already non-blocking) with the poller. any_event: every
 * event, in or out, wakes the read slot (goc_fd_wait for both directions).
 * NULL with *err = -errno on failure. */
poll_desc *goc__poll_desc_open(int fd, bool any_event, int *err);
/* Unregisters (EPOLL_CTL_DEL when unregister is true: the fd stays open)
 * and recycles pd. No goroutine may wait on it or be about to. */
void goc__poll_desc_close(poll_desc *pd, bool unregister);
/* Marks pd closing and wakes both waiters; every wait from now on fails
 * with -EBADF. */
void goc__poll_desc_evict(poll_desc *pd);
/* Sets the deadline of one direction: an absolute goc_now() instant, 0
 * for none; one in the past expires at once (and wakes the waiter). */
void goc__poll_desc_set_deadline(poll_desc *pd, enum poll_mode mode, int64_t deadline);
/* Before an I/O attempt: 0, or -EBADF (closing) / -ETIMEDOUT (deadline
 * passed). Forgets a readiness notice that the attempt will observe anyway;
 * *had_notice (if not NULL) says whether there was one. */
int goc__poll_desc_prepare(poll_desc *pd, enum poll_mode mode, bool *had_notice);
/* Whether an event has reported a hang-up, the peer's shutdown or an
 * error on pd's fd (sticky until the descriptor is reused). Set before the
 * READY it comes with: an I/O attempt after a prepare that forgot READY
 * sees it if that event came before, and finds READY again if after. */
bool goc__poll_desc_hung_up(poll_desc *pd);
/* After the attempt said EAGAIN: parks until the fd may be ready. 0 (try
 * again), -EBADF, -ETIMEDOUT, or the ctx's error as -ECANCELED or
 * -ETIMEDOUT. ctx may be NULL. Only one waiter per direction at a time
 * (the fd layer serializes them). */
int goc__poll_desc_wait(poll_desc *pd, enum poll_mode mode, goc_ctx *ctx);

/* ---- for the scheduler ---- */

/* Whether some goroutine is parked on a poll descriptor. Relaxed: a stale
 * answer costs a useless poll or leaves the poll to sysmon. */
bool goc__netpoll_has_waiters(void);
/* How many goroutines are parked on poll descriptors (relaxed, may
 * overcount briefly), for the metrics. */
int64_t goc__netpoll_waiters(void);
/* Whether an M is blocked in goc__netpoll() now (others need not poll). */
bool goc__netpoll_blocked(void);
/*
 * Collects goroutines whose fds became ready into ready[0..max) and
 * returns their number, without readying them: the caller puts them where
 * they should run (goc__ready) and then calls goc__netpoll_delivered(n). until:
 * 0 = do not block, INT64_MAX = block until an event or goc__netpoll_break,
 * otherwise an absolute goc_now() deadline. Returns 0 at once if the poller
 * was never used.
 */
int goc__netpoll(int64_t until, goc__g **ready, int max);
/* The n goroutines netpoll returned are readied: they stop counting as
 * I/O waiters only now, so that deadlock detection never sees them
 * nowhere (neither waiting nor queued). */
void goc__netpoll_delivered(int n);
/* Wakes an M blocked in goc__netpoll(). Cheap when a wake-up is pending. */
void goc__netpoll_break(void);
/* sysmon's tick: polls and readies what it finds when nobody has polled
 * for 10 ms. */
void goc__netpoll_sysmon(int64_t now);

#endif
