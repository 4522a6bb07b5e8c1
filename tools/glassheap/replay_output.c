/* replay_output.c - glassheap replay's reports: the table, --json, --svg.
 *
 * Owns: Johnstone & Wilson's four measures (1998, "The memory fragmentation
 * problem: solved?"), each written as memory used / memory live - 1:
 *   #1  mean heap over all operations / mean live over all operations
 *   #2  peak heap / live at the moment of peak heap
 *   #3  heap at the moment of peak live / peak live (the most live while
 *       the heap is at its peak)
 *   #4  peak heap / peak live
 * the internal and external fragmentation at peak live (glassheap/frag.h,
 * DESIGN.md's definitions), the peak utilisation (peak live / peak heap)
 * and the malloc-lab driver's (peak live / final heap), operations per
 * second, and how each is printed.  Live is the program's (replay.h).
 * Never: runs the replay (replay_sim.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "escape.h"
#include "glassheap/frag.h"
#include "outfile.h"
#include "replay.h"
#include "svg.h"

static double frag(long double used, long double live)
{
    return live > 0 ? (double)(used / live - 1) : 0.0;
}

static double jw1(const struct result *r)
{
    return frag(r->sum_heap, r->sum_live);
}

static double jw2(const struct result *r)
{
    return frag(r->c.peak_heap_bytes, r->live_at_peak_heap);
}

static double jw3(const struct result *r)
{
    return frag(r->heap_at_peak_live, r->peak_live);
}

static double jw4(const struct result *r)
{
    return frag(r->c.peak_heap_bytes, r->peak_live);
}

/* DESIGN.md's peak utilisation: peak live / peak heap. */
static double peak_util(const struct result *r)
{
    return gh_frag_value(gh_frag_utilisation(r->peak_live, r->c.peak_heap_bytes));
}

/* The malloc-lab driver's: peak live / the heap at the end. */
static double driver_util(const struct result *r)
{
    return gh_frag_value(gh_frag_utilisation(r->peak_live, r->c.heap_bytes));
}

uint64_t replay_buddy_chunk(const struct result *res, size_t nres)
{
    for (size_t i = 0; i < nres; i++)
        if (res[i].buddy_chunk)
            return res[i].buddy_chunk;
    return 0;
}

static double internal_frag(const struct snapshot *s)
{
    return gh_frag_value(gh_frag_internal(s->live_requested, s->live_block_bytes));
}

static double external_frag(const struct snapshot *s)
{
    return gh_frag_value(gh_frag_external(s->largest_free, s->free_bytes));
}

static double ops_per_s(const struct tf_trace *t, const struct result *r)
{
    return r->seconds > 0 ? (double)t->n / r->seconds : 0.0;
}

