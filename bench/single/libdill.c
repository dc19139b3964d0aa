/*
 * libdill.c — Yield, ChanPingPong and SelectPingPong (bench/README.md's
 * definitions) on libdill, single-threaded, for comparison with goc-bench
 * -procs 1. Built outside the repository against a libdill built there
 * (bench/README.md, "Single-threaded C libraries"); libdill's code is not
 * part of goc.
 *
 *   libdill-bench [-scale F]
 */
#include <libdill.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void report(const char *name, int64_t ops, int64_t ns)
{
	printf("Benchmark%s-1\t%10lld\t%12.1f ns/op\n", name, (long long)ops, (double)ns / ops);
}

static coroutine void yielder(int64_t n, volatile int64_t *count)
{
	for (int64_t i = 0; i < n; i++) {
		yield();
		(*count)++;
	}
}

/* The driver waits for both in bundle_wait, as goc's waits on a wait group. */
static void bench_yield(int64_t n)
{
	volatile int64_t a = 0, b = 0;
	int64_t t0 = nanotime();
	int bndl = bundle();
	bundle_go(bndl, yielder(n / 2, &a));
	bundle_go(bndl, yielder(n - n / 2, &b));
	bundle_wait(bndl, -1);
	int64_t t1 = nanotime();
	hclose(bndl);
	if (a + b != n) {
		fprintf(stderr, "Yield: %lld yields of %lld\n", (long long)(a + b), (long long)n);
		exit(1);
	}
	report("Yield", n, t1 - t0);
}

static coroutine void echo(int ping, int pong)
{
	int64_t v;
	while (chrecv(ping, &v, sizeof v, -1) == 0)
		chsend(pong, &v, sizeof v, -1);
	chdone(pong);
}

static void bench_pingpong(int64_t n)
{
	int ping[2], pong[2];
	chmake(ping);
	chmake(pong);
	int h = go(echo(ping[1], pong[0]));
	int64_t t0 = nanotime();
	for (int64_t i = 0; i < n; i++) {
		int64_t v = i, r;
		chsend(ping[0], &v, sizeof v, -1);
		chrecv(pong[1], &r, sizeof r, -1);
		if (r != i) {
			fprintf(stderr, "ChanPingPong: reply %lld to %lld\n", (long long)r,
				(long long)i);
			exit(1);
		}
	}
	int64_t t1 = nanotime();
	chdone(ping[0]);
	hclose(h);
	report("ChanPingPong", n, t1 - t0);
}

/* Four data channels of which only the last carries traffic, and never. */
struct sel {
	int data[4][2];
	int never[2];
};

static int select_recv(struct sel *s, int side, int64_t *v)
{
	struct chclause cl[5];
	for (int k = 0; k < 4; k++)
		cl[k] = (struct chclause){CHRECV, s->data[k][side], v, sizeof *v};
	cl[4] = (struct chclause){CHRECV, s->never[side], v, sizeof *v};
	return choose(cl, 5, -1);
}

static coroutine void select_echo(struct sel *in, struct sel *out)
{
	int64_t v;
	for (;;) {
		int k = select_recv(in, 1, &v);
		if (k != 3)
			return;
		chsend(out->data[3][0], &v, sizeof v, -1);
	}
}

static void bench_select(int64_t n)
{
	struct sel ping, pong;
	for (int k = 0; k < 4; k++) {
		chmake(ping.data[k]);
		chmake(pong.data[k]);
	}
	chmake(ping.never);
	chmake(pong.never);
	int h = go(select_echo(&ping, &pong));
	int64_t t0 = nanotime();
	for (int64_t i = 0; i < n; i++) {
		int64_t v = i, r = -1;
		chsend(ping.data[3][0], &v, sizeof v, -1);
		if (select_recv(&pong, 1, &r) != 3 || r != i) {
			fprintf(stderr, "SelectPingPong: reply %lld to %lld\n", (long long)r,
				(long long)i);
			exit(1);
		}
	}
	int64_t t1 = nanotime();
	chdone(ping.data[3][0]);
	hclose(h);
	report("SelectPingPong", n, t1 - t0);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	double scale = argc == 3 && strcmp(argv[1], "-scale") == 0 ? atof(argv[2]) : 1.0;
	int64_t y = (int64_t)(10000000 * scale + 0.5), p = (int64_t)(5000000 * scale + 0.5);
	bench_pingpong(p < 1 ? 1 : p);
	bench_select(p < 1 ? 1 : p);
	bench_yield(y < 1 ? 1 : y);
	return 0;
}
