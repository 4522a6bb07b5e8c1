/* large.c - blocks with a mapping of their own.
 *
 * Owns: the mapping layout of a large block, the registry of live ones,
 * and the cache of freed mappings (its bounds, its fit rule, its packed
 * slots).  Never: places anything in the heap, decides whether a freed
 * mapping goes to the cache (front.c), or calls the OS except through the
 * mapper it is given (mapper.h).  Invariant: a record sits exactly
 * GH_LARGE_OVERHEAD bytes before its payload, the header's size word is the
 * bytes from header to mapping end with GH_FLAG_MMAPPED, and its check is
 * valid; the registry holds exactly the live large blocks; the cache's
 * counts are the mappings in its slots and their bytes.
 */
#include "large.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "os.h"

void gh_large_init(struct gh_large *l)
{
    memset(l, 0, sizeof *l);
    gh_tree_init(&l->tree, GH_TREE_BY_ADDR);
}

void *gh_large_setup(void *map_base, size_t len, void *payload, size_t n)
{
    char *base = map_base, *p = payload;
    struct gh_large_rec *r = gh_large_rec_of(p);
    r->map_len = len;
    r->map_base = (uint64_t)(uintptr_t)base;
    r->flags = 0;
    struct gh_block *b = gh_block_of(p);
    gh_block_set(b, (uint64_t)(base + len - (char *)b) | GH_FLAG_MMAPPED, n);
    return p;
}

/* ---- the cache ----------------------------------------------------------- */

/* A slot's word: the base's page number above LEN_BITS, the length in
 * 4 KiB units below (a page is a multiple of 4 KiB; a base must lie below
 * 2^(64 - LEN_BITS + 12), and a length below 2^(LEN_BITS + 12)). */
#define UNIT_SHIFT 12u
#define LEN_BITS   20u

static bool pack(const void *base, size_t len, uint64_t *w)
{
    uint64_t b = (uint64_t)(uintptr_t)base >> UNIT_SHIFT, l = (uint64_t)len >> UNIT_SHIFT;
    if (b >> (64u - LEN_BITS) || l >> LEN_BITS || l == 0)
        return false;
    *w = b << LEN_BITS | l;
    return true;
}

static void *word_base(uint64_t w)
{
    return (void *)(uintptr_t)((w >> LEN_BITS) << UNIT_SHIFT);
}

static size_t word_len(uint64_t w)
{
    return (size_t)(w & (((uint64_t)1 << LEN_BITS) - 1)) << UNIT_SHIFT;
}

static void counted_out(struct gh_large_cache *c, uint64_t w)
{
    __atomic_sub_fetch(&c->blocks, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&c->bytes, word_len(w), __ATOMIC_RELAXED);
}

void gh_large_cache_put(struct gh_large_cache *c, void *base, size_t len, void **unmap, size_t *unmap_len)
{
    uint64_t w;
    *unmap = base;
    *unmap_len = len;
    if (len > GH_LARGE_CACHE_BYTES || !pack(base, len, &w))
        return;
    uint64_t bytes = __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < GH_LARGE_CACHE_SLOTS && bytes + len <= GH_LARGE_CACHE_BYTES; i++) {
        uint64_t empty = 0;
        if (__atomic_compare_exchange_n(&c->slot[i], &empty, w, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_add_fetch(&c->blocks, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&c->bytes, len, __ATOMIC_RELAXED);
            *unmap = NULL;
            *unmap_len = 0;
            return;
        }
    }
    /* Full (or over the byte bound): the oldest makes room, if that is
     * enough; the slots are taken in turn, so the one next is the oldest. */
    unsigned i = (unsigned)(c->next++ % GH_LARGE_CACHE_SLOTS);
    uint64_t old = __atomic_load_n(&c->slot[i], __ATOMIC_RELAXED);
    if (bytes - word_len(old) + len > GH_LARGE_CACHE_BYTES) /* word_len(0) is 0 */
        return;
    old = __atomic_exchange_n(&c->slot[i], w, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&c->blocks, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&c->bytes, len, __ATOMIC_RELAXED);
    if (old) {
        counted_out(c, old);
        *unmap = word_base(old);
        *unmap_len = word_len(old);
    } else {
        *unmap = NULL;
        *unmap_len = 0;
    }
}

