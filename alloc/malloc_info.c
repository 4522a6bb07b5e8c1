/* malloc_info.c - the inspection calls glassheap exports, and the segment.
 *
 * Owns: mallinfo, mallinfo2, mallopt, malloc_stats, the glassheap_*
 * extensions (version, policy, check, counters), the snapshot of every
 * counter they read (every arena's and cache's added up, taken with every
 * arena lock held), writing the exit summary, and publishing the segment's
 * snapshot (counters and every arena's own entry, on request and at exit;
 * the counters themselves count in place: glassheap/live.h) and a heap map
 * on request.
 * Never: allocates or frees.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "exports.h"
#include "harden.h"
#include "glassheap.h"
#include "os.h"

/* Every arena's lock, as enter() takes one: memcheck is silenced while the
 * allocator reads its own headers and free blocks.  Returns how many. */
static unsigned enter_all(void)
{
    unsigned n = gh_arenas_lock_all();
    VG(VALGRIND_DISABLE_ERROR_REPORTING);
    /* Blocks handed over are freed now, each arena inside a window of its
     * seq, so that what is counted is exact. */
    for (unsigned k = 0; k < n; k++) {
        struct gh_arena *a = gh_arena_list[k];
        if (handed_waiting(a)) {
            gh_shm_enter(&a->shm_seq);
            gh_exports_take_handed(a);
            gh_shm_leave(&G.shm, a->index, &a->shm_seq, &a->heap);
        }
    }
    return n;
}

static void leave_all(unsigned n)
{
    VG(VALGRIND_ENABLE_ERROR_REPORTING);
    gh_arenas_unlock_all(n);
}

/* After a call that took the locks: answer a waiting reader, as leave()
 * does after any other call. */
static void answer_reader(void)
{
    if (reader_waiting())
        gh_exports_shm_service();
}

/* a += b for every counter of a heap.  Peaks add up too: over several
 * arenas their sum bounds the process's peak from above. */
static void heap_counters_add(struct gh_heap_counters *a, const struct gh_heap_counters *b)
{
    uint64_t *to = (uint64_t *)a;
    const uint64_t *from = (const uint64_t *)b;
    for (size_t i = 0; i < sizeof *a / sizeof(uint64_t); i++)
        to[i] += from[i];
}


/* Every arena's lock held (the first n): the counters of all of them. */
static void snapshot_locked(struct gh_stats_snapshot *s, unsigned n)
{
    memset(s, 0, sizeof *s);
    const struct gh_arena *m = GH_MAIN_ARENA;
    s->pid = (long)getpid();
    s->policy = gh_heap_policy_name(&m->heap);
    s->mmap_threshold = gh_front_threshold(&m->front);
    s->threshold_dynamic = m->front.threshold_dynamic;
    s->threshold_rises = m->front.threshold_rises;
    s->arenas = n;
    for (unsigned k = 0; k < n; k++) {
        const struct gh_arena *a = gh_arena_list[k];
        gh_calls_add(&s->calls, a->calls);
        s->handed += *a->handed_count;
        heap_counters_add(&s->heap, a->heap.c);
        s->free_blocks += gh_heap_free_blocks(&a->heap);
        size_t largest = gh_heap_largest_free(&a->heap);
        if (largest > s->largest_free)
            s->largest_free = largest;
        struct gh_heap_desc d;
        gh_heap_describe(&a->heap, &d);
        s->regions += d.regions;
        for (unsigned o = 0; o < GH_HEAP_ORDERS; o++)
            s->order_free[o] += d.order_free[o];
    }
    s->large_blocks = m->front.large.live_blocks;
    s->large_bytes = m->front.large.live_bytes;
    s->large_requested = m->front.large.live_requested;
    s->large_peak_bytes = m->front.large.peak_bytes;
    s->large_peak_blocks = m->front.large.peak_blocks;
    s->large_cached_blocks = __atomic_load_n(&m->front.cache.blocks, __ATOMIC_RELAXED);
    s->large_cached_bytes = __atomic_load_n(&m->front.cache.bytes, __ATOMIC_RELAXED);
    s->large_reused = m->front.large_reused;
    gh_harden_account(&s->harden, &s->heap);
    /* Cached blocks are in use in their heaps' eyes: the program's live
     * figures leave them out, and they are a term of their own. */
    s->cache_on = G.cache;
    gh_tcache_sum(&s->cache);
    gh_calls_add(&s->calls, &s->cache.calls);
    gh_live_program_view(&s->heap, NULL, &s->cache);
    gh_os_counts(&s->os);
}

