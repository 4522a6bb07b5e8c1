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
#include "walk.h"

/* A heap region as the map shows it: [start, end), blocks [first, first+n). */
struct hm_region {
    uint64_t start, end;
    size_t first, n;
    uint32_t arena;                /* the arena it belongs to (0 when not known) */
};

struct heapmap {
    struct gh_shm_block *blocks;   /* address order */
    size_t n;                      /* entries in blocks */
    uint64_t total;                /* blocks in the heap (> n: truncated) */
    uint64_t heap_start, heap_end; /* from the segment when they agree with the blocks */
    struct hm_region *regions;
    size_t nregions;
    bool arenas_known;             /* regions name their arena (a walk; the map the
                                      process answers does not say) */
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

/* Where a map comes from: walked from outside (walk.h) or asked for
 * (the request protocol); auto walks and falls back to asking. */
enum hm_mode { HM_AUTO, HM_OUTSIDE, HM_REQUEST };

/* How a map was had. */
struct hm_source {
    bool outside;              /* read from outside (else answered by the process) */
    bool fell_back;            /* HM_AUTO: the walk failed, the process was asked */
    int walk_rc;               /* the walk's GHW_* (GHW_OK when it was used) */
    char why[GHW_WHY_MAX];     /* fell_back, or a failed HM_OUTSIDE: why the walk failed */
};

/* Parse a --source value ("auto", "outside", "process"); false otherwise. */
bool hm_parse_mode(const char *s, enum hm_mode *mode);

/* The model from a walk (ghw_walk_segment), its regions exact: takes the
 * walk's blocks (w->blocks becomes NULL).  GHR_OK or GHR_IO. */
int hm_from_walk(struct ghw_heap *w, struct heapmap *m);

/* Fetch a map as mode says: HM_OUTSIDE walks the heap in the process's
 * memory, HM_REQUEST asks the process (hm_fetch, timeout_ms), HM_AUTO walks
 * and asks only when the walk failed (src->fell_back, src->why).  A failed
 * HM_OUTSIDE walk returns HM_WALK_FAILED with src->why.  When figures is not
 * NULL and the map was walked, it receives the walk's figures (no blocks:
 * those are in m).  Otherwise a ghr_error as hm_fetch. */
#define HM_WALK_FAILED (-1)
int hm_fetch_from(struct ghr_segment *seg, enum hm_mode mode, int timeout_ms, uint32_t header_bytes,
                  struct heapmap *m, struct hm_source *src, struct ghw_heap *figures);

/* Put what the heap holds now, as the walk found it, into counters read
 * from the segment: live_*, free_*, largest_free, heap_bytes,
 * overhead_bytes, regions, the free-block histogram and the buddy orders.
 * Counts, peaks and system calls stay the segment's.  Hardened
 * (harden_on), the quarantine's figures from the segment are taken out of
 * the live ones, as the library counts them; so are the cached ones when
 * they were read in place (cached_in_place), else they are set to 0 (a
 * published figure may be stale: the cached blocks then count as live). */
void hm_overlay_counters(const struct ghw_heap *w, struct gh_shm_counters *c, bool cached_in_place);

/* The same for the large blocks, from the segment's large-block list
 * (kept current by the library after every call that changes it): the
 * count, and when the list holds them all (n == total) their bytes and
 * requests. */
void hm_overlay_large(const struct gh_shm_large_block *v, size_t n, uint64_t total, struct gh_shm_counters *c);

/* hm_overlay_large with the list read from seg; false (c untouched) when
 * the segment has no list or it cannot be read. */
bool hm_overlay_large_of(const struct ghr_segment *seg, struct gh_shm_counters *c);

/* The counters as they are now, the one way stat, top and watch read them:
 * what the process published (ghr_counters), with what it keeps in place
 * (ghr_live: *info says whether it does; then time_ns is now, and
 * info->published_ns when it last published), then, when w is a walk of
 * its heap (GHW_OK; else NULL), the heap's figures as walked
 * (hm_overlay_counters), the large blocks from the list when they are not
 * kept in place, and each arena's largest free block.  arenas (cap
 * entries; may be NULL) receives each arena's entry (ghr_arenas, then
 * ghr_live), *narenas of them.  GHR_OK or the reader's error. */
struct hm_now_info {
    struct ghr_live_info live;
    uint64_t published_ns;     /* CLOCK_MONOTONIC of the last publish */
};
int hm_counters_now(const struct ghr_segment *seg, const struct ghw_heap *w, struct gh_shm_counters *c,
                    struct gh_shm_arena *arenas, size_t cap, size_t *narenas, struct hm_now_info *info);

#endif
