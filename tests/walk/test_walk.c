/* test_walk.c - the out-of-process heap walker (tools/reader/walk.h) in
 * process, over a real heap: a heap over an arena publishing its segment
 * (alloc/shm.c), walked through the live source (process_vm_readv on our
 * own pid) and through a buffer source fed a copy of the arena, corrupted
 * at random and changed between reads.
 *
 *   self_fit, self_buddy  the walk equals the heap's own walk block by
 *                         block and its counters figure by figure
 *   table_follows         the region table is rewritten when the regions
 *                         change and only then; the seq is odd inside a
 *                         call and moves by two with each
 *   corrupt_header        a size that does not tile, a wrong prev-free flag,
 *                         a footer that disagrees, a missing end marker, a
 *                         requested size past its block: each GHW_CORRUPT,
 *                         naming the block
 *   corrupt_table         bad layout constants, entries out of order or out
 *                         of user memory, a full table: each refused
 *   fuzz_image            thousands of random corruptions of a real image
 *                         (fit and buddy): never a crash or a loop; every
 *                         verdict GHW_OK (and then the blocks tile the
 *                         regions) or GHW_CORRUPT with a line
 *   changing              memory changed between reads, a seq that moves on
 *                         every look or stays odd: bounded tries, then
 *                         GHW_CHANGING with the line that says which
 *   refused               a source whose reads fail with EPERM: GHW_REFUSED at
 *                         once, and the refusal line names the causes; ESRCH
 *                         is GHW_GONE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "heap.h"
#include "large.h"
#include "reader.h"
#include "shm.h"
#include "walk.h"

#define ARENA (8u << 20)
#define THRESHOLD (128u * 1024u)
#define SLOTS 400
#define FUZZ_ROUNDS 3000

static _Alignas(4096) char arena[ARENA];

struct fx {
    struct gh_source src;
    struct gh_heap heap;
    struct gh_config cfg;
    struct gh_large large;
    struct gh_shm shm;
    struct gh_shm_seq q;           /* the main arena's seq, as the library binds it */
    struct ghr_segment *seg;
    void *slot[SLOTS];
    uint64_t rng;
};

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One allocator call as the library makes it: inside gh_shm_enter/leave. */
static void op_alloc(struct fx *f, size_t i, size_t n)
{
    gh_shm_enter(&f->q);
    f->slot[i] = gh_heap_alloc(&f->heap, n);
    gh_shm_leave(&f->shm, 0, &f->q, &f->heap);
    assert_non_null(f->slot[i]);
}

static void op_free(struct fx *f, size_t i)
{
    gh_shm_enter(&f->q);
    gh_heap_free(&f->heap, f->slot[i], "free");
    gh_shm_leave(&f->shm, 0, &f->q, &f->heap);
    f->slot[i] = NULL;
}

/* A churned heap: sizes 1..3000, two thirds kept. */
static void churn(struct fx *f)
{
    for (size_t i = 0; i < SLOTS; i++)
        op_alloc(f, i, 1 + next_rand(&f->rng) % 3000);
    for (size_t i = 0; i < SLOTS; i += 3)
        op_free(f, i);
    for (size_t i = 0; i < SLOTS; i += 6)
        op_alloc(f, i, 1 + next_rand(&f->rng) % 700);
}

static int setup_policy(void **state, const char *policy)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->rng = 0x9e3779b97f4a7c15ULL;
    gh_source_init_arena(&f->src, arena, sizeof arena);
    assert_true(gh_heap_init_named(&f->heap, &f->src, policy, THRESHOLD));
    snprintf(f->cfg.policy, sizeof f->cfg.policy, "%s", policy);
    f->cfg.mmap_threshold = THRESHOLD;
    f->cfg.shm = true;
    gh_large_init(&f->large);
    assert_int_equal(gh_shm_open_large(&f->shm, &f->cfg, &f->heap, &f->large), 0);
    gh_shm_bind_main(&f->shm, &f->q, &f->heap);
    churn(f);
    assert_int_equal(ghr_open_pid((int)getpid(), &f->seg), GHR_OK);
    *state = f;
    return 0;
}

static int setup_fit(void **state)
{
    return setup_policy(state, "first");
}

static int setup_buddy(void **state)
{
    return setup_policy(state, "buddy");
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ghr_close(f->seg);
    gh_shm_close(&f->shm, true);
    free(f);
    return 0;
}

