/*
 * test_chan_foreign.c — channels and select used from plain OS threads
 * (pthreads goc did not create), which block their own thread only:
 *
 *  - ping-pong between a thread and a goroutine, unbuffered and buffered,
 *    several threads at once, each with its own echo goroutine;
 *  - several threads as clients of a pool of server goroutines reading one
 *    shared request channel, replies on per-thread channels;
 *  - goroutines feeding a thread and a thread feeding goroutines (values
 *    in order, none lost);
 *  - goc_select from a thread: timeout 0, a positive timeout (-1 after at
 *    least that long), woken by a goroutine's send, and a timeout racing
 *    with a sender;
 *  - close from a thread wakes goroutines, and close from a goroutine wakes
 *    a thread;
 *  - in a child process, plain threads alone (goc_main never called) talk
 *    over channels and select with a timeout;
 *  - in a child process, the main goroutine waits on a channel for a
 *    thread that has not called goc yet: not a deadlock;
 *  - in a child process, a plain thread that blocked in goc before the
 *    runtime started and then exited does not hide a later deadlock.
 *
 * The main goroutine waits for the threads with a wait group they finish
 * from their own side, so it never blocks its M in pthread_join.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NTHREADS 4

static long rounds;

/*
 * Starts a plain thread and returns once it has blocked in goc at least
 * once: the thread's first act is a receive on the unbuffered `hello`,
 * and try_send succeeds only when a receiver waits there. This keeps the
 * checks below independent of how the deadlock detector treats a thread
 * that has not called goc yet (the late_thread child tests that case on
 * its own). The spawner yields meanwhile, so its P never looks idle.
 */
static goc_chan *hello;

struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *arg)
{
	struct thread_start ts = *(struct thread_start *)arg;
	free(arg);
	CHECK(goc_chan_recv(hello, NULL) == GOC_OK, "hello");
	return ts.fn(ts.arg);
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	struct thread_start *ts = malloc(sizeof *ts);
	*ts = (struct thread_start){fn, arg};
	CHECK(pthread_create(t, NULL, thread_trampoline, ts) == 0, "pthread_create");
	while (goc_chan_try_send(hello, NULL) != GOC_OK)
		goc_yield();
}

/* ---- ping-pong --------------------------------------------------------- */

struct pingpong {
	goc_chan *to_g, *to_t; /* thread -> goroutine, goroutine -> thread */
	int batch;             /* values in flight at once (1 for unbuffered) */
	goc_wg *wg;
};

static void echo(void *arg)
{
	struct pingpong *pp = arg;
	int64_t v;
	while (goc_chan_recv(pp->to_g, &v) == GOC_OK) {
		v += 1;
		goc_chan_send(pp->to_t, &v);
	}
	goc_chan_close(pp->to_t);
}

static void *pingpong_thread(void *arg)
{
	struct pingpong *pp = arg;
	CHECK(goc_id() == 0, "a plain thread has no goroutine id");
	for (long r = 0; r < rounds; r += pp->batch) {
		for (int i = 0; i < pp->batch; i++) {
			int64_t v = 10 * (r + i);
			goc_chan_send(pp->to_g, &v);
		}
		for (int i = 0; i < pp->batch; i++) {
			int64_t v = -1;
			CHECK(goc_chan_recv(pp->to_t, &v) == GOC_OK, "thread recv");
			CHECK(v == 10 * (r + i) + 1, "thread got %lld, want %lld", (long long)v,
			      (long long)(10 * (r + i) + 1));
		}
	}
	goc_chan_close(pp->to_g);
	int64_t v = 5;
	CHECK(goc_chan_recv(pp->to_t, &v) == GOC_CLOSED && v == 0,
	      "a close from a goroutine reaches the thread");
	goc_wg_done(pp->wg);
	return NULL;
}

static void test_pingpong(int cap)
{
	goc_wg wg = GOC_WG_INIT;
	struct pingpong pp[NTHREADS];
	pthread_t t[NTHREADS];
	goc_wg_add(&wg, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		pp[i] = (struct pingpong){goc_chan_make(sizeof(int64_t), (size_t)cap),
					  goc_chan_make(sizeof(int64_t), (size_t)cap),
					  cap ? cap : 1, &wg};
		goc_go(echo, &pp[i]);
		start_thread(&t[i], pingpong_thread, &pp[i]);
	}
	goc_wg_wait(&wg);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		goc_chan_release(pp[i].to_g);
		goc_chan_release(pp[i].to_t);
	}
}

