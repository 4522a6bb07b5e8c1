/* block.h - boundary-tag blocks.
 *
 * Owns: the block header and footer, alignment, the size of a block for a
 * request, and the header check.  Never: chooses a free block (policy) or
 * talks to the OS.
 *
 *   block start (16-byte aligned)
 *   +0   word  check_a | size | flags
 *                bits 0-3    flags:
 *                              FREE       this block is free
 *                              PREV_FREE  the block before is free, so the
 *                                         word just before this header is
 *                                         its footer
 *                              MMAPPED    a large block from mmap
 *                              INNER      (buddy) proxy header of an aligned
 *                                         payload inside a block, or the
 *                                         header of a block that has one
 *                bits 4-47   size of the whole block, a multiple of 16
 *                bits 48-63  check_a: 16 bits of the header's check
 *   +8   word  arena | check_b | requested
 *                bits 0-47   requested size (in a free block: GH_FREED_BY_CALL
 *                            when a free() at this address made it, else 0;
 *                            a freed block merged into the one before keeps
 *                            its header, poisoned: gh_block_poison)
 *                bits 48-55  check_b: 8 more bits of the check
 *                bits 56-63  owning arena (reserved: 0 until there are arenas)
 *   +16  payload  ... what malloc returns (16-byte aligned)
 *        free blocks keep their index node here (struct gh_tnode, 24 bytes)
 *   end-8 word footer              free blocks only: a copy of word 0
 *
 * The check (24 bits, check_a:check_b) is a keyed hash of everything else in
 * the header - size, all four flags, requested size, arena - and of the
 * header's address, under the per-process secret: a header copied to another
 * address, or with any bit changed, fails it (but for 1 in 2^24) unless the
 * writer knows the secret.  So every write of a header goes through
 * gh_block_set / gh_block_set_flags, which recompute it; flipping FREE or
 * PREV_FREE is a new check too.  A header is verified (gh_block_valid)
 * before it is trusted or rewritten: rewriting an unverified header would
 * give a forged size a valid check.
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
#define GH_SIZE_BITS      48
#define GH_SIZE_MASK      (((((uint64_t)1) << GH_SIZE_BITS) - 1) & ~GH_FLAG_MASK)
#define GH_CHECK_A_MASK   (~((((uint64_t)1) << GH_SIZE_BITS) - 1)) /* word 0, bits 48-63 */

#define GH_REQ_BITS   48
#define GH_REQ_MASK   ((((uint64_t)1) << GH_REQ_BITS) - 1)
#define GH_CHECK_B_MASK ((uint64_t)0xff << GH_REQ_BITS)            /* word 1, bits 48-55 */
#define GH_ARENA_MASK   ((uint64_t)0xff << (GH_REQ_BITS + 8))      /* word 1, bits 56-63 */

/* The requested field of a free block that a free() at its address made
 * (0: split off, grown or trimmed - no call ever had this payload since). */
#define GH_FREED_BY_CALL ((size_t)1)

/* Largest request the heap layer accepts; larger ones fail with ENOMEM
 * (the front end also refuses anything above PTRDIFF_MAX).  The margin keeps
 * a block for it - header, large-block record, page rounding - inside the
 * 48-bit size field. */
#define GH_MAX_REQUEST (GH_REQ_MASK - (((uint64_t)1) << 24))

struct gh_block {
    uint64_t size_flags;
    uint64_t tag;
};

/* The library's own globals: reached without the GOT in the shared library
 * (whose definitions are hidden anyway). */
#define GH_HIDDEN __attribute__((visibility("hidden")))

/* Set once at start-up from AT_RANDOM (gh_block_set_secret); a zero
 * secret is legal (tests).  gh_block_flag_key: the check's word for each
 * combination of the four flags, drawn from the secret (fixed distinct
 * words until it is set). */
extern uint64_t gh_block_secret GH_HIDDEN;
extern uint64_t gh_block_flag_key[16] GH_HIDDEN;
void gh_block_set_secret(uint64_t secret);

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

/* The keyed hash of a header at b with words w0, w1 (their check bits
 * ignored).  The header's address under the secret goes through a
 * multiply; the size (shifted left 16, which drops check_a) joins before a
 * second; the requested word (rotated so that check_b falls off: arena and
 * requested size, 56 bits) before a third, whose top 24 bits are the
 * check.  Each input enters after a multiply of everything before it and
 * the secret, so a change in one cannot be made up by a change in another
 * without knowing the secret (a header copied to another address, or with
 * a size and a requested size both changed, fails).  The four flags enter
 * last, as a word of their own drawn from the secret
 * (gh_block_flag_key[flags]): a flag changes in place with one xor of the
 * check (gh_block_set_flags), no hash, and a flag flipped by a program
 * still needs the secret to match.  One mask, two 32-bit multipliers, one
 * 64-bit: a dozen instructions. */
