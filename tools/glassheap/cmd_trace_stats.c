/* cmd_trace_stats.c - glassheap trace-stats: what a trace asks of an allocator.
 *
 *   glassheap trace-stats FILE [--json]
 *
 * Policy-free figures, from the operations alone (no heap is run):
 *   - the operation mix: allocations, reallocs, frees, and for binary
 *     traces the calls (malloc, calloc, memalign family, realloc, free),
 *     the calls that failed, the threads;
 *   - a size histogram of the requests (allocations and realloc sizes) by
 *     powers of two;
 *   - a lifetime histogram by powers of two, lifetime counted in
 *     operations from a block's allocation to its free (a realloc keeps the
 *     block alive), and the blocks never freed;
 *   - peak live: the most bytes the program held at once (every block, and
 *     the heap blocks alone: below the mmap threshold, as the library counts
 *     its peak_requested), the most blocks, and when.  A realloc changes a
 *     block's size in one step here; a replay that moves the block holds
 *     both copies for a moment, so its peak can be a little higher.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "cli.h"
#include "escape.h"
#include "trace_args.h"
#include "tracefile.h"

#define NBUCKETS 49   /* 0, then [2^k, 2^(k+1)) for k = 0..47 */
#define BAR_WIDTH 40

struct stats {
    uint64_t allocs, reallocs, frees;
    uint64_t calls[6];               /* by enum gh_trace_op (binary) */
    tf_sum bytes_allocated;          /* sizes of allocations and of growing reallocs */
    uint64_t size_hist[NBUCKETS];
    uint64_t life_hist[NBUCKETS];
    uint64_t never_freed;
    tf_sum peak_live, peak_heap_live; /* 128 bits: cannot wrap */
    uint64_t peak_blocks;
    size_t peak_live_op, peak_heap_op;
    uint64_t threads;
    uint64_t duration_ns;
    uint64_t min_size, max_size;
};

static unsigned bucket(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0u; /* 1 -> 1, 2..3 -> 2, ... */
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static bool compute(const struct tf_trace *t, uint64_t threshold, struct stats *s)
{
    memset(s, 0, sizeof *s);
    size_t nid = t->nids ? t->nids : 1;
    uint64_t *size = calloc(nid, sizeof *size);
    size_t *born = calloc(nid, sizeof *born);
    uint8_t *live = calloc(nid, 1);
    uint32_t *tids = calloc(t->n ? t->n : 1, sizeof *tids);
    if (!size || !born || !live || !tids) {
        free(size);
        free(born);
        free(live);
        free(tids);
        return false;
    }
    tf_sum cur = 0, cur_heap = 0;
    uint64_t blocks = 0;
    s->min_size = UINT64_MAX;
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        tids[i] = op->tid;
        if (op->call < 6)
            s->calls[op->call]++;
        if (op->time_ns > s->duration_ns)
            s->duration_ns = op->time_ns;
        uint64_t old = live[op->id] ? size[op->id] : 0;
        cur -= old;
        if (old < threshold)
            cur_heap -= old;
        switch (op->kind) {
        case TF_ALLOC:
            s->allocs++;
            live[op->id] = 1;
            born[op->id] = i;
            blocks++;
            s->bytes_allocated += op->size;
            break;
        case TF_REALLOC:
            s->reallocs++;
            if (op->size > old)
                s->bytes_allocated += op->size - old;
            break;
        default:
            s->frees++;
            live[op->id] = 0;
            blocks--;
            s->life_hist[bucket(i - born[op->id])]++;
            break;
        }
        if (op->kind != TF_FREE) {
            size[op->id] = op->size;
            s->size_hist[bucket(op->size)]++;
            if (op->size < s->min_size)
                s->min_size = op->size;
            if (op->size > s->max_size)
                s->max_size = op->size;
            cur += op->size;
            if (op->size < threshold)
                cur_heap += op->size;
        }
        if (cur > s->peak_live) {
            s->peak_live = cur;
            s->peak_live_op = i + 1;
        }
        if (cur_heap > s->peak_heap_live) {
            s->peak_heap_live = cur_heap;
            s->peak_heap_op = i + 1;
        }
        if (blocks > s->peak_blocks)
            s->peak_blocks = blocks;
    }
    for (size_t id = 0; id < nid; id++)
        s->never_freed += live[id];
    if (s->min_size == UINT64_MAX)
        s->min_size = 0;
    if (t->format == TF_BINARY && t->n) {
        qsort(tids, t->n, sizeof *tids, cmp_u32);
        for (size_t i = 0; i < t->n; i++)
            s->threads += !i || tids[i] != tids[i - 1];
    }
    free(size);
    free(born);
    free(live);
    free(tids);
    return true;
}

