/*
 * test_net_deadline.c — ending blocked network calls:
 *
 *  - read, write, accept and dial deadlines: a call blocked past its
 *    deadline returns -ETIMEDOUT (NULL with errno for accept and dial), a
 *    deadline moved while the call is blocked takes effect, a deadline in
 *    the past fails at once, and clearing it makes the handle usable again;
 *  - context cancellation and context deadlines in the same four calls;
 *  - close from another goroutine while one is blocked in read, write or
 *    accept: the blocked call returns -EBADF;
 *  - partial writes on a full socket: a 4 MiB write through small socket
 *    buffers to a reader that drains slowly arrives whole and in order;
 *  - misuse (NULL handle, use after close) panics, in a child process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#define MS GOC_MILLISECOND

static goc_listener *ln;
static char ln_addr[64];

static void check_elapsed(int64_t start, int64_t min, const char *what)
{
	int64_t took = goc_now() - start;
	CHECK(took >= min - MS && took < 5 * GOC_SECOND, "%s took %lld ms", what,
	      (long long)(took / MS));
}

/* Fills c's send buffer (and the peer's receive buffer) so writes block. */
static void shrink_buffers(goc_conn *writer, goc_conn *reader)
{
	int small = 4096;
	CHECK(setsockopt(goc_conn_fd(writer), SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0,
	      "sndbuf");
	CHECK(setsockopt(goc_conn_fd(reader), SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0,
	      "rcvbuf");
}

struct later {
	int64_t delay;
	goc_conn *conn;
	goc_listener *ln;
	goc_ctx *ctx;
	int64_t deadline;
	goc_wg done;
};

static void later_close(void *arg)
{
	struct later *l = arg;
	goc_sleep(l->delay);
	if (l->conn)
		CHECK(goc_conn_close(l->conn) == 0, "close");
	if (l->ln)
		CHECK(goc_listener_close(l->ln) == 0, "close listener");
	goc_wg_done(&l->done);
}

static void later_deadline(void *arg)
{
	struct later *l = arg;
	goc_sleep(l->delay);
	CHECK(goc_conn_set_read_deadline(l->conn, goc_now() + l->deadline) == 0, "set deadline");
	goc_wg_done(&l->done);
}

static void later_cancel(void *arg)
{
	struct later *l = arg;
	goc_sleep(l->delay);
	goc_ctx_cancel(l->ctx);
	goc_wg_done(&l->done);
}

static void start_later(struct later *l, goc_fn fn)
{
	goc_wg_init(&l->done);
	goc_wg_add(&l->done, 1);
	goc_go(fn, l);
}

static void read_deadlines(void)
{
	goc_conn *c, *s;
	conn_pair(ln, &c, &s);
	char buf[64];
	int64_t t0 = goc_now();
	CHECK(goc_conn_set_read_deadline(c, t0 + 50 * MS) == 0, "set");
	CHECK(goc_conn_read(c, buf, sizeof buf) == -ETIMEDOUT, "read timeout");
	check_elapsed(t0, 50 * MS, "read deadline");
	/* Still expired: fails at once, even with data waiting. */
	CHECK(goc_conn_write(s, "x", 1, NULL) == 1, "write");
	goc_sleep(5 * MS);
	CHECK(goc_conn_read(c, buf, sizeof buf) == -ETIMEDOUT, "expired deadline");
	CHECK(goc_conn_set_read_deadline(c, 0) == 0, "clear");
	CHECK(goc_conn_read(c, buf, sizeof buf) == 1 && buf[0] == 'x', "read after clearing");
	/* A deadline set while the read is blocked. */
	struct later l = {.delay = 20 * MS, .conn = c, .deadline = 30 * MS};
	start_later(&l, later_deadline);
	t0 = goc_now();
	CHECK(goc_conn_read(c, buf, sizeof buf) == -ETIMEDOUT, "deadline set while blocked");
	check_elapsed(t0, 50 * MS, "moved deadline");
	goc_wg_wait(&l.done);
	/* A far deadline does not fire; a deadline moved later is honored. */
	CHECK(goc_conn_set_read_deadline(c, goc_now() + 10 * MS) == 0, "set");
	CHECK(goc_conn_set_read_deadline(c, goc_now() + 80 * MS) == 0, "move later");
	t0 = goc_now();
	CHECK(goc_conn_read(c, buf, sizeof buf) == -ETIMEDOUT, "moved later");
	check_elapsed(t0, 70 * MS, "deadline moved later");
	CHECK(goc_conn_set_deadline(c, goc_now() + GOC_SECOND) == 0, "set both");
	CHECK(goc_conn_write(s, "y", 1, NULL) == 1, "write");
	CHECK(goc_conn_read(c, buf, sizeof buf) == 1 && buf[0] == 'y', "read before deadline");
	goc_conn_close(c);
	goc_conn_close(s);
	ok("read deadlines (expire, past, cleared, moved while blocked)");
}

static void write_deadline_and_partial(void)
{
	goc_conn *c, *s;
	conn_pair(ln, &c, &s);
	shrink_buffers(c, s);
	size_t big = 4 << 20;
	char *data = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 31 + (i >> 12));
	int64_t t0 = goc_now();
	CHECK(goc_conn_set_write_deadline(c, t0 + 60 * MS) == 0, "set");
	size_t written = 0;
	ssize_t r = goc_conn_write(c, data, big, &written);
	CHECK(r == -ETIMEDOUT, "write timeout: %zd", r);
	CHECK(written > 0 && written < big, "written %zu", written);
	check_elapsed(t0, 60 * MS, "write deadline");
	goc_conn_close(c);
	goc_conn_close(s);
	ok("write deadline: -ETIMEDOUT with the count written");
	free(data);
}

struct slow_reader {
	goc_conn *conn;
	size_t expect;
	const char *data;
	goc_wg done;
};

static void slow_read(void *arg)
{
	struct slow_reader *sr = arg;
	char buf[3000];
	size_t got = 0;
	int reads = 0;
	while (got < sr->expect) {
		ssize_t n = goc_conn_read(sr->conn, buf, sizeof buf);
		CHECK(n > 0, "slow read: %zd", n);
		CHECK(memcmp(buf, sr->data + got, (size_t)n) == 0, "bytes differ at %zu", got);
		got += (size_t)n;
		if (++reads % 64 == 0)
			goc_sleep(MS);
	}
	goc_wg_done(&sr->done);
}

static void partial_writes(void)
{
	goc_conn *c, *s;
	conn_pair(ln, &c, &s);
	/* Only the sender's buffer is small: with both small, loopback TCP
	 * crawls through window updates (tens of ms each). */
	int small = 4096;
	CHECK(setsockopt(goc_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0,
	      "sndbuf");
	size_t big = 4 << 20;
	char *data = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 7 + (i >> 10));
	struct slow_reader sr = {.conn = s, .expect = big, .data = data};
	goc_wg_init(&sr.done);
	goc_wg_add(&sr.done, 1);
	goc_go(slow_read, &sr);
	size_t written = 0;
	CHECK(goc_conn_write(c, data, big, &written) == (ssize_t)big && written == big,
	      "write all");
	goc_wg_wait(&sr.done);
	goc_conn_close(c);
	goc_conn_close(s);
	free(data);
	ok("partial writes on a full socket: 4 MiB arrive whole to a slow reader");
}

static void accept_and_dial_deadlines(void)
{
	goc_listener *l2;
	goc_conn *nc;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &l2) == 0, "listen");
	int64_t t0 = goc_now();
	CHECK(goc_listener_set_deadline(l2, t0 + 40 * MS) == 0, "set");
	CHECK(goc_accept(l2, &nc) == -ETIMEDOUT && !nc, "accept timeout");
	check_elapsed(t0, 40 * MS, "accept deadline");
	CHECK(goc_listener_set_deadline(l2, 0) == 0, "clear");
	/* Cancelled by a context while blocked, and by its deadline. */
	goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
	struct later l = {.delay = 20 * MS, .ctx = ctx};
	start_later(&l, later_cancel);
	CHECK(goc_accept_ctx(l2, ctx, &nc) == -ECANCELED, "accept cancelled");
	goc_wg_wait(&l.done);
	goc_ctx_release(ctx);
	ctx = goc_ctx_with_timeout(goc_ctx_background(), 30 * MS);
	CHECK(goc_accept_ctx(l2, ctx, &nc) == -ETIMEDOUT, "accept ctx deadline");
	goc_ctx_cancel(ctx);
	goc_ctx_release(ctx);
	goc_listener_close(l2);
	ok("accept: deadline, cancellation, context deadline");

	/* A listener whose accept queue is full and never drained: the
	 * kernel drops further SYNs, so a dial hangs until its deadline. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 0) == 0, "raw listen");
	socklen_t alen = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &alen);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(a.sin_port));
	goc_conn *held[32];
	int nheld = 0, timed_out = 0;
	for (int i = 0; i < 32 && !timed_out; i++) {
		t0 = goc_now();
		goc_conn *c;
		int err = goc_dial("tcp", addr, t0 + 100 * MS, &c);
		if (err == 0) {
			held[nheld++] = c;
			continue;
		}
		CHECK(err == -ETIMEDOUT, "dial %d: %s after %lld ms", i, strerror(-err),
		      (long long)((goc_now() - t0) / MS));
		check_elapsed(t0, 100 * MS, "dial deadline");
		timed_out = 1;
	}
	CHECK(timed_out, "no dial timed out against a full backlog");
	ctx = goc_ctx_with_timeout(goc_ctx_background(), 50 * MS);
	int err = goc_dial_ctx("tcp", addr, ctx, &nc);
	CHECK(err == -ETIMEDOUT, "dial ctx deadline: %s", strerror(-err));
	goc_ctx_release(ctx);
	ctx = goc_ctx_with_cancel(goc_ctx_background());
	l = (struct later){.delay = 20 * MS, .ctx = ctx};
	start_later(&l, later_cancel);
	err = goc_dial_ctx("tcp", addr, ctx, &nc);
	CHECK(err == -ECANCELED, "dial cancelled: %s", strerror(-err));
	goc_wg_wait(&l.done);
	goc_ctx_release(ctx);
	ctx = goc_ctx_with_cancel(goc_ctx_background());
	goc_ctx_cancel(ctx);
	CHECK(goc_dial_ctx("tcp", ln_addr, ctx, &nc) == -ECANCELED, "dial with a cancelled ctx");
	goc_ctx_release(ctx);
	for (int i = 0; i < nheld; i++)
		goc_conn_close(held[i]);
	close(fd);
	err = goc_dial("tcp", "127.0.0.1:1", 0, &nc);
	CHECK(err == -ECONNREFUSED, "refused: %s", strerror(-err));
	CHECK(goc_dial("tcp", "127.0.0.1", 0, &nc) == -EINVAL, "no port");
	CHECK(goc_dial("udp", "127.0.0.1:1", 0, &nc) == -EINVAL, "bad network");
	CHECK(goc_dial("tcp", "::1:80", 0, &nc) == -EINVAL, "v6 without brackets");
	ok("dial: deadline and context against a full backlog; refused; bad addresses");
}

static void ctx_read_write(void)
{
	goc_conn *c, *s;
	conn_pair(ln, &c, &s);
	char buf[16];
	goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
	struct later l = {.delay = 20 * MS, .ctx = ctx};
	start_later(&l, later_cancel);
	CHECK(goc_conn_read_ctx(c, buf, sizeof buf, ctx) == -ECANCELED, "read cancelled");
	goc_wg_wait(&l.done);
	CHECK(goc_conn_read_ctx(c, buf, sizeof buf, ctx) == -ECANCELED, "already cancelled");
	goc_ctx_release(ctx);
	ctx = goc_ctx_with_timeout(goc_ctx_background(), 30 * MS);
	CHECK(goc_conn_read_ctx(c, buf, sizeof buf, ctx) == -ETIMEDOUT, "read ctx deadline");
	goc_ctx_release(ctx);
	/* The connection is still fine afterwards. */
	CHECK(goc_conn_write(s, "z", 1, NULL) == 1, "write");
	CHECK(goc_conn_read_ctx(c, buf, sizeof buf, goc_ctx_background()) == 1, "read");

	shrink_buffers(c, s);
	size_t big = 4 << 20;
	char *data = calloc(1, big);
	ctx = goc_ctx_with_cancel(goc_ctx_background());
	l = (struct later){.delay = 20 * MS, .ctx = ctx};
	start_later(&l, later_cancel);
	size_t written = 0;
	CHECK(goc_conn_write_ctx(c, data, big, &written, ctx) == -ECANCELED, "write cancelled");
	CHECK(written > 0 && written < big, "written %zu", written);
	goc_wg_wait(&l.done);
	goc_ctx_release(ctx);

	/* writev_ctx: cancelled while blocked, the iovecs advanced past
	 * what went out; already cancelled fails at once; a timeout. */
	goc_conn_close(c);
	goc_conn_close(s);
	conn_pair(ln, &c, &s);
	shrink_buffers(c, s);
	struct iovec iov[2] = {{data, big / 2}, {data + big / 2, big / 2}};
	ctx = goc_ctx_with_cancel(goc_ctx_background());
	l = (struct later){.delay = 20 * MS, .ctx = ctx};
	start_later(&l, later_cancel);
	CHECK(goc_conn_writev_ctx(c, iov, 2, &written, ctx) == -ECANCELED, "writev cancelled");
	CHECK(written > 0 && written < big && iov[0].iov_len + iov[1].iov_len == big - written,
	      "writev written %zu, left %zu", written, iov[0].iov_len + iov[1].iov_len);
	goc_wg_wait(&l.done);
	CHECK(goc_conn_writev_ctx(c, iov, 2, &written, ctx) == -ECANCELED && written == 0,
	      "writev already cancelled");
	goc_ctx_release(ctx);
	ctx = goc_ctx_with_timeout(goc_ctx_background(), 30 * MS);
	CHECK(goc_conn_writev_ctx(c, iov, 2, &written, ctx) == -ETIMEDOUT, "writev ctx deadline");
	goc_ctx_release(ctx);
	CHECK(goc_conn_writev_ctx(c, iov, -1, &written, NULL) == -EINVAL && written == 0,
	      "writev negative count");
	free(data);
	goc_conn_close(c);
	goc_conn_close(s);
	ok("context cancellation and deadline in read and write");
}