/* ---- the heap's own view ---------------------------------------------- */

struct own {
    struct gh_shm_block b[SLOTS * 4];
    size_t n;
};

static bool own_one(void *cv, const struct gh_block_info *b)
{
    struct own *o = cv;
    assert_true(o->n < SLOTS * 4);
    o->b[o->n++] = (struct gh_shm_block){ .addr = (uint64_t)(uintptr_t)b->addr, .size = b->size,
                                          .requested = b->requested,
                                          .state = b->free ? GH_SHM_BLOCK_FREE : GH_SHM_BLOCK_USED };
    return true;
}

static void same_as_heap(struct fx *f, const struct ghw_heap *w)
{
    static struct own o;
    o.n = 0;
    gh_heap_walk(&f->heap, own_one, &o);
    assert_int_equal(w->n, o.n);
    assert_int_equal(w->total, o.n);
    for (size_t i = 0; i < o.n; i++) {
        assert_int_equal(w->blocks[i].addr, o.b[i].addr);
        assert_int_equal(w->blocks[i].size, o.b[i].size);
        assert_int_equal(w->blocks[i].requested, o.b[i].requested);
        assert_int_equal(w->blocks[i].state, o.b[i].state);
    }
    const struct gh_heap_counters *c = f->heap.c;
    assert_int_equal(w->live_requested, c->live_requested);
    assert_int_equal(w->used_bytes, c->live_block_bytes);
    assert_int_equal(w->used_blocks, c->live_blocks);
    assert_int_equal(w->free_bytes, c->free_bytes);
    assert_int_equal(w->heap_bytes, c->heap_bytes);
    assert_int_equal(w->overhead_bytes, c->overhead_bytes);
    assert_int_equal(w->largest_free, gh_heap_largest_free(&f->heap));
    assert_int_equal(w->free_blocks, gh_heap_free_blocks(&f->heap));
    assert_memory_equal(w->free_hist, c->free_hist, sizeof w->free_hist);
}

static void test_self(void **state)
{
    struct fx *f = *state;
    struct ghw_heap w;
    assert_int_equal(ghw_walk_segment(f->seg, SLOTS * 4, &w), GHW_OK);
    assert_int_equal(w.tries, 1);
    same_as_heap(f, &w);
    if (!strcmp(f->cfg.policy, "buddy")) {
        struct gh_heap_desc d;
        gh_heap_describe(&f->heap, &d);
        for (unsigned k = 0; k < GH_SHM_ORDERS; k++)
            assert_int_equal(w.buddy_free[k], d.order_free[k]);
    }
    ghw_free(&w);
    /* the figures alone (no blocks kept) are the same */
    assert_int_equal(ghw_walk_segment(f->seg, 0, &w), GHW_OK);
    assert_int_equal(w.n, 0);
    assert_null(w.blocks);
    assert_int_equal(w.free_bytes, f->heap.c->free_bytes);
    ghw_free(&w);
}

static void test_table_follows(void **state)
{
    struct fx *f = *state;
    struct gh_shm_heap *t = f->shm.arena_tabs[0].tab;
    const uint64_t *sq = f->q.word; /* the arena's seq: its live entry's (version 2) */
    assert_ptr_equal(sq, &f->shm.live_arenas[0].seq);
    uint64_t writes = t->table_writes, seq = *sq;
    assert_int_equal(seq & 1, 0);
    /* a call inside the heap's space: seq +2, the table untouched */
    gh_shm_enter(&f->q);
    assert_int_equal(*sq, seq + 1);
    void *p = gh_heap_alloc(&f->heap, 40);
    gh_shm_leave(&f->shm, 0, &f->q, &f->heap);
    assert_int_equal(*sq, seq + 2);
    assert_int_equal(t->seq, 0); /* version 1's word, unused */
    assert_int_equal(t->table_writes, writes);
    uint64_t len = f->shm.arena_tabs[0].regions[0].len;
    /* a call that grows the region: the table rewritten with the new length */
    gh_shm_enter(&f->q);
    void *big = gh_heap_alloc(&f->heap, 100000);
    void *more = gh_heap_alloc(&f->heap, 100000);
    void *most = gh_heap_alloc(&f->heap, 100000);
    gh_shm_leave(&f->shm, 0, &f->q, &f->heap);
    assert_true(big && more && most && p);
    assert_int_equal(t->count, f->heap.regions.count);
    uint64_t sum = 0;
    for (size_t i = 0; i < t->count; i++)
        sum += f->shm.arena_tabs[0].regions[i].len;
    assert_int_equal(sum, f->heap.c->heap_bytes);
    assert_true(f->shm.arena_tabs[0].regions[0].len > len || t->count > 1);
    assert_true(t->table_writes > writes);
    struct ghw_heap w;
    assert_int_equal(ghw_walk_segment(f->seg, SLOTS * 4, &w), GHW_OK);
    same_as_heap(f, &w);
    ghw_free(&w);
}

