/*
 * httpd.c — a small file server on goc_http_serve.
 *
 *     httpd [ADDR [ROOT]]        (defaults: 127.0.0.1:8080 and .)
 *
 * GET /hello answers "hello". Any other GET or HEAD serves the file at
 * that path under ROOT: Content-Type by extension, 404 for what is not a
 * regular file, 400 for a path with a ".." segment. Files are opened with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) relative to ROOT, so no
 * path and no symbolic link leads out of it. SIGINT or SIGTERM shut the
 * server down gracefully (requests in flight get 5 s).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* Opens path (relative to the root) without leaving it: -errno or an fd. */
static int open_beneath(const char *path)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
	long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
	return fd < 0 ? -errno : (int)fd;
}

static void serve_file(goc_http_exchange *x, const char *path)
{
	int fd = open_beneath(*path ? path : ".");
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		char index[1024];
		snprintf(index, sizeof index, "%s%sindex.html", path, *path ? "/" : "");
		fd = open_beneath(index);
		path = "index.html";
	}
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		reply(x, 404, "not found\n");
		return;
	}
	goc_http_add_header(x, "Content-Type", content_type_of(path));
	goc_http_set_length(x, st.st_size);
	char buf[32 << 10];
	for (int64_t left = st.st_size; left > 0;) {
		ssize_t n = goc_file_read(fd, buf, sizeof buf);
		if (n <= 0 || goc_http_write(x, buf, (size_t)n) < 0)
			break; /* the short body closes the connection */
		left -= n;
	}
	close(fd);
}

static void handle(goc_http_exchange *x, void *user)
{
	(void)user;
	const goc_http_request *r = goc_http_req(x);
	bool get = r->method.len == 3 && memcmp(r->method.ptr, "GET", 3) == 0;
	bool head = r->method.len == 4 && memcmp(r->method.ptr, "HEAD", 4) == 0;
	char path[1024];
	if (r->path.len == 0 || r->path.ptr[0] != '/' || r->path.len >= sizeof path) {
		reply(x, 400, "bad path\n");
		return;
	}
	memcpy(path, r->path.ptr, r->path.len);
	path[r->path.len] = '\0';
	if (!get && !head) {
		goc_http_add_header(x, "Allow", "GET, HEAD");
		reply(x, 405, "method not allowed\n");
	} else if (strcmp(path, "/hello") == 0) {
		reply(x, 200, "hello\n");
	} else if (has_dot_segment(path) || strchr(path, '%')) {
		reply(x, 400, "bad path\n");
	} else {
		serve_file(x, path + 1);
	}
}

static goc_ctx *shutdown_ctx;
static sigset_t stop_signals;

/* A plain thread: waits for SIGINT or SIGTERM (blocked in every thread)
 * and starts the shutdown. */
static void *wait_for_signal(void *arg)
{
	sigset_t *set = arg;
	int sig;
	sigwait(set, &sig);
	goc_ctx_cancel(shutdown_ctx);
	return NULL;
}

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

	pthread_t waiter;
	pthread_create(&waiter, NULL, wait_for_signal, &stop_signals);
	pthread_detach(waiter);
	goc_http_server_options opts = {.shutdown = shutdown_ctx, .read_timeout = 10 * GOC_SECOND};
	int64_t cut = goc_http_serve(ln, handle, NULL, &opts);
	fprintf(stderr, "httpd: stopped (%lld connections cut)\n", (long long)cut);
	close(root_fd);
}

int main(int argc, char **argv)
{
	(void)argc;
	/* Blocked before any thread starts, so every thread inherits it and
	 * only wait_for_signal takes them. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	shutdown_ctx = goc_ctx_with_cancel(goc_ctx_background());
	goc_main(run, argv);
	return 0;
}