void replay_print_json(const struct tf_trace *t, const char *path, const struct replay_model *m,
                       const struct result *res, size_t nres)
{
    printf("{\"trace\":{\"file\":");
    cli_json_string(stdout, path);
    printf(",\"format\":\"%s\",\"operations\":%zu,\"ids\":%" PRIu32 ",\"failed_calls\":%" PRIu64,
           tf_format_name(t), t->n, t->nids, t->failed);
    if (m->mmap_threshold == UINT64_MAX)
        printf(",\"mmap_threshold\":null");
    else
        printf(",\"mmap_threshold\":%" PRIu64, m->mmap_threshold);
    if (t->format == TF_BINARY) {
        printf(",\"pid\":%" PRId32 ",\"policy\":", t->pid);
        cli_json_string(stdout, t->policy);
        printf(",\"cmdline\":");
        cli_json_string(stdout, t->cmdline);
    }
    printf("},\"model\":");
    replay_model_json(stdout, m, replay_buddy_chunk(res, nres));
    printf(",\"policies\":[");
    for (size_t i = 0; i < nres; i++) {
        const struct result *r = &res[i];
        const struct snapshot *a = &r->at_peak;
        printf("%s{\"policy\":\"%s\",\"peak_heap_bytes\":%" PRIu64 ",\"peak_requested\":%" PRIu64
               ",\"peak_requested_in_moves\":%" PRIu64 ",\"peak_block_bytes\":%" PRIu64
               ",\"peak_requested_total\":%" PRIu64,
               i ? "," : "", r->policy, r->c.peak_heap_bytes, r->peak_live, r->peak_live_in_moves,
               r->c.peak_block_bytes, r->peak_total_req);
        if (r->buddy_chunk)
            printf(",\"buddy_chunk\":%" PRIu64, r->buddy_chunk);
        printf(",\"fragmentation\":{\"jw1\":%.6f,\"jw2\":%.6f,\"jw3\":%.6f,\"jw4\":%.6f,\"internal\":%.6f,"
               "\"external\":%.6f,\"peak_utilisation\":%.6f,\"driver_utilisation\":%.6f}",
               jw1(r), jw2(r), jw3(r), jw4(r), internal_frag(a), external_frag(a), peak_util(r), driver_util(r));
        printf(",\"heap_at_peak_live\":%" PRIu64, r->heap_at_peak_live);
        printf(",\"at_peak_live\":{\"heap_bytes\":%" PRIu64 ",\"live_requested\":%" PRIu64
               ",\"live_block_bytes\":%" PRIu64 ",\"live_blocks\":%" PRIu64 ",\"free_bytes\":%" PRIu64
               ",\"free_blocks\":%" PRIu64 ",\"largest_free\":%" PRIu64 "}",
               a->heap_bytes, a->live_requested, a->live_block_bytes, a->live_blocks, a->free_bytes, a->free_blocks,
               a->largest_free);
        printf(",\"live_at_peak_heap\":%" PRIu64, r->live_at_peak_heap);
        printf(",\"end\":{\"heap_bytes\":%" PRIu64 ",\"live_requested\":%" PRIu64 ",\"live_blocks\":%" PRIu64 "}",
               r->c.heap_bytes, r->c.live_requested, r->c.live_blocks);
        printf(",\"large\":{\"blocks\":%" PRIu64 ",\"peak_bytes\":%" PRIu64 ",\"peak_requested\":%" PRIu64,
               r->large_blocks, r->large_peak_bytes, r->large_peak_req);
        if (m->mmap_threshold == UINT64_MAX)
            printf(",\"mmap_threshold_end\":null");
        else
            printf(",\"mmap_threshold_end\":%" PRIu64, r->threshold_end);
        printf(",\"mmap_threshold_rises\":%" PRIu64 ",\"reused\":%" PRIu64 "}", r->threshold_rises, r->large_reused);
        printf(",\"heap_ops\":{\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"resize_in_place\":%" PRIu64
               ",\"regions_added\":%" PRIu64 ",\"regions_extended\":%" PRIu64 ",\"trims\":%" PRIu64 "}",
               r->c.allocs, r->c.frees, r->c.resize_in_place, r->c.regions_added, r->c.regions_extended, r->c.trims);
        printf(",\"failures\":%" PRIu64 ",\"failures_too_large\":%" PRIu64 ",\"failures_mapping\":%" PRIu64,
               r->failures, r->fail_too_large, r->fail_mapping);
        printf(",\"seconds\":%.6f,\"ops_per_second\":%.0f}", r->seconds, ops_per_s(t, r));
    }
    printf("]}\n");
}

