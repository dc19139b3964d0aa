/*
 * map.c — goc_map, Go's sync.Map as Go 1.24 builds it: a hash trie.
 *
 * The trie's inner nodes ("indirect") have 16 children, indexed by the
 * key's hash 4 bits at a time from the top; a child is NULL, another
 * indirect node, or an entry. Entries whose 64-bit hashes are equal chain
 * through `overflow`. Readers walk from the root with acquire loads and
 * take no lock; a writer walks the same way to the indirect node whose
 * slot it changes, locks that node, checks that the slot still holds what
 * it saw and that the node is not dead, and changes it. Unlike Go, a
 * store to a present key sets the entry's value in place (an atomic
 * store under the node's lock) instead of replacing the entry, so only
 * deletes (and clear) unlink nodes.
 *
 * Unlinked entries, and indirect nodes that became empty and were cut
 * from their parents, are freed through QSBR (qsbr.h) once no reader can
 * hold them. Every operation runs inside a read section: free on an M
 * (its switches are its quiescent states and map calls never park), an
 * announced record on a plain thread, and a record of the call's own for
 * range, whose callback may park.
 *
 * Invariants:
 *  - A slot of indirect node i changes only under i.lock, and only while
 *    i is not dead. An entry's value and overflow change only under the
 *    lock of the indirect node whose slot holds its chain.
 *  - A node found on a path from the root stays readable until the
 *    reader's next quiescent state, even if unlinked meanwhile.
 *  - Locks are taken one at a time, except when a delete empties a node
 *    and cuts it from its parent: child first, then parent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../sched/runtime.h"
#include "hash.h"
#include "qsbr.h"

#define CHILDREN_LOG2 4
#define CHILDREN (1 << CHILDREN_LOG2)

/* What both kinds of node start with. */
struct node {
	void *retire_link; /* QSBR's chain once retired; no reader reads it */
	bool is_entry;
};

struct entry {
	struct node node;
	uint64_t hash;
	void *value;            /* atomic; see the invariants */
	struct entry *overflow; /* atomic; next entry with the same hash */
	size_t len;
	unsigned char key[];
};

struct indirect {
	struct node node;
	goc__spinlock lock;
	uint32_t dead;                   /* atomic; set under lock when cut out */
	struct indirect *parent;         /* NULL for the root */
	struct node *children[CHILDREN]; /* atomic; see the invariants */
};

struct goc_map {
	struct indirect *root; /* never changes */
	uint64_t seed;
	goc_counter *count;
};

/* ---- read sections ---- */

/* Opens a read section: NULL on an M (its switches are the quiescent
 * states), else the plain thread's record, announced. */
static inline goc__qsbr_reader *read_begin(void)
{
	if (goc__m_self())
		return NULL;
	goc__qsbr_reader *r = goc__qsbr_thread_reader();
	goc__qsbr_online(r);
	return r;
}

static inline void read_end(goc__qsbr_reader *r)
{
	if (r)
		goc__qsbr_offline(r);
}

/* ---- nodes ---- */

static struct indirect *indirect_new(struct indirect *parent)
{
	struct indirect *i = calloc(1, sizeof *i);
	if (i)
		i->parent = parent;
	return i;
}

static struct entry *entry_new(uint64_t hash, const void *key, size_t len, void *value)
{
	struct entry *e = malloc(sizeof *e + len);
	if (!e)
		return NULL;
	*e = (struct entry){.node.is_entry = true, .hash = hash, .value = value, .len = len};
	if (len)
		memcpy(e->key, key, len);
	return e;
}

static inline bool key_equal(const struct entry *e, uint64_t hash, const void *key, size_t len)
{
	if (e->hash != hash || e->len != len)
		return false;
	if (len == sizeof(uint64_t)) {
		uint64_t a, b;
		memcpy(&a, e->key, sizeof a);
		memcpy(&b, key, sizeof b);
		return a == b;
	}
	return len == 0 || memcmp(e->key, key, len) == 0;
}

static inline struct entry *chain_find(struct entry *e, uint64_t hash, const void *key, size_t len)
{
	for (; e; e = goc__load_acquire(&e->overflow))
		if (key_equal(e, hash, key, len))
			return e;
	return NULL;
}

static inline size_t child_index(uint64_t hash, unsigned shift)
{
	return (size_t)(hash >> shift) & (CHILDREN - 1);
}

static bool indirect_empty(struct indirect *i)
{
	for (int j = 0; j < CHILDREN; j++)
		if (goc__load_relaxed(&i->children[j]))
			return false;
	return true;
}

/* ---- the map ---- */

