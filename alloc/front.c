/* front.c - the front end's decisions (front.h).
 *
 * Owns: the split between the heap and the large-block path (the mmap
 * threshold and its dynamic rule, what a heap cannot hold), which freed
 * mappings the cache keeps (large.c keeps them), the realloc rule (in
 * place, remap, or move), the large-block registry of one process, and the
 * order of the steps of each API call for callers without a lock.  With
 * f->harden set each step hands over to harden.h at its first line.
 * Never: takes a lock, sets errno, traces or counts API calls (malloc.c),
 * places a block (heap.h), or lays out a mapping (large.c).
 */
#include "front.h"
#include "tcache.h"

#include <string.h>

#include "error.h"
#include "harden.h"

void gh_front_init(struct gh_front *f, struct gh_heap *h, const struct gh_mapper *m, size_t mmap_threshold)
{
    memset(f, 0, sizeof *f);
    f->heap = h;
    f->mapper = m;
    f->mmap_threshold = mmap_threshold;
    f->mmap_max = SIZE_MAX;
    gh_large_init(&f->large);
}

void gh_front_set_dynamic(struct gh_front *f, bool on)
{
    f->threshold_dynamic = on && !f->harden;
}

void gh_front_set_cache(struct gh_front *f, bool on)
{
    f->cache_on = on;
}

size_t gh_front_trim_cache(struct gh_front *f)
{
    return gh_large_cache_drain(&f->cache, f->mapper);
}

/* The dynamic rule, after a large block whose mapping was len bytes long
 * left the registry by a free; true when the threshold rose.  glibc
 * compares its chunk's size, the mapping's length; so does this, and a
 * request as large as the one freed then lies below the new threshold.
 * The trim threshold only rises: the heap's own adaptive rule (fit.c) may
 * have raised it further already. */
static bool follow_freed(struct gh_front *f, size_t len)
{
    if (!f->threshold_dynamic || len <= gh_front_threshold(f) || len > GH_MMAP_THRESHOLD_MAX
        || !gh_heap_can_hold(f->heap, GH_ALIGN, len))
        return false;
    gh_front_set_threshold(f, len);
    f->threshold_rises++;
    /* Only the fit discipline trims its top by the threshold (buddy.c
     * gives back whole free chunks). */
    if (f->heap->d == &gh_discipline_fit && f->heap->trim_threshold < 2 * len)
        f->heap->trim_threshold = 2 * len;
    return true;
}

/* ---- the steps ---------------------------------------------------------- */

enum gh_front_path gh_front_path(const struct gh_front *f, size_t align, size_t n)
{
    if (__builtin_expect(n > PTRDIFF_MAX, 0))
        return GH_PATH_NONE;
    /* What the heap cannot hold (a buddy block cannot hold a large
     * alignment slack) is mapped, whatever mmap_max says.  The count is
     * read without the lock (malloc.c asks first): a hint, as in glibc. */
    if (gh_front_is_large(f, n)
        && __atomic_load_n(&f->large.live_blocks, __ATOMIC_RELAXED) < f->mmap_max)
        return GH_PATH_LARGE;
    if (!gh_heap_can_hold(f->heap, align, n))
        return GH_PATH_LARGE;
    return GH_PATH_HEAP;
}

void *gh_front_heap_alloc(struct gh_front *f, size_t align, size_t n)
{
    if (__builtin_expect(f->harden, 0))
        return gh_harden_heap_alloc(f, align, n);
    return align <= GH_ALIGN ? gh_heap_alloc(f->heap, n) : gh_heap_alloc_aligned(f->heap, align, n);
}

void *gh_front_large_in_heap(struct gh_front *f, size_t align, size_t n)
{
    /* Fit heaps only: a buddy heap always keeps whole free chunks, so
     * nearly every large request would take a power-of-two block up to
     * twice its size there. */
    size_t need;
    if (!f->threshold_dynamic || f->harden || f->heap->d != &gh_discipline_fit
        || !gh_heap_can_hold(f->heap, align, n)
        || __builtin_add_overflow(n, GH_HEADER_SIZE + (align > GH_ALIGN ? align : 0), &need)
        || gh_heap_largest_free(f->heap) < need)
        return NULL;
    return gh_front_heap_alloc(f, align, n);
}

void *gh_front_large_map(struct gh_front *f, size_t align, size_t n)
{
    if (__builtin_expect(f->harden, 0))
        return gh_harden_large_map(f, align, n);
    return gh_large_map_cached(f->mapper, f->cache_on ? &f->cache : NULL, align, n);
}

void gh_front_large_add(struct gh_front *f, void *p, bool fresh)
{
    gh_large_register(&f->large, p);
    if (fresh && gh_large_zeroed(p))
        f->large_mapped++;
    else if (fresh)
        f->large_reused++;
}

enum gh_front_kind gh_front_find(const struct gh_front *f, const void *p, const char *fn, bool freeing,
                                 struct gh_large_rec **rec)
{
    if (gh_heap_owns(f->heap, p)) {
        /* A block in a thread's cache is freed, though the heap holds it in
         * use: its mark says so.  The mark binds p's address under the
         * secret, so no other bytes pass for one; p aligned inside a region
         * has 16 bytes of it after it to read.  The header is the heap's to
         * check, once (gh_heap_free, gh_heap_block). */
        if (f->cache_marks && !((uintptr_t)p & (GH_ALIGN - 1)) && gh_tcache_marked(p))
            gh_fatal(fn, freeing ? GH_MSG_DOUBLE_FREE : GH_MSG_FREED, p);
        return GH_FRONT_HEAP;
    }
    if ((*rec = gh_large_find(&f->large, p)))
        return GH_FRONT_LARGE;
    if (gh_large_recently_freed(&f->large, p))
        gh_fatal(fn, freeing ? GH_MSG_DOUBLE_FREE : GH_MSG_FREED, p);
    if (gh_large_inside(&f->large, p))
        gh_fatal(fn, GH_MSG_INTERIOR, p);
    gh_fatal(fn, GH_MSG_INVALID, p);
}

