/* front.h - the front end's decisions: which operations an API call makes.
 *
 * One place turns malloc, free, calloc, realloc, the aligned calls and
 * malloc_usable_size into heap operations (heap.h) and large-block
 * operations (large.h over a mapper, mapper.h):
 *   - a request of mmap_threshold bytes or more (while fewer than mmap_max
 *     large blocks are live), or one the heap cannot hold
 *     (gh_heap_can_hold: a buddy heap's largest block is too small for it
 *     and its alignment slack), gets a mapping of its own;
 *   - realloc of a heap block resizes it in place when the new size is
 *     below the threshold and the heap can; a large block stays large
 *     (remapped, it may move) while the new size is at or above the
 *     threshold or at least half its usable bytes; anything else moves
 *     (new block, copy, free the old one);
 *   - a pointer that is neither a heap block nor a live large block is
 *     fatal ("double free", or "pointer to a freed block" for a call that
 *     does not free, when it was freed recently);
 *   - the dynamic mmap threshold (glibc's rule, mallopt(3)): while it is on,
 *     freeing a large block whose mapping is longer than the threshold and
 *     at most GH_MMAP_THRESHOLD_MAX raises the threshold to that length and
 *     the heap's trim threshold to at least twice it, so a program that
 *     keeps allocating and freeing blocks of that size gets them from the
 *     heap, whose top keeps the pages, instead of mapping and faulting them
 *     anew each time.  It rises only to a size the heap can hold (a buddy
 *     heap: its largest block; gh_heap_can_hold), never falls, and is off
 *     once the threshold was chosen (GLASSHEAP_MMAP_THRESHOLD, or mallopt
 *     of M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD or M_MMAP_MAX);
 *   - while the threshold is dynamic, a request the path sends to the large
 *     path is still placed in a fit heap when a free block there holds it
 *     as it is, without growing the heap (gh_front_large_in_heap), as glibc
 *     serves such a request from its bins and top chunk: memory the heap
 *     keeps (the raised trim threshold) is used before fresh pages (not in
 *     a buddy heap, whose free chunks would give it a block up to twice
 *     its size);
 *   - with the cache of freed mappings on (gh_front_set_cache; large.h), a
 *     freed large block's mapping is kept for a later large request it
 *     fits, unless the dynamic threshold just rose to its length (then no
 *     large request can fit it); a large request looks there before it
 *     maps.  malloc_trim empties it (gh_front_trim_cache).
 * The heap's own growth and trimming follow its source (a paged arena
 * grows and trims exactly as the break does: source.h).
 *
 * Two ways in.  The steps (gh_front_path ... gh_front_large_add) are what
 * malloc.c calls, each marked "lock held" or "no lock": the caller holds
 * its lock around the first kind and makes the mapper calls outside it.
 * The whole calls (gh_front_malloc, gh_front_free, gh_front_realloc) run
 * the same steps in the same order for a caller with no lock and no other
 * thread (glassheap replay, tests).
 *
 * Not thread-safe; never allocates through libc; errno is the caller's.
 */
#ifndef GH_FRONT_H
#define GH_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "large.h"
#include "mapper.h"

/* The most the dynamic threshold rises to, and the most mallopt's
 * M_MMAP_THRESHOLD takes: glibc's DEFAULT_MMAP_THRESHOLD_MAX (HEAP_MAX_SIZE
 * / 2), 32 MiB on 64 bits, 512 KiB on 32. */
#define GH_MMAP_THRESHOLD_MAX (sizeof(long) == 8 ? (size_t)32 << 20 : (size_t)512 << 10)

