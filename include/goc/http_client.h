/*
 * goc/http_client.h — an HTTP/1.1 client with Go's http.Client semantics:
 * requests carried by a goc_ctx (deadline and cancellation), a keep-alive
 * connection pool per host, streamed response bodies, opt-in redirects.
 * Included by goc.h; include <goc.h>, not this file.
 *
 *     goc_http_response *r;
 *     int err = goc_http_get(NULL, ctx, "http://127.0.0.1:8080/x", &r);
 *     if (err < 0) ...                     // goc_strerror(err)
 *     char buf[4096];
 *     ssize_t n;
 *     while ((n = goc_http_response_read(r, buf, sizeof buf)) > 0)
 *         ...                              // the body, decoded
 *     goc_http_response_close(r);          // gives the connection back
 *
 * Plain http:// only: for https, run a TLS-terminating proxy on the local
 * host (stunnel, haproxy, envoy) and address it over http://.
 *
 * Connections. Each client keeps, per "host:port", the idle connections
 * of earlier requests (at most max_idle_per_host, each for at most
 * idle_timeout) and hands them to later requests; a request takes an idle
 * connection when there is one, else dials (the host name resolved as
 * goc_dial does). An idle connection the server has closed is noticed
 * before use; a request that fails on a reused connection before any
 * byte of the response arrived is sent once more on a new connection
 * when its body can be sent again (none, or in memory), as Go retries.
 * A response holds its connection until goc_http_response_close: the
 * connection goes back to the pool if its body was read to the end (or
 * the rest of it had already arrived) and the server kept it alive;
 * otherwise it is closed.
 *
 * Errors follow goc's rules: 0 or a negative code, goc_strerror names it.
 *   -EINVAL            a malformed URL, method or header field
 *   -EPROTONOSUPPORT   a scheme other than http (https included)
 *   GOC_ENOHOST, -ECONNREFUSED, ...   from dialling (goc_dial)
 *   -ETIMEDOUT         the context's deadline or the client's timeout
 *   -ECANCELED         the context was cancelled
 *   -ECONNRESET        the server closed or reset the connection before
 *                      the response (or its body) was complete
 *   -EPROTO            a malformed response (status line, fields, framing)
 *   -EMSGSIZE          a response over the client's limits
 *   GOC_EREDIRECTS     more redirects than max_redirects
 *   -ENOMEM
 */
#ifndef GOC_HTTP_CLIENT_H
#define GOC_HTTP_CLIENT_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/http_client.h>"
#endif

/* A redirect chain longer than the client's max_redirects (Go's "stopped
 * after 10 redirects"); past every errno, like the name-resolution codes. */
#define GOC_EREDIRECTS (-4104)

typedef struct goc_http_client goc_http_client;
typedef struct goc_http_response goc_http_response;

/* Options of a client; zero-initialise and set what you need. */
typedef struct goc_http_client_options {
	/* On responses: max_request_line bounds the status line,
	 * max_header_bytes and max_headers the header section, max_body the
	 * decoded body [0: the status line and header defaults of
	 * goc_http_limits, no body limit]. */
	goc_http_limits limits;
	/* Connections per host, in use and idle together: a request past it
	 * waits (bounded by its context) for another's response to be closed
	 * (Go's MaxConnsPerHost) [0: no limit]. */
	int max_conns_per_host;
	/* Idle connections kept per host (Go's MaxIdleConnsPerHost) [2];
	 * negative: none (every connection closes after its response). */
	int max_idle_per_host;
	/* How long an idle connection is kept (Go's IdleConnTimeout) [90 s];
	 * GOC_NO_TIMEOUT: for ever. */
	int64_t idle_timeout;
	/* A limit on each request, from its start to the end of its response
	 * body, redirects included (Go's Client.Timeout) [0: none, as Go];
	 * it fails with -ETIMEDOUT, as the context's deadline does. */
	int64_t timeout;
	/* Redirects (301, 302, 303, 307, 308 with a Location) followed per
	 * request [0: none: the 3xx response is returned, as with Go's
	 * ErrUseLastResponse]. 301-303 turn the request into a GET without
	 * body (HEAD stays HEAD); 307 and 308 resend it as it was, or return
	 * the 3xx when its body was streamed. Authorization and Cookie fields
	 * are dropped when the host changes, as Go does. */
	int max_redirects;
	const char *user_agent; /* [goc-http-client/1.1]; "" sends none */
} goc_http_client_options;

