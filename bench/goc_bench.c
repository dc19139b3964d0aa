/*
 * goc_bench.c — goc-bench, goc's benchmark program: picks the workloads
 * named by -run, runs each one in a fresh child process of itself and
 * prints the results in the format of `go test -bench`, so that they can be
 * set beside those of the Go counterpart (bench/go) and read by benchstat.
 *
 *     goc-bench [-run REGEX] [-procs N] [-scale F] [-isolate=false|true]
 *     goc-bench [-procs N] -serve-http ADDR
 *
 * Exit status 1: a workload failed (the reason is on stderr); 2: a usage
 * error. The parent process never starts the goc runtime: it only spawns
 * children and copies their result lines, re-aligned to its own names. A
 * child (-isolate=false) runs its workloads on the driver goroutine that
 * goc_main starts.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

/* A workload of the suite. */
struct workload {
	const char *name;
	int64_t size; /* the default size; -scale multiplies it */
	/* Whether it first runs once, untimed and checked, at full size: that
	 * grows the runtime's pools (free goroutines, stacks, timers) to what
	 * the measured run needs, so that it measures the steady state rather
	 * than first-touch page faults. ParkedMemory has none: it would touch
	 * the very memory it measures. */
	bool warm_up;
	void (*run)(struct bench_run *run);
};

/* The suite in the order of the specification, which is the order the
 * workloads run in. */
static const struct workload suite[] = {
	{"SpawnJoin", 1000000, true, bench_spawn_join},
	{"SpawnJoinBatch", 1000, true, bench_spawn_join_batch},
	{"Yield", 10000000, true, bench_yield},
	{"SchedLatencyHogs1", 200, true, bench_sched_latency_hogs1},
	{"SchedLatencyHogs2", 200, true, bench_sched_latency_hogs2},
	{"ChanPingPong", 5000000, true, bench_chan_ping_pong},
	{"ChanBuffered", 20000000, true, bench_chan_buffered},
	{"ChanMPMC", 20000000, true, bench_chan_mpmc},
	{"SelectPingPong", 5000000, true, bench_select_ping_pong},
	{"MutexContended", 100000, true, bench_mutex_contended},
	{"MutexContendedPthread", 100000, true, bench_mutex_contended_pthread},
	{"ParkedMemory", 1000000, false, bench_parked_memory},
	{"TimerSleepers", 100000, true, bench_timer_sleepers},
	{"ContextCancelFanout", 100000, true, bench_context_cancel_fanout},
	{"WorkerPool", 1000000, true, bench_worker_pool},
	{"WorkerPoolGoc", 1000000, true, bench_worker_pool_goc},
	{"TCPEcho", 200000, true, bench_tcp_echo},
	{"HTTPClient", 100000, true, bench_http_client},
	{"PoolGetPut", 10000000, true, bench_pool_get_put},
	{"PoolAlloc", 10000000, true, bench_pool_alloc},
	{"CounterShared", 20000000, true, bench_counter_shared},
	{"CounterSharded", 20000000, true, bench_counter_sharded},
	{"MetricCounterAdd", 20000000, true, bench_metric_counter_add},
	{"SyscallHandoff", 10000000, true, bench_syscall_handoff},
	{"LimiterAllowN", 20000000, true, bench_limiter_allow_n},
	{"MapLoadMostlyHits", 10000000, true, bench_map_load_mostly_hits},
	{"MapLoadMostlyMisses", 10000000, true, bench_map_load_mostly_misses},
	{"MapLoadOrStoreBalanced", 2000000, true, bench_map_load_or_store_balanced},
	{"MapLoadOrStoreUnique", 1000000, true, bench_map_load_or_store_unique},
	{"MapLoadOrStoreCollision", 10000000, true, bench_map_load_or_store_collision},
	{"MapLoadAndDeleteBalanced", 5000000, true, bench_map_load_and_delete_balanced},
	{"MapLoadAndDeleteUnique", 10000000, true, bench_map_load_and_delete_unique},
	{"MapLoadAndDeleteCollision", 5000000, true, bench_map_load_and_delete_collision},
	{"MapRange", 20000, true, bench_map_range},
	{"MapAdversarialAlloc", 2000000, true, bench_map_adversarial_alloc},
	{"MapAdversarialDelete", 5000000, true, bench_map_adversarial_delete},
	{"MapDeleteCollision", 10000000, true, bench_map_delete_collision},
	{"RWMapLoadMostlyHits", 10000000, true, bench_rwmap_load_mostly_hits},
	{"RWMapLoadMostlyMisses", 10000000, true, bench_rwmap_load_mostly_misses},
	{"RWMapLoadOrStoreBalanced", 2000000, true, bench_rwmap_load_or_store_balanced},
	{"RWMapLoadOrStoreUnique", 1000000, true, bench_rwmap_load_or_store_unique},
	{"RWMapLoadOrStoreCollision", 10000000, true, bench_rwmap_load_or_store_collision},
	{"RWMapLoadAndDeleteBalanced", 5000000, true, bench_rwmap_load_and_delete_balanced},
	{"RWMapLoadAndDeleteUnique", 10000000, true, bench_rwmap_load_and_delete_unique},
	{"RWMapLoadAndDeleteCollision", 5000000, true, bench_rwmap_load_and_delete_collision},
	{"RWMapRange", 20000, true, bench_rwmap_range},
	{"RWMapAdversarialAlloc", 2000000, true, bench_rwmap_adversarial_alloc},
	{"RWMapAdversarialDelete", 5000000, true, bench_rwmap_adversarial_delete},
	{"RWMapDeleteCollision", 10000000, true, bench_rwmap_delete_collision},
	{"AllocPipeline", 5000000, true, bench_alloc_pipeline},
	{"AllocPipelineUnprofiled", 5000000, true, bench_alloc_pipeline_unprofiled},
	{"AllocPipelineMalloc", 5000000, true, bench_alloc_pipeline_malloc},
};

