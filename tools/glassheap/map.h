/* map.h - what `glassheap map`'s files share: the view of one heap (the
 * segment's heap map cut into pieces of one kind and the large blocks the
 * segment lists, map_model.c), the rows it is drawn in, and the outputs: terminal and JSON (map_text.c), SVG
 * (map_svg.c), for the options and the command (cmd_map.c).
 */
#ifndef GH_CLI_MAP_H
#define GH_CLI_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "heapmap.h"
#include "reader.h"

#define DEFAULT_WIDTH      64
#define DEFAULT_ROWS       40      /* lines the auto cell size aims for */
#define MIN_CELL           16u     /* the allocator's alignment */
#define MAP_LARGE_SHOWN    16u     /* large blocks listed one by one; the rest: "+N more" */

/* K_CACHED: a block freed by the program and kept in a thread's cache (in
 * use in the heap's eyes: GLASSHEAP_CACHE). */
enum kind { K_NONE, K_USED, K_WASTE, K_FREE, K_CACHED, K_KINDS };

/* A piece of the heap of one kind; block: index into the map, or -1 for a
 * region record, end marker or gap. */
struct piece {
    uint64_t start, end;
    enum kind kind;
    long block;
};

struct view {
    int pid;
    const char *program;
    struct gh_shm_config cfg;
    struct gh_shm_counters ctr;
    struct ghr_frag frag;
    struct heapmap map;
    struct piece *pieces;
    size_t npieces;
    bool relative;
    uint64_t base; /* subtracted from every heap address shown */
    /* the segment's large-block list, by address (outside the heap: shown
     * with absolute addresses, none under --relative); nlarge 0: none */
    struct gh_shm_large_block *large;
    size_t nlarge;
    uint64_t large_total; /* live large blocks, >= nlarge */
    uint64_t large_bytes; /* the listed blocks' mappings */
    bool outside;         /* the map was read from outside (else answered by the process) */
};

struct options {
    int pid;
    const char *svg;
    int width;        /* 0: default */
    uint64_t cell;    /* 0: auto */
    int rows;         /* 0: default */
    int timeout_ms;
    enum hm_mode mode;  /* --source */
    bool json, relative;
    int color;        /* -1 auto, 0 never, 1 always */
};

/* Rows are [origin + i * row_bytes, +row_bytes); the origin is 0 (rows at
 * multiples of the row size) or the heap start (--relative). */
struct rows {
    uint64_t origin, row_bytes;
};

/* Call fn for each row that holds heap, in order; `gap` is 0, or, when rows
 * were left out since the previous call, the bytes between the two regions. */
typedef bool (*row_fn)(void *ctx, uint64_t row, uint64_t gap);

/* ---- map_model.c ---- */

/* The program's name from the segment's command line. */
const char *map_program_name(const struct gh_shm_config *cfg, char *buf, size_t cap);
/* An address as shown: relative to v->base, in hex. */
const char *map_addr_str(const struct view *v, uint64_t a, char *buf, size_t cap);
double map_pct(double x);
/* The used and free bytes of the blocks in the map. */
void map_counts(const struct view *v, uint64_t *used, uint64_t *freeb);

/* Does the map hold a block kept in a thread's cache? */
bool map_has_cached(const struct view *v);

/* "used", "free" or "cached". */
const char *map_state_name(uint32_t state);
/* The counters in a few lines (also for a process that did not answer). */
void map_counters_summary(FILE *f, const struct gh_shm_config *cfg, const struct gh_shm_counters *c,
                          const struct ghr_frag *fr);
/* Cut v->map into v->pieces; false when out of memory. */
bool map_build_pieces(struct view *v);
/* The piece holding address a, searched from the start. */
size_t map_piece_at(const struct view *v, uint64_t a);
uint64_t map_row_of(const struct rows *g, uint64_t a);
uint64_t map_row_start(const struct rows *g, uint64_t row);
void map_each_row(const struct view *v, const struct rows *g, row_fn fn, void *ctx);
/* The kind that fills most of [lo, hi), *p the piece to start from. */
enum kind map_dominant(const struct view *v, size_t *p, uint64_t lo, uint64_t hi);
/* heap_end - heap_start, 0 for an empty map. */
uint64_t map_heap_span(const struct view *v);
/* The bytes of the heap's regions (gaps between them left out). */
uint64_t map_heap_bytes(const struct view *v);

/* One arena's part of the map, as its regions and blocks add up. */
struct map_arena {
    uint32_t arena;
    size_t regions;
    uint64_t heap_bytes, used_blocks, used_bytes, free_blocks, free_bytes, largest_free;
};
/* Each arena's part, in arena order, into out (cap entries); how many.
 * 0 when the map does not tell arenas apart (answered by the process). */
size_t map_arenas(const struct view *v, struct map_arena *out, size_t cap);
/* Its external fragmentation (glassheap/frag.h's formula). */
double map_arena_external(const struct map_arena *a);
/* Read the segment's large-block list into v (sorted by address); a
 * GHR_* code.  A writer without the list leaves v->nlarge 0. */
int map_fetch_large(struct view *v, const struct ghr_segment *seg);

/* ---- outputs: a GH_EXIT_* status ---- */

int map_draw_terminal(const struct view *v, const struct options *o);          /* map_text.c */
void map_json_counters(FILE *f, const struct gh_shm_counters *c, const struct ghr_frag *fr);
int map_print_json(const struct view *v);                                       /* map_text.c */
int map_write_svg(const struct view *v, const struct options *o);               /* map_svg.c */

#endif
