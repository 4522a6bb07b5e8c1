/* test_pheap.c - the bins' pairing heaps of pheap.c.
 *
 * Proves: seeded random sequences of inserts, removals of the root and
 * removals of any node keep the root equal to the lowest address of a
 * brute-force set, the count equal to its size, the walk visiting each
 * node once and gh_pheap_check passing after every single operation, with
 * ascending, descending and random insertion orders, and that either sorted
 * order makes a path, each removal of the lowest stepping onto a node or
 * two (counted by the core built with GH_TREE_VISITS); that gh_pheap_check
 * fails on a wrong count, a link that does not point back, a child below
 * its parent, a node of another size, a cycle and a link out of bounds; and
 * that a removal stops with "corrupted free list at <node>" on a link of
 * user data or a node that is not in the heap.
 *
 * The nodes live in fake blocks as in test_tree.c: a size word, the node
 * 16 bytes in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pheap.h"
#include "../child_stderr.h"

#define SLOT_BYTES 48u
#define MAX_SLOTS 4096u
#define SIZE 176u

static _Alignas(16) unsigned char buf[MAX_SLOTS * SLOT_BYTES];
static bool in[MAX_SLOTS];
static size_t nin;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static struct gh_pnode *node(size_t i)
{
    return (struct gh_pnode *)(buf + i * SLOT_BYTES + 16);
}

static size_t slot_of(const struct gh_pnode *n)
{
    size_t off = (size_t)((const unsigned char *)n - buf) - 16;
    assert_true(off % SLOT_BYTES == 0 && off / SLOT_BYTES < MAX_SLOTS);
    return off / SLOT_BYTES;
}

/* The heap's bounds: the buffer, as region.c gives a heap its regions. */
static struct gh_tree_bounds in_buf, narrow;

static void bounds(struct gh_tree_bounds *b, size_t len)
{
    memset(b, 0, sizeof *b);
    b->lo = (uintptr_t)buf;
    b->hi = (uintptr_t)buf + len;
    b->fn = "malloc";
    gh_tree_bounds_changed(b);
}

static void reset(struct gh_pheap *h)
{
    memset(buf, 0, sizeof buf);
    memset(in, 0, sizeof in);
    nin = 0;
    for (size_t i = 0; i < MAX_SLOTS; i++)
        *(uint64_t *)(buf + i * SLOT_BYTES) = SIZE | 1u; /* a flag bit the heap must ignore */
    gh_pheap_init(h);
    bounds(&in_buf, sizeof buf);
    gh_pheap_set_bounds(h, &in_buf);
}

static bool count_one(void *ctx, struct gh_pnode *n)
{
    unsigned char *seen = ctx;
    size_t i = slot_of(n);
    assert_true(in[i]);
    seen[i]++;
    return true;
}

static void agree(const struct gh_pheap *h)
{
    const char *why = NULL;
    if (!gh_pheap_check(h, SIZE, &why))
        fail_msg("gh_pheap_check: %s", why);
    assert_int_equal(h->count, nin);
    size_t low = MAX_SLOTS;
    for (size_t i = 0; i < MAX_SLOTS && low == MAX_SLOTS; i++)
        if (in[i])
            low = i;
    if (low == MAX_SLOTS)
        assert_null(gh_pheap_min(h));
    else
        assert_ptr_equal(gh_pheap_min(h), node(low));
}

static void agree_walk(const struct gh_pheap *h)
{
    static unsigned char seen[MAX_SLOTS];
    memset(seen, 0, sizeof seen);
    gh_pheap_walk(h, count_one, seen);
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        assert_int_equal(seen[i], in[i] ? 1 : 0);
        if (in[i])
            assert_true(gh_pheap_linked(h, node(i)));
    }
}

static void add(struct gh_pheap *h, size_t i)
{
    gh_pheap_insert(h, node(i));
    in[i] = true;
    nin++;
}

static void drop(struct gh_pheap *h, size_t i)
{
    gh_pheap_remove(h, node(i));
    in[i] = false;
    nin--;
}

