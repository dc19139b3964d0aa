/*
 * contention.h — what the block profile (blockprof.c) and the mutex
 * profile (mutexprof.c) share: a table of contention events by stack
 * (contention.c), written in the format of Go's block and mutex profiles.
 */
#ifndef GOC_DEBUG_CONTENTION_H
#define GOC_DEBUG_CONTENTION_H

#include <pthread.h>
#include <stdio.h>

#include "debug.h"

#define CONTENTION_CHAINS 1024

typedef struct goc__contention_table {
	pthread_mutex_t lock;
	struct contention_bucket *heads[CONTENTION_CHAINS];
} goc__contention_table;

#define GOC_CONTENTION_TABLE_INIT                 \
	{                                         \
		.lock = PTHREAD_MUTEX_INITIALIZER \
	}

/* Adds count events that cost delay_ns in all to the bucket of stack. */
void goc__contention_add(goc__contention_table *t, const goc__stacktrace *stack, double count,
			 int64_t delay_ns);

/* One stack's events, as a snapshot holds them. */
typedef struct goc__contention_record {
	int64_t count;
	int64_t delay_ns;
	goc__stacktrace stack; /* return addresses */
} goc__contention_record;

/* A copy of the table's records into *records (malloc'd, free it; NULL
 * when there are none), *n of them. 0, or ENOMEM. */
int goc__contention_snapshot(goc__contention_table *t, goc__contention_record **records, size_t *n);

/* The tables of blockprof.c and mutexprof.c, for the debug server's text
 * views and counts (debugserve.c). */
goc__contention_table *goc__blockprof_table(void);
goc__contention_table *goc__mutexprof_table(void);

/* Writes the table as a gzipped profile.proto with Go's sample types
 * (contentions/count, delay/nanoseconds) and the given period. */
goc_status goc__contention_write(goc__contention_table *t, FILE *out, int64_t period);

#endif
