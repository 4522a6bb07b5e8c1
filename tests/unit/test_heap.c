/* test_heap.c - the heap layer, white-box, on the arena source (and on the
 * break source for the OS fault hooks).
 *
 * Proves: each fit policy picks exactly the block DESIGN.md says (one
 * placement table where first, next, best and worst all differ; ties to the
 * lowest address; the next-fit rover, "at or after", and its wrap-around; a
 * request that fits nowhere grows the heap at the top); free coalesces with
 * the previous, the next and both neighbours; a split keeps a remainder of
 * at least GH_MIN_BLOCK and never a smaller one; malloc(0)/malloc(1) take a
 * 48-byte block with 32 usable; aligned blocks are aligned and coalesce
 * back; resize shrinks, grows into a free neighbour, grows at the top and
 * refuses without touching the block; trimming with a live block at the
 * top gives nothing back.  (Growing, trimming, the counters script and the
 * break source: test_grow.c.)
 *
 * Layouts are built the same way each time: blocks are carved in address
 * order from the heap's first (top) free block; "holes" are blocks freed
 * later between 48-byte separators that stay allocated; the rest of the top
 * free block is "plugged" with one allocation of exactly its size, so the
 * only free blocks are the holes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "os.h"
#include "unit_util.h"

#define ARENA (64u << 20)

/* ---- layouts ---- */

struct layout {
    void *hole[16];     /* payloads of the holes, in address order */
    size_t size[16];    /* their block sizes */
    size_t n;
    void *plug;         /* the last block, up against the end marker */
};

/* The top free block (must be the last block) taken by one allocation. */
static void *plug_top(struct gh_heap *h)
{
    static struct walk w;
    walk_heap(h, &w);
    const struct gh_block_info *top = walk_top(&w);
    assert_non_null(top);
    assert_true(top->free);
    void *p = gh_heap_alloc(h, top->size - GH_HEADER_SIZE);
    assert_ptr_equal(hdr(p), top->addr);
    assert_int_equal(block_size_of(p), top->size);
    return p;
}

/* Blocks of sizes[i] (exact block sizes), each followed by a 48-byte
 * separator when `separated`, then the plug; then nfree of the blocks are
 * freed, in the order of the indexes in free_order (or 0, 1, ... when it
 * is NULL). */
static void build(struct gh_heap *h, struct layout *L, const size_t *sizes, size_t n, bool separated,
                  const int *free_order, size_t nfree)
{
    memset(L, 0, sizeof *L);
    L->n = n;
    char *prev_end = NULL;
    for (size_t i = 0; i < n; i++) {
        L->hole[i] = gh_heap_alloc(h, sizes[i] - GH_HEADER_SIZE);
        L->size[i] = sizes[i];
        assert_non_null(L->hole[i]);
        assert_int_equal(block_size_of(L->hole[i]), sizes[i]);
        /* Layout precondition: carved in address order, back to back. */
        if (prev_end)
            assert_ptr_equal(hdr(L->hole[i]), prev_end);
        prev_end = (char *)hdr(L->hole[i]) + sizes[i];
        if (separated) {
            void *s = gh_heap_alloc(h, 0);
            assert_ptr_equal(hdr(s), prev_end);
            prev_end += GH_MIN_BLOCK;
        }
    }
    L->plug = plug_top(h);
    assert_ptr_equal(hdr(L->plug), prev_end);
    assert_int_equal(gh_heap_free_blocks(h), 0);
    for (size_t k = 0; k < nfree; k++)
        gh_heap_free(h, L->hole[free_order ? (size_t)free_order[k] : k], "free");
    HEAP_OK(h);
}

static const char *pname(const struct gh_policy_ops *ops)
{
    return ops->name;
}

/* ---- placement ---- */

/* The classic example: seven holes (block sizes), indexes 0..6 in address
 * order.  A request for 1024 fits only hole 3 (every policy takes it, next
 * fit by wrapping around from the plug); then a request for 320:
 *   first -> hole 0 (512, lowest address that fits)
 *   next  -> hole 4 (640, first fit at or after the rover at hole 3)
 *   best  -> hole 2 (384, smallest that fits)
 *   worst -> hole 6 (896, largest) */
static const size_t TEACH[] = { 512, 128, 384, 1024, 640, 256, 896 };
static const int TEACH_FREE[] = { 3, 0, 6, 2, 5, 1, 4 }; /* scrambled */
#define N_TEACH 7

