/*
 * test_chan_prodcons.c — many producers and many consumers on one channel,
 * at capacity 0, 1 and 128.
 *
 * Every value sent is received exactly once: each carries a unique id and
 * a payload derived from it (checks that the whole element is copied), and
 * consumers mark ids in a shared bitmap (a second mark is a duplicate),
 * besides summing and counting. A closer goroutine closes the channel once
 * every producer has finished; consumers stop at GOC_CLOSED. Also checked,
 * because channels are FIFO: one consumer never sees two values of the same
 * producer out of that producer's sending order.
 *
 * Producers and consumers use every flavour of the API: blocking send and
 * recv, goc_select with one case, and try_send/try_recv with goc_yield.
 * Registered under GOCMAXPROCS=1, 2 and 4 (tests/CMakeLists.txt).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

#define PRODUCERS 8
#define CONSUMERS 8

typedef struct item {
	uint64_t id;         /* producer * per_producer + sequence number */
	uint64_t payload[3]; /* mix(id), ~id, id * 3: a torn copy shows */
} item;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

struct run {
	goc_chan *ch;
	uint64_t per_producer;
	uint64_t total;
	_Atomic uint64_t *seen; /* bitmap of received ids */
	atomic_ullong sum, count, dups;
	goc_wg producers, consumers;
};

struct worker {
	struct run *r;
	int index;
};

static void produce(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	for (uint64_t i = 0; i < r->per_producer; i++) {
		uint64_t id = (uint64_t)w->index * r->per_producer + i;
		item it = {id, {mix(id), ~id, id * 3}};
		switch ((w->index + i) % 3) {
		case 0:
			goc_chan_send(r->ch, &it);
			break;
		case 1: {
			goc_select_case c = {.chan = r->ch, .dir = GOC_SELECT_SEND, .elem = &it};
			int k = goc_select(&c, 1, GOC_NO_TIMEOUT);
			CHECK(k == 0, "select send returned %d", k);
			break;
		}
		default: {
			goc_status st;
			while ((st = goc_chan_try_send(r->ch, &it)) == GOC_WOULDBLOCK)
				goc_yield();
			CHECK(st == GOC_OK, "try_send returned %s", goc_strerror(st));
		}
		}
	}
	goc_wg_done(&r->producers);
}

static void closer(void *arg)
{
	struct run *r = arg;
	goc_wg_wait(&r->producers);
	goc_chan_close(r->ch);
}

static goc_status receive(struct run *r, int how, item *it)
{
	switch (how) {
	case 0:
		return goc_chan_recv(r->ch, it);
	case 1: {
		goc_select_case c = {.chan = r->ch, .dir = GOC_SELECT_RECV, .elem = it};
		int k = goc_select(&c, 1, GOC_NO_TIMEOUT);
		CHECK(k == 0, "select recv returned %d", k);
		return c.ok ? GOC_OK : GOC_CLOSED;
	}
	default: {
		goc_status st;
		while ((st = goc_chan_try_recv(r->ch, it)) == GOC_WOULDBLOCK)
			goc_yield();
		return st;
	}
	}
}

static void consume(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	int64_t last[PRODUCERS];
	for (int p = 0; p < PRODUCERS; p++)
		last[p] = -1;
	for (;;) {
		item it;
		memset(&it, 0xA5, sizeof it);
		goc_status st = receive(r, w->index % 3, &it);
		if (st == GOC_CLOSED) {
			item zero = {0};
			CHECK(memcmp(&it, &zero, sizeof it) == 0,
			      "GOC_CLOSED must zero the element");
			break;
		}
		CHECK(st == GOC_OK, "receive returned %s", goc_strerror(st));
		CHECK(it.id < r->total, "id %llu out of range", (unsigned long long)it.id);
		CHECK(it.payload[0] == mix(it.id) && it.payload[1] == ~it.id &&
			      it.payload[2] == it.id * 3,
		      "element of id %llu arrived corrupted", (unsigned long long)it.id);
		int p = (int)(it.id / r->per_producer);
		int64_t seq = (int64_t)(it.id % r->per_producer);
		CHECK(seq > last[p], "consumer %d got producer %d's #%lld after #%lld", w->index, p,
		      (long long)seq, (long long)last[p]);
		last[p] = seq;
		uint64_t bit = 1ull << (it.id % 64);
		if (atomic_fetch_or(&r->seen[it.id / 64], bit) & bit)
			atomic_fetch_add(&r->dups, 1);
		atomic_fetch_add(&r->sum, it.id);
		atomic_fetch_add(&r->count, 1);
	}
	goc_wg_done(&r->consumers);
}

static void run_case(size_t cap, uint64_t per_producer)
{
	struct run r = {0};
	r.per_producer = per_producer;
	r.total = PRODUCERS * per_producer;
	r.ch = goc_chan_make(sizeof(item), cap);
	CHECK(r.ch, "goc_chan_make");
	CHECK(goc_chan_cap(r.ch) == cap, "cap");
	r.seen = calloc((r.total + 63) / 64, sizeof *r.seen);
	goc_wg_init(&r.producers);
	goc_wg_init(&r.consumers);
	struct worker prod[PRODUCERS], cons[CONSUMERS];
	goc_wg_add(&r.consumers, CONSUMERS);
	for (int i = 0; i < CONSUMERS; i++) {
		cons[i] = (struct worker){&r, i};
		CHECK(goc_go(consume, &cons[i]) > 0, "spawn consumer");
	}
	goc_wg_add(&r.producers, PRODUCERS);
	for (int i = 0; i < PRODUCERS; i++) {
		prod[i] = (struct worker){&r, i};
		CHECK(goc_go(produce, &prod[i]) > 0, "spawn producer");
	}
	CHECK(goc_go(closer, &r) > 0, "spawn closer");
	goc_wg_wait(&r.consumers);

	CHECK(atomic_load(&r.dups) == 0, "cap %zu: %llu values received twice", cap,
	      (unsigned long long)atomic_load(&r.dups));
	CHECK(atomic_load(&r.count) == r.total, "cap %zu: received %llu of %llu values", cap,
	      (unsigned long long)atomic_load(&r.count), (unsigned long long)r.total);
	CHECK(atomic_load(&r.sum) == r.total * (r.total - 1) / 2, "cap %zu: checksum", cap);
	for (uint64_t id = 0; id < r.total; id++)
		CHECK(atomic_load(&r.seen[id / 64]) & (1ull << (id % 64)),
		      "cap %zu: id %llu never received", cap, (unsigned long long)id);
	CHECK(goc_chan_len(r.ch) == 0, "drained channel has len %zu", goc_chan_len(r.ch));
	item it;
	CHECK(goc_chan_try_recv(r.ch, &it) == GOC_CLOSED, "closed and drained");
	goc_chan_release(r.ch);
	free(r.seen);
}

static void main_g(void *arg)
{
	(void)arg;
	uint64_t per = getenv("GOC_TEST_SANITIZER") ? 5000 : 50000;
	char name[64];
	const size_t caps[] = {0, 1, 128};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		run_case(caps[i], per);
		snprintf(name, sizeof name, "%d producers, %d consumers, cap %zu", PRODUCERS,
			 CONSUMERS, caps[i]);
		ok(name);
	}
}

int main(void)
{
	goc_main(main_g, NULL);
	return 0;
}
