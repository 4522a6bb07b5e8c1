/* test_grow.c - the fit heap against its source: growing, trimming, the
 * counters, and the break source with the OS fault hooks.
 *
 * Proves: freeing a large top block and gh_heap_trim give memory back, with
 * any pad; the counters are exact after a script; with brk failing the heap
 * continues in mmap regions, and with mmap failing too, allocation returns
 * NULL and every block stays intact; a wholly free mapped region goes back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "os.h"
#include "unit_util.h"

#define ARENA (64u << 20)

/* ---- trimming ---- */

static void test_trim_on_free(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        fx_open(&f, ARENA, fit_policies[t]);
        void *small = gh_heap_alloc(&f.h, 100);
        void *big = gh_heap_alloc(&f.h, 4u << 20);
        assert_non_null(big);
        size_t used = f.src.arena_used;
        uint64_t heap = f.h.c->heap_bytes;
        assert_int_equal(heap, used);
        assert_int_equal(f.h.c->trims, 0);

        gh_heap_free(&f.h, big, "free");
        /* Given back: the top keeps at most top_pad (+ a minimum block). */
        assert_true(f.src.arena_used < used);
        size_t given = used - f.src.arena_used;
        assert_int_equal(f.h.c->heap_bytes, heap - given);
        assert_int_equal(f.h.c->trims, 1);
        assert_int_equal(f.h.c->trimmed_bytes, given);
        static struct walk w;
        walk_heap(&f.h, &w);
        assert_true(walk_top(&w)->free);
        assert_true(walk_top(&w)->size <= f.h.top_pad + GH_MIN_BLOCK);
        assert_true(walk_top(&w)->size >= GH_MIN_BLOCK);
        HEAP_OK(&f.h);

        /* A small free at the top gives nothing back. */
        void *q = gh_heap_alloc(&f.h, 1000);
        gh_heap_free(&f.h, q, "free");
        assert_int_equal(f.h.c->trims, 1);

        /* gh_heap_trim(h, 0): the rest goes too. */
        used = f.src.arena_used;
        size_t r = gh_heap_trim(&f.h, 0);
        assert_true(r > 0);
        assert_int_equal(used - f.src.arena_used, r);
        assert_int_equal(f.h.c->heap_bytes, f.src.arena_used);
        assert_int_equal(f.h.c->trims, 2);
        assert_int_equal(f.h.c->trimmed_bytes, given + r);
        walk_heap(&f.h, &w);
        assert_true(walk_top(&w)->size <= GH_MIN_BLOCK);
        HEAP_OK(&f.h);
        /* Nothing more to give. */
        assert_int_equal(gh_heap_trim(&f.h, 0), 0);
        assert_int_equal(f.h.c->trims, 2);
        /* The heap still works and grows again. */
        void *again = gh_heap_alloc(&f.h, 1u << 20);
        assert_non_null(again);
        FILL(again, 1u << 20, 5);
        HEAP_OK(&f.h);
        gh_heap_free(&f.h, again, "free");
        gh_heap_free(&f.h, small, "free");
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

/* gh_heap_trim with a pad that is not a multiple of 16 (malloc_trim(pad)
 * takes any pad) must still leave a well-formed heap. */
static void test_trim_odd_pad(void **state)
{
    (void)state;
    static const size_t pads[] = { 1, 100, 4095, 4096 + 8 };
    for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++) {
        struct fx f;
        fx_open(&f, ARENA, &gh_policy_first);
        void *a = gh_heap_alloc(&f.h, 100);
        void *big = gh_heap_alloc(&f.h, 1u << 20);
        f.h.trim_threshold = SIZE_MAX / 4; /* no trim on free */
        gh_heap_free(&f.h, big, "free");
        gh_heap_trim(&f.h, pads[i]);
        if (f.src.arena_used % GH_ALIGN)
            fail_msg("pad %zu: arena_used %zu is not a multiple of 16", pads[i], f.src.arena_used);
        HEAP_OK(&f.h);
        gh_heap_free(&f.h, a, "free");
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

static void test_counters_script(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, ARENA, &gh_policy_first);
    struct gh_heap_counters *c = f.h.c;
    assert_int_equal(c->heap_bytes, 0);
    assert_int_equal(f.src.arena_used, 0);

    void *a = gh_heap_alloc(&f.h, 0);     /* 48 */
    void *b = gh_heap_alloc(&f.h, 1);     /* 48 */
    void *cc = gh_heap_alloc(&f.h, 100);  /* 128 */
    void *d = gh_heap_alloc(&f.h, 1000);  /* 1024 */
    void *e = gh_heap_alloc(&f.h, 5000);  /* 5024 */
    uint64_t heap = c->heap_bytes;
    assert_int_equal(heap, f.src.arena_used);
    assert_int_equal(c->overhead_bytes, GH_REGION_OVERHEAD);
    assert_int_equal(c->live_requested, 6101);
    assert_int_equal(c->live_block_bytes, 6272);
    assert_int_equal(c->live_blocks, 5);
    assert_int_equal(c->free_bytes, heap - 6272 - 64);
    assert_int_equal(c->allocs, 5);
    HEAP_OK(&f.h);

    gh_heap_free(&f.h, cc, "free");
    assert_int_equal(c->live_requested, 6001);
    assert_int_equal(c->live_block_bytes, 6144);
    assert_int_equal(c->live_blocks, 4);
    assert_int_equal(c->free_bytes, heap - 6144 - 64);
    assert_int_equal(gh_heap_free_blocks(&f.h), 2);

    assert_true(gh_heap_resize(&f.h, d, 500, "realloc")); /* 1024 -> 528 + 496 free */
    assert_int_equal(c->live_requested, 5501);
    assert_int_equal(c->live_block_bytes, 5648);
    assert_int_equal(gh_heap_free_blocks(&f.h), 3);

    assert_true(gh_heap_resize(&f.h, b, 20, "realloc")); /* same block, next free */
    assert_int_equal(c->live_requested, 5520);
    assert_int_equal(c->live_block_bytes, 5648);
    assert_int_equal(gh_heap_free_blocks(&f.h), 3);
    expect_free_block(&f.h, hdr(cc), 128);

    assert_true(gh_heap_resize(&f.h, a, 30, "realloc")); /* same block, next used */
    assert_int_equal(c->live_requested, 5550);

    void *g = gh_heap_alloc(&f.h, 6000); /* 6016, from the top */
    assert_true(g > e);
    assert_int_equal(c->live_requested, 11550);
    assert_int_equal(c->live_block_bytes, 11664);
    assert_int_equal(c->live_blocks, 5);

    assert_false(gh_heap_resize(&f.h, e, 8000, "realloc")); /* g is in the way */
    assert_int_equal(c->live_requested, 11550);

    gh_heap_free(&f.h, e, "free"); /* joins d's free tail */
    assert_int_equal(c->live_requested, 6550);
    assert_int_equal(c->live_block_bytes, 6640);
    assert_int_equal(c->live_blocks, 4);
    assert_int_equal(c->free_bytes, heap - 6640 - 64);
    assert_int_equal(gh_heap_free_blocks(&f.h), 3);
    expect_free_block(&f.h, (char *)hdr(d) + 528, 496 + 5024);

    assert_int_equal(c->heap_bytes, heap);
    assert_int_equal(c->peak_heap_bytes, heap);
    assert_int_equal(c->peak_requested, 11550);
    assert_int_equal(c->peak_block_bytes, 11664);
    assert_int_equal(c->allocs, 6);
    assert_int_equal(c->frees, 2);
    assert_int_equal(c->resize_in_place, 3);
    assert_int_equal(c->resize_refused, 1);
    assert_int_equal(c->failures, 0);
    assert_int_equal(c->regions_added, 1);
    assert_int_equal(c->regions_extended, 0);
    assert_int_equal(c->regions_released, 0);
    assert_int_equal(c->trims, 0);
    HEAP_OK(&f.h);

    /* The free bytes agree with the walk. */
    static struct walk w;
    walk_heap(&f.h, &w);
    assert_int_equal(w.free_bytes, c->free_bytes);
    assert_int_equal(w.nfree, 3);
    assert_int_equal(gh_heap_largest_free(&f.h), walk_top(&w)->size);
    fx_close(&f);
}

/* ---- the break source and the OS fault hooks ---- */

struct live {
    void *p;
    size_t n;
};

static void fill_all(struct live *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        FILL(l[i].p, l[i].n, 500 + i);
}

static void contents_all(const struct live *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        CONTENTS_OK(l[i].p, l[i].n, 500 + i);
}

static void test_break_fault_hooks(void **state)
{
    (void)state;
    struct gh_source src;
    struct gh_heap h;
    gh_source_init_break(&src);
    gh_heap_init(&h, &src, &gh_policy_best);
    struct live l[64];
    size_t n = 0;

    /* Some blocks on the break. */
    for (; n < 8; n++) {
        l[n].n = 1000 * (n + 1);
        l[n].p = gh_heap_alloc(&h, l[n].n);
        assert_non_null(l[n].p);
    }
    fill_all(l, n);
    HEAP_OK(&h);

    /* The break cannot grow: growth continues in mmap regions. */
    gh_os_fail_after(GH_OS_BRK, 0);
    size_t failures_before = src.brk_failures;
    for (size_t k = 0; k < 6; k++, n++) {
        l[n].n = 200000 + 1000 * k;
        l[n].p = gh_heap_alloc(&h, l[n].n);
        assert_non_null(l[n].p);
        FILL(l[n].p, l[n].n, 500 + n);
    }
    assert_true(src.brk_failures > failures_before);
    static struct walk w;
    walk_heap(&h, &w);
    assert_true(w.nmapped >= 1);
    assert_true(h.c->regions_added >= 2);
    HEAP_OK(&h);
    contents_all(l, n);

    /* And mmap fails too: NULL, every block intact, heap still sound. */
    gh_os_fail_after(GH_OS_MAP, 0);
    uint64_t heap = h.c->heap_bytes, fails = h.c->failures;
    assert_null(gh_heap_alloc(&h, 4u << 20));
    assert_null(gh_heap_alloc_aligned(&h, 4096, 4u << 20));
    assert_int_equal(h.c->failures, fails + 2);
    assert_int_equal(h.c->heap_bytes, heap);
    contents_all(l, n);
    HEAP_OK(&h);
    /* A resize that needs new memory is refused, the block intact. */
    struct gh_block saved = *gh_block_of(l[n - 1].p);
    if (!gh_heap_resize(&h, l[n - 1].p, 8u << 20, "realloc")) {
        assert_int_equal(gh_block_of(l[n - 1].p)->size_flags, saved.size_flags);
        assert_int_equal(gh_block_of(l[n - 1].p)->tag, saved.tag);
    } else {
        fail_msg("resize to 8 MiB succeeded with brk and mmap both failing");
    }
    contents_all(l, n);
    /* Small requests are still served from the free memory there is. */
    void *small = gh_heap_alloc(&h, 64);
    assert_non_null(small);
    gh_heap_free(&h, small, "free");
    HEAP_OK(&h);
    gh_os_fail_reset();

    /* Free everything: mapped regions go back, the rest can be trimmed. */
    for (size_t i = 0; i < n; i++) {
        CONTENTS_OK(l[i].p, l[i].n, 500 + i);
        gh_heap_free(&h, l[i].p, "free");
    }
    HEAP_OK(&h);
    gh_heap_trim(&h, 0);
    HEAP_OK(&h);
    walk_heap(&h, &w);
    assert_int_equal(w.nmapped, 0);
    assert_true(h.c->regions_released >= 1);
    assert_int_equal(h.c->live_blocks, 0);
}

/* The fallback from the start: a heap whose first region is mapped. */
static void test_break_fails_from_start(void **state)
{
    (void)state;
    struct gh_source src;
    struct gh_heap h;
    gh_source_init_break(&src);
    gh_heap_init(&h, &src, &gh_policy_first);
    gh_os_fail_after(GH_OS_BRK, 0);
    void *p = gh_heap_alloc(&h, 1000);
    gh_os_fail_reset();
    assert_non_null(p);
    static struct walk w;
    walk_heap(&h, &w);
    assert_int_equal(w.nregions, 1);
    assert_int_equal(w.nmapped, 1);
    assert_true(gh_heap_owns(&h, p));
    FILL(p, 1000, 9);
    HEAP_OK(&h);
    gh_heap_free(&h, p, "free");
    /* a wholly free mapped region is unmapped at once */
    assert_int_equal(h.c->heap_bytes, 0);
    assert_int_equal(h.c->regions_released, 1);
    HEAP_OK(&h);
}

/* In a mapped region, the last free block is not the region's only block
 * when another block lies before it, whatever that block's payload holds:
 * user data that happens to look like a region record right before the
 * freed block must not make the heap release (or miscount) the region. */
static void test_free_last_block_of_mapped_region(void **state)
{
    (void)state;
    struct gh_source src;
    struct gh_heap h;
    gh_source_init_break(&src);
    gh_heap_init(&h, &src, &gh_policy_first);
    gh_os_fail_after(GH_OS_BRK, 0);
    void *x = gh_heap_alloc(&h, 4000); /* block 4016 */
    void *y = gh_heap_alloc(&h, 100);  /* block 128, right after x */
    gh_os_fail_reset();
    assert_non_null(x);
    assert_non_null(y);
    assert_ptr_equal(hdr(y), (char *)hdr(x) + 4016);
    static struct walk w;
    walk_heap(&h, &w);
    assert_int_equal(w.nmapped, 1);
    const struct gh_region *r = w.b[0].region;
    /* Freeing y leaves one free block from y to the end marker, of size
     * len - record - marker - 4016.  The 16 bytes in front of where a
     * record would be for it lie inside x's payload: write what a record
     * of a wholly free mapped region would hold there. */
    uint64_t fake[2] = { r->len - 4016, 1 };
    char *fake_at = (char *)hdr(y) - GH_REGION_HEADER;
    assert_true(fake_at >= (char *)x && fake_at + sizeof fake <= (char *)x + 4000);
    memcpy(fake_at, fake, sizeof fake);
    gh_heap_free(&h, y, "free");
    HEAP_OK(&h);
    walk_heap(&h, &w);
    assert_int_equal(w.nmapped, 1);
    assert_int_equal(h.c->regions_released, 0);
    assert_memory_equal(fake_at, fake, sizeof fake);
    gh_heap_free(&h, x, "free");
    assert_int_equal(h.c->regions_released, 1);
    HEAP_OK(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim_on_free),
        cmocka_unit_test(test_counters_script),
        cmocka_unit_test(test_break_fault_hooks),
        cmocka_unit_test(test_break_fails_from_start),
        /* last: these found bugs; a crash (UBSan aborts the process) or a
         * fatal error there must not hide the results of the others */
        cmocka_unit_test(test_trim_odd_pad),
        cmocka_unit_test(test_free_last_block_of_mapped_region),
    };
    int failed = cmocka_run_group_tests_name("grow", tests, NULL, NULL);
    gh_os_fail_reset();
    return failed;
}
