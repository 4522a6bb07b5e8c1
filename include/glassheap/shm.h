/* glassheap/shm.h - the shared-memory segment: the only ABI between the
 * library (the writer, inside the program) and the inspector (a reader in
 * another process).
 *
 * File: /dev/shm/glassheap.<pid> (shm_open name "/glassheap.<pid>"), mode
 * 0600, created when the library starts, unlinked at exit; a forked child
 * creates its own.  Layout, all little-endian native x86_64 integers:
 *
 *   offset 0                 struct gh_shm_header    (header_size bytes)
 *   config_offset            struct gh_shm_config    (config_size bytes)
 *   counters_offset          struct gh_shm_counters  (counters_size bytes)
 *   map_offset               struct gh_shm_map, then map_capacity entries
 *                            of struct gh_shm_block  (map_size bytes)
 *   large_offset             struct gh_shm_large, then large_capacity
 *                            entries of struct gh_shm_large_block
 *                            (large_size bytes; large_offset 0: a writer
 *                            older than the list, no large blocks listed)
 *   heap_offset              struct gh_shm_heap, then heap_capacity entries
 *                            of struct gh_shm_region (heap_size bytes;
 *                            heap_offset 0: a writer older than the table)
 *   arenas_offset            struct gh_shm_arenas, then arenas_capacity
 *                            entries of struct gh_shm_arena (arenas_size
 *                            bytes; arenas_offset 0: a writer older than
 *                            the per-arena counters)
 *   arena_tables_offset      arena_tables region tables, one per arena
 *                            1, 2, ...: struct gh_shm_heap, then
 *                            arena_table_regions entries of struct
 *                            gh_shm_region each (arena_tables_size bytes
 *                            in all; 0 0: a writer older than them)
 *   live_offset              the counters in place: struct gh_shm_live,
 *                            its arena entries and its cache entries
 *                            (glassheap/live.h; live_size bytes; 0 0: a
 *                            writer that only publishes)
 *
 * A reader must check magic, version and every offset/size against the
 * file's real size before it reads anything, and must treat every value as
 * untrusted.  Sizes let a newer writer append fields: a reader uses
 * min(its struct size, the size the header gives) and ignores the rest.
 *
 * Consistency: the counters and the map are each written under a sequence
 * lock.  `seq` is odd while the writer is inside; a reader copies the
 * struct, reads `seq` again, and retries when it was odd or changed.
 *
 * Heap map from outside: the region table (struct gh_shm_heap) says where
 * the heap lies and how its blocks are laid out; a reader walks the blocks
 * in the process's memory itself, under its arena's `seq` (below).  The
 * request protocol is the fallback, for a reader the kernel does not let
 * read the process.
 *
 * Heap map on request: a reader adds 1 to map.request (atomically); the
 * library notices on its next call into the allocator, walks the heap, and
 * writes up to map_capacity blocks, then sets map.answered = request.  A
 * program that makes no allocator calls never answers: the reader times out
 * and says so.
 *
 * Counters in place: the counters the library counts in live in the live
 * section (glassheap/live.h) and every allocator call updates them there,
 * under its arena's seq: a reader has them as of the last completed call
 * with no request (an idle, blocked or stopped process included).  The
 * snapshot struct gh_shm_counters below is still published (when a reader
 * asks through counters.request, answered like the map, and at exit; every
 * GH_SHM_PUBLISH_EVERY allocator calls only by a writer without the live
 * section) for the figures that are not counters (the largest free block)
 * and for readers older than the live section.
 *
 * Rules the writer keeps (readers may rely on them):
 *   - it sizes the file, fills everything, and stores `magic` last with a
 *     release store; before that a reader sees a bad magic or a short file;
 *   - it never shrinks the file while it lives (a mapped reader cannot get
 *     SIGBUS from it);
 *   - it writes the counters and the map field by field and never writes
 *     either `request` word (only readers add to them), so no request is
 *     lost to a publish;
 *   - every offset and block_size is a multiple of 8 (the sequence and
 *     request words are loaded atomically);
 *   - fields are only ever appended (inside the sizes the header gives, or
 *     in the `reserved` words; new map-header fields go into map.reserved):
 *     that keeps GH_SHM_VERSION; an incompatible change raises it.
 */
#ifndef GLASSHEAP_SHM_H
#define GLASSHEAP_SHM_H

