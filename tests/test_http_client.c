/*
 * test_http_client.c — goc_http_client against goc's own server, against
 * scripted servers written with the net API (for the edges: garbage, a
 * close mid-body, a stall, a reset, interim responses, bodies that run to
 * the connection's end, idle connections the server closes), and against
 * Python's http.server when python3 is installed:
 *
 *  - GET, HEAD, POST with a body in memory and with a streamed (chunked)
 *    body, echoed back; chunked and Content-Length response bodies read in
 *    small pieces; response headers;
 *  - keep-alive: many requests over one connection (the scripted server
 *    counts its accepts), a stale idle connection replaced transparently;
 *  - redirects: off by default (the 302 is returned), followed when asked,
 *    303 turns a POST into a GET, a loop ends with GOC_EREDIRECTS;
 *  - errors: malformed responses (-EPROTO), a close mid-body and before
 *    any response (-ECONNRESET), a stalled server against the context's
 *    deadline and the client's timeout (-ETIMEDOUT), a cancellation while
 *    waiting for a connection slot and while connecting (-ECANCELED),
 *    a refused connection, https and malformed URLs;
 *  - many goroutines at once through a per-host connection limit;
 *  - W3C trace context: the context's trace sent as traceparent and
 *    tracestate, the server's request context a child span of it.
 * Registered with GOCMAXPROCS=1 and 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define MS GOC_MILLISECOND

/* ---- goc's server ---- */

static char goc_addr[64];

static void handle(goc_http_exchange *x, void *user)
{
	(void)user;
	const goc_http_request *r = goc_http_req(x);
	char path[128];
	snprintf(path, sizeof path, "%.*s", (int)r->path.len, r->path.ptr);
	if (strcmp(path, "/hello") == 0) {
		goc_http_add_header(x, "X-Test", "yes");
		goc_http_write(x, "hello", 5);
	} else if (strcmp(path, "/echo") == 0) {
		char buf[4096];
		ssize_t n;
		goc_http_str m = r->method;
		char method[16];
		snprintf(method, sizeof method, "%.*s", (int)m.len, m.ptr);
		goc_http_add_header(x, "X-Method", method);
		while ((n = goc_http_read_body(x, buf, sizeof buf)) > 0)
			goc_http_write(x, buf, (size_t)n);
	} else if (strcmp(path, "/big") == 0) {
		/* 1 MiB streamed: chunked. */
		char buf[1000];
		for (int i = 0; i < 1024 * 1024 / 1000 + 1; i++) {
			size_t n = i == 1024 * 1024 / 1000 ? 1024 * 1024 % 1000 : 1000;
			for (size_t j = 0; j < n; j++)
				buf[j] = (char)('a' + (i * 1000 + (int)j) % 26);
			goc_http_write(x, buf, n);
		}
	} else if (strcmp(path, "/agent") == 0) {
		goc_http_str ua = goc_http_request_header(r, "user-agent");
		goc_http_str auth = goc_http_request_header(r, "authorization");
		char out[256];
		int n = snprintf(out, sizeof out, "%.*s|%.*s", (int)ua.len, ua.ptr ? ua.ptr : "",
				 (int)auth.len, auth.ptr ? auth.ptr : "");
		goc_http_write(x, out, (size_t)n);
	} else if (strcmp(path, "/trace") == 0) {
		/* "<traceparent received>|<tracestate received>|<the request
		 * context's trace id>|<its span id>" */
		goc_http_str tp = goc_http_request_header(r, "traceparent");
		goc_http_str ts = goc_http_request_header(r, "tracestate");
		const goc_tracectx *tc = goc_ctx_trace(goc_http_ctx(x));
		char trace_id[GOC_TRACE_ID_SIZE] = "", span_id[GOC_SPAN_ID_SIZE] = "", out[512];
		if (tc) {
			goc_tracectx_trace_id(tc, trace_id);
			goc_tracectx_span_id(tc, span_id);
		}
		int n = snprintf(out, sizeof out, "%.*s|%.*s|%s|%s", (int)tp.len,
				 tp.ptr ? tp.ptr : "", (int)ts.len, ts.ptr ? ts.ptr : "", trace_id,
				 span_id);
		goc_http_write(x, out, (size_t)n);
	} else if (strcmp(path, "/redirect") == 0) {
		goc_http_set_status(x, 302);
		goc_http_add_header(x, "Location", "/hello");
		goc_http_write(x, "moved", 5);
	} else if (strcmp(path, "/see-other") == 0) {
		goc_http_set_status(x, 303);
		goc_http_add_header(x, "Location", "echo");
	} else if (strcmp(path, "/loop") == 0) {
		goc_http_set_status(x, 301);
		goc_http_add_header(x, "Location", "/loop");
	} else if (strcmp(path, "/slow") == 0) {
		goc_ctx *ctx = goc_http_ctx(x);
		goc_chan *t = goc_after(5 * GOC_SECOND);
		goc_select_case cases[] = {{goc_ctx_done(ctx), GOC_SELECT_RECV, NULL, false},
					   {t, GOC_SELECT_RECV, NULL, false}};
		goc_select(cases, 2, GOC_NO_TIMEOUT);
		goc_chan_release(t);
		goc_http_write(x, "late", 4);
	} else {
		goc_http_set_status(x, 404);
	}
}

