/*
 * map.c — the concurrent map at work: the scenarios of Go's
 * sync/map_bench_test.go (Go 1.19's list), each on goc_map (Map<Name>) and
 * on a hash table behind a goc_rwmutex (RWMap<Name>), the baseline Go's
 * own benchmarks compare sync.Map with. As Go's RunParallel: a goroutine
 * per P, goroutine g running n/P iterations with i starting at g × n.
 * Keys and values are integers. One op is one iteration.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- the two maps behind one interface ---- */

struct rw_node {
	uint64_t key;
	void *value;
	struct rw_node *next;
};

struct rw_table {
	goc_rwmutex lock;
	struct rw_node **buckets; /* lock */
	size_t nbuckets, count;   /* lock */
};

struct map_ops {
	bool (*load)(void *m, uint64_t k, void **v);
	bool (*load_or_store)(void *m, uint64_t k, void *v, void **actual);
	bool (*load_and_delete)(void *m, uint64_t k, void **v);
	void (*store)(void *m, uint64_t k, void *v);
	void (*delete)(void *m, uint64_t k);
	/* Calls fn(k, arg) for each key until it returns false. */
	void (*range)(void *m, bool (*fn)(uint64_t k, void *arg), void *arg);
};

static bool gm_load(void *m, uint64_t k, void **v)
{
	return goc_map_load_u64(m, k, v);
}
static bool gm_load_or_store(void *m, uint64_t k, void *v, void **actual)
{
	bool loaded;
	if (goc_map_load_or_store_u64(m, k, v, actual, &loaded) != GOC_OK)
		bench_fail("goc_map_load_or_store: out of memory");
	return loaded;
}
static bool gm_load_and_delete(void *m, uint64_t k, void **v)
{
	return goc_map_load_and_delete_u64(m, k, v);
}
static void gm_store(void *m, uint64_t k, void *v)
{
	if (goc_map_store_u64(m, k, v) != GOC_OK)
		bench_fail("goc_map_store: out of memory");
}
static void gm_delete(void *m, uint64_t k)
{
	goc_map_delete_u64(m, k);
}
struct gm_range_arg {
	bool (*fn)(uint64_t k, void *arg);
	void *arg;
};
static bool gm_range_visit(const void *key, size_t len, void *value, void *arg)
{
	(void)len;
	(void)value;
	struct gm_range_arg *ra = arg;
	uint64_t k;
	memcpy(&k, key, sizeof k);
	return ra->fn(k, ra->arg);
}
static void gm_range(void *m, bool (*fn)(uint64_t k, void *arg), void *arg)
{
	struct gm_range_arg ra = {fn, arg};
	goc_map_range(m, gm_range_visit, &ra);
}
static const struct map_ops goc_map_ops = {gm_load,  gm_load_or_store, gm_load_and_delete,
					   gm_store, gm_delete,        gm_range};

static size_t rw_bucket(const struct rw_table *t, uint64_t k)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 32) & (t->nbuckets - 1);
}
static struct rw_node **rw_find(struct rw_table *t, uint64_t k)
{
	struct rw_node **p = &t->buckets[rw_bucket(t, k)];
	while (*p && (*p)->key != k)
		p = &(*p)->next;
	return p;
}
static bool rw_load(void *m, uint64_t k, void **v)
{
	struct rw_table *t = m;
	goc_rwmutex_rlock(&t->lock);
	struct rw_node *n = *rw_find(t, k);
	if (n && v)
		*v = n->value;
	goc_rwmutex_runlock(&t->lock);
	return n != NULL;
}
static void rw_grow(struct rw_table *t)
{
	size_t nb = t->nbuckets * 2;
	struct rw_node **b = bench_alloc(nb, sizeof *b);
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct rw_node *n = t->buckets[i], *next; n; n = next) {
			next = n->next;
			size_t j = (size_t)((n->key * 0x9E3779B97F4A7C15ull) >> 32) & (nb - 1);
			n->next = b[j];
			b[j] = n;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}
