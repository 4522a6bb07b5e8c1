/* stats_probe_live.c - gh_stats_probe live: hundreds of snapshots and maps of a churning two-thread helper, each consistent (stats_probe.c tells the whole story). */
#include "stats_probe.h"

/* ---- 3. live reading ------------------------------------------------------ */

/* One snapshot; prev is the one before (NULL: none).  fresh: it answered a
 * request of ours, so the writer published since prev. */
static void check_snapshot(const struct gh_shm_counters *c, const struct gh_shm_counters *prev, unsigned i,
                           bool fresh)
{
#define INV(cond, ...) do { if (!(cond)) fail_msg("snapshot %u: " __VA_ARGS__); } while (0)
    INV(c->live_block_bytes + c->cached_bytes + c->free_bytes + c->overhead_bytes == c->heap_bytes,
        "live %llu + cached %llu + free %llu + overhead %llu != heap %llu", i,
        (unsigned long long)c->live_block_bytes, (unsigned long long)c->cached_bytes,
        (unsigned long long)c->free_bytes, (unsigned long long)c->overhead_bytes, (unsigned long long)c->heap_bytes);
    INV(c->cache_on || c->cached_bytes == 0, "cached %llu B with the cache off", i,
        (unsigned long long)c->cached_bytes);
    INV(c->largest_free <= c->free_bytes, "largest free %llu > free %llu", i,
        (unsigned long long)c->largest_free, (unsigned long long)c->free_bytes);
    INV((c->free_blocks == 0) == (c->free_bytes == 0), "free blocks %llu, free bytes %llu", i,
        (unsigned long long)c->free_blocks, (unsigned long long)c->free_bytes);
    INV(c->live_requested <= c->live_block_bytes, "requested %llu > block bytes %llu", i,
        (unsigned long long)c->live_requested, (unsigned long long)c->live_block_bytes);
    INV(c->peak_requested >= c->live_requested, "peak requested %llu < %llu", i,
        (unsigned long long)c->peak_requested, (unsigned long long)c->live_requested);
    INV(c->peak_block_bytes >= c->live_block_bytes, "peak block bytes %llu < %llu", i,
        (unsigned long long)c->peak_block_bytes, (unsigned long long)c->live_block_bytes);
    INV(c->peak_heap_bytes >= c->heap_bytes, "peak heap %llu < %llu", i,
        (unsigned long long)c->peak_heap_bytes, (unsigned long long)c->heap_bytes);
    INV(c->peak_large_bytes >= c->large_bytes, "peak large %llu < %llu", i,
        (unsigned long long)c->peak_large_bytes, (unsigned long long)c->large_bytes);
    INV(c->large_requested <= c->large_bytes, "large requested %llu > large bytes %llu", i,
        (unsigned long long)c->large_requested, (unsigned long long)c->large_bytes);
    uint64_t hist = 0, hist_bytes_lo = 0;
    for (unsigned k = 0; k < GH_SHM_HIST_BUCKETS; k++) {
        hist += c->free_hist[k];
        hist_bytes_lo += c->free_hist[k] << k;   /* each block >= 2^k */
    }
    INV(hist == c->free_blocks, "histogram holds %llu blocks, free_blocks %llu", i,
        (unsigned long long)hist, (unsigned long long)c->free_blocks);
    INV(hist_bytes_lo <= c->free_bytes, "histogram floor %llu > free bytes %llu", i,
        (unsigned long long)hist_bytes_lo, (unsigned long long)c->free_bytes);
    if (is_buddy()) {
        uint64_t bytes = 0;
        for (unsigned k = 0; k < GH_SHM_ORDERS; k++) {
            INV(c->buddy_free[k] == c->free_hist[k], "order %u: %llu free, histogram %llu", i, k,
                (unsigned long long)c->buddy_free[k], (unsigned long long)c->free_hist[k]);
            bytes += c->buddy_free[k] << k;
        }
        INV(bytes == c->free_bytes, "orders hold %llu bytes, free_bytes %llu", i,
            (unsigned long long)bytes, (unsigned long long)c->free_bytes);
    }
    struct ghr_frag fr;
    ghr_fragmentation(c, &fr);
    INV(fr.internal >= 0 && fr.internal <= 1 && fr.external >= 0 && fr.external <= 1
        && fr.utilisation >= 0 && fr.utilisation <= 1 && fr.peak_utilisation >= 0 && fr.peak_utilisation <= 1,
        "fragmentation outside [0, 1]: %f %f %f %f", i, fr.internal, fr.external, fr.utilisation,
        fr.peak_utilisation);
    if (prev) {
        INV(c->publishes > prev->publishes || (!fresh && c->publishes == prev->publishes),
            "publishes went from %llu to %llu", i,
            (unsigned long long)prev->publishes, (unsigned long long)c->publishes);
        INV(c->time_ns >= prev->time_ns, "time went back", i);
        INV(c->peak_requested >= prev->peak_requested && c->peak_block_bytes >= prev->peak_block_bytes
            && c->peak_heap_bytes >= prev->peak_heap_bytes && c->peak_large_bytes >= prev->peak_large_bytes,
            "a peak went down", i);
    }
#undef INV
}

