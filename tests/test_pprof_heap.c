/*
 * test_pprof_heap.c — the heap profile (goc_set_mem_profile_rate,
 * goc_pprof_heap): a program with a planted allocator (allocates and frees
 * a lot) and a planted leak (keeps what it allocates) must show the
 * allocator first by alloc_space and the leak first by inuse_space, in
 * our own decoding and, when Go is installed, under `go tool pprof -top`;
 * a `-base` diff of two profiles taken around a second leak shows only
 * that leak. Also: Go's four sample types and the "bytes" label, the
 * un-sampling at the default rate (the totals come out near the truth),
 * and nothing sampled at rate 0.
 *
 * Sanitizer builds route goc_malloc to the C library (src/alloc/malloc.c),
 * where nothing is profiled: the test says so and stops.
 */
#include <string.h>
#include <unistd.h>

#include "goc.h"
#include "pprofutil.h"
#include "testutil.h"

static struct parsed_profile prof;
static void *kept[20000];
static int nkept;

__attribute__((noinline)) static void planted_allocator(long rounds)
{
	for (long i = 0; i < rounds; i++) {
		char *p = goc_malloc(4000);
		p[0] = 1;
		goc_free(p);
	}
}

__attribute__((noinline)) static void planted_leak(int n)
{
	for (int i = 0; i < n && nkept < 20000; i++)
		kept[nkept++] = goc_malloc(1000);
}

__attribute__((noinline)) static void second_leak(int n)
{
	for (int i = 0; i < n && nkept < 20000; i++)
		kept[nkept++] = goc_malloc(2000);
}

static void write_profile(const char *path)
{
	FILE *f = fopen(path, "wb");
	CHECK(f, "open %s", path);
	CHECK(goc_pprof_heap(f) == GOC_OK, "goc_pprof_heap");
	fclose(f);
}

static void main_goroutine(void *arg)
{
	const char *dir = arg;
	char before[256], after[256];
	snprintf(before, sizeof before, "%s/heap-before.pprof", dir);
	snprintf(after, sizeof after, "%s/heap-after.pprof", dir);

	/* The default rate: 512 KiB. */
	CHECK(goc_set_mem_profile_rate(-1) == 512 * 1024, "default rate");
	planted_allocator(20000); /* 80 MB allocated, nothing kept */
	planted_leak(8000);       /* 8 MB kept */
	write_profile(before);

	pprof_load(before, &prof);
	CHECK(prof.nsample_types == 4, "four sample types");
	const char *want[4][2] = {{"alloc_objects", "count"},
				  {"alloc_space", "bytes"},
				  {"inuse_objects", "count"},
				  {"inuse_space", "bytes"}};
	for (int i = 0; i < 4; i++)
		CHECK(!strcmp(pprof_str(&prof, prof.sample_types[i][0]), want[i][0]) &&
			      !strcmp(pprof_str(&prof, prof.sample_types[i][1]), want[i][1]),
		      "sample type %d", i);
	CHECK(!strcmp(pprof_str(&prof, prof.period_type[0]), "space") && prof.period == 512 * 1024,
	      "period type space, period %lld", (long long)prof.period);
	const char *names[] = {"planted_allocator", "planted_leak", NULL};
	int64_t total;
	const char *top = pprof_top_cum(&prof, 1, names, &total);
	CHECK(top && !strcmp(top, "planted_allocator"), "alloc_space top: %s", top ? top : "-");
	/* Un-sampled: 80 MB allocated, give or take sampling noise. */
	CHECK(total > 40000000 && total < 160000000, "planted_allocator alloc_space %lld",
	      (long long)total);
	top = pprof_top_cum(&prof, 3, names, &total);
	CHECK(top && !strcmp(top, "planted_leak"), "inuse_space top: %s", top ? top : "-");
	CHECK(total > 3000000 && total < 20000000, "planted_leak inuse_space %lld",
	      (long long)total);
	for (int i = 0; i < prof.nsamples; i++)
		if (pprof_sample_has(&prof, &prof.samples[i], "planted_leak"))
			CHECK(pprof_label_num(&prof, &prof.samples[i], "bytes") ==
				      (int64_t)goc_malloc_usable_size(kept[0]),
			      "bytes label %lld",
			      (long long)pprof_label_num(&prof, &prof.samples[i], "bytes"));
	pprof_free(&prof);

	second_leak(3000);
	write_profile(after);
	pprof_go_check_first("-top -cum -sample_index=inuse_space", before, names, "planted_leak");
	pprof_go_check_first("-top -cum -sample_index=alloc_space", before, names,
			     "planted_allocator");
	char base_args[512];
	snprintf(base_args, sizeof base_args, "-top -cum -sample_index=inuse_space -base %s",
		 before);
	const char *diff_names[] = {"planted_allocator", "planted_leak", "second_leak", NULL};
	pprof_go_check_first(base_args, after, diff_names, "second_leak");
	ok("planted allocator and leak rank first");

	/* Rate 1 records every allocation, exactly. */
	goc_set_mem_profile_rate(1);
	for (int i = 0; i < nkept; i++)
		goc_free(kept[i]);
	nkept = 0;
	planted_leak(100);
	write_profile(after);
	pprof_load(after, &prof);
	const char *leak[] = {"planted_leak", NULL};
	pprof_top_cum(&prof, 2, leak, &total);
	CHECK(total == 100, "rate 1: 100 live objects of planted_leak, got %lld", (long long)total);
	pprof_free(&prof);
	for (int i = 0; i < nkept; i++)
		goc_free(kept[i]);
	nkept = 0;
	ok("rate 1 is exact, frees leave inuse");

	/* Rate 0: nothing new. */
	goc_set_mem_profile_rate(0);
	second_leak(500);
	write_profile(after);
	pprof_load(after, &prof);
	const char *second[] = {"second_leak", NULL};
	pprof_top_cum(&prof, 2, second, &total);
	CHECK(total == 0, "rate 0 samples nothing new in use: %lld", (long long)total);
	pprof_free(&prof);
	for (int i = 0; i < nkept; i++)
		goc_free(kept[i]);
	nkept = 0;
	ok("rate 0");
	unlink(before);
	unlink(after);
}

int main(void)
{
	const char *s = getenv("GOC_TEST_SANITIZER");
	if (s && (!strcmp(s, "address") || !strcmp(s, "thread"))) {
		printf("skip: sanitizer builds route goc_malloc to the C library; no heap profile\n");
		return 0;
	}
	if (system("command -v go >/dev/null 2>&1") != 0 && geteuid() == 0) {
		/* Install Debian's Go for the go tool pprof checks. */
		char cmd[1024];
		snprintf(cmd, sizeof cmd, "sh %.900s/../tools/deps.sh pprof >&2", GOC_TEST_DIR);
		if (system(cmd) != 0)
			printf("could not install golang-go; go tool pprof checks skip\n");
	}
	char dir[] = "/tmp/goc-heapprof-XXXXXX";
	CHECK(mkdtemp(dir), "mkdtemp");
	goc_main(main_goroutine, dir);
	rmdir(dir);
	return 0;
}
