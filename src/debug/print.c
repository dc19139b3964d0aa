/*
 * print.c — formatting into a fixed buffer without malloc or stdio, so crash
 * reports can be written from signal handlers and from a broken heap. A
 * buffer with a FILE * (goc_dump's) flushes through stdio instead.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../sched/runtime.h"

static void put(goc__buf *b, const char *s, size_t n)
{
	while (n > 0) {
		size_t room = sizeof b->data - b->len;
		if (room == 0) {
			goc__buf_flush(b);
			room = sizeof b->data;
		}
		size_t k = n < room ? n : room;
		memcpy(b->data + b->len, s, k);
		b->len += k;
		s += k;
		n -= k;
	}
}

void goc__buf_str(goc__buf *b, const char *s)
{
	put(b, s, strlen(s));
}

void goc__buf_int(goc__buf *b, int64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	put(b, tmp + i, sizeof tmp - i);
}

void goc__buf_hex(goc__buf *b, uint64_t v)
{
	char tmp[18];
	size_t i = sizeof tmp;
	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	put(b, tmp + i, sizeof tmp - i);
}

void goc__buf_flush(goc__buf *b)
{
	if (b->file) {
		fwrite(b->data, 1, b->len, b->file);
		b->len = 0;
		return;
	}
	const char *p = b->data;
	size_t n = b->len;
	while (n > 0) {
		ssize_t w = write(b->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		n -= (size_t)w;
	}
	b->len = 0;
}
