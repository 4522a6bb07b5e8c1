/* policy_worst.c - worst fit: the largest free block (if it fits); ties go to the lowest
 * address.
 *
 * Index (.binned, policy.c, as best fit's): the free blocks of each of the
 * GH_POLICY_BINS smallest sizes in an exact-size bin of their own (a
 * pairing heap by address, pheap.h, its lowest at the root), every larger
 * one in the tree ordered by (size, address).  Every block in the tree is
 * larger than every binned one, so the largest free block is the tree's
 * rightmost node, then the lowest address of that size (O(log n) of the
 * tree's blocks), or with the tree empty the root of the highest bin that
 * has blocks (the bitmap's top bit, O(1)).  Freeing and taking a small
 * block walks no tree.
 */
#include "policy.h"

static struct gh_block *worst_find(struct gh_policy *p, size_t size)
{
    if (p->tree.count) {
        struct gh_tnode *n = gh_tree_largest(&p->tree);
        if (!n || gh_tnode_size(n) < size)
            return NULL;
        return gh_policy_block(n);
    }
    int k = gh_policy_bin_top(p);
    if (k < 0 || GH_MIN_BLOCK + (size_t)k * GH_ALIGN < size)
        return NULL;
    return gh_policy_bin_lowest(p, (unsigned)k);
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
