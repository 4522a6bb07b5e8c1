/* api_edge_aligned.c - api_edge: posix_memalign, aligned_alloc, memalign, valloc and pvalloc: alignments good and bad (api_edge.c tells the whole story). */
#include "api_edge.h"

/* posix_memalign: EINVAL (returned, errno untouched) for bad alignments. */
void test_posix_memalign_einval(void **state)
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
void test_posix_memalign_ok(void **state)
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
void test_aligned_alloc(void **state)
{
    (void)state;
    check_align_fn(call_aligned_alloc, "aligned_alloc");
}

/* memalign: every power of two alignment up to 4 MiB. */
void test_memalign(void **state)
{
    (void)state;
    check_align_fn(call_memalign, "memalign");
}

static const size_t not_pow2[] = { 3, 24, 48, 100, 1000, 4097, SIZE_MAX };

/* aligned_alloc with an alignment that is not a power of two: NULL + EINVAL. */
void test_aligned_alloc_bad_alignment(void **state)
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
void test_memalign_bad_alignment(void **state)
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
void test_valloc(void **state)
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
void test_pvalloc(void **state)
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
