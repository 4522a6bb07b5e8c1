/* fit.h - what the fit discipline's two files share (fit.c: the
 * operations; fit_check.c: the checker).  Private to them.
 */
#ifndef GH_FIT_H
#define GH_FIT_H

#include "heap.h"

/* The first block of fit region r (just after its record). */
static inline struct gh_block *gh_fit_first(const struct gh_region *r)
{
    return (struct gh_block *)gh_region_start(r);
}

/* The size-0 end marker that closes fit region r (its last 16 bytes). */
static inline struct gh_block *gh_fit_marker(const struct gh_region *r)
{
    return (struct gh_block *)((char *)r + r->len - GH_HEADER_SIZE);
}

/* The fit checker (gh_discipline_fit.check; discipline.h). */
bool gh_fit_check(const struct gh_heap *h, const char **why, const void **where);

#endif
