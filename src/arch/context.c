/*
 * context.c — building the first frame of a new context.
 *
 * The frame mirrors what goc__cpuctx_switch pops (see switch_<cpu>.S), so the
 * first switch into a new goroutine lands in goc__cpuctx_trampoline with the
 * entry function in a callee-saved register.
 */
#include "context.h"

#include <stdint.h>
#include <string.h>

void goc__cpuctx_trampoline(void);

#if defined(__x86_64__)

void *goc__cpuctx_make(void *top, goc__cpuctx_entry entry)
{
	/* `ret` pops the trampoline's address from top - 8, leaving rsp = top
	 * (16-byte aligned); the trampoline's call pushes a return address, so
	 * the entry function starts with rsp + 8 16-byte aligned, as the ABI
	 * wants at a function's first instruction. */
	uint64_t *sp = (uint64_t *)top;
	*--sp = (uint64_t)(uintptr_t)goc__cpuctx_trampoline;
	*--sp = 0;                          /* rbp: ends frame-pointer chains */
	*--sp = 0;                          /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry; /* r12 */
	*--sp = 0;                          /* r13 */
	*--sp = 0;                          /* r14 */
	*--sp = 0;                          /* r15 */
	/* MXCSR default (all exceptions masked, round to nearest) and the x87
	 * control word default (extended precision, exceptions masked). */
	*--sp = (uint64_t)0x1F80 | ((uint64_t)0x037F << 32);
	return sp;
}

#elif defined(__aarch64__)

void *goc__cpuctx_make(void *top, goc__cpuctx_entry entry)
{
	uint64_t *sp = (uint64_t *)((char *)top - 176);
	memset(sp, 0, 176);
	sp[0] = (uint64_t)(uintptr_t)entry;                   /* x19 */
	sp[11] = (uint64_t)(uintptr_t)goc__cpuctx_trampoline; /* x30 */
	return sp;
}

#else
#error "goc supports x86_64 and aarch64"
#endif
