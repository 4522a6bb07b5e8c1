/* test_shm.c - the segment writer (shm.c) in-process, read back with the
 * inspector's reader (tools/reader): the header, the segment's OS calls in
 * the counters, a failure to make it, and the large-block list - every
 * live block of a registry, bounded by the capacity, with the total.  A
 * segment truncated to 0 under its writer (in a forked child, stderr
 * collected): touching the mapping does not raise SIGBUS, the next publish
 * says so in one line and no later one repeats it, the name still goes at
 * close; the reader answers GHR_TRUNCATED for every read, never SIGBUS. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "large.h"
#include "mapper.h"
#include "os.h"
#include "reader.h"
#include "shm.h"
#include "../child_stderr.h"

#define ARENA (1u << 20)
#define THRESHOLD (128u * 1024u)

struct fx {
    struct gh_source src;
    struct gh_heap heap;
    struct gh_config cfg;
    struct gh_large large;
    void *blocks[GH_SHM_LARGE_CAPACITY + 8];
    size_t nblocks;
    struct gh_shm shm;
};

/* The map of the fixture's one heap, as the library writes every arena's. */
static void write_map(struct fx *f)
{
    const struct gh_heap *heaps[1] = { &f->heap };
    gh_shm_write_map(&f->shm, heaps, 1, false);
}

static _Alignas(16) char arena[ARENA];

static void segment_path(char *path, size_t cap)
{
    snprintf(path, cap, "%s%s%ld", GH_SHM_DIR, GH_SHM_NAME_PREFIX, (long)getpid());
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    gh_source_init_arena(&f->src, arena, sizeof arena);
    assert_true(gh_heap_init_named(&f->heap, &f->src, "first", THRESHOLD));
    strcpy(f->cfg.policy, "first");
    f->cfg.mmap_threshold = THRESHOLD;
    f->cfg.shm = true;
    gh_large_init(&f->large);
    *state = f;
    return 0;
}

static void drop_block(struct fx *f, size_t i)
{
    void *base;
    size_t len;
    struct gh_large_rec *r = gh_large_find(&f->large, f->blocks[i]);
    assert_non_null(r);
    gh_large_unregister(&f->large, r, f->blocks[i], "free", &base, &len);
    gh_large_unmap(&gh_mapper_os, base, len);
    f->blocks[i] = NULL;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    gh_shm_close(&f->shm, true);
    for (size_t i = 0; i < f->nblocks; i++)
        if (f->blocks[i])
            drop_block(f, i);
    gh_os_fail_reset();
    free(f);
    return 0;
}

/* n more large blocks of requested sizes 200000 + 1000 i (4 KiB-aligned
 * every seventh, so the layouts differ). */
static void add_blocks(struct fx *f, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = f->nblocks;
        size_t want = i < 64 ? 200000 + 1000 * i : 100;
        void *p = gh_large_map(&gh_mapper_os, i % 7 == 6 ? 4096 : 16, want);
        assert_non_null(p);
        gh_large_register(&f->large, p);
        f->blocks[f->nblocks++] = p;
    }
}

static struct ghr_segment *open_own(void)
{
    struct ghr_segment *seg = NULL;
    assert_int_equal(ghr_open_pid((int)getpid(), &seg), GHR_OK);
    return seg;
}

/* The listed entries are the live blocks of f, each once, exactly. */
static void expect_listed(const struct fx *f, const struct gh_shm_large_block *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < f->nblocks && (uintptr_t)f->blocks[j] != v[i].addr)
            j++;
        assert_true(j < f->nblocks);
        const void *p = f->blocks[j];
        const struct gh_large_rec *r = gh_large_rec_of(p);
        assert_int_equal(v[i].map_base, r->map_base);
        assert_int_equal(v[i].map_len, r->map_len);
        assert_int_equal(v[i].requested, gh_large_requested(p));
        for (size_t k = 0; k < i; k++)
            assert_true(v[k].addr != v[i].addr);
    }
}

