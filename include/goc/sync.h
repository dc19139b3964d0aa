/*
 * goc/sync.h — Go's sync package: goc_wg, goc_mutex, goc_rwmutex, goc_once,
 * goc_cond, goc_pool, and the sharded counter goc_counter.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * Everything here may be used from goroutines and from plain OS threads:
 * a goroutine that must wait parks (its M runs other goroutines), a plain
 * thread blocks itself on a futex. The types with a static initializer
 * (GOC_MUTEX_INIT, ...) need no constructor and no destructor: zero them
 * or initialise them statically, embed them anywhere, never copy one that
 * is in use. Their fields are the runtime's; do not touch them.
 *
 * Misuse panics as in Go ("panic: sync: unlock of unlocked mutex", then
 * the goroutine's identity and abort()).
 */
#ifndef GOC_SYNC_H
#define GOC_SYNC_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/sync.h>"
#endif

/* ---- the runtime semaphore inside the types below ------------------------ */

/*
 * A count of wake-up tokens and a queue of parked waiters: Go's runtime
 * semaphore (sema.go), embedded in each object instead of hashed by
 * address. Not an API of its own; the fields are the runtime's.
 */
typedef struct goc_rtsema {
	uint32_t tokens; /* atomic: releases not yet taken by an acquirer */
	uint32_t nwait;  /* atomic: waiters queued (changed under lock) */
	uint32_t lock;   /* a goc internal lock word: protects the queue */
	uint32_t reserved;
	void *head, *tail; /* waiter records, on the waiters' own stacks */
} goc_rtsema;

#define GOC_RTSEMA_INIT                \
	{                              \
		0, 0, 0, 0, NULL, NULL \
	}

/* ---- goc_wg ------------------------------------------------------------- */

/* Go's sync.WaitGroup. Static: goc_wg wg = GOC_WG_INIT; or goc_wg_init. */
typedef struct goc_wg {
	/* High 32 bits: the counter; low 32 bits: the number of waiters. */
	uint64_t state;
	/* Protects the waiter list below; a goc internal lock word. */
	uint32_t lock;
	uint32_t reserved;
	void *waiters_head;
	void *waiters_tail;
} goc_wg;

#define GOC_WG_INIT                 \
	{                           \
		0, 0, 0, NULL, NULL \
	}

void goc_wg_init(goc_wg *wg);
/* Adds delta (may be negative) to the counter; a negative result panics.
 * When it reaches zero every waiter is released. */
void goc_wg_add(goc_wg *wg, int64_t delta);
void goc_wg_done(goc_wg *wg);
/* Blocks until the counter is zero. */
void goc_wg_wait(goc_wg *wg);

/* ---- goc_mutex ----------------------------------------------------------- */

/*
 * Go's sync.Mutex: not reentrant, not owned (any goroutine or thread may
 * unlock a mutex another one locked, as in Go). A waiter spins briefly
 * while the holder is running on another processor, then parks. Waiters
 * are woken in order, but a woken waiter competes with goroutines that
 * just arrived; one that has waited over 1 ms switches the mutex to
 * starvation mode, where unlock hands it straight to the oldest waiter and
 * newcomers queue behind. 40 bytes.
 *
 * A holder that computes for long without blocking is preempted after
 * 10 ms only where the program's own code runs (goc.h, Preemption); the
 * mutex stays locked meanwhile, and its waiters stay parked (they cost
 * nothing, but they wait).
 */
typedef struct goc_mutex {
	int32_t state; /* atomic: locked, woken and starving bits, waiter count */
	uint32_t reserved;
	goc_rtsema sema;
} goc_mutex;

#define GOC_MUTEX_INIT                \
	{                             \
		0, 0, GOC_RTSEMA_INIT \
	}

void goc_mutex_init(goc_mutex *m);
/* Blocks until the mutex is free and takes it. */
void goc_mutex_lock(goc_mutex *m);
/* Takes the mutex if it is free now (and no starving waiter is owed it);
 * true if it did. Never blocks. */
bool goc_mutex_try_lock(goc_mutex *m);
/* Releases it. Unlocking an unlocked mutex panics
 * ("sync: unlock of unlocked mutex"). */
void goc_mutex_unlock(goc_mutex *m);

/* ---- goc_rwmutex --------------------------------------------------------- */

