/* walk.c - the walker over any source (walk.h): the region table checked,
 * the regions read in bounded chunks, the boundary tags walked and checked,
 * the whole retried while the table's sequence word moved.
 *
 * Owns: the rules a header must meet to be believed (fit and buddy, from
 * the layout the segment publishes), the figures the blocks add up to,
 * and the retry loop.  Never: trusts a word before checking it, reads
 * outside a listed region, loops without advancing, prints.
 */
#include "walk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_TOP        ((uint64_t)1 << 47)  /* x86_64 user addresses lie below */
#define MAX_HEADER      64u
#define MAX_ALIGN       4096u
#define MAX_RECORD      4096u
#define MAX_ORDER       47u
#define BLOCKS_START    64                   /* the kept-blocks array's first size */

/* The reading window: the last chunk fetched, so that consecutive small
 * headers cost one read. */
struct window {
    const struct ghw_source *src;
    uint64_t lo;
    size_t n;
    uint8_t buf[GHW_CHUNK];
};

struct walk {
    const struct ghw_source *src;
    struct window *w;
    struct gh_shm_heap L;          /* the layout (a copy of the table's head) */
    size_t max_blocks, cap;
    struct ghw_heap *out;
    int err;                       /* the errno of a failed read (0: none) */
    uint64_t walked;
};

static int fail(struct ghw_heap *h, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct ghw_heap *h, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->why, sizeof h->why, fmt, ap);
    va_end(ap);
    return status;
}

/* len (<= 16) bytes at addr, inside [addr, limit): from the window, else a
 * fresh chunk from addr on.  false on a failed read (k->err set). */
static bool fetch(struct walk *k, uint64_t addr, void *out, size_t len, uint64_t limit)
{
    struct window *w = k->w;
    if (addr >= w->lo && w->n >= len && addr - w->lo <= w->n - len) {
        memcpy(out, w->buf + (addr - w->lo), len);
        return true;
    }
    if (addr > limit || limit - addr < len) {
        k->err = EFAULT;     /* never read past the region (callers keep inside it) */
        return false;
    }
    uint64_t n = limit - addr;
    if (n > GHW_CHUNK)
        n = GHW_CHUNK;
    w->n = 0;
    k->out->reads++;
    k->out->read_bytes += n;
    int e = k->src->read(k->src->ctx, addr, w->buf, (size_t)n);
    if (e) {
        k->err = e;
        return false;
    }
    w->lo = addr;
    w->n = (size_t)n;
    memcpy(out, w->buf, len);
    return true;
}

static bool pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

static unsigned log2u(uint64_t x)
{
    return 63u - (unsigned)__builtin_clzll(x);
}

/* Is the published layout one this walker can follow? */
static bool layout_ok(const struct gh_shm_heap *L, char *why, size_t cap)
{
    const char *bad = NULL;
    if (L->header_bytes < 16 || L->header_bytes > MAX_HEADER || L->header_bytes % 8)
        bad = "header size";
    else if (!pow2(L->alignment) || L->alignment < 8 || L->alignment > MAX_ALIGN)
        bad = "alignment";
    else if (L->min_block < L->header_bytes || L->min_block % L->alignment)
        bad = "smallest block";
    else if (L->region_record_bytes > MAX_RECORD || L->region_record_bytes % L->alignment)
        bad = "region record size";
    else if (L->end_marker_bytes > MAX_HEADER || L->end_marker_bytes % L->alignment
             || (L->end_marker_bytes && L->end_marker_bytes < L->header_bytes))
        bad = "end marker size";
    else if (L->footer_bytes != 0 && L->footer_bytes != 8)
        bad = "footer size";
    else if (!L->size_mask || (L->size_mask & (L->alignment - 1)))
        bad = "size mask";
    else if (!pow2(L->free_flag) || (L->free_flag & L->size_mask) || (L->prev_free_flag & L->size_mask)
             || (L->prev_free_flag & L->free_flag) || (L->inner_flag & (L->size_mask | L->free_flag))
             || (L->mmapped_flag & (L->size_mask | L->free_flag)))
        bad = "flag bits";
    else if (!L->requested_mask)
        bad = "requested-size mask";
    if (bad)
        snprintf(why, cap, "the segment's block layout is not one this reader can walk (%s)", bad);
    return bad == NULL;
}

