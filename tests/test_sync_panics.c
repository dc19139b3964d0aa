/*
 * test_sync_panics.c — misuse of the sync toolbox is loud, as in Go: each
 * case runs in a child process (the test binary re-executed with a mode
 * argument) that must die by SIGABRT after printing the panic message:
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
#include <signal.h>
#include <string.h>

#include "testutil.h"

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

struct mode {
	const char *name;
	void (*fn)(void *);
	const char *message;
	bool in_goroutine;
};

static const struct mode modes[] = {
    {"unlock_unlocked", mode_unlock_unlocked, "panic: sync: unlock of unlocked mutex", true},
    {"unlock_twice", mode_unlock_twice, "panic: sync: unlock of unlocked mutex", true},
    {"thread_unlock_unlocked", NULL, "panic: sync: unlock of unlocked mutex", false},
    {"runlock_free", mode_runlock_free, "panic: sync: RUnlock of unlocked RWMutex", true},
    {"runlock_write_locked", mode_runlock_write_locked, "panic: sync: RUnlock of unlocked RWMutex",
     true},
    {"rw_unlock_free", mode_rw_unlock_free, "panic: sync: Unlock of unlocked RWMutex", true},
    {"rw_unlock_read_locked", mode_rw_unlock_read_locked,
     "panic: sync: Unlock of unlocked RWMutex", true},
    {"once_nil", mode_once_nil, "panic: goc_once_do: nil function", true},
};

#define NMODES (sizeof modes / sizeof modes[0])

int main(int argc, char **argv)
{
	if (argc > 1) {
		for (size_t i = 0; i < NMODES; i++) {
			if (strcmp(argv[1], modes[i].name) != 0)
				continue;
			if (modes[i].fn) {
				goc_main(modes[i].fn, NULL);
			} else {
				pthread_t t;
				pthread_create(&t, NULL, thread_unlock_unlocked, NULL);
				pthread_join(t, NULL);
			}
			return 0;
		}
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 3;
	}
	/* Under TSan every child would sleep a second at exit. */
	if (getenv("GOC_TEST_SANITIZER") && !getenv("TSAN_OPTIONS"))
		setenv("TSAN_OPTIONS", "atexit_sleep_ms=0", 1);
	for (size_t i = 0; i < NMODES; i++) {
		const struct mode *m = &modes[i];
		child_result r = run_self(argv[0], m->name, NULL);
		CHECK(!r.exited && r.status == SIGABRT, "%s: want death by SIGABRT, got %s %d; output:\n%s",
		      m->name, r.exited ? "exit" : "signal", r.status, r.out);
		CHECK(contains(r.out, m->message), "%s: output lacks \"%s\":\n%s", m->name, m->message,
		      r.out);
		CHECK(!contains(r.out, "survived"), "%s: the misuse returned:\n%s", m->name, r.out);
		CHECK(contains(r.out, m->in_goroutine ? "goroutine " : "not a goroutine"),
		      "%s: the panic does not say who:\n%s", m->name, r.out);
		free(r.out);
		char name[96];
		snprintf(name, sizeof name, "%s panics", m->name);
		ok(name);
	}
	return 0;
}
