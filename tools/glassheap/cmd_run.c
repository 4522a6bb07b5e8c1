/* cmd_run.c - glassheap run: run a program with glassheap preloaded.
 *
 *   glassheap run [--policy P] [--stats[=text|json]] [--stats-file F]
 *                 [--mmap-threshold N] -- CMD [ARGS...]
 *
 * Sets LD_PRELOAD (prepending to any there is) and the GLASSHEAP_*
 * variables, then execs CMD: the program's own output, exit status and
 * signals are its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap run [--policy first|next|best|worst|buddy] [--stats[=text|json]]\n"
            "                     [--stats-file FILE] [--mmap-threshold BYTES] -- CMD [ARGS...]\n\n"
            "Runs CMD with glassheap as its allocator (LD_PRELOAD), with the given policy.\n"
            "--stats prints glassheap's summary when CMD exits (to stderr, or --stats-file;\n"
            "%%p in FILE is the process id).  The library is found through $GLASSHEAP_LIBRARY,\n"
            "the build tree, or the installed library directory.\n");
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_RUN_OPTIONS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *policy = NULL, *stats = NULL, *stats_file = NULL, *threshold = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy = optarg;
            break;
        case 's':
            stats = optarg ? optarg : "text";
            break;
        case 'f':
            stats_file = optarg;
            break;
        case 't':
            threshold = optarg;
            break;
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("run: no command given (glassheap run [options] -- CMD [ARGS...])");
        return GH_EXIT_USAGE;
    }
    if (policy) {
        if (!cli_policy(policy)) {
            cli_error("run: '%s' is not a policy (first, next, best, worst, buddy)", policy);
            return GH_EXIT_USAGE;
        }
        setenv("GLASSHEAP_POLICY", policy, 1);
    }
    if (stats) {
        if (strcmp(stats, "text") && strcmp(stats, "json") && strcmp(stats, "1")) {
            cli_error("run: --stats takes text or json, not '%s'", stats);
            return GH_EXIT_USAGE;
        }
        setenv("GLASSHEAP_STATS", stats, 1);
    }
    if (stats_file)
        setenv("GLASSHEAP_STATS_FILE", stats_file, 1);
    if (threshold)
        setenv("GLASSHEAP_MMAP_THRESHOLD", threshold, 1);
    char lib[PATH_MAX];
    if (!cli_find_library(lib, sizeof lib)) {
        cli_error("run: libglassheap.so not found (set GLASSHEAP_LIBRARY, or run the glassheap of a build tree or an installation)");
        return GH_EXIT_FAIL;
    }
    const char *old = getenv("LD_PRELOAD");
    if (old && *old) {
        size_t len = strlen(lib) + 1 + strlen(old) + 1;
        char *both = malloc(len);
        if (!both)
            return GH_EXIT_FAIL;
        snprintf(both, len, "%s:%s", lib, old);
        setenv("LD_PRELOAD", both, 1);
        free(both);
    } else {
        setenv("LD_PRELOAD", lib, 1);
    }
    execvp(argv[optind], argv + optind);
    int err = errno;
    cli_error("run: cannot run '%s': %s", argv[optind], strerror(err));
    return err == ENOENT ? 127 : 126;
}
