/* test_random.c - a seeded random stress of one policy on the arena.
 *
 * Usage: test_random <first|next|best|worst|buddy>   (CTest: unit_random_<policy>)
 * Environment: GH_TEST_OPS (default 1000000; 20000 in GH_CHECKS builds,
 * where the heap checks itself after every operation), GH_TEST_SEED
 * (default fixed per policy), GH_TEST_ARENA_MB (default 8192, mmap'd
 * MAP_NORESERVE).
 *
 * Proves: over GH_TEST_OPS operations - alloc, aligned alloc, realloc
 * (resize in place, or allocate-copy-free when refused) and free - with
 * sizes from 0 to 1 MiB skewed small (90% < 512 B, 9% < 64 KiB, 1% up to
 * 1 MiB) and at most MAX_LIVE blocks live, the heap never hands out
 * overlapping or misaligned memory and never damages a block: every block
 * is filled over its whole usable size with a pattern of its own when it is
 * allocated and checked byte for byte before it is resized or freed (and
 * all of them at the end).  gh_heap_check runs every CHECK_EVERY operations
 * and at the end, and the heap's counters match the shadow model there.
 *
 * Contents: byte i of a block is PAT[off + i], PAT random bytes made once
 * and off chosen per block, so filling and checking are memcpy/memcmp (fast
 * even in -O0 sanitizer builds) and a block moved or shifted by any amount
 * reads wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <glassheap/policies.h>

#include "unit_util.h"

#define MAX_LIVE    5000
#define CHECK_EVERY 10000
#define MAX_SIZE    ((size_t)1 << 20)
#define PAT_OFFSETS ((size_t)1 << 20)
/* > largest usable size: a buddy block for MAX_SIZE plus alignment slack
 * can be 4 MiB (2^BUDDY_MAX_ORDER) */
#define PAT_BYTES   (PAT_OFFSETS + ((size_t)4 << 20))

#ifdef GH_CHECKS
#define DEFAULT_OPS 20000ULL
#else
#define DEFAULT_OPS 1000000ULL
#endif

static unsigned char *PAT;

struct shadow {
    void *p;
    size_t n;       /* requested */
    size_t usable;  /* bytes filled */
    size_t align;
    size_t off;     /* into PAT */
};

static struct shadow live[MAX_LIVE];
static size_t nlive;
static uint64_t live_requested;

static const struct gh_policy_ops *policy; /* its line of the policy table */
static const char *policy_name;
/* Buddy: chunks of 4 MiB hold the largest request (1 MiB) with any
 * alignment the test asks for. */
#define BUDDY_MAX_ORDER 22u
static uint64_t rng;
static unsigned long long total_ops;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dULL;
}

/* 0..1 MiB: 90% below 512, 9% below 64 KiB, 1% up to 1 MiB. */
static size_t random_size(void)
{
    unsigned r = (unsigned)(rnd() % 100);
    if (r < 90)
        return (size_t)(rnd() % 512);
    if (r < 99)
        return (size_t)(rnd() % (64u << 10));
    return (size_t)(rnd() % (MAX_SIZE + 1));
}

static size_t random_align(void)
{
    /* 32 .. 64 KiB, sometimes far larger */
    if (rnd() % 64 == 0)
        return (size_t)1 << (17 + rnd() % 4);
    return (size_t)32 << (rnd() % 12);
}

static unsigned long long env_ull(const char *name, unsigned long long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    if (*end)
        fail_msg("bad %s=%s", name, v);
    return x;
}

static void pat_fill(const struct shadow *s, size_t from, size_t to)
{
    assert_true(to <= PAT_BYTES - s->off);
    memcpy((char *)s->p + from, PAT + s->off + from, to - from);
}

static void verify(const struct shadow *s, size_t upto, unsigned long long op)
{
    if (memcmp(s->p, PAT + s->off, upto) == 0)
        return;
    size_t bad = 0;
    while (((unsigned char *)s->p)[bad] == PAT[s->off + bad])
        bad++;
    fail_msg("op %llu: block %p (requested %zu, usable %zu) damaged at byte %zu", op, s->p, s->n, s->usable, bad);
}

static void note_new(struct gh_heap *h, struct shadow *s, void *p, size_t n, size_t align, unsigned long long op)
{
    if (!p)
        fail_msg("op %llu: allocation of %zu (align %zu) failed", op, n, align);
    if ((uintptr_t)p % (align > GH_ALIGN ? align : GH_ALIGN))
        fail_msg("op %llu: %p is not aligned to %zu", op, p, align);
    s->p = p;
    s->n = n;
    s->align = align;
    s->usable = gh_heap_usable(h, p);
    if (s->usable < n)
        fail_msg("op %llu: usable %zu < requested %zu", op, s->usable, n);
    s->off = (size_t)(rnd() % PAT_OFFSETS);
    pat_fill(s, 0, s->usable);
    live_requested += n;
}

/* Bytes of the block holding payload p (a buddy aligned payload sits
 * behind a proxy header that points back to its block). */
static size_t block_bytes(const void *p)
{
    const struct gh_block *b = gh_block_of(p);
    if (b->size_flags & GH_FLAG_INNER)
        b = (const struct gh_block *)((const char *)b - gh_block_size(b));
    return gh_block_size(b);
}

static void full_check(struct gh_heap *h, unsigned long long op)
{
    const char *why = NULL;
    const void *where = NULL;
    if (!gh_heap_check(h, &why, &where))
        fail_msg("op %llu (%s): gh_heap_check: %s at %p", op, policy_name, why, where);
    HEAP_OK(h);
    assert_int_equal(h->c->live_blocks, nlive);
    assert_int_equal(h->c->live_requested, live_requested);
    uint64_t bytes = 0;
    for (size_t i = 0; i < nlive; i++)
        bytes += block_bytes(live[i].p);
    assert_int_equal(h->c->live_block_bytes, bytes);
}

