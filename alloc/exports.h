/* exports.h - what the exports' files share (malloc.c, malloc_handed.c,
 * malloc_info.c, malloc_life.c, malloc_sized.c, and small_check.h, which
 * two of them share; nothing else includes it).
 *
 * The exports are the C allocator API glassheap exports, split by concern:
 *   malloc.c       malloc, free, calloc, realloc, the aligned calls,
 *                  malloc_usable_size, malloc_trim, and the valgrind client
 *                  requests around them;
 *   malloc_handed.c small blocks freed by a thread of another arena, handed
 *                  over without its lock and taken back by the arena;
 *   malloc_info.c  mallinfo, mallopt, malloc_stats, the glassheap_*
 *                  extensions, and publishing the segment;
 *   malloc_life.c  the process state, initialisation, the constructor, fork
 *                  handlers, _exit and the destructor (exit summary, trace);
 *   malloc_sized.c free_sized, free_aligned_sized and the sized C++
 *                  operator delete, checked in hardened mode (harden.h).
 * This header holds the process state G, each thread's state (its arena
 * and its cache), the API call counters, tracing and the critical-section
 * helpers.  Which heap and large-block operations a call makes is the
 * front end's (front.h), run step by step with the owning arena's lock
 * around the steps that need it (arena.h); a small block freed or asked for
 * again by the same thread may be served by its cache without a lock
 * (tcache.h).
 *
 * Locking: each arena's lock serialises its heap; the main arena's also
 * the large-block registry.  No lock is ever held across a call that could
 * allocate or take another library's lock; the mapper calls for large
 * blocks (mmap/munmap/mremap) happen outside it.  A call holds one arena
 * lock at a time; the publisher and fork take them all, in order.  A small
 * block freed by a thread of another arena takes no lock: it is handed
 * over (malloc_handed.c), and every call that takes the lock frees the
 * handed blocks first (enter()), unless a thread of the arena whose cache
 * missed took them into its cache before.
 *
 * Forced to one arena and no cache: GLASSHEAP_TRACE (a trace replays on one
 * heap), GLASSHEAP_HARDEN (one quarantine, every free checked), and
 * valgrind (every free is a client request).
 *
 * fork: the prepare handler takes glibc's stdio list lock and THEN ours, so
 * a thread that holds the stdio lock and calls malloc can always finish
 * (glibc's tst-malloc-fork-deadlock: jemalloc and tcmalloc take only their
 * own lock first and deadlock against glibc's fork taking the stdio lock).
 * glibc's own fork takes the stdio list lock again (it is recursive) after
 * the handlers and resets it in the child.
 */
#ifndef GH_EXPORTS_H
#define GH_EXPORTS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "front.h"
#include "heap.h"
#include "shm.h"
#include "stats.h"
#include "tcache.h"
#include "trace.h"

#ifdef GH_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

#define GH_EXPORT __attribute__((visibility("default")))

/* ---- global state ---------------------------------------------------- */

struct gh_exports_state {
    int ready;                /* 1 once init() finished (read without the lock) */
    int valgrind;             /* running under valgrind: make client requests */
    int stats_fd;             /* stderr as it was at start-up, for the summary */
    int cache;                /* the per-thread cache is on (GLASSHEAP_CACHE, and
                               * none of the modes that force it off) */
    int cache_pow2;           /* the policy makes power-of-two blocks (buddy) */
    struct gh_config cfg;
    struct gh_shm shm;        /* the published segment (shm.hdr NULL: none) */
    struct gh_trace trace;    /* GLASSHEAP_TRACE (trace.fd -1: off) */
    int perturb;              /* mallopt(M_PERTURB): 0 off, else fill new blocks
                               * with its low byte ^ 0xff, freed ones with it */
};

/* The one process state, G for short (defined in malloc_life.c). */
extern struct gh_exports_state gh_exports GH_HIDDEN;
#define G gh_exports

/* Each thread's own state. */
enum gh_self_state { GH_SELF_NEW, GH_SELF_SETTING_UP, GH_SELF_READY, GH_SELF_GONE };

struct gh_self {
    int state;                /* enum gh_self_state */
    struct gh_arena *arena;   /* where its requests are placed */
    struct gh_tcache tc;      /* its cache (tc.state ACTIVE when in use) */
};

extern __thread struct gh_self gh_self GH_HIDDEN; /* malloc_life.c */

/* Attach this thread (arena, cache, exit handler); malloc_life.c. */
void gh_self_setup(void);

/* Give every block of cache tc back to its heap (no lock held); and the
 * same at thread exit, after which tc is retired (malloc.c). */
