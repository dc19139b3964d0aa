/*
 * test_select_stress.c — randomized select over many channels: 16 channels
 * of capacity 0, 1 and 4, and 32 goroutines that each run a fixed number of
 * goc_select calls, every one with 1 to 6 random cases (random channel,
 * random direction, now and then a NULL channel or the same channel twice)
 * and a random timeout: 0, a few microseconds, or none (-1).
 *
 * Conservation: every value is unique (sender, sequence number) and also
 * names the channel its case was on. A select that returns a send case has
 * sent exactly that value; the receiver checks it came through the channel
 * it names, and marks it in a per-sender table: a second mark is a
 * duplicate. At the end the channels are drained, and every value sent must
 * have been received exactly once, and nothing received that was not sent.
 *
 * Termination without timing assumptions: a helper goroutine keeps offering
 * try_send and try_recv on every channel until the workers are done, so a
 * worker blocked forever (-1) always finds a partner eventually; the helper's
 * values are tracked like the workers'. Nothing is ever closed, so every
 * receive must report ok. Registered under GOCMAXPROCS=1, 2 and 4.
 */
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"

#define NCHANS 16
#define NWORKERS 32
#define HELPER NWORKERS /* sender index of the helper */
#define MAXCASES 6

typedef struct msg {
	uint32_t sender;
	uint32_t chan_index;
	uint64_t seq;
} msg;

struct world {
	goc_chan *chans[NCHANS];
	long ops;                            /* selects per worker */
	_Atomic uint8_t *received[NWORKERS]; /* per worker, per seq: times received */
	uint64_t nsent[NWORKERS + 1];        /* values each sender sent */
	int8_t *sent_on[NWORKERS];           /* per worker, per seq: channel used */
	/* The helper sends an unbounded number of values (it may take its own
	 * back): they are checked by count and by a sum of hashes instead. */
	atomic_ullong helper_recv_count, helper_recv_hash;
	uint64_t helper_sent_hash;
	atomic_int workers_left;
	atomic_llong timeouts, blocking, completed;
	goc_wg wg;
};

static struct world W;