/* ---- a buffer source ---------------------------------------------------- */

enum mutate { M_NONE, M_BYTES, M_SEQ_MOVES, M_SEQ_ODD, M_EPERM, M_ESRCH };

struct img {
    uint8_t *mem;                  /* a copy of the arena */
    uint64_t base;                 /* the address it was copied from */
    size_t len;
    struct gh_shm_heap head;
    struct gh_shm_region regs[GH_SHM_REGION_CAPACITY];
    size_t n;
    uint64_t seq;
    enum mutate mode;
    uint64_t rng;
    unsigned reads, tables;
    uint64_t mut_lo, mut_hi;       /* M_BYTES changes bytes at these offsets */
    uint64_t dirty[4096];          /* offsets changed since the last restore */
    size_t ndirty;
    bool overflow;                 /* more than dirty holds: restore it all */
};

static void mark_dirty(struct img *m, uint64_t off)
{
    if (m->ndirty < sizeof m->dirty / sizeof m->dirty[0])
        m->dirty[m->ndirty++] = off;
    else
        m->overflow = true;
}

/* Undo every change since the last restore, from the pristine copy. */
static void restore(struct img *m, const uint8_t *pristine)
{
    if (m->overflow)
        memcpy(m->mem, pristine, m->len);
    else
        for (size_t i = 0; i < m->ndirty; i++)
            memcpy(m->mem + m->dirty[i], pristine + m->dirty[i], 8);
    m->ndirty = 0;
    m->overflow = false;
}

static int img_table(void *ctx, struct gh_shm_heap *head, struct gh_shm_region *regions, size_t cap, size_t *n)
{
    struct img *m = ctx;
    m->tables++;
    *head = m->head;
    head->seq = m->seq;
    if (m->mode == M_SEQ_ODD) {
        head->seq |= 1;
        return EAGAIN;
    }
    size_t k = m->n < cap ? m->n : cap;
    memcpy(regions, m->regs, k * sizeof *regions);
    *n = k;
    return 0;
}

static int img_seq(void *ctx, uint64_t *seq)
{
    struct img *m = ctx;
    if (m->mode == M_SEQ_MOVES)
        m->seq += 2;
    *seq = m->seq;
    return 0;
}

static int img_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    struct img *m = ctx;
    m->reads++;
    if (m->mode == M_EPERM)
        return EPERM;
    if (m->mode == M_ESRCH)
        return ESRCH;
    if (addr < m->base || len > m->len || addr - m->base > m->len - len)
        return EFAULT;
    memcpy(buf, m->mem + (addr - m->base), len);
    if (m->mode == M_BYTES) {
        /* the process runs on between our reads: a few bytes change, and
         * now and then the seq says so */
        for (int i = 0; i < 4; i++) {
            uint64_t at = (m->mut_lo + next_rand(&m->rng) % (m->mut_hi - m->mut_lo)) & ~(uint64_t)7;
            mark_dirty(m, at);
            m->mem[at + next_rand(&m->rng) % 8] ^= (uint8_t)(1u << (next_rand(&m->rng) % 8));
        }
        if (next_rand(&m->rng) % 4 == 0)
            m->seq += 2;
    }
    return 0;
}

static struct img *image_of(struct fx *f)
{
    struct img *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->base = (uint64_t)(uintptr_t)arena;
    m->len = sizeof arena;
    m->mem = malloc(m->len);
    assert_non_null(m->mem);
    memcpy(m->mem, arena, m->len);
    m->head = *f->shm.arena_tabs[0].tab;
    m->n = f->shm.arena_tabs[0].tab->count;
    memcpy(m->regs, f->shm.arena_tabs[0].regions, m->n * sizeof m->regs[0]);
    m->seq = *f->q.word;
    m->rng = 12345;
    return m;
}