/* Inserts or (if replace) overwrites; the value found in *actual. */
static bool rw_put(struct rw_table *t, uint64_t k, void *v, bool replace, void **actual)
{
	goc_rwmutex_lock(&t->lock);
	struct rw_node **p = rw_find(t, k);
	bool loaded = *p != NULL;
	if (loaded) {
		if (actual)
			*actual = (*p)->value;
		if (replace)
			(*p)->value = v;
	} else {
		struct rw_node *n = bench_alloc(1, sizeof *n);
		*n = (struct rw_node){k, v, NULL};
		*p = n;
		if (actual)
			*actual = v;
		if (++t->count > t->nbuckets)
			rw_grow(t);
	}
	goc_rwmutex_unlock(&t->lock);
	return loaded;
}
static bool rw_load_or_store(void *m, uint64_t k, void *v, void **actual)
{
	/* Go's RWMutexMap.LoadOrStore: a read-locked look first. */
	if (rw_load(m, k, actual))
		return true;
	return rw_put(m, k, v, false, actual);
}
static void rw_store(void *m, uint64_t k, void *v)
{
	rw_put(m, k, v, true, NULL);
}
static bool rw_load_and_delete(void *m, uint64_t k, void **v)
{
	struct rw_table *t = m;
	goc_rwmutex_lock(&t->lock);
	struct rw_node **p = rw_find(t, k);
	struct rw_node *n = *p;
	if (n) {
		*p = n->next;
		t->count--;
		if (v)
			*v = n->value;
	}
	goc_rwmutex_unlock(&t->lock);
	free(n);
	return n != NULL;
}
static void rw_delete(void *m, uint64_t k)
{
	rw_load_and_delete(m, k, NULL);
}
/* As Go's RWMutexMap.Range: the keys copied under the read lock, then
 * visited without it. */
static void rw_range(void *m, bool (*fn)(uint64_t k, void *arg), void *arg)
{
	struct rw_table *t = m;
	goc_rwmutex_rlock(&t->lock);
	size_t count = t->count;
	uint64_t *keys = bench_alloc(count ? count : 1, sizeof *keys);
	size_t j = 0;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct rw_node *n = t->buckets[i]; n; n = n->next)
			keys[j++] = n->key;
	goc_rwmutex_runlock(&t->lock);
	for (size_t i = 0; i < count && fn(keys[i], arg); i++)
		;
	free(keys);
}
static const struct map_ops rw_ops = {rw_load,  rw_load_or_store, rw_load_and_delete,
				      rw_store, rw_delete,        rw_range};

static void *rw_new(void)
{
	struct rw_table *t = bench_alloc(1, sizeof *t);
	goc_rwmutex_init(&t->lock);
	t->nbuckets = 16;
	t->buckets = bench_alloc(t->nbuckets, sizeof *t->buckets);
	return t;
}
static void rw_free(void *m)
{
	struct rw_table *t = m;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct rw_node *n = t->buckets[i], *next; n; n = next) {
			next = n->next;
			free(n);
		}
	free(t->buckets);
	free(t);
}

/* ---- the scenarios ---- */

#define V(x) ((void *)(uintptr_t)(x))

struct scenario_run {
	const struct map_ops *ops;
	void *m;
	int64_t per_g;
	int64_t start_step; /* i of goroutine g starts at g × start_step */
	int64_t next_id;    /* atomic */
	int64_t failures;   /* atomic */
	void (*per_g_fn)(struct scenario_run *s, int64_t i);
	goc_wg done;
};

static void fail_once(struct scenario_run *s)
{
	__atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
}

static void prime(struct scenario_run *s, int64_t hits)
{
	for (int64_t i = 0; i < hits; i++)
		s->ops->load_or_store(s->m, (uint64_t)i, V(i), NULL);
	for (int64_t i = 0; i < hits * 2; i++)
		s->ops->load(s->m, (uint64_t)(i % hits), NULL);
}

static void load_mostly(struct scenario_run *s, int64_t i, int64_t hits, int64_t misses)
{
	for (int64_t end = i + s->per_g; i < end; i++)
		s->ops->load(s->m, (uint64_t)(i % (hits + misses)), NULL);
}
static void load_mostly_hits(struct scenario_run *s, int64_t i)
{
	load_mostly(s, i, 1023, 1);
}
static void load_mostly_misses(struct scenario_run *s, int64_t i)
{
	load_mostly(s, i, 1, 1023);
}
static void load_or_store_balanced(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++) {
		int64_t j = i % 256;
		void *actual;
		if (j < 128) {
			if (!s->ops->load_or_store(s->m, (uint64_t)j, V(i), &actual))
				fail_once(s);
		} else if (s->ops->load_or_store(s->m, (uint64_t)i, V(i), &actual)) {
			fail_once(s);
		}
	}
}
static void load_or_store_unique(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++)
		s->ops->load_or_store(s->m, (uint64_t)i, V(i), NULL);
}
static void load_or_store_collision(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++)
		s->ops->load_or_store(s->m, 0, V(0), NULL);
}
static void load_and_delete_balanced(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++) {
		int64_t j = i % 256;
		s->ops->load_and_delete(s->m, (uint64_t)(j < 128 ? j : i), NULL);
	}
}
static void load_and_delete_unique(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++)
		s->ops->load_and_delete(s->m, (uint64_t)i, NULL);
}
static void load_and_delete_collision(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++)
		if (s->ops->load_and_delete(s->m, 0, NULL))
			s->ops->store(s->m, 0, V(0));
}
static bool visit_all(uint64_t k, void *arg)
{
	(void)k;
	(void)arg;
	return true;
}
static void range_all(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++)
		s->ops->range(s->m, visit_all, NULL);
}
static void adversarial_alloc(struct scenario_run *s, int64_t i)
{
	int64_t stores = 0, loads_since_store = 0;
	for (int64_t end = i + s->per_g; i < end; i++) {
		s->ops->load(s->m, (uint64_t)i, NULL);
		if (++loads_since_store > stores) {
			s->ops->load_or_store(s->m, (uint64_t)i, V(stores), NULL);
			loads_since_store = 0;
			stores++;
		}
	}
}
static bool delete_and_stop(uint64_t k, void *arg)
{
	struct scenario_run *s = arg;
	s->ops->delete (s->m, k);
	return false;
}
static void adversarial_delete(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++) {
		s->ops->load(s->m, (uint64_t)i, NULL);
		if (i % 1024 == 0) {
			s->ops->range(s->m, delete_and_stop, s);
			s->ops->store(s->m, (uint64_t)i, V(i));
		}
	}
}
static void delete_collision(struct scenario_run *s, int64_t i)
{
	for (int64_t end = i + s->per_g; i < end; i++)
		s->ops->delete (s->m, 0);
}

