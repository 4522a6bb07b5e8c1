/* malloc.c - the front end: the C allocator API glassheap exports.
 *
 * Owns: initialisation (first call or constructor, whichever comes first),
 * the configuration in force, the one lock, fork handlers, errno, the API
 * call counters, tracing, and the valgrind client requests.  Contains no
 * placement logic and no decisions: which heap and large-block operations
 * a call makes is the front end's (front.h), run here step by step with the
 * lock around the steps that need it.
 *
 * Locking: one lock serialises the heap and the large-block registry.  It is
 * never held across a call that could allocate or take another library's
 * lock; the mapper calls for large blocks (mmap/munmap/mremap) happen
 * outside it.
 *
 * fork: the prepare handler takes glibc's stdio list lock and THEN ours, so
 * a thread that holds the stdio lock and calls malloc can always finish
 * (glibc's tst-malloc-fork-deadlock: jemalloc and tcmalloc take only their
 * own lock first and deadlock against glibc's fork taking the stdio lock).
 * glibc's own fork takes the stdio list lock again (it is recursive) after
 * the handlers and resets it in the child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "glassheap.h"
#include "front.h"
#include "heap.h"
#include "os.h"
#include "shm.h"
#include "stats.h"
#include "trace.h"

#ifdef GH_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

#define GH_EXPORT __attribute__((visibility("default")))

/* glibc's stdio list lock (exported by libc.so.6 since 2.2.5). */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

/* ---- the lock: a futex mutex (0 free, 1 held, 2 held with waiters) ---- */

static int lock_word;

