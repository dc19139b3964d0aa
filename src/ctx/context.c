/*
 * context.c — goc_ctx, Go's context package: a tree of contexts through
 * which cancellation flows from a node to all its descendants.
 *
 * Three kinds of node share one header (goc_ctx):
 *
 *   background   the static root: never cancelled, no references counted
 *   value        a key and a value; cancelled with its parent
 *   cancel       a cancel_ctx: the header, then the cancellation state
 *
 *   cancel_ctx
 *   +--------------------------------------------------------------+
 *   | goc_ctx: refs, kind, parent, canceller, deadline, key, value |
 *   | lock, err, done            its own state                     |
 *   | children, child_count      cancel_ctxs linked below it        |
 *   | link_parent, linked,       its place in the list of the       |
 *   |   sibling                    cancel_ctx above it              |
 *   | hooks                      waiters to wake on cancel (ctx.h)  |
 *   | timer, timer_pending       the deadline                       |
 *   | next_to_cancel             a canceller's worklist link        |
 *   +--------------------------------------------------------------+
 *
 * Invariants:
 *  - Every node but the background holds a reference to its parent, so a
 *    node's ancestors live at least as long as it does. ctx->canceller is
 *    the nearest cancel_ctx on the path to the root (the node itself for a
 *    cancel_ctx, NULL if there is none); it is fixed at creation, and
 *    err / done / hooks of any node are those of its canceller.
 *  - err moves once from GOC_OK to an error, under lock, and never back.
 *  - A live cancel_ctx c is in the children list of c->link_parent (the
 *    canceller of its parent) from creation until that parent cancels it,
 *    it is cancelled by itself, or it dies. `linked` and the sibling links
 *    are protected by link_parent's lock. The link is weak (it counts no
 *    reference): a context nobody refers to can be observed by nobody, so
 *    it is freed at its last release instead of lingering until its parent
 *    is cancelled, which for the background is never.
 *  - A dying child (refs reached 0) stays in its parent's list until it
 *    takes the parent's lock to unlink itself, and is not freed before. A
 *    canceller walking the list skips it (it cannot take a reference from
 *    0) and leaves it there.
 *  - A pending deadline timer holds one reference. Exactly one party drops
 *    it: the canceller whose goc__rtimer_del removed the timer, or else the
 *    timer's callback.
 *  - The done channel is made at most once (under lock) and closed exactly
 *    once: by the canceller that set err (after unlocking), or by its maker
 *    if err was already set.
 *
 * Lock order: a context's lock, then (in hooks) a waiter's queue lock or
 * (arming and stopping the deadline) a timer heap's lock. No path holds
 * two context locks at once, so cancelling a tree takes each node's lock in
 * turn, iteratively, with no recursion on the (small) goroutine stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"

enum ctx_kind { CTX_BACKGROUND, CTX_VALUE, CTX_CANCEL };

#define NO_DEADLINE INT64_MAX

struct goc_ctx {
	int64_t refs; /* atomic; unused for the background */
	enum ctx_kind kind;
	goc_ctx *parent;              /* holds a reference; NULL for the background */
	struct cancel_ctx *canceller; /* see the invariants */
	int64_t deadline;             /* the earliest on the path to the root */
	const void *key;              /* value contexts */
	void *value;
};
/* goc__ctx_with_value_copy puts its copy right after the node. */
_Static_assert(sizeof(goc_ctx) % 8 == 0, "a value copy after a goc_ctx is 8-byte aligned");

typedef struct cancel_ctx {
	goc_ctx base;
	goc__lock lock;
	uint32_t err;                   /* goc_status; atomic, set once under lock */
	goc_chan *done;                 /* atomic; made on first goc_ctx_done */
	goc__list children;             /* lock: cancel_ctx.sibling */
	int64_t child_count;            /* lock */
	struct cancel_ctx *link_parent; /* constant */
	bool linked;                    /* link_parent->lock */
	goc__list_node sibling;         /* in link_parent->children; link_parent->lock */
	goc__list hooks;                /* lock: ctx_hook.link */
	bool timer_pending;             /* lock: armed and not yet stopped or fired */
	goc__rtimer timer;
	struct cancel_ctx *next_to_cancel; /* owned by the canceller that took it */
} cancel_ctx;

static goc_ctx background = {.kind = CTX_BACKGROUND, .deadline = NO_DEADLINE};

goc_ctx *goc_ctx_background(void)
{
	return &background;
}

static goc_ctx *checked(goc_ctx *ctx, const char *what)
{
	if (!ctx)
		goc__panic("%s: nil context", what);
	return ctx;
}

/* ---- references ---- */

