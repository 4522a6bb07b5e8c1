/* api_edge_basic.c - api_edge: malloc(0), free(NULL), realloc with NULL and 0, calloc and reallocarray overflow, calloc zeroing (api_edge.c tells the whole story). */
#include "api_edge.h"

/* Every call is glassheap's and is counted by it. */
void test_served_by_glassheap(void **state)
{
    (void)state;
    assert_string_equal(gh.version(), GLASSHEAP_VERSION);
    assert_string_equal(gh.policy(), gh_t_env_policy());

    struct glassheap_counters c0 = ctr();
    void *p = malloc(opaque(100));
    struct glassheap_counters c1 = ctr();
    assert_non_null(p);
    assert_int_equal(c1.malloc_calls, c0.malloc_calls + 1);
    assert_true(c1.live_blocks >= c0.live_blocks + 1);
    assert_true(c1.live_requested >= c0.live_requested + 100);

    void *q = calloc(opaque(3), 50);
    struct glassheap_counters c2 = ctr();
    assert_non_null(q);
    assert_int_equal(c2.calloc_calls, c1.calloc_calls + 1);

    q = realloc(q, opaque(400));
    struct glassheap_counters c3 = ctr();
    assert_non_null(q);
    assert_int_equal(c3.realloc_calls, c2.realloc_calls + 1);

    void *a = aligned_alloc(64, opaque(64));
    struct glassheap_counters c4 = ctr();
    assert_non_null(a);
    assert_int_equal(c4.aligned_calls, c3.aligned_calls + 1);

    free(a);
    free(q);
    free(p);
    struct glassheap_counters c5 = ctr();
    assert_int_equal(c5.free_calls, c4.free_calls + 3);
    assert_int_equal(c5.live_blocks, c0.live_blocks);
    assert_int_equal(c5.live_requested, c0.live_requested);

    errno = 0;
    sink = malloc(opaque(SIZE_MAX));
    struct glassheap_counters c6 = ctr();
    assert_null(sink);
    assert_true(c6.failed_calls > c5.failed_calls);

    void *big = malloc(opaque(MiB));
    struct glassheap_counters c7 = ctr();
    assert_non_null(big);
    assert_int_equal(c7.large_blocks, c6.large_blocks + 1);
    assert_true(c7.large_bytes >= c6.large_bytes + MiB);
    free(big);
    struct glassheap_counters c8 = ctr();
    assert_int_equal(c8.large_blocks, c6.large_blocks);
    assert_heap_ok();
}

/* malloc(0): unique, non-NULL, the minimum block's usable bytes: 32 for
 * the fit policies, 16 for buddy (whose smallest block is 32 bytes). */
void test_malloc0(void **state)
{
    (void)state;
    size_t min_usable = strcmp(glassheap_policy(), "buddy") == 0 ? 16 : 32;
    enum { N = 64 };
    unsigned char *p[N];
    int exact = 0;
    for (int i = 0; i < N; i++) {
        p[i] = malloc(opaque(0));
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        size_t u = malloc_usable_size(p[i]);
        /* Fit policies: the 48-byte minimum block, 32 usable; a block
         * reused without a split may carry up to 32 more bytes (a remainder
         * below the minimum block is not split off).  Buddy: the smallest
         * order is 32 bytes, 16 usable, never more. */
        if (u < min_usable || u > min_usable + 32)
            fail_msg("malloc(0) #%d: malloc_usable_size %zu; expected %zu", i, u, min_usable);
        exact += u == min_usable;
        memset(p[i], i + 1, min_usable);
    }
    assert_true(exact >= N * 9 / 10);
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++)
            assert_ptr_not_equal(p[i], p[j]);
        for (size_t k = 0; k < min_usable; k++)
            assert_int_equal(p[i][k], i + 1);
    }
    for (int i = 0; i < N; i++)
        free(p[i]);
    assert_heap_ok();
}

/* free(NULL) is a no-op and keeps errno. */
void test_free_null(void **state)
{
    (void)state;
    struct glassheap_counters c0 = ctr();
    errno = 4242;
    free(NULL);
    assert_int_equal(errno, 4242);
    struct glassheap_counters c1 = ctr();
    assert_int_equal(c1.live_blocks, c0.live_blocks);
    assert_int_equal(malloc_usable_size(NULL), 0);
    assert_heap_ok();
}

/* realloc(NULL, n) is malloc(n). */
void test_realloc_null(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 100, 5000, 300 * KiB };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        struct glassheap_counters c0 = ctr();
        unsigned char *p = realloc(NULL, opaque(sizes[i]));
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_true(malloc_usable_size(p) >= sizes[i]);
        struct glassheap_counters c1 = ctr();
        /* live_blocks counts heap and large blocks alike */
        assert_int_equal(c1.live_blocks, c0.live_blocks + 1);
        gh_t_fill(p, sizes[i], i);
        assert_int_equal(gh_t_verify(p, sizes[i], i), (size_t)-1);
        free(p);
    }
    assert_heap_ok();
}

/* realloc(p, 0) frees p and returns NULL (heap and large blocks). */
void test_realloc_zero(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 100, 4000, 500 * KiB };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        struct glassheap_counters c0 = ctr();
        void *p = malloc(opaque(sizes[i]));
        assert_non_null(p);
        struct glassheap_counters c1 = ctr();
        assert_int_equal(c1.live_blocks, c0.live_blocks + 1);
        void *r = realloc(p, opaque(0));
        assert_null(r);
        struct glassheap_counters c2 = ctr();
        assert_int_equal(c2.live_blocks, c0.live_blocks);
        assert_int_equal(c2.large_blocks, c0.large_blocks);
        assert_int_equal(c2.live_requested, c0.live_requested);
    }
    assert_heap_ok();
}

