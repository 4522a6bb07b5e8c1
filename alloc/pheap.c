/* pheap.c - the bins' pairing heaps (pheap.h): insert, remove, the walk
 * and the check.  Every link is checked against the bounds and against its
 * partner before it is followed or rewritten; every chain is cut off at
 * the heap's count.
 */
#include "pheap.h"

#include "tree_link.h"

void gh_pheap_init(struct gh_pheap *h)
{
    h->root = h->last = NULL;
    h->count = h->lazy = 0;
    h->bounds = &gh_tree_any;
}

static inline struct lim lim_heap(const struct gh_pheap *h)
{
    return lim_of_bounds(h->bounds, /* by_addr */ false);
}

static inline bool ok_node(struct lim L, const struct gh_pnode *c)
{
    return in_bounds(L, (const struct gh_tnode *)c);
}

/* x's first child, checked: in bounds, above x, pointing back to x. */
static inline struct gh_pnode *child_of(struct lim L, const struct gh_pnode *x)
{
    struct gh_pnode *c = x->child;
#ifndef GH_UNCHECKED
    if (c && __builtin_expect(!ok_node(L, c) || c <= x || c->prev != x, 0))
        bad_link(L, x);
#else
    (void)L;
#endif
    return c;
}

/* x's next sibling, checked: in bounds, pointing back to x; above their
 * parent (when known: not NULL). */
static inline struct gh_pnode *sib_of(struct lim L, const struct gh_pnode *x, const struct gh_pnode *parent)
{
    struct gh_pnode *s = x->sib;
#ifndef GH_UNCHECKED
    if (s && __builtin_expect(!ok_node(L, s) || s->prev != x || (parent && s <= parent), 0))
        bad_link(L, x);
#else
    (void)L, (void)parent;
#endif
    return s;
}

/* Make n (above p; its own children kept) p's first child. */
static inline void attach(struct lim L, struct gh_pnode *p, struct gh_pnode *n)
{
    struct gh_pnode *c = child_of(L, p);
    GH_TREE_VISIT();
    n->sib = c;
    if (c)
        c->prev = n;
    n->prev = p;
    p->child = n;
}

/* Link two heap roots a and b: the higher-addressed becomes the first child
 * of the other, which is returned (its own sib and prev are the caller's
 * to set). */
static inline struct gh_pnode *meld(struct lim L, struct gh_pnode *a, struct gh_pnode *b)
{
    if (b < a) {
        struct gh_pnode *t = a;
        a = b;
        b = t;
    }
    attach(L, a, b);
    return a;
}

/* One pass over a list of roots linked through sib (first: its head):
 * each adjacent pair melded, the winners linked through sib in the same
 * order; returns the new head, *count the new length.  checked: the list
 * is `parent`'s children as the heap holds them, so each sibling link is
 * checked (sib_of) and the walk cut off at the heap's count (a cycle);
 * else the list is one this file made. */
static inline __attribute__((always_inline)) struct gh_pnode *
pair_pass(struct lim L, const struct gh_pheap *h, const struct gh_pnode *parent, struct gh_pnode *first,
          size_t *count, bool checked)
{
    struct gh_pnode *head = NULL, **tail = &head;
    size_t m = 0;
    for (struct gh_pnode *x = first; x; m++) {
        if (checked) {
            if (__builtin_expect(m >= h->count, 0))
                bad_link(L, x);
            GH_TREE_VISIT();
        }
        struct gh_pnode *y = checked ? sib_of(L, x, parent) : x->sib, *next = NULL;
        if (y) {
            next = checked ? sib_of(L, y, parent) : y->sib;
            x = meld(L, x, y);
        }
        *tail = x;
        tail = &x->sib;
        x = next;
    }
    *tail = NULL;
    *count = m;
    return head;
}

/* The children of `parent` (first: its first child, checked) melded into
 * one heap, returned with no prev and no sibling (NULL when there were
 * none).  Multipass: adjacent pairs melded, then the winners' pairs, and so
 * on, a tournament, so that the winner gains about log2(k) of the k
 * children rather than half of them (the two-pass variant's right-to-left
 * sweep), and the next removal of the root finds a short list too. */
static struct gh_pnode *merge_pairs(struct lim L, const struct gh_pheap *h, const struct gh_pnode *parent,
                                    struct gh_pnode *first)
{
    size_t m;
    struct gh_pnode *head = pair_pass(L, h, parent, first, &m, /* checked */ true);
    while (m > 1)
        head = pair_pass(L, h, parent, head, &m, false);
    if (head)
        head->sib = head->prev = NULL;
    return head;
}

/* The root's list of children after an insert put one more at its front:
 * a binary counter over the inserts since the root last changed (h->lazy).
 * The t-th such insert melds the front two trees ctz(t) times, as a
 * binomial heap's carry, so k inserts leave about log2(k) trees there, of
 * 1, 2, 4, ... nodes, not k single nodes: the pairing the next removal of
 * the root would otherwise do all at once (O(k), a pause of a malloc after
 * many random-order frees) is done a little at each insert, O(1)
 * amortized. */
