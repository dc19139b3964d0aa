/*
 * goc/syscall.h — blocking calls: letting the other goroutines run while
 * one goroutine blocks its thread, and the limit on threads that implies.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * A goroutine that calls something that may block its OS thread (read(2)
 * on a file or a pipe, a DNS lookup, a database client's blocking call,
 * sleep(3), waiting for a pthread mutex) would otherwise keep its P, and
 * with it every goroutine queued there, for as long as the call lasts.
 * Wrapped in a syscall section, the call lends its P out: if it is still
 * blocked after about 20 µs and other goroutines want the P, the monitor
 * thread hands the P to another thread, starting one if needed (Go's
 * entersyscall / exitsyscall).
 *
 *     goc_syscall_enter();
 *     ssize_t n = read(fd, buf, sizeof buf);
 *     int err = errno;
 *     goc_syscall_exit();
 *
 * or, for any function: result = goc_blocking(lookup, &query);
 *
 * Between enter and exit the goroutine holds no P: it may call goc
 * functions that never block (goc_go, goc_chan_try_send, goc_wg_done, ...),
 * but a blocking one (a channel send or receive, goc_select with a timeout,
 * goc_sleep, goc_yield, a contended mutex) panics. On a plain thread (not
 * a goroutine) enter and exit do nothing.
 */
#ifndef GOC_SYSCALL_H
#define GOC_SYSCALL_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/syscall.h>"
#endif

#include <sys/types.h>

/*
 * Starts a syscall section: the calling goroutine is about to block its
 * thread. Cheap (no lock, no system call). Entering twice without an exit
 * panics.
 */
void goc_syscall_enter(void);

/*
 * Ends the syscall section: takes the goroutine's P back if nobody took
 * it, else another idle P; with none free, the goroutine waits in the
 * global run queue for one (and may then continue on another thread; see
 * API.md "Thread-locals and errno"). errno is preserved, but read it
 * before the call when it was set inside the section. Exit without enter
 * panics.
 */
void goc_syscall_exit(void);

/* Runs fn(arg) in a syscall section and returns its result. fn == NULL
 * panics. */
void *goc_blocking(void *(*fn)(void *arg), void *arg);

/*
 * read(2) in a syscall section, retried on EINTR: the bytes read (0 at
 * end of file), or a negative errno.
 */
ssize_t goc_file_read(int fd, void *buf, size_t n);
/* pread(2) in a syscall section, retried on EINTR; as goc_file_read. */
ssize_t goc_file_pread(int fd, void *buf, size_t n, off_t offset);

/*
 * Writes all n bytes with write(2) in one syscall section, retrying on
 * EINTR and after short writes. Returns n, or a negative errno; *written
 * (if not NULL) receives the bytes written either way, as goc_conn_write.
 */
ssize_t goc_file_write(int fd, const void *buf, size_t n, size_t *written);
/* pwrite(2) of all n bytes at offset (< 0: -EINVAL); as goc_file_write. */
ssize_t goc_file_pwrite(int fd, const void *buf, size_t n, off_t offset, size_t *written);

/*
 * Sets the most threads goc may run goroutines on (the monitor thread
 * counts as one) and returns the previous limit; n <= 0 only reads it.
 * The default is 10000, or GOCMAXTHREADS from the environment (Go's
 * debug.SetMaxThreads). Needing a thread beyond the limit — or setting a
 * limit below the threads that exist — is the fatal error "thread
 * exhaustion".
 */
int goc_set_max_threads(int n);

#endif
