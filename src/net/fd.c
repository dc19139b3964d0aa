/*
 * fd.c — goc_conn and goc_listener as fds with references, and the I/O
 * loops over the poller: read, write-all (one buffer or an iovec array),
 * accept (with its EMFILE back-off), deadlines, shutdown, close, and
 * goc_fd_wait.
 *
 * Every call follows internal/poll's pattern: take a reference (fails on
 * a closed handle), take the direction's lock, ask the poll descriptor
 * whether the direction has already failed (closed, deadline passed), then
 * loop: try the system call on the non-blocking fd; on EAGAIN park in
 * goc__poll_desc_wait and try again. Closing sets the closed bit, evicts the
 * poll descriptor (waking both directions with -EBADF) and drops the
 * handle's reference; the fd itself is closed with the last reference.
 *
 * Invariants: the fd of a net_fd is open while any reference exists; at
 * most one goroutine or thread waits per direction (the direction locks),
 * which is what the poll descriptor's slots require.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "netfd.h"

/* EMFILE back-off of accept, as Go's net/http server. */
#define ACCEPT_BACKOFF_MIN (5 * GOC_MILLISECOND)
#define ACCEPT_BACKOFF_MAX GOC_SECOND

static struct {
	goc__lock lock;
	struct net_fd *free; /* lock */
} nfd_cache;

/* ---- the object ---- */

struct net_fd *goc__net_fd_new(int fd, int family, enum net_fd_kind kind, int *err)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
		*err = -errno;
		return NULL;
	}
	goc__lock_acquire(&nfd_cache.lock);
	struct net_fd *f = nfd_cache.free;
	if (f)
		nfd_cache.free = f->next_free;
	goc__lock_release(&nfd_cache.lock);
	if (!f && !(f = calloc(1, sizeof *f))) {
		*err = -ENOMEM;
		return NULL;
	}
	f->fd = fd;
	f->family = family;
	int one = 1;
	f->inq_hint = kind == NFD_KIND_CONN && (family == AF_INET || family == AF_INET6) &&
		setsockopt(fd, SOL_TCP, TCP_INQ, &one, sizeof one) == 0;
	f->read_drained = false;
	goc_mutex_init(&f->read_lock);
	goc_mutex_init(&f->write_lock);
	f->pd = goc__poll_desc_open(fd, false, err);
	if (!f->pd) {
		goc__lock_acquire(&nfd_cache.lock);
		f->next_free = nfd_cache.free;
		nfd_cache.free = f;
		goc__lock_release(&nfd_cache.lock);
		return NULL;
	}
	goc__store_relaxed(&f->state, NFD_REF);
	/* Release: a thread that finds the handle live sees it initialized. */
	goc__store_release(&f->magic, kind);
	return f;
}

static void net_fd_destroy(struct net_fd *f)
{
	goc__poll_desc_close(f->pd, true);
	f->pd = NULL;
	close(f->fd);
	f->fd = -1;
	goc__store_release(&f->magic, NFD_KIND_DEAD);
	goc__lock_acquire(&nfd_cache.lock);
	f->next_free = nfd_cache.free;
	nfd_cache.free = f;
	goc__lock_release(&nfd_cache.lock);
}

void goc__net_fd_discard(struct net_fd *f)
{
	net_fd_destroy(f);
}

int goc__net_fd_acquire(struct net_fd *f, enum net_fd_kind kind, const char *what)
{
	if (!f)
		goc__panic("%s: NULL handle", what);
	uint32_t magic = goc__load_acquire(&f->magic);
	if (magic != (uint32_t)kind)
		goc__panic("%s: %s", what,
			   magic == NFD_KIND_DEAD ? "use of a closed handle"
						  : "not a live handle of this kind");
	uint32_t state = goc__load_relaxed(&f->state);
	do {
		if (state & NFD_CLOSED)
			return -EBADF;
	} while (!goc__cas_weak_acquire(&f->state, &state, state + NFD_REF));
	return 0;
}