static void scenario_worker(void *arg)
{
	struct scenario_run *s = arg;
	int64_t id = __atomic_fetch_add(&s->next_id, 1, __ATOMIC_RELAXED);
	s->per_g_fn(s, id * s->start_step);
	goc_wg_done(&s->done);
}

enum setup { SETUP_NONE, SETUP_HITS_1023, SETUP_HITS_1, SETUP_HITS_128, SETUP_KEY_0, SETUP_1024 };

static void run_scenario(struct bench_run *run, bool rw, enum setup setup,
			 void (*per_g)(struct scenario_run *s, int64_t i))
{
	int procs = goc_maxprocs(0);
	struct scenario_run s = {.ops = rw ? &rw_ops : &goc_map_ops,
				 .per_g = run->n / procs,
				 .start_step = run->n,
				 .per_g_fn = per_g,
				 .done = GOC_WG_INIT};
	s.m = rw ? rw_new() : (void *)goc_map_new();
	if (!s.m)
		bench_fail("goc_map_new: out of memory");
	switch (setup) {
	case SETUP_NONE:
		break;
	case SETUP_HITS_1023:
		prime(&s, 1023);
		break;
	case SETUP_HITS_1:
		prime(&s, 1);
		break;
	case SETUP_HITS_128:
		prime(&s, 128);
		break;
	case SETUP_KEY_0:
		s.ops->load_or_store(s.m, 0, V(0), NULL);
		break;
	case SETUP_1024:
		for (int64_t i = 0; i < 1024; i++)
			s.ops->store(s.m, (uint64_t)i, V(i));
		break;
	}
	run->ops = s.per_g * procs;
	bench_start(run);
	goc_wg_add(&s.done, procs);
	for (int g = 0; g < procs; g++)
		bench_go(scenario_worker, &s);
	goc_wg_wait(&s.done);
	bench_stop(run);
	if (rw)
		rw_free(s.m);
	else
		goc_map_free(s.m);
	if (s.failures)
		bench_fail("%" PRId64 " operations found what they should not have", s.failures);
}

#define SCENARIO(name, setup, fn)                      \
	void bench_map_##name(struct bench_run *run)   \
	{                                              \
		run_scenario(run, false, setup, fn);   \
	}                                              \
	void bench_rwmap_##name(struct bench_run *run) \
	{                                              \
		run_scenario(run, true, setup, fn);    \
	}

SCENARIO(load_mostly_hits, SETUP_HITS_1023, load_mostly_hits)
SCENARIO(load_mostly_misses, SETUP_HITS_1, load_mostly_misses)
SCENARIO(load_or_store_balanced, SETUP_HITS_128, load_or_store_balanced)
SCENARIO(load_or_store_unique, SETUP_NONE, load_or_store_unique)
SCENARIO(load_or_store_collision, SETUP_KEY_0, load_or_store_collision)
SCENARIO(load_and_delete_balanced, SETUP_HITS_128, load_and_delete_balanced)
SCENARIO(load_and_delete_unique, SETUP_NONE, load_and_delete_unique)
SCENARIO(load_and_delete_collision, SETUP_KEY_0, load_and_delete_collision)
SCENARIO(range, SETUP_1024, range_all)
SCENARIO(adversarial_alloc, SETUP_NONE, adversarial_alloc)
SCENARIO(adversarial_delete, SETUP_1024, adversarial_delete)
SCENARIO(delete_collision, SETUP_KEY_0, delete_collision)
