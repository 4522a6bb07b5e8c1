/* policy_best.c - best fit: the smallest free block that fits; ties go to the lowest
 * address.
 *
 * Index (.binned, policy.c): the free blocks of each of the GH_POLICY_BINS
 * smallest sizes (48 to 8224 bytes) in an exact-size bin of their own, a
 * pairing heap by address (pheap.h) whose root is its lowest block, with a
 * bitmap of the bins that hold some; every larger block in one tree
 * ordered by (size, address).  A small request takes the first bin at or
 * above its size that has blocks (a find-first-set over the bitmap's eight
 * words) and that bin's root: the smallest block that fits, lowest address
 * on ties, exactly as one tree over every block gives it (the placement
 * table and the shadow model check it).  Inserting a small block is O(1);
 * removing one touches only blocks of its size, O(log k) amortized for the
 * k of them.  A larger request, or one no bin can serve, walks the tree:
 * O(log n).
 */
#include "policy.h"

static struct gh_block *best_find(struct gh_policy *p, size_t size)
{
    int k = gh_policy_bin_of(p, size);
    if (k >= 0 && (k = gh_policy_bin_next(p, (unsigned)k)) >= 0)
        return gh_policy_bin_lowest(p, (unsigned)k);
    return gh_policy_block(gh_tree_best_fit(&p->tree, size));
}

const struct gh_policy_ops gh_policy_best = {
    .name = "best",
    .discipline = &gh_discipline_fit,
    .order = GH_TREE_BY_SIZE,
    .binned = true,
    .insert = gh_policy_tree_insert,
    .remove = gh_policy_tree_remove,
    .move = gh_policy_tree_move,
    .find = best_find,
    .check = gh_policy_tree_check,
};
