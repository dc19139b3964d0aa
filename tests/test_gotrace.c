/*
 * test_gotrace.c — the execution trace in Go's binary format, read by the
 * real `go tool trace` (Debian's golang-go, Go 1.19; installed by
 * tools/deps.sh observe when run as root, skipped when absent).
 *
 * A known program runs on one P while the trace is taken: a goroutine
 * blocked 100 ms on a channel receive (sync_planted_recv), one blocked
 * 100 ms reading a TCP connection (net_planted_read), one in a 100 ms
 * blocking call (syscall_planted_sleep), and one that readies a waiting
 * goroutine and then keeps the only P for 60 ms (sched_planted_wake), all
 * inside a user task with a region and a log. Checked: `go tool trace -d`
 * parses the file and lists the events and annotations;
 * `go tool trace -pprof=sync|net|syscall|sched` give profiles whose first
 * planted function (by cumulative time, `go tool pprof -top -cum`) is the
 * one planted for that profile. Also: traces of two Ps started and
 * stopped mid-run parse; /debug/pprof/trace on the debug server; the
 * annotations in JSON; the format's errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define BLOCK_MS 100
#define HOG_MS 60

static goc_chan *sync_chan, *wake_chan;
static goc_conn *net_client, *net_server;
static goc_wg planted_done = GOC_WG_INIT;
/* Planted goroutines about to block: the planted waits are timed from
 * when all have got there (a first run can take tens of ms under TSan). */
static int planted_ready;

static void about_to_block(void)
{
	__atomic_add_fetch(&planted_ready, 1, __ATOMIC_RELAXED);
}

__attribute__((noinline)) void sync_planted_recv(void)
{
	int v;
	goc_chan_recv(sync_chan, &v);
}

static void sync_main(void *arg)
{
	(void)arg;
	about_to_block();
	sync_planted_recv();
	goc_wg_done(&planted_done);
}

__attribute__((noinline)) void net_planted_read(void)
{
	char buf[8];
	CHECK(goc_conn_read(net_server, buf, sizeof buf) > 0, "read");
}

static void net_main(void *arg)
{
	(void)arg;
	about_to_block();
	net_planted_read();
	goc_wg_done(&planted_done);
}

static void *sleep_call(void *arg)
{
	(void)arg;
	usleep(BLOCK_MS * 1000);
	return NULL;
}

__attribute__((noinline)) void syscall_planted_sleep(void)
{
	goc_blocking(sleep_call, NULL);
	/* Not a tail call: this frame must be on the blocking call's stack. */
	__asm__ volatile("" ::: "memory");
}

static void syscall_main(void *arg)
{
	(void)arg;
	about_to_block();
	syscall_planted_sleep();
	goc_wg_done(&planted_done);
}

static void woken_main(void *arg)
{
	(void)arg;
	int v;
	about_to_block();
	goc_chan_recv(wake_chan, &v);
	goc_wg_done(&planted_done);
}

/* Readies the waiting goroutine, then keeps the only P busy: that
 * goroutine waits HOG_MS runnable, charged to this unblock. */
__attribute__((noinline)) void sched_planted_wake(void)
{
	int v = 1;
	goc_chan_send(wake_chan, &v);
	int64_t until = goc_now() + HOG_MS * GOC_MILLISECOND;
	while (goc_now() < until)
		;
}

static void wake_main(void *arg)
{
	(void)arg;
	sched_planted_wake();
	goc_wg_done(&planted_done);
}

static void run_planted(void)
{
	uint64_t task = goc_trace_task_new(0, "request");
	goc_trace_region_begin(task, "phase one");
	goc_trace_log(task, "step", "planting");
	sync_chan = goc_chan_make(sizeof(int), 0);
	wake_chan = goc_chan_make(sizeof(int), 0);
	goc_listener *ln;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	conn_pair(ln, &net_client, &net_server);
	goc_wg_add(&planted_done, 5);
	CHECK(goc_go(sync_main, NULL) > 0 && goc_go(net_main, NULL) > 0 &&
		      goc_go(syscall_main, NULL) > 0 && goc_go(woken_main, NULL) > 0,
	      "spawn");
	while (__atomic_load_n(&planted_ready, __ATOMIC_RELAXED) < 4)
		goc_sleep(GOC_MILLISECOND);
	goc_sleep(BLOCK_MS * GOC_MILLISECOND);
	int v = 1;
	goc_chan_send(sync_chan, &v);
	CHECK(goc_conn_write(net_client, "x", 1, NULL) == 1, "write");
	CHECK(goc_go(wake_main, NULL) > 0, "spawn");
	goc_wg_wait(&planted_done);
	goc_trace_region_end(task, "phase one");
	goc_trace_task_end(task);
	goc_conn_close(net_client);
	goc_conn_close(net_server);
	goc_listener_close(ln);
	goc_chan_release(sync_chan);
	goc_chan_release(wake_chan);
}