static goc_ctx *server_stop;
static goc_wg server_done;

static void serve(void *arg)
{
	goc_listener *ln = arg;
	goc_http_server_options o = {.shutdown = server_stop};
	goc_http_serve(ln, handle, NULL, &o);
	goc_wg_done(&server_done);
}

static void url(char *out, size_t n, const char *addr, const char *path)
{
	snprintf(out, n, "http://%s%s", addr, path);
}

static void get_body(goc_http_client *c, const char *path, int status, const char *body)
{
	char u[256], buf[256];
	url(u, sizeof u, goc_addr, path);
	goc_http_response *r;
	int err = goc_http_get(c, NULL, u, &r);
	CHECK(err == 0, "GET %s: %s", path, goc_strerror(err));
	CHECK(goc_http_response_status(r) == status, "%s: status %d", path,
	      goc_http_response_status(r));
	ssize_t n = goc_http_response_read_all(r, buf, sizeof buf - 1);
	CHECK(n >= 0, "%s: body %s", path, goc_strerror((int)n));
	buf[n] = '\0';
	CHECK(strcmp(buf, body) == 0, "%s: body '%s'", path, buf);
	goc_http_response_close(r);
}

static void test_basics(void)
{
	goc_http_client *c = goc_http_client_new(NULL);
	CHECK(c, "client");
	char u[256], buf[8192];
	get_body(c, "/hello", 200, "hello");
	get_body(c, "/nothing", 404, "");
	get_body(c, "/agent", 200, "goc-http-client/1.1|");

	url(u, sizeof u, goc_addr, "/hello");
	goc_http_response *r;
	CHECK(goc_http_get(c, NULL, u, &r) == 0, "get");
	goc_http_str v = goc_http_response_header(r, "x-test");
	CHECK(v.len == 3 && memcmp(v.ptr, "yes", 3) == 0, "header");
	CHECK(goc_http_response_content_length(r) == 5, "length");
	CHECK(goc_http_response_minor_version(r) == 1, "version");
	goc_http_str reason = goc_http_response_reason(r);
	CHECK(reason.len == 2 && memcmp(reason.ptr, "OK", 2) == 0, "reason");
	goc_http_response_close(r);

	goc_http_client_request head = {.method = "HEAD", .url = u};
	CHECK(goc_http_do(c, NULL, &head, &r) == 0, "head");
	CHECK(goc_http_response_content_length(r) == 5, "head length");
	CHECK(goc_http_response_read(r, buf, sizeof buf) == 0, "head body");
	goc_http_response_close(r);

	/* POST, body in memory. */
	url(u, sizeof u, goc_addr, "/echo");
	goc_http_client_request post = {.method = "POST", .url = u, .body = "ping", .body_len = 4};
	CHECK(goc_http_do(c, NULL, &post, &r) == 0, "post");
	CHECK(goc_http_response_read_all(r, buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0,
	      "post echo");
	goc_http_response_close(r);

	/* 1 MiB chunked, read in 7-byte pieces. */
	url(u, sizeof u, goc_addr, "/big");
	CHECK(goc_http_get(c, NULL, u, &r) == 0, "big");
	CHECK(goc_http_response_content_length(r) == -1, "big is chunked");
	size_t total = 0;
	ssize_t n;
	while ((n = goc_http_response_read(r, buf, 7)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			CHECK(buf[i] == (char)('a' + (total + (size_t)i) % 26), "big byte %zu",
			      total + (size_t)i);
		total += (size_t)n;
	}
	CHECK(n == 0 && total == 1024 * 1024, "big: %zd after %zu", n, total);
	goc_http_response_close(r);

	/* Misuse and refusals. */
	CHECK(goc_http_get(c, NULL, "https://example.com/", &r) == -EPROTONOSUPPORT && !r, "https");
	CHECK(goc_http_get(c, NULL, "http:///x", &r) == -EINVAL, "empty host");
	CHECK(goc_http_get(c, NULL, "http://h:x/", &r) == -EINVAL, "bad port");
	CHECK(goc_http_get(c, NULL, "not a url", &r) == -EINVAL, "not a url");
	goc_http_field bad[] = {{"Content-Length", "3"}};
	goc_http_client_request owned = {.url = u, .headers = bad, .header_count = 1};
	CHECK(goc_http_do(c, NULL, &owned, &r) == -EINVAL, "owned field");
	goc_http_field inj[] = {{"X-A", "a\r\nX-B: b"}};
	goc_http_client_request inject = {.url = u, .headers = inj, .header_count = 1};
	CHECK(goc_http_do(c, NULL, &inject, &r) == -EINVAL, "header injection");
	goc_http_client_request method = {.method = "GE T", .url = u};
	CHECK(goc_http_do(c, NULL, &method, &r) == -EINVAL, "bad method");
	goc_http_client_free(c);
	ok("basics");
}

struct stream_body {
	int left;
};

static ssize_t stream_read(void *arg, void *buf, size_t len)
{
	struct stream_body *s = arg;
	if (s->left == 0)
		return 0;
	s->left--;
	size_t n = len < 3 ? len : 3;
	memcpy(buf, "abc", n);
	return (ssize_t)n;
}

static void test_streamed_body(void)
{
	goc_http_client *c = goc_http_client_new(NULL);
	char u[256], buf[4096];
	url(u, sizeof u, goc_addr, "/echo");
	struct stream_body s = {100};
	goc_http_client_request req = {
		.method = "PUT", .url = u, .body_read = stream_read, .body_arg = &s};
	goc_http_response *r;
	CHECK(goc_http_do(c, NULL, &req, &r) == 0, "put");
	ssize_t n = goc_http_response_read_all(r, buf, sizeof buf);
	CHECK(n == 300, "echoed %zd", n);
	for (int i = 0; i < 300; i++)
		CHECK(buf[i] == "abc"[i % 3], "byte %d", i);
	goc_http_response_close(r);
	goc_http_client_free(c);
	ok("streamed request body");
}

static void test_redirects(void)
{
	goc_http_client *plain = goc_http_client_new(NULL);
	get_body(plain, "/redirect", 302, "moved");
	goc_http_client_free(plain);

	goc_http_client_options o = {.max_redirects = 5};
	goc_http_client *c = goc_http_client_new(&o);
	get_body(c, "/redirect", 200, "hello");
	char u[256], buf[64];
	/* 303 after a POST: a GET of the relative Location, no body. */
	url(u, sizeof u, goc_addr, "/see-other");
	goc_http_client_request post = {.method = "POST", .url = u, .body = "x", .body_len = 1};
	goc_http_response *r;
	CHECK(goc_http_do(c, NULL, &post, &r) == 0, "303");
	CHECK(goc_http_response_status(r) == 200, "303 status");
	goc_http_str m = goc_http_response_header(r, "x-method");
	CHECK(m.len == 3 && memcmp(m.ptr, "GET", 3) == 0, "303 method");
	CHECK(goc_http_response_read_all(r, buf, sizeof buf) == 0, "303 body");
	goc_http_response_close(r);
	url(u, sizeof u, goc_addr, "/loop");
	int err = goc_http_get(c, NULL, u, &r);
	CHECK(err == GOC_EREDIRECTS && !r, "loop: %s", goc_strerror(err));
	CHECK(strcmp(goc_strerror(err), "stopped after too many redirects") == 0, "strerror");
	goc_http_client_free(c);
	ok("redirects");
}

/* traceparent: the client sends its context's trace, the server's
 * request context is a child span of it; without one the server starts a
 * trace of its own. */
static void test_traceparent(void)
{
	goc_http_client *c = goc_http_client_new(NULL);
	char u[256], body[512];
	url(u, sizeof u, goc_addr, "/trace");
	goc_tracectx tc;
	goc_tracectx_new(&tc);
	CHECK(goc_tracestate_parse("vendor=abc", &tc) == GOC_OK, "tracestate");
	goc_ctx *ctx = goc_ctx_with_trace(goc_ctx_background(), &tc);
	goc_http_response *r;
	CHECK(goc_http_get(c, ctx, u, &r) == 0, "get");
	ssize_t n = goc_http_response_read_all(r, body, sizeof body - 1);
	CHECK(n > 0, "body");
	body[n] = '\0';
	goc_http_response_close(r);
	char sent[GOC_TRACEPARENT_SIZE], trace_id[GOC_TRACE_ID_SIZE], span_id[GOC_SPAN_ID_SIZE];
	goc_traceparent_format(&tc, sent);
	goc_tracectx_trace_id(&tc, trace_id);
	goc_tracectx_span_id(&tc, span_id);
	char want[256];
	snprintf(want, sizeof want, "%s|vendor=abc|%s|", sent, trace_id);
	CHECK(strncmp(body, want, strlen(want)) == 0, "got '%s', want '%s...'", body, want);
	const char *server_span = body + strlen(want);
	CHECK(strlen(server_span) == 16 && strcmp(server_span, span_id) != 0,
	      "the server's span is a child: %s", body);

	/* A traceparent the caller gives wins over the context's. */
	goc_http_field own[] = {
		{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
	goc_http_client_request req = {.url = u, .headers = own, .header_count = 1};
	CHECK(goc_http_do(c, ctx, &req, &r) == 0, "own traceparent");
	n = goc_http_response_read_all(r, body, sizeof body - 1);
	body[n > 0 ? n : 0] = '\0';
	goc_http_response_close(r);
	CHECK(strncmp(body,
		      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01||0af7651916cd43dd8448eb211c80319c|",
		      89) == 0,
	      "own: %s", body);
	goc_ctx_release(ctx);

	CHECK(goc_http_get(c, NULL, u, &r) == 0, "untraced get");
	n = goc_http_response_read_all(r, body, sizeof body - 1);
	body[n > 0 ? n : 0] = '\0';
	goc_http_response_close(r);
	CHECK(strncmp(body, "||", 2) == 0 && strlen(body) == 2 + 32 + 1 + 16,
	      "no traceparent sent, a new trace on the server: %s", body);
	goc_http_client_free(c);
	ok("traceparent");
}

static void test_timeouts(void)
{
	goc_http_client *c = goc_http_client_new(NULL);
	char u[256];
	url(u, sizeof u, goc_addr, "/slow");
	goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 100 * MS);
	goc_http_response *r;
	int err = goc_http_get(c, ctx, u, &r);
	CHECK(err == -ETIMEDOUT, "ctx deadline: %s", goc_strerror(err));
	goc_ctx_cancel(ctx);
	goc_ctx_release(ctx);

	goc_http_client_options o = {.timeout = 100 * MS};
	goc_http_client *t = goc_http_client_new(&o);
	err = goc_http_get(t, NULL, u, &r);
	CHECK(err == -ETIMEDOUT, "client timeout: %s", goc_strerror(err));
	get_body(t, "/hello", 200, "hello");
	goc_http_client_free(t);
	goc_http_client_free(c);
	ok("timeouts");
}

/* ---- scripted servers ---- */

struct script {
	goc_listener *ln;
	char addr[64];
	/* What the server does with each accepted connection. */
	void (*fn)(goc_conn *conn, struct script *s);
	int accepts;
	goc_wg done;
};

/* Reads one request head (up to the empty line); false at the end. */
static bool read_request(goc_conn *conn)
{
	char buf[4096];
	size_t len = 0;
	while (len < sizeof buf - 1) {
		ssize_t n = goc_conn_read(conn, buf + len, 1);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= 4 && strcmp(buf + len - 4, "\r\n\r\n") == 0)
			return true;
	}
	return false;
}

static void send_str(goc_conn *conn, const char *s)
{
	goc_conn_write(conn, s, strlen(s), NULL);
}

struct script_conn {
	goc_conn *conn;
	struct script *s;
};

static void script_conn(void *arg)
{
	struct script_conn *sc = arg;
	sc->s->fn(sc->conn, sc->s);
	goc_conn_close(sc->conn);
	goc_wg_done(&sc->s->done);
	free(sc);
}

static void script_accept(void *arg)
{
	struct script *s = arg;
	for (;;) {
		goc_conn *conn;
		if (goc_accept(s->ln, &conn) < 0)
			break;
		__atomic_add_fetch(&s->accepts, 1, __ATOMIC_SEQ_CST);
		struct script_conn *sc = malloc(sizeof *sc);
		*sc = (struct script_conn){conn, s};
		goc_wg_add(&s->done, 1);
		goc_go(script_conn, sc);
	}
	goc_wg_done(&s->done);
}

static void script_start(struct script *s, void (*fn)(goc_conn *, struct script *))
{
	*s = (struct script){.fn = fn};
	goc_wg_init(&s->done);
	CHECK(goc_listen("tcp", "127.0.0.1:0", &s->ln) == 0, "listen");
	goc_listener_addr(s->ln, s->addr, sizeof s->addr);
	goc_wg_add(&s->done, 1);
	goc_go(script_accept, s);
}

static void script_stop(struct script *s)
{
	goc_listener_close(s->ln);
	goc_wg_wait(&s->done);
}

static int script_get(struct script *s, goc_http_client *c, goc_ctx *ctx, char *body, size_t cap)
{
	char u[256];
	url(u, sizeof u, s->addr, "/");
	goc_http_response *r;
	int err = goc_http_get(c, ctx, u, &r);
	if (err < 0)
		return err;
	ssize_t n = goc_http_response_read_all(r, body, cap - 1);
	goc_http_response_close(r);
	if (n < 0)
		return (int)n;
	body[n] = '\0';
	return 0;
}

static void keep_alive_server(goc_conn *conn, struct script *s)
{
	(void)s;
	while (read_request(conn))
		send_str(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

/* Answers one request, keeping the connection alive, then closes it. */
static void closes_idle_server(goc_conn *conn, struct script *s)
{
	(void)s;
	if (read_request(conn))
		send_str(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

static void garbage_server(goc_conn *conn, struct script *s)
{
	(void)s;
	if (read_request(conn))
		send_str(conn, "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n");
}

static void bad_chunk_server(goc_conn *conn, struct script *s)
{
	(void)s;
	if (read_request(conn))
		send_str(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX");
}

static void mid_body_server(goc_conn *conn, struct script *s)
{
	(void)s;
	if (read_request(conn))
		send_str(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
}

static void no_answer_server(goc_conn *conn, struct script *s)
{
	(void)s;
	read_request(conn);
}

static void stall_server(goc_conn *conn, struct script *s)
{
	(void)s;
	char b;
	read_request(conn);
	goc_conn_read(conn, &b, 1); /* until the client gives up */
}

static void reset_server(goc_conn *conn, struct script *s)
{
	(void)s;
	read_request(conn);
	struct linger l = {1, 0};
	setsockopt(goc_conn_fd(conn), SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

static void interim_eof_server(goc_conn *conn, struct script *s)
{
	(void)s;
	if (read_request(conn))
		send_str(conn,
			 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: "
			 "</a>\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil the end");
}

static void test_scripted(void)
{
	goc_http_client *c = goc_http_client_new(NULL);
	char body[256];
	struct script s;

	script_start(&s, keep_alive_server);
	for (int i = 0; i < 20; i++) {
		int err = script_get(&s, c, NULL, body, sizeof body);
		CHECK(err == 0 && strcmp(body, "ok") == 0, "keep-alive %d: %s", i,
		      goc_strerror(err));
	}
	CHECK(s.accepts == 1, "20 requests took %d connections", s.accepts);
	goc_http_client_close_idle(c);
	script_stop(&s);

	script_start(&s, closes_idle_server);
	for (int i = 0; i < 5; i++) {
		int err = script_get(&s, c, NULL, body, sizeof body);
		CHECK(err == 0 && strcmp(body, "ok") == 0, "stale idle %d: %s", i,
		      goc_strerror(err));
		goc_sleep(10 * MS); /* the server's close arrives */
	}
	CHECK(s.accepts == 5, "%d connections", s.accepts);
	script_stop(&s);

	struct {
		void (*fn)(goc_conn *, struct script *);
		int err;
		const char *what;
	} cases[] = {
		{garbage_server, -EPROTO, "malformed field"},
		{bad_chunk_server, -EPROTO, "malformed chunk framing"},
		{mid_body_server, -ECONNRESET, "close mid-body"},
		{no_answer_server, -ECONNRESET, "close before the response"},
		{reset_server, -ECONNRESET, "reset"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		script_start(&s, cases[i].fn);
		int err = script_get(&s, c, NULL, body, sizeof body);
		CHECK(err == cases[i].err, "%s: %s", cases[i].what, goc_strerror(err));
		script_stop(&s);
	}

	script_start(&s, interim_eof_server);
	int err = script_get(&s, c, NULL, body, sizeof body);
	CHECK(err == 0 && strcmp(body, "until the end") == 0, "interim + eof body: %s '%s'",
	      goc_strerror(err), body);
	script_stop(&s);

	script_start(&s, stall_server);
	goc_ctx *ctx = goc_ctx_with_timeout(goc_ctx_background(), 100 * MS);
	err = script_get(&s, c, ctx, body, sizeof body);
	CHECK(err == -ETIMEDOUT, "stall: %s", goc_strerror(err));
	goc_ctx_release(ctx);
	script_stop(&s);

	/* A port nobody listens on. */
	goc_listener *ln;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	char addr[64], u[256];
	goc_listener_addr(ln, addr, sizeof addr);
	goc_listener_close(ln);
	url(u, sizeof u, addr, "/");
	goc_http_response *r;
	err = goc_http_get(c, NULL, u, &r);
	CHECK(err == -ECONNREFUSED, "refused: %s", goc_strerror(err));
	goc_http_client_free(c);
	ok("scripted servers");
}

/* ---- cancellation while waiting and connecting ---- */

static void cancel_after(void *arg)
{
	goc_sleep(50 * MS);
	goc_ctx_cancel(arg);
	goc_ctx_release(arg);
}

static void test_cancel(void)
{
	goc_http_client_options o = {.max_conns_per_host = 1};
	goc_http_client *c = goc_http_client_new(&o);
	char u[256];
	url(u, sizeof u, goc_addr, "/hello");
	goc_http_response *held, *r;
	CHECK(goc_http_get(c, NULL, u, &held) == 0, "first");
	goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
	goc_go(cancel_after, goc_ctx_retain(ctx));
	int err = goc_http_get(c, ctx, u, &r);
	CHECK(err == -ECANCELED, "waiting for a slot: %s", goc_strerror(err));
	goc_ctx_release(ctx);
	goc_http_response_close(held);
	get_body(c, "/hello", 200, "hello");

	/* A connect that does not complete: a listener with a full accept
	 * queue (backlog 0, filled by two connects) drops further SYNs. */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof sa;
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lfd, 0) == 0, "listen");
	getsockname(lfd, (struct sockaddr *)&sa, &slen);
	int fillers[3];
	for (int i = 0; i < 3; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fillers[i], (struct sockaddr *)&sa, sizeof sa);
	}
	goc_sleep(20 * MS);
	snprintf(u, sizeof u, "http://127.0.0.1:%d/", ntohs(sa.sin_port));
	ctx = goc_ctx_with_cancel(goc_ctx_background());
	goc_go(cancel_after, goc_ctx_retain(ctx));
	err = goc_http_get(c, ctx, u, &r);
	CHECK(err == -ECANCELED, "connecting: %s", goc_strerror(err));
	goc_ctx_release(ctx);
	for (int i = 0; i < 3; i++)
		close(fillers[i]);
	close(lfd);
	goc_http_client_free(c);
	ok("cancellation");
}

/* ---- many goroutines ---- */

struct worker {
	goc_http_client *c;
	goc_wg *wg;
	int requests;
};

static void worker(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->requests; i++) {
		char u[256], buf[64];
		url(u, sizeof u, goc_addr, i % 3 == 2 ? "/echo" : "/hello");
		goc_http_client_request req = {.method = i % 3 == 2 ? "POST" : "GET",
					       .url = u,
					       .body = "hello",
					       .body_len = i % 3 == 2 ? 5 : 0};
		goc_http_response *r;
		int err = goc_http_do(w->c, NULL, &req, &r);
		CHECK(err == 0, "request: %s", goc_strerror(err));
		ssize_t n = goc_http_response_read_all(r, buf, sizeof buf);
		CHECK(n == 5 && memcmp(buf, "hello", 5) == 0, "body %zd", n);
		goc_http_response_close(r);
	}
	goc_wg_done(w->wg);
}

static void test_concurrent(void)
{
	goc_http_client_options o = {.max_conns_per_host = 4, .max_idle_per_host = 4};
	goc_http_client *c = goc_http_client_new(&o);
	int goroutines = (int)test_size(64, 16, 8);
	goc_wg wg;
	goc_wg_init(&wg);
	struct worker w = {c, &wg, (int)test_size(50, 20, 10)};
	goc_wg_add(&wg, goroutines);
	for (int i = 0; i < goroutines; i++)
		goc_go(worker, &w);
	goc_wg_wait(&wg);
	goc_http_client_free(c);
	ok("concurrent requests");
}

/* ---- Python's http.server ---- */

static void test_python(void)
{
	if (!tool_available("python3", "build", "the client against Python's http.server"))
		return;
	char dir[] = "/tmp/goc-http-client-XXXXXX";
	CHECK(mkdtemp(dir), "mkdtemp");
	char path[128];
	snprintf(path, sizeof path, "%s/file.txt", dir);
	FILE *f = fopen(path, "w");
	CHECK(f, "file");
	for (int i = 0; i < 10000; i++)
		fprintf(f, "line %d\n", i);
	fclose(f);
	goc_listener *ln;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	char addr[64];
	goc_listener_addr(ln, addr, sizeof addr);
	goc_listener_close(ln);
	const char *port = strrchr(addr, ':') + 1;
	pid_t pid = fork();
	if (pid == 0) {
		/* goc's threads block the signals its watcher takes; exec keeps
		 * the mask. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1",
		       "--directory", dir, port, (char *)NULL);
		_exit(127);
	}
	goc_http_client *c = goc_http_client_new(NULL);
	char u[256];
	snprintf(u, sizeof u, "http://%s/file.txt", addr);
	goc_http_response *r = NULL;
	int err = -1;
	for (int tries = 0; tries < 200 && err != 0; tries++) {
		err = goc_http_get(c, NULL, u, &r);
		if (err != 0)
			goc_sleep(50 * MS);
	}
	CHECK(err == 0, "python http.server: %s", goc_strerror(err));
	CHECK(goc_http_response_status(r) == 200, "status %d", goc_http_response_status(r));
	char *buf = malloc(200000);
	ssize_t n = goc_http_response_read_all(r, buf, 200000);
	CHECK(n == goc_http_response_content_length(r) && n > 0, "length %zd", n);
	for (int i = 0, off = 0; i < 10000; i++) {
		char line[32];
		int len = snprintf(line, sizeof line, "line %d\n", i);
		CHECK(memcmp(buf + off, line, (size_t)len) == 0, "line %d", i);
		off += len;
	}
	goc_http_response_close(r);
	snprintf(u, sizeof u, "http://%s/missing", addr);
	CHECK(goc_http_get(c, NULL, u, &r) == 0, "missing");
	CHECK(goc_http_response_status(r) == 404, "404");
	CHECK(goc_http_response_read_all(r, buf, 200000) > 0, "404 body");
	goc_http_response_close(r);
	free(buf);
	goc_http_client_free(c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	rmdir(dir);
	ok("python http.server");
}

static void run(void *arg)
{
	(void)arg;
	goc_listener *ln;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &ln) == 0, "listen");
	goc_listener_addr(ln, goc_addr, sizeof goc_addr);
	server_stop = goc_ctx_with_cancel(goc_ctx_background());
	goc_wg_init(&server_done);
	goc_wg_add(&server_done, 1);
	goc_go(serve, ln);
	test_basics();
	test_streamed_body();
	test_redirects();
	test_timeouts();
	test_traceparent();
	test_scripted();
	test_cancel();
	test_concurrent();
	test_python();
	goc_ctx_cancel(server_stop);
	goc_wg_wait(&server_done);
	goc_ctx_release(server_stop);
	exit(0);
}

int main(void)
{
	goc_main(run, NULL);
	return 0;
}
