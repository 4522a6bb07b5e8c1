/* top_screen.c - `glassheap top`'s terminal view (ncurses, htop's keys:
 * q quits, p pauses, + and - lengthen and shorten the interval): the
 * counters, sparklines of external fragmentation and utilisation, a
 * one-line heap map, the free blocks by size as bars (top.h).  Compiled to
 * nothing without GLASSHEAP_HAVE_CURSES (cmd_top.c then prints lines).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "glassheap/frag.h"
#include "bytes.h"
#include "cli.h"
#include "escape.h"
#include "clock.h"
#include "top.h"
#include "walk.h"

/* ---- the terminal view ------------------------------------------------- */

#ifdef GLASSHEAP_HAVE_CURSES
#include <curses.h>

/* The steps + and - move along (ms); an --interval between two is kept
 * until the first key press. */
static const int interval_steps[] = { 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000 };
#define N_STEPS (sizeof interval_steps / sizeof interval_steps[0])

static volatile sig_atomic_t quit_signal;

static void on_quit_signal(int sig)
{
    (void)sig;
    quit_signal = 1;
}

struct glyphs {
    const char *spark[8];  /* lowest to highest */
    const char *map[5];    /* cell share in use: none, <1/3, <2/3, <1, all */
    const char *bar_full;
    const char *bar_part[8]; /* eighths: [0] unused */
};

