/*
 * goc/tracectx.h — request tracing: a W3C Trace Context (trace id, span
 * id, flags, tracestate) carried by a goc_ctx, and the `traceparent` /
 * `tracestate` headers parsed and formatted per the W3C Trace Context
 * recommendation (Level 1).
 * Included by goc.h; include <goc.h>, not this file.
 *
 *     goc_tracectx tc;
 *     if (goc_traceparent_parse(header, &tc) != GOC_OK)
 *         goc_tracectx_new(&tc);           // no valid parent: a new trace
 *     else
 *         goc_tracectx_child(&tc, &tc);    // our span, child of the caller's
 *     goc_ctx *ctx = goc_ctx_with_trace(parent, &tc);
 *     ...
 *     const goc_tracectx *t = goc_ctx_trace(ctx);   // in a log line:
 *     char id[GOC_TRACE_ID_SIZE];
 *     goc_tracectx_trace_id(t, id);                 // 32 lower-case hex digits
 *
 * A context's trace context is the nearest one on its path to the root,
 * like a value: goroutines started with the context (or a child of it)
 * see the same trace.
 */
#ifndef GOC_TRACECTX_H
#define GOC_TRACECTX_H

#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/tracectx.h>"
#endif

#define GOC_TRACE_SAMPLED 0x01 /* trace-flags' sampled bit */
/* Sizes with the terminating NUL of the formatted forms. */
#define GOC_TRACEPARENT_SIZE 56 /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define GOC_TRACE_ID_SIZE 33
#define GOC_SPAN_ID_SIZE 17
#define GOC_TRACESTATE_MAX 512 /* bytes of tracestate kept (the spec's minimum) */

typedef struct goc_tracectx {
	uint8_t trace_id[16]; /* never all zero in a valid context */
	uint8_t span_id[8];   /* the parent-id field of traceparent; never all zero */
	uint8_t flags;        /* GOC_TRACE_SAMPLED or 0 */
	/* The tracestate, normalized ("key=value,key=value", no blanks, no
	 * empty members), "" for none. */
	char state[GOC_TRACESTATE_MAX + 1];
} goc_tracectx;

/* A new trace: random trace and span ids, sampled, no tracestate. */
void goc_tracectx_new(goc_tracectx *out);
/* A child span of parent: the same trace id, flags and tracestate, a new
 * random span id. out may be parent. */
void goc_tracectx_child(const goc_tracectx *parent, goc_tracectx *out);

/*
 * Parses a traceparent header value into out's ids and flags (out's state
 * is set to ""). GOC_OK, or -EINVAL (out unchanged) if the value is not a
 * valid traceparent: not lower-case hex, a field of the wrong length, an
 * all-zero trace or span id, version ff, a version 00 value with trailing
 * data. A version above 00 is read as 00 where its first four fields
 * parse (the spec's rule for future versions). Blanks (space, tab) around
 * the value are ignored. Flags other than sampled are dropped, as the spec
 * asks of a system that does not know them.
 */
goc_status goc_traceparent_parse(const char *value, goc_tracectx *out);
/* Writes tc as a version-00 traceparent value (55 characters and a NUL). */
void goc_traceparent_format(const goc_tracectx *tc, char out[GOC_TRACEPARENT_SIZE]);

/*
 * Parses a tracestate header value (several header lines joined with ','
 * as HTTP joins them) into tc->state, normalized. GOC_OK, or -EINVAL
 * (tc->state set to "", as the spec has a receiver discard an invalid
 * tracestate) for a member that is not key=value with the spec's key and
 * value syntax, a repeated key, or more than 32 members. A value longer
 * than GOC_TRACESTATE_MAX once normalized loses members as the spec
 * says: first those longer than 128 bytes, then from the end.
 */
goc_status goc_tracestate_parse(const char *value, goc_tracectx *tc);

/* The ids in lower-case hex, for logs and headers. */
void goc_tracectx_trace_id(const goc_tracectx *tc, char out[GOC_TRACE_ID_SIZE]);
void goc_tracectx_span_id(const goc_tracectx *tc, char out[GOC_SPAN_ID_SIZE]);

/* A child of parent that carries a copy of tc; cancelled with its parent,
 * as a value context. NULL with errno ENOMEM. */
goc_ctx *goc_ctx_with_trace(goc_ctx *parent, const goc_tracectx *tc);
/* The trace context of ctx (the nearest on its path to the root), or
 * NULL. It lives as long as ctx. */
const goc_tracectx *goc_ctx_trace(goc_ctx *ctx);

#endif
