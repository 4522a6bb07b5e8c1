/* map_svg.c - `glassheap map --svg`: a handout picture: wrapped rows of a
 * fixed number of bytes, blocks to scale, address labels at both ends of
 * each row, block sizes on the blocks wide enough to hold them, a legend,
 * a strip of the large blocks the segment lists (when it lists any), and
 * a caption with the policy and the fragmentation figures.
 */
#define SVG_ARENAS_SHOWN 16u   /* arenas summed up one per line under the map */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "cli.h"
#include "outfile.h"
#include "map.h"
#include "svg.h"

#define SVG_DEFAULT_ROWS   24

/* ---- SVG --------------------------------------------------------------- */

#define SVG_W        1000.0
#define SVG_X0       150.0   /* band's left edge */
#define SVG_BW       720.0   /* band width */
#define SVG_TOP      78.0
#define SVG_BAND_H   26.0
#define SVG_ROW_GAP  12.0
#define SVG_NOTE_H   20.0
#define SVG_MIN_ROW  256u    /* bytes in one row, at least */
#define SVG_COLUMNS  720u    /* pixel columns of a band (SVG_BW) */
#define SVG_MIN_OUTLINE 2.0  /* blocks narrower than this get no outline */

static const char *const svg_fill[K_KINDS] = { "#f2f2f2", "#4e79a7", "#f28e2b", "#ffffff", "#b07aa1" };
#define SVG_OUTLINE "#333333"
#define SVG_REGION_MARK "#c0102a"

struct svgmap {
    const struct view *v;
    struct rows g;
    FILE *out;             /* NULL: count lines only */
    double y;
    long prev_piece;       /* piece covering the whole previous row, or -1 */
    uint64_t folded;
    uint64_t lines;
    uint64_t limit;
};

/* The piece covering all of [a, a + len), or -1. */
static long covering_piece(const struct view *v, uint64_t a, uint64_t len)
{
    size_t p = map_piece_at(v, a);
    if (p < v->npieces && v->pieces[p].start <= a && v->pieces[p].end >= a + len)
        return (long)p;
    return -1;
}

static double svg_x(const struct svgmap *s, uint64_t row_a, uint64_t a)
{
    return SVG_X0 + (double)(a - row_a) * SVG_BW / (double)s->g.row_bytes;
}

static void svg_flush_folded(struct svgmap *s)
{
    if (!s->folded)
        return;
    s->lines++;
    if (s->out) {
        char b[32];
        const struct piece *p = &s->v->pieces[s->prev_piece];
        svg_text(s->out, SVG_X0 + SVG_BW / 2, s->y + 13, "middle", 11, false, "#555555",
                 "... %llu more row%s inside this %s (%s) ...", (unsigned long long)s->folded,
                 s->folded == 1 ? "" : "s",
                 p->kind == K_FREE     ? "free block"
                 : p->kind == K_USED   ? "used block"
                 : p->kind == K_CACHED ? "cached block"
                                       : "run",
                 cli_bytes(s->folded * s->g.row_bytes, b, sizeof b));
    }
    s->y += SVG_NOTE_H;
    s->folded = 0;
}

/* Fills of one row: one rect per piece, or, when the row holds more pieces
 * than it has pixels, one rect per run of pixel columns of the same
 * dominant kind (the picture stays small for a big heap). */
