/*
 * test_sema.c — goc_sema, the weighted semaphore:
 *
 *  - acquire / try_acquire / release arithmetic, -EINVAL for a weight
 *    over the size;
 *  - FIFO: waiters are granted in arrival order, and a big waiter at the
 *    head holds back smaller ones that would fit;
 *  - a context cancelled while waiting: the waiter returns its error, no
 *    permit is lost or leaked, and a cancelled head lets the next ones in;
 *    a timeout; a context cancelled before the call;
 *  - stress: goroutines and plain threads acquiring random weights with
 *    random cancellations never hold more than the size, and every permit
 *    comes back;
 *  - misuse panics (release of more than held, negative weight), in a
 *    child process.
 */
#include <errno.h>
#include <pthread.h>

#include "panic_modes.h"
#include "waitfor.h"

static void basics(void)
{
	goc_sema s = GOC_SEMA_INIT(5);
	CHECK(goc_sema_acquire(&s, NULL, 3) == GOC_OK, "acquire 3");
	CHECK(!goc_sema_try_acquire(&s, 3), "try 3 of 2 free");
	CHECK(goc_sema_try_acquire(&s, 2), "try 2 of 2 free");
	CHECK(!goc_sema_try_acquire(&s, 1), "none free");
	goc_sema_release(&s, 5);
	CHECK(s.held == 0, "held %lld", (long long)s.held);
	CHECK(goc_sema_acquire(&s, NULL, 6) == -EINVAL, "weight over the size");
	CHECK(!goc_sema_try_acquire(&s, 6), "try weight over the size");
	CHECK(goc_sema_acquire(&s, NULL, 0) == GOC_OK, "weight 0");
	goc_sema dyn;
	goc_sema_init(&dyn, 1);
	CHECK(goc_sema_try_acquire(&dyn, 1) && !goc_sema_try_acquire(&dyn, 1), "init");
	goc_sema_release(&dyn, 1);
	ok("acquire, try, release");
}

/* FIFO: each waiter marks itself granted; the test checks which set of
 * waiters has been granted after each release. */
struct fifo_waiter {
	goc_sema *s;
	int64_t weight;
	int granted; /* atomic */
	goc_wg *finished;
	int started; /* atomic: about to acquire */
};

static void fifo_acquire(void *arg)
{
	struct fifo_waiter *w = arg;
	__atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
	CHECK(goc_sema_acquire(w->s, NULL, w->weight) == GOC_OK, "acquire");
	__atomic_store_n(&w->granted, 1, __ATOMIC_SEQ_CST);
	goc_wg_done(w->finished);
}

enum { FIFO_WAITERS = 6 };

static int granted_count(struct fifo_waiter *w)
{
	int n = 0;
	for (int i = 0; i < FIFO_WAITERS; i++)
		n += __atomic_load_n(&w[i].granted, __ATOMIC_SEQ_CST);
	return n;
}

/* Waits until the waiters that should get in have, and until everything
 * has settled (every waiter parked or gone, so one granted out of turn
 * would have marked itself by now); then checks exactly which got in. */
static void expect_granted(struct fifo_waiter *w, int first_n, const char *when)
{
	WAIT_FOR(granted_count(w) >= first_n && others_parked(), "%s: %d of %d granted", when,
		 granted_count(w), first_n);
	for (int i = 0; i < FIFO_WAITERS; i++)
		CHECK(__atomic_load_n(&w[i].granted, __ATOMIC_SEQ_CST) == (i < first_n),
		      "%s: waiter %d %s", when, i,
		      i < first_n ? "not granted" : "granted out of turn");
}

