/* api_edge_info.c - api_edge: malloc_trim, mallinfo, mallopt(M_MMAP_THRESHOLD) and the contents a realloc keeps (api_edge.c tells the whole story). */
#include "api_edge.h"

/* malloc_trim returns 0 or 1, and the heap works after it. */
void test_malloc_trim(void **state)
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
void test_mallinfo(void **state)
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
void test_mallopt_mmap_threshold(void **state)
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
void test_realloc_contents(void **state)
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
