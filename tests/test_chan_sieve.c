/*
 * test_chan_sieve.c — the classic concurrent prime sieve (Go's
 * doc/play/sieve.go): a generator goroutine sends 2, 3, 4, ... down a
 * channel and every prime found starts one filter goroutine that drops the
 * multiples of that prime, so the pipeline grows to one goroutine per
 * prime. The first NPRIMES primes it produces must equal those of a plain
 * sequential sieve of Eratosthenes.
 *
 * It runs with unbuffered channels and with small buffers. The generator
 * stops after the last prime it needs and closes its channel; every filter
 * closes its output when its input is closed, so the close travels down
 * the chain and every goroutine finishes (checked with a wait group, and
 * the main goroutine must see GOC_CLOSED right after the last prime).
 */
#include <stdint.h>
#include <string.h>

#include "testutil.h"

struct stage {
	goc_chan *in;  /* the filter's input (it holds a reference) */
	goc_chan *out; /* the filter's output (it holds a reference) */
	int64_t prime; /* multiples of this are dropped; unused by the generator */
	int64_t limit; /* generator: the last number sent */
	goc_wg *wg;
};

static void generate(void *arg)
{
	struct stage *s = arg;
	for (int64_t i = 2; i <= s->limit; i++)
		goc_chan_send(s->out, &i);
	goc_chan_close(s->out);
	goc_chan_release(s->out);
	goc_wg_done(s->wg);
	free(s);
}

static void filter(void *arg)
{
	struct stage *s = arg;
	int64_t v;
	while (goc_chan_recv(s->in, &v) == GOC_OK) {
		CHECK(v > s->prime, "filter %lld got %lld: numbers must arrive in increasing order",
		      (long long)s->prime, (long long)v);
		if (v % s->prime != 0)
			goc_chan_send(s->out, &v);
	}
	CHECK(v == 0, "a receive that reports GOC_CLOSED must zero the element (got %lld)",
	      (long long)v);
	goc_chan_close(s->out);
	goc_chan_release(s->in);
	goc_chan_release(s->out);
	goc_wg_done(s->wg);
	free(s);
}

/* The first n primes, by the sieve of Eratosthenes. */
static int64_t *sequential_primes(int n)
{
	int64_t *p = malloc((size_t)n * sizeof *p);
	size_t limit = 16;
	for (;;) {
		char *composite = calloc(limit + 1, 1);
		int found = 0;
		for (size_t i = 2; i <= limit && found < n; i++) {
			if (composite[i])
				continue;
			p[found++] = (int64_t)i;
			for (size_t j = i * i; j <= limit; j += i)
				composite[j] = 1;
		}
		free(composite);
		if (found == n)
			return p;
		limit *= 2;
	}
}

static void run_sieve(int nprimes, size_t cap)
{
	int64_t *want = sequential_primes(nprimes);
	goc_wg wg = GOC_WG_INIT;

	goc_chan *ch = goc_chan_make(sizeof(int64_t), cap);
	CHECK(ch, "goc_chan_make");
	struct stage *g = calloc(1, sizeof *g);
	g->out = goc_chan_retain(ch);
	g->limit = want[nprimes - 1];
	g->wg = &wg;
	goc_wg_add(&wg, 1);
	CHECK(goc_go(generate, g) > 0, "spawn generator");

	for (int i = 0; i < nprimes; i++) {
		int64_t prime = -1;
		goc_status st = goc_chan_recv(ch, &prime);
		CHECK(st == GOC_OK, "prime #%d: recv returned %s", i + 1, goc_strerror(st));
		CHECK(prime == want[i], "prime #%d: sieve says %lld, sequential sieve %lld", i + 1,
		      (long long)prime, (long long)want[i]);
		goc_chan *next = goc_chan_make(sizeof(int64_t), cap);
		CHECK(next, "goc_chan_make");
		struct stage *f = calloc(1, sizeof *f);
		f->in = ch; /* our reference moves to the filter */
		f->out = goc_chan_retain(next);
		f->prime = prime;
		f->wg = &wg;
		goc_wg_add(&wg, 1);
		CHECK(goc_go(filter, f) > 0, "spawn filter %d", i);
		ch = next;
	}
	/* The generator stopped at the last prime: nothing else gets through
	 * the last filter, and the close arrives at the end of the chain. */
	int64_t extra = 12345;
	goc_status st = goc_chan_recv(ch, &extra);
	CHECK(st == GOC_CLOSED, "after the last prime: recv returned %s (value %lld)",
	      goc_strerror(st), (long long)extra);
	CHECK(extra == 0, "closed recv must zero the element");
	goc_wg_wait(&wg);
	goc_chan_release(ch);
	free(want);
}

static void main_g(void *arg)
{
	int nprimes = *(int *)arg;
	run_sieve(nprimes, 0);
	ok("sieve, unbuffered channels");
	run_sieve(nprimes, 1);
	ok("sieve, channels of capacity 1");
	run_sieve(nprimes, 16);
	ok("sieve, channels of capacity 16");
}

int main(void)
{
	/* 1000 primes: 1000 filter goroutines, about 500,000 channel
	 * operations per run. Sanitizers run the 300 first primes. */
	int nprimes = getenv("GOC_TEST_SANITIZER") ? 300 : 1000;
	goc_main(main_g, &nprimes);
	return 0;
}