static const struct glyphs glyphs_utf8 = {
    { "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588" },
    { "\u00b7", "\u2591", "\u2592", "\u2593", "\u2588" },
    "\u2588",
    { "", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589" },
};

static const struct glyphs glyphs_ascii = {
    { "_", ".", "-", "~", "=", "+", "*", "#" },
    { ".", ":", "+", "*", "#" },
    "#",
    { "", "", "", "", "", "", "", "" },
};

/* Print at (row, col), cut at the screen's right edge (ASCII text). */
static void put(int row, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(int row, int col, const char *fmt, ...)
{
    if (row < 0 || row >= LINES || col >= COLS)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mvaddnstr(row, col, buf, COLS - col);
}

static int level(double v, int levels)
{
    if (!(v > 0))
        return 0;
    if (v >= 1)
        return levels - 1;
    int l = (int)(v * levels);
    return l >= levels ? levels - 1 : l;
}

/* The newest `width` history values, oldest on the left. */
static void draw_spark(int row, const double *hist, size_t n, const struct glyphs *g)
{
    if (row >= LINES)
        return;
    int width = COLS - 2;
    if (width <= 0)
        return;
    size_t shown = n < (size_t)width ? n : (size_t)width;
    move(row, 2);
    for (size_t i = n - shown; i < n; i++)
        addstr(g->spark[level(hist[i], 8)]);
}

static int by_addr(const void *a, const void *b)
{
    const struct gh_shm_block *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* One line: the heap's blocks laid end to end in address order (the gaps
 * between regions left out), cut into `width` cells of equal bytes; each
 * cell shows the share of its bytes in used blocks. */
static void draw_map_strip(int row, struct top *t, const struct glyphs *g)
{
    int width = COLS - 4;
    if (row >= LINES || width <= 0 || !t->have_map || t->nblocks == 0)
        return;
    qsort(t->blocks, t->nblocks, sizeof t->blocks[0], by_addr);
    uint64_t total = 0;
    for (size_t i = 0; i < t->nblocks; i++)
        total += t->blocks[i].size;
    if (total == 0)
        return;
    move(row, 2);
    addch('[');
    size_t b = 0;
    uint64_t b_off = 0; /* bytes of block b already counted in earlier cells */
    for (int cell = 0; cell < width; cell++) {
        uint64_t lo = (uint64_t)((double)total * cell / width);
        uint64_t hi = (uint64_t)((double)total * (cell + 1) / width);
        uint64_t span = hi - lo, used = 0, left = span;
        while (left > 0 && b < t->nblocks) {
            uint64_t rest = t->blocks[b].size - b_off;
            uint64_t take = rest < left ? rest : left;
            if (t->blocks[b].state != GH_SHM_BLOCK_FREE) /* used or cached */
                used += take;
            left -= take;
            b_off += take;
            if (b_off == t->blocks[b].size) {
                b++;
                b_off = 0;
            }
        }
        int l;
        if (span == 0 || used == 0)
            l = 0;
        else if (used == span)
            l = 4;
        else
            l = 1 + level((double)used / (double)span, 3);
        addstr(g->map[l]);
    }
    addch(']');
}

static void pow2_label(unsigned k, char *buf, size_t cap)
{
    static const char *units[] = { "B", "K", "M", "G", "T", "P", "E" };
    unsigned u = k / 10;
    snprintf(buf, cap, "%llu%s", 1ull << (k % 10), units[u < 7 ? u : 6]);
}

/* Horizontal bars from `row` down to `last`: free blocks by power-of-two
 * size, or by buddy order. */
static void draw_histogram(int row, int last, const struct top *t, const struct glyphs *g)
{
    bool buddy = !strcmp(t->cfg.policy, "buddy");
    const uint64_t *v = buddy ? t->cur.buddy_free : t->cur.free_hist;
    unsigned nb = buddy ? GH_SHM_ORDERS : GH_SHM_HIST_BUCKETS;
    unsigned lo = nb, hi = 0;
    uint64_t max = 0;
    for (unsigned k = 0; k < nb; k++)
        if (v[k]) {
            if (lo == nb)
                lo = k;
            hi = k;
            if (v[k] > max)
                max = v[k];
        }
    char title[96];
    snprintf(title, sizeof title, "%s (count), %s", buddy ? "free blocks by buddy order" : "free blocks by size",
             t->outside ? ghw_source_name(true) : "as published");
    if (max == 0) {
        put(row, 0, "%s", title);
        put(row + 1, 2, "(no free blocks)");
        return;
    }
    /* too many rows: keep the largest sizes, where fragmentation shows */
    int room = last - row > 0 ? last - row : 1;
    if ((int)(hi - lo + 1) > room) {
        unsigned cut = hi + 1 - (unsigned)room;
        uint64_t hidden = 0;
        for (unsigned k = lo; k < cut; k++)
            hidden += v[k];
        put(row, 0, "%s, %llu smaller not shown", title, (unsigned long long)hidden);
        lo = cut;
    } else {
        put(row, 0, "%s", title);
    }
    row++;
    const int label_w = 20, count_w = 10;
    int bar_w = COLS - label_w - count_w - 4;
    for (unsigned k = lo; k <= hi && row <= last; k++, row++) {
        char a[16], b[16], label[48];
        pow2_label(k, a, sizeof a);
        if (buddy)
            snprintf(label, sizeof label, "order %2u %6s", k, a);
        else {
            pow2_label(k + 1, b, sizeof b);
            snprintf(label, sizeof label, "%6s - %-6s", a, b);
        }
        put(row, 2, "%-*s", label_w, label);
        if (bar_w > 0) {
            /* in doubles: the counts are untrusted and could overflow */
            uint64_t eighths = (uint64_t)((double)v[k] / (double)max * bar_w * 8 + 0.999);
            if (eighths > (uint64_t)bar_w * 8)
                eighths = (uint64_t)bar_w * 8;
            move(row, 2 + label_w);
            for (uint64_t i = 0; i < eighths / 8; i++)
                addstr(g->bar_full);
            if (eighths % 8 && g->bar_part[eighths % 8][0])
                addstr(g->bar_part[eighths % 8]);
            else if (eighths % 8)
                addstr(g->bar_full);
        }
        put(row, COLS - count_w > 0 ? COLS - count_w : 0, "%*llu", count_w - 1,
            (unsigned long long)v[k]);
    }
}

/* Each arena's own figures (as published, with the counters), one row
 * each from `row` to `last`, and their totals. */
static void draw_arenas(int row, int last, const struct top *t)
{
    char a[32], b[32], d[32], e[32];
    if (t->narenas == 0) {
        put(row, 0, "arenas: none listed (a writer older than the per-arena table)");
        return;
    }
    put(row++, 0, "arenas: %zu (each its own heap; used counts cached blocks)", t->narenas);
    put(row++, 0, "  %5s %7s %11s %11s %11s %11s %8s %14s", "arena", "threads", "heap", "used", "free",
        "largest", "ext.", "calls");
    struct gh_shm_arena sum = cli_arenas_total(t->arenas, t->narenas);
    for (size_t k = 0; k < t->narenas && row < last; k++) {  /* no room: the rest only in the totals */
        const struct gh_shm_arena *x = &t->arenas[k];
        put(row++, 0, "  %5llu %7llu %11s %11s %11s %11s %7.1f%% %14llu", (unsigned long long)x->index,
            (unsigned long long)x->threads, cli_bytes(x->heap_bytes, a, sizeof a),
            cli_bytes(x->used_block_bytes, b, sizeof b), cli_bytes(x->free_bytes, d, sizeof d),
            cli_bytes(x->largest_free, e, sizeof e),
            100 * gh_frag_value(gh_frag_external(x->largest_free, x->free_bytes)), (unsigned long long)x->calls);
    }
    if (row <= last)
        put(row, 0, "  %5s %7llu %11s %11s %11s %11s %7.1f%% %14llu", "total", (unsigned long long)sum.threads,
            cli_bytes(sum.heap_bytes, a, sizeof a), cli_bytes(sum.used_block_bytes, b, sizeof b),
            cli_bytes(sum.free_bytes, d, sizeof d), cli_bytes(sum.largest_free, e, sizeof e),
            100 * gh_frag_value(gh_frag_external(sum.largest_free, sum.free_bytes)),
            (unsigned long long)sum.calls);
}

static void draw(struct top *t, bool paused, const struct glyphs *g)
{
    erase();
    const struct gh_shm_counters *c = &t->cur;
    struct ghr_frag f;
    ghr_fragmentation(c, &f);
    char a[32], b[32], d[32], e[32];
    int row = 0;
    attron(A_BOLD);
    char policy[GH_ESC_BUF(sizeof t->cfg.policy)], cmd[GH_ESC_BUF(sizeof t->cfg.cmdline)];
    put(row++, 0, "glassheap top - pid %d - policy %s - %s", t->pid, gh_esc_text(t->cfg.policy, policy, sizeof policy),
        gh_esc_text(t->cfg.cmdline, cmd, sizeof cmd));
    attroff(A_BOLD);
    put(row++, 0, "heap      %-11s live %s in %llu blocks   free %s in %llu blocks (largest %s)",
        cli_bytes(c->heap_bytes, a, sizeof a), cli_bytes(c->live_requested, b, sizeof b),
        (unsigned long long)c->live_blocks, cli_bytes(c->free_bytes, d, sizeof d),
        (unsigned long long)c->free_blocks, cli_bytes(c->largest_free, e, sizeof e));
    put(row++, 0, "peak      heap %s, live %s   overhead %s   regions %llu   large %llu blocks, %s",
        cli_bytes(c->peak_heap_bytes, a, sizeof a), cli_bytes(c->peak_requested, b, sizeof b),
        cli_bytes(c->overhead_bytes, d, sizeof d), (unsigned long long)c->regions,
        (unsigned long long)c->large_blocks, cli_bytes(c->large_bytes, e, sizeof e));
    char rate[32];
    if (t->have_rate)
        snprintf(rate, sizeof rate, "%.0f calls/s", t->rate);
    else
        snprintf(rate, sizeof rate, "- calls/s");
    put(row++, 0, "calls     %s   malloc %llu  calloc %llu  realloc %llu  free %llu  aligned %llu  failed %llu",
        rate, (unsigned long long)c->malloc_calls, (unsigned long long)c->calloc_calls,
        (unsigned long long)c->realloc_calls, (unsigned long long)c->free_calls,
        (unsigned long long)c->aligned_calls, (unsigned long long)c->failed_calls);
    put(row++, 0, "os        brk %llu  mmap %llu  munmap %llu  mremap %llu  madvise %llu  trims %llu",
        (unsigned long long)c->brk_calls, (unsigned long long)c->mmap_calls,
        (unsigned long long)c->munmap_calls, (unsigned long long)c->mremap_calls,
        (unsigned long long)c->madvise_calls, (unsigned long long)c->trims);
    put(row++, 0, "frag      internal %.1f%%   external %.1f%%   utilisation %.1f%%   peak utilisation %.1f%%",
        100 * f.internal, 100 * f.external, 100 * f.utilisation, 100 * f.peak_utilisation);
    row++;
    put(row++, 0, "external fragmentation, last %zu intervals: %.1f%%",
        t->hist_n < (size_t)(COLS > 2 ? COLS - 2 : 0) ? t->hist_n : (size_t)(COLS > 2 ? COLS - 2 : 0),
        100 * f.external);
    draw_spark(row++, t->ext_hist, t->hist_n, g);
    put(row++, 0, "utilisation: %.1f%%", 100 * f.utilisation);
    draw_spark(row++, t->util_hist, t->hist_n, g);
    row++;
    if (t->have_map) {
        put(row, 0, "heap map: %zu%s blocks, regions end to end, %s; %s in use, %s free",
            t->nblocks, t->total_blocks > t->nblocks ? " (first)" : "", ghw_source_name(t->map_outside),
            g->map[4], g->map[0]);
        if (t->total_blocks > t->nblocks)
            printw(" (%llu in all)", (unsigned long long)t->total_blocks);
    } else {
        put(row, 0, "heap map: %s", t->exited ? "none" : "waiting for the process to answer");
    }
    row++;
    draw_map_strip(row++, t, g);
    row++;
    if (t->show_arenas)
        draw_arenas(row, LINES - 2, t);
    else
        draw_histogram(row, LINES - 2, t, g);

    /* status line */
    char status[256], iv[32];
    if (t->interval_ms < 1000)
        snprintf(iv, sizeof iv, "%d ms", t->interval_ms);
    else
        snprintf(iv, sizeof iv, "%.1f s", t->interval_ms / 1000.0);
    int n = snprintf(status, sizeof status, " interval %s | p pause | +/- interval | a %s | q quit ", iv,
                     t->show_arenas ? "free blocks" : "arenas");
    if (t->exited)
        snprintf(status + n, sizeof status - (size_t)n, "| process %d exited ", t->pid);
    else if (paused)
        snprintf(status + n, sizeof status - (size_t)n, "| paused ");
    else if (t->execd)
        snprintf(status + n, sizeof status - (size_t)n, "| process %d exec'd: waiting for a glassheap segment ", t->pid);
    else if (!t->fresh && t->samples > 0)
        snprintf(status + n, sizeof status - (size_t)n, "| no answer: the process makes no allocator calls ");
    attron(A_REVERSE);
    move(LINES - 1, 0);
    for (int i = 0; i < COLS; i++)
        addch(' ');
    put(LINES - 1, 0, "%s", status);
    attroff(A_REVERSE);
    refresh();
}

static int step_interval(int ms, int dir)
{
    if (dir > 0) {
        for (size_t i = 0; i < N_STEPS; i++)
            if (interval_steps[i] > ms)
                return interval_steps[i];
        return ms;
    }
    for (size_t i = N_STEPS; i-- > 0;)
        if (interval_steps[i] < ms)
            return interval_steps[i];
    return ms;
}

int top_run_terminal(struct top *t, long iterations)
{
    setlocale(LC_CTYPE, ""); /* the glyphs; numbers stay in the C locale */
    const struct glyphs *g = strcmp(nl_langinfo(CODESET), "UTF-8") ? &glyphs_ascii : &glyphs_utf8;
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        const char *term = getenv("TERM");
        cli_error("top: cannot drive the terminal '%s' (try --batch)", term ? term : "");
        return GH_EXIT_FAIL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_quit_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    cbreak();
    noecho();
    curs_set(0);
    keypad(stdscr, TRUE);
    t->blocks = calloc(TOP_MAP_CAP, sizeof *t->blocks);

    bool paused = false;
    long done = 0;
    uint64_t next = gh_now_ns();
    while (!quit_signal) {
        uint64_t now = gh_now_ns();
        if (!paused && !t->exited && now >= next) {
            top_sample(t, /* map */ t->blocks != NULL);
            done++;
            next = now + (uint64_t)t->interval_ms * NS_PER_MS;
            draw(t, paused, g);
            if (iterations > 0 && done >= iterations)
                break;
            continue;
        }
        int wait_ms = -1; /* paused or exited: only keys */
        if (!paused && !t->exited)
            wait_ms = (int)((next - now + NS_PER_MS - 1) / NS_PER_MS);
        timeout(wait_ms);
        int ch = getch();
        if (ch == ERR)
            continue;
        if (ch == 'q' || ch == 'Q')
            break;
        if (ch == 'p' || ch == 'P') {
            paused = !paused;
            if (!paused)
                next = gh_now_ns(); /* resume with a fresh sample */
        } else if (ch == 'a' || ch == 'A') {
            t->show_arenas = !t->show_arenas;
        } else if (ch == '+' || ch == '=' || ch == '-' || ch == '_') {
            int ms = step_interval(t->interval_ms, ch == '+' || ch == '=' ? 1 : -1);
            next = next - (uint64_t)t->interval_ms * NS_PER_MS + (uint64_t)ms * NS_PER_MS;
            t->interval_ms = ms;
        }
        draw(t, paused, g); /* KEY_RESIZE and every key: redraw */
    }
    endwin();
    delscreen(scr);
    return GH_EXIT_OK;
}

#endif /* GLASSHEAP_HAVE_CURSES */