goc_map *goc_map_new(void)
{
	goc_map *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->root = indirect_new(NULL);
	m->count = goc_counter_new();
	if (!m->root || !m->count) {
		free(m->root);
		goc_counter_free(m->count);
		free(m);
		return NULL;
	}
	m->seed = goc__prim_random64();
	return m;
}

static void free_subtree(struct indirect *i)
{
	for (int j = 0; j < CHILDREN; j++) {
		struct node *n = i->children[j];
		if (!n)
			continue;
		if (!n->is_entry) {
			free_subtree((struct indirect *)n);
			continue;
		}
		struct entry *e = (struct entry *)n;
		while (e) {
			struct entry *next = e->overflow;
			free(e);
			e = next;
		}
	}
	free(i);
}

void goc_map_free(goc_map *m)
{
	if (!m)
		return;
	free_subtree(m->root);
	goc_counter_free(m->count);
	free(m);
}

static goc_map *checked(goc_map *m, const void *key, size_t len, const char *what)
{
	if (!m)
		goc__panic("%s: nil map", what);
	if (!key && len)
		goc__panic("%s: NULL key of %zu bytes", what, len);
	return m;
}

bool goc_map_load(goc_map *m, const void *key, size_t len, void **value)
{
	checked(m, key, len, "goc_map_load");
	uint64_t hash = goc__hash(key, len, m->seed);
	goc__qsbr_reader *r = read_begin();
	struct indirect *i = m->root;
	struct entry *found = NULL;
	for (unsigned shift = 64; shift != 0;) {
		shift -= CHILDREN_LOG2;
		struct node *n = goc__load_acquire(&i->children[child_index(hash, shift)]);
		if (!n)
			break;
		if (n->is_entry) {
			found = chain_find((struct entry *)n, hash, key, len);
			break;
		}
		i = (struct indirect *)n;
	}
	if (found && value)
		*value = goc__load_acquire(&found->value);
	read_end(r);
	return found != NULL;
}

/*
 * Walks to the slot where hash belongs (empty, or holding an entry
 * chain), locks its node and checks that it still is such a slot of a
 * live node; retries from the root otherwise. Returns the node, locked,
 * with the slot and the slot's shift. In a read section.
 */
static struct indirect *lock_slot(goc_map *m, uint64_t hash, struct node ***slot,
				  unsigned *shift_out)
{
	for (;;) {
		struct indirect *i = m->root;
		struct node **s = NULL;
		unsigned shift = 64;
		while (shift != 0) {
			shift -= CHILDREN_LOG2;
			s = &i->children[child_index(hash, shift)];
			struct node *n = goc__load_acquire(s);
			if (!n || n->is_entry)
				break;
			i = (struct indirect *)n;
		}
		goc__spinlock_acquire(&i->lock);
		struct node *n = goc__load_relaxed(s);
		if ((!n || n->is_entry) && !goc__load_relaxed(&i->dead)) {
			*slot = s;
			*shift_out = shift;
			return i;
		}
		goc__spinlock_release(&i->lock);
	}
}

/*
 * The subtree that replaces the chain `old` (all of one hash) so that it
 * and the new entry ne (hash) both have a place: ne heading the chain if
 * the hashes are equal, else new indirect nodes down to the first level
 * where the two hashes differ. NULL if memory ran out (nothing published).
 */
static struct node *expand(struct entry *old, struct entry *ne, unsigned shift,
			   struct indirect *parent)
{
	if (old->hash == ne->hash) {
		ne->overflow = old;
		return &ne->node;
	}
	struct indirect *top = indirect_new(parent);
	struct indirect *i = top;
	while (i) {
		shift -= CHILDREN_LOG2;
		size_t oi = child_index(old->hash, shift), ni = child_index(ne->hash, shift);
		if (oi != ni) {
			i->children[oi] = &old->node;
			i->children[ni] = &ne->node;
			return &top->node;
		}
		struct indirect *next = indirect_new(i);
		i->children[oi] = next ? &next->node : NULL;
		i = next;
	}
	/* Out of memory: free the unpublished chain of indirect nodes. */
	while (top) {
		struct indirect *next = NULL;
		for (int j = 0; j < CHILDREN; j++)
			if (top->children[j])
				next = (struct indirect *)top->children[j];
		free(top);
		top = next;
	}
	return NULL;
}

/* Store, load_or_store and swap: sets key to value unless only_if_absent
 * finds it present; the value found (if any) in *old and *loaded. */
