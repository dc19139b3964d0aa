/*
 * test_ctx_tree.c — the context tree: cancellation flows down through deep
 * and wide trees (iteratively: a 10,000-level chain is cancelled from a
 * goroutine's 64 KiB stack), cancelled children detach from their parent,
 * children of cancelled parents are born cancelled, values are found
 * through the chain by key identity, references keep contexts alive for
 * goroutines after their creator let go (LeakSanitizer checks that
 * everything is freed), creating children races cleanly with
 * cancelling their parent, and so does cancelling some children directly. Misuse (cancel of the background or of a value
 * context, a nil parent) panics, in a child process.
 */
#include <pthread.h>

#include "panic_modes.h"

static void expect_closed(goc_ctx *ctx, const char *what)
{
	goc_chan *done = goc_ctx_done(ctx);
	CHECK(done != NULL, "%s: no done channel", what);
	CHECK(goc_chan_try_recv(done, NULL) == GOC_CLOSED, "%s: done channel not closed", what);
}

static void expect_open(goc_ctx *ctx, const char *what)
{
	CHECK(goc_ctx_err(ctx) == GOC_OK, "%s: err %d", what, goc_ctx_err(ctx));
	CHECK(goc_chan_try_recv(goc_ctx_done(ctx), NULL) == GOC_WOULDBLOCK, "%s: done ready", what);
}

static void background_and_cancel(void)
{
	goc_ctx *bg = goc_ctx_background();
	CHECK(goc_ctx_err(bg) == GOC_OK, "background err");
	CHECK(goc_ctx_done(bg) == NULL, "background has a done channel");
	CHECK(!goc_ctx_deadline(bg, NULL), "background has a deadline");
	CHECK(goc_ctx_retain(bg) == bg, "retain");
	goc_ctx_release(bg);
	goc_ctx_release(NULL);

	goc_ctx *c = goc_ctx_with_cancel(bg);
	CHECK(c && c != bg, "with_cancel");
	expect_open(c, "fresh");
	CHECK(!goc_ctx_deadline(c, NULL), "cancel context has a deadline");
	goc_ctx_cancel(c);
	CHECK(goc_ctx_err(c) == GOC_CANCELED, "err after cancel: %d", goc_ctx_err(c));
	expect_closed(c, "after cancel");
	goc_ctx_cancel(c); /* twice: harmless */
	CHECK(goc_ctx_err(c) == GOC_CANCELED, "err after second cancel");

	goc_ctx *born = goc_ctx_with_cancel(c);
	CHECK(goc_ctx_err(born) == GOC_CANCELED, "child of a cancelled parent: %d",
	      goc_ctx_err(born));
	expect_closed(born, "born cancelled");
	CHECK(goc_ctx_child_count(c) == 0, "a born-cancelled child is not linked");
	goc_ctx_release(born);
	goc_ctx_release(c);
	ok("background; cancel; born cancelled");
}

/* A goroutine that waits on a context it holds a reference to. */
struct waiter {
	goc_ctx *ctx;
	goc_wg *finished;
	goc_status seen;
};

static void wait_done(void *arg)
{
	struct waiter *w = arg;
	goc_chan_recv(goc_ctx_done(w->ctx), NULL);
	w->seen = goc_ctx_err(w->ctx);
	goc_ctx_release(w->ctx);
	goc_wg_done(w->finished);
}

/* A chain of depth levels under a cancel root, a value context at every
 * third level and cancel contexts between; the deepest is watched by a
 * goroutine; cancelling the root reaches it. Runs on an ordinary goroutine
 * (64 KiB of stack), so nothing in creation, cancellation or release may
 * recurse per level. */
struct deep {
	long depth;
	goc_wg *finished;
};

