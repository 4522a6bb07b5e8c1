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
#include <pthread.h>
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
    s->mmap_threshold = gh_front_threshold(&G.front);
    s->threshold_dynamic = G.front.threshold_dynamic;
    s->threshold_rises = G.front.threshold_rises;
    s->calls = G.calls;
    s->heap = G.heap.c;
    s->free_blocks = gh_heap_free_blocks(&G.heap);
    s->largest_free = gh_heap_largest_free(&G.heap);
    s->large_blocks = G.front.large.live_blocks;
    s->large_bytes = G.front.large.live_bytes;
    s->large_requested = G.front.large.live_requested;
    s->large_peak_bytes = G.front.large.peak_bytes;
    s->large_peak_blocks = G.front.large.peak_blocks;
    s->large_cached_blocks = __atomic_load_n(&G.front.cache.blocks, __ATOMIC_RELAXED);
    s->large_cached_bytes = __atomic_load_n(&G.front.cache.bytes, __ATOMIC_RELAXED);
    s->large_reused = G.front.large_reused;
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

/* glibc 2.36's limits: M_MXFAST up to MAX_FAST_SIZE (80 * sizeof(size_t)
 * / 4), M_MMAP_THRESHOLD up to GH_MMAP_THRESHOLD_MAX (front.h). */
#define GH_MXFAST_MAX        (80 * sizeof(size_t) / 4)
/* Top pads past this are kept at it (grow() adds the pad to a request; a
 * pad this large is never had and the request is retried without it). */
#define GH_TOP_PAD_MAX ((size_t)PTRDIFF_MAX / 4)

/* mallopt as glibc 2.36 answers it: 1 for done (and for a parameter it
 * does not know), 0 for a value out of range.  As in glibc, an int
 * argument is taken as a size_t where the parameter is a size (so -1 is
 * "as large as can be"), and setting a threshold, the top pad or the
 * mapping count turns the dynamic mmap threshold off (front.h). */
GH_EXPORT int mallopt(int param, int value)
{
    ensure_init();
    size_t v = (size_t)(ssize_t)value;
    int ok = 1;
    enter();
    switch (param) {
    case M_MXFAST:
        ok = v <= GH_MXFAST_MAX; /* accepted; glassheap has no fast bins */
        break;
    case M_TRIM_THRESHOLD:
        G.heap.trim_threshold = v;
        G.heap.trim_adaptive = false; /* the program chose: keep it */
        gh_front_set_dynamic(&G.front, false);
        break;
    case M_TOP_PAD:
        G.heap.top_pad = v < GH_TOP_PAD_MAX ? v : GH_TOP_PAD_MAX;
        gh_front_set_dynamic(&G.front, false);
        break;
    case M_MMAP_THRESHOLD:
        if (v <= GH_MMAP_THRESHOLD_MAX) { /* the front end decides by it; the segment and trace show it */
            G.cfg.mmap_threshold = v;
            gh_front_set_threshold(&G.front, v);
            gh_front_set_dynamic(&G.front, false);
        } else {
            ok = 0;
        }
        break;
    case M_MMAP_MAX:
        /* At most this many large blocks live at once; 0 (or less): none. */
        G.front.mmap_max = value > 0 ? (size_t)value : 0;
        gh_front_set_dynamic(&G.front, false);
        break;
    case M_PERTURB:
        G.perturb = value;
        break;
    case M_ARENA_MAX: case M_ARENA_TEST: case M_CHECK_ACTION:
        break; /* accepted: one arena, and misuse is always fatal */
    default:
        break; /* glibc: an unknown parameter is no error */
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

/* glibc's report, then the summary, on fd 2.  write() is a cancellation
 * point: a thread with a cancellation pending would stop at the first line
 * (and with its stdio lock state as glibc's bug 22830 left it), so
 * cancellation is off for the report and back as it was after, where the
 * caller's next cancellation point acts on it. */
GH_EXPORT void malloc_stats(void)
{
    char buf[2048]; /* on the stack: two threads may report at once */
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    struct gh_stats_snapshot s;
    snapshot(&s);
    size_t n = gh_stats_format_glibc(buf, sizeof buf, &s);
    gh_stats_format(buf + n, sizeof buf - n, GH_STATS_TEXT, &s);
    gh_write_str(2, buf);
    pthread_setcancelstate(cancel, NULL);
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
