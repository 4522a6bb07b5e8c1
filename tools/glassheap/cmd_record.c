/* cmd_record.c - glassheap record: run a program and record its allocation trace.
 *
 *   glassheap record [-o FILE] [--policy P] [--mmap-threshold N]
 *                    [--stats[=text|json]] [--stats-file F] -- CMD [ARGS...]
 *
 * Sets GLASSHEAP_TRACE=FILE (%p is the process id; default
 * glassheap-%p.trace) and hands over to `glassheap run`, which preloads the
 * library and execs CMD.  The library writes the binary trace of
 * include/glassheap/trace.h; each process of CMD writes its own file (a
 * forked child's pattern without %p gets ".<pid>" appended).
 *
 * Before handing over, the file CMD itself will write is created here (exec
 * keeps the pid, so %p expands the same), so that a path that cannot be
 * written is reported now rather than by the library inside CMD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "outfile.h"

#define DEFAULT_PATTERN "glassheap-%p.trace"
#define MAX_RUN_ARGS 16

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap record [-o FILE] [--policy " GLASSHEAP_POLICY_NAMES "]\n"
            "                        [--mmap-threshold BYTES] [--stats[=text|json]] [--stats-file FILE]\n"
            "                        -- CMD [ARGS...]\n\n"
            "Runs CMD on glassheap and records every allocation call to FILE (default\n"
            "%s; %%p is the process id, and each process CMD starts writes\n"
            "its own file).  Replay it with 'glassheap replay FILE', summarise it with\n"
            "'glassheap trace-stats FILE'.  The other options are those of 'glassheap run'.\n",
            DEFAULT_PATTERN);
}

/* The pattern with %p replaced by pid (as the library expands it). */
static bool expand(const char *pattern, long pid, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = pattern; *p; p++) {
        int n;
        if (p[0] == '%' && p[1] == 'p') {
            n = snprintf(out + o, cap - o, "%ld", pid);
            p++;
        } else {
            n = snprintf(out + o, cap - o, "%c", *p);
        }
        if (n < 0 || (size_t)n >= cap - o)
            return false;
        o += (size_t)n;
    }
    return true;
}

int cmd_record(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        CLI_RUN_OPTIONS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = DEFAULT_PATTERN;
    char *run_argv[MAX_RUN_ARGS];
    char stats_arg[64];
    int run_argc = 0;
    run_argv[run_argc++] = "run";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'p':
            run_argv[run_argc++] = "--policy";
            run_argv[run_argc++] = optarg;
            break;
        case 's':
            snprintf(stats_arg, sizeof stats_arg, "--stats=%s", optarg ? optarg : "text");
            run_argv[run_argc++] = stats_arg;
            break;
        case 'f':
            run_argv[run_argc++] = "--stats-file";
            run_argv[run_argc++] = optarg;
            break;
        case 't':
            run_argv[run_argc++] = "--mmap-threshold";
            run_argv[run_argc++] = optarg;
            break;
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
        if (run_argc > MAX_RUN_ARGS - 4) {
            cli_error("record: too many options");
            return GH_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("record: no command given (glassheap record [-o FILE] -- CMD [ARGS...])");
        return GH_EXIT_USAGE;
    }
    if (!*out) {
        cli_error("record: -o needs a file name");
        return GH_EXIT_USAGE;
    }
    char path[4096];
    if (!expand(out, (long)getpid(), path, sizeof path)) {
        cli_error("record: the file name '%s' is too long", out);
        return GH_EXIT_USAGE;
    }
    int fd, err = gh_outfile_open(path, &fd);
    if (err) {
        cli_error("record: cannot write '%s': %s", path, gh_outfile_strerror(err));
        return GH_EXIT_FAIL;
    }
    close(fd);
    if (setenv("GLASSHEAP_TRACE", out, 1) != 0) {
        cli_error("record: cannot set GLASSHEAP_TRACE: %s", strerror(errno));
        return GH_EXIT_FAIL;
    }
    /* `glassheap run [options] -- CMD ARGS...`; run's argv ends with ours. */
    size_t ncmd = (size_t)(argc - optind);
    char **all = calloc((size_t)run_argc + 1 + ncmd + 1, sizeof *all);
    if (!all)
        return GH_EXIT_FAIL;
    memcpy(all, run_argv, (size_t)run_argc * sizeof *all);
    all[run_argc] = "--";
    memcpy(all + run_argc + 1, argv + optind, ncmd * sizeof *all);
    int rc = cmd_run(run_argc + 1 + (int)ncmd, all);
    free(all); /* reached only when the exec failed */
    return rc;
}
