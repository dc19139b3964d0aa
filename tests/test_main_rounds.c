/*
 * test_main_rounds.c — goc_main called many times in one process never
 * reports a deadlock that is not there.
 *
 * A goroutine counted by the deadlock check but not yet in any run queue
 * looks exactly like a deadlock to an M going idle. This test runs goc_main
 * round after round, each round racing the windows where that can happen:
 *  - the main goroutine's own start (goc_main's thread stops counting as a
 *    plain thread that might wake someone);
 *  - 64 goroutines spawned and waited for with a goc_wg;
 *  - a plain thread, new in each round, that spawns a goroutine and ends;
 *  - goroutines woken by timers (goc_sleep) and by the netpoller (a pipe
 *    written by another goroutine), racing the Ms that go idle.
 * Any false report kills the process with status 2 and the dump; a hang is
 * caught by ctest's timeout. Run with GOCMAXPROCS 1 and 2 (see
 * CMakeLists.txt) and in every build.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "testutil.h"

static goc_wg wg;
static _Atomic long ran;

static void worker(void *arg)
{
	(void)arg;
	ran++;
	goc_wg_done(&wg);
}

static void sleeper(void *arg)
{
	(void)arg;
	goc_sleep(GOC_MICROSECOND * 50);
	ran++;
	goc_wg_done(&wg);
}

static int pipefd[2];

static void pipe_reader(void *arg)
{
	(void)arg;
	char c;
	for (;;) {
		int r = goc_fd_wait(pipefd[0], GOC_FD_READ, 0);
		CHECK(r > 0, "goc_fd_wait: %d", r);
		if (read(pipefd[0], &c, 1) == 1)
			break;
	}
	ran++;
	goc_wg_done(&wg);
}

static void pipe_writer(void *arg)
{
	(void)arg;
	goc_yield();
	CHECK(write(pipefd[1], "x", 1) == 1, "pipe write");
	goc_wg_done(&wg);
}

static void *plain_thread(void *arg)
{
	(void)arg;
	CHECK(goc_go(worker, NULL) > 0, "goc_go from a plain thread");
	return NULL;
}

static void phase(void *arg)
{
	long round = (long)arg;
	goc_wg_add(&wg, 64);
	for (int i = 0; i < 64; i++)
		CHECK(goc_go(i % 16 == 0 ? sleeper : worker, NULL) > 0, "goc_go");
	if (round % 4 == 0) {
		goc_wg_add(&wg, 1);
		pthread_t t;
		CHECK(pthread_create(&t, NULL, plain_thread, NULL) == 0, "pthread_create");
		pthread_detach(t);
	}
	if (round % 4 == 1) {
		goc_wg_add(&wg, 2);
		goc_go(pipe_reader, NULL);
		goc_go(pipe_writer, NULL);
	}
	goc_wg_wait(&wg);
}

int main(void)
{
	CHECK(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2");
	goc_wg_init(&wg);
	long rounds = test_size(3000, 400, 200);
	for (long r = 0; r < rounds; r++)
		goc_main(phase, (void *)r);
	CHECK(ran >= rounds * 64, "ran %ld goroutines in %ld rounds", (long)ran, rounds);
	ok("goc_main rounds");
	return 0;
}
