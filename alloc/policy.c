/* policy.c - the policy table and what the fit policies share: the
 * address-ordered and the size-ordered index, and the exact-size bins.
 * Each policy's decision and index order live in its own file
 * (policy_first.c, policy_next.c, ...).
 *
 * first and next fit index by address (tree augmented with the largest size
 * below each node); best and worst fit index by (size, address), best fit
 * with .binned: a free block of one of the GH_POLICY_BINS smallest sizes goes
 * into its size's bin (a tree of its own, by address), any larger one into
 * the tree.  A bin's bit in bin_map says it has blocks (bin_words, which
 * of its words have some), and its lowest
 * block is kept while known (set by the first block in, or a lower one;
 * forgotten when it leaves, found again by one walk when asked for).  So a
 * small block is inserted, removed and found walking only the blocks of its
 * own size, and the policies' choice is still exactly their definition.
 */
#include "policy.h"

#include <string.h>

void gh_policy_init(struct gh_policy *p, const struct gh_policy_ops *ops)
{
    p->ops = ops;
    p->rover = NULL;
    memset(p->bin_map, 0, sizeof p->bin_map);
    p->bin_words = 0;
    memset(p->bin_ready, 0, sizeof p->bin_ready); /* the bins: on first use */
    gh_tree_init(&p->tree, ops->order);
    p->bounds = p->tree.bounds;
}

void gh_policy_set_bounds(struct gh_policy *p, const struct gh_tree_bounds *b)
{
    gh_tree_set_bounds(&p->tree, b);
    p->bounds = b;
    for (unsigned k = 0; k < GH_POLICY_BINS; k++)
        if (gh_policy_bin_ready(p, k))
            gh_tree_set_bounds(&p->bins[k], b);
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
    if (p->ops->binned)
        for (unsigned k = 0; k < GH_POLICY_BINS; k++)
            if (gh_policy_bin_ready(p, k) && p->bins[k].count)
                gh_tree_walk(&p->bins[k], walk_one, &w);
    gh_tree_walk(&p->tree, walk_one, &w);
}

bool gh_policy_contains(const struct gh_policy *p, const struct gh_block *b)
{
    /* The walk checks each link before it follows it (tree.c). */
    size_t size = gh_block_size(b);
    int k = gh_policy_bin_of(p, size);
    if (k >= 0 && !gh_policy_bin_ready(p, (unsigned)k))
        return false; /* a bin never used holds nothing */
    const struct gh_tree *t = k < 0 ? &p->tree : &p->bins[k];
    return gh_tree_contains(t, gh_policy_node((struct gh_block *)b), size);
}

size_t gh_policy_count(const struct gh_policy *p)
{
    size_t n = p->tree.count;
    if (p->ops->binned)
        for (unsigned k = 0; k < GH_POLICY_BINS; k++)
            n += gh_policy_bin_ready(p, k) ? p->bins[k].count : 0;
    return n;
}

size_t gh_policy_largest(const struct gh_policy *p)
{
    if (p->tree.count || !p->ops->binned)
        return gh_tree_max_size(&p->tree);
    for (unsigned w = GH_POLICY_BIN_WORDS; w-- > 0;)
        if (p->bin_map[w])
            return GH_MIN_BLOCK + (size_t)(w * 64u + 63u - (unsigned)__builtin_clzll(p->bin_map[w])) * GH_ALIGN;
    return 0;
}

/* ---- the bins --------------------------------------------------------- */

static inline void bin_added(struct gh_policy *p, int k, struct gh_block *b)
{
    if (p->bins[k].count == 1) {
        p->bin_map[k / 64] |= 1ull << (k % 64);
        p->bin_words |= 1ull << (k / 64);
        p->bin_low[k] = b;
    } else if (p->bin_low[k] && b < p->bin_low[k]) {
        p->bin_low[k] = b;
    }
}

static inline void bin_removed(struct gh_policy *p, int k, const struct gh_block *b)
{
    if (p->bins[k].count == 0) {
        p->bin_map[k / 64] &= ~(1ull << (k % 64));
        if (!p->bin_map[k / 64])
            p->bin_words &= ~(1ull << (k / 64));
        p->bin_low[k] = NULL;
    } else if (p->bin_low[k] == b) {
        p->bin_low[k] = NULL; /* the next lowest: found when asked for */
    }
}

