/* api_edge.c - the C allocator API's edge cases, against frontend-contract.md.
 *
 * cmocka tests, one per edge case.  `api_edge NAME` runs the test NAME only
 * (CTest runs each test in its own process, once per policy, with
 * GLASSHEAP_POLICY set); `api_edge` alone runs them all.  The program links
 * libglassheap.so ahead of libc, and the group setup checks that malloc
 * really is glassheap's and that the policy in force is the one asked for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gh_api_test.h"

/* Some tests use a block after a realloc that failed on purpose. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)
#define DEFAULT_MMAP_THRESHOLD (128 * KiB)

static struct gh_t_api gh;
static size_t page;

/* Sizes go through a volatile so the compiler neither folds nor warns about
 * the deliberately absurd requests. */
static volatile size_t vsz;
static size_t opaque(size_t n)
{
    vsz = n;
    return vsz;
}

/* A sink the optimiser cannot see through. */
static void *volatile sink;

static struct glassheap_counters ctr(void)
{
    return gh_t_counters(&gh);
}

static int is_buddy(void)
{
    return strcmp(gh.policy(), "buddy") == 0;
}

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* Usable size the contract promises for a heap block of n bytes. */
static size_t contract_usable(size_t n)
{
    size_t u = round_up(n + 16, 16) - 16;
    return u < 32 ? 32 : u;
}

static void assert_heap_ok(void)
{
    assert_int_equal(gh.check(), 1);
}

/* ------------------------------------------------------------------ */

/* Every call is glassheap's and is counted by it. */
static void test_served_by_glassheap(void **state)
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
static void test_malloc0(void **state)
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
static void test_free_null(void **state)
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
static void test_realloc_null(void **state)
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
static void test_realloc_zero(void **state)
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
static void test_calloc_overflow(void **state)
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
static void test_reallocarray_overflow(void **state)
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
static void test_calloc_zeroes(void **state)
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

/* posix_memalign: EINVAL (returned, errno untouched) for bad alignments. */
static void test_posix_memalign_einval(void **state)
{
    (void)state;
    static const size_t bad[] = { 0, 1, 2, 3, 4, 12, 24, 40, 48, 1000, 4097, SIZE_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        void *p = NULL;
        errno = 5151;
        int r = posix_memalign(&p, opaque(bad[i]), opaque(100));
        if (r != EINVAL)
            fail_msg("posix_memalign(alignment %zu) returned %d, not EINVAL", bad[i], r);
        assert_int_equal(errno, 5151);
    }
    assert_heap_ok();
}

/* posix_memalign: success for every power of two from 8 to 1 MiB. */
static void test_posix_memalign_ok(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 100, 4096, 200 * KiB };
    void *keep[64];
    int nkeep = 0;
    for (size_t al = 8; al <= MiB; al *= 2) {
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            void *p = (void *)0x1;
            errno = 6161;
            int r = posix_memalign(&p, opaque(al), opaque(sizes[s]));
            if (r != 0)
                fail_msg("posix_memalign(al %zu, size %zu) returned %d", al, sizes[s], r);
            assert_int_equal(errno, 6161);
            assert_non_null(p);
            if ((uintptr_t)p % al != 0 || (uintptr_t)p % 16 != 0)
                fail_msg("posix_memalign(al %zu, size %zu) gave %p", al, sizes[s], p);
            assert_true(malloc_usable_size(p) >= sizes[s]);
            gh_t_fill(p, sizes[s], al + s);
            if (s == 1 && nkeep < 64)
                keep[nkeep++] = p; /* some stay live, so layouts differ */
            else {
                assert_int_equal(gh_t_verify(p, sizes[s], al + s), (size_t)-1);
                free(p);
            }
        }
        void *small = malloc(opaque(24));
        assert_non_null(small);
        if (nkeep < 64)
            keep[nkeep++] = small;
    }
    for (int i = 0; i < nkeep; i++)
        free(keep[i]);
    assert_heap_ok();
}

typedef void *(*align_fn)(size_t, size_t);