/* Keep one block (while there is room) and count it. */
static int keep(struct walk *k, uint64_t addr, uint64_t size, uint64_t requested, bool isfree, uint32_t region)
{
    struct ghw_heap *h = k->out;
    h->total++;
    if (isfree) {
        h->free_blocks++;
        h->free_bytes += size;
        h->free_hist[log2u(size)]++;
        if (size > h->largest_free)
            h->largest_free = size;
    } else {
        h->used_blocks++;
        h->used_bytes += size;
        h->live_requested += requested;
    }
    if (h->n >= k->max_blocks)
        return GHW_OK;
    if (h->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : BLOCKS_START;
        if (cap > k->max_blocks)
            cap = k->max_blocks;
        struct gh_shm_block *b = realloc(h->blocks, cap * sizeof *b);
        if (!b)
            return fail(h, GHW_NOMEM, "out of memory for the heap's blocks");
        h->blocks = b;
        k->cap = cap;
    }
    h->blocks[h->n++] = (struct gh_shm_block){ .addr = addr, .size = size, .requested = requested,
                                                .state = isfree ? GH_SHM_BLOCK_FREE : GH_SHM_BLOCK_USED,
                                                .region = region };
    return GHW_OK;
}

/* A failed read: the kernel's refusal, a vanished process, or an address
 * the process does not have (a table that changed, or a corrupt one). */
static int read_failed(struct walk *k, uint64_t addr)
{
    struct ghw_heap *h = k->out;
    h->read_errno = k->err;
    if (k->err == EPERM || k->err == EACCES)
        return fail(h, GHW_REFUSED, "reading the process's memory was refused (%s)", strerror(k->err));
    if (k->err == ESRCH)
        return fail(h, GHW_GONE, "the process is gone");
    return fail(h, GHW_CORRUPT, "address 0x%llx of a heap region cannot be read in the process (%s)",
                (unsigned long long)addr, strerror(k->err));
}

static int header(struct walk *k, uint64_t a, uint64_t limit, uint64_t *w0, uint64_t *w1)
{
    uint64_t hw[2];
    if (!fetch(k, a, hw, sizeof hw, limit))
        return read_failed(k, a);
    *w0 = hw[0];
    *w1 = hw[1];
    if (++k->walked > GHW_MAX_BLOCKS)
        return fail(k->out, GHW_CORRUPT, "more than %u blocks: not a heap this reader walks", GHW_MAX_BLOCKS);
    return GHW_OK;
}

/* A used block's requested size, checked against its block. */
static int requested_of(struct walk *k, uint64_t a, uint64_t size, uint64_t w1, uint64_t *req)
{
    *req = w1 & k->L.requested_mask;
    if (*req > size - k->L.header_bytes)
        return fail(k->out, GHW_CORRUPT, "block at 0x%llx: requested %llu bytes, more than its %llu-byte block holds",
                    (unsigned long long)a, (unsigned long long)*req, (unsigned long long)size);
    return GHW_OK;
}

/* Fit: [record][block]...[end marker], sizes tiling up to the marker. */
static int walk_fit(struct walk *k, const struct gh_shm_region *r, uint32_t index)
{
    const struct gh_shm_heap *L = &k->L;
    uint64_t limit = r->base + r->len, end = limit - L->end_marker_bytes;
    uint64_t a = r->base + L->region_record_bytes, w0, w1;
    bool prev_free = false;
    int rc;
    uint64_t flags = L->free_flag | L->prev_free_flag;
    while (a < end) {
        if ((rc = header(k, a, limit, &w0, &w1)) != GHW_OK)
            return rc;
        uint64_t size = w0 & L->size_mask;
        if (size < L->min_block || size % L->alignment || size > end - a)
            return fail(k->out, GHW_CORRUPT,
                        "block at 0x%llx: size %llu does not fit its region [0x%llx, 0x%llx)", (unsigned long long)a,
                        (unsigned long long)size, (unsigned long long)r->base, (unsigned long long)limit);
        if (w0 & L->mmapped_flag)
            return fail(k->out, GHW_CORRUPT, "block at 0x%llx: a heap block marked as mapped", (unsigned long long)a);
        if (!(w0 & L->prev_free_flag) != !prev_free)
            return fail(k->out, GHW_CORRUPT, "block at 0x%llx: its prev-free flag disagrees with the block before",
                        (unsigned long long)a);
        bool isfree = (w0 & L->free_flag) != 0;
        uint64_t req = 0;
        if (isfree && L->footer_bytes) {
            uint64_t foot;
            if (!fetch(k, a + size - L->footer_bytes, &foot, sizeof foot, limit))
                return read_failed(k, a + size - L->footer_bytes);
            if ((foot & (L->size_mask | flags)) != (w0 & (L->size_mask | flags)))
                return fail(k->out, GHW_CORRUPT, "free block at 0x%llx: its footer disagrees with its header",
                            (unsigned long long)a);
        } else if (!isfree && (rc = requested_of(k, a, size, w1, &req)) != GHW_OK) {
            return rc;
        }
        if ((rc = keep(k, a, size, req, isfree, index)) != GHW_OK)
            return rc;
        prev_free = isfree;
        a += size;
    }
    if (L->end_marker_bytes) {
        if ((rc = header(k, end, limit, &w0, &w1)) != GHW_OK)
            return rc;
        if ((w0 & L->size_mask) || (w0 & L->free_flag) || !(w0 & L->prev_free_flag) != !prev_free)
            return fail(k->out, GHW_CORRUPT, "region [0x%llx, 0x%llx): no end marker at 0x%llx",
                        (unsigned long long)r->base, (unsigned long long)limit, (unsigned long long)end);
    }
    return GHW_OK;
}

