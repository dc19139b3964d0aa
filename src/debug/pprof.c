/*
 * pprof.c — profiles in pprof's format: perftools.profiles.Profile
 * (profile.proto of github.com/google/pprof), gzipped.
 *
 * A profile is a table of samples (stack, labels → values), and, written
 * out, tables of locations (one per distinct address), functions (one per
 * distinct name), mappings (the executable segments of the loaded objects)
 * and strings, every other message naming strings by their index in the
 * string table, whose entry 0 is "".
 *
 * The protobuf wire encoding is written here rather than with a protobuf
 * library: the profile needs varints, packed varints and length-delimited
 * submessages, about a hundred lines; protobuf-c would add generated code
 * and a runtime dependency for that. A submessage is encoded in place and
 * its key and length are inserted in front of it when it ends (pb_end).
 *
 * Invariants:
 *  - strings[0] is "" and strings are never removed, so an index once
 *    handed out stays valid; string_index finds a string's index.
 *  - Each sample's key (its addresses and labels) is unique in samples;
 *    sample_index finds it. Addresses are stored as "lookup addresses": a
 *    return address minus one (inside the call instruction, so it
 *    symbolizes to the call's line), an exact leaf pc as it is.
 *  - A goc__profile is used by one thread at a time; nothing here is
 *    signal-safe.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef GOC_HAVE_ZLIB
#include <zlib.h>
#endif

#include "debug.h"
#include "pprof.h"

/* ---- protobuf wire encoding ---- */

enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

/* Field numbers of profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,
	LABEL_KEY = 1,
	LABEL_STR = 2,
	LABEL_NUM = 3,
	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1,
	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
};

/* Bytes being encoded; after a failed allocation `failed` is set and
 * every further write is dropped, so encoders need not check each step. */
typedef struct pb_buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
} pb_buf;

static void pb_put(pb_buf *b, const void *bytes, size_t n)
{
	if (b->failed)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n)
			cap *= 2;
		uint8_t *data = realloc(b->data, cap);
		if (!data) {
			b->failed = true;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, bytes, n);
	b->len += n;
}

static size_t varint_encode(uint8_t out[10], uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void pb_varint(pb_buf *b, uint64_t v)
{
	uint8_t bytes[10];
	pb_put(b, bytes, varint_encode(bytes, v));
}

static void pb_key(pb_buf *b, int field, int wire_type)
{
	pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire_type);
}

/* A scalar field; zero is proto3's default and is left out. int64 fields
 * take negative numbers as their two's-complement uint64. */
static void pb_uint(pb_buf *b, int field, uint64_t v)
{
	if (v == 0)
		return;
	pb_key(b, field, WIRE_VARINT);
	pb_varint(b, v);
}

static void pb_bytes(pb_buf *b, int field, const void *bytes, size_t n)
{
	pb_key(b, field, WIRE_BYTES);
	pb_varint(b, n);
	pb_put(b, bytes, n);
}

/* A repeated scalar field, packed: one key, the length, the varints. */
static void pb_packed(pb_buf *b, int field, const uint64_t *v, size_t n)
{
	if (n == 0)
		return;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += varint_size(v[i]);
	pb_key(b, field, WIRE_BYTES);
	pb_varint(b, len);
	for (size_t i = 0; i < n; i++)
		pb_varint(b, v[i]);
}

/* A submessage is its fields written from pb_begin's mark on; pb_end puts
 * the field key and the length in front of them. */
static size_t pb_begin(const pb_buf *b)
{
	return b->len;
}

static void pb_end(pb_buf *b, int field, size_t mark)
{
	if (b->failed)
		return;
	size_t body = b->len - mark;
	uint8_t head[20];
	size_t n = varint_encode(head, (uint64_t)field << 3 | WIRE_BYTES);
	n += varint_encode(head + n, body);
	pb_put(b, head, n); /* makes room; the bytes are placed below */
	if (b->failed)
		return;
	memmove(b->data + mark + n, b->data + mark, body);
	memcpy(b->data + mark, head, n);
}

/* ---- hash index: which item has this key ---- */

/* Open addressing with linear probing over item numbers; the items live
 * in the caller's array and the caller says when a key matches. At most
 * half full, so a probe always ends at an empty slot. */
struct index_slot {
	uint64_t hash;
	uint32_t item_plus_one; /* 0: empty */
};

struct index_table {
	struct index_slot *slots;
	size_t cap, count;
};

