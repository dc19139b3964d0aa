/*
 * goc/metrics.h — Prometheus metrics: the runtime's own and the program's,
 * in the text exposition format 0.0.4 that Prometheus scrapes.
 * Included by goc.h; include <goc.h>, not this file.
 *
 *     static goc_metric_counter *served;
 *     served = goc_metric_counter_new("app_requests_total", "Requests served.",
 *                              "method=\"GET\",code=\"200\"");
 *     ...
 *     goc_metric_counter_add(served, 1);          // from any goroutine, on any P
 *
 *     goc_http_serve(ln, goc_metrics_handler, NULL, NULL);   // or the debug
 *                                          // server's /metrics
 *
 * A metric is one series: a name and a fixed set of labels, given at
 * registration in the exposition's own syntax (`key="value",...`, values
 * escaped as Prometheus escapes them). Series that share a name form one
 * family and must share its type and help text. Updates are lock-free and
 * per P: each P adds to cells of its own (one atomic add on a cache line no
 * other P writes; no lock, no lookup, no formatting), and a scrape sums the
 * cells. A plain thread that is not a goroutine adds to a shared cell.
 *
 * The runtime's metrics (written before the program's) are goc_goroutines,
 * goc_goroutines_waiting{reason}, goc_threads, goc_gomaxprocs,
 * goc_sched_latencies_seconds (time from runnable to running, a histogram
 * gathered from the first scrape on), goc_sched_steals_total,
 * goc_sched_retakes_total, goc_sched_long_runs_total, goc_sched_switches_total,
 * goc_goroutines_created_total, goc_netpoll_waiters, goc_memstats_*
 * (malloc's heap) and the process_* set of Prometheus client libraries.
 * docs/API.md lists them with their meaning.
 */
#ifndef GOC_METRICS_H
#define GOC_METRICS_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/metrics.h>"
#endif

#include <stdio.h>

/* The exposition's content type, as Prometheus expects it. */
#define GOC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct goc_metric_counter goc_metric_counter;
typedef struct goc_metric_gauge goc_metric_gauge;
typedef struct goc_metric_histogram goc_metric_histogram;

/*
 * Registers a series and returns it; it lives until the process ends.
 * name: [a-zA-Z_:][a-zA-Z0-9_:]*; help: any text (may be NULL); labels:
 * NULL or "" for none, else `k="v",...` with names [a-zA-Z_][a-zA-Z0-9_]*
 * (not starting with "__"; "le" is reserved to histograms) and values
 * escaped (\\, \" and \n). NULL with errno EINVAL for a malformed name or
 * label set, EEXIST if the series exists or its family has another type or
 * help, ENOMEM. Registration takes a lock; updates never do.
 */
goc_metric_counter *goc_metric_counter_new(const char *name, const char *help, const char *labels);
goc_metric_gauge *goc_metric_gauge_new(const char *name, const char *help, const char *labels);
/* bounds: the buckets' upper bounds, strictly increasing and finite, n of
 * them (1 to 64); a bucket +Inf is added. */
goc_metric_histogram *goc_metric_histogram_new(const char *name, const char *help,
					       const char *labels, const double *bounds, int n);

/* Adds delta (>= 0; a negative one panics: counters only go up). */
void goc_metric_counter_add(goc_metric_counter *c, int64_t delta);
/* Adds delta (any sign) to the gauge. */
void goc_metric_gauge_add(goc_metric_gauge *g, int64_t delta);
/* Sets the gauge. A set racing with another set leaves either value; adds
 * racing with a set count either before or after it. */
void goc_metric_gauge_set(goc_metric_gauge *g, int64_t value);
/* Counts v in its bucket and adds it to the sum. NaN is ignored. */
void goc_metric_histogram_observe(goc_metric_histogram *h, double v);

/* The value now (the sum of every P's cells). */
int64_t goc_metric_counter_value(const goc_metric_counter *c);
int64_t goc_metric_gauge_value(const goc_metric_gauge *g);

/* Writes the runtime's and the program's metrics to out, in the text
 * exposition format 0.0.4. GOC_OK, or the negative errno of a failed write. */
goc_status goc_metrics_write(FILE *out);

/* A goc_http_serve handler answering any request with goc_metrics_write's
 * text (Content-Type GOC_METRICS_CONTENT_TYPE); user is unused. Mount it on
 * a path of your own server, or use the debug server's /metrics. */
void goc_metrics_handler(goc_http_exchange *x, void *user);

#endif
