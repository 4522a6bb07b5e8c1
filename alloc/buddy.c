/* buddy.c - the buddy discipline (gh_discipline_buddy) and its line of the
 * policy table (gh_policy_buddy); see buddy.h for the buddy relation.
 *
 * Owns: power-of-two blocks, the per-order free lists and their bitmap,
 * splitting, merging, which chunks are taken from and given back to the
 * source (region.c keeps the regions).  The checker is buddy_check.c; the
 * layout both share, buddy_layout.h.  Never:
 * touches the fit policies' index, calls the OS except through the source.
 *
 * Invariants (gh_buddy_check, run by gh_heap_check): every block is 2^k bytes, k in
 * [GH_BUDDY_MIN_ORDER, max_order], at an offset from its region's first
 * chunk that is a multiple of 2^k; the blocks tile every chunk; every free
 * block is on the list of its order and nowhere else; bit k of `nonempty` is
 * set exactly when list k is not empty; no free block below max_order has a
 * free buddy of the same order (they would have merged).
 *
 * Nothing a program can overwrite is used unchecked: a list link is in the
 * heap, aligned and points back (next->prev == node, prev->next == node)
 * before a node is unlinked; a block taken off a list is a verified free
 * header of that order; the block a call names is verified (lookup), and
 * so are the block just after it (where an overflow lands) and each buddy
 * before a merge.  Each failure is one of error.h's lines.
 */
#include "buddy.h"
#include "buddy_layout.h"

#include <string.h>

#include "error.h"
#include "heap.h"

/* Buddy's largest block when sized from the largest request: at least
 * 1 MiB so the break grows in large steps. */
#define BUDDY_MIN_CHUNK_ORDER 20u
#define BUDDY_MAX_CHUNK_ORDER 40u

/* ---- free lists ------------------------------------------------------ */

/* The requested field of a proxy header (no block can hold that much): a
 * block behind a proxy carries GH_FLAG_INNER in its own header too, with
 * its real requested size. */
#define PROXY_MARK ((size_t)GH_REQ_MASK)

static inline struct gh_buddy_node *node_of(struct gh_block *b)
{
    return (struct gh_buddy_node *)gh_block_payload(b);
}

/* May a list of h hold a node at n (not NULL): 16-aligned, its block's
 * header and the node inside a region? */
static inline bool node_ok(const struct gh_heap *h, const struct gh_buddy_node *n)
{
    return ((uintptr_t)n & (GH_ALIGN - 1)) == 0
        && gh_heap_in_regions(h, (const char *)n - GH_HEADER_SIZE, GH_HEADER_SIZE + sizeof *n);
}

__attribute__((noreturn, cold, noinline)) static void bad_list(const struct gh_heap *h, const void *at)
{
    gh_fatal(gh_heap_call(h), GH_MSG_FREE_LIST, at);
}

/* Put b on list k as a free block; `mark` is its requested field
 * (GH_FREED_BY_CALL when a free() of b made it, else 0). */
static void push(struct gh_heap *h, struct gh_block *b, unsigned k, size_t mark)
{
    struct gh_buddy *bd = &h->buddy;
    gh_block_set(b, (uint64_t)osize(k) | GH_FLAG_FREE, mark);
    struct gh_buddy_node *n = node_of(b);
    struct gh_buddy_node *head = bd->lists[k];
    if (head && head->prev != NULL)
        bad_list(h, head);
    n->prev = NULL;
    n->next = head;
    if (head)
        head->prev = n;
    bd->lists[k] = n;
    bd->nonempty |= (uint64_t)1 << k;
    bd->count[k]++;
    h->c->free_bytes += osize(k);
    h->c->free_hist[k]++;
}

/* Take free block b (verified, order k) off its list: both links checked
 * first, so a forged node cannot turn the unlink into a write anywhere. */
static void unlink_free(struct gh_heap *h, struct gh_block *b, unsigned k)
{
    struct gh_buddy *bd = &h->buddy;
    struct gh_buddy_node *n = node_of(b);
    if ((n->next && (!node_ok(h, n->next) || n->next->prev != n))
        || (n->prev ? !node_ok(h, n->prev) || n->prev->next != n : bd->lists[k] != n))
        bad_list(h, n);
    if (n->prev)
        n->prev->next = n->next;
    else
        bd->lists[k] = n->next;
    if (n->next)
        n->next->prev = n->prev;
    if (!bd->lists[k])
        bd->nonempty &= ~((uint64_t)1 << k);
    bd->count[k]--;
    h->c->free_bytes -= osize(k);
    h->c->free_hist[k]--;
}

