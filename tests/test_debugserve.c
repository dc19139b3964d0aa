/*
 * test_debugserve.c — goc_debug_serve's endpoints, fetched over loopback
 * with a small HTTP/1.1 client on goc's net API.
 *
 * Planted: three goroutines parked on a channel in park_planted_debugserve,
 * a wait in block_planted_debugserve (block profile, rate 1), a contended
 * goc_mutex released in unlock_planted_debugserve (mutex profile, fraction
 * 1), and a goroutine burning CPU in hot_spin_debugserve (yielding, so that
 * one P is enough) while CPU profiles are taken. Checked: status codes and
 * content types of every endpoint; the index lists the profiles; the
 * goroutine texts (debug=1, grouped with counts; debug=2, a dump) and the
 * profiles (decoded with pprofutil) name the planted functions; the JSON of
 * /debug/sched and /debug/vars parses (python3's json.tool when installed)
 * and holds the scheduler's figures; a second CPU profile is refused with
 * a 500; an address in use is an error; stop ends a profile under way and
 * the server, which starts again afterwards. With `go` installed, `go tool
 * pprof -top` reads the CPU profile and the goroutine profile straight
 * from the server and shows the hot function and the parked goroutines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pprofutil.h"
#include "testutil.h"
#include "waitfor.h"

#define PARKED 3

static char server_addr[128];
static goc_chan *parking;
static goc_wg parked_done = GOC_WG_INIT;
static int hot_running; /* atomic */

static void response_free(http_response *r)
{
	free(r->raw);
}

/* GET path from the debug server (testutil's http_get). */
static http_response fetch(const char *path)
{
	return http_get(server_addr, path);
}

static void expect(const http_response *r, const char *path, int status, const char *content_type)
{
	char value[128];
	CHECK(r->status == status, "GET %s: status %d, not %d: %s", path, r->status, status,
	      r->body);
	http_header(r, "Content-Type", value, sizeof value);
	CHECK(!strcmp(value, content_type), "GET %s: Content-Type %s, not %s", path, value,
	      content_type);
}

static http_response fetch_ok(const char *path, const char *content_type)
{
	http_response r = fetch(path);
	expect(&r, path, 200, content_type);
	return r;
}

/* ---- planted goroutines ---- */

static int parkers_in; /* atomic: parkers about to park */

__attribute__((noinline)) void park_planted_debugserve(void)
{
	int v;
	__atomic_fetch_add(&parkers_in, 1, __ATOMIC_SEQ_CST);
	goc_chan_recv(parking, &v);
	__atomic_fetch_add(&hot_running, 0, __ATOMIC_RELAXED); /* no tail call */
}

static void parker(void *arg)
{
	(void)arg;
	park_planted_debugserve();
	goc_wg_done(&parked_done);
}

__attribute__((noinline)) void hot_spin_debugserve(void)
{
	volatile uint64_t x = 1;
	while (__atomic_load_n(&hot_running, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 200000; i++)
			x = x * 6364136223846793005u + 1442695040888963407u;
		goc_yield();
	}
}

static goc_wg hot_done = GOC_WG_INIT;

static void hot(void *arg)
{
	(void)arg;
	hot_spin_debugserve();
	goc_wg_done(&hot_done);
}

static void hot_start(void)
{
	__atomic_store_n(&hot_running, 1, __ATOMIC_RELAXED);
	goc_wg_add(&hot_done, 1);
	CHECK(goc_go(hot, NULL) > 0, "spawn");
}

static void hot_stop(void)
{
	__atomic_store_n(&hot_running, 0, __ATOMIC_RELAXED);
	goc_wg_wait(&hot_done);
}

/* Sends once the receiver is parked, so the receive blocks. */
static void late_send(void *arg)
{
	WAIT_FOR(others_parked(), "the receiver parks");
	int v = 1;
	goc_chan_send(arg, &v);
}

__attribute__((noinline)) void block_planted_debugserve(void)
{
	goc_chan *c = goc_chan_make(sizeof(int), 0);
	CHECK(goc_go(late_send, c) > 0, "spawn");
	int v;
	goc_chan_recv(c, &v);
	goc_chan_release(c);
}