/* The part of the image the walk reads: from the region's start to the
 * header of its last block (the rest is that free block's payload). */
static void walked_span(struct fx *f, const struct img *m, uint64_t *lo, uint64_t *hi)
{
    static struct own o;
    o.n = 0;
    gh_heap_walk(&f->heap, own_one, &o);
    *lo = m->regs[0].base - m->base;
    *hi = o.b[o.n - 1].addr + GH_HEADER_SIZE - m->base;
}

static void image_free(struct img *m)
{
    free(m->mem);
    free(m);
}

static int walk_img(struct img *m, struct ghw_heap *w)
{
    const struct ghw_source src = { img_table, img_seq, img_read, NULL, m };
    int rc = ghw_walk(&src, SLOTS * 4, w);
    assert_true(rc >= GHW_OK && rc <= GHW_NOMEM);
    assert_true(w->tries >= 1 && w->tries <= GHW_TRIES);
    if (rc != GHW_OK) {
        assert_true(w->why[0] != '\0');
        assert_non_null(memchr(w->why, '\0', sizeof w->why));
        assert_null(w->blocks);
    }
    return rc;
}

/* On GHW_OK: the blocks tile each region between its record and its end
 * (marker or chunks). */
static void tiles(const struct img *m, const struct ghw_heap *w)
{
    assert_int_equal(w->n, w->total);
    for (size_t r = 0; r < w->nregions; r++) {
        const struct ghw_region *g = &w->regions[r];
        uint64_t a = g->base + m->head.region_record_bytes;
        for (size_t i = g->first; i < g->first + g->n; i++) {
            assert_int_equal(w->blocks[i].addr, a);
            a += w->blocks[i].size;
        }
        assert_true(a <= g->base + g->len);
    }
    assert_int_equal(w->used_bytes + w->free_bytes + w->overhead_bytes, w->heap_bytes);
}

/* The first block (the heap's own walk) that is free or used as asked and
 * (want_odd) at an odd multiple of its size from the first chunk, and is
 * not its region's last block. */
static uint64_t find_block(struct fx *f, bool want_free, bool want_odd, uint64_t *size)
{
    static struct own o;
    o.n = 0;
    gh_heap_walk(&f->heap, own_one, &o);
    uint64_t chunk0 = f->shm.arena_tabs[0].regions[0].base + GH_REGION_HEADER;
    for (size_t k = 1; k + 1 < o.n; k++) {
        const struct gh_shm_block *b = &o.b[k];
        if ((b->state == GH_SHM_BLOCK_FREE) != want_free || b->addr + b->size != o.b[k + 1].addr)
            continue;
        if (want_odd && !(((b->addr - chunk0) / b->size) & 1))
            continue;
        *size = b->size;
        return b->addr;
    }
    fail_msg("no block to corrupt");
    return 0;
}

static uint64_t *word_at(struct img *m, uint64_t addr)
{
    return (uint64_t *)(void *)(m->mem + (addr - m->base));
}

static void expect_corrupt(struct img *m, const char *needle)
{
    struct ghw_heap w;
    int rc = walk_img(m, &w);
    if (rc != GHW_CORRUPT)
        fail_msg("expected GHW_CORRUPT (%s), got %d: %s", needle, rc, w.why);
    if (!strstr(w.why, needle))
        fail_msg("the line %s does not say '%s'", w.why, needle);
}

