/*
 * test_httpd.c — examples/httpd as a client sees it: /hello, files with
 * their Content-Type, HEAD, 404, and path traversal (".." segments → 400,
 * a symbolic link out of the root → 404), then a clean exit on SIGTERM,
 * and on SIGINT with an idle and a stalled connection open (within a
 * bound: a stuck httpd fails the test with its threads' state, and is
 * killed).
 * Then what issue 17 found, each reproduced: a FIFO under the root (two
 * requests for it must not freeze the server: 404, and /hello answers);
 * a file that grows during a download (exactly the announced length, and
 * the connection goes on); HEAD reads nothing of the file (/proc's rchar);
 * an index path too long (414, not a truncated name); names that need
 * percent-encoding (spaces, UTF-8, '%') and long paths (414); descriptors
 * run out (prlimit on httpd: 503 with Retry-After, then 200 again); Range
 * (single, suffix, open, multiple as multipart/byteranges, 416, overlaps
 * served whole), If-None-Match / If-Modified-Since (304), If-Match /
 * If-Unmodified-Since (412), If-Range; the
 * same through curl.
 *
 *     test_httpd PATH-TO-HTTPD    (registered when the examples are built;
 *                                  without an argument it has nothing to test)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

static const char *httpd_path;
static char addr[64];
static pid_t httpd_pid;
static char root[128];

/* One request on a new connection; the whole response in out. */
static void get(const char *request, char *out, size_t size)
{
	goc_conn *c;
	int err = goc_dial("tcp", addr, goc_now() + 10 * GOC_SECOND, &c);
	CHECK(err == 0, "dial: %s", strerror(-err));
	goc_conn_set_deadline(c, goc_now() + 10 * GOC_SECOND);
	CHECK(goc_conn_write(c, request, strlen(request), NULL) == (ssize_t)strlen(request),
	      "send");
	size_t len = 0;
	ssize_t n;
	while ((n = goc_conn_read(c, out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	CHECK(n == 0, "read: %s", strerror((int)-n));
	out[len] = '\0';
	goc_conn_close(c);
}

static char response[16384];

/* A request with extra header lines (each ending in CRLF) on a new
 * connection; the response in `response`, checked for its status line's
 * start and for part. */
static void expect_with(const char *method, const char *path, const char *headers,
			const char *status, const char *part)
{
	size_t size = strlen(path) + strlen(headers) + 128;
	char *request = malloc(size);
	snprintf(request, size, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", method,
		 path, headers);
	get(request, response, sizeof response);
	free(request);
	CHECK(strncmp(response, status, strlen(status)) == 0, "%s %.80s: %s", method, path,
	      response);
	CHECK(!part || contains(response, part), "%s %.80s: no \"%s\" in %s", method, path, part,
	      response);
}

static void expect(const char *method, const char *path, const char *status, const char *part)
{
	expect_with(method, path, "", status, part);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

/* The body of `response` (after the empty line). */
static const char *body_of(void)
{
	const char *end = strstr(response, "\r\n\r\n");
	CHECK(end, "no head end in %s", response);
	return end + 4;
}

/* The value of header name in `response`, copied to out. */
static void header_of(const char *name, char *out, size_t size)
{
	char key[64];
	snprintf(key, sizeof key, "\r\n%s: ", name);
	const char *at = strstr(response, key);
	CHECK(at, "no %s in %s", name, response);
	at += strlen(key);
	size_t n = strcspn(at, "\r");
	CHECK(n < size, "header too long");
	memcpy(out, at, n);
	out[n] = '\0';
}

static void write_file(const char *path, const char *text);

/* Issue 17 item 6: a FIFO is not waited on, and does not hold a P. */
static void fifo_request(void *arg)
{
	goc_wg *done = arg;
	char out[2048];
	get("GET /fifo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
	CHECK(strncmp(out, "HTTP/1.1 404", 12) == 0, "fifo: %s", out);
	goc_wg_done(done);
}

static void test_fifo(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/fifo", root);
	CHECK(mkfifo(path, 0600) == 0, "mkfifo");
	goc_wg done = GOC_WG_INIT;
	goc_wg_add(&done, 2);
	goc_go(fifo_request, &done);
	goc_go(fifo_request, &done);
	expect("GET", "/hello", "HTTP/1.1 200", "hello");
	goc_wg_wait(&done);
	unlink(path);
	ok("httpd: a FIFO is refused (404) without freezing the server");
}

/* A client socket with a small receive window (the server's writes wait
 * for its reads). */
static goc_conn *dial_small_window(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 4096;
	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0, "rcvbuf");
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	sin.sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1));
	CHECK(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0, "connect");
	goc_conn *c;
	CHECK(goc_conn_wrap(fd, &c) == 0, "wrap");
	goc_conn_set_deadline(c, goc_now() + 60 * GOC_SECOND);
	return c;
}

/* Issue 17 item 7: a file that grows while it is sent. */
static void test_growing_file(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/grow.bin", root);
	const long size = 16L << 20; /* more than the socket buffers hold */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, size) == 0, "grow.bin");
	goc_conn *c = dial_small_window();
	const char *request = "GET /grow.bin HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK(goc_conn_write(c, request, strlen(request), NULL) == (ssize_t)strlen(request),
	      "send");
	char *buf = malloc(64 << 10);
	ssize_t n = goc_conn_read(c, buf, 4096);
	CHECK(n > 0, "first bytes");
	char *end = memmem(buf, (size_t)n, "\r\n\r\n", 4);
	CHECK(end && contains(buf, "Content-Length: 16777216"), "head: %.*s", (int)n, buf);
	long body = n - (end + 4 - buf);
	/* The server is still sending: the file grows by 100,001 bytes. */
	char *more = calloc(1, 100001);
	CHECK(pwrite(fd, more, 100001, size) == 100001, "append");
	free(more);
	close(fd);
	while (body < size && (n = goc_conn_read(c, buf, 64 << 10)) > 0)
		body += n;
	CHECK(body == size, "body %ld of %ld (read: %zd)", body, size, n);
	/* Exactly the length: the connection carries the next request. */
	request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK(goc_conn_write(c, request, strlen(request), NULL) == (ssize_t)strlen(request),
	      "send");
	size_t len = 0;
	while (!memmem(buf, len, "hello\n", 6) && (n = goc_conn_read(c, buf + len, 4096)) > 0)
		len += (size_t)n;
	CHECK(len >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0, "next: %.*s", (int)len, buf);
	free(buf);
	goc_conn_close(c);
	unlink(path);
	ok("httpd: a growing file is sent at its announced length; keep-alive goes on");
}

