/*
 * response.c — response heads in a caller's buffer, chunk framing, reason
 * phrases and the canned refusal the server sends with a parse error.
 *
 * Invariants of a goc_http_head:
 *  - buf[0..len) is always a prefix of a well-formed head: each append
 *    either fits whole or is not made (and a lack of room sets overflow,
 *    after which nothing more is appended and end returns 0);
 *  - every header line in it was checked (a token name, a value without
 *    CR, LF or other control characters), so a handler cannot inject a
 *    header or end the head early;
 *  - the framing headers (Content-Length, Transfer-Encoding), Connection
 *    and Date appear only once, written by goc_http_head_end, which is
 *    why goc_http_head_add refuses them.
 */
#include <string.h>

#include "http.h"

const char *goc_http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 102:
		return "Processing";
	case 103:
		return "Early Hints";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 203:
		return "Non-Authoritative Information";
	case 204:
		return "No Content";
	case 205:
		return "Reset Content";
	case 206:
		return "Partial Content";
	case 207:
		return "Multi-Status";
	case 208:
		return "Already Reported";
	case 226:
		return "IM Used";
	case 300:
		return "Multiple Choices";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 305:
		return "Use Proxy";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 402:
		return "Payment Required";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 407:
		return "Proxy Authentication Required";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 411:
		return "Length Required";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Range Not Satisfiable";
	case 417:
		return "Expectation Failed";
	case 421:
		return "Misdirected Request";
	case 422:
		return "Unprocessable Content";
	case 423:
		return "Locked";
	case 424:
		return "Failed Dependency";
	case 425:
		return "Too Early";
	case 426:
		return "Upgrade Required";
	case 428:
		return "Precondition Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 451:
		return "Unavailable For Legal Reasons";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	case 506:
		return "Variant Also Negotiates";
	case 507:
		return "Insufficient Storage";
	case 508:
		return "Loop Detected";
	case 511:
		return "Network Authentication Required";
	default:
		return "";
	}
}

/* Appends n bytes whole, or sets overflow. */
static bool append(goc_http_head *h, const void *bytes, size_t n)
{
	if (h->overflow || h->cap - h->len < n) {
		h->overflow = true;
		return false;
	}
	memcpy(h->buf + h->len, bytes, n);
	h->len += n;
	return true;
}

static size_t decimal(char *out, uint64_t value)
{
	char digits[20];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	for (size_t i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	return n;
}

/* Appends "name: value\r\n" whole, or sets overflow. */
static bool append_field(goc_http_head *h, const char *name, size_t name_len, const char *value,
			 size_t value_len)
{
	if (h->overflow || h->cap - h->len < name_len + value_len + 4) {
		h->overflow = true;
		return false;
	}
	return append(h, name, name_len) && append(h, ": ", 2) && append(h, value, value_len) &&
		append(h, "\r\n", 2);
}

void goc_http_head_begin(goc_http_head *h, char *buf, size_t cap, int status)
{
	if (status < 100 || status > 999)
		status = 500;
	*h = (goc_http_head){.buf = buf, .cap = cap, .status = status};
	const char *reason = goc_http_status_text(status);
	size_t reason_len = strlen(reason);
	char code[3] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
			(char)('0' + status % 10)};
	if (cap < 9 + 3 + 1 + reason_len + 2) {
		h->overflow = true;
		return;
	}
	append(h, "HTTP/1.1 ", 9);
	append(h, code, 3);
	append(h, " ", 1);
	append(h, reason, reason_len);
	append(h, "\r\n", 2);
}

/* Names goc_http_head_end writes itself. */
static bool written_by_end(const char *name, size_t n)
{
	return http_name_equals(name, n, "content-length") ||
		http_name_equals(name, n, "transfer-encoding") ||
		http_name_equals(name, n, "connection") || http_name_equals(name, n, "date");
}

bool goc_http_head_add(goc_http_head *h, const char *name, const char *value)
{
	size_t name_len = 0, value_len = 0;
	for (; name[name_len]; name_len++)
		if (!http_is((unsigned char)name[name_len], HTTP_TCHAR))
			return false;
	for (; value[value_len]; value_len++) {
		unsigned char ch = (unsigned char)value[value_len];
		if (!http_is(ch, HTTP_FIELD_VCHAR) && ch != ' ' && ch != '\t')
			return false;
	}
	if (name_len == 0 || written_by_end(name, name_len))
		return false;
	return append_field(h, name, name_len, value, value_len);
}

size_t goc_http_head_end(goc_http_head *h, int minor_version, int64_t content_length,
			 bool keep_alive)
{
	bool interim = h->status < 200;
	bool body_allowed = !interim && h->status != 204 && h->status != 304;
	h->chunked = false;
	if (body_allowed) {
		if (content_length >= 0) {
			char digits[20];
			append_field(h, "Content-Length", 14, digits,
				     decimal(digits, (uint64_t)content_length));
		} else if (minor_version >= 1) {
			append_field(h, "Transfer-Encoding", 17, "chunked", 7);
			h->chunked = true;
		} else {
			keep_alive = false; /* the body ends where the connection does */
		}
	}
	if (!interim) {
		if (!keep_alive)
			append_field(h, "Connection", 10, "close", 5);
		else if (minor_version == 0)
			append_field(h, "Connection", 10, "keep-alive", 10);
		char date[GOC_HTTP_DATE_SIZE];
		append_field(h, "Date", 4, date, goc_http_date(date));
	}
	h->keep_alive = keep_alive;
	append(h, "\r\n", 2);
	return h->overflow ? 0 : h->len;
}

size_t goc_http_chunk_prefix(char out[GOC_HTTP_CHUNK_PREFIX_SIZE], size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t digits = 1;
	while (digits < 16 && (n >> (4 * digits)) != 0)
		digits++;
	for (size_t i = 0; i < digits; i++)
		out[i] = hex[(n >> (4 * (digits - 1 - i))) & 15];
	out[digits] = '\r';
	out[digits + 1] = '\n';
	return digits + 2;
}

int goc_http_chunk_iov(struct iovec iov[3], char prefix_buf[GOC_HTTP_CHUNK_PREFIX_SIZE],
		       const void *data, size_t n)
{
	if (n == 0)
		return 0;
	iov[0] = (struct iovec){prefix_buf, goc_http_chunk_prefix(prefix_buf, n)};
	iov[1] = (struct iovec){(void *)data, n};
	iov[2] = (struct iovec){(void *)"\r\n", 2};
	return 3;
}

size_t goc_http_error_response(char *buf, size_t cap, int status)
{
	goc_http_head h;
	goc_http_head_begin(&h, buf, cap, status);
	const char *reason = goc_http_status_text(h.status);
	size_t reason_len = strlen(reason);
	goc_http_head_add(&h, "Content-Type", "text/plain; charset=utf-8");
	if (goc_http_head_end(&h, 1, (int64_t)reason_len + 1, false) == 0)
		return 0;
	if (!append(&h, reason, reason_len) || !append(&h, "\n", 1))
		return 0;
	return h.len;
}