static inline uint64_t gh_block_mac(const struct gh_block *b, uint64_t w0, uint64_t w1)
{
#ifdef GH_UNCHECKED
    /* The benchmarks' unchecked library (alloc/CMakeLists.txt): no check
     * bits, so every header passes; only a poisoned one still fails. */
    (void)b, (void)w0, (void)w1;
    return 0;
#endif
    uint64_t h = ((uint64_t)(uintptr_t)b ^ gh_block_secret) * 0x7feb352du;
    h = (h ^ ((w0 & GH_SIZE_MASK) << 16)) * 0x5bd1e995u;
    uint64_t y = ((w1 << 8) | (w1 >> 56)) << 8; /* arena | requested; check_b gone */
    return ((h ^ y) * 0xbf58476d1ce4e5b9ULL) ^ gh_block_flag_key[w0 & GH_FLAG_MASK];
}

/* Write a header: size word (flags included; any check bits in it are
 * ignored) and requested size, with a fresh check. */
static inline void gh_block_set(struct gh_block *b, uint64_t size_flags, size_t requested)
{
    uint64_t w0 = size_flags & (GH_SIZE_MASK | GH_FLAG_MASK);
    uint64_t w1 = (uint64_t)requested & GH_REQ_MASK;
    uint64_t m = gh_block_mac(b, w0, w1);
    b->size_flags = w0 | (m & GH_CHECK_A_MASK);
    b->tag = w1 | (((m >> 40) << GH_REQ_BITS) & GH_CHECK_B_MASK);
}

/* True when the words w0, w1 read from the header at b carry its check:
 * check_a, w0's top 16 bits, against the mac's; check_b, w1's bits 48-55,
 * against the mac's bits 40-47 (m << 8 lines them up).  For a caller that
 * read the words itself (without the lock: small_check.h). */
static inline bool gh_block_words_valid(const struct gh_block *b, uint64_t w0, uint64_t w1)
{
    uint64_t m = gh_block_mac(b, w0, w1);
    return ((w0 ^ m) >> 48 | (uint8_t)((w1 ^ (m << 8)) >> 48)) == 0;
}

/* True when b's check matches the rest of its header. */
static inline bool gh_block_valid(const struct gh_block *b)
{
    return gh_block_words_valid(b, b->size_flags, b->tag);
}

/* A header left behind inside a larger free block when its block merged
 * into the one before (a free() released it) is poisoned: one check bit
 * flipped, so it fails gh_block_valid - it cannot be mistaken for a block -
 * and yet reads as "freed" to gh_block_poisoned.  One store, no hash. */
#define GH_POISON_BIT ((uint64_t)1 << GH_REQ_BITS)

static inline void gh_block_poison(struct gh_block *b)
{
    b->tag ^= GH_POISON_BIT;
}

static inline bool gh_block_poisoned(const struct gh_block *b)
{
    uint64_t w0 = b->size_flags, w1 = b->tag;
    uint64_t m = gh_block_mac(b, w0, w1);
    return ((w0 ^ m) >> 48 | (uint8_t)((w1 ^ (m << 8) ^ GH_POISON_BIT) >> 48)) == 0;
}

static inline size_t gh_block_requested(const struct gh_block *b)
{
    return (size_t)(b->tag & GH_REQ_MASK);
}

/* Change the flags of a (verified) header in place, keeping its size and
 * requested size: the check moves by the two flag words' difference, so a
 * header that was sound stays sound and one that was not stays caught. */
static inline void gh_block_set_flags(struct gh_block *b, uint64_t set, uint64_t clear)
{
    uint64_t w0 = b->size_flags, f0 = w0 & GH_FLAG_MASK, f1 = ((f0 & ~clear) | set) & GH_FLAG_MASK;
#ifdef GH_UNCHECKED
    uint64_t d = 0;
#else
    uint64_t d = gh_block_flag_key[f0] ^ gh_block_flag_key[f1];
#endif
    b->size_flags = (w0 ^ f0 ^ f1) ^ (d & GH_CHECK_A_MASK);
    b->tag ^= ((d >> 40) << GH_REQ_BITS) & GH_CHECK_B_MASK;
}

static inline void gh_block_set_requested(struct gh_block *b, size_t requested)
{
    gh_block_set(b, b->size_flags, requested);
}

/* Write the footer of free block b: a copy of its word 0. */
static inline void gh_block_set_footer(struct gh_block *b)
{
    *gh_block_footer(b) = b->size_flags;
}

#endif