struct gh_front {
    struct gh_heap *heap;
    const struct gh_mapper *mapper;
    struct gh_large large;       /* the registry of live large blocks */
    size_t mmap_threshold;       /* requests this large are mapped apart (written
                                  * with the lock held, read without: atomically) */
    bool threshold_dynamic;      /* glibc's rule is on (gh_front_set_dynamic) */
    uint64_t threshold_rises;    /* times the rule raised mmap_threshold */
    size_t mmap_max;             /* ... while fewer large blocks than this are live
                                  * (mallopt M_MMAP_MAX; SIZE_MAX: no limit) */
    uint64_t large_mapped;       /* large blocks mapped so far (not remaps, not reuses) */
    uint64_t large_reused;       /* large blocks made from a cached mapping */
    bool cache_on;               /* freed mappings go to `cache` (gh_front_set_cache) */
    struct gh_large_cache cache; /* freed mappings kept for reuse (large.h) */
    bool harden;                 /* GLASSHEAP_HARDEN: the steps go to harden.h */
    bool cache_marks;            /* per-thread caches are on: a heap block carrying a
                                  * cache mark (tcache.h) is a freed one */
    /* Whole calls only: called after each step that can set a peak (a
     * block placed, resized or remapped), before the rest of the call.
     * NULL: none. */
    void (*observe)(void *ctx);
    void *observe_ctx;
};

/* A front end over heap h (already set up) and mapper m, with a fixed
 * threshold (the dynamic rule off). */
void gh_front_init(struct gh_front *f, struct gh_heap *h, const struct gh_mapper *m, size_t mmap_threshold);

/* Turn the dynamic threshold on (the library at start unless
 * GLASSHEAP_MMAP_THRESHOLD was given; replay's glassheap model) or off
 * (mallopt: the program chose).  Hardened mode keeps it off: its large
 * blocks are guarded mappings (harden.h). */
void gh_front_set_dynamic(struct gh_front *f, bool on);

/* Turn the cache of freed mappings on (the library; replay's glassheap
 * model) or off (the default: every freed mapping is unmapped).  Turning
 * it off does not empty it: gh_front_trim_cache does. */
void gh_front_set_cache(struct gh_front *f, bool on);

/* No lock: unmap every cached mapping (malloc_trim); the bytes given back. */
size_t gh_front_trim_cache(struct gh_front *f);

/* The threshold in force (another thread may raise it meanwhile). */
static inline size_t gh_front_threshold(const struct gh_front *f)
{
    return __atomic_load_n(&f->mmap_threshold, __ATOMIC_RELAXED);
}

/* Lock held: set the threshold (mallopt; the dynamic rule). */
static inline void gh_front_set_threshold(struct gh_front *f, size_t v)
{
    __atomic_store_n(&f->mmap_threshold, v, __ATOMIC_RELAXED);
}

/* Is a request of n bytes at or above the mmap threshold?  (calloc need
 * not clear such a block: a fresh mapping reads as zero.) */
static inline bool gh_front_is_large(const struct gh_front *f, size_t n)
{
    return n >= gh_front_threshold(f);
}

/* ---- the steps ---------------------------------------------------------- */

enum gh_front_path {
    GH_PATH_NONE,   /* no block can hold it (n > PTRDIFF_MAX): fail, ENOMEM */
    GH_PATH_HEAP,   /* gh_front_heap_alloc, lock held */
    GH_PATH_LARGE,  /* gh_front_large_in_heap, lock held; else gh_front_large_map,
                     * no lock, then gh_front_large_add */
};

/* Where a request of n bytes aligned to align (a power of two) goes. */
enum gh_front_path gh_front_path(const struct gh_front *f, size_t align, size_t n);

/* Lock held: a heap block (GH_PATH_HEAP); NULL when out of memory. */
void *gh_front_heap_alloc(struct gh_front *f, size_t align, size_t n);

/* Lock held, first for GH_PATH_LARGE: while the threshold is dynamic, a
 * fit heap's block for the request when its largest free block holds it
 * (with its header and alignment slack), so the heap need not grow; NULL:
 * map it (gh_front_large_map).  Never in hardened mode. */
void *gh_front_large_in_heap(struct gh_front *f, size_t align, size_t n);

/* No lock: map a large block (GH_PATH_LARGE), or take a cached mapping
 * for it; NULL when out of memory. */