#include <stdint.h>

#include "glassheap/live.h"

#define GH_SHM_MAGIC         0x3150414548534c47ULL /* "GLSHEAP1" */
#define GH_SHM_VERSION       2u  /* 2: each arena's seq in its live entry */
#define GH_SHM_NAME_PREFIX   "/glassheap."          /* + decimal pid */
#define GH_SHM_DIR           "/dev/shm"
#define GH_SHM_PUBLISH_EVERY 4096u
#define GH_SHM_MAP_CAPACITY  65536u                 /* blocks in one map */
#define GH_SHM_HIST_BUCKETS  64u                    /* free blocks by 2^k */
#define GH_SHM_ORDERS        48u                    /* buddy orders */
#define GH_SHM_CMDLINE_MAX   512u

struct gh_shm_header {
    uint64_t magic;            /* GH_SHM_MAGIC */
    uint32_t version;          /* GH_SHM_VERSION */
    uint32_t header_size;      /* sizeof(struct gh_shm_header) */
    uint64_t total_size;       /* bytes the writer sized the file to */
    uint32_t config_offset, config_size;
    uint32_t counters_offset, counters_size;
    uint32_t map_offset, map_size;
    uint32_t map_capacity;     /* entries that fit after struct gh_shm_map */
    uint32_t block_size;       /* sizeof(struct gh_shm_block) */
    int32_t pid;               /* the writer */
    uint32_t uid;              /* its real user id */
    uint64_t start_time_ns;    /* CLOCK_REALTIME when the library started */
    uint64_t proc_start_ticks; /* field 22 of /proc/<pid>/stat: a reused pid has another */
    uint64_t exited;           /* 1 once the writer ran its exit handler */
    uint32_t large_offset, large_size;       /* the large-block list; 0 0: none */
    uint32_t large_capacity;                 /* entries after struct gh_shm_large */
    uint32_t large_block_size;               /* sizeof(struct gh_shm_large_block) */
    /* The heap's region table (appended in reserved words; 0 0: a writer
     * older than the table, whose heap can only be asked for a map). */
    uint32_t heap_offset, heap_size;         /* struct gh_shm_heap and its entries */
    uint32_t heap_capacity;                  /* entries after struct gh_shm_heap */
    uint32_t heap_region_size;               /* sizeof(struct gh_shm_region) */
    /* Every arena's own counters (appended in reserved words; 0 0: a
     * writer older than them, which shows the totals only). */
    uint32_t arenas_offset, arenas_size;     /* struct gh_shm_arenas and its entries */
    uint32_t arenas_capacity;                /* entries after struct gh_shm_arenas */
    uint32_t arena_entry_size;               /* sizeof(struct gh_shm_arena) */
    /* The other arenas' region tables (0 0: a writer without them).  Table
     * j (0-based) is arena j + 1's, at arena_tables_offset + j * stride,
     * stride = round up to 8 of sizeof(struct gh_shm_heap) +
     * arena_table_regions * heap_region_size. */
    uint32_t arena_tables_offset, arena_tables_size;
    uint32_t arena_tables;                   /* tables (arenas 1 .. arena_tables) */
    uint32_t arena_table_regions;            /* entries each table holds */
    /* The counters in place (appended; header_size says whether a writer
     * has them; 0 0: one that only publishes): glassheap/live.h. */
    uint32_t live_offset, live_size;
};

struct gh_shm_config {
    char policy[16];           /* "first" ... "buddy", NUL-terminated */
    uint64_t mmap_threshold;
    uint64_t trim_threshold, top_pad;
    uint32_t buddy_max_order;  /* 0 for the fit policies */
    uint32_t alignment;        /* 16 */
    uint32_t header_bytes;     /* per-block header, 16 */
    uint32_t min_block;        /* smallest block */
    char cmdline[GH_SHM_CMDLINE_MAX]; /* argv joined by spaces, NUL-terminated, maybe cut */
    uint64_t reserved[8];
};

/* Everything counted; the fragmentation figures (internal, external,
 * utilisation and its peak) are derived from these by glassheap/frag.h,
 * the one place their formulas live.  All of them concern the heap (break and regions); large mmap blocks are
 * counted apart (large_*). */
