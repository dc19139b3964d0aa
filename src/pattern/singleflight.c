/*
 * singleflight.c — goc_singleflight: calls with the same key share one
 * execution (golang.org/x/sync/singleflight).
 *
 * A group is a table of the executions in flight, keyed by the caller's
 * bytes, under one mutex that is never held while fn runs. An execution
 * is a reference-counted record: its runner and each caller waiting for
 * it hold a reference, so a caller that gives up (do_ctx) or a forget
 * never frees what the others still read.
 *
 * Invariants:
 *  - A record is in the table from its creation until its runner finishes
 *    or a forget removes it, whichever is first; only records in the table
 *    gain callers.
 *  - value, err and shared are written by the runner before done reaches
 *    zero and read by callers after it did: the wait group orders them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "../sync/hash.h"

#include "../sched/runtime.h"

struct sf_call {
	struct sf_call *next; /* chain of its bucket; sf->lock */
	uint64_t hash;
	goc_wg done;   /* 1 until the runner has stored the result */
	uint32_t refs; /* atomic: the runner and every waiting caller */
	bool in_table; /* sf->lock */
	int callers;   /* sf->lock: callers of this execution so far */
	void *value;   /* the result, see the invariants */
	int err;
	bool shared;
	goc_singleflight *sf;
	goc_singleflight_fn fn; /* for the runner goroutine of do_ctx */
	void *arg;
	size_t key_len;
	unsigned char key[];
};

struct goc_singleflight {
	goc_mutex lock;
	struct sf_call **buckets; /* lock; a power of two of them */
	size_t nbuckets;
	size_t count;    /* lock: records in the table */
	size_t inflight; /* lock: executions not finished, forgotten or not */
	uint64_t seed;
};

goc_singleflight *goc_singleflight_new(void)
{
	goc_singleflight *sf = calloc(1, sizeof *sf);
	if (!sf)
		return NULL;
	sf->nbuckets = 16;
	sf->buckets = calloc(sf->nbuckets, sizeof *sf->buckets);
	if (!sf->buckets) {
		free(sf);
		return NULL;
	}
	goc_mutex_init(&sf->lock);
	sf->seed = goc__prim_random64();
	return sf;
}

void goc_singleflight_free(goc_singleflight *sf)
{
	if (!sf)
		return;
	if (sf->inflight)
		goc__panic("goc_singleflight_free: %zu executions still in flight", sf->inflight);
	free(sf->buckets);
	free(sf);
}

static void call_unref(struct sf_call *c)
{
	if (goc__sub_fetch_acqrel(&c->refs, 1) == 0)
		free(c);
}

/* The record of key in the table, or NULL. sf->lock. */
static struct sf_call *table_find(goc_singleflight *sf, uint64_t hash, const void *key,
				  size_t key_len)
{
	for (struct sf_call *c = sf->buckets[hash & (sf->nbuckets - 1)]; c; c = c->next)
		if (c->hash == hash && c->key_len == key_len &&
		    (key_len == 0 || memcmp(c->key, key, key_len) == 0))
			return c;
	return NULL;
}

/* Doubles the buckets when chains grow long; keeps the old ones if memory
 * runs out (chains are just longer). sf->lock. */
static void table_grow(goc_singleflight *sf)
{
	size_t n = sf->nbuckets * 2;
	struct sf_call **b = calloc(n, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < sf->nbuckets; i++) {
		struct sf_call *c = sf->buckets[i];
		while (c) {
			struct sf_call *next = c->next;
			c->next = b[c->hash & (n - 1)];
			b[c->hash & (n - 1)] = c;
			c = next;
		}
	}
	free(sf->buckets);
	sf->buckets = b;
	sf->nbuckets = n;
}

static void table_remove(goc_singleflight *sf, struct sf_call *c)
{
	struct sf_call **pp = &sf->buckets[c->hash & (sf->nbuckets - 1)];
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	c->in_table = false;
	sf->count--;
}

/*
 * Finds the execution of key or starts one. Returns it with a reference
 * for the caller, and *runner true if the caller must run it; NULL if
 * memory ran out.
 */
