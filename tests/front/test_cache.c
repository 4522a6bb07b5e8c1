/* test_cache.c - the cache of freed large mappings (alloc/large.c) and the
 * front end's use of it (alloc/front.c), over the counted mapper.
 *
 * Proves: a put keeps a mapping (counted: blocks, bytes) and a take gives
 * back the smallest one that fits (at least the need, at most a third
 * more), once; a fifth put replaces the oldest, which the caller unmaps; a
 * mapping over the byte bound, or one the bound has no room for even after
 * the oldest goes, is not kept; drain unmaps everything; concurrent takers
 * never get the same mapping twice.  Through the front end: with the cache
 * on, a freed large block's mapping is not unmapped and a later large
 * request it fits reuses it (no mmap; counted in large_reused, not
 * large_mapped; marked as not zero), a request it does not fit maps
 * afresh; off (the default) every mapping is unmapped; a mapping the
 * dynamic threshold just rose to is unmapped (nothing could reuse it),
 * while one a buddy heap cannot hold is kept; gh_front_trim_cache empties
 * it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "front_util.h"

#define PAGE 4096u

/* A real mapping of len bytes, through the counted mapper. */
static void *map_one(struct gh_mapper *m, size_t len)
{
    void *p;
    assert_int_equal(m->map(m->ctx, len, &p), 0);
    return p;
}

static void test_put_take(void **state)
{
    (void)state;
    struct gh_mapper m;
    struct gh_mapper_counts k;
    gh_mapper_counted(&m, &k);
    struct gh_large_cache c;
    memset(&c, 0, sizeof c);
    void *a = map_one(&m, 40 * PAGE), *b = map_one(&m, 32 * PAGE), *u;
    size_t ul;
    gh_large_cache_put(&c, a, 40 * PAGE, &u, &ul);
    assert_null(u);
    gh_large_cache_put(&c, b, 32 * PAGE, &u, &ul);
    assert_null(u);
    assert_int_equal(c.blocks, 2);
    assert_int_equal(c.bytes, 72 * PAGE);
    void *got;
    size_t len;
    /* 24 pages: 32 is a third more, the most that fits; 40 is too long. */
    assert_true(gh_large_cache_take(&c, 24 * PAGE, &got, &len));
    assert_ptr_equal(got, b);
    assert_int_equal(len, 32 * PAGE);
    assert_false(gh_large_cache_take(&c, 24 * PAGE, &got, &len));
    assert_false(gh_large_cache_take(&c, 41 * PAGE, &got, &len)); /* too short */
    assert_true(gh_large_cache_take(&c, 40 * PAGE, &got, &len));
    assert_ptr_equal(got, a);
    assert_int_equal(c.blocks, 0);
    assert_int_equal(c.bytes, 0);
    assert_int_equal(c.reused, 2);
    m.unmap(m.ctx, a, 40 * PAGE);
    m.unmap(m.ctx, b, 32 * PAGE);
    assert_int_equal(k.bytes, 0);
}

static void test_bounds(void **state)
{
    (void)state;
    struct gh_mapper m;
    struct gh_mapper_counts k;
    gh_mapper_counted(&m, &k);
    struct gh_large_cache c;
    memset(&c, 0, sizeof c);
    void *p[GH_LARGE_CACHE_SLOTS + 1], *u;
    size_t ul;
    for (unsigned i = 0; i <= GH_LARGE_CACHE_SLOTS; i++) {
        p[i] = map_one(&m, (i + 1) * PAGE);
        gh_large_cache_put(&c, p[i], (i + 1) * PAGE, &u, &ul);
        if (i < GH_LARGE_CACHE_SLOTS) {
            assert_null(u);
        } else { /* full: the oldest goes */
            assert_ptr_equal(u, p[0]);
            assert_int_equal(ul, PAGE);
            m.unmap(m.ctx, u, ul);
        }
    }
    assert_int_equal(c.blocks, GH_LARGE_CACHE_SLOTS);
    assert_int_equal(c.bytes, (2 + 3 + 4 + 5) * PAGE);
    /* Over the byte bound: never kept. */
    void *big = map_one(&m, GH_LARGE_CACHE_BYTES + PAGE);
    gh_large_cache_put(&c, big, GH_LARGE_CACHE_BYTES + PAGE, &u, &ul);
    assert_ptr_equal(u, big);
    m.unmap(m.ctx, u, ul);
    /* Exactly the bound: only once the oldest (2 pages) goes is there room
     * -- and not even then, the other three still hold 12 pages. */
    void *whole = map_one(&m, GH_LARGE_CACHE_BYTES);
    gh_large_cache_put(&c, whole, GH_LARGE_CACHE_BYTES, &u, &ul);
    assert_ptr_equal(u, whole);
    assert_int_equal(c.blocks, GH_LARGE_CACHE_SLOTS);
    /* Emptied, it is kept. */
    assert_int_equal(gh_large_cache_drain(&c, &m), (2 + 3 + 4 + 5) * PAGE);
    assert_int_equal(c.blocks, 0);
    assert_int_equal(c.bytes, 0);
    gh_large_cache_put(&c, whole, GH_LARGE_CACHE_BYTES, &u, &ul);
    assert_null(u);
    assert_int_equal(c.bytes, GH_LARGE_CACHE_BYTES);
    assert_int_equal(gh_large_cache_drain(&c, &m), GH_LARGE_CACHE_BYTES);
    assert_int_equal(k.bytes, 0);
    assert_int_equal(k.maps, k.unmaps);
}

