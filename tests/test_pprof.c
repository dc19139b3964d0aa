/*
 * test_pprof.c — the CPU profiler finds the function that burns the CPU.
 *
 * Two goroutines named "burner" spin in burn_cpu_hot_function for a second
 * of CPU time each while a CPU profile is taken (GOCMAXPROCS=2): CPU time,
 * not wall time, so the number of samples (about 200) does not depend on
 * how busy the machine is. The test reads the
 * profile back (pprofutil.c) and checks: the sample and period types are Go's CPU profile's;
 * burn_cpu_hot_function is the function with the most samples as the
 * innermost frame; its samples carry the goroutine labels (id and
 * "burner"). If `go` is installed, `go tool pprof -top` must list it first
 * too (skipped with a message otherwise). Also: the API's misuse answers,
 * and a second profile after the first.
 *
 * Under TSan, signals are not delivered when they arrive: TSan queues them
 * and runs the handler at the thread's next call it intercepts, with the
 * registers saved when the signal came. The leaf pc is therefore still
 * right, but by then the goroutine may have switched out, and the sample is
 * taken as not on its stack (no labels): under TSan most, not all, of the
 * hot samples must carry the labels.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pprofutil.h"
#include "testutil.h"

#define BURN_CPU_NS (1000 * GOC_MILLISECOND)
#define BURN_WALL_LIMIT_NS (30 * GOC_SECOND)

static uint64_t burn_sink; /* keeps the loop; atomic: both burners store */

/* CPU time of the calling thread. A goroutine that never reaches a
 * scheduling point stays on its thread, so this is its own CPU time. */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * GOC_SECOND + ts.tv_nsec;
}

