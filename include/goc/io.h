/*
 * goc/io.h — files and directories from goroutines, and blocking work
 * that a context can abandon.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * Each call below that makes a system call makes it in a syscall section
 * of its own (goc/syscall.h): the goroutine lends its P out for that call
 * only, so a directory walker can send each entry on a channel between
 * two calls, which is forbidden inside a section. The read and write
 * helpers (goc_file_read, goc_file_pread, goc_file_write,
 * goc_file_pwrite) are declared in goc/syscall.h.
 *
 * Errors follow goc.h's rule: a negative errno, never errno (the
 * goroutine may come back from a section on another thread). Descriptors
 * are opened with O_CLOEXEC.
 *
 *     goc_dir *d;
 *     int err = goc_dir_open("/srv/data", &d);
 *     goc_dirent e;
 *     while (err == 0 && (err = goc_dir_read(d, &e)) > 0) {
 *         err = 0;
 *         goc_chan_send(names, &(char *){strdup(e.name)});
 *     }
 *     goc_dir_close(d);
 */
#ifndef GOC_IO_H
#define GOC_IO_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/io.h>"
#endif

#include <sys/stat.h>
#include <sys/types.h>

/* ---- files ---- */

/* open(2) / openat(2) with O_CLOEXEC added: the descriptor, or a negative
 * errno (-ENOENT, -EACCES, -EMFILE, ...). A FIFO opened for reading
 * without O_NONBLOCK waits for a writer, on this goroutine's thread only. */
int goc_file_open(const char *path, int flags, mode_t mode);
int goc_file_openat(int dirfd, const char *path, int flags, mode_t mode);

/* close(2): 0 or a negative errno. The descriptor is closed either way
 * (Linux); an EINTR is reported as 0. */
int goc_file_close(int fd);

/* stat(2), fstat(2), fstatat(2) (flags: AT_SYMLINK_NOFOLLOW, ...): 0 with
 * *st filled, or a negative errno. */
int goc_file_stat(const char *path, struct stat *st);
int goc_file_fstat(int fd, struct stat *st);
int goc_file_fstatat(int dirfd, const char *path, struct stat *st, int flags);

/*
 * Go's os.ReadFile: the whole of the file at path (relative to dirfd for
 * the _at form; AT_FDCWD for the current directory) into *data, a
 * malloc'd buffer the caller frees, with a NUL after the *len bytes (so a
 * text file is a C string). Files whose size stat does not know (/proc)
 * are read to their end. max > 0 refuses a file longer than max with
 * -EFBIG (0: no limit but memory). Returns 0, or a negative errno with
 * *data NULL and *len 0: -EISDIR for a directory, -EINVAL for what is not
 * a regular file, a pipe or a character device (a socket, say), -ENOMEM.
 * A few system calls, each in a section of its own; the allocation is
 * made outside them.
 */
int goc_file_read_all(const char *path, size_t max, char **data, size_t *len);
int goc_file_read_all_at(int dirfd, const char *path, size_t max, char **data, size_t *len);

/* ---- directories ---- */

/*
 * A directory stream, as readdir(3) but with goc's rules: entries are
 * read in batches by getdents64(2), one syscall section per batch, and
 * handed out one by one without a system call. "." and ".." are left
 * out (as Go's ReadDir). Not for two goroutines at once.
 */
typedef struct goc_dir goc_dir;

typedef struct goc_dirent {
	const char *name; /* valid until the next goc_dir_read or the close */
	ino_t ino;
	unsigned char type; /* DT_REG, DT_DIR, DT_LNK, ...; DT_UNKNOWN when the
			       file system does not say: ask goc_file_fstatat */
} goc_dirent;

/* Opens the directory at path (relative to dirfd for the _at form): 0
 * with *out set, or a negative errno (-ENOTDIR for a file, -ENOENT,
 * -EMFILE, -ENOMEM) with *out NULL. */
int goc_dir_open(const char *path, goc_dir **out);
int goc_dir_openat(int dirfd, const char *path, goc_dir **out);

/* The next entry: 1 with *ent filled, 0 at the end of the directory, or a
 * negative errno. */
int goc_dir_read(goc_dir *d, goc_dirent *ent);

/* The stream's descriptor, for goc_file_openat / goc_file_fstatat /
 * goc_dir_openat relative to the directory. It belongs to the stream. */
int goc_dir_fd(goc_dir *d);

/* Closes the descriptor and frees the stream: 0 or a negative errno. NULL
 * does nothing. */
int goc_dir_close(goc_dir *d);

/* ---- blocking work a context can abandon ---- */

/*
 * Runs fn(arg) in a syscall section (as goc_blocking), on a goroutine of
 * its own, and waits for it or for ctx's end, whichever comes first.
 *  - fn returned first: GOC_OK, with *result (if not NULL) its result;
 *    arg and the result are the caller's.
 *  - ctx ended first: ctx's error (GOC_CANCELED, GOC_TIMEOUT) at once. fn
 *    is not stopped — C cannot stop a blocked call — it runs on, and when
 *    it returns drop(result, arg) is called on its goroutine, outside the
 *    section, to release what fn made and arg.
 *  - ctx had ended already: its error; fn is not run, drop(NULL, arg) is
 *    called before the return. -ENOMEM or -EAGAIN (goc_go's errors): the
 *    same.
 * So on any return but GOC_OK, arg belongs to drop, which is called
 * exactly once (drop NULL: nothing is called); allocate arg, and free it
 * in drop and after a GOC_OK. fn runs on another thread than the caller's:
 * errno and thread-locals are its own (return what it needs in its
 * result). Inside it the rules of a syscall section hold (no channel
 * operation, no goc_sleep). fn or ctx NULL panics. The goroutine is named
 * "goc_blocking_ctx".
 */
goc_status goc_blocking_ctx(goc_ctx *ctx, void *(*fn)(void *arg), void *arg,
			    void (*drop)(void *result, void *arg), void **result);

#endif /* GOC_IO_H */