bool gh_large_cache_take(struct gh_large_cache *c, size_t need, void **base, size_t *len)
{
    if (__atomic_load_n(&c->blocks, __ATOMIC_RELAXED) == 0)
        return false;
    for (;;) {
        /* The smallest that fits: need <= len <= need + need / 3. */
        unsigned best = GH_LARGE_CACHE_SLOTS;
        uint64_t bw = 0;
        for (unsigned i = 0; i < GH_LARGE_CACHE_SLOTS; i++) {
            uint64_t w = __atomic_load_n(&c->slot[i], __ATOMIC_ACQUIRE);
            size_t l = word_len(w);
            if (w && l >= need && l - need <= need / 3 && (!bw || l < word_len(bw))) {
                best = i;
                bw = w;
            }
        }
        if (best == GH_LARGE_CACHE_SLOTS)
            return false;
        /* Another thread may have taken it first: look again. */
        if (__atomic_compare_exchange_n(&c->slot[best], &bw, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            counted_out(c, bw);
            __atomic_add_fetch(&c->reused, 1, __ATOMIC_RELAXED);
            *base = word_base(bw);
            *len = word_len(bw);
            return true;
        }
    }
}

size_t gh_large_cache_drain(struct gh_large_cache *c, const struct gh_mapper *mp)
{
    size_t given = 0;
    for (unsigned i = 0; i < GH_LARGE_CACHE_SLOTS; i++) {
        uint64_t w = __atomic_exchange_n(&c->slot[i], 0, __ATOMIC_ACQ_REL);
        if (!w)
            continue;
        counted_out(c, w);
        mp->unmap(mp->ctx, word_base(w), word_len(w));
        given += word_len(w);
    }
    return given;
}

/* ---- blocks ----------------------------------------------------------------- */

void *gh_large_map(const struct gh_mapper *mp, size_t align, size_t n)
{
    return gh_large_map_cached(mp, NULL, align, n);
}

void *gh_large_map_cached(const struct gh_mapper *mp, struct gh_large_cache *c, size_t align, size_t n)
{
    size_t ps = gh_os_page_size();
    if (align < GH_ALIGN)
        align = GH_ALIGN;
    size_t want, len;
    /* Room for the record and header in front, and for alignment slack. */
    if (n > GH_MAX_REQUEST || __builtin_add_overflow(n, GH_LARGE_OVERHEAD, &want))
        return NULL;
    size_t slack = align > GH_ALIGN ? align : 0;
    if (__builtin_add_overflow(want, slack, &len) || !gh_round_up(len, ps, &len))
        return NULL;
    void *m;
    size_t got;
    bool recycled = c && gh_large_cache_take(c, len, &m, &got);
    if (recycled)
        len = got;
    else if (mp->map(mp->ctx, len, &m) != 0)
        return NULL;
    char *base = m;
    char *p = (char *)(((uintptr_t)base + GH_LARGE_OVERHEAD + align - 1) & ~(uintptr_t)(align - 1));
    if (slack) {
        /* Give back the whole pages in front of the record and after the end. */
        char *front = (char *)((uintptr_t)(p - GH_LARGE_OVERHEAD) & ~(uintptr_t)(ps - 1));
        char *end = (char *)(((uintptr_t)p + n + ps - 1) & ~(uintptr_t)(ps - 1));
        if (front > base) {
            mp->unmap(mp->ctx, base, (size_t)(front - base));
            len -= (size_t)(front - base);
            base = front;
        }
        if (end < base + len) {
            mp->unmap(mp->ctx, end, (size_t)(base + len - end));
            len = (size_t)(end - base);
        }
    }
    gh_large_setup(base, len, p, n);
    if (recycled)
        gh_large_rec_of(p)->flags |= GH_LARGE_RECYCLED;
    return p;
}

void gh_large_register(struct gh_large *l, void *p)
{
    struct gh_large_rec *r = gh_large_rec_of(p);
    gh_tree_insert(&l->tree, &r->node);
    l->changes++;
    l->live_blocks++;
    l->live_bytes += r->map_len;
    l->live_requested += gh_large_requested(p);
    if (l->live_bytes > l->peak_bytes)
        l->peak_bytes = l->live_bytes;
    if (l->live_blocks > l->peak_blocks)
        l->peak_blocks = l->live_blocks;
}

/* The live record with the highest address at or below p, or NULL: its
 * mapping is the only one that can hold p (mappings do not overlap). */
static struct gh_large_rec *floor_rec(const struct gh_large *l, const void *p)
{
    struct gh_tnode *n = gh_tree_floor(&l->tree, p);
    return n ? gh_large_rec_of_node(n) : NULL;
}

struct gh_large_rec *gh_large_find(const struct gh_large *l, const void *p)
{
    struct gh_large_rec *r = floor_rec(l, p);
    return r && gh_large_payload(r) == p ? r : NULL;
}

void gh_large_unregister(struct gh_large *l, struct gh_large_rec *r, const void *p, const char *fn,
                         void **base, size_t *len)
{
    const struct gh_block *b = gh_block_of(p);
    if (!gh_block_valid(b) || !(b->size_flags & GH_FLAG_MMAPPED)
        || (uintptr_t)b + gh_block_size(b) != r->map_base + r->map_len)
        gh_fatal(fn, "corrupted header of block", p);
    gh_tree_remove(&l->tree, &r->node);
    l->changes++;
    l->live_blocks--;
    l->live_bytes -= r->map_len;
    l->live_requested -= gh_large_requested(p);
    l->recent_free[l->recent_next++ % 16] = p;
    *base = (void *)(uintptr_t)r->map_base;
    *len = r->map_len;
}

bool gh_large_inside(const struct gh_large *l, const void *p)
{
    const struct gh_large_rec *r = floor_rec(l, p); /* its words only compared, never followed */
    return r && (uintptr_t)p - r->map_base < r->map_len && gh_large_payload(r) != p;
}

bool gh_large_recently_freed(const struct gh_large *l, const void *p)
{
    for (int i = 0; i < 16; i++)
        if (l->recent_free[i] == p)
            return true;
    return false;
}

void gh_large_unmap(const struct gh_mapper *mp, void *base, size_t len)
{
    mp->unmap(mp->ctx, base, len);
}

void *gh_large_remap(const struct gh_mapper *mp, void *p, size_t n)
{
    struct gh_large_rec *r = gh_large_rec_of(p);
    char *base = (char *)(uintptr_t)r->map_base;
    size_t off = (size_t)((char *)p - base);
    size_t ps = gh_os_page_size();
    size_t len;
    if (n > GH_MAX_REQUEST || __builtin_add_overflow(n, off, &len) || !gh_round_up(len, ps, &len))
        return NULL;
    void *m;
    if (mp->remap(mp->ctx, base, r->map_len, len, &m) != 0)
        return NULL;
    return gh_large_setup(m, len, (char *)m + off, n);
}
