/* map_model.c - the view `glassheap map` draws (map.h): the heap map cut
 * into pieces of one kind (requested bytes, header and padding, free, not
 * heap), the rows they are drawn in, the segment's large-block list, and
 * the labels every output shares.
 * The fragmentation figures are ghr_fragmentation()'s (DESIGN.md's).
 */
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
#include "escape.h"
#include "glassheap/frag.h"
#include "map.h"

#include "clock.h"

/* ---- text helpers ----------------------------------------------------- */

const char *map_program_name(const struct gh_shm_config *cfg, char *buf, size_t cap)
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

const char *map_addr_str(const struct view *v, uint64_t a, char *buf, size_t cap)
{
    if (v->relative)
        snprintf(buf, cap, "+0x%06llx", (unsigned long long)(a - v->base));
    else
        snprintf(buf, cap, "0x%012llx", (unsigned long long)a);
    return buf;
}

double map_pct(double x)
{
    return 100.0 * x;
}

void map_counts(const struct view *v, uint64_t *used, uint64_t *freeb)
{
    *used = *freeb = 0;
    for (size_t i = 0; i < v->map.n; i++) {
        if (v->map.blocks[i].state == GH_SHM_BLOCK_FREE)
            (*freeb)++;
        else
            (*used)++; /* cached blocks are in use in the heap */
    }
}

bool map_has_cached(const struct view *v)
{
    for (size_t i = 0; i < v->map.n; i++)
        if (v->map.blocks[i].state == GH_SHM_BLOCK_CACHED)
            return true;
    return false;
}

const char *map_state_name(uint32_t state)
{
    return state == GH_SHM_BLOCK_FREE ? "free" : state == GH_SHM_BLOCK_CACHED ? "cached" : "used";
}

/* The counters as a few lines (also when the map did not come). */
void map_counters_summary(FILE *f, const struct gh_shm_config *cfg, const struct gh_shm_counters *c,
                             const struct ghr_frag *fr)
{
    char a[32], b[32], d[32], e[32], policy[GH_ESC_BUF(sizeof cfg->policy)];
    fprintf(f, "  policy %s; heap %s in %llu region%s\n", gh_esc_text(cfg->policy, policy, sizeof policy),
            cli_bytes(c->heap_bytes, a, sizeof a),
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
            map_pct(fr->utilisation), map_pct(fr->internal), map_pct(fr->external));
    uint64_t now_ns = gh_now_ns(); /* the writer's clock too */
    if (c->time_ns && c->time_ns <= now_ns)
        fprintf(f, "  (as published %.1f s ago; the library publishes every %u allocator calls)\n",
                (double)(now_ns - c->time_ns) / 1e9, GH_SHM_PUBLISH_EVERY);
    else
        fprintf(f, "  (as last published)\n");
}

/* ---- pieces: the heap cut into runs of one kind ------------------------ */

