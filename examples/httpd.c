/*
 * httpd.c — a small file server on goc_http_serve.
 *
 *     httpd [ADDR [ROOT]]        (defaults: 127.0.0.1:8080 and .)
 *
 * GET /hello answers "hello". Any other GET or HEAD serves the regular
 * file at that path under ROOT (percent-escapes decoded), as Go's
 * http.FileServer does: Content-Type by extension, Last-Modified and ETag
 * with If-Modified-Since / If-None-Match (304) and If-Match /
 * If-Unmodified-Since (412), Range with single and
 * multiple ranges (206, multipart/byteranges; 416) and If-Range; a
 * directory serves its index.html. HEAD reads nothing of the file. The
 * body is exactly the length announced, even if the file grows meanwhile.
 * 404 for what is missing or not a regular file (a FIFO is opened
 * non-blocking and refused), 403 when not readable, 400 for a bad escape
 * or a "." or ".." segment, 414 for a path too long, 503 when the process
 * is out of descriptors (a 404 there would be cached). Files are opened
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) relative to ROOT, so
 * no path and no symbolic link leads out of it, in goc_blocking (opening
 * can block on a slow file system); reads are goc_file_pread. SIGINT or
 * SIGTERM (goc_ctx_with_signals) shut the server down gracefully:
 * requests in flight get 5 s, then their connections are cut.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <goc.h>

static int root_fd;

struct content_type {
	const char *extension;
	const char *type;
};

static const struct content_type content_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".htm", "text/html; charset=utf-8"},
	{".txt", "text/plain; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".json", "application/json"},
	{".png", "image/png"},
	{".jpg", "image/jpeg"},
	{".jpeg", "image/jpeg"},
	{".gif", "image/gif"},
	{".svg", "image/svg+xml"},
	{".pdf", "application/pdf"},
};

static const char *content_type_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++)
			if (strcasecmp(dot, content_types[i].extension) == 0)
				return content_types[i].type;
	return "application/octet-stream";
}

/* Whether path (starting with '/') has a "." or ".." segment. */
static bool has_dot_segment(const char *path)
{
	for (const char *seg = path; seg; seg = strchr(seg + 1, '/')) {
		const char *s = seg + 1;
		size_t len = strcspn(s, "/");
		if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
			return true;
	}
	return false;
}

static void reply(goc_http_exchange *x, int status, const char *text)
{
	goc_http_set_status(x, status);
	goc_http_add_header(x, "Content-Type", "text/plain; charset=utf-8");
	goc_http_write(x, text, strlen(text));
}

/* The answer to a failed open or stat: what the client can do about it. */
static void reply_errno(goc_http_exchange *x, int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ELOOP:  /* a symbolic link (RESOLVE_NO_SYMLINKS) */
	case EXDEV:  /* a path leading out of the root (RESOLVE_BENEATH) */
	case ENXIO:  /* a socket or a FIFO without a writer */
	case ENODEV: /* a device */
		reply(x, 404, "not found\n");
		break;
	case EACCES:
	case EPERM:
		reply(x, 403, "forbidden\n");
		break;
	case ENAMETOOLONG:
		reply(x, 414, "path too long\n");
		break;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		/* Out of descriptors or memory: the file may well exist, so
		 * not a 404 (which caches would keep); retry later. */
		goc_http_add_header(x, "Retry-After", "1");
		reply(x, 503, "busy, retry\n");
		break;
	default:
		reply(x, 500, "cannot read the file\n");
		break;
	}
}

struct open_call {
	const char *path;
	int result; /* an fd or -errno */
};

/* openat2 may block (a slow or network file system): run in a syscall
 * section through goc_blocking, so the P serves other goroutines. */
static void *open_blocking(void *arg)
{
	struct open_call *call = arg;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. Regular files
	 * ignore it; anything else is refused after the fstat. */
	struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
	long fd = syscall(SYS_openat2, root_fd, call->path, &how, sizeof how);
	call->result = fd < 0 ? -errno : (int)fd;
	return NULL;
}

