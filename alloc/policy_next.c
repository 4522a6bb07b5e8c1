/* policy_next.c - next fit: the first fitting free block at or after the roving pointer
 * (the block the previous search chose), wrapping around once.
 *
 * Index: the address-ordered tree.  The search from the rover collects the
 * subtrees to the right of the rover's position and takes the lowest that
 * can hold the request (subtree maxima again); the wrap-around is a plain
 * first-fit search.  O(log n) either way.  The rover is an address, not a
 * block, so it never dangles when that block is merged or reused.
 */
#include "policy.h"

static struct gh_block *next_find(struct gh_policy *p, size_t size)
{
    struct gh_tnode *n = NULL;
    if (p->rover)
        n = gh_tree_first_fit_from(&p->tree, (const char *)p->rover + GH_HEADER_SIZE, size);
    if (!n)
        n = gh_tree_first_fit(&p->tree, size);
    if (n)
        p->rover = gh_policy_block(n);
    return gh_policy_block(n);
}

const struct gh_policy_ops gh_policy_next = {
    .name = "next",
    .discipline = &gh_discipline_fit,
    .order = GH_TREE_BY_ADDR,
    .insert = gh_policy_tree_insert,
    .remove = gh_policy_tree_remove,
    .move = gh_policy_tree_move,
    .find = next_find,
    .check = gh_policy_tree_check,
};