static goc_mutex contended = GOC_MUTEX_INIT;
static goc_wg waiter_done = GOC_WG_INIT;
static int waiter_in; /* atomic: lock_waiter is about to lock */

static void lock_waiter(void *arg)
{
	(void)arg;
	__atomic_store_n(&waiter_in, 1, __ATOMIC_SEQ_CST);
	goc_mutex_lock(&contended);
	goc_mutex_unlock(&contended);
	goc_wg_done(&waiter_done);
}

__attribute__((noinline)) void unlock_planted_debugserve(void)
{
	goc_mutex_unlock(&contended);
	__atomic_fetch_add(&hot_running, 0, __ATOMIC_RELAXED); /* no tail call */
}

static void plant_contention(void)
{
	goc_pprof_set_block_rate(1);
	goc_pprof_set_mutex_fraction(1);
	block_planted_debugserve();
	goc_mutex_lock(&contended);
	goc_wg_add(&waiter_done, 1);
	CHECK(goc_go(lock_waiter, NULL) > 0, "spawn");
	/* Unlock with the waiter parked on the mutex: a contended unlock. */
	WAIT_FOR(__atomic_load_n(&waiter_in, __ATOMIC_SEQ_CST) && others_parked(),
		 "the lock waiter parks");
	unlock_planted_debugserve();
	goc_wg_wait(&waiter_done);
}

/* ---- checks ---- */

/* Decodes the profile in r's body into p; release with undecode. */
static void decode(const http_response *r, struct parsed_profile *p, struct bytes *keep)
{
	struct bytes file = {malloc(r->body_len), r->body_len};
	CHECK(file.data, "out of memory");
	memcpy(file.data, r->body, r->body_len);
	*keep = pprof_bytes(file);
	pprof_parse(*keep, p);
}

static void undecode(struct parsed_profile *p, struct bytes *pb)
{
	pprof_free(p);
	free(pb->data);
}

static bool profile_has(const struct parsed_profile *p, const char *function)
{
	for (int i = 0; i < p->nsamples; i++)
		if (pprof_sample_has(p, &p->samples[i], function))
			return true;
	return false;
}

static void check_index(void)
{
	http_response r = fetch_ok("/debug/pprof/", "text/html; charset=utf-8");
	for (const char *const *want =
		     (const char *const[]){"goroutine?debug=1", "block?debug=1", "mutex?debug=1",
					   "profile", "goroutine?debug=2", NULL};
	     *want; want++)
		CHECK(contains(r.body, *want), "index lacks %s:\n%s", *want, r.body);
	response_free(&r);
	r = fetch("/debug/nothing");
	expect(&r, "/debug/nothing", 404, "text/plain; charset=utf-8");
	response_free(&r);
	ok("index and 404");
}

static void check_goroutines(void)
{
	http_response r = fetch_ok("/debug/pprof/goroutine?debug=1", "text/plain; charset=utf-8");
	CHECK(!strncmp(r.body, "goroutine profile: total ", 25), "debug=1 head:\n%s", r.body);
	CHECK(contains(r.body, "\n3 @ 0x"), "no stack shared by the 3 parked goroutines:\n%s",
	      r.body);
	CHECK(contains(r.body, "\tpark_planted_debugserve+0x"), "debug=1 lacks the parker:\n%s",
	      r.body);
	CHECK(contains(r.body, "test_debugserve.c:"), "debug=1 has no file:line:\n%s", r.body);
	response_free(&r);

	r = fetch_ok("/debug/pprof/goroutine?debug=2", "text/plain; charset=utf-8");
	CHECK(contains(r.body, "[chan receive") && contains(r.body, "park_planted_debugserve("),
	      "debug=2 lacks the parker:\n%s", r.body);
	response_free(&r);

	r = fetch_ok("/debug/pprof/goroutine", "application/octet-stream");
	static struct parsed_profile p;
	struct bytes pb;
	decode(&r, &p, &pb);
	int parked = 0;
	for (int i = 0; i < p.nsamples; i++)
		parked += pprof_sample_has(&p, &p.samples[i], "park_planted_debugserve");
	CHECK(parked == PARKED, "goroutine profile: %d parked samples", parked);
	undecode(&p, &pb);
	response_free(&r);
	ok("goroutine debug=0, 1 and 2 list the parked goroutines");
}

