/* trace_args.h - the options and the loading that the trace commands share.
 *
 * glassheap replay and glassheap trace-stats both take one trace FILE,
 * --json, --mmap-threshold BYTES and --help, and load the file the same
 * way; each adds its own options through `more`.
 */
#ifndef GH_TRACE_ARGS_H
#define GH_TRACE_ARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tracefile.h"

#define TRACE_ARGS_MORE_MAX 8 /* options a command may add */

struct trace_args {
    const char *path;      /* the trace file */
    bool json;             /* --json */
    uint64_t threshold;    /* --mmap-threshold; 0 when not given */
};

/* A command's own options: `opts` (at most TRACE_ARGS_MORE_MAX, ending
 * with a zero entry; val is what `handle` gets), its short options (with
 * "h" for --help among them), and handle(ctx, val, optarg), which returns
 * -1 to go on or the exit code to stop with (after its own message). */
struct trace_args_more {
    const struct option *opts;
    const char *shortopts;
    int (*handle)(void *ctx, int val, const char *arg);
    void *ctx;
};

/* Parse argv (argv[0] the subcommand, named `cmd` in messages).  -1: parsed,
 * *a filled; otherwise the exit code to return: GH_EXIT_OK after --help
 * (help(stdout)), GH_EXIT_USAGE after a message (an unknown option:
 * help(stderr)). */
int trace_args_parse(int argc, char **argv, const char *cmd, const struct trace_args_more *more,
                     void (*help)(FILE *f), struct trace_args *a);

/* Load a->path into *t and settle the threshold: the option's, else the
 * trace's, else TF_DEFAULT_MMAP_THRESHOLD.  -1 when loaded; otherwise the
 * exit code (GH_EXIT_NOTFOUND for a missing file, GH_EXIT_FAIL), after a
 * message. */
int trace_args_load(struct trace_args *a, struct tf_trace *t);

#endif
