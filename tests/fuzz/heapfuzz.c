/* heapfuzz.c - one fuzz case (heapfuzz.h). */
#include "heapfuzz.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "heap.h"

#define SLOTS 48
#define FREED 16 /* freed blocks remembered for writes after free */

struct slot {
    unsigned char *p;
    size_t req, usable;
    uint8_t pat;
    bool tainted; /* a write of the case hit its payload */
};

struct fcase {
    struct gh_heap h;
    struct gh_source src;
    char *lo, *hi; /* the arena */
    struct slot s[SLOTS];
    struct { unsigned char *p; size_t usable; } freed[FREED];
    unsigned nfreed;
    uint8_t gen;
};

static uint8_t byte(struct gh_fuzz_src *src)
{
    if (src->data)
        return src->pos < src->len ? src->data[src->pos++] : 0;
    src->x = src->x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint8_t)(src->x >> 56);
}

static bool exhausted(const struct gh_fuzz_src *src)
{
    return src->data && src->pos >= src->len;
}

static uint32_t u16(struct gh_fuzz_src *src)
{
    return (uint32_t)byte(src) | (uint32_t)byte(src) << 8;
}

/* Mostly small requests, some medium, a few large. */
static size_t size_of(struct gh_fuzz_src *src)
{
    uint8_t k = byte(src);
    if (k < 160)
        return u16(src) % 129;
    if (k < 240)
        return u16(src) % 2049;
    return u16(src) % 20001;
}

__attribute__((noreturn)) static void bug(const char *what, const void *p)
{
    char line[160];
    int n = snprintf(line, sizeof line, "FUZZ-BUG: %s %p\n", what, p);
    gh_write_str(2, n > 0 ? line : "FUZZ-BUG\n");
    _exit(GH_FUZZ_BUG);
}

static void fill(struct slot *s)
{
    for (size_t i = 0; i < s->req; i++)
        s->p[i] = (uint8_t)(s->pat + i * 7);
}

static void verify(const struct slot *s, size_t upto)
{
    if (s->tainted)
        return;
    for (size_t i = 0; i < upto && i < s->req; i++)
        if (s->p[i] != (uint8_t)(s->pat + i * 7))
            bug("contents of a live block changed", s->p + i);
}

/* A block just handed out must lie in the arena and overlap no live one. */
static void placed(struct fcase *c, unsigned self, unsigned char *p, size_t usable)
{
    if ((char *)p < c->lo || (char *)p + usable > c->hi || ((uintptr_t)p & (GH_ALIGN - 1)))
        bug("block outside the arena or misaligned", p);
    for (unsigned i = 0; i < SLOTS; i++) {
        const struct slot *o = &c->s[i];
        if (i != self && o->p && p < o->p + o->usable && o->p < p + usable)
            bug("block handed out over a live block", p);
    }
}

static void take(struct fcase *c, unsigned i, unsigned char *p, size_t req)
{
    struct slot *s = &c->s[i];
    size_t usable = gh_heap_usable(&c->h, p);
    if (usable < req)
        bug("usable size below the request", p);
    placed(c, i, p, usable);
    *s = (struct slot){ p, req, usable, ++c->gen, false };
    fill(s);
}

/* Is p the payload of a live block of the case (a freed pointer handed
 * out again is live, not a double free)? */
static bool live_at(const struct fcase *c, const unsigned char *p)
{
    for (unsigned i = 0; i < SLOTS; i++)
        if (c->s[i].p == p)
            return true;
    return false;
}

static void forget(struct fcase *c, unsigned i)
{
    struct slot *s = &c->s[i];
    c->freed[c->nfreed++ % FREED].p = s->p;
    c->freed[(c->nfreed - 1) % FREED].usable = s->usable;
    s->p = NULL;
}

/* A write of [a, a + n) the case makes: clipped to the arena; every live
 * payload it touches is tainted (its contents are the case's business now). */
static void poke(struct fcase *c, unsigned char *a, size_t n, struct gh_fuzz_src *src, uint8_t style)
{
    if ((char *)a < c->lo || (char *)a + n > c->hi)
        return;
    for (unsigned i = 0; i < SLOTS; i++) {
        struct slot *o = &c->s[i];
        if (o->p && a < o->p + o->usable && o->p < a + n)
            o->tainted = true;
    }
    for (size_t k = 0; k < n; k++) {
        switch (style & 3) {
        case 0: a[k] = 0x41; break;            /* the classic overflow */
        case 1: a[k] ^= (uint8_t)(1u << (byte(src) & 7)); break; /* one bit */
        case 2: a[k] = byte(src); break;       /* anything */
        default: a[k] = (uint8_t)(a[k] + 1); break; /* off by one */
        }
    }
}