/* A shell command run to its end as a blocking call. */
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
	size_t len = 0, cap = 65536;
	c->out = malloc(cap);
	CHECK(c->out, "out of memory");
	size_t got;
	while ((got = fread(c->out + len, 1, cap - len - 1, p)) > 0) {
		len += got;
		if (cap - len < 4096) {
			cap *= 2;
			c->out = realloc(c->out, cap);
			CHECK(c->out, "out of memory");
		}
	}
	c->out[len] = 0;
	c->status = pclose(p);
	return NULL;
}

static char *run(const char *line)
{
	struct command c = {.line = line};
	goc_blocking(command_run, &c);
	CHECK(c.status == 0, "%s failed (%d):\n%s", line, c.status, c.out);
	return c.out;
}

static const char *const planted[] = {"sync_planted_recv", "net_planted_read",
				      "syscall_planted_sleep", "sched_planted_wake", NULL};

/* go tool trace -pprof=kind, then the first planted function of
 * `go tool pprof -top -cum` on it. */
static void check_profile(const char *dir, const char *trace, const char *kind, const char *want)
{
	char line[1024];
	snprintf(
		line, sizeof line,
		"go tool trace -pprof=%s '%s' > '%s/%s.pb' && go tool pprof -top -cum '%s/%s.pb' 2>&1",
		kind, trace, dir, kind, dir, kind);
	char *out = run(line);
	const char *table = strstr(out, "cum%");
	const char *first = NULL, *first_at = NULL;
	for (int i = 0; planted[i] && table; i++) {
		const char *at = strstr(table, planted[i]);
		if (at && (!first_at || at < first_at)) {
			first = planted[i];
			first_at = at;
		}
	}
	CHECK(first && !strcmp(first, want), "-pprof=%s: first planted is %s, not %s:\n%s", kind,
	      first ? first : "none", want, out);
	free(out);
	printf("ok: go tool trace -pprof=%s: %s first\n", kind, want);
}

/* go tool trace's web UI on the file: its analysis must accept the trace
 * (it is stricter than -d: every GoCreate needs a start stack), and the
 * goroutine, task and region pages list the planted names. */
/* The pages of go tool trace's web UI for trace, concatenated (its
 * analysis must accept the trace: it is stricter than -d); NULL without
 * curl. */
static char *web_pages(const char *dir, const char *trace, const char *pages)
{
	if (system("command -v curl >/dev/null 2>&1") != 0) {
		printf("skip: go tool trace's web views (curl is not installed)\n");
		return NULL;
	}
	char line[2048];
	snprintf(
		line, sizeof line,
		"log='%s/http.log'; go tool trace -http=127.0.0.1:0 '%s' > \"$log\" 2>&1 & pid=$!; "
		"addr=; for i in $(seq 600); do "
		"addr=$(grep -o 'http://127\\.0\\.0\\.1:[0-9]*' \"$log\" | head -1); "
		"[ -n \"$addr\" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done; "
		"rc=1; [ -n \"$addr\" ] && rc=0 && for page in %s; do "
		"curl -fsS \"$addr$page\" || rc=1; done; kill $pid 2>/dev/null; "
		"wait $pid 2>/dev/null; [ $rc = 0 ] || cat \"$log\"; exit $rc",
		dir, trace, pages);
	return run(line);
}

static void check_web_views(const char *dir, const char *trace)
{
	char *out = web_pages(dir, trace, "/goroutines /usertasks /userregions");
	if (!out)
		return;
	CHECK(contains(out, "sync_main") && contains(out, "net_main") && contains(out, "request") &&
		      contains(out, "phase one"),
	      "go tool trace's pages:\n%.3000s", out);
	free(out);
	ok("go tool trace's web views: goroutines, user tasks and regions");
}

