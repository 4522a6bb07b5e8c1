/* test_check.c - gh_heap_check, tested as a checker.
 *
 * Proves: the checker passes on healthy heaps (empty, one block, many
 * blocks, every fit policy), and fails - returning false with a reason, and
 * the offending block where there is one - on each deliberate corruption:
 * a header's size word changed (with a stale and with a recomputed check),
 * the check bits of a tag, a requested size larger than its block, a free
 * block's footer, a PREV_FREE flag cleared or set, a free block removed
 * from the policy index behind the heap's back, an in-use block slipped
 * into the index, two adjacent free blocks forged (both ways), the end
 * marker, the region tree, and each counter.  After every corruption is
 * undone the checker passes again, so each failure came from the
 * corruption and nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "unit_util.h"

#define ARENA (64u << 20)
#define NBLOCKS 14

/* A heap of NBLOCKS blocks (sizes vary), blocks 1, 4, 7, 10 freed, so
 * 0 is the first block, 2 follows a free block, 5 and 6 follow in-use
 * blocks, 4 is free between two in-use blocks, and the last is in use. */
struct scene {
    struct fx f;
    void *p[NBLOCKS];
    size_t usable[NBLOCKS];
};

static const bool FREED[NBLOCKS] = { [1] = true, [4] = true, [7] = true, [10] = true };

static void scene_open(struct scene *s, const struct gh_policy_ops *ops)
{
    fx_open(&s->f, ARENA, ops);
    for (size_t i = 0; i < NBLOCKS; i++) {
        s->p[i] = gh_heap_alloc(&s->f.h, 100 + 70 * i);
        assert_non_null(s->p[i]);
        s->usable[i] = gh_heap_usable(&s->f.h, s->p[i]);
        FILL(s->p[i], s->usable[i], i);
        if (i > 0)
            assert_ptr_equal(hdr(s->p[i]), (char *)hdr(s->p[i - 1]) + block_size_of(s->p[i - 1]));
    }
    for (size_t i = 0; i < NBLOCKS; i++)
        if (FREED[i])
            gh_heap_free(&s->f.h, s->p[i], "free");
    HEAP_OK(&s->f.h);
}

/* Everything in use still holds its contents; free it all; still sound. */
static void scene_close(struct scene *s)
{
    HEAP_OK(&s->f.h);
    for (size_t i = 0; i < NBLOCKS; i++)
        if (!FREED[i]) {
            CONTENTS_OK(s->p[i], s->usable[i], i);
            gh_heap_free(&s->f.h, s->p[i], "free");
        }
    HEAP_OK(&s->f.h);
    assert_int_equal(gh_heap_free_blocks(&s->f.h), 1);
    fx_close(&s->f);
}

static struct gh_block *blk(struct scene *s, size_t i)
{
    return gh_block_of(s->p[i]);
}

/* The checker must say no; where_ok is the address it should name, or
 * NULL when any (or none) will do. */
#define BROKEN(h, where_ok) expect_broken((h), (where_ok), __LINE__)

static void expect_broken(const struct gh_heap *h, const void *where_ok, int line)
{
    const char *why = NULL;
    const void *where = NULL;
    if (gh_heap_check(h, &why, &where))
        fail_msg("line %d: gh_heap_check passed a corrupted heap", line);
    if (!why || !*why)
        fail_msg("line %d: gh_heap_check failed without a reason", line);
    if (where_ok && where != where_ok)
        fail_msg("line %d: checker said \"%s\" at %p, expected %p", line, why, where, where_ok);
    assert_false(gh_heap_check(h, NULL, NULL)); /* why and where may be NULL */
}

/* ---- healthy heaps ---- */