enum gh_fuzz_result gh_fuzz_case(const char *policy, void *arena, size_t arena_len, struct gh_fuzz_src *src,
                                 uint64_t max_ops, bool dirty, volatile struct gh_fuzz_stats *st)
{
    static struct fcase c; /* one case per process (or per fuzzer input) */
    memset(&c, 0, sizeof c);
    c.lo = arena;
    c.hi = (char *)arena + arena_len;
    gh_source_init_arena(&c.src, arena, arena_len);
    if (!gh_heap_init_named(&c.h, &c.src, policy, 64 * 1024))
        bug("unknown policy", NULL);
    struct gh_heap *h = &c.h;
    for (uint64_t op = 0; op < max_ops && !exhausted(src); op++) {
        st->ops++;
        uint8_t kind = byte(src) % 16;
        unsigned i = byte(src) % SLOTS;
        struct slot *s = &c.s[i];
        switch (kind) {
        case 0: case 1: case 2: case 3: case 4: { /* malloc */
            if (s->p) {
                verify(s, s->req);
                gh_heap_free(h, s->p, "free");
                forget(&c, i);
            }
            size_t n = size_of(src);
            unsigned char *p = gh_heap_alloc(h, n);
            if (p)
                take(&c, i, p, n);
            break;
        }
        case 5: case 6: case 7: /* free */
            if (s->p) {
                verify(s, s->req);
                gh_heap_free(h, s->p, "free");
                forget(&c, i);
            }
            break;
        case 8: case 9: { /* realloc: in place, or move */
            if (!s->p)
                break;
            size_t n = size_of(src);
            verify(s, s->req);
            if (gh_heap_resize(h, s->p, n, "realloc")) {
                size_t keep = s->req < n ? s->req : n;
                s->usable = gh_heap_usable(h, s->p);
                if (s->usable < n)
                    bug("usable size below the request after a resize", s->p);
                placed(&c, i, s->p, s->usable);
                verify(s, keep);
                s->req = n;
                if (!s->tainted)
                    fill(s);
            } else {
                unsigned char *q = gh_heap_alloc(h, n);
                if (!q)
                    break;
                unsigned char *old = s->p;
                bool tainted = s->tainted;
                size_t oreq = s->req;
                gh_heap_free(h, old, "realloc");
                forget(&c, i);
                take(&c, i, q, n);
                (void)oreq;
                c.s[i].tainted = tainted;
            }
            break;
        }
        case 10: { /* memalign */
            if (s->p) {
                verify(s, s->req);
                gh_heap_free(h, s->p, "free");
                forget(&c, i);
            }
            size_t align = (size_t)32 << (byte(src) % 8);
            size_t n = size_of(src) % 4097;
            unsigned char *p = gh_heap_alloc_aligned(h, align, n);
            if (p) {
                if ((uintptr_t)p & (align - 1))
                    bug("memalign result not aligned", p);
                take(&c, i, p, n);
            }
            break;
        }
        case 11: /* slack: legal, never an abort */
            if (s->p && s->usable > s->req) {
                size_t off = s->req + byte(src) % (s->usable - s->req);
                s->p[off] = byte(src);
            }
            break;
        case 12: case 13: case 14: { /* corrupting writes and misuse: dirty cases, 1 in 8 */
            uint8_t pick = byte(src), style = byte(src), where = byte(src);
            size_t n = 1 + byte(src) % 16;
            if (!dirty || pick >= 32)
                break;
            unsigned what = pick % 10;
            unsigned j = c.nfreed ? where % (c.nfreed < FREED ? c.nfreed : FREED) : 0;
            unsigned char *a = NULL;
            if (what <= 2 && s->p) {
                a = s->p + s->usable + where % 48;              /* overflow into the neighbour */
            } else if (what <= 4 && s->p) {
                a = s->p - 1 - where % 16;                      /* underflow into the header */
                n = n > 16 ? 16 : n;
            } else if (what <= 6 && c.nfreed) {
                a = c.freed[j].p + byte(src) % 64;              /* write after free */
            } else if (what <= 8 && c.nfreed && !live_at(&c, c.freed[j].p)) {
                st->dirty++;                                    /* double free, or realloc of a freed block */
                if (what == 7)
                    gh_heap_free(h, c.freed[j].p, "free");
                else
                    gh_heap_resize(h, c.freed[j].p, 64, "realloc");
                bug("a freed block was freed or resized again without a word", c.freed[j].p);
            } else if (what == 9 && s->p && s->usable > 16) {
                st->dirty++;                                    /* free into the middle of a block */
                unsigned char *q = s->p + 16 * (1 + where % (s->usable / 16));
                if (q < s->p + s->usable) {
                    gh_heap_free(h, q, "free");
                    bug("free of a pointer into a live block returned", q);
                }
            }
            if (!a)
                break;
            st->dirty++;
            poke(&c, a, n, src, style);
            break;
        }
        case 15:
            if (byte(src) < 16)
                gh_heap_trim(h, (size_t)byte(src) << 8);
            break;
        }
    }
    const char *why = NULL;
    const void *where = NULL;
    if (!gh_heap_check(h, &why, &where))
        gh_fatal("heap_check", why, where);
    for (unsigned i = 0; i < SLOTS; i++)
        if (c.s[i].p)
            verify(&c.s[i], c.s[i].req);
    return GH_FUZZ_CLEAN;
}
