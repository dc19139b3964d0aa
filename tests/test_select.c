/*
 * test_select.c — goc_select, Go's select statement:
 *
 *  - timeout 0 (Go's default) returns -1 when no case is ready and changes
 *    nothing; a positive timeout returns -1 no earlier than the timeout; a
 *    negative one waits until a case becomes ready, however late;
 *  - after a select returns (by a case or by its timeout) none of its
 *    waiters is left on a channel: a later try_send / try_recv must not
 *    find a phantom partner;
 *  - mixed send and receive cases, the same channel in several cases, a
 *    select that sends and receives on one unbuffered channel never
 *    matches itself;
 *  - a receive case on a closed channel reports ok=false (also when the
 *    close wakes a blocked select), after the buffer is drained;
 *  - more cases than the small on-stack arrays (the heap path);
 *  - fairness: with k ready cases each is chosen with probability 1/k;
 *  - two goroutines selecting over the same channels in opposite case
 *    orders, fed by a third, do not deadlock (lock ordering), and nothing
 *    is lost or duplicated;
 *  - a timeout racing with a sender neither loses nor duplicates values;
 *  - a select woken by a send does not touch that channel afterwards (the
 *    sender may have dropped the last reference; ASan checks).
 *
 * No test asserts an upper bound on time.
 */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static bool sanitizer;

static goc_select_case recv_case(goc_chan *c, void *elem)
{
	return (goc_select_case){.chan = c, .dir = GOC_SELECT_RECV, .elem = elem};
}

static goc_select_case send_case(goc_chan *c, void *elem)
{
	return (goc_select_case){.chan = c, .dir = GOC_SELECT_SEND, .elem = elem};
}

/* No goroutine is left waiting on c: try_send and try_recv find nobody on
 * the other side (c must be unbuffered and not closed). */
static void check_no_waiters(goc_chan *c, const char *what)
{
	int64_t v = 1;
	CHECK(goc_chan_try_send(c, &v) == GOC_WOULDBLOCK, "%s: try_send found a receiver", what);
	CHECK(goc_chan_try_recv(c, &v) == GOC_WOULDBLOCK, "%s: try_recv found a sender", what);
}

/* ---- default, timeouts, waiting --------------------------------------- */

struct delayed {
	goc_chan *c;
	int64_t delay;
	int64_t value; /* to send, or received */
	bool receive;
	goc_wg wg;
};

static void delayed_op(void *arg)
{
	struct delayed *d = arg;
	goc_sleep(d->delay);
	if (d->receive)
		CHECK(goc_chan_recv(d->c, &d->value) == GOC_OK, "delayed recv");
	else
		goc_chan_send(d->c, &d->value);
	goc_wg_done(&d->wg);
}

