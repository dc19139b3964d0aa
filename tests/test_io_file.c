/*
 * test_io_file.c — goc/io.h: the file helpers (open, close, stat, fstat,
 * fstatat, read-all), directory streams and goc_blocking_ctx.
 *
 * Edges: ENOENT, EISDIR, ENOTDIR, O_CLOEXEC; read-all of an empty file, of
 * /proc (size unknown), of a FIFO fed by another goroutine (the open and
 * the reads of both sides block their threads: the Ps must be handed on),
 * of a 4 TiB sparse file (-EFBIG under a limit, -ENOMEM
 * without); a directory of many files streamed to a consumer goroutine
 * over a channel between two reads; goc_blocking_ctx returning, abandoned
 * by a cancel or a timeout (the call runs on and its drop runs once), not
 * run for a context already ended (dropped at once), and a stress of calls racing their
 * deadlines (each ends exactly once: a result or a drop). Registered with
 * GOCMAXPROCS 1 and 2 as well.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char dir[64];

/* Through the helpers: a loop of plain system calls would run for long
 * without a scheduling point under a sanitizer. */
static void write_file(const char *path, const char *data, size_t len)
{
	int fd = goc_file_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0, "create %s: %s", path, goc_strerror(fd));
	CHECK(goc_file_write(fd, data, len, NULL) == (ssize_t)len, "write %s", path);
	CHECK(goc_file_close(fd) == 0, "close");
}

