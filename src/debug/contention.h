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

typedef struct goc_contention_table {
	pthread_mutex_t lock;
	struct contention_bucket *heads[CONTENTION_CHAINS];
} goc_contention_table;

#define GOC_CONTENTION_TABLE_INIT {.lock = PTHREAD_MUTEX_INITIALIZER}

/* Adds count events that cost delay_ns in all to the bucket of stack. */
void goc_contention_add(goc_contention_table *t, const goc_trace *stack, double count,
			int64_t delay_ns);

/* One stack's events, as a snapshot holds them. */
typedef struct goc_contention_record {
	int64_t count;
	int64_t delay_ns;
	goc_trace stack;        /* return addresses */
} goc_contention_record;

/* A copy of the table's records into *records (malloc'd, free it; NULL
 * when there are none), *n of them. 0, or ENOMEM. */
int goc_contention_snapshot(goc_contention_table *t, goc_contention_record **records, size_t *n);

/* The tables of blockprof.c and mutexprof.c, for the debug server's text
 * views and counts (debugserve.c). */
goc_contention_table *goc_blockprof_table(void);
goc_contention_table *goc_mutexprof_table(void);

/* Writes the table as a gzipped profile.proto with Go's sample types
 * (contentions/count, delay/nanoseconds) and the given period. */
goc_status goc_contention_write(goc_contention_table *t, FILE *out, int64_t period);

#endif
