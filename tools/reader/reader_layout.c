/* reader_layout.c - the check of a segment's layout at open
 * (reader_private.h's ghr_validate_header), on the reader's private copy
 * of the header, so that a writer changing the header later cannot move
 * what was checked.
 *
 * Owns the invariants every other reader file relies on:
 *   header_size <= total_size <= file size;
 *   every section the header names - config, counters, map, and when named
 *   (offset and size not both 0) the large-block list, the region table,
 *   the per-arena table, the arena tables and the live section - lies in
 *   [header_size, total_size) and overlaps no other;
 *   each starts 8-aligned where words are loaded from it, holds its head,
 *   and its entries (no smaller than this reader's structs, multiples of 8)
 *   fit: capacity * entry size <= size - head;
 *   counters_size reaches past `answered`; pid > 0.
 * So every 64-bit word the reader loads atomically is aligned and inside the
 * file, and every copy is bounded by min(the reader's struct, the size the
 * header gives).  Never reads the mapping.
 */
#include <stdbool.h>
#include <stddef.h>

#include "reader.h"
#include "reader_private.h"

/* The smallest sizes this reader accepts: the fields it uses (the
 * header's: reader_private.h). */
#define CONFIG_MIN   sizeof(((struct gh_shm_config *)0)->policy)
#define COUNTERS_MIN (offsetof(struct gh_shm_counters, answered) + sizeof(uint64_t))

struct section {
    uint64_t off, size;
};

static bool named(const struct section *s)
{
    return s->off != 0 || s->size != 0;
}

static bool inside(const struct section *s, uint64_t lo, uint64_t hi)
{
    return s->off >= lo && s->off <= hi && s->size <= hi - s->off;
}

static bool disjoint(const struct section *a, const struct section *b)
{
    return a->off + a->size <= b->off || b->off + b->size <= a->off; /* all < 2^33: no overflow */
}

/* A section of a head and `capacity` entries of `entry` bytes (at least
 * `min_entry`): 8-aligned, the head and the entries inside its size. */
static bool entries_fit(const struct section *s, uint64_t head, uint64_t capacity, uint64_t entry,
                        uint64_t min_entry)
{
    return s->off % 8 == 0 && entry % 8 == 0 && entry >= min_entry && s->size >= head &&
           capacity * entry <= s->size - head; /* u32 * u32 fits in u64 */
}

int ghr_validate_header(const struct gh_shm_header *h, size_t fsize)
{
    if (h->header_size < HEADER_MIN)
        return GHR_BAD_LAYOUT;
    if (h->header_size > fsize || h->total_size > fsize)
        return GHR_TRUNCATED;
    if (h->header_size > h->total_size)
        return GHR_BAD_LAYOUT;
    enum { CONFIG, COUNTERS, MAP, LARGE, HEAP, ARENAS, TABLES, LIVE, SECTIONS };
    const struct section s[SECTIONS] = {
        [CONFIG] = { h->config_offset, h->config_size },
        [COUNTERS] = { h->counters_offset, h->counters_size },
        [MAP] = { h->map_offset, h->map_size },
        [LARGE] = { h->large_offset, h->large_size },
        [HEAP] = { h->heap_offset, h->heap_size },
        [ARENAS] = { h->arenas_offset, h->arenas_size },
        [TABLES] = { h->arena_tables_offset, h->arena_tables_size },
        [LIVE] = { h->live_offset, h->live_size },
    };
    /* the first three always, the others when named: inside, apart */
    for (int i = 0; i < SECTIONS; i++) {
        if (i > MAP && !named(&s[i]))
            continue;
        if (!inside(&s[i], h->header_size, h->total_size))
            return GHR_BAD_LAYOUT;
        for (int j = 0; j < i; j++)
            if ((j <= MAP || named(&s[j])) && !disjoint(&s[i], &s[j]))
                return GHR_BAD_LAYOUT;
    }
    if (h->config_size < CONFIG_MIN || h->counters_offset % 8 || h->counters_size < COUNTERS_MIN ||
        !entries_fit(&s[MAP], sizeof(struct gh_shm_map), h->map_capacity, h->block_size, sizeof(struct gh_shm_block)))
        return GHR_BAD_LAYOUT;
    if (h->pid <= 0)
        return GHR_BAD_LAYOUT;   /* kill(0 or -1, ...) means a group */
    if (named(&s[LARGE]) && !entries_fit(&s[LARGE], sizeof(struct gh_shm_large), h->large_capacity,
                                         h->large_block_size, sizeof(struct gh_shm_large_block)))
        return GHR_BAD_LAYOUT;
    /* the region table (walk.h's walker reads it) */
    if (named(&s[HEAP]) && !entries_fit(&s[HEAP], sizeof(struct gh_shm_heap), h->heap_capacity,
                                        h->heap_region_size, sizeof(struct gh_shm_region)))
        return GHR_BAD_LAYOUT;
    if (named(&s[ARENAS]) && !entries_fit(&s[ARENAS], sizeof(struct gh_shm_arenas), h->arenas_capacity,
                                          h->arena_entry_size, sizeof(struct gh_shm_arena)))
        return GHR_BAD_LAYOUT;
    /* the other arenas' region tables: each a head and arena_table_regions
     * entries of the main table's entry size (so the main table must be
     * there too) */
    if (named(&s[TABLES]) &&
        (!named(&s[HEAP]) || s[TABLES].off % 8 || h->arena_table_regions == 0 || h->arena_tables == 0 ||
         h->arena_tables >= GH_SHM_ARENAS_CAPACITY || (uint64_t)h->arena_tables * ghr_table_stride(h) > s[TABLES].size))
        return GHR_BAD_LAYOUT;
    return ghr_validate_live(h);
}
