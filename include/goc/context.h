/*
 * goc/context.h — goc_ctx, Go's context package.
 * Included by goc.h; include <goc.h>, not this file.
 */
#ifndef GOC_CONTEXT_H
#define GOC_CONTEXT_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/context.h>"
#endif

#endif /* GOC_CONTEXT_H */
