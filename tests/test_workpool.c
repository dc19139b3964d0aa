/*
 * test_workpool.c — goc_workpool:
 *
 *  - every overflow policy on a pool whose one worker is held by a gate,
 *    with exact counters: REJECT and DROP_NEWEST refuse with
 *    GOC_WOULDBLOCK, DROP_OLDEST evicts the oldest queued tasks to on_drop
 *    (in order), BLOCK waits for room, gives up with its context, and is
 *    woken with GOC_CLOSED by a stop;
 *  - autoscaling: workers grow to max while tasks queue (by depth, and by
 *    waiting time alone) and shrink back to min after the idle timeout;
 *  - stop: draining runs everything; a cancelled (or timing out) context
 *    discards what is still queued, reports it to on_drop and returns the
 *    count; submit after stop is GOC_CLOSED;
 *  - stress: submitters racing under DROP_OLDEST: every task is run or
 *    dropped exactly once, and the counters add up;
 *  - misuse (a NULL task) panics, in a child process.
 */
#include <errno.h>
#include <string.h>

#include "panic_modes.h"
#include "waitfor.h"

/* Tasks record that they ran, by index. */
struct tally {
	int64_t ran[256];     /* atomic: times task i ran */
	int64_t dropped[256]; /* atomic: times task i went to on_drop */
	int64_t order[256];   /* the order tasks ran in (one worker) */
	int64_t ran_count;    /* atomic */
};

struct job {
	struct tally *tally;
	int index;
	goc_chan *gate; /* if set: wait for it to close first */
	int64_t sleep;
};

static void run_job(void *arg)
{
	struct job *j = arg;
	if (j->gate)
		goc_chan_recv(j->gate, NULL);
	if (j->sleep)
		goc_sleep(j->sleep);
	__atomic_add_fetch(&j->tally->ran[j->index], 1, __ATOMIC_SEQ_CST);
	int64_t slot = __atomic_fetch_add(&j->tally->ran_count, 1, __ATOMIC_SEQ_CST);
	if (slot < 256)
		j->tally->order[slot] = j->index;
}

static void on_drop(goc_fn fn, void *arg, void *user)
{
	CHECK(fn == run_job, "on_drop got another function");
	struct job *j = arg;
	CHECK(user == j->tally, "on_drop user");
	__atomic_add_fetch(&j->tally->dropped[j->index], 1, __ATOMIC_SEQ_CST);
}

static goc_workpool_stats stats_of(goc_workpool *p)
{
	goc_workpool_stats s;
	goc_workpool_stats_read(p, &s);
	return s;
}

static void check_balance(goc_workpool *p, const char *what)
{
	goc_workpool_stats s = stats_of(p);
	CHECK(s.submitted == s.done + s.rejected + s.dropped + s.discarded + s.queued + s.running,
	      "%s: submitted %lld != done %lld + rejected %lld + dropped %lld + discarded %lld + "
	      "queued %lld + running %lld",
	      what, (long long)s.submitted, (long long)s.done, (long long)s.rejected,
	      (long long)s.dropped, (long long)s.discarded, (long long)s.queued,
	      (long long)s.running);
}

/* One worker, a queue of 4, the worker held on a gate by job 0. */
struct gated {
	goc_workpool *pool;
	goc_chan *gate;
	struct tally tally;
	struct job jobs[16];
};

static void gated_start(struct gated *g, goc_workpool_policy policy)
{
	memset(&g->tally, 0, sizeof g->tally);
	goc_workpool_options o = {.min_workers = 1,
				  .max_workers = 1,
				  .queue_size = 4,
				  .policy = policy,
				  .on_drop = on_drop,
				  .on_drop_user = &g->tally};
	g->pool = goc_workpool_new(&o);
	CHECK(g->pool, "new");
	g->gate = goc_chan_make(0, 0);
	for (int i = 0; i < 16; i++)
		g->jobs[i] = (struct job){&g->tally, i, i == 0 ? g->gate : NULL, 0};
	CHECK(goc_workpool_submit(g->pool, run_job, &g->jobs[0]) == GOC_OK, "job 0");
	/* The worker must have taken job 0 (it may not even have started when
	 * job 0 was queued) before jobs 1-4 fill the queue of 4. */
	WAIT_FOR(stats_of(g->pool).running == 1 && stats_of(g->pool).queued == 0,
		 "the worker did not take job 0");
	for (int i = 1; i <= 4; i++)
		CHECK(goc_workpool_submit(g->pool, run_job, &g->jobs[i]) == GOC_OK, "job %d", i);
	goc_workpool_stats s = stats_of(g->pool);
	CHECK(s.running == 1 && s.queued == 4 && s.workers == 1, "running %lld queued %lld",
	      (long long)s.running, (long long)s.queued);
}

