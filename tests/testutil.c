/*
 * testutil.c — see testutil.h.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <regex.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char *read_all(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	return buf;
}

static child_result wait_child(pid_t pid, int fd)
{
	child_result r = {0};
	r.out = read_all(fd);
	close(fd);
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st)) {
		r.exited = 1;
		r.status = WEXITSTATUS(st);
	} else {
		r.status = WTERMSIG(st);
	}
	return r;
}

/* Forks with the child's stdout and stderr going into a pipe and extra_env
 * set; returns the pid (0 in the child) and the read end in *out_fd. */
static pid_t fork_captured(const char *const *extra_env, int *out_fd)
{
	int fds[2];
	CHECK(pipe(fds) == 0, "pipe");
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		for (const char *const *e = extra_env; e && *e; e++)
			putenv((char *)*e);
		return 0;
	}
	close(fds[1]);
	*out_fd = fds[0];
	return pid;
}

child_result run_child(void (*fn)(void *), void *arg, const char *const *extra_env)
{
	int fd;
	pid_t pid = fork_captured(extra_env, &fd);
	if (pid == 0) {
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	return wait_child(pid, fd);
}

child_result run_self(const char *self, const char *mode, const char *const *extra_env)
{
	int fd;
	pid_t pid = fork_captured(extra_env, &fd);
	if (pid == 0) {
		/* Under an emulator (qemu-user for a cross build, without
		 * binfmt_misc) /proc/self/exe is the emulator: run the test binary
		 * through it, as ctest did. */
		const char *emulator = getenv("GOC_TEST_EMULATOR");
		if (emulator && *emulator) {
			char *words = strdup(emulator);
			char *argv[16];
			int n = 0;
			for (char *w = strtok(words, " "); w && n < 13; w = strtok(NULL, " "))
				argv[n++] = w;
			argv[n++] = (char *)self;
			argv[n++] = (char *)mode;
			argv[n] = NULL;
			execvp(argv[0], argv);
		} else {
			execl("/proc/self/exe", self, mode, (char *)NULL);
		}
		_exit(127);
	}
	return wait_child(pid, fd);
}

int deadlock_reports_expected(const char *what)
{
	const char *emulator = getenv("GOC_TEST_EMULATOR");
	if (emulator && *emulator) {
		printf("skipped under an emulator (its own thread turns deadlock reports off): %s\n",
		       what);
		return 0;
	}
	return 1;
}

long test_size(long normal, long asan, long tsan)
{
	const char *s = getenv("GOC_TEST_SANITIZER");
	if (!s || !*s)
		return normal;
	return strcmp(s, "thread") == 0 ? tsan : asan;
}

int contains(const char *haystack, const char *needle)
{
	return haystack && strstr(haystack, needle) != NULL;
}

long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

void conn_pair(goc_listener *ln, goc_conn **client, goc_conn **server)
{
	char addr[128];
	goc_listener_addr(ln, addr, sizeof addr);
	int err = goc_dial("tcp", addr, goc_now() + 10 * GOC_SECOND, client);
	CHECK(err == 0, "dial %s: %s", addr, strerror(-err));
	err = goc_accept(ln, server);
	CHECK(err == 0, "accept: %s", strerror(-err));
}

/* ---- typed checks ---------------------------------------------------- */

/* Prints "file:line: CHECK(got op want) failed: got = G, want = W" and the
 * caller's message (fmt is " " plus it), then exits 1. */
static void check_failed(const char *file, int line, const char *op, const char *got_expr,
			 const char *want_expr, const char *got, const char *want, const char *fmt,
			 va_list ap)
{
	char note[1024];
	vsnprintf(note, sizeof note, fmt, ap);
	fprintf(stderr, "%s:%d: CHECK(%s %s %s) failed: %s = %s, %s = %s%s%s\n", file, line,
		got_expr, op, want_expr, got_expr, got, want_expr, want, note[1] ? ";" : "",
		note[1] ? note : "");
	exit(1);
}

static bool compare(const char *op, int cmp)
{
	if (strcmp(op, ">=") == 0)
		return cmp >= 0;
	if (strcmp(op, "<=") == 0)
		return cmp <= 0;
	return cmp == 0;
}

#define CMP3(a, b) ((a) < (b) ? -1 : (a) > (b))

void check_int(const char *file, int line, const char *op, const char *got_expr,
	       const char *want_expr, long long got, long long want, const char *fmt, ...)
{
	if (compare(op, CMP3(got, want)))
		return;
	char g[32], w[32];
	snprintf(g, sizeof g, "%lld", got);
	snprintf(w, sizeof w, "%lld", want);
	va_list ap;
	va_start(ap, fmt);
	check_failed(file, line, op, got_expr, want_expr, g, w, fmt, ap);
}

void check_uint(const char *file, int line, const char *op, const char *got_expr,
		const char *want_expr, unsigned long long got, unsigned long long want,
		const char *fmt, ...)
{
	if (compare(op, CMP3(got, want)))
		return;
	char g[32], w[32];
	snprintf(g, sizeof g, "%llu", got);
	snprintf(w, sizeof w, "%llu", want);
	va_list ap;
	va_start(ap, fmt);
	check_failed(file, line, op, got_expr, want_expr, g, w, fmt, ap);
}

void check_ptr(const char *file, int line, const char *op, const char *got_expr,
	       const char *want_expr, const void *got, const void *want, const char *fmt, ...)
{
	if (compare(op, got == want ? 0 : 1))
		return;
	char g[32], w[32];
	snprintf(g, sizeof g, "%p", got);
	snprintf(w, sizeof w, "%p", want);
	va_list ap;
	va_start(ap, fmt);
	check_failed(file, line, op, got_expr, want_expr, g, w, fmt, ap);
}

/* s quoted for a failure message (at most 200 bytes of it), or NULL. */
static void quote(char *out, size_t size, const char *s)
{
	if (!s)
		snprintf(out, size, "NULL");
	else
		snprintf(out, size, "\"%.200s\"%s", s, strlen(s) > 200 ? "..." : "");
}

void check_str(const char *file, int line, const char *op, const char *got_expr,
	       const char *want_expr, const char *got, const char *want, const char *fmt, ...)
{
	int cmp = got && want ? strcmp(got, want) : got == want ? 0 : 1;
	if (compare(op, cmp))
		return;
	char g[256], w[256];
	quote(g, sizeof g, got);
	quote(w, sizeof w, want);
	va_list ap;
	va_start(ap, fmt);
	check_failed(file, line, op, got_expr, want_expr, g, w, fmt, ap);
}

void check_status(const char *file, int line, const char *op, const char *got_expr,
		  const char *want_expr, goc_status got, goc_status want, const char *fmt, ...)
{
	if (compare(op, got == want ? 0 : 1))
		return;
	char g[160], w[160];
	snprintf(g, sizeof g, "%d (%s)", got, goc_strerror(got));
	snprintf(w, sizeof w, "%d (%s)", want, goc_strerror(want));
	va_list ap;
	va_start(ap, fmt);
	check_failed(file, line, op, got_expr, want_expr, g, w, fmt, ap);
}

/* ---- behaviour selection --------------------------------------------- */

static int selected_count;

static void report_empty_selection(void)
{
	if (selected_count == 0)
		fprintf(stderr, "warning: GOC_TEST_RUN=%s selects no behaviour here\n",
			getenv("GOC_TEST_RUN"));
}

/* Compiled once: behaviours are selected from one goroutine, the test's
 * main, before or between the goroutines it starts. */
bool test_selected(const char *name)
{
	static int state; /* 0 unread, 1 select all, 2 pattern compiled */
	static regex_t re;
	if (state == 0) {
		const char *pattern = getenv("GOC_TEST_RUN");
		state = 1;
		if (pattern && *pattern) {
			int err = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
			if (err) {
				char why[256];
				regerror(err, &re, why, sizeof why);
				fprintf(stderr, "GOC_TEST_RUN=%s: %s\n", pattern, why);
				exit(1);
			}
			state = 2;
			atexit(report_empty_selection);
		}
	}
	if (state == 2 && regexec(&re, name, 0, NULL, 0) != 0)
		return false;
	selected_count++;
	return true;
}

void ok(const char *name)
{
	printf("ok: %s\n", name);
	fflush(stdout);
}

bool thread_in_poll(pid_t tid)
{
	const char *emulator = getenv("GOC_TEST_EMULATOR");
	if (emulator && *emulator)
		return true;
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	long nr = -1;
	if (!fgets(line, sizeof line, f) || sscanf(line, "%ld", &nr) != 1)
		nr = -1; /* "running" */
	fclose(f);
#ifdef SYS_poll
	if (nr == SYS_poll)
		return true;
#endif
	return nr == SYS_ppoll;
}

static int on_path(const char *tool)
{
	char command[256];
	snprintf(command, sizeof command, "command -v '%s' >/dev/null 2>&1", tool);
	return system(command) == 0;
}

int tool_available(const char *tool, const char *purpose, const char *what)
{
	if (on_path(tool))
		return 1;
	if (geteuid() == 0) {
		char command[4096];
		snprintf(command, sizeof command, "'%s/tools/deps.sh' %s >&2", GOC_TEST_SOURCE_DIR,
			 purpose);
		if (system(command) == 0 && on_path(tool))
			return 1;
	}
	printf("skip: %s (%s is not installed)\n", what, tool);
	return 0;
}

const char *http_header(const http_response *r, const char *name, char *out, size_t size)
{
	out[0] = 0;
	size_t n = strlen(name);
	for (const char *line = strstr(r->raw, "\r\n"); line && line + 2 < r->body;
	     line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, name, n) || line[2 + n] != ':')
			continue;
		const char *v = line + 3 + n;
		while (*v == ' ')
			v++;
		size_t len = strcspn(v, "\r");
		if (len >= size)
			len = size - 1;
		memcpy(out, v, len);
		out[len] = 0;
		break;
	}
	return out;
}

