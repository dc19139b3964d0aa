/*
 * leakcheck.c — goc_leakcheck, Go's goleak for goc tests: after a test,
 * every goroutine still alive other than the caller, the main goroutine and
 * an allow-list is a leak.
 *
 * Goroutines that are about to finish (a worker that was just sent its
 * last value, a timer callback's receiver) are given `grace` to do so: the
 * check runs again with a backoff from 1 ms to 50 ms, sleeping in between
 * (goc_sleep, so on a goroutine the others get the P), until nothing is
 * left or the grace period is over. Only then are the leaked goroutines
 * printed, with their stacks; the count returned is the one printed.
 *
 * The allow-list matches a goroutine's function, the function that called
 * goc_go for it, or its name; function names come from the symbolizer, so
 * they are looked up only when there is a list.
 */
#include <string.h>

#include "debug.h"

#define BACKOFF_FIRST GOC_MILLISECOND
#define BACKOFF_MAX (50 * GOC_MILLISECOND)

struct leak_scan {
	const goc__g *self;
	const char *const *allow;
	goc__buf *out; /* print the leaks here, or NULL: only count */
	int64_t now;
	int64_t count;
};

struct g_ident {
	uintptr_t fn, create_pc;
	uint8_t flags;
	char name[32];
};

GOC_RACY_READER static void g_ident_take(const goc__g *g, struct g_ident *id)
{
	id->fn = (uintptr_t)g->fn;
	id->create_pc = (uintptr_t)g->create_pc;
	id->flags = g->flags;
	for (size_t i = 0; i < sizeof id->name; i++)
		id->name[i] = g->name[i];
	id->name[sizeof id->name - 1] = 0;
}

static bool listed(const char *const *allow, const char *name)
{
	if (!name[0])
		return false;
	for (; *allow; allow++)
		if (strcmp(*allow, name) == 0)
			return true;
	return false;
}

static bool allowed(const struct g_ident *id, const char *const *allow)
{
	if (!allow)
		return false;
	if (listed(allow, id->name))
		return true;
	char func[256];
	if (goc__symbolize_name(id->fn, true, func, sizeof func) && listed(allow, func))
		return true;
	return goc__symbolize_name(id->create_pc, false, func, sizeof func) && listed(allow, func);
}

static void scan_one(goc__g *g, void *arg)
{
	struct leak_scan *s = arg;
	struct g_ident id;
	g_ident_take(g, &id);
	if (g == s->self || (id.flags & G_FLAG_MAIN) || allowed(&id, s->allow))
		return;
	s->count++;
	if (s->out)
		goc__dump_g_to(s->out, g, s->now);
}

static int64_t scan(struct leak_scan *s)
{
	s->count = 0;
	s->now = goc__prim_nanotime();
	goc__g_for_each(scan_one, s);
	return s->count;
}

int64_t goc_leakcheck(const goc_leakcheck_options *opts)
{
	goc__runtime_init();
	int64_t grace = opts && opts->grace ? opts->grace : GOC_SECOND;
	goc__m *m = goc__m_self();
	struct leak_scan s = {
		.self = m ? m->curg : NULL,
		.allow = opts ? opts->allow : NULL,
	};
	int64_t deadline = grace < 0 ? INT64_MAX : goc__prim_nanotime() + grace;
	int64_t backoff = BACKOFF_FIRST;
	while (scan(&s) > 0 && goc__prim_nanotime() < deadline) {
		goc_sleep(backoff);
		backoff = backoff * 2 < BACKOFF_MAX ? backoff * 2 : BACKOFF_MAX;
	}
	if (s.count == 0)
		return 0;
	FILE *f = opts && opts->out ? opts->out : stderr;
	goc__buf b = {.fd = -1, .file = f};
	fflush(f);
	goc__buf_str(&b, "goc_leakcheck: found unexpected goroutines:\n\n");
	s.out = &b;
	int64_t n = scan(&s);
	goc__buf_str(&b, "goc_leakcheck: ");
	goc__buf_int(&b, n);
	goc__buf_str(&b, n == 1 ? " goroutine leaked\n" : " goroutines leaked\n");
	goc__buf_flush(&b);
	fflush(f);
	return n;
}
