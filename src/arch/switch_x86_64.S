/*
 * switch_x86_64.S — context switch for x86_64 (System V ABI).
 *
 * Saved frame, from the saved stack pointer upwards:
 *   +0   MXCSR (4 bytes), x87 control word (2 bytes), padding
 *   +8   r15   +16 r14   +24 r13   +32 r12   +40 rbx   +48 rbp
 *   +56  return address
 * goc__cpuctx_make (context.c) builds the same frame for a new goroutine, with
 * r12 holding the entry function and the return address the trampoline.
 */
	.text
	.globl	goc__cpuctx_switch
	.type	goc__cpuctx_switch, @function
	.hidden	goc__cpuctx_switch
/* void *goc__cpuctx_switch(void **save_sp, void *load_sp, void *transfer) */
goc__cpuctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	movq	%rdx, %rax
	ret
	.cfi_endproc
	.size	goc__cpuctx_switch, .-goc__cpuctx_switch

	.globl	goc__cpuctx_trampoline
	.type	goc__cpuctx_trampoline, @function
	.hidden	goc__cpuctx_trampoline
/* First return target of a new context: entry(transfer), never returns. */
goc__cpuctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq	%rax, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	goc__cpuctx_trampoline, .-goc__cpuctx_trampoline

	.section .note.GNU-stack,"",@progbits
