/* compare_output.c - the figures of `glassheap compare` (medians over
 * the runs, fragmentation through glassheap/frag.h) and the three ways of
 * showing them: the table, JSON, the SVG bar chart (compare.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "outfile.h"
#include "compare.h"
#include "glassheap/frag.h"
#include "svg.h"

/* ---- figures ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum metric { M_WALL, M_RSS, M_HEAP, M_UTIL, M_EXT, M_BRK, M_MMAP, M_LARGE, N_METRICS };

static bool run_has(const struct row *r, const struct run *u, enum metric m)
{
    switch (m) {
    case M_WALL:
    case M_RSS:
        return true;
    case M_EXT:
        return r->kind == ROW_POLICY && u->have_ext;
    case M_UTIL:
        return r->kind == ROW_POLICY && u->have_summary && u->peak_heap > 0;
    default:
        return r->kind == ROW_POLICY && u->have_summary;
    }
}

static double run_value(const struct run *u, enum metric m)
{
    switch (m) {
    case M_WALL: return u->wall_s;
    case M_RSS: return u->rss_bytes;
    case M_HEAP: return u->peak_heap;
    case M_UTIL:
        return gh_frag_value(gh_frag_utilisation((uint64_t)u->peak_requested, (uint64_t)u->peak_heap));
    case M_EXT: return u->ext_at_peak;
    case M_BRK: return u->brk_calls;
    case M_MMAP: return u->mmap_calls;
    case M_LARGE: return u->peak_large;
    default: return 0;
    }
}

/* The median over the row's runs that have the figure; false: none has. */
static bool median(const struct row *r, enum metric m, double *out)
{
    double v[MAX_RUNS];
    int n = 0;
    for (int i = 0; i < r->done; i++)
        if (run_has(r, &r->runs[i], m))
            v[n++] = run_value(&r->runs[i], m);
    if (n == 0)
        return false;
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    *out = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return true;
}

/* Every run's ext figure sampled (no '*'). */
static bool ext_all_sampled(const struct row *r)
{
    for (int i = 0; i < r->done; i++)
        if (r->runs[i].have_ext && !r->runs[i].ext_sampled)
            return false;
    return true;
}

static int first_differing(const struct row *r)
{
    for (int i = 0; i < r->done; i++)
        if (r->runs[i].differs)
            return i;
    return -1;
}

static bool policy_mismatch(const struct row *r)
{
    for (int i = 0; i < r->done; i++)
        if (r->runs[i].have_summary && strcmp(r->runs[i].policy_ran, r->policy))
            return true;
    return false;
}

static void status_text(int st, char *buf, size_t cap)
{
    if (WIFEXITED(st))
        snprintf(buf, cap, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, cap, "signal %d", WTERMSIG(st));
    else
        snprintf(buf, cap, "?");
}

/* ---- the table ---------------------------------------------------------- */

static void print_cmd(FILE *f, char **cmd)
{
    for (int i = 0; cmd[i]; i++)
        fprintf(f, "%s%s", i ? " " : "", cmd[i]);
}

