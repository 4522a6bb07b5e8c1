/* cmd_layout.c - glassheap layout: one process's address space, drawn the
 * way OS textbooks draw it.
 *
 *   glassheap layout PID [--svg FILE] [--json] [--timeout MS]
 *
 * Reads /proc/PID/maps and classifies every mapping: the executable's text,
 * read-only data, data and bss; the heap ([heap]: from the start of the
 * break to the current break); anonymous mmap regions; shared libraries (one
 * box per library, its bss included); the stack and the guard gap the kernel
 * keeps below it; the kernel's [vvar]/[vdso]/[vsyscall].  When the process
 * runs glassheap, the segment adds what the kernel cannot know: which
 * mapping is glassheap's own segment, where its heap regions lie (a heap
 * map, asked for with --timeout), and which anonymous mappings are its large
 * blocks (found by their 48-byte record, read through /proc/PID/mem when
 * the inspector may read the process's memory).
 *
 * Output, high addresses at the top: a text diagram with the boundary
 * addresses and sizes; --svg a picture whose box heights grow with the
 * logarithm of the size (with a minimum), so a 4 KiB page and a 1 GiB
 * mapping are both visible; --json the boxes in address order.
 *
 * Nothing here trusts what it reads: /proc lines that do not parse are
 * skipped, and the segment's figures only label mappings that exist.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "reader.h"
#include "bytes.h"
#include "heapmap.h"
#include "proc.h"
#include "svg.h"

#define DEFAULT_TIMEOUT_MS 1000
#define PAGE               4096u
#define STACK_GUARD_GAP    (256u * PAGE) /* the kernel's default stack_guard_gap */
#define LARGE_RECORD       48u           /* a large block's record (alloc/large.h) */
#define PROBE_BUDGET       4096u         /* pages read looking for large blocks */
#define BOX_INNER          40            /* text diagram: box width */

enum rkind {
    R_TEXT, R_RODATA, R_DATA, R_BSS, R_HEAP, R_GH_REGION, R_GH_LARGE, R_GH_SEGMENT,
    R_LIBRARY, R_ANON, R_FILE, R_STACK, R_GUARD, R_VDSO, R_RESERVED, R_KINDS
};

static const struct {
    const char *id;     /* JSON "kind" */
    const char *label;  /* diagram */
    const char *fill;   /* SVG */
} kinds[R_KINDS] = {
    [R_TEXT] = { "text", "text", "#4e79a7" },
    [R_RODATA] = { "rodata", "read-only data", "#a0cbe8" },
    [R_DATA] = { "data", "data", "#59a14f" },
    [R_BSS] = { "bss", "bss", "#8cd17d" },
    [R_HEAP] = { "heap", "heap", "#f28e2b" },
    [R_GH_REGION] = { "glassheap-region", "heap region (mmap)", "#ffbe7d" },
    [R_GH_LARGE] = { "glassheap-large", "large block", "#e15759" },
    [R_GH_SEGMENT] = { "glassheap-segment", "glassheap segment", "#ff9d9a" },
    [R_LIBRARY] = { "library", "shared library", "#b07aa1" },
    [R_ANON] = { "anon", "anonymous mmap", "#bab0ac" },
    [R_FILE] = { "file", "file mapping", "#d4a6c8" },
    [R_STACK] = { "stack", "stack", "#edc948" },
    [R_GUARD] = { "guard", "stack guard gap", "#ffffff" },
    [R_VDSO] = { "vdso", "kernel (vvar, vdso)", "#9d7660" },
    [R_RESERVED] = { "reserved", "reserved (no access)", "#e0e0e0" },
};

struct mapping {
    uint64_t start, end, offset;
    char perms[5];
    unsigned long long inode;
    char *path; /* "" for anonymous */
};

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
    struct mapping *maps;
    size_t nmaps;
    /* glassheap */
    bool gh;             /* a segment was opened */
    const char *map_note;/* how the heap map came, or why not */
    struct gh_shm_config cfg;
    struct gh_shm_counters ctr;
    struct heapmap hm;
    struct spans marks;  /* heap regions and large blocks found in anonymous mappings */
    unsigned large_found;
    uint64_t start_brk;
    struct boxes boxes;
};

