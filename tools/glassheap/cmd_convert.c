/* cmd_convert.c - glassheap convert: binary trace <-> malloc-lab text.
 *
 *   glassheap convert IN OUT [--to rep|binary]
 *
 * IN is either format (told apart by the binary magic).  OUT's format is
 * --to, else `rep` when OUT ends in ".rep", else binary; OUT "-" is
 * standard output (give --to).  What each direction keeps:
 *
 *   binary -> rep   the operations in order, blocks renamed to small ids
 *                   (tracefile.h: freed ids are reused).  Lost: times,
 *                   threads, the call (calloc, memalign: written as `a`, the
 *                   alignment dropped; a note on stderr says how many), and
 *                   the calls that failed.  The header: suggested heap size
 *                   = the trace's peak live bytes, ids, operations, weight 1.
 *   rep -> binary   one record per line: `a` a malloc, `r` a realloc in
 *                   place, `f` a free; block i lives at a made-up address
 *                   (ADDR_BASE + 16 i); times 0; the library's default mmap
 *                   threshold in the header.
 *
 * Either way `glassheap replay` gives the same figures for IN and OUT
 * (aligned requests aside).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tracefile.h"

#define ADDR_BASE 0x10000000000ULL  /* made-up block addresses: base + 16 * id */

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap convert IN OUT [--to rep|binary]\n\n"
            "Converts an allocation trace between glassheap's binary format (GLASSHEAP_TRACE,\n"
            "glassheap record) and the CS:APP malloc-lab text format (.rep: a header of four\n"
            "numbers, then 'a ID SIZE', 'r ID SIZE', 'f ID' lines).  OUT's format is --to, or\n"
            "rep when OUT ends in .rep, or binary; OUT '-' writes to standard output.\n"
            "Binary to rep drops times, threads and alignments (a note says how many).\n");
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The peak of live requested bytes, for the rep header's first number. */
static uint64_t peak_live(const struct tf_trace *t)
{
    uint64_t *size = calloc(t->nids ? t->nids : 1, sizeof *size);
    uint64_t live = 0, peak = 0;
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

static bool write_rep(FILE *out, const struct tf_trace *t, uint64_t *aligned)
{
    fprintf(out, "%" PRIu64 "\n%" PRIu32 "\n%zu\n%" PRIu64 "\n", t->format == TF_REP ? t->rep_heap : peak_live(t),
            t->format == TF_REP && t->rep_ids > t->nids ? t->rep_ids : t->nids, t->n,
            t->format == TF_REP ? t->rep_weight : 1);
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        switch (op->kind) {
        case TF_ALLOC:
            *aligned += op->align != 0;
            fprintf(out, "a %" PRIu32 " %" PRIu64 "\n", op->id, op->size);
            break;
        case TF_REALLOC:
            fprintf(out, "r %" PRIu32 " %" PRIu64 "\n", op->id, op->size);
            break;
        default:
            fprintf(out, "f %" PRIu32 "\n", op->id);
            break;
        }
    }
    return !ferror(out);
}

static bool write_binary(FILE *out, const struct tf_trace *t, const char *in)
{
    struct gh_trace_header h;
    memset(&h, 0, sizeof h);
    h.magic = GH_TRACE_MAGIC;
    h.version = GH_TRACE_VERSION;
    h.header_size = sizeof h;
    h.record_size = sizeof(struct gh_trace_record);
    h.mmap_threshold = t->mmap_threshold ? t->mmap_threshold : TF_DEFAULT_MMAP_THRESHOLD;
    if (t->format == TF_BINARY) {
        h.pid = t->pid;
        h.start_ns = t->start_ns;
        memcpy(h.policy, t->policy, strnlen(t->policy, sizeof h.policy - 1));
        memcpy(h.cmdline, t->cmdline, strnlen(t->cmdline, sizeof h.cmdline - 1));
    } else {
        snprintf(h.cmdline, sizeof h.cmdline, "converted from %s", in);
    }
    if (fwrite(&h, sizeof h, 1, out) != 1)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        const struct tf_op *op = &t->ops[i];
        struct gh_trace_record r;
        memset(&r, 0, sizeof r);
        uint64_t addr = ADDR_BASE + 16 * (uint64_t)op->id;
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

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        { "to", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *to = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            to = optarg;
            break;
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind + 2 != argc) {
        cli_error("convert: give an input and an output file (glassheap convert IN OUT [--to rep|binary])");
        return GH_EXIT_USAGE;
    }
    const char *in = argv[optind], *outpath = argv[optind + 1];
    bool rep;
    if (to) {
        if (strcmp(to, "rep") && strcmp(to, "binary")) {
            cli_error("convert: --to takes rep or binary, not '%s'", to);
            return GH_EXIT_USAGE;
        }
        rep = !strcmp(to, "rep");
    } else if (!strcmp(outpath, "-")) {
        cli_error("convert: writing to standard output needs --to rep or --to binary");
        return GH_EXIT_USAGE;
    } else {
        rep = ends_with(outpath, ".rep");
    }
    struct tf_trace t;
    char err[512];
    int rc = tf_load(in, &t, err, sizeof err);
    if (rc != TF_OK) {
        cli_error("%s", err);
        return rc == TF_NOFILE ? GH_EXIT_NOTFOUND : GH_EXIT_FAIL;
    }
    FILE *out = strcmp(outpath, "-") ? fopen(outpath, rep ? "w" : "wb") : stdout;
    if (!out) {
        cli_error("convert: cannot write %s: %s", outpath, strerror(errno));
        tf_free(&t);
        return GH_EXIT_FAIL;
    }
    uint64_t aligned = 0;
    bool ok = rep ? write_rep(out, &t, &aligned) : write_binary(out, &t, in);
    if (out == stdout)
        ok = fflush(out) == 0 && ok;
    else
        ok = fclose(out) == 0 && ok;
    if (!ok) {
        cli_error("convert: cannot write %s: %s", outpath, strerror(errno));
        tf_free(&t);
        return GH_EXIT_FAIL;
    }
    if (aligned)
        fprintf(stderr, "glassheap: convert: %" PRIu64 " aligned allocations written as plain 'a' lines "
                        "(the text format has no alignment)\n", aligned);
    if (t.failed)
        fprintf(stderr, "glassheap: convert: %" PRIu64 " failed calls left out\n", t.failed);
    tf_free(&t);
    return GH_EXIT_OK;
}
