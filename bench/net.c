/*
 * net.c — the netpoller: TCPEcho.
 *
 * An echo server on 127.0.0.1 with a goroutine per connection, and 256
 * client goroutines with a connection each doing 64-byte round trips, as
 * the specification (and bench/go/net.go) define it. Every socket has a
 * deadline 60 s after the start and TCP_NODELAY (goc sets it on every TCP
 * connection, as Go's net does).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define ECHO_CONNS 256
#define ECHO_MSG_SIZE 64
#define ECHO_LIMIT (60 * GOC_SECOND)

struct echo_shared;

/* A server goroutine's connection. */
struct echo_server {
	struct echo_shared *sh;
	goc_conn *conn;
};

struct echo_shared {
	goc_listener *ln;
	int64_t deadline;
	goc_wg servers;    /* the acceptor and every server goroutine */
	goc_chan *release; /* closed to start the clients */
	goc_wg clients;
	struct echo_server server[ECHO_CONNS];
};

/* Reads exactly len bytes; 0 at a clean EOF before the first byte, 1 when
 * done, or the negative errno. */
static int read_full(goc_conn *c, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = goc_conn_read(c, buf + got, len - got);
		if (n == 0)
			return got == 0 ? 0 : -EPIPE;
		if (n < 0)
			return (int)n;
		got += (size_t)n;
	}
	return 1;
}

static void serve_echo(void *arg)
{
	struct echo_server *server = arg;
	goc_conn *c = server->conn;
	unsigned char msg[ECHO_MSG_SIZE];
	for (;;) {
		int r = read_full(c, msg, sizeof msg);
		if (r == 0)
			break;
		if (r < 0)
			bench_fail("server read: %s", strerror(-r));
		ssize_t w = goc_conn_write(c, msg, sizeof msg, NULL);
		if (w < 0)
			bench_fail("server write: %s", strerror((int)-w));
	}
	goc_conn_close(c);
	goc_wg_done(&server->sh->servers);
}

static void accept_echo_conns(void *arg)
{
	struct echo_shared *sh = arg;
	for (int i = 0; i < ECHO_CONNS; i++) {
		struct echo_server *server = &sh->server[i];
		int err = goc_accept(sh->ln, &server->conn);
		if (err)
			bench_fail("accept: %s", strerror(-err));
		if (goc_conn_set_deadline(server->conn, sh->deadline) < 0)
			bench_fail("set deadline");
		server->sh = sh;
		goc_wg_add(&sh->servers, 1);
		bench_go(serve_echo, server);
	}
	goc_wg_done(&sh->servers);
}

/* One round trip of message seq of client c; returns its latency. */
static int64_t round_trip(goc_conn *conn, int64_t c, int64_t seq, unsigned char *buf)
{
	unsigned char *msg = buf, *reply = buf + ECHO_MSG_SIZE;
	for (int k = 0; k < 8; k++) {
		msg[k] = (unsigned char)((uint64_t)c >> (8 * k));
		msg[8 + k] = (unsigned char)((uint64_t)seq >> (8 * k));
	}
	for (int k = 16; k < ECHO_MSG_SIZE; k++)
		msg[k] = (unsigned char)k;
	int64_t t = goc_now();
	ssize_t w = goc_conn_write(conn, msg, ECHO_MSG_SIZE, NULL);
	if (w < 0)
		bench_fail("client %" PRId64 " write: %s", c, strerror((int)-w));
	int r = read_full(conn, reply, ECHO_MSG_SIZE);
	if (r <= 0)
		bench_fail("client %" PRId64 " read: %s", c, r ? strerror(-r) : "EOF");
	int64_t took = goc_now() - t;
	if (memcmp(msg, reply, ECHO_MSG_SIZE) != 0)
		bench_fail("client %" PRId64 " round trip %" PRId64 ": the echo differs", c, seq);
	return took;
}

struct echo_client {
	struct echo_shared *sh;
	goc_conn *conn;
	int64_t index;
	int64_t trips;
	int64_t *latencies;
};

static void client_body(void *arg)
{
	struct echo_client *cl = arg;
	unsigned char buf[2 * ECHO_MSG_SIZE];
	goc_chan_recv(cl->sh->release, NULL);
	for (int64_t i = 0; i < cl->trips; i++)
		cl->latencies[i] = round_trip(cl->conn, cl->index, i, buf);
	goc_wg_done(&cl->sh->clients);
}

void bench_tcp_echo(struct bench_run *run)
{
	struct echo_shared *sh = bench_alloc(1, sizeof *sh);
	sh->deadline = goc_now() + ECHO_LIMIT;
	int err = goc_listen("tcp4", "127.0.0.1:0", &sh->ln);
	if (err)
		bench_fail("listen: %s", strerror(-err));
	goc_listener_set_deadline(sh->ln, sh->deadline);
	char addr[64];
	if (goc_listener_addr(sh->ln, addr, sizeof addr) < 0)
		bench_fail("listener address");
	goc_wg_init(&sh->servers);
	goc_wg_add(&sh->servers, 1);
	bench_go(accept_echo_conns, sh);

	struct echo_client *clients = bench_alloc(ECHO_CONNS, sizeof *clients);
	int64_t *latencies = bench_alloc((size_t)run->n, sizeof *latencies);
	unsigned char buf[2 * ECHO_MSG_SIZE];
	int64_t offset = 0;
	for (int64_t c = 0; c < ECHO_CONNS; c++) {
		struct echo_client *cl = &clients[c];
		err = goc_dial("tcp", addr, sh->deadline, &cl->conn);
		if (err)
			bench_fail("dial: %s", strerror(-err));
		goc_conn_set_deadline(cl->conn, sh->deadline);
		round_trip(cl->conn, c, -1, buf);
		cl->sh = sh;
		cl->index = c;
		cl->trips = run->n / ECHO_CONNS + (c < run->n % ECHO_CONNS ? 1 : 0);
		cl->latencies = latencies + offset;
		offset += cl->trips;
	}

	sh->release = bench_chan(0, 0);
	goc_wg_init(&sh->clients);
	goc_wg_add(&sh->clients, ECHO_CONNS);
	for (int c = 0; c < ECHO_CONNS; c++)
		bench_go(client_body, &clients[c]);

	bench_start(run);
	goc_chan_close(sh->release);
	goc_wg_wait(&sh->clients);
	bench_stop(run);

	/* The servers see EOF once their peers are closed, and finish. */
	for (int c = 0; c < ECHO_CONNS; c++)
		goc_conn_close(clients[c].conn);
	goc_wg_wait(&sh->servers);
	goc_listener_close(sh->ln);
	if (run->elapsed_ns > ECHO_LIMIT)
		bench_fail("took %" PRId64 " ms, longer than the 60 s limit",
			   run->elapsed_ns / GOC_MILLISECOND);
	bench_add_metric(run, (double)run->n * 1e9 / (double)run->elapsed_ns, "ops/s");
	bench_add_latencies(run, latencies, (size_t)run->n);
	goc_chan_release(sh->release);
	free(latencies);
	free(clients);
	free(sh);
}
