/*
 * test_net_fdwait.c — waiting on fds goc does not own, and plain threads:
 *
 *  - a goroutine blocked in a read that another process satisfies 300 ms
 *    later, with nothing else alive, is not reported as a deadlock;
 *  - with the only P kept busy by a goroutine that yields but never parks,
 *    a reader still wakes (sysmon polls the network);
 *  - goc_fd_wait on a pipe (readable after a write, writable after a
 *    drain), with a deadline, with a context, and on both directions of a
 *    socket pair;
 *  - goc_fd_wait on timerfds: 100 goroutines each wait for their own,
 *    none wakes early;
 *  - goc_conn_wrap over a pipe;
 *  - plain OS threads using the API: dial, write, read an echo served by a
 *    goroutine, a read deadline, goc_fd_wait with a deadline, and a close
 *    from another thread while the thread is blocked in read; a thread
 *    blocked with no deadline is woken by a close, a deadline set in the
 *    past or moved earlier, and its context's cancellation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "waitfor.h"

#define MS GOC_MILLISECOND

/* The helpers below act once every other goroutine is parked: the main
 * goroutine is then blocked in goc_fd_wait, so its wake-up, not an fd that
 * was ready before it looked, is what is tested. */
struct delayed_write {
	int fd;
	goc_wg done;
};

static void write_later(void *arg)
{
	struct delayed_write *d = arg;
	WAIT_FOR(others_parked(), "the waiter parks");
	CHECK(write(d->fd, "w", 1) == 1, "write");
	goc_wg_done(&d->done);
}

static void drain_later(void *arg)
{
	struct delayed_write *d = arg;
	WAIT_FOR(others_parked(), "the waiter parks");
	char buf[4096];
	while (read(d->fd, buf, sizeof buf) > 0)
		;
	goc_wg_done(&d->done);
}

/* arg: a reference to the context, which this goroutine drops. */
static void cancel_later(void *arg)
{
	goc_ctx *ctx = arg;
	WAIT_FOR(others_parked(), "the waiter parks");
	goc_ctx_cancel(ctx);
	goc_ctx_release(ctx);
}

static void pipes(void)
{
	int p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe");
	struct delayed_write d = {.fd = p[1]};
	goc_wg_init(&d.done);
	goc_wg_add(&d.done, 1);
	goc_go(write_later, &d);
	/* Woken by the write, not before it: the read must find the byte. */
	CHECK_EQ_INT(goc_fd_wait(p[0], GOC_FD_READ, 0), GOC_FD_READ);
	char c;
	CHECK(read(p[0], &c, 1) == 1 && c == 'w', "read");
	goc_wg_wait(&d.done);

	int64_t t0 = goc_now();
	CHECK(goc_fd_wait(p[0], GOC_FD_READ, t0 + 30 * MS) == -ETIMEDOUT, "deadline");
	CHECK(goc_now() - t0 >= 29 * MS, "deadline early");
	CHECK(goc_fd_wait(p[0], GOC_FD_READ, t0 - 1) == -ETIMEDOUT, "past deadline");
	CHECK(goc_fd_wait(p[0], 0, 0) == -EINVAL && goc_fd_wait(p[0], 4, 0) == -EINVAL,
	      "bad events");
	CHECK(goc_fd_wait(p[1], GOC_FD_WRITE, 0) == GOC_FD_WRITE, "writable at once");

	goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
	goc_go(cancel_later, goc_ctx_retain(ctx));
	CHECK(goc_fd_wait_ctx(p[0], GOC_FD_READ, 0, ctx) == -ECANCELED, "cancelled");
	goc_ctx_release(ctx);

	/* Fill the pipe; wait for room while another goroutine drains. */
	char block[4096] = {0};
	while (write(p[1], block, sizeof block) > 0)
		;
	d = (struct delayed_write){.fd = p[0]};
	goc_wg_init(&d.done);
	goc_wg_add(&d.done, 1);
	goc_go(drain_later, &d);
	CHECK(goc_fd_wait(p[1], GOC_FD_WRITE, goc_now() + 5 * GOC_SECOND) == GOC_FD_WRITE, "room");
	goc_wg_wait(&d.done);
	close(p[0]);
	close(p[1]);

	/* Both directions: a socket pair end with a full send buffer and
	 * nothing to read wakes when the peer writes. */
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0, "socketpair");
	CHECK(goc_fd_wait(sp[0], GOC_FD_READ | GOC_FD_WRITE, 0) == GOC_FD_WRITE, "writable");
	while (write(sp[0], block, sizeof block) > 0)
		;
	d = (struct delayed_write){.fd = sp[1]};
	goc_wg_init(&d.done);
	goc_wg_add(&d.done, 1);
	goc_go(write_later, &d);
	CHECK(goc_fd_wait(sp[0], GOC_FD_READ | GOC_FD_WRITE, 0) == GOC_FD_READ, "both: readable");
	goc_wg_wait(&d.done);
	close(sp[0]);
	close(sp[1]);
	ok("goc_fd_wait on pipes and a socket pair: read, write, both, deadline, context");
}

