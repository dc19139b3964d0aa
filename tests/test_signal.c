/*
 * test_signal.c — goc_signal_notify, goc_signal_stop and
 * goc_ctx_with_signals, each in a child process of its own (run_self), at
 * GOCMAXPROCS=1 and 2:
 *  - "notify": SIGUSR1 blocked in every thread (signalfd's path) and
 *    SIGUSR2 taken by a plain thread's handler both arrive on their
 *    channels, several times; goroutines run with the takeable signals
 *    blocked and the runtime's own (SIGURG, SIGPROF, SIGQUIT, SIGSEGV)
 *    not; arguments goc refuses; goc_ctx_with_signals is cancelled by a
 *    signal and stops cleanly when cancelled first.
 *  - "wait": the main goroutine waits for a signal that a goroutine sends
 *    100 ms later: not reported as a deadlock meanwhile.
 *  - "stop_default": after goc_signal_stop, SIGTERM kills the process again.
 *  - "stop_deadlock": after goc_signal_stop, a real deadlock is reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int recv_sig(goc_chan *c)
{
	int sig = 0;
	CHECK(goc_chan_recv(c, &sig) == GOC_OK, "recv");
	return sig;
}

static void check_goroutine_mask(void *arg)
{
	goc_wg *wg = arg;
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	CHECK(sigismember(&cur, SIGINT) && sigismember(&cur, SIGTERM) &&
		      sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGHUP),
	      "a goroutine's thread must block the takeable signals");
	CHECK(!sigismember(&cur, SIGURG) && !sigismember(&cur, SIGPROF) &&
		      !sigismember(&cur, SIGQUIT) && !sigismember(&cur, SIGSEGV) &&
		      !sigismember(&cur, SIGBUS),
	      "a goroutine's thread must not block the runtime's signals");
	goc_wg_done(wg);
}

/* A plain thread that takes SIGUSR2 (every other thread blocks it), in
 * a sleep TSan can deliver signals in. */
static int plain_thread_stop; /* atomic */
static void *plain_thread(void *arg)
{
	(void)arg;
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
	while (!__atomic_load_n(&plain_thread_stop, __ATOMIC_ACQUIRE))
		usleep(1000);
	return NULL;
}

