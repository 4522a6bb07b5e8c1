/* policy.h - the placement policy interface.
 *
 * A policy owns the index of free blocks and the decision of which free
 * block serves a request.  It never touches the OS, never splits or merges
 * (block/heap do), and never changes a block header: it only reads sizes
 * through the tree and keeps its own nodes in the free blocks' payloads.
 *
 * The policy table: one `const struct gh_policy_ops gh_policy_<name>` per
 * name in GLASSHEAP_POLICIES (include/glassheap/policies.h), each naming its
 * heap discipline and, for the fit discipline, its index order.  Adding a
 * policy is adding a file with that one struct and its X(name) line in
 * policies.h; gh_policy_by_name() and the externs below expand that list.
 * The buddy line (buddy.c) has a discipline of its own and no fit index:
 * its index operations are NULL.
 */
#ifndef GH_POLICY_H
#define GH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glassheap/policies.h"

#include "block.h"
#include "discipline.h"
#include "pheap.h"
#include "tree.h"

struct gh_policy;

struct gh_policy_ops {
    const char *name;                      /* as GLASSHEAP_POLICY spells it */
    const struct gh_discipline *discipline; /* the heap discipline that runs it */
    enum gh_tree_order order;              /* fit: how the free-block index sorts */
    bool binned;                           /* small sizes in exact-size bins (first, best, worst) */
    bool ranked;                           /* binned: bin_rank kept (first fit) */
    /* Add a free block (header written, size final) to the index. */
    void (*insert)(struct gh_policy *p, struct gh_block *b);
    /* Remove a free block that is in the index. */
    void (*remove)(struct gh_policy *p, struct gh_block *b);
    /* Free block `old`, indexed with size old_size, is replaced by free
     * block `nb` (header written; nb may be old itself with a new size).
     * Nothing else in the index lies between them in address order. */
    void (*move)(struct gh_policy *p, struct gh_block *old, size_t old_size, struct gh_block *nb);
    /* The free block this policy chooses for a block of `size` bytes, or
     * NULL when none fits.  Does not remove it.  May move the policy's
     * own state (the next-fit rover). */
    struct gh_block *(*find)(struct gh_policy *p, size_t size);
    /* Check the index's own invariants; false + *why on the first broken. */
    bool (*check)(const struct gh_policy *p, const char **why);
};

/* Exact-size bins (a policy with .binned): one per block size from
 * GH_MIN_BLOCK in GH_ALIGN steps, up to GH_POLICY_BIN_MAX. */
#define GH_POLICY_BINS 512u
#define GH_POLICY_BIN_WORDS (GH_POLICY_BINS / 64u)
#define GH_POLICY_BIN_MAX (GH_MIN_BLOCK + (GH_POLICY_BINS - 1) * GH_ALIGN)
#define GH_POLICY_BIN_LEVELS 9u /* log2(GH_POLICY_BINS) */

struct gh_policy {
    const struct gh_policy_ops *ops;
    struct gh_tree tree;      /* every free block; with bins, those above
                                 GH_POLICY_BIN_MAX */
    const void *rover;        /* next fit: where the previous search ended */
    /* With bins: bin k holds the free blocks of size GH_MIN_BLOCK + 16 k
     * in a pairing heap by address (pheap.h), its lowest at the root; bit
     * k of bin_map says it has some. */
    uint64_t bin_map[GH_POLICY_BIN_WORDS];
    /* Bit w: bin_map[w] has a bit set (kept with it, so that a search past
     * empty words is one find-first-set, not a scan of the eight). */
    uint64_t bin_words;
    /* A bin's heap is set up when a block first goes in (bit k of
     * bin_ready), so a heap writes only the bins it uses. */
    uint64_t bin_ready[GH_POLICY_BIN_WORDS];
    const struct gh_tree_bounds *bounds; /* every tree's and bin's (gh_policy_set_bounds) */
    struct gh_pheap bins[GH_POLICY_BINS];
    /* With .ranked: a tournament over the bins' roots, so that the lowest
     * address among the bins from k up is O(log bins) in 8 KiB, not a scan:
     * bin_rank[GH_POLICY_BINS + k] is bin k's root as UINTPTR_MAX - address
     * (0: empty), every node above the larger of its two (so the lowest
     * address wins); one more, always 0, past the last leaf. */
    uintptr_t bin_rank[2 * GH_POLICY_BINS + 1];
};

#define GH_POLICY_EXTERN(name) extern const struct gh_policy_ops gh_policy_##name;
GLASSHEAP_POLICIES(GH_POLICY_EXTERN)
#undef GH_POLICY_EXTERN

/* The table line called `name` (one of GLASSHEAP_POLICIES), or NULL. */
const struct gh_policy_ops *gh_policy_by_name(const char *name);

/* An empty index in ops->order for a fit policy. */
void gh_policy_init(struct gh_policy *p, const struct gh_policy_ops *ops);

static inline struct gh_tnode *gh_policy_node(struct gh_block *b)
{
    return (struct gh_tnode *)gh_block_payload(b);
}

static inline struct gh_block *gh_policy_block(struct gh_tnode *n)
{
    return n ? gh_block_of(n) : NULL;
}

/* The index operations every fit policy uses (tree.h does the work; the
 * bins' heaps, pheap.h). */
void gh_policy_tree_insert(struct gh_policy *p, struct gh_block *b);
void gh_policy_tree_remove(struct gh_policy *p, struct gh_block *b);
void gh_policy_tree_move(struct gh_policy *p, struct gh_block *old, size_t old_size, struct gh_block *nb);
bool gh_policy_tree_check(const struct gh_policy *p, const char **why);