static void svg_row_fills(const struct svgmap *s, uint64_t a, double y)
{
    const struct view *v = s->v;
    uint64_t e = a + s->g.row_bytes;
    size_t first = map_piece_at(v, a), count = 0;
    for (size_t p = first; p < v->npieces && v->pieces[p].start < e && count <= SVG_COLUMNS; p++)
        count++;
    if (count <= SVG_COLUMNS) {
        for (size_t p = first; p < v->npieces && v->pieces[p].start < e; p++) {
            const struct piece *pc = &v->pieces[p];
            uint64_t s0 = pc->start > a ? pc->start : a, s1 = pc->end < e ? pc->end : e;
            svg_rect(s->out, svg_x(s, a, s0), y, svg_x(s, a, s1) - svg_x(s, a, s0), SVG_BAND_H,
                     svg_fill[pc->kind], NULL, NULL);
        }
        return;
    }
    size_t p = first;
    unsigned run_start = 0;
    enum kind run = K_NONE;
    for (unsigned c = 0; c <= SVG_COLUMNS; c++) {
        enum kind k = K_NONE;
        if (c < SVG_COLUMNS) {
            uint64_t lo = a + s->g.row_bytes * c / SVG_COLUMNS, hi = a + s->g.row_bytes * (c + 1) / SVG_COLUMNS;
            k = hi > lo ? map_dominant(v, &p, lo, hi) : run;
        }
        if (c == SVG_COLUMNS || (c > 0 && k != run)) {
            if (run != K_NONE)
                svg_rect(s->out, SVG_X0 + SVG_BW * run_start / SVG_COLUMNS, y,
                         SVG_BW * (c - run_start) / SVG_COLUMNS, SVG_BAND_H, svg_fill[run], NULL, NULL);
            run_start = c;
        }
        run = k;
    }
}

static void svg_draw_row(struct svgmap *s, uint64_t a)
{
    FILE *f = s->out;
    const struct view *v = s->v;
    uint64_t e = a + s->g.row_bytes;
    double y = s->y;
    char lab[64], tip[160], sz[32];
    svg_rect(f, SVG_X0, y, SVG_BW, SVG_BAND_H, svg_fill[K_NONE], "#bbbbbb", NULL);
    svg_row_fills(s, a, y);
    /* outlines, tooltips and size labels, one per block (or region
     * overhead) wide enough to see */
    for (size_t p = map_piece_at(v, a); p < v->npieces && v->pieces[p].start < e;) {
        const struct piece *pc = &v->pieces[p];
        uint64_t bs = pc->start, be = pc->end;
        size_t q = p + 1;
        const struct gh_shm_block *b = NULL;
        if (pc->block >= 0) {
            b = &v->map.blocks[pc->block];
            bs = b->addr;
            be = b->addr + b->size;
            while (q < v->npieces && v->pieces[q].block == pc->block)
                q++;
        }
        p = q;
        uint64_t s0 = bs > a ? bs : a, s1 = be < e ? be : e;
        double x0 = svg_x(s, a, s0), x1 = svg_x(s, a, s1);
        if (x1 - x0 < SVG_MIN_OUTLINE)
            continue;
        char ad[32];
        if (!b)
            snprintf(tip, sizeof tip, "region record / end marker: %llu bytes", (unsigned long long)(be - bs));
        else if (b->state == GH_SHM_BLOCK_CACHED)
            snprintf(tip, sizeof tip, "cached block at %s (freed, kept by a thread): %llu bytes",
                     map_addr_str(v, b->addr, ad, sizeof ad), (unsigned long long)b->size);
        else if (b->state == GH_SHM_BLOCK_USED)
            snprintf(tip, sizeof tip, "used block at %s: %llu bytes, %llu requested",
                     map_addr_str(v, b->addr, ad, sizeof ad), (unsigned long long)b->size,
                     (unsigned long long)b->requested);
        else
            snprintf(tip, sizeof tip, "free block at %s: %llu bytes", map_addr_str(v, b->addr, ad, sizeof ad),
                     (unsigned long long)b->size);
        svg_rect(f, x0, y, x1 - x0, SVG_BAND_H, "none", SVG_OUTLINE, tip);
        if (b) {
            short_bytes(be - bs, sz, sizeof sz);
            if (svg_text_width(sz, 9, false) + 4 <= x1 - x0)
                svg_text(f, (x0 + x1) / 2, y + SVG_BAND_H / 2 + 3.5, "middle", 9, false,
                         b->state == GH_SHM_BLOCK_FREE ? "#333333" : "#ffffff", "%s", sz);
        }
    }
    /* where a region starts (regions can be adjacent: nothing else shows it) */
    for (size_t r = 1; r < v->map.nregions; r++) {
        uint64_t rs = v->map.regions[r].start;
        if (rs >= a && rs < e)
            svg_line(f, svg_x(s, a, rs), y - 4, svg_x(s, a, rs), y + SVG_BAND_H + 4, SVG_REGION_MARK, 2, false);
    }
    /* where an arena's regions begin (several arenas: each one named) */
    bool multi = false;
    for (size_t r = 1; v->map.arenas_known && r < v->map.nregions && !multi; r++)
        multi = v->map.regions[r].arena != v->map.regions[0].arena;
    for (size_t r = 0; multi && r < v->map.nregions; r++) {
        const struct hm_region *g = &v->map.regions[r];
        bool first = r == 0 || v->map.regions[r - 1].arena != g->arena;
        if (first && g->start >= a && g->start < e)
            svg_text(f, svg_x(s, a, g->start) + 3, y - 3, "start", 9, false, "#333333", "arena %u", g->arena);
    }
    svg_text(f, SVG_X0 - 6, y + SVG_BAND_H / 2 + 4, "end", 10, true, "#222222", "%s", map_addr_str(v, a, lab, sizeof lab));
    svg_text(f, SVG_X0 + SVG_BW + 6, y + SVG_BAND_H / 2 + 4, "start", 10, true, "#222222", "%s",
             map_addr_str(v, e, lab, sizeof lab));
}