static void carry(struct lim L, struct gh_pheap *h, struct gh_pnode *r)
{
    for (size_t t = ++h->lazy; !(t & 1u); t >>= 1) {
        struct gh_pnode *a = r->child, *b = sib_of(L, a, r);
        if (!b)
            return;
        struct gh_pnode *c = sib_of(L, b, r), *w = meld(L, a, b);
        w->sib = c;
        if (c)
            c->prev = w;
        w->prev = r;
        r->child = w;
    }
}

void gh_pheap_insert(struct gh_pheap *h, struct gh_pnode *n)
{
    struct lim L = lim_heap(h);
    struct gh_pnode *r = h->root;
    if (__builtin_expect(n == r || n == h->last, 0))
        bad_link(L, n); /* already in */
    n->child = n->sib = n->prev = NULL;
    if (!r) {
        h->root = n;
        h->lazy = 0;
    } else if (n < r) { /* the new lowest: the old root its child */
        GH_TREE_VISIT();
        n->child = r;
        r->prev = n;
        h->root = n;
        h->lazy = 0;
    } else if (h->last && h->last < n) {
        /* above the node inserted last, n goes under it: blocks freed in
         * rising address order make a path, each taken off in O(1) */
        attach(L, h->last, n);
    } else {
        attach(L, r, n);
        carry(L, h, r);
    }
    h->last = n;
    h->count++;
}

void gh_pheap_remove(struct gh_pheap *h, struct gh_pnode *n)
{
    struct lim L = lim_heap(h);
    if (n != h->root) {
        /* out of its parent's list of children */
        struct gh_pnode *p = n->prev;
        if (__builtin_expect(!p || !ok_node(L, p) || (p->child != n && p->sib != n), 0))
            bad_link(L, n); /* not in the heap, or a link overwritten */
        struct gh_pnode *s = sib_of(L, n, NULL);
        if (p->child == n)
            p->child = s;
        else
            p->sib = s;
        if (s)
            s->prev = p;
        if (p == h->root)
            h->lazy = 0; /* the counter's front tree gone */
    }
    struct gh_pnode *sub = merge_pairs(L, h, n, child_of(L, n));
    h->count--;
    if (n == h->last)
        h->last = NULL;
    if (n == h->root) {
        h->root = sub;
        h->lazy = 0;
    } else if (sub) {
        attach(L, h->root, sub); /* above the root: one more child of it */
        h->lazy = 0;
    }
}

bool gh_pheap_linked(const struct gh_pheap *h, const struct gh_pnode *n)
{
    if (n == h->root)
        return true;
    const struct gh_pnode *p = n->prev;
    return p && ok_node(lim_heap(h), p) && (p->child == n || p->sib == n);
}

/* The node after x in the walk (each node before its children, children in
 * list order), or NULL: x's first child, else the next sibling of x or of
 * its nearest ancestor that has one.  Links are followed as they are: the
 * caller has checked them (gh_pheap_check) or they were made here. */
static const struct gh_pnode *walk_next(const struct gh_pnode *x)
{
    if (x->child)
        return x->child;
    while (x) {
        if (x->sib)
            return x->sib;
        /* up: back over the siblings before x to their parent */
        const struct gh_pnode *p = x->prev;
        while (p && p->child != x) {
            x = p;
            p = x->prev;
        }
        x = p;
    }
    return NULL;
}

void gh_pheap_walk(const struct gh_pheap *h, bool (*fn)(void *ctx, struct gh_pnode *n), void *ctx)
{
    size_t steps = 0;
    for (const struct gh_pnode *x = h->root; x && steps++ < h->count; x = walk_next(x))
        if (!fn(ctx, (struct gh_pnode *)x))
            return;
}

static bool broken(const char **why, const char *what)
{
    if (why)
        *why = what;
    return false;
}

bool gh_pheap_check(const struct gh_pheap *h, size_t size, const char **why)
{
    struct lim L = lim_heap(h);
    const struct gh_pnode *r = h->root;
    if (!r)
        return h->count == 0 ? true : broken(why, "a bin's heap is empty but counts nodes");
    if (!ok_node(L, r) || r->prev || r->sib)
        return broken(why, "a bin's heap root is out of bounds or has a parent");
    size_t seen = 0;
    bool last_seen = h->last == NULL;
    for (const struct gh_pnode *x = r; x; x = walk_next(x)) {
        last_seen |= x == h->last;
        if (++seen > h->count)
            return broken(why, "a bin's heap holds more nodes than it counts (or a cycle)");
        if (gh_tnode_size((const struct gh_tnode *)x) != size)
            return broken(why, "a size bin holds a block of another size");
        /* x's children: each in bounds, above x, pointing back to the one
         * before it; so the walk only follows links checked here */
        const struct gh_pnode *before = x;
        size_t n = 0;
        for (const struct gh_pnode *c = x->child; c; before = c, c = c->sib) {
            if (++n > h->count)
                return broken(why, "a bin's heap holds more nodes than it counts (or a cycle)");
            if (!ok_node(L, c))
                return broken(why, "a bin's heap link is out of bounds");
            if (c->prev != before)
                return broken(why, "a bin's heap link does not point back");
            if (c <= x)
                return broken(why, "a bin's heap is out of address order");
        }
    }
    if (seen != h->count)
        return broken(why, "a bin's heap holds fewer nodes than it counts");
    return last_seen ? true : broken(why, "a bin's heap's last inserted node is not in it");
}
