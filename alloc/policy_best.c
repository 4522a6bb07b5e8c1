/* policy_best.c - best fit: the smallest free block that fits; ties go to the lowest
 * address.
 *
 * Index: the tree ordered by (size, address): the smallest key with
 * size >= request is one root-to-leaf walk, O(log n).  In front of it,
 * for the GH_POLICY_BINS smallest block sizes (48 to 1056 bytes), exact-size
 * bins: how many free blocks of that size the tree holds, a bitmap of the
 * sizes that have some, and the lowest-addressed one of each size when it is
 * known.  A request of a small size takes the first size at or above it
 * that has blocks (one find-first-set) and that size's lowest-addressed
 * block: the very block the tree walk would return, so placement is
 * unchanged (the placement table and the shadow model check it), and it
 * walks no tree while that block is known.
 *
 * Known: a bin's first block, and any block freed below the known one.
 * When the known block is taken the bin's next lowest is not (finding it
 * is a tree walk): the next request of that size walks the tree once, as
 * every request did before the bins, and the bin knows it again.  So a
 * program that frees and asks again for the same sizes - the common case -
 * walks no tree to place them.
 *
 * The bins only point into the tree's own blocks and live in the heap's
 * state, not in free memory; the block found is checked like any other
 * (fit.c's indexed_ok).
 */
#include "policy.h"

#define BIN_MIN GH_MIN_BLOCK

/* The bin of a block size, or -1 for a size the bins do not cover. */
static inline int bin_of(size_t size)
{
    size_t k = (size - BIN_MIN) / GH_ALIGN;
    if (size < BIN_MIN || k >= GH_POLICY_BINS || (size & (GH_ALIGN - 1)))
        return -1;
    return (int)k;
}

static void bin_add(struct gh_policy *p, struct gh_block *b, size_t size)
{
    int k = bin_of(size);
    if (k < 0)
        return;
    if (p->bin_count[k]++ == 0) {
        p->bin_map |= 1ull << k;
        p->bin_head[k] = b;
    } else if (p->bin_head[k] && b < p->bin_head[k]) {
        p->bin_head[k] = b;
    }
}

static void bin_del(struct gh_policy *p, const struct gh_block *b, size_t size)
{
    int k = bin_of(size);
    if (k < 0 || p->bin_count[k] == 0)
        return;
    if (--p->bin_count[k] == 0) {
        p->bin_map &= ~(1ull << k);
        p->bin_head[k] = NULL;
    } else if (p->bin_head[k] == b) {
        p->bin_head[k] = NULL; /* the next lowest is not known */
    }
}

static void best_insert(struct gh_policy *p, struct gh_block *b)
{
    gh_policy_tree_insert(p, b);
    bin_add(p, b, gh_block_size(b));
}

static void best_remove(struct gh_policy *p, struct gh_block *b)
{
    bin_del(p, b, gh_block_size(b));
    gh_policy_tree_remove(p, b);
}

static void best_move(struct gh_policy *p, struct gh_block *old, size_t old_size, struct gh_block *nb)
{
    bin_del(p, old, old_size);
    gh_policy_tree_move(p, old, old_size, nb);
    bin_add(p, nb, gh_block_size(nb));
}

static struct gh_block *best_find(struct gh_policy *p, size_t size)
{
    int k = bin_of(size);
    if (k >= 0) {
        uint64_t m = p->bin_map >> k;
        if (m) {
            unsigned j = (unsigned)k + (unsigned)__builtin_ctzll(m);
            if (!p->bin_head[j])
                p->bin_head[j] = gh_policy_block(gh_tree_best_fit(&p->tree, BIN_MIN + (size_t)j * GH_ALIGN));
            return p->bin_head[j];
        }
    }
    return gh_policy_block(gh_tree_best_fit(&p->tree, size));
}

/* The bins against the tree: every count, bit and known block. */
struct bins_seen {
    uint32_t count[GH_POLICY_BINS];
    const struct gh_block *lowest[GH_POLICY_BINS];
};

static bool see(void *ctx, struct gh_block *b)
{
    struct bins_seen *s = ctx;
    int k = bin_of(gh_block_size(b));
    if (k >= 0 && s->count[k]++ == 0)
        s->lowest[k] = b; /* the tree's order: lowest address first */
    return true;
}

static bool best_check(const struct gh_policy *p, const char **why)
{
    if (!gh_policy_tree_check(p, why))
        return false;
    struct bins_seen s = { { 0 }, { NULL } };
    gh_policy_walk(p, see, &s);
    for (unsigned k = 0; k < GH_POLICY_BINS; k++) {
        if (s.count[k] != p->bin_count[k] || ((p->bin_map >> k) & 1) != (s.count[k] != 0)) {
            *why = "best fit: a size bin's count disagrees with the free blocks";
            return false;
        }
        if (p->bin_head[k] && p->bin_head[k] != s.lowest[k]) {
            *why = "best fit: a size bin's lowest block is not the lowest free block of its size";
            return false;
        }
    }
    return true;
}

const struct gh_policy_ops gh_policy_best = {
    .name = "best",
    .discipline = &gh_discipline_fit,
    .order = GH_TREE_BY_SIZE,
    .insert = best_insert,
    .remove = best_remove,
    .move = best_move,
    .find = best_find,
    .check = best_check,
};
