/*
 * server.c — the HTTP/1.1 server: an accept loop, one goroutine per
 * connection reading its requests in order, the handler's view of a
 * request (body reader) and its response writer, timeouts and graceful
 * shutdown.
 *
 *   goc_http_serve: accept --> conn_serve (one goroutine per connection)
 *     conn_serve:   wait for a request (idle timeout) --> ACTIVE
 *                   --> read the head (read timeout) --> handler (here or
 *                   in the pool, awaited) --> drain the rest of the body
 *                   --> finish the response --> IDLE, or close
 *   shutdown:       stop accepting --> shut idle connections down --> wait
 *                   shutdown_timeout --> shut the rest down, cancel cut_ctx
 *                   --> wait for every connection goroutine
 *
 * Invariants:
 *  - one goroutine at a time uses a connection: its own, or the pool
 *    worker running its handler while the connection goroutine waits on
 *    handler_done; except that while a watcher runs (the handler asked for
 *    the request's context and the body has been read whole) the watcher
 *    alone reads, the handler only writes, and the connection goroutine
 *    waits for the watcher to end before it reads again. The server goroutine touches a connection only under
 *    srv->lock and only to shut its socket down (never to close it), and
 *    a connection leaves srv->conns under that lock before its goroutine
 *    closes the socket, so the handle is live whenever the server uses it.
 *  - a connection in state IDLE has no request under way: shutting it
 *    down loses nothing. A connection becomes ACTIVE (under the lock) only
 *    while the server is not draining.
 *  - in[in_pos..in_end) holds bytes read but not yet fed to the parser;
 *    the buffer is refilled only once they are all fed and the handler
 *    has taken every body byte reported (x.unread), since body events
 *    point into it.
 *  - a response's bytes leave in order: head (once), body, last chunk.
 *    body_buf[0..buffered) is body not yet sent; the head is sent with
 *    the first bytes that leave. Every response ends with nothing
 *    buffered, so nothing waits in the server while it reads.
 *  - deadlines are lazy: `due` is when a timeout falls due, `armed` the
 *    deadline set on the socket, never later than due. Moving `due`
 *    later costs nothing; an armed deadline that passes early is re-armed
 *    at due and the I/O retried. So a keep-alive connection re-arms its
 *    timers about once per timeout, not once per request.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "../sched/runtime.h"
#include "http.h"

#define DEFAULT_SHUTDOWN_TIMEOUT (5 * GOC_SECOND)
/* A write under a progress timeout wakes this many times per timeout to
 * see whether bytes moved, so a stall is caught at most a quarter late. */
#define PROGRESS_CHECKS 4

/* Falling to a quarter of a peak of this many connections trims the heap. */
#define TRIM_MIN_PEAK 256

#define IN_BUF_SIZE 4096
#define BODY_BUF_SIZE 4096
#define HEAD_BUF_SIZE 4096
/* Room before the header fields for the status line, written last:
 * "HTTP/1.1 ddd " and the longest reason phrase with CRLF. */
#define STATUS_LINE_ROOM 64
/* Room after the fields kept for what goc_http_head_end adds (framing,
 * Connection, Date, the empty line), so that fields cannot crowd it out. */
#define FRAMING_ROOM 128
/* A body the handler left unread is discarded up to this many bytes to
 * keep the connection; past it the connection closes (Go's
 * maxPostHandlerReadBytes). */
#define DRAIN_LIMIT ((int64_t)256 << 10)
/* After refusing a request, what the client still sends is read and
 * dropped for up to this long before closing, so that the close does
 * not reset the connection before the client read the refusal. */
#define LINGER_TIME (500 * GOC_MILLISECOND)

enum conn_state {
	CONN_IDLE,   /* waiting for a request, or between requests */
	CONN_ACTIVE, /* a request is being read, handled or answered */
};

struct lazy_deadline {
	int64_t due;   /* when the timeout falls due (0: none) */
	int64_t armed; /* what the socket has (0: none); armed <= due unless due is 0 */
};

struct http_server {
	goc_http_handler handler;
	void *user;
	goc_http_limits limits;
	/* The options' timeouts resolved: 0 is none here. */
	int64_t read_header_timeout, read_timeout, write_timeout, write_progress_timeout,
		idle_timeout;
	goc_workpool *pool;
	goc_sema *conn_slots; /* max_conns permits, one per open connection; NULL: no cap */
	goc_ctx *cut_ctx;     /* cancelled when requests in flight are cut */
	goc_wg conns_done;    /* one count per connection goroutine */
	goc_mutex lock;
	goc__list conns;      /* lock: every connection not yet closing (http_conn.link) */
	int64_t conns_linked; /* lock: how many conns holds */
	int64_t conns_peak;   /* lock: the most it held since the last trim */
	bool draining;        /* lock (written); read unlocked as a hint */
};

