/* shm.c - the writer side of the segment.
 *
 * Owns: creating, filling, publishing into and removing the segment, and
 * the large-block list in it (written from the front end's registry with
 * the counters and with every heap map).  Never: blocks the program on a
 * reader, allocates, calls the OS for memory or the segment itself (that is
 * os.c's gh_os_shm_*), or trusts the segment's request words for anything
 * but "is there a request".  A reader may scribble on the whole mapping;
 * the writer only ever writes into it.  A failure to make the segment is
 * returned, never fatal: the program runs on without one.
 *
 * Sequence lock (writer): seq += 1 (odd), release fence, write the fields,
 * release fence, seq += 1 (even).  Readers copy and retry (reader.c).
 */
#define _GNU_SOURCE
#include "shm.h"
#include "tcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "large.h"
#include "os.h"

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Read up to cap-1 bytes of a small /proc file into buf; returns the length. */
static size_t read_proc(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (fd < 0)
        return 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return n;
}

/* Field 22 (starttime) of /proc/self/stat: counted after the last ')'. */
static uint64_t start_ticks(void)
{
    char buf[1024];
    if (!read_proc("/proc/self/stat", buf, sizeof buf))
        return 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}

static void segment_name(char *name, size_t cap, long pid)
{
    size_t l = strlen(GH_SHM_NAME_PREFIX);
    memcpy(name, GH_SHM_NAME_PREFIX, l);
    char num[24];
    int n = gh_fmt_dec(num, (unsigned long)pid);
    if (l + (size_t)n + 1 > cap)
        n = 0;
    memcpy(name + l, num, (size_t)n);
    name[l + (size_t)n] = '\0';
}

static uint32_t round8(size_t n)
{
    return (uint32_t)((n + 7) & ~(size_t)7);
}

/* The block layout a walker outside needs (include/glassheap/shm.h), from
 * block.h and region.h: written once, at open. */
static void fill_layout(struct gh_shm *s, const struct gh_heap_desc *d)
{
    struct gh_shm_heap *t = s->arena_tabs[0].tab;
    s->discipline = d->max_order ? GH_SHM_DISC_BUDDY : GH_SHM_DISC_FIT;
    s->max_order = d->max_order;
    t->header_bytes = GH_HEADER_SIZE;
    t->alignment = GH_ALIGN;
    t->min_block = (uint32_t)d->min_block;
    t->region_record_bytes = GH_REGION_HEADER;
    t->end_marker_bytes = d->max_order ? 0 : GH_HEADER_SIZE;
    t->footer_bytes = d->max_order ? 0 : GH_FOOTER_SIZE;
    t->size_mask = GH_SIZE_MASK;
    t->free_flag = GH_FLAG_FREE;
    t->prev_free_flag = GH_FLAG_PREV_FREE;
    t->mmapped_flag = GH_FLAG_MMAPPED;
    t->inner_flag = GH_FLAG_INNER;
    t->check_mask0 = GH_CHECK_A_MASK;
    t->requested_mask = GH_REQ_MASK;
    t->check_mask1 = GH_CHECK_B_MASK;
    t->arena_mask = GH_ARENA_MASK;
}

struct regions_ctx {
    struct gh_shm *s;
    struct gh_shm_region *regions;
    uint64_t n, total, cap;
    uint32_t arena;
};

static bool region_one(void *cv, const struct gh_region *r)
{
    struct regions_ctx *k = cv;
    k->total++;
    if (k->n < k->cap) {
        struct gh_shm_region *e = &k->regions[k->n++];
        e->base = (uint64_t)(uintptr_t)r;
        e->len = r->len;
        e->discipline = k->s->discipline;
        e->max_order = k->s->max_order;
        e->arena = k->arena;
        e->mapped = r->mapped ? 1 : 0;
    }
    return true;
}

