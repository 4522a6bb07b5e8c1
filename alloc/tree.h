/* tree.h - the fit indexes shared by the policies.
 *
 * An AVL tree whose nodes live inside the things they index (a free block's
 * payload, a region or large-block record).  The node's size is read from the
 * word 16 bytes before the node (a block header's size word; records put
 * their length there too), so one node is only 24 bytes and the minimum
 * block stays at 48.
 *
 * Two orders:
 *   GH_TREE_BY_ADDR  keyed by the node's address; every node also carries
 *                    the largest size in its subtree, so "lowest address
 *                    whose size fits" is one root-to-leaf walk: O(log n).
 *   GH_TREE_BY_SIZE  keyed by (size, address): "smallest that fits, lowest
 *                    address on ties" and "largest, lowest address on ties"
 *                    are one walk each: O(log n).
 *
 * No parent pointers: updates keep the root-to-node path on a stack (AVL
 * height <= 1.44 log2(n+2), so GH_TREE_MAX_DEPTH covers any address space).
 *
 * The nodes live in memory a program can overwrite (a free block's payload
 * is next to a live one), so no link is followed unchecked: every child
 * pointer is checked against the tree's bounds before it is read through -
 * 16-byte aligned, its node and size word inside [lo, hi), inside one of the
 * cover tree's spans when there is more than one, on the right side of its
 * parent (BY_ADDR), and no path deeper than GH_TREE_MAX_DEPTH.  O(1) per link
 * (the cover lookup only for heaps of several regions, and then mostly one
 * compare against the span that held the last node).  A bad link is fatal:
 * "<fn>(): corrupted free list at <node>" (error.h), naming the node that
 * holds it.
 * A node's size must not change while it is in a BY_SIZE tree; in a BY_ADDR
 * tree call gh_tree_resized() after changing it.
 */
#ifndef GH_TREE_H
#define GH_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_TREE_MAX_DEPTH 96

/* Node visits, counted only in the core built for bench_scaling
 * (glassheap_core_visits): every node any walk steps onto. */
#ifdef GH_TREE_VISITS
extern uint64_t gh_tree_visits;
#define GH_TREE_VISIT() (gh_tree_visits++)
#else
#define GH_TREE_VISIT() ((void)0)
#endif

enum gh_tree_order { GH_TREE_BY_ADDR, GH_TREE_BY_SIZE };

struct gh_tnode {
    struct gh_tnode *left, *right;
    uint64_t aux; /* low 56 bits: largest size in this subtree; high 8: height */
};

/* Where a tree's nodes may lie (kept by the owner of the memory, region.c
 * for a heap).  A node n occupies [n - 16, n + 24): its size word and
 * itself. */
struct gh_tree_bounds {
    uintptr_t lo, hi;            /* every node inside [lo, hi) */
    const struct gh_tree *cover; /* NULL, or a BY_ADDR tree (the regions) one
                                    of whose spans must hold the node too */
    const char *fn;              /* the API call under way, for the fatal line */
    /* lo and hi as the link check uses them (gh_tree_bounds_changed): the
     * lowest node address, and how far above it the highest may lie, in
     * 16-byte units. */
    uintptr_t node_lo, node_span;
    /* With a cover: the span of the cover node that last held a node
     * [hit_lo, hit_lo + hit_len + NODE_SPAN - 1), so the next link into
     * the same region costs one compare instead of a cover walk (hit_len
     * 0: none yet). */
    uintptr_t hit_lo, hit_len;
};

/* Recompute node_lo and node_span after lo or hi changed (region.c). */
static inline void gh_tree_bounds_changed(struct gh_tree_bounds *b)
{
    /* A node occupies [n - 16, n + 24): its size word and itself. */
    b->node_lo = b->lo + 16;
    b->node_span = b->hi - b->lo >= 40 ? (b->hi - b->lo - 40) >> 4 : 0;
    if (b->hi <= b->lo) /* no regions: no node passes */
        b->node_lo = UINTPTR_MAX, b->node_span = 0;
    b->hit_lo = b->hit_len = 0;
}

struct gh_tree {
    struct gh_tnode *root;
    size_t count;
    enum gh_tree_order order;
    const struct gh_tree_bounds *bounds; /* gh_tree_any unless set */
};

/* Bounds that hold any aligned address (trees over memory of many owners). */
extern const struct gh_tree_bounds gh_tree_any;

