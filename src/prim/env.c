/*
 * env.c — the one parser of goc's environment settings (see env.h): plain
 * integer variables and the name=value list of GOCDEBUG share the integer
 * syntax, the range check and the warning.
 */
#include "env.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses text[0:len] as a decimal integer in [min, max] into *out; on any
 * other text warns, naming the setting as prefix+name, and returns false. */
static bool parse_long(const char *prefix, const char *name, const char *text, size_t len,
		       long long min, long long max, long long *out)
{
	int saved_errno = errno;
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	bool ok = !errno && end != text && (size_t)(end - text) == len && v >= min && v <= max;
	errno = saved_errno;
	if (!ok) {
		fprintf(stderr, "goc: ignoring %s%s=%.*s: want an integer from %lld to %lld\n",
			prefix, name, (int)len, text, min, max);
		return false;
	}
	*out = v;
	return true;
}

long long goc__env_long(const char *name, long long def, long long min, long long max)
{
	const char *s = getenv(name);
	long long value = def;
	if (s && *s)
		parse_long("", name, s, strlen(s), min, max, &value);
	return value;
}

long long goc__gocdebug_long(const char *name, long long def, long long min, long long max)
{
	size_t name_len = strlen(name);
	long long value = def;
	const char *s = getenv("GOCDEBUG");
	while (s && *s) {
		size_t len = strcspn(s, ",");
		if (len > name_len && s[name_len] == '=' && strncmp(s, name, name_len) == 0) {
			long long v;
			if (parse_long("GOCDEBUG ", name, s + name_len + 1, len - name_len - 1, min,
				       max, &v))
				value = v;
		}
		s += len;
		if (*s == ',')
			s++;
	}
	return value;
}
