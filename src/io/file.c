/*
 * file.c — files from goroutines (goc/io.h): open, close, stat and
 * read-all, each system call in a syscall section of its own.
 *
 * Invariants:
 *  - errno is read inside the section, on the thread that made the call,
 *    and returned negated: the goroutine may leave goc_syscall_exit on
 *    another thread, and no public call here sets errno.
 *  - No allocation inside a section: goc's heap may serve malloc from the
 *    P's cache, which a goroutine in a section does not hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <goc.h>

int goc_file_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	goc_syscall_enter();
	int fd;
	do
		fd = openat(dirfd, path, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		fd = -errno;
	goc_syscall_exit();
	return fd;
}

int goc_file_open(const char *path, int flags, mode_t mode)
{
	return goc_file_openat(AT_FDCWD, path, flags, mode);
}

int goc_file_close(int fd)
{
	goc_syscall_enter();
	/* Linux has released the descriptor even when close reports EINTR:
	 * closing again could close someone else's new one. */
	int err = close(fd) < 0 && errno != EINTR ? -errno : 0;
	goc_syscall_exit();
	return err;
}

int goc_file_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	goc_syscall_enter();
	int err = fstatat(dirfd, path, st, flags) < 0 ? -errno : 0;
	goc_syscall_exit();
	return err;
}

int goc_file_stat(const char *path, struct stat *st)
{
	return goc_file_fstatat(AT_FDCWD, path, st, 0);
}

int goc_file_fstat(int fd, struct stat *st)
{
	goc_syscall_enter();
	int err = fstat(fd, st) < 0 ? -errno : 0;
	goc_syscall_exit();
	return err;
}

/* ---- read-all ---- */

/* Reads into buf[*len..cap) until it is full or the file ends, in one
 * section; *eof tells which. 0 or a negative errno. */
static int read_into(int fd, char *buf, size_t cap, size_t *len, bool *eof)
{
	int err = 0;
	*eof = false;
	goc_syscall_enter();
	while (*len < cap) {
		ssize_t got = read(fd, buf + *len, cap - *len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (got == 0) {
			*eof = true;
			break;
		}
		*len += (size_t)got;
	}
	goc_syscall_exit();
	return err;
}

/* Room for a file stat says has size bytes, its NUL and one more byte
 * (which tells whether it ended where stat said). */
static int first_capacity(const struct stat *st, size_t max, size_t *cap)
{
	if (st->st_size <= 0) {
		*cap = 4096; /* unknown size: /proc, a pipe, a device */
		return 0;
	}
	if ((uintmax_t)st->st_size > (max ? max : SIZE_MAX - 2))
		return -EFBIG;
	*cap = (size_t)st->st_size + 1;
	return 0;
}

static int read_all_fd(int fd, size_t max, char **data, size_t *len)
{
	struct stat st;
	int err = goc_file_fstat(fd, &st);
	if (err)
		return err;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return -EINVAL;
	size_t cap;
	if ((err = first_capacity(&st, max, &cap)) != 0)
		return err;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	for (;;) {
		bool eof;
		if ((err = read_into(fd, buf, cap, &got, &eof)) != 0)
			break;
		if (max && got > max) {
			err = -EFBIG;
			break;
		}
		if (eof)
			break;
		/* Longer than stat said (it grows, or stat did not know). */
		size_t more = cap < SIZE_MAX / 4 ? cap * 2 : SIZE_MAX - 2;
		if (max && more > max + 1)
			more = max + 1;
		if (more <= cap) {
			err = -EFBIG;
			break;
		}
		char *bigger = realloc(buf, more + 1);
		if (!bigger) {
			err = -ENOMEM;
			break;
		}
		buf = bigger;
		cap = more;
	}
	if (err) {
		free(buf);
		return err;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}

int goc_file_read_all_at(int dirfd, const char *path, size_t max, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int fd = goc_file_openat(dirfd, path, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	int err = read_all_fd(fd, max, data, len);
	goc_file_close(fd);
	return err;
}

int goc_file_read_all(const char *path, size_t max, char **data, size_t *len)
{
	return goc_file_read_all_at(AT_FDCWD, path, max, data, len);
}