/* Drains and frees the pool (the gate open); returns its final counters. */
static goc_workpool_stats gated_finish(struct gated *g)
{
	CHECK(goc_workpool_stop(g->pool, NULL) == 0, "drain discarded tasks");
	check_balance(g->pool, "after stop");
	goc_workpool_stats s = stats_of(g->pool);
	CHECK(s.workers == 0 && s.queued == 0 && s.running == 0, "after stop: %d workers",
	      s.workers);
	CHECK(goc_workpool_submit(g->pool, run_job, &g->jobs[15]) == GOC_CLOSED,
	      "submit after stop");
	CHECK(stats_of(g->pool).submitted == s.submitted, "a refused-after-stop task was counted");
	goc_workpool_free(g->pool);
	goc_chan_release(g->gate);
	return s;
}

static void refusing_policies(void)
{
	static struct gated g;
	goc_workpool_policy policies[2] = {GOC_WORKPOOL_REJECT, GOC_WORKPOOL_DROP_NEWEST};
	for (int k = 0; k < 2; k++) {
		gated_start(&g, policies[k]);
		for (int i = 5; i < 8; i++)
			CHECK(goc_workpool_submit(g.pool, run_job, &g.jobs[i]) == GOC_WOULDBLOCK,
			      "job %d accepted by a full queue", i);
		check_balance(g.pool, "full");
		goc_chan_close(g.gate);
		goc_workpool_stats s = gated_finish(&g);
		CHECK(s.submitted == 8 && s.done == 5, "submitted %lld done %lld",
		      (long long)s.submitted, (long long)s.done);
		CHECK(k == 0 ? s.rejected == 3 && s.dropped == 0
			     : s.rejected == 0 && s.dropped == 3,
		      "rejected %lld dropped %lld", (long long)s.rejected, (long long)s.dropped);
		for (int i = 0; i < 8; i++)
			CHECK(g.tally.ran[i] == (i < 5) && g.tally.dropped[i] == 0, "job %d", i);
	}
	ok("REJECT and DROP_NEWEST refuse with GOC_WOULDBLOCK, counted");
}

static void drop_oldest(void)
{
	static struct gated g;
	gated_start(&g, GOC_WORKPOOL_DROP_OLDEST);
	for (int i = 5; i < 8; i++)
		CHECK(goc_workpool_submit(g.pool, run_job, &g.jobs[i]) == GOC_OK, "job %d refused",
		      i);
	/* Jobs 1, 2 and 3 were the oldest queued: evicted to on_drop. */
	for (int i = 1; i < 8; i++)
		CHECK(g.tally.dropped[i] == (i <= 3), "job %d dropped %lld times", i,
		      (long long)g.tally.dropped[i]);
	goc_chan_close(g.gate);
	goc_workpool_stats s = gated_finish(&g);
	CHECK(s.submitted == 8 && s.done == 5 && s.dropped == 3 && s.rejected == 0,
	      "submitted %lld done %lld dropped %lld", (long long)s.submitted, (long long)s.done,
	      (long long)s.dropped);
	int64_t want[5] = {0, 4, 5, 6, 7};
	for (int i = 0; i < 5; i++)
		CHECK(g.tally.order[i] == want[i], "run %d was job %lld", i,
		      (long long)g.tally.order[i]);
	ok("DROP_OLDEST evicts the oldest to on_drop, in order");
}

/* Stops a pool from a goroutine of its own (stop waits for the running
 * tasks, which the test may still hold on a gate). */
struct stopper {
	goc_workpool *pool;
	goc_ctx *ctx;
	int64_t discarded;
	goc_wg finished;
	int returned; /* atomic: stop returned (discarded is set) */
};

static void stop_in_goroutine(void *arg)
{
	struct stopper *st = arg;
	st->discarded = goc_workpool_stop(st->pool, st->ctx);
	__atomic_store_n(&st->returned, 1, __ATOMIC_SEQ_CST);
	goc_wg_done(&st->finished);
}

struct submitter {
	goc_workpool *pool;
	struct job *job;
	goc_ctx *ctx;
	goc_status got;
	goc_wg *finished;
	int started;  /* atomic: about to submit */
	int returned; /* atomic: the submit returned (got is set) */
};

