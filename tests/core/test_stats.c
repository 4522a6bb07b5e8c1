/* test_stats.c - stats.c in-process: the exit summary from a hand-made
 * snapshot.
 *
 * Proves: the JSON summary is exactly the documented object, every counter
 * under its own key (each counter of the snapshot has a distinct value, so a
 * swapped or dropped field shows) and the version of the build; the text
 * summary is exactly its five lines; the fragmentation percentages of the
 * text form are glassheap/frag.h's figures rounded half up to one decimal,
 * "-" when a figure has no whole, clamped when a part exceeds its whole;
 * output is cut at the buffer's capacity and stays NUL-terminated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "glassheap/version.h"
#include "stats.h"

/* Every counter a distinct value. */
static struct gh_stats_snapshot sample(void)
{
    struct gh_stats_snapshot s;
    memset(&s, 0, sizeof s);
    s.pid = 4242;
    s.policy = "worst";
    s.mmap_threshold = 131072;
    s.threshold_dynamic = true;
    s.threshold_rises = 3;
    s.calls = (struct gh_calls){ .malloc = 101, .calloc = 102, .realloc = 103, .free = 104, .aligned = 105,
                                 .failed = 106, .realloc_in_place = 107, .realloc_moved = 108 };
    s.heap.live_requested = 875;
    s.heap.live_block_bytes = 1000;
    s.heap.live_blocks = 201;
    s.heap.free_bytes = 3000;
    s.heap.heap_bytes = 8000;
    s.heap.overhead_bytes = 202;
    s.heap.peak_requested = 203;
    s.heap.peak_heap_bytes = 204;
    s.heap.regions_added = 205;
    s.heap.trims = 206;
    s.heap.trimmed_bytes = 207;
    s.free_blocks = 208;
    s.largest_free = 1000;
    s.large_blocks = 301;
    s.large_bytes = 302;
    s.large_requested = 303;
    s.large_peak_bytes = 304;
    s.large_cached_blocks = 305;
    s.large_cached_bytes = 306;
    s.large_reused = 307;
    s.os.brk_calls = 401;
    s.os.brk_grow_bytes = 402;
    s.os.brk_shrink_bytes = 403;
    s.os.mmap_calls = 404;
    s.os.mmap_bytes = 405;
    s.os.munmap_calls = 406;
    s.os.mremap_calls = 407;
    s.os.mremap_bytes = 408;
    s.os.madvise_calls = 409;
    s.os.mprotect_calls = 410;
    s.harden = (struct gh_harden_counts){ .on = 0, .quarantined_blocks = 501, .quarantined_bytes = 502,
                                          .quarantined_requested = 503, .canary_bytes = 504,
                                          .zero_blocks = 505 };
    s.arenas = 1;
    s.handed = 608;
    s.cache = (struct gh_tcache_counts){ .blocks = 601, .bytes = 602, .requested = 603, .hits = 604,
                                         .puts = 605, .flushed = 606, .threads = 607 };
    return s;
}

static const char sample_json[] =
    "{\"glassheap\":\"" GLASSHEAP_VERSION "\",\"pid\":4242,\"policy\":\"worst\",\"mmap_threshold\":131072,"
    "\"mmap_threshold_dynamic\":1,\"mmap_threshold_rises\":3,"
    "\"calls\":{\"malloc\":101,\"calloc\":102,\"realloc\":103,\"free\":104,\"aligned\":105,\"failed\":106,"
    "\"realloc_in_place\":107,\"realloc_moved\":108},"
    "\"heap\":{\"live_requested\":875,\"live_block_bytes\":1000,\"live_blocks\":201,\"free_bytes\":3000,"
    "\"free_blocks\":208,\"largest_free\":1000,\"heap_bytes\":8000,\"overhead_bytes\":202,"
    "\"peak_requested\":203,\"peak_heap_bytes\":204,\"regions_added\":205,\"trims\":206,"
    "\"trimmed_bytes\":207},"
    "\"large\":{\"live_blocks\":301,\"live_bytes\":302,\"live_requested\":303,\"peak_bytes\":304,"
    "\"cached_blocks\":305,\"cached_bytes\":306,\"reused\":307},"
    "\"os\":{\"brk_calls\":401,\"brk_grow_bytes\":402,\"brk_shrink_bytes\":403,\"mmap_calls\":404,"
    "\"mmap_bytes\":405,\"munmap_calls\":406,\"mremap_calls\":407,\"mremap_bytes\":408,"
    "\"madvise_calls\":409,\"mprotect_calls\":410},"
    "\"harden\":{\"on\":0,\"quarantined_blocks\":501,\"quarantined_bytes\":502,"
    "\"quarantined_requested\":503,\"canary_bytes\":504,\"zero_blocks\":505},\"arenas\":1,\"handed\":608,"
    "\"cache\":{\"on\":0,\"cached_blocks\":601,\"cached_bytes\":602,\"cached_requested\":603,\"hits\":604,"
    "\"puts\":605,\"flushed\":606,\"threads\":607}}\n";

