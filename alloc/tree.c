/* tree.c - AVL trees embedded in free blocks and records: their shape
 * (insert, move, remove, rebalance).  The searches, the walk and the check
 * are tree_query.c's; the checked links both follow, tree_link.h's.
 *
 * Owns: the shape of the fit indexes (see tree.h).  Never: reads or writes
 * a block header (only the size word in front of each node), follows a
 * link it has not checked, allocates, or takes a lock.
 *
 * Invariants (gh_tree_check, tree_query.c): in-order keys strictly increase; each node's
 * height is 1 + max(child heights) and the two differ by at most 1; in a
 * BY_ADDR tree each node's max is the largest size in its subtree (a BY_SIZE
 * tree keeps 0 there); count is the node count.
 */
#include "tree_link.h"

#ifdef GH_TREE_VISITS
uint64_t gh_tree_visits;
#endif

const struct gh_tree_bounds gh_tree_any = { 0, UINTPTR_MAX, NULL, NULL, 16, (UINTPTR_MAX - NODE_SPAN) >> 4, 0, 0 };

/* ---- shape ------------------------------------------------------------- */

/* Recompute n's height and (BY_ADDR) subtree max from its children l and r
 * (n->left and n->right, already checked).  A BY_SIZE tree keeps no max:
 * its largest node is the rightmost, and a move that keeps the order then
 * changes nothing above the node. */
static inline void pull(struct lim L, struct gh_tnode *n, const struct gh_tnode *l, const struct gh_tnode *r)
{
    int hl = height(l), hr = height(r);
    uint64_t h = (uint64_t)(1 + (hl > hr ? hl : hr)) << HEIGHT_SHIFT;
    if (!L.by_addr) {
        n->aux = h;
        return;
    }
    size_t m = gh_tnode_size(n);
    size_t ml = submax(l), mr = submax(r);
    if (ml > m)
        m = ml;
    if (mr > m)
        m = mr;
    n->aux = h | (uint64_t)m;
}

/* Rotate at n, whose children l and r are checked; the rotated child is
 * not NULL (its height is at least 1).  Each reads and checks the two
 * grandchildren it moves or pulls over. */
static struct gh_tnode *rotate_right(struct lim L, struct gh_tnode *n, struct gh_tnode *l,
                                     const struct gh_tnode *r)
{
    struct gh_tnode *ll = left_of(L, l), *lr = right_of(L, l);
    n->left = lr;
    pull(L, n, lr, r);
    l->right = n;
    pull(L, l, ll, n);
    return l;
}

static struct gh_tnode *rotate_left(struct lim L, struct gh_tnode *n, const struct gh_tnode *l,
                                    struct gh_tnode *r)
{
    struct gh_tnode *rl = left_of(L, r), *rr = right_of(L, r);
    n->right = rl;
    pull(L, n, l, rl);
    r->left = n;
    pull(L, r, n, rr);
    return r;
}

/* n's children l and r (checked) differ in height by 2: rotate; returns
 * the subtree's new root.  A child of height >= 1 is not NULL (height(NULL)
 * is 0), so the rotations below always have the node they turn. */
__attribute__((noinline)) static struct gh_tnode *rotate(struct lim L, struct gh_tnode *n, struct gh_tnode *l,
                                                         struct gh_tnode *r)
{
    if (height(l) > height(r)) {
        struct gh_tnode *ll = left_of(L, l), *lr = right_of(L, l);
        if (height(ll) < height(lr))
            n->left = l = rotate_left(L, l, ll, lr);
        return rotate_right(L, n, l, r);
    }
    struct gh_tnode *rl = left_of(L, r), *rr = right_of(L, r);
    if (height(rr) < height(rl))
        n->right = r = rotate_right(L, r, rl, rr);
    return rotate_left(L, n, l, r);
}

/* Restore the AVL property at n (children balanced); returns the new root.
 * The common case - no rotation, only n's height and max recomputed - is
 * inline; *changed says whether n's aux changed (or n was rotated). */
static inline __attribute__((always_inline)) struct gh_tnode *rebalance_at(struct lim L, struct gh_tnode *n,
                                                                            bool *changed)
{
    struct gh_tnode *l = left_of(L, n), *r = right_of(L, n);
    int bal = height(l) - height(r);
    if (__builtin_expect(bal > 1 || bal < -1, 0)) {
        *changed = true;
        return rotate(L, n, l, r);
    }
    uint64_t before = n->aux;
    pull(L, n, l, r);
    *changed = n->aux != before;
    return n;
}

static struct gh_tnode *rebalance(struct lim L, struct gh_tnode *n)
{
    bool changed;
    return rebalance_at(L, n, &changed);
}

/* Walk back up a recorded path of links, rebalancing each node.  Once a
 * node keeps its place, height and subtree max, nothing above it can
 * change: stop there (most inserts and removes stop within two levels). */
static inline __attribute__((always_inline)) void fix_path(struct lim L, struct gh_tnode **path[], int depth)
{
    while (depth-- > 0) {
        struct gh_tnode **link = path[depth];
        bool changed;
        struct gh_tnode *top = rebalance_at(L, *link, &changed);
        if (!changed)
            return;
        *link = top;
    }
}