goc_ctx *goc_ctx_retain(goc_ctx *ctx)
{
	if (ctx && ctx->kind != CTX_BACKGROUND)
		goc__fetch_add_relaxed(&ctx->refs, 1);
	return ctx;
}

/* A reference to a context found through a weak link, unless it is
 * already dying. */
static bool retain_unless_dying(goc_ctx *ctx)
{
	int64_t refs = goc__load_relaxed(&ctx->refs);
	while (refs > 0)
		if (goc__cas_acquire(&ctx->refs, &refs, refs + 1))
			return true;
	return false;
}

static void unlink_child(cancel_ctx *parent, cancel_ctx *child)
{
	goc__list_remove(&parent->children, &child->sibling);
	child->linked = false;
	parent->child_count--;
}

/* Takes c out of its parent's children list, if it is still there. */
static void detach(cancel_ctx *c)
{
	cancel_ctx *parent = c->link_parent;
	if (!parent)
		return;
	goc__lock_acquire(&parent->lock);
	if (c->linked)
		unlink_child(parent, c);
	goc__lock_release(&parent->lock);
}

/* Frees one node whose last reference is gone; its parent's reference is
 * dropped by the caller. Nobody can reach it but a canceller walking its
 * parent's list, which skips it, so only that list needs care. */
static void destroy(goc_ctx *ctx)
{
	if (ctx->kind == CTX_CANCEL) {
		cancel_ctx *c = (cancel_ctx *)ctx;
		detach(c);
		goc_chan_release(c->done);
	}
	free(ctx);
}

void goc_ctx_release(goc_ctx *ctx)
{
	/* A loop rather than recursion: dropping the last reference to the
	 * leaf of a long chain frees the whole chain. */
	while (ctx && ctx->kind != CTX_BACKGROUND) {
		int64_t left = goc__sub_fetch_acqrel(&ctx->refs, 1);
		if (left > 0)
			return;
		if (left < 0)
			goc__panic("goc_ctx_release: context released more often than retained");
		goc_ctx *parent = ctx->parent;
		destroy(ctx);
		ctx = parent;
	}
}

/* ---- cancellation ---- */

/*
 * Cancels root and everything below it with err. The caller holds a
 * reference to root. Children are taken from their parent's list under
 * the parent's lock, with a reference each, onto a worklist threaded
 * through next_to_cancel; each node is cancelled under its own lock and
 * its reference dropped. Every node of the tree gets root's err, as Go
 * propagates the parent's error.
 *
 * next_to_cancel belongs to the canceller that unlinked the node from its
 * parent (once, under the parent's lock). Root is not put on the list: a
 * context cancelled directly may at the same moment be on its parent's
 * canceller's list, and writing its link here would cut that list short.
 */
static void cancel_tree(cancel_ctx *root, goc_status err)
{
	cancel_ctx *work = NULL;
	cancel_ctx *c = root;
	while (c) {
		goc_chan *done = NULL;
		bool timer_stopped = false;
		goc__lock_acquire(&c->lock);
		if (c->err == GOC_OK) {
			goc__store_release(&c->err, err);
			done = c->done;
			for (goc__list_node *n = c->children.first; n;) {
				cancel_ctx *child = goc__list_entry(n, cancel_ctx, sibling);
				n = n->next; /* before the unlink */
				if (retain_unless_dying(&child->base)) {
					unlink_child(c, child);
					child->next_to_cancel = work;
					work = child;
				}
			}
			goc__list_node *n;
			while ((n = goc__list_pop_front(&c->hooks))) {
				ctx_hook *h = goc__list_entry(n, ctx_hook, link);
				h->registered = false;
				h->fire(h, err);
			}
			if (c->timer_pending) {
				c->timer_pending = false;
				timer_stopped = goc__rtimer_del(&c->timer);
			}
		}
		goc__lock_release(&c->lock);
		if (done)
			goc_chan_close(done);
		/* Neither release can be the last: root is held by the caller,
		 * every other node by the worklist until the line after. */
		if (timer_stopped)
			goc_ctx_release(&c->base);
		if (c != root)
			goc_ctx_release(&c->base);
		/* The next node is held by the worklist's reference. */
		c = work;
		if (c)
			work = c->next_to_cancel;
	}
}

void goc_ctx_cancel(goc_ctx *ctx)
{
	checked(ctx, "goc_ctx_cancel");
	if (ctx->kind != CTX_CANCEL)
		goc__panic("goc_ctx_cancel: context cannot be cancelled (it is the background or a "
			   "value context; cancel the context it was derived from)");
	cancel_ctx *c = (cancel_ctx *)ctx;
	cancel_tree(c, GOC_CANCELED);
	detach(c);
}

