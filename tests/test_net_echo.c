/*
 * test_net_echo.c — echo servers over the netpoller, every byte checked:
 *
 *  - 1000 concurrent TCP connections over IPv4 loopback (fewer under the
 *    sanitizers), each sending messages of varied sizes (up to 64 KiB, so
 *    reads and writes are partial) and checking every echoed byte;
 *  - the same over IPv6 loopback (skipped when the machine has no ::1) and
 *    over a Unix socket (a path, and an abstract name);
 *  - listener and connection addresses; EOF after the peer closes and a
 *    half-closed connection (shutdown of the writing half: the peer reads
 *    EOF and can still answer); peer reset (ECONNRESET); a dial by host
 *    name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static goc_wg servers; /* one per accepted connection, until it is closed */

static void serve_echo(void *arg)
{
	goc_conn *c = arg;
	char buf[8192];
	for (;;) {
		ssize_t n = goc_conn_read(c, buf, sizeof buf);
		if (n == 0)
			break;
		CHECK(n > 0, "server read: %s", strerror((int)-n));
		size_t written;
		ssize_t w = goc_conn_write(c, buf, (size_t)n, &written);
		CHECK(w == n && written == (size_t)n, "server write: %zd", w);
	}
	goc_conn_close(c);
	goc_wg_done(&servers);
}

struct server {
	goc_listener *ln;
	long conns;
	goc_wg done;
};

static void accept_loop(void *arg)
{
	struct server *s = arg;
	for (long i = 0; i < s->conns; i++) {
		goc_conn *c;
		int err = goc_accept(s->ln, &c);
		CHECK(err == 0, "accept: %s", strerror(-err));
		goc_wg_add(&servers, 1);
		goc_go(serve_echo, c);
	}
	goc_wg_done(&s->done);
}

/* Fills buf with a pattern that depends on the client and the offset. */
static void pattern(unsigned char *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)((seed * 131 + i * 7 + (i >> 8)) & 0xff);
}

struct client {
	const char *network;
	char addr[128];
	long id;
	int rounds;
	goc_wg *done;
	int64_t *bytes;
};

static void client(void *arg)
{
	struct client *cl = arg;
	goc_conn *c;
	int err = goc_dial(cl->network, cl->addr, goc_now() + 30 * GOC_SECOND, &c);
	CHECK(err == 0, "dial %s %s: %s", cl->network, cl->addr, strerror(-err));
	static const size_t sizes[] = {1, 64, 1000, 4096, 65536, 17};
	unsigned char *sendbuf = malloc(65536), *recvbuf = malloc(65536);
	CHECK(sendbuf && recvbuf, "malloc");
	for (int r = 0; r < cl->rounds; r++) {
		size_t len = sizes[(cl->id + r) % 6];
		pattern(sendbuf, len, (uint64_t)cl->id * 1000 + (uint64_t)r);
		/* A writer goroutine would be needed for messages larger than
		 * both socket buffers; 64 KiB fits loopback's. */
		ssize_t w = goc_conn_write(c, sendbuf, len, NULL);
		CHECK(w == (ssize_t)len, "client write: %zd", w);
		size_t got = 0;
		while (got < len) {
			ssize_t n = goc_conn_read(c, recvbuf + got, len - got);
			CHECK(n > 0, "client read: %zd (%s)", n, n < 0 ? strerror((int)-n) : "EOF");
			got += (size_t)n;
		}
		CHECK(memcmp(sendbuf, recvbuf, len) == 0, "echo differs (client %ld round %d)",
		      cl->id, r);
		__atomic_fetch_add(cl->bytes, (int64_t)len, __ATOMIC_RELAXED);
	}
	free(sendbuf);
	free(recvbuf);
	CHECK(goc_conn_close(c) == 0, "close");
	goc_wg_done(cl->done);
}