/* Every arena's own entry in the segment (the first n arenas' locks held). */
static void publish_arenas(unsigned n)
{
    struct gh_shm_arena *e = gh_shm_arenas_begin(&G.shm);
    if (!e)
        return;
    if (n > GH_SHM_ARENAS_CAPACITY)
        n = GH_SHM_ARENAS_CAPACITY;
    for (unsigned k = 0; k < n; k++) {
        const struct gh_arena *a = gh_arena_list[k];
        const struct gh_heap_counters *c = a->heap.c;
        const struct gh_calls *calls = a->calls;
        struct gh_heap_desc d;
        gh_heap_describe(&a->heap, &d);
        e[k] = (struct gh_shm_arena){
            .index = a->index,
            .threads = __atomic_load_n(&a->threads, __ATOMIC_RELAXED),
            .calls = calls->malloc + calls->calloc + calls->realloc + calls->free + calls->aligned,
            .used_blocks = c->live_blocks,
            .used_block_bytes = c->live_block_bytes,
            .used_requested = c->live_requested,
            .free_blocks = gh_heap_free_blocks(&a->heap),
            .free_bytes = c->free_bytes,
            .largest_free = gh_heap_largest_free(&a->heap),
            .heap_bytes = c->heap_bytes,
            .overhead_bytes = c->overhead_bytes,
            .regions = d.regions,
            .peak_heap_bytes = c->peak_heap_bytes,
        };
    }
    gh_shm_arenas_end(&G.shm, n);
}

/* Publish the counters, then write the heap map if asked (in that order:
 * a reader woken by the map's answer finds counters as fresh). */
void gh_exports_shm_service(void)
{
    int saved = errno;
    unsigned n = enter_all();
    if (G.shm.hdr) {
        struct gh_stats_snapshot s;
        snapshot_locked(&s, n);
        gh_shm_publish(&G.shm, &s);
        publish_arenas(n);
        if (__atomic_load_n(&G.shm.map->request, __ATOMIC_RELAXED) != G.shm.map->answered) {
            const struct gh_heap *heaps[GH_ARENAS_MAX];
            for (unsigned k = 0; k < n; k++)
                heaps[k] = &gh_arena_list[k]->heap;
            gh_shm_write_map(&G.shm, heaps, n, G.cache);
        }
    }
    leave_all(n);
    errno = saved;
}

static void snapshot(struct gh_stats_snapshot *s)
{
    ensure_init();
    unsigned n = enter_all();
    snapshot_locked(s, n);
    leave_all(n);
    answer_reader();
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
    unsigned n = enter_all(); /* the heap settings hold in every arena */
    struct gh_arena *m = GH_MAIN_ARENA;
    switch (param) {
    case M_MXFAST:
        ok = v <= GH_MXFAST_MAX; /* accepted; glassheap has no fast bins */
        break;
    case M_TRIM_THRESHOLD:
        for (unsigned k = 0; k < n; k++) {
            gh_arena_list[k]->heap.trim_threshold = v;
            gh_arena_list[k]->heap.trim_adaptive = false; /* the program chose: keep it */
        }
        gh_front_set_dynamic(&m->front, false);
        break;
    case M_TOP_PAD:
        for (unsigned k = 0; k < n; k++)
            gh_arena_list[k]->heap.top_pad = v < GH_TOP_PAD_MAX ? v : GH_TOP_PAD_MAX;
        gh_front_set_dynamic(&m->front, false);
        break;
    case M_MMAP_THRESHOLD:
        /* The front end decides by the main arena's; the segment and trace show it. */
        if (v <= GH_MMAP_THRESHOLD_MAX) {
            G.cfg.mmap_threshold = v;
            gh_front_set_threshold(&m->front, v);
            gh_front_set_dynamic(&m->front, false);
        } else {
            ok = 0;
        }
        break;
    case M_MMAP_MAX:
        /* At most this many large blocks live at once; 0 (or less): none. */
        m->front.mmap_max = value > 0 ? (size_t)value : 0;
        gh_front_set_dynamic(&m->front, false);
        break;
    case M_PERTURB:
        G.perturb = value;
        break;
    case M_ARENA_MAX:
        /* Arenas made from now on: at most this many (those made stay). */
        if (value > 0 && gh_arena_limit > 1)
            gh_arena_limit = (unsigned)value < GH_ARENAS_MAX ? (unsigned)value : GH_ARENAS_MAX;
        break;
    case M_ARENA_TEST: case M_CHECK_ACTION:
        break; /* accepted: misuse is always fatal */
    default:
        break; /* glibc: an unknown parameter is no error */
    }
    leave_all(n);
    answer_reader();
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
    return gh_heap_policy_name(&GH_MAIN_ARENA->heap);
}

GH_EXPORT int glassheap_check(void)
{
    const char *why = NULL;
    const void *where = NULL;
    ensure_init();
    unsigned n = enter_all();
    bool ok = gh_tree_check(&GH_MAIN_ARENA->front.large.tree, &why);
    for (unsigned k = 0; k < n && ok; k++)
        ok = gh_heap_check(&gh_arena_list[k]->heap, &why, &where);
    leave_all(n);
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

static void fill_counters(struct glassheap_counters *out, const struct gh_stats_snapshot *sp)
{
    const struct gh_stats_snapshot s = *sp;
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
    out->cached_blocks = s.cache.blocks;
    out->cached_bytes = s.cache.bytes;
    out->cache_hits = s.cache.hits;
    out->arenas = s.arenas;
    out->handed_frees = s.handed;
}

GH_EXPORT int glassheap_counters(struct glassheap_counters *out, size_t size)
{
    if (size < offsetof(struct glassheap_counters, cached_blocks))
        return -1;
    struct gh_stats_snapshot s;
    snapshot(&s);
    struct glassheap_counters all;
    memset(&all, 0, sizeof all);
    fill_counters(&all, &s);
    memset(out, 0, size);
    memcpy(out, &all, size < sizeof all ? size : sizeof all);
    return 0;
}


