/* heap.h - one heap instance: a source, a discipline and counters.
 *
 * A heap is made of regions (region.h), each a contiguous span from its
 * source, in an address-ordered region tree, so "does this heap own p" is
 * O(log r).  Its policy (a line of the policy table, policy.h) names the
 * discipline that lays blocks out in them (discipline.h):
 *
 *   fit (first, next, best, worst; fit.c):
 *     [region record 48 B][block][block] ... [block][end marker 16 B]
 *     The end marker is an in-use header of size 0: nothing coalesces
 *     across it.  When the source extends the top region in place (the
 *     break grew contiguously), the old end marker becomes the start of a
 *     free block.
 *   buddy (buddy.c): [region record 48 B][chunk 2^max][chunk 2^max]...
 *
 * Fit invariants (gh_heap_check): every header carries a valid check; sizes
 * are multiples of 16, at least GH_MIN_BLOCK, and tile each region exactly;
 * a free block's footer equals its header; PREV_FREE is set exactly when
 * the previous block is free; no two free blocks are adjacent; the policy's
 * index holds exactly the free blocks; the counters match the walk.  Buddy
 * invariants: see buddy.c.
 *
 * Not thread-safe: the front end serialises calls.  Misuse or corruption
 * found by any call (a double free, a pointer into the middle of a block, a
 * header that fails its check, a free-list link outside the heap, a
 * neighbour that disagrees) is fatal: gh_fatal() with one of error.h's
 * GH_MSG_* and the caller's function name.
 */
#ifndef GH_HEAP_H
#define GH_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "buddy.h"
#include "discipline.h"
#include "policy.h"
#include "region.h"
#include "source.h"
#include "tree.h"
#include "glassheap/live.h"

#define GH_DEFAULT_TOP_PAD        (128u * 1024u)
#define GH_DEFAULT_TRIM_THRESHOLD (128u * 1024u)
#define GH_MAX_TRIM_THRESHOLD     (64u * 1024u * 1024u)
#define GH_ALIGNED_HINTS          16u

/* The histogram bucket of a block size (> 0). */
static inline unsigned gh_size_class(size_t size)
{
    return 63u - (unsigned)__builtin_clzll((unsigned long long)size);
}

struct gh_heap {
    const struct gh_policy_ops *entry; /* its line of the policy table */
    const struct gh_discipline *d;     /* entry->discipline */
    struct gh_source *src;
    union {                     /* the discipline's own state */
        struct gh_policy policy;    /* fit: the policy's free-block index */
        struct gh_buddy buddy;      /* buddy: the per-order free lists */
    };
    struct gh_tree regions;     /* BY_ADDR over struct gh_region.node */
    struct gh_tree_bounds bounds; /* where its index nodes may lie (region.c);
                                   the heap must not move once set up */
    struct gh_region *top;      /* the region the source can extend in place */
    /* Fit only (0 for buddy, which grows and trims by whole chunks): */
    size_t top_pad;             /* extra bytes asked for when growing */
    size_t trim_threshold;      /* give back the top when its free block exceeds this */
    bool trim_adaptive;         /* double trim_threshold when growing right after a trim */
    bool grow_exact;            /* over an arena: grow by what the request lacks (a free
                                 * block at the top counted), unrounded, no pad -- the
                                 * malloc-lab driver's heap (glassheap replay --model exact) */
    uint64_t trims_at_last_grow;
    /* Fit only: the last aligned blocks made (payload, block size) and,
     * once freed, the free block that took them in -- hints, checked
     * before use, for finding a freed aligned block again (fit.c). */
    struct gh_aligned_hint {
        char *payload;
        size_t size;
        struct gh_block *free_in;  /* NULL while live */
    } hints[GH_ALIGNED_HINTS];
    unsigned hint_next;
    /* Its counters (glassheap/live.h): `own` until the process's segment
     * gives them a place (gh_heap_counters_move), then in place there. */
    struct gh_heap_counters *c;
    struct gh_heap_counters own;
};

/* Move h's counters to `to` (h's lock held; to == &h->own brings them
 * home): copied, then counted there from the next change on. */
static inline void gh_heap_counters_move(struct gh_heap *h, struct gh_heap_counters *to)
{
    if (to != h->c) {
        *to = *h->c;
        h->c = to;
    }
}

/* The API call under way (for a fatal line found below the call's entry). */
static inline const char *gh_heap_call(const struct gh_heap *h)
{
    return h->bounds.fn ? h->bounds.fn : "malloc";
}

/* Does [p, p + len) lie inside one region of h?  O(1) for a heap of one
 * region (its span), O(log r) otherwise. */
static inline bool gh_heap_in_regions(const struct gh_heap *h, const void *p, size_t len)
{
    const struct gh_tree_bounds *b = &h->bounds;
    uintptr_t a = (uintptr_t)p;
    if (a - b->lo > b->hi - b->lo || len > b->hi - a)
        return false;
    return !b->cover || gh_tree_covers(b->cover, p, len);
}

/* A block as the walker reports it. */
struct gh_block_info {
    const void *addr;      /* block start (header) */
    size_t size;           /* whole block */
    size_t requested;      /* 0 for free blocks */
    bool free;
    const struct gh_region *region;
};

/* Set up an empty heap over src with the given line of the policy table
 * (buddy's largest block is then 2^20); no memory is taken until the first
 * allocation. */