static void test_header_and_counters(void **state)
{
    struct fx *f = *state;
    struct gh_os_counts a, b;
    gh_os_counts(&a);
    assert_int_equal(gh_shm_open_large(&f->shm, &f->cfg, &f->heap, &f->large), 0);
    gh_os_counts(&b);
    assert_int_equal(b.shm_creates - a.shm_creates, 1);
    assert_int_equal(b.shm_maps - a.shm_maps, 1);
    assert_int_equal(b.shm_map_bytes - a.shm_map_bytes, f->shm.size);
    assert_int_equal(b.mmap_calls, a.mmap_calls);

    char path[96];
    segment_path(path, sizeof path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, f->shm.size);
    struct ghr_segment *seg = open_own();
    const struct gh_shm_header *h = ghr_header(seg);
    assert_non_null(h);
    assert_int_equal(h->large_capacity, GH_SHM_LARGE_CAPACITY);
    assert_int_equal(h->large_block_size, sizeof(struct gh_shm_large_block));
    assert_int_equal(h->large_offset % 8, 0);
    assert_true(h->large_offset >= h->map_offset + h->map_size);
    assert_true((uint64_t)h->large_offset + h->large_size <= h->heap_offset);
    /* the region table, then the per-arena table (include/glassheap/shm.h) */
    assert_int_equal(h->heap_offset % 8, 0);
    assert_int_equal(h->heap_capacity, GH_SHM_REGION_CAPACITY);
    assert_int_equal(h->heap_region_size, sizeof(struct gh_shm_region));
    assert_true((uint64_t)h->heap_offset + h->heap_size <= h->arenas_offset);
    assert_int_equal(h->arenas_offset % 8, 0);
    assert_int_equal(h->arenas_capacity, GH_SHM_ARENAS_CAPACITY);
    assert_int_equal(h->arena_entry_size, sizeof(struct gh_shm_arena));
    /* then the other arenas' region tables */
    assert_true((uint64_t)h->arenas_offset + h->arenas_size <= h->arena_tables_offset);
    assert_int_equal(h->arena_tables_offset % 8, 0);
    assert_int_equal(h->arena_tables, GH_SHM_ARENAS_CAPACITY - 1);
    assert_int_equal(h->arena_table_regions, GH_SHM_ARENA_REGIONS);
    uint64_t stride = (sizeof(struct gh_shm_heap) + GH_SHM_ARENA_REGIONS * sizeof(struct gh_shm_region) + 7) & ~7ull;
    assert_int_equal((uint64_t)h->arena_tables * stride, h->arena_tables_size);
    /* then the counters in place, last (glassheap/live.h) */
    assert_true((uint64_t)h->arena_tables_offset + h->arena_tables_size <= h->live_offset);
    assert_int_equal(h->live_offset % 64, 0); /* entries on cache lines */
    assert_int_equal((uint64_t)h->live_offset + h->live_size, h->total_size);
    const struct gh_shm_live *live = (const struct gh_shm_live *)(const void *)((const char *)f->shm.hdr + h->live_offset);
    assert_int_equal(live->arena_size, sizeof(struct gh_shm_live_arena));
    assert_int_equal(live->arenas, GH_SHM_LIVE_ARENAS);
    assert_int_equal(live->cache_size, sizeof(struct gh_shm_live_cache));
    assert_int_equal(live->caches, GH_SHM_LIVE_CACHES);
    assert_int_equal(sizeof *live + (uint64_t)live->arenas * live->arena_size + (uint64_t)live->caches * live->cache_size,
                     h->live_size);
    ghr_close(seg);

    gh_os_counts(&a);
    gh_shm_close(&f->shm, true);
    gh_os_counts(&b);
    assert_int_equal(b.shm_unmaps - a.shm_unmaps, 1);
    assert_int_equal(b.shm_unlinks - a.shm_unlinks, 1);
    assert_int_not_equal(stat(path, &st), 0);
}