/* Undo unlink_free(h, b, k): b's node still holds its old neighbours,
 * which are unchanged since, so b goes back exactly where it was. */
static void relink(struct gh_heap *h, struct gh_block *b, unsigned k)
{
    struct gh_buddy *bd = &h->buddy;
    struct gh_buddy_node *n = node_of(b);
    if (n->prev)
        n->prev->next = n;
    else
        bd->lists[k] = n;
    if (n->next)
        n->next->prev = n;
    bd->nonempty |= (uint64_t)1 << k;
    bd->count[k]++;
    h->c->free_bytes += osize(k);
    h->c->free_hist[k]++;
}

/* Is b (verified or not) the free block of order k a list says it is? */
static inline bool free_of_order(const struct gh_block *b, unsigned k)
{
    return gh_block_valid(b) && (b->size_flags & GH_FLAG_MASK) == GH_FLAG_FREE && gh_block_size(b) == osize(k);
}

static struct gh_block *pop(struct gh_heap *h, unsigned k)
{
    struct gh_block *b = gh_block_of(h->buddy.lists[k]);
    if (!free_of_order(b, k))
        bad_list(h, gh_block_payload(b));
    unlink_free(h, b, k);
    return b;
}

/* ---- chunks from the source ------------------------------------------ */

/* One more chunk: extend the top region in place, or start a region. */
static bool grow(struct gh_heap *h)
{
    unsigned m = h->buddy.max_order;
    size_t chunk = osize(m);
    struct gh_span span;
    if (!gh_region_take(h, h->top ? chunk : GH_REGION_HEADER + chunk, &span))
        return false;
    if (gh_region_continues_top(h, &span)) {
        struct gh_region *top = h->top;
        struct gh_block *b = (struct gh_block *)gh_region_end(top);
        gh_region_extend(h, top, chunk);
        push(h, b, m, 0);
        return true;
    }
    if (span.len < GH_REGION_HEADER + chunk) {
        /* The break moved under us and the span is too short for a
         * region: keep it as a chunkless region (counted as overhead)
         * and ask for a whole new region. */
        gh_region_keep_orphan(h, &span);
        if (!gh_region_take(h, GH_REGION_HEADER + chunk, &span))
            return false;
    }
    struct gh_region *r = gh_region_add(h, &span, span.len - chunk);
    push(h, (struct gh_block *)chunk0(r), m, 0);
    return true;
}

/* ---- allocation ------------------------------------------------------ */

unsigned gh_buddy_order_for(const struct gh_heap *h, size_t n)
{
    size_t total;
    if (n > GH_MAX_REQUEST || __builtin_add_overflow(n, GH_HEADER_SIZE, &total))
        return 0;
    unsigned k = GH_BUDDY_MIN_ORDER;
    while (k <= h->buddy.max_order && osize(k) < total)
        k++;
    return k <= h->buddy.max_order ? k : 0;
}

/* Where an aligned payload goes in block b: its own payload when that is
 * aligned, else the first aligned address leaving room for a proxy header. */
static char *aligned_payload(struct gh_block *b, size_t align)
{
    char *p = gh_block_payload(b);
    if (align > GH_ALIGN && ((uintptr_t)p & (align - 1)))
        p = (char *)(((uintptr_t)b + 2 * GH_HEADER_SIZE + align - 1) & ~(uintptr_t)(align - 1));
    return p;
}

/* An aligned request's order by its real slack: blocks of 2^k >= align
 * lie at chunk offsets that are multiples of align, so in the top region
 * they all put the payload at the same offset.  0 when that order is no
 * smaller than `worst` (the order with room for any slack) or there is no
 * region yet.  (The smaller order lets a block asked for again by its
 * usable size land where it was.) */
static unsigned exact_order(const struct gh_heap *h, size_t align, size_t n, unsigned worst)
{
    if (align <= GH_ALIGN || !h->top || n > GH_MAX_REQUEST)
        return 0;
    char *c = chunk0(h->top);
    size_t slack = (size_t)(aligned_payload((struct gh_block *)c, align) - c);
    size_t total = slack + n > align ? slack + n : align;
    unsigned k = gh_buddy_order_for(h, total - GH_HEADER_SIZE);
    return k && k < worst ? k : 0;
}