static void test_placement_table(void **state)
{
    (void)state;
    static const struct {
        const struct gh_policy_ops *ops;
        int second;
    } table[] = {
        { &gh_policy_first, 0 },
        { &gh_policy_next, 4 },
        { &gh_policy_best, 2 },
        { &gh_policy_worst, 6 },
    };
    for (size_t t = 0; t < 4; t++) {
        struct fx f;
        struct layout L;
        fx_open(&f, ARENA, table[t].ops);
        build(&f.h, &L, TEACH, N_TEACH, /* separated */ true, TEACH_FREE, N_TEACH);
        assert_int_equal(gh_heap_free_blocks(&f.h), N_TEACH);

        void *p1 = gh_heap_alloc(&f.h, 1024 - GH_HEADER_SIZE);
        if (p1 != L.hole[3])
            fail_msg("%s: 1024 went to %p, expected hole 3 %p", pname(table[t].ops), p1, L.hole[3]);
        assert_int_equal(block_size_of(p1), 1024);
        assert_int_equal(gh_heap_free_blocks(&f.h), N_TEACH - 1); /* exact fit: no split */

        void *p2 = gh_heap_alloc(&f.h, 320 - GH_HEADER_SIZE);
        int k = table[t].second;
        if (p2 != L.hole[k])
            fail_msg("%s: 320 went to %p, expected hole %d %p", pname(table[t].ops), p2, k, L.hole[k]);
        assert_int_equal(block_size_of(p2), 320);
        /* The remainder stays free, right behind the new block. */
        expect_free_block(&f.h, (char *)hdr(p2) + 320, TEACH[k] - 320);
        assert_int_equal(gh_heap_free_blocks(&f.h), N_TEACH - 1);
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

/* Ties: holes of 256, 512, 256, 512, 384, freed from the highest address
 * down (so insertion order is the reverse of address order). */
static const size_t TIES[] = { 256, 512, 256, 512, 384 };
static const int TIES_FREE[] = { 4, 3, 2, 1, 0 };

static void *ties_request(const struct gh_policy_ops *ops, size_t block, struct layout *L, struct fx *f)
{
    fx_open(f, ARENA, ops);
    build(&f->h, L, TIES, 5, /* separated */ true, TIES_FREE, 5);
    void *p = gh_heap_alloc(&f->h, block - GH_HEADER_SIZE);
    HEAP_OK(&f->h);
    return p;
}

static void test_placement_ties(void **state)
{
    (void)state;
    static const struct {
        const struct gh_policy_ops *ops;
        size_t block;
        int want;
    } table[] = {
        { &gh_policy_first, 256, 0 },
        { &gh_policy_next, 256, 0 },  /* wraps from the plug */
        { &gh_policy_best, 256, 0 },  /* 0 and 2 tie: lowest */
        { &gh_policy_worst, 256, 1 }, /* 1 and 3 tie: lowest */
        { &gh_policy_first, 384, 1 },
        { &gh_policy_next, 384, 1 },
        { &gh_policy_best, 384, 4 },  /* the only exact one */
        { &gh_policy_worst, 384, 1 },
        { &gh_policy_first, 512, 1 },
        { &gh_policy_next, 512, 1 },
        { &gh_policy_best, 512, 1 },  /* 1 and 3 tie: lowest */
        { &gh_policy_worst, 512, 1 },
    };
    for (size_t t = 0; t < sizeof table / sizeof table[0]; t++) {
        struct fx f;
        struct layout L;
        void *p = ties_request(table[t].ops, table[t].block, &L, &f);
        int k = table[t].want;
        if (p != L.hole[k])
            fail_msg("%s, block %zu: got %p, expected hole %d %p", pname(table[t].ops), table[t].block, p, k,
                     L.hole[k]);
        fx_close(&f);
    }
}

/* Next fit: the rover moves on, finds blocks "at or after" itself, and
 * wraps around once. */
static void test_next_fit_rover(void **state)
{
    (void)state;
    struct fx f;
    struct layout L;
    fx_open(&f, ARENA, &gh_policy_next);
    build(&f.h, &L, TEACH, N_TEACH, /* separated */ true, TEACH_FREE, N_TEACH);
    char *h4 = (char *)L.hole[4];

    assert_ptr_equal(gh_heap_alloc(&f.h, 1024 - 16), L.hole[3]); /* wrap: rover was at the plug */
    assert_ptr_equal(gh_heap_alloc(&f.h, 320 - 16), L.hole[4]);  /* on from hole 3 */
    /* First fit would take hole 2 (384); next fit stays on: the remainder
     * of hole 4 (320 bytes at hole 4 + 320). */
    void *p3 = gh_heap_alloc(&f.h, 256 - 16);
    assert_ptr_equal(p3, h4 + 320);
    expect_free_block(&f.h, h4 + 320 + 256 - 16, 64);
    /* 480: past the 64-byte remainder and hole 5 (256), to hole 6. */
    void *p4 = gh_heap_alloc(&f.h, 480 - 16);
    assert_ptr_equal(p4, L.hole[6]);
    /* 448: nothing at or after the rover (hole 6's remainder is 416):
     * wrap around to the lowest that fits, hole 0 (512). */
    void *p5 = gh_heap_alloc(&f.h, 448 - 16);
    assert_ptr_equal(p5, L.hole[0]);
    HEAP_OK(&f.h);

    /* "At": give hole 6 back whole (it coalesces with its remainder) and
     * move the rover onto it; a search that skipped the rover's own block
     * would wrap around and take hole 2 instead. */
    gh_heap_free(&f.h, p4, "free");
    expect_free_block(&f.h, hdr(L.hole[6]), 896);
    assert_ptr_equal(gh_heap_alloc(&f.h, 896 - 16), L.hole[6]); /* the only fit: rover := hole 6 */
    gh_heap_free(&f.h, L.hole[6], "free");
    assert_ptr_equal(gh_heap_alloc(&f.h, 256 - 16), L.hole[6]);
    HEAP_OK(&f.h);
    fx_close(&f);
}

/* A request that fits nowhere grows the heap: the new block starts where
 * the end marker was (the region is extended in place), every policy. */
static void test_placement_grows_at_top(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        struct layout L;
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, TEACH, N_TEACH, /* separated */ true, TEACH_FREE, N_TEACH);
        char *old_end = (char *)hdr(L.plug) + block_size_of(L.plug);
        size_t used = f.src.arena_used, heap = f.h.c->heap_bytes;
        assert_int_equal(heap, used);
        assert_ptr_equal(old_end + GH_HEADER_SIZE, f.src.arena_base + used); /* marker, then the end */

        void *p = gh_heap_alloc(&f.h, 2000);
        if (hdr(p) != old_end)
            fail_msg("%s: grown block at %p, expected the old end marker %p", pname(fit_policies[t]), hdr(p),
                     (void *)old_end);
        assert_true(f.src.arena_used > used);
        assert_int_equal(f.h.c->heap_bytes, f.src.arena_used);
        assert_int_equal(f.h.c->regions_added, 1);
        assert_int_equal(f.h.c->regions_extended, 1);
        assert_int_equal(gh_heap_free_blocks(&f.h), N_TEACH + 1); /* holes untouched + new top */
        FILL(p, 2000, 7);
        HEAP_OK(&f.h);
        CONTENTS_OK(p, 2000, 7);
        fx_close(&f);
    }
}

