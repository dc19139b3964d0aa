/*
 * chan.c — channels and select: ChanPingPong, ChanBuffered, ChanMPMC and
 * SelectPingPong. Every data channel carries int64_t values.
 *
 * Channels are reference counted. A goroutine whose last use of a channel
 * can overlap the driver's goc_chan_release (it closes or sends last, and
 * the driver is woken by that very call) owns a reference of its own,
 * taken for it before it starts; the others are known to be done with
 * their channels through a wait group before the driver releases them.
 */
#include <inttypes.h>

#include "bench.h"

/* ---- ChanPingPong ------------------------------------------------------ */

struct ping_pong {
	goc_chan *ping; /* driver → echo, unbuffered */
	goc_chan *pong; /* echo → driver, unbuffered; closed when echo ends */
};

/* Sends back every value received on ping until ping is closed, then
 * closes pong and drops its references to both. */
static void echo_body(void *arg)
{
	const struct ping_pong *pp = arg;
	goc_chan *ping = pp->ping, *pong = pp->pong;
	int64_t v;
	while (goc_chan_recv(ping, &v) == GOC_OK)
		goc_chan_send(pong, &v);
	goc_chan_close(pong);
	goc_chan_release(ping);
	goc_chan_release(pong);
}

/* ChanPingPong: the driver bounces 0 … n-1 off an echo goroutine, checking
 * each echo before sending the next value. One op is one round trip: two
 * hand-offs and two goroutine switches. */
void bench_chan_ping_pong(struct bench_run *run)
{
	struct ping_pong pp = {bench_chan(sizeof(int64_t), 0), bench_chan(sizeof(int64_t), 0)};
	goc_chan_retain(pp.ping);
	goc_chan_retain(pp.pong);
	bench_go(echo_body, &pp);

	bench_start(run);
	for (int64_t i = 0; i < run->n; i++) {
		int64_t v = -1;
		goc_chan_send(pp.ping, &i);
		if (goc_chan_recv(pp.pong, &v) != GOC_OK || v != i)
			bench_fail("sent %" PRId64 ", echo was %" PRId64, i, v);
	}
	bench_stop(run);

	/* Closing ping ends the echo loop, which then closes pong. */
	goc_chan_close(pp.ping);
	if (goc_chan_recv(pp.pong, NULL) != GOC_CLOSED)
		bench_fail("the echo goroutine sent a value nobody asked for");
	goc_chan_release(pp.ping);
	goc_chan_release(pp.pong);
}

/* ---- ChanBuffered ------------------------------------------------------ */

struct buffered {
	int64_t n;
	goc_chan *items; /* capacity 128, producer → consumer */
	goc_chan *total; /* capacity 1, consumer → driver: the sum */
};

/* Sends 0 … n-1 on items and closes it. Owns a reference to items. */
static void buffered_producer(void *arg)
{
	const struct buffered *b = arg;
	goc_chan *items = b->items;
	for (int64_t i = 0, n = b->n; i < n; i++)
		goc_chan_send(items, &i);
	goc_chan_close(items);
	goc_chan_release(items);
}

/* Sums what it receives on items until it is closed and sends the sum on
 * total. Owns a reference to both. */
static void buffered_consumer(void *arg)
{
	const struct buffered *b = arg;
	goc_chan *items = b->items, *total = b->total;
	int64_t v, sum = 0;
	while (goc_chan_recv(items, &v) == GOC_OK)
		sum += v;
	goc_chan_send(total, &sum);
	goc_chan_release(items);
	goc_chan_release(total);
}

/* ChanBuffered: one producer sends 0 … n-1 through a channel of capacity
 * 128 to one consumer, which sums them and hands the sum to the driver.
 * Making the channels is part of the timed region, as the specification
 * says. One op is one item. */
