/* block.h - boundary-tag blocks.
 *
 * Owns: the block header and footer, alignment, the size of a block for a
 * request, and the header check.  Never: chooses a free block (policy) or
 * talks to the OS.
 *
 *   block start (16-byte aligned)
 *   +0   word  size | flags        size of the whole block, a multiple of 16;
 *                                  flags in the low 4 bits:
 *                                    FREE       this block is free
 *                                    PREV_FREE  the block before is free, so
 *                                               the word just before this
 *                                               header is its footer
 *                                    MMAPPED    a large block from mmap
 *                                    INNER      (buddy) proxy header of an
 *                                               aligned payload inside a block
 *   +8   word  tag                 requested size (low 48 bits) and a 16-bit
 *                                  check (high bits) = hash(address, size
 *                                  word, per-process secret)
 *   +16  payload  ... what malloc returns (16-byte aligned)
 *        free blocks keep their index node here (struct gh_tnode, 24 bytes)
 *   end-8 word footer              free blocks only: a copy of the size word
 *
 *   A region of the heap is [region record][block][block]...[end marker]
 *   where the end marker is a 16-byte in-use header of size 0: walking by
 *   size stops there and coalescing never crosses it.
 *
 * Vital statistics: alignment 16; header 16 bytes; minimum block 48 bytes
 * (header + index node + footer), so malloc(0..32) takes 48 bytes and gives
 * 32 usable; a block for n bytes is max(48, round_up(n + 16, 16)).
 */
#ifndef GH_BLOCK_H
#define GH_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_ALIGN        16u
#define GH_HEADER_SIZE  16u
#define GH_FOOTER_SIZE  8u
#define GH_NODE_SIZE    24u   /* struct gh_tnode */
#define GH_MIN_BLOCK    48u   /* header + node + footer, rounded to GH_ALIGN */

#define GH_FLAG_FREE      ((uint64_t)1)
#define GH_FLAG_PREV_FREE ((uint64_t)2)
#define GH_FLAG_MMAPPED   ((uint64_t)4)
#define GH_FLAG_INNER     ((uint64_t)8)  /* buddy: a proxy header in front of an
                                            aligned payload; its size field is
                                            the distance back to the block */
#define GH_FLAG_MASK      ((uint64_t)15)
#define GH_SIZE_MASK      (~GH_FLAG_MASK)

#define GH_REQ_BITS   48
#define GH_REQ_MASK   ((((uint64_t)1) << GH_REQ_BITS) - 1)

/* Largest request the heap layer accepts; larger ones fail with ENOMEM
 * (the front end also refuses anything above PTRDIFF_MAX). */
#define GH_MAX_REQUEST (GH_REQ_MASK - 2 * GH_MIN_BLOCK)

struct gh_block {
    uint64_t size_flags;
    uint64_t tag;
};

/* Set once at start-up from AT_RANDOM; a zero secret is legal (tests). */
extern uint64_t gh_block_secret;

static inline size_t gh_block_size(const struct gh_block *b)
{
    return (size_t)(b->size_flags & GH_SIZE_MASK);
}

static inline bool gh_block_is_free(const struct gh_block *b)
{
    return (b->size_flags & GH_FLAG_FREE) != 0;
}

static inline bool gh_block_prev_free(const struct gh_block *b)
{
    return (b->size_flags & GH_FLAG_PREV_FREE) != 0;
}

static inline void *gh_block_payload(struct gh_block *b)
{
    return (char *)b + GH_HEADER_SIZE;
}

static inline struct gh_block *gh_block_of(const void *payload)
{
    return (struct gh_block *)((char *)payload - GH_HEADER_SIZE);
}

static inline struct gh_block *gh_block_next(const struct gh_block *b)
{
    return (struct gh_block *)((char *)b + gh_block_size(b));
}

/* The block that would follow b if b were `size` bytes long. */
static inline struct gh_block *gh_block_next_of_size(const struct gh_block *b, size_t size)
{
    return (struct gh_block *)((char *)b + size);
}

/* The footer word of b: its last 8 bytes. */
static inline uint64_t *gh_block_footer(const struct gh_block *b)
{
    return (uint64_t *)((char *)b + gh_block_size(b) - GH_FOOTER_SIZE);
}

/* The block before b; only valid when gh_block_prev_free(b). */
static inline struct gh_block *gh_block_prev(const struct gh_block *b)
{
    uint64_t prev_size = ((const uint64_t *)b)[-1] & GH_SIZE_MASK;
    return (struct gh_block *)((char *)b - prev_size);
}

/* Round n up to a multiple of a power-of-two a; false on overflow. */
static inline bool gh_round_up(size_t n, size_t a, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(n, a - 1, &r))
        return false;
    *out = r & ~(a - 1);
    return true;
}

/* Block size that holds a request of n bytes, or 0 when n is too large. */
static inline size_t gh_block_size_for(size_t n)
{
    size_t s;
    if (n > GH_MAX_REQUEST || !gh_round_up(n + GH_HEADER_SIZE, GH_ALIGN, &s))
        return 0;
    return s < GH_MIN_BLOCK ? GH_MIN_BLOCK : s;
}

/* The 16-bit check of a header at address b with size word w: the top
 * bits of a multiplicative hash (they depend on every bit of the input). */
static inline uint64_t gh_block_check_bits(const struct gh_block *b, uint64_t w)
{
    uint64_t x = (uint64_t)(uintptr_t)b ^ (w & ~GH_FLAG_FREE & ~GH_FLAG_PREV_FREE) ^ gh_block_secret;
    return (x * 0x9e3779b97f4a7c15ULL) & ~GH_REQ_MASK;
}

/* Write a header: size word and tag (requested size + check).  The check
 * covers the size and the MMAPPED flag, not FREE/PREV_FREE, so flipping
 * those does not need a new tag. */
static inline void gh_block_set(struct gh_block *b, uint64_t size_flags, size_t requested)
{
    b->size_flags = size_flags;
    b->tag = ((uint64_t)requested & GH_REQ_MASK) | gh_block_check_bits(b, size_flags);
}

/* True when b's tag carries the right check for its size word. */
static inline bool gh_block_valid(const struct gh_block *b)
{
    return (b->tag & ~GH_REQ_MASK) == gh_block_check_bits(b, b->size_flags);
}

static inline size_t gh_block_requested(const struct gh_block *b)
{
    return (size_t)(b->tag & GH_REQ_MASK);
}

static inline void gh_block_set_requested(struct gh_block *b, size_t requested)
{
    b->tag = (b->tag & ~GH_REQ_MASK) | ((uint64_t)requested & GH_REQ_MASK);
}

/* Mark b free/used in place, keeping its size and check; write the footer
 * of a free block; set or clear the next block's PREV_FREE flag. */
static inline void gh_block_mark_free(struct gh_block *b)
{
    b->size_flags |= GH_FLAG_FREE;
    *gh_block_footer(b) = b->size_flags;
    gh_block_next(b)->size_flags |= GH_FLAG_PREV_FREE;
}

static inline void gh_block_mark_used(struct gh_block *b)
{
    b->size_flags &= ~GH_FLAG_FREE;
    gh_block_next(b)->size_flags &= ~GH_FLAG_PREV_FREE;
}

#endif
