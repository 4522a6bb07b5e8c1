/* replay_model.c - glassheap replay's growth models (replay.h).
 *
 * Owns: the models a replay can run under (--model), their parameters, how
 * each one configures the simulated process's source, heap and front end,
 * and how a report names them.  The models are settings of the one front
 * end and heap (alloc/front.c, alloc/fit.c, alloc/buddy.c), never a second
 * allocator:
 *
 *   glassheap  the library's own: top pad 128 KiB, trim threshold 128 KiB
 *              (doubled when the heap grows again right after a trim), the
 *              mmap threshold (the trace's or --mmap-threshold; dynamic,
 *              glibc's rule in alloc/front.c, unless chosen: given, or a
 *              trace's other than the default), growth and trimming in
 *              whole pages of a paged arena, the cache of freed large
 *              mappings (alloc/large.h).  A replay equals the preloaded
 *              run (a program that called mallopt aside: traces do not
 *              record it).
 *   exact      the CS:APP malloc-lab driver's: the heap is an arena that
 *              grows by exactly what a request lacks (a free block at the
 *              top counted; 16-byte units, no pad) and never shrinks
 *              (mem_sbrk takes no negative increment), and no request is
 *              mapped apart.  Buddy cannot grow by less than a block: its
 *              heap grows by one chunk, its largest block, here the
 *              smallest power of two that holds the trace's largest
 *              request and its header (the least a buddy heap with no mmap
 *              path must hold), instead of the library's 1 MiB or more.
 *
 * Never: runs an operation (replay_sim.c) or prints a table (replay_output.c).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "os.h"
#include "replay.h"

static const char *const model_names[] = { [MODEL_GLASSHEAP] = "glassheap", [MODEL_EXACT] = "exact" };

bool replay_model_parse(const char *name, enum replay_model_kind *k)
{
    for (size_t i = 0; i < sizeof model_names / sizeof *model_names; i++)
        if (!strcmp(name, model_names[i])) {
            *k = (enum replay_model_kind)i;
            return true;
        }
    return false;
}

/* The smallest buddy order whose block holds every request of t (its
 * alignment slack and a header included). */
static unsigned order_for_trace(const struct tf_trace *t)
{
    uint64_t most = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        if (op->kind == TF_FREE)
            continue;
        uint64_t need = op->size + GH_HEADER_SIZE + (op->align > GH_ALIGN ? op->align : 0);
        most = need > most ? need : most;
    }
    unsigned k = GH_BUDDY_MIN_ORDER + 1;
    while (k < GH_BUDDY_ORDERS - 1 && ((uint64_t)1 << k) < most)
        k++;
    return k;
}

void replay_model_init(struct replay_model *m, enum replay_model_kind k, uint64_t threshold, bool given,
                       const struct tf_trace *t)
{
    memset(m, 0, sizeof *m);
    m->kind = k;
    m->name = model_names[k];
    if (k == MODEL_GLASSHEAP) {
        m->mmap_threshold = threshold;
        m->threshold_dynamic = !given && threshold == TF_DEFAULT_MMAP_THRESHOLD;
        m->top_pad = GH_DEFAULT_TOP_PAD;
        m->trim_threshold = GH_DEFAULT_TRIM_THRESHOLD;
        m->trim_adaptive = true;
        m->unit = gh_os_page_size();
        m->shrinks = true;
    } else {
        m->mmap_threshold = UINT64_MAX;
        m->top_pad = 0;
        m->trim_threshold = UINT64_MAX;
        m->trim_adaptive = false;
        m->unit = GH_ALIGN;
        m->shrinks = false;
        m->buddy_order = order_for_trace(t);
    }
}

/* The front end's threshold: a request of SIZE_MAX bytes never comes. */
static size_t front_threshold(const struct replay_model *m)
{
    return m->mmap_threshold >= SIZE_MAX ? SIZE_MAX : (size_t)m->mmap_threshold;
}

