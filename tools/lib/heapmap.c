/* heapmap.c - hm_fetch and hm_build (heapmap.h): the heap map of a
 * segment, its blocks cleaned and its regions derived; hm_from_walk and
 * hm_fetch_from: the map walked from outside (walk.h), the request
 * protocol as the fallback. */
#include "heapmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

#define HM_SANE_GAP (1u << 16) /* a region record or end marker is never this big */

void hm_free(struct heapmap *m)
{
    free(m->blocks);
    free(m->regions);
    memset(m, 0, sizeof *m);
}

static int cmp_addr(const void *a, const void *b)
{
    const struct gh_shm_block *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int hm_build(struct gh_shm_block *blocks, size_t n, uint64_t total, uint32_t header_bytes, bool have_bounds,
             uint64_t lo, uint64_t hi, struct heapmap *m)
{
    memset(m, 0, sizeof *m);
    m->blocks = blocks;
    m->n = n;
    m->total = total;
    qsort(m->blocks, m->n, sizeof *m->blocks, cmp_addr);
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct gh_shm_block b = m->blocks[i];
        if (b.size == 0 || b.addr + b.size < b.addr)
            continue;
        if (k && b.addr < m->blocks[k - 1].addr + m->blocks[k - 1].size)
            continue;
        if (b.state == GH_SHM_BLOCK_FREE || b.requested > b.size)
            b.requested = b.state == GH_SHM_BLOCK_FREE ? 0 : b.size;
        m->blocks[k++] = b;
    }
    m->n = k;
    if (m->total < m->n)
        m->total = m->n;
    if (!m->n)
        return GHR_OK;

    uint64_t first = m->blocks[0].addr;
    uint64_t last_end = m->blocks[m->n - 1].addr + m->blocks[m->n - 1].size;
    uint64_t record = 0, marker = header_bytes;
    if (have_bounds) {
        if (lo <= first && first - lo < HM_SANE_GAP)
            record = first - lo;
        if (hi >= last_end && hi - last_end < HM_SANE_GAP && m->total == m->n)
            marker = hi - last_end;
    }
    m->heap_start = first - record;

    m->regions = calloc(m->n, sizeof *m->regions);
    if (!m->regions) {
        hm_free(m);
        return GHR_IO;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (i && m->blocks[i].region == m->blocks[i - 1].region) {
            m->regions[m->nregions - 1].n++;
            continue;
        }
        struct hm_region *r = &m->regions[m->nregions++];
        r->first = i;
        r->n = 1;
        r->start = m->blocks[i].addr >= record ? m->blocks[i].addr - record : m->blocks[i].addr;
    }
    for (size_t j = 0; j < m->nregions; j++) {
        struct hm_region *r = &m->regions[j];
        const struct gh_shm_block *b = &m->blocks[r->first + r->n - 1];
        r->end = b->addr + b->size + (j + 1 == m->nregions ? marker : header_bytes);
        if (j + 1 < m->nregions && r->end > m->regions[j + 1].start)
            r->end = m->regions[j + 1].start;
        if (j && r->start < m->regions[j - 1].end)
            r->start = m->regions[j - 1].end;
    }
    m->heap_end = m->regions[m->nregions - 1].end;
    return GHR_OK;
}

int hm_fetch(struct ghr_segment *seg, int timeout_ms, uint32_t header_bytes, struct heapmap *m)
{
    memset(m, 0, sizeof *m);
    const struct gh_shm_header *h = ghr_header(seg);
    size_t cap = h && h->map_capacity ? h->map_capacity : GH_SHM_MAP_CAPACITY;
    struct gh_shm_block *blocks = calloc(cap, sizeof *blocks);
    if (!blocks)
        return GHR_IO;
    size_t n = 0;
    uint64_t total = 0;
    int rc = ghr_map(seg, timeout_ms, blocks, cap, &n, &total);
    if (rc != GHR_OK) {
        free(blocks);
        return rc;
    }
    struct gh_shm_map head;
    bool have_bounds = ghr_map_head(seg, &head) == GHR_OK;
    return hm_build(blocks, n, total, header_bytes, have_bounds, have_bounds ? head.heap_start : 0,
                    have_bounds ? head.heap_end : 0, m);
}

bool hm_parse_mode(const char *s, enum hm_mode *mode)
{
    if (!strcmp(s, "auto"))
        *mode = HM_AUTO;
    else if (!strcmp(s, "outside"))
        *mode = HM_OUTSIDE;
    else if (!strcmp(s, "process"))
        *mode = HM_REQUEST;
    else
        return false;
    return true;
}

int hm_from_walk(struct ghw_heap *w, struct heapmap *m)
{
    memset(m, 0, sizeof *m);
    m->blocks = w->blocks;
    w->blocks = NULL;
    m->n = w->n;
    m->total = w->total;
    if (!w->nregions)
        return GHR_OK;
    m->regions = calloc(w->nregions, sizeof *m->regions);
    if (!m->regions) {
        hm_free(m);
        return GHR_IO;
    }
    for (size_t i = 0; i < w->nregions; i++) {
        const struct ghw_region *g = &w->regions[i];
        if (!g->n)
            continue;        /* no block kept (none, or past the cap): not drawn */
        m->regions[m->nregions++] = (struct hm_region){ g->base, g->base + g->len, g->first, g->n, g->arena };
    }
    m->arenas_known = true;
    if (m->nregions) {
        m->heap_start = m->regions[0].start;
        m->heap_end = m->regions[m->nregions - 1].end;
    }
    return GHR_OK;
}

