/*
 * test_pprof_labels.c — profile labels (pprof.Do, SetGoroutineLabels):
 * set, overlay and restore, inheritance by started goroutines, refusals;
 * and, with the real `go tool pprof` (Debian's golang-go, skipped when
 * absent): a CPU profile of two goroutines spinning under different
 * labels lists both with -tags and -tagfocus keeps only the one asked
 * for; the goroutine profile carries the labels of parked goroutines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static goc_wg done = GOC_WG_INIT;
static char child_saw[64];

static void child(void *arg)
{
	(void)arg;
	const char *v = goc_pprof_label("request");
	snprintf(child_saw, sizeof child_saw, "%s", v ? v : "(none)");
	goc_wg_done(&done);
}

static void inside_do(void *arg)
{
	int *calls = arg;
	(*calls)++;
	CHECK(!strcmp(goc_pprof_label("request"), "r1") && !strcmp(goc_pprof_label("route"), "/b"),
	      "labels inside goc_pprof_do");
	goc_sleep(GOC_MILLISECOND); /* may come back on another M */
	goc_wg_add(&done, 1);
	CHECK(goc_go(child, NULL) > 0, "spawn");
	goc_wg_wait(&done);
}

static void check_api(void)
{
	const char *const kv[] = {"request", "r1", "route", "/a"};
	CHECK(goc_pprof_label("request") == NULL, "labels before any");
	CHECK(goc_pprof_set_labels(kv, 4) == GOC_OK, "set");
	CHECK(!strcmp(goc_pprof_label("request"), "r1") && !strcmp(goc_pprof_label("route"), "/a"),
	      "get");
	const char *const over[] = {"route", "/b"};
	int calls = 0;
	CHECK(goc_pprof_do(over, 2, inside_do, &calls) == GOC_OK && calls == 1, "do");
	CHECK(!strcmp(child_saw, "r1"), "a started goroutine has %s", child_saw);
	CHECK(!strcmp(goc_pprof_label("route"), "/a"), "do did not restore: %s",
	      goc_pprof_label("route"));
	const char *const odd[] = {"a"};
	const char *const null_value[] = {"a", NULL};
	CHECK(goc_pprof_set_labels(odd, 1) == -EINVAL, "odd");
	CHECK(goc_pprof_set_labels(null_value, 2) == -EINVAL, "NULL value");
	const char *many[2 * GOC_PPROF_LABELS_MAX + 2];
	char keys[GOC_PPROF_LABELS_MAX + 1][8];
	for (int i = 0; i <= GOC_PPROF_LABELS_MAX; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		many[2 * i] = keys[i];
		many[2 * i + 1] = "v";
	}
	CHECK(goc_pprof_set_labels(many, 2 * GOC_PPROF_LABELS_MAX + 2) == -EINVAL, "too many");
	CHECK(!strcmp(goc_pprof_label("request"), "r1"), "a refused set changed the labels");
	CHECK(goc_pprof_set_labels(many, 2 * GOC_PPROF_LABELS_MAX) == GOC_OK, "the most");
	CHECK(goc_pprof_set_labels(NULL, 0) == GOC_OK && goc_pprof_label("request") == NULL,
	      "clear");
	ok("labels: set, overlay and restore, inherited, refusals");
}

static int spinning; /* atomic */

__attribute__((noinline)) static void spin_labelled_a(void)
{
	while (__atomic_load_n(&spinning, __ATOMIC_RELAXED))
		goc_yield();
}

__attribute__((noinline)) static void spin_labelled_b(void)
{
	while (__atomic_load_n(&spinning, __ATOMIC_RELAXED))
		goc_yield();
}

static void spin_a(void *arg)
{
	(void)arg;
	spin_labelled_a();
}

static void spin_b(void *arg)
{
	(void)arg;
	spin_labelled_b();
}

static void spinner(void *arg)
{
	const char *const kv[] = {"handler", arg};
	goc_pprof_do(kv, 2, !strcmp(arg, "hot_a") ? spin_a : spin_b, NULL);
	goc_wg_done(&done);
}

static goc_chan *park;

static void parked(void *arg)
{
	(void)arg;
	int v;
	goc_chan_recv(park, &v);
	goc_wg_done(&done);
}

