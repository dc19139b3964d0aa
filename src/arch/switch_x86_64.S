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

	.globl	goc__async_preempt
	.type	goc__async_preempt, @function
	.hidden	goc__async_preempt
/*
 * Where the SIGURG handler (src/sched/preempt.c) sends a goroutine it
 * preempts. The handler left the interrupted pc at (%rsp), 128 bytes below
 * the interrupted stack pointer (the red zone stays intact), as if that
 * code had called us. Everything is saved: flags, the general registers,
 * and the whole FP/SIMD state (XSAVE of every component the OS enabled,
 * goc__xsave_size bytes; FXSAVE where XSAVE is not usable). rbp makes a
 * frame record with the interrupted pc, so frame-pointer unwinding (dumps,
 * profiles) goes on into the interrupted code. `ret $128` returns to it
 * with the stack pointer as it was.
 */
goc__async_preempt:
	.cfi_startproc
	.cfi_signal_frame
	.cfi_def_cfa rsp, 136
	.cfi_offset rip, -136
	pushq	%rbp
	.cfi_offset rbp, -144
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	.cfi_def_cfa_offset 144
	pushfq
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rbx
	movl	goc__xsave_size(%rip), %ecx
	testl	%ecx, %ecx
	jz	1f
	subq	%rcx, %rsp
	andq	$-64, %rsp
	/* The XSAVE header (bytes 512-575) must be zero for XRSTOR. */
	xorl	%eax, %eax
	movq	%rax, 512(%rsp)
	movq	%rax, 520(%rsp)
	movq	%rax, 528(%rsp)
	movq	%rax, 536(%rsp)
	movq	%rax, 544(%rsp)
	movq	%rax, 552(%rsp)
	movq	%rax, 560(%rsp)
	movq	%rax, 568(%rsp)
	movl	$-1, %eax
	movl	$-1, %edx
	xsave	(%rsp)
	cld
	call	goc__preempt_park
	movl	$-1, %eax
	movl	$-1, %edx
	xrstor	(%rsp)
	jmp	2f
1:
	subq	$512, %rsp
	andq	$-64, %rsp
	fxsave	(%rsp)
	cld
	call	goc__preempt_park
	fxrstor	(%rsp)
2:
	movq	%rbx, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	popfq
	popq	%rbp
	.cfi_def_cfa rsp, 136
	ret	$128
	.cfi_endproc
	.size	goc__async_preempt, .-goc__async_preempt

	.section .note.GNU-stack,"",@progbits
