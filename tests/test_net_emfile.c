/*
 * test_net_emfile.c — accept when the process is out of fds (EMFILE), in a
 * child process with a lowered RLIMIT_NOFILE:
 *
 *  - three clients connect while every fd is taken: goc_accept does not
 *    return an error and does not spin (it backs off with sleeps: the
 *    process uses almost no CPU meanwhile);
 *  - once fds are freed, the same listener accepts all three connections
 *    and data flows over them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#define MS GOC_MILLISECOND
enum { CLIENTS = 3, MAX_FILLERS = 256 };

static goc_listener *ln;
static int accepted; /* atomic */
static goc_conn *conns[CLIENTS];

static void acceptor(void *arg)
{
	(void)arg;
	for (int i = 0; i < CLIENTS; i++) {
		int err = goc_accept(ln, &conns[i]);
		CHECK(err == 0, "accept: %s", strerror(-err));
		__atomic_fetch_add(&accepted, 1, __ATOMIC_SEQ_CST);
	}
}

static int64_t cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * GOC_SECOND +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * GOC_MICROSECOND;
}

static void emfile_main(void *arg)
{
	(void)arg;
	CHECK(goc_listen("tcp4", "127.0.0.1:0", &ln) == 0, "listen");
	struct sockaddr_in a;
	socklen_t alen = sizeof a;
	CHECK(getsockname(goc_listener_fd(ln), (struct sockaddr *)&a, &alen) == 0, "getsockname");
	/* Clients connect with plain blocking sockets: the kernel completes
	 * the handshakes, the connections wait in the accept queue. */
	int clients[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		clients[i] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(clients[i] >= 0 && connect(clients[i], (struct sockaddr *)&a, alen) == 0,
		      "connect: %s", strerror(errno));
	}
	/* Take every fd left. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int probe = dup(0);
	CHECK(probe >= 0, "dup");
	close(probe);
	rl.rlim_cur = (rlim_t)probe + 16;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
	int fillers[MAX_FILLERS], nfillers = 0;
	for (;;) {
		int fd = dup(0);
		if (fd < 0) {
			CHECK(errno == EMFILE, "dup: %s", strerror(errno));
			break;
		}
		CHECK(nfillers < MAX_FILLERS, "too many fillers");
		fillers[nfillers++] = fd;
	}
	int64_t cpu0 = cpu_ns(), t0 = goc_now();
	goc_go(acceptor, NULL);
	goc_sleep(300 * MS);
	CHECK(__atomic_load_n(&accepted, __ATOMIC_SEQ_CST) == 0, "accepted without fds");
	int64_t cpu = cpu_ns() - cpu0, wall = goc_now() - t0;
	CHECK(cpu < wall / 4, "accept spins at EMFILE: %lld ms of CPU in %lld ms",
	      (long long)(cpu / MS), (long long)(wall / MS));
	ok("EMFILE: accept backs off without returning and without spinning");

	for (int i = 0; i < nfillers; i++)
		close(fillers[i]);
	while (__atomic_load_n(&accepted, __ATOMIC_SEQ_CST) < CLIENTS) {
		CHECK(goc_now() - t0 < 10 * GOC_SECOND, "accept did not resume");
		goc_sleep(5 * MS);
	}
	for (int i = 0; i < CLIENTS; i++) {
		char msg[16], buf[16];
		int len = snprintf(msg, sizeof msg, "client %d", i);
		CHECK(write(clients[i], msg, (size_t)len) == len, "client write");
		/* Accept order matches connect order on one listener. */
		CHECK(goc_conn_read(conns[i], buf, sizeof buf) == len &&
			      !memcmp(msg, buf, (size_t)len),
		      "read through accepted conn %d", i);
		goc_conn_close(conns[i]);
		close(clients[i]);
	}
	goc_conn *c;
	CHECK(goc_listener_set_deadline(ln, goc_now() + 20 * MS) == 0, "deadline");
	CHECK(goc_accept(ln, &c) == -ETIMEDOUT, "listener still answers");
	goc_listener_close(ln);
	ok("after fds are freed the listener accepts every queued connection");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "emfile")) {
		goc_main(emfile_main, NULL);
		return 0;
	}
	child_result r = run_self(argv[0], "emfile", NULL);
	fputs(r.out ? r.out : "", stdout);
	CHECK(r.exited && r.status == 0, "child failed (status %d)", r.status);
	free(r.out);
	return 0;
}
