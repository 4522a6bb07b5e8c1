/* fit.c - the fit discipline: boundary-tag blocks (block.h) in regions,
 * placed by a policy's free-block index (policy.h).
 *
 * Owns: split, coalesce, the end markers, growing and trimming the fit
 * regions' blocks, in-place resize, decommitting large free blocks (the
 * checker is fit_check.c; the hints that find freed aligned blocks again:
 * fit_aligned.c).  Never: chooses a free block (the policy does), keeps
 * the region tree (region.c), or calls the OS except through the source.
 *
 * Every free block is in the policy's index and nowhere else; every change
 * to a free block goes index_remove -> rewrite -> index_insert, so the
 * index never holds a stale size.  free_bytes is kept by those two
 * functions, live_* by carve() and fit_free().
 *
 * Nothing a program can overwrite is trusted before it is checked (block.h):
 * the block a call names (lookup), its neighbours before a merge (next_of,
 * prev_of: the footer is bounds-checked before it is followed), the block
 * the index hands out (indexed_ok: header, footer, next's PREV_FREE), and
 * every header before it is rewritten.  The index's links are checked by
 * tree.c.  Each failure is one of error.h's lines.
 */
#include "fit.h"

#include <string.h>

#include "error.h"
#include "fit_aligned.h"

/* ---- regions --------------------------------------------------------- */

/* Write the size-0 in-use header that closes a region. */
static void set_marker(struct gh_block *m, bool prev_free)
{
    gh_block_set(m, prev_free ? GH_FLAG_PREV_FREE : 0, 0);
}

/* ---- checks ---------------------------------------------------------- */

/* The block after b (verified, in use): its header verified, its PREV_FREE
 * clear, its footer equal to its header when it is free.  Fatal, naming p,
 * otherwise. */
static struct gh_block *next_of(struct gh_block *b, const char *fn, const void *p)
{
    struct gh_block *next = gh_block_next(b);
    if (!gh_block_valid(next) || gh_block_prev_free(next)
        || (gh_block_is_free(next) && *gh_block_footer(next) != next->size_flags))
        gh_fatal(fn, GH_MSG_NEIGHBOUR, p);
    return next;
}

/* The free block before x (verified, PREV_FREE set), through the footer in
 * front of x: the footer's size is bounds-checked (at least a minimum block,
 * inside x's region) before it is followed, and the block found must carry
 * a verified free header equal to the footer.  Fatal (what, at) otherwise. */
static inline struct gh_block *prev_checked(const struct gh_heap *h, const struct gh_block *x, const char *fn,
                                            const char *what, const void *at, bool cover)
{
    uint64_t foot = ((const uint64_t *)x)[-1];
    size_t psize = (size_t)(foot & GH_SIZE_MASK);
    struct gh_block *prev = (struct gh_block *)((char *)x - psize);
    if (psize < GH_MIN_BLOCK || psize > (uintptr_t)x - h->bounds.lo - GH_REGION_HEADER
        || (cover && !gh_tree_covers(h->bounds.cover, prev, psize + GH_HEADER_SIZE))
        || prev->size_flags != foot || !gh_block_valid(prev) || !gh_block_is_free(prev)
        || gh_block_prev_free(prev))
        gh_fatal(fn, what, at);
    return prev;
}

/* A heap of several regions: the footer's block must lie in one of them. */
__attribute__((noinline)) static struct gh_block *prev_of_regions(const struct gh_heap *h, const struct gh_block *x,
                                                                  const char *fn, const char *what, const void *at)
{
    return prev_checked(h, x, fn, what, at, true);
}

static struct gh_block *prev_of(const struct gh_heap *h, const struct gh_block *x, const char *fn,
                                const char *what, const void *at)
{
    if (__builtin_expect(h->bounds.cover != NULL, 0))
        return prev_of_regions(h, x, fn, what, at); /* no call on the common path */
    return prev_checked(h, x, fn, what, at, false);
}

/* b came out of the index for a block of `size` bytes: it must be the free
 * block the index says - verified header with FREE alone, big enough,
 * inside the heap, footer equal to its header, the next block marked
 * PREV_FREE.  A stale header from a merged-away block fails the last two. */
