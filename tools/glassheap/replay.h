/* replay.h - what the parts of glassheap replay share.
 *
 *   cmd_replay.c     the options and the command
 *   replay_model.c   the growth models (--model glassheap|exact): how each
 *                    sets up the source, heap and front end; their names
 *   replay_sim.c     the simulated process: one policy's heap and front end
 *                    over a private arena and a counted mapper; the figures
 *   replay_step.c    --step (text) and --step --html (a page with a slider)
 *   replay_output.c  the table, --json and --svg
 *
 * Replay runs the library's own front end (alloc/front.h: the mmap
 * threshold, what a heap cannot hold, the realloc rule, the large-block
 * layout) and heap (alloc/heap.h) in this process, one policy after the
 * other.  The heap's source is an anonymous MAP_NORESERVE arena.  Under the
 * glassheap model it grows and trims in whole pages exactly as the break
 * does (a paged arena, alloc/source.h), so a replay under policy P gives
 * the heap the program had under P; large blocks get real mappings through
 * a counted mapper (alloc/mapper.h) and are counted apart, not as heap
 * bytes, as the library counts them.  Under the exact model (the malloc-lab
 * driver's) the arena grows by what each request lacks and never shrinks,
 * and nothing is mapped apart (replay_model.c).
 *
 * Live bytes are the program's: the requested sizes of the trace's blocks
 * that are live in the heap after each operation, a realloc replacing its
 * old size at once, so they are the same under every policy.  The heap's
 * own count, which holds old and new block of a moving realloc both for a
 * moment, is kept apart (peak_live_in_moves).
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
#include "tcache.h"
#include "tracefile.h"

#define REPLAY_SERIES_POINTS 800u  /* samples per policy for --svg */
#define REPLAY_STEP_MAX_OPS 1000u  /* --step is for small traces */

/* One id of the trace: its block while live. */
enum slot_state { S_NONE, S_LIVE, S_FAILED };

struct slot {
    void *p;        /* the payload (heap or large) while S_LIVE */
    uint64_t size;  /* the bytes the trace asked for, while S_LIVE */
    uint8_t state;
};

/* A growth model (replay_model.c). */
enum replay_model_kind { MODEL_GLASSHEAP, MODEL_EXACT };

struct replay_model {
    enum replay_model_kind kind;
    const char *name;          /* as --model spells it */
    uint64_t mmap_threshold;   /* UINT64_MAX: no mmap path; else the one at start */
    bool threshold_dynamic;    /* it rises as large blocks are freed (alloc/front.h) */
    uint64_t top_pad;
    uint64_t trim_threshold;   /* UINT64_MAX: never trims */
    bool trim_adaptive;        /* the threshold doubles on growing after a trim */
    bool shrinks;              /* the source takes memory back */
    uint64_t unit;             /* growth granularity: the page, or 16 bytes */
    unsigned buddy_order;      /* exact: buddy's chunk is 2^buddy_order */
    bool cache;                /* --cache: the trace's one thread has the library's
                                * per-thread cache in front (alloc/tcache.h) */
};

/* The heap's counters at one moment. */
struct snapshot {
    uint64_t heap_bytes, live_requested, live_block_bytes, live_blocks, free_bytes, free_blocks, largest_free;
};