/* ---- a shared server pool ---------------------------------------------- */

struct request {
	int64_t x;
	goc_chan *reply;
};

struct pool {
	goc_chan *requests;
	atomic_long served;
	goc_wg servers, clients;
};

static void server(void *arg)
{
	struct pool *p = arg;
	struct request rq;
	while (goc_chan_recv(p->requests, &rq) == GOC_OK) {
		int64_t y = rq.x * 3;
		goc_chan_send(rq.reply, &y);
		atomic_fetch_add(&p->served, 1);
	}
	goc_wg_done(&p->servers);
}

struct client {
	struct pool *p;
	int index;
};

static void *client_thread(void *arg)
{
	struct client *c = arg;
	goc_chan *reply = goc_chan_make(sizeof(int64_t), c->index % 2);
	for (long r = 0; r < rounds; r++) {
		struct request rq = {c->index * 1000000 + r, reply};
		if (r % 2) {
			goc_chan_send(c->p->requests, &rq);
		} else {
			goc_select_case cs = {
				.chan = c->p->requests, .dir = GOC_SELECT_SEND, .elem = &rq};
			CHECK(goc_select(&cs, 1, GOC_NO_TIMEOUT) == 0, "thread select send");
		}
		int64_t y = -1;
		CHECK(goc_chan_recv(reply, &y) == GOC_OK && y == rq.x * 3, "reply %lld to %lld",
		      (long long)y, (long long)rq.x);
	}
	goc_chan_release(reply);
	goc_wg_done(&c->p->clients);
	return NULL;
}

static void test_server_pool(void)
{
	struct pool p = {.requests = goc_chan_make(sizeof(struct request), 2)};
	goc_wg_init(&p.servers);
	goc_wg_init(&p.clients);
	goc_wg_add(&p.servers, 3);
	for (int i = 0; i < 3; i++)
		goc_go(server, &p);
	struct client c[NTHREADS];
	pthread_t t[NTHREADS];
	goc_wg_add(&p.clients, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		c[i] = (struct client){&p, i};
		start_thread(&t[i], client_thread, &c[i]);
	}
	goc_wg_wait(&p.clients);
	goc_chan_close(p.requests);
	goc_wg_wait(&p.servers);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&p.served) == NTHREADS * rounds, "served %ld", atomic_load(&p.served));
	goc_chan_release(p.requests);
}

/* ---- streams between goroutines and a thread ------------------------------ */

struct stream {
	goc_chan *c;
	int producers;
	long per_producer;
	goc_wg *wg;
};

struct producer_arg {
	struct stream *s;
	int id;
};

static void stream_producer(void *arg)
{
	/* Copies: test_streams may return once the last value is in. */
	struct producer_arg *pa = arg;
	goc_chan *c = pa->s->c;
	long n = pa->s->per_producer;
	int id = pa->id;
	for (long i = 0; i < n; i++) {
		int64_t v = (int64_t)id << 32 | i;
		goc_chan_send(c, &v);
	}
}

/* A thread receives the goroutines' values: each producer's in order. */
static void *stream_consumer_thread(void *arg)
{
	struct stream *s = arg;
	long next[8] = {0};
	for (long n = 0; n < s->producers * s->per_producer; n++) {
		int64_t v;
		CHECK(goc_chan_recv(s->c, &v) == GOC_OK, "thread recv");
		int id = (int)(v >> 32);
		CHECK(id >= 0 && id < s->producers, "producer id %d", id);
		CHECK((v & 0xffffffff) == next[id], "producer %d: got #%lld, want #%ld", id,
		      (long long)(v & 0xffffffff), next[id]);
		next[id]++;
	}
	goc_wg_done(s->wg);
	return NULL;
}

/* A thread sends to goroutines and closes when done. */
static void *stream_producer_thread(void *arg)
{
	struct stream *s = arg;
	for (long i = 0; i < s->per_producer; i++) {
		int64_t v = i;
		goc_chan_send(s->c, &v);
	}
	goc_chan_close(s->c);
	return NULL;
}

struct sum_consumer {
	goc_chan *c;
	atomic_llong *sum, *count;
	goc_wg *wg;
};

static void sum_consumer(void *arg)
{
	struct sum_consumer *sc = arg;
	int64_t v;
	while (goc_chan_recv(sc->c, &v) == GOC_OK) {
		atomic_fetch_add(sc->sum, v);
		atomic_fetch_add(sc->count, 1);
	}
	goc_wg_done(sc->wg);
}

