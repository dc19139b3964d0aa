/*
 * goc/http.h — HTTP/1.1: an incremental request parser and a response
 * writer, which touch no socket (the parser is fed the bytes a connection
 * read, the writer fills buffers the caller sends), and the server built
 * on them, goc_http_serve, which runs handlers on connections of a
 * goc_listener (section "the server" below).
 * Included by goc.h; include <goc.h>, not this file.
 *
 *     goc_http_parser *p = goc_http_parser_new(NULL);     // default limits
 *     size_t used;
 *     goc_http_str body;
 *     switch (goc_http_parser_feed(p, buf, n, &used, &body)) {
 *     case GOC_HTTP_NEED_MORE: ...  // read more, feed it
 *     case GOC_HTTP_HEAD:      ...  // goc_http_parser_request(p) is complete
 *     case GOC_HTTP_BODY:      ...  // body.ptr[0..body.len): decoded body bytes
 *     case GOC_HTTP_DONE:      ...  // request complete; the next one may follow
 *     case GOC_HTTP_ERROR:     ...  // answer goc_http_parser_status(p), close
 *     }
 *     // feed again from buf + used: one call reports at most one event
 *
 * A request may arrive split at any byte, and several pipelined requests
 * may arrive in one buffer: each feed consumes what it can up to the next
 * event and says how much it took. The parser copies the request line and
 * the header fields into a buffer of its own (reused from request to
 * request, grown to the limits at most, never per header); body bytes are
 * never copied: a BODY event points into the caller's input.
 *
 * Strictness: every line must end in CRLF (a bare LF or CR is a 400), the
 * request line takes single spaces, header names are tokens followed
 * directly by ':', obs-fold is refused, values may not hold control
 * characters. The request-target's form must fit the method (CONNECT
 * host:port, OPTIONS *, otherwise /path or scheme://host/path), and the
 * Host field must be one valid host[:port]. Content-Length and
 * Transfer-Encoding together, differing Content-Lengths, a Transfer-Encoding whose last coding is not chunked, or
 * one in an HTTP/1.0 request are 400s (request smuggling); a coding other
 * than chunked is a 501.
 */
#ifndef GOC_HTTP_H
#define GOC_HTTP_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/http.h>"
#endif

#include <sys/uio.h>

/* A byte range inside some buffer; not NUL-terminated. ptr is NULL for a
 * header that is absent (and len 0). */
typedef struct goc_http_str {
	const char *ptr;
	size_t len;
} goc_http_str;

/* Limits on a request; a zero field takes the default in brackets. The
 * status a request past the limit gets is in parentheses. */
typedef struct goc_http_limits {
	size_t max_request_line; /* request line without CRLF [8 KiB] (414) */
	size_t max_header_bytes; /* header section: field lines with their CRLFs and
	                            the final CRLF; chunked trailers count too [64 KiB] (431) */
	size_t max_headers;      /* field lines, trailers included [100] (431) */
	int64_t max_body;        /* decoded body bytes [10 MiB] (413) */
} goc_http_limits;

#define GOC_HTTP_DEFAULT_MAX_REQUEST_LINE ((size_t)8 << 10)
#define GOC_HTTP_DEFAULT_MAX_HEADER_BYTES ((size_t)64 << 10)
#define GOC_HTTP_DEFAULT_MAX_HEADERS ((size_t)100)
#define GOC_HTTP_DEFAULT_MAX_BODY ((int64_t)10 << 20)

/*
 * Options of the HTTP server; zero-initialise and set what you need.
 * Timeouts follow Go's http.Server: GOC_NO_TIMEOUT (any negative value)
 * is none; a zero read or write timeout is none too, as in Go, and a zero
 * header or idle timeout takes the read timeout's value. A request's
 * timeouts run from its first byte (a connection's first request: from
 * the accept).
 */
