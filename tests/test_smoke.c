/* test_smoke.c — the first thing that must work: goc_main, goc_go, a wait
 * group, sleep and yield. */
#include <stdatomic.h>

#include "testutil.h"

static atomic_long ran;

static void child(void *arg)
{
	goc_wg *wg = arg;
	goc_yield();
	atomic_fetch_add(&ran, 1);
	goc_wg_done(wg);
}

static void main_g(void *arg)
{
	(void)arg;
	CHECK(goc_id() > 0, "main goroutine id %lld", (long long)goc_id());
	goc_wg wg = GOC_WG_INIT;
	goc_wg_add(&wg, 1000);
	for (int i = 0; i < 1000; i++)
		CHECK(goc_go(child, &wg) > 0, "spawn");
	goc_wg_wait(&wg);
	CHECK(atomic_load(&ran) == 1000, "ran %ld", atomic_load(&ran));
	int64_t t0 = goc_now();
	goc_sleep(10 * GOC_MILLISECOND);
	CHECK(goc_now() - t0 >= 10 * GOC_MILLISECOND, "slept too little");
	ok("spawn, wait group, sleep");
}

int main(void)
{
	goc_main(main_g, NULL);
	CHECK(goc_id() == 0, "plain thread id");
	return 0;
}
