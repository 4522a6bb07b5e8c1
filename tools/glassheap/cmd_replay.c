/* cmd_replay.c - glassheap replay: run a trace through the library's own heap.
 *
 *   glassheap replay FILE [--policy P|all] [--json] [--svg FILE]
 *                         [--mmap-threshold N]
 *   glassheap replay FILE --step [--policy P|all] [--html FILE]
 *
 * One heap instance per policy (alloc/heap.c, the code the preloaded
 * library runs), each on a private arena: an anonymous MAP_NORESERVE
 * mapping given to gh_source_init_arena, replayed one policy after the
 * other in this process.  The front end's decisions are the library's
 * (alloc/malloc.c): requests at or above the mmap threshold take the large
 * path, simulated here and counted apart (they are not heap bytes, as in
 * the library's counters); realloc resizes in place or moves (new block,
 * then free the old one); a large block stays large while the new size is
 * at least half its usable bytes; a buddy heap that cannot hold an aligned
 * request maps it.
 *
 * Matching the preload: on the break, grow() rounds each request to whole
 * pages and trim_top() rounds the new end up to a page; on an arena it does
 * neither.  So that a replay under policy P gives the heap that the program
 * had under P, the fit heaps here get, around each operation that will
 * grow or trim, the top_pad (and trim_threshold) that make the arena's
 * length and end come out exactly as page-rounded on the break (the arena
 * starts on a page, like the break).  Buddy heaps round nothing: no help
 * needed.  (Were the arena source to page-round like the break, say a flag
 * in struct gh_source that grow() and trim_top() test, pad_for_grow and
 * pad_for_trim would go.)
 *
 * Figures (per policy): peak heap and peak live requested (heap blocks
 * only, as the library counts them), Johnstone & Wilson's four measures
 * (1998, "The memory fragmentation problem: solved?"), each written as
 * memory used / memory live - 1:
 *   #1  mean heap over all operations / mean live over all operations
 *   #2  peak heap / live at the moment of peak heap
 *   #3  heap at the moment of peak live / peak live (the most live while
 *       the heap is at its peak)
 *   #4  peak heap / peak live
 * and, at the moment of peak live, internal (1 - requested / block bytes)
 * and external (1 - largest free / free bytes) fragmentation, as DESIGN.md
 * defines them; operations per second of the replay loop.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cli.h"
#include "heap.h"
#include "os.h"
#include "tracefile.h"

#define NPOLICIES CLI_NPOLICIES
#define SERIES_POINTS 800u                      /* samples per policy for --svg */
#define STEP_MAX_OPS 1000u                      /* --step is for small traces */
#define ARENA_MAX ((size_t)1 << 40)             /* reserve (not commit) up to 1 TiB */
#define ARENA_MIN ((size_t)64 << 20)
#define LARGE_OVERHEAD 64u                      /* record + header of a large block */
#define STEP_BAR 64                             /* columns of the --step picture */


/* ---- the simulated front end ------------------------------------------ */

enum where { S_NONE, S_HEAP, S_LARGE, S_FAILED };

struct slot {
    void *p;          /* heap payload */
    uint64_t req;     /* large: bytes asked for */
    uint64_t len;     /* large: bytes mapped */
    uint32_t off;     /* large: payload offset in its mapping */
    uint8_t where;
};

struct snapshot {
    uint64_t heap_bytes, live_requested, live_block_bytes, live_blocks, free_bytes, free_blocks, largest_free;
};

struct result {
    const char *policy;
    struct gh_heap_counters c;   /* the heap's counters at the end */
    uint64_t heap_at_peak_live;  /* J&W #3 */
    uint64_t live_at_peak_heap;  /* J&W #2 */
    long double sum_heap, sum_live;
    struct snapshot at_peak;     /* at the moment of peak live */
    uint64_t large_peak_bytes, large_peak_req, large_blocks;
    uint64_t peak_total_req;     /* heap + large requested */
    uint64_t failures;
    double seconds;
    uint64_t *series_heap, *series_live; /* npoints each: the most in each run of operations */
    size_t npoints;
};

struct sim {
    struct gh_heap h;
    struct gh_source src;
    char *arena;
    size_t arena_len;
    bool fit;                 /* first/next/best/worst: emulate the break's page rounding */
    size_t ps, top_pad;       /* the heap's own top_pad, put back after each operation */
    uint64_t threshold;
    struct slot *slots;
    uint64_t large_bytes, large_req;
    uint64_t peak_req_seen, peak_heap_seen;
    struct result *res;
};

static struct snapshot take_snapshot(const struct gh_heap *h);

/* After every step that can set a peak (an allocation, a resize, a free
 * that ends a moving realloc, each operation): note the moments of peak
 * live (J&W #3, the fragmentation at peak) and of peak heap (#2). */
static void observe(struct sim *s)
{
    const struct gh_heap_counters *k = &s->h.c;
    struct result *r = s->res;
    if (k->peak_requested > s->peak_req_seen) {
        s->peak_req_seen = k->peak_requested;
        r->heap_at_peak_live = k->heap_bytes;
        r->at_peak = take_snapshot(&s->h);
    }
    if (k->peak_heap_bytes > s->peak_heap_seen) {
        s->peak_heap_seen = k->peak_heap_bytes;
        r->live_at_peak_heap = k->live_requested;
    } else if (k->heap_bytes == s->peak_heap_seen && k->live_requested > r->live_at_peak_heap) {
        r->live_at_peak_heap = k->live_requested;
    }
}