void gh_exports_flush_cache(struct gh_tcache *tc);
void gh_exports_retire_cache(struct gh_tcache *tc);

/* The calling thread's arena (attached on its first call). */
static inline struct gh_arena *my_arena(void)
{
    if (__builtin_expect(gh_self.state != GH_SELF_READY, 0)) {
        if (gh_self.state == GH_SELF_NEW)
            gh_self_setup();
        if (gh_self.state != GH_SELF_READY) /* setting up (a nested call), or exited */
            return gh_self.arena ? gh_self.arena : GH_MAIN_ARENA;
    }
    return gh_self.arena;
}

/* The calling thread's cache when it may be used now, else NULL. */
static inline struct gh_tcache *my_cache(void)
{
    if (__builtin_expect(gh_self.tc.state == GH_TCACHE_ACTIVE, 1))
        return &gh_self.tc;
    if (gh_self.state == GH_SELF_NEW && G.cache) {
        gh_self_setup();
        if (gh_self.tc.state == GH_TCACHE_ACTIVE)
            return &gh_self.tc;
    }
    return NULL;
}

/* Which API call to count, inside the critical section that serves it. */
enum call {
    C_NONE = GH_CALL_NONE,
    C_MALLOC = GH_CALL_MALLOC,
    C_CALLOC = GH_CALL_CALLOC,
    C_REALLOC = GH_CALL_REALLOC,
    C_FREE = GH_CALL_FREE,
    C_ALIGNED = GH_CALL_ALIGNED,
};

static inline void count_call(struct gh_arena *a, enum call c)
{
    switch (c) {
    case C_MALLOC: a->calls->malloc++; break;
    case C_CALLOC: a->calls->calloc++; break;
    case C_REALLOC: a->calls->realloc++; break;
    case C_FREE: a->calls->free++; break;
    case C_ALIGNED: a->calls->aligned++; break;
    case C_NONE: break;
    }
}

/* Record one call, inside the critical section that performed it. */
#define TRACE(op, ptr, result, size, align)                                    \
    do {                                                                       \
        if (__builtin_expect(G.trace.fd >= 0, 0) && (op))                      \
            gh_trace_add(&G.trace, (enum gh_trace_op)(op), ptr, result, size, align); \
    } while (0)

/* No lock held: take every arena's lock, publish the counters (and a heap
 * map if asked), let go; malloc_info.c. */
void gh_exports_shm_service(void);

#ifdef GH_HAVE_VALGRIND
#define VG(stmt) do { if (G.valgrind) { stmt; } } while (0)
#else
#define VG(stmt) do { } while (0)
#endif

/* Inside the lock the allocator reads its own headers and free blocks,
 * which memcheck has been told are off limits: silence it there. */
_Static_assert(GH_SHM_ARENAS_CAPACITY >= GH_ARENAS_MAX, "a region table for every arena");

/* Lock held: free every block other threads handed to a (struct
 * gh_arena's handed lists; malloc_handed.c). */
void gh_exports_take_handed(struct gh_arena *a);

/* Free p, from list 0 (an API free) or 1 (a cache's flush), by handing it
 * to its arena when that is another thread's: true when handed. */
bool gh_exports_hand_over(void *p, unsigned list);

/* A miss in cache tc of a thread whose arena a has blocks handed over:
 * take them into tc where it has room, free the rest; true when any was
 * kept (malloc_handed.c). */
bool gh_exports_cache_refill(struct gh_tcache *tc, struct gh_arena *a);

static inline bool handed_waiting(const struct gh_arena *a)
{
    return (__atomic_load_n(&a->handed[0], __ATOMIC_RELAXED) | __atomic_load_n(&a->handed[1], __ATOMIC_RELAXED))
        != 0;
}

/* A call begins: the arena's lock, its seq odd.  Blocks other threads
 * handed over are freed first, inside this call's window of the seq (what
 * a reader sees after it counts them as freed), and before the call's own
 * work, which may be a second free of one of them: "double free". */
static inline void enter(struct gh_arena *a)
{
    gh_lock(&a->lock);
    gh_shm_enter(&a->shm_seq); /* its seq odd: walkers outside wait */
#ifdef GH_HAVE_VALGRIND
    VG(VALGRIND_DISABLE_ERROR_REPORTING);
#endif
    if (__builtin_expect(handed_waiting(a), 0))
        gh_exports_take_handed(a);
}

