/* large.h - the large-block path: one mmap per block.
 *
 * Blocks at or above the mmap threshold get a mapping of their own.  Each
 * carries a 48-byte record just before its header (mapping base and length,
 * and a node in an address-ordered registry), so free() can tell a large
 * block from a pointer it never gave out:
 *
 *   map_base ... [record 48 B][header 16 B][payload ...........] map_end
 *                                          ^ p (aligned as asked)
 *
 * The mappings come from a mapper (mapper.h: the real one over os.c, or a
 * counted one for replay and tests); this file never calls the OS itself.
 *
 * A small cache keeps freed mappings for later large requests they fit
 * (struct gh_large_cache below): their pages stay resident, so reusing one
 * costs no mmap, no munmap and no page faults.  It is bounded (slots and
 * bytes), counted, and emptied by malloc_trim.
 *
 * The registry is not thread-safe: its user (front.c's steps, run by
 * malloc.c) holds the allocator lock around register/lookup/unregister; the
 * mapper calls themselves are made outside the lock (gh_large_map /
 * gh_large_unmap / gh_large_remap).
 */
#ifndef GH_LARGE_H
#define GH_LARGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "mapper.h"
#include "tree.h"

#define GH_LARGE_RECORD 48u
#define GH_LARGE_OVERHEAD (GH_LARGE_RECORD + GH_HEADER_SIZE)

#define GH_LARGE_RECYCLED 1u /* flags: the mapping came from the cache (not zero) */

struct gh_large_rec {
    uint64_t map_len;       /* the word 16 B before the node: the tree's "size" */
    uint64_t map_base;
    struct gh_tnode node;
    uint64_t flags;         /* GH_LARGE_RECYCLED */
};

struct gh_large {
    struct gh_tree tree;    /* BY_ADDR over records */
    uint64_t live_blocks, live_bytes, live_requested;
    uint64_t peak_bytes, peak_blocks;
    uint64_t changes;       /* moves with every register and unregister: the
                               segment's large-block list follows it (shm.h) */
    const void *recent_free[16]; /* to tell a double free from a wild pointer */
    unsigned recent_next;
};

void gh_large_init(struct gh_large *l);

/* ---- the cache of freed mappings ----------------------------------------
 * Up to GH_LARGE_CACHE_SLOTS mappings of at most GH_LARGE_CACHE_BYTES in
 * all.  A request takes the smallest cached mapping at least as long as it
 * needs and at most a third longer (so at least three quarters of it is
 * used).  A mapping put into a full cache takes the place of the oldest,
 * which is unmapped instead.  Each slot is one word (the mapping's base and
 * length in pages, packed) changed only by atomic compare-and-swap or
 * exchange, so a take (made without the allocator lock, like every mapper
 * call) and a put (made with it) need no lock of their own, and a word
 * taken is the caller's alone.  The counts are atomic, read without a lock. */
#define GH_LARGE_CACHE_SLOTS 4u
#define GH_LARGE_CACHE_BYTES ((size_t)2 << 20)

struct gh_large_cache {
    uint64_t slot[GH_LARGE_CACHE_SLOTS]; /* 0: empty */
    uint64_t blocks, bytes;              /* mappings kept now, and their bytes */
    uint64_t reused;                     /* requests served from the cache */
    uint64_t next;                       /* the slot a put into a full cache takes */
};

/* Lock held (one putter at a time): keep the freed mapping [base, base+len).
 * *unmap gets what the caller must unmap outside the lock: NULL, the
 * oldest mapping it replaced (*unmap_len bytes), or base itself when it is
 * not kept (too long, or no room within the byte bound). */
void gh_large_cache_put(struct gh_large_cache *c, void *base, size_t len, void **unmap, size_t *unmap_len);

/* No lock: a cached mapping for a request needing `need` bytes (page
 * multiple) into *base, *len; false when none fits. */
bool gh_large_cache_take(struct gh_large_cache *c, size_t need, void **base, size_t *len);

/* No lock: unmap every cached mapping through m; returns the bytes. */
size_t gh_large_cache_drain(struct gh_large_cache *c, const struct gh_mapper *m);

/* ---- blocks ---------------------------------------------------------------- */

/* Map a block for n bytes aligned to align (a power of two) through m;
 * fills the record and header.  Called WITHOUT the lock.  NULL on ENOMEM
 * (also when n or its mapping would pass GH_MAX_REQUEST). */
void *gh_large_map(const struct gh_mapper *m, size_t align, size_t n);

/* gh_large_map that first looks in cache c (NULL: none); a block made from
 * a cached mapping carries GH_LARGE_RECYCLED (its bytes are not zero). */
void *gh_large_map_cached(const struct gh_mapper *m, struct gh_large_cache *c, size_t align, size_t n);

/* Write the record and the header of a block of n bytes at payload inside
 * the mapping [map_base, map_base+len) (room for the record in front of
 * it is the caller's; harden.c lays out its guarded blocks with it). */
void *gh_large_setup(void *map_base, size_t len, void *payload, size_t n);

/* Registry operations (lock held). */
void gh_large_register(struct gh_large *l, void *p);
/* The record of p when p is a live large block; NULL otherwise. */
struct gh_large_rec *gh_large_find(const struct gh_large *l, const void *p);
/* Remove p (found by gh_large_find) from the registry and validate its
 * header (fatal when corrupt); returns the mapping to unmap. */
void gh_large_unregister(struct gh_large *l, struct gh_large_rec *r, const void *p, const char *fn,
                         void **base, size_t *len);
/* Does p lie inside a live large block's mapping without being its
 * payload (a pointer into the middle of it)? */
bool gh_large_inside(const struct gh_large *l, const void *p);
/* Was p freed recently (for the message on a second free)? */
bool gh_large_recently_freed(const struct gh_large *l, const void *p);

/* Unmap what gh_large_unregister returned.  Called WITHOUT the lock. */
void gh_large_unmap(const struct gh_mapper *m, void *base, size_t len);

/* Resize the mapping of p (already unregistered) to hold n bytes; returns
 * the new payload or NULL (mapping unchanged).  Called WITHOUT the lock. */
void *gh_large_remap(const struct gh_mapper *m, void *p, size_t n);

static inline struct gh_large_rec *gh_large_rec_of(const void *p)
{
    return (struct gh_large_rec *)((char *)p - GH_LARGE_OVERHEAD);
}

/* The record whose registry node is n, and the payload it describes (for
 * walks over the registry's tree). */
static inline struct gh_large_rec *gh_large_rec_of_node(const struct gh_tnode *n)
{
    return (struct gh_large_rec *)((char *)n - offsetof(struct gh_large_rec, node));
}

static inline void *gh_large_payload(const struct gh_large_rec *r)
{
    return (char *)r + GH_LARGE_OVERHEAD;
}

/* Does the large block p read as zero (a fresh mapping, not a cached one)? */
static inline bool gh_large_zeroed(const void *p)
{
    return !(gh_large_rec_of(p)->flags & GH_LARGE_RECYCLED);
}

/* Usable bytes of a large block: up to the end of its mapping. */
static inline size_t gh_large_usable(const void *p)
{
    const struct gh_large_rec *r = gh_large_rec_of(p);
    return (size_t)(r->map_base + r->map_len - (uintptr_t)p);
}

static inline size_t gh_large_requested(const void *p)
{
    return gh_block_requested(gh_block_of(p));
}

#endif