/* Buddy: [record][chunk 2^m]...; each chunk tiled by blocks of 2^k at
 * multiples of 2^k from the first chunk. */
static int walk_buddy(struct walk *k, const struct gh_shm_region *r, uint32_t index)
{
    const struct gh_shm_heap *L = &k->L;
    unsigned m = r->max_order;
    if (m > MAX_ORDER || ((uint64_t)1 << m) < L->min_block || !pow2(L->min_block))
        return fail(k->out, GHW_CORRUPT, "region at 0x%llx: buddy order %u out of range", (unsigned long long)r->base,
                    m);
    uint64_t limit = r->base + r->len, chunk0 = r->base + L->region_record_bytes;
    uint64_t end = chunk0 + (((r->len - L->region_record_bytes) >> m) << m);
    uint64_t a = chunk0, w0, w1;
    int rc;
    while (a < end) {
        if ((rc = header(k, a, limit, &w0, &w1)) != GHW_OK)
            return rc;
        uint64_t size = w0 & L->size_mask;
        if (!pow2(size) || size < L->min_block || size > ((uint64_t)1 << m) || size > end - a
            || ((a - chunk0) & (size - 1)))
            return fail(k->out, GHW_CORRUPT, "buddy block at 0x%llx: size %llu is not a power of two that fits there",
                        (unsigned long long)a, (unsigned long long)size);
        bool isfree = (w0 & L->free_flag) != 0;
        if ((w0 & L->mmapped_flag) || (isfree && (w0 & L->inner_flag)))
            return fail(k->out, GHW_CORRUPT, "buddy block at 0x%llx: flags that no heap block has",
                        (unsigned long long)a);
        uint64_t req = 0;
        if (!isfree && (rc = requested_of(k, a, size, w1, &req)) != GHW_OK)
            return rc;
        if ((rc = keep(k, a, size, req, isfree, index)) != GHW_OK)
            return rc;
        if (isfree && log2u(size) < GH_SHM_ORDERS)
            k->out->buddy_free[log2u(size)]++;
        a += size;
    }
    return GHW_OK;
}

/* One region's entry, before its memory is read. */
static int region_ok(struct walk *k, const struct gh_shm_region *r, uint64_t prev_end)
{
    const struct gh_shm_heap *L = &k->L;
    uint64_t need = (uint64_t)L->region_record_bytes + L->end_marker_bytes;
    const char *bad = NULL;
    if (r->base % L->alignment || r->len % L->alignment)
        bad = "not aligned";
    else if (r->base >= USER_TOP || r->len > USER_TOP - r->base || r->len < need)
        bad = "not a span of user memory that holds a region";
    else if (r->base < prev_end)
        bad = "overlaps or precedes the region before";
    else if (r->discipline != GH_SHM_DISC_FIT && r->discipline != GH_SHM_DISC_BUDDY)
        bad = "an unknown discipline";
    else if (k->out->discipline && r->discipline != k->out->discipline)
        bad = "a discipline other than the heap's";
    if (bad)
        return fail(k->out, GHW_CORRUPT, "the region table's entry [0x%llx, +%llu) is %s", (unsigned long long)r->base,
                    (unsigned long long)r->len, bad);
    return GHW_OK;
}

static void reset(struct ghw_heap *h)
{
    free(h->blocks);
    free(h->regions);
    unsigned tries = h->tries;
    uint64_t reads = h->reads, bytes = h->read_bytes;
    memset(h, 0, sizeof *h);
    h->tries = tries;
    h->reads = reads;
    h->read_bytes = bytes;
}