static uint64_t hash_mix(uint64_t h, uint64_t word)
{
	h ^= word;
	h *= 0x9E3779B97F4A7C15ull;
	return h ^ (h >> 29);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

/* Room for one more item; false if out of memory. */
static bool index_reserve(struct index_table *t)
{
	if (t->count + 1 <= t->cap / 2)
		return true;
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct index_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].item_plus_one)
			continue;
		size_t j = t->slots[i].hash & (cap - 1);
		while (slots[j].item_plus_one)
			j = (j + 1) & (cap - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return true;
}

/* The slot of the item with this hash for which same(ctx, item) holds,
 * or the empty slot where such an item goes. The table is not empty. */
static struct index_slot *index_find(struct index_table *t, uint64_t hash,
				     bool (*same)(const void *ctx, uint32_t item), const void *ctx)
{
	size_t j = hash & (t->cap - 1);
	for (;;) {
		struct index_slot *s = &t->slots[j];
		if (!s->item_plus_one || (s->hash == hash && same(ctx, s->item_plus_one - 1)))
			return s;
		j = (j + 1) & (t->cap - 1);
	}
}

static void index_fill(struct index_table *t, struct index_slot *s, uint64_t hash, uint32_t item)
{
	s->hash = hash;
	s->item_plus_one = item + 1;
	t->count++;
}

/* Makes room for one more element in a growable array. */
static bool array_reserve(void *array_ptr, size_t *cap, size_t count, size_t elem_size)
{
	if (count < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *grown = realloc(*(void **)array_ptr, ncap * elem_size);
	if (!grown)
		return false;
	*(void **)array_ptr = grown;
	*cap = ncap;
	return true;
}

/* ---- the profile ---- */

/* A distinct sample. words holds nvalues values, then naddrs lookup
 * addresses, then nlabels triples (key string, str string, num). */
struct sample {
	uint64_t hash;
	uint32_t naddrs, nlabels;
	uint64_t words[];
};

struct goc__profile {
	int nvalues;
	int64_t *sample_types; /* 2 * nvalues string indices: type, unit */
	int64_t period_type[2];
	int64_t period;

	char **strings;
	size_t nstrings, strings_cap;
	struct index_table string_index;

	struct sample **samples;
	size_t nsamples, samples_cap;
	struct index_table sample_index;
	struct sample *candidate; /* goc__profile_add's key being looked up */
	size_t candidate_words;

	int64_t *comments; /* string indices */
	size_t ncomments, comments_cap;
	int64_t default_sample_type; /* string index; 0: pprof's default, the last type */
};

struct string_key {
	const goc__profile *p;
	const char *s;
	size_t n;
};

static bool string_same(const void *ctx, uint32_t item)
{
	const struct string_key *k = ctx;
	const char *t = k->p->strings[item];
	return strncmp(t, k->s, k->n) == 0 && t[k->n] == '\0';
}

/* The index of s in the string table, adding it; -1 if out of memory. */
static int64_t intern(goc__profile *p, const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s);
	if (!index_reserve(&p->string_index))
		return -1;
	uint64_t hash = hash_bytes(s, n);
	struct string_key key = {p, s, n};
	struct index_slot *slot = index_find(&p->string_index, hash, string_same, &key);
	if (slot->item_plus_one)
		return slot->item_plus_one - 1;
	if (!array_reserve(&p->strings, &p->strings_cap, p->nstrings, sizeof *p->strings))
		return -1;
	char *copy = strdup(s);
	if (!copy)
		return -1;
	p->strings[p->nstrings] = copy;
	index_fill(&p->string_index, slot, hash, (uint32_t)p->nstrings);
	return (int64_t)p->nstrings++;
}

goc__profile *goc__profile_new(const goc__profile_value_type *sample_types, int nvalues,
			       goc__profile_value_type period_type, int64_t period)
{
	goc__profile *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nvalues = nvalues;
	p->period = period;
	p->sample_types = calloc((size_t)nvalues * 2, sizeof *p->sample_types);
	bool ok = p->sample_types && intern(p, "") == 0;
	for (int i = 0; ok && i < nvalues; i++) {
		p->sample_types[2 * i] = intern(p, sample_types[i].type);
		p->sample_types[2 * i + 1] = intern(p, sample_types[i].unit);
		ok = p->sample_types[2 * i] >= 0 && p->sample_types[2 * i + 1] >= 0;
	}
	if (ok) {
		p->period_type[0] = intern(p, period_type.type);
		p->period_type[1] = intern(p, period_type.unit);
		ok = p->period_type[0] >= 0 && p->period_type[1] >= 0;
	}
	if (!ok) {
		goc__profile_free(p);
		return NULL;
	}
	return p;
}