/* Exported (tests link with -rdynamic) so the profiler can name it. */
__attribute__((noinline)) void burn_cpu_hot_function(int64_t cpu_ns)
{
	uint64_t x = 1;
	int64_t cpu_until = thread_cpu_ns() + cpu_ns;
	int64_t wall_until = goc_now() + BURN_WALL_LIMIT_NS;
	while (thread_cpu_ns() < cpu_until && goc_now() < wall_until)
		for (int k = 0; k < 20000; k++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	__atomic_store_n(&burn_sink, x, __ATOMIC_RELAXED);
}

struct burn_job {
	goc_wg *wg;
	int64_t cpu_ns;
};

static void burner(void *arg)
{
	struct burn_job *job = arg;
	burn_cpu_hot_function(job->cpu_ns);
	goc_wg_done(job->wg);
}

static bool under_tsan(void)
{
	const char *s = getenv("GOC_TEST_SANITIZER");
	return s && strcmp(s, "thread") == 0;
}

/* ---- the test ---- */

static char profile_path[] = "/tmp/goc-test-pprof-XXXXXX";

static void record_profile(void *arg)
{
	(void)arg;
	FILE *f = fdopen(mkstemp(profile_path), "wb");
	CHECK(f, "temporary profile file: %s", strerror(errno));

	goc_status st;
	CHECK(goc_pprof_cpu_stop() == -EINVAL, "stop without start");
	CHECK(goc_pprof_cpu_start(NULL) == -EINVAL, "start(NULL)");
	CHECK(goc_pprof_cpu_set_rate(0) == -EINVAL, "rate 0");

	st = goc_pprof_cpu_start(f);
	CHECK(st == GOC_OK, "start: %s", goc_strerror(st));
	CHECK(goc_pprof_cpu_start(f) == -EBUSY, "second start");
	CHECK(goc_pprof_cpu_set_rate(50) == -EBUSY, "rate while running");
	goc_wg wg = GOC_WG_INIT;
	struct burn_job job = {&wg, BURN_CPU_NS};
	goc_wg_add(&wg, 2);
	goc_go_options opts = {.name = "burner"};
	for (int i = 0; i < 2; i++)
		CHECK(goc_go_opts(burner, &job, &opts) > 0, "spawn");
	goc_wg_wait(&wg);
	st = goc_pprof_cpu_stop();
	CHECK(st == GOC_OK, "stop: %s", goc_strerror(st));
	CHECK(fclose(f) == 0, "close");
	ok("profile recorded");

	/* A second session: the handler stays, timers come back. */
	FILE *again = tmpfile();
	CHECK(again, "tmpfile");
	CHECK(goc_pprof_cpu_set_rate(1000) == GOC_OK, "rate 1000");
	st = goc_pprof_cpu_start(again);
	CHECK(st == GOC_OK, "restart: %s", goc_strerror(st));
	goc_wg_add(&wg, 1);
	job.cpu_ns = 100 * GOC_MILLISECOND;
	CHECK(goc_go(burner, &job) > 0, "spawn");
	goc_wg_wait(&wg);
	st = goc_pprof_cpu_stop();
	CHECK(st == GOC_OK, "second stop: %s", goc_strerror(st));
	CHECK(ftell(again) > 0, "second profile is empty");
	fclose(again);
	ok("second profile");
}

static void check_profile(const struct parsed_profile *p)
{
	CHECK(p->nsample_types == 2, "%d sample types", p->nsample_types);
	CHECK(!strcmp(pprof_str(p, p->sample_types[0][0]), "samples") &&
		      !strcmp(pprof_str(p, p->sample_types[0][1]), "count") &&
		      !strcmp(pprof_str(p, p->sample_types[1][0]), "cpu") &&
		      !strcmp(pprof_str(p, p->sample_types[1][1]), "nanoseconds"),
	      "sample types");
	CHECK(!strcmp(pprof_str(p, p->period_type[0]), "cpu") && p->period == 10 * GOC_MILLISECOND,
	      "period %lld of %s", (long long)p->period, pprof_str(p, p->period_type[0]));
	CHECK(p->nmappings > 0, "no mappings");

	/* Flat samples per function (innermost frame). */
	static const char *names[MAX_ITEMS];
	static int64_t counts[MAX_ITEMS];
	int nnames = 0;
	int64_t total = 0, hot_labelled = 0;
	for (int i = 0; i < p->nsamples; i++) {
		const struct parsed_sample *s = &p->samples[i];
		CHECK(s->nlocs > 0 && s->values[0] > 0 && s->values[1] == s->values[0] * p->period,
		      "sample %d: %d locations, values %lld %lld", i, s->nlocs,
		      (long long)s->values[0], (long long)s->values[1]);
		const char *leaf = pprof_location_name(p, s->locs[0]);
		int k = 0;
		while (k < nnames && strcmp(names[k], leaf))
			k++;
		if (k == nnames)
			names[nnames++] = leaf;
		counts[k] += s->values[0];
		total += s->values[0];
		const char *gname = pprof_label_str(p, s, "goroutine_name");
		if (!strcmp(leaf, "burn_cpu_hot_function") &&
		    pprof_label_num(p, s, "goroutine") > 0 && gname && !strcmp(gname, "burner"))
			hot_labelled += s->values[0];
	}
	int top = 0;
	for (int k = 1; k < nnames; k++)
		if (counts[k] > counts[top])
			top = k;
	printf("%lld samples; top: %s (%lld)\n", (long long)total, nnames ? names[top] : "-",
	       nnames ? (long long)counts[top] : 0);
	CHECK(total >= 100, "only %lld samples in 2 s of CPU", (long long)total);
	CHECK(!strcmp(names[top], "burn_cpu_hot_function"),
	      "top function is %s, not "
	      "burn_cpu_hot_function",
	      names[top]);
	int64_t must_be_labelled = under_tsan() ? counts[top] / 2 : counts[top];
	CHECK(hot_labelled >= must_be_labelled,
	      "%lld of %lld hot samples carry the goroutine labels", (long long)hot_labelled,
	      (long long)counts[top]);
	ok("burn_cpu_hot_function is the top function, with its goroutine's labels");
}

/* `go tool pprof -top` puts it first as well. */
static void check_with_go_pprof(void)
{
	char *out = pprof_go_tool("-top", profile_path);
	if (!out)
		return;
	const char *table = strstr(out, "cum%");
	const char *first = table ? strchr(table, '\n') : NULL;
	const char *end = first ? strchr(first + 1, '\n') : NULL;
	CHECK(end && memmem(first, (size_t)(end - first), "burn_cpu_hot_function", 21),
	      "go tool pprof's top line is not burn_cpu_hot_function");
	free(out);
	ok("go tool pprof -top lists burn_cpu_hot_function first");
}

int main(void)
{
	setenv("GOCMAXPROCS", "2", 1);
	goc_main(record_profile, NULL);
	static struct parsed_profile parsed;
	pprof_load(profile_path, &parsed);
	check_profile(&parsed);
	check_with_go_pprof();
	unlink(profile_path);
	return 0;
}