/* internal (1000 - 875) / 1000 = 12.5%, external (3000 - 1000) / 3000 =
 * 66.67% -> 66.7%, utilisation 875 / 8000 = 10.94% -> 10.9%. */
static const char sample_text[] =
    "glassheap: pid 4242, policy worst\n"
    "glassheap: calls: malloc 101, calloc 102, realloc 103, free 104, aligned 105, failed 106\n"
    "glassheap: heap 8000 B (peak 204 B), live 875 B requested in 201 blocks, free 3000 B in 208 blocks\n"
    "glassheap: large blocks 301 (302 B mapped), mmap threshold 131072 B (dynamic, raised 3 times)\n"
    "glassheap: freed mappings cached 305 (306 B), reused 307 times\n"
    "glassheap: internal fragmentation 12.5%, external fragmentation 66.7%, utilisation 10.9%\n"
    "glassheap: system calls: brk 401, mmap 404, munmap 406, mremap 407\n";

/* The hardened mode's line, only when it is on (the JSON object is always
 * there, "on" telling which). */
static void test_text_hardened(void **state)
{
    (void)state;
    struct gh_stats_snapshot s = sample();
    s.harden.on = 1;
    char buf[4096];
    gh_stats_format(buf, sizeof buf, GH_STATS_TEXT, &s);
    const char *line = strstr(buf, "glassheap: hardened: ");
    assert_non_null(line);
    assert_memory_equal(line, "glassheap: hardened: quarantined 502 B in 501 blocks, canaries 504 B, "
                              "zero-size blocks 505\nglassheap: large blocks",
                        strlen("glassheap: hardened: quarantined 502 B in 501 blocks, canaries 504 B, "
                               "zero-size blocks 505\nglassheap: large blocks"));
    gh_stats_format(buf, sizeof buf, GH_STATS_JSON, &s);
    assert_non_null(strstr(buf, "\"harden\":{\"on\":1,"));
}

/* The arenas and caches line: when the cache is on or there are several
 * arenas, before the large blocks. */
static void test_text_cache(void **state)
{
    (void)state;
    struct gh_stats_snapshot s = sample();
    s.cache_on = 1;
    s.arenas = 3;
    char buf[4096];
    gh_stats_format(buf, sizeof buf, GH_STATS_TEXT, &s);
    const char *want = "glassheap: arenas 3, thread caches on: cached 602 B in 601 blocks, hits 604, flushed 606; "
                       "handed to their arena by other threads 608\n"
                       "glassheap: large blocks";
    const char *line = strstr(buf, "glassheap: arenas ");
    assert_non_null(line);
    assert_memory_equal(line, want, strlen(want));
    s.cache_on = 0;
    gh_stats_format(buf, sizeof buf, GH_STATS_TEXT, &s);
    assert_non_null(strstr(buf, "glassheap: arenas 3, thread caches off: "));
    s.arenas = 1;
    gh_stats_format(buf, sizeof buf, GH_STATS_TEXT, &s);
    assert_null(strstr(buf, "glassheap: arenas "));
}

static void test_json(void **state)
{
    (void)state;
    struct gh_stats_snapshot s = sample();
    char buf[4096];
    size_t n = gh_stats_format(buf, sizeof buf, GH_STATS_JSON, &s);
    assert_string_equal(buf, sample_json);
    assert_int_equal(n, strlen(sample_json));
}

static void test_text(void **state)
{
    (void)state;
    struct gh_stats_snapshot s = sample();
    char buf[4096];
    size_t n = gh_stats_format(buf, sizeof buf, GH_STATS_TEXT, &s);
    assert_string_equal(buf, sample_text);
    assert_int_equal(n, strlen(sample_text));
    /* Any mode but JSON is the text form. */
    n = gh_stats_format(buf, sizeof buf, GH_STATS_OFF, &s);
    assert_string_equal(buf, sample_text);
}

