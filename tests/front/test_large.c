/* test_large.c - the large-block layout and registry (alloc/large.c) over a
 * counted mapper.
 *
 * Proves: a block's record sits GH_LARGE_OVERHEAD bytes before its payload
 * and names its mapping; the header carries the requested size, the MMAPPED
 * flag and the bytes to the mapping's end; an aligned block's mapping is
 * trimmed to the page of its record and the page after its end; the
 * registry finds exactly the live payloads, counts live and peak bytes, and
 * remembers a freed one; a remap keeps the payload's offset; a request past
 * GH_MAX_REQUEST maps nothing.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "front_util.h"

static size_t page(void)
{
    return gh_os_page_size();
}

static void test_layout(void **state)
{
    (void)state;
    struct gh_mapper m;
    struct gh_mapper_counts c;
    gh_mapper_counted(&m, &c);
    size_t n = 300000;
    char *p = gh_large_map(&m, GH_ALIGN, n);
    assert_non_null(p);
    struct gh_large_rec *r = gh_large_rec_of(p);
    assert_ptr_equal((char *)r, p - GH_LARGE_OVERHEAD);
    assert_int_equal(r->map_base, (uintptr_t)p - GH_LARGE_OVERHEAD); /* unaligned: record at the base */
    assert_int_equal(r->map_len % page(), 0);
    assert_true(r->map_len >= n + GH_LARGE_OVERHEAD && r->map_len < n + GH_LARGE_OVERHEAD + page());
    const struct gh_block *b = gh_block_of(p);
    assert_true(gh_block_valid(b));
    assert_true(b->size_flags & GH_FLAG_MMAPPED);
    assert_int_equal((uintptr_t)b + gh_block_size(b), r->map_base + r->map_len);
    assert_int_equal(gh_large_requested(p), n);
    assert_int_equal(gh_large_usable(p), r->map_base + r->map_len - (uintptr_t)p);
    assert_int_equal(c.maps, 1);
    assert_int_equal(c.bytes, r->map_len);
    gh_large_unmap(&m, (void *)(uintptr_t)r->map_base, r->map_len);
    assert_int_equal(c.unmaps, 1);
    assert_int_equal(c.bytes, 0);
    assert_int_equal(c.peak_bytes, (n + GH_LARGE_OVERHEAD + page() - 1) / page() * page());
}

static void test_aligned_layout_is_trimmed(void **state)
{
    (void)state;
    struct gh_mapper m;
    struct gh_mapper_counts c;
    gh_mapper_counted(&m, &c);
    size_t align = 1u << 20, n = 200000;
    char *p = gh_large_map(&m, align, n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % align, 0);
    struct gh_large_rec *r = gh_large_rec_of(p);
    /* The whole pages in front of the record and after the end went back. */
    assert_int_equal(r->map_base, ((uintptr_t)p - GH_LARGE_OVERHEAD) & ~(uintptr_t)(page() - 1));
    assert_int_equal(r->map_base + r->map_len, ((uintptr_t)p + n + page() - 1) & ~(uintptr_t)(page() - 1));
    assert_int_equal(c.bytes, r->map_len);
    assert_true(c.unmaps >= 1);
    assert_int_equal(gh_large_requested(p), n);
    gh_large_unmap(&m, (void *)(uintptr_t)r->map_base, r->map_len);
    assert_int_equal(c.bytes, 0);
}

static void test_too_large_maps_nothing(void **state)
{
    (void)state;
    struct gh_mapper m;
    struct gh_mapper_counts c;
    gh_mapper_counted(&m, &c);
    assert_null(gh_large_map(&m, GH_ALIGN, (size_t)GH_MAX_REQUEST + 1));
    assert_null(gh_large_map(&m, GH_ALIGN, SIZE_MAX - 8));
    assert_int_equal(c.maps + c.failures, 0);
}

