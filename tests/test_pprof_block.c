/*
 * test_pprof_block.c — the block and mutex profiles find the planted
 * waits.
 *
 * With the block rate at 1 (every wait) and the mutex fraction at 1 (every
 * contention), eight goroutines take turns on one goc_mutex in
 * hammer_mutex_planted (lock, a few microseconds of work, unlock, yield;
 * the first to lock holds the mutex until all the others are parked on
 * it, so lock waits are sure to happen), then eight goroutines, all parked
 * on a channel in wait_on_channel_planted, wait there at least 200 ms each
 * and at least one and a half times as long as the hammering took: the
 * hammerers' lock waits sum to at most eight times that, so the channel
 * waits top the block profile however slow the machine is. The profiles
 * are read back (pprofutil.c):
 *  - both have Go's sample types (contentions/count, delay/nanoseconds);
 *  - in the block profile, of this program's functions,
 *    wait_on_channel_planted has the most delay (pprof's cum), at least
 *    the eight planned waits, in eight waits inside the runtime's receive;
 *    hammer_mutex_planted shows too (its lock waits);
 *  - in the mutex profile hammer_mutex_planted has it all, charged at its
 *    unlock, with at least half the delay the block profile saw in its
 *    lock waits (the two measure the same waits, the mutex profile
 *    without the time a woken waiter spends getting back on a CPU);
 *  - if `go` is installed, `go tool pprof -top -cum -sample_index=delay`
 *    names the planted function before any other of this program's.
 * Also: turning the profiles off stops recording.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pprofutil.h"
#include "testutil.h"
#include "waitfor.h"

#define CHANNEL_WAITERS 8
#define CHANNEL_WAIT_MIN (200 * GOC_MILLISECOND)
#define HAMMERERS 8

/* This program's functions, as the profiles name them. */
static const char *const own_functions[] = {
	"wait_on_channel_planted", "hammer_mutex_planted", "record_profiles", "spin_a_little", NULL,
};

static uint64_t work_sink; /* atomic */
static goc_mutex hammered = GOC_MUTEX_INIT;
static long hammer_rounds;

static int waiters_arrived; /* atomic: channel waiters about to wait */

struct waiter_job {
	goc_chan *ch;
	goc_wg *wg;
};

/* Exported (tests link with -rdynamic) so the profiles can name them. */
__attribute__((noinline)) void wait_on_channel_planted(struct waiter_job *job)
{
	int v;
	goc_chan_recv(job->ch, &v);
}

static void channel_waiter(void *arg)
{
	struct waiter_job *job = arg;
	__atomic_add_fetch(&waiters_arrived, 1, __ATOMIC_SEQ_CST);
	wait_on_channel_planted(job);
	goc_wg_done(job->wg);
}

