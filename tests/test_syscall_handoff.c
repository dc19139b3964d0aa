/*
 * test_syscall_handoff.c — syscall sections hand the P on while a
 * goroutine blocks its thread (goc_syscall_enter / exit, goc_blocking, the
 * file helpers). Every check is by counters and ordering, never by how
 * long something took:
 *  - a goroutine blocked 200 ms in usleep inside goc_blocking: a counting
 *    goroutine advances while it is blocked (with one P that needs the
 *    handoff), and a goroutine blocked in read(2) on a pipe is released by
 *    a write that another goroutine makes only after counting (with one P,
 *    no handoff = hang, caught by alarm);
 *  - many goroutines blocked at once: threads grow, and a second round
 *    reuses the idle ones;
 *  - exit finding its P taken: with one P and another goroutine holding
 *    it, the blocked goroutine comes back through the global queue on the
 *    other thread, with its errno;
 *  - goc_maxprocs changed back and forth while goroutines sit in sections;
 *  - file helpers: 1 MiB through a pipe between two goroutines, pread and
 *    pwrite, errors as return values with errno;
 *  - plain threads: enter and exit are no-ops, the helpers work.
 * Run with the default GOCMAXPROCS and with 1 and 2 (CMakeLists.txt).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

static int64_t load64(const int64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store64(int64_t *p, int64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void read_stats(goc_sched_stats *s)
{
	goc_sched_stats_read(s);
}

/* ---- a 200 ms blocking call does not hold the others up ---- */

struct progress {
	int64_t count;
	int64_t stop;
	goc_wg done;
};

static void counter_body(void *arg)
{
	struct progress *pr = arg;
	while (!load64(&pr->stop)) {
		__atomic_fetch_add(&pr->count, 1, __ATOMIC_RELAXED);
		goc_yield();
	}
	goc_wg_done(&pr->done);
}

static void *sleep_200ms(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	return (void *)(intptr_t)42;
}

struct blocker {
	struct progress *pr;
	int64_t before, after;
	intptr_t result;
};

static void sleeper_body(void *arg)
{
	struct blocker *b = arg;
	b->before = load64(&b->pr->count);
	b->result = (intptr_t)goc_blocking(sleep_200ms, NULL);
	b->after = load64(&b->pr->count);
	store64(&b->pr->stop, 1);
	goc_wg_done(&b->pr->done);
}

static void test_long_block_does_not_stall(void)
{
	static struct progress pr;
	memset(&pr, 0, sizeof pr);
	goc_wg_init(&pr.done);
	struct blocker b = {.pr = &pr};
	goc_wg_add(&pr.done, 2);
	CHECK(goc_go(counter_body, &pr) > 0, "goc_go");
	goc_yield(); /* let the counter start */
	CHECK(goc_go(sleeper_body, &b) > 0, "goc_go");
	goc_wg_wait(&pr.done);
	CHECK(b.result == 42, "goc_blocking returned %ld", (long)b.result);
	CHECK(b.after > b.before, "nothing ran during the 200 ms call (%lld -> %lld)",
	      (long long)b.before, (long long)b.after);
	ok("others run while a goroutine sits 200 ms in a blocking call");
}

/* A reader blocks in read(2) on a pipe; the writer writes only after it
 * has counted to 100 with yields, so with one P the write can happen only
 * if the reader's P was handed on. */
struct pipe_pair {
	int fds[2];
	int64_t counted;
	ssize_t got;
	char byte;
	goc_wg done;
};

static void pipe_reader(void *arg)
{
	struct pipe_pair *pp = arg;
	pp->got = goc_file_read(pp->fds[0], &pp->byte, 1);
	goc_wg_done(&pp->done);
}

static void pipe_writer(void *arg)
{
	struct pipe_pair *pp = arg;
	for (int i = 0; i < 100; i++) {
		pp->counted++;
		goc_yield();
	}
	ssize_t w = goc_file_write(pp->fds[1], "x", 1, NULL);
	CHECK(w == 1, "write: %s", goc_strerror((int)w));
	goc_wg_done(&pp->done);
}