typedef struct goc_http_server_options {
	goc_http_limits limits;
	int64_t read_header_timeout; /* to the end of the request's head [read_timeout] */
	int64_t read_timeout;        /* to the request's last byte, body included [none] */
	int64_t write_timeout;       /* for writing one response, from its first byte [none] */
	/* A response write that moves no byte for this long fails (-ETIMEDOUT)
	 * and the connection closes: lets slow clients that keep reading
	 * download for as long as they need while stalled ones are cut
	 * (checked four times per timeout) [none]. */
	int64_t write_progress_timeout;
	int64_t idle_timeout; /* a keep-alive connection waiting for its next request [read_timeout] */
	/* Open connections at most: past it the server accepts no more until
	 * one closes (Go's netutil.LimitListener); /debug/vars counts the
	 * waits [0: no cap]. */
	int max_conns;
	goc_workpool *pool; /* runs the handlers when set; else each connection's goroutine does */
	/* When it ends, the server shuts down gracefully (NULL: serve until
	 * the process ends). */
	goc_ctx *shutdown;
	/* How long requests in flight get to finish once shutdown has ended;
	 * then their connections are cut [5 s]; GOC_NO_TIMEOUT: never cut. */
	int64_t shutdown_timeout;
} goc_http_server_options;

/* ---- requests -------------------------------------------------------------- */

typedef struct goc_http_parser goc_http_parser;

/* A parsed request head. It lives inside its parser; its strings point
 * into the parser's buffer and stay valid until the parser is fed again
 * after reporting GOC_HTTP_DONE (or freed). */
typedef struct goc_http_request {
	goc_http_str method; /* a token, case-sensitive: "GET", "POST", ... */
	goc_http_str target; /* the request-target as sent */
	/* The target up to '?'; absolute-form: from the path on ("/" when empty);
	 * "*" for OPTIONS *; empty for CONNECT's host:port. */
	goc_http_str path;
	goc_http_str query;     /* after the first '?', without it; ptr NULL when there is no '?' */
	int minor_version;      /* x of HTTP/1.x: 0, or 1 and above (read as 1.1) */
	int64_t content_length; /* body bytes; -1 when chunked */
	bool chunked;           /* Transfer-Encoding: chunked */
	bool keep_alive;        /* the connection may carry another request after this one */
	bool expect_continue; /* "Expect: 100-continue" on HTTP/1.1: send GOC_HTTP_CONTINUE before reading the body */
	size_t header_count;
} goc_http_request;

/* What a feed reports. */
typedef enum goc_http_event {
	GOC_HTTP_NEED_MORE = 0, /* every byte given was consumed; feed more */
	GOC_HTTP_HEAD,          /* the request head is complete (and valid) */
	GOC_HTTP_BODY,          /* body bytes, decoded, in *body */
	GOC_HTTP_DONE,          /* the request is complete */
	GOC_HTTP_ERROR, /* the request is refused: goc_http_parser_status; close after answering */
} goc_http_event;

/* A parser with the given limits (NULL: the defaults). NULL with errno =
 * ENOMEM, or EINVAL when max_request_line or max_header_bytes exceeds 1 GiB
 * or max_body is negative. */
goc_http_parser *goc_http_parser_new(const goc_http_limits *limits);
void goc_http_parser_free(goc_http_parser *p);

/*
 * Consumes bytes of data[0..len) up to the next event and returns it;
 * *consumed says how many. BODY: *body points at the decoded body bytes
 * (inside data). After DONE the next feed starts the next request; after
 * ERROR every feed returns ERROR and consumes nothing. data may be NULL
 * when len is 0 (a feed with no bytes still reports DONE when it is due).
 */
goc_http_event goc_http_parser_feed(goc_http_parser *p, const char *data, size_t len,
				    size_t *consumed, goc_http_str *body);

/* The request whose head was reported by GOC_HTTP_HEAD. */
const goc_http_request *goc_http_parser_request(const goc_http_parser *p);
/* After GOC_HTTP_ERROR: the status to answer (400, 413, 414, 431, 501,
 * 505, or 503 when memory ran out) and a short reason for logs
 * ("conflicting Content-Length", ...). 0 and "" before an error. */
int goc_http_parser_status(const goc_http_parser *p);
const char *goc_http_parser_error(const goc_http_parser *p);
/* Whether the parser is between requests: no byte of a next request has
 * been consumed (empty lines before a request line do not count). A
 * connection that ends here ended cleanly. */
bool goc_http_parser_between_requests(const goc_http_parser *p);

/* The value of the first field called name (compared case-insensitively),
 * without surrounding whitespace; ptr NULL when there is none. */
goc_http_str goc_http_request_header(const goc_http_request *r, const char *name);
/* The i-th field line (0 <= i < header_count), in arrival order; false
 * past the end. */
bool goc_http_request_header_at(const goc_http_request *r, size_t i, goc_http_str *name,
				goc_http_str *value);