/* Table t (cap entries) from h's region tree, as arena `arena`'s. */
static void write_table(struct gh_shm *s, struct gh_shm_heap *t, struct gh_shm_region *regions, uint64_t cap,
                        uint32_t arena, const struct gh_heap *h)
{
    struct regions_ctx k = { .s = s, .regions = regions, .cap = cap, .arena = arena };
    gh_region_walk(h, region_one, &k);
    t->count = k.n;
    t->total = k.total;
    t->table_writes++;
}

/* Called inside the odd window of the main arena's seq (or before the
 * segment is published): a reader retries a walk that saw it move. */
void gh_shm_write_regions(struct gh_shm *s, const struct gh_heap *h)
{
    struct gh_shm_tab *t = &s->arena_tabs[0];
    if (!t->tab || s->lost)
        return;
    write_table(s, t->tab, t->regions, GH_SHM_REGION_CAPACITY, 0, h);
    t->seen_regions = h->c->region_changes;
    if (t->q)
        t->q->seen = gh_shm_changes(t->q, h);
}

/* Counters into live entry k (inside an odd window of arena k's seq). */
static void place(struct gh_shm *s, unsigned k, struct gh_heap *h, struct gh_calls **calls)
{
    struct gh_shm_live_arena *e = &s->live_arenas[k];
    gh_heap_counters_move(h, &e->heap);
    if (*calls != &e->calls) {
        e->calls = **calls;
        *calls = &e->calls;
    }
    s->placed = true;
}

void gh_shm_bind_main(struct gh_shm *s, struct gh_shm_seq *q, const struct gh_heap *h)
{
    if (!s->hdr || s->lost)
        return;
    struct gh_shm_tab *t = &s->arena_tabs[0];
    q->large = s->large;
    q->seq = 0;    /* a new segment's entry (created zeroed) */
    q->seen = gh_shm_changes(q, h);
    t->q = q;
    __atomic_store_n(&q->word, &s->live_arenas[0].seq, __ATOMIC_RELEASE);
}

void gh_shm_place_main(struct gh_shm *s, struct gh_shm_seq *q, struct gh_heap *h, struct gh_calls **calls,
                       const struct gh_front *f)
{
    if (!s->hdr || s->lost)
        return;
    gh_shm_bind_main(s, q, h);
    gh_shm_enter(q);
    place(s, 0, h, calls);
    s->front = f;
    gh_shm_write_large(s);
    gh_shm_leave(s, 0, q, h);
}

void gh_shm_attach_arena(struct gh_shm *s, unsigned k, struct gh_shm_seq *q, struct gh_heap *h,
                         struct gh_calls **calls)
{
    if (!s->hdr || s->lost || k == 0 || k >= GH_SHM_ARENAS_CAPACITY || s->arena_tabs[k].tab)
        return;
    struct gh_shm_tab *a = &s->arena_tabs[k];
    struct gh_shm_heap *t = (struct gh_shm_heap *)(s->arena_tables + (size_t)(k - 1) * s->arena_table_stride);
    /* the layout words as the main table's; its own count and regions,
     * under its own seq (live entry k's) */
    uint64_t *seq = &s->live_arenas[k].seq;
    __atomic_store_n(seq, 1, __ATOMIC_RELAXED); /* odd while it is written */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(t, s->arena_tabs[0].tab, sizeof *t);
    t->count = t->total = t->table_writes = 0;
    t->arenas = 0;
    t->arena_tables = 0;
    a->regions = (struct gh_shm_region *)(t + 1);
    write_table(s, t, a->regions, GH_SHM_ARENA_REGIONS, k, h);
    a->seen_regions = h->c->region_changes;
    place(s, k, h, calls);
    q->large = NULL;
    q->seen = gh_shm_changes(q, h);
    q->seq = 2;
    __atomic_store_n(seq, q->seq, __ATOMIC_RELEASE);
    a->tab = t;
    a->q = q;
    __atomic_store_n(&q->word, seq, __ATOMIC_RELEASE);
}

