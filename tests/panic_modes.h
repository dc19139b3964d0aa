/*
 * panic_modes.h — misuse checks that must end in a panic, each run in a
 * fresh process: the test binary re-executes itself with the mode's name
 * as argv[1], runs the mode's function as its main goroutine, and must die
 * by SIGABRT printing the expected message.
 *
 *     static const struct panic_mode modes[] = {{"name", fn, "panic: ..."}, ...};
 *     int main(int argc, char **argv) {
 *         return panic_modes_main(argc, argv, main_g, modes, N);
 *     }
 *
 * or, for a test that does more around them, panic_mode_run in the child
 * and panic_modes_check in the parent.
 */
#ifndef GOC_TEST_PANIC_MODES_H
#define GOC_TEST_PANIC_MODES_H

#include <signal.h>
#include <string.h>

#include "testutil.h"

struct panic_mode {
	const char *name;
	goc_fn fn;
	const char *message; /* expected in the output */
};

/* In the child: runs the named mode (which should not return). */
static inline int panic_mode_run(const char *name, const struct panic_mode *modes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, modes[i].name) == 0)
			goc_main(modes[i].fn, NULL);
	return 3;
}

/* In the parent: runs every mode in a child and checks how it died. */
static inline void panic_modes_check(const char *self, const struct panic_mode *modes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		child_result r = run_self(self, modes[i].name, NULL);
		CHECK(!r.exited && r.status == SIGABRT && contains(r.out, modes[i].message),
		      "%s: want a panic \"%s\", got %s %d:\n%s", modes[i].name, modes[i].message,
		      r.exited ? "exit" : "signal", r.status, r.out);
		free(r.out);
	}
	ok("misuse panics");
}

/* The whole main of a test that runs main_g as its main goroutine and then
 * checks its panic modes. */
static inline int panic_modes_main(int argc, char **argv, goc_fn main_g,
				   const struct panic_mode *modes, size_t n)
{
	if (argc > 1)
		return panic_mode_run(argv[1], modes, n);
	goc_main(main_g, NULL);
	panic_modes_check(argv[0], modes, n);
	return 0;
}

#endif
