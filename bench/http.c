/*
 * http.c — HTTPHello: goc-bench -serve-http ADDR serves, until killed,
 * what bench/go's serveHello serves, so that wrk can load both in turn:
 * every request, whatever its path, gets 200 with Content-Type
 * text/plain and the body "hello" (the server adds Content-Length and
 * Date), over HTTP/1.1 with keep-alive. The server runs with its default
 * options (read, write and idle timeouts on), one goroutine per
 * connection.
 */
#include <string.h>

#include "bench.h"

static void hello(goc_http_exchange *x, void *user)
{
	(void)user;
	goc_http_add_header(x, "Content-Type", "text/plain");
	goc_http_write(x, "hello", 5);
}

void bench_serve_hello(void *arg)
{
	const char *addr = arg;
	goc_listener *ln;
	int err = goc_listen("tcp", addr, &ln);
	if (err)
		bench_fail("listen on %s: %s", addr, strerror(-err));
	char bound[128];
	goc_listener_addr(ln, bound, sizeof bound);
	fprintf(stderr, "goc-bench: HTTPHello listening on http://%s/\n", bound);
	int64_t r = goc_http_serve(ln, hello, NULL, NULL);
	bench_fail("goc_http_serve returned %lld", (long long)r);
}