static void notify_main(void *arg)
{
	(void)arg;
	goc_wg wg = GOC_WG_INIT;
	goc_wg_add(&wg, 8);
	for (int i = 0; i < 8; i++)
		goc_go(check_goroutine_mask, &wg);
	goc_wg_wait(&wg);

	goc_chan *c1 = goc_chan_make(sizeof(int), 1);
	goc_chan *c2 = goc_chan_make(sizeof(int), 4);
	goc_chan *wide = goc_chan_make(sizeof(int64_t), 1);
	static const int usr1[] = {SIGUSR1}, usr2[] = {SIGUSR2}, segv[] = {SIGSEGV},
			 quit[] = {SIGQUIT};
	CHECK(goc_signal_notify(wide, usr1, 1) == -EINVAL, "an int64_t channel: want -EINVAL");
	CHECK(goc_signal_notify(c1, segv, 1) == -EINVAL, "SIGSEGV: want -EINVAL");
	CHECK(goc_signal_notify(c1, quit, 1) == -EINVAL, "SIGQUIT: want -EINVAL");
	CHECK(goc_signal_notify(c1, usr1, 0) == -EINVAL, "no signals: want -EINVAL");
	goc_chan_release(wide);

	CHECK(goc_signal_notify(c1, usr1, 1) == 0, "notify SIGUSR1");
	CHECK(goc_signal_notify(c2, usr2, 1) == 0, "notify SIGUSR2");
	CHECK(goc_signal_notify(c2, usr1, 1) == 0, "c2 takes SIGUSR1 too");
	for (int round = 0; round < 3; round++) {
		kill(getpid(), SIGUSR1);
		CHECK(recv_sig(c1) == SIGUSR1, "c1: want SIGUSR1");
		CHECK(recv_sig(c2) == SIGUSR1, "c2: want SIGUSR1");
		kill(getpid(), SIGUSR2);
		CHECK(recv_sig(c2) == SIGUSR2, "c2: want SIGUSR2");
		CHECK(goc_chan_try_recv(c1, NULL) == GOC_WOULDBLOCK, "c1 never takes SIGUSR2");
	}
	goc_signal_stop(c2);
	goc_signal_stop(c2); /* harmless */
	kill(getpid(), SIGUSR1);
	CHECK(recv_sig(c1) == SIGUSR1, "c1 still takes SIGUSR1");
	CHECK(goc_chan_try_recv(c2, NULL) == GOC_WOULDBLOCK, "c2 stopped");
	goc_signal_stop(c1);
	goc_chan_release(c1);
	goc_chan_release(c2);
	ok("goc_signal_notify: signalfd and handler paths, several channels, stop");

	goc_ctx *ctx = goc_ctx_with_signals(goc_ctx_background(), usr1, 1);
	CHECK(ctx && goc_ctx_err(ctx) == GOC_OK, "goc_ctx_with_signals");
	kill(getpid(), SIGUSR1);
	CHECK(goc_chan_recv(goc_ctx_done(ctx), NULL) == GOC_CLOSED, "done closed");
	CHECK(goc_ctx_err(ctx) == GOC_CANCELED, "want GOC_CANCELED");
	goc_ctx_cancel(ctx);
	goc_ctx_release(ctx);

	goc_ctx *parent = goc_ctx_with_cancel(goc_ctx_background());
	ctx = goc_ctx_with_signals(parent, usr2, 1);
	CHECK(ctx, "goc_ctx_with_signals");
	goc_ctx_cancel(parent);
	CHECK(goc_chan_recv(goc_ctx_done(ctx), NULL) == GOC_CLOSED, "cancelled with its parent");
	goc_ctx_cancel(ctx);
	goc_ctx_release(ctx);
	goc_ctx_release(parent);
	errno = 0;
	CHECK(!goc_ctx_with_signals(goc_ctx_background(), segv, 1) && errno == EINVAL,
	      "goc_ctx_with_signals(SIGSEGV): want NULL, EINVAL");
	ok("goc_ctx_with_signals: cancelled by a signal, or with its parent");
	/* The watcher leaves once nothing is registered. */
	for (int i = 0; i < 200 && goc_num_goroutine() > 1; i++)
		goc_sleep(5 * GOC_MILLISECOND);
	CHECK(goc_num_goroutine() == 1, "%lld goroutines left", (long long)goc_num_goroutine());
	printf("notify done\n");
}

static void run_notify(void)
{
	/* SIGUSR1 and SIGUSR2 blocked here (and so in every thread started
	 * from here on); the plain thread takes SIGUSR2 back. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, plain_thread, NULL) == 0, "pthread_create");
	goc_main(notify_main, NULL);
	__atomic_store_n(&plain_thread_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
}

static void send_later(void *arg)
{
	(void)arg;
	goc_sleep(100 * GOC_MILLISECOND);
	kill(getpid(), SIGUSR1);
}

static void wait_main(void *arg)
{
	(void)arg;
	goc_chan *c = goc_chan_make(sizeof(int), 1);
	static const int usr1[] = {SIGUSR1};
	CHECK(goc_signal_notify(c, usr1, 1) == 0, "notify");
	goc_go(send_later, NULL);
	CHECK(recv_sig(c) == SIGUSR1, "want SIGUSR1");
	goc_signal_stop(c);
	goc_chan_release(c);
	/* The watcher leaves once nothing is registered; returning before it
	 * has would end the process with its poll descriptor still open
	 * (LeakSanitizer reported it). */
	for (int i = 0; i < 200 && goc_num_goroutine() > 1; i++)
		goc_sleep(5 * GOC_MILLISECOND);
	CHECK(goc_num_goroutine() == 1, "%lld goroutines left", (long long)goc_num_goroutine());
	printf("wait done\n");
}

