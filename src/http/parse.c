/*
 * parse.c — the incremental HTTP/1.1 message parser (RFC 9112): requests
 * for the server, and responses for the client (response mode, set by
 * goc__http_parser_expect_response before each response: a status line in
 * place of the request line, the framing rules of responses, and a body
 * that may run to the connection's end).
 *
 *   feed --> head, line by line: empty lines skipped, the request line,
 *            field lines up to the empty line, then the framing decision  --> HEAD
 *        --> body: Content-Length bytes passed through, or chunked framing
 *            read byte by byte with the chunk data passed through        --> BODY ...
 *        --> complete                                                     --> DONE
 *            the next feed resets the parser for the next request
 *
 * Invariants:
 *  - head[0..head_len) is the current request's head as received, CRLFs
 *    included; head[line_start..head_len) is the line still waiting for
 *    its LF. A line is examined only when its LF has arrived; before that
 *    the only check is on its length so far, which only grows. So every
 *    line gets the same verdict however the input was split (the fuzz
 *    target checks this).
 *  - head_len <= max_request_line + 2 + max_header_bytes, and both limits
 *    are at most 1 GiB, so 32-bit offsets into head suffice. head moves
 *    (realloc) only while the head is incomplete; the request view's
 *    pointers are made when it completes and stay valid until the reset
 *    that starts the next request.
 *  - fields[0..field_count) are the field lines of the head, as offsets.
 *  - body_total <= max_body at all times: a Content-Length over the limit
 *    is refused with the head, a chunk size as soon as its digits say so.
 *  - header_bytes <= max_header_bytes; trailers count in it too.
 *  - ST_ERROR is final: status and error say why.
 *  - ST_BODY_EOF (responses only) is left only by the connection's end,
 *    which the caller sees; such a response never keeps the connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define HEAD_INITIAL_CAP 1024
#define FIELDS_INITIAL_CAP 16
#define LIMIT_CEILING ((size_t)1 << 30)
/* Chunk extensions are skipped, not stored; this bounds a chunk-size line
 * with its extensions all the same. */
#define CHUNK_LINE_MAX 4096

/* Token characters are visible too; hex digits are token characters. */
#define VISIBLE (HTTP_FIELD_VCHAR | HTTP_TARGET)
#define TOKEN (HTTP_TCHAR | VISIBLE)
#define HEX (HTTP_HEXDIG | TOKEN)
const uint8_t goc__http_char_class[256] = {
	['!'] = TOKEN,
	['"'] = VISIBLE,
	['#' ... '\''] = TOKEN,
	['(' ... ')'] = VISIBLE,
	['*' ... '+'] = TOKEN,
	[','] = VISIBLE,
	['-' ... '.'] = TOKEN,
	['/'] = VISIBLE,
	['0' ... '9'] = HEX,
	[':' ... '@'] = VISIBLE,
	['A' ... 'F'] = HEX,
	['G' ... 'Z'] = TOKEN,
	['[' ... ']'] = VISIBLE,
	['^' ... '`'] = TOKEN,
	['a' ... 'f'] = HEX,
	['g' ... 'z'] = TOKEN,
	['{'] = VISIBLE,
	['|'] = TOKEN,
	['}'] = VISIBLE,
	['~'] = TOKEN,
	[0x80 ... 0xff] = HTTP_FIELD_VCHAR, /* obs-text */
};
#undef VISIBLE
#undef TOKEN
#undef HEX

enum parse_state {
	ST_REQUEST_LINE,     /* accumulating the request line (empty lines before it skipped) */
	ST_FIELD_LINE,       /* accumulating field lines up to the empty one */
	ST_BODY_LENGTH,      /* body_remaining bytes of a Content-Length body to pass */
	ST_BODY_EOF,         /* a response body delimited by the connection's end */
	ST_CHUNK_SIZE_FIRST, /* the first hex digit of a chunk size */
	ST_CHUNK_SIZE,       /* more hex digits, or what ends them */
	ST_CHUNK_SIZE_WS,    /* whitespace after the size: a ';' must follow */
	ST_CHUNK_EXT,        /* extensions, skipped up to CR */
	ST_CHUNK_SIZE_LF,    /* the LF ending the size line */
	ST_CHUNK_DATA,       /* body_remaining bytes of chunk data to pass */
	ST_CHUNK_DATA_CR,    /* the CRLF after chunk data */
	ST_CHUNK_DATA_LF,
	ST_TRAILER_START, /* a trailer field's first byte, or the CR of the final empty line */
	ST_TRAILER_NAME,
	ST_TRAILER_VALUE,
	ST_TRAILER_LF,
	ST_TRAILER_END_LF, /* the LF of the final empty line */
	ST_MESSAGE_END,    /* the request is complete; DONE not reported yet */
	ST_NEXT,           /* DONE reported: the next byte is the next request's */
	ST_ERROR,
};

