/* shm_image.h - synthetic segment files for the reader's tests.
 *
 * A segment laid out exactly as shm.h describes it, built by hand (not by
 * the library): header, config, counters, map head and IMG_CAP map entries,
 * the large-block list head and IMG_LARGE_CAP entries, the per-arena table
 * head and IMG_ARENA_CAP entries, back to back.  Every struct of shm.h is a multiple of 8 bytes, so struct
 * img has no padding and its offsetof()s are the file offsets.  The writer
 * is this process: pid = getpid(), proc_start_ticks from /proc/self/stat
 * (tools/lib's parser, the one the reader uses).
 */
#ifndef GH_SHM_IMAGE_H
#define GH_SHM_IMAGE_H

#include <fcntl.h>
#include <sys/file.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glassheap/shm.h"
#include "proc.h"

#define IMG_CAP 16u
#define IMG_LARGE_CAP 8u
#define IMG_ARENA_CAP 4u
#define IMG_REGIONS 2u      /* entries of each region table (img_tables) */
#define IMG_TABLES 2u       /* other arenas' region tables (img_tables) */

struct img_table {
    struct gh_shm_heap head;
    struct gh_shm_region r[IMG_REGIONS];
};

#define IMG_LIVE_ARENAS 2u  /* the live section's entries (img_live) */
#define IMG_LIVE_CACHES 2u

struct img_live {
    struct gh_shm_live head;
    struct gh_shm_live_arena arena[IMG_LIVE_ARENAS];
    struct gh_shm_live_cache cache[IMG_LIVE_CACHES];
};

struct img {
    struct gh_shm_header h;
    struct gh_shm_config cfg;
    struct gh_shm_counters cnt;
    struct gh_shm_map map;
    struct gh_shm_block blocks[IMG_CAP];
    struct gh_shm_large large;
    struct gh_shm_large_block lblocks[IMG_LARGE_CAP];
    struct gh_shm_arenas arenas;
    struct gh_shm_arena arena[IMG_ARENA_CAP];
    struct img_table heap;              /* the main region table (img_tables; else unnamed) */
    struct img_table tables[IMG_TABLES]; /* the other arenas' */
    struct img_live live;               /* the counters in place (img_live; else unnamed) */
};

_Static_assert(sizeof(struct img) == sizeof(struct gh_shm_header) + sizeof(struct gh_shm_config) +
               sizeof(struct gh_shm_counters) + sizeof(struct gh_shm_map) +
               IMG_CAP * sizeof(struct gh_shm_block) + sizeof(struct gh_shm_large) +
               IMG_LARGE_CAP * sizeof(struct gh_shm_large_block) + sizeof(struct gh_shm_arenas) +
               IMG_ARENA_CAP * sizeof(struct gh_shm_arena) + (1 + IMG_TABLES) * sizeof(struct img_table) +
               sizeof(struct img_live),
               "struct img must have no padding");

/* Field 22 of /proc/self/stat; 0 if unreadable. */
static inline uint64_t img_self_start_ticks(void)
{
    struct gh_proc_stat st;
    return gh_proc_stat_read(0, &st) == 1 ? st.start_ticks : 0;
}

/* A valid, live segment of this process with recognisable values. */
static inline void img_init(struct img *m)
{
    memset(m, 0, sizeof *m);
    struct gh_shm_header *h = &m->h;
    h->magic = GH_SHM_MAGIC;
    h->version = GH_SHM_VERSION;
    h->header_size = sizeof m->h;
    h->total_size = sizeof *m;
    h->config_offset = offsetof(struct img, cfg);
    h->config_size = sizeof m->cfg;
    h->counters_offset = offsetof(struct img, cnt);
    h->counters_size = sizeof m->cnt;
    h->map_offset = offsetof(struct img, map);
    h->map_size = sizeof m->map + IMG_CAP * sizeof m->blocks[0];
    h->map_capacity = IMG_CAP;
    h->block_size = sizeof m->blocks[0];
    h->pid = (int32_t)getpid();
    h->uid = (uint32_t)getuid();
    h->start_time_ns = 1700000000000000000ull;
    h->proc_start_ticks = img_self_start_ticks();

    strcpy(m->cfg.policy, "best");
    m->cfg.mmap_threshold = 128 * 1024;
    m->cfg.trim_threshold = 256 * 1024;
    m->cfg.top_pad = 64 * 1024;
    m->cfg.alignment = 16;
    m->cfg.header_bytes = 16;
    m->cfg.min_block = 32;
    strcpy(m->cfg.cmdline, "./prog --flag x");

    /* every counter a distinct value: a shifted copy is noticed */
    uint64_t *w = (uint64_t *)(void *)&m->cnt;
    for (size_t i = 0; i < sizeof m->cnt / 8; i++)
        w[i] = 1000 + i;
    m->cnt.seq = 2;
    m->cnt.request = m->cnt.answered = 0;

    m->map.nblocks = 3;
    m->map.total_blocks = 5;
    m->map.heap_start = 0x10000;
    m->map.heap_end = 0x20000;
    for (unsigned i = 0; i < IMG_CAP; i++) {
        m->blocks[i].addr = 0x10000 + 0x100 * i;
        m->blocks[i].size = 0x100;
        m->blocks[i].requested = (i % 2) ? 0 : 0x80 + i;
        m->blocks[i].state = (i % 2) ? GH_SHM_BLOCK_FREE : GH_SHM_BLOCK_USED;
        m->blocks[i].region = i / 4;
    }

    h->large_offset = offsetof(struct img, large);
    h->large_size = sizeof m->large + IMG_LARGE_CAP * sizeof m->lblocks[0];
    h->large_capacity = IMG_LARGE_CAP;
    h->large_block_size = sizeof m->lblocks[0];
    m->large.seq = 4;
    m->large.count = 2;
    m->large.total = 3;   /* one live large block not listed */
    for (unsigned i = 0; i < IMG_LARGE_CAP; i++) {
        m->lblocks[i].map_base = 0x7f0000000000ull + 0x100000ull * i;
        m->lblocks[i].map_len = 0x21000;
        m->lblocks[i].addr = m->lblocks[i].map_base + 0x40;
        m->lblocks[i].requested = 0x20000 + i;
    }

    h->arenas_offset = offsetof(struct img, arenas);
    h->arenas_size = sizeof m->arenas + IMG_ARENA_CAP * sizeof m->arena[0];
    h->arenas_capacity = IMG_ARENA_CAP;
    h->arena_entry_size = sizeof m->arena[0];
    m->arenas.seq = 6;
    m->arenas.count = 3;
    for (unsigned i = 0; i < IMG_ARENA_CAP; i++)
        m->arena[i] = (struct gh_shm_arena){
            .index = i, .threads = 1, .calls = 100 + i, .used_blocks = 3, .used_block_bytes = 4096,
            .used_requested = 4000, .free_blocks = 2, .free_bytes = 8192, .largest_free = 6144,
            .heap_bytes = 4096 + 8192 + 64, .overhead_bytes = 64, .regions = 1,
            .peak_heap_bytes = 1 << 20,
        };
}

