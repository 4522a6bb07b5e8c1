/* test_buddy.c - the binary buddy heap, white-box on the arena source.
 *
 * Proves: a request takes the smallest order that holds it and its header;
 * splitting leaves exactly one free block on each order between (the upper
 * halves); freeing merges with the free buddy repeatedly, back to one whole
 * chunk; the exact per-order free counts after a scripted sequence; aligned
 * payloads; in-place resize by absorbing or handing back upper buddies;
 * internal fragmentation counted in the counters; that the buddy
 * checker catches each kind of corruption; heaps of several regions (a
 * foreign span between them on an arena, or mmap regions when the break
 * cannot grow): walk, check and trim across them, a corrupt block in the
 * second region reported there; and that the debug build's checker runs
 * on buddy heaps after every operation (gh_heap_alloc stops on a corrupt
 * header), while the plain build leaves it to gh_heap_check.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_util.h"
#include "../child_stderr.h"
#include "buddy.h"
#include "os.h"

#define MAXO 10u /* 1 KiB chunks: small enough to script by hand */

static void open_buddy(struct fx *f, size_t len)
{
    fx_open(f, len, &gh_policy_first);
    gh_heap_init_buddy(&f->h, &f->src, MAXO);
}

/* The per-order free counts from `lo` to MAXO as one string, e.g. "1 1 0 1". */
static void assert_orders(const struct gh_heap *h, const unsigned *want)
{
    for (unsigned k = GH_BUDDY_MIN_ORDER; k <= MAXO; k++) {
        if (h->buddy.count[k] != want[k - GH_BUDDY_MIN_ORDER])
            fail_msg("order %u: %llu free blocks, expected %u", k, (unsigned long long)h->buddy.count[k],
                     want[k - GH_BUDDY_MIN_ORDER]);
        assert_int_equal((h->buddy.nonempty >> k) & 1, want[k - GH_BUDDY_MIN_ORDER] != 0);
    }
    HEAP_OK(h);
}

static char *chunk_base(const struct gh_heap *h)
{
    /* The first region's first chunk sits right after its record. */
    const struct gh_region *r = (const struct gh_region *)((const char *)h->regions.root
                                                           - offsetof(struct gh_region, node));
    return (char *)r + GH_REGION_HEADER;
}

static void test_orders_split_merge(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *h = &f.h;
    assert_int_equal(gh_buddy_order_for(h, 0), 5);   /* 0 + 16 -> 32 */
    assert_int_equal(gh_buddy_order_for(h, 16), 5);  /* 32 exactly */
    assert_int_equal(gh_buddy_order_for(h, 17), 6);  /* 33 -> 64 */
    assert_int_equal(gh_buddy_order_for(h, 1008), 10);
    assert_int_equal(gh_buddy_order_for(h, 1009), 0); /* above the largest order */

    /* a: 10 bytes -> order 5.  The 1024 chunk splits 512|256|128|64|32|32. */
    char *a = gh_heap_alloc(h, 10);
    char *base = chunk_base(h);
    assert_ptr_equal(a, base + 16);
    assert_orders(h, (unsigned[]){ 1, 1, 1, 1, 1, 0 });
    /* b: 40 bytes -> 56 with the header -> order 6: the free 64 at +64. */
    char *b = gh_heap_alloc(h, 40);
    assert_ptr_equal(b, base + 64 + 16);
    assert_orders(h, (unsigned[]){ 1, 0, 1, 1, 1, 0 });
    /* c: order 5 again: a's buddy at +32. */
    char *c = gh_heap_alloc(h, 1);
    assert_ptr_equal(c, base + 32 + 16);
    assert_orders(h, (unsigned[]){ 0, 0, 1, 1, 1, 0 });
    /* Internal fragmentation is counted: 51 bytes asked, 128 in blocks. */
    assert_int_equal(h->c->live_requested, 51);
    assert_int_equal(h->c->live_block_bytes, 128);

    /* free a: its buddy c is in use, a stays an order-5 block. */
    gh_heap_free(h, a, "free");
    assert_orders(h, (unsigned[]){ 1, 0, 1, 1, 1, 0 });
    /* free c: merges with a into the 64 at +0; that one's buddy (b) is used. */
    gh_heap_free(h, c, "free");
    assert_orders(h, (unsigned[]){ 0, 1, 1, 1, 1, 0 });
    /* free b: 64+64 -> 128, +128 -> 256, +256 -> 512, +512 -> the whole chunk. */
    gh_heap_free(h, b, "free");
    assert_orders(h, (unsigned[]){ 0, 0, 0, 0, 0, 1 });
    assert_int_equal(h->c->live_block_bytes, 0);
    fx_close(&f);
}