/* ---- small helpers ----------------------------------------------------- */

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 64;
    void *p = realloc(*v, nc * size);
    if (!p)
        return false;
    *v = p;
    *cap = nc;
    return true;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool is_library(const char *path)
{
    const char *b = base_name(path);
    const char *so = strstr(b, ".so");
    return so && (so[3] == '\0' || so[3] == '.' || so[3] == ' ');
}

static const char *hex(uint64_t a, char *buf, size_t cap)
{
    snprintf(buf, cap, "0x%012" PRIx64, a);
    return buf;
}

/* ---- /proc ------------------------------------------------------------- */

static bool read_maps(struct layout *l)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", l->pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        struct mapping m = { 0 };
        unsigned long long s, e, off;
        int pos = 0;
        if (sscanf(line, "%llx-%llx %4s %llx %*s %llu %n", &s, &e, m.perms, &off, &m.inode, &pos) < 5 || e <= s)
            continue;
        char *p = line + pos;
        p[strcspn(p, "\n")] = '\0';
        m.start = s;
        m.end = e;
        m.offset = off;
        m.path = strdup(p);
        if (!m.path || !grow((void **)&l->maps, &cap, l->nmaps, sizeof *l->maps)) {
            free(m.path);
            break;
        }
        l->maps[l->nmaps++] = m;
    }
    free(line);
    fclose(f);
    return l->nmaps > 0;
}

/* ---- glassheap's own mappings ------------------------------------------ */

static bool add_mark(struct layout *l, uint64_t s, uint64_t e, enum rkind k)
{
    if (!grow((void **)&l->marks.v, &l->marks.cap, l->marks.n, sizeof *l->marks.v))
        return false;
    l->marks.v[l->marks.n++] = (struct span){ s, e, k };
    return true;
}

/* A large block's mapping starts at a page; its record (map_len, map_base,
 * ...) sits in that page, 16-aligned, with map_base equal to the page's
 * address.  Returns the mapping's length, or 0. */
static uint64_t probe_large(int memfd, uint64_t at, uint64_t limit)
{
    uint64_t page[PAGE / sizeof(uint64_t)];
    if (pread(memfd, page, sizeof page, (off_t)at) != (ssize_t)sizeof page)
        return 0;
    for (size_t i = 0; i + 1 < PAGE / sizeof(uint64_t) - LARGE_RECORD / sizeof(uint64_t); i += 2) {
        uint64_t len = page[i], base = page[i + 1];
        if (base == at && len >= PAGE && len % PAGE == 0 && len <= limit - at)
            return len;
    }
    return 0;
}

/* Look for large blocks in the anonymous read-write mappings. */
static void find_large_blocks(struct layout *l)
{
    if (!l->ctr.large_blocks)
        return;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", l->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    unsigned budget = PROBE_BUDGET;
    for (size_t i = 0; i < l->nmaps && budget && l->large_found < l->ctr.large_blocks; i++) {
        const struct mapping *m = &l->maps[i];
        if (m->path[0] || strcmp(m->perms, "rw-p"))
            continue;
        for (uint64_t at = m->start; at < m->end && budget; budget--) {
            uint64_t len = probe_large(fd, at, m->end);
            if (!len) {
                at += PAGE;
                continue;
            }
            add_mark(l, at, at + len, R_GH_LARGE);
            l->large_found++;
            at += len;
        }
    }
    close(fd);
}

