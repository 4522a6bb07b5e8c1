/* walk.h - the heap walked from outside the process: the boundary tags read
 * from the target's memory, every word treated as hostile.
 *
 * The segment's region table (include/glassheap/shm.h, struct
 * gh_shm_heap) says where the heap's regions lie, which discipline lays
 * out each and the block layout's constants; the walker reads the regions
 * through a source (struct ghw_source), in bounded chunks, and walks their
 * headers: fit regions header by header up to the end marker, buddy
 * regions block by block inside each chunk.  Each header must fit the
 * layout (size a multiple of the alignment, at least the smallest block,
 * inside the region; buddy: a power of two at a multiple of itself; a free
 * fit block's footer and the next header's prev-free flag agreeing), or the
 * walk stops with GHW_CORRUPT and a line saying where and what.  The
 * table's sequence word (its arena's: glassheap/shm.h) must be even and unchanged from before the walk to
 * after it; a walk that saw it move is retried (a bounded number of times,
 * then GHW_CHANGING).  No input makes the walker crash, loop or read
 * outside the regions the table lists: every loop advances by at least the
 * smallest block and stops at the region's end.
 *
 * walk.c is the walker over any source (tests feed it a buffer, changed
 * between reads if they like); walk_target.c is the source for a live
 * process: the table from its segment, the memory with process_vm_readv,
 * and the line that says why the kernel refused (Yama's ptrace_scope named).
 * Nothing here prints or aborts.
 */
#ifndef GLASSHEAP_WALK_H
#define GLASSHEAP_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glassheap/shm.h"
#include "reader.h"

enum ghw_status {
    GHW_OK = 0,
    GHW_REFUSED,   /* the kernel does not let us read the process (EPERM, EACCES) */
    GHW_NO_TABLE,  /* no region table (an older writer), or a full one */
    GHW_CHANGING,  /* the heap changed (or a call was in progress) on every try */
    GHW_CORRUPT,   /* a word read does not fit the layout: why says which */
    GHW_GONE,      /* the process is gone */
    GHW_NOMEM,     /* out of memory here */
};

#define GHW_WHY_MAX    320         /* the error line, NUL included */
#define GHW_CHUNK      65536u      /* the most one read asks for */
#define GHW_TRIES      20          /* walks before GHW_CHANGING */
#define GHW_MAX_BLOCKS (1u << 26)  /* blocks walked at most (then GHW_CORRUPT) */

/* Where the walker gets the table and the memory.  Each function returns
 * 0 or an errno (read: EPERM/EACCES refused, ESRCH gone, anything else -
 * EFAULT for memory the target does not have - a bad address). */
struct ghw_source {
    /* Copy the table's head and up to cap entries (*n of them) at one
     * moment; EAGAIN when the writer was inside (its seq odd or moving:
     * head->seq then holds what was seen), ENOENT when there is no table. */
    int (*table)(void *ctx, struct gh_shm_heap *head, struct gh_shm_region *regions, size_t cap, size_t *n);
    /* The table's seq word now (its arena's, wherever the source keeps it). */
    int (*seq)(void *ctx, uint64_t *seq);
    /* len bytes of the target's memory at addr. */
    int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
    /* Between two tries (may be NULL): wait a little. */
    void (*pause)(void *ctx, int try);
    void *ctx;
};

/* A region as walked: its span and its blocks [first, first + n) of the
 * blocks kept (blocks: all of its blocks, kept or not). */
struct ghw_region {
    uint64_t base, len;
    uint32_t discipline, arena;
    size_t first, n;
    uint64_t blocks;
};

struct ghw_heap {
    struct gh_shm_block *blocks;   /* address order, at most max_blocks (malloc'd) */
    size_t n;
    uint64_t total;                /* blocks in the heap (> n: not all kept) */
    struct ghw_region *regions;    /* malloc'd */
    size_t nregions;
    /* what the blocks add up to */
    uint64_t used_blocks, used_bytes, live_requested;
    uint64_t free_blocks, free_bytes, largest_free;
    uint64_t heap_bytes, overhead_bytes;
    uint64_t free_hist[GH_SHM_HIST_BUCKETS];  /* as the counters' free_hist */
    uint64_t buddy_free[GH_SHM_ORDERS];       /* buddy: free blocks by order */
    uint32_t discipline;           /* of the regions (0: no region) */
    uint64_t seq;                  /* the moment walked (the table's even seq) */
    uint64_t arenas;               /* the table's `arenas` (0 or 1: one heap) */
    unsigned arenas_walked;        /* ghw_walk_segment: tables walked and added up */
    uint64_t arena_largest[GH_SHM_ARENAS_CAPACITY]; /* ghw_walk_segment: each one's largest free block */
    unsigned tries;                /* walks it took */
    uint64_t reads, read_bytes;    /* what it asked the source for */
    int read_errno;                /* GHW_REFUSED, GHW_GONE: the source's errno */
    char why[GHW_WHY_MAX];         /* on an error: one line, no newline */
};

/* Walk the heap the source shows; keep up to max_blocks blocks (0: only
 * count them).  On GHW_OK every figure is filled from one moment; on any
 * other status why says what went wrong and nothing needs freeing.  The
 * caller ghw_free()s after GHW_OK. */
int ghw_walk(const struct ghw_source *src, size_t max_blocks, struct ghw_heap *out);
void ghw_free(struct ghw_heap *h);

/* ---- walk_target.c: a live process ---- */

/* Walk the heap of the segment's process: the table from the segment, the
 * memory with process_vm_readv.  A process of several arenas: the main
 * arena's table, then every other arena's (each under its own seq, at a
 * moment of its own), added up - the blocks' region numbers counted on
 * from one arena to the next, as in the map the process writes on request,
 * and regions and blocks then put in address order.  A failure in any arena
 * fails the walk, its line prefixed "arena K: ".  GHW_REFUSED's line names
 * the cause the kernel can have (Yama's ptrace_scope, from
 * /proc/sys/kernel/yama). */
int ghw_walk_segment(const struct ghr_segment *seg, size_t max_blocks, struct ghw_heap *out);

/* The line for a refusal (errno err) to read process pid, into buf. */
void ghw_refusal_line(int pid, int err, char *buf, size_t cap);

/* A short name of how a map was had, for the tools' outputs: "read from
 * outside" (outside true) or "answered by the process". */
const char *ghw_source_name(bool outside);

#endif