static void check_align_fn(align_fn fn, const char *name)
{
    static const size_t sizes[] = { 1, 100, 5000 };
    void *keep[256];
    int nkeep = 0;
    for (size_t al = 1; al <= 4 * MiB; al *= 2) {
        size_t extra[] = { al, 3 * al };
        for (size_t s = 0; s < 5; s++) {
            size_t n = s < 3 ? sizes[s] : extra[s - 3];
            if (n > 16 * MiB)
                continue;
            errno = 0;
            unsigned char *p = fn(opaque(al), opaque(n));
            if (!p)
                fail_msg("%s(%zu, %zu) = NULL, errno %d", name, al, n, errno);
            size_t want = al < 16 ? 16 : al;
            if ((uintptr_t)p % want != 0)
                fail_msg("%s(%zu, %zu) = %p, not %zu-aligned", name, al, n, (void *)p, want);
            assert_true(malloc_usable_size(p) >= n);
            p[0] = 1;
            p[n - 1] = 2;
            if (s == 0 && nkeep < 256)
                keep[nkeep++] = p;
            else
                free(p);
        }
        void *m = malloc(opaque(al % 1000 + 1));
        assert_non_null(m);
        keep[nkeep++] = m;
    }
    for (int i = 0; i < nkeep; i++)
        free(keep[i]);
    assert_heap_ok();
}

static void *call_aligned_alloc(size_t al, size_t n)
{
    return aligned_alloc(al, n);
}

static void *call_memalign(size_t al, size_t n)
{
    return memalign(al, n);
}

/* aligned_alloc: every power of two alignment up to 4 MiB. */
static void test_aligned_alloc(void **state)
{
    (void)state;
    check_align_fn(call_aligned_alloc, "aligned_alloc");
}

/* memalign: every power of two alignment up to 4 MiB. */
static void test_memalign(void **state)
{
    (void)state;
    check_align_fn(call_memalign, "memalign");
}

static const size_t not_pow2[] = { 3, 24, 48, 100, 1000, 4097, SIZE_MAX };

/* aligned_alloc with an alignment that is not a power of two: NULL + EINVAL. */
static void test_aligned_alloc_bad_alignment(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof not_pow2 / sizeof *not_pow2; i++) {
        errno = 0;
        void *p = aligned_alloc(opaque(not_pow2[i]), opaque(64));
        if (p || errno != EINVAL)
            fail_msg("aligned_alloc(%zu, 64) = %p errno %d; want NULL, EINVAL", not_pow2[i],
                     p, errno);
    }
    assert_heap_ok();
}

/* memalign with an alignment that is not a power of two: glibc rounds it
 * up to the next power of two and serves the request (aligned_alloc, the
 * C11 function, refuses it with EINVAL instead: see above).  An alignment
 * above SIZE_MAX/2+1 has no power of two to round to: NULL + EINVAL. */
static void test_memalign_bad_alignment(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof not_pow2 / sizeof *not_pow2; i++) {
        size_t a = not_pow2[i];
        errno = 0;
        unsigned char *p = memalign(opaque(a), opaque(64));
        if (a > SIZE_MAX / 2 + 1) {
            if (p || errno != EINVAL)
                fail_msg("memalign(%zu, 64) = %p errno %d; want NULL, EINVAL", a, (void *)p, errno);
            continue;
        }
        size_t up = 1;
        while (up < a)
            up <<= 1;
        if (!p)
            fail_msg("memalign(%zu, 64) = NULL errno %d; glibc rounds the alignment up to %zu", a, errno, up);
        if ((uintptr_t)p % up)
            fail_msg("memalign(%zu, 64) = %p: not aligned to %zu", a, (void *)p, up);
        assert_true(malloc_usable_size(p) >= 64);
        memset(p, 0x5a, 64);
        free(p);
    }
    assert_heap_ok();
}

/* valloc: page aligned. */
static void test_valloc(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 100, 4096, 5000, 200 * KiB };
    void *keep[6];
    for (size_t s = 0; s < 6; s++) {
        unsigned char *p = valloc(opaque(sizes[s]));
        assert_non_null(p);
        if ((uintptr_t)p % page != 0)
            fail_msg("valloc(%zu) = %p, not page aligned", sizes[s], (void *)p);
        assert_true(malloc_usable_size(p) >= sizes[s]);
        memset(p, 0x11, sizes[s]);
        keep[s] = p;
    }
    for (size_t s = 0; s < 6; s++)
        free(keep[s]);
    assert_heap_ok();
}

