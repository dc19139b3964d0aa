/*
 * goc/net.h — blocking-style network I/O over the netpoller: TCP (IPv4 and
 * IPv6) and Unix stream sockets, and waiting on any non-blocking fd.
 * Included by goc.h; include <goc.h>, not this file.
 *
 *     goc_listener *ln;
 *     int err = goc_listen("tcp", "127.0.0.1:8080", &ln);
 *     if (err) ...                               // -EADDRINUSE, ...
 *     for (;;) {
 *         goc_conn *c;
 *         if (goc_accept(ln, &c) < 0) break;     // parks this goroutine only
 *         goc_go(serve, c);                      // serve reads, writes, closes c
 *     }
 *
 * A goroutine that would block parks (wait reason "IO wait") and its M runs
 * other goroutines; the poller readies it when the fd is ready. A plain OS
 * thread blocks itself in poll(2).
 *
 * Errors. Every call returns a negative errno code on failure (-ETIMEDOUT,
 * like the Linux kernel's own interfaces; goc_strerror names it); calls
 * that make a handle store it through an out parameter. errno is not the
 * report (goc.h, rule 3):
 *   -ETIMEDOUT   a deadline passed, or the context's deadline did
 *                (GOC_TIMEOUT)
 *   -ECANCELED   the context was cancelled (GOC_CANCELED)
 *   -EBADF       the handle was closed, possibly by another goroutine while
 *                this one was blocked on it (Go's net.ErrClosed)
 *   -ECONNRESET  the peer reset the connection; -EPIPE: writing after the
 *                peer closed its reading side (SIGPIPE is never raised)
 *   -ECONNREFUSED, -ENETUNREACH, -EHOSTUNREACH, ... from connect
 *   -EINVAL      a malformed address or argument
 *   GOC_ENOHOST, GOC_EDNSAGAIN, GOC_EDNSFAIL: name resolution (below)
 * End of stream is not an error: read returns 0.
 *
 * Deadlines are absolute goc_now() instants; GOC_NO_DEADLINE (0) means none
 * (goc.h, "Time"). A deadline
 * applies to every later call until it is changed, and changing it also
 * affects a call already blocked (as Go's SetDeadline); one already past
 * makes calls fail at once with -ETIMEDOUT, even if data is readable (as
 * Go). The _ctx variants also give up when ctx is cancelled (ctx NULL:
 * never), whichever comes first; a ctx already cancelled fails at once.
 * A plain thread blocked in a call is woken at once by a deadline change,
 * a context cancellation or a close, as a goroutine is.
 *
 * Handles. goc_listen / goc_accept / goc_dial / goc_conn_wrap make a handle
 * that owns its fd; goc_conn_close / goc_listener_close close the fd
 * (once no other call is using it), wake every goroutine blocked on it
 * with -EBADF, and free the handle when the last such call has left. Using
 * a handle after its close has returned is a use after free, like fclose;
 * goc makes it loud where it can (a closed handle's memory is marked and
 * calls on it panic) but cannot always. NULL panics.
 *
 * Concurrency: any number of goroutines and threads may use one handle;
 * reads are serialized with each other, and so are writes (a write of n
 * bytes is never interleaved with another write on the same conn).
 */
#ifndef GOC_NET_H
#define GOC_NET_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/net.h>"
#endif

/*
 * Failures of name resolution (a host name in goc_dial or goc_listen),
 * Go's *net.DNSError. Negative like an errno but past every errno value,
 * so they never read as a system error; goc_strerror names them.
 */
#define GOC_ENOHOST \
	(-4101) /* no such host: the name does not exist, or has no \
				 address of the family asked (Go's IsNotFound) */
#define GOC_EDNSAGAIN \
	(-4102)              /* the resolver failed for now (no answer, a server \
				 down): try again later (Go's IsTemporary) */
#define GOC_EDNSFAIL (-4103) /* the resolver failed for good (a refused query) */

#include <sys/types.h>
#include <sys/uio.h>

typedef struct goc_conn goc_conn;
typedef struct goc_listener goc_listener;

/*
 * Listens on address. network: "tcp" (IPv4 or IPv6 by the address),
 * "tcp4", "tcp6", or "unix". address: "host:port", "[v6addr]:port",
 * ":port" (every interface), port 0 for any free port; a path for "unix"
 * (an existing socket file is not removed). SO_REUSEADDR is set for TCP;
 * the backlog is SOMAXCONN. Returns 0 and stores the listener in *out, or a
 * negative errno (-EADDRINUSE, -EINVAL, ...).
 */
int goc_listen(const char *network, const char *address, goc_listener **out);

/*
 * Waits for and accepts the next connection: 0 and the connection in *out,
 * or -ETIMEDOUT (the listener's deadline), -ECANCELED / -ETIMEDOUT (ctx),
 * -EBADF (the listener was closed). When the process is out of fds (EMFILE, ENFILE)
 * or the kernel out of memory (ENOBUFS, ENOMEM), it sleeps 5 ms, doubling
 * up to 1 s, and tries again, as Go's net/http server does; it never
 * spins and never returns those errors. Connection errors of the pending
 * connection (ECONNABORTED) are skipped. Accepted TCP connections have
 * TCP_NODELAY set.
 */
