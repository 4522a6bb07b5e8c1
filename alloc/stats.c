/* stats.c - the exit summary, formatted without stdio or allocation.
 *
 * In hardened mode the heap's live figures are the program's (harden.h's
 * gh_harden_account): quarantined blocks are their own term, so
 * live + quarantined + free + overhead = heap still holds; so are the
 * blocks the threads' caches hold (tcache.h), with a line of their own.
 *
 * The fragmentation figures come from include/glassheap/frag.h, the one
 * place they are defined; the version from the generated
 * glassheap/version.h.  Also glibc's malloc_stats() layout, which
 * malloc_stats() prints before the summary.
 */
#include "stats.h"

#include <string.h>

#include "error.h"
#include "glassheap/frag.h"
#include "glassheap/version.h"

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *s)
{
    size_t l = strlen(s);
    if (o->len + l >= o->cap)
        l = o->cap - 1 - o->len;
    memcpy(o->buf + o->len, s, l);
    o->len += l;
    o->buf[o->len] = '\0';
}

static void put_u(struct out *o, uint64_t v)
{
    char num[24];
    gh_fmt_dec(num, (unsigned long)v);
    put(o, num);
}

/* A ratio as a percentage with one decimal ("12.5%"); "-" when it has no whole. */
static void put_pct(struct out *o, struct gh_frag_ratio r)
{
    uint64_t a = r.part, b = r.whole;
    if (b == 0) {
        put(o, "-");
        return;
    }
    uint64_t tenths = (uint64_t)((a * 1000.0) / b + 0.5);
    put_u(o, tenths / 10);
    put(o, ".");
    put_u(o, tenths % 10);
    put(o, "%");
}

static void kv(struct out *o, const char *key, uint64_t v, int last)
{
    put(o, "\"");
    put(o, key);
    put(o, "\":");
    put_u(o, v);
    if (!last)
        put(o, ",");
}

