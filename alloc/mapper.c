/* mapper.c - the two large-block mappers (mapper.h).
 *
 * Owns: the real mapper (a thin door to os.c) and the counted one (the same
 * calls, with counts of calls and bytes).  Never: lays anything out in a
 * mapping (large.c) or calls the OS except through os.c.
 */
#include "mapper.h"

#include <string.h>

#include "os.h"

static int os_map(void *ctx, size_t len, void **out)
{
    (void)ctx;
    return gh_os_map(len, out);
}

static int os_unmap(void *ctx, void *p, size_t len)
{
    (void)ctx;
    return gh_os_unmap(p, len);
}

static int os_remap(void *ctx, void *p, size_t oldlen, size_t newlen, void **out)
{
    (void)ctx;
    return gh_os_remap(p, oldlen, newlen, /* may_move */ 1, out);
}

const struct gh_mapper gh_mapper_os = { os_map, os_unmap, os_remap, NULL };

static void note_bytes(struct gh_mapper_counts *c)
{
    if (c->bytes > c->peak_bytes)
        c->peak_bytes = c->bytes;
}

static int counted_map(void *ctx, size_t len, void **out)
{
    struct gh_mapper_counts *c = ctx;
    int err = gh_os_map(len, out);
    if (err) {
        c->failures++;
        return err;
    }
    c->maps++;
    c->bytes += len;
    note_bytes(c);
    return 0;
}

static int counted_unmap(void *ctx, void *p, size_t len)
{
    struct gh_mapper_counts *c = ctx;
    int err = gh_os_unmap(p, len);
    if (err) {
        c->failures++;
        return err;
    }
    c->unmaps++;
    c->bytes -= len;
    return 0;
}

static int counted_remap(void *ctx, void *p, size_t oldlen, size_t newlen, void **out)
{
    struct gh_mapper_counts *c = ctx;
    int err = gh_os_remap(p, oldlen, newlen, /* may_move */ 1, out);
    if (err) {
        c->failures++;
        return err;
    }
    c->remaps++;
    c->bytes = c->bytes - oldlen + newlen;
    note_bytes(c);
    return 0;
}

void gh_mapper_counted(struct gh_mapper *m, struct gh_mapper_counts *counts)
{
    memset(counts, 0, sizeof *counts);
    *m = (struct gh_mapper){ counted_map, counted_unmap, counted_remap, counts };
}
