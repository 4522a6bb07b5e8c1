/* heap.c - one heap instance: the dispatcher over its discipline.
 *
 * Owns: setting a heap up from a line of the policy table, the per-process
 * header secret, naming the API call under way for the fatal lines of the
 * layers below (h->bounds.fn), and the debug checker (GH_CHECKS) after
 * every operation that changes a heap, whatever its discipline.  Everything else is the
 * discipline's (fit.c, buddy.c; discipline.h) or the regions' (region.c).
 * Never: parses the environment, takes a lock, calls the OS (not even
 * through the source), or knows which discipline it runs.
 */
#include "heap.h"

#include <string.h>

#include "error.h"

uint64_t gh_block_secret;
/* What gh_block_set_secret(0) makes: distinct words until the secret is
 * set (the core's tests run with a zero secret). */
uint64_t gh_block_flag_key[16] = {
    0xe220a8397b1dcdafULL, 0x6e789e6aa1b965f4ULL, 0x06c45d188009454fULL, 0xf88bb8a8724c81ecULL,
    0x1b39896a51a8749bULL, 0x53cb9f0c747ea2eaULL, 0x2c829abe1f4532e1ULL, 0xc584133ac916ab3cULL,
    0x3ee5789041c98ac3ULL, 0xf3b8488c368cb0a6ULL, 0x657eecdd3cb13d09ULL, 0xc2d326e0055bdef6ULL,
    0x8621a03fe0bbdb7bULL, 0x8e1f7555983aa92fULL, 0xb54e0f1600cc4d19ULL, 0x84bb3f97971d80abULL,
};

void gh_block_set_secret(uint64_t secret)
{
    gh_block_secret = secret;
    for (unsigned f = 0; f < 16; f++) {
        uint64_t x = secret + 0x9e3779b97f4a7c15ULL * (f + 1); /* splitmix64 of the secret's f-th step */
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        gh_block_flag_key[f] = x ^ (x >> 31);
    }
}

/* The tree reads a block's size through the same mask as block.h. */
_Static_assert(GH_TNODE_SIZE_MASK == GH_SIZE_MASK, "tree.h and block.h disagree on the size word");

#ifdef GH_CHECKS
static void debug_check(const struct gh_heap *h, const char *fn)
{
    const char *why;
    const void *where;
    if (!gh_heap_check(h, &why, &where))
        gh_fatal(fn, why, where);
}
#else
#define debug_check(h, fn) ((void)0)
#endif

/* An empty heap running `policy`'s discipline; h's bytes are zero already
 * when `zeroed` (then none is written that stays zero: heap.h). */
static void setup(struct gh_heap *h, struct gh_source *src, const struct gh_policy_ops *policy,
                  size_t largest_request, bool zeroed)
{
    if (!zeroed)
        memset(h, 0, sizeof *h);
    h->entry = policy;
    h->d = policy->discipline;
    h->src = src;
    h->c = &h->own;
    gh_tree_init(&h->regions, GH_TREE_BY_ADDR);
    gh_tree_set_bounds(&h->regions, &h->bounds);
    h->d->init(h, largest_request);
}

void gh_heap_init(struct gh_heap *h, struct gh_source *src, const struct gh_policy_ops *policy)
{
    setup(h, src, policy, 0, false);
}

static bool init_named(struct gh_heap *h, struct gh_source *src, const char *policy, size_t largest_request,
                       bool zeroed)
{
    const struct gh_policy_ops *entry = gh_policy_by_name(policy);
    if (!entry)
        return false;
    setup(h, src, entry, largest_request, zeroed);
    return true;
}

bool gh_heap_init_named(struct gh_heap *h, struct gh_source *src, const char *policy, size_t largest_request)
{
    return init_named(h, src, policy, largest_request, false);
}

bool gh_heap_init_named_zeroed(struct gh_heap *h, struct gh_source *src, const char *policy, size_t largest_request)
{
    return init_named(h, src, policy, largest_request, true);
}

bool gh_heap_policy_exists(const char *name)
{
    return gh_policy_by_name(name) != NULL;
}

bool gh_heap_can_hold(const struct gh_heap *h, size_t align, size_t n)
{
    return h->d->can_hold(h, align, n);
}

void gh_heap_describe(const struct gh_heap *h, struct gh_heap_desc *d)
{
    memset(d, 0, sizeof *d);
    d->policy = gh_heap_policy_name(h);
    d->regions = h->regions.count;
    h->d->describe(h, d);
}

const char *gh_heap_policy_name(const struct gh_heap *h)
{
    return h->entry->name;
}

/* The call whose name a fatal line of the tree or a discipline carries. */
static inline void call(struct gh_heap *h, const char *fn)
{
    h->bounds.fn = fn;
}

void *gh_heap_alloc(struct gh_heap *h, size_t n)
{
    call(h, "malloc");
    void *p = h->d->alloc(h, GH_ALIGN, n);
    debug_check(h, "malloc");
    return p;
}

void *gh_heap_alloc_aligned(struct gh_heap *h, size_t align, size_t n)
{
    if (align <= GH_ALIGN)
        return gh_heap_alloc(h, n);
    call(h, "memalign");
    void *p = h->d->alloc(h, align, n);
    debug_check(h, "memalign");
    return p;
}

void gh_heap_free(struct gh_heap *h, void *p, const char *fn)
{
    call(h, fn);
    h->d->free(h, p, fn);
    debug_check(h, fn);
}

bool gh_heap_resize(struct gh_heap *h, void *p, size_t n, const char *fn)
{
    call(h, fn);
    bool done = h->d->resize(h, p, n, fn);
    debug_check(h, fn);
    return done;
}

struct gh_block *gh_heap_block(struct gh_heap *h, const void *p, const char *fn, bool freeing)
{
    call(h, fn);
    return h->d->block(h, p, fn, freeing);
}

size_t gh_heap_usable(const struct gh_heap *h, const void *p)
{
    return h->d->usable(h, p);
}

bool gh_heap_owns(const struct gh_heap *h, const void *p)
{
    return h->d->owns(h, p);
}

size_t gh_heap_trim(struct gh_heap *h, size_t pad)
{
    call(h, "malloc_trim");
    size_t given = h->d->trim(h, pad);
    debug_check(h, "malloc_trim");
    return given;
}

void gh_heap_walk(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_block_info *b), void *ctx)
{
    h->d->walk(h, fn, ctx);
}

size_t gh_heap_largest_free(const struct gh_heap *h)
{
    return h->d->largest_free(h);
}

size_t gh_heap_free_blocks(const struct gh_heap *h)
{
    return h->d->free_blocks(h);
}

bool gh_heap_check(const struct gh_heap *h, const char **why, const void **where)
{
    const char *twhy = NULL;
    if (!gh_tree_check(&h->regions, &twhy)) {
        if (why)
            *why = twhy;
        if (where)
            *where = NULL;
        return false;
    }
    return h->d->check(h, why, where);
}