static bool sample_same(const void *ctx, uint32_t item)
{
	const goc__profile *p = ctx;
	const struct sample *a = p->candidate, *b = p->samples[item];
	return a->naddrs == b->naddrs && a->nlabels == b->nlabels &&
		memcmp(a->words + p->nvalues, b->words + p->nvalues,
		       (a->naddrs + 3 * (size_t)a->nlabels) * sizeof(uint64_t)) == 0;
}

bool goc__profile_add(goc__profile *p, const uintptr_t *pcs, int npcs, bool leaf_exact,
		      const int64_t *values, const goc__profile_label *labels, int nlabels)
{
	size_t words = (size_t)p->nvalues + (size_t)npcs + 3 * (size_t)nlabels;
	if (words > p->candidate_words) {
		struct sample *c = realloc(p->candidate, sizeof *c + words * sizeof(uint64_t));
		if (!c)
			return false;
		p->candidate = c;
		p->candidate_words = words;
	}
	struct sample *c = p->candidate;
	c->naddrs = (uint32_t)npcs;
	c->nlabels = (uint32_t)nlabels;
	uint64_t *w = c->words + p->nvalues;
	for (int i = 0; i < npcs; i++)
		*w++ = pcs[i] - (i == 0 && leaf_exact ? 0 : 1);
	for (int i = 0; i < nlabels; i++) {
		int64_t key = intern(p, labels[i].key);
		int64_t str = labels[i].str ? intern(p, labels[i].str) : 0;
		if (key < 0 || str < 0)
			return false;
		*w++ = (uint64_t)key;
		*w++ = (uint64_t)str;
		*w++ = labels[i].str ? 0 : (uint64_t)labels[i].num;
	}
	c->hash = 0;
	for (uint64_t *k = c->words + p->nvalues; k < w; k++)
		c->hash = hash_mix(c->hash, *k);

	if (!index_reserve(&p->sample_index))
		return false;
	struct index_slot *slot = index_find(&p->sample_index, c->hash, sample_same, p);
	if (slot->item_plus_one) {
		struct sample *s = p->samples[slot->item_plus_one - 1];
		for (int i = 0; i < p->nvalues; i++)
			s->words[i] += (uint64_t)values[i];
		return true;
	}
	if (!array_reserve(&p->samples, &p->samples_cap, p->nsamples, sizeof *p->samples))
		return false;
	struct sample *s = malloc(sizeof *s + words * sizeof(uint64_t));
	if (!s)
		return false;
	memcpy(s, c, sizeof *s + words * sizeof(uint64_t));
	for (int i = 0; i < p->nvalues; i++)
		s->words[i] = (uint64_t)values[i];
	p->samples[p->nsamples] = s;
	index_fill(&p->sample_index, slot, s->hash, (uint32_t)p->nsamples++);
	return true;
}

bool goc__profile_comment(goc__profile *p, const char *text)
{
	int64_t index = intern(p, text);
	if (index < 0 ||
	    !array_reserve(&p->comments, &p->comments_cap, p->ncomments, sizeof *p->comments))
		return false;
	p->comments[p->ncomments++] = index;
	return true;
}

bool goc__profile_default_sample_type(goc__profile *p, const char *type)
{
	int64_t index = intern(p, type);
	if (index < 0)
		return false;
	p->default_sample_type = index;
	return true;
}

void goc__profile_free(goc__profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	for (size_t i = 0; i < p->nsamples; i++)
		free(p->samples[i]);
	free(p->strings);
	free(p->string_index.slots);
	free(p->samples);
	free(p->sample_index.slots);
	free(p->candidate);
	free(p->comments);
	free(p->sample_types);
	free(p);
}

/* ---- symbols and mappings, for writing ---- */

/* The name of the function holding addr, a lookup address (so looked up
 * as it is), from the symbolizer of stack traces (symbolize.c: libdw, static
 * functions included; dladdr's exported names in a build without libdw).
 * An address it cannot name stays unsymbolized in the profile, and `go tool
 * pprof <binary> <profile>` then names it from the binary. */
static bool function_name_of(uintptr_t addr, char *name, size_t size)
{
	return goc__symbolize_name(addr, true, name, size);
}

