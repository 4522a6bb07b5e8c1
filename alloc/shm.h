/* shm.h - the segment: the counters' place, publishing a snapshot, the heap
 * map and the large-block list (layout: include/glassheap/shm.h and
 * glassheap/live.h).
 *
 * The front end creates the segment at start-up (outside its lock) with
 * gh_shm_open_large(), moves every counter into its live section
 * (gh_shm_place_main, gh_shm_attach_arena: counted in place from then on),
 * calls gh_shm_publish() (and gh_shm_write_map() when a map is asked for)
 * with its locks held when gh_shm_requested() (and every
 * GH_SHM_PUBLISH_EVERY calls while nothing is placed), and gh_shm_stop()
 * then gh_shm_close() at exit.  Nothing here
 * allocates; the segment is a MAP_SHARED mapping of
 * /dev/shm/glassheap.<pid>, made and removed through os.c.
 *
 * Every allocator call is bracketed by gh_shm_enter() and gh_shm_leave()
 * (exports.h's enter() and leave()): each arena's sequence word and its
 * region table, which let a reader walk the heap from outside while the
 * process sleeps, blocks or is stopped (include/glassheap/shm.h).
 *
 * A file shrunk by someone else (same user, root) never kills the program:
 * the mapping is guarded against SIGBUS (os.c's gh_os_shm_guard), every
 * publish first checks the file's size, and once the segment is lost one
 * line says so and nothing more is published (the name is still removed at
 * exit).
 */
#ifndef GH_SHM_H
#define GH_SHM_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "glassheap/shm.h"
#include "heap.h"
#include "large.h"
#include "stats.h"

/* What an arena's calls need to move its seq (its live entry's, which
 * guards the entry and the arena's region table: glassheap/live.h) in
 * gh_shm_enter and gh_shm_leave: kept in the arena itself, on the line its
 * lock already brings, so that a call touches no line of the segment that
 * its counters do not bring anyway, and nothing of struct gh_shm. */
struct gh_shm_seq {
    uint64_t *word;                /* its seq in the segment; NULL:
                                      no table (none yet, or gh_shm_stop) */
    const struct gh_large *large;  /* the main arena: the registry listed */
    uint64_t seq;                  /* *word between calls, always even
                                      (never read back from the segment) */
    uint64_t seen;                 /* gh_shm_changes() when the table (and
                                      the large list) was last written */
};

struct gh_shm {
    struct gh_shm_header *hdr;     /* NULL: no segment */
    struct gh_shm_counters *counters;
    struct gh_shm_map *map;
    struct gh_shm_block *blocks;
    const struct gh_large *large;  /* the registry listed; NULL: no list */
    struct gh_shm_large *large_list;
    struct gh_shm_large_block *large_blocks;
    uint64_t size;
    int fd;                        /* held open with a shared flock: readers
                                      see the lock vanish when we exit or exec */
    uint64_t calls;                /* allocator calls since the last publish */
    bool lost;                     /* the file was shrunk under us: publish nothing */
    long pid;                      /* the writer (kept here: a lost mapping reads 0) */
    /* Every arena's own counters (written with each publish). */
    struct gh_shm_arenas *arena_tab;
    struct gh_shm_arena *arena_entries;
    uint32_t discipline;           /* enum gh_shm_discipline of the heap */
    uint32_t max_order;            /* buddy: its chunk order */
    uint64_t seen_large;           /* the registry's changes when the large
                                      list was last written */
    /* The region tables, for readers that walk the heap themselves: [0] is
     * the main arena's (the header's heap_offset), [k] arena k's (tab NULL
     * until gh_shm_attach_arena), each under its own arena's lock. */
    struct gh_shm_tab {
        struct gh_shm_heap *tab;
        struct gh_shm_region *regions;
        struct gh_shm_seq *q;      /* the arena's seq state, once bound */
        uint64_t seen_regions;     /* the heap's region_changes when written */
    } arena_tabs[GH_SHM_ARENAS_CAPACITY];
    char *arena_tables;            /* where table 1 lies (NULL: no segment) */
    uint32_t arena_table_stride;
    /* The live section: the counters in place (glassheap/live.h). */
    struct gh_shm_live *live;
    struct gh_shm_live_arena *live_arenas;  /* [GH_SHM_LIVE_ARENAS] */
    struct gh_shm_live_cache *live_caches;  /* [GH_SHM_LIVE_CACHES] */
    const struct gh_front *front;  /* the main arena's (large words), once placed */
    bool placed;                   /* counters count in place: the mapping stays
                                      until the process ends (gh_shm_close) */
};

/* Create /dev/shm/glassheap.<getpid()> (replacing one left by an earlier
 * image of this pid) and fill its header and configuration.  0 or errno;
 * on failure s->hdr stays NULL and the program runs on without one. */
int gh_shm_open(struct gh_shm *s, const struct gh_config *cfg, const struct gh_heap *h);

/* The same with a large-block list: the segment gets GH_SHM_LARGE_CAPACITY
 * entries, filled from `large` (read with the allocator lock held, by
 * gh_shm_publish, gh_shm_write_map and gh_shm_write_large).  gh_shm_open
 * is this with large NULL: the header names no list (large_offset 0), as
 * a writer older than the list did. */
int gh_shm_open_large(struct gh_shm *s, const struct gh_config *cfg, const struct gh_heap *h,
                      const struct gh_large *large);

/* Unlink and unmap (at exit, or in a forked child before making its own);
 * it publishes nothing itself: call gh_shm_publish first.  Once counters
 * count in place (s->placed), the mapping is kept: another thread may still
 * be counting in it (a forked child brings every count home first and then
 * unmaps: it has one thread). */
