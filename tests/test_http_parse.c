/*
 * test_http_parse.c — the HTTP/1.1 request parser and the response writer
 * (src/http/), without sockets.
 *
 * Every request vector is parsed whole and fed in pieces of every size
 * from 1 byte up: the transcripts (heads, body bytes, completions, the
 * final error) must be identical. Then: each refusal status with its
 * limit's edge (400, 413, 414, 431, 501, 505), pipelining, chunked edge
 * cases, keep-alive for HTTP/1.0 and 1.1, Expect: 100-continue, and the
 * response writer's output byte for byte.
 */
#include <errno.h>
#include <string.h>

#include "testutil.h"

/* ---- transcripts ------------------------------------------------------------ */

typedef struct transcript {
	char text[1 << 16];
	size_t len;
	int requests; /* DONE events */
	int status;   /* the error status, 0 if none */
} transcript;

static void put(transcript *t, const void *bytes, size_t n)
{
	CHECK(t->len + n < sizeof t->text, "transcript overflow");
	memcpy(t->text + t->len, bytes, n);
	t->len += n;
	t->text[t->len] = '\0';
}

static void puts_str(transcript *t, const char *s)
{
	put(t, s, strlen(s));
}

static void put_view(transcript *t, goc_http_str s)
{
	put(t, "[", 1);
	put(t, s.ptr ? s.ptr : "(null)", s.ptr ? s.len : 6);
	put(t, "]", 1);
}

static void record_head(transcript *t, const goc_http_request *r)
{
	char line[160];
	puts_str(t, "HEAD ");
	put_view(t, r->method);
	put_view(t, r->target);
	put_view(t, r->path);
	put_view(t, r->query);
	snprintf(line, sizeof line, " 1.%d cl=%lld chunked=%d ka=%d continue=%d\n",
		 r->minor_version, (long long)r->content_length, r->chunked, r->keep_alive,
		 r->expect_continue);
	puts_str(t, line);
	goc_http_str name, value;
	for (size_t i = 0; goc_http_request_header_at(r, i, &name, &value); i++) {
		put_view(t, name);
		put_view(t, value);
		puts_str(t, "\n");
	}
	puts_str(t, "BODY ");
}

/* Feeds input[0..len) in pieces of `piece` bytes (0: all at once), each
 * piece extended only when the parser has consumed what it was given. */
static void run(const char *input, size_t len, size_t piece, const goc_http_limits *limits,
		transcript *t)
{
	goc_http_parser *p = goc_http_parser_new(limits);
	CHECK(p, "parser_new");
	memset(t, 0, sizeof *t);
	size_t pos = 0, window = piece ? (piece < len ? piece : len) : len;
	for (;;) {
		size_t used;
		goc_http_str body;
		goc_http_event ev =
			goc_http_parser_feed(p, input + pos, window - pos, &used, &body);
		CHECK(used <= window - pos, "consumed more than given");
		pos += used;
		if (ev == GOC_HTTP_HEAD) {
			record_head(t, goc_http_parser_request(p));
		} else if (ev == GOC_HTTP_BODY) {
			CHECK(body.len > 0 && body.ptr >= input &&
				      body.ptr + body.len <= input + len,
			      "body view");
			put(t, body.ptr, body.len);
		} else if (ev == GOC_HTTP_DONE) {
			puts_str(t, "\nDONE\n");
			t->requests++;
		} else if (ev == GOC_HTTP_ERROR) {
			t->status = goc_http_parser_status(p);
			char line[120];
			snprintf(line, sizeof line, "ERROR %d %s\n", t->status,
				 goc_http_parser_error(p));
			puts_str(t, line);
			break;
		} else {
			CHECK(pos == window, "NEED_MORE left input unconsumed");
			if (window == len)
				break;
			window = window + piece < len ? window + piece : len;
		}
	}
	goc_http_parser_free(p);
}

/* Parses whole, then in every piece size, and checks the transcripts agree. */
static transcript *parse_everywhere(const char *input, size_t len, const goc_http_limits *limits)
{
	static transcript whole, split;
	run(input, len, 0, limits, &whole);
	for (size_t piece = 1; piece < len; piece++) {
		run(input, len, piece, limits, &split);
		CHECK(split.len == whole.len && memcmp(split.text, whole.text, whole.len) == 0,
		      "piece %zu differs on %.60s:\n--- whole\n%s--- split\n%s", piece, input,
		      whole.text, split.text);
	}
	return &whole;
}

