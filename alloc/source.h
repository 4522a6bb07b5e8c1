/* source.h - where a heap instance gets its memory.
 *
 * Two kinds:
 *   GH_SOURCE_BREAK  the process break (the real heap).  When the break
 *                    cannot grow (RLIMIT_DATA, a mapping in the way, a test
 *                    hook) the request is served by an anonymous mmap
 *                    region instead; when another library moved the break,
 *                    the span simply starts where the break now is.
 *   GH_SOURCE_ARENA  a fixed buffer given by the caller (tests, trace
 *                    replay, simulations); bump-allocated, never mmap.
 *   GH_SOURCE_MAP    reservations of whole GH_SOURCE_GRANULEs (64 MiB,
 *                    aligned to it, MAP_NORESERVE: only touched pages cost
 *                    memory) for an arena other than the main one.  It
 *                    grows in place inside the current reservation (as the
 *                    break does, shrinking by giving the tail's pages back
 *                    with madvise) and starts a new reservation when that
 *                    is full.  Every granule of a reservation is entered in
 *                    the owner table under the source's owner number, so
 *                    gh_source_owner(p) finds the arena of any address in
 *                    O(1) without a lock; reservations are never unmapped.
 *
 * A source hands out spans and takes back the tail of the last one; it knows
 * nothing about blocks.  Every span is 16-byte aligned.
 */
#ifndef GH_SOURCE_H
#define GH_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"

enum gh_source_kind { GH_SOURCE_BREAK, GH_SOURCE_ARENA, GH_SOURCE_MAP };

#define GH_SOURCE_GRANULE_SHIFT 26u
#define GH_SOURCE_GRANULE       ((size_t)1 << GH_SOURCE_GRANULE_SHIFT)
#define GH_SOURCE_OWNERS_MAX    255u /* owner numbers 1..255 (0: none) */

struct gh_source {
    enum gh_source_kind kind;
    size_t page;  /* growth/trim unit: the OS page, or 16 for a plain arena */
    /* ARENA */
    char *arena_base;
    size_t arena_size, arena_used;
    bool grow_only;  /* ARENA: gh_source_shrink refuses (EBUSY): a heap over
                      * it never gives memory back, like the malloc-lab
                      * driver's mem_sbrk (glassheap replay --model exact) */
    /* BREAK: counts of fallbacks and foreign break moves seen */
    size_t brk_failures, foreign_moves;
    /* MAP: the current reservation [resv_base, resv_end), in use up to
     * resv_used; the owner number entered for its granules */
    char *resv_base, *resv_end, *resv_used;
    unsigned owner;
};

struct gh_span {
    char *base;
    size_t len;
    bool mapped; /* from mmap: give it back with gh_source_release() */
};

void gh_source_init_break(struct gh_source *s);

/* An arena over [base, base+size); base is aligned up to 16 here. */
void gh_source_init_arena(struct gh_source *s, void *base, size_t size);

/* An arena that rounds growth and trimming to `page` (a power of two) the
 * way the break does, so a simulation over it grows exactly as the
 * preloaded library would. */
void gh_source_init_arena_paged(struct gh_source *s, void *base, size_t size, size_t page);

/* Spans from reservations entered under owner (1..GH_SOURCE_OWNERS_MAX). */
void gh_source_init_map(struct gh_source *s, unsigned owner);

/* The owner table (source.c): one byte per granule of the 47-bit address
 * space, made on the first reservation (NULL before). */
#define GH_SOURCE_OWNER_SLOTS ((uintptr_t)1 << (47 - GH_SOURCE_GRANULE_SHIFT))
extern unsigned char *gh_source_owner_table GH_HIDDEN;

/* The owner number of the MAP source whose reservation holds p; 0 when no
 * MAP source holds it (the break, a large block, not ours).  Lock-free. */
static inline unsigned gh_source_owner(const void *p)
{
    unsigned char *t = __atomic_load_n(&gh_source_owner_table, __ATOMIC_ACQUIRE);
    uintptr_t slot = (uintptr_t)p >> GH_SOURCE_GRANULE_SHIFT;
    if (!t || slot >= GH_SOURCE_OWNER_SLOTS)
        return 0;
    return __atomic_load_n(&t[slot], __ATOMIC_RELAXED);
}

/* The unit a heap rounds growth and trimming to (see struct gh_source). */
static inline size_t gh_source_page(const struct gh_source *s)
{
    return s->page;
}

/* Drop the pages of [p, p+len) (page aligned) while keeping the range
 * reserved: madvise for the break, nothing for an arena. */
void gh_source_decommit(struct gh_source *s, void *p, size_t len);

/* At least `len` bytes (len a multiple of 16).  When `end` is not NULL and
 * the memory can continue exactly at `end` (the end of the caller's last
 * span from this source), out->base == end.  0, or ENOMEM (nothing changed);
 * fatal on an mmap error other than ENOMEM.  Page rounding is the caller's
 * choice; a mapped span is page rounded here. */
int gh_source_grow(struct gh_source *s, char *end, size_t len, struct gh_span *out);

/* Give back [end-len, end), the tail of the last span from the break or the
 * arena.  0; EBUSY when the break is no longer at `end` (someone else moved
 * it) or the arena is grow_only, nothing released. */
int gh_source_shrink(struct gh_source *s, char *end, size_t len);

/* Give back a whole mapped span.  0; fatal when munmap fails (the span is
 * not one this source mapped). */
int gh_source_release(struct gh_source *s, const struct gh_span *span);

#endif
