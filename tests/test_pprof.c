/*
 * test_pprof.c — the CPU profiler finds the function that burns the CPU.
 *
 * Two goroutines named "burner" spin in burn_cpu_hot_function for a second
 * of CPU time each while a CPU profile is taken (GOCMAXPROCS=2): CPU time,
 * not wall time, so the number of samples (about 200) does not depend on
 * how busy the machine is. The test reads the
 * profile back — gunzips it with zlib and decodes the protobuf fields it
 * needs — and checks: the sample and period types are Go's CPU profile's;
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

#ifdef GOC_TEST_HAVE_ZLIB
#include <zlib.h>
#endif

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

/* ---- reading the profile back ---- */

struct bytes {
	uint8_t *data;
	size_t len;
};

static struct bytes read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	CHECK(f, "open %s: %s", path, strerror(errno));
	struct bytes b = {NULL, 0};
	size_t cap = 0;
	for (;;) {
		if (b.len == cap) {
			cap = cap ? 2 * cap : 65536;
			b.data = realloc(b.data, cap);
			CHECK(b.data, "out of memory");
		}
		size_t n = fread(b.data + b.len, 1, cap - b.len, f);
		if (n == 0)
			break;
		b.len += n;
	}
	fclose(f);
	return b;
}

/* The protobuf: the file itself, or what it gunzips to. */
static struct bytes profile_bytes(struct bytes file)
{
	bool gzipped = file.len >= 2 && file.data[0] == 0x1f && file.data[1] == 0x8b;
#ifdef GOC_TEST_HAVE_ZLIB
	CHECK(gzipped, "goc was built with zlib: the profile must be gzipped");
	struct bytes out = {NULL, 0};
	size_t cap = 0;
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, "inflateInit2");
	zs.next_in = file.data;
	zs.avail_in = (uInt)file.len;
	int status;
	do {
		if (out.len == cap) {
			cap = cap ? 2 * cap : 4 * file.len + 65536;
			out.data = realloc(out.data, cap);
			CHECK(out.data, "out of memory");
		}
		zs.next_out = out.data + out.len;
		zs.avail_out = (uInt)(cap - out.len);
		status = inflate(&zs, Z_NO_FLUSH);
		CHECK(status == Z_OK || status == Z_STREAM_END, "inflate: %d", status);
		out.len = cap - zs.avail_out;
	} while (status != Z_STREAM_END);
	inflateEnd(&zs);
	free(file.data);
	return out;
#else
	CHECK(!gzipped, "goc was built without zlib: the profile must be bare");
	return file;
#endif
}

struct reader {
	const uint8_t *at, *end;
};

static uint64_t read_varint(struct reader *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		CHECK(r->at < r->end, "truncated varint");
		uint8_t byte = *r->at++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	CHECK(0, "varint too long");
	return 0;
}

/* The next field: its number, and its value (varints) or its bytes
 * (length-delimited). False at the end. */
static bool read_field(struct reader *r, int *field, uint64_t *value, struct reader *bytes)
{
	if (r->at >= r->end)
		return false;
	uint64_t key = read_varint(r);
	*field = (int)(key >> 3);
	switch (key & 7) {
	case 0:
		*value = read_varint(r);
		bytes->at = bytes->end = NULL;
		return true;
	case 2: {
		uint64_t n = read_varint(r);
		CHECK(n <= (uint64_t)(r->end - r->at), "truncated field %d", *field);
		bytes->at = r->at;
		bytes->end = r->at + n;
		r->at += n;
		return true;
	}
	default:
		CHECK(0, "unexpected wire type %d in field %d", (int)(key & 7), *field);
		return false;
	}
}

/* Repeated varints, packed or not. */
static int read_repeated(int wire_bytes, uint64_t value, struct reader bytes, uint64_t *out,
			 int max)
{
	if (!wire_bytes) {
		out[0] = value;
		return 1;
	}
	int n = 0;
	while (bytes.at < bytes.end && n < max)
		out[n++] = read_varint(&bytes);
	return n;
}

#define MAX_ITEMS 100000
#define MAX_DEPTH 64

struct parsed_sample {
	int nlocs;
	uint64_t locs[MAX_DEPTH];
	int64_t values[2];
	int64_t goid;
	int64_t name;                /* string index */
};

struct parsed_profile {
	const char *strings[MAX_ITEMS];
	int nstrings;
	int64_t sample_types[2][2];
	int nsample_types;
	int64_t period_type[2], period;
	uint64_t function_name[MAX_ITEMS];   /* by function id */
	uint64_t location_function[MAX_ITEMS]; /* by location id; 0: unsymbolized */
	struct parsed_sample samples[MAX_ITEMS];
	int nsamples;
	int nmappings;
};

static void parse_value_type(struct reader r, int64_t out[2])
{
	int field;
	uint64_t v;
	struct reader sub;
	while (read_field(&r, &field, &v, &sub))
		if (field == 1 || field == 2)
			out[field - 1] = (int64_t)v;
}

