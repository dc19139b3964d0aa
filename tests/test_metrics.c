/*
 * test_metrics.c — Prometheus metrics (goc/metrics.h): registration and
 * its refusals; counters, gauges and histograms updated from goroutines
 * on every P and from a plain thread, summed exactly; the exposition's
 * lines for the runtime, process_* and the program's series; the handler
 * on a goc_http_serve of our own and the debug server's /metrics, with
 * the exact content type. Against the real tools, when installed (as root
 * the test installs Debian's prometheus first): `promtool check metrics`
 * finds nothing to say about the output, and a Prometheus server scraping
 * the handler every second reports up == 1 and the user counter's value
 * through its HTTP query API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

#define WORKERS 16
#define ADDS 20000

static goc_metric_counter *requests_get, *requests_put;
static goc_metric_gauge *in_flight;
static goc_metric_histogram *latency;
static goc_wg workers_done = GOC_WG_INIT;

static const double latency_bounds[] = {0.001, 0.01, 0.1, 1};

static void check_registration(void)
{
	requests_get = goc_metric_counter_new("test_requests_total", "Requests by method.",
					      "method=\"GET\"");
	requests_put = goc_metric_counter_new("test_requests_total", "Requests by method.",
					      "method=\"PUT\"");
	in_flight = goc_metric_gauge_new("test_in_flight", "Requests being served.\nNow.", NULL);
	latency = goc_metric_histogram_new("test_latency_seconds", "Request latency.",
					   "path=\"/a \\\"b\\\"\\\\\"", latency_bounds, 4);
	CHECK(requests_get && requests_put && in_flight && latency, "registration: %s",
	      strerror(errno));

	struct {
		const char *name, *labels;
		int err;
	} bad[] = {
		{"9lives_total", NULL, EINVAL},
		{"has-dash", NULL, EINVAL},
		{"", NULL, EINVAL},
		{"ok_total", "method=GET", EINVAL},
		{"ok_total", "method=\"GET\",", EINVAL},
		{"ok_total", "__reserved=\"x\"", EINVAL},
		{"ok_total", "le=\"1\"", EINVAL},
		{"ok_total", "a=\"1\",a=\"2\"", EINVAL},
		{"ok_total", "a=\"bad \\x escape\"", EINVAL},
		{"ok_total", "a=\"unterminated", EINVAL},
		{"test_requests_total", "method=\"GET\"", EEXIST},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		CHECK(!goc_metric_counter_new(bad[i].name, "Requests by method.", bad[i].labels) &&
			      errno == bad[i].err,
		      "%s{%s}: errno %d, not %d", bad[i].name, bad[i].labels ? bad[i].labels : "",
		      errno, bad[i].err);
	}
	errno = 0;
	CHECK(!goc_metric_gauge_new("test_requests_total", "Requests by method.", "method=\"X\"") &&
		      errno == EEXIST,
	      "a gauge in a counter's family");
	CHECK(!goc_metric_counter_new("test_requests_total", "Other help.", "method=\"X\"") &&
		      errno == EEXIST,
	      "a family's help differs");
	const double unordered[] = {1, 0.5};
	CHECK(!goc_metric_histogram_new("test_h", NULL, NULL, unordered, 2) && errno == EINVAL,
	      "unordered bounds");
	const double infinite[] = {INFINITY};
	CHECK(!goc_metric_histogram_new("test_h", NULL, NULL, infinite, 1) && errno == EINVAL,
	      "an infinite bound");
	ok("registration; malformed names, labels, bounds and clashes refused");
}

static void worker(void *arg)
{
	intptr_t i = (intptr_t)arg;
	for (int k = 0; k < ADDS; k++) {
		goc_metric_counter_add(i % 2 ? requests_put : requests_get, 1);
		goc_metric_gauge_add(in_flight, 1);
		goc_metric_gauge_add(in_flight, -1);
		if (k % 64 == 0)
			goc_yield();
	}
	/* Multiples of 2^-7: their sum is exact in any order. */
	goc_metric_histogram_observe(latency, 0.0078125 * (double)(i % 4));
	goc_wg_done(&workers_done);
}

/* A plain thread's updates, which land in the shared cells. It says it
 * is done through workers_done (a wait group works from plain threads)
 * and is detached: joining it from a goroutine would block the P. */
static void *plain_thread(void *arg)
{
	(void)arg;
	goc_metric_counter_add(requests_get, 7);
	goc_metric_gauge_add(in_flight, 3);
	goc_metric_histogram_observe(latency, 5);
	goc_wg_done(&workers_done);
	return NULL;
}