/* pvalloc: page aligned, size rounded up to whole pages (0 -> one page). */
static void test_pvalloc(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 100, 4096, 4097, 200 * KiB + 1 };
    void *keep[6];
    for (size_t s = 0; s < 6; s++) {
        unsigned char *p = pvalloc(opaque(sizes[s]));
        assert_non_null(p);
        if ((uintptr_t)p % page != 0)
            fail_msg("pvalloc(%zu) = %p, not page aligned", sizes[s], (void *)p);
        size_t want = sizes[s] == 0 ? page : round_up(sizes[s], page);
        size_t u = malloc_usable_size(p);
        if (u < want)
            fail_msg("pvalloc(%zu): malloc_usable_size %zu < %zu", sizes[s], u, want);
        memset(p, 0x22, want);
        keep[s] = p;
    }
    for (size_t s = 0; s < 6; s++)
        free(keep[s]);
    assert_heap_ok();
}

/* Any size above PTRDIFF_MAX: NULL + ENOMEM from every entry point. */
static void test_huge_sizes(void **state)
{
    (void)state;
    static const size_t huge[] = {
        (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX + 4096, SIZE_MAX - 4096,
        SIZE_MAX - 16, SIZE_MAX - 15, SIZE_MAX - 1, SIZE_MAX,
    };
    unsigned char *old = malloc(opaque(200));
    assert_non_null(old);
    gh_t_fill(old, 200, 99);
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        size_t n = huge[i];
        void *p;
#define EXPECT_ENOMEM(call)                                                        \
    do {                                                                           \
        errno = 0;                                                                 \
        p = (call);                                                                \
        if (p != NULL || errno != ENOMEM)                                          \
            fail_msg("%s with n=%#zx: %p, errno %d; want NULL, ENOMEM", #call, n, p, \
                     errno);                                                       \
    } while (0)
        EXPECT_ENOMEM(malloc(opaque(n)));
        EXPECT_ENOMEM(calloc(opaque(n), 1));
        EXPECT_ENOMEM(calloc(1, opaque(n)));
        EXPECT_ENOMEM(realloc(NULL, opaque(n)));
        EXPECT_ENOMEM(realloc(old, opaque(n)));
        EXPECT_ENOMEM(reallocarray(NULL, opaque(n), 1));
        EXPECT_ENOMEM(memalign(16, opaque(n)));
        EXPECT_ENOMEM(memalign(4096, opaque(n)));
        EXPECT_ENOMEM(aligned_alloc(16, opaque(n)));
        EXPECT_ENOMEM(aligned_alloc(64 * KiB, opaque(n)));
        EXPECT_ENOMEM(valloc(opaque(n)));
        EXPECT_ENOMEM(pvalloc(opaque(n)));
#undef EXPECT_ENOMEM
        void *q = (void *)0x1;
        errno = 5151; /* posix_memalign returns ENOMEM and, as glibc, leaves errno ENOMEM */
        int r = posix_memalign(&q, 16, opaque(n));
        if (r != ENOMEM || errno != ENOMEM)
            fail_msg("posix_memalign(16, %#zx) returned %d, errno %d; want ENOMEM, errno ENOMEM",
                     n, r, errno);
        errno = 5151;
        r = posix_memalign(&q, 4096, opaque(n));
        if (r != ENOMEM || errno != ENOMEM)
            fail_msg("posix_memalign(4096, %#zx) returned %d, errno %d; want ENOMEM, errno ENOMEM",
                     n, r, errno);
        assert_int_equal(gh_t_verify(old, 200, 99), (size_t)-1);
    }
    free(old);
    assert_heap_ok();
}