static void submit_blocking(void *arg)
{
	struct submitter *s = arg;
	__atomic_store_n(&s->started, 1, __ATOMIC_SEQ_CST);
	s->got = goc_workpool_submit_ctx(s->pool, run_job, s->job, s->ctx);
	__atomic_store_n(&s->returned, 1, __ATOMIC_SEQ_CST);
	goc_wg_done(s->finished);
}

static int returned(struct submitter *s)
{
	return __atomic_load_n(&s->returned, __ATOMIC_SEQ_CST);
}

/* Starts s and waits until it is parked in submit (or has returned). */
static void start_submitter(struct submitter *s)
{
	goc_go(submit_blocking, s);
	WAIT_FOR(__atomic_load_n(&s->started, __ATOMIC_SEQ_CST) && (others_parked() || returned(s)),
		 "a submitter did not block");
}

static void block_policy(void)
{
	static struct gated g;
	gated_start(&g, GOC_WORKPOOL_BLOCK);
	goc_wg finished = GOC_WG_INIT;
	struct submitter sub[3] = {{g.pool, &g.jobs[5], NULL, -1, &finished, 0, 0},
				   {g.pool, &g.jobs[6], NULL, -1, &finished, 0, 0},
				   {g.pool, &g.jobs[7], NULL, -1, &finished, 0, 0}};
	goc_wg_add(&finished, 3);
	/* Queued in index order, each parked before the next starts; the
	 * middle one gives up when its timeout fires (made just before it
	 * starts, long enough that it normally blocks first). */
	start_submitter(&sub[0]);
	goc_ctx *timeout = goc_ctx_with_timeout(goc_ctx_background(), 20 * GOC_MILLISECOND);
	sub[1].ctx = timeout;
	start_submitter(&sub[1]);
	WAIT_FOR(returned(&sub[1]), "the submit with a timeout did not give up");
	start_submitter(&sub[2]);
	/* Both are parked, the worker held by the gate: nothing can admit them. */
	CHECK(!returned(&sub[0]) && !returned(&sub[2]), "a blocked submit returned");
	CHECK(sub[1].got == GOC_TIMEOUT, "the submit with a context: %d", sub[1].got);
	goc_workpool_stats s = stats_of(g.pool);
	CHECK(s.submitted == 6 && s.rejected == 1 && s.queued == 4, "blocked: submitted %lld",
	      (long long)s.submitted);
	check_balance(g.pool, "blocked");
	goc_chan_close(g.gate);
	goc_wg_wait(&finished); /* admitted as the worker frees slots */
	s = gated_finish(&g);
	CHECK(sub[0].got == GOC_OK && sub[2].got == GOC_OK, "blocked submits: %d %d", sub[0].got,
	      sub[2].got);
	CHECK(s.submitted == 8 && s.done == 7 && s.rejected == 1, "done %lld", (long long)s.done);
	CHECK(g.tally.ran[5] == 1 && g.tally.ran[6] == 0 && g.tally.ran[7] == 1,
	      "blocked jobs ran");
	goc_ctx_release(timeout);

	/* A stop wakes blocked submitters with GOC_CLOSED. The stop runs
	 * while the gate still holds the worker (so it cannot return yet),
	 * with the submitter parked before it. */
	gated_start(&g, GOC_WORKPOOL_BLOCK);
	sub[0] = (struct submitter){g.pool, &g.jobs[5], NULL, -1, &finished, 0, 0};
	goc_wg_add(&finished, 1);
	start_submitter(&sub[0]);
	CHECK(!returned(&sub[0]), "a submit to a full queue returned: %d", sub[0].got);
	struct stopper st = {g.pool, NULL, -1, GOC_WG_INIT, 0};
	goc_wg_add(&st.finished, 1);
	goc_go(stop_in_goroutine, &st);
	WAIT_FOR(returned(&sub[0]), "stop did not wake the blocked submitter");
	CHECK(sub[0].got == GOC_CLOSED, "blocked submit at stop: %d", sub[0].got);
	CHECK(!__atomic_load_n(&st.returned, __ATOMIC_SEQ_CST),
	      "stop returned while a task was running");
	goc_chan_close(g.gate);
	goc_wg_wait(&st.finished);
	CHECK(st.discarded == 0, "drain discarded %lld", (long long)st.discarded);
	goc_wg_wait(&finished);
	check_balance(g.pool, "stopped");
	goc_workpool_stats s2 = stats_of(g.pool);
	CHECK(s2.submitted == 5 && s2.done == 5,
	      "a submit closed by stop was counted: submitted %lld", (long long)s2.submitted);
	goc_workpool_free(g.pool);
	goc_chan_release(g.gate);
	ok("BLOCK waits for room, gives up with its context, is released by stop");
}

