/* stats_arena.c - every heap counter, predicted by hand, on the arena source.
 *
 * Proves: after each step of a scripted sequence of gh_heap_alloc / free /
 * resize / alloc_aligned, EVERY field of struct gh_heap_counters (live,
 * free, heap and overhead bytes, peaks, operation counts, regions, trims,
 * the free-block histogram) equals the value worked out by hand below, the
 * free blocks are exactly the ones listed (address and size), and the
 * fragmentation figures of DESIGN.md computed from the counters (by the
 * reader's ghr_fragmentation) equal the same formulas applied to the hand
 * values.  One run per policy: argv[1] names one of glassheap/policies.h.
 *
 * Hand rules (block.h, heap.h, buddy.h): a fit block for n bytes is
 * max(48, round_up(n + 16, 16)); a region costs 64 bytes (48 record + 16 end
 * marker); with top_pad P a growth asks the source for need + 64 + P and
 * the arena gives exactly that; a free block at the top is trimmed to 48
 * bytes when it reaches trim_threshold + top_pad.  A buddy block is the
 * smallest 2^k >= n + 16 (k >= 5); a buddy region is a 48-byte record and
 * whole chunks of 2^max_order.
 *
 * Offsets below are from the first block of the region (arena base + 48);
 * the arena is page aligned, so the aligned allocations land where written.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "glassheap/policies.h"
#include "heap.h"
#include "reader.h"

#define FIT_ARENA   (64u * 1024u)        /* bigger than the script, smaller than 100000 */
#define BUDDY_ARENA (16u * 1024u)        /* record + 3 chunks of 4 KiB, not 4 */
#define BUDDY_ORDER 12u                  /* chunk = 4096 bytes */
#define FIT_TRIM    1024u                /* trim_threshold of the fit script */
#define MAX_FREE    8                    /* free blocks listed per step */
#define N_FIT       4

/* A free block: offset from the first block and size. */
struct fb {
    uint32_t off, size;
};

/* What one step leaves behind.  Fields not listed in struct gh_heap_counters
 * here (free_bytes, free_hist) follow from the free list. */
struct row {
    const char *step;
    uint64_t live_requested, live_block_bytes, live_blocks, heap_bytes;
    uint64_t peak_requested, peak_block_bytes, peak_heap_bytes;
    uint64_t allocs, frees, failures, resize_in_place, resize_refused;
    uint64_t regions_extended, trims, trimmed_bytes;
    struct fb free[N_FIT][MAX_FREE]; /* per fit policy; [0] only: the same for all */
};

/* ---- the fixture --------------------------------------------------------- */

static const struct gh_policy_ops *policy_ops;   /* NULL: buddy */
static int policy_index;                          /* into row.free for fit policies */

struct fx {
    char *mem;
    size_t len;
    struct gh_source src;
    struct gh_heap h;
};

static void fx_open(struct fx *f, size_t len)
{
    memset(f, 0, sizeof *f);
    f->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(f->mem != MAP_FAILED);
    f->len = len;
    gh_source_init_arena(&f->src, f->mem, len);
}

static void fx_close(struct fx *f)
{
    munmap(f->mem, f->len);
}

/* Offset of a payload's block from the first block of the region. */
static uint64_t off_of(const struct fx *f, const void *p)
{
    return (uint64_t)((const char *)p - (f->mem + GH_REGION_HEADER + GH_HEADER_SIZE));
}

/* ---- checking one step --------------------------------------------------- */

struct seen {
    struct fb free[64];
    size_t nfree;
};

static bool collect_free(void *ctx, const struct gh_block_info *b)
{
    struct seen *s = ctx;
    if (b->free && s->nfree < 64) {
        s->free[s->nfree].off = (uint32_t)((const char *)b->addr - ((const char *)b->region + GH_REGION_HEADER));
        s->free[s->nfree].size = (uint32_t)b->size;
        s->nfree++;
    }
    return true;
}

#define EXPECT_FIELD(got, want, name)                                                             \
    do {                                                                                          \
        if ((uint64_t)(got) != (uint64_t)(want))                                                  \
            fail_msg("%s: %s: %s is %llu, expected %llu", policy_name(), r->step, name,           \
                     (unsigned long long)(got), (unsigned long long)(want));                      \
    } while (0)

