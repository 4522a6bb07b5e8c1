/* malloc.c - the allocation calls glassheap exports (exports.h tells how
 * the exports are split).
 *
 * Owns: malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size and
 * malloc_trim: their argument rules and errno, the API call counters and
 * the trace records they make, and the valgrind client requests around
 * them.  Contains no placement logic and no decisions: front.h's steps
 * decide, run here with the lock around those that need it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "exports.h"
#include "harden.h"
#include "os.h"

static size_t usable_locked(const void *p, const char *fn);

#ifdef GH_HAVE_VALGRIND
/* Off limits to the program around a live block p of n bytes: its header,
 * the slack after the n bytes, and (heap blocks) the next block's header,
 * so a one-byte overrun is reported as it is under glibc. */
static void vg_fence(void *p, size_t n)
{
    enter(); /* reads the header, which memcheck is told is off limits */
    bool heap = gh_heap_owns(&G.heap, p);
    size_t usable = usable_locked(p, "malloc");
    leave();
    VALGRIND_MAKE_MEM_NOACCESS((char *)p - GH_HEADER_SIZE, GH_HEADER_SIZE);
    VALGRIND_MAKE_MEM_NOACCESS((char *)p + n, usable - n + (heap ? GH_HEADER_SIZE : 0));
}
#endif

/* Tell memcheck about a new block p of n requested bytes. */
static inline void vg_alloc(void *p, size_t n, int zeroed)
{
#ifdef GH_HAVE_VALGRIND
    if (G.valgrind && p) {
        VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
        vg_fence(p, n);
    }
#else
    (void)p, (void)n, (void)zeroed;
#endif
}

/* p was freed, with `usable` bytes: all of it is off limits now. */
static inline void vg_free(void *p, size_t usable)
{
#ifdef GH_HAVE_VALGRIND
    if (G.valgrind) {
        VALGRIND_FREELIKE_BLOCK(p, 0);
        VALGRIND_MAKE_MEM_NOACCESS(p, usable);
    }
#else
    (void)p, (void)usable;
#endif
}

/* ---- allocation core (lock held) ------------------------------------- */


/* A large block: map outside the lock, then register under it. */
static void *large_alloc(size_t align, size_t n, int op, enum call c)
{
    void *p = gh_front_large_map(&G.front, align, n);
    enter();
    count_call(c);
    if (p)
        gh_front_large_add(&G.front, p, /* fresh */ true);
    else
        G.calls.failed++;
    TRACE(op, NULL, p, n, align > GH_ALIGN ? (uint32_t)align : 0);
    leave();
    return p;
}

/* mallopt(M_PERTURB): a new block (not calloc's) is filled with the byte
 * ^ 0xff, a heap block about to be freed with the byte (lock held), as
 * glibc does, so a program reading memory it never wrote or has freed sees
 * a pattern. */
static inline void perturb_new(void *p, size_t n)
{
    if (G.perturb && p)
        memset(p, (G.perturb & 0xff) ^ 0xff, n);
}

static void perturb_freed(void *p, const char *fn)
{
    struct gh_large_rec *rec;
    if (G.perturb && gh_front_find(&G.front, p, fn, /* freeing */ true, &rec) == GH_FRONT_HEAP)
        memset(p, G.perturb & 0xff, gh_front_usable(&G.front, p, fn));
}

/* Allocate n bytes aligned to align (a power of two); NULL + errno.  op is
 * what the trace records (an enum gh_trace_op), or 0 for nothing (the new
 * block of a moving realloc, recorded when the old one is freed).  *mapped
 * (may be NULL) tells whether the block is a fresh mapping (reads as zero;
 * one from the cache of freed mappings does not). */
