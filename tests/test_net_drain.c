/*
 * test_net_drain.c — reads that skip the system call after a drained read.
 *
 * A TCP read learns how many bytes the kernel still holds (TCP_INQ); after
 * one that left none, the next read parks at once unless an edge came in
 * meanwhile. These tests make sure no byte and no end of stream is ever
 * missed that way:
 *
 *  - data that arrives after a drained read wakes the next read, whether
 *    it arrives while the reader is parked or between its two reads;
 *  - reads smaller than what is queued never park (the rest is read at
 *    once), and the end of stream after a drained read returns 0;
 *  - a read deadline, a context and a close from another goroutine still
 *    end a read that parked without trying;
 *  - urgent (out-of-band) data: a read stops at the urgent mark with bytes
 *    still queued after it, and those bytes are read without a new edge;
 *  - a reset or a local shutdown(2) that follows drained data raises no new
 *    edge: the next read still goes to the kernel and ends;
 *  - a stress loop: a plain thread writes random-sized pieces with random
 *    pauses, a goroutine reads random sizes and checks every byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "waitfor.h"

#define MS GOC_MILLISECOND

static goc_listener *ln;

static void pair(goc_conn **client, goc_conn **server)
{
	conn_pair(ln, client, server);
	/* Every read below fails instead of hanging if a wake-up is lost. */
	goc_conn_set_read_deadline(*server, goc_now() + 10 * GOC_SECOND);
	goc_conn_set_read_deadline(*client, goc_now() + 10 * GOC_SECOND);
}

static void read_exact(goc_conn *c, char *buf, size_t len, const char *what)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = goc_conn_read(c, buf + got, len - got);
		CHECK(n > 0, "%s: read returned %zd (%s) after %zu of %zu bytes", what, n,
		      n < 0 ? strerror((int)-n) : "EOF", got, len);
		got += (size_t)n;
	}
}

struct writer {
	goc_conn *conn;
	int64_t delay;
	const char *data;
	size_t len;
	bool close_after;
	goc_wg done;
};

static void writer_body(void *arg)
{
	struct writer *w = arg;
	goc_sleep(w->delay);
	CHECK(goc_conn_write(w->conn, w->data, w->len, NULL) == (ssize_t)w->len, "write");
	if (w->close_after)
		goc_conn_close(w->conn);
	goc_wg_done(&w->done);
}

static void start_writer(struct writer *w)
{
	goc_wg_init(&w->done);
	goc_wg_add(&w->done, 1);
	CHECK(goc_go(writer_body, w) > 0, "go");
}

static void later_data(void)
{
	goc_conn *c, *s;
	pair(&c, &s);
	char buf[64];
	for (int round = 0; round < 50; round++) {
		/* Drain exactly what was sent: the kernel says nothing is left. */
		CHECK(goc_conn_write(c, "0123456789", 10, NULL) == 10, "write");
		read_exact(s, buf, 10, "first piece");
		CHECK(memcmp(buf, "0123456789", 10) == 0, "first piece bytes");
		/* Then more arrives: while the reader is parked (delay), or
		 * before it reads again (no delay, written before the read). */
		struct writer w = {.conn = c, .delay = 2 * MS, .data = "abcdefghij", .len = 10};
		if (round % 2 == 0)
			CHECK(goc_conn_write(c, w.data, w.len, NULL) == 10, "write");
		else
			start_writer(&w);
		read_exact(s, buf, 10, "second piece");
		CHECK(memcmp(buf, "abcdefghij", 10) == 0, "second piece bytes");
		if (round % 2)
			goc_wg_wait(&w.done);
	}
	goc_conn_close(c);
	goc_conn_close(s);
	ok("data after a drained read wakes the next read (parked or not yet)");
}

