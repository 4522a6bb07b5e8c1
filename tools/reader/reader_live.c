/* reader_live.c - the counters a process keeps in place, read and added
 * up (reader.h's ghr_live; the layout and its rules: glassheap/live.h).
 *
 * Owns: the check of the live section's place and sizes (at open, through
 * ghr_validate_live), copying each arena's entry between two equal even
 * reads of that arena's seq, and adding every entry, cache and system-call
 * count up into the one struct gh_shm_counters the tools show, with the
 * program's view made by glassheap/live.h's formula.  Never: writes to the
 * segment, trusts a count (sums saturate, the number of arenas is bounded
 * by the section), or waits for the process.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "reader.h"
#include "reader_private.h"

#define LIVE_SPINS   256     /* copies of one arena's entry with a yield now and then, */
#define LIVE_NAPS    500     /* then copies 100 us apart (a writer descheduled inside a call
                                gets 50 ms), before taking it torn */
#define NAP_NS       100000L
#define LIVE_CACHES_MAX 65536u

static bool span_ok(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi)
{
    return off >= lo && off <= hi && len <= hi - off;
}

int ghr_validate_live(const struct gh_shm_header *h)
{
    if (h->live_offset == 0 && h->live_size == 0)
        return GHR_OK;
    if (!span_ok(h->live_offset, h->live_size, h->header_size, h->total_size) || h->live_offset % 8 ||
        h->live_size < sizeof(struct gh_shm_live))
        return GHR_BAD_LAYOUT;
    /* the sections before it end where it starts (the writer appends it last) */
    if (h->arena_tables_size && (uint64_t)h->arena_tables_offset + h->arena_tables_size > h->live_offset)
        return GHR_BAD_LAYOUT;
    return GHR_OK;
}


/* Between two copies: a yield now and then, later a nap; false when done. */
static bool wait_turn(int t)
{
    if (t >= LIVE_SPINS + LIVE_NAPS)
        return false;
    if (t >= LIVE_SPINS) {
        struct timespec ts = { 0, NAP_NS };
        nanosleep(&ts, NULL);
    } else if (t && t % 16 == 0) {
        sched_yield();
    }
    return true;
}

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* a += b, word by word, saturating (n words). */
static void add_words(uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = sat_add(a[i], b[i]);
}

/* The live head, checked: entry sizes no smaller than this reader's, and
 * the entries inside the section.  GHR_OK, or GHR_BAD_LAYOUT. */
static int live_head(const struct ghr_segment *seg, struct gh_shm_live *v)
{
    const struct gh_shm_header *h = &seg->hdr;
    ghr_load_words(v, seg->base + h->live_offset, sizeof *v);
    if (v->arena_size < sizeof(struct gh_shm_live_arena) || v->arena_size % 8 ||
        v->cache_size < sizeof(struct gh_shm_live_cache) || v->cache_size % 8 || v->arenas == 0 ||
        v->arenas > GH_SHM_ARENAS_CAPACITY || v->caches > LIVE_CACHES_MAX)
        return GHR_BAD_LAYOUT;
    uint64_t need = sizeof *v + (uint64_t)v->arenas * v->arena_size + (uint64_t)v->caches * v->cache_size;
    return need <= h->live_size ? GHR_OK : GHR_BAD_LAYOUT;
}

uint64_t ghr_arena_seq_offset(const struct ghr_segment *seg, uint64_t k)
{
    const struct gh_shm_header *h = &seg->hdr;
    struct gh_shm_live v;
    if (h->live_offset == 0 || live_head(seg, &v) != GHR_OK || k >= v.arenas)
        return 0;
    return h->live_offset + sizeof v + k * v.arena_size + offsetof(struct gh_shm_live_arena, seq);
}

/* Copy n bytes from `from` to `to` (and, when n2, n2 more from `from2` to
 * `to2`) between two equal even reads of the sequence word at seq,
 * waiting turns for a writer inside; false when every try found it odd or
 * moving (the copies then hold the last try). */
static bool copy_under(const uint8_t *seq, void *to, const uint8_t *from, size_t n, void *to2, const uint8_t *from2,
                       size_t n2)
{
    for (int t = 0; wait_turn(t); t++) {
        uint64_t s1 = ghr_load_seq(seq);
        ghr_load_words(to, from, n);
        if (n2)
            ghr_load_words(to2, from2, n2);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint64_t s2 = __atomic_load_n((const uint64_t *)(const void *)seq, __ATOMIC_RELAXED);
        if (!(s1 & 1) && s1 == s2)
            return true;
    }
    return false;
}

