/* glassheap/live.h - the counters the library keeps, laid out once, for the
 * library that counts in them and for the readers that read them in place.
 *
 * These structs are what the allocator itself counts in: each heap's
 * counters, each arena's API calls, each thread cache's counts, the system
 * calls and the hardened mode's.  While a process runs with a segment
 * (glassheap/shm.h), they live in its "live" section and every call updates
 * them where they are: no publish step, no lag.  A reader sums them as the
 * rules below say; gh_live_program_view is the one formula that turns the
 * heaps' view (cached and quarantined blocks are in use in a heap's eyes)
 * into the program's, for the library's own snapshot and for the readers.
 *
 * Live section (at the header's live_offset, live_size bytes; 0 0: a writer
 * that only publishes):
 *
 *   struct gh_shm_live                 the head: sizes, the system calls,
 *                                      the hardened mode, the large blocks,
 *                                      the caches of threads gone
 *   struct gh_shm_live_arena [arenas]  arena k's heap counters and calls
 *                                      (arena_size bytes each)
 *   struct gh_shm_live_cache [caches]  one live thread's cache each, in use
 *                                      when in_use is 1 (cache_size bytes)
 *
 * Consistency.  Arena k's entry changes only under arena k's lock, inside
 * the odd window of the entry's own seq (which also guards arena k's
 * region table: glassheap/shm.h): a reader copies the entry between two
 * equal even reads of that seq and has the arena as of its last completed
 * call.  The entries of arenas the main table's
 * `arenas` does not count yet are not in use.  A cache entry is written by
 * its thread alone, word by word (relaxed stores), without a lock: a reader
 * sums what it reads.  The system-call counts are atomic adds.  The hardened
 * mode's counts (one arena) move under the main arena's seq.  The large
 * words of the head are written with the segment's large-block list, under
 * its seq (after every call that maps, frees or reuses a large block).
 */
#ifndef GLASSHEAP_LIVE_H
#define GLASSHEAP_LIVE_H

#include <stdint.h>

#define GH_LIVE_HIST 64u        /* free-block histogram buckets (2^k) */

/* The API calls counted (per arena, under its lock; per cache, by its thread). */
struct gh_calls {
    uint64_t malloc, calloc, realloc, free, aligned, failed;
    uint64_t realloc_in_place, realloc_moved;
};

/* One thread's cache, or all of them added up. */
struct gh_tcache_counts {
    uint64_t blocks, bytes, requested; /* held now: blocks, whole blocks, what the heap recorded */
    uint64_t hits;                     /* requests served from the cache */
    uint64_t puts;                     /* frees kept in the cache */
    uint64_t flushed;                  /* blocks given back to their heap by a flush */
    uint64_t threads;                  /* caches in use (sum: live threads with one) */
    struct gh_calls calls;             /* API calls served without a lock */
};

/* Counters kept by a heap (bytes are whole blocks unless "requested"). */
struct gh_heap_counters {
    uint64_t live_requested;   /* what callers asked for and still hold */
    uint64_t live_block_bytes; /* blocks that hold them, headers included */
    uint64_t live_blocks;
    uint64_t free_bytes;       /* free blocks, headers included */
    uint64_t heap_bytes;       /* all memory held from the source */
    uint64_t overhead_bytes;   /* region records + end markers + alignment */
    uint64_t peak_requested, peak_block_bytes, peak_heap_bytes;
    uint64_t allocs, frees, failures;
    uint64_t resize_in_place, resize_refused;
    uint64_t regions_added, regions_extended, regions_released;
    uint64_t trims, trimmed_bytes;
    uint64_t free_hist[GH_LIVE_HIST]; /* free blocks with 2^k <= size < 2^(k+1), by k */
    uint64_t region_changes;   /* moves with every change of the regions (region.c):
                                  the segment's region table follows it */
};

/* Counters of every system call the allocator made. */
struct gh_os_counts {
    uint64_t brk_calls, brk_grow_bytes, brk_shrink_bytes;
    uint64_t mmap_calls, mmap_bytes;
    uint64_t munmap_calls, munmap_bytes;
    uint64_t mremap_calls, mremap_bytes; /* bytes: the new length of each mremap */
    uint64_t madvise_calls, madvise_bytes;
    /* the segment: shm_open+ftruncate (one create), its mmap and munmap,
     * shm_unlink (of the temporary or the real name) */
    uint64_t shm_creates, shm_maps, shm_map_bytes, shm_unmaps, shm_unlinks;
    uint64_t mprotect_calls, mprotect_bytes; /* GLASSHEAP_HARDEN's guard pages */
};

