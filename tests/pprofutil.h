/*
 * pprofutil.h — reading pprof profiles back in tests: gunzip (when goc
 * writes them gzipped, i.e. was built with zlib), decode the fields of
 * profile.proto the tests check, and run `go tool pprof` on a profile
 * when `go` is installed.
 */
#ifndef GOC_TEST_PPROFUTIL_H
#define GOC_TEST_PPROFUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bytes {
	uint8_t *data;
	size_t len;
};

#define MAX_ITEMS 100000
#define MAX_DEPTH 64

#define MAX_LABELS 8

/* A label: key and str are string indexes (str 0: a number label). */
struct parsed_label {
	int64_t key, str, num;
};

struct parsed_sample {
	int nlocs;
	uint64_t locs[MAX_DEPTH]; /* location ids, innermost first */
	int64_t values[4];
	int nlabels;
	struct parsed_label labels[MAX_LABELS];
};

struct parsed_profile {
	const char *strings[MAX_ITEMS];
	int nstrings;
	int64_t sample_types[4][2];
	int nsample_types;
	int64_t period_type[2], period;
	uint64_t function_name[MAX_ITEMS];     /* by function id */
	uint64_t location_function[MAX_ITEMS]; /* by location id; 0: unsymbolized */
	struct parsed_sample samples[MAX_ITEMS];
	int nsamples;
	int nmappings;
};

/* The bytes of the file at path. */
struct bytes pprof_read_file(const char *path);
/* The protobuf: the file itself, or what it gunzips to (frees file). */
struct bytes pprof_bytes(struct bytes file);
/* Decodes pb into p (large: make it static). */
void pprof_parse(struct bytes pb, struct parsed_profile *p);
/* Reads, gunzips and decodes the profile at path into p. */
void pprof_load(const char *path, struct parsed_profile *p);
/* Frees what pprof_parse allocated in p (its strings), so that p can be
 * parsed into again. */
void pprof_free(struct parsed_profile *p);
/* String index of the string table. */
const char *pprof_str(const struct parsed_profile *p, int64_t index);
/* The name of the function of location id, "" if unsymbolized. */
const char *pprof_location_name(const struct parsed_profile *p, uint64_t id);
/* The label key of s: its string (NULL if absent or a number). */
const char *pprof_label_str(const struct parsed_profile *p, const struct parsed_sample *s,
			    const char *key);
/* The number label key of s, or -1 if absent. */
int64_t pprof_label_num(const struct parsed_profile *p, const struct parsed_sample *s,
			const char *key);
/* Whether function name is somewhere in s's stack. */
bool pprof_sample_has(const struct parsed_profile *p, const struct parsed_sample *s,
		      const char *name);
/* Of the functions in names (NULL-ended), the one whose samples add up to
 * the most of value index v (each sample counted once per function it
 * contains, pprof's "cum"); NULL if none appears. Its total goes to
 * *total if total is not NULL. */
const char *pprof_top_cum(const struct parsed_profile *p, int v, const char *const *names,
			  int64_t *total);

/* Runs `go tool pprof ARGS <this executable> <path>` and returns its
 * output (malloc'd, echoed to stdout), or NULL with a "skip:" line if go
 * is not installed. A failed run fails the test. */
char *pprof_go_tool(const char *args, const char *path);
/* Runs `go tool pprof ARGS` on the profile at path (if go is installed)
 * and checks that of the functions in names (NULL-ended), the first its
 * table lists is want. */
void pprof_go_check_first(const char *args, const char *path, const char *const *names,
			  const char *want);

#endif
