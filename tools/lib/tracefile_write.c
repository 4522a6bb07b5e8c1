/* tracefile_write.c - writing a loaded trace back in either format
 * (tracefile.h): malloc-lab text with the file's own ids, glassheap's
 * binary format with made-up addresses; and the peak of live bytes, a
 * 128-bit sum, for the rep header.
 */
#include "tracefile.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The peak of live requested bytes, for the rep header's first number. */
tf_sum tf_peak_live(const struct tf_trace *t)
{
    uint64_t *size = calloc(t->nids ? t->nids : 1, sizeof *size);
    tf_sum live = 0, peak = 0;
    if (!size)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        live -= size[op->id];
        size[op->id] = op->kind == TF_FREE ? 0 : op->size;
        live += size[op->id];
        if (live > peak)
            peak = live;
    }
    free(size);
    return peak;
}

/* The id an operation has in the file: a rep trace's own, else the dense one. */
static uint32_t file_id(const struct tf_trace *t, uint32_t id)
{
    return t->file_ids ? t->file_ids[id] : id;
}

bool tf_write_rep(FILE *out, const struct tf_trace *t, uint64_t *aligned)
{
    uint64_t heap = t->rep_heap;
    if (t->format != TF_REP) {
        tf_sum peak = tf_peak_live(t);
        heap = peak > UINT64_MAX ? UINT64_MAX : (uint64_t)peak; /* cmd_convert refuses that first */
    }
    uint64_t ids = t->nids;
    for (uint32_t i = 0; t->file_ids && i < t->nids; i++)
        if ((uint64_t)t->file_ids[i] + 1 > ids)
            ids = (uint64_t)t->file_ids[i] + 1;
    if (t->format == TF_REP && t->rep_ids > ids)
        ids = t->rep_ids;
    fprintf(out, "%" PRIu64 "\n%" PRIu64 "\n%zu\n%" PRIu64 "\n", heap, ids, t->n, t->format == TF_REP ? t->rep_weight : 1);
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        switch (op->kind) {
        case TF_ALLOC:
            *aligned += op->align != 0;
            fprintf(out, "a %" PRIu32 " %" PRIu64 "\n", file_id(t, op->id), op->size);
            break;
        case TF_REALLOC:
            fprintf(out, "r %" PRIu32 " %" PRIu64 "\n", file_id(t, op->id), op->size);
            break;
        default:
            fprintf(out, "f %" PRIu32 "\n", file_id(t, op->id));
            break;
        }
    }
    return !ferror(out);
}

bool tf_write_binary(FILE *out, const struct tf_trace *t, const char *in)
{
    struct gh_trace_header h;
    bool binary = t->format == TF_BINARY;
    gh_trace_header_init(&h, binary ? t->pid : 0, binary ? t->start_ns : 0, binary ? t->policy : NULL,
                         t->mmap_threshold ? t->mmap_threshold : TF_DEFAULT_MMAP_THRESHOLD, 0);
    if (binary)
        memcpy(h.cmdline, t->cmdline, strnlen(t->cmdline, sizeof h.cmdline - 1));
    else
        snprintf(h.cmdline, sizeof h.cmdline, "converted from %s", in);
    if (fwrite(&h, sizeof h, 1, out) != 1)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        struct gh_trace_record r;
        memset(&r, 0, sizeof r);
        uint64_t addr = TF_ADDR_BASE + 16 * (uint64_t)op->id;
        r.time_ns = op->time_ns;
        r.tid = op->tid;
        r.size = op->size;
        switch (op->kind) {
        case TF_ALLOC:
            r.op = op->call == GH_TRACE_CALLOC || op->call == GH_TRACE_ALIGNED ? op->call : GH_TRACE_MALLOC;
            if (op->align) {
                r.op = GH_TRACE_ALIGNED;
                r.align = op->align;
            }
            r.result = addr;
            break;
        case TF_REALLOC:
            r.op = GH_TRACE_REALLOC;
            r.ptr = r.result = addr;
            break;
        default:
            r.op = GH_TRACE_FREE;
            r.ptr = addr;
            r.size = 0;
            break;
        }
        if (fwrite(&r, sizeof r, 1, out) != 1)
            return false;
    }
    return true;
}
