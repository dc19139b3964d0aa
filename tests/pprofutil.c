/*
 * pprofutil.c — reading pprof profiles back in tests; see pprofutil.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef GOC_TEST_HAVE_ZLIB
#include <zlib.h>
#endif

#include "pprofutil.h"
#include "testutil.h"

struct bytes pprof_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	CHECK(f, "open %s: %s", path, strerror(errno));
	struct bytes b = {NULL, 0};
	size_t cap = 0;
	for (;;) {
		if (b.len == cap) {
			cap = cap ? 2 * cap : 65536;
			b.data = realloc(b.data, cap);
			CHECK(b.data, "out of memory");
		}
		size_t n = fread(b.data + b.len, 1, cap - b.len, f);
		if (n == 0)
			break;
		b.len += n;
	}
	fclose(f);
	return b;
}

/* The protobuf: the file itself, or what it gunzips to. */
struct bytes pprof_bytes(struct bytes file)
{
	bool gzipped = file.len >= 2 && file.data[0] == 0x1f && file.data[1] == 0x8b;
#ifdef GOC_TEST_HAVE_ZLIB
	CHECK(gzipped, "goc was built with zlib: the profile must be gzipped");
	struct bytes out = {NULL, 0};
	size_t cap = 0;
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, "inflateInit2");
	zs.next_in = file.data;
	zs.avail_in = (uInt)file.len;
	int status;
	do {
		if (out.len == cap) {
			cap = cap ? 2 * cap : 4 * file.len + 65536;
			out.data = realloc(out.data, cap);
			CHECK(out.data, "out of memory");
		}
		zs.next_out = out.data + out.len;
		zs.avail_out = (uInt)(cap - out.len);
		status = inflate(&zs, Z_NO_FLUSH);
		CHECK(status == Z_OK || status == Z_STREAM_END, "inflate: %d", status);
		out.len = cap - zs.avail_out;
	} while (status != Z_STREAM_END);
	inflateEnd(&zs);
	free(file.data);
	return out;
#else
	CHECK(!gzipped, "goc was built without zlib: the profile must be bare");
	return file;
#endif
}

struct reader {
	const uint8_t *at, *end;
};

static uint64_t read_varint(struct reader *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		CHECK(r->at < r->end, "truncated varint");
		uint8_t byte = *r->at++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	CHECK(0, "varint too long");
	return 0;
}

/* The next field: its number, and its value (varints) or its bytes
 * (length-delimited). False at the end. */
static bool read_field(struct reader *r, int *field, uint64_t *value, struct reader *bytes)
{
	if (r->at >= r->end)
		return false;
	uint64_t key = read_varint(r);
	*field = (int)(key >> 3);
	switch (key & 7) {
	case 0:
		*value = read_varint(r);
		bytes->at = bytes->end = NULL;
		return true;
	case 2: {
		uint64_t n = read_varint(r);
		CHECK(n <= (uint64_t)(r->end - r->at), "truncated field %d", *field);
		bytes->at = r->at;
		bytes->end = r->at + n;
		r->at += n;
		return true;
	}
	default:
		CHECK(0, "unexpected wire type %d in field %d", (int)(key & 7), *field);
		return false;
	}
}

/* Repeated varints, packed or not. */
static int read_repeated(int wire_bytes, uint64_t value, struct reader bytes, uint64_t *out,
			 int max)
{
	if (!wire_bytes) {
		out[0] = value;
		return 1;
	}
	int n = 0;
	while (bytes.at < bytes.end && n < max)
		out[n++] = read_varint(&bytes);
	return n;
}

static void parse_value_type(struct reader r, int64_t out[2])
{
	int field;
	uint64_t v;
	struct reader sub;
	while (read_field(&r, &field, &v, &sub))
		if (field == 1 || field == 2)
			out[field - 1] = (int64_t)v;
}