/* ---- coalescing, splitting, sizes ---- */

static const size_t FIVE[] = { 256, 256, 256, 256, 256 }; /* A B C D E, back to back */

static void test_coalesce(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        struct layout L;
        /* both neighbours: free B and D, then C */
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, FIVE, 5, /* separated */ false, NULL, 0);
        gh_heap_free(&f.h, L.hole[1], "free");
        gh_heap_free(&f.h, L.hole[3], "free");
        assert_int_equal(gh_heap_free_blocks(&f.h), 2);
        assert_int_equal(f.h.c->free_bytes, 512);
        gh_heap_free(&f.h, L.hole[2], "free");
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        expect_free_block(&f.h, hdr(L.hole[1]), 768);
        assert_int_equal(f.h.c->free_bytes, 768);
        assert_int_equal(gh_heap_largest_free(&f.h), 768);
        HEAP_OK(&f.h);
        fx_close(&f);

        /* with the previous: free B, then C */
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, FIVE, 5, /* separated */ false, NULL, 0);
        gh_heap_free(&f.h, L.hole[1], "free");
        gh_heap_free(&f.h, L.hole[2], "free");
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        expect_free_block(&f.h, hdr(L.hole[1]), 512);
        HEAP_OK(&f.h);
        fx_close(&f);

        /* with the next: free D, then C */
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, FIVE, 5, /* separated */ false, NULL, 0);
        gh_heap_free(&f.h, L.hole[3], "free");
        gh_heap_free(&f.h, L.hole[2], "free");
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        expect_free_block(&f.h, hdr(L.hole[2]), 512);
        HEAP_OK(&f.h);

        /* ... and everything: one free block from the first block to the
         * end marker (the plug's space included). */
        gh_heap_free(&f.h, L.hole[0], "free");
        gh_heap_free(&f.h, L.hole[1], "free");
        gh_heap_free(&f.h, L.hole[4], "free");
        gh_heap_free(&f.h, L.plug, "free");
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        assert_int_equal(f.h.c->live_blocks, 0);
        assert_int_equal(f.h.c->free_bytes, f.h.c->heap_bytes - GH_REGION_OVERHEAD);
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