/* A failed realloc leaves the block where it was, contents unchanged. */
static void test_realloc_fail_intact(void **state)
{
    (void)state;
    static const size_t sizes[] = { 100, 5000, MiB };
    static const size_t fails[] = {
        (size_t)PTRDIFF_MAX + 1, SIZE_MAX,
        (size_t)1 << 47 | 12345, /* legal, but no 47-bit address space holds it */
        (size_t)1 << 62,
    };
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        unsigned char *p = malloc(opaque(sizes[s]));
        void *after = malloc(opaque(64)); /* a live neighbour */
        assert_non_null(p);
        assert_non_null(after);
        size_t u = malloc_usable_size(p);
        gh_t_fill(p, sizes[s], 1000 + s);
        for (size_t f = 0; f < sizeof fails / sizeof *fails; f++) {
            errno = 0;
            void *r = realloc(p, opaque(fails[f]));
            if (r || errno != ENOMEM)
                fail_msg("realloc(%zu-byte block, %#zx) = %p errno %d", sizes[s], fails[f], r,
                         errno);
            assert_int_equal(malloc_usable_size(p), u);
            size_t bad = gh_t_verify(p, sizes[s], 1000 + s);
            if (bad != (size_t)-1)
                fail_msg("after failed realloc(%#zx) byte %zu of the %zu-byte block changed",
                         fails[f], bad, sizes[s]);
            assert_heap_ok();
        }
        unsigned char *g = realloc(p, opaque(2 * sizes[s]));
        assert_non_null(g);
        assert_int_equal(gh_t_verify(g, sizes[s], 1000 + s), (size_t)-1);
        free(g);
        free(after);
    }
    assert_heap_ok();
}

/* free keeps errno, also when it gives memory back to the OS. */
static void test_free_keeps_errno(void **state)
{
    (void)state;
    void *p = malloc(opaque(100));
    errno = EILSEQ;
    free(p);
    assert_int_equal(errno, EILSEQ);

    p = malloc(opaque(4 * MiB)); /* munmap on free */
    assert_non_null(p);
    errno = EILSEQ;
    free(p);
    assert_int_equal(errno, EILSEQ);

    /* 8 MiB of small blocks, then all freed: the top gets trimmed. */
    enum { N = 2048 };
    void **v = malloc(N * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < N; i++) {
        v[i] = malloc(opaque(4000));
        assert_non_null(v[i]);
    }
    for (int i = N - 1; i >= 0; i--) {
        errno = ENOTTY;
        free(v[i]);
        if (errno != ENOTTY)
            fail_msg("free of block %d changed errno to %d", i, errno);
    }
    errno = ERANGE;
    free(v);
    assert_int_equal(errno, ERANGE);
    errno = ERANGE;
    p = malloc(opaque(10));
    free(p);
    assert_int_equal(errno, ERANGE);
    assert_heap_ok();
}

/* Sizes for the every-entry-point loops. */
static const size_t large_sizes[] = {
    128 * KiB - 17, 128 * KiB - 1, 128 * KiB, 128 * KiB + 1, 200000, MiB + 7, 10 * MiB + 3,
};

enum { N_ENTRY = 11 };
static const char *const entry_names[N_ENTRY] = {
    "malloc", "calloc(1,n)", "calloc(n,1)", "realloc(NULL,n)", "realloc(grow)",
    "reallocarray", "memalign(16)", "aligned_alloc(16)", "posix_memalign(16)", "valloc",
    "pvalloc",
};

static void *entry_call(int e, size_t n)
{
    void *p = NULL;
    switch (e) {
    case 0: return malloc(opaque(n));
    case 1: return calloc(1, opaque(n));
    case 2: return calloc(opaque(n), 1);
    case 3: return realloc(NULL, opaque(n));
    case 4:
        p = malloc(opaque(n / 2));
        if (!p)
            return NULL;
        return realloc(p, opaque(n));
    case 5: return reallocarray(NULL, opaque(n), 1);
    case 6: return memalign(16, opaque(n));
    case 7: return aligned_alloc(16, opaque(n));
    case 8: return posix_memalign(&p, 16, opaque(n)) == 0 ? p : NULL;
    case 9: return valloc(opaque(n));
    case 10: return pvalloc(opaque(n));
    }
    return NULL;
}

/* Calls fn(entry, n, p) for every entry point and size 0..5000 and the large
 * sizes; a ring of recent blocks stays live so the heap is not trivial. */