static void json(struct out *o, const struct gh_stats_snapshot *s)
{
    put(o, "{\"glassheap\":\"" GLASSHEAP_VERSION "\",");
    kv(o, "pid", (uint64_t)s->pid, 0);
    put(o, "\"policy\":\"");
    put(o, s->policy);
    put(o, "\",");
    kv(o, "mmap_threshold", s->mmap_threshold, 0);
    kv(o, "mmap_threshold_dynamic", s->threshold_dynamic, 0);
    kv(o, "mmap_threshold_rises", s->threshold_rises, 0);
    put(o, "\"calls\":{");
    kv(o, "malloc", s->calls.malloc, 0);
    kv(o, "calloc", s->calls.calloc, 0);
    kv(o, "realloc", s->calls.realloc, 0);
    kv(o, "free", s->calls.free, 0);
    kv(o, "aligned", s->calls.aligned, 0);
    kv(o, "failed", s->calls.failed, 0);
    kv(o, "realloc_in_place", s->calls.realloc_in_place, 0);
    kv(o, "realloc_moved", s->calls.realloc_moved, 1);
    put(o, "},\"heap\":{");
    kv(o, "live_requested", s->heap.live_requested, 0);
    kv(o, "live_block_bytes", s->heap.live_block_bytes, 0);
    kv(o, "live_blocks", s->heap.live_blocks, 0);
    kv(o, "free_bytes", s->heap.free_bytes, 0);
    kv(o, "free_blocks", s->free_blocks, 0);
    kv(o, "largest_free", s->largest_free, 0);
    kv(o, "heap_bytes", s->heap.heap_bytes, 0);
    kv(o, "overhead_bytes", s->heap.overhead_bytes, 0);
    kv(o, "peak_requested", s->heap.peak_requested, 0);
    kv(o, "peak_heap_bytes", s->heap.peak_heap_bytes, 0);
    kv(o, "regions_added", s->heap.regions_added, 0);
    kv(o, "trims", s->heap.trims, 0);
    kv(o, "trimmed_bytes", s->heap.trimmed_bytes, 1);
    put(o, "},\"large\":{");
    kv(o, "live_blocks", s->large_blocks, 0);
    kv(o, "live_bytes", s->large_bytes, 0);
    kv(o, "live_requested", s->large_requested, 0);
    kv(o, "peak_bytes", s->large_peak_bytes, 0);
    kv(o, "cached_blocks", s->large_cached_blocks, 0);
    kv(o, "cached_bytes", s->large_cached_bytes, 0);
    kv(o, "reused", s->large_reused, 1);
    put(o, "},\"os\":{");
    kv(o, "brk_calls", s->os.brk_calls, 0);
    kv(o, "brk_grow_bytes", s->os.brk_grow_bytes, 0);
    kv(o, "brk_shrink_bytes", s->os.brk_shrink_bytes, 0);
    kv(o, "mmap_calls", s->os.mmap_calls, 0);
    kv(o, "mmap_bytes", s->os.mmap_bytes, 0);
    kv(o, "munmap_calls", s->os.munmap_calls, 0);
    kv(o, "mremap_calls", s->os.mremap_calls, 0);
    kv(o, "mremap_bytes", s->os.mremap_bytes, 0);
    kv(o, "madvise_calls", s->os.madvise_calls, 0);
    kv(o, "mprotect_calls", s->os.mprotect_calls, 1);
    put(o, "},\"harden\":{");
    kv(o, "on", s->harden.on, 0);
    kv(o, "quarantined_blocks", s->harden.quarantined_blocks, 0);
    kv(o, "quarantined_bytes", s->harden.quarantined_bytes, 0);
    kv(o, "quarantined_requested", s->harden.quarantined_requested, 0);
    kv(o, "canary_bytes", s->harden.canary_bytes, 0);
    kv(o, "zero_blocks", s->harden.zero_blocks, 1);
    put(o, "},");
    kv(o, "arenas", s->arenas, 0);
    kv(o, "handed", s->handed, 0);
    put(o, "\"cache\":{");
    kv(o, "on", (uint64_t)s->cache_on, 0);
    kv(o, "cached_blocks", s->cache.blocks, 0);
    kv(o, "cached_bytes", s->cache.bytes, 0);
    kv(o, "cached_requested", s->cache.requested, 0);
    kv(o, "hits", s->cache.hits, 0);
    kv(o, "puts", s->cache.puts, 0);
    kv(o, "flushed", s->cache.flushed, 0);
    kv(o, "threads", s->cache.threads, 1);
    put(o, "}}\n");
}