static void parse_sample(struct reader r, struct parsed_sample *s)
{
	int field;
	uint64_t v;
	struct reader sub;
	while (read_field(&r, &field, &v, &sub)) {
		if (field == 1) {
			s->nlocs += read_repeated(sub.at != NULL, v, sub, s->locs + s->nlocs,
						  MAX_DEPTH - s->nlocs);
		} else if (field == 2) {
			uint64_t values[4] = {0, 0, 0, 0};
			read_repeated(sub.at != NULL, v, sub, values, 4);
			for (int i = 0; i < 4; i++)
				s->values[i] = (int64_t)values[i];
		} else if (field == 3 && s->nlabels < MAX_LABELS) {
			struct parsed_label *l = &s->labels[s->nlabels++];
			int lf;
			uint64_t lv;
			struct reader ls;
			while (read_field(&sub, &lf, &lv, &ls)) {
				if (lf == 1)
					l->key = (int64_t)lv;
				else if (lf == 2)
					l->str = (int64_t)lv;
				else if (lf == 3)
					l->num = (int64_t)lv;
			}
		}
	}
}

void pprof_parse(struct bytes pb, struct parsed_profile *p)
{
	memset(p, 0, sizeof *p);
	struct reader r = {pb.data, pb.data + pb.len};
	int field;
	uint64_t v;
	struct reader sub;
	while (read_field(&r, &field, &v, &sub)) {
		int f2;
		uint64_t v2;
		struct reader s2;
		switch (field) {
		case 1:
			CHECK(p->nsample_types < 4, "more than four sample types");
			parse_value_type(sub, p->sample_types[p->nsample_types++]);
			break;
		case 2:
			CHECK(p->nsamples < MAX_ITEMS, "too many samples");
			parse_sample(sub, &p->samples[p->nsamples++]);
			break;
		case 3:
			p->nmappings++;
			break;
		case 4: {
			uint64_t id = 0, function = 0;
			while (read_field(&sub, &f2, &v2, &s2)) {
				if (f2 == 1)
					id = v2;
				if (f2 == 4) {
					int f3;
					uint64_t v3;
					struct reader s3;
					while (read_field(&s2, &f3, &v3, &s3))
						if (f3 == 1 && !function)
							function = v3;
				}
			}
			CHECK(id > 0 && id < MAX_ITEMS, "location id %llu", (unsigned long long)id);
			p->location_function[id] = function;
			break;
		}
		case 5: {
			uint64_t id = 0, name = 0;
			while (read_field(&sub, &f2, &v2, &s2)) {
				if (f2 == 1)
					id = v2;
				if (f2 == 2)
					name = v2;
			}
			CHECK(id > 0 && id < MAX_ITEMS, "function id %llu", (unsigned long long)id);
			p->function_name[id] = name;
			break;
		}
		case 6: {
			CHECK(p->nstrings < MAX_ITEMS, "too many strings");
			size_t n = (size_t)(sub.end - sub.at);
			char *s = malloc(n + 1);
			CHECK(s, "out of memory");
			memcpy(s, sub.at, n);
			s[n] = '\0';
			p->strings[p->nstrings++] = s;
			break;
		}
		case 11:
			parse_value_type(sub, p->period_type);
			break;
		case 12:
			p->period = (int64_t)v;
			break;
		}
	}
	CHECK(p->nstrings > 0 && p->strings[0][0] == '\0', "string table must start with \"\"");
}

void pprof_free(struct parsed_profile *p)
{
	for (int i = 0; i < p->nstrings; i++)
		free((char *)p->strings[i]);
	p->nstrings = 0;
}

const char *pprof_str(const struct parsed_profile *p, int64_t index)
{
	CHECK(index >= 0 && index < p->nstrings, "string index %lld", (long long)index);
	return p->strings[index];
}

/* The name of the function of location id, "" if unsymbolized. */
const char *pprof_location_name(const struct parsed_profile *p, uint64_t id)
{
	CHECK(id > 0 && id < MAX_ITEMS, "location id %llu", (unsigned long long)id);
	uint64_t function = p->location_function[id];
	return function ? pprof_str(p, (int64_t)p->function_name[function]) : "";
}

