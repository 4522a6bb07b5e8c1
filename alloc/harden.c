/* harden.c - the hardened mode (harden.h): canaries, the free pattern, the
 * quarantine, guarded large blocks, no-access zero-size blocks and the
 * sized-free check.
 *
 * Owns: the process's hardened state H (one process, one allocator lock),
 * which the front end reaches only when f->harden is set.  Never: places a
 * block (heap.h does, asked for n + 1 bytes), lays out a registry record
 * (large.c's gh_large_setup), or calls the OS except os.c's gh_os_map,
 * gh_os_protect and the mapper.  Invariants: a heap block's header holds
 * its requested size + 1; a quarantined block is in the ring and in the
 * set, holds only GH_HARDEN_FREE_BYTE in its requested and canary bytes
 * (and so does every freed byte a program wrote), and is a live
 * block to the heap; the counts match the ring and the live blocks.
 */
#include "harden.h"

#include <string.h>

#include "error.h"
#include "os.h"

/* The quarantine's membership set: open addressing, linear probing, at
 * most a quarter full. */
#define SET_BITS 12u
#define SET_SIZE (1u << SET_BITS)
#define ZERO_SLOT 16u
#define ZERO_SLOTS (GH_HARDEN_ZERO_REGION / ZERO_SLOT)
#define ZERO_WORDS (ZERO_SLOTS / 64u)
#define FREE_WORD (0x0101010101010101ULL * GH_HARDEN_FREE_BYTE)

_Static_assert(GH_HARDEN_QUARANTINE_BLOCKS * 4 <= SET_SIZE, "the set stays a quarter full");

struct qent {
    void *p;
    size_t usable;     /* bytes filled with the pattern: requested + canary */
    size_t block;      /* the whole block, as the heap counts it */
    size_t requested;  /* what the program had asked for */
};

static struct {
    bool on;
    struct qent ring[GH_HARDEN_QUARANTINE_BLOCKS];
    unsigned head, count;
    void *set[SET_SIZE];
    struct gh_harden_counts *c;     /* canary_bytes: heap blocks only; at home (own)
                                     * or in place (gh_harden_place) */
    uint64_t *large_canary_bytes;   /* atomic: large blocks are armed without the lock */
    struct gh_harden_counts own;
    uint64_t large_canary_own;
    char *zero;                     /* the no-access region, NULL: none */
    uint64_t zero_live[ZERO_WORDS]; /* bit i: slot i is a live malloc(0) */
    unsigned zero_next;             /* word to search first */
} H; /* zero-initialised, so in .bss: only the pages a run touches are its
      * memory (with an initialiser all 57 KiB were the library's file-backed
      * .data, mapped in at the first read); c and large_canary_bytes point
      * home from gh_harden_init on */

/* ---- canaries ----------------------------------------------------------- */

/* The canary of the block at p, two words: unforgeable without the
 * secret, and no byte 0 (an off-by-one NUL is the commonest overflow). */
struct canary {
    uint64_t w[2];
};

static inline struct canary canary_of(const void *p)
{
    uint64_t x = ((uint64_t)(uintptr_t)p ^ gh_block_secret) * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 32;
    struct canary c = { { x | 0x0101010101010101ULL, (x * 0x94d049bb133111ebULL) | 0x0101010101010101ULL } };
    return c;
}

/* Canary bytes of a block with `usable` bytes holding n. */
static inline size_t canary_len(size_t usable, size_t n)
{
    size_t slack = usable - n;
    return slack < GH_HARDEN_CANARY_MAX ? slack : GH_HARDEN_CANARY_MAX;
}

static inline size_t arm(void *p, size_t n, size_t usable)
{
    struct canary c = canary_of(p);
    size_t len = canary_len(usable, n);
    memcpy((char *)p + n, c.w, len);
    return len;
}

static inline void check_canary(const void *p, size_t n, size_t usable, const char *fn)
{
    struct canary c = canary_of(p);
    size_t len = canary_len(usable, n);
    const char *at = (const char *)p + n;
    bool ok;
    if (len == GH_HARDEN_CANARY_MAX) {
        uint64_t a, b;
        memcpy(&a, at, 8);
        memcpy(&b, at + 8, 8);
        ok = a == c.w[0] && b == c.w[1];
    } else {
        ok = memcmp(at, c.w, len) == 0;
    }
    if (!ok)
        gh_fatal(fn, "overflow past the end of block", p);
}