static void fifo(void)
{
	goc_sema s = GOC_SEMA_INIT(10);
	CHECK(goc_sema_acquire(&s, NULL, 10) == GOC_OK, "take all");
	int64_t weights[FIFO_WAITERS] = {2, 9, 1, 1, 3, 1};
	struct fifo_waiter w[FIFO_WAITERS];
	goc_wg finished = GOC_WG_INIT;
	goc_wg_add(&finished, FIFO_WAITERS);
	for (int i = 0; i < FIFO_WAITERS; i++) {
		w[i] = (struct fifo_waiter){&s, weights[i], 0, &finished, 0};
		goc_go(fifo_acquire, &w[i]);
		/* Queue in index order: the next starts once this one is parked
		 * in its acquire. */
		WAIT_FOR(__atomic_load_n(&w[i].started, __ATOMIC_SEQ_CST) && others_parked(),
			 "waiter %d did not queue", i);
	}
	expect_granted(w, 0, "all held");
	/* 3 free: waiter 0 (2) fits; waiter 1 (9) does not, and holds back
	 * waiters 2 and 3 (1 each), which would. */
	goc_sema_release(&s, 3);
	expect_granted(w, 1, "3 free");
	CHECK(!goc_sema_try_acquire(&s, 1), "try_acquire barged past the queue");
	goc_sema_release(&s, 7); /* 8 free: 9 still does not fit */
	expect_granted(w, 1, "8 free");
	goc_sema_release(&s, 2); /* 10 free: 9 then 1, then 1 does not fit */
	expect_granted(w, 3, "10 free");
	goc_sema_release(&s, 5); /* 3, 4 and 5 go */
	goc_wg_wait(&finished);
	expect_granted(w, FIFO_WAITERS, "5 more free");
	CHECK(s.held == 10, "held %lld", (long long)s.held);
	goc_sema_release(&s, 10);
	ok("FIFO: a big waiter at the head holds back smaller ones");
}

struct ctx_waiter {
	goc_sema *s;
	goc_ctx *ctx;
	int64_t weight;
	goc_status got;
	goc_wg *finished;
	int started;  /* atomic: about to acquire */
	int returned; /* atomic: got is set */
};

static void ctx_acquire(void *arg)
{
	struct ctx_waiter *w = arg;
	__atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
	w->got = goc_sema_acquire(w->s, w->ctx, w->weight);
	__atomic_store_n(&w->returned, 1, __ATOMIC_SEQ_CST);
	goc_wg_done(w->finished);
}

/* Starts w and waits until it is parked in its acquire. */
static void start_ctx_waiter(struct ctx_waiter *w, const char *what)
{
	goc_go(ctx_acquire, w);
	WAIT_FOR(__atomic_load_n(&w->started, __ATOMIC_SEQ_CST) && others_parked(),
		 "%s did not queue", what);
	CHECK(!__atomic_load_n(&w->returned, __ATOMIC_SEQ_CST), "%s did not wait: %d", what,
	      w->got);
}

static void cancellation(void)
{
	goc_sema s = GOC_SEMA_INIT(4);
	CHECK(goc_sema_acquire(&s, NULL, 4) == GOC_OK, "take all");
	goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
	goc_wg finished = GOC_WG_INIT;
	/* Head: a big waiter that gets cancelled; behind it two small ones
	 * without a context that fit once it is gone. */
	struct ctx_waiter big = {&s, ctx, 4, -1, &finished, 0, 0};
	struct ctx_waiter small[2] = {{&s, NULL, 1, -1, &finished, 0, 0},
				      {&s, NULL, 1, -1, &finished, 0, 0}};
	goc_wg_add(&finished, 3);
	start_ctx_waiter(&big, "the big waiter");
	start_ctx_waiter(&small[0], "small waiter 0");
	start_ctx_waiter(&small[1], "small waiter 1");
	goc_sema_release(&s, 2); /* 2 free, but the big one is first */
	/* Settled: a small one let in by mistake would have returned by now. */
	WAIT_FOR(others_parked(), "the waiters did not settle");
	CHECK(!__atomic_load_n(&small[0].returned, __ATOMIC_SEQ_CST) &&
		      !__atomic_load_n(&small[1].returned, __ATOMIC_SEQ_CST),
	      "overtook the head");
	goc_ctx_cancel(ctx); /* the head leaves: the two small ones fit */
	goc_wg_wait(&finished);
	CHECK(big.got == GOC_CANCELED, "big: %d", big.got);
	CHECK(small[0].got == GOC_OK && small[1].got == GOC_OK, "small: %d %d", small[0].got,
	      small[1].got);
	CHECK(s.held == 4, "held %lld: a permit was lost or leaked", (long long)s.held);
	CHECK(s.waiters_head == NULL, "queue not empty");
	CHECK(goc_sema_acquire(&s, ctx, 1) == GOC_CANCELED, "cancelled before the call");
	goc_ctx_release(ctx);

	int64_t t0 = goc_now(); /* before the context: its deadline is at least t0 + 5 ms */
	ctx = goc_ctx_with_timeout(goc_ctx_background(), 5 * GOC_MILLISECOND);
	CHECK(goc_sema_acquire(&s, ctx, 1) == GOC_TIMEOUT, "timeout");
	CHECK(goc_now() - t0 >= 5 * GOC_MILLISECOND, "timed out early");
	goc_ctx_release(ctx);
	goc_sema_release(&s, 4);
	CHECK(goc_sema_try_acquire(&s, 4), "permits lost");
	goc_sema_release(&s, 4);
	ok("cancel while waiting: error returned, no permit lost, the queue moves on");
}