static void test_default_and_timeouts(void)
{
	goc_chan *unbuf = goc_chan_make(sizeof(int64_t), 0);
	goc_chan *empty = goc_chan_make(sizeof(int64_t), 2);
	goc_chan *full = goc_chan_make(sizeof(int64_t), 1);
	int64_t x = 11, r1 = -7, r2 = -7, s1 = 5, s2 = 6;
	goc_chan_send(full, &x);

	goc_select_case cs[4] = {recv_case(unbuf, &r1), recv_case(empty, &r2), send_case(full, &s1),
				 send_case(unbuf, &s2)};
	for (int i = 0; i < 100; i++)
		CHECK(goc_select(cs, 4, 0) == -1, "nothing ready: default");
	CHECK(!cs[0].ok && !cs[1].ok, "no case received");
	CHECK(goc_chan_len(empty) == 0 && goc_chan_len(full) == 1, "default changed the channels");
	CHECK(goc_chan_recv(full, &x) == GOC_OK && x == 11, "full still holds its value");
	goc_chan_send(full, &x);
	check_no_waiters(unbuf, "after default");
	ok("timeout 0 returns -1 when nothing is ready");

	const int64_t timeouts[] = {GOC_MICROSECOND, GOC_MILLISECOND, 10 * GOC_MILLISECOND,
				    30 * GOC_MILLISECOND};
	for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
		int64_t t0 = goc_now();
		int k = goc_select(cs, 4, timeouts[i]);
		int64_t waited = goc_now() - t0;
		CHECK(k == -1, "timeout %lld ns: returned case %d", (long long)timeouts[i], k);
		CHECK(waited >= timeouts[i], "timeout %lld ns: returned after %lld ns",
		      (long long)timeouts[i], (long long)waited);
		check_no_waiters(unbuf, "after a timeout");
		CHECK(goc_chan_len(empty) == 0 && goc_chan_len(full) == 1,
		      "timeout changed the channels");
	}
	ok("a positive timeout returns -1, no earlier than the timeout");

	/* Negative: a case that becomes ready only after 20 ms. */
	struct delayed d = {.c = empty, .delay = 20 * GOC_MILLISECOND, .value = 77};
	goc_wg_init(&d.wg);
	goc_wg_add(&d.wg, 1);
	int64_t t0 = goc_now();
	goc_go(delayed_op, &d);
	int k = goc_select(cs, 4, GOC_NO_TIMEOUT);
	CHECK(k == 1 && cs[1].ok && r2 == 77, "waited for the late sender: case %d value %lld", k,
	      (long long)r2);
	CHECK(goc_now() - t0 >= 20 * GOC_MILLISECOND, "returned before the sender could send");
	goc_wg_wait(&d.wg);
	check_no_waiters(unbuf, "after waking by another case");

	/* Negative, woken by a receiver of the send case on unbuf. */
	d = (struct delayed){.c = unbuf, .delay = 5 * GOC_MILLISECOND, .receive = true};
	goc_wg_init(&d.wg);
	goc_wg_add(&d.wg, 1);
	goc_go(delayed_op, &d);
	k = goc_select(cs, 4, GOC_NO_TIMEOUT);
	CHECK(k == 3, "select woke on case %d", k);
	goc_wg_wait(&d.wg);
	CHECK(d.value == s2, "the receiver got %lld from the send case", (long long)d.value);
	check_no_waiters(unbuf, "after a send case won");

	/* A positive timeout that a case beats. */
	d = (struct delayed){.c = unbuf, .delay = GOC_MILLISECOND, .value = 99};
	goc_wg_init(&d.wg);
	goc_wg_add(&d.wg, 1);
	goc_go(delayed_op, &d);
	k = goc_select(cs, 4, 10 * GOC_SECOND);
	CHECK(k == 0 && cs[0].ok && r1 == 99, "case beat the timeout: %d", k);
	goc_wg_wait(&d.wg);
	check_no_waiters(unbuf, "after a case beat the timeout");

	goc_chan_release(unbuf);
	goc_chan_release(empty);
	goc_chan_release(full);
	ok("a negative timeout waits until a case is ready");
}

/* ---- mixed cases, same channel, closed --------------------------------- */