/*
 * Go's sync.RWMutex: any number of readers or one writer. A writer that
 * is waiting stops new readers (they queue until it has had its turn), so
 * a steady stream of readers cannot starve writers; readers already
 * inside finish first. Read locks are not reentrant in the presence of a
 * waiting writer (a reader that takes a second read lock while a writer
 * waits deadlocks, as in Go). 112 bytes.
 */
typedef struct goc_rwmutex {
	goc_mutex writer;       /* writers queue on this one at a time */
	goc_rtsema writer_wait; /* the writer holding `writer` waits here for readers to leave */
	goc_rtsema reader_wait; /* readers wait here while a writer is pending or inside */
	int32_t readers;   /* atomic: readers in or waiting; minus 2^30 while a writer is pending */
	int32_t departing; /* atomic: readers the pending writer still waits for */
} goc_rwmutex;

#define GOC_RWMUTEX_INIT                                               \
	{                                                              \
		GOC_MUTEX_INIT, GOC_RTSEMA_INIT, GOC_RTSEMA_INIT, 0, 0 \
	}

void goc_rwmutex_init(goc_rwmutex *rw);
/* Takes a read lock; blocks while a writer holds or waits for the lock. */
void goc_rwmutex_rlock(goc_rwmutex *rw);
/* Takes a read lock if no writer holds or waits for it; never blocks. */
bool goc_rwmutex_try_rlock(goc_rwmutex *rw);
/* Drops a read lock. Without one held: panic
 * ("sync: RUnlock of unlocked RWMutex"). */
void goc_rwmutex_runlock(goc_rwmutex *rw);
/* Takes the write lock; blocks until every reader and writer has left. */
void goc_rwmutex_lock(goc_rwmutex *rw);
/* Takes the write lock if nobody holds the lock in any mode; never blocks. */
bool goc_rwmutex_try_lock(goc_rwmutex *rw);
/* Drops the write lock and lets the readers that queued behind it in.
 * Not write-locked: panic ("sync: Unlock of unlocked RWMutex"). */
void goc_rwmutex_unlock(goc_rwmutex *rw);

/* ---- goc_once ---------------------------------------------------------- */

/* Go's sync.Once. */
typedef struct goc_once {
	uint32_t done; /* atomic: 1 once fn has returned */
	uint32_t reserved;
	goc_mutex mutex; /* serialises the callers that find done == 0 */
} goc_once;

#define GOC_ONCE_INIT                \
	{                            \
		0, 0, GOC_MUTEX_INIT \
	}

void goc_once_init(goc_once *once);
/*
 * Calls fn(arg) if no call of goc_once_do on this once has done so yet.
 * Every call returns only after fn has returned, so what fn initialised
 * is visible to every caller. fn may block; fn calling goc_once_do on the
 * same once deadlocks (as in Go). fn == NULL panics.
 */
void goc_once_do(goc_once *once, goc_fn fn, void *arg);

/* ---- goc_cond ------------------------------------------------------------ */

/*
 * Go's sync.Cond. The mutex is given to each wait rather than stored, so
 * a cond needs no constructor: GOC_COND_INIT. Waiters are woken in the
 * order they started waiting; a signal or broadcast wakes only goroutines
 * that were already waiting when it was made (Go's notify-list tickets),
 * and none is ever lost between a waiter's unlock and its park.
 */
typedef struct goc_cond {
	uint32_t wait;   /* atomic: next ticket to hand to a waiter */
	uint32_t notify; /* atomic: next ticket to wake; changed under lock */
	uint32_t lock;   /* a goc internal lock word: protects the list */
	uint32_t reserved;
	void *head, *tail; /* waiter records, on the waiters' own stacks */
} goc_cond;

#define GOC_COND_INIT                  \
	{                              \
		0, 0, 0, 0, NULL, NULL \
	}

void goc_cond_init(goc_cond *cond);
/*
 * Unlocks mutex (which the caller must hold), waits for a signal or a
 * broadcast, and locks mutex again before returning. As in Go, wake-ups
 * do not carry a guarantee about the condition: wait in a loop that
 * re-checks it.
 */
void goc_cond_wait(goc_cond *cond, goc_mutex *mutex);
/* Wakes the longest-waiting waiter, if any. The mutex need not be held. */
void goc_cond_signal(goc_cond *cond);
/* Wakes every waiter. The mutex need not be held. */
void goc_cond_broadcast(goc_cond *cond);

/* ---- goc_pool ------------------------------------------------------------ */

