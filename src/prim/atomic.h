/*
 * atomic.h — the runtime's atomics vocabulary: one helper per operation and
 * memory order, named after both.
 *
 * Every atomic access in src/ goes through these macros, so the order an
 * access needs is read in its name at the call site (goc__load_acquire,
 * goc__store_release) and a reviewer can grep for the strong ones. They are
 * type-generic wrappers of the GCC/Clang __atomic builtins on plain (not
 * _Atomic) objects of any lock-free size; they compile to exactly the
 * builtin they name.
 *
 * Which order to use (docs/HACKING.md says more):
 *   relaxed  a counter or a flag nobody synchronises through; statistics.
 *   acquire  a load after which the reader uses what the writer published.
 *   release  a store that publishes what was written before it.
 *   acqrel   a read-modify-write that both consumes and publishes.
 *   seqcst   only for the Dekker-style pairs (publish, then look at the other
 *            side's flag) where acquire/release is not enough: spinning-M
 *            accounting, the poller's "someone is blocked" word.
 *
 * Compare-and-swap: goc__cas_ORDER(p, expected_ptr, desired) is the strong
 * form, goc__cas_weak_ORDER the weak one (may fail spuriously; for loops).
 * Both return true on success; on failure *expected_ptr receives the current
 * value, loaded with the strongest order the success order allows for a load
 * (acquire for acquire and acqrel, seqcst for seqcst, relaxed otherwise), as
 * C11's single-order compare_exchange does.
 *
 * goc__fetch_OP returns the value before the operation, goc__OP_fetch the
 * value after it.
 */
#ifndef GOC_PRIM_ATOMIC_H
#define GOC_PRIM_ATOMIC_H

#include <stdbool.h>

#define goc__load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define goc__load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define goc__load_seqcst(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)

#define goc__store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define goc__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define goc__store_seqcst(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

#define goc__xchg_relaxed(p, v) __atomic_exchange_n((p), (v), __ATOMIC_RELAXED)
#define goc__xchg_acquire(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQUIRE)
#define goc__xchg_release(p, v) __atomic_exchange_n((p), (v), __ATOMIC_RELEASE)
#define goc__xchg_acqrel(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define goc__xchg_seqcst(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)

#define goc__cas_relaxed(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
#define goc__cas_acquire(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), false, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)
#define goc__cas_release(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#define goc__cas_acqrel(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define goc__cas_seqcst(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

#define goc__cas_weak_relaxed(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
#define goc__cas_weak_acquire(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), true, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)
#define goc__cas_weak_release(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), true, __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#define goc__cas_weak_acqrel(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define goc__cas_weak_seqcst(p, e, v) \
	__atomic_compare_exchange_n((p), (e), (v), true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

#define goc__fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define goc__fetch_add_release(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELEASE)
#define goc__fetch_add_acqrel(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define goc__fetch_add_seqcst(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define goc__fetch_sub_relaxed(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)
#define goc__fetch_sub_release(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELEASE)
#define goc__fetch_sub_acqrel(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_ACQ_REL)
#define goc__fetch_sub_seqcst(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define goc__fetch_or_relaxed(p, v) __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
#define goc__fetch_or_acqrel(p, v) __atomic_fetch_or((p), (v), __ATOMIC_ACQ_REL)
#define goc__fetch_or_seqcst(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define goc__fetch_and_seqcst(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)

#define goc__add_fetch_relaxed(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define goc__add_fetch_release(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELEASE)
#define goc__add_fetch_acqrel(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define goc__add_fetch_seqcst(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define goc__sub_fetch_relaxed(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_RELAXED)
#define goc__sub_fetch_release(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_RELEASE)
#define goc__sub_fetch_acqrel(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_ACQ_REL)
#define goc__sub_fetch_seqcst(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_SEQ_CST)

/* A full barrier, for the rare pattern that needs one between plain and
 * relaxed accesses (qsbr.c says why it does). */
#define goc__fence_seqcst() __atomic_thread_fence(__ATOMIC_SEQ_CST)
/* Orders memory against a signal handler on the same thread only: a
 * compiler barrier, no instruction (the heap's busy word, src/alloc/mcache.c). */
#define goc__signal_fence_seqcst() __atomic_signal_fence(__ATOMIC_SEQ_CST)

#endif