_Static_assert(GH_HARDEN_CANARY_MAX == sizeof(struct canary), "the canary is two words");

/* ---- the free pattern --------------------------------------------------- */

/* Sixty-four bytes at a time in 16-byte vector words (SSE2 on x86-64,
 * GCC's generic vectors elsewhere), the differences or-ed together: no
 * early exit, no branch but the loop's.  Then 16 bytes at a time, then
 * bytes (a payload is 16-aligned and its usable size a multiple of 8). */
typedef uint64_t pattern_v __attribute__((vector_size(16)));

static bool pattern_intact(const void *p, size_t len)
{
    const unsigned char *b = p;
    const pattern_v pat = { FREE_WORD, FREE_WORD };
    pattern_v acc = { 0, 0 };
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        pattern_v w0, w1, w2, w3;
        memcpy(&w0, b + i, 16);
        memcpy(&w1, b + i + 16, 16);
        memcpy(&w2, b + i + 32, 16);
        memcpy(&w3, b + i + 48, 16);
        acc |= (w0 ^ pat) | (w1 ^ pat) | (w2 ^ pat) | (w3 ^ pat);
    }
    for (; i + 16 <= len; i += 16) {
        pattern_v w;
        memcpy(&w, b + i, 16);
        acc |= w ^ pat;
    }
    uint64_t diff = acc[0] | acc[1];
    for (; i < len; i++)
        diff |= b[i] ^ (uint64_t)GH_HARDEN_FREE_BYTE;
    return diff == 0;
}

/* ---- the quarantine's set ---------------------------------------------- */

