/*
 * test_foreign_threads.c — plain OS threads calling into goc.
 *
 * A C program's own thread pool, or a callback thread of another library,
 * never became a goroutine, yet it will spawn goroutines and use channels
 * and wait groups. goc.h promises that every call works there and that a
 * plain thread that blocks blocks only itself. NTHREADS plain pthreads run
 * at once; each one:
 *  - spawns goroutines with goc_go and waits for them with goc_wg_wait;
 *  - receives from goroutines that send to it (goc_chan_recv) and sends to
 *    a goroutine that receives (goc_chan_send), ROUNDS round trips over
 *    unbuffered channels, checking every value;
 *  - blocks in goc_chan_recv on a channel that only another plain thread
 *    sends to, much later: while it is blocked, the other threads and all
 *    goroutines must keep going (they finish their own work first);
 *  - sleeps with goc_sleep.
 *
 * Modes, each run in a fresh process (run_self):
 *  "lazy": no goc_main at all; the runtime starts on the first call from a
 *          plain thread.
 *  "main": the same threads run while goc_main runs a main goroutine that
 *          does its own channel work, and that then waits on a channel only
 *          a plain thread sends to after a goc_sleep (a plain thread that
 *          may still send must not let goc_main's deadlock check fire).
 *  "sleep_sender": the main goroutine waits for a plain thread whose first
 *          goc call is goc_sleep (200 ms, entered before goc_main starts)
 *          followed by the send: the thread is inside goc the whole time,
 *          so this is no deadlock either.
 * Each mode runs twice: default GOCMAXPROCS and GOCMAXPROCS=1.
 * GOC_TEST_RUN selects modes by name (testutil.h).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define NTHREADS 4
#define ROUNDS 2000
#define SPAWNS 200

struct thread_ctx {
	int index;
	goc_chan *to_thread;   /* goroutine -> thread */
	goc_chan *from_thread; /* thread -> goroutine */
	goc_chan *relay;       /* the coordinator sends here once all threads are done */
	goc_chan *all_done;    /* signal that this thread's own work finished */
	long sum_back;         /* what the echo goroutine sent back, summed */
	goc_wg echo_done;      /* the echo goroutine has finished (and written sum_back) */
};

static atomic_long spawned_ran;
static atomic_int threads_finished_work;

static void counted(void *arg)
{
	atomic_fetch_add(&spawned_ran, 1);
	goc_wg_done(arg);
}

/* Sends ROUNDS values to the thread, receives each one back +1. */
static void echo(void *arg)
{
	struct thread_ctx *c = arg;
	for (long i = 0; i < ROUNDS; i++) {
		long v = i * 10 + c->index;
		goc_chan_send(c->to_thread, &v);
		long back;
		CHECK(goc_chan_recv(c->from_thread, &back) == GOC_OK, "echo recv");
		CHECK(back == v + 1, "thread %d sent back %ld for %ld", c->index, back, v);
		c->sum_back += back;
	}
	goc_wg_done(&c->echo_done);
}

static void *plain_thread(void *arg)
{
	struct thread_ctx *c = arg;
	CHECK(goc_id() == 0, "a plain thread has goroutine id %lld", (long long)goc_id());

	/* Spawn and wait. */
	goc_wg wg = GOC_WG_INIT;
	goc_wg_add(&wg, SPAWNS);
	for (int i = 0; i < SPAWNS; i++)
		CHECK(goc_go(counted, &wg) > 0, "goc_go from a plain thread");
	goc_wg_wait(&wg);

	/* Round trips with a goroutine. */
	goc_wg_add(&c->echo_done, 1);
	CHECK(goc_go(echo, c) > 0, "goc_go echo");
	for (long i = 0; i < ROUNDS; i++) {
		long v;
		CHECK(goc_chan_recv(c->to_thread, &v) == GOC_OK, "thread recv");
		CHECK(v == i * 10 + c->index, "thread %d got %ld, want %ld", c->index, v,
		      i * 10 + c->index);
		v++;
		goc_chan_send(c->from_thread, &v);
	}
	goc_wg_wait(&c->echo_done);

	/* Sleep. */
	int64_t t = goc_now();
	goc_sleep(2 * GOC_MILLISECOND);
	CHECK(goc_now() - t >= 2 * GOC_MILLISECOND, "plain thread woke early");

	/* This thread's own work is finished. Tell the coordinator, then
	 * block until the coordinator has seen every thread finish: the
	 * last thread to finish could not have, had any blocked thread stalled
	 * the runtime. */
	atomic_fetch_add(&threads_finished_work, 1);
	goc_chan_send(c->all_done, NULL);
	int token = -1;
	CHECK(goc_chan_recv(c->relay, &token) == GOC_OK, "relay recv");
	CHECK(token == c->index, "thread %d got relay token %d", c->index, token);
	return NULL;
}