void goc__net_fd_release(struct net_fd *f)
{
	/* acq_rel: the last one out sees every other user's writes before it
	 * closes the fd and recycles the memory. */
	if (goc__sub_fetch_acqrel(&f->state, NFD_REF) == NFD_CLOSED)
		net_fd_destroy(f);
}

static int net_fd_close(struct net_fd *f, enum net_fd_kind kind, const char *what)
{
	int err = goc__net_fd_acquire(f, kind, what);
	if (err)
		return err;
	uint32_t old = goc__fetch_or_acqrel(&f->state, NFD_CLOSED);
	if (old & NFD_CLOSED) {
		goc__net_fd_release(f);
		return -EBADF;
	}
	goc__poll_desc_evict(f->pd);
	/* The handle's own reference, then ours. */
	goc__sub_fetch_acqrel(&f->state, NFD_REF);
	goc__net_fd_release(f);
	return 0;
}

/* ---- reading and writing ---- */

/*
 * The calls of the I/O loops go to the kernel through syscall(), not
 * through glibc's wrappers: in a multi-threaded process those are thread
 * cancellation points and bracket every call with two atomic
 * read-modify-writes of the thread's cancellation state, 8 per TCPEcho
 * round trip, ~120 ns of its ~4.4 us (perf). goc never cancels the
 * threads that run goroutines. Results and errno are the libc calls'.
 */
static inline ssize_t sys_read(int fd, void *buf, size_t len)
{
	return syscall(SYS_read, fd, buf, len);
}

static inline ssize_t sys_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return syscall(SYS_recvmsg, fd, msg, flags);
}

static inline ssize_t sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return syscall(SYS_sendmsg, fd, msg, flags);
}

/* One buffer: sendto spares the kernel copying in a msghdr and an iovec. */
static inline ssize_t sys_send(int fd, const void *buf, size_t len, int flags)
{
	return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

static inline ssize_t sys_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return syscall(SYS_writev, fd, iov, iovcnt);
}

/*
 * One read of a connection. With inq_hint the kernel also says how many
 * bytes it still holds (TCP_INQ, authoritative: it counts bytes past an
 * urgent mark and says 1 after the peer's FIN), and read_drained records
 * whether that was none.
 */
static ssize_t fd_read_once(struct net_fd *f, void *buf, size_t len)
{
	f->read_drained = false;
	if (!f->inq_hint)
		return sys_read(f->fd, buf, len);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {buf, len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof control.buf};
	ssize_t n = sys_recvmsg(f->fd, &msg, 0);
	if (n > 0) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		if (cm && cm->cmsg_level == SOL_TCP && cm->cmsg_type == TCP_CM_INQ) {
			int left;
			memcpy(&left, CMSG_DATA(cm), sizeof left);
			/* A reset or a local shutdown after the data makes
			 * no new edge, and TCP_INQ still says 0 (only a FIN
			 * makes it say 1): once the poller has seen a
			 * hang-up or an error, every read goes to the kernel. */
			f->read_drained = left == 0 && !goc__poll_desc_hung_up(f->pd);
		}
	}
	return n;
}

static ssize_t conn_read(goc_conn *c, void *buf, size_t len, goc_ctx *ctx)
{
	struct net_fd *f = c ? &c->nfd : NULL;
	int err = goc__net_fd_acquire(f, NFD_KIND_CONN, "goc_conn_read");
	if (err)
		return err;
	ssize_t result = net_ctx_errno(ctx);
	goc_mutex_lock(&f->read_lock);
	bool notice;
	if (result == 0 && len > 0 &&
	    (result = goc__poll_desc_prepare(f->pd, POLL_READ, &notice)) == 0) {
		/* Drained and no edge since: the read would say EAGAIN. */
		if (f->read_drained && !notice)
			result = goc__poll_desc_wait(f->pd, POLL_READ, ctx);
		while (result == 0) {
			ssize_t n = fd_read_once(f, buf, len);
			if (n >= 0) {
				result = n;
				break;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				result = -errno;
				break;
			}
			result = goc__poll_desc_wait(f->pd, POLL_READ, ctx);
		}
	}
	goc_mutex_unlock(&f->read_lock);
	goc__net_fd_release(f);
	return result;
}