static inline __attribute__((always_inline)) void leave(struct gh_arena *a)
{
    /* Region table if changed, seq even; then answer a waiting reader.
     * Counters kept in place need no periodic publish (it would take every
     * arena's lock: a stall for every thread), and their mapping stays to
     * the end, so the request words are looked at after the lock is let
     * go (the call's time inside it is what threads wait for); without them
     * (a lost placement), under the lock, and a publish every
     * GH_SHM_PUBLISH_EVERY calls.  An arena without a table (not yet
     * attached) looks whenever there is a segment. */
    bool look = gh_shm_leave(&G.shm, a->index, &a->shm_seq, &a->heap) || G.shm.hdr;
    bool placed = G.shm.placed, publish = false;
    if (look && !placed) {
        publish = gh_shm_requested(&G.shm) || ++a->shm_calls >= GH_SHM_PUBLISH_EVERY;
        if (publish)
            a->shm_calls = 0;
    }
#ifdef GH_HAVE_VALGRIND
    VG(VALGRIND_ENABLE_ERROR_REPORTING);
#endif
    gh_unlock(&a->lock);
    if (look && placed)
        publish = gh_shm_requested(&G.shm);
    if (__builtin_expect(publish, 0))
        gh_exports_shm_service();
}

/* No lock held: is a reader waiting?  Looked at under the main arena's
 * lock (if it is free now), so never after the exit handler took the
 * segment away (it clears G.shm.hdr with every arena lock held); with the
 * counters in place, first without it. */
static inline bool reader_waiting(void)
{
    /* Counters in place: the mapping stays until the process ends, so the
     * request words may be looked at first without the lock (a trylock
     * every few cached calls would bounce the main arena's lock between
     * threads that do not otherwise share it). */
    if (__atomic_load_n(&G.shm.placed, __ATOMIC_ACQUIRE) && !gh_shm_requested(&G.shm))
        return false;
    struct gh_arena *m = GH_MAIN_ARENA;
    if (!G.shm.hdr || !gh_trylock(&m->lock))
        return false;
    bool waiting = G.shm.hdr && gh_shm_requested(&G.shm);
    gh_unlock(&m->lock);
    return waiting;
}

/* a's lock held, its live entry just given to it: its count of handed
 * blocks counts there from now on. */
static inline void place_handed_count(struct gh_arena *a)
{
    if (a->index >= GH_SHM_LIVE_ARENAS || !G.shm.live_arenas)
        return;
    uint64_t *at = &G.shm.live_arenas[a->index].handed;
    __atomic_store_n(at, *a->handed_count, __ATOMIC_RELAXED);
    a->handed_count = at;
}

/* The main arena's lock held (and, with all_locked, every arena's): give
 * every arena made since the last look its region table (taking its lock
 * unless held), then tell a walker outside how many arenas there are
 * (glassheap/shm.h): it finds each one's table valid before it counts. */
static inline void shm_note_arenas(bool all_locked)
{
    if (!G.shm.hdr)
        return;
    unsigned n = __atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE);
    for (unsigned k = 1; k < n && k < GH_SHM_ARENAS_CAPACITY; k++) {
        struct gh_arena *a = gh_arena_list[k];
        if (G.shm.arena_tabs[k].tab)
            continue;
        if (!all_locked)
            gh_lock(&a->lock);
        gh_shm_attach_arena(&G.shm, k, &a->shm_seq, &a->heap, &a->calls);
        place_handed_count(a);
        if (!all_locked)
            gh_unlock(&a->lock);
    }
    __atomic_store_n(&G.shm.arena_tabs[0].tab->arenas, (uint64_t)n, __ATOMIC_RELEASE);
}

/* No lock held (the creation lock comes before the arenas'): every arena
 * with a live entry shows its thread count there from now on. */
static inline void shm_show_threads(void)
{
    if (!G.shm.hdr)
        return;
    unsigned n = __atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE);
    for (unsigned k = 0; k < n && k < GH_SHM_LIVE_ARENAS; k++) {
        struct gh_arena *a = gh_arena_list[k];
        if (!a->threads_shown && (k == 0 || G.shm.arena_tabs[k].tab))
            gh_arena_show_threads(a, &G.shm.live_arenas[k].threads);
    }
}

/* Run once, by the first call, before anything else touches a heap
 * (malloc_life.c); under the init lock. */
void gh_exports_init_locked(void);
extern int gh_init_lock;

static inline void ensure_init(void)
{
    if (__builtin_expect(!__atomic_load_n(&G.ready, __ATOMIC_ACQUIRE), 0)) {
        gh_lock(&gh_init_lock);
        if (!G.ready)
            gh_exports_init_locked();
        gh_unlock(&gh_init_lock);
    }
}

/* Write the summary of every counter (text or JSON) to fd; takes the
 * locks (malloc_info.c). */
void gh_exports_write_summary(int fd, enum gh_stats_mode mode);

#endif
