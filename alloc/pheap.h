/* pheap.h - best fit's exact-size bins: each bin's free blocks in a pairing
 * heap ordered by address, so its lowest-addressed block is the root.
 *
 * Every block of a bin has the same size, so "smallest that fits, lowest
 * address on ties" within a bin is only "lowest address": a min-heap by
 * address answers it at the root, O(1).  A pairing heap (Fredman, Sedgewick,
 * Sleator and Tarjan, 1986) inserts in O(1) - one compare with the root and
 * one link - and removes the root or any node in O(log n) amortized, by
 * pairing up the removed node's children.  The work falls on the nodes
 * linked most recently (the blocks freed last, still in the cache), where
 * an AVL tree walks from its root on every insert and every removal, one
 * likely cache miss a level.  Three refinements, so that no single malloc
 * pays for many frees at once:
 *   - a node above the node inserted last goes under that one, so blocks
 *     freed in rising address order (a program freeing what it allocated,
 *     in order) form a path, each taken off in O(1);
 *   - the inserts under the root are a binary counter (pheap.c's carry):
 *     the t-th melds the root's front two trees ctz(t) times, so k frees in
 *     random order leave about log2(k) trees there, not k single nodes;
 *   - a removal pairs up the children multipass (a tournament), so the
 *     winner gains about log2(k) children, not k/2.
 * Measured on 4096 nodes inserted in random order, each removal of the
 * lowest visits at most 49 nodes (test_pheap.c; 1040 without the carry).
 *
 * The node lives in the free block's payload (24 bytes, as a tree node):
 *   child  the first of its children (each at a higher address)
 *   sib    the next of its parent's children
 *   prev   its parent when it is the first child, else the sibling before
 *          it; NULL at the root
 * so a node is unlinked in O(1), and every link has a partner that must
 * point back: a node's child's prev is the node, its sibling's prev is the
 * node, its prev's child or sibling is the node.  No link is followed
 * before it is checked against the bounds (tree_link.h: 16-byte aligned,
 * inside the heap's regions) and against its partner, and no chain is
 * followed further than the heap has nodes; a bad one is fatal, "<fn>():
 * corrupted free list at <node>", naming the node that holds it.
 */
#ifndef GH_PHEAP_H
#define GH_PHEAP_H

#include <stdbool.h>
#include <stddef.h>

#include "tree.h"

struct gh_pnode {
    struct gh_pnode *child, *sib, *prev;
};

struct gh_pheap {
    struct gh_pnode *root; /* the lowest-addressed node; NULL: empty */
    struct gh_pnode *last; /* the node inserted last while it is in; or NULL */
    size_t lazy;           /* inserts under the root since it changed (pheap.c's carry) */
    size_t count;
    const struct gh_tree_bounds *bounds; /* gh_tree_any unless set */
};

void gh_pheap_init(struct gh_pheap *h);

static inline void gh_pheap_set_bounds(struct gh_pheap *h, const struct gh_tree_bounds *b)
{
    h->bounds = b;
}

/* Add n (not in h). */
void gh_pheap_insert(struct gh_pheap *h, struct gh_pnode *n);

/* Remove n, which must be in h (fatal when its links say it is not). */
void gh_pheap_remove(struct gh_pheap *h, struct gh_pnode *n);

/* The lowest-addressed node, or NULL. */
static inline struct gh_pnode *gh_pheap_min(const struct gh_pheap *h)
{
    return h->root;
}

/* Is n linked into h?  O(1): n is the root, or its prev is in bounds and
 * points back to it (with gh_pheap_check's walk of every node from the
 * root and its count, what the heap checker needs to hold the index
 * against the blocks). */
bool gh_pheap_linked(const struct gh_pheap *h, const struct gh_pnode *n);

/* Visit every node (heap order: each before its children); stops when fn
 * returns false. */
void gh_pheap_walk(const struct gh_pheap *h, bool (*fn)(void *ctx, struct gh_pnode *n), void *ctx);

/* Check every link (bounds, partners), the heap order (each child above
 * its parent), that every node's size word says `size` and the count.  On
 * the first broken invariant returns false and, when why != NULL, points
 * *why at a static description.  Never follows an unchecked link. */
bool gh_pheap_check(const struct gh_pheap *h, size_t size, const char **why);

#endif
