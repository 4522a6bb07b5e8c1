/* layout_output.c - `glassheap layout`'s three outputs of the model
 * (layout.h), high addresses at the top: a text diagram with the boundary
 * addresses and sizes; an SVG picture whose box heights grow with the
 * logarithm of the size (with a minimum), so a 4 KiB page and a 1 GiB
 * mapping are both visible; JSON, the boxes in address order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "outfile.h"
#include "escape.h"
#include "layout.h"
#include "svg.h"

/* ---- text diagram ------------------------------------------------------ */

#define USER_SPACE_END 0x800000000000ull /* x86-64, 4-level page tables */

/* "unmapped, 44.0 KiB", or what the gap up to the kernel's pages is. */
static const char *gap_label(uint64_t lo, uint64_t hi, char *buf, size_t cap)
{
    char b[32];
    if (lo < USER_SPACE_END && hi > USER_SPACE_END)
        snprintf(buf, cap, "unmapped; user space ends at 0x%llx", USER_SPACE_END);
    else
        snprintf(buf, cap, "unmapped, %s", cli_bytes(hi - lo, b, sizeof b));
    return buf;
}

/* prefix, then a mapping's name (a file name: untrusted) escaped, into buf. */
static void title_with_name(char *buf, size_t cap, const char *prefix, const char *name, const char *suffix)
{
    size_t n = (size_t)snprintf(buf, cap, "%s", prefix);
    if (n + 1 < cap)
        gh_esc_text(name, buf + n, cap - n);
    n = strlen(buf);
    snprintf(buf + n, cap - n, "%s", suffix);
}

/* A box's title. */
static void box_title(const struct box *b, char *buf, size_t cap)
{
    char prefix[64];
    switch (b->kind) {
    case R_TEXT: case R_RODATA: case R_DATA: case R_BSS:
        snprintf(prefix, sizeof prefix, "%s (", kinds[b->kind].label);
        title_with_name(buf, cap, prefix, b->name, ")");
        break;
    case R_LIBRARY: case R_FILE:
        title_with_name(buf, cap, "", b->name, "");
        break;
    case R_GH_LARGE:
        if (b->blocks == 1)
            snprintf(buf, cap, "glassheap large block");
        else
            snprintf(buf, cap, "glassheap large blocks x%u", b->blocks);
        break;
    case R_VDSO:
        title_with_name(buf, cap, "kernel: ", b->name, "");
        break;
    case R_GH_REGION:
        snprintf(buf, cap, "glassheap heap region (mmap)");
        break;
    case R_HEAP:
        snprintf(buf, cap, "heap [brk]%s", b->glassheap ? " - glassheap" : "");
        break;
    case R_ANON:
        title_with_name(buf, cap, "", strcmp(b->name, "anonymous") ? b->name : "anonymous mmap", "");
        break;
    default:
        snprintf(buf, cap, "%s", kinds[b->kind].label);
        break;
    }
}

/* The notes column: permissions and what glassheap adds. */
static void box_note(const struct layout *l, const struct box *b, char *buf, size_t cap)
{
    char x[32], y[32], z[32], w[32];
    if (b->kind == R_GUARD) {
        snprintf(buf, cap, "(not mapped: the stack may not grow into it)");
    } else if (b->kind == R_HEAP && b->glassheap) {
        snprintf(buf, cap, "%s  break %s; glassheap's region %s-%s (%s)", b->perms, layout_hex(b->end, w, sizeof w),
                 layout_hex(l->hm.regions[0].start, x, sizeof x), layout_hex(l->hm.regions[0].end, y, sizeof y),
                 cli_bytes(l->hm.regions[0].end - l->hm.regions[0].start, z, sizeof z));
    } else if (b->kind == R_HEAP) {
        snprintf(buf, cap, "%s  break %s", b->perms, layout_hex(b->end, w, sizeof w));
    } else {
        snprintf(buf, cap, "%s", b->perms);
    }
}

static void text_boundary(uint64_t a, bool dashed)
{
    char h[32];
    printf("%18s +", a == UINT64_MAX ? "" : layout_hex(a, h, sizeof h));
    for (int i = 0; i < BOX_INNER; i++)
        putchar(dashed && i % 2 ? ' ' : '-');
    printf("+\n");
}

