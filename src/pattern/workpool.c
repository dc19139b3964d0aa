/*
 * workpool.c — goc_workpool: worker goroutines fed through a bounded
 * queue, with an overflow policy, scaling between min and max workers, and
 * a graceful stop.
 *
 *   submit --> [ idle worker? hand the task to it directly          ]
 *              [ else queue (ring of queue_size tasks), maybe spawn  ]
 *              [ full: BLOCK parks in `blocked`, REJECT / DROP_NEWEST ]
 *              [ refuse, DROP_OLDEST evicts the head to on_drop      ]
 *   worker  --> pop the head (admitting the first blocked submitter's
 *               task into the freed slot), run it, repeat; with nothing
 *               queued, wait on the idle stack, with a timeout if the
 *               pool has more than min_workers.
 *
 * p->lock protects everything but the constants set by goc_workpool_new;
 * it is never held while user code (a task, on_drop) runs. Invariants,
 * whenever the lock is free:
 *  - idle workers exist only while the queue is empty (a worker idles
 *    only after finding it empty, and submit hands a task to an idle
 *    worker before it would queue one);
 *  - blocked submitters exist only while the queue is full (a worker that
 *    frees a slot moves the first one's task in);
 *  - queued tasks exist only while workers > 0 (submit spawns one when
 *    there is none, and refuses the task if it cannot);
 *  - submitted == done + rejected + dropped + discarded + queued + running.
 *
 * Idle workers wait on a worker record of their own: a claimer (submit,
 * stop) takes the record off the idle stack under the lock, stores the
 * task in it (or none, for stop) and wakes the worker, exactly once per
 * claim. A worker the pool keeps anyway (workers <= min_workers) parks
 * with the pool lock as its unlock step and is readied directly. One that
 * may time out waits in a goc_select on its wake channel, which supplies
 * the timeout, and is woken by a token posted there; if its timeout races
 * with a claim, it finds itself claimed and takes the token. The idle
 * stack is LIFO: the most recently idle worker (warm in cache) gets the
 * next task, and the ones at the bottom are those that time out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../ctx/ctx.h"

#define DEFAULT_QUEUE_SIZE 128
#define DEFAULT_IDLE_TIMEOUT GOC_SECOND
#define DEFAULT_SCALE_UP_WAIT GOC_MILLISECOND

typedef struct task {
	goc_fn fn;
	void *arg;
	int64_t queued_at; /* goc_now() when it entered the queue */
} task;

/* A worker goroutine's record (heap, freed by the worker as it leaves). */
typedef struct worker {
	goc_workpool *pool;
	goc__g *g;      /* the worker's goroutine */
	goc_chan *wake; /* zero-size elements, capacity 1 */
	struct worker *next_idle;
	bool timed;   /* lock: idle with a timeout, woken through `wake` */
	bool claimed; /* lock: taken off the idle stack by a claimer */
	task handed;  /* lock: the claimer's task (fn NULL: none) */
} worker;

enum submit_state { SUBMIT_NEW, SUBMIT_BLOCKED, SUBMIT_ACCEPTED, SUBMIT_CLOSED, SUBMIT_CANCELED };

/* A BLOCK-policy submitter waiting for room, on its own stack. */
typedef struct blocked_submit {
	goc__g *g;
	goc_workpool *pool;
	task t;
	goc__list_node link;     /* in pool->blocked while SUBMIT_BLOCKED; lock */
	enum submit_state state; /* lock */
	goc_status err;
	ctx_hook hook;
} blocked_submit;

struct goc_workpool {
	goc__lock lock;
	/* Constants. */
	int min_workers, max_workers;
	size_t queue_size, scale_up_depth;
	goc_workpool_policy policy;
	int64_t idle_timeout, scale_up_wait;
	void (*on_drop)(goc_fn fn, void *arg, void *user);
	void *on_drop_user;
	char name[32];
	/* The queue: a ring of queue_size tasks. */
	task *ring;
	size_t head, count;
	worker *idle;      /* LIFO stack through next_idle */
	goc__list blocked; /* BLOCK submitters waiting for room, FIFO (blocked_submit.link) */
	bool stopping;
	goc_workpool_stats stats;
	goc_wg worker_exits; /* counts live workers; stop waits on it */
};

/* ---- the queue (lock held) ---- */

static void queue_push(goc_workpool *p, task t)
{
	p->ring[(p->head + p->count) % p->queue_size] = t;
	p->count++;
	p->stats.queued++;
}

static task queue_pop(goc_workpool *p)
{
	task t = p->ring[p->head];
	p->head = (p->head + 1) % p->queue_size;
	p->count--;
	p->stats.queued--;
	return t;
}

/* ---- workers ---- */

static void worker_main(void *arg);