static uint64_t round_up(uint64_t n, uint64_t a)
{
    return (n + a - 1) & ~(a - 1);
}

static void note_total(struct sim *s)
{
    observe(s);
    uint64_t total = s->h.c.live_requested + s->large_req;
    if (total > s->res->peak_total_req)
        s->res->peak_total_req = total;
}

/* A large block: as gh_large_map lays it out over a page-aligned mapping
 * (aligned payloads: the whole pages in front of the record are given
 * back, so the mapping starts on the page holding the record). */
static void large_new(struct sim *s, struct slot *sl, uint64_t n, uint32_t align)
{
    uint64_t a = align > GH_ALIGN ? align : GH_ALIGN;
    uint64_t p = round_up(LARGE_OVERHEAD, a);
    uint64_t front = (p - LARGE_OVERHEAD) & ~(uint64_t)(s->ps - 1);
    sl->where = S_LARGE;
    sl->p = NULL;
    sl->req = n;
    sl->off = (uint32_t)(p - front);
    sl->len = round_up(p + n, s->ps) - front;
    s->large_bytes += sl->len;
    s->large_req += n;
    s->res->large_blocks++;
    if (s->large_bytes > s->res->large_peak_bytes)
        s->res->large_peak_bytes = s->large_bytes;
    if (s->large_req > s->res->large_peak_req)
        s->res->large_peak_req = s->large_req;
    note_total(s);
}

/* The region end marker of the top region (where the break would be). */
static struct gh_block *top_marker(const struct gh_heap *h)
{
    return h->top ? (struct gh_block *)((char *)h->top + h->top->len - GH_HEADER_SIZE) : NULL;
}

/* grow(h, need) is about to run: make its length need + overhead + pad a
 * whole number of pages, as on the break. */
static void pad_for_grow(struct sim *s, size_t need)
{
    size_t len = need + GH_REGION_OVERHEAD + s->top_pad;
    s->h.top_pad = (size_t)round_up(len, s->ps) - need - GH_REGION_OVERHEAD;
}

/* Undo pad_for_grow (grow() may have doubled trim_threshold meanwhile:
 * that change is the library's and stays). */
static void restore_pad(struct sim *s)
{
    s->h.top_pad = s->top_pad;
}

static void heap_alloc(struct sim *s, struct slot *sl, uint64_t n, uint32_t align)
{
    if (n > (uint64_t)PTRDIFF_MAX) {
        sl->where = S_FAILED;
        s->res->failures++;
        return;
    }
    if (n >= s->threshold || !gh_heap_can_hold(&s->h, align, (size_t)n)) {
        large_new(s, sl, n, align); /* as the library: what the heap cannot hold is mapped */
        return;
    }
    if (s->fit) {
        size_t size = gh_block_size_for((size_t)n), need = size;
        if (align > GH_ALIGN)
            need = size + align + GH_MIN_BLOCK;
        if (size && gh_heap_largest_free(&s->h) < need)
            pad_for_grow(s, need);
    }
    void *p = align > GH_ALIGN ? gh_heap_alloc_aligned(&s->h, align, (size_t)n) : gh_heap_alloc(&s->h, (size_t)n);
    restore_pad(s);
    if (!p) {
        sl->where = S_FAILED;
        s->res->failures++;
        return;
    }
    sl->where = S_HEAP;
    sl->p = p;
    note_total(s);
}

/* gh_heap_free will merge p's block with its free neighbours; when the
 * result is the top block and passes the trim threshold, trim_top() keeps
 * pad bytes and, on the break, rounds the new end up to a page.  Set the
 * pad (and the threshold, so the decision is unchanged) to land there. */
static void pad_for_trim(struct sim *s, void *p)
{
    struct gh_block *b = gh_block_of(p);
    struct gh_block *start = b, *next = gh_block_next(b);
    size_t size = gh_block_size(b);
    if (gh_block_prev_free(b)) {
        start = gh_block_prev(b);
        size += gh_block_size(start);
    }
    if (gh_block_size(next) && gh_block_is_free(next)) {
        size += gh_block_size(next);
        next = gh_block_next(next);
    }
    struct gh_heap *h = &s->h;
    if (next != top_marker(h) || size < h->trim_threshold + h->top_pad)
        return;
    size_t keep_min = (size_t)round_up(h->top_pad + GH_MIN_BLOCK + GH_HEADER_SIZE, GH_ALIGN);
    uintptr_t want_end = (uintptr_t)round_up((uintptr_t)start + keep_min, s->ps);
    size_t pad = (size_t)(want_end - (uintptr_t)start) - GH_MIN_BLOCK - GH_HEADER_SIZE;
    if (h->trim_threshold + h->top_pad < pad)
        return;
    h->trim_threshold = h->trim_threshold + h->top_pad - pad;
    h->top_pad = pad;
}

