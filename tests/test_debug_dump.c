/*
 * test_debug_dump.c — goroutine dumps with symbolized stacks (goc_dump),
 * the SIGQUIT dump, and the deadlock and stack overflow reports, which use
 * the same printer.
 *
 * The main goroutine plants goroutines blocked in known functions of this
 * file (noinline, so each is a frame of its own): a receive, a send, a
 * select, a sleep and a mutex; the receiver is also named. Then:
 *  - in process: goc_dump into a memory stream. Each planted goroutine's
 *    entry (found by the id goc_go returned) must show its wait reason, its
 *    function and this file in its stack, the goc call it blocks in, and
 *    "created by plant_goroutines in goroutine 1" with this file and the
 *    line of the goc_go call. The caller itself comes first, "[running]",
 *    with dump_and_check in its stack.
 *  - "sigquit" (child): plants, then sends itself SIGQUIT: "SIGQUIT: quit",
 *    the planted goroutines with their stacks, and exit status 2.
 *  - "sigquit_ignored" (child, started with SIGQUIT ignored): the same dump.
 *  - "sigquit_off" (child, GOCDEBUG=sigquit=0): SIGQUIT kills it as the
 *    default action does; goc_sigquit_dump(true) turns the dump back on.
 *  - "deadlock" (child): the main goroutine blocks forever in
 *    deadlocked_receive: the deadlock report names it with this file.
 *  - "overflow" (child): a goroutine recurses into its guard page: the
 *    report shows recurse_without_end and this file (printed by sysmon for
 *    the fault handler), and the process dies of SIGABRT.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"

static goc_chan *never_sent, *never_received, *select_a, *select_b;
static goc_mutex held = GOC_MUTEX_INIT;
static goc_wg planted;
static int64_t ids[5];
static int sink; /* atomic: keeps calls from being tail calls */
static int spawn_line;

__attribute__((noinline)) static void blocked_in_recv(void *arg)
{
	(void)arg;
	goc_wg_done(&planted);
	goc_chan_recv(never_sent, NULL);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED); /* not a tail call */
}

__attribute__((noinline)) static void blocked_in_send(void *arg)
{
	(void)arg;
	int v = 1;
	goc_wg_done(&planted);
	goc_chan_send(never_received, &v);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED); /* not a tail call */
}

__attribute__((noinline)) static void blocked_in_select(void *arg)
{
	(void)arg;
	goc_select_case cases[2] = {{.chan = select_a, .dir = GOC_SELECT_RECV},
				    {.chan = select_b, .dir = GOC_SELECT_RECV}};
	goc_wg_done(&planted);
	goc_select(cases, 2, GOC_NO_TIMEOUT);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED); /* not a tail call */
}

__attribute__((noinline)) static void blocked_in_sleep(void *arg)
{
	(void)arg;
	goc_wg_done(&planted);
	goc_sleep(GOC_HOUR);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED); /* not a tail call */
}

__attribute__((noinline)) static void blocked_in_mutex(void *arg)
{
	(void)arg;
	goc_wg_done(&planted);
	goc_mutex_lock(&held);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED); /* not a tail call */
}

/* Ends in a tail call at -O2: a jump into goc_chan_recv that leaves no
 * frame of its own. The dump shows it all the same, as the goroutine's
 * start function. */
static goc_chan *tail_chan;
static int64_t tail_id;
__attribute__((noinline)) static void blocked_by_tail_call(void *arg)
{
	(void)arg;
	goc_chan_recv(tail_chan, NULL);
}

static const char *const planted_funcs[5] = {"blocked_in_recv", "blocked_in_send",
					     "blocked_in_select", "blocked_in_sleep",
					     "blocked_in_mutex"};
static const char *const planted_reasons[5] = {"chan receive", "chan send", "select", "sleep",
					       "sync.Mutex.Lock"};
/* Where in goc each blocks (the public call itself may be a tail call,
 * which leaves no frame). */
static const char *const planted_files[5] = {
	"/src/chan/chan.c:", "/src/chan/chan.c:", "/src/chan/select.c:", "/src/time/timer.c:",
	"/src/sync/"};

__attribute__((noinline)) static void plant_goroutines(void)
{
	never_sent = goc_chan_make(sizeof(int), 0);
	never_received = goc_chan_make(sizeof(int), 0);
	select_a = goc_chan_make(0, 0);
	select_b = goc_chan_make(0, 0);
	goc_mutex_lock(&held);
	goc_wg_init(&planted);
	goc_wg_add(&planted, 5);
	goc_go_options named = {.name = "planted-receiver"};
	spawn_line = __LINE__ + 1;
	ids[0] = goc_go_opts(blocked_in_recv, NULL, &named);
	ids[1] = goc_go(blocked_in_send, NULL);
	ids[2] = goc_go(blocked_in_select, NULL);
	ids[3] = goc_go(blocked_in_sleep, NULL);
	ids[4] = goc_go(blocked_in_mutex, NULL);
	tail_chan = goc_chan_make(0, 0);
	tail_id = goc_go(blocked_by_tail_call, NULL);
	goc_wg_wait(&planted);
	/* From wg_done to parking takes a moment on another P. */
	goc_sleep(100 * GOC_MILLISECOND);
}

