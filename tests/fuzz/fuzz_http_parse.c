/*
 * fuzz_http_parse.c — libFuzzer target for the HTTP/1.1 request parser
 * and the response head writer (src/http/).
 *
 * Input: byte 0 picks the limits (the defaults, or small ones so that
 * every limit is reached), byte 1 seeds the split points (low 6 bits) and
 * picks requests or responses (the client's response mode; bit 7), to a
 * HEAD request or not (bit 6); the rest is what a client (or a server)
 * sent. The bytes are parsed three ways: all at once, one byte at
 * a time, and in pieces of pseudo-random sizes. Checked:
 *  - the three transcripts (request heads with their fields, decoded body
 *    bytes, completions, the final status) are identical;
 *  - no feed consumes more than it was given, every BODY view lies inside
 *    the input, and the parser always makes progress;
 *  - every accepted request respects the limits (request line, field
 *    count, header bytes, Content-Length and decoded body size), and every
 *    refusal carries one of the documented statuses;
 *  - a response header the writer accepts holds no CR or LF, and the head
 *    it ends is parsed back as a well-formed response head.
 * ASan and UBSan watch the memory and arithmetic throughout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "../../src/http/http.h"

#define REQUIRE(cond)                                                                       \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_http_parse: %s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                                     \
			abort();                                                            \
		}                                                                           \
	} while (0)

typedef struct transcript {
	char *bytes;
	size_t len, cap;
} transcript;

static void put(transcript *t, const void *bytes, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2;
		t->bytes = realloc(t->bytes, t->cap);
		REQUIRE(t->bytes);
	}
	if (n)
		memcpy(t->bytes + t->len, bytes, n);
	t->len += n;
}

static void put_view(transcript *t, goc_http_str s)
{
	uint64_t len = s.ptr ? s.len : UINT64_MAX;
	put(t, &len, sizeof len);
	if (s.ptr)
		put(t, s.ptr, s.len);
}

static void put_int(transcript *t, int64_t value)
{
	put(t, &value, sizeof value);
}

/* Byte 0 of the input: the defaults (0), small limits (1), tiny ones (2),
 * or limits made of the byte's other bits (3); a zero means the default. */
static bool same_transcript(const transcript *a, const transcript *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
}

static goc_http_limits limits_chosen(uint8_t selector)
{
	switch (selector & 3) {
	case 0:
		return (goc_http_limits){0};
	case 1:
		return (goc_http_limits){.max_request_line = 64,
					 .max_header_bytes = 256,
					 .max_headers = 8,
					 .max_body = 1024};
	case 2:
		return (goc_http_limits){.max_request_line = 16,
					 .max_header_bytes = 40,
					 .max_headers = 2,
					 .max_body = 7};
	default:
		return (goc_http_limits){.max_request_line = 1 + (selector >> 2),
					 .max_header_bytes = 1 + (selector >> 2) * 4,
					 .max_headers = 1 + (selector >> 5),
					 .max_body = selector >> 3};
	}
}

/* The limits the parser applies for a selector: zero fields at their
 * defaults. */
static goc_http_limits limits_applied(uint8_t selector)
{
	goc_http_limits l = limits_chosen(selector);
	if (!l.max_request_line)
		l.max_request_line = GOC_HTTP_DEFAULT_MAX_REQUEST_LINE;
	if (!l.max_header_bytes)
		l.max_header_bytes = GOC_HTTP_DEFAULT_MAX_HEADER_BYTES;
	if (!l.max_headers)
		l.max_headers = GOC_HTTP_DEFAULT_MAX_HEADERS;
	if (!l.max_body)
		l.max_body = GOC_HTTP_DEFAULT_MAX_BODY;
	return l;
}

