/*
 * ctx.h — what other mechanisms need from the context tree: cancellation
 * hooks, the way a blocking call parks on its own wait queue and on a
 * context's cancellation at once.
 *
 * A waiter (semaphore acquire, wait-group wait, work-pool submit) embeds a
 * ctx_hook and registers it on the context before it queues itself. When
 * the context is cancelled, the canceller calls hook->fire with the
 * context's lock held; fire takes the waiter's queue lock, and if the
 * waiter is still queued, takes it off, records the error and readies it.
 * The waiter, once woken (by its queue or by fire), unregisters the hook,
 * which also takes the context's lock: so once goc__ctx_hook_remove returns,
 * no canceller is inside fire or will enter it, and the hook (on the
 * waiter's stack) may go away.
 *
 * Why not a select on goc_ctx_done and a channel per waiter, as Go's
 * x/sync/semaphore does: that costs a channel allocation per wait and a
 * select with its locks, and the waiter's record would have to live off
 * its stack. A hook is two pointers on the stack and one lock round trip.
 *
 * Lock order: a context's lock, then the waiter's queue lock. fire must
 * not block, park, or touch any context.
 */
#ifndef GOC_CTX_CTX_H
#define GOC_CTX_CTX_H

#include "../sched/runtime.h"

typedef struct ctx_hook ctx_hook;
struct ctx_hook {
	/* Called at most once, with the cancelled context's lock held. */
	void (*fire)(ctx_hook *hook, goc_status err);
	goc__list_node link;      /* in owner's hooks; owner's lock */
	struct cancel_ctx *owner; /* set by goc__ctx_hook_add: the context that decides, or NULL */
	bool registered;          /* in owner's list, not fired yet; owner's lock */
};

/*
 * Registers hook on the context that decides ctx's cancellation (ctx's
 * nearest cancellable ancestor). Returns GOC_OK when registered, or when
 * ctx can never be cancelled (then hook->owner stays NULL and fire never
 * runs); returns ctx's error, without registering, if ctx is already
 * cancelled.
 */
goc_status goc__ctx_hook_add(goc_ctx *ctx, ctx_hook *hook);
/* Unregisters hook if it is still registered. Afterwards no canceller
 * touches it. */
void goc__ctx_hook_remove(ctx_hook *hook);

/* goc_ctx_with_value with a copy of size bytes at value, owned by the new
 * context (freed with it); goc_ctx_value returns the copy, aligned to 8
 * bytes. */
goc_ctx *goc__ctx_with_value_copy(goc_ctx *parent, const void *key, const void *value, size_t size);

#endif