void layout_print_text(const struct layout *l)
{
    char a[32], b[32], exe[GH_ESC_BUF(sizeof l->exe)], policy[GH_ESC_BUF(sizeof l->cfg.policy)];
    printf("glassheap layout: pid %d (%s)", l->pid, l->exe[0] ? gh_esc_text(l->exe, exe, sizeof exe) : "?");
    if (l->gh)
        printf(", glassheap policy %s", gh_esc_text(l->cfg.policy, policy, sizeof policy));
    printf("\n");
    if (l->gh) {
        printf("glassheap: %s; heap %s in %zu region%s; large blocks %llu (%s), %u found in the maps\n", l->map_note,
               cli_bytes(l->ctr.heap_bytes, a, sizeof a), l->hm.nregions, l->hm.nregions == 1 ? "" : "s",
               (unsigned long long)l->ctr.large_blocks, cli_bytes(l->ctr.large_bytes, b, sizeof b), l->large_found);
    } else {
        printf("glassheap: %s\n", l->map_note ? l->map_note : "no segment");
    }
    printf("high addresses at the top; '~' rows are unmapped gaps\n\n");
    const struct boxes *bx = &l->boxes;
    for (size_t k = bx->n; k-- > 0;) {
        const struct box *x = &bx->v[k];
        bool joined = k + 1 < bx->n && bx->v[k + 1].start == x->end;
        if (!joined) {
            if (k + 1 < bx->n) {
                char g[96];
                printf("%18s  ~ %-*s ~\n", "", BOX_INNER - 4, gap_label(x->end, bx->v[k + 1].start, g, sizeof g));
            }
            text_boundary(x->end, x->unmapped);
        }
        char title[128], note[256];
        box_title(x, title, sizeof title);
        box_note(l, x, note, sizeof note);
        cli_bytes(x->end - x->start, a, sizeof a);
        int room = BOX_INNER - 2 - (int)strlen(a) - 1;
        printf("%18s | %-*.*s %s | %s\n", "", room, room, title, a, note);
        text_boundary(x->start, x->unmapped || (k > 0 && bx->v[k - 1].unmapped && bx->v[k - 1].end == x->start));
    }
}

/* ---- JSON -------------------------------------------------------------- */

void layout_print_json(const struct layout *l)
{
    FILE *f = stdout;
    fprintf(f, "{\"pid\":%d,\"exe\":", l->pid);
    cli_json_string(f, l->exe);
    fprintf(f, ",\"start_brk\":%llu,\"glassheap\":", (unsigned long long)l->start_brk);
    if (l->gh) {
        fputs("{\"policy\":", f);
        cli_json_string(f, l->cfg.policy);
        fputs(",\"map\":", f);
        cli_json_string(f, l->map_note);
        fprintf(f, ",\"heap_start\":%llu,\"heap_end\":%llu,\"heap_bytes\":%llu,\"large_blocks\":%llu,"
                   "\"large_bytes\":%llu,\"large_found\":%u,\"regions\":[",
                (unsigned long long)(l->hm.n ? l->hm.heap_start : 0), (unsigned long long)(l->hm.n ? l->hm.heap_end : 0),
                (unsigned long long)l->ctr.heap_bytes, (unsigned long long)l->ctr.large_blocks,
                (unsigned long long)l->ctr.large_bytes, l->large_found);
        for (size_t r = 0; r < l->hm.nregions; r++)
            fprintf(f, "%s{\"start\":%llu,\"end\":%llu}", r ? "," : "", (unsigned long long)l->hm.regions[r].start,
                    (unsigned long long)l->hm.regions[r].end);
        fputs("]}", f);
    } else {
        fputs("null", f);
    }
    fputs(",\"regions\":[", f);
    for (size_t k = 0; k < l->boxes.n; k++) {
        const struct box *b = &l->boxes.v[k];
        char title[128];
        box_title(b, title, sizeof title);
        fprintf(f, "%s{\"kind\":\"%s\",\"name\":", k ? "," : "", kinds[b->kind].id);
        cli_json_string(f, b->name);
        fputs(",\"label\":", f);
        cli_json_string(f, title);
        fprintf(f, ",\"start\":%llu,\"end\":%llu,\"size\":%llu,\"perms\":", (unsigned long long)b->start,
                (unsigned long long)b->end, (unsigned long long)(b->end - b->start));
        cli_json_string(f, b->perms);
        fprintf(f, ",\"mappings\":%d,\"mapped\":%s,\"glassheap\":%s", b->nmaps, b->unmapped ? "false" : "true",
                b->glassheap ? "true" : "false");
        if (b->kind == R_GH_LARGE)
            fprintf(f, ",\"blocks\":%u", b->blocks);
        fputs("}", f);
    }
    fputs("]}\n", f);
}

/* ---- SVG --------------------------------------------------------------- */

#define LSVG_W      900.0
#define LSVG_ADDR_X 160.0  /* right edge of the address labels */
#define LSVG_X0     170.0  /* the column */
#define LSVG_COL_W  300.0
#define LSVG_TOP    60.0
#define LSVG_GAP_H  26.0
#define LSVG_MIN_H  16.0   /* a page */
#define LSVG_PER_2X 5.0    /* more height per doubling */

/* log2(x) for x >= 1, exact at powers of two and linear between them
 * (close enough for a height; spares the command a libm). */
static double log2_approx(uint64_t x)
{
    unsigned k = 63u - (unsigned)__builtin_clzll(x);
    return k + (double)(x - (1ull << k)) / (double)(1ull << k);
}

