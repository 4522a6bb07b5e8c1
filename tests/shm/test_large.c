/* test_large.c - the reader's large-block list (ghr_large), map head
 * (ghr_map_head) and per-arena table (ghr_arenas) against hand-made
 * segment images.
 *
 * Proves: a valid list round-trips (entries, count, total with the blocks
 * not listed); a writer without a list (large_offset 0) reads as empty;
 * every way the list's place can be wrong is GHR_BAD_LAYOUT at open
 * (outside the file, overflowing, over another region, misaligned, an
 * entry size too small or misaligned, a capacity the list cannot hold);
 * counts are bounded by the capacity and by the caller's buffer, a total
 * below the listed entries is raised to them; each kind of impossible entry
 * (empty or wrapping mapping, payload outside it, request past its end) is
 * GHR_BAD_LAYOUT while entries past count are never judged; a held sequence
 * lock gives GHR_BUSY; the map head's bounds come back as written.  The
 * arena table the same way: round trip, absent (an older writer), its
 * place checked at open, an entry whose index is not its place or whose
 * bytes outrun its heap refused, a held lock GHR_BUSY.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "reader_fixture.h"

#define HOFF(f) offsetof(struct gh_shm_header, f)
#define U32MAX  0xffffffffu

static struct ghr_segment *open_ok(const char *name, const struct img *m)
{
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img(name, m, &seg), GHR_OK);
    return seg;
}

static void test_large_roundtrip(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    struct ghr_segment *seg = open_ok("large", &m);
    struct gh_shm_large_block b[IMG_LARGE_CAP];
    size_t n = 99;
    uint64_t total = 99;
    assert_int_equal(ghr_large(seg, b, IMG_LARGE_CAP, &n, &total), GHR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(total, 3);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(&b[i], &m.lblocks[i], sizeof b[i]);
    /* NULL outputs and a NULL buffer are fine */
    assert_int_equal(ghr_large(seg, NULL, 0, NULL, &total), GHR_OK);
    assert_int_equal(total, 3);
    assert_int_equal(ghr_large(seg, NULL, 5, &n, NULL), GHR_OK);
    assert_int_equal(n, 0);
    ghr_close(seg);
}

