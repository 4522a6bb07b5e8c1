/* region.c - the regions of a heap (see region.h): the region tree, growing
 * and extending from the source, shrinking the top, releasing mapped
 * regions, and walking regions and their blocks.
 *
 * Owns: struct gh_region, the region tree, the region counters and the
 * heap's link bounds (h->bounds: the span from the lowest region to the end
 * of the highest, and the region tree as the cover once there are two),
 * which every index link of the heap is checked against (tree.h).  Never:
 * reads or writes a block header (the disciplines do), calls the OS other
 * than through the source.
 */
#include "heap.h"

#include "error.h"

/* Recompute h->bounds from the region tree: O(log r), on every change of
 * the regions (none on the allocation path but growing); and count the
 * change (region_changes). */
static void update_bounds(struct gh_heap *h)
{
    h->c->region_changes++;
    struct gh_tree_bounds *b = &h->bounds;
    const struct gh_tnode *lo = h->regions.root, *hi = h->regions.root;
    if (!lo) {
        b->lo = b->hi = 0;
        b->cover = NULL;
        gh_tree_bounds_changed(b);
        return;
    }
    while (lo->left)
        lo = lo->left;
    while (hi->right)
        hi = hi->right;
    b->lo = (uintptr_t)gh_region_of_node(lo);
    b->hi = (uintptr_t)gh_region_end(gh_region_of_node(hi));
    b->cover = h->regions.count > 1 ? &h->regions : NULL;
    gh_tree_bounds_changed(b);
}

struct gh_region *gh_region_containing(const struct gh_heap *h, const void *p)
{
    struct gh_region *r = gh_region_of_node(gh_tree_floor(&h->regions, p));
    if (r && (const char *)p < gh_region_end(r))
        return r;
    return NULL;
}

bool gh_region_owns(const struct gh_heap *h, const void *p)
{
    struct gh_region *r = gh_region_containing(h, p);
    return r && (const char *)p >= gh_region_start(r) + GH_HEADER_SIZE;
}

bool gh_region_take(struct gh_heap *h, size_t len, struct gh_span *span)
{
    char *end = h->top ? gh_region_end(h->top) : NULL;
    return gh_source_grow(h->src, end, len, span) == 0;
}

bool gh_region_continues_top(const struct gh_heap *h, const struct gh_span *span)
{
    return h->top && span->base == gh_region_end(h->top) && !span->mapped;
}

static void note_peak(struct gh_heap *h)
{
    if (h->c->heap_bytes > h->c->peak_heap_bytes)
        h->c->peak_heap_bytes = h->c->heap_bytes;
}

void gh_region_extend(struct gh_heap *h, struct gh_region *r, size_t len)
{
    r->len += len;
    gh_tree_resized(&h->regions, &r->node);
    update_bounds(h);
    h->c->heap_bytes += len;
    h->c->regions_extended++;
    note_peak(h);
}

/* Write the record of a region over span and put it in the tree. */
static struct gh_region *insert_record(struct gh_heap *h, const struct gh_span *span)
{
    struct gh_region *r = (struct gh_region *)span->base;
    r->len = span->len;
    r->mapped = span->mapped;
    r->reserved = 0;
    /* The new node must be inside the bounds before the tree links to it. */
    uintptr_t lo = (uintptr_t)span->base, hi = lo + span->len;
    if (h->bounds.hi == 0 || lo < h->bounds.lo)
        h->bounds.lo = lo;
    if (hi > h->bounds.hi)
        h->bounds.hi = hi;
    gh_tree_bounds_changed(&h->bounds);
    gh_tree_insert(&h->regions, &r->node);
    update_bounds(h);
    h->c->heap_bytes += span->len;
    return r;
}

struct gh_region *gh_region_add(struct gh_heap *h, const struct gh_span *span, size_t overhead)
{
    struct gh_region *r = insert_record(h, span);
    h->c->overhead_bytes += overhead;
    h->c->regions_added++;
    if (!span->mapped)
        h->top = r;
    note_peak(h);
    return r;
}

void gh_region_keep_orphan(struct gh_heap *h, const struct gh_span *span)
{
    insert_record(h, span);
    h->c->overhead_bytes += span->len;
    h->top = NULL;
}

bool gh_region_shrink(struct gh_heap *h, struct gh_region *r, size_t len)
{
    if (gh_source_shrink(h->src, gh_region_end(r), len) != 0)
        return false;
    r->len -= len;
    gh_tree_resized(&h->regions, &r->node);
    update_bounds(h);
    h->c->heap_bytes -= len;
    h->c->trims++;
    h->c->trimmed_bytes += len;
    return true;
}

size_t gh_region_release(struct gh_heap *h, struct gh_region *r, size_t overhead)
{
    gh_tree_remove(&h->regions, &r->node);
    update_bounds(h);
    struct gh_span span = { (char *)r, r->len, true };
    h->c->heap_bytes -= span.len;
    h->c->overhead_bytes -= overhead;
    h->c->regions_released++;
    if (h->top == r)
        h->top = NULL;
    gh_source_release(h->src, &span);
    return span.len;
}

struct walk_ctx {
    bool (*fn)(void *, const struct gh_region *);
    void *ctx;
};

static bool walk_one(void *c, struct gh_tnode *n)
{
    struct walk_ctx *w = c;
    return w->fn(w->ctx, gh_region_of_node(n));
}

void gh_region_walk(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_region *r), void *ctx)
{
    struct walk_ctx w = { fn, ctx };
    gh_tree_walk(&h->regions, walk_one, &w);
}

bool gh_region_walk_blocks(const struct gh_region *r, const char *first, const char *end, const char *fn,
                           bool (*fn_block)(void *ctx, const struct gh_block_info *b), void *ctx)
{
    for (const char *a = first; a < end;) {
        const struct gh_block *b = (const struct gh_block *)a;
        /* Read what we need before calling fn: it may free the block. */
        struct gh_block_info bi = {
            .addr = b,
            .size = gh_block_size(b),
            .requested = gh_block_is_free(b) ? 0 : gh_block_requested(b),
            .free = gh_block_is_free(b),
            .region = r,
        };
        if (bi.size == 0 && gh_block_valid(b))
            break;
        /* A size read from an unchecked header would walk out of the region. */
        if (!gh_block_valid(b) || bi.size < GH_ALIGN || bi.size > (size_t)(end - a))
            gh_fatal(fn, GH_MSG_HEADER, gh_block_payload((struct gh_block *)b));
        if (!fn_block(ctx, &bi))
            return false;
        a += bi.size;
    }
    return true;
}