struct goc_http_exchange {
	struct http_conn *hc;
	const goc_http_request *req;
	/* The request body. */
	goc_http_str unread; /* decoded body bytes reported, not yet read (inside hc->in) */
	bool body_done;      /* the parser reported DONE */
	int body_error;      /* -errno once reading the body failed */
	int refused_status;  /* the parser refused the body: its status */
	bool continue_sent;
	/* The response. */
	int status;
	bool head_fixed; /* status and fields can no longer change */
	bool head_sent;
	bool chunked;            /* set when the head is sent */
	bool close_after;        /* close the connection after this response */
	goc_http_head fields;    /* header lines at hc->head_buf + STATUS_LINE_ROOM */
	int64_t declared_length; /* goc_http_set_length, or -1 */
	int64_t body_written;    /* bytes accepted by goc_http_write */
	size_t buffered;         /* hc->body_buf[0..buffered): body not sent yet */
	int write_error;         /* -errno once a write failed */
	goc_wg handler_done;     /* the pool's worker ran the handler */
	/* The request's context (made by goc_http_ctx) and its watcher. */
	goc_ctx *ctx;      /* atomic: set once per request by a CAS */
	goc__g *handler_g; /* the goroutine running the handler */
	bool ended;        /* atomic: the handler returned */
	bool watching;     /* a watcher reads ahead (see watch_start) */
};

/* The goroutine that reads ahead on a connection while its handler runs,
 * to see the client leave (see watch_start). */
struct conn_watch {
	goc_wg done;       /* the watcher ended */
	uint32_t stopping; /* atomic: watch_stop broke its read */
	bool has_byte;     /* it read `byte`, the next request's first */
	char byte;
};

/*
 *   http_conn: [srv | links | state | conn | parser | deadlines | in_pos/end | x | watch | in | head_buf | body_buf]
 *
 * Allocated when accepted, freed by its goroutine after closing conn.
 */
struct http_conn {
	struct http_server *srv;
	goc__list_node link;   /* in srv->conns; srv->lock */
	enum conn_state state; /* srv->lock */
	goc_conn *conn;
	goc_http_parser *parser;
	struct lazy_deadline read_deadline, write_deadline;
	int64_t request_start; /* when the current request's first byte came (or the accept) */
	size_t in_pos, in_end;
	goc_http_exchange x;
	struct conn_watch watch;
	char in[IN_BUF_SIZE];
	char head_buf[HEAD_BUF_SIZE];
	char body_buf[BODY_BUF_SIZE];
};

/* Every server's connections, for /debug/vars: relaxed atomics, since
 * they are only ever summed up and read as a snapshot. */
static goc__http_counters http_counters;

/* ---- lazy deadlines ---- */

static void deadline_arm(struct http_conn *hc, struct lazy_deadline *d, int64_t deadline)
{
	d->armed = deadline;
	if (d == &hc->read_deadline)
		goc_conn_set_read_deadline(hc->conn, deadline);
	else
		goc_conn_set_write_deadline(hc->conn, deadline);
}

/* Makes the deadline fall due at `at` (0: none). Removing it costs
 * nothing either: an armed deadline that fires is found early and
 * re-armed at due. */
static void deadline_set_at(struct http_conn *hc, struct lazy_deadline *d, int64_t at)
{
	d->due = at;
	if (at != 0 && (d->armed == 0 || d->armed > at))
		deadline_arm(hc, d, at);
}

/* now + timeout, or 0 (none) for a timeout of 0 or one past the clock's end. */
static int64_t deadline_after(int64_t now, int64_t timeout)
{
	return timeout > 0 && timeout < INT64_MAX - now ? now + timeout : 0;
}

static void deadline_set(struct http_conn *hc, struct lazy_deadline *d, int64_t timeout)
{
	deadline_set_at(hc, d, timeout ? deadline_after(goc_now(), timeout) : 0);
}

/* After an I/O call failed with -ETIMEDOUT: whether the timeout is real.
 * If the armed deadline was early, re-arms it at due (the caller retries). */
static bool deadline_passed(struct http_conn *hc, struct lazy_deadline *d)
{
	if (d->due != 0 && goc_now() >= d->due)
		return true;
	deadline_arm(hc, d, d->due);
	return false;
}

/* ---- socket I/O ---- */

/* Refills the input buffer, which must be consumed: > 0 bytes read, 0 at
 * end of stream, or -errno. */
static ssize_t conn_fill(struct http_conn *hc)
{
	hc->in_pos = hc->in_end = 0;
	if (hc->watch.has_byte) {
		/* Read ahead by the watcher: it follows everything buffered. */
		hc->watch.has_byte = false;
		hc->in[0] = hc->watch.byte;
		hc->in_end = 1;
		return 1;
	}
	for (;;) {
		ssize_t n = goc_conn_read(hc->conn, hc->in, sizeof hc->in);
		if (n == -ETIMEDOUT && !deadline_passed(hc, &hc->read_deadline))
			continue;
		if (n > 0)
			hc->in_end = (size_t)n;
		return n;
	}
}

