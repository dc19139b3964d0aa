/*
 * syncint.h — what the files of src/sync share: the wait queue (rtsema.c),
 * Go's runtime semaphore, on which the mutex and the rwmutex are built, and
 * the mutex's lock with a chosen wait reason (the rwmutex's writers queue
 * on a goc_mutex but show as "sync.RWMutex.Lock").
 */
#ifndef GOC_SYNC_SYNCINT_H
#define GOC_SYNC_SYNCINT_H

#include "../sched/runtime.h"

/*
 * Takes one token from q, parking until one is released. lifo: queue at
 * the head instead of the tail (a waiter that already waited once goes
 * first, so it is not starved by those who arrived while it ran). r is
 * the wait reason dumps show.
 */
void goc__rtsema_acquire(goc_rtsema *q, bool lifo, goc__wait_reason r);
/*
 * Adds a token and wakes the first waiter, if any. handoff: give the
 * token to that waiter directly (nobody can take it in between) and yield
 * so it runs at once; otherwise the woken waiter competes for the token.
 */
void goc__rtsema_release(goc_rtsema *q, bool handoff);

/* goc_mutex_lock with the wait reason r shown while it waits. */
void goc__mutex_lock_as(goc_mutex *m, goc__wait_reason r);

#endif