static goc_status upsert(goc_map *m, const void *key, size_t len, void *value, bool only_if_absent,
			 void **old, bool *loaded)
{
	uint64_t hash = goc__hash(key, len, m->seed);
	goc__qsbr_reader *r = read_begin();
	struct node **slot;
	unsigned shift;
	struct indirect *i = lock_slot(m, hash, &slot, &shift);
	struct node *n = goc__load_relaxed(slot);
	struct entry *e = n ? chain_find((struct entry *)n, hash, key, len) : NULL;
	goc_status st = GOC_OK;
	*loaded = e != NULL;
	if (e) {
		*old = goc__load_relaxed(&e->value);
		if (!only_if_absent)
			goc__store_release(&e->value, value);
	} else {
		struct entry *ne = entry_new(hash, key, len, value);
		struct node *sub = NULL;
		if (ne)
			sub = n ? expand((struct entry *)n, ne, shift, i) : &ne->node;
		if (sub) {
			/* Published last, complete: a reader sees the old
			 * chain or the new subtree holding it, never neither. */
			goc__store_release(slot, sub);
			goc_counter_add(m->count, 1);
		} else {
			free(ne);
			st = -ENOMEM;
		}
	}
	goc__spinlock_release(&i->lock);
	read_end(r);
	return st;
}

goc_status goc_map_store(goc_map *m, const void *key, size_t len, void *value)
{
	checked(m, key, len, "goc_map_store");
	void *old;
	bool loaded;
	return upsert(m, key, len, value, false, &old, &loaded);
}

goc_status goc_map_swap(goc_map *m, const void *key, size_t len, void *value, void **previous,
			bool *loaded)
{
	checked(m, key, len, "goc_map_swap");
	void *old = NULL;
	bool was = false;
	goc_status st = upsert(m, key, len, value, false, &old, &was);
	if (previous)
		*previous = was ? old : NULL;
	if (loaded)
		*loaded = was;
	return st;
}

goc_status goc_map_load_or_store(goc_map *m, const void *key, size_t len, void *value,
				 void **actual, bool *loaded)
{
	checked(m, key, len, "goc_map_load_or_store");
	void *found;
	goc_status st = GOC_OK;
	bool was = goc_map_load(m, key, len, &found);
	if (!was)
		st = upsert(m, key, len, value, true, &found, &was);
	if (actual)
		*actual = was ? found : value;
	if (loaded)
		*loaded = was;
	return st;
}

/*
 * Finds key's entry, then locks the node whose slot holds its chain and
 * checks that slot again. Returns that node, locked, with the slot and
 * shift, or NULL if key is absent. In a read section.
 */
static struct indirect *find_locked(goc_map *m, uint64_t hash, const void *key, size_t len,
				    struct node ***slot, unsigned *shift_out)
{
	for (;;) {
		struct indirect *i = m->root;
		struct node **s = NULL;
		struct node *n = NULL;
		unsigned shift = 64;
		while (shift != 0) {
			shift -= CHILDREN_LOG2;
			s = &i->children[child_index(hash, shift)];
			n = goc__load_acquire(s);
			if (!n || n->is_entry)
				break;
			i = (struct indirect *)n;
		}
		if (!n || !chain_find((struct entry *)n, hash, key, len))
			return NULL;
		goc__spinlock_acquire(&i->lock);
		n = goc__load_relaxed(s);
		if ((!n || n->is_entry) && !goc__load_relaxed(&i->dead)) {
			*slot = s;
			*shift_out = shift;
			return i;
		}
		goc__spinlock_release(&i->lock);
	}
}

/* Removes key's entry if present (and, with check_old, holding old);
 * its value in *value. Cuts out the nodes the removal empties. */
static bool remove_key(goc_map *m, const void *key, size_t len, bool check_old, void *old,
		       void **value)
{
	uint64_t hash = goc__hash(key, len, m->seed);
	goc__qsbr_reader *r = read_begin();
	struct node **slot;
	unsigned shift;
	struct indirect *i = find_locked(m, hash, key, len, &slot, &shift);
	if (!i) {
		read_end(r);
		return false;
	}
	struct entry *prev = NULL, *e = (struct entry *)goc__load_relaxed(slot);
	for (; e && !key_equal(e, hash, key, len); e = e->overflow)
		prev = e;
	if (!e || (check_old && goc__load_relaxed(&e->value) != old)) {
		goc__spinlock_release(&i->lock);
		read_end(r);
		return false;
	}
	if (value)
		*value = goc__load_relaxed(&e->value);
	struct entry *next = e->overflow;
	if (prev)
		goc__store_release(&prev->overflow, next);
	else
		goc__store_release(slot, next ? &next->node : NULL);
	while (i->parent && indirect_empty(i)) {
		shift += CHILDREN_LOG2;
		struct indirect *parent = i->parent;
		goc__spinlock_acquire(&parent->lock);
		goc__store_relaxed(&i->dead, 1);
		goc__store_release(&parent->children[child_index(hash, shift)], NULL);
		goc__spinlock_release(&i->lock);
		goc__qsbr_retire(i);
		i = parent;
	}
	goc__spinlock_release(&i->lock);
	goc__qsbr_retire(e);
	goc_counter_add(m->count, -1);
	read_end(r);
	return true;
}