/* k when the free block buddy_alloc would split down to order k (the head
 * of the lowest non-empty list from k up) holds n bytes aligned to align
 * in its lowest 2^k bytes; 0 otherwise (no such block, or it lies in a
 * region whose chunks sit at another offset).  Changes nothing. */
static unsigned take_exact(struct gh_heap *h, size_t align, size_t n, unsigned k)
{
    uint64_t fits = h->buddy.nonempty & ~(((uint64_t)1 << k) - 1);
    if (!fits)
        return 0;
    struct gh_block *b = gh_block_of(h->buddy.lists[__builtin_ctzll(fits)]); /* what pop() will take */
    return aligned_payload(b, align) + n <= (char *)b + osize(k) ? k : 0;
}

static void *buddy_alloc(struct gh_heap *h, size_t align, size_t n)
{
    size_t need = n;
    if (align > GH_ALIGN && __builtin_add_overflow(n, align + GH_HEADER_SIZE, &need))
        need = SIZE_MAX;
    unsigned k = gh_buddy_order_for(h, need), ke = exact_order(h, align, n, k);
    if (ke && take_exact(h, align, n, ke))
        k = ke;
    if (!k) {
        h->c->failures++;
        return NULL;
    }
    uint64_t fits = h->buddy.nonempty & ~(((uint64_t)1 << k) - 1);
    if (!fits && grow(h))
        fits = h->buddy.nonempty & ~(((uint64_t)1 << k) - 1);
    if (!fits) {
        h->c->failures++;
        return NULL;
    }
    unsigned j = (unsigned)__builtin_ctzll(fits);
    struct gh_block *b = pop(h, j);
    while (j > k) {
        j--;
        push(h, (struct gh_block *)((char *)b + osize(j)), j, 0);
    }
    gh_block_set(b, (uint64_t)osize(k), n);
    h->c->live_requested += n;
    h->c->live_block_bytes += osize(k);
    h->c->live_blocks++;
    h->c->allocs++;
    if (h->c->live_requested > h->c->peak_requested)
        h->c->peak_requested = h->c->live_requested;
    if (h->c->live_block_bytes > h->c->peak_block_bytes)
        h->c->peak_block_bytes = h->c->live_block_bytes;
    char *p = aligned_payload(b, align);
    if (p != gh_block_payload(b)) {
        struct gh_block *proxy = gh_block_of(p);
        gh_block_set(proxy, (uint64_t)((char *)proxy - (char *)b) | GH_FLAG_INNER, PROXY_MARK);
        gh_block_set_flags(b, GH_FLAG_INNER, 0); /* its own payload position is not a pointer */
    }
    return p;
}

/* p is inside a region of h but its header fails the check: a block whose
 * header was overwritten, or a pointer into the middle of one?  Walk the
 * chunks' blocks (only on the way to abort()). */
__attribute__((noreturn, cold, noinline)) static void unknown(const struct gh_heap *h, const void *p,
                                                              const char *fn)
{
    const struct gh_region *r = region_of(h, p);
    if (!r)
        gh_fatal(fn, GH_MSG_INVALID, p);
    const char *a = chunk0(r), *end = chunks_end(h, r);
    if ((const char *)p < a + GH_HEADER_SIZE || (const char *)p >= end)
        gh_fatal(fn, GH_MSG_INVALID, p); /* in the record or a chunkless tail */
    while (a < end) {
        const struct gh_block *x = (const struct gh_block *)a;
        size_t size = gh_block_size(x);
        if (!gh_block_valid(x) || size < osize(GH_BUDDY_MIN_ORDER) || (size & (size - 1))
            || size > (size_t)(end - a))
            gh_fatal(fn, GH_MSG_HEADER, gh_block_payload((struct gh_block *)x));
        if ((const char *)p < a + size)
            gh_fatal(fn, GH_MSG_INTERIOR, p);
        a += size;
    }
    gh_fatal(fn, GH_MSG_INTERIOR, p);
}

/* The block of payload p (inside a region of h; a proxy header leads to
 * its block), verified and in use; fatal otherwise, with the words for what
 * p is.  `freeing`: a free() (a freed block is a double free). */