static void *alloc_at(size_t align, size_t n, int op, enum call c, bool *mapped)
{
    void *p = NULL;
    uint32_t talign = align > GH_ALIGN ? (uint32_t)align : 0;
    switch (gh_front_path(&G.front, align, n)) {
    case GH_PATH_NONE:
        errno = ENOMEM;
        enter();
        count_call(c);
        G.calls.failed++;
        TRACE(op, NULL, NULL, n, talign);
        leave();
        return NULL;
    case GH_PATH_LARGE:
        enter();
        if ((p = gh_front_large_in_heap(&G.front, align, n))) { /* a free heap block holds it */
            count_call(c);
            TRACE(op, NULL, p, n, talign);
            leave();
            break;
        }
        leave();
        p = large_alloc(align, n, op, c);
        if (mapped)
            *mapped = p && gh_front_large_zeroed(p); /* a cached mapping is not */
        break;
    case GH_PATH_HEAP:
        enter();
        p = gh_front_heap_alloc(&G.front, align, n);
        count_call(c);
        if (!p)
            G.calls.failed++;
        TRACE(op, NULL, p, n, talign);
        leave();
        break;
    }
    if (!p)
        errno = ENOMEM;
    else if (op != GH_TRACE_CALLOC)
        perturb_new(p, n);
    return p;
}

static inline void *alloc(size_t align, size_t n, int op, enum call c)
{
    return alloc_at(align, n, op, c, NULL);
}

/* Free p.  The trace records op: GH_TRACE_FREE, or GH_TRACE_REALLOC from p
 * to `moved_to` (n bytes) when this ends a moving realloc. */
static void free_impl(void *p, const char *fn, int op, void *moved_to, size_t n, enum call c)
{
    struct gh_front_unmap u;
    size_t usable = 0;
    enter();
    count_call(c);
    TRACE(op, p, moved_to, n, 0);
    perturb_freed(p, fn);
    gh_front_release(&G.front, p, fn, &u, G.valgrind ? &usable : NULL);
    leave();
    if (!u.base)
        vg_free(p, usable);
    else
        vg_free(p, 0); /* the mapping goes away */
    gh_front_unmap(&G.front, &u);
}

/* Usable size of a live block p (lock held); fatal for a foreign pointer. */
static size_t usable_locked(const void *p, const char *fn)
{
    return gh_front_usable(&G.front, p, fn);
}

/* ---- the exported API ------------------------------------------------ */

GH_EXPORT void *malloc(size_t n)
{
    ensure_init();
    void *p = alloc(GH_ALIGN, n, GH_TRACE_MALLOC, C_MALLOC);
    vg_alloc(p, n, 0);
    return p;
}

GH_EXPORT void free(void *p)
{
    if (!p)
        return;
    int saved = errno;
    ensure_init();
    free_impl(p, "free", GH_TRACE_FREE, NULL, 0, C_FREE);
    errno = saved;
}

GH_EXPORT void *calloc(size_t nmemb, size_t size)
{
    size_t n;
    ensure_init();
    if (__builtin_mul_overflow(nmemb, size, &n)) {
        /* Count it, and as failed, like any call that returns NULL. */
        n = SIZE_MAX;
    }
    bool mapped = false;
    void *p = alloc_at(GH_ALIGN, n, GH_TRACE_CALLOC, C_CALLOC, &mapped);
    if (p && !mapped)
        memset(p, 0, n); /* fresh mappings are zero already */
    vg_alloc(p, n, 1);
    return p;
}

