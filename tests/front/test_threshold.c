/* test_threshold.c - the dynamic mmap threshold (alloc/front.c, front.h)
 * over a heap on a paged arena and a counted mapper.
 *
 * Proves: with the rule on, freeing a large block whose mapping is longer
 * than the threshold raises the threshold to the mapping's length and a fit
 * heap's trim threshold to twice it, so the same request again is placed
 * in the heap (and freeing it keeps its pages: no trim); a block no longer
 * than the threshold, or above GH_MMAP_THRESHOLD_MAX, leaves it (the
 * threshold never falls); it stops at the maximum exactly; a buddy heap's
 * threshold rises only to what its largest block holds, so a request it
 * cannot hold (its alignment slack) is still mapped; the rule is off
 * by default (gh_front_init), off again after gh_front_set_dynamic(false),
 * never on in hardened mode; while it is on, a request at or above the
 * threshold that a free block of a fit heap holds is placed there without
 * growing the heap, and mapped when none does, the threshold is fixed or
 * the heap is a buddy heap; a
 * realloc that remaps a large block is no
 * free and moves nothing; GLASSHEAP_MMAP_THRESHOLD given (valid) marks the
 * threshold as chosen in the configuration.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "front_util.h"

static const char *const fits[] = { "first", "next", "best", "worst" };
#define NFIT (sizeof fits / sizeof fits[0])

/* The mapping a large block of n bytes gets: record, header, whole pages. */
static size_t map_len(size_t n)
{
    size_t ps = gh_os_page_size();
    return (n + GH_LARGE_OVERHEAD + ps - 1) / ps * ps;
}

static void open_dynamic(struct ffx *x, const char *policy)
{
    ffx_open(x, policy, FX_THRESHOLD);
    gh_front_set_dynamic(&x->f, true);
    assert_true(x->f.threshold_dynamic);
}

static void test_rises_after_a_large_free(void **state)
{
    (void)state;
    for (size_t i = 0; i < NFIT; i++) {
        struct ffx x;
        open_dynamic(&x, fits[i]);
        const size_t n = 200000, len = map_len(n); /* 200704 */
        void *p = gh_front_malloc(&x.f, GH_ALIGN, n);
        struct gh_large_rec *rec;
        assert_int_equal(gh_front_find(&x.f, p, "test", false, &rec), GH_FRONT_LARGE);
        assert_int_equal(gh_front_threshold(&x.f), FX_THRESHOLD); /* a malloc moves nothing */
        gh_front_free(&x.f, p);
        assert_int_equal(gh_front_threshold(&x.f), len);
        assert_int_equal(x.f.threshold_rises, 1);
        assert_int_equal(x.h.trim_threshold, 2 * len);
        /* The same request again: in the heap. */
        assert_int_equal(gh_front_path(&x.f, GH_ALIGN, n), GH_PATH_HEAP);
        assert_int_equal(gh_front_path(&x.f, GH_ALIGN, len), GH_PATH_LARGE);
        void *q = gh_front_malloc(&x.f, GH_ALIGN, n);
        assert_true(gh_heap_owns(&x.h, q));
        assert_int_equal(x.mapped.maps, 1);
        uint64_t heap = x.h.c->heap_bytes, trims = x.h.c->trims;
        gh_front_free(&x.f, q);
        /* Its pages stay: the top's free block is below the raised trim threshold. */
        assert_int_equal(x.h.c->trims, trims);
        assert_int_equal(x.h.c->heap_bytes, heap);
        q = gh_front_malloc(&x.f, GH_ALIGN, n);
        assert_true(gh_heap_owns(&x.h, q));
        assert_int_equal(x.h.c->heap_bytes, heap);
        gh_front_free(&x.f, q);
        /* A heap free moves nothing. */
        assert_int_equal(x.f.threshold_rises, 1);
        ffx_close(&x);
    }
}

