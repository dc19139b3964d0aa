/*
 * test_timer_sleep.c — goc_sleep wakes in deadline order and never early.
 *
 * Timers live in per-P heaps; a goroutine sleeps by parking with a timer
 * and is readied when an M notices the deadline passed. What a program can
 * rely on, and what this test checks:
 *  1. Order: NSLEEPERS goroutines, spawned in a shuffled order, sleep until
 *     deadlines `spacing` apart; each appends its index to a shared list as
 *     soon as it wakes (position taken with an atomic counter). The list
 *     must be in deadline order. A stall of the whole machine longer than
 *     the spacing lets two wake-ups be handled together (the second one
 *     readied then runs first, from runnext, as in Go), so a mismatch is
 *     retried with the spacing doubled (up to MAX_SPACING), up to ROUNDS
 *     rounds, each printing its worst lateness: a loaded machine has to
 *     stall longer than the spacing in every one of them to fail the test,
 *     while a heap that orders wrongly fails every round at any spacing.
 *  2. Never early: every sleep, measured with goc_now around goc_sleep, is
 *     at least what was asked — in the ordered round above and for MANY
 *     goroutines sleeping random short durations at once (timers spread
 *     over every P's heap; idle Ms must wake for them).
 *  3. goc_sleep(0) and negative durations return at once without parking:
 *     with one P, a goroutine queued behind the caller must not have run
 *     when they return (checked only when GOCMAXPROCS is 1; the test is
 *     also registered that way).
 *  4. A plain pthread (not a goroutine) can sleep: it blocks that thread for
 *     at least the duration, while goroutines keep running.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

#define NSLEEPERS 20
#define ROUNDS 6
#define MAX_SPACING (160 * GOC_MILLISECOND)
/* 10 ms at first; 40 ms under TSan, whose runs beside other TSan tests
 * stall threads for longer than 10 ms (three rounds out of order were
 * seen). Doubled after each round out of order. */
static int64_t spacing;
#define BASE (20 * GOC_MILLISECOND)

static int64_t t0;
static atomic_int wake_pos;
static int wake_order[NSLEEPERS];
static int64_t asked[NSLEEPERS], slept[NSLEEPERS];
static goc_wg wg = GOC_WG_INIT;