struct timer_waiter {
	int64_t delay;
	goc_wg *done;
};

static void wait_timerfd(void *arg)
{
	struct timer_waiter *w = arg;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHECK(fd >= 0, "timerfd");
	struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = w->delay}};
	int64_t t0 = goc_now();
	CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "settime");
	CHECK(goc_fd_wait(fd, GOC_FD_READ, goc_now() + 10 * GOC_SECOND) == GOC_FD_READ, "timerfd");
	CHECK(goc_now() - t0 >= w->delay - MS / 10, "timerfd woke early");
	uint64_t expirations;
	CHECK(read(fd, &expirations, sizeof expirations) == 8 && expirations == 1, "expirations");
	close(fd);
	goc_wg_done(w->done);
}

static void timerfds(void)
{
	enum { N = 100 };
	struct timer_waiter w[N];
	goc_wg done;
	goc_wg_init(&done);
	goc_wg_add(&done, N);
	for (int i = 0; i < N; i++) {
		w[i] = (struct timer_waiter){.delay = (1 + i % 20) * MS, .done = &done};
		goc_go(wait_timerfd, &w[i]);
	}
	goc_wg_wait(&done);
	ok("goc_fd_wait on 100 timerfds at once");
}

static void wrapped_pipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0, "pipe");
	goc_conn *r, *w;
	CHECK(goc_conn_wrap(p[0], &r) == 0 && goc_conn_wrap(p[1], &w) == 0, "wrap");
	CHECK(goc_conn_write(w, "hello", 5, NULL) == 5, "write");
	char buf[8];
	CHECK(goc_conn_read(r, buf, sizeof buf) == 5 && !memcmp(buf, "hello", 5), "read");
	CHECK(goc_conn_close(w) == 0, "close");
	CHECK(goc_conn_read(r, buf, sizeof buf) == 0, "EOF");
	CHECK(goc_conn_close(r) == 0, "close");
	ok("goc_conn_wrap over a pipe");
}

/* ---- plain threads ---- */

static goc_listener *ln;
static char ln_addr[64];
static goc_wg served; /* a server goroutine per accepted connection */

static void serve_one(void *arg)
{
	goc_conn *c = arg;
	char buf[256];
	ssize_t n;
	while ((n = goc_conn_read(c, buf, sizeof buf)) > 0)
		CHECK(goc_conn_write(c, buf, (size_t)n, NULL) == n, "echo");
	goc_conn_close(c);
	goc_wg_done(&served);
}

static void acceptor(void *arg)
{
	long n = (long)(intptr_t)arg;
	for (long i = 0; i < n; i++) {
		goc_conn *c;
		CHECK(goc_accept(ln, &c) == 0, "accept");
		goc_go(serve_one, c);
	}
	goc_wg_done(&served);
}

struct thread_arg {
	int id;
	goc_wg *finished;       /* the goroutine waits here, not in pthread_join
				 * (which would block its M and, with one P,
				 * every goroutine the threads talk to) */
	goc_conn *blocked_conn; /* for the interruption tests */
	goc_ctx *ctx;           /* read with it, if not NULL */
	int started;            /* atomic */
	pid_t tid;              /* the thread's, set before started */
	int result;
};

static void *thread_echo(void *arg)
{
	struct thread_arg *t = arg;
	goc_conn *c;
	CHECK(goc_dial("tcp", ln_addr, goc_now() + 10 * GOC_SECOND, &c) == 0, "thread dial");
	char msg[64], buf[64];
	for (int i = 0; i < 50; i++) {
		int len = snprintf(msg, sizeof msg, "thread %d message %d", t->id, i);
		CHECK(goc_conn_write(c, msg, (size_t)len, NULL) == len, "thread write");
		int got = 0;
		while (got < len) {
			ssize_t n = goc_conn_read(c, buf + got, (size_t)(len - got));
			CHECK(n > 0, "thread read %zd", n);
			got += (int)n;
		}
		CHECK(!memcmp(msg, buf, (size_t)len), "thread echo differs");
	}
	int64_t t0 = goc_now();
	CHECK(goc_conn_set_read_deadline(c, t0 + 30 * MS) == 0, "deadline");
	CHECK(goc_conn_read(c, buf, sizeof buf) == -ETIMEDOUT, "thread read deadline");
	CHECK(goc_now() - t0 >= 29 * MS, "thread deadline early");
	int p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe");
	CHECK(goc_fd_wait(p[0], GOC_FD_READ, goc_now() + 20 * MS) == -ETIMEDOUT, "thread fd_wait");
	CHECK(write(p[1], "x", 1) == 1, "write");
	CHECK(goc_fd_wait(p[0], GOC_FD_READ, 0) == GOC_FD_READ, "thread fd_wait ready");
	close(p[0]);
	close(p[1]);
	goc_conn_close(c);
	goc_wg_done(t->finished);
	return NULL;
}

