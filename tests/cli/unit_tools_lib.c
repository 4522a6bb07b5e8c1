/* unit_tools_lib.c - tools/lib in process: the XML escaper and SVG writer
 * byte for byte, byte-count labels, the /proc stat and maps parsers on
 * crafted lines (and on this process), the clock, trace files written and
 * read back in both formats, the exit summary parsed through jansson, and
 * the heap-map model built from crafted (hostile) block lists.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glassheap/version.h>

#include "bytes.h"
#include "clock.h"
#include "heapmap.h"
#include "proc.h"
#include "summary.h"
#include "svg.h"
#include "tracefile.h"

/* What fn wrote to a FILE, as a string the caller frees. */
#define CAPTURE(out, ...)                                         \
    do {                                                          \
        size_t cap_len_;                                          \
        FILE *f = open_memstream(&(out), &cap_len_);              \
        assert_non_null(f);                                       \
        __VA_ARGS__;                                              \
        assert_int_equal(fclose(f), 0);                           \
    } while (0)

/* ---- escaping and SVG ------------------------------------------------- */

static void expect_escape(const char *in, size_t max, unsigned how, const char *want)
{
    char *out = NULL;
    CAPTURE(out, svg_escape(f, in, max, how));
    assert_string_equal(out, want);
    free(out);
}

static void test_escape(void **state)
{
    (void)state;
    const char *s = "a<b>&\"c'\td\x01\xc3\xa9";
    /* map and layout: attribute-safe, tab kept, controls '?' */
    expect_escape(s, SIZE_MAX, SVG_ESC_ATTR, "a&lt;b&gt;&amp;&quot;c&apos;\td?\xc3\xa9");
    /* compare: quotes only as &quot;, controls (tab too) dropped */
    expect_escape(s, SIZE_MAX, SVG_ESC_QUOT | SVG_ESC_DROP_CTRL, "a&lt;b&gt;&amp;&quot;c'd\xc3\xa9");
    /* replay: no quote escapes, ASCII only, cut at max with "..." */
    expect_escape(s, SIZE_MAX, SVG_ESC_ASCII, "a&lt;b&gt;&amp;\"c'?d???");
    expect_escape("abcdef", 3, SVG_ESC_ASCII, "abc...");
    expect_escape("abc", 3, 0, "abc");
    expect_escape("", 0, 0, "");
    char *out = NULL;
    CAPTURE(out, xml_puts(f, "<x y='1'>"));
    assert_string_equal(out, "&lt;x y=&apos;1&apos;&gt;");
    free(out);
}

static void test_svg_elements(void **state)
{
    (void)state;
    char *out = NULL;
    CAPTURE(out, svg_rect(f, 1, 2.5, 3, 4, "#fff", "#000", "a<b"));
    assert_string_equal(out, "<rect x=\"1.00\" y=\"2.50\" width=\"3.00\" height=\"4.00\" fill=\"#fff\" "
                             "stroke=\"#000\" stroke-width=\"0.6\"><title>a&lt;b</title></rect>\n");
    free(out);
    CAPTURE(out, svg_rect(f, 0, 0, 1, 1, "none", NULL, NULL));
    assert_string_equal(out, "<rect x=\"0.00\" y=\"0.00\" width=\"1.00\" height=\"1.00\" fill=\"none\"/>\n");
    free(out);
    CAPTURE(out, svg_line(f, 0, 1, 2, 3, "#111", 2, true));
    assert_string_equal(out, "<line x1=\"0.00\" y1=\"1.00\" x2=\"2.00\" y2=\"3.00\" stroke=\"#111\" "
                             "stroke-width=\"2.0\" stroke-dasharray=\"4 3\"/>\n");
    free(out);
    CAPTURE(out, svg_text(f, 5, 6, "end", 10, true, "#222", "%d & %s", 7, "x"));
    assert_string_equal(out, "<text x=\"5.00\" y=\"6.00\" font-family=\"" SVG_MONO "\" font-size=\"10.0\" "
                             "fill=\"#222\" text-anchor=\"end\">7 &amp; x</text>\n");
    free(out);
    CAPTURE(out, svg_text(f, 0, 0, NULL, 9, false, "#000", "t"));
    assert_string_equal(out, "<text x=\"0.00\" y=\"0.00\" font-family=\"" SVG_FONT "\" font-size=\"9.0\" "
                             "fill=\"#000\">t</text>\n");
    free(out);
    CAPTURE(out, svg_polyline_begin(f, "#1f77b4", "1.2", "5,3"); svg_polyline_point(f, 1, 2.25);
            svg_polyline_point(f, 3.04, 4); svg_polyline_end(f));
    assert_string_equal(out, "<polyline fill='none' stroke='#1f77b4' stroke-width='1.2' "
                             "stroke-dasharray='5,3' points='1.0,2.2 3.0,4.0 '/>\n");
    free(out);
    CAPTURE(out, svg_begin(f, 10, 20, "t&"); svg_end(f));
    assert_non_null(strstr(out, "<title>t&amp;</title>"));
    assert_non_null(strstr(out, "viewBox=\"0 0 10 20\""));
    assert_true(strlen(out) > 7 && !strcmp(out + strlen(out) - 7, "</svg>\n"));
    free(out);
}