static void test_grows_by_chunks(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *h = &f.h;
    void *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = gh_heap_alloc(h, 1000); /* a whole chunk each */
    assert_int_equal(h->c->heap_bytes, GH_REGION_HEADER + 3 * 1024);
    assert_int_equal(h->c->regions_added, 1);
    assert_int_equal(h->c->regions_extended, 2);
    assert_null(gh_heap_alloc(h, 2000)); /* above the largest order */
    HEAP_OK(h);
    /* Freeing the last chunk keeps it: one free chunk of padding. */
    gh_heap_free(h, p[2], "free");
    assert_int_equal(h->c->heap_bytes, GH_REGION_HEADER + 3 * 1024);
    /* With the two top chunks free, the last goes back to the source. */
    gh_heap_free(h, p[1], "free");
    assert_int_equal(h->c->heap_bytes, GH_REGION_HEADER + 2 * 1024);
    assert_int_equal(h->c->trims, 1);
    HEAP_OK(h);
    /* malloc_trim gives back the padding chunk too (never the last one). */
    assert_int_equal(gh_heap_trim(h, 0), 1024);
    assert_int_equal(h->c->heap_bytes, GH_REGION_HEADER + 1024);
    gh_heap_free(h, p[0], "free");
    assert_int_equal(gh_heap_trim(h, 0), 0);
    assert_int_equal(h->c->heap_bytes, GH_REGION_HEADER + 1024);
    HEAP_OK(h);
    fx_close(&f);
}

static void test_aligned(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *h = &f.h;
    void *keep = gh_heap_alloc(h, 1); /* so chunk offsets are not all aligned */
    for (size_t align = 32; align <= 256; align *= 2) {
        char *p = gh_heap_alloc_aligned(h, align, 100);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        assert_true(gh_heap_usable(h, p) >= 100);
        memset(p, 0xab, 100);
        HEAP_OK(h);
        gh_heap_free(h, p, "free");
        HEAP_OK(h);
    }
    gh_heap_free(h, keep, "free");
    assert_orders(h, (unsigned[]){ 0, 0, 0, 0, 0, 1 });
    fx_close(&f);
}

static void test_resize(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *h = &f.h;
    char *a = gh_heap_alloc(h, 10); /* order 5 at +0: its upper buddies are free */
    memset(a, 7, 10);
    assert_true(gh_heap_resize(h, a, 200, "realloc")); /* 216 -> order 8 */
    assert_int_equal(gh_heap_usable(h, a), 256 - 16);
    assert_int_equal(a[9], 7);
    assert_orders(h, (unsigned[]){ 0, 0, 0, 1, 1, 0 }); /* +256 and +512 stay free */
    char *b = gh_heap_alloc(h, 200); /* takes the 256 at +256 */
    assert_ptr_equal(b, a + 256);
    assert_false(gh_heap_resize(h, a, 300, "realloc")); /* buddy b in use */
    assert_true(gh_heap_resize(h, a, 10, "realloc"));   /* hand back 128, 64, 32 */
    assert_orders(h, (unsigned[]){ 1, 1, 1, 0, 1, 0 });
    assert_int_equal(h->c->live_requested, 210);
    gh_heap_free(h, a, "free");
    gh_heap_free(h, b, "free");
    assert_orders(h, (unsigned[]){ 0, 0, 0, 0, 0, 1 });
    fx_close(&f);
}

static void expect_broken(const struct gh_heap *h, const char *keyword)
{
    const char *why = NULL;
    assert_false(gh_heap_check(h, &why, NULL));
    assert_non_null(why);
    if (!strstr(why, keyword))
        fail_msg("checker said \"%s\", expected \"%s\"", why, keyword);
}