void gh_shm_refresh(struct gh_shm *s, unsigned k, struct gh_shm_seq *q, const struct gh_heap *h)
{
    struct gh_shm_tab *t = &s->arena_tabs[k];
    if (h->c->region_changes != t->seen_regions && !s->lost) {
        if (k == 0)
            gh_shm_write_regions(s, h);
        else
            write_table(s, t->tab, t->regions, GH_SHM_ARENA_REGIONS, k, h);
    }
    if (q->large && q->large->changes != s->seen_large)
        gh_shm_write_large(s);
    /* lost: nothing is written any more, and nothing asked again */
    t->seen_regions = h->c->region_changes;
    if (q->large)
        s->seen_large = q->large->changes;
    q->seen = gh_shm_changes(q, h);
}

void gh_shm_stop(struct gh_shm *s)
{
    s->hdr = NULL;
    for (unsigned k = 0; k < GH_SHM_ARENAS_CAPACITY; k++)
        if (s->arena_tabs[k].q)
            __atomic_store_n(&s->arena_tabs[k].q->word, NULL, __ATOMIC_RELAXED);
}

int gh_shm_open(struct gh_shm *s, const struct gh_config *cfg, const struct gh_heap *h)
{
    return gh_shm_open_large(s, cfg, h, NULL);
}

