/*
 * testutil.h — assertions, behaviour selection and child-process helpers
 * for goc's tests.
 *
 * CHECK(cond, fmt, ...) reports the failing condition with file and line and
 * exits 1. The typed checks CHECK_EQ_INT, CHECK_EQ_UINT, CHECK_EQ_PTR,
 * CHECK_EQ_STR and CHECK_EQ_STATUS (and CHECK_GE_INT, CHECK_LE_INT) evaluate
 * each side once and, on failure, print both expressions with their values
 * (a status also as goc_strerror names it); an optional printf-style message
 * follows. Tests print "ok: <name>" as they pass so a failure's context is
 * visible in ctest's output.
 *
 * RUN(fn, args...) calls fn(args...) when the behaviour's name, fn, is
 * selected by GOC_TEST_RUN, an extended regular expression matched anywhere
 * in the name as `go test -run` does: `GOC_TEST_RUN=fcfs ctest -R
 * chan_semantics -V` runs one behaviour of one program. Unset or empty
 * selects every behaviour. A pattern that selects nothing in a program is
 * reported at its exit, so a typo does not pass silently.
 */
#ifndef GOC_TESTUTIL_H
#define GOC_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

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

#define CHECK_CMP_(kind, op, got, want, ...) \
	check_##kind(__FILE__, __LINE__, #op, #got, #want, (got), (want), " " __VA_ARGS__)

/* got == want, as signed integers. */
#define CHECK_EQ_INT(got, want, ...) CHECK_CMP_(int, ==, got, want, __VA_ARGS__)
/* got >= want and got <= want, as signed integers. */
#define CHECK_GE_INT(got, want, ...) CHECK_CMP_(int, >=, got, want, __VA_ARGS__)
#define CHECK_LE_INT(got, want, ...) CHECK_CMP_(int, <=, got, want, __VA_ARGS__)
/* got == want, as unsigned integers (sizes, counts). */
#define CHECK_EQ_UINT(got, want, ...) CHECK_CMP_(uint, ==, got, want, __VA_ARGS__)
#define CHECK_EQ_PTR(got, want, ...) CHECK_CMP_(ptr, ==, got, want, __VA_ARGS__)
/* Equal C strings; NULL equals only NULL. */
#define CHECK_EQ_STR(got, want, ...) CHECK_CMP_(str, ==, got, want, __VA_ARGS__)
/* Equal goc_status values, printed with goc_strerror's names. */
#define CHECK_EQ_STATUS(got, want, ...) CHECK_CMP_(status, ==, got, want, __VA_ARGS__)

/* The typed checks' bodies: fail the test (exit 1) unless got op want. fmt
 * is " " followed by the caller's optional message. */
#define CHECK_FMT_ __attribute__((format(printf, 8, 9)))
CHECK_FMT_ void check_int(const char *file, int line, const char *op, const char *got_expr,
			  const char *want_expr, long long got, long long want, const char *fmt,
			  ...);
CHECK_FMT_ void check_uint(const char *file, int line, const char *op, const char *got_expr,
			   const char *want_expr, unsigned long long got, unsigned long long want,
			   const char *fmt, ...);
CHECK_FMT_ void check_ptr(const char *file, int line, const char *op, const char *got_expr,
			  const char *want_expr, const void *got, const void *want, const char *fmt,
			  ...);
CHECK_FMT_ void check_str(const char *file, int line, const char *op, const char *got_expr,
			  const char *want_expr, const char *got, const char *want, const char *fmt,
			  ...);
CHECK_FMT_ void check_status(const char *file, int line, const char *op, const char *got_expr,
			     const char *want_expr, goc_status got, goc_status want,
			     const char *fmt, ...);

/* Whether GOC_TEST_RUN selects the behaviour called name (see above). */
bool test_selected(const char *name);
#define RUN(fn, ...)                     \
	do {                             \
		if (test_selected(#fn))  \
			fn(__VA_ARGS__); \
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

/* Whether the plain thread tid (gettid()) is blocked in poll(2) or
 * ppoll(2), which is where goc's I/O calls wait on a plain thread. Where
 * /proc cannot tell (under an emulator), true: tests lose precision there,
 * not correctness. */
bool thread_in_poll(pid_t tid);

/* Whether the command `tool` is on PATH. When it is not and the test runs
 * as root, tools/deps.sh PURPOSE installs it from Debian first; when it is
 * still missing, prints "skip: WHAT (TOOL is not installed)" and returns 0. */
int tool_available(const char *tool, const char *purpose, const char *what);

#endif