static void *thread_blocked_read(void *arg)
{
	struct thread_arg *t = arg;
	char buf[8];
	t->tid = gettid();
	__atomic_store_n(&t->started, 1, __ATOMIC_SEQ_CST);
	t->result = (int)(t->ctx ? goc_conn_read_ctx(t->blocked_conn, buf, sizeof buf, t->ctx)
				 : goc_conn_read(t->blocked_conn, buf, sizeof buf));
	goc_wg_done(t->finished);
	return NULL;
}

enum thread_interrupt { BY_CLOSE, BY_PAST_DEADLINE, BY_EARLIER_DEADLINE, BY_CANCEL };

/*
 * A plain thread blocked in a read with no deadline is woken by a close, a
 * deadline set in the past or moved earlier, or its context's cancellation,
 * made by a goroutine. Such a thread sleeps in poll(2) with no timeout
 * until someone writes its wake-up eventfd: if one of these paths failed to
 * wake it, the read would never return and the test would time out.
 */
static void thread_interrupted(enum thread_interrupt how, int want, const char *what)
{
	goc_wg finished;
	goc_wg_init(&finished);
	goc_wg_add(&finished, 1);
	struct thread_arg t = {.id = 100 + how, .finished = &finished};
	CHECK(goc_dial("tcp", ln_addr, 0, &t.blocked_conn) == 0, "dial");
	if (how == BY_CANCEL)
		t.ctx = goc_ctx_with_cancel(goc_ctx_background());
	pthread_t th;
	CHECK(pthread_create(&th, NULL, thread_blocked_read, &t) == 0, "pthread_create");
	WAIT_FOR(__atomic_load_n(&t.started, __ATOMIC_SEQ_CST) && thread_in_poll(t.tid),
		 "the thread blocks in its read");
	int64_t t0 = goc_now();
	switch (how) {
	case BY_CLOSE:
		CHECK(goc_conn_close(t.blocked_conn) == 0, "close");
		break;
	case BY_PAST_DEADLINE:
		CHECK(goc_conn_set_read_deadline(t.blocked_conn, t0 - MS) == 0, "deadline");
		break;
	case BY_EARLIER_DEADLINE:
		CHECK(goc_conn_set_read_deadline(t.blocked_conn, t0 + 20 * MS) == 0, "deadline");
		break;
	case BY_CANCEL:
		goc_ctx_cancel(t.ctx);
		break;
	}
	goc_ctx *limit = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_SECOND);
	CHECK(goc_wg_wait_ctx(&finished, limit) == GOC_OK, "%s: the thread was not woken", what);
	goc_ctx_cancel(limit);
	goc_ctx_release(limit);
	pthread_join(th, NULL);
	CHECK(t.result == want, "%s: read returned %d, want %d", what, t.result, want);
	if (how == BY_EARLIER_DEADLINE)
		CHECK(goc_now() - t0 >= 19 * MS, "%s: woke before the new deadline", what);
	if (how != BY_CLOSE)
		goc_conn_close(t.blocked_conn);
	if (t.ctx)
		goc_ctx_release(t.ctx);
}

