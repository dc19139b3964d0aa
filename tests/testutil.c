/*
 * testutil.c — see testutil.h.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <string.h>
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

void ok(const char *name)
{
	printf("ok: %s\n", name);
	fflush(stdout);
}