GH_EXPORT void *realloc(void *p, size_t n)
{
    ensure_init();
    if (!p) {
        void *q = alloc(GH_ALIGN, n, GH_TRACE_MALLOC, C_REALLOC);
        vg_alloc(q, n, 0);
        return q;
    }
    if (n == 0) {
        free_impl(p, "realloc", GH_TRACE_FREE, NULL, 0, C_REALLOC);
        return NULL;
    }
    struct gh_realloc r;
    enter();
    count_call(C_REALLOC);
    switch (gh_front_realloc_begin(&G.front, p, n, "realloc", &r)) {
    case GH_REALLOC_FAILED:
        G.calls.failed++;
        leave();
        errno = ENOMEM;
        return NULL;
    case GH_REALLOC_IN_PLACE:
        G.calls.realloc_in_place++;
        TRACE(GH_TRACE_REALLOC, p, p, n, 0);
        leave();
#ifdef GH_HAVE_VALGRIND
        if (G.valgrind) {
            VALGRIND_RESIZEINPLACE_BLOCK(p, r.old_requested, n, 0);
            vg_fence(p, n);
        }
#endif
        return p;
    case GH_REALLOC_REMAP: {
        /* Stays a large block: remapped (may move), outside the lock. */
        leave();
        void *q = gh_front_large_remap(&G.front, p, n);
        enter();
        gh_front_large_add(&G.front, q ? q : p, /* fresh */ false);
        if (q)
            G.calls.realloc_moved += q != p;
        else
            G.calls.failed++;
        TRACE(GH_TRACE_REALLOC, p, q ? q : p, q ? n : r.old_requested, 0);
        leave();
        if (!q) {
            errno = ENOMEM;
            return NULL;
        }
#ifdef GH_HAVE_VALGRIND
        if (G.valgrind) {
            if (q == p) {
                VALGRIND_RESIZEINPLACE_BLOCK(p, r.old_requested, n, 0);
            } else {
                VALGRIND_FREELIKE_BLOCK(p, 0);
                vg_alloc(q, n, 0);
            }
            if (q == p)
                vg_fence(p, n);
        }
#endif
        return q;
    }
    case GH_REALLOC_MOVE:
        leave();
        break;
    }
    /* Move: new block, copy, free the old one. */
    void *q = alloc(GH_ALIGN, n, 0, C_NONE);
    if (!q)
        return NULL; /* the old block is untouched */
    vg_alloc(q, n, 0);
    size_t copy = gh_front_copy_len(&r, n);
#ifdef GH_HAVE_VALGRIND
    if (G.valgrind && copy > r.old_requested)
        copy = r.old_requested < n ? r.old_requested : n;
#endif
    memcpy(q, p, copy);
    free_impl(p, "realloc", GH_TRACE_REALLOC, q, n, C_NONE);
    G.calls.realloc_moved++;
    return q;
}

GH_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n);
}

static inline bool pow2(size_t a)
{
    return a && !(a & (a - 1));
}

static void *aligned(size_t align, size_t n)
{
    ensure_init();
    void *p = alloc(align, n, GH_TRACE_ALIGNED, C_ALIGNED);
    vg_alloc(p, n, 0);
    return p;
}

GH_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (!pow2(align) || align % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = aligned(align, n);
    if (!p)
        return ENOMEM; /* errno stays ENOMEM too, as glibc leaves it */
    errno = saved;
    *out = p;
    return 0;
}

GH_EXPORT void *aligned_alloc(size_t align, size_t n)
{
    if (!pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, n);
}

GH_EXPORT void *memalign(size_t align, size_t n)
{
    /* glibc: a non-power-of-two alignment is rounded up to one. */
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = GH_ALIGN;
    while (a < align)
        a <<= 1;
    return aligned(a, n);
}

GH_EXPORT void *valloc(size_t n)
{
    return aligned(gh_os_page_size(), n);
}

GH_EXPORT void *pvalloc(size_t n)
{
    size_t ps = gh_os_page_size(), r;
    if (!gh_round_up(n ? n : 1, ps, &r)) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(ps, r);
}

GH_EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    ensure_init();
    enter();
    size_t u = usable_locked(p, "malloc_usable_size");
    leave();
    return u;
}

GH_EXPORT int malloc_trim(size_t pad)
{
    ensure_init();
    enter();
    gh_harden_flush(&G.front, "malloc_trim");
    size_t given = gh_heap_trim(&G.heap, pad);
    leave();
    given += gh_front_trim_cache(&G.front); /* unmaps: no lock */
    return given > 0;
}