static void indexed_ok(const struct gh_heap *h, struct gh_block *b, size_t size)
{
#ifdef GH_UNCHECKED /* the benchmarks' unchecked library (block.h) */
    (void)h, (void)b, (void)size;
    return;
#endif
    size_t have = gh_block_size(b);
    if (!gh_block_valid(b) || (b->size_flags & GH_FLAG_MASK) != GH_FLAG_FREE || have < size
        || !gh_heap_in_regions(h, b, have + GH_HEADER_SIZE) || *gh_block_footer(b) != b->size_flags
        || !gh_block_prev_free(gh_block_next(b)))
        gh_fatal(gh_heap_call(h), GH_MSG_FREE_LIST, gh_block_payload(b));
}

/* Set or clear x's PREV_FREE flag; x verified (or fatal: `at`'s neighbour). */
static void set_prev_free(struct gh_block *x, bool on, const char *fn, const void *at)
{
    if (!gh_block_valid(x))
        gh_fatal(fn, GH_MSG_NEIGHBOUR, at);
    gh_block_set_flags(x, on ? GH_FLAG_PREV_FREE : 0, on ? 0 : GH_FLAG_PREV_FREE);
}

/* ---- the index and the counters -------------------------------------- */

static void index_insert(struct gh_heap *h, struct gh_block *b)
{
    h->policy.ops->insert(&h->policy, b);
    h->c->free_bytes += gh_block_size(b);
    h->c->free_hist[gh_size_class(gh_block_size(b))]++;
}

static void index_remove(struct gh_heap *h, struct gh_block *b)
{
    h->policy.ops->remove(&h->policy, b);
    h->c->free_bytes -= gh_block_size(b);
    h->c->free_hist[gh_size_class(gh_block_size(b))]--;
}

/* free block `old` (indexed with old_size) becomes free block nb, which
 * sorts where old did (see gh_policy_ops.move). */
static void index_move(struct gh_heap *h, struct gh_block *old, size_t old_size, struct gh_block *nb)
{
    h->policy.ops->move(&h->policy, old, old_size, nb);
    h->c->free_bytes += gh_block_size(nb);
    h->c->free_bytes -= old_size;
    h->c->free_hist[gh_size_class(old_size)]--;
    h->c->free_hist[gh_size_class(gh_block_size(nb))]++;
}

/* Write [b, b+size) as one free block: header (its requested field `mark`:
 * GH_FREED_BY_CALL or 0) and footer.  The block before b must not be free;
 * the caller sets the next block's PREV_FREE.  Does not index it. */
static void write_free(struct gh_block *b, size_t size, size_t mark)
{
    gh_block_set(b, (uint64_t)size | GH_FLAG_FREE, mark);
    *(uint64_t *)((char *)b + size - GH_FOOTER_SIZE) = b->size_flags; /* gh_block_set_footer, size known */
}

/* write_free (never handed out: mark 0) and index it. */
static void make_free(struct gh_heap *h, struct gh_block *b, size_t size)
{
    write_free(b, size, 0);
    index_insert(h, b);
}

static inline void note_peaks(struct gh_heap *h)
{
    if (h->c->live_requested > h->c->peak_requested)
        h->c->peak_requested = h->c->live_requested;
    if (h->c->live_block_bytes > h->c->peak_block_bytes)
        h->c->peak_block_bytes = h->c->live_block_bytes;
}

/* b is a free block, size(b) >= size, in the index when `indexed`.  Use
 * its first `size` bytes for a live block holding `requested` bytes; the
 * tail stays free (taking b's place in the index) when it is at least a
 * minimum block, otherwise it stays in the block (internal fragmentation,
 * counted). */
static void carve(struct gh_heap *h, struct gh_block *b, size_t size, size_t requested, bool indexed)
{
    size_t have = gh_block_size(b);
    uint64_t keep = b->size_flags & GH_FLAG_PREV_FREE;
    if (have - size >= GH_MIN_BLOCK) {
        struct gh_block *rest = (struct gh_block *)((char *)b + size);
        /* rest's successor already has PREV_FREE set (b was free). */
        write_free(rest, have - size, 0);
        if (indexed)
            index_move(h, b, have, rest);
        else
            index_insert(h, rest);
    } else {
        size = have;
        if (indexed)
            index_remove(h, b);
        set_prev_free(gh_block_next(b), false, gh_heap_call(h), gh_block_payload(b));
    }
    gh_block_set(b, (uint64_t)size | keep, requested);
    h->c->live_requested += requested;
    h->c->live_block_bytes += size;
    h->c->live_blocks++;
    note_peaks(h);
}