static void test_split(void **state)
{
    (void)state;
    static const size_t two[] = { 256, 256 };
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        struct layout L;
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, two, 2, /* separated */ true, NULL, 2);
        uint64_t live = f.h.c->live_block_bytes;

        /* 256 - 208 = 48 = GH_MIN_BLOCK: split, the remainder stays free. */
        void *a = gh_heap_alloc(&f.h, 192);
        assert_ptr_equal(a, L.hole[0]);
        assert_int_equal(block_size_of(a), 208);
        assert_int_equal(gh_heap_usable(&f.h, a), 192);
        expect_free_block(&f.h, (char *)hdr(a) + 208, GH_MIN_BLOCK);
        assert_int_equal(gh_heap_free_blocks(&f.h), 2);
        assert_int_equal(f.h.c->live_block_bytes, live + 208);

        /* 256 - 224 = 32 < GH_MIN_BLOCK: no split, the block keeps all 256. */
        void *b = gh_heap_alloc(&f.h, 208);
        assert_ptr_equal(b, L.hole[1]);
        assert_int_equal(block_size_of(b), 256);
        assert_int_equal(gh_heap_usable(&f.h, b), 240);
        assert_int_equal(gh_block_requested(gh_block_of(b)), 208);
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        assert_int_equal(f.h.c->live_block_bytes, live + 208 + 256);
        FILL(b, 240, 3); /* all of it is usable */
        HEAP_OK(&f.h);
        CONTENTS_OK(b, 240, 3);
        fx_close(&f);
    }
}

static void test_min_block_and_usable(void **state)
{
    (void)state;
    static const struct {
        size_t n, block, usable;
    } table[] = {
        { 0, 48, 32 }, { 1, 48, 32 }, { 16, 48, 32 }, { 32, 48, 32 }, { 33, 64, 48 },
        { 48, 64, 48 }, { 49, 80, 64 }, { 100, 128, 112 }, { 1000, 1024, 1008 },
    };
    struct fx f;
    fx_open(&f, ARENA, &gh_policy_best);
    uint64_t live_req = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        void *p = gh_heap_alloc(&f.h, table[i].n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % GH_ALIGN, 0);
        assert_int_equal(block_size_of(p), table[i].block);
        assert_int_equal(gh_heap_usable(&f.h, p), table[i].usable);
        assert_int_equal(gh_block_requested(gh_block_of(p)), table[i].n);
        live_req += table[i].n;
        assert_int_equal(f.h.c->live_requested, live_req);
        FILL(p, table[i].usable, i);
        assert_true(gh_heap_owns(&f.h, p));
    }
    HEAP_OK(&f.h);
    /* Too large: NULL, counted, nothing else changes. */
    uint64_t failures = f.h.c->failures, heap = f.h.c->heap_bytes;
    assert_null(gh_heap_alloc(&f.h, GH_MAX_REQUEST + 1));
    assert_null(gh_heap_alloc(&f.h, SIZE_MAX));
    assert_null(gh_heap_alloc(&f.h, f.len)); /* more than the arena */
    assert_int_equal(f.h.c->failures, failures + 3);
    assert_int_equal(f.h.c->heap_bytes, heap);
    HEAP_OK(&f.h);
    fx_close(&f);
}

/* ---- alignment ---- */