void bench_chan_buffered(struct bench_run *run)
{
	struct buffered b = {.n = run->n};
	int64_t sum;

	bench_start(run);
	b.items = bench_chan(sizeof(int64_t), 128);
	b.total = bench_chan(sizeof(int64_t), 1);
	goc_chan_retain(b.items); /* the producer's */
	goc_chan_retain(b.items); /* the consumer's */
	goc_chan_retain(b.total); /* the consumer's */
	bench_go(buffered_producer, &b);
	bench_go(buffered_consumer, &b);
	goc_status status = goc_chan_recv(b.total, &sum);
	bench_stop(run);

	goc_chan_release(b.items);
	goc_chan_release(b.total);
	int64_t want = run->n * (run->n - 1) / 2;
	if (status != GOC_OK || sum != want)
		bench_fail("sum is %" PRId64 ", want %" PRId64, sum, want);
}

/* ---- ChanMPMC ---------------------------------------------------------- */

#define MPMC_PRODUCERS 4
#define MPMC_CONSUMERS 4

struct mpmc {
	goc_chan *items; /* capacity 1024, closed once every producer is done */
	goc_wg producing;
	goc_wg consuming;
};

/* A producer sends the integers [first, end). */
struct mpmc_producer {
	struct mpmc *shared;
	int64_t first, end;
};

/* A consumer's tally, written by the consumer once the channel is
 * drained and read by the driver after the consumers' wait group. */
struct mpmc_consumer {
	struct mpmc *shared;
	int64_t count, sum;
};

static void mpmc_producer_body(void *arg)
{
	struct mpmc_producer *p = arg;
	for (int64_t v = p->first; v < p->end; v++)
		goc_chan_send(p->shared->items, &v);
	goc_wg_done(&p->shared->producing);
}

static void mpmc_consumer_body(void *arg)
{
	struct mpmc_consumer *c = arg;
	int64_t v, count = 0, sum = 0;
	while (goc_chan_recv(c->shared->items, &v) == GOC_OK) {
		count++;
		sum += v;
	}
	c->count = count;
	c->sum = sum;
	goc_wg_done(&c->shared->consuming);
}

/* ChanMPMC: four producers, each sending its own run of n/4 consecutive
 * integers (at least one), and four consumers counting and summing what
 * they receive, on one channel of capacity 1024. One op is one item. */
void bench_chan_mpmc(struct bench_run *run)
{
	int64_t per = run->n / MPMC_PRODUCERS > 0 ? run->n / MPMC_PRODUCERS : 1;
	struct mpmc shared;
	struct mpmc_producer producers[MPMC_PRODUCERS];
	struct mpmc_consumer consumers[MPMC_CONSUMERS];
	goc_wg_init(&shared.producing);
	goc_wg_init(&shared.consuming);
	for (int p = 0; p < MPMC_PRODUCERS; p++)
		producers[p] = (struct mpmc_producer){&shared, p * per, (p + 1) * per};
	for (int c = 0; c < MPMC_CONSUMERS; c++)
		consumers[c] = (struct mpmc_consumer){&shared, 0, 0};
	run->ops = MPMC_PRODUCERS * per;

	bench_start(run);
	shared.items = bench_chan(sizeof(int64_t), 1024);
	goc_wg_add(&shared.producing, MPMC_PRODUCERS);
	for (int p = 0; p < MPMC_PRODUCERS; p++)
		bench_go(mpmc_producer_body, &producers[p]);
	goc_wg_add(&shared.consuming, MPMC_CONSUMERS);
	for (int c = 0; c < MPMC_CONSUMERS; c++)
		bench_go(mpmc_consumer_body, &consumers[c]);
	goc_wg_wait(&shared.producing);
	goc_chan_close(shared.items);
	goc_wg_wait(&shared.consuming);
	bench_stop(run);

	goc_chan_release(shared.items);
	int64_t count = 0, sum = 0;
	for (int c = 0; c < MPMC_CONSUMERS; c++) {
		count += consumers[c].count;
		sum += consumers[c].sum;
	}
	int64_t want = run->ops * (run->ops - 1) / 2;
	if (count != run->ops || sum != want)
		bench_fail("consumers got %" PRId64 " items summing to %" PRId64 ", want %" PRId64
			   " summing to %" PRId64,
			   count, sum, run->ops, want);
}