void *gh_front_large_map(struct gh_front *f, size_t align, size_t n);

/* Does the new large block p read as zero (calloc need not clear it)?  A
 * fresh mapping does; one from the cache does not. */
static inline bool gh_front_large_zeroed(const void *p)
{
    return gh_large_zeroed(p);
}

/* Lock held: register the large block p (fresh: new from
 * gh_front_large_map, counted in large_mapped or, from the cache, in
 * large_reused; not fresh: back after a remap). */
void gh_front_large_add(struct gh_front *f, void *p, bool fresh);

enum gh_front_kind { GH_FRONT_HEAP, GH_FRONT_LARGE };

/* Lock held: what p is.  Fatal (named after fn) when it is neither a heap
 * block nor a live large block - for a large block freed recently, or a
 * heap block in a thread's cache (cache_marks), "double free" when the
 * call frees (freeing), "pointer to a freed block" when it only looks;
 * *rec is p's record when large. */
enum gh_front_kind gh_front_find(const struct gh_front *f, const void *p, const char *fn, bool freeing,
                                 struct gh_large_rec **rec);

/* A mapping to give back once the lock is dropped (base NULL: none). */
struct gh_front_unmap {
    void *base;
    size_t len;
};

/* Lock held: free p (fatal on misuse, named after fn).  A large block is
 * taken out of the registry (the dynamic threshold may rise to its
 * mapping's length; the cache may keep the mapping) and *u says what to
 * unmap (its mapping, one the cache let go, or nothing); a heap block is
 * freed at once, and *usable (when not NULL) gets its usable bytes first. */
void gh_front_release(struct gh_front *f, void *p, const char *fn, struct gh_front_unmap *u, size_t *usable);

/* No lock: unmap what gh_front_release left (nothing when u->base NULL). */
void gh_front_unmap(const struct gh_front *f, const struct gh_front_unmap *u);

/* Lock held: usable bytes of the live block p (fatal when p is not one). */
size_t gh_front_usable(struct gh_front *f, const void *p, const char *fn);

enum gh_realloc_step {
    GH_REALLOC_FAILED,   /* n > PTRDIFF_MAX: nothing changed, ENOMEM */
    GH_REALLOC_IN_PLACE, /* done: the heap block now holds n bytes */
    GH_REALLOC_REMAP,    /* p left the registry: gh_front_large_remap (no
                          * lock), then gh_front_large_add(result or p) */
    GH_REALLOC_MOVE,     /* allocate n bytes, copy, free p */
};

struct gh_realloc {
    size_t old_requested;  /* what p was asked for */
    size_t old_usable;     /* and can hold */
};

/* Lock held: the first step of realloc(p, n) for a live p and n > 0. */
enum gh_realloc_step gh_front_realloc_begin(struct gh_front *f, void *p, size_t n, const char *fn,
                                            struct gh_realloc *r);

/* No lock: resize the mapping of the large block p (out of the registry)
 * to hold n bytes; the new payload, or NULL (p unchanged). */
void *gh_front_large_remap(const struct gh_front *f, void *p, size_t n);

/* Bytes a moving realloc copies to its new block of n bytes. */
static inline size_t gh_front_copy_len(const struct gh_realloc *r, size_t n)
{
    return r->old_usable < n ? r->old_usable : n;
}

/* ---- the whole calls (no lock, one thread) ------------------------------ */

/* malloc (align GH_ALIGN) or an aligned request: NULL when it failed. */
void *gh_front_malloc(struct gh_front *f, size_t align, size_t n);

/* free(p) for a live p. */
void gh_front_free(struct gh_front *f, void *p);

/* realloc(p, n) for a live p (the API's p == NULL and n == 0 cases are the
 * caller's): the block now holding n bytes, or NULL with p untouched.
 * *moved (may be NULL) tells whether it left p. */
void *gh_front_realloc(struct gh_front *f, void *p, size_t n, bool *moved);

#endif