static void check_contention(void)
{
	http_response r = fetch_ok("/debug/pprof/block?debug=1", "text/plain; charset=utf-8");
	CHECK(!strncmp(r.body, "--- contention:\ncycles/second=1000000000\n", 41),
	      "block text head:\n%s", r.body);
	CHECK(contains(r.body, "\tblock_planted_debugserve+0x"), "block text:\n%s", r.body);
	response_free(&r);
	r = fetch_ok("/debug/pprof/mutex?debug=1", "text/plain; charset=utf-8");
	CHECK(!strncmp(r.body, "--- mutex:\ncycles/second=1000000000\nsampling period=1\n", 53),
	      "mutex text head:\n%s", r.body);
	CHECK(contains(r.body, "\tunlock_planted_debugserve+0x"), "mutex text:\n%s", r.body);
	response_free(&r);

	static struct parsed_profile p;
	struct bytes pb;
	r = fetch_ok("/debug/pprof/block", "application/octet-stream");
	decode(&r, &p, &pb);
	CHECK(!strcmp(pprof_str(&p, p.sample_types[0][0]), "contentions"), "block sample type");
	CHECK(profile_has(&p, "block_planted_debugserve"), "block profile lacks the wait");
	undecode(&p, &pb);
	response_free(&r);
	r = fetch_ok("/debug/pprof/mutex", "application/octet-stream");
	decode(&r, &p, &pb);
	CHECK(profile_has(&p, "unlock_planted_debugserve"), "mutex profile lacks the unlock");
	undecode(&p, &pb);
	response_free(&r);
	ok("block and mutex, proto and text");
}

/* Whether body is JSON: python3's json.tool when installed, else the
 * braces balance. */
static void check_json(const char *what, const http_response *r)
{
	int depth = 0;
	for (size_t i = 0; i < r->body_len; i++)
		depth += r->body[i] == '{' || r->body[i] == '['  ? 1
			: r->body[i] == '}' || r->body[i] == ']' ? -1
								 : 0;
	CHECK(depth == 0 && r->body[0] == '{', "%s is not JSON:\n%s", what, r->body);
	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		printf("skip: python3 json.tool (python3 is not installed)\n");
		return;
	}
	char path[] = "/tmp/goc-test-json-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, r->body, r->body_len) == (ssize_t)r->body_len, "temp file");
	close(fd);
	char command[256];
	snprintf(command, sizeof command, "python3 -m json.tool '%s' >/dev/null", path);
	CHECK(system(command) == 0, "%s does not parse:\n%s", what, r->body);
	unlink(path);
}