/* ---- SelectPingPong ---------------------------------------------------- */

/* Each side selects over SELECT_WAYS data channels, of which traffic only
 * uses the last, BUSY_WAY, plus the never-ready channel as the last case. */
#define SELECT_WAYS 4
#define BUSY_WAY (SELECT_WAYS - 1)

struct select_ping_pong {
	int64_t n;
	goc_chan *to_echo[SELECT_WAYS];
	goc_chan *to_main[SELECT_WAYS];
	goc_chan *never; /* unbuffered; nothing is sent on it, never closed */
	goc_wg echo_finished;
};

/* Blocks in one goc_select (no timeout) over the five receive cases
 * ways[0], …, ways[SELECT_WAYS-1], never; stores the value received in *v
 * and returns the index of the case taken, or -1 if that channel was
 * closed (none ever is). */
static int select_receive(goc_chan *const ways[SELECT_WAYS], goc_chan *never, int64_t *v)
{
	goc_select_case cases[SELECT_WAYS + 1];
	for (int w = 0; w < SELECT_WAYS; w++)
		cases[w] = (goc_select_case){.chan = ways[w], .dir = GOC_SELECT_RECV, .elem = v};
	cases[SELECT_WAYS] = (goc_select_case){.chan = never, .dir = GOC_SELECT_RECV, .elem = NULL};
	int taken = goc_select(cases, SELECT_WAYS + 1, GOC_NO_TIMEOUT);
	return taken >= 0 && cases[taken].ok ? taken : -1;
}

/* Receives n values by select and sends each one back. A select that takes
 * any case but BUSY_WAY fails the workload from here: the driver, waiting
 * for the echo, would otherwise wait forever. */
static void select_echo_body(void *arg)
{
	struct select_ping_pong *s = arg;
	for (int64_t i = 0; i < s->n; i++) {
		int64_t v;
		int taken = select_receive(s->to_echo, s->never, &v);
		if (taken != BUSY_WAY)
			bench_fail("round trip %" PRId64
				   ": the echo goroutine's select took case %d, want %d",
				   i, taken, BUSY_WAY);
		goc_chan_send(s->to_main[BUSY_WAY], &v);
	}
	goc_wg_done(&s->echo_finished);
}

/* SelectPingPong: ChanPingPong's round trips, but every receive, on both
 * sides, is a goc_select over the receiver's four data channels and the
 * never-ready one; sends are plain sends on the busy channel. One op is
 * one round trip. */
void bench_select_ping_pong(struct bench_run *run)
{
	struct select_ping_pong s = {.n = run->n};
	for (int w = 0; w < SELECT_WAYS; w++) {
		s.to_echo[w] = bench_chan(sizeof(int64_t), 0);
		s.to_main[w] = bench_chan(sizeof(int64_t), 0);
	}
	s.never = bench_chan(sizeof(int64_t), 0);
	goc_wg_init(&s.echo_finished);
	goc_wg_add(&s.echo_finished, 1);
	bench_go(select_echo_body, &s);

	bench_start(run);
	for (int64_t i = 0; i < run->n; i++) {
		int64_t v = -1;
		goc_chan_send(s.to_echo[BUSY_WAY], &i);
		int taken = select_receive(s.to_main, s.never, &v);
		if (taken != BUSY_WAY || v != i)
			bench_fail("round trip %" PRId64 ": got %" PRId64
				   " from case %d, want case %d",
				   i, v, taken, BUSY_WAY);
	}
	bench_stop(run);

	goc_wg_wait(&s.echo_finished);
	for (int w = 0; w < SELECT_WAYS; w++) {
		goc_chan_release(s.to_echo[w]);
		goc_chan_release(s.to_main[w]);
	}
	goc_chan_release(s.never);
}