static void test_healthy(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        fx_open(&f, ARENA, fit_policies[t]);
        HEAP_OK(&f.h); /* no region at all */
        const char *why = "untouched";
        const void *where = &why;
        assert_true(gh_heap_check(&f.h, &why, &where));
        void *one = gh_heap_alloc(&f.h, 1);
        HEAP_OK(&f.h);
        /* a few hundred mixed operations, checked after each */
        void *p[64] = { 0 };
        uint64_t x = 12345;
        for (int op = 0; op < 600; op++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t i = (size_t)(x >> 58);
            if (p[i]) {
                if ((x >> 20) & 1)
                    gh_heap_free(&f.h, p[i], "free");
                else if (!gh_heap_resize(&f.h, p[i], (size_t)(x >> 40) % 3000, "realloc"))
                    gh_heap_free(&f.h, p[i], "free");
                else
                    continue;
                p[i] = NULL;
            } else {
                p[i] = (x >> 21) & 1 ? gh_heap_alloc(&f.h, (size_t)(x >> 44) % 5000)
                                     : gh_heap_alloc_aligned(&f.h, (size_t)64 << ((x >> 30) & 7), 100);
                assert_non_null(p[i]);
            }
            HEAP_OK(&f.h);
        }
        for (size_t i = 0; i < 64; i++)
            if (p[i])
                gh_heap_free(&f.h, p[i], "free");
        gh_heap_free(&f.h, one, "free");
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

/* ---- header corruptions ---- */

static void test_size_word(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct scene s;
        scene_open(&s, fit_policies[t]);
        struct gh_block *b = blk(&s, 5), saved = *b;

        /* raw change: the check bits no longer match */
        b->size_flags += 16;
        BROKEN(&s.f.h, b);
        b->size_flags -= 32;
        BROKEN(&s.f.h, b);
        *b = saved;
        HEAP_OK(&s.f.h);

        /* recomputed check: the header is self-consistent but the blocks
         * no longer tile the region */
        static const int64_t deltas[] = { 16, -16, 32, 1024 };
        for (size_t d = 0; d < 4; d++) {
            gh_block_set(b, saved.size_flags + (uint64_t)deltas[d], gh_block_requested(&saved));
            BROKEN(&s.f.h, NULL);
            *b = saved;
            HEAP_OK(&s.f.h);
        }
        /* below the minimum block */
        gh_block_set(b, 32, 0);
        BROKEN(&s.f.h, b);
        *b = saved;
        /* a large-block (MMAPPED) header inside the heap */
        gh_block_set(b, saved.size_flags | GH_FLAG_MMAPPED, gh_block_requested(&saved));
        BROKEN(&s.f.h, b);
        *b = saved;
        HEAP_OK(&s.f.h);

        /* the same on a free block (its footer changed along, so only the
         * size is wrong) */
        struct gh_block *fb = blk(&s, 4);
        struct gh_block fsaved = *fb;
        uint64_t ffoot = *gh_block_footer(fb);
        gh_block_set(fb, fsaved.size_flags - 16, 0);
        *gh_block_footer(fb) = fb->size_flags;
        BROKEN(&s.f.h, NULL);
        *gh_block_footer(fb) = 0;
        *fb = fsaved;
        *gh_block_footer(fb) = ffoot;
        HEAP_OK(&s.f.h);
        scene_close(&s);
    }
}

static void test_tag(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct scene s;
        scene_open(&s, fit_policies[t]);
        struct gh_block *b = blk(&s, 6), saved = *b;
        b->tag ^= (uint64_t)1 << 60; /* a check bit */
        BROKEN(&s.f.h, b);
        *b = saved;
        HEAP_OK(&s.f.h);
        /* requested size larger than the usable size */
        gh_block_set_requested(b, gh_block_size(b) - GH_HEADER_SIZE + 1);
        BROKEN(&s.f.h, b);
        *b = saved;
        HEAP_OK(&s.f.h);
        /* the first block of the region too */
        struct gh_block *first = blk(&s, 0), fsaved = *first;
        first->tag ^= (uint64_t)1 << 50;
        BROKEN(&s.f.h, first);
        *first = fsaved;
        scene_close(&s);
    }
}

