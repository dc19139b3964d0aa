/*
 * client.c — the HTTP/1.1 client: URLs, the per-host pool of keep-alive
 * connections, sending a request, and reading its response with parse.c
 * in response mode.
 *
 *   goc_http_do --> parse the URL --> host_acquire (a slot when the host
 *   has a connection limit) --> an idle connection of the host, or a dial
 *   --> write head and body --> read up to the final response's head
 *   --> the response (holding the connection and the slot)
 *   goc_http_response_read --> feed the connection's buffer to its parser,
 *   reading the socket when the buffer is used up
 *   goc_http_response_close --> the connection back to its host's idle
 *   list, or closed --> the slot released
 *
 * Invariants:
 *  - A connection is in exactly one place: a host's idle list (protected
 *    by the client's mutex), or owned by one request or response (used by
 *    one goroutine at a time, no lock).
 *  - A connection goes idle only between messages: its parser reported
 *    the response's DONE and no byte past it was received (a server that
 *    sends more than one response per request is not trusted again).
 *  - A response's header view points into its connection's parser, which
 *    is fed again only after the response is closed.
 *  - host->slots holds one token per request between host_acquire and
 *    the close of its response, so at most max_conns_per_host
 *    connections of the host exist: a request dials only when the idle
 *    list is empty, and holds its slot while it owns the connection.
 *  - hosts are never freed before the client: a request keeps a pointer
 *    to its host without a reference count.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../prim/list.h"
#include "../sched/runtime.h"
#include "http.h"

#define CONN_BUFFER_SIZE 16384
#define HEAD_BUFFER_SIZE 8192
#define HOST_KEY_MAX 300 /* "host:port": a DNS name is at most 253 bytes */
#define DEFAULT_MAX_IDLE_PER_HOST 2
#define DEFAULT_IDLE_TIMEOUT (90 * GOC_SECOND)
#define DEFAULT_USER_AGENT "goc-http-client/1.1"

typedef struct client_host client_host;

typedef struct client_conn {
	goc__list_node node; /* in host->idle while idle */
	goc_conn *conn;
	goc_http_parser *parser;
	client_host *host;
	int64_t idle_since;
	bool reused;       /* has carried a response before this request */
	size_t rpos, rlen; /* buf[rpos..rlen): received, not yet fed */
	char buf[CONN_BUFFER_SIZE];
} client_conn;

struct client_host {
	goc__list_node node;    /* in client->hosts */
	goc__list idle;         /* client_conn, most recently used last; client->mu */
	size_t idle_count;      /* client->mu */
	goc_chan *slots;        /* a token per request in flight; NULL without a limit */
	char key[HOST_KEY_MAX]; /* the dial address, "host:port" */
};

struct goc_http_client {
	goc_http_client_options opts;
	goc_http_limits limits; /* as the parsers take them */
	goc_mutex mu;
	goc__list hosts;        /* client_host; mu */
	int64_t responses_open; /* returned and not closed yet; mu */
};

struct goc_http_response {
	goc_http_client *client;
	client_conn *cc;
	client_host *host; /* whose slot the response holds, when holds_slot */
	goc_ctx *ctx;      /* the request's context (NULL: none), retained */
	goc_ctx *timeout;  /* the client's timeout around it, or NULL */
	bool holds_slot;
	bool done;            /* the body was read to its end */
	int err;              /* the first error of a read; every later read returns it */
	goc_http_str pending; /* decoded body bytes received, not yet read */
	int status;
	goc_http_str reason;
	const goc_http_request *view;
};

/* ---- URLs ---------------------------------------------------------------------- */

typedef struct url_parts {
	char key[HOST_KEY_MAX];       /* "host:port" to dial and to pool by */
	char authority[HOST_KEY_MAX]; /* the Host field: the URL's authority */
	const char *target;           /* path and query, up to '#' */
	size_t target_len;            /* 0: "/" */
} url_parts;

static bool scheme_is(const char *url, const char *lower, size_t n)
{
	return strlen(url) >= n && http_name_equals(url, n, lower);
}

