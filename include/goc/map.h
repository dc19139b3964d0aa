/*
 * goc/map.h — goc_map, Go's sync.Map: a concurrent map for read-mostly
 * data. Included by goc.h; include <goc.h>, not this file.
 *
 * Keys are byte strings (copied into the map) or 64-bit integers (the _u64
 * forms: the integer's 8 bytes as the key); values are void pointers the
 * caller owns. The map is Go 1.24's hash trie: 16-way nodes, loads that
 * take no lock and write no shared memory, a lock per node for writers.
 * Loads scale with the processors; use a goc_rwmutex and a table of your
 * own only if writes dominate.
 *
 *     goc_map *cache = goc_map_new();
 *     goc_map_store(cache, "k", 1, v);
 *     void *got;
 *     if (goc_map_load(cache, "k", 1, &got)) use(got);
 *
 * Removed nodes are freed once every thread that could still read them
 * has passed a quiescent state: for goroutines, any scheduling point of
 * their thread. The rule for users: a map call may be made from any
 * goroutine or plain thread at any time, and a range callback may do
 * anything (block, call the map); only goc_map_free needs every other call
 * on that map to have returned. A goroutine that blocks in a system call
 * outside goc for a long time, or loops without a scheduling point, delays
 * the freeing of removed nodes (memory, not safety) until it is done.
 *
 * Operations that may allocate (store, load_or_store, swap) return
 * -ENOMEM when memory runs out; nothing changed then.
 */
#ifndef GOC_MAP_H
#define GOC_MAP_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/map.h>"
#endif

typedef struct goc_map goc_map;

/* A new, empty map with a random hash seed; NULL if memory ran out
 * (never parks). */
goc_map *goc_map_new(void);
/* Frees m and its nodes (not the values). No call on m may be running. */
void goc_map_free(goc_map *m);

/* Whether key is present; if so *value (may be NULL) gets its value. */
bool goc_map_load(goc_map *m, const void *key, size_t len, void **value);
/* Sets key's value. GOC_OK or -ENOMEM. */
goc_status goc_map_store(goc_map *m, const void *key, size_t len, void *value);
/* Go's LoadOrStore: the existing value (*loaded true) or value, stored
 * (*loaded false), in *actual. actual and loaded may be NULL. GOC_OK or
 * -ENOMEM. */
goc_status goc_map_load_or_store(goc_map *m, const void *key, size_t len, void *value,
				 void **actual, bool *loaded);
/* Removes key; whether it was there, and its value in *value (may be
 * NULL). */
bool goc_map_load_and_delete(goc_map *m, const void *key, size_t len, void **value);
void goc_map_delete(goc_map *m, const void *key, size_t len);
/* Sets key's value; the previous one in *previous and whether there was
 * one in *loaded (both may be NULL). GOC_OK or -ENOMEM. */
goc_status goc_map_swap(goc_map *m, const void *key, size_t len, void *value, void **previous,
			bool *loaded);
/* Sets key's value to new_value if it is present with value old (pointer
 * equality); whether it did. */
bool goc_map_compare_and_swap(goc_map *m, const void *key, size_t len, void *old, void *new_value);
/* Removes key if it is present with value old; whether it did. */
bool goc_map_compare_and_delete(goc_map *m, const void *key, size_t len, void *old);

/*
 * Calls fn(key, len, value, arg) for each entry until fn returns false.
 * As Go's Range: no entry is visited twice, an entry present throughout is
 * visited, one stored or deleted meanwhile may or may not be. The key
 * pointer is valid during the call. Allocates nothing.
 */
typedef bool (*goc_map_range_fn)(const void *key, size_t len, void *value, void *arg);
void goc_map_range(goc_map *m, goc_map_range_fn fn, void *arg);

/* The number of entries (exact when no write runs concurrently). */
int64_t goc_map_len(goc_map *m);
/* Removes every entry. */
void goc_map_clear(goc_map *m);

/* The same with 64-bit integer keys. */
static inline bool goc_map_load_u64(goc_map *m, uint64_t key, void **value)
{
	return goc_map_load(m, &key, sizeof key, value);
}
static inline goc_status goc_map_store_u64(goc_map *m, uint64_t key, void *value)
{
	return goc_map_store(m, &key, sizeof key, value);
}
static inline goc_status goc_map_load_or_store_u64(goc_map *m, uint64_t key, void *value,
						   void **actual, bool *loaded)
{
	return goc_map_load_or_store(m, &key, sizeof key, value, actual, loaded);
}
static inline bool goc_map_load_and_delete_u64(goc_map *m, uint64_t key, void **value)
{
	return goc_map_load_and_delete(m, &key, sizeof key, value);
}
static inline void goc_map_delete_u64(goc_map *m, uint64_t key)
{
	goc_map_delete(m, &key, sizeof key);
}
static inline goc_status goc_map_swap_u64(goc_map *m, uint64_t key, void *value, void **previous,
					  bool *loaded)
{
	return goc_map_swap(m, &key, sizeof key, value, previous, loaded);
}
static inline bool goc_map_compare_and_swap_u64(goc_map *m, uint64_t key, void *old,
						void *new_value)
{
	return goc_map_compare_and_swap(m, &key, sizeof key, old, new_value);
}
static inline bool goc_map_compare_and_delete_u64(goc_map *m, uint64_t key, void *old)
{
	return goc_map_compare_and_delete(m, &key, sizeof key, old);
}

#endif /* GOC_MAP_H */