#define SUITE_LENGTH (sizeof suite / sizeof suite[0])

/* The command line, and what follows from it. */
struct options {
	const char *pattern;
	const char *scale_text; /* -scale as given, passed on to children */
	double scale;
	int procs;
	bool isolate;
	const char *serve_http; /* -serve-http: serve HTTPHello instead of the suite */
	const struct workload *chosen[SUITE_LENGTH];
	size_t chosen_count;
	int width; /* of the longest result-line name */
};

static const char usage_text[] =
	"usage: goc-bench [-run REGEX] [-procs N] [-scale F] [-isolate=false|true]\n"
	"       goc-bench [-procs N] -serve-http ADDR\n"
	"  -run REGEX      run the workloads whose name matches REGEX (POSIX extended,\n"
	"                  unanchored; default \".\")\n"
	"  -procs N        run goroutines on N Ps (goc_maxprocs); default: the CPUs\n"
	"  -scale F        multiply every workload's size by F (default 1)\n"
	"  -isolate=false  run the workloads in this process, not one child each\n"
	"  -serve-http ADDR  serve HTTPHello on ADDR until killed (for wrk)";

static _Noreturn __attribute__((format(printf, 1, 2))) void usage_error(const char *format, ...)
{
	va_list args;
	fputs("goc-bench: ", stderr);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
	exit(2);
}

/* The CPUs this process may run on, as Go's runtime.NumCPU counts them. */
static int cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		return CPU_COUNT(&set);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	return online > 0 ? (int)online : 1;
}

/* Go's strconv.ParseBool, which the flag package uses for -isolate=... */
static bool parse_bool(const char *flag, const char *text)
{
	static const char *const truths[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const falsehoods[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
		if (strcmp(text, truths[i]) == 0)
			return true;
		if (strcmp(text, falsehoods[i]) == 0)
			return false;
	}
	usage_error("invalid boolean value \"%s\" for -%s", text, flag);
}

/*
 * Reads the flags the way Go's flag package does, so that both programs
 * take the same command lines: "-name value", "-name=value", one or two
 * dashes, a bare "-isolate" meaning true, and "--" ending the flags.
 * Positional arguments are an error.
 */
static void parse_flags(int argc, char **argv, struct options *opt)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			if (i + 1 < argc)
				usage_error("unexpected argument \"%s\"\n%s", argv[i + 1],
					    usage_text);
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			usage_error("unexpected argument \"%s\"\n%s", arg, usage_text);
		char name[32];
		const char *start = arg + (arg[1] == '-' ? 2 : 1);
		const char *equals = strchr(start, '=');
		size_t length = equals ? (size_t)(equals - start) : strlen(start);
		snprintf(name, sizeof name, "%.*s", (int)length, start);
		const char *value = equals ? equals + 1 : NULL;

		if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
			fprintf(stderr, "%s\n", usage_text);
			exit(0);
		}
		if (strcmp(name, "isolate") == 0) {
			opt->isolate = value == NULL || parse_bool(name, value);
			continue;
		}
		if (strcmp(name, "run") != 0 && strcmp(name, "procs") != 0 &&
		    strcmp(name, "scale") != 0 && strcmp(name, "serve-http") != 0)
			usage_error("flag provided but not defined: -%s\n%s", name, usage_text);
		if (value == NULL) {
			if (++i == argc)
				usage_error("flag needs an argument: -%s\n%s", name, usage_text);
			value = argv[i];
		}
		char *end;
		errno = 0;
		if (strcmp(name, "run") == 0) {
			opt->pattern = value;
		} else if (strcmp(name, "serve-http") == 0) {
			opt->serve_http = value;
		} else if (strcmp(name, "procs") == 0) {
			long procs = strtol(value, &end, 0);
			if (*value == '\0' || *end != '\0' || errno != 0 || procs < 1 ||
			    procs > 256)
				usage_error(
					"-procs must be a whole number from 1 to 256, not \"%s\"",
					value);
			opt->procs = (int)procs;
		} else {
			opt->scale = strtod(value, &end);
			if (*value == '\0' || *end != '\0' || errno != 0 || !(opt->scale > 0) ||
			    isinf(opt->scale))
				usage_error("-scale must be a positive number, not \"%s\"", value);
			opt->scale_text = value;
		}
	}
}