/*
 * Writes iov whole; 0 or -errno. Under a progress timeout the socket's
 * deadline is the next check, a quarter of the timeout away (or the
 * write timeout when sooner): a check that finds bytes written since the
 * last one starts the stall clock again; one that finds none for the
 * whole timeout fails the write.
 */
static int conn_send(struct http_conn *hc, struct iovec *iov, int iovcnt)
{
	int64_t progress = hc->srv->write_progress_timeout;
	struct lazy_deadline *d = &hc->write_deadline;
	int64_t moved_at = progress ? goc_now() : 0;
	for (;;) {
		if (progress) {
			int64_t check = deadline_after(goc_now(), progress / PROGRESS_CHECKS + 1);
			deadline_arm(hc, d, d->due && (d->due < check || !check) ? d->due : check);
		}
		size_t written = 0;
		ssize_t n = goc_conn_writev(hc->conn, iov, iovcnt, &written);
		if (n != -ETIMEDOUT)
			return n < 0 ? (int)n : 0;
		/* iov was advanced past what was written: retry the rest. */
		if (!progress) {
			if (deadline_passed(hc, d))
				return (int)n;
			continue;
		}
		int64_t now = goc_now();
		if (d->due != 0 && now >= d->due)
			return (int)n;
		if (written > 0)
			moved_at = now;
		else if (now - moved_at >= progress)
			return (int)n;
	}
}

/* Sends a refusal of the request with status; the connection closes after. */
static void send_refusal(struct http_conn *hc, int status)
{
	deadline_set(hc, &hc->write_deadline, hc->srv->write_timeout);
	size_t n = goc_http_error_response(hc->head_buf, sizeof hc->head_buf, status);
	struct iovec iov = {hc->head_buf, n};
	conn_send(hc, &iov, 1);
}

/* Closes the writing half, then reads and drops what the client still
 * sends, until it closes or LINGER_TIME passes: closing with unread
 * input would reset the connection and could destroy the response before
 * the client read it. */
static void linger(struct http_conn *hc)
{
	if (goc_conn_shutdown(hc->conn, GOC_SHUT_WRITE) != 0)
		return;
	int64_t until = goc_now() + LINGER_TIME;
	hc->read_deadline = (struct lazy_deadline){until, 0};
	deadline_arm(hc, &hc->read_deadline, until);
	while (conn_fill(hc) > 0)
		continue;
}

/* ---- the request body ---- */

static void watch_start(goc_http_exchange *x);

static int body_fail(goc_http_exchange *x, int err)
{
	x->body_error = err;
	return err;
}

/* Feeds the parser until the next body event: bytes in x->unread,
 * body_done, or an error. 0 or -errno. */
static int body_next(goc_http_exchange *x)
{
	struct http_conn *hc = x->hc;
	while (!x->body_done && x->body_error == 0) {
		size_t used;
		goc_http_str body;
		goc_http_event ev = goc_http_parser_feed(hc->parser, hc->in + hc->in_pos,
							 hc->in_end - hc->in_pos, &used, &body);
		hc->in_pos += used;
		if (ev == GOC_HTTP_BODY) {
			x->unread = body;
			return 0;
		}
		if (ev == GOC_HTTP_DONE) {
			x->body_done = true;
			watch_start(x);
			return 0;
		}
		if (ev == GOC_HTTP_ERROR) {
			x->refused_status = goc_http_parser_status(hc->parser);
			return body_fail(x, x->refused_status == 413 ? -EMSGSIZE : -EPROTO);
		}
		if (x->req->expect_continue && !x->continue_sent) {
			x->continue_sent = true;
			deadline_set(hc, &hc->write_deadline, hc->srv->write_timeout);
			struct iovec iov = {(void *)GOC_HTTP_CONTINUE,
					    sizeof GOC_HTTP_CONTINUE - 1};
			int err = conn_send(hc, &iov, 1);
			if (err)
				return body_fail(x, err);
		}
		ssize_t n = conn_fill(hc);
		if (n <= 0)
			return body_fail(x, n == 0 ? -ECONNRESET : (int)n);
	}
	return x->body_error;
}

ssize_t goc_http_read_body(goc_http_exchange *x, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	while (x->unread.len == 0) {
		if (x->body_done)
			return 0;
		int err = body_next(x);
		if (err)
			return err;
	}
	size_t n = x->unread.len < len ? x->unread.len : len;
	memcpy(buf, x->unread.ptr, n);
	x->unread.ptr += n;
	x->unread.len -= n;
	return (ssize_t)n;
}

/* Discards the body the handler left, up to DRAIN_LIMIT: whether the
 * connection can carry another request. A client waiting for "100
 * Continue" that was never sent has not sent its body: close instead. */
