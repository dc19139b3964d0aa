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

child_result run_child(void (*fn)(void *), void *arg, const char *const *extra_env)
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
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	close(fds[1]);
	return wait_child(pid, fds[0]);
}

child_result run_self(const char *self, const char *mode, const char *const *extra_env)
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
		execl("/proc/self/exe", self, mode, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	return wait_child(pid, fds[0]);
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

void ok(const char *name)
{
	printf("ok: %s\n", name);
	fflush(stdout);
}