struct gh_shm_counters {
    uint64_t seq;              /* sequence lock: odd while being written */
    uint64_t publishes;        /* how many times these were written */
    uint64_t time_ns;          /* CLOCK_MONOTONIC of the last publish */
    uint64_t request, answered;/* counters on demand (see the map) */
    /* API calls */
    uint64_t malloc_calls, calloc_calls, realloc_calls, realloc_in_place, realloc_moved;
    uint64_t free_calls, aligned_calls, failed_calls;
    /* system calls and bytes */
    uint64_t brk_calls, brk_grow_bytes, brk_shrink_bytes;
    uint64_t mmap_calls, mmap_bytes, munmap_calls, munmap_bytes, mremap_calls;
    uint64_t madvise_calls, madvise_bytes;
    uint64_t trims, trimmed_bytes;
    /* the heap, now */
    uint64_t live_requested, live_block_bytes, live_blocks;
    uint64_t free_bytes, free_blocks, largest_free;
    uint64_t heap_bytes, overhead_bytes, regions;
    /* large blocks, now */
    uint64_t large_requested, large_bytes, large_blocks;
    /* peaks */
    uint64_t peak_requested, peak_block_bytes, peak_heap_bytes, peak_large_bytes;
    /* free blocks whose size s has 2^k <= s < 2^(k+1), by k */
    uint64_t free_hist[GH_SHM_HIST_BUCKETS];
    /* buddy: free blocks of order k (2^k bytes), like /proc/buddyinfo */
    uint64_t buddy_free[GH_SHM_ORDERS];
    uint64_t mremap_bytes;     /* the new length of each mremap, summed */
    /* GLASSHEAP_HARDEN (appended in reserved words: a writer without them
     * leaves 0, i.e. "off").  With harden_on, live_* above exclude the
     * quarantined blocks, a term of their own:
     * live_block_bytes + quarantined_bytes + free_bytes + overhead_bytes
     * = heap_bytes. */
    uint64_t harden_on;              /* 1: the process runs GLASSHEAP_HARDEN=1 */
    uint64_t quarantined_blocks;     /* freed heap blocks held back from reuse */
    uint64_t quarantined_bytes;      /* their whole blocks, headers included */
    uint64_t quarantined_requested;  /* what they had been asked for */
    uint64_t canary_bytes;           /* canary bytes in live blocks, heap and large */
    uint64_t zero_blocks;            /* live malloc(0) pointers (no-access region) */
    /* GLASSHEAP_CACHE (appended in reserved words: 0 from an older writer).
     * Cached blocks are in use in the heap but freed by the program; with
     * cache_on the live_* above exclude them, a term of their own:
     * live_block_bytes + cached_bytes (+ quarantined_bytes) + free_bytes
     * + overhead_bytes = heap_bytes. */
    uint64_t cache_on;               /* 1: per-thread caches in use */
    uint64_t cached_blocks;          /* blocks the threads' caches hold */
    uint64_t cached_bytes;           /* their whole blocks, headers included */
    uint64_t cached_requested;       /* what the heap recorded for them */
    uint64_t cache_hits;             /* requests served from a cache so far */
    uint64_t arenas;                 /* heap instances (arenas); 0 from an older writer: 1 */
    uint64_t reserved[3];
    /* Appended after the reserved words (the struct grew: counters_size
     * says so; a writer without these leaves a shorter struct, which the
     * reader fills with 0, and the reader then has only
     * config.mmap_threshold, the one at start).  The mmap threshold now:
     * dynamic, glibc's rule raises it as large blocks are freed
     * (alloc/front.h). */
    uint64_t mmap_threshold_now;     /* requests this large are mapped apart */
    uint64_t mmap_threshold_dynamic; /* 1: the rule is on; 0: fixed (env, mallopt) */
    uint64_t mmap_threshold_rises;   /* times the rule raised it */
    /* The cache of freed large mappings (kept mapped for reuse; neither heap
     * nor live large bytes: their own term of what the process holds). */
    uint64_t large_cached_blocks;    /* mappings kept now */
    uint64_t large_cached_bytes;     /* their bytes */
    uint64_t large_reused;           /* large blocks made from one so far */
};

enum gh_shm_block_state {
    GH_SHM_BLOCK_USED = 1,
    GH_SHM_BLOCK_FREE = 2,
    GH_SHM_BLOCK_CACHED = 3,   /* freed, kept in a thread's cache (in use in the heap) */
};

