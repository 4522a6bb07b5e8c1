/* svg.h - what `glassheap map` and `glassheap layout` share, header-only
 * (the CLI's CMakeLists compiles main.c, cli.c and cmd_*.c only):
 *
 *   - a tiny SVG writer: document, rect, line, text, all numbers printed
 *     with a fixed number of decimals so the same picture gives the same
 *     bytes (the golden tests rely on it);
 *   - XML and JSON string escaping;
 *   - the heap map of a segment with the heap's bounds (map.heap_start,
 *     map.heap_end), and the regions derived from it.
 *
 * Everything is `static inline` so a file that uses part of it stays free of
 * unused-function warnings.  Nothing here trusts the segment: the bounds
 * read from it are kept only when they agree with the blocks.
 */
#ifndef GH_CLI_SVG_H
#define GH_CLI_SVG_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

/* ---- escaping ------------------------------------------------------- */

/* s as XML character data or attribute text (quotes escaped); control
 * characters other than tab become '?', so the output always parses. */
static inline void xml_puts(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(c < 0x20 && c != '\t' ? '?' : c, f);
        }
    }
}

/* ---- the SVG writer --------------------------------------------------- */

#define SVG_FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define SVG_MONO "DejaVu Sans Mono, Menlo, Consolas, monospace"

/* Width of a string in a font of `size` px, roughly (for "does it fit"). */
static inline double svg_text_width(const char *s, double size, bool mono)
{
    return (double)strlen(s) * size * (mono ? 0.61 : 0.58);
}

static inline void svg_begin(FILE *f, double w, double h, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
               "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
            w, h, w, h);
    fputs("<title>", f);
    xml_puts(f, title);
    fputs("</title>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
}

static inline void svg_end(FILE *f)
{
    fputs("</svg>\n", f);
}

/* A rectangle; stroke NULL for none.  `tip`, when not NULL, becomes a
 * <title> child (a tooltip in a browser). */
static inline void svg_rect(FILE *f, double x, double y, double w, double h, const char *fill,
                            const char *stroke, const char *tip)
{
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"", x, y, w,
            h, fill);
    if (stroke)
        fprintf(f, " stroke=\"%s\" stroke-width=\"0.6\"", stroke);
    if (tip) {
        fputs("><title>", f);
        xml_puts(f, tip);
        fputs("</title></rect>\n", f);
    } else {
        fputs("/>\n", f);
    }
}

static inline void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *stroke,
                            double width, bool dashed)
{
    fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"%.1f\"%s/>\n",
            x1, y1, x2, y2, stroke, width, dashed ? " stroke-dasharray=\"4 3\"" : "");
}

/* Text at (x, y) (baseline); anchor "start", "middle" or "end"; printf
 * format, the result escaped. */
static inline void svg_text(FILE *f, double x, double y, const char *anchor, double size, bool mono,
                            const char *fill, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static inline void svg_text(FILE *f, double x, double y, const char *anchor, double size, bool mono,
                            const char *fill, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" font-family=\"%s\" font-size=\"%.1f\" fill=\"%s\"%s%s%s>",
            x, y, mono ? SVG_MONO : SVG_FONT, size, fill, anchor ? " text-anchor=\"" : "",
            anchor ? anchor : "", anchor ? "\"" : "");
    xml_puts(f, buf);
    fputs("</text>\n", f);
}

/* ---- short sizes for labels: "48", "2016", "12.5K", "300K", "12M" ------ */

#define SHORT_EXACT_BELOW 10000u /* bytes shown exactly below this */

static inline const char *short_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char units[] = "KMGT";
    if (n < SHORT_EXACT_BELOW) {
        snprintf(buf, cap, "%llu", (unsigned long long)n);
        return buf;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, v < 100 ? "%.1f%c" : "%.0f%c", v, units[u]);
    return buf;
}

/* ---- the heap map ----------------------------------------------------- */

/* A heap region as the map shows it: [start, end), blocks [first, first+n). */
struct hm_region {
    uint64_t start, end;
    size_t first, n;
};

struct heapmap {
    struct gh_shm_block *blocks; /* address order */
    size_t n;                    /* entries in blocks */
    uint64_t total;              /* blocks in the heap (> n: truncated) */
    uint64_t heap_start, heap_end; /* from the segment when they agree with the blocks */
    struct hm_region *regions;
    size_t nregions;
};

static inline void hm_free(struct heapmap *m)
{
    free(m->blocks);
    free(m->regions);
    memset(m, 0, sizeof *m);
}