/* ---- growing --------------------------------------------------------- */

/* Extend region r in place by the span just after it. */
static void extend_region(struct gh_heap *h, struct gh_region *r, size_t len)
{
    struct gh_block *old_marker = gh_fit_marker(r);
    if (!gh_block_valid(old_marker) || gh_block_size(old_marker) != 0)
        gh_fatal(gh_heap_call(h), GH_MSG_HEADER, gh_block_payload(old_marker));
    struct gh_block *prev = NULL;
    if (gh_block_prev_free(old_marker))
        prev = prev_of(h, old_marker, gh_heap_call(h), GH_MSG_FREE_LIST, gh_block_payload(old_marker));
    gh_region_extend(h, r, len);
    set_marker(gh_fit_marker(r), true);
    if (prev) {
        /* The free block at the top grows in place. */
        size_t old_size = gh_block_size(prev);
        write_free(prev, old_size + len, gh_block_requested(prev));
        index_move(h, prev, old_size, prev);
    } else {
        make_free(h, old_marker, len);
    }
}

/* Start a new region over a fresh span (the top unless mapped). */
static struct gh_region *new_region(struct gh_heap *h, const struct gh_span *span)
{
    struct gh_region *r = gh_region_add(h, span, GH_REGION_OVERHEAD);
    set_marker(gh_fit_marker(r), true);
    make_free(h, gh_fit_first(r), span->len - GH_REGION_OVERHEAD);
    return r;
}

/* grow_exact over an arena (which always continues the top): the bytes
 * that make the top's free block (or, with none, the old end marker) a free
 * block of `need` bytes; 0 when that does not apply. */
static size_t exact_len(const struct gh_heap *h, size_t need)
{
    if (!h->grow_exact || !h->top || h->src->kind != GH_SOURCE_ARENA)
        return 0;
    struct gh_block *m = gh_fit_marker(h->top);
    if (!gh_block_valid(m))
        gh_fatal(gh_heap_call(h), GH_MSG_HEADER, gh_block_payload(m));
    size_t have = gh_block_prev_free(m)
        ? gh_block_size(prev_of(h, m, gh_heap_call(h), GH_MSG_FREE_LIST, gh_block_payload(m))) : 0;
    size_t len = need > have ? need - have : 0;
    /* With no free block at the top the extension is a free block of its
     * own: at least a minimum block (an in-place resize may lack less). */
    return have == 0 && len && len < GH_MIN_BLOCK ? GH_MIN_BLOCK : len;
}

/* Get memory for a free block of at least `need` bytes.  false: ENOMEM. */
static bool grow(struct gh_heap *h, size_t need)
{
    size_t len = exact_len(h, need);
    struct gh_span span;
    if (len) {
        if (!gh_region_take(h, len, &span))
            return false;
        extend_region(h, h->top, span.len);
        return true;
    }
    if (__builtin_add_overflow(need, GH_REGION_OVERHEAD + h->top_pad, &len))
        return false;
    size_t ps = gh_source_page(h->src);
    if (ps > GH_ALIGN && !gh_round_up(len, ps, &len))
        return false;
    if (!gh_region_take(h, len, &span)) {
        /* Without the pad the request may still fit. */
        len = need + GH_REGION_OVERHEAD;
        if (h->top_pad == 0 || !gh_region_take(h, len, &span))
            return false;
    }
    if (h->c->trims > h->trims_at_last_grow && h->trim_adaptive
        && h->trim_threshold < GH_MAX_TRIM_THRESHOLD) {
        /* Growing again after giving memory back: the program cycles
         * through a working set larger than the threshold.  Raise it so
         * the next cycle keeps its memory instead of faulting it in anew. */
        h->trim_threshold *= 2;
    }
    h->trims_at_last_grow = h->c->trims;
    if (gh_region_continues_top(h, &span))
        extend_region(h, h->top, span.len);
    else
        new_region(h, &span);
    return true;
}