struct gh_shm_block {
    uint64_t addr;             /* block start (its header) */
    uint64_t size;             /* whole block */
    uint64_t requested;        /* 0 for free blocks */
    uint32_t state;            /* enum gh_shm_block_state */
    uint32_t region;           /* index of its region in address order */
};

struct gh_shm_map {
    uint64_t request;          /* a reader adds 1 to ask for a map */
    uint64_t answered;         /* the writer sets it to `request` when done */
    uint64_t seq;              /* sequence lock over what follows */
    uint64_t time_ns;          /* CLOCK_MONOTONIC when written */
    uint64_t nblocks;          /* entries written below */
    uint64_t total_blocks;     /* blocks in the heap; > nblocks: truncated */
    uint64_t heap_start, heap_end; /* lowest and highest address of the heap's regions */
    uint64_t reserved[8];
    /* struct gh_shm_block entries[map_capacity] follow */
};

/* Large blocks (one mapping each), written under `seq` (odd while the
 * writer is inside) with every publish of the counters and every heap map,
 * so a reader that asked for either sees the list of that moment.  The first
 * min(count, large_capacity) entries are valid, in no particular order;
 * total > count means the list was full and `total - count` live large
 * blocks are not listed (their bytes are still in the counters). */
struct gh_shm_large {
    uint64_t seq;              /* sequence lock over what follows */
    uint64_t count;            /* valid entries below */
    uint64_t total;            /* live large blocks */
    uint64_t reserved[5];
    /* struct gh_shm_large_block entries[large_capacity] follow */
};

struct gh_shm_large_block {
    uint64_t addr;             /* the payload the program holds */
    uint64_t map_base;         /* its mapping */
    uint64_t map_len;
    uint64_t requested;        /* what the program asked for */
};

#define GH_SHM_LARGE_CAPACITY 4096u              /* large blocks listed */

/* ---- the heap, for a walker outside the process ----------------------
 *
 * What a reader needs to walk the heap's boundary tags itself, in the
 * target's memory (process_vm_readv), without the process's help: where
 * the regions are, which discipline lays out each, and the block layout's
 * constants (so a reader does not hard-code the library's block.h).
 *
 * The arena's sequence word - arena k's is the `seq` of its entry in the
 * live section (glassheap/live.h; layout version 1 kept it in this
 * table's first word, now unused and 0) - is odd while an allocator call
 * is in progress (the library stores it odd at the start of every call it
 * serves under the arena's lock, even at the end) and changes with every
 * call, so a reader that copies the table, walks the memory and finds the
 * word even and unchanged has seen the heap of one moment between two
 * calls.  Without a live section a segment has no sequence word and
 * cannot be walked.  The table is rewritten at the end of a
 * call that added, extended, shrank or released a region (inside the odd
 * window).  Every word is still untrusted: a walker checks each region and
 * each header against the layout below and stops with an error at the
 * first that does not fit.
 *
 * A region (entry) is [record][blocks ...]:
 *   fit:   blocks from base + region_record_bytes up to an end marker, an
 *          in-use header of size 0 in the region's last end_marker_bytes;
 *          block sizes are multiples of `alignment`, at least min_block;
 *          a free block's last 8 bytes repeat its first header word (the
 *          footer), and the next header has prev_free_flag set;
 *   buddy: chunks of 2^max_order bytes from base + region_record_bytes, as
 *          many as fit in len; each chunk tiled by blocks of 2^k bytes,
 *          min_block <= 2^k <= 2^max_order, each at a multiple of 2^k from
 *          the first chunk.
 * A header is two words: word 0 = size | flags | check bits (size_mask,
 * the flag bits, check_mask0: ignore the check, only the process can
 * verify it); word 1 = requested size (requested_mask; in a free block a
 * mark, not a size) | check bits (check_mask1) | arena bits (arena_mask).
 * A used block's requested size is at most its size less header_bytes.
 *
 * Arenas: this table is the main arena's (arena 0).  Every other arena k
 * has a table of its own, the same struct under its own seq (live entry
 * k's, moved by the calls under arena k's lock as entry 0's is by the
 * main arena's), its
 * own regions (entries naming arena k) and the same layout words, in the
 * header's arena tables (arena_tables_offset).  `arenas` below says how
 * many there are and `arena_tables` that the others' tables are kept: a
 * walker walks each table under its arena's seq (each arena at a moment of
 * its own) and adds them up.
 */
