/* test_guard.c - the checks that keep a corrupted heap from being used
 * (docs/errors.md), white-box on arena heaps, each in a forked child that
 * must die of SIGABRT with its exact line (tests/child_stderr.h).
 *
 * Proves: a fit index link of user data (0x4141...), a misaligned link, a
 * link on the wrong side of its parent and a link cycle stop the next
 * search with "malloc(): corrupted free list at <node>" under every fit
 * policy, and so does user data in a link of best fit's bin heaps;
 * buddy's one-byte overflow of issue 11 (size byte 0x40 -> 0x41 on
 * the next block, whose payload holds a write-what-where's two targets)
 * stops at the free with "corrupted neighbour", and the same forged as a
 * valid free header (the test knows the secret: 0) is stopped by the
 * unlink's back-pointer check ("corrupted free list"); a fake previous
 * footer - far outside the heap, or leading to a block that is not free -
 * is bounds-checked before it is followed ("corrupted neighbour"); a
 * corrupted requested size is a corrupted header.  Every heap passes its
 * checker just before the corruption, so each line comes from it alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_util.h"
#include "../child_stderr.h"

#define ARENA (8u << 20)

/* Expect fn(arg) in a child to die of SIGABRT with exactly `want` + "\n". */
static void expect_line(void (*fn)(void *), void *arg, const char *line_want)
{
    char err[512];
    int st = gh_t_child(fn, arg, err, sizeof err);
    char line[320];
    snprintf(line, sizeof line, "%s\n", line_want);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT || strcmp(err, line) != 0)
        fail_msg("child status %#x, stderr \"%s\"; want SIGABRT and \"%s\"", st, err, line_want);
}

static char want[256];

static void expect_at(void (*fn)(void *), void *arg, const char *fmt, const void *at)
{
    snprintf(want, sizeof want, fmt, at);
    expect_line(fn, arg, want);
}

/* ---- fit index links ---- */

struct links {
    struct fx f;
    void *p[8];
    struct gh_tnode *root;
};

/* Blocks 0..7 of different sizes; 1, 3, 5 freed (fenced by live ones).
 * All above best fit's exact-size bins (policy.h), so that under every
 * policy they are nodes of the one tree the search walks. */
static void links_open(struct links *l, const struct gh_policy_ops *ops)
{
    fx_open(&l->f, ARENA, ops);
    for (int i = 0; i < 8; i++)
        l->p[i] = gh_heap_alloc(&l->f.h, GH_POLICY_BIN_MAX + 100 + 50 * (size_t)i);
    for (int i = 1; i < 8; i += 2)
        if (i != 7)
            gh_heap_free(&l->f.h, l->p[i], "free");
    HEAP_OK(&l->f.h);
    l->root = l->f.h.policy.tree.root;
    assert_non_null(l->root);
}

static struct links L;

static void search(void *arg)
{
    (void)arg;
    gh_heap_alloc(&L.f.h, GH_POLICY_BIN_MAX + 120);
}

static void test_link_user_data(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        links_open(&L, fit_policies[t]);
        L.root->left = L.root->right = (struct gh_tnode *)(uintptr_t)0x4141414141414141ULL;
        expect_at(search, NULL, "glassheap: malloc(): corrupted free list at %p", L.root);
        fx_close(&L.f);
    }
}

static void test_link_misaligned(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        links_open(&L, fit_policies[t]);
        struct gh_tnode *c = L.root->left ? L.root->left : L.root->right;
        assert_non_null(c);
        if (L.root->left)
            L.root->left = (struct gh_tnode *)((char *)c + 8);
        else
            L.root->right = (struct gh_tnode *)((char *)c + 8);
        L.root->aux |= ((uint64_t)1 << 40) - 1; /* every search goes down */
        expect_at(search, NULL, "glassheap: malloc(): corrupted free list at %p", L.root);
        fx_close(&L.f);
    }
}

