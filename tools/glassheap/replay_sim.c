/* replay_sim.c - glassheap replay's simulated process (replay.h).
 *
 * Owns: one policy's heap over a private arena, the library's front end
 * over it with a counted mapper (set up as the growth model says,
 * replay_model.c), the trace's ids as slots, the program's live bytes (the
 * sizes of its live heap blocks after each operation), and the figures
 * taken along the way: peak live and peak heap (and what was there at those
 * moments, for Johnstone & Wilson's #2 and #3 and the fragmentation at peak
 * live), the sums behind #1, the series for --svg, the large blocks.
 * Never: decides how an operation is served (alloc/front.c does, as in
 * the preloaded library) or prints anything but --step.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "replay.h"

#define ARENA_MAX ((size_t)1 << 40)   /* reserve (not commit) up to 1 TiB */
#define ARENA_MIN ((size_t)64 << 20)

static struct snapshot take_snapshot(const struct gh_heap *h)
{
    struct snapshot sn = {
        .heap_bytes = h->c->heap_bytes,
        .live_requested = h->c->live_requested,
        .live_block_bytes = h->c->live_block_bytes,
        .live_blocks = h->c->live_blocks,
        .free_bytes = h->c->free_bytes,
        .free_blocks = gh_heap_free_blocks(h),
        .largest_free = gh_heap_largest_free(h),
    };
    return sn;
}

/* Inside an operation, after every step that can set a peak, and after it:
 * has the heap reached a new peak (J&W #2 takes the live bytes then)? */
static void watch_heap(struct sim *s)
{
    if (s->h.c->peak_heap_bytes > s->peak_heap_seen) {
        s->peak_heap_seen = s->h.c->peak_heap_bytes;
        s->heap_peaked = true;
    }
}

/* After each operation: the program's live bytes are settled; note the
 * moments of peak live (J&W #3, the fragmentation at peak; the first such
 * moment) and of peak heap (#2: the most live while the heap is at it). */
static void observe(struct sim *s)
{
    const struct gh_heap_counters *k = s->h.c;
    struct result *r = s->res;
    watch_heap(s);
    if (s->live > r->peak_live) {
        r->peak_live = s->live;
        r->heap_at_peak_live = k->heap_bytes;
        r->at_peak = take_snapshot(&s->h);
    }
    if (s->heap_peaked) {
        r->live_at_peak_heap = s->live;
        s->heap_peaked = false;
    } else if (k->heap_bytes == s->peak_heap_seen && s->live > r->live_at_peak_heap) {
        r->live_at_peak_heap = s->live;
    }
    if (s->live_all > r->peak_total_req)
        r->peak_total_req = s->live_all;
}

/* The front end's hook: a block was placed, resized or remapped (the old
 * block of a moving realloc is still live here). */
static void on_step(void *ctx)
{
    struct sim *s = ctx;
    watch_heap(s);
    const struct gh_large *l = &s->front.large;
    if (l->live_requested > s->res->large_peak_req)
        s->res->large_peak_req = l->live_requested;
}

/* Count a failed allocation of n bytes, and why (the rest of the
 * failures: the heap's arena had no room left). */
static void count_failure(struct sim *s, uint64_t n, uint32_t align)
{
    s->res->failures++;
    if (n > (uint64_t)PTRDIFF_MAX)
        s->res->fail_too_large++;
    else if (gh_front_path(&s->front, align > GH_ALIGN ? align : GH_ALIGN, (size_t)n) == GH_PATH_LARGE)
        s->res->fail_mapping++;
}

/* --cache: a block of the thread's cache for n bytes aligned to align, as
 * the library's malloc takes one (alloc/malloc.c), or NULL. */