static const char *policy_name(void)
{
    return policy_ops ? policy_ops->name : "buddy";
}

static void expect_frac(const char *what, const struct row *r, double got, double want)
{
    if (fabs(got - want) > 1e-12)
        fail_msg("%s: %s: %s fragmentation is %.15f, expected %.15f", policy_name(), r->step, what, got, want);
}

/* Compare every counter of f->h with row r; overhead is the region's. */
static void check_row(const struct fx *f, const struct row *r, uint64_t overhead)
{
    const struct gh_heap_counters *c = f->h.c;
    const struct fb *want_free = r->free[policy_ops && r->free[policy_index][0].size ? policy_index : 0];

    /* The free blocks the walk sees are exactly the listed ones. */
    struct seen s = { .nfree = 0 };
    gh_heap_walk(&f->h, collect_free, &s);
    size_t nwant = 0;
    while (nwant < MAX_FREE && want_free[nwant].size)
        nwant++;
    for (size_t i = 0; i < s.nfree || i < nwant; i++) {
        if (i >= s.nfree || i >= nwant || s.free[i].off != want_free[i].off || s.free[i].size != want_free[i].size)
            fail_msg("%s: %s: free block %zu is (%u, %u), expected (%u, %u)", policy_name(), r->step, i,
                     i < s.nfree ? s.free[i].off : 0, i < s.nfree ? s.free[i].size : 0,
                     i < nwant ? want_free[i].off : 0, i < nwant ? want_free[i].size : 0);
    }

    /* What the free list implies. */
    uint64_t free_bytes = 0, largest = 0, hist[64] = { 0 };
    for (size_t i = 0; i < nwant; i++) {
        free_bytes += want_free[i].size;
        hist[gh_size_class(want_free[i].size)]++;
        if (want_free[i].size > largest)
            largest = want_free[i].size;
    }

    EXPECT_FIELD(c->live_requested, r->live_requested, "live_requested");
    EXPECT_FIELD(c->live_block_bytes, r->live_block_bytes, "live_block_bytes");
    EXPECT_FIELD(c->live_blocks, r->live_blocks, "live_blocks");
    EXPECT_FIELD(c->free_bytes, free_bytes, "free_bytes");
    EXPECT_FIELD(c->heap_bytes, r->heap_bytes, "heap_bytes");
    EXPECT_FIELD(c->overhead_bytes, overhead, "overhead_bytes");
    EXPECT_FIELD(c->peak_requested, r->peak_requested, "peak_requested");
    EXPECT_FIELD(c->peak_block_bytes, r->peak_block_bytes, "peak_block_bytes");
    EXPECT_FIELD(c->peak_heap_bytes, r->peak_heap_bytes, "peak_heap_bytes");
    EXPECT_FIELD(c->allocs, r->allocs, "allocs");
    EXPECT_FIELD(c->frees, r->frees, "frees");
    EXPECT_FIELD(c->failures, r->failures, "failures");
    EXPECT_FIELD(c->resize_in_place, r->resize_in_place, "resize_in_place");
    EXPECT_FIELD(c->resize_refused, r->resize_refused, "resize_refused");
    EXPECT_FIELD(c->regions_added, 1, "regions_added");
    EXPECT_FIELD(c->regions_extended, r->regions_extended, "regions_extended");
    EXPECT_FIELD(c->regions_released, 0, "regions_released");
    EXPECT_FIELD(c->trims, r->trims, "trims");
    EXPECT_FIELD(c->trimmed_bytes, r->trimmed_bytes, "trimmed_bytes");
    for (unsigned k = 0; k < 64; k++)
        if (c->free_hist[k] != hist[k])
            fail_msg("%s: %s: free_hist[%u] is %llu, expected %llu", policy_name(), r->step, k,
                     (unsigned long long)c->free_hist[k], (unsigned long long)hist[k]);
    EXPECT_FIELD(gh_heap_free_blocks(&f->h), nwant, "free block count");
    EXPECT_FIELD(gh_heap_largest_free(&f->h), largest, "largest free block");
    EXPECT_FIELD(f->src.arena_used, r->heap_bytes, "arena bytes in use");

    /* The identity every snapshot keeps, and the checker's own walk. */
    EXPECT_FIELD(c->live_block_bytes + c->free_bytes + c->overhead_bytes, c->heap_bytes, "live+free+overhead");
    const char *why = NULL;
    const void *where = NULL;
    if (!gh_heap_check(&f->h, &why, &where))
        fail_msg("%s: %s: gh_heap_check: %s at %p", policy_name(), r->step, why ? why : "?", where);

    /* Fragmentation: the reader's figures from the real counters against
     * DESIGN.md's formulas on the hand values. */
    struct gh_shm_counters sc;
    memset(&sc, 0, sizeof sc);
    sc.live_requested = c->live_requested;
    sc.live_block_bytes = c->live_block_bytes;
    sc.free_bytes = c->free_bytes;
    sc.largest_free = gh_heap_largest_free(&f->h);
    sc.heap_bytes = c->heap_bytes;
    sc.peak_requested = c->peak_requested;
    sc.peak_heap_bytes = c->peak_heap_bytes;
    struct ghr_frag fr;
    ghr_fragmentation(&sc, &fr);
    double lr = (double)r->live_requested, lb = (double)r->live_block_bytes;
    expect_frac("internal", r, fr.internal, r->live_block_bytes ? 1.0 - lr / lb : 0.0);
    expect_frac("external", r, fr.external, free_bytes ? 1.0 - (double)largest / (double)free_bytes : 0.0);
    expect_frac("utilisation", r, fr.utilisation, lr / (double)r->heap_bytes);
    expect_frac("peak utilisation", r, fr.peak_utilisation,
                (double)r->peak_requested / (double)r->peak_heap_bytes);
}