static int chan_index(goc_chan *c)
{
	for (int i = 0; i < NCHANS; i++)
		if (W.chans[i] == c)
			return i;
	return -1;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void record_received(const msg *m, int via)
{
	CHECK(m->sender <= NWORKERS, "garbage sender %u", m->sender);
	CHECK((int)m->chan_index == via,
	      "value of sender %u seq %llu was sent on channel %u but "
	      "arrived through channel %d",
	      m->sender, (unsigned long long)m->seq, m->chan_index, via);
	if (m->sender == HELPER) {
		atomic_fetch_add(&W.helper_recv_count, 1);
		atomic_fetch_add(&W.helper_recv_hash, mix(m->seq));
		return;
	}
	CHECK(m->seq < (uint64_t)W.ops, "seq %llu out of range", (unsigned long long)m->seq);
	uint8_t before = atomic_fetch_add(&W.received[m->sender][m->seq], 1);
	CHECK(before == 0, "value (sender %u, seq %llu) received twice", m->sender,
	      (unsigned long long)m->seq);
}

static uint64_t next_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void worker(void *arg)
{
	uint32_t me = (uint32_t)(uintptr_t)arg;
	uint64_t rng = 0x9E3779B97F4A7C15ull * (me + 1);
	uint64_t seq = 0;
	msg out[MAXCASES], in[MAXCASES];
	goc_select_case cs[MAXCASES];
	for (long op = 0; op < W.ops; op++) {
		int n = 1 + (int)(next_rand(&rng) % MAXCASES);
		for (int i = 0; i < n; i++) {
			uint64_t r = next_rand(&rng);
			goc_chan *c;
			if (r % 23 == 0)
				c = NULL;
			else if (i > 0 && r % 7 == 0)
				c = cs[0].chan; /* the same channel again */
			else
				c = W.chans[(r >> 8) % NCHANS];
			if ((r >> 16) & 1) {
				out[i] = (msg){me, (uint32_t)chan_index(c), seq};
				cs[i] = (goc_select_case){
					.chan = c, .dir = GOC_SELECT_SEND, .elem = &out[i]};
			} else {
				memset(&in[i], 0xEE, sizeof in[i]);
				cs[i] = (goc_select_case){
					.chan = c, .dir = GOC_SELECT_RECV, .elem = &in[i]};
			}
		}
		uint64_t t = next_rand(&rng) % 3;
		int64_t timeout = t == 0 ? 0
			: t == 1         ? (int64_t)(1 + next_rand(&rng) % 50) * GOC_MICROSECOND
					 : -1;
		bool any = false;
		for (int i = 0; i < n; i++)
			any |= cs[i].chan != NULL;
		if (!any && timeout < 0)
			timeout = 0; /* only NULL cases would block forever */
		if (timeout < 0)
			atomic_fetch_add(&W.blocking, 1);
		int k = goc_select(cs, (size_t)n, timeout);
		if (k == -1) {
			CHECK(timeout >= 0, "a select without timeout returned -1");
			atomic_fetch_add(&W.timeouts, 1);
			continue;
		}
		CHECK(k >= 0 && k < n, "select returned %d of %d cases", k, n);
		CHECK(cs[k].chan != NULL, "a NULL case was chosen");
		atomic_fetch_add(&W.completed, 1);
		if (cs[k].dir == GOC_SELECT_SEND) {
			W.sent_on[me][seq] = (int8_t)out[k].chan_index;
			seq++;
		} else {
			CHECK(cs[k].ok, "receive reported closed; nothing is closed");
			record_received(&in[k], chan_index(cs[k].chan));
		}
	}
	W.nsent[me] = seq;
	atomic_fetch_sub(&W.workers_left, 1);
	goc_wg_done(&W.wg);
}

/* Offers a partner on every channel until the workers are done. */
static void helper(void *arg)
{
	(void)arg;
	uint64_t seq = 0;
	uint64_t rounds = 0;
	while (atomic_load(&W.workers_left) > 0) {
		for (int i = 0; i < NCHANS; i++) {
			msg m;
			if (goc_chan_try_recv(W.chans[i], &m) == GOC_OK)
				record_received(&m, i);
			m = (msg){HELPER, (uint32_t)i, seq};
			if (goc_chan_try_send(W.chans[i], &m) == GOC_OK) {
				W.helper_sent_hash += mix(seq);
				seq++;
			}
		}
		if (++rounds % 4 == 0)
			goc_sleep(20 * GOC_MICROSECOND);
		else
			goc_yield();
	}
	W.nsent[HELPER] = seq;
	goc_wg_done(&W.wg);
}

static void main_g(void *arg)
{
	(void)arg;
	W.ops = getenv("GOC_TEST_SANITIZER") ? 4000 : 50000;
	for (int i = 0; i < NCHANS; i++) {
		static const size_t caps[] = {0, 1, 4};
		W.chans[i] = goc_chan_make(sizeof(msg), caps[i % 3]);
	}
	for (int s = 0; s < NWORKERS; s++) {
		W.received[s] = calloc((size_t)W.ops, 1);
		W.sent_on[s] = malloc((size_t)W.ops);
		memset(W.sent_on[s], -1, (size_t)W.ops);
	}
	atomic_store(&W.workers_left, NWORKERS);
	goc_wg_init(&W.wg);
	goc_wg_add(&W.wg, NWORKERS + 1);
	for (uintptr_t w = 0; w < NWORKERS; w++)
		CHECK(goc_go(worker, (void *)w) > 0, "spawn");
	goc_go(helper, NULL);
	goc_wg_wait(&W.wg);

	/* Drain what is left in the buffers. */
	long leftover = 0;
	for (int i = 0; i < NCHANS; i++) {
		msg m;
		while (goc_chan_try_recv(W.chans[i], &m) == GOC_OK) {
			record_received(&m, i);
			leftover++;
		}
	}
	/* Exactly the values sent were received, once each. */
	long long total_sent = 0;
	for (int s = 0; s < NWORKERS; s++) {
		for (uint64_t q = 0; q < (uint64_t)W.ops; q++) {
			uint8_t got = atomic_load(&W.received[s][q]);
			if (q < W.nsent[s]) {
				CHECK(W.sent_on[s][q] >= 0,
				      "sender %d seq %llu: no channel recorded", s,
				      (unsigned long long)q);
				CHECK(got == 1,
				      "sender %d seq %llu (sent on channel %d) received %u times",
				      s, (unsigned long long)q, W.sent_on[s][q], got);
			} else {
				CHECK(got == 0, "sender %d seq %llu received but never sent", s,
				      (unsigned long long)q);
			}
		}
		total_sent += (long long)W.nsent[s];
	}
	CHECK(atomic_load(&W.helper_recv_count) == W.nsent[HELPER],
	      "the helper sent %llu values, %llu were received",
	      (unsigned long long)W.nsent[HELPER],
	      (unsigned long long)atomic_load(&W.helper_recv_count));
	CHECK(atomic_load(&W.helper_recv_hash) == W.helper_sent_hash,
	      "the helper's values: the received ones are not the sent ones");
	total_sent += (long long)W.nsent[HELPER];
	for (int i = 0; i < NCHANS; i++) {
		CHECK(goc_chan_len(W.chans[i]) == 0, "drained");
		goc_chan_release(W.chans[i]);
	}
	printf("  %lld values sent, %lld selects completed, %lld timed out, %lld without timeout, "
	       "%ld drained at the end\n",
	       total_sent, (long long)atomic_load(&W.completed),
	       (long long)atomic_load(&W.timeouts), (long long)atomic_load(&W.blocking), leftover);
	for (int s = 0; s < NWORKERS; s++) {
		free(W.received[s]);
		free(W.sent_on[s]);
	}
	ok("randomized select stress: every value received exactly once");
}

int main(void)
{
	goc_main(main_g, NULL);
	return 0;
}
