/*
 * test_preempt.c — goroutines that never reach a scheduling point do not
 * hold their P hostage, and preemption is invisible to them.
 *
 * Run with GOCMAXPROCS 1 and 2 (CMakeLists.txt). Each case asserts
 * behaviour, never timing; a hang (a preempted frame holding a lock, a
 * goroutine never resumed) is caught by ctest's timeout.
 *  - hogs: 2 × procs + 1 goroutines spin in loops of several kinds (a pure
 *    loop; malloc/free; snprintf; qsort with a comparator; stdio into
 *    /dev/null) while a 1 ms ticker goroutine must tick 50 times and the
 *    main goroutine must run to stop them; repeated for several rounds so
 *    the signal lands everywhere in those loops (libc included, where it
 *    must not stop them).
 *  - state: in a preempted loop, errno and a __thread variable keep the
 *    goroutine's values and the thread stays the same (gettid), for a
 *    goroutine that did not opt in to migration.
 *  - locked: a goroutine between goc_lock_os_thread and
 *    goc_unlock_os_thread (nested twice) always sees the same thread, and
 *    no other goroutine runs on that thread meanwhile.
 * Under TSan signals are off (TSan delivers them late, on a copy of the
 * context): the loops call goc_preempt_check() instead, which tests the
 * same scheduler path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

static _Atomic int stop;
static goc_wg hogs_done;
static bool cooperative; /* TSan: no signals, loops check themselves */
static FILE *devnull;