static void check_request(const goc_http_request *r, const goc_http_limits *l)
{
	size_t line = r->method.len + 1 + r->target.len + 1 + 8;
	REQUIRE(line <= l->max_request_line);
	REQUIRE(r->header_count <= l->max_headers);
	REQUIRE(r->content_length <= l->max_body);
	REQUIRE(r->chunked == (r->content_length == -1));
	REQUIRE(r->minor_version >= 0 && r->minor_version <= 9);
	size_t header_bytes = 2;
	goc_http_str name, value;
	for (size_t i = 0; goc_http_request_header_at(r, i, &name, &value); i++) {
		REQUIRE(name.len > 0 && name.ptr && value.ptr);
		REQUIRE(!memchr(value.ptr, '\r', value.len) && !memchr(value.ptr, '\n', value.len));
		header_bytes += name.len + 1 + value.len + 2;
	}
	REQUIRE(r->minor_version == 0 || goc_http_request_header(r, "host").ptr);
	REQUIRE(header_bytes <= l->max_header_bytes);
	/* The path lies in the target, except absolute-form's empty one: "/". */
	REQUIRE((r->path.ptr >= r->target.ptr &&
		 r->path.ptr + r->path.len <= r->target.ptr + r->target.len) ||
		(r->path.len == 1 && r->path.ptr[0] == '/' && r->target.ptr[0] != '/'));
	/* The target's form fits the method (RFC 9112 3.2). */
	bool connect = r->method.len == 7 && memcmp(r->method.ptr, "CONNECT", 7) == 0;
	bool options = r->method.len == 7 && memcmp(r->method.ptr, "OPTIONS", 7) == 0;
	if (connect)
		REQUIRE(r->path.len == 0 && memchr(r->target.ptr, ':', r->target.len));
	else if (r->target.ptr[0] == '*')
		REQUIRE(options && r->target.len == 1);
	else
		REQUIRE(r->path.len > 0 && r->path.ptr[0] == '/');
	/* An accepted Host holds no byte outside uri-host [":" port]. */
	goc_http_str host = goc_http_request_header(r, "host");
	for (size_t i = 0; host.ptr && i < host.len; i++)
		REQUIRE(host.ptr[i] > ' ' && host.ptr[i] < 0x7f &&
			!strchr("/?#@\"<>\\^`{|}", host.ptr[i]));
}

/* A head's fields, then the mark that the body follows. */
static void put_fields(transcript *t, const goc_http_request *r)
{
	goc_http_str name, value;
	for (size_t i = 0; goc_http_request_header_at(r, i, &name, &value); i++) {
		put_view(t, name);
		put_view(t, value);
	}
	put_int(t, 'B');
}

static bool documented_status(int status)
{
	return status == 400 || status == 413 || status == 414 || status == 431 || status == 501 ||
		status == 505 || status == 503;
}

/* A response head: a status line's code, the limits, the framing. */
static void check_response(goc_http_parser *p, const goc_http_limits *l, bool head_request)
{
	const goc_http_request *r = goc_http_parser_request(p);
	goc_http_str reason;
	int status = goc__http_parser_response_status(p, &reason);
	REQUIRE(status >= 100 && status <= 999);
	REQUIRE(reason.len + 13 <= l->max_request_line);
	REQUIRE(!memchr(reason.ptr, '\r', reason.len) && !memchr(reason.ptr, '\n', reason.len));
	REQUIRE(r->header_count <= l->max_headers);
	REQUIRE(r->content_length <= l->max_body || head_request);
	if (goc__http_parser_body_to_eof(p))
		REQUIRE(!r->keep_alive && r->content_length == -1 && !head_request);
	if (head_request || status < 200 || status == 204 || status == 304)
		REQUIRE(!r->chunked && !goc__http_parser_body_to_eof(p));
}

/* Parses data with the chosen limits (l: as applied) in pieces: mode 0
 * all at once, 1 byte by byte, 2 pseudo-random sizes from seed; as
 * responses when response (to HEAD when head_request). */