static void parse_sample(struct reader r, struct parsed_sample *s)
{
	int field;
	uint64_t v;
	struct reader sub;
	while (read_field(&r, &field, &v, &sub)) {
		if (field == 1) {
			s->nlocs += read_repeated(sub.at != NULL, v, sub, s->locs + s->nlocs,
						  MAX_DEPTH - s->nlocs);
		} else if (field == 2) {
			uint64_t values[2] = {0, 0};
			read_repeated(sub.at != NULL, v, sub, values, 2);
			s->values[0] = (int64_t)values[0];
			s->values[1] = (int64_t)values[1];
		} else if (field == 3) {
			int64_t key = 0, str = 0, num = 0;
			int lf;
			uint64_t lv;
			struct reader ls;
			while (read_field(&sub, &lf, &lv, &ls)) {
				if (lf == 1)
					key = (int64_t)lv;
				else if (lf == 2)
					str = (int64_t)lv;
				else if (lf == 3)
					num = (int64_t)lv;
			}
			/* Label keys are resolved once the string table is read. */
			if (str)
				s->name = key << 32 | str;
			else
				s->goid = key << 32 | num;
		}
	}
}

static void parse_profile(struct bytes pb, struct parsed_profile *p)
{
	memset(p, 0, sizeof *p);
	struct reader r = {pb.data, pb.data + pb.len};
	int field;
	uint64_t v;
	struct reader sub;
	while (read_field(&r, &field, &v, &sub)) {
		int f2;
		uint64_t v2;
		struct reader s2;
		switch (field) {
		case 1:
			CHECK(p->nsample_types < 2, "more than two sample types");
			parse_value_type(sub, p->sample_types[p->nsample_types++]);
			break;
		case 2:
			CHECK(p->nsamples < MAX_ITEMS, "too many samples");
			parse_sample(sub, &p->samples[p->nsamples++]);
			break;
		case 3:
			p->nmappings++;
			break;
		case 4: {
			uint64_t id = 0, function = 0;
			while (read_field(&sub, &f2, &v2, &s2)) {
				if (f2 == 1)
					id = v2;
				if (f2 == 4) {
					int f3;
					uint64_t v3;
					struct reader s3;
					while (read_field(&s2, &f3, &v3, &s3))
						if (f3 == 1 && !function)
							function = v3;
				}
			}
			CHECK(id > 0 && id < MAX_ITEMS, "location id %llu", (unsigned long long)id);
			p->location_function[id] = function;
			break;
		}
		case 5: {
			uint64_t id = 0, name = 0;
			while (read_field(&sub, &f2, &v2, &s2)) {
				if (f2 == 1)
					id = v2;
				if (f2 == 2)
					name = v2;
			}
			CHECK(id > 0 && id < MAX_ITEMS, "function id %llu", (unsigned long long)id);
			p->function_name[id] = name;
			break;
		}
		case 6: {
			CHECK(p->nstrings < MAX_ITEMS, "too many strings");
			size_t n = (size_t)(sub.end - sub.at);
			char *s = malloc(n + 1);
			CHECK(s, "out of memory");
			memcpy(s, sub.at, n);
			s[n] = '\0';
			p->strings[p->nstrings++] = s;
			break;
		}
		case 11:
			parse_value_type(sub, p->period_type);
			break;
		case 12:
			p->period = (int64_t)v;
			break;
		}
	}
	CHECK(p->nstrings > 0 && p->strings[0][0] == '\0', "string table must start with \"\"");
}

static const char *str(const struct parsed_profile *p, int64_t index)
{
	CHECK(index >= 0 && index < p->nstrings, "string index %lld", (long long)index);
	return p->strings[index];
}

/* The name of the function of location id, "" if unsymbolized. */
static const char *location_name(const struct parsed_profile *p, uint64_t id)
{
	CHECK(id > 0 && id < MAX_ITEMS, "location id %llu", (unsigned long long)id);
	uint64_t function = p->location_function[id];
	return function ? str(p, (int64_t)p->function_name[function]) : "";
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

	errno = 0;
	CHECK(goc_pprof_cpu_stop() == GOC_INVALID && errno == EINVAL, "stop without start");
	CHECK(goc_pprof_cpu_start(NULL) == GOC_INVALID && errno == EINVAL, "start(NULL)");
	CHECK(goc_pprof_cpu_set_rate(0) == GOC_INVALID && errno == EINVAL, "rate 0");

	CHECK(goc_pprof_cpu_start(f) == GOC_OK, "start: %s", strerror(errno));
	CHECK(goc_pprof_cpu_start(f) == GOC_INVALID && errno == EBUSY, "second start");
	CHECK(goc_pprof_cpu_set_rate(50) == GOC_INVALID && errno == EBUSY, "rate while running");
	goc_wg wg = GOC_WG_INIT;
	struct burn_job job = {&wg, BURN_CPU_NS};
	goc_wg_add(&wg, 2);
	goc_go_options opts = {.name = "burner"};
	for (int i = 0; i < 2; i++)
		CHECK(goc_go_opts(burner, &job, &opts) > 0, "spawn");
	goc_wg_wait(&wg);
	CHECK(goc_pprof_cpu_stop() == GOC_OK, "stop: %s", strerror(errno));
	CHECK(fclose(f) == 0, "close");
	ok("profile recorded");

	/* A second session: the handler stays, timers come back. */
	FILE *again = tmpfile();
	CHECK(again, "tmpfile");
	CHECK(goc_pprof_cpu_set_rate(1000) == GOC_OK, "rate 1000");
	CHECK(goc_pprof_cpu_start(again) == GOC_OK, "restart: %s", strerror(errno));
	goc_wg_add(&wg, 1);
	job.cpu_ns = 100 * GOC_MILLISECOND;
	CHECK(goc_go(burner, &job) > 0, "spawn");
	goc_wg_wait(&wg);
	CHECK(goc_pprof_cpu_stop() == GOC_OK, "second stop: %s", strerror(errno));
	CHECK(ftell(again) > 0, "second profile is empty");
	fclose(again);
	ok("second profile");
}