void compare_print_table(const struct compare *cx)
{
    printf("glassheap compare: ");
    print_cmd(stdout, cx->cmd);
    printf("\n(%d run%s each; medians; policies %s)\n\n", cx->runs, cx->runs == 1 ? "" : "s",
           cx->cache ? "with their per-thread caches and arenas (--cache)"
                     : "pure: no cache, one arena (GLASSHEAP_CACHE=0 GLASSHEAP_ARENAS=1)");
    printf("%-10s %9s %11s %11s %9s %9s %6s %6s  %s\n", "allocator", "wall", "peak RSS", "peak heap",
           "peak util", "ext frag", "brk", "mmap", "output");
    bool any_star = false;
    for (int i = 0; i < cx->nrows; i++) {
        const struct row *r = &cx->rows[i];
        if (r->missing) {
            printf("%-10s not installed (%s)\n", r->name, r->lib);
            continue;
        }
        char f[N_METRICS][32];
        double v;
        for (int m = 0; m < N_METRICS; m++) {
            if (!median(r, (enum metric)m, &v)) {
                snprintf(f[m], sizeof f[m], "-");
                continue;
            }
            switch ((enum metric)m) {
            case M_WALL: snprintf(f[m], sizeof f[m], "%.3f s", v); break;
            case M_RSS:
            case M_HEAP: cli_bytes((uint64_t)v, f[m], sizeof f[m]); break;
            case M_UTIL: snprintf(f[m], sizeof f[m], "%.1f%%", 100 * v); break;
            case M_EXT:
                snprintf(f[m], sizeof f[m], "%.1f%%%s", 100 * v, ext_all_sampled(r) ? "" : "*");
                any_star |= !ext_all_sampled(r);
                break;
            default: snprintf(f[m], sizeof f[m], "%.0f", v); break;
            }
        }
        char out[96], st[32];
        int d = first_differing(r);
        if (d >= 0)
            snprintf(out, sizeof out, "DIFFERS (run %d)", d + 1);
        else
            snprintf(out, sizeof out, "%s", i == cx->ref ? "reference" : "same");
        if (r->done > 0 && r->runs[0].status != 0) {
            status_text(r->runs[0].status, st, sizeof st);
            snprintf(out + strlen(out), sizeof out - strlen(out), " (%s)", st);
        }
        if (r->kind == ROW_POLICY && policy_mismatch(r)) {
            char ran[GH_ESC_BUF(sizeof r->runs[0].policy_ran)];
            snprintf(out + strlen(out), sizeof out - strlen(out), " (ran %s)",
                     gh_esc_text(r->runs[0].policy_ran, ran, sizeof ran));
        }
        printf("%-10s %9s %11s %11s %9s %9s %6s %6s  %s\n", r->name, f[M_WALL], f[M_RSS], f[M_HEAP],
               f[M_UTIL], f[M_EXT], f[M_BRK], f[M_MMAP], out);
    }
    printf("\n");
    printf("ext frag: external fragmentation (1 - largest free block / free bytes) when the heap was largest\n");
    if (any_star)
        printf("* external fragmentation at exit: the run ended before a sample described it\n");
    bool header = false;
    for (int i = 0; i < cx->nrows; i++) {
        const struct row *r = &cx->rows[i];
        int d = first_differing(r);
        if (d < 0)
            continue;
        if (!header)
            printf("outputs differing from %s's first run:\n", cx->rows[cx->ref].name);
        header = true;
        const struct run *u = &r->runs[d];
        if (u->differ_at == UINT64_MAX) {
            char a[32], b[32];
            status_text(u->status, a, sizeof a);
            status_text(cx->ref_status, b, sizeof b);
            printf("  %s, run %d: the same stdout, but %s (the reference: %s)\n", r->name, d + 1, a, b);
        } else {
            printf("  %s, run %d: stdout differs from byte %llu on\n", r->name, d + 1,
                   (unsigned long long)u->differ_at);
        }
    }
    for (int i = 0; i < cx->nrows; i++) {
        const struct row *r = &cx->rows[i];
        if (r->kind == ROW_POLICY && policy_mismatch(r)) {
            char ran[GH_ESC_BUF(sizeof r->runs[0].policy_ran)];
            printf("note: %s: the library ran the policy '%s' instead\n", r->name,
                   gh_esc_text(r->runs[0].policy_ran, ran, sizeof ran));
        }
    }
}

/* ---- JSON --------------------------------------------------------------- */

static void json_metric(FILE *f, const struct row *r, enum metric m, const char *key, bool integer)
{
    double v;
    fprintf(f, ",\"%s\":", key);
    if (!median(r, m, &v))
        fprintf(f, "null");
    else if (integer)
        fprintf(f, "%.0f", v);
    else
        fprintf(f, "%.6g", v);
}

bool compare_all_match(const struct compare *cx)
{
    for (int i = 0; i < cx->nrows; i++)
        if (first_differing(&cx->rows[i]) >= 0)
            return false;
    return true;
}