void replay_print_table(const struct tf_trace *t, const char *path, const struct replay_model *m,
                        const struct result *res, size_t nres)
{
    char b1[32], b2[32], policy[GH_ESC_BUF(sizeof t->policy)], cmd[GH_ESC_BUF(sizeof t->cmdline)];
    bool exact = m->kind == MODEL_EXACT;
    printf("trace %s: %s, %zu operations, %" PRIu32 " ids", path, tf_format_name(t), t->n, t->nids);
    if (t->failed)
        printf(" (%" PRIu64 " failed calls left out)", t->failed);
    printf("\n");
    if (t->format == TF_BINARY)
        printf("recorded from pid %" PRId32 " under %s: %s\n", t->pid,
               t->policy[0] ? gh_esc_text(t->policy, policy, sizeof policy) : "?",
               gh_esc_text(t->cmdline, cmd, sizeof cmd));
    replay_model_describe(stdout, m, replay_buddy_chunk(res, nres));
    if (!exact)
        printf("requests of %s or more are mapped apart (not heap)\n", cli_bytes(m->mmap_threshold, b1, sizeof b1));
    printf("\n%-6s %11s %11s %7s %7s %7s %7s %7s", "policy", "peak heap", "peak live", "#1", "#2", "#3", "#4",
           "util");
    if (exact)
        printf(" %7s", "driver");
    printf(" %9s %9s %12s\n", "internal", "external", "ops/s");
    for (size_t i = 0; i < nres; i++) {
        const struct result *r = &res[i];
        printf("%-6s %11s %11s %6.1f%% %6.1f%% %6.1f%% %6.1f%% %6.1f%%", r->policy,
               cli_bytes(r->c.peak_heap_bytes, b1, sizeof b1), cli_bytes(r->peak_live, b2, sizeof b2),
               100 * jw1(r), 100 * jw2(r), 100 * jw3(r), 100 * jw4(r), 100 * peak_util(r));
        if (exact)
            printf(" %6.1f%%", 100 * driver_util(r));
        printf(" %8.1f%% %8.1f%% %12.0f\n", 100 * internal_frag(&r->at_peak), 100 * external_frag(&r->at_peak),
               ops_per_s(t, r));
    }
    for (size_t i = 0; i < nres; i++) {
        const struct result *r = &res[i];
        if (!r->failures)
            continue;
        uint64_t arena = r->failures - r->fail_too_large - r->fail_mapping;
        printf("%s: %" PRIu64 " allocations failed in the replay:", r->policy, r->failures);
        const char *sep = "";
        if (r->fail_too_large) {
            printf(" %" PRIu64 " larger than any block can be", r->fail_too_large);
            sep = ",";
        }
        if (r->fail_mapping) {
            printf("%s %" PRIu64 " whose mapping the kernel refused (no address space or memory for it)", sep,
                   r->fail_mapping);
            sep = ",";
        }
        if (arena)
            printf("%s %" PRIu64 " with the heap's arena full", sep, arena);
        printf("\n");
    }
    for (size_t i = 0; i < nres; i++)
        if (res[i].peak_live_in_moves > res[i].peak_live)
            printf("%s: %s requested at most while moving reallocs held old and new block at once (the heap's own count)\n",
                   res[i].policy, cli_bytes(res[i].peak_live_in_moves, b1, sizeof b1));
    for (size_t i = 0; i < nres; i++)
        if (res[i].threshold_rises)
            printf("%s: the mmap threshold rose %" PRIu64 " %s, to %s (large blocks freed; requests below it then "
                   "went to the heap)\n", res[i].policy, res[i].threshold_rises,
                   res[i].threshold_rises == 1 ? "time" : "times", cli_bytes(res[i].threshold_end, b1, sizeof b1));
    for (size_t i = 0; i < nres; i++)
        if (res[i].large_reused)
            printf("%s: %" PRIu64 " large %s made from a freed mapping the cache kept (no mmap)\n", res[i].policy,
                   res[i].large_reused, res[i].large_reused == 1 ? "block" : "blocks");
    if (nres && res[0].large_blocks)
        printf("large blocks: %" PRIu64 ", at most %s mapped at once\n", res[0].large_blocks,
               cli_bytes(res[0].large_peak_bytes, b1, sizeof b1));
    printf("\nlive = the bytes the trace's live heap blocks asked for (a realloc replaces its old size at once):\n"
           "the program's, the same under every policy.\n"
           "Johnstone & Wilson's fragmentation, memory used / memory live - 1 (heap blocks only):\n"
           "  #1 mean heap / mean live   #2 peak heap / live at peak heap\n"
           "  #3 heap at peak live / peak live   #4 peak heap / peak live\n"
           "util = peak live / peak heap%s\n"
           "internal = 1 - requested / block bytes, external = 1 - largest free / free bytes, at peak live.\n",
           exact ? ", driver = peak live / final heap (the malloc-lab driver's utilisation)" : "");
}

/* ---- --svg: heap and live bytes over the operations, every policy --------- */

/* ceil() for 0 <= x < 2^63, without libm. */
static double ceil_pos(double x)
{
    double c = (double)(uint64_t)x;
    return c < x ? c + 1 : c;
}

static const char *const colours[CLI_NPOLICIES] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd" };

/* An operation count as a tick label: 950, 12k, 1.3M. */
static void ops_label(FILE *f, double v)
{
    if (v >= 1e6)
        fprintf(f, "%.1fM", v / 1e6);
    else if (v >= 1e4)
        fprintf(f, "%.0fk", v / 1e3);
    else
        fprintf(f, "%.0f", v);
}

static void polyline(FILE *f, const uint64_t *ser, size_t n, double L, double T, double pw, double ph, double unit,
                     double axis, const char *colour, bool dashed)
{
    svg_polyline_begin(f, colour, dashed ? "1.2" : "1.8", dashed ? "5,3" : NULL);
    for (size_t k = 0; k < n; k++)
        svg_polyline_point(f, L + pw * (double)(k + 1) / (double)n, T + ph - ph * ((double)ser[k] / unit) / axis);
    svg_polyline_end(f);
}

/* One chart: x the operations, y bytes; per policy the heap (solid) and
 * the live requested bytes (dashed; one black line when every policy's is
 * the same, as the program's live bytes are unless a policy maps apart what
 * another keeps in its heap). */
