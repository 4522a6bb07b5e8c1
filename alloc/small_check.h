/* small_check.h - what a small heap block must pass to leave the locked
 * path: to be kept in a thread's cache (malloc.c) or handed over to its
 * arena without the lock (malloc_handed.c).  For exports.h's files only.
 *
 * Reads only memory that is surely mapped (an arena's reservation, the
 * main heap's one region) and decides nothing fatal but a double free: a
 * block that fails goes to the locked path, which says precisely what is
 * wrong with it.
 */
#ifndef GH_SMALL_CHECK_H
#define GH_SMALL_CHECK_H

#include "error.h"
#include "exports.h"

/* Where small_block_peek found p's block: what small_block_verify needs to
 * go on without reading the bounds again. */
struct small_peek {
    uintptr_t hi;   /* the main heap's end (owner 0) */
    unsigned owner; /* gh_source_owner */
    uint64_t w0;    /* the header's size word, as read (not verified) */
};

/* The block size p's header claims when p may be a small heap block in use
 * (cacheable by its size word), else 0; nothing verified yet.  Reads only
 * memory that is surely mapped: a reservation of an arena (owner table), or
 * the main heap's one region. */
static inline size_t small_block_peek(const void *p, struct small_peek *k)
{
    const struct gh_block *b = gh_block_of(p);
    uintptr_t at = (uintptr_t)b;
    if (at & (GH_ALIGN - 1))
        return 0;
    k->owner = gh_source_owner(b);
    k->hi = 0;
    if (k->owner == 0) {
        const struct gh_tree_bounds *bd = &GH_MAIN_ARENA->heap.bounds;
        uintptr_t lo = __atomic_load_n(&bd->lo, __ATOMIC_RELAXED);
        k->hi = __atomic_load_n(&bd->hi, __ATOMIC_RELAXED);
        if (__atomic_load_n(&bd->cover, __ATOMIC_RELAXED) || at - lo >= k->hi - lo || k->hi - at < GH_MIN_BLOCK)
            return 0;
    } else if ((at & (GH_SOURCE_GRANULE - 1)) > GH_SOURCE_GRANULE - 2 * GH_HEADER_SIZE) {
        return 0;
    }
    k->w0 = __atomic_load_n(&b->size_flags, __ATOMIC_RELAXED);
    size_t size = gh_tcache_cacheable(k->w0);
    if (!size || (k->owner == 0 && k->hi - at < size))
        return 0;
    return size;
}

/* p's block size (small_block_peek's, in *k) when its header and its next
 * neighbour's pass their checks, else 0: what may be kept in a cache or
 * handed to a lock's holder without the lock.  Anything else (a large
 * block, a bad pointer, a header that fails) is the locked path's, which
 * says precisely what is wrong.  *req gets the requested size. */
static inline size_t small_block_verify(const void *p, size_t size, const struct small_peek *k, size_t *req)
{
    const struct gh_block *b = gh_block_of(p);
    uint64_t w0 = k->w0, w1 = __atomic_load_n(&b->tag, __ATOMIC_RELAXED);
#ifdef GH_UNCHECKED /* the benchmarks' unchecked library (block.h) */
    (void)w0;
#else
    /* The next block's header too, so that an overflow into it is found at
     * this free as the locked path finds it (it is in the same region: a
     * fit region ends in an end marker, a buddy block never ends one). */
    const struct gh_block *nb = gh_block_next_of_size(b, size);
    if (k->owner == 0 ? k->hi - (uintptr_t)nb < GH_HEADER_SIZE
                      : ((uintptr_t)nb & (GH_SOURCE_GRANULE - 1)) > GH_SOURCE_GRANULE - GH_HEADER_SIZE)
        return 0;
    uint64_t n0 = __atomic_load_n(&nb->size_flags, __ATOMIC_RELAXED), n1 = __atomic_load_n(&nb->tag, __ATOMIC_RELAXED);
    if (!gh_block_words_valid(b, w0, w1) || !gh_block_words_valid(nb, n0, n1))
        return 0; /* torn by a neighbour's change, or corrupt: the locked path decides */
#endif
    if (gh_tcache_marked(p))
        gh_fatal("free", GH_MSG_DOUBLE_FREE, p); /* in a cache, or handed over, already */
    *req = (size_t)(w1 & GH_REQ_MASK);
    return size;
}

/* Both: the block size of a sound small heap block p, else 0. */
static inline size_t small_block_sound(const void *p, size_t *req)
{
    struct small_peek k;
    size_t size = small_block_peek(p, &k);
    return size ? small_block_verify(p, size, &k, req) : 0;
}

#endif