static void test_streams(void)
{
	goc_wg wg = GOC_WG_INIT;
	struct stream s = {goc_chan_make(sizeof(int64_t), 0), 4, rounds, &wg};
	goc_wg_add(&wg, 1);
	pthread_t t;
	start_thread(&t, stream_consumer_thread, &s);
	struct producer_arg pa[4];
	for (int i = 0; i < s.producers; i++) {
		pa[i] = (struct producer_arg){&s, i};
		goc_go(stream_producer, &pa[i]);
	}
	goc_wg_wait(&wg);
	pthread_join(t, NULL);
	goc_chan_release(s.c);

	/* Thread to goroutines; the thread's close ends them. */
	atomic_llong sum = 0, count = 0;
	struct stream s2 = {goc_chan_make(sizeof(int64_t), 3), 1, rounds, NULL};
	struct sum_consumer sc = {s2.c, &sum, &count, &wg};
	goc_wg_add(&wg, 3);
	for (int i = 0; i < 3; i++)
		goc_go(sum_consumer, &sc);
	start_thread(&t, stream_producer_thread, &s2);
	goc_wg_wait(&wg);
	pthread_join(t, NULL);
	CHECK(atomic_load(&count) == rounds && atomic_load(&sum) == rounds * (rounds - 1) / 2,
	      "goroutines got %lld values from the thread", atomic_load(&count));
	goc_chan_release(s2.c);
}

/* ---- select from a thread ------------------------------------------------ */

struct late_send {
	goc_chan *c;
	int64_t delay, value;
};

static void late_sender(void *arg)
{
	struct late_send *ls = arg;
	goc_sleep(ls->delay);
	goc_chan_send(ls->c, &ls->value);
}

struct racer {
	goc_chan *c;
	long n;
};

static void racing_sender(void *arg)
{
	/* A copy: the thread's frame is gone once it has the last value. */
	struct racer r = *(struct racer *)arg;
	for (int64_t i = 0; i < r.n; i++) {
		goc_chan_send(r.c, &i);
		if (i % 16 == 0)
			goc_sleep(10 * GOC_MICROSECOND);
	}
}

struct select_thread_arg {
	int index;
	goc_wg *wg;
};

static void *select_thread(void *arg)
{
	struct select_thread_arg *a = arg;
	goc_chan *idle = goc_chan_make(sizeof(int64_t), 0);
	goc_chan *c = goc_chan_make(sizeof(int64_t), (size_t)(a->index % 2));
	int64_t v = -1, w = -1;
	goc_select_case cs[2] = {{.chan = idle, .dir = GOC_SELECT_RECV, .elem = &w},
				 {.chan = c, .dir = GOC_SELECT_RECV, .elem = &v}};

	CHECK(goc_select(cs, 2, 0) == -1, "thread: default");
	int64_t t0 = goc_now();
	CHECK(goc_select(cs, 2, 5 * GOC_MILLISECOND) == -1, "thread: timeout");
	CHECK(goc_now() - t0 >= 5 * GOC_MILLISECOND, "thread: returned before the timeout");

	/* A goroutine sends after 2 ms: -1 waits for it, 10 s does not time out. */
	for (int i = 0; i < 2; i++) {
		struct late_send ls = {c, 2 * GOC_MILLISECOND, 100 + i};
		t0 = goc_now();
		goc_go(late_sender, &ls);
		int k = goc_select(cs, 2, i == 0 ? -1 : 10 * GOC_SECOND);
		CHECK(k == 1 && cs[1].ok && v == 100 + i, "thread select woken: case %d value %lld",
		      k, (long long)v);
		CHECK(goc_now() - t0 >= 2 * GOC_MILLISECOND, "woken before the send");
	}

	/* Short timeouts racing with a sender: nothing lost or duplicated. */
	struct racer r = {c, rounds};
	goc_go(racing_sender, &r);
	int64_t want = 0;
	long timeouts = 0;
	while (want < r.n) {
		int k = goc_select(cs, 2, (1 + want % 5) * GOC_MICROSECOND);
		if (k == -1) {
			timeouts++;
			continue;
		}
		CHECK(k == 1 && v == want, "thread: value %lld want %lld", (long long)v,
		      (long long)want);
		want++;
	}
	CHECK(goc_chan_try_send(idle, &v) == GOC_WOULDBLOCK, "no waiter left on idle");
	goc_chan_release(idle);
	goc_chan_release(c);
	goc_wg_done(a->wg);
	return NULL;
}