static void test_aligned(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 24, 100, 4000, 70000 };
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        fx_open(&f, 256u << 20, fit_policies[t]);
        struct {
            void *p;
            size_t usable;
        } b[200];
        size_t nb = 0;
        void *first = gh_heap_alloc(&f.h, 40); /* offset everything by a block */
        for (size_t align = 16; align <= ((size_t)1 << 22); align <<= 1) {
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                void *q = gh_heap_alloc_aligned(&f.h, align, sizes[s]);
                if (!q || (uintptr_t)q % align)
                    fail_msg("%s: align %zu size %zu: %p", pname(fit_policies[t]), align, sizes[s], q);
                assert_true(gh_heap_usable(&f.h, q) >= sizes[s]);
                assert_int_equal(gh_block_requested(gh_block_of(q)), sizes[s]);
                b[nb].p = q;
                b[nb].usable = gh_heap_usable(&f.h, q);
                FILL(q, b[nb].usable, nb);
                nb++;
                /* a small block in between, so holes of odd sizes form */
                if (s & 1) {
                    b[nb].p = gh_heap_alloc(&f.h, 16 * s);
                    b[nb].usable = gh_heap_usable(&f.h, b[nb].p);
                    FILL(b[nb].p, b[nb].usable, nb);
                    nb++;
                }
            }
            HEAP_OK(&f.h);
        }
        /* Free in an interleaved order; every block's contents intact. */
        for (size_t pass = 0; pass < 3; pass++)
            for (size_t i = pass; i < nb; i += 3) {
                CONTENTS_OK(b[i].p, b[i].usable, i);
                gh_heap_free(&f.h, b[i].p, "free");
                if (i % 16 == 0)
                    HEAP_OK(&f.h);
            }
        HEAP_OK(&f.h);
        /* All that is left: the first small block and one free block. */
        assert_int_equal(f.h.c->live_blocks, 1);
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        gh_heap_free(&f.h, first, "free");
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        assert_int_equal(f.h.c->free_bytes, f.h.c->heap_bytes - GH_REGION_OVERHEAD);
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

/* Aligned blocks keep their contents while their neighbours come and go. */
static void test_aligned_contents(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 64u << 20, &gh_policy_first);
    void *p[64];
    size_t usable[64];
    for (size_t i = 0; i < 64; i++) {
        size_t align = (size_t)16 << (i % 13);
        p[i] = gh_heap_alloc_aligned(&f.h, align, 100 + 37 * i);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % align, 0);
        usable[i] = gh_heap_usable(&f.h, p[i]);
        FILL(p[i], usable[i], 1000 + i);
    }
    HEAP_OK(&f.h);
    for (size_t i = 0; i < 64; i += 2)
        gh_heap_free(&f.h, p[i], "free");
    HEAP_OK(&f.h);
    for (size_t i = 1; i < 64; i += 2)
        CONTENTS_OK(p[i], usable[i], 1000 + i);
    for (size_t i = 1; i < 64; i += 2)
        gh_heap_free(&f.h, p[i], "free");
    HEAP_OK(&f.h);
    assert_int_equal(f.h.c->live_blocks, 0);
    assert_int_equal(gh_heap_free_blocks(&f.h), 1);
    fx_close(&f);
}

/* ---- resize ---- */