static void test_without_registry_no_list(void **state)
{
    struct fx *f = *state;
    add_blocks(f, 2);
    assert_int_equal(gh_shm_open(&f->shm, &f->cfg, &f->heap), 0);
    struct gh_stats_snapshot snap = { 0 };
    gh_shm_publish(&f->shm, &snap);
    struct ghr_segment *seg = open_own();
    assert_int_equal(ghr_header(seg)->large_offset, 0);
    struct gh_shm_large_block v[4];
    size_t n = 9;
    uint64_t total = 9;
    assert_int_equal(ghr_large(seg, v, 4, &n, &total), GHR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    ghr_close(seg);
}

static void test_list_follows_registry(void **state)
{
    struct fx *f = *state;
    add_blocks(f, 3);
    assert_int_equal(gh_shm_open_large(&f->shm, &f->cfg, &f->heap, &f->large), 0);
    struct ghr_segment *seg = open_own();
    struct gh_shm_large_block v[16];
    size_t n;
    uint64_t total;
    /* nothing written yet: an empty list */
    assert_int_equal(ghr_large(seg, v, 16, &n, &total), GHR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);

    struct gh_stats_snapshot snap = { 0 };
    gh_shm_publish(&f->shm, &snap);
    assert_int_equal(ghr_large(seg, v, 16, &n, &total), GHR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(total, 3);
    expect_listed(f, v, n);

    /* a block freed and two mapped: the next heap map carries the list */
    drop_block(f, 1);
    add_blocks(f, 2);
    write_map(f);
    assert_int_equal(ghr_large(seg, v, 16, &n, &total), GHR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(total, 4);
    expect_listed(f, v, n); /* the freed block's slot is NULL: an entry for it fails */

    /* a reader's buffer smaller than the list: what fits, the whole total */
    assert_int_equal(ghr_large(seg, v, 2, &n, &total), GHR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(total, 4);
    ghr_close(seg);
}

static void test_list_bounded_total_counts_all(void **state)
{
    struct fx *f = *state;
    add_blocks(f, GH_SHM_LARGE_CAPACITY + 5);
    assert_int_equal(gh_shm_open_large(&f->shm, &f->cfg, &f->heap, &f->large), 0);
    gh_shm_write_large(&f->shm);
    struct ghr_segment *seg = open_own();
    struct gh_shm_large_block *v = calloc(GH_SHM_LARGE_CAPACITY + 8, sizeof *v);
    assert_non_null(v);
    size_t n;
    uint64_t total;
    assert_int_equal(ghr_large(seg, v, GH_SHM_LARGE_CAPACITY + 8, &n, &total), GHR_OK);
    assert_int_equal(n, GH_SHM_LARGE_CAPACITY);
    assert_int_equal(total, GH_SHM_LARGE_CAPACITY + 5); /* 5 did not fit */
    expect_listed(f, v, n);
    free(v);
    ghr_close(seg);
}

static void test_failure_leaves_no_segment(void **state)
{
    struct fx *f = *state;
    gh_os_fail_after(GH_OS_SHM, 0);
    assert_int_equal(gh_shm_open_large(&f->shm, &f->cfg, &f->heap, &f->large), ENOMEM);
    assert_null(f->shm.hdr);
    char path[96];
    segment_path(path, sizeof path);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    /* everything after is a no-op without a segment */
    struct gh_stats_snapshot snap = { 0 };
    gh_shm_publish(&f->shm, &snap);
    write_map(f);
    gh_shm_write_large(&f->shm);
}

/* Shrink the file to 0 as another process of the same user could. */
static void truncate_segment(void)
{
    char path[96];
    segment_path(path, sizeof path);
    assert_int_equal(truncate(path, 0), 0);
}

static void publish_twice(struct fx *f)
{
    struct gh_stats_snapshot snap = { 0 };
    gh_shm_publish(&f->shm, &snap);
    write_map(f);
    gh_shm_publish(&f->shm, &snap);
}

/* Truncated, then touched before any publish: the guard catches the fault. */
static void truncated_then_touched(void *arg)
{
    struct fx *f = arg;
    signal(SIGBUS, SIG_DFL); /* as a program leaves it (cmocka catches it) */
    assert_int_equal(gh_shm_open_large(&f->shm, &f->cfg, &f->heap, &f->large), 0);
    truncate_segment();
    (void)gh_shm_requested(&f->shm); /* reads the mapping: SIGBUS without the guard */
    publish_twice(f);
    char path[96];
    segment_path(path, sizeof path);
    gh_shm_close(&f->shm, true);
    _exit(access(path, F_OK) == 0 ? 3 : 0); /* the name went at close */
}

/* Truncated, then published before anything touches it: fstat notices. */
static void truncated_then_published(void *arg)
{
    struct fx *f = arg;
    signal(SIGBUS, SIG_DFL); /* as a program leaves it (cmocka catches it) */
    assert_int_equal(gh_shm_open_large(&f->shm, &f->cfg, &f->heap, &f->large), 0);
    truncate_segment();
    f->shm.calls = GH_SHM_PUBLISH_EVERY;
    publish_twice(f);
    if (f->shm.calls != 0)
        _exit(4); /* a lost segment must not be looked at on every call */
    (void)gh_shm_requested(&f->shm);
    gh_shm_close(&f->shm, true);
}

static void test_truncated_segment_writer(void **state)
{
    struct fx *f = *state;
    void (*cases[2])(void *) = { truncated_then_touched, truncated_then_published };
    char want[128];
    for (int i = 0; i < 2; i++) {
        char err[512];
        int st = gh_t_child(cases[i], f, err, sizeof err);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            print_message("case %d: status 0x%x, stderr: %s\n", i, st, err);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        /* the child's pid is in the line: match around it */
        snprintf(want, sizeof want, "glassheap: the segment %s%s", GH_SHM_DIR, GH_SHM_NAME_PREFIX);
        assert_true(strncmp(err, want, strlen(want)) == 0);
        const char *tail = " was truncated by another process; no longer publishing\n";
        assert_non_null(strstr(err, tail));
        assert_string_equal(strstr(err, tail) + strlen(tail), ""); /* one line only */
    }
}

static void test_truncated_segment_reader(void **state)
{
    struct fx *f = *state;
    assert_int_equal(gh_shm_open_large(&f->shm, &f->cfg, &f->heap, &f->large), 0);
    struct gh_stats_snapshot snap = { 0 };
    gh_shm_publish(&f->shm, &snap);
    struct ghr_segment *seg = open_own();
    truncate_segment();
    struct gh_shm_config cfg;
    struct gh_shm_counters c;
    struct gh_shm_map head;
    struct gh_shm_block b[4];
    struct gh_shm_large_block l[4];
    assert_int_equal(ghr_config(seg, &cfg), GHR_TRUNCATED);
    assert_int_equal(ghr_counters(seg, &c), GHR_TRUNCATED);
    assert_int_equal(ghr_request_counters(seg, 10), GHR_TRUNCATED);
    assert_int_equal(ghr_map(seg, -1, b, 4, NULL, NULL), GHR_TRUNCATED);
    assert_int_equal(ghr_map_head(seg, &head), GHR_TRUNCATED);
    assert_int_equal(ghr_large(seg, l, 4, NULL, NULL), GHR_TRUNCATED);
    assert_int_equal(ghr_check(seg), GHR_TRUNCATED);
    ghr_close(seg);
    /* and opened afresh: too short */
    struct ghr_segment *again = NULL;
    assert_int_equal(ghr_open_pid((int)getpid(), &again), GHR_TRUNCATED);
    assert_null(again);
    f->shm.lost = true; /* what its next publish would find: close without touching */
    gh_os_shm_lost(f->shm.fd, f->shm.hdr, (size_t)f->shm.size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_and_counters, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_without_registry_no_list, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_follows_registry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_bounded_total_counts_all, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failure_leaves_no_segment, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_segment_writer, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_segment_reader, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