void gh_shm_close(struct gh_shm *s, bool unlink_it);

/* Write a snapshot under the sequence lock, then the large-block list. */
void gh_shm_publish(struct gh_shm *s, const struct gh_stats_snapshot *snap);

/* Every arena's own entry, written in place (every arena lock held; right
 * after gh_shm_publish, so they describe the same moment): begin returns
 * the GH_SHM_ARENAS_CAPACITY entries to fill, under the table's sequence
 * lock (NULL without a segment or once it is lost: write nothing, and do
 * not call end); end closes it with n of them valid. */
struct gh_shm_arena *gh_shm_arenas_begin(struct gh_shm *s);
void gh_shm_arenas_end(struct gh_shm *s, unsigned n);

/* Write the map of the heaps (every arena's, in order; their locks held)
 * under its sequence lock, regions numbered on from one heap to the next;
 * with marks, an in-use block carrying a cache mark is listed as cached.
 * The large-block list is written with it. */
void gh_shm_write_map(struct gh_shm *s, const struct gh_heap *const *heaps, unsigned nheaps, bool marks);

/* Write the large-block list under its sequence lock (allocator lock held):
 * up to GH_SHM_LARGE_CAPACITY live blocks, total = all of them.  Nothing
 * without a list.  gh_shm_publish and gh_shm_write_map call it; a front end
 * may also call it after each large map/unmap to keep it current. */
void gh_shm_write_large(struct gh_shm *s);

/* Rewrite the main arena's region table from h's region tree (inside the
 * odd window of its seq, or before the segment is published). */
void gh_shm_write_regions(struct gh_shm *s, const struct gh_heap *h);

/* gh_shm_leave's slow path: arena k's region table (and for the main
 * arena the large-block list) rewritten, whichever changed. */
void gh_shm_refresh(struct gh_shm *s, unsigned k, struct gh_shm_seq *q, const struct gh_heap *h);

/* No more writing into the segment (every arena lock held, or one thread
 * left): hdr NULL and every bound arena's seq word forgotten; the mapping
 * itself is gh_shm_close's. */
void gh_shm_stop(struct gh_shm *s);

/* Give arena k (1 <= k < GH_SHM_ARENAS_CAPACITY; its lock held, and the
 * main arena's) its region table: the layout words, its regions, its seq
 * (q: the arena's own); and move its heap's counters and its call counters
 * (*calls) into its live entry, inside the table's first odd window.  From
 * then on its calls move that seq (gh_shm_enter/leave) and count in place. */
void gh_shm_attach_arena(struct gh_shm *s, unsigned k, struct gh_shm_seq *q, struct gh_heap *h,
                         struct gh_calls **calls);

/* The main arena's seq bound to q (the main arena's lock held): from now
 * on gh_shm_enter(q)/gh_shm_leave(s, 0, q, h) move it.  gh_shm_place_main
 * does this first; a test of the walk alone calls it by itself. */
void gh_shm_bind_main(struct gh_shm *s, struct gh_shm_seq *q, const struct gh_heap *h);

/* The same for the main arena (its lock held; before any other is
 * attached): the main arena's seq bound to q, its heap's counters and
 * *calls into live entry 0, inside an odd window of that seq, and f (its
 * front, or NULL: the large words of the live section, written with the
 * large-block list from now on). */
void gh_shm_place_main(struct gh_shm *s, struct gh_shm_seq *q, struct gh_heap *h, struct gh_calls **calls,
                       const struct gh_front *f);

/* What q's table lists changes with: its heap's regions (region.c moves
 * region_changes on every change) and, for the main arena, the large
 * blocks (large.c): one word that moves whenever the table is out of date. */
static inline uint64_t gh_shm_changes(const struct gh_shm_seq *q, const struct gh_heap *h)
{
    return h->c->region_changes + (q->large ? q->large->changes : 0);
}

/* At the start of a call (the arena's lock held; exports.h's enter()): its
 * seq goes odd (ours stays even), so a walker outside knows the
 * heap may change.  Nothing while the arena has no table. */
static inline void gh_shm_enter(struct gh_shm_seq *q)
{
    if (q->word) {
        __atomic_store_n(q->word, q->seq + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
    }
}

/* At its end (lock still held; leave()): arena k's table rewritten when a
 * region was added, extended, shrunk or released (and the main arena's
 * large-block list when a large block came or went: one compare when
 * nothing did), then seq even again, two more than before the call: what
 * a walker outside reads is current after every call.  (A leave whose
 * enter found no table - the call that publishes it - moves seq by two all
 * the same.)  False: the arena has no table (nothing was written). */
static inline bool gh_shm_leave(struct gh_shm *s, unsigned k, struct gh_shm_seq *q, const struct gh_heap *h)
{
    if (!q->word)
        return false;
    if (__builtin_expect(gh_shm_changes(q, h) != q->seen, 0))
        gh_shm_refresh(s, k, q, h);
    q->seq += 2;
    __atomic_store_n(q->word, q->seq, __ATOMIC_RELEASE);
    return true;
}

/* A reader is waiting for counters or a map?  Under the main arena's lock
 * (the exit handler takes the segment away under every lock), or with no
 * lock once the counters are placed: that mapping stays to the end. */
static inline bool gh_shm_requested(const struct gh_shm *s)
{
    return __atomic_load_n(&s->counters->request, __ATOMIC_RELAXED) != s->counters->answered
        || __atomic_load_n(&s->map->request, __ATOMIC_RELAXED) != s->map->answered;
}

#endif
