/* tree.c - AVL trees embedded in free blocks and records.
 *
 * Owns: the shape of the fit indexes (see tree.h).  Never: reads or writes a
 * block header (only the size word in front of each node), allocates, or
 * takes a lock.
 *
 * Invariants (gh_tree_check): in-order keys strictly increase; each node's
 * height is 1 + max(child heights) and the two differ by at most 1; each
 * node's max is the largest size in its subtree; count is the node count.
 */
#include "tree.h"

#define HEIGHT_SHIFT 56
#define MAX_MASK ((((uint64_t)1) << HEIGHT_SHIFT) - 1)

static inline int height(const struct gh_tnode *n)
{
    return n ? (int)(n->aux >> HEIGHT_SHIFT) : 0;
}

static inline size_t submax(const struct gh_tnode *n)
{
    return n ? (size_t)(n->aux & MAX_MASK) : 0;
}

/* Recompute n's height and subtree max from its children. */
static inline void pull(struct gh_tnode *n)
{
    int hl = height(n->left), hr = height(n->right);
    size_t m = gh_tnode_size(n);
    size_t ml = submax(n->left), mr = submax(n->right);
    if (ml > m)
        m = ml;
    if (mr > m)
        m = mr;
    n->aux = ((uint64_t)(1 + (hl > hr ? hl : hr)) << HEIGHT_SHIFT) | (uint64_t)m;
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

static struct gh_tnode *rotate_right(struct gh_tnode *n)
{
    struct gh_tnode *l = n->left;
    n->left = l->right;
    l->right = n;
    pull(n);
    pull(l);
    return l;
}

static struct gh_tnode *rotate_left(struct gh_tnode *n)
{
    struct gh_tnode *r = n->right;
    n->right = r->left;
    r->left = n;
    pull(n);
    pull(r);
    return r;
}

/* Restore the AVL property at n (children balanced); returns the new root. */
static struct gh_tnode *rebalance(struct gh_tnode *n)
{
    int bal = height(n->left) - height(n->right);
    if (bal > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (bal < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    pull(n);
    return n;
}

/* Walk back up a recorded path of links, rebalancing each node.  Once a
 * node keeps its place, height and subtree max, nothing above it can
 * change: stop there (most inserts and removes stop within two levels). */
static void fix_path(struct gh_tnode **path[], int depth)
{
    while (depth-- > 0) {
        struct gh_tnode **link = path[depth];
        struct gh_tnode *n = *link;
        uint64_t before = n->aux;
        struct gh_tnode *top = rebalance(n);
        *link = top;
        if (top == n && n->aux == before)
            return;
    }
}

void gh_tree_init(struct gh_tree *t, enum gh_tree_order order)
{
    t->root = NULL;
    t->count = 0;
    t->order = order;
}

void gh_tree_insert(struct gh_tree *t, struct gh_tnode *n)
{
    struct gh_tnode **path[GH_TREE_MAX_DEPTH];
    int depth = 0;
    struct gh_tnode **link = &t->root;
    while (*link) {
        path[depth++] = link;
        link = less(t, n, *link) ? &(*link)->left : &(*link)->right;
    }
    n->left = n->right = NULL;
    pull(n);
    *link = n;
    t->count++;
    fix_path(path, depth);
}

/* Record the path from the root to n's link, searching with n's key as
 * (size, n); returns the depth (the link to n itself is path[depth-1]), or
 * -1 when n is not in the tree. */
static int find_path(struct gh_tree *t, const struct gh_tnode *n, size_t size, struct gh_tnode **path[])
{
    int depth = 0;
    struct gh_tnode **link = &t->root;
    while (*link) {
        path[depth++] = link;
        struct gh_tnode *c = *link;
        if (c == n)
            return depth;
        bool left;
        if (t->order == GH_TREE_BY_SIZE && size != gh_tnode_size(c))
            left = size < gh_tnode_size(c);
        else
            left = (uintptr_t)n < (uintptr_t)c;
        link = left ? &c->left : &c->right;
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

bool gh_tree_move(struct gh_tree *t, struct gh_tnode *old, size_t old_size, struct gh_tnode *n)
{
    struct gh_tnode **path[GH_TREE_MAX_DEPTH];
    int depth = 0;
    struct gh_tnode **link = &t->root;
    const struct gh_tnode *lo = NULL, *hi = NULL; /* in-order neighbours among ancestors */
    while (*link && *link != old) {
        path[depth++] = link;
        struct gh_tnode *c = *link;
        if (cmp_key(t, old_size, (uintptr_t)old, gh_tnode_size(c), (uintptr_t)c) < 0) {
            hi = c;
            link = &c->left;
        } else {
            lo = c;
            link = &c->right;
        }
    }
    if (!*link)
        return false;
    path[depth++] = link;
    /* The in-order neighbours inside old's own subtrees. */
    if (old->left) {
        const struct gh_tnode *p = old->left;
        while (p->right)
            p = p->right;
        lo = p;
    }
    if (old->right) {
        const struct gh_tnode *p = old->right;
        while (p->left)
            p = p->left;
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
    fix_path(path, depth);
    return true;
}

void gh_tree_remove(struct gh_tree *t, struct gh_tnode *n)
{
    gh_tree_remove_sized(t, n, gh_tnode_size(n));
}

void gh_tree_remove_sized(struct gh_tree *t, struct gh_tnode *n, size_t size)
{
    struct gh_tnode **path[GH_TREE_MAX_DEPTH];
    int depth = find_path(t, n, size, path);
    if (depth < 0)
        return;
    struct gh_tnode **link = path[depth - 1];
    if (!n->left || !n->right) {
        *link = n->left ? n->left : n->right;
        depth--; /* n's link now holds its child, already balanced */
    } else {
        /* Replace n by its successor s, the leftmost node of n->right. */
        int ndepth = depth;
        struct gh_tnode **slink = &n->right;
        path[depth++] = slink;
        while ((*slink)->left) {
            slink = &(*slink)->left;
            path[depth++] = slink;
        }
        struct gh_tnode *s = *slink;
        *slink = s->right; /* unlink s */
        s->left = n->left;
        s->right = n->right;
        *link = s;
        /* The entry recorded as &n->right must now be &s->right. */
        path[ndepth] = &s->right;
        depth--; /* the last entry was s's own link, which now holds s->right */
        t->count--;
        /* Below s: the nodes that lost s.  s itself must always be redone
         * (n's size left its subtree); above s the usual early exit holds,
         * measured against n's old height and max. */
        fix_path(path + ndepth, depth - ndepth);
        uint64_t before = n->aux;
        struct gh_tnode *top = rebalance(s);
        *link = top;
        if (top != s || s->aux != before)
            fix_path(path, ndepth - 1);
        return;
    }
    t->count--;
    fix_path(path, depth);
}

void gh_tree_resized(struct gh_tree *t, struct gh_tnode *n)
{
    struct gh_tnode **path[GH_TREE_MAX_DEPTH];
    int depth = find_path(t, n, 0, path); /* BY_ADDR: the size is not a key */
    if (depth > 0)
        fix_path(path, depth);
}

struct gh_tnode *gh_tree_first_fit(const struct gh_tree *t, size_t size)
{
    const struct gh_tnode *n = t->root;
    if (size == 0)
        size = 1; /* an empty subtree's max is 0: never let it "fit" */
    if (!n || submax(n) < size)
        return NULL;
    for (;;) {
        if (submax(n->left) >= size)
            n = n->left;
        else if (gh_tnode_size(n) >= size)
            return (struct gh_tnode *)n;
        else
            n = n->right; /* must hold the fit: submax(n) >= size */
    }
}

/* Lowest fitting node in the subtree n whose keys are all >= from. */
struct gh_tnode *gh_tree_first_fit_from(const struct gh_tree *t, const void *from, size_t size)
{
    /* Walk down toward `from`; every time we go left at a node >= from,
     * that node and its right subtree are candidates to its right.  The
     * first candidate (lowest address) that fits wins; the candidates are
     * visited from the deepest (lowest address) upward. */
    const struct gh_tnode *stack[GH_TREE_MAX_DEPTH];
    int top = 0;
    const struct gh_tnode *n = t->root;
    if (size == 0)
        size = 1;
    while (n) {
        if ((uintptr_t)n >= (uintptr_t)from) {
            stack[top++] = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    while (top-- > 0) {
        const struct gh_tnode *c = stack[top];
        if (gh_tnode_size(c) >= size)
            return (struct gh_tnode *)c;
        if (submax(c->right) >= size) {
            const struct gh_tnode *r = c->right;
            for (;;) {
                if (submax(r->left) >= size)
                    r = r->left;
                else if (gh_tnode_size(r) >= size)
                    return (struct gh_tnode *)r;
                else
                    r = r->right;
            }
        }
    }
    return NULL;
}

struct gh_tnode *gh_tree_floor(const struct gh_tree *t, const void *addr)
{
    const struct gh_tnode *n = t->root, *best = NULL;
    while (n) {
        if ((uintptr_t)n <= (uintptr_t)addr) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return (struct gh_tnode *)best;
}

struct gh_tnode *gh_tree_best_fit(const struct gh_tree *t, size_t size)
{
    const struct gh_tnode *n = t->root, *best = NULL;
    while (n) {
        if (gh_tnode_size(n) >= size) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return (struct gh_tnode *)best;
}

struct gh_tnode *gh_tree_largest(const struct gh_tree *t)
{
    const struct gh_tnode *n = t->root;
    if (!n)
        return NULL;
    while (n->right)
        n = n->right;
    /* n is the largest (size, address); find the lowest address of its size. */
    return gh_tree_best_fit(t, gh_tnode_size(n));
}

size_t gh_tree_max_size(const struct gh_tree *t)
{
    if (t->order == GH_TREE_BY_ADDR)
        return submax(t->root);
    const struct gh_tnode *n = t->root;
    if (!n)
        return 0;
    while (n->right)
        n = n->right;
    return gh_tnode_size(n);
}

static bool walk(struct gh_tnode *n, bool (*fn)(void *, struct gh_tnode *), void *ctx)
{
    /* Recursion depth is the tree height (<= GH_TREE_MAX_DEPTH). */
    if (!n)
        return true;
    /* Read the children before calling fn, which may reuse the node. */
    struct gh_tnode *r = n->right;
    if (!walk(n->left, fn, ctx))
        return false;
    if (!fn(ctx, n))
        return false;
    return walk(r, fn, ctx);
}

void gh_tree_walk(const struct gh_tree *t, bool (*fn)(void *ctx, struct gh_tnode *n), void *ctx)
{
    walk(t->root, fn, ctx);
}

struct check_state {
    const struct gh_tree *t;
    const struct gh_tnode *prev;
    size_t count;
    const char *why;
};

/* Returns the subtree height, or -1 on a broken invariant. */
static int check(struct check_state *st, const struct gh_tnode *n, int depth)
{
    if (!n)
        return 0;
    if (depth >= GH_TREE_MAX_DEPTH) {
        st->why = "tree deeper than GH_TREE_MAX_DEPTH (a cycle?)";
        return -1;
    }
    int hl = check(st, n->left, depth + 1);
    if (hl < 0)
        return -1;
    if (st->prev && !less(st->t, st->prev, n)) {
        st->why = "tree keys out of order";
        return -1;
    }
    st->prev = n;
    st->count++;
    int hr = check(st, n->right, depth + 1);
    if (hr < 0)
        return -1;
    if (hl - hr > 1 || hr - hl > 1) {
        st->why = "tree node out of AVL balance";
        return -1;
    }
    int h = 1 + (hl > hr ? hl : hr);
    if (height(n) != h) {
        st->why = "tree node height is stale";
        return -1;
    }
    size_t m = gh_tnode_size(n);
    if (submax(n->left) > m)
        m = submax(n->left);
    if (submax(n->right) > m)
        m = submax(n->right);
    if (submax(n) != m) {
        st->why = "tree subtree maximum is stale";
        return -1;
    }
    return h;
}

bool gh_tree_check(const struct gh_tree *t, const char **why)
{
    struct check_state st = { t, NULL, 0, NULL };
    if (check(&st, t->root, 0) < 0) {
        if (why)
            *why = st.why;
        return false;
    }
    if (st.count != t->count) {
        if (why)
            *why = "tree count differs from its nodes";
        return false;
    }
    return true;
}
