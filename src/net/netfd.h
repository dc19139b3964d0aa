/*
 * netfd.h — the object behind goc_conn and goc_listener (fd.c), and what
 * the socket layer (socket.c) needs from it.
 *
 *   net_fd: [magic | fd | family | state | inq_hint | read_drained | pd | read_lock | write_lock | next_free]
 *
 * A net_fd owns an fd registered with the poller. `state` counts the
 * references (the handle's own, until it is closed, plus one per call in
 * progress) in units of NFD_REF, with NFD_CLOSED as its low bit: a call
 * takes a reference with one CAS that fails once the bit is set, so no
 * call starts on a closed handle, and the fd is closed by whoever drops
 * the last reference, never while a call may still use it (the fd number
 * could be reused by then). Memory is recycled through a free list, never
 * freed, with magic marking live objects of each kind.
 *
 * A TCP connection asks the kernel, with every read, how many bytes are
 * left queued (TCP_INQ). When a read leaves none, read_drained is set and
 * the next read parks at once unless an edge arrived since (the poll
 * descriptor's READY), skipping the read that would only say EAGAIN:
 * every byte that arrives after the draining read raises a new edge,
 * because the notice of the earlier ones was forgotten before that read
 * (goc__poll_desc_prepare). A reset or a local shutdown raises no edge after
 * the data it follows, so once the poller has reported a hang-up or an
 * error (goc__poll_desc_hung_up) reads are never skipped.
 */
#ifndef GOC_NET_NETFD_H
#define GOC_NET_NETFD_H

#include <errno.h>
#include <sys/socket.h>

#include "netpoll.h"

enum net_fd_kind {
	NFD_KIND_CONN = 0x6e6e6f63,     /* "conn" */
	NFD_KIND_LISTENER = 0x6e74736c, /* "lstn" */
	NFD_KIND_DEAD = 0x64616564,     /* "dead": closed and released */
};

#define NFD_CLOSED 1u
#define NFD_REF 2u

struct net_fd {
	uint32_t magic; /* atomic: enum net_fd_kind */
	int fd;
	int family;        /* AF_INET, AF_INET6, AF_UNIX, or 0 (not a socket) */
	uint32_t state;    /* atomic: references * NFD_REF | NFD_CLOSED */
	bool inq_hint;     /* set at creation: reads learn the bytes left (TCP_INQ) */
	bool read_drained; /* read_lock: the last read left nothing queued */
	poll_desc *pd;
	goc_mutex read_lock;      /* serializes reads (and accepts) */
	goc_mutex write_lock;     /* serializes writes */
	struct net_fd *next_free; /* free-list lock */
};

struct goc_conn {
	struct net_fd nfd;
};

struct goc_listener {
	struct net_fd nfd;
};

/* Makes a net_fd of kind owning fd (made non-blocking here) and registers
 * it with the poller; NULL with *err = -errno (fd is left open). */
struct net_fd *goc__net_fd_new(int fd, int family, enum net_fd_kind kind, int *err);
/* Takes a reference for a call named what: 0, or -EBADF if the handle is
 * closed. Panics on NULL or on memory that is not a live handle of kind. */
int goc__net_fd_acquire(struct net_fd *f, enum net_fd_kind kind, const char *what);
void goc__net_fd_release(struct net_fd *f);
/* Frees f at once: for a net_fd no other thread has seen (a dial or accept
 * that failed after goc__net_fd_new); closes its fd. */
void goc__net_fd_discard(struct net_fd *f);

#endif
