/*
 * test_chan_typed.c — typed channels (goc/typed.h): values sent are
 * converted to the element type (an int sent on a channel of int64_t
 * arrives whole, sign included), structs pass whole, receives, try forms,
 * the context forms, close and the raw channel in a select, at any
 * GOCMAXPROCS. That a receive into a pointer of another type does not
 * compile is test_chan_typed_mismatch (tests/chan_typed_mismatch.c).
 */
#include <string.h>

#include "testutil.h"

typedef GOC_CHAN(int64_t) int64_chan;
struct point {
	int x, y;
	char tag[24];
};
typedef GOC_CHAN(struct point) point_chan;

static void producer(void *arg)
{
	int64_chan *c = arg;
	for (int i = -500; i < 500; i++)
		goc_tchan_send(*c, i); /* an int, converted: no stray bytes */
	goc_tchan_close(*c);
}

static void main_goroutine(void *arg)
{
	(void)arg;
	int64_chan c = goc_tchan_make(int64_chan, 8);
	CHECK(goc_tchan_raw(c) && goc_tchan_cap(c) == 8, "make");
	goc_go(producer, &c);
	int64_t v, want = -500, sum = 0;
	while (goc_tchan_recv(c, &v) == GOC_OK) {
		CHECK(v == want, "got %lld, want %lld", (long long)v, (long long)want);
		want++;
		sum += v;
	}
	CHECK(want == 500 && sum == -500, "all values, in order");
	goc_tchan_release(c);
	ok("typed channel of int64_t: ints sent arrive converted, in order");

	point_chan pc = goc_tchan_make(point_chan, 1);
	struct point p = {.x = 3, .y = -4, .tag = "origin+"};
	CHECK(goc_tchan_try_send(pc, p) == GOC_OK, "try_send");
	CHECK(goc_tchan_len(pc) == 1, "len");
	CHECK(goc_tchan_try_send(pc, p) == GOC_WOULDBLOCK, "full");
	struct point q;
	memset(&q, 0, sizeof q);
	goc_select_case cases[] = {{.chan = goc_tchan_raw(pc), .dir = GOC_SELECT_RECV, .elem = &q}};
	CHECK(goc_select(cases, 1, 0) == 0, "select on the raw channel");
	CHECK(q.x == 3 && q.y == -4 && !strcmp(q.tag, "origin+"), "the struct whole");
	CHECK(goc_tchan_try_recv(pc, &q) == GOC_WOULDBLOCK, "empty");
	goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
	CHECK(goc_tchan_send_ctx(pc, p, ctx) == GOC_OK, "send_ctx");
	CHECK(goc_tchan_recv_ctx(pc, &q, ctx) == GOC_OK && q.y == -4, "recv_ctx");
	goc_ctx_cancel(ctx);
	CHECK(goc_tchan_recv_ctx(pc, &q, ctx) == GOC_CANCELED, "recv_ctx cancelled");
	goc_ctx_release(ctx);
	goc_tchan_release(pc);
	ok("typed channel of a struct: try forms, select, context forms");
}

int main(void)
{
	goc_main(main_goroutine, NULL);
	return 0;
}
