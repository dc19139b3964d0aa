/*
 * test_trace.c — the execution trace of a known program, checked event by
 * event.
 *
 * The program: "ping" and "pong" pass a token back and forth ROUNDS times
 * over one unbuffered channel; "sleeper" sleeps 5 ms; "short" returns at
 * once; the main goroutine waits for the four; then "reader" waits in
 * goc_fd_wait for a pipe that the main goroutine writes after 2 ms, and
 * the main goroutine blocks its thread for 3 ms in goc_blocking. The trace (goc/trace.h) is
 * read back line by line with a small JSON reader, and:
 *  - every goroutine's "create" instant comes before its first run slice,
 *    with the main goroutine as parent;
 *  - ping and pong block only with wait reason "chan send" or "chan
 *    receive", and are unblocked only by each other, once per block; on an
 *    unbuffered channel one side of every message waits, so the two block
 *    2 x ROUNDS times together (with one P each blocks ROUNDS times; with
 *    two, a sender may find its receiver already waiting); each has a run
 *    slice more than it blocks;
 *  - sleeper blocks with "sleep" and is unblocked by "timer";
 *  - short has a slice that ends with "exit";
 *  - the main goroutine's slice still open at goc_trace_stop ends with
 *    "stop";
 *  - reader blocks with "IO wait" and is unblocked by "netpoll";
 *  - the main goroutine's run ends with "syscall" at goc_blocking, and a
 *    "syscall" slice of at least 3 ms is on a track "M<n> syscalls";
 *  - slices on one P's track never overlap;
 *  - every flow start ("s") sits at an unblock instant and has exactly one
 *    finish ("f") with its id, no earlier, at the start of the unblocked
 *    goroutine's next run slice on its track;
 *  - the tracks are named "P0", "P1", ...;
 *  - python3 -m json.tool accepts the file, when python3 is installed.
 * Also: start with NULL or twice, and stop without a trace, fail as
 * documented. Run with GOCMAXPROCS=1 and 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define ROUNDS 200
#define MAX_FIELDS 24

/* ---- a small reader for the trace's one-event lines ---- */

/* An event: its fields as text, nested "args" keys as "args.key". */
typedef struct event {
	int nfields;
	char key[MAX_FIELDS][48];
	char value[MAX_FIELDS][80];
} event;

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Reads a JSON string at s (at the opening quote) into out; returns the
 * text after it, or NULL. Escapes are kept as written, except \" and \\. */
static const char *read_string(const char *s, char *out, size_t size)
{
	if (*s != '"')
		return NULL;
	size_t n = 0;
	for (s++; *s && *s != '"'; s++) {
		char c = *s;
		if (c == '\\') {
			s++;
			if (!*s)
				return NULL;
			c = *s;
		}
		if (n + 1 < size)
			out[n++] = c;
	}
	if (*s != '"')
		return NULL;
	out[n] = 0;
	return s + 1;
}

static const char *read_object(const char *s, event *e, const char *prefix);

static const char *read_value(const char *s, event *e, const char *key)
{
	s = skip_space(s);
	if (*s == '{')
		return read_object(s, e, key);
	CHECK(e->nfields < MAX_FIELDS, "too many fields");
	int i = e->nfields++;
	snprintf(e->key[i], sizeof e->key[i], "%s", key);
	if (*s == '"')
		return read_string(s, e->value[i], sizeof e->value[i]);
	size_t n = 0;
	while (*s && *s != ',' && *s != '}') {
		if (n + 1 < sizeof e->value[i])
			e->value[i][n++] = *s;
		s++;
	}
	e->value[i][n] = 0;
	return n ? s : NULL;
}

static const char *read_object(const char *s, event *e, const char *prefix)
{
	if (*s != '{')
		return NULL;
	s = skip_space(s + 1);
	if (*s == '}')
		return s + 1;
	for (;;) {
		char name[24], key[48];
		s = read_string(skip_space(s), name, sizeof name);
		if (!s)
			return NULL;
		s = skip_space(s);
		if (*s != ':')
			return NULL;
		snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", name);
		s = read_value(s + 1, e, key);
		if (!s)
			return NULL;
		s = skip_space(s);
		if (*s == '}')
			return s + 1;
		if (*s != ',')
			return NULL;
		s++;
	}
}