/* rchar of /proc/PID/io: bytes the process read. */
static long long httpd_rchar(void)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/%d/io", (int)httpd_pid);
	FILE *f = fopen(path, "r");
	CHECK(f, "%s", path);
	long long v = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "rchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Issue 17 item 8: HEAD reads nothing of the file. */
static void test_head_reads_nothing(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/sparse.bin", root);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 256L << 20) == 0, "sparse.bin");
	close(fd);
	long long before = httpd_rchar();
	expect("HEAD", "/sparse.bin", "HTTP/1.1 200", "Content-Length: 268435456");
	long long read = httpd_rchar() - before;
	CHECK(read < (1 << 20), "HEAD read %lld bytes", read);
	unlink(path);
	ok("httpd: HEAD of a 256 MiB file reads none of it");
}

/* Issue 17 item 9: an index path too long is a 414, not a truncated name. */
static void test_long_index_path(void)
{
	/* Directories whose path is 4090 bytes: with "/index.html" it does
	 * not fit PATH_MAX. A truncated "index.ht" waits there as bait. */
	char *url = malloc(PATH_MAX + 16);
	size_t len = 0;
	int dfd = open(root, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0, "root");
	while (len < 4090) {
		size_t n = 4090 - len - 1 > 200 ? 200 : 4090 - len - 1;
		char name[256];
		memset(name, 'd', n);
		name[n] = '\0';
		CHECK(mkdirat(dfd, name, 0700) == 0, "mkdir");
		int next = openat(dfd, name, O_RDONLY | O_DIRECTORY);
		CHECK(next >= 0, "open dir");
		close(dfd);
		dfd = next;
		url[len++] = '/';
		memcpy(url + len, name, n);
		len += n;
	}
	url[len] = '\0';
	int bait = openat(dfd, "index.ht", O_WRONLY | O_CREAT, 0600);
	CHECK(bait >= 0, "bait");
	close(bait);
	close(dfd);
	expect("GET", url, "HTTP/1.1 414", NULL);
	free(url);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s/dddd*", root);
	CHECK(system(cmd) == 0, "rm");
	ok("httpd: an index path over PATH_MAX is a 414");
}