/* Only a mapping longer than the threshold raises it: it never falls. */
static void test_never_falls(void **state)
{
    (void)state;
    struct ffx x;
    open_dynamic(&x, "best");
    void *small = gh_front_malloc(&x.f, GH_ALIGN, 300000);
    void *big = gh_front_malloc(&x.f, GH_ALIGN, 1000000);
    gh_front_free(&x.f, big);
    assert_int_equal(gh_front_threshold(&x.f), map_len(1000000));
    gh_front_free(&x.f, small); /* shorter: no change */
    assert_int_equal(gh_front_threshold(&x.f), map_len(1000000));
    assert_int_equal(x.f.threshold_rises, 1);
    /* A trim threshold the heap had already raised further stays. */
    x.h.trim_threshold = (size_t)16 << 20;
    void *big2 = gh_front_malloc(&x.f, GH_ALIGN, (size_t)3 << 20);
    gh_front_free(&x.f, big2);
    assert_int_equal(gh_front_threshold(&x.f), map_len((size_t)3 << 20));
    assert_int_equal(x.h.trim_threshold, (size_t)16 << 20);
    ffx_close(&x);
}

/* Up to GH_MMAP_THRESHOLD_MAX (32 MiB) inclusive, never past it. */
static void test_stops_at_the_max(void **state)
{
    (void)state;
    assert_int_equal(GH_MMAP_THRESHOLD_MAX, (size_t)32 << 20);
    struct ffx x;
    open_dynamic(&x, "first");
    const size_t at_max = GH_MMAP_THRESHOLD_MAX - GH_LARGE_OVERHEAD; /* a mapping of exactly 32 MiB */
    assert_int_equal(map_len(at_max), GH_MMAP_THRESHOLD_MAX);
    void *over = gh_front_malloc(&x.f, GH_ALIGN, GH_MMAP_THRESHOLD_MAX); /* 32 MiB + a page */
    gh_front_free(&x.f, over);
    assert_int_equal(gh_front_threshold(&x.f), FX_THRESHOLD);
    assert_int_equal(x.f.threshold_rises, 0);
    void *p = gh_front_malloc(&x.f, GH_ALIGN, at_max);
    gh_front_free(&x.f, p);
    assert_int_equal(gh_front_threshold(&x.f), GH_MMAP_THRESHOLD_MAX);
    assert_int_equal(x.f.threshold_rises, 1);
    p = gh_front_malloc(&x.f, GH_ALIGN, at_max);
    assert_true(gh_heap_owns(&x.h, p));
    over = gh_front_malloc(&x.f, GH_ALIGN, GH_MMAP_THRESHOLD_MAX);
    struct gh_large_rec *rec;
    assert_int_equal(gh_front_find(&x.f, over, "test", false, &rec), GH_FRONT_LARGE);
    gh_front_free(&x.f, over);
    assert_int_equal(gh_front_threshold(&x.f), GH_MMAP_THRESHOLD_MAX);
    assert_int_equal(x.f.threshold_rises, 1);
    gh_front_free(&x.f, p);
    ffx_close(&x);
}

/* A buddy heap: the threshold rises only to what its largest block (2^20
 * at a 128 KiB threshold) holds; what it cannot hold is still mapped. */