void replay_model_setup(const struct replay_model *m, struct sim *s, const char *policy)
{
    if (m->kind == MODEL_GLASSHEAP) {
        /* Page by page like the break, which starts on a page as the arena does. */
        gh_source_init_arena_paged(&s->src, s->arena, s->arena_len, (size_t)m->unit);
        gh_heap_init_named(&s->h, &s->src, policy, front_threshold(m));
    } else {
        gh_source_init_arena(&s->src, s->arena, s->arena_len);
        s->src.grow_only = true;
        if (!strcmp(policy, "buddy"))
            gh_heap_init_buddy(&s->h, &s->src, m->buddy_order);
        else
            gh_heap_init_named(&s->h, &s->src, policy, 0);
        s->h.top_pad = 0;
        s->h.trim_threshold = SIZE_MAX;
        s->h.trim_adaptive = false;
        s->h.grow_exact = true;
    }
    gh_front_init(&s->front, &s->h, &s->mapper, front_threshold(m));
    gh_front_set_dynamic(&s->front, m->threshold_dynamic);
    gh_front_set_cache(&s->front, m->kind == MODEL_GLASSHEAP); /* freed mappings kept, as the library keeps them */
}

/* The parameters as one phrase ("top pad 128.0 KiB, ..."); `brief` for
 * the one line of a picture. */
static void params(FILE *f, const struct replay_model *m, uint64_t buddy_chunk, bool brief)
{
    char b[32];
    fprintf(f, "top pad %s", cli_bytes(m->top_pad, b, sizeof b));
    if (m->trim_threshold == UINT64_MAX)
        fprintf(f, ", never trims");
    else
        fprintf(f, ", trim threshold %s%s", cli_bytes(m->trim_threshold, b, sizeof b),
                !m->trim_adaptive ? ""
                : brief           ? " (adaptive)"
                                  : " (doubled when the heap grows again after a trim)");
    if (m->mmap_threshold == UINT64_MAX)
        fprintf(f, brief ? ", no mmap threshold" : ", no mmap threshold (every request in the heap)");
    else
        fprintf(f, ", mmap threshold %s%s", cli_bytes(m->mmap_threshold, b, sizeof b),
                !m->threshold_dynamic ? ""
                : brief               ? " (dynamic)"
                                      : " (dynamic: raised to a freed large block's mapping)");
    if (brief)
        fprintf(f, ", %s units", cli_bytes(m->unit, b, sizeof b));
    else
        fprintf(f, ", grows in %s units%s", cli_bytes(m->unit, b, sizeof b),
                m->kind == MODEL_EXACT ? " by exactly what a request lacks" : " (pad included)");
    if (buddy_chunk)
        fprintf(f, "; buddy grows by %s chunks", cli_bytes(buddy_chunk, b, sizeof b));
    if (m->cache)
        fprintf(f, brief ? "; thread cache" : "; the thread's cache in front (--cache)");
}

void replay_model_describe(FILE *f, const struct replay_model *m, uint64_t buddy_chunk)
{
    fprintf(f, "growth model %s (%s): ", m->name,
            m->kind == MODEL_EXACT ? "the malloc-lab driver's: the heap never shrinks"
                                   : "the library's own: replay equals the preloaded run");
    params(f, m, buddy_chunk, false);
    fputc('\n', f);
}

void replay_model_line(FILE *f, const struct replay_model *m, uint64_t buddy_chunk)
{
    fprintf(f, "model %s: ", m->name);
    params(f, m, buddy_chunk, true);
}

static void json_limit(FILE *f, const char *key, uint64_t v)
{
    if (v == UINT64_MAX)
        fprintf(f, ",\"%s\":null", key);
    else
        fprintf(f, ",\"%s\":%" PRIu64, key, v);
}

void replay_model_json(FILE *f, const struct replay_model *m, uint64_t buddy_chunk)
{
    fprintf(f, "{\"name\":\"%s\",\"top_pad\":%" PRIu64, m->name, m->top_pad);
    json_limit(f, "trim_threshold", m->trim_threshold);
    fprintf(f, ",\"trim_adaptive\":%s,\"cache\":%s", m->trim_adaptive ? "true" : "false",
            m->cache ? "true" : "false");
    json_limit(f, "mmap_threshold", m->mmap_threshold);
    fprintf(f, ",\"mmap_threshold_dynamic\":%s", m->threshold_dynamic ? "true" : "false");
    fprintf(f, ",\"growth_unit\":%" PRIu64 ",\"grows_exactly\":%s,\"shrinks\":%s", m->unit,
            m->kind == MODEL_EXACT ? "true" : "false", m->shrinks ? "true" : "false");
    if (buddy_chunk)
        fprintf(f, ",\"buddy_chunk\":%" PRIu64, buddy_chunk);
    fputc('}', f);
}
