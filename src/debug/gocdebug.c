/*
 * gocdebug.c — GOCDEBUG, goc's GODEBUG: a comma-separated list of
 * name=value settings read at start-up by whichever mechanism owns each
 * name (maxgoroutines: golimit.c; sigquit, schedtrace, scheddetail,
 * blockwarn: the debug files). Names nobody asks for are ignored, so a
 * setting for a newer version does no harm; when a name appears twice the
 * last one counts, as in Go.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug.h"

long long goc__gocdebug_long(const char *name, long long def, long long min, long long max)
{
	int saved_errno = errno;
	size_t name_len = strlen(name);
	long long value = def;
	const char *s = getenv("GOCDEBUG");
	while (s && *s) {
		size_t len = strcspn(s, ",");
		if (len > name_len && s[name_len] == '=' && strncmp(s, name, name_len) == 0) {
			const char *text = s + name_len + 1;
			size_t text_len = len - name_len - 1;
			char *end;
			errno = 0;
			long long v = strtoll(text, &end, 10);
			if (errno || end == text || (size_t)(end - text) != text_len || v < min ||
			    v > max)
				fprintf(stderr,
					"goc: ignoring GOCDEBUG %s=%.*s: want an integer from %lld to %lld\n",
					name, (int)text_len, text, min, max);
			else
				value = v;
		}
		s += len;
		if (*s == ',')
			s++;
	}
	errno = saved_errno;
	return value;
}
