/* test_tree.c - the AVL fit indexes of tree.c, in both orders.
 *
 * Proves: seeded random insert/remove/resize sequences keep every query of
 * tree.h (first fit, first fit from an address, floor, best fit, largest,
 * max size, the in-order walk) equal to a brute-force scan of the same set,
 * with gh_tree_check passing after every single operation and the height
 * within the AVL bound; and that gh_tree_check itself fails on a stale
 * height, a stale subtree maximum, keys out of order, an unbalanced node, a
 * cycle and a wrong count, at every node of a tree, not only the root.
 *
 * The nodes live in fake "blocks" in a buffer: each slot is 16-byte aligned,
 * its first word is the size (low 4 bits are flags the tree must ignore)
 * and the node sits 16 bytes in, as in a real free block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tree.h"

#define SLOT_BYTES   64u   /* size word, pad, 24-byte node, room to spare */
#define MAX_SLOTS    2048u
#define HEIGHT_SHIFT 56    /* tree.h: aux = height << 56 | subtree max */
#define MAX_MASK     ((((uint64_t)1) << HEIGHT_SHIFT) - 1)

/* The fake blocks and the reference model of which are in the tree. */
struct fake {
    _Alignas(16) unsigned char buf[MAX_SLOTS * SLOT_BYTES];
    size_t nslots;
    bool in[MAX_SLOTS];
    size_t key[MAX_SLOTS]; /* the size each node was inserted with */
    size_t count;
};

static struct fake F;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

static uint64_t *slot_word(size_t i)
{
    return (uint64_t *)(F.buf + i * SLOT_BYTES);
}

static struct gh_tnode *slot_node(size_t i)
{
    return (struct gh_tnode *)(F.buf + i * SLOT_BYTES + 16);
}

static size_t slot_size(size_t i)
{
    return (size_t)(*slot_word(i) & GH_TNODE_SIZE_MASK);
}

static size_t node_slot(const struct gh_tnode *n)
{
    size_t off = (size_t)((const unsigned char *)n - F.buf);
    assert_true(off >= 16 && (off - 16) % SLOT_BYTES == 0);
    assert_true((off - 16) / SLOT_BYTES < F.nslots);
    return (off - 16) / SLOT_BYTES;
}

/* A size word: a multiple of 16 from a small set (so there are many ties)
 * or, rarely, a huge one; random flag bits in the low 4 bits. */
static uint64_t random_size_word(size_t distinct)
{
    uint64_t size;
    if (rnd_below(64) == 0)
        size = ((uint64_t)1 << (32 + rnd_below(15))) + 16 * rnd_below(4); /* below 2^48 */
    else
        size = 16 * (1 + rnd_below(distinct));
    return size | (rnd() & 15);
}

static void fake_reset(size_t nslots, size_t distinct)
{
    memset(&F, 0, sizeof F);
    F.nslots = nslots;
    for (size_t i = 0; i < nslots; i++) {
        *slot_word(i) = random_size_word(distinct);
        /* garbage in the node, as in a block's old payload */
        memset(slot_node(i), 0xa5, sizeof(struct gh_tnode));
    }
}

static void assert_tree_ok(const struct gh_tree *t)
{
    const char *why = NULL;
    bool ok = gh_tree_check(t, &why);
    if (!ok)
        fail_msg("gh_tree_check failed: %s", why ? why : "(no reason)");
    assert_int_equal(t->count, F.count);
}

/* ---- brute-force reference queries over F ---- */

static struct gh_tnode *ref_first_fit(size_t size)
{
    for (size_t i = 0; i < F.nslots; i++)
        if (F.in[i] && slot_size(i) >= size)
            return slot_node(i);
    return NULL;
}

static struct gh_tnode *ref_first_fit_from(const void *from, size_t size)
{
    for (size_t i = 0; i < F.nslots; i++)
        if (F.in[i] && (uintptr_t)slot_node(i) >= (uintptr_t)from && slot_size(i) >= size)
            return slot_node(i);
    return NULL;
}