int gh_shm_open_large(struct gh_shm *s, const struct gh_config *cfg, const struct gh_heap *h,
                      const struct gh_large *large)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    char name[64];
    segment_name(name, sizeof name, (long)getpid());
    uint32_t off_config = round8(sizeof(struct gh_shm_header));
    uint32_t off_counters = off_config + round8(sizeof(struct gh_shm_config));
    uint32_t off_map = off_counters + round8(sizeof(struct gh_shm_counters));
    uint32_t map_size = (uint32_t)(sizeof(struct gh_shm_map) + GH_SHM_MAP_CAPACITY * sizeof(struct gh_shm_block));
    uint32_t off_large = large ? off_map + round8(map_size) : 0;
    uint32_t large_size = large ? (uint32_t)(sizeof(struct gh_shm_large)
                                             + GH_SHM_LARGE_CAPACITY * sizeof(struct gh_shm_large_block))
                                : 0;
    uint64_t end = large ? (uint64_t)off_large + large_size : (uint64_t)off_map + map_size;
    uint32_t off_heap = round8((size_t)end);
    uint32_t heap_size = (uint32_t)(sizeof(struct gh_shm_heap) + GH_SHM_REGION_CAPACITY * sizeof(struct gh_shm_region));
    uint32_t off_arenas = off_heap + round8(heap_size);
    uint32_t arenas_size = (uint32_t)(sizeof(struct gh_shm_arenas)
                                      + GH_SHM_ARENAS_CAPACITY * sizeof(struct gh_shm_arena));
    uint32_t stride = round8(sizeof(struct gh_shm_heap) + GH_SHM_ARENA_REGIONS * sizeof(struct gh_shm_region));
    uint32_t off_tables = off_arenas + round8(arenas_size);
    uint32_t tables_size = (GH_SHM_ARENAS_CAPACITY - 1) * stride;
    uint32_t off_live = (off_tables + tables_size + 63u) & ~63u; /* on a cache line (glassheap/live.h) */
    uint32_t live_size = (uint32_t)(sizeof(struct gh_shm_live) + GH_SHM_LIVE_ARENAS * sizeof(struct gh_shm_live_arena)
                                    + GH_SHM_LIVE_CACHES * sizeof(struct gh_shm_live_cache));
    uint64_t total = (uint64_t)off_live + live_size;

    /* Made under a temporary name and renamed into place once complete, so
     * a reader never opens a half-made segment under the real name (and an
     * earlier image of this pid, before an exec, is replaced at once). */
    char tmp[64];
    size_t nl = strlen(name);
    memcpy(tmp, name, nl);
    memcpy(tmp + nl, ".new", 5);
    gh_os_shm_unlink(tmp);
    int fd;
    void *m;
    int err = gh_os_shm_create(tmp, (size_t)total, &fd, &m);
    if (err)
        return err;
    flock(fd, LOCK_SH | LOCK_NB);
    s->fd = fd;
    s->size = total;
    struct gh_shm_header *hdr = m;
    struct gh_shm_config *c = (struct gh_shm_config *)((char *)m + off_config);
    s->counters = (struct gh_shm_counters *)((char *)m + off_counters);
    s->map = (struct gh_shm_map *)((char *)m + off_map);
    s->blocks = (struct gh_shm_block *)(s->map + 1);
    struct gh_shm_heap *tab0 = (struct gh_shm_heap *)((char *)m + off_heap);
    s->arena_tabs[0].tab = tab0;
    s->arena_tabs[0].regions = (struct gh_shm_region *)(tab0 + 1);
    s->arena_tab = (struct gh_shm_arenas *)((char *)m + off_arenas);
    s->arena_entries = (struct gh_shm_arena *)(s->arena_tab + 1);
    s->arena_tables = (char *)m + off_tables;
    s->arena_table_stride = stride;
    s->live = (struct gh_shm_live *)((char *)m + off_live);
    s->live_arenas = (struct gh_shm_live_arena *)(s->live + 1);
    s->live_caches = (struct gh_shm_live_cache *)(s->live_arenas + GH_SHM_LIVE_ARENAS);
    s->live->arena_size = sizeof(struct gh_shm_live_arena);
    s->live->arenas = GH_SHM_LIVE_ARENAS;
    s->live->cache_size = sizeof(struct gh_shm_live_cache);
    s->live->caches = GH_SHM_LIVE_CACHES;
    s->front = NULL;
    s->placed = false;
    if (large) {
        s->large = large;
        s->large_list = (struct gh_shm_large *)((char *)m + off_large);
        s->large_blocks = (struct gh_shm_large_block *)(s->large_list + 1);
    }

    struct gh_heap_desc d;
    gh_heap_describe(h, &d);
    memcpy(c->policy, d.policy, strlen(d.policy) + 1);
    c->mmap_threshold = cfg->mmap_threshold;
    c->trim_threshold = h->trim_threshold;
    c->top_pad = h->top_pad;
    c->buddy_max_order = d.max_order;
    c->alignment = GH_ALIGN;
    c->header_bytes = GH_HEADER_SIZE;
    c->min_block = (uint32_t)d.min_block;
    fill_layout(s, &d);
    gh_shm_write_regions(s, h);
    size_t n = read_proc("/proc/self/cmdline", c->cmdline, sizeof c->cmdline);
    for (size_t i = 0; i + 1 < n; i++)
        if (c->cmdline[i] == '\0')
            c->cmdline[i] = ' ';

    hdr->version = GH_SHM_VERSION;
    hdr->header_size = sizeof *hdr;
    hdr->total_size = total;
    hdr->config_offset = off_config;
    hdr->config_size = sizeof *c;
    hdr->counters_offset = off_counters;
    hdr->counters_size = sizeof *s->counters;
    hdr->map_offset = off_map;
    hdr->map_size = map_size;
    hdr->map_capacity = GH_SHM_MAP_CAPACITY;
    hdr->block_size = sizeof(struct gh_shm_block);
    hdr->large_offset = off_large;
    hdr->large_size = large_size;
    hdr->large_capacity = large ? GH_SHM_LARGE_CAPACITY : 0;
    hdr->large_block_size = large ? sizeof(struct gh_shm_large_block) : 0;
    hdr->heap_offset = off_heap;
    hdr->heap_size = heap_size;
    hdr->heap_capacity = GH_SHM_REGION_CAPACITY;
    hdr->heap_region_size = sizeof(struct gh_shm_region);
    hdr->arenas_offset = off_arenas;
    hdr->arenas_size = arenas_size;
    hdr->arenas_capacity = GH_SHM_ARENAS_CAPACITY;
    hdr->arena_entry_size = sizeof(struct gh_shm_arena);
    hdr->arena_tables_offset = off_tables;
    hdr->arena_tables_size = tables_size;
    hdr->arena_tables = GH_SHM_ARENAS_CAPACITY - 1;
    hdr->arena_table_regions = GH_SHM_ARENA_REGIONS;
    tab0->arena_tables = 1;
    hdr->live_offset = off_live;
    hdr->live_size = live_size;
    hdr->pid = (int32_t)getpid();
    hdr->uid = (uint32_t)getuid();
    hdr->start_time_ns = now_ns(CLOCK_REALTIME);
    hdr->proc_start_ticks = start_ticks();
    /* The magic last: a reader never sees a valid magic on a half-made header. */
    __atomic_store_n(&hdr->magic, GH_SHM_MAGIC, __ATOMIC_RELEASE);
    char from[96], to[96];
    size_t dl = strlen(GH_SHM_DIR);
    memcpy(from, GH_SHM_DIR, dl);
    memcpy(from + dl, tmp, strlen(tmp) + 1);
    memcpy(to, GH_SHM_DIR, dl);
    memcpy(to + dl, name, strlen(name) + 1);
    if (rename(from, to) != 0) {
        err = errno;
        gh_os_shm_unmap(m, (size_t)total);
        close(fd);
        gh_os_shm_unlink(tmp);
        s->arena_tabs[0].tab = NULL;
        s->arena_tab = NULL;
        return err;
    }
    s->hdr = hdr;
    s->pid = (long)getpid();
    gh_os_shm_guard(m, (size_t)total);
    return 0;
}