static void small_reads_and_eof(void)
{
	goc_conn *c, *s;
	pair(&c, &s);
	char data[1000];
	for (int i = 0; i < (int)sizeof data; i++)
		data[i] = (char)(i * 7);
	CHECK(goc_conn_write(c, data, sizeof data, NULL) == (ssize_t)sizeof data, "write");
	/* Wait until all of it is queued at the server, so small reads each
	 * leave bytes behind and no edge follows them. */
	char peek[sizeof data];
	WAIT_FOR(recv(goc_conn_fd(s), peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT) ==
			 (ssize_t)sizeof data,
		 "all bytes queued");
	char got[sizeof data];
	for (size_t off = 0; off < sizeof data; off += 10)
		read_exact(s, got + off, 10, "small read");
	CHECK(memcmp(got, data, sizeof data) == 0, "bytes in order");
	/* Drained; the end of stream comes later and must be seen. */
	struct writer w = {.conn = c, .delay = 5 * MS, .data = "x", .len = 1, .close_after = true};
	start_writer(&w);
	char one;
	read_exact(s, &one, 1, "last byte");
	CHECK(one == 'x', "last byte");
	CHECK(goc_conn_read(s, &one, 1) == 0, "EOF after a drained read");
	CHECK(goc_conn_read(s, &one, 1) == 0, "EOF again");
	goc_wg_wait(&w.done);
	goc_conn_close(s);
	ok("small reads never park with bytes queued; EOF after a drained read");
}

struct closer {
	goc_conn *conn;
	goc_wg done;
};

static void closer_body(void *arg)
{
	struct closer *k = arg;
	goc_sleep(10 * MS);
	goc_conn_close(k->conn);
	goc_wg_done(&k->done);
}

static void drained_then_ended(void)
{
	goc_conn *c, *s;
	pair(&c, &s);
	char buf[4];
	CHECK(goc_conn_write(c, "abcd", 4, NULL) == 4, "write");
	read_exact(s, buf, 4, "drain");
	goc_conn_set_read_deadline(s, goc_now() + 20 * MS);
	int64_t start = goc_now();
	CHECK(goc_conn_read(s, buf, 4) == -ETIMEDOUT, "deadline after a drained read");
	CHECK(goc_now() - start >= 19 * MS, "deadline waited");
	goc_conn_set_read_deadline(s, goc_now() + 10 * GOC_SECOND);

	CHECK(goc_conn_write(c, "efgh", 4, NULL) == 4, "write");
	read_exact(s, buf, 4, "read after the deadline was cleared");
	CHECK(memcmp(buf, "efgh", 4) == 0, "bytes after the deadline");

	goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 15 * MS);
	CHECK(goc_conn_read_ctx(s, buf, 4, ctx) == -ETIMEDOUT, "ctx deadline after a drained read");
	goc_ctx_cancel(ctx);
	goc_ctx_release(ctx);

	struct closer k = {.conn = s};
	goc_wg_init(&k.done);
	goc_wg_add(&k.done, 1);
	CHECK(goc_go(closer_body, &k) > 0, "go");
	CHECK(goc_conn_read(s, buf, 4) == -EBADF, "close after a drained read");
	goc_wg_wait(&k.done);
	goc_conn_close(c);
	ok("deadline, context and close end a read that parked without trying");
}

static void urgent_data(void)
{
	goc_conn *c, *s;
	pair(&c, &s);
	int fd = goc_conn_fd(c);
	CHECK(send(fd, "ab", 2, 0) == 2, "send");
	CHECK(send(fd, "U", 1, MSG_OOB) == 1, "send oob");
	CHECK(send(fd, "cd", 2, 0) == 2, "send");
	/* The urgent byte is out of band: the stream is "abcd", and the
	 * first read stops at the mark with "cd" still queued. */
	char peek[8];
	WAIT_FOR(recv(goc_conn_fd(s), peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT) >= 2,
		 "bytes queued");
	goc_sleep(5 * MS); /* let the segments after the mark arrive too */
	char buf[8];
	read_exact(s, buf, 4, "urgent stream");
	CHECK(memcmp(buf, "abcd", 4) == 0, "stream around the urgent byte: %.4s", buf);
	goc_conn_close(c);
	CHECK(goc_conn_read(s, buf, 1) == 0, "EOF");
	goc_conn_close(s);
	ok("a read stopped at the urgent mark does not strand the bytes after it");
}

/* A goroutine parked on I/O on another connection, so that the poller
 * harvests edges while the tests below sleep. */
static goc_conn *idle_c, *idle_s;

static void idle_reader(void *arg)
{
	(void)arg;
	char b;
	goc_conn_read(idle_s, &b, 1);
}

/* Data, then a reset or a local shutdown, both seen by the poller before
 * the reads: the first read drains the data (the kernel says nothing is
 * left), and the second must still reach the kernel, since no new edge
 * follows. */