static struct gh_tnode *ref_floor(const void *addr)
{
    struct gh_tnode *best = NULL;
    for (size_t i = 0; i < F.nslots; i++)
        if (F.in[i] && (uintptr_t)slot_node(i) <= (uintptr_t)addr)
            best = slot_node(i);
    return best;
}

static struct gh_tnode *ref_best_fit(size_t size)
{
    struct gh_tnode *best = NULL;
    for (size_t i = 0; i < F.nslots; i++)
        if (F.in[i] && slot_size(i) >= size && (!best || slot_size(i) < gh_tnode_size(best)))
            best = slot_node(i);
    return best;
}

static struct gh_tnode *ref_largest(void)
{
    struct gh_tnode *best = NULL;
    for (size_t i = 0; i < F.nslots; i++)
        if (F.in[i] && (!best || slot_size(i) > gh_tnode_size(best)))
            best = slot_node(i);
    return best;
}

static size_t ref_max_size(void)
{
    struct gh_tnode *n = ref_largest();
    return n ? slot_size(node_slot(n)) : 0;
}

/* A size to ask for: often an existing size (exact fits), sometimes a
 * neighbour of one, sometimes 1 or more than anything.  (0 has its own
 * test, test_zero_size_queries.) */
static size_t random_query_size(void)
{
    switch (rnd_below(8)) {
    case 0:
        return 1;
    case 1:
        return ref_max_size() + 1 + rnd_below(32);
    case 2:
        return ref_max_size() ? ref_max_size() : 1;
    default: {
        size_t s = slot_size(rnd_below(F.nslots));
        return s + rnd_below(3) - 1; /* s-1, s or s+1 */
    }
    }
}

/* An address to search from: a node, just before or after one, or outside
 * the buffer on either side. */
static const void *random_query_addr(void)
{
    switch (rnd_below(10)) {
    case 0:
        return F.buf;
    case 1:
        return F.buf + sizeof F.buf;
    default:
        return (const char *)slot_node(rnd_below(F.nslots)) + (ptrdiff_t)rnd_below(3) - 1;
    }
}

/* ---- the in-order walk ---- */

struct walk_ctx {
    struct gh_tnode *seen[MAX_SLOTS];
    size_t n, stop_after;
};

static bool walk_collect(void *c, struct gh_tnode *n)
{
    struct walk_ctx *w = c;
    w->seen[w->n++] = n;
    return w->n < w->stop_after;
}

static void check_walk(const struct gh_tree *t)
{
    static struct walk_ctx w;
    w.n = 0;
    w.stop_after = SIZE_MAX;
    gh_tree_walk(t, walk_collect, &w);
    assert_int_equal(w.n, F.count);
    /* Every visited node is in the model, and the visits are in order. */
    for (size_t k = 0; k < w.n; k++) {
        size_t i = node_slot(w.seen[k]);
        assert_true(F.in[i]);
        if (k > 0) {
            const struct gh_tnode *a = w.seen[k - 1], *b = w.seen[k];
            if (t->order == GH_TREE_BY_SIZE && gh_tnode_size(a) != gh_tnode_size(b))
                assert_true(gh_tnode_size(a) < gh_tnode_size(b));
            else
                assert_true((uintptr_t)a < (uintptr_t)b);
        }
    }
    /* Stopping early: fn returning false ends the walk there. */
    if (F.count > 2) {
        w.n = 0;
        w.stop_after = 2;
        gh_tree_walk(t, walk_collect, &w);
        assert_int_equal(w.n, 2);
    }
}

static int tree_height(const struct gh_tree *t)
{
    return t->root ? (int)(t->root->aux >> HEIGHT_SHIFT) : 0;
}

/* AVL: height < 1.4405 log2(n + 2) - 0.3277. */
static void assert_height_bound(const struct gh_tree *t)
{
    int h = tree_height(t);
    int bound = 1;
    while (((size_t)1 << bound) < F.count + 2)
        bound++;
    /* ceil(log2(n+2)) * 1.4405, rounded up */
    assert_true(h <= (bound * 14405 + 9999) / 10000);
}