static struct sf_call *join(goc_singleflight *sf, const void *key, size_t key_len, bool *runner)
{
	uint64_t hash = goc__hash(key, key_len, sf->seed);
	goc_mutex_lock(&sf->lock);
	struct sf_call *c = table_find(sf, hash, key, key_len);
	if (c) {
		c->callers++;
		goc__add_fetch_relaxed(&c->refs, 1);
		goc_mutex_unlock(&sf->lock);
		*runner = false;
		return c;
	}
	c = malloc(sizeof *c + key_len);
	if (!c) {
		goc_mutex_unlock(&sf->lock);
		return NULL;
	}
	*c = (struct sf_call){.hash = hash,
			      .refs = 1,
			      .in_table = true,
			      .callers = 1,
			      .sf = sf,
			      .key_len = key_len};
	if (key_len)
		memcpy(c->key, key, key_len);
	goc_wg_init(&c->done);
	goc_wg_add(&c->done, 1);
	if (sf->count >= 2 * sf->nbuckets)
		table_grow(sf);
	c->next = sf->buckets[hash & (sf->nbuckets - 1)];
	sf->buckets[hash & (sf->nbuckets - 1)] = c;
	sf->count++;
	sf->inflight++;
	goc_mutex_unlock(&sf->lock);
	*runner = true;
	return c;
}

/* The runner's part: run fn, publish the result, leave the table. */
static void run(struct sf_call *c, goc_singleflight_fn fn, void *arg)
{
	c->value = NULL;
	c->err = fn(arg, &c->value);
	goc_singleflight *sf = c->sf;
	goc_mutex_lock(&sf->lock);
	if (c->in_table)
		table_remove(sf, c);
	c->shared = c->callers > 1;
	sf->inflight--;
	goc_mutex_unlock(&sf->lock);
	goc_wg_done(&c->done);
}

static void result_of(struct sf_call *c, bool runner, goc_singleflight_result *out)
{
	out->value = c->value;
	out->err = c->err;
	out->shared = runner ? c->shared : true;
}

static goc_singleflight *checked(goc_singleflight *sf, const void *key, size_t key_len,
				 const char *what)
{
	if (!sf)
		goc__panic("%s: nil group", what);
	if (!key && key_len)
		goc__panic("%s: NULL key of %zu bytes", what, key_len);
	return sf;
}

goc_status goc_singleflight_do(goc_singleflight *sf, const void *key, size_t key_len,
			       goc_singleflight_fn fn, void *arg, goc_singleflight_result *out)
{
	checked(sf, key, key_len, "goc_singleflight_do");
	if (!fn || !out)
		goc__panic("goc_singleflight_do: NULL fn or result");
	bool runner;
	struct sf_call *c = join(sf, key, key_len, &runner);
	if (!c)
		return -ENOMEM;
	if (runner)
		run(c, fn, arg);
	else
		goc_wg_wait(&c->done);
	result_of(c, runner, out);
	call_unref(c);
	return GOC_OK;
}

static void runner_main(void *arg)
{
	struct sf_call *c = arg;
	run(c, c->fn, c->arg);
	call_unref(c);
}

goc_status goc_singleflight_do_ctx(goc_singleflight *sf, goc_ctx *ctx, const void *key,
				   size_t key_len, goc_singleflight_fn fn, void *arg,
				   goc_singleflight_result *out)
{
	checked(sf, key, key_len, "goc_singleflight_do_ctx");
	if (!fn || !out)
		goc__panic("goc_singleflight_do_ctx: NULL fn or result");
	bool runner;
	struct sf_call *c = join(sf, key, key_len, &runner);
	if (!c)
		return -ENOMEM;
	if (runner) {
		/* The runner goroutine holds a reference of its own. */
		c->fn = fn;
		c->arg = arg;
		goc__add_fetch_relaxed(&c->refs, 1);
		if (goc_go(runner_main, c) <= 0) {
			/* No goroutine could be had: run it on the caller,
			 * as goc_singleflight_do would (without the ctx
			 * escape), so the callers that joined meanwhile get
			 * a result all the same. */
			call_unref(c);
			run(c, fn, arg);
			result_of(c, true, out);
			call_unref(c);
			return GOC_OK;
		}
	}
	/* As with Go's DoChan, every caller is told whether the execution
	 * had more than one. */
	goc_status st = goc_wg_wait_ctx(&c->done, ctx);
	if (st == GOC_OK)
		result_of(c, true, out);
	call_unref(c);
	return st;
}

void goc_singleflight_forget(goc_singleflight *sf, const void *key, size_t key_len)
{
	checked(sf, key, key_len, "goc_singleflight_forget");
	uint64_t hash = goc__hash(key, key_len, sf->seed);
	goc_mutex_lock(&sf->lock);
	struct sf_call *c = table_find(sf, hash, key, key_len);
	if (c)
		table_remove(sf, c);
	goc_mutex_unlock(&sf->lock);
}
