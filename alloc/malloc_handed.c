/* malloc_handed.c - small blocks freed by a thread of another arena
 * (exports.h tells how the exports are split).
 *
 * A thread freeing a small block of an arena it is not attached to does
 * not take that arena's lock (its owner would wait for it on its next
 * call, and the lock's line would go back and forth between them): it
 * pushes the block on the arena's handed list (one compare-and-swap) and
 * goes on.  Whoever next takes that lock frees every handed block first
 * (enter()), counted as the frees they are: an owner that allocates on and
 * on frees them in batches; and a thread of the arena whose cache misses
 * takes them into its cache first (gh_exports_cache_refill).  A list
 * holds about GH_HANDED_MAX blocks (arena.h's handed_n); a free that finds
 * it full takes the lock and so empties it.  Until then a handed block is
 * counted in use: a map read from outside shows it used, and the process's
 * own map (written after a snapshot freed every handed block) never has
 * one.
 * Only sound small heap blocks are handed (small_check.h, the check the
 * cache makes); while a trace is written, memcheck watches, blocks are
 * quarantined or M_PERTURB fills them, every free takes the lock.
 */
#include "small_check.h"

bool gh_exports_hand_over(void *p, unsigned list)
{
    if (G.valgrind || G.trace.fd >= 0 || G.perturb || gh_single_threaded()
        || __atomic_load_n(&gh_arena_count, __ATOMIC_RELAXED) <= 1) /* one heap: its lock */
        return false;
    struct gh_arena *a = gh_arena_of(p);
    if (a == gh_self.arena || a->front.harden)
        return false;
    if (__atomic_load_n(&a->handed_n[list], __ATOMIC_RELAXED) >= GH_HANDED_MAX)
        return false; /* full: the locked path empties it */
    size_t req;
    if (!small_block_sound(p, &req))
        return false;
    uint64_t *w = p;
    uintptr_t head = __atomic_load_n(&a->handed[list], __ATOMIC_RELAXED);
    do {
        w[0] = head;
        w[1] = gh_tcache_link_mac(p, (const void *)head);
    } while (!__atomic_compare_exchange_n(&a->handed[list], &head, (uintptr_t)p, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    __atomic_fetch_add(&a->handed_n[list], 1, __ATOMIC_RELAXED);
    return true;
}

/* Take the whole of arena a's handed list `list` (no lock needed); an
 * empty one is only read (the line is the pushers' too). */
static inline uintptr_t handed_take(struct gh_arena *a, unsigned list)
{
    if (!__atomic_load_n(&a->handed[list], __ATOMIC_RELAXED))
        return 0;
    uintptr_t link = __atomic_exchange_n(&a->handed[list], 0, __ATOMIC_ACQUIRE);
    __atomic_store_n(&a->handed_n[list], 0, __ATOMIC_RELAXED);
    return link;
}

/* The next block of a handed chain after p, whose mark is checked first:
 * it binds the link to the block under the process's secret, so a write
 * into a handed block (a use after free) is found here, not followed. */
static inline uintptr_t handed_next(void *p)
{
    if (!gh_tcache_marked(p))
        gh_fatal("free", GH_MSG_FREE_LIST, p);
    return ((uint64_t *)p)[0];
}

/* With a's lock held: free every block of a handed chain, counted as call c. */
static void free_handed(struct gh_arena *a, uintptr_t link, enum call c)
{
    while (link) {
        void *p = (void *)link;
        link = handed_next(p);
        ((uint64_t *)p)[1] = 0; /* no longer marked: reused, it is not a double free */
        count_call(a, c);
        __atomic_fetch_add(a->handed_count, 1, __ATOMIC_RELAXED); /* gh_exports_cache_refill adds without the lock */
        struct gh_front_unmap u;
        gh_front_release(&a->front, p, "free", &u, NULL);
        gh_front_unmap(&a->front, &u); /* a heap block's: nothing */
    }
}

void gh_exports_take_handed(struct gh_arena *a)
{
    for (unsigned list = 0; list < 2; list++)
        free_handed(a, handed_take(a, list), list == 0 ? C_FREE : C_NONE);
}

/* Keep handed block p (its mark checked) in cache tc when its bin has room
 * and its header still checks.  Its next neighbour was looked at when it
 * was handed (small_block_sound); its own header is again, since a write
 * after that free could have changed the size it goes by. */
static inline bool handed_keep(struct gh_tcache *tc, void *p)
{
    struct small_peek k;
    size_t size = small_block_peek(p, &k);
    if (!size || !gh_tcache_room(tc, size))
        return false;
    const struct gh_block *b = gh_block_of(p);
    uint64_t w1 = __atomic_load_n(&b->tag, __ATOMIC_RELAXED);
#ifndef GH_UNCHECKED
    if (!gh_block_words_valid(b, k.w0, w1))
        return false; /* the locked path says what is wrong with it */
#endif
    gh_tcache_put(tc, p, size, (size_t)(w1 & GH_REQ_MASK));
    return true;
}

/* A miss in cache tc of a thread whose arena a has blocks handed over: the
 * thread takes them all without the lock (a pusher pushes with a
 * compare-and-swap, one exchange empties a list: no ABA) and keeps in its
 * cache those it has room for, each counted as the free it is; the rest,
 * chained again as handed blocks are (still marked: a second free of one
 * is a double free), are freed into the heap in one hold of the lock.  So
 * an arena whose blocks other threads free (a producer's) gets them back
 * through its cache, not through a locked free and a locked malloc each.
 * True when any was kept. */
bool gh_exports_cache_refill(struct gh_tcache *tc, struct gh_arena *a)
{
    uintptr_t rest[2] = { 0, 0 };
    bool kept = false;
    for (unsigned list = 0; list < 2; list++) {
        for (uintptr_t link = handed_take(a, list); link;) {
            void *p = (void *)link;
            uint64_t *w = p;
            link = handed_next(p);
            if (handed_keep(tc, p)) {
                __atomic_fetch_add(a->handed_count, 1, __ATOMIC_RELAXED);
                if (list == 0)
                    gh_tcache_count_call(tc, C_FREE);
                kept = true;
                continue;
            }
            w[0] = rest[list];
            w[1] = gh_tcache_link_mac(p, (const void *)rest[list]);
            rest[list] = (uintptr_t)p;
        }
    }
    if (rest[0] | rest[1]) {
        enter(a);
        free_handed(a, rest[0], C_FREE);
        free_handed(a, rest[1], C_NONE);
        leave(a);
    }
    return kept;
}