/* ---- the fit script ------------------------------------------------------ */

/* Policy order in the per-policy lists. */
enum { P_FIRST, P_NEXT, P_BEST, P_WORST };

/* Every step of fit_script(), in order.  Layout after step 8:
 *   a(0,1024) b(1024,64) c(1088,720) d(1808,64) e(1872,496) f(2368,64)
 *   g(2432,1520) h(3952,64) [free 4016,864] end 4880; heap 4944 = 48+4880+16. */
static const struct row fit_rows[] = {
    { "a = alloc(1000): a new region of 1024 + 64", 1000, 1024, 1, 1088, 1000, 1024, 1088,
      1, 0, 0, 0, 0, 0, 0, 0, { { { 0, 0 } } } },
    { "b = alloc(40): the region extends by 64 + 64", 1040, 1088, 2, 1216, 1040, 1088, 1216,
      2, 0, 0, 0, 0, 1, 0, 0, { { { 1088, 64 } } } },
    { "c = alloc(700): the free top block grows by 720 + 64", 1740, 1808, 3, 2000, 1740, 1808, 2000,
      3, 0, 0, 0, 0, 2, 0, 0, { { { 1808, 128 } } } },
    { "d = alloc(40)", 1780, 1872, 4, 2000, 1780, 1872, 2000,
      4, 0, 0, 0, 0, 2, 0, 0, { { { 1872, 64 } } } },
    { "e = alloc(480): grows by 496 + 64", 2260, 2368, 5, 2560, 2260, 2368, 2560,
      5, 0, 0, 0, 0, 3, 0, 0, { { { 2368, 128 } } } },
    { "f = alloc(40)", 2300, 2432, 6, 2560, 2300, 2432, 2560,
      6, 0, 0, 0, 0, 3, 0, 0, { { { 2432, 64 } } } },
    { "g = alloc(1500) with top_pad 800: grows by 1520 + 64 + 800", 3800, 3952, 7, 4944, 3800, 3952, 4944,
      7, 0, 0, 0, 0, 4, 0, 0, { { { 3952, 928 } } } },
    { "h = alloc(40)", 3840, 4016, 8, 4944, 3840, 4016, 4944,
      8, 0, 0, 0, 0, 4, 0, 0, { { { 4016, 864 } } } },
    { "free(a)", 2840, 2992, 7, 4944, 3840, 4016, 4944,
      8, 1, 0, 0, 0, 4, 0, 0, { { { 0, 1024 }, { 4016, 864 } } } },
    { "free(c)", 2140, 2272, 6, 4944, 3840, 4016, 4944,
      8, 2, 0, 0, 0, 4, 0, 0, { { { 0, 1024 }, { 1088, 720 }, { 4016, 864 } } } },
    { "free(e)", 1660, 1776, 5, 4944, 3840, 4016, 4944,
      8, 3, 0, 0, 0, 4, 0, 0, { { { 0, 1024 }, { 1088, 720 }, { 1872, 496 }, { 4016, 864 } } } },
#define HOLES { 0, 1024 }, { 1088, 720 }, { 1872, 496 }, { 2432, 1520 }, { 4016, 864 }
    { "free(g): holes of 1024, 720, 496, 1520 and 864 at the top", 160, 256, 4, 4944, 3840, 4016, 4944,
      8, 4, 0, 0, 0, 4, 0, 0, { { HOLES } } },
    /* The placement step: next fit's rover is at h (3952), so it takes the top. */
    { "x = alloc(400): first 0, next 4016, best 1872, worst 2432", 560, 672, 5, 4944, 3840, 4016, 4944,
      9, 4, 0, 0, 0, 4, 0, 0,
      { [P_FIRST] = { { 416, 608 }, { 1088, 720 }, { 1872, 496 }, { 2432, 1520 }, { 4016, 864 } },
        [P_NEXT] = { { 0, 1024 }, { 1088, 720 }, { 1872, 496 }, { 2432, 1520 }, { 4432, 448 } },
        [P_BEST] = { { 0, 1024 }, { 1088, 720 }, { 2288, 80 }, { 2432, 1520 }, { 4016, 864 } },
        [P_WORST] = { { 0, 1024 }, { 1088, 720 }, { 1872, 496 }, { 2848, 1104 }, { 4016, 864 } } } },
    /* 128 bytes aligned to 256: a front gap of >= 48 stays free. */
    { "xa = alloc_aligned(256, 100): 432-byte search, gap left free", 660, 800, 6, 4944, 3840, 4016, 4944,
      10, 4, 0, 0, 0, 4, 0, 0,
      { [P_FIRST] = { { 416, 288 }, { 832, 192 }, { 1088, 720 }, { 1872, 496 }, { 2432, 1520 }, { 4016, 864 } },
        [P_NEXT] = { { 0, 1024 }, { 1088, 720 }, { 1872, 496 }, { 2432, 1520 }, { 4432, 112 }, { 4672, 208 } },
        [P_BEST] = { { 0, 1024 }, { 1088, 128 }, { 1344, 464 }, { 2288, 80 }, { 2432, 1520 }, { 4016, 864 } },
        [P_WORST] = { { 0, 1024 }, { 1088, 720 }, { 1872, 496 }, { 2848, 160 }, { 3136, 816 }, { 4016, 864 } } } },
    { "free(xa): its gap and tail merge back", 560, 672, 5, 4944, 3840, 4016, 4944,
      10, 5, 0, 0, 0, 4, 0, 0,
      { [P_FIRST] = { { 416, 608 }, { 1088, 720 }, { 1872, 496 }, { 2432, 1520 }, { 4016, 864 } },
        [P_NEXT] = { { 0, 1024 }, { 1088, 720 }, { 1872, 496 }, { 2432, 1520 }, { 4432, 448 } },
        [P_BEST] = { { 0, 1024 }, { 1088, 720 }, { 2288, 80 }, { 2432, 1520 }, { 4016, 864 } },
        [P_WORST] = { { 0, 1024 }, { 1088, 720 }, { 1872, 496 }, { 2848, 1104 }, { 4016, 864 } } } },
    { "free(x): the holes are back", 160, 256, 4, 4944, 3840, 4016, 4944,
      10, 6, 0, 0, 0, 4, 0, 0, { { HOLES } } },
    { "resize(b, 100): grows into the next free block", 220, 320, 4, 4944, 3840, 4016, 4944,
      10, 6, 0, 1, 0, 4, 0, 0, { { { 0, 1024 }, { 1152, 656 }, { 1872, 496 }, { 2432, 1520 }, { 4016, 864 } } } },
    { "resize(d, 20): shrinks to 48, the rest joins the next free block", 200, 304, 4, 4944, 3840, 4016, 4944,
      10, 6, 0, 2, 0, 4, 0, 0, { { { 0, 1024 }, { 1152, 656 }, { 1856, 512 }, { 2432, 1520 }, { 4016, 864 } } } },
    { "resize(h, 2000): refused (64 + 864 < 2016)", 200, 304, 4, 4944, 3840, 4016, 4944,
      10, 6, 0, 2, 1, 4, 0, 0, { { { 0, 1024 }, { 1152, 656 }, { 1856, 512 }, { 2432, 1520 }, { 4016, 864 } } } },
    { "g2 = alloc(1504): only the 1520 hole fits", 1704, 1824, 5, 4944, 3840, 4016, 4944,
      11, 6, 0, 2, 1, 4, 0, 0, { { { 0, 1024 }, { 1152, 656 }, { 1856, 512 }, { 4016, 864 } } } },
    { "a2 = alloc(1008): only the 1024 hole fits", 2712, 2848, 6, 4944, 3840, 4016, 4944,
      12, 6, 0, 2, 1, 4, 0, 0, { { { 1152, 656 }, { 1856, 512 }, { 4016, 864 } } } },
    { "t = alloc(848): only the top block fits", 3560, 3712, 7, 4944, 3840, 4016, 4944,
      13, 6, 0, 2, 1, 4, 0, 0, { { { 1152, 656 }, { 1856, 512 } } } },
    { "resize(t, 3000): at the top, the region extends by 2160 + 64", 5712, 5872, 7, 7168, 5712, 5872, 7168,
      13, 6, 0, 3, 1, 5, 0, 0, { { { 1152, 656 }, { 1856, 512 }, { 7040, 64 } } } },
    { "free(t): 3088 free at the top >= 1024: trimmed to 48", 2712, 2848, 6, 4128, 5712, 5872, 7168,
      13, 7, 0, 3, 1, 5, 1, 3040, { { { 1152, 656 }, { 1856, 512 }, { 4016, 48 } } } },
    { "alloc(100000), alloc(SIZE_MAX), alloc_aligned(64, 100000) fail; resize(h, SIZE_MAX) refused",
      2712, 2848, 6, 4128, 5712, 5872, 7168,
      13, 7, 3, 3, 2, 5, 1, 3040, { { { 1152, 656 }, { 1856, 512 }, { 4016, 48 } } } },
    { "free(h): joins the 48 at the top, 112 < 1024", 2672, 2784, 5, 4128, 5712, 5872, 7168,
      13, 8, 3, 3, 2, 5, 1, 3040, { { { 1152, 656 }, { 1856, 512 }, { 3952, 112 } } } },
    { "free(g2): 1632 at the top: trimmed by 1584", 1168, 1264, 4, 2544, 5712, 5872, 7168,
      13, 9, 3, 3, 2, 5, 2, 4624, { { { 1152, 656 }, { 1856, 512 }, { 2432, 48 } } } },
    { "free(f): merges both sides, 624 < 1024", 1128, 1200, 3, 2544, 5712, 5872, 7168,
      13, 10, 3, 3, 2, 5, 2, 4624, { { { 1152, 656 }, { 1856, 624 } } } },
    { "free(d): 1328 at the top: trimmed by 1280", 1108, 1152, 2, 1264, 5712, 5872, 7168,
      13, 11, 3, 3, 2, 5, 3, 5904, { { { 1152, 48 } } } },
    { "free(b)", 1008, 1024, 1, 1264, 5712, 5872, 7168,
      13, 12, 3, 3, 2, 5, 3, 5904, { { { 1024, 176 } } } },
    { "free(a2): 1200 at the top: trimmed by 1152, empty heap of 112", 0, 0, 0, 112, 5712, 5872, 7168,
      13, 13, 3, 3, 2, 5, 4, 7056, { { { 0, 48 } } } },
#undef HOLES
};