static void test_buddy_holds_what_it_is_sent(void **state)
{
    (void)state;
    struct ffx x;
    open_dynamic(&x, "buddy");
    struct gh_heap_desc d;
    gh_heap_describe(&x.h, &d);
    assert_int_equal(d.max_order, 20);
    const size_t n = 1000000, len = map_len(n); /* 1003520: held by 2^20 */
    assert_true(gh_heap_can_hold(&x.h, GH_ALIGN, len));
    void *p = gh_front_malloc(&x.f, GH_ALIGN, n);
    gh_front_free(&x.f, p);
    assert_int_equal(gh_front_threshold(&x.f), len);
    assert_int_equal(x.h.trim_threshold, 0); /* buddy trims by chunks */
    p = gh_front_malloc(&x.f, GH_ALIGN, n);
    assert_true(gh_heap_owns(&x.h, p));
    gh_front_free(&x.f, p);
    /* A mapping longer than the largest block: no rise. */
    void *big = gh_front_malloc(&x.f, GH_ALIGN, (size_t)1 << 20);
    assert_false(gh_heap_can_hold(&x.h, GH_ALIGN, map_len((size_t)1 << 20)));
    gh_front_free(&x.f, big);
    assert_int_equal(gh_front_threshold(&x.f), len);
    assert_int_equal(x.f.threshold_rises, 1);
    /* Below the threshold: everything the largest block holds with its
     * header goes to the heap, and a request whose alignment slack it
     * cannot hold is mapped, never sent to the heap. */
    assert_int_equal(gh_front_path(&x.f, GH_ALIGN, len - 1), GH_PATH_HEAP);
    assert_int_equal(gh_front_path(&x.f, (size_t)1 << 19, 600000), GH_PATH_LARGE);
    void *a = gh_front_malloc(&x.f, (size_t)1 << 19, 600000);
    struct gh_large_rec *rec;
    assert_int_equal(gh_front_find(&x.f, a, "test", false, &rec), GH_FRONT_LARGE);
    assert_int_equal((uintptr_t)a % ((size_t)1 << 19), 0);
    gh_front_free(&x.f, a);
    /* A heap block grown by realloc to just below the threshold stays in the heap. */
    void *h = gh_front_malloc(&x.f, GH_ALIGN, 1000);
    void *r = gh_front_realloc(&x.f, h, len - 1, NULL);
    assert_true(gh_heap_owns(&x.h, r));
    gh_front_free(&x.f, r);
    const char *why = NULL;
    const void *where = NULL;
    assert_true(gh_heap_check(&x.h, &why, &where));
    ffx_close(&x);
}

/* Off by default, off when turned off, never on in hardened mode. */
static void test_fixed(void **state)
{
    (void)state;
    struct ffx x;
    ffx_open(&x, "best", FX_THRESHOLD);
    assert_false(x.f.threshold_dynamic);
    void *p = gh_front_malloc(&x.f, GH_ALIGN, 200000);
    gh_front_free(&x.f, p);
    assert_int_equal(gh_front_threshold(&x.f), FX_THRESHOLD);
    assert_int_equal(x.f.threshold_rises, 0);
    assert_int_equal(x.h.trim_threshold, GH_DEFAULT_TRIM_THRESHOLD);
    gh_front_set_dynamic(&x.f, true);
    gh_front_set_dynamic(&x.f, false); /* what mallopt does */
    p = gh_front_malloc(&x.f, GH_ALIGN, 200000);
    gh_front_free(&x.f, p);
    assert_int_equal(gh_front_threshold(&x.f), FX_THRESHOLD);
    assert_int_equal(gh_front_path(&x.f, GH_ALIGN, 200000), GH_PATH_LARGE);
    x.f.harden = true;
    gh_front_set_dynamic(&x.f, true);
    assert_false(x.f.threshold_dynamic);
    ffx_close(&x);
}

/* Remapping a large block (realloc that stays large) frees nothing. */
static void test_remap_is_no_free(void **state)
{
    (void)state;
    struct ffx x;
    open_dynamic(&x, "first");
    void *p = gh_front_malloc(&x.f, GH_ALIGN, 400000);
    bool moved;
    p = gh_front_realloc(&x.f, p, 300000, &moved);
    assert_int_equal(x.mapped.remaps, 1);
    assert_int_equal(gh_front_threshold(&x.f), FX_THRESHOLD);
    /* Shrinking below half moves it into the heap: the old mapping is freed. */
    void *q = gh_front_realloc(&x.f, p, 1000, &moved);
    assert_true(moved && gh_heap_owns(&x.h, q));
    assert_int_equal(gh_front_threshold(&x.f), map_len(300000));
    gh_front_free(&x.f, q);
    ffx_close(&x);
}

/* While dynamic, a request at or above the threshold that a free heap block
 * already holds is placed there (glibc: bins and top chunk); otherwise,
 * or with a fixed threshold, it is mapped. */
