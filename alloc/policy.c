/* policy.c - the policy table and what the fit policies share: the
 * address-ordered and the size-ordered index, and the exact-size bins.
 * Each policy's decision and index order live in its own file
 * (policy_first.c, policy_next.c, ...).
 *
 * first and next fit index by address (tree augmented with the largest size
 * below each node); best and worst fit index by (size, address).  First,
 * best and worst fit are .binned: a free block of one of the GH_POLICY_BINS
 * smallest sizes goes into its size's bin (a pairing heap by address,
 * pheap.h, its lowest at the root), any larger one into the tree.  A bin's
 * bit in bin_map says it has blocks (bin_words, which of its words have
 * some); first fit (.ranked) also keeps a tournament over the bins' roots
 * (bin_rank, rank_root), so the lowest block of the bins from k up is 9
 * steps.  So a small block is inserted in O(1), found at a root, and
 * removed touching only blocks of its own size, and the policies' choice
 * is still exactly their definition.
 */
#include "policy.h"

#include <string.h>

_Static_assert(1u << GH_POLICY_BIN_LEVELS == GH_POLICY_BINS, "GH_POLICY_BIN_LEVELS is log2 of the bins");

void gh_policy_init(struct gh_policy *p, const struct gh_policy_ops *ops)
{
    p->ops = ops;
    p->rover = NULL;
    memset(p->bin_map, 0, sizeof p->bin_map);
    p->bin_words = 0;
    memset(p->bin_ready, 0, sizeof p->bin_ready); /* the bins: on first use */
    if (ops->ranked)
        memset(p->bin_rank, 0, sizeof p->bin_rank);
    gh_tree_init(&p->tree, ops->order);
    p->bounds = p->tree.bounds;
}

void gh_policy_set_bounds(struct gh_policy *p, const struct gh_tree_bounds *b)
{
    gh_tree_set_bounds(&p->tree, b);
    p->bounds = b;
    for (unsigned k = 0; k < GH_POLICY_BINS; k++)
        if (gh_policy_bin_ready(p, k))
            gh_pheap_set_bounds(&p->bins[k], b);
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

static bool walk_bin_one(void *c, struct gh_pnode *n)
{
    struct walk_ctx *w = c;
    return w->fn(w->ctx, gh_block_of(n));
}

void gh_policy_walk(const struct gh_policy *p, bool (*fn)(void *ctx, struct gh_block *b), void *ctx)
{
    struct walk_ctx w = { fn, ctx };
    if (p->ops->binned)
        for (unsigned k = 0; k < GH_POLICY_BINS; k++)
            if (gh_policy_bin_ready(p, k) && p->bins[k].count)
                gh_pheap_walk(&p->bins[k], walk_bin_one, &w);
    gh_tree_walk(&p->tree, walk_one, &w);
}

bool gh_policy_contains(const struct gh_policy *p, const struct gh_block *b)
{
    /* The walk checks each link before it follows it (tree.c); a bin's
     * node is linked when its partner points back (pheap.c). */
    size_t size = gh_block_size(b);
    int k = gh_policy_bin_of(p, size);
    if (k < 0)
        return gh_tree_contains(&p->tree, gh_policy_node((struct gh_block *)b), size);
    if (!gh_policy_bin_ready(p, (unsigned)k))
        return false; /* a bin never used holds nothing */
    return gh_pheap_linked(&p->bins[k], gh_block_payload((struct gh_block *)b));
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
    int k = gh_policy_bin_top(p);
    return k < 0 ? 0 : GH_MIN_BLOCK + (size_t)k * GH_ALIGN;
}

/* ---- the bins --------------------------------------------------------- */

static inline struct gh_pnode *bin_node(struct gh_block *b)
{
    return (struct gh_pnode *)gh_block_payload(b);
}

/* Bin k's root changed: its leaf of the tournament, and every node above
 * it. */
static void rank_root(struct gh_policy *p, unsigned k)
{
    unsigned i = GH_POLICY_BINS + k;
    uintptr_t v = gh_policy_rank_of(p->bins[k].root);
    p->bin_rank[i] = v;
    /* All the way up, without a branch to mispredict: the value climbs in
     * a register, each level loads only the sibling. */
    for (unsigned l = 0; l < GH_POLICY_BIN_LEVELS; l++, i >>= 1) {
        uintptr_t sib = p->bin_rank[i ^ 1u];
        v = v > sib ? v : sib;
        p->bin_rank[i >> 1] = v;
    }
}

static inline void bin_insert(struct gh_policy *p, int k, struct gh_block *b)
{
    struct gh_pheap *h = gh_policy_bin(p, (unsigned)k);
    gh_pheap_insert(h, bin_node(b));
    if (p->ops->ranked && h->root == bin_node(b))
        rank_root(p, (unsigned)k);
    if (h->count == 1) {
        p->bin_map[k / 64] |= 1ull << (k % 64);
        p->bin_words |= 1ull << (k / 64);
    }
}

static inline void bin_remove(struct gh_policy *p, int k, struct gh_block *b)
{
    struct gh_pheap *h = gh_policy_bin(p, (unsigned)k);
    bool was_root = h->root == bin_node(b);
    gh_pheap_remove(h, bin_node(b));
    if (p->ops->ranked && was_root)
        rank_root(p, (unsigned)k);
    if (h->count == 0) {
        p->bin_map[k / 64] &= ~(1ull << (k % 64));
        if (!p->bin_map[k / 64])
            p->bin_words &= ~(1ull << (k / 64));
    }
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
    bin_insert(p, k, b);
}

void gh_policy_tree_remove(struct gh_policy *p, struct gh_block *b)
{
    size_t size = gh_block_size(b);
    int k = gh_policy_bin_of(p, size);
    if (k < 0) {
        gh_tree_remove(&p->tree, gh_policy_node(b));
        return;
    }
    bin_remove(p, k, b);
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
    /* into, out of or between bins: out of one, into another (a bin's
     * heap does not look at sizes) */
    if (ko < 0)
        gh_tree_remove_sized(&p->tree, gh_policy_node(old), old_size);
    else
        bin_remove(p, ko, old);
    gh_policy_tree_insert(p, nb);
}

bool gh_policy_trees_sound(const struct gh_policy *p, const char **why)
{
    if (!gh_tree_check(&p->tree, why))
        return false;
    if (p->ops->binned)
        for (unsigned k = 0; k < GH_POLICY_BINS; k++)
            if (gh_policy_bin_ready(p, k) && !gh_pheap_check(&p->bins[k], GH_MIN_BLOCK + k * GH_ALIGN, why))
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
        if (gh_policy_bin_used(p, k) != (p->bins[k].count != 0)) {
            *why = "a size bin's bit disagrees with what it holds";
            return false;
        }
    }
    if (p->ops->ranked)
        for (unsigned i = 2 * GH_POLICY_BINS; --i > 0;) {
            uintptr_t want;
            if (i >= GH_POLICY_BINS) {
                unsigned k = i - GH_POLICY_BINS;
                want = gh_policy_rank_of(gh_policy_bin_ready(p, k) ? p->bins[k].root : NULL);
            } else {
                uintptr_t a = p->bin_rank[2 * i], b = p->bin_rank[2 * i + 1];
                want = a > b ? a : b;
            }
            if (p->bin_rank[i] != want) {
                *why = "the bins' tournament disagrees with their lowest blocks";
                return false;
            }
        }
    return true;
}