/* One walk of the regions the table listed. */
static int walk_once(struct walk *k, const struct gh_shm_region *regs, size_t n)
{
    struct ghw_heap *h = k->out;
    h->regions = calloc(n ? n : 1, sizeof *h->regions);
    if (!h->regions)
        return fail(h, GHW_NOMEM, "out of memory for the region table");
    uint64_t prev_end = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gh_shm_region *r = &regs[i];
        int rc = region_ok(k, r, prev_end);
        if (rc != GHW_OK)
            return rc;
        h->discipline = r->discipline;
        struct ghw_region *g = &h->regions[h->nregions++];
        *g = (struct ghw_region){ .base = r->base, .len = r->len, .discipline = r->discipline, .arena = r->arena,
                                  .first = h->n };
        uint64_t before = h->total;
        rc = r->discipline == GH_SHM_DISC_FIT ? walk_fit(k, r, (uint32_t)i) : walk_buddy(k, r, (uint32_t)i);
        if (rc != GHW_OK)
            return rc;
        g->n = h->n - g->first;
        g->blocks = h->total - before;
        h->heap_bytes += r->len;
        prev_end = r->base + r->len;
    }
    h->overhead_bytes = h->heap_bytes - h->used_bytes - h->free_bytes;
    return GHW_OK;
}

int ghw_walk(const struct ghw_source *src, size_t max_blocks, struct ghw_heap *out)
{
    memset(out, 0, sizeof *out);
    struct window *w = malloc(sizeof *w);
    struct gh_shm_region *regs = calloc(GH_SHM_REGION_CAPACITY, sizeof *regs);
    if (!w || !regs) {
        free(w);
        free(regs);
        return fail(out, GHW_NOMEM, "out of memory for the walk");
    }
    struct walk k = { .src = src, .w = w, .out = out, .max_blocks = max_blocks };
    int rc = GHW_CHANGING;
    unsigned odd = 0;
    char last[GHW_WHY_MAX] = "";
    for (int t = 0; t < GHW_TRIES; t++) {
        if (t && src->pause)
            src->pause(src->ctx, t);
        reset(out);
        out->tries = (unsigned)t + 1;
        size_t n = 0;
        struct gh_shm_heap head;
        memset(&head, 0, sizeof head);
        int e = src->table(src->ctx, &head, regs, GH_SHM_REGION_CAPACITY, &n);
        if (e == ENOENT) {
            rc = fail(out, GHW_NO_TABLE, "the segment has no region table (a glassheap older than the walker)");
            break;
        }
        if (e == EAGAIN) {
            odd += head.seq & 1;
            continue;
        }
        if (e) {
            rc = fail(out, GHW_CORRUPT, "the region table cannot be read (%s)", strerror(e));
            break;
        }
        if (!layout_ok(&head, out->why, sizeof out->why)) {
            rc = GHW_CORRUPT;
            break;
        }
        if (head.arenas > 1 && !head.arena_tables) {
            rc = fail(out, GHW_NO_TABLE, "the process runs %llu arenas; the region table describes the main one only",
                      (unsigned long long)head.arenas);
            break;
        }
        out->arenas = head.arenas;
        if (head.total > n || n > GH_SHM_REGION_CAPACITY) {
            rc = fail(out, GHW_NO_TABLE, "the region table lists %zu of the heap's %llu regions", n,
                      (unsigned long long)head.total);
            break;
        }
        k.L = head;
        k.cap = 0;
        k.err = 0;
        k.walked = 0;
        w->n = 0;
        rc = walk_once(&k, regs, n);
        if (rc == GHW_REFUSED || rc == GHW_GONE || rc == GHW_NOMEM)
            break;
        uint64_t now;
        if (src->seq(src->ctx, &now) != 0) {
            rc = fail(out, GHW_CORRUPT, "the region table's sequence word cannot be read");
            break;
        }
        if (now == head.seq) {
            if (rc == GHW_OK)
                out->seq = now;
            break;              /* a walk of one moment: its verdict stands */
        }
        memcpy(last, out->why, sizeof last);
        rc = GHW_CHANGING;      /* the heap moved under the walk: again */
    }
    if (rc == GHW_CHANGING) {
        unsigned tries = out->tries;
        reset(out);
        out->tries = tries;
        if (odd == tries)
            fail(out, GHW_CHANGING, "an allocator call was in progress on each of %u tries (the process is "
                                    "stopped or blocked inside one?)", tries);
        else
            fail(out, GHW_CHANGING, "the heap kept changing: %u walks, none of one moment%s%s", tries,
                 last[0] ? "; last: " : "", last);
    } else if (rc != GHW_OK) {
        unsigned tries = out->tries;
        int err = out->read_errno;
        char why[GHW_WHY_MAX];
        memcpy(why, out->why, sizeof why);
        reset(out);
        out->tries = tries;
        out->read_errno = err;
        memcpy(out->why, why, sizeof why);
    }
    free(w);
    free(regs);
    return rc;
}

void ghw_free(struct ghw_heap *h)
{
    free(h->blocks);
    free(h->regions);
    h->blocks = NULL;
    h->regions = NULL;
    h->n = h->nregions = 0;
}

const char *ghw_source_name(bool outside)
{
    return outside ? "read from outside" : "answered by the process";
}