static void run_threads(const char *mode)
{
	struct thread_ctx ctx[NTHREADS];
	goc_chan *all_done = goc_chan_make(0, 0);
	CHECK(all_done, "goc_chan_make");
	for (int i = 0; i < NTHREADS; i++) {
		ctx[i] = (struct thread_ctx){
			.index = i,
			.to_thread = goc_chan_make(sizeof(long), 0),
			.from_thread = goc_chan_make(sizeof(long), 0),
			.relay = goc_chan_make(sizeof(int), 0),
			.all_done = all_done,
			.echo_done = GOC_WG_INIT,
		};
		CHECK(ctx[i].to_thread && ctx[i].from_thread && ctx[i].relay, "goc_chan_make");
	}
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&t[i], NULL, plain_thread, &ctx[i]) == 0, "pthread_create");
	/* The coordinator is this thread: a plain thread in "lazy" mode, a
	 * helper thread in "main" mode. It waits for every thread to finish its
	 * work while the first ones are already blocked on their relays. */
	for (int i = 0; i < NTHREADS; i++)
		CHECK(goc_chan_recv(all_done, NULL) == GOC_OK, "all_done recv");
	CHECK(atomic_load(&threads_finished_work) == NTHREADS, "finished %d",
	      atomic_load(&threads_finished_work));
	for (int i = 0; i < NTHREADS; i++) {
		int token = i;
		goc_chan_send(ctx[i].relay, &token);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&spawned_ran) == (long)NTHREADS * SPAWNS, "spawned ran %ld",
	      atomic_load(&spawned_ran));
	for (int i = 0; i < NTHREADS; i++) {
		long want = 0;
		for (long r = 0; r < ROUNDS; r++)
			want += r * 10 + i + 1;
		CHECK(ctx[i].sum_back == want, "thread %d echo sum %ld, want %ld", i,
		      ctx[i].sum_back, want);
		goc_chan_release(ctx[i].to_thread);
		goc_chan_release(ctx[i].from_thread);
		goc_chan_release(ctx[i].relay);
	}
	goc_chan_release(all_done);
	printf("%s: %d threads, each %d spawns, %d round trips\n", mode, NTHREADS, SPAWNS, ROUNDS);
}

/* ---- "main" and "sleep_sender" modes ---- */

static goc_chan *late;  /* a plain thread sends here after a sleep */
static goc_chan *pings; /* the main goroutine's own traffic */
static goc_chan *hello; /* plain threads announce themselves here */
static pthread_barrier_t registered;
static atomic_int entering_sleep;

static void say_hello(void *arg)
{
	(void)arg;
	goc_chan_send(hello, NULL);
}

/*
 * goc cannot know about a plain thread before the thread calls into it, so
 * a main goroutine that blocks waiting for a thread that has not started
 * yet could be reported as deadlocked (Go has no such threads; with cgo it
 * gives up deadlock detection). A thread becomes known when it spawns a
 * goroutine or blocks in goc; the "main" mode has its threads spawn one
 * before goc_main starts, so the test does not depend on that race.
 */
static void *late_sender(void *arg)
{
	if (arg) {
		CHECK(goc_go(say_hello, NULL) > 0, "goc_go");
		pthread_barrier_wait(&registered);
	}
	atomic_store(&entering_sleep, 1);
	goc_sleep(200 * GOC_MILLISECOND);
	int v = 42;
	goc_chan_send(late, &v);
	return NULL;
}