static double box_height(uint64_t size)
{
    uint64_t pages = size / PAGE;
    return LSVG_MIN_H + (pages > 1 ? LSVG_PER_2X * log2_approx(pages) : 0);
}

int layout_write_svg(const struct layout *l, const char *file)
{
    const struct boxes *bx = &l->boxes;
    double h = LSVG_TOP;
    for (size_t k = bx->n; k-- > 0;) {
        if (k + 1 < bx->n && bx->v[k + 1].start != bx->v[k].end)
            h += LSVG_GAP_H;
        h += box_height(bx->v[k].end - bx->v[k].start);
    }
    double height = h + 70;
    FILE *f = stdout;
    if (strcmp(file, "-")) {
        int err;
        f = gh_outfile_fopen(file, &err);
        if (!f) {
            cli_error("layout: cannot write '%s': %s", file, gh_outfile_strerror(err));
            return GH_EXIT_FAIL;
        }
    }
    char title[256], a[32], b[32];
    snprintf(title, sizeof title, "Address space of %s (pid %d)", l->program, l->pid);
    svg_begin(f, LSVG_W, height, title);
    svg_text(f, LSVG_X0, 28, "start", 16, false, "#111111", "%s", title);
    svg_text(f, LSVG_X0, 46, "start", 11, false, "#555555", "high addresses at the top%s%s", l->gh ? "; glassheap policy " : "",
             l->gh ? l->cfg.policy : "");
    double y = LSVG_TOP;
    for (size_t k = bx->n; k-- > 0;) {
        const struct box *x = &bx->v[k];
        if (k + 1 < bx->n && bx->v[k + 1].start != x->end) {
            /* an unmapped gap: a break in the column */
            double m = y + LSVG_GAP_H / 2;
            fprintf(f, "<path d=\"M %.2f %.2f l 10 -5 l 10 10 l 10 -10 l 10 10 l 10 -5\" fill=\"none\" stroke=\"#888888\"/>\n",
                    LSVG_X0 + LSVG_COL_W / 2 - 25, m);
            char g[96];
            svg_text(f, LSVG_X0 + LSVG_COL_W + 10, m + 4, "start", 10, false, "#777777", "%s",
                     gap_label(x->end, bx->v[k + 1].start, g, sizeof g));
            y += LSVG_GAP_H;
        }
        double bh = box_height(x->end - x->start);
        bool top_edge = k + 1 == bx->n || bx->v[k + 1].start != x->end;
        if (top_edge)
            svg_text(f, LSVG_ADDR_X, y + 4, "end", 10, true, "#222222", "%s", layout_hex(x->end, a, sizeof a));
        char tip[256], name[128];
        box_title(x, name, sizeof name);
        snprintf(tip, sizeof tip, "%s: %s-%s, %s", name, layout_hex(x->start, a, sizeof a), layout_hex(x->end, b, sizeof b),
                 x->perms);
        svg_rect(f, LSVG_X0, y, LSVG_COL_W, bh, kinds[x->kind].fill, x->unmapped ? "#999999" : "#333333", tip);
        if (x->unmapped)
            svg_line(f, LSVG_X0, y + bh / 2, LSVG_X0 + LSVG_COL_W, y + bh / 2, "#bbbbbb", 1, true);
        if (x->glassheap)
            svg_rect(f, LSVG_X0 + 2, y + 2, 6, bh - 4, "#111111", NULL, NULL);
        svg_text(f, LSVG_X0 + LSVG_COL_W / 2, y + bh / 2 + 4, "middle", 11, false,
                 x->kind == R_TEXT || x->kind == R_GH_LARGE || x->kind == R_VDSO ? "#ffffff" : "#111111", "%s", name);
        svg_text(f, LSVG_X0 + LSVG_COL_W + 10, y + bh / 2 + 4, "start", 11, false, "#111111", "%s  %s",
                 cli_bytes(x->end - x->start, a, sizeof a), x->unmapped ? "(not mapped)" : x->perms);
        y += bh;
        svg_text(f, LSVG_ADDR_X, y + 4, "end", 10, true, "#222222", "%s", layout_hex(x->start, a, sizeof a));
    }
    y += 26;
    svg_text(f, LSVG_X0 - 150, y, "start", 11, false, "#333333",
             "Box heights grow with log2(size) from %.0f px for a page: not to scale, so small regions stay visible.",
             LSVG_MIN_H);
    y += 16;
    svg_text(f, LSVG_X0 - 150, y, "start", 11, false, "#333333",
             "A black bar marks glassheap's own mappings (its segment, its heap, its large blocks). Source: /proc/%d/maps%s.",
             l->pid, l->gh ? " and the glassheap segment" : "");
    svg_end(f);
    bool bad = ferror(f) != 0;
    bad |= f != stdout ? fclose(f) != 0 : fflush(f) != 0;
    if (bad) {
        cli_error("layout: writing '%s' failed", file);
        return GH_EXIT_FAIL;
    }
    return GH_EXIT_OK;
}

