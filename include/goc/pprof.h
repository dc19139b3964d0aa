/*
 * goc/pprof.h — profiles in pprof's format (Go's runtime/pprof): CPU,
 * block, mutex and goroutine.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * The CPU profiler samples the stack of every goc thread (M) 100 times per
 * second of CPU time it uses and, when stopped, writes a gzipped
 * profile.proto that `go tool pprof` reads:
 *
 *     FILE *f = fopen("cpu.pprof", "wb");
 *     goc_pprof_cpu_start(f);
 *     run_workload();
 *     goc_pprof_cpu_stop();                // writes the profile to f
 *     fclose(f);
 *
 *     $ go tool pprof -top ./program cpu.pprof
 *
 * Each sample is labelled with the goroutine it caught ("goroutine", its
 * id) and that goroutine's name from goc_go_opts ("goroutine_name"):
 * `go tool pprof -tags`, `-tagfocus goroutine_name=worker`. Samples taken
 * while a thread runs the scheduler itself carry no label.
 *
 * Functions are named as in goroutine dumps (goc/debug.h); give pprof the
 * binary too to name whatever the profile could not. Profiling uses
 * SIGPROF: the handler is installed by the first goc_pprof_cpu_start and
 * stays (a SIGPROF not from goc's timers goes to the handler installed
 * before it, or is ignored); system calls it interrupts are restarted
 * (SA_RESTART) or fail with EINTR as POSIX says.
 */
#ifndef GOC_PPROF_H
#define GOC_PPROF_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/pprof.h>"
/* Writes the heap profile to out (Go's "heap" profile, gzipped
 * profile.proto): for each allocating stack and object size (label
 * "bytes"), alloc_objects, alloc_space, inuse_objects and inuse_space,
 * un-sampled as Go does, from the allocations goc_set_mem_profile_rate
 * sampled. inuse_* is exact at the moment of the call (C frees
 * explicitly; Go's shows the heap as of the last GC):
 *     go tool pprof -sample_index=inuse_space -top ./program heap.pprof
 *     go tool pprof -base before.pprof ./program after.pprof
 * GOC_OK; -EINVAL if out is NULL; the negative errno of a failed write;
 * -ENOMEM if the profile could not be built. */
goc_status goc_pprof_heap(FILE *out);

#endif

#include <stdio.h>

/* Starts CPU profiling; the profile is written to out (opened for
 * writing, binary) by goc_pprof_cpu_stop. GOC_OK; -EINVAL if out is NULL;
 * -EBUSY if a CPU profile is being taken already; -ENOMEM (or the errno of
 * pthread_create) if the sample buffer or the thread draining it cannot be
 * had. */
goc_status goc_pprof_cpu_start(FILE *out);

/* Stops CPU profiling and writes the profile. GOC_OK; -EINVAL if no CPU
 * profile is being taken; the negative errno of a failed write (the
 * profile is then incomplete); -ENOMEM if it could not be built.
 * Profiling has stopped in every case. */
goc_status goc_pprof_cpu_stop(void);

/* Samples per second of CPU time for the next goc_pprof_cpu_start (Go's
 * runtime.SetCPUProfileRate); 100 by default. -EINVAL unless
 * 1 <= hz <= 10000; -EBUSY while profiling. */
goc_status goc_pprof_cpu_set_rate(int hz);

/*
 * The block profile (Go's runtime.SetBlockProfileRate): time goroutines
 * spend waiting in channel sends and receives, select, goc_mutex and
 * goc_rwmutex locks, goc_cond_wait, semaphores and goc_wg_wait, by the
 * stack they waited in. A wait of at least rate_ns is recorded; a shorter
 * one with probability wait / rate_ns (and weighed to make up for the
 * others). 1 records every wait; 0 or less turns the profile off, the
 * default. Waits are added up from the moment the profile is on; turning
 * it off keeps what was recorded.
 */
void goc_pprof_set_block_rate(int64_t rate_ns);

/* Writes the block profile recorded so far to out (binary, gzipped
 * profile.proto: `go tool pprof -top ./program block.pprof`): for each
 * stack, "contentions" (count) and "delay" (nanoseconds). GOC_OK; -EINVAL
 * if out is NULL; the negative errno of a failed write; -ENOMEM if the
 * profile could not be built. */
goc_status goc_pprof_block(FILE *out);

/*
 * The mutex profile (Go's runtime.SetMutexProfileFraction): contention on
 * goc_mutex and goc_rwmutex, charged to the stack of the goroutine whose
 * unlock ended a wait, with the time the woken waiter waited. On average
 * 1 in n contention events is recorded; 0 turns it off (the default); a
 * negative n only reads the setting. Returns the previous fraction.
 */
int goc_pprof_set_mutex_fraction(int n);

/* Writes the mutex profile recorded so far to out, as goc_pprof_block. */
goc_status goc_pprof_mutex(FILE *out);

/* Writes a goroutine profile to out (pprof's "goroutine"): every
 * goroutine's stack as a sample of count 1, labelled "goroutine" (its
 * id), "state" (its wait reason or "runnable", "running") and
 * "goroutine_name" (if named). A goroutine running on another thread at
 * that instant has no stack, as in dumps. Errors as goc_pprof_block's. */
goc_status goc_pprof_goroutine(FILE *out);

/* Writes the heap profile to out (Go's "heap" profile, gzipped
 * profile.proto): for each allocating stack and object size (label
 * "bytes"), alloc_objects, alloc_space, inuse_objects and inuse_space,
 * un-sampled as Go does, from the allocations goc_set_mem_profile_rate
 * sampled. inuse_* is exact at the moment of the call (C frees
 * explicitly; Go's shows the heap as of the last GC):
 *     go tool pprof -sample_index=inuse_space -top ./program heap.pprof
 *     go tool pprof -base before.pprof ./program after.pprof
 * GOC_OK; -EINVAL if out is NULL; the negative errno of a failed write;
 * -ENOMEM if the profile could not be built. */
goc_status goc_pprof_heap(FILE *out);

/*
 * Profile labels (Go's pprof.Do and SetGoroutineLabels): key/value pairs
 * on a goroutine, inherited by the goroutines it starts (goc_go copies the
 * reference), attached to every CPU-profile sample taken while it runs and
 * to its goroutine-profile entry, so that `go tool pprof -tags` lists them
 * and `-tagfocus key=value` filters on them.
 *
 * kv holds n strings: key, value, key, value, ... (n even, at most
 * 2 * GOC_PPROF_LABELS_MAX; strings are copied; a repeated key keeps its
 * last value). goc_pprof_set_labels replaces the calling goroutine's
 * labels (n 0: none); goc_pprof_do runs fn(arg) with the current labels
 * plus kv, then restores the previous ones, as pprof.Do. Both return
 * GOC_OK, -EINVAL (n odd or too large, a NULL string) or -ENOMEM, and
 * panic off a goroutine. goc_pprof_label is the calling goroutine's value
 * for key, or NULL; valid until it changes its labels.
 */
#define GOC_PPROF_LABELS_MAX 16
goc_status goc_pprof_set_labels(const char *const *kv, size_t n);
goc_status goc_pprof_do(const char *const *kv, size_t n, void (*fn)(void *arg), void *arg);
const char *goc_pprof_label(const char *key);

#endif
