/*
 * sema.c — goc_sema, a weighted semaphore (Go's x/sync/semaphore).
 *
 * s->lock protects held and the waiter queue. Invariants, whenever the
 * lock is free:
 *  - 0 <= held <= size.
 *  - The queue is FIFO, and its head asks for more than is free
 *    (size - held < head->n): release grants from the head while the head
 *    fits and stops at the first that does not, so a big request is never
 *    overtaken by smaller ones behind it.
 *  - A new acquire takes permits at once only if the queue is empty, for
 *    the same reason.
 *
 * A waiter lives on the acquiring goroutine's stack. Its state changes
 * under s->lock, from WAITING to GRANTED (by a release, which also counted
 * its permits) or to CANCELED (by its context's hook, see ctx/ctx.h); the
 * party that changes it while the waiter is queued takes it off the queue
 * and readies it. Once granted, a cancellation is ignored (as in Go: the
 * permits are the acquirer's, and the caller sees GOC_OK).
 */
#include <errno.h>
#include <stddef.h>

#include "../ctx/ctx.h"

enum sema_waiter_state { SEMA_WAITING, SEMA_GRANTED, SEMA_CANCELED };

typedef struct sema_waiter {
	goc__g *g;
	goc_sema *sema;
	int64_t n;
	struct sema_waiter *prev, *next; /* in the queue; then, granted, in a wake list */
	bool queued;                     /* s->lock */
	enum sema_waiter_state state;    /* s->lock */
	goc_status err;                  /* the context's error, when CANCELED */
	ctx_hook hook;
} sema_waiter;

static goc_sema *checked(goc_sema *s, int64_t n, const char *what)
{
	if (!s)
		goc__panic("%s: nil semaphore", what);
	if (n < 0)
		goc__panic("%s: negative weight %lld", what, (long long)n);
	return s;
}

void goc_sema_init(goc_sema *s, int64_t n)
{
	checked(s, n, "goc_sema_init");
	*s = (goc_sema)GOC_SEMA_INIT(n);
}

/* The invariants above, whenever s->lock is about to be freed. */
static inline bool sema_consistent_locked(const goc_sema *s)
{
	const sema_waiter *head = s->waiters_head;
	return s->held >= 0 && s->held <= s->size && (!head || s->size - s->held < head->n) &&
		!head == !s->waiters_tail;
}

static void sema_unlock(goc_sema *s)
{
	goc__assert(sema_consistent_locked(s));
	goc__lock_release_word(&s->lock);
}

static void enqueue(goc_sema *s, sema_waiter *w)
{
	w->next = NULL;
	w->prev = s->waiters_tail;
	if (w->prev)
		w->prev->next = w;
	else
		s->waiters_head = w;
	s->waiters_tail = w;
	w->queued = true;
}

static void dequeue(goc_sema *s, sema_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		s->waiters_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		s->waiters_tail = w->prev;
	w->prev = w->next = NULL;
	w->queued = false;
}

/* Grants permits to the waiters at the head while they fit; returns them
 * as a list (through next) to wake once s->lock is released. */
static sema_waiter *grant_locked(goc_sema *s)
{
	sema_waiter *granted = NULL, **tail = &granted;
	sema_waiter *w;
	while ((w = s->waiters_head) && s->size - s->held >= w->n) {
		s->held += w->n;
		dequeue(s, w);
		w->state = SEMA_GRANTED;
		*tail = w;
		tail = &w->next;
	}
	return granted;
}

static void wake_list(sema_waiter *w)
{
	while (w) {
		/* next first: the record lives on the waiter's stack. */
		sema_waiter *next = w->next;
		goc__ready(w->g);
		w = next;
	}
}

static bool fits_now_locked(goc_sema *s, int64_t n)
{
	return s->size - s->held >= n && !s->waiters_head;
}

/* The context of a waiter was cancelled (its lock held). */
static void cancel_waiter(ctx_hook *hook, goc_status err)
{
	sema_waiter *w = (sema_waiter *)((char *)hook - offsetof(sema_waiter, hook));
	goc_sema *s = w->sema;
	sema_waiter *wake = NULL;
	goc__lock_acquire_word(&s->lock);
	if (w->state == SEMA_WAITING) {
		w->state = SEMA_CANCELED;
		w->err = err;
		if (w->queued) {
			/* Leaving from the head may let the next ones in. */
			bool was_head = s->waiters_head == w;
			dequeue(s, w);
			w->next = was_head ? grant_locked(s) : NULL;
			wake = w;
		}
	}
	sema_unlock(s);
	wake_list(wake);
}

goc_status goc_sema_acquire(goc_sema *s, goc_ctx *ctx, int64_t n)
{
	checked(s, n, "goc_sema_acquire");
	if (n > s->size)
		return -EINVAL;
	if (ctx) {
		goc_status err = goc_ctx_err(ctx);
		if (err != GOC_OK)
			return err;
	}
	goc__lock_acquire_word(&s->lock);
	if (fits_now_locked(s, n)) {
		s->held += n;
		sema_unlock(s);
		return GOC_OK;
	}
	sema_waiter w = {.g = goc__g_self(), .sema = s, .n = n, .hook.fire = cancel_waiter};
	if (ctx) {
		/* The hook goes in with no semaphore lock held (lock order:
		 * context, then semaphore); then everything is checked again. */
		sema_unlock(s);
		goc_status err = goc__ctx_hook_add(ctx, &w.hook);
		if (err != GOC_OK)
			return err;
		goc__lock_acquire_word(&s->lock);
		if (w.state == SEMA_CANCELED || fits_now_locked(s, n)) {
			if (w.state != SEMA_CANCELED)
				s->held += n;
			sema_unlock(s);
			goc__ctx_hook_remove(&w.hook);
			return w.state == SEMA_CANCELED ? w.err : GOC_OK;
		}
	}
	enqueue(s, &w);
	goc__assert(sema_consistent_locked(s));
	goc__park(goc__park_unlock_lock, &s->lock, WAIT_SEMACQUIRE);
	goc__ctx_hook_remove(&w.hook);
	return w.state == SEMA_GRANTED ? GOC_OK : w.err;
}

bool goc_sema_try_acquire(goc_sema *s, int64_t n)
{
	checked(s, n, "goc_sema_try_acquire");
	goc__lock_acquire_word(&s->lock);
	bool ok = fits_now_locked(s, n);
	if (ok)
		s->held += n;
	sema_unlock(s);
	return ok;
}

void goc_sema_release(goc_sema *s, int64_t n)
{
	checked(s, n, "goc_sema_release");
	goc__lock_acquire_word(&s->lock);
	if (n > s->held) {
		int64_t held = s->held;
		sema_unlock(s);
		goc__panic("semaphore: released %lld permits, but only %lld are held", (long long)n,
			   (long long)held);
	}
	s->held -= n;
	sema_waiter *wake = grant_locked(s);
	sema_unlock(s);
	wake_list(wake);
}
