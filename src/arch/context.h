/*
 * context.h — switching between goroutine stacks.
 *
 * A suspended context is nothing but a stack pointer: goc__cpuctx_switch pushes
 * the callee-saved registers and the floating-point control words on the
 * current stack, stores the stack pointer in *save_sp, loads load_sp, pops
 * the other context's registers and returns into it. Caller-saved registers
 * need no saving: goc__cpuctx_switch is an ordinary function call to the C code
 * around it.
 *
 * The value `transfer` travels across the switch: the resumed context sees
 * it as goc__cpuctx_switch's return value. The scheduler passes the M doing the
 * switch, so a goroutine that wakes on another thread learns its new M
 * without reading thread-local storage (whose address the compiler may have
 * cached from before the switch).
 *
 * A fresh context is made by goc__cpuctx_make: the first switch into it "returns"
 * into an assembly trampoline that calls entry(transfer). entry must never
 * return; the trampoline marks the end of the call chain for debuggers and
 * unwinders.
 */
#ifndef GOC_ARCH_CONTEXT_H
#define GOC_ARCH_CONTEXT_H

typedef void (*goc__cpuctx_entry)(void *transfer);

void *goc__cpuctx_switch(void **save_sp, void *load_sp, void *transfer);

/* Prepares a context on the stack whose highest usable address is top
 * (16-byte aligned); returns its stack pointer for goc__cpuctx_switch. */
void *goc__cpuctx_make(void *top, goc__cpuctx_entry entry);

#endif