static void test_open_close_stat(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/a.txt", dir);
	write_file(path, "hello\n", 6);
	int fd = goc_file_open(path, O_RDONLY, 0);
	CHECK(fd >= 0, "open: %s", goc_strerror(fd));
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "O_CLOEXEC added");
	struct stat st;
	CHECK(goc_file_fstat(fd, &st) == 0 && st.st_size == 6 && S_ISREG(st.st_mode), "fstat");
	char buf[8];
	CHECK(goc_file_read(fd, buf, sizeof buf) == 6 && memcmp(buf, "hello\n", 6) == 0, "read");
	CHECK(goc_file_close(fd) == 0, "close");
	CHECK(goc_file_close(fd) == -EBADF, "close twice");
	CHECK(goc_file_fstat(fd, &st) == -EBADF, "fstat of a closed fd");

	CHECK(goc_file_stat(path, &st) == 0 && st.st_size == 6, "stat");
	snprintf(path, sizeof path, "%s/missing", dir);
	CHECK(goc_file_open(path, O_RDONLY, 0) == -ENOENT, "open ENOENT");
	CHECK(goc_file_stat(path, &st) == -ENOENT, "stat ENOENT");
	CHECK(goc_file_open(dir, O_WRONLY, 0) == -EISDIR, "open a directory for writing");
	snprintf(path, sizeof path, "%s/a.txt/x", dir);
	CHECK(goc_file_open(path, O_RDONLY, 0) == -ENOTDIR, "open under a file");

	int dfd = goc_file_open(dir, O_RDONLY | O_DIRECTORY, 0);
	CHECK(dfd >= 0, "open dir");
	fd = goc_file_openat(dfd, "b.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0, "openat create: %s", goc_strerror(fd));
	CHECK(goc_file_write(fd, "bb", 2, NULL) == 2, "write");
	CHECK(goc_file_close(fd) == 0, "close");
	CHECK(goc_file_openat(dfd, "b.txt", O_WRONLY | O_CREAT | O_EXCL, 0600) == -EEXIST,
	      "openat EEXIST");
	CHECK(goc_file_fstatat(dfd, "b.txt", &st, 0) == 0 && st.st_size == 2, "fstatat");
	CHECK(symlinkat("b.txt", dfd, "l.txt") == 0, "symlink");
	CHECK(goc_file_fstatat(dfd, "l.txt", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
	      "fstatat nofollow");
	CHECK(goc_file_fstatat(dfd, "l.txt", &st, 0) == 0 && S_ISREG(st.st_mode), "fstatat follow");
	unlinkat(dfd, "l.txt", 0);
	unlinkat(dfd, "b.txt", 0);
	CHECK(goc_file_close(dfd) == 0, "close dir");
	ok("file: open/openat (O_CLOEXEC), close, stat/fstat/fstatat, ENOENT EISDIR ENOTDIR EEXIST EBADF");
}

struct fifo_feed {
	const char *path;
	size_t len;
	goc_wg done;
};

/* Opens the FIFO for writing (blocks until the reader opens it) and
 * writes len bytes of a pattern. */
static void feed_fifo(void *arg)
{
	struct fifo_feed *f = arg;
	int fd = goc_file_open(f->path, O_WRONLY, 0);
	CHECK(fd >= 0, "fifo writer: %s", goc_strerror(fd));
	char chunk[4096];
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (char)('a' + i % 26);
	for (size_t sent = 0; sent < f->len;) {
		size_t n = f->len - sent < sizeof chunk ? f->len - sent : sizeof chunk;
		CHECK(goc_file_write(fd, chunk, n, NULL) == (ssize_t)n, "fifo write");
		sent += n;
	}
	CHECK(goc_file_close(fd) == 0, "close");
	goc_wg_done(&f->done);
}

static void test_read_all(void)
{
	char path[128], *data;
	size_t len;
	snprintf(path, sizeof path, "%s/a.txt", dir);
	CHECK(goc_file_read_all(path, 0, &data, &len) == 0 && len == 6, "read_all");
	CHECK(strcmp(data, "hello\n") == 0, "contents and NUL");
	free(data);
	CHECK(goc_file_read_all(path, 6, &data, &len) == 0 && len == 6, "exactly at the limit");
	free(data);
	CHECK(goc_file_read_all(path, 5, &data, &len) == -EFBIG && !data && len == 0,
	      "over the limit");

	snprintf(path, sizeof path, "%s/empty", dir);
	write_file(path, "", 0);
	CHECK(goc_file_read_all(path, 0, &data, &len) == 0 && len == 0 && data && !data[0],
	      "empty file");
	free(data);
	unlink(path);

	snprintf(path, sizeof path, "%s/missing", dir);
	data = (char *)1;
	CHECK(goc_file_read_all(path, 0, &data, &len) == -ENOENT && !data && len == 0, "ENOENT");
	CHECK(goc_file_read_all(dir, 0, &data, &len) == -EISDIR && !data, "EISDIR");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(goc_file_read_all_at(dfd, "a.txt", 0, &data, &len) == 0 && len == 6, "_at");
	free(data);
	close(dfd);

	/* stat says 0 bytes: read to the end all the same. */
	CHECK(goc_file_read_all("/proc/self/status", 0, &data, &len) == 0 && len > 100 &&
		      strstr(data, "\nPid:") && strlen(data) == len,
	      "/proc/self/status (%zu bytes)", len);
	free(data);

	/* A FIFO: both opens block until the other side comes, then the
	 * reader grows its buffer past the first 4 KiB. */
	snprintf(path, sizeof path, "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0, "mkfifo");
	struct fifo_feed f = {.path = path, .len = 300001};
	goc_wg_init(&f.done);
	goc_wg_add(&f.done, 1);
	goc_go(feed_fifo, &f);
	CHECK(goc_file_read_all(path, 0, &data, &len) == 0 && len == f.len, "fifo: %zu", len);
	for (size_t i = 0; i < len; i++)
		CHECK(data[i] == (char)('a' + (i % 4096) % 26), "fifo byte %zu", i);
	free(data);
	goc_wg_wait(&f.done);
	/* Through a limit, a stream longer than it fails. */
	goc_wg_add(&f.done, 1);
	goc_go(feed_fifo, &f);
	int fd = goc_file_open(path, O_RDONLY, 0);
	CHECK(fd >= 0, "open fifo");
	char fdpath[64];
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	/* read_all opens a second reader of the same pipe through /proc, while
	 * fd keeps the pipe open for the writer (no EPIPE) and drains it. */
	CHECK(goc_file_read_all(fdpath, 10000, &data, &len) == -EFBIG && !data, "fifo over limit");
	char sink[65536];
	while (goc_file_read(fd, sink, sizeof sink) > 0)
		;
	goc_file_close(fd);
	goc_wg_wait(&f.done);
	unlink(path);

	/* Far larger than memory, and nothing read to find out. */
	snprintf(path, sizeof path, "%s/sparse", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)1 << 42) == 0, "sparse 4 TiB");
	close(fd);
	CHECK(goc_file_read_all(path, 1 << 20, &data, &len) == -EFBIG && !data, "sparse: EFBIG");
	/* Without a limit the allocation fails (unless the kernel promises
	 * any amount of memory); a sanitizer's allocator reports such a size
	 * instead of returning NULL. */
	const char *san = getenv("GOC_TEST_SANITIZER");
	FILE *oc = fopen("/proc/sys/vm/overcommit_memory", "r");
	int overcommit = oc && fgetc(oc) == '1';
	if (oc)
		fclose(oc);
	if ((!san || !*san) && !overcommit)
		CHECK(goc_file_read_all(path, 0, &data, &len) == -ENOMEM && !data,
		      "sparse without a limit: ENOMEM");
	unlink(path);
	ok("file: read_all (limit, empty, ENOENT, EISDIR, /proc, a FIFO from a goroutine, 4 TiB "
	   "sparse)");
}

