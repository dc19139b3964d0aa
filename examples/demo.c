/*
 * demo.c — the showcase run by `make demo`: what goc does, in a few
 * seconds, with the numbers to show for it.
 *
 *  1. a million goroutines spawned and joined;
 *  2. CPU-bound work spread over every P (per-P switch counts);
 *  3. a pipeline: generator -> fan-out to workers -> fan-in, with throughput;
 *  4. a select with a timeout;
 *  5. a worker pool under overload, once per overflow policy, with its
 *     counters;
 *  6. an errgroup whose tasks share a timeout;
 *  7. the scheduler's counters;
 *  8. the HTTP server loaded by client goroutines of the same process over
 *     loopback keep-alive connections: requests per second, latencies;
 *  9. a CPU profile and an execution trace of a small pipeline, written to
 *     demo.pprof and demo.trace.json, and the commands that open them;
 * 10. the service toolbox: a goc_map cache before a slow backend, misses
 *     collapsed by goc_singleflight, a goc_limiter per client;
 * 11. goc's heap: items allocated on one P and freed on another, MemStats,
 *     and a planted leak found by diffing two heap profiles
 *     (demo-heap-before.pprof, demo-heap-after.pprof) with go tool pprof -base.
 * 12. preemption: on one P, a plain C loop that never calls goc beside a
 *     1 ms ticker; the ticker keeps ticking (its worst lateness and the
 *     preemptions are printed).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <goc.h>

static double seconds(int64_t ns)
{
	return (double)ns / (double)GOC_SECOND;
}

/* ---- 1. a million goroutines ---- */

struct join {
	goc_wg wg;
	atomic_long ran;
};

static void tiny(void *arg)
{
	struct join *j = arg;
	atomic_fetch_add_explicit(&j->ran, 1, memory_order_relaxed);
	goc_wg_done(&j->wg);
}

static void million(void)
{
	enum { N = 1000000 };
	struct join j = {.wg = GOC_WG_INIT};
	int64_t t0 = goc_now();
	goc_wg_add(&j.wg, N);
	for (int i = 0; i < N; i++) {
		int64_t id = goc_go(tiny, &j);
		if (id < 0) {
			fprintf(stderr, "goc_go: %s\n", goc_strerror((int)id));
			exit(1);
		}
	}
	goc_wg_wait(&j.wg);
	int64_t dt = goc_now() - t0;
	printf("1. spawned and joined %ld goroutines in %.3f s (%.0f ns each)\n",
	       atomic_load(&j.ran), seconds(dt), (double)dt / N);
}

/* ---- 2. work on every P ---- */

static void busy(void *arg)
{
	goc_wg *wg = arg;
	volatile uint64_t x = 0;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 200000; i++)
			x += (uint64_t)i * 2654435761u;
		goc_yield();
	}
	goc_wg_done(wg);
}

static void spread(void)
{
	goc_sched_stats before, after;
	goc_sched_stats_read(&before);
	goc_wg wg = GOC_WG_INIT;
	enum { TASKS = 64 };
	goc_wg_add(&wg, TASKS);
	int64_t t0 = goc_now();
	for (int i = 0; i < TASKS; i++)
		goc_go(busy, &wg);
	goc_wg_wait(&wg);
	int64_t dt = goc_now() - t0;
	goc_sched_stats_read(&after);
	printf("2. %d CPU-bound goroutines on %d Ps in %.3f s; goroutine switches per P:", TASKS,
	       after.procs, seconds(dt));
	for (int i = 0; i < after.procs; i++)
		printf(" P%d=%lld", i, (long long)(after.p[i].switches - before.p[i].switches));
	printf("\n");
}

/* ---- 3. pipeline ---- */

enum { ITEMS = 2000000, WORKERS = 8 };

/* Typed channels (goc/typed.h): the compiler checks every send and receive
 * against the element type, at no cost at run time. */
typedef GOC_CHAN(int64_t) int64_chan;

struct pipe {
	int64_chan numbers, results;
	goc_wg workers;
};

static void generate(void *arg)
{
	struct pipe *pp = arg;
	for (int64_t i = 0; i < ITEMS; i++)
		goc_tchan_send(pp->numbers, i);
	goc_tchan_close(pp->numbers);
}