/* Starts a worker: 0, or -ENOMEM or -EAGAIN (goc_go's errors) if it could
 * not. Lock held. */
static int spawn_worker_locked(goc_workpool *p)
{
	worker *w = calloc(1, sizeof *w);
	goc_chan *wake = goc_chan_make(0, 1);
	if (!w || !wake) {
		free(w);
		goc_chan_release(wake);
		return -ENOMEM;
	}
	w->pool = p;
	w->wake = wake;
	goc_wg_add(&p->worker_exits, 1);
	goc_go_options opts = {.name = p->name};
	int64_t id = goc_go_opts(worker_main, w, &opts);
	if (id < 0) {
		goc_wg_done(&p->worker_exits);
		goc_chan_release(wake);
		free(w);
		return (int)id;
	}
	p->stats.workers++;
	p->stats.workers_started++;
	if (p->stats.workers > p->stats.peak_workers)
		p->stats.peak_workers = p->stats.workers;
	return 0;
}

/* Hands t (fn NULL: nothing, just wake up) to the idle worker on top of
 * the stack. Lock held: a parked worker joined the stack in its park's
 * unlock step, so it is off its stack when seen here; a timed one needs
 * the lock to leave, so its channel is still there for the token. */
static void claim_idle_locked(goc_workpool *p, task t)
{
	worker *w = p->idle;
	p->idle = w->next_idle;
	p->stats.idle_workers--;
	w->claimed = true;
	w->handed = t;
	if (t.fn)
		p->stats.running++;
	if (w->timed)
		goc_chan_try_send(w->wake, NULL);
	else
		goc__ready(w->g);
}

/*
 * Waits, lock held on entry and on return, until the worker is claimed or
 * times out. Returns false if it should leave (timed out while the pool has
 * more than min_workers); else *t is the task handed to it, if any.
 */
static bool idle_wait(goc_workpool *p, worker *w, task *t)
{
	w->claimed = false;
	w->handed = (task){0};
	w->next_idle = p->idle;
	p->idle = w;
	p->stats.idle_workers++;
	w->timed = p->stats.workers > p->min_workers && p->idle_timeout >= 0;
	if (!w->timed) {
		goc__park(goc__park_unlock_lock, &p->lock, WAIT_CHAN_RECV);
		goc__lock_acquire(&p->lock);
		*t = w->handed;
		return true;
	}
	goc__lock_release(&p->lock);
	goc_select_case wake = {.chan = w->wake, .dir = GOC_SELECT_RECV};
	int woken = goc_select(&wake, 1, p->idle_timeout);
	goc__lock_acquire(&p->lock);
	if (woken < 0) {
		if (!w->claimed) {
			worker **link = &p->idle;
			while (*link != w)
				link = &(*link)->next_idle;
			*link = w->next_idle;
			p->stats.idle_workers--;
			*t = (task){0};
			return p->stats.workers <= p->min_workers;
		}
		/* Claimed as the timeout fired: the token is in the channel. */
		goc_chan_try_recv(w->wake, NULL);
	}
	*t = w->handed;
	return true;
}

/* Moves the first blocked submitter's task into the queue (a slot was just
 * freed); returns the submitter to ready once the lock is released. */
static blocked_submit *admit_blocked_locked(goc_workpool *p)
{
	goc__list_node *n = goc__list_pop_front(&p->blocked);
	if (!n)
		return NULL;
	blocked_submit *b = goc__list_entry(n, blocked_submit, link);
	b->t.queued_at = goc_now();
	queue_push(p, b->t);
	p->stats.submitted++;
	b->state = SUBMIT_ACCEPTED;
	return b;
}

static void worker_main(void *arg)
{
	worker *w = arg;
	goc_workpool *p = w->pool;
	w->g = goc__g_self();
	goc__lock_acquire(&p->lock);
	for (;;) {
		task t;
		blocked_submit *admitted = NULL;
		if (p->count > 0) {
			t = queue_pop(p);
			p->stats.running++;
			admitted = admit_blocked_locked(p);
			/* Tasks are waiting too long: another hand, if allowed. */
			if (p->count > 0 && p->stats.workers < p->max_workers &&
			    goc_now() - t.queued_at >= p->scale_up_wait)
				spawn_worker_locked(p);
		} else if (p->stopping) {
			break;
		} else {
			if (!idle_wait(p, w, &t))
				break;
			if (!t.fn)
				continue;
		}
		goc__lock_release(&p->lock);
		if (admitted)
			goc__ready(admitted->g);
		t.fn(t.arg);
		goc__lock_acquire(&p->lock);
		p->stats.running--;
		p->stats.done++;
	}
	p->stats.workers--;
	p->stats.workers_exited++;
	goc__lock_release(&p->lock);
	goc_chan_release(w->wake);
	free(w);
	goc_wg_done(&p->worker_exits);
}