static void parker(void *arg)
{
	(void)arg;
	const char *const kv[] = {"request", "r42"};
	goc_pprof_set_labels(kv, 2);
	goc_wg_add(&done, 1);
	CHECK(goc_go(parked, NULL) > 0, "spawn"); /* inherits r42 */
	goc_wg_done(&done);
}

struct command {
	const char *line;
	char *out;
	int status;
};

static void *command_run(void *arg)
{
	struct command *c = arg;
	FILE *p = popen(c->line, "r");
	CHECK(p, "popen");
	size_t len = 0, cap = 1 << 16;
	c->out = malloc(cap);
	size_t got;
	while (c->out && (got = fread(c->out + len, 1, cap - len - 1, p)) > 0) {
		len += got;
		if (cap - len < 4096)
			c->out = realloc(c->out, cap *= 2);
	}
	CHECK(c->out, "out of memory");
	c->out[len] = 0;
	c->status = pclose(p);
	return NULL;
}

static char *run(const char *line)
{
	struct command c = {.line = line};
	goc_blocking(command_run, &c);
	CHECK(c.status == 0, "%s failed:\n%s", line, c.out);
	return c.out;
}

static void check_go_tool(void)
{
	if (!tool_available("go", "observe", "go tool pprof -tags"))
		return;
	char dir[] = "/tmp/goc-test-labels-XXXXXX";
	CHECK(mkdtemp(dir), "mkdtemp");
	char path[256], line[1024];
	snprintf(path, sizeof path, "%s/cpu.pb", dir);
	FILE *f = fopen(path, "wb");
	CHECK(f && goc_pprof_cpu_start(f) == GOC_OK, "cpu start");
	__atomic_store_n(&spinning, 1, __ATOMIC_RELAXED);
	goc_wg_add(&done, 2);
	CHECK(goc_go(spinner, "hot_a") > 0 && goc_go(spinner, "hot_b") > 0, "spawn");
	goc_sleep(1500 * GOC_MILLISECOND);
	__atomic_store_n(&spinning, 0, __ATOMIC_RELAXED);
	goc_wg_wait(&done);
	CHECK(goc_pprof_cpu_stop() == GOC_OK, "cpu stop");
	fclose(f);
	snprintf(line, sizeof line, "go tool pprof -tags '%s' 2>&1", path);
	char *out = run(line);
	CHECK(contains(out, "handler:") && contains(out, "hot_a") && contains(out, "hot_b"),
	      "-tags:\n%s", out);
	free(out);
	snprintf(line, sizeof line, "go tool pprof -top -tagfocus handler=hot_a '%s' 2>&1", path);
	out = run(line);
	CHECK(contains(out, "spin_labelled_a") && !contains(out, "spin_labelled_b"),
	      "-tagfocus handler=hot_a:\n%s", out);
	free(out);
	ok("go tool pprof: CPU samples carry the labels (-tags, -tagfocus)");

	park = goc_chan_make(sizeof(int), 0);
	goc_wg_add(&done, 1);
	CHECK(goc_go(parker, NULL) > 0, "spawn");
	goc_sleep(20 * GOC_MILLISECOND);
	snprintf(path, sizeof path, "%s/goroutine.pb", dir);
	f = fopen(path, "wb");
	CHECK(f && goc_pprof_goroutine(f) == GOC_OK && fclose(f) == 0, "goroutine profile");
	goc_chan_close(park);
	goc_wg_wait(&done);
	goc_chan_release(park);
	snprintf(line, sizeof line, "go tool pprof -tags '%s' 2>&1", path);
	out = run(line);
	CHECK(contains(out, "request:") && contains(out, "r42"), "-tags:\n%s", out);
	free(out);
	snprintf(line, sizeof line, "rm -rf '%s'", dir);
	CHECK(system(line) == 0, "%s", line);
	ok("go tool pprof: the goroutine profile carries the labels");
}

static void test_main(void *arg)
{
	(void)arg;
	goc_maxprocs(2);
	check_api();
	check_go_tool();
}

int main(void)
{
	goc_main(test_main, NULL);
	return 0;
}