static void *cache_take(struct sim *s, uint64_t n, uint32_t align)
{
    size_t size;
    if (!s->cache || n > GH_TCACHE_MAX_BLOCK || (size = gh_tcache_size_for((size_t)n, s->pow2)) == 0)
        return NULL;
    void *p = align > GH_ALIGN ? gh_tcache_take_aligned(&s->tc, size, align, "malloc")
                               : gh_tcache_take(&s->tc, size, "malloc");
    if (p)
        on_step(s);
    return p;
}

/* --cache: keep the freed heap block p in the cache, as free does. */
static bool cache_put(struct sim *s, void *p)
{
    if (!s->cache || !gh_heap_owns(&s->h, p))
        return false;
    const struct gh_block *b = gh_block_of(p);
    size_t size = gh_tcache_cacheable(b->size_flags);
    if (!size || !gh_tcache_room(&s->tc, size))
        return false;
    gh_tcache_put(&s->tc, p, size, gh_block_requested(b));
    return true;
}

/* Give every cached block back to the heap (the end of the trace). */
static struct sim *flushing;
static void release_cached(char *p)
{
    gh_front_free(&flushing->front, p);
}

static void slot_alloc(struct sim *s, struct slot *sl, uint64_t n, uint32_t align)
{
    void *p = n > (uint64_t)PTRDIFF_MAX ? NULL : cache_take(s, n, align);
    if (!p && n <= (uint64_t)PTRDIFF_MAX)
        p = gh_front_malloc(&s->front, align > GH_ALIGN ? align : GH_ALIGN, (size_t)n);
    if (!p) {
        sl->state = S_FAILED;
        count_failure(s, n, align);
        return;
    }
    sl->state = S_LIVE;
    sl->p = p;
    sl->size = n;
}

static void slot_free(struct sim *s, struct slot *sl)
{
    if (sl->state == S_LIVE && !cache_put(s, sl->p))
        gh_front_free(&s->front, sl->p);
    memset(sl, 0, sizeof *sl);
}

static void slot_realloc(struct sim *s, struct slot *sl, uint64_t n)
{
    if (sl->state != S_LIVE) {
        slot_alloc(s, sl, n, 0);
        return;
    }
    void *q = n > (uint64_t)PTRDIFF_MAX ? NULL : gh_front_realloc(&s->front, sl->p, (size_t)n, NULL);
    if (!q) {
        count_failure(s, n, 0); /* the old block stays, as realloc leaves it on failure */
        return;
    }
    sl->p = q;
    sl->size = n;
}

void sim_apply(struct sim *s, const struct tf_op *op)
{
    /* tracefile.h guarantees the id is live or not as the operation needs */
    struct slot *sl = &s->slots[op->id];
    /* The program's live bytes: the slot's old size out, its new one in. */
    bool was = sl->state == S_LIVE;
    uint64_t rises = s->front.threshold_rises;
    s->live -= was && sim_in_heap(s, sl) ? sl->size : 0;
    s->live_all -= was ? sl->size : 0;
    if (op->kind == TF_ALLOC)
        slot_alloc(s, sl, op->size, op->align);
    else if (op->kind == TF_REALLOC)
        slot_realloc(s, sl, op->size);
    else
        slot_free(s, sl);
    bool is = sl->state == S_LIVE;
    s->live += is && sim_in_heap(s, sl) ? sl->size : 0;
    s->live_all += is ? sl->size : 0;
    s->threshold_rose = s->front.threshold_rises != rises;
    observe(s);
}

uint64_t sim_offset(const struct sim *s, const void *p)
{
    return (uint64_t)((const char *)p - s->arena);
}

bool sim_in_heap(const struct sim *s, const struct slot *sl)
{
    return sl->state == S_LIVE && gh_heap_owns(&s->h, sl->p);
}

/* ---- the arena ---------------------------------------------------------- */

static bool arena_open(struct sim *s)
{
    for (size_t len = ARENA_MAX; len >= ARENA_MIN; len /= 2) {
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m != MAP_FAILED) {
            s->arena = m;
            s->arena_len = len;
            return true;
        }
    }
    return false;
}