static void test_bytes(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(human_bytes(0, b, sizeof b), "0 B");
    assert_string_equal(human_bytes(1023, b, sizeof b), "1023 B");
    assert_string_equal(human_bytes(1536, b, sizeof b), "1.5 KiB");
    assert_string_equal(human_bytes(12u << 20, b, sizeof b), "12.0 MiB");
    assert_string_equal(human_bytes(UINT64_MAX, b, sizeof b), "16777216.0 TiB");
    assert_string_equal(short_bytes(48, b, sizeof b), "48");
    assert_string_equal(short_bytes(9999, b, sizeof b), "9999");
    assert_string_equal(short_bytes(12800, b, sizeof b), "12.5K");
    assert_string_equal(short_bytes(300 * 1024, b, sizeof b), "300K");
    assert_string_equal(short_bytes(12u << 20, b, sizeof b), "12.0M");
}

/* ---- /proc ------------------------------------------------------------ */

/* A stat line with `name` as the command and fields 3.. as given. */
static const char *stat_line(const char *name, int last_field)
{
    static char buf[2048];
    int n = snprintf(buf, sizeof buf, "4242 (%s) S", name);
    for (int field = 4; field <= last_field; field++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %d", field == 22 ? 987654 : field == 47 ? 5555 : field);
    snprintf(buf + n, sizeof buf - (size_t)n, "\n");
    return buf;
}

static void test_proc_stat_parse(void **state)
{
    (void)state;
    struct gh_proc_stat st;
    assert_true(gh_proc_stat_parse(stat_line("cat", 52), &st));
    assert_int_equal(st.state, 'S');
    assert_int_equal(st.start_ticks, 987654);
    assert_int_equal(st.start_brk, 5555);
    /* a command name with spaces and ')' */
    assert_true(gh_proc_stat_parse(stat_line("a) b ) (c", 52), &st));
    assert_int_equal(st.start_ticks, 987654);
    assert_int_equal(st.start_brk, 5555);
    /* field 47 missing: still parsed, start_brk 0 */
    assert_true(gh_proc_stat_parse(stat_line("x", 30), &st));
    assert_int_equal(st.start_ticks, 987654);
    assert_int_equal(st.start_brk, 0);
    /* field 22 missing, no ')', garbage start time */
    assert_false(gh_proc_stat_parse(stat_line("x", 21), &st));
    assert_false(gh_proc_stat_parse("4242 cat S 1 2 3", &st));
    assert_false(gh_proc_stat_parse("", &st));
    char bad[2048];
    snprintf(bad, sizeof bad, "%s", stat_line("x", 30));
    char *p = strstr(bad, " 987654");
    assert_non_null(p);
    p[1] = 'z';
    assert_false(gh_proc_stat_parse(bad, &st));
    /* a zombie's state */
    snprintf(bad, sizeof bad, "%s", stat_line("z", 30));
    *strchr(bad, 'S') = 'Z';
    assert_true(gh_proc_stat_parse(bad, &st));
    assert_int_equal(st.state, 'Z');
}

static void test_proc_self(void **state)
{
    (void)state;
    struct gh_proc_stat self, mine;
    assert_int_equal(gh_proc_stat_read(0, &self), 1);
    assert_int_equal(gh_proc_stat_read(getpid(), &mine), 1);
    assert_int_equal(self.start_ticks, mine.start_ticks);
    assert_true(self.start_ticks > 0);
    assert_int_equal(self.state, 'R');
    assert_true(gh_proc_alive(getpid()));
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_true(child > 0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_int_equal(gh_proc_stat_read(child, &mine), 0);
    assert_false(gh_proc_alive(child));

    struct gh_proc_map *maps;
    size_t n;
    assert_true(gh_proc_maps_read(getpid(), &maps, &n));
    bool stack = false;
    for (size_t i = 0; i < n; i++) {
        assert_true(maps[i].end > maps[i].start);
        stack |= !strcmp(maps[i].path, "[stack]");
    }
    assert_true(stack);
    gh_proc_maps_free(maps, n);
}

static void test_proc_maps_line(void **state)
{
    (void)state;
    struct gh_proc_map m;
    char *path;
    char a[] = "7f00a000-7f00b000 r-xp 00002000 08:01 1234   /usr/lib/libc.so.6\n";
    assert_true(gh_proc_maps_line(a, &m, &path));
    assert_int_equal(m.start, 0x7f00a000);
    assert_int_equal(m.end, 0x7f00b000);
    assert_int_equal(m.offset, 0x2000);
    assert_int_equal(m.inode, 1234);
    assert_string_equal(m.perms, "r-xp");
    assert_string_equal(path, "/usr/lib/libc.so.6");
    char b[] = "1000-2000 rw-p 00000000 00:00 0\n";
    assert_true(gh_proc_maps_line(b, &m, &path));
    assert_string_equal(path, "");
    char c[] = "2000-1000 rw-p 00000000 00:00 0 [heap]\n";   /* end before start */
    assert_false(gh_proc_maps_line(c, &m, &path));
    char d[] = "zzzz\n";
    assert_false(gh_proc_maps_line(d, &m, &path));
}

/* ---- the clock -------------------------------------------------------- */

static void test_clock(void **state)
{
    (void)state;
    uint64_t prev = gh_now_ns();
    for (int i = 0; i < 10000; i++) {
        uint64_t now = gh_now_ns();
        assert_true(now >= prev);
        prev = now;
    }
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    uint64_t a = gh_now_ns();
    double as = gh_now_s();
    nanosleep(&ts, NULL);
    assert_true(gh_now_ns() - a >= 20u * 1000 * 1000);
    assert_true(gh_now_s() - as >= 0.019);
}

/* ---- trace files ------------------------------------------------------- */

static char g_dir[] = "/tmp/gh_tools_lib.XXXXXX";

static const char *tpath(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

static void write_text(const char *name, const char *text)
{
    FILE *f = fopen(tpath(name), "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The same operations; with `ids`, on the same ids too (a binary trace
 * names blocks by address, and loading one reuses freed ids). */
static void expect_same_ops(const struct tf_trace *a, const struct tf_trace *b, bool ids)
{
    assert_int_equal(a->n, b->n);
    if (ids)
        assert_int_equal(a->nids, b->nids);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->ops[i].kind, b->ops[i].kind);
        if (ids)
            assert_int_equal(a->ops[i].id, b->ops[i].id);
        assert_int_equal(a->ops[i].size, b->ops[i].size);
    }
}

static void test_trace_round_trip(void **state)
{
    (void)state;
    write_text("in.rep", "4096\n3\n6\n1\na 0 16\na 1 200000\nr 0 64\nf 1\na 2 8\nf 0\n");
    struct tf_trace rep, bin, back;
    char err[512];
    assert_int_equal(tf_load(tpath("in.rep"), &rep, err, sizeof err), TF_OK);
    assert_int_equal(rep.format, TF_REP);
    assert_int_equal(rep.n, 6);
    assert_int_equal(rep.rep_heap, 4096);
    assert_int_equal(tf_peak_live(&rep), 200064);

    FILE *f = fopen(tpath("out.bin"), "wb");
    assert_non_null(f);
    assert_true(tf_write_binary(f, &rep, "in.rep"));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(tf_load(tpath("out.bin"), &bin, err, sizeof err), TF_OK);
    assert_int_equal(bin.format, TF_BINARY);
    assert_string_equal(tf_format_name(&bin), "binary");
    assert_string_equal(bin.cmdline, "converted from in.rep");
    assert_int_equal(bin.mmap_threshold, TF_DEFAULT_MMAP_THRESHOLD);
    expect_same_ops(&rep, &bin, false);
    assert_int_equal(bin.nids, 2);                 /* id 1, freed, named the third block */
    assert_int_equal(bin.ops[4].id, 1);

    f = fopen(tpath("back.rep"), "w");
    assert_non_null(f);
    uint64_t aligned = 0;
    assert_true(tf_write_rep(f, &bin, &aligned));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(aligned, 0);
    assert_int_equal(tf_load(tpath("back.rep"), &back, err, sizeof err), TF_OK);
    assert_int_equal(back.rep_heap, 200064);   /* a binary trace's heap: its peak live */
    expect_same_ops(&bin, &back, true);
    tf_free(&rep);
    tf_free(&bin);
    tf_free(&back);

    /* a bad trace names its line; a missing file is TF_NOFILE */
    write_text("bad.rep", "0\n2\n2\n1\na 0 16\nf 1\n");
    assert_int_equal(tf_load(tpath("bad.rep"), &rep, err, sizeof err), TF_BAD);
    assert_non_null(strstr(err, "bad.rep:6:"));
    assert_int_equal(tf_load(tpath("none"), &rep, err, sizeof err), TF_NOFILE);

    uint64_t v;
    assert_true(tf_parse_bytes("128K", &v));
    assert_int_equal(v, 128 * 1024);
    assert_true(tf_parse_bytes("3g", &v));
    assert_int_equal(v, 3ull << 30);
    assert_false(tf_parse_bytes("12Q", &v));
    assert_false(tf_parse_bytes("", &v));
    assert_false(tf_parse_bytes("99999999999999999999", &v));
    assert_false(tf_parse_bytes("17179869184G", &v));   /* 2^34 G overflows */
}

/* ---- the exit summary ------------------------------------------------- */

/* The shape alloc/stats.c writes. */
static const char SUMMARY[] =
    "{\"glassheap\":\"" GLASSHEAP_VERSION "\",\"pid\":77,\"policy\":\"best\",\"mmap_threshold\":266240,"
    "\"mmap_threshold_dynamic\":1,\"mmap_threshold_rises\":2,"
    "\"calls\":{\"malloc\":10,\"calloc\":0,\"realloc\":2,\"free\":9,\"aligned\":0,\"failed\":0,"
    "\"realloc_in_place\":1,\"realloc_moved\":1},"
    "\"heap\":{\"live_requested\":5,\"live_block_bytes\":32,\"live_blocks\":1,\"free_bytes\":400,"
    "\"free_blocks\":2,\"largest_free\":300,\"heap_bytes\":4096,\"overhead_bytes\":64,"
    "\"peak_requested\":2000,\"peak_heap_bytes\":8192,\"regions_added\":0,\"trims\":0,\"trimmed_bytes\":0},"
    "\"large\":{\"live_blocks\":0,\"live_bytes\":0,\"live_requested\":0,\"peak_bytes\":262144,"
    "\"cached_blocks\":1,\"cached_bytes\":135168,\"reused\":4},"
    "\"os\":{\"brk_calls\":3,\"brk_grow_bytes\":8192,\"brk_shrink_bytes\":0,\"mmap_calls\":4,"
    "\"mmap_bytes\":0,\"munmap_calls\":0,\"mremap_calls\":0,\"mremap_bytes\":0,\"madvise_calls\":0}}\n";

static void test_summary(void **state)
{
    (void)state;
    struct gh_summary s;
    assert_true(gh_summary_parse(SUMMARY, strlen(SUMMARY), &s));
    assert_string_equal(s.policy, "best");
    assert_int_equal(s.peak_heap_bytes, 8192);
    assert_int_equal(s.peak_requested, 2000);
    assert_int_equal(s.brk_calls, 3);
    assert_int_equal(s.mmap_calls, 4);
    assert_int_equal(s.peak_large_bytes, 262144);
    assert_true(s.have_free);
    assert_int_equal(s.free_bytes, 400);
    assert_int_equal(s.largest_free, 300);
    assert_true(s.have_calls);
    assert_int_equal(s.malloc_calls, 10);
    assert_int_equal(s.free_calls, 9);
    assert_true(s.have_threshold && s.threshold_dynamic);
    assert_int_equal(s.mmap_threshold, 266240);
    assert_int_equal(s.threshold_rises, 2);
    assert_true(s.have_cache);
    assert_int_equal(s.cached_bytes, 135168);
    assert_int_equal(s.reused, 4);

    /* a key of the same name elsewhere must not be taken (the old substring
     * search found "peak_heap_bytes" anywhere before the closing brace) */
    const char *moved = "{\"x\":{\"peak_heap_bytes\":1},\"heap\":{\"peak_requested\":1},"
                        "\"os\":{\"brk_calls\":1,\"mmap_calls\":1}}";
    assert_false(gh_summary_parse(moved, strlen(moved), &s));
    const char *nested = "{\"heap\":{\"inner\":{\"a\":1},\"peak_heap_bytes\":7,\"peak_requested\":1},"
                         "\"os\":{\"brk_calls\":1,\"mmap_calls\":1},\"policy\":5}";
    assert_true(gh_summary_parse(nested, strlen(nested), &s));
    assert_int_equal(s.peak_heap_bytes, 7);
    assert_string_equal(s.policy, "");            /* not a string */
    assert_false(s.have_free);
    assert_false(s.have_calls);
    assert_false(s.have_threshold);
    assert_false(s.have_cache);
    assert_int_equal(s.peak_large_bytes, 0);
    const char *bad[] = {
        "", "not json", "[1,2]", "{\"heap\":{}}",
        "{\"heap\":{\"peak_heap_bytes\":-1,\"peak_requested\":1},\"os\":{\"brk_calls\":1,\"mmap_calls\":1}}",
        "{\"heap\":{\"peak_heap_bytes\":\"9\",\"peak_requested\":1},\"os\":{\"brk_calls\":1,\"mmap_calls\":1}}",
        "{\"heap\":{\"peak_heap_bytes\":1.5,\"peak_requested\":1},\"os\":{\"brk_calls\":1,\"mmap_calls\":1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(gh_summary_parse(bad[i], strlen(bad[i]), &s));
        assert_int_equal(s.peak_heap_bytes, 0);
    }
    /* cut anywhere: never a crash, never half a summary */
    for (size_t len = 0; len < strlen(SUMMARY) - 2; len++)
        assert_false(gh_summary_parse(SUMMARY, len, &s));

    write_text("summary.json", SUMMARY);
    assert_true(gh_summary_read(tpath("summary.json"), &s));
    assert_int_equal(s.mmap_calls, 4);
    assert_false(gh_summary_read(tpath("missing.json"), &s));
}

/* ---- the heap-map model ----------------------------------------------- */

static struct gh_shm_block *blocks_of(const struct gh_shm_block *v, size_t n)
{
    struct gh_shm_block *b = malloc(n * sizeof *b);
    assert_non_null(b);
    memcpy(b, v, n * sizeof *b);
    return b;
}

static void test_heapmap(void **state)
{
    (void)state;
    const struct gh_shm_block in[] = {
        { 0x1100, 0x100, 0, GH_SHM_BLOCK_FREE, 0 },
        { 0x1020, 0x0e0, 0x50, GH_SHM_BLOCK_USED, 0 },
        { 0x1080, 0x020, 0x10, GH_SHM_BLOCK_USED, 0 },     /* overlaps: dropped */
        { 0x9020, 0x100, 0x400, GH_SHM_BLOCK_USED, 1 },    /* request > size: the size */
        { 0x9200, 0, 0, GH_SHM_BLOCK_FREE, 1 },            /* empty: dropped */
        { UINT64_MAX - 8, 0x100, 0, GH_SHM_BLOCK_FREE, 1 },/* wraps: dropped */
    };
    struct heapmap m;
    /* bounds that agree: record 0x20, marker 0x10 */
    assert_int_equal(hm_build(blocks_of(in, 6), 6, 6, 16, true, 0x1000, 0x9130, &m), GHR_OK);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.total, 6);
    assert_int_equal(m.blocks[0].addr, 0x1020);
    assert_int_equal(m.blocks[1].addr, 0x1100);
    assert_int_equal(m.blocks[2].requested, 0x100);
    assert_int_equal(m.nregions, 2);
    assert_int_equal(m.heap_start, 0x1000);
    assert_int_equal(m.regions[0].start, 0x1000);
    assert_int_equal(m.regions[0].end, 0x1200 + 16);
    assert_int_equal(m.regions[0].first, 0);
    assert_int_equal(m.regions[0].n, 2);
    assert_int_equal(m.regions[1].start, 0x9000);
    /* truncated map (total > n): the last region ends at its marker */
    assert_int_equal(m.regions[1].end, 0x9120 + 16);
    hm_free(&m);

    assert_int_equal(hm_build(blocks_of(in, 2), 2, 2, 16, true, 0x1000, 0x1210, &m), GHR_OK);
    assert_int_equal(m.heap_end, 0x1210);          /* bounds agree: the writer's end */
    hm_free(&m);
    /* bounds that disagree with the blocks are dropped */
    assert_int_equal(hm_build(blocks_of(in, 2), 2, 2, 16, true, 0x5000, 0x100, &m), GHR_OK);
    assert_int_equal(m.heap_start, 0x1020);
    assert_int_equal(m.heap_end, 0x1200 + 16);
    hm_free(&m);
    assert_int_equal(hm_build(blocks_of(in, 2), 2, 2, 16, false, 0, 0, &m), GHR_OK);
    assert_int_equal(m.heap_start, 0x1020);
    hm_free(&m);
    /* nothing left */
    assert_int_equal(hm_build(blocks_of(in + 4, 1), 1, 0, 16, true, 0, 0, &m), GHR_OK);
    assert_int_equal(m.n, 0);
    assert_int_equal(m.nregions, 0);
    assert_int_equal(m.total, 0);
    hm_free(&m);
}

/* A walk's result made into the map model and laid over the counters. */
static void test_heapmap_walked(void **state)
{
    (void)state;
    const struct gh_shm_block in[] = {
        { 0x1030, 0x40, 0x20, GH_SHM_BLOCK_USED, 0 },
        { 0x1070, 0x80, 0, GH_SHM_BLOCK_FREE, 0 },
        { 0x9030, 0x40, 0x30, GH_SHM_BLOCK_USED, 2 },
    };
    struct ghw_heap w;
    memset(&w, 0, sizeof w);
    w.blocks = blocks_of(in, 3);
    w.n = 3;
    w.total = 3;
    w.nregions = 3;
    w.regions = calloc(3, sizeof *w.regions);
    assert_non_null(w.regions);
    w.regions[0] = (struct ghw_region){ .base = 0x1000, .len = 0x100, .first = 0, .n = 2, .blocks = 2 };
    w.regions[1] = (struct ghw_region){ .base = 0x5000, .len = 0x40, .first = 2, .n = 0, .blocks = 0 };
    w.regions[2] = (struct ghw_region){ .base = 0x9000, .len = 0x80, .first = 2, .n = 1, .blocks = 1 };
    struct heapmap m;
    assert_int_equal(hm_from_walk(&w, &m), GHR_OK);
    assert_null(w.blocks);                         /* taken over */
    assert_int_equal(m.n, 3);
    assert_int_equal(m.nregions, 2);               /* a region without blocks is not drawn */
    assert_int_equal(m.regions[0].start, 0x1000);
    assert_int_equal(m.regions[0].end, 0x1100);    /* exact, not derived */
    assert_int_equal(m.regions[1].start, 0x9000);
    assert_int_equal(m.regions[1].first, 2);
    assert_int_equal(m.heap_start, 0x1000);
    assert_int_equal(m.heap_end, 0x9080);
    hm_free(&m);
    ghw_free(&w);

    /* the walk's figures over the counters; hardened, the quarantine apart */
    memset(&w, 0, sizeof w);
    w.used_blocks = 10;
    w.used_bytes = 1000;
    w.live_requested = 800;
    w.free_blocks = 2;
    w.free_bytes = 300;
    w.largest_free = 200;
    w.heap_bytes = 1400;
    w.overhead_bytes = 100;
    w.nregions = 1;
    w.free_hist[7] = 2;
    struct gh_shm_counters c;
    memset(&c, 0, sizeof c);
    c.malloc_calls = 42;
    c.harden_on = 1;
    c.quarantined_blocks = 3;
    c.quarantined_bytes = 240;
    c.quarantined_requested = 2000;                /* more than walked: clamped */
    c.cached_blocks = 5;                           /* published: may be stale, dropped */
    hm_overlay_counters(&w, &c, false);
    assert_int_equal(c.cached_blocks, 0);
    assert_int_equal(c.malloc_calls, 42);          /* calls stay the segment's */
    assert_int_equal(c.live_blocks, 7);
    assert_int_equal(c.live_block_bytes, 760);
    assert_int_equal(c.live_requested, 0);
    assert_int_equal(c.live_block_bytes + c.quarantined_bytes + c.free_bytes + c.overhead_bytes, c.heap_bytes);
    assert_int_equal(c.free_hist[7], 2);
    assert_int_equal(c.largest_free, 200);
    /* cached figures read in place: they leave the walk's used blocks */
    struct gh_shm_counters k;
    memset(&k, 0, sizeof k);
    k.cached_blocks = 2;
    k.cached_bytes = 96;
    k.cached_requested = 1u << 30;                 /* more than walked: clamped */
    hm_overlay_counters(&w, &k, true);
    assert_int_equal(k.cached_blocks, 2);
    assert_int_equal(k.live_blocks, w.used_blocks - 2);
    assert_int_equal(k.live_block_bytes, w.used_bytes - 96);
    assert_int_equal(k.cached_requested, w.live_requested);
    assert_int_equal(k.live_requested, 0);
    assert_int_equal(k.live_block_bytes + k.cached_bytes + k.free_bytes + k.overhead_bytes, k.heap_bytes);

    const struct gh_shm_large_block large[] = { { 0x100010, 0x100000, 0x3000, 0x2000 },
                                                { 0x200010, 0x200000, 0x5000, 0x4000 } };
    hm_overlay_large(large, 2, 2, &c);
    assert_int_equal(c.large_blocks, 2);
    assert_int_equal(c.large_bytes, 0x8000);
    assert_int_equal(c.large_requested, 0x6000);
    hm_overlay_large(large, 1, 5, &c);             /* a full list: only the count */
    assert_int_equal(c.large_blocks, 5);
    assert_int_equal(c.large_bytes, 0x8000);

    enum hm_mode mode;
    assert_true(hm_parse_mode("outside", &mode) && mode == HM_OUTSIDE);
    assert_true(hm_parse_mode("process", &mode) && mode == HM_REQUEST);
    assert_true(hm_parse_mode("auto", &mode) && mode == HM_AUTO);
    assert_false(hm_parse_mode("inside", &mode));
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = { "in.rep", "out.bin", "back.rep", "bad.rep", "summary.json" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tpath(names[i]));
    return rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_svg_elements),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_proc_stat_parse),
        cmocka_unit_test(test_proc_self),
        cmocka_unit_test(test_proc_maps_line),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_trace_round_trip),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_heapmap),
        cmocka_unit_test(test_heapmap_walked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