static void square(void *arg)
{
	struct pipe *pp = arg;
	int64_t v;
	while (goc_tchan_recv(pp->numbers, &v) == GOC_OK)
		goc_tchan_send(pp->results, v * v);
	goc_wg_done(&pp->workers);
}

static void close_results(void *arg)
{
	struct pipe *pp = arg;
	goc_wg_wait(&pp->workers);
	goc_tchan_close(pp->results);
}

static void pipeline(void)
{
	struct pipe pp = {.workers = GOC_WG_INIT};
	pp.numbers = goc_tchan_make(int64_chan, 128);
	pp.results = goc_tchan_make(int64_chan, 128);
	int64_t t0 = goc_now();
	goc_wg_add(&pp.workers, WORKERS);
	goc_go(generate, &pp);
	for (int i = 0; i < WORKERS; i++)
		goc_go(square, &pp);
	goc_go(close_results, &pp);
	int64_t sum = 0, got = 0, v;
	while (goc_tchan_recv(pp.results, &v) == GOC_OK) {
		sum += v;
		got++;
	}
	int64_t dt = goc_now() - t0;
	int64_t want = 0;
	for (int64_t i = 0; i < ITEMS; i++)
		want += i * i;
	printf("3. pipeline generator -> %d workers -> collector: %lld items in %.3f s "
	       "(%.1f M items/s), sum %s\n",
	       WORKERS, (long long)got, seconds(dt), (double)got / seconds(dt) / 1e6,
	       sum == want ? "correct" : "WRONG");
	goc_tchan_release(pp.numbers);
	goc_tchan_release(pp.results);
	if (sum != want)
		exit(1);
}

/* ---- 4. select with a timeout ---- */

static void slow_reply(void *arg)
{
	goc_chan *reply = arg;
	goc_sleep(200 * GOC_MILLISECOND);
	int64_t v = 42;
	goc_chan_send(reply, &v);
	goc_chan_release(reply);
}

static void select_timeout(void)
{
	goc_chan *reply = goc_chan_make(sizeof(int64_t), 1);
	goc_go(slow_reply, goc_chan_retain(reply));
	int64_t v = 0;
	for (int attempt = 1;; attempt++) {
		goc_select_case cases[] = {{.chan = reply, .dir = GOC_SELECT_RECV, .elem = &v}};
		int64_t t0 = goc_now();
		int chosen = goc_select(cases, 1, 50 * GOC_MILLISECOND);
		if (chosen == GOC_SELECT_NONE) {
			printf("4. select: attempt %d timed out after %.0f ms\n", attempt,
			       seconds(goc_now() - t0) * 1000);
			continue;
		}
		printf("4. select: attempt %d received %lld\n", attempt, (long long)v);
		break;
	}
	goc_chan_release(reply);
}

/* ---- 5. a worker pool under overload ---- */

/* A request takes 1 ms and one arrives every 100 us (a little slower, as
 * sleeps round up): more than twice what four workers can serve. Each
 * policy shows where the excess goes. */
enum { REQUESTS = 500 };

static void handle_request(void *arg)
{
	(void)arg;
	goc_sleep(GOC_MILLISECOND);
}

static void count_drop(goc_fn fn, void *arg, void *user)
{
	(void)fn;
	(void)arg;
	(*(int *)user)++;
}

static void overload(void)
{
	static const char *const names[] = {"block", "reject", "drop-newest", "drop-oldest"};
	printf("5. worker pool, 2-4 workers, queue 16, %d requests of 1 ms arriving every 100 us:\n",
	       REQUESTS);
	for (int policy = GOC_WORKPOOL_BLOCK; policy <= GOC_WORKPOOL_DROP_OLDEST; policy++) {
		int evicted = 0;
		goc_workpool_options o = {.min_workers = 2,
					  .max_workers = 4,
					  .queue_size = 16,
					  .policy = (goc_workpool_policy)policy,
					  .on_drop = count_drop,
					  .on_drop_user = &evicted};
		goc_workpool *pool = goc_workpool_new(&o);
		int refused = 0;
		int64_t t0 = goc_now();
		for (int i = 0; i < REQUESTS; i++) {
			if (goc_workpool_submit(pool, handle_request, NULL) != GOC_OK)
				refused++;
			goc_sleep(100 * GOC_MICROSECOND);
		}
		goc_workpool_stop(pool, NULL);
		goc_workpool_stats s;
		goc_workpool_stats_read(pool, &s);
		goc_workpool_free(pool);
		printf("   %-11s in %3.0f ms: submitted %lld, done %lld, rejected %lld, dropped %lld "
		       "(refused %d, evicted %d), peak workers %d\n",
		       names[policy], seconds(goc_now() - t0) * 1000, (long long)s.submitted,
		       (long long)s.done, (long long)s.rejected, (long long)s.dropped, refused,
		       evicted, s.peak_workers);
	}
}