static transcript *parse_str(const char *input)
{
	return parse_everywhere(input, strlen(input), NULL);
}

static transcript *parse_limited(const char *input, const goc_http_limits *limits)
{
	return parse_everywhere(input, strlen(input), limits);
}

static void expect_status(const char *input, const goc_http_limits *limits, int status)
{
	transcript *t = parse_everywhere(input, strlen(input), limits);
	CHECK(t->status == status, "status %d, want %d for %.80s\n%s", t->status, status, input,
	      t->text);
}

/* ---- requests ----------------------------------------------------------------- */

static void test_simple_get(void)
{
	const char *in = "GET /index.html?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\n"
			 "User-Agent:  curl/8  \r\nAccept:*/*\r\nX-Empty:\r\n\r\n";
	transcript *t = parse_str(in);
	const char *want =
		"HEAD [GET][/index.html?x=1&y=%20][/index.html][x=1&y=%20] 1.1 cl=0 chunked=0 ka=1 continue=0\n"
		"[Host][example.com]\n[User-Agent][curl/8]\n[Accept][*/*]\n[X-Empty][]\n"
		"BODY \nDONE\n";
	CHECK(strcmp(t->text, want) == 0, "got\n%s", t->text);

	goc_http_parser *p = goc_http_parser_new(NULL);
	size_t used;
	goc_http_str body;
	CHECK(goc_http_parser_between_requests(p), "fresh parser is between requests");
	CHECK(goc_http_parser_feed(p, in, strlen(in), &used, &body) == GOC_HTTP_HEAD &&
		      used == strlen(in),
	      "head");
	const goc_http_request *r = goc_http_parser_request(p);
	goc_http_str ua = goc_http_request_header(r, "user-AGENT");
	CHECK(ua.len == 6 && memcmp(ua.ptr, "curl/8", 6) == 0, "lookup ignores case");
	CHECK(goc_http_request_header(r, "Missing").ptr == NULL, "absent header");
	CHECK(goc_http_request_header(r, "Host2").ptr == NULL &&
		      goc_http_request_header(r, "Hos").ptr == NULL,
	      "names compared whole");
	CHECK(!goc_http_parser_between_requests(p), "mid-request");
	CHECK(goc_http_parser_feed(p, NULL, 0, &used, &body) == GOC_HTTP_DONE && used == 0,
	      "done without input");
	CHECK(goc_http_parser_between_requests(p), "between requests after DONE");
	CHECK(r->method.len == 3 && memcmp(r->method.ptr, "GET", 3) == 0, "view valid after DONE");
	CHECK(goc_http_parser_feed(p, "\r", 1, &used, &body) == GOC_HTTP_NEED_MORE && used == 1,
	      "CR");
	CHECK(!goc_http_parser_between_requests(p), "a pending CR starts a line");
	CHECK(goc_http_parser_feed(p, "\n", 1, &used, &body) == GOC_HTTP_NEED_MORE, "empty line");
	CHECK(goc_http_parser_between_requests(p), "an empty line before a request does not count");
	goc_http_parser_free(p);
	ok("simple GET, header lookup, views, between_requests");
}

