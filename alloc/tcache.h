/* tcache.h - the per-thread cache (GLASSHEAP_CACHE, on by default): small
 * freed blocks kept by the thread that freed them and handed out again by
 * that thread without a lock.
 *
 * What it holds: heap blocks of at most GH_TCACHE_MAX_BLOCK bytes (header
 * included), binned by exact block size (16-byte steps), within the bounds
 * below; freed by free() (a moving realloc's old block goes to its heap,
 * malloc.c), or freed by other threads and handed over to the thread's
 * arena (malloc_handed.c, at a miss).  A
 * request takes a cached block only of exactly the block size the heap's
 * policy would make for it (tcache_block_size), so the cache changes where
 * a block comes from - the most recently freed block of that size, LIFO -
 * and never its size.  GLASSHEAP_CACHE=0 is the pure policy.
 *
 * A cached block stays in use in the heap's eyes: its header is not
 * touched (another thread may be flipping its PREV_FREE bit under the
 * arena lock at that moment), so its requested size stays the one the heap
 * recorded when it placed the block - also after the cache hands it out
 * again.  Its first two payload words hold the link:
 *   +0  next cached block of the bin (NULL: last)
 *   +8  gh_tcache_link_mac(block, next), keyed by the per-process secret
 * The mark makes a cached block recognisable (a second free of it is a
 * "double free", whichever thread's cache holds it; the map shows it as
 * cached) and a link overwritten after free is caught before it is used
 * ("corrupted free list at"): an attacker who does not know the secret
 * cannot forge a link to memory of their choosing.
 *
 * Visible: every cache counts the blocks, bytes and requested bytes it
 * holds, its hits (mallocs served), puts (frees kept) and flushes; the
 * snapshot (gh_tcache_sum) adds them up over every live thread plus the
 * threads that have exited, so that
 *   live + cached + free + overhead = heap
 * holds in the segment, the summary and `glassheap stat`.
 *
 * Flushed - every block freed into the heap that owns it - when the thread
 * exits (a pthread key destructor) and by malloc_trim (the calling thread's
 * cache).  The main thread's cache is not flushed at process exit: the
 * summary shows what it held.  In a forked child the caches of the threads
 * that did not survive the fork stay cached (counted as such) forever.
 *
 * Locking: a cache is its thread's alone; the registry of caches (for the
 * snapshot) has its own lock, taken after an arena lock, never before one.
 * Never allocates.
 */
#ifndef GH_TCACHE_H
#define GH_TCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "error.h"
#include "counts.h"

#define GH_TCACHE_MAX_BLOCK 1040u                       /* 1024 usable bytes */
#define GH_TCACHE_BINS      (GH_TCACHE_MAX_BLOCK / GH_ALIGN + 1)
#define GH_TCACHE_LOOK_EVERY 64u
/* Bounds, chosen by measurement (bench/RESULTS.md, "The cache's bounds":
 * 8 blocks a bin, as glibc keeps, took thread-local churn to 4.3x glibc's
 * time, 64 to 0.96x; 32 KiB a bin took a realloc mix to 1.9x glibc's peak
 * RSS, 16 KiB to 1.4x): a bin holds up to GH_TCACHE_BIN_BYTES
 * of blocks, at least GH_TCACHE_BIN_MIN and at most GH_TCACHE_BIN_MAX of
 * them, and a thread's cache at most GH_TCACHE_MAX_BYTES in all (a
 * power-of-two bin of buddy's: the bounds of the size / 32 fit bins it
 * stands for, together; gh_tcache_init_bins). */
#ifndef GH_TCACHE_BIN_MAX
#define GH_TCACHE_BIN_MAX   64u
#endif
#define GH_TCACHE_BIN_MIN   8u
#define GH_TCACHE_BIN_BYTES (16u * 1024u)
#define GH_TCACHE_MAX_BYTES (256u * 1024u)


enum gh_tcache_state {
    GH_TCACHE_UNUSED = 0, /* this thread has not used it yet */
    GH_TCACHE_ACTIVE,     /* registered: frees and mallocs go through it */
    GH_TCACHE_DEAD,       /* flushed at thread exit, or the cache is off */
};

struct gh_tcache_bin {
    char *head;           /* payload of the most recently cached block */
    uint32_t count;
    uint32_t limit;       /* blocks it may hold (set when registered) */
};