static void test_mixed_and_same_channel(void)
{
	goc_chan *a = goc_chan_make(sizeof(int64_t), 1);
	goc_chan *b = goc_chan_make(sizeof(int64_t), 1);
	int64_t out = 5, in = -1;
	goc_select_case cs[2] = {send_case(a, &out), recv_case(b, &in)};
	CHECK(goc_select(cs, 2, 0) == 0, "send with room is the only ready case");
	CHECK(goc_chan_len(a) == 1, "sent");
	CHECK(goc_select(cs, 2, 0) == -1, "a full, b empty: nothing ready");
	int64_t v = 8;
	goc_chan_send(b, &v);
	CHECK(goc_select(cs, 2, GOC_NO_TIMEOUT) == 1 && cs[1].ok && in == 8,
	      "recv is the only ready case");
	CHECK(goc_chan_recv(a, &v) == GOC_OK && v == 5, "value sent by select");
	goc_chan_release(a);
	goc_chan_release(b);

	/* The same buffered channel in several cases. */
	goc_chan *c = goc_chan_make(sizeof(int64_t), 1);
	int64_t r0 = -1, r1 = -1, s = 42;
	goc_select_case same[3] = {recv_case(c, &r0), recv_case(c, &r1), send_case(c, &s)};
	CHECK(goc_select(same, 3, 0) == 2, "empty: only the send is ready");
	int hits[3] = {0};
	for (int i = 0; i < 400; i++) {
		r0 = r1 = -1;
		int k = goc_select(same, 3, GOC_NO_TIMEOUT);
		CHECK(k == 0 || k == 1, "full: a receive case (got %d)", k);
		CHECK((k == 0 ? r0 : r1) == 42 && same[k].ok, "received 42");
		CHECK((k == 0 ? r1 : r0) == -1, "the other receive case was not performed");
		hits[k]++;
		CHECK(goc_select(same, 3, GOC_NO_TIMEOUT) == 2, "empty again: the send");
	}
	CHECK(hits[0] > 0 && hits[1] > 0, "both receive cases chosen (%d, %d)", hits[0], hits[1]);
	goc_chan_release(c);

	/* Send and receive on one unbuffered channel: a select never pairs
	 * with itself. */
	c = goc_chan_make(sizeof(int64_t), 0);
	goc_select_case self[2] = {send_case(c, &s), recv_case(c, &r0)};
	CHECK(goc_select(self, 2, 0) == -1, "no partner: default");
	CHECK(goc_select(self, 2, 2 * GOC_MILLISECOND) == -1, "no partner: timeout");
	check_no_waiters(c, "self-select timed out");
	struct delayed d = {.c = c, .delay = GOC_MILLISECOND, .receive = true};
	goc_wg_init(&d.wg);
	goc_wg_add(&d.wg, 1);
	goc_go(delayed_op, &d);
	CHECK(goc_select(self, 2, GOC_NO_TIMEOUT) == 0, "a receiver came: the send case");
	goc_wg_wait(&d.wg);
	CHECK(d.value == 42, "receiver got %lld", (long long)d.value);
	d = (struct delayed){.c = c, .delay = GOC_MILLISECOND, .value = 13};
	goc_wg_init(&d.wg);
	goc_wg_add(&d.wg, 1);
	goc_go(delayed_op, &d);
	r0 = -1;
	CHECK(goc_select(self, 2, GOC_NO_TIMEOUT) == 1 && r0 == 13 && self[1].ok,
	      "a sender came: the recv case");
	goc_wg_wait(&d.wg);
	check_no_waiters(c, "self-select done");
	goc_chan_release(c);
	ok("mixed send/receive cases; the same channel in several cases");
}

struct closer {
	goc_chan *c;
	int64_t delay;
};

static void close_later(void *arg)
{
	struct closer *cl = arg;
	goc_sleep(cl->delay);
	goc_chan_close(cl->c);
}

static void test_closed_cases(void)
{
	goc_chan *c = goc_chan_make(sizeof(int64_t), 2);
	goc_chan *never = goc_chan_make(sizeof(int64_t), 0);
	int64_t v = 3, r = -1, w = -1;
	goc_chan_send(c, &v);
	goc_chan_close(c);
	goc_select_case cs[2] = {recv_case(never, &w), recv_case(c, &r)};
	CHECK(goc_select(cs, 2, GOC_NO_TIMEOUT) == 1 && cs[1].ok && r == 3,
	      "buffered value before closed");
	r = -1;
	CHECK(goc_select(cs, 2, GOC_NO_TIMEOUT) == 1 && !cs[1].ok && r == 0,
	      "closed: ok=false, zeroed");
	r = -1;
	CHECK(goc_select(cs, 2, 0) == 1 && !cs[1].ok && r == 0, "closed is ready for timeout 0");
	goc_chan_release(c);

	/* A blocked select woken by the close. */
	for (int cap = 0; cap < 2; cap++) {
		c = goc_chan_make(sizeof(int64_t), (size_t)cap);
		struct closer cl = {c, GOC_MILLISECOND};
		goc_go(close_later, &cl);
		cs[1] = recv_case(c, &r);
		r = -1;
		cs[1].ok = true;
		int k = goc_select(cs, 2, GOC_NO_TIMEOUT);
		CHECK(k == 1 && !cs[1].ok && r == 0, "close woke the select: case %d ok %d", k,
		      cs[1].ok);
		check_no_waiters(never, "after close woke a select");
		goc_chan_release(c);
	}
	goc_chan_release(never);
	ok("a receive case on a closed channel reports ok=false");
}