/* Issue 17 item 10: percent-encoded names; long paths are 414. */
static void test_percent_encoding(void)
{
	static const char *const names[] = {"a b.txt", "\xc3\xa9t\xc3\xa9.txt", "100%.txt"};
	static const char *const urls[] = {"/a%20b.txt", "/%C3%A9t%c3%a9.txt", "/100%25.txt"};
	char path[256];
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", root, names[i]);
		write_file(path, names[i]);
		expect("GET", urls[i], "HTTP/1.1 200", names[i]);
		CHECK(strcmp(body_of(), names[i]) == 0, "%s: %s", urls[i], response);
		unlink(path);
	}
	expect("GET", "/%00x", "HTTP/1.1 400", NULL);
	expect("GET", "/bad%zz", "HTTP/1.1 400", NULL);
	expect("GET", "/bad%2", "HTTP/1.1 400", NULL);
	expect("GET", "/%2E%2E/secret.txt", "HTTP/1.1 400", NULL);
	char *url = malloc(6000);
	url[0] = '/';
	memset(url + 1, 'a', 1100); /* one name over NAME_MAX */
	url[1101] = '\0';
	expect("GET", url, "HTTP/1.1 414", NULL);
	memset(url + 1, 'a', 5000); /* over PATH_MAX */
	url[5001] = '\0';
	expect("GET", url, "HTTP/1.1 414", NULL);
	free(url);
	ok("httpd: percent-encoded names (space, UTF-8, %), bad escapes 400, long paths 414");
}

/* The lowest fd number httpd does not use. */
static int httpd_lowest_free_fd(void)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)httpd_pid);
	static bool used[4096];
	memset(used, 0, sizeof used);
	DIR *d = opendir(path);
	CHECK(d, "%s", path);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) < 4096)
			used[atoi(e->d_name)] = true;
	closedir(d);
	int fd = 0;
	while (used[fd])
		fd++;
	return fd;
}

/* Issue 17 item 11: out of descriptors, a file request is a 503 (retry),
 * never a 404. The connection is made first; then httpd's fd limit is
 * lowered to what it uses (prlimit), so its next open fails with EMFILE. */
static void test_fds_exhausted(void)
{
	const char *hello = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *page = "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];
	/* httpd may still be closing the sockets of earlier requests: an fd
	 * freed below the new limit lets the open succeed (200); then it is
	 * tried again with the limit at what is in use by then. */
	for (int attempt = 0;; attempt++) {
		goc_conn *c;
		CHECK(goc_dial("tcp", addr, goc_now() + 10 * GOC_SECOND, &c) == 0, "dial");
		goc_conn_set_deadline(c, goc_now() + 10 * GOC_SECOND);
		CHECK(goc_conn_write(c, hello, strlen(hello), NULL) > 0, "send");
		CHECK(goc_conn_read(c, buf, sizeof buf) > 0, "hello answered");
		struct rlimit old, tight;
		CHECK(prlimit(httpd_pid, RLIMIT_NOFILE, NULL, &old) == 0, "prlimit");
		tight = old;
		tight.rlim_cur = (rlim_t)httpd_lowest_free_fd();
		CHECK(prlimit(httpd_pid, RLIMIT_NOFILE, &tight, NULL) == 0, "prlimit");
		CHECK(goc_conn_write(c, page, strlen(page), NULL) > 0, "send");
		ssize_t n = goc_conn_read(c, buf, sizeof buf - 1);
		CHECK(n > 0, "page answered");
		buf[n] = '\0';
		CHECK(prlimit(httpd_pid, RLIMIT_NOFILE, &old, NULL) == 0, "prlimit");
		goc_conn_close(c);
		if (strncmp(buf, "HTTP/1.1 200", 12) != 0 || attempt == 20)
			break;
		goc_sleep(20 * GOC_MILLISECOND);
	}
	CHECK(strncmp(buf, "HTTP/1.1 503", 12) == 0 && contains(buf, "Retry-After: 1"), "%s", buf);
	expect("GET", "/page.html", "HTTP/1.1 200", "<p>page</p>");
	ok("httpd: out of descriptors a file request is 503 with Retry-After, then 200 again");
}

/* Issue 17 item 12: Range, conditional requests. page.html holds
 * "<p>page</p>\n" (12 bytes). */