static void deep_chain(void *arg)
{
	struct deep *d = arg;
	long depth = d->depth;
	goc_ctx *root = goc_ctx_with_cancel(goc_ctx_background());
	goc_ctx **chain = calloc((size_t)depth, sizeof *chain);
	goc_ctx *parent = root;
	static const char key = 0;
	for (long i = 0; i < depth; i++) {
		chain[i] = i % 3 == 1 ? goc_ctx_with_value(parent, &key, (void *)(intptr_t)i)
				      : goc_ctx_with_cancel(parent);
		CHECK(chain[i], "level %ld", i);
		parent = chain[i];
	}
	long nearest = depth - 1;
	while (nearest % 3 != 1)
		nearest--;
	CHECK((intptr_t)goc_ctx_value(chain[depth - 1], &key) == nearest, "nearest value");
	goc_wg finished = GOC_WG_INIT;
	struct waiter w = {.ctx = goc_ctx_retain(chain[depth - 1]), .finished = &finished};
	goc_wg_add(&finished, 1);
	goc_go(wait_done, &w);
	CHECK(goc_ctx_child_count(root) == 1, "root has %lld children",
	      (long long)goc_ctx_child_count(root));
	goc_ctx_cancel(root);
	goc_wg_wait(&finished);
	CHECK(w.seen == GOC_CANCELED, "deepest saw %d", w.seen);
	for (long i = 0; i < depth; i++) {
		CHECK(goc_ctx_err(chain[i]) == GOC_CANCELED, "level %ld not cancelled", i);
		CHECK(goc_ctx_child_count(chain[i]) == 0, "level %ld still has children", i);
	}
	/* Released top-down, each node stays alive through its child's
	 * reference until the bottom goes, which frees the whole chain. */
	goc_ctx_release(root);
	for (long i = 0; i < depth; i++)
		goc_ctx_release(chain[i]);
	free(chain);
	goc_wg_done(d->finished);
}

static void run_deep_chain(void)
{
	goc_wg finished = GOC_WG_INIT;
	struct deep d = {10000, &finished};
	goc_wg_add(&finished, 1);
	goc_go(deep_chain, &d);
	goc_wg_wait(&finished);
	ok("a 10,000-level chain is cancelled from its root");
}

/* A wide tree: fanout children, each with fanout grandchildren, every one
 * watched by a goroutine. */
static void wide_tree(void)
{
	long fanout = test_size(100, 60, 40);
	long n = fanout + fanout * fanout;
	goc_ctx *root = goc_ctx_with_cancel(goc_ctx_background());
	struct waiter *w = calloc((size_t)n, sizeof *w);
	goc_ctx **nodes = calloc((size_t)n, sizeof *nodes);
	goc_wg finished = GOC_WG_INIT;
	goc_wg_add(&finished, n);
	long k = 0;
	for (long i = 0; i < fanout; i++) {
		goc_ctx *child = goc_ctx_with_cancel(root);
		nodes[k] = child;
		w[k] = (struct waiter){goc_ctx_retain(child), &finished, GOC_OK};
		goc_go(wait_done, &w[k++]);
		for (long j = 0; j < fanout; j++) {
			nodes[k] = goc_ctx_with_cancel(child);
			w[k] = (struct waiter){goc_ctx_retain(nodes[k]), &finished, GOC_OK};
			goc_go(wait_done, &w[k++]);
		}
		CHECK(goc_ctx_child_count(child) == fanout, "child %ld has %lld children", i,
		      (long long)goc_ctx_child_count(child));
	}
	CHECK(goc_ctx_child_count(root) == fanout, "root has %lld children",
	      (long long)goc_ctx_child_count(root));
	goc_ctx_cancel(root);
	goc_wg_wait(&finished);
	for (long i = 0; i < n; i++) {
		CHECK(w[i].seen == GOC_CANCELED, "node %ld saw %d", i, w[i].seen);
		goc_ctx_release(nodes[i]);
	}
	CHECK(goc_ctx_child_count(root) == 0, "cancelled root keeps children");
	goc_ctx_release(root);
	free(w);
	free(nodes);
	ok("a wide tree: every watcher woken by one cancel");
}

static void detach(void)
{
	enum { N = 100 };
	goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
	goc_ctx *value = goc_ctx_with_value(parent, "k", "v");
	goc_ctx *kids[N];
	for (int i = 0; i < N; i++)
		kids[i] = goc_ctx_with_cancel(i % 2 ? value
						    : parent); /* through a value context too */
	CHECK(goc_ctx_child_count(parent) == N, "%lld children",
	      (long long)goc_ctx_child_count(parent));
	CHECK(goc_ctx_child_count(value) == 0, "a value context links nothing");
	for (int i = 0; i < N / 2; i++)
		goc_ctx_cancel(kids[i]);
	CHECK(goc_ctx_child_count(parent) == N - N / 2, "after cancelling half: %lld",
	      (long long)goc_ctx_child_count(parent));
	expect_open(parent, "parent of cancelled children");
	/* Released without a cancel: the weak link goes with the last
	 * reference. */
	for (int i = N / 2; i < N - 10; i++)
		goc_ctx_release(kids[i]);
	CHECK(goc_ctx_child_count(parent) == 10, "after releasing: %lld",
	      (long long)goc_ctx_child_count(parent));
	goc_ctx_cancel(parent);
	for (int i = N - 10; i < N; i++)
		CHECK(goc_ctx_err(kids[i]) == GOC_CANCELED, "kid %d", i);
	for (int i = 0; i < N / 2; i++)
		goc_ctx_release(kids[i]);
	for (int i = N - 10; i < N; i++)
		goc_ctx_release(kids[i]);
	goc_ctx_release(value);
	goc_ctx_release(parent);
	ok("cancelled and released children detach from their parent");
}