void gh_heap_init(struct gh_heap *h, struct gh_source *src, const struct gh_policy_ops *policy);

/* A buddy heap over src whose largest block is 2^max_order bytes (also the
 * unit it takes from the source; clamped to [6, 47]); requests that do not
 * fit one block fail.  (Defined by the buddy discipline, buddy.c.) */
void gh_heap_init_buddy(struct gh_heap *h, struct gh_source *src, unsigned max_order);

/* A heap with the named policy (one of GLASSHEAP_POLICIES) that must serve
 * every request up to largest_request bytes (the front end's mmap
 * threshold).  The buddy discipline sizes its largest block from it: the
 * smallest order >= 20 whose block holds largest_request and a header,
 * capped at 2^40.  false for an unknown name. */
bool gh_heap_init_named(struct gh_heap *h, struct gh_source *src, const char *policy, size_t largest_request);

/* The same for an h whose bytes are all zero already (an arena: the main
 * one in .bss, the others in fresh mappings): nothing is written that
 * stays zero, so the pages of policy bins a run never uses - most of the
 * heap's 30 KiB - are never the process's memory (a memset of h made all
 * of them resident: a one-malloc program's own anonymous memory 60 ->
 * 36 KiB). */
bool gh_heap_init_named_zeroed(struct gh_heap *h, struct gh_source *src, const char *policy, size_t largest_request);

/* Is `name` a policy gh_heap_init_named accepts (gh_policy_by_name)? */
bool gh_heap_policy_exists(const char *name);

/* Can gh_heap_alloc_aligned(h, align, n) ever succeed (memory permitting)?
 * Fit heaps: yes for any n up to GH_MAX_REQUEST.  Buddy heaps: only when
 * n, its header and the alignment slack fit the largest block.  The front
 * end sends what a heap cannot hold to the large-block path. */
bool gh_heap_can_hold(const struct gh_heap *h, size_t align, size_t n);

/* What the segment and the tools need to know about a heap's discipline,
 * without knowing the discipline. */
#define GH_HEAP_ORDERS 48u
struct gh_heap_desc {
    const char *policy;                /* name, static */
    size_t min_block;                  /* smallest block made, header included */
    unsigned max_order;                /* largest block 2^max_order; 0 for fit */
    size_t regions;                    /* regions held now */
    uint64_t order_free[GH_HEAP_ORDERS]; /* free blocks of 2^k bytes; 0 for fit */
};
void gh_heap_describe(const struct gh_heap *h, struct gh_heap_desc *d);

/* The policy's name. */
const char *gh_heap_policy_name(const struct gh_heap *h);

/* A block for n bytes (n == 0 gives a minimum block), payload 16-aligned.
 * NULL when the source has no memory left (the caller sets errno). */
void *gh_heap_alloc(struct gh_heap *h, size_t n);

/* A block for n bytes whose payload is a multiple of align (a power of two,
 * any size).  NULL when out of memory. */
void *gh_heap_alloc_aligned(struct gh_heap *h, size_t align, size_t n);

/* Free a payload this heap returned (gh_heap_owns(h, p)).  Fit: coalesces
 * with both neighbours and trims the top when it passes trim_threshold;
 * buddy: merges with its free buddy repeatedly, gives back a wholly free
 * mapped region and a second free chunk at the top.  Fatal on
 * a double free or a header that fails its check; `fn` names the API call
 * in the message ("free", "realloc"). */
void gh_heap_free(struct gh_heap *h, void *p, const char *fn);

/* Make p's block hold n bytes without moving it.  Fit: shrink (splitting
 * off the tail) or grow into a free next block or, at the top, by extending
 * the region; buddy: hand back or absorb upper buddies.  true when done;
 * false leaves the block untouched. */
bool gh_heap_resize(struct gh_heap *h, void *p, size_t n, const char *fn);

/* Validate the header of an owned payload the way free() does; fatal when
 * it is corrupt or already free ("double free" when the call frees,
 * freeing; "pointer to a freed block" when it only looks).  Returns the
 * block. */
struct gh_block *gh_heap_block(struct gh_heap *h, const void *p, const char *fn, bool freeing);

/* Bytes usable at p (block size - header). */
size_t gh_heap_usable(const struct gh_heap *h, const void *p);

/* Is p inside one of this heap's regions? (not: is it a block start) */
bool gh_heap_owns(const struct gh_heap *h, const void *p);

/* Give memory back: shrink the top region to keep at most `pad` free bytes
 * there (buddy: every free chunk at the top, pad ignored), release wholly
 * free mapped regions, and (fit) decommit the whole pages inside large free
 * blocks.  Returns the bytes given back to the OS (trimmed or unmapped;
 * decommitted pages are not counted). */
size_t gh_heap_trim(struct gh_heap *h, size_t pad);

/* Visit every block of every region in address order, end markers
 * excluded.  Stops when fn returns false. */
void gh_heap_walk(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_block_info *b), void *ctx);

/* Walk everything and check the region tree and every invariant of the
 * heap's discipline (above; buddy.c).  false and *why (a
 * static string) and *where (the offending address, may be NULL) on the
 * first broken one.  why/where may be NULL. */
bool gh_heap_check(const struct gh_heap *h, const char **why, const void **where);

/* Largest free block size (0 if none) and free block count. */
size_t gh_heap_largest_free(const struct gh_heap *h);
size_t gh_heap_free_blocks(const struct gh_heap *h);

#endif