bool goc_map_load_and_delete(goc_map *m, const void *key, size_t len, void **value)
{
	checked(m, key, len, "goc_map_load_and_delete");
	return remove_key(m, key, len, false, NULL, value);
}

void goc_map_delete(goc_map *m, const void *key, size_t len)
{
	checked(m, key, len, "goc_map_delete");
	remove_key(m, key, len, false, NULL, NULL);
}

bool goc_map_compare_and_delete(goc_map *m, const void *key, size_t len, void *old)
{
	checked(m, key, len, "goc_map_compare_and_delete");
	return remove_key(m, key, len, true, old, NULL);
}

bool goc_map_compare_and_swap(goc_map *m, const void *key, size_t len, void *old, void *new_value)
{
	checked(m, key, len, "goc_map_compare_and_swap");
	uint64_t hash = goc__hash(key, len, m->seed);
	goc__qsbr_reader *r = read_begin();
	struct node **slot;
	unsigned shift;
	bool swapped = false;
	struct indirect *i = find_locked(m, hash, key, len, &slot, &shift);
	if (i) {
		struct entry *e =
			chain_find((struct entry *)goc__load_relaxed(slot), hash, key, len);
		if (e && goc__load_relaxed(&e->value) == old) {
			goc__store_release(&e->value, new_value);
			swapped = true;
		}
		goc__spinlock_release(&i->lock);
	}
	read_end(r);
	return swapped;
}

/* ---- range, len, clear ---- */

static bool range_node(struct indirect *i, goc_map_range_fn fn, void *arg)
{
	for (int j = 0; j < CHILDREN; j++) {
		struct node *n = goc__load_acquire(&i->children[j]);
		if (!n)
			continue;
		if (!n->is_entry) {
			if (!range_node((struct indirect *)n, fn, arg))
				return false;
			continue;
		}
		for (struct entry *e = (struct entry *)n; e; e = goc__load_acquire(&e->overflow))
			if (!fn(e->key, e->len, goc__load_acquire(&e->value), arg))
				return false;
	}
	return true;
}

void goc_map_range(goc_map *m, goc_map_range_fn fn, void *arg)
{
	checked(m, NULL, 0, "goc_map_range");
	if (!fn)
		goc__panic("goc_map_range: NULL function");
	/* A record of this call's own, on its stack: the callback may park
	 * or move the goroutine to another thread, and the nodes this walk
	 * stands on must outlive that. */
	goc__qsbr_reader pin;
	goc__qsbr_register(&pin);
	goc__qsbr_online(&pin);
	range_node(m->root, fn, arg);
	goc__qsbr_offline(&pin);
	goc__qsbr_unregister(&pin);
}

int64_t goc_map_len(goc_map *m)
{
	return goc_counter_read(checked(m, NULL, 0, "goc_map_len")->count);
}

/* Removes the entries below i, one node at a time. In a read section. */
static void clear_node(goc_map *m, struct indirect *i)
{
	struct indirect *below[CHILDREN];
	int nbelow = 0;
	goc__spinlock_acquire(&i->lock);
	if (!goc__load_relaxed(&i->dead)) {
		for (int j = 0; j < CHILDREN; j++) {
			struct node *n = goc__load_relaxed(&i->children[j]);
			if (!n)
				continue;
			if (!n->is_entry) {
				below[nbelow++] = (struct indirect *)n;
				continue;
			}
			goc__store_release(&i->children[j], NULL);
			for (struct entry *e = (struct entry *)n; e;) {
				struct entry *next = e->overflow;
				goc__qsbr_retire(e);
				goc_counter_add(m->count, -1);
				e = next;
			}
		}
	}
	goc__spinlock_release(&i->lock);
	for (int j = 0; j < nbelow; j++)
		clear_node(m, below[j]);
}

void goc_map_clear(goc_map *m)
{
	checked(m, NULL, 0, "goc_map_clear");
	goc__qsbr_reader *r = read_begin();
	clear_node(m, m->root);
	read_end(r);
}