static void test_large_request_in_free_heap(void **state)
{
    (void)state;
    {
        struct ffx x;
        open_dynamic(&x, "best");
        void *p = gh_front_malloc(&x.f, GH_ALIGN, 200000);
        gh_front_free(&x.f, p); /* threshold 200704 */
        p = gh_front_malloc(&x.f, GH_ALIGN, 200000);
        gh_front_free(&x.f, p); /* the heap keeps a free block that holds 200000 and more */
        size_t n = gh_front_threshold(&x.f) + 1000;
        assert_int_equal(gh_front_path(&x.f, GH_ALIGN, n), GH_PATH_LARGE);
        assert_true(gh_heap_largest_free(&x.h) >= n + GH_HEADER_SIZE);
        uint64_t heap = x.h.c->heap_bytes, maps = x.mapped.maps;
        void *q = gh_front_malloc(&x.f, GH_ALIGN, n);
        assert_true(gh_heap_owns(&x.h, q));
        assert_int_equal(x.mapped.maps, maps);
        assert_int_equal(x.h.c->heap_bytes, heap); /* it did not grow */
        /* More than the largest free block (and the threshold): mapped. */
        void *r = gh_front_malloc(&x.f, GH_ALIGN, gh_heap_largest_free(&x.h) + gh_front_threshold(&x.f));
        struct gh_large_rec *rec;
        assert_int_equal(gh_front_find(&x.f, r, "test", false, &rec), GH_FRONT_LARGE);
        gh_front_free(&x.f, q);
        /* Fixed: the threshold is exact. */
        gh_front_set_dynamic(&x.f, false);
        assert_true(gh_heap_largest_free(&x.h) >= n + GH_HEADER_SIZE);
        assert_null(gh_front_large_in_heap(&x.f, GH_ALIGN, n));
        q = gh_front_malloc(&x.f, GH_ALIGN, n);
        assert_int_equal(gh_front_find(&x.f, q, "test", false, &rec), GH_FRONT_LARGE);
        gh_front_free(&x.f, q);
        gh_front_free(&x.f, r);
        ffx_close(&x);
    }
    /* Buddy keeps whole free chunks: the threshold stays exact there. */
    struct ffx b;
    open_dynamic(&b, "buddy");
    void *p = gh_front_malloc(&b.f, GH_ALIGN, 1000);
    assert_true(gh_heap_largest_free(&b.h) >= 300000);
    assert_null(gh_front_large_in_heap(&b.f, GH_ALIGN, 300000));
    void *q = gh_front_malloc(&b.f, GH_ALIGN, 300000);
    struct gh_large_rec *rec;
    assert_int_equal(gh_front_find(&b.f, q, "test", false, &rec), GH_FRONT_LARGE);
    gh_front_free(&b.f, q);
    gh_front_free(&b.f, p);
    ffx_close(&b);
}

/* ---- the configuration ---------------------------------------------------- */

static const char *one_var(const char *name, void *arg)
{
    const char *const *kv = arg;
    return kv[0] && !strcmp(name, kv[0]) ? kv[1] : NULL;
}

static void test_config_marks_a_chosen_threshold(void **state)
{
    (void)state;
    struct gh_config c;
    const char *none[] = { NULL, NULL };
    gh_config_parse(&c, one_var, none);
    assert_false(c.mmap_threshold_set);
    const char *given[] = { "GLASSHEAP_MMAP_THRESHOLD", "128K" }; /* the default, but chosen */
    gh_config_parse(&c, one_var, given);
    assert_true(c.mmap_threshold_set);
    assert_int_equal(c.mmap_threshold, 128 * 1024);
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2); /* the warning line is not the test's output */
    const char *bad[] = { "GLASSHEAP_MMAP_THRESHOLD", "lots" };
    assert_int_equal(gh_config_parse(&c, one_var, bad), 1);
    dup2(saved, 2);
    close(devnull);
    close(saved);
    assert_false(c.mmap_threshold_set); /* the default is used: not chosen */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rises_after_a_large_free),
        cmocka_unit_test(test_never_falls),
        cmocka_unit_test(test_stops_at_the_max),
        cmocka_unit_test(test_buddy_holds_what_it_is_sent),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_remap_is_no_free),
        cmocka_unit_test(test_large_request_in_free_heap),
        cmocka_unit_test(test_config_marks_a_chosen_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
