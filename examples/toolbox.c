/*
 * toolbox.c — the service toolbox together: a cache (goc_map) in front of
 * a slow backend, misses collapsed by goc_singleflight, and a rate limiter
 * per client (goc_limiter, kept in a goc_map keyed by client id).
 *
 * 32 client goroutines ask for 16 keys as fast as they can for 300 ms.
 * Each client may make 200 requests a second (burst 20); the backend takes
 * 5 ms per fetch. The output shows the limiter refusing most requests, the
 * cache answering most of the rest, and singleflight keeping the backend
 * to about one fetch per key.
 */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>

static goc_map *cache, *limiters;
static goc_singleflight *flights;
static int64_t backend_calls, served, refused, hits; /* atomic */

/* The slow backend: the value of key k is k * k. */
static int fetch(void *arg, void **value)
{
	__atomic_add_fetch(&backend_calls, 1, __ATOMIC_RELAXED);
	goc_sleep(5 * GOC_MILLISECOND);
	uintptr_t k = (uintptr_t)arg;
	*value = (void *)(k * k);
	goc_map_store_u64(cache, k, *value);
	return 0;
}

/* The limiter of client id, made on its first request. */
static goc_limiter *limiter_of(uint64_t id)
{
	void *lim;
	if (goc_map_load_u64(limiters, id, &lim))
		return lim;
	goc_limiter *fresh = goc_limiter_new(200, 20);
	bool loaded;
	goc_map_load_or_store_u64(limiters, id, fresh, &lim, &loaded);
	if (loaded)
		goc_limiter_free(fresh); /* another request of this client won */
	return lim;
}

struct client {
	uint64_t id;
	goc_wg *done;
};

static void client(void *arg)
{
	struct client *c = arg;
	uint64_t id = c->id;
	int64_t until = goc_now() + 300 * GOC_MILLISECOND;
	for (uint64_t i = 0; goc_now() < until; i++) {
		if (!goc_limiter_allow(limiter_of(id))) {
			__atomic_add_fetch(&refused, 1, __ATOMIC_RELAXED);
			goc_yield();
			continue;
		}
		uintptr_t k = (id + i) % 16;
		void *value;
		if (goc_map_load_u64(cache, k, &value)) {
			__atomic_add_fetch(&hits, 1, __ATOMIC_RELAXED);
		} else {
			goc_singleflight_result r;
			goc_singleflight_do(flights, &k, sizeof k, fetch, (void *)k, &r);
			value = r.value;
		}
		if ((uintptr_t)value != k * k)
			abort();
		__atomic_add_fetch(&served, 1, __ATOMIC_RELAXED);
	}
	goc_wg_done(c->done);
}

static bool free_limiter(const void *key, size_t len, void *value, void *arg)
{
	(void)key, (void)len, (void)arg;
	goc_limiter_free(value);
	return true;
}

static void main_goroutine(void *arg)
{
	(void)arg;
	cache = goc_map_new();
	limiters = goc_map_new();
	flights = goc_singleflight_new();
	goc_wg done = GOC_WG_INIT;
	struct client clients[32];
	goc_wg_add(&done, 32);
	for (uint64_t id = 0; id < 32; id++) {
		clients[id] = (struct client){id, &done};
		goc_go(client, &clients[id]);
	}
	goc_wg_wait(&done);
	printf("requests served: %lld, refused by the per-client limiters: %lld\n",
	       (long long)served, (long long)refused);
	printf("cache hits: %lld; backend fetches: %lld for 16 keys (singleflight collapsed the "
	       "concurrent misses)\n",
	       (long long)hits, (long long)backend_calls);
	printf("clients with a limiter in the map: %lld\n", (long long)goc_map_len(limiters));
	goc_map_range(limiters, free_limiter, NULL);
	goc_map_free(limiters);
	goc_map_free(cache);
	goc_singleflight_free(flights);
}

int main(void)
{
	goc_main(main_goroutine, NULL);
	return 0;
}