/* True once the segment is lost (its file shrunk under us): says so once. */
static bool lost(struct gh_shm *s)
{
    if (s->lost)
        return true;
    if (!gh_os_shm_lost(s->fd, s->hdr, (size_t)s->size))
        return false;
    s->lost = true;
    char line[128] = "glassheap: the segment " GH_SHM_DIR;
    size_t l = strlen(line);
    segment_name(line + l, sizeof line - l, (long)getpid());
    l = strlen(line);
    const char tail[] = " was truncated by another process; no longer publishing\n";
    if (l + sizeof tail <= sizeof line)
        memcpy(line + l, tail, sizeof tail);
    gh_write_str(2, line);
    return true;
}

void gh_shm_close(struct gh_shm *s, bool unlink_it)
{
    if (!s->hdr)
        return;
    if (unlink_it) {
        __atomic_store_n(&s->hdr->exited, 1, __ATOMIC_RELEASE);
        char name[64];
        segment_name(name, sizeof name, s->pid);
        gh_os_shm_unlink(name);
    }
    if (!s->placed) {
        gh_os_shm_unguard();
        gh_os_shm_unmap(s->hdr, (size_t)s->size);
    }
    if (s->fd >= 0)
        close(s->fd);
    gh_shm_stop(s);
    s->fd = -1;
}

