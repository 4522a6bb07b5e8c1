/* heapmap.c - hm_fetch and hm_build (heapmap.h): the heap map of a
 * segment, its blocks cleaned and its regions derived. */
#include "heapmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