bool replay_write_svg(const char *file, const struct tf_trace *t, const char *path, const struct replay_model *m,
                      const struct result *res, size_t nres, int *refused)
{
    FILE *f = gh_outfile_fopen(file, refused);
    if (!f)
        return false;
    const double W = 900, H = 500, L = 80, R = 150, T = 66, B = 56;
    const double pw = W - L - R, ph = H - T - B;
    uint64_t ymax = 1;
    bool same_live = true;
    for (size_t i = 0; i < nres; i++) {
        for (size_t k = 0; k < res[i].npoints; k++) {
            ymax = res[i].series_heap[k] > ymax ? res[i].series_heap[k] : ymax;
            ymax = res[i].series_live[k] > ymax ? res[i].series_live[k] : ymax;
        }
        same_live &= !memcmp(res[i].series_live, res[0].series_live, res[0].npoints * sizeof *res[0].series_live);
    }
    /* The y axis: KiB or MiB, the smallest 1/2/5 x 10^k step giving at most 8 lines. */
    double unit = ymax >= (1u << 20) ? 1048576.0 : 1024.0;
    const char *uname = unit > 1024 ? "MiB" : "KiB";
    double top = (double)ymax / unit, step = 0.01;
    for (int k = 0; ceil_pos(top / step) > 8; k++)
        step *= k % 3 == 1 ? 2.5 : 2; /* 0.01, 0.02, 0.05, 0.1, 0.2, ... */
    double axis = ceil_pos(top / step) * step;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' viewBox='0 0 %.0f %.0f' "
               "font-family='sans-serif' font-size='12'>\n", W, H, W, H);
    fprintf(f, "<rect width='%.0f' height='%.0f' fill='white'/>\n", W, H);
    const char *base = strrchr(path, '/');
    fprintf(f, "<text x='%.0f' y='22' font-size='15'>Heap size (solid) and live bytes (dashed) per policy: ", L);
    svg_escape(f, base ? base + 1 : path, 60, SVG_ESC_ASCII);
    fprintf(f, "</text>\n<text x='%.0f' y='40' fill='#555'>", L);
    if (t->format == TF_BINARY)
        svg_escape(f, t->cmdline, 90, SVG_ESC_ASCII);
    else
        fprintf(f, "malloc-lab trace");
    fprintf(f, " (%zu operations)</text>\n<text x='%.0f' y='54' fill='#555' font-size='10'>", t->n, L);
    replay_model_line(f, m, replay_buddy_chunk(res, nres));
    fprintf(f, "</text>\n");
    for (int k = 0; k * step <= axis + step / 2; k++) {
        double v = k * step, y = T + ph - ph * v / axis;
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>", L, y, L + pw, y);
        fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='end'>%g %s</text>\n", L - 6, y + 4, v, uname);
    }
    for (int k = 0; k <= 4; k++) {
        double x = L + pw * k / 4;
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>", x, T, x, T + ph);
        fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>", x, T + ph + 18);
        ops_label(f, (double)t->n * k / 4);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>operations</text>\n", L + pw / 2, H - 14);
    fprintf(f, "<rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' fill='none' stroke='#333'/>\n", L, T, pw, ph);
    for (size_t i = 0; i < nres; i++) {
        const char *col = colours[i % CLI_NPOLICIES];
        polyline(f, res[i].series_heap, res[i].npoints, L, T, pw, ph, unit, axis, col, false);
        if (!same_live)
            polyline(f, res[i].series_live, res[i].npoints, L, T, pw, ph, unit, axis, col, true);
        double ly = T + 14 + 20 * (double)i;
        fprintf(f, "<line x1='%.0f' y1='%.1f' x2='%.0f' y2='%.1f' stroke='%s' stroke-width='2'/>", L + pw + 14, ly - 4,
                L + pw + 40, ly - 4, col);
        fprintf(f, "<text x='%.0f' y='%.1f'>%s</text>\n", L + pw + 46, ly, res[i].policy);
    }
    if (same_live && nres) {
        polyline(f, res[0].series_live, res[0].npoints, L, T, pw, ph, unit, axis, "#000", true);
        double ly = T + 14 + 20 * (double)nres;
        fprintf(f, "<line x1='%.0f' y1='%.1f' x2='%.0f' y2='%.1f' stroke='#000' stroke-dasharray='5,3'/>",
                L + pw + 14, ly - 4, L + pw + 40, ly - 4);
        fprintf(f, "<text x='%.0f' y='%.1f'>live</text>\n", L + pw + 46, ly);
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        *refused = errno ? errno : EIO;
        return false;
    }
    return true;
}