static void test_resize_shrink(void **state)
{
    (void)state;
    static const size_t sz[] = { 1024, 512 };
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        struct layout L;
        /* A (1024) then B (512) free, back to back, then the plug. */
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, sz, 2, /* separated */ false, (const int[]){ 1 }, 1);
        void *a = L.hole[0];
        FILL(a, 1008, 11);
        assert_true(gh_heap_resize(&f.h, a, 100, "realloc"));
        assert_int_equal(block_size_of(a), 128);
        assert_int_equal(gh_block_requested(gh_block_of(a)), 100);
        CONTENTS_OK(a, 112, 11);
        /* The tail (896) joined the free B (512): still one free block. */
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        expect_free_block(&f.h, (char *)hdr(a) + 128, 896 + 512);
        assert_int_equal(f.h.c->live_requested, 100 + (block_size_of(L.plug) - 16));
        HEAP_OK(&f.h);
        fx_close(&f);

        /* Next block in use: the tail becomes a free block of its own. */
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, sz, 2, /* separated */ false, NULL, 0);
        a = L.hole[0];
        FILL(a, 1008, 12);
        assert_true(gh_heap_resize(&f.h, a, 500, "realloc"));
        assert_int_equal(block_size_of(a), 528);
        expect_free_block(&f.h, (char *)hdr(a) + 528, 1024 - 528);
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        CONTENTS_OK(a, 500, 12);
        HEAP_OK(&f.h);
        /* A free next block takes even a tail smaller than a minimum
         * block (528 -> 496: 32 bytes join the 496 behind). */
        assert_true(gh_heap_resize(&f.h, a, 480, "realloc"));
        assert_int_equal(block_size_of(a), 496);
        assert_int_equal(gh_block_requested(gh_block_of(a)), 480);
        expect_free_block(&f.h, (char *)hdr(a) + 496, 528);
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        CONTENTS_OK(a, 480, 12);
        HEAP_OK(&f.h);
        /* Down to the minimum. */
        assert_true(gh_heap_resize(&f.h, a, 0, "realloc"));
        assert_int_equal(block_size_of(a), GH_MIN_BLOCK);
        expect_free_block(&f.h, (char *)hdr(a) + GH_MIN_BLOCK, 1024 - GH_MIN_BLOCK);
        HEAP_OK(&f.h);
        fx_close(&f);

        /* Next block in use and less than a minimum block to give back:
         * the block stays as it is, only the requested size changes. */
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, sz, 2, /* separated */ false, NULL, 0);
        a = L.hole[0];
        FILL(a, 1008, 13);
        uint64_t live_bytes = f.h.c->live_block_bytes, live_req = f.h.c->live_requested;
        assert_true(gh_heap_resize(&f.h, a, 990, "realloc")); /* 1008 of 1024 */
        assert_int_equal(block_size_of(a), 1024);
        assert_int_equal(gh_block_requested(gh_block_of(a)), 990);
        assert_int_equal(gh_heap_free_blocks(&f.h), 0);
        assert_int_equal(f.h.c->live_block_bytes, live_bytes);
        assert_int_equal(f.h.c->live_requested, live_req - 1008 + 990);
        CONTENTS_OK(a, 1008, 13); /* nothing was touched, not even the tail */
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

static void test_resize_grow_into_next(void **state)
{
    (void)state;
    static const size_t sz[] = { 256, 512, 256, 128 };
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        struct layout L;
        /* A (256) | B (512) free | C (256) | D (128) free | plug */
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, sz, 4, /* separated */ false, (const int[]){ 1, 3 }, 2);
        void *a = L.hole[0], *c = L.hole[2];
        FILL(a, 240, 21);
        FILL(c, 240, 22);
        uint64_t in_place = f.h.c->resize_in_place;

        /* A to 600 -> block 624 of 768: the 144 left over stays free. */
        assert_true(gh_heap_resize(&f.h, a, 600, "realloc"));
        assert_ptr_equal(hdr(a), hdr(L.hole[0]));
        assert_int_equal(block_size_of(a), 624);
        expect_free_block(&f.h, (char *)hdr(a) + 624, 144);
        assert_int_equal(gh_heap_free_blocks(&f.h), 2);
        CONTENTS_OK(a, 240, 21);
        assert_int_equal(f.h.c->resize_in_place, in_place + 1);
        HEAP_OK(&f.h);
        /* ... then to all of it (768): the free block is used up. */
        FILL(a, 608, 23);
        assert_true(gh_heap_resize(&f.h, a, 752, "realloc"));
        assert_int_equal(block_size_of(a), 768);
        assert_int_equal(gh_heap_free_blocks(&f.h), 1);
        CONTENTS_OK(a, 608, 23);
        HEAP_OK(&f.h);

        /* Refusal: C's free neighbour D (128) is too small for 400; C, D
         * and their contents are untouched. */
        uint64_t c_word = gh_block_of(c)->size_flags, c_tag = gh_block_of(c)->tag;
        uint64_t refused = f.h.c->resize_refused;
        assert_false(gh_heap_resize(&f.h, c, 400, "realloc"));
        assert_int_equal(gh_block_of(c)->size_flags, c_word);
        assert_int_equal(gh_block_of(c)->tag, c_tag);
        CONTENTS_OK(c, 240, 22);
        expect_free_block(&f.h, hdr(L.hole[3]), 128);
        assert_int_equal(f.h.c->resize_refused, refused + 1);
        HEAP_OK(&f.h);
        /* Refusal with an allocated neighbour: A's next is now C. */
        assert_false(gh_heap_resize(&f.h, a, 800, "realloc"));
        assert_int_equal(block_size_of(a), 768);
        CONTENTS_OK(a, 608, 23);
        /* Too large to ever fit. */
        assert_false(gh_heap_resize(&f.h, a, SIZE_MAX, "realloc"));
        assert_false(gh_heap_resize(&f.h, a, GH_MAX_REQUEST + 1, "realloc"));
        CONTENTS_OK(a, 608, 23);
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