static void test_checker(void **state)
{
    (void)state;
    struct fx f;
    /* Two unmerged free buddies: free a by hand, without merging. */
    open_buddy(&f, 1 << 20);
    char *a = gh_heap_alloc(&f.h, 10), *c = gh_heap_alloc(&f.h, 10);
    (void)c;
    struct gh_block *cb = gh_block_of(c);
    gh_block_set_flags(cb, GH_FLAG_FREE, 0); /* c "free" (a valid header) but on no list */
    expect_broken(&f.h, "missing from its order's list");
    fx_close(&f);

    /* A free block dropped from its list behind the heap's back. */
    open_buddy(&f, 1 << 20);
    a = gh_heap_alloc(&f.h, 10);
    f.h.buddy.lists[9] = NULL;
    expect_broken(&f.h, "list");
    fx_close(&f);

    /* The bitmap disagrees with the lists. */
    open_buddy(&f, 1 << 20);
    a = gh_heap_alloc(&f.h, 10);
    f.h.buddy.nonempty ^= (uint64_t)1 << 9;
    expect_broken(&f.h, "bitmap");
    fx_close(&f);

    /* Two free buddies of the same order left unmerged. */
    open_buddy(&f, 1 << 20);
    a = gh_heap_alloc(&f.h, 10);
    c = gh_heap_alloc(&f.h, 10);
    gh_heap_free(&f.h, a, "free"); /* a free at order 5; its buddy c is used */
    /* Put c on the order-5 list as a free block without merging. */
    struct gh_buddy_node *an = (struct gh_buddy_node *)a, *cn = (struct gh_buddy_node *)c;
    cb = gh_block_of(c);
    gh_block_set(cb, 32 | GH_FLAG_FREE, 0);
    cn->prev = NULL;
    cn->next = an;
    an->prev = cn;
    f.h.buddy.lists[5] = cn;
    f.h.buddy.count[5]++;
    f.h.c->free_bytes += 32;
    f.h.c->live_block_bytes -= 32;
    f.h.c->live_blocks--;
    f.h.c->live_requested -= 10;
    expect_broken(&f.h, "unmerged");
    fx_close(&f);

    /* A header that fails its check. */
    open_buddy(&f, 1 << 20);
    a = gh_heap_alloc(&f.h, 10);
    gh_block_of(a)->size_flags = 64;
    expect_broken(&f.h, "check");
    fx_close(&f);
}

/* Flip check bits of b's tag: its header now fails its check. */
static void spoil(struct gh_block *b)
{
    b->tag ^= (uint64_t)1 << 60;
}

static size_t regions_of(const struct gh_heap *h)
{
    struct gh_heap_desc d;
    gh_heap_describe(h, &d);
    return d.regions;
}

/* Two buddy heaps share one arena source, so each one's next span starts
 * past the other's: the span a heap gets for a new chunk does not continue
 * its top region (as when another library moved the break).  The short
 * span is kept as a region of pure overhead and a whole region follows. */