static bool drain_body(goc_http_exchange *x)
{
	if (!x->body_done && x->req->expect_continue && !x->continue_sent)
		return false;
	int64_t budget = DRAIN_LIMIT;
	while (!x->body_done) {
		budget -= (int64_t)x->unread.len;
		x->unread.len = 0;
		if (budget < 0 || body_next(x) != 0)
			return false;
	}
	return true;
}

/* ---- the response ---- */

static bool body_allowed(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

static bool is_head_request(const goc_http_exchange *x)
{
	return x->req->method.len == 4 && memcmp(x->req->method.ptr, "HEAD", 4) == 0;
}

/* Ends the head for a body of content_length bytes (-1: unknown) and
 * returns it as one iovec: the status line is written just before the
 * fields. */
static struct iovec head_finish(goc_http_exchange *x, int64_t content_length)
{
	struct http_conn *hc = x->hc;
	char line[STATUS_LINE_ROOM];
	goc_http_head status_line;
	goc_http_head_begin(&status_line, line, sizeof line, x->status);
	char *start = hc->head_buf + STATUS_LINE_ROOM - status_line.len;
	memcpy(start, line, status_line.len);
	bool draining = goc__load_relaxed(&hc->srv->draining);
	x->fields.status = status_line.status;
	x->fields.cap += FRAMING_ROOM;
	size_t len = goc_http_head_end(&x->fields, x->req->minor_version, content_length,
				       !x->close_after && !draining);
	x->chunked = x->fields.chunked;
	if (!x->fields.keep_alive)
		x->close_after = true;
	return (struct iovec){start, status_line.len + len};
}

/* Sends the head if not sent yet, the buffered body and data[0..n), and
 * with final the end of the body, in one writev. 0 or -errno. */
static int send_out(goc_http_exchange *x, const void *data, size_t n, bool final)
{
	struct http_conn *hc = x->hc;
	if (x->write_error)
		return x->write_error;
	struct iovec iov[6];
	int cnt = 0;
	if (!x->head_sent) {
		int64_t length = x->declared_length;
		if (length < 0 && final)
			length = x->body_written;
		x->head_fixed = x->head_sent = true;
		deadline_set(hc, &hc->write_deadline, hc->srv->write_timeout);
		iov[cnt++] = head_finish(x, length);
	}
	bool send_body = body_allowed(x->status) && !is_head_request(x);
	size_t body_len = x->buffered + n;
	char prefix[GOC_HTTP_CHUNK_PREFIX_SIZE];
	if (send_body && body_len > 0) {
		if (x->chunked)
			iov[cnt++] =
				(struct iovec){prefix, goc_http_chunk_prefix(prefix, body_len)};
		if (x->buffered)
			iov[cnt++] = (struct iovec){hc->body_buf, x->buffered};
		if (n)
			iov[cnt++] = (struct iovec){(void *)data, n};
		if (x->chunked)
			iov[cnt++] = (struct iovec){(void *)"\r\n", 2};
	}
	if (send_body && final && x->chunked)
		iov[cnt++] =
			(struct iovec){(void *)GOC_HTTP_LAST_CHUNK, sizeof GOC_HTTP_LAST_CHUNK - 1};
	x->buffered = 0;
	if (cnt == 0)
		return 0;
	int err = conn_send(hc, iov, cnt);
	if (err) {
		x->write_error = err;
		x->close_after = true;
	}
	return err;
}

ssize_t goc_http_write(goc_http_exchange *x, const void *data, size_t len)
{
	int err = 0;
	if (x->write_error)
		err = x->write_error;
	else if (!body_allowed(x->status) ||
		 (x->declared_length >= 0 && (int64_t)len > x->declared_length - x->body_written))
		err = -EINVAL;
	if (err)
		return err;
	x->head_fixed = true;
	x->body_written += (int64_t)len;
	if (is_head_request(x))
		return (ssize_t)len;
	if (len <= BODY_BUF_SIZE - x->buffered) {
		memcpy(x->hc->body_buf + x->buffered, data, len);
		x->buffered += len;
		return (ssize_t)len;
	}
	err = send_out(x, data, len, false);
	if (err)
		return err;
	return (ssize_t)len;
}

int goc_http_flush(goc_http_exchange *x)
{
	return send_out(x, NULL, 0, false);
}

bool goc_http_set_status(goc_http_exchange *x, int status)
{
	if (x->head_fixed || status < 200 || status > 999)
		return false;
	x->status = status;
	return true;
}

bool goc_http_add_header(goc_http_exchange *x, const char *name, const char *value)
{
	if (x->head_fixed)
		return false;
	bool added = goc_http_head_add(&x->fields, name, value);
	/* A field that did not fit was not written: the head stays usable. */
	x->fields.overflow = false;
	return added;
}

bool goc_http_set_length(goc_http_exchange *x, int64_t length)
{
	if (x->head_fixed || length < 0 || length < x->body_written)
		return false;
	x->declared_length = length;
	return true;
}

const goc_http_request *goc_http_req(goc_http_exchange *x)
{
	return x->req;
}

/* Any goroutine may ask while the handler runs (goroutines it started,
 * say): the first made context wins a CAS. Only the handler's own
 * goroutine starts the watcher, since that reads the request's state. */
/* A header's value as a C string, or NULL (absent, too long, no memory). */
static char *header_string(const goc_http_request *r, const char *name, size_t max)
{
	goc_http_str v = goc_http_request_header(r, name);
	if (!v.ptr || v.len > max)
		return NULL;
	return strndup(v.ptr, v.len);
}

/* A context under parent carrying the request's trace: a child span of
 * the client's traceparent (with its tracestate), or a new trace; NULL
 * when memory runs out. */
static goc_ctx *request_trace_ctx(goc_ctx *parent, const goc_http_request *r)
{
	goc_tracectx tc;
	char *parent_value = header_string(r, "traceparent", 256);
	if (parent_value && goc_traceparent_parse(parent_value, &tc) == GOC_OK) {
		char *state = header_string(r, "tracestate", 8192);
		if (state)
			goc_tracestate_parse(state, &tc);
		free(state);
		goc_tracectx_child(&tc, &tc);
	} else {
		goc_tracectx_new(&tc);
	}
	free(parent_value);
	return goc_ctx_with_trace(parent, &tc);
}

goc_ctx *goc_http_ctx(goc_http_exchange *x)
{
	if (goc__load_acquire(&x->ended))
		goc__panic("goc_http_ctx: the request has ended (its handler returned)");
	goc_ctx *ctx = goc__load_acquire(&x->ctx);
	if (!ctx) {
		goc_ctx *traced = request_trace_ctx(x->hc->srv->cut_ctx, goc_http_req(x));
		goc_ctx *made = goc_ctx_with_cancel(traced ? traced : x->hc->srv->cut_ctx);
		if (traced)
			goc_ctx_release(traced); /* made holds it */
		if (!made)
			return x->hc->srv->cut_ctx; /* no memory: shutdown still reaches it */
		if (goc__cas_acqrel(&x->ctx, &ctx, made)) {
			ctx = made;
		} else {
			goc_ctx_cancel(made);
			goc_ctx_release(made);
		}
	}
	goc__m *m = goc__m_self();
	if (m && m->curg == x->handler_g)
		watch_start(x);
	return ctx;
}

/* ---- the request's context: seeing the client leave ---- */

static void watch_conn(void *arg)
{
	struct http_conn *hc = arg;
	ssize_t n;
	do
		n = goc_conn_read(hc->conn, &hc->watch.byte, 1);
	while (n == -ETIMEDOUT && !goc__load_acquire(&hc->watch.stopping));
	if (n == 1)
		hc->watch.has_byte = true;
	else if (!goc__load_acquire(&hc->watch.stopping))
		goc_ctx_cancel(goc__load_acquire(&hc->x.ctx)); /* end of stream, reset, or cut */
	goc_wg_done(&hc->watch.done);
}

/*
 * Once the handler holds the request's context and the request has been
 * read whole, nothing reads the connection until the handler returns, so
 * a watcher goroutine reads one byte ahead (as Go's background read): the
 * end of the stream or an error cancels the context (a client that left,
 * or one that half-closed after its request, as in Go); a byte is the
 * next pipelined request's first, kept for conn_fill. The read deadline
 * is cleared for the wait (deadline_set re-arms it).
 */
static void watch_start(goc_http_exchange *x)
{
	struct http_conn *hc = x->hc;
	bool body_read = x->body_done || (x->req->content_length == 0 && !x->req->chunked);
	if (!goc__load_acquire(&x->ctx) || x->watching || !body_read)
		return;
	goc_conn_set_read_deadline(hc->conn, 0);
	hc->read_deadline = (struct lazy_deadline){0, 0};
	goc__store_relaxed(&hc->watch.stopping, 0);
	goc_wg_init(&hc->watch.done);
	goc_wg_add(&hc->watch.done, 1);
	if (goc_go(watch_conn, hc) <= 0) {
		goc_wg_done(
			&hc->watch.done); /* no goroutine: the context only ends with the request */
		return;
	}
	x->watching = true;
}

/* After the handler: stops the watcher (an expired read deadline breaks
 * its read), then ends the request's context. */
static void request_ctx_end(goc_http_exchange *x)
{
	struct http_conn *hc = x->hc;
	goc__store_release(&x->ended, true);
	if (x->watching) {
		goc__store_release(&hc->watch.stopping, 1);
		goc_conn_set_read_deadline(hc->conn, 1);
		goc_wg_wait(&hc->watch.done);
		goc_conn_set_read_deadline(hc->conn, 0);
		x->watching = false;
	}
	/* A load first: most handlers never ask for a context, and this runs
	 * for every request. */
	goc_ctx *ctx = goc__load_acquire(&x->ctx);
	if (ctx) {
		goc__store_relaxed(&x->ctx, NULL);
		goc_ctx_cancel(ctx);
		goc_ctx_release(ctx);
	}
}

/* ---- one request ---- */

static void exchange_begin(struct http_conn *hc)
{
	goc_http_exchange *x = &hc->x;
	x->req = goc_http_parser_request(hc->parser);
	x->unread = (goc_http_str){NULL, 0};
	x->body_done = x->continue_sent = false;
	x->body_error = x->refused_status = x->write_error = 0;
	x->status = 200;
	x->head_fixed = x->head_sent = x->chunked = false;
	x->close_after = !x->req->keep_alive;
	x->declared_length = -1;
	x->body_written = 0;
	x->buffered = 0;
	goc__store_relaxed(&x->ctx, NULL);
	goc__store_relaxed(&x->ended, false);
	x->handler_g = NULL;
	x->watching = false;
	x->fields = (goc_http_head){
		.buf = hc->head_buf + STATUS_LINE_ROOM,
		.cap = HEAD_BUF_SIZE - STATUS_LINE_ROOM - FRAMING_ROOM,
		.status = 200,
	};
}

static void run_on_pool(void *arg)
{
	goc_http_exchange *x = arg;
	x->handler_g = goc__m_self()->curg;
	x->hc->srv->handler(x, x->hc->srv->user);
	goc_wg_done(&x->handler_done);
}

/* Runs the handler here, or on the pool while this goroutine waits.
 * false: the pool refused the request. */
static bool run_handler(struct http_conn *hc)
{
	struct http_server *srv = hc->srv;
	if (!srv->pool) {
		hc->x.handler_g = goc__m_self()->curg;
		srv->handler(&hc->x, srv->user);
		return true;
	}
	goc_wg_add(&hc->x.handler_done, 1);
	if (goc_workpool_submit(srv->pool, run_on_pool, &hc->x) != GOC_OK) {
		goc_wg_done(&hc->x.handler_done);
		return false;
	}
	goc_wg_wait(&hc->x.handler_done);
	return true;
}

/* Reads, handles and answers one request whose first bytes are in the
 * buffer or on their way. Returns whether the connection may carry
 * another; *linger_wanted: the server chose to close after answering (linger
 * before closing, see linger). */
static bool serve_request(struct http_conn *hc, bool *linger_wanted)
{
	for (;;) {
		size_t used;
		goc_http_str body;
		goc_http_event ev = goc_http_parser_feed(hc->parser, hc->in + hc->in_pos,
							 hc->in_end - hc->in_pos, &used, &body);
		hc->in_pos += used;
		if (ev == GOC_HTTP_HEAD) {
			/* The head is in: the read timeout takes over from the
			 * header timeout, still from the request's start. */
			deadline_set_at(hc, &hc->read_deadline,
					deadline_after(hc->request_start, hc->srv->read_timeout));
			break;
		}
		if (ev == GOC_HTTP_ERROR) {
			send_refusal(hc, goc_http_parser_status(hc->parser));
			*linger_wanted = true;
			return false;
		}
		if (conn_fill(hc) <= 0)
			return false; /* end of stream, timeout or cut in the middle of a head */
	}
	exchange_begin(hc);
	goc_http_exchange *x = &hc->x;
	if (!run_handler(hc)) {
		send_refusal(hc, 503);
		*linger_wanted = true;
		return false;
	}
	request_ctx_end(x);
	if (!drain_body(x))
		x->close_after = true;
	if (x->refused_status && !x->head_sent) {
		send_refusal(hc, x->refused_status);
		*linger_wanted = true;
		return false;
	}
	send_out(x, NULL, 0, true);
	bool short_body = x->declared_length > x->body_written && body_allowed(x->status) &&
		!is_head_request(x);
	*linger_wanted = x->close_after && x->write_error == 0;
	return !x->close_after && !short_body;
}

/* ---- connections ---- */

/* IDLE -> ACTIVE, unless the server is draining. */
static bool conn_activate(struct http_conn *hc)
{
	struct http_server *srv = hc->srv;
	goc_mutex_lock(&srv->lock);
	bool ok = !srv->draining;
	if (ok)
		hc->state = CONN_ACTIVE;
	goc_mutex_unlock(&srv->lock);
	return ok;
}

/* ACTIVE -> IDLE; false when the server is draining (close instead). */
static bool conn_deactivate(struct http_conn *hc)
{
	struct http_server *srv = hc->srv;
	goc_mutex_lock(&srv->lock);
	hc->state = CONN_IDLE;
	bool ok = !srv->draining;
	goc_mutex_unlock(&srv->lock);
	return ok;
}

/* Unlinks hc; true when the connections have fallen to a quarter of a
 * peak of at least TRIM_MIN_PEAK: time to give memory back (trim_heap). */
static bool conn_unlink(struct http_conn *hc)
{
	struct http_server *srv = hc->srv;
	goc_mutex_lock(&srv->lock);
	goc__list_remove(&srv->conns, &hc->link);
	srv->conns_linked--;
	bool trim = srv->conns_peak >= TRIM_MIN_PEAK && srv->conns_linked <= srv->conns_peak / 4;
	if (trim)
		srv->conns_peak = srv->conns_linked;
	goc_mutex_unlock(&srv->lock);
	return trim;
}

/*
 * glibc keeps what a spike of connections freed in its arenas (chunks of
 * ~14 KiB, below its mmap threshold, spread over per-thread arenas that
 * it trims only at their top), so a server's RSS would stay at its peak.
 * malloc_trim returns the free pages of every arena. It walks them under
 * their locks, which can take milliseconds: a syscall section, and only
 * once per fall from a peak (conn_unlink), not per connection.
 */
static void trim_heap(void)
{
	goc_syscall_enter();
	malloc_trim(0);
	goc_syscall_exit();
}

/* Frees a connection and gives back its slot under max_conns. */
static void conn_free(struct http_conn *hc)
{
	struct http_server *srv = hc->srv;
	goc_http_parser_free(hc->parser);
	free(hc);
	goc__fetch_sub_relaxed(&http_counters.conns_open, 1);
	if (srv->conn_slots)
		goc_sema_release(srv->conn_slots, 1);
}

static void conn_serve(void *arg)
{
	struct http_conn *hc = arg;
	struct http_server *srv = hc->srv;
	bool linger_wanted = false;
	/* The first request's timeouts run from the accept. */
	hc->request_start = goc_now();
	deadline_set_at(hc, &hc->read_deadline,
			deadline_after(hc->request_start, srv->read_header_timeout));
	for (bool first = true;; first = false) {
		if (hc->in_pos == hc->in_end) {
			if (!first)
				deadline_set(hc, &hc->read_deadline, srv->idle_timeout);
			if (conn_fill(hc) <= 0)
				break;
		}
		if (!conn_activate(hc))
			break;
		if (!first) {
			hc->request_start = goc_now();
			deadline_set_at(
				hc, &hc->read_deadline,
				deadline_after(hc->request_start, srv->read_header_timeout));
		}
		bool keep = serve_request(hc, &linger_wanted);
		if (!conn_deactivate(hc) || !keep)
			break;
	}
	if (linger_wanted)
		linger(hc);
	bool trim = conn_unlink(hc);
	goc_conn_close(hc->conn);
	conn_free(hc);
	if (trim)
		trim_heap();
	goc_wg_done(&srv->conns_done);
}

/* A connection for c, linked into the server; NULL when memory ran out. */
static struct http_conn *conn_new(struct http_server *srv, goc_conn *c)
{
	struct http_conn *hc = malloc(sizeof *hc);
	if (!hc)
		return NULL;
	hc->parser = goc_http_parser_new(&srv->limits);
	if (!hc->parser) {
		free(hc);
		return NULL;
	}
	goc__fetch_add_relaxed(&http_counters.conns_open, 1);
	hc->srv = srv;
	hc->conn = c;
	hc->state = CONN_IDLE;
	hc->read_deadline = hc->write_deadline = (struct lazy_deadline){0, 0};
	hc->in_pos = hc->in_end = 0;
	hc->watch.has_byte = false;
	hc->x.hc = hc;
	goc_wg_init(&hc->x.handler_done);
	goc_mutex_lock(&srv->lock);
	goc__list_push_front(&srv->conns, &hc->link);
	if (++srv->conns_linked > srv->conns_peak)
		srv->conns_peak = srv->conns_linked;
	goc_mutex_unlock(&srv->lock);
	return hc;
}

/* ---- the server ---- */

/* Shuts down the sockets of the connections in state `only` (or all when
 * only_idle is false); returns how many. */
static int64_t shut_conns(struct http_server *srv, bool only_idle)
{
	int64_t n = 0;
	goc_mutex_lock(&srv->lock);
	goc__store_relaxed(&srv->draining, true);
	goc__list_for_each (node, &srv->conns) {
		struct http_conn *hc = goc__list_entry(node, struct http_conn, link);
		if (only_idle && hc->state != CONN_IDLE)
			continue;
		goc_conn_shutdown(hc->conn, GOC_SHUT_READ | GOC_SHUT_WRITE);
		n++;
	}
	goc_mutex_unlock(&srv->lock);
	return n;
}

static int64_t shutdown_gracefully(struct http_server *srv, int64_t shutdown_timeout)
{
	shut_conns(srv, true);
	/* GOC_NO_TIMEOUT (negative): a grace without end. */
	goc_ctx *grace = shutdown_timeout < 0
		? goc_ctx_with_cancel(goc_ctx_background())
		: goc_ctx_with_timeout(goc_ctx_background(), shutdown_timeout);
	goc_status st = grace ? goc_wg_wait_ctx(&srv->conns_done, grace) : GOC_TIMEOUT;
	if (grace) {
		goc_ctx_cancel(grace);
		goc_ctx_release(grace);
	}
	int64_t cut = 0;
	if (st != GOC_OK) {
		cut = shut_conns(srv, false);
		goc_ctx_cancel(srv->cut_ctx);
		goc_wg_wait(&srv->conns_done);
	}
	return cut;
}

/* An option's duration: 0 takes fallback; GOC_NO_TIMEOUT (negative)
 * stays, and its user reads it as none. */
static int64_t or_default(int64_t value, int64_t fallback)
{
	return value ? value : fallback;
}

/* An option's timeout resolved, 0 meaning none: GOC_NO_TIMEOUT (any
 * negative value) is none, 0 takes fallback (itself resolved). */
static int64_t timeout_option(int64_t value, int64_t fallback)
{
	if (value < 0)
		return 0;
	return value ? value : fallback;
}

void goc__http_counters_read(goc__http_counters *out)
{
	out->conns_open = goc__load_relaxed(&http_counters.conns_open);
	out->conns_accepted = goc__load_relaxed(&http_counters.conns_accepted);
	out->conn_limit_waits = goc__load_relaxed(&http_counters.conn_limit_waits);
}

/* Takes a slot for the next connection, waiting (until shutdown) while
 * max_conns are open: Go's netutil.LimitListener. */
static bool conn_slot_take(struct http_server *srv, goc_ctx *shutdown)
{
	if (!srv->conn_slots || goc_sema_try_acquire(srv->conn_slots, 1))
		return true;
	goc__fetch_add_relaxed(&http_counters.conn_limit_waits, 1);
	return goc_sema_acquire(srv->conn_slots, shutdown, 1) == GOC_OK;
}

int64_t goc_http_serve(goc_listener *ln, goc_http_handler handler, void *user,
		       const goc_http_server_options *opts)
{
	static const goc_http_server_options defaults;
	if (!opts)
		opts = &defaults;
	if (!handler)
		goc__panic("goc_http_serve: NULL handler");
	if (opts->max_conns < 0)
		return -EINVAL;
	goc_http_parser *probe = goc_http_parser_new(&opts->limits);
	if (!probe)
		return errno == EINVAL ? -EINVAL : -ENOMEM;
	goc_http_parser_free(probe);
	int64_t read_timeout = timeout_option(opts->read_timeout, 0);
	goc_sema conn_slots;
	struct http_server srv = {
		.handler = handler,
		.user = user,
		.limits = opts->limits,
		.read_header_timeout = timeout_option(opts->read_header_timeout, read_timeout),
		.read_timeout = read_timeout,
		.write_timeout = timeout_option(opts->write_timeout, 0),
		.write_progress_timeout = timeout_option(opts->write_progress_timeout, 0),
		.idle_timeout = timeout_option(opts->idle_timeout, read_timeout),
		.pool = opts->pool,
		.conn_slots = opts->max_conns ? &conn_slots : NULL,
		.cut_ctx = goc_ctx_with_cancel(goc_ctx_background()),
	};
	if (!srv.cut_ctx)
		return -ENOMEM;
	if (srv.conn_slots)
		goc_sema_init(srv.conn_slots, opts->max_conns);
	goc_wg_init(&srv.conns_done);
	goc_mutex_init(&srv.lock);
	goc_go_options conn_opts = {.name = "http conn"};
	int err;
	for (;;) {
		goc_conn *c;
		if (!conn_slot_take(&srv, opts->shutdown)) {
			err = -ECANCELED;
			break;
		}
		err = opts->shutdown ? goc_accept_ctx(ln, opts->shutdown, &c) : goc_accept(ln, &c);
		if (err) {
			if (srv.conn_slots)
				goc_sema_release(srv.conn_slots, 1);
			break;
		}
		goc__fetch_add_relaxed(&http_counters.conns_accepted, 1);
		struct http_conn *hc = conn_new(&srv, c);
		if (!hc) {
			goc_conn_close(c);
			if (srv.conn_slots)
				goc_sema_release(srv.conn_slots, 1);
			continue;
		}
		goc_wg_add(&srv.conns_done, 1);
		if (goc_go_opts(conn_serve, hc, &conn_opts) < 0) {
			conn_unlink(hc);
			goc_conn_close(c);
			conn_free(hc);
			goc_wg_done(&srv.conns_done);
		}
	}
	if (err != -EBADF)
		goc_listener_close(ln);
	int64_t cut = shutdown_gracefully(
		&srv, or_default(opts->shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT));
	goc_ctx_cancel(srv.cut_ctx);
	goc_ctx_release(srv.cut_ctx);
	return cut;
}