struct gh_tcache {
    int state;            /* enum gh_tcache_state */
    unsigned ticks;       /* calls it served: every GH_TCACHE_LOOK_EVERY-th looks
                           * for a reader's request (shm.h) */
    struct gh_tcache_bin bins[GH_TCACHE_BINS];
    struct gh_tcache_counts *c;  /* written by the thread, read by the snapshot and
                                  * by readers: `own`, or an entry of the
                                  * segment's live section (gh_tcache_place) */
    struct gh_tcache_counts own;
    struct gh_tcache *next, *prev; /* the registry */
};

/* The block size a heap makes for a request of n bytes when a block of it
 * can be cached, else 0: the fit rule (block.h), or for a heap of
 * power-of-two blocks (pow2: buddy) the power of two that holds n and a
 * header, at least 32. */
static inline size_t gh_tcache_size_for(size_t n, bool pow2)
{
    if (n > GH_TCACHE_MAX_BLOCK - GH_HEADER_SIZE)
        return 0;
    if (!pow2)
        return gh_block_size_for(n);
    size_t total = n + GH_HEADER_SIZE;
    size_t s = total <= 32 ? 32 : (size_t)1 << (64 - __builtin_clzll((unsigned long long)(total - 1)));
    return s <= GH_TCACHE_MAX_BLOCK ? s : 0;
}

/* The size of a block in use whose header word is w0 when the cache may
 * keep it (a plain heap block of 32 to GH_TCACHE_MAX_BLOCK bytes), else 0.
 * The header must have been verified by the caller. */
static inline size_t gh_tcache_cacheable(uint64_t w0)
{
    size_t size = (size_t)(w0 & GH_SIZE_MASK);
    if ((w0 & (GH_FLAG_FREE | GH_FLAG_MMAPPED | GH_FLAG_INNER)) || size > GH_TCACHE_MAX_BLOCK || size < 32)
        return 0;
    return size;
}

/* The mark of a cached block's link (payload p, next cached payload). */
static inline uint64_t gh_tcache_link_mac(const void *p, const void *next)
{
    uint64_t s = gh_block_secret;
    uint64_t a = ((uint64_t)(uintptr_t)p ^ s) * 0x9e3779b97f4a7c15ULL;
    uint64_t b = ((uint64_t)(uintptr_t)next + ((s << 29) | (s >> 35))) * 0xc2b2ae3d27d4eb4fULL;
    uint64_t h = a ^ b;
    return (h ^ (h >> 31)) | 1; /* never 0: a cleared word is no mark */
}

/* Does the payload p (of a block in use in the heap) carry a cache mark? */
static inline bool gh_tcache_marked(const void *p)
{
    const uint64_t *w = (const uint64_t *)p;
    return w[1] == gh_tcache_link_mac(p, (const void *)(uintptr_t)w[0]);
}

/* Has bin size / 16 room for one more block of `size` bytes (within the
 * thread's bound too)? */
static inline bool gh_tcache_room(const struct gh_tcache *tc, size_t size)
{
    const struct gh_tcache_bin *b = &tc->bins[size / GH_ALIGN];
    return b->count < b->limit && tc->c->bytes + size <= GH_TCACHE_MAX_BYTES;
}

/* Keep the freed block p (block size `size`, requested `req` as its
 * header says) in bin size / 16, which gh_tcache_room said has room. */
static inline void gh_tcache_put(struct gh_tcache *tc, char *p, size_t size, size_t req)
{
    struct gh_tcache_bin *b = &tc->bins[size / GH_ALIGN];
    uint64_t *w = (uint64_t *)p;
    /* The mark before the stores: a store through w could be the secret
     * to the compiler, which would then load it and hash p again. */
    uint64_t mark = gh_tcache_link_mac(p, b->head);
    w[0] = (uint64_t)(uintptr_t)b->head;
    w[1] = mark;
    b->head = p;
    b->count++;
    struct gh_tcache_counts *c = tc->c; /* one load: the stores below do not move it */
    __atomic_store_n(&c->blocks, c->blocks + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&c->bytes, c->bytes + size, __ATOMIC_RELAXED);
    __atomic_store_n(&c->requested, c->requested + req, __ATOMIC_RELAXED);
    __atomic_store_n(&c->puts, c->puts + 1, __ATOMIC_RELAXED);
}