/* ---- directories ---- */

static void stream_dir(void *arg)
{
	goc_chan *names = arg;
	goc_dir *d;
	int err = goc_dir_open(dir, &d);
	CHECK(err == 0, "dir_open: %s", goc_strerror(err));
	goc_dirent e;
	while ((err = goc_dir_read(d, &e)) > 0) {
		CHECK(strcmp(e.name, ".") && strcmp(e.name, ".."), "dot entries are left out");
		CHECK(e.type == DT_REG || e.type == DT_UNKNOWN || e.type == DT_DIR, "type %d",
		      e.type);
		char *copy = strdup(e.name);
		/* A channel operation between two reads: forbidden inside a
		 * syscall section, fine here. */
		goc_chan_send(names, &copy);
	}
	CHECK(err == 0, "dir_read: %s", goc_strerror(err));
	CHECK(goc_dir_close(d) == 0, "dir_close");
	goc_chan_close(names);
	goc_chan_release(names);
}

static void test_dir(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/sub", dir);
	CHECK(mkdir(path, 0700) == 0, "mkdir");
	goc_dir *d;
	CHECK(goc_dir_open(path, &d) == 0, "empty dir");
	goc_dirent e;
	CHECK(goc_dir_read(d, &e) == 0 && goc_dir_read(d, &e) == 0, "empty: end at once, twice");
	CHECK(goc_dir_close(d) == 0, "close");
	CHECK(goc_dir_close(NULL) == 0, "close NULL");

	snprintf(path, sizeof path, "%s/missing", dir);
	d = (goc_dir *)1;
	CHECK(goc_dir_open(path, &d) == -ENOENT && !d, "ENOENT");
	snprintf(path, sizeof path, "%s/a.txt", dir);
	CHECK(goc_dir_open(path, &d) == -ENOTDIR && !d, "ENOTDIR");

	/* Many files (more than one getdents batch), streamed to a consumer. */
	long n = test_size(3000, 1000, 500);
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/f%05ld-with-a-longer-name-to-fill-batches", dir, i);
		write_file(path, "", 0);
	}
	goc_chan *names = goc_chan_make(sizeof(char *), 0);
	goc_go(stream_dir, goc_chan_retain(names));
	char *seen = calloc((size_t)n, 1);
	long files = 0, others = 0;
	char *name;
	while (goc_chan_recv(names, &name) == GOC_OK) {
		long i;
		if (sscanf(name, "f%05ld-with", &i) == 1 && i >= 0 && i < n) {
			CHECK(!seen[i], "%s seen twice", name);
			seen[i] = 1;
			files++;
		} else {
			others++; /* a.txt, sub */
		}
		free(name);
	}
	goc_chan_release(names);
	CHECK(files == n && others == 2, "%ld of %ld files, %ld others", files, n, others);
	free(seen);

	/* goc_dir_fd for calls relative to the directory. */
	CHECK(goc_dir_open(dir, &d) == 0, "open");
	struct stat st;
	CHECK(goc_file_fstatat(goc_dir_fd(d), "a.txt", &st, 0) == 0 && st.st_size == 6,
	      "fstatat through goc_dir_fd");
	goc_dir *sub;
	CHECK(goc_dir_openat(goc_dir_fd(d), "sub", &sub) == 0, "dir_openat");
	CHECK(goc_dir_read(sub, &e) == 0, "sub is empty");
	goc_dir_close(sub);
	goc_dir_close(d);
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/f%05ld-with-a-longer-name-to-fill-batches", dir, i);
		unlink(path);
		goc_yield();
	}
	snprintf(path, sizeof path, "%s/sub", dir);
	rmdir(path);
	ok("dir: empty, ENOENT, ENOTDIR, many files streamed over a channel, openat through "
	   "goc_dir_fd");
}