static inline void seq_begin(uint64_t *seq)
{
    __atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void seq_end(uint64_t *seq)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

void gh_shm_publish(struct gh_shm *s, const struct gh_stats_snapshot *snap)
{
    if (!s->hdr)
        return;
    if (lost(s)) {
        s->calls = 0; /* the next look in GH_SHM_PUBLISH_EVERY calls, not at every call */
        return;
    }
    struct gh_shm_counters *c = s->counters;
    uint64_t req = __atomic_load_n(&c->request, __ATOMIC_ACQUIRE);
    /* A reader could have left seq odd: make it even before we start. */
    if (c->seq & 1)
        c->seq++;
    seq_begin(&c->seq);
    c->publishes++;
    c->time_ns = now_ns(CLOCK_MONOTONIC);
    c->malloc_calls = snap->calls.malloc;
    c->calloc_calls = snap->calls.calloc;
    c->realloc_calls = snap->calls.realloc;
    c->realloc_in_place = snap->calls.realloc_in_place;
    c->realloc_moved = snap->calls.realloc_moved;
    c->free_calls = snap->calls.free;
    c->aligned_calls = snap->calls.aligned;
    c->failed_calls = snap->calls.failed;
    c->brk_calls = snap->os.brk_calls;
    c->brk_grow_bytes = snap->os.brk_grow_bytes;
    c->brk_shrink_bytes = snap->os.brk_shrink_bytes;
    c->mmap_calls = snap->os.mmap_calls;
    c->mmap_bytes = snap->os.mmap_bytes;
    c->munmap_calls = snap->os.munmap_calls;
    c->munmap_bytes = snap->os.munmap_bytes;
    c->mremap_calls = snap->os.mremap_calls;
    c->mremap_bytes = snap->os.mremap_bytes;
    c->madvise_calls = snap->os.madvise_calls;
    c->madvise_bytes = snap->os.madvise_bytes;
    c->trims = snap->heap.trims;
    c->trimmed_bytes = snap->heap.trimmed_bytes;
    c->live_requested = snap->heap.live_requested;
    c->live_block_bytes = snap->heap.live_block_bytes;
    c->live_blocks = snap->heap.live_blocks;
    c->free_bytes = snap->heap.free_bytes;
    c->free_blocks = snap->free_blocks;
    c->largest_free = snap->largest_free;
    c->heap_bytes = snap->heap.heap_bytes;
    c->overhead_bytes = snap->heap.overhead_bytes;
    c->regions = snap->regions;
    c->large_requested = snap->large_requested;
    c->large_bytes = snap->large_bytes;
    c->large_blocks = snap->large_blocks;
    c->peak_requested = snap->heap.peak_requested;
    c->peak_block_bytes = snap->heap.peak_block_bytes;
    c->peak_heap_bytes = snap->heap.peak_heap_bytes;
    c->peak_large_bytes = snap->large_peak_bytes;
    c->harden_on = snap->harden.on;
    c->quarantined_blocks = snap->harden.quarantined_blocks;
    c->quarantined_bytes = snap->harden.quarantined_bytes;
    c->quarantined_requested = snap->harden.quarantined_requested;
    c->canary_bytes = snap->harden.canary_bytes;
    c->zero_blocks = snap->harden.zero_blocks;
    c->cache_on = (uint64_t)snap->cache_on;
    c->cached_blocks = snap->cache.blocks;
    c->cached_bytes = snap->cache.bytes;
    c->cached_requested = snap->cache.requested;
    c->cache_hits = snap->cache.hits;
    c->arenas = snap->arenas;
    c->mmap_threshold_now = snap->mmap_threshold;
    c->mmap_threshold_dynamic = snap->threshold_dynamic;
    c->mmap_threshold_rises = snap->threshold_rises;
    c->large_cached_blocks = snap->large_cached_blocks;
    c->large_cached_bytes = snap->large_cached_bytes;
    c->large_reused = snap->large_reused;
    memcpy(c->free_hist, snap->heap.free_hist, sizeof c->free_hist);
    memset(c->buddy_free, 0, sizeof c->buddy_free);
    for (unsigned k = 0; k < GH_SHM_ORDERS && k < GH_HEAP_ORDERS; k++)
        c->buddy_free[k] = snap->order_free[k];
    seq_end(&c->seq);
    gh_shm_write_large(s);
    __atomic_store_n(&c->answered, req, __ATOMIC_RELEASE);
    s->calls = 0;
}

struct gh_shm_arena *gh_shm_arenas_begin(struct gh_shm *s)
{
    if (!s->hdr || s->lost)
        return NULL;
    struct gh_shm_arenas *t = s->arena_tab;
    if (t->seq & 1)    /* a reader could have left it odd */
        t->seq++;
    seq_begin(&t->seq);
    return s->arena_entries;
}

void gh_shm_arenas_end(struct gh_shm *s, unsigned n)
{
    struct gh_shm_arenas *t = s->arena_tab;
    t->count = n < GH_SHM_ARENAS_CAPACITY ? n : GH_SHM_ARENAS_CAPACITY;
    seq_end(&t->seq);
}

struct map_ctx {
    struct gh_shm *s;
    uint64_t n, total;
    const struct gh_region *region;
    uint32_t region_index;
    uint64_t lo, hi;
    bool marks;   /* blocks in use may be in a thread's cache (tcache.h) */
};

static bool map_one(void *cv, const struct gh_block_info *b)
{
    struct map_ctx *m = cv;
    if (b->region != m->region) {
        if (m->region)
            m->region_index++;
        m->region = b->region;
        uint64_t rs = (uint64_t)(uintptr_t)b->region, re = rs + b->region->len;
        if (!m->lo || rs < m->lo)
            m->lo = rs;
        if (re > m->hi)
            m->hi = re;
    }
    m->total++;
    if (m->n < GH_SHM_MAP_CAPACITY) {
        struct gh_shm_block *e = &m->s->blocks[m->n++];
        e->addr = (uint64_t)(uintptr_t)b->addr;
        e->size = b->size;
        e->requested = b->requested;
        e->state = b->free ? GH_SHM_BLOCK_FREE
                 : m->marks && gh_tcache_marked((const char *)b->addr + GH_HEADER_SIZE) ? GH_SHM_BLOCK_CACHED
                                                                                         : GH_SHM_BLOCK_USED;
        e->region = m->region_index;
    }
    return true;
}

void gh_shm_write_map(struct gh_shm *s, const struct gh_heap *const *heaps, unsigned nheaps, bool marks)
{
    if (!s->hdr || lost(s))
        return;
    struct gh_shm_map *map = s->map;
    uint64_t req = __atomic_load_n(&map->request, __ATOMIC_ACQUIRE);
    if (map->seq & 1)
        map->seq++;
    seq_begin(&map->seq);
    struct map_ctx m = { .s = s, .marks = marks };
    for (unsigned k = 0; k < nheaps; k++)
        gh_heap_walk(heaps[k], map_one, &m); /* regions numbered on across arenas */
    map->nblocks = m.n;
    map->total_blocks = m.total;
    map->heap_start = m.lo;
    map->heap_end = m.hi;
    map->time_ns = now_ns(CLOCK_MONOTONIC);
    seq_end(&map->seq);
    gh_shm_write_large(s);
    __atomic_store_n(&map->answered, req, __ATOMIC_RELEASE);
}

struct large_ctx {
    struct gh_shm *s;
    uint64_t n, total;
};

/* One registry record: listed while there is room, counted always. */
static bool large_one(void *cv, struct gh_tnode *node)
{
    struct large_ctx *k = cv;
    const struct gh_large_rec *r = gh_large_rec_of_node(node);
    const char *p = gh_large_payload(r);
    k->total++;
    if (k->n < GH_SHM_LARGE_CAPACITY) {
        struct gh_shm_large_block *e = &k->s->large_blocks[k->n++];
        e->addr = (uint64_t)(uintptr_t)p;
        e->map_base = r->map_base;
        e->map_len = r->map_len;
        e->requested = gh_large_requested(p);
    }
    return true;
}

void gh_shm_write_large(struct gh_shm *s)
{
    if (!s->hdr || !s->large || s->lost)
        return;
    struct gh_shm_large *list = s->large_list;
    if (list->seq & 1)
        list->seq++;
    seq_begin(&list->seq);
    struct large_ctx k = { .s = s };
    gh_tree_walk(&s->large->tree, large_one, &k);
    list->count = k.n;
    list->total = k.total;
    struct gh_shm_live *v = s->live;
    if (s->front) { /* the large words of the live section, with the list */
        const struct gh_front *f = s->front;
        v->large_blocks = s->large->live_blocks;
        v->large_bytes = s->large->live_bytes;
        v->large_requested = s->large->live_requested;
        v->large_peak_bytes = s->large->peak_bytes;
        v->large_peak_blocks = s->large->peak_blocks;
        v->large_cached_blocks = __atomic_load_n(&f->cache.blocks, __ATOMIC_RELAXED);
        v->large_cached_bytes = __atomic_load_n(&f->cache.bytes, __ATOMIC_RELAXED);
        v->large_reused = f->large_reused;
        v->mmap_threshold_now = gh_front_threshold(f);
        v->mmap_threshold_dynamic = f->threshold_dynamic;
        v->mmap_threshold_rises = f->threshold_rises;
    }
    seq_end(&list->seq);
    s->seen_large = s->large->changes; /* (the main arena's next leave sees
                                           its changes moved: a refresh that
                                           finds nothing to write) */
}