static void read_segment(struct layout *l, int timeout_ms)
{
    struct ghr_segment *seg = NULL;
    int rc = ghr_open_pid(l->pid, &seg);
    if (rc != GHR_OK) {
        l->map_note = rc == GHR_NO_SEGMENT ? "the process does not run glassheap"
                                           : ghr_strerror((enum ghr_error)rc);
        ghr_close(seg);
        return;
    }
    if (ghr_config(seg, &l->cfg) != GHR_OK) {
        ghr_close(seg);
        l->map_note = "the segment's configuration is unreadable";
        return;
    }
    l->gh = true;
    rc = hm_fetch(seg, timeout_ms, l->cfg.header_bytes, &l->hm);
    if (rc == GHR_OK) {
        l->map_note = "heap map answered";
        ghr_request_counters(seg, timeout_ms < 500 ? timeout_ms : 500);
    } else if (rc == GHR_TIMEOUT && hm_fetch(seg, -1, l->cfg.header_bytes, &l->hm) == GHR_OK) {
        l->map_note = "the process did not answer a map request: heap regions from the last map it wrote";
    } else {
        l->map_note = ghr_strerror((enum ghr_error)rc);
    }
    ghr_counters(seg, &l->ctr);
    ghr_close(seg);
    for (size_t r = 0; r < l->hm.nregions; r++)
        add_mark(l, l->hm.regions[r].start, l->hm.regions[r].end, R_GH_REGION);
    find_large_blocks(l);
}

/* ---- classification ---------------------------------------------------- */

static bool add_box(struct layout *l, const struct box *b)
{
    struct boxes *bx = &l->boxes;
    struct box *prev = bx->n ? &bx->v[bx->n - 1] : NULL;
    /* A run of one library, of kernel mappings, of large blocks: one box. */
    if (prev && prev->end == b->start && prev->kind == b->kind && !strcmp(prev->name, b->name) &&
        (b->kind == R_LIBRARY || b->kind == R_VDSO || b->kind == R_GH_LARGE || b->kind == R_FILE)) {
        prev->end = b->end;
        prev->nmaps += b->nmaps;
        prev->blocks += b->blocks;
        if (b->perms[0] && strlen(prev->perms) + strlen(b->perms) + 2 < sizeof prev->perms) {
            strcat(prev->perms, " ");
            strcat(prev->perms, b->perms);
        }
        return true;
    }
    if (!grow((void **)&bx->v, &bx->cap, bx->n, sizeof *bx->v))
        return false;
    bx->v[bx->n++] = *b;
    return true;
}

static enum rkind classify_file(const struct layout *l, const struct mapping *m, const char **name)
{
    *name = base_name(m->path);
    if (!strcmp(m->path, l->exe)) {
        if (strchr(m->perms, 'x'))
            return R_TEXT;
        return m->perms[1] == 'w' ? R_DATA : R_RODATA;
    }
    if (!strncmp(m->path, GH_SHM_DIR "/glassheap.", strlen(GH_SHM_DIR "/glassheap.")))
        return R_GH_SEGMENT;
    if (!strcmp(m->path, "[heap]"))
        return R_HEAP;
    if (!strncmp(m->path, "[stack", 6))
        return R_STACK;
    if (!strncmp(m->path, "[vvar", 5) || !strcmp(m->path, "[vdso]") || !strcmp(m->path, "[vsyscall]")) {
        *name = "vvar, vdso";
        if (!strcmp(m->path, "[vsyscall]"))
            *name = "vsyscall";
        return R_VDSO;
    }
    if (m->path[0] == '[') {
        *name = m->path;
        return R_ANON;
    }
    return is_library(m->path) ? R_LIBRARY : R_FILE;
}

/* Cut an anonymous mapping by the glassheap marks inside it; what no mark
 * covers is a box of kind `plain` named `name` (perms: `perms`, or the
 * mapping's). */
static void add_anon(struct layout *l, const struct mapping *m, enum rkind plain, const char *name,
                     const char *perms)
{
    uint64_t at = m->start;
    while (at < m->end) {
        const struct span *next = NULL;
        for (size_t i = 0; i < l->marks.n; i++) {
            const struct span *s = &l->marks.v[i];
            if (s->end > at && s->start < m->end && (!next || s->start < next->start))
                next = s;
        }
        uint64_t stop = next ? (next->start > at ? next->start : at) : m->end;
        struct box b = { .start = at, .end = stop, .kind = plain, .nmaps = 1 };
        snprintf(b.name, sizeof b.name, "%s", name);
        snprintf(b.perms, sizeof b.perms, "%s", perms ? perms : m->perms);
        if (stop > at)
            add_box(l, &b);
        if (!next)
            break;
        uint64_t end = next->end < m->end ? next->end : m->end;
        b = (struct box){ .start = stop, .end = end, .kind = next->kind, .nmaps = 1, .glassheap = true,
                          .blocks = next->kind == R_GH_LARGE };
        snprintf(b.name, sizeof b.name, "glassheap");
        snprintf(b.perms, sizeof b.perms, "%s", m->perms);
        add_box(l, &b);
        at = end;
    }
}