/* Take the most recently cached block of block size `size` (<=
 * GH_TCACHE_MAX_BLOCK), or NULL.  Its link is checked first (fatal, named
 * after fn, when it was overwritten) and its mark cleared. */
static inline char *gh_tcache_take(struct gh_tcache *tc, size_t size, const char *fn)
{
    struct gh_tcache_bin *b = &tc->bins[size / GH_ALIGN];
    char *p = b->head;
    if (!p)
        return NULL;
    uint64_t *w = (uint64_t *)p;
    char *next = (char *)(uintptr_t)w[0];
    if (__builtin_expect(w[1] != gh_tcache_link_mac(p, next), 0))
        gh_fatal(fn, GH_MSG_FREE_LIST, p);
    w[1] = 0;
    b->head = next;
    b->count--;
    size_t req = gh_block_requested(gh_block_of(p));
    struct gh_tcache_counts *c = tc->c;
    __atomic_store_n(&c->blocks, c->blocks - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&c->bytes, c->bytes - size, __ATOMIC_RELAXED);
    __atomic_store_n(&c->requested, c->requested - req, __ATOMIC_RELAXED);
    __atomic_store_n(&c->hits, c->hits + 1, __ATOMIC_RELAXED);
    return p;
}

/* The most recently cached block of block size `size` whose payload is a
 * multiple of align, or NULL; the bin is walked (each link checked, fatal
 * as in gh_tcache_take) and the block unlinked from where it is. */
char *gh_tcache_take_aligned(struct gh_tcache *tc, size_t size, size_t align, const char *fn);

/* Count one API call served by the cache (enum gh_call_kind). */
static inline void gh_tcache_count_call(struct gh_tcache *tc, int kind)
{
    uint64_t *slot = NULL;
    switch (kind) {
    case GH_CALL_MALLOC: slot = &tc->c->calls.malloc; break;
    case GH_CALL_CALLOC: slot = &tc->c->calls.calloc; break;
    case GH_CALL_REALLOC: slot = &tc->c->calls.realloc; break;
    case GH_CALL_FREE: slot = &tc->c->calls.free; break;
    default: return;
    }
    __atomic_store_n(slot, *slot + 1, __ATOMIC_RELAXED);
}

/* Set every bin's bound (gh_tcache_register does; a cache used without the
 * registry - glassheap replay --cache - calls it itself).  pow2: the heap
 * makes power-of-two blocks (buddy), so only those bins are used, each
 * bounded as the fit bins it stands for are together. */
void gh_tcache_init_bins(struct gh_tcache *tc, bool pow2);

/* Register tc (its thread's first use): the snapshot counts it from now;
 * pow2 as for gh_tcache_init_bins. */
void gh_tcache_register(struct gh_tcache *tc, bool pow2);

/* Empty tc: every block goes to release(p) (which frees it into its heap
 * under that heap's lock), newest first; counted as flushed.  Called with
 * no lock held.  The mark of each block is cleared before release. */
void gh_tcache_flush(struct gh_tcache *tc, void (*release)(char *p));

/* Flush (as above), then take tc out of the registry and add its counts to
 * the exited threads' (thread exit); tc is DEAD after. */
void gh_tcache_retire(struct gh_tcache *tc, void (*release)(char *p));

/* The counts of every cache, live and exited, added up into *out (zeroed
 * first).  Takes the registry lock (after any arena lock). */
void gh_tcache_sum(struct gh_tcache_counts *out);

/* In a forked child (one thread, no lock held by anyone else): every cache
 * but keep's is gone; what they held stays cached (counted with the exited
 * threads').  keep may be NULL.  Every count comes home first (the
 * entries are the parent's): gh_tcache_place again for the child's own. */
void gh_tcache_forked(struct gh_tcache *keep);

/* The caches count in place from now on (the process's segment is made;
 * no arena lock needed): the exited threads' counts in *exited, each
 * registered cache and each one registered later in a free entry of the
 * n at `entries` (a thread finding none counts at home and is counted in
 * *unplaced).  A cache that is counting while it moves may lose the counts
 * of that moment (the segment is made at start-up, when there is one
 * thread).  NULL entries: every count comes home (at exit nothing is
 * moved: the segment stays mapped). */
void gh_tcache_place(struct gh_tcache_counts *exited, struct gh_shm_live_cache *entries, unsigned n,
                     uint64_t *unplaced);

#endif
