/*
 * pprof.h — building profiles in pprof's format (pprof.c), for every
 * profile goc writes: CPU (cpuprof.c), block and mutex (contention.c, fed
 * by blockprof.c and mutexprof.c) and goroutine (goroutineprof.c); each
 * is a set of value types and a stream of stacks with values.
 *
 * A goc__profile gathers samples: a stack (innermost first), one value per
 * sample type, and labels. Samples with the same stack and labels are
 * merged by adding their values. goc__profile_write then symbolizes every
 * address once and writes perftools.profiles.Profile (the profile.proto
 * of github.com/google/pprof), gzipped, as `go tool pprof` reads it.
 *
 * Nothing here is signal-safe: a signal handler records raw stacks
 * somewhere lock-free and a thread feeds them to a goc__profile.
 */
#ifndef GOC_DEBUG_PPROF_H
#define GOC_DEBUG_PPROF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct goc__profile goc__profile;

/* What a sample value counts, as pprof names it: {"cpu", "nanoseconds"},
 * {"samples", "count"}, {"contentions", "count"}, {"inuse_space", "bytes"}. */
typedef struct goc__profile_value_type {
	const char *type;
	const char *unit;
} goc__profile_value_type;

/* A sample label: a string value when str is set, else the number num
 * (pprof shows both with -tags and filters on them with -tagfocus). */
typedef struct goc__profile_label {
	const char *key;
	const char *str;
	int64_t num;
} goc__profile_label;

/* A new profile whose samples carry nvalues values of the given types;
 * every `period` units of period_type, one event was sampled (for the CPU
 * profile: cpu nanoseconds, 1e9 / rate). NULL if out of memory. */
goc__profile *goc__profile_new(const goc__profile_value_type *sample_types, int nvalues,
			       goc__profile_value_type period_type, int64_t period);

/* Adds values to the sample of this stack and these labels. pcs are
 * return addresses, except pcs[0] when leaf_exact (the interrupted
 * instruction of a signal). Labels are copied. False if out of memory
 * (the sample is dropped). */
bool goc__profile_add(goc__profile *p, const uintptr_t *pcs, int npcs, bool leaf_exact,
		      const int64_t *values, const goc__profile_label *labels, int nlabels);

/* Adds a comment line, shown by `go tool pprof -comments`. */
bool goc__profile_comment(goc__profile *p, const char *text);

/* Writes the profile to f (gzipped when built with zlib, else the bare
 * protobuf, which pprof reads too). start_unix_ns: when collection began,
 * wall clock; duration_ns: how long it lasted. 0 on success, else an
 * errno value. */
int goc__profile_write(goc__profile *p, FILE *f, int64_t start_unix_ns, int64_t duration_ns);

/* The sample type pprof shows unless told otherwise (by default, the
 * last): the allocs profile's "alloc_space". */
bool goc__profile_default_sample_type(goc__profile *p, const char *type);

void goc__profile_free(goc__profile *p);

#endif