/* One policy's figures. */
struct result {
    const char *policy;
    struct gh_heap_counters c;   /* the heap's counters at the end */
    uint64_t peak_live;          /* the program's peak of live heap bytes */
    uint64_t peak_live_in_moves; /* the heap's own: old and new block of a moving realloc both */
    uint64_t heap_at_peak_live;  /* J&W #3 */
    uint64_t live_at_peak_heap;  /* J&W #2 */
    uint64_t buddy_chunk;        /* buddy: its largest block, the unit it grows by; 0 for fit */
    long double sum_heap, sum_live;
    struct snapshot at_peak;     /* at the moment of peak live */
    uint64_t large_peak_bytes, large_peak_req, large_blocks;
    uint64_t threshold_end;      /* the mmap threshold after the last operation */
    uint64_t threshold_rises;    /* times the dynamic rule raised it */
    uint64_t large_reused;       /* large blocks made from a cached mapping */
    uint64_t peak_total_req;     /* heap + large requested */
    uint64_t failures;           /* allocations that failed, of which: */
    uint64_t fail_too_large;     /*   above PTRDIFF_MAX: no block can hold them */
    uint64_t fail_mapping;       /*   a large block whose mapping the kernel refused */
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
    bool cache;                  /* the model's cache: tc in front of the front end */
    bool pow2;                   /* buddy: power-of-two blocks (the cache's size rule) */
    struct gh_tcache tc;
    uint32_t nids;
    struct slot *slots;
    uint64_t live, live_all;     /* the program's live bytes: heap blocks, and all */
    uint64_t peak_heap_seen;
    bool heap_peaked;            /* the heap reached a new peak in this operation */
    bool threshold_rose;         /* the dynamic mmap threshold rose in this operation */
    struct result *res;
};

/* Set up s for policy over a fresh arena; false when no arena (or no
 * memory for the slots) could be had. */
bool sim_init(struct sim *s, const struct replay_model *m, const char *policy, uint32_t nids, struct result *res);
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
bool replay_policy(const struct tf_trace *t, const struct replay_model *m, const char *policy, FILE *step_out,
                   struct html_page *html, struct result *res);
void result_free(struct result *r);

/* replay_step.c */
void step_print(FILE *out, const struct sim *s, size_t i, size_t n, const struct tf_op *op);
void html_step(FILE *out, const struct sim *s, uint64_t span, const char *policy, double y, const struct tf_op *op);
uint64_t html_span(const struct tf_trace *t, const struct replay_model *m, const char *policy);
void html_begin(FILE *hf, const char *path, size_t nops, const struct replay_model *m);
void html_end(FILE *hf);

/* replay_model.c */
/* The model --model names; false for an unknown name. */
bool replay_model_parse(const char *name, enum replay_model_kind *k);
/* Model k for trace t (threshold: the glassheap model's mmap threshold;
 * given: it came from --mmap-threshold).  The glassheap model's threshold
 * is dynamic as the library's is unless it was chosen: given, or a trace's
 * other than the default (the program ran with GLASSHEAP_MMAP_THRESHOLD). */
void replay_model_init(struct replay_model *m, enum replay_model_kind k, uint64_t threshold, bool given,
                       const struct tf_trace *t);
/* Set up s's source (over s->arena), heap for policy and front end (over
 * s->mapper) as model m has them. */
void replay_model_setup(const struct replay_model *m, struct sim *s, const char *policy);
/* "growth model NAME (...): parameters\n"; buddy_chunk 0 when no buddy ran. */
void replay_model_describe(FILE *f, const struct replay_model *m, uint64_t buddy_chunk);
/* "model NAME: parameters" (no newline), for the SVG and HTML pages. */
void replay_model_line(FILE *f, const struct replay_model *m, uint64_t buddy_chunk);
/* The model as a JSON object. */
void replay_model_json(FILE *f, const struct replay_model *m, uint64_t buddy_chunk);

/* replay_output.c */
/* The buddy chunk of the results (0 when buddy is not among them). */
uint64_t replay_buddy_chunk(const struct result *res, size_t nres);
void replay_print_json(const struct tf_trace *t, const char *path, const struct replay_model *m,
                       const struct result *res, size_t nres);
void replay_print_table(const struct tf_trace *t, const char *path, const struct replay_model *m,
                        const struct result *res, size_t nres);
/* The chart as an SVG file (opened by tools/lib/outfile.h's rule); false
 * with *refused (a gh_outfile_open code) when it cannot be written. */
bool replay_write_svg(const char *file, const struct tf_trace *t, const char *path, const struct replay_model *m,
                      const struct result *res, size_t nres, int *refused);

#endif