static void test_pipe_read_handoff(void)
{
	struct pipe_pair pp = {0};
	CHECK(pipe(pp.fds) == 0, "pipe");
	goc_wg_init(&pp.done);
	goc_wg_add(&pp.done, 2);
	CHECK(goc_go(pipe_reader, &pp) > 0, "goc_go");
	goc_yield(); /* the reader blocks first (with one P) */
	CHECK(goc_go(pipe_writer, &pp) > 0, "goc_go");
	goc_wg_wait(&pp.done);
	CHECK(pp.got == 1 && pp.byte == 'x' && pp.counted == 100, "got %zd '%c' after %lld", pp.got,
	      pp.byte, (long long)pp.counted);
	close(pp.fds[0]);
	close(pp.fds[1]);
	ok("a goroutine blocked in read(2) lets the writer run");
}

/* ---- many at once: threads grow, then idle ones are reused ---- */

/* Each blocked goroutine stays in goc_blocking until all `blockers_want`
 * are in theirs at once, so each holds a thread of its own at that instant,
 * however long sysmon's retakes and the thread creations take (a fixed
 * 100 ms was too short under TSan on a loaded machine). A runtime that
 * cannot get them all in gives up after 30 s and fails the count. */
static int blockers_in, blockers_want; /* atomic */

static void *sleep_while_blocked(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&blockers_in, 1, __ATOMIC_SEQ_CST);
	for (int ms = 0; ms < 30000 &&
	     __atomic_load_n(&blockers_in, __ATOMIC_SEQ_CST) <
		     __atomic_load_n(&blockers_want, __ATOMIC_SEQ_CST);
	     ms++)
		usleep(1000);
	return NULL;
}

static void short_blocker(void *arg)
{
	goc_blocking(sleep_while_blocked, NULL);
	goc_wg_done(arg);
}

static int blocker_round(int n)
{
	goc_wg wg;
	goc_wg_init(&wg);
	goc_wg_add(&wg, n);
	__atomic_store_n(&blockers_in, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&blockers_want, n, __ATOMIC_SEQ_CST);
	for (int i = 0; i < n; i++)
		CHECK(goc_go(short_blocker, &wg) > 0, "goc_go");
	goc_wg_wait(&wg);
	static goc_sched_stats s;
	read_stats(&s);
	return s.threads;
}

static void test_many_blockers(void)
{
	int n = (int)test_size(64, 32, 32);
	static goc_sched_stats s;
	read_stats(&s);
	int64_t retakes0 = s.retakes;
	int threads1 = blocker_round(n);
	read_stats(&s);
	CHECK(s.retakes > retakes0, "no P was retaken");
	CHECK(threads1 >= n, "only %d threads for %d goroutines blocked at once", threads1, n);
	int threads2 = blocker_round(n);
	CHECK(threads2 < threads1 + n / 2, "threads not reused: %d, then %d", threads1, threads2);
	printf("%d blocked at once: %d threads, then %d\n", n, threads1, threads2);
	ok("threads grow with goroutines blocked at once, and are reused");
}

/* ---- exit finding its P taken ---- */

/* Not pthread_self(): it is declared const, so the compiler may reuse its
 * result across a call that moves the goroutine to another thread. */
static pid_t thread_id(void)
{
	return (pid_t)syscall(SYS_gettid);
}

struct taken {
	int64_t done;
	int64_t yields;
	pid_t before, after; /* thread ids */
	int err_after;
	goc_wg wg;
};

static void *sleep_then_errno(void *arg)
{
	(void)arg;
	usleep(100 * 1000);
	errno = 4242;
	return NULL;
}

static void taken_blocker(void *arg)
{
	struct taken *t = arg;
	t->before = thread_id();
	goc_blocking(sleep_then_errno, NULL);
	t->err_after = errno;
	t->after = thread_id();
	store64(&t->done, 1);
	goc_wg_done(&t->wg);
}

static void taken_holder(void *arg)
{
	struct taken *t = arg;
	while (!load64(&t->done)) {
		t->yields++;
		goc_yield();
	}
	goc_wg_done(&t->wg);
}