static inline int hm_cmp_addr(const void *a, const void *b)
{
    const struct gh_shm_block *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The words heap_start and heap_end of the segment's map head.  The reader
 * copies the blocks but not these, so they are read from the file here,
 * at the offset the reader validated; the caller checks them against the
 * blocks (a value that disagrees is dropped). */
static inline bool hm_read_bounds(const struct ghr_segment *seg, int pid, uint64_t *lo, uint64_t *hi)
{
    const struct gh_shm_header *h = ghr_header(seg);
    if (!h || h->map_size < sizeof(struct gh_shm_map))
        return false;
    char path[64];
    snprintf(path, sizeof path, GH_SHM_DIR "/glassheap.%d", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct gh_shm_map head;
    bool ok = pread(fd, &head, sizeof head, (off_t)h->map_offset) == (ssize_t)sizeof head;
    close(fd);
    if (!ok || (head.seq & 1))
        return false;
    *lo = head.heap_start;
    *hi = head.heap_end;
    return true;
}

/* Fetch a map: timeout_ms as ghr_map() (< 0: the last map written).  Sorts
 * the blocks, drops overlapping entries (untrusted data), and derives the
 * regions: a region runs from its first block less the region record
 * (measured on region 0: first block - heap_start) to its last block plus
 * the end marker (header_bytes; for the last region heap_end).  Returns a
 * ghr_error; on GHR_OK the caller hm_free()s m. */
static inline int hm_fetch(struct ghr_segment *seg, int pid, int timeout_ms, uint32_t header_bytes,
                           struct heapmap *m)
{
    memset(m, 0, sizeof *m);
    const struct gh_shm_header *h = ghr_header(seg);
    size_t cap = h && h->map_capacity ? h->map_capacity : GH_SHM_MAP_CAPACITY;
    m->blocks = calloc(cap, sizeof *m->blocks);
    if (!m->blocks)
        return GHR_IO;
    int rc = ghr_map(seg, timeout_ms, m->blocks, cap, &m->n, &m->total);
    if (rc != GHR_OK) {
        hm_free(m);
        return rc;
    }
    qsort(m->blocks, m->n, sizeof *m->blocks, hm_cmp_addr);
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct gh_shm_block b = m->blocks[i];
        if (b.size == 0 || b.addr + b.size < b.addr)
            continue;
        if (k && b.addr < m->blocks[k - 1].addr + m->blocks[k - 1].size)
            continue;
        if (b.state == GH_SHM_BLOCK_FREE || b.requested > b.size)
            b.requested = b.state == GH_SHM_BLOCK_FREE ? 0 : b.size;
        m->blocks[k++] = b;
    }
    m->n = k;
    if (m->total < m->n)
        m->total = m->n;
    if (!m->n)
        return GHR_OK;

    uint64_t first = m->blocks[0].addr;
    uint64_t last_end = m->blocks[m->n - 1].addr + m->blocks[m->n - 1].size;
    const uint64_t sane = 1u << 16; /* a record or marker is never this big */
    uint64_t lo = 0, hi = 0, record = 0, marker = header_bytes;
    if (hm_read_bounds(seg, pid, &lo, &hi)) {
        if (lo <= first && first - lo < sane)
            record = first - lo;
        if (hi >= last_end && hi - last_end < sane && m->total == m->n)
            marker = hi - last_end;
    }
    m->heap_start = first - record;

    m->regions = calloc(m->n, sizeof *m->regions);
    if (!m->regions) {
        hm_free(m);
        return GHR_IO;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (i && m->blocks[i].region == m->blocks[i - 1].region) {
            m->regions[m->nregions - 1].n++;
            continue;
        }
        struct hm_region *r = &m->regions[m->nregions++];
        r->first = i;
        r->n = 1;
        r->start = m->blocks[i].addr >= record ? m->blocks[i].addr - record : m->blocks[i].addr;
    }
    for (size_t j = 0; j < m->nregions; j++) {
        struct hm_region *r = &m->regions[j];
        const struct gh_shm_block *b = &m->blocks[r->first + r->n - 1];
        r->end = b->addr + b->size + (j + 1 == m->nregions ? marker : header_bytes);
        if (j + 1 < m->nregions && r->end > m->regions[j + 1].start)
            r->end = m->regions[j + 1].start;
        if (j && r->start < m->regions[j - 1].end)
            r->start = m->regions[j - 1].end;
    }
    m->heap_end = m->regions[m->nregions - 1].end;
    return GHR_OK;
}

#endif