/* ---- many cases ----------------------------------------------------------- */

struct sender_at {
	goc_chan *c;
	int64_t value;
};

static void send_one(void *arg)
{
	struct sender_at *s = arg;
	goc_chan_send(s->c, &s->value);
}

static void test_many_cases(void)
{
	enum { N = 20 };
	goc_chan *chans[N];
	int64_t vals[N];
	goc_select_case cs[N];
	for (int i = 0; i < N; i++) {
		chans[i] = goc_chan_make(sizeof(int64_t), (size_t)(i % 2));
		cs[i] = recv_case(chans[i], &vals[i]);
	}
	CHECK(goc_select(cs, N, 0) == -1, "20 idle cases");
	CHECK(goc_select(cs, N, GOC_MILLISECOND) == -1, "20 idle cases, timeout");
	for (int round = 0; round < 200; round++) {
		int target = (round * 7) % N;
		struct sender_at s = {chans[target], 1000 + round};
		if (round % 2)
			goc_go(send_one, &s);
		else if (target % 2)
			goc_chan_send(chans[target], &s.value);
		else
			goc_go(send_one, &s);
		int k = goc_select(cs, N, GOC_NO_TIMEOUT);
		CHECK(k == target && cs[k].ok && vals[k] == 1000 + round,
		      "round %d: case %d, want %d", round, k, target);
	}
	for (int i = 0; i < N; i++) {
		if (i % 2 == 0)
			check_no_waiters(chans[i], "20-case select");
		goc_chan_release(chans[i]);
	}
	ok("a select with 20 cases");
}

/* ---- fairness ---------------------------------------------------------------- */

/*
 * With k cases ready, each should be chosen with probability p = 1/k. Over
 * n selects a case's count is Binomial(n, p): mean n/k, standard deviation
 * sigma = sqrt(n p (1-p)) <= sqrt(n)/2 (158 for n = 100,000). We accept
 * |count - n/k| <= 10 sigma. For a fair choice, by the Chernoff/normal
 * tail, a 10-sigma deviation has probability below 1e-22 per count: the
 * check never flakes. A biased choice does not slip through: for n =
 * 100,000 and k = 2, 10 sigma is 1.6% of n, so any bias above ~1.6
 * percentage points fails (a "first ready case wins" bug fails by 50).
 */
static void check_fair(const long *counts, int k, long n, const char *what)
{
	double p = 1.0 / k;
	double variance = (double)n * p * (1 - p);
	for (int i = 0; i < k; i++) {
		double dev = (double)counts[i] - (double)n * p;
		/* |dev| <= 10 sigma, squared (no libm needed). */
		CHECK(dev * dev <= 100 * variance,
		      "%s, k=%d: case %d chosen %ld times of %ld (expected %.0f, sigma^2 = %.0f)",
		      what, k, i, counts[i], n, n * p, variance);
	}
}