/* The last block of the heap grows by extending the region in place. */
static void test_resize_grow_at_top(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        struct fx f;
        struct layout L;
        fx_open(&f, ARENA, fit_policies[t]);
        build(&f.h, &L, FIVE, 5, /* separated */ false, NULL, 0);
        void *p = L.plug;
        size_t old = block_size_of(p);
        FILL(p, old - 16, 31);
        size_t used = f.src.arena_used;
        assert_true(gh_heap_resize(&f.h, p, old + 300000, "realloc"));
        assert_ptr_equal(hdr(p), hdr(L.plug));
        assert_int_equal(block_size_of(p), gh_block_size_for(old + 300000));
        assert_true(f.src.arena_used > used);
        assert_int_equal(f.h.c->heap_bytes, f.src.arena_used);
        assert_int_equal(f.h.c->regions_extended, 1);
        assert_int_equal(f.h.c->regions_added, 1);
        CONTENTS_OK(p, old - 16, 31);
        FILL(p, old + 300000, 32);
        HEAP_OK(&f.h);
        CONTENTS_OK(p, old + 300000, 32);
        fx_close(&f);
    }
}

/* At the top of a full arena the region cannot grow: refused, intact. */
static void test_resize_refused_when_source_is_full(void **state)
{
    (void)state;
    struct fx f;
    struct layout L;
    fx_open(&f, 1u << 20, &gh_policy_first);
    f.h.top_pad = 0;
    build(&f.h, &L, FIVE, 5, /* separated */ false, NULL, 0);
    void *p = L.plug;
    size_t old = block_size_of(p), used = f.src.arena_used;
    FILL(p, old - 16, 41);
    struct gh_block saved = *gh_block_of(p);
    assert_false(gh_heap_resize(&f.h, p, 2u << 20, "realloc"));
    assert_int_equal(gh_block_of(p)->size_flags, saved.size_flags);
    assert_int_equal(gh_block_of(p)->tag, saved.tag);
    assert_int_equal(f.src.arena_used, used);
    CONTENTS_OK(p, old - 16, 41);
    HEAP_OK(&f.h);
    /* and allocation fails the same way, leaving everything intact */
    assert_null(gh_heap_alloc(&f.h, 2u << 20));
    CONTENTS_OK(p, old - 16, 41);
    HEAP_OK(&f.h);
    fx_close(&f);
}

/* ---- trimming ---- */

/* Trimming with a live block at the top gives nothing back. */
static void test_trim_nothing_free_at_top(void **state)
{
    (void)state;
    struct fx f;
    struct layout L;
    fx_open(&f, ARENA, &gh_policy_first);
    build(&f.h, &L, FIVE, 5, /* separated */ true, NULL, 5);
    size_t used = f.src.arena_used;
    assert_int_equal(gh_heap_trim(&f.h, 0), 0);
    assert_int_equal(f.src.arena_used, used);
    assert_int_equal(f.h.c->trims, 0);
    HEAP_OK(&f.h);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement_table),
        cmocka_unit_test(test_placement_ties),
        cmocka_unit_test(test_next_fit_rover),
        cmocka_unit_test(test_placement_grows_at_top),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_min_block_and_usable),
        cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_aligned_contents),
        cmocka_unit_test(test_resize_shrink),
        cmocka_unit_test(test_resize_grow_into_next),
        cmocka_unit_test(test_resize_grow_at_top),
        cmocka_unit_test(test_resize_refused_when_source_is_full),
        cmocka_unit_test(test_trim_nothing_free_at_top),
    };
    int failed = cmocka_run_group_tests_name("heap", tests, NULL, NULL);
    gh_os_fail_reset();
    return failed;
}