static void text(struct out *o, const struct gh_stats_snapshot *s)
{
    put(o, "glassheap: pid ");
    put_u(o, (uint64_t)s->pid);
    put(o, ", policy ");
    put(o, s->policy);
    put(o, "\nglassheap: calls: malloc ");
    put_u(o, s->calls.malloc);
    put(o, ", calloc ");
    put_u(o, s->calls.calloc);
    put(o, ", realloc ");
    put_u(o, s->calls.realloc);
    put(o, ", free ");
    put_u(o, s->calls.free);
    put(o, ", aligned ");
    put_u(o, s->calls.aligned);
    put(o, ", failed ");
    put_u(o, s->calls.failed);
    put(o, "\nglassheap: heap ");
    put_u(o, s->heap.heap_bytes);
    put(o, " B (peak ");
    put_u(o, s->heap.peak_heap_bytes);
    put(o, " B), live ");
    put_u(o, s->heap.live_requested);
    put(o, " B requested in ");
    put_u(o, s->heap.live_blocks);
    put(o, " blocks, free ");
    put_u(o, s->heap.free_bytes);
    put(o, " B in ");
    put_u(o, s->free_blocks);
    put(o, " blocks\n");
    if (s->harden.on) {
        put(o, "glassheap: hardened: quarantined ");
        put_u(o, s->harden.quarantined_bytes);
        put(o, " B in ");
        put_u(o, s->harden.quarantined_blocks);
        put(o, " blocks, canaries ");
        put_u(o, s->harden.canary_bytes);
        put(o, " B, zero-size blocks ");
        put_u(o, s->harden.zero_blocks);
        put(o, "\n");
    }
    if (s->cache_on || s->arenas > 1) {
        put(o, "glassheap: arenas ");
        put_u(o, s->arenas);
        put(o, ", thread caches ");
        put(o, s->cache_on ? "on" : "off");
        put(o, ": cached ");
        put_u(o, s->cache.bytes);
        put(o, " B in ");
        put_u(o, s->cache.blocks);
        put(o, " blocks, hits ");
        put_u(o, s->cache.hits);
        put(o, ", flushed ");
        put_u(o, s->cache.flushed);
        put(o, "; handed to their arena by other threads ");
        put_u(o, s->handed);
        put(o, "\n");
    }
    put(o, "glassheap: large blocks ");
    put_u(o, s->large_blocks);
    put(o, " (");
    put_u(o, s->large_bytes);
    put(o, " B mapped), mmap threshold ");
    put_u(o, s->mmap_threshold);
    put(o, s->threshold_dynamic ? " B (dynamic, raised " : " B (fixed, raised ");
    put_u(o, s->threshold_rises);
    put(o, s->threshold_rises == 1 ? " time)" : " times)");
    put(o, "\nglassheap: freed mappings cached ");
    put_u(o, s->large_cached_blocks);
    put(o, " (");
    put_u(o, s->large_cached_bytes);
    put(o, " B), reused ");
    put_u(o, s->large_reused);
    put(o, s->large_reused == 1 ? " time" : " times");
    put(o, "\nglassheap: internal fragmentation ");
    put_pct(o, gh_frag_internal(s->heap.live_requested, s->heap.live_block_bytes));
    put(o, ", external fragmentation ");
    put_pct(o, gh_frag_external(s->largest_free, s->heap.free_bytes));
    put(o, ", utilisation ");
    put_pct(o, gh_frag_utilisation(s->heap.live_requested, s->heap.heap_bytes));
    put(o, "\nglassheap: system calls: brk ");
    put_u(o, s->os.brk_calls);
    put(o, ", mmap ");
    put_u(o, s->os.mmap_calls);
    put(o, ", munmap ");
    put_u(o, s->os.munmap_calls);
    put(o, ", mremap ");
    put_u(o, s->os.mremap_calls);
    put(o, "\n");
}

size_t gh_stats_format(char *buf, size_t cap, enum gh_stats_mode mode, const struct gh_stats_snapshot *s)
{
    struct out o = { buf, cap, 0 };
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    if (mode == GH_STATS_JSON)
        json(&o, s);
    else
        text(&o, s);
    return o.len;
}

/* "label = %10lu\n": the number right-aligned in ten columns, as glibc. */
static void glibc_line(struct out *o, const char *label, uint64_t v)
{
    char num[24];
    size_t l = (size_t)gh_fmt_dec(num, (unsigned long)v);
    put(o, label);
    put(o, " = ");
    for (; l < 10; l++)
        put(o, " ");
    put(o, num);
    put(o, "\n");
}

size_t gh_stats_format_glibc(char *buf, size_t cap, const struct gh_stats_snapshot *s)
{
    struct out o = { buf, cap, 0 };
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    put(&o, "Arena 0:\n");
    glibc_line(&o, "system bytes    ", s->heap.heap_bytes);
    glibc_line(&o, "in use bytes    ", s->heap.live_block_bytes);
    put(&o, "Total (incl. mmap):\n");
    /* The system holds the cached mappings too (free, not in use). */
    glibc_line(&o, "system bytes    ", s->heap.heap_bytes + s->large_bytes + s->large_cached_bytes);
    glibc_line(&o, "in use bytes    ", s->heap.live_block_bytes + s->large_bytes);
    glibc_line(&o, "max mmap regions", s->large_peak_blocks);
    glibc_line(&o, "max mmap bytes  ", s->large_peak_bytes);
    return o.len;
}
