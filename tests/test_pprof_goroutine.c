/*
 * test_pprof_goroutine.c — the goroutine profile lists the planted
 * goroutines with their functions.
 *
 * Three goroutines named "planted" wait on a channel in
 * park_on_channel_planted, and one waits on a wait group in
 * park_on_waitgroup_planted, when the profile is taken. Read back
 * (pprofutil.c): the sample type is Go's (goroutine/count); each planted
 * goroutine is one sample of count 1 whose stack has its function, with
 * its id, its name and its wait reason as labels ("chan receive",
 * "sync.WaitGroup.Wait"); the caller is there, "running", in
 * take_profile_planted. A fifth, tail_parker_planted, ends in a tail call
 * into goc_chan_recv and is shown by its start function all the same. With `go` installed, `go tool pprof -top -cum`
 * lists park_on_channel_planted before the other functions of this
 * program but the roots.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pprofutil.h"
#include "testutil.h"

#define CHANNEL_PARKERS 3

static const char *const own_functions[] = {
	"park_on_channel_planted",
	"park_on_waitgroup_planted",
	"take_profile_planted",
	NULL,
};

static char profile_path[] = "/tmp/goc-test-goroutine-XXXXXX";
static goc_chan *parking_channel;
static goc_wg parking_wg = GOC_WG_INIT, done_wg = GOC_WG_INIT;

__attribute__((noinline)) void park_on_channel_planted(void)
{
	int v;
	goc_chan_recv(parking_channel, &v);
}

/* Counts the wake-ups, which also keeps goc_wg_wait from being a tail
 * call that would leave this function out of the stack. */
static int woken; /* atomic */

__attribute__((noinline)) void park_on_waitgroup_planted(void)
{
	goc_wg_wait(&parking_wg);
	__atomic_fetch_add(&woken, 1, __ATOMIC_RELAXED);
}

/* Ends in a tail call at -O2 (a jump into goc_chan_recv, no frame of its
 * own): the profile still shows it, as the goroutine's start function. */
__attribute__((noinline)) static void tail_parker_planted(void *arg)
{
	(void)arg;
	goc_chan_recv(parking_channel, NULL);
}

static void channel_parker(void *arg)
{
	(void)arg;
	park_on_channel_planted();
	goc_wg_done(&done_wg);
}

static void waitgroup_parker(void *arg)
{
	(void)arg;
	park_on_waitgroup_planted();
	goc_wg_done(&done_wg);
}

__attribute__((noinline)) void take_profile_planted(void)
{
	FILE *f = fdopen(mkstemp(profile_path), "wb");
	CHECK(f, "temporary profile file: %s", strerror(errno));
	goc_status st = goc_pprof_goroutine(f);
	CHECK(st == GOC_OK, "goroutine profile: %s", goc_strerror(st));
	CHECK(fclose(f) == 0, "close");
}

static void record(void *arg)
{
	(void)arg;
	errno = 0;
	CHECK(goc_pprof_goroutine(NULL) == -EINVAL, "goroutine(NULL)");
	parking_channel = goc_chan_make(sizeof(int), 0);
	goc_wg_add(&parking_wg, 1);
	goc_wg_add(&done_wg, CHANNEL_PARKERS + 1);
	goc_go_options named = {.name = "planted"};
	for (int i = 0; i < CHANNEL_PARKERS; i++)
		CHECK(goc_go_opts(channel_parker, NULL, &named) > 0, "spawn");
	CHECK(goc_go_opts(waitgroup_parker, NULL, &named) > 0, "spawn");
	CHECK(goc_go(tail_parker_planted, NULL) > 0, "spawn");
	/* They park as soon as they run: give them ample time. */
	goc_sleep(200 * GOC_MILLISECOND);
	take_profile_planted();
	goc_chan_close(parking_channel);
	goc_wg_done(&parking_wg);
	goc_wg_wait(&done_wg);
	CHECK(__atomic_load_n(&woken, __ATOMIC_RELAXED) == 1, "the wait group parker did not wake");
	goc_chan_release(parking_channel);
}

int main(void)
{
	setenv("GOCMAXPROCS", "2", 1);
	goc_main(record, NULL);
	static struct parsed_profile p;
	pprof_load(profile_path, &p);
	CHECK(p.nsample_types == 1 && !strcmp(pprof_str(&p, p.sample_types[0][0]), "goroutine") &&
		      !strcmp(pprof_str(&p, p.sample_types[0][1]), "count"),
	      "sample type");
	int on_channel = 0, on_waitgroup = 0, self = 0, tail = 0;
	for (int i = 0; i < p.nsamples; i++) {
		const struct parsed_sample *s = &p.samples[i];
		CHECK(s->values[0] == 1, "sample %d counts %lld", i, (long long)s->values[0]);
		CHECK(pprof_label_num(&p, s, "goroutine") > 0, "sample %d has no goroutine id", i);
		const char *state = pprof_label_str(&p, s, "state");
		const char *name = pprof_label_str(&p, s, "goroutine_name");
		CHECK(state, "sample %d has no state", i);
		if (pprof_sample_has(&p, s, "park_on_channel_planted")) {
			CHECK(!strcmp(state, "chan receive") && name && !strcmp(name, "planted"),
			      "channel parker: state %s, name %s", state, name ? name : "-");
			on_channel++;
		}
		if (pprof_sample_has(&p, s, "park_on_waitgroup_planted")) {
			CHECK(!strcmp(state, "sync.WaitGroup.Wait") && name &&
				      !strcmp(name, "planted"),
			      "wait group parker: state %s, name %s", state, name ? name : "-");
			on_waitgroup++;
		}
		if (pprof_sample_has(&p, s, "tail_parker_planted")) {
			CHECK(!strcmp(state, "chan receive"), "tail parker: state %s", state);
			tail++;
		}
		if (pprof_sample_has(&p, s, "take_profile_planted")) {
			CHECK(!strcmp(state, "running"), "the caller's state: %s", state);
			self++;
		}
	}
	printf("%d goroutines: %d on the channel, %d on the wait group, %d ending in a tail call, "
	       "caller %d\n",
	       p.nsamples, on_channel, on_waitgroup, tail, self);
	CHECK(on_channel == CHANNEL_PARKERS && on_waitgroup == 1 && tail == 1 && self == 1,
	      "planted goroutines missing");
	ok("goroutine profile lists the planted goroutines with their functions and states");

	pprof_go_check_first("-top -cum", profile_path, own_functions, "park_on_channel_planted");
	unlink(profile_path);
	return 0;
}