static void fair_recv_distinct(int k, long n)
{
	goc_chan *chans[4];
	int64_t vals[4];
	goc_select_case cs[4];
	for (int i = 0; i < k; i++) {
		chans[i] = goc_chan_make(sizeof(int64_t), 2);
		int64_t v = i;
		goc_chan_send(chans[i], &v);
		goc_chan_send(chans[i], &v);
		cs[i] = recv_case(chans[i], &vals[i]);
	}
	long counts[4] = {0};
	for (long j = 0; j < n; j++) {
		int c = goc_select(cs, (size_t)k, j % 2 ? 0 : -1);
		CHECK(c >= 0 && c < k && vals[c] == c, "select returned %d", c);
		counts[c]++;
		goc_chan_send(chans[c], &vals[c]); /* keep it non-empty */
	}
	check_fair(counts, k, n, "receive from distinct channels");
	for (int i = 0; i < k; i++)
		goc_chan_release(chans[i]);
}

static void fair_recv_same(int k, long n)
{
	goc_chan *c = goc_chan_make(sizeof(int64_t), 1);
	int64_t vals[4];
	goc_select_case cs[4];
	for (int i = 0; i < k; i++)
		cs[i] = recv_case(c, &vals[i]);
	long counts[4] = {0};
	int64_t one = 1;
	for (long j = 0; j < n; j++) {
		goc_chan_send(c, &one);
		int r = goc_select(cs, (size_t)k, GOC_NO_TIMEOUT);
		CHECK(r >= 0 && r < k, "select returned %d", r);
		counts[r]++;
	}
	check_fair(counts, k, n, "k receive cases on one channel");
	goc_chan_release(c);
}

/* k send cases with room, interleaved with NULL cases that must not count. */
static void fair_send_with_nil(int k, long n)
{
	goc_chan *chans[4];
	int64_t vals[4];
	goc_select_case cs[8];
	for (int i = 0; i < k; i++) {
		chans[i] = goc_chan_make(sizeof(int64_t), 1);
		vals[i] = i;
		cs[2 * i] = recv_case(NULL, NULL);
		cs[2 * i + 1] = send_case(chans[i], &vals[i]);
	}
	long counts[4] = {0};
	for (long j = 0; j < n; j++) {
		int r = goc_select(cs, (size_t)(2 * k), j % 2 ? 0 : -1);
		CHECK(r >= 0 && r % 2 == 1, "select returned %d", r);
		int64_t got = -1;
		CHECK(goc_chan_try_recv(chans[r / 2], &got) == GOC_OK && got == r / 2,
		      "sent value");
		counts[r / 2]++;
	}
	check_fair(counts, k, n, "send cases among NULL cases");
	for (int i = 0; i < k; i++)
		goc_chan_release(chans[i]);
}

static void test_fairness(void)
{
	long n = sanitizer ? 20000 : 100000;
	for (int k = 2; k <= 4; k++) {
		fair_recv_distinct(k, n);
		fair_recv_same(k, n);
		fair_send_with_nil(k, n);
	}
	ok("fairness: each of k ready cases chosen about 1/k of the time");
}

/* ---- lock ordering ---------------------------------------------------------- */

struct crossing {
	goc_chan *a, *b;
	long n; /* values the feeder sends on each channel */
	atomic_llong sum, count;
	goc_wg wg;
};

struct selector_arg {
	struct crossing *x;
	bool reversed;
	long got;
};

static void crossing_feeder(void *arg)
{
	struct crossing *x = arg;
	long sent_a = 0, sent_b = 0;
	int64_t va = 0, vb = 0;
	while (sent_a < x->n || sent_b < x->n) {
		/* Sends through a select too, over both channels. */
		va = 2 * sent_a + 1;
		vb = 2 * sent_b + 2;
		goc_select_case cs[2] = {send_case(sent_a < x->n ? x->a : NULL, &va),
					 send_case(sent_b < x->n ? x->b : NULL, &vb)};
		int k = goc_select(cs, 2, GOC_NO_TIMEOUT);
		CHECK(k == 0 || k == 1, "feeder select %d", k);
		if (k == 0)
			sent_a++;
		else
			sent_b++;
	}
	goc_chan_close(x->a);
	goc_chan_close(x->b);
	goc_wg_done(&x->wg);
}