__attribute__((noinline)) void spin_a_little(void)
{
	uint64_t x = 1;
	for (int k = 0; k < 2000; k++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	__atomic_store_n(&work_sink, x, __ATOMIC_RELAXED);
}

/* Set before the hammerers start: the first to take the mutex keeps it
 * until every other hammerer has reached its first lock and they are
 * parked (goc_mutex spins first, and eight goroutines on two Ps may
 * otherwise never make one wait: seen once under TSan on a loaded
 * machine). The parking wait is capped at 20 ms: goroutines that are
 * about to lock have parked long before. */
static int hold_first;
static int hammerers_arrived;

static void hold_until_others_wait(void)
{
	WAIT_FOR(__atomic_load_n(&hammerers_arrived, __ATOMIC_SEQ_CST) == HAMMERERS,
		 "every hammerer reached its first lock");
	int64_t until = goc_now() + 20 * GOC_MILLISECOND;
	while (!others_parked() && goc_now() < until)
		goc_sleep(50 * GOC_MICROSECOND);
}

__attribute__((noinline)) void hammer_mutex_planted(void)
{
	__atomic_add_fetch(&hammerers_arrived, 1, __ATOMIC_SEQ_CST);
	for (long i = 0; i < hammer_rounds; i++) {
		goc_mutex_lock(&hammered);
		if (__atomic_exchange_n(&hold_first, 0, __ATOMIC_SEQ_CST))
			hold_until_others_wait();
		spin_a_little();
		goc_mutex_unlock(&hammered);
		goc_yield();
	}
}

static void hammerer(void *arg)
{
	hammer_mutex_planted();
	goc_wg_done(arg);
}

static char block_path[] = "/tmp/goc-test-block-XXXXXX";
static char mutex_path[] = "/tmp/goc-test-mutex-XXXXXX";
static char block_off_path[] = "/tmp/goc-test-block-off-XXXXXX";
/* The block profile's delay in hammer_mutex_planted: its lock waits. */
static int64_t block_mutex_delay;
/* How long each channel waiter waits, at least. */
static int64_t channel_wait;

static void write_profile(char *path, goc_status (*writer)(FILE *))
{
	FILE *f = fdopen(mkstemp(path), "wb");
	CHECK(f, "temporary profile file: %s", strerror(errno));
	goc_status st = writer(f);
	CHECK(st == GOC_OK, "write %s: %s", path, goc_strerror(st));
	CHECK(fclose(f) == 0, "close");
}

__attribute__((noinline)) void record_profiles(void *arg)
{
	(void)arg;
	errno = 0;
	CHECK(goc_pprof_block(NULL) == -EINVAL, "block(NULL)");
	CHECK(goc_pprof_set_mutex_fraction(-1) == 0, "mutex profile off by default");
	goc_pprof_set_block_rate(1);
	CHECK(goc_pprof_set_mutex_fraction(1) == 0, "previous fraction");
	CHECK(goc_pprof_set_mutex_fraction(-1) == 1, "fraction read back");

	goc_wg wg = GOC_WG_INIT;
	hammer_rounds = test_size(3000, 1000, 300);
	__atomic_store_n(&hammerers_arrived, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hold_first, 1, __ATOMIC_SEQ_CST);
	int64_t t0 = goc_now();
	goc_wg_add(&wg, HAMMERERS);
	for (int i = 0; i < HAMMERERS; i++)
		CHECK(goc_go(hammerer, &wg) > 0, "spawn");
	goc_wg_wait(&wg);
	int64_t hammering = goc_now() - t0;
	ok("hammerers done");

	goc_chan *ch = goc_chan_make(sizeof(int), 0);
	struct waiter_job job = {ch, &wg};
	channel_wait = hammering * 3 / 2 > CHANNEL_WAIT_MIN ? hammering * 3 / 2 : CHANNEL_WAIT_MIN;
	goc_wg_add(&wg, CHANNEL_WAITERS);
	for (int i = 0; i < CHANNEL_WAITERS; i++)
		CHECK(goc_go(channel_waiter, &job) > 0, "spawn");
	WAIT_FOR(__atomic_load_n(&waiters_arrived, __ATOMIC_SEQ_CST) == CHANNEL_WAITERS &&
			 others_parked(),
		 "every channel waiter parks");
	goc_sleep(channel_wait);
	goc_chan_close(ch);
	goc_wg_wait(&wg);
	ok("channel waiters done");

	write_profile(block_path, goc_pprof_block);
	write_profile(mutex_path, goc_pprof_mutex);

	/* Off: nothing more is recorded. */
	goc_pprof_set_block_rate(0);
	CHECK(goc_pprof_set_mutex_fraction(0) == 1, "previous fraction");
	goc_wg_add(&wg, HAMMERERS);
	for (int i = 0; i < HAMMERERS; i++)
		CHECK(goc_go(hammerer, &wg) > 0, "spawn");
	goc_wg_wait(&wg);
	write_profile(block_off_path, goc_pprof_block);
	goc_chan_release(ch);
}

static void check_types(const struct parsed_profile *p)
{
	CHECK(p->nsample_types == 2 &&
		      !strcmp(pprof_str(p, p->sample_types[0][0]), "contentions") &&
		      !strcmp(pprof_str(p, p->sample_types[0][1]), "count") &&
		      !strcmp(pprof_str(p, p->sample_types[1][0]), "delay") &&
		      !strcmp(pprof_str(p, p->sample_types[1][1]), "nanoseconds"),
	      "sample types");
	CHECK(!strcmp(pprof_str(p, p->period_type[0]), "contentions"), "period type");
}

static int64_t total_contentions(const struct parsed_profile *p)
{
	int64_t n = 0;
	for (int i = 0; i < p->nsamples; i++)
		n += p->samples[i].values[0];
	return n;
}

static void check_block_profile(void)
{
	static struct parsed_profile p;
	pprof_load(block_path, &p);
	check_types(&p);
	int64_t delay = 0;
	const char *top = pprof_top_cum(&p, 1, own_functions, &delay);
	printf("block profile: %d stacks; top: %s, %.3f s\n", p.nsamples, top ? top : "-",
	       (double)delay / GOC_SECOND);
	CHECK(top && !strcmp(top, "wait_on_channel_planted"), "top of the block profile: %s",
	      top ? top : "none");
	/* 9/10: the profile's clock and goc_sleep's need not agree to the
	 * nanosecond. */
	CHECK_GE_INT(delay, CHANNEL_WAITERS * channel_wait * 9 / 10,
		     "channel waits in the block profile");
	int64_t channel_waits = 0;
	for (int i = 0; i < p.nsamples; i++) {
		const struct parsed_sample *s = &p.samples[i];
		CHECK(s->values[0] > 0 && s->values[1] > 0, "sample %d: %lld %lld", i,
		      (long long)s->values[0], (long long)s->values[1]);
		if (pprof_sample_has(&p, s, "wait_on_channel_planted")) {
			/* Waited inside the runtime's receive, below the
			 * planted function. */
			CHECK(strcmp(pprof_location_name(&p, s->locs[0]),
				     "wait_on_channel_planted"),
			      "a channel wait's innermost frame is the planted function");
			channel_waits += s->values[0];
		}
		if (pprof_sample_has(&p, s, "hammer_mutex_planted"))
			block_mutex_delay += s->values[1];
	}
	CHECK(channel_waits == CHANNEL_WAITERS, "%lld channel waits, not %d",
	      (long long)channel_waits, CHANNEL_WAITERS);
	CHECK(block_mutex_delay > 0, "no mutex waits in hammer_mutex_planted");
	ok("block profile: wait_on_channel_planted on top");

	static struct parsed_profile off;
	pprof_load(block_off_path, &off);
	CHECK(total_contentions(&off) == total_contentions(&p), "the block profile grew while off");
	ok("block profile off");

	pprof_go_check_first("-top -cum -sample_index=delay", block_path, own_functions,
			     "wait_on_channel_planted");
}

static void check_mutex_profile(void)
{
	static struct parsed_profile p;
	pprof_load(mutex_path, &p);
	check_types(&p);
	CHECK(p.period == 1, "period %lld", (long long)p.period);
	int64_t delay = 0;
	const char *top = pprof_top_cum(&p, 1, own_functions, &delay);
	printf("mutex profile: %d stacks; top: %s, %.3f s\n", p.nsamples, top ? top : "-",
	       (double)delay / GOC_SECOND);
	CHECK(top && !strcmp(top, "hammer_mutex_planted"), "top of the mutex profile: %s",
	      top ? top : "none");
	CHECK(delay >= block_mutex_delay / 2,
	      "mutex profile: %lld ns of delay, the block "
	      "profile's lock waits %lld ns",
	      (long long)delay, (long long)block_mutex_delay);
	ok("mutex profile: hammer_mutex_planted on top");

	pprof_go_check_first("-top -cum -sample_index=delay", mutex_path, own_functions,
			     "hammer_mutex_planted");
}

int main(void)
{
	setenv("GOCMAXPROCS", "2", 1);
	goc_main(record_profiles, NULL);
	check_block_profile();
	check_mutex_profile();
	unlink(block_path);
	unlink(mutex_path);
	unlink(block_off_path);
	return 0;
}