static void echo_many(const char *network, const char *listen_addr, long conns, int rounds,
		      const char *name)
{
	struct server s = {.conns = conns};
	int err = goc_listen(network, listen_addr, &s.ln);
	CHECK(err == 0, "listen %s %s: %s", network, listen_addr, strerror(-err));
	goc_wg_init(&s.done);
	goc_wg_add(&s.done, 1);
	goc_go(accept_loop, &s);
	char addr[128];
	CHECK(goc_listener_addr(s.ln, addr, sizeof addr) > 0, "listener addr");
	struct client *cls = calloc((size_t)conns, sizeof *cls);
	goc_wg done;
	goc_wg_init(&done);
	goc_wg_add(&done, conns);
	int64_t bytes = 0;
	for (long i = 0; i < conns; i++) {
		cls[i] = (struct client){.network = network,
					 .id = i,
					 .rounds = rounds,
					 .done = &done,
					 .bytes = &bytes};
		snprintf(cls[i].addr, sizeof cls[i].addr, "%s", addr);
		goc_go(client, &cls[i]);
	}
	goc_wg_wait(&done);
	goc_wg_wait(&s.done);
	goc_wg_wait(&servers);
	CHECK(goc_listener_close(s.ln) == 0, "listener close");
	free(cls);
	char msg[160];
	snprintf(msg, sizeof msg, "%s: %ld connections, %lld bytes echoed and checked", name, conns,
		 (long long)bytes);
	ok(msg);
}

static bool have_ipv6_loopback(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok6 = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok6;
}

