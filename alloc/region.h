/* region.h - the regions of a heap: contiguous spans from its source.
 *
 * Every discipline lays its blocks out inside regions:
 *
 *   [region record 48 B][blocks ...]
 *
 * The record holds the region's length and its node in the heap's region
 * tree (address-ordered), so "which region holds p" is O(log r).  What
 * follows the record is the discipline's: the fit discipline closes its
 * blocks with a 16-byte end marker, the buddy discipline tiles whole chunks.
 *
 * The top region is the one the source can extend in place (it ends where
 * the break is); mapped regions are given back whole.  These functions keep
 * the region tree and the region counters (heap_bytes, overhead_bytes,
 * regions_*, trims, peak_heap_bytes) and touch no block.
 */
#ifndef GH_REGION_H
#define GH_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "source.h"
#include "tree.h"

#define GH_REGION_HEADER   48u   /* struct gh_region, a multiple of 16 */
/* Fit regions: the record and the end marker. */
#define GH_REGION_OVERHEAD (GH_REGION_HEADER + GH_HEADER_SIZE)

struct gh_region {
    uint64_t len;          /* whole span, record included */
    uint64_t mapped;       /* 1: from mmap, released when wholly free */
    struct gh_tnode node;  /* in gh_heap.regions; len is the word 16 B before */
    uint64_t reserved;
};

struct gh_heap;

static inline char *gh_region_start(const struct gh_region *r)
{
    return (char *)r + GH_REGION_HEADER;
}

static inline char *gh_region_end(const struct gh_region *r)
{
    return (char *)r + r->len;
}

static inline struct gh_region *gh_region_of_node(const struct gh_tnode *n)
{
    return n ? (struct gh_region *)((char *)n - offsetof(struct gh_region, node)) : NULL;
}

/* The region whose span holds p, or NULL. */
struct gh_region *gh_region_containing(const struct gh_heap *h, const void *p);

/* Is p a possible payload of h: inside a region, past its record and a
 * block header?  (Not: is it a block start.) */
bool gh_region_owns(const struct gh_heap *h, const void *p);

/* Ask the source for `len` bytes, continuing the top region when it can.
 * false (nothing changed) when the source has no memory. */
bool gh_region_take(struct gh_heap *h, size_t len, struct gh_span *span);

/* Does span (from gh_region_take) continue the top region in place? */
bool gh_region_continues_top(const struct gh_heap *h, const struct gh_span *span);

/* Grow region r in place by `len` bytes (the span just after it). */
void gh_region_extend(struct gh_heap *h, struct gh_region *r, size_t len);

/* A new region over span whose first `overhead` bytes (record included)
 * hold no block; it becomes the top unless mapped. */
struct gh_region *gh_region_add(struct gh_heap *h, const struct gh_span *span, size_t overhead);

/* Keep a span too short for any block as a region of pure overhead (not
 * counted as a region added); the heap then has no top. */
void gh_region_keep_orphan(struct gh_heap *h, const struct gh_span *span);

/* Give the last `len` bytes of region r (the top) back to the source.
 * false when the source refuses (someone moved the break): nothing changed. */
bool gh_region_shrink(struct gh_heap *h, struct gh_region *r, size_t len);

/* Unmap the mapped region r, whose first `overhead` bytes held no block.
 * Returns the bytes given back. */
size_t gh_region_release(struct gh_heap *h, struct gh_region *r, size_t overhead);

/* Visit every region in address order; stops when fn returns false.
 * fn may not add or remove regions. */
void gh_region_walk(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_region *r), void *ctx);

/* Visit the blocks of [first, end) in region r in address order, as
 * gh_block_info; a size-0 header ends the region.  false when fn_block
 * stopped the walk.  Each header is verified before its size is used: a
 * corrupt one is fatal ("<fn>(): corrupted header of block"). */
struct gh_block_info;
bool gh_region_walk_blocks(const struct gh_region *r, const char *first, const char *end, const char *fn,
                           bool (*fn_block)(void *ctx, const struct gh_block_info *b), void *ctx);

#endif