static void test_ranges_and_conditionals(void)
{
	char etag[64], modified[64], h[256];
	expect("GET", "/page.html", "HTTP/1.1 200", "Accept-Ranges: bytes");
	header_of("ETag", etag, sizeof etag);
	header_of("Last-Modified", modified, sizeof modified);

	expect_with("GET", "/page.html", "Range: bytes=0-4\r\n", "HTTP/1.1 206",
		    "Content-Range: bytes 0-4/12");
	CHECK(strcmp(body_of(), "<p>pa") == 0 && contains(response, "Content-Length: 5"), "%s",
	      response);
	expect_with("GET", "/page.html", "Range: bytes=-3\r\n", "HTTP/1.1 206",
		    "Content-Range: bytes 9-11/12");
	CHECK(strcmp(body_of(), "p>\n") == 0, "%s", response);
	expect_with("GET", "/page.html", "Range: bytes=10-\r\n", "HTTP/1.1 206", NULL);
	CHECK(strcmp(body_of(), ">\n") == 0, "%s", response);
	expect_with("HEAD", "/page.html", "Range: bytes=0-4\r\n", "HTTP/1.1 206",
		    "Content-Length: 5");
	CHECK(strcmp(body_of(), "") == 0, "%s", response);

	expect_with("GET", "/page.html", "Range: bytes=0-1, 4-5\r\n", "HTTP/1.1 206",
		    "Content-Type: multipart/byteranges; boundary=");
	char type[128];
	header_of("Content-Type", type, sizeof type);
	const char *boundary = strstr(type, "boundary=") + 9;
	char want[1024];
	snprintf(want, sizeof want,
		 "--%s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Range: bytes 0-1/12\r\n"
		 "\r\n<p\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
		 "Content-Range: bytes 4-5/12\r\n\r\nag\r\n--%s--\r\n",
		 boundary, boundary, boundary);
	CHECK(strcmp(body_of(), want) == 0, "multipart:\n%s\nwant:\n%s", body_of(), want);
	char length[32];
	header_of("Content-Length", length, sizeof length);
	CHECK(atol(length) == (long)strlen(want), "length %s", length);

	expect_with("GET", "/page.html", "Range: bytes=100-\r\n", "HTTP/1.1 416",
		    "Content-Range: bytes */12");
	expect_with("GET", "/page.html", "Range: bytes=x\r\n", "HTTP/1.1 416", NULL);
	expect_with("GET", "/page.html", "Range: bytes=5-2\r\n", "HTTP/1.1 416", NULL);
	expect_with("GET", "/page.html", "Range: bytes=0-11,0-11\r\n", "HTTP/1.1 200",
		    "<p>page</p>"); /* overlaps: the whole file */

	snprintf(h, sizeof h, "If-None-Match: %s\r\n", etag);
	expect_with("GET", "/page.html", h, "HTTP/1.1 304", etag);
	CHECK(strcmp(body_of(), "") == 0, "304 with a body: %s", response);
	snprintf(h, sizeof h, "If-None-Match: \"other\", W/%s\r\n", etag);
	expect_with("GET", "/page.html", h, "HTTP/1.1 304", NULL);
	expect_with("GET", "/page.html", "If-None-Match: \"other\"\r\n", "HTTP/1.1 200", NULL);
	snprintf(h, sizeof h, "If-Modified-Since: %s\r\n", modified);
	expect_with("GET", "/page.html", h, "HTTP/1.1 304", NULL);
	expect_with("GET", "/page.html", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n",
		    "HTTP/1.1 200", "<p>page</p>");
	snprintf(h, sizeof h, "If-Match: \"other\", %s\r\n", etag);
	expect_with("GET", "/page.html", h, "HTTP/1.1 200", "<p>page</p>");
	expect_with("GET", "/page.html", "If-Match: \"other\"\r\n", "HTTP/1.1 412", NULL);
	snprintf(h, sizeof h, "If-Match: W/%s\r\n", etag); /* weak never matches */
	expect_with("GET", "/page.html", h, "HTTP/1.1 412", NULL);
	expect_with("GET", "/page.html", "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n",
		    "HTTP/1.1 412", NULL);
	snprintf(h, sizeof h, "If-Unmodified-Since: %s\r\n", modified);
	expect_with("GET", "/page.html", h, "HTTP/1.1 200", "<p>page</p>");
	snprintf(h, sizeof h, "Range: bytes=0-1\r\nIf-Range: %s\r\n", etag);
	expect_with("GET", "/page.html", h, "HTTP/1.1 206", "\r\n\r\n<p");
	expect_with("GET", "/page.html", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n",
		    "HTTP/1.1 200", "<p>page</p>");
	ok("httpd: Range (206, multipart, 416, overlaps), If-None-Match, If-Modified-Since, "
	   "If-Match, If-Unmodified-Since, If-Range");
}