static size_t random_in(void)
{
    for (;;) {
        size_t i = (size_t)(rnd() % MAX_SLOTS);
        if (in[i])
            return i;
    }
}

static void test_random(void **state)
{
    (void)state;
    static struct gh_pheap h;
    const char *env = getenv("GH_TEST_OPS"); /* fewer under memcheck */
    int ops = env ? atoi(env) : 20000;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        rng_state = seed;
        reset(&h);
        for (int op = 0; op < ops; op++) {
            uint64_t r = rnd() % 10;
            if (nin == 0 || (r < 6 && nin < 3000)) { /* grows to thousands */
                size_t i;
                do
                    i = (size_t)(rnd() % MAX_SLOTS);
                while (in[i]);
                add(&h, i);
            } else if (r < 7) {
                drop(&h, slot_of(gh_pheap_min(&h))); /* take the lowest, as best fit does */
            } else {
                drop(&h, random_in()); /* a neighbour merged away */
            }
            agree(&h);
            if (op % 1000 == 0)
                agree_walk(&h);
        }
        agree_walk(&h);
        while (nin)
            drop(&h, slot_of(gh_pheap_min(&h))), agree(&h);
    }
}

static void test_sorted_orders(void **state)
{
    (void)state;
    static struct gh_pheap h;
    for (int order = 0; order < 2; order++) {
        reset(&h);
        for (size_t j = 0; j < 1000; j++)
            add(&h, order ? 999 - j : j);
        agree(&h);
        agree_walk(&h);
        for (size_t j = 0; j < 1000; j++) {
            assert_ptr_equal(gh_pheap_min(&h), node(j));
            uint64_t v = gh_tree_visits;
            drop(&h, j);
            /* either order made a path: each removal of the lowest steps
             * onto a node or two, never a long list of children */
            if (gh_tree_visits - v > 4)
                fail_msg("removing the lowest of %zu (%s) visited %llu nodes", 1000 - j,
                         order ? "descending" : "ascending", (unsigned long long)(gh_tree_visits - v));
            agree(&h);
        }
        assert_int_equal(h.count, 0);
    }
}

/* Frees in random order, then the lowest taken again and again: the
 * inserts did the pairing as they went (pheap.c's carry), so no removal
 * pays for all of them at once, and the tournament left the root a short
 * list: every removal within 6 log2(n). */
