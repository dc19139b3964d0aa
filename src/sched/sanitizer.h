/*
 * sanitizer.h — telling ASan, TSan and valgrind about stack switches.
 *
 * ASan keeps a "fake stack" per context and must know which stack is live:
 * the leaving side calls __sanitizer_start_switch_fiber, the arriving side
 * __sanitizer_finish_switch_fiber (a context that leaves for good passes NULL
 * so its fake stack is freed). TSan keeps one fiber per goroutine and is
 * told before each switch; it must not destroy the fiber it runs on, so a
 * goroutine descriptor keeps its fiber for its next goroutine. Valgrind needs
 * each stack registered once so it does not mistake a switch for a huge
 * stack frame (stack.c does that when it makes a slot). In a build without
 * these tools every hook compiles to nothing.
 */
#ifndef GOC_SCHED_SANITIZER_H
#define GOC_SCHED_SANITIZER_H

#include "runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define GOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOC_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GOC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOC_TSAN 1
#endif
#endif

#ifdef GOC_ASAN
#include <pthread.h> /* pthread_getattr_np: includers define _GNU_SOURCE */
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef GOC_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Before switching from `from` to `to`. leaving_for_good: from has exited. */
/* Threads a sanitizer runtime starts for itself (TSan's background
 * thread), which deadlock detection must not take for the user's. */
#ifdef GOC_TSAN
#define SAN_OWN_THREADS 1
#else
#define SAN_OWN_THREADS 0
#endif

static inline void san_before_switch(goc__g *from, goc__g *to, bool leaving_for_good)
{
#ifdef GOC_ASAN
	/* The stack switched to: a goroutine's slot, or g0's thread stack. */
	__sanitizer_start_switch_fiber(leaving_for_good ? NULL : &from->asan_fake_stack,
				       to->stack_lo, to->stack_size);
#endif
#ifdef GOC_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	(void)from;
	(void)to;
	(void)leaving_for_good;
}

/* Right after `self` is resumed. */
static inline void san_after_switch(goc__g *self)
{
#ifdef GOC_ASAN
	__sanitizer_finish_switch_fiber(self->asan_fake_stack, NULL, NULL);
#endif
	(void)self;
}

/* A goroutine is about to run for the first time, on a stack that another
 * goroutine may have used before. */
static inline void san_g_created(goc__g *g)
{
#ifdef GOC_TSAN
	if (!g->tsan_fiber)
		g->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef GOC_ASAN
	/* A previous goroutine on this slot may have left poisoned frames. */
	__asan_unpoison_memory_region(g->stack_lo, g->stack_size);
#endif
	(void)g;
}

/* An M's own context. */
static inline void san_g0_init(goc__g *g0)
{
#ifdef GOC_TSAN
	g0->tsan_fiber = __tsan_get_current_fiber();
#endif
#ifdef GOC_ASAN
	/* ASan wants the thread's real stack bounds for switches back to g0. */
	pthread_attr_t attr;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, &addr, &size);
		pthread_attr_destroy(&attr);
		g0->stack_lo = addr;
		g0->stack_size = size;
	}
#endif
	(void)g0;
}

#endif