/* Find a free block of `size` bytes through the policy, growing once.
 * The block stays in the index. */
static struct gh_block *find_or_grow(struct gh_heap *h, size_t size)
{
    struct gh_block *b = h->policy.ops->find(&h->policy, size);
    if (!b && grow(h, size))
        b = h->policy.ops->find(&h->policy, size);
    /* A program that wrote past its block may have hit this free block: stop
     * here rather than carve with a forged size. */
    if (b)
        indexed_ok(h, b, size);
    return b;
}

/* ---- public operations ----------------------------------------------- */

static void fit_init(struct gh_heap *h, size_t largest_request)
{
    (void)largest_request; /* any request up to GH_MAX_REQUEST */
    gh_policy_init(&h->policy, h->entry);
    gh_policy_set_bounds(&h->policy, &h->bounds); /* its links checked (tree.h) */
    h->top_pad = GH_DEFAULT_TOP_PAD;
    h->trim_threshold = GH_DEFAULT_TRIM_THRESHOLD;
    h->trim_adaptive = true;
}

static bool fit_can_hold(const struct gh_heap *h, size_t align, size_t n)
{
    (void)h;
    (void)align; /* the slack comes from the same unbounded regions */
    return n <= GH_MAX_REQUEST;
}

static void fit_describe(const struct gh_heap *h, struct gh_heap_desc *d)
{
    (void)h;
    d->min_block = GH_MIN_BLOCK;
}

static void *fit_alloc_plain(struct gh_heap *h, size_t n)
{
    size_t size = gh_block_size_for(n);
    struct gh_block *b = size ? find_or_grow(h, size) : NULL;
    if (!b) {
        h->c->failures++;
        return NULL;
    }
    carve(h, b, size, n, /* indexed */ true);
    h->c->allocs++;
    return gh_block_payload(b);
}

static void *fit_alloc(struct gh_heap *h, size_t align, size_t n)
{
    if (align <= GH_ALIGN)
        return fit_alloc_plain(h, n);
    size_t size = gh_block_size_for(n), need;
    if (!size || __builtin_add_overflow(size, align + GH_MIN_BLOCK, &need)) {
        h->c->failures++;
        return NULL;
    }
    /* A freed aligned block's place first (fit_aligned.c), then the policy
     * with room for the worst slack. */
    uintptr_t p;
    struct gh_block *b = gh_fit_hint_find(h, align, size, &p);
    if (!b) {
        b = find_or_grow(h, need);
        if (!b) {
            h->c->failures++;
            return NULL;
        }
        p = ((uintptr_t)gh_block_payload(b) + align - 1) & ~(uintptr_t)(align - 1);
    }
    size_t gap = p - GH_HEADER_SIZE - (uintptr_t)b;
    while (gap != 0 && gap < GH_MIN_BLOCK) {
        p += align;
        gap += align;
    }
    bool indexed = true;
    if (gap) {
        /* The front stays a free block of its own (b's predecessor is in
         * use, b being free); the aligned rest is carved out of the index. */
        size_t total = gh_block_size(b);
        struct gh_block *nb = (struct gh_block *)(p - GH_HEADER_SIZE);
        write_free(b, gap, gh_block_requested(b));
        index_move(h, b, total, b);
        gh_block_set(nb, (uint64_t)(total - gap) | GH_FLAG_FREE | GH_FLAG_PREV_FREE, 0);
        b = nb;
        indexed = false;
    }
    carve(h, b, size, n, indexed);
    h->c->allocs++;
    gh_fit_hint_made(h, (char *)p, size);
    return (void *)p;
}

/* p is inside a region of h but its header fails the check: is p a block
 * whose header was overwritten, or a pointer into the middle of one?  Walk
 * the region from its first block (only on the way to abort()). */