void pprof_load(const char *path, struct parsed_profile *p)
{
	struct bytes pb = pprof_bytes(pprof_read_file(path));
	pprof_parse(pb, p);
	free(pb.data);
}

const char *pprof_label_str(const struct parsed_profile *p, const struct parsed_sample *s,
			    const char *key)
{
	for (int i = 0; i < s->nlabels; i++)
		if (s->labels[i].str && !strcmp(pprof_str(p, s->labels[i].key), key))
			return pprof_str(p, s->labels[i].str);
	return NULL;
}

int64_t pprof_label_num(const struct parsed_profile *p, const struct parsed_sample *s,
			const char *key)
{
	for (int i = 0; i < s->nlabels; i++)
		if (!s->labels[i].str && !strcmp(pprof_str(p, s->labels[i].key), key))
			return s->labels[i].num;
	return -1;
}

bool pprof_sample_has(const struct parsed_profile *p, const struct parsed_sample *s,
		      const char *name)
{
	for (int i = 0; i < s->nlocs; i++)
		if (!strcmp(pprof_location_name(p, s->locs[i]), name))
			return true;
	return false;
}

const char *pprof_top_cum(const struct parsed_profile *p, int v, const char *const *names,
			  int64_t *total)
{
	const char *top = NULL;
	int64_t top_total = 0;
	for (int k = 0; names[k]; k++) {
		int64_t sum = 0;
		for (int i = 0; i < p->nsamples; i++)
			if (pprof_sample_has(p, &p->samples[i], names[k]))
				sum += p->samples[i].values[v];
		if (sum > top_total) {
			top = names[k];
			top_total = sum;
		}
	}
	if (total)
		*total = top_total;
	return top;
}

char *pprof_go_tool(const char *args, const char *path)
{
	if (system("command -v go >/dev/null 2>&1") != 0) {
		printf("skip: go tool pprof (go is not installed)\n");
		return NULL;
	}
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0, "readlink /proc/self/exe");
	self[n] = '\0';
	char command[8192];
	snprintf(command, sizeof command, "go tool pprof %s '%s' '%s' 2>&1", args, self, path);
	FILE *out = popen(command, "r");
	CHECK(out, "popen");
	size_t len = 0, cap = 65536;
	char *text = malloc(cap);
	CHECK(text, "out of memory");
	size_t got;
	while ((got = fread(text + len, 1, cap - len - 1, out)) > 0) {
		len += got;
		if (cap - len < 1024) {
			cap *= 2;
			text = realloc(text, cap);
			CHECK(text, "out of memory");
		}
	}
	text[len] = '\0';
	fputs(text, stdout);
	CHECK(pclose(out) == 0, "go tool pprof %s failed", args);
	return text;
}

/* In `go tool pprof -top` output, the first line of the table that names
 * one of the functions in names; NULL if none. */
static const char *go_first_of(const char *output, const char *const *names)
{
	const char *table = strstr(output, "cum%");
	if (!table)
		return NULL;
	for (const char *line = strchr(table, '\n'); line && line[1];
	     line = strchr(line + 1, '\n')) {
		const char *end = strchr(line + 1, '\n');
		size_t len = end ? (size_t)(end - line - 1) : strlen(line + 1);
		/* The function is the last field of the line. */
		const char *name = line + 1 + len;
		while (name > line + 1 && name[-1] != ' ')
			name--;
		for (int k = 0; names[k]; k++)
			if (strlen(names[k]) == (size_t)(line + 1 + len - name) &&
			    !strncmp(name, names[k], strlen(names[k])))
				return names[k];
	}
	return NULL;
}

void pprof_go_check_first(const char *args, const char *path, const char *const *names,
			  const char *want)
{
	char *out = pprof_go_tool(args, path);
	if (!out)
		return;
	const char *first = go_first_of(out, names);
	CHECK(first && !strcmp(first, want), "go tool pprof %s: first of ours is %s, not %s", args,
	      first ? first : "none", want);
	free(out);
	printf("ok: go tool pprof %s: %s first\n", args, want);
}
