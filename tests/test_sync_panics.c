/*
 * test_sync_panics.c — misuse of the sync toolbox is loud, as in Go: each
 * case runs in a child process (panic_modes.h) that must die by SIGABRT
 * after printing the panic message:
 *
 *  - unlock of an unlocked mutex, from a goroutine and from a plain thread
 *    ("sync: unlock of unlocked mutex"), also after a lock/unlock pair;
 *  - runlock of an rwmutex that is not read-locked, free or write-locked
 *    ("sync: RUnlock of unlocked RWMutex");
 *  - unlock of an rwmutex that is not write-locked, free or read-locked
 *    ("sync: Unlock of unlocked RWMutex");
 *  - goc_once_do with a NULL function.
 */
#include <pthread.h>

#include "panic_modes.h"

static void mode_unlock_unlocked(void *arg)
{
	(void)arg;
	goc_mutex m = GOC_MUTEX_INIT;
	goc_mutex_unlock(&m);
	printf("survived\n");
}

static void mode_unlock_twice(void *arg)
{
	(void)arg;
	goc_mutex m = GOC_MUTEX_INIT;
	goc_mutex_lock(&m);
	goc_mutex_unlock(&m);
	goc_mutex_unlock(&m);
	printf("survived\n");
}

static void mode_runlock_free(void *arg)
{
	(void)arg;
	goc_rwmutex rw = GOC_RWMUTEX_INIT;
	goc_rwmutex_runlock(&rw);
	printf("survived\n");
}

static void mode_runlock_write_locked(void *arg)
{
	(void)arg;
	goc_rwmutex rw = GOC_RWMUTEX_INIT;
	goc_rwmutex_lock(&rw);
	goc_rwmutex_runlock(&rw);
	printf("survived\n");
}

static void mode_rw_unlock_free(void *arg)
{
	(void)arg;
	goc_rwmutex rw = GOC_RWMUTEX_INIT;
	goc_rwmutex_unlock(&rw);
	printf("survived\n");
}

static void mode_rw_unlock_read_locked(void *arg)
{
	(void)arg;
	goc_rwmutex rw = GOC_RWMUTEX_INIT;
	goc_rwmutex_rlock(&rw);
	goc_rwmutex_unlock(&rw);
	printf("survived\n");
}

static void mode_once_nil(void *arg)
{
	(void)arg;
	goc_once once = GOC_ONCE_INIT;
	goc_once_do(&once, NULL, NULL);
	printf("survived\n");
}

static void *thread_unlock_unlocked(void *arg)
{
	mode_unlock_unlocked(arg);
	return NULL;
}

static void mode_thread_unlock_unlocked(void *arg)
{
	(void)arg;
	pthread_t t;
	pthread_create(&t, NULL, thread_unlock_unlocked, NULL);
	pthread_join(t, NULL);
	printf("survived\n");
}

static const struct panic_mode modes[] = {
	{"unlock_unlocked", mode_unlock_unlocked, "panic: sync: unlock of unlocked mutex"},
	{"unlock_twice", mode_unlock_twice, "panic: sync: unlock of unlocked mutex"},
	{"thread_unlock_unlocked", mode_thread_unlock_unlocked,
	 "panic: sync: unlock of unlocked mutex"},
	{"runlock_free", mode_runlock_free, "panic: sync: RUnlock of unlocked RWMutex"},
	{"runlock_write_locked", mode_runlock_write_locked,
	 "panic: sync: RUnlock of unlocked RWMutex"},
	{"rw_unlock_free", mode_rw_unlock_free, "panic: sync: Unlock of unlocked RWMutex"},
	{"rw_unlock_read_locked", mode_rw_unlock_read_locked,
	 "panic: sync: Unlock of unlocked RWMutex"},
	{"once_nil", mode_once_nil, "panic: goc_once_do: nil function"},
};

int main(int argc, char **argv)
{
	size_t n = sizeof modes / sizeof modes[0];
	if (argc > 1)
		return panic_mode_run(argv[1], modes, n);
	/* Under TSan every child would sleep a second at exit. */
	if (getenv("GOC_TEST_SANITIZER") && !getenv("TSAN_OPTIONS"))
		setenv("TSAN_OPTIONS", "atexit_sleep_ms=0", 1);
	panic_modes_check(argv[0], modes, n);
	return 0;
}