/* The same through curl, when it is installed (as the README's examples). */
static void test_curl(void)
{
	if (system("command -v curl >/dev/null 2>&1") != 0) {
		printf("test_httpd: curl is not installed; skipping the curl checks "
		       "(apt-get install curl)\n");
		return;
	}
	char cmd[512], out[256];
	snprintf(cmd, sizeof cmd, "curl -s -r 0-4 http://%s/page.html", addr);
	FILE *p = popen(cmd, "r");
	CHECK(p, "popen");
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	CHECK(pclose(p) == 0 && strcmp(out, "<p>pa") == 0, "curl -r: %s", out);
	snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://%s/%%00", addr);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	CHECK(pclose(p) == 0 && strcmp(out, "400") == 0, "curl %%00: %s", out);
	snprintf(cmd, sizeof cmd, "curl -s -I http://%s/page.html", addr);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	CHECK(pclose(p) == 0 && contains(out, "Content-Length: 12") && contains(out, "ETag: \""),
	      "curl -I: %s", out);
	ok("httpd: curl -r (206), a NUL escape (400), curl -I (length, ETag)");
}

/* atexit: a failed CHECK must not leave httpd running. */
static void kill_httpd(void)
{
	if (httpd_pid > 0) {
		kill(httpd_pid, SIGKILL);
		waitpid(httpd_pid, NULL, 0);
		httpd_pid = 0;
	}
}

/* What a stuck httpd shows: its signal masks and where each thread waits. */
static void describe_httpd(char *out, size_t size)
{
	size_t len = 0;
	char path[320], line[256];
	snprintf(path, sizeof path, "/proc/%d/task", (int)httpd_pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)) && len + 256 < size) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)httpd_pid, e->d_name);
		FILE *f = fopen(path, "r");
		len += (size_t)snprintf(out + len, size - len, "\n  task %s:", e->d_name);
		while (f && fgets(line, sizeof line, f) && len + 64 < size)
			if (!strncmp(line, "Name:", 5) || !strncmp(line, "SigPnd:", 7) ||
			    !strncmp(line, "ShdPnd:", 7) || !strncmp(line, "SigBlk:", 7)) {
				line[strcspn(line, "\n")] = '\0';
				len += (size_t)snprintf(out + len, size - len, " %s", line);
			}
		if (f)
			fclose(f);
		snprintf(path, sizeof path, "/proc/%d/task/%s/wchan", (int)httpd_pid, e->d_name);
		f = fopen(path, "r");
		if (f && fgets(line, sizeof line, f))
			len += (size_t)snprintf(out + len, size - len, " wchan %s", line);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
}

/* Sends sig to httpd and waits at most 60 s for it to exit (its graceful
 * shutdown takes 5 s at most): a clean exit, or a failure that says where
 * httpd is stuck, never a hang. */
static void stop_httpd(int sig)
{
	CHECK(kill(httpd_pid, sig) == 0, "kill");
	int status = 0;
	pid_t got = 0;
	for (int i = 0; i < 3000 && (got = waitpid(httpd_pid, &status, WNOHANG)) == 0; i++)
		goc_sleep(20 * GOC_MILLISECOND);
	if (got == 0) {
		static char state[8192];
		describe_httpd(state, sizeof state);
		CHECK(false, "httpd did not exit 60 s after signal %d:%s", sig, state);
	}
	CHECK(got == httpd_pid, "waitpid");
	httpd_pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "httpd exit status %d", status);
}

/* Starts httpd on a free port, serving root, and waits until it listens.
 * It starts as from a shell: no signal blocked, default dispositions (a
 * child spawned by a goroutine would otherwise inherit the signals goc's
 * threads block). */
