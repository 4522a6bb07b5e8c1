/* test_decide.c - the front end's decisions (alloc/front.c) over a heap on
 * a paged arena and a counted mapper.
 *
 * Proves: requests below the mmap threshold go to the heap, at or above it
 * to a mapping of their own, beyond PTRDIFF_MAX nowhere; a buddy heap sends
 * what its largest block cannot hold with the alignment slack to the large
 * path while a fit heap keeps it; aligned requests come back aligned on
 * both paths; realloc resizes a heap block in place, moves it (contents
 * kept) when it grows past the threshold, remaps a large block that stays
 * at least half full, and moves a large block that shrinks below half into
 * the heap; free gives a mapping back; usable sizes; a foreign pointer and
 * a second free are fatal; the observe hook runs after each step that can
 * set a peak.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "front_util.h"

static const char *const policies[] = { "first", "next", "best", "worst", "buddy" };
#define NPOL (sizeof policies / sizeof policies[0])

static void test_threshold(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPOL; i++) {
        struct ffx x;
        ffx_open(&x, policies[i], FX_THRESHOLD);
        assert_int_equal(gh_front_path(&x.f, GH_ALIGN, FX_THRESHOLD - 1), GH_PATH_HEAP);
        assert_int_equal(gh_front_path(&x.f, GH_ALIGN, FX_THRESHOLD), GH_PATH_LARGE);
        assert_int_equal(gh_front_path(&x.f, GH_ALIGN, (size_t)PTRDIFF_MAX + 1), GH_PATH_NONE);
        assert_true(gh_front_is_large(&x.f, FX_THRESHOLD) && !gh_front_is_large(&x.f, FX_THRESHOLD - 1));
        struct gh_large_rec *rec;
        void *h = gh_front_malloc(&x.f, GH_ALIGN, FX_THRESHOLD - 1);
        void *l = gh_front_malloc(&x.f, GH_ALIGN, FX_THRESHOLD);
        assert_non_null(h);
        assert_non_null(l);
        assert_null(gh_front_malloc(&x.f, GH_ALIGN, (size_t)PTRDIFF_MAX + 1));
        assert_int_equal(gh_front_find(&x.f, h, "test", false, &rec), GH_FRONT_HEAP);
        assert_int_equal(gh_front_find(&x.f, l, "test", false, &rec), GH_FRONT_LARGE);
        assert_int_equal(x.mapped.maps, 1);
        assert_int_equal(x.f.large_mapped, 1);
        assert_int_equal(x.f.large.live_requested, FX_THRESHOLD);
        assert_int_equal(x.h.c->live_requested, FX_THRESHOLD - 1);
        assert_int_equal(x.observed, 2);
        assert_true(gh_front_usable(&x.f, h, "test") >= FX_THRESHOLD - 1);
        assert_int_equal(gh_front_usable(&x.f, l, "test"), gh_large_usable(l));
        gh_front_free(&x.f, l);
        assert_int_equal(x.mapped.bytes, 0);
        assert_int_equal(x.mapped.unmaps, 1);
        gh_front_free(&x.f, h);
        assert_int_equal(x.h.c->live_blocks, 0);
        ffx_close(&x);
    }
}

/* A threshold the program changed (mallopt) moves the split at once. */
static void test_threshold_follows_its_field(void **state)
{
    (void)state;
    struct ffx x;
    ffx_open(&x, "first", FX_THRESHOLD);
    x.f.mmap_threshold = 4096;
    assert_int_equal(gh_front_path(&x.f, GH_ALIGN, 5000), GH_PATH_LARGE);
    assert_int_equal(gh_front_path(&x.f, GH_ALIGN, 4000), GH_PATH_HEAP);
    ffx_close(&x);
}

static void test_buddy_limits(void **state)
{
    (void)state;
    struct ffx b, f;
    ffx_open(&b, "buddy", FX_THRESHOLD);
    ffx_open(&f, "first", FX_THRESHOLD);
    struct gh_heap_desc d;
    gh_heap_describe(&b.h, &d);
    size_t largest = (size_t)1 << d.max_order; /* 2^20 for a 128 KiB threshold */
    assert_int_equal(d.max_order, 20);
    /* Every request below the threshold fits the largest block... */
    assert_int_equal(gh_front_path(&b.f, GH_ALIGN, FX_THRESHOLD - 1), GH_PATH_HEAP);
    /* ...but not with an alignment slack as large as the block: mapped. */
    assert_int_equal(gh_front_path(&b.f, largest, 1000), GH_PATH_LARGE);
    assert_int_equal(gh_front_path(&f.f, largest, 1000), GH_PATH_HEAP);
    char *p = gh_front_malloc(&b.f, largest, 1000), *q = gh_front_malloc(&f.f, largest, 1000);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)p % largest, 0);
    assert_int_equal((uintptr_t)q % largest, 0);
    struct gh_large_rec *rec;
    assert_int_equal(gh_front_find(&b.f, p, "test", false, &rec), GH_FRONT_LARGE);
    assert_int_equal(gh_front_find(&f.f, q, "test", false, &rec), GH_FRONT_HEAP);
    gh_front_free(&b.f, p);
    gh_front_free(&f.f, q);
    /* A larger threshold sizes the buddy heap's largest block to hold it. */
    struct ffx big;
    ffx_open(&big, "buddy", (size_t)4 << 20);
    gh_heap_describe(&big.h, &d);
    assert_true(((size_t)1 << d.max_order) >= ((size_t)4 << 20) + GH_HEADER_SIZE);
    assert_int_equal(gh_front_path(&big.f, GH_ALIGN, ((size_t)4 << 20) - 1), GH_PATH_HEAP);
    ffx_close(&big);
    ffx_close(&b);
    ffx_close(&f);
}