/* ---- responses ------------------------------------------------------------- */

/* The interim response a server sends before reading the body of a
 * request with expect_continue. */
#define GOC_HTTP_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"
/* The end of a chunked body (no trailers). */
#define GOC_HTTP_LAST_CHUNK "0\r\n\r\n"

/* The reason phrase of RFC 9110 ("Not Found"); "" for a code it lacks. */
const char *goc_http_status_text(int status);

/* An IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT": 29 characters and a NUL. */
#define GOC_HTTP_DATE_SIZE 30
/* The date of the current second (formatted once per second per thread);
 * returns 29. */
size_t goc_http_date(char out[GOC_HTTP_DATE_SIZE]);
/* The date of a Unix time (seconds since 1970, UTC; years 1970-9999). */
size_t goc_http_date_format(int64_t unix_seconds, char out[GOC_HTTP_DATE_SIZE]);

/*
 * A response head built in a caller's buffer:
 *
 *     goc_http_head h;
 *     goc_http_head_begin(&h, buf, sizeof buf, 200);
 *     goc_http_head_add(&h, "Content-Type", "text/plain");
 *     size_t n = goc_http_head_end(&h, req->minor_version, 5, req->keep_alive);
 *     // send buf[0..n) and "hello"; close afterwards unless h.keep_alive
 *
 * The writer owns the framing: Content-Length or Transfer-Encoding,
 * Connection and Date are written by goc_http_head_end.
 */
typedef struct goc_http_head {
	char *buf;
	size_t cap;
	size_t len; /* bytes written so far */
	int status;
	bool overflow; /* buf was too small: the head is unusable */
	bool chunked;  /* set by end: send the body with goc_http_chunk_* and GOC_HTTP_LAST_CHUNK */
	bool keep_alive; /* set by end: the connection may carry another request */
} goc_http_head;

/* Starts "HTTP/1.1 <status> <reason>\r\n" in buf[0..cap). A status outside
 * 100-999 is written as 500. */
void goc_http_head_begin(goc_http_head *h, char *buf, size_t cap, int status);
/* Adds "name: value\r\n". false, writing nothing, if name is not a token,
 * value holds a control character other than tab (CR and LF included: no
 * header injection), name is one end writes (Content-Length,
 * Transfer-Encoding, Connection, Date), or buf is full (then overflow is
 * set). */
bool goc_http_head_add(goc_http_head *h, const char *name, const char *value);
/*
 * Ends the head for a request of HTTP/1.<minor_version> and returns its
 * length (0 on overflow). content_length >= 0: a body of that length; -1:
 * a body of unknown length, sent chunked to HTTP/1.1 and delimited by
 * closing the connection for HTTP/1.0. keep_alive false asks for the
 * connection to close ("Connection: close"). 1xx, 204 and 304 responses
 * get no framing header. Sets h->chunked and h->keep_alive.
 */
size_t goc_http_head_end(goc_http_head *h, int minor_version, int64_t content_length,
			 bool keep_alive);

/* "<hex size>\r\n", the line that opens a chunk of n bytes; returns its length. */
#define GOC_HTTP_CHUNK_PREFIX_SIZE 18
size_t goc_http_chunk_prefix(char out[GOC_HTTP_CHUNK_PREFIX_SIZE], size_t n);
/* One chunk of data[0..n) as iov[0..3) (prefix, data, CRLF), with the
 * prefix written into prefix_buf; returns 3, or 0 when n is 0 (an empty
 * chunk would end the body). */
int goc_http_chunk_iov(struct iovec iov[3], char prefix_buf[GOC_HTTP_CHUNK_PREFIX_SIZE],
		       const void *data, size_t n);

/* A complete response refusing a request: the status, Content-Type
 * text/plain, the reason phrase and a newline as body, "Connection:
 * close". Returns its length, 0 if cap is too small. */
size_t goc_http_error_response(char *buf, size_t cap, int status);

/* ---- the server -------------------------------------------------------------
 *
 *     static void hello(goc_http_exchange *x, void *user)
 *     {
 *         goc_http_add_header(x, "Content-Type", "text/plain");
 *         goc_http_write(x, "hello", 5);
 *     }
 *     ...
 *     goc_http_server_options o = {.shutdown = ctx, .read_timeout = 10 * GOC_SECOND};
 *     int64_t cut = goc_http_serve(ln, hello, NULL, &o);   // returns after ctx ends
 *
 * One goroutine per connection reads its requests one after another
 * (keep-alive, pipelining), calls the handler for each (or has the pool
 * run it and waits) and answers in order. Requests the parser refuses get
 * its 4xx/5xx and the connection is closed.
 */

