/* tree_query.c - the searches of the AVL trees (tree.h): first fit, from
 * an address on, best fit, floor, largest; the in-order walk and the
 * invariant check (gh_tree_check).
 *
 * Owns nothing: every link is followed through tree_link.h's checks, as
 * tree.c's changes are.  Never writes a node (but the cover's remembered
 * span: tree_link.h), allocates, or takes a lock.
 */
#include "tree_link.h"

/* Below n (submax(n) >= size): the lowest-addressed node that fits. */
static inline __attribute__((always_inline)) struct gh_tnode *lowest_fit_below(struct lim L, const struct gh_tnode *n, size_t size, int depth)
{
    for (;; depth++) {
        depth_ok(L, depth, n);
        const struct gh_tnode *l = left_of(L, n);
        if (submax(l) >= size) {
            n = l;
        } else if (gh_tnode_size(n) >= size) {
            return (struct gh_tnode *)n;
        } else {
            const struct gh_tnode *r = right_of(L, n);
            if (!r) /* n's max said something below fits: it lied */
                bad_link(L, n);
            n = r;
        }
    }
}

struct gh_tnode *gh_tree_first_fit(const struct gh_tree *t, size_t size)
{
    struct lim L = lim_ordered(t, true);
    const struct gh_tnode *n = t->root;
    if (size == 0)
        size = 1; /* an empty subtree's max is 0: never let it "fit" */
    if (!n || submax(n) < size)
        return NULL;
    return lowest_fit_below(L, n, size, 0);
}

/* Lowest fitting node in the subtree n whose keys are all >= from. */
struct gh_tnode *gh_tree_first_fit_from(const struct gh_tree *t, const void *from, size_t size)
{
    struct lim L = lim_ordered(t, true);
    /* Walk down toward `from`; every time we go left at a node >= from,
     * that node and its right subtree are candidates to its right.  The
     * first candidate (lowest address) that fits wins; the candidates are
     * visited from the deepest (lowest address) upward. */
    const struct gh_tnode *stack[GH_TREE_MAX_DEPTH];
    int top = 0, depth = 0;
    const struct gh_tnode *n = t->root;
    if (size == 0)
        size = 1;
    while (n) {
        depth_ok(L, depth++, n);
        if ((uintptr_t)n >= (uintptr_t)from) {
            stack[top++] = n;
            n = left_of(L, n);
        } else {
            n = right_of(L, n);
        }
    }
    while (top-- > 0) {
        const struct gh_tnode *c = stack[top];
        if (gh_tnode_size(c) >= size)
            return (struct gh_tnode *)c;
        const struct gh_tnode *r = right_of(L, c);
        if (submax(r) >= size)
            return lowest_fit_below(L, r, size, top + 1);
    }
    return NULL;
}

struct gh_tnode *gh_tree_floor_walk(const struct gh_tree *t, const void *addr)
{
    const struct gh_tnode *n = t->root, *best = NULL;
    struct lim L = lim_ordered(t, true);
    for (int depth = 0; n; depth++) {
        depth_ok(L, depth, n);
        if ((uintptr_t)n <= (uintptr_t)addr) {
            best = n;
            n = right_of(L, n);
        } else {
            n = left_of(L, n);
        }
    }
    return (struct gh_tnode *)best;
}

bool gh_tree_covers(const struct gh_tree *t, const void *p, size_t len)
{
    const struct gh_tnode *n = gh_tree_floor(t, (const char *)p + 16);
    if (!n)
        return false;
    uintptr_t start = (uintptr_t)n - 16, a = (uintptr_t)p;
    return a >= start && a - start <= gh_tnode_size(n) && gh_tnode_size(n) - (a - start) >= len;
}

struct gh_tnode *gh_tree_best_fit(const struct gh_tree *t, size_t size)
{
    struct lim L = lim_ordered(t, false);
    const struct gh_tnode *n = t->root, *best = NULL;
    for (int depth = 0; n; depth++) {
        depth_ok(L, depth, n);
        if (gh_tnode_size(n) >= size) {
            best = n;
            n = left_of(L, n);
        } else {
            n = right_of(L, n);
        }
    }
    return (struct gh_tnode *)best;
}

/* The rightmost node below n (not NULL). */
static const struct gh_tnode *rightmost(struct lim L, const struct gh_tnode *n)
{
    const struct gh_tnode *r;
    for (int depth = 0; (r = right_of(L, n)); depth++) {
        depth_ok(L, depth, n);
        n = r;
    }
    return n;
}

struct gh_tnode *gh_tree_largest(const struct gh_tree *t)
{
    struct lim L = lim_ordered(t, false);
    const struct gh_tnode *n = t->root;
    if (!n)
        return NULL;
    n = rightmost(L, n);
    /* n is the largest (size, address); find the lowest address of its size. */
    return gh_tree_best_fit(t, gh_tnode_size(n));
}

size_t gh_tree_max_size(const struct gh_tree *t)
{
    struct lim L = lim_of(t);
    if (t->order == GH_TREE_BY_ADDR)
        return submax(t->root);
    const struct gh_tnode *n = t->root;
    if (!n)
        return 0;
    return gh_tnode_size(rightmost(L, n));
}

static bool walk(struct lim L, struct gh_tnode *n, int depth, bool (*fn)(void *, struct gh_tnode *),
                 void *ctx)
{
    /* Recursion depth is the tree height (<= GH_TREE_MAX_DEPTH). */
    if (!n)
        return true;
    depth_ok(L, depth, n);
    /* Read the children before calling fn, which may reuse the node. */
    struct gh_tnode *l = left_of(L, n), *r = right_of(L, n);
    if (!walk(L, l, depth + 1, fn, ctx))
        return false;
    if (!fn(ctx, n))
        return false;
    return walk(L, r, depth + 1, fn, ctx);
}

void gh_tree_walk(const struct gh_tree *t, bool (*fn)(void *ctx, struct gh_tnode *n), void *ctx)
{
    walk(lim_of(t), t->root, 0, fn, ctx);
}

struct check_state {
    const struct gh_tree *t;
    const struct gh_tnode *prev;
    size_t count;
    const char *why;
};

/* May the checker follow the link from n to c?  Like left_of/right_of, but
 * a bad link is a finding, not a fatal error. */
static bool check_link(struct check_state *st, const struct gh_tnode *c)
{
    if (c && !in_bounds(lim_of(st->t), c)) {
        st->why = "tree link points outside the heap or is misaligned";
        return false;
    }
    return true;
}

/* Returns the subtree height, or -1 on a broken invariant. */
static int check(struct check_state *st, const struct gh_tnode *n, int depth)
{
    if (!n)
        return 0;
    if (depth >= GH_TREE_MAX_DEPTH) {
        st->why = "tree deeper than GH_TREE_MAX_DEPTH (a cycle?)";
        return -1;
    }
    if (!check_link(st, n->left) || !check_link(st, n->right))
        return -1;
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
    size_t m = 0;
    if (st->t->order == GH_TREE_BY_ADDR) {
        m = gh_tnode_size(n);
        if (submax(n->left) > m)
            m = submax(n->left);
        if (submax(n->right) > m)
            m = submax(n->right);
    }
    if (submax(n) != m) {
        st->why = "tree subtree maximum is stale";
        return -1;
    }
    return h;
}

bool gh_tree_check(const struct gh_tree *t, const char **why)
{
    struct check_state st = { t, NULL, 0, NULL };
    if (!check_link(&st, t->root) || check(&st, t->root, 0) < 0) {
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