__attribute__((noreturn, cold, noinline)) static void unknown(const struct gh_heap *h, const void *p,
                                                              const char *fn)
{
    const struct gh_region *r = gh_region_containing(h, p);
    if (!r)
        gh_fatal(fn, GH_MSG_INVALID, p);
    const char *a = (const char *)gh_fit_first(r), *end = (const char *)gh_fit_marker(r);
    while (a < end) {
        const struct gh_block *x = (const struct gh_block *)a;
        size_t size = gh_block_size(x);
        if (!gh_block_valid(x) || size < GH_MIN_BLOCK || size > (size_t)(end - a))
            gh_fatal(fn, GH_MSG_HEADER, gh_block_payload((struct gh_block *)x));
        if ((const char *)p < a + size)
            gh_fatal(fn, GH_MSG_INTERIOR, p);
        a += size;
    }
    gh_fatal(fn, GH_MSG_INTERIOR, p); /* in the end marker */
}

/* The block of payload p (inside a region of h), verified and in use;
 * fatal otherwise, with the words for what p is.  `freeing`: a free() (a
 * block already freed is a double free, not just a freed block). */
static struct gh_block *lookup(const struct gh_heap *h, const void *p, const char *fn, bool freeing)
{
    if ((uintptr_t)p & (GH_ALIGN - 1))
        gh_fatal(fn, GH_MSG_INTERIOR, p);
    struct gh_block *b = gh_block_of(p);
    if (!gh_block_valid(b)) {
        if (gh_block_poisoned(b))
            gh_fatal(fn, freeing ? GH_MSG_DOUBLE_FREE : GH_MSG_FREED, p);
        unknown(h, p, fn);
    }
    size_t size = gh_block_size(b);
    if ((b->size_flags & (GH_FLAG_MMAPPED | GH_FLAG_INNER)) || size < GH_MIN_BLOCK)
        gh_fatal(fn, GH_MSG_HEADER, p);
    if (gh_block_is_free(b)) {
        if (gh_block_requested(b) != GH_FREED_BY_CALL)
            gh_fatal(fn, GH_MSG_INVALID, p); /* free space no call had */
        gh_fatal(fn, freeing ? GH_MSG_DOUBLE_FREE : GH_MSG_FREED, p);
    }
    if (gh_block_requested(b) > size - GH_HEADER_SIZE)
        gh_fatal(fn, GH_MSG_HEADER, p);
    return b;
}

static struct gh_block *fit_block(struct gh_heap *h, const void *p, const char *fn, bool freeing)
{
    return lookup(h, p, fn, freeing);
}

/* Give back the free tail of the top region beyond `pad` bytes. */
static size_t trim_top(struct gh_heap *h, size_t pad)
{
    struct gh_region *r = h->top;
    if (!r)
        return 0;
    struct gh_block *marker = gh_fit_marker(r);
    if (!gh_block_valid(marker))
        gh_fatal(gh_heap_call(h), GH_MSG_HEADER, gh_block_payload(marker));
    if (!gh_block_prev_free(marker))
        return 0;
    struct gh_block *last = prev_of(h, marker, gh_heap_call(h), GH_MSG_FREE_LIST, gh_block_payload(marker));
    size_t keep_min;
    if (__builtin_add_overflow(pad, GH_MIN_BLOCK + GH_HEADER_SIZE, &keep_min)
        || !gh_round_up(keep_min, GH_ALIGN, &keep_min))
        return 0;
    char *end = gh_region_end(r);
    if ((size_t)(end - (char *)last) <= keep_min)
        return 0;
    uintptr_t new_end = (uintptr_t)last + keep_min;
    size_t ps = gh_source_page(h->src);
    new_end = (new_end + ps - 1) & ~(uintptr_t)(ps - 1);
    if (new_end >= (uintptr_t)end)
        return 0;
    size_t release = (size_t)((uintptr_t)end - new_end);
    if (!gh_region_shrink(h, r, release))
        return 0;
    size_t old_size = gh_block_size(last);
    write_free(last, old_size - release, gh_block_requested(last));
    set_marker(gh_fit_marker(r), true);
    index_move(h, last, old_size, last);
    return release;
}

/* Unmap a mapped region whose only block is the free block b. */
static size_t release_region(struct gh_heap *h, struct gh_region *r, struct gh_block *b)
{
    index_remove(h, b);
    return gh_region_release(h, r, GH_REGION_OVERHEAD);
}