/* All queries of t's order against the reference, several times over. */
static void check_queries(const struct gh_tree *t)
{
    assert_int_equal(gh_tree_max_size(t), ref_max_size());
    for (int q = 0; q < 4; q++) {
        size_t size = random_query_size();
        if (t->order == GH_TREE_BY_ADDR) {
            assert_ptr_equal(gh_tree_first_fit(t, size), ref_first_fit(size));
            const void *from = random_query_addr();
            assert_ptr_equal(gh_tree_first_fit_from(t, from, size), ref_first_fit_from(from, size));
            const void *at = random_query_addr();
            assert_ptr_equal(gh_tree_floor(t, at), ref_floor(at));
        } else {
            assert_ptr_equal(gh_tree_best_fit(t, size), ref_best_fit(size));
        }
    }
    if (t->order == GH_TREE_BY_SIZE)
        assert_ptr_equal(gh_tree_largest(t), ref_largest());
}

static void model_insert(struct gh_tree *t, size_t i)
{
    gh_tree_insert(t, slot_node(i));
    F.in[i] = true;
    F.key[i] = slot_size(i);
    F.count++;
}

/* Key order of the tree: (size, address) BY_SIZE, address BY_ADDR. */
static int key_cmp(enum gh_tree_order order, size_t sa, size_t a, size_t sb, size_t b)
{
    if (order == GH_TREE_BY_SIZE && sa != sb)
        return sa < sb ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Would node j, with its current size, sort exactly where node i (key
 * F.key[i]) stands, among the other nodes of the model? */
static bool ref_sorts_in_place(enum gh_tree_order order, size_t i, size_t j)
{
    for (size_t k = 0; k < F.nslots; k++) {
        if (!F.in[k] || k == i)
            continue;
        int side_old = key_cmp(order, F.key[k], k, F.key[i], i);
        int side_new = key_cmp(order, F.key[k], k, slot_size(j), j);
        if (side_new == 0 || side_old != side_new)
            return false;
    }
    return true;
}

/* gh_tree_move(old = i, n = j), j's size word already written; when the
 * tree refuses, it must be unchanged, and the caller's fallback (remove
 * with the old size, insert) is done here. */
static void model_move(struct gh_tree *t, size_t i, size_t j)
{
    bool fits = ref_sorts_in_place(t->order, i, j);
    bool moved = gh_tree_move(t, slot_node(i), F.key[i], slot_node(j));
    if (moved != fits)
        fail_msg("gh_tree_move(%zu -> %zu) returned %d, expected %d", i, j, moved, fits);
    if (!moved) {
        /* Unchanged.  (When i == j its size word already differs from its
         * key, so the tree cannot pass its own check until i is out.) */
        if (i != j)
            assert_tree_ok(t);
        gh_tree_remove_sized(t, slot_node(i), F.key[i]);
        F.in[i] = false;
        F.count--;
        assert_tree_ok(t);
        gh_tree_insert(t, slot_node(j));
        F.count++;
    }
    F.in[i] = false;
    F.in[j] = true;
    F.key[j] = slot_size(j);
}

/* A slot near i (often a neighbour in address order), or i itself. */
static size_t near_slot(size_t i)
{
    size_t d = 1 + rnd_below(3);
    if (rnd_below(2))
        return i + d < F.nslots ? i + d : i;
    return i >= d ? i - d : i;
}

static void model_remove(struct gh_tree *t, size_t i)
{
    gh_tree_remove(t, slot_node(i));
    F.in[i] = false;
    F.count--;
}

/* One seeded random run: inserts, removes (plain and with a size word
 * changed first: gh_tree_remove_sized), moves (gh_tree_move to another
 * node or to the same node resized, with the fallback when refused) and
 * (BY_ADDR) in-place resizes; the checker and every query after each. */
static void random_run(enum gh_tree_order order, uint64_t seed, size_t nslots, size_t distinct, size_t ops)
{
    rng_state = seed;
    fake_reset(nslots, distinct);
    struct gh_tree t;
    gh_tree_init(&t, order);
    assert_tree_ok(&t);
    assert_null(t.root);
    assert_int_equal(gh_tree_max_size(&t), 0);

    for (size_t op = 0; op < ops; op++) {
        size_t i = rnd_below(nslots);
        unsigned kind = (unsigned)rnd_below(12);
        if (!F.in[i]) {
            /* a new size each time a slot goes back in */
            if (kind < 3)
                *slot_word(i) = random_size_word(distinct);
            model_insert(&t, i);
        } else if (order == GH_TREE_BY_ADDR && kind < 2) {
            *slot_word(i) = random_size_word(distinct);
            gh_tree_resized(&t, slot_node(i));
            F.key[i] = slot_size(i);
        } else if (kind < 5) {
            /* move to a slot not in the tree (or i itself, resized): often
             * a neighbour with i's size, which sorts in i's place */
            size_t j = kind < 4 ? near_slot(i) : rnd_below(nslots);
            if (j != i && F.in[j]) {
                model_remove(&t, i);
            } else {
                if (rnd_below(2)) {
                    /* i's size, or (BY_SIZE) a neighbouring size */
                    uint64_t size = F.key[i];
                    if (order == GH_TREE_BY_SIZE && rnd_below(2))
                        size = rnd_below(2) || size == 16 ? size + 16 : size - 16;
                    *slot_word(j) = size | (rnd() & 15);
                } else {
                    *slot_word(j) = random_size_word(distinct);
                }
                model_move(&t, i, j);
            }
        } else if (kind < 6) {
            /* the size word changed before the node left the tree */
            *slot_word(i) = random_size_word(distinct);
            gh_tree_remove_sized(&t, slot_node(i), F.key[i]);
            F.in[i] = false;
            F.count--;
        } else {
            model_remove(&t, i);
        }
        assert_tree_ok(&t);
        assert_height_bound(&t);
        check_queries(&t);
        if (op % 64 == 0)
            check_walk(&t);
    }
    /* Drain it completely. */
    for (size_t i = 0; i < nslots; i++)
        if (F.in[i]) {
            model_remove(&t, i);
            assert_tree_ok(&t);
            check_queries(&t);
        }
    assert_null(t.root);
    assert_int_equal(t.count, 0);
}

static void test_random_by_addr(void **state)
{
    (void)state;
    random_run(GH_TREE_BY_ADDR, 1, 8, 4, 20000);       /* tiny: every shape */
    random_run(GH_TREE_BY_ADDR, 2, 64, 16, 40000);
    random_run(GH_TREE_BY_ADDR, 3, 1024, 512, 40000);
    random_run(GH_TREE_BY_ADDR, 4, 512, 3, 20000);     /* ties everywhere */
}

static void test_random_by_size(void **state)
{
    (void)state;
    random_run(GH_TREE_BY_SIZE, 11, 8, 4, 20000);
    random_run(GH_TREE_BY_SIZE, 12, 64, 16, 40000);
    random_run(GH_TREE_BY_SIZE, 13, 1024, 512, 40000);
    random_run(GH_TREE_BY_SIZE, 14, 512, 3, 20000);
}

/* Sorted insertion (the worst case for an unbalanced tree) and removal from
 * either end: the height stays within the AVL bound throughout. */
static void sorted_run(enum gh_tree_order order, bool descending, bool remove_from_low)
{
    rng_state = 99;
    fake_reset(MAX_SLOTS, 1000);
    struct gh_tree t;
    gh_tree_init(&t, order);
    if (order == GH_TREE_BY_SIZE) /* sorted by size as well */
        for (size_t i = 0; i < MAX_SLOTS; i++)
            *slot_word(i) = 16 * (i + 1);
    for (size_t k = 0; k < MAX_SLOTS; k++) {
        model_insert(&t, descending ? MAX_SLOTS - 1 - k : k);
        assert_height_bound(&t);
        if (k % 97 == 0) {
            assert_tree_ok(&t);
            check_queries(&t);
        }
    }
    assert_tree_ok(&t);
    check_walk(&t);
    for (size_t k = 0; k < MAX_SLOTS; k++) {
        model_remove(&t, remove_from_low ? k : MAX_SLOTS - 1 - k);
        assert_height_bound(&t);
        if (k % 97 == 0) {
            assert_tree_ok(&t);
            check_queries(&t);
        }
    }
    assert_tree_ok(&t);
    assert_null(t.root);
}

static void test_sorted_sequences(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++)
        for (int desc = 0; desc < 2; desc++)
            for (int low = 0; low < 2; low++)
                sorted_run(order ? GH_TREE_BY_SIZE : GH_TREE_BY_ADDR, desc, low);
}