static void heap_free(struct sim *s, struct slot *sl)
{
    switch (sl->where) {
    case S_HEAP: {
        size_t trim_threshold = s->h.trim_threshold;
        if (s->fit)
            pad_for_trim(s, sl->p);
        gh_heap_free(&s->h, sl->p, "free");
        s->h.top_pad = s->top_pad;
        s->h.trim_threshold = trim_threshold;
        break;
    }
    case S_LARGE:
        s->large_bytes -= sl->len;
        s->large_req -= sl->req;
        break;
    default:
        break;
    }
    memset(sl, 0, sizeof *sl);
}

static void heap_realloc(struct sim *s, struct slot *sl, uint64_t n)
{
    if (sl->where == S_FAILED || sl->where == S_NONE) {
        heap_alloc(s, sl, n, 0);
        return;
    }
    if (sl->where == S_HEAP && n < s->threshold) {
        if (s->fit) {
            struct gh_block *b = gh_block_of(sl->p);
            size_t have = gh_block_size(b), want = gh_block_size_for((size_t)n);
            if (want > have && gh_block_next(b) == top_marker(&s->h))
                pad_for_grow(s, want - have);
        }
        bool done = gh_heap_resize(&s->h, sl->p, (size_t)n, "realloc");
        restore_pad(s);
        if (done) {
            note_total(s);
            return;
        }
    } else if (sl->where == S_LARGE && (n >= s->threshold || n >= (sl->len - sl->off) / 2)) {
        /* mremap: the block stays large. */
        uint64_t len = round_up(n + sl->off, s->ps);
        s->large_bytes = s->large_bytes - sl->len + len;
        s->large_req = s->large_req - sl->req + n;
        sl->len = len;
        sl->req = n;
        if (s->large_bytes > s->res->large_peak_bytes)
            s->res->large_peak_bytes = s->large_bytes;
        if (s->large_req > s->res->large_peak_req)
            s->res->large_peak_req = s->large_req;
        note_total(s);
        return;
    }
    struct slot moved = { 0 };
    heap_alloc(s, &moved, n, 0);
    if (moved.where == S_FAILED)
        return; /* the old block stays, as realloc leaves it on failure */
    heap_free(s, sl);
    *sl = moved;
}

/* One operation of the trace (tracefile.h guarantees its id is live or not
 * as the operation needs). */
static void apply(struct sim *s, const struct tf_op *op)
{
    struct slot *sl = &s->slots[op->id];
    if (op->kind == TF_ALLOC)
        heap_alloc(s, sl, op->size, op->align);
    else if (op->kind == TF_REALLOC)
        heap_realloc(s, sl, op->size);
    else
        heap_free(s, sl);
}

/* ---- the arena ---------------------------------------------------------- */

static bool arena_open(struct sim *s)
{
    for (size_t len = ARENA_MAX; len >= ARENA_MIN; len /= 2) {
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m != MAP_FAILED) {
            s->arena = m;
            s->arena_len = len;
            return true;
        }
    }
    return false;
}

static bool sim_init(struct sim *s, const char *policy, uint64_t threshold, uint32_t nids, struct result *res)
{
    memset(s, 0, sizeof *s);
    s->res = res;
    s->threshold = threshold;
    s->ps = gh_os_page_size();
    s->slots = calloc(nids ? nids : 1, sizeof *s->slots);
    if (!s->slots || !arena_open(s)) {
        free(s->slots);
        return false;
    }
    gh_source_init_arena(&s->src, s->arena, s->arena_len);
    gh_heap_init_named(&s->h, &s->src, policy, (size_t)threshold);
    struct gh_heap_desc d;
    gh_heap_describe(&s->h, &d);
    s->fit = d.max_order == 0;
    s->top_pad = s->h.top_pad;
    return true;
}

static void sim_end(struct sim *s)
{
    munmap(s->arena, s->arena_len);
    free(s->slots);
}

/* ---- --step: the heap after each operation ---------------------------- */

struct step_ctx {
    const struct sim *s;
    uint32_t nids;
    FILE *out;
    /* the picture */
    uint64_t first, span;    /* bytes drawn: the first block to the end of the last used one */
    char bar[STEP_BAR + 1];
    uint64_t top_free;       /* a free block at the very end, left out of the bar */
    uint64_t last_used_end;
};

