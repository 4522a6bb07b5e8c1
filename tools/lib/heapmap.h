/* heapmap.h - the heap-map model that `map` and `layout` draw: a
 * segment's blocks in address order, cleaned of entries that cannot be
 * true, and the heap's regions derived from them (heapmap.c).
 *
 * Nothing here trusts the segment: overlapping or empty entries are
 * dropped, a request larger than its block is taken for the block, and the
 * heap bounds of the map head (read through the reader, never from the
 * file directly) are kept only when they agree with the blocks.
 */
#ifndef GH_TOOLS_HEAPMAP_H
#define GH_TOOLS_HEAPMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

/* A heap region as the map shows it: [start, end), blocks [first, first+n). */
struct hm_region {
    uint64_t start, end;
    size_t first, n;
};

struct heapmap {
    struct gh_shm_block *blocks;   /* address order */
    size_t n;                      /* entries in blocks */
    uint64_t total;                /* blocks in the heap (> n: truncated) */
    uint64_t heap_start, heap_end; /* from the segment when they agree with the blocks */
    struct hm_region *regions;
    size_t nregions;
};

void hm_free(struct heapmap *m);

/* Fetch a map: timeout_ms as ghr_map() (< 0: the last map written).  Sorts
 * the blocks, drops overlapping entries (untrusted data), and derives the
 * regions: a region runs from its first block less the region record
 * (measured on region 0: first block - heap_start) to its last block plus
 * the end marker (header_bytes; for the last region heap_end).  Returns a
 * ghr_error; on GHR_OK the caller hm_free()s m. */
int hm_fetch(struct ghr_segment *seg, int timeout_ms, uint32_t header_bytes, struct heapmap *m);

/* The model itself, from blocks already copied (hm_fetch's second half;
 * tests feed it crafted lists).  Takes ownership of blocks (malloc'd, n
 * entries, any order); lo/hi: the map head's bounds, have_bounds false
 * when unknown.  GHR_OK or GHR_IO (out of memory; blocks freed). */
int hm_build(struct gh_shm_block *blocks, size_t n, uint64_t total, uint32_t header_bytes, bool have_bounds,
             uint64_t lo, uint64_t hi, struct heapmap *m);

#endif
