/*
 * tracectx.c — W3C Trace Context (Level 1) for request tracing: the
 * traceparent and tracestate headers parsed and formatted, new traces and
 * child spans with random ids, and the trace context carried by a goc_ctx
 * (a value context owning its copy, under a key private to this file).
 *
 * Invariants: a goc_tracectx made or accepted here has nonzero trace and
 * span ids, flags of GOC_TRACE_SAMPLED or 0, and a state that is "" or a
 * valid, normalized tracestate of at most GOC_TRACESTATE_MAX bytes.
 */
#include <errno.h>
#include <string.h>

#include "../ctx/ctx.h"
#include "../prim/atomic.h"
#include "../prim/prim.h"

enum {
	TRACESTATE_MEMBERS_MAX = 32,
	TRACESTATE_MEMBER_LONG = 128, /* dropped first when the value is too long */
};

/* ---- random ids ---- */

static uint64_t rand_state; /* atomic; 0 until seeded */

/* splitmix64 over one shared counter: a fetch-add per id, no lock, and
 * distinct counter values give distinct outputs (the finalizer is a
 * bijection), so ids made in one process never repeat before 2^64 draws.
 * Seeded from the kernel, so processes do not share ids. */
static uint64_t rand64(void)
{
	uint64_t x = goc__load_relaxed(&rand_state);
	if (x == 0) {
		uint64_t seed = goc__prim_random64() | 1;
		goc__cas_relaxed(&rand_state, &x, seed);
	}
	x = goc__add_fetch_relaxed(&rand_state, 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void random_id(uint8_t *id, size_t n)
{
	do {
		for (size_t i = 0; i < n; i += 8) {
			uint64_t r = rand64();
			memcpy(id + i, &r, n - i < 8 ? n - i : 8);
		}
	} while (all_zero(id, n));
}

void goc_tracectx_new(goc_tracectx *out)
{
	random_id(out->trace_id, sizeof out->trace_id);
	random_id(out->span_id, sizeof out->span_id);
	out->flags = GOC_TRACE_SAMPLED;
	out->state[0] = 0;
}

void goc_tracectx_child(const goc_tracectx *parent, goc_tracectx *out)
{
	if (out != parent)
		*out = *parent;
	random_id(out->span_id, sizeof out->span_id);
}

/* ---- hex ---- */

static const char hexdigits[] = "0123456789abcdef";

static void hex_format(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[p[i] >> 4];
		out[2 * i + 1] = hexdigits[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* Lower-case hex only, as the spec requires. */
static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool hex_parse(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

void goc_tracectx_trace_id(const goc_tracectx *tc, char out[GOC_TRACE_ID_SIZE])
{
	hex_format(tc->trace_id, sizeof tc->trace_id, out);
}

void goc_tracectx_span_id(const goc_tracectx *tc, char out[GOC_SPAN_ID_SIZE])
{
	hex_format(tc->span_id, sizeof tc->span_id, out);
}

/* ---- traceparent ---- */

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2. */
enum { TRACEPARENT_LEN = GOC_TRACEPARENT_SIZE - 1 };

goc_status goc_traceparent_parse(const char *value, goc_tracectx *out)
{
	if (!value || !out)
		return -EINVAL;
	while (blank(*value))
		value++;
	size_t len = strlen(value);
	while (len > 0 && blank(value[len - 1]))
		len--;
	uint8_t version, flags;
	goc_tracectx tc;
	if (len < TRACEPARENT_LEN || !hex_parse(value, &version, 1) || version == 0xff ||
	    value[2] != '-' || !hex_parse(value + 3, tc.trace_id, 16) || value[35] != '-' ||
	    !hex_parse(value + 36, tc.span_id, 8) || value[52] != '-' ||
	    !hex_parse(value + 53, &flags, 1))
		return -EINVAL;
	/* Version 00 is exactly 55 characters; a later version may append
	 * fields, after a '-'. */
	if (len > TRACEPARENT_LEN && (version == 0 || value[TRACEPARENT_LEN] != '-'))
		return -EINVAL;
	if (all_zero(tc.trace_id, 16) || all_zero(tc.span_id, 8))
		return -EINVAL;
	memcpy(out->trace_id, tc.trace_id, 16);
	memcpy(out->span_id, tc.span_id, 8);
	out->flags = flags & GOC_TRACE_SAMPLED;
	out->state[0] = 0;
	return GOC_OK;
}

void goc_traceparent_format(const goc_tracectx *tc, char out[GOC_TRACEPARENT_SIZE])
{
	memcpy(out, "00-", 3);
	hex_format(tc->trace_id, 16, out + 3);
	out[35] = '-';
	hex_format(tc->span_id, 8, out + 36);
	out[52] = '-';
	uint8_t flags = tc->flags & GOC_TRACE_SAMPLED;
	hex_format(&flags, 1, out + 53);
}

/* ---- tracestate ---- */

static bool lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool key_char(char c)
{
	return lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

/* key = simple-key / multi-tenant-key
 * simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 * multi-tenant-key = tenant-id "@" system-id
 * tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 * system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" ) */
static bool valid_key(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);
	if (!at) {
		if (n < 1 || n > 256 || !lcalpha(k[0]))
			return false;
		for (size_t i = 1; i < n; i++)
			if (!key_char(k[i]))
				return false;
		return true;
	}
	size_t tenant = (size_t)(at - k), system = n - tenant - 1;
	if (tenant < 1 || tenant > 241 || system < 1 || system > 14 || !lcalpha(at[1]) ||
	    !(lcalpha(k[0]) || (k[0] >= '0' && k[0] <= '9')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (i != tenant && !key_char(k[i]))
			return false;
	return true;
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
 * nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
static bool valid_value(const char *v, size_t n)
{
	if (n < 1 || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

struct member {
	const char *at;
	size_t len, key_len;
};

/* The length of the kept members joined with ','. */
static size_t joined_len(const struct member *m, const bool *keep, int n)
{
	size_t len = 0;
	for (int i = 0; i < n; i++)
		if (keep[i])
			len += m[i].len + (len > 0);
	return len;
}

goc_status goc_tracestate_parse(const char *value, goc_tracectx *tc)
{
	if (!tc)
		return -EINVAL;
	tc->state[0] = 0;
	if (!value)
		return -EINVAL;
	struct member m[TRACESTATE_MEMBERS_MAX];
	int n = 0;
	for (const char *p = value;;) {
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		const char *b = p, *e = end;
		while (b < e && blank(*b))
			b++;
		while (e > b && blank(e[-1]))
			e--;
		if (b < e) { /* an empty member is allowed, and ignored */
			const char *eq = memchr(b, '=', (size_t)(e - b));
			if (!eq || n == TRACESTATE_MEMBERS_MAX || !valid_key(b, (size_t)(eq - b)) ||
			    !valid_value(eq + 1, (size_t)(e - eq - 1)))
				return -EINVAL;
			m[n] = (struct member){b, (size_t)(e - b), (size_t)(eq - b)};
			for (int i = 0; i < n; i++)
				if (m[i].key_len == m[n].key_len &&
				    !memcmp(m[i].at, b, m[n].key_len))
					return -EINVAL;
			n++;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	/* Too long: drop the long members, then members from the end. */
	bool keep[TRACESTATE_MEMBERS_MAX];
	for (int i = 0; i < n; i++)
		keep[i] = true;
	for (int i = 0; i < n && joined_len(m, keep, n) > GOC_TRACESTATE_MAX; i++)
		if (m[i].len > TRACESTATE_MEMBER_LONG)
			keep[i] = false;
	for (int i = n - 1; i >= 0 && joined_len(m, keep, n) > GOC_TRACESTATE_MAX; i--)
		keep[i] = false;
	size_t len = 0;
	for (int i = 0; i < n; i++)
		if (keep[i]) {
			if (len)
				tc->state[len++] = ',';
			memcpy(tc->state + len, m[i].at, m[i].len);
			len += m[i].len;
		}
	tc->state[len] = 0;
	return GOC_OK;
}

/* ---- in contexts ---- */

static const char trace_key; /* its address is the value key */

goc_ctx *goc_ctx_with_trace(goc_ctx *parent, const goc_tracectx *tc)
{
	if (!tc)
		goc__panic("goc_ctx_with_trace: NULL trace context");
	return goc__ctx_with_value_copy(parent, &trace_key, tc, sizeof *tc);
}

const goc_tracectx *goc_ctx_trace(goc_ctx *ctx)
{
	return goc_ctx_value(ctx, &trace_key);
}
