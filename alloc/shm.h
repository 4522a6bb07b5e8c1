/* shm.h - publishing counters and the heap map into the segment
 * (layout: include/glassheap/shm.h).
 *
 * The front end creates the segment at start-up (outside its lock), calls
 * gh_shm_tick() with its lock held at the end of every allocator call, and
 * gh_shm_close() at exit.  Nothing here allocates; the segment is a
 * MAP_SHARED mapping of /dev/shm/glassheap.<pid>.
 */
#ifndef GH_SHM_H
#define GH_SHM_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "glassheap/shm.h"
#include "heap.h"
#include "stats.h"

struct gh_shm {
    struct gh_shm_header *hdr;     /* NULL: no segment */
    struct gh_shm_counters *counters;
    struct gh_shm_map *map;
    struct gh_shm_block *blocks;
    uint64_t size;
    int fd;                        /* held open with a shared flock: readers
                                      see the lock vanish when we exit or exec */
    uint64_t calls;                /* allocator calls since the last publish */
};

/* Create /dev/shm/glassheap.<getpid()> (replacing one left by an earlier
 * image of this pid) and fill its header and configuration.  0 or errno;
 * on failure s->hdr stays NULL and the program runs on without one. */
int gh_shm_open(struct gh_shm *s, const struct gh_config *cfg, const struct gh_heap *h);

/* Unlink and unmap (at exit, or in a forked child before making its own);
 * `final` publishes nothing itself: call gh_shm_publish first. */
void gh_shm_close(struct gh_shm *s, bool unlink_it);

/* Write a snapshot under the sequence lock. */
void gh_shm_publish(struct gh_shm *s, const struct gh_stats_snapshot *snap, const struct gh_heap *h);

/* Write the heap map under its sequence lock (allocator lock held). */
void gh_shm_write_map(struct gh_shm *s, const struct gh_heap *h);

/* A reader is waiting for counters or a map? */
static inline bool gh_shm_requested(const struct gh_shm *s)
{
    return __atomic_load_n(&s->counters->request, __ATOMIC_RELAXED) != s->counters->answered
        || __atomic_load_n(&s->map->request, __ATOMIC_RELAXED) != s->map->answered;
}

#endif
