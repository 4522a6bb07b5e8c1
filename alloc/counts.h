/* counts.h - the API call counters and the cache's counters: what the
 * exports, the per-thread cache (tcache.h) and the snapshot (stats.h) all
 * count in, declared once.
 */
#ifndef GH_COUNTS_H
#define GH_COUNTS_H

#include <stdint.h>

/* Which API call a step serves (exports.h counts it). */
enum gh_call_kind {
    GH_CALL_NONE,
    GH_CALL_MALLOC,
    GH_CALL_CALLOC,
    GH_CALL_REALLOC,
    GH_CALL_FREE,
    GH_CALL_ALIGNED,
};

struct gh_calls {
    uint64_t malloc, calloc, realloc, free, aligned, failed;
    uint64_t realloc_in_place, realloc_moved;
};

/* One thread's cache (tcache.h), or all of them added up. */
struct gh_tcache_counts {
    uint64_t blocks, bytes, requested; /* held now: blocks, whole blocks, what the heap recorded */
    uint64_t hits;                     /* requests served from the cache */
    uint64_t puts;                     /* frees kept in the cache */
    uint64_t flushed;                  /* blocks given back to their heap by a flush */
    uint64_t threads;                  /* caches in use (sum: live threads with one) */
    struct gh_calls calls;             /* API calls served without a lock */
};

/* a += b, field by field. */
static inline void gh_calls_add(struct gh_calls *a, const struct gh_calls *b)
{
    a->malloc += b->malloc;
    a->calloc += b->calloc;
    a->realloc += b->realloc;
    a->free += b->free;
    a->aligned += b->aligned;
    a->failed += b->failed;
    a->realloc_in_place += b->realloc_in_place;
    a->realloc_moved += b->realloc_moved;
}

#endif