/* ---- 6. an errgroup with a timeout ---- */

/* A "fetch" that takes (arg) milliseconds unless the group's context ends
 * first. */
static int fetch(goc_ctx *ctx, void *arg)
{
	int64_t ms = (int64_t)(intptr_t)arg;
	goc_chan *took = goc_after(ms * GOC_MILLISECOND);
	goc_select_case cases[] = {{.chan = took, .dir = GOC_SELECT_RECV},
				   {.chan = goc_ctx_done(ctx), .dir = GOC_SELECT_RECV}};
	int chosen = goc_select(cases, 2, GOC_NO_TIMEOUT);
	goc_chan_release(took);
	return chosen == 0 ? 0 : (int)goc_ctx_err(ctx);
}

static void errgroup_timeout(void)
{
	goc_ctx *deadline = goc_ctx_with_timeout(goc_ctx_background(), 50 * GOC_MILLISECOND);
	goc_group *g = goc_group_new(deadline);
	static const int delays_ms[] = {10, 20, 30, 400, 40, 600};
	int64_t t0 = goc_now();
	for (size_t i = 0; i < sizeof delays_ms / sizeof delays_ms[0]; i++)
		goc_group_go(g, fetch, (void *)(intptr_t)delays_ms[i]);
	int err = goc_group_wait(g);
	printf("6. errgroup: 6 fetches of 10-600 ms under a 50 ms timeout: wait returned \"%s\" "
	       "after %.0f ms\n",
	       err ? goc_strerror((goc_status)err) : "ok", seconds(goc_now() - t0) * 1000);
	goc_group_free(g);
	goc_ctx_release(deadline);
}

/* ---- 7. counters ---- */

static void counters(void)
{
	goc_sched_stats s;
	goc_sched_stats_read(&s);
	printf("7. scheduler: procs=%d idle_procs=%d threads=%d idle_threads=%d spinning=%d "
	       "goroutines=%lld global_runq=%lld steals=%lld\n",
	       s.procs, s.idle_procs, s.threads, s.idle_threads, s.spinning_threads,
	       (long long)s.goroutines, (long long)s.global_runq, (long long)s.steals);
	for (int i = 0; i < s.procs; i++)
		printf("   P%d: switches=%lld spawned=%lld runq=%lld\n", i,
		       (long long)s.p[i].switches, (long long)s.p[i].spawned,
		       (long long)s.p[i].runq);
}

/* ---- 8. the HTTP server under load ---- */

/* Latencies in a log-linear histogram: 16 buckets per power of two of
 * nanoseconds, so a percentile is known within about 6%. */
enum { SUB_BUCKETS = 16, LATENCY_BUCKETS = 64 * SUB_BUCKETS };

struct latencies {
	int64_t count[LATENCY_BUCKETS];
};

static int latency_bucket(int64_t ns)
{
	if (ns < SUB_BUCKETS)
		return (int)(ns > 0 ? ns : 0);
	int octave = 63 - __builtin_clzll((unsigned long long)ns);
	int sub = (int)((ns >> (octave - 4)) & (SUB_BUCKETS - 1));
	return (octave - 3) * SUB_BUCKETS + sub;
}

/* The smallest latency of bucket b. */
static int64_t latency_of(int b)
{
	if (b < SUB_BUCKETS)
		return b;
	int octave = b / SUB_BUCKETS + 3, sub = b % SUB_BUCKETS;
	return (int64_t)(SUB_BUCKETS + sub) << (octave - 4);
}