static void test_aligned(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPOL; i++) {
        struct ffx x;
        ffx_open(&x, policies[i], FX_THRESHOLD);
        for (size_t a = 32; a <= 8192; a <<= 1) {
            char *p = gh_front_malloc(&x.f, a, 700);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % a, 0);
            assert_true(gh_heap_owns(&x.h, p));
        }
        char *l = gh_front_malloc(&x.f, 65536, FX_THRESHOLD * 2);
        assert_non_null(l);
        assert_int_equal((uintptr_t)l % 65536, 0);
        assert_false(gh_heap_owns(&x.h, l));
        gh_front_free(&x.f, l);
        ffx_close(&x);
    }
}

static void fill(char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(seed + i * 7);
}

static bool same(const char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (char)(seed + i * 7))
            return false;
    return true;
}

static void test_realloc_rule(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPOL; i++) {
        struct ffx x;
        ffx_open(&x, policies[i], FX_THRESHOLD);
        struct gh_realloc r;
        bool moved;
        /* A heap block shrinks in place. */
        char *p = gh_front_malloc(&x.f, GH_ALIGN, 4000);
        fill(p, 4000, 1);
        assert_int_equal(gh_front_realloc_begin(&x.f, p, 100, "test", &r), GH_REALLOC_IN_PLACE);
        assert_int_equal(r.old_requested, 4000);
        assert_true(r.old_usable >= 4000);
        assert_true(same(p, 100, 1));
        /* It moves, contents kept, when it grows past the threshold. */
        unsigned seen = x.observed;
        char *q = gh_front_realloc(&x.f, p, FX_THRESHOLD + 5000, &moved);
        assert_true(moved);
        assert_true(same(q, 100, 1));
        assert_false(gh_heap_owns(&x.h, q));
        assert_int_equal(x.h.c->live_blocks, 0);  /* the old block is gone */
        assert_int_equal(x.observed, seen + 1);  /* once, with both blocks live */
        /* A large block that stays at least half full is remapped. */
        size_t usable = gh_large_usable(q);
        assert_int_equal(gh_front_realloc_begin(&x.f, q, usable / 2, "test", &r), GH_REALLOC_REMAP);
        assert_null(gh_large_find(&x.f.large, q)); /* out of the registry until re-added */
        char *q2 = gh_front_large_remap(&x.f, q, usable / 2);
        assert_non_null(q2);
        gh_front_large_add(&x.f, q2, /* fresh */ false);
        assert_int_equal(x.mapped.remaps, 1);
        assert_int_equal(x.f.large_mapped, 1);
        assert_true(same(q2, 100, 1));
        q2 = gh_front_realloc(&x.f, q2, FX_THRESHOLD * 8, &moved);
        assert_non_null(q2);
        assert_int_equal(x.mapped.remaps, 2);
        assert_int_equal(gh_large_requested(q2), FX_THRESHOLD * 8);
        /* Below half its usable bytes and below the threshold: into the heap. */
        assert_int_equal(gh_front_realloc_begin(&x.f, q2, 1000, "test", &r), GH_REALLOC_MOVE);
        assert_int_equal(gh_front_copy_len(&r, 1000), 1000);
        char *h = gh_front_realloc(&x.f, q2, 1000, &moved);
        assert_true(moved);
        assert_true(gh_heap_owns(&x.h, h));
        assert_true(same(h, 100, 1));
        assert_int_equal(x.mapped.bytes, 0);
        assert_int_equal(x.f.large.live_blocks, 0);
        /* Beyond PTRDIFF_MAX: nothing changes. */
        assert_int_equal(gh_front_realloc_begin(&x.f, h, (size_t)PTRDIFF_MAX + 1, "test", &r), GH_REALLOC_FAILED);
        assert_null(gh_front_realloc(&x.f, h, (size_t)PTRDIFF_MAX + 1, &moved));
        assert_true(same(h, 100, 1));
        gh_front_free(&x.f, h);
        assert_int_equal(x.h.c->live_blocks, 0);
        ffx_close(&x);
    }
}

/* A fit heap block at the top grows in place by extending its region. */
static void test_realloc_grows_at_the_top(void **state)
{
    (void)state;
    struct ffx x;
    ffx_open(&x, "first", FX_THRESHOLD);
    char *p = gh_front_malloc(&x.f, GH_ALIGN, 1000);
    bool moved = true;
    char *q = gh_front_realloc(&x.f, p, FX_THRESHOLD - 16, &moved);
    assert_ptr_equal(p, q);
    assert_false(moved);
    assert_int_equal(x.h.c->heap_bytes % gh_os_page_size(), 0); /* the paged arena grew by whole pages */
    gh_front_free(&x.f, q);
    ffx_close(&x);
}

static struct ffx *fatal_fx;

static void free_foreign(void *arg)
{
    static char not_ours[64];
    (void)arg;
    gh_front_free(&fatal_fx->f, not_ours + 16);
}

static void free_twice(void *arg)
{
    (void)arg;
    void *l = gh_front_malloc(&fatal_fx->f, GH_ALIGN, FX_THRESHOLD);
    gh_front_free(&fatal_fx->f, l);
    gh_front_free(&fatal_fx->f, l);
}

static void test_misuse_is_fatal(void **state)
{
    (void)state;
    struct ffx x;
    ffx_open(&x, "best", FX_THRESHOLD);
    fatal_fx = &x;
    assert_true(dies_of_abort(free_foreign, NULL));
    assert_true(dies_of_abort(free_twice, NULL));
    ffx_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_threshold_follows_its_field),
        cmocka_unit_test(test_buddy_limits),
        cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_realloc_rule),
        cmocka_unit_test(test_realloc_grows_at_the_top),
        cmocka_unit_test(test_misuse_is_fatal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
