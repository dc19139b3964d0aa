/*
 * labels.c — profile labels (Go's pprof.Do, SetGoroutineLabels): an
 * immutable, reference-counted set of key/value strings per goroutine
 * (g->labels), shared with the goroutines it starts, read by the CPU
 * profiler's signal handler and by the goroutine profile.
 *
 * Invariants:
 *  - A set never changes after it is made. g->labels is written only by
 *    the goroutine itself (goc_pprof_set_labels, goc_pprof_do, its exit)
 *    and by spawn before the goroutine is published; each g->labels holds
 *    one reference.
 *  - The CPU profiler's handler runs on the thread of the goroutine it
 *    interrupts, so the set it reads from that goroutine is held by it
 *    for the whole handler: the reference it takes (an atomic add, which
 *    is async-signal-safe) is on a live set. Writers store the new set
 *    before they drop the old one.
 *  - The goroutine profile reads other goroutines' sets without a
 *    reference, copying the strings at once. A set whose last reference
 *    goes is freed after a QSBR grace period (sync/qsbr.h): the profile
 *    reads on an M between two switches, or on a plain thread with its
 *    record online, so no set it can reach is freed under it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../sync/qsbr.h"
#include "debug.h"

struct goc__labels {
	void *qsbr_link; /* goc__qsbr_retire's chain; never read otherwise */
	int64_t refs;    /* atomic */
	int n;           /* pairs */
	const char *kv[2 * GOC_PPROF_LABELS_MAX]; /* into the text after the struct */
};

void goc__labels_retain(goc__labels *l)
{
	if (l)
		goc__fetch_add_relaxed(&l->refs, 1);
}

void goc__labels_release(goc__labels *l)
{
	if (l && goc__sub_fetch_acqrel(&l->refs, 1) == 0)
		goc__qsbr_retire(l);
}

int goc__labels_get(const goc__labels *l, const char ***kv)
{
	if (!l)
		return 0;
	*kv = (const char **)l->kv;
	return l->n;
}

/* A set of base's pairs with kv's laid over them (kv's win on a repeated
 * key); NULL with *err for -EINVAL or -ENOMEM. An empty result is NULL
 * with *err 0. */
static goc__labels *labels_make(const goc__labels *base, const char *const *kv, size_t n, int *err)
{
	*err = 0;
	if (n % 2 || n > 2 * GOC_PPROF_LABELS_MAX || (n && !kv)) {
		*err = -EINVAL;
		return NULL;
	}
	const char *pairs[4 * GOC_PPROF_LABELS_MAX];
	int np = 0;
	for (int i = 0; base && i < base->n; i++) {
		pairs[2 * np] = base->kv[2 * i];
		pairs[2 * np + 1] = base->kv[2 * i + 1];
		np++;
	}
	for (size_t i = 0; i < n; i += 2) {
		if (!kv[i] || !kv[i + 1]) {
			*err = -EINVAL;
			return NULL;
		}
		int j = 0;
		while (j < np && strcmp(pairs[2 * j], kv[i]))
			j++;
		pairs[2 * j] = kv[i];
		pairs[2 * j + 1] = kv[i + 1];
		if (j == np)
			np++;
	}
	if (np > GOC_PPROF_LABELS_MAX) {
		*err = -EINVAL;
		return NULL;
	}
	if (np == 0)
		return NULL;
	size_t text = 0;
	for (int i = 0; i < 2 * np; i++)
		text += strlen(pairs[i]) + 1;
	goc__labels *l = malloc(sizeof *l + text);
	if (!l) {
		*err = -ENOMEM;
		return NULL;
	}
	l->qsbr_link = NULL;
	l->refs = 1;
	l->n = np;
	char *at = (char *)(l + 1);
	for (int i = 0; i < 2 * np; i++) {
		size_t len = strlen(pairs[i]) + 1;
		memcpy(at, pairs[i], len);
		l->kv[i] = at;
		at += len;
	}
	return l;
}

static goc__g *self(const char *what)
{
	goc__m *m = goc__m_self();
	goc__g *g = m ? m->curg : NULL;
	if (!g)
		goc__panic("%s: not on a goroutine", what);
	return g;
}

/* Installs l (its reference moves to g) and drops the old set. */
static void labels_install(goc__g *g, goc__labels *l)
{
	goc__labels *old = g->labels;
	/* Before the old set's release: see the invariants. Release: the
	 * goroutine profile, reading it from another thread, sees the set's
	 * strings. */
	goc__store_release(&g->labels, l);
	goc__labels_release(old);
}

goc_status goc_pprof_set_labels(const char *const *kv, size_t n)
{
	goc__g *g = self("goc_pprof_set_labels");
	int err;
	goc__labels *l = labels_make(NULL, kv, n, &err);
	if (err)
		return err;
	labels_install(g, l);
	return GOC_OK;
}

goc_status goc_pprof_do(const char *const *kv, size_t n, void (*fn)(void *arg), void *arg)
{
	goc__g *g = self("goc_pprof_do");
	if (!fn)
		goc__panic("goc_pprof_do: nil function");
	int err;
	goc__labels *l = labels_make(g->labels, kv, n, &err);
	if (err)
		return err;
	goc__labels *before = g->labels;
	goc__labels_retain(before);
	labels_install(g, l);
	fn(arg);
	/* fn may have parked: the goroutine's descriptor is the same, on
	 * whatever M it now runs. */
	labels_install(g, before);
	return GOC_OK;
}

const char *goc_pprof_label(const char *key)
{
	goc__g *g = self("goc_pprof_label");
	const goc__labels *l = g->labels;
	for (int i = 0; l && key && i < l->n; i++)
		if (!strcmp(l->kv[2 * i], key))
			return l->kv[2 * i + 1];
	return NULL;
}