static int64_t latency_percentile(const struct latencies *l, int64_t total, double pct)
{
	int64_t want = (int64_t)((double)total * pct / 100.0), seen = 0;
	for (int b = 0; b < LATENCY_BUCKETS; b++) {
		seen += l->count[b];
		if (seen > want)
			return latency_of(b);
	}
	return latency_of(LATENCY_BUCKETS - 1);
}

static void hello(goc_http_exchange *x, void *user)
{
	(void)user;
	goc_http_add_header(x, "Content-Type", "text/plain");
	goc_http_write(x, "hello\n", 6);
}

enum { LOAD_CLIENTS = 64 };

struct load {
	char addr[64];
	int64_t until;
	goc_wg clients;
	goc_mutex lock;
	struct latencies merged; /* lock */
	int64_t requests;        /* lock */
	int64_t failures;        /* lock */
};

/* Reads one response to a GET of hello on c; false on any failure. */
static bool read_hello(goc_conn *c, char *buf, size_t size)
{
	size_t len = 0;
	for (;;) {
		ssize_t n = goc_conn_read(c, buf + len, size - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = 0;
		char *end = strstr(buf, "\r\n\r\n");
		const char *length = strstr(buf, "Content-Length: ");
		if (end && length && len >= (size_t)(end + 4 - buf) + (size_t)atoi(length + 16))
			return strncmp(buf, "HTTP/1.1 200 ", 13) == 0;
		if (len == size - 1)
			return false;
	}
}

static void load_client(void *arg)
{
	struct load *ld = arg;
	static const char request[] = "GET / HTTP/1.1\r\nHost: demo\r\n\r\n";
	struct latencies mine = {{0}};
	int64_t done = 0;
	bool failed = false;
	goc_conn *c;
	if (goc_dial("tcp", ld->addr, 0, &c) == 0) {
		char buf[1024];
		while (goc_now() < ld->until) {
			int64_t t0 = goc_now();
			if (goc_conn_write(c, request, sizeof request - 1, NULL) < 0 ||
			    !read_hello(c, buf, sizeof buf)) {
				failed = true;
				break;
			}
			mine.count[latency_bucket(goc_now() - t0)]++;
			done++;
		}
		goc_conn_close(c);
	} else {
		failed = true;
	}
	goc_mutex_lock(&ld->lock);
	for (int b = 0; b < LATENCY_BUCKETS; b++)
		ld->merged.count[b] += mine.count[b];
	ld->requests += done;
	ld->failures += failed;
	goc_mutex_unlock(&ld->lock);
	goc_wg_done(&ld->clients);
}

struct served {
	goc_listener *ln;
	goc_ctx *shutdown;
	goc_wg done;
};

static void serve_hello(void *arg)
{
	struct served *sv = arg;
	goc_http_server_options o = {.shutdown = sv->shutdown};
	goc_http_serve(sv->ln, hello, NULL, &o);
	goc_wg_done(&sv->done);
}

static void http_load(void)
{
	static struct load ld = {.clients = GOC_WG_INIT, .lock = GOC_MUTEX_INIT};
	struct served sv = {.done = GOC_WG_INIT};
	int err = goc_listen("tcp", "127.0.0.1:0", &sv.ln);
	if (err) {
		printf("8. HTTP server: cannot listen on 127.0.0.1: %s\n", strerror(-err));
		return;
	}
	goc_listener_addr(sv.ln, ld.addr, sizeof ld.addr);
	sv.shutdown = goc_ctx_with_cancel(goc_ctx_background());
	goc_wg_add(&sv.done, 1);
	goc_go(serve_hello, &sv);
	int64_t t0 = goc_now();
	ld.until = t0 + 2 * GOC_SECOND;
	goc_wg_add(&ld.clients, LOAD_CLIENTS);
	for (int i = 0; i < LOAD_CLIENTS; i++)
		goc_go(load_client, &ld);
	goc_wg_wait(&ld.clients);
	double dt = seconds(goc_now() - t0);
	goc_ctx_cancel(sv.shutdown);
	goc_wg_wait(&sv.done);
	goc_ctx_release(sv.shutdown);
	printf("8. HTTP server on %s, %d keep-alive client goroutines in this process for %.1f s: "
	       "%lld requests (%.0f req/s), %lld failed connections; latency p50 %.0f us, "
	       "p90 %.0f us, p99 %.0f us\n",
	       ld.addr, LOAD_CLIENTS, dt, (long long)ld.requests, (double)ld.requests / dt,
	       (long long)ld.failures,
	       (double)latency_percentile(&ld.merged, ld.requests, 50) / 1e3,
	       (double)latency_percentile(&ld.merged, ld.requests, 90) / 1e3,
	       (double)latency_percentile(&ld.merged, ld.requests, 99) / 1e3);
}

/* ---- 10. the service toolbox ---- */

struct shop {
	goc_map *cache, *limiters;
	goc_singleflight *flights;
	atomic_long fetches, served, refused;
	goc_wg done;
};

static struct shop shop;

/* The slow backend (2 ms a fetch); fills the cache. */
static int shop_fetch(void *arg, void **value)
{
	atomic_fetch_add(&shop.fetches, 1);
	goc_sleep(2 * GOC_MILLISECOND);
	*value = arg;
	goc_map_store(shop.cache, &arg, sizeof arg, arg);
	return 0;
}

static void shop_client(void *arg)
{
	uint64_t id = (uintptr_t)arg;
	void *lim;
	goc_limiter *mine = goc_limiter_new(500, 10);
	bool loaded;
	goc_map_load_or_store_u64(shop.limiters, id, mine, &lim, &loaded);
	if (loaded)
		goc_limiter_free(mine);
	for (int64_t until = goc_now() + 200 * GOC_MILLISECOND; goc_now() < until;) {
		if (!goc_limiter_allow(lim)) {
			atomic_fetch_add(&shop.refused, 1);
			goc_sleep(100 * GOC_MICROSECOND);
			continue;
		}
		void *key = (void *)(uintptr_t)(goc_now() % 32 + 1), *value;
		if (!goc_map_load(shop.cache, &key, sizeof key, &value)) {
			goc_singleflight_result r;
			goc_singleflight_do(shop.flights, &key, sizeof key, shop_fetch, key, &r);
		}
		atomic_fetch_add(&shop.served, 1);
	}
	goc_wg_done(&shop.done);
}

static bool shop_free_limiter(const void *key, size_t len, void *value, void *arg)
{
	(void)key, (void)len, (void)arg;
	goc_limiter_free(value);
	return true;
}

static void toolbox(void *arg)
{
	(void)arg;
	shop.cache = goc_map_new();
	shop.limiters = goc_map_new();
	shop.flights = goc_singleflight_new();
	goc_wg_add(&shop.done, 64);
	for (uintptr_t id = 0; id < 64; id++)
		goc_go(shop_client, (void *)id);
	goc_wg_wait(&shop.done);
	printf("10. toolbox: 64 clients limited to 500 req/s each for 200 ms: %ld served, %ld "
	       "refused by their limiters; a cache of 32 keys filled by %ld backend fetches "
	       "(singleflight)\n",
	       atomic_load(&shop.served), atomic_load(&shop.refused), atomic_load(&shop.fetches));
	goc_map_range(shop.limiters, shop_free_limiter, NULL);
	goc_map_free(shop.limiters);
	goc_map_free(shop.cache);
	goc_singleflight_free(shop.flights);
}

static void demo(void *arg)
{
	(void)arg;
	printf("goc %s demo, GOCMAXPROCS=%d\n", GOC_VERSION, goc_maxprocs(0));
	million();
	spread();
	pipeline();
	select_timeout();
	overload();
	errgroup_timeout();
	counters();
	http_load();
}

/* ---- 9. a CPU profile and an execution trace ---- */

struct checksum_job {
	goc_chan *blocks, *sums;
};

/* The hot spot the profile should show: about 200 us of arithmetic. */
static __attribute__((noinline)) uint64_t checksum_block(uint64_t seed)
{
	uint64_t x = seed | 1;
	for (int i = 0; i < 200000; i++)
		x = x * 6364136223846793005u + 1442695040888963407u;
	return x;
}

static void checksum_worker(void *arg)
{
	struct checksum_job *job = arg;
	uint64_t seed;
	while (goc_chan_recv(job->blocks, &seed) == GOC_OK) {
		uint64_t sum = checksum_block(seed);
		goc_chan_send(job->sums, &sum);
	}
}

/* Sleeps 1 ms ten times: timer wake-ups for the trace. */
static void nap(void *arg)
{
	for (int i = 0; i < 10; i++)
		goc_sleep(GOC_MILLISECOND);
	goc_wg_done(arg);
}

/* Runs a small pipeline (2000 blocks checksummed by 4 workers, a sleeper)
 * while a CPU profile and an execution trace of it are written to
 * demo.pprof and demo.trace.json in the current directory, then prints
 * the commands that open them. */
static void profile_and_trace(void *arg)
{
	(void)arg;
	enum { BLOCKS = 2000, SUMMERS = 4 };
	FILE *prof = fopen("demo.pprof", "wb");
	FILE *trace = fopen("demo.trace.json", "w");
	if (!prof || !trace || goc_pprof_cpu_start(prof) != GOC_OK) {
		perror("demo.pprof, demo.trace.json");
		exit(1);
	}
	if (goc_trace_start(trace) != GOC_OK) {
		perror("goc_trace_start");
		exit(1);
	}
	int64_t t0 = goc_now();
	struct checksum_job job = {goc_chan_make(sizeof(uint64_t), 0),
				   goc_chan_make(sizeof(uint64_t), 16)};
	for (int i = 0; i < SUMMERS; i++) {
		goc_go_options opts = {.name = "checksum_worker"};
		goc_go_opts(checksum_worker, &job, &opts);
	}
	goc_wg napped = GOC_WG_INIT;
	goc_wg_add(&napped, 1);
	goc_go(nap, &napped);
	uint64_t total = 0, sum;
	for (uint64_t i = 0, received = 0; received < BLOCKS;) {
		goc_select_case cases[2] = {
			{.chan = job.sums, .dir = GOC_SELECT_RECV, .elem = &sum},
			{.chan = i < BLOCKS ? job.blocks : NULL,
			 .dir = GOC_SELECT_SEND,
			 .elem = &i},
		};
		if (goc_select(cases, 2, GOC_NO_TIMEOUT) == 0) {
			total += sum;
			received++;
		} else {
			i++;
		}
	}
	goc_chan_close(job.blocks);
	goc_wg_wait(&napped);
	double dt = seconds(goc_now() - t0);
	goc_status traced = goc_trace_stop();
	goc_status profiled = goc_pprof_cpu_stop();
	if (traced != GOC_OK || profiled != GOC_OK || fclose(trace) || fclose(prof)) {
		perror("writing demo.pprof, demo.trace.json");
		exit(1);
	}
	goc_chan_release(job.blocks);
	goc_chan_release(job.sums);
	char *self = realpath("/proc/self/exe", NULL);
	printf("9. profiled and traced: %d blocks checksummed by %d goroutines in %.3f s "
	       "(checksum %016llx), written to demo.pprof and demo.trace.json:\n"
	       "   go tool pprof -top %s demo.pprof\n"
	       "   open demo.trace.json in https://ui.perfetto.dev or chrome://tracing\n",
	       BLOCKS, SUMMERS, dt, (unsigned long long)total, self ? self : "./demo");
	free(self);
}

/* ---- 11. the heap: cross-P frees, MemStats, a leak found by two profiles ---- */

#define HEAP_ITEMS 200000

static void heap_producer(void *arg)
{
	goc_chan *items = arg;
	for (int i = 0; i < HEAP_ITEMS; i++) {
		char *p = goc_malloc(64 + (size_t)(i % 16) * 32);
		p[0] = (char)i;
		goc_chan_send(items, &p);
	}
	goc_chan_close(items);
}

static void *sessions[20000];
static int nsessions;

/* The planted leak: every request "remembers" its session and nobody
 * forgets it. */
__attribute__((noinline)) static void remember_session(int id)
{
	char *s = goc_malloc(1024);
	snprintf(s, 1024, "session %d", id);
	if (nsessions < 20000)
		sessions[nsessions++] = s;
}

static bool write_heap(const char *path)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && goc_pprof_heap(f) == GOC_OK;
	return (f && fclose(f) == 0) && ok;
}