static char id_char(uint32_t id)
{
    static const char sym[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    return sym[id % (sizeof sym - 1)];
}

/* The id whose payload lies in this block (small traces: a scan). */
static bool block_id(const struct step_ctx *c, const struct gh_block_info *b, uint32_t *id)
{
    const char *lo = (const char *)b->addr, *hi = lo + b->size;
    for (uint32_t i = 0; i < c->nids; i++) {
        const struct slot *sl = &c->s->slots[i];
        if (sl->where == S_HEAP && (const char *)sl->p > lo && (const char *)sl->p < hi) {
            *id = i;
            return true;
        }
    }
    return false;
}

static uint64_t offset_of(const struct sim *s, const void *p)
{
    return (uint64_t)((const char *)p - s->arena);
}

static bool step_extent(void *ctx, const struct gh_block_info *b)
{
    struct step_ctx *c = ctx;
    if (c->first == UINT64_MAX)
        c->first = offset_of(c->s, b->addr);
    if (!b->free)
        c->last_used_end = offset_of(c->s, b->addr) + b->size;
    return true;
}

static bool step_block(void *ctx, const struct gh_block_info *b)
{
    struct step_ctx *c = ctx;
    uint64_t off = offset_of(c->s, b->addr);
    uint32_t id = 0;
    if (b->free) {
        fprintf(c->out, "  %#08" PRIx64 " %8zu  free\n", off, b->size);
    } else if (block_id(c, b, &id)) {
        fprintf(c->out, "  %#08" PRIx64 " %8zu  id %" PRIu32 " (%zu B)\n", off, b->size, id, b->requested);
    } else {
        fprintf(c->out, "  %#08" PRIx64 " %8zu  used (%zu B)\n", off, b->size, b->requested);
    }
    if (off >= c->last_used_end) {
        c->top_free += b->size;
        return true;
    }
    /* Columns whose middle byte falls in this block. */
    for (int col = 0; col < STEP_BAR; col++) {
        uint64_t mid = c->first + (c->span * (uint64_t)(2 * col + 1)) / (2 * STEP_BAR);
        if (mid >= off && mid < off + b->size)
            c->bar[col] = b->free ? '.' : (block_id(c, b, &id) ? id_char(id) : '#');
    }
    return true;
}

static void print_op(FILE *out, const struct tf_op *op)
{
    switch (op->kind) {
    case TF_ALLOC:
        if (op->align)
            fprintf(out, "a %" PRIu32 " %" PRIu64 " (aligned %" PRIu32 ")", op->id, op->size, op->align);
        else
            fprintf(out, "a %" PRIu32 " %" PRIu64, op->id, op->size);
        break;
    case TF_REALLOC:
        fprintf(out, "r %" PRIu32 " %" PRIu64, op->id, op->size);
        break;
    default:
        fprintf(out, "f %" PRIu32, op->id);
        break;
    }
}

static void print_step(FILE *out, const struct sim *s, uint32_t nids, size_t i, size_t n, const struct tf_op *op)
{
    fprintf(out, "step %zu of %zu: ", i + 1, n);
    print_op(out, op);
    const struct slot *sl = &s->slots[op->id];
    if (op->kind != TF_FREE) {
        if (sl->where == S_HEAP)
            fprintf(out, " -> id %" PRIu32 " at %#" PRIx64, op->id,
                    offset_of(s, gh_block_of(sl->p)));
        else if (sl->where == S_LARGE)
            fprintf(out, " -> id %" PRIu32 " mapped apart (large)", op->id);
        else
            fprintf(out, " -> failed");
    }
    fputc('\n', out);
    struct step_ctx c = { .s = s, .nids = nids, .out = out, .first = UINT64_MAX };
    gh_heap_walk(&s->h, step_extent, &c);
    c.span = c.last_used_end > c.first ? c.last_used_end - c.first : 1;
    memset(c.bar, ' ', STEP_BAR);
    c.bar[STEP_BAR] = '\0';
    gh_heap_walk(&s->h, step_block, &c);
    for (uint32_t id = 0; id < nids; id++)
        if (s->slots[id].where == S_LARGE)
            fprintf(out, "  large    %8" PRIu64 "  id %" PRIu32 " (%" PRIu64 " B)\n", s->slots[id].len, id,
                    s->slots[id].req);
    const struct gh_heap_counters *k = &s->h.c;
    size_t nfree = gh_heap_free_blocks(&s->h);
    fprintf(out,
            "  heap %" PRIu64 " B: live %" PRIu64 " B in %" PRIu64 " block%s (%" PRIu64
            " B asked), free %" PRIu64 " B in %zu block%s, largest %zu B\n",
            k->heap_bytes, k->live_block_bytes, k->live_blocks, k->live_blocks == 1 ? "" : "s", k->live_requested,
            k->free_bytes, nfree, nfree == 1 ? "" : "s", gh_heap_largest_free(&s->h));
    if (c.last_used_end)
        fprintf(out, "  |%s| %#" PRIx64 "-%#" PRIx64 "%s\n", c.bar, c.first, c.last_used_end,
                c.top_free ? ", then free to the top" : "");
}

/* ---- --step --html: one page, a slider over the steps ------------------ */

struct html_ctx {
    const struct sim *s;
    uint32_t nids;
    FILE *out;
    uint64_t span;
    double y;
};

static bool html_block(void *ctx, const struct gh_block_info *b)
{
    struct html_ctx *c = ctx;
    uint64_t off = offset_of(c->s, b->addr);
    if (off >= c->span)
        return true;
    const double width = 760.0;
    double x = 20.0 + width * (double)off / (double)c->span;
    double w = width * (double)b->size / (double)c->span;
    if (x + w > 20.0 + width)
        w = 20.0 + width - x;
    struct step_ctx sc = { .s = c->s, .nids = c->nids };
    uint32_t id = 0;
    if (b->free) {
        fprintf(c->out, "<rect x='%.2f' y='%.1f' width='%.2f' height='40' fill='#eee' stroke='#999'/>", x, c->y, w);
    } else if (block_id(&sc, b, &id)) {
        unsigned hue = (id * 47u) % 360u;
        fprintf(c->out,
                "<rect x='%.2f' y='%.1f' width='%.2f' height='40' fill='hsl(%u,60%%,65%%)' stroke='#333'>"
                "<title>id %" PRIu32 ": %zu B asked, block %zu B at %#" PRIx64 "</title></rect>",
                x, c->y, w, hue, id, b->requested, b->size, off);
        if (w > 14)
            fprintf(c->out, "<text x='%.2f' y='%.1f' font-size='11' text-anchor='middle'>%" PRIu32 "</text>",
                    x + w / 2, c->y + 24, id);
    } else {
        fprintf(c->out, "<rect x='%.2f' y='%.1f' width='%.2f' height='40' fill='#999'/>", x, c->y, w);
    }
    return true;
}

static void html_step(FILE *out, const struct sim *s, uint32_t nids, uint64_t span, const char *policy, double y,
                      const struct tf_op *op)
{
    fprintf(out, "<text x='20' y='%.1f' font-size='13'>%s: ", y - 6, policy);
    if (op)
        print_op(out, op);
    else
        fputs("start", out);
    fprintf(out, " — heap %" PRIu64 " B, live %" PRIu64 " B asked</text>", s->h.c.heap_bytes,
            s->h.c.live_requested);
    struct html_ctx c = { .s = s, .nids = nids, .out = out, .span = span, .y = y };
    gh_heap_walk(&s->h, html_block, &c);
}

/* The bytes the HTML picture spans for a policy: the end of the furthest
 * used block over the whole replay (a dry run). */
struct span_ctx {
    const struct sim *s;
    uint64_t end;
};

static bool span_block(void *ctx, const struct gh_block_info *b)
{
    struct span_ctx *c = ctx;
    uint64_t e = offset_of(c->s, b->addr) + b->size;
    if (!b->free && e > c->end)
        c->end = e;
    return true;
}

static uint64_t html_span(const struct tf_trace *t, const char *policy, uint64_t threshold)
{
    struct result r;
    struct sim s;
    memset(&r, 0, sizeof r);
    if (!sim_init(&s, policy, threshold, t->nids, &r))
        return 1;
    struct span_ctx c = { .s = &s, .end = 1 };
    for (size_t i = 0; i < t->n; i++) {
        apply(&s, &t->ops[i]);
        gh_heap_walk(&s.h, span_block, &c);
    }
    sim_end(&s);
    return c.end;
}

/* ---- one policy ----------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct snapshot take_snapshot(const struct gh_heap *h)
{
    struct snapshot sn = {
        .heap_bytes = h->c.heap_bytes,
        .live_requested = h->c.live_requested,
        .live_block_bytes = h->c.live_block_bytes,
        .live_blocks = h->c.live_blocks,
        .free_bytes = h->c.free_bytes,
        .free_blocks = gh_heap_free_blocks(h),
        .largest_free = gh_heap_largest_free(h),
    };
    return sn;
}

/* --step --html: the page, and the bytes each step's picture spans (the
 * same for every step of a policy, so that blocks keep their place). */
struct html_page {
    FILE *out;
    uint64_t span;
};

/* Replay t under one policy; false when no arena could be had. */
static bool replay_policy(const struct tf_trace *t, const char *policy, uint64_t threshold, FILE *step_out,
                          struct html_page *html, struct result *res)
{
    struct sim s;
    memset(res, 0, sizeof *res);
    res->policy = policy;
    if (!sim_init(&s, policy, threshold, t->nids, res))
        return false;
    res->npoints = t->n < SERIES_POINTS ? t->n : SERIES_POINTS;
    res->series_heap = calloc(res->npoints, sizeof *res->series_heap);
    res->series_live = calloc(res->npoints, sizeof *res->series_live);
    if (!res->series_heap || !res->series_live) {
        sim_end(&s);
        return false;
    }
    if (step_out)
        fprintf(step_out, "== policy %s: %zu operations ==\n", policy, t->n);
    double t0 = now_s();
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        apply(&s, op);
        observe(&s);
        uint64_t heap = s.h.c.heap_bytes, live = s.h.c.live_requested;
        res->sum_heap += heap;
        res->sum_live += live;
        size_t bucket = (size_t)((uint64_t)i * res->npoints / t->n);
        if (heap > res->series_heap[bucket])
            res->series_heap[bucket] = heap;
        if (live > res->series_live[bucket])
            res->series_live[bucket] = live;
        if (step_out)
            print_step(step_out, &s, t->nids, i, t->n, op);
        if (html) {
            fprintf(html->out, "<g class='step' data-step='%zu' style='display:none'>", i + 1);
            html_step(html->out, &s, t->nids, html->span, policy, 40.0, op);
            fputs("</g>\n", html->out);
        }
    }
    res->seconds = now_s() - t0;
    res->c = s.h.c;
    if (step_out)
        fputc('\n', step_out);
    sim_end(&s);
    return true;
}

