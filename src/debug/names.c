/*
 * names.c — the words goc prints for its enums and its results
 * (goc_strerror).
 */
#define _GNU_SOURCE /* strerrordesc_np */
#include "../sched/runtime.h"

#include <limits.h>
#include <string.h>

const char *goc_strerror(int code)
{
	switch (code) {
	case GOC_OK:
		return "ok";
	case GOC_CLOSED:
		return "closed";
	case GOC_WOULDBLOCK:
		return "would block";
	case GOC_TIMEOUT:
		return "timeout";
	case GOC_CANCELED:
		return "canceled";
	case GOC_ENOHOST:
		return "no such host";
	case GOC_EDNSAGAIN:
		return "temporary failure in name resolution";
	case GOC_EDNSFAIL:
		return "name resolution failed";
	case GOC_EREDIRECTS:
		return "stopped after too many redirects";
	}
	/* strerrordesc_np, unlike strerror, returns a static string and never
	 * writes a buffer: safe from any thread at once. */
	const char *desc = code < 0 && code > INT_MIN ? strerrordesc_np(-code) : NULL;
	return desc ? desc : "unknown error";
}

/* As Go words them, so dumps read the same. */
static const char *const wait_reasons[WAIT_REASON_COUNT] = {
	[WAIT_NONE] = "",
	[WAIT_SLEEP] = "sleep",
	[WAIT_CHAN_SEND] = "chan send",
	[WAIT_CHAN_RECV] = "chan receive",
	[WAIT_CHAN_SEND_NIL] = "chan send (nil chan)",
	[WAIT_CHAN_RECV_NIL] = "chan receive (nil chan)",
	[WAIT_SELECT] = "select",
	[WAIT_SELECT_NO_CASES] = "select (no cases)",
	[WAIT_WAITGROUP] = "sync.WaitGroup.Wait",
	[WAIT_MUTEX] = "sync.Mutex.Lock",
	[WAIT_RWMUTEX_R] = "sync.RWMutex.RLock",
	[WAIT_RWMUTEX_W] = "sync.RWMutex.Lock",
	[WAIT_COND] = "sync.Cond.Wait",
	[WAIT_SEMACQUIRE] = "semacquire",
	[WAIT_IO] = "IO wait",
	[WAIT_SYSCALL] = "syscall",
};

const char *goc__wait_reason_string(goc__wait_reason r)
{
	if ((unsigned)r >= WAIT_REASON_COUNT)
		return "unknown";
	return wait_reasons[r];
}