int hm_fetch_from(struct ghr_segment *seg, enum hm_mode mode, int timeout_ms, uint32_t header_bytes,
                  struct heapmap *m, struct hm_source *src, struct ghw_heap *figures)
{
    memset(src, 0, sizeof *src);
    memset(m, 0, sizeof *m);
    if (mode != HM_REQUEST) {
        struct ghw_heap w;
        const struct gh_shm_header *h = ghr_header(seg);
        size_t cap = h && h->map_capacity ? h->map_capacity : GH_SHM_MAP_CAPACITY;
        src->walk_rc = ghw_walk_segment(seg, cap, &w);
        if (src->walk_rc == GHW_OK) {
            src->outside = true;
            int rc = hm_from_walk(&w, m);
            if (figures) {
                *figures = w;
                figures->blocks = NULL;
                figures->regions = NULL;
            }
            ghw_free(&w);
            return rc;
        }
        snprintf(src->why, sizeof src->why, "%s", w.why);
        if (mode == HM_OUTSIDE)
            return HM_WALK_FAILED;
        src->fell_back = true;
    }
    return hm_fetch(seg, timeout_ms, header_bytes, m);
}

static uint64_t less(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

void hm_overlay_counters(const struct ghw_heap *w, struct gh_shm_counters *c, bool cached_in_place)
{
    /* Hardened: the quarantine's blocks are in use for the heap, a term
     * of their own in the counters (the segment's figure for it). */
    bool q = c->harden_on != 0;
    /* A block in a thread's cache is in use for the heap, and only the
     * process can tell it (its mark is keyed by the process's secret).
     * Counted in place, the cached figures are current: they leave the
     * walk's used blocks (never more than those).  Else (published, maybe
     * stale) cached blocks count as live and none as cached.  Either way
     * live + cached + free + overhead = heap holds for the walk. */
    if (!cached_in_place)
        c->cached_blocks = c->cached_bytes = c->cached_requested = 0;
    c->cached_blocks = c->cached_blocks < w->used_blocks ? c->cached_blocks : w->used_blocks;
    c->cached_bytes = c->cached_bytes < w->used_bytes ? c->cached_bytes : w->used_bytes;
    c->cached_requested = c->cached_requested < w->live_requested ? c->cached_requested : w->live_requested;
    c->live_requested = less(less(w->live_requested, q ? c->quarantined_requested : 0), c->cached_requested);
    c->live_block_bytes = less(less(w->used_bytes, q ? c->quarantined_bytes : 0), c->cached_bytes);
    c->live_blocks = less(less(w->used_blocks, q ? c->quarantined_blocks : 0), c->cached_blocks);
    c->free_bytes = w->free_bytes;
    c->free_blocks = w->free_blocks;
    c->largest_free = w->largest_free;
    c->heap_bytes = w->heap_bytes;
    c->overhead_bytes = w->overhead_bytes;
    c->regions = w->nregions;
    memcpy(c->free_hist, w->free_hist, sizeof c->free_hist);
    memcpy(c->buddy_free, w->buddy_free, sizeof c->buddy_free);
}

void hm_overlay_large(const struct gh_shm_large_block *v, size_t n, uint64_t total, struct gh_shm_counters *c)
{
    c->large_blocks = total;
    if (n != total)
        return;
    uint64_t bytes = 0, requested = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += v[i].map_len;
        requested += v[i].requested;
    }
    c->large_bytes = bytes;
    c->large_requested = requested;
}

bool hm_overlay_large_of(const struct ghr_segment *seg, struct gh_shm_counters *c)
{
    const struct gh_shm_header *h = ghr_header(seg);
    size_t cap = h ? h->large_capacity : 0, n = 0;
    uint64_t total = 0;
    struct gh_shm_large_block *v = cap ? calloc(cap, sizeof *v) : NULL;
    bool ok = v && ghr_large(seg, v, cap, &n, &total) == GHR_OK;
    if (ok)
        hm_overlay_large(v, n, total, c);
    free(v);
    return ok;
}

int hm_counters_now(const struct ghr_segment *seg, const struct ghw_heap *w, struct gh_shm_counters *c,
                    struct gh_shm_arena *arenas, size_t cap, size_t *narenas, struct hm_now_info *info)
{
    memset(info, 0, sizeof *info);
    size_t n = 0, nlive = 0;
    int rc = ghr_counters(seg, c);
    if (rc == GHR_OK && arenas)
        rc = ghr_arenas(seg, arenas, cap, &n);
    if (rc == GHR_OK)
        rc = ghr_live(seg, c, arenas, arenas ? cap : 0, &nlive, &info->live);
    if (rc != GHR_OK) {
        if (narenas)
            *narenas = 0;
        return rc;
    }
    info->published_ns = c->time_ns;
    if (info->live.in_place) {
        c->time_ns = gh_now_ns();
        if (nlive > n)
            n = nlive;
    }
    if (w) {
        hm_overlay_counters(w, c, info->live.in_place);
        if (!info->live.large)
            hm_overlay_large_of(seg, c); /* the large-block list is as current as the table */
        for (size_t k = 0; arenas && k < n && k < w->arenas_walked; k++)
            arenas[k].largest_free = w->arena_largest[k];
    }
    if (narenas)
        *narenas = n;
    return GHR_OK;
}