/* Splits an http:// URL; -EINVAL or -EPROTONOSUPPORT. */
static int parse_url(const char *url, url_parts *u)
{
	if (!scheme_is(url, "http://", 7)) {
		const char *colon = strchr(url, ':');
		return colon && colon != url && strncmp(colon, "://", 3) == 0 ? -EPROTONOSUPPORT
									      : -EINVAL;
	}
	const char *a = url + 7;
	size_t alen = strcspn(a, "/?#");
	if (alen == 0 || alen >= HOST_KEY_MAX - 4 || memchr(a, '@', alen))
		return -EINVAL;
	for (size_t i = 0; i < alen; i++)
		if (!http_is((unsigned char)a[i], HTTP_TARGET))
			return -EINVAL;
	memcpy(u->authority, a, alen);
	u->authority[alen] = '\0';
	/* The port follows the last ':' unless it is inside an IPv6 literal. */
	const char *close = memchr(a, ']', alen);
	const char *colon = NULL;
	for (const char *p = close ? close : a; p < a + alen; p++)
		if (*p == ':')
			colon = p;
	if (colon) {
		if (colon + 1 == a + alen)
			return -EINVAL;
		for (const char *p = colon + 1; p < a + alen; p++)
			if (*p < '0' || *p > '9')
				return -EINVAL;
		memcpy(u->key, a, alen + 1);
		u->key[alen] = '\0';
	} else {
		snprintf(u->key, sizeof u->key, "%.*s:80", (int)alen, a);
	}
	if ((a[0] == '[') != (close != NULL) || (colon ? colon : a + alen) == a + (close ? 1 : 0))
		return -EINVAL;
	u->target = a + alen;
	u->target_len = strcspn(u->target, "#");
	for (size_t i = 0; i < u->target_len; i++)
		if (!http_is((unsigned char)u->target[i], HTTP_TARGET))
			return -EINVAL;
	return 0;
}

/* Whether a URI reference starts with a scheme: a ':' before any of "/?#". */
static bool has_scheme(goc_http_str ref)
{
	for (size_t i = 0; i < ref.len; i++) {
		if (ref.ptr[i] == ':')
			return i > 0;
		if (ref.ptr[i] == '/' || ref.ptr[i] == '?' || ref.ptr[i] == '#')
			return false;
	}
	return false;
}

/* The URL a Location resolves to against base (RFC 3986 5.2, for the
 * forms servers send): malloc'd, or NULL. */
static char *resolve_location(const char *base, goc_http_str loc)
{
	const char *authority = base + 7;
	size_t alen = strcspn(authority, "/?#");
	size_t base_path = alen + 7;
	char *out;
	if (loc.len > 2 && loc.ptr[0] == '/' && loc.ptr[1] == '/') {
		if (asprintf(&out, "http:%.*s", (int)loc.len, loc.ptr) < 0)
			return NULL;
	} else if (loc.len && loc.ptr[0] == '/') {
		if (asprintf(&out, "%.*s%.*s", (int)base_path, base, (int)loc.len, loc.ptr) < 0)
			return NULL;
	} else if (has_scheme(loc)) {
		if (asprintf(&out, "%.*s", (int)loc.len, loc.ptr) < 0)
			return NULL;
	} else {
		/* A relative path: after the base path's last '/'. */
		size_t path_len = strcspn(base + base_path, "?#");
		size_t dir = path_len;
		while (dir > 0 && base[base_path + dir - 1] != '/')
			dir--;
		if (asprintf(&out, "%.*s%s%.*s", (int)(base_path + dir), base, dir ? "" : "/",
			     (int)loc.len, loc.ptr) < 0)
			return NULL;
	}
	return out;
}

/* ---- the pool ---------------------------------------------------------------- */