/* The range a bucket covers, as text: "0", "1", "2-3", "4-7", ... */
static const char *bucket_range(unsigned b, char *buf, size_t cap, bool bytes)
{
    char lo[32], hi[32];
    if (b == 0) {
        snprintf(buf, cap, "0");
        return buf;
    }
    uint64_t l = (uint64_t)1 << (b - 1), h = ((uint64_t)1 << b) - 1;
    if (bytes && l >= 1024) {
        cli_bytes(l, lo, sizeof lo);
        cli_bytes(h + 1, hi, sizeof hi);
        snprintf(buf, cap, "%s - <%s", lo, hi);
    } else if (l == h) {
        snprintf(buf, cap, "%" PRIu64, l);
    } else {
        snprintf(buf, cap, "%" PRIu64 "-%" PRIu64, l, h);
    }
    return buf;
}

static void print_hist(const char *title, const uint64_t *hist, bool bytes)
{
    unsigned lo = NBUCKETS, hi = 0;
    uint64_t max = 0;
    for (unsigned b = 0; b < NBUCKETS; b++)
        if (hist[b]) {
            lo = b < lo ? b : lo;
            hi = b;
            max = hist[b] > max ? hist[b] : max;
        }
    printf("\n%s\n", title);
    if (!max) {
        printf("  (none)\n");
        return;
    }
    for (unsigned b = lo; b <= hi; b++) {
        char r[96];
        int w = (int)((hist[b] * BAR_WIDTH + max - 1) / max);
        printf("  %-22s %10" PRIu64 "  ", bucket_range(b, r, sizeof r, bytes), hist[b]);
        for (int k = 0; k < w; k++)
            putchar('#');
        putchar('\n');
    }
}

static void json_hist(const char *name, const uint64_t *hist)
{
    printf(",\"%s\":[", name);
    bool first = true;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        if (!hist[b])
            continue;
        uint64_t lo = b ? (uint64_t)1 << (b - 1) : 0, hi = b ? ((uint64_t)1 << b) - 1 : 0;
        printf("%s{\"min\":%" PRIu64 ",\"max\":%" PRIu64 ",\"count\":%" PRIu64 "}", first ? "" : ",", lo, hi,
               hist[b]);
        first = false;
    }
    printf("]");
}

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap trace-stats FILE [--json] [--mmap-threshold BYTES]\n\n"
            "Summarises an allocation trace (binary or malloc-lab .rep) without running a\n"
            "heap: operation mix, request sizes and block lifetimes (histograms by powers of\n"
            "two; lifetimes in operations), and peak live bytes (all blocks, and the heap\n"
            "blocks below the mmap threshold, as the library counts them).\n");
}