/* ---- goc_blocking_ctx ---- */

static void *add_one(void *arg)
{
	return (void *)((intptr_t)arg + 1);
}

/* A call that blocks in read(2) on a pipe until a byte comes. */
struct pipe_call {
	int fd;
	goc_chan *drops; /* drop sends the result it saw here */
};

static void *read_pipe(void *arg)
{
	struct pipe_call *p = arg;
	char c;
	ssize_t n = read(p->fd, &c, 1);
	return (void *)(intptr_t)(n == 1 ? c : -1);
}

/* Runs on the call's goroutine once it returns after being abandoned. */
static void drop_pipe(void *result, void *arg)
{
	struct pipe_call *p = arg;
	int seen = (int)(intptr_t)result;
	CHECK(goc_chan_try_send(p->drops, &seen) == GOC_OK, "drop ran twice");
}

struct cancel_later {
	goc_ctx *ctx;
	goc_wg done;
};

static void cancel_later(void *arg)
{
	struct cancel_later *l = arg;
	goc_sleep(20 * GOC_MILLISECOND);
	goc_ctx_cancel(l->ctx);
	goc_wg_done(&l->done);
}

static int ran;

static void *mark_ran(void *arg)
{
	(void)arg;
	__atomic_store_n(&ran, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_blocking_ctx_basic(void)
{
	void *result = NULL;
	CHECK(goc_blocking_ctx(goc_ctx_background(), add_one, (void *)41, NULL, &result) ==
			      GOC_OK &&
		      (intptr_t)result == 42,
	      "result");
	CHECK(goc_blocking_ctx(goc_ctx_background(), add_one, (void *)1, NULL, NULL) == GOC_OK,
	      "result not wanted");

	int fds[2];
	CHECK(pipe(fds) == 0, "pipe");
	struct pipe_call p = {.fd = fds[0], .drops = goc_chan_make(sizeof(int), 1)};

	/* Cancelled while the call blocks: the caller returns GOC_CANCELED,
	 * the call runs on until its byte comes, then drop sees its result. */
	struct cancel_later l = {.ctx = goc_ctx_with_cancel(goc_ctx_background())};
	goc_wg_init(&l.done);
	goc_wg_add(&l.done, 1);
	goc_go(cancel_later, &l);
	CHECK(goc_blocking_ctx(l.ctx, read_pipe, &p, drop_pipe, &result) == GOC_CANCELED,
	      "cancelled");
	goc_wg_wait(&l.done);
	int seen;
	CHECK(goc_chan_try_recv(p.drops, &seen) == GOC_WOULDBLOCK, "drop before the call returned");
	CHECK(write(fds[1], "x", 1) == 1, "unblock");
	CHECK(goc_chan_recv(p.drops, &seen) == GOC_OK && seen == 'x', "drop saw %d", seen);
	/* Already cancelled: not run, and drop has arg at once. */
	CHECK(goc_blocking_ctx(l.ctx, mark_ran, &p, drop_pipe, NULL) == GOC_CANCELED &&
		      !__atomic_load_n(&ran, __ATOMIC_SEQ_CST),
	      "ran for a cancelled context");
	CHECK(goc_chan_try_recv(p.drops, &seen) == GOC_OK && seen == 0, "drop(NULL, arg)");
	CHECK(goc_blocking_ctx(l.ctx, mark_ran, NULL, NULL, NULL) == GOC_CANCELED, "no drop");
	goc_ctx_release(l.ctx);

	/* A timeout, while other goroutines go on (GOCMAXPROCS=1: the P is
	 * handed on while the call blocks its thread). */
	goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 30 * GOC_MILLISECOND);
	CHECK(goc_blocking_ctx(ctx, read_pipe, &p, drop_pipe, &result) == GOC_TIMEOUT, "timeout");
	goc_ctx_release(ctx);
	CHECK(write(fds[1], "y", 1) == 1, "unblock");
	CHECK(goc_chan_recv(p.drops, &seen) == GOC_OK && seen == 'y', "drop saw %d", seen);

	/* Returned before the context ended: no drop. */
	ctx = goc_ctx_with_timeout(goc_ctx_background(), 10 * GOC_SECOND);
	CHECK(write(fds[1], "z", 1) == 1, "byte ready");
	CHECK(goc_blocking_ctx(ctx, read_pipe, &p, drop_pipe, &result) == GOC_OK &&
		      (intptr_t)result == 'z',
	      "result z");
	goc_ctx_cancel(ctx);
	goc_ctx_release(ctx);
	goc_sleep(20 * GOC_MILLISECOND);
	CHECK(goc_chan_try_recv(p.drops, &seen) == GOC_WOULDBLOCK, "drop after a result");
	close(fds[0]);
	close(fds[1]);
	goc_chan_release(p.drops);
	ok("blocking_ctx: result, cancelled (runs on, dropped once), timeout, already cancelled "
	   "(not run, dropped at once)");
}

/* ---- calls racing their deadlines ---- */

static int64_t outcomes; /* atomic: results taken + drops */

struct race_arg {
	int64_t sleep_us;
};

static void *sleep_a_while(void *arg)
{
	struct race_arg *a = arg;
	usleep((useconds_t)a->sleep_us);
	return a;
}

static void drop_race(void *result, void *arg)
{
	CHECK(result == arg || !result, "drop got another result");
	free(arg);
	__atomic_add_fetch(&outcomes, 1, __ATOMIC_SEQ_CST);
}

static void racer(void *arg)
{
	goc_wg *wg = arg;
	for (int i = 0; i < 20; i++) {
		struct race_arg *a = malloc(sizeof *a);
		a->sleep_us = (int64_t)(goc_now() % 2000);
		goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), GOC_MILLISECOND);
		void *result;
		goc_status st = goc_blocking_ctx(ctx, sleep_a_while, a, drop_race, &result);
		CHECK(st == GOC_OK || st == GOC_TIMEOUT, "status %d", st);
		if (st == GOC_OK) {
			CHECK(result == a, "result");
			free(a);
			__atomic_add_fetch(&outcomes, 1, __ATOMIC_SEQ_CST);
		}
		goc_ctx_release(ctx);
	}
	goc_wg_done(wg);
}

