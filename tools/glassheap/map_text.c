/* map_text.c - `glassheap map` in the terminal (one row per address
 * range of --width cells of --cell bytes, a cell showing what fills most of
 * it, identical rows folded, colour on a terminal; then the large blocks
 * the segment lists, if any) and as JSON (--json: the block list, the
 * large blocks and the figures).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bytes.h"
#include "cli.h"
#include "escape.h"
#include "map.h"

#define MAX_CELLS_SCANNED  (1u << 22) /* bound on the work of one auto-size try */

static const char kind_char[K_KINDS] = { ' ', '#', 'h', '.', 'c' };
static const char *const kind_ansi[K_KINDS] = { "", "\033[32m", "\033[33m", "\033[36m", "\033[35m" };
#define ANSI_RESET "\033[0m"

/* ---- terminal ---------------------------------------------------------- */

struct term {
    const struct view *v;
    struct rows g;
    uint64_t cell;
    int width;
    bool color;
    FILE *out;          /* NULL: only count lines */
    char *line, *prev;  /* width cells each */
    bool have_prev;
    uint64_t folded;    /* rows folded into the previous line */
    uint64_t lines;
    uint64_t limit;     /* stop counting past this */
};

static void fill_cells(const struct term *t, uint64_t row, char *cells)
{
    uint64_t a = map_row_start(&t->g, row);
    size_t p = map_piece_at(t->v, a);
    for (int c = 0; c < t->width; c++) {
        uint64_t cs = a + (uint64_t)c * t->cell;
        cells[c] = kind_char[map_dominant(t->v, &p, cs, cs + t->cell)];
    }
}

static bool uniform(const char *cells, int width)
{
    for (int i = 1; i < width; i++)
        if (cells[i] != cells[0])
            return false;
    return true;
}

static const char *kind_name(char c)
{
    switch (c) {
    case '#': return "used";
    case 'h': return "header/padding";
    case '.': return "free";
    case 'c': return "cached";
    default: return "not heap";
    }
}

static void flush_folded(struct term *t)
{
    if (!t->folded)
        return;
    t->lines++;
    if (t->out) {
        char b[32];
        fprintf(t->out, "%*s * %llu more row%s like the one above (%s %s)\n", (int)strlen("0x000000000000"),
                "", (unsigned long long)t->folded, t->folded == 1 ? "" : "s",
                cli_bytes(t->folded * t->g.row_bytes, b, sizeof b), kind_name(t->prev[0]));
    }
    t->folded = 0;
}

static void print_cells(const struct term *t, const char *cells)
{
    FILE *f = t->out;
    enum kind cur = K_NONE;
    for (int i = 0; i < t->width; i++) {
        enum kind k = K_NONE;
        for (int j = 0; j < K_KINDS; j++)
            if (kind_char[j] == cells[i])
                k = (enum kind)j;
        if (t->color && k != cur) {
            fputs(ANSI_RESET, f);
            fputs(kind_ansi[k], f);
            cur = k;
        }
        fputc(cells[i], f);
    }
    if (t->color)
        fputs(ANSI_RESET, f);
}

static bool term_row(void *ctx, uint64_t row, uint64_t gap)
{
    struct term *t = ctx;
    if (gap) {
        flush_folded(t);
        t->have_prev = false;
        t->lines++;
        if (t->out) {
            char b[32];
            fprintf(t->out, "%*s ~ %s not heap ~\n", (int)strlen("0x000000000000"), "",
                    cli_bytes(gap, b, sizeof b));
        }
    }
    fill_cells(t, row, t->line);
    if (t->have_prev && uniform(t->line, t->width) && !memcmp(t->line, t->prev, (size_t)t->width)) {
        t->folded++;
        return true;
    }
    flush_folded(t);
    t->lines++;
    if (t->out) {
        char a[32];
        fprintf(t->out, "%14s |", map_addr_str(t->v, map_row_start(&t->g, row), a, sizeof a));
        print_cells(t, t->line);
        fputs("|\n", t->out);
    }
    memcpy(t->prev, t->line, (size_t)t->width);
    t->have_prev = true;
    return !t->limit || t->lines <= t->limit;
}