static void addresses_eof_halfclose_reset(void)
{
	goc_listener *ln;
	CHECK(goc_listen("tcp4", "127.0.0.1:0", &ln) == 0, "listen");
	char addr[64], local[64], remote[64], peer_local[64];
	CHECK(goc_listener_addr(ln, addr, sizeof addr) > 0, "addr");
	CHECK(strncmp(addr, "127.0.0.1:", 10) == 0, "addr %s", addr);
	CHECK(goc_listener_addr(ln, addr, 4) == -ENOSPC, "small buffer");
	goc_listener_addr(ln, addr, sizeof addr);
	goc_conn *c, *s;
	CHECK(goc_dial("tcp", addr, 0, &c) == 0, "dial");
	CHECK(goc_accept(ln, &s) == 0, "accept");
	CHECK(goc_conn_remote_addr(c, remote, sizeof remote) > 0 && !strcmp(remote, addr),
	      "remote %s", remote);
	CHECK(goc_conn_local_addr(c, local, sizeof local) > 0, "local");
	CHECK(goc_conn_remote_addr(s, peer_local, sizeof peer_local) > 0 &&
		      !strcmp(local, peer_local),
	      "peer sees %s, we are %s", peer_local, local);

	/* Half close: c shuts its writing half; s reads EOF and still
	 * answers; c reads the answer, then EOF when s closes. */
	CHECK(goc_conn_write(c, "ping", 4, NULL) == 4, "write");
	CHECK(goc_conn_shutdown(c, GOC_SHUT_WRITE) == 0, "shutdown");
	CHECK(goc_conn_shutdown(c, 7) == -EINVAL, "bad how");
	char buf[16];
	CHECK(goc_conn_read(s, buf, sizeof buf) == 4 && !memcmp(buf, "ping", 4), "read ping");
	CHECK(goc_conn_read(s, buf, sizeof buf) == 0, "EOF after the peer's shutdown");
	CHECK(goc_conn_read(s, buf, 0) == 0, "zero-length read");
	CHECK(goc_conn_write(s, "pong", 4, NULL) == 4, "answer on a half-closed connection");
	CHECK(goc_conn_read(c, buf, sizeof buf) == 4 && !memcmp(buf, "pong", 4), "read pong");
	CHECK(goc_conn_close(s) == 0, "close");
	CHECK(goc_conn_read(c, buf, sizeof buf) == 0, "EOF after close");
	CHECK(goc_conn_close(c) == 0, "close");
	ok("addresses, EOF, half-closed connection");

	/* Reset: s closes with unread data (or SO_LINGER 0): c's read gets
	 * ECONNRESET, and a write after that EPIPE or ECONNRESET. */
	CHECK(goc_dial("tcp", addr, 0, &c) == 0 && goc_accept(ln, &s) == 0, "dial/accept");
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	CHECK(setsockopt(goc_conn_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0, "linger");
	CHECK(goc_conn_close(s) == 0, "close");
	ssize_t r = goc_conn_read(c, buf, sizeof buf);
	CHECK(r == -ECONNRESET, "read after reset: %zd", r);
	size_t written = 99;
	r = goc_conn_write(c, buf, 4, &written);
	CHECK((r == -EPIPE || r == -ECONNRESET) && written == 0, "write after reset: %zd", r);
	CHECK(goc_conn_close(c) == 0, "close");
	ok("peer reset: ECONNRESET");

	/* A host name goes through getaddrinfo; every address it gives is
	 * tried (localhost may be ::1 first, the listener is IPv4 only). */
	char named[64];
	snprintf(named, sizeof named, "localhost%s", strrchr(addr, ':'));
	int err = goc_dial("tcp", named, goc_now() + 10 * GOC_SECOND, &c);
	CHECK(err == 0, "dial %s: %s", named, strerror(-err));
	CHECK(goc_accept(ln, &s) == 0, "accept");
	goc_conn_close(c);
	goc_conn_close(s);
	CHECK(goc_listener_close(ln) == 0, "close listener");
	ok("dial by host name (localhost)");

	/* ":port" listens on every interface: reachable over IPv4. */
	CHECK(goc_listen("tcp", ":0", &ln) == 0, "listen :0");
	CHECK(goc_listener_addr(ln, addr, sizeof addr) > 0, "addr");
	snprintf(named, sizeof named, "127.0.0.1%s", strrchr(addr, ':'));
	err = goc_dial("tcp", named, goc_now() + 10 * GOC_SECOND, &c);
	CHECK(err == 0, "dial %s (listening on %s): %s", named, addr, strerror(-err));
	CHECK(goc_accept(ln, &s) == 0, "accept");
	goc_conn_close(c);
	goc_conn_close(s);
	CHECK(goc_listener_close(ln) == 0, "close listener");
	ok("listen on \":port\": every interface");

	/* Name-resolution failures have codes of their own, never an errno
	 * (EAI_NONAME read as an errno said "No such file or directory"). A
	 * .invalid name never exists (RFC 6761); a resolver that cannot be
	 * reached answers for now. An IPv4 literal has no IPv6 address. */
	err = goc_dial("tcp", "no-such-host.invalid:80", goc_now() + 10 * GOC_SECOND, &c);
	CHECK(err == GOC_ENOHOST || err == GOC_EDNSAGAIN, "dial no-such-host.invalid: %d (%s)", err,
	      goc_strerror(err));
	CHECK(!strcmp(goc_strerror(GOC_ENOHOST), "no such host") &&
		      !strcmp(goc_strerror(GOC_EDNSAGAIN),
			      "temporary failure in name resolution") &&
		      !strcmp(goc_strerror(GOC_EDNSFAIL), "name resolution failed"),
	      "goc_strerror of the name-resolution codes");
	err = goc_dial("tcp6", "127.0.0.1:80", 0, &c);
	CHECK(err == GOC_ENOHOST, "tcp6 to an IPv4 literal: %d (%s)", err, goc_strerror(err));
	ok("name-resolution failures: GOC_ENOHOST / GOC_EDNSAGAIN, named by goc_strerror");
}

static void main_goroutine(void *arg)
{
	(void)arg;
	addresses_eof_halfclose_reset();
	long conns = test_size(1000, 300, 200);
	echo_many("tcp", "127.0.0.1:0", conns, 6, "TCP over IPv4");
	if (have_ipv6_loopback())
		echo_many("tcp6", "[::1]:0", test_size(200, 100, 50), 6, "TCP over IPv6");
	else
		ok("TCP over IPv6: skipped, no ::1 on this machine");
	char path[64];
	snprintf(path, sizeof path, "/tmp/goc-test-net-%d.sock", (int)getpid());
	unlink(path);
	echo_many("unix", path, test_size(200, 100, 50), 6, "Unix socket (path)");
	unlink(path);
	snprintf(path, sizeof path, "@goc-test-net-%d", (int)getpid());
	echo_many("unix", path, 20, 6, "Unix socket (abstract)");
}

int main(void)
{
	goc_main(main_goroutine, NULL);
	return 0;
}