/* The entry of goroutine id in dump, up to the blank line ending it
 * (malloc'd), or NULL. */
static char *entry_of(const char *dump, int64_t id)
{
	char head[64];
	snprintf(head, sizeof head, "goroutine %lld [", (long long)id);
	const char *s = strstr(dump, head);
	if (!s)
		return NULL;
	const char *e = strstr(s, "\n\n");
	size_t n = e ? (size_t)(e - s) : strlen(s);
	return strndup(s, n);
}

/* Checks every planted goroutine's entry in dump. */
static void check_planted(const char *dump)
{
	char created[128];
	snprintf(created, sizeof created, "test_debug_dump.c:%d ", spawn_line);
	for (int i = 0; i < 5; i++) {
		char *e = entry_of(dump, ids[i]);
		CHECK(e, "no entry for goroutine %lld (%s) in:\n%s", (long long)ids[i],
		      planted_funcs[i], dump);
		char want[64];
		snprintf(want, sizeof want, "[%s, ", planted_reasons[i]);
		CHECK(contains(e, want), "want %s in:\n%s", want, e);
		snprintf(want, sizeof want, "%s(...)\n\t", planted_funcs[i]);
		CHECK(contains(e, want), "want frame %s in:\n%s", want, e);
		CHECK(contains(e, "/test_debug_dump.c:"), "want this file in:\n%s", e);
		CHECK(contains(e, planted_files[i]), "want %s in:\n%s", planted_files[i], e);
		CHECK(contains(e, "created by plant_goroutines in goroutine 1\n\t"),
		      "want the creator in:\n%s", e);
		if (i == 0) {
			CHECK(!spawn_line || contains(e, created),
			      "want the goc_go line %s in:\n%s", created, e);
			CHECK(contains(e, "\tname \"planted-receiver\"\n"), "want the name in:\n%s",
			      e);
		}
		/* The goroutine's function is the outermost frame: nothing of
		 * the runtime's entry below it. */
		const char *last = strstr(e, planted_funcs[i]);
		CHECK(last && !contains(last, "g_entry"), "g_entry shown in:\n%s", e);
		free(e);
	}
}

__attribute__((noinline)) static void dump_and_check(void)
{
	char *dump = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&dump, &len);
	CHECK(f, "open_memstream");
	goc_dump(f);
	fclose(f);
	check_planted(dump);
	char *tail = entry_of(dump, tail_id);
	CHECK(tail && contains(tail, "[chan receive") && contains(tail, "/src/chan/chan.c:") &&
		      contains(tail, "blocked_by_tail_call(...)\n\t") &&
		      !contains(tail, "g_entry") && contains(tail, "created by plant_goroutines"),
	      "want the start function of a goroutine ending in a tail call:\n%s",
	      tail ? tail : dump);
	free(tail);
	char first[64];
	snprintf(first, sizeof first, "goroutine %lld [running]:\n", (long long)goc_id());
	CHECK(strncmp(dump, first, strlen(first)) == 0, "want the caller first:\n%s", dump);
	char *self = entry_of(dump, goc_id());
	CHECK(contains(self, "dump_and_check(...)\n\t") && contains(self, "test_debug_dump.c:"),
	      "want the caller's stack:\n%s", self);
	free(self);
	free(dump);
	ok("goc_dump: wait reasons, symbolized stacks, creators");
}

static void dump_main(void *arg)
{
	(void)arg;
	plant_goroutines();
	dump_and_check();
}

static void sigquit_main(void *arg)
{
	(void)arg;
	plant_goroutines();
	printf("planted %lld %lld %lld %lld %lld\n", (long long)ids[0], (long long)ids[1],
	       (long long)ids[2], (long long)ids[3], (long long)ids[4]);
	fflush(stdout);
	raise(SIGQUIT);
	/* Short sleeps: under TSan a signal to a thread blocked in the kernel
	 * is handled only once that thread wakes. */
	for (int i = 0; i < 3000; i++)
		goc_sleep(10 * GOC_MILLISECOND);
	printf("still alive after SIGQUIT\n");
}

static void sigquit_off_main(void *arg)
{
	(void)arg;
	CHECK(!goc_sigquit_dump(true), "GOCDEBUG=sigquit=0: want it off");
	CHECK(goc_sigquit_dump(false), "want it on after goc_sigquit_dump(true)");
	printf("about to quit\n");
	fflush(stdout);
	raise(SIGQUIT);
	for (int i = 0; i < 3000; i++)
		goc_sleep(10 * GOC_MILLISECOND);
}

__attribute__((noinline)) static void deadlocked_receive(void)
{
	goc_chan_recv(never_sent, NULL);
	__atomic_fetch_add(&sink, 1, __ATOMIC_RELAXED);
}

static void deadlock_main(void *arg)
{
	(void)arg;
	never_sent = goc_chan_make(sizeof(int), 0);
	deadlocked_receive();
}