static void test_footer(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct scene s;
        scene_open(&s, fit_policies[t]);
        for (size_t i = 0; i < NBLOCKS; i++) {
            if (!FREED[i])
                continue;
            struct gh_block *fb = blk(&s, i);
            uint64_t *foot = gh_block_footer(fb), saved = *foot;
            *foot = saved + 16;
            BROKEN(&s.f.h, fb);
            *foot = saved & ~GH_FLAG_FREE; /* the flags count too */
            BROKEN(&s.f.h, fb);
            *foot = saved;
            HEAP_OK(&s.f.h);
        }
        scene_close(&s);
    }
}

static void test_prev_free_flag(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct scene s;
        scene_open(&s, fit_policies[t]);
        /* cleared after a free block */
        struct gh_block *b = blk(&s, 2);
        assert_true(gh_block_prev_free(b));
        b->size_flags &= ~GH_FLAG_PREV_FREE;
        BROKEN(&s.f.h, b);
        b->size_flags |= GH_FLAG_PREV_FREE;
        HEAP_OK(&s.f.h);
        /* set after an in-use block */
        b = blk(&s, 6);
        assert_false(gh_block_prev_free(b));
        b->size_flags |= GH_FLAG_PREV_FREE;
        BROKEN(&s.f.h, b);
        b->size_flags &= ~GH_FLAG_PREV_FREE;
        HEAP_OK(&s.f.h);
        /* on the first block of a region (nothing before it) */
        b = blk(&s, 0);
        b->size_flags |= GH_FLAG_PREV_FREE;
        BROKEN(&s.f.h, b);
        b->size_flags &= ~GH_FLAG_PREV_FREE;
        HEAP_OK(&s.f.h);
        /* on a free block (its footer kept in step) */
        struct gh_block *fb = blk(&s, 7);
        fb->size_flags |= GH_FLAG_PREV_FREE;
        *gh_block_footer(fb) = fb->size_flags;
        BROKEN(&s.f.h, fb);
        fb->size_flags &= ~GH_FLAG_PREV_FREE;
        *gh_block_footer(fb) = fb->size_flags;
        HEAP_OK(&s.f.h);
        scene_close(&s);
    }
}

/* ---- the index ---- */

static void test_index_missing_block(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct scene s;
        scene_open(&s, fit_policies[t]);
        for (size_t i = 0; i < NBLOCKS; i++) {
            if (!FREED[i])
                continue;
            struct gh_block *fb = blk(&s, i);
            gh_policy_tree_remove(&s.f.h.policy, fb);
            assert_true(gh_policy_trees_sound(&s.f.h.policy, NULL)); /* the trees themselves are fine */
            BROKEN(&s.f.h, fb);
            gh_policy_tree_insert(&s.f.h.policy, fb);
            HEAP_OK(&s.f.h);
        }
        /* the top free block as well */
        static struct walk w;
        walk_heap(&s.f.h, &w);
        const struct gh_block_info *top = walk_top(&w);
        assert_true(top->free);
        struct gh_block *tb = (struct gh_block *)top->addr;
        gh_policy_tree_remove(&s.f.h.policy, tb);
        BROKEN(&s.f.h, tb);
        gh_policy_tree_insert(&s.f.h.policy, tb);
        HEAP_OK(&s.f.h);
        scene_close(&s);
    }
}

static void test_index_extra_block(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct scene s;
        scene_open(&s, fit_policies[t]);
        /* An in-use block slipped into the index (its payload holds the
         * node, so save and restore the bytes it overwrites). */
        struct gh_block *b = blk(&s, 5);
        unsigned char saved[GH_NODE_SIZE];
        memcpy(saved, gh_policy_node(b), sizeof saved);
        gh_policy_tree_insert(&s.f.h.policy, b);
        assert_true(gh_policy_trees_sound(&s.f.h.policy, NULL));
        BROKEN(&s.f.h, NULL);
        gh_policy_tree_remove(&s.f.h.policy, b);
        memcpy(gh_policy_node(b), saved, sizeof saved);
        HEAP_OK(&s.f.h);
        /* The index's own shape broken: a stale height in its root. */
        struct gh_tnode *root = s.f.h.policy.tree.root;
        root->aux += (uint64_t)1 << 56;
        BROKEN(&s.f.h, NULL);
        root->aux -= (uint64_t)1 << 56;
        HEAP_OK(&s.f.h);
        /* And a count that lies. */
        s.f.h.policy.tree.count++;
        BROKEN(&s.f.h, NULL);
        s.f.h.policy.tree.count--;
        scene_close(&s);
    }
}