static void check_sched_and_vars(void)
{
	http_response r = fetch_ok("/debug/sched", "application/json; charset=utf-8");
	check_json("/debug/sched", &r);
	char want[64];
	snprintf(want, sizeof want, "\"gomaxprocs\": %d,", goc_maxprocs(0));
	CHECK(contains(r.body, want), "/debug/sched lacks %s:\n%s", want, r.body);
	CHECK(contains(r.body, "\"status\": \"running\""), "no running P:\n%s", r.body);
	CHECK(contains(r.body, "\"ms\": [\n  {\"id\": "), "no Ms:\n%s", r.body);
	snprintf(want, sizeof want, "\"chan receive\": %d", PARKED);
	CHECK(contains(r.body, want), "/debug/sched lacks %s:\n%s", want, r.body);
	response_free(&r);

	r = fetch_ok("/debug/vars", "application/json; charset=utf-8");
	check_json("/debug/vars", &r);
	CHECK(contains(r.body, "\"cmdline\": [\"") && contains(r.body, "test_debugserve\""),
	      "/debug/vars cmdline:\n%s", r.body);
	CHECK(contains(r.body, "\"memstats\": {\"HeapAlloc\": ") && contains(r.body, "\"RSS\": ") &&
		      contains(r.body, "\"sched\": {\"gomaxprocs\": "),
	      "/debug/vars:\n%s", r.body);
	CHECK(!contains(r.body, "\"RSS\": 0,"), "RSS is 0:\n%s", r.body);
	CHECK(contains(r.body, "\"HeapObjects\": ") && contains(r.body, "\"StackInuse\": "),
	      "/debug/vars memstats:\n%s", r.body);
	response_free(&r);

	/* The heap profile: Go's text form, and the proto (gc=1 ignored). */
	r = fetch_ok("/debug/pprof/heap?debug=1", "text/plain; charset=utf-8");
	CHECK(!strncmp(r.body, "heap profile: ", 14) && contains(r.body, "@ heap/1048576") &&
		      contains(r.body, "# HeapInuse = "),
	      "heap?debug=1:\n%s", r.body);
	response_free(&r);
	r = fetch_ok("/debug/pprof/allocs?gc=1", "application/octet-stream");
	CHECK(r.body_len > 0, "allocs profile empty");
	response_free(&r);

	r = fetch_ok("/debug/pprof/cmdline", "text/plain; charset=utf-8");
	CHECK(r.body_len > 0 && contains(r.body, "test_debugserve"), "cmdline: %s", r.body);
	response_free(&r);
	ok("/debug/sched, /debug/vars and cmdline");
}

static void check_cpu_profile(void)
{
	hot_start();
	http_response r = fetch_ok("/debug/pprof/profile?seconds=1", "application/octet-stream");
	hot_stop();
	char value[128];
	CHECK(!strcmp(http_header(&r, "Content-Disposition", value, sizeof value),
		      "attachment; filename=\"profile\""),
	      "Content-Disposition: %s", value);
	static struct parsed_profile p;
	struct bytes pb;
	decode(&r, &p, &pb);
	CHECK(!strcmp(pprof_str(&p, p.sample_types[1][0]), "cpu"), "CPU sample type");
	CHECK(profile_has(&p, "hot_spin_debugserve"), "the CPU profile lacks the hot function");
	undecode(&p, &pb);
	response_free(&r);

	char scratch[] = "/tmp/goc-test-cpu-XXXXXX";
	FILE *f = fdopen(mkstemp(scratch), "wb");
	CHECK(f && goc_pprof_cpu_start(f) == GOC_OK, "cpu_start");
	r = fetch("/debug/pprof/profile?seconds=1");
	expect(&r, "/debug/pprof/profile", 500, "text/plain; charset=utf-8");
	CHECK(contains(r.body, "already in use"), "second profile: %s", r.body);
	CHECK(!strcmp(http_header(&r, "X-Go-Pprof", value, sizeof value), "1"), "no X-Go-Pprof");
	response_free(&r);
	CHECK(goc_pprof_cpu_stop() == GOC_OK, "cpu_stop");
	fclose(f);
	unlink(scratch);
	ok("CPU profile served; a second one at the same time refused");
}

static void *run_go_tool(void *arg)
{
	const char *const *args = arg;
	return pprof_go_tool(args[0], args[1]);
}

/* go tool pprof ARGS http://ADDR/PATH, run as a blocking call so that
 * the server keeps its P. */
static char *go_tool(const char *args, const char *path)
{
	char url[256];
	snprintf(url, sizeof url, "http://%s%s", server_addr, path);
	const char *const pair[] = {args, url};
	return goc_blocking(run_go_tool, (void *)pair);
}

static void check_go_tool(void)
{
	hot_start();
	char *out = go_tool("-top", "/debug/pprof/profile?seconds=2");
	hot_stop();
	if (!out)
		return;
	CHECK(contains(out, "hot_spin_debugserve"), "go tool pprof: no hot_spin_debugserve");
	free(out);
	out = go_tool("-top -cum", "/debug/pprof/goroutine");
	CHECK(out && contains(out, "park_planted_debugserve"),
	      "go tool pprof: no parked goroutines");
	free(out);
	ok("go tool pprof reads the CPU and goroutine profiles over HTTP");
}