static void test_corrupt_header(void **state)
{
    struct fx *f = *state;
    struct ghw_heap w;
    struct img *m = image_of(f);
    assert_int_equal(walk_img(m, &w), GHW_OK);   /* the pristine copy walks */
    tiles(m, &w);
    ghw_free(&w);
    image_free(m);

    uint64_t size, a, w0;
    bool buddy = !strcmp(f->cfg.policy, "buddy");
    /* a size that does not tile: a used block told it is 16 MiB longer, or 8 bytes long */
    a = find_block(f, false, buddy, &size);
    m = image_of(f);
    *word_at(m, a) += 16 * 1024 * 1024;
    expect_corrupt(m, "block at 0x");
    image_free(m);
    m = image_of(f);
    *word_at(m, a) = (*word_at(m, a) & ~m->head.size_mask) | 8;
    expect_corrupt(m, "block at 0x");
    image_free(m);
    /* requested past its block */
    m = image_of(f);
    *word_at(m, a + 8) = (*word_at(m, a + 8) & ~m->head.requested_mask) | (size + 1);
    expect_corrupt(m, "requested");
    image_free(m);
    if (!buddy) {
        /* a free block's footer, the next block's prev-free flag, the marker */
        a = find_block(f, true, false, &size);
        m = image_of(f);
        w0 = *word_at(m, a + size - 8);
        *word_at(m, a + size - 8) = w0 ^ 0x10;
        expect_corrupt(m, "footer");
        image_free(m);
        m = image_of(f);
        *word_at(m, a + size) ^= m->head.prev_free_flag;
        expect_corrupt(m, "prev-free");
        image_free(m);
        m = image_of(f);
        uint64_t end = m->regs[0].base + m->regs[0].len - m->head.end_marker_bytes;
        *word_at(m, end) |= 0x40;
        expect_corrupt(m, "end marker");
        image_free(m);
    } else {
        /* a buddy block off its alignment: twice its size at an odd multiple of it */
        m = image_of(f);
        *word_at(m, a) = (*word_at(m, a) & ~m->head.size_mask) | (size * 2);
        expect_corrupt(m, "buddy block at 0x");
        image_free(m);
    }
}

static void test_corrupt_table(void **state)
{
    struct fx *f = *state;
    struct img *m = image_of(f);
    m->head.header_bytes = 12;
    expect_corrupt(m, "block layout");
    image_free(m);
    m = image_of(f);
    m->head.free_flag = m->head.size_mask & ~(m->head.size_mask - 1);
    expect_corrupt(m, "flag bits");
    image_free(m);
    m = image_of(f);
    m->regs[0].base += 8;
    expect_corrupt(m, "not aligned");
    image_free(m);
    m = image_of(f);
    m->regs[0].base = (uint64_t)1 << 47;
    expect_corrupt(m, "user memory");
    image_free(m);
    m = image_of(f);
    m->regs[1] = m->regs[0];
    m->n = 2;
    m->head.total = 2;
    expect_corrupt(m, "overlaps");
    image_free(m);
    m = image_of(f);
    m->regs[0].discipline = 7;
    expect_corrupt(m, "unknown discipline");
    image_free(m);
    /* a region the process does not have (beyond the copy): unreadable */
    m = image_of(f);
    m->regs[0].base = m->base + m->len + 4096;
    expect_corrupt(m, "cannot be read");
    image_free(m);
    /* more regions than listed */
    m = image_of(f);
    m->head.total = m->n + 1;
    struct ghw_heap w;
    assert_int_equal(walk_img(m, &w), GHW_NO_TABLE);
    assert_non_null(strstr(w.why, "lists"));
    image_free(m);
}

static void test_fuzz_image(void **state)
{
    struct fx *f = *state;
    struct img *m = image_of(f);
    uint8_t *pristine = malloc(m->len);
    assert_non_null(pristine);
    memcpy(pristine, m->mem, m->len);
    /* edits where the blocks are (the rest is one free block's payload,
     * never read), on headers and footers of the heap's own blocks */
    static struct own o;
    o.n = 0;
    gh_heap_walk(&f->heap, own_one, &o);
    uint64_t lo, hi;
    walked_span(f, m, &lo, &hi);
    uint64_t rng = 0xdeadbeefcafef00dULL;
    unsigned verdict[GHW_NOMEM + 1] = { 0 };
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        restore(m, pristine);
        int edits = 1 + (int)(next_rand(&rng) % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t at = lo + next_rand(&rng) % (hi - lo);
            /* a header word of a random block (word 0 or 1), or its footer */
            const struct gh_shm_block *b = &o.b[next_rand(&rng) % o.n];
            uint64_t hdr = b->addr - m->base + (next_rand(&rng) % 3 == 0 ? 8 : 0);
            uint64_t foot = b->addr + b->size - 8 - m->base;
            mark_dirty(m, at & ~(uint64_t)7);
            mark_dirty(m, hdr);
            mark_dirty(m, foot);
            switch (next_rand(&rng) % 5) {
            case 0: /* one bit anywhere */
                m->mem[at] ^= (uint8_t)(1u << (next_rand(&rng) % 8));
                break;
            case 1: /* a header word made anything */
                memcpy(m->mem + hdr, &(uint64_t){ next_rand(&rng) }, 8);
                break;
            case 2: /* a small size, often 0 */
                memcpy(m->mem + hdr, &(uint64_t){ (next_rand(&rng) % 4) * 16 }, 8);
                break;
            case 3: /* a flag or a low size bit flipped */
                m->mem[hdr] ^= (uint8_t)(1u << (next_rand(&rng) % 8));
                break;
            default: /* the word before the next block: a footer when free */
                m->mem[foot] ^= (uint8_t)(1u << (next_rand(&rng) % 8));
                break;
            }
        }
        struct ghw_heap w;
        int rc = walk_img(m, &w);
        assert_true(rc == GHW_OK || rc == GHW_CORRUPT);
        verdict[rc]++;
        if (rc == GHW_OK) {
            tiles(m, &w);
            ghw_free(&w);
        }
    }
    /* the checks do catch: most edits of headers are refused */
    print_message("%s: %u walked, %u refused as corrupt\n", f->cfg.policy, verdict[GHW_OK], verdict[GHW_CORRUPT]);
    assert_true(verdict[GHW_CORRUPT] > FUZZ_ROUNDS / 2);
    free(pristine);
    image_free(m);
}

