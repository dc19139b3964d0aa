/*
 * test_chan_panics.c — channel misuse is loud, as in Go: each case runs in a
 * child process (the test binary re-executed with a mode argument) that must
 * die by SIGABRT after printing the panic message:
 *
 *  - send on a closed channel              "panic: send on closed channel"
 *  - a sender blocked on a channel that then gets closed (same message)
 *  - a select blocked on a send case whose channel then gets closed
 *  - close of a closed channel             "panic: close of closed channel"
 *  - close of NULL                         "panic: close of nil channel"
 *  - goc_select with a send case on a closed channel (alone, and next to
 *    a ready case: as in Go, cases are polled in random order and the
 *    closed send panics when it is reached before the ready case)
 *  - send on a closed channel from a plain thread (not a goroutine)
 *
 * A goroutine's panic also names the goroutine ("goroutine N ["). For
 * contrast, try_send on a closed channel must not panic (GOC_CLOSED).
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "testutil.h"

static goc_chan *make_closed(size_t cap)
{
	goc_chan *c = goc_chan_make(sizeof(int), cap);
	goc_chan_close(c);
	return c;
}

static void mode_send_closed(void *arg)
{
	(void)arg;
	goc_chan *c = make_closed(4);
	int v = 1;
	goc_chan_send(c, &v);
	printf("survived\n");
}

static void blocked_sender(void *arg)
{
	goc_chan *c = arg;
	int v = 7;
	goc_chan_send(c, &v); /* blocks: nobody receives */
	printf("survived\n");
}

static void mode_blocked_send_closed(void *arg)
{
	size_t cap = *(size_t *)arg;
	goc_chan *c = goc_chan_make(sizeof(int), cap);
	int v = 0;
	for (size_t i = 0; i < cap; i++)
		goc_chan_send(c, &v); /* fill the buffer */
	goc_go(blocked_sender, c);
	goc_sleep(20 * GOC_MILLISECOND); /* hint: let it block */
	goc_chan_close(c);
	goc_sleep(5 * GOC_SECOND); /* the sender's panic ends the process first */
	printf("survived\n");
}

static void blocked_select_sender(void *arg)
{
	goc_chan *c = arg;
	goc_chan *never = goc_chan_make(sizeof(int), 0);
	int v = 7, w;
	goc_select_case cs[2] = {
		{.chan = never, .dir = GOC_SELECT_RECV, .elem = &w},
		{.chan = c, .dir = GOC_SELECT_SEND, .elem = &v},
	};
	goc_select(cs, 2, GOC_NO_TIMEOUT);
	printf("survived\n");
}

static void mode_blocked_select_closed(void *arg)
{
	(void)arg;
	goc_chan *c = goc_chan_make(sizeof(int), 0);
	goc_go(blocked_select_sender, c);
	goc_sleep(20 * GOC_MILLISECOND);
	goc_chan_close(c);
	goc_sleep(5 * GOC_SECOND);
	printf("survived\n");
}

static void mode_close_closed(void *arg)
{
	(void)arg;
	goc_chan *c = make_closed(0);
	goc_chan_close(c);
	printf("survived\n");
}

static void mode_close_nil(void *arg)
{
	(void)arg;
	goc_chan_close(NULL);
	printf("survived\n");
}

static void mode_select_send_closed(void *arg)
{
	(void)arg;
	goc_chan *closed = make_closed(1);
	goc_chan *ready = goc_chan_make(sizeof(int), 1);
	int v = 1, w;
	goc_chan_send(ready, &v);
	/* Case 0 is ready too. When it is polled first it wins (as in Go),
	 * so loop: each select reaches the closed send first with chance
	 * 1/2, and 1000 misses in a row would take a broken random order. */
	for (int i = 0; i < 1000; i++) {
		goc_select_case cs[2] = {
			{.chan = ready, .dir = GOC_SELECT_RECV, .elem = &w},
			{.chan = closed, .dir = GOC_SELECT_SEND, .elem = &v},
		};
		goc_select(cs, 2, i % 2 ? 0 : -1);
		goc_chan_send(ready, &v);
	}
	printf("survived\n");
}