/* A hand-made set whose answers are known, independent of the reference. */
static void test_known_answers(void **state)
{
    (void)state;
    static const size_t sizes[] = { 64, 32, 128, 64, 48, 128, 16 };
    const size_t n = sizeof sizes / sizeof sizes[0];
    memset(&F, 0, sizeof F);
    F.nslots = n;
    struct gh_tree a, s;
    gh_tree_init(&a, GH_TREE_BY_ADDR);
    gh_tree_init(&s, GH_TREE_BY_SIZE);
    for (size_t i = 0; i < n; i++)
        *slot_word(i) = sizes[i] | 1; /* a FREE-like flag: ignored */
    /* BY_SIZE nodes must not share slots with the BY_ADDR ones: use a
     * second copy of the slots, n..2n-1. */
    F.nslots = 2 * n;
    for (size_t i = 0; i < n; i++) {
        *slot_word(n + i) = sizes[i] | 2;
        gh_tree_insert(&a, slot_node(i));
        gh_tree_insert(&s, slot_node(n + i));
    }
    assert_true(gh_tree_check(&a, NULL));
    assert_true(gh_tree_check(&s, NULL));
    assert_int_equal(a.count, n);
    assert_int_equal(s.count, n);

    assert_int_equal(gh_tnode_size(slot_node(0)), 64);
    assert_ptr_equal(gh_tree_first_fit(&a, 1), slot_node(0));
    assert_ptr_equal(gh_tree_first_fit(&a, 65), slot_node(2));
    assert_ptr_equal(gh_tree_first_fit(&a, 100), slot_node(2));
    assert_null(gh_tree_first_fit(&a, 129));
    assert_ptr_equal(gh_tree_first_fit_from(&a, slot_node(1), 64), slot_node(2));
    assert_ptr_equal(gh_tree_first_fit_from(&a, slot_node(3), 64), slot_node(3));
    assert_ptr_equal(gh_tree_first_fit_from(&a, (char *)slot_node(3) + 1, 64), slot_node(5));
    assert_null(gh_tree_first_fit_from(&a, (char *)slot_node(5) + 1, 64));
    assert_ptr_equal(gh_tree_first_fit_from(&a, (char *)slot_node(5) + 1, 16), slot_node(6));
    assert_null(gh_tree_floor(&a, F.buf));
    assert_ptr_equal(gh_tree_floor(&a, slot_node(0)), slot_node(0));
    assert_ptr_equal(gh_tree_floor(&a, (char *)slot_node(4) - 1), slot_node(3));
    assert_ptr_equal(gh_tree_floor(&a, F.buf + sizeof F.buf), slot_node(n - 1));
    assert_int_equal(gh_tree_max_size(&a), 128);

    /* best: smallest that fits, lowest address on ties */
    assert_ptr_equal(gh_tree_best_fit(&s, 1), slot_node(n + 6));
    assert_ptr_equal(gh_tree_best_fit(&s, 33), slot_node(n + 4));
    assert_ptr_equal(gh_tree_best_fit(&s, 49), slot_node(n + 0));
    assert_ptr_equal(gh_tree_best_fit(&s, 64), slot_node(n + 0));
    assert_ptr_equal(gh_tree_best_fit(&s, 65), slot_node(n + 2));
    assert_null(gh_tree_best_fit(&s, 129));
    /* largest, lowest address among the largest */
    assert_ptr_equal(gh_tree_largest(&s), slot_node(n + 2));
    assert_int_equal(gh_tree_max_size(&s), 128);
    gh_tree_remove(&s, slot_node(n + 2));
    assert_ptr_equal(gh_tree_largest(&s), slot_node(n + 5));
    gh_tree_remove(&s, slot_node(n + 0));
    assert_ptr_equal(gh_tree_best_fit(&s, 64), slot_node(n + 3));
    assert_true(gh_tree_check(&s, NULL));

    /* resized: grow a small node to the largest, then shrink it again */
    *slot_word(6) = 4096;
    gh_tree_resized(&a, slot_node(6));
    assert_true(gh_tree_check(&a, NULL));
    assert_int_equal(gh_tree_max_size(&a), 4096);
    assert_ptr_equal(gh_tree_first_fit(&a, 129), slot_node(6));
    *slot_word(6) = 16;
    gh_tree_resized(&a, slot_node(6));
    assert_true(gh_tree_check(&a, NULL));
    assert_int_equal(gh_tree_max_size(&a), 128);
    assert_null(gh_tree_first_fit(&a, 129));
    /* shrink the only largest: the max falls to the next one */
    *slot_word(2) = 32;
    gh_tree_resized(&a, slot_node(2));
    assert_true(gh_tree_check(&a, NULL));
    assert_ptr_equal(gh_tree_first_fit(&a, 100), slot_node(5));
    *slot_word(5) = 32;
    gh_tree_resized(&a, slot_node(5));
    assert_true(gh_tree_check(&a, NULL));
    assert_int_equal(gh_tree_max_size(&a), 64);
}