static bool svg_row(void *ctx, uint64_t row, uint64_t gap)
{
    struct svgmap *s = ctx;
    uint64_t a = map_row_start(&s->g, row);
    if (gap) {
        svg_flush_folded(s);
        s->prev_piece = -1;
        s->lines++;
        if (s->out) {
            char b[32];
            svg_line(s->out, SVG_X0, s->y + 10, SVG_X0 + SVG_BW, s->y + 10, "#999999", 1, true);
            svg_text(s->out, SVG_X0 + SVG_BW / 2, s->y + 6, "middle", 10, false, "#555555", "%s not heap",
                     cli_bytes(gap, b, sizeof b));
        }
        s->y += SVG_NOTE_H;
    }
    long cover = covering_piece(s->v, a, s->g.row_bytes);
    if (cover >= 0 && cover == s->prev_piece) {
        s->folded++;
        return true;
    }
    svg_flush_folded(s);
    s->lines++;
    if (s->out)
        svg_draw_row(s, a);
    s->y += SVG_BAND_H + SVG_ROW_GAP;
    s->prev_piece = cover;
    return !s->limit || s->lines <= s->limit;
}

static uint64_t svg_lines(struct svgmap *s)
{
    s->lines = 0;
    s->folded = 0;
    s->prev_piece = -1;
    s->y = SVG_TOP;
    map_each_row(s->v, &s->g, svg_row, s);
    svg_flush_folded(s);
    return s->lines;
}

static void svg_legend(FILE *f, double y, bool regions, bool cached)
{
    static const struct {
        enum kind k;
        const char *text;
    } items[] = {
        { K_USED, "used: requested bytes" },
        { K_WASTE, "header / padding (overhead)" },
        { K_FREE, "free block" },
        { K_CACHED, "cached in a thread (freed)" },
        { K_NONE, "not heap" },
    };
    double x = SVG_X0;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        if (items[i].k == K_CACHED && !cached)
            continue;
        svg_rect(f, x, y - 10, 14, 12, svg_fill[items[i].k], SVG_OUTLINE, NULL);
        svg_text(f, x + 19, y, "start", 11, false, "#222222", "%s", items[i].text);
        x += 34 + svg_text_width(items[i].text, 11, false);
    }
    if (regions) {
        svg_line(f, x + 7, y - 12, x + 7, y + 3, SVG_REGION_MARK, 2, false);
        svg_text(f, x + 19, y, "start", 11, false, "#222222", "region start");
    }
}

#define SVG_LARGE_H (18.0 + SVG_BAND_H + SVG_ROW_GAP) /* label, band, gap */

