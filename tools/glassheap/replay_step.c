/* replay_step.c - glassheap replay --step: the heap after each operation.
 *
 * Owns: the text picture of each step (the blocks in address order, the
 * large blocks, a rise of the mmap threshold, the counters, a bar of the heap with each live block drawn
 * as its id) and the --html page (one SVG row per step, a slider shows one
 * step at a time).  Never: changes the simulation (replay_sim.c).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <string.h>

#include "replay.h"
#include "svg.h"

#define STEP_BAR 64 /* columns of the --step picture */

struct step_ctx {
    const struct sim *s;
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
    for (uint32_t i = 0; i < c->s->nids; i++) {
        const struct slot *sl = &c->s->slots[i];
        if (sl->state == S_LIVE && (const char *)sl->p > lo && (const char *)sl->p < hi) {
            *id = i;
            return true;
        }
    }
    return false;
}

static bool step_extent(void *ctx, const struct gh_block_info *b)
{
    struct step_ctx *c = ctx;
    if (c->first == UINT64_MAX)
        c->first = sim_offset(c->s, b->addr);
    if (!b->free)
        c->last_used_end = sim_offset(c->s, b->addr) + b->size;
    return true;
}

static bool step_block(void *ctx, const struct gh_block_info *b)
{
    struct step_ctx *c = ctx;
    uint64_t off = sim_offset(c->s, b->addr);
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

void step_print(FILE *out, const struct sim *s, size_t i, size_t n, const struct tf_op *op)
{
    fprintf(out, "step %zu of %zu: ", i + 1, n);
    print_op(out, op);
    const struct slot *sl = &s->slots[op->id];
    if (op->kind != TF_FREE) {
        if (sim_in_heap(s, sl))
            fprintf(out, " -> id %" PRIu32 " at %#" PRIx64, op->id,
                    sim_offset(s, gh_block_of(sl->p)));
        else if (sl->state == S_LIVE)
            fprintf(out, " -> id %" PRIu32 " mapped apart (large)", op->id);
        else
            fprintf(out, " -> failed");
    }
    fputc('\n', out);
    if (s->threshold_rose)
        fprintf(out, "  mmap threshold raised to %zu B (the freed block's mapping)\n", gh_front_threshold(&s->front));
    struct step_ctx c = { .s = s, .out = out, .first = UINT64_MAX };
    gh_heap_walk(&s->h, step_extent, &c);
    c.span = c.last_used_end > c.first ? c.last_used_end - c.first : 1;
    memset(c.bar, ' ', STEP_BAR);
    c.bar[STEP_BAR] = '\0';
    gh_heap_walk(&s->h, step_block, &c);
    for (uint32_t id = 0; id < s->nids; id++) {
        const struct slot *l = &s->slots[id];
        if (l->state == S_LIVE && !sim_in_heap(s, l))
            fprintf(out, "  large    %8" PRIu64 "  id %" PRIu32 " (%zu B)\n", gh_large_rec_of(l->p)->map_len, id,
                    gh_large_requested(l->p));
    }
    const struct gh_heap_counters *k = s->h.c;
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
    FILE *out;
    uint64_t span;
    double y;
};

static bool html_block(void *ctx, const struct gh_block_info *b)
{
    struct html_ctx *c = ctx;
    uint64_t off = sim_offset(c->s, b->addr);
    if (off >= c->span)
        return true;
    const double width = 760.0;
    double x = 20.0 + width * (double)off / (double)c->span;
    double w = width * (double)b->size / (double)c->span;
    if (x + w > 20.0 + width)
        w = 20.0 + width - x;
    struct step_ctx sc = { .s = c->s };
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

void html_step(FILE *out, const struct sim *s, uint64_t span, const char *policy, double y, const struct tf_op *op)
{
    fprintf(out, "<text x='20' y='%.1f' font-size='13'>%s: ", y - 6, policy);
    if (op)
        print_op(out, op);
    else
        fputs("start", out);
    fprintf(out, " — heap %" PRIu64 " B, live %" PRIu64 " B asked</text>", s->h.c->heap_bytes,
            s->h.c->live_requested);
    struct html_ctx c = { .s = s, .out = out, .span = span, .y = y };
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
    uint64_t e = sim_offset(c->s, b->addr) + b->size;
    if (!b->free && e > c->end)
        c->end = e;
    return true;
}

uint64_t html_span(const struct tf_trace *t, const struct replay_model *m, const char *policy)
{
    struct result r;
    struct sim s;
    memset(&r, 0, sizeof r);
    if (!sim_init(&s, m, policy, t->nids, &r))
        return 1;
    struct span_ctx c = { .s = &s, .end = 1 };
    for (size_t i = 0; i < t->n; i++) {
        sim_apply(&s, &t->ops[i]);
        gh_heap_walk(&s.h, span_block, &c);
    }
    sim_end(&s);
    return c.end;
}


void html_begin(FILE *hf, const char *path, size_t nops, const struct replay_model *m)
{
    fprintf(hf, "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>glassheap replay --step</title>"
                "<style>body{font-family:sans-serif} svg{display:block;margin-bottom:8px}</style></head><body>\n");
    fprintf(hf, "<h3>");
    svg_escape(hf, path, SIZE_MAX, SVG_ESC_KEEP_TAB);
    fprintf(hf, "</h3>\n<p>");
    replay_model_line(hf, m, 0);
    fprintf(hf, "</p>\n<p><input type='range' id='step' min='1' max='%zu' value='1' style='width:760px'> "
                "step <span id='n'>1</span> of %zu</p>\n", nops, nops);
}

void html_end(FILE *hf)
{
    fprintf(hf, "<script>\nconst s=document.getElementById('step'),n=document.getElementById('n');\n"
                "function show(){for(const g of document.querySelectorAll('g.step'))"
                "g.style.display=g.dataset.step==s.value?'':'none';n.textContent=s.value;}\n"
                "s.addEventListener('input',show);show();\n</script>\n</body></html>\n");
}