/* The size word's layout (block.h): flags in bits 0-3, size in bits 4-47,
 * check bits above.  Region and large-block records put a plain length
 * there. */
#define GH_TNODE_SIZE_MASK ((((uint64_t)1 << 48) - 1) & ~(uint64_t)15)

/* The size the node indexes: the word 16 bytes before it, flags masked. */
static inline size_t gh_tnode_size(const struct gh_tnode *n)
{
    return (size_t)(((const uint64_t *)n)[-2] & GH_TNODE_SIZE_MASK);
}

/* An empty tree with the bounds gh_tree_any. */
void gh_tree_init(struct gh_tree *t, enum gh_tree_order order);

/* Check every link of t against b from now on (b outlives t). */
static inline void gh_tree_set_bounds(struct gh_tree *t, const struct gh_tree_bounds *b)
{
    t->bounds = b;
}

/* BY_ADDR tree whose node n spans [n - 16, n - 16 + size(n)) (a region
 * record): does one of the spans hold [p, p + len)? */
bool gh_tree_covers(const struct gh_tree *t, const void *p, size_t len);

/* Insert n (not already in t). */
void gh_tree_insert(struct gh_tree *t, struct gh_tnode *n);

/* Remove n, which must be in t (with the size it was inserted with); not
 * finding it is fatal, a corrupted free list (so are inserting a node
 * already in t and resizing one that is not). */
void gh_tree_remove(struct gh_tree *t, struct gh_tnode *n);

/* Remove n, which was inserted with size `size` (its header may say
 * otherwise by now). */
void gh_tree_remove_sized(struct gh_tree *t, struct gh_tnode *n, size_t size);

/* Put n where old stands, when n's key sorts exactly where old's did
 * (old was inserted with size old_size; n's size is read from its header
 * now; n may be old itself after a size change).  One walk instead of a
 * remove and an insert.  false (tree unchanged) when old is not in t or n
 * would sort elsewhere: then remove old and insert n. */
bool gh_tree_move(struct gh_tree *t, struct gh_tnode *old, size_t old_size, struct gh_tnode *n);

/* Is n in t, searched for with the key (size, n)?  Its links checked like
 * every walk's (a bad one is fatal). */
bool gh_tree_contains(const struct gh_tree *t, const struct gh_tnode *n, size_t size);

/* BY_ADDR: n's size changed in place; refresh the subtree maxima. */
void gh_tree_resized(struct gh_tree *t, struct gh_tnode *n);

/* BY_ADDR: the lowest-addressed node with size >= size, or NULL. */
struct gh_tnode *gh_tree_first_fit(const struct gh_tree *t, size_t size);

/* BY_ADDR: the lowest-addressed node at address >= from with size >= size. */
struct gh_tnode *gh_tree_first_fit_from(const struct gh_tree *t, const void *from, size_t size);

/* BY_ADDR: the node with the greatest address <= addr, or NULL.  A tree
 * of none or one node (a heap of one region: every "which region holds
 * p") is answered inline, following no link; a larger one by the walk. */
struct gh_tnode *gh_tree_floor_walk(const struct gh_tree *t, const void *addr);

static inline struct gh_tnode *gh_tree_floor(const struct gh_tree *t, const void *addr)
{
    const struct gh_tnode *n = t->root;
    if (!n || (!n->left && !n->right))
        return (struct gh_tnode *)(n && (uintptr_t)n <= (uintptr_t)addr ? n : NULL);
    return gh_tree_floor_walk(t, addr);
}

/* BY_SIZE: the smallest node with size >= size, lowest address on ties. */
struct gh_tnode *gh_tree_best_fit(const struct gh_tree *t, size_t size);

/* BY_SIZE: the largest node, lowest address among the largest. */
struct gh_tnode *gh_tree_largest(const struct gh_tree *t);

/* The largest size in the tree (0 when empty); O(1) BY_ADDR, O(log n) BY_SIZE. */
size_t gh_tree_max_size(const struct gh_tree *t);

/* In-order walk (address order, or size order); stops when fn returns false. */
void gh_tree_walk(const struct gh_tree *t, bool (*fn)(void *ctx, struct gh_tnode *n), void *ctx);

/* Check order, AVL balance, heights, subtree maxima and the count.  On the
 * first broken invariant returns false and, when why != NULL, points *why at
 * a static description. */
bool gh_tree_check(const struct gh_tree *t, const char **why);

#endif