/* An executable segment of a loaded object. */
struct mapping {
	uintptr_t start, limit;
	uint64_t file_offset;
	int64_t filename, build_id; /* string indices */
	bool unsymbolized;          /* some location in it has no function */
};

struct mapping_list {
	goc__profile *p;
	struct mapping *items;
	size_t count, cap;
	bool failed;
};

/* The hex GNU build id from an object's PT_NOTE segment, into hex. */
static bool build_id_of(const struct dl_phdr_info *info, const ElfW(Phdr) * note, char *hex,
			size_t size)
{
	const uint8_t *at = (const uint8_t *)(info->dlpi_addr + note->p_vaddr);
	const uint8_t *end = at + note->p_memsz;
	while ((size_t)(end - at) >= sizeof(ElfW(Nhdr))) {
		const ElfW(Nhdr) *h = (const ElfW(Nhdr) *)at;
		size_t name_size = (h->n_namesz + 3) & ~(size_t)3;
		size_t desc_size = (h->n_descsz + 3) & ~(size_t)3;
		const uint8_t *name = at + sizeof *h, *desc = name + name_size;
		if ((size_t)(end - name) < name_size + desc_size)
			return false;
		if (h->n_type == NT_GNU_BUILD_ID && h->n_namesz == 4 &&
		    memcmp(name, "GNU", 4) == 0 && h->n_descsz * 2 < size) {
			for (size_t i = 0; i < h->n_descsz; i++) {
				hex[2 * i] = "0123456789abcdef"[desc[i] >> 4];
				hex[2 * i + 1] = "0123456789abcdef"[desc[i] & 15];
			}
			hex[2 * h->n_descsz] = '\0';
			return true;
		}
		at = desc + desc_size;
	}
	return false;
}

static int mapping_add_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct mapping_list *list = arg;
	const char *file = info->dlpi_name;
	char exe[PATH_MAX];
	if (!file || !*file) {
		/* The program itself, which pprof expects as the first mapping. */
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = '\0';
		file = exe;
	}
	char build_id[128] = "";
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_NOTE &&
		    build_id_of(info, &info->dlpi_phdr[i], build_id, sizeof build_id))
			break;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (!array_reserve(&list->items, &list->cap, list->count, sizeof *list->items)) {
			list->failed = true;
			return 1;
		}
		struct mapping *m = &list->items[list->count];
		m->start = info->dlpi_addr + ph->p_vaddr;
		m->limit = m->start + ph->p_memsz;
		m->file_offset = ph->p_offset;
		m->filename = intern(list->p, file);
		m->build_id = intern(list->p, build_id);
		m->unsymbolized = false;
		if (m->filename < 0 || m->build_id < 0) {
			list->failed = true;
			return 1;
		}
		list->count++;
	}
	return 0;
}

/* ---- writing ---- */

/* Dense ids 1, 2, ... for distinct keys, in the order they are first
 * seen: the ids of locations (keyed by address) and of functions (keyed by
 * the name's string index). */
struct id_map {
	uint64_t *keys; /* keys[id - 1] */
	size_t count, cap;
	struct index_table index;
	uint64_t sought;
};

static bool id_map_same(const void *ctx, uint32_t item)
{
	const struct id_map *m = ctx;
	return m->keys[item] == m->sought;
}

/* The id of key; *added tells whether it is new. 0 if out of memory. */
static uint64_t id_map_get(struct id_map *m, uint64_t key, bool *added)
{
	uint64_t hash = hash_mix(0, key);
	*added = false;
	if (!index_reserve(&m->index))
		return 0;
	m->sought = key;
	struct index_slot *slot = index_find(&m->index, hash, id_map_same, m);
	if (slot->item_plus_one)
		return slot->item_plus_one;
	if (!array_reserve(&m->keys, &m->cap, m->count, sizeof *m->keys))
		return 0;
	m->keys[m->count] = key;
	index_fill(&m->index, slot, hash, (uint32_t)m->count);
	*added = true;
	return ++m->count;
}

static void id_map_free(struct id_map *m)
{
	free(m->keys);
	free(m->index.slots);
}

/* What is known of a location besides its address. */
struct location {
	uint32_t mapping_id;  /* 0: in no known mapping */
	uint64_t function_id; /* 0: unsymbolized */
};

/* The state of one goc__profile_write. */
struct writer {
	goc__profile *p;
	pb_buf out;
	struct mapping_list mappings;
	struct id_map location_ids; /* address -> location id */
	struct location *locations; /* locations[id - 1] */
	size_t locations_cap;
	struct id_map function_ids; /* name string index -> function id */
	bool failed;
};