/* Is b (free) the whole of its region's block space?  Then its region.
 * The region comes from the region tree, never from bytes in front of b
 * (those may be a caller's data). */
static struct gh_region *sole_block_region(const struct gh_heap *h, struct gh_block *b)
{
    struct gh_region *r = gh_region_containing(h, b);
    if (r && gh_fit_first(r) == b && gh_block_next(b) == gh_fit_marker(r))
        return r;
    return NULL;
}

/* Free b (verified, in use; p its payload); returns the coalesced free
 * block.  Both neighbours are verified before anything is written. */
static struct gh_block *free_block(struct gh_heap *h, struct gh_block *b, const void *p, const char *fn)
{
    size_t size = gh_block_size(b);
    struct gh_block *next = next_of(b, fn, p);
    struct gh_block *prev = gh_block_prev_free(b) ? prev_of(h, b, fn, GH_MSG_NEIGHBOUR, p) : NULL;
    h->c->live_requested -= gh_block_requested(b);
    h->c->live_block_bytes -= size;
    h->c->live_blocks--;
    size_t next_size = gh_block_is_free(next) ? gh_block_size(next) : 0;
    if (!next_size) /* next verified by next_of */
        gh_block_set_flags(next, GH_FLAG_PREV_FREE, 0);
    if (prev) {
        /* Merge into the free block before: it keeps its address.  b's
         * header stays behind, poisoned: a second free of it still reads
         * as a double free. */
        gh_block_poison(b);
        size_t prev_size = gh_block_size(prev);
        if (next_size)
            index_remove(h, next);
        write_free(prev, prev_size + size + next_size, gh_block_requested(prev));
        index_move(h, prev, prev_size, prev);
        return prev;
    }
    write_free(b, size + next_size, GH_FREED_BY_CALL);
    if (next_size)
        index_move(h, next, next_size, b); /* b takes next's place */
    else
        index_insert(h, b);
    return b;
}

static void fit_free(struct gh_heap *h, void *p, const char *fn)
{
    struct gh_block *own = lookup(h, p, fn, /* freeing */ true), *next = gh_block_next(own);
    if (!gh_block_is_free(next)) /* read before the merge (free_block checks it) */
        next = NULL;
    struct gh_block *b = free_block(h, own, p, fn);
    h->c->frees++;
    if (h->hint_next) /* some aligned block was ever made */
        gh_fit_hint_freed(h, p, own, next, b);
    size_t size = gh_block_size(b);
    if (gh_block_size(gh_block_next(b)) == 0) {
        /* b is the last block of its region. */
        struct gh_region *r;
        if (h->top && gh_block_next(b) == gh_fit_marker(h->top)) {
            /* size >= trim_threshold + top_pad, without overflow
             * (mallopt takes either up to SIZE_MAX) */
            if (size >= h->trim_threshold && size - h->trim_threshold >= h->top_pad)
                trim_top(h, h->top_pad);
        } else if ((r = sole_block_region(h, b)) && r->mapped) {
            release_region(h, r, b);
        }
    }
}

static bool fit_resize(struct gh_heap *h, void *p, size_t n, const char *fn)
{
    struct gh_block *b = lookup(h, p, fn, /* freeing */ false);
    size_t want = gh_block_size_for(n);
    if (!want) {
        h->c->resize_refused++;
        return false;
    }
    size_t have = gh_block_size(b);
    struct gh_block *next = next_of(b, fn, p);
    if (want > have && gh_block_size(next) == 0 && h->top && next == gh_fit_marker(h->top)) {
        /* At the top: extend the region, then take from the new tail. */
        if (grow(h, want - have))
            next = next_of(b, fn, p);
    }
    size_t next_size = gh_block_is_free(next) ? gh_block_size(next) : 0;
    size_t total = have + next_size;
    if (want > total) {
        h->c->resize_refused++;
        return false;
    }
    size_t size = want;
    /* Growing, the new tail's header would land on next's index node:
     * take next out of the index first. */
    bool next_indexed = next_size != 0;
    if (next_indexed && want > have) {
        index_remove(h, next);
        next_indexed = false;
    }
    if (total - want >= GH_MIN_BLOCK && (next_size || have - want >= GH_MIN_BLOCK)) {
        /* The tail [b+want, b+total) is free: it takes next's place in the
         * index, or it is a new free block. */
        struct gh_block *tail = (struct gh_block *)((char *)b + want);
        write_free(tail, total - want, 0);
        if (!next_size) /* next verified by next_of */
            gh_block_set_flags(next, GH_FLAG_PREV_FREE, 0);
        if (next_indexed)
            index_move(h, next, next_size, tail);
        else
            index_insert(h, tail);
    } else if (next_size) {
        /* Take all of next (what is left would be below a minimum block). */
        if (next_indexed)
            index_remove(h, next);
        size = total;
        set_prev_free(gh_block_next_of_size(b, total), false, fn, p);
    } else {
        size = have; /* shrinking by less than a minimum block: keep it */
    }
    h->c->live_requested += n;
    h->c->live_requested -= gh_block_requested(b);
    h->c->live_block_bytes += size;
    h->c->live_block_bytes -= have;
    gh_block_set(b, (uint64_t)size | (b->size_flags & GH_FLAG_PREV_FREE), n);
    h->c->resize_in_place++;
    note_peaks(h);
    return true;
}

