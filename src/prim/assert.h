/*
 * assert.h — the runtime's internal consistency checks.
 *
 * goc__assert(cond) states a precondition or invariant the code relies on
 * ("sched.lock is held", "the node is on no list", "a buffered channel
 * with values has no waiting receiver"), as Go's runtime throws. In the
 * builds that check (GOC_ASSERTS: the ASan and TSan builds that `make test`
 * runs, and CMAKE_BUILD_TYPE=Debug) a false condition is a runtime bug: it
 * ends the program through goc__fatal ("fatal error: assertion failed:
 * COND (file:line, function)", a dump of every goroutine, exit status 2).
 * In release builds the condition is never evaluated (`0 && (cond)`: it
 * is compiled, so the functions it names count as used, and then dropped),
 * so a check costs nothing there; it may read shared state but must have
 * no side effect the code depends on.
 *
 * Misuse by the user is not an assertion: it is goc__panic, in every build
 * (docs/HACKING.md: panic, fatal or an error).
 *
 * goc__assert_held(lock) checks that a goc__lock or goc__spinlock is held
 * by somebody: neither records an owner, so "this thread holds it" cannot
 * be checked, but a forgotten acquire is caught.
 */
#ifndef GOC_PRIM_ASSERT_H
#define GOC_PRIM_ASSERT_H

#include "atomic.h"

/* Defined in sched/proc.c. */
_Noreturn void goc__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef GOC_ASSERTS
#define goc__assert(cond)                                                                   \
	((cond) ? (void)0                                                                   \
		: goc__fatal("assertion failed: %s (%s:%d, %s)", #cond, __FILE__, __LINE__, \
			     __func__))
#else
#define goc__assert(cond) ((void)(0 && (cond)))
#endif

#define goc__assert_held(lock) goc__assert(goc__load_relaxed(&(lock)->word) != 0)

#endif