/* Fills opt->chosen with the workloads whose name matches -run. */
static void choose_workloads(struct options *opt)
{
	regex_t re;
	int err = regcomp(&re, opt->pattern, REG_EXTENDED | REG_NOSUB);
	if (err != 0) {
		char message[256];
		regerror(err, &re, message, sizeof message);
		usage_error("bad -run pattern \"%s\": %s", opt->pattern, message);
	}
	for (size_t w = 0; w < SUITE_LENGTH; w++) {
		if (regexec(&re, suite[w].name, 0, NULL, 0) == 0) {
			opt->chosen[opt->chosen_count++] = &suite[w];
			int width = snprintf(NULL, 0, "Benchmark%s-%d", suite[w].name, opt->procs);
			if (width > opt->width)
				opt->width = width;
		}
	}
	regfree(&re);
	if (opt->chosen_count == 0)
		usage_error("no workload matches -run \"%s\"", opt->pattern);
}

/* The first "model name" of /proc/cpuinfo, or "" if there is none. */
static void cpu_model(char *out, size_t size)
{
	char line[512];
	FILE *info = fopen("/proc/cpuinfo", "r");
	out[0] = '\0';
	if (info == NULL)
		return;
	while (out[0] == '\0' && fgets(line, sizeof line, info) != NULL) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) != 0 || colon == NULL)
			continue;
		char *value = colon + 1 + strspn(colon + 1, " \t");
		value[strcspn(value, "\n")] = '\0';
		snprintf(out, size, "%s", value);
	}
	fclose(info);
}

/* The header lines, with the names Go uses for the OS and the CPU
 * architecture; runtime: tells goc's results from Go's. */
static void print_header(void)
{
	struct utsname host;
	char model[256];
	const char *goos = "unknown";
	if (uname(&host) == 0 && strcmp(host.sysname, "Linux") == 0)
		goos = "linux";
#if defined(__x86_64__)
	const char *goarch = "amd64";
#elif defined(__aarch64__)
	const char *goarch = "arm64";
#else
	const char *goarch = "unknown";
#endif
	printf("goos: %s\ngoarch: %s\npkg: gocbench\n", goos, goarch);
	cpu_model(model, sizeof model);
	if (model[0] != '\0')
		printf("cpu: %s\n", model);
	printf("runtime: goc %s\n", GOC_VERSION);
	fflush(stdout);
}

/* ---- in this process: the driver goroutine --------------------------- */

/* Runs w at the scaled size, after a warm-up run if it has one, and prints
 * its result line. Runs on the driver goroutine. */
static void measure(const struct workload *w, const struct options *opt)
{
	char label[64], warm_up_context[80];
	snprintf(label, sizeof label, "Benchmark%s-%d", w->name, opt->procs);
	snprintf(warm_up_context, sizeof warm_up_context, "%s: warm-up", label);
	double scaled = round((double)w->size * opt->scale);
	int64_t n = scaled > 1 ? (int64_t)scaled : 1;

	if (w->warm_up) {
		struct bench_run warm = {.n = n, .ops = n};
		bench_set_context(warm_up_context);
		w->run(&warm);
	}
	struct bench_run timed = {.n = n, .ops = n};
	bench_set_context(label);
	w->run(&timed);
	bench_print_result(label, opt->width, &timed);
}

