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

#endif
