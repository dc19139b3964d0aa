/*
 * sched.c — giving up the processor: Yield.
 */
#include <inttypes.h>

#include "bench.h"

/* One of Yield's two goroutines: how many calls it must make and, once it
 * is done, how many it made. */
struct yielder {
	int64_t calls_wanted;
	int64_t calls_made;
	goc_wg *finished;
};

static void yielder_body(void *arg)
{
	struct yielder *self = arg;
	int64_t made = 0;
	while (made < self->calls_wanted) {
		goc_yield();
		made++;
	}
	self->calls_made = made;
	goc_wg_done(self->finished);
}

/*
 * Yield: two goroutines each call goc_yield n/2 times (at least once). One
 * op is one call. With one P every call switches to the other goroutine;
 * with two, each goroutine tends to have a P of its own and a call is a
 * trip through the run queues that comes back to the caller.
 */
void bench_yield(struct bench_run *run)
{
	int64_t per_goroutine = run->n / 2 > 0 ? run->n / 2 : 1;
	goc_wg finished;
	goc_wg_init(&finished);
	struct yielder yielders[2];
	for (int g = 0; g < 2; g++)
		yielders[g] = (struct yielder){per_goroutine, 0, &finished};
	run->ops = 2 * per_goroutine;

	bench_start(run);
	goc_wg_add(&finished, 2);
	for (int g = 0; g < 2; g++)
		bench_go(yielder_body, &yielders[g]);
	goc_wg_wait(&finished);
	bench_stop(run);

	int64_t made = yielders[0].calls_made + yielders[1].calls_made;
	if (made != run->ops)
		bench_fail("%" PRId64 " calls counted, want %" PRId64, made, run->ops);
}