static void deadline_fired(goc__rtimer *t, int64_t now)
{
	(void)now;
	cancel_ctx *c = t->arg;
	cancel_tree(c, GOC_TIMEOUT);
	detach(c);
	goc_ctx_release(&c->base); /* the timer's reference */
}

/* ---- construction ---- */

static cancel_ctx *cancel_ctx_new(goc_ctx *parent, int64_t deadline)
{
	cancel_ctx *c = calloc(1, sizeof *c);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->base.refs = 1;
	c->base.kind = CTX_CANCEL;
	c->base.parent = goc_ctx_retain(parent);
	c->base.canceller = c;
	c->base.deadline = deadline < parent->deadline ? deadline : parent->deadline;
	c->link_parent = parent->canceller;
	/* Link below the parent's canceller, or be born cancelled with its
	 * error. A canceller that takes the parent's lock after this sees c
	 * in its list; one that took it before has set err, seen here. */
	cancel_ctx *above = c->link_parent;
	if (above) {
		goc__lock_acquire(&above->lock);
		c->err = above->err;
		if (c->err == GOC_OK) {
			goc__list_push_front(&above->children, &c->sibling);
			above->child_count++;
			c->linked = true;
		}
		goc__lock_release(&above->lock);
	}
	return c;
}

goc_ctx *goc_ctx_with_cancel(goc_ctx *parent)
{
	checked(parent, "goc_ctx_with_cancel");
	cancel_ctx *c = cancel_ctx_new(parent, NO_DEADLINE);
	return c ? &c->base : NULL;
}

goc_ctx *goc_ctx_with_deadline(goc_ctx *parent, int64_t deadline)
{
	checked(parent, "goc_ctx_with_deadline");
	if (deadline == GOC_NO_DEADLINE || parent->deadline <= deadline)
		return goc_ctx_with_cancel(parent); /* none, or the parent's timer comes first */
	cancel_ctx *c = cancel_ctx_new(parent, deadline);
	if (!c)
		return NULL;
	/* Acquire, without the lock: once linked, the parent's canceller
	 * may set err at any moment (the locked check below decides). */
	if (goc__load_acquire(&c->err) != GOC_OK)
		return &c->base;
	if (deadline <= goc_now()) {
		cancel_tree(c, GOC_TIMEOUT);
		detach(c);
		return &c->base;
	}
	goc__runtime_init();
	goc__m *m = goc__m_self();
	goc__p *p = m && m->p ? m->p : goc__sched.allp[0];
	c->timer.when = deadline;
	c->timer.fn = deadline_fired;
	c->timer.arg = c;
	goc__lock_acquire(&c->lock);
	/* A cancel through the parent may have come in since the link. */
	if (c->err == GOC_OK) {
		goc_ctx_retain(&c->base); /* the timer's reference */
		c->timer_pending = true;
		goc__rtimer_add(p, &c->timer);
	}
	goc__lock_release(&c->lock);
	return &c->base;
}

goc_ctx *goc_ctx_with_timeout(goc_ctx *parent, int64_t timeout)
{
	/* A delay, not a wait bound: <= 0 is a deadline already past, as in Go.
	 * A computed remaining time that went negative must time out, never
	 * mean "no deadline". */
	int64_t now = goc_now();
	if (timeout <= 0)
		return goc_ctx_with_deadline(parent, now > 1 ? now - 1 : 1);
	int64_t deadline = timeout > NO_DEADLINE - now ? NO_DEADLINE - 1 : now + timeout;
	return goc_ctx_with_deadline(parent, deadline);
}

/* A value node under parent with room for extra bytes after it (one
 * allocation, so destroy's free takes both); NULL with errno ENOMEM. */
static goc_ctx *value_node(goc_ctx *parent, const void *key, size_t extra)
{
	goc_ctx *v = calloc(1, sizeof *v + extra);
	if (!v) {
		errno = ENOMEM;
		return NULL;
	}
	v->refs = 1;
	v->kind = CTX_VALUE;
	v->parent = goc_ctx_retain(parent);
	v->canceller = parent->canceller;
	v->deadline = parent->deadline;
	v->key = key;
	return v;
}

goc_ctx *goc_ctx_with_value(goc_ctx *parent, const void *key, void *value)
{
	checked(parent, "goc_ctx_with_value");
	goc_ctx *v = value_node(parent, key, 0);
	if (v)
		v->value = value;
	return v;
}

goc_ctx *goc__ctx_with_value_copy(goc_ctx *parent, const void *key, const void *value, size_t size)
{
	checked(parent, "goc__ctx_with_value_copy");
	goc_ctx *v = value_node(parent, key, size);
	if (v)
		v->value = memcpy(v + 1, value, size);
	return v;
}

/* ---- queries ---- */