enum gh_shm_discipline {
    GH_SHM_DISC_FIT = 1,
    GH_SHM_DISC_BUDDY = 2,
};

struct gh_shm_region {
    uint64_t base;             /* the region record's address (16-aligned) */
    uint64_t len;              /* the whole span, record included */
    uint32_t discipline;       /* enum gh_shm_discipline */
    uint32_t max_order;        /* buddy: chunk 2^max_order; 0 for fit */
    uint32_t arena;            /* the heap (arena) it belongs to; 0 until there are arenas */
    uint32_t mapped;           /* 1: an mmap region, 0: the break */
};

struct gh_shm_heap {
    uint64_t seq;              /* version 1's sequence word; 0 (live entry k's seq guards this) */
    uint64_t count;            /* valid entries below */
    uint64_t total;            /* regions the heap holds (> count: table full) */
    uint64_t table_writes;     /* times the table was rewritten */
    /* the block layout (constant for the segment's life) */
    uint32_t header_bytes;     /* 16 */
    uint32_t alignment;        /* 16 */
    uint32_t min_block;        /* smallest block */
    uint32_t region_record_bytes; /* before the first block of a region */
    uint32_t end_marker_bytes; /* fit: the end marker */
    uint32_t footer_bytes;     /* fit: a free block's footer */
    uint64_t size_mask;        /* word 0: the block size */
    uint64_t free_flag;        /* word 0: the block is free */
    uint64_t prev_free_flag;   /* word 0: the block before is free (fit) */
    uint64_t mmapped_flag;     /* word 0: never set in a heap block */
    uint64_t inner_flag;       /* word 0 (buddy): a used block with an aligned payload inside */
    uint64_t check_mask0;      /* word 0: check bits, to ignore */
    uint64_t requested_mask;   /* word 1: requested size */
    uint64_t check_mask1;      /* word 1: check bits, to ignore */
    uint64_t arena_mask;       /* word 1: owning arena */
    /* Heaps (arenas) the process runs; 0 from an older writer: one.  The
     * table and seq describe the main arena (arena 0) only: above 1, the
     * regions listed are not the whole heap, and a walker must not take
     * them for it - it walks the other arenas' tables too (arena_tables),
     * or, without them, asks for the map the process writes on request. */
    uint64_t arenas;
    /* 1: arenas 1 .. arenas-1 each have their table in the header's arena
     * tables, valid once `arenas` counts them (0 from an older writer,
     * whose other arenas cannot be walked).  0 in those tables. */
    uint64_t arena_tables;
    uint64_t reserved[6];
    /* struct gh_shm_region entries[heap_capacity] follow, in address order */
};

#define GH_SHM_REGION_CAPACITY 4096u             /* regions listed */
#define GH_SHM_ARENA_REGIONS   32u               /* regions listed per other arena */

/* ---- arenas, one by one ----------------------------------------------
 *
 * Each arena's (heap instance's) own figures, written under `seq` with
 * every publish of the counters (the same moment, all arena locks held),
 * in arena order, the first min(count, arenas_capacity) entries valid.
 * An arena's heap counts a block in a thread's cache (and, hardened, one
 * in quarantine) as in use: for every entry
 *   used_block_bytes + free_bytes + overhead_bytes = heap_bytes,
 * and over all entries used_* add up to the counters' live_* + cached_*
 * (+ quarantined_*), the other words to the counters' totals. */
struct gh_shm_arenas {
    uint64_t seq;              /* sequence lock over what follows */
    uint64_t count;            /* valid entries below */
    uint64_t reserved[6];
    /* struct gh_shm_arena entries[arenas_capacity] follow */
};

struct gh_shm_arena {
    uint64_t index;            /* 0: the main arena (the break heap) */
    uint64_t threads;          /* threads attached to it now */
    uint64_t calls;            /* API calls it served under its lock so far */
    uint64_t used_blocks, used_block_bytes, used_requested; /* in use in its heap */
    uint64_t free_blocks, free_bytes, largest_free;
    uint64_t heap_bytes, overhead_bytes, regions;
    uint64_t peak_heap_bytes;
    uint64_t reserved[3];
};

#define GH_SHM_ARENAS_CAPACITY 128u              /* arenas listed (GH_ARENAS_MAX) */

#endif