ssize_t goc_conn_read(goc_conn *c, void *buf, size_t len)
{
	return conn_read(c, buf, len, NULL);
}

ssize_t goc_conn_read_ctx(goc_conn *c, void *buf, size_t len, goc_ctx *ctx)
{
	return conn_read(c, buf, len, ctx);
}

/*
 * Writes all of iov[0..iovcnt) (iov is modified: consumed entries are
 * skipped and a partly written one is advanced), parking while the socket
 * buffer is full. *written receives the bytes written.
 */
static int conn_write_iov(goc_conn *c, struct iovec *iov, int iovcnt, size_t *written, goc_ctx *ctx,
			  const char *what)
{
	struct net_fd *f = c ? &c->nfd : NULL;
	*written = 0;
	int err = goc__net_fd_acquire(f, NFD_KIND_CONN, what);
	if (err)
		return err;
	goc_mutex_lock(&f->write_lock);
	if (!(err = net_ctx_errno(ctx)) &&
	    !(err = goc__poll_desc_prepare(f->pd, POLL_WRITE, NULL))) {
		for (;;) {
			while (iovcnt > 0 && iov->iov_len == 0) {
				iov++;
				iovcnt--;
			}
			if (iovcnt == 0)
				break;
			/* MSG_NOSIGNAL: a peer that closed gives EPIPE, not
			 * SIGPIPE. */
			struct msghdr msg = {.msg_iov = iov,
					     .msg_iovlen =
						     (size_t)(iovcnt < IOV_MAX ? iovcnt : IOV_MAX)};
			ssize_t n = !f->family ? sys_writev(f->fd, iov, (int)msg.msg_iovlen)
				: iovcnt == 1
				? sys_send(f->fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL)
				: sys_sendmsg(f->fd, &msg, MSG_NOSIGNAL);
			if (n >= 0) {
				*written += (size_t)n;
				for (size_t left = (size_t)n; left > 0;) {
					size_t step = left < iov->iov_len ? left : iov->iov_len;
					iov->iov_base = (char *)iov->iov_base + step;
					iov->iov_len -= step;
					left -= step;
					if (iov->iov_len == 0) {
						iov++;
						iovcnt--;
					}
				}
				continue;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				err = -errno;
				break;
			}
			if ((err = goc__poll_desc_wait(f->pd, POLL_WRITE, ctx)) != 0)
				break;
		}
	}
	goc_mutex_unlock(&f->write_lock);
	goc__net_fd_release(f);
	return err;
}

static ssize_t conn_write(goc_conn *c, const void *buf, size_t len, size_t *written, goc_ctx *ctx)
{
	struct iovec iov = {(void *)buf, len};
	size_t done;
	int err = conn_write_iov(c, &iov, 1, &done, ctx, "goc_conn_write");
	if (written)
		*written = done;
	return err ? err : (ssize_t)len;
}

ssize_t goc_conn_write(goc_conn *c, const void *buf, size_t len, size_t *written)
{
	return conn_write(c, buf, len, written, NULL);
}

ssize_t goc_conn_write_ctx(goc_conn *c, const void *buf, size_t len, size_t *written, goc_ctx *ctx)
{
	return conn_write(c, buf, len, written, ctx);
}

static ssize_t conn_writev(goc_conn *c, struct iovec *iov, int iovcnt, size_t *written,
			   goc_ctx *ctx, const char *what)
{
	if (iovcnt < 0) {
		if (written)
			*written = 0;
		return -EINVAL;
	}
	size_t total = 0, done;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	int err = conn_write_iov(c, iov, iovcnt, &done, ctx, what);
	if (written)
		*written = done;
	return err ? err : (ssize_t)total;
}