static void stop_default_main(void *arg)
{
	(void)arg;
	goc_chan *c = goc_chan_make(sizeof(int), 1);
	static const int term[] = {SIGTERM};
	CHECK(goc_signal_notify(c, term, 1) == 0, "notify");
	goc_signal_stop(c);
	goc_chan_release(c);
	printf("about to terminate\n");
	fflush(stdout);
	kill(getpid(), SIGTERM);
	for (int i = 0; i < 3000; i++)
		goc_sleep(10 * GOC_MILLISECOND);
	printf("still alive after SIGTERM\n");
}

static void stop_deadlock_main(void *arg)
{
	(void)arg;
	goc_chan *c = goc_chan_make(sizeof(int), 1);
	static const int usr1[] = {SIGUSR1};
	CHECK(goc_signal_notify(c, usr1, 1) == 0, "notify");
	goc_signal_stop(c);
	goc_chan *never = goc_chan_make(sizeof(int), 0);
	goc_chan_recv(never, NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		alarm(60);
		if (!strcmp(argv[1], "notify"))
			run_notify();
		else if (!strcmp(argv[1], "wait"))
			goc_main(wait_main, NULL);
		else if (!strcmp(argv[1], "stop_default"))
			goc_main(stop_default_main, NULL);
		else if (!strcmp(argv[1], "stop_deadlock"))
			goc_main(stop_deadlock_main, NULL);
		return 0;
	}
	static const char *const procs[2][2] = {{"GOCMAXPROCS=1", NULL}, {"GOCMAXPROCS=2", NULL}};
	for (int p = 0; p < 2; p++) {
		child_result r = run_self(argv[0], "notify", procs[p]);
		CHECK(r.exited && r.status == 0 && contains(r.out, "notify done"),
		      "notify (%s): %s %d:\n%s", procs[p][0], r.exited ? "exit" : "signal",
		      r.status, r.out);
		free(r.out);

		/* TSan runs a signal's handler only when the thread that took it
		 * next passes one of TSan's interceptors. Here SIGUSR1 lands on a
		 * thread asleep in a raw futex or epoll system call, which
		 * SA_RESTART restarts without returning, so the handler never
		 * runs (seen: the child hung until its alarm, before and after
		 * this session's changes to signal.c). The handler path is still
		 * covered under TSan by "notify"'s plain thread. */
		const char *san = getenv("GOC_TEST_SANITIZER");
		if (san && !strcmp(san, "thread")) {
			printf("skip: wait (%s) under TSan: deferred signal handlers\n",
			       procs[p][0]);
		} else {
			r = run_self(argv[0], "wait", procs[p]);
			CHECK(r.exited && r.status == 0 && contains(r.out, "wait done"),
			      "wait (%s): %s %d:\n%s", procs[p][0], r.exited ? "exit" : "signal",
			      r.status, r.out);
			free(r.out);
		}

		r = run_self(argv[0], "stop_default", procs[p]);
		CHECK(!r.exited && r.status == SIGTERM && contains(r.out, "about to terminate"),
		      "stop_default (%s): want death by SIGTERM, got %s %d:\n%s", procs[p][0],
		      r.exited ? "exit" : "signal", r.status, r.out);
		free(r.out);

		if (deadlock_reports_expected("stop_deadlock")) {
			r = run_self(argv[0], "stop_deadlock", procs[p]);
			CHECK(r.exited && r.status == 2 &&
				      contains(r.out, "all goroutines are asleep - deadlock!"),
			      "stop_deadlock (%s): want the deadlock report, got %s %d:\n%s",
			      procs[p][0], r.exited ? "exit" : "signal", r.status, r.out);
			free(r.out);
		}
	}
	ok("signals: notify, contexts, waiting is no deadlock, stop restores the default and "
	   "the deadlock check (GOCMAXPROCS=1 and 2)");
	return 0;
}