static void test_blocking_ctx_race(void)
{
	long racers = test_size(50, 20, 10);
	goc_wg wg;
	goc_wg_init(&wg);
	goc_wg_add(&wg, racers);
	for (long i = 0; i < racers; i++)
		goc_go(racer, &wg);
	goc_wg_wait(&wg);
	/* Every call ends exactly once: its result taken or its drop run
	 * (the drops of abandoned calls may still be on their way). */
	for (int i = 0; i < 500 && __atomic_load_n(&outcomes, __ATOMIC_SEQ_CST) < racers * 20; i++)
		goc_sleep(10 * GOC_MILLISECOND);
	if (__atomic_load_n(&outcomes, __ATOMIC_SEQ_CST) != racers * 20)
		goc_dump(stderr);
	CHECK(__atomic_load_n(&outcomes, __ATOMIC_SEQ_CST) == racers * 20, "%lld outcomes of %ld",
	      (long long)outcomes, racers * 20);
	ok("blocking_ctx: calls racing their deadlines end exactly once each");
}

static void run(void *arg)
{
	(void)arg;
	snprintf(dir, sizeof dir, "/tmp/goc-io-XXXXXX");
	CHECK(mkdtemp(dir), "mkdtemp");
	test_open_close_stat();
	test_read_all();
	test_dir();
	test_blocking_ctx_basic();
	test_blocking_ctx_race();
	char path[128];
	snprintf(path, sizeof path, "%s/a.txt", dir);
	unlink(path);
	CHECK(rmdir(dir) == 0, "rmdir: %s", strerror(errno));
}

int main(void)
{
	goc_main(run, NULL);
	return 0;
}