static void each_entry(void (*fn)(int, size_t, void *))
{
    enum { RING = 61 };
    void *ring[RING] = { 0 };
    int r = 0;
    size_t nl = sizeof large_sizes / sizeof *large_sizes;
    for (size_t i = 0; i <= 5000 + nl; i++) {
        size_t n = i <= 5000 ? i : large_sizes[i - 5001];
        for (int e = 0; e < N_ENTRY; e++) {
            if ((e == 9 || e == 10) && i <= 5000 && i % 7 != 0)
                continue; /* page-sized results: every 7th size is plenty */
            if (e == 4 && n == 0)
                continue; /* realloc(p, 0) frees: not an allocation */
            void *p = entry_call(e, n);
            if (!p)
                fail_msg("%s(%zu) = NULL", entry_names[e], n);
            fn(e, n, p);
            if (n < 64 * KiB && e < 6) {
                free(ring[r]);
                ring[r] = p;
                r = (r + 1) % RING;
            } else {
                free(p);
            }
        }
    }
    for (int i = 0; i < RING; i++)
        free(ring[i]);
    assert_heap_ok();
}

static void check_align16(int e, size_t n, void *p)
{
    if ((uintptr_t)p % 16 != 0)
        fail_msg("%s(%zu) = %p, not 16-byte aligned", entry_names[e], n, p);
}

/* Every pointer from every entry point is 16-byte aligned. */
static void test_align16_all(void **state)
{
    (void)state;
    each_entry(check_align16);
}

static void check_usable(int e, size_t n, void *p)
{
    size_t u = malloc_usable_size(p);
    if (u < n)
        fail_msg("%s(%zu): malloc_usable_size %zu < %zu", entry_names[e], n, u, n);
    if (n > 0) {
        unsigned char *b = p;
        b[0] = 0x7E;
        b[u - 1] = 0x7F; /* all of the usable size is ours to write */
    }
}

/* malloc_usable_size of every entry point's result >= the request. */
static void test_usable_size_all(void **state)
{
    (void)state;
    each_entry(check_usable);
}

/* Heap blocks: usable = round_up(n + 16, 16) - 16, at least 32 (contract);
 * a reused block that was not worth splitting may be up to 32 bytes more. */
static void test_usable_size_formula(void **state)
{
    (void)state;
    if (is_buddy())
        skip(); /* buddy blocks are powers of two */
    enum { N = 5200 };
    void **v = malloc(N * sizeof *v);
    assert_non_null(v);
    size_t exact = 0, total = 0;
    for (size_t n = 0; n < N; n++) {
        size_t req = n <= 5000 ? n : 5000 + (n - 5000) * 500; /* up to 105000 */
        v[n] = malloc(opaque(req));
        assert_non_null(v[n]);
        size_t u = malloc_usable_size(v[n]), want = contract_usable(req);
        if (u < want || u > want + 32)
            fail_msg("malloc(%zu): usable %zu, contract says %zu", req, u, want);
        exact += u == want;
        total++;
    }
    if (exact < total * 9 / 10)
        fail_msg("only %zu of %zu blocks have exactly the contract's usable size", exact,
                 total);
    for (size_t n = 0; n < N; n++)
        free(v[n]);
    free(v);
    assert_heap_ok();
}

