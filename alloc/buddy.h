/* buddy.h - the binary buddy heap (internal to heap.c's dispatch).
 *
 * Same heap interface, different block discipline: every block is 2^k bytes
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
 * distance back to the block's own header.
 */
#ifndef GH_BUDDY_H
#define GH_BUDDY_H

#include "heap.h"

void *gh_buddy_alloc(struct gh_heap *h, size_t align, size_t n);
struct gh_block *gh_buddy_block(struct gh_heap *h, const void *p, const char *fn);
void gh_buddy_free(struct gh_heap *h, void *p, const char *fn);
bool gh_buddy_resize(struct gh_heap *h, void *p, size_t n, const char *fn);
size_t gh_buddy_usable(const struct gh_heap *h, const void *p);
size_t gh_buddy_trim(struct gh_heap *h);
void gh_buddy_walk(const struct gh_heap *h, bool (*fn)(void *ctx, const struct gh_block_info *b), void *ctx);
bool gh_buddy_check(const struct gh_heap *h, const char **why, const void **where);
size_t gh_buddy_largest_free(const struct gh_heap *h);
size_t gh_buddy_free_blocks(const struct gh_heap *h);

/* Smallest order whose block holds n payload bytes; 0 when none does. */
unsigned gh_buddy_order_for(const struct gh_heap *h, size_t n);

#endif
