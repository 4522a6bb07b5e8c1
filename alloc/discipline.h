/* discipline.h - a heap discipline: how blocks are laid out in the regions
 * of a heap, found, split, merged and checked.
 *
 * heap.c dispatches every heap operation through the discipline of the
 * heap's policy (struct gh_policy_ops.discipline) and knows nothing of
 * either.  Two implementations:
 *
 *   gh_discipline_fit    boundary-tag blocks (block.h) over a placement
 *                        policy's free-block index (fit.c)
 *   gh_discipline_buddy  power-of-two blocks on per-order free lists
 *                        (buddy.c)
 *
 * Each keeps its own state in its member of struct gh_heap's union and
 * shares the region bookkeeping of region.c.  Every operation has the
 * contract of the gh_heap_* function of the same name (heap.h); heap.c runs
 * the debug checker after the ones that change the heap.
 */
#ifndef GH_DISCIPLINE_H
#define GH_DISCIPLINE_H

#include <stdbool.h>
#include <stddef.h>

struct gh_heap;
struct gh_block;
struct gh_block_info;
struct gh_heap_desc;

struct gh_discipline {
    /* Set up the discipline's state of h (zeroed, src, policy and region
     * tree set); the largest request it must serve sizes buddy's blocks. */
    void (*init)(struct gh_heap *h, size_t largest_request);
    /* A block for n bytes whose payload is a multiple of align (a power of
     * two, at least GH_ALIGN).  NULL, counted as a failure, when none. */
    void *(*alloc)(struct gh_heap *h, size_t align, size_t n);
    void (*free)(struct gh_heap *h, void *p, const char *fn);
    bool (*resize)(struct gh_heap *h, void *p, size_t n, const char *fn);
    /* p's block, checked as free() checks it (freeing: the words of a
     * free - "double free" - for a block already free). */
    struct gh_block *(*block)(struct gh_heap *h, const void *p, const char *fn, bool freeing);
    size_t (*usable)(const struct gh_heap *h, const void *p);
    bool (*owns)(const struct gh_heap *h, const void *p);
    size_t (*trim)(struct gh_heap *h, size_t pad);
    void (*walk)(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_block_info *b), void *ctx);
    /* The discipline's invariants (heap.c has checked the region tree). */
    bool (*check)(const struct gh_heap *h, const char **why, const void **where);
    bool (*can_hold)(const struct gh_heap *h, size_t align, size_t n);
    /* min_block, max_order and order_free of gh_heap_desc. */
    void (*describe)(const struct gh_heap *h, struct gh_heap_desc *d);
    size_t (*largest_free)(const struct gh_heap *h);
    size_t (*free_blocks)(const struct gh_heap *h);
};

extern const struct gh_discipline gh_discipline_fit;
extern const struct gh_discipline gh_discipline_buddy;

#endif
