/*
 * preload_check.c — a program that knows nothing of goc, run by
 * test_preload.sh with LD_PRELOAD=libgoc-malloc.so: its malloc must be
 * goc's (goc_memstats_read, found with dlsym, counts its allocations),
 * from several threads, across fork, with every byte checked.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAIL(...)                                   \
	do {                                        \
		fprintf(stderr, "preload_check: "); \
		fprintf(stderr, __VA_ARGS__);       \
		fprintf(stderr, "\n");              \
		exit(1);                            \
	} while (0)

/* The first fields of goc_memstats (include/goc/alloc.h). */
struct memstats_head {
	uint64_t alloc, total_alloc, sys, mallocs, frees;
};

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *keep[256] = {0};
	for (int i = 0; i < 200000; i++) {
		int k = i & 255;
		if (keep[k]) {
			unsigned char *p = keep[k];
			size_t n = malloc_usable_size(p);
			if (n < 1 || p[0] != (unsigned char)k)
				FAIL("block %d corrupted", k);
			free(p);
		}
		size_t n = 1 + (seed = seed * 1103515245 + 12345) % 5000;
		unsigned char *p = malloc(n);
		if (!p)
			FAIL("malloc(%zu)", n);
		memset(p, k, n);
		keep[k] = p;
	}
	for (int k = 0; k < 256; k++)
		free(keep[k]);
	return NULL;
}

int main(void)
{
	void (*read_stats)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "goc_memstats_read");
	if (!read_stats)
		FAIL("goc_memstats_read not found: libgoc-malloc.so is not preloaded");
	static char stats_a[8192], stats_b[8192];
	read_stats(stats_a);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	read_stats(stats_b);
	struct memstats_head a, b;
	memcpy(&a, stats_a, sizeof a);
	memcpy(&b, stats_b, sizeof b);
	if (b.mallocs - a.mallocs < 800000)
		FAIL("goc counted %llu mallocs, want 800000",
		     (unsigned long long)(b.mallocs - a.mallocs));
	void *al = NULL;
	if (posix_memalign(&al, 4096, 100) || ((uintptr_t)al & 4095))
		FAIL("posix_memalign");
	free(al);
	if (((uintptr_t)memalign(64, 10) & 63) || ((uintptr_t)valloc(10) & 4095) ||
	    ((uintptr_t)pvalloc(10) & 4095) || ((uintptr_t)aligned_alloc(256, 512) & 255))
		FAIL("aligned functions");
	/* fork while other threads allocate: the child allocates at once. */
	pthread_t busy;
	pthread_create(&busy, NULL, churn, (void *)7);
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			churn((void *)9);
			_exit(0);
		}
		int status;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			FAIL("fork child %d failed", i);
	}
	pthread_join(busy, NULL);
	puts("preload_check: ok");
	return 0;
}