static void test_registry(void **state)
{
    (void)state;
    struct gh_mapper m;
    struct gh_mapper_counts c;
    gh_mapper_counted(&m, &c);
    struct gh_large l;
    gh_large_init(&l);
    char *p = gh_large_map(&m, GH_ALIGN, 150000), *q = gh_large_map(&m, 4096, 500000);
    assert_non_null(p);
    assert_non_null(q);
    assert_null(gh_large_find(&l, p));
    gh_large_register(&l, p);
    gh_large_register(&l, q);
    assert_int_equal(l.live_blocks, 2);
    assert_int_equal(l.live_bytes, c.bytes);
    assert_int_equal(l.live_requested, 650000);
    assert_int_equal(l.peak_bytes, c.bytes);
    assert_ptr_equal(gh_large_find(&l, p), gh_large_rec_of(p));
    assert_ptr_equal(gh_large_find(&l, q), gh_large_rec_of(q));
    assert_null(gh_large_find(&l, p + 16));   /* inside a block: not a payload */
    assert_null(gh_large_find(&l, p - 16));
    const char *why = NULL;
    assert_true(gh_tree_check(&l.tree, &why));
    void *base;
    size_t len;
    uint64_t peak = l.peak_bytes;
    gh_large_unregister(&l, gh_large_find(&l, p), p, "free", &base, &len);
    assert_ptr_equal(base, (void *)(uintptr_t)gh_large_rec_of(p)->map_base);
    assert_int_equal(len, gh_large_rec_of(p)->map_len);
    assert_null(gh_large_find(&l, p));
    assert_true(gh_large_recently_freed(&l, p));
    assert_false(gh_large_recently_freed(&l, q));
    assert_int_equal(l.live_blocks, 1);
    assert_int_equal(l.live_requested, 500000);
    assert_int_equal(l.peak_bytes, peak);
    gh_large_unmap(&m, base, len);
    /* A remap keeps the payload's offset in its mapping and its contents. */
    memset(q, 0x5a, 64);
    gh_large_unregister(&l, gh_large_find(&l, q), q, "realloc", &base, &len);
    size_t off = (size_t)(q - (char *)base);
    char *q2 = gh_large_remap(&m, q, 4u << 20);
    assert_non_null(q2);
    assert_int_equal((size_t)(q2 - (char *)(uintptr_t)gh_large_rec_of(q2)->map_base), off);
    assert_int_equal(gh_large_requested(q2), 4u << 20);
    assert_true(gh_large_usable(q2) >= 4u << 20);
    assert_int_equal((unsigned char)q2[63], 0x5a);
    assert_int_equal(c.remaps, 1);
    gh_large_register(&l, q2);
    assert_int_equal(l.live_bytes, gh_large_rec_of(q2)->map_len);
    assert_int_equal(l.peak_bytes, gh_large_rec_of(q2)->map_len > peak ? gh_large_rec_of(q2)->map_len : peak);
    gh_large_unregister(&l, gh_large_find(&l, q2), q2, "free", &base, &len);
    gh_large_unmap(&m, base, len);
    assert_int_equal(c.bytes, 0);
    assert_int_equal(l.live_blocks, 0);
}

/* A header that fails its check is fatal when the block is unregistered. */
static void unregister_corrupt(void *arg)
{
    (void)arg;
    struct gh_large l;
    gh_large_init(&l);
    char *p = gh_large_map(&gh_mapper_os, GH_ALIGN, 200000);
    gh_large_register(&l, p);
    gh_block_of(p)->size_flags ^= 0x100; /* a different size: the check no longer matches */
    void *base;
    size_t len;
    gh_large_unregister(&l, gh_large_find(&l, p), p, "free", &base, &len);
}

static void test_corrupt_header_is_fatal(void **state)
{
    (void)state;
    assert_true(dies_of_abort(unregister_corrupt, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_aligned_layout_is_trimmed),
        cmocka_unit_test(test_too_large_maps_nothing),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_corrupt_header_is_fatal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
