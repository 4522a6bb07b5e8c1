/* layout_model.c - the model of `glassheap layout` (layout.h): every
 * mapping of /proc/PID/maps classified (the executable's text, read-only
 * data, data and bss; the heap; anonymous mmap regions; shared libraries,
 * their bss included; the stack and the guard gap the kernel keeps below
 * it; the kernel's [vvar]/[vdso]/[vsyscall]), and, when the process runs
 * glassheap, what its segment adds: glassheap's own segment, its heap
 * regions (a heap map: walked from outside, heapmap.h's hm_fetch_from, or
 * asked for) and its large blocks (the segment's large-block list).  Nothing here
 * trusts what it reads: /proc lines that do not parse are skipped, and the
 * segment's figures only label mappings that exist.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "layout.h"
#include "reader.h"

#define STACK_GUARD_GAP    (256u * PAGE) /* the kernel's default stack_guard_gap */

const struct rkind_info kinds[R_KINDS] = {
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

const char *layout_hex(uint64_t a, char *buf, size_t cap)
{
    snprintf(buf, cap, "0x%012" PRIx64, a);
    return buf;
}

/* ---- glassheap's own mappings ------------------------------------------ */

static bool add_mark(struct layout *l, uint64_t s, uint64_t e, enum rkind k)
{
    if (!grow((void **)&l->marks.v, &l->marks.cap, l->marks.n, sizeof *l->marks.v))
        return false;
    l->marks.v[l->marks.n++] = (struct span){ s, e, k };
    return true;
}

/* The mapping of maps that holds [s, e) whole, if it is an anonymous
 * read-write one (where a large block lives); NULL otherwise. */
static const struct gh_proc_map *anon_rw_holding(const struct layout *l, uint64_t s, uint64_t e)
{
    for (size_t i = 0; i < l->nmaps; i++) {
        const struct gh_proc_map *m = &l->maps[i];
        if (m->start <= s && e <= m->end)
            return !m->path[0] && !strcmp(m->perms, "rw-p") ? m : NULL;
    }
    return NULL;
}

/* The large blocks the segment lists: each marks its mapping when
 * /proc/PID/maps has an anonymous read-write mapping around it (an entry
 * naming memory the process does not have is not drawn).  False when the
 * writer publishes no list (older than the list, or unreadable).  current:
 * the heap was walked from outside, so the list's figures replace the
 * counters' (which may be old). */
static bool listed_large_blocks(struct layout *l, const struct ghr_segment *seg, bool current)
{
    const struct gh_shm_header *h = ghr_header(seg);
    if (!h || h->large_offset == 0)
        return false;
    size_t cap = h->large_capacity, n = 0;
    struct gh_shm_large_block *v = calloc(cap ? cap : 1, sizeof *v);
    if (!v)
        return false;
    uint64_t total = 0;
    bool ok = ghr_large(seg, v, cap, &n, &total) == GHR_OK;
    if (ok && current)
        hm_overlay_large(v, n, total, &l->ctr);
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t s = v[i].map_base, e = v[i].map_base + v[i].map_len;
        if (anon_rw_holding(l, s, e) && add_mark(l, s, e, R_GH_LARGE))
            l->large_found++;
    }
    free(v);
    return ok;
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
    struct hm_source from;
    struct ghw_heap walked;
    rc = hm_fetch_from(seg, l->mode, timeout_ms, l->cfg.header_bytes, &l->hm, &from, &walked);
    if (rc == GHR_OK && from.outside) {
        l->map_note = "heap map read from outside";
    } else if (rc == HM_WALK_FAILED) {
        snprintf(l->note_buf, sizeof l->note_buf, "the heap cannot be read from outside: %s", from.why);
        l->map_note = l->note_buf;
    } else if (rc == GHR_OK) {
        l->map_note = from.fell_back ? "heap map answered by the process (not read from outside)"
                                     : "heap map answered by the process";
        if (!ghr_header(seg)->live_offset) /* in place: current without asking */
            ghr_request_counters(seg, timeout_ms < 500 ? timeout_ms : 500);
    } else if (rc == GHR_TIMEOUT && hm_fetch(seg, -1, l->cfg.header_bytes, &l->hm) == GHR_OK) {
        l->map_note = "the process did not answer a map request: heap regions from the last map it wrote";
    } else {
        l->map_note = ghr_strerror((enum ghr_error)rc);
    }
    struct hm_now_info now;
    hm_counters_now(seg, rc == GHR_OK && from.outside ? &walked : NULL, &l->ctr, NULL, 0, NULL, &now);
    for (size_t r = 0; r < l->hm.nregions; r++)
        add_mark(l, l->hm.regions[r].start, l->hm.regions[r].end, R_GH_REGION);
    listed_large_blocks(l, seg, rc == GHR_OK && from.outside);
    ghr_close(seg);
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

static enum rkind classify_file(const struct layout *l, const struct gh_proc_map *m, const char **name)
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
static void add_anon(struct layout *l, const struct gh_proc_map *m, enum rkind plain, const char *name,
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
        const struct gh_proc_map *m = &l->maps[i];
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

/* ---- the whole model ---------------------------------------------------- */

bool layout_read(struct layout *l, int timeout_ms)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/exe", l->pid);
    ssize_t n = readlink(link, l->exe, sizeof l->exe - 1);
    l->exe[n > 0 ? n : 0] = '\0';
    if (!gh_proc_maps_read(l->pid, &l->maps, &l->nmaps))
        return false;
    if (!l->exe[0]) /* unreadable link: the first file mapping is the executable */
        for (size_t i = 0; i < l->nmaps && !l->exe[0]; i++)
            if (l->maps[i].path[0] == '/')
                snprintf(l->exe, sizeof l->exe, "%s", l->maps[i].path);
    l->program = base_name(l->exe);
    struct gh_proc_stat st;
    l->start_brk = gh_proc_stat_read(l->pid, &st) == 1 ? st.start_brk : 0;
    read_segment(l, timeout_ms);
    classify(l);
    return true;
}

void layout_free(struct layout *l)
{
    gh_proc_maps_free(l->maps, l->nmaps);
    l->maps = NULL;
    l->nmaps = 0;
    free(l->boxes.v);
    free(l->marks.v);
    hm_free(&l->hm);
}