/* malloc_trim returns 0 or 1, and the heap works after it. */
static void test_malloc_trim(void **state)
{
    (void)state;
    enum { N = 4000 };
    void **v = malloc(N * sizeof *v);
    assert_non_null(v);
    unsigned char *keep = malloc(opaque(777));
    assert_non_null(keep);
    gh_t_fill(keep, 777, 4);
    for (int i = 0; i < N; i++) {
        v[i] = malloc(opaque(1000));
        assert_non_null(v[i]);
    }
    for (int i = 0; i < N; i += 2)
        free(v[i]); /* holes in the middle: madvise-able whole pages */
    int r = malloc_trim(0);
    assert_in_range(r, 0, 1);
    assert_heap_ok();
    for (int i = 1; i < N; i += 2)
        free(v[i]);
    r = malloc_trim(0);
    assert_in_range(r, 0, 1);
    r = malloc_trim(MiB);
    assert_in_range(r, 0, 1);
    assert_heap_ok();
    assert_int_equal(gh_t_verify(keep, 777, 4), (size_t)-1);
    for (int i = 0; i < N; i++) {
        v[i] = malloc(opaque(1000 + i % 50));
        assert_non_null(v[i]);
        gh_t_fill(v[i], 1000 + i % 50, i);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(gh_t_verify(v[i], 1000 + i % 50, i), (size_t)-1);
        free(v[i]);
    }
    free(keep);
    free(v);
    assert_heap_ok();
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
/* mallinfo2/mallinfo: plausible, nonzero, and they move with the heap. */
static void test_mallinfo(void **state)
{
    (void)state;
    struct mallinfo2 m0 = mallinfo2();
    assert_true(m0.arena > 0);
    assert_true(m0.uordblks > 0);
    assert_true(m0.uordblks <= m0.arena);
    assert_true(m0.fordblks <= m0.arena);

    void *p = malloc(opaque(100000));
    assert_non_null(p);
    struct mallinfo2 m1 = mallinfo2();
    if (m1.uordblks < m0.uordblks + 100000)
        fail_msg("mallinfo2 uordblks %zu -> %zu after malloc(100000)", m0.uordblks,
                 m1.uordblks);
    assert_true(m1.uordblks <= m1.arena);
    assert_true(m1.uordblks + m1.fordblks <= m1.arena);

    struct mallinfo mi = mallinfo();
    assert_true(mi.arena > 0);
    assert_true((size_t)mi.uordblks >= 100000);

    void *big = malloc(opaque(4 * MiB));
    assert_non_null(big);
    struct mallinfo2 m2 = mallinfo2();
    if (m2.hblks < m1.hblks + 1 || m2.hblkhd < m1.hblkhd + 4 * MiB)
        fail_msg("mallinfo2 hblks %zu -> %zu, hblkhd %zu -> %zu after malloc(4 MiB)",
                 m1.hblks, m2.hblks, m1.hblkhd, m2.hblkhd);
    struct mallinfo mi2 = mallinfo();
    assert_true(mi2.hblks >= 1);
    assert_true((size_t)mi2.hblkhd >= 4 * MiB);

    free(big);
    free(p);
    struct mallinfo2 m3 = mallinfo2();
    if (m3.uordblks > m1.uordblks - 100000)
        fail_msg("mallinfo2 uordblks %zu -> %zu after free of 100000 bytes", m1.uordblks,
                 m3.uordblks);
    assert_int_equal(m3.hblks, m1.hblks);
    assert_heap_ok();
}
#pragma GCC diagnostic pop

/* mallopt(M_MMAP_THRESHOLD) moves the heap/large boundary. */
static void test_mallopt_mmap_threshold(void **state)
{
    (void)state;
    struct {
        int set;       /* 0: the default */
        size_t below, above;
    } steps[] = {
        { 0, 100 * KiB, 160 * KiB },
        { 64 * 1024, 48 * KiB, 100 * KiB },
        { 1024 * 1024, 512 * KiB, 2 * MiB },
        { 4096 * 4, 8 * KiB, 20 * KiB },
        { 128 * 1024, 100 * KiB, 160 * KiB },
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        if (steps[i].set)
            assert_int_equal(mallopt(M_MMAP_THRESHOLD, steps[i].set), 1);
        struct glassheap_counters c0 = ctr();
        void *a = malloc(opaque(steps[i].below));
        struct glassheap_counters c1 = ctr();
        void *b = malloc(opaque(steps[i].above));
        struct glassheap_counters c2 = ctr();
        assert_non_null(a);
        assert_non_null(b);
        /* live_blocks counts heap and large blocks alike */
        if (c1.large_blocks != c0.large_blocks || c1.live_blocks != c0.live_blocks + 1)
            fail_msg("threshold %d: malloc(%zu) was not a heap block", steps[i].set,
                     steps[i].below);
        if (c2.large_blocks != c1.large_blocks + 1 || c2.live_blocks != c1.live_blocks + 1)
            fail_msg("threshold %d: malloc(%zu) was not a large (mmap) block", steps[i].set,
                     steps[i].above);
        free(a);
        free(b);
    }
    assert_heap_ok();
}

/* realloc keeps the contents, growing and shrinking, across heap and large
 * (mmap) sizes in both directions. */
static void test_realloc_contents(void **state)
{
    (void)state;
    static const size_t chain[] = {
        1, 17, 32, 33, 100, 1000, 5000, 64 * KiB, 127 * KiB, 130 * KiB, 200 * KiB,
        MiB, 3 * MiB + 5, 10 * MiB, 2 * MiB, 300 * KiB, 129 * KiB, 120 * KiB, 60 * KiB,
        4000, 200, 48, 16, 1, 10 * MiB, 8, 256 * KiB, 100,
    };
    size_t nc = sizeof chain / sizeof *chain;
    unsigned char *p = malloc(opaque(chain[0]));
    assert_non_null(p);
    gh_t_fill(p, chain[0], 1);
    for (size_t i = 1; i < nc; i++) {
        void *blocker = malloc(opaque(40)); /* sometimes in the way of in-place growth */
        size_t keep = chain[i] < chain[i - 1] ? chain[i] : chain[i - 1];
        unsigned char *q = realloc(p, opaque(chain[i]));
        if (!q)
            fail_msg("realloc(%zu -> %zu) = NULL", chain[i - 1], chain[i]);
        size_t bad = gh_t_verify(q, keep, i);
        if (bad != (size_t)-1)
            fail_msg("realloc(%zu -> %zu): byte %zu lost", chain[i - 1], chain[i], bad);
        assert_true(malloc_usable_size(q) >= chain[i]);
        gh_t_fill(q, chain[i], i + 1);
        p = q;
        if (i % 2)
            free(blocker);
        else
            sink = blocker; /* leaked on purpose: a live neighbour */
    }
    free(p);

    /* Random resizes of several live blocks at once. */
    enum { NB = 16, STEPS = 3000 };
    unsigned char *b[NB] = { 0 };
    size_t sz[NB] = { 0 };
    uint64_t id[NB] = { 0 }, seed = 0x1234567, next_id = 100;
    for (int s = 0; s < STEPS; s++) {
        int k = (int)(gh_t_rand(&seed) % NB);
        uint64_t r = gh_t_rand(&seed);
        size_t n = r % 100 == 0 ? 128 * KiB + r % (512 * KiB) : r % 100 < 50 ? r % 512
                                                                           : r % 20000;
        unsigned char *q = realloc(b[k], opaque(n));
        if (n == 0 && b[k]) {
            assert_null(q);
            b[k] = NULL;
            sz[k] = 0;
            continue;
        }
        assert_non_null(q);
        size_t keep = n < sz[k] ? n : sz[k];
        size_t bad = gh_t_verify(q, keep, id[k]);
        if (bad != (size_t)-1)
            fail_msg("step %d: realloc(%zu -> %zu) lost byte %zu", s, sz[k], n, bad);
        id[k] = next_id++;
        gh_t_fill(q, n, id[k]);
        b[k] = q;
        sz[k] = n;
    }
    for (int k = 0; k < NB; k++) {
        assert_int_equal(gh_t_verify(b[k], sz[k], id[k]), (size_t)-1);
        free(b[k]);
    }
    assert_heap_ok();
}

/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    gh = gh_t_api();
    page = (size_t)sysconf(_SC_PAGESIZE);
    return 0;
}