static void check_updates(void)
{
	goc_wg_add(&workers_done, WORKERS + 1);
	for (intptr_t i = 0; i < WORKERS; i++)
		CHECK(goc_go(worker, (void *)i) > 0, "spawn");
	pthread_t t;
	CHECK(pthread_create(&t, NULL, plain_thread, NULL) == 0, "pthread_create");
	pthread_detach(t);
	goc_wg_wait(&workers_done);
	CHECK(goc_metric_counter_value(requests_get) == (int64_t)WORKERS / 2 * ADDS + 7,
	      "GET: %lld", (long long)goc_metric_counter_value(requests_get));
	CHECK(goc_metric_counter_value(requests_put) == (int64_t)WORKERS / 2 * ADDS, "PUT: %lld",
	      (long long)goc_metric_counter_value(requests_put));
	CHECK(goc_metric_gauge_value(in_flight) == 3, "gauge: %lld",
	      (long long)goc_metric_gauge_value(in_flight));
	goc_metric_gauge_set(in_flight, -42);
	CHECK(goc_metric_gauge_value(in_flight) == -42, "gauge after set");
	goc_metric_gauge_add(in_flight, 2);
	CHECK(goc_metric_gauge_value(in_flight) == -40, "gauge after set and add");
	goc_metric_histogram_observe(latency, NAN);
	ok("counters, gauges, histograms summed exactly over every P and a plain thread");
}

static void done_at_once(void *arg)
{
	(void)arg;
	goc_wg_done(&workers_done);
}

/* The exposition as a string (malloc'd). */
static char *exposition(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f, "open_memstream");
	CHECK(goc_metrics_write(f) == 0, "goc_metrics_write");
	fclose(f);
	return text;
}

static void check_exposition(void)
{
	char *text = exposition();
	char line[256];
	const char *want[] = {
		"# TYPE goc_goroutines gauge\ngoc_goroutines ",
		"goc_goroutines_waiting{reason=\"chan receive\"} ",
		"# TYPE goc_sched_latencies_seconds histogram\n",
		"goc_sched_latencies_seconds_bucket{le=\"1e-06\"} ",
		"goc_sched_latencies_seconds_bucket{le=\"+Inf\"} ",
		"goc_sched_steals_total ",
		"goc_gomaxprocs ",
		"goc_threads ",
		"goc_netpoll_waiters ",
		"# TYPE process_cpu_seconds_total counter\n",
		"process_resident_memory_bytes ",
		"process_open_fds ",
		"process_max_fds ",
		"process_start_time_seconds ",
		"# HELP test_requests_total Requests by method.\n# TYPE test_requests_total counter\n",
		"# HELP test_in_flight Requests being served.\\nNow.\n",
		"test_in_flight -40\n",
		"test_latency_seconds_bucket{path=\"/a \\\"b\\\"\\\\\",le=\"0.001\"} 4\n",
		"test_latency_seconds_bucket{path=\"/a \\\"b\\\"\\\\\",le=\"0.01\"} 8\n",
		"test_latency_seconds_bucket{path=\"/a \\\"b\\\"\\\\\",le=\"1\"} 16\n",
		"test_latency_seconds_bucket{path=\"/a \\\"b\\\"\\\\\",le=\"+Inf\"} 17\n",
		"test_latency_seconds_sum{path=\"/a \\\"b\\\"\\\\\"} 5.1875\n",
		"test_latency_seconds_count{path=\"/a \\\"b\\\"\\\\\"} 17\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		CHECK(contains(text, want[i]), "no \"%s\" in:\n%s", want[i], text);
	snprintf(line, sizeof line, "test_requests_total{method=\"GET\"} %d\n",
		 WORKERS / 2 * ADDS + 7);
	CHECK(contains(text, line), "no %s", line);
	/* The histogram of scheduling latency counts from the first scrape:
	 * each goroutine started now waits once, from creation to its run. */
	goc_wg_add(&workers_done, 100);
	for (int i = 0; i < 100; i++)
		CHECK(goc_go(done_at_once, NULL) > 0, "spawn");
	goc_wg_wait(&workers_done);
	free(text);
	text = exposition();
	const char *count = strstr(text, "goc_sched_latencies_seconds_count ");
	CHECK(count && atoll(count + strlen("goc_sched_latencies_seconds_count ")) >= 100,
	      "scheduling latencies not counted");
	free(text);
	/* goc's heap, as go_memstats_*: objects made now are counted. */
	enum { OBJECTS = 1000 };
	static void *objects[OBJECTS];
	for (int i = 0; i < OBJECTS; i++)
		CHECK((objects[i] = goc_malloc(48)), "goc_malloc");
	text = exposition();
	CHECK(contains(text, "# TYPE go_memstats_alloc_bytes_total counter\n") &&
		      contains(text, "# TYPE go_memstats_heap_objects gauge\n") &&
		      contains(text, "go_memstats_stack_inuse_bytes "),
	      "no go_memstats_* in:\n%s", text);
	/* Sanitizer builds hand goc_malloc to the C library: goc's heap
	 * statistics stay empty there. */
	const char *sanitizer = getenv("GOC_TEST_SANITIZER");
	bool own_heap = !sanitizer || !*sanitizer;
	const char *objs = strstr(text, "\ngo_memstats_heap_objects ");
	const char *mallocs = strstr(text, "\ngo_memstats_mallocs_total ");
	CHECK(!own_heap ||
		      (objs && atoll(objs + strlen("\ngo_memstats_heap_objects ")) >= OBJECTS &&
		       mallocs &&
		       atoll(mallocs + strlen("\ngo_memstats_mallocs_total ")) >= OBJECTS),
	      "goc's heap objects not counted");
	for (int i = 0; i < OBJECTS; i++)
		goc_free(objects[i]);
	free(text);
	ok("exposition: runtime, process and user series with their escapes");
}

