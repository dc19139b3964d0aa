/*
 * goc/sync.h — goc_mutex, goc_rwmutex, goc_once, goc_cond, goc_pool and the sharded counter.
 * Included by goc.h; include <goc.h>, not this file.
 */
#ifndef GOC_SYNC_H
#define GOC_SYNC_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/sync.h>"
#endif

#endif /* GOC_SYNC_H */