static void test_random_order_no_pause(void **state)
{
    (void)state;
    static struct gh_pheap h;
    static size_t order[MAX_SLOTS];
    reset(&h);
    rng_state = 5;
    for (size_t i = 0; i < MAX_SLOTS; i++)
        order[i] = i;
    for (size_t i = MAX_SLOTS - 1; i > 0; i--) {
        size_t j = (size_t)(rnd() % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < MAX_SLOTS; i++)
        add(&h, order[i]);
    agree(&h);
    uint64_t worst = 0;
    for (size_t j = 0; j < MAX_SLOTS; j++) {
        uint64_t v = gh_tree_visits;
        drop(&h, slot_of(gh_pheap_min(&h)));
        if (gh_tree_visits - v > worst)
            worst = gh_tree_visits - v;
    }
    agree(&h);
    printf("worst removal of the lowest of %u: %llu nodes\n", MAX_SLOTS, (unsigned long long)worst);
    if (worst > 6 * 12) /* log2(4096) = 12 */
        fail_msg("a removal of the lowest visited %llu nodes", (unsigned long long)worst);
}

/* A heap of 64 nodes, some removals done so that it has depth. */
static void shaped(struct gh_pheap *h)
{
    reset(h);
    rng_state = 99;
    for (size_t j = 0; j < 64; j++)
        add(h, 64 + (size_t)(rnd() % 60) * 64 + j); /* slots 0-63 stay out */
    drop(h, slot_of(gh_pheap_min(h)));
    agree(h);
}

/* Some node below the root with a first child. */
static struct gh_pnode *inner(const struct gh_pheap *h)
{
    for (size_t i = 0; i < MAX_SLOTS; i++)
        if (in[i] && node(i) != h->root && node(i)->child)
            return node(i);
    fail_msg("no inner node");
    return NULL;
}

static void broken(const struct gh_pheap *h)
{
    const char *why = NULL;
    assert_false(gh_pheap_check(h, SIZE, &why));
    assert_non_null(why);
}

static void test_check_fails(void **state)
{
    (void)state;
    static struct gh_pheap h;
    shaped(&h);
    h.count++;
    broken(&h);
    h.count -= 2;
    broken(&h);
    h.count++;
    agree(&h);

    struct gh_pnode *x = inner(&h), *c = x->child;
    c->prev = h.root; /* does not point back */
    broken(&h);
    c->prev = x;
    agree(&h);

    struct gh_pnode *lowc = node(0); /* a child below its parent: slot 0 is below every node */
    assert_false(in[0]);
    memcpy(lowc, c, sizeof *lowc);
    x->child = lowc;
    if (c->child)
        c->child->prev = lowc;
    if (c->sib)
        c->sib->prev = lowc;
    broken(&h);
    x->child = c;
    if (c->child)
        c->child->prev = c;
    if (c->sib)
        c->sib->prev = c;
    agree(&h);

    uint64_t *w = (uint64_t *)((unsigned char *)c - 16);
    *w += 16; /* another size */
    broken(&h);
    *w -= 16;
    agree(&h);

    struct gh_pnode *keep = c->child;
    c->child = x; /* a link back up: a cycle */
    broken(&h);
    c->child = keep;
    agree(&h);

    keep = x->sib;
    x->sib = (struct gh_pnode *)((uintptr_t)buf + sizeof buf + 16); /* past the heap's end */
    broken(&h);
    x->sib = keep;
    agree(&h);

    bounds(&narrow, 64 * SLOT_BYTES); /* only slots 0-63: every node out of bounds */
    gh_pheap_set_bounds(&h, &narrow);
    broken(&h);
    gh_pheap_set_bounds(&h, &in_buf);
    agree(&h);
}

static struct gh_pheap D;

static void remove_min(void *arg)
{
    (void)arg;
    gh_pheap_remove(&D, gh_pheap_min(&D));
}

static void remove_arg(void *arg)
{
    gh_pheap_remove(&D, arg);
}

static void expect_death(void (*fn)(void *), void *arg, const void *at)
{
    char err[512], want[160];
    int st = gh_t_child(fn, arg, err, sizeof err);
    snprintf(want, sizeof want, "glassheap: malloc(): corrupted free list at %p\n", at);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT || strcmp(err, want) != 0)
        fail_msg("child status %#x, stderr \"%s\"; want SIGABRT and \"%s\"", st, err, want);
}

static void test_bad_links_stop(void **state)
{
    (void)state;
    shaped(&D);
    struct gh_pnode *r = D.root;
    struct gh_pnode *keep = r->child;
    r->child = (struct gh_pnode *)(uintptr_t)0x4141414141414140ULL; /* user data */
    expect_death(remove_min, NULL, r);
    r->child = keep;
    agree(&D);

    struct gh_pnode *x = inner(&D), *s = x->child;
    struct gh_pnode *keep_sib = s->sib;
    s->sib = node(1); /* a sibling that does not point back */
    expect_death(remove_arg, s, s);
    s->sib = keep_sib;
    agree(&D);

    assert_false(in[2]);
    memset(node(2), 0, sizeof *node(2));
    assert_false(gh_pheap_linked(&D, node(2)));
    expect_death(remove_arg, node(2), node(2)); /* not in the heap */
    node(2)->prev = x; /* says it is, but x does not point to it */
    expect_death(remove_arg, node(2), node(2));
    agree(&D);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_sorted_orders),
        cmocka_unit_test(test_random_order_no_pause),
        cmocka_unit_test(test_check_fails),
        cmocka_unit_test(test_bad_links_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