#define N_FIT_ROWS (sizeof fit_rows / sizeof fit_rows[0])

/* Block offsets of x and xa per policy. */
static const uint64_t x_off[N_FIT] = { [P_FIRST] = 0, [P_NEXT] = 4016, [P_BEST] = 1872, [P_WORST] = 2432 };
static const uint64_t xa_off[N_FIT] = { [P_FIRST] = 704, [P_NEXT] = 4544, [P_BEST] = 1216, [P_WORST] = 3008 };

static void test_fit_script(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, FIT_ARENA);
    gh_heap_init(&f.h, &f.src, policy_ops);
    struct gh_heap *h = &f.h;
    h->top_pad = 0;
    h->trim_threshold = FIT_TRIM;
    const struct row *r = fit_rows;
    uint64_t ov = GH_REGION_OVERHEAD;

    /* Nothing taken before the first allocation. */
    assert_int_equal(h->c->heap_bytes, 0);
    assert_int_equal(f.src.arena_used, 0);

    void *a = gh_heap_alloc(h, 1000);
    assert_int_equal(off_of(&f, a), 0);
    check_row(&f, r++, ov);
    void *b = gh_heap_alloc(h, 40);
    check_row(&f, r++, ov);
    void *c = gh_heap_alloc(h, 700);
    check_row(&f, r++, ov);
    void *d = gh_heap_alloc(h, 40);
    check_row(&f, r++, ov);
    void *e = gh_heap_alloc(h, 480);
    check_row(&f, r++, ov);
    void *ff = gh_heap_alloc(h, 40);
    check_row(&f, r++, ov);
    h->top_pad = 800;
    void *g = gh_heap_alloc(h, 1500);
    h->top_pad = 0;
    check_row(&f, r++, ov);
    void *hh = gh_heap_alloc(h, 40);
    assert_int_equal(off_of(&f, hh), 3952);
    check_row(&f, r++, ov);

    gh_heap_free(h, a, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, c, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, e, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, g, "free");
    check_row(&f, r++, ov);

    void *x = gh_heap_alloc(h, 400);
    assert_int_equal(off_of(&f, x), x_off[policy_index]);
    check_row(&f, r++, ov);
    void *xa = gh_heap_alloc_aligned(h, 256, 100);
    assert_int_equal(off_of(&f, xa), xa_off[policy_index]);
    assert_int_equal((uintptr_t)xa % 256, 0);
    check_row(&f, r++, ov);
    gh_heap_free(h, xa, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, x, "free");
    check_row(&f, r++, ov);

    assert_true(gh_heap_resize(h, b, 100, "realloc"));
    check_row(&f, r++, ov);
    assert_true(gh_heap_resize(h, d, 20, "realloc"));
    check_row(&f, r++, ov);
    assert_false(gh_heap_resize(h, hh, 2000, "realloc"));
    check_row(&f, r++, ov);

    void *g2 = gh_heap_alloc(h, 1504);
    assert_int_equal(off_of(&f, g2), 2432);
    check_row(&f, r++, ov);
    void *a2 = gh_heap_alloc(h, 1008);
    assert_int_equal(off_of(&f, a2), 0);
    check_row(&f, r++, ov);
    void *t = gh_heap_alloc(h, 848);
    assert_int_equal(off_of(&f, t), 4016);
    check_row(&f, r++, ov);
    assert_true(gh_heap_resize(h, t, 3000, "realloc"));
    check_row(&f, r++, ov);
    gh_heap_free(h, t, "free");
    check_row(&f, r++, ov);

    assert_null(gh_heap_alloc(h, 100000));
    assert_null(gh_heap_alloc(h, SIZE_MAX));
    assert_null(gh_heap_alloc_aligned(h, 64, 100000));
    assert_false(gh_heap_resize(h, hh, SIZE_MAX, "realloc"));
    check_row(&f, r++, ov);

    gh_heap_free(h, hh, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, g2, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, ff, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, d, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, b, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, a2, "free");
    check_row(&f, r++, ov);
    assert_int_equal(r - fit_rows, N_FIT_ROWS);
    fx_close(&f);
}

