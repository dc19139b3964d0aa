/*
 * schedtrace.c — GOCDEBUG=schedtrace=N: every N ms sysmon prints one line
 * about the scheduler, in the format of Go's GODEBUG=schedtrace:
 *
 *   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 idlethreads=1 runqueue=0 [3 1]
 *
 * (time since the runtime started; threads = Ms created; runqueue = the
 * global run queue; then each P's local queue, runnext included).
 * With scheddetail=1, as in Go, the bracket list is replaced by a line per
 * P, per M and per goroutine:
 *
 *     P0: status=1 schedtick=1234 m=3 runqsize=0 gfreecnt=12
 *     M3: p=0 curg=17 spinning=false blocked=false
 *     G17: status=2() m=3
 *     G18: status=4(chan receive) m=-1
 *
 * P status: 0 idle, 1 running, 2 retiring, 3 dead (goc_maxprocs shrank).
 * G status numbers are Go's (1 runnable, 2 running, 4 waiting). M blocked:
 * asleep on its futex with no P.
 *
 * The summary comes from goc_sched_stats_read (sched.lock, as Go's
 * schedtrace); the detail lines read other threads' state without locks,
 * so they are each a value the field held recently, not one instant.
 * Those reads (goc__p_view_take, goc__m_view_take, goc__g_brief_take) also
 * feed the debug server's /debug/sched (debugserve.c).
 */
#include "debug.h"

static void put_kv(goc__buf *b, const char *key, int64_t v)
{
	goc__buf_str(b, key);
	goc__buf_int(b, v);
}

/* Go's numbers for goroutine states. */
static int go_status(uint32_t state)
{
	switch (state) {
	case G_RUNNABLE:
		return 1;
	case G_RUNNING:
		return 2;
	case G_WAITING:
		return 4;
	case G_DEAD:
		return 6;
	default:
		return 0;
	}
}

GOC_RACY_READER void goc__p_view_take(const goc__p *p, goc__p_view *v)
{
	uint32_t head = goc__load_acquire(&p->runq_head);
	uint32_t tail = goc__load_acquire(&p->runq_tail);
	const goc__g *curg = goc__load_relaxed(&p->curg);
	v->id = p->id;
	v->status = goc__load_relaxed(&p->status);
	const goc__m *m = v->status == P_RUNNING ? p->m : NULL;
	v->m_id = m ? m->id : -1;
	v->curg_id = curg ? curg->id : -1;
	v->schedtick = p->schedtick;
	v->runq = (int64_t)(uint32_t)(tail - head) + (goc__load_relaxed(&p->runnext) ? 1 : 0);
	v->gfree = p->ngfree;
}

GOC_RACY_READER void goc__m_view_take(const goc__m *m, goc__m_view *v)
{
	const goc__p *p = m->p;
	const goc__g *g = m->curg;
	v->id = m->id;
	v->p_id = p ? p->id : -1;
	v->curg_id = g ? g->id : -1;
	v->spinning = m->spinning;
	v->blocked = m->idle_listed;
}

GOC_RACY_READER void goc__g_brief_take(const goc__g *g, goc__g_brief *v)
{
	v->state = goc__load_acquire(&g->state);
	const goc__m *m = v->state == G_RUNNING ? g->m : NULL;
	v->id = g->id;
	v->wait_reason = (goc__wait_reason)g->wait_reason;
	v->m_id = m ? m->id : -1;
}

GOC_RACY_READER const goc__m *goc__m_next(const goc__m *m)
{
	return m ? m->alllink : goc__load_acquire(&goc__sched.allm);
}

static void print_p(goc__buf *b, const goc__p *p)
{
	goc__p_view v;
	goc__p_view_take(p, &v);
	put_kv(b, "  P", v.id);
	put_kv(b, ": status=", v.status);
	put_kv(b, " schedtick=", v.schedtick);
	put_kv(b, " m=", v.m_id);
	put_kv(b, " runqsize=", v.runq);
	put_kv(b, " gfreecnt=", v.gfree);
	goc__buf_str(b, "\n");
}

static void print_m(goc__buf *b, const goc__m *m)
{
	goc__m_view v;
	goc__m_view_take(m, &v);
	put_kv(b, "  M", v.id);
	put_kv(b, ": p=", v.p_id);
	put_kv(b, " curg=", v.curg_id);
	goc__buf_str(b, v.spinning ? " spinning=true" : " spinning=false");
	goc__buf_str(b, v.blocked ? " blocked=true\n" : " blocked=false\n");
}

static void print_g(goc__g *g, void *arg)
{
	goc__buf *b = arg;
	goc__g_brief v;
	goc__g_brief_take(g, &v);
	put_kv(b, "  G", v.id);
	put_kv(b, ": status=", go_status(v.state));
	goc__buf_str(b, "(");
	if (v.state == G_WAITING)
		goc__buf_str(b, goc__wait_reason_string(v.wait_reason));
	goc__buf_str(b, ")");
	put_kv(b, " m=", v.m_id);
	goc__buf_str(b, "\n");
}

void goc__schedtrace_print(goc__buf *b, int64_t uptime, bool detail)
{
	goc_sched_stats st;
	goc_sched_stats_read(&st);
	put_kv(b, "SCHED ", uptime / GOC_MILLISECOND);
	put_kv(b, "ms: gomaxprocs=", st.procs);
	put_kv(b, " idleprocs=", st.idle_procs);
	put_kv(b, " threads=", st.threads);
	put_kv(b, " spinningthreads=", st.spinning_threads);
	put_kv(b, " idlethreads=", st.idle_threads);
	put_kv(b, " runqueue=", st.global_runq);
	if (!detail) {
		goc__buf_str(b, " [");
		for (int i = 0; i < st.procs; i++) {
			if (i)
				goc__buf_str(b, " ");
			goc__buf_int(b, st.p[i].runq);
		}
		goc__buf_str(b, "]\n");
		goc__buf_flush(b);
		return;
	}
	goc__buf_str(b, "\n");
	for (int i = 0; i < st.procs; i++)
		print_p(b, goc__sched.allp[i]);
	for (const goc__m *m = goc__m_next(NULL); m; m = goc__m_next(m))
		print_m(b, m);
	goc__g_for_each(print_g, b);
	goc__buf_flush(b);
}