/* Removing a node with two children whose size is the largest: its
 * successor takes its place and must not keep its subtree maximum, even
 * when nothing changes at the successor's old parent (here 6, which keeps
 * its height through its right child 7). */
static void test_remove_largest_with_two_children(void **state)
{
    (void)state;
    static const int order[] = { 4, 2, 6, 1, 3, 5, 7 }; /* a perfect tree */
    for (int o = 0; o < 2; o++) {
        memset(&F, 0, sizeof F);
        F.nslots = 8;
        struct gh_tree t;
        gh_tree_init(&t, o ? GH_TREE_BY_SIZE : GH_TREE_BY_ADDR);
        for (size_t i = 1; i <= 7; i++)
            *slot_word(i) = i == 4 ? 4096 : 16 * i;
        for (size_t k = 0; k < 7; k++)
            model_insert(&t, (size_t)order[k]);
        assert_tree_ok(&t);
        if (o == 0)
            assert_ptr_equal(t.root, slot_node(4));
        assert_int_equal(gh_tree_max_size(&t), 4096);
        model_remove(&t, 4);
        assert_tree_ok(&t);
        assert_int_equal(gh_tree_max_size(&t), 112);
        if (o == 0) {
            assert_null(gh_tree_first_fit(&t, 113));
            assert_ptr_equal(gh_tree_first_fit(&t, 100), slot_node(7));
        } else {
            assert_ptr_equal(gh_tree_largest(&t), slot_node(7));
            assert_null(gh_tree_best_fit(&t, 113));
        }
    }
}