static inline void maybe_check(void)
{
	if (cooperative)
		goc_preempt_check();
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void hog(void *arg)
{
	long kind = (long)arg;
	volatile unsigned long n = 0;
	int arr[64];
	char buf[64];
	while (!stop) {
		switch (kind % 5) {
		case 0:
			for (int i = 0; i < 1000; i++)
				n += (unsigned long)i;
			break;
		case 1: {
			void *p = malloc(64 + n % 512);
			CHECK(p, "malloc");
			n += (uintptr_t)p & 1;
			free(p);
			break;
		}
		case 2:
			snprintf(buf, sizeof buf, "%lu %f", (unsigned long)n, (double)n / 3);
			n++;
			break;
		case 3:
			for (int i = 0; i < 64; i++)
				arr[i] =
					(int)((n * 2654435761u + (unsigned long)i * 40503u) % 1000);
			qsort(arr, 64, sizeof arr[0], cmp_int);
			n++;
			break;
		case 4:
			fprintf(devnull, "line %lu\n", (unsigned long)n++);
			break;
		}
		maybe_check();
	}
	goc_wg_done(&hogs_done);
}

static void hogs_round(int nhogs)
{
	stop = 0;
	goc_wg_add(&hogs_done, nhogs);
	for (long i = 0; i < nhogs; i++)
		CHECK(goc_go(hog, (void *)i) > 0, "goc_go");
	goc_ticker *t = goc_ticker_new(GOC_MILLISECOND);
	for (int i = 0; i < 50; i++) {
		int64_t when;
		CHECK(goc_chan_recv(goc_ticker_chan(t), &when) == GOC_OK, "tick");
	}
	goc_ticker_free(t);
	stop = 1;
	goc_wg_wait(&hogs_done);
}

/* ---- raw blocking calls ---- */

static int pipefd[2];
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void blocker(void *arg)
{
	long kind = (long)arg;
	char c;
	while (!stop) {
		switch (kind % 4) {
		case 0: {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
			break;
		}
		case 1:
			if (read(pipefd[0], &c, 1) < 0)
				CHECK(errno == EINTR, "read: %s", strerror(errno));
			break;
		case 2:
			pthread_mutex_lock(&held);
			pthread_mutex_unlock(&held);
			break;
		case 3: {
			struct addrinfo *res = NULL;
			if (getaddrinfo("localhost", "80", NULL, &res) == 0)
				freeaddrinfo(res);
			break;
		}
		}
	}
	goc_wg_done(&hogs_done);
}

/* A plain thread that holds `held` most of the time and feeds the pipe,
 * until the blockers stop. */
static void *feeder(void *arg)
{
	(void)arg;
	while (!stop) {
		pthread_mutex_lock(&held);
		usleep(30 * 1000);
		pthread_mutex_unlock(&held);
		CHECK(write(pipefd[1], "x", 1) == 1, "write");
		usleep(1000);
	}
	for (int i = 0; i < 8; i++)
		CHECK(write(pipefd[1], "x", 1) == 1, "write"); /* release the readers */
	return NULL;
}

static void blockers_round(int procs)
{
	int n = 4 * procs;
	stop = 0;
	pthread_t th;
	CHECK(pthread_create(&th, NULL, feeder, NULL) == 0, "pthread_create");
	goc_wg_add(&hogs_done, n + 1);
	for (long i = 0; i < n; i++)
		CHECK(goc_go(blocker, (void *)i) > 0, "goc_go");
	CHECK(goc_go(hog, (void *)0) > 0, "goc_go");
	goc_ticker *t = goc_ticker_new(GOC_MILLISECOND);
	for (int i = 0; i < 50; i++) {
		int64_t when;
		CHECK(goc_chan_recv(goc_ticker_chan(t), &when) == GOC_OK, "tick");
	}
	goc_ticker_free(t);
	stop = 1;
	goc_wg_wait(&hogs_done);
	pthread_join(th, NULL);
	int fl = fcntl(pipefd[0], F_GETFL);
	fcntl(pipefd[0], F_SETFL, fl | O_NONBLOCK);
	char buf[64];
	while (read(pipefd[0], buf, sizeof buf) > 0)
		;
	fcntl(pipefd[0], F_SETFL, fl);
}

/* ---- state kept across preemptions ---- */

static __thread long tls_value;

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

struct state_arg {
	long id;
	long preempted_loops;
};

static void state_keeper(void *arg)
{
	struct state_arg *a = arg;
	pid_t me = tid();
	while (!stop) {
		errno = (int)a->id;
		tls_value = a->id;
		volatile unsigned long n = 0;
		for (int i = 0; i < 200000 && !stop; i++) {
			n += (unsigned long)i;
			if (i % 1024 == 0)
				maybe_check();
		}
		CHECK(errno == (int)a->id, "errno %d, want %ld", errno, a->id);
		CHECK(tls_value == a->id, "__thread %ld, want %ld", tls_value, a->id);
		CHECK(tid() == me, "a preempted goroutine changed threads");
		a->preempted_loops++;
	}
	goc_wg_done(&hogs_done);
}

static void state_round(int n)
{
	struct state_arg args[8];
	stop = 0;
	goc_wg_add(&hogs_done, n);
	for (int i = 0; i < n; i++) {
		args[i] = (struct state_arg){.id = 100 + i};
		CHECK(goc_go(state_keeper, &args[i]) > 0, "goc_go");
	}
	goc_sleep(300 * GOC_MILLISECOND);
	stop = 1;
	goc_wg_wait(&hogs_done);
	for (int i = 0; i < n; i++)
		CHECK(args[i].preempted_loops > 0, "keeper %d never finished a loop", i);
}

/* ---- locked threads ---- */

static _Atomic pid_t locked_tid;
static _Atomic int locked_active;
static _Atomic long foreign_on_locked; /* other goroutines seen on the locked thread */

static void locked_worker(void *arg)
{
	goc_chan *c = arg;
	goc_lock_os_thread();
	goc_lock_os_thread();
	pid_t me = tid();
	locked_tid = me;
	locked_active = 1;
	for (int i = 0; i < 200; i++) {
		int v;
		CHECK(goc_chan_recv(c, &v) == GOC_OK, "recv");
		CHECK(tid() == me, "locked goroutine moved threads");
		if (i % 50 == 0)
			goc_sleep(GOC_MILLISECOND);
		goc_yield();
		CHECK(tid() == me, "locked goroutine moved threads");
	}
	goc_unlock_os_thread();
	CHECK(tid() == me, "still locked once: moved threads");
	locked_active = 0;
	goc_unlock_os_thread();
	goc_wg_done(&hogs_done);
}

static void bystander(void *arg)
{
	goc_chan *c = arg;
	for (int i = 0; i < 100; i++) {
		int v = i;
		if (locked_active && tid() == locked_tid)
			foreign_on_locked++;
		goc_chan_send(c, &v);
		if (locked_active && tid() == locked_tid)
			foreign_on_locked++;
		goc_yield();
	}
	goc_wg_done(&hogs_done);
}

static void locked_round(void)
{
	goc_chan *c = goc_chan_make(sizeof(int), 0);
	goc_wg_add(&hogs_done, 3);
	goc_go(locked_worker, c);
	goc_go(bystander, c);
	goc_go(bystander, c);
	goc_wg_wait(&hogs_done);
	goc_chan_release(c);
	CHECK(foreign_on_locked == 0, "%ld runs of other goroutines on the locked thread",
	      (long)foreign_on_locked);
}

static void test_main(void *arg)
{
	(void)arg;
	int procs = goc_maxprocs(0);
	long rounds = test_size(6, 3, 2);
	for (long r = 0; r < rounds; r++)
		hogs_round(2 * procs + 1);
	ok("hogs of five kinds: the ticker ticks and main runs");
	const char *dbg = getenv("GOCDEBUG");
	if (cooperative || !dbg || !strstr(dbg, "blockedhandoff=1")) {
		printf("skip: raw blocking calls (automatic hand-off is opt-in: "
		       "GOCDEBUG=blockedhandoff=1)\n");
	} else {
		for (long r = 0; r < rounds; r++)
			blockers_round(procs);
		static goc_sched_stats bst;
		goc_sched_stats_read(&bst);
		CHECK(bst.blocked_handoffs > 0, "no automatic hand-off counted");
		ok("raw blockers (nanosleep, read, pthread_mutex_lock, getaddrinfo) and a hog: the "
		   "ticker ticks");
	}
	state_round(procs + 1);
	ok("errno, __thread and the thread kept across preemptions");
	for (int r = 0; r < 3; r++)
		locked_round();
	ok("locked goroutine: one thread, running nothing else");
	static goc_sched_stats st;
	goc_sched_stats_read(&st);
	CHECK(st.preemptions > 0, "no preemption counted");
	printf("preemptions: %lld, automatic hand-offs: %lld\n", (long long)st.preemptions,
	       (long long)st.blocked_handoffs);
}

int main(void)
{
	const char *san = getenv("GOC_TEST_SANITIZER");
	/* No signals under TSan or in an emulator (aarch64 has no trampoline
	 * yet): the loops check for themselves. */
	cooperative = (san && strcmp(san, "thread") == 0) || getenv("GOC_TEST_EMULATOR");
	devnull = fopen("/dev/null", "w");
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0, "pipe2");
	CHECK(devnull, "fopen /dev/null");
	goc_wg_init(&hogs_done);
	goc_main(test_main, NULL);
	fclose(devnull);
	return 0;
}
