/* policy_first.c - first fit: the free block with the lowest address whose size fits.
 *
 * Index: the address-ordered tree; every node knows the largest size in
 * its subtree, so the walk goes left whenever the left subtree can hold
 * the request, and the first node that fits on the way is the answer:
 * O(log n).
 */
#include "policy.h"

static struct gh_block *first_find(struct gh_policy *p, size_t size)
{
    return gh_policy_block(gh_tree_first_fit(&p->tree, size));
}

const struct gh_policy_ops gh_policy_first = {
    .name = "first",
    .discipline = &gh_discipline_fit,
    .order = GH_TREE_BY_ADDR,
    .insert = gh_policy_tree_insert,
    .remove = gh_policy_tree_remove,
    .move = gh_policy_tree_move,
    .find = first_find,
    .check = gh_policy_tree_check,
};