static void check_go_tool(void)
{
	if (!tool_available("go", "observe", "go tool trace"))
		return;
	char dir[] = "/tmp/goc-test-gotrace-XXXXXX";
	CHECK(mkdtemp(dir), "mkdtemp");
	char path[256];
	snprintf(path, sizeof path, "%s/app.trace", dir);
	FILE *f = fopen(path, "w");
	CHECK(f, "%s", path);
	CHECK(goc_trace_start_format(f, GOC_TRACE_GO) == GOC_OK, "start");
	CHECK(goc_trace_start_format(f, GOC_TRACE_GO) == -EBUSY, "a second trace");
	run_planted();
	CHECK(goc_trace_stop() == GOC_OK, "stop");
	fclose(f);

	char line[512];
	snprintf(line, sizeof line, "go tool trace -d '%s' 2>&1", path);
	char *dump = run(line);
	const char *events[] = {"GoCreate",  "GoStart",   "GoBlockRecv",    "GoBlockNet",
				"GoUnblock", "GoSysCall", "UserTaskCreate", "UserRegion",
				"UserLog",   "ProcStart", "GoEnd"};
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
		CHECK(contains(dump, events[i]), "go tool trace -d: no %s", events[i]);
	CHECK(contains(dump, "name=request") && contains(dump, "name=phase one") &&
		      contains(dump, "message=planting"),
	      "go tool trace -d: annotations' strings");
	free(dump);
	ok("go tool trace parses the trace: events and annotations");
	check_web_views(dir, path);

	check_profile(dir, path, "sync", "sync_planted_recv");
	check_profile(dir, path, "net", "net_planted_read");
	check_profile(dir, path, "syscall", "syscall_planted_sleep");
	check_profile(dir, path, "sched", "sched_planted_wake");
	snprintf(line, sizeof line, "rm -rf '%s'", dir);
	CHECK(system(line) == 0, "%s", line);
}

/* Two Ps, goroutines made, blocked, woken and stolen while the trace
 * starts and stops: Go's parser must accept whatever interleaving the
 * replay met. */
static goc_mutex churn_mu = GOC_MUTEX_INIT;
static int64_t churn_sum;
static goc_wg churn_done = GOC_WG_INIT;

struct churn_arg {
	goc_chan *c;
	goc_wg *done;
};

static void churn_worker(void *arg)
{
	struct churn_arg *a = arg;
	goc_chan *c = a->c;
	int v;
	while (goc_chan_recv(c, &v) == GOC_OK) {
		goc_mutex_lock(&churn_mu);
		churn_sum += v;
		goc_mutex_unlock(&churn_mu);
		if (v % 7 == 0)
			goc_yield();
	}
	goc_wg_done(a->done);
}

static void churn(int rounds)
{
	enum { WORKERS = 8 };
	goc_chan *c = goc_chan_make(sizeof(int), 4);
	struct churn_arg a = {c, &churn_done};
	goc_wg_add(&churn_done, WORKERS);
	for (int i = 0; i < WORKERS; i++)
		CHECK(goc_go(churn_worker, &a) > 0, "spawn");
	for (int v = 0; v < rounds; v++) {
		goc_chan_send(c, &v);
		if (v % 50 == 0)
			goc_sleep(GOC_MICROSECOND * 100);
	}
	goc_chan_close(c);
	goc_wg_wait(&churn_done);
	goc_chan_release(c);
}

static void check_go_tool_procs2(void)
{
	if (!tool_available("go", "observe", "go tool trace"))
		return;
	goc_maxprocs(2);
	char dir[] = "/tmp/goc-test-gotrace-XXXXXX";
	CHECK(mkdtemp(dir), "mkdtemp");
	char path[256];
	snprintf(path, sizeof path, "%s/churn.trace", dir);
	for (int round = 0; round < 3; round++) {
		FILE *f = fopen(path, "w");
		CHECK(f, "%s", path);
		/* Started while the churn runs, stopped before it ends. */
		goc_chan *c = goc_chan_make(sizeof(int), 4);
		goc_wg outer = GOC_WG_INIT;
		struct churn_arg a = {c, &outer};
		goc_wg_add(&outer, 1);
		CHECK(goc_go(churn_worker, &a) > 0, "spawn");
		int v = 1;
		goc_chan_send(c, &v);
		CHECK(goc_trace_start_format(f, GOC_TRACE_GO) == GOC_OK, "start");
		churn(2000);
		goc_chan_send(c, &v);
		CHECK(goc_trace_stop() == GOC_OK, "stop");
		goc_chan_close(c);
		goc_wg_wait(&outer);
		goc_chan_release(c);
		fclose(f);
		char line[512];
		snprintf(line, sizeof line, "go tool trace -d '%s' 2>&1", path);
		char *dump = run(line);
		CHECK(contains(dump, "GoStart") && contains(dump, "ProcStart"),
		      "go tool trace -d on two Ps:\n%.2000s", dump);
		free(dump);
		free(web_pages(dir, path, "/goroutines '/trace?start=0&end=1'"));
	}
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	CHECK(system(path) == 0, "%s", path);
	goc_maxprocs(1);
	ok("go tool trace parses traces of two Ps started and stopped mid-run");
}

/* /debug/pprof/trace?seconds=N, as Go serves it: Go's binary trace of
 * that long, parsed by go tool trace; refused while a trace runs. */
