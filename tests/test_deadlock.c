/*
 * test_deadlock.c — Go's "all goroutines are asleep - deadlock!" report.
 *
 * When every goroutine of a goc_main program is blocked and nothing (no
 * timer, no plain thread) can ever wake one, Go prints the fatal error and
 * every goroutine with its wait reason and exits with status 2; goc must do
 * the same instead of hanging. Each case runs in a child process (run_self
 * with a mode argument; alarm() turns a hang into a failure):
 *  - "deadlock": the main goroutine blocks receiving on a channel nobody
 *    sends to, while another goroutine blocks sending on a different
 *    channel nobody receives from. Expect the fatal error, "goroutine 1
 *    [chan receive" (the main goroutine), the sender's "goroutine N [chan
 *    send" with the id goc_go returned, and exit status 2.
 *  - "wg_deadlock": the main goroutine waits on a wait group nobody will
 *    finish: reported the same way, with the wait group's wait reason.
 *  - "sleeping": the main goroutine sleeps 100 ms waiting for a timer;
 *    every M is idle meanwhile, but a timer is pending, so this is not a
 *    deadlock: exit 0.
 *  - "timer_wakes": a goroutine sleeps 100 ms then sends to the main
 *    goroutine blocked in a receive: also not a deadlock.
 * Each runs with the default GOCMAXPROCS and with GOCMAXPROCS=1.
 */
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static goc_chan *never_sent;
static goc_chan *never_received;

static void blocked_sender(void *arg)
{
	(void)arg;
	int v = 7;
	goc_chan_send(never_received, &v);
}

static void deadlock_main(void *arg)
{
	(void)arg;
	int64_t id = goc_go(blocked_sender, NULL);
	printf("sender goroutine %lld\n", (long long)id);
	fflush(stdout);
	int v;
	goc_chan_recv(never_sent, &v);
	printf("receive returned\n");
}

static void wg_deadlock_main(void *arg)
{
	(void)arg;
	goc_wg wg = GOC_WG_INIT;
	goc_wg_add(&wg, 1);
	goc_wg_wait(&wg);
	printf("wait returned\n");
}

static void sleeping_main(void *arg)
{
	(void)arg;
	goc_sleep(100 * GOC_MILLISECOND);
	printf("woke\n");
}

static void late_sender(void *arg)
{
	(void)arg;
	goc_sleep(100 * GOC_MILLISECOND);
	int v = 9;
	goc_chan_send(never_sent, &v);
}

static void timer_wakes_main(void *arg)
{
	(void)arg;
	CHECK(goc_go(late_sender, NULL) > 0, "goc_go");
	int v = 0;
	CHECK(goc_chan_recv(never_sent, &v) == GOC_OK && v == 9, "got %d", v);
	printf("received\n");
}

static void run_mode(const char *mode)
{
	never_sent = goc_chan_make(sizeof(int), 0);
	never_received = goc_chan_make(sizeof(int), 0);
	if (strcmp(mode, "deadlock") == 0)
		goc_main(deadlock_main, NULL);
	else if (strcmp(mode, "wg_deadlock") == 0)
		goc_main(wg_deadlock_main, NULL);
	else if (strcmp(mode, "sleeping") == 0)
		goc_main(sleeping_main, NULL);
	else if (strcmp(mode, "timer_wakes") == 0)
		goc_main(timer_wakes_main, NULL);
	else
		CHECK(0, "unknown mode %s", mode);
	printf("goc_main returned\n");
}

static child_result run(const char *self, const char *mode, int procs1)
{
	static const char *const env1[] = {"GOCMAXPROCS=1", NULL};
	child_result r = run_self(self, mode, procs1 ? env1 : NULL);
	printf("--- %s%s: %s %d\n%s", mode, procs1 ? " (GOCMAXPROCS=1)" : "",
	       r.exited ? "exit status" : "signal", r.status, r.out);
	return r;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		alarm(60);
		run_mode(argv[1]);
		return 0;
	}
	if (!deadlock_reports_expected("every case of this test"))
		return 0;
	for (int procs1 = 0; procs1 < 2; procs1++) {
		child_result r = run(argv[0], "deadlock", procs1);
		CHECK(r.exited && r.status == 2, "want exit status 2");
		CHECK(contains(r.out, "fatal error: all goroutines are asleep - deadlock!"),
		      "no deadlock message");
		CHECK(contains(r.out, "goroutine 1 [chan receive"), "main goroutine not listed");
		long long sender = 0;
		const char *p = strstr(r.out, "sender goroutine ");
		CHECK(p && sscanf(p, "sender goroutine %lld", &sender) == 1 && sender > 1,
		      "no sender id");
		char want[64];
		snprintf(want, sizeof want, "goroutine %lld [chan send", sender);
		CHECK(contains(r.out, want), "'%s' not in the dump", want);
		CHECK(!contains(r.out, "receive returned") && !contains(r.out, "goc_main returned"),
		      "the program went on");
		free(r.out);
		ok(procs1 ? "deadlock reported (GOCMAXPROCS=1)" : "deadlock reported");

		r = run(argv[0], "wg_deadlock", procs1);
		CHECK(r.exited && r.status == 2, "want exit status 2");
		CHECK(contains(r.out, "fatal error: all goroutines are asleep - deadlock!"),
		      "no deadlock message");
		CHECK(contains(r.out, "goroutine 1 [sync.WaitGroup.Wait"),
		      "main goroutine not listed");
		free(r.out);
		ok("wait group deadlock reported");

		r = run(argv[0], "sleeping", procs1);
		CHECK(r.exited && r.status == 0,
		      "a sleeping main goroutine must not be a deadlock");
		CHECK(!contains(r.out, "deadlock"), "deadlock reported");
		CHECK(contains(r.out, "woke") && contains(r.out, "goc_main returned"),
		      "did not finish");
		free(r.out);
		ok("main goroutine sleeping on a timer is not a deadlock");

		r = run(argv[0], "timer_wakes", procs1);
		CHECK(r.exited && r.status == 0,
		      "a receive a timer will satisfy must not be a deadlock");
		CHECK(!contains(r.out, "deadlock"), "deadlock reported");
		CHECK(contains(r.out, "received") && contains(r.out, "goc_main returned"),
		      "did not finish");
		free(r.out);
		ok("receive satisfied after another goroutine's sleep is not a deadlock");
	}
	return 0;
}