/* A query for size 0 is legal (tree.h: "size >= size"): every node fits,
 * so the answer is the lowest address (or the smallest block), and NULL
 * only for an empty tree. */
static void test_zero_size_queries(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    F.nslots = 8;
    struct gh_tree a, s;
    gh_tree_init(&a, GH_TREE_BY_ADDR);
    gh_tree_init(&s, GH_TREE_BY_SIZE);
    assert_null(gh_tree_first_fit(&a, 0));
    assert_null(gh_tree_first_fit_from(&a, F.buf, 0));
    assert_null(gh_tree_best_fit(&s, 0));
    for (size_t i = 0; i < 4; i++) {
        *slot_word(i) = 16 * (4 - i);
        *slot_word(4 + i) = 16 * (4 - i);
        gh_tree_insert(&a, slot_node(i));
        gh_tree_insert(&s, slot_node(4 + i));
    }
    assert_ptr_equal(gh_tree_best_fit(&s, 0), slot_node(7));
    assert_ptr_equal(gh_tree_first_fit(&a, 0), slot_node(0));
    assert_ptr_equal(gh_tree_first_fit_from(&a, slot_node(2), 0), slot_node(2));
    assert_ptr_equal(gh_tree_first_fit_from(&a, (char *)slot_node(2) + 1, 0), slot_node(3));
    assert_null(gh_tree_first_fit_from(&a, (char *)slot_node(3) + 1, 0));
}