/* A field line of the head, as offsets into head. */
typedef struct field {
	uint32_t name_off, name_len;
	uint32_t value_off, value_len; /* without surrounding whitespace */
} field;

struct goc_http_parser {
	/* First member: the header lookups reach the parser from the view. */
	goc_http_request request;

	/* Kept from request to request. */
	goc_http_limits limits;
	size_t head_max; /* max_request_line + 2 + max_header_bytes */
	char *head;
	size_t head_cap;
	field *fields;
	size_t field_cap;
	bool response_mode; /* parsing responses (the client's parser) */
	bool head_request;  /* the response answers a HEAD request: no body */

	/* Everything from here on belongs to the current request and is
	 * zeroed between requests (ST_REQUEST_LINE is 0). */
	enum parse_state state;
	size_t head_len;
	size_t line_start;
	size_t header_bytes; /* field lines done (CRLF included), the empty line, trailers */
	size_t field_count;
	size_t trailer_count;
	size_t trailer_line_len; /* bytes of the trailer line being read */
	size_t chunk_line_len;   /* bytes of the chunk-size line being read */

	/* The request line, as offsets into head (it starts at 0); for a
	 * response, the status line's code and reason phrase. */
	uint32_t method_len, target_off, target_len;
	int minor_version;
	int response_status;
	uint32_t reason_off, reason_len;

	/* What the fields said, gathered as they arrive and judged when the
	 * head is complete. */
	bool has_content_length;
	uint64_t content_length; /* saturated at UINT64_MAX */
	bool has_transfer_encoding;
	bool transfer_coding_unknown;
	bool chunked_last; /* the last coding seen is chunked */
	int chunked_count;
	bool connection_close, connection_keep_alive;
	bool expects_continue;
	int host_count;

	uint64_t body_remaining; /* of the Content-Length body, or of the chunk */
	uint64_t body_total;     /* decoded body bytes so far */
	uint64_t chunk_size;

	int status; /* after an error */
	const char *error;
};

typedef struct cursor {
	const unsigned char *data;
	size_t pos, len;
} cursor;

static bool fail(goc_http_parser *p, int status, const char *why)
{
	p->state = ST_ERROR;
	p->status = status;
	p->error = why;
	return false;
}

static size_t limit_or_default(size_t value, size_t fallback)
{
	return value ? value : fallback;
}