/* ---- the buddy script ---------------------------------------------------- */

/* Free blocks of a buddy heap as (offset, 2^order) from chunk 0. */
#define O(k, off) { off, 1u << (k) }

static const struct row buddy_rows[] = {
    { "p1 = alloc(100): a region of 48 + 4096, split down to order 7", 100, 128, 1, 4144, 100, 128, 4144,
      1, 0, 0, 0, 0, 0, 0, 0, { { O(7, 128), O(8, 256), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "p2 = alloc(3000): order 12, a second chunk", 3100, 4224, 2, 8240, 3100, 4224, 8240,
      2, 0, 0, 0, 0, 1, 0, 0, { { O(7, 128), O(8, 256), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "p3 = alloc(10): order 5 from the order-7 block", 3110, 4256, 3, 8240, 3110, 4256, 8240,
      3, 0, 0, 0, 0, 1, 0, 0, { { O(5, 160), O(6, 192), O(8, 256), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "p4 = alloc(200): order 8", 3310, 4512, 4, 8240, 3310, 4512, 8240,
      4, 0, 0, 0, 0, 1, 0, 0, { { O(5, 160), O(6, 192), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "free(p1): its buddy p3 is in use", 3210, 4384, 3, 8240, 3310, 4512, 8240,
      4, 1, 0, 0, 0, 1, 0, 0, { { O(7, 0), O(5, 160), O(6, 192), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "free(p3): merges 5 -> 6 -> 7 -> 8", 3200, 4352, 2, 8240, 3310, 4512, 8240,
      4, 2, 0, 0, 0, 1, 0, 0, { { O(8, 0), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "resize(p4, 400): refused, p4 is an upper half", 3200, 4352, 2, 8240, 3310, 4512, 8240,
      4, 2, 0, 0, 1, 1, 0, 0, { { O(8, 0), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "resize(p4, 100): shrinks to order 7", 3100, 4224, 2, 8240, 3310, 4512, 8240,
      4, 2, 0, 1, 1, 1, 0, 0, { { O(8, 0), O(7, 384), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "resize(p4, 230): grows back into its free buddy", 3230, 4352, 2, 8240, 3310, 4512, 8240,
      4, 2, 0, 2, 1, 1, 0, 0, { { O(8, 0), O(9, 512), O(10, 1024), O(11, 2048) } } },
    { "pa = alloc_aligned(256, 64): order 9 (64 + 256 + 16 + 16)", 3294, 4864, 3, 8240, 3310, 4864, 8240,
      5, 2, 0, 2, 1, 1, 0, 0, { { O(8, 0), O(10, 1024), O(11, 2048) } } },
    { "resize(pa, 32): refused, an aligned payload", 3294, 4864, 3, 8240, 3310, 4864, 8240,
      5, 2, 0, 2, 2, 1, 0, 0, { { O(8, 0), O(10, 1024), O(11, 2048) } } },
    { "alloc(5000): larger than a chunk", 3294, 4864, 3, 8240, 3310, 4864, 8240,
      5, 2, 1, 2, 2, 1, 0, 0, { { O(8, 0), O(10, 1024), O(11, 2048) } } },
    { "q1 = alloc(4000): a third chunk", 7294, 8960, 4, 12336, 7294, 8960, 12336,
      6, 2, 1, 2, 2, 2, 0, 0, { { O(8, 0), O(10, 1024), O(11, 2048) } } },
    { "alloc(4000): the arena has no fourth chunk", 7294, 8960, 4, 12336, 7294, 8960, 12336,
      6, 2, 2, 2, 2, 2, 0, 0, { { O(8, 0), O(10, 1024), O(11, 2048) } } },
    { "free(q1): the last chunk is free, the one before is not: kept", 3294, 4864, 3, 12336, 7294, 8960, 12336,
      6, 3, 2, 2, 2, 2, 0, 0, { { O(8, 0), O(10, 1024), O(11, 2048), O(12, 8192) } } },
    { "free(p2): two free chunks at the top: one trimmed", 294, 768, 2, 8240, 7294, 8960, 12336,
      6, 4, 2, 2, 2, 2, 1, 4096, { { O(8, 0), O(10, 1024), O(11, 2048), O(12, 4096) } } },
    { "free(pa) by its aligned pointer: order 9 back", 230, 256, 1, 8240, 7294, 8960, 12336,
      6, 5, 2, 2, 2, 2, 1, 4096, { { O(8, 0), O(9, 512), O(10, 1024), O(11, 2048), O(12, 4096) } } },
    { "free(p4): merges 8 -> 12, one more chunk trimmed", 0, 0, 0, 4144, 7294, 8960, 12336,
      6, 6, 2, 2, 2, 2, 2, 8192, { { O(12, 0) } } },
};
#undef O

#define N_BUDDY_ROWS (sizeof buddy_rows / sizeof buddy_rows[0])

static void test_buddy_script(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, BUDDY_ARENA);
    gh_heap_init_buddy(&f.h, &f.src, BUDDY_ORDER);
    struct gh_heap *h = &f.h;
    const struct row *r = buddy_rows;
    uint64_t ov = GH_REGION_HEADER;

    assert_int_equal(h->c->heap_bytes, 0);
    void *p1 = gh_heap_alloc(h, 100);
    assert_int_equal(off_of(&f, p1), 0);
    check_row(&f, r++, ov);
    void *p2 = gh_heap_alloc(h, 3000);
    assert_int_equal(off_of(&f, p2), 4096);
    check_row(&f, r++, ov);
    void *p3 = gh_heap_alloc(h, 10);
    assert_int_equal(off_of(&f, p3), 128);
    check_row(&f, r++, ov);
    void *p4 = gh_heap_alloc(h, 200);
    assert_int_equal(off_of(&f, p4), 256);
    check_row(&f, r++, ov);
    gh_heap_free(h, p1, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, p3, "free");
    check_row(&f, r++, ov);
    assert_false(gh_heap_resize(h, p4, 400, "realloc"));
    check_row(&f, r++, ov);
    assert_true(gh_heap_resize(h, p4, 100, "realloc"));
    check_row(&f, r++, ov);
    assert_true(gh_heap_resize(h, p4, 230, "realloc"));
    check_row(&f, r++, ov);
    void *pa = gh_heap_alloc_aligned(h, 256, 64);
    /* block at 512 (arena + 560): the payload moves up to arena + 768 */
    assert_ptr_equal(pa, f.mem + 768);
    check_row(&f, r++, ov);
    assert_false(gh_heap_resize(h, pa, 32, "realloc"));
    check_row(&f, r++, ov);
    assert_null(gh_heap_alloc(h, 5000));
    check_row(&f, r++, ov);
    void *q1 = gh_heap_alloc(h, 4000);
    assert_int_equal(off_of(&f, q1), 8192);
    check_row(&f, r++, ov);
    assert_null(gh_heap_alloc(h, 4000));
    check_row(&f, r++, ov);
    gh_heap_free(h, q1, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, p2, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, pa, "free");
    check_row(&f, r++, ov);
    gh_heap_free(h, p4, "free");
    check_row(&f, r++, ov);
    assert_int_equal(r - buddy_rows, N_BUDDY_ROWS);
    fx_close(&f);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        const struct gh_policy_ops *ops;
        int index;
    } policies[] = {
        { "first", &gh_policy_first, P_FIRST },
        { "next", &gh_policy_next, P_NEXT },
        { "best", &gh_policy_best, P_BEST },
        { "worst", &gh_policy_worst, P_WORST },
        { "buddy", NULL, 0 },
    };
    if (argc != 2) {
        fprintf(stderr, "usage: %s " GLASSHEAP_POLICY_NAMES "\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        if (strcmp(argv[1], policies[i].name) != 0)
            continue;
        policy_ops = policies[i].ops;
        policy_index = policies[i].index;
        const struct CMUnitTest fit[] = { cmocka_unit_test(test_fit_script) };
        const struct CMUnitTest buddy[] = { cmocka_unit_test(test_buddy_script) };
        return policy_ops ? cmocka_run_group_tests_name(policies[i].name, fit, NULL, NULL)
                          : cmocka_run_group_tests_name(policies[i].name, buddy, NULL, NULL);
    }
    fprintf(stderr, "%s: unknown policy '%s'\n", argv[0], argv[1]);
    return 2;
}
