/* stats_probe_preload.c - gh_stats_probe preload: the helper's script, every counter delta and the heap map predicted by hand (stats_probe.c tells the whole story). */
#include "stats_probe.h"

/* ---- 2. the script, predicted -------------------------------------------- *
 *
 * The helper's heap is empty when it says "ready" (checked): the script's
 * first malloc makes the heap.  Fit policies: the break grows by
 * round_up(128 + 64 + 128K top pad, 4K) = 135168, one region at a page
 * boundary R, blocks from R + 48 (offsets below are from there):
 *
 *   a = malloc(100)        128  at 0
 *   b = calloc(25, 40)     1024 at 128
 *   c = malloc(3000)       3024 at 1152
 *   d = malloc(200)        224  at 4176        top block (4400, 130704)
 *   free(b)                hole (128, 1024)
 *   e = malloc(500)        528: first, best: at 128 (hole 656,496 left);
 *                          worst, next (rover at d): from the top, at 4400
 *   realloc(c, 1000)       in place: 1024, tail (2176, 2000) free
 *   posix_memalign(64,300) 320, searched as 432: first, best: the 496 hole
 *                          at 656 -> payload R+768: gap (656,48) free, block
 *                          704, rest (1024,128) free; worst, next: the top
 *                          at 4928, already aligned
 *   g = malloc(200000)     a mapping of 200704
 *   realloc(a, 150000)     a mapping of 151552; a's 128 freed (worst, next:
 *                          merges with the 1024 hole -> (0,1152))
 *   h = realloc(NULL, 64)  80: first, best: at 0, (80,48) left; worst, next:
 *                          top, at 5248
 *   free(d)                first, best: joins (2176,2000) and the top;
 *                          worst, next: joins (2176,2000) -> (2176,2224)
 *   free(g)                unmapped; the dynamic mmap threshold rises to
 *                          200704 (its mapping), the trim threshold to 401408
 *
 * Buddy: max order 20 (smallest 2^k >= 128K + 16, at least 2^20); the break
 * grows by 48 + 2^20; a 128, b 1024, c 4096 -> 1024 in place, d 256,
 * e 1024 (b's block again), f 512 (payload aligned already), h 128 (a's
 * merged order-8 block split again); see the map below. */

struct want_block {
    uint64_t off, size, requested;
    uint32_t state;
};

#define U GH_SHM_BLOCK_USED
#define F GH_SHM_BLOCK_FREE
static const struct want_block map_first_best[] = {
    { 0, 80, 64, U }, { 80, 48, 0, F }, { 128, 528, 500, U }, { 656, 48, 0, F },
    { 704, 320, 300, U }, { 1024, 128, 0, F }, { 1152, 1024, 1000, U }, { 2176, 132928, 0, F },
};
static const struct want_block map_worst_next[] = {
    { 0, 1152, 0, F }, { 1152, 1024, 1000, U }, { 2176, 2224, 0, F }, { 4400, 528, 500, U },
    { 4928, 320, 300, U }, { 5248, 80, 64, U }, { 5328, 129776, 0, F },
};
static const struct want_block map_buddy[] = {
    { 0, 128, 64, U }, { 128, 128, 0, F }, { 256, 256, 0, F }, { 512, 512, 300, U },
    { 1024, 1024, 500, U }, { 2048, 2048, 0, F }, { 4096, 1024, 1000, U }, { 5120, 1024, 0, F },
    { 6144, 2048, 0, F }, { 8192, 8192, 0, F }, { 16384, 16384, 0, F }, { 32768, 32768, 0, F },
    { 65536, 65536, 0, F }, { 131072, 131072, 0, F }, { 262144, 262144, 0, F },
    { 524288, 524288, 0, F },
};
#undef U
#undef F

/* One expected delta: the counter's name, what it moved by, what it should. */
#define DELTA(field, want)                                                                  \
    do {                                                                                    \
        uint64_t d_ = c1.field - c0.field;                                                  \
        if (d_ != (uint64_t)(want)) {                                                       \
            fprintf(stderr, "%s: delta of %s is %llu, expected %llu\n", policy, #field,     \
                    (unsigned long long)d_, (unsigned long long)(want));                    \
            bad++;                                                                          \
        }                                                                                   \
    } while (0)

