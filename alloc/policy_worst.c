/* policy_worst.c - worst fit: the largest free block (if it fits); ties go to the lowest
 * address.
 *
 * Index (.binned, policy.c, as best fit's): blocks of the GH_POLICY_BINS
 * smallest sizes in exact-size bins, every larger one in a tree ordered by
 * (size, address).  The largest free block is in that tree when it holds
 * any: its rightmost node has the largest size, then the lowest address of
 * that size is one more walk, O(log n) - over the large blocks only, since
 * the small ones a program frees by the thousand are in their bins.  With
 * no large block free, it is the lowest block of the highest bin that has
 * some (one find-last-set).
 */
#include "policy.h"

static struct gh_block *worst_find(struct gh_policy *p, size_t size)
{
    struct gh_block *b;
    if (p->tree.count)
        b = gh_policy_block(gh_tree_largest(&p->tree));
    else if (p->bin_map)
        b = gh_policy_bin_lowest(p, 63u - (unsigned)__builtin_clzll(p->bin_map));
    else
        return NULL;
    return b && gh_block_size(b) >= size ? b : NULL;
}

const struct gh_policy_ops gh_policy_worst = {
    .name = "worst",
    .discipline = &gh_discipline_fit,
    .order = GH_TREE_BY_SIZE,
    .binned = true,
    .insert = gh_policy_tree_insert,
    .remove = gh_policy_tree_remove,
    .move = gh_policy_tree_move,
    .find = worst_find,
    .check = gh_policy_tree_check,
};