/* Arena k's entry and its region count at one moment of its seq. */
static bool copy_arena(const struct ghr_segment *seg, const struct gh_shm_live *v, uint64_t k,
                       struct gh_shm_live_arena *e, uint64_t *regions)
{
    const struct gh_shm_header *h = &seg->hdr;
    const uint8_t *tab = seg->base + ghr_table_offset(h, k);
    const uint8_t *at = seg->base + h->live_offset + sizeof *v + k * v->arena_size;
    return copy_under(at + offsetof(struct gh_shm_live_arena, seq), e, at, sizeof *e, regions,
                      tab + offsetof(struct gh_shm_heap, total), sizeof *regions);
}

/* The large words of the head at one moment of the large list's seq. */
static bool copy_large(const struct ghr_segment *seg, struct gh_shm_live *v)
{
    const struct gh_shm_header *h = &seg->hdr;
    if (h->large_offset == 0)
        return false;
    const uint8_t *list = seg->base + h->large_offset;
    return copy_under(list + offsetof(struct gh_shm_large, seq), v, seg->base + h->live_offset, sizeof *v, NULL,
                      NULL, 0)
        && v->mmap_threshold_now != 0; /* 0: never written (no large words yet) */
}

int ghr_live(const struct ghr_segment *seg, struct gh_shm_counters *c, struct gh_shm_arena *arenas, size_t cap,
             size_t *narenas, struct ghr_live_info *info)
{
    memset(info, 0, sizeof *info);
    if (narenas)
        *narenas = 0;
    if (!seg || seg->bad_version || !seg->base)
        return GHR_NO_SEGMENT;
    int rc = ghr_still_whole(seg);
    if (rc != GHR_OK)
        return rc;
    const struct gh_shm_header *h = &seg->hdr;
    if (h->live_offset == 0) {
        info->absent = true;
        return GHR_OK;
    }
    struct gh_shm_live v;
    if ((rc = live_head(seg, &v)) != GHR_OK)
        return rc;
    if (h->heap_offset == 0)
        return GHR_BAD_LAYOUT; /* the arena count lives in the main region table */
    uint64_t n = ghr_load_seq(seg->base + h->heap_offset + offsetof(struct gh_shm_heap, arenas));
    if (n == 0)
        n = 1;
    if (n > v.arenas)
        n = v.arenas;
    while (n > 1 && ghr_table_offset(h, n - 1) == 0)
        n--;

    struct gh_heap_counters heap;
    struct gh_calls calls;
    memset(&heap, 0, sizeof heap);
    memset(&calls, 0, sizeof calls);
    uint64_t regions = 0;
    for (uint64_t k = 0; k < n; k++) {
        struct gh_shm_live_arena e;
        uint64_t r;
        if (!copy_arena(seg, &v, k, &e, &r)) {
            info->torn++;
        } else if (sat_add(sat_add(e.heap.live_block_bytes, e.heap.free_bytes), e.heap.overhead_bytes)
                       > e.heap.heap_bytes ||
                   e.heap.live_requested > e.heap.live_block_bytes) {
            return GHR_BAD_LAYOUT; /* a heap's own counters never say this */
        }
        add_words((uint64_t *)&heap, (const uint64_t *)&e.heap, sizeof heap / 8);
        add_words((uint64_t *)&calls, (const uint64_t *)&e.calls, sizeof calls / 8);
        regions = sat_add(regions, r);
        if (arenas && k < cap) {
            struct gh_shm_arena *a = &arenas[k];
            uint64_t fb = 0;
            for (unsigned i = 0; i < GH_LIVE_HIST; i++)
                fb = sat_add(fb, e.heap.free_hist[i]);
            /* the largest free block is not a counter: the caller keeps
             * what the process published (or walks the heap) */
            a->index = (uint32_t)k;
            a->threads = e.threads;
            a->calls = sat_add(sat_add(sat_add(e.calls.malloc, e.calls.calloc), sat_add(e.calls.realloc, e.calls.free)),
                               e.calls.aligned);
            a->used_blocks = e.heap.live_blocks;
            a->used_block_bytes = e.heap.live_block_bytes;
            a->used_requested = e.heap.live_requested;
            a->free_blocks = fb;
            a->free_bytes = e.heap.free_bytes;
            if (a->largest_free > a->free_bytes)
                a->largest_free = a->free_bytes;
            a->heap_bytes = e.heap.heap_bytes;
            a->overhead_bytes = e.heap.overhead_bytes;
            a->regions = r;
            a->peak_heap_bytes = e.heap.peak_heap_bytes;
            if (narenas)
                *narenas = (size_t)k + 1;
        }
    }
    info->arenas = (unsigned)n;

    /* the threads' caches: each entry written by its thread alone */
    struct gh_tcache_counts cache;
    ghr_load_words(&cache, seg->base + h->live_offset + offsetof(struct gh_shm_live, exited), sizeof cache);
    const uint8_t *ce = seg->base + h->live_offset + sizeof v + (uint64_t)v.arenas * v.arena_size;
    for (uint64_t i = 0; i < v.caches; i++) {
        const uint8_t *at = ce + i * v.cache_size;
        if (ghr_load_seq(at + offsetof(struct gh_shm_live_cache, in_use)) != 1)
            continue;
        struct gh_tcache_counts t;
        ghr_load_words(&t, at + offsetof(struct gh_shm_live_cache, c), sizeof t);
        add_words((uint64_t *)&cache, (const uint64_t *)&t, sizeof t / 8);
        info->caches++;
    }
    info->caches_unplaced = v.caches_unplaced;
    add_words((uint64_t *)&calls, (const uint64_t *)&cache.calls, sizeof calls / 8);
    /* a cache read a moment after its heap may hold a block the heap has
     * already taken back: never more than the heaps hold */
    if (cache.blocks > heap.live_blocks)
        cache.blocks = heap.live_blocks;
    if (cache.bytes > heap.live_block_bytes)
        cache.bytes = heap.live_block_bytes;
    if (cache.requested > heap.live_requested)
        cache.requested = heap.live_requested;

    struct gh_harden_counts q = v.harden;
    if (q.on)
        q.canary_bytes = sat_add(q.canary_bytes, v.large_canary_bytes);
    gh_live_program_view(&heap, &q, &cache);

    c->malloc_calls = calls.malloc;
    c->calloc_calls = calls.calloc;
    c->realloc_calls = calls.realloc;
    c->realloc_in_place = calls.realloc_in_place;
    c->realloc_moved = calls.realloc_moved;
    c->free_calls = calls.free;
    c->aligned_calls = calls.aligned;
    c->failed_calls = calls.failed;
    const struct gh_os_counts *os = &v.os;
    c->brk_calls = os->brk_calls;
    c->brk_grow_bytes = os->brk_grow_bytes;
    c->brk_shrink_bytes = os->brk_shrink_bytes;
    c->mmap_calls = os->mmap_calls;
    c->mmap_bytes = os->mmap_bytes;
    c->munmap_calls = os->munmap_calls;
    c->munmap_bytes = os->munmap_bytes;
    c->mremap_calls = os->mremap_calls;
    c->mremap_bytes = os->mremap_bytes;
    c->madvise_calls = os->madvise_calls;
    c->madvise_bytes = os->madvise_bytes;
    c->trims = heap.trims;
    c->trimmed_bytes = heap.trimmed_bytes;
    c->live_requested = heap.live_requested;
    c->live_block_bytes = heap.live_block_bytes;
    c->live_blocks = heap.live_blocks;
    c->free_bytes = heap.free_bytes;
    uint64_t fb = 0;
    for (unsigned i = 0; i < GH_LIVE_HIST && i < GH_SHM_HIST_BUCKETS; i++) {
        c->free_hist[i] = heap.free_hist[i];
        fb = sat_add(fb, heap.free_hist[i]);
    }
    c->free_blocks = fb;
    /* buddy: every block is a power of two, so bucket k of the histogram
     * is order k (the configuration says buddy by its largest order) */
    struct gh_shm_config cfg;
    if (ghr_config(seg, &cfg) == GHR_OK && cfg.buddy_max_order)
        for (unsigned i = 0; i < GH_SHM_ORDERS && i < GH_LIVE_HIST; i++)
            c->buddy_free[i] = heap.free_hist[i];
    if (c->largest_free > c->free_bytes)
        c->largest_free = c->free_bytes;  /* kept from the publish: bounded by what is free now */
    c->heap_bytes = heap.heap_bytes;
    c->overhead_bytes = heap.overhead_bytes;
    c->regions = regions;
    c->peak_requested = heap.peak_requested;
    c->peak_block_bytes = heap.peak_block_bytes;
    c->peak_heap_bytes = heap.peak_heap_bytes;
    c->harden_on = q.on;
    c->quarantined_blocks = q.quarantined_blocks;
    c->quarantined_bytes = q.quarantined_bytes;
    c->quarantined_requested = q.quarantined_requested;
    c->canary_bytes = q.canary_bytes;
    c->zero_blocks = q.zero_blocks;
    c->cached_blocks = cache.blocks;
    c->cached_bytes = cache.bytes;
    c->cached_requested = cache.requested;
    c->cache_hits = cache.hits;
    c->arenas = n;

    struct gh_shm_live lv;
    if (copy_large(seg, &lv)) {
        info->large = true;
        c->large_blocks = lv.large_blocks;
        c->large_bytes = lv.large_bytes;
        c->large_requested = lv.large_requested;
        c->peak_large_bytes = lv.large_peak_bytes;
        c->large_cached_blocks = lv.large_cached_blocks;
        c->large_cached_bytes = lv.large_cached_bytes;
        c->large_reused = lv.large_reused;
        c->mmap_threshold_now = lv.mmap_threshold_now;
        c->mmap_threshold_dynamic = lv.mmap_threshold_dynamic;
        c->mmap_threshold_rises = lv.mmap_threshold_rises;
    }
    info->in_place = true;
    return ghr_still_whole(seg);
}