goc_http_parser *goc_http_parser_new(const goc_http_limits *limits)
{
	goc_http_limits l = limits ? *limits : (goc_http_limits){0};
	l.max_request_line =
		limit_or_default(l.max_request_line, GOC_HTTP_DEFAULT_MAX_REQUEST_LINE);
	l.max_header_bytes =
		limit_or_default(l.max_header_bytes, GOC_HTTP_DEFAULT_MAX_HEADER_BYTES);
	l.max_headers = limit_or_default(l.max_headers, GOC_HTTP_DEFAULT_MAX_HEADERS);
	if (l.max_body == 0)
		l.max_body = GOC_HTTP_DEFAULT_MAX_BODY;
	if (l.max_request_line > LIMIT_CEILING || l.max_header_bytes > LIMIT_CEILING ||
	    l.max_headers > LIMIT_CEILING || l.max_body < 0) {
		errno = EINVAL;
		return NULL;
	}
	goc_http_parser *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->limits = l;
	p->head_max = l.max_request_line + 2 + l.max_header_bytes;
	p->head_cap = HEAD_INITIAL_CAP < p->head_max ? HEAD_INITIAL_CAP : p->head_max;
	p->field_cap = FIELDS_INITIAL_CAP < l.max_headers ? FIELDS_INITIAL_CAP : l.max_headers;
	p->head = malloc(p->head_cap);
	p->fields = malloc(p->field_cap * sizeof *p->fields);
	if (!p->head || !p->fields) {
		goc_http_parser_free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->state = ST_REQUEST_LINE;
	return p;
}

void goc_http_parser_free(goc_http_parser *p)
{
	if (!p)
		return;
	free(p->head);
	free(p->fields);
	free(p);
}

/* Forgets the previous request; keeps the buffers and limits. */
static void reset_for_next_request(goc_http_parser *p)
{
	size_t from = offsetof(goc_http_parser, state);
	memset((char *)p + from, 0, sizeof *p - from);
	memset(&p->request, 0, sizeof p->request);
}

/* ---- the head, line by line ---------------------------------------------- */

enum line_result { LINE_PARTIAL, LINE_COMPLETE, LINE_TOO_LONG, LINE_NO_MEMORY };

static bool head_reserve(goc_http_parser *p, size_t needed)
{
	if (needed <= p->head_cap)
		return true;
	size_t cap = p->head_cap * 2;
	if (cap < needed)
		cap = needed;
	if (cap > p->head_max)
		cap = p->head_max;
	char *grown = realloc(p->head, cap);
	if (!grown)
		return false;
	p->head = grown;
	p->head_cap = cap;
	return true;
}

/*
 * Moves input up to and including the next LF into the head. A line
 * (LF included) longer than max_with_lf is refused as soon as its length
 * so far proves it will be: pending bytes plus the LF still to come.
 */
static enum line_result take_line(goc_http_parser *p, cursor *c, size_t max_with_lf)
{
	const unsigned char *from = c->data + c->pos;
	size_t avail = c->len - c->pos;
	const unsigned char *lf = memchr(from, '\n', avail);
	size_t take = lf ? (size_t)(lf - from) + 1 : avail;
	size_t line_len = p->head_len - p->line_start + take + (lf ? 0 : 1);
	if (line_len > max_with_lf)
		return LINE_TOO_LONG;
	if (!head_reserve(p, p->head_len + take))
		return LINE_NO_MEMORY;
	memcpy(p->head + p->head_len, from, take);
	p->head_len += take;
	c->pos += take;
	return lf ? LINE_COMPLETE : LINE_PARTIAL;
}

static bool is_ows(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

/* RFC 3986's unreserved and sub-delims: the bytes of a reg-name besides
 * percent-encodings. */
static bool is_reg_name_char(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("-._~!$&'()*+,;=", ch) != NULL;
}

/*
 * Whether s[0..n) is an authority without userinfo: uri-host [":" port]
 * (RFC 9112 3.2, RFC 3986 3.2.2), the host a reg-name (percent-encodings
 * checked), an IPv4 address, or an IP-literal in brackets. An empty host
 * is allowed only when host_required is false (a Host field for a target
 * without authority); port_required is CONNECT's authority-form.
 */
static bool valid_authority(const char *s, size_t n, bool host_required, bool port_required)
{
	size_t i = 0;
	if (n > 0 && s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!is_reg_name_char((unsigned char)s[i]) && s[i] != ':')
				return false;
		if (i == n || i == 1)
			return false;
		i++;
	} else {
		while (i < n && s[i] != ':') {
			if (s[i] == '%') {
				if (n - i < 3 || !http_is((unsigned char)s[i + 1], HTTP_HEXDIG) ||
				    !http_is((unsigned char)s[i + 2], HTTP_HEXDIG))
					return false;
				i += 3;
			} else if (is_reg_name_char((unsigned char)s[i])) {
				i++;
			} else {
				return false;
			}
		}
		if (i == 0 && host_required)
			return false;
	}
	if (i == n)
		return !port_required;
	if (s[i++] != ':' || (port_required && i == n))
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Where the authority of an absolute-form target begins (after
 * "scheme://"), or 0 when target does not start with a scheme and "//". */
static size_t authority_start(const char *target, size_t len)
{
	size_t i = 0;
	if (len == 0 || !((target[0] | 0x20) >= 'a' && (target[0] | 0x20) <= 'z'))
		return 0;
	while (i < len &&
	       (http_is((unsigned char)target[i], HTTP_HEXDIG) ||
		((target[i] | 0x20) >= 'a' && (target[i] | 0x20) <= 'z') || target[i] == '+' ||
		target[i] == '-' || target[i] == '.'))
		i++;
	if (len - i < 3 || memcmp(target + i, "://", 3) != 0)
		return 0;
	return i + 3;
}

/* Where the authority starting at target[from] ends: the path, the query or
 * the end. A request-target carries no fragment (RFC 9112 3.2), so '#' is
 * not a delimiter here: it stays in the authority, which then fails
 * valid_authority ("http://h#x" is a 400, not a request for path "#x"). */
static size_t authority_end(const char *target, size_t len, size_t from)
{
	while (from < len && target[from] != '/' && target[from] != '?')
		from++;
	return from;
}

/*
 * RFC 9112 3.2: CONNECT takes the authority-form ("host:port") and nothing
 * else; "*" is OPTIONS's alone; every other request is in origin-form
 * ("/path?query") or absolute-form ("http://host/path"), whose host may
 * not be empty (RFC 9110 4.2.1) nor carry userinfo.
 */
static bool target_form_allowed(const char *method, size_t method_len, const char *target,
				size_t len)
{
	if (method_len == 7 && memcmp(method, "CONNECT", 7) == 0)
		return valid_authority(target, len, true, true);
	if (target[0] == '/')
		return true;
	if (target[0] == '*')
		return len == 1 && method_len == 7 && memcmp(method, "OPTIONS", 7) == 0;
	size_t start = authority_start(target, len);
	if (start == 0)
		return false;
	return valid_authority(target + start, authority_end(target, len, start) - start, true,
			       false);
}

/* "HTTP/1.x" at line[0..8): the minor version, or -1. */
static int http_version(const unsigned char *v)
{
	if (memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
	    v[7] > '9')
		return -1;
	return v[7] - '0';
}

/* status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] (RFC 9112 4);
 * the SP before an empty reason may be missing, as Go's client accepts. */
static bool status_line(goc_http_parser *p, size_t n)
{
	const unsigned char *line = (const unsigned char *)p->head;
	if (n < 12 || http_version(line) < 0 || line[8] != ' ')
		return fail(p, 400, "malformed status line");
	if (line[5] != '1')
		return fail(p, 505, "unsupported HTTP version");
	int status = 0;
	for (size_t i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return fail(p, 400, "malformed status code");
		status = status * 10 + (line[i] - '0');
	}
	if (status < 100)
		return fail(p, 400, "malformed status code");
	if (n > 12 && line[12] != ' ')
		return fail(p, 400, "malformed status line");
	for (size_t i = 13; i < n; i++)
		if (!http_is(line[i], HTTP_FIELD_VCHAR) && !is_ows(line[i]))
			return fail(p, 400, "control character in the reason phrase");
	p->minor_version = http_version(line);
	p->response_status = status;
	p->reason_off = n > 12 ? 13 : 12;
	p->reason_len = (uint32_t)(n - p->reason_off);
	return true;
}

static bool request_line(goc_http_parser *p, size_t n)
{
	const unsigned char *line = (const unsigned char *)p->head;
	size_t i = 0;
	while (i < n && http_is(line[i], HTTP_TCHAR))
		i++;
	if (i == 0 || i == n || line[i] != ' ')
		return fail(p, 400, "malformed method");
	p->method_len = (uint32_t)i;
	size_t target = ++i;
	while (i < n && http_is(line[i], HTTP_TARGET))
		i++;
	if (i == target || i == n || line[i] != ' ')
		return fail(p, 400, "malformed request target");
	p->target_off = (uint32_t)target;
	p->target_len = (uint32_t)(i - target);
	const unsigned char *version = line + i + 1;
	if (n - i - 1 != 8 || http_version(version) < 0)
		return fail(p, 400, "malformed HTTP version");
	if (version[5] != '1')
		return fail(p, 505, "unsupported HTTP version");
	p->minor_version = version[7] - '0';
	if (!target_form_allowed((const char *)line, p->method_len,
				 (const char *)line + p->target_off, p->target_len))
		return fail(p, 400, "request target of the wrong form for the method");
	return true;
}

/* The next non-empty element of the comma-separated list v[0..n) from
 * *pos on, without surrounding whitespace; false at the end. */
static bool next_list_element(const char *v, size_t n, size_t *pos, const char **elem,
			      size_t *elem_len)
{
	size_t i = *pos;
	for (;;) {
		while (i < n && (is_ows((unsigned char)v[i]) || v[i] == ','))
			i++;
		if (i == n) {
			*pos = i;
			return false;
		}
		size_t start = i;
		while (i < n && v[i] != ',')
			i++;
		size_t end = i;
		while (end > start && is_ows((unsigned char)v[end - 1]))
			end--;
		*elem = v + start;
		*elem_len = end - start;
		*pos = i;
		return true;
	}
}

/* Content-Length: 1*DIGIT, or a comma-separated list of identical ones
 * (RFC 9110 8.6); every value of every Content-Length field must agree. */
static bool content_length_field(goc_http_parser *p, const char *v, size_t n)
{
	size_t i = 0;
	for (;;) {
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
		size_t start = i;
		uint64_t value = 0;
		for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
			unsigned digit = (unsigned)(v[i] - '0');
			value = value > (UINT64_MAX - 9) / 10 ? UINT64_MAX : value * 10 + digit;
		}
		if (i == start)
			return fail(p, 400, "malformed Content-Length");
		if (p->has_content_length && value != p->content_length)
			return fail(p, 400, "conflicting Content-Length");
		p->has_content_length = true;
		p->content_length = value;
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
		if (i == n)
			return true;
		if (v[i++] != ',')
			return fail(p, 400, "malformed Content-Length");
	}
}

static void transfer_encoding_field(goc_http_parser *p, const char *v, size_t n)
{
	size_t pos = 0;
	const char *coding;
	size_t len;
	p->has_transfer_encoding = true;
	while (next_list_element(v, n, &pos, &coding, &len)) {
		p->chunked_last = http_name_equals(coding, len, "chunked");
		if (p->chunked_last)
			p->chunked_count++;
		else
			p->transfer_coding_unknown = true;
	}
}

static void connection_field(goc_http_parser *p, const char *v, size_t n)
{
	size_t pos = 0;
	const char *option;
	size_t len;
	while (next_list_element(v, n, &pos, &option, &len)) {
		if (http_name_equals(option, len, "close"))
			p->connection_close = true;
		else if (http_name_equals(option, len, "keep-alive"))
			p->connection_keep_alive = true;
	}
}

/* Notes what the fields that decide framing and connection handling say. */
static bool interpret_field(goc_http_parser *p, const char *name, size_t name_len, const char *v,
			    size_t n)
{
	switch (name_len) {
	case 4:
		if (p->response_mode || !http_name_equals(name, name_len, "host"))
			return true;
		p->host_count++;
		if (!valid_authority(v, n, false, false))
			return fail(p, 400, "invalid Host");
		return true;
	case 6:
		if (http_name_equals(name, name_len, "expect") &&
		    http_name_equals(v, n, "100-continue"))
			p->expects_continue = true;
		return true;
	case 10:
		if (http_name_equals(name, name_len, "connection"))
			connection_field(p, v, n);
		return true;
	case 14:
		if (http_name_equals(name, name_len, "content-length"))
			return content_length_field(p, v, n);
		return true;
	case 17:
		if (http_name_equals(name, name_len, "transfer-encoding"))
			transfer_encoding_field(p, v, n);
		return true;
	default:
		return true;
	}
}

/* The field line at head[off..off+n) (CRLF excluded). */
static bool field_line(goc_http_parser *p, size_t off, size_t n)
{
	const unsigned char *line = (const unsigned char *)p->head + off;
	if (is_ows(line[0]))
		return fail(p, 400, "obs-fold or whitespace before a field name");
	size_t i = 0;
	while (i < n && http_is(line[i], HTTP_TCHAR))
		i++;
	if (i == 0 || i == n || line[i] != ':')
		return fail(p, 400, "malformed field name");
	size_t name_len = i++;
	while (i < n && is_ows(line[i]))
		i++;
	size_t value = i, end = n;
	while (end > value && is_ows(line[end - 1]))
		end--;
	for (size_t j = value; j < end; j++)
		if (!http_is(line[j], HTTP_FIELD_VCHAR) && !is_ows(line[j]))
			return fail(p, 400, "control character in a field value");
	if (p->field_count == p->limits.max_headers)
		return fail(p, 431, "too many header fields");
	if (p->field_count == p->field_cap) {
		size_t cap = p->field_cap * 2 < p->limits.max_headers ? p->field_cap * 2
								      : p->limits.max_headers;
		field *grown = realloc(p->fields, cap * sizeof *grown);
		if (!grown)
			return fail(p, 503, "out of memory");
		p->fields = grown;
		p->field_cap = cap;
	}
	p->fields[p->field_count++] = (field){
		.name_off = (uint32_t)off,
		.name_len = (uint32_t)name_len,
		.value_off = (uint32_t)(off + value),
		.value_len = (uint32_t)(end - value),
	};
	return interpret_field(p, (const char *)line, name_len, (const char *)line + value,
			       end - value);
}

static void build_request_view(goc_http_parser *p)
{
	goc_http_request *r = &p->request;
	const char *target = p->head + p->target_off;
	size_t len = p->target_len;
	r->method = (goc_http_str){p->head, p->method_len};
	r->target = (goc_http_str){target, len};
	const char *question = memchr(target, '?', len);
	size_t before_query = question ? (size_t)(question - target) : len;
	if (question)
		r->query = (goc_http_str){question + 1, len - before_query - 1};
	r->path = (goc_http_str){target, before_query};
	/* CONNECT's authority may begin with '*' (a sub-delim of a reg-name):
	 * the method, not the first byte, tells it from OPTIONS *. */
	bool connect = p->method_len == 7 && memcmp(p->head, "CONNECT", 7) == 0;
	if (connect || (target[0] != '/' && target[0] != '*')) {
		size_t start = authority_start(target, len);
		/* absolute-form ("http://host/p"): the path follows the authority,
		 * and an empty one is "/" (RFC 9112 3.2.2); authority-form
		 * ("host:443") has none. */
		size_t path = start ? authority_end(target, before_query, start) : before_query;
		r->path = (goc_http_str){target + path, before_query - path};
		if (start && path == before_query)
			r->path = (goc_http_str){"/", 1};
	}
	r->minor_version = p->minor_version;
	r->header_count = p->field_count;
}

/* The framing both kinds of message share: chunked when
 * Transfer-Encoding was given (its codings checked), else Content-Length
 * when given (checked against the body limit); false after a refusal.
 * *framed says whether either was given. */
static bool frame_body(goc_http_parser *p, bool *framed)
{
	goc_http_request *r = &p->request;
	*framed = true;
	if (p->has_transfer_encoding) {
		if (p->transfer_coding_unknown)
			return fail(p, 501, "unsupported transfer coding");
		if (p->chunked_count != 1 || !p->chunked_last)
			return fail(p, 400, "chunked is not the last coding, once");
		r->chunked = true;
		r->content_length = -1;
		p->state = ST_CHUNK_SIZE_FIRST;
	} else if (p->has_content_length) {
		if (p->content_length > (uint64_t)p->limits.max_body)
			return fail(p, 413, "Content-Length over the body limit");
		r->content_length = (int64_t)p->content_length;
		p->body_remaining = p->content_length;
		p->state = p->content_length ? ST_BODY_LENGTH : ST_MESSAGE_END;
	} else {
		*framed = false;
	}
	return true;
}

/* A response's framing (RFC 9112 6.3): none for HEAD, 1xx, 204 and 304;
 * Transfer-Encoding (chunked last) over Content-Length, which it makes the
 * connection unfit for reuse; else Content-Length; else the connection's
 * end. */
static bool finish_response_head(goc_http_parser *p)
{
	goc_http_request *r = &p->request;
	int status = p->response_status;
	bool keep_alive =
		!p->connection_close && (p->minor_version >= 1 || p->connection_keep_alive);
	r->content_length = 0;
	if (status < 200 || status == 204 || status == 304 || p->head_request) {
		if (p->head_request && p->has_content_length && !p->has_transfer_encoding)
			r->content_length =
				p->content_length > INT64_MAX ? -1 : (int64_t)p->content_length;
		else if (p->head_request)
			r->content_length = -1;
		p->state = ST_MESSAGE_END;
		if (status == 101)
			keep_alive = false;
	} else {
		bool framed;
		if (!frame_body(p, &framed))
			return false;
		if (!framed) {
			r->content_length = -1;
			p->state = ST_BODY_EOF;
		}
		if (!framed || (p->has_transfer_encoding && p->has_content_length))
			keep_alive = false;
	}
	r->keep_alive = keep_alive;
	r->minor_version = p->minor_version;
	r->header_count = p->field_count;
	return true;
}

/* The empty line has arrived: judges the framing (RFC 9112 6.3) and the
 * connection's fate. */
static bool finish_head(goc_http_parser *p)
{
	if (p->response_mode)
		return finish_response_head(p);
	goc_http_request *r = &p->request;
	bool http11 = p->minor_version >= 1;
	if (http11 && p->host_count == 0)
		return fail(p, 400, "missing Host");
	if (p->host_count > 1)
		return fail(p, 400, "more than one Host");
	if (p->has_transfer_encoding) {
		if (!http11)
			return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
		if (p->has_content_length)
			return fail(p, 400, "both Content-Length and Transfer-Encoding");
	}
	bool framed;
	if (!frame_body(p, &framed))
		return false;
	if (!framed)
		p->state = ST_MESSAGE_END;
	r->keep_alive = !p->connection_close && (http11 || p->connection_keep_alive);
	r->expect_continue = http11 && p->expects_continue;
	build_request_view(p);
	return true;
}

/* Reads head lines; true when the head is complete, false when the input
 * ran out or the request was refused (state ST_ERROR). */
static bool read_head(goc_http_parser *p, cursor *c)
{
	while (c->pos < c->len) {
		bool request = p->state == ST_REQUEST_LINE;
		size_t max_with_lf = request ? p->limits.max_request_line + 2
					     : p->limits.max_header_bytes - p->header_bytes;
		switch (take_line(p, c, max_with_lf)) {
		case LINE_PARTIAL:
			return false;
		case LINE_TOO_LONG:
			return request ? fail(p, 414, "start line too long")
				       : fail(p, 431, "header section too large");
		case LINE_NO_MEMORY:
			return fail(p, 503, "out of memory");
		case LINE_COMPLETE:
			break;
		}
		size_t start = p->line_start, with_lf = p->head_len - start;
		if (with_lf < 2 || p->head[p->head_len - 2] != '\r')
			return fail(p, 400, "line not ended by CRLF");
		size_t n = with_lf - 2;
		p->line_start = p->head_len;
		if (request) {
			if (n == 0) {
				p->head_len = p->line_start = 0;
				continue;
			}
			if (!(p->response_mode ? status_line(p, n) : request_line(p, n)))
				return false;
			p->state = ST_FIELD_LINE;
			continue;
		}
		p->header_bytes += with_lf;
		if (n == 0)
			return finish_head(p);
		if (!field_line(p, start, n))
			return false;
	}
	return false;
}

/* ---- chunked framing, byte by byte ------------------------------------------ */

static int hex_value(unsigned char ch)
{
	if (ch <= '9')
		return ch - '0';
	return http_ascii_lower(ch) - 'a' + 10;
}

static bool is_ctl(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/* One byte of a chunk-size line. */
static bool chunk_size_byte(goc_http_parser *p, unsigned char ch)
{
	if (++p->chunk_line_len > CHUNK_LINE_MAX)
		return fail(p, 400, "chunk-size line too long");
	switch (p->state) {
	case ST_CHUNK_SIZE_FIRST:
	case ST_CHUNK_SIZE:
		if (http_is(ch, HTTP_HEXDIG)) {
			uint64_t room = (uint64_t)p->limits.max_body - p->body_total;
			uint64_t digit = (uint64_t)hex_value(ch);
			if (digit > room || p->chunk_size > (room - digit) / 16)
				return fail(p, 413, "chunked body over the body limit");
			p->chunk_size = p->chunk_size * 16 + digit;
			p->state = ST_CHUNK_SIZE;
		} else if (p->state == ST_CHUNK_SIZE_FIRST) {
			return fail(p, 400, "malformed chunk size");
		} else if (ch == '\r') {
			p->state = ST_CHUNK_SIZE_LF;
		} else if (ch == ';') {
			p->state = ST_CHUNK_EXT;
		} else if (is_ows(ch)) {
			p->state = ST_CHUNK_SIZE_WS;
		} else {
			return fail(p, 400, "malformed chunk size");
		}
		return true;
	case ST_CHUNK_SIZE_WS:
		if (ch == ';')
			p->state = ST_CHUNK_EXT;
		else if (!is_ows(ch))
			return fail(p, 400, "malformed chunk extension");
		return true;
	case ST_CHUNK_EXT:
		if (ch == '\r')
			p->state = ST_CHUNK_SIZE_LF;
		else if (is_ctl(ch))
			return fail(p, 400, "control character in a chunk extension");
		return true;
	default: /* ST_CHUNK_SIZE_LF */
		if (ch != '\n')
			return fail(p, 400, "chunk-size line not ended by CRLF");
		p->chunk_line_len = 0;
		if (p->chunk_size == 0) {
			p->state = ST_TRAILER_START;
			return true;
		}
		p->body_remaining = p->chunk_size;
		p->body_total += p->chunk_size;
		p->chunk_size = 0;
		p->state = ST_CHUNK_DATA;
		return true;
	}
}

/* One byte of the trailer section (fields are checked, then dropped). */
static bool trailer_byte(goc_http_parser *p, unsigned char ch)
{
	p->trailer_line_len++;
	size_t line_with_lf = p->trailer_line_len + (ch == '\n' ? 0 : 1);
	if (p->header_bytes + line_with_lf > p->limits.max_header_bytes)
		return fail(p, 431, "trailer section too large");
	switch (p->state) {
	case ST_TRAILER_START:
		if (ch == '\r')
			p->state = ST_TRAILER_END_LF;
		else if (http_is(ch, HTTP_TCHAR))
			p->state = ST_TRAILER_NAME;
		else
			return fail(p, 400, "malformed trailer field");
		return true;
	case ST_TRAILER_NAME:
		if (ch == ':')
			p->state = ST_TRAILER_VALUE;
		else if (!http_is(ch, HTTP_TCHAR))
			return fail(p, 400, "malformed trailer field");
		return true;
	case ST_TRAILER_VALUE:
		if (ch == '\r')
			p->state = ST_TRAILER_LF;
		else if (!http_is(ch, HTTP_FIELD_VCHAR) && !is_ows(ch))
			return fail(p, 400, "control character in a trailer value");
		return true;
	case ST_TRAILER_LF:
		if (ch != '\n')
			return fail(p, 400, "trailer line not ended by CRLF");
		if (p->field_count + ++p->trailer_count > p->limits.max_headers)
			return fail(p, 431, "too many trailer fields");
		p->header_bytes += p->trailer_line_len;
		p->trailer_line_len = 0;
		p->state = ST_TRAILER_START;
		return true;
	default: /* ST_TRAILER_END_LF */
		if (ch != '\n')
			return fail(p, 400, "chunked body not ended by CRLF");
		p->header_bytes += p->trailer_line_len;
		p->state = ST_MESSAGE_END;
		return true;
	}
}

static bool chunk_data_end_byte(goc_http_parser *p, unsigned char ch)
{
	if (p->state == ST_CHUNK_DATA_CR) {
		if (ch != '\r')
			return fail(p, 400, "chunk data not followed by CRLF");
		p->state = ST_CHUNK_DATA_LF;
		return true;
	}
	if (ch != '\n')
		return fail(p, 400, "chunk data not followed by CRLF");
	p->state = ST_CHUNK_SIZE_FIRST;
	return true;
}

/* Reads framing bytes until chunk data, the end of the message, an error
 * or the end of the input (false only then). */
static bool read_chunk_framing(goc_http_parser *p, cursor *c)
{
	while (c->pos < c->len) {
		unsigned char ch = c->data[c->pos++];
		bool ok;
		/* The framing states are declared in this order: size line,
		 * data's CRLF, trailers. */
		if (p->state <= ST_CHUNK_SIZE_LF)
			ok = chunk_size_byte(p, ch);
		else if (p->state <= ST_CHUNK_DATA_LF)
			ok = chunk_data_end_byte(p, ch);
		else
			ok = trailer_byte(p, ch);
		if (!ok || p->state == ST_CHUNK_DATA || p->state == ST_MESSAGE_END)
			return true;
	}
	return false;
}

/* ---- feeding ---------------------------------------------------------------- */

static goc_http_event pass_body(goc_http_parser *p, cursor *c, goc_http_str *body)
{
	if (c->pos == c->len)
		return GOC_HTTP_NEED_MORE;
	size_t avail = c->len - c->pos;
	size_t n = avail;
	if (p->state == ST_BODY_EOF) {
		/* Bytes up to the limit pass, so that the verdict does not
		 * depend on how the input was split. */
		uint64_t room = (uint64_t)p->limits.max_body - p->body_total;
		if (room == 0) {
			fail(p, 413, "body over the body limit");
			return GOC_HTTP_ERROR;
		}
		if (n > room)
			n = (size_t)room;
		p->body_total += n;
	} else if (p->body_remaining < avail) {
		n = (size_t)p->body_remaining;
	}
	*body = (goc_http_str){(const char *)c->data + c->pos, n};
	c->pos += n;
	if (p->state == ST_BODY_EOF)
		return GOC_HTTP_BODY;
	p->body_remaining -= n;
	if (p->body_remaining == 0)
		p->state = p->state == ST_BODY_LENGTH ? ST_MESSAGE_END : ST_CHUNK_DATA_CR;
	return GOC_HTTP_BODY;
}

static goc_http_event step(goc_http_parser *p, cursor *c, goc_http_str *body)
{
	for (;;) {
		switch (p->state) {
		case ST_ERROR:
			return GOC_HTTP_ERROR;
		case ST_NEXT:
			reset_for_next_request(p);
			continue;
		case ST_REQUEST_LINE:
		case ST_FIELD_LINE:
			if (read_head(p, c))
				return GOC_HTTP_HEAD;
			return p->state == ST_ERROR ? GOC_HTTP_ERROR : GOC_HTTP_NEED_MORE;
		case ST_BODY_LENGTH:
		case ST_BODY_EOF:
		case ST_CHUNK_DATA:
			return pass_body(p, c, body);
		case ST_MESSAGE_END:
			p->state = ST_NEXT;
			return GOC_HTTP_DONE;
		default:
			if (!read_chunk_framing(p, c))
				return GOC_HTTP_NEED_MORE;
			continue;
		}
	}
}

goc_http_event goc_http_parser_feed(goc_http_parser *p, const char *data, size_t len,
				    size_t *consumed, goc_http_str *body)
{
	cursor c = {(const unsigned char *)data, 0, data ? len : 0};
	*body = (goc_http_str){NULL, 0};
	goc_http_event ev = step(p, &c, body);
	*consumed = c.pos;
	return ev;
}

const goc_http_request *goc_http_parser_request(const goc_http_parser *p)
{
	return &p->request;
}

int goc_http_parser_status(const goc_http_parser *p)
{
	return p->status;
}

const char *goc_http_parser_error(const goc_http_parser *p)
{
	return p->error ? p->error : "";
}

bool goc_http_parser_between_requests(const goc_http_parser *p)
{
	return p->state == ST_NEXT || (p->state == ST_REQUEST_LINE && p->head_len == 0);
}

void goc__http_parser_expect_response(goc_http_parser *p, bool head_request)
{
	p->response_mode = true;
	p->head_request = head_request;
}

int goc__http_parser_response_status(const goc_http_parser *p, goc_http_str *reason)
{
	if (reason)
		*reason = (goc_http_str){p->head + p->reason_off, p->reason_len};
	return p->response_status;
}

bool goc__http_parser_body_to_eof(const goc_http_parser *p)
{
	return p->state == ST_BODY_EOF;
}

/* ---- header lookup ----------------------------------------------------------- */

static bool same_name(const char *a, size_t a_len, const char *b)
{
	size_t i = 0;
	for (; i < a_len && b[i]; i++)
		if (http_ascii_lower((unsigned char)a[i]) != http_ascii_lower((unsigned char)b[i]))
			return false;
	return i == a_len && b[i] == '\0';
}

goc_http_str goc_http_request_header(const goc_http_request *r, const char *name)
{
	const goc_http_parser *p = (const goc_http_parser *)r;
	for (size_t i = 0; i < r->header_count; i++) {
		const field *f = &p->fields[i];
		if (same_name(p->head + f->name_off, f->name_len, name))
			return (goc_http_str){p->head + f->value_off, f->value_len};
	}
	return (goc_http_str){NULL, 0};
}

bool goc_http_request_header_at(const goc_http_request *r, size_t i, goc_http_str *name,
				goc_http_str *value)
{
	const goc_http_parser *p = (const goc_http_parser *)r;
	if (i >= r->header_count)
		return false;
	const field *f = &p->fields[i];
	*name = (goc_http_str){p->head + f->name_off, f->name_len};
	*value = (goc_http_str){p->head + f->value_off, f->value_len};
	return true;
}
