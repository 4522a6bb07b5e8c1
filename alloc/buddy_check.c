/* buddy_check.c - the buddy discipline's checker (gh_buddy_check): walks
 * every chunk of every region block by block and every free list link by
 * link, reading nothing a link points to before the link is bounds-checked,
 * and compares what it saw with the heap's counters.  Run by gh_heap_check.
 */
#include <stdint.h>

#include "buddy.h"
#include "buddy_layout.h"

static bool fail(const char **why, const void **where, const char *w, const void *at)
{
    if (why)
        *why = w;
    if (where)
        *where = at;
    return false;
}

struct check_ctx {
    const struct gh_heap *h;
    const char *why;
    const void *where;
    uint64_t per_order[GH_BUDDY_ORDERS];
    uint64_t live_req, live_bytes, live_blocks, free_bytes, heap, over;
};

static bool check_region(void *cv, const struct gh_region *r)
{
    struct check_ctx *c = cv;
    const struct gh_heap *h = c->h;
    unsigned m = h->buddy.max_order;
    c->heap += r->len;
    c->over += r->len - (nchunks(h, r) << m);
    const char *base = chunk0(r), *end = chunks_end(h, r);
    for (const char *a = base; a < end;) {
        const struct gh_block *b = (const struct gh_block *)a;
        if (!gh_block_valid(b))
            return fail(&c->why, &c->where, "block header fails its check", b);
        size_t size = gh_block_size(b);
        if (size < osize(GH_BUDDY_MIN_ORDER) || size > osize(m) || (size & (size - 1))
            || (b->size_flags & GH_FLAG_MMAPPED) || (gh_block_is_free(b) && (b->size_flags & GH_FLAG_INNER)))
            return fail(&c->why, &c->where, "buddy block size is not a power of two in range", b);
        size_t off = (size_t)(a - base);
        if (off & (size - 1))
            return fail(&c->why, &c->where, "buddy block is not aligned to its size", b);
        unsigned k = order_of(b);
        if (gh_block_is_free(b)) {
            c->per_order[k]++;
            c->free_bytes += size;
            if (k < m) {
                const struct gh_block *bb = (const struct gh_block *)(base + (off ^ size));
                if (gh_block_is_free(bb) && gh_block_size(bb) == size)
                    return fail(&c->why, &c->where, "two free buddies left unmerged", b);
            }
        } else {
            if (gh_block_requested(b) > size - GH_HEADER_SIZE)
                return fail(&c->why, &c->where, "requested size larger than the block", b);
            c->live_req += gh_block_requested(b);
            c->live_bytes += size;
            c->live_blocks++;
        }
        a += size;
    }
    return true;
}

bool gh_buddy_check(const struct gh_heap *h, const char **why, const void **where)
{
    struct check_ctx c = { .h = h };
    gh_region_walk(h, check_region, &c);
    if (c.why)
        return fail(why, where, c.why, c.where);
    const uint64_t *per_order = c.per_order;
    for (unsigned k = 0; k < GH_BUDDY_ORDERS; k++) {
        uint64_t seen = 0;
        const struct gh_buddy_node *prev = NULL;
        for (const struct gh_buddy_node *nd = h->buddy.lists[k]; nd; nd = nd->next) {
            const struct gh_block *b = gh_block_of(nd);
            /* Where the link points is checked before anything is read there. */
            const struct gh_region *r = region_of(h, b);
            if (!r || (const char *)b < chunk0(r) || (const char *)b >= chunks_end(h, r)
                || ((size_t)((const char *)b - chunk0(r)) & (osize(k) - 1)))
                return fail(why, where, "free list holds a block outside the heap", b);
            if (nd->prev != prev)
                return fail(why, where, "free list back link is wrong", b);
            if (!gh_block_valid(b) || !gh_block_is_free(b) || gh_block_size(b) != osize(k))
                return fail(why, where, "free list holds a block that is not a free block of its order", b);
            if (++seen > per_order[k])
                return fail(why, where, "free list holds a block twice (or a cycle)", b);
            prev = nd;
        }
        if (seen != per_order[k] || seen != h->buddy.count[k])
            return fail(why, where, "a free block is missing from its order's list", NULL);
        if (h->c->free_hist[k] != seen)
            return fail(why, where, "free-block size histogram disagrees with the blocks", NULL);
        if (((h->buddy.nonempty >> k) & 1) != (seen != 0))
            return fail(why, where, "order bitmap disagrees with the free lists", NULL);
    }
    if (c.live_req != h->c->live_requested || c.live_bytes != h->c->live_block_bytes
        || c.live_blocks != h->c->live_blocks)
        return fail(why, where, "live counters disagree with the blocks", NULL);
    if (c.free_bytes != h->c->free_bytes)
        return fail(why, where, "free_bytes counter disagrees with the blocks", NULL);
    if (c.heap != h->c->heap_bytes || c.over != h->c->overhead_bytes)
        return fail(why, where, "heap_bytes counter disagrees with the regions", NULL);
    return true;
}