static void mode_select_send_closed_only(void *arg)
{
	(void)arg;
	goc_chan *closed = make_closed(0);
	int v = 1;
	goc_select_case cs = {.chan = closed, .dir = GOC_SELECT_SEND, .elem = &v};
	goc_select(&cs, 1, 0);
	printf("survived\n");
}

static void *thread_send_closed(void *arg)
{
	(void)arg;
	goc_chan *c = make_closed(0);
	int v = 1;
	goc_chan_send(c, &v);
	printf("survived\n");
	return NULL;
}

struct mode {
	const char *name;
	void (*fn)(void *);
	void *arg;
	const char *message;
	bool in_goroutine;
};

static size_t cap0 = 0, cap2 = 2;

static const struct mode modes[] = {
	{"send_closed", mode_send_closed, NULL, "panic: send on closed channel", true},
	{"blocked_send_closed_unbuffered", mode_blocked_send_closed, &cap0,
	 "panic: send on closed channel", true},
	{"blocked_send_closed_buffered", mode_blocked_send_closed, &cap2,
	 "panic: send on closed channel", true},
	{"blocked_select_closed", mode_blocked_select_closed, NULL, "panic: send on closed channel",
	 true},
	{"close_closed", mode_close_closed, NULL, "panic: close of closed channel", true},
	{"close_nil", mode_close_nil, NULL, "panic: close of nil channel", true},
	{"select_send_closed", mode_select_send_closed, NULL, "panic: send on closed channel",
	 true},
	{"select_send_closed_only", mode_select_send_closed_only, NULL,
	 "panic: send on closed channel", true},
	{"thread_send_closed", NULL, NULL, "panic: send on closed channel", false},
};

static void main_g(void *arg)
{
	(void)arg;
	/* The non-panicking counterpart. */
	goc_chan *c = make_closed(1);
	int v = 1;
	CHECK(goc_chan_try_send(c, &v) == GOC_CLOSED, "try_send on closed");
	goc_chan_release(c);
	ok("try_send on a closed channel returns GOC_CLOSED");
}

/* Under TSan every child would sleep a second at exit (atexit_sleep_ms). */
static void fast_sanitizer_exit(void)
{
	if (getenv("GOC_TEST_SANITIZER") && !getenv("TSAN_OPTIONS"))
		setenv("TSAN_OPTIONS", "atexit_sleep_ms=0", 1);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
			if (strcmp(argv[1], modes[i].name) != 0)
				continue;
			if (modes[i].fn) {
				goc_main(modes[i].fn, modes[i].arg);
			} else {
				pthread_t t;
				pthread_create(&t, NULL, thread_send_closed, NULL);
				pthread_join(t, NULL);
			}
			return 0;
		}
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 3;
	}
	fast_sanitizer_exit();
	goc_main(main_g, NULL);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		const struct mode *m = &modes[i];
		child_result r = run_self(argv[0], m->name, NULL);
		CHECK(!r.exited && r.status == SIGABRT,
		      "%s: want death by SIGABRT, got %s %d; output:\n%s", m->name,
		      r.exited ? "exit" : "signal", r.status, r.out);
		CHECK(contains(r.out, m->message), "%s: output lacks \"%s\":\n%s", m->name,
		      m->message, r.out);
		CHECK(!contains(r.out, "survived"), "%s: the misuse returned:\n%s", m->name, r.out);
		if (m->in_goroutine)
			CHECK(contains(r.out, "goroutine "),
			      "%s: the panic does not name the goroutine:\n%s", m->name, r.out);
		else
			CHECK(contains(r.out, "not a goroutine"), "%s: a plain thread's panic:\n%s",
			      m->name, r.out);
		free(r.out);
		char name[96];
		snprintf(name, sizeof name, "%s panics", m->name);
		ok(name);
	}
	return 0;
}