static void result_free(struct result *r)
{
    free(r->series_heap);
    free(r->series_live);
}

/* ---- reporting ------------------------------------------------------------ */

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
    return frag(r->heap_at_peak_live, r->c.peak_requested);
}

static double jw4(const struct result *r)
{
    return frag(r->c.peak_heap_bytes, r->c.peak_requested);
}

static double internal_frag(const struct snapshot *s)
{
    return s->live_block_bytes ? 1.0 - (double)s->live_requested / (double)s->live_block_bytes : 0.0;
}

static double external_frag(const struct snapshot *s)
{
    return s->free_bytes ? 1.0 - (double)s->largest_free / (double)s->free_bytes : 0.0;
}

static double ops_per_s(const struct tf_trace *t, const struct result *r)
{
    return r->seconds > 0 ? (double)t->n / r->seconds : 0.0;
}

static void print_json(const struct tf_trace *t, const char *path, uint64_t threshold, const struct result *res,
                       size_t nres)
{
    printf("{\"trace\":{\"file\":");
    cli_json_string(stdout, path);
    printf(",\"format\":\"%s\",\"operations\":%zu,\"ids\":%" PRIu32 ",\"failed_calls\":%" PRIu64
           ",\"mmap_threshold\":%" PRIu64,
           tf_format_name(t), t->n, t->nids, t->failed, threshold);
    if (t->format == TF_BINARY) {
        printf(",\"pid\":%" PRId32 ",\"policy\":", t->pid);
        cli_json_string(stdout, t->policy);
        printf(",\"cmdline\":");
        cli_json_string(stdout, t->cmdline);
    }
    printf("},\"policies\":[");
    for (size_t i = 0; i < nres; i++) {
        const struct result *r = &res[i];
        const struct snapshot *a = &r->at_peak;
        printf("%s{\"policy\":\"%s\",\"peak_heap_bytes\":%" PRIu64 ",\"peak_requested\":%" PRIu64
               ",\"peak_block_bytes\":%" PRIu64 ",\"peak_requested_total\":%" PRIu64,
               i ? "," : "", r->policy, r->c.peak_heap_bytes, r->c.peak_requested, r->c.peak_block_bytes,
               r->peak_total_req);
        printf(",\"fragmentation\":{\"jw1\":%.6f,\"jw2\":%.6f,\"jw3\":%.6f,\"jw4\":%.6f,\"internal\":%.6f,"
               "\"external\":%.6f,\"peak_utilisation\":%.6f}",
               jw1(r), jw2(r), jw3(r), jw4(r), internal_frag(a), external_frag(a),
               r->c.peak_heap_bytes ? (double)r->c.peak_requested / (double)r->c.peak_heap_bytes : 0.0);
        printf(",\"at_peak_live\":{\"heap_bytes\":%" PRIu64 ",\"live_requested\":%" PRIu64
               ",\"live_block_bytes\":%" PRIu64 ",\"live_blocks\":%" PRIu64 ",\"free_bytes\":%" PRIu64
               ",\"free_blocks\":%" PRIu64 ",\"largest_free\":%" PRIu64 "}",
               a->heap_bytes, a->live_requested, a->live_block_bytes, a->live_blocks, a->free_bytes, a->free_blocks,
               a->largest_free);
        printf(",\"live_at_peak_heap\":%" PRIu64, r->live_at_peak_heap);
        printf(",\"end\":{\"heap_bytes\":%" PRIu64 ",\"live_requested\":%" PRIu64 ",\"live_blocks\":%" PRIu64 "}",
               r->c.heap_bytes, r->c.live_requested, r->c.live_blocks);
        printf(",\"large\":{\"blocks\":%" PRIu64 ",\"peak_bytes\":%" PRIu64 ",\"peak_requested\":%" PRIu64 "}",
               r->large_blocks, r->large_peak_bytes, r->large_peak_req);
        printf(",\"heap_ops\":{\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"resize_in_place\":%" PRIu64
               ",\"regions_added\":%" PRIu64 ",\"regions_extended\":%" PRIu64 ",\"trims\":%" PRIu64 "}",
               r->c.allocs, r->c.frees, r->c.resize_in_place, r->c.regions_added, r->c.regions_extended, r->c.trims);
        printf(",\"failures\":%" PRIu64 ",\"seconds\":%.6f,\"ops_per_second\":%.0f}", r->failures, r->seconds,
               ops_per_s(t, r));
    }
    printf("]}\n");
}

