/* policy.c - the policy table and what the fit policies share: the
 * address-ordered and the size-ordered index.  Each policy's decision and
 * index order live in its own file (policy_first.c, policy_next.c, ...).
 *
 * first and next fit index by address (tree augmented with the largest size
 * below each node); best and worst fit index by (size, address).
 */
#include "policy.h"

#include <string.h>

void gh_policy_init(struct gh_policy *p, const struct gh_policy_ops *ops)
{
    p->ops = ops;
    p->rover = NULL;
    p->bin_map = 0;
    memset(p->bin_count, 0, sizeof p->bin_count);
    memset(p->bin_head, 0, sizeof p->bin_head);
    gh_tree_init(&p->tree, ops->order);
}

const struct gh_policy_ops *gh_policy_by_name(const char *name)
{
#define GH_POLICY_LINE(name) &gh_policy_##name,
    static const struct gh_policy_ops *const all[] = { GLASSHEAP_POLICIES(GH_POLICY_LINE) };
#undef GH_POLICY_LINE
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
    /* The walk checks each link before it follows it (tree.c). */
    return gh_tree_contains(&p->tree, gh_policy_node((struct gh_block *)b), gh_block_size(b));
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