static struct gh_block *lookup(struct gh_heap *h, const void *p, const char *fn, bool freeing)
{
    if ((uintptr_t)p & (GH_ALIGN - 1))
        gh_fatal(fn, GH_MSG_INTERIOR, p);
    struct gh_block *b = gh_block_of(p);
    if (!gh_block_valid(b)) {
        if (gh_block_poisoned(b))
            gh_fatal(fn, freeing ? GH_MSG_DOUBLE_FREE : GH_MSG_FREED, p);
        unknown(h, p, fn);
    }
    if (b->size_flags & GH_FLAG_INNER) {
        /* A proxy leads to its block; a proxied block's own header means p
         * is the payload position no call was given. */
        if (gh_block_requested(b) != PROXY_MARK)
            gh_fatal(fn, GH_MSG_INVALID, p);
        b = (struct gh_block *)((char *)b - gh_block_size(b));
        if (!gh_heap_in_regions(h, b, GH_HEADER_SIZE) || !gh_block_valid(b)
            || (!gh_block_is_free(b) && !(b->size_flags & GH_FLAG_INNER)))
            gh_fatal(fn, GH_MSG_HEADER, p);
    }
    size_t size = gh_block_size(b);
    if ((b->size_flags & GH_FLAG_MMAPPED) || size < osize(GH_BUDDY_MIN_ORDER)
        || (size & (size - 1)) || size > osize(h->buddy.max_order))
        gh_fatal(fn, GH_MSG_HEADER, p);
    if (gh_block_is_free(b)) {
        if (gh_block_requested(b) != GH_FREED_BY_CALL || (char *)p != (char *)gh_block_payload(b))
            gh_fatal(fn, GH_MSG_INVALID, p); /* free space no call had */
        gh_fatal(fn, freeing ? GH_MSG_DOUBLE_FREE : GH_MSG_FREED, p);
    }
    if (gh_block_requested(b) > size - GH_HEADER_SIZE)
        gh_fatal(fn, GH_MSG_HEADER, p);
    return b;
}

static struct gh_block *buddy_block(struct gh_heap *h, const void *p, const char *fn, bool freeing)
{
    return lookup(h, p, fn, freeing);
}

static size_t buddy_usable(const struct gh_heap *h, const void *p)
{
    (void)h;
    const struct gh_block *b = gh_block_of(p);
    if (b->size_flags & GH_FLAG_INNER)
        b = (const struct gh_block *)((const char *)b - gh_block_size(b));
    return (size_t)((const char *)b + gh_block_size(b) - (const char *)p);
}

/* Release chunks at the top of the break while the last two are free,
 * keeping one free chunk as padding (or none when `all`). */
static size_t trim_top(struct gh_heap *h, bool all)
{
    struct gh_region *r = h->top;
    unsigned m = h->buddy.max_order;
    size_t chunk = osize(m), given = 0;
    while (r && nchunks(h, r) > 1) {
        struct gh_block *last = (struct gh_block *)(chunks_end(h, r) - chunk);
        struct gh_block *before = (struct gh_block *)((char *)last - chunk);
        if (!gh_block_is_free(last) || order_of(last) != m)
            break;
        if (!free_of_order(last, m))
            bad_list(h, gh_block_payload(last));
        if (!all && (!gh_block_is_free(before) || order_of(before) != m))
            break;
        if (gh_region_end(r) != chunks_end(h, r))
            break;
        /* Off its list while its node is still ours to read. */
        unlink_free(h, last, m);
        if (!gh_region_shrink(h, r, chunk)) {
            relink(h, last, m);
            break;
        }
        given += chunk;
    }
    return given;
}

/* Unmap a mapped region whose single chunk is the free block b. */
static size_t release(struct gh_heap *h, struct gh_region *r, struct gh_block *b)
{
    unlink_free(h, b, h->buddy.max_order);
    return gh_region_release(h, r, r->len - osize(h->buddy.max_order));
}

