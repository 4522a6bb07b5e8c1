/* policy_worst.c - worst fit: the largest free block (if it fits); ties go to the lowest
 * address.
 *
 * Index: the tree ordered by (size, address): the rightmost node has the
 * largest size, then the lowest address of that size is one more walk,
 * O(log n).
 */
#include "policy.h"

static struct gh_block *worst_find(struct gh_policy *p, size_t size)
{
    struct gh_tnode *n = gh_tree_largest(&p->tree);
    if (!n || gh_tnode_size(n) < size)
        return NULL;
    return gh_policy_block(n);
}

const struct gh_policy_ops gh_policy_worst = {
    .name = "worst",
    .discipline = &gh_discipline_fit,
    .order = GH_TREE_BY_SIZE,
    .insert = gh_policy_tree_insert,
    .remove = gh_policy_tree_remove,
    .move = gh_policy_tree_move,
    .find = worst_find,
    .check = gh_policy_tree_check,
};