static void test_exit_finds_p_taken(void)
{
	static struct taken t;
	memset(&t, 0, sizeof t);
	goc_wg_init(&t.wg);
	goc_wg_add(&t.wg, 2);
	CHECK(goc_go(taken_blocker, &t) > 0, "goc_go");
	goc_yield();
	CHECK(goc_go(taken_holder, &t) > 0, "goc_go");
	goc_wg_wait(&t.wg);
	CHECK(t.err_after == 4242, "errno %d after the section", t.err_after);
	CHECK(t.yields > 0, "the holder never ran");
	if (goc_maxprocs(0) == 1) {
		/* The holder kept the only P: the blocker had to queue and came
		 * back on the holder's thread. */
		CHECK(t.before != t.after, "resumed on the same thread");
		ok("exit with the P taken: queued, resumed on another thread, errno kept");
	} else {
		ok("exit after the P was taken: resumed, errno kept");
	}
}

/* ---- goc_maxprocs changes while goroutines sit in sections ---- */

static void *sleep_30ms(void *arg)
{
	(void)arg;
	usleep(30 * 1000);
	return NULL;
}

struct churn {
	int64_t sections;
	goc_wg wg;
};

static void churn_body(void *arg)
{
	struct churn *c = arg;
	for (int i = 0; i < 5; i++) {
		goc_blocking(sleep_30ms, NULL);
		__atomic_fetch_add(&c->sections, 1, __ATOMIC_RELAXED);
		goc_yield();
	}
	goc_wg_done(&c->wg);
}

static void test_maxprocs_during_sections(void)
{
	int old = goc_maxprocs(0);
	struct churn c = {0};
	goc_wg_init(&c.wg);
	int n = 12;
	goc_wg_add(&c.wg, n);
	for (int i = 0; i < n; i++)
		CHECK(goc_go(churn_body, &c) > 0, "goc_go");
	static const int settings[] = {1, 4, 2, 1, 3};
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		goc_sleep(15 * GOC_MILLISECOND);
		CHECK(goc_maxprocs(settings[i]) > 0, "goc_maxprocs");
	}
	goc_maxprocs(old);
	goc_wg_wait(&c.wg);
	CHECK(c.sections == 5 * n, "%lld sections", (long long)c.sections);
	static goc_sched_stats s;
	read_stats(&s);
	CHECK(s.procs == old, "procs %d, want %d", s.procs, old);
	ok("goc_maxprocs changes while goroutines are in syscall sections");
}

/* ---- file helpers ---- */

enum { BIG = 1 << 20 };

struct big_pipe {
	int fds[2];
	char *out, *in;
	ssize_t wrote;
	size_t got;
	goc_wg wg;
};

static void big_writer(void *arg)
{
	struct big_pipe *bp = arg;
	bp->wrote = goc_file_write(bp->fds[1], bp->out, BIG, NULL);
	close(bp->fds[1]);
	goc_wg_done(&bp->wg);
}

static void big_reader(void *arg)
{
	struct big_pipe *bp = arg;
	for (;;) {
		ssize_t r = goc_file_read(bp->fds[0], bp->in + bp->got, BIG - bp->got);
		CHECK(r >= 0, "read: %s", goc_strerror((int)r));
		if (r == 0)
			break;
		bp->got += (size_t)r;
	}
	goc_wg_done(&bp->wg);
}

