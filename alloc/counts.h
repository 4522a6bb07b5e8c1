/* counts.h - the API call kinds and what adds call counters up.  The
 * counter structs themselves are glassheap/live.h's: the exports, the
 * per-thread cache (tcache.h) and the snapshot (stats.h) count in the
 * layout readers read in place.
 */
#ifndef GH_COUNTS_H
#define GH_COUNTS_H

#include <stdint.h>

#include "glassheap/live.h" /* struct gh_calls, struct gh_tcache_counts */

/* Which API call a step serves (exports.h counts it). */
enum gh_call_kind {
    GH_CALL_NONE,
    GH_CALL_MALLOC,
    GH_CALL_CALLOC,
    GH_CALL_REALLOC,
    GH_CALL_FREE,
    GH_CALL_ALIGNED,
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