static client_host *host_get(goc_http_client *c, const char *key)
{
	goc_mutex_lock(&c->mu);
	goc__list_for_each (n, &c->hosts) {
		client_host *h = goc__list_entry(n, client_host, node);
		if (strcmp(h->key, key) == 0) {
			goc_mutex_unlock(&c->mu);
			return h;
		}
	}
	client_host *h = calloc(1, sizeof *h);
	if (h && c->opts.max_conns_per_host > 0) {
		h->slots = goc_chan_make(0, (size_t)c->opts.max_conns_per_host);
		if (!h->slots) {
			free(h);
			h = NULL;
		}
	}
	if (h) {
		snprintf(h->key, sizeof h->key, "%s", key);
		goc__list_push_back(&c->hosts, &h->node);
	}
	goc_mutex_unlock(&c->mu);
	return h;
}

static int host_acquire(client_host *h, goc_ctx *ctx)
{
	if (!h->slots)
		return 0;
	char token = 0;
	goc_status st = goc_chan_send_ctx(h->slots, &token, ctx);
	if (st == GOC_OK)
		return 0;
	return st == GOC_TIMEOUT ? -ETIMEDOUT : -ECANCELED;
}

static void host_release(client_host *h)
{
	if (h->slots)
		goc_chan_try_recv(h->slots, NULL);
}

static void conn_free(client_conn *cc)
{
	goc_conn_close(cc->conn);
	goc_http_parser_free(cc->parser);
	free(cc);
}

/* Whether an idle connection can carry a request: nothing arrived on it
 * while idle (neither bytes nor the server's close). */
