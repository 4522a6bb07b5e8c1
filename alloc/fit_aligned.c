/* fit_aligned.c - the fit discipline's hints for aligned blocks
 * (fit_aligned.h).
 *
 * An aligned request first takes back the place of a recently freed
 * aligned block of the same block size and alignment, when that place is
 * still free (glibc's memalign looks for an aligned chunk in its bins the
 * same way); otherwise the policy chooses, asking for room for the worst
 * alignment slack.  Without this the freed block, merged with the slack in
 * front of it, is a hole the slack-padded request never fits, and a policy
 * search picks another spot.
 *
 * Owns: the last GH_ALIGNED_HINTS aligned blocks a fit heap made, the free
 * blocks that took them in, and the check that such a place is still free.
 * The hints are addresses, never trusted: a hint's free block must lie in a
 * region of this heap, carry a valid free header and be in the index.
 * Never: carves, merges or indexes a block (fit.c does).
 */
#include "fit_aligned.h"

#include "region.h"

/* The free block hint x says took in its payload, if it still does and the
 * payload and its block fit in it as it lay (gap 0 or a minimum block). */
static struct gh_block *hint_block(const struct gh_heap *h, const struct gh_aligned_hint *x, size_t size)
{
    struct gh_block *f = x->free_in;
    if (!f || !gh_region_owns(h, f) || !gh_block_valid(f) || !gh_block_is_free(f)
        || !gh_policy_contains(&h->policy, f))
        return NULL;
    uintptr_t start = (uintptr_t)x->payload - GH_HEADER_SIZE, end = (uintptr_t)f + gh_block_size(f);
    size_t gap = start - (uintptr_t)f;
    if (start < (uintptr_t)f || (gap != 0 && gap < GH_MIN_BLOCK) || start + size > end)
        return NULL;
    return f;
}

/* A freed aligned block's place for `size` bytes aligned to `align`: the
 * free block holding it (*p its payload), or NULL. */
struct gh_block *gh_fit_hint_find(struct gh_heap *h, size_t align, size_t size, uintptr_t *p)
{
    for (unsigned i = 0; i < GH_ALIGNED_HINTS; i++) {
        struct gh_aligned_hint *x = &h->hints[i];
        if (x->size != size || ((uintptr_t)x->payload & (align - 1)))
            continue;
        struct gh_block *f = hint_block(h, x, size);
        if (f) {
            *p = (uintptr_t)x->payload;
            return f;
        }
    }
    return NULL;
}

/* An aligned block (payload p, block size) was made: remember it, live. */
void gh_fit_hint_made(struct gh_heap *h, char *p, size_t size)
{
    unsigned i = 0;
    while (i < GH_ALIGNED_HINTS && h->hints[i].payload != p)
        i++;
    if (i == GH_ALIGNED_HINTS)
        i = h->hint_next++ % GH_ALIGNED_HINTS;
    h->hints[i] = (struct gh_aligned_hint){ p, size, NULL };
}

/* Block b (payload p) was freed into free block f, absorbing next (when
 * not NULL): hints in any of them now lie in f. */
void gh_fit_hint_freed(struct gh_heap *h, const void *p, struct gh_block *b, struct gh_block *next,
                       struct gh_block *f)
{
    for (unsigned i = 0; i < GH_ALIGNED_HINTS; i++) {
        struct gh_aligned_hint *x = &h->hints[i];
        if (x->payload == p || (x->free_in && (x->free_in == b || x->free_in == next)))
            x->free_in = f;
    }
}