/* ---- the checker ---- */

/* Build a valid tree over n slots with distinct sizes. */
static void build_valid(struct gh_tree *t, enum gh_tree_order order, size_t n)
{
    memset(&F, 0, sizeof F);
    F.nslots = n;
    gh_tree_init(t, order);
    for (size_t i = 0; i < n; i++) {
        /* scrambled sizes, all distinct */
        *slot_word(i) = 16 * (1 + (i * 7) % n);
        model_insert(t, i);
    }
    assert_tree_ok(t);
}

static void expect_broken(const struct gh_tree *t, const char *keyword)
{
    const char *why = NULL;
    assert_false(gh_tree_check(t, &why));
    assert_non_null(why);
    if (keyword && !strstr(why, keyword))
        fail_msg("checker said \"%s\", expected it to mention \"%s\"", why, keyword);
    assert_false(gh_tree_check(t, NULL)); /* why may be NULL */
}

static void test_check_height(void **state)
{
    (void)state;
    for (int o = 0; o < 2; o++) {
        struct gh_tree t;
        build_valid(&t, o ? GH_TREE_BY_SIZE : GH_TREE_BY_ADDR, 31);
        for (size_t i = 0; i < F.nslots; i++) {
            struct gh_tnode *n = slot_node(i);
            uint64_t saved = n->aux;
            n->aux += (uint64_t)1 << HEIGHT_SHIFT;
            expect_broken(&t, "height");
            n->aux = saved;
            assert_tree_ok(&t);
        }
    }
}

static void test_check_max(void **state)
{
    (void)state;
    /* A BY_SIZE tree keeps no maxima (tree.c): a max there is stale when
     * it is not 0. */
    for (int o = 0; o < 2; o++) {
        struct gh_tree t;
        build_valid(&t, o ? GH_TREE_BY_SIZE : GH_TREE_BY_ADDR, 31);
        for (size_t i = 0; i < F.nslots; i++) {
            struct gh_tnode *n = slot_node(i);
            uint64_t saved = n->aux;
            /* too large, then too small: both are stale */
            n->aux = (saved & ~MAX_MASK) | ((saved & MAX_MASK) + 16);
            expect_broken(&t, "max");
            if (o == 0) {
                n->aux = (saved & ~MAX_MASK) | ((saved & MAX_MASK) - 16);
                expect_broken(&t, "max");
            }
            n->aux = saved;
            assert_tree_ok(&t);
        }
        /* A size changed behind the tree's back (no gh_tree_resized) in a
         * BY_ADDR tree: the maxima on its path are stale. */
        if (o == 0) {
            uint64_t saved = *slot_word(3);
            *slot_word(3) = 16 * 1000;
            expect_broken(&t, "max");
            *slot_word(3) = saved;
            assert_tree_ok(&t);
        }
    }
}

