/*
 * qsbr.c — the registry of QSBR readers and the retired nodes waiting for
 * a grace period (see qsbr.h for the scheme and its rule).
 *
 * Retired nodes collect in an open batch; when it is large enough and no
 * closed batch is waiting, it closes with a fresh epoch (one increment of
 * the global epoch per batch, so Ms see a new value rarely). A closed
 * batch is freed once every registered reader is offline or has seen its
 * epoch; retire checks that each time the open batch grows by BATCH.
 *
 * Lock order: retired.lock, then readers.lock.
 */
#include <pthread.h>
#include <stdlib.h>

#include "../sched/runtime.h"
#include "qsbr.h"

#if defined(__SANITIZE_THREAD__)
#define QSBR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QSBR_TSAN 1
#endif
#endif
#ifndef QSBR_TSAN
#define QSBR_TSAN 0
#endif

#define BATCH 64

uint64_t goc__qsbr_epoch = 1;

static struct {
	goc__lock lock;
	goc__qsbr_reader *head; /* lock */
} readers;

/* Retired nodes, chained through their first words. */
struct retired_batch {
	void *head;
	void **tail; /* the last node's first word, or &head (open batch only) */
	size_t count;
	uint64_t epoch; /* closed batch: freed once every reader saw this */
};

static struct {
	goc__lock lock;
	struct retired_batch open;   /* lock */
	struct retired_batch closed; /* lock; empty when head is NULL */
} retired = {.open.tail = &retired.open.head};

void goc__qsbr_register(goc__qsbr_reader *r)
{
	r->seen = 0;
	goc__lock_acquire(&readers.lock);
	r->prev = NULL;
	r->next = readers.head;
	if (readers.head)
		readers.head->prev = r;
	readers.head = r;
	goc__lock_release(&readers.lock);
}

void goc__qsbr_unregister(goc__qsbr_reader *r)
{
	goc__lock_acquire(&readers.lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		readers.head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	goc__lock_release(&readers.lock);
}

void goc__qsbr_online(goc__qsbr_reader *r)
{
	goc__xchg_seqcst(&r->seen, goc__load_acquire(&goc__qsbr_epoch));
#if !QSBR_TSAN
	/* The exchange orders the announcement before later loads on x86;
	 * on aarch64 only a fence does. TSan models the exchange alone. */
	goc__fence_seqcst();
#endif
}

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static __thread goc__qsbr_reader *tls_reader;

static void thread_reader_free(void *r)
{
	goc__qsbr_unregister(r);
	free(r);
}

static void thread_key_make(void)
{
	if (pthread_key_create(&thread_key, thread_reader_free) != 0)
		goc__fatal("qsbr: no thread-specific key for plain threads' readers");
}

__attribute__((noinline)) goc__qsbr_reader *goc__qsbr_thread_reader(void)
{
	goc__qsbr_reader *r = tls_reader;
	if (r)
		return r;
	pthread_once(&thread_key_once, thread_key_make);
	r = calloc(1, sizeof *r);
	if (!r)
		goc__fatal("out of memory for a thread's map reader record");
	goc__qsbr_register(r);
	tls_reader = r;
	pthread_setspecific(thread_key, r);
	return r;
}

/* Whether every reader is offline or has seen epoch. */
static bool grace_elapsed(uint64_t epoch)
{
	bool elapsed = true;
	goc__lock_acquire(&readers.lock);
	for (goc__qsbr_reader *r = readers.head; r; r = r->next) {
		uint64_t seen = goc__load_seqcst(&r->seen);
		if (seen != 0 && seen < epoch) {
			elapsed = false;
			break;
		}
	}
	goc__lock_release(&readers.lock);
	return elapsed;
}

/* Frees a chain of nodes linked through their first words. */
static void free_chain(void *node)
{
	while (node) {
		void *next = *(void **)node;
		free(node);
		node = next;
	}
}

void goc__qsbr_retire(void *node)
{
	void **link = node;
	goc__lock_acquire(&retired.lock);
	*link = NULL;
	*retired.open.tail = node;
	retired.open.tail = link;
	retired.open.count++;
	void *to_free = NULL;
	if (retired.open.count % BATCH == 0) {
		if (retired.closed.head && grace_elapsed(retired.closed.epoch)) {
			to_free = retired.closed.head;
			retired.closed.head = NULL;
		}
		if (!retired.closed.head) {
			retired.closed.head = retired.open.head;
			retired.closed.count = retired.open.count;
			/* After the unlinks (each made before its node's
			 * retire): a reader that loads this epoch sees them. */
			retired.closed.epoch = goc__add_fetch_seqcst(&goc__qsbr_epoch, 1);
			retired.open.head = NULL;
			retired.open.tail = &retired.open.head;
			retired.open.count = 0;
		}
	}
	goc__lock_release(&retired.lock);
	free_chain(to_free);
}