static bool heap_in(const struct layout *l, uint64_t s, uint64_t e)
{
    return l->hm.n && l->hm.regions[0].start >= s && l->hm.regions[0].start < e;
}

static void classify(struct layout *l)
{
    for (size_t i = 0; i < l->nmaps; i++) {
        const struct mapping *m = &l->maps[i];
        struct box *prev = l->boxes.n ? &l->boxes.v[l->boxes.n - 1] : NULL;
        if (!m->path[0]) {
            bool follows = prev && prev->end == m->start && !strcmp(m->perms, "rw-p");
            if (follows && prev->kind == R_DATA) {
                struct box b = { .start = m->start, .end = m->end, .kind = R_BSS, .nmaps = 1 };
                snprintf(b.name, sizeof b.name, "%s", prev->name);
                snprintf(b.perms, sizeof b.perms, "%s", m->perms);
                add_box(l, &b);
                continue;
            }
            if (follows && prev->kind == R_LIBRARY) {
                /* The library's bss.  The kernel merges it with any
                 * anonymous mapping placed right above it with the same
                 * permissions, so this may hold more than the bss: only
                 * glassheap's own mappings can be told apart. */
                char name[sizeof prev->name];
                snprintf(name, sizeof name, "%s", prev->name);
                add_anon(l, m, R_LIBRARY, name, "bss");
                continue;
            }
            if (strcmp(m->perms, "---p"))
                add_anon(l, m, R_ANON, "anonymous", NULL);
            else
                add_anon(l, m, R_RESERVED, "no access", NULL);
            continue;
        }
        const char *name;
        struct box b = { .start = m->start, .end = m->end, .nmaps = 1 };
        b.kind = classify_file(l, m, &name);
        snprintf(b.name, sizeof b.name, "%s", name);
        snprintf(b.perms, sizeof b.perms, "%s", m->perms);
        b.glassheap = b.kind == R_GH_SEGMENT || (b.kind == R_HEAP && heap_in(l, m->start, m->end));
        if (b.kind == R_STACK && (!strcmp(m->path, "[stack]"))) {
            /* The guard gap below the stack: nothing may be mapped there. */
            uint64_t lo = m->start > STACK_GUARD_GAP ? m->start - STACK_GUARD_GAP : 0;
            if (prev && prev->end > lo)
                lo = prev->end;
            if (lo < m->start) {
                struct box g = { .start = lo, .end = m->start, .kind = R_GUARD, .unmapped = true };
                snprintf(g.name, sizeof g.name, "not mapped");
                add_box(l, &g);
            }
        }
        add_box(l, &b);
    }
}

/* ---- text diagram ------------------------------------------------------ */

#define USER_SPACE_END 0x800000000000ull /* x86-64, 4-level page tables */

/* "unmapped, 44.0 KiB", or what the gap up to the kernel's pages is. */
static const char *gap_label(uint64_t lo, uint64_t hi, char *buf, size_t cap)
{
    char b[32];
    if (lo < USER_SPACE_END && hi > USER_SPACE_END)
        snprintf(buf, cap, "unmapped; user space ends at 0x%llx", USER_SPACE_END);
    else
        snprintf(buf, cap, "unmapped, %s", cli_bytes(hi - lo, b, sizeof b));
    return buf;
}