ssize_t goc_conn_writev(goc_conn *c, struct iovec *iov, int iovcnt, size_t *written)
{
	return conn_writev(c, iov, iovcnt, written, NULL, "goc_conn_writev");
}

ssize_t goc_conn_writev_ctx(goc_conn *c, struct iovec *iov, int iovcnt, size_t *written,
			    goc_ctx *ctx)
{
	return conn_writev(c, iov, iovcnt, written, ctx, "goc_conn_writev_ctx");
}

/* ---- accepting ---- */

static int accept_conn(goc_listener *ln, goc_ctx *ctx, goc_conn **out)
{
	struct net_fd *f = ln ? &ln->nfd : NULL;
	if (!out)
		goc__panic("goc_accept: NULL out parameter");
	*out = NULL;
	int err = goc__net_fd_acquire(f, NFD_KIND_LISTENER, "goc_accept");
	if (err)
		return err;
	goc_mutex_lock(&f->read_lock);
	int64_t backoff = 0;
	struct net_fd *conn = NULL;
	err = net_ctx_errno(ctx);
	while (!err && !(err = goc__poll_desc_prepare(f->pd, POLL_READ, NULL))) {
		int fd = accept4(f->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			backoff = 0;
			if (f->family != AF_UNIX) {
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			}
			conn = goc__net_fd_new(fd, f->family, NFD_KIND_CONN, &err);
			if (!conn)
				close(fd);
			break;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED: /* the peer gave up while queued: take the next */
			continue;
		case EAGAIN:
			err = goc__poll_desc_wait(f->pd, POLL_READ, ctx);
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Out of fds or memory: the connection stays queued.
			 * Wait for other goroutines to free some, then retry;
			 * prepare and net_ctx_errno notice close, deadline and
			 * cancellation in between. */
			backoff = backoff ? backoff * 2 : ACCEPT_BACKOFF_MIN;
			if (backoff > ACCEPT_BACKOFF_MAX)
				backoff = ACCEPT_BACKOFF_MAX;
			goc_sleep(backoff);
			err = net_ctx_errno(ctx);
			continue;
		default:
			err = -errno;
			continue;
		}
	}
	goc_mutex_unlock(&f->read_lock);
	goc__net_fd_release(f);
	if (!conn)
		return err;
	*out = (goc_conn *)conn;
	return 0;
}

int goc_accept(goc_listener *ln, goc_conn **out)
{
	return accept_conn(ln, NULL, out);
}

int goc_accept_ctx(goc_listener *ln, goc_ctx *ctx, goc_conn **out)
{
	return accept_conn(ln, ctx, out);
}

/* ---- deadlines, shutdown, close, accessors ---- */

static int set_deadline(struct net_fd *f, enum net_fd_kind kind, int directions, int64_t deadline,
			const char *what)
{
	int err = goc__net_fd_acquire(f, kind, what);
	if (err)
		return err;
	if (directions & GOC_FD_READ)
		goc__poll_desc_set_deadline(f->pd, POLL_READ, deadline);
	if (directions & GOC_FD_WRITE)
		goc__poll_desc_set_deadline(f->pd, POLL_WRITE, deadline);
	goc__net_fd_release(f);
	return 0;
}

int goc_conn_set_deadline(goc_conn *c, int64_t deadline)
{
	return set_deadline(c ? &c->nfd : NULL, NFD_KIND_CONN, GOC_FD_READ | GOC_FD_WRITE, deadline,
			    "goc_conn_set_deadline");
}

int goc_conn_set_read_deadline(goc_conn *c, int64_t deadline)
{
	return set_deadline(c ? &c->nfd : NULL, NFD_KIND_CONN, GOC_FD_READ, deadline,
			    "goc_conn_set_read_deadline");
}

int goc_conn_set_write_deadline(goc_conn *c, int64_t deadline)
{
	return set_deadline(c ? &c->nfd : NULL, NFD_KIND_CONN, GOC_FD_WRITE, deadline,
			    "goc_conn_set_write_deadline");
}

