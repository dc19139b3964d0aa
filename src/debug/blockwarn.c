/*
 * blockwarn.c — GOCDEBUG=blockwarn=S: sysmon reports every goroutine that
 * has been blocked (G_WAITING) for S seconds or more, with its wait reason
 * and stack, once per wait:
 *
 *   goc: blockwarn: goroutine 17 blocked for 12 seconds in chan receive
 *   goroutine 17 [chan receive, 12 seconds]:
 *   ...
 *
 * A wait is named by (goroutine id, the coarse time it parked): ids are
 * never reused, and a goroutine that wakes and parks again gets a new park
 * time (unless both happen within one sysmon tick, when it counts as the
 * same wait). `reported` holds the waits already reported that were still
 * going on at the last scan, sorted by id; each scan keeps those still
 * going on and adds the new ones, so the table never outgrows the set of
 * goroutines blocked now. Only sysmon touches it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "debug.h"

struct wait_key {
	int64_t id;
	int64_t since;
};

struct blocked {
	struct wait_key key;
	uint8_t reason;
};

static struct wait_key *reported, *still;
static size_t nreported, cap_reported, nstill, cap_still;

struct scan {
	int64_t now, after;
};

static int key_cmp(const void *a, const void *b)
{
	const struct wait_key *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->since > y->since) - (x->since < y->since);
}

static void still_add(struct wait_key k)
{
	if (nstill == cap_still) {
		size_t cap = cap_still ? 2 * cap_still : 64;
		struct wait_key *n = realloc(still, cap * sizeof *n);
		if (!n)
			return;
		still = n;
		cap_still = cap;
	}
	still[nstill++] = k;
}

GOC_RACY_READER static bool blocked_since(const goc__g *g, struct blocked *w)
{
	if (goc__load_acquire(&g->state) != G_WAITING || g->wait_reason == WAIT_SLEEP)
		return false;
	w->key.id = g->id;
	w->key.since = g->wait_since;
	w->reason = g->wait_reason;
	return w->key.since != 0;
}

static void scan_one(goc__g *g, void *arg)
{
	struct scan *s = arg;
	struct blocked w;
	if (!blocked_since(g, &w) || s->now - w.key.since < s->after)
		return;
	bool known =
		nreported && bsearch(&w.key, reported, nreported, sizeof w.key, key_cmp) != NULL;
	still_add(w.key);
	if (known)
		return;
	goc__buf b = {.fd = 2};
	goc__buf_str(&b, "goc: blockwarn: goroutine ");
	goc__buf_int(&b, w.key.id);
	goc__buf_str(&b, " blocked for ");
	int64_t secs = (s->now - w.key.since) / GOC_SECOND;
	goc__buf_int(&b, secs);
	goc__buf_str(&b, secs == 1 ? " second in " : " seconds in ");
	goc__buf_str(&b, goc__wait_reason_string((goc__wait_reason)w.reason));
	goc__buf_str(&b, "\n");
	goc__dump_g_to(&b, g, s->now);
}

void goc__blockwarn_scan(int64_t now, int64_t after)
{
	struct scan s = {.now = now, .after = after};
	nstill = 0;
	goc__g_for_each(scan_one, &s);
	if (nstill > 1)
		qsort(still, nstill, sizeof *still, key_cmp);
	/* The waits seen now become the reported ones; the old table is
	 * reused for the next scan. */
	struct wait_key *t = reported;
	size_t cap = cap_reported;
	reported = still;
	nreported = nstill;
	cap_reported = cap_still;
	still = t;
	cap_still = cap;
}
