/* cmd_map.c - glassheap map: draw one process's heap, block by block.
 *
 *   glassheap map PID [--width N] [--cell BYTES] [--rows N] [--relative]
 *                     [--color[=auto|always|never]] [--timeout MS]
 *                     [--svg FILE] [--json]
 *
 * Asks the process for a heap map through its segment (the library answers
 * on its next allocator call) and draws it:
 *
 *   - in the terminal: one row per address range of --width cells of
 *     --cell bytes each, labelled with the row's start address; a cell shows
 *     what fills most of it: '#' requested bytes of a used block, 'h' header
 *     or padding (a used block's header and the slack between what was
 *     requested and the block's size; region records and end markers), '.'
 *     a free block, ' ' not heap (between regions).  Rows identical to the
 *     one above and all of one kind are folded into one line; colour when
 *     stdout is a terminal;
 *   - as SVG (--svg): a handout picture: wrapped rows of a fixed number of
 *     bytes, blocks to scale, address labels at both ends of each row, block
 *     sizes on the blocks wide enough to hold them, a legend, and a caption
 *     with the policy and the fragmentation figures;
 *   - as JSON (--json): the block list and the figures.
 *
 * Owns only presentation: the data comes from the reader library; the
 * fragmentation figures are ghr_fragmentation()'s (DESIGN.md's formulas).
 * A process that does not answer within --timeout gets one line saying so
 * and the last counters it published (exit 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "reader.h"
#include "bytes.h"
#include "heapmap.h"
#include "svg.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_WIDTH      64
#define DEFAULT_ROWS       40      /* lines the auto cell size aims for */
#define SVG_DEFAULT_ROWS   24
#define MIN_CELL           16u     /* the allocator's alignment */
#define MAX_WIDTH          1024
#define MAX_CELLS_SCANNED  (1u << 22) /* bound on the work of one auto-size try */
#define COUNTERS_WAIT_MS   500

enum kind { K_NONE, K_USED, K_WASTE, K_FREE, K_KINDS };
static const char kind_char[K_KINDS] = { ' ', '#', 'h', '.' };
static const char *const kind_ansi[K_KINDS] = { "", "\033[32m", "\033[33m", "\033[36m" };
#define ANSI_RESET "\033[0m"

/* A piece of the heap of one kind; block: index into the map, or -1 for a
 * region record, end marker or gap. */
struct piece {
    uint64_t start, end;
    enum kind kind;
    long block;
};

struct view {
    int pid;
    const char *program;
    struct gh_shm_config cfg;
    struct gh_shm_counters ctr;
    struct ghr_frag frag;
    struct heapmap map;
    struct piece *pieces;
    size_t npieces;
    bool relative;
    uint64_t base; /* subtracted from every address shown */
};

/* ---- options ---------------------------------------------------------- */

