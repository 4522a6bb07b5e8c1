/* replay.h - what the parts of glassheap replay share.
 *
 *   cmd_replay.c     the options and the command
 *   replay_sim.c     the simulated process: one policy's heap and front end
 *                    over a private arena and a counted mapper; the figures
 *   replay_step.c    --step (text) and --step --html (a page with a slider)
 *   replay_output.c  the table, --json and --svg
 *
 * Replay runs the library's own front end (alloc/front.h: the mmap
 * threshold, what a heap cannot hold, the realloc rule, the large-block
 * layout) and heap (alloc/heap.h) in this process, one policy after the
 * other.  The heap's source is an anonymous MAP_NORESERVE arena that grows
 * and trims in whole pages exactly as the break does (a paged arena,
 * alloc/source.h), so a replay under policy P gives the heap the program
 * had under P; large blocks get real mappings through a counted mapper
 * (alloc/mapper.h) and are counted apart, not as heap bytes, as the
 * library counts them.
 */
#ifndef GH_REPLAY_H
#define GH_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "front.h"
#include "heap.h"
#include "mapper.h"
#include "tracefile.h"

#define REPLAY_SERIES_POINTS 800u  /* samples per policy for --svg */
#define REPLAY_STEP_MAX_OPS 1000u  /* --step is for small traces */

/* One id of the trace: its block while live. */
enum slot_state { S_NONE, S_LIVE, S_FAILED };

struct slot {
    void *p;        /* the payload (heap or large) while S_LIVE */
    uint8_t state;
};

/* The heap's counters at one moment. */
struct snapshot {
    uint64_t heap_bytes, live_requested, live_block_bytes, live_blocks, free_bytes, free_blocks, largest_free;
};

/* One policy's figures. */
struct result {
    const char *policy;
    struct gh_heap_counters c;   /* the heap's counters at the end */
    uint64_t heap_at_peak_live;  /* J&W #3 */
    uint64_t live_at_peak_heap;  /* J&W #2 */
    long double sum_heap, sum_live;
    struct snapshot at_peak;     /* at the moment of peak live */
    uint64_t large_peak_bytes, large_peak_req, large_blocks;
    uint64_t peak_total_req;     /* heap + large requested */
    uint64_t failures;
    double seconds;
    uint64_t *series_heap, *series_live; /* npoints each: the most in each run of operations */
    size_t npoints;
};

/* The simulated process of one policy. */
struct sim {
    struct gh_heap h;
    struct gh_source src;
    struct gh_front front;
    struct gh_mapper mapper;
    struct gh_mapper_counts mapped;
    char *arena;
    size_t arena_len;
    uint32_t nids;
    struct slot *slots;
    uint64_t peak_req_seen, peak_heap_seen;
    struct result *res;
};

/* Set up s for policy over a fresh arena; false when no arena (or no
 * memory for the slots) could be had. */
bool sim_init(struct sim *s, const char *policy, uint64_t threshold, uint32_t nids, struct result *res);
/* Free every block still live and give the arena back. */
void sim_end(struct sim *s);
/* One operation of the trace. */
void sim_apply(struct sim *s, const struct tf_op *op);
/* Byte offset of p from the arena's start. */
uint64_t sim_offset(const struct sim *s, const void *p);
/* Is the live slot's block a heap block (not a large one)? */
bool sim_in_heap(const struct sim *s, const struct slot *sl);

/* --step --html: the page, and the bytes each step's picture spans (the
 * same for every step of a policy, so that blocks keep their place). */
struct html_page {
    FILE *out;
    uint64_t span;
};

/* Replay t under one policy into *res (step_out, html: --step output, or
 * NULL); false when no arena could be had. */
bool replay_policy(const struct tf_trace *t, const char *policy, uint64_t threshold, FILE *step_out,
                   struct html_page *html, struct result *res);
void result_free(struct result *r);

/* replay_step.c */
void step_print(FILE *out, const struct sim *s, size_t i, size_t n, const struct tf_op *op);
void html_step(FILE *out, const struct sim *s, uint64_t span, const char *policy, double y, const struct tf_op *op);
uint64_t html_span(const struct tf_trace *t, const char *policy, uint64_t threshold);
void html_begin(FILE *hf, const char *path, size_t nops);
void html_end(FILE *hf);

/* replay_output.c */
void replay_print_json(const struct tf_trace *t, const char *path, uint64_t threshold, const struct result *res,
                       size_t nres);
void replay_print_table(const struct tf_trace *t, const char *path, uint64_t threshold, const struct result *res,
                        size_t nres);
bool replay_write_svg(const char *file, const struct tf_trace *t, const char *path, const struct result *res,
                      size_t nres);

#endif