/* GLASSHEAP_HARDEN's counts (all 0 when off). */
struct gh_harden_counts {
    uint64_t on;                   /* 1 under GLASSHEAP_HARDEN=1 */
    uint64_t quarantined_blocks;   /* freed heap blocks not yet given back */
    uint64_t quarantined_bytes;    /* their whole blocks, headers included */
    uint64_t quarantined_requested;/* what they had been asked for */
    uint64_t canary_bytes;         /* canary bytes in live blocks, heap and large */
    uint64_t zero_blocks;          /* live malloc(0) pointers in the no-access region */
};

/* ---- the live section ------------------------------------------------ */

struct gh_shm_live {
    uint32_t arena_size;           /* sizeof(struct gh_shm_live_arena) */
    uint32_t arenas;               /* arena entries */
    uint32_t cache_size;           /* sizeof(struct gh_shm_live_cache) */
    uint32_t caches;               /* cache entries */
    uint64_t caches_unplaced;      /* live threads whose cache found no entry (not counted here) */
    uint64_t reserved[6];
    struct gh_os_counts os;        /* atomic adds */
    struct gh_harden_counts harden;/* main arena's seq; canary_bytes of heap blocks only */
    uint64_t large_canary_bytes;   /* atomic: canaries of large blocks */
    /* large blocks, with the large-block list (its seq) */
    uint64_t large_blocks, large_bytes, large_requested, large_peak_bytes, large_peak_blocks;
    uint64_t large_cached_blocks, large_cached_bytes, large_reused;
    uint64_t mmap_threshold_now, mmap_threshold_dynamic, mmap_threshold_rises;
    uint64_t large_reserved[5];
    /* the caches of threads that exited (and orphans of a fork), added up
     * under the cache registry's lock */
    struct gh_tcache_counts exited;
    uint64_t pad[7];               /* to 576 bytes: the entries start on a cache line */
    /* struct gh_shm_live_arena arenas[arenas], then struct gh_shm_live_cache caches[caches] */
};

struct gh_shm_live_arena {
    /* Arena k's sequence word (layout version 2): odd while a call in arena
     * k is inside its lock, two more after every call.  It guards this
     * entry and arena k's region table (glassheap/shm.h).  It lies here, on
     * the line of the counters that every call writes anyway, so that a
     * call under contention brings one line fewer to its core than with
     * the word in the table (version 1: 7 % more wall time on two threads
     * sharing an arena, bench/shm_cost.py). */
    uint64_t seq;
    struct gh_heap_counters heap;
    struct gh_calls calls;
    uint64_t threads;              /* threads attached now (written as they come and go) */
    uint64_t handed;               /* blocks other threads handed over, freed at
                                      this arena's calls since the start (0 from
                                      a writer older than the count) */
    uint64_t reserved[1];
};

struct gh_shm_live_cache {
    uint64_t in_use;               /* 1: a live thread counts here */
    struct gh_tcache_counts c;
};

/* Every entry is a whole number of 64-byte cache lines, and the section
 * starts on one: threads counting in entries of their own never share a
 * line. */
#ifdef __cplusplus
#define GH_LIVE_ASSERT static_assert
#else
#define GH_LIVE_ASSERT _Static_assert
#endif
GH_LIVE_ASSERT(sizeof(struct gh_shm_live) % 64 == 0, "live head: whole cache lines");
GH_LIVE_ASSERT(sizeof(struct gh_shm_live_arena) % 64 == 0, "arena entry: whole cache lines");
GH_LIVE_ASSERT(sizeof(struct gh_shm_live_cache) % 64 == 0, "cache entry: whole cache lines");

#define GH_SHM_LIVE_ARENAS 128u    /* GH_ARENAS_MAX */
#define GH_SHM_LIVE_CACHES 256u    /* threads whose caches count in place */

/* What the program holds, from what the heaps hold (h: the heaps' counters
 * added up, changed in place): a heap counts a block kept in a thread's
 * cache (cache) or in the hardened mode's quarantine (q) as in use; the
 * program freed it, so the live figures leave it out, and it is a term of
 * its own: live + cached + quarantined + free + overhead = heap.  Hardened,
 * every live block's request holds one canary byte more than asked, and a
 * live malloc(0) pointer is a live block outside the heap. */
static inline uint64_t gh_live_less(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static inline void gh_live_program_view(struct gh_heap_counters *h, const struct gh_harden_counts *q,
                                        const struct gh_tcache_counts *cache)
{
    if (q && q->on) {
        h->live_requested = gh_live_less(h->live_requested, h->live_blocks + q->quarantined_requested);
        h->live_block_bytes = gh_live_less(h->live_block_bytes, q->quarantined_bytes);
        h->live_blocks = gh_live_less(h->live_blocks, q->quarantined_blocks) + q->zero_blocks;
    }
    if (cache) {
        h->live_blocks = gh_live_less(h->live_blocks, cache->blocks);
        h->live_block_bytes = gh_live_less(h->live_block_bytes, cache->bytes);
        h->live_requested = gh_live_less(h->live_requested, cache->requested);
    }
}

#endif
