/*
 * test_httpd.c — examples/httpd as a client sees it: /hello, files with
 * their Content-Type, HEAD, 404, and path traversal (".." segments → 400,
 * a symbolic link out of the root → 404), then a clean exit on SIGTERM.
 *
 *     test_httpd PATH-TO-HTTPD    (registered when the examples are built;
 *                                  without an argument it has nothing to test)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

static const char *httpd_path;
static char addr[64];

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

static void expect(const char *method, const char *path, const char *status, const char *part)
{
	char request[512], response[8192];
	snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 method, path);
	get(request, response, sizeof response);
	CHECK(strncmp(response, status, strlen(status)) == 0, "%s %s: %s", method, path, response);
	CHECK(!part || contains(response, part), "%s %s: no \"%s\" in %s", method, path, part,
	      response);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

static void run(void *arg)
{
	(void)arg;
	char dir[] = "/tmp/goc-httpd-XXXXXX", root[128], path[256];
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

	/* A free port: bind one, close it, hand it to httpd. */
	goc_listener *probe;
	CHECK(goc_listen("tcp", "127.0.0.1:0", &probe) == 0, "listen");
	goc_listener_addr(probe, addr, sizeof addr);
	goc_listener_close(probe);
	char *argv[] = {(char *)httpd_path, addr, root, NULL};
	pid_t pid;
	CHECK(posix_spawn(&pid, httpd_path, NULL, NULL, argv, environ) == 0, "spawn httpd");
	goc_conn *c = NULL;
	for (int i = 0; i < 200 && goc_dial("tcp", addr, goc_now() + GOC_SECOND, &c) != 0; i++)
		goc_sleep(25 * GOC_MILLISECOND);
	CHECK(c, "httpd did not start listening");
	goc_conn_close(c);

	expect("GET", "/hello", "HTTP/1.1 200", "\r\n\r\nhello\n");
	expect("GET", "/page.html", "HTTP/1.1 200", "<p>page</p>");
	expect("GET", "/page.html", "HTTP/1.1 200", "Content-Type: text/html");
	expect("HEAD", "/page.html", "HTTP/1.1 200", "Content-Length: 12");
	char response[8192];
	get("HEAD /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", response,
	    sizeof response);
	CHECK(!contains(response, "<p>"), "HEAD sent a body");
	expect("GET", "/missing", "HTTP/1.1 404", NULL);
	expect("GET", "/link.txt", "HTTP/1.1 404", NULL);
	expect("GET", "/../secret.txt", "HTTP/1.1 400", NULL);
	expect("GET", "/a/../../secret.txt", "HTTP/1.1 400", NULL);
	expect("GET", "/%2e%2e/secret.txt", "HTTP/1.1 400", NULL);
	expect("POST", "/page.html", "HTTP/1.1 405", NULL);

	CHECK(kill(pid, SIGTERM) == 0, "kill");
	int status;
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "httpd exit status %d", status);
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