static void check_debug_server(void)
{
	CHECK(goc_debug_serve("127.0.0.1:0") == 0, "goc_debug_serve");
	char addr[128];
	CHECK(goc_debug_serve_addr(addr, sizeof addr) > 0, "address");
	goc_chan *c = goc_chan_make(sizeof(int), 4);
	struct churn_arg a = {c, &churn_done};
	goc_wg_add(&churn_done, 1);
	CHECK(goc_go(churn_worker, &a) > 0, "spawn");
	int64_t t0 = goc_now();
	http_response r = http_get(addr, "/debug/pprof/trace?seconds=0.3");
	int64_t took = goc_now() - t0;
	goc_chan_close(c);
	goc_wg_wait(&churn_done);
	goc_chan_release(c);
	char value[128];
	CHECK(r.status == 200, "status %d: %s", r.status, r.raw);
	CHECK(!strcmp(http_header(&r, "Content-Type", value, sizeof value),
		      "application/octet-stream"),
	      "Content-Type: %s", value);
	CHECK(!strcmp(http_header(&r, "Content-Disposition", value, sizeof value),
		      "attachment; filename=\"trace\""),
	      "Content-Disposition: %s", value);
	CHECK(r.body_len > 16 && !memcmp(r.body, "go 1.19 trace\0\0\0", 16), "not Go's trace");
	CHECK(took >= 300 * GOC_MILLISECOND, "traced only %lld ms",
	      (long long)(took / GOC_MILLISECOND));

	if (tool_available("go", "observe", "go tool trace on /debug/pprof/trace")) {
		char dir[] = "/tmp/goc-test-gotrace-XXXXXX";
		CHECK(mkdtemp(dir), "mkdtemp");
		char path[256], line[512];
		snprintf(path, sizeof path, "%s/served.trace", dir);
		FILE *f = fopen(path, "w");
		CHECK(f && fwrite(r.body, 1, r.body_len, f) == r.body_len && fclose(f) == 0, "%s",
		      path);
		snprintf(line, sizeof line, "go tool trace -d '%s' 2>&1", path);
		char *dump = run(line);
		CHECK(contains(dump, "GoStart") && contains(dump, "ProcStart"),
		      "go tool trace -d on the served trace:\n%.2000s", dump);
		free(dump);
		snprintf(line, sizeof line, "rm -rf '%s'", dir);
		CHECK(system(line) == 0, "%s", line);
	}
	free(r.raw);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f && goc_trace_start(f) == GOC_OK, "start");
	r = http_get(addr, "/debug/pprof/trace?seconds=1");
	CHECK(r.status == 500 && contains(r.body, "already in use"), "a second trace: %d %s",
	      r.status, r.raw);
	free(r.raw);
	CHECK(goc_trace_stop() == GOC_OK, "stop");
	fclose(f);
	free(text);
	goc_debug_serve_stop();
	ok("/debug/pprof/trace?seconds=0.3 serves Go's trace; refused while one runs");
}

static void check_json_annotations(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f, "open_memstream");
	CHECK(goc_trace_start(f) == GOC_OK, "start");
	uint64_t task = goc_trace_task_new(0, "json \"task\"");
	goc_trace_region_begin(task, "region");
	goc_trace_log(task, "cat", "message");
	goc_trace_region_end(task, "region");
	goc_trace_task_end(task);
	CHECK(goc_trace_stop() == GOC_OK, "stop");
	fclose(f);
	CHECK(contains(text, "\"ph\":\"b\",\"pid\":1") && contains(text, "\"cat\":\"task\"") &&
		      contains(text, "\"name\":\"json \\\"task\\\"\"") &&
		      contains(text, "\"cat\":\"region\"") &&
		      contains(text, "\"message\":\"message\""),
	      "JSON annotations:\n%s", text);
	free(text);
	ok("annotations in the JSON trace");
}

static void check_errors(void)
{
	CHECK(goc_trace_start_format(NULL, GOC_TRACE_GO) == -EINVAL, "NULL out");
	CHECK(goc_trace_start_format(stdout, (goc_trace_format)7) == -EINVAL, "unknown format");
	CHECK(goc_trace_stop() == -EINVAL, "stop without a trace");
	uint64_t a = goc_trace_task_new(0, "untraced"), b = goc_trace_task_new(a, "child");
	CHECK(a && b && a != b, "task ids without a trace");
	goc_trace_region_begin(a, "untraced");
	goc_trace_region_end(a, "untraced");
	goc_trace_log(a, "k", "v");
	goc_trace_task_end(b);
	goc_trace_task_end(a);
	ok("format errors; annotations without a trace");
}

static void test_main(void *arg)
{
	(void)arg;
	goc_maxprocs(1);
	check_errors();
	check_json_annotations();
	check_go_tool();
	check_go_tool_procs2();
	check_debug_server();
}

int main(void)
{
	goc_main(test_main, NULL);
	return 0;
}