static void test_targets_and_versions(void)
{
	transcript *t = parse_str("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(strstr(t->text, "[OPTIONS][*][*][(null)] 1.1"), "%s", t->text);
	t = parse_str("GET http://example.com:8080/a/b?q HTTP/1.1\r\nHost: example.com\r\n\r\n");
	CHECK(strstr(t->text, "[http://example.com:8080/a/b?q][/a/b][q]"), "%s", t->text);
	t = parse_str("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
	CHECK(strstr(t->text, "[example.com:443][][(null)]"), "%s", t->text);
	/* '*' opens a reg-name too: still authority-form, no path (fuzzing). */
	t = parse_str("CONNECT *=.example:443 HTTP/1.0\r\n\r\n");
	CHECK(strstr(t->text, "[*=.example:443][][(null)]"), "%s", t->text);
	t = parse_str("GET /? HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(strstr(t->text, "[/?][/][]"), "%s", t->text);
	t = parse_str("GET / HTTP/1.0\r\n\r\n");
	CHECK(strstr(t->text, " 1.0 cl=0 chunked=0 ka=0"), "HTTP/1.0 without Host: %s", t->text);
	t = parse_str("GET / HTTP/1.9\r\nHost: h\r\n\r\n");
	CHECK(strstr(t->text, " 1.9 ") && strstr(t->text, "ka=1"), "HTTP/1.9 read as 1.1: %s",
	      t->text);
	t = parse_str("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(t->requests == 1 && t->status == 0, "empty lines before the request line: %s",
	      t->text);
	t = parse_str("M-SEARCH /x HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(t->requests == 1, "extension method: %s", t->text);
	/* absolute-form with an empty path: the path is "/" (RFC 9112 3.2.2) */
	t = parse_str("GET http://host HTTP/1.1\r\nHost: host\r\n\r\n");
	CHECK(strstr(t->text, "[http://host][/][(null)]"), "%s", t->text);
	t = parse_str("GET HTTP://[::1]:80?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK(strstr(t->text, "[HTTP://[::1]:80?q=1][/][q=1]"), "%s", t->text);
	t = parse_str("GET https://h.example:8443/a HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK(strstr(t->text, "[/a][(null)]"), "%s", t->text);
	ok("targets (origin, absolute, authority, asterisk), versions, leading empty lines");
}

/* RFC 9112 3.2: the target's form must fit the method, and the Host field
 * must be one valid uri-host [":" port]. */
static void test_target_forms_and_host(void)
{
	static const char *const bad[] = {
		"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET host:80 HTTP/1.1\r\nHost: h\r\n\r\n",
		"OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", /* no port */
		"CONNECT h: HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT :443 HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT http://h:443/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http:/x HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n",    /* empty host */
		"GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", /* userinfo */
		"GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http://h#f HTTP/1.1\r\nHost: h\r\n\r\n", /* no fragment in a target */
		"GET http://[::1]:8#?q HTTP/1.0\r\nHost: h\r\n\r\n",
		"GET 1http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET x HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: evil.com/x@y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: u@h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h:80:80\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h:x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h?x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: []\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a%2\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", /* even identical */
		"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: a b\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_status(bad[i], NULL, 400);
	static const char *const good[] = {
		"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"OPTIONS http://h HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n",
		"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT 10.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost:\r\n\r\n", /* empty: allowed */
		"GET / HTTP/1.1\r\nHost: h:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a%C3%A9b_c~d!$&'()*+,;=\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: H.EXAMPLE\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		transcript *t = parse_str(good[i]);
		CHECK(t->status == 0 && t->requests == 1, "%s\n%s", good[i], t->text);
	}
	ok("target forms by method (CONNECT, OPTIONS *, absolute, origin) and Host values: 400");
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", /* two spaces */
		"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", /* trailing space */
		"GET /\r\n\r\n",                      /* HTTP/0.9 */
		"GET / http/1.1\r\nHost: h\r\n\r\n",  /* lower-case name */
		"GET / HTTP/1.1x\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.\r\nHost: h\r\n\r\n",
		"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", /* not a token */
		"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", /* raw UTF-8 in the target */
		"GET / HTTP/1.1\nHost: h\r\n\r\n",           /* bare LF */
		"GET / HTTP/1.1\r\nHost: h\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\n",
		"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",      /* bare CR */
		"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", /* obs-fold */
		"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : h\r\n\r\n", /* space before the colon */
		"GET / HTTP/1.1\r\nHost h\r\n\r\n",
		"GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",                       /* 1.1 without Host */
		"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", /* two Hosts */
		"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_status(bad[i], NULL, 400);
	/* NUL inside a value */
	static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
	transcript *t = parse_everywhere(nul, sizeof nul - 1, NULL);
	CHECK(t->status == 400, "NUL: %s", t->text);
	expect_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n", NULL, 505);
	expect_status("GET / HTTP/0.9\r\nHost: h\r\n\r\n", NULL, 505);
	expect_status("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", NULL, 505);
	t = parse_str("GET / HTTP/1.1\r\nHost: h\r\nX: \xc3\xa9\x80\r\n\r\n");
	CHECK(t->status == 0 && t->requests == 1, "obs-text in values is allowed: %s", t->text);
	ok("malformed requests: 400; unsupported versions: 505");
}

static void test_limits(void)
{
	goc_http_limits l = {
		.max_request_line = 32, .max_header_bytes = 64, .max_headers = 3, .max_body = 10};
	char in[512];
	/* request line: "GET /" + 18 bytes + " HTTP/1.1" is 32 */
	snprintf(in, sizeof in, "GET /%.*s HTTP/1.1\r\nHost: h\r\n\r\n", 32 - 14,
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK(parse_limited(in, &l)->requests == 1, "request line of exactly the limit");
	snprintf(in, sizeof in, "GET /%.*s HTTP/1.1\r\nHost: h\r\n\r\n", 32 - 13,
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_status(in, &l, 414);
	expect_status("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &l,
		      414); /* no LF yet */
	CHECK(parse_str("GET / HTTP/1.1\r\nHost: h\r\n\r\n")->requests == 1, "defaults");

	/* header section: 9 + 17 + 36 bytes of lines, then the final CRLF: 64 */
	const char *fits =
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: 0123456789\r\nX-B: 01234567890123456789012345678\r\n\r\n";
	CHECK(parse_limited(fits, &l)->requests == 1, "header section of exactly the limit");
	expect_status(
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: 0123456789\r\nX-B: 012345678901234567890123456789\r\n\r\n",
		&l, 431);
	expect_status(
		"GET / HTTP/1.1\r\nHost: h\r\nX-Long: 012345678901234567890123456789012345678901234567890123",
		&l, 431);
	expect_status("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &l, 431);
	CHECK(parse_limited("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", &l)->requests == 1,
	      "exactly max_headers");

	/* body */
	CHECK(parse_limited("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789",
			    &l)
			      ->requests == 1,
	      "body of exactly the limit");
	expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", &l, 413);
	expect_status(
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		NULL, 413);
	expect_status(
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n",
		&l, 413);
	transcript *t =
		parse_limited("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n",
			      &l);
	CHECK(t->requests == 1 && strstr(t->text, "BODY 0123456789\nDONE"),
	      "chunked body of exactly the limit: %s", t->text);

	goc_http_limits too_big = {.max_request_line = (size_t)1 << 31};
	errno = 0;
	CHECK(goc_http_parser_new(&too_big) == NULL && errno == EINVAL, "limit over 1 GiB refused");
	goc_http_limits negative = {.max_body = -1};
	CHECK(goc_http_parser_new(&negative) == NULL && errno == EINVAL,
	      "negative body limit refused");
	ok("limits at their edges: 414, 431 (bytes and count), 413 (Content-Length and chunked)");
}

static void test_framing(void)
{
	transcript *t = parse_str("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
	CHECK(strstr(t->text, "cl=5") && strstr(t->text, "BODY hello\nDONE"), "%s", t->text);
	t = parse_str(
		"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
	CHECK(t->requests == 1, "identical duplicate Content-Length: %s", t->text);
	t = parse_str("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5 , 5\r\n\r\nhello");
	CHECK(t->requests == 1, "identical Content-Length list: %s", t->text);
	expect_status(
		"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		NULL, 400);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello!", NULL,
		      400);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", NULL, 400);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", NULL, 400);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", NULL, 400);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\nhello", NULL, 400);
	/* request smuggling */
	expect_status(
		"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		NULL, 400);
	expect_status(
		"POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		NULL, 400);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		      NULL, 400);
	expect_status(
		"POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		NULL, 400);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", NULL, 400);
	expect_status("POST /u HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", NULL, 400);
	/* codings we do not know */
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", NULL, 501);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		      NULL, 501);
	expect_status("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", NULL,
		      501);
	t = parse_str("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n");
	CHECK(t->requests == 1 && strstr(t->text, "cl=-1 chunked=1"),
	      "coding names ignore case: %s", t->text);
	ok("Content-Length, duplicates, CL+TE and TE smuggling guards, 501 for unknown codings");
}

static void test_chunked(void)
{
	const char *head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
	char in[1024];
	struct {
		const char *body;
		int status; /* 0: complete */
		const char *decoded;
	} cases[] = {
		{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, "hello world"},
		{"A\r\n0123456789\r\n0\r\n\r\n", 0, "0123456789"},
		{"00000000000000000000000003\r\nabc\r\n0\r\n\r\n", 0, "abc"},
		{"3;name=value;flag\r\nabc\r\n0;last\r\n\r\n", 0, "abc"},
		{"3 ;ext\r\nabc\r\n0\r\n\r\n", 0, "abc"},
		{"3;q=\"quoted;\"\r\nabc\r\n0\r\n\r\n", 0, "abc"},
		{"3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum: 1\r\n\r\n", 0, "abc"},
		{"0\r\n\r\n", 0, ""},
		{"\r\n", 400, NULL}, /* no size */
		{"g\r\n", 400, NULL},
		{"-1\r\n", 400, NULL},
		{"3 \r\nabc\r\n0\r\n\r\n", 400, NULL}, /* whitespace without an extension */
		{"3\nabc\r\n0\r\n\r\n", 400, NULL},    /* bare LF after the size */
		{"3\r\nabcd\r\n0\r\n\r\n", 400, NULL}, /* data longer than its size */
		{"3\r\nabc\n0\r\n\r\n", 400, NULL},
		{"3\r\nabc0\r\n\r\n", 400, NULL}, /* CRLF after the data missing */
		{"3;a\x01\r\nabc\r\n0\r\n\r\n", 400, NULL},
		{"0\r\n\r\r", 400, NULL},
		{"0\r\nX: y\n\r\n", 400, NULL},
		{"0\r\n folded: no\r\n\r\n", 400, NULL},
		{"0\r\nX : y\r\n\r\n", 400, NULL},
		{"0\r\nX: a\x7f\r\n\r\n", 400, NULL},
		{"ffffffffffffffffffffffff\r\n", 413, NULL}, /* huge hex: refused at its digits */
		{"FFFFFFFFFFFFFFFF\r\n", 413, NULL},
		{"a00001\r\n", 413, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(in, sizeof in, "%s%s", head, cases[i].body);
		transcript *t = parse_str(in);
		CHECK(t->status == cases[i].status, "case %zu: status %d, want %d\n%s", i,
		      t->status, cases[i].status, t->text);
		if (cases[i].decoded) {
			char want[128];
			snprintf(want, sizeof want, "BODY %s\nDONE\n", cases[i].decoded);
			CHECK(t->requests == 1 && strstr(t->text, want), "case %zu decoded:\n%s", i,
			      t->text);
		}
	}
	/* an unfinished body waits for more rather than failing */
	transcript *t = parse_str(
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
	CHECK(t->status == 0 && t->requests == 0 && strstr(t->text, "BODY hel"), "%s", t->text);
	/* a chunk-size line's extensions are bounded */
	static char long_ext[8192];
	size_t n = (size_t)snprintf(long_ext, sizeof long_ext, "%s1;", head);
	memset(long_ext + n, 'x', 5000);
	expect_status(long_ext, NULL, 400);
	/* trailers share the header budget */
	goc_http_limits l = {.max_header_bytes = 80, .max_headers = 4};
	expect_status(
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
		&l, 431);
	expect_status(
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 12345678901234567890123456789012345678901234567890\r\n\r\n",
		&l, 431);
	ok("chunked: sizes, extensions, trailers, last chunk, missing CRLFs, huge sizes");
}

static void test_pipelining(void)
{
	const char *in =
		"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
		"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
		"POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
		"GET /4 HTTP/1.0\r\n\r\n"
		"GET /5 HTT";
	transcript *t = parse_str(in);
	CHECK(t->requests == 4 && t->status == 0, "%s", t->text);
	CHECK(strstr(t->text, "[/2]") && strstr(t->text, "BODY abc\nDONE") &&
		      strstr(t->text, "BODY de\nDONE") && strstr(t->text, "[/4]") &&
		      !strstr(t->text, "[/5]"),
	      "%s", t->text);
	/* an error in the second request leaves the first intact */
	t = parse_str("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
	CHECK(t->requests == 1 && t->status == 400, "%s", t->text);

	/* a parser grown by one big request serves the next small one */
	goc_http_parser *p = goc_http_parser_new(NULL);
	static char big[60000];
	size_t n = (size_t)snprintf(big, sizeof big, "GET /big HTTP/1.1\r\nHost: h\r\n");
	for (int i = 0; i < 90; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "X-%d: %0500d\r\n", i, i);
	n += (size_t)snprintf(big + n, sizeof big - n,
			      "\r\nGET /small HTTP/1.1\r\nHost: h\r\n\r\n");
	size_t pos = 0, used;
	goc_http_str body;
	CHECK(goc_http_parser_feed(p, big, n, &used, &body) == GOC_HTTP_HEAD, "big head");
	CHECK(goc_http_parser_request(p)->header_count == 91, "91 fields");
	goc_http_str v = goc_http_request_header(goc_http_parser_request(p), "x-89");
	CHECK(v.len == 500 && v.ptr[499] == '9', "last big field");
	pos += used;
	CHECK(goc_http_parser_feed(p, big + pos, n - pos, &used, &body) == GOC_HTTP_DONE, "done");
	CHECK(goc_http_parser_feed(p, big + pos, n - pos, &used, &body) == GOC_HTTP_HEAD,
	      "small head");
	CHECK(goc_http_parser_request(p)->header_count == 1, "fields reset");
	CHECK(goc_http_request_header(goc_http_parser_request(p), "x-1").ptr == NULL,
	      "old fields gone");
	goc_http_parser_free(p);
	ok("pipelining: several requests per buffer, errors after a good request, buffers reused");
}

static void test_connection(void)
{
	struct {
		const char *in;
		int keep_alive, expect_continue;
	} cases[] = {
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1, 0},
		{"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0, 0},
		{"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", 0, 0},
		{"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", 1, 0},
		{"GET / HTTP/1.0\r\n\r\n", 0, 0},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1, 0},
		{"GET / HTTP/1.0\r\nConnection: x, Keep-Alive\r\n\r\n", 1, 0},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 0, 0},
		{"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		 1, 1},
		{"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
		 1, 1},
		{"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", 0, 0},
		{"POST / HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\nContent-Length: 1\r\n\r\nx",
		 1, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		transcript *t = parse_str(cases[i].in);
		char want[64];
		snprintf(want, sizeof want, "ka=%d continue=%d", cases[i].keep_alive,
			 cases[i].expect_continue);
		CHECK(t->requests == 1 && strstr(t->text, want), "case %zu: want %s\n%s", i, want,
		      t->text);
	}
	ok("keep-alive for HTTP/1.0 and 1.1, Connection lists, Expect: 100-continue");
}

/* ---- responses ---------------------------------------------------------------- */

/* Builds a head with the date of the second it was built in (retrying
 * across a second boundary) and compares it with want, where "%D" stands
 * for that date. */
static void check_head(int status, const char *const *fields, int minor, int64_t length,
		       bool keep_alive, const char *want, bool want_chunked, bool want_keep_alive)
{
	for (;;) {
		char before[GOC_HTTP_DATE_SIZE], after[GOC_HTTP_DATE_SIZE], buf[512], expected[512];
		goc_http_date(before);
		goc_http_head h;
		goc_http_head_begin(&h, buf, sizeof buf, status);
		for (size_t i = 0; fields && fields[i]; i += 2)
			CHECK(goc_http_head_add(&h, fields[i], fields[i + 1]), "add %s", fields[i]);
		size_t n = goc_http_head_end(&h, minor, length, keep_alive);
		goc_http_date(after);
		if (strcmp(before, after) != 0)
			continue;
		const char *mark = strstr(want, "%D");
		CHECK(mark, "want has a date");
		snprintf(expected, sizeof expected, "%.*s%s%s", (int)(mark - want), want, before,
			 mark + 2);
		CHECK(n == strlen(expected) && memcmp(buf, expected, n) == 0,
		      "head\n%.*s\nwant\n%s", (int)n, buf, expected);
		CHECK(h.chunked == want_chunked && h.keep_alive == want_keep_alive, "flags of %d",
		      status);
		return;
	}
}

static void test_response_head(void)
{
	const char *const plain[] = {"Content-Type", "text/plain", NULL};
	check_head(
		200, plain, 1, 5, true,
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: %D\r\n\r\n",
		false, true);
	check_head(
		404, NULL, 1, 0, false,
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\nDate: %D\r\n\r\n",
		false, false);
	check_head(
		200, plain, 1, -1, true,
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nDate: %D\r\n\r\n",
		true, true);
	check_head(200, NULL, 0, -1, true,
		   "HTTP/1.1 200 OK\r\nConnection: close\r\nDate: %D\r\n\r\n", false, false);
	check_head(
		200, NULL, 0, 12, true,
		"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: keep-alive\r\nDate: %D\r\n\r\n",
		false, true);
	check_head(204, NULL, 1, -1, true, "HTTP/1.1 204 No Content\r\nDate: %D\r\n\r\n", false,
		   true);
	check_head(304, NULL, 1, 100, false,
		   "HTTP/1.1 304 Not Modified\r\nConnection: close\r\nDate: %D\r\n\r\n", false,
		   false);
	check_head(599, NULL, 1, 0, true, "HTTP/1.1 599 \r\nContent-Length: 0\r\nDate: %D\r\n\r\n",
		   false, true);
	check_head(7, NULL, 1, 0, true,
		   "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nDate: %D\r\n\r\n",
		   false, true);
	check_head(201, NULL, 1, 1234567890123, true,
		   "HTTP/1.1 201 Created\r\nContent-Length: 1234567890123\r\nDate: %D\r\n\r\n",
		   false, true);

	char buf[256];
	goc_http_head h;
	goc_http_head_begin(&h, buf, sizeof buf, 100);
	CHECK(goc_http_head_end(&h, 1, -1, true) == strlen(GOC_HTTP_CONTINUE) &&
		      memcmp(buf, GOC_HTTP_CONTINUE, h.len) == 0,
	      "100 Continue: %.*s", (int)h.len, buf);

	goc_http_head_begin(&h, buf, sizeof buf, 200);
	size_t before = h.len;
	CHECK(!goc_http_head_add(&h, "X-Bad", "a\r\nSet-Cookie: x"), "CRLF in a value");
	CHECK(!goc_http_head_add(&h, "X-Bad", "a\nb"), "LF in a value");
	CHECK(!goc_http_head_add(&h, "X Bad", "v"), "space in a name");
	CHECK(!goc_http_head_add(&h, "X:Bad", "v"), "colon in a name");
	CHECK(!goc_http_head_add(&h, "", "v"), "empty name");
	CHECK(!goc_http_head_add(&h, "content-length", "5"), "Content-Length is end's");
	CHECK(!goc_http_head_add(&h, "Transfer-Encoding", "chunked"), "Transfer-Encoding is end's");
	CHECK(!goc_http_head_add(&h, "Connection", "close"), "Connection is end's");
	CHECK(!goc_http_head_add(&h, "DATE", "x"), "Date is end's");
	CHECK(h.len == before && !h.overflow, "refusals write nothing");
	CHECK(goc_http_head_add(&h, "X-Ok", "tab\tand \xc3\xa9"), "tab and obs-text are fine");

	char small[40];
	goc_http_head_begin(&h, small, sizeof small, 200);
	CHECK(goc_http_head_add(&h, "A", "b"), "fits");
	CHECK(!goc_http_head_add(&h, "X-Long", "0123456789012345678901234567890") && h.overflow,
	      "overflow");
	CHECK(goc_http_head_end(&h, 1, 0, true) == 0, "an overflowed head ends with 0");
	goc_http_head_begin(&h, small, 10, 200);
	CHECK(h.overflow && goc_http_head_end(&h, 1, 0, true) == 0, "no room for the status line");
	ok("response heads byte for byte: framing, Connection, 1xx/204/304, refusals, overflow");
}

static void test_response_pieces(void)
{
	CHECK(strcmp(goc_http_status_text(200), "OK") == 0, "200");
	CHECK(strcmp(goc_http_status_text(413), "Content Too Large") == 0, "413");
	CHECK(strcmp(goc_http_status_text(414), "URI Too Long") == 0, "414");
	CHECK(strcmp(goc_http_status_text(431), "Request Header Fields Too Large") == 0, "431");
	CHECK(strcmp(goc_http_status_text(501), "Not Implemented") == 0, "501");
	CHECK(strcmp(goc_http_status_text(505), "HTTP Version Not Supported") == 0, "505");
	CHECK(strcmp(goc_http_status_text(299), "") == 0, "unknown");

	char d[GOC_HTTP_DATE_SIZE];
	struct {
		int64_t t;
		const char *s;
	} dates[] = {
		{0, "Thu, 01 Jan 1970 00:00:00 GMT"},
		{784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
		{951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
		{1709251199, "Thu, 29 Feb 2024 23:59:59 GMT"},
		{4102444800, "Fri, 01 Jan 2100 00:00:00 GMT"},
		{253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
	};
	for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
		CHECK(goc_http_date_format(dates[i].t, d) == 29 && strcmp(d, dates[i].s) == 0,
		      "%lld: %s", (long long)dates[i].t, d);
	}
	CHECK(goc_http_date(d) == 29 && strlen(d) == 29 && strcmp(d + 25, " GMT") == 0, "now: %s",
	      d);

	char prefix[GOC_HTTP_CHUNK_PREFIX_SIZE];
	CHECK(goc_http_chunk_prefix(prefix, 1) == 3 && memcmp(prefix, "1\r\n", 3) == 0, "1");
	CHECK(goc_http_chunk_prefix(prefix, 255) == 4 && memcmp(prefix, "ff\r\n", 4) == 0, "255");
	CHECK(goc_http_chunk_prefix(prefix, 4096) == 6 && memcmp(prefix, "1000\r\n", 6) == 0,
	      "4096");
	CHECK(goc_http_chunk_prefix(prefix, SIZE_MAX) == 18 &&
		      memcmp(prefix, "ffffffffffffffff\r\n", 18) == 0,
	      "max");
	struct iovec iov[3];
	CHECK(goc_http_chunk_iov(iov, prefix, "hello", 0) == 0, "an empty chunk is not written");
	CHECK(goc_http_chunk_iov(iov, prefix, "hello", 5) == 3, "three pieces");
	char chunk[32];
	size_t n = 0;
	for (int i = 0; i < 3; i++) {
		memcpy(chunk + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	CHECK(n == 10 && memcmp(chunk, "5\r\nhello\r\n", 10) == 0, "chunk bytes");

	/* a chunked response body written with these pieces parses back */
	char request[128];
	size_t head = (size_t)snprintf(
		request, sizeof request,
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
	memcpy(request + head, chunk, n);
	memcpy(request + head + n, GOC_HTTP_LAST_CHUNK, 5);
	transcript *t = parse_everywhere(request, head + n + 5, NULL);
	CHECK(t->requests == 1 && strstr(t->text, "BODY hello\nDONE"), "%s", t->text);

	char buf[256], date[GOC_HTTP_DATE_SIZE], want[256];
	for (;;) {
		goc_http_date(date);
		n = goc_http_error_response(buf, sizeof buf, 431);
		char again[GOC_HTTP_DATE_SIZE];
		goc_http_date(again);
		if (strcmp(date, again) == 0)
			break;
	}
	snprintf(
		want, sizeof want,
		"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: 32\r\nConnection: close\r\nDate: %s\r\n\r\nRequest Header Fields Too Large\n",
		date);
	CHECK(n == strlen(want) && memcmp(buf, want, n) == 0, "error response\n%.*s", (int)n, buf);
	CHECK(goc_http_error_response(buf, 60, 400) == 0, "error response overflow");
	ok("reason phrases, dates, chunk framing, error response");
}

int main(void)
{
	test_simple_get();
	test_targets_and_versions();
	test_target_forms_and_host();
	test_malformed();
	test_limits();
	test_framing();
	test_chunked();
	test_pipelining();
	test_connection();
	test_response_head();
	test_response_pieces();
	return 0;
}