static void autoscale(void)
{
	static struct tally tally;
	static struct job jobs[40];
	memset(&tally, 0, sizeof tally);
	const int64_t idle_timeout = 50 * GOC_MILLISECOND;
	goc_workpool_options o = {
		.min_workers = 1, .max_workers = 4, .queue_size = 64, .idle_timeout = idle_timeout};
	goc_workpool *p = goc_workpool_new(&o);
	CHECK(stats_of(p).workers == 1, "min workers at start");
	/* The jobs wait on a gate, so none finishes (and no worker idles)
	 * while they are submitted: each submit that queues a job behind busy
	 * workers must add one, up to the max. */
	goc_chan *gate = goc_chan_make(0, 0);
	for (int i = 0; i < 20; i++) {
		jobs[i] = (struct job){&tally, i, gate, 3 * GOC_MILLISECOND};
		CHECK(goc_workpool_submit(p, run_job, &jobs[i]) == GOC_OK, "submit");
	}
	goc_workpool_stats s = stats_of(p);
	CHECK(s.workers == 4 && s.peak_workers == 4, "queue depth: %d workers", s.workers);
	WAIT_FOR(stats_of(p).running == 4, "%lld of 4 workers running",
		 (long long)stats_of(p).running);
	/* No worker can be idle before the gate opens (16 jobs are queued), so
	 * none may leave before t0 + idle_timeout. */
	int64_t t0 = goc_now();
	goc_chan_close(gate);
	for (;;) {
		s = stats_of(p);
		int64_t seen_by = goc_now();
		if (seen_by >= t0 + idle_timeout)
			break;
		CHECK(s.workers_exited == 0,
		      "a worker left %lld ms after the gate opened, before the "
		      "idle timeout of %lld ms",
		      (long long)((seen_by - t0) / GOC_MILLISECOND),
		      (long long)(idle_timeout / GOC_MILLISECOND));
		goc_sleep(GOC_MILLISECOND);
	}
	WAIT_FOR(stats_of(p).done == 20, "done %lld of 20", (long long)stats_of(p).done);
	WAIT_FOR(stats_of(p).workers == 1, "%d workers left after idling", stats_of(p).workers);
	s = stats_of(p);
	CHECK(s.workers == 1 && s.workers_exited == 3, "after idling: %d workers, %lld exited",
	      s.workers, (long long)s.workers_exited);
	/* A chance for a bug to take the last one too (the keeper must not
	 * time out at all). */
	goc_sleep(3 * idle_timeout);
	CHECK(stats_of(p).workers == 1, "went below min_workers");
	goc_workpool_free(p);
	goc_chan_release(gate);

	/* By waiting time only: the depth trigger is out of reach. Job 0
	 * holds the only worker on a gate until the queued jobs have waited
	 * longer than scale_up_wait: the worker that takes the next one adds
	 * a worker, which does the same, up to the max. */
	memset(&tally, 0, sizeof tally);
	o = (goc_workpool_options){.min_workers = 1,
				   .max_workers = 3,
				   .queue_size = 64,
				   .scale_up_depth = 1000,
				   .scale_up_wait = GOC_MILLISECOND};
	p = goc_workpool_new(&o);
	gate = goc_chan_make(0, 0);
	for (int i = 0; i < 40; i++) {
		jobs[i] = (struct job){&tally, i, i == 0 ? gate : NULL, 2 * GOC_MILLISECOND};
		CHECK(goc_workpool_submit(p, run_job, &jobs[i]) == GOC_OK, "submit");
	}
	goc_sleep(2 * GOC_MILLISECOND); /* at least: the queued jobs have waited over 1 ms */
	goc_chan_close(gate);
	goc_workpool_stop(p, NULL);
	s = stats_of(p);
	CHECK(s.done == 40 && s.peak_workers == 3, "waiting time: peak %d workers", s.peak_workers);
	goc_workpool_free(p);
	goc_chan_release(gate);
	ok("autoscaling up (depth, waiting time) and down (idle timeout)");
}