/* ---- takers racing one putter ---------------------------------------------- */

#define RACE_ROUNDS 20000
#define RACE_THREADS 4

struct race {
    struct gh_large_cache c;
    pthread_mutex_t put_lock;      /* the allocator lock: one putter at a time */
    void *maps[GH_LARGE_CACHE_SLOTS];
    int owner[GH_LARGE_CACHE_SLOTS]; /* atomically: who holds maps[i], 0 none */
    int twice;
};

static void *taker(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        void *got;
        size_t len;
        if (!gh_large_cache_take(&r->c, 8 * PAGE, &got, &len))
            continue;
        unsigned k = 0;
        while (k < GH_LARGE_CACHE_SLOTS && r->maps[k] != got)
            k++;
        int none = 0;
        if (k == GH_LARGE_CACHE_SLOTS || len != 8 * PAGE
            || !__atomic_compare_exchange_n(&r->owner[k], &none, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_store_n(&r->twice, 1, __ATOMIC_RELAXED);
            continue;
        }
        ((volatile char *)got)[0]++; /* it is ours: use it */
        __atomic_store_n(&r->owner[k], 0, __ATOMIC_RELEASE);
        void *u;
        size_t ul;
        pthread_mutex_lock(&r->put_lock);
        gh_large_cache_put(&r->c, got, len, &u, &ul);
        pthread_mutex_unlock(&r->put_lock);
        if (u) /* never: four mappings, four slots */
            __atomic_store_n(&r->twice, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_concurrent_takers(void **state)
{
    (void)state;
    struct gh_mapper m;
    struct gh_mapper_counts k;
    gh_mapper_counted(&m, &k);
    static struct race r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.put_lock, NULL);
    for (unsigned i = 0; i < GH_LARGE_CACHE_SLOTS; i++) {
        void *u;
        size_t ul;
        r.maps[i] = map_one(&m, 8 * PAGE);
        gh_large_cache_put(&r.c, r.maps[i], 8 * PAGE, &u, &ul);
        assert_null(u);
    }
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, taker, &r), 0);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(r.twice, 0);
    assert_int_equal(r.c.blocks, GH_LARGE_CACHE_SLOTS);
    assert_int_equal(r.c.bytes, GH_LARGE_CACHE_SLOTS * 8 * PAGE);
    assert_int_equal(gh_large_cache_drain(&r.c, &m), GH_LARGE_CACHE_SLOTS * 8 * PAGE);
    assert_int_equal(k.bytes, 0);
}

/* ---- through the front end ----------------------------------------------- */

