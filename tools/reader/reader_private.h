/* reader_private.h - what reader.c, reader_dir.c, reader_live.c and walk_target.c share inside the
 * reader library (never installed, never included by a tool).
 */
#ifndef GLASSHEAP_READER_PRIVATE_H
#define GLASSHEAP_READER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "reader.h"

#define PATH_BUF         4096
#define NAME_PREFIX      "glassheap."

struct ghr_segment {
    uint8_t *base;              /* the whole file, MAP_SHARED, read-write */
    size_t size;                /* the file's size when opened */
    struct gh_shm_header hdr;   /* validated private copy */
    uint32_t version;           /* as found in the file */
    bool bad_version;           /* a husk: nothing mapped */
    bool stale;                 /* found stale at open */
    dev_t dev;
    ino_t ino;
    int fd;                     /* kept open to test the writer's flock */
};

/* GHR_OK while the file still holds all that is mapped of it (checked
 * before every read through the mapping: a shrunk file is not a SIGBUS). */
int ghr_still_whole(const struct ghr_segment *seg);

/* Copy n bytes (n a multiple of 8) from 8-aligned shared memory, one relaxed
 * atomic load per word: the writer may be storing at the same time. */
static inline void ghr_load_words(void *dst, const uint8_t *src, size_t n)
{
    const uint64_t *s = (const uint64_t *)(const void *)src;
    uint8_t *d = dst;
    for (size_t i = 0; i < n / 8; i++) {
        uint64_t w = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
        memcpy(d + 8 * i, &w, 8);
    }
}

/* One word of shared memory (a sequence word: acquire). */
static inline uint64_t ghr_load_seq(const uint8_t *p)
{
    return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

/* The smallest header this reader accepts: the words before the
 * per-arena tables. */
#define HEADER_MIN offsetof(struct gh_shm_header, arenas_offset)

/* The layout of the private header copy against the file's size fsize
 * (reader_layout.c, at open): GHR_OK, GHR_TRUNCATED or GHR_BAD_LAYOUT. */
int ghr_validate_header(const struct gh_shm_header *h, size_t fsize);

/* The live section's place (reader_live.c; ghr_validate_header's last). */
int ghr_validate_live(const struct gh_shm_header *h);

/* The bytes from one arena's region table to the next in the header's
 * arena tables (the writer's rounding: shm.c). */
static inline uint64_t ghr_table_stride(const struct gh_shm_header *h)
{
    return ((uint64_t)sizeof(struct gh_shm_heap) + (uint64_t)h->arena_table_regions * h->heap_region_size + 7) & ~7ull;
}

/* Where arena k's region table lies (k 0: the main table; k >= 1 needs
 * the arena tables), from the validated header; 0 when it has none. */
static inline uint64_t ghr_table_offset(const struct gh_shm_header *h, uint64_t k)
{
    if (k == 0)
        return h->heap_offset;
    if (h->arena_tables_offset == 0 || k > h->arena_tables)
        return 0;
    return h->arena_tables_offset + (k - 1) * ghr_table_stride(h);
}

/* Where arena k's sequence word lies: the seq of its entry in the live
 * section (glassheap/live.h), which guards the entry and the arena's
 * region table; 0 when the segment has none for k (no live section, a
 * live head that does not fit, k past its entries).  Inside the mapping
 * whatever the writer does later.  The file must be whole (reader_live.c). */
uint64_t ghr_arena_seq_offset(const struct ghr_segment *seg, uint64_t k);

/* dir "/" NAME_PREFIX pid into buf; false when it does not fit. */
bool ghr_seg_path(char *buf, size_t cap, const char *dir, int pid);

#endif