/*
 * Go's sync.Pool: a cache of interchangeable objects that are expensive to
 * make (buffers, parsers), shared by every goroutine and thread.
 *
 * Each processor (P) has a private slot and a short list of its own; get
 * and put on a goroutine take no lock (one atomic exchange or
 * compare-and-swap). A processor that runs dry takes from the others'
 * lists. Plain threads, and puts that find their processor's list full,
 * use a locked list shared by all.
 *
 * Objects are released over two trim cycles, like Go's victim cache at
 * each garbage collection: a trim moves everything cached into the victim
 * cache (get still finds it there) and drops what was already in the
 * victim cache, giving each object to drop. So an object put and never
 * taken again is dropped by the second trim after the put, and a pool
 * that falls idle gives all its memory back. The monitor thread trims
 * every pool every 2 seconds; goc_pool_trim and goc_pool_trim_all trim on
 * demand.
 *
 * As in Go, the pool may drop any object at any time: never put anything
 * that must be found again. The object's contents are whatever its last
 * user left in it.
 */
typedef struct goc_pool {
	/* Makes an object when the pool has none; NULL: get returns NULL. */
	void *(*new_fn)(void *arg);
	/* Frees an object the pool drops; NULL: free(obj). It runs on the
	 * thread that trims (the monitor thread, or the caller of
	 * goc_pool_trim, goc_pool_trim_all or goc_pool_destroy) while the
	 * pools' registry is locked: it must not block and must not call any
	 * goc_pool function. */
	void (*drop_fn)(void *obj, void *arg);
	void *arg;   /* passed to new_fn and drop_fn */
	void *state; /* atomic: the runtime's per-P lists, made on first use */
} goc_pool;

#define GOC_POOL_INIT(new_fn, drop_fn, arg)      \
	{                                        \
		(new_fn), (drop_fn), (arg), NULL \
	}

/* Counters of one pool since it was made (or last destroyed). Each is
 * exact, but they are not read at the same instant. */
typedef struct goc_pool_stats {
	int64_t puts;
	int64_t hits_local;  /* gets served from the caller's own P */
	int64_t hits_stolen; /* from another P's list or the shared list */
	int64_t hits_victim; /* from the victim cache (survivors of one trim) */
	int64_t misses;      /* gets that found nothing: new_fn called (or NULL returned) */
	int64_t dropped;     /* objects given to drop_fn */
	int64_t trims;       /* trim cycles */
} goc_pool_stats;

void goc_pool_init(goc_pool *pool, void *(*new_fn)(void *arg),
		   void (*drop_fn)(void *obj, void *arg), void *arg);
/* An object from the pool, else new_fn(arg), else NULL. Panics if the
 * pool's bookkeeping cannot be allocated (out of memory). */
void *goc_pool_get(goc_pool *pool);
/* Gives obj to the pool (NULL is ignored, as nil is in Go). The caller
 * must not touch obj afterwards. */
void goc_pool_put(goc_pool *pool, void *obj);
/* One trim cycle of pool (see above); returns the objects dropped. */
int64_t goc_pool_trim(goc_pool *pool);
/* One trim cycle of every pool in use; returns the objects dropped. */
int64_t goc_pool_trim_all(void);
void goc_pool_stats_read(goc_pool *pool, goc_pool_stats *out);
/* Drops every cached object and the pool's bookkeeping; the pool is then
 * as if newly initialised. Nobody may use it concurrently. */
void goc_pool_destroy(goc_pool *pool);

/* ---- goc_counter --------------------------------------------------------- */

/*
 * A counter for hot statistics: one cache line per processor, so adds
 * from goroutines on different processors never touch the same line (one
 * shared atomic makes every add a cache miss once several cores add). An
 * add on a goroutine is a plain load and store to its processor's line;
 * plain threads share one extra line with an atomic add. read sums the
 * lines, so it is slower than an add and not a snapshot: adds concurrent
 * with it may or may not be counted. About 16 KiB (257 cache lines).
 */
typedef struct goc_counter goc_counter;

/* A new counter at zero; NULL with errno = ENOMEM. */
goc_counter *goc_counter_new(void);
void goc_counter_free(goc_counter *c);
void goc_counter_add(goc_counter *c, int64_t delta);
/* The sum of every add since creation or the last reset. */
int64_t goc_counter_read(goc_counter *c);
/* Sets the counter to zero. Adds concurrent with the reset are counted
 * either before it or after it. */
void goc_counter_reset(goc_counter *c);

#endif /* GOC_SYNC_H */