static void lock_slow(void)
{
    for (int spin = 0; spin < 100; spin++) {
        if (__atomic_load_n(&lock_word, __ATOMIC_RELAXED) == 0
            && __atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE) == 0)
            return;
        __builtin_ia32_pause();
    }
    while (__atomic_exchange_n(&lock_word, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, &lock_word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

/* glibc (2.32+) keeps this true until the process first creates a thread;
 * while it is true nobody else can be inside the allocator, so the lock
 * needs no atomic instructions.  It cannot flip inside our critical
 * section: we never create threads there. */
extern char __libc_single_threaded __attribute__((weak));

static inline bool single_threaded(void)
{
    return &__libc_single_threaded && __libc_single_threaded;
}

static inline void lock(void)
{
    if (single_threaded()) {
        lock_word = 1;
        return;
    }
    int expected = 0;
    if (!__atomic_compare_exchange_n(&lock_word, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        lock_slow();
}

static inline void unlock(void)
{
    if (single_threaded()) {
        lock_word = 0;
        return;
    }
    if (__atomic_exchange_n(&lock_word, 0, __ATOMIC_RELEASE) == 2) {
        int saved = errno;
        syscall(SYS_futex, &lock_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        errno = saved;
    }
}

/* ---- global state ---------------------------------------------------- */

static struct {
    int ready;                /* 1 once init() finished (read without the lock) */
    int valgrind;             /* running under valgrind: make client requests */
    int stats_fd;             /* stderr as it was at start-up, for the summary */
    struct gh_config cfg;
    struct gh_source src;
    struct gh_heap heap;
    struct gh_front front;    /* the decisions, and the large-block registry */
    struct gh_calls calls;
    struct gh_shm shm;        /* the published segment (shm.hdr NULL: none) */
    struct gh_trace trace;    /* GLASSHEAP_TRACE (trace.fd -1: off) */
} G = { .stats_fd = -1, .trace = { .fd = -1 } };

/* Which API call to count, inside the critical section that serves it. */
enum call { C_NONE, C_MALLOC, C_CALLOC, C_REALLOC, C_FREE, C_ALIGNED };

static inline void count_call(enum call c)
{
    switch (c) {
    case C_MALLOC: G.calls.malloc++; break;
    case C_CALLOC: G.calls.calloc++; break;
    case C_REALLOC: G.calls.realloc++; break;
    case C_FREE: G.calls.free++; break;
    case C_ALIGNED: G.calls.aligned++; break;
    case C_NONE: break;
    }
}

/* Record one call, inside the critical section that performed it. */
#define TRACE(op, ptr, result, size, align)                                    \
    do {                                                                       \
        if (__builtin_expect(G.trace.fd >= 0, 0) && (op))                      \
            gh_trace_add(&G.trace, (enum gh_trace_op)(op), ptr, result, size, align); \
    } while (0)

static void shm_service(void);

#ifdef GH_HAVE_VALGRIND
#define VG(stmt) do { if (G.valgrind) { stmt; } } while (0)
#else
#define VG(stmt) do { } while (0)
#endif

/* Inside the lock the allocator reads its own headers and free blocks,
 * which memcheck has been told are off limits: silence it there. */
static inline void enter(void)
{
    lock();
#ifdef GH_HAVE_VALGRIND
    VG(VALGRIND_DISABLE_ERROR_REPORTING);
#endif
}

static inline void leave(void)
{
    /* Publish every GH_SHM_PUBLISH_EVERY calls, and answer a waiting reader. */
    if (G.shm.hdr && (++G.shm.calls >= GH_SHM_PUBLISH_EVERY || gh_shm_requested(&G.shm)))
        shm_service();
#ifdef GH_HAVE_VALGRIND
    VG(VALGRIND_ENABLE_ERROR_REPORTING);
#endif
    unlock();
}

static size_t usable_locked(const void *p, const char *fn);

#ifdef GH_HAVE_VALGRIND
/* Off limits to the program around a live block p of n bytes: its header,
 * the slack after the n bytes, and (heap blocks) the next block's header,
 * so a one-byte overrun is reported as it is under glibc. */
static void vg_fence(void *p, size_t n)
{
    enter(); /* reads the header, which memcheck is told is off limits */
    bool heap = gh_heap_owns(&G.heap, p);
    size_t usable = usable_locked(p, "malloc");
    leave();
    VALGRIND_MAKE_MEM_NOACCESS((char *)p - GH_HEADER_SIZE, GH_HEADER_SIZE);
    VALGRIND_MAKE_MEM_NOACCESS((char *)p + n, usable - n + (heap ? GH_HEADER_SIZE : 0));
}
#endif

/* Tell memcheck about a new block p of n requested bytes. */
static inline void vg_alloc(void *p, size_t n, int zeroed)
{
#ifdef GH_HAVE_VALGRIND
    if (G.valgrind && p) {
        VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
        vg_fence(p, n);
    }
#else
    (void)p, (void)n, (void)zeroed;
#endif
}

/* p was freed, with `usable` bytes: all of it is off limits now. */
static inline void vg_free(void *p, size_t usable)
{
#ifdef GH_HAVE_VALGRIND
    if (G.valgrind) {
        VALGRIND_FREELIKE_BLOCK(p, 0);
        VALGRIND_MAKE_MEM_NOACCESS(p, usable);
    }
#else
    (void)p, (void)usable;
#endif
}

/* Called with the lock held, before anything else touches the heap. */
static void init_locked(void)
{
    gh_config_load(&G.cfg);
    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    uint64_t secret = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&G;
    if (rnd)
        memcpy(&secret, rnd + 8, sizeof secret);
    gh_block_secret = secret;
    gh_source_init_break(&G.src);
    gh_heap_init_named(&G.heap, &G.src, G.cfg.policy, G.cfg.mmap_threshold);
    gh_front_init(&G.front, &G.heap, &gh_mapper_os, G.cfg.mmap_threshold);
#ifdef GH_HAVE_VALGRIND
    G.valgrind = RUNNING_ON_VALGRIND ? 1 : 0;
#endif
    __atomic_store_n(&G.ready, 1, __ATOMIC_RELEASE);
}

static inline void ensure_init(void)
{
    if (__builtin_expect(!__atomic_load_n(&G.ready, __ATOMIC_ACQUIRE), 0)) {
        lock();
        if (!G.ready)
            init_locked();
        unlock();
    }
}

/* ---- allocation core (lock held) ------------------------------------- */

static inline bool is_large(size_t n)
{
    return gh_front_is_large(&G.front, n);
}

/* A large block: map outside the lock, then register under it. */
static void *large_alloc(size_t align, size_t n, int op, enum call c)
{
    void *p = gh_front_large_map(&G.front, align, n);
    enter();
    count_call(c);
    if (p)
        gh_front_large_add(&G.front, p, /* fresh */ true);
    else
        G.calls.failed++;
    TRACE(op, NULL, p, n, align > GH_ALIGN ? (uint32_t)align : 0);
    leave();
    return p;
}

/* Allocate n bytes aligned to align (a power of two); NULL + errno.  op is
 * what the trace records (an enum gh_trace_op), or 0 for nothing (the new
 * block of a moving realloc, recorded when the old one is freed). */
static void *alloc(size_t align, size_t n, int op, enum call c)
{
    void *p = NULL;
    uint32_t talign = align > GH_ALIGN ? (uint32_t)align : 0;
    switch (gh_front_path(&G.front, align, n)) {
    case GH_PATH_NONE:
        errno = ENOMEM;
        enter();
        count_call(c);
        G.calls.failed++;
        TRACE(op, NULL, NULL, n, talign);
        leave();
        return NULL;
    case GH_PATH_LARGE:
        p = large_alloc(align, n, op, c);
        break;
    case GH_PATH_HEAP:
        enter();
        p = gh_front_heap_alloc(&G.front, align, n);
        count_call(c);
        if (!p)
            G.calls.failed++;
        TRACE(op, NULL, p, n, talign);
        leave();
        break;
    }
    if (!p)
        errno = ENOMEM;
    return p;
}

/* Free p.  The trace records op: GH_TRACE_FREE, or GH_TRACE_REALLOC from p
 * to `moved_to` (n bytes) when this ends a moving realloc. */
static void free_impl(void *p, const char *fn, int op, void *moved_to, size_t n, enum call c)
{
    struct gh_front_unmap u;
    size_t usable = 0;
    enter();
    count_call(c);
    TRACE(op, p, moved_to, n, 0);
    gh_front_release(&G.front, p, fn, &u, G.valgrind ? &usable : NULL);
    leave();
    if (!u.base)
        vg_free(p, usable);
    else
        vg_free(p, 0); /* the mapping goes away */
    gh_front_unmap(&G.front, &u);
}

/* Usable size of a live block p (lock held); fatal for a foreign pointer. */
static size_t usable_locked(const void *p, const char *fn)
{
    return gh_front_usable(&G.front, p, fn);
}

/* ---- the exported API ------------------------------------------------ */

GH_EXPORT void *malloc(size_t n)
{
    ensure_init();
    void *p = alloc(GH_ALIGN, n, GH_TRACE_MALLOC, C_MALLOC);
    vg_alloc(p, n, 0);
    return p;
}

GH_EXPORT void free(void *p)
{
    if (!p)
        return;
    int saved = errno;
    ensure_init();
    free_impl(p, "free", GH_TRACE_FREE, NULL, 0, C_FREE);
    errno = saved;
}

GH_EXPORT void *calloc(size_t nmemb, size_t size)
{
    size_t n;
    ensure_init();
    if (__builtin_mul_overflow(nmemb, size, &n)) {
        /* Count it, and as failed, like any call that returns NULL. */
        n = SIZE_MAX;
    }
    void *p = alloc(GH_ALIGN, n, GH_TRACE_CALLOC, C_CALLOC);
    if (p && !is_large(n))
        memset(p, 0, n); /* fresh mappings are zero already */
    vg_alloc(p, n, 1);
    return p;
}

GH_EXPORT void *realloc(void *p, size_t n)
{
    ensure_init();
    if (!p) {
        void *q = alloc(GH_ALIGN, n, GH_TRACE_MALLOC, C_REALLOC);
        vg_alloc(q, n, 0);
        return q;
    }
    if (n == 0) {
        free_impl(p, "realloc", GH_TRACE_FREE, NULL, 0, C_REALLOC);
        return NULL;
    }
    struct gh_realloc r;
    enter();
    count_call(C_REALLOC);
    switch (gh_front_realloc_begin(&G.front, p, n, "realloc", &r)) {
    case GH_REALLOC_FAILED:
        G.calls.failed++;
        leave();
        errno = ENOMEM;
        return NULL;
    case GH_REALLOC_IN_PLACE:
        G.calls.realloc_in_place++;
        TRACE(GH_TRACE_REALLOC, p, p, n, 0);
        leave();
#ifdef GH_HAVE_VALGRIND
        if (G.valgrind) {
            VALGRIND_RESIZEINPLACE_BLOCK(p, r.old_requested, n, 0);
            vg_fence(p, n);
        }
#endif
        return p;
    case GH_REALLOC_REMAP: {
        /* Stays a large block: remapped (may move), outside the lock. */
        leave();
        void *q = gh_front_large_remap(&G.front, p, n);
        enter();
        gh_front_large_add(&G.front, q ? q : p, /* fresh */ false);
        if (q)
            G.calls.realloc_moved += q != p;
        else
            G.calls.failed++;
        TRACE(GH_TRACE_REALLOC, p, q ? q : p, q ? n : r.old_requested, 0);
        leave();
        if (!q) {
            errno = ENOMEM;
            return NULL;
        }
#ifdef GH_HAVE_VALGRIND
        if (G.valgrind) {
            if (q == p) {
                VALGRIND_RESIZEINPLACE_BLOCK(p, r.old_requested, n, 0);
            } else {
                VALGRIND_FREELIKE_BLOCK(p, 0);
                vg_alloc(q, n, 0);
            }
            if (q == p)
                vg_fence(p, n);
        }
#endif
        return q;
    }
    case GH_REALLOC_MOVE:
        leave();
        break;
    }
    /* Move: new block, copy, free the old one. */
    void *q = alloc(GH_ALIGN, n, 0, C_NONE);
    if (!q)
        return NULL; /* the old block is untouched */
    vg_alloc(q, n, 0);
    size_t copy = gh_front_copy_len(&r, n);
#ifdef GH_HAVE_VALGRIND
    if (G.valgrind && copy > r.old_requested)
        copy = r.old_requested < n ? r.old_requested : n;
#endif
    memcpy(q, p, copy);
    free_impl(p, "realloc", GH_TRACE_REALLOC, q, n, C_NONE);
    G.calls.realloc_moved++;
    return q;
}

GH_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n);
}

static inline bool pow2(size_t a)
{
    return a && !(a & (a - 1));
}

static void *aligned(size_t align, size_t n)
{
    ensure_init();
    void *p = alloc(align, n, GH_TRACE_ALIGNED, C_ALIGNED);
    vg_alloc(p, n, 0);
    return p;
}

GH_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (!pow2(align) || align % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = aligned(align, n);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

GH_EXPORT void *aligned_alloc(size_t align, size_t n)
{
    if (!pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, n);
}

GH_EXPORT void *memalign(size_t align, size_t n)
{
    /* glibc: a non-power-of-two alignment is rounded up to one. */
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = GH_ALIGN;
    while (a < align)
        a <<= 1;
    return aligned(a, n);
}

GH_EXPORT void *valloc(size_t n)
{
    return aligned(gh_os_page_size(), n);
}

GH_EXPORT void *pvalloc(size_t n)
{
    size_t ps = gh_os_page_size(), r;
    if (!gh_round_up(n ? n : 1, ps, &r)) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(ps, r);
}

GH_EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    ensure_init();
    enter();
    size_t u = usable_locked(p, "malloc_usable_size");
    leave();
    return u;
}

GH_EXPORT int malloc_trim(size_t pad)
{
    ensure_init();
    enter();
    size_t given = gh_heap_trim(&G.heap, pad);
    leave();
    return given > 0;
}

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
    gh_os_counts(&s->os);
}

/* Lock held: publish the counters, then write the heap map if asked (in
 * that order: a reader woken by the map's answer finds counters as fresh). */
static void shm_service(void)
{
    struct gh_stats_snapshot s;
    snapshot_locked(&s);
    gh_shm_publish(&G.shm, &s, &G.heap);
    if (__atomic_load_n(&G.shm.map->request, __ATOMIC_RELAXED) != G.shm.map->answered)
        gh_shm_write_map(&G.shm, &G.heap);
}

/* Create this process's segment and publish a first snapshot. */
static void shm_start(void)
{
    if (!G.cfg.shm)
        return;
    struct gh_shm fresh;
    if (gh_shm_open(&fresh, &G.cfg, &G.heap) != 0)
        return; /* no segment: the program runs on, unobserved */
    enter();
    G.shm = fresh;
    shm_service();
    leave();
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

static void write_summary(int fd, enum gh_stats_mode mode)
{
    static char buf[4096];
    struct gh_stats_snapshot s;
    snapshot(&s);
    gh_stats_format(buf, sizeof buf, mode, &s);
    gh_write_str(fd, buf);
}

GH_EXPORT void malloc_stats(void)
{
    write_summary(2, GH_STATS_TEXT);
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

/* ---- process life: constructor, fork, exit --------------------------- */

static bool trace_heap_block(void *ctx, const struct gh_block_info *b)
{
    (void)ctx;
    if (!b->free)
        TRACE(GH_TRACE_MALLOC, NULL, (char *)b->addr + GH_HEADER_SIZE, b->requested, 0);
    return true;
}

static bool trace_large_block(void *ctx, struct gh_tnode *n)
{
    (void)ctx;
    const char *p = (const char *)n - offsetof(struct gh_large_rec, node) + GH_LARGE_OVERHEAD;
    TRACE(GH_TRACE_MALLOC, NULL, p, gh_large_requested(p), 0);
    return true;
}

/* A forked child's trace starts with the blocks it inherited, as mallocs at
 * time 0, so that it replays on its own.  (An aligned heap block is
 * recorded at its block's payload: the walk does not know the alignment.) */
static void trace_inherited(void)
{
    enter();
    gh_heap_walk(&G.heap, trace_heap_block, NULL);
    gh_tree_walk(&G.front.large.tree, trace_large_block, NULL);
    leave();
}

static void fork_prepare(void)
{
    if (_IO_list_lock)
        _IO_list_lock();
    lock();
    gh_trace_flush(&G.trace); /* the parent's records, before the child copies them */
}

static void fork_parent(void)
{
    unlock();
    if (_IO_list_unlock)
        _IO_list_unlock();
}

static void fork_child(void)
{
    lock_word = 0;
    if (_IO_list_resetlock)
        _IO_list_resetlock();
    /* The mapping is the parent's: leave it to the parent, make our own. */
    gh_shm_close(&G.shm, /* unlink */ false);
    shm_start();
    gh_trace_forked(&G.trace, gh_heap_policy_name(&G.heap), G.cfg.mmap_threshold);
    if (G.trace.fd >= 0)
        trace_inherited();
}

__attribute__((constructor)) static void glassheap_start(void)
{
    ensure_init();
    if (G.cfg.stats != GH_STATS_OFF && G.cfg.stats_file[0] == '\0')
        G.stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    shm_start();
    if (G.cfg.trace[0]) {
        int err = gh_trace_open(&G.trace, G.cfg.trace, gh_heap_policy_name(&G.heap), G.cfg.mmap_threshold);
        if (err) {
            gh_write_str(2, "glassheap: GLASSHEAP_TRACE: cannot open '");
            gh_write_str(2, G.cfg.trace);
            gh_write_str(2, "'; not recording\n");
        }
    }
}

/* _exit and _Exit skip destructors: take the segment away (and write out
 * the trace) here, then leave.  Only for the process that owns them: a
 * vfork child (posix_spawn) shares our memory but has its own pid. */
static void quick_exit_cleanup(void)
{
    long pid = (long)getpid();
    if (G.shm.hdr && (long)G.shm.hdr->pid == pid)
        gh_shm_close(&G.shm, /* unlink */ true);
    if (G.trace.fd >= 0 && G.trace.pid == pid) {
        /* Another thread may be inside the allocator: never wait for it. */
        int expected = 0;
        if (__atomic_compare_exchange_n(&lock_word, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            gh_trace_close(&G.trace);
            unlock();
        }
    }
}

GH_EXPORT __attribute__((noreturn)) void _exit(int status)
{
    quick_exit_cleanup();
    for (;;)
        syscall(SYS_exit_group, status);
}

GH_EXPORT __attribute__((noreturn)) void _Exit(int status)
{
    quick_exit_cleanup();
    for (;;)
        syscall(SYS_exit_group, status);
}

__attribute__((destructor)) static void glassheap_end(void)
{
    enter();
    gh_trace_close(&G.trace);
    leave();
    if (G.shm.hdr) {
        enter();
        shm_service();
        struct gh_shm s = G.shm;
        G.shm.hdr = NULL; /* no more publishing */
        leave();
        gh_shm_close(&s, /* unlink */ true);
    }
    if (G.cfg.stats == GH_STATS_OFF)
        return;
    if (G.cfg.stats_file[0]) {
        char path[GH_PATH_MAX + 32];
        if (!gh_config_expand_path(G.cfg.stats_file, (long)getpid(), path, sizeof path))
            return;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return;
        write_summary(fd, G.cfg.stats);
        close(fd);
    } else if (G.stats_fd >= 0) {
        write_summary(G.stats_fd, G.cfg.stats);
    }
}
