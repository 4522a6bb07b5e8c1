/* mapper.h - where large blocks get their mappings.
 *
 * A mapper is a small table of functions over whole pages: map a fresh
 * zero-filled read/write span, unmap one, resize one (it may move).  The
 * large-block layout (large.c) runs over a mapper and never calls the OS
 * itself, so the same layout serves two kinds:
 *   gh_mapper_os      the process's real mappings (os.c: gh_os_map,
 *                     gh_os_unmap, gh_os_remap), used by the preloaded
 *                     library;
 *   gh_mapper_counted the same mappings, counted (calls, bytes held now and
 *                     at most), for glassheap replay and the unit tests.
 * Mappers never allocate and never take a lock: they are called outside
 * the allocator lock.  Lengths are multiples of the page size.
 */
#ifndef GH_MAPPER_H
#define GH_MAPPER_H

#include <stddef.h>
#include <stdint.h>

struct gh_mapper {
    /* A fresh mapping of len bytes; 0 and *out, or ENOMEM. */
    int (*map)(void *ctx, size_t len, void **out);
    /* Give back [p, p+len).  0 or an errno value. */
    int (*unmap)(void *ctx, void *p, size_t len);
    /* Resize the mapping at p from oldlen to newlen bytes, moving it when
     * it cannot stay; 0 and *out, or ENOMEM (mapping unchanged). */
    int (*remap)(void *ctx, void *p, size_t oldlen, size_t newlen, void **out);
    void *ctx;
};

/* The real one: os.c's calls. */
extern const struct gh_mapper gh_mapper_os;

/* What a counted mapper saw. */
struct gh_mapper_counts {
    uint64_t maps, unmaps, remaps, failures;
    uint64_t bytes, peak_bytes;   /* mapped now, and the most at once */
};

/* A mapper over os.c that counts into *counts (zeroed here). */
void gh_mapper_counted(struct gh_mapper *m, struct gh_mapper_counts *counts);

#endif