static bool conn_usable(client_conn *cc)
{
	char b;
	ssize_t n = recv(goc_conn_fd(cc->conn), &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static bool idle_expired(const goc_http_client *c, const client_conn *cc, int64_t now)
{
	return c->opts.idle_timeout >= 0 && now - cc->idle_since >= c->opts.idle_timeout;
}

/* The most recently used idle connection of h that is still good; the
 * expired ones are closed on the way. */
static client_conn *pool_take(goc_http_client *c, client_host *h)
{
	goc__list stale = {0};
	client_conn *found = NULL;
	int64_t now = goc_now();
	goc_mutex_lock(&c->mu);
	while (!found && h->idle.last) {
		goc__list_node *n = h->idle.last;
		goc__list_remove(&h->idle, n);
		h->idle_count--;
		client_conn *cc = goc__list_entry(n, client_conn, node);
		if (idle_expired(c, cc, now))
			goc__list_push_back(&stale, n);
		else
			found = cc;
	}
	goc_mutex_unlock(&c->mu);
	goc__list_node *n;
	while ((n = goc__list_pop_front(&stale)))
		conn_free(goc__list_entry(n, client_conn, node));
	if (found && !conn_usable(found)) {
		conn_free(found);
		return pool_take(c, h);
	}
	return found;
}

static void pool_put(goc_http_client *c, client_conn *cc)
{
	client_host *h = cc->host;
	goc__list expired = {0};
	int64_t now = goc_now();
	cc->idle_since = now;
	cc->reused = true;
	goc_mutex_lock(&c->mu);
	bool keep =
		c->opts.max_idle_per_host > 0 && h->idle_count < (size_t)c->opts.max_idle_per_host;
	if (keep) {
		goc__list_push_back(&h->idle, &cc->node);
		h->idle_count++;
	}
	/* The oldest connections are first: close those past the timeout. */
	while (h->idle.first &&
	       idle_expired(c, goc__list_entry(h->idle.first, client_conn, node), now)) {
		goc__list_node *n = goc__list_pop_front(&h->idle);
		h->idle_count--;
		goc__list_push_back(&expired, n);
	}
	goc_mutex_unlock(&c->mu);
	if (!keep)
		conn_free(cc);
	goc__list_node *n;
	while ((n = goc__list_pop_front(&expired)))
		conn_free(goc__list_entry(n, client_conn, node));
}

static int conn_dial(goc_http_client *c, client_host *h, goc_ctx *ctx, client_conn **out)
{
	client_conn *cc = malloc(sizeof *cc);
	if (!cc)
		return -ENOMEM;
	*cc = (client_conn){.host = h};
	cc->parser = goc_http_parser_new(&c->limits);
	if (!cc->parser) {
		free(cc);
		return -ENOMEM;
	}
	int err = goc_dial_ctx("tcp", h->key, ctx, &cc->conn);
	if (err < 0) {
		goc_http_parser_free(cc->parser);
		free(cc);
		return err;
	}
	*out = cc;
	return 0;
}

/* ---- the client ---------------------------------------------------------------- */

goc_http_client *goc_http_client_new(const goc_http_client_options *opts)
{
	goc_http_client_options o = opts ? *opts : (goc_http_client_options){0};
	if (o.max_conns_per_host < 0 || o.max_redirects < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (o.max_idle_per_host == 0)
		o.max_idle_per_host = DEFAULT_MAX_IDLE_PER_HOST;
	if (o.idle_timeout == 0)
		o.idle_timeout = DEFAULT_IDLE_TIMEOUT;
	if (o.timeout < 0)
		o.timeout = 0;
	if (!o.user_agent)
		o.user_agent = DEFAULT_USER_AGENT;
	goc_http_limits limits = o.limits;
	if (limits.max_body == 0)
		limits.max_body = INT64_MAX;
	/* goc_http_parser_new is the judge of the limits. */
	goc_http_parser *probe = goc_http_parser_new(&limits);
	if (!probe)
		return NULL;
	goc_http_parser_free(probe);
	goc_http_client *c = calloc(1, sizeof *c);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->opts = o;
	c->limits = limits;
	goc_mutex_init(&c->mu);
	return c;
}

void goc_http_client_close_idle(goc_http_client *c)
{
	goc__list closing = {0};
	goc_mutex_lock(&c->mu);
	goc__list_for_each (hn, &c->hosts) {
		client_host *h = goc__list_entry(hn, client_host, node);
		goc__list_node *n;
		while ((n = goc__list_pop_front(&h->idle)))
			goc__list_push_back(&closing, n);
		h->idle_count = 0;
	}
	goc_mutex_unlock(&c->mu);
	goc__list_node *n;
	while ((n = goc__list_pop_front(&closing)))
		conn_free(goc__list_entry(n, client_conn, node));
}

void goc_http_client_free(goc_http_client *c)
{
	if (!c)
		return;
	goc_mutex_lock(&c->mu);
	int64_t open = c->responses_open;
	goc_mutex_unlock(&c->mu);
	if (open != 0)
		goc__panic("goc_http_client_free: %lld responses not closed", (long long)open);
	goc_http_client_close_idle(c);
	goc__list_node *n;
	while ((n = goc__list_pop_front(&c->hosts))) {
		client_host *h = goc__list_entry(n, client_host, node);
		if (h->slots)
			goc_chan_release(h->slots);
		free(h);
	}
	free(c);
}

static goc_once default_once = GOC_ONCE_INIT;
static goc_http_client *default_client;

static void default_client_make(void *arg)
{
	(void)arg;
	default_client = goc_http_client_new(NULL);
}

/* ---- one exchange ------------------------------------------------------------- */

/* Whether name is a field the client writes itself. */
static bool client_owned_field(const char *name)
{
	size_t n = strlen(name);
	return http_name_equals(name, n, "host") || http_name_equals(name, n, "content-length") ||
		http_name_equals(name, n, "transfer-encoding") ||
		http_name_equals(name, n, "connection") || http_name_equals(name, n, "date");
}

static bool sensitive_field(const char *name)
{
	size_t n = strlen(name);
	return http_name_equals(name, n, "authorization") ||
		http_name_equals(name, n, "www-authenticate") ||
		http_name_equals(name, n, "cookie");
}

/* What one attempt sends: the request as given, on its current URL. */
typedef struct attempt {
	const goc_http_client_request *req;
	const char *method;
	const url_parts *url;
	const goc_tracectx *trace; /* the context's trace, sent as traceparent; or NULL */
	bool with_body;            /* the body of req is sent (not after a 303) */
	bool drop_sensitive;       /* the host changed in a redirect */
} attempt;

/* Writes the head into buf: its length, or -EINVAL / -EMSGSIZE. */
static ssize_t build_head(goc_http_client *c, const attempt *a, char *buf, size_t cap,
			  bool *chunked)
{
	const goc_http_client_request *req = a->req;
	goc_http_head h = {.buf = buf, .cap = cap};
	const char *target = a->url->target_len ? a->url->target : "/";
	size_t target_len = a->url->target_len ? a->url->target_len : 1;
	bool slash = target[0] == '?'; /* "http://h?q": the path is "/" */
	int n = snprintf(buf, cap, "%s %s%.*s HTTP/1.1\r\n", a->method, slash ? "/" : "",
			 (int)target_len, target);
	if (n < 0 || (size_t)n >= cap)
		return -EMSGSIZE;
	h.len = (size_t)n;
	if (!goc_http_head_add(&h, "Host", a->url->authority))
		return -EINVAL;
	bool agent = false, traceparent = false;
	for (size_t i = 0; i < req->header_count; i++) {
		const goc_http_field *f = &req->headers[i];
		if (client_owned_field(f->name))
			return -EINVAL;
		if (a->drop_sensitive && sensitive_field(f->name))
			continue;
		if (http_name_equals(f->name, strlen(f->name), "user-agent"))
			agent = true;
		if (http_name_equals(f->name, strlen(f->name), "traceparent"))
			traceparent = true;
		if (!goc_http_head_add(&h, f->name, f->value))
			return h.overflow ? -EMSGSIZE : -EINVAL;
	}
	if (!agent && c->opts.user_agent[0] &&
	    !goc_http_head_add(&h, "User-Agent", c->opts.user_agent))
		return h.overflow ? -EMSGSIZE : -EINVAL;
	if (a->trace && !traceparent) {
		char value[GOC_TRACEPARENT_SIZE];
		goc_traceparent_format(a->trace, value);
		if (!goc_http_head_add(&h, "traceparent", value) ||
		    (a->trace->state[0] && !goc_http_head_add(&h, "tracestate", a->trace->state)))
			return -EMSGSIZE;
	}
	*chunked = a->with_body && req->body_read;
	size_t len = strlen(a->method);
	bool bodyless_method = http_name_equals(a->method, len, "get") ||
		http_name_equals(a->method, len, "head") ||
		http_name_equals(a->method, len, "delete") ||
		http_name_equals(a->method, len, "options") ||
		http_name_equals(a->method, len, "trace");
	char framing[64];
	if (*chunked)
		n = snprintf(framing, sizeof framing, "Transfer-Encoding: chunked\r\n\r\n");
	else if (a->with_body && (req->body_len || !bodyless_method))
		n = snprintf(framing, sizeof framing, "Content-Length: %zu\r\n\r\n", req->body_len);
	else
		n = snprintf(framing, sizeof framing, "\r\n");
	if (h.overflow || cap - h.len < (size_t)n)
		return -EMSGSIZE;
	memcpy(buf + h.len, framing, (size_t)n);
	return (ssize_t)(h.len + (size_t)n);
}

static ssize_t send_request(goc_http_client *c, client_conn *cc, const attempt *a, goc_ctx *ctx)
{
	char head[HEAD_BUFFER_SIZE];
	bool chunked;
	ssize_t n = build_head(c, a, head, sizeof head, &chunked);
	if (n < 0)
		return n;
	const goc_http_client_request *req = a->req;
	if (!chunked) {
		size_t body = a->with_body ? req->body_len : 0;
		if (body == 0)
			return goc_conn_write_ctx(cc->conn, head, (size_t)n, NULL, ctx);
		struct iovec iov[2] = {{head, (size_t)n}, {(void *)req->body, body}};
		if (ctx) {
			/* writev has no context form: the head, then the body. */
			ssize_t w = goc_conn_write_ctx(cc->conn, head, (size_t)n, NULL, ctx);
			return w < 0 ? w : goc_conn_write_ctx(cc->conn, req->body, body, NULL, ctx);
		}
		return goc_conn_writev(cc->conn, iov, 2, NULL);
	}
	ssize_t w = goc_conn_write_ctx(cc->conn, head, (size_t)n, NULL, ctx);
	char *chunk = malloc(CONN_BUFFER_SIZE);
	if (!chunk)
		return -ENOMEM;
	while (w >= 0) {
		ssize_t got = req->body_read(req->body_arg, chunk, CONN_BUFFER_SIZE);
		if (got < 0) {
			w = got;
			break;
		}
		if (got == 0) {
			w = goc_conn_write_ctx(cc->conn, GOC_HTTP_LAST_CHUNK,
					       sizeof GOC_HTTP_LAST_CHUNK - 1, NULL, ctx);
			break;
		}
		char prefix[GOC_HTTP_CHUNK_PREFIX_SIZE];
		size_t plen = goc_http_chunk_prefix(prefix, (size_t)got);
		w = goc_conn_write_ctx(cc->conn, prefix, plen, NULL, ctx);
		if (w >= 0)
			w = goc_conn_write_ctx(cc->conn, chunk, (size_t)got, NULL, ctx);
		if (w >= 0)
			w = goc_conn_write_ctx(cc->conn, "\r\n", 2, NULL, ctx);
	}
	free(chunk);
	return w;
}

/* The code of a parse error. */
static int parse_error(const goc_http_parser *p)
{
	switch (goc_http_parser_status(p)) {
	case 413:
	case 414:
	case 431:
		return -EMSGSIZE;
	case 503:
		return -ENOMEM;
	default:
		return -EPROTO;
	}
}

/* The connection ended (read returned 0). */
#define CONN_EOF 1

/* The next event of cc's parser, reading the socket when the buffer is
 * used up: an event (>= 0), CONN_EOF... as the negative of an event, or a
 * negative errno. Events are returned as GOC_HTTP_* values. */
static int next_event(client_conn *cc, goc_ctx *ctx, goc_http_str *body, bool *eof)
{
	*eof = false;
	for (;;) {
		size_t used;
		goc_http_event ev = goc_http_parser_feed(cc->parser, cc->buf + cc->rpos,
							 cc->rlen - cc->rpos, &used, body);
		cc->rpos += used;
		if (ev != GOC_HTTP_NEED_MORE)
			return (int)ev;
		ssize_t n = goc_conn_read_ctx(cc->conn, cc->buf, sizeof cc->buf, ctx);
		if (n < 0)
			return (int)n;
		cc->rpos = 0;
		cc->rlen = (size_t)n;
		if (n == 0) {
			*eof = true;
			return 0;
		}
	}
}

/* Reads up to the final response's head. */
static int read_head(client_conn *cc, goc_ctx *ctx, bool head_request)
{
	for (;;) {
		goc__http_parser_expect_response(cc->parser, head_request);
		goc_http_str body;
		bool eof;
		int ev = next_event(cc, ctx, &body, &eof);
		if (eof)
			return -ECONNRESET;
		if (ev < 0)
			return ev == -EPIPE ? -ECONNRESET : ev;
		if (ev == GOC_HTTP_ERROR)
			return parse_error(cc->parser);
		int status = goc__http_parser_response_status(cc->parser, NULL);
		if (status >= 200 || status == 101)
			return 0;
		/* An interim response: its DONE follows at once (no body). */
		ev = next_event(cc, ctx, &body, &eof);
		if (ev != GOC_HTTP_DONE)
			return -EPROTO;
	}
}

/* Whether an attempt's failure on a reused connection, before any byte
 * of a response, may be retried on a new one. */
static bool retryable(int err, const client_conn *cc, const attempt *a)
{
	bool replayable = !a->with_body || !a->req->body_read;
	bool nothing_received = goc_http_parser_between_requests(cc->parser);
	return cc->reused && replayable && nothing_received &&
		(err == -ECONNRESET || err == -EPIPE);
}

/* One request on one connection (with the retry): 0 and the response. */
static int exchange(goc_http_client *c, client_host *h, goc_ctx *ctx, const attempt *a,
		    goc_http_response *r)
{
	bool head_request = http_name_equals(a->method, strlen(a->method), "head");
	for (int tries = 0;; tries++) {
		client_conn *cc = tries == 0 ? pool_take(c, h) : NULL;
		if (!cc) {
			int err = conn_dial(c, h, ctx, &cc);
			if (err < 0)
				return err;
		}
		ssize_t w = send_request(c, cc, a, ctx);
		int err = w < 0 ? (int)w : read_head(cc, ctx, head_request);
		if (err == 0) {
			r->cc = cc;
			r->status = goc__http_parser_response_status(cc->parser, &r->reason);
			r->view = goc_http_parser_request(cc->parser);
			return 0;
		}
		bool retry = tries == 0 && retryable(err, cc, a);
		conn_free(cc);
		if (err == -EPIPE)
			err = -ECONNRESET;
		if (!retry)
			return err;
	}
}

static bool is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static void response_release(goc_http_response *r, bool reusable)
{
	client_conn *cc = r->cc;
	if (cc) {
		if (reusable)
			pool_put(r->client, cc);
		else
			conn_free(cc);
		r->cc = NULL;
	}
	if (r->holds_slot)
		host_release(r->host);
	r->holds_slot = false;
}

static bool method_valid(const char *m)
{
	if (!m[0])
		return false;
	for (; *m; m++)
		if (!http_is((unsigned char)*m, HTTP_TCHAR))
			return false;
	return true;
}

int goc_http_do(goc_http_client *c, goc_ctx *ctx, const goc_http_client_request *req,
		goc_http_response **out)
{
	*out = NULL;
	if (!c) {
		goc_once_do(&default_once, default_client_make, NULL);
		c = default_client;
		if (!c)
			return -ENOMEM;
	}
	const char *method = req->method ? req->method : "GET";
	if (!method_valid(method) || !req->url)
		return -EINVAL;
	goc_http_response *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->client = c;
	if (c->opts.timeout > 0) {
		r->timeout =
			goc_ctx_with_timeout(ctx ? ctx : goc_ctx_background(), c->opts.timeout);
		if (!r->timeout) {
			free(r);
			return -ENOMEM;
		}
	}
	r->ctx = r->timeout ? r->timeout : ctx ? goc_ctx_retain(ctx) : NULL;
	goc_mutex_lock(&c->mu);
	c->responses_open++;
	goc_mutex_unlock(&c->mu);

	char *url = strdup(req->url);
	attempt a = {.req = req,
		     .method = method,
		     .trace = r->ctx ? goc_ctx_trace(r->ctx) : NULL,
		     .with_body = true};
	int err = url ? 0 : -ENOMEM;
	for (int redirects = 0; err == 0; redirects++) {
		url_parts u;
		err = parse_url(url, &u);
		if (err < 0)
			break;
		a.url = &u;
		client_host *h = host_get(c, u.key);
		if (!h) {
			err = -ENOMEM;
			break;
		}
		err = host_acquire(h, r->ctx);
		if (err < 0)
			break;
		r->holds_slot = true;
		r->host = h;
		err = exchange(c, h, r->ctx, &a, r);
		if (err < 0) {
			host_release(h);
			r->holds_slot = false;
			break;
		}
		goc_http_str loc = goc_http_response_header(r, "location");
		if (c->opts.max_redirects == 0 || !is_redirect(r->status) || !loc.ptr)
			break;
		if (r->status >= 307 && a.with_body && req->body_read)
			break; /* a streamed body cannot be sent again */
		if (redirects == c->opts.max_redirects) {
			err = GOC_EREDIRECTS;
			break;
		}
		char *next = resolve_location(url, loc);
		/* The redirect's own body is read and dropped, so that its
		 * connection can carry the next request. */
		char sink[512];
		ssize_t n;
		while ((n = goc_http_response_read(r, sink, sizeof sink)) > 0)
			;
		response_release(r, n == 0 && r->view->keep_alive && r->cc->rpos == r->cc->rlen);
		r->done = false;
		r->err = 0;
		r->pending = (goc_http_str){0};
		if (!next) {
			err = -ENOMEM;
			break;
		}
		url_parts nu;
		if (parse_url(next, &nu) == 0 && strcmp(nu.key, u.key) != 0)
			a.drop_sensitive = true;
		if (r->status <= 303) {
			bool head = http_name_equals(method, strlen(method), "head");
			bool post = http_name_equals(method, strlen(method), "post");
			if (r->status == 303 || post) {
				a.method = head ? "HEAD" : "GET";
				a.with_body = false;
			}
		}
		free(url);
		url = next;
	}
	free(url);
	if (err < 0) {
		response_release(r, false);
		goc_http_response_close(r);
		return err;
	}
	*out = r;
	return 0;
}

int goc_http_get(goc_http_client *c, goc_ctx *ctx, const char *url, goc_http_response **out)
{
	goc_http_client_request req = {.method = "GET", .url = url};
	return goc_http_do(c, ctx, &req, out);
}

/* ---- the response -------------------------------------------------------------- */

int goc_http_response_status(const goc_http_response *r)
{
	return r->status;
}

goc_http_str goc_http_response_reason(const goc_http_response *r)
{
	return r->reason;
}

int goc_http_response_minor_version(const goc_http_response *r)
{
	return r->view->minor_version;
}

int64_t goc_http_response_content_length(const goc_http_response *r)
{
	return r->view->content_length;
}

goc_http_str goc_http_response_header(const goc_http_response *r, const char *name)
{
	return goc_http_request_header(r->view, name);
}

bool goc_http_response_header_at(const goc_http_response *r, size_t i, goc_http_str *name,
				 goc_http_str *value)
{
	return goc_http_request_header_at(r->view, i, name, value);
}

ssize_t goc_http_response_read(goc_http_response *r, void *buf, size_t len)
{
	while (r->pending.len == 0) {
		if (r->err)
			return r->err;
		if (r->done || len == 0)
			return 0;
		bool eof;
		int ev = next_event(r->cc, r->ctx, &r->pending, &eof);
		if (eof && goc__http_parser_body_to_eof(r->cc->parser))
			r->done = true;
		else if (eof)
			r->err = -ECONNRESET;
		else if (ev < 0)
			r->err = ev;
		else if (ev == GOC_HTTP_ERROR)
			r->err = parse_error(r->cc->parser);
		else if (ev == GOC_HTTP_DONE)
			r->done = true;
	}
	size_t n = r->pending.len < len ? r->pending.len : len;
	memcpy(buf, r->pending.ptr, n);
	r->pending.ptr += n;
	r->pending.len -= n;
	return (ssize_t)n;
}

ssize_t goc_http_response_read_all(goc_http_response *r, void *buf, size_t cap)
{
	size_t total = 0;
	for (;;) {
		char probe;
		bool full = total == cap;
		ssize_t n = full ? goc_http_response_read(r, &probe, 1)
				 : goc_http_response_read(r, (char *)buf + total, cap - total);
		if (n < 0)
			return n;
		if (n == 0)
			return (ssize_t)total;
		if (full)
			return -EMSGSIZE;
		total += (size_t)n;
	}
}

/* Finishes the body with the bytes already received, reading nothing
 * more: whether it ended there. */
static bool finish_from_buffer(goc_http_response *r)
{
	client_conn *cc = r->cc;
	while (!r->done && !r->err) {
		size_t used;
		goc_http_str body;
		goc_http_event ev = goc_http_parser_feed(cc->parser, cc->buf + cc->rpos,
							 cc->rlen - cc->rpos, &used, &body);
		cc->rpos += used;
		if (ev == GOC_HTTP_DONE)
			r->done = true;
		else if (ev != GOC_HTTP_BODY)
			return false;
	}
	return r->done;
}

void goc_http_response_close(goc_http_response *r)
{
	if (!r)
		return;
	goc_http_client *c = r->client;
	if (r->cc) {
		bool reusable = !r->err && r->view->keep_alive &&
			!goc__http_parser_body_to_eof(r->cc->parser) && finish_from_buffer(r) &&
			r->cc->rpos == r->cc->rlen;
		response_release(r, reusable);
	}
	if (r->timeout)
		goc_ctx_cancel(r->timeout); /* stops its timer */
	if (r->ctx)
		goc_ctx_release(r->ctx);
	goc_mutex_lock(&c->mu);
	c->responses_open--;
	goc_mutex_unlock(&c->mu);
	free(r);
}