/* Every map: blocks in address order tiling their regions, valid sizes,
 * no two free neighbours (fit), the first at the heap's start + 48 and
 * the last ending at its end.  Returns the map's totals in *sum. */
struct map_sum {
    uint64_t used, used_bytes, requested, free, free_bytes, largest, regions, bytes;
    uint64_t cached, cached_bytes, cached_requested;
};

static void check_map(const struct gh_shm_block *b, size_t n, uint64_t hs, uint64_t he, struct map_sum *sum)
{
    bool buddy = is_buddy();
    memset(sum, 0, sizeof *sum);
    if (n == 0)
        return;
    if (b[0].region != 0 || b[0].addr != hs + 48)
        fail_msg("first block at %#llx region %u, heap starts at %#llx", (unsigned long long)b[0].addr,
                 b[0].region, (unsigned long long)hs);
    sum->regions = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = b[i].size;
        if (buddy ? (s < 32 || (s & (s - 1))) : (s < 48 || s % 16))
            fail_msg("map block %zu at %#llx has size %llu", i, (unsigned long long)b[i].addr, (unsigned long long)s);
        if (b[i].state == GH_SHM_BLOCK_CACHED) {
            sum->cached++;
            sum->cached_bytes += s;
            sum->cached_requested += b[i].requested;
        } else if (b[i].state == GH_SHM_BLOCK_USED) {
            if (b[i].requested > s - 16)
                fail_msg("map block %zu: requested %llu in %llu", i, (unsigned long long)b[i].requested,
                         (unsigned long long)s);
            sum->used++;
            sum->used_bytes += s;
            sum->requested += b[i].requested;
        } else {
            if (b[i].requested != 0)
                fail_msg("free map block %zu has requested %llu", i, (unsigned long long)b[i].requested);
            sum->free++;
            sum->free_bytes += s;
            if (s > sum->largest)
                sum->largest = s;
        }
        sum->bytes += s;
        if (i == 0)
            continue;
        const struct gh_shm_block *a = &b[i - 1];
        if (b[i].region == a->region) {
            if (b[i].addr != a->addr + a->size)
                fail_msg("map block %zu at %#llx: the one before ends at %#llx", i,
                         (unsigned long long)b[i].addr, (unsigned long long)(a->addr + a->size));
            if (!buddy && a->state == GH_SHM_BLOCK_FREE && b[i].state == GH_SHM_BLOCK_FREE)
                fail_msg("map blocks %zu and %zu are free neighbours", i - 1, i);
        } else {
            if (b[i].region != a->region + 1 || b[i].addr < a->addr + a->size)
                fail_msg("map block %zu: region %u after region %u", i, b[i].region, a->region);
            sum->regions++;
        }
    }
    uint64_t last_end = b[n - 1].addr + b[n - 1].size;
    if (last_end + (buddy ? 0 : 16) != he)
        fail_msg("the last block ends at %#llx, the heap at %#llx", (unsigned long long)last_end,
                 (unsigned long long)he);
}