/* One header field of a request. */
typedef struct goc_http_field {
	const char *name, *value;
} goc_http_field;

/* A request. The client adds Host, User-Agent (unless given), the
 * framing (Content-Length or Transfer-Encoding: chunked), and, when the
 * request's context carries a trace (goc_ctx_trace), its traceparent and
 * tracestate, unless a traceparent is given (the context's span is sent
 * as the parent: make a child with goc_ctx_with_trace for a span of the
 * call's own); fields the
 * client owns (Content-Length, Transfer-Encoding, Connection, Date, Host)
 * are refused (-EINVAL), as are names that are not tokens and values with
 * control characters. */
typedef struct goc_http_client_request {
	const char *method; /* a token [GET] */
	/* http://host[:port][/path][?query][#fragment]: the fragment is not
	 * sent; bytes outside visible ASCII must be percent-encoded. */
	const char *url;
	const goc_http_field *headers;
	size_t header_count;
	/* A body in memory, sent with Content-Length (body_len 0: no body;
	 * a POST or PUT then says Content-Length: 0). */
	const void *body;
	size_t body_len;
	/* A streamed body (body ignored): called until it returns 0 (the end)
	 * or a negative errno (the request then fails with it), its bytes
	 * sent chunked as they come. */
	ssize_t (*body_read)(void *arg, void *buf, size_t len);
	void *body_arg;
} goc_http_client_request;

/* A client (Go's http.Client with its own Transport). NULL with errno =
 * ENOMEM, or EINVAL for limits goc_http_parser_new refuses or a negative
 * max_conns_per_host or max_redirects. Any number of goroutines and plain
 * threads may use one client at once. */
goc_http_client *goc_http_client_new(const goc_http_client_options *opts);
/* Closes the idle connections and frees the client; every response it
 * returned must have been closed (else it panics). */
void goc_http_client_free(goc_http_client *c);
/* Closes every idle connection now (Go's CloseIdleConnections). */
void goc_http_client_close_idle(goc_http_client *c);

/*
 * Sends req and waits for the response's head (interim 1xx responses are
 * skipped). 0 and the response in *out, or a negative code (above) and
 * *out NULL. A status of 4xx or 5xx is a response, not an error. ctx
 * (NULL: none) bounds the whole exchange, reading the body included: once
 * it ends, the calls on the response fail with its error. c NULL: a
 * process-wide client with the default options (Go's DefaultClient).
 */
int goc_http_do(goc_http_client *c, goc_ctx *ctx, const goc_http_client_request *req,
		goc_http_response **out);
/* goc_http_do of a GET of url. */
int goc_http_get(goc_http_client *c, goc_ctx *ctx, const char *url, goc_http_response **out);

/* The status code, and the reason phrase as sent. */
int goc_http_response_status(const goc_http_response *r);
goc_http_str goc_http_response_reason(const goc_http_response *r);
/* 0 for HTTP/1.0, 1 for HTTP/1.1. */
int goc_http_response_minor_version(const goc_http_response *r);
/* The declared body length: Content-Length, or -1 when the body is
 * chunked or runs to the connection's end (for a HEAD request: the length
 * the server declared, or -1). */
int64_t goc_http_response_content_length(const goc_http_response *r);
/* Header lookups as goc_http_request_header(_at); valid until close. */
goc_http_str goc_http_response_header(const goc_http_response *r, const char *name);
bool goc_http_response_header_at(const goc_http_response *r, size_t i, goc_http_str *name,
				 goc_http_str *value);

/*
 * Reads up to len bytes of the body (decoded: chunk framing removed): the
 * number read, 0 at its end, or a negative code: -ECONNRESET (the
 * connection ended early), -EPROTO (malformed framing), -EMSGSIZE (past
 * limits.max_body), -ETIMEDOUT / -ECANCELED (the request's context or
 * timeout). After an error every read returns it.
 */
ssize_t goc_http_response_read(goc_http_response *r, void *buf, size_t len);
/* Reads the whole body into buf[0..cap): its length, or a negative code
 * as goc_http_response_read, or -EMSGSIZE when it does not fit. */
ssize_t goc_http_response_read_all(goc_http_response *r, void *buf, size_t cap);
/* Ends the response: its connection goes back to the pool or is closed
 * (see "Connections"), and r is freed. NULL is ignored. */
void goc_http_response_close(goc_http_response *r);

#endif /* GOC_HTTP_CLIENT_H */