/* The large blocks after the map: a count, then one line each (at most
 * MAP_LARGE_SHOWN, the rest "+N more").  Nothing when none are listed. */
static void print_large(const struct view *v)
{
    if (!v->nlarge)
        return;
    char a[32], b[32];
    printf("\nlarge blocks (mmap, outside the heap): %zu, %s mapped\n", v->nlarge,
           cli_bytes(v->large_bytes, b, sizeof b));
    size_t shown = v->nlarge < MAP_LARGE_SHOWN ? v->nlarge : MAP_LARGE_SHOWN;
    for (size_t i = 0; i < shown; i++) {
        const struct gh_shm_large_block *l = &v->large[i];
        if (v->relative)
            snprintf(a, sizeof a, "(mmap)");
        else
            snprintf(a, sizeof a, "0x%012llx", (unsigned long long)l->addr);
        printf("%14s  %10llu bytes, %10llu requested\n", a, (unsigned long long)l->map_len,
               (unsigned long long)l->requested);
    }
    if (v->nlarge > shown)
        printf("%14s  +%zu more\n", "", v->nlarge - shown);
    if (v->large_total > v->nlarge)
        printf("note: %llu more live large blocks are not listed (the segment's list is full)\n",
               (unsigned long long)(v->large_total - v->nlarge));
}

/* Lines the map takes with this cell size (stops counting past limit). */
static uint64_t term_lines(struct term *t)
{
    t->lines = 0;
    t->folded = 0;
    t->have_prev = false;
    map_each_row(t->v, &t->g, term_row, t);
    flush_folded(t);
    return t->lines;
}

static int terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        int w = ws.ws_col - 18; /* label and bars */
        w -= w % 8;
        if (w < 16)
            w = 16;
        return w > 256 ? 256 : w;
    }
    return DEFAULT_WIDTH;
}

