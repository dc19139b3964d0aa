/*
 * goroutineprof.c — the goroutine profile (pprof's "goroutine"): every
 * goroutine with its stack, one sample of count 1 each, labelled with its
 * id ("goroutine"), name ("goroutine_name", if it has one) and state or
 * wait reason ("state": "chan receive", "runnable", ...).
 *
 * The stacks are the ones a dump prints (goc__g_summarize, dump.c): the
 * caller's own, a stopped goroutine's from its saved context, a goroutine
 * that never ran as its function alone; a goroutine running on another M
 * at that instant has no stack (a sample without locations). Nothing is
 * stopped, as for a dump: a goroutine that runs while it is read gives a
 * wrong stack, never a fault.
 */
#include <errno.h>
#include <time.h>

#include "../sync/qsbr.h"
#include "debug.h"
#include "pprof.h"

struct collection {
	goc__profile *profile;
	goc__g *self;
	bool failed;
};

static void add_sample(struct collection *c, goc__g *g, int64_t id, const char *name,
		       const char *state, const goc__stacktrace *t)
{
	static const int64_t one[1] = {1};
	goc__profile_label labels[3 + GOC_PPROF_LABELS_MAX] = {
		{.key = "goroutine", .num = id},
		{.key = "state", .str = state},
		{.key = "goroutine_name", .str = name},
	};
	int nlabels = name[0] ? 3 : 2;
	/* Another goroutine's set, read without a reference: labels.c's
	 * QSBR keeps it until this walk's M switches (or, on a plain
	 * thread, until its record goes offline); goc__profile_add copies
	 * the strings. */
	const char **kv;
	int npairs = goc__labels_get(goc__load_acquire(&g->labels), &kv);
	for (int i = 0; i < npairs; i++)
		labels[nlabels++] = (goc__profile_label){.key = kv[2 * i], .str = kv[2 * i + 1]};
	if (!goc__profile_add(c->profile, t->pcs, t->n, t->first_exact, one, labels, nlabels))
		c->failed = true;
}

static void add_other(goc__g *g, void *arg)
{
	struct collection *c = arg;
	if (g == c->self || c->failed)
		return;
	goc__g_summary s;
	goc__g_summarize(g, &s);
	add_sample(c, g, s.id, s.name, s.state, &s.trace);
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * GOC_SECOND + ts.tv_nsec;
}

__attribute__((noinline)) goc_status goc_pprof_goroutine(FILE *out)
{
	if (!out)
		return -EINVAL;
	goc__runtime_init();
	static const goc__profile_value_type type = {"goroutine", "count"};
	struct collection c = {.profile = goc__profile_new(&type, 1, type, 1)};
	if (!c.profile)
		return -ENOMEM;
	goc__m *m = goc__m_self();
	c.self = m ? m->curg : NULL;
	goc__stacktrace own;
	if (c.self && goc__unwind_self(0, &own))
		add_sample(&c, c.self, c.self->id, c.self->name, "running", &own);
	goc__qsbr_reader *thread = m ? NULL : goc__qsbr_thread_reader();
	if (thread)
		goc__qsbr_online(thread);
	goc__g_for_each(add_other, &c);
	if (thread)
		goc__qsbr_offline(thread);
	int err =
		c.failed ? ENOMEM : goc__profile_write(c.profile, out, clock_ns(CLOCK_REALTIME), 0);
	goc__profile_free(c.profile);
	return -err;
}