/* The location id of addr, making the location (symbolized) if new;
 * 0 if out of memory. */
static uint64_t location_id_of(struct writer *w, uintptr_t addr)
{
	bool added;
	uint64_t id = id_map_get(&w->location_ids, addr, &added);
	if (!added)
		return id;
	if (!array_reserve(&w->locations, &w->locations_cap, id - 1, sizeof *w->locations))
		return 0;
	struct location *loc = &w->locations[id - 1];
	loc->mapping_id = 0;
	for (size_t i = 0; i < w->mappings.count; i++)
		if (addr >= w->mappings.items[i].start && addr < w->mappings.items[i].limit)
			loc->mapping_id = (uint32_t)i + 1;
	char name[256];
	int64_t name_index = function_name_of(addr, name, sizeof name) ? intern(w->p, name) : 0;
	loc->function_id =
		name_index > 0 ? id_map_get(&w->function_ids, (uint64_t)name_index, &added) : 0;
	if (name_index < 0 || (name_index > 0 && !loc->function_id))
		w->failed = true;
	if (!loc->function_id && loc->mapping_id)
		w->mappings.items[loc->mapping_id - 1].unsymbolized = true;
	return id;
}

static void encode_value_type(pb_buf *b, int field, const int64_t type_unit[2])
{
	size_t mark = pb_begin(b);
	pb_uint(b, VALUE_TYPE_TYPE, (uint64_t)type_unit[0]);
	pb_uint(b, VALUE_TYPE_UNIT, (uint64_t)type_unit[1]);
	pb_end(b, field, mark);
}

static void encode_samples(struct writer *w)
{
	goc__profile *p = w->p;
	pb_buf *b = &w->out;
	uint64_t *ids = NULL;
	size_t ids_cap = 0;
	for (size_t i = 0; i < p->nsamples && !w->failed; i++) {
		const struct sample *s = p->samples[i];
		if (s->naddrs > ids_cap) {
			uint64_t *grown = realloc(ids, s->naddrs * sizeof *ids);
			if (!grown) {
				w->failed = true;
				break;
			}
			ids = grown;
			ids_cap = s->naddrs;
		}
		const uint64_t *addrs = s->words + p->nvalues;
		for (uint32_t j = 0; j < s->naddrs; j++)
			if (!(ids[j] = location_id_of(w, (uintptr_t)addrs[j])))
				w->failed = true;
		size_t mark = pb_begin(b);
		pb_packed(b, SAMPLE_LOCATION_ID, ids, s->naddrs);
		pb_packed(b, SAMPLE_VALUE, s->words, (size_t)p->nvalues);
		const uint64_t *label = addrs + s->naddrs;
		for (uint32_t j = 0; j < s->nlabels; j++, label += 3) {
			size_t label_mark = pb_begin(b);
			pb_uint(b, LABEL_KEY, label[0]);
			pb_uint(b, LABEL_STR, label[1]);
			pb_uint(b, LABEL_NUM, label[2]);
			pb_end(b, SAMPLE_LABEL, label_mark);
		}
		pb_end(b, PROFILE_SAMPLE, mark);
	}
	free(ids);
}

static void encode_tables(struct writer *w)
{
	pb_buf *b = &w->out;
	for (size_t i = 0; i < w->mappings.count; i++) {
		const struct mapping *m = &w->mappings.items[i];
		size_t mark = pb_begin(b);
		pb_uint(b, MAPPING_ID, i + 1);
		pb_uint(b, MAPPING_MEMORY_START, m->start);
		pb_uint(b, MAPPING_MEMORY_LIMIT, m->limit);
		pb_uint(b, MAPPING_FILE_OFFSET, m->file_offset);
		pb_uint(b, MAPPING_FILENAME, (uint64_t)m->filename);
		pb_uint(b, MAPPING_BUILD_ID, (uint64_t)m->build_id);
		pb_uint(b, MAPPING_HAS_FUNCTIONS, !m->unsymbolized);
		pb_end(b, PROFILE_MAPPING, mark);
	}
	for (size_t i = 0; i < w->location_ids.count; i++) {
		const struct location *loc = &w->locations[i];
		size_t mark = pb_begin(b);
		pb_uint(b, LOCATION_ID, i + 1);
		pb_uint(b, LOCATION_MAPPING_ID, loc->mapping_id);
		pb_uint(b, LOCATION_ADDRESS, w->location_ids.keys[i]);
		if (loc->function_id) {
			size_t line_mark = pb_begin(b);
			pb_uint(b, LINE_FUNCTION_ID, loc->function_id);
			pb_end(b, LOCATION_LINE, line_mark);
		}
		pb_end(b, PROFILE_LOCATION, mark);
	}
	for (size_t i = 0; i < w->function_ids.count; i++) {
		size_t mark = pb_begin(b);
		pb_uint(b, FUNCTION_ID, i + 1);
		pb_uint(b, FUNCTION_NAME, w->function_ids.keys[i]);
		pb_uint(b, FUNCTION_SYSTEM_NAME, w->function_ids.keys[i]);
		pb_end(b, PROFILE_FUNCTION, mark);
	}
}