/* The large blocks in one band of SVG_BW, each to scale against the
 * listed total: its requested bytes as used, the rest of its mapping as
 * overhead; past MAP_LARGE_SHOWN one box for the rest. */
static void svg_large(FILE *f, const struct view *v, double y)
{
    char b[32], tip[160], ad[32];
    svg_text(f, SVG_X0, y + 12, "start", 12, false, "#111111", "Large blocks (mmap, outside the heap): %zu, %s mapped",
             v->nlarge, cli_bytes(v->large_bytes, b, sizeof b));
    y += 18;
    svg_rect(f, SVG_X0, y, SVG_BW, SVG_BAND_H, svg_fill[K_NONE], "#bbbbbb", NULL);
    double x = SVG_X0, whole = v->large_bytes ? (double)v->large_bytes : 1.0;
    for (size_t i = 0; i < v->nlarge; i++) {
        const struct gh_shm_large_block *l = &v->large[i];
        if (i == MAP_LARGE_SHOWN) {
            uint64_t rest = 0;
            for (size_t j = i; j < v->nlarge; j++)
                rest += v->large[j].map_len;
            snprintf(tip, sizeof tip, "%zu more large blocks: %llu bytes", v->nlarge - i, (unsigned long long)rest);
            svg_rect(f, x, y, SVG_X0 + SVG_BW - x, SVG_BAND_H, svg_fill[K_WASTE], SVG_OUTLINE, tip);
            break;
        }
        double w = SVG_BW * (double)l->map_len / whole;
        double wr = l->map_len ? w * (double)l->requested / (double)l->map_len : 0;
        svg_rect(f, x, y, w, SVG_BAND_H, svg_fill[K_WASTE], NULL, NULL);
        svg_rect(f, x, y, wr, SVG_BAND_H, svg_fill[K_USED], NULL, NULL);
        if (v->relative)
            snprintf(ad, sizeof ad, "(mmap)");
        else
            snprintf(ad, sizeof ad, "0x%012llx", (unsigned long long)l->addr);
        snprintf(tip, sizeof tip, "large block at %s: %llu bytes mapped, %llu requested", ad,
                 (unsigned long long)l->map_len, (unsigned long long)l->requested);
        svg_rect(f, x, y, w, SVG_BAND_H, "none", SVG_OUTLINE, tip);
        short_bytes(l->map_len, b, sizeof b);
        if (svg_text_width(b, 9, false) + 4 <= w)
            svg_text(f, x + w / 2, y + SVG_BAND_H / 2 + 3.5, "middle", 9, false, "#ffffff", "%s", b);
        x += w;
    }
}

