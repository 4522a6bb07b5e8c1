/* tcache.c - the per-thread caches' registry, flush and sums (tcache.h).
 *
 * Owns: the list of live caches and the counts of exited threads, under
 * the registry lock.  The fast paths (put, take) are inline in tcache.h.
 */
#include "tcache.h"

#include <stddef.h>
#include <string.h>

#include "lock.h"

static int registry_lock;
static struct gh_tcache *registry;      /* live caches */
static struct gh_tcache_counts exited_own;
static struct gh_tcache_counts *exited = &exited_own; /* exited threads (and orphans of a
                                                        * fork): here or in place */
/* The segment's cache entries (gh_tcache_place; NULL: none) */
static struct gh_shm_live_cache *entries;
static unsigned nentries;
static uint64_t *unplaced;

static void add_counts(struct gh_tcache_counts *a, const struct gh_tcache_counts *b)
{
    a->blocks += __atomic_load_n(&b->blocks, __ATOMIC_RELAXED);
    a->bytes += __atomic_load_n(&b->bytes, __ATOMIC_RELAXED);
    a->requested += __atomic_load_n(&b->requested, __ATOMIC_RELAXED);
    a->hits += __atomic_load_n(&b->hits, __ATOMIC_RELAXED);
    a->puts += __atomic_load_n(&b->puts, __ATOMIC_RELAXED);
    a->flushed += __atomic_load_n(&b->flushed, __ATOMIC_RELAXED);
    const uint64_t *from = (const uint64_t *)&b->calls;
    uint64_t *to = (uint64_t *)&a->calls;
    for (size_t i = 0; i < sizeof b->calls / sizeof(uint64_t); i++)
        to[i] += __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

void gh_tcache_init_bins(struct gh_tcache *tc, bool pow2)
{
    tc->c = &tc->own;
    for (size_t i = 0; i < GH_TCACHE_BINS; i++) {
        size_t size = i * GH_ALIGN, n = size ? GH_TCACHE_BIN_BYTES / size : 0, most = GH_TCACHE_BIN_MAX;
        if (pow2 && size >= 32 && !(size & (size - 1))) {
            /* A power-of-two bin serves the requests a fit heap spreads
             * over the size / 2 / 16 bins below it: as many blocks and
             * bytes as those together (the thread's GH_TCACHE_MAX_BYTES
             * still bounds the whole). */
            size_t span = size / 2 / GH_ALIGN;
            n *= span;
            most *= span;
        }
        tc->bins[i].limit = (uint32_t)(n < GH_TCACHE_BIN_MIN ? GH_TCACHE_BIN_MIN : n > most ? most : n);
    }
}

/* Registry lock held: tc counts in a free entry, if there is one. */
static void place_one(struct gh_tcache *tc)
{
    if (!entries)
        return;
    for (unsigned i = 0; i < nentries; i++) {
        struct gh_shm_live_cache *e = &entries[i];
        if (__atomic_load_n(&e->in_use, __ATOMIC_RELAXED))
            continue;
        e->c = *tc->c;
        __atomic_store_n(&tc->c, &e->c, __ATOMIC_RELEASE);
        __atomic_store_n(&e->in_use, 1, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(unplaced, *unplaced + 1, __ATOMIC_RELAXED);
}

/* Registry lock held: tc stops counting in place (it exits), its entry free. */
static void unplace_one(struct gh_tcache *tc)
{
    if (tc->c == &tc->own) {
        if (entries && *unplaced)
            __atomic_store_n(unplaced, *unplaced - 1, __ATOMIC_RELAXED);
        return;
    }
    struct gh_shm_live_cache *e = (struct gh_shm_live_cache *)(void *)((char *)tc->c - offsetof(struct gh_shm_live_cache, c));
    tc->own = *tc->c;
    tc->c = &tc->own;
    __atomic_store_n(&e->in_use, 0, __ATOMIC_RELEASE);
    memset(&e->c, 0, sizeof e->c);
}

void gh_tcache_place(struct gh_tcache_counts *exited_at, struct gh_shm_live_cache *at, unsigned n, uint64_t *unplaced_at)
{
    gh_lock(&registry_lock);
    if (!at) {
        exited_own = *exited;
        exited = &exited_own;
        for (struct gh_tcache *tc = registry; tc; tc = tc->next)
            if (tc->c != &tc->own) {
                tc->own = *tc->c;
                tc->c = &tc->own;
            }
        entries = NULL;
        nentries = 0;
        unplaced = NULL;
    } else {
        *exited_at = *exited;
        exited = exited_at;
        entries = at;
        nentries = n;
        unplaced = unplaced_at;
        for (struct gh_tcache *tc = registry; tc; tc = tc->next)
            if (tc->c == &tc->own)
                place_one(tc);
    }
    gh_unlock(&registry_lock);
}

void gh_tcache_register(struct gh_tcache *tc, bool pow2)
{
    gh_tcache_init_bins(tc, pow2);
    gh_lock(&registry_lock);
    place_one(tc);
    tc->prev = NULL;
    tc->next = registry;
    if (registry)
        registry->prev = tc;
    registry = tc;
    tc->state = GH_TCACHE_ACTIVE;
    gh_unlock(&registry_lock);
}

void gh_tcache_flush(struct gh_tcache *tc, void (*release)(char *p))
{
    for (size_t i = 0; i < GH_TCACHE_BINS; i++) {
        size_t size = i * GH_ALIGN;
        while (tc->bins[i].head) {
            char *p = gh_tcache_take(tc, size, "free");
            /* take() counted a hit: this is a flush */
            __atomic_store_n(&tc->c->hits, tc->c->hits - 1, __ATOMIC_RELAXED);
            __atomic_store_n(&tc->c->flushed, tc->c->flushed + 1, __ATOMIC_RELAXED);
            release(p);
        }
    }
}

char *gh_tcache_take_aligned(struct gh_tcache *tc, size_t size, size_t align, const char *fn)
{
    struct gh_tcache_bin *b = &tc->bins[size / GH_ALIGN];
    char *prev = NULL;
    for (char *p = b->head; p;) {
        uint64_t *w = (uint64_t *)p;
        char *next = (char *)(uintptr_t)w[0];
        if (w[1] != gh_tcache_link_mac(p, next))
            gh_fatal(fn, GH_MSG_FREE_LIST, p);
        if (((uintptr_t)p & (align - 1)) == 0) {
            if (!prev)
                return gh_tcache_take(tc, size, fn);
            /* unlink p: prev now leads to next, with a new mark */
            uint64_t *pw = (uint64_t *)prev;
            pw[0] = (uint64_t)(uintptr_t)next;
            pw[1] = gh_tcache_link_mac(prev, next);
            /* make p the head, then take it: one place counts */
            w[0] = (uint64_t)(uintptr_t)b->head;
            w[1] = gh_tcache_link_mac(p, b->head);
            b->head = p;
            return gh_tcache_take(tc, size, fn);
        }
        prev = p;
        p = next;
    }
    return NULL;
}

static void unlink_locked(struct gh_tcache *tc)
{
    if (tc->prev)
        tc->prev->next = tc->next;
    else if (registry == tc)
        registry = tc->next;
    if (tc->next)
        tc->next->prev = tc->prev;
    tc->next = tc->prev = NULL;
}

void gh_tcache_retire(struct gh_tcache *tc, void (*release)(char *p))
{
    if (tc->state != GH_TCACHE_ACTIVE) {
        tc->state = GH_TCACHE_DEAD;
        return;
    }
    tc->state = GH_TCACHE_DEAD; /* frees from here on (later destructors) go to the heap */
    gh_tcache_flush(tc, release);
    gh_lock(&registry_lock);
    unlink_locked(tc);
    add_counts(exited, tc->c);
    unplace_one(tc);
    gh_unlock(&registry_lock);
}

void gh_tcache_sum(struct gh_tcache_counts *out)
{
    memset(out, 0, sizeof *out);
    gh_lock(&registry_lock);
    add_counts(out, exited);
    for (struct gh_tcache *tc = registry; tc; tc = tc->next) {
        add_counts(out, tc->c);
        out->threads++;
    }
    gh_unlock(&registry_lock);
}

void gh_tcache_forked(struct gh_tcache *keep)
{
    registry_lock = 0;
    gh_tcache_place(NULL, NULL, 0, NULL); /* the parent's entries are the parent's */
    for (struct gh_tcache *tc = registry; tc;) {
        struct gh_tcache *next = tc->next;
        if (tc != keep)
            add_counts(exited, tc->c); /* their blocks stay cached: counted, never handed out */
        tc = next;
    }
    registry = NULL;
    if (keep && keep->state == GH_TCACHE_ACTIVE) {
        keep->next = keep->prev = NULL;
        registry = keep;
    }
}