static void encode_profile(struct writer *w, int64_t start_unix_ns, int64_t duration_ns)
{
	goc__profile *p = w->p;
	pb_buf *b = &w->out;
	for (int i = 0; i < p->nvalues; i++)
		encode_value_type(b, PROFILE_SAMPLE_TYPE, &p->sample_types[2 * i]);
	encode_samples(w);
	encode_tables(w);
	pb_uint(b, PROFILE_TIME_NANOS, (uint64_t)start_unix_ns);
	pb_uint(b, PROFILE_DURATION_NANOS, (uint64_t)duration_ns);
	encode_value_type(b, PROFILE_PERIOD_TYPE, p->period_type);
	pb_uint(b, PROFILE_PERIOD, (uint64_t)p->period);
	pb_packed(b, PROFILE_COMMENT, (const uint64_t *)p->comments, p->ncomments);
	if (p->default_sample_type)
		pb_uint(b, PROFILE_DEFAULT_SAMPLE_TYPE, (uint64_t)p->default_sample_type);
	/* Last: symbolizing and mapping above added strings. */
	for (size_t i = 0; i < p->nstrings; i++)
		pb_bytes(b, PROFILE_STRING_TABLE, p->strings[i], strlen(p->strings[i]));
}

static int write_bytes(FILE *f, const void *data, size_t len)
{
	if (len && fwrite(data, 1, len, f) != len)
		return errno ? errno : EIO;
	return 0;
}

#ifdef GOC_HAVE_ZLIB
/* gzip (deflate with a gzip header: windowBits 15 + 16), at the fastest
 * level as Go writes profiles. */
static int write_compressed(FILE *f, const uint8_t *data, size_t len)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return ENOMEM;
	uint8_t chunk[16384];
	int status = Z_OK, err = 0;
	while (status != Z_STREAM_END && !err) {
		/* avail_in is a uInt: hand the input over in slices. */
		if (zs.avail_in == 0 && len > 0) {
			zs.next_in = (Bytef *)data;
			zs.avail_in = len > (1u << 30) ? 1u << 30 : (uInt)len;
			data += zs.avail_in;
			len -= zs.avail_in;
		}
		zs.next_out = chunk;
		zs.avail_out = sizeof chunk;
		status = deflate(&zs, len == 0 ? Z_FINISH : Z_NO_FLUSH);
		if (status == Z_STREAM_ERROR)
			err = EIO;
		else
			err = write_bytes(f, chunk, sizeof chunk - zs.avail_out);
	}
	deflateEnd(&zs);
	return err;
}
#else
/* Built without zlib (a cross build without the target's zlib): the bare
 * protobuf, which pprof reads as well. */
static int write_compressed(FILE *f, const uint8_t *data, size_t len)
{
	return write_bytes(f, data, len);
}
#endif

int goc__profile_write(goc__profile *p, FILE *f, int64_t start_unix_ns, int64_t duration_ns)
{
	struct writer w;
	memset(&w, 0, sizeof w);
	w.p = p;
	w.mappings.p = p;
	dl_iterate_phdr(mapping_add_object, &w.mappings);
	w.failed = w.mappings.failed;
	if (!w.failed)
		encode_profile(&w, start_unix_ns, duration_ns);
	int err = w.failed || w.out.failed ? ENOMEM : 0;
	if (!err)
		err = write_compressed(f, w.out.data, w.out.len);
	if (!err && fflush(f) != 0)
		err = errno ? errno : EIO;
	free(w.out.data);
	free(w.mappings.items);
	id_map_free(&w.location_ids);
	free(w.locations);
	id_map_free(&w.function_ids);
	return err;
}