static void box_title(const struct box *b, char *buf, size_t cap)
{
    switch (b->kind) {
    case R_TEXT: case R_RODATA: case R_DATA: case R_BSS:
        snprintf(buf, cap, "%s (%s)", kinds[b->kind].label, b->name);
        break;
    case R_LIBRARY: case R_FILE:
        snprintf(buf, cap, "%s", b->name);
        break;
    case R_GH_LARGE:
        if (b->blocks == 1)
            snprintf(buf, cap, "glassheap large block");
        else
            snprintf(buf, cap, "glassheap large blocks x%u", b->blocks);
        break;
    case R_VDSO:
        snprintf(buf, cap, "kernel: %s", b->name);
        break;
    case R_GH_REGION:
        snprintf(buf, cap, "glassheap heap region (mmap)");
        break;
    case R_HEAP:
        snprintf(buf, cap, "heap [brk]%s", b->glassheap ? " - glassheap" : "");
        break;
    case R_ANON:
        snprintf(buf, cap, "%s", strcmp(b->name, "anonymous") ? b->name : "anonymous mmap");
        break;
    default:
        snprintf(buf, cap, "%s", kinds[b->kind].label);
        break;
    }
}

/* The notes column: permissions and what glassheap adds. */
static void box_note(const struct layout *l, const struct box *b, char *buf, size_t cap)
{
    char x[32], y[32], z[32], w[32];
    if (b->kind == R_GUARD) {
        snprintf(buf, cap, "(not mapped: the stack may not grow into it)");
    } else if (b->kind == R_HEAP && b->glassheap) {
        snprintf(buf, cap, "%s  break %s; glassheap's region %s-%s (%s)", b->perms, hex(b->end, w, sizeof w),
                 hex(l->hm.regions[0].start, x, sizeof x), hex(l->hm.regions[0].end, y, sizeof y),
                 cli_bytes(l->hm.regions[0].end - l->hm.regions[0].start, z, sizeof z));
    } else if (b->kind == R_HEAP) {
        snprintf(buf, cap, "%s  break %s", b->perms, hex(b->end, w, sizeof w));
    } else {
        snprintf(buf, cap, "%s", b->perms);
    }
}

static void text_boundary(uint64_t a, bool dashed)
{
    char h[32];
    printf("%18s +", a == UINT64_MAX ? "" : hex(a, h, sizeof h));
    for (int i = 0; i < BOX_INNER; i++)
        putchar(dashed && i % 2 ? ' ' : '-');
    printf("+\n");
}

static void print_text(const struct layout *l)
{
    char a[32], b[32];
    printf("glassheap layout: pid %d (%s)", l->pid, l->exe[0] ? l->exe : "?");
    if (l->gh)
        printf(", glassheap policy %s", l->cfg.policy);
    printf("\n");
    if (l->gh) {
        printf("glassheap: %s; heap %s in %zu region%s; large blocks %llu (%s), %u found in the maps\n", l->map_note,
               cli_bytes(l->ctr.heap_bytes, a, sizeof a), l->hm.nregions, l->hm.nregions == 1 ? "" : "s",
               (unsigned long long)l->ctr.large_blocks, cli_bytes(l->ctr.large_bytes, b, sizeof b), l->large_found);
    } else {
        printf("glassheap: %s\n", l->map_note ? l->map_note : "no segment");
    }
    printf("high addresses at the top; '~' rows are unmapped gaps\n\n");
    const struct boxes *bx = &l->boxes;
    for (size_t k = bx->n; k-- > 0;) {
        const struct box *x = &bx->v[k];
        bool joined = k + 1 < bx->n && bx->v[k + 1].start == x->end;
        if (!joined) {
            if (k + 1 < bx->n) {
                char g[96];
                printf("%18s  ~ %-*s ~\n", "", BOX_INNER - 4, gap_label(x->end, bx->v[k + 1].start, g, sizeof g));
            }
            text_boundary(x->end, x->unmapped);
        }
        char title[128], note[256];
        box_title(x, title, sizeof title);
        box_note(l, x, note, sizeof note);
        cli_bytes(x->end - x->start, a, sizeof a);
        int room = BOX_INNER - 2 - (int)strlen(a) - 1;
        printf("%18s | %-*.*s %s | %s\n", "", room, room, title, a, note);
        text_boundary(x->start, x->unmapped || (k > 0 && bx->v[k - 1].unmapped && bx->v[k - 1].end == x->start));
    }
}

