/*
 * unwind.c — stack traces by walking frame pointers.
 *
 * Every frame built with frame pointers starts with a two-word record: the
 * caller's frame pointer, then the return address into the caller (x86_64:
 * push rbp below the return address the call pushed; aarch64: stp x29, x30).
 * A trace is the chain of those records. goc, its tests and its benchmarks
 * are built with -fno-omit-frame-pointer; a function compiled without frame
 * pointers does not appear in the chain (its callee's record points past
 * it), and one that uses the frame-pointer register for data ends it.
 *
 * Where a chain starts:
 *  - a parked goroutine: goc__cpuctx_switch's saved frame (switch_<cpu>.S) holds
 *    the frame pointer and the return address into the code that switched;
 *  - the caller: __builtin_frame_address(0);
 *  - a signal: the interrupted pc and frame pointer in its ucontext.
 * Where it ends: at a zero frame pointer. goc__cpuctx_make gives every
 * goroutine a zero frame pointer, so the last record is g_entry's, whose
 * return address is the trampoline; g_entry itself is dropped too, leaving
 * the goroutine's function as the outermost frame, as in Go.
 *
 * Invariants: only addresses in [lo, hi) (the goroutine's stack) are read,
 * and each frame record lies above the previous one, so a stack that
 * changes under the walk (a goroutine resumed meanwhile) gives a wrong
 * trace, never a fault or a loop. Nothing here allocates, locks or calls
 * libc: all of it may run in a signal handler.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <ucontext.h>

#include "debug.h"

#if defined(__x86_64__)
/* goc__cpuctx_switch's saved frame: rbp at +48, the return address at +56. */
#define SAVED_FP_OFFSET 48
#define SAVED_PC_OFFSET 56
#elif defined(__aarch64__)
/* goc__cpuctx_switch's saved frame: x29 at +80, x30 at +88. */
#define SAVED_FP_OFFSET 80
#define SAVED_PC_OFFSET 88
#else
#error "goc supports x86_64 and aarch64"
#endif

static bool frame_ok(uintptr_t fp, uintptr_t above, uintptr_t lo, uintptr_t hi)
{
	return fp > above && fp >= lo && fp <= hi - 2 * sizeof(uintptr_t) &&
		fp % sizeof(uintptr_t) == 0;
}

/* Appends pc, then the return addresses of the chain starting at fp. */
GOC_RACY_READER static void walk(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi,
				 goc__stacktrace *t)
{
	t->n = 0;
	t->truncated = false;
	if (pc)
		t->pcs[t->n++] = pc;
	uintptr_t above = lo ? lo - 1 : 0;
	while (frame_ok(fp, above, lo, hi)) {
		const uintptr_t *record = (const uintptr_t *)fp;
		uintptr_t next = record[0];
		uintptr_t ret = record[1];
		if (next == 0) {
			/* g_entry's record: its return address is the
			 * trampoline, and g_entry (the last pc taken) is the
			 * runtime's, not the program's. */
			if (t->n > 1)
				t->n--;
			return;
		}
		if (ret == 0)
			return;
		if (t->n == GOC_TRACE_MAX) {
			t->truncated = true;
			return;
		}
		t->pcs[t->n++] = ret;
		above = fp;
		fp = next;
	}
}

GOC_RACY_READER void goc__unwind_saved(const void *sp, uintptr_t lo, uintptr_t hi,
				       goc__stacktrace *t)
{
	uintptr_t s = (uintptr_t)sp;
	t->first_exact = false;
	if (!s || s < lo || s + SAVED_PC_OFFSET + sizeof(uintptr_t) > hi) {
		t->n = 0;
		t->truncated = false;
		return;
	}
	uintptr_t fp = *(const uintptr_t *)(s + SAVED_FP_OFFSET);
	uintptr_t pc = *(const uintptr_t *)(s + SAVED_PC_OFFSET);
	walk(pc, fp, lo, hi, t);
}

__attribute__((noinline)) void goc__unwind_here(int skip, uintptr_t lo, uintptr_t hi,
						goc__stacktrace *t)
{
	t->first_exact = false;
	walk(0, (uintptr_t)__builtin_frame_address(0), lo, hi, t);
	if (skip > t->n)
		skip = t->n;
	for (int i = skip; i < t->n; i++)
		t->pcs[i - skip] = t->pcs[i];
	t->n -= skip;
}

void goc__unwind_signal(const void *ucontext, uintptr_t lo, uintptr_t hi, goc__stacktrace *t)
{
	const ucontext_t *uc = ucontext;
#if defined(__x86_64__)
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
#else
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
	uintptr_t fp = (uintptr_t)uc->uc_mcontext.regs[29];
#endif
	t->first_exact = true;
	walk(pc, fp, lo, hi, t);
}
