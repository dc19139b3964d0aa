/*
 * test_golimit.c — the cap on live goroutines:
 *
 *  - at the cap goc_go and goc_go_opts return -EAGAIN, and
 *    succeed again once some goroutines finished; removing the cap lifts
 *    it; goc_set_max_goroutines returns the previous cap;
 *  - spawners racing on every P never overshoot the cap;
 *  - GOCDEBUG=maxgoroutines=N sets it at start-up (among other settings),
 *    and a bad value is reported and ignored, in a child process.
 */
#include <errno.h>
#include <string.h>

#include "testutil.h"
#include "waitfor.h"

static void park_on(void *arg)
{
	goc_chan_recv(arg, NULL);
	goc_chan_release(arg);
}

static void cap_and_recover(void)
{
	goc_chan *release = goc_chan_make(0, 0);
	int64_t base = goc_num_goroutine();
	CHECK(goc_set_max_goroutines(base + 10) == 0, "a cap was already set");
	CHECK(goc_set_max_goroutines(-1) == base + 10, "reading the cap");
	for (int i = 0; i < 10; i++)
		CHECK(goc_go(park_on, goc_chan_retain(release)) > 0, "spawn %d under the cap", i);
	goc_chan *extra = goc_chan_retain(release);
	int64_t refused = goc_go(park_on, extra);
	CHECK(refused == -EAGAIN, "spawn at the cap: %lld", (long long)refused);
	goc_go_options opts = {.name = "over"};
	CHECK(goc_go_opts(park_on, extra, &opts) == -EAGAIN, "goc_go_opts at the cap");
	/* Three finish: three more fit, not four. */
	for (int i = 0; i < 3; i++)
		goc_chan_send(release, NULL);
	WAIT_FOR(goc_num_goroutine() <= base + 7, "%lld goroutines, want %lld after three finished",
		 (long long)goc_num_goroutine(), (long long)(base + 7));
	for (int i = 0; i < 3; i++)
		CHECK(goc_go(park_on, goc_chan_retain(release)) > 0, "spawn %d after some finished",
		      i);
	CHECK(goc_go(park_on, extra) == -EAGAIN, "the cap again");
	CHECK(goc_set_max_goroutines(0) == base + 10, "previous cap");
	CHECK(goc_go(park_on, extra) > 0, "no cap");
	for (int i = 0; i < 11; i++)
		goc_chan_send(release, NULL);
	goc_chan_release(release);
	WAIT_FOR(goc_num_goroutine() <= base, "%lld goroutines left, want %lld",
		 (long long)goc_num_goroutine(), (long long)base);
	ok("at the cap goc_go returns -EAGAIN, and recovers");
}

struct spawner {
	goc_chan *start, *release;
	int64_t started;
	goc_wg *finished;
};

static void spawn_until_refused(void *arg)
{
	struct spawner *s = arg;
	goc_chan_recv(s->start, NULL);
	for (int i = 0; i < 1000; i++) {
		goc_chan *ref = goc_chan_retain(s->release);
		int64_t id = goc_go(park_on, ref);
		if (id < 0) {
			CHECK(id == -EAGAIN, "goc_go returned %lld", (long long)id);
			goc_chan_release(ref);
			if (i % 16 == 15)
				goc_yield();
			continue;
		}
		s->started++;
	}
	goc_wg_done(s->finished);
}

static void racing_spawners(void)
{
	enum { SPAWNERS = 4 };
	long cap_above = test_size(300, 200, 100);
	goc_chan *start = goc_chan_make(0, 0), *release = goc_chan_make(0, 0);
	goc_wg finished = GOC_WG_INIT;
	struct spawner s[SPAWNERS];
	int64_t base = goc_num_goroutine();
	goc_wg_add(&finished, SPAWNERS);
	for (int i = 0; i < SPAWNERS; i++) {
		s[i] = (struct spawner){start, release, 0, &finished};
		CHECK(goc_go(spawn_until_refused, &s[i]), "spawner");
	}
	goc_set_max_goroutines(base + SPAWNERS + cap_above);
	goc_chan_close(start);
	goc_wg_wait(&finished);
	goc_chan_release(start);
	int64_t started = 0;
	for (int i = 0; i < SPAWNERS; i++)
		started += s[i].started;
	/* The spawners may have finished before the last spawn: at least
	 * cap_above, at most cap_above plus the spawners' own slots. */
	CHECK(started >= cap_above && started <= cap_above + SPAWNERS, "started %lld with %ld free",
	      (long long)started, cap_above);
	CHECK(goc_num_goroutine() <= base + SPAWNERS + cap_above, "overshot the cap");
	goc_set_max_goroutines(0);
	for (int64_t i = 0; i < started; i++)
		goc_chan_send(release, NULL);
	goc_chan_release(release);
	ok("racing spawners never overshoot the cap");
}

static void main_g(void *arg)
{
	(void)arg;
	cap_and_recover();
	racing_spawners();
}

static void print_cap(void *arg)
{
	(void)arg;
	printf("cap=%lld\n", (long long)goc_set_max_goroutines(-1));
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "print_cap") == 0) {
		goc_main(print_cap, NULL);
		return 0;
	}
	goc_main(main_g, NULL);
	const char *env[] = {"GOCDEBUG=schedtrace=0,maxgoroutines=1234,other=1", NULL};
	child_result r = run_self(argv[0], "print_cap", env);
	CHECK(r.exited && r.status == 0 && contains(r.out, "cap=1234"), "GOCDEBUG:\n%s", r.out);
	free(r.out);
	const char *bad[] = {"GOCDEBUG=maxgoroutines=lots", NULL};
	r = run_self(argv[0], "print_cap", bad);
	CHECK(r.exited && r.status == 0 && contains(r.out, "cap=0") &&
		      contains(r.out, "goc: ignoring GOCDEBUG maxgoroutines=lots"),
	      "bad GOCDEBUG:\n%s", r.out);
	free(r.out);
	ok("GOCDEBUG=maxgoroutines=N");
	return 0;
}