static void test_link_wrong_side_and_cycle(void **state)
{
    (void)state;
    /* By address: a left child above its parent. */
    links_open(&L, &gh_policy_first);
    L.root->left = L.root->right ? L.root->right : L.root;
    L.root->aux |= ((uint64_t)1 << 40) - 1;
    expect_at(search, NULL, "glassheap: malloc(): corrupted free list at %p", L.root);
    fx_close(&L.f);
    /* By size: a node that is its own left child - a cycle; every node fits. */
    links_open(&L, &gh_policy_best);
    L.root->left = L.root;
    L.root->right = NULL;
    expect_at(search, NULL, "glassheap: malloc(): corrupted free list at %p", L.root);
    fx_close(&L.f);
}

/* Best fit's exact-size bins: user data in a bin heap's link stops the
 * malloc that takes the bin's lowest block. */
static void bin_take(void *arg)
{
    gh_heap_alloc(&L.f.h, *(size_t *)arg);
}

static void test_bin_link_user_data(void **state)
{
    (void)state;
    fx_open(&L.f, ARENA, &gh_policy_best);
    size_t want_size = 160;
    for (int i = 0; i < 8; i++)
        L.p[i] = gh_heap_alloc(&L.f.h, want_size);
    for (int i = 0; i < 8; i += 2) /* four of one size, fenced: one bin */
        gh_heap_free(&L.f.h, L.p[i], "free");
    HEAP_OK(&L.f.h);
    struct gh_block *b = gh_block_of(L.p[0]);
    int k = gh_policy_bin_of(&L.f.h.policy, gh_block_size(b));
    assert_true(k >= 0);
    struct gh_pheap *bin = &L.f.h.policy.bins[k];
    assert_int_equal(bin->count, 4);
    struct gh_pnode *r = bin->root;
    assert_non_null(r->child);
    r->child = (struct gh_pnode *)(uintptr_t)0x4141414141414140ULL;
    expect_at(bin_take, &want_size, "glassheap: malloc(): corrupted free list at %p", r);
    fx_close(&L.f);
}

/* ---- buddy ---- */

static struct fx B;
static unsigned char *ba, *bb;
static uint64_t target1, target2;

static void buddy_open(void)
{
    fx_open(&B, ARENA, &gh_policy_first);
    gh_heap_init_buddy(&B.h, &B.src, 16);
    ba = gh_heap_alloc(&B.h, 40);
    bb = gh_heap_alloc(&B.h, 40);
    assert_int_equal(block_size_of(ba), 64);
    assert_ptr_equal(bb, ba + 64); /* a is the lower buddy of b */
    HEAP_OK(&B.h);
}

static void buddy_free_a(void *arg)
{
    (void)arg;
    gh_heap_free(&B.h, ba, "free");
}

static void test_buddy_one_byte_overflow(void **state)
{
    (void)state;
    buddy_open();
    /* b's payload would be its list node if b were free: aim it. */
    struct gh_buddy_node *n = (struct gh_buddy_node *)bb;
    n->next = (struct gh_buddy_node *)&target1;
    n->prev = (struct gh_buddy_node *)&target2;
    size_t usable = gh_heap_usable(&B.h, ba);
    assert_int_equal(ba[usable], 0x40);
    ba[usable] = 0x41; /* b's size byte: 64 | FREE */
    expect_at(buddy_free_a, NULL, "glassheap: free(): corrupted neighbour of block %p", ba);
    fx_close(&B);
}

static void test_buddy_forged_free_header(void **state)
{
    (void)state;
    buddy_open();
    /* With the secret (0 here) a valid free header of order 6 can be forged;
     * its links still have to point back. */
    gh_block_set(gh_block_of(bb), 64 | GH_FLAG_FREE, 0);
    struct gh_buddy_node *n = (struct gh_buddy_node *)bb;
    n->next = (struct gh_buddy_node *)(bb + 64); /* in the heap, but does not point back */
    n->prev = NULL;
    expect_at(buddy_free_a, NULL, "glassheap: free(): corrupted free list at %p", bb);
    fx_close(&B);
}

/* ---- fit boundary tags ---- */

static struct fx F;
static unsigned char *fp, *fq;