static void close_while_blocked(void)
{
	goc_conn *c, *s;
	conn_pair(ln, &c, &s);
	char buf[16];
	struct later l = {.delay = 20 * MS, .conn = c};
	start_later(&l, later_close);
	CHECK(goc_conn_read(c, buf, sizeof buf) == -EBADF, "read on a conn closed meanwhile");
	goc_wg_wait(&l.done);
	/* The peer sees EOF once the fd is really closed. */
	CHECK(goc_conn_read(s, buf, sizeof buf) == 0, "peer EOF");
	goc_conn_close(s);

	conn_pair(ln, &c, &s);
	shrink_buffers(c, s);
	size_t big = 4 << 20;
	char *data = calloc(1, big);
	l = (struct later){.delay = 20 * MS, .conn = c};
	start_later(&l, later_close);
	size_t written;
	CHECK(goc_conn_write(c, data, big, &written) == -EBADF, "write on a conn closed meanwhile");
	goc_wg_wait(&l.done);
	free(data);
	goc_conn_close(s);

	goc_listener *l2;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &l2) == 0, "listen");
	l = (struct later){.delay = 20 * MS, .ln = l2};
	start_later(&l, later_close);
	CHECK(goc_accept(l2, &c) == -EBADF, "accept on a listener closed meanwhile");
	goc_wg_wait(&l.done);
	ok("close from another goroutine wakes read, write and accept with -EBADF");
}

