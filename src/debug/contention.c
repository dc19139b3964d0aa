/*
 * contention.c — the tables behind the block and mutex profiles: how many
 * contention events each stack saw and how long they made goroutines wait,
 * accumulated since the program started (as Go's profiles are), and
 * written as a pprof profile on request.
 *
 * A table is a fixed array of hash chains of buckets, one bucket per
 * distinct stack. Events arrive only when a profile is switched on and an
 * event was sampled, so a mutex around the table is cheap next to the
 * stack walk each event costs anyway; the mutex is a pthread one, held for
 * a lookup and an addition (and a malloc for a new stack), never across a
 * park. Counts are kept as doubles because the block profile weighs a
 * sampled short event by rate / delay (Go's de-biasing); they are rounded
 * when written.
 *
 * Invariants:
 *  - table.lock protects every bucket and chain of the table.
 *  - Buckets are never freed: a stack seen once stays in the profile (with
 *    its counts) for the life of the process, like Go's buckets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contention.h"
#include "pprof.h"

struct contention_bucket {
	struct contention_bucket *next; /* same chain; table.lock */
	uint64_t hash;
	double count;
	int64_t delay_ns;
	int npcs;
	uintptr_t pcs[];
};

static uint64_t stack_hash(const goc__stacktrace *stack)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the addresses */
	for (int i = 0; i < stack->n; i++) {
		h ^= stack->pcs[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static bool same_stack(const struct contention_bucket *b, uint64_t hash,
		       const goc__stacktrace *stack)
{
	return b->hash == hash && b->npcs == stack->n &&
		memcmp(b->pcs, stack->pcs, (size_t)stack->n * sizeof stack->pcs[0]) == 0;
}

void goc__contention_add(goc__contention_table *t, const goc__stacktrace *stack, double count,
			 int64_t delay_ns)
{
	uint64_t hash = stack_hash(stack);
	struct contention_bucket **head = &t->heads[hash % CONTENTION_CHAINS];
	pthread_mutex_lock(&t->lock);
	struct contention_bucket *b = *head;
	while (b && !same_stack(b, hash, stack))
		b = b->next;
	if (!b) {
		b = malloc(sizeof *b + (size_t)stack->n * sizeof b->pcs[0]);
		if (!b) {
			/* Out of memory: the event is dropped, the profile
			 * is a little short. */
			pthread_mutex_unlock(&t->lock);
			return;
		}
		b->hash = hash;
		b->count = 0;
		b->delay_ns = 0;
		b->npcs = stack->n;
		memcpy(b->pcs, stack->pcs, (size_t)stack->n * sizeof b->pcs[0]);
		b->next = *head;
		*head = b;
	}
	b->count += count;
	b->delay_ns += delay_ns;
	pthread_mutex_unlock(&t->lock);
}

int goc__contention_snapshot(goc__contention_table *t, goc__contention_record **records, size_t *n)
{
	size_t count = 0, cap = 0;
	goc__contention_record *copy = NULL;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < CONTENTION_CHAINS; i++)
		for (struct contention_bucket *b = t->heads[i]; b; b = b->next)
			cap++;
	if (cap)
		copy = malloc(cap * sizeof *copy);
	for (size_t i = 0; i < CONTENTION_CHAINS && copy; i++) {
		for (struct contention_bucket *b = t->heads[i]; b; b = b->next) {
			goc__contention_record *r = &copy[count++];
			r->count = (int64_t)(b->count + 0.5);
			r->delay_ns = b->delay_ns;
			r->stack.n = b->npcs;
			r->stack.first_exact = false;
			r->stack.truncated = false;
			memcpy(r->stack.pcs, b->pcs, (size_t)b->npcs * sizeof b->pcs[0]);
		}
	}
	pthread_mutex_unlock(&t->lock);
	*records = copy;
	*n = count;
	return cap && !copy ? ENOMEM : 0;
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * GOC_SECOND + ts.tv_nsec;
}

goc_status goc__contention_write(goc__contention_table *t, FILE *out, int64_t period)
{
	if (!out)
		return -EINVAL;
	goc__runtime_init();
	/* Go's block and mutex profiles: "contentions" counted, "delay" in
	 * nanoseconds. */
	static const goc__profile_value_type types[2] = {{"contentions", "count"},
							 {"delay", "nanoseconds"}};
	goc__profile *profile = goc__profile_new(types, 2, types[0], period);
	if (!profile)
		return -ENOMEM;
	int err = 0;
	/* The table is copied into the profile under its lock (additions
	 * only); symbolizing and writing, the slow part, happen after. */
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < CONTENTION_CHAINS && !err; i++) {
		for (struct contention_bucket *b = t->heads[i]; b && !err; b = b->next) {
			int64_t values[2] = {(int64_t)(b->count + 0.5), b->delay_ns};
			if (!goc__profile_add(profile, b->pcs, b->npcs, false, values, NULL, 0))
				err = ENOMEM;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (!err)
		err = goc__profile_write(profile, out, clock_ns(CLOCK_REALTIME), 0);
	goc__profile_free(profile);
	return -err;
}