static void stop_with_queue(void)
{
	static struct gated g;
	/* A cancelled context: the four queued are discarded to on_drop; the
	 * running one finishes before stop returns. */
	gated_start(&g, GOC_WORKPOOL_BLOCK);
	goc_ctx *cancelled = goc_ctx_with_cancel(goc_ctx_background());
	goc_ctx_cancel(cancelled);
	struct stopper st = {g.pool, cancelled, -1, GOC_WG_INIT, 0};
	goc_wg_add(&st.finished, 1);
	goc_go(stop_in_goroutine, &st);
	/* on_drop runs after the counters change: wait for it. */
	WAIT_FOR(__atomic_load_n(&g.tally.dropped[1], __ATOMIC_SEQ_CST) +
				 __atomic_load_n(&g.tally.dropped[2], __ATOMIC_SEQ_CST) +
				 __atomic_load_n(&g.tally.dropped[3], __ATOMIC_SEQ_CST) +
				 __atomic_load_n(&g.tally.dropped[4], __ATOMIC_SEQ_CST) ==
			 4,
		 "the stop did not discard the queue");
	CHECK(!__atomic_load_n(&st.returned, __ATOMIC_SEQ_CST),
	      "stop returned while a task was running");
	goc_workpool_stats s = stats_of(g.pool);
	CHECK(s.discarded == 4 && s.queued == 0 && s.running == 1, "discarded %lld queued %lld",
	      (long long)s.discarded, (long long)s.queued);
	for (int i = 1; i <= 4; i++)
		CHECK(g.tally.dropped[i] == 1 && g.tally.ran[i] == 0, "job %d", i);
	goc_chan_close(g.gate);
	goc_wg_wait(&st.finished);
	CHECK(st.discarded == 4, "stop reported %lld discarded", (long long)st.discarded);
	s = stats_of(g.pool);
	CHECK(s.done == 1 && s.submitted == 5 && s.workers == 0, "done %lld", (long long)s.done);
	check_balance(g.pool, "cancelled stop");
	goc_workpool_free(g.pool);
	goc_chan_release(g.gate);
	goc_ctx_release(cancelled);

	/* A timeout in the middle of the drain: what ran plus what was
	 * discarded is everything. The stop starts after the first job ran
	 * (so not everything is discarded), and job 58 waits on a gate that
	 * opens only once the stop has discarded something (so the drain
	 * cannot finish before the timeout, however late its timer fires). */
	static struct tally tally;
	static struct job jobs[60];
	memset(&tally, 0, sizeof tally);
	goc_workpool_options o = {.min_workers = 1,
				  .max_workers = 1,
				  .queue_size = 64,
				  .on_drop = on_drop,
				  .on_drop_user = &tally};
	goc_workpool *p = goc_workpool_new(&o);
	goc_chan *gate = goc_chan_make(0, 0);
	for (int i = 0; i < 60; i++) {
		jobs[i] = (struct job){&tally, i, i == 58 ? gate : NULL, GOC_MILLISECOND};
		CHECK(goc_workpool_submit(p, run_job, &jobs[i]) == GOC_OK, "submit");
	}
	WAIT_FOR(stats_of(p).done >= 1, "the worker ran nothing");
	goc_ctx *timeout = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_MILLISECOND);
	struct stopper st2 = {p, timeout, -1, GOC_WG_INIT, 0};
	goc_wg_add(&st2.finished, 1);
	goc_go(stop_in_goroutine, &st2);
	WAIT_FOR(stats_of(p).discarded > 0 && stats_of(p).queued == 0,
		 "the timeout discarded nothing");
	goc_chan_close(gate);
	goc_wg_wait(&st2.finished);
	int64_t discarded = st2.discarded;
	s = stats_of(p);
	CHECK(discarded > 0 && discarded < 60 && s.discarded == discarded &&
		      s.done + discarded == 60,
	      "done %lld + discarded %lld", (long long)s.done, (long long)discarded);
	for (int i = 0; i < 60; i++)
		CHECK(tally.ran[i] + tally.dropped[i] == 1, "job %d ran %lld, dropped %lld", i,
		      (long long)tally.ran[i], (long long)tally.dropped[i]);
	goc_workpool_free(p);
	goc_ctx_release(timeout);
	goc_chan_release(gate);

	/* Draining runs everything. */
	memset(&tally, 0, sizeof tally);
	p = goc_workpool_new(&o);
	for (int i = 0; i < 20; i++) {
		jobs[i] = (struct job){&tally, i, NULL, 100 * GOC_MICROSECOND};
		goc_workpool_submit(p, run_job, &jobs[i]);
	}
	CHECK(goc_workpool_stop(p, NULL) == 0, "drain discarded");
	CHECK(stats_of(p).done == 20 && tally.ran_count == 20, "drain ran %lld",
	      (long long)tally.ran_count);
	goc_workpool_free(p);
	ok("stop: drain runs everything, a cancelled context discards the queue");
}