/* BY_ADDR, after a move (heights unchanged): refresh the subtree maxima up
 * the recorded path, stopping where one stays.  path[depth-1] links to the
 * moved node, whose children were checked; above it each node's child on
 * the path was checked on the way down, so only its other child is. */
static inline __attribute__((always_inline)) void fix_max(struct lim L, struct gh_tnode **path[], int depth)
{
    for (int d = depth - 1; d >= 0; d--) {
        struct gh_tnode *x = *path[d];
        const struct gh_tnode *l, *r;
        if (d == depth - 1) {
            l = x->left;
            r = x->right;
        } else if (path[d + 1] == &x->left) {
            l = x->left;
            r = right_of(L, x);
        } else {
            l = left_of(L, x);
            r = x->right;
        }
        size_t m = gh_tnode_size(x), ml = submax(l), mr = submax(r);
        if (ml > m)
            m = ml;
        if (mr > m)
            m = mr;
        uint64_t aux = (x->aux & ~MAX_MASK) | (uint64_t)m;
        if (aux == x->aux)
            return;
        x->aux = aux;
    }
}

void gh_tree_init(struct gh_tree *t, enum gh_tree_order order)
{
    t->root = NULL;
    t->count = 0;
    t->order = order;
    t->bounds = &gh_tree_any;
}

/* The link below n on the side `left`, its target checked. */
static inline struct gh_tnode **child_link(struct lim L, struct gh_tnode *n, bool left)
{
    if (left) {
        left_of(L, n);
        return &n->left;
    }
    right_of(L, n);
    return &n->right;
}

static inline __attribute__((always_inline)) void insert_impl(struct gh_tree *t, struct gh_tnode *n, bool by_addr)
{
    struct lim L = lim_ordered(t, by_addr);
    struct gh_tnode **path[GH_TREE_MAX_DEPTH];
    int depth = 0;
    struct gh_tnode **link = &t->root;
    while (*link) {
        depth_ok(L, depth, *link);
        if (*link == n) /* already in: a second insert would make a cycle */
            bad_link(L, n);
        path[depth++] = link;
        link = child_link(L, *link, less(t, n, *link));
    }
    n->left = n->right = NULL;
    pull(L, n, NULL, NULL);
    *link = n;
    t->count++;
    fix_path(L, path, depth);
}

void gh_tree_insert(struct gh_tree *t, struct gh_tnode *n)
{
    if (t->order == GH_TREE_BY_ADDR)
        insert_impl(t, n, true);
    else
        insert_impl(t, n, false);
}

/* Record the path from the root to n's link, searching with n's key as
 * (size, n); returns the depth (the link to n itself is path[depth-1]), or
 * -1 when n is not in the tree. */
static inline __attribute__((always_inline)) int find_path(struct gh_tree *t, const struct gh_tnode *n, size_t size, struct gh_tnode **path[],
                                                        bool by_addr)
{
    struct lim L = lim_ordered(t, by_addr);
    int depth = 0;
    struct gh_tnode **link = &t->root;
    while (*link) {
        depth_ok(L, depth, *link);
        path[depth++] = link;
        struct gh_tnode *c = *link;
        if (c == n)
            return depth;
        bool left;
        if (t->order == GH_TREE_BY_SIZE && size != gh_tnode_size(c))
            left = size < gh_tnode_size(c);
        else
            left = (uintptr_t)n < (uintptr_t)c;
        link = child_link(L, c, left);
    }
    return -1;
}

/* Compare (size, address) keys in t's order: <0, 0, >0. */
static inline int cmp_key(const struct gh_tree *t, size_t sa, uintptr_t aa, size_t sb, uintptr_t ab)
{
    if (t->order == GH_TREE_BY_SIZE && sa != sb)
        return sa < sb ? -1 : 1;
    return aa < ab ? -1 : aa > ab;
}