int goc_accept(goc_listener *ln, goc_conn **out);
int goc_accept_ctx(goc_listener *ln, goc_ctx *ctx, goc_conn **out);
/* The deadline of goc_accept (GOC_NO_DEADLINE: none). Returns 0 or -EBADF. */
int goc_listener_set_deadline(goc_listener *ln, int64_t deadline);
/* Writes the address the listener is bound to ("127.0.0.1:34567",
 * "[::1]:80", or the path) into buf; returns its length, or a negative
 * errno (-ENOSPC if it does not fit with its NUL). */
int goc_listener_addr(goc_listener *ln, char *buf, size_t size);
/* The listening socket (for setsockopt and the like; do not close it). */
int goc_listener_fd(goc_listener *ln);
/* Stops listening (see "Handles"). Returns 0, or -EBADF when another close
 * of it is under way; closing again after a close returned panics. */
int goc_listener_close(goc_listener *ln);

/*
 * Connects to address (network and address as for goc_listen; a host name
 * is resolved with getaddrinfo and each address is tried in turn until one
 * connects). deadline bounds the whole call, GOC_NO_DEADLINE: none. Returns 0 and the
 * connection in *out, or -ETIMEDOUT, -ECONNREFUSED, -ENETUNREACH, -EINVAL
 * (malformed address), GOC_ENOHOST (a name that does not resolve),
 * GOC_EDNSAGAIN or GOC_EDNSFAIL (the resolver failed), or ctx's error. TCP connections have TCP_NODELAY set.
 */
int goc_dial(const char *network, const char *address, int64_t deadline, goc_conn **out);
int goc_dial_ctx(const char *network, const char *address, goc_ctx *ctx, goc_conn **out);

/* Takes over fd, a connected stream socket (or pipe, or any stream fd
 * epoll accepts), made non-blocking here: 0 and the connection in *out, or
 * a negative errno (fd is then left open). */
int goc_conn_wrap(int fd, goc_conn **out);

/*
 * Reads at most len bytes: returns the number read (> 0), 0 at end of
 * stream (the peer shut down its writing side or closed; len == 0 returns
 * 0 at once), or a negative errno.
 */
ssize_t goc_conn_read(goc_conn *c, void *buf, size_t len);
ssize_t goc_conn_read_ctx(goc_conn *c, void *buf, size_t len, goc_ctx *ctx);

/*
 * Writes all len bytes, parking whenever the socket buffer is full.
 * Returns len, or a negative errno; *written (if not NULL) receives the
 * number of bytes written either way, so that after -ETIMEDOUT the caller
 * knows how much went out.
 */
ssize_t goc_conn_write(goc_conn *c, const void *buf, size_t len, size_t *written);
ssize_t goc_conn_write_ctx(goc_conn *c, const void *buf, size_t len, size_t *written, goc_ctx *ctx);

/*
 * goc_conn_write of the buffers iov[0..iovcnt) in order, gathered into as
 * few system calls as the socket buffer allows (writev). iov is consumed:
 * its entries are advanced past what was written. Returns the total
 * length, or a negative errno with *written (if not NULL) the bytes
 * written.
 */
ssize_t goc_conn_writev(goc_conn *c, struct iovec *iov, int iovcnt, size_t *written);
ssize_t goc_conn_writev_ctx(goc_conn *c, struct iovec *iov, int iovcnt, size_t *written,
			    goc_ctx *ctx);

/* Deadlines of reads, of writes, or both (see above). 0 or -EBADF. */
int goc_conn_set_deadline(goc_conn *c, int64_t deadline);
int goc_conn_set_read_deadline(goc_conn *c, int64_t deadline);
int goc_conn_set_write_deadline(goc_conn *c, int64_t deadline);

/* Which half goc_conn_shutdown closes. */
#define GOC_SHUT_READ 1
#define GOC_SHUT_WRITE 2

/*
 * Shuts down the reading half (later reads return 0), the writing half
 * (the peer reads end of stream; the connection stays open for reading:
 * a half-closed connection), or both (GOC_SHUT_READ | GOC_SHUT_WRITE).
 * 0 or a negative errno.
 */
int goc_conn_shutdown(goc_conn *c, int how);

/* The local and the remote address, formatted as goc_listener_addr. */
int goc_conn_local_addr(goc_conn *c, char *buf, size_t size);
int goc_conn_remote_addr(goc_conn *c, char *buf, size_t size);
/* The socket (for setsockopt and the like; do not close it). */
int goc_conn_fd(goc_conn *c);
/* Closes the connection (see "Handles"). 0, or -EBADF when another close
 * of it is under way; closing again after a close returned panics. */
int goc_conn_close(goc_conn *c);

/* ---- any non-blocking fd ---- */

#define GOC_FD_READ 1
#define GOC_FD_WRITE 2

/*
 * Waits until fd, a non-blocking fd that goc does not own (a pipe, a
 * timerfd, a database client's socket), is readable and/or writable as
 * events asks (GOC_FD_READ, GOC_FD_WRITE or both), or until deadline (an
 * absolute goc_now() instant, GOC_NO_DEADLINE: none). Returns the events now ready (>
 * 0), or a negative errno: -ETIMEDOUT, -EINVAL (bad events), -EPERM (fd
 * cannot be polled: a regular file), ctx's error. Readiness includes end
 * of stream and error conditions (the next read or write tells which).
 * Do not use it on the fd of a goc_conn or goc_listener (-EEXIST), and
 * do not close fd while it is waited on.
 */
int goc_fd_wait(int fd, int events, int64_t deadline);
int goc_fd_wait_ctx(int fd, int events, int64_t deadline, goc_ctx *ctx);

#endif /* GOC_NET_H */