static void print_table(const struct tf_trace *t, const char *path, uint64_t threshold, const struct result *res,
                        size_t nres)
{
    char b1[32], b2[32];
    printf("trace %s: %s, %zu operations, %" PRIu32 " ids", path, tf_format_name(t), t->n, t->nids);
    if (t->failed)
        printf(" (%" PRIu64 " failed calls left out)", t->failed);
    printf("\n");
    if (t->format == TF_BINARY)
        printf("recorded from pid %" PRId32 " under %s: %s\n", t->pid, t->policy[0] ? t->policy : "?", t->cmdline);
    printf("requests of %s or more are mapped apart (not heap)\n\n", cli_bytes(threshold, b1, sizeof b1));
    printf("%-6s %11s %11s %7s %7s %7s %7s %9s %9s %12s\n", "policy", "peak heap", "peak live", "#1", "#2", "#3",
           "#4", "internal", "external", "ops/s");
    for (size_t i = 0; i < nres; i++) {
        const struct result *r = &res[i];
        printf("%-6s %11s %11s %6.1f%% %6.1f%% %6.1f%% %6.1f%% %8.1f%% %8.1f%% %12.0f\n", r->policy,
               cli_bytes(r->c.peak_heap_bytes, b1, sizeof b1), cli_bytes(r->c.peak_requested, b2, sizeof b2),
               100 * jw1(r), 100 * jw2(r), 100 * jw3(r), 100 * jw4(r), 100 * internal_frag(&r->at_peak),
               100 * external_frag(&r->at_peak), ops_per_s(t, r));
    }
    for (size_t i = 0; i < nres; i++)
        if (res[i].failures)
            printf("%s: %" PRIu64 " allocations failed in the replay (arena exhausted)\n", res[i].policy,
                   res[i].failures);
    if (nres && res[0].large_blocks)
        printf("large blocks: %" PRIu64 ", at most %s mapped at once\n", res[0].large_blocks,
               cli_bytes(res[0].large_peak_bytes, b1, sizeof b1));
    printf("\nJohnstone & Wilson's fragmentation, memory used / memory live - 1 (heap blocks only):\n"
           "  #1 mean heap / mean live   #2 peak heap / live at peak heap\n"
           "  #3 heap at peak live / peak live   #4 peak heap / peak live\n"
           "internal = 1 - requested / block bytes, external = 1 - largest free / free bytes, at peak live.\n");
}