struct fetch_job {
	const char *path;
	http_response r;
	goc_wg done;
};

static void fetch_async(void *arg)
{
	struct fetch_job *job = arg;
	job->r = fetch(job->path);
	goc_wg_done(&job->done);
}

static void check_stop_and_restart(void)
{
	struct fetch_job job = {.path = "/debug/pprof/profile?seconds=30", .done = GOC_WG_INIT};
	goc_wg_add(&job.done, 1);
	CHECK(goc_go(fetch_async, &job) > 0, "spawn");
	goc_sleep(300 * GOC_MILLISECOND);
	int64_t t0 = goc_now();
	goc_debug_serve_stop();
	int64_t took = goc_now() - t0;
	goc_wg_wait(&job.done);
	CHECK(took < 5 * GOC_SECOND, "stop took %lld ms", (long long)(took / GOC_MILLISECOND));
	expect(&job.r, job.path, 200, "application/octet-stream");
	response_free(&job.r);
	char buf[128];
	CHECK(goc_debug_serve_addr(buf, sizeof buf) == -ENOTCONN, "address after stop");
	goc_conn *c;
	CHECK(goc_dial("tcp", server_addr, goc_now() + GOC_SECOND, &c) == -ECONNREFUSED,
	      "the server still accepts after stop");
	goc_debug_serve_stop();

	CHECK(goc_debug_serve("127.0.0.1:0") == 0, "restart");
	CHECK(goc_debug_serve_addr(server_addr, sizeof server_addr) > 0, "address");
	http_response r = fetch_ok("/debug/pprof/", "text/html; charset=utf-8");
	response_free(&r);
	goc_debug_serve_stop();
	ok("stop ends a profile under way; the server starts again");
}

static void check_errors(void)
{
	goc_listener *taken;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &taken) == 0, "listen");
	char addr[128];
	CHECK(goc_listener_addr(taken, addr, sizeof addr) > 0, "address");
	CHECK(goc_debug_serve(addr) == -EADDRINUSE, "an address in use");
	goc_listener_close(taken);
	CHECK(goc_debug_serve("not an address") < 0, "a malformed address");
	CHECK(goc_debug_serve_addr(addr, sizeof addr) == -ENOTCONN, "not running");
	ok("an address in use or malformed is an error");
}

static void test_main(void *arg)
{
	(void)arg;
	check_errors();
	CHECK(goc_debug_serve("127.0.0.1:0") == 0, "goc_debug_serve");
	CHECK(goc_debug_serve("127.0.0.1:0") == -EBUSY, "a second server");
	CHECK(goc_debug_serve_addr(server_addr, sizeof server_addr) > 0, "address");
	printf("serving on %s\n", server_addr);

	parking = goc_chan_make(sizeof(int), 0);
	goc_wg_add(&parked_done, PARKED);
	for (int i = 0; i < PARKED; i++)
		CHECK(goc_go(parker, NULL) > 0, "spawn");
	plant_contention();
	WAIT_FOR(__atomic_load_n(&parkers_in, __ATOMIC_SEQ_CST) == PARKED && others_parked(),
		 "%d of %d goroutines parked", __atomic_load_n(&parkers_in, __ATOMIC_SEQ_CST),
		 PARKED);

	check_index();
	check_goroutines();
	check_contention();
	check_sched_and_vars();
	check_cpu_profile();
	check_go_tool();
	check_stop_and_restart();

	goc_chan_close(parking);
	goc_wg_wait(&parked_done);
	goc_chan_release(parking);
}

int main(void)
{
	/* Where go tool pprof saves the profiles it fetches. */
	char pprof_dir[] = "/tmp/goc-test-pprof-XXXXXX";
	CHECK(mkdtemp(pprof_dir), "mkdtemp: %s", strerror(errno));
	setenv("PPROF_TMPDIR", pprof_dir, 1);
	goc_main(test_main, NULL);
	char command[128];
	snprintf(command, sizeof command, "rm -rf '%s'", pprof_dir);
	CHECK(system(command) == 0, "%s", command);
	return 0;
}
