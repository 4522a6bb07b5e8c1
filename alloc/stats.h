/* stats.h - the counters of one process, as one snapshot, and the exit
 * summary.
 *
 * The heap keeps its own counters (heap.h), the large path its own
 * (large.h), the os layer counts system calls (os.h), and the front end
 * counts API calls (struct gh_calls).  A snapshot gathers them under the
 * allocator lock; formatting happens outside it and never allocates.
 */
#ifndef GH_STATS_H
#define GH_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "counts.h"
#include "harden.h"
#include "heap.h"
#include "large.h"
#include "os.h"


struct gh_stats_snapshot {
    long pid;
    const char *policy;
    size_t mmap_threshold;          /* in force now */
    bool threshold_dynamic;         /* front.h's dynamic rule is on */
    uint64_t threshold_rises;       /* times it raised the threshold */
    struct gh_calls calls;
    uint64_t handed;               /* blocks handed to their arena (malloc_handed.c) */
    struct gh_heap_counters heap;
    uint64_t free_blocks, largest_free;
    uint64_t large_blocks, large_bytes, large_requested, large_peak_bytes, large_peak_blocks;
    /* The cache of freed mappings (large.h): kept now, and blocks made from it. */
    uint64_t large_cached_blocks, large_cached_bytes, large_reused;
    struct gh_os_counts os;
    /* GLASSHEAP_HARDEN (all 0 when off); heap's live_* then exclude the
     * quarantined blocks: live + quarantined + free + overhead = heap. */
    struct gh_harden_counts harden;
    unsigned arenas;                   /* arenas made (heap counters add them up) */
    uint64_t regions;                  /* regions held by all of them */
    uint64_t order_free[GH_HEAP_ORDERS]; /* buddy: free blocks of 2^k bytes, all arenas */
    /* GLASSHEAP_CACHE: what the threads' caches hold (tcache.h); heap's
     * live_* then exclude it: live + cached + free + overhead = heap. */
    int cache_on;
    struct gh_tcache_counts cache;
};

/* Format s as text (a few lines, each starting "glassheap: ") or as one JSON
 * object and a newline.  Returns the length written (truncated to cap-1). */
size_t gh_stats_format(char *buf, size_t cap, enum gh_stats_mode mode, const struct gh_stats_snapshot *s);

/* Format s as glibc's malloc_stats() lays its report out ("Arena 0:",
 * "system bytes     = ...", ..., "max mmap bytes   = ..."), for programs
 * and tests that read it: the heap is arena 0, the large blocks are the
 * mmap regions (the cached freed mappings are system bytes, not in use).  Returns the length written (truncated to cap-1). */
size_t gh_stats_format_glibc(char *buf, size_t cap, const struct gh_stats_snapshot *s);

#endif