/* ---- --svg: heap and live bytes over the operations, every policy --------- */

/* ceil() for 0 <= x < 2^63, without libm. */
static double ceil_pos(double x)
{
    double c = (double)(uint64_t)x;
    return c < x ? c + 1 : c;
}

static const char *const colours[NPOLICIES] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd" };

static void xml_text(FILE *f, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '&')
            fputs("&amp;", f);
        else if (c < 0x20 || c >= 0x7f)
            fputc('?', f);
        else
            fputc(c, f);
    }
    if (strlen(s) > max)
        fputs("...", f);
}

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
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='%s'%s points='", colour, dashed ? "1.2" : "1.8",
            dashed ? " stroke-dasharray='5,3'" : "");
    for (size_t k = 0; k < n; k++)
        fprintf(f, "%.1f,%.1f ", L + pw * (double)(k + 1) / (double)n,
                T + ph - ph * ((double)ser[k] / unit) / axis);
    fprintf(f, "'/>\n");
}

/* One chart: x the operations, y bytes; per policy the heap (solid) and
 * the live requested bytes (dashed; one black line when every policy's is
 * the same, as it is unless a realloc moves in one policy and not another). */
static bool write_svg(const char *file, const struct tf_trace *t, const char *path, const struct result *res,
                      size_t nres)
{
    FILE *f = fopen(file, "w");
    if (!f)
        return false;
    const double W = 900, H = 500, L = 80, R = 150, T = 56, B = 56;
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
    xml_text(f, base ? base + 1 : path, 60);
    fprintf(f, "</text>\n<text x='%.0f' y='40' fill='#555'>", L);
    if (t->format == TF_BINARY)
        xml_text(f, t->cmdline, 90);
    else
        fprintf(f, "malloc-lab trace");
    fprintf(f, " (%zu operations)</text>\n", t->n);
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
        const char *col = colours[i % NPOLICIES];
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
    return fclose(f) == 0;
}

/* ---- the command ----------------------------------------------------------- */

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap replay FILE [--policy P|all] [--json] [--svg OUT.svg] [--mmap-threshold N]\n"
            "       glassheap replay FILE --step [--policy P|all] [--html OUT.html]\n\n"
            "Replays an allocation trace (binary from GLASSHEAP_TRACE / glassheap record, or\n"
            "malloc-lab .rep text) through glassheap's own heap, one private arena per policy\n"
            "(first, next, best, worst, buddy; P may be a comma-separated list; default all),\n"
            "and reports peak heap, peak live bytes, Johnstone & Wilson's fragmentation #1-#4,\n"
            "internal and external fragmentation at peak live, and operations per second.\n"
            "  --json           one JSON object on stdout\n"
            "  --svg FILE       draw heap size and live bytes over time, every policy, one chart\n"
            "  --mmap-threshold requests this large are mapped apart (default: the trace's, or 128K)\n"
            "  --step           print the heap after each operation (traces of at most %u operations)\n"
            "  --html FILE      with --step: one page with a slider over the steps\n",
            STEP_MAX_OPS);
}