static void check_profile(const struct parsed_profile *p)
{
	CHECK(p->nsample_types == 2, "%d sample types", p->nsample_types);
	CHECK(!strcmp(str(p, p->sample_types[0][0]), "samples") &&
		      !strcmp(str(p, p->sample_types[0][1]), "count") &&
		      !strcmp(str(p, p->sample_types[1][0]), "cpu") &&
		      !strcmp(str(p, p->sample_types[1][1]), "nanoseconds"),
	      "sample types");
	CHECK(!strcmp(str(p, p->period_type[0]), "cpu") && p->period == 10 * GOC_MILLISECOND,
	      "period %lld of %s", (long long)p->period, str(p, p->period_type[0]));
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
		const char *leaf = location_name(p, s->locs[0]);
		int k = 0;
		while (k < nnames && strcmp(names[k], leaf))
			k++;
		if (k == nnames)
			names[nnames++] = leaf;
		counts[k] += s->values[0];
		total += s->values[0];
		if (!strcmp(leaf, "burn_cpu_hot_function") && s->goid && s->name &&
		    !strcmp(str(p, s->goid >> 32), "goroutine") && (s->goid & 0xffffffff) > 0 &&
		    !strcmp(str(p, s->name >> 32), "goroutine_name") &&
		    !strcmp(str(p, s->name & 0xffffffff), "burner"))
			hot_labelled += s->values[0];
	}
	int top = 0;
	for (int k = 1; k < nnames; k++)
		if (counts[k] > counts[top])
			top = k;
	printf("%lld samples; top: %s (%lld)\n", (long long)total, nnames ? names[top] : "-",
	       nnames ? (long long)counts[top] : 0);
	CHECK(total >= 100, "only %lld samples in 2 s of CPU", (long long)total);
	CHECK(!strcmp(names[top], "burn_cpu_hot_function"), "top function is %s, not "
	      "burn_cpu_hot_function", names[top]);
	int64_t must_be_labelled = under_tsan() ? counts[top] / 2 : counts[top];
	CHECK(hot_labelled >= must_be_labelled, "%lld of %lld hot samples carry the goroutine labels",
	      (long long)hot_labelled, (long long)counts[top]);
	ok("burn_cpu_hot_function is the top function, with its goroutine's labels");
}

/* `go tool pprof -top` puts it first as well. */
static void check_with_go_pprof(void)
{
	if (system("command -v go >/dev/null 2>&1") != 0) {
		printf("skip: go tool pprof (go is not installed)\n");
		return;
	}
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0, "readlink /proc/self/exe");
	self[n] = '\0';
	char command[8192];
	snprintf(command, sizeof command, "go tool pprof -top '%s' '%s' 2>&1", self, profile_path);
	FILE *out = popen(command, "r");
	CHECK(out, "popen");
	char line[1024], first[1024] = "";
	bool in_table = false;
	while (fgets(line, sizeof line, out)) {
		fputs(line, stdout);
		if (in_table && !first[0])
			snprintf(first, sizeof first, "%s", line);
		if (strstr(line, "flat%") && strstr(line, "cum%"))
			in_table = true;
	}
	CHECK(pclose(out) == 0, "go tool pprof failed");
	CHECK(contains(first, "burn_cpu_hot_function"), "go tool pprof's top line: %s", first);
	ok("go tool pprof -top lists burn_cpu_hot_function first");
}

int main(void)
{
	setenv("GOCMAXPROCS", "2", 1);
	goc_main(record_profile, NULL);
	struct bytes pb = profile_bytes(read_file(profile_path));
	static struct parsed_profile parsed;
	parse_profile(pb, &parsed);
	check_profile(&parsed);
	check_with_go_pprof();
	unlink(profile_path);
	free(pb.data);
	return 0;
}