static void plain_threads(void)
{
	enum { THREADS = 4 };
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	goc_listener_addr(ln, ln_addr, sizeof ln_addr);
	goc_wg_init(&served);
	goc_wg_add(&served, THREADS + 6);
	goc_go(acceptor, (void *)(intptr_t)(THREADS + 5));
	pthread_t th[THREADS];
	struct thread_arg args[THREADS];
	goc_wg finished;
	goc_wg_init(&finished);
	goc_wg_add(&finished, THREADS);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){.id = i, .finished = &finished};
		CHECK(pthread_create(&th[i], NULL, thread_echo, &args[i]) == 0, "pthread_create");
	}
	goc_wg_wait(&finished);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ok("plain threads: dial, echo, read deadline, goc_fd_wait");

	goc_wg_add(&finished, 1);
	struct thread_arg blocked = {.id = 99, .finished = &finished};
	CHECK(goc_dial("tcp", ln_addr, 0, &blocked.blocked_conn) == 0, "dial");
	pthread_t bt;
	CHECK(pthread_create(&bt, NULL, thread_blocked_read, &blocked) == 0, "pthread_create");
	WAIT_FOR(__atomic_load_n(&blocked.started, __ATOMIC_SEQ_CST) && thread_in_poll(blocked.tid),
		 "the thread blocks in its read");
	int64_t t0 = goc_now();
	CHECK(goc_conn_close(blocked.blocked_conn) == 0, "close");
	goc_wg_wait(&finished);
	pthread_join(bt, NULL);
	CHECK(blocked.result == -EBADF, "blocked thread read: %d", blocked.result);
	CHECK(goc_now() - t0 < 2 * GOC_SECOND, "close took too long to reach the thread");
	ok("plain thread blocked in read: close from elsewhere gives -EBADF");

	thread_interrupted(BY_CLOSE, -EBADF, "close");
	thread_interrupted(BY_PAST_DEADLINE, -ETIMEDOUT, "deadline set in the past");
	thread_interrupted(BY_EARLIER_DEADLINE, -ETIMEDOUT, "deadline moved earlier");
	thread_interrupted(BY_CANCEL, -ECANCELED, "context cancelled");
	goc_wg_wait(&served);
	goc_listener_close(ln);
	ok("plain thread blocked in read without a deadline: woken by close, deadlines, cancel");
}

/* The main goroutine blocks in a read that only another process will
 * satisfy, with no timer pending and every M idle: not a deadlock. */
static int late_fd = -1;

static void io_wait_is_not_deadlock(void)
{
	goc_conn *c;
	CHECK(goc_conn_wrap(late_fd, &c) == 0, "wrap");
	char buf[8];
	CHECK(goc_conn_read(c, buf, sizeof buf) == 4 && !memcmp(buf, "late", 4), "late read");
	goc_conn_close(c);
	ok("a goroutine parked on I/O alone is not reported as a deadlock");
}

/* With the only P busy with a goroutine that yields but never parks, no M
 * polls the network: sysmon does, after 10 ms, and the reader runs. */
static int spin_stop; /* atomic */

static void spin_yielding(void *arg)
{
	goc_wg *done = arg;
	while (!__atomic_load_n(&spin_stop, __ATOMIC_SEQ_CST))
		goc_yield();
	goc_wg_done(done);
}

static void *write_after_30ms(void *arg)
{
	usleep(30 * 1000);
	CHECK(write(*(int *)arg, "s", 1) == 1, "write");
	return NULL;
}

static void sysmon_polls(void)
{
	int old = goc_maxprocs(1);
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
	goc_conn *c;
	CHECK(goc_conn_wrap(sp[0], &c) == 0, "wrap");
	goc_wg done;
	goc_wg_init(&done);
	goc_wg_add(&done, 1);
	goc_go(spin_yielding, &done);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, write_after_30ms, &sp[1]) == 0, "pthread_create");
	int64_t t0 = goc_now();
	char ch;
	CHECK(goc_conn_read(c, &ch, 1) == 1 && ch == 's', "read");
	/* Under valgrind one thread runs at a time and the spinner takes
	 * whole time slices, so "soon" has no bound there (18 s was seen);
	 * the read completing while the only P spins is what is checked. */
	const char *san = getenv("GOC_TEST_SANITIZER");
	if (!san || strcmp(san, "valgrind"))
		CHECK(goc_now() - t0 < 2 * GOC_SECOND, "woken after %lld ms",
		      (long long)((goc_now() - t0) / MS));
	__atomic_store_n(&spin_stop, 1, __ATOMIC_SEQ_CST);
	goc_wg_wait(&done);
	pthread_join(th, NULL);
	goc_conn_close(c);
	close(sp[1]);
	goc_maxprocs(old);
	ok("every P busy: sysmon polls the network");
}

static void main_goroutine(void *arg)
{
	(void)arg;
	/* First: it relies on the child's write coming 300 ms after start. */
	RUN(io_wait_is_not_deadlock);
	RUN(sysmon_polls);
	RUN(pipes);
	RUN(timerfds);
	RUN(wrapped_pipe);
	RUN(plain_threads);
}

int main(void)
{
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
	pid_t pid = fork();
	if (pid == 0) {
		close(sp[0]);
		usleep(300 * 1000);
		_exit(write(sp[1], "late", 4) == 4 ? 0 : 1);
	}
	close(sp[1]);
	late_fd = sp[0];
	goc_main(main_goroutine, NULL);
	int status;
	waitpid(pid, &status, 0);
	return 0;
}
