/*
 * dir.c — directory streams for goroutines (goc/io.h): getdents64(2) in
 * batches, one syscall section per batch, entries handed out from the
 * batch without a system call.
 *
 * Invariants: buf[pos..end) holds the linux_dirent64 records of the last
 * batch not yet handed out; a goc_dir is used by one goroutine at a time
 * (the caller's promise, as for a FILE without locking).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../sched/runtime.h"

/* A batch: large enough that a directory of a few hundred entries is one
 * section, small enough to keep per open stream. */
#define DIR_BUF 32768

struct goc_dir {
	int fd;
	size_t pos, end;
	/* linux_dirent64 records, as getdents64 writes them (8-aligned). */
	_Alignas(8) char buf[DIR_BUF];
};

/* The kernel's record; glibc exposes it only through readdir. */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int goc_dir_openat(int dirfd, const char *path, goc_dir **out)
{
	*out = NULL;
	goc_dir *d = malloc(sizeof *d);
	if (!d)
		return -ENOMEM;
	int fd = goc_file_openat(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		free(d);
		return fd;
	}
	d->fd = fd;
	d->pos = d->end = 0;
	*out = d;
	return 0;
}

int goc_dir_open(const char *path, goc_dir **out)
{
	return goc_dir_openat(AT_FDCWD, path, out);
}

/* The next batch, in a section of its own: its size (0 at the end) or a
 * negative errno. */
static ssize_t refill(goc_dir *d)
{
	goc_syscall_enter();
	long got;
	do
		got = syscall(SYS_getdents64, d->fd, d->buf, sizeof d->buf);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		got = -errno;
	goc_syscall_exit();
	return got;
}

int goc_dir_read(goc_dir *d, goc_dirent *ent)
{
	if (!d)
		goc__panic("goc_dir_read: NULL directory");
	for (;;) {
		if (d->pos >= d->end) {
			ssize_t got = refill(d);
			if (got <= 0)
				return (int)got;
			d->pos = 0;
			d->end = (size_t)got;
		}
		const struct linux_dirent64 *r = (const void *)(d->buf + d->pos);
		d->pos += r->d_reclen;
		if (r->d_name[0] == '.' &&
		    (r->d_name[1] == '\0' || (r->d_name[1] == '.' && r->d_name[2] == '\0')))
			continue;
		ent->name = r->d_name;
		ent->ino = (ino_t)r->d_ino;
		ent->type = r->d_type;
		return 1;
	}
}

int goc_dir_fd(goc_dir *d)
{
	if (!d)
		goc__panic("goc_dir_fd: NULL directory");
	return d->fd;
}

int goc_dir_close(goc_dir *d)
{
	if (!d)
		return 0;
	int err = goc_file_close(d->fd);
	free(d);
	return err;
}