static void buddy_free(struct gh_heap *h, void *p, const char *fn)
{
    struct gh_block *b = lookup(h, p, fn, /* freeing */ true);
    unsigned k = order_of(b), m = h->buddy.max_order;
    struct gh_region *r = region_of(h, b);
    if (!r)
        gh_fatal(fn, GH_MSG_INVALID, p);
    char *base = chunk0(r);
    /* The block just after b is where an overflow of b lands: verified,
     * like each buddy below before it is merged. */
    struct gh_block *after = (struct gh_block *)((char *)b + osize(k));
    bool upper = ((size_t)((char *)b - base) & osize(k)) != 0; /* else after is the buddy */
    if ((upper || k == m) && (char *)after < chunks_end(h, r) && !gh_block_valid(after))
        gh_fatal(fn, GH_MSG_NEIGHBOUR, p);
    h->c->live_requested -= gh_block_requested(b);
    h->c->live_block_bytes -= osize(k);
    h->c->live_blocks--;
    h->c->frees++;
    /* An aligned payload's proxy header stays behind in the block: poisoned,
     * so a second free of p reads as a double free even once the block is
     * someone else's. */
    if ((char *)p != (char *)gh_block_payload(b))
        gh_block_poison(gh_block_of(p));
    struct gh_block *mine = b;
    while (k < m) {
        struct gh_block *bb = (struct gh_block *)(base + (((char *)b - base) ^ osize(k)));
        if (!gh_block_valid(bb))
            gh_fatal(fn, GH_MSG_NEIGHBOUR, p);
        if (!gh_block_is_free(bb) || gh_block_size(bb) != osize(k))
            break;
        unlink_free(h, bb, k);
        if (bb < b)
            b = bb;
        k++;
    }
    /* The merged block keeps the mark of the header it starts with; when
     * that is a lower buddy, b's header stays behind poisoned, so a second
     * free of it still reads as a double free. */
    if (b != mine)
        gh_block_poison(mine);
    push(h, b, k, b == mine ? GH_FREED_BY_CALL : gh_block_requested(b));
    if (k == m) {
        if (r->mapped && nchunks(h, r) == 1)
            release(h, r, b);
        else if (r == h->top)
            trim_top(h, false);
    }
}

static bool buddy_resize(struct gh_heap *h, void *p, size_t n, const char *fn)
{
    struct gh_block *b = lookup(h, p, fn, /* freeing */ false);
    if ((char *)p != (char *)gh_block_payload(b)) {
        h->c->resize_refused++;
        return false; /* aligned payloads do not move their proxy */
    }
    unsigned k = order_of(b), want = gh_buddy_order_for(h, n);
    if (!want) {
        h->c->resize_refused++;
        return false;
    }
    struct gh_region *r = region_of(h, b);
    char *base = chunk0(r);
    if (want > k) {
        /* Grow by absorbing upper buddies: b must be the lower half at every
         * order on the way, and each upper buddy whole and free. */
        for (unsigned j = k; j < want; j++) {
            size_t off = (size_t)((char *)b - base);
            struct gh_block *up = (struct gh_block *)((char *)b + osize(j));
            if ((off & osize(j)) || !gh_block_is_free(up) || gh_block_size(up) != osize(j)) {
                h->c->resize_refused++;
                return false;
            }
            if (!free_of_order(up, j))
                gh_fatal(fn, GH_MSG_NEIGHBOUR, p);
        }
        for (unsigned j = k; j < want; j++)
            unlink_free(h, (struct gh_block *)((char *)b + osize(j)), j);
    } else {
        /* Shrink: hand back upper halves; their buddy (our lower half) is in
         * use, so they cannot merge. */
        for (unsigned j = k; j > want; j--)
            push(h, (struct gh_block *)((char *)b + osize(j - 1)), j - 1, 0);
    }
    h->c->live_requested += n - gh_block_requested(b);
    h->c->live_block_bytes += osize(want) - osize(k);
    gh_block_set(b, (uint64_t)osize(want), n);
    h->c->resize_in_place++;
    if (h->c->live_requested > h->c->peak_requested)
        h->c->peak_requested = h->c->live_requested;
    if (h->c->live_block_bytes > h->c->peak_block_bytes)
        h->c->peak_block_bytes = h->c->live_block_bytes;
    return true;
}

struct victim_ctx {
    const struct gh_heap *h;
    struct gh_region *found;
};

/* A mapped region whose single chunk is wholly free. */
static bool find_victim(void *cv, const struct gh_region *r)
{
    struct victim_ctx *v = cv;
    struct gh_block *first = (struct gh_block *)chunk0(r);
    if (r->mapped && nchunks(v->h, r) == 1 && free_of_order(first, v->h->buddy.max_order)) {
        v->found = (struct gh_region *)r;
        return false;
    }
    return true;
}