/* ---- JSON -------------------------------------------------------------- */

static void print_json(const struct layout *l)
{
    FILE *f = stdout;
    fprintf(f, "{\"pid\":%d,\"exe\":", l->pid);
    cli_json_string(f, l->exe);
    fprintf(f, ",\"start_brk\":%llu,\"glassheap\":", (unsigned long long)l->start_brk);
    if (l->gh) {
        fputs("{\"policy\":", f);
        cli_json_string(f, l->cfg.policy);
        fputs(",\"map\":", f);
        cli_json_string(f, l->map_note);
        fprintf(f, ",\"heap_start\":%llu,\"heap_end\":%llu,\"heap_bytes\":%llu,\"large_blocks\":%llu,"
                   "\"large_bytes\":%llu,\"large_found\":%u,\"regions\":[",
                (unsigned long long)(l->hm.n ? l->hm.heap_start : 0), (unsigned long long)(l->hm.n ? l->hm.heap_end : 0),
                (unsigned long long)l->ctr.heap_bytes, (unsigned long long)l->ctr.large_blocks,
                (unsigned long long)l->ctr.large_bytes, l->large_found);
        for (size_t r = 0; r < l->hm.nregions; r++)
            fprintf(f, "%s{\"start\":%llu,\"end\":%llu}", r ? "," : "", (unsigned long long)l->hm.regions[r].start,
                    (unsigned long long)l->hm.regions[r].end);
        fputs("]}", f);
    } else {
        fputs("null", f);
    }
    fputs(",\"regions\":[", f);
    for (size_t k = 0; k < l->boxes.n; k++) {
        const struct box *b = &l->boxes.v[k];
        char title[128];
        box_title(b, title, sizeof title);
        fprintf(f, "%s{\"kind\":\"%s\",\"name\":", k ? "," : "", kinds[b->kind].id);
        cli_json_string(f, b->name);
        fputs(",\"label\":", f);
        cli_json_string(f, title);
        fprintf(f, ",\"start\":%llu,\"end\":%llu,\"size\":%llu,\"perms\":", (unsigned long long)b->start,
                (unsigned long long)b->end, (unsigned long long)(b->end - b->start));
        cli_json_string(f, b->perms);
        fprintf(f, ",\"mappings\":%d,\"mapped\":%s,\"glassheap\":%s", b->nmaps, b->unmapped ? "false" : "true",
                b->glassheap ? "true" : "false");
        if (b->kind == R_GH_LARGE)
            fprintf(f, ",\"blocks\":%u", b->blocks);
        fputs("}", f);
    }
    fputs("]}\n", f);
}

/* ---- SVG --------------------------------------------------------------- */

#define LSVG_W      900.0
#define LSVG_ADDR_X 160.0  /* right edge of the address labels */
#define LSVG_X0     170.0  /* the column */
#define LSVG_COL_W  300.0
#define LSVG_TOP    60.0
#define LSVG_GAP_H  26.0
#define LSVG_MIN_H  16.0   /* a page */
#define LSVG_PER_2X 5.0    /* more height per doubling */

/* log2(x) for x >= 1, exact at powers of two and linear between them
 * (close enough for a height; spares the command a libm). */
static double log2_approx(uint64_t x)
{
    unsigned k = 63u - (unsigned)__builtin_clzll(x);
    return k + (double)(x - (1ull << k)) / (double)(1ull << k);
}

static double box_height(uint64_t size)
{
    uint64_t pages = size / PAGE;
    return LSVG_MIN_H + (pages > 1 ? LSVG_PER_2X * log2_approx(pages) : 0);
}

