/* arena.h - the arenas: heap instances with a lock each, and which thread
 * allocates from which.
 *
 * Arena 0, the main arena, is the heap over the process break; it also
 * holds the registry of every large block, whichever thread mapped it.
 * Arenas 1.. each run a heap of the same policy over a GH_SOURCE_MAP source
 * (64 MiB reservations entered in the owner table, source.h), so the arena
 * that owns any address is found in O(1) without a lock (gh_arena_of):
 * placement inside an arena is exactly the policy's.
 *
 * A thread is attached to one arena for its life, chosen at its first call
 * (gh_arena_pick): the main thread (the one whose id is the process id),
 * and any thread while the process has only one, takes the main arena; another takes an arena no live thread is
 * attached to, else a new one while fewer than the limit exist (8 x the
 * CPUs the process may run on, at most GH_ARENAS_MAX; GLASSHEAP_ARENAS=N
 * fixes it), else the one with the fewest threads.  Blocks go back to the
 * arena that owns them: freed by a thread attached to another arena, a
 * small block is handed over without a lock (struct gh_arena's handed
 * lists, malloc.c) and freed at that arena's next call; any other under
 * its lock.
 * An exiting thread detaches; its arena (and its blocks) stay for the next
 * thread.
 *
 * Lock order: the creation lock, then arena locks by increasing index,
 * then the cache registry (tcache.h).  The arena structures themselves are
 * never freed.
 */
#ifndef GH_ARENA_H
#define GH_ARENA_H

#include <stdbool.h>
#include <stdint.h>

#include "counts.h"
#include "front.h"
#include "heap.h"
#include "lock.h"
#include "shm.h"
#include "source.h"

#define GH_ARENAS_MAX 128u
#ifndef GH_HANDED_MAX
#define GH_HANDED_MAX 256u  /* blocks each handed list holds, about (malloc_handed.c) */
#endif

struct gh_arena {
    int lock;
    unsigned index;
    unsigned threads;        /* threads attached now (creation lock) */
    uint64_t *threads_shown; /* where a reader sees it (the segment), or NULL */
    uint64_t shm_calls;      /* calls since the last publish (arena lock) */
    struct gh_shm_seq shm_seq; /* its seq in the segment (shm.h; arena lock) */
    struct gh_calls *calls;  /* API calls served here (arena lock): calls_own, or
                              * in place in the segment (as heap.c) */
    struct gh_calls calls_own;
    uint64_t *handed_count;  /* handed blocks freed here (arena lock): at
                              * handed_count_own or in the live entry */
    uint64_t handed_count_own;
    struct gh_source src;
    struct gh_heap heap;
    struct gh_front front;
    /* Blocks freed by other threads, waiting for the arena's next call:
     * [0] API frees, [1] blocks a cache let go.  Each a lock-free stack,
     * linked through each block's first word (marked as a cached block is:
     * tcache.h); handed_n counts its blocks (a pusher adds after its push,
     * the one who empties it sets 0 after: off by the pushes racing with
     * that, which is all a bound needs), so about GH_HANDED_MAX wait
     * (malloc_handed.c).  Emptied by the next call that takes the lock,
     * first (exports.h's enter()), or by a cache miss of a thread of the
     * arena, into its cache (gh_exports_cache_refill).  On a line of their
     * own: other threads push while the holder works. */
    _Alignas(64) uintptr_t handed[2];
    uint32_t handed_n[2];
};

extern struct gh_arena *gh_arena_list[GH_ARENAS_MAX] GH_HIDDEN; /* [0] is the main arena */
extern unsigned gh_arena_count GH_HIDDEN;                       /* arenas made (atomic) */
extern unsigned gh_arena_limit GH_HIDDEN;                       /* at most this many */

#define GH_MAIN_ARENA (gh_arena_list[0])

/* Set up the main arena (policy, mmap threshold) and the limit (0: 8 x the
 * CPUs).  Lock of nothing held; called once, before any other thread. */
void gh_arenas_init(const char *policy, size_t mmap_threshold, unsigned limit);

/* The arena whose heap owns p, or the main arena (the break heap, large
 * blocks, and pointers that are not ours: its checks say which). */
static inline struct gh_arena *gh_arena_of(const void *p)
{
    unsigned k = gh_source_owner(p);
    if (__builtin_expect(k == 0, 1))
        return gh_arena_list[0];
    return k < __atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE) ? gh_arena_list[k] : gh_arena_list[0];
}

/* The arena for a thread that has none (no lock held), attached.  Never
 * fails: the main arena when no other can be made. */
struct gh_arena *gh_arena_pick(void);

/* A thread attached to a leaves (its exit). */
void gh_arena_detach(struct gh_arena *a);

/* From now on a's thread count is also kept at *at (the segment's live
 * entry; NULL: nowhere), under the creation lock. */
void gh_arena_show_threads(struct gh_arena *a, uint64_t *at);

/* Every arena made so far, locked in order / unlocked (fork, snapshots).
 * gh_arenas_lock_all returns how many it locked: pass that to unlock. */
unsigned gh_arenas_lock_all(void);
void gh_arenas_unlock_all(unsigned n);

/* fork prepare/parent/child: the creation lock and every arena lock; in
 * the child, every lock is reset and only `self` (the forking thread's
 * arena, may be NULL) has a thread attached. */
void gh_arenas_fork_prepare(void);
void gh_arenas_fork_parent(void);
void gh_arenas_fork_child(struct gh_arena *self);

#endif
