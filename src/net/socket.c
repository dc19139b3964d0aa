/*
 * socket.c — TCP (IPv4, IPv6) and Unix stream sockets: parsing network
 * and address strings, name resolution, goc_listen, goc_dial (a
 * non-blocking connect that parks on the poller), goc_conn_wrap, and the
 * formatting of socket addresses.
 *
 * Addresses are Go's: "host:port", "[v6]:port", ":port"; a path (or
 * "@name" for Linux's abstract namespace) for "unix". A literal IP is
 * parsed without any lookup; a host name is resolved with getaddrinfo in
 * a syscall section (goc_blocking): the lookup blocks the calling thread,
 * and sysmon hands its P to another thread meanwhile.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "netfd.h"

/* The most addresses of one name a dial tries. */
#define DIAL_MAX_ADDRS 8

struct sock_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* network -> address family (AF_UNSPEC for "tcp"), or -1. */
static int network_family(const char *network)
{
	if (!network)
		return -1;
	if (!strcmp(network, "tcp"))
		return AF_UNSPEC;
	if (!strcmp(network, "tcp4"))
		return AF_INET;
	if (!strcmp(network, "tcp6"))
		return AF_INET6;
	if (!strcmp(network, "unix"))
		return AF_UNIX;
	return -1;
}

static int unix_address(const char *path, struct sock_addr *out)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof sun->sun_path)
		return -EINVAL;
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len);
	if (path[0] == '@')
		sun->sun_path[0] = '\0'; /* abstract: the length delimits the name */
	out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] != '@'));
	return 1;
}

/* getaddrinfo's EAI_* codes as goc's: name-resolution failures get codes
 * of their own (an EAI_ code is not an errno: read as one, EAI_NONAME
 * would say "No such file or directory"). */
static int resolve_error(int rc)
{
	switch (rc) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return GOC_ENOHOST;
	case EAI_AGAIN:
		return GOC_EDNSAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return -errno;
	case EAI_SERVICE:
	case EAI_FAMILY:
	case EAI_SOCKTYPE:
	case EAI_BADFLAGS:
		return -EINVAL;
	default:
		return GOC_EDNSFAIL;
	}
}

/* Whether an IPv6 socket can be made here (a kernel booted without IPv6
 * has none). */
static bool ipv6_available(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A getaddrinfo call, run through goc_blocking. */
struct lookup {
	const char *node, *service;
	const struct addrinfo *hints;
	struct addrinfo **res;
	int rc;
};

static void *lookup_run(void *arg)
{
	struct lookup *l = arg;
	l->rc = getaddrinfo(l->node, l->service, l->hints, l->res);
	return NULL;
}

/*
 * Resolves address for family into out[0..max): returns how many (> 0) or
 * a negative errno. passive: for listening (an empty host means every
 * interface).
 */
static int resolve(int family, const char *address, bool passive, struct sock_addr *out, int max)
{
	if (!address)
		return -EINVAL;
	if (family == AF_UNIX)
		return unix_address(address, &out[0]);
	const char *colon = strrchr(address, ':');
	if (!colon || !colon[1])
		return -EINVAL;
	char host[256];
	size_t hlen = (size_t)(colon - address);
	const char *h = address;
	if (hlen >= 2 && address[0] == '[' && address[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	} else if (memchr(address, ':', hlen)) {
		return -EINVAL; /* an IPv6 literal needs brackets */
	}
	if (hlen >= sizeof host)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	struct addrinfo hints = {.ai_family = family,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					 (passive ? AI_PASSIVE : 0)};
	struct addrinfo *res = NULL;
	const char *node = hlen ? host : NULL;
	/* ":port" for "tcp" listens on "::", which takes IPv4 too (Linux's
	 * default bindv6only=0), as Go does; on a machine without IPv6 the
	 * lookup fails and 0.0.0.0 is used. */
	if (!node && family == AF_UNSPEC) {
		hints.ai_family = AF_INET6;
		if (getaddrinfo(NULL, colon + 1, &hints, &res) != 0 || !ipv6_available()) {
			if (res)
				freeaddrinfo(res);
			res = NULL;
			hints.ai_family = AF_INET;
		}
	}
	int rc = res ? 0 : getaddrinfo(node, colon + 1, &hints, &res);
	if (rc == EAI_NONAME && node) {
		/* Not a literal: a name lookup, which may take as long as the
		 * resolver does. */
		hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
		struct lookup l = {
			.node = node, .service = colon + 1, .hints = &hints, .res = &res};
		goc_blocking(lookup_run, &l);
		rc = l.rc;
	}
	if (rc != 0)
		return resolve_error(rc);
	int n = 0;
	for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof out[n].ss)
			continue;
		memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
		out[n].len = ai->ai_addrlen;
		n++;
	}
	freeaddrinfo(res);
	return n ? n : GOC_ENOHOST;
}

