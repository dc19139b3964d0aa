/*
 * list.h — the runtime's one intrusive doubly-linked list.
 *
 * A record that can wait on a queue embeds a goc__list_node; the queue is a
 * goc__list (first and last). Nothing is allocated: the records are usually
 * on a parked goroutine's stack or in its descriptor, which is what makes
 * parking free of malloc. goc__list_entry gets the record back from its
 * node (put the node first in the record and that costs nothing).
 *
 * Invariants:
 *   - first == NULL if and only if last == NULL (the list is empty);
 *   - first->prev == NULL, last->next == NULL; the list is not circular;
 *   - a node that is not on a list has next == prev == NULL (zero-initialised
 *     records, and every removal resets them), so goc__list_linked can tell
 *     in O(1) whether a node is still queued.
 * The list has no lock of its own: every list is protected by the lock of
 * the structure that holds it, named in that structure's comment.
 */
#ifndef GOC_PRIM_LIST_H
#define GOC_PRIM_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "assert.h"

typedef struct goc__list_node {
	struct goc__list_node *next, *prev;
} goc__list_node;

typedef struct goc__list {
	goc__list_node *first, *last;
} goc__list;

/* The record of type `type` whose member `field` is node. */
#define goc__list_entry(node, type, field) ((type *)(void *)((char *)(node)-offsetof(type, field)))

/* for (node in list), in order; the body must not remove node (read
 * node->next first and walk by hand for that). */
#define goc__list_for_each(node, list) \
	for (goc__list_node *node = (list)->first; node; node = node->next)

static inline bool goc__list_empty(const goc__list *l)
{
	return !l->first;
}

/* Pushing a node that is already queued corrupts the list. A fresh record
 * from malloc has stale links, so only what needs no zeroing is checked:
 * n is not already at either end of l. */
#define goc__list_assert_unlinked(l, n) goc__assert((l)->first != (n) && (l)->last != (n))

static inline void goc__list_push_back(goc__list *l, goc__list_node *n)
{
	goc__list_assert_unlinked(l, n);
	n->next = NULL;
	n->prev = l->last;
	if (l->last)
		l->last->next = n;
	else
		l->first = n;
	l->last = n;
}

static inline void goc__list_push_front(goc__list *l, goc__list_node *n)
{
	goc__list_assert_unlinked(l, n);
	n->prev = NULL;
	n->next = l->first;
	if (l->first)
		l->first->prev = n;
	else
		l->last = n;
	l->first = n;
}

/* Whether n is on l (given the invariant that unlinked nodes are NULL). */
static inline bool goc__list_linked(const goc__list *l, const goc__list_node *n)
{
	return n->prev || l->first == n;
}

/* Unlinks n, which must be on l. */
static inline void goc__list_remove(goc__list *l, goc__list_node *n)
{
	goc__assert(goc__list_linked(l, n));
	if (n->prev)
		n->prev->next = n->next;
	else
		l->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->last = n->prev;
	n->next = n->prev = NULL;
}

/* Unlinks and returns the first node; NULL if l is empty. */
static inline goc__list_node *goc__list_pop_front(goc__list *l)
{
	goc__list_node *n = l->first;
	if (n)
		goc__list_remove(l, n);
	return n;
}

#endif