static void test_file_helpers(void)
{
	struct big_pipe bp = {0};
	bp.out = malloc(BIG);
	bp.in = calloc(1, BIG);
	CHECK(bp.out && bp.in, "malloc");
	for (size_t i = 0; i < BIG; i++)
		bp.out[i] = (char)(i * 7 + i / 251);
	CHECK(pipe(bp.fds) == 0, "pipe");
	goc_wg_init(&bp.wg);
	goc_wg_add(&bp.wg, 2);
	CHECK(goc_go(big_writer, &bp) > 0, "goc_go");
	CHECK(goc_go(big_reader, &bp) > 0, "goc_go");
	goc_wg_wait(&bp.wg);
	CHECK(bp.wrote == BIG && bp.got == BIG, "wrote %zd, read %zu", bp.wrote, bp.got);
	CHECK(memcmp(bp.out, bp.in, BIG) == 0, "bytes differ");
	close(bp.fds[0]);
	free(bp.out);
	free(bp.in);
	ok("1 MiB through a pipe between two goroutines, every byte checked");

	char path[] = "/tmp/goc_syscall_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	unlink(path);
	CHECK(goc_file_pwrite(fd, "world", 5, 6, NULL) == 5, "pwrite");
	CHECK(goc_file_pwrite(fd, "hello ", 6, 0, NULL) == 6, "pwrite");
	char buf[16] = {0};
	CHECK(goc_file_pread(fd, buf, sizeof buf, 0) == 11 && memcmp(buf, "hello world", 11) == 0,
	      "pread: '%s'", buf);
	CHECK(goc_file_pread(fd, buf, sizeof buf, 11) == 0, "pread at the end");
	close(fd);

	ssize_t r = goc_file_read(fd, buf, 1);
	CHECK(r == -EBADF, "read of a closed fd: %zd", r);
	size_t written = 99;
	r = goc_file_write(fd, "x", 1, &written);
	CHECK(r == -EBADF && written == 0, "write of a closed fd: %zd, %zu written", r, written);
	int fds[2];
	CHECK(pipe(fds) == 0, "pipe");
	close(fds[0]);
	r = goc_file_write(fds[1], "abc", 3, &written);
	CHECK(r == -EPIPE && written == 0, "write to a closed pipe: %zd", r);
	close(fds[1]);
	written = 99;
	CHECK(goc_file_pwrite(1, "x", 1, -1, &written) == -EINVAL && written == 0,
	      "negative offset");
	ok("pread/pwrite; errors as negative errnos");
}

/* ---- plain threads ---- */

static void *echo_arg(void *arg)
{
	errno = 77;
	return arg;
}

static void *plain_thread(void *arg)
{
	(void)arg;
	goc_syscall_exit(); /* no-ops on a thread that is not a goroutine */
	goc_syscall_enter();
	goc_syscall_enter();
	goc_syscall_exit();
	int x;
	CHECK(goc_blocking(echo_arg, &x) == &x && errno == 77, "goc_blocking on a plain thread");
	int fds[2];
	CHECK(pipe(fds) == 0, "pipe");
	CHECK(goc_file_write(fds[1], "plain", 5, NULL) == 5, "write");
	char buf[8] = {0};
	CHECK(goc_file_read(fds[0], buf, sizeof buf) == 5 && strcmp(buf, "plain") == 0, "read");
	close(fds[0]);
	close(fds[1]);
	return NULL;
}

static void test_plain_thread(void)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, plain_thread, NULL) == 0, "pthread_create");
	CHECK(pthread_join(t, NULL) == 0, "pthread_join");
	ok("plain threads: enter and exit do nothing, the helpers work");
}

/* Inside a section non-blocking calls work: spawning and a channel try. */
static void spawned_in_section(void *arg)
{
	goc_chan_send(arg, &(int){5});
}

static void test_non_blocking_calls_inside(void)
{
	goc_chan *c = goc_chan_make(sizeof(int), 1);
	goc_syscall_enter();
	CHECK(goc_chan_try_send(c, &(int){1}) == GOC_OK, "try_send in a section");
	int v = 0;
	CHECK(goc_chan_try_recv(c, &v) == GOC_OK && v == 1, "try_recv in a section");
	CHECK(goc_go(spawned_in_section, c) > 0, "goc_go in a section");
	goc_syscall_exit();
	CHECK(goc_chan_recv(c, &v) == GOC_OK && v == 5, "the goroutine spawned in a section ran");
	goc_chan_release(c);
	ok("non-blocking calls inside a section");
}

static void main_g(void *arg)
{
	(void)arg;
	test_long_block_does_not_stall();
	test_pipe_read_handoff();
	test_exit_finds_p_taken();
	test_non_blocking_calls_inside();
	test_file_helpers();
	test_many_blockers();
	test_maxprocs_during_sections();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(120);
	goc_main(main_g, NULL);
	test_plain_thread();
	return 0;
}