int map_draw_terminal(const struct view *v, const struct options *o)
{
    bool tty = isatty(STDOUT_FILENO);
    const char *term_env = getenv("TERM");
    bool color = o->color == 1 ||
                 (o->color == -1 && tty && !getenv("NO_COLOR") && !(term_env && !strcmp(term_env, "dumb")));
    int width = o->width ? o->width : tty ? terminal_width() : DEFAULT_WIDTH;
    uint64_t target = o->rows ? (uint64_t)o->rows : DEFAULT_ROWS;

    struct term t = { .v = v, .width = width, .color = color };
    t.line = malloc((size_t)width);
    t.prev = malloc((size_t)width);
    if (!t.line || !t.prev) {
        free(t.line);
        free(t.prev);
        cli_error("map: out of memory");
        return GH_EXIT_FAIL;
    }
    uint64_t cell = o->cell;
    uint64_t span = map_heap_bytes(v); /* rows without heap are folded: gaps cost nothing */
    if (!cell) {
        for (cell = v->cfg.alignment > MIN_CELL ? v->cfg.alignment : MIN_CELL;; cell *= 2) {
            uint64_t row_bytes = cell * (uint64_t)width;
            if (span / row_bytes > target * 64 && span / cell > MAX_CELLS_SCANNED)
                continue; /* far too many rows to try */
            t.cell = cell;
            t.g = (struct rows){ v->relative ? v->base : 0, row_bytes };
            t.limit = target;
            if (term_lines(&t) <= target || row_bytes >= span)
                break;
        }
    }
    t.cell = cell;
    t.g = (struct rows){ v->relative ? v->base : 0, cell * (uint64_t)width };
    t.limit = 0;

    uint64_t used, freeb;
    map_counts(v, &used, &freeb);
    char a[32], b[32], c[32];
    char prog[GH_ESC_BUF(sizeof v->cfg.cmdline)], policy[GH_ESC_BUF(sizeof v->cfg.policy)];
    printf("glassheap map: pid %d (%s), policy %s; %s\n", v->pid, gh_esc_text(v->program, prog, sizeof prog),
           gh_esc_text(v->cfg.policy, policy, sizeof policy), ghw_source_name(v->outside));
    if (v->map.n)
        printf("heap %s-%s: %s in %zu region%s; %llu blocks (%llu used, %llu free)\n",
               map_addr_str(v, v->map.heap_start, a, sizeof a), map_addr_str(v, v->map.heap_end, b, sizeof b),
               cli_bytes(v->ctr.heap_bytes, c, sizeof c), v->map.nregions, v->map.nregions == 1 ? "" : "s",
               (unsigned long long)v->map.n, (unsigned long long)used, (unsigned long long)freeb);
    printf("utilisation %.1f%%, internal fragmentation %.1f%%, external fragmentation %.1f%%\n",
           map_pct(v->frag.utilisation), map_pct(v->frag.internal), map_pct(v->frag.external));
    struct map_arena ar[GH_SHM_ARENAS_CAPACITY];
    size_t nar = map_arenas(v, ar, GH_SHM_ARENAS_CAPACITY);
    if (nar > 1) {
        struct map_arena sum = { 0 };
        for (size_t k = 0; k <= nar; k++) {
            const struct map_arena *x = k < nar ? &ar[k] : &sum;
            if (k < nar) {
                sum.regions += x->regions;
                sum.heap_bytes += x->heap_bytes;
                sum.used_blocks += x->used_blocks;
                sum.free_blocks += x->free_blocks;
                sum.used_bytes += x->used_bytes;
                sum.free_bytes += x->free_bytes;
                if (x->largest_free > sum.largest_free)
                    sum.largest_free = x->largest_free;
                printf("  arena %-3u", x->arena);
            } else {
                printf("  total    ");
            }
            printf(" %10s in %zu region%s; %llu used, %llu free blocks; largest free %s; external fragmentation "
                   "%.1f%%\n", cli_bytes(x->heap_bytes, a, sizeof a), x->regions, x->regions == 1 ? "" : "s",
                   (unsigned long long)x->used_blocks, (unsigned long long)x->free_blocks,
                   cli_bytes(x->largest_free, b, sizeof b), map_pct(map_arena_external(x)));
        }
    }
    if (v->map.total > v->map.n)
        printf("note: the map holds %llu of the heap's %llu blocks; the rest are not drawn\n",
               (unsigned long long)v->map.n, (unsigned long long)v->map.total);
    printf("one cell %s, one row %s: '#' used  '.' free  %s'h' header/padding  ' ' not heap%s\n\n",
           cli_bytes(cell, a, sizeof a), cli_bytes(t.g.row_bytes, b, sizeof b),
           map_has_cached(v) ? "'c' cached (freed, kept by a thread)  " : "",
           v->relative ? "; addresses from the heap start" : "");
    if (!v->map.n) {
        printf("(the heap is empty)\n");
    } else {
        t.out = stdout;
        term_lines(&t);
    }
    print_large(v);
    free(t.line);
    free(t.prev);
    return fflush(stdout) == 0 ? GH_EXIT_OK : GH_EXIT_FAIL;
}

/* ---- JSON -------------------------------------------------------------- */

void map_json_counters(FILE *f, const struct gh_shm_counters *c, const struct ghr_frag *fr)
{
    fprintf(f,
            "\"fragmentation\":{\"internal\":%.6f,\"external\":%.6f,\"utilisation\":%.6f,"
            "\"peak_utilisation\":%.6f},",
            fr->internal, fr->external, fr->utilisation, fr->peak_utilisation);
    fprintf(f,
            "\"counters\":{\"live_requested\":%llu,\"live_block_bytes\":%llu,\"live_blocks\":%llu,"
            "\"free_bytes\":%llu,\"free_blocks\":%llu,\"largest_free\":%llu,\"heap_bytes\":%llu,"
            "\"overhead_bytes\":%llu,\"regions\":%llu,\"large_blocks\":%llu,\"large_bytes\":%llu,"
            "\"publishes\":%llu}",
            (unsigned long long)c->live_requested, (unsigned long long)c->live_block_bytes,
            (unsigned long long)c->live_blocks, (unsigned long long)c->free_bytes,
            (unsigned long long)c->free_blocks, (unsigned long long)c->largest_free,
            (unsigned long long)c->heap_bytes, (unsigned long long)c->overhead_bytes,
            (unsigned long long)c->regions, (unsigned long long)c->large_blocks,
            (unsigned long long)c->large_bytes, (unsigned long long)c->publishes);
}

