/* unit_util.h - what the heap unit tests share: a heap over an mmap'd
 * arena, the checker as an assertion, a walk into an array, and a content
 * pattern that tells every block (and every byte offset) apart.
 *
 * Everything here is static inline so each test file uses what it needs.
 * cmocka.h must be included before this header.
 */
#ifndef GH_UNIT_UTIL_H
#define GH_UNIT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "heap.h"

/* A heap over its own arena. */
struct fx {
    void *mem;
    size_t len;
    struct gh_source src;
    struct gh_heap h;
};

static inline void fx_open(struct fx *f, size_t len, const struct gh_policy_ops *ops)
{
    memset(f, 0, sizeof *f);
    f->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(f->mem != MAP_FAILED);
    f->len = len;
    gh_source_init_arena(&f->src, f->mem, len);
    gh_heap_init(&f->h, &f->src, ops);
}

static inline void fx_close(struct fx *f)
{
    if (f->mem)
        munmap(f->mem, f->len);
    f->mem = NULL;
}

static const struct gh_policy_ops *const fit_policies[] = {
    &gh_policy_first, &gh_policy_next, &gh_policy_best, &gh_policy_worst,
};
#define N_FIT_POLICIES 4

/* gh_heap_check as an assertion, plus the byte identity of DESIGN.md. */
#define HEAP_OK(h) heap_ok((h), __FILE__, __LINE__)

static inline void heap_ok(const struct gh_heap *h, const char *file, int line)
{
    const char *why = NULL;
    const void *where = NULL;
    if (!gh_heap_check(h, &why, &where))
        fail_msg("%s:%d: gh_heap_check: %s (at %p)", file, line, why ? why : "?", where);
    const struct gh_heap_counters *c = h->c;
    if (c->live_block_bytes + c->free_bytes + c->overhead_bytes != c->heap_bytes)
        fail_msg("%s:%d: live %llu + free %llu + overhead %llu != heap %llu", file, line,
                 (unsigned long long)c->live_block_bytes, (unsigned long long)c->free_bytes,
                 (unsigned long long)c->overhead_bytes, (unsigned long long)c->heap_bytes);
}

/* ---- the walk into an array ---- */

#define MAX_WALK 4096

struct walk {
    struct gh_block_info b[MAX_WALK];
    size_t n, nfree, nregions, nmapped;
    size_t free_bytes;
    const struct gh_region *last_region;
};

static inline bool walk_one(void *ctx, const struct gh_block_info *bi)
{
    struct walk *w = ctx;
    assert_true(w->n < MAX_WALK);
    w->b[w->n++] = *bi;
    if (bi->free) {
        w->nfree++;
        w->free_bytes += bi->size;
    }
    if (bi->region != w->last_region) {
        w->nregions++;
        if (bi->region->mapped)
            w->nmapped++;
        w->last_region = bi->region;
    }
    return true;
}

static inline void walk_heap(const struct gh_heap *h, struct walk *w)
{
    memset(w, 0, sizeof *w);
    gh_heap_walk(h, walk_one, w);
}

/* The walked block whose header is at addr, or NULL. */
static inline const struct gh_block_info *walk_find(const struct walk *w, const void *addr)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->b[i].addr == addr)
            return &w->b[i];
    return NULL;
}

/* The free block at address a must exist with this size. */
static inline void expect_free_block(const struct gh_heap *h, const void *a, size_t size)
{
    static struct walk w;
    walk_heap(h, &w);
    const struct gh_block_info *bi = walk_find(&w, a);
    if (!bi)
        fail_msg("no block at %p", a);
    assert_true(bi->free);
    assert_int_equal(bi->size, size);
}

/* The last block of the last region (the top of an arena heap). */
static inline const struct gh_block_info *walk_top(const struct walk *w)
{
    return w->n ? &w->b[w->n - 1] : NULL;
}

/* Block of a payload, as an address. */
static inline const void *hdr(const void *p)
{
    return (const char *)p - GH_HEADER_SIZE;
}

static inline size_t block_size_of(const void *p)
{
    return gh_block_size(gh_block_of(p));
}

/* ---- contents ---- */

/* Byte i of a block filled with seed: differs between blocks and shifts. */
static inline unsigned char pat(uint64_t seed, size_t i)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + (i >> 3);
    x ^= x >> 29;
    return (unsigned char)(x >> (8 * (i & 7)));
}

/* Fill [from, to) of p with the pattern of seed, a word at a time. */
static inline void fill_range(void *p, size_t from, size_t to, uint64_t seed)
{
    unsigned char *c = p;
    size_t i = from;
    for (; i < to && (i & 7); i++)
        c[i] = pat(seed, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t x = seed * 0x9e3779b97f4a7c15ULL + (i >> 3);
        x ^= x >> 29;
        memcpy(c + i, &x, 8); /* little-endian: byte k is x >> 8k */
    }
    for (; i < to; i++)
        c[i] = pat(seed, i);
}

/* First byte of [from, to) that differs from the pattern, or to. */
static inline size_t check_range(const void *p, size_t from, size_t to, uint64_t seed)
{
    const unsigned char *c = p;
    size_t i = from;
    for (; i < to && (i & 7); i++)
        if (c[i] != pat(seed, i))
            return i;
    for (; i + 8 <= to; i += 8) {
        uint64_t x = seed * 0x9e3779b97f4a7c15ULL + (i >> 3), y;
        x ^= x >> 29;
        memcpy(&y, c + i, 8);
        if (x != y)
            break;
    }
    for (; i < to; i++)
        if (c[i] != pat(seed, i))
            return i;
    return to;
}

#define FILL(p, n, seed) fill_range((p), 0, (n), (seed))
#define CONTENTS_OK(p, n, seed) assert_int_equal(check_range((p), 0, (n), (seed)), (n))

#endif
