/* layout.h - what `glassheap layout`'s three files share: the model of a
 * process's address space (layout_model.c builds it from /proc/PID/maps
 * and the glassheap segment), drawn by layout_output.c (text, JSON, SVG)
 * for cmd_layout.c (the options).
 */
#ifndef GH_CLI_LAYOUT_H
#define GH_CLI_LAYOUT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glassheap/shm.h"
#include "heapmap.h"
#include "proc.h"

#define PAGE               4096u
#define BOX_INNER          40            /* text diagram: box width */

enum rkind {
    R_TEXT, R_RODATA, R_DATA, R_BSS, R_HEAP, R_GH_REGION, R_GH_LARGE, R_GH_SEGMENT,
    R_LIBRARY, R_ANON, R_FILE, R_STACK, R_GUARD, R_VDSO, R_RESERVED, R_KINDS
};

struct rkind_info {
    const char *id;     /* JSON "kind" */
    const char *label;  /* diagram */
    const char *fill;   /* SVG */
};
extern const struct rkind_info kinds[R_KINDS];

/* One box of the diagram: one mapping, or a run of them (a library). */
struct box {
    uint64_t start, end;
    enum rkind kind;
    char name[96];
    char perms[48];  /* the mappings' permissions, space separated */
    int nmaps;
    bool glassheap;  /* glassheap's own (segment, heap, regions, large blocks) */
    unsigned blocks; /* large blocks in the box */
    bool unmapped;   /* the guard gap */
};

struct boxes {
    struct box *v;
    size_t n, cap;
};

struct span {
    uint64_t start, end;
    enum rkind kind;
};

struct spans {
    struct span *v;
    size_t n, cap;
};

struct layout {
    int pid;
    char exe[PATH_MAX];
    const char *program;
    struct gh_proc_map *maps;
    size_t nmaps;
    /* glassheap */
    bool gh;             /* a segment was opened */
    const char *map_note;/* how the heap map came, or why not */
    enum hm_mode mode;   /* --source: walk from outside, ask, or both */
    char note_buf[GHW_WHY_MAX + 96]; /* map_note, when it names a walk's failure */
    struct gh_shm_config cfg;
    struct gh_shm_counters ctr;
    struct heapmap hm;
    struct spans marks;  /* heap regions and large blocks found in anonymous mappings */
    unsigned large_found;
    uint64_t start_brk;
    struct boxes boxes;
};


/* Read the mappings of l->pid (l->pid set, the rest zero), its start_brk,
 * its executable and, when it runs glassheap, the segment (a heap map
 * waited for up to timeout_ms, the large-block list); then classify them
 * into l->boxes.  False (errno set) when /proc/PID/maps cannot be read. */
bool layout_read(struct layout *l, int timeout_ms);
void layout_free(struct layout *l);

/* "0x" and 12 hex digits. */
const char *layout_hex(uint64_t a, char *buf, size_t cap);

void layout_print_text(const struct layout *l);
void layout_print_json(const struct layout *l);
/* The SVG to file ('-': stdout); a GH_EXIT_* status. */
int layout_write_svg(const struct layout *l, const char *file);

#endif
