/* buddy.h - the buddy discipline's state and sizes (buddy.c implements
 * gh_discipline_buddy; heap.h holds this state in struct gh_heap).
 *
 * The block discipline: every block is 2^k bytes
 * (header included), k from GH_BUDDY_MIN_ORDER to max_order; a block at
 * offset off (from its region's first chunk) of order k has its buddy at
 *
 *     buddy(off, k) = off ^ 2^k
 *
 * e.g. with 64-byte blocks, the block at offset 0x1c0 has its buddy at
 * 0x1c0 ^ 0x40 = 0x180, and together they form the 128-byte block at 0x180.
 * A request takes the smallest order that holds it and its header; a larger
 * free block is split in halves (the upper half goes on the lower order's
 * list) until it has that order; a freed block merges with its free buddy of
 * the same order, repeatedly, up to max_order.
 *
 * A region is [region record 48 B][chunk 2^max][chunk 2^max]...; chunks never
 * merge with each other.  Aligned payloads (align > 16) sit inside a block
 * behind a proxy header flagged GH_FLAG_INNER whose size field is the
 * distance back to the block's own header (its requested field is all
 * ones); the block's own header is flagged GH_FLAG_INNER too, so its
 * standard payload position is not taken for a pointer.
 */
#ifndef GH_BUDDY_H
#define GH_BUDDY_H

#include <stddef.h>
#include <stdint.h>

/* Block sizes are powers of two from 2^GH_BUDDY_MIN_ORDER to 2^max_order;
 * one free list per order. */
#define GH_BUDDY_MIN_ORDER 5u   /* 32 B: header + list node */
#define GH_BUDDY_ORDERS    48u

struct gh_buddy_node {
    struct gh_buddy_node *next, *prev;
};

struct gh_buddy {
    unsigned max_order;                       /* chunk = 2^max_order */
    uint64_t nonempty;                        /* bit k: list k has blocks */
    struct gh_buddy_node *lists[GH_BUDDY_ORDERS];
    uint64_t count[GH_BUDDY_ORDERS];          /* free blocks per order */
};

struct gh_heap;

/* Smallest order of buddy heap h whose block holds n payload bytes; 0 when
 * none does. */
unsigned gh_buddy_order_for(const struct gh_heap *h, size_t n);

#endif