static void *coordinator(void *arg)
{
	(void)arg;
	CHECK(goc_go(say_hello, NULL) > 0, "goc_go");
	pthread_barrier_wait(&registered);
	run_threads("main");
	return NULL;
}

static void pinger(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		goc_chan_send(pings, &i);
	goc_chan_close(pings);
}

static void main_g(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2; i++)
		CHECK(goc_chan_recv(hello, NULL) == GOC_OK, "hello");
	CHECK(goc_go(pinger, NULL) > 0, "goc_go");
	int v, want = 0;
	while (goc_chan_recv(pings, &v) == GOC_OK)
		CHECK(v == want++, "ping %d, want %d", v, want - 1);
	CHECK(want == 1000, "got %d pings", want);
	/* Only the plain thread will ever send here, once its goc_sleep ends. */
	CHECK(goc_chan_recv(late, &v) == GOC_OK && v == 42, "late value %d", v);
}

static void main_g_sleep_sender(void *arg)
{
	(void)arg;
	int v = 0;
	CHECK(goc_chan_recv(late, &v) == GOC_OK && v == 42, "late value %d", v);
}

static void run_mode(const char *mode)
{
	late = goc_chan_make(sizeof(int), 0);
	pings = goc_chan_make(sizeof(int), 0);
	hello = goc_chan_make(0, 0);
	if (strcmp(mode, "lazy") == 0) {
		run_threads("lazy");
	} else if (strcmp(mode, "main") == 0) {
		pthread_t coord, sender;
		pthread_barrier_init(&registered, NULL, 3);
		CHECK(pthread_create(&coord, NULL, coordinator, NULL) == 0, "pthread_create");
		CHECK(pthread_create(&sender, NULL, late_sender, (void *)1) == 0, "pthread_create");
		pthread_barrier_wait(&registered);
		goc_main(main_g, NULL);
		pthread_join(sender, NULL);
		pthread_join(coord, NULL);
	} else if (strcmp(mode, "sleep_sender") == 0) {
		/* The plain thread's first goc call is goc_sleep (200 ms), then
		 * it sends. A main goroutine waiting for its value is not
		 * deadlocked, whether the thread is already inside goc_sleep
		 * (goc knows it) or still on its way in (a live thread goc has
		 * not seen yet): both must hold, so nothing waits for either. */
		pthread_t sender;
		CHECK(pthread_create(&sender, NULL, late_sender, NULL) == 0, "pthread_create");
		while (!atomic_load(&entering_sleep))
			sched_yield();
		goc_main(main_g_sleep_sender, NULL);
		pthread_join(sender, NULL);
	} else {
		CHECK(0, "unknown mode %s", mode);
	}
	printf("mode %s done\n", mode);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		alarm(120); /* a hang fails the test (SIGALRM) instead of stalling it */
		run_mode(argv[1]);
		return 0;
	}
	static const char *const procs1[] = {"GOCMAXPROCS=1", NULL};
	const char *modes[] = {"lazy", "main", "sleep_sender"};
	const char *what[] = {
		"plain threads without goc_main (lazy start)", "plain threads while goc_main runs",
		"goc_main waits for a plain thread inside goc_sleep: no false deadlock"};
	for (int m = 0; m < 3; m++) {
		if (!test_selected(modes[m]))
			continue;
		for (int p = 0; p < 2; p++) {
			child_result r = run_self(argv[0], modes[m], p ? procs1 : NULL);
			printf("--- %s%s:\n%s", modes[m], p ? " (GOCMAXPROCS=1)" : "", r.out);
			CHECK(r.exited && r.status == 0, "mode %s%s: %s %d", modes[m],
			      p ? " GOCMAXPROCS=1" : "",
			      r.exited ? "exit status" : "killed by signal", r.status);
			CHECK(contains(r.out, "done"), "mode %s did not finish", modes[m]);
			free(r.out);
		}
		ok(what[m]);
	}
	return 0;
}
