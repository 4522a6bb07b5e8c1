/* exports.h - what the exports' files share (malloc.c, malloc_info.c,
 * malloc_life.c, malloc_sized.c; nothing else includes it).
 *
 * The exports are the C allocator API glassheap exports, split by concern:
 *   malloc.c       malloc, free, calloc, realloc, the aligned calls,
 *                  malloc_usable_size, malloc_trim, and the valgrind client
 *                  requests around them;
 *   malloc_info.c  mallinfo, mallopt, malloc_stats, the glassheap_*
 *                  extensions, and publishing the segment;
 *   malloc_life.c  the process state, initialisation, the constructor, fork
 *                  handlers, _exit and the destructor (exit summary, trace);
 *   malloc_sized.c free_sized, free_aligned_sized and the sized C++
 *                  operator delete, checked in hardened mode (harden.h).
 * This header holds the one lock, the process state G, the API call
 * counters, tracing and the critical-section helpers.  Which heap and
 * large-block operations a call makes is the front end's (front.h), run
 * step by step with the lock around the steps that need it.
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
#ifndef GH_EXPORTS_H
#define GH_EXPORTS_H

#include <errno.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "front.h"
#include "heap.h"
#include "shm.h"
#include "stats.h"
#include "trace.h"

#ifdef GH_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

#define GH_EXPORT __attribute__((visibility("default")))

/* ---- the lock: a futex mutex (0 free, 1 held, 2 held with waiters) ---- */

extern int gh_lock_word; /* malloc_life.c */

static inline void lock_slow(void)
{
    for (int spin = 0; spin < 100; spin++) {
        if (__atomic_load_n(&gh_lock_word, __ATOMIC_RELAXED) == 0
            && __atomic_exchange_n(&gh_lock_word, 1, __ATOMIC_ACQUIRE) == 0)
            return;
        __builtin_ia32_pause();
    }
    while (__atomic_exchange_n(&gh_lock_word, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, &gh_lock_word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
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
        gh_lock_word = 1;
        return;
    }
    int expected = 0;
    if (!__atomic_compare_exchange_n(&gh_lock_word, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        lock_slow();
}

static inline void unlock(void)
{
    if (single_threaded()) {
        gh_lock_word = 0;
        return;
    }
    if (__atomic_exchange_n(&gh_lock_word, 0, __ATOMIC_RELEASE) == 2) {
        int saved = errno;
        syscall(SYS_futex, &gh_lock_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        errno = saved;
    }
}

/* ---- global state ---------------------------------------------------- */

struct gh_exports_state {
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
    int perturb;              /* mallopt(M_PERTURB): 0 off, else fill new blocks
                               * with its low byte ^ 0xff, freed ones with it */
};

/* The one process state, G for short (defined in malloc_life.c). */
extern struct gh_exports_state gh_exports;
#define G gh_exports

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

/* Lock held: publish the counters (and a heap map if asked); malloc_info.c. */
void gh_exports_shm_service(void);

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
    gh_shm_enter(&G.shm); /* the heap's seq odd: walkers outside wait (shm.h) */
#ifdef GH_HAVE_VALGRIND
    VG(VALGRIND_DISABLE_ERROR_REPORTING);
#endif
}

static inline __attribute__((always_inline)) void leave(void)
{
    /* Publish every GH_SHM_PUBLISH_EVERY calls, and answer a waiting reader. */
    if (G.shm.hdr && (++G.shm.calls >= GH_SHM_PUBLISH_EVERY || gh_shm_requested(&G.shm)))
        gh_exports_shm_service();
    gh_shm_leave(&G.shm, &G.heap); /* region table if changed, seq even */
#ifdef GH_HAVE_VALGRIND
    VG(VALGRIND_ENABLE_ERROR_REPORTING);
#endif
    unlock();
}

/* Called with the lock held, before anything else touches the heap
 * (malloc_life.c). */
void gh_exports_init_locked(void);

static inline void ensure_init(void)
{
    if (__builtin_expect(!__atomic_load_n(&G.ready, __ATOMIC_ACQUIRE), 0)) {
        lock();
        if (!G.ready)
            gh_exports_init_locked();
        unlock();
    }
}

/* Write the summary of every counter (text or JSON) to fd; takes the lock
 * (malloc_info.c). */
void gh_exports_write_summary(int fd, enum gh_stats_mode mode);

#endif