/* The exact-size bins (first, best and worst fit) held against their
 * heaps: a bit that lies, a count that lies, a root with a parent, and
 * first fit's tournament over the roots: a leaf or the winner that lies. */
static void test_index_bins(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct scene s;
        scene_open(&s, fit_policies[t]);
        struct gh_policy *p = &s.f.h.policy;
        struct gh_block *b = blk(&s, 1); /* free, 176 B: binned */
        int k = gh_policy_bin_of(p, gh_block_size(b));
        if (k < 0) { /* next fit: no bins */
            for (unsigned w = 0; w < GH_POLICY_BIN_WORDS; w++)
                assert_int_equal(p->bin_map[w], 0);
            scene_close(&s);
            continue;
        }
        assert_true(gh_policy_bin_used(p, (unsigned)k));
        assert_ptr_equal(gh_policy_bin_lowest(p, (unsigned)k), b);
        p->bin_map[k / 64] &= ~(1ull << (k % 64)); /* the bin looks empty */
        BROKEN(&s.f.h, NULL);
        p->bin_map[k / 64] |= 1ull << (k % 64);
        HEAP_OK(&s.f.h);
        struct gh_pheap *h = &p->bins[k];
        h->count++;
        BROKEN(&s.f.h, NULL);
        h->count--;
        HEAP_OK(&s.f.h);
        struct gh_pnode *r = h->root, *other = (struct gh_pnode *)gh_block_payload(blk(&s, 4));
        r->prev = other; /* the root says it has a parent */
        BROKEN(&s.f.h, NULL);
        r->prev = NULL;
        HEAP_OK(&s.f.h);
        if (p->ops->ranked) { /* first fit's tournament over the roots */
            assert_ptr_equal(gh_policy_bin_lowest_from(p, (unsigned)k), b);
            p->bin_rank[GH_POLICY_BINS + k] += 16; /* a lower address than the root's */
            BROKEN(&s.f.h, NULL);
            p->bin_rank[GH_POLICY_BINS + k] -= 16;
            HEAP_OK(&s.f.h);
            p->bin_rank[1] = 0; /* the winner forgotten */
            BROKEN(&s.f.h, NULL);
            p->bin_rank[1] = p->bin_rank[2] > p->bin_rank[3] ? p->bin_rank[2] : p->bin_rank[3];
            HEAP_OK(&s.f.h);
        }
        assert_ptr_equal(gh_policy_bin_lowest(p, (unsigned)k), b);
        scene_close(&s);
    }
}

/* ---- two adjacent free blocks ---- */

