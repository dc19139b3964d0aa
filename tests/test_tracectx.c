/*
 * test_tracectx.c — W3C Trace Context: traceparent and tracestate against
 * the recommendation's rules (valid and invalid headers, future versions,
 * blanks, tracestate keys, values, repeats, the 32-member limit and
 * truncation), new traces and child spans, and the trace context carried
 * by contexts into goroutines.
 */
#include <errno.h>
#include <string.h>

#include "testutil.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

static void check_traceparent(void)
{
	static const struct {
		const char *in, *out; /* out NULL: invalid */
	} cases[] = {
		{"00-" TID "-" SID "-01", "00-" TID "-" SID "-01"},
		{"00-" TID "-" SID "-00", "00-" TID "-" SID "-00"},
		{" \t00-" TID "-" SID "-01 ", "00-" TID "-" SID "-01"},
		/* flags the spec does not define are dropped */
		{"00-" TID "-" SID "-09", "00-" TID "-" SID "-01"},
		{"00-" TID "-" SID "-fe", "00-" TID "-" SID "-00"},
		/* a future version: its known fields, more after a '-' */
		{"cc-" TID "-" SID "-01", "00-" TID "-" SID "-01"},
		{"cc-" TID "-" SID "-01-what-the-future-will-be-like", "00-" TID "-" SID "-01"},
		{"cc-" TID "-" SID "-01.what", NULL},
		{"ff-" TID "-" SID "-01", NULL},
		{"00-" TID "-" SID "-01-", NULL},
		{"00-" TID "-" SID "-01x", NULL},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", NULL},
		{"00-" TID "-00F067AA0BA902B7-01", NULL},
		{"0A-" TID "-" SID "-01", NULL},
		{"00-00000000000000000000000000000000-" SID "-01", NULL},
		{"00-" TID "-0000000000000000-01", NULL},
		{"00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01", NULL},
		{"00-" TID "-00f067aa0ba902b-01", NULL},
		{"00_" TID "-" SID "-01", NULL},
		{"00-" TID "_" SID "-01", NULL},
		{"00-" TID "-" SID "_01", NULL},
		{"0-" TID "-" SID "-01", NULL},
		{"0g-" TID "-" SID "-01", NULL},
		{"00-" TID "-" SID "-0g", NULL},
		{"00-" TID "-" SID "-1", NULL},
		{"00-4bf92f3577b34da6a3ce929d0e0e47-36-" SID "-01", NULL},
		{"", NULL},
		{"00", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		goc_tracectx tc;
		memset(&tc, 0x5a, sizeof tc);
		goc_status st = goc_traceparent_parse(cases[i].in, &tc);
		if (!cases[i].out) {
			CHECK(st == -EINVAL, "'%s' accepted", cases[i].in);
			CHECK(tc.trace_id[0] == 0x5a && tc.flags == 0x5a, "'%s': out changed",
			      cases[i].in);
			continue;
		}
		CHECK(st == GOC_OK, "'%s' refused: %d", cases[i].in, st);
		char buf[GOC_TRACEPARENT_SIZE];
		goc_traceparent_format(&tc, buf);
		CHECK(!strcmp(buf, cases[i].out) && strlen(buf) == GOC_TRACEPARENT_SIZE - 1,
		      "'%s' -> '%s', want '%s'", cases[i].in, buf, cases[i].out);
		CHECK(tc.state[0] == 0, "state after traceparent");
		char tid[GOC_TRACE_ID_SIZE], sid[GOC_SPAN_ID_SIZE];
		goc_tracectx_trace_id(&tc, tid);
		goc_tracectx_span_id(&tc, sid);
		CHECK(!strcmp(tid, TID) && !strcmp(sid, SID), "ids %s %s", tid, sid);
	}
	goc_tracectx tc;
	CHECK(goc_traceparent_parse(NULL, &tc) == -EINVAL, "NULL value");
	ok("traceparent: the spec's valid and invalid values, future versions");
}

/* tracestate in, normalized out (NULL: invalid). */
static void state_case(const char *in, const char *want)
{
	goc_tracectx tc;
	strcpy(tc.state, "old=1");
	goc_status st = goc_tracestate_parse(in, &tc);
	if (!want) {
		CHECK(st == -EINVAL && tc.state[0] == 0, "tracestate '%.80s' accepted: '%s'", in,
		      tc.state);
		return;
	}
	CHECK(st == GOC_OK, "tracestate '%.80s' refused", in);
	CHECK(!strcmp(tc.state, want), "tracestate '%.80s' -> '%.80s', want '%.80s'", in, tc.state,
	      want);
}

static char *repeat_members(int n, int value_len)
{
	char *s = malloc((size_t)n * (size_t)(value_len + 8) + 1), *p = s;
	CHECK(s, "out of memory");
	for (int i = 0; i < n; i++) {
		p += sprintf(p, "%sk%02d=", i ? "," : "", i);
		memset(p, 'v', (size_t)value_len);
		p += value_len;
	}
	*p = 0;
	return s;
}

static void check_tracestate(void)
{
	state_case("", "");
	state_case("foo=1", "foo=1");
	state_case("foo=1,bar=2", "foo=1,bar=2");
	state_case(" foo=1 , ,\tbar=2 ,", "foo=1,bar=2");
	state_case("foo=a b", "foo=a b");
	state_case("tenant@system=1,1t@s=2,a_-*/b=3", "tenant@system=1,1t@s=2,a_-*/b=3");
	state_case("foo=1,foo=2", NULL);
	state_case("Foo=1", NULL);
	state_case("1foo=1", NULL);
	state_case("t@Sys=1", NULL);
	state_case("t@s2345678901234=1", "t@s2345678901234=1");
	state_case("t@s23456789012345=1", NULL);
	state_case("@s=1", NULL);
	state_case("t@=1", NULL);
	state_case("foo", NULL);
	state_case("foo=", NULL);
	state_case("foo=a=b", NULL);
	state_case("=1", NULL);
	state_case("foo=\x7f", NULL);
	char key[300];
	memset(key, 'k', 256);
	strcpy(key + 256, "=1");
	state_case(key, key);
	memset(key, 'k', 257);
	strcpy(key + 257, "=1");
	state_case(key, NULL);
	char *s = repeat_members(32, 1);
	state_case(s, s);
	free(s);
	s = repeat_members(33, 1);
	state_case(s, NULL);
	free(s);
	/* 5 members of 100 bytes, 504 in all, fit; of 6 (605) the last goes. */
	s = repeat_members(5, 96);
	CHECK(strlen(s) == 504, "%zu", strlen(s));
	state_case(s, s);
	char *six = repeat_members(6, 96);
	state_case(six, s);
	free(six);
	/* A long member goes first, wherever it is. */
	char big[1024];
	snprintf(big, sizeof big, "big=%0200d,%s", 7, s);
	state_case(big, s);
	free(s);
	CHECK(goc_tracestate_parse(NULL, &(goc_tracectx){0}) == -EINVAL, "NULL");
	ok("tracestate: keys, values, repeats, 32 members, truncation");
}

static void check_new_child(void)
{
	enum { N = 2000 };
	static goc_tracectx t[N];
	for (int i = 0; i < N; i++) {
		goc_tracectx_new(&t[i]);
		CHECK(t[i].flags == GOC_TRACE_SAMPLED && t[i].state[0] == 0, "new");
		char buf[GOC_TRACEPARENT_SIZE];
		goc_traceparent_format(&t[i], buf);
		goc_tracectx back;
		CHECK(goc_traceparent_parse(buf, &back) == GOC_OK &&
			      !memcmp(back.trace_id, t[i].trace_id, 16) &&
			      !memcmp(back.span_id, t[i].span_id, 8),
		      "round trip %s", buf);
	}
	for (int i = 1; i < N; i++)
		CHECK(memcmp(t[i].trace_id, t[i - 1].trace_id, 16) &&
			      memcmp(t[i].span_id, t[i - 1].span_id, 8),
		      "repeated ids");
	goc_tracectx c;
	strcpy(t[0].state, "a=1");
	goc_tracectx_child(&t[0], &c);
	CHECK(!memcmp(c.trace_id, t[0].trace_id, 16) && memcmp(c.span_id, t[0].span_id, 8) &&
		      c.flags == t[0].flags && !strcmp(c.state, "a=1"),
	      "child");
	goc_tracectx_child(&c, &c);
	CHECK(!memcmp(c.trace_id, t[0].trace_id, 16), "child in place");
	ok("new traces and child spans: distinct random ids");
}

static goc_wg workers = GOC_WG_INIT;
static char seen[8][GOC_TRACE_ID_SIZE];

static void worker(void *arg)
{
	goc_ctx *ctx = arg;
	const goc_tracectx *tc = goc_ctx_trace(ctx);
	CHECK(tc, "no trace in the worker");
	static int64_t next;
	int64_t i = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
	goc_tracectx_trace_id(tc, seen[i]);
	goc_ctx_release(ctx);
	goc_wg_done(&workers);
}

static void check_contexts(void)
{
	goc_ctx *bg = goc_ctx_background();
	CHECK(goc_ctx_trace(bg) == NULL, "background has a trace");
	goc_tracectx tc;
	CHECK(goc_traceparent_parse("00-" TID "-" SID "-01", &tc) == GOC_OK, "parse");
	goc_ctx *cancel = goc_ctx_with_cancel(bg);
	goc_ctx *traced = goc_ctx_with_trace(cancel, &tc);
	CHECK(traced, "with_trace");
	memset(&tc, 0, sizeof tc); /* the context has its own copy */
	goc_ctx *child = goc_ctx_with_timeout(traced, GOC_SECOND);
	const goc_tracectx *got = goc_ctx_trace(child);
	char tid[GOC_TRACE_ID_SIZE];
	CHECK(got, "child context lost the trace");
	goc_tracectx_trace_id(got, tid);
	CHECK(!strcmp(tid, TID), "%s", tid);
	/* A nearer trace context hides the outer one. */
	goc_tracectx inner;
	goc_tracectx_new(&inner);
	goc_ctx *nested = goc_ctx_with_trace(child, &inner);
	CHECK(!memcmp(goc_ctx_trace(nested)->trace_id, inner.trace_id, 16), "nested");
	CHECK(goc_ctx_trace(cancel) == NULL, "parent sees the child's trace");
	goc_wg_add(&workers, 8);
	for (int i = 0; i < 8; i++)
		CHECK(goc_go(worker, goc_ctx_retain(child)) > 0, "spawn");
	goc_wg_wait(&workers);
	for (int i = 0; i < 8; i++)
		CHECK(!strcmp(seen[i], TID), "worker %d saw %s", i, seen[i]);
	/* Cancelled with its parent, like any value context. */
	goc_ctx_cancel(cancel);
	CHECK(goc_ctx_err(nested) == GOC_CANCELED, "not cancelled with the parent");
	goc_ctx_release(nested);
	goc_ctx_release(child);
	goc_ctx_release(traced);
	goc_ctx_release(cancel);
	ok("trace contexts in goc_ctx: inherited, nested, seen by goroutines");
}

static void test_main(void *arg)
{
	(void)arg;
	check_traceparent();
	check_tracestate();
	check_new_child();
	check_contexts();
}

int main(void)
{
	goc_main(test_main, NULL);
	return 0;
}