struct options {
    int pid;
    const char *svg;
    int width;        /* 0: default */
    uint64_t cell;    /* 0: auto */
    int rows;         /* 0: default */
    int timeout_ms;
    bool json, relative;
    int color;        /* -1 auto, 0 never, 1 always */
};

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap map PID [--width N] [--cell BYTES] [--rows N] [--relative]\n"
            "                         [--color[=auto|always|never]] [--timeout MS]\n"
            "                         [--svg FILE] [--json]\n\n"
            "Draws the heap of process PID (running glassheap), block by block.\n"
            "Terminal: rows of N cells (--width, default %d or the terminal's width), each\n"
            "cell BYTES bytes (--cell, a power of two; default: the smallest that fits the\n"
            "heap in about --rows lines, default %d), each row labelled with its start\n"
            "address.  A cell shows what fills most of it:\n"
            "  '#' requested bytes of a used block\n"
            "  'h' header or padding: a used block's header, the slack between its\n"
            "      requested and its block size, region records and end markers\n"
            "  '.' a free block\n"
            "  ' ' not heap (between regions)\n"
            "Rows like the one above, all of one kind, are folded into one line.\n\n"
            "--svg FILE    write an SVG picture instead ('-': stdout): blocks to scale,\n"
            "              addresses, sizes, a legend, policy and fragmentation figures\n"
            "--json        print the block list and the figures as one JSON object\n"
            "--relative    show addresses as offsets from the heap's start\n"
            "--color WHEN  colour the terminal map: auto (when stdout is a terminal),\n"
            "              always, never\n"
            "--timeout MS  how long to wait for the process to answer (default %d);\n"
            "              a process that makes no allocator calls never answers\n\n"
            "Exit status: 0 drawn, 1 no such process, not running glassheap, exited or\n"
            "not answering, 2 usage, 3 other failures.\n",
            DEFAULT_WIDTH, DEFAULT_ROWS, DEFAULT_TIMEOUT_MS);
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* 0 ok, else an exit code. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        { "svg", required_argument, NULL, 's' },
        { "width", required_argument, NULL, 'w' },
        { "cell", required_argument, NULL, 'c' },
        { "rows", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "relative", no_argument, NULL, 'R' },
        { "color", optional_argument, NULL, 'C' },
        { "colour", optional_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->color = -1;
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->svg = optarg;
            break;
        case 'w':
            if (!parse_int(optarg, 8, MAX_WIDTH, &v)) {
                cli_error("map: --width takes a number of cells from 8 to %d, not '%s'", MAX_WIDTH, optarg);
                return GH_EXIT_USAGE;
            }
            o->width = (int)v;
            break;
        case 'c':
            if (!parse_int(optarg, MIN_CELL, 1L << 30, &v) || (v & (v - 1))) {
                cli_error("map: --cell takes a power of two from %u bytes, not '%s'", MIN_CELL, optarg);
                return GH_EXIT_USAGE;
            }
            o->cell = (uint64_t)v;
            break;
        case 'r':
            if (!parse_int(optarg, 1, 100000, &v)) {
                cli_error("map: --rows takes a positive number, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            o->rows = (int)v;
            break;
        case 't':
            if (!parse_int(optarg, 0, INT_MAX / 2, &v)) {
                cli_error("map: --timeout takes milliseconds, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            o->timeout_ms = (int)v;
            break;
        case 'j':
            o->json = true;
            break;
        case 'R':
            o->relative = true;
            break;
        case 'C':
            if (!optarg || !strcmp(optarg, "always"))
                o->color = 1;
            else if (!strcmp(optarg, "never"))
                o->color = 0;
            else if (!strcmp(optarg, "auto"))
                o->color = -1;
            else {
                cli_error("map: --color takes auto, always or never, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'h':
            help(stdout);
            return -1;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error(optind >= argc ? "map: which process? (glassheap map PID)"
                                 : "map: one process id only");
        return GH_EXIT_USAGE;
    }
    if (!cli_parse_pid(argv[optind], &o->pid))
        return GH_EXIT_USAGE;
    return 0;
}

/* ---- text helpers ----------------------------------------------------- */

static const char *program_name(const struct gh_shm_config *cfg, char *buf, size_t cap)
{
    const char *s = cfg->cmdline;
    size_t len = strcspn(s, " ");
    const char *start = s;
    for (const char *p = s; p < s + len; p++)
        if (*p == '/')
            start = p + 1;
    len -= (size_t)(start - s);
    if (len == 0)
        snprintf(buf, cap, "?");
    else
        snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), start);
    return buf;
}

static const char *addr_str(const struct view *v, uint64_t a, char *buf, size_t cap)
{
    if (v->relative)
        snprintf(buf, cap, "+0x%06llx", (unsigned long long)(a - v->base));
    else
        snprintf(buf, cap, "0x%012llx", (unsigned long long)a);
    return buf;
}

static double pct(double x)
{
    return 100.0 * x;
}

static void counts(const struct view *v, uint64_t *used, uint64_t *freeb)
{
    *used = *freeb = 0;
    for (size_t i = 0; i < v->map.n; i++) {
        if (v->map.blocks[i].state == GH_SHM_BLOCK_USED)
            (*used)++;
        else
            (*freeb)++;
    }
}

/* The counters as a few lines (also when the map did not come). */
static void counters_summary(FILE *f, const struct gh_shm_config *cfg, const struct gh_shm_counters *c,
                             const struct ghr_frag *fr)
{
    char a[32], b[32], d[32], e[32];
    fprintf(f, "  policy %s; heap %s in %llu region%s\n", cfg->policy, cli_bytes(c->heap_bytes, a, sizeof a),
            (unsigned long long)c->regions, c->regions == 1 ? "" : "s");
    fprintf(f, "  %llu used blocks (%s, %s requested), %llu free blocks (%s, largest %s)\n",
            (unsigned long long)c->live_blocks, cli_bytes(c->live_block_bytes, a, sizeof a),
            cli_bytes(c->live_requested, b, sizeof b), (unsigned long long)c->free_blocks,
            cli_bytes(c->free_bytes, d, sizeof d), cli_bytes(c->largest_free, e, sizeof e));
    fprintf(f, "  large blocks %llu (%s); calls: malloc %llu, free %llu, realloc %llu\n",
            (unsigned long long)c->large_blocks, cli_bytes(c->large_bytes, a, sizeof a),
            (unsigned long long)c->malloc_calls, (unsigned long long)c->free_calls,
            (unsigned long long)c->realloc_calls);
    fprintf(f, "  utilisation %.1f%%, internal fragmentation %.1f%%, external fragmentation %.1f%%\n",
            pct(fr->utilisation), pct(fr->internal), pct(fr->external));
    uint64_t now_ns = gh_now_ns(); /* the writer's clock too */
    if (c->time_ns && c->time_ns <= now_ns)
        fprintf(f, "  (as published %.1f s ago; the library publishes every %u allocator calls)\n",
                (double)(now_ns - c->time_ns) / 1e9, GH_SHM_PUBLISH_EVERY);
    else
        fprintf(f, "  (as last published)\n");
}

/* ---- pieces: the heap cut into runs of one kind ------------------------ */

static bool build_pieces(struct view *v)
{
    const struct heapmap *m = &v->map;
    size_t cap = 4 * m->n + 2 * m->nregions + 1;
    v->pieces = calloc(cap, sizeof *v->pieces);
    if (!v->pieces)
        return false;
    size_t k = 0;
#define ADD(s, e, kd, blk)                                                                          \
    do {                                                                                            \
        if ((e) > (s))                                                                              \
            v->pieces[k++] = (struct piece){ (s), (e), (kd), (blk) };                               \
    } while (0)
    uint64_t hdr = v->cfg.header_bytes ? v->cfg.header_bytes : MIN_CELL;
    for (size_t r = 0; r < m->nregions; r++) {
        const struct hm_region *reg = &m->regions[r];
        uint64_t at = reg->start;
        for (size_t i = reg->first; i < reg->first + reg->n; i++) {
            const struct gh_shm_block *b = &m->blocks[i];
            ADD(at, b->addr, K_WASTE, -1L);
            uint64_t end = b->addr + b->size;
            if (b->state == GH_SHM_BLOCK_FREE) {
                ADD(b->addr, end, K_FREE, (long)i);
            } else {
                uint64_t h = hdr < b->size ? hdr : b->size;
                uint64_t req = b->requested < b->size - h ? b->requested : b->size - h;
                ADD(b->addr, b->addr + h, K_WASTE, (long)i);
                ADD(b->addr + h, b->addr + h + req, K_USED, (long)i);
                ADD(b->addr + h + req, end, K_WASTE, (long)i);
            }
            at = end > at ? end : at;
        }
        ADD(at, reg->end, K_WASTE, -1L);
    }
#undef ADD
    v->npieces = k;
    return true;
}

/* First piece whose end is above a. */
static size_t piece_at(const struct view *v, uint64_t a)
{
    size_t lo = 0, hi = v->npieces;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->pieces[mid].end <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- rows: the address ranges shown ----------------------------------- */

/* Rows are [origin + i * row_bytes, +row_bytes); the origin is 0 (rows at
 * multiples of the row size) or the heap start (--relative). */
struct rows {
    uint64_t origin, row_bytes;
};

static uint64_t row_of(const struct rows *g, uint64_t a)
{
    return (a - g->origin) / g->row_bytes;
}

static uint64_t row_start(const struct rows *g, uint64_t row)
{
    return g->origin + row * g->row_bytes;
}

/* Call fn for each row that holds heap, in order; `gap` is 0, or, when rows
 * were left out since the previous call, the bytes between the two regions. */
typedef bool (*row_fn)(void *ctx, uint64_t row, uint64_t gap);

static void each_row(const struct view *v, const struct rows *g, row_fn fn, void *ctx)
{
    bool any = false;
    uint64_t last = 0, prev_end = 0;
    for (size_t r = 0; r < v->map.nregions; r++) {
        const struct hm_region *reg = &v->map.regions[r];
        if (reg->end <= reg->start)
            continue;
        uint64_t a = row_of(g, reg->start), b = row_of(g, reg->end - 1);
        if (any && a <= last)
            a = last + 1;
        for (uint64_t row = a; row <= b; row++) {
            uint64_t gap = any && row > last + 1 && row == a ? reg->start - prev_end : 0;
            if (!fn(ctx, row, gap))
                return;
            any = true;
            last = row;
        }
        prev_end = reg->end;
    }
}

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

/* What fills most of [lo, hi): ties go to used, then header, then free,
 * then nothing.  *p: a piece index at or before the first piece that can
 * overlap (advanced; calls must come in address order). */
static enum kind dominant(const struct view *v, size_t *p, uint64_t lo, uint64_t hi)
{
    uint64_t bytes[K_KINDS] = { 0 };
    while (*p < v->npieces && v->pieces[*p].end <= lo)
        (*p)++;
    for (size_t q = *p; q < v->npieces && v->pieces[q].start < hi; q++) {
        uint64_t s = v->pieces[q].start > lo ? v->pieces[q].start : lo;
        uint64_t e = v->pieces[q].end < hi ? v->pieces[q].end : hi;
        bytes[v->pieces[q].kind] += e - s;
    }
    bytes[K_NONE] = (hi - lo) - bytes[K_USED] - bytes[K_WASTE] - bytes[K_FREE];
    static const enum kind order[] = { K_USED, K_WASTE, K_FREE, K_NONE };
    enum kind best = K_USED;
    for (size_t i = 1; i < sizeof order / sizeof order[0]; i++)
        if (bytes[order[i]] > bytes[best])
            best = order[i];
    return best;
}

static void fill_cells(const struct term *t, uint64_t row, char *cells)
{
    uint64_t a = row_start(&t->g, row);
    size_t p = piece_at(t->v, a);
    for (int c = 0; c < t->width; c++) {
        uint64_t cs = a + (uint64_t)c * t->cell;
        cells[c] = kind_char[dominant(t->v, &p, cs, cs + t->cell)];
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
        fprintf(t->out, "%14s |", addr_str(t->v, row_start(&t->g, row), a, sizeof a));
        print_cells(t, t->line);
        fputs("|\n", t->out);
    }
    memcpy(t->prev, t->line, (size_t)t->width);
    t->have_prev = true;
    return !t->limit || t->lines <= t->limit;
}

/* Lines the map takes with this cell size (stops counting past limit). */
static uint64_t term_lines(struct term *t)
{
    t->lines = 0;
    t->folded = 0;
    t->have_prev = false;
    each_row(t->v, &t->g, term_row, t);
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

static uint64_t heap_span(const struct view *v)
{
    return v->map.n ? v->map.heap_end - v->map.heap_start : 0;
}

static int draw_terminal(const struct view *v, const struct options *o)
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
    uint64_t span = heap_span(v);
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
    counts(v, &used, &freeb);
    char a[32], b[32], c[32];
    printf("glassheap map: pid %d (%s), policy %s\n", v->pid, v->program, v->cfg.policy);
    if (v->map.n)
        printf("heap %s-%s: %s in %zu region%s; %llu blocks (%llu used, %llu free)\n",
               addr_str(v, v->map.heap_start, a, sizeof a), addr_str(v, v->map.heap_end, b, sizeof b),
               cli_bytes(v->ctr.heap_bytes, c, sizeof c), v->map.nregions, v->map.nregions == 1 ? "" : "s",
               (unsigned long long)v->map.n, (unsigned long long)used, (unsigned long long)freeb);
    printf("utilisation %.1f%%, internal fragmentation %.1f%%, external fragmentation %.1f%%\n",
           pct(v->frag.utilisation), pct(v->frag.internal), pct(v->frag.external));
    if (v->map.total > v->map.n)
        printf("note: the map holds %llu of the heap's %llu blocks; the rest are not drawn\n",
               (unsigned long long)v->map.n, (unsigned long long)v->map.total);
    printf("one cell %s, one row %s: '#' used  '.' free  'h' header/padding  ' ' not heap%s\n\n",
           cli_bytes(cell, a, sizeof a), cli_bytes(t.g.row_bytes, b, sizeof b),
           v->relative ? "; addresses from the heap start" : "");
    if (!v->map.n) {
        printf("(the heap is empty)\n");
    } else {
        t.out = stdout;
        term_lines(&t);
    }
    free(t.line);
    free(t.prev);
    return fflush(stdout) == 0 ? GH_EXIT_OK : GH_EXIT_FAIL;
}

/* ---- JSON -------------------------------------------------------------- */

static void json_counters(FILE *f, const struct gh_shm_counters *c, const struct ghr_frag *fr)
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

static int print_json(const struct view *v)
{
    FILE *f = stdout;
    const struct heapmap *m = &v->map;
    fprintf(f, "{\"pid\":%d,\"program\":", v->pid);
    cli_json_string(f, v->program);
    fputs(",\"policy\":", f);
    cli_json_string(f, v->cfg.policy);
    fprintf(f, ",\"relative\":%s,\"heap_start\":%llu,\"heap_end\":%llu,\"header_bytes\":%u,",
            v->relative ? "true" : "false", (unsigned long long)(m->n ? m->heap_start - v->base : 0),
            (unsigned long long)(m->n ? m->heap_end - v->base : 0), v->cfg.header_bytes);
    fprintf(f, "\"nblocks\":%zu,\"total_blocks\":%llu,\"truncated\":%s,\"regions\":[", m->n,
            (unsigned long long)m->total, m->total > m->n ? "true" : "false");
    for (size_t r = 0; r < m->nregions; r++)
        fprintf(f, "%s{\"start\":%llu,\"end\":%llu,\"blocks\":%zu}", r ? "," : "",
                (unsigned long long)(m->regions[r].start - v->base),
                (unsigned long long)(m->regions[r].end - v->base), m->regions[r].n);
    fputs("],\"blocks\":[", f);
    for (size_t i = 0; i < m->n; i++) {
        const struct gh_shm_block *b = &m->blocks[i];
        fprintf(f, "%s{\"addr\":%llu,\"size\":%llu,\"requested\":%llu,\"state\":\"%s\",\"region\":%u}",
                i ? "," : "", (unsigned long long)(b->addr - v->base), (unsigned long long)b->size,
                (unsigned long long)b->requested, b->state == GH_SHM_BLOCK_USED ? "used" : "free",
                b->region);
    }
    fputs("],", f);
    json_counters(f, &v->ctr, &v->frag);
    fputs("}\n", f);
    return fflush(f) == 0 ? GH_EXIT_OK : GH_EXIT_FAIL;
}

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

static const char *const svg_fill[K_KINDS] = { "#f2f2f2", "#4e79a7", "#f28e2b", "#ffffff" };
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
    size_t p = piece_at(v, a);
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
                 p->kind == K_FREE ? "free block" : p->kind == K_USED ? "used block" : "run",
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
    size_t first = piece_at(v, a), count = 0;
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
            k = hi > lo ? dominant(v, &p, lo, hi) : run;
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
    for (size_t p = piece_at(v, a); p < v->npieces && v->pieces[p].start < e;) {
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
        else if (b->state == GH_SHM_BLOCK_USED)
            snprintf(tip, sizeof tip, "used block at %s: %llu bytes, %llu requested",
                     addr_str(v, b->addr, ad, sizeof ad), (unsigned long long)b->size,
                     (unsigned long long)b->requested);
        else
            snprintf(tip, sizeof tip, "free block at %s: %llu bytes", addr_str(v, b->addr, ad, sizeof ad),
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
    svg_text(f, SVG_X0 - 6, y + SVG_BAND_H / 2 + 4, "end", 10, true, "#222222", "%s", addr_str(v, a, lab, sizeof lab));
    svg_text(f, SVG_X0 + SVG_BW + 6, y + SVG_BAND_H / 2 + 4, "start", 10, true, "#222222", "%s",
             addr_str(v, e, lab, sizeof lab));
}

static bool svg_row(void *ctx, uint64_t row, uint64_t gap)
{
    struct svgmap *s = ctx;
    uint64_t a = row_start(&s->g, row);
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
    each_row(s->v, &s->g, svg_row, s);
    svg_flush_folded(s);
    return s->lines;
}

static void svg_legend(FILE *f, double y, bool regions)
{
    static const struct {
        enum kind k;
        const char *text;
    } items[] = {
        { K_USED, "used: requested bytes" },
        { K_WASTE, "header / padding (overhead)" },
        { K_FREE, "free block" },
        { K_NONE, "not heap" },
    };
    double x = SVG_X0;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        svg_rect(f, x, y - 10, 14, 12, svg_fill[items[i].k], SVG_OUTLINE, NULL);
        svg_text(f, x + 19, y, "start", 11, false, "#222222", "%s", items[i].text);
        x += 34 + svg_text_width(items[i].text, 11, false);
    }
    if (regions) {
        svg_line(f, x + 7, y - 12, x + 7, y + 3, SVG_REGION_MARK, 2, false);
        svg_text(f, x + 19, y, "start", 11, false, "#222222", "region start");
    }
}

static int write_svg(const struct view *v, const struct options *o)
{
    uint64_t target = o->rows ? (uint64_t)o->rows : SVG_DEFAULT_ROWS;
    uint64_t span = heap_span(v);
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
    double rows_end = s.y;

    FILE *f = stdout;
    if (strcmp(o->svg, "-")) {
        f = fopen(o->svg, "w");
        if (!f) {
            cli_error("map: cannot write '%s': %s", o->svg, strerror(errno));
            return GH_EXIT_FAIL;
        }
    }
    uint64_t used, freeb;
    counts(v, &used, &freeb);
    bool trunc = v->map.total > v->map.n;
    double height = rows_end + 90 + (trunc ? 17 : 0);
    char title[256], a[32], c[32];
    snprintf(title, sizeof title, "Heap map of %s (pid %d), policy %s", v->program, v->pid, v->cfg.policy);
    svg_begin(f, SVG_W, height, title);
    svg_text(f, SVG_X0, 28, "start", 16, false, "#111111", "%s", title);
    svg_legend(f, 54, v->map.nregions > 1);
    if (!v->map.n)
        svg_text(f, SVG_X0, SVG_TOP + 16, "start", 12, false, "#555555", "(the heap is empty)");
    s.out = f;
    svg_lines(&s);
    double y = rows_end + 22;
    svg_text(f, SVG_X0, y, "start", 12, false, "#111111",
             "Policy %s. Heap: %s in %zu region%s; %llu blocks: %llu used, %llu free.", v->cfg.policy,
             cli_bytes(v->ctr.heap_bytes, a, sizeof a), v->map.nregions, v->map.nregions == 1 ? "" : "s",
             (unsigned long long)v->map.n, (unsigned long long)used, (unsigned long long)freeb);
    y += 17;
    svg_text(f, SVG_X0, y, "start", 12, false, "#111111",
             "Utilisation %.1f%% (requested / heap bytes). Internal fragmentation %.1f%% (1 - requested / used "
             "block bytes).",
             pct(v->frag.utilisation), pct(v->frag.internal));
    y += 17;
    svg_text(f, SVG_X0, y, "start", 12, false, "#111111",
             "External fragmentation %.1f%% (1 - largest free block / free bytes).", pct(v->frag.external));
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

/* ---- the command ------------------------------------------------------- */

static int open_error(int pid, int rc)
{
    switch (rc) {
    case GHR_NO_PROCESS:
        cli_error("map: no process %d", pid);
        return GH_EXIT_NOTFOUND;
    case GHR_NO_SEGMENT:
        cli_error("map: process %d does not run glassheap (no %s/glassheap.%d)", pid, GH_SHM_DIR, pid);
        return GH_EXIT_NOTFOUND;
    case GHR_STALE:
        cli_error("map: process %d has exited (its segment is stale)", pid);
        return GH_EXIT_NOTFOUND;
    default:
        cli_error("map: process %d: %s", pid, ghr_strerror((enum ghr_error)rc));
        return GH_EXIT_FAIL;
    }
}

static int not_answering(struct view *v, struct ghr_segment *seg, const struct options *o)
{
    int crc = ghr_counters(seg, &v->ctr);
    ghr_fragmentation(&v->ctr, &v->frag);
    cli_error("map: process %d did not answer within %d ms (it makes no allocator calls?); counters:", v->pid,
              o->timeout_ms);
    if (crc == GHR_OK)
        counters_summary(stderr, &v->cfg, &v->ctr, &v->frag);
    else
        fprintf(stderr, "  (none readable: %s)\n", ghr_strerror((enum ghr_error)crc));
    if (o->json) {
        printf("{\"pid\":%d,\"error\":\"timeout\",\"timeout_ms\":%d,\"policy\":", v->pid, o->timeout_ms);
        cli_json_string(stdout, v->cfg.policy);
        fputc(',', stdout);
        json_counters(stdout, &v->ctr, &v->frag);
        fputs("}\n", stdout);
    }
    return GH_EXIT_NOTFOUND;
}

int cmd_map(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc < 0 ? GH_EXIT_OK : rc;

    struct view v = { .pid = o.pid, .relative = o.relative };
    struct ghr_segment *seg = NULL;
    rc = ghr_open_pid(o.pid, &seg);
    if (rc != GHR_OK) {
        ghr_close(seg);
        return open_error(o.pid, rc);
    }
    int exit_code = GH_EXIT_OK;
    char prog[128];
    rc = ghr_config(seg, &v.cfg);
    if (rc != GHR_OK) {
        exit_code = open_error(o.pid, rc);
        goto out;
    }
    v.program = program_name(&v.cfg, prog, sizeof prog);
    rc = hm_fetch(seg, o.timeout_ms, v.cfg.header_bytes, &v.map);
    if (rc == GHR_TIMEOUT) {
        exit_code = not_answering(&v, seg, &o);
        goto out;
    }
    if (rc != GHR_OK) {
        exit_code = open_error(o.pid, rc);
        goto out;
    }
    /* The library publishes its counters right after the map: ask for a
     * fresh copy so the figures describe the same heap. */
    ghr_request_counters(seg, o.timeout_ms < COUNTERS_WAIT_MS ? o.timeout_ms : COUNTERS_WAIT_MS);
    rc = ghr_counters(seg, &v.ctr);
    if (rc != GHR_OK) {
        exit_code = open_error(o.pid, rc);
        goto out;
    }
    ghr_fragmentation(&v.ctr, &v.frag);
    v.base = v.relative && v.map.n ? v.map.heap_start : 0;
    if (!build_pieces(&v)) {
        cli_error("map: out of memory");
        exit_code = GH_EXIT_FAIL;
        goto out;
    }
    if (o.svg)
        exit_code = write_svg(&v, &o);
    if (exit_code == GH_EXIT_OK && o.json)
        exit_code = print_json(&v);
    else if (exit_code == GH_EXIT_OK && !o.svg)
        exit_code = draw_terminal(&v, &o);
out:
    free(v.pieces);
    hm_free(&v.map);
    ghr_close(seg);
    return exit_code;
}
