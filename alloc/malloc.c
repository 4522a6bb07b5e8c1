/* malloc.c - the allocation calls glassheap exports (exports.h tells how
 * the exports are split).
 *
 * Owns: malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size and
 * malloc_trim: their argument rules and errno, the API call counters and
 * the trace records they make, and the valgrind client requests around
 * them; the per-thread cache's fast paths (tcache.h) in front of the
 * arenas.  Contains no placement logic and no decisions: front.h's steps
 * decide, run here with the owning arena's lock around those that need it
 * (arena.h): a request is placed in the calling thread's arena (a large
 * one in the main arena's registry), a block goes back to the arena that
 * owns it - a small one freed by a thread of another arena handed over
 * without that arena's lock (malloc_handed.c).
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
#include "small_check.h"
#include "os.h"

#ifdef GH_HAVE_VALGRIND
/* Off limits to the program around a live block p of n bytes: its header,
 * the slack after the n bytes, and (heap blocks) the next block's header,
 * so a one-byte overrun is reported as it is under glibc.  (Under valgrind
 * there is one arena.) */
static void vg_fence(void *p, size_t n)
{
    struct gh_arena *a = GH_MAIN_ARENA;
    enter(a); /* reads the header, which memcheck is told is off limits */
    bool heap = gh_heap_owns(&a->heap, p);
    size_t usable = gh_front_usable(&a->front, p, "malloc");
    leave(a);
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

/* ---- the cache's fast paths (no lock) --------------------------------- */

static inline size_t cache_size_for(size_t n)
{
    return gh_tcache_size_for(n, G.cache_pow2);
}

/* Keep p in the cache when its bin has room and p is sound; a full bin
 * looks at nothing more (the locked path checks p). */
static inline bool cache_keep(struct gh_tcache *tc, void *p)
{
    struct small_peek k;
    size_t req, size = small_block_peek(p, &k);
    if (!size || !gh_tcache_room(tc, size))
        return false;
    if (!small_block_verify(p, size, &k, &req))
        return false;
    gh_tcache_put(tc, p, size, req);
    return true;
}

/* A call the cache served: now and then, answer a waiting reader (the
 * locked path looks at every call: leave()). */
static inline void cache_served(struct gh_tcache *tc, enum call c)
{
    gh_tcache_count_call(tc, c);
    if (__builtin_expect(++tc->ticks % GH_TCACHE_LOOK_EVERY == 0, 0) && reader_waiting())
        gh_exports_shm_service();
}

/* ---- allocation core -------------------------------------------------- */

/* A large block: map outside the lock, then register under the main
 * arena's. */
static void *large_alloc(size_t align, size_t n, int op, enum call c)
{
    struct gh_arena *m = GH_MAIN_ARENA;
    void *p = gh_front_large_map(&m->front, align, n);
    enter(m);
    count_call(m, c);
    if (p)
        gh_front_large_add(&m->front, p, /* fresh */ true);
    else
        m->calls->failed++;
    TRACE(op, NULL, p, n, align > GH_ALIGN ? (uint32_t)align : 0);
    leave(m);
    return p;
}

/* mallopt(M_PERTURB): a new block (not calloc's) is filled with the byte
 * ^ 0xff, a heap block about to be freed with the byte (lock held), as
 * glibc does, so a program reading memory it never wrote or has freed sees
 * a pattern.  (The cache is bypassed while it is set.) */
static inline void perturb_new(void *p, size_t n)
{
    if (G.perturb && p)
        memset(p, (G.perturb & 0xff) ^ 0xff, n);
}

static void perturb_freed(struct gh_arena *a, void *p, const char *fn)
{
    struct gh_large_rec *rec;
    if (G.perturb && gh_front_find(&a->front, p, fn, /* freeing */ true, &rec) == GH_FRONT_HEAP)
        memset(p, G.perturb & 0xff, gh_front_usable(&a->front, p, fn));
}

/* Is the cache to be used for this call? */
static inline struct gh_tcache *cache_now(void)
{
    if (!G.cache || G.perturb)
        return NULL;
    return my_cache();
}

/* Place n bytes aligned to align in the heap of arena a (lock taken). */
static void *heap_alloc(struct gh_arena *a, size_t align, size_t n, int op, enum call c)
{
    enter(a);
    void *p = gh_front_heap_alloc(&a->front, align, n);
    count_call(a, c);
    if (!p)
        a->calls->failed++;
    TRACE(op, NULL, p, n, align > GH_ALIGN ? (uint32_t)align : 0);
    leave(a);
    return p;
}

/* Allocate n bytes aligned to align (a power of two); NULL + errno.  op is
 * what the trace records (an enum gh_trace_op), or 0 for nothing (the new
 * block of a moving realloc, recorded when the old one is freed).  *mapped
 * (may be NULL) tells whether the block is a fresh mapping (reads as zero;
 * one from the cache of freed mappings does not). */
static void *alloc_at(size_t align, size_t n, int op, enum call c, bool *mapped)
{
    void *p = NULL;
    struct gh_tcache *tc = cache_now();
    size_t s;
    if (tc && (s = cache_size_for(n)) != 0) {
        p = align <= GH_ALIGN ? gh_tcache_take(tc, s, "malloc") : gh_tcache_take_aligned(tc, s, align, "malloc");
        if (!p && gh_self.arena && handed_waiting(gh_self.arena) && gh_exports_cache_refill(tc, gh_self.arena))
            p = align <= GH_ALIGN ? gh_tcache_take(tc, s, "malloc") : gh_tcache_take_aligned(tc, s, align, "malloc");
        if (p) {
            cache_served(tc, c);
            return p;
        }
    }
    struct gh_arena *m = GH_MAIN_ARENA;
    switch (gh_front_path(&m->front, align, n)) { /* the main arena's threshold rules them all */
    case GH_PATH_NONE:
        errno = ENOMEM;
        enter(m);
        count_call(m, c);
        m->calls->failed++;
        TRACE(op, NULL, NULL, n, align > GH_ALIGN ? (uint32_t)align : 0);
        leave(m);
        return NULL;
    case GH_PATH_LARGE:
        enter(m);
        if ((p = gh_front_large_in_heap(&m->front, align, n))) { /* a free heap block holds it */
            count_call(m, c);
            TRACE(op, NULL, p, n, align > GH_ALIGN ? (uint32_t)align : 0);
            leave(m);
            break;
        }
        leave(m);
        p = large_alloc(align, n, op, c);
        if (mapped)
            *mapped = p && gh_front_large_zeroed(p); /* a cached mapping is not */
        break;
    case GH_PATH_HEAP: {
        struct gh_arena *a = my_arena();
        p = heap_alloc(a, align, n, op, c);
        if (!p && a != m) /* its arena could not grow: try the main one */
            p = heap_alloc(m, align, n, op, C_NONE);
        break;
    }
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

/* Free p under its arena's lock.  The trace records op: GH_TRACE_FREE, or
 * GH_TRACE_REALLOC from p to `moved_to` (n bytes) when this ends a moving
 * realloc (counted as one). */
static void free_locked(void *p, const char *fn, int op, void *moved_to, size_t n, enum call c)
{
    struct gh_front_unmap u;
    size_t usable = 0;
    struct gh_arena *a = gh_arena_of(p);
    enter(a);
    count_call(a, c);
    if (moved_to)
        a->calls->realloc_moved++;
    TRACE(op, p, moved_to, n, 0);
    perturb_freed(a, p, fn);
    gh_front_release(&a->front, p, fn, &u, G.valgrind ? &usable : NULL);
    leave(a);
    if (!u.base)
        vg_free(p, usable);
    else
        vg_free(p, 0); /* the mapping goes away */
    gh_front_unmap(&a->front, &u);
}

/* Free p: into this thread's cache when it can keep it, else locked.  A
 * free never attaches a thread: the first call of a thread may be a free
 * made while it exits (glibc's own), after its exit handler ran. */
static void free_impl(void *p, const char *fn, enum call c)
{
    struct gh_tcache *tc = gh_self.tc.state == GH_TCACHE_ACTIVE && !G.perturb ? &gh_self.tc : NULL;
    if (tc && cache_keep(tc, p)) {
        cache_served(tc, c);
        return;
    }
    free_locked(p, fn, GH_TRACE_FREE, NULL, 0, c);
}

/* A cache's block going back to its heap (a flush). */
static void release_cached(char *p)
{
    if (!gh_exports_hand_over(p, 1))
        free_locked(p, "free", 0, NULL, 0, C_NONE);
}

void gh_exports_flush_cache(struct gh_tcache *tc)
{
    gh_tcache_flush(tc, release_cached);
}

void gh_exports_retire_cache(struct gh_tcache *tc)
{
    gh_tcache_retire(tc, release_cached);
}

/* ---- the exported API ------------------------------------------------ */

__attribute__((noinline)) static void *malloc_slow(size_t n)
{
    ensure_init();
    void *p = alloc(GH_ALIGN, n, GH_TRACE_MALLOC, C_MALLOC);
    vg_alloc(p, n, 0);
    return p;
}

GH_EXPORT void *malloc(size_t n)
{
    /* A hit in this thread's cache first, in as few instructions as the
     * checks allow (an active cache means the library is set up); anything
     * else - a miss, a first call, a large size - is alloc_at's. */
    struct gh_tcache *tc = &gh_self.tc;
    size_t s;
    if (__builtin_expect(tc->state == GH_TCACHE_ACTIVE, 1) && G.cache && !G.perturb && (s = cache_size_for(n)) != 0) {
        char *p = gh_tcache_take(tc, s, "malloc");
        if (p) {
            cache_served(tc, C_MALLOC);
            vg_alloc(p, n, 0);
            return p;
        }
    }
    return malloc_slow(n);
}

__attribute__((noinline)) static void free_slow(void *p)
{
    int saved = errno;
    ensure_init();
    if (!gh_exports_hand_over(p, 0))
        free_locked(p, "free", GH_TRACE_FREE, NULL, 0, C_FREE);
    errno = saved;
}

GH_EXPORT void free(void *p)
{
    if (!p)
        return;
    /* The cache first: it touches neither errno nor a lock (a thread has an
     * active cache only once the library is set up). */
    struct gh_tcache *tc = &gh_self.tc;
    if (__builtin_expect(tc->state == GH_TCACHE_ACTIVE, 1) && !G.perturb && cache_keep(tc, p)) {
        cache_served(tc, C_FREE);
        return;
    }
    free_slow(p);
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
        free_impl(p, "realloc", C_REALLOC);
        return NULL;
    }
    struct gh_realloc r;
    struct gh_arena *a = gh_arena_of(p);
    enter(a);
    count_call(a, C_REALLOC);
    if (a != GH_MAIN_ARENA) /* the main arena's threshold rules them all */
        a->front.mmap_threshold = __atomic_load_n(&GH_MAIN_ARENA->front.mmap_threshold, __ATOMIC_RELAXED);
    switch (gh_front_realloc_begin(&a->front, p, n, "realloc", &r)) {
    case GH_REALLOC_FAILED:
        a->calls->failed++;
        leave(a);
        errno = ENOMEM;
        return NULL;
    case GH_REALLOC_IN_PLACE:
        a->calls->realloc_in_place++;
        TRACE(GH_TRACE_REALLOC, p, p, n, 0);
        leave(a);
#ifdef GH_HAVE_VALGRIND
        if (G.valgrind) {
            VALGRIND_RESIZEINPLACE_BLOCK(p, r.old_requested, n, 0);
            vg_fence(p, n);
        }
#endif
        return p;
    case GH_REALLOC_REMAP: {
        /* Stays a large block (the main arena's): remapped (may move),
         * outside the lock. */
        leave(a);
        void *q = gh_front_large_remap(&a->front, p, n);
        enter(a);
        gh_front_large_add(&a->front, q ? q : p, /* fresh */ false);
        if (q)
            a->calls->realloc_moved += q != p;
        else
            a->calls->failed++;
        TRACE(GH_TRACE_REALLOC, p, q ? q : p, q ? n : r.old_requested, 0);
        leave(a);
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
        leave(a);
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
    /* The old block goes back to its heap, not to the cache: there it can
     * merge with its neighbours and let the next realloc grow in place
     * (cached, a realloc-heavy program's cache fills with blocks of
     * sizes it never asks for again: bench_threads realloc, 1 thread, best
     * fit: 83 -> 70 ms, peak RSS 3.5 -> 2.5 MiB). */
    free_locked(p, "realloc", GH_TRACE_REALLOC, q, n, C_NONE);
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
    struct gh_arena *a = gh_arena_of(p);
    enter(a);
    size_t u = gh_front_usable(&a->front, p, "malloc_usable_size");
    leave(a);
    return u;
}

/* The calling thread's cache goes back to the heaps first (another
 * thread's cache is that thread's alone), then every arena is trimmed. */
GH_EXPORT int malloc_trim(size_t pad)
{
    ensure_init();
    if (gh_self.tc.state == GH_TCACHE_ACTIVE)
        gh_exports_flush_cache(&gh_self.tc);
    size_t given = 0;
    unsigned n = __atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE);
    for (unsigned k = 0; k < n; k++) {
        struct gh_arena *a = gh_arena_list[k];
        enter(a);
        gh_harden_flush(&a->front, "malloc_trim");
        given += gh_heap_trim(&a->heap, pad);
        leave(a);
    }
    given += gh_front_trim_cache(&GH_MAIN_ARENA->front); /* the freed mappings; unmaps: no lock */
    return given > 0;
}
