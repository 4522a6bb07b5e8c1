/* top.h - what `glassheap top`'s two files share: the state of one
 * watched process.  cmd_top.c owns the options, the sampling and the line
 * view; top_screen.c the ncurses view, built with GLASSHEAP_HAVE_CURSES.
 */
#ifndef GH_CLI_TOP_H
#define GH_CLI_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reader.h"

#define TOP_HISTORY 1024        /* sparkline samples kept */
#define TOP_MAP_CAP GH_SHM_MAP_CAPACITY
#define NS_PER_MS 1000000ull

struct top {
    int pid;
    struct ghr_segment *seg;
    dev_t dev;                  /* the segment file when opened: an exec'd */
    ino_t ino;                  /* image replaces it with a new one */
    struct gh_shm_config cfg;
    struct gh_shm_counters cur, prev;
    int samples;                /* counters read so far */
    bool fresh;                 /* the writer answered the last request */
    bool in_place;              /* the counters were read in place (no request needed) */
    bool exited;
    bool execd;                 /* alive, but its segment is stale: it exec'd */
    double rate;                /* allocator calls per second */
    bool have_rate;
    double ext_hist[TOP_HISTORY], util_hist[TOP_HISTORY];
    size_t hist_n;              /* samples in the rings; newest at hist_n - 1 */
    struct gh_shm_block *blocks;
    size_t nblocks;
    uint64_t total_blocks;
    bool have_map;
    bool outside;               /* the last sample's heap was walked from outside */
    bool map_outside;           /* so was the map shown */
    int interval_ms;
    uint64_t start_ns;
    struct gh_shm_arena arenas[GH_SHM_ARENAS_CAPACITY]; /* each arena's own, as published */
    size_t narenas;             /* 0: a writer without the table */
    bool show_arenas;           /* terminal view: the arenas panel ('a') */
};

/* Take one sample: fresh counters (and a heap map when want_map), the
 * rate, the histories; follows an exec'd image to its new segment. */
void top_sample(struct top *t, bool want_map);

/* The ncurses view until q (or `iterations` samples); a GH_EXIT_ status. */
int top_run_terminal(struct top *t, long iterations);

#endif