/* calloc's n * size overflow: NULL + ENOMEM. */
void test_calloc_overflow(void **state)
{
    (void)state;
    static const size_t pairs[][2] = {
        { SIZE_MAX / 2 + 1, 2 },
        { (size_t)1 << 32, (size_t)1 << 32 },
        { SIZE_MAX, SIZE_MAX },
        { 3, SIZE_MAX / 3 + 1 },
        { (SIZE_MAX >> 4) + 1, 16 },
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        errno = 0;
        void *p = calloc(opaque(pairs[i][0]), opaque(pairs[i][1]));
        assert_null(p);
        assert_int_equal(errno, ENOMEM);
    }
    /* A zero factor is no overflow: a valid (malloc(0)-like) block. */
    void *z = calloc(opaque(0), opaque(SIZE_MAX));
    assert_non_null(z);
    free(z);
    z = calloc(opaque(SIZE_MAX), opaque(0));
    assert_non_null(z);
    free(z);
    assert_heap_ok();
}

/* reallocarray's overflow: NULL + ENOMEM, the old block untouched. */
void test_reallocarray_overflow(void **state)
{
    (void)state;
    errno = 0;
    void *p = reallocarray(NULL, opaque(SIZE_MAX / 2 + 1), opaque(2));
    assert_null(p);
    assert_int_equal(errno, ENOMEM);

    unsigned char *q = malloc(opaque(64));
    assert_non_null(q);
    gh_t_fill(q, 64, 7);
    errno = 0;
    p = reallocarray(q, opaque((size_t)1 << 32), opaque((size_t)1 << 32));
    assert_null(p);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(gh_t_verify(q, 64, 7), (size_t)-1);
    assert_true(malloc_usable_size(q) >= 64);

    unsigned char *r = reallocarray(q, opaque(10), opaque(100));
    assert_non_null(r);
    assert_true(malloc_usable_size(r) >= 1000);
    assert_int_equal(gh_t_verify(r, 64, 7), (size_t)-1);
    free(r);
    assert_heap_ok();
}

static void assert_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            fail_msg("calloc block %p byte %zu of %zu is 0x%02x, not 0", (void *)p, i, n,
                     p[i]);
}

/* calloc returns zeroed memory, also when it reuses dirtied blocks, and for
 * large (mmap) blocks. */
void test_calloc_zeroes(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 24, 100, 1000, 4000, 40000 };
    /* Under the debug checker each call walks the heap: 1 MiB of 1-byte
     * blocks (60k of them) would take minutes, 128 KiB takes seconds. */
    const size_t HOLE = gh_t_checked() ? 128 * KiB : MiB;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        size_t k = HOLE / (n + 16) + 1;
        unsigned char **blk = malloc(k * sizeof *blk);
        unsigned char **cal = malloc(k * sizeof *cal);
        assert_non_null(blk);
        assert_non_null(cal);
        /* Dirty a 1 MiB hole that a live guard block keeps off the top. */
        for (size_t i = 0; i < k; i++) {
            blk[i] = malloc(opaque(n));
            assert_non_null(blk[i]);
            memset(blk[i], 0xA5, malloc_usable_size(blk[i]));
        }
        void *guard = malloc(opaque(64));
        assert_non_null(guard);
        uintptr_t lo = UINTPTR_MAX, hi = 0;
        for (size_t i = 0; i < k; i++) {
            if ((uintptr_t)blk[i] < lo)
                lo = (uintptr_t)blk[i];
            if ((uintptr_t)blk[i] + n > hi)
                hi = (uintptr_t)blk[i] + n;
            free(blk[i]);
        }
        size_t reused = 0;
        for (size_t i = 0; i < k; i++) {
            cal[i] = calloc(1, opaque(n));
            assert_non_null(cal[i]);
            assert_zero(cal[i], n);
            reused += (uintptr_t)cal[i] >= lo && (uintptr_t)cal[i] < hi;
            memset(cal[i], 0x5A, n); /* dirty again for the next calloc */
        }
        /* The test only proves something if calloc did reuse the hole. */
        assert_true(reused > 0);
        for (size_t i = 0; i < k; i++)
            free(cal[i]);
        /* The array form, once more over the dirtied memory. */
        for (size_t i = 0; i < k; i++) {
            cal[i] = calloc(opaque(n), 1);
            assert_non_null(cal[i]);
            assert_zero(cal[i], n);
        }
        for (size_t i = 0; i < k; i++)
            free(cal[i]);
        free(guard);
        free(cal);
        free(blk);
    }
    /* Large (mmap) blocks, fresh and after a dirtied one was freed. */
    static const size_t large[] = { 200 * KiB, MiB, 8 * MiB + 3 };
    for (size_t s = 0; s < sizeof large / sizeof *large; s++) {
        for (int round = 0; round < 3; round++) {
            unsigned char *p = calloc(opaque(large[s]), 1);
            assert_non_null(p);
            assert_zero(p, large[s]);
            memset(p, 0xC3, large[s]);
            free(p);
        }
    }
    /* A big dirty heap block split up by later callocs. */
    unsigned char *d = malloc(opaque(100 * KiB));
    void *guard = malloc(opaque(32));
    assert_non_null(d);
    memset(d, 0xEE, 100 * KiB);
    free(d);
    for (int i = 0; i < 50; i++) {
        unsigned char *c = calloc(opaque(1000 + 37 * i), 1);
        assert_non_null(c);
        assert_zero(c, 1000 + 37 * i);
        free(c);
    }
    free(guard);
    assert_heap_ok();
}