/* The fragmentation line of the text form for these counters. */
static const char *frag_line(uint64_t requested, uint64_t block, uint64_t largest, uint64_t free_bytes,
                             uint64_t heap)
{
    static char buf[4096];
    struct gh_stats_snapshot s = sample();
    s.heap.live_requested = requested;
    s.heap.live_block_bytes = block;
    s.largest_free = largest;
    s.heap.free_bytes = free_bytes;
    s.heap.heap_bytes = heap;
    gh_stats_format(buf, sizeof buf, GH_STATS_TEXT, &s);
    const char *line = strstr(buf, "glassheap: internal");
    assert_non_null(line);
    char *end = strchr(line, '\n');
    assert_non_null(end);
    *end = '\0';
    return line + strlen("glassheap: ");
}

static void test_fragmentation_figures(void **state)
{
    (void)state;
    /* No whole: "-". */
    assert_string_equal(frag_line(0, 0, 0, 0, 0),
                        "internal fragmentation -, external fragmentation -, utilisation -");
    /* Nothing wasted, all in one free block, all used. */
    assert_string_equal(frag_line(100, 100, 50, 50, 100),
                        "internal fragmentation 0.0%, external fragmentation 0.0%, utilisation 100.0%");
    /* Thirds: 33.33 -> 33.3, 66.67 -> 66.7. */
    assert_string_equal(frag_line(2, 3, 1, 3, 3),
                        "internal fragmentation 33.3%, external fragmentation 66.7%, utilisation 66.7%");
    /* Half up: 1/16 = 6.25% -> 6.3%; 1/8 = 12.5% stays; 1/1000 = 0.1%. */
    assert_string_equal(frag_line(15, 16, 7, 8, 1000),
                        "internal fragmentation 6.3%, external fragmentation 12.5%, utilisation 1.5%");
    assert_string_equal(frag_line(999, 1000, 999, 1000, 1000000),
                        "internal fragmentation 0.1%, external fragmentation 0.1%, utilisation 0.1%");
    /* Clamped: requested above block bytes, largest above free bytes,
     * requested above heap bytes. */
    assert_string_equal(frag_line(200, 100, 80, 40, 150),
                        "internal fragmentation 0.0%, external fragmentation 0.0%, utilisation 100.0%");
    /* Large counts do not overflow the arithmetic. */
    assert_string_equal(frag_line(UINT64_C(1) << 40, UINT64_C(1) << 41, 0, UINT64_C(1) << 50,
                                  UINT64_C(1) << 42),
                        "internal fragmentation 50.0%, external fragmentation 100.0%, utilisation 25.0%");
}

static void test_capacity(void **state)
{
    (void)state;
    struct gh_stats_snapshot s = sample();
    char buf[64];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(gh_stats_format(buf, 0, GH_STATS_JSON, &s), 0);
    assert_int_equal(buf[0], 'x'); /* nothing written */
    assert_int_equal(gh_stats_format(buf, 1, GH_STATS_JSON, &s), 0);
    assert_int_equal(buf[0], '\0');
    memset(buf, 'x', sizeof buf);
    assert_int_equal(gh_stats_format(buf, 20, GH_STATS_JSON, &s), 19);
    assert_memory_equal(buf, sample_json, 19);
    assert_int_equal(buf[19], '\0');
    assert_int_equal(buf[20], 'x');
    memset(buf, 'x', sizeof buf);
    assert_int_equal(gh_stats_format(buf, sizeof buf, GH_STATS_TEXT, &s), sizeof buf - 1);
    assert_memory_equal(buf, sample_text, sizeof buf - 1);
    assert_int_equal(buf[sizeof buf - 1], '\0');
    /* Exactly the length plus its NUL fits. */
    char exact[sizeof sample_json];
    assert_int_equal(gh_stats_format(exact, sizeof exact, GH_STATS_JSON, &s), sizeof exact - 1);
    assert_string_equal(exact, sample_json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_text_hardened),
        cmocka_unit_test(test_text_cache),
        cmocka_unit_test(test_fragmentation_figures),
        cmocka_unit_test(test_capacity),
    };
    return cmocka_run_group_tests_name("core_stats", tests, NULL, NULL);
}