/* A shell command run to its end as a blocking call (the Ps go on). */
struct command {
	const char *line;
	char *out; /* stdout and stderr, malloc'd */
	int status;
};

static void *command_run(void *arg)
{
	struct command *c = arg;
	FILE *p = popen(c->line, "r");
	CHECK(p, "popen %s", c->line);
	size_t len = 0, cap = 4096;
	c->out = malloc(cap);
	CHECK(c->out, "out of memory");
	size_t got;
	while ((got = fread(c->out + len, 1, cap - len - 1, p)) > 0) {
		len += got;
		if (cap - len < 1024) {
			cap *= 2;
			c->out = realloc(c->out, cap);
			CHECK(c->out, "out of memory");
		}
	}
	c->out[len] = 0;
	c->status = pclose(p);
	return NULL;
}

static void check_promtool(void)
{
	if (!tool_available("promtool", "observe", "promtool check metrics"))
		return;
	char path[] = "/tmp/goc-test-metrics-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	FILE *f = fdopen(fd, "w");
	CHECK(f && goc_metrics_write(f) == 0, "goc_metrics_write");
	fclose(f);
	char line[256];
	snprintf(line, sizeof line, "promtool check metrics < %s 2>&1", path);
	struct command c = {.line = line};
	goc_blocking(command_run, &c);
	unlink(path);
	CHECK(c.status == 0 && c.out[0] == 0, "promtool check metrics (status %d):\n%s", c.status,
	      c.out);
	free(c.out);
	ok("promtool check metrics: clean");
}

static goc_ctx *serving_stop;
static goc_wg serving_done = GOC_WG_INIT;

static void serve_metrics(void *arg)
{
	goc_listener *ln = arg;
	goc_http_server_options opts = {.shutdown = serving_stop};
	goc_http_serve(ln, goc_metrics_handler, NULL, &opts);
	goc_wg_done(&serving_done);
}

static void expect_exposition(const char *addr, const char *path)
{
	http_response r = http_get(addr, path);
	char type[128];
	CHECK(r.status == 200, "GET %s: %d", path, r.status);
	http_header(&r, "Content-Type", type, sizeof type);
	CHECK(!strcmp(type, "text/plain; version=0.0.4; charset=utf-8"), "GET %s: Content-Type %s",
	      path, type);
	CHECK(contains(r.body, "\ntest_requests_total{method=\"PUT\"} "), "GET %s: no user counter",
	      path);
	free(r.raw);
}

/* The value Prometheus's query API gives for query, or NULL ("" while it
 * has none). */
static bool prometheus_value(const char *addr, const char *query, char *value, size_t size)
{
	char path[512];
	snprintf(path, sizeof path, "/api/v1/query?query=%s", query);
	goc_conn *c;
	if (goc_dial("tcp", addr, goc_now() + GOC_SECOND, &c) != 0)
		return false;
	goc_conn_close(c);
	http_response r = http_get(addr, path);
	value[0] = 0;
	/* {"status":"success","data":{"resultType":"vector","result":[{"metric":
	 * {...},"value":[1700000000.123,"1"]}]}} */
	const char *v = strstr(r.body, "\"value\":[");
	v = v ? strchr(v, ',') : NULL;
	if (v && v[1] == '"') {
		size_t n = strcspn(v + 2, "\"");
		if (n < size) {
			memcpy(value, v + 2, n);
			value[n] = 0;
		}
	}
	free(r.raw);
	return value[0] != 0;
}