/* The driver: the goroutine goc_main starts, which runs every chosen
 * workload in turn. Workloads must be driven from a goroutine, as Go's are
 * from the main goroutine, not from a thread outside the scheduler. */
static void driver(void *arg)
{
	const struct options *opt = arg;
	/* GOCMAXPROCS already started the runtime with opt->procs Ps; setting
	 * it again makes sure the count is right however the environment was
	 * read. */
	int set = goc_maxprocs(opt->procs);
	if (set < 0)
		bench_fail("goc_maxprocs(%d): %s", opt->procs, goc_strerror(set));
	for (size_t w = 0; w < opt->chosen_count; w++)
		measure(opt->chosen[w], opt);
}

/* ---- isolated: one child process per workload ------------------------- */

/*
 * Runs w in a child process, this program again with -isolate=false and a
 * -run pattern matching w alone, and stores in fields the part of the
 * child's result line after the name. A fresh process per workload keeps
 * the pools and heap one workload leaves behind out of the next one's
 * figures. The child reports its own failures on the shared stderr; the
 * parent adds how the child ended.
 */
static void run_in_child(const struct workload *w, const struct options *opt, const char *label,
			 char *fields, size_t size)
{
	char procs[16], pattern[64];
	snprintf(procs, sizeof procs, "%d", opt->procs);
	snprintf(pattern, sizeof pattern, "^%s$", w->name);
	char *argv[] = {"goc-bench", "-isolate=false", "-procs",
			procs,       "-scale",         (char *)opt->scale_text,
			"-run",      pattern,          NULL};

	int out[2];
	if (pipe(out) != 0) {
		fprintf(stderr, "goc-bench: %s: pipe: %s\n", label, strerror(errno));
		exit(1);
	}
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&actions, out[0]);
	posix_spawn_file_actions_addclose(&actions, out[1]);
	pid_t child;
	int err = posix_spawn(&child, "/proc/self/exe", &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	close(out[1]);
	if (err != 0) {
		fprintf(stderr, "goc-bench: %s: starting the child process: %s\n", label,
			strerror(err));
		exit(1);
	}

	/* Read the child's whole output, keeping its result line. */
	FILE *from_child = fdopen(out[0], "r");
	char line[1024];
	fields[0] = '\0';
	while (fgets(line, sizeof line, from_child) != NULL) {
		char *tab = strchr(line, '\t');
		if (strncmp(line, "Benchmark", 9) == 0 && tab != NULL) {
			tab[1 + strcspn(tab + 1, "\n")] = '\0';
			snprintf(fields, size, "%s", tab + 1);
		}
	}
	fclose(from_child);

	int status;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		continue;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "goc-bench: %s: child process killed by signal %d (%s)\n", label,
			WTERMSIG(status), strsignal(WTERMSIG(status)));
		exit(1);
	}
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "goc-bench: %s: child process exited with status %d\n", label,
			WEXITSTATUS(status));
		exit(1);
	}
	if (fields[0] == '\0') {
		fprintf(stderr, "goc-bench: %s: the child process printed no result line\n", label);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct options opt = {.pattern = ".", .scale_text = "1", .scale = 1, .isolate = true};
	opt.procs = cpu_count();
	parse_flags(argc, argv, &opt);
	if (opt.serve_http) {
		char procs[16];
		snprintf(procs, sizeof procs, "%d", opt.procs);
		setenv("GOCMAXPROCS", procs, 1);
		goc_main(bench_serve_hello, (void *)opt.serve_http);
		return 1;
	}
	choose_workloads(&opt);
	print_header();

	if (opt.isolate) {
		for (size_t w = 0; w < opt.chosen_count; w++) {
			char label[64], fields[1024];
			snprintf(label, sizeof label, "Benchmark%s-%d", opt.chosen[w]->name,
				 opt.procs);
			run_in_child(opt.chosen[w], &opt, label, fields, sizeof fields);
			printf("%-*s\t%s\n", opt.width, label, fields);
			fflush(stdout);
		}
		return 0;
	}

	/* GOCMAXPROCS is read when the runtime starts, so the Ps exist from the
	 * first goroutine on. */
	char procs[16];
	snprintf(procs, sizeof procs, "%d", opt.procs);
	setenv("GOCMAXPROCS", procs, 1);
	goc_main(driver, &opt);
	return 0;
}