static unsigned home(const void *p)
{
    return (unsigned)(((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL) >> (64 - SET_BITS));
}

static bool set_has(const void *p)
{
    for (unsigned i = home(p);; i = (i + 1) & (SET_SIZE - 1)) {
        if (!H.set[i])
            return false;
        if (H.set[i] == p)
            return true;
    }
}

static void set_add(void *p)
{
    unsigned i = home(p);
    while (H.set[i])
        i = (i + 1) & (SET_SIZE - 1);
    H.set[i] = p;
}

/* Remove p (present), shifting back the entries its slot kept apart from
 * their home so every probe still finds them. */
static void set_del(const void *p)
{
    unsigned i = home(p);
    while (H.set[i] != p)
        i = (i + 1) & (SET_SIZE - 1);
    H.set[i] = NULL;
    for (unsigned j = (i + 1) & (SET_SIZE - 1); H.set[j]; j = (j + 1) & (SET_SIZE - 1)) {
        unsigned k = home(H.set[j]);
        /* j's entry may move to i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            H.set[i] = H.set[j];
            H.set[j] = NULL;
            i = j;
        }
    }
}

/* ---- the quarantine ----------------------------------------------------- */

/* Check the oldest quarantined block and give it back to the heap. */
static void evict(struct gh_front *f, const char *fn)
{
    struct qent e = H.ring[H.head];
    H.head = (H.head + 1) % GH_HARDEN_QUARANTINE_BLOCKS;
    H.count--;
    set_del(e.p);
    H.c->quarantined_blocks--;
    H.c->quarantined_bytes -= e.block;
    H.c->quarantined_requested -= e.requested;
    if (H.count) {
        /* The next to leave was freed hundreds of frees ago and is cold:
         * its header and first bytes start coming now, one free ahead. */
        const char *n = H.ring[H.head].p;
        __builtin_prefetch(n - GH_HEADER_SIZE);
        __builtin_prefetch(n + 48);
    }
    if (!pattern_intact(e.p, e.usable))
        gh_fatal(fn, "write after free of block", e.p);
    gh_heap_free(f->heap, e.p, fn);
}

static void quarantine(struct gh_front *f, void *p, size_t usable, size_t block, size_t n, const char *fn)
{
    if (H.count == GH_HARDEN_QUARANTINE_BLOCKS)
        evict(f, fn);
    unsigned tail = (H.head + H.count) % GH_HARDEN_QUARANTINE_BLOCKS;
    H.ring[tail] = (struct qent){ p, usable, block, n };
    H.count++;
    set_add(p);
    H.c->quarantined_blocks++;
    H.c->quarantined_bytes += block;
    H.c->quarantined_requested += n;
    while (H.c->quarantined_bytes > GH_HARDEN_QUARANTINE_BYTES)
        evict(f, fn);
}

void gh_harden_flush(struct gh_front *f, const char *fn)
{
    while (H.count)
        evict(f, fn);
}

void gh_harden_verify(struct gh_front *f, const char *fn)
{
    for (unsigned k = 0; k < H.count; k++) {
        const struct qent *e = &H.ring[(H.head + k) % GH_HARDEN_QUARANTINE_BLOCKS];
        if (!pattern_intact(e->p, e->usable))
            gh_fatal(fn, "write after free of block", e->p);
        gh_heap_block(f->heap, e->p, fn, /* freeing */ false);
    }
}

/* ---- zero-size blocks --------------------------------------------------- */

static bool zero_owns(const void *p)
{
    return H.zero && (const char *)p >= H.zero && (const char *)p < H.zero + GH_HARDEN_ZERO_REGION;
}

static void *zero_take(void)
{
    if (!H.zero)
        return NULL;
    for (unsigned k = 0; k < ZERO_WORDS; k++) {
        unsigned w = (H.zero_next + k) % ZERO_WORDS;
        if (H.zero_live[w] != UINT64_MAX) {
            unsigned bit = (unsigned)__builtin_ctzll(~H.zero_live[w]);
            H.zero_live[w] |= (uint64_t)1 << bit;
            H.zero_next = w;
            H.c->zero_blocks++;
            return H.zero + ((size_t)w * 64 + bit) * ZERO_SLOT;
        }
    }
    return NULL; /* full: malloc(0) takes a heap block */
}

/* Slot of a live zero-size block p (fatal when p is not one: `dead` says
 * what a freed one is). */
static size_t zero_slot(const void *p, const char *fn, const char *dead)
{
    size_t off = (size_t)((const char *)p - H.zero);
    if (off % ZERO_SLOT)
        gh_fatal(fn, GH_MSG_INVALID, p);
    size_t i = off / ZERO_SLOT;
    if (!(H.zero_live[i / 64] & ((uint64_t)1 << (i % 64))))
        gh_fatal(fn, dead, p);
    return i;
}

static void zero_release(const void *p, const char *fn)
{
    size_t i = zero_slot(p, fn, GH_MSG_DOUBLE_FREE);
    H.zero_live[i / 64] &= ~((uint64_t)1 << (i % 64));
    H.c->zero_blocks--;
}

/* ---- the front end's steps ---------------------------------------------- */

void gh_harden_init(struct gh_front *f, bool on)
{
    f->harden = on;
    H.on = on;
    if (!H.c) {
        H.c = &H.own;
        H.large_canary_bytes = &H.large_canary_own;
    }
    if (!on)
        return;
    void *z;
    if (gh_os_map(GH_HARDEN_ZERO_REGION, &z) == 0) {
        if (gh_os_protect(z, GH_HARDEN_ZERO_REGION, GH_OS_NO_ACCESS) == 0)
            H.zero = z;
        else
            gh_os_unmap(z, GH_HARDEN_ZERO_REGION);
    }
}

/* A live heap block's requested size (the header's, less the reserve
 * byte), validated; *b its block. */
static size_t heap_requested(struct gh_front *f, const void *p, const char *fn, bool freeing, struct gh_block **b,
                             size_t *usable)
{
    *b = gh_heap_block(f->heap, p, fn, freeing);
    *usable = gh_heap_usable(f->heap, p);
    size_t r = gh_block_requested(*b);
    if (r == 0 || r - 1 > *usable)
        gh_fatal(fn, GH_MSG_HEADER, p);
    return r - 1;
}

void *gh_harden_heap_alloc(struct gh_front *f, size_t align, size_t n)
{
    if (n == 0 && align <= GH_ALIGN) {
        void *z = zero_take();
        if (z)
            return z;
    }
    /* n <= PTRDIFF_MAX (gh_front_path), so n + 1 cannot wrap. */
    void *p = align <= GH_ALIGN ? gh_heap_alloc(f->heap, n + 1) : gh_heap_alloc_aligned(f->heap, align, n + 1);
    if (!p && H.count) {
        gh_harden_flush(f, "malloc");
        p = align <= GH_ALIGN ? gh_heap_alloc(f->heap, n + 1) : gh_heap_alloc_aligned(f->heap, align, n + 1);
    }
    if (p)
        H.c->canary_bytes += arm(p, n, gh_heap_usable(f->heap, p));
    return p;
}

void *gh_harden_large_map(const struct gh_front *f, size_t align, size_t n)
{
    size_t ps = gh_os_page_size(), len, total;
    if (align < GH_ALIGN)
        align = GH_ALIGN;
    /* Room for the record, the header and the alignment in front of the
     * payload, which ends at the guard page (its start rounded down). */
    if (n > GH_MAX_REQUEST || __builtin_add_overflow(n, GH_LARGE_OVERHEAD + align, &len)
        || !gh_round_up(len, ps, &len) || __builtin_add_overflow(len, ps, &total))
        return NULL;
    void *m;
    if (f->mapper->map(f->mapper->ctx, total, &m) != 0)
        return NULL;
    char *guard = (char *)m + len;
    if (gh_os_protect(guard, ps, GH_OS_NO_ACCESS) != 0) {
        f->mapper->unmap(f->mapper->ctx, m, total);
        return NULL;
    }
    char *p = (char *)(((uintptr_t)guard - n) & ~(uintptr_t)(align - 1));
    gh_large_setup(m, len, p, n);
    __atomic_fetch_add(H.large_canary_bytes, arm(p, n, (size_t)(guard - p)), __ATOMIC_RELAXED);
    return p;
}

void gh_harden_release(struct gh_front *f, void *p, const char *fn, struct gh_front_unmap *u, size_t *usable)
{
    u->base = NULL;
    u->len = 0;
    if (usable)
        *usable = 0;
    if (zero_owns(p)) {
        zero_release(p, fn);
        return;
    }
    if (set_has(p))
        gh_fatal(fn, GH_MSG_DOUBLE_FREE, p);
    struct gh_large_rec *rec;
    if (gh_front_find(f, p, fn, /* freeing */ true, &rec) == GH_FRONT_LARGE) {
        void *base;
        size_t len;
        gh_large_unregister(&f->large, rec, p, fn, &base, &len);
        size_t use = gh_large_usable(p), n = gh_large_requested(p);
        if (n > use)
            gh_fatal(fn, GH_MSG_HEADER, p);
        check_canary(p, n, use, fn);
        __atomic_fetch_sub(H.large_canary_bytes, canary_len(use, n), __ATOMIC_RELAXED);
        u->base = base;
        u->len = len + gh_os_page_size(); /* and its guard page */
        return;
    }
    struct gh_block *b;
    size_t use, n = heap_requested(f, p, fn, /* freeing */ true, &b, &use);
    check_canary(p, n, use, fn);
    size_t filled = n + canary_len(use, n);
    H.c->canary_bytes -= filled - n;
    if (usable)
        *usable = use;
    /* What the program wrote and the canary; the bytes above were filled
     * when their last owner freed them (or were never handed out). */
    memset(p, GH_HARDEN_FREE_BYTE, filled);
    size_t block = gh_block_size(b);
    if (block > GH_HARDEN_QUARANTINE_BLOCK_MAX)
        gh_heap_free(f->heap, p, fn);
    else
        quarantine(f, p, filled, block, n, fn);
}

size_t gh_harden_usable(struct gh_front *f, const void *p, const char *fn)
{
    if (zero_owns(p)) {
        zero_slot(p, fn, GH_MSG_FREED);
        return 0;
    }
    if (set_has(p))
        gh_fatal(fn, GH_MSG_FREED, p);
    struct gh_large_rec *rec;
    if (gh_front_find(f, p, fn, /* freeing */ false, &rec) == GH_FRONT_LARGE)
        return gh_large_requested(p);
    struct gh_block *b;
    size_t use;
    return heap_requested(f, p, fn, /* freeing */ false, &b, &use);
}

enum gh_realloc_step gh_harden_realloc_begin(struct gh_front *f, void *p, size_t n, const char *fn,
                                             struct gh_realloc *r)
{
    if (n > PTRDIFF_MAX)
        return GH_REALLOC_FAILED;
    r->old_requested = r->old_usable = 0;
    if (zero_owns(p)) {
        zero_slot(p, fn, GH_MSG_FREED);
        return GH_REALLOC_MOVE;
    }
    if (set_has(p))
        gh_fatal(fn, GH_MSG_FREED, p);
    struct gh_large_rec *rec;
    if (gh_front_find(f, p, fn, /* freeing */ false, &rec) == GH_FRONT_LARGE) {
        size_t use = gh_large_usable(p), old = gh_large_requested(p);
        if (old > use)
            gh_fatal(fn, GH_MSG_HEADER, p);
        check_canary(p, old, use, fn);
        r->old_requested = r->old_usable = old;
        return GH_REALLOC_MOVE;
    }
    struct gh_block *b;
    size_t use, old = heap_requested(f, p, fn, /* freeing */ false, &b, &use);
    check_canary(p, old, use, fn);
    r->old_requested = r->old_usable = old;
    /* Grown in place only: a shrink moves, so the bytes it gives up are
     * freed (filled, quarantined) with the old block, not split off to the
     * heap with the program's data in them. */
    if (n >= old && !gh_front_is_large(f, n) && gh_heap_resize(f->heap, p, n + 1, fn)) {
        H.c->canary_bytes -= canary_len(use, old);
        H.c->canary_bytes += arm(p, n, gh_heap_usable(f->heap, p));
        return GH_REALLOC_IN_PLACE;
    }
    return GH_REALLOC_MOVE;
}

void gh_harden_check_size(struct gh_front *f, const void *p, size_t size, size_t align, bool rounded,
                          const char *fn)
{
    if (!H.on)
        return;
    size_t n;
    if (set_has(p))
        return; /* a freed block: the free reports it */
    if (zero_owns(p))
        n = 0;
    else if (gh_heap_owns(f->heap, p)) {
        struct gh_block *b;
        size_t use;
        n = heap_requested(f, p, fn, /* freeing: a sized free */ true, &b, &use);
    } else if (gh_large_find(&f->large, p))
        n = gh_large_requested(p);
    else
        return; /* not a block of ours: the free says so */
    bool ok = size == n;
    if (align > 1) {
        size_t up;
        ok = (ok || (rounded && gh_round_up(size, align, &up) && up == n)) && ((uintptr_t)p & (align - 1)) == 0;
    }
    if (!ok)
        gh_fatal(fn, "wrong size for block", p);
}

void gh_harden_copy_home(void)
{
    if (H.c != &H.own)
        H.own = *H.c;
    if (H.large_canary_bytes != &H.large_canary_own)
        H.large_canary_own = __atomic_load_n(H.large_canary_bytes, __ATOMIC_RELAXED);
}

void gh_harden_place(struct gh_harden_counts *c, uint64_t *large_canary_bytes)
{
    if (!c) { /* home, to what gh_harden_copy_home kept */
        H.c = &H.own;
        H.large_canary_bytes = &H.large_canary_own;
        return;
    }
    if (c != H.c) {
        *c = *H.c;
        c->on = H.on; /* for a reader: the mode is on */
        H.c = c;
    }
    if (large_canary_bytes != H.large_canary_bytes) {
        __atomic_store_n(large_canary_bytes, __atomic_load_n(H.large_canary_bytes, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
        __atomic_store_n(&H.large_canary_bytes, large_canary_bytes, __ATOMIC_RELEASE);
    }
}

void gh_harden_account(struct gh_harden_counts *out, struct gh_heap_counters *heap)
{
    memset(out, 0, sizeof *out);
    if (!H.on)
        return;
    *out = *H.c;
    out->on = 1;
    out->canary_bytes += __atomic_load_n(H.large_canary_bytes, __ATOMIC_RELAXED);
    gh_live_program_view(heap, out, NULL);
}
