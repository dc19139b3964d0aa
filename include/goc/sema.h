/*
 * goc/sema.h — goc_sema, a weighted semaphore (Go's
 * golang.org/x/sync/semaphore.Weighted).
 * Included by goc.h; include <goc.h>, not this file.
 *
 * A semaphore of size n hands out up to n permits; an acquire of k permits
 * waits until k are free. Waiters are served first come, first served: a
 * large request at the head of the queue blocks smaller ones behind it
 * even while enough permits for those are free, so large requests are
 * never starved. Usable from goroutines and plain threads.
 *
 *     static goc_sema conns = GOC_SEMA_INIT(64);
 *     if (goc_sema_acquire(&conns, ctx, 1) != GOC_OK)
 *         return;                        // ctx cancelled or timed out
 *     ...
 *     goc_sema_release(&conns, 1);
 */
#ifndef GOC_SEMA_H
#define GOC_SEMA_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/sema.h>"
#endif

typedef struct goc_sema {
	/* Protects every field below; a goc internal lock word. */
	uint32_t lock;
	uint32_t reserved;
	int64_t size;       /* permits in all; fixed */
	int64_t held;       /* permits handed out now */
	void *waiters_head; /* FIFO of blocked acquirers */
	void *waiters_tail;
} goc_sema;

/* A semaphore of n permits (n >= 0). */
#define GOC_SEMA_INIT(n)                 \
	{                                \
		0, 0, (n), 0, NULL, NULL \
	}

/* Initialises s with n permits; n < 0 panics. */
void goc_sema_init(goc_sema *s, int64_t n);

/*
 * Takes n permits, waiting while fewer are free or others wait before it.
 * Returns GOC_OK, or goc_ctx_err(ctx) if ctx is cancelled first (then no
 * permit is taken; a context already cancelled on entry fails at once).
 * ctx NULL waits as long as it takes. n larger than the semaphore's size
 * can never be satisfied: it returns -EINVAL at once (Go's semaphore
 * would block until ctx is done instead). n < 0 panics.
 */
goc_status goc_sema_acquire(goc_sema *s, goc_ctx *ctx, int64_t n);

/* Takes n permits if they are free and nobody waits; never blocks. */
bool goc_sema_try_acquire(goc_sema *s, int64_t n);

/* Gives back n permits and wakes the waiters at the head of the queue
 * that now fit. Releasing more than is held panics. */
void goc_sema_release(goc_sema *s, int64_t n);

#endif /* GOC_SEMA_H */