/* ---- creation ---- */

goc_workpool *goc_workpool_new(const goc_workpool_options *opts)
{
	goc_workpool_options o = opts ? *opts : (goc_workpool_options){0};
	if (o.min_workers < 0 || o.max_workers < 0 || o.scale_up_wait < 0 ||
	    (unsigned)o.policy > GOC_WORKPOOL_DROP_OLDEST ||
	    (o.max_workers && o.max_workers < o.min_workers)) {
		errno = EINVAL;
		return NULL;
	}
	goc_workpool *p = calloc(1, sizeof *p);
	size_t queue_size = o.queue_size ? o.queue_size : DEFAULT_QUEUE_SIZE;
	task *ring = p ? calloc(queue_size, sizeof *ring) : NULL;
	if (!ring) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->ring = ring;
	p->queue_size = queue_size;
	p->min_workers = o.min_workers;
	p->max_workers = o.max_workers ? o.max_workers : goc_maxprocs(0);
	if (p->max_workers < p->min_workers)
		p->max_workers = p->min_workers;
	if (p->max_workers < 1)
		p->max_workers = 1;
	p->policy = o.policy;
	p->idle_timeout = o.idle_timeout ? o.idle_timeout : DEFAULT_IDLE_TIMEOUT;
	p->scale_up_depth = o.scale_up_depth ? o.scale_up_depth : 1;
	p->scale_up_wait = o.scale_up_wait ? o.scale_up_wait : DEFAULT_SCALE_UP_WAIT;
	p->on_drop = o.on_drop;
	p->on_drop_user = o.on_drop_user;
	strncpy(p->name, o.name ? o.name : "workpool", sizeof p->name - 1);
	goc_wg_init(&p->worker_exits);
	goc__lock_acquire(&p->lock);
	int err = 0;
	while (!err && p->stats.workers < p->min_workers)
		err = spawn_worker_locked(p);
	goc__lock_release(&p->lock);
	if (err) {
		goc_workpool_free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

static goc_workpool *checked(goc_workpool *p, const char *what)
{
	if (!p)
		goc__panic("%s: nil work pool", what);
	return p;
}

/* ---- submitting ---- */

/* The context of a blocked submitter was cancelled (its lock held). */
static void cancel_blocked(ctx_hook *hook, goc_status err)
{
	blocked_submit *b = (blocked_submit *)((char *)hook - offsetof(blocked_submit, hook));
	goc_workpool *p = b->pool;
	bool wake = false;
	goc__lock_acquire(&p->lock);
	if (b->state == SUBMIT_NEW || b->state == SUBMIT_BLOCKED) {
		if (b->state == SUBMIT_BLOCKED) {
			goc__list_remove(&p->blocked, &b->link);
			p->stats.submitted++;
			p->stats.rejected++;
			wake = true;
		}
		b->state = SUBMIT_CANCELED;
		b->err = err;
	}
	goc__lock_release(&p->lock);
	if (wake)
		goc__ready(b->g);
}

/* What a submit decided, lock held. */
enum placement { PLACED, REFUSED_FULL, EVICTED, NEEDS_WAIT, NO_WORKER, STOPPED };

/* NO_WORKER stores goc_go's error in *spawn_err. */
static enum placement place_locked(goc_workpool *p, task t, task *evicted, int *spawn_err)
{
	if (p->stopping)
		return STOPPED;
	if (p->idle) {
		p->stats.submitted++;
		claim_idle_locked(p, t);
		return PLACED;
	}
	if (p->count == p->queue_size) {
		switch (p->policy) {
		case GOC_WORKPOOL_BLOCK:
			return NEEDS_WAIT;
		case GOC_WORKPOOL_REJECT:
			p->stats.submitted++;
			p->stats.rejected++;
			return REFUSED_FULL;
		case GOC_WORKPOOL_DROP_NEWEST:
			p->stats.submitted++;
			p->stats.dropped++;
			return REFUSED_FULL;
		case GOC_WORKPOOL_DROP_OLDEST:
			*evicted = queue_pop(p);
			p->stats.dropped++;
			t.queued_at = goc_now();
			queue_push(p, t);
			p->stats.submitted++;
			return EVICTED;
		}
	}
	bool want_worker = p->stats.workers == 0 ||
		(p->stats.workers < p->max_workers && p->count + 1 >= p->scale_up_depth);
	if (want_worker && (*spawn_err = spawn_worker_locked(p)) != 0 && p->stats.workers == 0) {
		p->stats.submitted++;
		p->stats.rejected++;
		return NO_WORKER;
	}
	t.queued_at = goc_now();
	queue_push(p, t);
	p->stats.submitted++;
	return PLACED;
}

goc_status goc_workpool_submit_ctx(goc_workpool *p, goc_fn fn, void *arg, goc_ctx *ctx)
{
	checked(p, "goc_workpool_submit");
	if (!fn)
		goc__panic("goc_workpool_submit: nil function");
	task t = {.fn = fn, .arg = arg};
	task evicted = {0};
	blocked_submit b = {.pool = p, .t = t, .hook.fire = cancel_blocked};
	bool hooked = false;
	goc__lock_acquire(&p->lock);
	for (;;) {
		int spawn_err = 0;
		enum placement placed = place_locked(p, t, &evicted, &spawn_err);
		if (placed != NEEDS_WAIT) {
			goc__lock_release(&p->lock);
			goc__ctx_hook_remove(&b.hook);
			switch (placed) {
			case PLACED:
				return GOC_OK;
			case EVICTED:
				if (p->on_drop)
					p->on_drop(evicted.fn, evicted.arg, p->on_drop_user);
				return GOC_OK;
			case REFUSED_FULL:
				return GOC_WOULDBLOCK;
			case NO_WORKER:
				return spawn_err;
			default:
				return GOC_CLOSED;
			}
		}
		if (b.state == SUBMIT_CANCELED) {
			p->stats.submitted++;
			p->stats.rejected++;
			goc__lock_release(&p->lock);
			goc__ctx_hook_remove(&b.hook);
			return b.err;
		}
		if (!ctx || hooked)
			break;
		/* The hook goes in with no pool lock held (lock order:
		 * context, then pool); then everything is decided again. */
		goc__lock_release(&p->lock);
		goc_status err = goc__ctx_hook_add(ctx, &b.hook);
		hooked = true;
		goc__lock_acquire(&p->lock);
		if (err != GOC_OK) {
			b.state = SUBMIT_CANCELED;
			b.err = err;
		}
	}
	b.g = goc__g_self();
	b.state = SUBMIT_BLOCKED;
	goc__list_push_back(&p->blocked, &b.link);
	goc__park(goc__park_unlock_lock, &p->lock, WAIT_SEMACQUIRE);
	goc__ctx_hook_remove(&b.hook);
	switch (b.state) {
	case SUBMIT_ACCEPTED:
		return GOC_OK;
	case SUBMIT_CANCELED:
		return b.err;
	default:
		return GOC_CLOSED;
	}
}

goc_status goc_workpool_submit(goc_workpool *p, goc_fn fn, void *arg)
{
	return goc_workpool_submit_ctx(p, fn, arg, NULL);
}

/* ---- stopping ---- */

int64_t goc_workpool_stop(goc_workpool *p, goc_ctx *ctx)
{
	checked(p, "goc_workpool_stop");
	goc__lock_acquire(&p->lock);
	p->stopping = true;
	goc__list closed = p->blocked;
	goc__list_for_each (n, &closed)
		goc__list_entry(n, blocked_submit, link)->state = SUBMIT_CLOSED;
	p->blocked = (goc__list){0};
	while (p->idle)
		claim_idle_locked(p, (task){0});
	goc__lock_release(&p->lock);
	for (goc__list_node *n = closed.first; n;) {
		blocked_submit *b = goc__list_entry(n, blocked_submit, link);
		n = n->next; /* before: the record lives on the submitter's stack */
		goc__ready(b->g);
	}
	if (goc_wg_wait_ctx(&p->worker_exits, ctx) == GOC_OK)
		return 0;
	/* Cancelled: what is still queued will not run. Workers finish the
	 * tasks they are running and leave once the queue is empty. */
	int64_t discarded = 0;
	for (;;) {
		goc__lock_acquire(&p->lock);
		if (p->count == 0) {
			goc__lock_release(&p->lock);
			break;
		}
		task t = queue_pop(p);
		p->stats.discarded++;
		goc__lock_release(&p->lock);
		discarded++;
		if (p->on_drop)
			p->on_drop(t.fn, t.arg, p->on_drop_user);
	}
	goc_wg_wait(&p->worker_exits);
	return discarded;
}

void goc_workpool_stats_read(goc_workpool *p, goc_workpool_stats *out)
{
	checked(p, "goc_workpool_stats_read");
	goc__lock_acquire(&p->lock);
	*out = p->stats;
	goc__lock_release(&p->lock);
}

void goc_workpool_free(goc_workpool *p)
{
	if (!p)
		return;
	goc__lock_acquire(&p->lock);
	bool stopped = p->stopping;
	goc__lock_release(&p->lock);
	if (!stopped)
		goc_workpool_stop(p, NULL);
	/* A concurrent stop may still be waiting; the workers are gone once
	 * the wait group is at zero. */
	goc_wg_wait(&p->worker_exits);
	free(p->ring);
	free(p);
}
