/*
 * goc/sema.h — goc_sema, a weighted semaphore.
 * Included by goc.h; include <goc.h>, not this file.
 */
#ifndef GOC_SEMA_H
#define GOC_SEMA_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/sema.h>"
#endif

#endif /* GOC_SEMA_H */
