/*
 * goc/singleflight.h — goc_singleflight, Go's golang.org/x/sync/singleflight.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * Concurrent calls with the same key share one execution of the work and
 * its result: the first caller runs fn, the ones that arrive while it runs
 * wait for it and get the same value and error, told that it was shared.
 * A cache miss that a hundred requests hit at once then costs one fetch.
 *
 *     static int fetch(void *arg, void **value) { *value = load(arg); return 0; }
 *
 *     goc_singleflight_result r;
 *     goc_singleflight_do(sf, key, key_len, fetch, key, &r);
 *     if (r.err == 0) use(r.value);        // r.shared: other callers got it too
 *
 * The value is handed to every caller of the execution as is: make it
 * immutable or reference counted; goc never frees or copies it. Keys are
 * byte strings, copied. Usable from goroutines and plain threads.
 */
#ifndef GOC_SINGLEFLIGHT_H
#define GOC_SINGLEFLIGHT_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/singleflight.h>"
#endif

typedef struct goc_singleflight goc_singleflight;

/* The work: stores its result in *value and returns 0 or an error of the
 * caller's choosing. */
typedef int (*goc_singleflight_fn)(void *arg, void **value);

/* What a call got: fn's value and error, and whether other callers got
 * the same execution's result. */
typedef struct goc_singleflight_result {
	void *value;
	int err;
	bool shared;
} goc_singleflight_result;

/* A group of keyed executions; NULL if memory ran out (never parks). */
goc_singleflight *goc_singleflight_new(void);
/* Frees sf; no call may be in flight (that panics). NULL is ignored. */
void goc_singleflight_free(goc_singleflight *sf);

/*
 * Runs fn(arg) unless an execution for key is in flight, in which case it
 * waits for that one; either way fills *out with the execution's result.
 * GOC_OK, or -ENOMEM (nothing ran) when memory for the record ran out.
 * fn runs on the calling goroutine; calling do for the same key from
 * inside fn deadlocks, as in Go.
 */
goc_status goc_singleflight_do(goc_singleflight *sf, const void *key, size_t key_len,
			       goc_singleflight_fn fn, void *arg, goc_singleflight_result *out);

/*
 * Go's DoChan with a select on ctx.Done(): the execution runs in a
 * goroutine of its own, and the caller waits for it or for ctx, whichever
 * comes first. GOC_OK with *out filled; ctx's error (GOC_CANCELED or
 * GOC_TIMEOUT) if ctx ended first — the execution goes on and its result
 * reaches the other callers; -ENOMEM if the record could not be had (a
 * goroutine that could not be had makes the caller run fn itself). ctx NULL waits as long as it takes.
 */
goc_status goc_singleflight_do_ctx(goc_singleflight *sf, goc_ctx *ctx, const void *key,
				   size_t key_len, goc_singleflight_fn fn, void *arg,
				   goc_singleflight_result *out);

/* Forgets key: the next call for it starts a new execution instead of
 * waiting for the one in flight (whose callers still get its result). */
void goc_singleflight_forget(goc_singleflight *sf, const void *key, size_t key_len);

#endif /* GOC_SINGLEFLIGHT_H */
