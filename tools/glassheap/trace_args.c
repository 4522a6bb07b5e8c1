/* trace_args.c - the trace commands' shared options and loading (trace_args.h). */
#define _GNU_SOURCE
#include "trace_args.h"

#include <string.h>

#include "cli.h"

enum { OPT_JSON = 0x100, OPT_THRESHOLD, OPT_HELP };

int trace_args_parse(int argc, char **argv, const char *cmd, const struct trace_args_more *more,
                     void (*help)(FILE *f), struct trace_args *a)
{
    struct option opts[TRACE_ARGS_MORE_MAX + 4] = {
        { "json", no_argument, NULL, OPT_JSON },
        { "mmap-threshold", required_argument, NULL, OPT_THRESHOLD },
        { "help", no_argument, NULL, 'h' },
    };
    size_t n = 3;
    for (size_t i = 0; more && more->opts[i].name && i < TRACE_ARGS_MORE_MAX; i++)
        opts[n++] = more->opts[i];
    memset(&opts[n], 0, sizeof opts[n]);
    memset(a, 0, sizeof *a);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, more ? more->shortopts : "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON:
            a->json = true;
            break;
        case OPT_THRESHOLD:
            if (!tf_parse_bytes(optarg, &a->threshold) || a->threshold == 0) {
                cli_error("%s: --mmap-threshold takes a byte count (e.g. 131072 or 128K), not '%s'", cmd, optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        case '?':
            help(stderr);
            return GH_EXIT_USAGE;
        default: {
            int rc = more ? more->handle(more->ctx, c, optarg) : GH_EXIT_USAGE;
            if (rc >= 0)
                return rc;
            break;
        }
        }
    }
    if (optind + 1 != argc) {
        cli_error("%s: give one trace file (glassheap %s FILE [options])", cmd, cmd);
        return GH_EXIT_USAGE;
    }
    a->path = argv[optind];
    return -1;
}

int trace_args_load(struct trace_args *a, struct tf_trace *t)
{
    char err[512];
    int rc = tf_load(a->path, t, err, sizeof err);
    if (rc != TF_OK) {
        cli_error("%s", err);
        return rc == TF_NOFILE ? GH_EXIT_NOTFOUND : GH_EXIT_FAIL;
    }
    if (!a->threshold)
        a->threshold = t->mmap_threshold ? t->mmap_threshold : TF_DEFAULT_MMAP_THRESHOLD;
    return -1;
}
