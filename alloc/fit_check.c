/* fit_check.c - the fit discipline's checker (gh_fit_check): walks every
 * region of a fit heap and holds it to the invariants of heap.h - headers
 * pass their check, sizes tile each region, footers equal headers,
 * PREV_FREE agrees with the block before, no two free blocks touch, the
 * index holds exactly the free blocks, the counters match.  Never changes
 * the heap; a corrupt heap is a finding (why, where), never a crash: the
 * index's links are checked by gh_tree_check before anything follows them.
 */
#include "fit.h"

#include <string.h>

struct check_ctx {
    const struct gh_heap *h;
    const char *why;
    const void *where;
    uint64_t live_req, live_bytes, live_blocks, free_bytes, free_blocks, heap_bytes, regions;
    uint64_t hist[64];
};

static bool fail(struct check_ctx *c, const char *why, const void *where)
{
    c->why = why;
    c->where = where;
    return false;
}

static bool check_region(void *cv, const struct gh_region *r)
{
    struct check_ctx *c = cv;
    if (r->len % GH_ALIGN || r->len < GH_REGION_OVERHEAD + GH_MIN_BLOCK)
        return fail(c, "region length is not a whole number of blocks", r);
    c->regions++;
    c->heap_bytes += r->len;
    const struct gh_block *m = gh_fit_marker(r);
    const struct gh_block *b = gh_fit_first(r);
    bool prev_free = false;
    while (b != m) {
        if (b > m)
            return fail(c, "block runs past the end of its region", b);
        if (!gh_block_valid(b))
            return fail(c, "block header fails its check", b);
        size_t size = gh_block_size(b);
        if (size < GH_MIN_BLOCK || size % GH_ALIGN || (b->size_flags & GH_FLAG_MMAPPED))
            return fail(c, "block size is not a valid block size", b);
        if ((const char *)b + size > (const char *)m)
            return fail(c, "block runs past the end of its region", b);
        if (gh_block_prev_free(b) != prev_free)
            return fail(c, "PREV_FREE flag disagrees with the previous block", b);
        if (gh_block_is_free(b)) {
            if (prev_free)
                return fail(c, "two adjacent free blocks", b);
            if (*gh_block_footer(b) != b->size_flags)
                return fail(c, "free block footer differs from its header", b);
            if (!gh_policy_contains(&c->h->policy, b))
                return fail(c, "free block missing from the index", b);
            c->free_blocks++;
            c->free_bytes += size;
            c->hist[gh_size_class(size)]++;
        } else {
            if (gh_block_requested(b) > size - GH_HEADER_SIZE)
                return fail(c, "requested size larger than the block", b);
            c->live_blocks++;
            c->live_bytes += size;
            c->live_req += gh_block_requested(b);
        }
        prev_free = gh_block_is_free(b);
        b = (const struct gh_block *)((const char *)b + size);
    }
    if (!gh_block_valid(m) || gh_block_size(m) != 0 || gh_block_is_free(m))
        return fail(c, "region end marker is damaged", m);
    if (gh_block_prev_free(m) != prev_free)
        return fail(c, "PREV_FREE flag disagrees with the previous block", m);
    return true;
}

bool gh_fit_check(const struct gh_heap *h, const char **why, const void **where)
{
    struct check_ctx c = { .h = h };
    const char *twhy = NULL;
    bool ok = true;
    if (!gh_policy_trees_sound(&h->policy, &twhy)) {
        c.why = twhy;
        ok = false;
    } else {
        /* the heap against the trees first: a block missing from the
         * index, or one too many, is named by the walk */
        gh_region_walk(h, check_region, &c);
        if (c.why)
            ok = false;
        else if (!h->policy.ops->check(&h->policy, &twhy))
            ok = !!fail(&c, twhy, NULL);
        else if (c.free_blocks != gh_policy_count(&h->policy))
            ok = !!fail(&c, "the index holds blocks that are not free blocks of the heap", NULL);
        else if (c.live_req != h->c->live_requested || c.live_bytes != h->c->live_block_bytes
                 || c.live_blocks != h->c->live_blocks)
            ok = !!fail(&c, "live counters disagree with the blocks", NULL);
        else if (c.free_bytes != h->c->free_bytes)
            ok = !!fail(&c, "free_bytes counter disagrees with the blocks", NULL);
        else if (memcmp(c.hist, h->c->free_hist, sizeof c.hist) != 0)
            ok = !!fail(&c, "free-block size histogram disagrees with the blocks", NULL);
        else if (c.heap_bytes != h->c->heap_bytes
                 || c.regions * GH_REGION_OVERHEAD != h->c->overhead_bytes)
            ok = !!fail(&c, "heap_bytes counter disagrees with the regions", NULL);
    }
    if (!ok) {
        if (why)
            *why = c.why;
        if (where)
            *where = c.where;
    }
    return ok;
}