/* Name the region tables in the header (img_init leaves them unnamed): the
 * main one and IMG_TABLES others, IMG_REGIONS entries each, all empty. */
static inline void img_tables(struct img *m)
{
    struct gh_shm_header *h = &m->h;
    h->heap_offset = offsetof(struct img, heap);
    h->heap_size = sizeof m->heap;
    h->heap_capacity = IMG_REGIONS;
    h->heap_region_size = sizeof(struct gh_shm_region);
    h->arena_tables_offset = offsetof(struct img, tables);
    h->arena_tables_size = sizeof m->tables;
    h->arena_tables = IMG_TABLES;
    h->arena_table_regions = IMG_REGIONS;
    m->heap.head.arena_tables = 1;
}

/* Name the live section too (img_tables first): two arenas in place, one
 * live thread cache, the exited threads' counts.  What ghr_live must add up:
 * malloc calls 10 + 5 + 3, live blocks 3 + 3 - 1 cached, free blocks 2 + 1,
 * cache hits 3 + 1. */
static inline void img_live(struct img *m)
{
    img_tables(m);
    struct gh_shm_header *h = &m->h;
    h->live_offset = offsetof(struct img, live);
    h->live_size = sizeof m->live;
    struct gh_shm_live *v = &m->live.head;
    v->arena_size = sizeof m->live.arena[0];
    v->arenas = IMG_LIVE_ARENAS;
    v->cache_size = sizeof m->live.cache[0];
    v->caches = IMG_LIVE_CACHES;
    v->os.brk_calls = 7;
    v->exited.hits = 1;
    m->heap.head.arenas = 2;
    m->live.arena[0].seq = 4;   /* each arena's seq (version 2) */
    m->live.arena[1].seq = 6;
    for (unsigned k = 0; k < IMG_LIVE_ARENAS; k++) {
        struct gh_shm_live_arena *a = &m->live.arena[k];
        a->heap.live_blocks = 3;
        a->heap.live_block_bytes = 4096;
        a->heap.live_requested = 4000;
        a->heap.free_bytes = 8192;
        a->heap.overhead_bytes = 64;
        a->heap.heap_bytes = 4096 + 8192 + 64;
        a->heap.peak_heap_bytes = 1 << 20;
        a->heap.free_hist[12] = k ? 1 : 2;
        a->calls.malloc = k ? 5 : 10;
        a->calls.free = 4;
        a->threads = 1;
    }
    m->live.cache[0].in_use = 1;
    m->live.cache[0].c.blocks = 1;
    m->live.cache[0].c.bytes = 64;
    m->live.cache[0].c.requested = 50;
    m->live.cache[0].c.hits = 3;
    m->live.cache[0].c.calls.malloc = 3;
    m->live.cache[1].c.hits = 1000;   /* not in use: not counted */
}

/* Hold a shared flock on path, as a live writer does (the reader takes a
 * segment whose lock nobody holds for stale).  The last few are kept open. */
static inline void img_hold(const char *path)
{
    static int held[16] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };
    static unsigned next;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    flock(fd, LOCK_SH | LOCK_NB);
    unsigned i = next++ % 16;
    if (held[i] >= 0)
        close(held[i]);
    held[i] = fd;
}

/* Write `size` bytes of `data` to `path` (created 0600 or truncated) and
 * hold its lock like a live writer.  0 on success. */
static inline int img_write(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    if (close(fd) != 0)
        return -1;
    img_hold(path);
    return 0;
}

#endif