void test_preload(void **state)
{
    (void)state;
    bool buddy = is_buddy();
    bool low_first = !buddy && (strcmp(policy, "first") == 0 || strcmp(policy, "best") == 0);
    uint64_t t0 = real_ns();
    char *args[] = { "stats_helper", "script", NULL };
    struct proc *p = spawn(args, true);
    expect_line(p, "ready");
    struct ghr_segment *seg = open_seg(p->pid);
    check_header(seg, p->pid, t0);
    check_config(seg, "script");

    struct gh_shm_counters c0, c1;
    get_counters(seg, &c0);
    /* The precondition of every prediction: nothing allocated yet. */
    if (c0.heap_bytes || c0.live_blocks || c0.regions || c0.large_blocks)
        fail_msg("the helper's heap is not empty at 'ready' (heap %llu, %llu blocks): the "
                 "predictions assume it is", (unsigned long long)c0.heap_bytes,
                 (unsigned long long)c0.live_blocks);

    send_line(p);
    expect_line(p, "done");
    get_counters(seg, &c1);
    assert_true(c1.publishes > c0.publishes);
    assert_true(c1.time_ns >= c0.time_ns);

    int bad = 0;
    uint64_t heap = buddy ? BUDDY_REGION_HEADER + (1u << 20) : 135168;
    /* API calls: each call counts once, under its own name (a moving
     * realloc and realloc(p, 0) are realloc calls, not free calls). */
    DELTA(malloc_calls, 5);
    DELTA(calloc_calls, 1);
    DELTA(realloc_calls, 3);
    DELTA(realloc_in_place, 1);
    DELTA(realloc_moved, 1);
    DELTA(free_calls, 3); /* free() calls only: a moving realloc is a realloc */
    DELTA(aligned_calls, 1);
    DELTA(failed_calls, 0);
    /* System calls. */
    DELTA(brk_calls, 1);
    DELTA(brk_grow_bytes, heap);
    DELTA(brk_shrink_bytes, 0);
    DELTA(mmap_calls, 2);
    DELTA(mmap_bytes, 200704 + 151552);
    DELTA(munmap_calls, 1);
    DELTA(munmap_bytes, 200704);
    DELTA(mremap_calls, 0);
    DELTA(madvise_calls, 0);
    DELTA(madvise_bytes, 0);
    DELTA(trims, 0);
    DELTA(trimmed_bytes, 0);
    /* The heap now. */
    DELTA(live_requested, 64 + 500 + 300 + 1000);
    DELTA(live_block_bytes, buddy ? 128 + 1024 + 512 + 1024 : 80 + 528 + 320 + 1024);
    DELTA(live_blocks, 4);
    DELTA(free_bytes, buddy ? (1u << 20) - 2688 : 135104 - 1952);
    DELTA(free_blocks, buddy ? 12 : low_first ? 4 : 3);
    DELTA(largest_free, buddy ? 524288 : low_first ? 132928 : 129776);
    DELTA(heap_bytes, heap);
    DELTA(overhead_bytes, buddy ? BUDDY_REGION_HEADER : FIT_REGION_OVERHEAD);
    DELTA(regions, 1);
    /* Large blocks: a's new mapping stays, g's is gone. */
    DELTA(large_requested, 150000);
    DELTA(large_bytes, 151552);
    DELTA(large_blocks, 1);
    /* Peaks (from 0): requested after d = 100+1000+3000+200; blocks then
     * (buddy: after e, 128+4096+256+1024); the heap never shrank. */
    DELTA(peak_requested, 4300);
    DELTA(peak_block_bytes, buddy ? 5504 : 4400);
    DELTA(peak_heap_bytes, heap);
    DELTA(peak_large_bytes, 200704 + 151552);
    /* The dynamic mmap threshold (alloc/front.h): free(g) raised it to
     * g's mapping; the moving realloc of a (a heap block) did not. */
    DELTA(mmap_threshold_rises, 1);
    if (c0.mmap_threshold_now != 128u * 1024u || c1.mmap_threshold_now != 200704 || !c1.mmap_threshold_dynamic) {
        fprintf(stderr, "mmap threshold: %llu -> %llu, dynamic %llu; want 131072 -> 200704, dynamic\n",
                (unsigned long long)c0.mmap_threshold_now, (unsigned long long)c1.mmap_threshold_now,
                (unsigned long long)c1.mmap_threshold_dynamic);
        bad++;
    }
    if (bad)
        fail_msg("%d counter deltas differ (listed above)", bad);

    /* The histogram moved by exactly the free blocks of the map. */
    uint64_t want_hist[GH_SHM_HIST_BUCKETS] = { 0 };
    const struct want_block *wm = buddy ? map_buddy : low_first ? map_first_best : map_worst_next;
    size_t nwm = buddy ? sizeof map_buddy / sizeof map_buddy[0]
               : low_first ? sizeof map_first_best / sizeof map_first_best[0]
               : sizeof map_worst_next / sizeof map_worst_next[0];
    for (size_t i = 0; i < nwm; i++)
        if (wm[i].state == GH_SHM_BLOCK_FREE)
            want_hist[63 - __builtin_clzll(wm[i].size)]++;
    for (unsigned k = 0; k < GH_SHM_HIST_BUCKETS; k++) {
        if (c1.free_hist[k] - c0.free_hist[k] != want_hist[k])
            fail_msg("free_hist[%u] moved by %lld, expected %llu", k,
                     (long long)(c1.free_hist[k] - c0.free_hist[k]), (unsigned long long)want_hist[k]);
        uint64_t want_order = buddy && k < GH_SHM_ORDERS ? want_hist[k] : 0;
        if (k < GH_SHM_ORDERS && c1.buddy_free[k] - c0.buddy_free[k] != want_order)
            fail_msg("buddy_free[%u] moved by %lld, expected %llu", k,
                     (long long)(c1.buddy_free[k] - c0.buddy_free[k]), (unsigned long long)want_order);
    }
    struct ghr_frag fr;
    ghr_fragmentation(&c1, &fr);
    assert_true(fabs(fr.internal - (1.0 - (double)c1.live_requested / (double)c1.live_block_bytes)) < 1e-12);
    assert_true(fabs(fr.external - (1.0 - (double)c1.largest_free / (double)c1.free_bytes)) < 1e-12);

    /* The map: exactly the blocks above, the first at a page boundary + 48. */
    static struct gh_shm_block blocks[64];
    size_t n = 0;
    uint64_t total = 0;
    int rc = ghr_map(seg, ANSWER_TIMEOUT_MS, blocks, 64, &n, &total);
    if (rc != GHR_OK)
        fail_msg("ghr_map: %s", ghr_strerror((enum ghr_error)rc));
    assert_int_equal(total, n);
    assert_int_equal(n, nwm);
    uint64_t base = blocks[0].addr;
    assert_int_equal(base % 4096, 48);
    for (size_t i = 0; i < n; i++) {
        const struct gh_shm_block *b = &blocks[i];
        if (b->addr - base != wm[i].off || b->size != wm[i].size || b->requested != wm[i].requested
            || b->state != wm[i].state || b->region != 0)
            fail_msg("map block %zu is (%llu, %llu, %llu, %s, region %u), expected (%llu, %llu, %llu, %s)", i,
                     (unsigned long long)(b->addr - base), (unsigned long long)b->size,
                     (unsigned long long)b->requested, b->state == GH_SHM_BLOCK_FREE ? "free" : "used",
                     b->region, (unsigned long long)wm[i].off, (unsigned long long)wm[i].size,
                     (unsigned long long)wm[i].requested, wm[i].state == GH_SHM_BLOCK_FREE ? "free" : "used");
    }
    uint64_t hs, he;
    map_bounds(p->pid, &hs, &he);
    assert_int_equal(hs, base - 48);
    assert_int_equal(he, hs + heap);

    send_line(p);
    expect_clean_exit(p);
    assert_false(seg_exists(tracked[0]));
    assert_int_equal(ghr_check(seg), GHR_STALE);
    ghr_close(seg);
}