static int write_svg(const struct layout *l, const char *file)
{
    const struct boxes *bx = &l->boxes;
    double h = LSVG_TOP;
    for (size_t k = bx->n; k-- > 0;) {
        if (k + 1 < bx->n && bx->v[k + 1].start != bx->v[k].end)
            h += LSVG_GAP_H;
        h += box_height(bx->v[k].end - bx->v[k].start);
    }
    double height = h + 70;
    FILE *f = stdout;
    if (strcmp(file, "-")) {
        f = fopen(file, "w");
        if (!f) {
            cli_error("layout: cannot write '%s': %s", file, strerror(errno));
            return GH_EXIT_FAIL;
        }
    }
    char title[256], a[32], b[32];
    snprintf(title, sizeof title, "Address space of %s (pid %d)", l->program, l->pid);
    svg_begin(f, LSVG_W, height, title);
    svg_text(f, LSVG_X0, 28, "start", 16, false, "#111111", "%s", title);
    svg_text(f, LSVG_X0, 46, "start", 11, false, "#555555", "high addresses at the top%s%s", l->gh ? "; glassheap policy " : "",
             l->gh ? l->cfg.policy : "");
    double y = LSVG_TOP;
    for (size_t k = bx->n; k-- > 0;) {
        const struct box *x = &bx->v[k];
        if (k + 1 < bx->n && bx->v[k + 1].start != x->end) {
            /* an unmapped gap: a break in the column */
            double m = y + LSVG_GAP_H / 2;
            fprintf(f, "<path d=\"M %.2f %.2f l 10 -5 l 10 10 l 10 -10 l 10 10 l 10 -5\" fill=\"none\" stroke=\"#888888\"/>\n",
                    LSVG_X0 + LSVG_COL_W / 2 - 25, m);
            char g[96];
            svg_text(f, LSVG_X0 + LSVG_COL_W + 10, m + 4, "start", 10, false, "#777777", "%s",
                     gap_label(x->end, bx->v[k + 1].start, g, sizeof g));
            y += LSVG_GAP_H;
        }
        double bh = box_height(x->end - x->start);
        bool top_edge = k + 1 == bx->n || bx->v[k + 1].start != x->end;
        if (top_edge)
            svg_text(f, LSVG_ADDR_X, y + 4, "end", 10, true, "#222222", "%s", hex(x->end, a, sizeof a));
        char tip[256], name[128];
        box_title(x, name, sizeof name);
        snprintf(tip, sizeof tip, "%s: %s-%s, %s", name, hex(x->start, a, sizeof a), hex(x->end, b, sizeof b),
                 x->perms);
        svg_rect(f, LSVG_X0, y, LSVG_COL_W, bh, kinds[x->kind].fill, x->unmapped ? "#999999" : "#333333", tip);
        if (x->unmapped)
            svg_line(f, LSVG_X0, y + bh / 2, LSVG_X0 + LSVG_COL_W, y + bh / 2, "#bbbbbb", 1, true);
        if (x->glassheap)
            svg_rect(f, LSVG_X0 + 2, y + 2, 6, bh - 4, "#111111", NULL, NULL);
        svg_text(f, LSVG_X0 + LSVG_COL_W / 2, y + bh / 2 + 4, "middle", 11, false,
                 x->kind == R_TEXT || x->kind == R_GH_LARGE || x->kind == R_VDSO ? "#ffffff" : "#111111", "%s", name);
        svg_text(f, LSVG_X0 + LSVG_COL_W + 10, y + bh / 2 + 4, "start", 11, false, "#111111", "%s  %s",
                 cli_bytes(x->end - x->start, a, sizeof a), x->unmapped ? "(not mapped)" : x->perms);
        y += bh;
        svg_text(f, LSVG_ADDR_X, y + 4, "end", 10, true, "#222222", "%s", hex(x->start, a, sizeof a));
    }
    y += 26;
    svg_text(f, LSVG_X0 - 150, y, "start", 11, false, "#333333",
             "Box heights grow with log2(size) from %.0f px for a page: not to scale, so small regions stay visible.",
             LSVG_MIN_H);
    y += 16;
    svg_text(f, LSVG_X0 - 150, y, "start", 11, false, "#333333",
             "A black bar marks glassheap's own mappings (its segment, its heap, its large blocks). Source: /proc/%d/maps%s.",
             l->pid, l->gh ? " and the glassheap segment" : "");
    svg_end(f);
    bool bad = ferror(f) != 0;
    bad |= f != stdout ? fclose(f) != 0 : fflush(f) != 0;
    if (bad) {
        cli_error("layout: writing '%s' failed", file);
        return GH_EXIT_FAIL;
    }
    return GH_EXIT_OK;
}