static size_t buddy_trim(struct gh_heap *h, size_t pad)
{
    (void)pad; /* the unit is a whole chunk: all free chunks at the top go */
    size_t given = trim_top(h, true);
    /* Wholly free mapped regions go back too. */
    for (;;) {
        struct victim_ctx v = { h, NULL };
        gh_region_walk(h, find_victim, &v);
        if (!v.found)
            break;
        given += release(h, v.found, (struct gh_block *)chunk0(v.found));
    }
    return given;
}

struct walk_ctx {
    const struct gh_heap *h;
    bool (*fn)(void *ctx, const struct gh_block_info *b);
    void *ctx;
};

static bool walk_region(void *cv, const struct gh_region *r)
{
    struct walk_ctx *w = cv;
    return gh_region_walk_blocks(r, chunk0(r), chunks_end(w->h, r), gh_heap_call(w->h), w->fn, w->ctx);
}

static void buddy_walk(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_block_info *b), void *ctx)
{
    struct walk_ctx w = { h, fn, ctx };
    gh_region_walk(h, walk_region, &w);
}

static size_t buddy_largest_free(const struct gh_heap *h)
{
    uint64_t ne = h->buddy.nonempty;
    return ne ? osize(63u - (unsigned)__builtin_clzll(ne)) : 0;
}

static size_t buddy_free_blocks(const struct gh_heap *h)
{
    size_t total = 0;
    for (unsigned k = 0; k < GH_BUDDY_ORDERS; k++)
        total += h->buddy.count[k];
    return total;
}

/* ---- the discipline -------------------------------------------------- */

static unsigned clamp_order(unsigned max_order)
{
    if (max_order < GH_BUDDY_MIN_ORDER + 1)
        return GH_BUDDY_MIN_ORDER + 1;
    if (max_order > GH_BUDDY_ORDERS - 1)
        return GH_BUDDY_ORDERS - 1;
    return max_order;
}

/* The smallest order >= BUDDY_MIN_CHUNK_ORDER whose block holds
 * largest_request and a header, capped at BUDDY_MAX_CHUNK_ORDER. */
static void buddy_init(struct gh_heap *h, size_t largest_request)
{
    unsigned max_order = BUDDY_MIN_CHUNK_ORDER;
    while (max_order < BUDDY_MAX_CHUNK_ORDER && ((size_t)1 << max_order) < largest_request + GH_HEADER_SIZE)
        max_order++;
    h->buddy.max_order = clamp_order(max_order);
}

void gh_heap_init_buddy(struct gh_heap *h, struct gh_source *src, unsigned max_order)
{
    gh_heap_init(h, src, &gh_policy_buddy);
    h->buddy.max_order = clamp_order(max_order);
}

static bool buddy_can_hold(const struct gh_heap *h, size_t align, size_t n)
{
    size_t need = n;
    if (align > GH_ALIGN && __builtin_add_overflow(n, align + GH_HEADER_SIZE, &need))
        return false;
    return gh_buddy_order_for(h, need) != 0;
}

static void buddy_describe(const struct gh_heap *h, struct gh_heap_desc *d)
{
    d->min_block = osize(GH_BUDDY_MIN_ORDER);
    d->max_order = h->buddy.max_order;
    for (unsigned k = 0; k < GH_HEAP_ORDERS && k < GH_BUDDY_ORDERS; k++)
        d->order_free[k] = h->buddy.count[k];
}

const struct gh_discipline gh_discipline_buddy = {
    .init = buddy_init,
    .alloc = buddy_alloc,
    .free = buddy_free,
    .resize = buddy_resize,
    .block = buddy_block,
    .usable = buddy_usable,
    .owns = gh_region_owns,
    .trim = buddy_trim,
    .walk = buddy_walk,
    .check = gh_buddy_check,
    .can_hold = buddy_can_hold,
    .describe = buddy_describe,
    .largest_free = buddy_largest_free,
    .free_blocks = buddy_free_blocks,
};

/* No fit index: the buddy discipline keeps its own free lists. */
const struct gh_policy_ops gh_policy_buddy = {
    .name = "buddy",
    .discipline = &gh_discipline_buddy,
};