/* ---- stress ---- */

struct stress {
	goc_sema s;
	int64_t size;
	int64_t in_use;   /* atomic: weights held now */
	int64_t granted;  /* atomic */
	int64_t canceled; /* atomic */
	long rounds;
};

static void stress_round(struct stress *st, uint64_t *seed)
{
	*seed ^= *seed << 13, *seed ^= *seed >> 7, *seed ^= *seed << 17;
	int64_t weight = (int64_t)(*seed % 3) + 1;
	goc_ctx *ctx = NULL;
	if (*seed % 4 == 0)
		ctx = goc_ctx_with_timeout(goc_ctx_background(),
					   (int64_t)(*seed % 200) * GOC_MICROSECOND);
	goc_status got = goc_sema_acquire(&st->s, ctx, weight);
	if (got == GOC_OK) {
		int64_t now = __atomic_add_fetch(&st->in_use, weight, __ATOMIC_SEQ_CST);
		CHECK(now <= st->size, "%lld permits in use of %lld", (long long)now,
		      (long long)st->size);
		goc_yield();
		__atomic_sub_fetch(&st->in_use, weight, __ATOMIC_SEQ_CST);
		goc_sema_release(&st->s, weight);
		__atomic_add_fetch(&st->granted, 1, __ATOMIC_RELAXED);
	} else {
		CHECK(ctx && got == GOC_TIMEOUT, "acquire: %d", got);
		__atomic_add_fetch(&st->canceled, 1, __ATOMIC_RELAXED);
	}
	goc_ctx_release(ctx);
}

struct stress_worker {
	struct stress *st;
	uint64_t seed;
	goc_wg *finished;
};

static void stress_goroutine(void *arg)
{
	struct stress_worker *w = arg;
	for (long i = 0; i < w->st->rounds; i++)
		stress_round(w->st, &w->seed);
	goc_wg_done(w->finished);
}

static void *stress_thread(void *arg)
{
	stress_goroutine(arg);
	return NULL;
}

static void stress(void)
{
	enum { GOROUTINES = 16, THREADS = 2 };
	struct stress st = {.size = 4, .rounds = test_size(3000, 500, 200)};
	goc_sema_init(&st.s, st.size);
	struct stress_worker w[GOROUTINES + THREADS];
	pthread_t threads[THREADS];
	goc_wg finished = GOC_WG_INIT;
	goc_wg_add(&finished, GOROUTINES + THREADS);
	for (int i = 0; i < GOROUTINES + THREADS; i++) {
		w[i] = (struct stress_worker){&st, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1),
					      &finished};
		if (i < GOROUTINES)
			goc_go(stress_goroutine, &w[i]);
		else
			pthread_create(&threads[i - GOROUTINES], NULL, stress_thread, &w[i]);
	}
	goc_wg_wait(&finished);
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	CHECK(st.granted + st.canceled == (GOROUTINES + THREADS) * st.rounds, "rounds lost");
	CHECK(st.s.held == 0 && st.s.waiters_head == NULL, "held %lld after the storm",
	      (long long)st.s.held);
	CHECK(goc_sema_try_acquire(&st.s, st.size), "permits lost");
	printf("stress: %lld granted, %lld timed out\n", (long long)st.granted,
	       (long long)st.canceled);
	ok("stress: goroutines and threads, random weights and timeouts");
}

static void main_g(void *arg)
{
	(void)arg;
	basics();
	fifo();
	cancellation();
	stress();
}

/* ---- misuse ---- */

static void mode_over_release(void *arg)
{
	(void)arg;
	goc_sema s = GOC_SEMA_INIT(3);
	goc_sema_acquire(&s, NULL, 1);
	goc_sema_release(&s, 2);
}

static void mode_negative(void *arg)
{
	(void)arg;
	goc_sema s = GOC_SEMA_INIT(3);
	goc_sema_acquire(&s, NULL, -1);
}

static const struct panic_mode modes[] = {
	{"over_release", mode_over_release,
	 "panic: semaphore: released 2 permits, but only 1 are held"},
	{"negative", mode_negative, "panic: goc_sema_acquire: negative weight -1"},
};

int main(int argc, char **argv)
{
	return panic_modes_main(argc, argv, main_g, modes, sizeof modes / sizeof modes[0]);
}
