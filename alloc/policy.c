/* policy.c - what the fit policies share: the address-ordered and the
 * size-ordered index, and the lookup of a policy by name.  Each policy's
 * decision lives in its own file (policy_first.c, policy_next.c, ...).
 *
 * first and next fit index by address (tree augmented with the largest size
 * below each node); best and worst fit index by (size, address).
 */
#include "policy.h"

#include <string.h>

static bool uses_addr_tree(const struct gh_policy_ops *ops)
{
    return ops == &gh_policy_first || ops == &gh_policy_next;
}

void gh_policy_init(struct gh_policy *p, const struct gh_policy_ops *ops)
{
    p->ops = ops;
    p->rover = NULL;
    gh_tree_init(&p->tree, uses_addr_tree(ops) ? GH_TREE_BY_ADDR : GH_TREE_BY_SIZE);
}

const struct gh_policy_ops *gh_policy_by_name(const char *name)
{
    static const struct gh_policy_ops *const all[] = {
        &gh_policy_first, &gh_policy_next, &gh_policy_best, &gh_policy_worst,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

struct walk_ctx {
    bool (*fn)(void *, struct gh_block *);
    void *ctx;
};

static bool walk_one(void *c, struct gh_tnode *n)
{
    struct walk_ctx *w = c;
    return w->fn(w->ctx, gh_policy_block(n));
}

void gh_policy_walk(const struct gh_policy *p, bool (*fn)(void *ctx, struct gh_block *b), void *ctx)
{
    struct walk_ctx w = { fn, ctx };
    gh_tree_walk(&p->tree, walk_one, &w);
}

bool gh_policy_contains(const struct gh_policy *p, const struct gh_block *b)
{
    const struct gh_tnode *want = (const struct gh_tnode *)((const char *)b + GH_HEADER_SIZE);
    const struct gh_tnode *n = p->tree.root;
    size_t size = gh_block_size(b);
    while (n) {
        if (n == want)
            return true;
        bool go_left;
        if (p->tree.order == GH_TREE_BY_SIZE && gh_tnode_size(n) != size)
            go_left = size < gh_tnode_size(n);
        else
            go_left = (uintptr_t)want < (uintptr_t)n;
        n = go_left ? n->left : n->right;
    }
    return false;
}

/* Index operations shared by all four fit policies. */
void gh_policy_tree_insert(struct gh_policy *p, struct gh_block *b)
{
    gh_tree_insert(&p->tree, gh_policy_node(b));
}

void gh_policy_tree_remove(struct gh_policy *p, struct gh_block *b)
{
    gh_tree_remove(&p->tree, gh_policy_node(b));
}

void gh_policy_tree_move(struct gh_policy *p, struct gh_block *old, size_t old_size, struct gh_block *nb)
{
    if (!gh_tree_move(&p->tree, gh_policy_node(old), old_size, gh_policy_node(nb))) {
        gh_tree_remove_sized(&p->tree, gh_policy_node(old), old_size);
        gh_tree_insert(&p->tree, gh_policy_node(nb));
    }
}

bool gh_policy_tree_check(const struct gh_policy *p, const char **why)
{
    return gh_tree_check(&p->tree, why);
}