/* Formats a socket address as goc_listener_addr documents. */
static int format_addr(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN + 16];
	int n;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		n = snprintf(text, sizeof text, "%s:%u", ip, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		char ip[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		n = snprintf(text, sizeof text, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
		size_t plen = len > offsetof(struct sockaddr_un, sun_path)
			? len - offsetof(struct sockaddr_un, sun_path)
			: 0;
		if (plen && sun->sun_path[0] == '\0') {
			/* abstract: shown as @name */
			if (plen + 1 > size)
				return -ENOSPC;
			buf[0] = '@';
			memcpy(buf + 1, sun->sun_path + 1, plen - 1);
			buf[plen] = '\0';
			return (int)plen;
		}
		size_t l = strnlen(sun->sun_path, plen);
		if (l + 1 > size)
			return -ENOSPC;
		memcpy(buf, sun->sun_path, l);
		buf[l] = '\0';
		return (int)l;
	} else {
		return -EAFNOSUPPORT;
	}
	if ((size_t)n + 1 > size)
		return -ENOSPC;
	memcpy(buf, text, (size_t)n + 1);
	return n;
}

static int fd_addr(struct net_fd *f, enum net_fd_kind kind, bool peer, char *buf, size_t size,
		   const char *what)
{
	int err = goc__net_fd_acquire(f, kind, what);
	if (err)
		return err;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int rc = peer ? getpeername(f->fd, (struct sockaddr *)&ss, &len)
		      : getsockname(f->fd, (struct sockaddr *)&ss, &len);
	err = rc < 0 ? -errno : format_addr(&ss, len, buf, size);
	goc__net_fd_release(f);
	return err;
}

int goc_listener_addr(goc_listener *ln, char *buf, size_t size)
{
	return fd_addr(ln ? &ln->nfd : NULL, NFD_KIND_LISTENER, false, buf, size,
		       "goc_listener_addr");
}

int goc_conn_local_addr(goc_conn *c, char *buf, size_t size)
{
	return fd_addr(c ? &c->nfd : NULL, NFD_KIND_CONN, false, buf, size, "goc_conn_local_addr");
}

int goc_conn_remote_addr(goc_conn *c, char *buf, size_t size)
{
	return fd_addr(c ? &c->nfd : NULL, NFD_KIND_CONN, true, buf, size, "goc_conn_remote_addr");
}

/* ---- listen ---- */

int goc_listen(const char *network, const char *address, goc_listener **out)
{
	if (!out)
		goc__panic("goc_listen: NULL out parameter");
	*out = NULL;
	int family = network_family(network);
	if (family < 0)
		return -EINVAL;
	struct sock_addr addr;
	int err = resolve(family, address, true, &addr, 1);
	if (err < 0)
		return err;
	int fd = socket(addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (addr.ss.ss_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	}
	struct net_fd *f = NULL;
	if (bind(fd, (struct sockaddr *)&addr.ss, addr.len) < 0 || listen(fd, SOMAXCONN) < 0)
		err = -errno;
	else
		f = goc__net_fd_new(fd, addr.ss.ss_family, NFD_KIND_LISTENER, &err);
	if (!f) {
		close(fd);
		return err;
	}
	*out = (goc_listener *)f;
	return 0;
}

/* ---- dial ---- */

/* Connects a new socket to addr, parking until the handshake ends. */
static struct net_fd *dial_one(const struct sock_addr *addr, int64_t deadline, goc_ctx *ctx,
			       int *err)
{
	int family = addr->ss.ss_family;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	int rc;
	do
		rc = connect(fd, (const struct sockaddr *)&addr->ss, addr->len);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EINPROGRESS) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	struct net_fd *f = goc__net_fd_new(fd, family, NFD_KIND_CONN, err);
	if (!f) {
		close(fd);
		return NULL;
	}
	if (rc == 0)
		return f;
	goc__poll_desc_set_deadline(f->pd, POLL_WRITE, deadline);
	for (;;) {
		/* Writable means the handshake ended, one way or the other;
		 * SO_ERROR says which (a spurious wake-up leaves it pending). */
		*err = goc__poll_desc_wait(f->pd, POLL_WRITE, ctx);
		if (*err)
			break;
		int so_error = 0;
		socklen_t len = sizeof so_error;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0)
			so_error = errno;
		if (so_error == EINPROGRESS || so_error == EALREADY || so_error == EINTR)
			continue;
		if (so_error) {
			*err = -so_error;
			break;
		}
		struct sockaddr_storage peer;
		socklen_t plen = sizeof peer;
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
			goc__poll_desc_set_deadline(f->pd, POLL_WRITE, 0);
			return f;
		}
		if (errno != ENOTCONN) {
			*err = -errno;
			break;
		}
	}
	goc__net_fd_discard(f);
	return NULL;
}

static int dial(const char *network, const char *address, int64_t deadline, goc_ctx *ctx,
		goc_conn **out)
{
	if (!out)
		goc__panic("goc_dial: NULL out parameter");
	*out = NULL;
	int family = network_family(network);
	if (family < 0)
		return -EINVAL;
	int err = net_ctx_errno(ctx);
	if (err)
		return err;
	struct sock_addr addrs[DIAL_MAX_ADDRS];
	int n = resolve(family, address, false, addrs, DIAL_MAX_ADDRS);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct net_fd *f = dial_one(&addrs[i], deadline, ctx, &err);
		if (f) {
			*out = (goc_conn *)f;
			return 0;
		}
		/* The deadline and the context end the dial; a refused or
		 * unreachable address moves on to the next. */
		if (err == -ETIMEDOUT || err == -ECANCELED)
			break;
	}
	return err;
}

int goc_dial(const char *network, const char *address, int64_t deadline, goc_conn **out)
{
	return dial(network, address, deadline, NULL, out);
}

int goc_dial_ctx(const char *network, const char *address, goc_ctx *ctx, goc_conn **out)
{
	return dial(network, address, 0, ctx, out);
}

int goc_conn_wrap(int fd, goc_conn **out)
{
	if (!out)
		goc__panic("goc_conn_wrap: NULL out parameter");
	*out = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int family = getsockname(fd, (struct sockaddr *)&ss, &len) == 0 ? ss.ss_family : 0;
	int err;
	struct net_fd *f = goc__net_fd_new(fd, family, NFD_KIND_CONN, &err);
	if (!f)
		return err;
	*out = (goc_conn *)f;
	return 0;
}