static bool parse_policies(const char *arg, const char **out, size_t *n)
{
    *n = 0;
    if (!strcmp(arg, "all")) {
        for (size_t i = 0; i < NPOLICIES; i++)
            out[(*n)++] = cli_policies[i];
        return true;
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t k = 0;
        while (k < NPOLICIES && strcmp(tok, cli_policies[k]))
            k++;
        if (k == NPOLICIES || *n == NPOLICIES)
            return false;
        out[(*n)++] = cli_policies[k];
    }
    return *n > 0;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        { "policy", required_argument, NULL, 'p' },
        { "json", no_argument, NULL, 'j' },
        { "svg", required_argument, NULL, 's' },
        { "step", no_argument, NULL, 'S' },
        { "html", required_argument, NULL, 'H' },
        { "mmap-threshold", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *policies[NPOLICIES];
    size_t npol = 0;
    const char *svg = NULL, *html = NULL;
    bool json = false, step = false;
    uint64_t threshold = 0;
    bool have_threshold = false;
    int c;
    optind = 1;
    parse_policies("all", policies, &npol);
    while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!parse_policies(optarg, policies, &npol)) {
                cli_error("replay: '%s' is not a policy (first, next, best, worst, buddy, or all)", optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'j':
            json = true;
            break;
        case 's':
            svg = optarg;
            break;
        case 'S':
            step = true;
            break;
        case 'H':
            html = optarg;
            break;
        case 't':
            if (!tf_parse_bytes(optarg, &threshold) || threshold == 0) {
                cli_error("replay: --mmap-threshold takes a byte count (e.g. 131072 or 128K), not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            have_threshold = true;
            break;
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error("replay: give one trace file (glassheap replay FILE [options])");
        return GH_EXIT_USAGE;
    }
    if (html && !step) {
        cli_error("replay: --html goes with --step");
        return GH_EXIT_USAGE;
    }
    if (step && (json || svg)) {
        cli_error("replay: --step prints the heap after each operation; it does not mix with --json or --svg");
        return GH_EXIT_USAGE;
    }
    const char *path = argv[optind];
    struct tf_trace t;
    char err[512];
    int rc = tf_load(path, &t, err, sizeof err);
    if (rc != TF_OK) {
        cli_error("%s", err);
        return rc == TF_NOFILE ? GH_EXIT_NOTFOUND : GH_EXIT_FAIL;
    }
    if (!have_threshold)
        threshold = t.mmap_threshold ? t.mmap_threshold : TF_DEFAULT_MMAP_THRESHOLD;
    if (step && t.n > STEP_MAX_OPS) {
        cli_error("replay: --step is for small traces: %s has %zu operations (at most %u)", path, t.n, STEP_MAX_OPS);
        tf_free(&t);
        return GH_EXIT_USAGE;
    }
    if (t.n == 0) {
        cli_error("replay: %s holds no operations", path);
        tf_free(&t);
        return GH_EXIT_FAIL;
    }
    struct result res[NPOLICIES];
    memset(res, 0, sizeof res);
    int status = GH_EXIT_OK;
    FILE *hf = NULL;
    if (html) {
        hf = fopen(html, "w");
        if (!hf) {
            cli_error("replay: cannot write %s: %s", html, strerror(errno));
            tf_free(&t);
            return GH_EXIT_FAIL;
        }
        fprintf(hf, "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>glassheap replay --step</title>"
                    "<style>body{font-family:sans-serif} svg{display:block;margin-bottom:8px}</style></head><body>\n");
        fprintf(hf, "<h3>");
        for (const char *p = path; *p; p++)
            fputs(*p == '<' ? "&lt;" : *p == '&' ? "&amp;" : (char[2]){ *p, 0 }, hf);
        fprintf(hf, "</h3>\n<p><input type='range' id='step' min='1' max='%zu' value='1' style='width:760px'> "
                    "step <span id='n'>1</span> of %zu</p>\n", t.n, t.n);
    }
    size_t done = 0;
    for (size_t i = 0; i < npol; i++) {
        struct html_page page = { 0 };
        if (hf) {
            page.out = hf;
            page.span = html_span(&t, policies[i], threshold);
            fprintf(hf, "<svg xmlns='http://www.w3.org/2000/svg' width='800' height='90' font-size='12'>\n");
        }
        if (!replay_policy(&t, policies[i], threshold, step && !hf ? stdout : NULL, hf ? &page : NULL, &res[i])) {
            cli_error("replay: no memory for the %s heap's arena", policies[i]);
            status = GH_EXIT_FAIL;
            break;
        }
        if (hf)
            fprintf(hf, "</svg>\n");
        done++;
    }
    if (hf) {
        fprintf(hf, "<script>\nconst s=document.getElementById('step'),n=document.getElementById('n');\n"
                    "function show(){for(const g of document.querySelectorAll('g.step'))"
                    "g.style.display=g.dataset.step==s.value?'':'none';n.textContent=s.value;}\n"
                    "s.addEventListener('input',show);show();\n</script>\n</body></html>\n");
        if (fclose(hf) != 0) {
            cli_error("replay: cannot write %s", html);
            status = GH_EXIT_FAIL;
        }
    }
    if (status == GH_EXIT_OK && !step) {
        if (json)
            print_json(&t, path, threshold, res, done);
        else
            print_table(&t, path, threshold, res, done);
        if (svg && !write_svg(svg, &t, path, res, done)) {
            cli_error("replay: cannot write %s: %s", svg, strerror(errno));
            status = GH_EXIT_FAIL;
        }
    }
    for (size_t i = 0; i < done; i++)
        result_free(&res[i]);
    tf_free(&t);
    return status;
}
