/*
 * goc/context.h — goc_ctx, Go's context package, and the context-aware
 * forms of the blocking calls (goc_wg_wait_ctx, goc_chan_send_ctx,
 * goc_chan_recv_ctx).
 * Included by goc.h; include <goc.h>, not this file.
 *
 * A context carries a cancellation signal, an optional deadline and values
 * down a tree of calls and goroutines. Contexts form a tree: every context
 * but the background one has a parent, and cancelling a context cancels
 * every context derived from it.
 *
 *     goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 50 * GOC_MILLISECOND);
 *     goc_go(worker, goc_ctx_retain(ctx));   // the worker releases its reference
 *     ...
 *     goc_ctx_cancel(ctx);                   // Go's `defer cancel()`
 *     goc_ctx_release(ctx);
 *
 * Memory: a constructor returns a new reference, owned by the caller, who
 * drops it with goc_ctx_release; goc_ctx_retain takes another (for a
 * goroutine that may outlive its creator's reference). A child holds a
 * reference to its parent, so a parent lives as long as any descendant.
 * A context is freed with its last reference, cancelled or not (nobody can
 * observe it any more); one with a pending deadline is also held by its
 * timer until the deadline passes, so cancel it when done, as Go's vet
 * insists, to free it at once. Constructors return NULL with errno = ENOMEM
 * when memory runs out. Passing NULL where a context is required panics,
 * as Go's "cannot create context from nil parent".
 *
 * Times are goc_now() instants (the monotonic clock, nanoseconds).
 */
#ifndef GOC_CONTEXT_H
#define GOC_CONTEXT_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/context.h>"
#endif

typedef struct goc_ctx goc_ctx;

/* The root of every tree: never cancelled, no deadline, no values. A
 * static object: retain and release do nothing to it. */
goc_ctx *goc_ctx_background(void);

/* A child of parent that goc_ctx_cancel cancels (and that is cancelled
 * with its parent). Born cancelled if parent already is. */
goc_ctx *goc_ctx_with_cancel(goc_ctx *parent);
/* A cancellable child that cancels itself with GOC_TIMEOUT at deadline (a
 * goc_now() instant). If parent's deadline is earlier, the child keeps
 * that one and arms no timer of its own, as in Go; a deadline already
 * past gives a child born with GOC_TIMEOUT. GOC_NO_DEADLINE: no deadline
 * of its own (goc_ctx_with_cancel). */
goc_ctx *goc_ctx_with_deadline(goc_ctx *parent, int64_t deadline);
/* goc_ctx_with_deadline(parent, goc_now() + timeout). timeout is a delay
 * (goc.h's time rule): <= 0 gives a child born with GOC_TIMEOUT, as Go's
 * WithTimeout, so a remaining time computed as negative never turns into
 * "no deadline". For no deadline, use goc_ctx_with_cancel. */
goc_ctx *goc_ctx_with_timeout(goc_ctx *parent, int64_t timeout);
/* A child that carries key -> value. Keys are compared by pointer
 * identity (use the address of a static object of your own, as Go
 * recommends an unexported key type); value is not copied and must
 * outlive the context's users. Cancelled with its parent; cannot be
 * cancelled by itself. */
goc_ctx *goc_ctx_with_value(goc_ctx *parent, const void *key, void *value);

/* The value of the nearest context on the path to the root that carries
 * key, or NULL. */
void *goc_ctx_value(goc_ctx *ctx, const void *key);

/*
 * Cancels ctx and every context derived from it (GOC_CANCELED), closes
 * their done channels, stops ctx's deadline timer, and detaches ctx from
 * its parent. Cancelling twice is harmless. Panics if ctx cannot be
 * cancelled (the background or a value context): Go gives no cancel
 * function for those. Descendants are cancelled iteratively, so a tree of
 * any depth is fine on a goroutine's small stack.
 */
void goc_ctx_cancel(goc_ctx *ctx);

/* A channel (of zero-size elements) closed when ctx is cancelled, to use
 * in goc_select; NULL (never ready, as Go's nil channel) for a context
 * that can never be cancelled. Made on first use. It belongs to ctx: valid
 * while the caller holds a reference to ctx (goc_chan_retain it to keep it
 * longer). */
goc_chan *goc_ctx_done(goc_ctx *ctx);

/* GOC_OK while ctx is live; GOC_CANCELED or GOC_TIMEOUT (Go's
 * DeadlineExceeded) once it is cancelled. A context cancelled through an
 * ancestor reports the ancestor's reason. */
goc_status goc_ctx_err(goc_ctx *ctx);

/* Stores ctx's deadline (the earliest on the path to the root) in
 * *deadline and returns true, or returns false if it has none. */
bool goc_ctx_deadline(goc_ctx *ctx, int64_t *deadline);

/* Takes / drops a reference. Both accept NULL; retain returns ctx. */
goc_ctx *goc_ctx_retain(goc_ctx *ctx);
void goc_ctx_release(goc_ctx *ctx);

/* The number of live cancellable contexts linked below ctx for
 * cancellation (children whose nearest cancellable ancestor is ctx),
 * for tests and leak hunting: cancelled or freed children are not
 * counted. 0 for a context that cannot be cancelled. */
int64_t goc_ctx_child_count(goc_ctx *ctx);

/* ---- context-aware forms of blocking calls ------------------------------
 * Each returns GOC_OK when the operation completed, or goc_ctx_err(ctx)
 * when ctx was cancelled first (a context already cancelled on entry fails
 * at once, even if the operation could proceed). ctx NULL means "wait as
 * long as it takes". */

/* goc_wg_wait that gives up when ctx is cancelled; the waiter is taken
 * off the wait group cleanly. */
goc_status goc_wg_wait_ctx(goc_wg *wg, goc_ctx *ctx);
/* goc_chan_send that gives up when ctx is cancelled (a select on the
 * channel and goc_ctx_done). A closed channel panics, as for
 * goc_chan_send. */
goc_status goc_chan_send_ctx(goc_chan *c, const void *elem, goc_ctx *ctx);
/* goc_chan_recv that gives up when ctx is cancelled: GOC_OK, GOC_CLOSED
 * (closed and drained, *elem zeroed) or ctx's error. */
goc_status goc_chan_recv_ctx(goc_chan *c, void *elem, goc_ctx *ctx);

#endif /* GOC_CONTEXT_H */
