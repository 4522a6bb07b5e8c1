/* policy_first.c - first fit: the free block with the lowest address whose size fits.
 *
 * Index (.binned and .ranked, policy.c): the free blocks of each of the
 * GH_POLICY_BINS smallest sizes (48 to 8224 bytes) in an exact-size bin of
 * their own (a pairing heap by address, pheap.h, its lowest at the root),
 * with a tournament over the bins' roots (bin_rank); every larger block in
 * the address-ordered tree, where every node knows the largest size in its
 * subtree.  A small request's answer is the lower of two: the lowest root
 * of the bins at or above its size (the tournament, O(log bins) in 8 KiB
 * of the policy's own memory) and the tree's lowest block (every block
 * there is larger than any small request: the walk down the left side of
 * a tree of large blocks only).  A larger request walks the tree, going
 * left whenever the left subtree can hold it: O(log n) of the large
 * blocks.  The choice is exactly the definition's, as one tree over every
 * block gives it (the placement table and the shadow model check it).
 */
#include "policy.h"

static struct gh_block *first_find(struct gh_policy *p, size_t size)
{
    int k = gh_policy_bin_of(p, size);
    if (k < 0)
        return gh_policy_block(gh_tree_first_fit(&p->tree, size));
    struct gh_block *b = p->tree.count ? gh_policy_block(gh_tree_first_fit(&p->tree, size)) : NULL;
    /* No bin lower than b at all (the tournament's overall winner, one
     * load): b, without the walk over the bins at or above k. */
    uintptr_t low = p->bin_rank[1];
    if (!low || (b && (uintptr_t)gh_block_payload(b) < UINTPTR_MAX - low))
        return b;
    struct gh_block *a = gh_policy_bin_lowest_from(p, (unsigned)k);
    return !a || (b && b < a) ? b : a;
}

const struct gh_policy_ops gh_policy_first = {
    .name = "first",
    .discipline = &gh_discipline_fit,
    .order = GH_TREE_BY_ADDR,
    .binned = true,
    .ranked = true,
    .insert = gh_policy_tree_insert,
    .remove = gh_policy_tree_remove,
    .move = gh_policy_tree_move,
    .find = first_find,
    .check = gh_policy_tree_check,
};