static void test_regions_arena(void **state)
{
    (void)state;
    struct fx f;
    open_buddy(&f, 1 << 20);
    struct gh_heap *a = &f.h, b;
    gh_heap_init_buddy(&b, &f.src, MAXO);
    const size_t chunk = (size_t)1 << MAXO, whole = chunk - GH_HEADER_SIZE;
    char *pa[4], *pb[2];
    pa[0] = gh_heap_alloc(a, whole);  /* a: region 1 */
    pb[0] = gh_heap_alloc(&b, whole); /* b: its region after it */
    pa[1] = gh_heap_alloc(a, whole);  /* a: a short span, then region 2 */
    pb[1] = gh_heap_alloc(&b, whole);
    pa[2] = gh_heap_alloc(a, whole);  /* a: a short span, then region 3 */
    for (int i = 0; i < 3; i++) {
        assert_non_null(pa[i]);
        FILL(pa[i], whole, 100 + (uint64_t)i);
    }
    assert_non_null(pb[0]);
    assert_non_null(pb[1]);
    assert_int_equal(a->c->regions_added, 3);
    assert_int_equal(regions_of(a), 5); /* 3 with a chunk, 2 short spans */
    assert_int_equal(a->c->heap_bytes, 3 * (GH_REGION_HEADER + chunk) + 2 * chunk);
    assert_int_equal(a->c->overhead_bytes, 3 * GH_REGION_HEADER + 2 * chunk);
    static struct walk w;
    walk_heap(a, &w);
    assert_int_equal(w.nregions, 3);
    assert_int_equal(w.n, 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(w.b[i].addr, hdr(pa[i]));
    assert_true(w.b[0].region < w.b[1].region && w.b[1].region < w.b[2].region);
    HEAP_OK(a);
    HEAP_OK(&b);

    /* A corrupt block in the second region is found there. */
    spoil(gh_block_of(pa[1]));
    const char *why = NULL;
    const void *where = NULL;
    assert_false(gh_heap_check(a, &why, &where));
    assert_ptr_equal(where, hdr(pa[1]));
    assert_non_null(strstr(why, "check"));
    spoil(gh_block_of(pa[1]));
    HEAP_OK(a);

    /* The top region (3) grows in place; trimming gives back only its free
     * tail and leaves regions 1 and 2 as they were. */
    pa[3] = gh_heap_alloc(a, 10);
    assert_non_null(pa[3]);
    assert_int_equal(a->c->regions_extended, 1);
    gh_heap_free(a, pa[3], "free"); /* one free chunk at the top: kept */
    uint64_t heap = a->c->heap_bytes;
    assert_int_equal(gh_heap_trim(a, 0), chunk);
    assert_int_equal(a->c->heap_bytes, heap - chunk);
    assert_int_equal(a->c->trims, 1);
    HEAP_OK(a);
    walk_heap(a, &w);
    assert_int_equal(w.n, 3);
    for (int i = 0; i < 3; i++)
        CONTENTS_OK(pa[i], whole, 100 + (uint64_t)i);

    /* Whole free chunks in regions below the top stay (they are not at the
     * break), each a free block of the largest order. */
    gh_heap_free(a, pa[0], "free");
    gh_heap_free(a, pa[1], "free");
    assert_int_equal(gh_heap_free_blocks(a), 2);
    assert_int_equal(gh_heap_largest_free(a), chunk);
    assert_int_equal(gh_heap_trim(a, 0), 0);
    assert_int_equal(regions_of(a), 5);
    HEAP_OK(a);
    /* ... and serve the next requests, lowest region first. */
    char *again = gh_heap_alloc(a, whole);
    assert_true(again == pa[0] || again == pa[1]);
    HEAP_OK(a);
    HEAP_OK(&b);
    fx_close(&f);
}

/* The break cannot grow: every chunk comes in an mmap region of its own,
 * released as soon as it is wholly free. */
static void test_regions_mapped(void **state)
{
    (void)state;
    enum { MAPO = 16, N = 3 };
    const size_t whole = ((size_t)1 << MAPO) - GH_HEADER_SIZE;
    struct gh_source src;
    struct gh_heap h;
    gh_source_init_break(&src);
    gh_heap_init_buddy(&h, &src, MAPO);
    gh_os_fail_after(GH_OS_BRK, 0);
    char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = gh_heap_alloc(&h, whole);
        assert_non_null(p[i]);
        FILL(p[i], whole, 200 + (uint64_t)i);
    }
    assert_int_equal(h.c->regions_added, N);
    assert_int_equal(regions_of(&h), N);
    assert_null(h.top); /* mapped regions are never extended */
    static struct walk w;
    walk_heap(&h, &w);
    assert_int_equal(w.nregions, N);
    assert_int_equal(w.nmapped, N);
    HEAP_OK(&h);

    /* Corrupt the block of the second region in address order. */
    struct gh_block *second = (struct gh_block *)w.b[1].addr;
    spoil(second);
    const void *where = NULL;
    assert_false(gh_heap_check(&h, NULL, &where));
    assert_ptr_equal(where, second);
    spoil(second);
    HEAP_OK(&h);

    /* Freeing that block unmaps its region; the others keep their data. */
    size_t len = w.b[1].region->len;
    uint64_t heap = h.c->heap_bytes;
    gh_heap_free(&h, gh_block_payload(second), "free");
    assert_int_equal(h.c->regions_released, 1);
    assert_int_equal(regions_of(&h), N - 1);
    assert_int_equal(h.c->heap_bytes, heap - len);
    assert_int_equal(gh_heap_trim(&h, 0), 0); /* nothing free is left to give */
    HEAP_OK(&h);
    for (int i = 0; i < N; i++)
        if (hdr(p[i]) != (void *)second) {
            CONTENTS_OK(p[i], whole, 200 + (uint64_t)i);
            gh_heap_free(&h, p[i], "free");
        }
    assert_int_equal(regions_of(&h), 0);
    assert_int_equal(h.c->heap_bytes, 0);
    HEAP_OK(&h);
    gh_os_fail_reset();
}

/* In a child: spoil a live block's header, allocate once more, report
 * what gh_heap_check says.  With GH_CHECKS the allocation itself stops
 * the child with the checker's line. */
static void spoil_and_allocate(void *arg)
{
    (void)arg;
    struct fx f;
    open_buddy(&f, 1 << 20);
    char *a = gh_heap_alloc(&f.h, 10);
    spoil(gh_block_of(a));
    gh_heap_alloc(&f.h, 100); /* a block elsewhere in the chunk */
    _exit(gh_heap_check(&f.h, NULL, NULL) ? 1 : 2);
}

static void test_debug_checker(void **state)
{
    (void)state;
    char err[512];
    int st = gh_t_child(spoil_and_allocate, NULL, err, sizeof err);
#ifdef GH_CHECKS
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    const char *want = "glassheap: malloc(): block header fails its check 0x";
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("stderr '%s', expected '%s...'", err, want);
#else
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2); /* the checker sees it when asked */
    assert_string_equal(err, "");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_split_merge),
        cmocka_unit_test(test_grows_by_chunks),
        cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_checker),
        cmocka_unit_test(test_regions_arena),
        cmocka_unit_test(test_regions_mapped),
        cmocka_unit_test(test_debug_checker),
    };
    return cmocka_run_group_tests_name("buddy", tests, NULL, NULL);
}
