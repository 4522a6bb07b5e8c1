/* malloc_info.c - the inspection calls glassheap exports, and the segment.
 *
 * Owns: mallinfo, mallinfo2, mallopt, malloc_stats, the glassheap_*
 * extensions (version, policy, check, counters), the snapshot of every
 * counter they read, writing the exit summary, and publishing the segment
 * (counters every GH_SHM_PUBLISH_EVERY calls, a heap map on request).
 * Never: allocates or frees.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "exports.h"
#include "harden.h"
#include "glassheap.h"
#include "os.h"

static void snapshot_locked(struct gh_stats_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->pid = (long)getpid();
    s->policy = gh_heap_policy_name(&G.heap);
    s->mmap_threshold = G.front.mmap_threshold;
    s->calls = G.calls;
    s->heap = G.heap.c;
    s->free_blocks = gh_heap_free_blocks(&G.heap);
    s->largest_free = gh_heap_largest_free(&G.heap);
    s->large_blocks = G.front.large.live_blocks;
    s->large_bytes = G.front.large.live_bytes;
    s->large_requested = G.front.large.live_requested;
    s->large_peak_bytes = G.front.large.peak_bytes;
    gh_harden_account(&s->harden, &s->heap);
    gh_os_counts(&s->os);
}

/* Lock held: publish the counters, then write the heap map if asked (in
 * that order: a reader woken by the map's answer finds counters as fresh). */
void gh_exports_shm_service(void)
{
    struct gh_stats_snapshot s;
    snapshot_locked(&s);
    gh_shm_publish(&G.shm, &s, &G.heap);
    if (__atomic_load_n(&G.shm.map->request, __ATOMIC_RELAXED) != G.shm.map->answered)
        gh_shm_write_map(&G.shm, &G.heap);
}

static void snapshot(struct gh_stats_snapshot *s)
{
    ensure_init();
    enter();
    snapshot_locked(s);
    leave();
}

static int clamp_int(uint64_t v)
{
    return v > INT32_MAX ? INT32_MAX : (int)v;
}

GH_EXPORT struct mallinfo2 mallinfo2(void)
{
    struct gh_stats_snapshot s;
    snapshot(&s);
    struct mallinfo2 m = { 0 };
    m.arena = s.heap.heap_bytes;
    m.ordblks = s.free_blocks;
    m.hblks = s.large_blocks;
    m.hblkhd = s.large_bytes;
    m.usmblks = 0;
    m.uordblks = s.heap.live_block_bytes;
    m.fordblks = s.heap.free_bytes;
    m.keepcost = s.largest_free;
    return m;
}

GH_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo m = { 0 };
    m.arena = clamp_int(m2.arena);
    m.ordblks = clamp_int(m2.ordblks);
    m.hblks = clamp_int(m2.hblks);
    m.hblkhd = clamp_int(m2.hblkhd);
    m.uordblks = clamp_int(m2.uordblks);
    m.fordblks = clamp_int(m2.fordblks);
    m.keepcost = clamp_int(m2.keepcost);
    return m;
}

GH_EXPORT int mallopt(int param, int value)
{
    ensure_init();
    int ok = 1;
    enter();
    switch (param) {
    case M_MMAP_THRESHOLD:
        if (value < 0)
            ok = 0;
        else /* the front end decides by it; the segment and trace show it */
            G.cfg.mmap_threshold = G.front.mmap_threshold = (size_t)value;
        break;
    case M_TRIM_THRESHOLD:
        if (value < 0)
            ok = 0;
        else {
            G.heap.trim_threshold = (size_t)value;
            G.heap.trim_adaptive = false; /* the program chose: keep it */
        }
        break;
    case M_TOP_PAD:
        if (value < 0)
            ok = 0;
        else
            G.heap.top_pad = (size_t)value;
        break;
    case M_MMAP_MAX: case M_ARENA_MAX: case M_ARENA_TEST: case M_PERTURB:
    case M_CHECK_ACTION: case M_MXFAST:
        break; /* accepted, no meaning for glassheap */
    default:
        ok = 0;
    }
    leave();
    return ok;
}

void gh_exports_write_summary(int fd, enum gh_stats_mode mode)
{
    static char buf[4096];
    struct gh_stats_snapshot s;
    snapshot(&s);
    gh_stats_format(buf, sizeof buf, mode, &s);
    gh_write_str(fd, buf);
}

GH_EXPORT void malloc_stats(void)
{
    gh_exports_write_summary(2, GH_STATS_TEXT);
}

/* ---- glassheap extensions -------------------------------------------- */

GH_EXPORT const char *glassheap_version(void)
{
    return GLASSHEAP_VERSION;
}

GH_EXPORT const char *glassheap_policy(void)
{
    ensure_init();
    return gh_heap_policy_name(&G.heap);
}

GH_EXPORT int glassheap_check(void)
{
    const char *why = NULL;
    const void *where = NULL;
    ensure_init();
    enter();
    bool ok = gh_heap_check(&G.heap, &why, &where) && gh_tree_check(&G.front.large.tree, &why);
    leave();
    if (!ok) {
        char hex[24];
        gh_fmt_hex(hex, (unsigned long)where);
        gh_write_str(2, "glassheap: heap check failed: ");
        gh_write_str(2, why ? why : "?");
        gh_write_str(2, " at ");
        gh_write_str(2, hex);
        gh_write_str(2, "\n");
    }
    return ok;
}

GH_EXPORT int glassheap_counters(struct glassheap_counters *out, size_t size)
{
    if (size < sizeof *out)
        return -1;
    struct gh_stats_snapshot s;
    snapshot(&s);
    memset(out, 0, size);
    out->malloc_calls = s.calls.malloc;
    out->calloc_calls = s.calls.calloc;
    out->realloc_calls = s.calls.realloc;
    out->free_calls = s.calls.free;
    out->aligned_calls = s.calls.aligned;
    out->failed_calls = s.calls.failed;
    out->live_requested = s.heap.live_requested + s.large_requested;
    out->live_block_bytes = s.heap.live_block_bytes;
    out->live_blocks = s.heap.live_blocks + s.large_blocks;
    out->free_bytes = s.heap.free_bytes;
    out->free_blocks = s.free_blocks;
    out->largest_free = s.largest_free;
    out->heap_bytes = s.heap.heap_bytes;
    out->large_bytes = s.large_bytes;
    out->large_blocks = s.large_blocks;
    out->peak_requested = s.heap.peak_requested;
    out->peak_heap_bytes = s.heap.peak_heap_bytes;
    return 0;
}