static size_t fit_usable(const struct gh_heap *h, const void *p)
{
    (void)h;
    return gh_block_size(gh_block_of(p)) - GH_HEADER_SIZE;
}

struct trim_ctx {
    struct gh_heap *h;
    struct gh_region *release[64];
    int nrelease;
};

static bool decommit_free(void *c, const struct gh_block_info *bi)
{
    struct trim_ctx *t = c;
    if (!bi->free)
        return true;
    if (bi->region->mapped && t->nrelease < 64
        && bi->size + GH_REGION_OVERHEAD == bi->region->len && bi->region != t->h->top) {
        t->release[t->nrelease++] = (struct gh_region *)bi->region;
        return true;
    }
    size_t ps = gh_source_page(t->h->src);
    /* Keep the header, index node and footer; drop the pages between. */
    uintptr_t lo = ((uintptr_t)bi->addr + GH_HEADER_SIZE + GH_NODE_SIZE + ps - 1) & ~(uintptr_t)(ps - 1);
    uintptr_t hi = ((uintptr_t)bi->addr + bi->size - GH_FOOTER_SIZE) & ~(uintptr_t)(ps - 1);
    if (hi > lo)
        gh_source_decommit(t->h->src, (void *)lo, hi - lo);
    return true;
}

static void fit_walk(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_block_info *b), void *ctx);

static size_t fit_trim(struct gh_heap *h, size_t pad)
{
    size_t given = trim_top(h, pad);
    struct trim_ctx t = { .h = h };
    fit_walk(h, decommit_free, &t);
    for (int i = 0; i < t.nrelease; i++)
        given += release_region(h, t.release[i], gh_fit_first(t.release[i]));
    return given;
}

struct walk_ctx {
    const char *call;
    bool (*fn)(void *, const struct gh_block_info *);
    void *ctx;
};

static bool walk_region(void *c, const struct gh_region *r)
{
    struct walk_ctx *w = c;
    return gh_region_walk_blocks(r, (const char *)gh_fit_first(r), (const char *)gh_fit_marker(r), w->call,
                                 w->fn, w->ctx);
}

static void fit_walk(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_block_info *b), void *ctx)
{
    struct walk_ctx w = { gh_heap_call(h), fn, ctx };
    gh_region_walk(h, walk_region, &w);
}

static size_t fit_largest_free(const struct gh_heap *h)
{
    return gh_policy_largest(&h->policy);
}

static size_t fit_free_blocks(const struct gh_heap *h)
{
    return gh_policy_count(&h->policy);
}

const struct gh_discipline gh_discipline_fit = {
    .init = fit_init,
    .alloc = fit_alloc,
    .free = fit_free,
    .resize = fit_resize,
    .block = fit_block,
    .usable = fit_usable,
    .owns = gh_region_owns,
    .trim = fit_trim,
    .walk = fit_walk,
    .check = gh_fit_check,
    .can_hold = fit_can_hold,
    .describe = fit_describe,
    .largest_free = fit_largest_free,
    .free_blocks = fit_free_blocks,
};