void compare_print_json(const struct compare *cx)
{
    FILE *f = stdout;
    fprintf(f, "{\"command\":[");
    for (int i = 0; cx->cmd[i]; i++) {
        if (i)
            fputc(',', f);
        cli_json_string(f, cx->cmd[i]);
    }
    fprintf(f, "],\"runs\":%d,\"cache\":%s,\"sample_interval_ms\":%d,\"reference\":", cx->runs,
            cx->cache ? "true" : "false", SAMPLE_MS);
    if (cx->ref >= 0)
        cli_json_string(f, cx->rows[cx->ref].name);
    else
        fprintf(f, "null");
    fprintf(f, ",\"all_outputs_match\":%s,\"rows\":[", compare_all_match(cx) ? "true" : "false");
    for (int i = 0; i < cx->nrows; i++) {
        const struct row *r = &cx->rows[i];
        fprintf(f, "%s{\"name\":", i ? "," : "");
        cli_json_string(f, r->name);
        fprintf(f, ",\"kind\":\"%s\",\"library\":", r->kind == ROW_POLICY ? "policy" : "baseline");
        if (r->lib[0])
            cli_json_string(f, r->lib);
        else
            fprintf(f, "null");
        fprintf(f, ",\"installed\":%s", r->missing ? "false" : "true");
        if (r->missing) {
            fprintf(f, "}");
            continue;
        }
        fprintf(f, ",\"wall_s_runs\":[");
        for (int k = 0; k < r->done; k++)
            fprintf(f, "%s%.6f", k ? "," : "", r->runs[k].wall_s);
        fprintf(f, "]");
        json_metric(f, r, M_WALL, "wall_s", false);
        json_metric(f, r, M_RSS, "peak_rss_bytes", true);
        json_metric(f, r, M_HEAP, "peak_heap_bytes", true);
        json_metric(f, r, M_UTIL, "peak_utilisation", false);
        json_metric(f, r, M_EXT, "external_fragmentation_at_peak", false);
        double v;
        fprintf(f, ",\"external_fragmentation_source\":%s",
                !median(r, M_EXT, &v) ? "null" : ext_all_sampled(r) ? "\"sampled\"" : "\"exit\"");
        json_metric(f, r, M_BRK, "brk_calls", true);
        json_metric(f, r, M_MMAP, "mmap_calls", true);
        json_metric(f, r, M_LARGE, "peak_large_bytes", true);
        int d = first_differing(r);
        fprintf(f, ",\"output_matches\":%s,\"first_differing_run\":", d < 0 ? "true" : "false");
        if (d < 0)
            fprintf(f, "null");
        else
            fprintf(f, "%d", d + 1);
        fprintf(f, ",\"exit_statuses\":[");
        for (int k = 0; k < r->done; k++) {
            const int st = r->runs[k].status;
            fprintf(f, "%s%d", k ? "," : "", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        fprintf(f, "]");
        if (r->kind == ROW_POLICY) {
            fprintf(f, ",\"policy_ran\":");
            if (r->done > 0 && r->runs[0].have_summary)
                cli_json_string(f, r->runs[0].policy_ran);
            else
                fprintf(f, "null");
            int others = 0;
            for (int k = 0; k < r->done; k++)
                others += r->runs[k].other_summaries;
            fprintf(f, ",\"other_processes\":%d", r->done ? others / r->done : 0);
        }
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
}

/* ---- SVG ---------------------------------------------------------------- */

/* Text as compare's chart has always escaped it: quotes as &quot;,
 * control characters left out. */
static void chart_text(FILE *f, const char *s)
{
    svg_escape(f, s, SIZE_MAX, SVG_ESC_QUOT | SVG_ESC_DROP_CTRL);
}

#define SVG_W 760
#define SVG_LABEL_W 120
#define SVG_BAR_W 470
#define SVG_BAR_H 14
#define SVG_ROW_H 18
#define SVG_PANEL_HEAD 26
#define SVG_PANEL_GAP 14
#define SVG_TOP 46
#define SVG_TITLE_MAX 80  /* characters of the command in the title */

bool compare_write_svg(const struct compare *cx, const char *path)
{
    static const struct {
        enum metric m;
        const char *title;
    } panels[] = {
        { M_WALL, "wall time (median, s)" },
        { M_RSS, "peak RSS" },
        { M_HEAP, "peak heap (glassheap)" },
        { M_UTIL, "peak utilisation (peak requested / peak heap)" },
        { M_EXT, "external fragmentation at peak heap" },
    };
    const size_t npanels = sizeof panels / sizeof panels[0];
    int shown = 0;
    for (int i = 0; i < cx->nrows; i++)
        shown += !cx->rows[i].missing;
    int panel_h = SVG_PANEL_HEAD + shown * SVG_ROW_H + SVG_PANEL_GAP;
    int height = SVG_TOP + (int)npanels * panel_h + 30;
    int err;
    FILE *f = gh_outfile_fopen(path, &err);
    if (!f) {
        cli_error("compare: cannot write '%s': %s", path, gh_outfile_strerror(err));
        return false;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">glassheap compare: ",
            SVG_W, height, SVG_W, height);
    char cmd[SVG_TITLE_MAX + 4] = "";
    for (int i = 0; cx->cmd[i] && strlen(cmd) < SVG_TITLE_MAX; i++)
        snprintf(cmd + strlen(cmd), SVG_TITLE_MAX + 1 - strlen(cmd), "%s%s", i ? " " : "", cx->cmd[i]);
    if (strlen(cmd) == SVG_TITLE_MAX) {
        while (strlen(cmd) > 0 && ((unsigned char)cmd[strlen(cmd) - 1] & 0xc0) == 0x80)
            cmd[strlen(cmd) - 1] = '\0'; /* no cut UTF-8 sequence */
        if (strlen(cmd) > 0)
            cmd[strlen(cmd) - 1] = '\0';
        strcat(cmd, "...");
    }
    chart_text(f, cmd);
    fprintf(f, "</text>\n<text x=\"10\" y=\"36\" fill=\"#555\">%d run%s per allocator; "
               "blue: glassheap policies, orange: other allocators; red label: output differs</text>\n",
            cx->runs, cx->runs == 1 ? "" : "s");
    int y = SVG_TOP;
    for (size_t p = 0; p < npanels; p++) {
        enum metric m = panels[p].m;
        double max = 0, v;
        for (int i = 0; i < cx->nrows; i++)
            if (!cx->rows[i].missing && median(&cx->rows[i], m, &v) && v > max)
                max = v;
        if (m == M_UTIL || m == M_EXT)
            max = max > 1 ? max : 1; /* fractions: the whole bar is 100% */
        fprintf(f, "<g>\n<text x=\"10\" y=\"%d\" font-weight=\"bold\">%s</text>\n", y + 16, panels[p].title);
        int ry = y + SVG_PANEL_HEAD;
        for (int i = 0; i < cx->nrows; i++) {
            const struct row *r = &cx->rows[i];
            if (r->missing)
                continue;
            bool differs = first_differing(r) >= 0;
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"%s>", SVG_LABEL_W - 6, ry + 11,
                    differs ? " fill=\"#c00\"" : "");
            chart_text(f, r->name);
            fprintf(f, "</text>\n");
            char label[48];
            if (median(r, m, &v)) {
                int w = max > 0 ? (int)(v / max * SVG_BAR_W + 0.5) : 0;
                fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n",
                        SVG_LABEL_W, ry, w, SVG_BAR_H, r->kind == ROW_POLICY ? "#4e79a7" : "#f28e2b");
                switch (m) {
                case M_WALL: snprintf(label, sizeof label, "%.3f s", v); break;
                case M_RSS:
                case M_HEAP: cli_bytes((uint64_t)v, label, sizeof label); break;
                default: snprintf(label, sizeof label, "%.1f%%", 100 * v); break;
                }
                fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", SVG_LABEL_W + w + 6, ry + 11, label);
            } else {
                fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#888\">-</text>\n", SVG_LABEL_W + 6, ry + 11);
            }
            ry += SVG_ROW_H;
        }
        fprintf(f, "</g>\n");
        y += panel_h;
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        cli_error("compare: cannot write '%s': %s", path, strerror(errno));
        return false;
    }
    return true;
}