static void heap_demo(void *arg)
{
	(void)arg;
	goc_chan *items = goc_chan_make(sizeof(char *), 128);
	int64_t t0 = goc_now();
	goc_go(heap_producer, items);
	char *p;
	while (goc_chan_recv(items, &p) == GOC_OK)
		goc_free(p); /* freed on whichever P this goroutine runs on */
	double dt = seconds(goc_now() - t0);
	goc_chan_release(items);
	goc_memstats m;
	goc_memstats_read(&m);
	printf("11. heap: %d items allocated on one goroutine and freed on another in %.3f s "
	       "(%.0f ns/item); MemStats: %llu mallocs, %llu frees, heap in use %llu KiB, "
	       "released %llu KiB\n",
	       HEAP_ITEMS, dt, dt * 1e9 / HEAP_ITEMS, (unsigned long long)m.mallocs,
	       (unsigned long long)m.frees, (unsigned long long)(m.heap_inuse >> 10),
	       (unsigned long long)(m.heap_released >> 10));
	for (int i = 0; i < 5000; i++)
		remember_session(i);
	bool ok = write_heap("demo-heap-before.pprof");
	for (int i = 5000; i < 10000; i++)
		remember_session(i);
	ok = write_heap("demo-heap-after.pprof") && ok;
	if (!ok) {
		perror("writing demo-heap-*.pprof");
		exit(1);
	}
	char *self = realpath("/proc/self/exe", NULL);
	printf("    a leak planted: two heap profiles 5000 requests apart; the diff names it:\n"
	       "   go tool pprof -sample_index=inuse_space -top -base demo-heap-before.pprof "
	       "%s demo-heap-after.pprof\n",
	       self ? self : "./demo");
	free(self);
	for (int i = 0; i < nsessions; i++)
		goc_free(sessions[i]);
}

