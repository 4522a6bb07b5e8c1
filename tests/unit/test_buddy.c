/* test_buddy.c - the binary buddy heap, white-box on the arena source.
 *
 * Proves: a request takes the smallest order that holds it and its header;
 * splitting leaves exactly one free block on each order between (the upper
 * halves); freeing merges with the free buddy repeatedly, back to one whole
 * chunk; the exact per-order free counts after a scripted sequence; aligned
 * payloads; in-place resize by absorbing or handing back upper buddies;
 * internal fragmentation counted in the counters; and that the buddy
 * checker catches each kind of corruption.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_util.h"
#include "buddy.h"

#define MAXO 10u /* 1 KiB chunks: small enough to script by hand */

static void open_buddy(struct fx *f, size_t len)
{
    fx_open(f, len, &gh_policy_first);
    gh_heap_init_buddy(&f->h, &f->src, MAXO);
}

/* The per-order free counts from `lo` to MAXO as one string, e.g. "1 1 0 1". */
static void assert_orders(const struct gh_heap *h, const unsigned *want)
{
    for (unsigned k = GH_BUDDY_MIN_ORDER; k <= MAXO; k++) {
        if (h->buddy.count[k] != want[k - GH_BUDDY_MIN_ORDER])
            fail_msg("order %u: %llu free blocks, expected %u", k, (unsigned long long)h->buddy.count[k],
                     want[k - GH_BUDDY_MIN_ORDER]);
        assert_int_equal((h->buddy.nonempty >> k) & 1, want[k - GH_BUDDY_MIN_ORDER] != 0);
    }
    HEAP_OK(h);
}

static char *chunk_base(const struct gh_heap *h)
{
    /* The first region's first chunk sits right after its record. */
    const struct gh_region *r = (const struct gh_region *)((const char *)h->regions.root
                                                           - offsetof(struct gh_region, node));
    return (char *)r + GH_REGION_HEADER;
}

static void test_orders_split_merge(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *h = &f.h;
    assert_int_equal(gh_buddy_order_for(h, 0), 5);   /* 0 + 16 -> 32 */
    assert_int_equal(gh_buddy_order_for(h, 16), 5);  /* 32 exactly */
    assert_int_equal(gh_buddy_order_for(h, 17), 6);  /* 33 -> 64 */
    assert_int_equal(gh_buddy_order_for(h, 1008), 10);
    assert_int_equal(gh_buddy_order_for(h, 1009), 0); /* above the largest order */

    /* a: 10 bytes -> order 5.  The 1024 chunk splits 512|256|128|64|32|32. */
    char *a = gh_heap_alloc(h, 10);
    char *base = chunk_base(h);
    assert_ptr_equal(a, base + 16);
    assert_orders(h, (unsigned[]){ 1, 1, 1, 1, 1, 0 });
    /* b: 40 bytes -> 56 with the header -> order 6: the free 64 at +64. */
    char *b = gh_heap_alloc(h, 40);
    assert_ptr_equal(b, base + 64 + 16);
    assert_orders(h, (unsigned[]){ 1, 0, 1, 1, 1, 0 });
    /* c: order 5 again: a's buddy at +32. */
    char *c = gh_heap_alloc(h, 1);
    assert_ptr_equal(c, base + 32 + 16);
    assert_orders(h, (unsigned[]){ 0, 0, 1, 1, 1, 0 });
    /* Internal fragmentation is counted: 51 bytes asked, 128 in blocks. */
    assert_int_equal(h->c.live_requested, 51);
    assert_int_equal(h->c.live_block_bytes, 128);

    /* free a: its buddy c is in use, a stays an order-5 block. */
    gh_heap_free(h, a, "free");
    assert_orders(h, (unsigned[]){ 1, 0, 1, 1, 1, 0 });
    /* free c: merges with a into the 64 at +0; that one's buddy (b) is used. */
    gh_heap_free(h, c, "free");
    assert_orders(h, (unsigned[]){ 0, 1, 1, 1, 1, 0 });
    /* free b: 64+64 -> 128, +128 -> 256, +256 -> 512, +512 -> the whole chunk. */
    gh_heap_free(h, b, "free");
    assert_orders(h, (unsigned[]){ 0, 0, 0, 0, 0, 1 });
    assert_int_equal(h->c.live_block_bytes, 0);
    fx_close(&f);
}

static void test_grows_by_chunks(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *h = &f.h;
    void *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = gh_heap_alloc(h, 1000); /* a whole chunk each */
    assert_int_equal(h->c.heap_bytes, GH_REGION_HEADER + 3 * 1024);
    assert_int_equal(h->c.regions_added, 1);
    assert_int_equal(h->c.regions_extended, 2);
    assert_null(gh_heap_alloc(h, 2000)); /* above the largest order */
    HEAP_OK(h);
    /* Freeing the last chunk keeps it: one free chunk of padding. */
    gh_heap_free(h, p[2], "free");
    assert_int_equal(h->c.heap_bytes, GH_REGION_HEADER + 3 * 1024);
    /* With the two top chunks free, the last goes back to the source. */
    gh_heap_free(h, p[1], "free");
    assert_int_equal(h->c.heap_bytes, GH_REGION_HEADER + 2 * 1024);
    assert_int_equal(h->c.trims, 1);
    HEAP_OK(h);
    /* malloc_trim gives back the padding chunk too (never the last one). */
    assert_int_equal(gh_heap_trim(h, 0), 1024);
    assert_int_equal(h->c.heap_bytes, GH_REGION_HEADER + 1024);
    gh_heap_free(h, p[0], "free");
    assert_int_equal(gh_heap_trim(h, 0), 0);
    assert_int_equal(h->c.heap_bytes, GH_REGION_HEADER + 1024);
    HEAP_OK(h);
    fx_close(&f);
}

