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
 *                   (TF_ADDR_BASE + 16 i, tracefile.c); times 0; the library's default mmap
 *                   threshold in the header.
 *
 * Either way `glassheap replay` gives the same figures for IN and OUT
 * (aligned requests aside).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "cli.h"
#include "outfile.h"
#include "tracefile.h"

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
    if (rep && t.format != TF_REP) {
        tf_sum peak = tf_peak_live(&t);
        if (peak > UINT64_MAX) {
            char d[48];
            cli_error("convert: %s: its peak of live bytes (%s B) does not fit the rep header's heap size (64 bits)",
                      in, decimal_wide(peak, d, sizeof d));
            tf_free(&t);
            return GH_EXIT_FAIL;
        }
    }
    int refused = 0;
    FILE *out = strcmp(outpath, "-") ? gh_outfile_fopen(outpath, &refused) : stdout;
    if (!out) {
        cli_error("convert: cannot write %s: %s", outpath, gh_outfile_strerror(refused));
        tf_free(&t);
        return GH_EXIT_FAIL;
    }
    uint64_t aligned = 0;
    bool ok = rep ? tf_write_rep(out, &t, &aligned) : tf_write_binary(out, &t, in);
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
