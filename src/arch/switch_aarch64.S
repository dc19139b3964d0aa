/*
 * switch_aarch64.S — context switch for aarch64 (AAPCS64).
 *
 * Saved frame (176 bytes), from the saved stack pointer upwards:
 *   +0  x19 x20   +16 x21 x22   +32 x23 x24   +48 x25 x26   +64 x27 x28
 *   +80 x29 x30 (frame pointer, return address)
 *   +96 d8 d9   +112 d10 d11  +128 d12 d13  +144 d14 d15   +160 fpcr, pad
 * goc__cpuctx_make (context.c) builds the same frame for a new goroutine, with
 * x19 holding the entry function and x30 the trampoline.
 */
	.text
	.globl	goc__cpuctx_switch
	.type	goc__cpuctx_switch, %function
	.hidden	goc__cpuctx_switch
	.p2align 4
/* void *goc__cpuctx_switch(void **save_sp, void *load_sp, void *transfer) */
goc__cpuctx_switch:
	.cfi_startproc
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	mov	sp, x1
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	add	sp, sp, #176
	mov	x0, x2
	ret
	.cfi_endproc
	.size	goc__cpuctx_switch, .-goc__cpuctx_switch

	.globl	goc__cpuctx_trampoline
	.type	goc__cpuctx_trampoline, %function
	.hidden	goc__cpuctx_trampoline
	.p2align 4
/* First return target of a new context: entry(transfer), never returns. */
goc__cpuctx_trampoline:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	blr	x19
	brk	#0
	.cfi_endproc
	.size	goc__cpuctx_trampoline, .-goc__cpuctx_trampoline

	.section .note.GNU-stack,"",%progbits
