/* large.c - blocks with a mapping of their own.
 *
 * Owns: the mapping layout of a large block and the registry of live ones.
 * Never: places anything in the heap, or calls the OS except through the
 * mapper it is given (mapper.h).  Invariant: a record sits exactly
 * GH_LARGE_OVERHEAD bytes before its payload, the header's size word is the
 * bytes from header to mapping end with GH_FLAG_MMAPPED, and its check is
 * valid; the registry holds exactly the live large blocks.
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
    r->reserved = 0;
    struct gh_block *b = gh_block_of(p);
    gh_block_set(b, (uint64_t)(base + len - (char *)b) | GH_FLAG_MMAPPED, n);
    return p;
}

void *gh_large_map(const struct gh_mapper *mp, size_t align, size_t n)
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
    if (mp->map(mp->ctx, len, &m) != 0)
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
    return gh_large_setup(base, len, p, n);
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

struct gh_large_rec *gh_large_find(const struct gh_large *l, const void *p)
{
    struct gh_tnode *n = gh_tree_floor(&l->tree, p);
    if (!n)
        return NULL;
    struct gh_large_rec *r = gh_large_rec_of_node(n);
    return gh_large_payload(r) == p ? r : NULL;
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