static void test_aligned(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *h = &f.h;
    void *keep = gh_heap_alloc(h, 1); /* so chunk offsets are not all aligned */
    for (size_t align = 32; align <= 256; align *= 2) {
        char *p = gh_heap_alloc_aligned(h, align, 100);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        assert_true(gh_heap_usable(h, p) >= 100);
        memset(p, 0xab, 100);
        HEAP_OK(h);
        gh_heap_free(h, p, "free");
        HEAP_OK(h);
    }
    gh_heap_free(h, keep, "free");
    assert_orders(h, (unsigned[]){ 0, 0, 0, 0, 0, 1 });
    fx_close(&f);
}

static void test_resize(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *h = &f.h;
    char *a = gh_heap_alloc(h, 10); /* order 5 at +0: its upper buddies are free */
    memset(a, 7, 10);
    assert_true(gh_heap_resize(h, a, 200, "realloc")); /* 216 -> order 8 */
    assert_int_equal(gh_heap_usable(h, a), 256 - 16);
    assert_int_equal(a[9], 7);
    assert_orders(h, (unsigned[]){ 0, 0, 0, 1, 1, 0 }); /* +256 and +512 stay free */
    char *b = gh_heap_alloc(h, 200); /* takes the 256 at +256 */
    assert_ptr_equal(b, a + 256);
    assert_false(gh_heap_resize(h, a, 300, "realloc")); /* buddy b in use */
    assert_true(gh_heap_resize(h, a, 10, "realloc"));   /* hand back 128, 64, 32 */
    assert_orders(h, (unsigned[]){ 1, 1, 1, 0, 1, 0 });
    assert_int_equal(h->c.live_requested, 210);
    gh_heap_free(h, a, "free");
    gh_heap_free(h, b, "free");
    assert_orders(h, (unsigned[]){ 0, 0, 0, 0, 0, 1 });
    fx_close(&f);
}

static void expect_broken(const struct gh_heap *h, const char *keyword)
{
    const char *why = NULL;
    assert_false(gh_heap_check(h, &why, NULL));
    assert_non_null(why);
    if (!strstr(why, keyword))
        fail_msg("checker said \"%s\", expected \"%s\"", why, keyword);
}

static void test_checker(void **state)
{
    (void)state;
    struct fx f;
    /* Two unmerged free buddies: free a by hand, without merging. */
    open_buddy(&f, 1 << 20);
    char *a = gh_heap_alloc(&f.h, 10), *c = gh_heap_alloc(&f.h, 10);
    (void)c;
    struct gh_block *cb = gh_block_of(c);
    cb->size_flags |= GH_FLAG_FREE; /* c "free" but on no list */
    expect_broken(&f.h, "missing from its order's list");
    fx_close(&f);

    /* A free block dropped from its list behind the heap's back. */
    open_buddy(&f, 1 << 20);
    a = gh_heap_alloc(&f.h, 10);
    f.h.buddy.lists[9] = NULL;
    expect_broken(&f.h, "list");
    fx_close(&f);

    /* The bitmap disagrees with the lists. */
    open_buddy(&f, 1 << 20);
    a = gh_heap_alloc(&f.h, 10);
    f.h.buddy.nonempty ^= (uint64_t)1 << 9;
    expect_broken(&f.h, "bitmap");
    fx_close(&f);

    /* Two free buddies of the same order left unmerged. */
    open_buddy(&f, 1 << 20);
    a = gh_heap_alloc(&f.h, 10);
    c = gh_heap_alloc(&f.h, 10);
    gh_heap_free(&f.h, a, "free"); /* a free at order 5; its buddy c is used */
    /* Put c on the order-5 list as a free block without merging. */
    struct gh_buddy_node *an = (struct gh_buddy_node *)a, *cn = (struct gh_buddy_node *)c;
    cb = gh_block_of(c);
    gh_block_set(cb, 32 | GH_FLAG_FREE, 0);
    cn->prev = NULL;
    cn->next = an;
    an->prev = cn;
    f.h.buddy.lists[5] = cn;
    f.h.buddy.count[5]++;
    f.h.c.free_bytes += 32;
    f.h.c.live_block_bytes -= 32;
    f.h.c.live_blocks--;
    f.h.c.live_requested -= 10;
    expect_broken(&f.h, "unmerged");
    fx_close(&f);

    /* A header that fails its check. */
    open_buddy(&f, 1 << 20);
    a = gh_heap_alloc(&f.h, 10);
    gh_block_of(a)->size_flags = 64;
    expect_broken(&f.h, "check");
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_split_merge),
        cmocka_unit_test(test_grows_by_chunks),
        cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_checker),
    };
    return cmocka_run_group_tests_name("buddy", tests, NULL, NULL);
}