static void ordered_sleeper(void *arg)
{
	int i = (int)(intptr_t)arg;
	int64_t start = goc_now();
	int64_t d = t0 + BASE + i * spacing - start;
	goc_sleep(d);
	int64_t end = goc_now();
	wake_order[atomic_fetch_add(&wake_pos, 1)] = i;
	asked[i] = d;
	slept[i] = end - start;
	goc_wg_done(&wg);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int ordered_round(void)
{
	int perm[NSLEEPERS];
	for (int i = 0; i < NSLEEPERS; i++)
		perm[i] = i;
	for (int i = NSLEEPERS - 1; i > 0; i--) {
		int j = (int)(next_rand() % (uint64_t)(i + 1));
		int t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	atomic_store(&wake_pos, 0);
	t0 = goc_now();
	goc_wg_add(&wg, NSLEEPERS);
	for (int i = 0; i < NSLEEPERS; i++)
		CHECK(goc_go(ordered_sleeper, (void *)(intptr_t)perm[i]) > 0, "goc_go");
	goc_wg_wait(&wg);
	for (int i = 0; i < NSLEEPERS; i++)
		CHECK(slept[i] >= asked[i], "sleeper %d asked %lld ns, slept %lld ns", i,
		      (long long)asked[i], (long long)slept[i]);
	int in_order = 1;
	int64_t late = 0;
	for (int i = 0; i < NSLEEPERS; i++) {
		in_order &= wake_order[i] == i;
		if (slept[i] - asked[i] > late)
			late = slept[i] - asked[i];
	}
	if (!in_order) {
		printf("woke out of order (a sleeper up to %.1f ms late):", (double)late / 1e6);
		for (int i = 0; i < NSLEEPERS; i++)
			printf(" %d", wake_order[i]);
		printf("\n");
	}
	return in_order;
}

struct random_sleep {
	int64_t asked, slept;
	goc_wg *wg;
};

static void random_sleeper(void *arg)
{
	struct random_sleep *r = arg;
	int64_t start = goc_now();
	goc_sleep(r->asked);
	r->slept = goc_now() - start;
	goc_wg_done(r->wg);
}

static atomic_int queued_ran;
static void mark_ran(void *arg)
{
	(void)arg;
	atomic_store(&queued_ran, 1);
}

static atomic_long ticks;
static atomic_int stop_ticking;
static void ticker(void *arg)
{
	goc_wg *done = arg;
	while (!atomic_load(&stop_ticking)) {
		goc_sleep(GOC_MILLISECOND);
		atomic_fetch_add(&ticks, 1);
	}
	goc_wg_done(done);
}

struct plain_sleep {
	int64_t asked, slept, id;
	long ticks_seen; /* ticker progress during the thread's sleeps */
	goc_chan *done;  /* NULL, or signalled (from the plain thread) at the end */
};

static void *plain_thread_sleeps(void *arg)
{
	struct plain_sleep *s = arg;
	s->id = goc_id();
	goc_sleep(0);
	goc_sleep(-GOC_SECOND);
	int64_t start = goc_now();
	goc_sleep(s->asked);
	s->slept = goc_now() - start;
	if (s->done) {
		/* Sleep in 10 ms steps until the ticker goroutine has ticked a
		 * few times: it can only if this thread's sleeps leave the
		 * scheduler alone. Bounded so a failure does not hang. */
		long before = atomic_load(&ticks);
		for (int i = 0; i < 1000 && atomic_load(&ticks) - before < 3; i++)
			goc_sleep(10 * GOC_MILLISECOND);
		s->ticks_seen = atomic_load(&ticks) - before;
		goc_chan_send(s->done, NULL);
	}
	return NULL;
}

static void main_g(void *arg)
{
	(void)arg;
	int rounds = 0, good = 0;
	spacing = test_size(10, 10, 40) * GOC_MILLISECOND;
	while (rounds < ROUNDS && !good) {
		good = ordered_round();
		rounds++;
		if (!good && spacing < MAX_SPACING)
			spacing *= 2;
	}
	CHECK(good, "sleepers woke out of deadline order in %d rounds", rounds);
	ok("sleepers wake in deadline order");
	ok("ordered sleeps never woke early");

	int many = getenv("GOC_TEST_SANITIZER") ? 2000 : 20000;
	struct random_sleep *rs = calloc((size_t)many, sizeof *rs);
	goc_wg mwg = GOC_WG_INIT;
	goc_wg_add(&mwg, many);
	for (int i = 0; i < many; i++) {
		rs[i].asked = (int64_t)(next_rand() % (uint64_t)(20 * GOC_MILLISECOND)) + 1;
		rs[i].wg = &mwg;
		CHECK(goc_go(random_sleeper, &rs[i]) > 0, "goc_go");
	}
	goc_wg_wait(&mwg);
	for (int i = 0; i < many; i++)
		CHECK(rs[i].slept >= rs[i].asked, "random sleeper %d asked %lld, slept %lld", i,
		      (long long)rs[i].asked, (long long)rs[i].slept);
	free(rs);
	ok("many concurrent random sleeps, none early");

	if (goc_maxprocs(0) == 1) {
		atomic_store(&queued_ran, 0);
		CHECK(goc_go(mark_ran, NULL) > 0, "goc_go");
		goc_sleep(0);
		goc_sleep(-1);
		goc_sleep(INT64_MIN);
		CHECK(!atomic_load(&queued_ran), "goc_sleep(<=0) let a queued goroutine run");
		goc_sleep(GOC_MILLISECOND);
		CHECK(atomic_load(&queued_ran), "goc_sleep(1ms) did not let the queued one run");
		ok("goc_sleep(0) and negative return without parking");
	} else {
		goc_sleep(0);
		goc_sleep(-1);
		goc_sleep(INT64_MIN);
		ok("goc_sleep(0) and negative return");
	}

	/* A plain thread sleeps; goroutines keep ticking meanwhile. The main
	 * goroutine waits on a channel (parking, so its P is free) and the
	 * plain thread sends on it when done. */
	goc_wg twg = GOC_WG_INIT;
	goc_wg_add(&twg, 1);
	CHECK(goc_go(ticker, &twg) > 0, "goc_go");
	struct plain_sleep ps = {.asked = 20 * GOC_MILLISECOND, .done = goc_chan_make(0, 0)};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, plain_thread_sleeps, &ps) == 0, "pthread_create");
	CHECK(goc_chan_recv(ps.done, NULL) == GOC_OK, "recv from the plain thread");
	pthread_join(t, NULL);
	goc_chan_release(ps.done);
	CHECK(ps.id == 0, "goc_id() on a plain thread is %lld", (long long)ps.id);
	CHECK(ps.slept >= ps.asked, "plain thread asked %lld ns, slept %lld", (long long)ps.asked,
	      (long long)ps.slept);
	CHECK(ps.ticks_seen >= 3,
	      "the ticker goroutine ticked %ld times while a plain thread slept", ps.ticks_seen);
	atomic_store(&stop_ticking, 1);
	goc_wg_wait(&twg);
	ok("a plain pthread sleeps, goroutines keep running");
}

int main(void)
{
	goc_main(main_g, NULL);
	/* Outside goc_main, this thread is a plain thread too. */
	struct plain_sleep ps = {.asked = 5 * GOC_MILLISECOND};
	plain_thread_sleeps(&ps);
	CHECK(ps.slept >= ps.asked, "main thread asked %lld ns, slept %lld", (long long)ps.asked,
	      (long long)ps.slept);
	ok("sleep on the main thread after goc_main returned");
	return 0;
}