/* Opens path (relative to the root) without leaving it: -errno or an fd. */
static int open_beneath(const char *path)
{
	struct open_call call = {path, 0};
	goc_blocking(open_blocking, &call);
	return call.result;
}

/* Turns the request path (starting with '/') into a NUL-terminated file
 * path in out, decoding %XX. false for a bad or NUL escape. */
static bool decode_path(goc_http_str in, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < in.len; i++) {
		char c = in.ptr[i];
		if (c == '%') {
			if (in.len - i < 3 || !isxdigit((unsigned char)in.ptr[i + 1]) ||
			    !isxdigit((unsigned char)in.ptr[i + 2]))
				return false;
			char hex[3] = {in.ptr[i + 1], in.ptr[i + 2], '\0'};
			c = (char)strtol(hex, NULL, 16);
			if (c == '\0')
				return false;
			i += 2;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

/* ---- conditional and range requests (RFC 9110 13 and 14) ---- */

/* The entity tag of a file: its modification time and size. */
static void etag_of(const struct stat *st, char *out, size_t size)
{
	snprintf(out, size, "\"%llx-%llx\"",
		 (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec,
		 (long long)st->st_size);
}

/* Whether the If-None-Match list holds etag (weak comparison) or "*". */
static bool etag_listed(goc_http_str list, const char *etag)
{
	size_t n = strlen(etag);
	for (size_t i = 0; i < list.len;) {
		while (i < list.len && (list.ptr[i] == ' ' || list.ptr[i] == ','))
			i++;
		if (i < list.len && list.ptr[i] == '*')
			return true;
		if (list.len - i >= 2 && memcmp(list.ptr + i, "W/", 2) == 0)
			i += 2;
		if (list.len - i >= n && memcmp(list.ptr + i, etag, n) == 0)
			return true;
		while (i < list.len && list.ptr[i] != ',')
			i++;
	}
	return false;
}

/* An HTTP-date (IMF-fixdate) as a Unix time; -1 if it is not one. */
static int64_t parse_http_date(goc_http_str s)
{
	char text[64];
	if (!s.ptr || s.len >= sizeof text)
		return -1;
	memcpy(text, s.ptr, s.len);
	text[s.len] = '\0';
	struct tm tm = {0};
	const char *end = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return end && *end == '\0' ? (int64_t)timegm(&tm) : -1;
}

/* If-Match (strong comparison, or "*") and, without it,
 * If-Unmodified-Since: false when the client's copy is not this file
 * (412 Precondition Failed). */
static bool preconditions_hold(const goc_http_request *r, const struct stat *st, const char *etag)
{
	goc_http_str im = goc_http_request_header(r, "If-Match");
	if (im.ptr) {
		size_t n = strlen(etag);
		for (size_t i = 0; i < im.len;) {
			while (i < im.len && (im.ptr[i] == ' ' || im.ptr[i] == ','))
				i++;
			if (i < im.len && im.ptr[i] == '*')
				return true;
			if (im.len - i >= n && memcmp(im.ptr + i, etag, n) == 0)
				return true;
			while (i < im.len && im.ptr[i] != ',')
				i++;
		}
		return false;
	}
	int64_t since = parse_http_date(goc_http_request_header(r, "If-Unmodified-Since"));
	return since < 0 || st->st_mtim.tv_sec <= since;
}

/* The response to a conditional GET or HEAD: whether it is 304 Not Modified. */
static bool not_modified(const goc_http_request *r, const struct stat *st, const char *etag)
{
	goc_http_str inm = goc_http_request_header(r, "If-None-Match");
	if (inm.ptr)
		return etag_listed(inm, etag);
	int64_t since = parse_http_date(goc_http_request_header(r, "If-Modified-Since"));
	return since >= 0 && st->st_mtim.tv_sec <= since;
}

#define MAX_RANGES 16

struct byte_range {
	int64_t start, length;
};

enum range_result { RANGE_NONE, RANGE_OK, RANGE_INVALID, RANGE_UNSATISFIABLE };

static bool parse_int(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n > 18)
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * Reads "bytes=a-b, c-, -n" against a file of size bytes, as Go's
 * http.ServeContent: ranges starting past the end are dropped (all of
 * them: unsatisfiable), ends are clipped, a malformed header is INVALID
 * (416 as in Go), and ranges adding up to more than the file (overlaps)
 * or more than MAX_RANGES are ignored (RANGE_NONE: the whole file).
 */
static enum range_result parse_ranges(goc_http_str h, int64_t size, struct byte_range *out,
				      int *count)
{
	*count = 0;
	if (!h.ptr)
		return RANGE_NONE;
	if (h.len < 6 || memcmp(h.ptr, "bytes=", 6) != 0)
		return RANGE_INVALID;
	bool dropped = false;
	int64_t sum = 0;
	for (size_t i = 6; i < h.len;) {
		size_t end = i;
		while (end < h.len && h.ptr[end] != ',')
			end++;
		size_t a = i, b = end;
		i = end + 1;
		while (a < b && (h.ptr[a] == ' ' || h.ptr[a] == '\t'))
			a++;
		while (b > a && (h.ptr[b - 1] == ' ' || h.ptr[b - 1] == '\t'))
			b--;
		if (a == b)
			continue;
		const char *dash = memchr(h.ptr + a, '-', b - a);
		if (!dash)
			return RANGE_INVALID;
		size_t d = (size_t)(dash - h.ptr);
		int64_t first, last;
		struct byte_range r;
		if (d == a) {
			if (!parse_int(h.ptr + d + 1, b - d - 1, &last))
				return RANGE_INVALID;
			if (last == 0 || size == 0) {
				dropped = true;
				continue;
			}
			r.length = last < size ? last : size;
			r.start = size - r.length;
		} else {
			if (!parse_int(h.ptr + a, d - a, &first))
				return RANGE_INVALID;
			if (d + 1 == b) {
				last = size - 1;
			} else if (!parse_int(h.ptr + d + 1, b - d - 1, &last) || last < first) {
				return RANGE_INVALID;
			}
			if (first >= size) {
				dropped = true;
				continue;
			}
			if (last >= size)
				last = size - 1;
			r = (struct byte_range){first, last - first + 1};
		}
		if (*count == MAX_RANGES)
			return RANGE_NONE;
		sum += r.length;
		out[(*count)++] = r;
	}
	if (*count == 0)
		return dropped ? RANGE_UNSATISFIABLE : RANGE_INVALID;
	if (sum > size)
		return RANGE_NONE;
	return RANGE_OK;
}

/* If-Range: the ranges apply only if the file is still the one the
 * client has part of (strong ETag, or exactly its Last-Modified). */
static bool if_range_holds(const goc_http_request *r, const struct stat *st, const char *etag)
{
	goc_http_str h = goc_http_request_header(r, "If-Range");
	if (!h.ptr)
		return true;
	if (h.len > 0 && h.ptr[0] == '"')
		return h.len == strlen(etag) && memcmp(h.ptr, etag, h.len) == 0;
	return parse_http_date(h) == st->st_mtim.tv_sec;
}

/* ---- sending file bytes ---- */

/* Sends exactly length bytes of fd from offset: the length announced,
 * even if the file grows or shrinks meanwhile (a shrunk file leaves the
 * body short, and the server closes the connection). false when the
 * file or the connection failed. */
static bool send_file_range(goc_http_exchange *x, int fd, int64_t offset, int64_t length)
{
	char buf[32 << 10];
	while (length > 0) {
		size_t want = length < (int64_t)sizeof buf ? (size_t)length : sizeof buf;
		ssize_t n = goc_file_pread(fd, buf, want, offset);
		if (n <= 0 || goc_http_write(x, buf, (size_t)n) < 0)
			return false;
		offset += n;
		length -= n;
	}
	return true;
}

#define BOUNDARY "goc-httpd-3d6b8f0e5a4c9127"

/* The head of one part of a multipart/byteranges body. */
static int part_head(char *out, size_t size, bool first, const char *type,
		     const struct byte_range *r, int64_t file_size)
{
	return snprintf(out, size,
			"%s--" BOUNDARY
			"\r\nContent-Type: %s\r\nContent-Range: bytes %lld-%lld/%lld"
			"\r\n\r\n",
			first ? "" : "\r\n", type, (long long)r->start,
			(long long)(r->start + r->length - 1), (long long)file_size);
}

static void serve_ranges(goc_http_exchange *x, bool head, int fd, const struct stat *st,
			 const char *type, const struct byte_range *ranges, int count)
{
	char line[256];
	goc_http_set_status(x, 206);
	if (count == 1) {
		snprintf(line, sizeof line, "bytes %lld-%lld/%lld", (long long)ranges[0].start,
			 (long long)(ranges[0].start + ranges[0].length - 1),
			 (long long)st->st_size);
		goc_http_add_header(x, "Content-Range", line);
		goc_http_add_header(x, "Content-Type", type);
		goc_http_set_length(x, ranges[0].length);
		if (!head)
			send_file_range(x, fd, ranges[0].start, ranges[0].length);
		return;
	}
	static const char closing[] = "\r\n--" BOUNDARY "--\r\n";
	int64_t length = (int64_t)sizeof closing - 1;
	for (int i = 0; i < count; i++)
		length += part_head(line, sizeof line, i == 0, type, &ranges[i], st->st_size) +
			ranges[i].length;
	goc_http_add_header(x, "Content-Type", "multipart/byteranges; boundary=" BOUNDARY);
	goc_http_set_length(x, length);
	if (head)
		return;
	for (int i = 0; i < count; i++) {
		int n = part_head(line, sizeof line, i == 0, type, &ranges[i], st->st_size);
		if (goc_http_write(x, line, (size_t)n) < 0 ||
		    !send_file_range(x, fd, ranges[i].start, ranges[i].length))
			return;
	}
	goc_http_write(x, closing, sizeof closing - 1);
}

static void serve_file(goc_http_exchange *x, const char *path)
{
	const goc_http_request *r = goc_http_req(x);
	bool head = r->method.len == 4 && memcmp(r->method.ptr, "HEAD", 4) == 0;
	int fd = open_beneath(*path ? path : ".");
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		char index[PATH_MAX];
		int n = snprintf(index, sizeof index, "%s%sindex.html", path, *path ? "/" : "");
		if (n < 0 || (size_t)n >= sizeof index) {
			reply(x, 414, "path too long\n");
			return;
		}
		fd = open_beneath(index);
		path = "index.html";
	}
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int err = fd < 0 ? -fd : ENOENT; /* not a regular file: a FIFO, a device... */
		if (fd >= 0)
			close(fd);
		reply_errno(x, err);
		return;
	}
	const char *type = content_type_of(path);
	char etag[64], modified[GOC_HTTP_DATE_SIZE];
	etag_of(&st, etag, sizeof etag);
	goc_http_date_format(st.st_mtim.tv_sec, modified);
	goc_http_add_header(x, "ETag", etag);
	goc_http_add_header(x, "Last-Modified", modified);
	goc_http_add_header(x, "Accept-Ranges", "bytes");
	if (!preconditions_hold(r, &st, etag)) {
		close(fd);
		reply(x, 412, "precondition failed\n");
		return;
	}
	if (not_modified(r, &st, etag)) {
		goc_http_set_status(x, 304);
		close(fd);
		return;
	}
	struct byte_range ranges[MAX_RANGES];
	int count;
	enum range_result rr =
		parse_ranges(goc_http_request_header(r, "Range"), st.st_size, ranges, &count);
	if (rr != RANGE_NONE && !if_range_holds(r, &st, etag))
		rr = RANGE_NONE;
	if (rr == RANGE_OK) {
		serve_ranges(x, head, fd, &st, type, ranges, count);
	} else if (rr != RANGE_NONE) {
		char range[64];
		snprintf(range, sizeof range, "bytes */%lld", (long long)st.st_size);
		goc_http_add_header(x, "Content-Range", range);
		reply(x, 416, "range not satisfiable\n");
	} else {
		goc_http_add_header(x, "Content-Type", type);
		goc_http_set_length(x, st.st_size);
		if (!head) /* HEAD: the length is all it needs; nothing is read */
			send_file_range(x, fd, 0, st.st_size);
	}
	close(fd);
}

static void handle(goc_http_exchange *x, void *user)
{
	(void)user;
	const goc_http_request *r = goc_http_req(x);
	bool get = r->method.len == 3 && memcmp(r->method.ptr, "GET", 3) == 0;
	bool head = r->method.len == 4 && memcmp(r->method.ptr, "HEAD", 4) == 0;
	char path[PATH_MAX];
	if (!get && !head) {
		goc_http_add_header(x, "Allow", "GET, HEAD");
		reply(x, 405, "method not allowed\n");
	} else if (r->path.len == 0 || r->path.ptr[0] != '/') {
		reply(x, 400, "bad path\n");
	} else if (r->path.len >= sizeof path) {
		reply(x, 414, "path too long\n");
	} else if (!decode_path(r->path, path) || has_dot_segment(path)) {
		reply(x, 400, "bad path\n");
	} else if (strcmp(path, "/hello") == 0) {
		reply(x, 200, "hello\n");
	} else {
		serve_file(x, path + 1);
	}
}

/* The signals that end the server, gracefully. */
static const int stop_signals[] = {SIGINT, SIGTERM};

static void run(void *arg)
{
	char **argv = arg;
	const char *addr = argv[1] ? argv[1] : "127.0.0.1:8080";
	const char *root = argv[1] && argv[2] ? argv[2] : ".";
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		fprintf(stderr, "httpd: %s: %s\n", root, strerror(errno));
		exit(1);
	}
	goc_listener *ln;
	int err = goc_listen("tcp", addr, &ln);
	if (err) {
		fprintf(stderr, "httpd: listen on %s: %s\n", addr, strerror(-err));
		exit(1);
	}
	char bound[128];
	goc_listener_addr(ln, bound, sizeof bound);
	fprintf(stderr, "httpd: serving %s on http://%s/\n", root, bound);

	/* Go's signal.NotifyContext: SIGINT or SIGTERM cancels shutdown. */
	goc_ctx *shutdown = goc_ctx_with_signals(goc_ctx_background(), stop_signals, 2);
	if (!shutdown) {
		fprintf(stderr, "httpd: signals: %s\n", strerror(errno));
		exit(1);
	}
	/* Facing any client: a slow head is cut after 10 s, an idle
	 * connection after 60 s, a download that stalls for 30 s (however
	 * long a moving one takes); connections are capped below the fd
	 * limit so that files can still be opened in a flood. */
	struct rlimit nofile;
	int max_conns = 0;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
		max_conns = nofile.rlim_cur > 256 ? (int)(nofile.rlim_cur - 128)
						  : (int)(nofile.rlim_cur / 2);
	goc_http_server_options opts = {.shutdown = shutdown,
					.read_header_timeout = 10 * GOC_SECOND,
					.idle_timeout = 60 * GOC_SECOND,
					.write_progress_timeout = 30 * GOC_SECOND,
					.shutdown_timeout = 5 * GOC_SECOND,
					.max_conns = max_conns};
	int64_t cut = goc_http_serve(ln, handle, NULL, &opts);
	fprintf(stderr, "httpd: stopped (%lld connections cut)\n", (long long)cut);
	/* Go's stop(): the registration ends, the signals act as before. */
	goc_ctx_cancel(shutdown);
	goc_ctx_release(shutdown);
	close(root_fd);
}

int main(int argc, char **argv)
{
	(void)argc;
	/* Blocked in this thread too, before goc starts any (its threads
	 * block them): a SIGINT or SIGTERM then always stays pending on the
	 * process, where goc_ctx_with_signals reads it from its signalfd, and
	 * no handler interrupts a thread. A second signal is not needed to
	 * stop: the graceful shutdown ends within shutdown_timeout. */
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++)
		sigaddset(&set, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	goc_main(run, argv);
	return 0;
}
