/*
 * bench.h — what goc-bench's workload files share with its driver.
 *
 * goc-bench (goc_bench.c) picks the workloads, runs each one in a fresh
 * process and prints its result in Go's benchmark format. A workload is a
 * function that runs on a goroutine (the "driver", as in Go where it is the
 * main goroutine), does its work at the size it is given, brackets the timed
 * region with bench_start/bench_stop, checks its result and reports any
 * failure with bench_fail, which ends the process. The workloads themselves
 * are defined in the project's workload specification
 * (../shared/peers/go/README.md from the project root; see bench/README.md).
 */
#ifndef GOC_BENCH_H
#define GOC_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <goc.h>

/* The most extra metrics one result line carries (TimerSleepers has three). */
#define BENCH_MAX_METRICS 3

/* One "value unit" pair printed after ns/op. unit is a string literal. */
struct bench_metric {
	double value;
	const char *unit;
};

/*
 * One run of one workload. The driver sets n and ops = n and zeroes the
 * rest; the workload times itself, changes ops if one op is not one unit
 * of its size, and adds its extra metrics.
 */
struct bench_run {
	int64_t n;          /* the scaled size: max(1, round(size × scale)) */
	int64_t ops;        /* operations done in the timed region(s) */
	int64_t elapsed_ns; /* sum of the timed regions */
	int64_t began_ns;   /* goc_now() at the last bench_start */
	int metric_count;
	struct bench_metric metrics[BENCH_MAX_METRICS];
};

/* Opens and closes a timed region; a run may have several (ParkedMemory). */
void bench_start(struct bench_run *run);
void bench_stop(struct bench_run *run);

/* Appends an extra metric to the result line. */
void bench_add_metric(struct bench_run *run, double value, const char *unit);

/* Appends the 50th and 99th nearest-rank percentiles of count (> 0)
 * samples, converted from nanoseconds to microseconds, as p50-us and
 * p99-us. Sorts the samples in place. */
void bench_add_latencies(struct bench_run *run, int64_t *samples_ns, size_t count);

/* Prints the result line of run: label left-aligned in width columns,
 * then ops, ns/op and the extra metrics, tab-separated. */
void bench_print_result(const char *label, int width, const struct bench_run *run);

/* Names what is running ("BenchmarkYield-2" or "BenchmarkYield-2: warm-up")
 * for bench_fail's message (copied). */
void bench_set_context(const char *context);

/* Prints "goc-bench: <context>: <message>" on stderr and exits with status
 * 1. Any goroutine may call it. */
_Noreturn void bench_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* goc_go, goc_chan_make and calloc that fail the workload, instead of
 * returning, when the memory runs out. */
void bench_go(goc_fn fn, void *arg);
/* bench_go for a goroutine that keeps Go's rule for its stack (nothing
 * else touches it while it waits on a channel), as every Go goroutine
 * does: goc may compact its stack while it is parked
 * (goc_go_options.compact_stack). */
void bench_go_compact(goc_fn fn, void *arg);
goc_chan *bench_chan(size_t elem_size, size_t cap);
void *bench_alloc(size_t count, size_t size);

/* The resident set size of this process in bytes (VmRSS). */
int64_t bench_resident_bytes(void);

/* The workloads, in the order of the specification. Each runs on the
 * driver goroutine at size run->n. */
void bench_spawn_join(struct bench_run *run);                      /* spawn.c */
void bench_spawn_join_batch(struct bench_run *run);                /* spawn.c */
void bench_yield(struct bench_run *run);                           /* sched.c */
void bench_sched_latency_hogs1(struct bench_run *run);             /* sched.c */
void bench_sched_latency_hogs2(struct bench_run *run);             /* sched.c */
void bench_chan_ping_pong(struct bench_run *run);                  /* chan.c */
void bench_chan_buffered(struct bench_run *run);                   /* chan.c */
void bench_chan_mpmc(struct bench_run *run);                       /* chan.c */
void bench_select_ping_pong(struct bench_run *run);                /* chan.c */
void bench_parked_memory(struct bench_run *run);                   /* spawn.c */
void bench_timer_sleepers(struct bench_run *run);                  /* timer.c */
void bench_context_cancel_fanout(struct bench_run *run);           /* context.c */
void bench_worker_pool(struct bench_run *run);                     /* workpool.c */
void bench_worker_pool_goc(struct bench_run *run);                 /* workpool.c */
void bench_tcp_echo(struct bench_run *run);                        /* net.c */
void bench_mutex_contended(struct bench_run *run);                 /* sync.c */
void bench_mutex_contended_pthread(struct bench_run *run);         /* sync.c */
void bench_pool_get_put(struct bench_run *run);                    /* sync.c */
void bench_pool_alloc(struct bench_run *run);                      /* sync.c */
void bench_counter_shared(struct bench_run *run);                  /* sync.c */
void bench_counter_sharded(struct bench_run *run);                 /* sync.c */
void bench_metric_counter_add(struct bench_run *run);              /* sync.c */
void bench_syscall_handoff(struct bench_run *run);                 /* syscall.c */
void bench_limiter_allow_n(struct bench_run *run);                 /* toolbox.c */
void bench_map_load_mostly_hits(struct bench_run *run);            /* map.c */
void bench_map_load_mostly_misses(struct bench_run *run);          /* map.c */
void bench_map_load_or_store_balanced(struct bench_run *run);      /* map.c */
void bench_map_load_or_store_unique(struct bench_run *run);        /* map.c */
void bench_map_load_or_store_collision(struct bench_run *run);     /* map.c */
void bench_map_load_and_delete_balanced(struct bench_run *run);    /* map.c */
void bench_map_load_and_delete_unique(struct bench_run *run);      /* map.c */
void bench_map_load_and_delete_collision(struct bench_run *run);   /* map.c */
void bench_map_range(struct bench_run *run);                       /* map.c */
void bench_map_adversarial_alloc(struct bench_run *run);           /* map.c */
void bench_map_adversarial_delete(struct bench_run *run);          /* map.c */
void bench_map_delete_collision(struct bench_run *run);            /* map.c */
void bench_rwmap_load_mostly_hits(struct bench_run *run);          /* map.c */
void bench_rwmap_load_mostly_misses(struct bench_run *run);        /* map.c */
void bench_rwmap_load_or_store_balanced(struct bench_run *run);    /* map.c */
void bench_rwmap_load_or_store_unique(struct bench_run *run);      /* map.c */
void bench_rwmap_load_or_store_collision(struct bench_run *run);   /* map.c */
void bench_rwmap_load_and_delete_balanced(struct bench_run *run);  /* map.c */
void bench_rwmap_load_and_delete_unique(struct bench_run *run);    /* map.c */
void bench_rwmap_load_and_delete_collision(struct bench_run *run); /* map.c */
void bench_rwmap_range(struct bench_run *run);                     /* map.c */
void bench_rwmap_adversarial_alloc(struct bench_run *run);         /* map.c */
void bench_rwmap_adversarial_delete(struct bench_run *run);        /* map.c */
void bench_rwmap_delete_collision(struct bench_run *run);          /* map.c */
void bench_alloc_pipeline(struct bench_run *run);                  /* alloc.c */
void bench_alloc_pipeline_unprofiled(struct bench_run *run);       /* alloc.c */
void bench_alloc_pipeline_malloc(struct bench_run *run);           /* alloc.c */
/* -serve-http: serves HTTPHello on the address arg until killed. */
void bench_serve_hello(void *addr); /* http.c */
void bench_http_client(struct bench_run *run); /* http.c */

#endif /* GOC_BENCH_H */