static inline __attribute__((always_inline)) bool move_impl(struct gh_tree *t, struct gh_tnode *old, size_t old_size, struct gh_tnode *n,
                                                        bool by_addr)
{
    struct lim L = lim_ordered(t, by_addr);
    struct gh_tnode **path[GH_TREE_MAX_DEPTH];
    int depth = 0;
    struct gh_tnode **link = &t->root;
    const struct gh_tnode *lo = NULL, *hi = NULL; /* in-order neighbours among ancestors */
    while (*link && *link != old) {
        depth_ok(L, depth, *link);
        path[depth++] = link;
        struct gh_tnode *c = *link;
        /* By size no fix_path follows to check the other child: check it
         * here, so a move sees every link on its path as a rebalance would. */
        if (!L.by_addr)
            (void)left_of(L, c), (void)right_of(L, c);
        if (cmp_key(t, old_size, (uintptr_t)old, gh_tnode_size(c), (uintptr_t)c) < 0) {
            hi = c;
            link = L.by_addr ? child_link(L, c, true) : &c->left;
        } else {
            lo = c;
            link = L.by_addr ? child_link(L, c, false) : &c->right;
        }
    }
    if (!*link)
        return false;
    depth_ok(L, depth, old);
    path[depth++] = link;
    /* The in-order neighbours inside old's own subtrees. */
    const struct gh_tnode *oleft = left_of(L, old), *oright = right_of(L, old);
    if (oleft) {
        const struct gh_tnode *p = oleft, *q;
        for (int d = depth; (q = right_of(L, p)); d++) {
            depth_ok(L, d, p);
            p = q;
        }
        lo = p;
    }
    if (oright) {
        const struct gh_tnode *p = oright, *q;
        for (int d = depth; (q = left_of(L, p)); d++) {
            depth_ok(L, d, p);
            p = q;
        }
        hi = p;
    }
    size_t ns = gh_tnode_size(n);
    if ((lo && cmp_key(t, gh_tnode_size(lo), (uintptr_t)lo, ns, (uintptr_t)n) >= 0)
        || (hi && cmp_key(t, ns, (uintptr_t)n, gh_tnode_size(hi), (uintptr_t)hi) >= 0))
        return false;
    if (n != old) {
        n->left = old->left;
        n->right = old->right;
        n->aux = old->aux;
        *link = n;
    }
    /* Heights stay; by address the maxima above may change, by size there
     * are none. */
    if (L.by_addr)
        fix_max(L, path, depth);
    return true;
}

bool gh_tree_move(struct gh_tree *t, struct gh_tnode *old, size_t old_size, struct gh_tnode *n)
{
    if (t->order == GH_TREE_BY_ADDR)
        return move_impl(t, old, old_size, n, true);
    return move_impl(t, old, old_size, n, false);
}

void gh_tree_remove(struct gh_tree *t, struct gh_tnode *n)
{
    gh_tree_remove_sized(t, n, gh_tnode_size(n));
}

static inline __attribute__((always_inline)) void remove_impl(struct gh_tree *t, struct gh_tnode *n, size_t size, bool by_addr)
{
    struct lim L = lim_ordered(t, by_addr);
    struct gh_tnode **path[GH_TREE_MAX_DEPTH];
    int depth = find_path(t, n, size, path, by_addr);
    if (depth < 0) /* n is not where its key says: the index is not what the heap thinks */
        bad_link(L, n);
    struct gh_tnode **link = path[depth - 1];
    struct gh_tnode *nl = left_of(L, n), *nr = right_of(L, n);
    if (!nl || !nr) {
        *link = nl ? nl : nr;
        depth--; /* n's link now holds its child, already balanced */
    } else {
        /* Replace n by its successor s, the leftmost node of n->right. */
        int ndepth = depth;
        struct gh_tnode **slink = &n->right;
        path[depth++] = slink;
        while (left_of(L, *slink)) {
            depth_ok(L, depth, *slink);
            slink = &(*slink)->left;
            path[depth++] = slink;
        }
        struct gh_tnode *s = *slink;
        *slink = right_of(L, s); /* unlink s */
        s->left = nl;
        s->right = n->right;
        *link = s;
        /* The entry recorded as &n->right must now be &s->right. */
        path[ndepth] = &s->right;
        depth--; /* the last entry was s's own link, which now holds s->right */
        t->count--;
        /* Below s: the nodes that lost s.  s itself must always be redone
         * (n's size left its subtree); above s the usual early exit holds,
         * measured against n's old height and max. */
        fix_path(L, path + ndepth, depth - ndepth);
        uint64_t before = n->aux;
        struct gh_tnode *top = rebalance(L, s);
        *link = top;
        if (top != s || s->aux != before)
            fix_path(L, path, ndepth - 1);
        return;
    }
    t->count--;
    fix_path(L, path, depth);
}

void gh_tree_remove_sized(struct gh_tree *t, struct gh_tnode *n, size_t size)
{
    if (t->order == GH_TREE_BY_ADDR)
        remove_impl(t, n, size, true);
    else
        remove_impl(t, n, size, false);
}

bool gh_tree_contains(const struct gh_tree *t, const struct gh_tnode *n, size_t size)
{
    struct lim L = lim_of(t);
    const struct gh_tnode *c = t->root;
    for (int depth = 0; c; depth++) {
        depth_ok(L, depth, c);
        if (c == n)
            return true;
        bool left;
        if (t->order == GH_TREE_BY_SIZE && size != gh_tnode_size(c))
            left = size < gh_tnode_size(c);
        else
            left = (uintptr_t)n < (uintptr_t)c;
        c = left ? left_of(L, c) : right_of(L, c);
    }
    return false;
}

void gh_tree_resized(struct gh_tree *t, struct gh_tnode *n)
{
    struct lim L = lim_ordered(t, true);
    struct gh_tnode **path[GH_TREE_MAX_DEPTH];
    int depth = find_path(t, n, 0, path, true); /* BY_ADDR: the size is not a key */
    if (depth <= 0)
        bad_link(L, n);
    fix_path(L, path, depth);
}