struct gh_block *gh_policy_bin_lowest(struct gh_policy *p, unsigned k)
{
    if (!p->bin_low[k]) /* one walk down the left of a tree of one size */
        p->bin_low[k] = gh_policy_block(gh_tree_best_fit(&p->bins[k], 0));
    return p->bin_low[k];
}

/* ---- index operations shared by all four fit policies ----------------- */

void gh_policy_tree_insert(struct gh_policy *p, struct gh_block *b)
{
    size_t size = gh_block_size(b);
    int k = gh_policy_bin_of(p, size);
    if (k < 0) {
        gh_tree_insert(&p->tree, gh_policy_node(b));
        return;
    }
    gh_tree_insert(gh_policy_bin(p, (unsigned)k), gh_policy_node(b));
    bin_added(p, k, b);
}

void gh_policy_tree_remove(struct gh_policy *p, struct gh_block *b)
{
    size_t size = gh_block_size(b);
    int k = gh_policy_bin_of(p, size);
    if (k < 0) {
        gh_tree_remove(&p->tree, gh_policy_node(b));
        return;
    }
    gh_tree_remove(gh_policy_bin(p, (unsigned)k), gh_policy_node(b));
    bin_removed(p, k, b);
}

void gh_policy_tree_move(struct gh_policy *p, struct gh_block *old, size_t old_size, struct gh_block *nb)
{
    int ko = gh_policy_bin_of(p, old_size), kn = gh_policy_bin_of(p, gh_block_size(nb));
    if (ko < 0 && kn < 0) {
        if (!gh_tree_move(&p->tree, gh_policy_node(old), old_size, gh_policy_node(nb))) {
            gh_tree_remove_sized(&p->tree, gh_policy_node(old), old_size);
            gh_tree_insert(&p->tree, gh_policy_node(nb));
        }
        return;
    }
    /* into, out of or between bins: out of one tree, into another */
    if (ko < 0) {
        gh_tree_remove_sized(&p->tree, gh_policy_node(old), old_size);
    } else {
        gh_tree_remove_sized(gh_policy_bin(p, (unsigned)ko), gh_policy_node(old), old_size);
        bin_removed(p, ko, old);
    }
    gh_policy_tree_insert(p, nb);
}

bool gh_policy_trees_sound(const struct gh_policy *p, const char **why)
{
    if (!gh_tree_check(&p->tree, why))
        return false;
    if (p->ops->binned)
        for (unsigned k = 0; k < GH_POLICY_BINS; k++)
            if (gh_policy_bin_ready(p, k) && !gh_tree_check(&p->bins[k], why))
                return false;
    return true;
}

bool gh_policy_tree_check(const struct gh_policy *p, const char **why)
{
    if (!gh_policy_trees_sound(p, why))
        return false;
    if (!p->ops->binned)
        return true;
    for (unsigned w = 0; w < GH_POLICY_BIN_WORDS; w++)
        if (((p->bin_words >> w) & 1u) != (p->bin_map[w] != 0)) {
            *why = "the summary of the size bins' words disagrees with the bins";
            return false;
        }
    for (unsigned k = 0; k < GH_POLICY_BINS; k++) {
        if (!gh_policy_bin_ready(p, k)) {
            if (gh_policy_bin_used(p, k)) {
                *why = "a size bin that was never used says it holds blocks";
                return false;
            }
            continue;
        }
        const struct gh_tree *t = &p->bins[k];
        const struct gh_tnode *low = gh_tree_best_fit(t, 0);
        if (gh_policy_bin_used(p, k) != (t->count != 0) || (low && gh_tnode_size(low) != GH_MIN_BLOCK + k * GH_ALIGN)
            || (low && gh_tree_max_size(t) != gh_tnode_size(low))) {
            *why = "a size bin holds a block of another size, or its bit disagrees";
            return false;
        }
        if (p->bin_low[k] && p->bin_low[k] != gh_policy_block((struct gh_tnode *)low)) {
            *why = "a size bin's lowest block is not the lowest free block of its size";
            return false;
        }
    }
    return true;
}