static void values(void)
{
	static const int key_a = 0, key_b = 0;
	int va = 1, vb = 2, va2 = 3;
	goc_ctx *a = goc_ctx_with_value(goc_ctx_background(), &key_a, &va);
	goc_ctx *c = goc_ctx_with_cancel(a);
	goc_ctx *b = goc_ctx_with_value(c, &key_b, &vb);
	goc_ctx *a2 = goc_ctx_with_value(b, &key_a, &va2);
	CHECK(goc_ctx_value(b, &key_a) == &va, "a through b");
	CHECK(goc_ctx_value(b, &key_b) == &vb, "b");
	CHECK(goc_ctx_value(a2, &key_a) == &va2, "shadowed");
	CHECK(goc_ctx_value(c, &key_b) == NULL, "b is below c");
	int other = 0;
	CHECK(goc_ctx_value(a2, &other) == NULL, "keys compare by identity");
	CHECK(goc_ctx_value(goc_ctx_background(), &key_a) == NULL, "background");
	goc_ctx_cancel(c);
	CHECK(goc_ctx_err(a2) == GOC_CANCELED && goc_ctx_err(a) == GOC_OK, "value contexts follow");
	CHECK(goc_ctx_done(a) == NULL, "a value context of the background cannot be cancelled");
	expect_closed(a2, "value context below a cancelled one");
	/* Dropping the leaf first frees the chain bottom-up in one call. */
	goc_ctx_release(a);
	goc_ctx_release(c);
	goc_ctx_release(b);
	goc_ctx_release(a2);
	ok("values through the chain, keys by identity");
}

/* Cancels ctx once the creator has let go of its references. Both are
 * the goroutine's own references; the struct is the creator's, read
 * before the cancel lets the creator return. */
struct late_cancel {
	goc_ctx *ctx;
	goc_chan *released; /* closed once the creator has let go */
};

static void late_cancel(void *arg)
{
	struct late_cancel l = *(struct late_cancel *)arg;
	goc_chan_recv(l.released, NULL);
	goc_chan_release(l.released);
	goc_ctx_cancel(l.ctx);
	goc_ctx_release(l.ctx);
}

static void references(void)
{
	goc_wg finished = GOC_WG_INIT;
	goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
	goc_ctx *ctx = goc_ctx_with_cancel(parent);
	struct waiter w = {goc_ctx_retain(ctx), &finished, GOC_OK};
	goc_wg_add(&finished, 1);
	goc_go(wait_done, &w);
	goc_chan *released = goc_chan_make(0, 0);
	struct late_cancel l = {goc_ctx_retain(parent), goc_chan_retain(released)};
	goc_go(late_cancel, &l);
	goc_ctx_release(ctx); /* the creator lets go; the goroutine holds on */
	goc_ctx_release(parent);
	goc_chan_close(released); /* only now is the context cancelled */
	goc_chan_release(released);
	goc_wg_wait(&finished);
	CHECK(w.seen == GOC_CANCELED, "held context saw %d", w.seen);
	ok("a goroutine's reference outlives its creator's");
}

/* Children created while their parent is cancelled: each ends up
 * cancelled, whichever side wins. */
struct racer {
	goc_ctx *parent;
	goc_wg *finished;
	int made;
};

static void make_children(void *arg)
{
	struct racer *r = arg;
	for (int i = 0; i < 200; i++) {
		goc_ctx *child = goc_ctx_with_cancel(r->parent);
		goc_ctx *grandchild = goc_ctx_with_timeout(child, GOC_HOUR);
		goc_yield();
		goc_chan_recv(goc_ctx_done(grandchild), NULL);
		CHECK(goc_ctx_err(child) == GOC_CANCELED && goc_ctx_err(grandchild) == GOC_CANCELED,
		      "child %d: %d %d", i, goc_ctx_err(child), goc_ctx_err(grandchild));
		goc_ctx_release(grandchild);
		goc_ctx_release(child);
		r->made++;
		if (i == 10)
			goc_yield();
	}
	goc_wg_done(r->finished);
}