static void test_select_from_threads(void)
{
	goc_wg wg = GOC_WG_INIT;
	struct select_thread_arg a[NTHREADS];
	pthread_t t[NTHREADS];
	goc_wg_add(&wg, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		a[i] = (struct select_thread_arg){i, &wg};
		start_thread(&t[i], select_thread, &a[i]);
	}
	goc_wg_wait(&wg);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
}

/* ---- close from a thread wakes goroutines ---------------------------------- */

struct closewait {
	goc_chan *c;
	atomic_int woken;
	goc_wg wg;
};

static void wait_closed(void *arg)
{
	struct closewait *cw = arg;
	int64_t v = 9;
	CHECK(goc_chan_recv(cw->c, &v) == GOC_CLOSED && v == 0, "goroutine woken by close");
	atomic_fetch_add(&cw->woken, 1);
	goc_wg_done(&cw->wg);
}

static void *closing_thread(void *arg)
{
	struct closewait *cw = arg;
	goc_sleep(2 * GOC_MILLISECOND); /* hint: let the goroutines block */
	goc_chan_close(cw->c);
	return NULL;
}

static void test_close_from_thread(void)
{
	struct closewait cw = {.c = goc_chan_make(sizeof(int64_t), 0)};
	goc_wg_init(&cw.wg);
	goc_wg_add(&cw.wg, 50);
	for (int i = 0; i < 50; i++)
		goc_go(wait_closed, &cw);
	pthread_t t;
	start_thread(&t, closing_thread, &cw);
	goc_wg_wait(&cw.wg);
	pthread_join(t, NULL);
	CHECK(atomic_load(&cw.woken) == 50, "woken %d", atomic_load(&cw.woken));
	goc_chan_release(cw.c);
}

static void main_g(void *arg)
{
	(void)arg;
	hello = goc_chan_make(0, 0);
	test_pingpong(0);
	ok("threads ping-pong with goroutines, unbuffered");
	test_pingpong(4);
	ok("threads ping-pong with goroutines, capacity 4");
	test_server_pool();
	ok("threads as clients of a goroutine server pool");
	test_streams();
	ok("streams between goroutines and threads");
	test_select_from_threads();
	ok("goc_select from plain threads, with timeouts");
	test_close_from_thread();
	ok("close from a thread wakes goroutines");
	goc_chan_release(hello);
}

/* ---- goroutines waiting for a thread that has not used goc yet -------------- */

static goc_chan *late;

static void *late_thread(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 10 * 1000 * 1000};
	nanosleep(&ts, NULL); /* plain work before its first goc call */
	int v = 42;
	goc_chan_send(late, &v);
	return NULL;
}

/* The main goroutine waits for a plain thread that has not called into goc
 * yet. Nothing is deadlocked: the thread will send. */
static void late_thread_main(void *arg)
{
	(void)arg;
	late = goc_chan_make(sizeof(int), 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, late_thread, NULL) == 0, "pthread_create");
	int v = 0;
	CHECK(goc_chan_recv(late, &v) == GOC_OK && v == 42, "late thread's value");
	pthread_join(t, NULL);
	printf("late thread ok\n");
}

/* ---- threads only, no goc_main ------------------------------------------- */

struct bare {
	goc_chan *a, *b;
};

static void *bare_echo(void *arg)
{
	struct bare *x = arg;
	int64_t v;
	while (goc_chan_recv(x->a, &v) == GOC_OK) {
		v *= 2;
		goc_chan_send(x->b, &v);
	}
	return NULL;
}

static void bare_main(void)
{
	struct bare x = {goc_chan_make(sizeof(int64_t), 0), goc_chan_make(sizeof(int64_t), 1)};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, bare_echo, &x) == 0, "pthread_create");
	for (int64_t i = 0; i < 1000; i++) {
		goc_chan_send(x.a, &i);
		int64_t v = -1;
		CHECK(goc_chan_recv(x.b, &v) == GOC_OK && v == 2 * i, "bare ping-pong");
	}
	int64_t v = -1;
	goc_select_case cs = {.chan = x.b, .dir = GOC_SELECT_RECV, .elem = &v};
	CHECK(goc_select(&cs, 1, 0) == -1, "bare select default");
	int64_t one = 21;
	goc_chan_send(x.a, &one);
	CHECK(goc_select(&cs, 1, GOC_NO_TIMEOUT) == 0 && v == 42, "bare select");
	goc_chan_close(x.a);
	pthread_join(t, NULL);
	goc_chan_release(x.a);
	goc_chan_release(x.b);
	printf("bare threads ok\n");
}