static const char *field(const event *e, const char *key)
{
	for (int i = 0; i < e->nfields; i++)
		if (strcmp(e->key[i], key) == 0)
			return e->value[i];
	return NULL;
}

static bool field_is(const event *e, const char *key, const char *want)
{
	const char *v = field(e, key);
	return v && strcmp(v, want) == 0;
}

static int64_t field_int(const event *e, const char *key)
{
	const char *v = field(e, key);
	return v ? strtoll(v, NULL, 10) : -1;
}

/* A time in the trace's microseconds with three decimals, as ns. */
static int64_t field_ns(const event *e, const char *key)
{
	const char *v = field(e, key);
	CHECK(v, "no %s", key);
	char *dot;
	int64_t us = strtoll(v, &dot, 10);
	CHECK(*dot == '.' && strlen(dot) == 4, "time %s is not in µs with 3 decimals", v);
	return us * 1000 + strtoll(dot + 1, NULL, 10);
}

static event *events;
static int nevents;

static void read_trace(const char *path)
{
	FILE *f = fopen(path, "r");
	CHECK(f, "open %s: %s", path, strerror(errno));
	char line[4096];
	CHECK(fgets(line, sizeof line, f), "empty trace");
	CHECK(strcmp(line, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n") == 0,
	      "first line: %s", line);
	int cap = 0;
	bool ended = false;
	while (fgets(line, sizeof line, f)) {
		CHECK(!ended, "text after the end: %s", line);
		if (strcmp(line, "]}\n") == 0) {
			ended = true;
			continue;
		}
		if (nevents == cap) {
			cap = cap ? 2 * cap : 1024;
			events = realloc(events, (size_t)cap * sizeof *events);
			CHECK(events, "out of memory");
		}
		event *e = &events[nevents];
		memset(e, 0, sizeof *e);
		const char *rest = read_object(line, e, "");
		CHECK(rest, "bad event line: %s", line);
		CHECK(strcmp(rest, ",\n") == 0 || strcmp(rest, "\n") == 0, "line ends with %s",
		      rest);
		CHECK(field(e, "ph") && field(e, "pid") && field(e, "tid"),
		      "event without ph/pid/tid: %s", line);
		nevents++;
	}
	CHECK(ended, "the trace does not end with ]}");
	fclose(f);
}

/* ---- the traced program ---- */

static goc_chan *token;
static goc_wg done = GOC_WG_INIT;
static int64_t ping_id, pong_id, sleeper_id, short_id, reader_id, main_id;

static void ping(void *arg)
{
	(void)arg;
	int v = 0;
	for (int i = 0; i < ROUNDS; i++) {
		goc_chan_send(token, &v);
		CHECK(goc_chan_recv(token, &v) == GOC_OK, "recv");
	}
	goc_wg_done(&done);
}

static void pong(void *arg)
{
	(void)arg;
	int v = 0;
	for (int i = 0; i < ROUNDS; i++) {
		CHECK(goc_chan_recv(token, &v) == GOC_OK, "recv");
		v++;
		goc_chan_send(token, &v);
	}
	goc_wg_done(&done);
}

static void sleeper(void *arg)
{
	(void)arg;
	goc_sleep(5 * GOC_MILLISECOND);
	goc_wg_done(&done);
}

static int wake_pipe[2];

static void reader(void *arg)
{
	(void)arg;
	CHECK(goc_fd_wait(wake_pipe[0], GOC_FD_READ, 0) > 0, "goc_fd_wait");
	goc_wg_done(&done);
}

static void *block_thread(void *arg)
{
	usleep(3000);
	return arg;
}

static void short_lived(void *arg)
{
	(void)arg;
	goc_wg_done(&done);
}

static int64_t spawn_named(goc_fn fn, const char *name)
{
	goc_go_options opts = {.name = name};
	int64_t id = goc_go_opts(fn, NULL, &opts);
	CHECK(id > 0, "spawn %s", name);
	return id;
}

static char trace_path[64];

static void traced_program(void *arg)
{
	(void)arg;
	main_id = goc_id();
	FILE *f = fdopen(mkstemp(trace_path), "w");
	CHECK(f, "temporary file: %s", strerror(errno));
	CHECK(goc_trace_start(NULL) == -EINVAL, "start(NULL)");
	CHECK(goc_trace_stop() == -EINVAL, "stop without a trace");
	CHECK(goc_trace_start(f) == GOC_OK, "start");
	CHECK(goc_trace_start(f) == -EBUSY, "second start");
	token = goc_chan_make(sizeof(int), 0);
	goc_wg_add(&done, 4);
	ping_id = spawn_named(ping, "ping");
	pong_id = spawn_named(pong, "pong");
	sleeper_id = spawn_named(sleeper, "sleeper");
	short_id = spawn_named(short_lived, "short");
	goc_wg_wait(&done);
	CHECK(pipe2(wake_pipe, O_NONBLOCK) == 0, "pipe");
	goc_wg_add(&done, 1);
	reader_id = spawn_named(reader, "reader");
	goc_sleep(2 * GOC_MILLISECOND);
	CHECK(write(wake_pipe[1], "x", 1) == 1, "write");
	goc_wg_wait(&done);
	goc_blocking(block_thread, NULL);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	goc_status st = goc_trace_stop();
	CHECK(st == GOC_OK, "stop: %s", goc_strerror(st));
	CHECK(fclose(f) == 0, "close");
	goc_chan_release(token);
}

/* ---- checks ---- */

static bool is_slice_of(const event *e, int64_t id)
{
	return field_is(e, "ph", "X") && field_is(e, "cat", "goroutine") &&
		field_int(e, "args.goroutine") == id;
}

static bool is_unblock_of(const event *e, int64_t id)
{
	return field_is(e, "ph", "i") && field_is(e, "cat", "unblock") &&
		field_int(e, "args.goroutine") == id;
}

static void check_created_before_run(int64_t id, const char *name)
{
	int64_t created = -1, first_run = INT64_MAX;
	for (int i = 0; i < nevents; i++) {
		const event *e = &events[i];
		if (field_is(e, "cat", "create") && field_int(e, "args.goroutine") == id) {
			CHECK(created < 0, "%s created twice", name);
			created = field_ns(e, "ts");
			CHECK(field_int(e, "args.parent") == main_id, "%s's parent is %s", name,
			      field(e, "args.parent"));
			CHECK(field_is(e, "args.name", name), "%s created with name %s", name,
			      field(e, "args.name"));
		}
		if (is_slice_of(e, id) && field_ns(e, "ts") < first_run)
			first_run = field_ns(e, "ts");
	}
	CHECK(created >= 0, "no create event for %s", name);
	CHECK(first_run != INT64_MAX, "%s never ran", name);
	CHECK(created <= first_run, "%s ran (%lld ns) before it was created (%lld ns)", name,
	      (long long)first_run, (long long)created);
}

/* Returns how often the goroutine blocked on the channel. */
static int check_ping_pong(int64_t id, int64_t other, const char *name)
{
	int slices = 0, chan_blocks = 0, by_other = 0;
	char other_text[24];
	snprintf(other_text, sizeof other_text, "%lld", (long long)other);
	for (int i = 0; i < nevents; i++) {
		const event *e = &events[i];
		if (is_slice_of(e, id)) {
			slices++;
			if (field_is(e, "args.end", "block")) {
				CHECK(field_is(e, "args.wait", "chan send") ||
					      field_is(e, "args.wait", "chan receive"),
				      "%s blocked in %s", name, field(e, "args.wait"));
				chan_blocks++;
			}
		}
		if (is_unblock_of(e, id)) {
			CHECK(field_is(e, "args.by", other_text), "%s unblocked by %s", name,
			      field(e, "args.by"));
			by_other++;
		}
	}
	CHECK(slices == chan_blocks + 1, "%s: %d run slices for %d blocks", name, slices,
	      chan_blocks);
	CHECK(by_other == chan_blocks, "%s: %d unblocks for %d blocks", name, by_other,
	      chan_blocks);
	return chan_blocks;
}

static void check_sleeper(void)
{
	bool slept = false, woken = false;
	for (int i = 0; i < nevents; i++) {
		const event *e = &events[i];
		if (is_slice_of(e, sleeper_id) && field_is(e, "args.end", "block")) {
			CHECK(field_is(e, "args.wait", "sleep"), "sleeper blocked in %s",
			      field(e, "args.wait"));
			slept = true;
		}
		if (is_unblock_of(e, sleeper_id)) {
			CHECK(field_is(e, "args.by", "timer"), "sleeper unblocked by %s",
			      field(e, "args.by"));
			woken = true;
		}
	}
	CHECK(slept && woken, "sleeper: slept %d, woken %d", slept, woken);
}

static void check_ends(void)
{
	bool short_exited = false, main_stopped = false;
	for (int i = 0; i < nevents; i++) {
		const event *e = &events[i];
		if (is_slice_of(e, short_id) && field_is(e, "args.end", "exit"))
			short_exited = true;
		if (is_slice_of(e, main_id) && field_is(e, "args.end", "stop"))
			main_stopped = true;
	}
	CHECK(short_exited, "short has no slice ending with exit");
	CHECK(main_stopped, "the main goroutine's last slice does not end with stop");
}

static void check_reader_and_syscall(void)
{
	bool io_wait = false, by_netpoll = false, main_syscall = false, syscall_slice = false;
	for (int i = 0; i < nevents; i++) {
		const event *e = &events[i];
		if (is_slice_of(e, reader_id) && field_is(e, "args.end", "block"))
			io_wait = field_is(e, "args.wait", "IO wait");
		if (is_unblock_of(e, reader_id)) {
			CHECK(field_is(e, "args.by", "netpoll"), "reader unblocked by %s",
			      field(e, "args.by"));
			by_netpoll = true;
		}
		if (is_slice_of(e, main_id) && field_is(e, "args.end", "syscall"))
			main_syscall = true;
		if (field_is(e, "ph", "X") && field_is(e, "name", "syscall") &&
		    field_int(e, "args.goroutine") == main_id) {
			CHECK(field_int(e, "tid") >= 1000, "syscall slice on track %s",
			      field(e, "tid"));
			CHECK(field_ns(e, "dur") >= 3 * GOC_MILLISECOND, "syscall of %s us",
			      field(e, "dur"));
			char want[32];
			snprintf(want, sizeof want, "M%lld syscalls",
				 (long long)field_int(e, "tid") - 1000);
			bool named = false;
			for (int j = 0; j < nevents; j++)
				if (field_is(&events[j], "name", "thread_name") &&
				    field_int(&events[j], "tid") == field_int(e, "tid"))
					named = field_is(&events[j], "args.name", want);
			CHECK(named, "syscall track %s is not named %s", field(e, "tid"), want);
			syscall_slice = true;
		}
	}
	CHECK(io_wait && by_netpoll, "reader: IO wait %d, by netpoll %d", io_wait, by_netpoll);
	CHECK(main_syscall && syscall_slice, "main: run ending in syscall %d, syscall slice %d",
	      main_syscall, syscall_slice);
}

static int compare_slices(const void *a, const void *b)
{
	const event *x = *(event *const *)a, *y = *(event *const *)b;
	int64_t tx = field_int(x, "tid"), ty = field_int(y, "tid");
	if (tx != ty)
		return tx < ty ? -1 : 1;
	int64_t sx = field_ns(x, "ts"), sy = field_ns(y, "ts");
	return sx < sy ? -1 : sx > sy;
}

static void check_no_overlap(int procs)
{
	event **slices = malloc((size_t)nevents * sizeof *slices);
	int n = 0;
	for (int i = 0; i < nevents; i++)
		if (field_is(&events[i], "ph", "X") && field_is(&events[i], "cat", "goroutine")) {
			int64_t tid = field_int(&events[i], "tid");
			CHECK(tid >= 1 && tid <= procs, "run slice on track %lld", (long long)tid);
			slices[n++] = &events[i];
		}
	qsort(slices, (size_t)n, sizeof *slices, compare_slices);
	for (int i = 1; i < n; i++) {
		if (field_int(slices[i], "tid") != field_int(slices[i - 1], "tid"))
			continue;
		int64_t end = field_ns(slices[i - 1], "ts") + field_ns(slices[i - 1], "dur");
		CHECK(end <= field_ns(slices[i], "ts"),
		      "slices overlap on track %s: %s (ends %lld) and %s (starts %lld)",
		      field(slices[i], "tid"), field(slices[i - 1], "name"), (long long)end,
		      field(slices[i], "name"), (long long)field_ns(slices[i], "ts"));
	}
	free(slices);
}

/* The slice of goroutine id starting at ns on track tid exists. */
static bool slice_starts(int64_t tid, int64_t ns, int64_t id)
{
	for (int i = 0; i < nevents; i++)
		if (is_slice_of(&events[i], id) && field_int(&events[i], "tid") == tid &&
		    field_ns(&events[i], "ts") == ns)
			return true;
	return false;
}

/* The goroutine whose unblock instant the flow start s belongs to: the
 * unblock at the same instant on the same track. */
static int64_t flow_goroutine(const event *s)
{
	for (int i = 0; i < nevents; i++) {
		const event *e = &events[i];
		if (field_is(e, "ph", "i") && field_is(e, "cat", "unblock") &&
		    field_int(e, "tid") == field_int(s, "tid") &&
		    field_ns(e, "ts") == field_ns(s, "ts"))
			return field_int(e, "args.goroutine");
	}
	return -1;
}

static void check_flows(void)
{
	int starts = 0;
	for (int i = 0; i < nevents; i++) {
		const event *s = &events[i];
		if (!field_is(s, "ph", "s"))
			continue;
		starts++;
		const event *finish = NULL;
		for (int j = 0; j < nevents; j++) {
			const event *f = &events[j];
			if (j != i && field_int(f, "id") == field_int(s, "id") &&
			    (field_is(f, "ph", "s") || field_is(f, "ph", "f"))) {
				CHECK(!finish && field_is(f, "ph", "f"), "flow id %s used twice",
				      field(s, "id"));
				finish = f;
			}
		}
		CHECK(finish, "flow %s from %s us has no finish", field(s, "id"), field(s, "ts"));
		CHECK(field_ns(finish, "ts") >= field_ns(s, "ts"), "flow %s ends before it starts",
		      field(s, "id"));
		int64_t g = flow_goroutine(s);
		CHECK(g > 0, "flow %s starts at no unblock", field(s, "id"));
		CHECK(slice_starts(field_int(finish, "tid"), field_ns(finish, "ts"), g),
		      "flow %s's finish at %s us is not the start of G%lld's run", field(s, "id"),
		      field(finish, "ts"), (long long)g);
	}
	CHECK(starts >= 2 * (ROUNDS - 1), "only %d flows", starts);
}

static void check_track_names(int procs)
{
	for (int p = 0; p < procs; p++) {
		char want[16];
		snprintf(want, sizeof want, "P%d", p);
		bool named = false;
		for (int i = 0; i < nevents; i++)
			if (field_is(&events[i], "name", "thread_name") &&
			    field_int(&events[i], "tid") == p + 1 &&
			    field_is(&events[i], "args.name", want))
				named = true;
		CHECK(named, "no track named %s", want);
	}
}

static void check_json_tool(void)
{
	if (system("python3 -c '' >/dev/null 2>&1") != 0) {
		printf("python3 not found: json.tool check skipped\n");
		return;
	}
	char cmd[160];
	snprintf(cmd, sizeof cmd, "python3 -m json.tool %s >/dev/null", trace_path);
	CHECK(system(cmd) == 0, "python3 -m json.tool rejects %s", trace_path);
}

int main(void)
{
	snprintf(trace_path, sizeof trace_path, "/tmp/goc-test-trace-XXXXXX");
	goc_main(traced_program, NULL);
	int procs = goc_maxprocs(0);
	read_trace(trace_path);
	check_created_before_run(ping_id, "ping");
	check_created_before_run(pong_id, "pong");
	check_created_before_run(sleeper_id, "sleeper");
	check_created_before_run(short_id, "short");
	ok("create precedes the first run");
	int ping_blocks = check_ping_pong(ping_id, pong_id, "ping");
	int pong_blocks = check_ping_pong(pong_id, ping_id, "pong");
	CHECK(ping_blocks + pong_blocks == 2 * ROUNDS, "ping blocked %d times, pong %d",
	      ping_blocks, pong_blocks);
	if (procs == 1)
		CHECK(ping_blocks == ROUNDS && pong_blocks == ROUNDS,
		      "with one P: ping blocked %d times, pong %d", ping_blocks, pong_blocks);
	ok("ping and pong block on the channel and unblock each other");
	check_sleeper();
	ok("the sleeper blocks in sleep and the timer unblocks it");
	check_ends();
	ok("short ends with exit, main with stop");
	check_reader_and_syscall();
	ok("reader unblocked by netpoll; goc_blocking is a syscall slice");
	check_no_overlap(procs);
	ok("slices of one P never overlap");
	check_flows();
	ok("every flow start has its finish at the start of a run");
	check_track_names(procs);
	ok("tracks named P0..");
	check_json_tool();
	ok("valid JSON");
	unlink(trace_path);
	free(events);
	return 0;
}