int cmd_trace_stats(int argc, char **argv)
{
    struct trace_args a;
    int rc = trace_args_parse(argc, argv, "trace-stats", NULL, help, &a);
    if (rc >= 0)
        return rc;
    struct tf_trace t;
    if ((rc = trace_args_load(&a, &t)) >= 0)
        return rc;
    const char *path = a.path;
    uint64_t threshold = a.threshold;
    bool json = a.json;
    struct stats s;
    if (!compute(&t, threshold, &s)) {
        cli_error("trace-stats: out of memory");
        tf_free(&t);
        return GH_EXIT_FAIL;
    }
    if (json) {
        printf("{\"trace\":{\"file\":");
        cli_json_string(stdout, path);
        printf(",\"format\":\"%s\",\"operations\":%zu,\"ids\":%" PRIu32 ",\"mmap_threshold\":%" PRIu64, tf_format_name(&t),
               t.n, t.nids, threshold);
        if (t.format == TF_BINARY) {
            printf(",\"pid\":%" PRId32 ",\"policy\":", t.pid);
            cli_json_string(stdout, t.policy);
            printf(",\"cmdline\":");
            cli_json_string(stdout, t.cmdline);
            printf(",\"threads\":%" PRIu64 ",\"duration_ns\":%" PRIu64, s.threads, s.duration_ns);
        }
        printf("},\"ops\":{\"alloc\":%" PRIu64 ",\"realloc\":%" PRIu64 ",\"free\":%" PRIu64 ",\"failed\":%" PRIu64,
               s.allocs, s.reallocs, s.frees, t.failed);
        if (t.format == TF_BINARY)
            printf(",\"calls\":{\"malloc\":%" PRIu64 ",\"calloc\":%" PRIu64 ",\"realloc\":%" PRIu64
                   ",\"free\":%" PRIu64 ",\"aligned\":%" PRIu64 "}",
                   s.calls[GH_TRACE_MALLOC], s.calls[GH_TRACE_CALLOC], s.calls[GH_TRACE_REALLOC],
                   s.calls[GH_TRACE_FREE], s.calls[GH_TRACE_ALIGNED]);
        char d1[48], d2[48], d3[48];
        printf("},\"sizes\":{\"min\":%" PRIu64 ",\"max\":%" PRIu64 ",\"bytes_allocated\":%s}", s.min_size,
               s.max_size, decimal_wide(s.bytes_allocated, d1, sizeof d1));
        printf(",\"peak\":{\"live_requested\":%s,\"at_op\":%zu,\"heap_requested\":%s"
               ",\"heap_at_op\":%zu,\"blocks\":%" PRIu64 "}",
               decimal_wide(s.peak_live, d2, sizeof d2), s.peak_live_op, decimal_wide(s.peak_heap_live, d3, sizeof d3),
               s.peak_heap_op, s.peak_blocks);
        json_hist("size_histogram", s.size_hist);
        json_hist("lifetime_histogram", s.life_hist);
        printf(",\"never_freed\":%" PRIu64 "}\n", s.never_freed);
    } else {
        char b1[32], b2[32], policy[GH_ESC_BUF(sizeof t.policy)], cmd[GH_ESC_BUF(sizeof t.cmdline)];
        printf("trace ");
        gh_esc_fputs(stdout, path);
        printf(": %s, %zu operations, %" PRIu32 " ids\n", tf_format_name(&t), t.n, t.nids);
        if (t.format == TF_BINARY)
            printf("recorded from pid %" PRId32 " under %s, %" PRIu64 " thread%s, %.3f s: %s\n", t.pid,
                   t.policy[0] ? gh_esc_text(t.policy, policy, sizeof policy) : "?", s.threads,
                   s.threads == 1 ? "" : "s", (double)s.duration_ns * 1e-9, gh_esc_text(t.cmdline, cmd, sizeof cmd));
        printf("\noperations: %" PRIu64 " allocations, %" PRIu64 " reallocs, %" PRIu64 " frees", s.allocs, s.reallocs,
               s.frees);
        if (t.failed)
            printf(" (%" PRIu64 " failed calls left out)", t.failed);
        printf("\n");
        if (t.format == TF_BINARY)
            printf("calls:      malloc %" PRIu64 ", calloc %" PRIu64 ", realloc %" PRIu64 ", free %" PRIu64
                   ", aligned %" PRIu64 "\n",
                   s.calls[GH_TRACE_MALLOC], s.calls[GH_TRACE_CALLOC], s.calls[GH_TRACE_REALLOC],
                   s.calls[GH_TRACE_FREE], s.calls[GH_TRACE_ALIGNED]);
        char d1[48], d2[48];
        printf("sizes:      %" PRIu64 " to %" PRIu64 " B, %s allocated in all\n", s.min_size, s.max_size,
               human_bytes_wide(s.bytes_allocated, b1, sizeof b1));
        printf("peak live:  %s (%s B) after operation %zu; heap blocks (below %s): %s"
               " B after operation %zu; at most %" PRIu64 " blocks\n",
               human_bytes_wide(s.peak_live, b1, sizeof b1), decimal_wide(s.peak_live, d1, sizeof d1), s.peak_live_op,
               cli_bytes(threshold, b2, sizeof b2), decimal_wide(s.peak_heap_live, d2, sizeof d2), s.peak_heap_op,
               s.peak_blocks);
        print_hist("request sizes (bytes):", s.size_hist, true);
        print_hist("lifetimes (operations from allocation to free):", s.life_hist, false);
        printf("  %-22s %10" PRIu64 "\n", "never freed", s.never_freed);
    }
    tf_free(&t);
    return GH_EXIT_OK;
}