/* Only the trees' and the bins' own shape (every link, order, count), not
 * what a policy keeps beside them: the checker walks the heap against sound trees
 * before it holds the rest of the index against them (fit_check.c). */
bool gh_policy_trees_sound(const struct gh_policy *p, const char **why);

/* The bin of a block size, or -1: the size is not binned in p. */
static inline int gh_policy_bin_of(const struct gh_policy *p, size_t size)
{
    size_t k = (size - GH_MIN_BLOCK) / GH_ALIGN;
    if (!p->ops->binned || size < GH_MIN_BLOCK || k >= GH_POLICY_BINS || (size & (GH_ALIGN - 1)))
        return -1;
    return (int)k;
}

static inline bool gh_policy_bin_ready(const struct gh_policy *p, unsigned k)
{
    return (p->bin_ready[k / 64u] >> (k % 64u)) & 1u;
}

/* Bin k's heap, set up on first use. */
static inline struct gh_pheap *gh_policy_bin(struct gh_policy *p, unsigned k)
{
    if (__builtin_expect(!gh_policy_bin_ready(p, k), 0)) {
        gh_pheap_init(&p->bins[k]);
        gh_pheap_set_bounds(&p->bins[k], p->bounds);
        p->bin_ready[k / 64u] |= 1ull << (k % 64u);
    }
    return &p->bins[k];
}

/* Does bin k hold blocks? */
static inline bool gh_policy_bin_used(const struct gh_policy *p, unsigned k)
{
    return (p->bin_map[k / 64u] >> (k % 64u)) & 1u;
}

/* The first bin at or above k that holds blocks, or -1. */
static inline int gh_policy_bin_next(const struct gh_policy *p, unsigned k)
{
    unsigned w = k / 64u;
    uint64_t m = p->bin_map[w] >> (k % 64u);
    if (m)
        return (int)(k + (unsigned)__builtin_ctzll(m));
    /* The words above w that hold some: each looked at, so a word that
     * lost its bits without the summary knowing (it never should) is
     * passed over, not misread. */
    for (uint64_t more = p->bin_words & ~((2ull << w) - 1); more; more &= more - 1) {
        unsigned v = (unsigned)__builtin_ctzll(more);
        if (p->bin_map[v])
            return (int)(v * 64u + (unsigned)__builtin_ctzll(p->bin_map[v]));
    }
    return -1;
}

/* The highest bin that holds blocks, or -1. */
static inline int gh_policy_bin_top(const struct gh_policy *p)
{
    for (uint64_t more = p->bin_words; more;) {
        unsigned w = 63u - (unsigned)__builtin_clzll(more);
        if (p->bin_map[w])
            return (int)(w * 64u + 63u - (unsigned)__builtin_clzll(p->bin_map[w]));
        more &= ~(1ull << w); /* (never: the summary is kept with the words) */
    }
    return -1;
}

/* A bin root's value in the tournament (bin_rank): the lower the address,
 * the higher the value; 0 for an empty bin.  gh_policy_bin_lowest_from
 * turns the winner's back into an address. */
static inline uintptr_t gh_policy_rank_of(const struct gh_pnode *root)
{
    return root ? UINTPTR_MAX - (uintptr_t)root : 0;
}

/* The lowest-addressed free block in bins k and above (with .ranked), or
 * NULL: the tournament's winner over that range. */
static inline struct gh_block *gh_policy_bin_lowest_from(const struct gh_policy *p, unsigned k)
{
    /* The range runs to the last bin: from k's leaf up, each left child
     * brings in its right sibling's subtree, all of it above k; a right
     * child brings nothing (its sibling is masked off: no branch to
     * mispredict, the loop a fixed log2(bins) steps). */
    unsigned i = GH_POLICY_BINS + k;
    uintptr_t best = p->bin_rank[i];
    for (unsigned l = 0; l < GH_POLICY_BIN_LEVELS; l++, i >>= 1) {
        uintptr_t s = p->bin_rank[i + 1] & ((uintptr_t)(i & 1u) - 1);
        best = s > best ? s : best;
    }
    return best ? gh_block_of((const void *)(UINTPTR_MAX - best)) : NULL;
}

/* The lowest-addressed free block of bin k (bit k of bin_map set): its
 * heap's root. */
static inline struct gh_block *gh_policy_bin_lowest(const struct gh_policy *p, unsigned k)
{
    struct gh_pnode *r = gh_pheap_min(&p->bins[k]);
    return r ? gh_block_of(r) : NULL;
}

/* Where the index's links may lie (fit.c: the heap's bounds). */
void gh_policy_set_bounds(struct gh_policy *p, const struct gh_tree_bounds *b);

/* Number of free blocks in the index. */
size_t gh_policy_count(const struct gh_policy *p);

/* Visit every indexed free block in the tree's order (with bins: each
 * bin in heap order, smallest size first, then the tree). */
void gh_policy_walk(const struct gh_policy *p, bool (*fn)(void *ctx, struct gh_block *b), void *ctx);

/* Is block b in the index?  O(log n) for the trees, O(1) for a bin (its
 * links point back to it); used by checkers. */
bool gh_policy_contains(const struct gh_policy *p, const struct gh_block *b);

/* The largest free block's size. */
size_t gh_policy_largest(const struct gh_policy *p);

#endif
