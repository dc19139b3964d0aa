/*
 * http.h — what the files of src/http share: the character classes of RFC
 * 9110/9112 and case-insensitive comparison of ASCII names.
 *
 * parse.c reads requests (and responses, for client.c), response.c writes response heads and chunk
 * framing, date.c formats and caches the Date header. None of them depends
 * on the scheduler or on sockets, so the fuzz target builds them alone.
 * server.c, the server loop over goc_conn and goroutines, is the one that
 * needs the runtime.
 */
#ifndef GOC_HTTP_HTTP_H
#define GOC_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc.h"

/* Bits of goc__http_char_class[c]. */
enum {
	HTTP_TCHAR = 1,       /* token character: names, methods, codings */
	HTTP_FIELD_VCHAR = 2, /* visible ASCII or obs-text (0x80-0xFF): field values */
	HTTP_TARGET = 4,      /* visible ASCII: the request-target */
	HTTP_HEXDIG = 8,
};

extern const uint8_t goc__http_char_class[256];

static inline bool http_is(unsigned char c, int class)
{
	return (goc__http_char_class[c] & class) != 0;
}

static inline unsigned char http_ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Whether s[0..n) equals the lower-case literal lower, ignoring ASCII case. */
static inline bool http_name_equals(const char *s, size_t n, const char *lower)
{
	size_t i = 0;
	for (; i < n; i++)
		if (lower[i] == '\0' ||
		    http_ascii_lower((unsigned char)s[i]) != (unsigned char)lower[i])
			return false;
	return lower[i] == '\0';
}

/* Response mode (the client's): the next message the parser reads is a
 * response, to a HEAD request when head_request (it then has no body).
 * Call between messages. The head's fields, version, content_length
 * (-1: chunked or to the connection's end; for HEAD: the declared length
 * or -1), chunked and keep_alive are in goc_http_parser_request's view;
 * goc__http_parser_response_status gives the status code and the reason
 * phrase, and goc__http_parser_body_to_eof says whether the body runs to
 * the connection's end (whose arrival completes it: the caller's to see). */
void goc__http_parser_expect_response(goc_http_parser *p, bool head_request);
int goc__http_parser_response_status(const goc_http_parser *p, goc_http_str *reason);
bool goc__http_parser_body_to_eof(const goc_http_parser *p);

/* What every HTTP server of the process counts (server.c), for
 * /debug/vars: open connections, accepted ones, and accepts that waited
 * because max_conns were open. */
typedef struct goc__http_counters {
	int64_t conns_open;
	int64_t conns_accepted;
	int64_t conn_limit_waits;
} goc__http_counters;

void goc__http_counters_read(goc__http_counters *out);

#endif