static void test_adjacent_free_blocks(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct scene s;
        scene_open(&s, fit_policies[t]);
        struct gh_heap *h = &s.f.h;

        /* Split free block 7 in two well-formed, indexed free blocks: only
         * "no two adjacent free blocks" is broken (free_bytes unchanged). */
        struct gh_block *fb = blk(&s, 7);
        size_t size = gh_block_size(fb);
        assert_true(size >= 2 * GH_MIN_BLOCK);
        struct gh_block saved = *fb;
        h->policy.ops->remove(&h->policy, fb);
        struct gh_block *second = (struct gh_block *)((char *)fb + GH_MIN_BLOCK);
        gh_block_set(fb, GH_MIN_BLOCK | GH_FLAG_FREE, 0);
        *gh_block_footer(fb) = fb->size_flags;
        gh_block_set(second, (size - GH_MIN_BLOCK) | GH_FLAG_FREE | GH_FLAG_PREV_FREE, 0);
        *gh_block_footer(second) = second->size_flags;
        h->policy.ops->insert(&h->policy, fb);
        h->policy.ops->insert(&h->policy, second);
        assert_true(h->policy.ops->check(&h->policy, NULL));
        BROKEN(h, second);
        h->policy.ops->remove(&h->policy, second);
        h->policy.ops->remove(&h->policy, fb);
        memset(second, 0, sizeof *second);
        *fb = saved;
        *gh_block_footer(fb) = fb->size_flags;
        h->policy.ops->insert(&h->policy, fb);
        HEAP_OK(h);

        /* An in-use block next to a free one marked free behind the heap's
         * back (footer, index, next's PREV_FREE and the counters all kept
         * in step): block 5 after block 4. */
        struct gh_block *b = blk(&s, 5), bsaved = *b;
        struct gh_block *next = gh_block_next(b);
        unsigned char node[GH_NODE_SIZE];
        uint64_t foot = *gh_block_footer(b);
        memcpy(node, gh_policy_node(b), sizeof node);
        struct gh_heap_counters csaved = *h->c;
        b->size_flags |= GH_FLAG_FREE;
        *gh_block_footer(b) = b->size_flags;
        next->size_flags |= GH_FLAG_PREV_FREE;
        h->policy.ops->insert(&h->policy, b);
        h->c->live_blocks--;
        h->c->live_block_bytes -= gh_block_size(b);
        h->c->live_requested -= gh_block_requested(b);
        h->c->free_bytes += gh_block_size(b);
        BROKEN(h, b);
        h->policy.ops->remove(&h->policy, b);
        next->size_flags &= ~GH_FLAG_PREV_FREE;
        *b = bsaved;
        *gh_block_footer(b) = foot;
        memcpy(gh_policy_node(b), node, sizeof node);
        *h->c = csaved;
        HEAP_OK(h);
        scene_close(&s);
    }
}

/* ---- regions and counters ---- */

static void test_region_and_marker(void **state)
{
    (void)state;
    struct scene s;
    scene_open(&s, &gh_policy_best);
    struct gh_heap *h = &s.f.h;
    struct gh_region *r = (struct gh_region *)s.f.src.arena_base;
    struct gh_block *m = (struct gh_block *)((char *)r + r->len - GH_HEADER_SIZE);
    assert_int_equal(gh_block_size(m), 0);
    struct gh_block msaved = *m;
    /* the end marker's check bits */
    m->tag ^= (uint64_t)1 << 62;
    BROKEN(h, m);
    *m = msaved;
    HEAP_OK(h);
    /* the end marker marked free */
    m->size_flags |= GH_FLAG_FREE;
    BROKEN(h, NULL);
    *m = msaved;
    HEAP_OK(h);
    /* the end marker's PREV_FREE (the top block is free) */
    assert_true(gh_block_prev_free(m));
    m->size_flags &= ~GH_FLAG_PREV_FREE;
    BROKEN(h, m);
    *m = msaved;
    HEAP_OK(h);
    /* the region tree's count */
    h->regions.count++;
    BROKEN(h, NULL);
    h->regions.count--;
    HEAP_OK(h);
    scene_close(&s);
}

static void test_counters(void **state)
{
    (void)state;
    struct scene s;
    scene_open(&s, &gh_policy_first);
    struct gh_heap_counters *c = s.f.h.c;
    uint64_t *fields[] = {
        &c->live_requested, &c->live_block_bytes, &c->live_blocks,
        &c->free_bytes, &c->heap_bytes, &c->overhead_bytes,
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        *fields[i] += 16;
        BROKEN(&s.f.h, NULL);
        *fields[i] -= 32;
        BROKEN(&s.f.h, NULL);
        *fields[i] += 16;
        HEAP_OK(&s.f.h);
    }
    scene_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy),
        cmocka_unit_test(test_size_word),
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_footer),
        cmocka_unit_test(test_prev_free_flag),
        cmocka_unit_test(test_index_missing_block),
        cmocka_unit_test(test_index_extra_block),
        cmocka_unit_test(test_index_bins),
        cmocka_unit_test(test_adjacent_free_blocks),
        cmocka_unit_test(test_region_and_marker),
        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