int map_print_json(const struct view *v)
{
    FILE *f = stdout;
    const struct heapmap *m = &v->map;
    fprintf(f, "{\"pid\":%d,\"program\":", v->pid);
    cli_json_string(f, v->program);
    fputs(",\"policy\":", f);
    cli_json_string(f, v->cfg.policy);
    fprintf(f, ",\"source\":\"%s\"", v->outside ? "outside" : "process");
    fprintf(f, ",\"relative\":%s,\"heap_start\":%llu,\"heap_end\":%llu,\"header_bytes\":%u,",
            v->relative ? "true" : "false", (unsigned long long)(m->n ? m->heap_start - v->base : 0),
            (unsigned long long)(m->n ? m->heap_end - v->base : 0), v->cfg.header_bytes);
    fprintf(f, "\"nblocks\":%zu,\"total_blocks\":%llu,\"truncated\":%s,\"regions\":[", m->n,
            (unsigned long long)m->total, m->total > m->n ? "true" : "false");
    for (size_t r = 0; r < m->nregions; r++) {
        fprintf(f, "%s{\"start\":%llu,\"end\":%llu,\"blocks\":%zu", r ? "," : "",
                (unsigned long long)(m->regions[r].start - v->base),
                (unsigned long long)(m->regions[r].end - v->base), m->regions[r].n);
        if (m->arenas_known)
            fprintf(f, ",\"arena\":%u", m->regions[r].arena);
        fputc('}', f);
    }
    fputs("],\"arenas\":[", f);
    struct map_arena ar[GH_SHM_ARENAS_CAPACITY];
    size_t nar = map_arenas(v, ar, GH_SHM_ARENAS_CAPACITY);
    for (size_t k = 0; k < nar; k++)
        fprintf(f, "%s{\"arena\":%u,\"regions\":%zu,\"heap_bytes\":%llu,\"used_blocks\":%llu,\"used_bytes\":%llu,"
                   "\"free_blocks\":%llu,\"free_bytes\":%llu,\"largest_free\":%llu}",
                k ? "," : "", ar[k].arena, ar[k].regions, (unsigned long long)ar[k].heap_bytes,
                (unsigned long long)ar[k].used_blocks, (unsigned long long)ar[k].used_bytes,
                (unsigned long long)ar[k].free_blocks, (unsigned long long)ar[k].free_bytes,
                (unsigned long long)ar[k].largest_free);
    fputs("],\"blocks\":[", f);
    for (size_t i = 0; i < m->n; i++) {
        const struct gh_shm_block *b = &m->blocks[i];
        fprintf(f, "%s{\"addr\":%llu,\"size\":%llu,\"requested\":%llu,\"state\":\"%s\",\"region\":%u}",
                i ? "," : "", (unsigned long long)(b->addr - v->base), (unsigned long long)b->size,
                (unsigned long long)b->requested, map_state_name(b->state),
                b->region);
    }
    fputs("],", f);
    if (v->nlarge) {
        /* addresses absolute: large blocks lie outside the heap */
        fputs("\"large\":[", f);
        for (size_t i = 0; i < v->nlarge; i++) {
            const struct gh_shm_large_block *l = &v->large[i];
            fprintf(f, "%s{\"addr\":%llu,\"map_base\":%llu,\"map_len\":%llu,\"requested\":%llu}", i ? "," : "",
                    (unsigned long long)l->addr, (unsigned long long)l->map_base,
                    (unsigned long long)l->map_len, (unsigned long long)l->requested);
        }
        fprintf(f, "],\"large_total\":%llu,", (unsigned long long)v->large_total);
    }
    map_json_counters(f, &v->ctr, &v->frag);
    fputs("}\n", f);
    return fflush(f) == 0 ? GH_EXIT_OK : GH_EXIT_FAIL;
}