int goc_listener_set_deadline(goc_listener *ln, int64_t deadline)
{
	return set_deadline(ln ? &ln->nfd : NULL, NFD_KIND_LISTENER, GOC_FD_READ, deadline,
			    "goc_listener_set_deadline");
}

int goc_conn_shutdown(goc_conn *c, int how)
{
	static const int sys_how[4] = {-1, SHUT_RD, SHUT_WR, SHUT_RDWR};
	if (how < 1 || how > 3)
		return -EINVAL;
	struct net_fd *f = c ? &c->nfd : NULL;
	int err = goc__net_fd_acquire(f, NFD_KIND_CONN, "goc_conn_shutdown");
	if (err)
		return err;
	if (shutdown(f->fd, sys_how[how]) < 0)
		err = -errno;
	goc__net_fd_release(f);
	return err;
}

int goc_conn_close(goc_conn *c)
{
	return net_fd_close(c ? &c->nfd : NULL, NFD_KIND_CONN, "goc_conn_close");
}

int goc_listener_close(goc_listener *ln)
{
	return net_fd_close(ln ? &ln->nfd : NULL, NFD_KIND_LISTENER, "goc_listener_close");
}

static int net_fd_number(struct net_fd *f, enum net_fd_kind kind, const char *what)
{
	int err = goc__net_fd_acquire(f, kind, what);
	if (err)
		return err;
	int fd = f->fd;
	goc__net_fd_release(f);
	return fd;
}

int goc_conn_fd(goc_conn *c)
{
	return net_fd_number(c ? &c->nfd : NULL, NFD_KIND_CONN, "goc_conn_fd");
}

int goc_listener_fd(goc_listener *ln)
{
	return net_fd_number(ln ? &ln->nfd : NULL, NFD_KIND_LISTENER, "goc_listener_fd");
}

/* ---- any fd ---- */

static int poll_ready_now(int fd, int events)
{
	struct pollfd pfd = {.fd = fd,
			     .events = (short)(((events & GOC_FD_READ) ? POLLIN : 0) |
					       ((events & GOC_FD_WRITE) ? POLLOUT : 0))};
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (pfd.revents & POLLNVAL)
		return -EBADF;
	int ready = 0;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
		ready |= GOC_FD_READ;
	if (pfd.revents & (POLLOUT | POLLHUP | POLLERR))
		ready |= GOC_FD_WRITE;
	return ready & events;
}

int goc_fd_wait_ctx(int fd, int events, int64_t deadline, goc_ctx *ctx)
{
	if (events < GOC_FD_READ || events > (GOC_FD_READ | GOC_FD_WRITE) || fd < 0)
		return -EINVAL;
	int err = net_ctx_errno(ctx);
	if (err)
		return err;
	int ready = poll_ready_now(fd, events);
	if (ready)
		return ready;
	if (deadline && deadline <= goc_now())
		return -ETIMEDOUT;
	/* A private poll descriptor for this one wait: both directions wake
	 * its read slot when both were asked for. */
	bool both = events == (GOC_FD_READ | GOC_FD_WRITE);
	enum poll_mode mode = events == GOC_FD_WRITE ? POLL_WRITE : POLL_READ;
	poll_desc *pd = goc__poll_desc_open(fd, both, &err);
	if (!pd)
		return err;
	if (deadline)
		goc__poll_desc_set_deadline(pd, mode, deadline);
	do {
		err = goc__poll_desc_wait(pd, mode, ctx);
		/* A readiness notice may be stale (an edge the fd's owner
		 * consumed already): ask the fd itself. */
		ready = err ? 0 : poll_ready_now(fd, events);
	} while (!err && !ready);
	goc__poll_desc_close(pd, true);
	if (err)
		return err;
	return ready;
}

int goc_fd_wait(int fd, int events, int64_t deadline)
{
	return goc_fd_wait_ctx(fd, events, deadline, NULL);
}