static void fit_open(const struct gh_policy_ops *ops)
{
    fx_open(&F, ARENA, ops);
    void *fence = gh_heap_alloc(&F.h, 64);
    fp = gh_heap_alloc(&F.h, 200);
    fq = gh_heap_alloc(&F.h, 200);
    fence = gh_heap_alloc(&F.h, 64);
    (void)fence;
    assert_ptr_equal(fq, fp + block_size_of(fp));
    gh_heap_free(&F.h, fp, "free"); /* q's PREV_FREE is set: its footer leads back */
    HEAP_OK(&F.h);
}

static void fit_free_q(void *arg)
{
    (void)arg;
    gh_heap_free(&F.h, fq, "free");
}

static void test_fake_footer(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_FIT_POLICIES; t++) {
        /* Far outside the heap: bounds-checked, never followed. */
        fit_open(fit_policies[t]);
        uint64_t *foot = (uint64_t *)(fq - GH_HEADER_SIZE) - 1;
        *foot = (uint64_t)1 << 44;
        expect_at(fit_free_q, NULL, "glassheap: free(): corrupted neighbour of block %p", fq);
        fx_close(&F);
        /* Inside the heap, at a live block (the fence before p). */
        fit_open(fit_policies[t]);
        foot = (uint64_t *)(fq - GH_HEADER_SIZE) - 1;
        *foot = (*foot & GH_FLAG_MASK) | (block_size_of(fp) + 64);
        expect_at(fit_free_q, NULL, "glassheap: free(): corrupted neighbour of block %p", fq);
        fx_close(&F);
    }
}

static void test_requested_size(void **state)
{
    (void)state;
    fit_open(&gh_policy_best);
    struct gh_block *q = gh_block_of(fq);
    q->tag += 1 << 20; /* a requested size far beyond the block */
    expect_at(fit_free_q, NULL, "glassheap: free(): corrupted header of block %p", fq);
    fx_close(&F);
}

/* A flag changed through the library keeps a sound header sound, and does
 * not make a corrupted one sound again: the check moves by the flags' keyed
 * words instead of being computed anew (block.h). */
static void test_flags_keep_check(void **state)
{
    (void)state;
    _Alignas(16) uint64_t mem[8] = { 0 };
    struct gh_block *b = (struct gh_block *)mem;
    gh_block_set(b, 64, 40);
    assert_true(gh_block_valid(b));
    gh_block_set_flags(b, GH_FLAG_PREV_FREE, 0);
    assert_true(gh_block_valid(b));
    assert_true(gh_block_prev_free(b));
    assert_int_equal(gh_block_size(b), 64);
    assert_int_equal(gh_block_requested(b), 40);
    gh_block_set_flags(b, 0, GH_FLAG_PREV_FREE);
    assert_true(gh_block_valid(b));
    assert_false(gh_block_prev_free(b));
    b->size_flags ^= GH_FLAG_FREE; /* a flag flipped by a stray write */
    assert_false(gh_block_valid(b));
    gh_block_set_flags(b, GH_FLAG_PREV_FREE, 0);
    assert_false(gh_block_valid(b));
    gh_block_set(b, 64, 40);
    b->size_flags += 16; /* a size changed by a stray write */
    gh_block_set_flags(b, GH_FLAG_PREV_FREE, 0);
    assert_false(gh_block_valid(b));
    gh_block_set(b, 64, 40);
    b->tag += 8; /* a requested size changed by a stray write */
    gh_block_set_flags(b, 0, GH_FLAG_PREV_FREE);
    assert_false(gh_block_valid(b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_keep_check),
        cmocka_unit_test(test_link_user_data),
        cmocka_unit_test(test_link_misaligned),
        cmocka_unit_test(test_link_wrong_side_and_cycle),
        cmocka_unit_test(test_bin_link_user_data),
        cmocka_unit_test(test_buddy_one_byte_overflow),
        cmocka_unit_test(test_buddy_forged_free_header),
        cmocka_unit_test(test_fake_footer),
        cmocka_unit_test(test_requested_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
