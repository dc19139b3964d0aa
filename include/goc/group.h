/*
 * goc/group.h — goc_group, Go's errgroup.
 * Included by goc.h; include <goc.h>, not this file.
 */
#ifndef GOC_GROUP_H
#define GOC_GROUP_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/group.h>"
#endif

#endif /* GOC_GROUP_H */