static void drop(struct gh_heap *h, size_t i, unsigned long long op)
{
    verify(&live[i], live[i].usable, op);
    gh_heap_free(h, live[i].p, "free");
    live_requested -= live[i].n;
    live[i] = live[--nlive];
}

static void reallocate(struct gh_heap *h, size_t i, unsigned long long op)
{
    struct shadow *s = &live[i];
    size_t n = random_size();
    verify(s, s->usable, op);
    size_t old_usable = s->usable;
    if (gh_heap_resize(h, s->p, n, "realloc")) {
        size_t u = gh_heap_usable(h, s->p);
        if (u < n)
            fail_msg("op %llu: resized usable %zu < %zu", op, u, n);
        /* in place: what fits is still there; the rest gets the pattern */
        size_t keep = u < old_usable ? u : old_usable;
        verify(s, keep, op);
        s->usable = u;
        pat_fill(s, keep, u);
        live_requested += n - s->n;
        s->n = n;
        return;
    }
    /* refused: the block is untouched; move it */
    if (gh_heap_usable(h, s->p) != old_usable)
        fail_msg("op %llu: a refused resize changed the block", op);
    void *q = gh_heap_alloc(h, n);
    if (!q)
        fail_msg("op %llu: allocation of %zu for a move failed", op, n);
    size_t u = gh_heap_usable(h, q);
    size_t keep = u < old_usable ? u : old_usable;
    memcpy(q, s->p, keep);
    gh_heap_free(h, s->p, "realloc");
    live_requested -= s->n;
    s->p = q;
    s->n = n;
    s->usable = u;
    live_requested += n;
    verify(s, keep, op);
    pat_fill(s, keep, u);
}

static void run(void **state)
{
    (void)state;
    unsigned long long ops = total_ops;
    size_t arena = (size_t)env_ull("GH_TEST_ARENA_MB", 8192) << 20;
    struct fx *f = malloc(sizeof *f);
    assert_non_null(f);
    fx_open(f, arena, policy);
    /* Buddy sizes its chunks from the largest request; fit ignores it. */
    assert_true(gh_heap_init_named(&f->h, &f->src, policy_name, ((size_t)1 << BUDDY_MAX_ORDER) - GH_HEADER_SIZE));
    struct gh_heap *h = &f->h;
    nlive = 0;
    live_requested = 0;

    for (unsigned long long op = 0; op < ops; op++) {
        unsigned kind = (unsigned)(rnd() % 100);
        if (nlive == MAX_LIVE || (nlive > 0 && kind < 35)) {
            drop(h, (size_t)(rnd() % nlive), op);
        } else if (nlive > 0 && kind < 55) {
            reallocate(h, (size_t)(rnd() % nlive), op);
        } else if (kind < 60) {
            size_t align = random_align(), n = random_size();
            note_new(h, &live[nlive++], gh_heap_alloc_aligned(h, align, n), n, align, op);
        } else {
            size_t n = random_size();
            note_new(h, &live[nlive++], gh_heap_alloc(h, n), n, GH_ALIGN, op);
        }
        if ((op + 1) % CHECK_EVERY == 0)
            full_check(h, op);
    }
    full_check(h, ops);
    for (size_t i = 0; i < nlive; i++)
        verify(&live[i], live[i].usable, ops);
    while (nlive > 0)
        drop(h, nlive - 1, ops);
    full_check(h, ops);
    assert_int_equal(h->c->live_blocks, 0);
    assert_int_equal(h->c->live_requested, 0);
    assert_int_equal(gh_heap_free_blocks(h), 1); /* everything coalesced */
    print_message("%s: %llu ops, peak heap %llu bytes, peak requested %llu, %llu trims, %llu in-place resizes\n",
                  policy_name, ops, (unsigned long long)h->c->peak_heap_bytes,
                  (unsigned long long)h->c->peak_requested, (unsigned long long)h->c->trims,
                  (unsigned long long)h->c->resize_in_place);
    fx_close(f);
    free(f);
}

int main(int argc, char **argv)
{
    if (argc != 2 || !(policy = gh_policy_by_name(argv[1]))) {
        fprintf(stderr, "usage: %s " GLASSHEAP_POLICY_NAMES "\n", argv[0]);
        return 2;
    }
    policy_name = argv[1];
    /* a different fixed seed per policy, so each sees its own sequence */
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (const char *c = argv[1]; *c; c++)
        seed = (seed ^ (unsigned char)*c) * 0x100000001b3ULL;
    rng = env_ull("GH_TEST_SEED", seed);
    if (!rng)
        rng = 1;
    total_ops = env_ull("GH_TEST_OPS", DEFAULT_OPS);
    PAT = malloc(PAT_BYTES);
    if (!PAT)
        return 2;
    uint64_t x = rng;
    for (size_t i = 0; i < PAT_BYTES; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        PAT[i] = (unsigned char)(x >> 56);
    }
    print_message("policy %s, seed 0x%llx, %llu ops\n", policy_name, (unsigned long long)rng, total_ops);
    char name[64];
    snprintf(name, sizeof name, "random_%s", policy_name);
    const struct CMUnitTest tests[] = {
        { name, run, NULL, NULL, NULL },
    };
    int failed = cmocka_run_group_tests_name(name, tests, NULL, NULL);
    free(PAT);
    return failed;
}
