/* tree_link.h - what tree.c (the shape) and tree_query.c (the searches,
 * the walk and the check) share: the node's packed word and every link
 * checked before it is followed (tree.h says what a bad link does);
 * pheap.c (the bins' heaps) checks its links with the same bounds test.
 * Private to the three; static inline, so each search keeps its bounds in
 * registers.
 */
#ifndef GH_TREE_LINK_H
#define GH_TREE_LINK_H

#include "tree.h"

#include "error.h"

#define HEIGHT_SHIFT 56
#define MAX_MASK ((((uint64_t)1) << HEIGHT_SHIFT) - 1)
/* A node occupies its size word (16 bytes before it) and itself. */
#define NODE_SPAN (16u + sizeof(struct gh_tnode))

/* ---- checked links ---------------------------------------------------- */

/* A tree's bounds as one walk holds them, in registers: the lowest node
 * address and, shifted right by 4, how far above it the highest may lie. */
struct lim {
    uintptr_t lo;               /* bounds->node_lo: bounds->lo + 16 */
    uintptr_t span;             /* bounds->node_span: (hi - lo - NODE_SPAN) >> 4;
                                   0 with a cover: every link takes the slow check */
    bool by_addr;               /* children must lie on their side */
    bool cover;                 /* several regions: the slow check too */
    const struct gh_tree_bounds *b;
};

/* The limits of a structure over bounds b that is not b's own cover tree. */
static inline struct lim lim_of_bounds(const struct gh_tree_bounds *b, bool by_addr)
{
    bool cover = b->cover != NULL;
    return (struct lim){ b->node_lo, cover ? 0 : b->node_span, by_addr, cover, b };
}

static inline struct lim lim_of(const struct gh_tree *t)
{
    const struct gh_tree_bounds *b = t->bounds;
    bool cover = b->cover != NULL && b->cover != t;
    return (struct lim){ b->node_lo, cover ? 0 : b->node_span, t->order == GH_TREE_BY_ADDR, cover, b };
}

/* The same with the order known at compile time (a function of one order,
 * or one of the two copies of an always-inline one): the side checks of
 * the other order compile away. */
static inline struct lim lim_ordered(const struct gh_tree *t, bool by_addr)
{
    struct lim L = lim_of(t);
    L.by_addr = by_addr;
    return L;
}

__attribute__((noreturn, cold, noinline)) static void bad_link(struct lim L, const void *at)
{
    const char *fn = L.b->fn;
    gh_fatal(fn ? fn : "malloc", GH_MSG_FREE_LIST, at);
}

/* Several regions: does one of the cover's spans hold the node at c?  The
 * span that held the last one is remembered in the bounds (a cache, so it
 * is written through the const pointer: the bounds belong to the heap
 * whose lock is held). */
__attribute__((noinline)) static bool in_cover(struct lim L, const struct gh_tnode *c)
{
    struct gh_tree_bounds *b = (struct gh_tree_bounds *)L.b;
    uintptr_t a = (uintptr_t)c - 16, d = (uintptr_t)c - b->node_lo;
    if (((d >> 4) | (d << 60)) > b->node_span) /* outside [lo, hi) or misaligned */
        return false;
    if (a - b->hit_lo < b->hit_len)
        return true;
    const struct gh_tnode *n = gh_tree_floor(b->cover, (const char *)c);
    if (!n)
        return false;
    uintptr_t start = (uintptr_t)n - 16, len = gh_tnode_size(n);
    if (a < start || len < NODE_SPAN || a - start > len - NODE_SPAN)
        return false;
    b->hit_lo = start;
    b->hit_len = len - NODE_SPAN + 1;
    return true;
}

/* May the tree hold a node at c (not NULL)?  [c - 16, c + 24) inside
 * [lo, hi) and c 16-aligned, in one compare: c - lo rotated right by 4
 * brings any misaligned low bit to the top (and below lo wraps high). */
static inline bool in_bounds(struct lim L, const struct gh_tnode *c)
{
#ifdef GH_UNCHECKED /* the benchmarks' unchecked library (block.h) */
    (void)L, (void)c;
    return true;
#endif
    uintptr_t d = (uintptr_t)c - L.lo;
    if (__builtin_expect(((d >> 4) | (d << 60)) > L.span, 0))
        return L.cover && in_cover(L, c); /* several regions: span 0, always here */
    return true;
}

/* n's children, checked: in bounds and, by address, on their side of n. */
static inline struct gh_tnode *left_of(struct lim L, const struct gh_tnode *n)
{
    struct gh_tnode *c = n->left;
#ifdef GH_UNCHECKED
    (void)L;
#else
    if (c && __builtin_expect(!in_bounds(L, c) || (L.by_addr && c >= n), 0))
        bad_link(L, n);
#endif
    return c;
}

static inline struct gh_tnode *right_of(struct lim L, const struct gh_tnode *n)
{
    struct gh_tnode *c = n->right;
#ifdef GH_UNCHECKED
    (void)L;
#else
    if (c && __builtin_expect(!in_bounds(L, c) || (L.by_addr && c <= n), 0))
        bad_link(L, n);
#endif
    return c;
}

/* A walk may not go deeper than any AVL tree can be (a cycle). */
static inline void depth_ok(struct lim L, int depth, const void *at)
{
    GH_TREE_VISIT(); /* every walk checks the depth of each node it steps onto */
    if (__builtin_expect(depth >= GH_TREE_MAX_DEPTH, 0))
        bad_link(L, at);
}

/* ---- the packed word, the order ----------------------------------------- */

static inline int height(const struct gh_tnode *n)
{
    return n ? (int)(n->aux >> HEIGHT_SHIFT) : 0;
}

static inline size_t submax(const struct gh_tnode *n)
{
    return n ? (size_t)(n->aux & MAX_MASK) : 0;
}

/* True when a sorts before b in t's order. */
static inline bool less(const struct gh_tree *t, const struct gh_tnode *a, const struct gh_tnode *b)
{
    if (t->order == GH_TREE_BY_SIZE) {
        size_t sa = gh_tnode_size(a), sb = gh_tnode_size(b);
        if (sa != sb)
            return sa < sb;
    }
    return (uintptr_t)a < (uintptr_t)b;
}

#endif
