/*
 * once.c — goc_once, Go's sync.Once.
 *
 * `done` goes from 0 to 1 exactly once, after fn has returned, with a
 * release store; the mutex serialises the callers that saw 0, and the
 * first of them to get it runs fn while the others wait on the mutex.
 *
 * Fast path: an acquire load of `done` that reads 1. The acquire pairs
 * with the release store made after fn returned, so everything fn wrote is
 * visible to a caller that takes the fast path; callers that take the slow
 * path get the same guarantee from the mutex.
 */
#include "syncint.h"

void goc_once_init(goc_once *once)
{
	*once = (goc_once)GOC_ONCE_INIT;
}

void goc_once_do(goc_once *once, goc_fn fn, void *arg)
{
	if (!fn)
		goc__panic("goc_once_do: nil function");
	if (goc__load_acquire(&once->done))
		return;
	goc_mutex_lock(&once->mutex);
	if (!goc__load_relaxed(&once->done)) {
		fn(arg);
		goc__store_release(&once->done, 1);
	}
	goc_mutex_unlock(&once->mutex);
}
