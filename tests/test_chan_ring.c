/*
 * test_chan_ring.c — the lock-free ring of buffered channels (src/chan/ring.h).
 *
 * - Lap wrap-around: a ring's positions count laps modulo 2^31 and its cells'
 *   turns modulo 2^32. Reaching the wrap takes 2^31 trips round the ring, so
 *   the test starts channels a few laps before it (white-box: it sets the
 *   positions and turns as that many operations would have left them) and
 *   checks FIFO order, len and exactly-once delivery across it, alone and
 *   with four producers and four consumers.
 * - Signal channels, whose buffer is a token count: used as a counting
 *   semaphore by many goroutines, at most cap hold a token at once; a
 *   capacity far beyond memory works.
 * - Goroutines and plain threads hammering a capacity-2 channel with
 *   blocking and non-blocking operations (fast path, freeze and parking all
 *   interleave): every value arrives exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../src/chan/ring.h"
#include "testutil.h"

/* Puts c, which must be new and empty, at ring position `lap` laps in. */
static void start_at_lap(goc_chan *c, uint32_t lap)
{
	uint64_t pos = (uint64_t)lap << 33;
	c->sendpos = pos;
	c->recvpos = pos;
	for (size_t i = 0; i < c->cap; i++)
		*(uint32_t *)(void *)(c->cells + i * c->cell_size) = lap << 1;
}

static void wrap_alone(size_t cap)
{
	goc_chan *c = goc_chan_make(sizeof(int64_t), cap);
	CHECK(c, "make");
	start_at_lap(c, 0x7fffffffu - 2);
	int64_t next_send = 0, next_recv = 0;
	/* Ten laps' worth, filling to random depths so positions of every
	 * index cross the wrap. */
	uint32_t seed = 12345;
	while (next_send < (int64_t)(10 * cap + 7)) {
		seed = seed * 1103515245u + 12345u;
		size_t fill = 1 + (seed >> 16) % cap;
		for (size_t i = 0; i < fill; i++) {
			CHECK(goc_chan_try_send(c, &next_send) == GOC_OK, "send %lld",
			      (long long)next_send);
			next_send++;
		}
		CHECK(goc_chan_len(c) == fill, "len %zu, want %zu", goc_chan_len(c), fill);
		if (fill == cap) {
			int64_t extra = -1;
			CHECK(goc_chan_try_send(c, &extra) == GOC_WOULDBLOCK,
			      "full ring took a value");
		}
		for (size_t i = 0; i < fill; i++) {
			int64_t v;
			CHECK(goc_chan_recv(c, &v) == GOC_OK, "recv");
			CHECK(v == next_recv, "FIFO across the wrap: got %lld, want %lld",
			      (long long)v, (long long)next_recv);
			next_recv++;
		}
		int64_t v;
		CHECK(goc_chan_try_recv(c, &v) == GOC_WOULDBLOCK, "empty ring gave a value");
	}
	CHECK((c->sendpos >> 33) < 100, "positions wrapped (lap %llu)",
	      (unsigned long long)(c->sendpos >> 33));
	goc_chan_release(c);
}

struct wrap_shared {
	goc_chan *c;
	int64_t per_producer;
	_Atomic uint8_t *seen;
	_Atomic int64_t received;
	goc_wg producers, consumers;
};

static void wrap_producer(void *arg)
{
	struct wrap_shared *s = arg;
	static _Atomic int next_id;
	int64_t base = atomic_fetch_add(&next_id, 1) % 4 * s->per_producer;
	for (int64_t i = 0; i < s->per_producer; i++) {
		int64_t v = base + i;
		goc_chan_send(s->c, &v);
	}
	goc_wg_done(&s->producers);
}

static void wrap_consumer(void *arg)
{
	struct wrap_shared *s = arg;
	int64_t v;
	while (goc_chan_recv(s->c, &v) == GOC_OK) {
		CHECK(v >= 0 && v < 4 * s->per_producer, "value %lld out of range", (long long)v);
		CHECK(atomic_exchange(&s->seen[v], 1) == 0, "value %lld received twice",
		      (long long)v);
		atomic_fetch_add(&s->received, 1);
	}
	goc_wg_done(&s->consumers);
}

