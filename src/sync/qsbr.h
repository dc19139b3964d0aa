/*
 * qsbr.h — quiescent-state-based reclamation (RCU's QSBR) over goc's Ms,
 * for lock-free readers of structures that unlink nodes (the concurrent
 * map): an unlinked node is freed only after every reader that might still
 * hold it has passed a quiescent state.
 *
 * Readers are records (goc__qsbr_reader), each with `seen`: 0 while it
 * holds no reference (offline), else the global epoch it last announced.
 *  - Every M has one. A goroutine never holds a reference across a
 *    scheduling point (map operations do not park), so each switch of an
 *    M is a quiescent state: goc__qsbr_quiescent, one load and a compare
 *    in g_switch. An M goes offline while it sleeps idle. The record is
 *    per M, not per P: a P handed to another M while its M is stuck
 *    mid-read (in a page fault, say) must not count as quiescent.
 *  - A plain thread, and a range whose callback may park, pin a record of
 *    their own: online (an announce and a full fence) for the length of
 *    the operation, offline after.
 *  - A retired node gets the epoch that the batch it is in closes with;
 *    it is freed once every record is offline or has seen that epoch.
 *
 * Why the quiescent store needs no fence: a reader that announces epoch
 * e loaded e (acquire) after the writer's increment that followed the
 * unlink, so its later loads see the unlink; a reader whose announcement
 * the writer has not seen yet keeps the older value, which holds the
 * node. Going online from offline does need the fence: the writer may
 * read 0 after the reader has started loading pointers.
 */
#ifndef GOC_SYNC_QSBR_H
#define GOC_SYNC_QSBR_H

#include <stdint.h>

#include "../prim/atomic.h"

typedef struct goc__qsbr_reader {
	uint64_t seen;                        /* atomic: written by its owner only; 0 = offline */
	struct goc__qsbr_reader *next, *prev; /* the registry's list; its lock */
} goc__qsbr_reader;

/* The global epoch, starting at 1; advanced when a batch of retired
 * nodes closes. */
extern uint64_t goc__qsbr_epoch;

/* A quiescent state of r's owner (it holds no reference now). */
static inline void goc__qsbr_quiescent(goc__qsbr_reader *r)
{
	uint64_t e = goc__load_acquire(&goc__qsbr_epoch);
	if (r->seen != e)
		goc__store_release(&r->seen, e);
}

/* Adds r (offline) to the records grace periods wait for; removes it. */
void goc__qsbr_register(goc__qsbr_reader *r);
void goc__qsbr_unregister(goc__qsbr_reader *r);
/* r's owner is about to take references: announce and fence. */
void goc__qsbr_online(goc__qsbr_reader *r);
/* r's owner holds no reference until it goes online again. */
static inline void goc__qsbr_offline(goc__qsbr_reader *r)
{
	goc__store_release(&r->seen, 0);
}

/* The record of the calling plain thread (made and registered on first
 * use, removed when the thread exits). */
goc__qsbr_reader *goc__qsbr_thread_reader(void);

/*
 * Frees node (with free) after a grace period. node must be unlinked
 * from every place a new reader could find it, and its first pointer-sized
 * word must be one no reader reads: it chains the node meanwhile.
 */
void goc__qsbr_retire(void *node);

#endif