static int free_port(void)
{
	goc_listener *ln;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	char addr[64];
	CHECK(goc_listener_addr(ln, addr, sizeof addr) > 0, "address");
	goc_listener_close(ln);
	return atoi(strrchr(addr, ':') + 1);
}

static void *wait_pid(void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return NULL;
}

static void check_prometheus(const char *target)
{
	if (!tool_available("prometheus", "observe", "a Prometheus server scraping the handler"))
		return;
	char dir[] = "/tmp/goc-test-prometheus-XXXXXX";
	CHECK(mkdtemp(dir), "mkdtemp");
	char config[512], data[512], listen[128], log[512], addr[64];
	snprintf(config, sizeof config, "%s/prometheus.yml", dir);
	snprintf(data, sizeof data, "--storage.tsdb.path=%s/data", dir);
	snprintf(log, sizeof log, "%s/log", dir);
	int port = free_port();
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	snprintf(listen, sizeof listen, "--web.listen-address=%s", addr);
	FILE *f = fopen(config, "w");
	CHECK(f, "%s", config);
	fprintf(f,
		"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
		"scrape_configs:\n  - job_name: goc\n    static_configs:\n"
		"      - targets: ['%s']\n",
		target);
	fclose(f);
	char config_arg[600];
	snprintf(config_arg, sizeof config_arg, "--config.file=%s", config);
	char *argv[] = {"prometheus", config_arg, data, listen, NULL};
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&actions, 1, 2);
	pid_t pid;
	CHECK(posix_spawnp(&pid, "prometheus", &actions, NULL, argv, environ) == 0,
	      "spawn prometheus");
	posix_spawn_file_actions_destroy(&actions);

	char up[32] = "", value[32] = "";
	char want[32];
	snprintf(want, sizeof want, "%lld", (long long)goc_metric_counter_value(requests_put));
	for (int i = 0; i < 240 && (strcmp(up, "1") || strcmp(value, want)); i++) {
		goc_sleep(250 * GOC_MILLISECOND);
		prometheus_value(addr, "up%7Bjob%3D%22goc%22%7D", up, sizeof up);
		prometheus_value(addr, "test_requests_total%7Bmethod%3D%22PUT%22%7D", value,
				 sizeof value);
	}
	kill(pid, SIGTERM);
	goc_blocking(wait_pid, (void *)(intptr_t)pid);
	char command[600];
	if (strcmp(up, "1") || strcmp(value, want)) {
		snprintf(command, sizeof command, "cat %s", log);
		CHECK(system(command) >= 0, "%s", command);
	}
	CHECK(!strcmp(up, "1"), "Prometheus: up is \"%s\"", up);
	CHECK(!strcmp(value, want), "Prometheus: test_requests_total is \"%s\", not %s", value,
	      want);
	snprintf(command, sizeof command, "rm -rf '%s'", dir);
	CHECK(system(command) == 0, "%s", command);
	ok("Prometheus scrapes the handler: up == 1 and the user counter's value");
}

static void check_handlers(void)
{
	goc_listener *ln;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	char addr[64];
	CHECK(goc_listener_addr(ln, addr, sizeof addr) > 0, "address");
	serving_stop = goc_ctx_with_cancel(goc_ctx_background());
	goc_wg_add(&serving_done, 1);
	CHECK(goc_go(serve_metrics, ln) > 0, "spawn");
	expect_exposition(addr, "/metrics");
	expect_exposition(addr, "/any/path");

	char debug_addr[128];
	CHECK(goc_debug_serve("127.0.0.1:0") == 0, "goc_debug_serve");
	CHECK(goc_debug_serve_addr(debug_addr, sizeof debug_addr) > 0, "address");
	expect_exposition(debug_addr, "/metrics");
	goc_debug_serve_stop();
	ok("goc_metrics_handler and the debug server's /metrics: content type 0.0.4");

	check_prometheus(addr);

	goc_ctx_cancel(serving_stop);
	goc_wg_wait(&serving_done);
	goc_ctx_release(serving_stop);
}

static void test_main(void *arg)
{
	(void)arg;
	check_registration();
	check_updates();
	check_exposition();
	check_promtool();
	check_handlers();
}

int main(void)
{
	goc_main(test_main, NULL);
	return 0;
}