static void wrap_concurrent(size_t cap)
{
	struct wrap_shared s = {.per_producer = test_size(50000, 10000, 5000)};
	s.c = goc_chan_make(sizeof(int64_t), cap);
	CHECK(s.c, "make");
	/* Enough laps before the wrap that the run crosses it. */
	uint32_t laps_needed = (uint32_t)(4 * s.per_producer / (int64_t)cap) / 2;
	start_at_lap(s.c, 0x80000000u - laps_needed);
	s.seen = calloc((size_t)(4 * s.per_producer), 1);
	CHECK(s.seen, "calloc");
	goc_wg_add(&s.producers, 4);
	goc_wg_add(&s.consumers, 4);
	for (int i = 0; i < 4; i++) {
		goc_go(wrap_producer, &s);
		goc_go(wrap_consumer, &s);
	}
	goc_wg_wait(&s.producers);
	goc_chan_close(s.c);
	goc_wg_wait(&s.consumers);
	CHECK(atomic_load(&s.received) == 4 * s.per_producer, "received %lld of %lld",
	      (long long)atomic_load(&s.received), (long long)(4 * s.per_producer));
	CHECK((s.c->recvpos >> 33) < 0x40000000u, "the run did not cross the wrap");
	free(s.seen);
	goc_chan_release(s.c);
}

/* ---- signal channels as counting semaphores ---- */

struct sem_shared {
	goc_chan *sem;
	_Atomic int inside, max_inside;
	int rounds;
	goc_wg done;
};

static void sem_user(void *arg)
{
	struct sem_shared *s = arg;
	for (int i = 0; i < s->rounds; i++) {
		goc_chan_send(s->sem, NULL); /* acquire a slot */
		int now = atomic_fetch_add(&s->inside, 1) + 1;
		int max = atomic_load(&s->max_inside);
		while (now > max && !atomic_compare_exchange_weak(&s->max_inside, &max, now))
			;
		if (i % 7 == 0)
			goc_yield();
		atomic_fetch_sub(&s->inside, 1);
		CHECK(goc_chan_recv(s->sem, NULL) == GOC_OK, "release");
	}
	goc_wg_done(&s->done);
}

static void signal_semaphore(void)
{
	struct sem_shared s = {.rounds = (int)test_size(2000, 500, 200)};
	s.sem = goc_chan_make(0, 5);
	CHECK(s.sem, "make");
	int users = 64;
	goc_wg_add(&s.done, users);
	for (int i = 0; i < users; i++)
		goc_go(sem_user, &s);
	goc_wg_wait(&s.done);
	CHECK(atomic_load(&s.max_inside) <= 5, "%d holders of a 5-slot semaphore",
	      atomic_load(&s.max_inside));
	CHECK(goc_chan_len(s.sem) == 0, "tokens left: %zu", goc_chan_len(s.sem));
	goc_chan_release(s.sem);

	goc_chan *huge = goc_chan_make(0, SIZE_MAX);
	CHECK(huge, "a signal channel of any capacity");
	for (int i = 0; i < 1000; i++)
		goc_chan_send(huge, NULL);
	CHECK(goc_chan_len(huge) == 1000, "len %zu", goc_chan_len(huge));
	goc_chan_close(huge);
	int got = 0;
	while (goc_chan_recv(huge, NULL) == GOC_OK)
		got++;
	CHECK(got == 1000, "drained %d tokens from a closed signal channel", got);
	goc_chan_release(huge);
}

/* ---- goroutines and threads on a small ring ---- */

#define MIX_SENDERS 6
struct mix_shared {
	goc_chan *c;
	int64_t per_sender;
	_Atomic uint8_t *seen;
	_Atomic int64_t received;
	_Atomic int senders_left;
	goc_wg receivers;
};