static void misuse_null(void *arg)
{
	(void)arg;
	char buf[4];
	goc_conn_read(NULL, buf, sizeof buf);
}

static void misuse_after_close(void *arg)
{
	(void)arg;
	goc_listener *l2;
	goc_conn *c;
	goc_listen("tcp", "127.0.0.1:0", &l2);
	goc_listener_close(l2);
	goc_accept(l2, &c);
}

static void misuse(void)
{
	child_result r = run_child(misuse_null, NULL, NULL);
	CHECK(!r.exited && contains(r.out, "goc_conn_read: NULL handle"), "NULL: %s", r.out);
	free(r.out);
	r = run_child(misuse_after_close, NULL, NULL);
	CHECK(!r.exited && contains(r.out, "goc_accept: use of a closed handle"), "closed: %s",
	      r.out);
	free(r.out);
	ok("misuse: NULL handle and use after close panic");
}

static void main_goroutine(void *arg)
{
	(void)arg;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	goc_listener_addr(ln, ln_addr, sizeof ln_addr);
	read_deadlines();
	write_deadline_and_partial();
	partial_writes();
	ctx_read_write();
	accept_and_dial_deadlines();
	close_while_blocked();
	goc_listener_close(ln);
}

int main(void)
{
	misuse();
	goc_main(main_goroutine, NULL);
	return 0;
}
