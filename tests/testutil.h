/*
 * testutil.h — assertions and child-process helpers for goc's tests.
 *
 * CHECK(cond, fmt, ...) reports the failing condition with file and line and
 * exits 1; tests print "ok: <name>" as they pass so a failure's context is
 * visible in ctest's output.
 */
#ifndef GOC_TESTUTIL_H
#define GOC_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

#define CHECK(cond, ...)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fprintf(stderr, "\n");                                                   \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

/* Result of running a function in a child process. */
typedef struct child_result {
	int exited; /* 1 if it exited, 0 if a signal killed it */
	int status; /* exit status, or the signal number */
	char *out;  /* everything it wrote on stdout and stderr (malloc'd) */
} child_result;

/* Forks, runs fn(arg) in the child with stdout and stderr captured, and
 * waits. extra_env: "NAME=value" strings set in the child (NULL-ended), or
 * NULL. fn should end the child itself (exit); returning exits 0. */
child_result run_child(void (*fn)(void *), void *arg, const char *const *extra_env);
/* Runs the test binary itself again with argv[1] = mode in a fresh process
 * (exec, so no runtime state is inherited), capturing its output. */
child_result run_self(const char *self, const char *mode, const char *const *extra_env);
int contains(const char *haystack, const char *needle);
/* A test size: normal, under ASan (GOC_TEST_SANITIZER=address or valgrind)
 * or under TSan (=thread), where every goroutine is a TSan fiber and TSan
 * dies past 8128 live threads and fibers together. */
long test_size(long normal, long asan, long tsan);
/* Whether deadlock reports can be expected here: not under an emulator
 * (qemu-user runs a thread of its own in the process, and goc declines to
 * report deadlocks while a thread it does not know exists). Prints why
 * when they cannot. */
int deadlock_reports_expected(const char *what);
long rss_kib(void);
/* A connected TCP pair through ln (listening on a TCP address): *client
 * dialled, *server accepted. Fails the test on any error. */
void conn_pair(goc_listener *ln, goc_conn **client, goc_conn **server);
void ok(const char *name);
/* A response read by http_get: the whole of it (head and body,
 * NUL-terminated, malloc'd), its status and where its body starts. */
typedef struct http_response {
	int status;
	char *raw;
	const char *body;
	size_t body_len;
} http_response;
/* GET path from addr ("host:port") over HTTP/1.1 with goc's net API, from
 * a goroutine, reading until the server closes; checks Content-Length. */
http_response http_get(const char *addr, const char *path);
/* The value of header name in r ("" if absent), copied into out. */
const char *http_header(const http_response *r, const char *name, char *out, size_t size);

/* Whether the command `tool` is on PATH. When it is not and the test runs
 * as root, tools/deps.sh PURPOSE installs it from Debian first; when it is
 * still missing, prints "skip: WHAT (TOOL is not installed)" and returns 0. */
int tool_available(const char *tool, const char *purpose, const char *what);

#endif