static void mix_send_all(struct mix_shared *s, int64_t base, int flavour)
{
	for (int64_t i = 0; i < s->per_sender; i++) {
		int64_t v = base + i;
		if ((flavour + i) % 3 == 0) {
			while (goc_chan_try_send(s->c, &v) == GOC_WOULDBLOCK)
				goc_yield();
		} else {
			goc_chan_send(s->c, &v);
		}
	}
	if (atomic_fetch_sub(&s->senders_left, 1) == 1)
		goc_chan_close(s->c);
}

struct mix_sender_arg {
	struct mix_shared *s;
	int index;
};

static void mix_sender(void *arg)
{
	struct mix_sender_arg *a = arg;
	mix_send_all(a->s, a->index * a->s->per_sender, a->index);
}

static void *mix_sender_thread(void *arg)
{
	mix_sender(arg);
	return NULL;
}

static void mix_receive_all(struct mix_shared *s, int flavour)
{
	for (int64_t n = 0;; n++) {
		int64_t v;
		goc_status st;
		if ((flavour + n) % 4 == 0) {
			while ((st = goc_chan_try_recv(s->c, &v)) == GOC_WOULDBLOCK)
				goc_yield();
		} else {
			st = goc_chan_recv(s->c, &v);
		}
		if (st == GOC_CLOSED)
			return;
		CHECK(v >= 0 && v < MIX_SENDERS * s->per_sender, "value %lld", (long long)v);
		CHECK(atomic_exchange(&s->seen[v], 1) == 0, "value %lld received twice",
		      (long long)v);
		atomic_fetch_add(&s->received, 1);
	}
}

struct mix_receiver_arg {
	struct mix_shared *s;
	int index;
};

static void mix_receiver(void *arg)
{
	struct mix_receiver_arg *a = arg;
	mix_receive_all(a->s, a->index);
	goc_wg_done(&a->s->receivers);
}

static void *mix_receiver_thread(void *arg)
{
	mix_receiver(arg);
	return NULL;
}

static void goroutines_and_threads(size_t cap)
{
	struct mix_shared s = {.per_sender = test_size(20000, 5000, 2000)};
	s.c = goc_chan_make(sizeof(int64_t), cap);
	CHECK(s.c, "make");
	s.seen = calloc((size_t)(MIX_SENDERS * s.per_sender), 1);
	CHECK(s.seen, "calloc");
	atomic_store(&s.senders_left, MIX_SENDERS);
	struct mix_sender_arg sa[MIX_SENDERS];
	struct mix_receiver_arg ra[6];
	pthread_t threads[4];
	goc_wg_add(&s.receivers, 6);
	for (int i = 0; i < MIX_SENDERS; i++) {
		sa[i] = (struct mix_sender_arg){&s, i};
		if (i < 2)
			CHECK(pthread_create(&threads[i], NULL, mix_sender_thread, &sa[i]) == 0,
			      "thread");
		else
			goc_go(mix_sender, &sa[i]);
	}
	for (int i = 0; i < 6; i++) {
		ra[i] = (struct mix_receiver_arg){&s, i};
		if (i < 2)
			CHECK(pthread_create(&threads[2 + i], NULL, mix_receiver_thread, &ra[i]) ==
				      0,
			      "thread");
		else
			goc_go(mix_receiver, &ra[i]);
	}
	goc_wg_wait(&s.receivers);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	CHECK(atomic_load(&s.received) == MIX_SENDERS * s.per_sender, "received %lld of %lld",
	      (long long)atomic_load(&s.received), (long long)(MIX_SENDERS * s.per_sender));
	free(s.seen);
	goc_chan_release(s.c);
}

static void main_g(void *arg)
{
	(void)arg;
	wrap_alone(1);
	wrap_alone(3);
	wrap_alone(128);
	ok("lap wrap-around: FIFO, len and full/empty across it");
	wrap_concurrent(1);
	wrap_concurrent(16);
	ok("lap wrap-around: four producers, four consumers, exactly once");
	signal_semaphore();
	ok("signal channels: a counting semaphore never over-admits; any capacity");
	goroutines_and_threads(2);
	goroutines_and_threads(64);
	ok("goroutines and plain threads, blocking and non-blocking: exactly once");
}

int main(void)
{
	goc_main(main_g, NULL);
	return 0;
}