static void start_httpd(void)
{
	/* A free port: bind one, close it, hand it to httpd. */
	goc_listener *probe;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &probe) == 0, "listen");
	goc_listener_addr(probe, addr, sizeof addr);
	goc_listener_close(probe);
	char *argv[] = {(char *)httpd_path, addr, root, NULL};
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	CHECK(posix_spawn(&pid, httpd_path, NULL, &attr, argv, environ) == 0, "spawn httpd");
	posix_spawnattr_destroy(&attr);
	httpd_pid = pid;
	goc_conn *c = NULL;
	for (int i = 0; i < 200 && goc_dial("tcp", addr, goc_now() + GOC_SECOND, &c) != 0; i++)
		goc_sleep(25 * GOC_MILLISECOND);
	CHECK(c, "httpd did not start listening");
	goc_conn_close(c);
}

/* Graceful shutdown ends, whatever the connections do: on SIGINT an idle
 * keep-alive connection is closed at once, and a download whose client
 * stopped reading is cut when the grace (5 s) is over; httpd exits 0. */
static void test_shutdown_with_connections(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/big.bin", root);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 64L << 20) == 0, "big.bin");
	close(fd);
	start_httpd();
	goc_conn *idle, *stalled = dial_small_window();
	const char *request = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK(goc_conn_write(stalled, request, strlen(request), NULL) > 0, "send");
	char buf[4096];
	CHECK(goc_conn_read(stalled, buf, sizeof buf) > 0, "download started");
	CHECK(goc_dial("tcp", addr, goc_now() + 10 * GOC_SECOND, &idle) == 0, "dial");
	goc_conn_set_deadline(idle, goc_now() + 30 * GOC_SECOND);
	request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK(goc_conn_write(idle, request, strlen(request), NULL) > 0, "send");
	size_t len = 0;
	ssize_t n;
	while (!memmem(buf, len, "hello\n", 6) && (n = goc_conn_read(idle, buf + len, 1024)) > 0)
		len += (size_t)n;
	stop_httpd(SIGINT);
	CHECK(goc_conn_read(idle, buf, sizeof buf) <= 0, "the idle connection was not closed");
	goc_conn_close(idle);
	goc_conn_close(stalled);
	unlink(path);
	ok("httpd: SIGINT with an idle and a stalled connection: closed, cut, exit 0");
}

static void run(void *arg)
{
	(void)arg;
	char dir[] = "/tmp/goc-httpd-XXXXXX", path[256];
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(root, sizeof root, "%s/root", dir);
	CHECK(mkdir(root, 0700) == 0, "mkdir");
	snprintf(path, sizeof path, "%s/secret.txt", dir);
	write_file(path, "secret\n");
	char link[256];
	snprintf(link, sizeof link, "%s/link.txt", root);
	CHECK(symlink(path, link) == 0, "symlink");
	snprintf(path, sizeof path, "%s/page.html", root);
	write_file(path, "<p>page</p>\n");

	atexit(kill_httpd);
	start_httpd();

	expect("GET", "/hello", "HTTP/1.1 200", "\r\n\r\nhello\n");
	expect("GET", "/page.html", "HTTP/1.1 200", "<p>page</p>");
	expect("GET", "/page.html", "HTTP/1.1 200", "Content-Type: text/html");
	expect("HEAD", "/page.html", "HTTP/1.1 200", "Content-Length: 12");
	get("HEAD /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", response,
	    sizeof response);
	CHECK(!contains(response, "<p>"), "HEAD sent a body");
	expect("GET", "/missing", "HTTP/1.1 404", NULL);
	expect("GET", "/link.txt", "HTTP/1.1 404", NULL);
	expect("GET", "/../secret.txt", "HTTP/1.1 400", NULL);
	expect("GET", "/a/../../secret.txt", "HTTP/1.1 400", NULL);
	expect("GET", "/%2e%2e/secret.txt", "HTTP/1.1 400", NULL);
	expect("POST", "/page.html", "HTTP/1.1 405", NULL);
	test_fifo();
	test_growing_file();
	test_head_reads_nothing();
	test_long_index_path();
	test_percent_encoding();
	test_fds_exhausted();
	test_ranges_and_conditionals();
	test_curl();

	stop_httpd(SIGTERM);
	test_shutdown_with_connections();
	unlink(link);
	unlink(path);
	snprintf(path, sizeof path, "%s/secret.txt", dir);
	unlink(path);
	rmdir(root);
	rmdir(dir);
	ok("httpd: files, HEAD, 404, traversal, shutdown");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		printf("test_httpd: no httpd given (examples not built); nothing to test\n");
		return 0;
	}
	httpd_path = argv[1];
	goc_main(run, NULL);
	return 0;
}