/* One request being handled and its response: valid from the handler's
 * call to its return, used by one goroutine at a time. */
typedef struct goc_http_exchange goc_http_exchange;
typedef struct goc_listener goc_listener;
typedef void (*goc_http_handler)(goc_http_exchange *x, void *user);

/*
 * Serves HTTP/1.1 on ln, which it takes over, until opts->shutdown ends
 * (or the listener fails). Then it stops accepting and closes the
 * listener, closes idle connections, lets requests in flight finish for
 * up to opts->shutdown_timeout (their responses say "Connection: close"),
 * then shuts the remaining connections down (their reads and writes fail)
 * and cancels goc_http_ctx; it returns once every connection goroutine
 * has ended, with the number of connections cut, or -EINVAL (bad limits
 * or a negative max_conns) or -ENOMEM before serving. opts NULL: the
 * defaults, serving forever. Handlers must return once their I/O fails or goc_http_ctx ends.
 */
int64_t goc_http_serve(goc_listener *ln, goc_http_handler handler, void *user,
		       const goc_http_server_options *opts);

/* The request's head (method, path, query, headers). */
const goc_http_request *goc_http_req(goc_http_exchange *x);
/*
 * The request's context (Go's r.Context()), made on the first call: it
 * ends (GOC_CANCELED) when the client closes, half-closes or resets the
 * connection while the handler runs, when the server cuts requests at the
 * end of a shutdown, and once the handler has returned. The client's
 * leaving is seen once the request's body has been read whole (the server
 * then reads one byte ahead; a pipelined request's byte is kept for it).
 * Any goroutine may ask for it while the handler runs (all get the same
 * context); asking after the handler returned panics. It carries the
 * request's trace (goc_ctx_trace): a child span of the W3C traceparent
 * the client sent, with its tracestate, or a new trace when it sent none
 * (or an invalid one); goc_http_do passes it on to the next service. Valid during the
 * handler; goc_ctx_retain it to keep it longer.
 */
goc_ctx *goc_http_ctx(goc_http_exchange *x);

/*
 * Reads up to len bytes of the request body (decoded: chunk framing
 * removed), sending "100 Continue" first when the client asked for it.
 * Returns the number read, 0 at the end of the body, or a negative errno:
 * -EMSGSIZE (over limits.max_body: the server answers 413), -EPROTO
 * (malformed chunked framing: 400), -ECONNRESET (the client closed
 * mid-body), -ETIMEDOUT (read timeout), -EBADF (the connection was cut).
 */
ssize_t goc_http_read_body(goc_http_exchange *x, void *buf, size_t len);

/* The response status [200]; false once the head is sent (the first
 * goc_http_write or goc_http_flush fixes it, as Go's first Write). */
bool goc_http_set_status(goc_http_exchange *x, int status);
/* Adds a header field (checked as goc_http_head_add: false for a bad
 * name or value, a framing field, a full head buffer, or once the head
 * is sent). */
bool goc_http_add_header(goc_http_exchange *x, const char *name, const char *value);
/* Declares the body's length, so that a streamed body is sent with
 * Content-Length instead of chunked; a HEAD response reports it. false
 * once the head is sent. */
bool goc_http_set_length(goc_http_exchange *x, int64_t length);

/*
 * Appends body bytes. They are buffered: a handler that writes less than
 * the buffer (4 KiB) before returning gets a Content-Length response in
 * one write; past that, or after goc_http_flush, the body is streamed,
 * chunked unless its length was declared. Returns len, or a negative
 * errno: -EINVAL (a status without a body, 1xx/204/304, or past the
 * declared length), -ETIMEDOUT (write timeout), -EPIPE / -ECONNRESET,
 * -EBADF (cut). A HEAD request's body is counted and dropped.
 */
ssize_t goc_http_write(goc_http_exchange *x, const void *data, size_t len);
/* Sends the head and what is buffered now. 0 or a negative errno. */
int goc_http_flush(goc_http_exchange *x);

#endif /* GOC_HTTP_H */
