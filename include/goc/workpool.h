/*
 * goc/workpool.h — goc_workpool, a worker pool with backpressure.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * A pool runs submitted tasks (fn(arg)) on worker goroutines: between
 * min_workers and max_workers of them, fed through a bounded queue. When
 * the queue is full the overflow policy decides; when tasks queue up the
 * pool adds workers, and workers idle for longer than the idle timeout
 * leave again (down to min_workers).
 *
 *     goc_workpool_options o = {.max_workers = 8, .queue_size = 64,
 *                               .policy = GOC_WORKPOOL_REJECT};
 *     goc_workpool *pool = goc_workpool_new(&o);
 *     if (goc_workpool_submit(pool, handle, req) != GOC_OK)
 *         reply_busy(req);                // rejected: req is still ours
 *     ...
 *     goc_workpool_stop(pool, NULL);      // runs what is queued, then returns
 *     goc_workpool_free(pool);
 *
 * Nothing submitted is lost silently. The task's arg belongs to the pool
 * exactly when submit returned GOC_OK; from then on the pool either runs
 * the task or, if it throws it away (evicted by DROP_OLDEST, or left
 * queued by a stop whose context ended), hands it to on_drop so its
 * argument can be freed. Every other outcome is a return status of
 * submit, and everything is counted.
 */
#ifndef GOC_WORKPOOL_H
#define GOC_WORKPOOL_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/workpool.h>"
#endif

typedef struct goc_workpool goc_workpool;

/* What submit does when the queue is full. */
typedef enum goc_workpool_policy {
	GOC_WORKPOOL_BLOCK = 0,   /* wait for room (or the context, see submit_ctx) */
	GOC_WORKPOOL_REJECT,      /* refuse the task: GOC_WOULDBLOCK, counted as rejected */
	GOC_WORKPOOL_DROP_NEWEST, /* refuse the task: GOC_WOULDBLOCK, counted as dropped */
	GOC_WORKPOOL_DROP_OLDEST, /* queue it, evicting the oldest queued task to on_drop */
} goc_workpool_policy;

/* Options of goc_workpool_new; zero-initialise and set what you need.
 * A zero field takes the default in brackets. */
typedef struct goc_workpool_options {
	int min_workers;   /* workers kept even when idle [0] */
	int max_workers;   /* at most this many [GOCMAXPROCS] */
	size_t queue_size; /* tasks that may wait for a worker [128] */
	goc_workpool_policy policy;
	/* A worker beyond min_workers that found no task for this long
	 * leaves [1 s]; GOC_NO_TIMEOUT: workers never leave. */
	int64_t idle_timeout;
	/* Scaling up: a submit that queues a task behind busy workers adds a
	 * worker when the queue holds at least scale_up_depth tasks [1], and
	 * a worker that takes a task which waited at least scale_up_wait
	 * adds one while more are queued [1 ms]. Never beyond max_workers. */
	size_t scale_up_depth;
	int64_t scale_up_wait;
	/* Called (on the goroutine that threw it away, with no pool lock
	 * held) with every accepted task the pool will not run. May be NULL:
	 * such tasks are then only counted. */
	void (*on_drop)(goc_fn fn, void *arg, void *user);
	void *on_drop_user;
	/* Workers' goroutine name in dumps ["workpool"]; copied. */
	const char *name;
} goc_workpool_options;

/* Counters. At any instant when no submit is in progress:
 *   submitted == done + rejected + dropped + discarded + queued + running */
typedef struct goc_workpool_stats {
	int64_t submitted; /* tasks offered to the running pool (not those after stop) */
	int64_t done;      /* tasks run to completion */
	int64_t rejected; /* refused by REJECT, or a blocked submit whose context ended, or no worker could start */
	int64_t dropped;   /* refused by DROP_NEWEST, or evicted by DROP_OLDEST */
	int64_t discarded; /* left queued by a stop whose context ended */
	int64_t queued;    /* waiting in the queue now */
	int64_t running;   /* being run now */
	int workers;       /* worker goroutines now */
	int idle_workers;  /* of which waiting for a task */
	int peak_workers;  /* the most at any time */
	int64_t workers_started, workers_exited;
} goc_workpool_stats;

/* A pool with its min_workers started; never parks. opts NULL: the
 * defaults. NULL with errno = EINVAL (min_workers < 0, max_workers < 0,
 * max_workers < min_workers, a negative scale_up_wait or an unknown policy),
 * ENOMEM, or EAGAIN (the goroutine limit stopped a worker from starting). */
goc_workpool *goc_workpool_new(const goc_workpool_options *opts);

/*
 * Submits fn(arg). GOC_OK: accepted (queued, or handed to an idle worker).
 * With a full queue, by policy: BLOCK waits for room; REJECT and
 * DROP_NEWEST return GOC_WOULDBLOCK; DROP_OLDEST returns GOC_OK after
 * evicting the oldest queued task (to on_drop). GOC_CLOSED: the pool is
 * stopping or stopped. -ENOMEM or -EAGAIN (goc_go's errors): the pool has
 * no worker and none could be started. fn NULL panics.
 */
goc_status goc_workpool_submit(goc_workpool *p, goc_fn fn, void *arg);

/* goc_workpool_submit whose BLOCK wait gives up when ctx is cancelled,
 * returning goc_ctx_err(ctx) (the task is then counted as rejected). */
goc_status goc_workpool_submit_ctx(goc_workpool *p, goc_fn fn, void *arg, goc_ctx *ctx);

/*
 * Stops the pool: submits from now on return GOC_CLOSED (blocked ones
 * too), the workers run what is queued and leave, and stop returns when
 * all have left. If ctx (may be NULL) is cancelled first, the tasks still
 * queued are discarded (each handed to on_drop), running tasks finish,
 * and the number discarded is returned; 0 means everything ran. An
 * already-cancelled ctx stops at once. Calling it again waits again.
 */
int64_t goc_workpool_stop(goc_workpool *p, goc_ctx *ctx);

/* Reads the counters (under the pool's lock: one consistent snapshot). */
void goc_workpool_stats_read(goc_workpool *p, goc_workpool_stats *out);

/* Stops the pool (draining it, if no stop was made) and frees it. NULL is
 * ignored. */
void goc_workpool_free(goc_workpool *p);

#endif /* GOC_WORKPOOL_H */
