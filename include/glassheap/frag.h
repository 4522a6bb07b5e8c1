/* glassheap/frag.h - the fragmentation figures, defined once.
 *
 * DESIGN.md's definitions as (part, whole) pairs of byte counts, so the
 * allocator (which prints without floating-point formatting) and the tools
 * (which print doubles) compute the same figure from the same counters:
 *
 *   internal fragmentation  1 - live requested / live block bytes
 *                           = (block - requested) / block
 *   external fragmentation  1 - largest free block / free bytes
 *                           = (free - largest) / free
 *   utilisation             live requested / heap bytes
 *   peak utilisation        peak requested / peak heap bytes
 *
 * A pair whose whole is 0 has no value: gh_frag_value gives 0 for it and
 * a printer may show "-".  Inputs from another process's segment are not
 * trusted: a part larger than its whole is clamped, never negative.
 */
#ifndef GLASSHEAP_FRAG_H
#define GLASSHEAP_FRAG_H

#include <stdint.h>

struct gh_frag_ratio {
    uint64_t part, whole;
};

static inline struct gh_frag_ratio gh_frag_ratio_of(uint64_t part, uint64_t whole)
{
    struct gh_frag_ratio r = { part <= whole ? part : whole, whole };
    return r;
}

/* 1 - live_requested / live_block_bytes */
static inline struct gh_frag_ratio gh_frag_internal(uint64_t live_requested, uint64_t live_block_bytes)
{
    uint64_t waste = live_block_bytes > live_requested ? live_block_bytes - live_requested : 0;
    return gh_frag_ratio_of(waste, live_block_bytes);
}

/* 1 - largest_free / free_bytes */
static inline struct gh_frag_ratio gh_frag_external(uint64_t largest_free, uint64_t free_bytes)
{
    uint64_t rest = free_bytes > largest_free ? free_bytes - largest_free : 0;
    return gh_frag_ratio_of(rest, free_bytes);
}

/* live_requested / heap_bytes (also the peak form: peak requested / peak heap) */
static inline struct gh_frag_ratio gh_frag_utilisation(uint64_t requested, uint64_t heap_bytes)
{
    return gh_frag_ratio_of(requested, heap_bytes);
}

/* The ratio as a fraction in [0, 1]; 0 when the whole is 0. */
static inline double gh_frag_value(struct gh_frag_ratio r)
{
    return r.whole ? (double)r.part / (double)r.whole : 0.0;
}

#endif
