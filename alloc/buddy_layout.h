/* buddy_layout.h - the layout of a buddy region, shared by the buddy
 * discipline (buddy.c) and its checker (buddy_check.c); private to them.
 *
 *   [region record][chunk 2^max_order][chunk 2^max_order]...
 * Every block is 2^k bytes at an offset from the first chunk that is a
 * multiple of 2^k (buddy.h).
 */
#ifndef GH_BUDDY_LAYOUT_H
#define GH_BUDDY_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "block.h"
#include "heap.h"
#include "region.h"

static inline size_t osize(unsigned k)
{
    return (size_t)1 << k;
}

static inline unsigned order_of(const struct gh_block *b)
{
    return (unsigned)__builtin_ctzll(gh_block_size(b));
}

static inline char *chunk0(const struct gh_region *r)
{
    return gh_region_start(r);
}

static inline size_t nchunks(const struct gh_heap *h, const struct gh_region *r)
{
    return (size_t)((r->len - GH_REGION_HEADER) >> h->buddy.max_order);
}

static inline char *chunks_end(const struct gh_heap *h, const struct gh_region *r)
{
    return chunk0(r) + (nchunks(h, r) << h->buddy.max_order);
}

static inline struct gh_region *region_of(const struct gh_heap *h, const void *p)
{
    return gh_region_containing(h, p);
}

/* The buddy discipline's invariants (buddy.c's banner); false and *why,
 * *where on the first broken one (buddy_check.c). */
bool gh_buddy_check(const struct gh_heap *h, const char **why, const void **where);

#endif