static void crossing_selector(void *arg)
{
	struct selector_arg *s = arg;
	struct crossing *x = s->x;
	goc_chan *first = s->reversed ? x->b : x->a, *second = s->reversed ? x->a : x->b;
	int64_t v1, v2;
	goc_select_case cs[2] = {recv_case(first, &v1), recv_case(second, &v2)};
	while (cs[0].chan || cs[1].chan) {
		int k = goc_select(cs, 2, GOC_NO_TIMEOUT);
		CHECK(k == 0 || k == 1, "selector %d", k);
		if (!cs[k].ok) {
			cs[k].chan = NULL; /* Go's idiom: a closed channel's case is disabled */
			continue;
		}
		int64_t v = k == 0 ? v1 : v2;
		bool from_a = (cs[k].chan == x->a);
		CHECK((v % 2 == 1) == from_a, "value %lld came from the wrong channel",
		      (long long)v);
		atomic_fetch_add(&x->sum, v);
		atomic_fetch_add(&x->count, 1);
		s->got++;
	}
	goc_wg_done(&x->wg);
}

static void test_lock_ordering(void)
{
	for (int cap = 0; cap <= 1; cap++) {
		struct crossing x = {0};
		x.a = goc_chan_make(sizeof(int64_t), (size_t)cap);
		x.b = goc_chan_make(sizeof(int64_t), (size_t)cap);
		x.n = sanitizer ? 10000 : 100000;
		goc_wg_init(&x.wg);
		struct selector_arg s[4] = {
			{&x, false, 0}, {&x, true, 0}, {&x, false, 0}, {&x, true, 0}};
		goc_wg_add(&x.wg, 5);
		for (int i = 0; i < 4; i++)
			goc_go(crossing_selector, &s[i]);
		goc_go(crossing_feeder, &x);
		goc_wg_wait(&x.wg);
		/* a carries 1, 3, 5, ... 2n-1; b carries 2, 4, ... 2n: all of 1..2n. */
		long long total = 2 * x.n;
		CHECK(atomic_load(&x.count) == total, "received %lld of %lld",
		      atomic_load(&x.count), total);
		CHECK(atomic_load(&x.sum) == total * (total + 1) / 2, "checksum");
		goc_chan_release(x.a);
		goc_chan_release(x.b);
	}
	ok("opposite case orders over the same channels do not deadlock");
}

/* ---- a timeout racing with a sender ----------------------------------------- */

struct stream {
	goc_chan *c;
	long n;
	goc_wg wg;
};

static void stream_sender(void *arg)
{
	struct stream *s = arg;
	for (int64_t i = 0; i < s->n; i++) {
		if (i % 3 == 0) {
			goc_select_case cs = send_case(s->c, &i);
			CHECK(goc_select(&cs, 1, GOC_NO_TIMEOUT) == 0, "stream send select");
		} else {
			goc_chan_send(s->c, &i);
		}
		if (i % 64 == 0)
			goc_sleep(20 * GOC_MICROSECOND);
	}
	goc_wg_done(&s->wg);
}