bool sim_init(struct sim *s, const struct replay_model *m, const char *policy, uint32_t nids, struct result *res)
{
    memset(s, 0, sizeof *s);
    s->res = res;
    s->nids = nids;
    s->slots = calloc(nids ? nids : 1, sizeof *s->slots);
    if (!s->slots || !arena_open(s)) {
        free(s->slots);
        return false;
    }
    gh_mapper_counted(&s->mapper, &s->mapped);
    replay_model_setup(m, s, policy);
    s->front.observe = on_step;
    s->front.observe_ctx = s;
    s->cache = m->cache;
    s->pow2 = s->h.d == &gh_discipline_buddy;
    s->front.cache_marks = m->cache;
    if (m->cache) {
        memset(&s->tc, 0, sizeof s->tc);
        gh_tcache_init_bins(&s->tc, s->pow2);
        s->tc.state = GH_TCACHE_ACTIVE;
    }
    struct gh_heap_desc d;
    gh_heap_describe(&s->h, &d);
    res->buddy_chunk = d.max_order ? (uint64_t)1 << d.max_order : 0;
    return true;
}

void sim_end(struct sim *s)
{
    if (s->cache) {
        flushing = s;
        gh_tcache_flush(&s->tc, release_cached);
    }
    for (uint32_t i = 0; i < s->nids; i++)
        if (s->slots[i].state == S_LIVE && !sim_in_heap(s, &s->slots[i]))
            slot_free(s, &s->slots[i]); /* the large blocks' mappings go back (the arena goes whole) */
    gh_front_trim_cache(&s->front);     /* and the mappings the cache kept */
    munmap(s->arena, s->arena_len);
    free(s->slots);
}

/* ---- one policy ----------------------------------------------------------- */

bool replay_policy(const struct tf_trace *t, const struct replay_model *m, const char *policy, FILE *step_out,
                   struct html_page *html, struct result *res)
{
    struct sim s;
    memset(res, 0, sizeof *res);
    res->policy = policy;
    if (!sim_init(&s, m, policy, t->nids, res))
        return false;
    res->npoints = t->n < REPLAY_SERIES_POINTS ? t->n : REPLAY_SERIES_POINTS;
    res->series_heap = calloc(res->npoints, sizeof *res->series_heap);
    res->series_live = calloc(res->npoints, sizeof *res->series_live);
    if (!res->series_heap || !res->series_live) {
        sim_end(&s);
        return false;
    }
    if (step_out)
        fprintf(step_out, "== policy %s: %zu operations ==\n", policy, t->n);
    double t0 = gh_now_s();
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        sim_apply(&s, op);
        uint64_t heap = s.h.c->heap_bytes, live = s.live;
        res->sum_heap += heap;
        res->sum_live += live;
        size_t bucket = (size_t)((uint64_t)i * res->npoints / t->n);
        if (heap > res->series_heap[bucket])
            res->series_heap[bucket] = heap;
        if (live > res->series_live[bucket])
            res->series_live[bucket] = live;
        if (step_out)
            step_print(step_out, &s, i, t->n, op);
        if (html) {
            fprintf(html->out, "<g class='step' data-step='%zu' style='display:none'>", i + 1);
            html_step(html->out, &s, html->span, policy, 40.0, op);
            fputs("</g>\n", html->out);
        }
    }
    res->seconds = gh_now_s() - t0;
    res->c = *s.h.c;
    res->peak_live_in_moves = s.h.c->peak_requested;
    res->large_blocks = s.front.large_mapped;
    res->large_peak_bytes = s.front.large.peak_bytes;
    res->threshold_end = gh_front_threshold(&s.front);
    res->threshold_rises = s.front.threshold_rises;
    res->large_reused = s.front.large_reused;
    if (step_out)
        fputc('\n', step_out);
    sim_end(&s);
    return true;
}

void result_free(struct result *r)
{
    free(r->series_heap);
    free(r->series_live);
}