#define T(name) cmocka_unit_test(test_##name)
static const struct CMUnitTest all_tests[] = {
    T(served_by_glassheap),
    T(malloc0),
    T(free_null),
    T(realloc_null),
    T(realloc_zero),
    T(calloc_overflow),
    T(reallocarray_overflow),
    T(calloc_zeroes),
    T(posix_memalign_einval),
    T(posix_memalign_ok),
    T(aligned_alloc),
    T(memalign),
    T(aligned_alloc_bad_alignment),
    T(memalign_bad_alignment),
    T(valloc),
    T(pvalloc),
    T(huge_sizes),
    T(realloc_fail_intact),
    T(free_keeps_errno),
    T(align16_all),
    T(usable_size_all),
    T(usable_size_formula),
    T(malloc_trim),
    T(mallinfo),
    T(mallopt_mmap_threshold),
    T(realloc_contents),
};

int main(int argc, char **argv)
{
    size_t n = sizeof all_tests / sizeof *all_tests;
    if (argc < 2)
        return _cmocka_run_group_tests("api_edge", all_tests, n, group_setup, NULL);
    if (strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", all_tests[i].name + strlen("test_"));
        return 0;
    }
    char want[128];
    snprintf(want, sizeof want, "test_%s", argv[1]);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all_tests[i].name, want) == 0)
            return _cmocka_run_group_tests(argv[1], &all_tests[i], 1, group_setup, NULL);
    fprintf(stderr, "api_edge: no test named '%s' (try --list)\n", argv[1]);
    return 2;
}