static void hangup_after_data(void)
{
	conn_pair(ln, &idle_c, &idle_s);
	CHECK(goc_go(idle_reader, NULL) > 0, "go");
	goc_conn *c, *s;
	char buf[64];

	pair(&c, &s);
	CHECK(goc_conn_write(c, "hello", 5, NULL) == 5, "write");
	struct linger reset = {1, 0};
	CHECK(setsockopt(goc_conn_fd(c), SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0,
	      "linger");
	goc_conn_close(c); /* a reset right after the data */
	goc_sleep(50 * MS);
	read_exact(s, buf, 5, "data before the reset");
	ssize_t n = goc_conn_read(s, buf, sizeof buf);
	CHECK(n == -ECONNRESET, "read after the data and a reset: %zd (%s)", n,
	      n < 0 ? strerror((int)-n) : "EOF");
	goc_conn_close(s);

	pair(&c, &s);
	CHECK(goc_conn_write(c, "hello", 5, NULL) == 5, "write");
	goc_sleep(20 * MS);
	CHECK(goc_conn_shutdown(s, GOC_SHUT_READ | GOC_SHUT_WRITE) == 0, "shutdown");
	goc_sleep(20 * MS);
	n = goc_conn_read(s, buf, sizeof buf);
	CHECK(n == 5 || n == 0, "first read after a local shutdown: %zd", n);
	if (n == 5)
		n = goc_conn_read(s, buf, sizeof buf);
	CHECK(n == 0, "read after the data and a local shutdown: %zd (%s)", n,
	      n < 0 ? strerror((int)-n) : "data");
	goc_conn_close(s);
	goc_conn_close(c);

	goc_conn_close(idle_c);
	goc_conn_close(idle_s);
	ok("a reset or a local shutdown after drained data still ends the next read");
}

/* ---- stress ---- */

#define STRESS_BYTES (4 << 20)

struct stress {
	int fd;
	unsigned seed;
};

static unsigned next_rand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void *stress_writer(void *arg)
{
	struct stress *st = arg;
	static char chunk[4096];
	size_t sent = 0;
	unsigned seed = st->seed;
	while (sent < STRESS_BYTES) {
		size_t len = 1 + next_rand(&seed) % sizeof chunk;
		if (len > STRESS_BYTES - sent)
			len = STRESS_BYTES - sent;
		for (size_t i = 0; i < len; i++)
			chunk[i] = (char)((sent + i) * 31 + ((sent + i) >> 9));
		/* A blocking write from a plain thread (the fd is non-blocking:
		 * wait with poll when full). */
		size_t off = 0;
		while (off < len) {
			ssize_t n = send(st->fd, chunk + off, len - off, MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN) {
				usleep(50);
				continue;
			}
			CHECK(n > 0, "stress send: %s", strerror(errno));
			off += (size_t)n;
		}
		sent += len;
		if (next_rand(&seed) % 8 == 0) {
			struct timespec pause = {0, (long)(next_rand(&seed) % 200) * 1000};
			nanosleep(&pause, NULL);
		}
	}
	shutdown(st->fd, SHUT_WR);
	return NULL;
}

static void stress(void)
{
	goc_conn *c, *s;
	pair(&c, &s);
	goc_conn_set_read_deadline(s, goc_now() + 60 * GOC_SECOND);
	struct stress st = {.fd = goc_conn_fd(c), .seed = (unsigned)goc_now()};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, stress_writer, &st) == 0, "thread");
	static char buf[8192];
	size_t got = 0;
	unsigned seed = st.seed ^ 0x5bd1e995u;
	for (;;) {
		size_t want = 1 + next_rand(&seed) % sizeof buf;
		ssize_t n = goc_conn_read(s, buf, want);
		CHECK(n >= 0, "stress read: %s after %zu bytes", strerror((int)-n), got);
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			CHECK(buf[i] == (char)((got + (size_t)i) * 31 + ((got + (size_t)i) >> 9)),
			      "byte %zu", got + (size_t)i);
		got += (size_t)n;
	}
	CHECK(got == STRESS_BYTES, "stress: %zu bytes of %d", got, STRESS_BYTES);
	pthread_join(t, NULL);
	goc_conn_close(c);
	goc_conn_close(s);
	ok("stress: random writes and pauses against random reads, every byte");
}

static void main_goroutine(void *arg)
{
	(void)arg;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	later_data();
	small_reads_and_eof();
	drained_then_ended();
	urgent_data();
	hangup_after_data();
	stress();
	goc_listener_close(ln);
}

int main(void)
{
	goc_main(main_goroutine, NULL);
	return 0;
}
