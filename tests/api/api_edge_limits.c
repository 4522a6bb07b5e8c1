/* api_edge_limits.c - api_edge: absurd sizes, ENOMEM and an intact block after a failed realloc, errno kept by free, alignment and usable size from every entry point (api_edge.c tells the whole story). */
#include "api_edge.h"

/* Any size above PTRDIFF_MAX: NULL + ENOMEM from every entry point. */
void test_huge_sizes(void **state)
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
void test_realloc_fail_intact(void **state)
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
void test_free_keeps_errno(void **state)
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
void test_align16_all(void **state)
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
void test_usable_size_all(void **state)
{
    (void)state;
    each_entry(check_usable);
}

/* Heap blocks: usable = round_up(n + 16, 16) - 16, at least 32 (contract);
 * a reused block that was not worth splitting may be up to 32 bytes more. */
void test_usable_size_formula(void **state)
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