/* ---- 12. preemption: a loop that never calls goc does not freeze its P ---- */

static atomic_bool hog_stop;

/* Ordinary C: no goc call, no yield, nothing but arithmetic and a look
 * at the clock now and then. It gives up after 2 s by itself, so that on a
 * platform without preemption the demo ends too. */
static void hog(void *arg)
{
	goc_wg *done = arg;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	volatile uint64_t x = 1;
	for (uint64_t i = 1; !atomic_load_explicit(&hog_stop, memory_order_relaxed); i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		if (i % (1u << 20) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec >= 2)
				break;
		}
	}
	goc_wg_done(done);
}

static void preemption_demo(void *arg)
{
	(void)arg;
	int procs = goc_maxprocs(1);
	goc_sched_stats before, after;
	goc_sched_stats_read(&before);
	goc_wg done;
	goc_wg_init(&done);
	goc_wg_add(&done, 1);
	atomic_store(&hog_stop, false);
	goc_go(hog, &done);
	goc_ticker *t = goc_ticker_new(GOC_MILLISECOND);
	int64_t tick, prev = goc_now(), worst = 0;
	int ticks = 0;
	for (; ticks < 200; ticks++) {
		if (goc_chan_recv(goc_ticker_chan(t), &tick) != GOC_OK)
			break;
		int64_t now = goc_now();
		if (now - prev > worst)
			worst = now - prev;
		prev = now;
	}
	goc_ticker_free(t);
	atomic_store(&hog_stop, true);
	goc_wg_wait(&done);
	goc_sched_stats_read(&after);
	goc_maxprocs(procs);
	printf("\n12. preemption: one P, a C loop that never calls goc, a 1 ms ticker\n"
	       "    %d ticks, the longest gap %.1f ms (Go 1.19 here: about 40 ms, see bench/results);\n"
	       "    %lld preemptions%s\n",
	       ticks, (double)worst / 1e6, (long long)(after.preemptions - before.preemptions),
	       after.preemptions == before.preemptions
		       ? " (none: preemption is off, by GOCDEBUG or on this platform; docs/API.md section 6)"
		       : "");
}

int main(void)
{
	goc_main(demo, NULL);
	goc_main(profile_and_trace, NULL);
	goc_main(toolbox, NULL);
	goc_main(heap_demo, NULL);
	goc_main(preemption_demo, NULL);
	return 0;
}