static void parse(const uint8_t *data, size_t len, const goc_http_limits *chosen,
		  const goc_http_limits *l, uint32_t seed, int mode, bool response,
		  bool head_request, transcript *t)
{
	goc_http_parser *p = goc_http_parser_new(chosen);
	REQUIRE(p);
	if (response)
		goc__http_parser_expect_response(p, head_request);
	size_t pos = 0, window = 0, stalls = 0;
	int64_t body_of_request = 0;
	uint32_t rng = seed * 2654435761u + 1;
	for (;;) {
		if (window == pos) {
			size_t piece = len - pos;
			if (mode == 1)
				piece = piece ? 1 : 0;
			else if (mode == 2 && piece) {
				rng = rng * 1103515245u + 12345u;
				piece = 1 + (rng >> 16) % (piece < 64 ? piece : 64);
			}
			window = pos + piece;
		}
		size_t used;
		goc_http_str body;
		goc_http_event ev = goc_http_parser_feed(p, (const char *)data + pos, window - pos,
							 &used, &body);
		REQUIRE(used <= window - pos);
		pos += used;
		stalls = used ? 0 : stalls + 1;
		REQUIRE(stalls < 3);
		if (ev == GOC_HTTP_HEAD && response) {
			const goc_http_request *r = goc_http_parser_request(p);
			check_response(p, l, head_request);
			goc_http_str reason;
			put_int(t, 'R');
			put_int(t, goc__http_parser_response_status(p, &reason));
			put_view(t, reason);
			put_int(t, r->minor_version);
			put_int(t, r->content_length);
			put_int(t, r->keep_alive * 2 + r->chunked);
			put_fields(t, r);
			body_of_request = 0;
		} else if (ev == GOC_HTTP_HEAD) {
			const goc_http_request *r = goc_http_parser_request(p);
			check_request(r, l);
			put_int(t, 'H');
			put_view(t, r->method);
			put_view(t, r->target);
			put_view(t, r->path);
			put_view(t, r->query);
			put_int(t, r->minor_version);
			put_int(t, r->content_length);
			put_int(t, r->keep_alive * 2 + r->expect_continue);
			put_fields(t, r);
			body_of_request = 0;
		} else if (ev == GOC_HTTP_BODY) {
			REQUIRE(body.len > 0);
			REQUIRE((const uint8_t *)body.ptr >= data &&
				(const uint8_t *)body.ptr + body.len <= data + len);
			body_of_request += (int64_t)body.len;
			REQUIRE(body_of_request <= l->max_body);
			REQUIRE(!response || !head_request);
			put(t, body.ptr, body.len);
		} else if (ev == GOC_HTTP_DONE) {
			const goc_http_request *r = goc_http_parser_request(p);
			REQUIRE(r->chunked || body_of_request == r->content_length ||
				(response && (head_request || r->content_length == 0)));
			put_int(t, 'D');
			if (response)
				goc__http_parser_expect_response(p, head_request);
		} else if (ev == GOC_HTTP_ERROR) {
			int status = goc_http_parser_status(p);
			REQUIRE(documented_status(status));
			REQUIRE(goc_http_parser_error(p)[0] != '\0');
			put_int(t, 'E');
			put_int(t, status);
			break;
		} else {
			REQUIRE(pos == window);
			if (pos == len)
				break;
		}
	}
	goc_http_parser_free(p);
}

/* A header taken from the input ("X-" and up to 29 bytes as its name, up
 * to 95 more as its value) is accepted only without CR or LF, and the
 * head around it ends at its first empty line: given a request line, the
 * parser reads it as one complete head. */
static void check_writer(const uint8_t *data, size_t len)
{
	char name[32] = "X-", value[96], buf[512];
	size_t name_len = len < sizeof name - 3 ? len : sizeof name - 3;
	memcpy(name + 2, data, name_len);
	name[2 + name_len] = '\0';
	size_t value_len = len - name_len < sizeof value - 1 ? len - name_len : sizeof value - 1;
	memcpy(value, data + name_len, value_len);
	value[value_len] = '\0';
	goc_http_head h;
	goc_http_head_begin(&h, buf, sizeof buf, 200 + (len % 400));
	if (goc_http_head_add(&h, name, value)) {
		REQUIRE(!strpbrk(name, "\r\n:") && !strpbrk(value, "\r\n"));
	}
	size_t n = goc_http_head_end(&h, (int)(len & 1), len % 3 == 0 ? -1 : (int64_t)len,
				     len % 5 != 0);
	REQUIRE(n > 0 && n == h.len && n <= sizeof buf);
	char request[600];
	static const char line[] = "GET / HTTP/1.1\r\n";
	const char *fields = (const char *)memchr(buf, '\n', n) + 1;
	size_t fields_len = n - (size_t)(fields - buf);
	memcpy(request, line, sizeof line - 1);
	memcpy(request + sizeof line - 1, "Host: h\r\n", 9);
	memcpy(request + sizeof line - 1 + 9, fields, fields_len);
	size_t request_len = sizeof line - 1 + 9 + fields_len;
	goc_http_parser *p = goc_http_parser_new(NULL);
	size_t used;
	goc_http_str body;
	goc_http_event ev = goc_http_parser_feed(p, request, request_len, &used, &body);
	REQUIRE(ev == GOC_HTTP_HEAD && used == request_len);
	goc_http_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	goc_http_limits chosen = limits_chosen(data[0]), limits = limits_applied(data[0]);
	uint32_t seed = data[1] & 63;
	bool response = data[1] & 128, head_request = data[1] & 64;
	data += 2;
	size -= 2;

	transcript whole = {0}, bytewise = {0}, pieces = {0};
	parse(data, size, &chosen, &limits, seed, 0, response, head_request, &whole);
	parse(data, size, &chosen, &limits, seed, 1, response, head_request, &bytewise);
	parse(data, size, &chosen, &limits, seed, 2, response, head_request, &pieces);
	REQUIRE(same_transcript(&whole, &bytewise));
	REQUIRE(same_transcript(&whole, &pieces));
	free(whole.bytes);
	free(bytewise.bytes);
	free(pieces.bytes);

	check_writer(data, size);
	return 0;
}
