/*
 * http.c — HTTPHello: goc-bench -serve-http ADDR serves, until killed,
 * what bench/go's serveHello serves, so that wrk can load both in turn:
 * every request, whatever its path, gets 200 with Content-Type
 * text/plain and the body "hello" (the server adds Content-Length and
 * Date), over HTTP/1.1 with keep-alive. The server runs with its default
 * options (read, write and idle timeouts on), one goroutine per
 * connection.
 */
#include <stdio.h>
#include <stdlib.h>
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

/*
 * HTTPClient: HTTP_CLIENT_WORKERS goroutines send n GETs in all through one
 * goc_http_client (keep-alive, HTTP_CLIENT_WORKERS idle connections kept)
 * and read each body ("hello", checked). The server is the one at
 * $BENCH_HTTP_ADDR (host:port) when set, so that goc's and Go's clients can
 * load the same server; otherwise HTTPHello's server in this process.
 */
#define HTTP_CLIENT_WORKERS 16

struct http_client_shared {
	goc_http_client *client;
	char url[160];
	int64_t per_worker, extra;
	goc_wg done;
};

struct http_client_worker {
	struct http_client_shared *sh;
	int64_t requests;
};

static void http_client_worker(void *arg)
{
	struct http_client_worker *w = arg;
	char body[64];
	for (int64_t i = 0; i < w->requests; i++) {
		goc_http_response *r;
		int err = goc_http_get(w->sh->client, NULL, w->sh->url, &r);
		if (err < 0)
			bench_fail("GET %s: %s", w->sh->url, goc_strerror(err));
		ssize_t n = goc_http_response_read_all(r, body, sizeof body);
		if (n != 5 || memcmp(body, "hello", 5) != 0)
			bench_fail("unexpected body (%zd bytes)", n);
		goc_http_response_close(r);
	}
	goc_wg_done(&w->sh->done);
}

static void serve_local(void *arg)
{
	goc_http_serve(arg, hello, NULL, NULL);
}

void bench_http_client(struct bench_run *run)
{
	struct http_client_shared *sh = bench_alloc(1, sizeof *sh);
	const char *addr = getenv("BENCH_HTTP_ADDR");
	char local[64];
	if (!addr || !addr[0]) {
		goc_listener *ln;
		int err = goc_listen("tcp4", "127.0.0.1:0", &ln);
		if (err)
			bench_fail("listen: %s", strerror(-err));
		goc_listener_addr(ln, local, sizeof local);
		bench_go(serve_local, ln);
		addr = local;
	}
	snprintf(sh->url, sizeof sh->url, "http://%s/", addr);
	goc_http_client_options o = {.max_idle_per_host = HTTP_CLIENT_WORKERS};
	sh->client = goc_http_client_new(&o);
	if (!sh->client)
		bench_fail("goc_http_client_new");
	struct http_client_worker *w = bench_alloc(HTTP_CLIENT_WORKERS, sizeof *w);
	goc_wg_init(&sh->done);
	goc_wg_add(&sh->done, HTTP_CLIENT_WORKERS);
	bench_start(run);
	for (int i = 0; i < HTTP_CLIENT_WORKERS; i++) {
		w[i] = (struct http_client_worker){
			sh, run->n / HTTP_CLIENT_WORKERS + (i < run->n % HTTP_CLIENT_WORKERS)};
		bench_go(http_client_worker, &w[i]);
	}
	goc_wg_wait(&sh->done);
	bench_stop(run);
	bench_add_metric(run, (double)run->n * 1e9 / (double)run->elapsed_ns, "req/s");
}