static void test_large_absent(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    m.h.large_offset = m.h.large_size = m.h.large_capacity = m.h.large_block_size = 0;
    struct ghr_segment *seg = open_ok("nolarge", &m);
    struct gh_shm_large_block b[IMG_LARGE_CAP];
    size_t n = 99;
    uint64_t total = 99;
    assert_int_equal(ghr_large(seg, b, IMG_LARGE_CAP, &n, &total), GHR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    ghr_close(seg);
    assert_int_equal(ghr_large(NULL, b, 1, &n, &total), GHR_NO_SEGMENT);
}

static void test_large_layout(void **state)
{
    (void)state;
    const uint32_t L = offsetof(struct img, large), MAP = offsetof(struct img, map);
    const uint32_t LSIZE = sizeof(struct gh_shm_large) + IMG_LARGE_CAP * sizeof(struct gh_shm_large_block);
    const struct {
        const char *what;
        size_t off1; uint32_t val1;
        size_t off2; uint32_t val2;
        int want;
    } table[] = {
        { "control", 0, 0, 0, 0, GHR_OK },
        { "offset outside", HOFF(large_offset), sizeof(struct img), 0, 0, GHR_BAD_LAYOUT },
        { "offset overflow", HOFF(large_offset), U32MAX - 7, 0, 0, GHR_BAD_LAYOUT },
        { "size overflow", HOFF(large_size), U32MAX, 0, 0, GHR_BAD_LAYOUT },
        { "size past the file", HOFF(large_size), LSIZE + 8, 0, 0, GHR_BAD_LAYOUT },
        { "over the map", HOFF(large_offset), MAP, 0, 0, GHR_BAD_LAYOUT },
        { "over the header", HOFF(large_offset), 8, 0, 0, GHR_BAD_LAYOUT },
        { "misaligned", HOFF(large_offset), L + 4, HOFF(large_size), LSIZE - 8, GHR_BAD_LAYOUT },
        { "smaller than its head", HOFF(large_size), 32, HOFF(large_capacity), 0, GHR_BAD_LAYOUT },
        { "capacity one too many", HOFF(large_capacity), IMG_LARGE_CAP + 1, 0, 0, GHR_BAD_LAYOUT },
        { "capacity huge", HOFF(large_capacity), U32MAX, 0, 0, GHR_BAD_LAYOUT },
        { "entry too small", HOFF(large_block_size), 24, 0, 0, GHR_BAD_LAYOUT },
        { "entry misaligned", HOFF(large_block_size), 36, HOFF(large_capacity), 1, GHR_BAD_LAYOUT },
        { "entry size 0", HOFF(large_block_size), 0, 0, 0, GHR_BAD_LAYOUT },
        { "size 0, offset set", HOFF(large_size), 0, 0, 0, GHR_BAD_LAYOUT },
        /* accepted: a smaller capacity, a wider entry that still fits */
        { "capacity smaller", HOFF(large_capacity), 1, 0, 0, GHR_OK },
        { "capacity 0", HOFF(large_capacity), 0, 0, 0, GHR_OK },
        { "wider entry", HOFF(large_block_size), 40, HOFF(large_capacity), 6, GHR_OK },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct img m;
        img_init(&m);
        if (table[i].off1)
            memcpy((uint8_t *)&m.h + table[i].off1, &table[i].val1, 4);
        if (table[i].off2)
            memcpy((uint8_t *)&m.h + table[i].off2, &table[i].val2, 4);
        struct ghr_segment *seg = NULL;
        int rc = open_img("largelayout", &m, &seg);
        if (rc != table[i].want)
            fail_msg("%s: got %d (%s), want %d", table[i].what, rc, ghr_strerror(rc), table[i].want);
        assert_true(rc == GHR_OK ? seg != NULL : seg == NULL);
        ghr_close(seg);
    }
}

static void test_large_counts(void **state)
{
    (void)state;
    struct gh_shm_large_block b[IMG_LARGE_CAP];
    size_t n;
    uint64_t total;
    struct img m;
    img_init(&m);
    m.large.count = 1000;            /* more than the capacity: all 8 */
    m.large.total = 5;               /* below what is listed: raised */
    struct ghr_segment *seg = open_ok("counts", &m);
    assert_int_equal(ghr_large(seg, b, IMG_LARGE_CAP, &n, &total), GHR_OK);
    assert_int_equal(n, IMG_LARGE_CAP);
    assert_int_equal(total, IMG_LARGE_CAP);
    assert_int_equal(ghr_large(seg, b, 3, &n, &total), GHR_OK);   /* the caller's room */
    assert_int_equal(n, 3);
    assert_int_equal(total, IMG_LARGE_CAP);
    ghr_close(seg);

    img_init(&m);
    m.large.count = UINT64_MAX;
    m.large.total = UINT64_MAX;
    m.h.large_capacity = 2;
    seg = open_ok("counts", &m);
    assert_int_equal(ghr_large(seg, b, IMG_LARGE_CAP, &n, &total), GHR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(total, UINT64_MAX);
    ghr_close(seg);

    img_init(&m);
    m.large.count = 0;
    m.large.total = 7;               /* full list elsewhere: none listed here */
    seg = open_ok("counts", &m);
    assert_int_equal(ghr_large(seg, b, IMG_LARGE_CAP, &n, &total), GHR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 7);
    ghr_close(seg);
}

static void test_large_bad_entry(void **state)
{
    (void)state;
    struct gh_shm_large_block b[IMG_LARGE_CAP];
    size_t n;
    for (int k = 0; k < 6; k++) {
        struct img m;
        img_init(&m);
        struct gh_shm_large_block *e = &m.lblocks[1];
        switch (k) {
        case 0: e->map_len = 0; break;                                  /* empty */
        case 1: e->map_base = UINT64_MAX - 0x1000; break;               /* wraps */
        case 2: e->addr = e->map_base - 16; break;                      /* payload below */
        case 3: e->addr = e->map_base + e->map_len; break;              /* payload past */
        case 4: e->requested = e->map_len; break;                       /* request past */
        case 5: e->requested = UINT64_MAX; break;
        }
        struct ghr_segment *seg = open_ok("badentry", &m);
        n = 99;
        assert_int_equal(ghr_large(seg, b, IMG_LARGE_CAP, &n, NULL), GHR_BAD_LAYOUT);
        assert_int_equal(n, 0);
        assert_int_equal(ghr_large(seg, b, 1, &n, NULL), GHR_OK);     /* not read */
        assert_int_equal(n, 1);
        ghr_close(seg);
    }
    /* past count nothing is judged; the largest request that fits is fine */
    struct img m;
    img_init(&m);
    m.lblocks[4].map_len = 0;
    m.lblocks[0].requested = m.lblocks[0].map_base + m.lblocks[0].map_len - m.lblocks[0].addr;
    struct ghr_segment *seg = open_ok("badentry", &m);
    assert_int_equal(ghr_large(seg, b, IMG_LARGE_CAP, &n, NULL), GHR_OK);
    assert_int_equal(n, 2);
    ghr_close(seg);
}

static void test_arenas_roundtrip(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    struct ghr_segment *seg = open_ok("arenas", &m);
    struct gh_shm_arena a[IMG_ARENA_CAP + 2];
    size_t n = 99;
    assert_int_equal(ghr_arenas(seg, a, IMG_ARENA_CAP + 2, &n), GHR_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(&a[i], &m.arena[i], sizeof a[i]);
    assert_int_equal(ghr_arenas(seg, a, 2, &n), GHR_OK);   /* the caller's buffer bounds it */
    assert_int_equal(n, 2);
    assert_int_equal(ghr_arenas(seg, NULL, 5, &n), GHR_OK);
    assert_int_equal(n, 0);
    ghr_close(seg);
    /* the count is bounded by the capacity */
    m.arenas.count = 1000;
    seg = open_ok("arenas", &m);
    assert_int_equal(ghr_arenas(seg, a, IMG_ARENA_CAP + 2, &n), GHR_OK);
    assert_int_equal(n, IMG_ARENA_CAP);
    ghr_close(seg);
    /* an older writer: no table, no entries */
    img_init(&m);
    m.h.arenas_offset = m.h.arenas_size = m.h.arenas_capacity = m.h.arena_entry_size = 0;
    seg = open_ok("noarenas", &m);
    n = 99;
    assert_int_equal(ghr_arenas(seg, a, IMG_ARENA_CAP, &n), GHR_OK);
    assert_int_equal(n, 0);
    ghr_close(seg);
    assert_int_equal(ghr_arenas(NULL, a, 1, &n), GHR_NO_SEGMENT);
}

static void test_arenas_layout(void **state)
{
    (void)state;
    for (int k = 0; k < 7; k++) {
        struct img m;
        img_init(&m);
        struct gh_shm_header *h = &m.h;
        switch (k) {
        case 0: h->arenas_offset = (uint32_t)sizeof m; break;                  /* outside */
        case 1: h->arenas_size = U32MAX; break;                                /* overflows */
        case 2: h->arenas_offset = h->large_offset; break;                     /* over the list */
        case 3: h->arenas_offset += 4; h->arenas_size -= 8; break;             /* misaligned */
        case 4: h->arena_entry_size = 8; break;                                /* entries too small */
        case 5: h->arena_entry_size += 4; break;                               /* misaligned entries */
        case 6: h->arenas_capacity = IMG_ARENA_CAP + 1; break;                 /* more than it holds */
        }
        struct ghr_segment *seg = NULL;
        assert_int_equal(open_img("arenaslayout", &m, &seg), GHR_BAD_LAYOUT);
        ghr_close(seg);
    }
}

/* The other arenas' region tables: accepted where they lie as the header
 * says, refused when they do not. */
static void test_arena_tables_layout(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    img_tables(&m);
    struct ghr_segment *seg = open_ok("tables", &m);
    assert_int_equal(ghr_header(seg)->arena_tables, IMG_TABLES);
    ghr_close(seg);
    for (int k = 0; k < 8; k++) {
        img_init(&m);
        img_tables(&m);
        struct gh_shm_header *h = &m.h;
        switch (k) {
        case 0: h->arena_tables_offset = (uint32_t)sizeof m; break;               /* outside */
        case 1: h->arena_tables_size = U32MAX; break;                             /* overflows */
        case 2: h->arena_tables_offset = h->arenas_offset; break;                 /* over the arenas */
        case 3: h->arena_tables_offset += 4; h->arena_tables_size -= 8; break;    /* misaligned */
        case 4: h->arena_tables = IMG_TABLES + 1; break;                          /* more than it holds */
        case 5: h->arena_table_regions = IMG_REGIONS + 1; break;                  /* entries past the end */
        case 6: h->arena_tables = GH_SHM_ARENAS_CAPACITY; break;                  /* more than arenas */
        case 7: h->heap_offset = h->heap_size = 0; break;                         /* no main table */
        }
        seg = NULL;
        assert_int_equal(open_img("tableslayout", &m, &seg), GHR_BAD_LAYOUT);
        ghr_close(seg);
    }
}

/* The counters kept in place, added up (glassheap/live.h's rules). */
static void test_live(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    img_live(&m);
    struct ghr_segment *seg = open_ok("live", &m);
    struct gh_shm_counters c;
    struct gh_shm_arena a[IMG_ARENA_CAP];
    size_t n = 0;
    struct ghr_live_info info;
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);
    assert_int_equal(ghr_arenas(seg, a, IMG_ARENA_CAP, &n), GHR_OK);
    assert_int_equal(ghr_live(seg, &c, a, IMG_ARENA_CAP, &n, &info), GHR_OK);
    assert_true(info.in_place && !info.absent);
    assert_int_equal(info.arenas, 2);
    assert_int_equal(info.torn, 0);
    assert_int_equal(info.caches, 1);
    assert_int_equal(c.malloc_calls, 18);
    assert_int_equal(c.free_calls, 8);
    assert_int_equal(c.live_blocks, 5);
    assert_int_equal(c.live_block_bytes, 8192 - 64);
    assert_int_equal(c.live_requested, 8000 - 50);
    assert_int_equal(c.cached_blocks, 1);
    assert_int_equal(c.cache_hits, 4);
    assert_int_equal(c.free_blocks, 3);
    assert_int_equal(c.free_bytes, 2 * 8192);
    assert_int_equal(c.heap_bytes, 2 * (4096 + 8192 + 64));
    assert_int_equal(c.live_block_bytes + c.cached_bytes + c.free_bytes + c.overhead_bytes, c.heap_bytes);
    assert_int_equal(c.brk_calls, 7);
    assert_int_equal(c.arenas, 2);
    assert_int_equal(n, 2);
    assert_int_equal(a[1].calls, 5 + 4);
    assert_int_equal(a[1].free_blocks, 1);
    assert_int_equal(a[1].threads, 1);
    ghr_close(seg);

    /* arena 1 inside a call on every look: taken as last read, and said */
    m.live.arena[1].seq = 7;
    seg = open_ok("live", &m);
    assert_int_equal(ghr_live(seg, &c, NULL, 0, NULL, &info), GHR_OK);
    assert_int_equal(info.torn, 1);
    ghr_close(seg);

    /* more arenas counted than there are entries: bounded by them */
    img_init(&m);
    img_live(&m);
    m.heap.head.arenas = 1000;
    seg = open_ok("live", &m);
    assert_int_equal(ghr_live(seg, &c, NULL, 0, NULL, &info), GHR_OK);
    assert_int_equal(info.arenas, 2);
    ghr_close(seg);

    /* a writer without the section: nothing changed */
    img_init(&m);
    seg = open_ok("live", &m);
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);
    uint64_t calls = c.malloc_calls;
    assert_int_equal(ghr_live(seg, &c, NULL, 0, NULL, &info), GHR_OK);
    assert_true(info.absent && !info.in_place);
    assert_int_equal(c.malloc_calls, calls);
    ghr_close(seg);
    assert_int_equal(ghr_live(NULL, &c, NULL, 0, NULL, &info), GHR_NO_SEGMENT);
}

/* A live section that does not fit, or an entry no heap would write. */
static void test_live_bad(void **state)
{
    (void)state;
    struct gh_shm_counters c;
    struct ghr_live_info info;
    for (int k = 0; k < 10; k++) {
        struct img m;
        img_init(&m);
        img_live(&m);
        int open_rc = GHR_OK;
        switch (k) {
        case 0: m.h.live_offset = (uint32_t)sizeof m; open_rc = GHR_BAD_LAYOUT; break;        /* outside */
        case 1: m.h.live_size = 8; open_rc = GHR_BAD_LAYOUT; break;                            /* too small */
        case 2: m.h.live_offset = m.h.arena_tables_offset; open_rc = GHR_BAD_LAYOUT; break;  /* over the tables */
        case 3: m.live.head.arena_size = 8; break;                                             /* entries too small */
        case 4: m.live.head.arenas = 1000; break;                                              /* past the section */
        case 5: m.live.head.caches = 1u << 30; break;                                          /* past the section */
        case 6: m.live.arena[1].heap.free_bytes = UINT64_MAX; break;                           /* would wrap */
        case 7: m.live.arena[0].heap.live_block_bytes += 16; break;                            /* above the heap */
        case 8: m.live.arena[0].heap.live_requested = 5000; break;                             /* above its blocks */
        case 9: /* over the map, no arena tables to end before it: every named section apart */
            m.h.arena_tables_offset = m.h.arena_tables_size = 0;
            m.h.live_offset = m.h.map_offset;
            m.h.live_size = (uint32_t)sizeof m.live;
            open_rc = GHR_BAD_LAYOUT;
            break;
        }
        struct ghr_segment *seg = NULL;
        int rc = open_img("livebad", &m, &seg);
        assert_int_equal(rc, open_rc);
        if (rc == GHR_OK)
            assert_int_equal(ghr_live(seg, &c, NULL, 0, NULL, &info), GHR_BAD_LAYOUT);
        ghr_close(seg);
    }
}

static void test_arenas_bad_entry(void **state)
{
    (void)state;
    struct gh_shm_arena a[IMG_ARENA_CAP];
    size_t n;
    for (int k = 0; k < 6; k++) {
        struct img m;
        img_init(&m);
        struct gh_shm_arena *e = &m.arena[1];
        switch (k) {
        case 0: e->index = 0; break;                                   /* not its place */
        case 1: e->used_block_bytes = e->heap_bytes + 1; break;        /* used above the heap */
        case 2: e->free_bytes = UINT64_MAX; break;                     /* would wrap the sum */
        case 3: e->overhead_bytes += 16; break;                        /* terms above the heap */
        case 4: e->largest_free = e->free_bytes + 16; break;           /* largest above free */
        case 5: e->used_requested = e->used_block_bytes + 1; break;    /* asked above the blocks */
        }
        struct ghr_segment *seg = open_ok("arenabad", &m);
        n = 99;
        assert_int_equal(ghr_arenas(seg, a, IMG_ARENA_CAP, &n), GHR_BAD_LAYOUT);
        assert_int_equal(n, 0);
        assert_int_equal(ghr_arenas(seg, a, 1, &n), GHR_OK);         /* entry 1 not read */
        assert_int_equal(n, 1);
        ghr_close(seg);
    }
    /* past count nothing is judged */
    struct img m;
    img_init(&m);
    m.arena[3].index = 77;
    struct ghr_segment *seg = open_ok("arenabad", &m);
    assert_int_equal(ghr_arenas(seg, a, IMG_ARENA_CAP, &n), GHR_OK);
    assert_int_equal(n, 3);
    ghr_close(seg);
    /* a held lock */
    m.arenas.seq = 7;
    seg = open_ok("arenabusy", &m);
    assert_int_equal(ghr_arenas(seg, a, IMG_ARENA_CAP, &n), GHR_BUSY);
    ghr_close(seg);
}

static void test_large_busy(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    m.large.seq = 5;                 /* a writer inside, forever */
    struct ghr_segment *seg = open_ok("largebusy", &m);
    struct gh_shm_large_block b[IMG_LARGE_CAP];
    size_t n = 99;
    assert_int_equal(ghr_large(seg, b, IMG_LARGE_CAP, &n, NULL), GHR_BUSY);
    assert_int_equal(n, 0);
    ghr_close(seg);
}

static void test_map_head(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    struct ghr_segment *seg = open_ok("maphead", &m);
    struct gh_shm_map head;
    assert_int_equal(ghr_map_head(seg, &head), GHR_OK);
    assert_int_equal(head.heap_start, 0x10000);
    assert_int_equal(head.heap_end, 0x20000);
    assert_int_equal(head.nblocks, 3);
    assert_int_equal(head.total_blocks, 5);
    assert_int_equal(ghr_map_head(seg, NULL), GHR_IO);
    ghr_close(seg);

    img_init(&m);
    m.map.seq = 7;
    seg = open_ok("maphead", &m);
    assert_int_equal(ghr_map_head(seg, &head), GHR_BUSY);
    assert_int_equal(head.heap_start, 0);
    ghr_close(seg);
    assert_int_equal(ghr_map_head(NULL, &head), GHR_NO_SEGMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_roundtrip),
        cmocka_unit_test(test_large_absent),
        cmocka_unit_test(test_large_layout),
        cmocka_unit_test(test_large_counts),
        cmocka_unit_test(test_large_bad_entry),
        cmocka_unit_test(test_large_busy),
        cmocka_unit_test(test_map_head),
        cmocka_unit_test(test_arenas_roundtrip),
        cmocka_unit_test(test_arenas_layout),
        cmocka_unit_test(test_arena_tables_layout),
        cmocka_unit_test(test_live),
        cmocka_unit_test(test_live_bad),
        cmocka_unit_test(test_arenas_bad_entry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