int map_write_svg(const struct view *v, const struct options *o)
{
    uint64_t target = o->rows ? (uint64_t)o->rows : SVG_DEFAULT_ROWS;
    uint64_t span = map_heap_bytes(v); /* rows without heap are folded: gaps cost nothing */
    struct svgmap s = { .v = v };
    uint64_t row_bytes = SVG_MIN_ROW;
    for (;; row_bytes *= 2) {
        s.g = (struct rows){ v->relative ? v->base : 0, row_bytes };
        if (span / row_bytes > target * 64)
            continue;
        s.limit = target;
        if (svg_lines(&s) <= target || row_bytes >= span)
            break;
    }
    s.limit = 0;
    svg_lines(&s);
    double rows_end = s.y, large_y = rows_end;
    if (v->nlarge)
        rows_end += SVG_LARGE_H;

    FILE *f = stdout;
    if (strcmp(o->svg, "-")) {
        int err;
        f = gh_outfile_fopen(o->svg, &err);
        if (!f) {
            cli_error("map: cannot write '%s': %s", o->svg, gh_outfile_strerror(err));
            return GH_EXIT_FAIL;
        }
    }
    uint64_t used, freeb;
    map_counts(v, &used, &freeb);
    bool trunc = v->map.total > v->map.n;
    struct map_arena ar[GH_SHM_ARENAS_CAPACITY];
    size_t nar = map_arenas(v, ar, GH_SHM_ARENAS_CAPACITY);
    size_t arena_lines = nar > 1 ? (nar > SVG_ARENAS_SHOWN ? SVG_ARENAS_SHOWN + 1 : nar) : 0;
    double height = rows_end + 90 + (trunc ? 17 : 0) + 17.0 * (double)arena_lines;
    char title[256], a[32], c[32];
    snprintf(title, sizeof title, "Heap map of %s (pid %d), policy %s", v->program, v->pid, v->cfg.policy);
    svg_begin(f, SVG_W, height, title);
    svg_text(f, SVG_X0, 28, "start", 16, false, "#111111", "%s", title);
    svg_legend(f, 54, v->map.nregions > 1, map_has_cached(v));
    if (!v->map.n)
        svg_text(f, SVG_X0, SVG_TOP + 16, "start", 12, false, "#555555", "(the heap is empty)");
    s.out = f;
    svg_lines(&s);
    if (v->nlarge)
        svg_large(f, v, large_y);
    double y = rows_end + 22;
    svg_text(f, SVG_X0, y, "start", 12, false, "#111111",
             "Policy %s. Heap: %s in %zu region%s; %llu blocks: %llu used, %llu free.", v->cfg.policy,
             cli_bytes(v->ctr.heap_bytes, a, sizeof a), v->map.nregions, v->map.nregions == 1 ? "" : "s",
             (unsigned long long)v->map.n, (unsigned long long)used, (unsigned long long)freeb);
    y += 17;
    svg_text(f, SVG_X0, y, "start", 12, false, "#111111",
             "Utilisation %.1f%% (requested / heap bytes). Internal fragmentation %.1f%% (1 - requested / used "
             "block bytes).",
             map_pct(v->frag.utilisation), map_pct(v->frag.internal));
    y += 17;
    svg_text(f, SVG_X0, y, "start", 12, false, "#111111",
             "External fragmentation %.1f%% (1 - largest free block / free bytes). Map %s.", map_pct(v->frag.external),
             ghw_source_name(v->outside));
    for (size_t k = 0; k < nar && nar > 1 && k < SVG_ARENAS_SHOWN; k++) {
        char lf[32];
        y += 17;
        svg_text(f, SVG_X0 + 12, y, "start", 12, false, "#111111",
                 "Arena %u: %s in %zu region%s; %llu used, %llu free blocks; largest free %s; external "
                 "fragmentation %.1f%%.", ar[k].arena, cli_bytes(ar[k].heap_bytes, a, sizeof a), ar[k].regions,
                 ar[k].regions == 1 ? "" : "s", (unsigned long long)ar[k].used_blocks,
                 (unsigned long long)ar[k].free_blocks, cli_bytes(ar[k].largest_free, lf, sizeof lf),
                 map_pct(map_arena_external(&ar[k])));
    }
    if (nar > SVG_ARENAS_SHOWN) {
        y += 17;
        svg_text(f, SVG_X0 + 12, y, "start", 12, false, "#111111", "and %zu more arenas (glassheap map --json lists "
                 "them all).", nar - SVG_ARENAS_SHOWN);
    }
    y += 17;
    svg_text(f, SVG_X0, y, "start", 12, false, "#111111",
             "Blocks to scale, one row = %s; labels: block sizes in bytes%s.", cli_bytes(row_bytes, c, sizeof c),
             v->relative ? "; addresses from the heap start" : "");
    if (trunc) {
        y += 18;
        svg_text(f, SVG_X0, y, "start", 12, false, "#aa0000",
                 "Truncated: the map holds %llu of the heap's %llu blocks; the rest are not drawn.",
                 (unsigned long long)v->map.n, (unsigned long long)v->map.total);
    }
    svg_end(f);
    bool bad = ferror(f) != 0;
    if (f != stdout)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    if (bad) {
        cli_error("map: writing '%s' failed", o->svg);
        return GH_EXIT_FAIL;
    }
    return GH_EXIT_OK;
}

