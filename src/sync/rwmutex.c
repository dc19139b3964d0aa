/*
 * rwmutex.c — goc_rwmutex, Go's sync.RWMutex with writer preference.
 *
 * `readers` counts readers inside plus readers waiting; a writer announces
 * itself by subtracting MAX_READERS, which makes it negative: new readers
 * see that with the same atomic add that counts them, and queue on
 * `reader_wait` instead of entering. The readers that were inside when the
 * writer announced itself are copied into `departing`; each one's runlock
 * decrements it, and the one that brings it to zero wakes the writer
 * (parked on `writer_wait`). The writer's unlock adds MAX_READERS back and
 * releases one token per reader that queued meanwhile. Writers queue on
 * the `writer` mutex, one at a time.
 *
 * Invariants:
 *  - readers >= 0: no writer pending or inside; readers < 0: exactly one
 *    writer (the holder of `writer`) is pending or inside, and
 *    readers + MAX_READERS readers are inside or waiting.
 *  - departing is non-zero only while a writer waits for readers that
 *    entered before it announced itself; it can dip below zero briefly
 *    when such readers leave before the writer adds their count.
 *  - Every reader that found readers < 0 takes exactly one token of
 *    reader_wait, released by the writer's unlock.
 *
 * Fast paths: rlock and runlock are one atomic add each when no writer is
 * around; the add both counts the reader and tells it whether a writer is.
 */
#include "syncint.h"

#define MAX_READERS (1 << 30)

void goc_rwmutex_init(goc_rwmutex *rw)
{
	*rw = (goc_rwmutex)GOC_RWMUTEX_INIT;
}

void goc_rwmutex_rlock(goc_rwmutex *rw)
{
	if (goc__add_fetch_acqrel(&rw->readers, 1) < 0)
		goc__rtsema_acquire(&rw->reader_wait, false, WAIT_RWMUTEX_R);
}

bool goc_rwmutex_try_rlock(goc_rwmutex *rw)
{
	int32_t c = goc__load_relaxed(&rw->readers);
	while (c >= 0) {
		if (goc__cas_weak_acqrel(&rw->readers, &c, c + 1))
			return true;
	}
	return false;
}

void goc_rwmutex_runlock(goc_rwmutex *rw)
{
	int32_t r = goc__sub_fetch_acqrel(&rw->readers, 1);
	if (r >= 0)
		return;
	/* A writer is pending (or the lock was not read-locked). */
	if (r + 1 == 0 || r + 1 == -MAX_READERS)
		goc__panic("sync: RUnlock of unlocked RWMutex");
	if (goc__sub_fetch_acqrel(&rw->departing, 1) == 0)
		goc__rtsema_release(&rw->writer_wait, false);
}

void goc_rwmutex_lock(goc_rwmutex *rw)
{
	goc__mutex_lock_as(&rw->writer, WAIT_RWMUTEX_W);
	/* Announce the writer; r readers were inside at that instant. */
	int32_t r = goc__sub_fetch_acqrel(&rw->readers, MAX_READERS) + MAX_READERS;
	if (r != 0 && goc__add_fetch_acqrel(&rw->departing, r) != 0)
		goc__rtsema_acquire(&rw->writer_wait, false, WAIT_RWMUTEX_W);
}

bool goc_rwmutex_try_lock(goc_rwmutex *rw)
{
	if (!goc_mutex_try_lock(&rw->writer))
		return false;
	int32_t none = 0;
	if (!goc__cas_acqrel(&rw->readers, &none, -MAX_READERS)) {
		goc_mutex_unlock(&rw->writer);
		return false;
	}
	return true;
}

void goc_rwmutex_unlock(goc_rwmutex *rw)
{
	/* Let readers in again; r of them queued while we were pending or
	 * inside. */
	int32_t r = goc__add_fetch_acqrel(&rw->readers, MAX_READERS);
	if (r >= MAX_READERS)
		goc__panic("sync: Unlock of unlocked RWMutex");
	for (int32_t i = 0; i < r; i++)
		goc__rtsema_release(&rw->reader_wait, false);
	goc_mutex_unlock(&rw->writer);
}