void *goc_ctx_value(goc_ctx *ctx, const void *key)
{
	for (checked(ctx, "goc_ctx_value"); ctx; ctx = ctx->parent)
		if (ctx->kind == CTX_VALUE && ctx->key == key)
			return ctx->value;
	return NULL;
}

goc_status goc_ctx_err(goc_ctx *ctx)
{
	cancel_ctx *c = checked(ctx, "goc_ctx_err")->canceller;
	/* Without the lock: err is written once, and a reader that misses
	 * a cancellation in progress is in the same position as one that
	 * asked a moment earlier. */
	return c ? (goc_status)goc__load_acquire(&c->err) : GOC_OK;
}

goc_chan *goc_ctx_done(goc_ctx *ctx)
{
	cancel_ctx *c = checked(ctx, "goc_ctx_done")->canceller;
	if (!c)
		return NULL;
	/* Fast path: done is stored once (release, after it is made, and
	 * closed if need be) and never changes. */
	goc_chan *done = goc__load_acquire(&c->done);
	if (done)
		return done;
	goc__lock_acquire(&c->lock);
	done = c->done;
	if (!done) {
		done = goc_chan_make(0, 0);
		if (!done)
			goc__fatal("out of memory making a context's done channel");
		if (c->err != GOC_OK)
			goc_chan_close(done); /* its canceller has been and gone */
		goc__store_release(&c->done, done);
	}
	goc__lock_release(&c->lock);
	return done;
}

bool goc_ctx_deadline(goc_ctx *ctx, int64_t *deadline)
{
	int64_t d = checked(ctx, "goc_ctx_deadline")->deadline;
	if (d == NO_DEADLINE)
		return false;
	if (deadline)
		*deadline = d;
	return true;
}

int64_t goc_ctx_child_count(goc_ctx *ctx)
{
	if (checked(ctx, "goc_ctx_child_count")->kind != CTX_CANCEL)
		return 0;
	cancel_ctx *c = (cancel_ctx *)ctx;
	goc__lock_acquire(&c->lock);
	int64_t n = c->child_count;
	goc__lock_release(&c->lock);
	return n;
}

/* ---- hooks (ctx.h) ---- */

goc_status goc__ctx_hook_add(goc_ctx *ctx, ctx_hook *hook)
{
	cancel_ctx *c = ctx->canceller;
	hook->owner = c;
	hook->registered = false;
	if (!c)
		return GOC_OK;
	goc__lock_acquire(&c->lock);
	goc_status err = c->err;
	if (err == GOC_OK) {
		goc__list_push_front(&c->hooks, &hook->link);
		hook->registered = true;
	}
	goc__lock_release(&c->lock);
	return err;
}

void goc__ctx_hook_remove(ctx_hook *hook)
{
	cancel_ctx *c = hook->owner;
	if (!c)
		return;
	/* Taken even when the hook has fired: a canceller may still be in
	 * fire (it holds the lock there), and the hook's memory must outlive
	 * that. */
	goc__lock_acquire(&c->lock);
	if (hook->registered) {
		goc__list_remove(&c->hooks, &hook->link);
		hook->registered = false;
	}
	goc__lock_release(&c->lock);
}

/* ---- channel operations with a context ---- */

/* Waits on c's case (cases[0]) and ctx's done channel; the caller has
 * checked that ctx is not cancelled yet. Returns GOC_OK when the channel
 * case won, else ctx's error. */
static goc_status select_with_ctx(goc_select_case *cases, goc_ctx *ctx)
{
	cases[1] = (goc_select_case){.chan = goc_ctx_done(ctx), .dir = GOC_SELECT_RECV};
	return goc_select(cases, 2, GOC_NO_TIMEOUT) == 0 ? GOC_OK : goc_ctx_err(ctx);
}

goc_status goc_chan_send_ctx(goc_chan *c, const void *elem, goc_ctx *ctx)
{
	if (!ctx) {
		goc_chan_send(c, elem);
		return GOC_OK;
	}
	goc_status err = goc_ctx_err(ctx);
	if (err != GOC_OK)
		return err;
	goc_select_case cases[2] = {{.chan = c, .dir = GOC_SELECT_SEND, .elem = (void *)elem}};
	return select_with_ctx(cases, ctx);
}

goc_status goc_chan_recv_ctx(goc_chan *c, void *elem, goc_ctx *ctx)
{
	if (!ctx)
		return goc_chan_recv(c, elem);
	goc_status err = goc_ctx_err(ctx);
	if (err != GOC_OK)
		return err;
	goc_select_case cases[2] = {{.chan = c, .dir = GOC_SELECT_RECV, .elem = elem}};
	err = select_with_ctx(cases, ctx);
	if (err == GOC_OK && !cases[0].ok)
		return GOC_CLOSED;
	return err;
}
