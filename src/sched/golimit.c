/*
 * golimit.c — the cap on live goroutines; see golimit.h.
 *
 * The count is goc_num_goroutine(): the sum over Ps of created - exited,
 * plus goroutines spawned by plain threads. Every spawn admitted while a
 * cap is set increments one of those counters before it releases
 * limit_lock, so the sum read under the lock includes every admitted
 * goroutine. Exits decrement without the lock and can only make the sum
 * too high for a moment, never too low: the cap is never exceeded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golimit.h"
#include "runtime.h"

int64_t goc_golimit_max;

static goc_lock limit_lock = GOC_LOCK_INIT;

bool goc_golimit_enter(void)
{
	goc_lock_acquire(&limit_lock);
	int64_t cap = __atomic_load_n(&goc_golimit_max, __ATOMIC_RELAXED);
	if (cap == 0 || goc_num_goroutine() < cap)
		return true;
	goc_lock_release(&limit_lock);
	errno = EAGAIN;
	return false;
}

void goc_golimit_leave(void)
{
	goc_lock_release(&limit_lock);
}

int64_t goc_set_max_goroutines(int64_t n)
{
	if (n < 0)
		return __atomic_load_n(&goc_golimit_max, __ATOMIC_RELAXED);
	return __atomic_exchange_n(&goc_golimit_max, n, __ATOMIC_RELAXED);
}

/* Applies one "maxgoroutines=" setting: the text after '=', len bytes. */
static void apply_setting(const char *value, size_t len)
{
	char *end;
	errno = 0;
	long long n = strtoll(value, &end, 10);
	if (errno || end == value || (size_t)(end - value) != len || n < 0) {
		fprintf(stderr, "goc: ignoring GOCDEBUG maxgoroutines=%.*s: want an integer >= 0\n",
			(int)len, value);
		return;
	}
	goc_set_max_goroutines(n);
}

void goc_golimit_init_from_env(void)
{
	static const char key[] = "maxgoroutines=";
	const size_t key_len = sizeof key - 1;
	int saved_errno = errno;
	const char *s = getenv("GOCDEBUG");
	while (s && *s) {
		size_t len = strcspn(s, ",");
		if (len >= key_len && strncmp(s, key, key_len) == 0)
			apply_setting(s + key_len, len - key_len);
		s += len;
		if (*s == ',')
			s++;
	}
	errno = saved_errno;
}