static void test_check_order(void **state)
{
    (void)state;
    /* Swap the children of each node with two children in turn: a mirror
     * image keeps heights and maxima right, only the order is broken. */
    for (int o = 0; o < 2; o++) {
        struct gh_tree t;
        build_valid(&t, o ? GH_TREE_BY_SIZE : GH_TREE_BY_ADDR, 31);
        size_t tried = 0;
        for (size_t i = 0; i < F.nslots; i++) {
            struct gh_tnode *n = slot_node(i);
            if (!n->left || !n->right)
                continue;
            struct gh_tnode *l = n->left;
            n->left = n->right;
            n->right = l;
            expect_broken(&t, "order");
            n->right = n->left;
            n->left = l;
            assert_tree_ok(&t);
            tried++;
        }
        assert_true(tried >= 4);
    }
    /* BY_SIZE: a leaf's size raised past its successor's (a BY_SIZE tree
     * keeps no maxima), so only the order is wrong. */
    struct gh_tree t;
    build_valid(&t, GH_TREE_BY_SIZE, 3);
    /* sizes: slot 0 = 16, slot 1 = 32, slot 2 = 48; the root is slot 1 */
    struct gh_tnode *root = t.root;
    assert_non_null(root->left);
    assert_non_null(root->right);
    size_t li = node_slot(root->left);
    uint64_t saved = *slot_word(li);
    *slot_word(li) = gh_tnode_size(root) + 16; /* left child now > root */
    expect_broken(&t, "order");
    *slot_word(li) = saved;
    assert_tree_ok(&t);
}

static void test_check_balance(void **state)
{
    (void)state;
    /* Three nodes in a chain a < b < c, linked by hand with the heights and
     * maxima right: the order holds, the AVL balance does not. */
    memset(&F, 0, sizeof F);
    F.nslots = 3;
    for (size_t i = 0; i < 3; i++)
        *slot_word(i) = 16 * (i + 1);
    struct gh_tnode *a = slot_node(0), *b = slot_node(1), *c = slot_node(2);
    a->left = a->right = b->left = c->left = c->right = NULL;
    a->right = b;
    b->right = c;
    c->aux = ((uint64_t)1 << HEIGHT_SHIFT) | 48;
    b->aux = ((uint64_t)2 << HEIGHT_SHIFT) | 48;
    a->aux = ((uint64_t)3 << HEIGHT_SHIFT) | 48;
    struct gh_tree t = { a, 3, GH_TREE_BY_ADDR, &gh_tree_any };
    expect_broken(&t, "balance");
    /* the same three nodes balanced are fine */
    b->left = a;
    b->right = c;
    a->left = a->right = NULL;
    a->aux = ((uint64_t)1 << HEIGHT_SHIFT) | 16;
    b->aux = ((uint64_t)2 << HEIGHT_SHIFT) | 48;
    t.root = b;
    assert_true(gh_tree_check(&t, NULL));
}

static void test_check_count_and_cycle(void **state)
{
    (void)state;
    for (int o = 0; o < 2; o++) {
        struct gh_tree t;
        build_valid(&t, o ? GH_TREE_BY_SIZE : GH_TREE_BY_ADDR, 20);
        t.count++;
        expect_broken(&t, "count");
        t.count -= 2;
        expect_broken(&t, "count");
        t.count++;
        assert_tree_ok(&t);
        /* empty tree with a nonzero count */
        struct gh_tree e;
        gh_tree_init(&e, t.order);
        assert_true(gh_tree_check(&e, NULL));
        e.count = 1;
        expect_broken(&e, "count");

        /* a cycle: a leaf pointing back at the root must not hang */
        struct gh_tnode *leaf = t.root;
        while (leaf->left)
            leaf = leaf->left;
        leaf->left = t.root;
        expect_broken(&t, NULL);
        leaf->left = NULL;
        assert_tree_ok(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_random_by_addr),
        cmocka_unit_test(test_random_by_size),
        cmocka_unit_test(test_sorted_sequences),
        cmocka_unit_test(test_remove_largest_with_two_children),
        cmocka_unit_test(test_check_height),
        cmocka_unit_test(test_check_max),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_check_balance),
        cmocka_unit_test(test_check_count_and_cycle),
        /* last: a crash here (UBSan aborts the process) skips nothing */
        cmocka_unit_test(test_zero_size_queries),
    };
    return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