static void test_front_reuses(void **state)
{
    (void)state;
    struct ffx x;
    ffx_open(&x, "best", FX_THRESHOLD);
    gh_front_set_cache(&x.f, true);
    char *p = gh_front_malloc(&x.f, GH_ALIGN, 200000); /* a mapping of 200704 */
    assert_true(gh_front_large_zeroed(p));
    memset(p, 0x5a, 200000);
    gh_front_free(&x.f, p);
    assert_int_equal(x.mapped.unmaps, 0);
    assert_int_equal(x.f.cache.blocks, 1);
    assert_int_equal(x.f.cache.bytes, 200704);
    assert_int_equal(x.f.large.live_blocks, 0);
    /* 190000 needs 192512: reused, not zero, counted apart. */
    char *q = gh_front_malloc(&x.f, GH_ALIGN, 190000);
    assert_ptr_equal(q, p);
    assert_false(gh_front_large_zeroed(q));
    assert_int_equal(x.mapped.maps, 1);
    assert_int_equal(x.f.large_mapped, 1);
    assert_int_equal(x.f.large_reused, 1);
    assert_int_equal(x.f.cache.blocks, 0);
    assert_int_equal(gh_large_usable(q), 200704 - GH_LARGE_OVERHEAD);
    assert_int_equal(x.f.large.live_bytes, 200704);
    assert_int_equal(gh_large_requested(q), 190000);
    /* 140000 needs 143360: 200704 is too long for it. */
    gh_front_free(&x.f, q);
    char *r = gh_front_malloc(&x.f, GH_ALIGN, 140000);
    assert_ptr_not_equal(r, p);
    assert_true(gh_front_large_zeroed(r));
    assert_int_equal(x.mapped.maps, 2);
    /* An aligned request through a cached mapping: aligned, its slack given back. */
    char *s = gh_front_malloc(&x.f, 8192, 170000);
    assert_ptr_not_equal(s, NULL);
    assert_int_equal((uintptr_t)s % 8192, 0);
    assert_int_equal(x.f.large_reused, 2);
    gh_front_free(&x.f, s);
    gh_front_free(&x.f, r);
    uint64_t held = x.mapped.bytes; /* before: the argument order of a call is unspecified */
    size_t given = gh_front_trim_cache(&x.f);
    assert_int_equal(given, held);
    assert_int_equal(x.mapped.bytes, 0);
    assert_int_equal(x.f.cache.blocks, 0);
    ffx_close(&x);
}

static void test_front_off_and_dynamic(void **state)
{
    (void)state;
    struct ffx x;
    ffx_open(&x, "first", FX_THRESHOLD); /* off by default */
    void *p = gh_front_malloc(&x.f, GH_ALIGN, 200000);
    gh_front_free(&x.f, p);
    assert_int_equal(x.mapped.unmaps, 1);
    assert_int_equal(x.f.cache.blocks, 0);
    /* Dynamic: the threshold rises to the mapping, which then goes. */
    gh_front_set_cache(&x.f, true);
    gh_front_set_dynamic(&x.f, true);
    p = gh_front_malloc(&x.f, GH_ALIGN, 200000);
    gh_front_free(&x.f, p);
    assert_int_equal(gh_front_threshold(&x.f), 200704);
    assert_int_equal(x.mapped.unmaps, 2);
    assert_int_equal(x.f.cache.blocks, 0);
    /* Not longer than the threshold: kept. */
    p = gh_front_malloc(&x.f, GH_ALIGN, 200704);
    void *q = gh_front_malloc(&x.f, GH_ALIGN, 300000);
    gh_front_free(&x.f, q); /* raises to its 303104 and goes */
    gh_front_free(&x.f, p); /* 204800: shorter than the threshold now, kept */
    assert_int_equal(gh_front_threshold(&x.f), 303104);
    assert_int_equal(x.f.cache.blocks, 1);
    assert_int_equal(x.f.cache.bytes, 204800);
    gh_front_trim_cache(&x.f);
    assert_int_equal(x.mapped.bytes, 0);
    ffx_close(&x);

    /* Buddy: what its largest block cannot hold moves no threshold: kept. */
    ffx_open(&x, "buddy", FX_THRESHOLD);
    gh_front_set_cache(&x.f, true);
    gh_front_set_dynamic(&x.f, true);
    p = gh_front_malloc(&x.f, GH_ALIGN, (size_t)1 << 20);
    gh_front_free(&x.f, p);
    assert_int_equal(gh_front_threshold(&x.f), FX_THRESHOLD);
    assert_int_equal(x.f.cache.blocks, 1);
    q = gh_front_malloc(&x.f, GH_ALIGN, (size_t)1 << 20);
    assert_ptr_equal(q, p);
    assert_int_equal(x.mapped.maps, 1);
    gh_front_free(&x.f, q);
    gh_front_trim_cache(&x.f);
    assert_int_equal(x.mapped.bytes, 0);
    ffx_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_take),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_concurrent_takers),
        cmocka_unit_test(test_front_reuses),
        cmocka_unit_test(test_front_off_and_dynamic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