static void test_timeout_race(void)
{
	for (int cap = 0; cap <= 1; cap++) {
		struct stream s = {goc_chan_make(sizeof(int64_t), (size_t)cap),
				   sanitizer ? 3000 : 20000, GOC_WG_INIT};
		goc_chan *idle = goc_chan_make(sizeof(int64_t), 0);
		goc_wg_add(&s.wg, 1);
		goc_go(stream_sender, &s);
		int64_t want = 0, timeouts = 0, idle_v;
		while (want < s.n) {
			int64_t v = -1;
			goc_select_case cs[2] = {recv_case(idle, &idle_v), recv_case(s.c, &v)};
			/* 1..8 µs: about as long as a hand-off, so the timer
			 * and the sender often race for the select. */
			int k = goc_select(cs, 2, (1 + want % 8) * GOC_MICROSECOND);
			if (k == -1) {
				timeouts++;
				continue;
			}
			CHECK(k == 1 && cs[1].ok, "case %d", k);
			CHECK(v == want, "value %lld, want %lld: lost or duplicated", (long long)v,
			      (long long)want);
			want++;
		}
		goc_wg_wait(&s.wg);
		int64_t v;
		CHECK(goc_chan_try_recv(s.c, &v) == GOC_WOULDBLOCK, "nothing left over");
		check_no_waiters(idle, "after timeout races");
		goc_chan_release(s.c);
		goc_chan_release(idle);
		printf("  cap %d: %lld timeouts in %ld receives\n", cap, (long long)timeouts, s.n);
	}
	ok("a timeout racing with a sender loses and duplicates nothing");
}

/* ---- the waker drops the last reference ------------------------------------ */

static void send_then_release(void *arg)
{
	goc_chan *a = arg; /* this goroutine owns the only reference */
	int64_t v = 31;
	while (goc_chan_try_send(a, &v) != GOC_OK) /* OK only once the select waits on a */
		goc_yield();
	goc_chan_release(a);
}

/*
 * Like goc_chan_recv (see chan.c: "c is not touched again"), a select that
 * a channel operation woke must not touch that channel again: the goroutine
 * that completed the case may have dropped the last reference at once. The
 * selecting goroutine holds no reference to `a`; the sender sends only once
 * the select is parked on `a` (try_send needs a waiting receiver), then
 * frees it. ASan reports a heap-use-after-free if select touches `a` after
 * waking.
 */
static void test_waker_releases(void)
{
	int rounds = sanitizer ? 200 : 2000;
	goc_chan *b = goc_chan_make(sizeof(int64_t), 0);
	for (int i = 0; i < rounds; i++) {
		goc_chan *a = goc_chan_make(sizeof(int64_t), 0);
		goc_go(send_then_release, a); /* hands over our reference */
		int64_t va = -1, vb = -1;
		goc_select_case cs[2] = {recv_case(a, &va), recv_case(b, &vb)};
		int k = goc_select(cs, 2, GOC_NO_TIMEOUT);
		CHECK(k == 0 && cs[0].ok && va == 31, "select woken by the sender: %d", k);
	}
	check_no_waiters(b, "after the waker released the other channel");
	goc_chan_release(b);
	ok("a select woken by a send does not touch the channel after the sender freed it");
}

static void waker_releases_main(void *arg)
{
	(void)arg;
	test_waker_releases();
}

static void main_g(void *arg)
{
	(void)arg;
	test_default_and_timeouts();
	test_mixed_and_same_channel();
	test_closed_cases();
	test_many_cases();
	test_fairness();
	test_lock_ordering();
	test_timeout_race();
}

int main(int argc, char **argv)
{
	sanitizer = getenv("GOC_TEST_SANITIZER") != NULL;
	if (argc > 1 && strcmp(argv[1], "waker_releases") == 0) {
		/* A child: a use-after-free can hang (a lock word in freed
		 * memory) or corrupt the heap. The alarm turns a hang into a
		 * failure; the check takes milliseconds. */
		alarm(20);
		goc_main(waker_releases_main, NULL);
		return 0;
	}
	goc_main(main_g, NULL);
	if (sanitizer && !getenv("TSAN_OPTIONS"))
		setenv("TSAN_OPTIONS", "atexit_sleep_ms=0", 1);
	child_result r = run_self(argv[0], "waker_releases", NULL);
	CHECK(r.exited && r.status == 0 && contains(r.out, "ok: a select woken by a send"),
	      "select after its waker freed the channel: %s %d, output:\n%s",
	      r.exited ? "exit" : "signal", r.status, r.out);
	free(r.out);
	ok("a select woken by a send does not touch the channel after the sender freed it");
	return 0;
}