http_response http_get(const char *addr, const char *path)
{
	goc_conn *c;
	int err = goc_dial("tcp", addr, goc_now() + 5 * GOC_SECOND, &c);
	CHECK(err == 0, "dial %s: %s", addr, strerror(-err));
	char request[1024];
	int n = snprintf(request, sizeof request,
			 "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr);
	CHECK(goc_conn_write(c, request, (size_t)n, NULL) == n, "send GET %s", path);
	goc_conn_set_read_deadline(c, goc_now() + 60 * GOC_SECOND);
	size_t len = 0, cap = 65536;
	char *raw = malloc(cap);
	CHECK(raw, "out of memory");
	for (;;) {
		if (cap - len < 4096) {
			cap *= 2;
			raw = realloc(raw, cap);
			CHECK(raw, "out of memory");
		}
		ssize_t got = goc_conn_read(c, raw + len, cap - len - 1);
		CHECK(got >= 0, "read GET %s: %s", path, strerror((int)-got));
		if (got == 0)
			break;
		len += (size_t)got;
	}
	goc_conn_close(c);
	raw[len] = 0;
	http_response r = {.raw = raw};
	CHECK(sscanf(raw, "HTTP/1.1 %d", &r.status) == 1, "GET %s: no status line", path);
	char *end = strstr(raw, "\r\n\r\n");
	CHECK(end, "GET %s: no end of head", path);
	r.body = end + 4;
	r.body_len = len - (size_t)(r.body - raw);
	char value[64];
	CHECK(atoll(http_header(&r, "Content-Length", value, sizeof value)) ==
		      (long long)r.body_len,
	      "GET %s: Content-Length %s for %zu bytes", path, value, r.body_len);
	return r;
}