/* A plain thread blocks in goc before the runtime ever started, and
 * finishes; then a goc_main program deadlocks for real. The finished thread
 * must not keep the deadlock from being reported (the child's alarm turns
 * a hang into a failure; the report takes milliseconds). */
static void bare_deadlock_main(void *arg)
{
	(void)arg;
	goc_chan_recv(NULL, NULL);
}

static void bare_then_deadlock(void)
{
	struct bare x = {goc_chan_make(sizeof(int64_t), 0), goc_chan_make(sizeof(int64_t), 1)};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, bare_echo, &x) == 0, "pthread_create");
	int64_t v = 4;
	goc_chan_send(x.a, &v);
	CHECK(goc_chan_recv(x.b, &v) == GOC_OK && v == 8, "bare echo");
	goc_chan_close(x.a);
	pthread_join(t, NULL);
	goc_main(bare_deadlock_main, NULL);
	printf("survived\n");
}

/* A select with a timeout on a plain thread, goc_main never called. */
static void bare_select_timeout_main(void)
{
	goc_chan *c = goc_chan_make(sizeof(int64_t), 0);
	int64_t v = -1;
	goc_select_case cs = {.chan = c, .dir = GOC_SELECT_RECV, .elem = &v};
	int64_t t0 = goc_now();
	CHECK(goc_select(&cs, 1, 2 * GOC_MILLISECOND) == -1, "bare select timeout");
	CHECK(goc_now() - t0 >= 2 * GOC_MILLISECOND, "bare select returned early");
	goc_chan_release(c);
	printf("bare select timeout ok\n");
}

/* Under TSan every child would sleep a second at exit (atexit_sleep_ms). */
static void fast_sanitizer_exit(void)
{
	if (getenv("GOC_TEST_SANITIZER") && !getenv("TSAN_OPTIONS"))
		setenv("TSAN_OPTIONS", "atexit_sleep_ms=0", 1);
}

/* Runs a child mode that must exit 0 printing `want`; 1 on failure. */
static int expect_child(const char *self, const char *mode, const char *want, const char *what)
{
	child_result r = run_self(self, mode, NULL);
	int good = r.exited && r.status == 0 && contains(r.out, want);
	if (good)
		ok(what);
	else
		fprintf(stderr, "FAIL: %s (mode %s): %s %d, output:\n%s\n", what, mode,
			r.exited ? "exit" : "signal", r.status, r.out);
	free(r.out);
	return !good;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		alarm(15); /* hang guard for the child modes: a hang becomes SIGALRM */
	if (argc > 1 && strcmp(argv[1], "bare") == 0) {
		bare_main();
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "bare_then_deadlock") == 0) {
		bare_then_deadlock();
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "bare_select_timeout") == 0) {
		bare_select_timeout_main();
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "late_thread") == 0) {
		goc_main(late_thread_main, NULL);
		return 0;
	}
	rounds = getenv("GOC_TEST_SANITIZER") ? 2000 : 20000;
	fast_sanitizer_exit();
	goc_main(main_g, NULL);

	/* Each child check runs even if an earlier one failed. */
	int failures = 0;
	failures += expect_child(argv[0], "bare", "bare threads ok",
				 "plain threads alone (no goc_main) use channels and select");
	if (deadlock_reports_expected("a finished plain thread does not hide a later deadlock")) {
		child_result r = run_self(argv[0], "bare_then_deadlock", NULL);
		if (r.exited && r.status == 2 && contains(r.out, "all goroutines are asleep")) {
			ok("a finished plain thread does not hide a later deadlock");
		} else {
			fprintf(stderr,
				"FAIL: a plain thread that blocked in goc before the runtime started, then "
				"finished, hides a later deadlock: want exit 2 and a deadlock report, got %s %d, "
				"output:\n%s\n",
				r.exited ? "exit" : "signal", r.status, r.out);
			failures++;
		}
		free(r.out);
	}
	failures += expect_child(argv[0], "bare_select_timeout", "bare select timeout ok",
				 "a plain thread's select times out with goc_main never called");
	failures += expect_child(argv[0], "late_thread", "late thread ok",
				 "goroutines may wait for a thread that has not called goc yet");
	return failures ? 1 : 0;
}