__attribute__((noinline)) static int recurse_without_end(int depth)
{
	volatile char frame[512];
	for (size_t i = 0; i < sizeof frame; i++)
		frame[i] = (char)(depth + (int)i);
	if (depth == -1)
		return frame[0];
	return recurse_without_end(depth + 1) + frame[depth % 512];
}

static void overflowing(void *arg)
{
	(void)arg;
	__atomic_store_n(&sink, recurse_without_end(0), __ATOMIC_RELAXED);
}

static void overflow_main(void *arg)
{
	(void)arg;
	goc_go(overflowing, NULL);
	goc_sleep(30 * GOC_SECOND);
}

static void run_mode(const char *mode)
{
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	if (strcmp(mode, "sigquit") == 0) {
		goc_main(sigquit_main, NULL);
	} else if (strcmp(mode, "sigquit_ignored") == 0) {
		/* As `prog &` from a shell script starts it. */
		signal(SIGQUIT, SIG_IGN);
		goc_main(sigquit_main, NULL);
	} else if (strcmp(mode, "sigquit_off") == 0) {
		goc_main(sigquit_off_main, NULL);
	} else if (strcmp(mode, "deadlock") == 0) {
		goc_main(deadlock_main, NULL);
	} else if (strcmp(mode, "overflow") == 0) {
		goc_main(overflow_main, NULL);
	} else {
		CHECK(0, "unknown mode %s", mode);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		alarm(60);
		run_mode(argv[1]);
		return 0;
	}
	goc_main(dump_main, NULL);

	child_result r = run_self(argv[0], "sigquit", NULL);
	CHECK(r.exited && r.status == 2, "sigquit: want exit status 2, got %s %d:\n%s",
	      r.exited ? "exit" : "signal", r.status, r.out);
	CHECK(contains(r.out, "SIGQUIT: quit\n"), "sigquit:\n%s", r.out);
	long long got[5];
	const char *line = strstr(r.out, "planted ");
	CHECK(line &&
		      sscanf(line, "planted %lld %lld %lld %lld %lld", &got[0], &got[1], &got[2],
			     &got[3], &got[4]) == 5,
	      "sigquit: no ids:\n%s", r.out);
	for (int i = 0; i < 5; i++)
		ids[i] = got[i];
	spawn_line = 0; /* the child's; not known here */
	check_planted(r.out);
	CHECK(!contains(r.out, "still alive"), "sigquit:\n%s", r.out);
	free(r.out);
	ok("SIGQUIT dumps every goroutine and exits with status 2");

	r = run_self(argv[0], "sigquit_ignored", NULL);
	CHECK(r.exited && r.status == 2 && contains(r.out, "SIGQUIT: quit\n") &&
		      !contains(r.out, "still alive"),
	      "SIGQUIT inherited as ignored: want the dump and exit status 2, got %s %d:\n%s",
	      r.exited ? "exit" : "signal", r.status, r.out);
	free(r.out);
	ok("SIGQUIT inherited as ignored still dumps (as in Go)");

	static const char *const sigquit_off[] = {"GOCDEBUG=sigquit=0", NULL};
	r = run_self(argv[0], "sigquit_off", sigquit_off);
	CHECK(!r.exited && r.status == SIGQUIT && contains(r.out, "about to quit") &&
		      !contains(r.out, "SIGQUIT: quit"),
	      "sigquit=0: want death by SIGQUIT without a dump, got %s %d:\n%s",
	      r.exited ? "exit" : "signal", r.status, r.out);
	free(r.out);
	ok("GOCDEBUG=sigquit=0 and goc_sigquit_dump(false) leave SIGQUIT alone");

	if (deadlock_reports_expected("the deadlock report's stack")) {
		r = run_self(argv[0], "deadlock", NULL);
		CHECK(r.exited && r.status == 2 &&
			      contains(r.out, "fatal error: all goroutines are asleep - deadlock!"),
		      "deadlock:\n%s", r.out);
		CHECK(contains(r.out, "goroutine 1 [chan receive") &&
			      contains(r.out, "deadlocked_receive(...)\n\t") &&
			      contains(r.out, "/test_debug_dump.c:") &&
			      contains(r.out, "/src/chan/chan.c:"),
		      "deadlock report without the stack:\n%s", r.out);
		free(r.out);
		ok("the deadlock report shows symbolized stacks");
	}

	r = run_self(argv[0], "overflow", NULL);
	CHECK(!r.exited && r.status == SIGABRT, "overflow: want SIGABRT, got %s %d:\n%s",
	      r.exited ? "exit" : "signal", r.status, r.out);
	CHECK(contains(r.out, ": stack overflow (hit the guard page") &&
		      contains(r.out, "recurse_without_end(...)\n\t") &&
		      contains(r.out, "/test_debug_dump.c:") &&
		      contains(r.out, "created by overflow_main in goroutine 1"),
	      "overflow report without a symbolized stack:\n%s", r.out);
	free(r.out);
	ok("the stack overflow report shows symbolized stacks");
	return 0;
}