/* ---- the command ------------------------------------------------------- */

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap layout PID [--svg FILE] [--json] [--timeout MS]\n\n"
            "Draws the address space of process PID as OS textbooks do, high addresses at\n"
            "the top: the executable's text, read-only data, data and bss; the heap from\n"
            "the start of the break to the current break; anonymous mmap regions; shared\n"
            "libraries; the stack and its guard gap; the kernel's vvar/vdso; with the\n"
            "boundary addresses and sizes.  From /proc/PID/maps; when PID runs glassheap,\n"
            "its segment marks glassheap's own mappings (the segment, the heap and its\n"
            "regions, large blocks).\n\n"
            "--svg FILE    write an SVG picture ('-': stdout); box heights grow with the\n"
            "              logarithm of the size so that small regions stay visible\n"
            "--json        print the regions in address order as one JSON object\n"
            "--timeout MS  how long to wait for a heap map (default %d); without an\n"
            "              answer the last map the process wrote is used\n\n"
            "Exit status: 0 drawn, 1 no such process, 2 usage, 3 other failures.\n",
            DEFAULT_TIMEOUT_MS);
}

static void free_layout(struct layout *l)
{
    for (size_t i = 0; i < l->nmaps; i++)
        free(l->maps[i].path);
    free(l->maps);
    free(l->boxes.v);
    free(l->marks.v);
    hm_free(&l->hm);
}

int cmd_layout(int argc, char **argv)
{
    static const struct option opts[] = {
        { "svg", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *svg = NULL;
    bool json = false;
    int timeout_ms = DEFAULT_TIMEOUT_MS;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            svg = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 't': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *optarg == '\0' || *end || v < 0 || v > INT_MAX / 2) {
                cli_error("layout: --timeout takes milliseconds, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            timeout_ms = (int)v;
            break;
        }
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error(optind >= argc ? "layout: which process? (glassheap layout PID)" : "layout: one process id only");
        return GH_EXIT_USAGE;
    }
    struct layout l = { 0 };
    if (!cli_parse_pid(argv[optind], &l.pid))
        return GH_EXIT_USAGE;
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/exe", l.pid);
    ssize_t n = readlink(link, l.exe, sizeof l.exe - 1);
    l.exe[n > 0 ? n : 0] = '\0';
    if (!read_maps(&l)) {
        int err = errno;
        free_layout(&l);
        if (kill(l.pid, 0) != 0 && errno == ESRCH) {
            cli_error("layout: no process %d", l.pid);
            return GH_EXIT_NOTFOUND;
        }
        cli_error("layout: cannot read /proc/%d/maps: %s", l.pid, strerror(err));
        return err == ENOENT ? GH_EXIT_NOTFOUND : GH_EXIT_FAIL;
    }
    if (!l.exe[0]) /* unreadable link: the first file mapping is the executable */
        for (size_t i = 0; i < l.nmaps && !l.exe[0]; i++)
            if (l.maps[i].path[0] == '/')
                snprintf(l.exe, sizeof l.exe, "%s", l.maps[i].path);
    l.program = base_name(l.exe);
    struct gh_proc_stat st;
    l.start_brk = gh_proc_stat_read(l.pid, &st) == 1 ? st.start_brk : 0;
    read_segment(&l, timeout_ms);
    classify(&l);
    int rc = GH_EXIT_OK;
    if (svg)
        rc = write_svg(&l, svg);
    if (rc == GH_EXIT_OK && json)
        print_json(&l);
    else if (rc == GH_EXIT_OK && !svg)
        print_text(&l);
    if (fflush(stdout) != 0)
        rc = GH_EXIT_FAIL;
    free_layout(&l);
    return rc;
}
