/*
 * measure.c — the measuring side of goc-bench: timed regions, extra
 * metrics and percentiles, the result line in Go's benchmark format,
 * failure reports, and the few facts read from /proc.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void bench_start(struct bench_run *run)
{
	run->began_ns = goc_now();
}

void bench_stop(struct bench_run *run)
{
	run->elapsed_ns += goc_now() - run->began_ns;
}

void bench_add_metric(struct bench_run *run, double value, const char *unit)
{
	if (run->metric_count == BENCH_MAX_METRICS)
		bench_fail("more than %d extra metrics (raise BENCH_MAX_METRICS)",
			   BENCH_MAX_METRICS);
	run->metrics[run->metric_count++] = (struct bench_metric){value, unit};
}

static int compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The p-th percentile of count sorted samples by the nearest-rank method:
 * the sample at rank ceil(p × count / 100), counting from 1. Integer
 * arithmetic keeps floating-point rounding from moving the rank. */
static int64_t nearest_rank(const int64_t *sorted, size_t count, size_t p)
{
	size_t rank = (p * count + 99) / 100;
	return sorted[rank < 1 ? 0 : rank - 1];
}

void bench_add_latencies(struct bench_run *run, int64_t *samples_ns, size_t count)
{
	qsort(samples_ns, count, sizeof *samples_ns, compare_int64);
	bench_add_metric(run, (double)nearest_rank(samples_ns, count, 50) / 1e3, "p50-us");
	bench_add_metric(run, (double)nearest_rank(samples_ns, count, 99) / 1e3, "p99-us");
}

/* Writes "value unit" as Go's testing package prints a metric: the larger
 * the value, the fewer decimals, right-aligned in a field whose width keeps
 * the columns of a listing roughly aligned. */
static void format_metric(char *out, size_t size, double value, const char *unit)
{
	static const struct {
		double at_least; /* magnitude from which this row applies */
		int width, decimals;
	} rows[] = {
		{999.95, 10, 0},  {99.995, 12, 1},   {9.9995, 13, 2},
		{0.99995, 14, 3}, {0.099995, 15, 4}, {0, 16, 5},
	};
	double magnitude = fabs(value);
	size_t r = 0;
	/* Zero prints like a large value, with no decimals. */
	if (magnitude != 0)
		while (magnitude < rows[r].at_least)
			r++;
	snprintf(out, size, "%*.*f %s", rows[r].width, rows[r].decimals, value, unit);
}

void bench_print_result(const char *label, int width, const struct bench_run *run)
{
	char field[64];
	printf("%-*s\t%10" PRId64, width, label, run->ops);
	format_metric(field, sizeof field, (double)run->elapsed_ns / (double)run->ops, "ns/op");
	printf("\t%s", field);
	for (int m = 0; m < run->metric_count; m++) {
		format_metric(field, sizeof field, run->metrics[m].value, run->metrics[m].unit);
		printf("\t%s", field);
	}
	putchar('\n');
	/* The parent process, or a pipe, should see each line as it is done. */
	fflush(stdout);
}

/* What bench_fail names as failing; set by the driver goroutine before
 * each run, read by whichever goroutine fails. */
static char failure_context[96] = "goc-bench";

void bench_set_context(const char *context)
{
	snprintf(failure_context, sizeof failure_context, "%s", context);
}

void bench_fail(const char *format, ...)
{
	va_list args;
	fflush(stdout);
	fprintf(stderr, "goc-bench: %s: ", failure_context);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
	exit(1);
}

void bench_go(goc_fn fn, void *arg)
{
	int64_t id = goc_go(fn, arg);
	if (id < 0)
		bench_fail("goc_go: %s", goc_strerror((int)id));
}

void bench_go_compact(goc_fn fn, void *arg)
{
	static const goc_go_options compact = {.compact_stack = true};
	int64_t id = goc_go_opts(fn, arg, &compact);
	if (id < 0)
		bench_fail("goc_go_opts: %s", goc_strerror((int)id));
}

goc_chan *bench_chan(size_t elem_size, size_t cap)
{
	goc_chan *c = goc_chan_make(elem_size, cap);
	if (c == NULL)
		bench_fail("goc_chan_make(%zu, %zu): %s", elem_size, cap, strerror(errno));
	return c;
}

void *bench_alloc(size_t count, size_t size)
{
	void *p = calloc(count, size);
	if (p == NULL)
		bench_fail("out of memory allocating %zu items of %zu bytes", count, size);
	return p;
}

int64_t bench_resident_bytes(void)
{
	FILE *status = fopen("/proc/self/status", "r");
	if (status == NULL)
		bench_fail("/proc/self/status: %s", strerror(errno));
	char line[256];
	long long kb = -1;
	/* The line reads "VmRSS:" then the size in kB. */
	while (kb < 0 && fgets(line, sizeof line, status) != NULL)
		if (sscanf(line, "VmRSS: %lld kB", &kb) != 1)
			kb = -1;
	fclose(status);
	if (kb < 0)
		bench_fail("/proc/self/status has no VmRSS line");
	return (int64_t)kb * 1024;
}