void gh_front_release(struct gh_front *f, void *p, const char *fn, struct gh_front_unmap *u, size_t *usable)
{
    if (__builtin_expect(f->harden, 0)) {
        gh_harden_release(f, p, fn, u, usable);
        return;
    }
    struct gh_large_rec *rec;
    u->base = NULL;
    u->len = 0;
    if (gh_front_find(f, p, fn, /* freeing */ true, &rec) == GH_FRONT_HEAP) {
        if (usable)
            *usable = gh_heap_usable(f->heap, p);
        gh_heap_free(f->heap, p, fn);
    } else {
        gh_large_unregister(&f->large, rec, p, fn, &u->base, &u->len);
        /* Once the threshold rose to its length no large request fits
         * this mapping: it goes, not to the cache. */
        if (!follow_freed(f, u->len) && f->cache_on)
            gh_large_cache_put(&f->cache, u->base, u->len, &u->base, &u->len);
    }
}

void gh_front_unmap(const struct gh_front *f, const struct gh_front_unmap *u)
{
    if (u->base)
        gh_large_unmap(f->mapper, u->base, u->len);
}

size_t gh_front_usable(struct gh_front *f, const void *p, const char *fn)
{
    if (__builtin_expect(f->harden, 0))
        return gh_harden_usable(f, p, fn);
    struct gh_large_rec *rec;
    if (gh_front_find(f, p, fn, /* freeing */ false, &rec) == GH_FRONT_HEAP) {
        gh_heap_block(f->heap, p, fn, /* freeing */ false);
        return gh_heap_usable(f->heap, p);
    }
    return gh_large_usable(p);
}

enum gh_realloc_step gh_front_realloc_begin(struct gh_front *f, void *p, size_t n, const char *fn,
                                            struct gh_realloc *r)
{
    if (__builtin_expect(f->harden, 0))
        return gh_harden_realloc_begin(f, p, n, fn, r);
    if (n > PTRDIFF_MAX)
        return GH_REALLOC_FAILED;
    struct gh_large_rec *rec;
    if (gh_front_find(f, p, fn, /* freeing */ false, &rec) == GH_FRONT_HEAP) {
        struct gh_block *b = gh_heap_block(f->heap, p, fn, /* freeing */ false);
        r->old_requested = gh_block_requested(b);
        r->old_usable = gh_heap_usable(f->heap, p);
        if (!gh_front_is_large(f, n) && gh_heap_resize(f->heap, p, n, fn))
            return GH_REALLOC_IN_PLACE;
        return GH_REALLOC_MOVE;
    }
    r->old_requested = gh_large_requested(p);
    r->old_usable = gh_large_usable(p);
    if (gh_front_is_large(f, n) || n >= r->old_usable / 2) {
        /* Stay a large block: remapped (it may move), outside the lock. */
        void *base;
        size_t len;
        gh_large_unregister(&f->large, rec, p, fn, &base, &len);
        return GH_REALLOC_REMAP;
    }
    return GH_REALLOC_MOVE;
}

void *gh_front_large_remap(const struct gh_front *f, void *p, size_t n)
{
    return gh_large_remap(f->mapper, p, n);
}

/* ---- the whole calls ---------------------------------------------------- */

static void observe(const struct gh_front *f)
{
    if (f->observe)
        f->observe(f->observe_ctx);
}

void *gh_front_malloc(struct gh_front *f, size_t align, size_t n)
{
    void *p = NULL;
    switch (gh_front_path(f, align, n)) {
    case GH_PATH_NONE:
        return NULL;
    case GH_PATH_HEAP:
        p = gh_front_heap_alloc(f, align, n);
        break;
    case GH_PATH_LARGE:
        if ((p = gh_front_large_in_heap(f, align, n)))
            break;
        p = gh_front_large_map(f, align, n);
        if (p)
            gh_front_large_add(f, p, /* fresh */ true);
        break;
    }
    if (p)
        observe(f);
    return p;
}

void gh_front_free(struct gh_front *f, void *p)
{
    struct gh_front_unmap u;
    gh_front_release(f, p, "free", &u, NULL);
    gh_front_unmap(f, &u);
}

void *gh_front_realloc(struct gh_front *f, void *p, size_t n, bool *moved)
{
    struct gh_realloc r;
    bool dummy;
    if (!moved)
        moved = &dummy;
    *moved = false;
    switch (gh_front_realloc_begin(f, p, n, "realloc", &r)) {
    case GH_REALLOC_FAILED:
        return NULL;
    case GH_REALLOC_IN_PLACE:
        observe(f);
        return p;
    case GH_REALLOC_REMAP: {
        void *q = gh_front_large_remap(f, p, n);
        gh_front_large_add(f, q ? q : p, /* fresh */ false);
        if (!q)
            return NULL;
        *moved = q != p;
        observe(f);
        return q;
    }
    case GH_REALLOC_MOVE:
        break;
    }
    void *q = gh_front_malloc(f, GH_ALIGN, n);
    if (!q)
        return NULL; /* the old block is untouched */
    memcpy(q, p, gh_front_copy_len(&r, n));
    gh_front_free(f, p);
    *moved = true;
    return q;
}
