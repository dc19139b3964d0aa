/*
 * goc/workpool.h — goc_workpool, a worker pool with backpressure.
 * Included by goc.h; include <goc.h>, not this file.
 */
#ifndef GOC_WORKPOOL_H
#define GOC_WORKPOOL_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/workpool.h>"
#endif

#endif /* GOC_WORKPOOL_H */