bool map_build_pieces(struct view *v)
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
            } else if (b->state == GH_SHM_BLOCK_CACHED) {
                ADD(b->addr, end, K_CACHED, (long)i);
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
size_t map_piece_at(const struct view *v, uint64_t a)
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

uint64_t map_row_of(const struct rows *g, uint64_t a)
{
    return (a - g->origin) / g->row_bytes;
}

uint64_t map_row_start(const struct rows *g, uint64_t row)
{
    return g->origin + row * g->row_bytes;
}

/* Call fn for each row that holds heap, in order (map.h). */
void map_each_row(const struct view *v, const struct rows *g, row_fn fn, void *ctx)
{
    bool any = false;
    uint64_t last = 0, prev_end = 0;
    for (size_t r = 0; r < v->map.nregions; r++) {
        const struct hm_region *reg = &v->map.regions[r];
        if (reg->end <= reg->start)
            continue;
        uint64_t a = map_row_of(g, reg->start), b = map_row_of(g, reg->end - 1);
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

/* What fills most of [lo, hi): ties go to used, then header, then free,
 * then nothing.  *p: a piece index at or before the first piece that can
 * overlap (advanced; calls must come in address order). */
enum kind map_dominant(const struct view *v, size_t *p, uint64_t lo, uint64_t hi)
{
    uint64_t bytes[K_KINDS] = { 0 };
    while (*p < v->npieces && v->pieces[*p].end <= lo)
        (*p)++;
    for (size_t q = *p; q < v->npieces && v->pieces[q].start < hi; q++) {
        uint64_t s = v->pieces[q].start > lo ? v->pieces[q].start : lo;
        uint64_t e = v->pieces[q].end < hi ? v->pieces[q].end : hi;
        bytes[v->pieces[q].kind] += e - s;
    }
    bytes[K_NONE] = (hi - lo) - bytes[K_USED] - bytes[K_WASTE] - bytes[K_FREE] - bytes[K_CACHED];
    static const enum kind order[] = { K_USED, K_WASTE, K_FREE, K_CACHED, K_NONE };
    enum kind best = K_USED;
    for (size_t i = 1; i < sizeof order / sizeof order[0]; i++)
        if (bytes[order[i]] > bytes[best])
            best = order[i];
    return best;
}


uint64_t map_heap_span(const struct view *v)
{
    return v->map.n ? v->map.heap_end - v->map.heap_start : 0;
}

uint64_t map_heap_bytes(const struct view *v)
{
    uint64_t n = 0;
    for (size_t r = 0; r < v->map.nregions; r++)
        n += v->map.regions[r].end - v->map.regions[r].start;
    return n;
}

size_t map_arenas(const struct view *v, struct map_arena *out, size_t cap)
{
    if (!v->map.arenas_known)
        return 0;
    size_t n = 0;
    for (size_t r = 0; r < v->map.nregions; r++) {
        const struct hm_region *g = &v->map.regions[r];
        size_t k = 0;
        while (k < n && out[k].arena != g->arena)
            k++;
        if (k == n) {
            if (n == cap)
                continue;
            /* kept in arena order */
            k = 0;
            while (k < n && out[k].arena < g->arena)
                k++;
            memmove(out + k + 1, out + k, (n - k) * sizeof *out);
            memset(&out[k], 0, sizeof out[k]);
            out[k].arena = g->arena;
            n++;
        }
        struct map_arena *a = &out[k];
        a->regions++;
        a->heap_bytes += g->end - g->start;
        for (size_t i = g->first; i < g->first + g->n && i < v->map.n; i++) {
            const struct gh_shm_block *b = &v->map.blocks[i];
            if (b->state == GH_SHM_BLOCK_FREE) {
                a->free_blocks++;
                a->free_bytes += b->size;
                if (b->size > a->largest_free)
                    a->largest_free = b->size;
            } else {
                a->used_blocks++;
                a->used_bytes += b->size;
            }
        }
    }
    return n;
}

double map_arena_external(const struct map_arena *a)
{
    return gh_frag_value(gh_frag_external(a->largest_free, a->free_bytes));
}


/* ---- large blocks ------------------------------------------------------ */

static int cmp_large(const void *a, const void *b)
{
    const struct gh_shm_large_block *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int map_fetch_large(struct view *v, const struct ghr_segment *seg)
{
    const struct gh_shm_header *h = ghr_header(seg);
    if (!h || h->large_offset == 0)
        return GHR_OK;
    size_t cap = h->large_capacity, n = 0;
    v->large = calloc(cap ? cap : 1, sizeof *v->large);
    if (!v->large)
        return GHR_IO;
    uint64_t total = 0;
    int rc = ghr_large(seg, v->large, cap, &n, &total);
    if (rc != GHR_OK)
        return rc;
    qsort(v->large, n, sizeof *v->large, cmp_large);
    v->nlarge = n;
    v->large_total = total;
    v->large_bytes = 0;
    for (size_t i = 0; i < n; i++)
        v->large_bytes += v->large[i].map_len;
    return GHR_OK;
}
