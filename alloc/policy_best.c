/* policy_best.c - best fit: the smallest free block that fits; ties go to the lowest
 * address.
 *
 * Index: the tree ordered by (size, address): the smallest key with
 * size >= request is one root-to-leaf walk, O(log n).
 */
#include "policy.h"

static struct gh_block *best_find(struct gh_policy *p, size_t size)
{
    return gh_policy_block(gh_tree_best_fit(&p->tree, size));
}

const struct gh_policy_ops gh_policy_best = {
    .name = "best",
    .discipline = &gh_discipline_fit,
    .order = GH_TREE_BY_SIZE,
    .insert = gh_policy_tree_insert,
    .remove = gh_policy_tree_remove,
    .move = gh_policy_tree_move,
    .find = best_find,
    .check = gh_policy_tree_check,
};