void test_live(void **state)
{
    (void)state;
    bool buddy = is_buddy();
    char *args[] = { "stats_helper", "churn", NULL };
    struct proc *p = spawn(args, true);
    expect_line(p, "ready");
    struct ghr_segment *seg = open_seg(p->pid);
    static struct gh_shm_block blocks[MAP_CAP];
    struct gh_shm_counters c, prev;
    unsigned snaps = 0, racing = 0, live_reads = 0, maps = 0, whole_maps = 0, tiled = 0;
    uint64_t most_blocks = 0, max_live = 0;
    get_counters(seg, &prev);
    check_snapshot(&prev, NULL, 0, true);
    send_line(p);
    expect_line(p, "churning");
    uint64_t t0 = mono_ms();
    for (;;) {
        uint64_t ms = mono_ms() - t0;
        if (ms >= CHURN_MAX_MS || (ms >= CHURN_MIN_MS && snaps >= MIN_SNAPSHOTS && whole_maps >= MIN_MAPS))
            break;
        if (line_ready(p))
            fail_msg("the helper wrote a line while churning (it failed?)");
        get_counters(seg, &c);
        check_snapshot(&c, &prev, ++snaps, true);
        if (c.live_blocks > max_live)
            max_live = c.live_blocks;
        prev = c;
        /* Plain reads back to back, racing the writer's own publishes
         * (every GH_SHM_PUBLISH_EVERY calls): the sequence lock must keep
         * every copy whole. */
        for (unsigned k = 0; k < RACING_READS; k++, racing++) {
            int rc = ghr_counters(seg, &c);
            if (rc != GHR_OK)
                fail_msg("ghr_counters: %s", ghr_strerror((enum ghr_error)rc));
            check_snapshot(&c, &prev, snaps, false);
            prev = c;
        }
        /* and the counters kept in place, racing every call's update: each
         * arena's entry is copied at one moment of its seq (a few reads a
         * snapshot: one may wait for a writer inside a call) */
        for (unsigned k = 0; k < LIVE_READS; k++) {
            struct gh_shm_counters live = c;
            struct ghr_live_info info;
            int rc = ghr_live(seg, &live, NULL, 0, NULL, &info);
            if (rc != GHR_OK || !info.in_place)
                fail_msg("ghr_live: %s (in place %d)", ghr_strerror((enum ghr_error)rc), info.in_place);
            live.largest_free = 0; /* published, not in place: bounded only */
            if (info.torn == 0) {  /* a writer kept out 50 ms inside a call: said, not checked */
                check_snapshot(&live, NULL, snaps, false);
                live_reads++;
            }
        }
        if (snaps % MAP_EVERY)
            continue;
        size_t n = 0;
        uint64_t total = 0;
        int rc = ghr_map(seg, ANSWER_TIMEOUT_MS, blocks, MAP_CAP, &n, &total);
        if (rc != GHR_OK)
            fail_msg("ghr_map: %s", ghr_strerror((enum ghr_error)rc));
        maps++;
        if (total != n)
            continue;  /* truncated: not a whole heap */
        whole_maps++;
        uint64_t hs, he;
        map_bounds(p->pid, &hs, &he);
        struct map_sum sum;
        check_map(blocks, n, hs, he, &sum);
        if (sum.regions == 1) {
            /* one region: its blocks tile it exactly */
            uint64_t over = buddy ? BUDDY_REGION_HEADER : FIT_REGION_OVERHEAD;
            if (sum.bytes + over != he - hs)
                fail_msg("blocks of %llu bytes + %llu do not tile the region of %llu",
                         (unsigned long long)sum.bytes, (unsigned long long)over,
                         (unsigned long long)(he - hs));
            tiled++;
        }
        if (n > most_blocks)
            most_blocks = n;
    }
    send_line(p);   /* stop churning */
    expect_line(p, "done");
    if (snaps < MIN_SNAPSHOTS || whole_maps < MIN_MAPS)
        fail_msg("only %u snapshots and %u whole maps while the helper churned", snaps, whole_maps);
    assert_true(max_live > 0);
    assert_true(tiled > 0);

    /* Idle now: a map and counters taken together agree exactly. */
    size_t n = 0;
    uint64_t total = 0;
    assert_int_equal(ghr_map(seg, ANSWER_TIMEOUT_MS, blocks, MAP_CAP, &n, &total), GHR_OK);
    assert_int_equal(total, n);
    get_counters(seg, &c);
    check_snapshot(&c, &prev, ++snaps, true);
    uint64_t hs, he;
    map_bounds(p->pid, &hs, &he);
    struct map_sum sum;
    check_map(blocks, n, hs, he, &sum);
    assert_int_equal(sum.used, c.live_blocks);
    assert_int_equal(sum.used_bytes, c.live_block_bytes);
    assert_int_equal(sum.requested, c.live_requested);
    assert_int_equal(sum.cached, c.cached_blocks);
    assert_int_equal(sum.cached_bytes, c.cached_bytes);
    assert_int_equal(sum.cached_requested, c.cached_requested);
    assert_int_equal(sum.free, c.free_blocks);
    assert_int_equal(sum.free_bytes, c.free_bytes);
    assert_int_equal(sum.largest, c.largest_free);
    assert_int_equal(sum.regions, c.regions);
    fprintf(stderr, "%s: %u requested snapshots, %u racing reads (and %u in place, whole), %u maps (%u whole, up to %llu blocks), "
            "up to %llu live blocks\n", policy, snaps, racing, live_reads, maps, whole_maps,
            (unsigned long long)most_blocks, (unsigned long long)max_live);

    send_line(p);
    expect_clean_exit(p);
    ghr_close(seg);
    assert_false(seg_exists(tracked[0]));
}