static void test_changing(void **state)
{
    struct fx *f = *state;
    struct ghw_heap w;
    /* memory that changes under the reads, where the walk reads it, the seq
     * now and then moving */
    struct img *m = image_of(f);
    uint8_t *pristine = malloc(m->len);
    assert_non_null(pristine);
    memcpy(pristine, m->mem, m->len);
    walked_span(f, m, &m->mut_lo, &m->mut_hi);
    unsigned seen[GHW_NOMEM + 1] = { 0 };
    for (int round = 0; round < 300; round++) {
        restore(m, pristine);
        m->mode = M_BYTES;
        m->rng = (uint64_t)round * 7919 + 1;
        m->seq = *f->q.word;
        int rc = walk_img(m, &w);
        assert_true(rc == GHW_OK || rc == GHW_CORRUPT || rc == GHW_CHANGING);
        seen[rc]++;
        if (rc == GHW_OK)
            ghw_free(&w);
    }
    assert_true(seen[GHW_CHANGING] > 0);
    free(pristine);
    image_free(m);
    m = image_of(f);
    m->mode = M_SEQ_MOVES;
    assert_int_equal(walk_img(m, &w), GHW_CHANGING);
    assert_int_equal(w.tries, GHW_TRIES);
    assert_non_null(strstr(w.why, "kept changing"));
    image_free(m);
    m = image_of(f);
    m->mode = M_SEQ_ODD;
    assert_int_equal(walk_img(m, &w), GHW_CHANGING);
    assert_int_equal(m->reads, 0);
    assert_non_null(strstr(w.why, "in progress"));
    image_free(m);
}

static void test_refused(void **state)
{
    struct fx *f = *state;
    struct ghw_heap w;
    struct img *m = image_of(f);
    m->mode = M_EPERM;
    assert_int_equal(walk_img(m, &w), GHW_REFUSED);
    assert_int_equal(w.tries, 1);
    assert_int_equal(m->reads, 1);
    assert_non_null(strstr(w.why, "refused"));
    assert_int_equal(w.read_errno, EPERM);
    image_free(m);
    m = image_of(f);
    m->mode = M_ESRCH;
    assert_int_equal(walk_img(m, &w), GHW_GONE);
    image_free(m);
    char line[GHW_WHY_MAX];
    ghw_refusal_line((int)getpid(), EPERM, line, sizeof line);
    assert_non_null(strstr(line, "process_vm_readv on process"));
    assert_non_null(strstr(line, "Operation not permitted"));
    assert_true(strstr(line, "ptrace_scope") || strstr(line, "Yama") || strstr(line, "uid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_self, setup_fit, teardown),
        cmocka_unit_test_setup_teardown(test_self, setup_buddy, teardown),
        cmocka_unit_test_setup_teardown(test_table_follows, setup_fit, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_header, setup_fit, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_header, setup_buddy, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_table, setup_fit, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_image, setup_fit, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_image, setup_buddy, teardown),
        cmocka_unit_test_setup_teardown(test_changing, setup_fit, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup_fit, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
