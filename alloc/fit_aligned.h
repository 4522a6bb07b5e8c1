/* fit_aligned.h - the fit discipline's hints for finding freed aligned
 * blocks again (fit_aligned.c; the state is struct gh_heap's hints).
 * fit.c calls them with the heap's lock held, as every heap operation.
 */
#ifndef GH_FIT_ALIGNED_H
#define GH_FIT_ALIGNED_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"

/* A recently freed aligned block's place for a block of `size` bytes whose
 * payload is a multiple of align: the free block holding that place (*p
 * the payload to carve there), or NULL. */
struct gh_block *gh_fit_hint_find(struct gh_heap *h, size_t align, size_t size, uintptr_t *p);

/* An aligned block of `size` bytes was carved at payload p. */
void gh_fit_hint_made(struct gh_heap *h, char *p, size_t size);

/* Block b (payload p) was freed into free block f, absorbing next (NULL:
 * none): hints in any of them now lie in f. */
void gh_fit_hint_freed(struct gh_heap *h, const void *p, struct gh_block *b, struct gh_block *next,
                       struct gh_block *f);

#endif