/* ---- stress ---- */

enum { STRESS_SUBMITTERS = 4, STRESS_TASKS = 256 / STRESS_SUBMITTERS };

struct stress_submitter {
	goc_workpool *pool;
	struct job *jobs; /* STRESS_TASKS of them */
	goc_wg *finished;
};

static void stress_submit(void *arg)
{
	struct stress_submitter *s = arg;
	for (int i = 0; i < STRESS_TASKS; i++) {
		CHECK(goc_workpool_submit(s->pool, run_job, &s->jobs[i]) == GOC_OK, "submit");
		if (i % 8 == 0)
			goc_yield();
	}
	goc_wg_done(s->finished);
}

static void stress(void)
{
	static struct tally tally;
	static struct job jobs[256];
	long rounds = test_size(50, 10, 5);
	for (long r = 0; r < rounds; r++) {
		memset(&tally, 0, sizeof tally);
		goc_workpool_options o = {.max_workers = 3,
					  .queue_size = 8,
					  .policy = GOC_WORKPOOL_DROP_OLDEST,
					  .idle_timeout = GOC_MILLISECOND,
					  .on_drop = on_drop,
					  .on_drop_user = &tally};
		goc_workpool *p = goc_workpool_new(&o);
		struct stress_submitter sub[STRESS_SUBMITTERS];
		goc_wg finished = GOC_WG_INIT;
		goc_wg_add(&finished, STRESS_SUBMITTERS);
		for (int i = 0; i < 256; i++)
			jobs[i] = (struct job){&tally, i, NULL,
					       i % 16 == 0 ? 50 * GOC_MICROSECOND : 0};
		for (int i = 0; i < STRESS_SUBMITTERS; i++) {
			sub[i] = (struct stress_submitter){p, &jobs[i * STRESS_TASKS], &finished};
			goc_go(stress_submit, &sub[i]);
		}
		goc_wg_wait(&finished);
		check_balance(p, "stress, running");
		goc_workpool_stop(p, NULL);
		goc_workpool_stats s = stats_of(p);
		CHECK(s.submitted == 256 && s.done + s.dropped == 256 && s.rejected == 0,
		      "round %ld: done %lld dropped %lld", r, (long long)s.done,
		      (long long)s.dropped);
		for (int i = 0; i < 256; i++)
			CHECK(tally.ran[i] + tally.dropped[i] == 1,
			      "round %ld: job %d ran %lld, dropped %lld", r, i,
			      (long long)tally.ran[i], (long long)tally.dropped[i]);
		CHECK(s.peak_workers <= 3, "peak %d", s.peak_workers);
		goc_workpool_free(p);
	}
	ok("stress: every task run or dropped exactly once");
}

/* goc_workpool_new never parks, so errno is read on the thread it was set
 * on; this runs first, before the main goroutine has parked at all. */
static void bad_options(void)
{
	goc_workpool_options o = {.min_workers = 4, .max_workers = 2};
	CHECK(goc_workpool_new(&o) == NULL && errno == EINVAL, "max < min");
	o = (goc_workpool_options){.policy = (goc_workpool_policy)9};
	CHECK(goc_workpool_new(&o) == NULL && errno == EINVAL, "unknown policy");
	o = (goc_workpool_options){.scale_up_wait = -1};
	CHECK(goc_workpool_new(&o) == NULL && errno == EINVAL, "negative scale_up_wait");
	goc_workpool *p = goc_workpool_new(NULL);
	CHECK(p && stats_of(p).workers == 0, "defaults: no workers until needed");
	goc_workpool_free(p);
	ok("bad options are EINVAL");
}

static void main_g(void *arg)
{
	(void)arg;
	bad_options();
	refusing_policies();
	drop_oldest();
	block_policy();
	autoscale();
	stop_with_queue();
	stress();
}

static void mode_nil_task(void *arg)
{
	(void)arg;
	goc_workpool_submit(goc_workpool_new(NULL), NULL, NULL);
}

static const struct panic_mode modes[] = {
	{"nil_task", mode_nil_task, "panic: goc_workpool_submit: nil function"},
};

int main(int argc, char **argv)
{
	return panic_modes_main(argc, argv, main_g, modes, sizeof modes / sizeof modes[0]);
}