static void create_cancel_race(void)
{
	long rounds = test_size(50, 10, 10);
	for (long round = 0; round < rounds; round++) {
		goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
		goc_wg finished = GOC_WG_INIT;
		struct racer r[4];
		goc_wg_add(&finished, 4);
		for (int i = 0; i < 4; i++) {
			r[i] = (struct racer){parent, &finished, 0};
			goc_go(make_children, &r[i]);
		}
		goc_yield();
		goc_ctx_cancel(parent);
		goc_wg_wait(&finished);
		CHECK(goc_ctx_child_count(parent) == 0, "children left linked");
		goc_ctx_release(parent);
	}
	ok("creating children races cleanly with cancelling the parent");
}

/* ---- cancelling a parent and its children at once ---- */

#define SIBLINGS 32

struct sibling_canceller {
	goc_ctx **children;
	bool descending;
	int ready, go, finished; /* atomic */
};

/* A plain thread, so that it truly runs beside the goroutine cancelling
 * the parent: spins until told, then cancels the even children directly
 * (in either order, to run ahead of the parent's canceller whichever way
 * it walks); the odd ones are left to the parent's cancel. */
static void *cancel_children(void *arg)
{
	struct sibling_canceller *sc = arg;
	__atomic_store_n(&sc->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&sc->go, __ATOMIC_SEQ_CST))
		;
	for (int k = 0; k < SIBLINGS; k += 2)
		goc_ctx_cancel(sc->children[sc->descending ? SIBLINGS - 2 - k : k]);
	__atomic_store_n(&sc->finished, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * The parent's canceller takes the children onto its worklist while a
 * thread cancels half of them directly; every child must
 * end up cancelled and closed (a direct cancel once reset the link its
 * parent's canceller was about to follow, and the siblings behind it
 * stayed live; TSan reported the race).
 */
static void cancel_parent_and_children_race(void)
{
	long rounds = test_size(2000, 300, 100);
	for (long round = 0; round < rounds; round++) {
		goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
		goc_ctx *children[SIBLINGS];
		for (int i = 0; i < SIBLINGS; i++)
			children[i] = goc_ctx_with_cancel(parent);
		struct sibling_canceller sc = {.children = children, .descending = round % 2};
		pthread_t t;
		CHECK(pthread_create(&t, NULL, cancel_children, &sc) == 0, "thread");
		while (!__atomic_load_n(&sc.ready, __ATOMIC_SEQ_CST))
			;
		__atomic_store_n(&sc.go, 1, __ATOMIC_SEQ_CST);
		goc_ctx_cancel(parent);
		while (!__atomic_load_n(&sc.finished, __ATOMIC_SEQ_CST))
			goc_yield();
		pthread_join(t, NULL);
		for (int i = 0; i < SIBLINGS; i++) {
			CHECK(goc_ctx_err(children[i]) == GOC_CANCELED,
			      "round %ld: child %d not cancelled", round, i);
			expect_closed(children[i], "sibling");
			goc_ctx_release(children[i]);
		}
		CHECK(goc_ctx_child_count(parent) == 0, "children left linked");
		goc_ctx_release(parent);
	}
	ok("cancelling a parent and its children at once cancels them all");
}

static void main_g(void *arg)
{
	(void)arg;
	background_and_cancel();
	run_deep_chain();
	wide_tree();
	detach();
	values();
	references();
	create_cancel_race();
	cancel_parent_and_children_race();
}

/* ---- misuse, each in a child process ---- */

static void mode_cancel_background(void *arg)
{
	(void)arg;
	goc_ctx_cancel(goc_ctx_background());
}

static void mode_cancel_value(void *arg)
{
	(void)arg;
	goc_ctx_cancel(goc_ctx_with_value(goc_ctx_background(), "k", NULL));
}

static void mode_nil_parent(void *arg)
{
	(void)arg;
	goc_ctx_with_cancel(NULL);
}

static const struct panic_mode modes[] = {
	{"cancel_background", mode_cancel_background,
	 "panic: goc_ctx_cancel: context cannot be cancelled"},
	{"cancel_value", mode_cancel_value, "panic: goc_ctx_cancel: context cannot be cancelled"},
	{"nil_parent", mode_nil_parent, "panic: goc_ctx_with_cancel: nil context"},
};

int main(int argc, char **argv)
{
	return panic_modes_main(argc, argv, main_g, modes, sizeof modes / sizeof modes[0]);
}
