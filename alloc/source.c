/* source.c - spans from the break, mmap, reservations, or a fixed arena.
 *
 * Owns: the choice between growing the break, falling back to an anonymous
 * mapping, and bumping an arena.  Never: touches a block or a header.
 * Invariant: every span returned is 16-byte aligned and zero or more pages.
 * Errors: running out (ENOMEM, or the break refusing to grow) is the
 * caller's NULL; any other mmap or munmap error means the allocator's own
 * bookkeeping is wrong and is fatal, one line naming the call and errno.
 */
#include "source.h"

#include <errno.h>
#include <stdint.h>

#include "block.h"
#include "error.h"
#include "os.h"

#define SPAN_ALIGN 16u

/* The owner table: one byte per granule of the 47-bit user address space
 * (2 MiB, mapped MAP_NORESERVE on the first reservation: only the pages of
 * granules in use are ever touched).  Written under the owning arena's
 * lock when a reservation is made, read without a lock. */
#define OWNER_SLOTS GH_SOURCE_OWNER_SLOTS
unsigned char *gh_source_owner_table;
#define owner_table gh_source_owner_table

/* Make the owner table (once; racing makers keep the first). */
static bool owner_table_ready(void)
{
    if (__atomic_load_n(&owner_table, __ATOMIC_ACQUIRE))
        return true;
    void *t;
    size_t len = OWNER_SLOTS, ps = gh_os_page_size();
    len = (len + ps - 1) & ~(ps - 1);
    if (gh_os_reserve(len, ps, &t) != 0)
        return false;
    unsigned char *none = NULL;
    if (!__atomic_compare_exchange_n(&owner_table, &none, (unsigned char *)t, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        gh_os_unmap(t, len);
    return true;
}

void gh_source_init_map(struct gh_source *s, unsigned owner)
{
    *s = (struct gh_source){ .kind = GH_SOURCE_MAP, .page = gh_os_page_size(), .owner = owner };
}

/* A fresh reservation for at least len bytes; its granules entered. */
static int grow_reserve(struct gh_source *s, size_t len, struct gh_span *out)
{
    size_t size;
    if (!owner_table_ready() || !gh_round_up(len, GH_SOURCE_GRANULE, &size) || size > ((size_t)1 << 46))
        return ENOMEM;
    void *p;
    int err = gh_os_reserve(size, GH_SOURCE_GRANULE, &p);
    if (err)
        return ENOMEM;
    uintptr_t first = (uintptr_t)p >> GH_SOURCE_GRANULE_SHIFT, n = size >> GH_SOURCE_GRANULE_SHIFT;
    for (uintptr_t i = 0; i < n && first + i < OWNER_SLOTS; i++)
        __atomic_store_n(&owner_table[first + i], (unsigned char)s->owner, __ATOMIC_RELEASE);
    s->resv_base = p;
    s->resv_end = (char *)p + size;
    s->resv_used = (char *)p + len;
    out->base = p;
    out->len = len;
    out->mapped = false; /* the heap grows and trims it in place, like the break */
    return 0;
}

static int grow_map(struct gh_source *s, char *end, size_t len, struct gh_span *out)
{
    if (s->resv_base && end == s->resv_used && len <= (size_t)(s->resv_end - s->resv_used)) {
        out->base = end;
        out->len = len;
        out->mapped = false;
        s->resv_used += len;
        return 0;
    }
    return grow_reserve(s, len, out);
}

/* Give back the tail [end - len, end) of the current reservation: its
 * whole pages are dropped (they read as zero when grown into again). */
static int shrink_map(struct gh_source *s, char *end, size_t len)
{
    if (!s->resv_base || end != s->resv_used || len > (size_t)(s->resv_used - s->resv_base))
        return EBUSY;
    uintptr_t lo = (uintptr_t)(end - len), hi = (uintptr_t)end, ps = s->page;
    lo = (lo + ps - 1) & ~(ps - 1);
    hi &= ~(ps - 1);
    if (hi > lo)
        gh_os_decommit((void *)lo, hi - lo);
    s->resv_used -= len;
    return 0;
}

void gh_source_init_break(struct gh_source *s)
{
    *s = (struct gh_source){ .kind = GH_SOURCE_BREAK, .page = gh_os_page_size() };
}

void gh_source_init_arena(struct gh_source *s, void *base, size_t size)
{
    uintptr_t b = (uintptr_t)base;
    uintptr_t a = (b + SPAN_ALIGN - 1) & ~(uintptr_t)(SPAN_ALIGN - 1);
    *s = (struct gh_source){ .kind = GH_SOURCE_ARENA, .page = SPAN_ALIGN };
    s->arena_base = (char *)a;
    s->arena_size = size > a - b ? (size - (a - b)) & ~(size_t)(SPAN_ALIGN - 1) : 0;
}

void gh_source_init_arena_paged(struct gh_source *s, void *base, size_t size, size_t page)
{
    gh_source_init_arena(s, base, size);
    if (page > SPAN_ALIGN && (page & (page - 1)) == 0)
        s->page = page;
}

void gh_source_decommit(struct gh_source *s, void *p, size_t len)
{
    if (s->kind != GH_SOURCE_ARENA && len)
        gh_os_decommit(p, len);
}

static int grow_arena(struct gh_source *s, size_t len, struct gh_span *out)
{
    if (len > s->arena_size - s->arena_used)
        return ENOMEM;
    out->base = s->arena_base + s->arena_used;
    out->len = len;
    out->mapped = false;
    s->arena_used += len;
    return 0;
}

static int grow_mapped(size_t len, struct gh_span *out)
{
    size_t ps = gh_os_page_size();
    if (len > SIZE_MAX - ps)
        return ENOMEM;
    len = (len + ps - 1) & ~(ps - 1);
    void *p;
    int err = gh_os_map(len, &p);
    if (err == ENOMEM)
        return ENOMEM;
    if (err)
        gh_fatal_errno("mmap", err, "for the heap span at", NULL);
    out->base = p;
    out->len = len;
    out->mapped = true;
    return 0;
}

static int grow_break(struct gh_source *s, char *end, size_t len, struct gh_span *out)
{
    if (len > (size_t)INTPTR_MAX - SPAN_ALIGN)
        return ENOMEM;
    char *cur = gh_os_brk_current();
    size_t pad = 0;
    if (cur != end) {
        if (end)
            s->foreign_moves++;
        pad = (SPAN_ALIGN - ((uintptr_t)cur & (SPAN_ALIGN - 1))) & (SPAN_ALIGN - 1);
    }
    void *old;
    if (gh_os_sbrk((intptr_t)(len + pad), &old) == 0) {
        if ((char *)old != cur) {
            /* The break moved between the two calls (another thread outside
             * the allocator called sbrk): keep what we got as a fresh span. */
            size_t p2 = (SPAN_ALIGN - ((uintptr_t)old & (SPAN_ALIGN - 1))) & (SPAN_ALIGN - 1);
            out->base = (char *)old + p2;
            out->len = (len + pad - p2) & ~(size_t)(SPAN_ALIGN - 1);
        } else {
            out->base = (char *)old + pad;
            out->len = len;
        }
        out->mapped = false;
        return 0;
    }
    s->brk_failures++;
    return grow_mapped(len, out);
}

int gh_source_grow(struct gh_source *s, char *end, size_t len, struct gh_span *out)
{
    if (s->kind == GH_SOURCE_ARENA)
        return grow_arena(s, len, out);
    if (s->kind == GH_SOURCE_MAP)
        return grow_map(s, end, len, out);
    return grow_break(s, end, len, out);
}

int gh_source_shrink(struct gh_source *s, char *end, size_t len)
{
    if (s->kind == GH_SOURCE_MAP)
        return shrink_map(s, end, len);
    if (s->kind == GH_SOURCE_ARENA) {
        if (s->grow_only || s->arena_base + s->arena_used != end || len > s->arena_used)
            return EBUSY;
        s->arena_used -= len;
        return 0;
    }
    if ((char *)gh_os_brk_current() != end || len > (size_t)INTPTR_MAX)
        return EBUSY;
    void *old;
    return gh_os_sbrk(-(intptr_t)len, &old) == 0 ? 0 : EBUSY;
}

int gh_source_release(struct gh_source *s, const struct gh_span *span)
{
    (void)s;
    int err = gh_os_unmap(span->base, span->len);
    if (err)
        gh_fatal_errno("munmap", err, "for the heap span at", span->base);
    return 0;
}
