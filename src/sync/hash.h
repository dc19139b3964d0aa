/*
 * hash.h — the keyed hash of goc's hash tables (the concurrent map,
 * singleflight): xxHash's XXH3 with a per-table seed, from Debian's
 * libxxhash, compiled inline so a short key is hashed without a call.
 */
#ifndef GOC_SYNC_HASH_H
#define GOC_SYNC_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t goc__hash(const void *key, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(key, len, seed);
}

#endif
