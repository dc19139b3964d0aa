/*
 * goc/group.h — goc_group, Go's errgroup (golang.org/x/sync/errgroup).
 * Included by goc.h; include <goc.h>, not this file.
 *
 * A group runs tasks in goroutines under a context of its own, derived
 * from a parent. The first task to return a non-zero error cancels that
 * context, so the others can stop early; goc_group_wait waits for all and
 * returns the first error.
 *
 *     static int fetch(goc_ctx *ctx, void *url) { ... return err; }
 *
 *     goc_group *g = goc_group_new(parent);   // NULL: the background
 *     goc_group_set_limit(g, 4);              // optional
 *     for (int i = 0; i < n; i++)
 *         goc_group_go(g, fetch, urls[i]);
 *     int err = goc_group_wait(g);
 *     goc_group_free(g);
 */
#ifndef GOC_GROUP_H
#define GOC_GROUP_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/group.h>"
#endif

typedef struct goc_group goc_group;

/* A task of a group: returns 0 for success or an error of the caller's
 * choosing. ctx is the group's context (valid while the task runs). */
typedef int (*goc_group_fn)(goc_ctx *ctx, void *arg);

/* A group whose context is a cancellable child of parent (NULL: the
 * background). NULL with errno = ENOMEM if memory runs out. */
goc_group *goc_group_new(goc_ctx *parent);

/* The group's context, cancelled by the first error or by
 * goc_group_wait. Borrowed: valid until goc_group_free (retain it to keep
 * it longer). */
goc_ctx *goc_group_ctx(goc_group *g);

/* At most n tasks run at once (n > 0), or no limit (n < 0, the default).
 * n == 0, or changing the limit while tasks run, panics, as in Go. */
void goc_group_set_limit(goc_group *g, int n);

/*
 * Runs fn(ctx, arg) in a new goroutine; at the limit, first waits until a
 * running task finishes. GOC_OK, or goc_go's error (-ENOMEM, or -EAGAIN at
 * the goroutine limit, see goc_set_max_goroutines) if the goroutine could
 * not be started: then fn does not run, and the group's error is not
 * changed.
 */
goc_status goc_group_go(goc_group *g, goc_group_fn fn, void *arg);

/* goc_group_go that returns GOC_WOULDBLOCK instead of waiting at the
 * limit. */
goc_status goc_group_try_go(goc_group *g, goc_group_fn fn, void *arg);

/* Waits for every task started so far, cancels the group's context and
 * returns the first non-zero error a task returned (0 if none). */
int goc_group_wait(goc_group *g);

/* Frees g. Its tasks must have finished (goc_group_wait): freeing a group
 * with running tasks panics. NULL is ignored. */
void goc_group_free(goc_group *g);

#endif /* GOC_GROUP_H */
